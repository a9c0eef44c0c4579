"""The floor: the benchmark queries answered by hand-written SQL, with no GraphQL layer.

A minimal Starlette + psycopg 3 app. Each endpoint runs fixed SQL with the same meaning as the
GraphQL query it stands for (same filter, same order with the same null placement and `id`
tie-break, same per-parent limit), builds the same nested JSON in Python from tuple rows and
encodes it with orjson. What the Grace server spends beyond this is the cost of the generic layer
(GraphQL parsing, validation and execution, planning, SQLAlchemy compilation, result handling).

Endpoints (POST, no body needed):
  /q1          Q1 in one statement (CTE + joins + LATERAL): the default floor for Q1.
  /q1-batched  Q1 with the engine's statement pattern: root rows, then one statement per relation.
  /q2          Q2: one statement.
  /q3          Q3, the README traversal without its time window: one statement, one row per
               log, ticket and ticket work order, nested in Python.
  /d1          D1, failures per day per component with every day shown: one statement.
  /d2          D2, 200 playbooks with counts and a p95 of their runs: one statement.
Every answer carries `x-sql-statements`: the statements that request ran.

Run: `python bench/floor.py --database postgresql://... --port 8766 --workers 2`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DATABASE_ENV = "FLOOR_DATABASE_URL"
POOL_SIZE_ENV = "FLOOR_POOL_SIZE"
# The Grace server keeps GRAPH_DB_POOL_SIZE (default 10) connections per process: so does the floor.
DEFAULT_POOL_SIZE = 10

Q1_LIMIT = 50
Q1_FEEDBACK_LIMIT = 5
Q2_LIMIT = 100
Q3_LIMIT = 20
Q3_FEEDBACK_LIMIT = 5
# A to-many relation without `limit` gets the API's default page, per parent.
DEFAULT_LIMIT = 100
FAILED = "failed"
OPEN = "open"

# Root rows of Q1 and Q2: failed runs, newest first, nulls last, id as tie-break (as the engine).
Q1_JOINED = """
WITH logs AS (
    SELECT id, execution_id, linked_playbook_id, linked_work_order_id, component, started_at
    FROM memory_execution_logs
    WHERE status = %(status)s
    ORDER BY started_at DESC NULLS FIRST, id
    LIMIT %(limit)s
), feedback AS (
    SELECT c.component,
           array_agg(t.ticket_id ORDER BY t.id) AS ticket_ids,
           array_agg(t.title ORDER BY t.id) AS titles,
           array_agg(t.priority ORDER BY t.id) AS priorities
    FROM (SELECT DISTINCT component FROM logs) AS c
    CROSS JOIN LATERAL (
        SELECT id, ticket_id, title, priority
        FROM memory_feedback_tickets
        WHERE affected_component = c.component
        ORDER BY id
        LIMIT %(feedback_limit)s
    ) AS t
    GROUP BY c.component
)
SELECT l.execution_id,
       p.playbook_name, p.success_rate, p.trust_score,
       w.work_order_id, w.title, w.status,
       f.ticket_ids, f.titles, f.priorities
FROM logs AS l
LEFT JOIN memory_self_healing_playbooks AS p ON p.playbook_name = l.linked_playbook_id
LEFT JOIN memory_coding_work_orders AS w ON w.work_order_id = l.linked_work_order_id
LEFT JOIN feedback AS f ON f.component = l.component
ORDER BY l.started_at DESC NULLS FIRST, l.id
"""

Q1_ROOT = """
SELECT execution_id, linked_playbook_id, linked_work_order_id, component
FROM memory_execution_logs
WHERE status = %(status)s
ORDER BY started_at DESC NULLS FIRST, id
LIMIT %(limit)s
"""
Q1_PLAYBOOKS = """
SELECT playbook_name, success_rate, trust_score
FROM memory_self_healing_playbooks WHERE playbook_name = ANY(%(keys)s)
"""
Q1_WORK_ORDERS = """
SELECT work_order_id, title, status
FROM memory_coding_work_orders WHERE work_order_id = ANY(%(keys)s)
"""
Q1_FEEDBACK = """
SELECT c.component, t.ticket_id, t.title, t.priority
FROM unnest(%(keys)s::text[]) AS c(component)
CROSS JOIN LATERAL (
    SELECT id, ticket_id, title, priority
    FROM memory_feedback_tickets
    WHERE affected_component = c.component
    ORDER BY id
    LIMIT %(feedback_limit)s
) AS t
ORDER BY c.component, t.id
"""

Q2 = """
SELECT execution_id, command_type, component, status, started_at, completed_at, duration_ms,
       exit_code
FROM memory_execution_logs
WHERE status = %(status)s
ORDER BY started_at DESC NULLS FIRST, id
LIMIT %(limit)s
"""


# Q3: the 20 newest failed runs with playbook and work order, the first 5 open tickets (by id) on
# each run's component, and each ticket's work orders (by id) named in its list column.
Q3 = """
WITH logs AS (
    SELECT id, execution_id, component, started_at, error_message,
           linked_playbook_id, linked_work_order_id
    FROM memory_execution_logs
    WHERE status = %(status)s
    ORDER BY started_at DESC NULLS FIRST, id
    LIMIT %(limit)s
), tickets AS (
    SELECT c.component, t.id, t.ticket_id, t.title, t.priority, t.linked_work_orders
    FROM (SELECT DISTINCT component FROM logs) AS c
    CROSS JOIN LATERAL (
        SELECT id, ticket_id, title, priority, linked_work_orders
        FROM memory_feedback_tickets
        WHERE affected_component = c.component AND status = %(ticket_status)s
        ORDER BY id
        LIMIT %(feedback_limit)s
    ) AS t
)
SELECT l.execution_id, l.component, l.started_at, l.error_message,
       p.playbook_name, p.success_rate, p.trust_score,
       w.work_order_id, w.title, w.status,
       t.ticket_id, t.title, t.priority,
       tw.work_order_id, tw.title, tw.status
FROM logs AS l
LEFT JOIN memory_self_healing_playbooks AS p ON p.playbook_name = l.linked_playbook_id
LEFT JOIN memory_coding_work_orders AS w ON w.work_order_id = l.linked_work_order_id
LEFT JOIN tickets AS t ON t.component = l.component
LEFT JOIN LATERAL (
    SELECT id, work_order_id, title, status
    FROM memory_coding_work_orders
    WHERE work_order_id = ANY (t.linked_work_orders)
    ORDER BY id
    LIMIT %(default_limit)s
) AS tw ON true
ORDER BY l.started_at DESC NULLS FIRST, l.id, t.id, tw.id
"""


def enum_value(value: str | None) -> str | None:
    """GraphQL enum members are the stored values in upper case."""
    return None if value is None else value.upper()


def datetime_value(value: dt.datetime | None) -> str | None:
    """The API's DateTime form: UTC, six fractional digits, Z (docs/api.md)."""
    return None if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def bigint_value(value: int | None) -> str | None:
    """The API's BigInt form: a string of digits."""
    return None if value is None else str(value)


class ConnectionPool:
    """A fixed set of autocommit connections handed out through an asyncio queue."""

    def __init__(self, url: str, size: int) -> None:
        self.url = url
        self.size = size
        self.idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            # JIT off: PostgreSQL compiles a plan whose estimated cost passes jit_above_cost,
            # which took 0.4 s of D1's 0.5 s here; the floor is the best hand-written answer.
            conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, options="-c timezone=UTC -c jit=off"
            )
            self.idle.put_nowait(conn)

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        conn = await self.idle.get()
        try:
            yield conn
        finally:
            self.idle.put_nowait(conn)


async def fetch(
    conn: psycopg.AsyncConnection[Any], query: str, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    cursor = await conn.execute(query, params)
    return await cursor.fetchall()


def json_response(logs: list[dict[str, Any]], statements: int) -> Response:
    body = orjson.dumps({"data": {"executionLogs": logs}})
    return Response(
        body,
        media_type="application/json",
        headers={"x-sql-statements": str(statements)},
    )


# -- Q1 -----------------------------------------------------------------------------------------


def q1_feedback(ids: Sequence[str] | None, titles: Sequence[str], priorities: Sequence[str]) -> Any:
    if ids is None:
        return []
    return [
        {"ticketId": t, "title": title, "priority": enum_value(p)}
        for t, title, p in zip(ids, titles, priorities, strict=True)
    ]


def q1_joined_log(row: tuple[Any, ...]) -> dict[str, Any]:
    execution_id, playbook, success, trust, work_order, title, status, ids, titles, prios = row
    return {
        "executionId": execution_id,
        "playbook": None
        if playbook is None
        else {"playbookName": playbook, "successRate": success, "trustScore": trust},
        "workOrder": None
        if work_order is None
        else {"workOrderId": work_order, "title": title, "status": enum_value(status)},
        "relatedFeedback": q1_feedback(ids, titles, prios),
    }


async def q1_joined(pool: ConnectionPool) -> Response:
    params = {"status": FAILED, "limit": Q1_LIMIT, "feedback_limit": Q1_FEEDBACK_LIMIT}
    async with pool.connection() as conn:
        rows = await fetch(conn, Q1_JOINED, params)
    return json_response([q1_joined_log(row) for row in rows], statements=1)


async def q1_children(
    conn: psycopg.AsyncConnection[Any], query: str, keys: list[str]
) -> list[tuple[Any, ...]]:
    """One relation level for every parent at once; no statement when no parent links."""
    if not keys:
        return []
    params = {"keys": keys, "feedback_limit": Q1_FEEDBACK_LIMIT}
    return await fetch(conn, query, params)


def distinct(values: list[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v is not None))


async def q1_batched(pool: ConnectionPool) -> Response:
    async with pool.connection() as conn:
        roots = await fetch(conn, Q1_ROOT, {"status": FAILED, "limit": Q1_LIMIT})
        playbook_keys = distinct([r[1] for r in roots])
        work_order_keys = distinct([r[2] for r in roots])
        component_keys = distinct([r[3] for r in roots])
        playbook_rows = await q1_children(conn, Q1_PLAYBOOKS, playbook_keys)
        work_order_rows = await q1_children(conn, Q1_WORK_ORDERS, work_order_keys)
        feedback_rows = await q1_children(conn, Q1_FEEDBACK, component_keys)
    statements = 1 + sum(1 for keys in (playbook_keys, work_order_keys, component_keys) if keys)
    playbooks = {
        r[0]: {"playbookName": r[0], "successRate": r[1], "trustScore": r[2]} for r in playbook_rows
    }
    work_orders = {
        r[0]: {"workOrderId": r[0], "title": r[1], "status": enum_value(r[2])}
        for r in work_order_rows
    }
    feedback: dict[str, list[dict[str, Any]]] = {}
    for component, ticket_id, title, priority in feedback_rows:
        feedback.setdefault(component, []).append(
            {"ticketId": ticket_id, "title": title, "priority": enum_value(priority)}
        )
    logs = [
        {
            "executionId": execution_id,
            "playbook": playbooks.get(playbook) if playbook is not None else None,
            "workOrder": work_orders.get(work_order) if work_order is not None else None,
            "relatedFeedback": feedback.get(component, []),
        }
        for execution_id, playbook, work_order, component in roots
    ]
    return json_response(logs, statements)


# -- Q2 -----------------------------------------------------------------------------------------


async def q2(pool: ConnectionPool) -> Response:
    async with pool.connection() as conn:
        rows = await fetch(conn, Q2, {"status": FAILED, "limit": Q2_LIMIT})
    logs = [
        {
            "executionId": row[0],
            "commandType": enum_value(row[1]),
            "component": row[2],
            "status": enum_value(row[3]),
            "startedAt": datetime_value(row[4]),
            "completedAt": datetime_value(row[5]),
            "durationMs": bigint_value(row[6]),
            "exitCode": row[7],
        }
        for row in rows
    ]
    return json_response(logs, statements=1)


# -- Q3 -----------------------------------------------------------------------------------------


def q3_logs(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Nest the flat rows (log x ticket x ticket work order, in answer order)."""
    logs: dict[str, dict[str, Any]] = {}
    tickets: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        execution_id, component, started_at, error, playbook, success, trust = row[:7]
        work_order, title, status, ticket_id, ticket_title, priority = row[7:13]
        ticket_wo, ticket_wo_title, ticket_wo_status = row[13:]
        log = logs.get(execution_id)
        if log is None:
            log = logs[execution_id] = {
                "executionId": execution_id,
                "component": component,
                "startedAt": datetime_value(started_at),
                "errorMessage": error,
                "playbook": None
                if playbook is None
                else {"playbookName": playbook, "successRate": success, "trustScore": trust},
                "workOrder": None
                if work_order is None
                else {"workOrderId": work_order, "title": title, "status": enum_value(status)},
                "relatedFeedback": [],
            }
        if ticket_id is None:
            continue
        ticket = tickets.get((execution_id, ticket_id))
        if ticket is None:
            ticket = tickets[execution_id, ticket_id] = {
                "ticketId": ticket_id,
                "title": ticket_title,
                "priority": enum_value(priority),
                "workOrders": [],
            }
            log["relatedFeedback"].append(ticket)
        if ticket_wo is not None:
            ticket["workOrders"].append(
                {
                    "workOrderId": ticket_wo,
                    "title": ticket_wo_title,
                    "status": enum_value(ticket_wo_status),
                }
            )
    return list(logs.values())


async def q3(pool: ConnectionPool) -> Response:
    params = {"status": FAILED, "limit": Q3_LIMIT, "ticket_status": OPEN,
              "feedback_limit": Q3_FEEDBACK_LIMIT, "default_limit": DEFAULT_LIMIT}  # fmt: skip
    async with pool.connection() as conn:
        rows = await fetch(conn, Q3, params)
    return json_response(q3_logs(rows), statements=1)


# -- D1, D2: the dashboards of the analytics issue ----------------------------------------------

# Failed runs per UTC day and component in [low, high): every day of the window for every
# component that failed in it, zero or not; days, then components by code point, nulls last.
D1 = """
WITH counts AS (
    SELECT date_trunc('day', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day,
           component, count(*) AS failures
    FROM memory_execution_logs
    WHERE status = %(status)s AND started_at >= %(low)s AND started_at < %(high)s
    GROUP BY 1, 2
), days AS (
    SELECT generate_series(%(low)s::timestamptz, %(high)s::timestamptz - interval '1 day',
                           interval '1 day') AS day
), components AS (
    SELECT DISTINCT component FROM counts
)
SELECT d.day, c.component, coalesce(n.failures, 0)
FROM days d CROSS JOIN components c
LEFT JOIN counts n ON n.day = d.day AND n.component IS NOT DISTINCT FROM c.component
ORDER BY d.day, c.component COLLATE "C" NULLS LAST
"""

# 200 playbooks by name, each with its runs, its failed runs and the p95 of their durations.
D2 = """
WITH playbooks AS (
    SELECT id, playbook_name FROM memory_self_healing_playbooks
    ORDER BY playbook_name COLLATE "C", id LIMIT %(limit)s
)
SELECT p.playbook_name, count(l.id), count(l.id) FILTER (WHERE l.status = %(status)s),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY l.duration_ms::float8)
FROM playbooks p LEFT JOIN memory_execution_logs l ON l.linked_playbook_id = p.playbook_name
GROUP BY p.id, p.playbook_name
ORDER BY p.playbook_name COLLATE "C", p.id
"""
D2_LIMIT = 200


async def d1(pool: ConnectionPool, variables: dict[str, Any]) -> Response:
    params = {"status": FAILED, "low": variables["low"], "high": variables["high"]}
    async with pool.connection() as conn:
        rows = await fetch(conn, D1, params)
    groups = [
        {"key": {"startedAt": datetime_value(day), "component": component}, "count": count}
        for day, component, count in rows
    ]
    body = orjson.dumps({"data": {"executionLogsAggregate": groups}})
    return Response(body, media_type="application/json", headers={"x-sql-statements": "1"})


async def d2(pool: ConnectionPool) -> Response:
    async with pool.connection() as conn:
        rows = await fetch(conn, D2, {"status": FAILED, "limit": D2_LIMIT})
    playbooks = [
        {
            "playbookName": name,
            "executionsAggregate": [{"count": runs, "p95": {"durationMs": p95}}],
            "failed": [{"count": failed}],
        }
        for name, runs, failed, p95 in rows
    ]
    body = orjson.dumps({"data": {"playbooks": playbooks}})
    return Response(body, media_type="application/json", headers={"x-sql-statements": "1"})


# -- the app ------------------------------------------------------------------------------------


def create_app() -> Starlette:
    """Factory for uvicorn (one per worker process); settings come from the environment."""
    pool = ConnectionPool(
        os.environ[DATABASE_ENV], int(os.environ.get(POOL_SIZE_ENV) or DEFAULT_POOL_SIZE)
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await pool.open()
        yield
        await pool.close()

    async def q1_endpoint(request: Request) -> Response:
        return await q1_joined(pool)

    async def q1_batched_endpoint(request: Request) -> Response:
        return await q1_batched(pool)

    async def q2_endpoint(request: Request) -> Response:
        return await q2(pool)

    async def q3_endpoint(request: Request) -> Response:
        return await q3(pool)

    async def d1_endpoint(request: Request) -> Response:
        return await d1(pool, orjson.loads(await request.body())["variables"])

    async def d2_endpoint(request: Request) -> Response:
        return await d2(pool)

    async def readyz(request: Request) -> Response:
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
        return Response(b'{"status":"ready"}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/q1", q1_endpoint, methods=["POST"]),
            Route("/q1-batched", q1_batched_endpoint, methods=["POST"]),
            Route("/q2", q2_endpoint, methods=["POST"]),
            Route("/q3", q3_endpoint, methods=["POST"]),
            Route("/d1", d1_endpoint, methods=["POST"]),
            Route("/d2", d2_endpoint, methods=["POST"]),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="postgresql:// URL of the bench data")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pool-size", type=int, default=DEFAULT_POOL_SIZE)
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # Worker processes import this module afresh: they get their settings from the environment.
    os.environ[DATABASE_ENV] = args.database
    os.environ[POOL_SIZE_ENV] = str(args.pool_size)
    uvicorn.run(
        "floor:create_app",
        factory=True,
        app_dir=str(Path(__file__).resolve().parent),
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
    )


if __name__ == "__main__":
    main()
