"""Compiles an AggregateRead (graph/aggregate.py) into ONE statement, runs it, reads the groups.

The statement has two levels. The inner SELECT reads the table's matching rows (`where`), with
to-one related rows LEFT JOINed (each links to at most one: relations point at unique fields),
and gives each row its grouping keys (`k0`, `k1`, ..., time buckets computed once) and the
values the measures need (`v_<field>`); on SQLite also the ranks the percentiles need. The outer
SELECT groups by the keys, measures, filters (`having`), sorts and pages the groups.

Answers are the same on both databases (docs/api.md, Aggregates): integer sums are exact
(SQLite's sum() stops at 2^63, so it sums two halves of each value), integer averages are the
exact sum over the count, rounded once; percentiles interpolate as PostgreSQL's
percentile_cont does, which SQLite computes from window ranks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    FromClause,
    Integer,
    Select,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from graph.aggregate import (
    AVG,
    COUNT,
    COUNT_DISTINCT,
    MAX,
    MIN,
    PERCENTILE,
    SUM,
    AggregateRead,
    ChildAggregate,
    Group,
    GroupKey,
    GroupOrder,
    Having,
    HavingBool,
    MeasureCompare,
    measure_field,
)
from graph.errors import LimitExceededError, OutOfRangeError
from graph.plan import Measure, link_key
from graph.spec.model import FieldSpec, FieldType, RelationEnd, TableSpec
from graph.sql import buckets, dialects, fill
from graph.sql.compile import Compiler
from graph.sql.engine import OUT_OF_RANGE_MESSAGE
from graph.sql.exact_measures import average_of_halves, total_of_halves
from graph.sql.filters import combine, compile_compare, in_api_order
from graph.sql.measures import (
    exact_sum_order,
    extreme,
    integer_halves,
    measure_value,
)


@dataclass(frozen=True)
class Parents:
    """For a relation's aggregate: the parent rows (by id) whose linked rows are grouped,
    and the relation end from the parents' table to the grouped one."""

    end: RelationEnd
    ids: list[int]


@dataclass(frozen=True)
class OneRowsGroups:
    """AggregateCompiler.one_rows_groups: the inner SELECT `g` of one row's linked rows, its
    key columns, the `having` condition (None: none) and the groups' order."""

    g: Any
    keys: list[Any]
    having: ColumnElement[bool] | None
    order: list[UnaryExpression[Any]]


def value_column(g: Any, field: str) -> Any:
    """The column of the inner SELECT `g` that holds a measured field's values."""
    return g.c[_value_label(field)]


# Column names of the inner SELECT besides k0.., v_..: the parent's id, the grouped row's id.
PARENT = "parent"
ROW_ID = "row_id"
# The grouped table's alias when the inner SELECT is correlated to a row of an enclosing
# statement, which may read the same table (a relation of a table to itself).
LINKED = "linked"


def _value_label(name: str) -> str:
    return f"v_{name}"


class AggregateCompiler:
    """One AggregateRead into one statement, and its rows into Groups."""

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.spec = compiler.spec
        self.dialect = compiler.dialect
        self.postgres = compiler.dialect == dialects.POSTGRESQL

    # -- the inner SELECT: rows with their keys and values ---------------------------------

    def _sources(
        self, read: AggregateRead, parents: Parents | None, *, aliased: bool = False
    ) -> tuple[FromClause, dict[tuple[RelationEnd, ...], Any], Any]:
        """The table LEFT JOINed to every related row a key reaches, each path joined once;
        for a relation's aggregate, joined to its parents first (returned third). `aliased`:
        the table under an alias of its own (inside a statement that may read it already).

        Without grouping keys every parent has its one group, linked rows or not: the parents
        are LEFT JOINed, and `where` goes into the join's condition."""
        table = self.spec.table(read.table)
        root: FromClause = self.compiler.catalog.table(read.table)
        if aliased:
            root = root.alias(LINKED)
        joined: FromClause = root
        parent = None
        if parents is not None:
            parent = self.compiler.catalog.table(parents.end.owner).alias(PARENT)
            linked = self.compiler.link_condition(parents.end, parent, root)
            if read.keys:
                joined = parent.join(root, linked)
            else:
                if read.where is not None:
                    linked = and_(linked, self.compiler.where(table, root, read.where))
                joined = parent.outerjoin(root, linked)
        by_path: dict[tuple[RelationEnd, ...], Any] = {(): root}
        for key in read.keys:
            for depth in range(1, len(key.via) + 1):
                path = key.via[:depth]
                if path in by_path:
                    continue
                end = path[-1]
                target = self.compiler.catalog.table(end.target).alias(f"j{len(by_path)}")
                condition = self.compiler.link_condition(end, by_path[path[:-1]], target)
                joined = joined.outerjoin(target, condition)
                by_path[path] = target
        return joined, by_path, parent

    def _key_table(self, read: AggregateRead, key: GroupKey) -> TableSpec:
        return self.spec.table(key.via[-1].target if key.via else read.table)

    def _inner(
        self,
        read: AggregateRead,
        parents: Parents | None,
        owner: tuple[RelationEnd, FromClause] | None = None,
    ) -> Any:
        """The inner SELECT (module docstring), as the subquery or CTE `g`; with `owner`,
        the rows linked to the one row of an enclosing statement (correlated to it)."""
        table = self.spec.table(read.table)
        joined, by_path, parent = self._sources(read, parents, aliased=owner is not None)
        root = by_path[()]
        keys: list[Any] = []
        values: dict[str, Any] = {}
        windows: list[Any] = []
        if parent is not None:
            keys.append(parent.c.id.label(PARENT))
        for i, key in enumerate(read.keys):
            key_table = self._key_table(read, key)
            spec_field = key_table.field(key.field)
            expr: Any = self.compiler.column(key_table, by_path[key.via], key.field)
            if key.bucket is not None:
                is_date = spec_field.type is FieldType.DATE
                expr = buckets.bucket(self.dialect, expr, is_date, key.bucket, read.time_zone)
            keys.append(expr.label(f"k{i}"))
        fields = dict.fromkeys(m.field for m in read.measures if m.field is not None)
        for name in fields:
            values[name] = self.compiler.column(table, root, name).label(_value_label(name))
        if parent is not None or read.fill:
            # Counted instead of rows: a parent without linked rows, or an empty bucket, has
            # one row of nulls.
            values[ROW_ID] = root.c.id.label(ROW_ID)
        if not self.postgres and owner is None:
            # (One row's groups finish their percentiles without ranks: group_object.py.)
            partition = [k.element for k in keys] or None
            ranked_fields = [m.field for m in read.measures if m.kind == PERCENTILE and m.field]
            for ranked_field in dict.fromkeys(ranked_fields):
                value = self.compiler.column(table, root, ranked_field)
                ranked = func.row_number().over(
                    partition_by=partition, order_by=value.asc().nulls_last()
                )
                counted = func.count(value).over(partition_by=partition)
                windows += [
                    ranked.label(f"r_{ranked_field}"),
                    counted.label(f"n_{ranked_field}"),
                ]
        selected = [*keys, *values.values(), *windows]
        # `count` alone reads no column, but SQLite has no SELECT without one.
        stmt = select(*(selected or [literal(1).label("row")])).select_from(joined)
        if read.where is not None and not (parent is not None and not read.keys):
            stmt = stmt.where(self.compiler.where(table, root, read.where))
        if parent is not None and parents is not None:
            stmt = stmt.where(parent.c.id.in_(parents.ids))
        if owner is not None:
            end, row = owner
            stmt = stmt.where(self.compiler.link_condition(end, row, root)).correlate(row)
        # Filling reads the rows twice (their other keys, then the rows): named once.
        return stmt.cte("g") if read.fill else stmt.subquery("g")

    # -- measures over a group ---------------------------------------------------------------

    def _field(self, read: AggregateRead, measure: Measure) -> FieldSpec:
        assert measure.field is not None
        return self.spec.table(read.table).field(measure.field)

    def _measure_columns(self, read: AggregateRead, g: Any, measure: Measure) -> list[Any]:
        """The columns the outer SELECT reads for one measure (read back by _measure_value)."""
        if measure.kind == COUNT:
            return [self._count(g)]
        f = self._field(read, measure)
        value = g.c[_value_label(f.name)]
        if measure.kind == COUNT_DISTINCT:
            return [func.count(distinct(value))]
        if measure.kind in (SUM, AVG) and f.type is not FieldType.FLOAT:
            if self.postgres:
                return [func.sum(value), func.count(value)]
            high, low = integer_halves(value)
            return [func.sum(high), func.sum(low), func.count(value)]
        if measure.kind == SUM:
            return [func.sum(value)]
        if measure.kind == AVG:
            # Divided in Python (_measure_value), as SQLite divides: a double division that
            # never refuses a tiny result, as PostgreSQL's float division does.
            return [func.sum(value), func.count(value)]
        if measure.kind in (MIN, MAX):
            return [extreme(self.dialect, f, measure.kind, value)]
        assert measure.kind == PERCENTILE and measure.p is not None
        return [self._percentile(g, f, measure.p)]

    @staticmethod
    def _count(g: Any) -> Any:
        return func.count(g.c[ROW_ID]) if ROW_ID in g.c else func.count()

    def _percentile(self, g: Any, f: FieldSpec, p: float) -> Any:
        value = cast(g.c[_value_label(f.name)], Float())
        if self.postgres:
            return func.percentile_cont(literal(p)).within_group(value)
        rank, count = g.c[f"r_{f.name}"], g.c[f"n_{f.name}"]
        position = literal(p, Float()) * (count - 1)
        below = cast(position, Integer())  # floor: the position is never negative
        above = below + case((position > below, 1), else_=0)
        low = func.max(case((rank == below + 1, value)))
        high = func.max(case((rank == above + 1, value)))
        fraction = func.max(position - below)
        return low + (high - low) * fraction

    def _measure_expression(
        self, read: AggregateRead, g: Any, measure: Measure, *, ranked: bool = False
    ) -> Any:
        """One SQL value per group for `having` (enum extremes as their value) and
        `orderBy` (`ranked`: enum extremes as their rank)."""
        if measure.kind == COUNT:
            return self._count(g)
        f = self._field(read, measure)
        value = g.c[_value_label(f.name)]
        return measure_value(self.dialect, measure.kind, f, value, ranked=ranked)

    # -- having and order --------------------------------------------------------------------

    def _having(self, read: AggregateRead, g: Any, node: Having) -> ColumnElement[bool]:
        if isinstance(node, HavingBool):
            return combine(node.kind, [self._having(read, g, item) for item in node.items])
        assert isinstance(node, MeasureCompare)
        measure = node.measure
        base = self._field(read, measure) if measure.field else None
        result_field = measure_field(measure.kind, base or _COUNT_FIELD)
        expr = self._measure_expression(read, g, measure)
        return compile_compare(self.compiler.ctx, expr, result_field, node.op, node.value)

    def _sort_key(
        self, read: AggregateRead, g: Any, keys: list[Any], by: GroupKey | Measure
    ) -> Any:
        if isinstance(by, GroupKey):
            column = keys[read.keys.index(by)]
            spec_field = self._key_table(read, by).field(by.field)
            if spec_field.type is FieldType.ENUM:
                ranks = {v: rank for rank, v in enumerate(spec_field.values)}
                return case(ranks, value=column)
            return in_api_order(self.dialect, column, spec_field)
        return self._measure_expression(read, g, by, ranked=True)

    def _order(self, read: AggregateRead, g: Any, keys: list[Any]) -> list[UnaryExpression[Any]]:
        """The requested order, then every key ascending (nulls last): groups never tie."""
        wanted = list(read.order) + [GroupOrder(key) for key in read.keys]
        clauses: list[UnaryExpression[Any]] = []
        for item in wanted:
            by = item.by
            if isinstance(by, Measure) and by.kind == SUM and by.field is not None:
                f = self._field(read, by)
                exprs = (
                    exact_sum_order(self.dialect, g.c[_value_label(f.name)])
                    if f.type is not FieldType.FLOAT
                    else [self._sort_key(read, g, keys, by)]
                )
            else:
                exprs = [self._sort_key(read, g, keys, by)]
            for expr in exprs:
                ordered = expr.desc() if item.descending else expr.asc()
                clauses.append(ordered.nulls_first() if item.nulls_first else ordered.nulls_last())
        return clauses

    # -- the groups of one row of an enclosing statement ------------------------------------

    def one_rows_groups(
        self, read: AggregateRead, end: RelationEnd, row: FromClause
    ) -> OneRowsGroups:
        """The parts of the groups of the rows linked to `row` (through `end`), a row of an
        enclosing statement that builds them itself (graph/sql/group_object.py): the same
        inner SELECT, keys, `having` and order as this compiler's own statement."""
        g = self._inner(read, None, (end, row))
        keys = [g.c[f"k{i}"] for i in range(len(read.keys))]
        having = None if read.having is None else self._having(read, g, read.having)
        return OneRowsGroups(g, keys, having, self._order(read, g, keys))

    # -- the statement and its answer ----------------------------------------------------------

    def statement(
        self, read: AggregateRead, parents: Parents | None = None
    ) -> tuple[Select[Any], list[tuple[Measure, int]]]:
        """The statement, and where each measure's columns start in its rows (after the
        parent's id, for a relation's aggregate, and the keys)."""
        g = self._inner(read, parents)
        source: Any = g
        key_columns = [g.c[f"k{i}"] for i in range(len(read.keys))]
        if read.fill:
            source, key_columns = self._filled(read, g)
        keys = [g.c[PARENT]] if parents is not None else []
        keys += key_columns
        columns: list[Any] = list(keys)
        layout: list[tuple[Measure, int]] = []
        for measure in read.measures:
            layout.append((measure, len(columns)))
            columns += self._measure_columns(read, g, measure)
        order = self._order(read, g, key_columns)
        # One more than the cap: more groups than allowed are an error, never a silent cut.
        cap = read.max_groups + 1
        if parents is None:
            stmt = self._grouped(read, source, g, columns, keys).order_by(*order)
            stmt = stmt.limit(read.limit if read.limit is not None else cap)
            return (stmt.offset(read.offset) if read.offset else stmt), layout
        if read.limit is None and not read.offset:
            stmt = self._grouped(read, source, g, columns, keys).order_by(g.c[PARENT], *order)
            return stmt.limit(cap), layout
        # limit and offset apply per parent: rank each parent's groups, keep a window of ranks.
        rank = func.row_number().over(partition_by=g.c[PARENT], order_by=order).label("rank")
        ranked = self._grouped(read, source, g, [*columns, rank], keys).subquery("ranked")
        kept = ranked.c.rank > read.offset
        if read.limit is not None:
            kept = and_(kept, ranked.c.rank <= read.offset + read.limit)
        stmt = select(*list(ranked.c)[:-1]).where(kept)
        return stmt.order_by(ranked.c[PARENT], ranked.c.rank).limit(cap), layout

    def _filled(self, read: AggregateRead, g: Any) -> tuple[Any, list[Any]]:
        """Every bucket of the window, crossed with the other keys' values that occur, LEFT
        JOINed to the rows (graph/sql/fill.py); the key columns then come from that grid."""
        at = next(i for i, key in enumerate(read.keys) if key.bucket is not None)
        is_date = self.spec.table(read.table).field(read.keys[at].field).type is FieldType.DATE
        starts = fill.bucket_starts(self.compiler, read)
        table = fill.bucket_table(self.dialect, starts, is_date)
        columns = {at: table.c[fill.BUCKET]}
        grid: Any = table
        on = [g.c[f"k{at}"] == table.c[fill.BUCKET]]
        others = [i for i in range(len(read.keys)) if i != at]
        if others:
            combos = select(*(g.c[f"k{i}"] for i in others)).distinct().subquery("combos")
            grid = table.join(combos, true())
            for i in others:
                columns[i] = combos.c[f"k{i}"]
                key = read.keys[i]
                if not key.via and self._key_table(read, key).field(key.field).required:
                    # Never null: plain equality, which PostgreSQL can hash.
                    on.append(g.c[f"k{i}"] == combos.c[f"k{i}"])
                else:
                    on.append(g.c[f"k{i}"].is_not_distinct_from(combos.c[f"k{i}"]))
        return grid.outerjoin(g, and_(*on)), [columns[i] for i in range(len(read.keys))]

    def _grouped(
        self, read: AggregateRead, source: Any, g: Any, columns: list[Any], keys: list[Any]
    ) -> Any:
        stmt = select(*columns).select_from(source)
        if keys:
            stmt = stmt.group_by(*keys)
        if read.having is not None:
            stmt = stmt.having(self._having(read, g, read.having))
        return stmt

    def _checked(self, read: AggregateRead, rows: Sequence[Any]) -> None:
        if len(rows) > read.max_groups:
            raise LimitExceededError(
                f"more than {read.max_groups:,} groups (GRAPH_MAX_GROUPS); narrow `where`, "
                "group by fewer or coarser keys, or page with limit and offset"
            )

    def _group(
        self, read: AggregateRead, layout: list[tuple[Measure, int]], row: Any, first: int
    ) -> Group:
        """A row as a Group; its keys start at column `first`."""
        keys = {key: row[first + i] for i, key in enumerate(read.keys)}
        measures = {m: self._measure_value(read, m, row, at) for m, at in layout}
        return Group(keys, measures)

    def _rows(self, conn: Connection, stmt: Any) -> Sequence[Any]:
        # PostgreSQL refuses a float sum beyond the doubles: OUT_OF_RANGE (graph/sql/engine.py
        # handle_error); SQLite gives infinity, which _measure_value refuses alike.
        return conn.execute(stmt).all()

    def run(self, conn: Connection, read: AggregateRead) -> list[Group]:
        stmt, layout = self.statement(read)
        rows = self._rows(conn, stmt)
        if read.limit is None:
            self._checked(read, rows)
        return [self._group(read, layout, row, 0) for row in rows]

    def run_for_parents(
        self, conn: Connection, read: AggregateRead, parents: Parents
    ) -> dict[int, list[Group]]:
        """The groups of each parent (by id; a parent without groups is absent)."""
        if not parents.ids:
            return {}
        stmt, layout = self.statement(read, parents)
        rows = self._rows(conn, stmt)
        self._checked(read, rows)
        found: dict[int, list[Group]] = {}
        for row in rows:
            found.setdefault(int(row[0]), []).append(self._group(read, layout, row, 1))
        return found

    def _measure_value(self, read: AggregateRead, measure: Measure, row: Any, at: int) -> Any:
        value = row[at]
        if measure.kind in (COUNT, COUNT_DISTINCT):
            return int(value)
        f = self._field(read, measure)
        if measure.kind in (SUM, AVG) and f.type is not FieldType.FLOAT:
            if self.postgres:
                total, count = value, row[at + 1]
            else:
                high, low, count = value, row[at + 1], row[at + 2]
                if measure.kind == AVG:
                    return average_of_halves(high, low, count)
                total = total_of_halves(high, low)
            if total is None or not count:
                return None
            # Exact: Python divides integers with one rounding.
            return int(total) if measure.kind == SUM else int(total) / int(count)
        if measure.kind == AVG and f.type is FieldType.FLOAT:
            total, count = value, row[at + 1]
            if total is None or not count:
                return None
            value = float(total) / int(count)
        if measure.kind in (MIN, MAX) and f.type is FieldType.ENUM:
            return None if value is None else f.values[int(value)]
        if value is None:
            return None
        if measure.kind in (AVG, PERCENTILE) or (measure.kind == SUM):
            number = float(value)
            if not math.isfinite(number):
                raise OutOfRangeError(OUT_OF_RANGE_MESSAGE)
            return number
        return value


_COUNT_FIELD = FieldSpec("count", FieldType.INT, "", None)  # type: ignore[arg-type]


def attach_groups(
    conn: Connection, compiler: Compiler, aggregate: ChildAggregate, parents: list[dict[Any, Any]]
) -> None:
    """A relation's aggregate for every parent row, in one statement; each parent gets its
    groups under the field's key (none: an empty list)."""
    ids = list(dict.fromkeys(int(parent["id"]) for parent in parents))
    found = AggregateCompiler(compiler).run_for_parents(
        conn, aggregate.read, Parents(aggregate.end, ids)
    )
    key = link_key(aggregate.key)
    for parent in parents:
        parent[key] = found.get(int(parent["id"]), [])
