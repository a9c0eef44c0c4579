"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Dialect, String, TypeDecorator, Uuid
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement, Label
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine


class Unbounded(enum.Enum):
    """PostgreSQL's `infinity` or `-infinity` (a timestamptz or a date only raw SQL can
    store); the value is the text PostgreSQL reads. Rows read it as null (GraphQL's DateTime
    and Date cannot hold it); a keyset cursor keeps it, so that pages go on in the order the
    database sorts in."""

    FUTURE = "infinity"
    PAST = "-infinity"


@dataclass(frozen=True)
class Beyond:
    """A PostgreSQL instant or day outside the years 1..9999 that Python cannot hold (year
    20000, 44 BC), as a keyset cursor keeps it: the text PostgreSQL wrote
    (`0044-03-15T12:00:00.000000 BC` in UTC, `20000-01-01 AD`), bound back as text so that
    the next page starts exactly after it. Rows read such a value as null."""

    text: str


# A Beyond as a cursor may hold it: a year of 5 to 7 digits AD or up to 4 BC, within what
# PostgreSQL holds (timestamptz to 294276 AD, date to 5874897 AD, both from 4713 BC).
_BEYOND_INSTANT = re.compile(r"(\d{4,6})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d{6} (AD|BC)")
_BEYOND_DAY = re.compile(r"(\d{4,7})-(\d\d)-(\d\d) (AD|BC)")
_LAST_YEAR = {"instant": 294_275, "day": 5_874_896}
_FIRST_YEAR_BC = 4712


def beyond_from_cursor(text: str, kind: str) -> Beyond | None:
    """The Beyond a cursor's text stands for (`kind`: "instant" or "day"), or None when the
    text is not one: a value PostgreSQL could not read, or one Python holds (so never
    written as a Beyond), is refused by the caller as an altered cursor."""
    match = (_BEYOND_INSTANT if kind == "instant" else _BEYOND_DAY).fullmatch(text)
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups()[:3])
    era = match.groups()[-1]
    if era == "AD" and not 10_000 <= year <= _LAST_YEAR[kind]:
        return None
    if era == "BC" and not 1 <= year <= _FIRST_YEAR_BC:
        return None
    # 1 BC is the astronomical year 0 of the proleptic Gregorian calendar PostgreSQL uses.
    leap = calendar.isleap(year if era == "AD" else 1 - year)
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS_IN_MONTH[month - 1] + (leap and month == 2):
        return None
    if kind == "instant":
        hour, minute, second = (int(part) for part in match.groups()[3:6])
        if hour > 23 or minute > 59 or second > 59:
            return None
    return Beyond(text)


_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


# Just outside the instants a Python datetime, and so the API, can hold (years 1..9999 in
# UTC): PostgreSQL clamps a value into [_BEFORE_TIME, _AFTER_TIME], and either end means
# "beyond", which rows read as null.
_BEFORE_TIME = "'0001-12-31 23:59:59.999999+00 BC'::timestamptz"
_AFTER_TIME = "'10000-01-01 00:00:00+00'::timestamptz"
# to_char with a fixed pattern, in UTC: the session's DateStyle and TimeZone do not matter.
# `BC` writes the era (AD or BC), which the year alone would lose.
_UTC_PATTERN = """'YYYY-MM-DD"T"HH24:MI:SS.US BC'"""
_IN_TIME_TEXT = " AD"


def _clamped(value: str) -> str:
    # PostgreSQL's greatest() skips a null: callers keep null apart where it matters.
    return f"least(greatest({value}, {_BEFORE_TIME}), {_AFTER_TIME})"


def _from_cursor_text(text: str, kind: str) -> dt.date | Unbounded | Beyond:
    """What _cursor_instant_pg or _cursor_day_pg wrote: a date (`kind` "day") or an aware
    datetime where Python holds it, else an Unbounded or a Beyond."""
    if text in (Unbounded.FUTURE.value, Unbounded.PAST.value):
        return Unbounded(text)
    if text.endswith(_IN_TIME_TEXT) and len(text.partition("-")[0]) == 4:
        plain = text.removesuffix(_IN_TIME_TEXT)
        if kind == "day":
            return dt.date.fromisoformat(plain)
        return dt.datetime.fromisoformat(plain).replace(tzinfo=dt.UTC)
    return Beyond(text)


def _bound_beyond(value: Unbounded | Beyond, dialect: Dialect, kind: str) -> Any:
    """An Unbounded or a Beyond as a bound parameter. PostgreSQL reads the text (an instant's
    in UTC); SQLite holds no such value (the cursor was made by hand): the first or last value
    its text can hold takes the place."""
    past = value is Unbounded.PAST or (isinstance(value, Beyond) and value.text.endswith(" BC"))
    if dialect.name == "sqlite":
        holder: Any = dt.date if kind == "day" else dt.datetime
        return holder.min if past else holder.max
    if isinstance(value, Unbounded) or kind == "day":
        return value.value if isinstance(value, Unbounded) else value.text
    return f"{value.text[:-3]}+00{value.text[-3:]}"  # `... 12:00:00.000000+00 BC`


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

    A PostgreSQL value no Python datetime can hold (`infinity`, year 20000, stored by raw
    SQL) reads as null wherever a statement selects it (rows, extremes, bucket keys), except
    as a keyset cursor's sort value, which reads it as an `Unbounded` or a `Beyond`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def column_expression(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        if _is_cursor_sort_value(column):
            return _cursor_instant(column)
        return _readable_instant(column)

    def process_bind_param(
        self, value: dt.datetime | Unbounded | Beyond | None, dialect: Dialect
    ) -> dt.datetime | str | None:
        if value is None:
            return None
        if isinstance(value, Unbounded | Beyond):  # only a cursor carries one
            return _bound_beyond(value, dialect, "instant")  # type: ignore[no-any-return]
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(  # type: ignore[override]
        self, value: dt.datetime | str | None, dialect: Dialect
    ) -> dt.datetime | Unbounded | Beyond | None:
        if value is None:
            return None
        if isinstance(value, str):  # a cursor's sort value on PostgreSQL
            return _from_cursor_text(value, "instant")  # type: ignore[return-value]
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
    in UTC (`2026-01-31T12:00:00.000000 AD`, `0044-03-15T12:00:00.000000 BC`) or `infinity`,
    so that a row of any value PostgreSQL holds has a cursor that pages on exactly after it.
    (null stays null: isfinite(null) is null.)"""

    type = UtcDateTime()
    inherit_cache = True


@compiles(_cursor_instant)
def _cursor_instant_default(element: _cursor_instant, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_cursor_instant, "postgresql")
def _cursor_instant_pg(element: _cursor_instant, compiler: Any, **kw: Any) -> str:
    value = str(compiler.process(element.clauses, **kw))
    text = f"to_char({value} AT TIME ZONE 'UTC', {_UTC_PATTERN})"
    return f"CASE WHEN isfinite({value}) THEN {text} ELSE {value}::text END"


# The same for calendar days: PostgreSQL's date holds `infinity` and years far beyond 9999.
_BEFORE_DAY = "'0001-12-31 BC'::date"
_AFTER_DAY = "'10000-01-01'::date"
_DAY_PATTERN = "'YYYY-MM-DD BC'"


def _clamped_day(value: str) -> str:
    return f"least(greatest({value}, {_BEFORE_DAY}), {_AFTER_DAY})"


class CalendarDate(TypeDecorator[dt.date]):
    """Calendar days. A PostgreSQL value no Python date can hold (`infinity`, year 20000, a
    day BC, stored by raw SQL) reads as null wherever a statement selects it, except as a
    keyset cursor's sort value, which reads it as an `Unbounded` or a `Beyond`, as UtcDateTime
    does."""

    impl = Date()
    cache_ok = True

    def column_expression(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        if _is_cursor_sort_value(column):
            return _cursor_day(column)
        return _readable_day(column)

    def process_bind_param(
        self, value: dt.date | Unbounded | Beyond | None, dialect: Dialect
    ) -> dt.date | str | None:
        if isinstance(value, Unbounded | Beyond):  # only a cursor carries one
            return _bound_beyond(value, dialect, "day")  # type: ignore[no-any-return]
        return value

    def process_result_value(  # type: ignore[override]
        self, value: dt.date | str | None, dialect: Dialect
    ) -> dt.date | Unbounded | Beyond | None:
        if isinstance(value, str):  # a cursor's sort value on PostgreSQL
            return _from_cursor_text(value, "day")
        return value


class _readable_day(FunctionElement[Any]):  # noqa: N801 - reads like the SQL it renders
    type = CalendarDate()
    inherit_cache = True


@compiles(_readable_day)
def _readable_day_default(element: _readable_day, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_readable_day, "postgresql")
def _readable_day_pg(element: _readable_day, compiler: Any, **kw: Any) -> str:
    value = _clamped_day(str(compiler.process(element.clauses, **kw)))
    return f"nullif(nullif({value}, {_BEFORE_DAY}), {_AFTER_DAY})"


class _cursor_day(FunctionElement[Any]):  # noqa: N801 - reads like the SQL it renders
    type = CalendarDate()
    inherit_cache = True


@compiles(_cursor_day)
def _cursor_day_default(element: _cursor_day, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_cursor_day, "postgresql")
def _cursor_day_pg(element: _cursor_day, compiler: Any, **kw: Any) -> str:
    value = str(compiler.process(element.clauses, **kw))
    return (
        f"CASE WHEN isfinite({value}) THEN to_char({value}, {_DAY_PATTERN}) ELSE {value}::text END"
    )


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
