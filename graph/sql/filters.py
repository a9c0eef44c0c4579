"""The filter operators: one row per operator, and one function that turns a filter into SQL.

Adding an operator is adding a row to OPERATORS; the GraphQL filter inputs are generated from the
same rows, so the API and the SQL cannot drift apart (the model: datasette's filters.py).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import ge, gt, le, lt
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    String,
    Text,
    and_,
    bindparam,
    cast,
    false,
    literal_column,
    or_,
    true,
    type_coerce,
)

from graph.errors import Path, UserInputError
from graph.plan import Slot
from graph.rows import MAX_JSON_DEPTH
from graph.spec.model import FieldSpec, FieldType
from graph.sql import dialects
from graph.sql.durations import Duration, parse_duration
from graph.sql.patterns import canonical_like, escape_like
from graph.sql.tables import element_type


class FilterContext:
    """What a filter's SQL depends on besides its value: the dialect and the request's moment.
    Reading the moment is noted (`moment_read`): a statement holding it is not reused
    (graph/sql/statement_cache.py)."""

    __slots__ = ("_now", "dialect", "moment_read")

    def __init__(self, dialect: str, now: dt.datetime) -> None:
        self.dialect = dialect
        self._now = now
        self.moment_read = False

    @property
    def now(self) -> dt.datetime:
        self.moment_read = True
        return self._now


Builder = Callable[[FilterContext, ColumnElement[Any], Any, FieldSpec], ColumnElement[bool]]
Checker = Callable[[Any, FieldSpec], None]

# What a filter's value is, relative to the field it filters:
SAME = "same"  # a value of the field's own type
MANY = "many"  # a list of values of the field's type
BOOL = "bool"
TEXT = "text"  # a string whatever the field's type (patterns, JSON keys)
DURATION = "duration"  # an ISO 8601 duration string
JSON_VALUE = "json"
ELEMENT = "element"  # one element of a list field
ELEMENTS = "elements"  # several elements of a list field

# Filter kinds: which operators a field's type offers.
KIND_OF_TYPE = {
    FieldType.STRING: "string",
    FieldType.TEXT: "string",
    FieldType.UUID: "string",
    FieldType.INT: "int",
    FieldType.BIGINT: "bigint",
    FieldType.FLOAT: "float",
    FieldType.BOOL: "bool",
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime",
    FieldType.JSON: "json",
    FieldType.LIST: "list",
    FieldType.ENUM: "enum",
}
ORDERED = frozenset({"string", "int", "bigint", "float", "date", "datetime"})
EQUATABLE = ORDERED | {"enum", "bool"}
SETS = ORDERED | {"enum"}
TEXT_TYPES = frozenset({FieldType.STRING, FieldType.TEXT})


@dataclass(frozen=True)
class Operator:
    name: str
    kinds: frozenset[str]
    value: str
    build: Builder
    description: str
    # Checks a client's value beyond its GraphQL type; raises ValueError with the reason. The
    # planner runs it first, so a bad value is the client's error, never the database's.
    check: Checker | None = None


NUL_REFUSED = "a NUL character (U+0000) cannot be stored or compared"
SURROGATE_REFUSED = (
    "a lone surrogate (U+D800 to U+DFFF) is not Unicode text: it cannot be stored or compared"
)
NOT_JSON_NUMBER = "NaN and infinity are not JSON values"
NOT_FINITE = (
    "is not a finite number: Float values lie within about ±1.8e308, and GraphQL reads a "
    "literal beyond them, such as 1e400, as infinity"
)


def _text_problem(text: str) -> str | None:
    """Why a text cannot be compared alike on both databases: PostgreSQL refuses NUL in text
    (SQLite would compare it), and no driver can encode a lone surrogate as UTF-8."""
    if "\x00" in text:
        return NUL_REFUSED
    if text.isascii():  # the common case, and no surrogate can hide in it
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_REFUSED
    return None


def unusable_value(value: Any, *, json: bool = False) -> tuple[Path, str] | None:
    """Where inside a filter's value (a path relative to it) something sits that the two
    databases cannot compare alike, and why; None when there is nothing of the kind.

    Text with NUL or a lone surrogate (also in JSON object keys), a float that is NaN or
    infinite (GraphQL reads the literal 1e400 as infinity), and JSON documents deeper than
    writes accept. Walked without recursion: a Python caller's value may nest without bound.
    """
    pending: list[tuple[Any, Path]] = [(value, ())]
    while pending:
        item, inner = pending.pop()
        if isinstance(item, str):
            reason = _text_problem(item)
            if reason is not None:
                return inner, reason
        elif isinstance(item, float):
            if not math.isfinite(item):
                return inner, NOT_JSON_NUMBER if json else f"{item} {NOT_FINITE}"
        elif isinstance(item, Mapping | list | tuple | set | frozenset):
            if json and len(inner) > MAX_JSON_DEPTH:
                return inner, f"JSON nests deeper than {MAX_JSON_DEPTH} levels"
            children = list(item.items()) if isinstance(item, Mapping) else list(enumerate(item))
            for key, _child in children:
                reason = _text_problem(key) if isinstance(key, str) else None
                if reason is not None:  # not quoted back in the path: it holds the character
                    return inner, f"an object key: {reason}"
            # Last pushed, first checked: problems are found in the order they were given.
            pending.extend((child, (*inner, key)) for key, child in reversed(children))
    return None


def window_duration(value: Any, field: FieldSpec) -> Duration:
    """The duration of a `withinLast`/`olderThan` window; a date field counts whole days."""
    duration = parse_duration(value)
    if field.type is FieldType.DATE and not duration.whole_days:
        raise ValueError(
            f"{value!r} is not a whole number of days; a date field counts calendar days"
        )
    return duration


def check_duration(value: Any, field: FieldSpec) -> None:
    window_duration(value, field)


def check_like(value: Any, field: FieldSpec) -> None:
    canonical_like(value)


def check_values(value: Any, field: FieldSpec) -> None:
    """Values compared with a uuid column must be UUIDs: PostgreSQL refuses anything else."""
    if field.type is FieldType.UUID:
        for item in value if isinstance(value, list) else [value]:
            canonical_uuid(item)


def canonical_uuid(value: Any) -> str:
    """The stored form of a UUID: lower-case hex with dashes (PostgreSQL's own text form)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"{value!r} is not a UUID") from None


def _operand(field: FieldSpec, value: Any) -> Any:
    """A value as the column compares it; a Slot's parameter is given in that form already
    (slot_value)."""
    if _is_parameter(value):
        return value
    if field.type is FieldType.UUID:
        return (
            [canonical_uuid(v) for v in value] if isinstance(value, list) else canonical_uuid(value)
        )
    return value


def _is_parameter(value: Any) -> bool:
    return isinstance(value, BindParameter)


def _members(field: FieldSpec, values: Any) -> Any:
    """The values of `in`/`nin`: a list, or the parameter standing for one that is never empty
    (slot_value)."""
    return values if _is_parameter(values) else _operand(field, list(values))


def _some(values: Any) -> bool:
    return _is_parameter(values) or bool(values)


def window_start(ctx: FilterContext, value: Any, field: FieldSpec) -> Any:
    """Start of a `withinLast`/`olderThan` window: a moment, or a UTC calendar day for dates."""
    try:
        duration = window_duration(value, field)
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    if field.type is FieldType.DATE:
        return duration.days_before(ctx.now.astimezone(dt.UTC).date())
    return duration.before(ctx.now)


def window_now(ctx: FilterContext, field: FieldSpec) -> Any:
    return ctx.now.astimezone(dt.UTC).date() if field.type is FieldType.DATE else ctx.now


def in_api_order(dialect: str, col: ColumnElement[Any], field: FieldSpec) -> Any:
    """The column as `gt`/`lt`, ordering and cursors compare it: text by code point on both
    databases, whatever their collation."""
    if field.type in TEXT_TYPES:
        return dialects.code_point_order(dialect, col)
    return col


def _text(ctx: FilterContext, col: ColumnElement[Any], field: FieldSpec) -> Any:
    """The column as text for pattern operators: PostgreSQL's uuid type has no LIKE, and
    SQLAlchemy's Uuid type offers none either (SQLite stores uuids as text already)."""
    if field.type is not FieldType.UUID:
        return col
    if ctx.dialect == dialects.POSTGRESQL:
        return cast(col, Text())
    return type_coerce(col, String())


def _pattern(
    ctx: FilterContext, col: Any, field: FieldSpec, pattern: str, *, insensitive: bool = False
) -> Any:
    return dialects.like(ctx.dialect, _text(ctx, col, field), pattern, insensitive=insensitive)


def _compare(python_op: Callable[[Any, Any], Any]) -> Builder:
    def build(ctx: FilterContext, col: Any, value: Any, field: FieldSpec) -> Any:
        return python_op(in_api_order(ctx.dialect, col, field), _operand(field, value))

    return build


OPERATORS: tuple[Operator, ...] = (
    Operator(
        "eq",
        frozenset(EQUATABLE),
        SAME,
        lambda c, col, v, f: col == _operand(f, v),
        "Equal to.",
        check_values,
    ),
    Operator(
        "neq",
        frozenset(EQUATABLE),
        SAME,
        lambda c, col, v, f: col != _operand(f, v),
        "Not equal to, and not null (`not: {eq: ...}` also matches nulls).",
        check_values,
    ),
    Operator("gt", ORDERED, SAME, _compare(gt), "Greater than.", check_values),
    Operator("gte", ORDERED, SAME, _compare(ge), "Greater than or equal to.", check_values),
    Operator("lt", ORDERED, SAME, _compare(lt), "Less than.", check_values),
    Operator("lte", ORDERED, SAME, _compare(le), "Less than or equal to.", check_values),
    Operator(
        "in",
        SETS,
        MANY,
        lambda c, col, v, f: col.in_(_members(f, v)) if _some(v) else false(),
        "One of these values (`in: []` matches no row).",
        check_values,
    ),
    Operator(
        "nin",
        SETS,
        MANY,
        lambda c, col, v, f: col.not_in(_members(f, v)) if _some(v) else col.is_not(None),
        "Has a value, and none of these (`nin: []` matches every value that is not null).",
        check_values,
    ),
    Operator(
        "isNull",
        frozenset(KIND_OF_TYPE.values()),
        BOOL,
        lambda c, col, v, f: col.is_(None) if v else col.is_not(None),
        "true: the field is null; false: it has a value.",
    ),
    Operator(
        "contains",
        frozenset({"string"}),
        TEXT,
        lambda c, col, v, f: _pattern(c, col, f, f"%{escape_like(v)}%"),
        "Contains this text (case-sensitive; %, _ and \\ match themselves).",
    ),
    Operator(
        "startsWith",
        frozenset({"string"}),
        TEXT,
        lambda c, col, v, f: _pattern(c, col, f, f"{escape_like(v)}%"),
        "Starts with this text (case-sensitive; %, _ and \\ match themselves).",
    ),
    Operator(
        "endsWith",
        frozenset({"string"}),
        TEXT,
        lambda c, col, v, f: _pattern(c, col, f, f"%{escape_like(v)}"),
        "Ends with this text (case-sensitive; %, _ and \\ match themselves).",
    ),
    Operator(
        "like",
        frozenset({"string"}),
        TEXT,
        lambda c, col, v, f: _pattern(c, col, f, canonical_like(v)),
        "LIKE pattern, case-sensitive: % any text, _ one character, \\ escapes the next one.",
        check_like,
    ),
    Operator(
        "ilike",
        frozenset({"string"}),
        TEXT,
        lambda c, col, v, f: _pattern(c, col, f, canonical_like(v), insensitive=True),
        "LIKE pattern ignoring case (both sides lower-cased by Unicode's rules).",
        check_like,
    ),
    Operator(
        "withinLast",
        frozenset({"date", "datetime"}),
        DURATION,
        lambda c, col, v, f: and_(col >= window_start(c, v, f), col <= window_now(c, f)),
        "From this ISO 8601 duration before now up to now, e.g. P7D, PT12H, P1M (date fields: "
        "whole days, counted in UTC calendar days).",
        check_duration,
    ),
    Operator(
        "olderThan",
        frozenset({"date", "datetime"}),
        DURATION,
        lambda c, col, v, f: col < window_start(c, v, f),
        "Earlier than this ISO 8601 duration before now, e.g. P1D.",
        check_duration,
    ),
    Operator(
        "contains",
        frozenset({"json"}),
        JSON_VALUE,
        lambda c, col, v, f: dialects.json_contains(c.dialect, col, v),
        'Contains this JSON document, as PostgreSQL\'s @> ({"a": 1} matches {"a": 1, "b": 2}).',
    ),
    Operator(
        "hasKey",
        frozenset({"json"}),
        TEXT,
        lambda c, col, v, f: dialects.json_has_key(c.dialect, col, v),
        "Is an object with this top-level key (arrays have no keys).",
    ),
    Operator(
        "includes",
        frozenset({"list"}),
        ELEMENT,
        lambda c, col, v, f: dialects.list_includes(c.dialect, col, v, element_type(f)),
        "The list holds this value.",
    ),
    Operator(
        "includesAny",
        frozenset({"list"}),
        ELEMENTS,
        lambda c, col, v, f: dialects.list_includes_any(c.dialect, col, v, element_type(f)),
        "The list holds at least one of these values (`[]` matches no row).",
    ),
    Operator(
        "includesAll",
        frozenset({"list"}),
        ELEMENTS,
        lambda c, col, v, f: dialects.list_includes_all(c.dialect, col, v, element_type(f)),
        "The list holds every one of these values (`[]` matches every list that is not null).",
    ),
)


def operators_for(kind: str) -> tuple[Operator, ...]:
    return tuple(op for op in OPERATORS if kind in op.kinds)


_BY_KIND: dict[tuple[str, str], Operator] = {
    (kind, op.name): op for op in OPERATORS for kind in op.kinds
}


def operator(kind: str, name: str) -> Operator:
    return _BY_KIND[(kind, name)]


# The operators whose value may be a Slot: their SQL is the same for every value but null
# (`= NULL` is not `IS NULL`) and, for lists, the empty one.
SLOT_OPERATORS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "in", "nin"})
# Those of them that take a list (MANY).
_LIST_SLOTS = frozenset(
    op.name for op in OPERATORS if op.name in SLOT_OPERATORS and op.value == MANY
)
# Those that take one value: a Slot's for every value but null.
SCALAR_SLOT_OPERATORS = SLOT_OPERATORS - _LIST_SLOTS


def takes_slot(op_name: str, value: Any) -> bool:
    """Whether `op_name value` may leave its value to a Slot (graph/sql/slots.py)."""
    if op_name not in SLOT_OPERATORS or value is None:
        return False
    return op_name not in _LIST_SLOTS or len(value) > 0


def slot_value(field: FieldSpec, op_name: str, value: Any) -> Any:
    """The parameter a Slot takes for `value`: what compile_compare would bind for it."""
    _refuse_unusable(value, json=False)
    return _operand(field, list(value) if op_name in _LIST_SLOTS else value)


def _refuse_unusable(value: Any, *, json: bool) -> None:
    """UserInputError for a value the databases cannot compare alike (unusable_value)."""
    problem = unusable_value(value, json=json)
    if problem is not None:
        raise UserInputError(problem[1])


def compile_compare(
    ctx: FilterContext, col: ColumnElement[Any], field: FieldSpec, op_name: str, value: Any
) -> ColumnElement[bool]:
    """SQL for one `field op value`; values always travel as bound parameters, a Slot's under
    its own name, given when the statement runs."""
    op = operator(KIND_OF_TYPE[field.type], op_name)
    if isinstance(value, Slot):
        parameter: BindParameter[Any] = bindparam(value.name, expanding=op.value == MANY)
        return op.build(ctx, col, parameter, field)
    # The planner refuses these with the argument's path (graph/where.py); this catches the
    # values that reach SQL another way, such as the key of a lookup.
    _refuse_unusable(value, json=op.value == JSON_VALUE)
    return op.build(ctx, col, value, field)


# The keyword itself: SQLAlchemy renders true() as 1 on SQLite, and `x IS NOT 1` is an
# identity test that a truthy 2 would pass.
_SQL_TRUE = literal_column("TRUE", Boolean())


def does_not_hold(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """True exactly where `clause` is not true: false AND unknown.

    SQL's NOT keeps NULL as NULL, so `NOT (exit_code = 0)` would drop rows whose exit code is
    null; the API promises two-valued logic (docs/api.md). AND and OR need no such care: under
    SQL's three-valued logic they are true exactly when the two-valued ones are.

    `(clause) IS NOT TRUE` says exactly that on both databases (SQLite reads the keyword TRUE
    as a truth test since 3.23; no column can be named `true`, an SQL reserved word). It nests
    cheaply: SQLite's parser (a fixed 100-entry stack before 3.46) overflowed on 31 nested
    `NOT coalesce(...)`, which `not` filters within the planner's depth limit reached.
    """
    return clause.self_group().is_not(_SQL_TRUE)


def combine(kind: str, clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    if kind == "and":
        return and_(true(), *clauses) if clauses else true()
    if kind == "or":
        return or_(false(), *clauses) if clauses else false()
    assert kind == "not" and len(clauses) == 1
    return does_not_hold(clauses[0])
