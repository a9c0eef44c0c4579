"""Runs compiled plans: the only module of the read path that talks to the database."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from graph.plan import ChildRead, Compare, Page, Read, Rows, link_key
from graph.sql.aggregate import attach_groups
from graph.sql.compile import LINK, ROW_NUMBER, SORT_VALUE, Compiler


def fetch_rows(conn: Connection, compiler: Compiler, read: Read, page: Page | None = None) -> Rows:
    """Rows of a root read, with every requested relation attached (one statement per level)."""
    result = conn.execute(compiler.select_rows(read, page))
    items = [dict(row) for row in result.mappings()]
    has_more = False
    if page is not None and len(items) > page.first:
        items.pop()
        has_more = True
    total = None
    if page is not None and page.want_total:
        total = int(conn.execute(compiler.count_rows(read)).scalar_one())
    fetch_children(conn, compiler, read, items)
    return Rows(items, has_more, total)


def sort_values(row: dict[Any, Any], count: int) -> tuple[Any, ...]:
    """The values a keyset cursor needs: the sort keys, then the id."""
    return (*(row[SORT_VALUE.format(i)] for i in range(count)), row["id"])


def fetch_children(
    conn: Connection, compiler: Compiler, read: Read, parents: list[dict[Any, Any]]
) -> None:
    for child in read.children:
        _fetch_child(conn, compiler, child, parents)
    for aggregate in read.aggregates:
        attach_groups(conn, compiler, aggregate, parents)


def _parent_links(child: ChildRead, parent: dict[Any, Any]) -> list[Any]:
    """The values a parent row links by, or none when the relation's fixed conditions fail."""
    end = child.end
    if any(parent.get(f) != v for f, v in end.local_where):
        return []
    value = parent.get(end.local_field)
    if value is None:
        return []
    return list(value) if end.list_side == "local" else [value]


def _fetch_child(
    conn: Connection, compiler: Compiler, child: ChildRead, parents: list[dict[Any, Any]]
) -> None:
    key, end, read = link_key(child.key), child.end, child.read
    links = [_parent_links(child, p) for p in parents]
    wanted = list(dict.fromkeys(v for values in links for v in values))
    if not wanted:
        for parent in parents:
            parent[key] = [] if end.many else None
        return
    statement = compiler.select_children(child, wanted)
    groups: dict[Any, list[dict[Any, Any]]] = defaultdict(list)
    loaded: list[dict[Any, Any]] = []
    for row in conn.execute(statement.statement).mappings():
        item = dict(row)
        link = item.pop(LINK)
        item.pop(ROW_NUMBER, None)
        groups[link].append(item)
        loaded.append(item)
    position = {id(row): i for i, row in enumerate(loaded)}
    for parent, values in zip(parents, links, strict=True):
        if not end.many:
            found = groups.get(values[0]) if values else None
            parent[key] = found[0] if found else None
        elif statement.page_in_python:
            parent[key] = _page(_in_query_order(groups, values, position), read)
        else:
            parent[key] = groups.get(values[0], []) if values else []
    if statement.page_in_python:
        # Only the rows a page kept are parents below: the relations and aggregates of the
        # others would be read for nothing, and GRAPH_MAX_GROUPS counts the groups of the
        # rows answered (as the compiled path does, graph/gql/compiled_groups.py).
        loaded = list({id(row): row for parent in parents for row in parent[key]}.values())
    fetch_children(conn, compiler, read, loaded)


def _in_query_order(
    groups: dict[Any, list[dict[Any, Any]]], values: list[Any], position: dict[int, int]
) -> list[Any]:
    """Rows linked to any of `values`, in the order the statement sorted them."""
    rows = [row for value in dict.fromkeys(values) for row in groups.get(value, [])]
    return sorted(rows, key=lambda row: position[id(row)])


def _page(rows: list[Any], read: Read) -> list[Any]:
    end = None if read.limit is None else read.offset + read.limit
    return rows[read.offset : end]


def fetch_by_ids(conn: Connection, compiler: Compiler, read: Read, ids: list[int]) -> list[Any]:
    """The rows with these ids, in the order of `ids` (what a write hands back)."""
    if not ids:
        return []
    # ids come from this transaction's own write, at most the write limit of them.
    by_id = replace(read, where=Compare("id", "in", ids), order=(), limit=None, offset=0)
    rows = fetch_rows(conn, compiler, by_id).items
    position = {row_id: i for i, row_id in enumerate(ids)}
    return sorted(rows, key=lambda row: position[row["id"]])
