"""The compiled path of connections (`executionLogsConnection(...)`): the page's nodes, their
relations included, built as JSON by ONE statement (graph/sql/page_response.py), and the
connection around them (edges, cursors, pageInfo, totalCount) assembled here, in the client's
order, without GraphQL completing the nodes field by field.

plan (the reference resolver's Read and Page: the same validation, `first`, cursor decoding
and errors, graph/gql/resolvers.py) -> shape (PageShape below: the connection's parts, and a
Shape per distinct node selection, or None when something is not compiled) -> compile
(graph/sql/page_response.py) -> execute -> assemble. Cursors are encoded from the sort values
the statement returns through SQLAlchemy's types, by the reference path's own encoder
(graph/cursors.py): the same text. The nodes' relation aggregates are built in the page's
statement where graph/gql/inline_groups.py allows it (per row on a page of a few rows, joined
to the page's rows on a bigger one); the others are put in place after the page is read, one
statement per aggregate field (graph/gql/compiled_groups.py), and such a connection is not
prepared.

A connection's statement is kept, for the same Read, PageShape and Page, as SQLAlchemy's
statement (not the driver's text, as the statement cache keeps for JSON values): its sort
values must come back through SQLAlchemy's types. A request whose only root field is such a
connection is answered again without GraphQL (PreparedPage); on PostgreSQL, on the event loop,
its rows read as SQLAlchemy read them on the first run (graph/sql/driver_rows.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import orjson
from graphql import FieldNode
from sqlalchemy import Connection, Select

from graph import naming
from graph.cursors import encode_cursor
from graph.errors import LimitExceededError, OutOfRangeError
from graph.gql.compiled import COMPILED, NOT_RUN, StatementNoted, execute_or_not_run, shape_of
from graph.gql.compiled_groups import GroupSite, place_groups, without_aggregates
from graph.gql.prepared import read_alone
from graph.gql.selection import Planner
from graph.plan import Page, Read
from graph.shape import Shape
from graph.sql.compile import Compiler
from graph.sql.driver_rows import RowReader
from graph.sql.driver_template import DriverTemplate
from graph.sql.engine import load_json
from graph.sql.execute import sort_values
from graph.sql.page_response import NODE, TOTAL, page_statement
from graph.sql.response import ResponseCompiler
from graph.sql.slots import parameterized, parameterized_page
from graph.sql.statement_cache import DriverStatement, Key, recording
from graph.sql.timeouts import raise_if_timeout

if TYPE_CHECKING:
    from graph.gql.context import GraphContext

# The kind of a connection's statement in the cache keys (graph/gql/compiled.py has LIST, ONE).
PAGE = "page"
# The kinds of a connection's parts, and of its edges' parts.
TYPENAME = "typename"
TOTAL_COUNT = "totalCount"
NODES = "nodes"
EDGES = "edges"
PAGE_INFO = "pageInfo"
CURSOR = "cursor"
NODE_OF_EDGE = "node"
PAGE_INFO_FIELDS = frozenset(
    {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"}
)
# (response key, kind, detail): a type name, a node shape's index, an edge's or pageInfo's parts.
Part = tuple[str, str, Any]


@dataclass(frozen=True)
class PageShape:
    """What a connection's answer holds: its parts in the client's order, and the distinct
    Shapes of its nodes (`edges { node { ... } }` and `nodes { ... }` may differ)."""

    parts: tuple[Part, ...]
    nodes: tuple[Shape, ...]

    @property
    def wants_cursors(self) -> bool:
        for _key, kind, detail in self.parts:
            if kind == EDGES and any(part[1] == CURSOR for part in detail):
                return True
            if kind == PAGE_INFO and any(name.endswith("Cursor") for _k, name in detail):
                return True
        return False


def page_shape(
    planner: Planner,
    table: str,
    nodes: list[FieldNode],
    read: Read,
    node_sites: list[list[GroupSite]],
    first: int,
) -> PageShape | None:
    """The PageShape of a connection field (`nodes`: its field nodes) whose Read is `read`,
    or None when something in its selection is not compiled. `node_sites` receives, per node
    Shape, its relation aggregates (graph/gql/compiled_groups.py); `first`: the page's size.

    The page's statement reads `first + 1` rows: within MAX_PARENTS of them, the nodes'
    relation aggregates may be built by a correlated subquery per row; beyond, those of one
    group per row by a grouped subquery joined to the page's rows, as under a root list
    (graph/gql/inline_groups.py, graph/sql/page_response.py)."""
    type_name = planner.index[table].spec.type_name
    shapes: list[Shape] = []
    rows = first + 1

    def node_index(found: list[FieldNode]) -> int | None:
        sites: list[GroupSite] = []
        shape = shape_of(planner, table, planner.subfields(found), read, sites, rows=rows)
        if shape is None:
            return None
        # A Shape with relation aggregates is never shared: its groups' encoders are its
        # selection's own (`{ count }` and `{ n: count }` are equal Shapes).
        if sites or shape not in shapes:
            shapes.append(shape)
            node_sites.append(sites)
            return len(shapes) - 1
        return shapes.index(shape)

    parts: list[Part] = []
    for key, found in planner.subfields(nodes).items():
        name = found[0].name.value
        if name == "__typename":
            parts.append((key, TYPENAME, naming.connection_type_name(type_name)))
        elif name == "totalCount":
            parts.append((key, TOTAL_COUNT, None))
        elif name == "nodes":
            index = node_index(found)
            if index is None:
                return None
            parts.append((key, NODES, index))
        elif name == "edges":
            edge = _edge_parts(planner.subfields(found), type_name, node_index)
            if edge is None:
                return None
            parts.append((key, EDGES, edge))
        elif name == "pageInfo":
            info = tuple((k, f[0].name.value) for k, f in planner.subfields(found).items())
            if any(field not in PAGE_INFO_FIELDS for _k, field in info):
                return None
            parts.append((key, PAGE_INFO, info))
        else:
            return None
    return PageShape(tuple(parts), tuple(shapes))


def _edge_parts(
    fields: dict[str, list[FieldNode]],
    type_name: str,
    node_index: Callable[[list[FieldNode]], int | None],
) -> tuple[Part, ...] | None:
    """The parts of an edge whose selection is `fields`; None when one is not compiled."""
    edge: list[Part] = []
    for key, found in fields.items():
        name = found[0].name.value
        if name == "__typename":
            edge.append((key, TYPENAME, naming.edge_type_name(type_name)))
        elif name == "cursor":
            edge.append((key, CURSOR, None))
        elif name == "node":
            index = node_index(found)
            if index is None:
                return None
            edge.append((key, NODE_OF_EDGE, index))
        else:
            return None
    return tuple(edge)


async def answer_connection(
    planner: Planner,
    context: Any,
    key: str,
    nodes: list[FieldNode],
    read: Read,
    page: Page,
    signature: str,
    *,
    sole: bool = False,
) -> orjson.Fragment | None:
    """A connection's answer by the compiled path, the field marked as compiled in
    `context.paths`; None when the path is off, the selection holds something it does not
    build, SQLite could not run the statement, or a node holds a null under a non-null
    field: the reference path answers then. `signature`: the ordering's, for cursors."""
    if not planner.settings.compiled:
        return None
    node_sites: list[list[GroupSite]] = []
    shape = page_shape(planner, read.table, nodes, read, node_sites, page.first)
    if shape is None:
        return None
    grouped = any(node_sites)
    if grouped:
        read = without_aggregates(read)

    graph = context.graph
    # The statement built for the same page of the same Read but its comparison values and
    # its cursor's values, run with this request's (graph/sql/slots.py).
    template_read, parameters = parameterized(graph.spec, read)
    template_page = parameterized_page(page, parameters)
    template_key = graph.statements.key(PAGE, template_read, shape, template_page)
    kept = graph.templates.get(template_key) if template_key is not None else None

    alone = sole and not grouped
    if context.session.planning_only:
        # What a kept document's binding would run (graph/gql/document_bindings.py): the
        # template's driver text, once the template ran, bound to the request's values.
        reader = graph.page_readers.get(template_key) if template_key is not None else None
        answerer = (
            BoundPage(shape, read, page, signature, kept, reader)
            if kept is not None and reader is not None
            else None
        )
        raise StatementNoted(PAGE, template_read, template_key, parameters, answerer, alone)
    # On PostgreSQL, a page answering the whole operation runs the driver's text of its
    # template, bound to this request's values, on the event loop (ReadSession.rows), once
    # the template has run through SQLAlchemy: what that run sent the driver is recorded.
    record = alone and template_key is not None and graph.dialect == "postgresql"
    found = (
        await _bound_page(context, template_key, kept, parameters)
        if record and template_key is not None and kept is not None
        else None
    )
    if found is not None:
        rows, statement, driver = found
    else:

        def run(
            conn: Connection, compiler: Compiler
        ) -> tuple[Any, Select[Any] | None, LoopPage | None]:
            """The page's rows (or NOT_RUN), the statement a later request may reuse, and
            the driver's text that answers this request again on the event loop."""
            statement = kept
            if statement is None:
                response = ResponseCompiler(compiler)
                statement = page_statement(response, template_read, template_page, shape.nodes)
            nothing_recorded: list[DriverStatement] = []
            with recording() if record else nullcontext(nothing_recorded) as sent:
                result = execute_or_not_run(conn, statement, parameters)
            if result is NOT_RUN:
                return NOT_RUN, None, None
            reader = RowReader.of(statement, result, conn.dialect) if len(sent) == 1 else None
            rows = result.mappings().all()
            # A statement holding the request's moment is this request's only.
            if template_key is None or compiler.ctx.moment_read:
                return rows, None, None
            if kept is None:
                graph.templates.put(template_key, statement)
            if reader is None:
                return rows, statement, None
            driver = DriverTemplate.recorded(
                sent[0], result.context.compiled, conn.dialect, parameters
            )
            if driver is not None:
                graph.driver_templates.put(template_key, driver)
                graph.page_readers.put(template_key, reader)
            return rows, statement, LoopPage(sent[0], reader)

        # With relation aggregates, their statements must see the page's snapshot.
        rows, statement, driver = await context.session.run(run, alone=alone)
        if rows is NOT_RUN:
            return None
    assembled = _assemble(shape, read, page, signature, rows)
    if assembled is None:
        return None
    answer, objects = assembled
    if grouped and not await _groups_placed(context, objects, node_sites):
        return None
    fragment = orjson.Fragment(orjson.dumps(answer))
    context.paths[key] = COMPILED
    if alone and statement is not None:
        # The operation's whole answer is this page's (graph/gql/prepared.py).
        context.prepared = PreparedPage(
            key, statement, parameters, shape, read, page, signature, driver
        )
    return fragment


@dataclass(frozen=True)
class LoopPage:
    """A page's statement as the driver runs it, with this request's values, and how its
    rows are read (graph/sql/driver_rows.py): run again on PostgreSQL's event loop."""

    statement: DriverStatement
    reader: RowReader


@dataclass(frozen=True)
class BoundPage:
    """A connection's answer from its template's driver text bound to a kept document's
    variables (graph/gql/document_bindings.py): the page's rows, read as SQLAlchemy read them,
    assembled as the planned page's. Value variables only give Slots their values, so the
    shape, order, page and cursor of the plan that made the binding hold for every request
    of its key."""

    shape: PageShape
    read: Read
    page: Page
    signature: str
    template: Select[Any]
    reader: RowReader

    async def answer(
        self, context: Any, key: str, statement: DriverStatement, parameters: dict[str, Any]
    ) -> orjson.Fragment | None:
        rows = self.reader.mappings(await context.session.rows(statement, alone=True))
        fragment = page_fragment(self.shape, self.read, self.page, self.signature, rows)
        if fragment is not None:
            loop = LoopPage(statement, self.reader)
            context.prepared = PreparedPage(
                key,
                self.template,
                parameters,
                self.shape,
                self.read,
                self.page,
                self.signature,
                loop,
            )
        return fragment


async def _bound_page(
    context: Any, template_key: Key, template: Select[Any], parameters: dict[str, Any]
) -> tuple[Sequence[Any], Select[Any], LoopPage] | None:
    """The page's rows from its kept `template`'s driver text bound to `parameters`
    (graph/sql/driver_template.py), run alone (on the event loop while the app runs), with
    the template and the bound text; None when no such text is kept."""
    graph = context.graph
    driver = graph.driver_templates.get(template_key)
    reader = graph.page_readers.get(template_key)
    if driver is None or reader is None:
        return None
    bound = driver.bound(parameters)
    if bound is None:
        return None
    rows = reader.mappings(await context.session.rows(bound, alone=True))
    return rows, template, LoopPage(bound, reader)


@dataclass(frozen=True)
class PreparedPage:
    """A connection that is an operation's only root field, answered again without GraphQL
    (graph/gql/prepared.py): its kept statement, run again, and the page assembled."""

    key: str
    statement: Select[Any]
    # The values of the statement's Slots (graph/sql/slots.py).
    parameters: dict[str, Any]
    shape: PageShape
    read: Read
    page: Page
    signature: str
    # The statement as its driver runs it, on PostgreSQL.
    driver: LoopPage | None

    async def answer(self, graph: GraphContext) -> orjson.Fragment | None:
        """The connection's answer; None when the statement failed or a node holds a null
        under a non-null field (the full path runs instead and answers with its error).
        Raises StatementTimeoutError when the statement met the time limit."""

        def run(conn: Connection) -> Sequence[Any]:
            return conn.execute(self.statement, self.parameters).mappings().all()

        reader = graph.async_reader
        rows: Sequence[Any]
        try:
            # While the app runs, PostgreSQL's statement runs on the event loop, as a
            # prepared operation's does (graph/gql/prepared.py).
            if self.driver is not None and reader is not None and reader.ready:
                sent = self.driver.statement
                rows = self.driver.reader.mappings(await reader.rows(sent.sql, sent.parameters))
            else:
                rows = await anyio.to_thread.run_sync(
                    read_alone, graph, run, limiter=graph.read_threads()
                )
        except Exception as error:
            raise_if_timeout(error, graph.settings.statement_timeout_s)
            # A lost database, a changed table: the full path reports it as it does for any
            # request (the endpoint forgets this operation first).
            return None
        return page_fragment(self.shape, self.read, self.page, self.signature, rows)


async def _groups_placed(
    context: Any, objects: list[list[Any]], node_sites: list[list[GroupSite]]
) -> bool:
    """Each node Shape's relation aggregates put in place in its objects (in the page's
    snapshot); False when the reference path must answer: a group graphql-core would
    refuse, or an aggregate's error (GRAPH_MAX_GROUPS, a number beyond its range), which the
    reference path meets in its own order (the two branches' sites are not in it)."""
    try:
        return await place_groups(context, list(zip(objects, node_sites, strict=True)))
    except (LimitExceededError, OutOfRangeError):
        return False


def page_fragment(
    shape: PageShape, read: Read, page: Page, signature: str, rows: Sequence[Any]
) -> orjson.Fragment | None:
    """The connection's answer from its page's rows, encoded; None when a node holds a null
    under a non-null field."""
    assembled = _assemble(shape, read, page, signature, rows)
    return None if assembled is None else orjson.Fragment(orjson.dumps(assembled[0]))


def _assemble(
    shape: PageShape, read: Read, page: Page, signature: str, rows: Sequence[Any]
) -> tuple[dict[str, Any], list[list[Any]]] | None:
    """The connection's answer from the page's rows, and the node objects of each node Shape
    in it; None when a node holds a null under a non-null field (GraphQL's error is the
    reference path's to give)."""
    total = rows[0][TOTAL] if page.want_total else None
    if page.want_total:
        rows = [row for row in rows if row["id"] is not None]  # the count's row of nulls
    has_next = len(rows) > page.first
    rows = rows[: page.first]
    read_json: Callable[[str], Any] = (
        load_json if any(s.holds_json for s in shape.nodes) else orjson.loads
    )
    objects: list[list[Any]] = []
    for index, node_shape in enumerate(shape.nodes):
        texts = [row[NODE.format(index)] for row in rows]
        found = [read_json(text) for text in texts]
        if any("null" in text for text in texts) and node_shape.null_where_non_null(found):
            return None
        objects.append(found)
    cursors: list[str] = []
    if shape.wants_cursors:
        count = len(read.order)
        cursors = [encode_cursor(signature, sort_values(row, count)) for row in rows]
    info = {
        "hasNextPage": has_next,
        "hasPreviousPage": page.after is not None,
        "startCursor": cursors[0] if cursors else None,
        "endCursor": cursors[-1] if cursors else None,
        "__typename": "PageInfo",
    }
    answer: dict[str, Any] = {}
    for key, kind, detail in shape.parts:
        if kind == TYPENAME:
            answer[key] = detail
        elif kind == TOTAL_COUNT:
            answer[key] = total
        elif kind == NODES:
            answer[key] = objects[detail]
        elif kind == EDGES:
            answer[key] = [_edge(detail, objects, cursors, i) for i in range(len(rows))]
        else:
            answer[key] = {info_key: info[name] for info_key, name in detail}
    return answer, objects


def _edge(
    parts: tuple[Part, ...], objects: list[list[Any]], cursors: list[str], i: int
) -> dict[str, Any]:
    edge: dict[str, Any] = {}
    for key, kind, detail in parts:
        if kind == TYPENAME:
            edge[key] = detail
        elif kind == CURSOR:
            edge[key] = cursors[i]
        else:
            edge[key] = objects[detail][i]
    return edge
