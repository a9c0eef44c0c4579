"""A Read's comparison values taken out of it, so that one built statement serves them all.

The compiled path keeps the statements it builds (graph/gql/compiled.py). Kept by the whole
Read, a statement would serve only the request that built it and its exact repeats: a
dashboard that asks for another status, another day or another id would build its statement
again. `parameterized` replaces the value of every comparison whose SQL does not depend on
its value (filters.takes_slot: `eq` ... `lte` but null, `in`/`nin` but empty) with a Slot, a
named parameter, and returns the values apart. The Read with Slots keys the kept statement;
the values are given when it runs.

The values go through filters.slot_value, the transformation compile_compare applies to a
value it binds itself, so a statement with Slots binds what the same statement built with the
values would. Everything else stays in the Read, and so in the key: nulls, empty lists, the
other operators (patterns, json, lists, windows), relation aggregates' filters (but those
of the aggregates the statement builds itself: parameterized_with_groups), limits, offsets
and orderings. A connection's cursor values are Slots too (parameterized_page).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from graph.aggregate import ChildAggregate
from graph.plan import BoolOp, ChildRead, Compare, Filter, Page, Read, RelationFilter, Slot
from graph.shape import GroupsEntry, LinkEntry, Shape
from graph.spec.model import BIGINT_MAX, BIGINT_MIN, Spec
from graph.sql.filters import slot_value, takes_slot


def parameterized(spec: Spec, read: Read) -> tuple[Read, dict[str, Any]]:
    """`read` with Slots for its comparison values, at every level of its relations, and the
    parameters they stand for. Two Reads that differ only in those values give equal Reads
    here, with the Slots in the same places under the same names."""
    values: dict[str, Any] = {}
    return _read(spec, read, values, None)[0], values


def parameterized_with_groups(
    spec: Spec, read: Read, shape: Shape
) -> tuple[Read, Shape, dict[str, Any]]:
    """`parameterized`, and the comparison values of the `where` of every relation aggregate
    whose groups the statement builds (a GroupsEntry of `shape`) taken out too, in the Read
    and in the Shape alike: a dashboard's time window or status given to such an aggregate
    by a variable no longer makes a statement of its own per value."""
    values: dict[str, Any] = {}
    template, template_shape = _read(spec, read, values, shape if shape.holds_groups else None)
    return template, template_shape or shape, values


def _read(
    spec: Spec, read: Read, values: dict[str, Any], shape: Shape | None
) -> tuple[Read, Shape | None]:
    """`read` with Slots (and `shape`, when given, with the Slots of its built groups)."""
    where = None if read.where is None else _filter(spec, read.table, read.where, values)
    links = {} if shape is None else {e.key: e for e in shape.entries if isinstance(e, LinkEntry)}
    children: list[ChildRead] = []
    link_shapes: dict[str, Shape] = {}
    for child in read.children:
        link = links.get(child.key)
        below = link.shape if link is not None and link.shape.holds_groups else None
        child_read, child_shape = _read(spec, child.read, values, below)
        children.append(replace(child, read=child_read))
        if child_shape is not None:
            link_shapes[child.key] = child_shape
    parameterized_read = replace(read, where=where, children=tuple(children))
    if shape is None:
        return parameterized_read, None
    # The entry's aggregate, not the Read's: a Read whose other aggregates run their own
    # statements comes without any (compiled.py without_aggregates).
    built = {
        e.key: _aggregate(spec, e.aggregate, values)
        for e in shape.entries
        if isinstance(e, GroupsEntry)
    }
    aggregates = tuple(built.get(a.key, a) for a in read.aggregates)
    entries = tuple(
        replace(e, aggregate=built[e.key])
        if isinstance(e, GroupsEntry)
        else replace(e, shape=link_shapes[e.key])
        if isinstance(e, LinkEntry) and e.key in link_shapes
        else e
        for e in shape.entries
    )
    return replace(parameterized_read, aggregates=aggregates), Shape(entries)


def _aggregate(spec: Spec, aggregate: ChildAggregate, values: dict[str, Any]) -> ChildAggregate:
    where = aggregate.read.where
    if where is None:
        return aggregate
    where = _filter(spec, aggregate.read.table, where, values)
    return replace(aggregate, read=replace(aggregate.read, where=where))


def _filter(spec: Spec, table: str, node: Filter, values: dict[str, Any]) -> Filter:
    if isinstance(node, Compare):
        if not takes_slot(node.op, node.value):
            return node
        name = f"slot_{len(values)}"
        field = spec.table(table).field(node.field)
        values[name] = slot_value(field, node.op, node.value)
        return replace(node, value=Slot(name))
    if isinstance(node, BoolOp):
        items = tuple(_filter(spec, table, item, values) for item in node.items)
        return replace(node, items=items)
    if isinstance(node, RelationFilter) and node.filter is not None:
        return replace(node, filter=_filter(spec, node.end.target, node.filter, values))
    # A relation aggregate's filter (MeasureFilter) keeps its values.
    return node


def slot_compares(spec: Spec, read: Read) -> dict[str, tuple[str, Compare]]:
    """The table and the Compare of every Slot in a parameterized Read, by the Slot's name."""
    found: dict[str, tuple[str, Compare]] = {}
    pending: list[tuple[str, Filter | None]] = []
    reads = [read]
    while reads:
        current = reads.pop()
        pending.append((current.table, current.where))
        pending.extend((a.read.table, a.read.where) for a in current.aggregates)
        reads.extend(child.read for child in current.children)
    while pending:
        table, node = pending.pop()
        if isinstance(node, Compare) and isinstance(node.value, Slot):
            found[node.value.name] = (table, node)
        elif isinstance(node, BoolOp):
            pending.extend((table, item) for item in node.items)
        elif isinstance(node, RelationFilter):
            pending.append((node.end.target, node.filter))
    return found


def parameterized_page(page: Page, values: dict[str, Any]) -> Page:
    """`page` with Slots for its cursor's values (each sort value, then the id), their
    parameters added to `values`: the pages of one walk run one statement. A null stays (its
    condition is another), and so does an integer beyond 64 bits (a relation's sum on
    PostgreSQL, bound as a numeric: compile.after_cursor)."""
    if page.after is None:
        return page
    after: list[Any] = []
    for value in page.after:
        if value is None or (isinstance(value, int) and not BIGINT_MIN <= value <= BIGINT_MAX):
            after.append(value)
            continue
        name = f"slot_{len(values)}"
        values[name] = value
        after.append(Slot(name))
    return replace(page, after=tuple(after))
