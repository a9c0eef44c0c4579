"""Scalars the generated schema needs beyond GraphQL's own, in forms client tooling keeps intact.

- BigInt reads as a JSON string of digits: JavaScript's numbers lose whole numbers above 2^53.
- DateTime reads in one fixed-width UTC form, whatever the database handed over, so clients can
  compare and sort the strings; it takes only RFC 3339 with an offset, never a local time.
- Date reads and takes exactly `YYYY-MM-DD`.

The text forms are read by graph/texts.py, which the write path shares; here a refusal becomes
a GraphQLError, as GraphQL's own scalars raise: graphql-core then reports the
message as it is, prefixed with the variable, or at the literal's location, and the error
reaches the client as BAD_USER_INPUT (graph/gql/errors.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NewType

import strawberry
from graphql import GraphQLError, IntValueNode, StringValueNode, ValueNode, print_ast
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

from graph import texts
from graph.instants import utc_text
from graph.texts import (
    DATETIME_EXAMPLE,
    RFC3339_URL,
    TextValueError,
    bigint_digits,
    bigint_from_text,
    clipped,
    date_from_text,
    datetime_from_text,
)

__all__ = ["JSON", "SCALAR_MAP", "BigInt", "python_type"]

# -- BigInt -----------------------------------------------------------------------------


def _as_graphql(read: Any, value: Any) -> Any:
    """The text reader's answer, or its refusal as the GraphQLError graphql-core reports."""
    try:
        return read(value)
    except TextValueError as error:
        raise GraphQLError(str(error)) from None


def parse_bigint(value: Any) -> int:
    """A variable's value: a JSON integer or a string of digits."""
    number: int = _as_graphql(texts.parse_bigint, value)
    return number


def parse_bigint_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    """An inline value: `id: 42` or `id: "42"`."""
    try:
        if isinstance(node, IntValueNode):
            # GraphQL's lexer has already refused "+", leading zeros and fractions here.
            return bigint_digits(node.value, clipped(node.value))
        if isinstance(node, StringValueNode):
            return bigint_from_text(node.value)
    except TextValueError as error:
        raise GraphQLError(str(error), node) from None
    raise GraphQLError(
        f"BigInt cannot represent {clipped(print_ast(node))}: expected a whole number such "
        'as 42 or a string of decimal digits such as "42"',
        node,
    )


def serialize_bigint(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"BigInt cannot serialize {value!r}")
    return str(value)


# -- DateTime ---------------------------------------------------------------------------


def parse_datetime(value: Any) -> dt.datetime:
    """A variable's value: an RFC 3339 string, returned as an aware UTC datetime."""
    moment: dt.datetime = _as_graphql(texts.parse_datetime, value)
    return moment


def parse_datetime_literal(
    node: ValueNode, _variables: dict[str, Any] | None = None
) -> dt.datetime:
    if not isinstance(node, StringValueNode):
        raise GraphQLError(
            f"DateTime cannot represent {clipped(print_ast(node))}: expected a string such as "
            + DATETIME_EXAMPLE,
            node,
        )
    try:
        return datetime_from_text(node.value)
    except TextValueError as error:
        raise GraphQLError(str(error), node) from None


def serialize_datetime(value: Any) -> str:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"DateTime cannot serialize {value!r}")
    return utc_text(value)


# -- Date -------------------------------------------------------------------------------


def parse_date(value: Any) -> dt.date:
    day: dt.date = _as_graphql(texts.parse_date, value)
    return day


def parse_date_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> dt.date:
    if not isinstance(node, StringValueNode):
        raise GraphQLError(
            f"Date cannot represent {clipped(print_ast(node))}: expected a string such as "
            '"2026-11-05"',
            node,
        )
    try:
        return date_from_text(node.value)
    except TextValueError as error:
        raise GraphQLError(str(error), node) from None


def serialize_date(value: Any) -> str:
    # A datetime is a date too, but one reaching a Date field is a bug to show, not to hide.
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise TypeError(f"Date cannot serialize {value!r}")
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


BigInt = NewType("BigInt", int)

# strawberry maps these Python types to GraphQL scalars (StrawberryConfig.scalar_map); the
# entries for date and datetime replace strawberry's own isoformat scalars of the same names.
# GraphQL's Float stays graphql-core's own: the library reserves the name, and its literal
# parser reads `1e400` as infinity. The filter planner refuses a non-finite value wherever it
# compares one (graph/sql/filters.py unusable_value); writes refuse them as the spec's floats.
SCALAR_MAP: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description=(
            "A 64-bit whole number (-2^63 to 2^63-1): row ids and large counters. Sent as a JSON "
            'string of decimal digits ("9007199254740993") so that values above 2^53 survive '
            "JavaScript; accepted as such a string or as a JSON integer."
        ),
        serialize=serialize_bigint,
        parse_value=parse_bigint,
        parse_literal=parse_bigint_literal,
    ),
    dt.datetime: strawberry.scalar(
        name="DateTime",
        description=(
            "A moment in time. Sent in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ, always with six "
            "fractional digits (2026-11-28T05:08:57.000000Z), so text order is time order. "
            "Accepted as an RFC 3339 date-time with Z or an offset and 0 to 6 fractional digits "
            "(2026-11-28T06:08:57+01:00); a time without an offset is refused."
        ),
        specified_by_url=RFC3339_URL,
        serialize=serialize_datetime,
        parse_value=parse_datetime,
        parse_literal=parse_datetime_literal,
    ),
    dt.date: strawberry.scalar(
        name="Date",
        description="A calendar date, sent and accepted as YYYY-MM-DD (2026-11-28).",
        specified_by_url=RFC3339_URL,
        serialize=serialize_date,
        parse_value=parse_date,
        parse_literal=parse_date_literal,
    ),
}

# Python types strawberry maps to GraphQL scalars, per spec field type name.
SCALAR_TYPES: dict[str, Any] = {
    "string": str,
    "text": str,
    "uuid": str,
    "int": int,
    "bigint": BigInt,
    "float": float,
    "bool": bool,
    "date": dt.date,
    "datetime": dt.datetime,
    "json": JSON,
}


def python_type(type_name: str) -> Any:
    return SCALAR_TYPES[type_name]
