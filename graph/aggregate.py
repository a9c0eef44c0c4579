"""What an aggregate request asks the database for, as plain data (like graph/plan.py for rows).

The GraphQL layer turns `<plural>Aggregate(...)` into an `AggregateRead`; graph/sql/aggregate.py
compiles it into one statement and reads the groups back. Nothing here knows SQL or GraphQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph.plan import BoolOp, Compare, Filter, Measure
from graph.spec.model import FieldSpec, FieldType, RelationEnd, TableSpec

# Time buckets, by their API names: each starts at a local midnight except HOUR.
BUCKETS = ("hour", "day", "week", "month", "quarter", "year")
DATE_BUCKETS = BUCKETS[1:]

# Measures and the field types they apply to (docs/api.md, Aggregates).
NUMERIC = frozenset({FieldType.INT, FieldType.BIGINT, FieldType.FLOAT})
EXTREMES = NUMERIC | {FieldType.DATE, FieldType.DATETIME, FieldType.STRING, FieldType.ENUM}
COUNT = "count"
COUNT_DISTINCT = "count_distinct"
SUM = "sum"
AVG = "avg"
MIN = "min"
MAX = "max"
PERCENTILE = "percentile"


def groupable(table: TableSpec, field: FieldSpec) -> bool:
    """A field whose values make sensible groups: not the row id, not documents or lists."""
    return field.name != "id" and field.type not in (
        FieldType.JSON,
        FieldType.TEXT,
        FieldType.LIST,
    )


def groupable_fields(table: TableSpec) -> list[FieldSpec]:
    return [f for f in table.read_fields if groupable(table, f)]


# How the API names the measures (group fields, `having`, orderBy, relation filters).
MEASURE_NAMES = {
    "count": COUNT,
    "countDistinct": COUNT_DISTINCT,
    "sum": SUM,
    "avg": AVG,
    "min": MIN,
    "max": MAX,
    "percentile": PERCENTILE,
}


def measure_field(kind: str, field: FieldSpec) -> FieldSpec:
    """The type of a measure's result, as a field the filter registry knows (for `having`
    and relation filters)."""
    if kind in (COUNT, COUNT_DISTINCT):
        return FieldSpec(kind, FieldType.INT, "", field.pos)
    if kind == AVG or (kind == SUM and field.type is FieldType.FLOAT):
        return FieldSpec(kind, FieldType.FLOAT, "", field.pos)
    if kind == SUM:
        return FieldSpec(kind, FieldType.BIGINT, "", field.pos)
    return field  # min, max: the field's own type


# The operators of a `where` that bound a time window from below and from above.
LOWER_BOUNDS = ("gte", "gt", "withinLast")
UPPER_BOUNDS = ("lte", "lt", "withinLast", "olderThan")


def window_bounds(where: Filter | None, field: str) -> tuple[list[Compare], list[Compare]]:
    """The conditions of `where` that every row meets and that bound `field` from below and
    from above: the top level of the filter and its `and`s, nothing under `or` or `not`."""
    lower: list[Compare] = []
    upper: list[Compare] = []
    pending = [where] if where is not None else []
    while pending:
        node = pending.pop()
        if isinstance(node, BoolOp) and node.kind == "and":
            pending.extend(node.items)
        elif isinstance(node, Compare) and node.field == field:
            if node.op in LOWER_BOUNDS:
                lower.append(node)
            if node.op in UPPER_BOUNDS:
                upper.append(node)
    return lower, upper


def measurable(kind: str, field: FieldSpec) -> bool:
    """Whether the measure `kind` applies to `field`."""
    if kind in (SUM, AVG, PERCENTILE):
        return field.type in NUMERIC
    if kind in (MIN, MAX):
        return field.type in EXTREMES
    return kind == COUNT_DISTINCT  # callers pass groupable fields only


@dataclass(frozen=True)
class GroupKey:
    """One grouping key: a field of the table, or of a to-one related row reached through
    `via`; date and datetime fields may be cut into time buckets."""

    field: str
    via: tuple[RelationEnd, ...] = ()
    bucket: str | None = None


@dataclass(frozen=True)
class MeasureCompare:
    """`measure <op> value` in `having`, an operator of the filter registry."""

    measure: Measure
    op: str
    value: Any


@dataclass(frozen=True)
class HavingBool:
    """and / or / not of `having` filters, as graph.plan.BoolOp is for rows."""

    kind: str
    items: tuple[Having, ...]


Having = MeasureCompare | HavingBool


@dataclass(frozen=True)
class GroupOrder:
    """Sort groups by a grouped key or a measure; nulls placed explicitly, as rows are."""

    by: GroupKey | Measure
    descending: bool = False
    nulls_first: bool = False


@dataclass(frozen=True)
class AggregateRead:
    """Groups of one table's rows: which rows, grouped how, measured how, which groups in
    what order. `measures` holds every measure the answer, `having` or `order` needs."""

    table: str
    where: Filter | None
    keys: tuple[GroupKey, ...]
    measures: tuple[Measure, ...]
    having: Having | None = None
    order: tuple[GroupOrder, ...] = ()
    limit: int | None = None
    offset: int = 0
    time_zone: str = "UTC"
    # More groups than this (all parents together, for a relation's aggregate) is an error.
    max_groups: int = 10_000
    # Every bucket of the `where` window gets a group, rows or not (graph/sql/fill.py).
    fill: bool = False


@dataclass(frozen=True)
class ChildAggregate:
    """A to-many relation's aggregate on each parent row (`executionsAggregate` on a playbook),
    stored on the parent under `key` (graph.plan.link_key)."""

    key: str
    end: RelationEnd
    read: AggregateRead


@dataclass
class Group:
    """One group of the answer: its key values (by GroupKey) and measures (by Measure)."""

    keys: dict[GroupKey, Any]
    measures: dict[Measure, Any]
