"""A relation's groups of each row, built inside the rows' statement.

`executionsAggregate { count max { startedAt } }` on a playbook answers `[{"count": 3, "max":
{"startedAt": "..."}}]`: one group of the playbook's linked rows that match the aggregate's
`where`. Here that list is a correlated subquery of the playbook's row, which aggregates its
linked rows and builds the group object: PostgreSQL `json_build_array((SELECT
json_build_object(...) FROM ... WHERE link AND where))`, SQLite `json_array(json((SELECT
json_object(...) ...)))`. Which aggregates qualify, and why their answers are the reference
path's: graph/gql/inline_groups.py.

The subquery reads each row's linked rows through the relation's index, once per row. Under a
root list or a connection's page of more rows (`joined_groups`), the groups of all its rows
are one subquery instead, grouped by the link and LEFT JOINed to the rows (PostgreSQL hashes
the linked rows, as the aggregate's own statement does): `LEFT JOIN (SELECT link,
json_build_object(...) FROM ... WHERE link IN (the list's rows' links) AND where GROUP BY
link) ON link = the row's` (SQLite: the rows' distinct links joined instead of IN), and a
row without linked rows gets the same aggregate over no row. Several aggregates of one
relation share that subquery (each measuring the rows its own `where` keeps), so the
relation's rows are read once.

Grouped (`groupBy`), filtered by `having`, or paged by `offset` or `limit: 0`, a row has a
list of groups (`listed_groups_value`): the aggregate statement's own inner SELECT of the
row's linked rows (graph/sql/aggregate.py `one_rows_groups`, correlated to the row), grouped
by its keys, its `having` and its order, then the row's limit and offset: `SELECT
array_to_json(ARRAY(SELECT grp FROM (SELECT json_build_object(...) AS grp ... FROM (inner)
g GROUP BY keys HAVING ... ORDER BY ... LIMIT n OFFSET m)))`, on SQLite json_group_array
over the same subquery. The same SQL as the reference path's per-parent ranks, one row at a
time.

The measures are the group statement's own SQL (graph/sql/measures.py `measure_value`:
`count(*)` of the linked rows, `count(DISTINCT v)`, min/max in the API's order, an int's
exact sum), written in the form the API answers as a row's field is (graph/sql/response.py
field_value: a datetime's text, a BigInt as a string, an enum's member name, a double's
shortest digits). Those the reference path finishes in Python are finished to the same
double here (`_finished`). An aggregate over no row is the reference's too: `count` 0, the
other measures null.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Float,
    Numeric,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
)

from graph.aggregate import AVG, MAX, MIN, PERCENTILE, SUM
from graph.shape import (
    GROUP_KEY,
    GROUP_MEASURE,
    GROUP_NULL,
    GROUP_OBJECT,
    GROUP_TYPENAME,
    GroupsEntry,
    GroupValue,
    Shape,
)
from graph.spec.model import FieldSpec, FieldType, RelationEnd
from graph.sql.aggregate import AggregateCompiler, value_column
from graph.sql.links import link_of
from graph.sql.measures import integer_halves, measure_value

# The decimals of PostgreSQL's exact quotient sum / count before it is read as a double: far
# more than a double's rounding needs, for any count below 2^53 (the nearest double to the
# quotient, once, as Python's integer division gives it).
_QUOTIENT_SCALE = 60
# Column names of a root list's grouped subquery (joined_groups).
_LINK = "link"
_GROUP = "grp"
# A column that makes a group SELECT without keys an aggregate's one row (listed_groups_value).
_COUNTED = "counted"

if TYPE_CHECKING:
    from sqlalchemy import FromClause

    from graph.plan import Page, Read
    from graph.sql.response import ResponseCompiler


def groups_value(
    response: ResponseCompiler, entry: GroupsEntry, owner: FromClause, level: int
) -> Any:
    """The JSON list of the `owner` row's one group (module docstring)."""
    compiler = response.compiler
    end = entry.aggregate.end
    read = entry.aggregate.read
    table = response.spec.table(end.target)
    target = response.alias(end.target, level)
    conditions = [compiler.link_condition(end, owner, target)]
    if read.where is not None:
        conditions.append(compiler.where(table, target, read.where))
    group = _object(response, entry.group, _Measured.all_of(target))
    if not _measures_rows(entry.group):
        # Nothing but names and nulls: the same object for every row, whatever it links to
        # (a SELECT without an aggregate would give one per linked row).
        return func.json_build_array(group) if response.postgresql else func.json_array(group)
    found = select(group).select_from(target).where(*conditions).correlate(owner)
    return _one_group_list(response, found.scalar_subquery())


@dataclass(frozen=True)
class JoinedGroups:
    """The groups of every row of a root list at once (module docstring): the grouped
    subquery, its join condition with the list's row, and each aggregate's JSON list of the
    row's one group, by response key."""

    grouped: Any
    on: Any
    values: dict[str, Any]


@dataclass(frozen=True)
class JoinedValues:
    """A shape's joined relation aggregates: the rows' FROM with their grouped subqueries
    LEFT JOINed, each aggregate's value by response key, and the subqueries (a correlated
    SELECT of the row's columns correlates them too)."""

    rows_from: Any
    values: dict[str, Any]
    froms: tuple[Any, ...]


def join_groups(
    response: ResponseCompiler,
    shape: Shape,
    rows: Read,
    source: FromClause,
    start: Any,
    page: Page | None = None,
) -> JoinedValues:
    """The relation aggregates of `shape` that are joined to its rows (GroupsEntry.joined),
    one grouped subquery per relation (its rows read once for all of its aggregates), LEFT
    JOINed to `start` (the rows' FROM: `source`, or it with other joins already)."""
    by_relation: dict[RelationEnd, list[GroupsEntry]] = {}
    for entry in shape.entries:
        if isinstance(entry, GroupsEntry) and entry.joined:
            by_relation.setdefault(entry.aggregate.end, []).append(entry)
    rows_from, values, froms = start, {}, []
    for entries in by_relation.values():
        groups = joined_groups(response, entries, rows, source, page)
        if groups is not None:
            rows_from = rows_from.outerjoin(groups.grouped, groups.on)
            values.update(groups.values)
            froms.append(groups.grouped)
    return JoinedValues(rows_from, values, tuple(froms))


def joined_groups(
    response: ResponseCompiler,
    entries: list[GroupsEntry],
    rows: Read,
    owner: FromClause,
    page: Page | None = None,
) -> JoinedGroups | None:
    """The groups of the `owner` rows of a root list (`rows`: its Read) or of a connection's
    page (`page`: its size and cursor), of aggregates of one relation, as one grouped
    subquery LEFT JOINed to them (module docstring); None when they hold no measure (the
    same constant object for every row: groups_value).

    Several aggregates of the relation read its rows once: the subquery keeps the rows any
    of them keeps, and each measures only its own (a measure over `CASE WHEN its where THEN
    value END`, which an aggregate reads as the same rows filtered: nulls are skipped; its
    `count` counts `CASE WHEN its where THEN 1 END`)."""
    measured = [entry for entry in entries if _measures_rows(entry.group)]
    if not measured:
        return None
    compiler, dialect = response.compiler, response.dialect
    end = measured[0].aggregate.end
    link = link_of(response.spec, end)
    # The list's own rows again (its where, order, offset and limit, or the page's cursor
    # and size; the order ends with the id, so it picks the same rows): only their linked
    # rows are grouped.
    owner_spec = response.spec.table(end.owner)
    parents = response.catalog.table(end.owner).alias()
    chosen = select(link.operand(dialect, parents.c[end.local_field], link.local))
    if rows.where is not None:
        chosen = chosen.where(compiler.where(owner_spec, parents, rows.where))
    if page is not None and page.after is not None:
        keys = [compiler.sort_expression(owner_spec, parents, key) for key in rows.order]
        chosen = chosen.where(compiler.after_cursor(keys, rows.order, page.after, parents))
    chosen = chosen.order_by(*compiler.order_by(owner_spec, parents, rows.order))
    limit = rows.limit if page is None else page.first + 1  # a page reads one row more
    if limit is not None:
        chosen = chosen.limit(limit)
    if rows.offset:
        chosen = chosen.offset(rows.offset)
    table = response.spec.table(end.target)
    target = response.catalog.table(end.target).alias()
    remote = link.operand(dialect, target.c[end.remote_field], link.remote)
    conditions: list[Any] = [*(target.c[f] == v for f, v in end.remote_where)]
    linked: Any = target
    if response.postgresql:
        conditions.append(remote.in_(chosen))
    else:
        # SQLite 3.40 answers `link IN (SELECT ...)` wrongly beside an id range on an index
        # of (remote_where field, link): the range is dropped (the governance decisions of
        # playbooks with `where: {id: {lte: 0}}` counted rows of any id). The parents'
        # distinct links joined to the rows read them through the same index, as the
        # correlated subquery of a row does.
        links = select(chosen.subquery().c[0]).distinct().subquery()
        linked = target.join(links, remote == links.c[0])
    kept = [
        None
        if e.aggregate.read.where is None
        else compiler.where(table, target, e.aggregate.read.where)
        for e in measured
    ]
    if len(measured) == 1:
        # One aggregate: its where filters the rows themselves.
        conditions += [c for c in kept if c is not None]
        measures = [_Measured.all_of(target)]
    else:
        each = [c for c in kept if c is not None]
        if len(each) == len(kept):  # every aggregate filters: the rows none of them keeps go
            conditions.append(or_(*each))
        measures = [
            _Measured.all_of(target) if c is None else _Measured.kept(target, c) for c in kept
        ]
    objects = [
        _object(response, e.group, m).label(f"{_GROUP}{i}")
        for i, (e, m) in enumerate(zip(measured, measures, strict=True))
    ]
    grouped = (
        select(remote.label(_LINK), *objects)
        .select_from(linked)
        .where(*conditions)
        .group_by(remote)
        .subquery()
    )
    local = link.operand(dialect, owner.c[end.local_field], link.local)
    on = and_(grouped.c[_LINK] == local, *(owner.c[f] == v for f, v in end.local_where))
    # A row without linked rows: the measures over no row (count 0, the others null), as
    # the same aggregate over an empty set gives them.
    values: dict[str, Any] = {}
    for i, entry in enumerate(measured):
        none = response.catalog.table(end.target).alias()
        empty = select(_object(response, entry.group, _Measured.all_of(none)))
        empty = empty.select_from(none).where(false())
        group = func.coalesce(grouped.c[f"{_GROUP}{i}"], empty.scalar_subquery())
        values[entry.key] = _one_group_list(response, group)
    return JoinedGroups(grouped, on, values)


def listed_groups_value(response: ResponseCompiler, entry: GroupsEntry, owner: FromClause) -> Any:
    """The JSON list of the `owner` row's groups of an aggregate that groups, filters its
    groups or pages them (module docstring): the aggregate statement's own inner SELECT,
    keys, `having` and order over the row's linked rows, limited and offset per row."""
    read = entry.aggregate.read
    parts = AggregateCompiler(response.compiler).one_rows_groups(read, entry.aggregate.end, owner)
    g = parts.g
    group = _object(
        response, entry.group, _Measured(lambda name: value_column(g, name)), parts.keys
    )
    # Without keys the one group is an aggregate's one row, whatever the object holds.
    rows = select(group.label(_GROUP), func.count().label(_COUNTED)).select_from(g)
    if parts.keys:
        rows = rows.group_by(*parts.keys)
    if parts.having is not None:
        rows = rows.having(parts.having)
    rows = rows.order_by(*parts.order)
    if read.limit is not None:
        rows = rows.limit(read.limit)
    if read.offset:
        rows = rows.offset(read.offset)
    if response.postgresql:
        # ARRAY(subquery) keeps the subquery's order (graph/sql/response.py `_array`).
        listed = select(rows.subquery().c[_GROUP])
        return func.array_to_json(func.array(listed.scalar_subquery()))
    # SQLite feeds an aggregate the subquery's rows in the subquery's order.
    page = rows.subquery()
    array = select(func.json_group_array(func.json(page.c[_GROUP]))).correlate(owner)
    return array.scalar_subquery()


def _one_group_list(response: ResponseCompiler, group: Any) -> Any:
    """The JSON list of one group object read from a subquery or a joined column."""
    if response.postgresql:
        return func.json_build_array(group)
    # A subquery's result loses its JSON subtype: json() gives it back.
    return func.json_array(func.json(group))


def _measures_rows(values: tuple[GroupValue, ...]) -> bool:
    """Whether a measure is among the values, at any depth."""
    return any(v.holds == GROUP_MEASURE or _measures_rows(v.inner) for v in values)


@dataclass(frozen=True)
class _Measured:
    """The rows a group object measures: each field's column by name, and what `count`
    counts (None: every row, `count(*)`)."""

    column: Callable[[str], Any]
    counted: Any = None

    @staticmethod
    def all_of(rows: Any) -> _Measured:
        return _Measured(lambda name: rows.c[name])

    @staticmethod
    def kept(rows: Any, condition: Any) -> _Measured:
        """The rows that `condition` keeps, among others an aggregate reads too."""
        return _Measured(
            lambda name: case((condition, rows.c[name])), case((condition, literal(1)))
        )


def _object(
    response: ResponseCompiler,
    values: tuple[GroupValue, ...],
    measured: _Measured,
    keys: Sequence[Any] = (),
) -> Any:
    """A group object; `keys`: the group's key columns (listed_groups_value)."""
    pairs: list[Any] = []
    for value in values:
        pairs += [literal(value.key), _value(response, value, measured, keys)]
    if response.postgresql:
        return func.json_build_object(*pairs)
    return func.json_object(*pairs)


def _value(
    response: ResponseCompiler, value: GroupValue, measured: _Measured, keys: Sequence[Any]
) -> Any:
    if value.holds == GROUP_TYPENAME:
        return literal(value.type_name)
    if value.holds == GROUP_NULL:
        return null()
    if value.holds == GROUP_OBJECT:
        return _object(response, value.inner, measured, keys)
    if value.holds == GROUP_KEY:
        assert value.field is not None and value.at is not None
        return response.answered_value(value.field, keys[value.at])
    assert value.holds == GROUP_MEASURE and value.kind is not None, value
    field = value.field
    column = measured.counted if field is None else measured.column(field.name)
    if value.kind in (AVG, PERCENTILE):
        assert field is not None and column is not None
        # A double, in its answered form (an integer field's percentile too).
        double = FieldSpec(value.kind, FieldType.FLOAT, "", field.pos)
        return response.answered_value(double, _finished(response, value, column))
    # The group statement's SQL for the measure (an enum's extreme as its value, not rank).
    found = measure_value(response.dialect, value.kind, field, column, ranked=False)
    if value.kind == SUM:
        return cast(found, Text)  # a BigInt, as a string of digits
    if value.kind in (MIN, MAX):
        assert field is not None
        return response.answered_value(field, found)  # the field's own answered form
    return found


def _finished(response: ResponseCompiler, value: GroupValue, column: Any) -> Any:
    """An integer column's average or percentile as the double the reference path answers
    (graph/sql/aggregate.py `_measure_value`): the average the exact sum over the count,
    rounded once; the percentile PostgreSQL's percentile_cont (the group statement's own), on
    SQLite the same interpolation in Python (graph/sql/exact_measures.py)."""
    if value.kind == PERCENTILE:
        assert value.p is not None
        if response.postgresql:
            return func.percentile_cont(literal(value.p)).within_group(cast(column, Float()))
        return func.grace_percentile(literal(value.p, Float()), column, type_=Float())
    if response.postgresql:
        # numeric keeps the sum and the quotient exact to _QUOTIENT_SCALE decimals; its
        # reading as a double rounds once (PostgreSQL reads numeric's text with strtod).
        total = func.round(cast(func.sum(column), Numeric()), _QUOTIENT_SCALE)
        return cast(total / func.nullif(func.count(column), 0), Float())
    high, low = integer_halves(column)
    return func.grace_int_average(func.sum(high), func.sum(low), func.count(column), type_=Float())
