"""Write benchmark: insertExecutionLogs mutations against the server, and the same inserts by hand.

Creates a fresh database (PostgreSQL: `--database-name` on the server of the admin URL given as
`--database`, dropped first and at the end; SQLite: a file in a temporary folder), creates the
tables with `grace-graph init` and 20 playbooks, counts the SQL statements each kind of
mutation runs (in-process, on the app's engine), starts `grace-graph serve` and loads it with
wrk (or an httpx client), then runs the floor: the same rows written by hand-written SQL with
psycopg (or sqlite3) from a thread pool in this process, no HTTP and no GraphQL. Prints and
writes a markdown table: ours, the floor, and ours/floor.

Scenarios, each at every `--concurrency`:
  single   one row per mutation; the floor: INSERT ... RETURNING id, one transaction each
  batch    `--batch` rows (100) per mutation; the floor: one multi-VALUES INSERT ... RETURNING

Every `--link-every`th row (4) names one of the playbooks, so that the mutation locks it and
recomputes its rollups; the floor writes the same column but keeps no rollup.

Run: `.venv/bin/python bench/writes.py --database postgresql://postgres@127.0.0.1:5432/postgres`
     `.venv/bin/python bench/writes.py --database sqlite --seconds 5`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (
    BENCH_DIR,
    BUSY_WARNING_PCT,
    HOST,
    ROOT,
    Servers,
    background_busy,
    cpu_seconds,
    ensure_port_free,
    grace_graph,
    machine,
    machine_ticks,
    percentile,
    process_tree,
    start,
    stop,
    wait_ready,
)

LOGS = "memory_execution_logs"
MUTATION = (
    "mutation W($rows: [ExecutionLogInsert!]!) "
    "{ insertExecutionLogs(rows: $rows) { affectedCount rows { id executionId } } }"
)
COLUMNS = ("execution_id", "command_type", "component", "status", "duration_ms",
           "linked_playbook_id")  # fmt: skip
COMPONENTS = ("billing-api", "auth-service", "checkout-service", "search-indexer")
# Period 5, prime to --link-every 4: the rows that name a playbook get every status in turn.
STATUSES = ("succeeded", "failed", "succeeded", "timed_out", "succeeded")
KEY = "@K@"  # replaced by a request's unique prefix in the load generator's bodies
PLAYBOOK = "@P@"  # replaced by a playbook name


# -- rows, as GraphQL variables and as SQL parameters ---------------------------------------------


def api_row(key: str, i: int, playbook: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "executionId": key,
        "commandType": "DEPLOY",
        "component": COMPONENTS[i % len(COMPONENTS)],
        "status": STATUSES[i % len(STATUSES)].upper(),
        "durationMs": 1000 + i,
    }
    if playbook is not None:
        row["linkedPlaybookId"] = playbook
    return row


def sql_row(key: str, i: int, playbook: str | None) -> tuple[Any, ...]:
    return (key, "deploy", COMPONENTS[i % len(COMPONENTS)], STATUSES[i % len(STATUSES)],
            1000 + i, playbook)  # fmt: skip


def playbook_of(args: argparse.Namespace, n: int) -> str | None:
    """The playbook row `n` names, or None: every `link_every`th row names one, in turn."""
    if args.link_every <= 0 or n % args.link_every:
        return None
    return f"pb-{(n // args.link_every) % args.playbooks}"


def body(args: argparse.Namespace, prefix: str, rows: int, first: int = 0) -> bytes:
    """One mutation of `rows` rows, keys `prefix-0`... (playbooks as `playbook_of`)."""
    made = [api_row(f"{prefix}-{i}", i, playbook_of(args, first + i)) for i in range(rows)]
    return orjson.dumps({"query": MUTATION, "variables": {"rows": made}, "operationName": "W"})


# -- options ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--database",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL admin URL (the bench creates and drops its own database there), "
        "or 'sqlite' / sqlite:///file.db",
    )
    p.add_argument("--database-name", default="grace_bench_writes")
    p.add_argument("--seconds", type=float, default=10, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each run")
    p.add_argument("--concurrency", default="1,16", help="comma-separated client counts")
    p.add_argument("--scenarios", default="single,batch", help="subset of single,batch")
    p.add_argument("--targets", default="graph,floor", help="subset of graph,floor")
    p.add_argument("--batch", type=int, default=100, help="rows per mutation in 'batch'")
    p.add_argument("--workers", type=int, default=2, help="server worker processes")
    p.add_argument("--port", type=int, default=8767)
    p.add_argument("--playbooks", type=int, default=20, help="playbooks the rows link to")
    p.add_argument("--link-every", type=int, default=4, help="every Nth row names a playbook")
    p.add_argument(
        "--history",
        type=int,
        default=0,
        help="execution logs linked to the playbooks to write (plain SQL) before measuring: "
        "rollups are recomputed over them on every write",
    )
    p.add_argument("--keep", action="store_true", help="keep the bench database at the end")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "writes.md")
    p.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto")
    args = p.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.database_name):
        p.error("--database-name must be a plain lower-case identifier")
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if set(args.scenarios) - {"single", "batch"} or set(args.targets) - {"graph", "floor"}:
        p.error("--scenarios: single,batch; --targets: graph,floor")
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "httpx"
    return args


def rows_of(args: argparse.Namespace, scenario: str) -> int:
    return 1 if scenario == "single" else args.batch


# -- the database -------------------------------------------------------------------------------


@dataclass
class Database:
    backend: str  # postgresql | sqlite
    url: str  # the bench database (SQLAlchemy spelling)
    admin: str | None = None  # PostgreSQL: where it was created, to drop it
    folder: tempfile.TemporaryDirectory[str] | None = None

    def version(self) -> str:
        if self.backend == "sqlite":
            return f"SQLite {sqlite3.sqlite_version}"
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0] if row else '?'}"


def create_database(args: argparse.Namespace) -> Database:
    given = args.database
    if given == "sqlite" or given.startswith("sqlite:"):
        if given in ("sqlite", "sqlite://", "sqlite:///"):
            folder = tempfile.TemporaryDirectory(prefix="grace-writes-")
            return Database("sqlite", f"sqlite:///{folder.name}/bench.db", folder=folder)
        path = Path(make_url(given).database or "")
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        return Database("sqlite", given)
    if make_url(given).database == args.database_name:
        raise SystemExit("--database is the admin URL; the bench database must be another one")
    name = sql.Identifier(args.database_name)
    with psycopg.connect(given, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    url = make_url(given).set(database=args.database_name).render_as_string(hide_password=False)
    return Database("postgresql", url, admin=given)


def drop_database(db: Database, args: argparse.Namespace) -> None:
    if db.folder is not None:
        db.folder.cleanup()
    if db.admin is not None and not args.keep:
        with psycopg.connect(db.admin, autocommit=True, connect_timeout=5) as conn:
            ident = sql.Identifier(args.database_name)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def init_tables(db: Database) -> None:
    done = subprocess.run(
        [*grace_graph(), "init", "--database", db.url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"grace-graph init failed:\n{done.stderr}{done.stdout}")


def connect(db: Database) -> Any:
    """A driver connection for the floor: psycopg, or sqlite3 set up as the server's."""
    if db.backend == "postgresql":
        return psycopg.connect(db.url, options="-c timezone=UTC")
    path = make_url(db.url).database or ""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                   "busy_timeout=5000"):  # fmt: skip
        conn.execute(f"PRAGMA {pragma}")
    return conn


def commit(db: Database, conn: Any) -> None:
    if db.backend == "sqlite":
        conn.execute("COMMIT")
    else:
        conn.commit()


def rollback(db: Database, conn: Any) -> None:
    with contextlib.suppress(psycopg.Error, sqlite3.Error):
        if db.backend == "sqlite":
            conn.execute("ROLLBACK")
        else:
            conn.rollback()


def placeholders(db: Database, rows: int) -> str:
    mark = "%s" if db.backend == "postgresql" else "?"
    one = "(" + ", ".join([mark] * len(COLUMNS)) + ")"
    return ", ".join([one] * rows)


def insert_sql(db: Database, rows: int) -> str:
    names = ", ".join(COLUMNS)
    return f"INSERT INTO {LOGS} ({names}) VALUES {placeholders(db, rows)} RETURNING id"


def write_history(db: Database, args: argparse.Namespace) -> None:
    """`--history` logs linked to the playbooks, by plain SQL (rollups follow on the next
    write that names each playbook)."""
    if args.history <= 0:
        return
    started = time.perf_counter()
    statement = insert_sql(db, 1000)
    conn = connect(db)
    try:
        for first in range(0, args.history, 1000):
            count = min(1000, args.history - first)
            if count != 1000:
                statement = insert_sql(db, count)
            params: list[Any] = []
            for i in range(first, first + count):
                params.extend(sql_row(f"history-{i}", i, f"pb-{i % args.playbooks}"))
            if db.backend == "sqlite":
                conn.execute("BEGIN IMMEDIATE")
            conn.execute(statement, params).fetchall()
            commit(db, conn)
        if db.backend == "postgresql":
            conn.autocommit = True
            conn.execute(f"ANALYZE {LOGS}")
    finally:
        conn.close()
    print(f"  wrote {args.history:,} history logs in {time.perf_counter() - started:.1f} s")


# -- statements per mutation, counted in-process --------------------------------------------------


def graph_statements(db: Database, args: argparse.Namespace) -> dict[str, int]:
    """SQL statements of one mutation of each kind, on the app's own engine; also creates the
    playbooks (through the API, as any client would)."""
    from graph.app import build_context, create_app
    from graph.settings import Settings
    from graph.sql.engine import StatementCounter

    settings = Settings(
        database_url=db.url, schemas_dir=ROOT / "schemas", relations_file=ROOT / "relations.yaml"
    )
    graph = build_context(settings)
    app = create_app(graph=graph)
    playbooks = [
        {"playbookName": f"pb-{i}", "actions": [], "riskLevel": "LOW"}
        for i in range(args.playbooks)
    ]
    create = orjson.dumps({
        "query": "mutation($rows: [PlaybookInsert!]!) "
        "{ insertPlaybooks(rows: $rows) { affectedCount } }",
        "variables": {"rows": playbooks},
    })  # fmt: skip
    one = {"query": MUTATION, "operationName": "W"}
    bodies = {
        "single, no playbook": orjson.dumps(
            {**one, "variables": {"rows": [api_row("count-1", 1, None)]}}
        ),
        "single, with playbook": orjson.dumps(
            {**one, "variables": {"rows": [api_row("count-2", 2, "pb-0")]}}
        ),
        "batch": body(args, "count-batch", args.batch),
    }

    async def count() -> dict[str, int]:
        counts = {}
        transport = httpx.ASGITransport(app=app)
        headers = {"content-type": "application/json"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            made = await client.post("/graphql", content=create, headers=headers)
            if made.status_code != 200 or "errors" in made.json():
                raise SystemExit(f"creating the playbooks failed: {made.text[:500]}")
            for name, content in bodies.items():
                with StatementCounter().watching(graph.engine) as counter:
                    answer = await client.post("/graphql", content=content, headers=headers)
                if answer.status_code != 200 or "errors" in answer.json():
                    raise SystemExit(f"{name}: the mutation failed: {answer.text[:500]}")
                counts[name] = counter.count
        return counts

    try:
        return asyncio.run(count())
    finally:
        graph.engine.dispose()


# -- results ------------------------------------------------------------------------------------


@dataclass
class Stats:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float


@dataclass
class Result:
    target: str
    scenario: str
    concurrency: int
    rows_per_request: int
    stats: Stats
    cpu_ms: float | None  # graph: server processes; floor: this process (its client threads)
    machine_pct: float | None

    @property
    def rps(self) -> float:
        return self.stats.requests / self.stats.seconds if self.stats.seconds else 0.0

    @property
    def rows_ps(self) -> float:
        return self.rps * self.rows_per_request


# -- load on the server: wrk or httpx -----------------------------------------------------------

WRK_SCRIPT = """
local counter = 0
local prefix = "{prefix}"
local plain = [==[{plain}]==]
local linked = [==[{linked}]==]
local every = {every}
local playbooks = {playbooks}
errors_seen = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local text = plain
  if every > 0 and counter % every == 0 then
    text = linked:gsub("@P@", "pb-" .. ((counter / every) % playbooks))
  end
  text = text:gsub("@K@", prefix .. counter)
  return wrk.format(nil, nil, nil, text)
end
response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors_seen = errors_seen + 1
  end
end
local threads = {{}}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("errors_seen") end
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    bad + e.connect + e.read + e.write + e.timeout))
end
"""


def templates(args: argparse.Namespace, rows: int) -> tuple[str, str]:
    """Bodies with KEY for a request's unique prefix: (plain, linked). A single-row body
    names a playbook in the linked one only (PLAYBOOK, filled in per request); a batch names
    playbooks in every `link_every`th row of both."""
    if rows == 1:
        plain = body(args, KEY, 1, first=1).decode()
        made = [api_row(f"{KEY}-0", 0, PLAYBOOK)]
        linked = orjson.dumps({"query": MUTATION, "variables": {"rows": made}}).decode()
        return plain, linked
    text = body(args, KEY, rows).decode()
    return text, text


def run_wrk(
    args: argparse.Namespace, url: str, rows: int, tag: str, concurrency: int, seconds: float
) -> Stats:
    plain, linked = templates(args, rows)
    every = args.link_every if rows == 1 else 0
    script_text = WRK_SCRIPT.format(
        prefix=tag, plain=plain, linked=linked, every=every, playbooks=args.playbooks
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(script_text)
    try:
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
                   "--timeout", "10s", "-s", script.name, url]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    finally:
        Path(script.name).unlink()
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("BENCH "))
    requests, duration_us, p50_us, p99_us, errors = (int(v) for v in line.split()[1:])
    return Stats(requests - errors, errors, duration_us / 1e6, p50_us / 1e3, p99_us / 1e3)


async def _httpx_load(
    args: argparse.Namespace, url: str, rows: int, tag: str, concurrency: int, seconds: float
) -> Stats:
    latencies: list[float] = []
    errors = 0
    counter = 0
    plain, linked = templates(args, rows)
    every = args.link_every if rows == 1 else 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                text = plain
                if every and counter % every == 0:
                    text = linked.replace(PLAYBOOK, f"pb-{(counter // every) % args.playbooks}")
                content = text.replace(KEY, f"{tag}{counter}").encode()
                started = time.perf_counter()
                try:
                    answer = await client.post(url, content=content, headers=headers)
                    ok = answer.status_code == 200 and b'"errors"' not in answer.content
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Stats(
        len(latencies),
        errors,
        elapsed,
        percentile(latencies, 0.5) * 1e3,
        percentile(latencies, 0.99) * 1e3,
    )


def run_httpx(
    args: argparse.Namespace, url: str, rows: int, tag: str, concurrency: int, seconds: float
) -> Stats:
    return asyncio.run(_httpx_load(args, url, rows, tag, concurrency, seconds))


# -- the floor: hand-written SQL from a thread pool -----------------------------------------------


def floor_load(
    db: Database, args: argparse.Namespace, rows: int, tag: str, concurrency: int, seconds: float
) -> Stats:
    """`concurrency` threads, each with its own connection, each inserting `rows` rows per
    transaction (INSERT ... RETURNING id) until the deadline."""
    statement = insert_sql(db, rows)
    connections = [connect(db) for _ in range(concurrency)]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    barrier = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def work(k: int) -> None:
        conn, mine = connections[k], latencies[k]
        n = 0
        barrier.wait()
        while time.perf_counter() < deadline[0]:
            params: list[Any] = []
            for i in range(rows):
                # The rows of the graph's bodies: a single row names a playbook every
                # `link_every`th request, a batch in every `link_every`th row.
                playbook = playbook_of(args, i if rows > 1 else n)
                params.extend(sql_row(f"{tag}{k}-{n}-{i}", i, playbook))
            n += 1
            started = time.perf_counter()
            try:
                if db.backend == "sqlite":
                    conn.execute("BEGIN IMMEDIATE")
                ids = conn.execute(statement, params).fetchall()
                commit(db, conn)
                ok = len(ids) == rows
            except (psycopg.Error, sqlite3.Error):
                rollback(db, conn)
                ok = False
            if ok:
                mine.append(time.perf_counter() - started)
            else:
                errors[k] += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    merged = sorted(x for part in latencies for x in part)
    return Stats(
        len(merged),
        sum(errors),
        elapsed,
        percentile(merged, 0.5) * 1e3,
        percentile(merged, 0.99) * 1e3,
    )


# -- one measurement ----------------------------------------------------------------------------


def measure(
    args: argparse.Namespace,
    target: str,
    scenario: str,
    concurrency: int,
    load: Callable[..., Stats],
    pids: list[int] | None,
) -> Result:
    tag = f"{target[0]}{scenario[0]}{concurrency}"
    if args.warmup > 0:
        load(f"{tag}w", seconds=args.warmup)
    own_before = time.process_time()
    server_before = cpu_seconds(pids) if pids else None
    ticks_before = machine_ticks()
    stats = load(f"{tag}m", seconds=args.seconds)
    ticks_after = machine_ticks()
    cpu_ms = None
    if pids:
        server_after = cpu_seconds(pids)
        if server_before is not None and server_after is not None and stats.requests:
            cpu_ms = (server_after - server_before) * 1e3 / stats.requests
    elif stats.requests:
        cpu_ms = (time.process_time() - own_before) * 1e3 / stats.requests
    busy = None
    if ticks_before and ticks_after and ticks_after[1] > ticks_before[1]:
        busy = 100 * (ticks_after[0] - ticks_before[0]) / (ticks_after[1] - ticks_before[1])
    result = Result(target, scenario, concurrency, rows_of(args, scenario), stats, cpu_ms, busy)
    print(
        f"{target:5} {scenario:6} c={concurrency:<3} {result.rps:8.1f} req/s "
        f"{result.rows_ps:9.1f} rows/s  p50 {stats.p50_ms:7.1f} ms  p99 {stats.p99_ms:7.1f} ms  "
        f"errors {stats.errors}",
        flush=True,
    )
    return result


# -- report -------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def results_table(results: list[Result], statements: dict[str, int]) -> str:
    single = (
        f"{statements.get('single, no playbook', '?')} / "
        f"{statements.get('single, with playbook', '?')}"
    )
    per_scenario = {"single": single, "batch": str(statements.get("batch", "?"))}
    lines = [
        "| target | scenario | concurrency | req/s | rows/s | p50 ms | p99 ms | errors "
        "| SQL statements/req | CPU ms/req | machine CPU % |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        s = r.stats
        stmts = per_scenario[r.scenario] if r.target == "graph" else "1"
        lines.append(
            f"| {r.target} | {r.scenario} ({r.rows_per_request} row"
            f"{'s' if r.rows_per_request > 1 else ''}) | {r.concurrency} | {r.rps:,.1f} "
            f"| {r.rows_ps:,.0f} | {s.p50_ms:.1f} | {s.p99_ms:.1f} | {s.errors} | {stmts} "
            f"| {_fmt(r.cpu_ms, 2)} | {_fmt(r.machine_pct, 0)} |"
        )
    return "\n".join(lines)


def ratio_table(results: list[Result]) -> str:
    found = {(r.target, r.scenario, r.concurrency): r for r in results}
    lines = [
        "| scenario | concurrency | ours rows/s | floor rows/s | ours/floor |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for (target, scenario, concurrency), ours in found.items():
        floor = found.get(("floor", scenario, concurrency))
        if target != "graph" or floor is None or not floor.rows_ps:
            continue
        ratio = ours.rows_ps / floor.rows_ps
        times = f" (floor {1 / ratio:,.1f}x)" if ratio else ""
        lines.append(
            f"| {scenario} ({ours.rows_per_request}) | {concurrency} | {ours.rows_ps:,.0f} "
            f"| {floor.rows_ps:,.0f} | {ratio:.3f}{times} |"
        )
    return "\n".join(lines)


def report(
    args: argparse.Namespace,
    db: Database,
    results: list[Result],
    statements: dict[str, int],
    argv: Sequence[str],
    busy: float | None,
) -> str:
    command = " ".join([".venv/bin/python bench/writes.py", *argv])
    return "\n".join([
        "# Write benchmark results",
        "",
        f"- {time.strftime('%Y-%m-%d %H:%M %Z')}; `{command}`",
        f"- {db.version()}; machine: {machine()}; busy before the runs (other processes): "
        f"{_fmt(busy, 0)} %",
        f"- server: `grace-graph serve --workers {args.workers}`; load generator: {args.client}; "
        f"{args.seconds:g} s per run after {args.warmup:g} s warm-up; floor: {db.backend} "
        "driver from a thread pool in the bench process (one connection per thread)",
        f"- every {args.link_every}th row names one of {args.playbooks} playbooks; "
        f"history: {args.history:,} linked logs before the runs",
        f"- SQL statements per mutation (single: without / with a playbook): "
        f"{', '.join(f'{k} {v}' for k, v in statements.items())}",
        "",
        results_table(results, statements),
        "",
        ratio_table(results),
        "",
    ])  # fmt: skip


# -- main ---------------------------------------------------------------------------------------


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace, argv: Sequence[str], servers: Servers, db: Database) -> None:
    print(f"database: {db.url}")
    init_tables(db)
    statements = graph_statements(db, args)
    print(f"SQL statements per mutation: {statements}")
    write_history(db, args)
    busy = background_busy()
    if busy is not None and busy > BUSY_WARNING_PCT:
        print(f"warning: the machine is {busy:.0f} % busy before any load; results will be low")
    results: list[Result] = []
    if "graph" in args.targets:
        ensure_port_free(args.port)
        log = args.out.parent / "writes-graph.log"
        command = [*grace_graph(), "serve", "--database", db.url, "--host", HOST,
                   "--port", str(args.port), "--workers", str(args.workers),
                   "--log-level", "warning"]  # fmt: skip
        servers.processes["graph"] = start(command, log)
        wait_ready(servers.processes["graph"], args.port, log)
        pids = process_tree(servers.processes["graph"].pid)
        url = f"http://{HOST}:{args.port}/graphql"
        loader = run_wrk if args.client == "wrk" else run_httpx
        for scenario in args.scenarios:
            rows = rows_of(args, scenario)
            for concurrency in args.concurrency:
                load = functools.partial(loader, args, url, rows, concurrency=concurrency)
                results.append(measure(args, "graph", scenario, concurrency, load, pids))
        stop(servers)
    if "floor" in args.targets:
        for scenario in args.scenarios:
            rows = rows_of(args, scenario)
            for concurrency in args.concurrency:
                floor = functools.partial(floor_load, db, args, rows, concurrency=concurrency)
                results.append(measure(args, "floor", scenario, concurrency, floor, None))
    text = report(args, db, results, statements, argv, busy)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"\n{text}\nwritten to {args.out}")


def main(argv: Sequence[str] | None = None) -> None:
    given = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(given)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    servers = Servers()
    db = create_database(args)
    try:
        run(args, given, servers, db)
    except KeyboardInterrupt:
        print("interrupted; stopping the server", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        stop(servers)
        drop_database(db, args)


if __name__ == "__main__":
    main()
