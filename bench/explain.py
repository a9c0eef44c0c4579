"""EXPLAIN ANALYZE of every SQL statement one GraphQL request runs, on the bench database.

Runs the request through the server's ASGI app in-process, records each statement the engine
sends (with its parameters), then has PostgreSQL explain it with the same parameters. Shows
which indexes serve a query at benchmark scale (docs/performance.md).

Run: `.venv/bin/python bench/explain.py --query d1` (a benchmark query of bench/run.py), or
     `.venv/bin/python bench/explain.py --graphql '{ executionLogsAggregate { count } }'`
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from sqlalchemy import event, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, dashboard_window, make_queries

if TYPE_CHECKING:
    from graph.gql.context import GraphContext


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database", default="postgresql://postgres@127.0.0.1:5432/grace_bench", help="bench DB"
    )
    parser.add_argument("--query", choices=["q1", "q2", "q3", "d1", "d2"], help="a benchmark query")
    parser.add_argument("--graphql", help="any GraphQL document instead")
    args = parser.parse_args(argv)
    if (args.query is None) == (args.graphql is None):
        parser.error("give --query or --graphql")
    return args


async def recorded_request(url: str, body: bytes) -> tuple[GraphContext, list[tuple[str, Any]]]:
    """The server's context on `url`, and each SELECT one request of `body` sent through its
    ASGI app, in-process, with its parameters. The caller disposes of the context's engine."""
    from graph.app import build_context, create_app
    from graph.settings import Settings

    settings = Settings(
        database_url=url, schemas_dir=ROOT / "schemas", relations_file=ROOT / "relations.yaml"
    )
    graph = build_context(settings)
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    event.listen(graph.engine, "before_cursor_execute", record)
    try:
        transport = httpx.ASGITransport(app=create_app(graph=graph))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            response = await client.post(
                "/graphql", content=body, headers={"content-type": "application/json"}
            )
    finally:
        event.remove(graph.engine, "before_cursor_execute", record)
    if response.status_code != 200 or response.json().get("errors"):
        graph.engine.dispose()
        raise SystemExit(f"the request failed: {response.text[:500]}")
    return graph, statements


async def explain(args: argparse.Namespace) -> None:
    if args.query:
        (query,) = make_queries(args.query, "joined")
        variables = dashboard_window(args.database) if query.name == "d1" else None
        body = orjson.dumps({"query": query.graphql, "variables": variables})
    else:
        body = orjson.dumps({"query": args.graphql})
    graph, statements = await recorded_request(args.database, body)
    with graph.engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        for number, (statement, parameters) in enumerate(statements, start=1):
            print(f"-- statement {number} of {len(statements)}\n{statement}\n")
            cursor = raw.cursor()
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {statement}", parameters)
            print("\n".join(row[0] for row in cursor.fetchall()), end="\n\n")
        conn.execute(text("SELECT 1"))
    graph.engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(explain(parse_args(argv)))


if __name__ == "__main__":
    main()
