"""Scalars the generated schema needs beyond GraphQL's own."""

from __future__ import annotations

import datetime as dt
from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON

__all__ = ["JSON", "SCALAR_MAP", "BigInt", "python_type"]

_BIGINT_MAX = 2**63 - 1


def _parse_bigint(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"BigInt cannot represent {value!r}: expected a whole number")
    if not -_BIGINT_MAX - 1 <= value <= _BIGINT_MAX:
        raise ValueError(f"BigInt cannot represent {value!r}: outside 64-bit range")
    return value


BigInt = NewType("BigInt", int)

# strawberry maps these Python types to custom GraphQL scalars (StrawberryConfig.scalar_map).
SCALAR_MAP: dict[object, Any] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A 64-bit whole number (row ids and large counters), sent as a JSON number.",
        serialize=int,
        parse_value=_parse_bigint,
    )
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
