"""The few SQL expressions that PostgreSQL and SQLite spell differently.

Each function here gives the same answer on both databases; the API's contract (docs/api.md)
says what that answer is. Subqueries over a column's elements correlate to everything but their
own element table: SQLAlchemy's automatic correlation reaches only the directly enclosing SELECT,
and an EXISTS nested two levels deep would otherwise pull the outer table into its own FROM.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    String,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from graph.spec.model import BIGINT_MAX, BIGINT_MIN
from graph.sql.patterns import ESCAPE

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
    """PostgreSQL: a list of values as a table `links(value)`, from one array parameter.

    The column carries the element type, so values come back in the form the parents hold
    them (a uuid as the string the parent row has, not as a uuid.UUID).
    """
    array = cast(bindparam(None, list(values), ARRAY(element)), ARRAY(element))
    typed = column("value", element)
    return func.unnest(array).table_valued(typed).render_derived(name="links")


def list_holds(list_col: ColumnElement[Any], value: ColumnElement[Any]) -> ColumnElement[bool]:
    """PostgreSQL: the array column contains this (column) value; `@>` uses the GIN index."""
    return list_col.op("@>", return_type=Boolean())(postgresql.array([value]))


def _element_exists(list_col: ColumnElement[Any], condition: Any) -> ColumnElement[bool]:
    """SQLite: some element of the JSON array column meets `condition(element value)`."""
    each = _json_each(list_col)
    found = select(literal(1)).select_from(each).where(condition(each.c.value))
    return exists(found.correlate_except(each))


def list_includes(
    dialect: str, list_col: ColumnElement[Any], value: Any, element: TypeEngine[Any]
) -> ColumnElement[bool]:
    if dialect == POSTGRESQL:
        return _array_op(list_col, "@>", [value], element)
    return _element_exists(list_col, lambda item: item == value)


def list_includes_any(
    dialect: str, list_col: ColumnElement[Any], values: list[Any], element: TypeEngine[Any]
) -> ColumnElement[bool]:
    if not values:
        return false()
    if dialect == POSTGRESQL:
        return _array_op(list_col, "&&", values, element)
    return _element_exists(list_col, lambda item: item.in_(list(values)))


def list_includes_all(
    dialect: str, list_col: ColumnElement[Any], values: list[Any], element: TypeEngine[Any]
) -> ColumnElement[bool]:
    if not values:
        # Every list holds all of no values; a null list is no list (docs/api.md).
        return list_col.is_not(None)
    if dialect == POSTGRESQL:
        return _array_op(list_col, "@>", values, element)
    each = _json_each(list_col)
    distinct = (
        select(func.count(func.distinct(each.c.value)))
        .select_from(each)
        .where(each.c.value.in_(list(values)))
        .correlate_except(each)
    )
    return distinct.scalar_subquery() == len(set(values))


def value_in_list_column(
    dialect: str, value: ColumnElement[Any], list_col: ColumnElement[Any]
) -> ColumnElement[bool]:
    """`value` is one of the elements of the list column (a correlated join condition)."""
    if dialect == POSTGRESQL:
        return value == func.any(list_col)
    # SQLite: `value IN (the elements)`, not EXISTS(an element equal to value). Both hold for
    # the same rows (duplicates in the list count once; a null matches nothing), but only IN
    # lets SQLite look `value` up by its index when it is the linked table's column: EXISTS
    # is evaluated for every row of that table (a scan per owner row). A null `value` makes
    # IN unknown where EXISTS was false: every caller puts the condition in WHERE or ON (or
    # inside an EXISTS), which reject the row either way.
    each = _json_each(list_col)
    elements = select(each.c.value).select_from(each).where(each.c.value.is_not(None))
    return value.in_(elements.correlate_except(each))


def list_elements(dialect: str, list_col: ColumnElement[Any]) -> Any:
    """A table of (value) rows, one per element of the list column (for joins)."""
    if dialect == POSTGRESQL:
        # PostgreSQL names the column of unnest() only when the alias lists it: AS x(value).
        return func.unnest(list_col).table_valued("value").render_derived()
    return _json_each(list_col)


def _as_json_numbers(value: Any) -> Any:
    """A JSON value with each integer outside 64 bits as the nearest double: what the same
    value sent as a variable becomes (the transport parses JSON with orjson) and what stored
    JSON holds (graph/sql/engine.py load_json); orjson cannot write such an integer."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if BIGINT_MIN <= value <= BIGINT_MAX else float(value)
    if isinstance(value, list):
        return [_as_json_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_json_numbers(item) for key, item in value.items()}
    return value


def json_contains(dialect: str, json_col: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    document = orjson.dumps(_as_json_numbers(value)).decode()
    if dialect == POSTGRESQL:
        contains = json_col.op("@>", return_type=Boolean())
        return contains(cast(literal(document, Text()), postgresql.JSONB()))
    # PostgreSQL's @> as a Python function (graph/sql/engine.py): SQLite has no equivalent.
    return func.grace_json_contains(json_col, literal(document, Text())) == 1


def json_has_key(dialect: str, json_col: ColumnElement[Any], key: str) -> ColumnElement[bool]:
    """The value is an object with this top-level key. PostgreSQL's `?` alone also matches a
    string element of an array, which has no keys."""
    if dialect == POSTGRESQL:
        is_object = func.jsonb_typeof(json_col) == "object"
        return and_(is_object, json_col.op("?", return_type=Boolean())(literal(key, String())))
    each = func.json_each(json_col).table_valued("key")
    found = select(literal(1)).select_from(each).where(each.c.key == key).correlate_except(each)
    # json_each over an array yields its indexes as keys: only objects have keys here.
    return and_(func.json_type(json_col) == "object", exists(found))


def code_point_order(dialect: str, expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """Text compared and sorted by Unicode code point, whatever the database's collation.

    SQLite's default BINARY collation compares UTF-8 bytes, which is code-point order;
    PostgreSQL's "C" collation does the same. Columns are created with it (graph/sql/tables.py)
    so that their indexes serve this order; saying it here keeps older tables right too.
    """
    if dialect == POSTGRESQL:
        return expr.collate("C")
    return expr


def unicode_lower(dialect: str, expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """Full Unicode lower-casing, the same on both databases.

    PostgreSQL's lower() follows the database's LC_CTYPE (one character at a time: no final
    sigma, and only ASCII under the C locale); its ICU root collation maps as Python's
    str.lower does, which SQLite gets as the function grace_lower (graph/sql/engine.py).
    """
    if dialect == POSTGRESQL:
        return func.lower(expr.collate("und-x-icu"))
    return func.grace_lower(expr)


def like(
    dialect: str, expr: ColumnElement[Any], pattern: str, *, insensitive: bool = False
) -> ColumnElement[bool]:
    """`expr LIKE pattern ESCAPE '\\'`, the pattern in canonical form (graph/sql/patterns.py).

    Case-insensitive matching lower-cases both sides: the pattern here, in Python, with the
    same mapping unicode_lower() applies to the value in SQL.
    """
    if insensitive:
        return unicode_lower(dialect, expr).like(pattern.lower(), escape=ESCAPE)
    return expr.like(pattern, escape=ESCAPE)
