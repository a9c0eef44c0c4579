"""Opaque keyset cursors: the sort values of a row, tied to the order they were made for."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from graph.errors import UserInputError
from graph.plan import SortKey
from graph.spec.model import FieldType, Spec

_DECODERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.DATETIME: dt.datetime.fromisoformat,
    FieldType.DATE: dt.date.fromisoformat,
    FieldType.INT: int,
    FieldType.BIGINT: int,
    FieldType.FLOAT: float,
    FieldType.BOOL: bool,
    FieldType.ENUM: int,  # enums sort, and so page, by the rank of their declared value
}


def order_signature(table: str, order: tuple[SortKey, ...]) -> str:
    """Short fingerprint of an ordering: a cursor only fits the ordering it came from."""
    text = repr(
        (table, [(k.field, k.descending, k.nulls_first, [e.name for e in k.via]) for k in order])
    )
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def encode_cursor(signature: str, values: tuple[Any, ...]) -> str:
    raw = orjson.dumps([signature, *(_plain(v) for v in values)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sort_key_type(spec: Spec, table: str, key: SortKey) -> FieldType:
    target = key.via[-1].target if key.via else table
    return spec.table(target).field(key.field).type


def decode_cursor(
    spec: Spec, table: str, order: tuple[SortKey, ...], cursor: str, path: tuple[str, ...]
) -> tuple[Any, ...]:
    """The sort values (then the id) from a cursor made for this same ordering."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        signature, *values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise UserInputError("not a cursor returned by this API", path) from None
    if signature != order_signature(table, order) or len(values) != len(order) + 1:
        raise UserInputError("cursor belongs to another ordering or table; start again", path)
    decoded: list[Any] = []
    try:
        for key, value in zip(order, values, strict=False):
            decoder = _DECODERS.get(sort_key_type(spec, table, key), str)
            decoded.append(None if value is None else decoder(value))
        decoded.append(int(values[-1]))
    except (ValueError, TypeError):
        raise UserInputError("cursor is damaged", path) from None
    return tuple(decoded)
