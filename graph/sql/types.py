"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, String, TypeDecorator, Uuid
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement, Label
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine


class Unbounded(enum.Enum):
    """A PostgreSQL timestamptz no Python datetime can hold: `infinity`, `-infinity`, or an
    instant outside the years 1..9999 (only raw SQL can store those), by the end of time it
    lies towards; the value is the text PostgreSQL reads as that end. Rows read such a value
    as null (GraphQL's DateTime cannot hold it); a keyset cursor keeps it, so that pages go on
    in the order the database sorts in (an instant of year 20000 pages as `infinity`)."""

    FUTURE = "infinity"
    PAST = "-infinity"


# Just outside the instants a Python datetime, and so the API, can hold (years 1..9999 in
# UTC): PostgreSQL clamps a value into [_BEFORE_TIME, _AFTER_TIME], and either end means
# "beyond".
_BEFORE_TIME = "'0001-12-31 23:59:59.999999+00 BC'::timestamptz"
_AFTER_TIME = "'10000-01-01 00:00:00+00'::timestamptz"
# to_char with a fixed pattern, in UTC: the session's DateStyle and TimeZone do not matter.
# `BC` writes the era (AD or BC), which the year alone would lose.
_UTC_PATTERN = """'YYYY-MM-DD"T"HH24:MI:SS.US BC'"""
_AFTER_TIME_TEXT = "10000-"
_BEFORE_TIME_TEXT = " BC"
_IN_TIME_TEXT = " AD"


def _clamped(value: str) -> str:
    # PostgreSQL's greatest() skips a null: callers keep null apart where it matters.
    return f"least(greatest({value}, {_BEFORE_TIME}), {_AFTER_TIME})"


def _from_cursor_text(text: str) -> dt.datetime | Unbounded:
    """What _cursor_instant_pg wrote."""
    if text.endswith(_BEFORE_TIME_TEXT):
        return Unbounded.PAST
    if text.startswith(_AFTER_TIME_TEXT):
        return Unbounded.FUTURE
    return dt.datetime.fromisoformat(text.removesuffix(_IN_TIME_TEXT)).replace(tzinfo=dt.UTC)


def _is_cursor_sort_value(column: ColumnElement[Any]) -> bool:
    """Whether a selected column is a sort value a keyset cursor is made of: graph/sql/
    compile.py labels those with SORT_VALUE (`__k0`, `__k1`, ...)."""
    # Imported here: graph/sql/compile.py imports the tables, which import this module.
    from graph.sql.compile import SORT_VALUE

    prefix = SORT_VALUE.format("")
    name = column.name if isinstance(column, Label) else None
    return isinstance(name, str) and name.startswith(prefix) and name[len(prefix) :].isdigit()


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored in UTC.

    PostgreSQL keeps them as timestamptz. SQLite has no datetime type: values are stored as
    fixed-width UTC text (`2026-01-31 12:00:00.000000`), so comparing the text orders them in
    time. A naive datetime given to the engine is taken to be UTC already.

    A PostgreSQL value no Python datetime can hold (`infinity`, stored by raw SQL) reads as
    null wherever a statement selects it (rows, extremes, bucket keys), except as a keyset
    cursor's sort value, which reads it as `Unbounded`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def column_expression(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        if _is_cursor_sort_value(column):
            return _cursor_instant(column)
        return _readable_instant(column)

    def process_bind_param(
        self, value: dt.datetime | Unbounded | None, dialect: Dialect
    ) -> dt.datetime | str | None:
        if value is None:
            return None
        if isinstance(value, Unbounded):
            # Only a cursor carries one. PostgreSQL reads the text as that end of time; SQLite
            # holds no such instant (a cursor of one was made by hand), and the first or last
            # instant its text can hold takes the place.
            if dialect.name == "sqlite":
                return dt.datetime.max if value is Unbounded.FUTURE else dt.datetime.min
            return value.value
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(  # type: ignore[override]
        self, value: dt.datetime | str | None, dialect: Dialect
    ) -> dt.datetime | Unbounded | None:
        if value is None:
            return None
        if isinstance(value, str):  # a cursor's sort value on PostgreSQL
            return _from_cursor_text(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class _readable_instant(FunctionElement[Any]):  # noqa: N801 - reads like the SQL it renders
    """A selected timestamptz as rows read it: null where no Python datetime can hold it
    (psycopg refuses to load `infinity`, which failed the whole statement)."""

    # The type rows are read with (SQLAlchemy reads a wrapped column by the wrapper's type).
    type = UtcDateTime()
    inherit_cache = True


@compiles(_readable_instant)
def _readable_instant_default(element: _readable_instant, compiler: Any, **kw: Any) -> str:
    # SQLite keeps datetimes as text of years 1..9999: every value reads.
    return str(compiler.process(element.clauses, **kw))


@compiles(_readable_instant, "postgresql")
def _readable_instant_pg(element: _readable_instant, compiler: Any, **kw: Any) -> str:
    # The value once, not in a CASE: it may be a subquery or a time bucket's long formula.
    value = _clamped(str(compiler.process(element.clauses, **kw)))
    return f"nullif(nullif({value}, {_BEFORE_TIME}), {_AFTER_TIME})"


class _cursor_instant(FunctionElement[Any]):  # noqa: N801 - reads like the SQL it renders
    """A selected timestamptz as a keyset cursor reads it: on PostgreSQL as text, the instant
    in UTC (`2026-01-31T12:00:00.000000 AD`) or past an end of time, so that a row of
    `infinity` has a cursor that pages on after it."""

    type = UtcDateTime()
    inherit_cache = True


@compiles(_cursor_instant)
def _cursor_instant_default(element: _cursor_instant, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_cursor_instant, "postgresql")
def _cursor_instant_pg(element: _cursor_instant, compiler: Any, **kw: Any) -> str:
    value = str(compiler.process(element.clauses, **kw))
    text = f"to_char({_clamped(value)} AT TIME ZONE 'UTC', {_UTC_PATTERN})"
    return f"CASE WHEN {value} IS NULL THEN NULL ELSE {text} END"


class ScalarList(TypeDecorator[list[Any]]):
    """A list of scalars: a native array on PostgreSQL (GIN-indexable), a JSON array on SQLite."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def __init__(self, element: TypeEngine[Any]) -> None:
        super().__init__()
        self.element = element

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(self.element))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> list[Any] | None:
        return None if value is None else list(value)

    def process_result_value(self, value: list[Any] | None, dialect: Dialect) -> list[Any] | None:
        return None if value is None else list(value)


def json_type() -> TypeEngine[Any]:
    """JSON documents: jsonb on PostgreSQL (indexable containment), JSON text on SQLite."""
    # A Python None is SQL NULL, not the JSON text 'null': `isNull` filters must see it.
    return JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def uuid_type() -> TypeEngine[Any]:
    return Uuid(as_uuid=False).with_variant(String(36), "sqlite")
