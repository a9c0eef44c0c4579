"""Documents answered before, answered again with other variables without GraphQL's execution.

A prepared operation (graph/gql/prepared.py) answers the same request body again. A client
that sends the same document with other variables (another key, another moment: a grid's
detail pane, a dashboard's date picker) sends a body never seen, which went the full way:
strawberry's extensions, graphql-core's operation and execution, around a root resolver that
is most of the work. Yet for the same document, parsing, validation and the token and depth
limits come to the same result; only the variables' coercion, the cost estimate and the root
field's own work depend on the variables.

So once the full path answered a query whose one root field (no directive on it) the
compiled path answered alone, its document is kept here, parsed, by its text and
`operationName`. A later request of that document: its variables coerced by graphql-core as
the full path coerces them, its cost estimated as CostLimit estimates it, then the root
field's resolver called as graphql-core would call it, in a request context of its own. When
all of that gives a compiled answer, it is the response (`{"data": {key: answer}}`, the full
path's bytes); an error of ours the resolver raised (a refused argument, a statement timeout)
is answered as graphql-core answers it, located at the field, without running it again.
Anything else goes the full way, which answers the same or with its error: a variable that
does not coerce, a cost over the limit, an unexpected exception (the full path logs it), an
answer of the reference path. A query writes nothing, so running it again there changes
nothing.

A kept document also keeps, per value of the variables that can change its statement, the
statement bound to the others (graph/gql/document_bindings.py): a request that finds one
skips the cost estimate and the planning too, and runs the template's driver text with its
variables' values.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    is_non_null_type,
    located_error,
    parse,
)
from graphql.execution.values import VariableValues, get_variable_values
from graphql.pyutils import Path
from strawberry.types import ExecutionResult

from graph.errors import GraphError
from graph.gql.compiled import StatementNoted
from graph.gql.cost import CostRules, estimate_objects
from graph.gql.document_bindings import (
    MAX_BINDINGS,
    PROBES,
    SECOND_PROBES,
    Binding,
    binding_key,
    bound_from,
    value_variables,
)
from graph.sql.statement_cache import Lru

if TYPE_CHECKING:
    from graph.gql.context import RequestContext

# The longest document kept: the keys are the documents themselves.
MAX_KEPT_DOCUMENT_CHARS = 16 * 1024


@dataclass(frozen=True)
class ResolveInfo:
    """What the root resolvers (graph/gql/resolvers.py) read of graphql-core's info."""

    field_name: str
    field_nodes: list[FieldNode]
    parent_type: GraphQLObjectType
    path: Path
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    operation: OperationDefinitionNode
    variable_values: Any
    context: Any


@dataclass(frozen=True)
class KeptDocument:
    """A query of one root field, parsed: the field, and what its resolver is given; its
    value variables and the statements bound to them (graph/gql/document_bindings.py)."""

    document: DocumentNode
    operation: OperationDefinitionNode
    field: FieldNode
    fragments: dict[str, FragmentDefinitionNode]
    values: dict[str, str] = dataclasses.field(default_factory=dict)
    bindings: Lru[tuple[Any, ...], tuple[Binding | None]] = dataclasses.field(
        default_factory=lambda: Lru(MAX_BINDINGS)
    )

    @property
    def key(self) -> str:
        """The field's response key."""
        return self.field.alias.value if self.field.alias else self.field.name.value

    @functools.cached_property
    def variable_names(self) -> tuple[str, ...]:
        """The declared variables' names, in order (read at every request: kept)."""
        return tuple(d.variable.name.value for d in self.operation.variable_definitions or ())

    async def answer(
        self, schema: GraphQLSchema, rules: CostRules, variables: Any, context: RequestContext
    ) -> orjson.Fragment | ExecutionResult | None:
        """The root field's compiled answer for `variables` (the request's, as given), or
        the result of the error it raised; None when the full path must answer (module
        docstring). The caller ends the context's read session."""
        coerced = get_variable_values(
            schema, self.operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):  # the variables' errors: the full path's to report
            return None
        key = binding_key(self.variable_names, self.values, variables, coerced.coerced)
        learned = self.bindings.get(key) if key is not None else None
        binding = learned[0] if learned is not None else None
        try:
            if binding is not None:
                # A binding is kept only for a key whose request passed the cost limit,
                # which only the other variables' values change.
                found = await binding.answer(context, coerced.coerced)
                if found is not None:
                    return found
            total, _ = estimate_objects(
                schema, self.document, context.operation_name, variables, rules
            )
            if total > rules.max_nodes:
                return None
            answer = await self._resolve(schema, coerced, context)
        except GraphError as error:
            return self._located(schema, error)
        except Exception:
            return None
        if type(answer) is not orjson.Fragment:
            return None
        if key is not None and learned is None:
            self.bindings.put(key, (await self._learn(schema, coerced, context),))
        return answer

    async def _resolve(self, schema: GraphQLSchema, coerced: Any, context: RequestContext) -> Any:
        """The root field's resolver's answer, called as graphql-core calls it."""
        query = schema.query_type
        assert query is not None
        name = self.field.name.value
        info = ResolveInfo(
            field_name=name,
            field_nodes=[self.field],
            parent_type=query,
            path=Path(None, self.key, query.name),
            schema=schema,
            fragments=self.fragments,
            operation=self.operation,
            variable_values=coerced,
            context=context,
        )
        resolve = query.fields[name].resolve
        assert resolve is not None
        return await resolve(None, info)

    def _located(self, schema: GraphQLSchema, error: GraphError) -> ExecutionResult:
        """As graphql-core answers a resolver's error: located at the field, which is null
        (the whole data when the field is non-null)."""
        query = schema.query_type
        assert query is not None
        located = located_error(error, [self.field], [self.key])
        non_null = is_non_null_type(query.fields[self.field.name.value].type)
        return ExecutionResult(data=None if non_null else {self.key: None}, errors=[located])

    async def _learn(
        self, schema: GraphQLSchema, coerced: VariableValues, context: RequestContext
    ) -> Binding | None:
        """The binding of these variables' key, from two plans with probe values in a
        session that runs nothing (graph/gql/document_bindings.py); None when they show none."""
        given = [name for name in sorted(self.values) if coerced.coerced.get(name) is not None]
        notes: list[tuple[StatementNoted, dict[str, Any]]] = []
        for offset in (0, SECOND_PROBES):
            probes = {name: PROBES[self.values[name]](offset + n) for n, name in enumerate(given)}
            planning = type(context)(context.graph, context.request, context.operation_name)
            planning.session.planning_only = True
            try:
                probed = VariableValues(coerced.sources, {**coerced.coerced, **probes})
                await self._resolve(schema, probed, planning)
            except StatementNoted as noted:
                notes.append((noted, probes))
            except Exception:
                return None
            else:
                return None
        graph = context.graph
        return bound_from(graph.spec, self.key, notes, graph.driver_templates)


def kept_document(
    query: str, operation_name: str | None, lookups: frozenset[str] = frozenset()
) -> KeptDocument | None:
    """The document `query` kept for `operation_name`: a query whose selection is one field
    without directives; None for anything else (not kept). `lookups`: the root lookup fields'
    names (their key argument may be a value variable)."""
    if len(query) > MAX_KEPT_DOCUMENT_CHARS:
        return None
    document = parse(query)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return None
    operation = operations[0]
    selections = operation.selection_set.selections
    only = selections[0] if len(selections) == 1 else None
    if not isinstance(only, FieldNode) or only.directives or operation.directives:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    values = value_variables(operation, fragments, lookups)
    return KeptDocument(document, operation, only, fragments, values)


class KeptDocuments(Lru[tuple[str, str | None], KeptDocument]):
    """Kept documents by their text and `operationName`."""

    def key(self, query: str, operation_name: str | None) -> tuple[str, str | None] | None:
        """The key of a request's document; None when none is kept (size 0, too long)."""
        if self.size == 0 or len(query) > MAX_KEPT_DOCUMENT_CHARS:
            return None
        return (query, operation_name)
