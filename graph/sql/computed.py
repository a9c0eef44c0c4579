"""Compiles computed fields (graph/spec/expression.py) to SQL: the same value on both databases.

Everything the read path does with a column (select, filter, sort, page by cursor, group,
measure) it does with `Compiler.column()`, which returns the column itself or, for a computed
field, the expression below over the same row. So a computed field is filtered and sorted by
the database like a stored one; nothing is computed row by row in Python.

How each node keeps both databases equal:
- integers: every node's range is proven at load (graph/spec/computed.py); a `bigint` node
  computes in 64 bits (PostgreSQL would otherwise overflow in 32), an `int` node fits 32 bits.
- `/`: both operands as doubles, the divisor null when it is 0 (so x / 0 is null, no error).
- elapsed time: the instant's whole microseconds since 1970 as a 64-bit integer (PostgreSQL
  from its exact numeric epoch, SQLite from the fixed-width text it stores), subtracted from
  the request's moment in microseconds (a bound integer), then one double division: the same
  operations, rounded the same way, on both.
- mixed numbers chosen by coalesce/case are cast to the result's type first.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    not_,
    null,
    or_,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement, Grouping

from graph.spec.expression import (
    Arith,
    Choice,
    Coalesce,
    Comparison,
    Const,
    Elapsed,
    Expr,
    IsNull,
    Logic,
    Negate,
    OneOf,
    Ref,
    Rollup,
)
from graph.spec.model import FieldSpec, FieldType, TableSpec
from graph.sql import dialects
from graph.sql.rollups import rollup_value
from graph.sql.tables import column_type

if TYPE_CHECKING:
    from sqlalchemy import FromClause

    from graph.sql.compile import Compiler

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECONDS = {"hours": 3_600_000_000.0, "days": 86_400_000_000.0}
# Bound literals need a type: SQLAlchemy would otherwise guess, and PostgreSQL with it.
CONST_TYPES: dict[FieldType, Any] = {
    FieldType.INT: Integer(),
    FieldType.BIGINT: BigInteger(),
    FieldType.FLOAT: Float(),
    FieldType.BOOL: Boolean(),
    FieldType.STRING: String(),
}


def computed_column(
    compiler: Compiler, table: TableSpec, source: FromClause, field: FieldSpec
) -> ColumnElement[Any]:
    """The SQL of one computed field of `table` over the row `source`, typed as the field
    (so its values come back as a stored field's would: datetimes, booleans...)."""
    assert field.computed is not None
    value = ExpressionCompiler(compiler, table, source).compile(field.computed)
    return type_coerce(value, column_type(field))


def microseconds_now(now: dt.datetime) -> int:
    """The request's moment in whole microseconds since 1970 (exact: Python's own integers)."""
    return (now - EPOCH) // dt.timedelta(microseconds=1)


class ExpressionCompiler:
    def __init__(self, compiler: Compiler, table: TableSpec, source: FromClause) -> None:
        self.compiler = compiler
        self.table = table
        self.source = source
        self.dialect = compiler.dialect

    def compile(self, expr: Expr) -> Any:
        value = self._node(expr)
        # Parenthesised always: SQLAlchemy's idea of operator precedence is not PostgreSQL's.
        # It wrote `(not flag) is None` as `NOT flag IS NULL`, which PostgreSQL reads as
        # NOT (flag IS NULL).
        return value if isinstance(expr, Ref | Const) else Grouping(value)

    def _node(self, expr: Expr) -> Any:
        if isinstance(expr, Ref):
            return self.compiler.column(self.table, self.source, expr.field)
        if isinstance(expr, Const):
            if expr.value is None or expr.type is None:
                return null()
            return literal(expr.value, CONST_TYPES[expr.type])
        if isinstance(expr, Arith):
            return self._arith(expr)
        if isinstance(expr, Negate):
            return -self._as(expr.operand, expr.type)
        if isinstance(expr, Comparison):
            return self._comparison(expr)
        if isinstance(expr, OneOf):
            return self._one_of(expr)
        if isinstance(expr, IsNull):
            operand = self.compile(expr.operand)
            return operand.is_not(None) if expr.negated else operand.is_(None)
        if isinstance(expr, Logic):
            items = [self.compile(i) for i in expr.items]
            if expr.op == "not":
                return not_(items[0])
            return and_(*items) if expr.op == "and" else or_(*items)
        if isinstance(expr, Choice):
            whens = [(self.compile(c), self._as(v, expr.type)) for c, v in expr.whens]
            return case(*whens, else_=self._as(expr.default, expr.type))
        if isinstance(expr, Coalesce):
            return func.coalesce(*(self._as(i, expr.type) for i in expr.items))
        if isinstance(expr, Elapsed):
            return self._elapsed(expr)
        assert isinstance(expr, Rollup)
        return rollup_value(self.compiler, self.table, self.source, expr.rule)

    def _as(self, expr: Expr, wanted: FieldType | None) -> Any:
        """The value as the type the enclosing node computes in (a wider number)."""
        value = self.compile(expr)
        if wanted is None or expr.type is wanted or expr.type is None or wanted not in CONST_TYPES:
            return value
        if wanted is FieldType.FLOAT:
            return cast(value, Float())
        if wanted is FieldType.BIGINT and self.dialect == dialects.POSTGRESQL:
            return cast(value, BigInteger())
        return value

    def _arith(self, expr: Arith) -> Any:
        result = self._arith_value(expr)
        if expr.type is FieldType.FLOAT and self.dialect != dialects.POSTGRESQL:
            # PostgreSQL refuses a double beyond the largest (OUT_OF_RANGE); SQLite would carry
            # an infinity on, or a NaN that it stores as null: refused alike (grace_finite).
            return func.grace_finite(result, type_=Float())
        return result

    def _arith_value(self, expr: Arith) -> Any:
        if expr.op == "/":
            left = cast(self.compile(expr.left), Float())
            # Typed: an untyped NULLIF would make SQLAlchemy divide by it as a NUMERIC, which
            # PostgreSQL rounds to 15 digits first.
            right = func.nullif(cast(self.compile(expr.right), Float()), 0.0, type_=Float())
            return left / right
        left, right = self._as(expr.left, expr.type), self._as(expr.right, expr.type)
        if expr.op == "+":
            return left + right
        if expr.op == "-":
            return left - right
        return left * right

    def _comparison(self, expr: Comparison) -> Any:
        # An integer against a float: both as doubles, as PostgreSQL does it (SQLite would
        # compare the integer exactly: 2^53 + 1 == 2^53 as a double is false there).
        kind = FieldType.FLOAT if FieldType.FLOAT in (expr.left.type, expr.right.type) else None
        left = self._as(expr.left, kind) if kind else self.compile(expr.left)
        right = self._as(expr.right, kind) if kind else self.compile(expr.right)
        ops = {
            "==": left.__eq__,
            "!=": left.__ne__,
            "<": left.__lt__,
            "<=": left.__le__,
            ">": left.__gt__,
            ">=": left.__ge__,
        }
        return ops[expr.op](right)

    def _one_of(self, expr: OneOf) -> Any:
        """`x in (a, b)`, each constant bound with the one type all are compared in (PostgreSQL
        would give them the first one's type: 0.1 as the integer 0, 2^31 out of range)."""
        types = {expr.operand.type, *(c.type for c in expr.choices)}
        kind = expr.operand.type
        if FieldType.FLOAT in types:
            kind = FieldType.FLOAT
        elif types <= {FieldType.INT, FieldType.BIGINT}:
            kind = FieldType.BIGINT
        operand = self._as(expr.operand, kind) if kind else self.compile(expr.operand)
        bind_type = CONST_TYPES.get(kind) if kind else None
        if bind_type is None:  # an enum: its values are text
            bind_type = String()
        values = [literal(c.value, bind_type) for c in expr.choices]
        return operand.not_in(values) if expr.negated else operand.in_(values)

    def _elapsed(self, expr: Elapsed) -> Any:
        start = self._microseconds(expr.start)
        if expr.end is None:
            end: Any = literal(microseconds_now(self.compiler.ctx.now), BigInteger())
        else:
            end = self._microseconds(expr.end)
        return cast(end - start, Float()) / literal(MICROSECONDS[expr.unit], Float())

    def _microseconds(self, expr: Expr) -> Any:
        """A date's or datetime's whole microseconds since 1970, as a 64-bit integer."""
        value = self.compile(expr)
        if self.dialect == dialects.POSTGRESQL:
            # The epoch is an exact numeric (PostgreSQL 14+); a date counts from its midnight.
            return cast(extract("epoch", value) * 1_000_000, BigInteger())
        # SQLite keeps `2026-01-31 12:00:00.123456` (a date: `2026-01-31`): whole seconds from
        # the first 19 characters (strftime would round a fraction to milliseconds first),
        # then the six digits of the fraction (none for a date: '' casts to 0).
        text = type_coerce(value, String())
        seconds = cast(func.strftime("%s", func.substr(text, 1, 19)), BigInteger())
        fraction = cast(func.substr(text, 21, 6), BigInteger())
        return seconds * 1_000_000 + fraction
