"""One statement run on the event loop: PostgreSQL through psycopg's asyncio connections.

The server runs its statements through SQLAlchemy on worker threads (graph/gql/context.py). A
prepared operation (graph/gql/prepared.py) is one statement whose driver text and parameters
are known already, answering one request: for it, the hop to a thread and back and
SQLAlchemy's connection and result machinery were a large share of the request's time.
Here it runs on the event loop itself, through a psycopg_pool.AsyncConnectionPool (the pool
psycopg's authors maintain; ours would be a second, untested one), with the engine's own
connection options, so the text it answers is the same. Measured on a repeated plain list of
100 rows (docs/performance.md): 15-30 % more requests per second than the thread at one
client, and at 16 clients a p99 of 35-37 ms instead of 91-170.

The pool opens with the app (its lifespan, graph/app.py) and closes with it: an app that is
never started (an in-process test client) keeps the thread. A statement that fails raises as
usual; the caller goes the full way then (the pool replaces a broken connection itself).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from psycopg_pool import AsyncConnectionPool
from sqlalchemy import URL

from graph.sql.engine import postgresql_connect_args


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
        self.connect_args = postgresql_connect_args(statement_timeout_s, pool_timeout_s)
        self._pool: AsyncConnectionPool[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Told of each statement run and its seconds (the request log counts it).
        self.on_statement: Callable[[float], None] = lambda seconds: None

    @property
    def ready(self) -> bool:
        """Open, and on the running event loop (a pool serves the loop that opened it)."""
        if self._pool is None:
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
        assert self._pool is not None
        started = time.perf_counter()
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql, parameters)
            row = await cursor.fetchone()
        self.on_statement(time.perf_counter() - started)
        return None if row is None else row[0]
