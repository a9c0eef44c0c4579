"""Builds the SQLAlchemy catalog (tables, constraints, indexes, triggers) from the spec."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    func,
    literal,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine

from graph.spec.model import FieldSpec, FieldType, Spec, TableSpec
from graph.sql.types import CalendarDate, ScalarList, UtcDateTime, json_type, uuid_type


class utc_now(FunctionElement[Any]):  # noqa: N801 - reads like the SQL function it renders
    """The current time in the storage form of UtcDateTime on each database."""

    type = UtcDateTime()
    inherit_cache = True


@compiles(utc_now)
def _utc_now_default(element: utc_now, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(utc_now, "sqlite")
def _utc_now_sqlite(element: utc_now, compiler: Any, **kw: Any) -> str:
    return "(strftime('%Y-%m-%d %H:%M:%f000', 'now'))"


# PostgreSQL cuts identifiers at 63 bytes; longer generated names are shortened with a hash.
MAX_IDENTIFIER = 63


def identifier(*parts: str) -> str:
    name = "_".join(parts)
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_IDENTIFIER - 9]}_{digest}"


def column_type(field: FieldSpec) -> TypeEngine[Any]:
    scalar: dict[FieldType, TypeEngine[Any]] = {
        FieldType.INT: Integer(),
        FieldType.BIGINT: BigInteger().with_variant(Integer(), "sqlite"),
        FieldType.FLOAT: Float(),
        FieldType.BOOL: Boolean(),
        FieldType.DATE: CalendarDate(),
        FieldType.DATETIME: UtcDateTime(),
        FieldType.JSON: json_type(),
        FieldType.UUID: uuid_type(),
    }
    if field.type is FieldType.STRING:
        return _code_point_text(String(field.max_length) if field.max_length else String())
    if field.type is FieldType.TEXT:
        return _code_point_text(Text())
    if field.type is FieldType.ENUM:
        return String(max(len(v) for v in field.values))
    if field.type is FieldType.LIST:
        return ScalarList(element_type(field))
    return scalar[field.type]


def _code_point_text(text_type: String) -> TypeEngine[Any]:
    """Text that PostgreSQL compares, sorts and indexes by code point ("C"), as SQLite does.

    The API's string order must not depend on the database's collation (docs/api.md); with the
    column itself in "C", b-tree indexes serve `ORDER BY col COLLATE "C"` as well.
    """
    collated = type(text_type)(text_type.length, collation="C")
    return text_type.with_variant(collated, "postgresql")


def element_type(field: FieldSpec) -> TypeEngine[Any]:
    """The SQL type of one element of a list field (arrays keep the default collation)."""
    assert field.of is not None
    if field.of is FieldType.STRING:
        return String()
    return column_type(FieldSpec("item", field.of, "", field.pos))


def _server_default(field: FieldSpec) -> Any:
    """Scalar defaults live in the database so that any writer gets them."""
    value = field.default
    if value is None or field.type in (FieldType.JSON, FieldType.LIST):
        return None
    if isinstance(value, bool):
        return text("true" if value else "false")
    if isinstance(value, int | float):
        return text(repr(value))
    if isinstance(value, str):
        return value
    if field.type is FieldType.DATE:
        return value.isoformat()
    return None


def _client_default(field: FieldSpec) -> Any:
    if field.default is None or field.type not in (
        FieldType.JSON,
        FieldType.LIST,
        FieldType.DATETIME,
    ):
        return None
    if field.type is FieldType.DATETIME:
        moment = field.default  # a YAML timestamp; naive ones are UTC, as everywhere
        return lambda: moment
    value = field.default
    return lambda: value.copy()


def build_column(field: FieldSpec, *, is_key: bool = False) -> Column[Any]:
    if field.name == "id":
        return Column(
            "id",
            BigInteger().with_variant(Integer(), "sqlite"),
            Identity(),
            primary_key=True,
            comment=field.description,
        )
    if field.name in ("created_at", "updated_at"):
        return Column(
            field.name,
            UtcDateTime(),
            nullable=False,
            server_default=utc_now(),
            comment=field.description,
        )
    return Column(
        field.name,
        column_type(field),
        nullable=not (field.required or is_key),
        unique=field.unique or is_key or None,
        server_default=_server_default(field),
        default=_client_default(field),
        comment=field.description,
    )


def _checks(table: TableSpec, column: Column[Any], field: FieldSpec) -> list[CheckConstraint]:
    checks: list[CheckConstraint] = []
    if field.type is FieldType.ENUM:
        values: list[ColumnElement[Any]] = [literal(v) for v in field.values]
        checks.append(
            CheckConstraint(column.in_(values), name=identifier("ck", table.table, field.name))
        )
    if field.min is not None:
        low = int(field.min) if field.type is not FieldType.FLOAT else field.min
        checks.append(
            CheckConstraint(column >= low, name=identifier("ck", table.table, field.name, "min"))
        )
    if field.max is not None:
        high = int(field.max) if field.type is not FieldType.FLOAT else field.max
        checks.append(
            CheckConstraint(column <= high, name=identifier("ck", table.table, field.name, "max"))
        )
    if field.max_length is not None:
        # PostgreSQL's varchar(n) enforces the length itself; SQLite ignores lengths.
        check = CheckConstraint(
            func.length(column) <= field.max_length,
            name=identifier("ck", table.table, field.name, "len"),
        )
        checks.append(check.ddl_if(dialect="sqlite"))
    return checks


def _add_indexes(table: TableSpec, sql_table: Table) -> None:
    """Indexes attach themselves to the table through its columns when constructed."""
    for field in table.fields:
        if not field.index or field.unique or field.name == table.key:
            continue  # unique columns are indexed by their constraint already
        column = sql_table.c[field.name]
        name = identifier("ix", table.table, field.name)
        if field.type in (FieldType.LIST, FieldType.JSON):
            # Containment (@>, &&, ?) is what clients ask of these; only GIN answers it.
            Index(name, column, postgresql_using="gin").ddl_if(dialect="postgresql")
        else:
            Index(name, column)
    for spec in table.indexes:
        Index(identifier("ix", table.table, *spec.fields), *(sql_table.c[f] for f in spec.fields))


def _ddl(statement: str) -> DDL:
    return DDL(statement)  # type: ignore[no-untyped-call]  # SQLAlchemy's DDL() lacks hints


def _touch_trigger(sql_table: Table) -> None:
    """Keep updated_at current on every UPDATE, whoever writes the row."""
    name = sql_table.name
    event.listen(
        sql_table,
        "after_create",
        _ddl(
            f"CREATE TRIGGER {identifier('trg', name, 'touch')} BEFORE UPDATE ON {name} "
            "FOR EACH ROW EXECUTE FUNCTION grace_touch_updated_at()"
        ).execute_if(dialect="postgresql"),
    )
    event.listen(
        sql_table,
        "after_create",
        _ddl(
            f"CREATE TRIGGER {identifier('trg', name, 'touch')} AFTER UPDATE ON {name} "
            "FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at BEGIN "
            # DDL text goes through %-formatting: %% is one percent sign.
            f"UPDATE {name} SET updated_at = (strftime('%%Y-%%m-%%d %%H:%%M:%%f000', 'now')) "
            "WHERE id = NEW.id; END"
        ).execute_if(dialect="sqlite"),
    )


def _append_only_trigger(sql_table: Table) -> None:
    """Rows of an append-only table can be inserted, never changed or deleted."""
    name = sql_table.name
    for op in ("UPDATE", "DELETE"):
        trigger = identifier("trg", name, "no", op.lower())
        event.listen(
            sql_table,
            "after_create",
            _ddl(
                f"CREATE TRIGGER {trigger} BEFORE {op} ON {name} "
                "FOR EACH ROW EXECUTE FUNCTION grace_refuse_change()"
            ).execute_if(dialect="postgresql"),
        )
        event.listen(
            sql_table,
            "after_create",
            _ddl(
                f"CREATE TRIGGER {trigger} BEFORE {op} ON {name} FOR EACH ROW BEGIN "
                f"SELECT RAISE(ABORT, '{name} is append-only'); END"
            ).execute_if(dialect="sqlite"),
        )
    # TRUNCATE removes rows without firing row triggers; PostgreSQL has statement triggers for
    # it. SQLite has no TRUNCATE (its `DELETE FROM t` fires the row trigger above).
    event.listen(
        sql_table,
        "after_create",
        _ddl(
            f"CREATE TRIGGER {identifier('trg', name, 'no', 'truncate')} BEFORE TRUNCATE ON "
            f"{name} FOR EACH STATEMENT EXECUTE FUNCTION grace_refuse_change()"
        ).execute_if(dialect="postgresql"),
    )


PG_FUNCTIONS = (
    """
    CREATE OR REPLACE FUNCTION grace_touch_updated_at() RETURNS trigger AS $$
    BEGIN
      -- As on SQLite: an UPDATE that sets updated_at itself keeps its value.
      IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN NEW.updated_at = now(); END IF;
      RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    # Row triggers (UPDATE, DELETE) and the statement trigger (TRUNCATE) of append-only tables:
    # it always raises, so it never needs to return NEW or OLD (statement triggers have none).
    """
    CREATE OR REPLACE FUNCTION grace_refuse_change() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
    END
    $$ LANGUAGE plpgsql
    """,
)


@dataclass(frozen=True)
class Catalog:
    """The SQL side of the spec: one SQLAlchemy Table per spec table, keyed by spec name."""

    spec: Spec
    metadata: MetaData
    tables: dict[str, Table]

    def table(self, name: str) -> Table:
        return self.tables[name]


def build_catalog(spec: Spec) -> Catalog:
    metadata = MetaData()
    tables: dict[str, Table] = {}
    for table in spec.tables.values():
        columns = [build_column(f, is_key=f.name == table.key) for f in table.fields]
        sql_table = Table(table.table, metadata, *columns, comment=table.description)
        for field in table.fields:
            for check in _checks(table, sql_table.c[field.name], field):
                sql_table.append_constraint(check)
        _add_indexes(table, sql_table)
        _touch_trigger(sql_table)
        if table.append_only:
            _append_only_trigger(sql_table)
        tables[table.name] = sql_table
    return Catalog(spec, metadata, tables)
