"""Compiles a connection's page (a root `...Connection` field) into ONE statement: a row per
node of the page, each holding the node's object as JSON text (graph/sql/response.py builds
it, relations included) once per distinct shape the client asked for (`edges { node }` and
`nodes` may select different fields), the values its cursor is made of, and its id; one row
more than the page shows, so that the caller knows whether more follow.

The sort values come back through SQLAlchemy's types, as the reference path's page reads them
(graph/sql/compile.py, select_rows), so that a cursor the compiled path writes is the
reference path's, byte for byte (graph/cursors.py encodes both).

The nodes' relation aggregates built in the statement (graph/gql/inline_groups.py) are
correlated subqueries of each row, or, on a page of more rows, a grouped subquery over the
page's rows (its filter, cursor, order and size repeated) LEFT JOINed to them
(graph/sql/group_object.py joined_groups), as under a root list.

With `totalCount`, the page is joined to the count of every row the filter keeps (the page's
own rows start after the cursor; the count does not): one row of nulls carries the count
when the page is empty.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Text, cast, func, select, true

from graph.plan import Page, Read
from graph.shape import Shape
from graph.sql.compile import SORT_VALUE
from graph.sql.group_object import join_groups
from graph.sql.response import ResponseCompiler

NODE = "__node{}"
TOTAL = "__total"
POSITION = "__position"


def page_statement(
    response: ResponseCompiler, read: Read, page: Page, shapes: tuple[Shape, ...]
) -> Select[Any]:
    """The statement of a connection's page: columns NODE.format(i) for each of `shapes`,
    SORT_VALUE.format(i) for each sort key, `id`, and TOTAL when the page wants the count;
    rows in the page's order, at most `page.first + 1`."""
    compiler = response.compiler
    table = compiler.spec.table(read.table)
    source = compiler.catalog.table(read.table)
    keys = [compiler.sort_expression(table, source, key) for key in read.order]
    conditions = []
    if read.where is not None:
        conditions.append(compiler.where(table, source, read.where))
    if page.after is not None:
        conditions.append(compiler.after_cursor(keys, read.order, page.after, source))
    # The nodes' relation aggregates joined to the page's rows (a page of more rows than
    # graph/gql/inline_groups.py MAX_PARENTS): their grouped subqueries, per node shape.
    rows_from: Any = source
    columns: list[Any] = []
    for i, shape in enumerate(shapes):
        joined = join_groups(response, shape, read, source, rows_from, page)
        rows_from = joined.rows_from
        node = response.row_object(read, shape, source, joined)
        columns.append(cast(node, Text).label(NODE.format(i)))
    columns += [key.label(SORT_VALUE.format(i)) for i, key in enumerate(keys)]
    columns.append(source.c.id)
    order = compiler.order_by(table, source, read.order)
    rows: Select[Any] = (
        select(*columns)
        .select_from(rows_from)
        .where(*conditions)
        .order_by(*order)
        .limit(page.first + 1)
    )
    if not page.want_total:
        return rows
    positioned = rows.add_columns(func.row_number().over(order_by=order).label(POSITION))
    found = positioned.subquery("page")
    counted = select(compiler.count_rows(read).scalar_subquery().label(TOTAL)).subquery("counted")
    # Labelled again: a sort value is read as a cursor's (an instant PostgreSQL holds beyond
    # Python's, `-infinity` too, as its text) by its label alone (graph/sql/types.py
    # _is_cursor_sort_value); a subquery's bare column would read as a row's value, null.
    return (
        select(counted.c[TOTAL], *(found.c[column.name].label(column.name) for column in columns))
        .select_from(counted.outerjoin(found, true()))
        .order_by(found.c[POSITION])
    )
