"""Reads every table with a plain `SELECT *` and decodes the stored forms into Python values.

The decoding follows docs/schema-format.md ("Types"), not the engine's column types: SQLite
keeps datetimes as fixed-width UTC text `YYYY-MM-DD HH:MM:SS.ffffff`, dates as `YYYY-MM-DD`,
JSON and lists as JSON text and booleans as 0/1; PostgreSQL hands out native values. A stored
form the documentation does not allow is an error here, not something to guess around.

Decoded forms, the same whatever the backend: str for string, text, enum (the value as declared,
lower case) and uuid (as stored: the adversarial rows only use lower-case canonical UUIDs, the
form PostgreSQL gives back); int for int and bigint; float; bool; datetime.date; an aware UTC
datetime.datetime; the JSON value (dict, list...) for json; a Python list for list; None for null.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from graph.spec.model import FieldSpec, FieldType, Spec, TableSpec

Row = dict[str, Any]
# Schema name (e.g. `execution_logs`) -> its rows in `id` order.
Tables = dict[str, list[Row]]

SQLITE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
SQLITE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class StorageFormatError(AssertionError):
    """A stored value is not in the form docs/schema-format.md gives for its type."""


def read_tables(url: str, spec: Spec) -> Tables:
    """Every row of every table of the spec, decoded, in `id` order.

    The model opens its own plain SQLAlchemy engine on the database URL: none of the engine's
    connection settings or value loaders take part in what the model reads.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed)
    backend = engine.dialect.name
    tables: Tables = {}
    try:
        with engine.connect() as conn:
            for name, table in spec.tables.items():
                # A plain SELECT * and the model's own decoding: no engine column types.
                result = conn.execute(text(f"SELECT * FROM {table.table}"))
                rows = [decode_row(table, dict(raw), backend) for raw in result.mappings()]
                rows.sort(key=lambda row: row["id"])
                tables[name] = rows
    finally:
        engine.dispose()
    return tables


def decode_row(table: TableSpec, raw: dict[str, Any], backend: str) -> Row:
    return {f.name: decode(f, raw[f.name], backend) for f in table.fields}


def decode(field: FieldSpec, raw: Any, backend: str) -> Any:
    if raw is None:
        return None
    kind = field.type
    if kind in (FieldType.STRING, FieldType.TEXT, FieldType.ENUM):
        return _expect(str, raw, field)
    if kind is FieldType.UUID:
        # PostgreSQL's UUID type comes back as uuid.UUID; its text form is lower-case canonical.
        return str(raw) if isinstance(raw, uuid.UUID) else _expect(str, raw, field)
    if kind in (FieldType.INT, FieldType.BIGINT):
        return _expect(int, raw, field)
    if kind is FieldType.FLOAT:
        return float(_expect((int, float), raw, field))
    if kind is FieldType.BOOL:
        return _decode_bool(raw, field)
    if kind is FieldType.DATE:
        return _decode_date(raw, field)
    if kind is FieldType.DATETIME:
        return _decode_datetime(raw, field)
    if kind is FieldType.JSON:
        value = json.loads(raw) if isinstance(raw, str) else raw
        # A JSON `null` stored as text is no value at all: json fields hold objects or arrays.
        return value
    if kind is FieldType.LIST:
        items = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(items, list):
            raise StorageFormatError(f"{field.name}: a list column holds {raw!r}")
        assert field.of is not None
        return [_decode_element(field.of, item, field) for item in items]
    raise AssertionError(f"unknown field type {kind}")


def _expect(kind: type | tuple[type, ...], raw: Any, field: FieldSpec) -> Any:
    # bool is an int in Python; a bool where a number is stored is a storage error too.
    if not isinstance(raw, kind) or (isinstance(raw, bool) and kind is not bool):
        raise StorageFormatError(f"{field.name}: expected {kind}, the database gave {raw!r}")
    return raw


def _decode_bool(raw: Any, field: FieldSpec) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw in (0, 1):  # SQLite's 0/1
        return bool(raw)
    raise StorageFormatError(f"{field.name}: a bool column holds {raw!r}")


def _decode_date(raw: Any, field: FieldSpec) -> dt.date:
    if isinstance(raw, dt.datetime):
        raise StorageFormatError(f"{field.name}: a date column holds a datetime {raw!r}")
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str) and SQLITE_DATE.match(raw):
        return dt.date.fromisoformat(raw)
    raise StorageFormatError(f"{field.name}: a date column holds {raw!r}")


def _decode_datetime(raw: Any, field: FieldSpec) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        if raw.tzinfo is None:
            raise StorageFormatError(f"{field.name}: a naive datetime {raw!r}")
        return raw.astimezone(dt.UTC)
    if isinstance(raw, str) and SQLITE_DATETIME.match(raw):
        return dt.datetime.strptime(raw, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.UTC)
    raise StorageFormatError(f"{field.name}: a datetime column holds {raw!r}")


def _decode_element(of: FieldType, item: Any, field: FieldSpec) -> Any:
    if of is FieldType.STRING:
        return _expect(str, item, field)
    if of in (FieldType.INT, FieldType.BIGINT):
        return _expect(int, item, field)
    if of is FieldType.FLOAT:
        return float(_expect((int, float), item, field))
    if of is FieldType.BOOL:
        return _expect(bool, item, field)
    raise AssertionError(f"unknown list element type {of}")
