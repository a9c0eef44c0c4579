"""Compiles a plan (graph.plan) into SQLAlchemy statements: pure, no I/O, per dialect."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Numeric,
    Select,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.types import TypeEngine

from graph.plan import (
    BoolOp,
    ChildRead,
    Compare,
    Filter,
    MeasureFilter,
    Page,
    Read,
    RelationFilter,
    Slot,
    SortKey,
)
from graph.spec.model import BIGINT_MAX, BIGINT_MIN, FieldType, RelationEnd, TableSpec
from graph.sql import dialects, measures
from graph.sql.computed import computed_column
from graph.sql.filters import (
    FilterContext,
    combine,
    compile_compare,
    does_not_hold,
    in_api_order,
)
from graph.sql.links import link_of
from graph.sql.tables import Catalog

# Extra columns the engine adds to a statement; they never collide with spec field names,
# which are snake_case and cannot start with an underscore.
LINK = "__link"
ROW_NUMBER = "__rn"
SORT_VALUE = "__k{}"


@dataclass(frozen=True)
class ChildStatement:
    """The statement for one relation level and how to read its rows back."""

    statement: Select[Any]
    # to-many relations whose owner holds the list: paging happens per parent in Python.
    page_in_python: bool


class Compiler:
    def __init__(self, catalog: Catalog, dialect: str, now: dt.datetime | None = None) -> None:
        self.catalog = catalog
        self.spec = catalog.spec
        self.dialect = dialect
        self.ctx = FilterContext(dialect, now or dt.datetime.now(dt.UTC))

    def column(self, table: TableSpec, source: FromClause, name: str) -> Any:
        """A field of the row `source` of `table`: its column, or a computed field's SQL."""
        field = table.field(name)
        if field.computed is None:
            return source.c[name]
        return computed_column(self, table, source, field)

    # -- filters ------------------------------------------------------------------------

    def where(self, table: TableSpec, source: FromClause, node: Filter) -> ColumnElement[bool]:
        if isinstance(node, Compare):
            field = table.field(node.field)
            column = self.column(table, source, node.field)
            return compile_compare(self.ctx, column, field, node.op, node.value)
        if isinstance(node, BoolOp):
            return combine(node.kind, [self.where(table, source, item) for item in node.items])
        if isinstance(node, MeasureFilter):
            return measures.measure_filter(self, source, node)
        return self._relation_filter(source, node)

    def _relation_filter(self, source: FromClause, node: RelationFilter) -> ColumnElement[bool]:
        target_spec = self.spec.table(node.end.target)
        target = self.catalog.table(node.end.target).alias()
        linked = self.link_condition(node.end, source, target)
        inner = self.where(target_spec, target, node.filter) if node.filter is not None else None
        if node.mode == "every":
            if inner is None:
                return true()
            # "every linked row matches" is "no linked row fails to match", two-valued.
            return not_(self._linked_exists(target, and_(linked, does_not_hold(inner))))
        condition = linked if inner is None else and_(linked, inner)
        found = self._linked_exists(target, condition)
        return not_(found) if node.mode == "none" else found

    @staticmethod
    def _linked_exists(target: FromClause, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        # Correlated to every enclosing table but the target: its condition may reach the
        # owner row from inside a nested subquery (a list column's elements).
        found = select(literal(1)).select_from(target).where(condition)
        return exists(found.correlate_except(target))

    def link_condition(
        self, end: RelationEnd, owner: FromClause, target: FromClause
    ) -> ColumnElement[bool]:
        """Join condition between an owner row and its linked target rows."""
        link = link_of(self.spec, end)
        local = link.operand(self.dialect, owner.c[end.local_field], link.local)
        remote = link.operand(self.dialect, target.c[end.remote_field], link.remote)
        if end.list_side == "local":
            condition = dialects.value_in_list_column(self.dialect, remote, local)
        elif end.list_side == "remote":
            condition = dialects.value_in_list_column(self.dialect, local, remote)
        else:
            condition = remote == local
        fixed = [owner.c[f] == v for f, v in end.local_where]
        fixed += [target.c[f] == v for f, v in end.remote_where]
        return and_(condition, *fixed) if fixed else condition

    # -- ordering -----------------------------------------------------------------------

    def sort_expression(self, table: TableSpec, source: FromClause, key: SortKey) -> Any:
        if not key.via and key.measure is not None:
            return measures.relation_measure(self, source, key.measure, ranked=True)
        if not key.via:
            field = table.field(key.field)
            if field.type is FieldType.ENUM:
                # Enums sort in the order their values are declared (low < medium < high <
                # critical), as PostgreSQL's own enum types do, not alphabetically.
                ranks = {value: rank for rank, value in enumerate(field.values)}
                return case(ranks, value=source.c[key.field])
            return in_api_order(self.dialect, self.column(table, source, key.field), field)
        end, rest = key.via[0], key.via[1:]
        target = self.catalog.table(end.target).alias()
        inner = self.sort_expression(
            self.spec.table(end.target), target, SortKey(key.field, via=rest, measure=key.measure)
        )
        condition = self.link_condition(end, source, target)
        linked = select(inner).select_from(target).where(condition).correlate_except(target)
        return linked.limit(1).scalar_subquery()

    def order_by(
        self, table: TableSpec, source: FromClause, order: tuple[SortKey, ...]
    ) -> list[UnaryExpression[Any]]:
        """Explicit null placement everywhere, and `id` last, so pages are stable on both."""
        keys = [self.sort_expression(table, source, key) for key in order]
        return _ordered(keys, order, source.c.id)

    # -- statements ---------------------------------------------------------------------

    def columns(self, read: Read, source: FromClause) -> list[Any]:
        """The requested columns plus what linking and paging need: nothing else is read."""
        table = self.spec.table(read.table)
        wanted = dict.fromkeys(("id", *read.columns))
        for child in read.children:
            wanted[child.end.local_field] = None
            wanted.update(dict.fromkeys(f for f, _ in child.end.local_where))
        return [self._selected(table, source, name) for name in wanted if table.has_field(name)]

    def _selected(self, table: TableSpec, source: FromClause, name: str) -> Any:
        column = self.column(table, source, name)
        return column if table.field(name).computed is None else column.label(name)

    def select_rows(self, read: Read, page: Page | None = None) -> Select[Any]:
        table = self.spec.table(read.table)
        source = self.catalog.table(read.table)
        stmt = select(*self.columns(read, source))
        if read.where is not None:
            stmt = stmt.where(self.where(table, source, read.where))
        stmt = stmt.order_by(*self.order_by(table, source, read.order))
        if page is None:
            if read.limit is not None:
                stmt = stmt.limit(read.limit)
            return stmt.offset(read.offset) if read.offset else stmt
        keys = [self.sort_expression(table, source, k) for k in read.order]
        stmt = stmt.add_columns(*(k.label(SORT_VALUE.format(i)) for i, k in enumerate(keys)))
        if page.after is not None:
            stmt = stmt.where(self.after_cursor(keys, read.order, page.after, source))
        return stmt.limit(page.first + 1)

    def after_cursor(
        self,
        keys: list[Any],
        order: tuple[SortKey, ...],
        values: tuple[Any, ...],
        source: FromClause,
    ) -> ColumnElement[bool]:
        """Rows strictly after the cursor in (sort keys..., id) order, nulls placed as sorted."""
        *sort_values, last_id = values
        condition: ColumnElement[bool] = source.c.id > _bound(last_id, source.c.id.type)
        for expr, key, value in reversed(list(zip(keys, order, sort_values, strict=True))):
            if value is None:
                later = expr.is_not(None) if key.nulls_first else false()
                same = expr.is_(None)
            else:
                # A bound parameter of the key's own type: SQLAlchemy refuses `> True` with a
                # Python bool, and dates and datetimes need their column's bind processing.
                # An integer sum beyond 64 bits (PostgreSQL's numeric sum) is bound as one.
                wide = isinstance(value, int) and not BIGINT_MIN <= value <= BIGINT_MAX
                bound = _bound(value, Numeric() if wide else expr.type)
                beyond = expr < bound if key.descending else expr > bound
                later = or_(beyond, expr.is_(None)) if not key.nulls_first else beyond
                same = expr == bound
            condition = or_(later, and_(same, condition))
        return condition

    def count_rows(self, read: Read) -> Select[Any]:
        table = self.spec.table(read.table)
        source = self.catalog.table(read.table)
        stmt = select(func.count()).select_from(source)
        if read.where is not None:
            stmt = stmt.where(self.where(table, source, read.where))
        return stmt

    def select_children(self, child: ChildRead, parent_values: list[Any]) -> ChildStatement:
        """One statement loads this relation for every parent row at once."""
        end, read = child.end, child.read
        table = self.spec.table(end.target)
        target = self.catalog.table(end.target)
        columns = self.columns(read, target)
        remote = target.c[end.remote_field]
        types = link_of(self.spec, end)
        conditions: list[ColumnElement[bool]] = []
        if end.list_side == "remote":
            pairs = self._list_links(target, remote, parent_values, types.value_type())
            link: Any = pairs.c[LINK]
            base = select(*columns, link).select_from(target.join(pairs, pairs.c.id == target.c.id))
        else:
            link = types.operand(self.dialect, remote, types.remote)
            base = select(*columns, link.label(LINK))
            one_of = dialects.one_of(self.dialect, link, parent_values, types.value_type())
            conditions.append(one_of)
        conditions += [target.c[f] == v for f, v in end.remote_where]
        if read.where is not None:
            conditions.append(self.where(table, target, read.where))
        base = base.where(*conditions)
        order = self.order_by(table, target, read.order)
        if not end.many or end.list_side == "local":
            return ChildStatement(base.order_by(*order), page_in_python=end.many)
        if self.dialect == dialects.POSTGRESQL:
            return ChildStatement(self._lateral_pages(child, parent_values), page_in_python=False)
        numbered = base.add_columns(
            func.row_number().over(partition_by=link, order_by=order).label(ROW_NUMBER)
        ).subquery()
        window = [numbered.c[ROW_NUMBER] > read.offset]
        if read.limit is not None:
            window.append(numbered.c[ROW_NUMBER] <= read.offset + read.limit)
        stmt = select(numbered).where(*window).order_by(numbered.c[LINK], numbered.c[ROW_NUMBER])
        return ChildStatement(stmt, page_in_python=False)

    def _list_links(
        self,
        target: FromClause,
        remote: ColumnElement[Any],
        parent_values: list[Any],
        value_type: TypeEngine[Any],
    ) -> Any:
        """(target id, link value) once per pair, for a list column on the target's side.

        A row whose list names the same key twice is linked to that parent once (a plain join
        with the list's elements would return it twice).
        """
        elements = dialects.list_elements(self.dialect, remote)
        return (
            select(target.c.id, elements.c.value.label(LINK))
            .select_from(target)
            .join(elements, true())
            .where(dialects.one_of(self.dialect, elements.c.value, parent_values, value_type))
            .distinct()
            .subquery("links")
        )

    def _lateral_pages(self, child: ChildRead, parent_values: list[Any]) -> Select[Any]:
        """PostgreSQL: each parent's page of linked rows from its own LIMITed subquery.

        A window over every linked row sorts all of them to keep a few per parent (18,000
        tickets sorted to keep 5 for each of 40 logs); a LATERAL subquery per link value lets
        PostgreSQL stop after the page, by index or top-N sort.
        """
        end, read = child.end, child.read
        table = self.spec.table(end.target)
        target = self.catalog.table(end.target)
        remote = target.c[end.remote_field]
        types = link_of(self.spec, end)
        links = dialects.unnest_values(parent_values, types.value_type())
        value = links.c.value
        if end.list_side != "remote":
            linked = types.operand(self.dialect, remote, types.remote) == value
        elif types.same_type:
            linked = dialects.list_holds(remote, value)  # @>: the GIN index serves it
        else:
            linked = dialects.value_in_list_column(self.dialect, value, remote)
        conditions = [linked, *(target.c[f] == v for f, v in end.remote_where)]
        if read.where is not None:
            conditions.append(self.where(table, target, read.where))
        keys = [self.sort_expression(table, target, key) for key in read.order]
        inner = (
            select(
                *self.columns(read, target),
                *(k.label(SORT_VALUE.format(i)) for i, k in enumerate(keys)),
            )
            .where(*conditions)
            .order_by(*_ordered(keys, read.order, target.c.id))
            .offset(read.offset)
        )
        if read.limit is not None:
            inner = inner.limit(read.limit)
        page = inner.lateral("page")
        sorted_page = [page.c[SORT_VALUE.format(i)] for i in range(len(keys))]
        return (
            select(page, links.c.value.label(LINK))
            .select_from(links.join(page, true()))
            .order_by(links.c.value, *_ordered(sorted_page, read.order, page.c.id))
        )


def _ordered(
    keys: list[Any], order: tuple[SortKey, ...], row_id: Any
) -> list[UnaryExpression[Any]]:
    """ORDER BY clauses for sort expressions: explicit null placement, then `id`, so pages
    are stable and the same on both databases."""
    clauses: list[UnaryExpression[Any]] = []
    for expr, key in zip(keys, order, strict=True):
        ordered = expr.desc() if key.descending else expr.asc()
        clauses.append(ordered.nulls_first() if key.nulls_first else ordered.nulls_last())
    clauses.append(row_id.asc())
    return clauses


def _bound(value: Any, kind: Any) -> Any:
    """A cursor's value as a bound parameter of `kind`; a Slot's is given when the statement
    runs (graph/sql/slots.py parameterized_page)."""
    if isinstance(value, Slot):
        return bindparam(value.name, type_=kind)
    return literal(value, kind)
