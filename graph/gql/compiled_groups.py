"""Relation aggregates in a compiled answer (`playbooks { name executionsAggregate { count } }`)
that the rows' statement does not build itself (graph/gql/inline_groups.py says which it does).

The rows' statement (graph/sql/response.py) writes each parent row's id where its groups go
(graph/shape.py AggregateEntry). Each relation aggregate then runs its own ONE statement for
every parent row of the answer at once, as the reference path runs it (graph/sql/aggregate.py
run_for_parents: the same SQL, the same finishing in Python, the same checks), in the same
snapshot; its groups are written by the group encoder (graph/gql/group_encoder.py) and put in
place of the ids. A root field with relation aggregates thus costs one statement for its rows
and one per aggregate field, whatever the number of rows, and nothing of it goes through
graphql-core's completion, whose per-row argument coercion of the aggregate fields was most of
such a request's time.

The statements run in the reference path's order (the aggregates below a level's relations,
in the relations' order, before the level's own), so a request that exceeds GRAPH_MAX_GROUPS
or a number's range in two places meets the same error first (a connection, whose two
branches may each hold aggregates, leaves such errors to the reference path). Groups
graphql-core would answer with an error (a null under a non-null field, a value a scalar
refuses) go to the reference path, which gives that error at its path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson
from graphql import FieldNode, GraphQLObjectType
from sqlalchemy import Connection

from graph.aggregate import ChildAggregate, Group
from graph.gql.group_encoder import GroupEncoder, NotEncodable
from graph.gql.group_shaper import GroupShaper
from graph.gql.selection import Planner
from graph.plan import Read
from graph.sql.aggregate import AggregateCompiler, Parents
from graph.sql.compile import Compiler


@dataclass(frozen=True)
class GroupSite:
    """A relation aggregate of a compiled selection: where its parent rows sit in the answer
    (the response keys of the relations leading to them from the root), the key under which
    the statement wrote each parent's id, what the aggregate reads, and how its groups are
    written."""

    path: tuple[str, ...]
    key: str
    aggregate: ChildAggregate
    encoder: GroupEncoder


def plan_site(
    planner: Planner,
    table: str,
    path: tuple[str, ...],
    key: str,
    nodes: list[FieldNode],
    aggregate: ChildAggregate,
) -> GroupSite | None:
    """The site of the aggregate field `nodes` (response key `key`) on rows of `table`; None
    when its selection cannot be encoded (the reference path answers the root field)."""
    parent = planner.schema.type_map[planner.index[table].spec.type_name]
    assert isinstance(parent, GraphQLObjectType)
    definition = parent.fields[nodes[0].name.value]
    try:
        encoder = GroupEncoder(definition.type, nodes, planner.fragments, planner.variables)
    except NotEncodable:
        return None
    return GroupSite(path, key, aggregate, encoder)


def without_aggregates(read: Read) -> Read:
    """`read` without its relation aggregates, at every level: what the rows' statement
    depends on (the Shape's AggregateEntry says where the ids go), and its cache key."""
    children = tuple(replace(c, read=without_aggregates(c.read)) for c in read.children)
    return replace(read, children=children, aggregates=())


def parent_rows(answer: Any, path: tuple[str, ...]) -> list[dict[str, Any]]:
    """The objects `path` leads to from the answer's root (a list, an object or null)."""
    rows = answer if isinstance(answer, list) else [answer]
    for key in path:
        linked: list[Any] = []
        for row in rows:
            if row is None:
                continue
            value = row[key]
            if isinstance(value, list):
                linked.extend(value)
            else:
                linked.append(value)
        rows = linked
    return [row for row in rows if row is not None]


async def place_groups(context: Any, answers: list[tuple[Any, list[GroupSite]]]) -> bool:
    """Put the groups of each answer's sites (an answer: a list, an object or null) in place
    of its parents' ids: one statement per site, all in the request's snapshot. False when
    graphql-core would answer some group with an error (nothing is then worth keeping: the
    reference path answers the root field). An aggregate's error (GRAPH_MAX_GROUPS, a number
    beyond its range) is raised as the reference path raises it."""
    visits = [(site, parent_rows(answer, site.path)) for answer, sites in answers for site in sites]
    found = await context.session.run(
        lambda conn, compiler: [_read_site(conn, compiler, *visit) for visit in visits]
    )
    shaper: GroupShaper = context.graph.group_shaper
    return all(
        _place_site(site, rows, groups, shaper)
        for (site, rows), groups in zip(visits, found, strict=True)
    )


def _read_site(
    conn: Connection, compiler: Compiler, site: GroupSite, rows: list[dict[str, Any]]
) -> dict[int, list[Group]]:
    """The site's groups, by parent id: one statement for all its parent rows."""
    ids = list(dict.fromkeys(int(row[site.key]) for row in rows))
    parents = Parents(site.aggregate.end, ids)
    return AggregateCompiler(compiler).run_for_parents(conn, site.aggregate.read, parents)


def _place_site(
    site: GroupSite,
    rows: list[dict[str, Any]],
    groups: dict[int, list[Group]],
    shaper: GroupShaper,
) -> bool:
    """Put each parent row's encoded groups in place of its id; False when graphql-core would
    answer some of them with an error."""
    table = shaper.spec.table(site.aggregate.end.target)
    encoded: dict[int, orjson.Fragment] = {}
    for row in rows:
        parent = int(row[site.key])
        if parent not in encoded:
            shaped = [shaper.shaped(table, group) for group in groups.get(parent, [])]
            try:
                encoded[parent] = site.encoder.encode(shaped)
            except NotEncodable:
                return False
        row[site.key] = encoded[parent]
    return True
