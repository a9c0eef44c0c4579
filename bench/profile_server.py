"""Profiles the Grace server in-process: N requests of one benchmark query through the ASGI app.

cProfile sees only the thread it runs in, so this script runs the server's database work inline
(it replaces `anyio.to_thread.run_sync` in this process only): the profile then holds the whole
request, from strawberry's view through planning, SQL compilation and execution to JSON. The
requests run one after another, so wall time minus CPU time is time spent waiting on PostgreSQL;
`--timer cpu` profiles CPU time only.

Run: `.venv/bin/python bench/profile_server.py --database postgresql://...grace_bench --query q1`
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, make_queries


async def _inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database", default="postgresql://postgres@127.0.0.1:5432/grace_bench", help="bench DB"
    )
    parser.add_argument("--query", choices=["q1", "q2", "d2", "c1"], default="q1")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=30, help="rows of each profile listing")
    parser.add_argument(
        "--timer",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: profile CPU time only (leaves out waiting on PostgreSQL)",
    )
    parser.add_argument("--out", type=Path, help="also dump the raw profile (pstats) here")
    return parser.parse_args(argv)


async def profile(args: argparse.Namespace) -> None:
    from graph.app import build_context, create_app
    from graph.settings import Settings

    settings = Settings(
        database_url=args.database,
        schemas_dir=ROOT / "schemas",
        relations_file=ROOT / "relations.yaml",
    )
    graph = build_context(settings)
    app = create_app(graph=graph)
    (query,) = make_queries(args.query, "joined")
    headers = {"content-type": "application/json"}
    anyio.to_thread.run_sync = _inline  # type: ignore[assignment]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def once() -> None:
            response = await client.post("/graphql", content=query.body, headers=headers)
            response.raise_for_status()

        for _ in range(10):  # warm caches, pools and prepared statements first
            await once()
        timer = time.process_time if args.timer == "cpu" else time.perf_counter
        profiler = cProfile.Profile(timer)
        wall, cpu = time.perf_counter(), time.process_time()
        profiler.enable()
        for _ in range(args.requests):
            await once()
        profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    graph.engine.dispose()
    n = args.requests
    print(
        f"{n} x {query.name}: {wall * 1e3 / n:.2f} ms wall, {cpu * 1e3 / n:.2f} ms CPU per request "
        f"(profiled; cProfile itself adds CPU)"
    )
    if args.out:
        profiler.dump_stats(args.out)
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(args.top)
        print(text.getvalue())


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(profile(parse_args(argv)))


if __name__ == "__main__":
    main()
