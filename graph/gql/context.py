"""What every resolver of one server needs: the spec, the catalog, the engine and settings."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
import psycopg
from anyio.lowlevel import RunVar
from sqlalchemy import Connection, Engine, Select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from graph.drift import schema_mismatch
from graph.errors import ServiceUnavailableError
from graph.gql.group_shaper import GroupShaper
from graph.gql.kept_documents import KeptDocuments
from graph.gql.prepared import Prepared, PreparedOperations
from graph.settings import Settings
from graph.spec.model import Spec
from graph.sql.async_reader import AsyncReader
from graph.sql.compile import Compiler
from graph.sql.driver_rows import RowReader
from graph.sql.driver_template import DriverTemplate
from graph.sql.engine import snapshot_reader, write_engine
from graph.sql.statement_cache import DriverStatement, Key, Lru, StatementCache
from graph.sql.tables import Catalog
from graph.sql.timeouts import StatementTimeoutError, raise_if_timeout
from graph.where import TableIndex, build_index
from graph.writes import WriteOps

if TYPE_CHECKING:
    from graph.gql.group_encoder import GroupEncoder

T = TypeVar("T")
# Named for what it reports: every schema mismatch is logged under graph.drift.
log = logging.getLogger("graph.drift")


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
    single_reader: Engine | None = field(init=False)
    # A prepared operation's statement on the event loop (PostgreSQL; open while the app runs).
    async_reader: AsyncReader | None = field(init=False)

    writer: Engine = field(init=False)
    writes: WriteOps = field(init=False)
    # The compiled path's built statements, reused by later requests (graph/gql/compiled.py).
    statements: StatementCache = field(init=False)
    # The compiled path's built statements with Slots for comparison values (graph/sql/slots.py),
    # by kind, Read and Shape: run again with other values (compiled.py, compiled_connection.py).
    templates: Lru[Key, Select[Any]] = field(init=False)
    # The same statements as the driver was given them, bound again for other values without
    # SQLAlchemy (graph/sql/driver_template.py; PostgreSQL's named parameters only).
    driver_templates: Lru[Key, DriverTemplate] = field(init=False)
    # For connections' templates among them, how their rows are read (graph/sql/driver_rows.py).
    page_readers: Lru[Key, RowReader] = field(init=False)
    # Requests answered before, answered again without GraphQL (graph/gql/prepared.py).
    prepared: PreparedOperations = field(init=False)
    # Documents answered before, answered again with other variables without GraphQL's
    # execution (graph/gql/kept_documents.py).
    documents: KeptDocuments = field(init=False)
    # Relation aggregates' groups as their types read them, in compiled answers
    # (graph/gql/compiled_groups.py).
    group_shaper: GroupShaper = field(init=False)
    # The turns SQLite's reads take on worker threads, one limiter per event loop
    # (read_threads); None on PostgreSQL.
    _read_turns: RunVar[anyio.CapacityLimiter] | None = field(init=False)

    def __post_init__(self) -> None:
        self.index = build_index(self.spec)
        self.writes = WriteOps(self.spec, self.settings)
        # Every statement of one operation reads one snapshot (ReadSession below).
        self.reader = snapshot_reader(self.engine)
        # A single statement needs no transaction to see one snapshot (ReadSession.run). On
        # PostgreSQL only: SQLite's BEGIN costs no round trip, and SQLAlchemy's reset from
        # AUTOCOMMIT would turn the driver's own implicit transactions back on.
        self.single_reader = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.engine.dialect.name == "postgresql"
            else None
        )
        self.async_reader = (
            AsyncReader(
                self.engine.url,
                pool_size=self.settings.db_pool_size,
                statement_timeout_s=self.settings.statement_timeout_s,
                pool_timeout_s=self.settings.pool_timeout_s,
            )
            if self.engine.dialect.name == "postgresql"
            else None
        )
        self.writer = write_engine(self.engine)
        self.statements = StatementCache(self.engine, self.settings.statement_cache_size)
        self.templates = Lru(self.settings.statement_cache_size)
        self.driver_templates = Lru(self.settings.statement_cache_size)
        self.page_readers = Lru(self.settings.statement_cache_size)
        self.prepared = PreparedOperations(self.settings.statement_cache_size)
        self.documents = KeptDocuments(self.settings.statement_cache_size)
        self.group_shaper = GroupShaper(self.spec)
        self._read_turns = RunVar("sqlite reads") if self.engine.dialect.name == "sqlite" else None

    def read_threads(self) -> anyio.CapacityLimiter | None:
        """The worker threads a read runs on: on SQLite, at most `sqlite_read_threads` at once,
        the others waiting first come first served; None (anyio's default, 40 threads) on
        PostgreSQL, whose reads wait on the database's processes. SQLite reads in this
        process: 16 concurrent reads of bench Q1 on 2 cores took 3.4 ms of CPU each on
        anyio's threads, 2.3 with two at once and 1.3 with one (contention for the cores and
        the interpreter's lock, and for the connections' page caches). Writes keep anyio's
        default: they take turns already."""
        if self._read_turns is None:
            return None
        try:
            return self._read_turns.get()
        except LookupError:
            # anyio's limiters belong to one event loop (tests run several).
            limiter = anyio.CapacityLimiter(self.settings.sqlite_read_threads)
            self._read_turns.set(limiter)
            return limiter

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def compiler(self, now: dt.datetime | None = None) -> Compiler:
        """A compiler for statements at `now` (the request's moment; the clock's when None)."""
        return Compiler(self.catalog, self.dialect, now or self.clock())

    async def write(
        self, work: Callable[[Connection, Compiler], T], now: dt.datetime | None = None
    ) -> T:
        """Run `work` in one write transaction; return only after it committed."""

        def in_thread() -> T:
            with self.writer.connect() as conn, conn.begin():
                return work(conn, self.compiler(now))

        with database_errors(self.catalog):
            return await anyio.to_thread.run_sync(in_thread)


@contextmanager
def database_errors(catalog: Catalog | None = None) -> Iterator[None]:
    """A database that cannot be reached is the server's state, not the client's mistake; nor
    is one that lacks a table or column of the spec (SCHEMA_MISMATCH, graph/drift.py)."""
    try:
        yield
    except DBAPIError as exc:
        # Before the outage branch: SQLite says "no such table" with an OperationalError too.
        mismatch = schema_mismatch(exc, catalog)
        if mismatch is not None:
            log.warning("schema mismatch: %s", mismatch.message)
            raise mismatch from exc
        if isinstance(exc, OperationalError):
            raise ServiceUnavailableError("the database is unavailable; try again shortly") from exc
        if exc.connection_invalidated:
            raise ServiceUnavailableError("the database connection was lost; try again") from exc
        raise
    except PoolTimeoutError as exc:
        raise ServiceUnavailableError("the database is unavailable; try again shortly") from exc


class ReadSession:
    """One read transaction shared by the root fields of one operation.

    Root fields resolve concurrently; they take turns on the one connection (a lock), so each
    statement of the operation sees the same snapshot. The connection is opened by the first
    root field that reads and closed when the operation ends (ReadSnapshot extension).
    """

    def __init__(self, graph: GraphContext, now: dt.datetime) -> None:
        self.graph = graph
        self.now = now
        self._lock = anyio.Lock()
        self._conn: Connection | None = None
        # The time limit the request's one statement met already, as a prepared operation
        # (graph/http/endpoint.py Incoming): the session's first statement is that one again,
        # and answers the error at once rather than making the database wait the limit again.
        self.timed_out: StatementTimeoutError | None = None
        # Set for a plan made only to see its statement (graph/gql/document_bindings.py):
        # the compiled path raises StatementNoted instead of running it, and nothing runs.
        self.planning_only = False

    async def run(self, work: Callable[[Connection, Compiler], T], *, alone: bool = False) -> T:
        """Run `work` in the operation's snapshot. `alone`: the work is ONE statement and the
        operation's only root field, so it sees one snapshot by itself: it runs outside a
        transaction (no BEGIN and ROLLBACK, two round trips on PostgreSQL)."""
        self._before_statement()
        async with self._lock:
            with database_errors(self.graph.catalog):
                return await anyio.to_thread.run_sync(
                    self._in_thread, work, alone, limiter=self.graph.read_threads()
                )

    async def scalar(self, statement: DriverStatement, *, alone: bool = False) -> Any:
        """The first column of the one row `statement` answers, in the operation's snapshot
        (run as `rows` runs it)."""
        rows = await self.rows(statement, alone=alone)
        return rows[0][0] if rows else None

    async def rows(self, statement: DriverStatement, *, alone: bool = False) -> list[Any]:
        """Every row `statement` answers, as the driver gives them, in the operation's
        snapshot. `alone` (as in `run`) on PostgreSQL while the app runs: on the event loop
        (graph/sql/async_reader.py), without a worker thread or SQLAlchemy. There, a
        statement stopped by the time limit is TIMEOUT as on the thread; any other failure
        (a lost connection, a full pool, a changed table) runs it again the usual way, which
        retries or reports it with the usual code."""
        self._before_statement()
        reader = self.graph.async_reader
        if alone and self._conn is None and reader is not None and reader.ready:
            try:
                return await reader.rows(statement.sql, statement.parameters)
            except psycopg.Error as error:
                raise_if_timeout(error, self.graph.settings.statement_timeout_s)

        def in_thread(conn: Connection, _compiler: Compiler) -> list[Any]:
            return list(statement.run(conn).all())

        return await self.run(in_thread, alone=alone)

    def _before_statement(self) -> None:
        """Refuse to run when only planning; raise the time limit met already, once."""
        if self.planning_only:
            raise RuntimeError("a session that only plans runs no statement")
        error, self.timed_out = self.timed_out, None
        if error is not None:
            raise error

    def _in_thread(self, work: Callable[[Connection, Compiler], T], alone: bool) -> T:
        fresh = self._conn is None
        attempt = self._alone if alone and fresh and self.graph.single_reader else self._work
        try:
            return attempt(work)
        except DBAPIError as exc:
            if not (fresh and exc.connection_invalidated):
                raise
            # The pooled connection had died unseen (graph/sql/engine.py checks the socket
            # at checkout, but a server may vanish without closing it). Nothing of this
            # operation had run on it: once more, on a new connection (the pool has let go
            # of every connection as old as that one).
            return attempt(work)

    def _alone(self, work: Callable[[Connection, Compiler], T]) -> T:
        assert self.graph.single_reader is not None
        with self.graph.single_reader.connect() as conn:
            return work(conn, self.graph.compiler(self.now))

    def _work(self, work: Callable[[Connection, Compiler], T]) -> T:
        if self._conn is None:
            self._conn = self.graph.reader.connect()
            self._conn.begin()
        try:
            return work(self._conn, self.graph.compiler(self.now))
        except Exception:
            # A failed statement aborts the transaction on PostgreSQL: start afresh.
            self._close()
            raise

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.rollback()  # nothing was written; ending the snapshot is all
            finally:
                conn.close()

    async def close(self) -> None:
        if self._conn is not None:
            async with self._lock:
                await anyio.to_thread.run_sync(self._close)


@dataclass
class RequestContext:
    """strawberry's `info.context` for one request."""

    graph: GraphContext
    request: Any = None
    # The `operationName` the client gave (graph/gql/build.py OneOperation).
    operation_name: str | None = None
    # The request's one moment: time windows (`withinLast`) and computed fields such as
    # `hours_since` see the same now in every root field.
    now: dt.datetime = field(init=False)
    session: ReadSession = field(init=False)
    # Which path answered each root field, by response key (graph/gql/compiled.py): shown in
    # the response's extensions with GRAPH_DEBUG.
    paths: dict[str, str] = field(default_factory=dict)
    # The operation's only root field and its reusable statement, when the compiled path
    # answered it so (graph/gql/prepared.py): the endpoint keeps it for the same request.
    prepared: Prepared | None = None
    # Encoders of relation aggregates' groups, by the field's nodes: planned once per request
    # (graph/gql/aggregates.py group_reader); None where the groups go to graphql-core.
    group_encoders: dict[tuple[int, ...], GroupEncoder | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.now = self.graph.clock()
        self.session = ReadSession(self.graph, self.now)
