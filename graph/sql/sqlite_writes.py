"""Hands SQLite's write lock to one process's writers in the order they asked for it.

SQLite has one write lock per database file. A writer that finds it taken sleeps in SQLite's
busy handler and tries again, backing off from 1 ms to 100 ms between tries; a writer that
just arrived tries sooner than one that has waited long, so under a burst the oldest writer
can lose every race until `busy_timeout` runs out (seen in CI: 16 threads writing one
playbook's logs, 3 of them refused after 5 s while the other writes went through). Within
one process the writers therefore queue here first, in arrival order, and ask SQLite for
the lock only when it is their turn; between processes SQLite's busy handler still decides.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from sqlalchemy import Connection, Engine, event

from graph.sql.timeouts import locked_error

# Key in a DBAPI connection's `info`: this connection's write transaction holds the turn.
_HOLDS_TURN = "grace_holds_write_turn"


class WriteTurns:
    """A first-come, first-served lock with a bounded wait. Not `threading.Lock`: a lock
    promises no order among its waiters."""

    def __init__(self, wait_s: float) -> None:
        self._wait_s = wait_s
        self._changed = threading.Condition()
        self._waiting: deque[object] = deque()
        self._held = False

    def take(self) -> None:
        """Wait for every earlier writer of this process to finish, then hold the turn.
        A wait past `wait_s` is the same TIMEOUT as SQLite's own "database is locked"."""
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
            granted = self._changed.wait_for(
                lambda: not self._held and self._waiting[0] is ticket, timeout=self._wait_s
            )
            if not granted:
                self._waiting.remove(ticket)
                # The writer behind this one may be first now.
                self._changed.notify_all()
                raise locked_error()
            self._waiting.popleft()
            self._held = True

    def give_back(self) -> None:
        with self._changed:
            self._held = False
            self._changed.notify_all()

    def take_for(self, conn: Connection) -> None:
        """Called by the BEGIN of a write transaction, before SQLite's own lock is asked for."""
        self.take()
        conn.info[_HOLDS_TURN] = True

    def end(self, info: dict[Any, Any]) -> None:
        """The transaction of the connection whose `info` this is has ended (or never began)."""
        if info.pop(_HOLDS_TURN, False):
            self.give_back()


def queue_sqlite_writers(engine: Engine, wait_s: float) -> WriteTurns:
    """The turns of `engine`'s write transactions (BEGIN IMMEDIATE, graph/sql/engine.py),
    which calls `take_for` at BEGIN. The turn is held until the transaction ends, however it
    ends: commit, rollback (also the one SQLAlchemy runs when a connection closes
    mid-transaction), or a connection the pool resets or throws away."""
    turns = WriteTurns(wait_s)
    event.listen(engine, "commit", lambda conn: turns.end(conn.info))
    event.listen(engine, "rollback", lambda conn: turns.end(conn.info))
    event.listen(engine, "reset", lambda _dbapi, record, _state: turns.end(record.info))
    event.listen(engine, "invalidate", lambda _dbapi, record, _exc: turns.end(record.info))
    event.listen(engine, "close", lambda _dbapi, record: turns.end(record.info))
    return turns
