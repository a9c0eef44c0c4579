"""The event loop's reader (graph/sql/async_reader.py) on a real PostgreSQL: how long a
statement waits for a pooled connection, and when the loop rests after a failure."""

from __future__ import annotations

import asyncio
import time

import pytest
from psycopg_pool import PoolTimeout
from sqlalchemy import make_url

from graph.sql.async_reader import LOOP_WAIT_S, REST_S, AsyncReader
from tests.databases import TestDatabase
from tests.servers import free_port


def _reader(url: str, pool_size: int = 1) -> AsyncReader:
    return AsyncReader(
        make_url(url), pool_size=pool_size, statement_timeout_s=None, pool_timeout_s=3.0
    )


async def test_a_busy_pool_sends_one_request_away_and_the_loop_stays(
    empty_db: TestDatabase,
) -> None:
    """Its one connection held by a slow statement, another statement gives up after
    LOOP_WAIT_S (not the pool's 3 s) and the loop does not rest: the pool is busy, the
    database well."""
    if empty_db.backend != "postgresql":
        pytest.skip("the event loop's reader is PostgreSQL's")
    reader = _reader(empty_db.url)
    await reader.open()
    try:
        assert await reader.scalar("SELECT 1", None) == 1
        slow = asyncio.ensure_future(reader.scalar("SELECT pg_sleep(0.6)::text", None))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(PoolTimeout):
            await reader.scalar("SELECT 2", None)
        waited = time.monotonic() - started
        assert LOOP_WAIT_S * 0.9 <= waited < 1.0, waited
        assert reader.ready
        assert await slow == ""
        assert await reader.scalar("SELECT 3", None) == 3
    finally:
        await reader.close()


async def test_an_unreachable_database_rests_the_loop(empty_db: TestDatabase) -> None:
    """No database at the address: the statement gives up after LOOP_WAIT_S and the loop
    rests for REST_S (requests go the thread's way, which answers at once)."""
    if empty_db.backend != "postgresql":
        pytest.skip("the event loop's reader is PostgreSQL's")
    nowhere = make_url(empty_db.url).set(port=free_port()).render_as_string(False)
    reader = _reader(nowhere)
    await reader.open()
    try:
        started = time.monotonic()
        with pytest.raises(PoolTimeout):
            await reader.scalar("SELECT 1", None)
        assert time.monotonic() - started < 1.0
        assert not reader.ready
        await asyncio.sleep(REST_S)
        assert reader.ready
    finally:
        await reader.close()
