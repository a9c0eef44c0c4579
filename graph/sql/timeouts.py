"""A time limit on every statement the server runs, on both databases -> `TIMEOUT`.

PostgreSQL enforces it itself: `statement_timeout` and `lock_timeout` are set for each
connection of the server's engine (SQLSTATE 57014 query_canceled, 55P03 lock_not_available).
SQLite has no such setting: a progress handler, called every few thousand virtual-machine
steps, interrupts the statement once its deadline has passed ("interrupted"); waiting for
another writer's lock is bounded by `busy_timeout` ("database is locked"). Command-line work
(`init`, `seed`, `load`) runs without a limit: only the server's engine gets one.
"""

from __future__ import annotations

import math
import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

from graph.errors import GraphError

# How often SQLite calls the progress handler, in virtual-machine instructions: a few
# microseconds apart, so the deadline is overshot by little and the check costs little.
_STEPS = 5_000
_DEADLINE = "grace_deadline"
# PostgreSQL's codes for a statement cancelled by statement_timeout and a lock not granted
# within lock_timeout.
_PG_TIMEOUTS = {"57014", "55P03"}


class StatementTimeoutError(GraphError):
    """A statement ran past the time limit, or waited past it for a lock."""

    code = "TIMEOUT"


def postgresql_options(seconds: float | None) -> str:
    """The `-c` options that bound every statement and lock wait of a connection."""
    if seconds is None:
        return ""
    milliseconds = max(1, round(seconds * 1000))
    return f" -c statement_timeout={milliseconds} -c lock_timeout={milliseconds}"


def limit_sqlite_statements(engine: Engine, seconds: float) -> None:
    """Interrupt any statement of `engine` that runs longer than `seconds`."""

    def on_connect(dbapi_connection: sqlite3.Connection, record: Any) -> None:
        # Waiting for another writer's lock gets the same bound.
        dbapi_connection.execute(f"PRAGMA busy_timeout = {max(1, round(seconds * 1000))}")
        deadline = [math.inf]
        record.info[_DEADLINE] = deadline
        dbapi_connection.set_progress_handler(
            lambda: 1 if time.monotonic() > deadline[0] else 0, _STEPS
        )

    def before(conn: Any, *_args: Any) -> None:
        deadline = conn.info.get(_DEADLINE)
        if deadline is not None:
            deadline[0] = time.monotonic() + seconds

    def after(conn: Any, *_args: Any) -> None:
        deadline = conn.info.get(_DEADLINE)
        if deadline is not None:
            deadline[0] = math.inf

    def failed(context: ExceptionContext) -> None:
        if context.connection is not None:
            after(context.connection)

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)


def raise_timeout(context: ExceptionContext, seconds: float | None) -> None:
    """handle_error: a statement stopped by the time limit is TIMEOUT."""
    original = context.original_exception
    raise_if_timeout(original, seconds)
    if is_locked(original):
        raise locked_error() from None


def is_timeout(error: BaseException) -> bool:
    """A driver's error for a statement stopped by the time limit (or a lock not granted
    within it), on either database."""
    return getattr(error, "sqlstate", None) in _PG_TIMEOUTS or (
        isinstance(error, sqlite3.OperationalError) and str(error) == "interrupted"
    )


def raise_if_timeout(error: BaseException, seconds: float | None) -> None:
    """TIMEOUT when `error` is a statement stopped by a limit of `seconds`: ours already (the
    engine's handle_error raised it, above), or a driver's (a statement run outside the
    engine, graph/sql/async_reader.py, or the engine's own before handle_error)."""
    if isinstance(error, StatementTimeoutError):
        raise error
    if is_timeout(error):
        raise timeout_error(seconds) from None


def timeout_error(seconds: float | None) -> StatementTimeoutError:
    """TIMEOUT for a statement stopped by a limit of `seconds`."""
    limit = f" ({seconds:g} s, GRAPH_STATEMENT_TIMEOUT_S)" if seconds is not None else ""
    return StatementTimeoutError(
        f"the database did not answer within the time limit{limit}; narrow the query"
    )


def is_locked(error: BaseException) -> bool:
    """SQLite's answer when another connection kept the write lock past busy_timeout."""
    return isinstance(error, sqlite3.OperationalError) and str(error).startswith(
        "database is locked"
    )


def locked_error() -> StatementTimeoutError:
    return StatementTimeoutError(
        "the database stayed locked by another write past the time limit; retry"
    )
