"""Keeps rollup fields (graph/spec/rollups.py) equal to what their linked rows say.

After a write, every parent row whose rollups may have changed is recomputed from its linked
rows by one UPDATE per parent table, in the writer's transaction. Recomputing (rather than
adding one) makes every kind of write right, status changes included: a log that goes from
running to succeeded is still one run. Parents are locked first (FOR NO KEY UPDATE, in id
order), so two transactions writing logs of one playbook take turns and the second counts the
first's log; link checks take KEY SHARE locks, which do not conflict with these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Float,
    FromClause,
    and_,
    case,
    cast,
    func,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from graph.spec.model import RelationEnd, RollupSpec, Spec, TableSpec
from graph.sql import dialects
from graph.sql.links import chunks, distinct_link_values, link_of

if TYPE_CHECKING:
    # Only named: graph/sql/compile.py reads computed rollups with rollup_value().
    from graph.sql.compile import Compiler


def _conditions(
    source: Any, conditions: tuple[tuple[str, tuple[Any, ...]], ...]
) -> list[ColumnElement[bool]]:
    return [source.c[name].in_(list(values)) for name, values in conditions]


def rollup_value(
    compiler: Compiler, table: TableSpec, parent: FromClause, rollup: RollupSpec
) -> Any:
    """The rollup of each `parent` row (the table, or an alias of it when a computed field
    reads it), as a correlated scalar subquery."""
    end = table.relation_end(rollup.relation)
    linked = compiler.catalog.table(end.target).alias()
    condition = [compiler.link_condition(end, parent, linked), *_conditions(linked, rollup.where)]
    if rollup.aggregate == "count":
        value: Any = func.count()
    elif rollup.aggregate == "share":
        # The mean of 1 (meets `matching`) and 0 (does not): null when no row is linked.
        value = func.avg(case((and_(*_conditions(linked, rollup.matching)), 1.0), else_=0.0))
    else:
        column = linked.c[rollup.of or ""]
        aggregate = getattr(func, rollup.aggregate)(column)
        if rollup.aggregate == "sum":
            aggregate = func.coalesce(aggregate, 0)
        elif rollup.aggregate == "avg":
            aggregate = cast(aggregate, Float())
        value = aggregate
    found = select(value).select_from(linked).where(*condition)
    computed = found.correlate(parent).scalar_subquery()
    if rollup.writable_until_linked:
        # Null means no linked row counts yet: the written value stands.
        return func.coalesce(computed, parent.c[rollup.field])
    return computed


def refresh(conn: Connection, compiler: Compiler, table: TableSpec, ids: Iterable[int]) -> None:
    """Recompute every rollup of these rows of `table` (locked first on PostgreSQL)."""
    if not table.rollups:
        return
    wanted = sorted(set(ids))
    if not wanted:
        return
    parent = compiler.catalog.table(table.name)
    values = {r.field: rollup_value(compiler, table, parent, r) for r in table.rollups}
    postgres = compiler.dialect == dialects.POSTGRESQL
    for batch in chunks(wanted):
        if postgres:
            lock = select(parent.c.id).where(parent.c.id.in_(batch)).order_by(parent.c.id)
            # FOR NO KEY UPDATE: conflicts with other rollups, not with link checks' KEY SHARE.
            conn.execute(lock.with_for_update(key_share=True, of=parent))
        conn.execute(update(parent).where(parent.c.id.in_(batch)).values(values))


def refresh_all(
    conn: Connection, compiler: Compiler, table: TableSpec, touched_at: dt.datetime
) -> None:
    """Recompute the rollups of every row (after seeding, or to repair by hand).

    `updated_at` becomes `touched_at` rather than the clock's now, so that a seed stays the
    same on every database and every run.
    """
    if not table.rollups:
        return
    parent = compiler.catalog.table(table.name)
    values: dict[str, Any] = {
        r.field: rollup_value(compiler, table, parent, r) for r in table.rollups
    }
    values["updated_at"] = touched_at
    conn.execute(update(parent).values(values))


def _counting_ends(spec: Spec, child: TableSpec) -> list[tuple[TableSpec, RelationEnd]]:
    """(parent table, its relation end) for every rollup that counts rows of `child`."""
    return [
        (table, end)
        for table in spec.tables.values()
        for end in {table.relation_end(r.relation) for r in table.rollups}
        if end.target == child.name
    ]


def counting_tables(spec: Spec, child: TableSpec) -> list[str]:
    """Tables with rollups that count rows of `child`."""
    return sorted({table.name for table, _ in _counting_ends(spec, child)})


def link_fields(spec: Spec, child: TableSpec) -> list[str]:
    """Fields of `child` by which its rows link to parents that count them."""
    return sorted({end.remote_field for _, end in _counting_ends(spec, child)})


def parents_of(
    conn: Connection, compiler: Compiler, child: TableSpec, rows: list[dict[str, Any]]
) -> dict[str, set[int]]:
    """Rows of other tables whose rollups count any of these child rows (as link_rows()
    of graph/sql/write.py read them: id plus the link fields)."""
    found: dict[str, set[int]] = {}
    for table, end in _counting_ends(compiler.spec, child):
        remote = link_of(compiler.spec, end).remote
        values = distinct_link_values(rows, remote)
        if values:
            ids = _parents_holding(conn, compiler, table, end, sorted(values, key=repr))
            found.setdefault(table.name, set()).update(ids)
    return found


def _parents_holding(
    conn: Connection, compiler: Compiler, table: TableSpec, end: RelationEnd, values: list[Any]
) -> set[int]:
    parent = compiler.catalog.table(table.name)
    link = link_of(compiler.spec, end)
    ids: set[int] = set()
    for batch in chunks(values):
        column = parent.c[end.local_field]
        condition = link.holds_any(compiler.dialect, column, link.local, list(batch))
        ids.update(int(i) for i in conn.execute(select(parent.c.id).where(condition)).scalars())
    return ids
