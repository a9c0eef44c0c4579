"""Load shedding under overload: offer the server three times what it can serve, and check that
the requests it admits keep their latency while the excess is refused fast.

    .venv/bin/python bench/shedding.py [--seconds 120] [--factor 3] [--scale 10]

1. A PostgreSQL database `grace_bench_shed` seeded at --scale (reused when already seeded),
   and `grace-graph serve` with one worker on it.
2. Unloaded: one client, back to back, for --probe-seconds: p50 and p99 of the query.
3. Capacity: --concurrency clients back to back for --probe-seconds: requests per second.
4. Overload: requests sent at --factor x capacity on an even schedule (an open loop: each
   starts at its time whether or not earlier ones have answered, as independent users do;
   bench/loadgen.py), for --seconds. Each answer is recorded with its status and latency;
   the server's memory is sampled every second.

Printed: admitted requests and their p50/p99 beside the unloaded p99 (the target: within 2x),
refused requests (503) and their p99, any other status (the target: zero 500s), and the
server's memory at the start and the end of the overload. The load generator runs in this
process and shares the machine's cores with the server, which the report states.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import loadgen
import orjson
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
QUERY = (
    "{ executionLogs(where: {status: {eq: FAILED}}, orderBy: [{startedAt: DESC}], limit: 20)"
    " { executionId component status startedAt durationMs"
    " playbook { playbookName successRate } } }"
)
BODY = orjson.dumps({"query": QUERY})


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="grace_bench_shed")
    parser.add_argument("--scale", type=float, default=10)
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--probe-seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--factor", type=float, default=3.0)
    parser.add_argument("--max-in-flight", type=int, default=None, help="GRAPH_MAX_IN_FLIGHT")
    parser.add_argument("--max-queued", type=int, default=None, help="GRAPH_MAX_QUEUED")
    parser.add_argument("--queue-wait", type=float, default=None, help="GRAPH_QUEUE_WAIT_S")
    return parser.parse_args(argv)


def prepare(args: argparse.Namespace) -> str:
    url = make_url(args.pg_url).set(database=args.database_name).render_as_string(False)
    with contextlib.suppress(psycopg.Error), psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM memory_execution_logs").fetchone()
        if row and row[0] > 0:
            print(f"reusing {args.database_name}: {row[0]:,} execution logs")
            return url
    with psycopg.connect(args.pg_url, autocommit=True) as conn:
        name = sql.Identifier(args.database_name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    command = [sys.executable, "-m", "graph.cli", "seed", "--scale", f"{args.scale:g}"]
    subprocess.run([*command, "--database", url], cwd=ROOT, check=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return url


def start_server(args: argparse.Namespace, url: str, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    for name, value in (
        ("GRAPH_MAX_IN_FLIGHT", args.max_in_flight),
        ("GRAPH_MAX_QUEUED", args.max_queued),
        ("GRAPH_QUEUE_WAIT_S", args.queue_wait),
    ):
        if value is not None:
            env[name] = str(value)
    command = [sys.executable, "-m", "graph.cli", "serve", "--database", url]
    command += ["--host", HOST, "--port", str(args.port), "--log-level", "warning"]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
    for _ in range(300):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{HOST}:{args.port}/readyz", timeout=2).status_code == 200:
                return server
        time.sleep(0.2)
    raise SystemExit(f"the server did not become ready; see {log}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass
class Overload:
    offered_per_s: float
    answers: loadgen.Answers
    rss: list[float] = field(default_factory=list)


def overload(args: argparse.Namespace, rate: float, pid: int) -> Overload:
    """`rate` requests per second for --seconds, on an even schedule, while the server's
    memory is sampled every second."""
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append(rss_mib(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        answers = loadgen.open_loop(HOST, args.port, "/graphql", BODY, rate, args.seconds)
    finally:
        stop.set()
        sampler.join()
    return Overload(rate, answers, samples)


def row(name: str, latencies: list[float]) -> str:
    p50, p99 = pct(latencies, 0.5) * 1e3, pct(latencies, 0.99) * 1e3
    return f"| {name} | {len(latencies)} | {p50:.1f} | {p99:.1f} |"


def report(args: argparse.Namespace, unloaded: list[float], overload: Overload) -> None:
    latencies = overload.answers.latencies
    admitted = latencies.get(200, [])
    refused = latencies.get(503, [])
    others = {s: len(v) for s, v in latencies.items() if s not in (200, 503)}
    unloaded_p99 = pct(unloaded, 0.99)
    print()
    print("| | requests | p50 ms | p99 ms |")
    print("| --- | ---: | ---: | ---: |")
    print(row("unloaded (1 client)", unloaded))
    print(row(f"admitted under {args.factor:g}x", admitted))
    print(row("refused (503)", refused))
    print()
    ratio = pct(admitted, 0.99) / unloaded_p99 if unloaded_p99 else float("nan")
    print(f"offered {overload.offered_per_s:.1f} req/s; served {len(admitted) / args.seconds:.1f}")
    print(f"admitted p99 / unloaded p99: {ratio:.2f} (target: at most 2)")
    unanswered = overload.answers.failures
    print(f"other statuses: {others or 'none'}; requests without an answer: {unanswered}")
    if overload.rss:
        first, last, most = overload.rss[0], overload.rss[-1], max(overload.rss)
        print(f"server RSS: {first:.0f} MiB at the start, {last:.0f} at the end, max {most:.0f}")
    print(f"machine: {os.cpu_count()} cores, shared with the load generator")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    url = prepare(args)
    log = ROOT / "bench" / "results" / "shedding-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server = start_server(args, url, log)
    try:
        probe = args.probe_seconds
        unloaded = loadgen.closed_loop(HOST, args.port, "/graphql", BODY, 1, probe)
        busy = loadgen.closed_loop(HOST, args.port, "/graphql", BODY, args.concurrency, probe)
        unloaded_ok, busy_ok = unloaded.latencies.get(200, []), busy.latencies.get(200, [])
        capacity = len(busy_ok) / args.probe_seconds
        rate = capacity * args.factor
        p50, p99 = pct(unloaded_ok, 0.5) * 1e3, pct(unloaded_ok, 0.99) * 1e3
        print(f"unloaded: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        print(f"capacity: {capacity:.1f} req/s with {args.concurrency} clients")
        print(f"offering {rate:.1f} req/s ({args.factor:g}x) for {args.seconds:g} s ...")
        result = overload(args, rate, server.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    report(args, unloaded_ok, result)


if __name__ == "__main__":
    main()
