"""Time limits and admission (docs/security.md): statements stopped at the time limit with
TIMEOUT on both databases (a long statement, a lock held by another transaction), headers
too large (431), requests beyond the in-flight bound shed at once (503, Retry-After)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from graph.app import create_app
from graph.gql.context import GraphContext
from graph.http.admission import InFlightLimit
from graph.settings import Settings
from graph.spec import Spec
from graph.sql.ddl import create_schema
from graph.sql.engine import build_engine
from graph.sql.tables import Catalog
from graph.sql.timeouts import StatementTimeoutError
from tests.databases import TestDatabase

LIMIT_S = 0.5
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1e9)"
    " SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(5)",
}


@pytest.fixture
def limited(empty_db: TestDatabase, catalog: Catalog) -> Iterator[tuple[TestDatabase, Engine]]:
    """The test database with its tables, and a second engine on it with the time limit."""
    create_schema(empty_db.engine, catalog)
    engine = build_engine(empty_db.url, pool_size=2, statement_timeout_s=LIMIT_S)
    yield empty_db, engine
    engine.dispose()


def test_a_long_statement_is_stopped_at_the_limit(limited: tuple[TestDatabase, Engine]) -> None:
    db, engine = limited
    started = time.monotonic()
    with (
        pytest.raises(StatementTimeoutError, match="GRAPH_STATEMENT_TIMEOUT_S"),
        engine.connect() as conn,
    ):
        conn.execute(text(SLOW[db.backend]))
    assert time.monotonic() - started < LIMIT_S + 2
    with engine.connect() as conn:  # the connection is fine afterwards
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_statements_within_the_limit_run(limited: tuple[TestDatabase, Engine]) -> None:
    _, engine = limited
    for _ in range(3):
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 2")).scalar_one() == 2


async def post(app: Any, query: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/graphql", json={"query": query}, headers=headers or {})


def test_a_write_behind_a_held_lock_gets_timeout(
    limited: tuple[TestDatabase, Engine], spec: Spec, catalog: Catalog
) -> None:
    """Another transaction holds the lock (PostgreSQL: the table; SQLite: the write lock):
    the API's write waits for the limit, then answers TIMEOUT, and nothing is written."""
    db, engine = limited
    app = create_app(graph=GraphContext(spec, catalog, engine, Settings()))
    holder = db.engine.connect()
    lock = (
        "LOCK TABLE memory_self_healing_playbooks IN ACCESS EXCLUSIVE MODE"
        if db.backend == "postgresql"
        else "BEGIN IMMEDIATE"
    )
    try:
        if db.backend == "postgresql":
            holder.begin()
            holder.execute(text(lock))
        else:
            holder.connection.driver_connection.execute(lock)  # type: ignore[union-attr]
        mutation = (
            'mutation { insertPlaybooks(rows: [{playbookName: "p", actions: [],'
            " riskLevel: LOW}]) { affectedCount } }"
        )
        started = time.monotonic()
        body = asyncio.run(post(app, mutation)).json()
        waited = time.monotonic() - started
    finally:
        if db.backend == "postgresql":
            holder.rollback()
        else:
            holder.connection.driver_connection.execute("ROLLBACK")  # type: ignore[union-attr]
        holder.close()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["TIMEOUT"], body
    assert waited < LIMIT_S + 3, waited
    with db.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM memory_self_healing_playbooks"))
        assert count.scalar_one() == 0


async def test_headers_too_large_are_refused(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    app = create_app(graph=GraphContext(spec, catalog, seeded_db.engine, Settings()))
    response = await post(app, "{ __typename }", {"X-Padding": "a" * 20_000})
    assert response.status_code == 431
    assert response.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    ok = await post(app, "{ __typename }", {"X-Padding": "a" * 10_000})
    assert ok.status_code == 200


def held_app(release: threading.Event) -> Any:
    """An ASGI app whose /slow requests stay in flight until `release` is set."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/slow":
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def test_requests_beyond_the_bound_are_shed_at_once() -> None:
    """Two requests in flight (held open), no queue: a third is refused in milliseconds;
    health passes; once they finish, the next is admitted."""
    release = threading.Event()
    limit = InFlightLimit(
        held_app(release), max_in_flight=2, max_queued=0, queue_wait_s=5, adaptive=False
    )
    transport = httpx.ASGITransport(app=limit)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        held = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
        while limit.in_flight < 2:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        shed = await client.get("/fast")
        assert time.monotonic() - started < 0.5
        assert shed.status_code == 503 and shed.headers["retry-after"] == "1"
        assert shed.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert (await client.get("/healthz")).status_code == 200
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
        assert limit.in_flight == 0
        assert (await client.get("/fast")).status_code == 200


async def test_the_queue_is_bounded_in_length_and_in_wait() -> None:
    """One in flight, one place in the queue: the second waits and is admitted when the
    first ends; a third, finding the queue full, is refused at once; a queued request that
    waits past queue_wait_s is refused then. (A queue that stands a minute is still a burst
    here: the overload rules have their own tests.)"""
    release = threading.Event()
    fixed = {"adaptive": False, "standing_queue_s": 60}
    limit = InFlightLimit(held_app(release), max_in_flight=1, max_queued=1, queue_wait_s=5, **fixed)
    transport = httpx.ASGITransport(app=limit)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = asyncio.create_task(client.get("/slow"))
        while limit.in_flight < 1:
            await asyncio.sleep(0.01)
        second = asyncio.create_task(client.get("/fast"))
        while limit.queued < 1:
            await asyncio.sleep(0.01)
        assert (await client.get("/fast")).status_code == 503
        release.set()
        assert (await first).status_code == 200 and (await second).status_code == 200
    release = threading.Event()
    impatient = InFlightLimit(
        held_app(release), max_in_flight=1, max_queued=1, queue_wait_s=0.2, **fixed
    )
    transport = httpx.ASGITransport(app=impatient)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = asyncio.create_task(client.get("/slow"))
        while impatient.in_flight < 1:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        waited = await client.get("/fast")
        assert waited.status_code == 503 and 0.15 < time.monotonic() - started < 2
        release.set()
        assert (await first).status_code == 200


def recording_app(release: threading.Event, order: list[str]) -> Any:
    """Like held_app, and records the paths it answers, in order."""
    held = held_app(release)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await held(scope, receive, send)
        order.append(scope["path"])

    return app


async def until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.005)


def overload_after_50_ms(app: Any, overloaded_wait_s: float) -> InFlightLimit:
    """One in flight, a queue that is an overload once it has stood 50 ms, a fixed bound."""
    return InFlightLimit(
        app,
        max_in_flight=1,
        max_queued=10,
        queue_wait_s=5,
        standing_queue_s=0.05,
        overloaded_wait_s=overloaded_wait_s,
        adaptive=False,
    )


async def test_in_an_overload_waiters_get_milliseconds_and_the_stale_are_refused() -> None:
    """Once the queue has stood (here 50 ms), a newcomer waits only `overloaded_wait_s`
    (here 50 ms, not the 5 s of a burst), and those that waited longer are refused when a
    slot frees instead of being served late."""
    release = threading.Event()
    limit = overload_after_50_ms(held_app(release), overloaded_wait_s=0.05)
    transport = httpx.ASGITransport(app=limit)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = asyncio.create_task(client.get("/slow"))
        await until(lambda: limit.in_flight == 1)
        early = asyncio.create_task(client.get("/early"))
        await until(lambda: limit.queued == 1)
        await asyncio.sleep(0.2)  # the queue stands
        started = time.monotonic()
        late = await client.get("/late")
        assert late.status_code == 503 and time.monotonic() - started < 1.0
        release.set()
        assert (await first).status_code == 200
        refused = await early
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert limit.in_flight == 0 and limit.queued == 0


async def test_in_an_overload_the_newest_waiter_is_served_first() -> None:
    """Adaptive LIFO: the newest waiter still has its client's patience; the oldest is the
    one most likely to have been given up on."""
    release = threading.Event()
    order: list[str] = []
    limit = overload_after_50_ms(recording_app(release, order), overloaded_wait_s=3)
    transport = httpx.ASGITransport(app=limit)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = asyncio.create_task(client.get("/slow"))
        await until(lambda: limit.in_flight == 1)
        older = asyncio.create_task(client.get("/older"))
        await until(lambda: limit.queued == 1)
        await asyncio.sleep(0.2)  # the queue stands
        newer = asyncio.create_task(client.get("/newer"))
        await until(lambda: limit.queued == 2)
        release.set()
        answers = await asyncio.gather(first, older, newer)
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert order == ["/slow", "/newer", "/older"]


def computing_app() -> Any:
    """An ASGI app that computes for 5 ms per request, holding the CPU."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        deadline = time.process_time() + 0.005
        while time.process_time() < deadline:
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def test_the_bound_falls_while_the_process_computes_and_rises_while_it_waits() -> None:
    """Requests that compute: one more in flight only slows every one down, so the bound
    falls to 1. Requests that wait (on the database, here on an event) leave the CPU idle,
    so the bound climbs back to max_in_flight and they run side by side."""
    release = threading.Event()
    computing = computing_app()
    waiting = held_app(release)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await (waiting if scope["path"] == "/slow" else computing)(scope, receive, send)

    limit = InFlightLimit(app, max_in_flight=8, max_queued=64, queue_wait_s=5)
    transport = httpx.ASGITransport(app=limit)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def compute_until_the_bound_is_one() -> None:
            deadline = time.monotonic() + 10
            while limit.limit > 1 and time.monotonic() < deadline:
                await client.get("/compute")

        await asyncio.gather(*(compute_until_the_bound_is_one() for _ in range(8)))
        assert limit.limit == 1
        held = [asyncio.create_task(client.get("/slow")) for _ in range(8)]
        await until(lambda: limit.in_flight == 8, timeout_s=10)
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200] * 8
