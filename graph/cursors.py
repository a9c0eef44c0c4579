"""Opaque keyset cursors: the sort values of a row, tied to the order they were made for."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from graph.aggregate import SUM, measure_field
from graph.errors import UserInputError
from graph.plan import SortKey
from graph.spec.model import BIGINT_MAX, BIGINT_MIN, FieldType, Spec
from graph.sql import filters
from graph.sql.types import Beyond, Unbounded, beyond_from_cursor
from graph.texts import date_from_text, datetime_from_text

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Floats a row may hold that JSON cannot: PostgreSQL's 'NaN' and both databases' infinities,
# stored by raw SQL. orjson would write them as null, and the next page would start after a
# null instead; a cursor writes them as these words.
_NON_FINITE = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}


def _whole_within(low: int, high: int) -> Callable[[Any], int]:
    """A whole number within a column's range: JSON's true and 1.5 are not ids, and a number
    beyond an `int` column would reach PostgreSQL as an error of its own (out of range)."""

    def decode(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(value)
        return value

    return decode


_whole = _whole_within(BIGINT_MIN, BIGINT_MAX)


def _sum(value: Any) -> int | float:
    """A relation measure's integer sum: beyond 64 bits on PostgreSQL (a numeric, written as
    a string of digits, which JSON integers cannot carry past 2^64), a double on SQLite."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(value)


_DIGITS = re.compile(r"-?[0-9]{1,400}")


def _number(value: Any) -> float:
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(value)
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(value)
    return value


def _text(value: Any) -> str:
    """Text as rows hold it: PostgreSQL refuses a NUL inside a bound parameter."""
    if not isinstance(value, str) or filters.unusable_value(value) is not None:
        raise ValueError(value)
    return value


def _uuid(value: Any) -> str:
    """A uuid column's value: anything else fails as PostgreSQL casts the parameter."""
    return filters.canonical_uuid(_text(value))


def _moment(value: Any) -> dt.datetime | Unbounded | Beyond:
    """An instant as encode_cursor writes it: within years 1..9999 in UTC (the offset
    applied), a PostgreSQL `infinity`, or an instant PostgreSQL holds beyond those years."""
    text = _text(value)
    if text in (Unbounded.FUTURE.value, Unbounded.PAST.value):
        return Unbounded(text)
    return beyond_from_cursor(text, "instant") or datetime_from_text(text)


def _day(value: Any) -> dt.date | Unbounded | Beyond:
    """A day as encode_cursor writes it: within years 1..9999, a PostgreSQL `infinity`, or a
    day PostgreSQL holds beyond those years."""
    text = _text(value)
    if text in (Unbounded.FUTURE.value, Unbounded.PAST.value):
        return Unbounded(text)
    return beyond_from_cursor(text, "day") or date_from_text(text)


# How each sort key type comes back out of a cursor; anything else means it was altered.
_DECODERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.DATETIME: _moment,
    FieldType.DATE: _day,
    FieldType.INT: _whole_within(INT_MIN, INT_MAX),
    FieldType.BIGINT: _whole,
    FieldType.FLOAT: _number,
    FieldType.BOOL: _boolean,
    # Enums sort, and so page, by the rank of their declared value: a small whole number.
    FieldType.ENUM: _whole_within(INT_MIN, INT_MAX),
    FieldType.UUID: _uuid,
}


def order_signature(table: str, order: tuple[SortKey, ...]) -> str:
    """Short fingerprint of an ordering: a cursor only fits the ordering it came from."""
    text = repr(
        (
            table,
            [
                (k.field, k.descending, k.nulls_first, [e.name for e in k.via], _measured(k))
                for k in order
            ],
        )
    )
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Unbounded):
        return value.value
    if isinstance(value, Beyond):
        return value.text
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        # PostgreSQL's sum of a bigint is a numeric (a relation measure sorted by `sum`).
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, int) and not BIGINT_MIN <= value <= BIGINT_MAX:
        return str(value)  # JSON integers stop at 64 bits (orjson refuses more)
    return value


def encode_cursor(signature: str, values: tuple[Any, ...]) -> str:
    raw = orjson.dumps([signature, *(_plain(v) for v in values)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _measured(key: SortKey) -> Any:
    """What a relation-measure sort key sorts by (its filter included), else None."""
    if key.measure is None:
        return None
    of = key.measure
    return (of.end.owner, of.end.name, of.measure, repr(of.filter))


def _is_integer_sum(key: SortKey, kind: FieldType) -> bool:
    return key.measure is not None and key.measure.measure.kind == SUM and kind is FieldType.BIGINT


def sort_key_type(spec: Spec, table: str, key: SortKey) -> FieldType:
    target = key.via[-1].target if key.via else table
    if key.measure is not None:
        # A measure of linked rows: its result's type (an enum's extreme sorts by rank).
        linked = spec.table(key.measure.end.target)
        measure = key.measure.measure
        field = linked.field(measure.field) if measure.field else linked.key_field
        return measure_field(measure.kind, field).type
    return spec.table(target).field(key.field).type


def decode_cursor(
    spec: Spec, table: str, order: tuple[SortKey, ...], cursor: str, path: tuple[str, ...]
) -> tuple[Any, ...]:
    """The sort values (then the id) from a cursor made for this same ordering."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise UserInputError("not a cursor returned by this API", path) from None
    if not isinstance(payload, list) or not payload or not isinstance(payload[0], str):
        raise UserInputError("not a cursor returned by this API", path)
    signature, *values = payload
    if signature != order_signature(table, order) or len(values) != len(order) + 1:
        raise UserInputError("cursor belongs to another ordering or table; start again", path)
    decoded: list[Any] = []
    try:
        for key, value in zip(order, values, strict=False):
            kind = sort_key_type(spec, table, key)
            decoder: Callable[[Any], Any] = _DECODERS.get(kind, _text)
            if _is_integer_sum(key, kind):
                decoder = _sum
            decoded.append(None if value is None else decoder(value))
        decoded.append(_whole(values[-1]))
    except (ValueError, TypeError, OverflowError):
        raise UserInputError("cursor is damaged", path) from None
    return tuple(decoded)
