"""A tamper-evident hash chain over the rows of append-only tables (docs/audit.md).

A table whose spec sets `audit_chain: <field>` gets, in that field of every row, a stamp that
the server computes at insert time:

    stamp(row) = "sha256:" + hex(SHA-256(previous + "\\n" + canonical_encoding(row)))

where `previous` is the stamp of the row with the next lower id (the empty string for the first
row) and the encoding is the byte string `canonical_encoding` documents. Rows are chained in id
order, so a changed value, a changed id or order, or a row removed from the middle shows up as
the first row whose stored stamp differs from the one recomputed from its values and the stored
stamp before it (`verify_chain`). Deleting the newest rows does not: docs/audit.md says how to
anchor the head.

The chain is one line only if its writers take turns: `assign_stamps` runs inside the writer's
transaction, serializes chain writers (an advisory lock on PostgreSQL, the database write lock on
SQLite), reads the head, and hands back rows with their id, timestamps and stamp set, which the
same transaction then inserts.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import enum
import hashlib
import json
import math
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, select, text

from graph.errors import GraphError
from graph.instants import utc_text
from graph.spec.model import BIGINT_MAX, BIGINT_MIN, FieldSpec, FieldType, TableSpec
from graph.sql.engine import load_json
from graph.sql.tables import Catalog

STAMP_PREFIX = "sha256:"
# "sha256:" and 64 hex digits; graph/spec/tables.py refuses `audit_chain` fields that are shorter.
STAMP_LENGTH = len(STAMP_PREFIX) + 2 * hashlib.sha256().digest_size
# Rows per round trip when verifying: the walk holds one batch at a time, whatever the table size.
VERIFY_BATCH = 1_000


class AuditChainError(GraphError):
    """A chain cannot be extended safely (e.g. the transaction cannot see the latest head)."""

    code = "AUDIT_CHAIN"


# -- the encoding and the hash ----------------------------------------------------------------


def canonical_encoding(table: TableSpec, row: Mapping[str, Any]) -> bytes:
    """The bytes a row's stamp is computed over: one JSON object, the same for a row as
    written (validated Python values) and as read back from SQLite or PostgreSQL.

    The object is `{"created_at": ..., "fields": {...}, "id": ..., "table": ...}`: the table's
    SQL name, the row's id and created_at, and under "fields" every declared field except the
    stamp field itself (updated_at is left out: an append-only row has no updates). It is
    written with sorted keys at every level, no whitespace (`,` and `:` separators), non-ASCII
    characters as themselves (not `\\u` escapes) and encoded as UTF-8. Values, by field type:

    - null: `null` whatever the type;
    - string, text, enum: the stored text (an enum member as its value); uuid: lower-case
      hyphenated, as PostgreSQL's uuid type returns it;
    - int, bigint: the integer; bool: `true`/`false`; float: the shortest text that reads back
      as the same double (Python's `repr`), -0.0 as 0.0;
    - date: `YYYY-MM-DD`; datetime: UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (naive values are UTC,
      as everywhere in the engine);
    - list: each element by the list's element type;
    - json: the document as either database gives it back: object keys as text and sorted,
      numbers by value (see `_json_number`).
    """
    stamp = table.audit_chain
    fields = {
        field.name: _canonical(field, row[field.name])
        for field in table.declared_fields
        if field.name != stamp
    }
    document = {
        "table": table.table,
        "id": int(row["id"]),
        "created_at": _datetime(row["created_at"]),
        "fields": fields,
    }
    # allow_nan: a JSON integer beyond the range of doubles reads back as infinity from either
    # database (graph/sql/engine.py load_json); Python writes it as the token Infinity. Nothing
    # else can be non-finite (float fields are checked finite on write).
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True
    ).encode("utf-8")


def next_stamp(previous: str | None, encoding: bytes) -> str:
    """`"sha256:" + hex(SHA-256(previous + "\\n" + encoding))`, `previous` as UTF-8.

    `previous` is the stamp of the row before (None or "" for the first row of the chain). The
    newline cannot occur in a stamp, so the previous stamp and the encoding never run together.
    """
    digest = hashlib.sha256((previous or "").encode("utf-8") + b"\n" + encoding)
    return STAMP_PREFIX + digest.hexdigest()


def _canonical(field: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    kind = field.type
    if kind is FieldType.LIST:
        assert field.of is not None
        return [_scalar(field.of, item) for item in value]
    if kind is FieldType.JSON:
        # The document as the databases give it back: a JSON round trip turns tuples into lists
        # and keys into text, and load_json maps integers beyond 64 bits to doubles, as both
        # databases' readers do.
        return _json_value(load_json(json.dumps(value)))
    return _scalar(kind, value)


def _scalar(kind: FieldType, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        value = value.value
    if kind in (FieldType.STRING, FieldType.TEXT, FieldType.ENUM):
        if not isinstance(value, str):
            raise TypeError(f"expected text for a {kind.value} field, got {type(value).__name__}")
        return value
    if kind is FieldType.UUID:
        return str(uuid.UUID(str(value)))
    if kind in (FieldType.INT, FieldType.BIGINT):
        return int(value)
    if kind is FieldType.FLOAT:
        number = float(value)
        # PostgreSQL keeps -0.0 in a double, SQLite may hand back 0.0: one spelling for zero.
        return 0.0 if number == 0 else number
    if kind is FieldType.BOOL:
        return bool(value)
    if kind is FieldType.DATE:
        if isinstance(value, dt.datetime):
            raise TypeError("expected a date, got a datetime")
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if kind is FieldType.DATETIME:
        return _datetime(value)
    raise TypeError(f"no canonical form for type {kind.value}")


def _datetime(value: Any) -> str:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return utc_text(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return _json_number(value)
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _json_number(value: int | float) -> int | float:
    """A JSON number by value, as both databases return it.

    SQLite keeps the document's text, so 1e16 comes back as a double; PostgreSQL's jsonb keeps
    the decimal 10000000000000000 and prints it without exponent, so it comes back as an
    integer. One form for both: a double with a whole value that fits 64 bits is written as
    that whole number, taken from its shortest decimal text (which is what jsonb stored, and
    is not always the double's exact binary value); other doubles as their shortest text.
    Integers beyond 64 bits were already turned into doubles by load_json.
    """
    if isinstance(value, int):
        return value
    if math.isfinite(value) and value.is_integer():
        whole = int(decimal.Decimal(repr(value)))
        if BIGINT_MIN <= whole <= BIGINT_MAX:
            return whole
    return 0.0 if value == 0 else value


# -- writing: extending the chain -------------------------------------------------------------


def chain_lock_key(table: TableSpec) -> int:
    """The PostgreSQL advisory lock key of one table's chain: 64 bits of a hash of its name, so
    that each chained table has its own lock and no fixed number is shared by accident."""
    digest = hashlib.sha256(f"grace-audit-chain:{table.table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def assign_stamps(
    conn: Connection,
    catalog: Catalog,
    table: TableSpec,
    rows: list[dict[str, Any]],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Rows ready for `insert(table).values(...)`: each with an explicit id, created_at and
    updated_at (`now`, in UTC) and its stamp, chained in list order after the current head.

    Call it inside the write transaction, right before the INSERT, which must run in the same
    transaction: the lock taken here is what keeps two writers from chaining onto the same head,
    and it is held until that transaction ends. `rows` hold validated values keyed by field name;
    a declared field left out gets its default here, so that what is hashed is what is stored.
    """
    if not rows:
        return []
    stamp_field = _stamp_field(table)
    sql_table = catalog.table(table.name)
    moment = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)
    postgres = conn.dialect.name == "postgresql"
    _lock_chain(conn, sql_table, table, postgres)
    head = conn.execute(
        select(sql_table.c.id, sql_table.c[stamp_field]).order_by(sql_table.c.id.desc()).limit(1)
    ).first()
    head_id, previous = (int(head[0]), str(head[1])) if head is not None else (0, None)
    if postgres:
        ids = _sequence_ids(conn, sql_table, len(rows), head_id)
    else:
        # The write lock is held: nobody else can take these ids before our INSERT.
        ids = list(range(head_id + 1, head_id + 1 + len(rows)))
    result: list[dict[str, Any]] = []
    for row_id, row in zip(ids, rows, strict=True):
        record = dict(row)
        for field in table.declared_fields:
            if field.name != stamp_field and field.name not in record:
                # What the database would fill in (server or client default, else NULL).
                record[field.name] = copy.deepcopy(field.default)
        record.update(id=row_id, created_at=moment, updated_at=moment)
        stamp = next_stamp(previous, canonical_encoding(table, record))
        record[stamp_field] = stamp
        previous = stamp
        result.append(record)
    return result


def _stamp_field(table: TableSpec) -> str:
    if table.audit_chain is None:
        raise ValueError(f"table {table.name} has no audit_chain")
    return table.audit_chain


def _lock_chain(conn: Connection, sql_table: Table, table: TableSpec, postgres: bool) -> None:
    """Make this transaction the chain's only writer until it ends, before reading the head."""
    if postgres:
        # Chain writers queue here; the lock is released at commit or rollback, after which the
        # next writer's head read (a new statement under READ COMMITTED) sees the rows added.
        locked = conn.execute(
            text("SELECT pg_advisory_xact_lock(:key), current_setting('transaction_isolation')"),
            {"key": chain_lock_key(table)},
        ).one()
        if locked[1] != "read committed":
            # Under REPEATABLE READ or SERIALIZABLE the snapshot may predate the lock, and the
            # head read would miss rows a writer committed while we waited: a fork.
            raise AuditChainError(
                f"{sql_table.name}: chained inserts need READ COMMITTED, not {locked[1]}"
            )
        return
    # SQLite has one writer at a time. A write transaction begun with BEGIN IMMEDIATE (the
    # WRITE option of graph/sql/engine.py) holds that lock already; a deferred one (plain
    # BEGIN) would read the head before it has the lock. A write that changes nothing takes
    # the lock now, waiting for the current writer (busy_timeout), so the head read below is
    # the latest. It touches no row, so the append-only triggers do not fire.
    name = conn.dialect.identifier_preparer.format_table(sql_table)
    conn.exec_driver_sql(f"UPDATE {name} SET id = id WHERE 0")


def _sequence_ids(conn: Connection, sql_table: Table, count: int, head_id: int) -> list[int]:
    """Ids from the table's identity sequence, so that later inserts that let the database
    choose the id never collide with these; all above the head, so id order is chain order."""
    statement = text(
        "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
    )
    name = conn.dialect.identifier_preparer.format_table(sql_table)
    ids = sorted(int(v) for v in conn.execute(statement, {"table": name, "count": count}).scalars())
    if ids[0] <= head_id:
        # Rows were written with explicit ids past the sequence (e.g. by hand): move it on.
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :head)"),
            {"table": name, "head": head_id},
        )
        ids = sorted(
            int(v) for v in conn.execute(statement, {"table": name, "count": count}).scalars()
        )
    return ids


# -- reading: verifying the chain -------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking one table's chain."""

    table: str  # SQL table name
    rows: int  # rows checked (all of them: the walk goes on after a broken link)
    head: str | None  # stamp of the newest row, to anchor elsewhere; None for an empty table
    head_id: int | None
    broken_id: int | None = None  # id of the first row whose stamp does not follow
    broken: int = 0  # rows whose stamp does not follow
    message: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_id is None


def verify_chain(conn: Connection, catalog: Catalog, table: TableSpec) -> ChainReport:
    """Recompute every stamp, in id order, from the row's values and the stored stamp of the row
    before it; report the first row where they differ. Memory stays constant: rows are read in
    batches by id."""
    stamp_field = _stamp_field(table)
    sql_table = catalog.table(table.name)
    count = broken = 0
    previous: str | None = None
    previous_id: int | None = None
    first_broken: int | None = None
    message = ""
    for row in _rows_by_id(conn, sql_table):
        count += 1
        stored = row[stamp_field]
        expected = next_stamp(previous, canonical_encoding(table, row))
        if stored != expected:
            broken += 1
            if first_broken is None:
                first_broken = int(row["id"])
                message = _broken_message(table, row, stored, expected, previous_id)
        previous, previous_id = stored, int(row["id"])
    if first_broken is None:
        message = f"{table.table}: {count} rows, chain intact"
    return ChainReport(
        table=table.table,
        rows=count,
        head=previous,
        head_id=previous_id,
        broken_id=first_broken,
        broken=broken,
        message=message,
    )


def _rows_by_id(conn: Connection, sql_table: Table) -> Iterator[dict[str, Any]]:
    """Every row in id order, one batch per query (keyset on id: no server-side cursor, which
    SQLite lacks and which would pin a PostgreSQL connection)."""
    last: int | None = None
    while True:
        query = select(sql_table).order_by(sql_table.c.id).limit(VERIFY_BATCH)
        if last is not None:
            query = query.where(sql_table.c.id > last)
        batch = conn.execute(query).mappings().all()
        for row in batch:
            yield dict(row)
        if len(batch) < VERIFY_BATCH:
            return
        last = int(batch[-1]["id"])


def _broken_message(
    table: TableSpec,
    row: Mapping[str, Any],
    stored: Any,
    expected: str,
    previous_id: int | None,
) -> str:
    after = f"the stamp of row id {previous_id}" if previous_id is not None else "the chain start"
    return (
        f"{table.table}: row id {row['id']} ({table.key} {row[table.key]!r}): stored "
        f"{_stamp_field(table)} {stored} differs from {expected}, recomputed from the row and "
        f"{after}: the row was changed, or a row before it removed, or the stamp rewritten"
    )
