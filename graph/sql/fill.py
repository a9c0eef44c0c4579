"""`fill: true`: every time bucket of the `where` window becomes a group, rows or not.

The window comes from the `where` conditions on the bucketed field (graph/aggregate.py
window_bounds); its buckets are listed here, in Python, by the same rules the statement groups
by (graph/sql/buckets.py), and reach the statement as ONE array parameter, a table of bucket
starts (PostgreSQL: unnest of an array; SQLite: json_each of a JSON array of the stored
forms). The groups are then that table crossed with the other keys' values that occur, LEFT
JOINed to the rows, so `having`, ordering and paging see the empty buckets like any group.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import ARRAY, TIMESTAMP, Date, bindparam, cast, func, select, type_coerce

from graph.aggregate import AggregateRead, window_bounds
from graph.errors import LimitExceededError
from graph.plan import Compare
from graph.spec.model import FieldSpec, FieldType
from graph.sql import buckets, dialects
from graph.sql.compile import Compiler
from graph.sql.filters import FilterContext, window_now, window_start
from graph.sql.types import UtcDateTime

BUCKET = "b"
_TICK = dt.timedelta(microseconds=1)
_DAY = dt.timedelta(days=1)


def _bound(ctx: FilterContext, field: FieldSpec, node: Compare, lower: bool) -> Any:
    """The first (lower) or last (upper) value a row may have under one condition."""
    tick = _DAY if field.type is FieldType.DATE else _TICK
    if node.op == "withinLast":
        return window_start(ctx, node.value, field) if lower else window_now(ctx, field)
    if node.op == "olderThan":
        return window_start(ctx, node.value, field) - tick
    if node.op == "gt":
        return node.value + tick
    if node.op == "lt":
        return node.value - tick
    return node.value  # gte, lte


def bucket_starts(compiler: Compiler, read: AggregateRead) -> list[Any]:
    """The starts of the buckets of the `where` window, in order (LIMIT_EXCEEDED beyond the
    group cap: each is a group)."""
    key = next(k for k in read.keys if k.bucket is not None)
    assert key.bucket is not None
    field = compiler.spec.table(read.table).field(key.field)
    lower, upper = window_bounds(read.where, key.field)
    try:
        low = max(_bound(compiler.ctx, field, node, True) for node in lower)
        high = min(_bound(compiler.ctx, field, node, False) for node in upper)
    except OverflowError:  # a bound at the end of time: one tick beyond it does not exist
        return []
    if low > high:  # no instant is in the window (gt and lte of one instant, say): no bucket
        return []
    cap = read.max_groups + 1
    if field.type is FieldType.DATE:
        starts: list[Any] = buckets.date_bucket_starts(low, high, key.bucket, cap)
    else:
        starts = buckets.datetime_bucket_starts(low, high, key.bucket, read.time_zone, cap)
    if len(starts) > read.max_groups:
        raise LimitExceededError(
            f"the window holds more than {read.max_groups:,} {key.bucket} buckets to fill "
            "(GRAPH_MAX_GROUPS); narrow it, or use a coarser bucket"
        )
    return starts


def bucket_table(dialect: str, starts: list[Any], is_date: bool) -> Any:
    """The bucket starts as a one-column table (`b`), from one parameter."""
    if dialect == dialects.POSTGRESQL:
        element: Any = Date() if is_date else TIMESTAMP(timezone=True)
        array = cast(bindparam("fill_buckets", starts, ARRAY(element)), ARRAY(element))
        return select(func.unnest(array).label(BUCKET)).subquery("buckets")
    stored = [
        start.isoformat() if is_date else start.replace(tzinfo=None).isoformat(" ", "microseconds")
        for start in starts
    ]
    each = func.json_each(bindparam("fill_buckets", json.dumps(stored))).table_valued("value")
    kind: Any = Date() if is_date else UtcDateTime()
    return select(type_coerce(each.c.value, kind).label(BUCKET)).subquery("buckets")
