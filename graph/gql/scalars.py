"""Scalars the generated schema needs beyond GraphQL's own, in forms client tooling keeps intact.

- BigInt reads as a JSON string of digits: JavaScript's numbers lose whole numbers above 2^53.
- DateTime reads in one fixed-width UTC form, whatever the database handed over, so clients can
  compare and sort the strings; it takes only RFC 3339 with an offset, never a local time.
- Date reads and takes exactly `YYYY-MM-DD`.

Bad input raises GraphQLError, as GraphQL's own scalars do: graphql-core then reports the
message as it is, prefixed with the variable, or at the literal's location, and the error
reaches the client as BAD_USER_INPUT (graph/gql/errors.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, NewType

import strawberry
from graphql import GraphQLError, IntValueNode, StringValueNode, ValueNode, print_ast
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

from graph.instants import utc_text
from graph.spec.model import BIGINT_MAX, BIGINT_MIN

__all__ = ["JSON", "SCALAR_MAP", "BigInt", "python_type"]

# ASCII digits only: int() alone would also take " 42", "+42", "4_2" and other scripts' digits.
_BIGINT_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)")
# More characters than "-9223372036854775808" cannot be in range. Checked before int(), which
# refuses over 4300 digits with an error of its own and takes quadratic time below that.
_BIGINT_MAX_CHARS = 20

_RFC3339_URL = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
_DATETIME_EXAMPLE = '"2026-11-28T05:08:57Z" or "2026-11-28T06:08:57.5+01:00"'
# Loose on purpose (any number of fractional digits, optional offset) so that the two
# commonest mistakes get their own message instead of a generic "not RFC 3339".
_DATETIME_TEXT = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<off_hour>[0-9]{2}):(?P<off_minute>[0-9]{2}))?"
)
_DATE_TEXT = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})")


def _clipped(text: str) -> str:
    """Error messages quote at most 64 characters of a value."""
    return text if len(text) <= 64 else text[:61] + "..."


def _shown(value: Any) -> str:
    """A variable's value as the client sent it: in JSON, clipped."""
    if isinstance(value, str):
        return '"' + _clipped(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    try:
        return _clipped(json.dumps(value))
    except (TypeError, ValueError):  # not from a JSON body: a caller inside the server
        return _clipped(repr(value))


# -- BigInt -----------------------------------------------------------------------------


def _bigint_in_range(number: int, shown: str) -> int:
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise GraphQLError(f"BigInt cannot represent {shown}: outside -2^63..2^63-1")
    return number


def _bigint_digits(digits: str, shown: str) -> int:
    """Digits already checked for form; only their value is left to check."""
    if len(digits) > _BIGINT_MAX_CHARS:
        raise GraphQLError(f"BigInt cannot represent {shown}: outside -2^63..2^63-1")
    return _bigint_in_range(int(digits), shown)


def _bigint_from_text(text: str) -> int:
    if not _BIGINT_TEXT.fullmatch(text):
        raise GraphQLError(
            f"BigInt cannot represent {_shown(text)}: expected a whole number, as a JSON "
            'integer or a string of decimal digits such as "42" or "-7"'
        )
    return _bigint_digits(text, _shown(text))


def parse_bigint(value: Any) -> int:
    """A variable's value: a JSON integer or a string of digits."""
    if isinstance(value, str):
        return _bigint_from_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _bigint_in_range(value, str(value))
    raise GraphQLError(
        f"BigInt cannot represent {_shown(value)}: expected a whole number, as a JSON integer "
        'or a string of decimal digits such as "42"'
    )


def parse_bigint_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    """An inline value: `id: 42` or `id: "42"`."""
    try:
        if isinstance(node, IntValueNode):
            # GraphQL's lexer has already refused "+", leading zeros and fractions here.
            return _bigint_digits(node.value, _clipped(node.value))
        if isinstance(node, StringValueNode):
            return _bigint_from_text(node.value)
    except GraphQLError as error:
        raise GraphQLError(error.message, node) from None
    raise GraphQLError(
        f"BigInt cannot represent {_clipped(print_ast(node))}: expected a whole number such "
        'as 42 or a string of decimal digits such as "42"',
        node,
    )


def serialize_bigint(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"BigInt cannot serialize {value!r}")
    return str(value)


# -- DateTime ---------------------------------------------------------------------------


def _datetime_error(value: str, reason: str) -> GraphQLError:
    return GraphQLError(f"DateTime cannot represent {_shown(value)}: {reason}")


def _datetime_from_text(text: str) -> dt.datetime:
    match = _DATETIME_TEXT.fullmatch(text)
    if match is None:
        raise _datetime_error(
            text,
            "expected an RFC 3339 date and time with seconds and an offset, e.g. "
            + _DATETIME_EXAMPLE,
        )
    fraction = match["fraction"] or ""
    if len(fraction) > 6:
        raise _datetime_error(text, "at most 6 fractional digits (microseconds)")
    if match["offset"] is None:
        # A time without an offset names a different instant in every time zone.
        raise _datetime_error(text, 'no offset: add "Z" for UTC or an offset such as "+01:00"')
    try:
        local = dt.datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction.ljust(6, "0")),
        )
    except ValueError as exc:  # month 13, 30 February, hour 24, second 60, year 0
        raise _datetime_error(text, str(exc)) from None
    offset = dt.timedelta()
    if match["sign"] is not None:
        hours, minutes = int(match["off_hour"]), int(match["off_minute"])
        if hours > 23 or minutes > 59:
            raise _datetime_error(text, "the offset must be between -23:59 and +23:59")
        offset = dt.timedelta(hours=hours, minutes=minutes)
        if match["sign"] == "-":
            offset = -offset
    try:
        utc = local - offset
    except OverflowError:
        raise _datetime_error(text, "the instant in UTC is outside years 1 to 9999") from None
    return utc.replace(tzinfo=dt.UTC)


def parse_datetime(value: Any) -> dt.datetime:
    """A variable's value: an RFC 3339 string, returned as an aware UTC datetime."""
    if not isinstance(value, str):
        raise GraphQLError(
            f"DateTime cannot represent {_shown(value)}: expected a string such as "
            + _DATETIME_EXAMPLE
        )
    return _datetime_from_text(value)


def parse_datetime_literal(
    node: ValueNode, _variables: dict[str, Any] | None = None
) -> dt.datetime:
    if not isinstance(node, StringValueNode):
        raise GraphQLError(
            f"DateTime cannot represent {_clipped(print_ast(node))}: expected a string such as "
            + _DATETIME_EXAMPLE,
            node,
        )
    try:
        return _datetime_from_text(node.value)
    except GraphQLError as error:
        raise GraphQLError(error.message, node) from None


def serialize_datetime(value: Any) -> str:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"DateTime cannot serialize {value!r}")
    return utc_text(value)


# -- Date -------------------------------------------------------------------------------


def _date_from_text(text: str) -> dt.date:
    # Not date.fromisoformat: it also takes "20261105" and week dates like "2026-W45-4".
    match = _DATE_TEXT.fullmatch(text)
    if match is None:
        raise GraphQLError(
            f'Date cannot represent {_shown(text)}: expected YYYY-MM-DD, e.g. "2026-11-05"'
        )
    try:
        return dt.date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError as exc:
        raise GraphQLError(f"Date cannot represent {_shown(text)}: {exc}") from None


def parse_date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise GraphQLError(
            f'Date cannot represent {_shown(value)}: expected a string such as "2026-11-05"'
        )
    return _date_from_text(value)


def parse_date_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> dt.date:
    if not isinstance(node, StringValueNode):
        raise GraphQLError(
            f"Date cannot represent {_clipped(print_ast(node))}: expected a string such as "
            '"2026-11-05"',
            node,
        )
    try:
        return _date_from_text(node.value)
    except GraphQLError as error:
        raise GraphQLError(error.message, node) from None


def serialize_date(value: Any) -> str:
    # A datetime is a date too, but one reaching a Date field is a bug to show, not to hide.
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise TypeError(f"Date cannot serialize {value!r}")
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


BigInt = NewType("BigInt", int)

# strawberry maps these Python types to GraphQL scalars (StrawberryConfig.scalar_map); the
# entries for date and datetime replace strawberry's own isoformat scalars of the same names.
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
        specified_by_url=_RFC3339_URL,
        serialize=serialize_datetime,
        parse_value=parse_datetime,
        parse_literal=parse_datetime_literal,
    ),
    dt.date: strawberry.scalar(
        name="Date",
        description="A calendar date, sent and accepted as YYYY-MM-DD (2026-11-28).",
        specified_by_url=_RFC3339_URL,
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
