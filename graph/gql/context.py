"""What every resolver of one server needs: the spec, the catalog, the engine and settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from graph.errors import ServiceUnavailableError
from graph.gql.selection import TableIndex, build_index
from graph.settings import Settings
from graph.spec.model import Spec
from graph.sql.compile import Compiler
from graph.sql.tables import Catalog

T = TypeVar("T")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class GraphContext:
    spec: Spec
    catalog: Catalog
    engine: Engine
    settings: Settings
    # "Now" for relative time filters (withinLast, olderThan); tests fix it.
    clock: Callable[[], dt.datetime] = utc_now
    index: dict[str, TableIndex] = field(init=False)
    reader: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.index = build_index(self.spec)
        # Reads need no transaction: under READ COMMITTED each statement sees its own snapshot
        # either way, and skipping BEGIN/ROLLBACK saves two round trips per request.
        self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def run(self, work: Callable[[Connection, Compiler], T]) -> T:
        """Run `work` on one pooled connection in a worker thread: one hop per root field."""

        def in_thread() -> T:
            with self.reader.connect() as conn:
                return work(conn, Compiler(self.catalog, self.dialect, self.clock()))

        try:
            return await anyio.to_thread.run_sync(in_thread)
        except (OperationalError, PoolTimeoutError) as exc:
            raise ServiceUnavailableError("the database is unavailable; try again shortly") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise ServiceUnavailableError(
                    "the database connection was lost; try again"
                ) from exc
            raise


@dataclass
class RequestContext:
    """strawberry's `info.context` for one request."""

    graph: GraphContext
    request: Any = None
