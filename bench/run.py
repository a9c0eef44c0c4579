"""Benchmark: the Grace GraphQL server against a hand-written floor, on seeded PostgreSQL data.

Steps: create and seed the bench database (timed) unless it already holds the expected rows,
ANALYZE it, start `grace-graph serve` and the floor (bench/floor.py), check that both answer
each query correctly and identically, count the SQL statements per request, then load each
(target, query, concurrency) for --duration seconds with wrk (or an httpx client when wrk is
missing) and write a markdown table to --out. Both servers are stopped at the end, also on
Ctrl-C and on errors. Only the bench database is created or dropped; only 127.0.0.1 is loaded.

Run: `.venv/bin/python bench/run.py` (or `make bench BENCH_ARGS="--duration 5"`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import itertools
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
SEED_BUDGET_S = 60.0
BUSY_WARNING_PCT = 10.0
LOGS_PER_SCALE = 200  # execution logs at --scale 1; the seed profile knows the exact curve

Q1 = """query Q1 {
  executionLogs(where: {status: {eq: FAILED}}, orderBy: [{startedAt: DESC}], limit: 50) {
    executionId
    playbook { playbookName successRate trustScore }
    workOrder { workOrderId title status }
    relatedFeedback(limit: 5) { ticketId title priority }
  }
}"""

Q2 = """query Q2 {
  executionLogs(where: {status: {eq: FAILED}}, orderBy: [{startedAt: DESC}], limit: 100) {
    executionId commandType component status startedAt completedAt durationMs exitCode
  }
}"""

# The README's traversal without its time window (`withinLast` moves with the clock, and the
# peer of bench/peers.py, PostGraphile, filters by equality only): failed runs, newest first,
# each with its playbook and work order, and the open tickets on the same component with the
# work orders linked to them.
Q3 = """query Q3 {
  executionLogs(where: {status: {eq: FAILED}}, orderBy: [{startedAt: DESC}], limit: 20) {
    executionId component startedAt errorMessage
    playbook { playbookName successRate trustScore }
    workOrder { workOrderId title status }
    relatedFeedback(where: {status: {eq: OPEN}}, limit: 5) {
      ticketId title priority
      workOrders { workOrderId title status }
    }
  }
}"""


# Dashboards (issue 8): failures per day per component over 30 days, every day shown (`fill`),
# in a window that ends with the data's last day (variables: the same body goes to the floor).
D1 = """query D1($low: DateTime!, $high: DateTime!) {
  executionLogsAggregate(
    where: {status: {eq: FAILED}, startedAt: {gte: $low, lt: $high}}
    groupBy: [{field: STARTED_AT, bucket: DAY}, {field: COMPONENT}]
    fill: true
  ) {
    key { startedAt component }
    count
  }
}"""

# 200 playbooks, each with its runs counted, its failed runs counted and its p95 duration.
D2 = """query D2 {
  playbooks(orderBy: [{playbookName: ASC}], limit: 200) {
    playbookName
    executionsAggregate { count p95: percentile(p: 0.95) { durationMs } }
    failed: executionsAggregate(where: {status: {eq: FAILED}}) { count }
  }
}"""

# A connection's first page (issue 10): the 50 newest failed runs with their cursors and
# playbooks, and whether more follow. No totalCount: counting 40,800 rows would be most of it.
C1 = """query C1 {
  executionLogsConnection(where: {status: {eq: FAILED}}, orderBy: [{startedAt: DESC}], first: 50) {
    edges { cursor node { executionId component startedAt playbook { playbookName } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

# C2: a grid's page of 10 playbooks with each one's count and latest start of runs (relation
# aggregates of a small page, built per row in the page's statement).
C2 = """query C2 {
  playbooksConnection(first: 10, orderBy: [{playbookName: ASC}]) {
    edges { cursor node { playbookName executionsAggregate { count max { startedAt } } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

# C3: a grid's page of 50 playbooks with each one's count, failed count and latest start of
# runs (a bigger page: the nodes' groups joined to the page's rows, each relation read once).
C3 = """query C3 {
  playbooksConnection(first: 50, orderBy: [{playbookName: ASC}]) {
    edges {
      cursor
      node {
        playbookName
        executionsAggregate { count max { startedAt } }
        failed: executionsAggregate(where: {status: {eq: FAILED}}) { count }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""


# Issue 10: a request whose variables change every time, as a dashboard's when its user picks
# another row or moment. Each request of the load is another body (1,000 of them, in turn:
# more than the server keeps of prepared requests or of statements with their values), so
# neither is reused; the statements built for other values are (graph/sql/slots.py).
# V1: one run looked up by its key, with its playbook and tickets on the same component.
V1 = """query V1($id: String!) {
  executionLog(executionId: $id) {
    executionId component status startedAt durationMs
    playbook { playbookName successRate }
    relatedFeedback(limit: 5) { ticketId priority }
  }
}"""

# D3: a run's detail pane, as V1 a key after another: the run, its playbook, and the count and
# latest start of the playbook's runs (a relation aggregate: built in the rows' statement).
D3 = """query D3($id: String!) {
  executionLog(executionId: $id) {
    executionId component status startedAt durationMs
    playbook { playbookName executionsAggregate { count max { startedAt } } }
  }
}"""

# D4: D3 with the average and the 95th percentile of the playbook's runs' durations (integer
# measures the rows' statement builds too, finished exactly: graph/sql/group_object.py).
D4 = """query D4($id: String!) {
  executionLog(executionId: $id) {
    executionId component status startedAt durationMs
    playbook {
      playbookName
      executionsAggregate {
        count max { startedAt } avg { durationMs } p95: percentile(p: 0.95) { durationMs }
      }
    }
  }
}"""

# D5: D3 with the playbook's runs grouped by status, most first (a grouped relation
# aggregate, built in the rows' statement too: graph/sql/group_object.py listed_groups_value).
D5 = """query D5($id: String!) {
  executionLog(executionId: $id) {
    executionId component status startedAt durationMs
    playbook {
      playbookName
      executionsAggregate(groupBy: [{field: STATUS}], orderBy: [{count: DESC}]) {
        key { status } count max { startedAt }
      }
    }
  }
}"""

# V2: Q2 before a moment.
V2 = """query V2($before: DateTime!) {
  executionLogs(
    where: {status: {eq: FAILED}, startedAt: {lt: $before}}
    orderBy: [{startedAt: DESC}]
    limit: 100
  ) {
    executionId commandType component status startedAt completedAt durationMs exitCode
  }
}"""

# V3: C1 before a moment (a grid's page after its user picked another date).
V3 = """query V3($before: DateTime!) {
  executionLogsConnection(
    where: {status: {eq: FAILED}, startedAt: {lt: $before}}
    orderBy: [{startedAt: DESC}]
    first: 50
  ) {
    edges { cursor node { executionId component startedAt playbook { playbookName } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
VARYING_BODIES = 1000


@dataclass(frozen=True)
class Query:
    name: str
    graphql: str
    floor_path: str | None  # None: the floor does not answer this query
    # Rows of `root` in the answer; None: any number but none (it depends on the data).
    expected_rows: int | None
    # The answer's list of rows: a root field, or a path into it (`a.edges`).
    root: str = "executionLogs"
    variables: dict[str, Any] | None = None
    # Variables of the requests after the first, each its own body, sent in turn (V1, D3, V2).
    varying: tuple[dict[str, Any], ...] = ()

    def rows(self, data: dict[str, Any] | None) -> list[Any]:
        """The rows of an answer's `data`, [] when it has none (an object is one row)."""
        found: Any = data
        for name in self.root.split("."):
            found = (found or {}).get(name)
        return [found] if isinstance(found, dict) else found or []

    @property
    def body(self) -> bytes:
        return self._body(self.variables)

    @property
    def bodies(self) -> tuple[bytes, ...]:
        """What the load sends, in turn: the body, or one body per `varying` entry."""
        if not self.varying:
            return (self.body,)
        return tuple(self._body(variables) for variables in self.varying)

    def _body(self, variables: dict[str, Any] | None) -> bytes:
        document: dict[str, Any] = {"query": self.graphql, "operationName": self.name.upper()}
        if variables is not None:
            document["variables"] = variables
        return orjson.dumps(document)


FLOOR_Q1_PATHS = {"joined": "/q1", "batched": "/q1-batched"}


def make_queries(names: str, floor_q1: str) -> list[Query]:
    """The queries to run, in the order given; Q1 goes to the chosen floor plan."""
    known = {
        "q1": Query("q1", Q1, FLOOR_Q1_PATHS[floor_q1], 50),
        "q2": Query("q2", Q2, "/q2", 100),
        "q3": Query("q3", Q3, "/q3", 20),
        "d1": Query("d1", D1, "/d1", None, "executionLogsAggregate"),
        "d2": Query("d2", D2, "/d2", 200, "playbooks"),
        "c1": Query("c1", C1, None, 50, "executionLogsConnection.edges"),
        "c2": Query("c2", C2, None, 10, "playbooksConnection.edges"),
        "c3": Query("c3", C3, None, 50, "playbooksConnection.edges"),
        "v1": Query("v1", V1, None, 1, "executionLog"),
        "d3": Query("d3", D3, None, 1, "executionLog"),
        "d4": Query("d4", D4, None, 1, "executionLog"),
        "d5": Query("d5", D5, None, 1, "executionLog"),
        "v2": Query("v2", V2, None, None),
        "v3": Query("v3", V3, None, None, "executionLogsConnection.edges"),
    }
    return [known[name.strip()] for name in names.split(",") if name.strip()]


@dataclass(frozen=True)
class Target:
    name: str  # graph | reference | floor | sqlite | uncached
    port: int

    def serves(self, query: Query) -> bool:
        """Whether this target answers `query` (the floor lacks some queries)."""
        return self.name != "floor" or query.floor_path is not None

    def url(self, query: Query) -> str:
        path = query.floor_path if self.name == "floor" else "/graphql"
        if path is None:
            raise ValueError(f"the floor does not answer {query.name}")
        return f"http://{HOST}:{self.port}{path}"


@dataclass
class LoadStats:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu_s: float


@dataclass
class Result:
    target: str
    query: str
    concurrency: int
    stats: LoadStats
    statements: int | None
    server_cpu_ms: float | None
    machine_cpu_pct: float | None

    @property
    def rps(self) -> float:
        return self.stats.requests / self.stats.seconds if self.stats.seconds else 0.0


@dataclass
class DatabaseInfo:
    url: str
    logs: int
    seed_s: float | None  # None: reused
    analyze_s: float
    server_version: str


@dataclass
class Servers:
    """The server processes this run started, by target name."""

    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)


# -- options ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(p)
    p.add_argument("--duration", type=float, default=20, help="seconds per measured run")
    p.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each run")
    p.add_argument("--concurrency", default="1,16", help="comma-separated connection counts")
    p.add_argument("--workers", type=int, default=2, help="server processes (both servers)")
    p.add_argument("--reseed", action="store_true", help="drop, recreate and seed the database")
    p.add_argument("--port", type=int, default=8765, help="graph server port; the floor uses +1")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "latest.md")
    p.add_argument(
        "--queries", default="q1,q2", help="subset of q1,q2,q3,d1,d2,d3,d4,d5,c1,c2,c3,v1,v2,v3"
    )
    p.add_argument(
        "--targets",
        default="graph,floor",
        help="subset of graph,reference,floor,sqlite,uncached (reference: the graph server "
        "without its compiled path, GRAPH_COMPILED=0; sqlite: the graph server on "
        "--sqlite-file; uncached: the graph server keeping no statement or request, "
        "GRAPH_STATEMENT_CACHE_SIZE=0)",
    )
    p.add_argument(
        "--sqlite-file",
        type=Path,
        default=BENCH_DIR / "results" / "grace_bench.db",
        help="the sqlite target's database, seeded at --scale when it holds another count",
    )
    p.add_argument(
        "--floor-q1",
        choices=sorted(FLOOR_Q1_PATHS),
        default="joined",
        help="floor Q1 plan: one joined statement, or the engine's 4-statement pattern",
    )
    add_client_option(p)
    args = p.parse_args(argv)
    check_common_args(p, args)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    try:
        args.queries = make_queries(args.queries, args.floor_q1)
    except KeyError as exc:
        p.error(
            f"unknown query {exc}; use some of "
            "q1, q2, q3, d1, d2, d3, d4, d5, c1, c2, c3, v1, v2, v3"
        )
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    return args


def add_database_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="admin URL: used only to create, check and drop the bench database",
    )
    p.add_argument("--database-name", default="grace_bench")
    p.add_argument("--scale", type=float, default=1000, help="seed scale (1000: 200,000 logs)")


def add_client_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--client",
        choices=["auto", "wrk", "httpx"],
        default="auto",
        help="load generator (auto: wrk when installed, else httpx)",
    )


def check_common_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The bench database's name (a plain identifier, not the admin database's) and the load
    generator `auto` resolves to; shared with bench/peers.py."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.database_name):
        p.error("--database-name must be a plain lower-case identifier")
    if args.database_name == make_url(args.pg_url).database:
        p.error("--database-name must differ from the admin database")
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "httpx"


# -- the bench database -------------------------------------------------------------------------


def database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def expected_logs(scale: float) -> int:
    """Execution logs the seed writes at `scale` (from the seed profile when it is importable)."""
    try:
        from graph.seed.grace import GRACE

        return int(GRACE.sizes["execution_logs"].rows(scale))
    except (ImportError, AttributeError, KeyError):
        return round(LOGS_PER_SCALE * scale)


def count_logs(url: str) -> int | None:
    """Rows in memory_execution_logs, or None when the database or the table is missing."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM memory_execution_logs").fetchone()
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
        return None
    return int(row[0]) if row else None


def recreate_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))


def grace_graph() -> list[str]:
    """The `grace-graph` command of this interpreter's environment."""
    script = Path(sys.executable).with_name("grace-graph")
    return [str(script)] if script.exists() else [sys.executable, "-m", "graph.cli"]


def seed(url: str, scale: float) -> float:
    """Run `grace-graph seed` on the empty bench database; return the wall seconds it took."""
    command = [*grace_graph(), "seed", "--scale", f"{scale:g}", "--database", url]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"seed failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    print(f"  {done.stdout.strip()}")
    return elapsed


def analyze(url: str) -> tuple[float, str]:
    """ANALYZE (autovacuum may be off, and the seed does not analyze); returns seconds, version."""
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("ANALYZE")
        elapsed = time.perf_counter() - started
        row = conn.execute("SHOW server_version").fetchone()
    return elapsed, str(row[0]) if row else "?"


def sqlite_logs(path: Path) -> int | None:
    """Rows in the SQLite file's memory_execution_logs, or None without the file or table."""
    if not path.exists():
        return None
    try:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("SELECT count(*) FROM memory_execution_logs").fetchone()[0])
    except sqlite3.Error:
        return None


def prepare_sqlite(args: argparse.Namespace) -> str:
    """The sqlite target's URL: the file of --sqlite-file, seeded at --scale unless it holds
    that scale's logs already (its answers must equal the PostgreSQL servers': seed both the
    same day, or pass --reseed)."""
    path = args.sqlite_file.resolve()
    url = f"sqlite:///{path}"
    expected = expected_logs(args.scale)
    if not args.reseed and sqlite_logs(path) == expected:
        print(f"reusing {path.name}: {expected:,} execution logs")
        return url
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"seeding {path.name} at --scale {args.scale:g} ...")
    print(f"  SQLite seed took {seed(url, args.scale):.1f} s")
    if sqlite_logs(path) != expected:
        raise SystemExit(f"{path} holds {sqlite_logs(path)} execution logs, expected {expected}")
    return url


def prepare_database(args: argparse.Namespace) -> DatabaseInfo:
    url = database_url(args.pg_url, args.database_name)
    expected = expected_logs(args.scale)
    found = None if args.reseed else count_logs(url)
    seed_s = None
    if found == expected:
        print(f"reusing {args.database_name}: {found:,} execution logs (--reseed to rebuild)")
    else:
        print(f"creating {args.database_name} and seeding --scale {args.scale:g} ...")
        recreate_database(args.pg_url, args.database_name)
        seed_s = seed(url, args.scale)
        verdict = "ok" if seed_s < SEED_BUDGET_S else f"OVER the {SEED_BUDGET_S:.0f} s budget"
        print(f"  seed took {seed_s:.1f} s ({verdict})")
        found = count_logs(url)
        if found != expected:
            raise SystemExit(f"seeded {found} execution logs, expected {expected}")
    analyze_s, version = analyze(url)
    print(f"  ANALYZE took {analyze_s:.1f} s; PostgreSQL {version}")
    return DatabaseInfo(url, found, seed_s, analyze_s, version)


# -- server processes ---------------------------------------------------------------------------


def ensure_port_free(port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            raise SystemExit(f"port {port} on {HOST} is in use; pick another with --port") from None


def start(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server in its own process group (Ctrl-C reaches only us; we stop it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}); see {log}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} not ready after {READY_TIMEOUT_S:.0f} s; see {log}")


def stop(servers: Servers) -> None:
    """SIGTERM each server's process group (our children only), SIGKILL after a grace period."""
    for proc in servers.processes.values():
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    for proc in servers.processes.values():
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start_servers(
    args: argparse.Namespace, url: str, servers: Servers, sqlite_url: str | None = None
) -> dict[str, Target]:
    logs = args.out.parent

    def graph_server(port: int, database: str = url) -> list[str]:
        return [
            *grace_graph(),
            "serve",
            "--database",
            database,
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ]

    commands = {
        "graph": graph_server(args.port),
        "floor": [sys.executable, str(BENCH_DIR / "floor.py"), "--database", url, "--host", HOST,
                  "--port", str(args.port + 1), "--workers", str(args.workers)],
        "reference": graph_server(args.port + 2),
        "sqlite": graph_server(args.port + 3, sqlite_url or url),
        "uncached": graph_server(args.port + 4),
    }  # fmt: skip
    # The servers are loaded one at a time: the load is the bench's, not a fixed bound's.
    envs = {
        name: {"GRAPH_ADAPTIVE_IN_FLIGHT": "0", "GRAPH_MAX_IN_FLIGHT": "64"} for name in commands
    }
    envs["reference"]["GRAPH_COMPILED"] = "0"
    envs["uncached"]["GRAPH_STATEMENT_CACHE_SIZE"] = "0"
    targets = {}
    for offset, name in enumerate(("graph", "floor", "reference", "sqlite", "uncached")):
        if name not in args.targets:
            continue
        port = args.port + offset
        ensure_port_free(port)
        log = logs / f"{name}.log"
        servers.processes[name] = start(commands[name], log, envs[name])
        wait_ready(servers.processes[name], port, log)
        targets[name] = Target(name, port)
        print(f"{name} ready on {HOST}:{port} ({args.workers} workers)")
    return targets


# -- correctness and statements -----------------------------------------------------------------


def answer(target: Target, query: Query) -> httpx.Response:
    response = httpx.post(
        target.url(query),
        content=query.body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    if response.status_code != 200:
        raise SystemExit(f"{target.name} {query.name}: HTTP {response.status_code}")
    return response


def check_answers(targets: dict[str, Target], queries: list[Query]) -> dict[str, int]:
    """First answer of each query: right row count, no errors, graph == floor; floor statements."""
    floor_statements: dict[str, int] = {}
    for query in queries:
        data = {}
        for name, target in targets.items():
            if not target.serves(query):
                continue
            response = answer(target, query)
            body = response.json()
            rows = query.rows(body.get("data"))
            wanted = query.expected_rows
            if body.get("errors") or not rows or (wanted is not None and len(rows) != wanted):
                raise SystemExit(
                    f"{name} {query.name}: {len(rows)} rows (want {wanted or 'some'}), "
                    f"errors {body.get('errors')}"
                )
            data[name] = body["data"]
            if name == "floor":
                floor_statements[query.name] = int(response.headers["x-sql-statements"])
        if not data:
            print(f"{query.name}: no target answers it (the floor lacks it)")
            continue
        if any(answer != data[next(iter(data))] for answer in data.values()):
            raise SystemExit(f"{query.name}: the targets' answers differ ({', '.join(data)})")
        count = len(query.rows(next(iter(data.values()))))
        print(f"{query.name}: {count} rows from {', '.join(data)}; answers equal")
    return floor_statements


async def _count_graph_statements(url: str, queries: list[Query], compiled: bool) -> dict[str, int]:
    from graph.app import build_context, create_app
    from graph.settings import Settings
    from graph.sql.engine import StatementCounter

    settings = Settings(
        database_url=url,
        schemas_dir=ROOT / "schemas",
        relations_file=ROOT / "relations.yaml",
        compiled=compiled,
    )
    graph = build_context(settings)
    app = create_app(graph=graph)
    counts = {}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for query in queries:
                with StatementCounter().watching(graph.engine) as counter:
                    response = await client.post(
                        "/graphql", content=query.body, headers={"content-type": "application/json"}
                    )
                response.raise_for_status()
                counts[query.name] = counter.count
    finally:
        graph.engine.dispose()
    return counts


def graph_statements(url: str, queries: list[Query], compiled: bool = True) -> dict[str, int]:
    """SQL statements per request of the graph server, counted in-process on its engine."""
    return asyncio.run(_count_graph_statements(url, queries, compiled))


# -- CPU accounting (Linux /proc; None elsewhere) -----------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from 3 (state) on


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat_fields(int(entry.name))
        if fields:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> float | None:
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is None:
            return None
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def machine_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in first[:8]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def background_busy(seconds: float = 2.0) -> float | None:
    """Machine CPU % used while we send no load: other processes that will skew the numbers."""
    before = machine_ticks()
    time.sleep(seconds)
    after = machine_ticks()
    if not before or not after or after[1] <= before[1]:
        return None
    return 100 * (after[0] - before[0]) / (after[1] - before[1])


# -- load generators ----------------------------------------------------------------------------

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
{rotation}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


# Several bodies: each request takes the next one (per connection's thread: wrk runs one).
WRK_ROTATION = """
bodies = {{ {bodies} }}
sent = 0
request = function()
  sent = sent + 1
  return wrk.format(nil, nil, nil, bodies[(sent % #bodies) + 1])
end
"""


def run_wrk(url: str, bodies: Sequence[bytes], concurrency: int, seconds: float) -> LoadStats:
    rotation = ""
    if len(bodies) > 1:
        listed = ", ".join(f"[==[{body.decode()}]==]" for body in bodies)
        rotation = WRK_ROTATION.format(bodies=listed)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(body=bodies[0].decode(), rotation=rotation))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
                   "--timeout", "10s", "-s", script.name, url]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    finally:
        Path(script.name).unlink()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("BENCH "))
    requests, duration_us, p50_us, p99_us, errors = (int(v) for v in line.split()[1:])
    return LoadStats(requests, errors, duration_us / 1e6, p50_us / 1e3, p99_us / 1e3, client_cpu)


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def _httpx_load(
    url: str, bodies: Sequence[bytes], concurrency: int, seconds: float
) -> LoadStats:
    latencies: list[float] = []
    errors = 0
    turn = itertools.cycle(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=next(turn), headers=headers)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        cpu_before, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_before
    latencies.sort()
    return LoadStats(
        len(latencies),
        errors,
        elapsed,
        percentile(latencies, 0.50) * 1e3,
        percentile(latencies, 0.99) * 1e3,
        cpu,
    )


def run_httpx(url: str, bodies: Sequence[bytes], concurrency: int, seconds: float) -> LoadStats:
    return asyncio.run(_httpx_load(url, bodies, concurrency, seconds))


LOADERS = {"wrk": run_wrk, "httpx": run_httpx}


# -- one measurement ----------------------------------------------------------------------------


def measure(
    args: argparse.Namespace,
    target: Target,
    query: Query,
    concurrency: int,
    server_pids: list[int],
    statements: int | None,
) -> Result:
    url, bodies = target.url(query), query.bodies
    if args.warmup > 0:
        LOADERS[args.client](url, bodies, concurrency, args.warmup)
    stats, server_ms, machine = load_measured(args, url, bodies, concurrency, server_pids)
    return Result(target.name, query.name, concurrency, stats, statements, server_ms, machine)


def load_measured(
    args: argparse.Namespace,
    url: str,
    bodies: Sequence[bytes],
    concurrency: int,
    server_pids: list[int],
) -> tuple[LoadStats, float | None, float | None]:
    """One measured load of --duration seconds: the load generator's figures, the server's
    CPU ms per request and the machine's CPU % over the run (None where /proc has none)."""
    server_before, ticks_before = cpu_seconds(server_pids), machine_ticks()
    stats = LOADERS[args.client](url, bodies, concurrency, args.duration)
    server_after, ticks_after = cpu_seconds(server_pids), machine_ticks()
    server_ms = None
    if server_before is not None and server_after is not None and stats.requests:
        server_ms = (server_after - server_before) * 1e3 / stats.requests
    machine = None
    if ticks_before and ticks_after and ticks_after[1] > ticks_before[1]:
        machine = 100 * (ticks_after[0] - ticks_before[0]) / (ticks_after[1] - ticks_before[1])
    return stats, server_ms, machine


def print_result(result: Result) -> None:
    s = result.stats
    print(
        f"{result.target:5} {result.query} c={result.concurrency:<3} {result.rps:8.1f} req/s  "
        f"p50 {s.p50_ms:7.1f} ms  p99 {s.p99_ms:7.1f} ms  errors {s.errors}  "
        f"stmts/req {result.statements if result.statements is not None else '?'}"
    )


# -- report -------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def results_table(results: list[Result]) -> str:
    lines = [
        "| target | query | concurrency | req/s | p50 ms | p99 ms | errors | SQL statements/req "
        "| server CPU ms/req | client CPU % of a core | machine CPU % |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        s = r.stats
        client = 100 * s.client_cpu_s / s.seconds if s.seconds else None
        lines.append(
            f"| {r.target} | {r.query} | {r.concurrency} | {r.rps:,.1f} | {s.p50_ms:.1f} "
            f"| {s.p99_ms:.1f} | {s.errors} | {r.statements if r.statements is not None else '?'} "
            f"| {_fmt(r.server_cpu_ms)} | {_fmt(client, 0)} | {_fmt(r.machine_cpu_pct, 0)} |"
        )
    return "\n".join(lines)


def versions(db: DatabaseInfo, client: str) -> str:
    packages = ["strawberry-graphql", "graphql-core", "SQLAlchemy", "psycopg", "starlette",
                "uvicorn", "orjson", "httpx"]  # fmt: skip
    found = []
    for name in packages:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    tool = client
    if client == "wrk":
        done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
        tool = (done.stdout + done.stderr).split("Copyright")[0].strip() or "wrk"
    return (
        f"Python {platform.python_version()}, {', '.join(found)}, "
        f"PostgreSQL {db.server_version}; load generator: {tool}"
    )


def machine() -> str:
    model, memory = "unknown CPU", "unknown memory"
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name"))
    with contextlib.suppress(OSError, StopIteration, ValueError):
        lines = Path("/proc/meminfo").read_text().splitlines()
        kib = int(next(ln.split()[1] for ln in lines if ln.startswith("MemTotal")))
        memory = f"{kib / 2**20:.0f} GiB RAM"
    return f"{os.cpu_count()} cores ({model}), {memory}, {platform.system()} {platform.release()}"


def report(
    args: argparse.Namespace, db: DatabaseInfo, busy: float | None, results: list[Result]
) -> str:
    seed = "reused (no seed run)" if db.seed_s is None else f"{db.seed_s:.1f} s"
    return "\n".join([
        "# Benchmark results",
        "",
        f"- scale {args.scale:g}: {db.logs:,} execution logs; seed {seed}; "
        f"ANALYZE {db.analyze_s:.1f} s",
        f"- {args.workers} worker processes per server; {args.duration:g} s per run after "
        f"{args.warmup:g} s warm-up; floor Q1 plan: {args.floor_q1}",
        f"- machine: {machine()}; busy before the runs (other processes): {_fmt(busy, 0)} %",
        f"- {versions(db, args.client)}",
        "",
        results_table(results),
        "",
    ])  # fmt: skip


# -- main ---------------------------------------------------------------------------------------


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def varying_variables(url: str, queries: list[Query]) -> list[Query]:
    """V1's, D3's, D4's, V2's and V3's variables: keys and start moments of VARYING_BODIES
    logs, spread over the table (the first request is the first of them)."""
    if not any(q.name in ("v1", "d3", "d4", "d5", "v2", "v3") for q in queries):
        return queries
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT execution_id, started_at FROM memory_execution_logs"
            " WHERE started_at IS NOT NULL ORDER BY md5(execution_id) LIMIT %s",
            (VARYING_BODIES,),
        ).fetchall()
    by_query = {
        "v1": tuple({"id": key} for key, _ in rows),
        "d3": tuple({"id": key} for key, _ in rows),
        "d4": tuple({"id": key} for key, _ in rows),
        "d5": tuple({"id": key} for key, _ in rows),
        "v2": tuple({"before": moment.astimezone(dt.UTC).isoformat()} for _, moment in rows),
    }
    by_query["v3"] = by_query["v2"]
    return [
        replace(q, variables=by_query[q.name][0], varying=by_query[q.name])
        if q.name in by_query
        else q
        for q in queries
    ]


def dashboard_window(url: str) -> dict[str, str]:
    """D1's window: the 30 UTC days up to the end of the last day a log started on."""
    with psycopg.connect(url) as conn:
        last = conn.execute("SELECT max(started_at) FROM memory_execution_logs").fetchone()
    end = (last[0] if last and last[0] else dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    high = dt.datetime.combine(end.date() + dt.timedelta(days=1), dt.time(0), dt.UTC)
    low = high - dt.timedelta(days=30)
    return {"low": low.isoformat(), "high": high.isoformat()}


def write_report(out: Path, text: str) -> None:
    """Print the report and write it to `out` (bench/results/ is git-ignored)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"\n{text}\nwritten to {out}")


def run(args: argparse.Namespace, servers: Servers) -> list[Result]:
    db = prepare_database(args)
    if any(q.name == "d1" for q in args.queries):
        window = dashboard_window(db.url)
        args.queries = [replace(q, variables=window) if q.name == "d1" else q for q in args.queries]
    args.queries = varying_variables(db.url, args.queries)
    statements = (
        {"graph": graph_statements(db.url, args.queries)} if "graph" in args.targets else {}
    )
    if "reference" in args.targets:
        statements["reference"] = graph_statements(db.url, args.queries, compiled=False)
    sqlite_url = prepare_sqlite(args) if "sqlite" in args.targets else None
    if sqlite_url is not None:
        statements["sqlite"] = graph_statements(sqlite_url, args.queries)
    targets = start_servers(args, db.url, servers, sqlite_url)
    statements["floor"] = check_answers(targets, args.queries)
    pids = {name: process_tree(proc.pid) for name, proc in servers.processes.items()}
    busy = background_busy()
    if busy is not None and busy > BUSY_WARNING_PCT:
        print(f"warning: the machine is {busy:.0f} % busy before any load; results will be low")
    print(f"load generator: {args.client}; {args.duration:g} s per run")
    results = []
    for query in args.queries:
        for name, target in targets.items():
            if not target.serves(query):
                print(f"{name}: no {query.name} (skipped)")
                continue
            for concurrency in args.concurrency:
                count = statements.get(name, {}).get(query.name)
                result = measure(args, target, query, concurrency, pids[name], count)
                print_result(result)
                results.append(result)
    text = report(args, db, busy, results)
    write_report(args.out, text)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    servers = Servers()
    try:
        run(args, servers)
    except KeyboardInterrupt:
        print("interrupted; stopping the servers", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        stop(servers)


if __name__ == "__main__":
    main()
