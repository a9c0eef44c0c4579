"""Creates database engines from a user's URL, and counts the SQL statements they run."""

from __future__ import annotations

import json
import math
import select
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.pool import StaticPool

from graph.errors import GraphError, OutOfRangeError
from graph.spec.model import BIGINT_MAX, BIGINT_MIN
from graph.sql.buckets import sqlite_bucket
from graph.sql.exact_measures import Percentile, average_of_halves
from graph.sql.sqlite_writes import WriteTurns, queue_sqlite_writers
from graph.sql.timeouts import (
    is_locked,
    limit_sqlite_statements,
    locked_error,
    postgresql_options,
    raise_timeout,
)


class DatabaseUrlError(GraphError):
    code = "BAD_DATABASE_URL"


def normalize_url(url: str) -> URL:
    """Accept `sqlite:///file.db` and `postgresql://...`; pick the drivers this project ships."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(f"not a database URL: {redact(url)!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_contains(container: Any, contained: Any, *, top: bool = False) -> bool:
    """PostgreSQL's jsonb `@>`, for SQLite (docs/api.md states the rules)."""
    if isinstance(contained, dict):
        return isinstance(container, dict) and all(
            key in container and _json_contains(container[key], value)
            for key, value in contained.items()
        )
    if isinstance(contained, list):
        if not isinstance(container, list):
            return False
        return all(any(_json_contains(c, item) for c in container) for item in contained)
    if isinstance(container, list):
        # jsonb's one exception to "structures must match": at the top level only, an array
        # contains a scalar that is one of its elements. {"b": [1, 2]} does not contain {"b": 1}.
        return top and any(_scalars_equal(c, contained) for c in container)
    return _scalars_equal(container, contained)


def _scalars_equal(a: Any, b: Any) -> bool:
    """jsonb equality of scalars: numbers by value (1 = 1.0), else same type and value."""
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return type(a) is type(b) and bool(a == b)


def sqlite_json_contains(container: str | None, contained: str | None) -> int | None:
    if container is None or contained is None:
        return None
    return int(_json_contains(json.loads(container), json.loads(contained), top=True))


def sqlite_lower(value: str | None) -> str | None:
    """Unicode's full lower-case mapping, as PostgreSQL's ICU collation applies it (SQLite's
    own lower() folds ASCII letters only)."""
    return None if value is None else value.lower()


# SQLite gives a user function's exception back as "user-defined function raised exception"
# only; sqlite_finite notes here, in the thread that runs the statement, that it was the one.
_non_finite = threading.local()

OUT_OF_RANGE_MESSAGE = (
    "a number the database computed does not fit a double (beyond about 1.8e308, or on "
    "PostgreSQL a non-zero result below about 2.2e-308): a sum or average of a float field, "
    "or a computed field's formula; narrow the rows it reads"
)


def sqlite_finite(value: float | int | None) -> float | int | None:
    """`grace_finite(x)`: x, or an error when x is an infinity. SQLite sums floats past the
    largest double to an infinity that would then filter and sort as a number; PostgreSQL
    refuses such a sum (SQLSTATE 22003). Both answer OUT_OF_RANGE (_out_of_range)."""
    if isinstance(value, float) and math.isinf(value):
        _non_finite.raised = True
        raise ValueError("a non-finite measure")
    return value


def _out_of_range(context: ExceptionContext) -> None:
    """handle_error: a read that computed beyond its type is OUT_OF_RANGE, not an internal
    error. (A write's 22003 is a value the write's checks missed: left as it is.)"""
    original = context.original_exception
    if isinstance(original, sqlite3.Error):
        if getattr(_non_finite, "raised", False):
            _non_finite.raised = False
            raise OutOfRangeError(OUT_OF_RANGE_MESSAGE) from None
        return
    execution = context.execution_context
    writes = isinstance(execution, DefaultExecutionContext) and (
        execution.isinsert or execution.isupdate or execution.isdelete
    )
    if getattr(original, "sqlstate", None) == "22003" and not writes:
        raise OutOfRangeError(OUT_OF_RANGE_MESSAGE) from None


def _json_number(text: str) -> int | float:
    """A JSON integer outside 64 bits becomes a double: PostgreSQL's jsonb keeps 1e300 as a
    301-digit integer, which no JSON encoder of ours (orjson) nor any JavaScript client takes."""
    number = int(text)
    if BIGINT_MIN <= number <= BIGINT_MAX:
        return number
    try:
        return float(number)
    except OverflowError:  # beyond doubles too: as json.loads reads 1e400
        return -math.inf if number < 0 else math.inf


def load_json(document: str | bytes) -> Any:
    """How JSON values come out of either database (SQLAlchemy's json_deserializer)."""
    return json.loads(document, parse_int=_json_number)


def sqlite_json_float(value: float | int | None) -> str | None:
    """`grace_json_float(x)`: a float as the API writes it in JSON (orjson: the shortest
    digits that read back exactly, `3.0` for a whole number), or null for NaN, infinities and
    null. SQLite's own JSON functions keep 15 significant digits only."""
    if value is None or not math.isfinite(value):
        return None
    return orjson.dumps(float(value)).decode()


# How long SQLite waits for another process's write lock before "database is locked".
_SQLITE_BUSY_S = 5.0

# Execution option of a connection that will write: SQLite then begins with BEGIN IMMEDIATE.
WRITE = "grace_write"


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # The driver's own transaction handling begins lazily, before the first INSERT/UPDATE only,
    # so the SELECTs a write runs first (checks, locks) would see other snapshots. Transactions
    # are begun explicitly instead (_on_sqlite_begin), as SQLAlchemy's documentation advises.
    dbapi_connection.isolation_level = None
    dbapi_connection.create_function(
        "grace_json_contains", 2, sqlite_json_contains, deterministic=True
    )
    dbapi_connection.create_function("grace_lower", 1, sqlite_lower, deterministic=True)
    dbapi_connection.create_function("grace_bucket", 3, sqlite_bucket, deterministic=True)
    dbapi_connection.create_function("grace_finite", 1, sqlite_finite, deterministic=True)
    dbapi_connection.create_function("grace_json_float", 1, sqlite_json_float, deterministic=True)
    # A group built inside a rows' statement finishes its measures as the reference path
    # does in Python (graph/sql/exact_measures.py).
    dbapi_connection.create_function("grace_int_average", 3, average_of_halves, deterministic=True)
    # typeshed's aggregate protocol knows one-argument aggregates of ints only.
    dbapi_connection.create_aggregate("grace_percentile", 2, Percentile)  # type: ignore[arg-type]
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while one writer writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(_SQLITE_BUSY_S * 1000)}")
    # LIKE is case-sensitive on PostgreSQL; the API promises the same on SQLite (ilike is the
    # case-insensitive one, and SQLAlchemy spells it lower() LIKE lower() there).
    cursor.execute("PRAGMA case_sensitive_like=ON")
    cursor.close()


def _on_sqlite_begin(conn: Connection, turns: WriteTurns) -> None:
    """A read transaction holds one snapshot for all its statements (WAL); a write takes the
    write lock up front, so its checks and its writes see the same database. Writes of this
    process first wait their turn, in arrival order (graph/sql/sqlite_writes.py)."""
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return
    if options.get(WRITE):
        turns.take_for(conn)
        try:
            _begin_sqlite(conn, "BEGIN IMMEDIATE")
        except BaseException:
            turns.end(conn.info)
            raise
    else:
        _begin_sqlite(conn, "BEGIN")


def _begin_sqlite(conn: Connection, statement: str) -> None:
    # On the driver connection: not a statement of the request (StatementCounter ignores it,
    # as it never sees PostgreSQL's BEGIN either). So SQLAlchemy's error handling does not
    # see it fail either: a write lock not granted within busy_timeout is TIMEOUT here.
    try:
        conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
    except sqlite3.OperationalError as exc:
        if is_locked(exc):
            raise locked_error() from None
        raise


def snapshot_reader(engine: Engine) -> Engine:
    """The engine for reads: every statement of one transaction sees one snapshot. A
    read-only REPEATABLE READ transaction on PostgreSQL; a deferred transaction on SQLite,
    whose WAL snapshot lasts from the first read until the end."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return engine


def write_engine(engine: Engine) -> Engine:
    """The engine for writes: READ COMMITTED with explicit row locks on PostgreSQL
    (graph/sql/write.py); the write lock taken at BEGIN on SQLite."""
    return engine.execution_options(**{WRITE: True})


def build_engine(
    url: str,
    *,
    pool_size: int = 10,
    statement_timeout_s: float | None = None,
    pool_timeout_s: float = 30.0,
) -> Engine:
    """A synchronous engine; the server runs each request's statements in a worker thread.
    The server's engine bounds every statement (`statement_timeout_s`, graph/sql/timeouts.py)
    and the wait for a pooled connection (`pool_timeout_s`)."""
    target = normalize_url(url)
    engine = _create(target, pool_size, statement_timeout_s, pool_timeout_s)
    if statement_timeout_s is not None:
        if target.get_backend_name() == "sqlite":
            limit_sqlite_statements(engine, statement_timeout_s)
        event.listen(
            engine, "handle_error", lambda context: raise_timeout(context, statement_timeout_s)
        )
    return engine


def _create(
    target: URL, pool_size: int, statement_timeout_s: float | None, pool_timeout_s: float
) -> Engine:
    if target.get_backend_name() == "sqlite":
        # One shared connection keeps an in-memory database alive between statements. A
        # file's connections are kept as PostgreSQL's are (below): SQLAlchemy's default
        # pool (5 kept, 10 more closed on return) opened a connection per request beyond 5
        # concurrent ones, each reading the schema and preparing its statements anew. The
        # connection used last is taken first: reads take turns on a few threads
        # (GraphContext.read_threads), and a connection's page cache is its own, so the few
        # in use stay warm (bench Q1 at 16 clients: 460 -> 512 req/s).
        pooling: dict[str, Any] = (
            {"poolclass": StaticPool}
            if _is_memory(target)
            else {
                "pool_size": 2 * pool_size,
                "max_overflow": 0,
                "pool_timeout": pool_timeout_s,
                "pool_use_lifo": True,
            }
        )
        engine = create_engine(
            target,
            **pooling,
            connect_args={"check_same_thread": False},
            json_deserializer=load_json,
            # Client values never reach logs or exception texts.
            hide_parameters=True,
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        # A writer waits for its turn as long as SQLite's busy_timeout lets it wait for
        # another process's lock: the statement limit when there is one (timeouts.py).
        turns = queue_sqlite_writers(
            engine, wait_s=_SQLITE_BUSY_S if statement_timeout_s is None else statement_timeout_s
        )
        event.listen(engine, "begin", lambda conn: _on_sqlite_begin(conn, turns))
        event.listen(engine, "handle_error", _out_of_range)
        return engine
    engine = create_engine(
        target,
        # Up to twice `pool_size` connections, each kept once opened: an overflow connection
        # is closed on return, so a burst beyond the pool opened and closed one per request
        # (measured, 16 clients of a plain list: p99 158 ms with 10 + 10 overflow, 40 ms
        # with 20 kept).
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout_s,
        # No pre-ping (a round trip per checkout): _closed_by_server below looks at the socket.
        pool_pre_ping=False,
        json_deserializer=load_json,
        hide_parameters=True,
        connect_args=postgresql_connect_args(statement_timeout_s, pool_timeout_s),
    )
    event.listen(engine, "handle_error", _out_of_range)
    event.listen(engine, "checkout", _closed_by_server)
    return engine


def _closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """At checkout: a pooled connection whose server went away (a restart, an administrator's
    pg_terminate_backend, an idle timeout) has its end of the socket closed, or a goodbye
    message waiting: an idle PostgreSQL connection has nothing to read otherwise. Raising
    DisconnectionError makes the pool drop it and check out another (SQLAlchemy's
    "pessimistic" disconnect handling, without pre-ping's round trip). A connection that
    dies later, or one whose server vanished without closing the socket, fails its statement
    as before: SERVICE_UNAVAILABLE, and reads are retried once (graph/gql/context.py)."""
    try:
        # poll, not select: a busy process's descriptors may be numbered beyond select's 1024.
        poller = select.poll()
        poller.register(dbapi_connection.pgconn.socket, select.POLLIN)
        events = poller.poll(0)
    except (OSError, ValueError, psycopg.OperationalError) as exc:
        raise DisconnectionError("the connection is closed") from exc
    if events:  # data, end of file, an error or a closed descriptor
        raise DisconnectionError("the server closed the connection")


def postgresql_connect_args(
    statement_timeout_s: float | None, pool_timeout_s: float
) -> dict[str, Any]:
    """What every PostgreSQL connection of the server is opened with (the engine's, and the
    event loop's of graph/sql/async_reader.py): answers must not depend on which one ran."""
    # Timestamps come back in UTC whatever the server's own time zone is.
    # Floats leave the server in their shortest exact digits whatever a DBA set (the compiled
    # path's JSON, graph/sql/response.py, writes them as the server prints them).
    options = "-c timezone=UTC -c extra_float_digits=1" + postgresql_options(statement_timeout_s)
    return {"options": options, "connect_timeout": _connect_timeout(pool_timeout_s)}


def _connect_timeout(pool_timeout_s: float) -> int:
    """Seconds to wait for a new PostgreSQL connection: a database that accepts TCP but never
    answers is given up on after the pool wait (the server's 3 s), at most 5 s (commands);
    libpq counts whole seconds, at least 2."""
    return min(5, max(2, math.ceil(pool_timeout_s)))


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


class StatementCounter:
    """Counts statements an engine runs (the model: SQLAlchemy's testing/assertsql.py)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    @contextmanager
    def watching(self, engine: Engine) -> Iterator[StatementCounter]:
        self.statements.clear()
        event.listen(engine, "before_cursor_execute", self._record)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", self._record)
