"""SQL for one measure over a set of rows, the same on both databases: shared by the group
statements of graph/sql/aggregate.py and the relation measures that filter and sort rows
(`playbooks(where: {executionsAggregate: {count: {gt: 5}}})`).

Integer sums are exact on both: SQLite's sum() stops with an error at 2^63, so it sums the two
32-bit halves of each value instead, which cannot overflow, and adds them up (exactly while the
total fits 64 bits, as a float beyond, as SQLite's arithmetic does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Float, case, cast, distinct, func, literal, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement, Grouping

from graph.aggregate import AVG, COUNT, COUNT_DISTINCT, MAX, MIN, SUM, measure_field
from graph.plan import MeasureFilter, RelationMeasure
from graph.spec.model import FieldSpec, FieldType
from graph.sql import dialects
from graph.sql.exact_measures import HALF
from graph.sql.filters import compile_compare, in_api_order

if TYPE_CHECKING:
    from sqlalchemy import FromClause

    from graph.sql.compile import Compiler


def integer_division(dividend: Any, divisor: Any) -> Any:
    """SQLite's `/` of two integers, which truncates (SQLAlchemy's `/` would divide as
    floats). The dividend is grouped: a custom operator has the lowest precedence, so
    SQLAlchemy would print `a - b / c` for (a - b) / c."""
    return Grouping(dividend).op("/")(divisor)


def integer_halves(value: Any) -> tuple[Any, Any]:
    """SQLite: the high and low 32-bit halves of an integer column (high * 2^32 + low =
    value; SQLite divides integers to an integer, truncating)."""
    high = integer_division(value, literal(HALF))
    return high, value - high * HALF


def exact_sum(dialect: str, value: Any) -> Any:
    """The sum of an integer column as one value (null when no value is there); a BigInt, so
    that `having` compares it with 64-bit values. On SQLite it is exact while it fits 64
    bits, and beyond becomes a double of at least 2^63 in size: still on the right side of
    every 64-bit value it is compared with."""
    if dialect == dialects.POSTGRESQL:
        return func.sum(value, type_=BigInteger())
    high, low = integer_halves(value)
    return type_coerce(func.sum(high) * HALF + func.sum(low), BigInteger())


def exact_sum_order(dialect: str, value: Any) -> list[Any]:
    """Sort keys that order integer sums exactly: the sum itself on PostgreSQL (numeric); on
    SQLite, where a sum beyond 64 bits is a double, the sum in base 2^32 (the high part with
    the low part's carry, then the low part in 0..2^32-1), compared as a pair."""
    if dialect == dialects.POSTGRESQL:
        return [func.sum(value)]
    high, low = integer_halves(value)
    lows = func.sum(low)
    remainder = (lows % HALF + HALF) % HALF
    return [func.sum(high) + integer_division(lows - remainder, literal(HALF)), remainder]


def float_sum(dialect: str, value: Any) -> Any:
    """The sum of a float column that filters or sorts: PostgreSQL refuses a sum beyond the
    largest double; SQLite's infinity is refused alike (grace_finite, graph/sql/engine.py)
    rather than compared as a number."""
    if dialect == dialects.POSTGRESQL:
        return func.sum(value)
    return func.grace_finite(func.sum(value), type_=Float())


def float_average(dialect: str, value: Any) -> Any:
    """The mean of a float column in SQL (for `having` and ordering; answers divide the sum
    by the count in Python). PostgreSQL's own avg, whose float division would refuse a
    result too small for a double ("underflow"); SQLite's is the sum over the count."""
    if dialect == dialects.POSTGRESQL:
        return cast(func.avg(value), Float())
    return float_sum(dialect, value) / func.nullif(func.count(value), 0)


def extreme(dialect: str, field: FieldSpec, kind: str, value: Any) -> Any:
    """min or max in the API's order: enums by declared rank (the rank is returned), text by
    code point."""
    aggregate = getattr(func, kind)
    if field.type is FieldType.ENUM:
        ranks = {v: rank for rank, v in enumerate(field.values)}
        return aggregate(case(ranks, value=value))
    return aggregate(in_api_order(dialect, value, field))


def enum_of_rank(field: FieldSpec, rank: Any) -> Any:
    """An enum's value back from its rank (see `extreme`)."""
    return case(dict(enumerate(field.values)), value=rank)


def measure_value(
    dialect: str, kind: str, field: FieldSpec | None, value: Any, *, ranked: bool
) -> Any:
    """One SQL value of the measure over the rows `value` (a column) comes from; for enum
    extremes the rank when `ranked` (to sort), else the value (to compare)."""
    if kind == COUNT:
        return func.count() if value is None else func.count(value)
    assert field is not None
    if kind == COUNT_DISTINCT:
        return func.count(distinct(value))
    if kind in (SUM, AVG) and field.type is not FieldType.FLOAT:
        if kind == SUM:
            return exact_sum(dialect, value)
        if dialect != dialects.POSTGRESQL:
            return cast(exact_sum(dialect, value), Float()) / func.count(value)
    if kind == SUM:
        return float_sum(dialect, value)
    if kind == AVG and field.type is FieldType.FLOAT:
        return float_average(dialect, value)
    if kind == AVG:
        return cast(func.avg(value), Float())
    assert kind in (MIN, MAX), kind
    found = extreme(dialect, field, kind, value)
    if field.type is FieldType.ENUM and not ranked:
        return enum_of_rank(field, found)
    return found


def relation_measure(
    compiler: Compiler, source: FromClause, of: RelationMeasure, *, ranked: bool
) -> ColumnElement[Any]:
    """The measure of each `source` row's linked rows, as a correlated scalar subquery."""
    end = of.end
    target_spec = compiler.spec.table(end.target)
    target = compiler.catalog.table(end.target).alias()
    condition = compiler.link_condition(end, source, target)
    if of.filter is not None:
        condition = condition & compiler.where(target_spec, target, of.filter)
    field = target_spec.field(of.measure.field) if of.measure.field else None
    column = compiler.column(target_spec, target, field.name) if field is not None else None
    value = measure_value(compiler.dialect, of.measure.kind, field, column, ranked=ranked)
    found = select(value).select_from(target).where(condition).correlate_except(target)
    return found.scalar_subquery()


def measure_filter(
    compiler: Compiler, source: FromClause, node: MeasureFilter
) -> ColumnElement[bool]:
    """`where: {executionsAggregate: {count: {gt: 5}}}` on each `source` row."""
    target_spec = compiler.spec.table(node.of.end.target)
    measure = node.of.measure
    base = target_spec.field(measure.field) if measure.field else target_spec.key_field
    result_field = measure_field(measure.kind, base)
    expr = relation_measure(compiler, source, node.of, ranked=False)
    return compile_compare(compiler.ctx, expr, result_field, node.op, node.value)
