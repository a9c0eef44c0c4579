"""Root resolvers: plan the whole selection, run it in one worker-thread hop, hand back rows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from graphql import FieldNode, GraphQLResolveInfo

from graph.aggregate import ChildAggregate
from graph.cursors import decode_cursor, encode_cursor, order_signature
from graph.errors import UserInputError
from graph.gql import compiled, compiled_connection
from graph.gql.context import RequestContext
from graph.gql.selection import Planner
from graph.plan import ChildRead, Compare, Page, Read, Rows
from graph.sql.execute import fetch_rows, sort_values


def planner_for(info: Any) -> Planner:
    ctx: RequestContext = info.context
    graph = ctx.graph
    return Planner(
        graph.spec, graph.index, graph.settings, info.schema, info.fragments, info.variable_values
    )


def only_root_field(info: GraphQLResolveInfo[Any]) -> bool:
    """Whether this field is the operation's only root field: one field, no directive (a
    conservative reading: `@skip` on a sibling or a fragment counts as another field)."""
    selections = info.operation.selection_set.selections
    only = selections[0] if len(selections) == 1 else None
    return isinstance(only, FieldNode) and not only.directives


def _root(
    info: GraphQLResolveInfo[Any],
) -> tuple[GraphQLResolveInfo[Any], Planner, str, dict[str, Any]]:
    planner = planner_for(info)
    args = planner.arguments(info.parent_type.name, info.field_nodes[0])
    key = str(info.path.key)
    # The reference path, unless the compiled one answers (resolve_list).
    info.context.paths[key] = compiled.REFERENCE
    return info, planner, key, args


async def resolve_list(table: str, info: GraphQLResolveInfo[Any]) -> list[dict[Any, Any]] | Any:
    raw, planner, key, args = _root(info)
    fields = planner.subfields(list(raw.field_nodes))
    read = planner.read(table, fields, args, (key,))
    sole = only_root_field(info)
    answer = await compiled.answer(planner, info.context, key, fields, read, one=False, sole=sole)
    if answer is not None:
        return answer
    rows: Rows = await info.context.session.run(
        lambda conn, compiler: fetch_rows(conn, compiler, read)
    )
    return rows.items


async def resolve_one(table: str, info: GraphQLResolveInfo[Any]) -> dict[Any, Any] | Any | None:
    raw, planner, key, args = _root(info)
    spec = planner.spec.table(table)
    given = {k: v for k, v in args.items() if v is not None}
    if len(given) != 1:
        raise UserInputError(f"give exactly one of {spec.key_field.gql_name} or id", (key,))
    ((name, value),) = given.items()
    field = spec.key if name != "id" else "id"
    fields = planner.subfields(list(raw.field_nodes))
    read = planner.read(table, fields, {}, (key,), many=False)
    read = replace(read, where=Compare(field, "eq", value), order=(), limit=1, offset=0)
    sole = only_root_field(info)
    answer = await compiled.answer(planner, info.context, key, fields, read, one=True, sole=sole)
    if answer is not None:
        return answer
    rows = await info.context.session.run(lambda conn, compiler: fetch_rows(conn, compiler, read))
    return rows.items[0] if rows.items else None


def named(fields: dict[str, list[FieldNode]], name: str) -> list[FieldNode]:
    """Every selection of the field `name`, whatever alias the client gave it."""
    return [node for found in fields.values() for node in found if node.name.value == name]


def _branches(
    planner: Planner, nodes: list[FieldNode]
) -> tuple[dict[str, list[FieldNode]], dict[str, list[FieldNode]]]:
    """The row fields asked for under `edges { node }`, and under `nodes`."""
    top = planner.subfields(nodes)
    edges = planner.subfields(named(top, "edges"))
    return planner.subfields(named(edges, "node")), planner.subfields(named(top, "nodes"))


def _merged(*branches: dict[str, list[FieldNode]]) -> dict[str, list[FieldNode]]:
    """The row fields of both branches: one Read fetches the page for both."""
    merged: dict[str, list[FieldNode]] = {}
    for fields in branches:
        for key, found in fields.items():
            known = merged.setdefault(key, [])
            if known and known[0].name.value != found[0].name.value:
                raise UserInputError(
                    f"alias {key!r} names different fields under edges.node and nodes", (key,)
                )
            known.extend(found)
    return merged


def _apart(
    planner: Planner,
    table: str,
    branches: tuple[dict[str, list[FieldNode]], dict[str, list[FieldNode]]],
    args: dict[str, Any],
    key: str,
) -> tuple[Read, Read] | None:
    """The Reads of `edges { node }` and of `nodes` apart, when both name a relation or a
    relation's aggregate by one response key but read it otherwise (other arguments or
    fields, at any depth). GraphQL answers each as asked; one Read planned from both would
    answer one of them as the other. None when one Read serves both (the common case)."""
    edge_fields, node_fields = branches
    if not (edge_fields.keys() & node_fields.keys()):
        return None
    reads = [planner.read(table, fields, args, (key,)) for fields in branches]
    edges_linked, nodes_linked = (_linked(r) for r in reads)
    shared = edges_linked.keys() & nodes_linked.keys()
    if all(edges_linked[k] == nodes_linked[k] for k in shared):
        return None
    return reads[0], reads[1]


def _linked(read: Read) -> dict[str, ChildRead | ChildAggregate]:
    """A Read's relations and relations' aggregates, by response key."""
    return {
        **{child.key: child for child in read.children},
        **{aggregate.key: aggregate for aggregate in read.aggregates},
    }


async def resolve_connection(table: str, info: GraphQLResolveInfo[Any]) -> dict[str, Any] | Any:
    raw, planner, key, args = _root(info)
    nodes = list(raw.field_nodes)
    branches = _branches(planner, nodes)
    page_args = {**args, "limit": None}
    read = planner.read(table, _merged(*branches), page_args, (key,))
    apart = _apart(planner, table, branches, page_args, key)
    first = planner.page_size(args.get("first"), (key, "first"))
    signature = order_signature(table, read.order)
    after = None
    if args.get("after") is not None:
        after = decode_cursor(planner.spec, table, read.order, args["after"], (key, "after"))
    wants_total = "totalCount" in {
        n.name.value for f in planner.subfields(nodes).values() for n in f
    }
    page = Page(first=first, after=after, want_total=wants_total)
    if apart is None:
        answer = await compiled_connection.answer_connection(
            planner, info.context, key, nodes, read, page, signature, sole=only_root_field(info)
        )
        if answer is not None:
            return answer
        rows = await info.context.session.run(
            lambda conn, compiler: fetch_rows(conn, compiler, read, page)
        )
        node_rows = rows.items
    else:
        # The page twice, in one snapshot: the same rows, each with its branch's relations.
        edges_read, nodes_read = apart
        rows, nodes_page = await info.context.session.run(
            lambda conn, compiler: (
                fetch_rows(conn, compiler, edges_read, page),
                fetch_rows(conn, compiler, nodes_read, replace(page, want_total=False)),
            )
        )
        node_rows = nodes_page.items
    count = len(read.order)
    edges = [
        {"cursor": encode_cursor(signature, sort_values(row, count)), "node": row}
        for row in rows.items
    ]
    return {
        "edges": edges,
        "nodes": node_rows,
        "page_info": {
            "has_next_page": rows.has_more,
            "has_previous_page": after is not None,
            "start_cursor": edges[0]["cursor"] if edges else None,
            "end_cursor": edges[-1]["cursor"] if edges else None,
        },
        "total_count": rows.total,
    }
