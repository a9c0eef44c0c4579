"""Statements built once and run again: the compiled path's cache (graph/gql/compiled.py).

Building a response statement with SQLAlchemy, then compiling it to the driver's SQL, costs more
CPU than the database spends answering it. A repeated query (the same Read and Shape: the same
rows, columns, filters and values) reuses the driver's text and parameters exactly as the first
run sent them to the cursor, recorded from SQLAlchemy's `before_cursor_execute` event, and runs
them with `exec_driver_sql`: no statement tree, no SQL compilation, no parameter processing.
The text is the same each time, so psycopg prepares it on the server after a few runs on a
connection (its `prepare_threshold`). On PostgreSQL, what is recorded, and run the first time
too, has its constants written into the text (graph/sql/inlined.py): only the Slots' values
are parameters, so that PostgreSQL may plan it once for all of them.

What is not kept: a statement that read the request's moment (`withinLast`, computed fields
such as hours since a moment, through the compiler's FilterContext.now), since its parameters
hold that moment; and a key that cannot be hashed (a list or JSON object in a filter value).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, event

from graph.sql.inlined import with_constants_inlined

# Distinct statements kept per server process; the least recently used goes first.
DEFAULT_SIZE = 512
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class DriverStatement:
    """What the driver was given: SQL in its own parameter style, and the parameters."""

    sql: str
    parameters: Any

    def run(self, conn: Connection) -> Any:
        return conn.exec_driver_sql(self.sql, self.parameters)

    def for_the_same_values(self, dialect: str) -> DriverStatement:
        """The statement kept to answer the same Read, its values included: on PostgreSQL,
        with its Slots' values written into its text too (graph/sql/inlined.py)."""
        if dialect != "postgresql":
            return self
        return DriverStatement(*with_constants_inlined(self.sql, self.parameters, slots=True))


class Key:
    """Parts of a cache key with their hash, computed once (a Read's is a deep walk)."""

    __slots__ = ("hash", "parts")

    def __init__(self, parts: tuple[Any, ...], hashed: int) -> None:
        self.parts = parts
        self.hash = hashed

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and self.hash == other.hash and self.parts == other.parts


class Lru(Generic[K, V]):
    """A thread-safe map of at most `size` entries; the least recently used goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def peek(self, key: K) -> V | None:
        """The entry of `key`, not counted as a use (neither a hit nor more recent)."""
        with self._lock:
            return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    def values(self) -> list[V]:
        """The entries kept, least recently used first (not counted as uses)."""
        with self._lock:
            return list(self._entries.values())


class StatementCache(Lru[Key, DriverStatement]):
    """Driver statements by the Read and Shape they answer, filled by recording first runs."""

    def __init__(self, engine: Engine, size: int = DEFAULT_SIZE) -> None:
        super().__init__(size)
        # One listener per engine, whatever the number of caches (apps) on it.
        if not event.contains(engine, "before_cursor_execute", _record):
            event.listen(engine, "before_cursor_execute", _record, retval=True)

    def key(self, *parts: Any) -> Key | None:
        """The cache key of `parts`, or None when they cannot key it (the cache is off, or a
        filter value is a list or a JSON object)."""
        if self.size == 0:
            return None
        try:
            return Key(parts, hash(parts))
        except TypeError:
            return None


# What the current thread is recording (StatementCache.recording), if anything.
_RECORDING = threading.local()


@contextmanager
def recording() -> Iterator[list[DriverStatement]]:
    """The statements this thread sends to the driver inside the block, of any engine whose
    cache is on (its listener is `_record`)."""
    sent: list[DriverStatement] = []
    _RECORDING.sent = sent
    try:
        yield sent
    finally:
        _RECORDING.sent = None


def _record(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> tuple[str, Any]:
    """Records what a recording thread sends; on PostgreSQL, its constants are written into
    the text first (graph/sql/inlined.py), so that the first run sends what later runs of
    the recorded statement will."""
    sent: list[DriverStatement] | None = getattr(_RECORDING, "sent", None)
    if sent is None or executemany:
        return statement, parameters
    if conn.dialect.name == "postgresql":
        statement, parameters = with_constants_inlined(statement, parameters)
    # Copied: the driver may be handed the same mapping again and change it.
    kept = dict(parameters) if isinstance(parameters, dict) else tuple(parameters or ())
    sent.append(DriverStatement(statement, kept))
    return statement, parameters
