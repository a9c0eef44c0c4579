"""The filter operators: one row per operator, and one function that turns a filter into SQL.

Adding an operator is adding a row to OPERATORS; the GraphQL filter inputs are generated from the
same rows, so the API and the SQL cannot drift apart (the model: datasette's filters.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, true

from graph.errors import UserInputError
from graph.spec.model import FieldSpec, FieldType
from graph.sql import dialects
from graph.sql.durations import parse_duration
from graph.sql.tables import element_type


@dataclass(frozen=True)
class FilterContext:
    dialect: str
    now: dt.datetime


Builder = Callable[[FilterContext, ColumnElement[Any], Any, FieldSpec], ColumnElement[bool]]

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


@dataclass(frozen=True)
class Operator:
    name: str
    kinds: frozenset[str]
    value: str
    build: Builder
    description: str


def _window_start(ctx: FilterContext, value: Any, field: FieldSpec) -> Any:
    try:
        start = parse_duration(value).before(ctx.now)
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    return start.date() if field.type is FieldType.DATE else start


def _now(ctx: FilterContext, field: FieldSpec) -> Any:
    return ctx.now.date() if field.type is FieldType.DATE else ctx.now


def _like(col: ColumnElement[Any], pattern: str, insensitive: bool) -> ColumnElement[bool]:
    return col.ilike(pattern) if insensitive else col.like(pattern)


OPERATORS: tuple[Operator, ...] = (
    Operator("eq", frozenset(EQUATABLE), SAME, lambda c, col, v, f: col == v, "Equal to."),
    Operator(
        "neq",
        frozenset(EQUATABLE),
        SAME,
        lambda c, col, v, f: col != v,
        "Not equal to (rows where the field is null never match).",
    ),
    Operator("gt", ORDERED, SAME, lambda c, col, v, f: col > v, "Greater than."),
    Operator("gte", ORDERED, SAME, lambda c, col, v, f: col >= v, "Greater than or equal to."),
    Operator("lt", ORDERED, SAME, lambda c, col, v, f: col < v, "Less than."),
    Operator("lte", ORDERED, SAME, lambda c, col, v, f: col <= v, "Less than or equal to."),
    Operator(
        "in",
        SETS,
        MANY,
        lambda c, col, v, f: col.in_(list(v)) if v else false(),
        "One of these values.",
    ),
    Operator(
        "nin",
        SETS,
        MANY,
        lambda c, col, v, f: col.not_in(list(v)) if v else true(),
        "None of these values (rows where the field is null never match).",
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
        lambda c, col, v, f: col.contains(v, autoescape=True),
        "Contains this text (case-sensitive; % and _ match themselves).",
    ),
    Operator(
        "startsWith",
        frozenset({"string"}),
        TEXT,
        lambda c, col, v, f: col.startswith(v, autoescape=True),
        "Starts with this text.",
    ),
    Operator(
        "endsWith",
        frozenset({"string"}),
        TEXT,
        lambda c, col, v, f: col.endswith(v, autoescape=True),
        "Ends with this text.",
    ),
    Operator(
        "like",
        frozenset({"string"}),
        TEXT,
        lambda c, col, v, f: _like(col, v, False),
        "SQL LIKE pattern, case-sensitive: % any text, _ one character.",
    ),
    Operator(
        "ilike",
        frozenset({"string"}),
        TEXT,
        lambda c, col, v, f: _like(col, v, True),
        "SQL LIKE pattern, ignoring case.",
    ),
    Operator(
        "withinLast",
        frozenset({"date", "datetime"}),
        DURATION,
        lambda c, col, v, f: and_(col >= _window_start(c, v, f), col <= _now(c, f)),
        "Within this ISO 8601 duration before now, e.g. P7D (this week), PT12H, P1M.",
    ),
    Operator(
        "olderThan",
        frozenset({"date", "datetime"}),
        DURATION,
        lambda c, col, v, f: col < _window_start(c, v, f),
        "Earlier than this ISO 8601 duration before now, e.g. P1D.",
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
        "Is an object with this top-level key.",
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
        "The list holds at least one of these values.",
    ),
    Operator(
        "includesAll",
        frozenset({"list"}),
        ELEMENTS,
        lambda c, col, v, f: dialects.list_includes_all(c.dialect, col, v, element_type(f)),
        "The list holds every one of these values.",
    ),
)


def operators_for(kind: str) -> tuple[Operator, ...]:
    return tuple(op for op in OPERATORS if kind in op.kinds)


_BY_KIND: dict[tuple[str, str], Operator] = {
    (kind, op.name): op for op in OPERATORS for kind in op.kinds
}


def operator(kind: str, name: str) -> Operator:
    return _BY_KIND[(kind, name)]


def compile_compare(
    ctx: FilterContext, col: ColumnElement[Any], field: FieldSpec, op_name: str, value: Any
) -> ColumnElement[bool]:
    """SQL for one `field op value`; values always travel as bound parameters."""
    op = operator(KIND_OF_TYPE[field.type], op_name)
    return op.build(ctx, col, value, field)


def combine(kind: str, clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    if kind == "and":
        return and_(true(), *clauses) if clauses else true()
    if kind == "or":
        return or_(false(), *clauses) if clauses else false()
    assert kind == "not" and len(clauses) == 1
    return not_(clauses[0])
