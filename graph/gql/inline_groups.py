"""Which relation aggregates of a compiled selection the rows' statement builds itself.

A relation aggregate under rows (`playbooks(limit: 10) { executionsAggregate { count } }`) is
otherwise one more statement for all the rows at once, its groups put in place in Python
(graph/gql/compiled_groups.py): a root field with one costs two statements, is never a kept
statement of its own, and never binds to a document's variables. A correlated subquery of
the row's own statement can build the row's groups' JSON instead (graph/sql/group_object.py),
and the root field is again ONE statement: without `groupBy`, every parent row has exactly
one group, of its linked rows; with it (or `having`, `offset`, `limit: 0`) the subquery is
the aggregate statement's own inner SELECT, keys, `having` and order over the row's linked
rows, its limit and offset per row.

Built in the statement only where its answer is the reference path's by construction:
- no `fill` (its buckets come from the `where` window: its own statement);
- measures that are exact on both databases and cannot fail: `count`, `countDistinct`,
  `min`/`max` of stored int, bigint, string, date, datetime and enum fields (the same SQL
  aggregate as the group statement: graph/sql/measures.py `extreme`), `sum` of stored int
  fields (64 bits hold it), `avg` and `percentile` of stored int and bigint fields (finite
  doubles, finished as the reference path finishes them: graph/sql/group_object.py).
  Sums of bigints (beyond 64 bits: an error on the reference path), anything of floats
  (`-0.0` and `0.0` tie, and which one min returns depends on the scan; infinite sums are
  OUT_OF_RANGE) and computed fields keep their own statement;
- grouped rows (`groupBy`, `having`, `offset`, `limit: 0`; `_listable`): keys that are
  stored fields of the linked table itself (no key through a relation, no time bucket) of
  the types in KEY_TYPES (not floats: -0.0 and 0.0 are one group, shown as either); a
  `having` and an `orderBy` of measures that are the same value however the rows are
  scanned (counts, the extremes built above, sums of int and bigint fields; no average or
  percentile, whose doubles could tie or part otherwise); and a bound on each row's groups
  known before anything runs (its `limit`, or keys of enums and booleans only: their values
  and null), which times the parent rows stays within GRAPH_MAX_GROUPS (the reference path refuses
  more groups of all rows together with LIMIT_EXCEEDED, which only its own statement gives);
  at most MAX_PARENTS parent rows (no joined form);
- at most MAX_PARENTS parent rows, known from the Read's limits before anything runs (a
  lookup: 1; a root list's `limit`, times each to-many relation's `limit` below it; a
  connection's page: its `first` + 1, graph/gql/compiled_connection.py page_shape); or,
  more of them and one group each, a root list's or a connection page's own rows, linked
  by a plain equality (not through a list column): their groups are then grouped once by
  the link and joined to the rows (graph/sql/group_object.py joined_groups). Within
  GRAPH_MAX_GROUPS too, for the same reason.
Anything else in the group's selection (an unknown field, an argument) keeps it too.

Why a bound on the parents: the subquery runs once per parent row, each time reading that
row's linked rows through the relation's index. The aggregate's own statement reads them for
all parents at once, and with many parents PostgreSQL switches it to a hash join over the
rows `where` keeps. Measured on the bench database (200 playbooks, 47,068 runs linked to them;
`bench/explain.py --graphql`, execution time of the statements, in-statement / own
statement): `executionsAggregate(where: {status: {eq: FAILED}}) { count }` under 1, 5, 20,
50 and 200 playbooks: 3.7/2.8, 14.8/12.3, 64/58, 129/41, 425/55 ms (at 50 and beyond the own
statement hashes); without `where`, `{ count max { startedAt } }`: 0.8/0.8, 2.7/2.4,
10.4/10.4, 18.6/19.6, 97/71 ms. Up to 20 parents the two cost PostgreSQL about the same, and
the subquery saves a statement's round trip and the groups' work in Python. Beyond, the
grouped subquery joined to a root list's rows reads the linked rows as the own statement
does, for all parents at once (docs/performance.md, bench D2).
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import FieldNode, GraphQLObjectType, GraphQLOutputType, get_named_type

from graph.aggregate import (
    AVG,
    COUNT,
    COUNT_DISTINCT,
    MAX,
    MEASURE_NAMES,
    MIN,
    PERCENTILE,
    SUM,
    AggregateRead,
    ChildAggregate,
    Having,
    HavingBool,
)
from graph.gql.selection import Planner
from graph.grouping import check_percentile
from graph.plan import Measure, Read
from graph.shape import (
    GROUP_KEY,
    GROUP_MEASURE,
    GROUP_NULL,
    GROUP_OBJECT,
    GROUP_TYPENAME,
    GroupsEntry,
    GroupValue,
)
from graph.spec.model import FieldType, RelationEnd, TableSpec

TYPENAME = "__typename"
# The most parent rows whose groups the rows' statement builds (module docstring).
MAX_PARENTS = 20
# The group's object fields that the statement builds: `count`, `key`, `percentile(p:)`,
# and these measures.
FIELD_MEASURES = frozenset({COUNT_DISTINCT, MIN, MAX, SUM, AVG})
# The field types whose measures the statement writes as the reference path's answer, by
# measure (countDistinct: any stored field).
MEASURED_TYPES = {
    MIN: frozenset(
        {
            FieldType.INT,
            FieldType.BIGINT,
            FieldType.STRING,
            FieldType.DATE,
            FieldType.DATETIME,
            FieldType.ENUM,
        }
    ),
    SUM: frozenset({FieldType.INT}),
    AVG: frozenset({FieldType.INT, FieldType.BIGINT}),
    PERCENTILE: frozenset({FieldType.INT, FieldType.BIGINT}),
}
MEASURED_TYPES[MAX] = MEASURED_TYPES[MIN]
# The field types whose measures a row's groups are filtered (`having`) and sorted (`orderBy`)
# by in the statement, by measure: those that are the same value however the rows are
# scanned: not floats (a sum's rounding follows the order of its rows), no average or
# percentile (doubles that could tie or part otherwise). The comparison is the group
# statement's own SQL (graph/sql/aggregate.py), so a bigint's sum compares as it does there.
COMPARED_TYPES = {
    MIN: MEASURED_TYPES[MIN],
    MAX: MEASURED_TYPES[MAX],
    SUM: frozenset({FieldType.INT, FieldType.BIGINT}),
}
# The field types a row's groups may be grouped by in the statement: their values group and
# sort alike however the rows are scanned (not floats: -0.0 and 0.0 are one group, and which
# of the two it shows depends on the scan).
KEY_TYPES = MEASURED_TYPES[MIN] | {FieldType.BOOL}
PERCENTILE_FIELD = "percentile"


class _NotInline(Exception):
    """The group's selection holds something the statement does not build."""


def rows_below(rows: int | None, end: RelationEnd, read: Read) -> int | None:
    """The most rows a relation of `rows` parent rows (None: not known) can link to in the
    answer: to-one, as many as the parents; to-many, `limit` per parent (None without one)."""
    if rows is None or not end.many:
        return rows
    return None if read.limit is None else rows * read.limit


def inline_group(
    planner: Planner,
    table: str,
    key: str,
    nodes: list[FieldNode],
    aggregate: ChildAggregate,
    rows: int | None,
    *,
    root: bool,
) -> GroupsEntry | None:
    """The aggregate field `nodes` (response key `key`) on rows of `table`, when the rows'
    statement builds its groups (module docstring); `rows`: the most such rows the answer
    holds (None: not known), `root`: whether they are a root list's or lookup's own rows.
    None when the aggregate keeps its own statement."""
    read = aggregate.read
    if read.fill or rows is None or rows > read.max_groups:
        return None
    listed = bool(read.keys or read.having is not None or read.offset or read.limit == 0)
    if listed and not (rows <= MAX_PARENTS and _listable(planner, read, rows)):
        return None
    # More rows than MAX_PARENTS: their groups at once, grouped and joined to a root list's
    # or page's rows by a plain equality of the link (graph/sql/group_object.py joined_groups).
    joined = rows > MAX_PARENTS
    if joined and not (root and aggregate.end.list_side is None):
        return None
    parent = planner.schema.type_map[planner.index[table].spec.type_name]
    assert isinstance(parent, GraphQLObjectType)
    try:
        group_type = _object_type(parent.fields[nodes[0].name.value].type)
        group = _group(planner, group_type, nodes, aggregate)
    except _NotInline:
        return None
    return GroupsEntry(key, aggregate, group, joined, listed)


def _listable(planner: Planner, read: AggregateRead, rows: int) -> bool:
    """Whether the statement builds each row's list of groups (grouped, filtered by
    `having`, limited or offset) as the reference path answers it (module docstring)."""
    table = planner.index[read.table].spec
    most = 1  # groups of one row: at most, whatever the rows hold
    for group_key in read.keys:
        if group_key.via or group_key.bucket is not None:
            return False
        field = table.field(group_key.field)
        if field.computed is not None or field.type not in KEY_TYPES:
            return False
        if field.type is FieldType.ENUM:
            most *= len(field.values) + 1  # and null
        elif field.type is FieldType.BOOL:
            most *= 3
        else:
            most = read.max_groups + 1  # not known: only a limit bounds it
    if read.limit is not None:
        most = min(most, read.limit)
    # The reference path refuses more groups of all rows together than max_groups.
    if rows * most > read.max_groups:
        return False
    compared = [item.by for item in read.order if isinstance(item.by, Measure)]
    if read.having is not None:
        compared += _having_measures(read.having)
    return all(_exactly_compared(table, measure) for measure in compared)


def _having_measures(having: Having) -> list[Measure]:
    if isinstance(having, HavingBool):
        return [m for item in having.items for m in _having_measures(item)]
    return [having.measure]


def _exactly_compared(table: TableSpec, measure: Measure) -> bool:
    """Whether a measure that `having` compares or `orderBy` sorts by is the same value
    however its rows are scanned (COMPARED_TYPES; countDistinct: any stored field)."""
    if measure.kind == COUNT:
        return True
    if measure.field is None:
        return False
    field = table.field(measure.field)
    if field.computed is not None:
        return False
    return measure.kind == COUNT_DISTINCT or field.type in COMPARED_TYPES.get(
        measure.kind, frozenset()
    )


def _group(
    planner: Planner,
    group_type: GraphQLObjectType,
    nodes: list[FieldNode],
    aggregate: ChildAggregate,
) -> tuple[GroupValue, ...]:
    target = aggregate.end.target

    def value_of(key: str, name: str, same: list[FieldNode]) -> GroupValue:
        definition = group_type.fields.get(name)
        if definition is None:
            raise _NotInline(name)
        if name == PERCENTILE_FIELD:
            p = _percentile_p(planner, group_type, same)
            measure_type = _object_type(definition.type)
            inner = _measures(planner, measure_type, same, PERCENTILE, target, p)
            # The planner asked the group statement for the same measures (a sanity check
            # that `p` is read as it read it).
            wanted = set(aggregate.read.measures)
            fields = [v.field.name for v in inner if v.field is not None]
            if any(Measure(PERCENTILE, field, p) not in wanted for field in fields):
                raise _NotInline(name)
            return GroupValue(key, GROUP_OBJECT, inner=inner)
        if definition.args:
            raise _NotInline(name)
        kind = MEASURE_NAMES.get(name)
        if kind == COUNT:
            return GroupValue(key, GROUP_MEASURE, kind=COUNT)
        if name == "key":
            inner = _keys(planner, _object_type(definition.type), same, aggregate.read)
        elif kind in FIELD_MEASURES:
            inner = _measures(planner, _object_type(definition.type), same, kind, target)
        else:
            raise _NotInline(name)
        return GroupValue(key, GROUP_OBJECT, inner=inner)

    return _selected(planner, group_type, nodes, value_of)


def _keys(
    planner: Planner,
    key_type: GraphQLObjectType,
    nodes: list[FieldNode],
    read: AggregateRead,
) -> tuple[GroupValue, ...]:
    """The `key` object of a group: a grouping key's value (keys of the table's own fields
    only: _listable), every other key (and every to-one relation's key object) null."""
    grouped = {key.field: at for at, key in enumerate(read.keys)}
    fields = planner.index[read.table].fields  # by their GraphQL names

    def value_of(key: str, name: str, _same: list[FieldNode]) -> GroupValue:
        field = fields.get(name)
        at = None if field is None else grouped.get(field.name)
        if field is None or at is None:
            return GroupValue(key, GROUP_NULL)
        return GroupValue(key, GROUP_KEY, field=field, at=at)

    return _selected(planner, key_type, nodes, value_of)


def _percentile_p(planner: Planner, group_type: GraphQLObjectType, nodes: list[FieldNode]) -> float:
    """The `p` of a `percentile(p:)` field, as the planner read it (graph/gql/selection.py
    `measures`): GraphQL merges a response key's fields only when their arguments are the
    same, so the first node's is every node's."""
    p = check_percentile(planner.arguments(group_type.name, nodes[0]).get("p"), ())
    if any(
        check_percentile(planner.arguments(group_type.name, n).get("p"), ()) != p for n in nodes
    ):
        raise _NotInline(PERCENTILE_FIELD)
    return p


def _measures(
    planner: Planner,
    measure_type: GraphQLObjectType,
    nodes: list[FieldNode],
    kind: str,
    target: str,
    p: float | None = None,
) -> tuple[GroupValue, ...]:
    """A measure's object (`min { durationMs }`): the measure of each selected field."""
    fields = planner.index[target].fields

    def value_of(key: str, name: str, _same: list[FieldNode]) -> GroupValue:
        field = fields.get(name)
        if field is None or field.computed is not None:
            raise _NotInline(name)
        if kind != COUNT_DISTINCT and field.type not in MEASURED_TYPES[kind]:
            raise _NotInline(name)
        return GroupValue(key, GROUP_MEASURE, kind=kind, field=field, p=p)

    return _selected(planner, measure_type, nodes, value_of)


def _selected(
    planner: Planner,
    object_type: GraphQLObjectType,
    nodes: list[FieldNode],
    value_of: Callable[[str, str, list[FieldNode]], GroupValue],
) -> tuple[GroupValue, ...]:
    """An object's values in the selection's order (fragments, aliases, @skip/@include as
    GraphQL collects them): `__typename` its type's name, any other field `value_of(key,
    name, nodes)`."""
    return tuple(
        GroupValue(key, GROUP_TYPENAME, type_name=object_type.name)
        if same[0].name.value == TYPENAME
        else value_of(key, same[0].name.value, same)
        for key, same in planner.subfields(nodes).items()
    )


def _object_type(kind: GraphQLOutputType) -> GraphQLObjectType:
    """The object type under a field type's non-null and list wrappers."""
    named = get_named_type(kind)
    if not isinstance(named, GraphQLObjectType):
        raise _NotInline(str(kind))
    return named
