"""The typed expression tree of a computed field: no YAML, no SQL.

graph/spec/computed.py builds it from the text in a schema file and checks every type;
graph/sql/computed.py compiles it to SQL for each database. Every node knows the type of its
value, so the compiler never guesses (a sum of two `int` fields that may pass 2^31 is a
`bigint`, computed in 64 bits on both databases).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from graph.spec.model import FieldType, RollupSpec

ArithOp = Literal["+", "-", "*", "/"]
CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]
Unit = Literal["hours", "days"]


@dataclass(frozen=True)
class Ref:
    """A field of the same row: a column, or a computed field declared before this one."""

    field: str
    type: FieldType


@dataclass(frozen=True)
class Const:
    """A literal number, string or boolean; None has no type of its own."""

    value: int | float | str | bool | None
    type: FieldType | None


@dataclass(frozen=True)
class Arith:
    """`left op right`. `/` is a float division, null when the divisor is 0."""

    op: ArithOp
    left: Expr
    right: Expr
    type: FieldType


@dataclass(frozen=True)
class Negate:
    operand: Expr
    type: FieldType


@dataclass(frozen=True)
class Comparison:
    op: CompareOp
    left: Expr
    right: Expr
    type: FieldType = FieldType.BOOL


@dataclass(frozen=True)
class OneOf:
    """`operand in (a, b, ...)` (negated: `not in`); the choices are constants."""

    operand: Expr
    choices: tuple[Const, ...]
    negated: bool
    type: FieldType = FieldType.BOOL


@dataclass(frozen=True)
class IsNull:
    """`operand is None` (negated: `is not None`): true or false, never null."""

    operand: Expr
    negated: bool
    type: FieldType = FieldType.BOOL


@dataclass(frozen=True)
class Logic:
    """`and`, `or` over two or more booleans, or `not` of one: SQL's three-valued logic."""

    op: Literal["and", "or", "not"]
    items: tuple[Expr, ...]
    type: FieldType = FieldType.BOOL


@dataclass(frozen=True)
class Choice:
    """The value of the first condition that is true, else `default` (SQL's CASE)."""

    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr
    type: FieldType


@dataclass(frozen=True)
class Coalesce:
    """The first of `items` that is not null."""

    items: tuple[Expr, ...]
    type: FieldType


@dataclass(frozen=True)
class Elapsed:
    """Hours or days from `start` to `end` (the moment of the request when None), a float."""

    unit: Unit
    start: Expr
    end: Expr | None
    type: FieldType = FieldType.FLOAT


@dataclass(frozen=True)
class Rollup:
    """A count, sum, average, minimum, maximum or share of the rows linked through a to-many
    relation, computed when read (a stored rollup, graph/spec/rollups.py, is kept at write)."""

    rule: RollupSpec
    type: FieldType


Expr = (
    Ref | Const | Arith | Negate | Comparison | OneOf | IsNull | Logic | Choice | Coalesce | Elapsed
) | Rollup
