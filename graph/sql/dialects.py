"""The few SQL expressions that PostgreSQL and SQLite spell differently."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    String,
    Text,
    any_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

POSTGRESQL = "postgresql"


def _json_each(list_col: ColumnElement[Any]) -> Any:
    """SQLite: the elements of a JSON array column as a table with a `value` column."""
    return func.json_each(list_col).table_valued("value")


def _array_op(
    list_col: ColumnElement[Any], operator: str, values: list[Any], element: TypeEngine[Any]
) -> ColumnElement[bool]:
    """PostgreSQL array containment (@>) or overlap (&&): both use the GIN index."""
    array = cast(bindparam(None, list(values), ARRAY(element)), ARRAY(element))
    return list_col.op(operator, return_type=Boolean())(array)


def one_of(
    dialect: str, expr: Any, values: list[Any], element: TypeEngine[Any]
) -> ColumnElement[bool]:
    """`expr IN values` for many values: on PostgreSQL one array parameter (`= ANY(:values)`),
    so the statement text stays the same whatever the count and never nears the 65,535
    parameter limit; on SQLite an ordinary IN list."""
    if dialect == POSTGRESQL:
        array = cast(bindparam(None, list(values), ARRAY(element)), ARRAY(element))
        return expr == any_(array)  # type: ignore[no-any-return]
    return expr.in_(list(values))  # type: ignore[no-any-return]


def unnest_values(values: list[Any], element: TypeEngine[Any]) -> Any:
    """PostgreSQL: a list of values as a table `links(value)`, from one array parameter."""
    array = cast(bindparam(None, list(values), ARRAY(element)), ARRAY(element))
    return func.unnest(array).table_valued("value").render_derived(name="links")


def list_holds(list_col: ColumnElement[Any], value: ColumnElement[Any]) -> ColumnElement[bool]:
    """PostgreSQL: the array column contains this (column) value; `@>` uses the GIN index."""
    return list_col.op("@>", return_type=Boolean())(postgresql.array([value]))


def list_includes(
    dialect: str, list_col: ColumnElement[Any], value: Any, element: TypeEngine[Any]
) -> ColumnElement[bool]:
    if dialect == POSTGRESQL:
        return _array_op(list_col, "@>", [value], element)
    each = _json_each(list_col)
    return exists(select(literal(1)).select_from(each).where(each.c.value == value))


def list_includes_any(
    dialect: str, list_col: ColumnElement[Any], values: list[Any], element: TypeEngine[Any]
) -> ColumnElement[bool]:
    if dialect == POSTGRESQL:
        return _array_op(list_col, "&&", values, element)
    each = _json_each(list_col)
    return exists(select(literal(1)).select_from(each).where(each.c.value.in_(list(values))))


def list_includes_all(
    dialect: str, list_col: ColumnElement[Any], values: list[Any], element: TypeEngine[Any]
) -> ColumnElement[bool]:
    if dialect == POSTGRESQL:
        return _array_op(list_col, "@>", values, element)
    if not values:
        return true()
    each = _json_each(list_col)
    distinct = (
        select(func.count(func.distinct(each.c.value)))
        .select_from(each)
        .where(each.c.value.in_(list(values)))
    )
    return distinct.scalar_subquery() == len(set(values))


def value_in_list_column(
    dialect: str, value: ColumnElement[Any], list_col: ColumnElement[Any]
) -> ColumnElement[bool]:
    """`value` is one of the elements of the list column (a correlated join condition)."""
    if dialect == POSTGRESQL:
        return value == func.any(list_col)
    each = _json_each(list_col)
    return exists(select(literal(1)).select_from(each).where(each.c.value == value))


def list_elements(dialect: str, list_col: ColumnElement[Any]) -> Any:
    """A table of (value) rows, one per element of the list column (for joins)."""
    if dialect == POSTGRESQL:
        # PostgreSQL names the column of unnest() only when the alias lists it: AS x(value).
        return func.unnest(list_col).table_valued("value").render_derived()
    return _json_each(list_col)


def json_contains(dialect: str, json_col: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    document = orjson.dumps(value).decode()
    if dialect == POSTGRESQL:
        return json_col.op("@>")(cast(literal(document, Text()), postgresql.JSONB()))
    return func.grace_json_contains(json_col, literal(document, Text())) == 1


def json_has_key(dialect: str, json_col: ColumnElement[Any], key: str) -> ColumnElement[bool]:
    if dialect == POSTGRESQL:
        return json_col.op("?")(literal(key, String()))
    # json_each over an array yields its indexes as keys: only objects have keys here.
    each = func.json_each(json_col).table_valued("key")
    return exists(
        select(literal(1))
        .select_from(each)
        .where(each.c.key == key, func.json_type(json_col) == "object")
    )
