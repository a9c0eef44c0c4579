"""Q1 at two data scales (issue 10): latency at 2,000,000 execution logs against 200,000.

The requirement: Q1's latency at 2,000,000 execution logs within 1.5x of its latency at 200,000,
with `EXPLAIN (ANALYZE, BUFFERS)` of Q1 at both scales. Two bench databases seeded by
bench/run.py are compared: --small (default grace_bench, `--scale 1000`) and --big (default
grace_bench_2m, `--scale 10000`); neither is created, seeded, analyzed or dropped here.

Steps: start one `grace-graph serve` per database (1 worker each, the bench's admission
settings: bench/postgraphile.py's start_ours, as bench/run.py starts it), check both answer Q1
(bench/run.py's Q1) without errors and with the same number of rows, warm each up, then load
them one at a time at --concurrency (default 1) with wrk in --rounds interleaved rounds of
--duration seconds, the order swapped every round. Per round: p50 and p99 of each scale and the
ratios big / small; then the median over rounds of those ratios, against the 1.5x bound.

Then, per database, the SQL statement(s) one Q1 request sends are recorded from the server's own
code path (its ASGI app in-process: bench/explain.py's recorded_request) and explained twice
with the recorded parameters: `EXPLAIN (ANALYZE, BUFFERS)` of the statement as sent (a custom
plan), and of the same statement prepared and run 5 times first, as psycopg prepares a
statement the server repeats (its prepare_threshold), so that the plan PostgreSQL settles on
under load (plan_cache_mode auto: custom or generic) is the one shown. The servers are stopped
at the end, also on Ctrl-C and on errors; the report is printed and written to --out
(git-ignored).

Run (after seeding the big database once: 807 s on 2 shared cores):
    .venv/bin/python bench/run.py --database-name grace_bench_2m --scale 10000 --queries q1 \
        --concurrency 1 --duration 2 --targets graph --port 8861 --out /tmp/seed-2m.md
    .venv/bin/python bench/scale.py       # defaults: 5 rounds x 10 s after 3 s warm-up, c=1
A smoke test: `.venv/bin/python bench/scale.py --rounds 1 --duration 2 --warmup 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import signal
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
import postgraphile as peer
import run as bench
from explain import recorded_request

BOUND = 1.5  # the requirement: big / small latency at most this
PREPARED_RUNS = 5  # executions before the explained one: psycopg's default prepare_threshold


@dataclass
class Scale:
    label: str  # small | big
    database: str
    url: str
    logs: int
    size: str  # the database's size on disk, as PostgreSQL prints it
    started: peer.Started | None = None

    @property
    def graphql_url(self) -> str:
        assert self.started is not None
        return f"http://{bench.HOST}:{self.started.port}/graphql"


@dataclass
class Round:
    index: int  # from 1
    order: list[str]  # labels in the order they were loaded this round
    stats: dict[str, bench.LoadStats]  # by label
    server_cpu_ms: dict[str, float | None]
    machine_cpu_pct: dict[str, float | None]

    def ratio(self, percentile: str) -> float:
        """big / small of `p50_ms` or `p99_ms` in this round."""
        small = getattr(self.stats["small"], percentile)
        big = getattr(self.stats["big"], percentile)
        return float(big / small) if small else float("inf")


@dataclass
class Explained:
    statement: str
    as_sent: str  # EXPLAIN (ANALYZE, BUFFERS) of the statement with its parameters
    prepared: str  # the same, of the prepared statement's run after PREPARED_RUNS runs
    generic_plans: int
    custom_plans: int


# -- options ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="admin URL: the bench databases' URLs are made from it (nothing is created)",
    )
    p.add_argument("--small", default="grace_bench", help="database seeded at --scale 1000")
    p.add_argument("--big", default="grace_bench_2m", help="database seeded at --scale 10000")
    p.add_argument("--rounds", type=int, default=5, help="measured rounds")
    p.add_argument("--duration", type=float, default=10, help="seconds per scale per round")
    p.add_argument("--warmup", type=float, default=3, help="unmeasured seconds per scale first")
    p.add_argument("--concurrency", type=int, default=1, help="connections of the load")
    p.add_argument("--port", type=int, default=8860, help="small's server port; big's is +1")
    p.add_argument("--out", type=Path, default=bench.BENCH_DIR / "results" / "scale.md")
    bench.add_client_option(p)
    args = p.parse_args(argv)
    for name in (args.small, args.big):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            p.error(f"{name!r}: give a plain lower-case database name")
    if args.small == args.big:
        p.error("--small and --big must differ")
    if args.rounds < 1 or args.duration <= 0 or args.concurrency < 1:
        p.error("--rounds and --concurrency must be at least 1, --duration positive")
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "httpx"
    return args


# -- databases and servers ----------------------------------------------------------------------


def find_scale(args: argparse.Namespace, label: str, database: str) -> Scale:
    """The seeded database `database` (never created here: bench/run.py seeds it)."""
    url = bench.database_url(args.pg_url, database)
    logs = bench.count_logs(url)
    if not logs:
        raise SystemExit(
            f"{database} has no execution logs; seed it with bench/run.py --database-name "
            f"{database} --scale ... (see this script's docstring)"
        )
    with psycopg.connect(url, connect_timeout=5) as conn:
        query = "SELECT pg_size_pretty(pg_database_size(current_database()))"
        size = conn.execute(query).fetchone()
    return Scale(label, database, url, logs, str(size[0]) if size else "?")


def server_version(url: str) -> str:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def start_servers(args: argparse.Namespace, scales: list[Scale]) -> None:
    for offset, scale in enumerate(scales):
        log = args.out.parent / f"scale-{scale.label}.log"
        name = f"graph-{scale.label}"
        scale.started = peer.start_ours(scale.url, args.port + offset, 1, log, name)
        print(
            f"{name} ({scale.database}, {scale.logs:,} logs) ready on {bench.HOST}:"
            f"{scale.started.port} in {scale.started.ready_s:.1f} s"
        )


def check_rows(scales: list[Scale], query: bench.Query) -> int:
    """Both servers answer `query` without errors and with the same number of rows (and the
    number bench/run.py expects); returns that number."""
    rows = {}
    for scale in scales:
        assert scale.started is not None
        body = bench.answer(bench.Target("graph", scale.started.port), query).json()
        found = (body.get("data") or {}).get(query.root) or []
        if body.get("errors"):
            raise SystemExit(f"{scale.label} {query.name}: errors {body['errors']}")
        rows[scale.label] = len(found)
    wanted = query.expected_rows
    if len(set(rows.values())) != 1 or (wanted is not None and rows["small"] != wanted):
        raise SystemExit(f"{query.name}: rows differ or are unexpected: {rows}")
    print(f"{query.name}: {rows['small']} rows at both scales")
    return rows["small"]


# -- rounds -------------------------------------------------------------------------------------


def run_rounds(args: argparse.Namespace, scales: list[Scale], query: bench.Query) -> list[Round]:
    """Warm each server up, then --rounds rounds, one scale at a time, order swapped each round."""
    load = bench.LOADERS[args.client]
    body = [query.body]
    if args.warmup > 0:
        for scale in scales:
            load(scale.graphql_url, body, args.concurrency, args.warmup)
    rounds = []
    for index in range(args.rounds):
        order = scales if index % 2 == 0 else scales[::-1]
        done = Round(index + 1, [s.label for s in order], {}, {}, {})
        for scale in order:
            assert scale.started is not None
            pids = bench.process_tree(scale.started.proc.pid)
            stats, server_ms, machine = bench.load_measured(
                args, scale.graphql_url, body, args.concurrency, pids
            )
            if stats.errors or not stats.requests:
                raise SystemExit(f"{scale.label}: {stats.errors} errors, {stats.requests} requests")
            done.stats[scale.label] = stats
            done.server_cpu_ms[scale.label] = server_ms
            done.machine_cpu_pct[scale.label] = machine
            print(
                f"round {index + 1} {scale.label:5} {stats.requests / stats.seconds:7.1f} req/s"
                f"  p50 {stats.p50_ms:6.2f} ms  p99 {stats.p99_ms:6.2f} ms"
                f"  server CPU {bench._fmt(server_ms, 2)} ms/req"
                f"  machine {bench._fmt(machine, 0)} %"
            )
        print(
            f"round {index + 1} big/small: p50 {done.ratio('p50_ms'):.2f}x  "
            f"p99 {done.ratio('p99_ms'):.2f}x"
        )
        rounds.append(done)
    return rounds


# -- EXPLAIN (ANALYZE, BUFFERS) -----------------------------------------------------------------


def _numbered(statement: str, parameters: Any) -> tuple[str, list[Any]]:
    """psycopg's placeholders (`%(name)s` with a mapping, `%s` with a sequence) as PostgreSQL's
    `$n`, for PREPARE; returns the text and the values in `$n` order."""
    names: list[str] = []
    positional = iter(range(1, 1 << 30))

    def number(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        if name is None:
            return f"${next(positional)}"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    text = re.sub(r"%%|%\((\w+)\)s|%s", number, statement)
    if isinstance(parameters, dict):
        return text, [parameters[name] for name in names]
    return text, list(parameters or ())


def _explain(cursor: psycopg.Cursor[Any], statement: str, parameters: Any) -> Explained:
    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
    as_sent = "\n".join(str(row[0]) for row in cursor.fetchall())
    text, values = _numbered(statement, parameters)
    # EXECUTE's arguments as literals: PREPARE took its parameters' types from the statement.
    arguments = sql.SQL(", ").join(sql.Literal(value) for value in values).as_string(cursor)
    execute = f"EXECUTE bench_scale_q1({arguments})" if values else "EXECUTE bench_scale_q1"
    cursor.execute(f"PREPARE bench_scale_q1 AS {text}")
    for _ in range(PREPARED_RUNS):
        cursor.execute(execute)
        cursor.fetchall()
    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {execute}")
    prepared = "\n".join(str(row[0]) for row in cursor.fetchall())
    cursor.execute(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE name = 'bench_scale_q1'"
    )
    counts = cursor.fetchone()
    cursor.execute("DEALLOCATE bench_scale_q1")
    generic, custom = (int(counts[0]), int(counts[1])) if counts else (-1, -1)
    return Explained(statement, as_sent, prepared, generic, custom)


async def _explain_request(url: str, body: bytes) -> list[Explained]:
    graph, statements = await recorded_request(url, body)
    try:
        with graph.engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert isinstance(raw, psycopg.Connection)
            with raw.cursor() as cursor:
                return [_explain(cursor, sql, parameters) for sql, parameters in statements]
    finally:
        graph.engine.dispose()


def explain_request(url: str, body: bytes) -> list[Explained]:
    """Each statement one request of `body` sends through the server's code path, recorded
    in-process, and its EXPLAIN (ANALYZE, BUFFERS), as sent and as a prepared statement."""
    return asyncio.run(_explain_request(url, body))


# -- report -------------------------------------------------------------------------------------


def rounds_table(rounds: list[Round]) -> str:
    lines = [
        "| round | order | small p50 ms | big p50 ms | p50 big/small | small p99 ms | big p99 ms "
        "| p99 big/small | small req/s | big req/s | small server CPU ms/req "
        "| big server CPU ms/req | machine CPU % (small, big) |",
        "| ---: | --- |" + " ---: |" * 10 + " --- |",
    ]
    for r in rounds:
        small, big = r.stats["small"], r.stats["big"]
        lines.append(
            f"| {r.index} | {', '.join(r.order)} | {small.p50_ms:.2f} | {big.p50_ms:.2f} "
            f"| {r.ratio('p50_ms'):.2f} | {small.p99_ms:.2f} | {big.p99_ms:.2f} "
            f"| {r.ratio('p99_ms'):.2f} | {small.requests / small.seconds:,.1f} "
            f"| {big.requests / big.seconds:,.1f} | {bench._fmt(r.server_cpu_ms['small'], 2)} "
            f"| {bench._fmt(r.server_cpu_ms['big'], 2)} "
            f"| {bench._fmt(r.machine_cpu_pct['small'], 0)}, "
            f"{bench._fmt(r.machine_cpu_pct['big'], 0)} |"
        )
    return "\n".join(lines)


def summary(rounds: list[Round]) -> list[str]:
    lines = []
    for percentile in ("p50_ms", "p99_ms"):
        values = [r.ratio(percentile) for r in rounds]
        median = statistics.median(values)
        small = statistics.median([getattr(r.stats["small"], percentile) for r in rounds])
        big = statistics.median([getattr(r.stats["big"], percentile) for r in rounds])
        verdict = "within" if median <= BOUND else "OVER"
        lines.append(
            f"- {percentile[:3]}: median of the per-round ratios big/small **{median:.2f}x** "
            f"({min(values):.2f} to {max(values):.2f}); {verdict} the {BOUND:g}x bound "
            f"(medians: small {small:.2f} ms, big {big:.2f} ms)"
        )
    return lines


def explain_section(scale: Scale, explained: list[Explained], show_sql: bool) -> list[str]:
    lines = [f"## EXPLAIN (ANALYZE, BUFFERS): {scale.label}, {scale.database} "
             f"({scale.logs:,} execution logs)", ""]  # fmt: skip
    for number, item in enumerate(explained, start=1):
        head = f"Statement {number} of {len(explained)}"
        if show_sql:
            lines += [f"{head}:", "", "```sql", item.statement.strip(), "```", ""]
        kind = "generic" if item.generic_plans > 0 else "custom"
        lines += [
            f"{head}, as sent (its parameters bound; a custom plan):",
            "",
            "```",
            item.as_sent,
            "```",
            "",
            f"{head}, prepared, after {PREPARED_RUNS} runs (as psycopg prepares a repeated "
            f"statement; pg_prepared_statements: generic_plans {item.generic_plans}, "
            f"custom_plans {item.custom_plans}: the {kind} plan is used):",
            "",
            "```",
            item.prepared,
            "```",
            "",
        ]
    return lines


def report(
    args: argparse.Namespace,
    scales: list[Scale],
    rows: int,
    version: str,
    busy: float | None,
    rounds: list[Round],
    explained: dict[str, list[Explained]],
) -> str:
    db = bench.DatabaseInfo(scales[0].url, scales[0].logs, None, 0.0, version)
    same_sql = [e.statement for e in explained["small"]] == [e.statement for e in explained["big"]]
    lines = [
        "# Q1 at two scales (issue 10)",
        "",
        *(f"- {s.label}: {s.database}, {s.logs:,} execution logs, database {s.size}"
          for s in scales),
        f"- Q1 (bench/run.py): {rows} rows at both scales; statements per request: "
        f"{len(explained['small'])} (small), {len(explained['big'])} (big); statement text "
        f"{'identical' if same_sql else 'DIFFERENT'} at both scales",
        f"- one `grace-graph serve` per database, 1 worker, GRAPH_ADAPTIVE_IN_FLIGHT=0, "
        f"GRAPH_MAX_IN_FLIGHT=64; {args.rounds} interleaved rounds of {args.duration:g} s per "
        f"scale after {args.warmup:g} s warm-up each, order swapped every round; "
        f"concurrency {args.concurrency}",
        f"- machine: {bench.machine()}; busy before the runs (other processes): "
        f"{bench._fmt(busy, 0)} %",
        f"- {bench.versions(db, args.client)}",
        "",
        f"Requirement: Q1 latency at the big scale within {BOUND:g}x of the small one.",
        "",
        *summary(rounds),
        "",
        rounds_table(rounds),
        "",
    ]  # fmt: skip
    for scale in scales:
        lines += explain_section(scale, explained[scale.label], show_sql=scale is scales[0])
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------


def run(args: argparse.Namespace, scales: list[Scale]) -> list[Round]:
    (query,) = bench.make_queries("q1", "joined")
    scales += [find_scale(args, "small", args.small), find_scale(args, "big", args.big)]
    version = server_version(scales[0].url)
    start_servers(args, scales)
    rows = check_rows(scales, query)
    busy = bench.background_busy()
    if busy is not None and busy > bench.BUSY_WARNING_PCT:
        print(f"warning: the machine is {busy:.0f} % busy before any load; results will be low")
    total = 2 * (args.warmup + args.rounds * args.duration)
    print(f"load: {args.client}, c={args.concurrency}; about {total:.0f} s")
    rounds = run_rounds(args, scales, query)
    explained = {}
    for scale in scales:
        print(f"explaining Q1 on {scale.database} ...")
        explained[scale.label] = explain_request(scale.url, query.body)
    text = report(args, scales, rows, version, busy, rounds, explained)
    bench.write_report(args.out, text)
    return rounds


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, bench._raise_interrupt)
    scales: list[Scale] = []
    try:
        run(args, scales)
    except KeyboardInterrupt:
        print("interrupted; stopping the servers", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        peer.stop_all([s.started for s in scales if s.started is not None])


if __name__ == "__main__":
    main()
