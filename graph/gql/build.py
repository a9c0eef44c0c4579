"""Builds the whole strawberry schema from the spec, once, at start-up."""

from __future__ import annotations

import functools
import operator
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import strawberry
from graphql import (
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
)
from strawberry.extensions import (
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
    max_aliases,
    query_depth_limiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graph import naming
from graph.errors import OperationResolutionError
from graph.gql import resolvers
from graph.gql.aggregates import AggregateTypeBuilder, aggregate_field, group_reader
from graph.gql.coercion import WriteVariableErrors, write_inputs
from graph.gql.compiled import PassThroughExecution
from graph.gql.context import RequestContext
from graph.gql.cost import CostLimit, CostRules
from graph.gql.errors import (
    INTROSPECTION_DISABLED,
    LIMIT_EXCEEDED,
    ValidationRules,
    error_code,
    with_code,
)
from graph.gql.group_shaper import GroupShaper
from graph.gql.mutations import mutation_fields
from graph.gql.scalars import SCALAR_MAP, BigInt, python_type
from graph.gql.types import (
    GeneratedTypes,
    build_types,
    column_reader,
    list_arguments,
    list_of,
    make_resolver,
    read_link,
)
from graph.settings import Settings
from graph.spec.model import Spec, TableSpec

Resolver = Callable[[str, GraphQLResolveInfo[Any]], Awaitable[Any]]


def _bound(resolve: Resolver, table: str) -> Callable[..., Awaitable[Any]]:
    """The resolver strawberry declares a root field's arguments from. graphql-core calls the
    field's `_direct` resolver instead (_install_direct_resolvers)."""

    async def body(info: strawberry.Info, **_arguments: Any) -> Any:
        # Arguments are read from the selection by the planner, with their paths for errors.
        return await resolve(table, info._raw_info)

    return body


def _direct(resolve: Resolver, table: str) -> Callable[..., Awaitable[Any]]:
    """A root field's resolver as graphql-core calls it: strawberry's wrapper would convert
    the arguments into input objects (a quarter of a compiled request's CPU) that the
    planner does not read: it reads them from the selection, with their paths for errors."""

    async def resolve_root(_root: Any, info: GraphQLResolveInfo[Any], **_arguments: Any) -> Any:
        return await resolve(table, info)

    return resolve_root


def _root_fields(table: TableSpec, types: GeneratedTypes) -> dict[str, Any]:
    obj = types.objects[table.name]
    key = table.key_field
    fields: dict[str, Any] = {}
    fields[table.list_root] = strawberry.field(
        resolver=make_resolver(
            _bound(resolvers.resolve_list, table.name),
            table.list_root,
            list_arguments(types, table.name),
            list_of(obj),
        ),
        name=table.list_root,
        description=f"{table.plural}: {table.description}",
    )
    fields[table.single_root] = strawberry.field(
        resolver=make_resolver(
            _bound(resolvers.resolve_one, table.name),
            table.single_root,
            [(key.name, python_type(key.type.value)), ("id", BigInt)],
            obj | None,
        ),
        name=table.single_root,
        description=f"One {table.type_name} by {key.gql_name} or by id; null when absent.",
    )
    connection = naming.connection_root_name(table.list_root)
    fields[connection] = strawberry.field(
        resolver=make_resolver(
            _bound(resolvers.resolve_connection, table.name),
            connection,
            [
                ("where", types.wheres[table.name]),
                ("order_by", list_of(types.orders[table.name])),
                ("first", int),
                ("after", str),
            ],
            types.connections[table.name],
        ),
        name=connection,
        description=f"{table.plural} page by page with keyset cursors (stable under inserts).",
    )
    return fields


class EndReadSession(SchemaExtension):
    """Ends the operation's read transaction (graph/gql/context.py ReadSession) after it ran."""

    async def on_operation(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            context = self.execution_context.context
            if isinstance(context, RequestContext):
                await context.session.close()


class OneOperation(SchemaExtension):
    """A document of several operations runs the one `operationName` names; without a name
    it is a request error (GraphQL's "GetOperation"), not its first operation, which
    strawberry would run."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        request = context.context
        named = isinstance(request, RequestContext) and request.operation_name is not None
        if document is not None and not named:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                raise OperationResolutionError(
                    f"the document has {len(operations)} operations: name the one to run in "
                    "`operationName`"
                )
        yield


class GraceSchema(strawberry.Schema):
    """Logs only what is the server's fault; the client's mistakes are answers, not incidents."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        internal = [e for e in errors if error_code(e) == "INTERNAL_SERVER_ERROR"]
        if internal:
            super().process_errors(internal, execution_context)


def _limit_rules(settings: Settings) -> tuple[type[Any], ...]:
    """strawberry's depth and alias limits, as rule classes made once for this schema, and
    GraphQL's rule against introspection when it is off."""
    rules: tuple[type[Any], ...] = (
        with_code(
            query_depth_limiter.create_validator(settings.max_query_depth, None, None),
            LIMIT_EXCEEDED,
        ),
        with_code(max_aliases.create_validator(settings.max_aliases), LIMIT_EXCEEDED),
    )
    if not settings.introspection:
        rules += (with_code(NoSchemaIntrospectionCustomRule, INTROSPECTION_DISABLED),)
    return rules


def _install_direct_resolvers(schema: strawberry.Schema, spec: Spec, shaper: GroupShaper) -> None:
    """Let graphql-core read row fields straight from the row dicts.

    Rows arrive complete from the root resolver (relations included, under their response
    keys), so no field below the root has work to do but a dict lookup. strawberry's generic
    wrapper around each such lookup (info object, argument conversion) cost about a third of
    the time of a 50-row traversal; the resolvers set here skip it. Arguments of relation fields
    are still validated by GraphQL and read by the planner from the query itself.
    """
    query = schema._schema.query_type
    assert query is not None
    for table in spec.tables.values():
        query.fields[table.list_root].resolve = _direct(resolvers.resolve_list, table.name)
        query.fields[table.single_root].resolve = _direct(resolvers.resolve_one, table.name)
        connection = naming.connection_root_name(table.list_root)
        query.fields[connection].resolve = _direct(resolvers.resolve_connection, table.name)
        gql_type = schema._schema.type_map[table.type_name]
        assert isinstance(gql_type, GraphQLObjectType)
        for field in table.read_fields:
            gql_type.fields[field.gql_name].resolve = column_reader(field.name)
        for end in table.relations:
            gql_type.fields[end.gql_name].resolve = read_link
            if end.many:
                name = naming.relation_aggregate_name(end.gql_name)
                gql_type.fields[name].resolve = group_reader(shaper, spec.table(end.target))


def build_schema(spec: Spec, settings: Settings) -> strawberry.Schema:
    aggregate_types = AggregateTypeBuilder(spec)
    types = build_types(spec, before_objects=aggregate_types.build)
    query = type("Query", (), {"__module__": __name__})
    for table in spec.tables.values():
        for name, field in _root_fields(table, types).items():
            setattr(query, f"root_{name}", field)
        aggregate = aggregate_field(table, types, aggregate_types.out)
        setattr(query, f"root_{naming.aggregate_root_name(table.list_root)}", aggregate)
    query_type = strawberry.type(query, description="Read the Grace memory tables.")
    mutation = type("Mutation", (), {"__module__": __name__})
    for name, field in mutation_fields(spec, types).items():
        setattr(mutation, f"root_{name}", field)
    mutation_type = strawberry.type(
        mutation, description="Write the Grace memory tables: every field is one transaction."
    )
    schema = GraceSchema(
        query=query_type,
        mutation=mutation_type,
        # Root fields the compiled path answered arrive already encoded (graph/gql/compiled.py).
        execution_context_class=PassThroughExecution,
        config=StrawberryConfig(default_resolver=operator.getitem, scalar_map=SCALAR_MAP),
        extensions=[
            EndReadSession,
            OneOperation,
            functools.partial(ValidationRules, _limit_rules(settings)),
            functools.partial(ParserCache, maxsize=512),
            functools.partial(ValidationCache, maxsize=512),
            functools.partial(MaxTokensLimiter, max_token_count=settings.max_query_tokens),
            functools.partial(CostLimit, CostRules.of(spec, settings)),
            # A refused write variable: GraphQL's refusals and the spec's problems, in one error.
            functools.partial(WriteVariableErrors, write_inputs(spec), settings.max_write_rows),
        ],
    )
    _install_direct_resolvers(schema, spec, aggregate_types.out.shaper)
    return schema


def print_sdl(spec: Spec, settings: Settings) -> str:
    return build_schema(spec, settings).as_str() + "\n"
