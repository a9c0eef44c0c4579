"""Which relation aggregates of a compiled selection the rows' statement builds itself.

A relation aggregate under rows (`playbooks(limit: 10) { executionsAggregate { count } }`) is
otherwise one more statement for all the rows at once, its groups put in place in Python
(graph/gql/compiled_groups.py): a root field with one costs two statements, is never a kept
statement of its own, and never binds to a document's variables. Without `groupBy`, though,
every parent row has exactly one group, of its linked rows: a correlated subquery of the
row's own statement can build that group's JSON (graph/sql/group_object.py), and the root
field is again ONE statement.

Built in the statement only where its answer is the reference path's by construction:
- no `groupBy`, `having`, `offset` or `fill`, and no `limit: 0` (the one group, whole);
- measures that are exact on both databases and cannot fail: `count`, `countDistinct`, and
  `min`/`max` of stored int, bigint, string, date, datetime and enum fields (the same SQL
  aggregate as the group statement: graph/sql/measures.py `extreme`). Sums, averages and
  percentiles (exact integer arithmetic in Python, float order, OUT_OF_RANGE), floats (`-0.0`
  and `0.0` tie, and which one min returns depends on the scan) and computed fields keep their
  own statement;
- at most MAX_PARENTS parent rows, known from the Read's limits before anything runs (a
  lookup: 1; a root list's `limit`, times each to-many relation's `limit` below it; a
  connection's nodes: not known). Within GRAPH_MAX_GROUPS too: the reference path refuses
  more groups than that with LIMIT_EXCEEDED, which only its own statement gives.
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
the subquery saves a statement's round trip and the groups' work in Python.
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import FieldNode, GraphQLObjectType, GraphQLOutputType, get_named_type

from graph.aggregate import COUNT, COUNT_DISTINCT, MAX, MEASURE_NAMES, MIN, ChildAggregate
from graph.gql.selection import Planner
from graph.plan import Read
from graph.shape import (
    GROUP_MEASURE,
    GROUP_NULL,
    GROUP_OBJECT,
    GROUP_TYPENAME,
    GroupValue,
)
from graph.spec.model import FieldType, RelationEnd

TYPENAME = "__typename"
# The most parent rows whose groups the rows' statement builds (module docstring).
MAX_PARENTS = 20
# The group's object fields that the statement builds: `count`, `key`, and these measures.
FIELD_MEASURES = frozenset({COUNT_DISTINCT, MIN, MAX})
# The field types whose extremes the statement writes as the reference path's answer.
EXTREME_TYPES = frozenset(
    {
        FieldType.INT,
        FieldType.BIGINT,
        FieldType.STRING,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.ENUM,
    }
)


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
    nodes: list[FieldNode],
    aggregate: ChildAggregate,
    rows: int | None,
) -> tuple[GroupValue, ...] | None:
    """The group object of the aggregate field `nodes` on rows of `table`, when the rows'
    statement builds it (module docstring); `rows`: the most such rows the answer holds
    (None: not known). None when the aggregate keeps its own statement."""
    read = aggregate.read
    if read.keys or read.having is not None or read.fill or read.offset or read.limit == 0:
        return None
    if rows is None or rows > min(MAX_PARENTS, read.max_groups):
        return None
    parent = planner.schema.type_map[planner.index[table].spec.type_name]
    assert isinstance(parent, GraphQLObjectType)
    try:
        group_type = _object_type(parent.fields[nodes[0].name.value].type)
        return _group(planner, group_type, nodes, aggregate.end.target)
    except _NotInline:
        return None


def _group(
    planner: Planner, group_type: GraphQLObjectType, nodes: list[FieldNode], target: str
) -> tuple[GroupValue, ...]:
    def value_of(key: str, name: str, same: list[FieldNode]) -> GroupValue:
        definition = group_type.fields.get(name)
        if definition is None or definition.args:
            raise _NotInline(name)
        kind = MEASURE_NAMES.get(name)
        if kind == COUNT:
            return GroupValue(key, GROUP_MEASURE, kind=COUNT)
        if name == "key":
            inner = _keys(planner, _object_type(definition.type), same)
        elif kind in FIELD_MEASURES:
            inner = _measures(planner, _object_type(definition.type), same, kind, target)
        else:
            raise _NotInline(name)
        return GroupValue(key, GROUP_OBJECT, inner=inner)

    return _selected(planner, group_type, nodes, value_of)


def _keys(
    planner: Planner, key_type: GraphQLObjectType, nodes: list[FieldNode]
) -> tuple[GroupValue, ...]:
    """The `key` object of an ungrouped group: every grouping key (and every to-one
    relation's key object) null."""
    return _selected(
        planner, key_type, nodes, lambda key, _name, _same: GroupValue(key, GROUP_NULL)
    )


def _measures(
    planner: Planner,
    measure_type: GraphQLObjectType,
    nodes: list[FieldNode],
    kind: str,
    target: str,
) -> tuple[GroupValue, ...]:
    """A measure's object (`min { durationMs }`): the measure of each selected field."""
    fields = planner.index[target].fields

    def value_of(key: str, name: str, _same: list[FieldNode]) -> GroupValue:
        field = fields.get(name)
        if field is None or field.computed is not None:
            raise _NotInline(name)
        if kind != COUNT_DISTINCT and field.type not in EXTREME_TYPES:
            raise _NotInline(name)
        return GroupValue(key, GROUP_MEASURE, kind=kind, field=field)

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
