"""Interleaved rounds: the Grace server (1 and 2 workers) against PostGraphile 5, same database.

On a small shared machine absolute figures swing between runs, so the servers are measured in
short alternating rounds rather than one long run each: for every query (q1, q2, q3) and
concurrency, each server gets a warm-up, then --rounds rounds of --duration seconds of wrk load,
one server at a time, the order rotated every round. Each round records req/s, p50, p99, the
server's CPU ms per request (its process tree, /proc) and the machine's CPU % (/proc/stat:
client, servers, PostgreSQL and anything else). Per cell the report gives each server's median
req/s, p99 and CPU, and the median over rounds of the per-round ratio ours / PostGraphile;
then each server's start-up time and RSS after the runs.

V1 and V2 (`--queries v1,v2`) send other variables at every request, 1,000 bodies in turn, the
same to both servers (bench/run.py): more than our server keeps of prepared requests, so each
request is parsed, validated and planned again (its SQL is a statement kept for other values:
graph/sql/slots.py).

Before any load the answers are checked: every query, ours (each worker count) against
PostGraphile, equal in canonical form (bench/postgraphile.py), V1 and V2 for every body. All
servers run during the whole measurement (idle when not loaded) and are stopped at the end, also
on Ctrl-C and on errors.

Run: `.venv/bin/python bench/peers.py` (defaults: 6 rounds of 10 s after 3 s warm-up, q1,q2,q3,
c=1,16, ours with 1 and 2 workers); a smoke test: `--rounds 1 --duration 2 --warmup 1`.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import postgraphile as peer
import run as bench

PEER = "postgraphile"


@dataclass
class Server:
    started: peer.Started
    queries: dict[str, bench.Query]  # by query name: the document this server is sent

    @property
    def name(self) -> str:
        return self.started.name

    @property
    def url(self) -> str:
        return f"http://{bench.HOST}:{self.started.port}/graphql"


@dataclass
class Round:
    server: str
    query: str
    concurrency: int
    index: int  # round number, from 1
    position: int  # place of the server in this round's order, from 1
    stats: bench.LoadStats
    server_cpu_ms: float | None
    machine_cpu_pct: float | None

    @property
    def rps(self) -> float:
        return self.stats.requests / self.stats.seconds if self.stats.seconds else 0.0


# -- options ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_database_options(p)
    p.add_argument("--reseed", action="store_true", help="drop, recreate and seed the database")
    p.add_argument("--rounds", type=int, default=6, help="measured rounds per cell")
    p.add_argument("--duration", type=float, default=10, help="seconds per server per round")
    p.add_argument("--warmup", type=float, default=3, help="unmeasured seconds per server per cell")
    p.add_argument("--queries", default="q1,q2,q3", help="subset of q1,q2,q3,v1,v2")
    p.add_argument("--concurrency", default="1,16", help="comma-separated connection counts")
    p.add_argument("--workers", default="1,2", help="our server's worker counts, one server each")
    p.add_argument(
        "--port", type=int, default=8790, help="first port: ours in --workers order, then the peer"
    )
    p.add_argument("--out", type=Path, default=bench.BENCH_DIR / "results" / "peers.md")
    bench.add_client_option(p)
    args = p.parse_args(argv)
    bench.check_common_args(p, args)
    if args.rounds < 1 or args.duration <= 0:
        p.error("--rounds must be at least 1 and --duration positive")
    args.queries = [q.strip() for q in args.queries.split(",") if q.strip()]
    if unknown := set(args.queries) - set(peer.QUERY_NAMES):
        p.error(f"unknown queries {sorted(unknown)}; use some of {', '.join(peer.QUERY_NAMES)}")
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
        args.workers = list(dict.fromkeys(int(w) for w in args.workers.split(",") if w.strip()))
    except ValueError:
        p.error("--concurrency and --workers take comma-separated integers")
    if not args.concurrency or not args.workers or min(args.workers) < 1:
        p.error("give at least one concurrency and one worker count (>= 1)")
    return args


# -- servers ------------------------------------------------------------------------------------


def start_servers(
    args: argparse.Namespace,
    url: str,
    servers: list[Server],
    documents: dict[str, tuple[bench.Query, bench.Query]],
) -> None:
    """Ours once per worker count, then PostGraphile, one after another (each start timed)."""
    logs = args.out.parent
    for offset, workers in enumerate(args.workers):
        name = f"ours-w{workers}"
        started = peer.start_ours(url, args.port + offset, workers, logs / f"{name}.log", name)
        servers.append(Server(started, {n: ours for n, (ours, _) in documents.items()}))
        print(f"{name} ready on {bench.HOST}:{started.port} in {started.ready_s:.1f} s")
    port = args.port + len(args.workers)
    started = peer.start_postgraphile(url, port, logs / f"{PEER}.log", name=PEER)
    servers.append(Server(started, {n: theirs for n, (_, theirs) in documents.items()}))
    print(f"{PEER} ready on {bench.HOST}:{port} in {started.ready_s:.1f} s")


def check_answers(
    servers: list[Server], documents: dict[str, tuple[bench.Query, bench.Query]]
) -> None:
    """Every one of our servers answers every query as PostGraphile does (canonical form)."""
    theirs = next(s for s in servers if s.name == PEER)
    for ours in servers:
        if ours is not theirs:
            print(f"checking {ours.name} against {PEER}:")
            peer.check_answers(ours.started.port, theirs.started.port, documents)


# -- rounds -------------------------------------------------------------------------------------


def measure_round(
    args: argparse.Namespace, server: Server, query: str, concurrency: int
) -> tuple[bench.LoadStats, float | None, float | None]:
    """One load run: wrk's figures, server CPU ms per request, machine CPU %."""
    pids = bench.process_tree(server.started.proc.pid)
    bodies = server.queries[query].bodies
    return bench.load_measured(args, server.url, bodies, concurrency, pids)


def run_cell(
    args: argparse.Namespace, servers: list[Server], query: str, concurrency: int
) -> list[Round]:
    """Warm each server up, then the rounds, the servers' order rotated each round."""
    load = bench.LOADERS[args.client]
    if args.warmup > 0:
        for server in servers:
            load(server.url, server.queries[query].bodies, concurrency, args.warmup)
    rounds = []
    for index in range(args.rounds):
        shift = index % len(servers)
        order = servers[shift:] + servers[:shift]
        for position, server in enumerate(order, 1):
            stats, server_ms, machine = measure_round(args, server, query, concurrency)
            result = Round(server.name, query, concurrency, index + 1, position, stats,
                           server_ms, machine)  # fmt: skip
            rounds.append(result)
            print(
                f"{query} c={concurrency:<3} round {index + 1} #{position} {server.name:12} "
                f"{result.rps:8.1f} req/s  p50 {stats.p50_ms:7.1f} ms  p99 {stats.p99_ms:7.1f} ms"
                f"  server CPU {bench._fmt(server_ms, 2)} ms/req"
                f"  machine {bench._fmt(machine, 0)} %  errors {stats.errors}"
            )
    return rounds


# -- report -------------------------------------------------------------------------------------


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratios(rounds: list[Round], ours: str) -> list[float]:
    """ours / PostGraphile req/s, one ratio per round in which both ran."""
    by_round: dict[tuple[str, int, int], dict[str, float]] = {}
    for r in rounds:
        by_round.setdefault((r.query, r.concurrency, r.index), {})[r.server] = r.rps
    return [
        cell[ours] / cell[PEER] for cell in by_round.values() if ours in cell and cell.get(PEER)
    ]


def cell_table(rounds: list[Round], names: list[str]) -> str:
    lines = [
        "| query | c | server | req/s (median) | ours / PostGraphile (median of rounds; range) "
        "| p50 ms | p99 ms | server CPU ms/req | machine CPU % | errors |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    cells = list(dict.fromkeys((r.query, r.concurrency) for r in rounds))
    for query, concurrency in cells:
        here = [r for r in rounds if (r.query, r.concurrency) == (query, concurrency)]
        for name in names:
            mine = [r for r in here if r.server == name]
            ratio = "-"
            if name != PEER:
                values = ratios(here, name)
                if values:
                    ratio = (
                        f"**{statistics.median(values):.2f}** "
                        f"({min(values):.2f} to {max(values):.2f})"
                    )
            rps = bench._fmt(_median([r.rps for r in mine]))
            lines.append(
                f"| {query} | {concurrency} | {name} | {rps} "
                f"| {ratio} | {bench._fmt(_median([r.stats.p50_ms for r in mine]))} "
                f"| {bench._fmt(_median([r.stats.p99_ms for r in mine]))} "
                f"| {bench._fmt(_median([r.server_cpu_ms for r in mine]), 2)} "
                f"| {bench._fmt(_median([r.machine_cpu_pct for r in mine]), 0)} "
                f"| {sum(r.stats.errors for r in mine)} |"
            )
    return "\n".join(lines)


def server_table(servers: list[Server], sizes: dict[str, dict[int, int]]) -> str:
    lines = [
        "| server | processes | ready (s) | RSS per process after the runs (MiB) "
        "| RSS total (MiB) |",
        "| --- | ---: | ---: | --- | ---: |",
    ]
    for server in servers:
        rss = sizes.get(server.name, {})
        each = ", ".join(f"{kib / 1024:.0f}" for kib in rss.values()) or "n/a"
        lines.append(
            f"| {server.name} | {len(rss)} | {server.started.ready_s:.1f} | {each} "
            f"| {sum(rss.values()) / 1024:.0f} |"
        )
    return "\n".join(lines)


def rounds_table(rounds: list[Round]) -> str:
    lines = [
        "| query | c | round | order | server | req/s | p50 ms | p99 ms | server CPU ms/req "
        "| machine CPU % | errors |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines.extend(
        f"| {r.query} | {r.concurrency} | {r.index} | {r.position} | {r.server} "
        f"| {r.rps:,.1f} | {r.stats.p50_ms:.1f} | {r.stats.p99_ms:.1f} "
        f"| {bench._fmt(r.server_cpu_ms, 2)} | {bench._fmt(r.machine_cpu_pct, 0)} "
        f"| {r.stats.errors} |"
        for r in rounds
    )
    return "\n".join(lines)


def peer_versions() -> str:
    """The installed versions of PostGraphile's main packages and of Node."""
    found = []
    modules = peer.PEER_DIR / "node_modules"
    for name in ("postgraphile", "grafast", "@dataplan/pg", "grafserv", "pg"):
        path = modules / name / "package.json"
        if path.exists():
            found.append(f"{name} {json.loads(path.read_text())['version']}")
    return f"{', '.join(found)}; Node {peer.PACKAGES['node']}"


def report(
    args: argparse.Namespace,
    db: bench.DatabaseInfo,
    busy: float | None,
    servers: list[Server],
    rounds: list[Round],
    sizes: dict[str, dict[int, int]],
) -> str:
    names = [s.name for s in servers]
    return "\n".join([
        "# Ours against PostGraphile 5: interleaved rounds",
        "",
        f"- scale {args.scale:g}: {db.logs:,} execution logs; queries {', '.join(args.queries)} "
        "(bench/run.py; q3: the README traversal without `withinLast`)",
        f"- {args.rounds} rounds of {args.duration:g} s per server after {args.warmup:g} s "
        f"warm-up per server and cell; order rotated each round; load: {args.client}",
        f"- servers: {', '.join(names)} (ours: GRAPH_ADAPTIVE_IN_FLIGHT=0, "
        f"GRAPH_MAX_IN_FLIGHT=64; PostGraphile: one Node process, amber preset, "
        f"pg pool max {peer.POOL_MAX}, NODE_ENV=production)",
        f"- machine: {bench.machine()}; busy before the runs (other processes): "
        f"{bench._fmt(busy, 0)} %",
        f"- {bench.versions(db, args.client)}",
        f"- PostGraphile: {peer_versions()}",
        "- every answer checked equal to PostGraphile's in canonical form before the load",
        "",
        "Medians over rounds; the ratio is computed per round, then its median taken. Machine "
        "CPU % is the whole machine during the server's runs (client, server, PostgreSQL, others).",
        "",
        cell_table(rounds, names),
        "",
        server_table(servers, sizes),
        "",
        "## Every round",
        "",
        rounds_table(rounds),
        "",
    ])  # fmt: skip


# -- main ---------------------------------------------------------------------------------------


def run(args: argparse.Namespace, servers: list[Server]) -> list[Round]:
    db = bench.prepare_database(args)
    peer.install()
    peer.write_config()
    print(f"SQL functions (CREATE OR REPLACE): {', '.join(peer.create_functions(db.url))}")
    documents = peer.queries(args.queries, db.url)
    start_servers(args, db.url, servers, documents)
    check_answers(servers, documents)
    busy = bench.background_busy()
    if busy is not None and busy > bench.BUSY_WARNING_PCT:
        print(f"warning: the machine is {busy:.0f} % busy before any load; results will be low")
    cells = len(args.queries) * len(args.concurrency)
    per_cell = len(servers) * (args.warmup + args.rounds * args.duration)
    print(f"{cells} cells x ~{per_cell:.0f} s: about {cells * per_cell / 60:.1f} min of load")
    started = time.perf_counter()
    rounds = []
    for query in args.queries:
        for concurrency in args.concurrency:
            rounds.extend(run_cell(args, servers, query, concurrency))
    print(f"measured in {time.perf_counter() - started:.0f} s")
    sizes = {s.name: peer.rss_kib(bench.process_tree(s.started.proc.pid)) for s in servers}
    text = report(args, db, busy, servers, rounds, sizes)
    bench.write_report(args.out, text)
    return rounds


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, bench._raise_interrupt)
    servers: list[Server] = []
    try:
        run(args, servers)
    except KeyboardInterrupt:
        print("interrupted; stopping the servers", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        peer.stop_all([s.started for s in servers])


if __name__ == "__main__":
    main()
