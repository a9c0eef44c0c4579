"""One statement run on the event loop: PostgreSQL through psycopg's asyncio connections.

The server runs its statements through SQLAlchemy on worker threads (graph/gql/context.py). A
prepared operation (graph/gql/prepared.py) is one statement whose driver text and parameters
are known already, answering one request: for it, the hop to a thread and back and
SQLAlchemy's connection and result machinery were a large share of the request's time.
Here it runs on the event loop itself, through a psycopg_pool.AsyncConnectionPool (the pool
psycopg's authors maintain; ours would be a second, untested one), with the engine's own
connection options, so the text it answers is the same. Measured on a repeated plain list
of 100 rows (docs/performance.md): 15-30 % more requests per second than the thread at one
client, and at 16 clients a p99 of 35-37 ms instead of 91-170. A repeated connection's page
runs here too, its rows read as SQLAlchemy read them (graph/sql/driver_rows.py).

The pool opens with the app (its lifespan, graph/app.py) and closes with it: an app that is
never started (an in-process test client) keeps the thread. A statement that fails raises as
usual; the caller goes the full way then (the pool replaces a broken connection itself).

A statement waits for a pooled connection only briefly (LOOP_WAIT_S), not the pool's whole
GRAPH_POOL_TIMEOUT_S: the thread's way has pools of its own and reports a lost database at
once. While the database is down, or for the seconds after it is back (psycopg's pool
reconnects with a growing delay between tries), a full wait here made every request 3 s
late (the faults tests, tests/security/test_faults.py, caught it). And after a failure other
than the time limit (no connection, a lost one, a changed table) the loop rests for a second
(REST_S): meanwhile the thread's way answers, so an outage costs no wait at all. A wait that
ran out while other statements held every connection is a busy pool, not a failing database:
that request goes the thread's way, the others stay on the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import URL

from graph.sql.engine import postgresql_connect_args
from graph.sql.timeouts import is_timeout

# The longest wait for one of the pool's connections (seconds). Requests in flight are fewer
# than its connections (GRAPH_MAX_IN_FLIGHT 8, GRAPH_DB_POOL_SIZE 10): a wait is the pool
# opening one, a few milliseconds on a database that answers.
LOOP_WAIT_S = 0.1
# How long statements keep off the loop after one failed there for another reason than the
# time limit (seconds).
REST_S = 1.0


class AsyncReader:
    """Statements of one value on the event loop that opened the pool (PostgreSQL only)."""

    def __init__(
        self,
        url: URL,
        *,
        pool_size: int,
        statement_timeout_s: float | None,
        pool_timeout_s: float,
    ) -> None:
        self.conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.pool_size = pool_size
        self.pool_timeout_s = pool_timeout_s
        self.wait_s = min(pool_timeout_s, LOOP_WAIT_S)
        self.connect_args = postgresql_connect_args(statement_timeout_s, pool_timeout_s)
        self._pool: AsyncConnectionPool[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Until when (time.monotonic()) statements keep off the loop: see REST_S.
        self._rest_until = 0.0
        # Statements holding one of the pool's connections now.
        self._busy = 0
        # Told of each statement run and its seconds (the request log counts it).
        self.on_statement: Callable[[float], None] = lambda seconds: None

    @property
    def ready(self) -> bool:
        """Open, on the running event loop (a pool serves the loop that opened it), and not
        resting after a failure (REST_S)."""
        if self._pool is None or time.monotonic() < self._rest_until:
            return False
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    async def open(self) -> None:
        """Open the pool on the running loop. Its connections are made in the background:
        one at once, more as requests need them, up to `pool_size`."""
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=self.pool_size,
            kwargs={"autocommit": True, **self.connect_args},
            timeout=self.pool_timeout_s,
            name="graph-prepared",
            open=False,
        )
        await pool.open(wait=False)
        self._pool, self._loop = pool, asyncio.get_running_loop()

    async def close(self) -> None:
        pool, self._pool, self._loop = self._pool, None, None
        if pool is not None:
            await pool.close()

    async def scalar(self, sql: str, parameters: Any) -> Any:
        """The first column of the first row `sql` answers (autocommit: no transaction, as
        the compiled path runs a sole statement). Requires `ready`."""
        rows = await self._fetch(sql, parameters, every_row=False)
        return rows[0][0] if rows else None

    async def rows(self, sql: str, parameters: Any) -> list[tuple[Any, ...]]:
        """Every row `sql` answers, as the driver gives them (a connection's page: its nodes'
        JSON and the values of its cursors, graph/gql/compiled_connection.py). Requires
        `ready`."""
        return await self._fetch(sql, parameters, every_row=True)

    async def _fetch(self, sql: str, parameters: Any, *, every_row: bool) -> list[tuple[Any, ...]]:
        assert self._pool is not None
        started = time.perf_counter()
        try:
            async with self._pool.connection(timeout=self.wait_s) as conn:
                self._busy += 1
                try:
                    cursor = await conn.execute(sql, parameters)
                    rows: list[tuple[Any, ...]]
                    if every_row:
                        rows = await cursor.fetchall()
                    else:
                        row = await cursor.fetchone()
                        rows = [] if row is None else [row]
                finally:
                    self._busy -= 1
        except PoolTimeout:
            # No connection came: a failing database when none is in use, else a busy pool.
            if self._busy == 0:
                self._rest_until = time.monotonic() + REST_S
            raise
        except psycopg.Error as error:
            # A statement stopped by the time limit says nothing of the database's health.
            if not is_timeout(error):
                self._rest_until = time.monotonic() + REST_S
            raise
        self.on_statement(time.perf_counter() - started)
        return rows
