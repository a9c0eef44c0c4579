"""The compiled path: a root field answered by ONE SQL statement that builds its JSON in the
database (graph/sql/response.py), handed to the client without GraphQL completing it field by
field.

plan (the reference planner's Read: the same validation, filters, pages and errors) -> shape
(this module: the response keys and values each row becomes, or None when the selection holds
something the compiler does not build yet) -> compile (graph/sql/response.py) -> execute (one
statement on the request's read session) -> the JSON text, re-encoded by orjson as the
reference path encodes its answers, as an orjson.Fragment: PassThroughExecution below lets it
through graphql-core untouched, and the endpoint's orjson.dumps embeds it as it is.

What is compiled today: root list fields (`executionLogs(...)`) and lookups
(`executionLog(executionId: ...)`) whose selection, at every level, holds fields of any
type (computed fields too), `__typename`, and relations (to-one and to-many, with their own
where, orderBy, limit and offset); aliases, fragments and @skip/@include as GraphQL resolves
them; connections likewise, by graph/gql/compiled_connection.py. A relation aggregate with
one group per row (no `groupBy`) under a few rows is built by the rows' statement itself
(graph/gql/inline_groups.py); the others add one statement each, for all the rows at once,
whose groups take the place of the ids the rows' statement wrote
(graph/gql/compiled_groups.py). Anything else (an object of more
than MAX_KEYS keys, a connection whose `nodes` and `edges { node }` read one relation
otherwise) falls back to the reference path, per root field, without an error. Aggregate
groups, at the root or under rows, skip graphql-core's completion:
graph/gql/group_encoder.py.
With GRAPH_DEBUG the response's `extensions.paths` names the path of each root field.
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import FieldNode
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graph.gql.compiled_groups import GroupSite, place_groups, plan_site, without_aggregates
from graph.gql.inline_groups import inline_group, rows_below
from graph.gql.prepared import (
    BoundAnswer,
    BoundList,
    PreparedOperation,
    answer_fragment,
    loaded_answer,
)
from graph.gql.selection import Planner
from graph.plan import Read
from graph.shape import (
    AggregateEntry,
    Entry,
    FieldEntry,
    LinkEntry,
    Shape,
    TypenameEntry,
)
from graph.sql.compile import Compiler
from graph.sql.driver_template import DriverTemplate
from graph.sql.response import MAX_KEYS, ResponseCompiler, final_text
from graph.sql.slots import parameterized_with_groups
from graph.sql.statement_cache import DriverStatement, StatementCache, recording

SQLITE_TOO_DEEP = "parser stack overflow"
SQLITE_MALFORMED_JSON = "malformed JSON"
# The statement could not run on SQLite: the reference path answers instead.
NOT_RUN = object()
COMPILED = "compiled"
REFERENCE = "reference"
# The kinds of root field statements in the cache keys (compiled_connection.py has PAGE).
LIST = "list"
ONE = "one"


class StatementNoted(Exception):
    """Raised by the compiled path, in a session that only plans (ReadSession.planning_only),
    in place of running its statement: what it would have run (graph/gql/document_bindings.py).
    `template_key` keys the template's driver text (graph.driver_templates); `answerer` makes
    the field's answer from it (None: it cannot be bound); `alone`: the statement would be
    the operation's whole answer."""

    def __init__(
        self,
        kind: str,
        template_read: Read,
        template_key: Any,
        parameters: dict[str, Any],
        answerer: BoundAnswer | None,
        alone: bool,
    ) -> None:
        super().__init__(kind)
        self.kind = kind
        self.template_read = template_read
        self.template_key = template_key
        self.parameters = parameters
        self.answerer = answerer
        self.alone = alone


def shape_of(
    planner: Planner,
    table: str,
    fields: dict[str, list[FieldNode]],
    read: Read,
    sites: list[GroupSite] | None = None,
    path: tuple[str, ...] = (),
    rows: int | None = None,
) -> Shape | None:
    """The Shape of rows of `table` whose selection is `fields` and whose Read is `read`
    (planned from the same selection), or None when something in it is not compiled.
    Relation aggregates are compiled when `sites` collects where their groups go
    (graph/gql/compiled_groups.py; `path`: the response keys leading to these rows), in the
    order the reference path runs them: those below this level's relations first; or, with
    one group per row, into the rows' statement itself (graph/gql/inline_groups.py; `rows`:
    the most rows of this level the answer holds, None when not known)."""
    info = planner.index[table]
    entries: list[Entry] = []
    own_sites: list[GroupSite] = []
    for key, nodes in fields.items():
        name = nodes[0].name.value
        if name == "__typename":
            entries.append(TypenameEntry(key, info.spec.type_name))
        elif name in info.fields:
            field = info.fields[name]
            entries.append(FieldEntry(key, field, field.required or name == info.spec.key))
        elif name in info.relations:
            end = info.relations[name]
            child = next(c for c in read.children if c.key == key)
            subfields = planner.subfields(nodes)
            below = rows_below(rows, end, child.read)
            inner = shape_of(planner, end.target, subfields, child.read, sites, (*path, key), below)
            if inner is None:
                return None
            entries.append(LinkEntry(key, end, inner))
        else:
            aggregate = next((a for a in read.aggregates if a.key == key), None)
            if sites is None or aggregate is None:
                return None
            inline = inline_group(planner, table, key, nodes, aggregate, rows, root=not path)
            if inline is not None:
                entries.append(inline)
                continue
            site = plan_site(planner, table, path, key, nodes, aggregate)
            if site is None:
                return None
            own_sites.append(site)
            entries.append(AggregateEntry(key, aggregate.end))
    if len(entries) > MAX_KEYS:
        return None
    if sites is not None:
        sites += own_sites
    return Shape(tuple(entries))


async def answer(
    planner: Planner,
    context: Any,
    key: str,
    fields: dict[str, list[FieldNode]],
    read: Read,
    *,
    one: bool,
    sole: bool = False,
) -> orjson.Fragment | None:
    """A root field's answer by the compiled path (a lookup's when `one`), the field marked
    as compiled in `context.paths`; None when the path is off, the selection holds something
    it does not build, or the statement could not run: the reference path answers then.
    `sole`: the operation has no other root field (its one statement needs no transaction,
    and the operation may be answered again without GraphQL: graph/gql/prepared.py)."""
    if not planner.settings.compiled:
        return None
    sites: list[GroupSite] = []
    shape = shape_of(planner, read.table, fields, read, sites, rows=1 if one else read.limit)
    if shape is None:
        return None
    if sites:
        found = await answer_with_groups(context, ONE if one else LIST, read, shape, sites)
    else:
        sole_key = key if sole else None
        found = await (answer_one if one else answer_list)(context, read, shape, sole_key)
    if found is not None:
        context.paths[key] = COMPILED
    return found


async def answer_list(
    context: Any, read: Read, shape: Shape, sole_key: str | None = None
) -> orjson.Fragment | None:
    """A root list field's answer, or None when the compiled path cannot give it. `sole_key`:
    the field's response key when the operation has no other root field."""
    return await _answer(context, LIST, read, shape, sole_key)


async def answer_one(
    context: Any, read: Read, shape: Shape, sole_key: str | None = None
) -> orjson.Fragment | None:
    """A lookup's answer (the object, or null when no row has the key), or None when the
    compiled path cannot give it."""
    return await _answer(context, ONE, read, shape, sole_key)


async def answer_with_groups(
    context: Any, kind: str, read: Read, shape: Shape, sites: list[GroupSite]
) -> orjson.Fragment | None:
    """A root field's answer whose rows hold relation aggregates: the rows' one statement,
    then one per aggregate field, in one snapshot (graph/gql/compiled_groups.py); None when
    the compiled path cannot give it. Never prepared: the answer takes several statements."""
    text, _ = await _text(context, kind, without_aggregates(read), shape, None)
    if text is NOT_RUN:
        return None
    if text is None:
        return orjson.Fragment(b"null")  # a lookup that found nothing
    answer = loaded_answer(text, shape)
    if answer is None:
        return None
    if not await place_groups(context, [(answer, sites)]):
        return None
    return orjson.Fragment(orjson.dumps(answer))


async def _answer(
    context: Any, kind: str, read: Read, shape: Shape, sole_key: str | None
) -> orjson.Fragment | None:
    """The answer of the one statement answering `read` as `shape`, as the reference path's
    bytes. None when SQLite could not run it (execute_or_not_run: a statement too deep for
    its parser, whose stack is fixed before SQLite 3.46, is answered by the reference path's
    several shallower statements); likewise when the answer holds a null under a non-null
    field (the reference path's error answers it)."""
    text, reusable_statement = await _text(context, kind, read, shape, sole_key)
    if text is NOT_RUN:
        return None
    fragment = answer_fragment(text, shape, final_text(context.graph.dialect, shape))
    if fragment is not None and sole_key is not None and reusable_statement is not None:
        # The operation's whole answer is this statement's (graph/gql/prepared.py).
        context.prepared = PreparedOperation(sole_key, reusable_statement, shape)
    return fragment


async def _text(
    context: Any, kind: str, read: Read, shape: Shape, sole_key: str | None
) -> tuple[Any, DriverStatement | None]:
    """The JSON text of the one statement answering `read` as `shape` (or NOT_RUN), and the
    statement when a later request may run it as it is.

    Three caches spare the building (graph/sql/statement_cache.py): the driver's text and
    parameters of an earlier request of the same Read (values included), run as they are;
    else the driver's text of the statement built for the same Read but its comparison
    values (graph/sql/slots.py), bound to this request's values (graph/sql/driver_template.py);
    else that statement itself, run through SQLAlchemy with this request's values. The first
    two run on the event loop when the field is the operation's only one (ReadSession.scalar)."""
    graph = context.graph
    cache: StatementCache = graph.statements
    alone = sole_key is not None
    if context.session.planning_only:
        template_read, template_shape, parameters = parameterized_with_groups(
            graph.spec, read, shape
        )
        template_key = cache.key(kind, template_read, template_shape)
        answerer = BoundList(shape, final_text(graph.dialect, shape))
        raise StatementNoted(kind, template_read, template_key, parameters, answerer, alone)
    exact = cache.key(kind, read, shape)
    kept = cache.get(exact) if exact is not None else None
    if kept is not None:
        return await context.session.scalar(kept, alone=alone), kept
    template_read, template_shape, parameters = parameterized_with_groups(graph.spec, read, shape)
    template_key = cache.key(kind, template_read, template_shape)
    if template_key is not None:
        driver = graph.driver_templates.get(template_key)
        bound = driver.bound(parameters) if driver is not None else None
        if bound is not None:
            # Not kept for these values: most such requests are one-offs (another key), and
            # the exact cache would lose its repeats to them.
            return await context.session.scalar(bound, alone=alone), bound
    template = graph.templates.get(template_key) if template_key is not None else None

    def run(conn: Connection, compiler: Compiler) -> tuple[Any, DriverStatement | None]:
        """The answer's text (or NOT_RUN), and the statement a later request may reuse."""
        statement = template
        if statement is None:
            response = ResponseCompiler(compiler)
            build = response.root_list if kind == LIST else response.root_one
            statement = build(template_read, template_shape)
        with recording() as sent:
            result = execute_or_not_run(conn, statement, parameters)
        if result is NOT_RUN:
            return NOT_RUN, None
        text = result.scalar_one()
        # A statement holding the request's moment is this request's only.
        if compiler.ctx.moment_read:
            return text, None
        if template is None and template_key is not None:
            graph.templates.put(template_key, statement)
        if len(sent) != 1:
            return text, None
        if template_key is not None:
            driver = DriverTemplate.recorded(
                sent[0], result.context.compiled, conn.dialect, parameters
            )
            if driver is not None:
                graph.driver_templates.put(template_key, driver)
        if exact is None:
            return text, None
        reusable = sent[0].for_the_same_values(graph.dialect)
        cache.put(exact, reusable)
        return text, reusable

    found: tuple[Any, DriverStatement | None] = await context.session.run(run, alone=alone)
    return found


def execute_or_not_run(
    conn: Connection, statement: Any, parameters: dict[str, Any] | None = None
) -> Any:
    """The statement's result (run with `parameters`, its Slots' values), or NOT_RUN when
    SQLite refused it: too deep for its parser (nothing ran), or a json or list column
    holding text its JSON functions refuse (only raw SQL writes such text; the reference
    path reads it with Python's own parser). A failed SELECT leaves SQLite's transaction as
    it was."""
    try:
        return conn.execute(statement, parameters)
    except OperationalError as error:
        if SQLITE_TOO_DEEP in str(error.orig) or SQLITE_MALFORMED_JSON in str(error.orig):
            return NOT_RUN
        raise


class PassThroughExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, except that a value a root resolver answered already encoded
    (an orjson.Fragment) is complete: its fields are not visited one by one."""

    def complete_value(self, *args: Any, **kwargs: Any) -> Any:
        result = kwargs["result"] if "result" in kwargs else args[4]
        if type(result) is orjson.Fragment:
            return result
        return super().complete_value(*args, **kwargs)
