"""Where a database differs from the spec: missing tables, missing or retyped columns.

`grace-graph init` creates missing tables but never changes an existing one (docs/operations.md,
Creating the tables), so a database can fall behind the YAML. find_drift names every
difference in one inspector pass, for /readyz, start-up and `grace-graph check --database`;
schema_mismatch turns the database's own "no such table/column" error into SCHEMA_MISMATCH for
a request that ran into one anyway. Tables and columns the spec does not name are not drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Dialect,
    Engine,
    Integer,
    Numeric,
    String,
    Time,
    TypeDecorator,
    Uuid,
    inspect,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

from graph.errors import SchemaMismatchError
from graph.sql.tables import Catalog

INIT_HINT = "run `grace-graph init` to create missing tables"
MIGRATION_HINT = "a missing column of an existing table needs a migration (docs/operations.md)"
RETYPE_HINT = "a retyped column needs a migration (docs/operations.md)"

# Type families, tested in order with isinstance: a dialect's own types subclass the generic
# ones (BIGINT and DOUBLE PRECISION, TIMESTAMP, JSONB, Text, VARCHAR and Enum). A type in
# none of them (SQLite accepts any type name and reflects unknown ones as NullType) has no
# family and is never reported as retyped.
_FAMILIES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (Boolean, "boolean"),
    (Integer, "integer"),
    (Numeric, "number"),
    (DateTime, "datetime"),
    (Date, "date"),
    (Time, "time"),
    (JSON, "json"),
    (ARRAY, "array"),
    (Uuid, "uuid"),
    (String, "text"),
)


@dataclass(frozen=True)
class RetypedColumn:
    """A column whose stored type belongs to another family than the spec's (text vs integer);
    lengths, precisions and collations are not compared."""

    table: str
    column: str
    expected: str
    found: str


@dataclass(frozen=True)
class Drift:
    """The differences between a database and the spec's catalog (SQL names throughout)."""

    spec_tables: int
    missing_tables: tuple[str, ...] = ()
    # Missing columns of tables that exist (a missing table's columns are not listed again).
    missing_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    retyped_columns: tuple[RetypedColumn, ...] = ()

    @property
    def matches(self) -> bool:
        """True when the database has every table and column the spec names."""
        return not (self.missing_tables or self.missing_columns or self.retyped_columns)

    def describe(self) -> list[str]:
        """One line per difference, tables first, in name order."""
        lines = [f"table {name} does not exist" for name in self.missing_tables]
        for table, columns in self.missing_columns.items():
            lines.extend(f"column {table}.{column} does not exist" for column in columns)
        lines.extend(
            f"column {r.table}.{r.column} holds {r.found}; the spec declares {r.expected}"
            for r in self.retyped_columns
        )
        return lines

    @property
    def fix_hint(self) -> str | None:
        """What fixes the drift: `grace-graph init` for tables, a migration for columns."""
        hints = []
        if self.missing_tables:
            hints.append(INIT_HINT)
        if self.missing_columns:
            hints.append(MIGRATION_HINT)
        if self.retyped_columns:
            hints.append(RETYPE_HINT)
        return "; ".join(hints) or None


def find_drift(engine: Engine | Connection, catalog: Catalog) -> Drift:
    """Compare the database (an engine, or a connection to use) with the catalog: one table
    listing and one column reflection, a few milliseconds for the shipped tables.

    Raises what the driver raises when the database cannot be reached. Nothing is cached, so
    a fix (`grace-graph init`, a migration) shows at the next call.
    """
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            return find_drift(conn, catalog)
    inspector = inspect(engine)
    expected = {table.name: table for table in catalog.tables.values()}
    existing = set(inspector.get_table_names())
    present = sorted(name for name in expected if name in existing)
    # One query for every table's columns on PostgreSQL (get_columns would be one per table).
    reflected = inspector.get_multi_columns(filter_names=present) if present else {}
    stored = {
        table: {c["name"]: c["type"] for c in columns} for (_, table), columns in reflected.items()
    }
    dialect = engine.dialect
    missing_columns: dict[str, tuple[str, ...]] = {}
    retyped: list[RetypedColumn] = []
    for name in present:
        found = stored.get(name, {})
        absent: list[str] = []
        for column in expected[name].columns:
            if column.name not in found:
                absent.append(column.name)
                continue
            want = type_family(_storage_type(column.type, dialect))
            have = type_family(found[column.name])
            if want is not None and have is not None and want != have:
                retyped.append(RetypedColumn(name, column.name, want, have))
        if absent:
            missing_columns[name] = tuple(absent)
    return Drift(
        spec_tables=len(expected),
        missing_tables=tuple(sorted(name for name in expected if name not in existing)),
        missing_columns=missing_columns,
        retyped_columns=tuple(retyped),
    )


def type_family(sql_type: TypeEngine[Any]) -> str | None:
    """The coarse kind of a column type (integer, text, datetime, ...), or None if unknown."""
    for generic, family in _FAMILIES:
        if isinstance(sql_type, generic):
            return family
    return None


def _storage_type(sql_type: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """The type the column is created with on this dialect: variants picked, decorators
    (UtcDateTime, ScalarList) unwrapped to what they store."""
    resolved = sql_type.dialect_impl(dialect)
    while isinstance(resolved, TypeDecorator):
        resolved = resolved.load_dialect_impl(dialect)
    return resolved


# What each database says when a statement names a table or column it lacks. Only the names
# are kept: the rest of the text can quote the statement. Each pattern matches a whole message
# (a column "of relation" must not read as a missing relation) and names a table or a column.
_SQLITE_MISSING = (
    re.compile(r"no such table: (?:\w+\.)?(?P<table>\w+)$"),
    re.compile(r"table (?P<table>\w+) has no column named (?P<column>\w+)$"),
    re.compile(r"no such column: (?:(?P<table>\w+)\.)?(?P<column>\w+)$"),
)
_PG_MISSING = (
    re.compile(r'column "(?P<column>\w+)" of relation "(?P<table>\w+)" does not exist$'),
    re.compile(r'relation "(?:\w+\.)?(?P<table>\w+)" does not exist$'),
    re.compile(r'column "?(?:(?P<table>\w+)\.)?(?P<column>\w+)"? does not exist$'),
)
PG_UNDEFINED_TABLE = "42P01"
PG_UNDEFINED_COLUMN = "42703"


def schema_mismatch(exc: DBAPIError, catalog: Catalog | None = None) -> SchemaMismatchError | None:
    """SCHEMA_MISMATCH for an error that says a table or column is missing, else None.

    SQLite raises OperationalError ("no such table: x", "no such column: x", "table x has no
    column named y"); PostgreSQL SQLSTATE 42P01 (undefined_table) or 42703 (undefined_column).
    An error in other words (42P01 is also "missing FROM-clause entry", a bug of ours) stays
    what it was. With the catalog, a column qualified by an alias (memory_codebases_1.status)
    is named with its table.
    """
    original = exc.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is None:
        patterns, message = _SQLITE_MISSING, _first_line(original)
    elif sqlstate in (PG_UNDEFINED_TABLE, PG_UNDEFINED_COLUMN):
        # The primary message only: str(original) goes on with the statement ("LINE 1: ...").
        diag = getattr(original, "diag", None)
        patterns = _PG_MISSING
        message = getattr(diag, "message_primary", None) or _first_line(original)
    else:
        return None
    for pattern in patterns:
        match = pattern.match(message)
        if match is None:
            continue
        names = match.groupdict()
        table, column = names.get("table"), names.get("column")
        if column is None:
            assert table is not None  # the table patterns always name one
            return missing_table_error(table)
        return missing_column_error(_table_of(table, catalog), column)
    return None


def missing_table_error(table: str) -> SchemaMismatchError:
    message = f"the database does not match the spec: table {table} does not exist; {INIT_HINT}"
    return SchemaMismatchError(message, table=table)


def missing_column_error(table: str | None, column: str) -> SchemaMismatchError:
    where = f"{table}.{column}" if table else column
    message = (
        f"the database does not match the spec: column {where} does not exist; "
        f"{MIGRATION_HINT} (`grace-graph init` creates missing tables only)"
    )
    return SchemaMismatchError(message, table=table, column=column)


@contextmanager
def schema_mismatch_errors(catalog: Catalog | None = None) -> Iterator[None]:
    """Raise SCHEMA_MISMATCH for a missing table or column; let every other error through."""
    try:
        yield
    except DBAPIError as exc:
        mismatch = schema_mismatch(exc, catalog)
        if mismatch is None:
            raise
        raise mismatch from exc


def _table_of(qualifier: str | None, catalog: Catalog | None) -> str | None:
    """The SQL table behind a column's qualifier: the table itself or an alias of it
    (SQLAlchemy names aliases table_1, table_2); None for other aliases (anon_1) or when
    there is no catalog to tell."""
    if qualifier is None or catalog is None:
        return None
    names = {table.name for table in catalog.tables.values()}
    if qualifier in names:
        return qualifier
    base = re.sub(r"_\d+$", "", qualifier)
    return base if base in names else None


def _first_line(error: BaseException | None) -> str:
    return (str(error).strip().splitlines() or [""])[0]
