"""The size of a query's answer, estimated before any SQL runs, and refused beyond a limit.

The estimate counts the objects the answer could hold at most (rows, groups, connection
edges, linked rows), as the product of page sizes along nested lists, every alias and
fragment counted, `@skip`/`@include` applied: `executionLogs(limit: 1000) { relatedFeedback
(limit: 1000) { id } }` may hold 1,000 + 1,000,000 objects. A list's page is its `limit`
(`first` for a connection's edges), else the default page size; an aggregate's groups are 1
without `groupBy`, else its `limit` or the group cap, and never more than the group cap in
all (the cap holds for all parents together). Scalars, and objects that are parts of their
parent (a group's key and measures, a connection and its pageInfo), cost nothing of their
own: the rows and groups bound the work and the bytes.

Runs as a schema extension after validation and before execution (`on_execute`), so a refused
request never opens a database connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from graph.errors import LimitExceededError
from graph.settings import Settings
from graph.spec.model import Spec


@dataclass(frozen=True)
class CostRules:
    max_nodes: int
    default_page_size: int
    max_groups: int
    # The object types that are rows of a table: a to-one field of one of these types is a
    # row to read; other objects (a group's key and measures, pageInfo, the connection
    # itself) are parts of their parent and cost nothing of their own.
    row_types: frozenset[str] = frozenset()

    @classmethod
    def of(cls, spec: Spec, settings: Settings) -> CostRules:
        """The rules of a server's settings, its tables' types being the rows."""
        return cls(
            settings.max_nodes,
            settings.default_page_size,
            settings.max_groups,
            frozenset(table.type_name for table in spec.tables.values()),
        )


class _Estimate:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        rules: CostRules,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.rules = rules
        self.largest: tuple[int, str] = (0, "")

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return value_from_ast_untyped(argument.value, dict(self.variables))
        return None

    def _count(self, node: FieldNode, name: str, fallback: int) -> int:
        value = self._argument(node, name)
        # A wrong value (negative, not a number) is the planner's to refuse, with its path.
        return (
            value
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0
            else fallback
        )

    def _included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        """`@skip(if: true)` and `@include(if: false)` leave the node out."""
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            arguments = directive.arguments or ()
            condition = next((a for a in arguments if a.name.value == "if"), None)
            value = (
                value_from_ast_untyped(condition.value, dict(self.variables))
                if condition is not None
                else None
            )
            if (name == "skip" and value is True) or (name == "include" and value is False):
                return False
        return True

    def _selections(
        self, parent: GraphQLObjectType, selection_set: SelectionSetNode | None
    ) -> Iterator[tuple[GraphQLObjectType, FieldNode]]:
        """Every field selected on `parent`, fragments expanded (validation has already
        refused cycles and fragments of types that cannot apply)."""
        for selection in selection_set.selections if selection_set else ():
            if not self._included(selection):  # type: ignore[arg-type]
                continue
            if isinstance(selection, FieldNode):
                yield parent, selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self._selections(
                    self._condition(parent, selection), selection.selection_set
                )
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    yield from self._selections(
                        self._condition(parent, fragment), fragment.selection_set
                    )

    def _condition(
        self, parent: GraphQLObjectType, node: InlineFragmentNode | FragmentDefinitionNode
    ) -> GraphQLObjectType:
        if node.type_condition is None:
            return parent
        named = self.schema.get_type(node.type_condition.name.value)
        return named if isinstance(named, GraphQLObjectType) else parent

    def objects(
        self,
        parent: GraphQLObjectType,
        selection_set: SelectionSetNode | None,
        parents: int,
        edges_page: int,
        path: str,
    ) -> int:
        """The objects below `parents` objects of type `parent`."""
        total = 0
        for owner, node in self._selections(parent, selection_set):
            name = node.name.value
            field = owner.fields.get(name)
            if field is None or name.startswith("__"):
                continue
            kind = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            is_list = isinstance(kind, GraphQLList)
            while isinstance(kind, GraphQLList | GraphQLNonNull):
                kind = kind.of_type
            if not isinstance(kind, GraphQLObjectType):
                continue  # a scalar or enum: part of its object
            here = f"{path}.{node.alias.value if node.alias else name}".lstrip(".")
            page = edges_page
            if is_list and "groupBy" in field.args:  # an aggregate's groups
                grouped = self._argument(node, "groupBy")
                each = self._count(node, "limit", self.rules.max_groups) if grouped else 1
                count = min(parents * each, self.rules.max_groups)
            elif is_list and "limit" in field.args:
                count = parents * self._count(node, "limit", self.rules.default_page_size)
            elif is_list:
                count = parents * edges_page  # a connection's edges, a write's rows
            else:
                count = parents if kind.name in self.rules.row_types else 0
                if "first" in field.args:  # a connection: its edges come `first` at a time
                    page = self._count(node, "first", self.rules.default_page_size)
            if count > self.largest[0]:
                self.largest = (count, here)
            below = count if count or is_list else parents  # a part: its parent's number
            total += count + self.objects(kind, node.selection_set, below, page, here)
        return total


def estimate_objects(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    rules: CostRules,
) -> tuple[int, str]:
    """The most objects the operation's answer may hold, and the path of its largest list."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name and o.name.value == operation_name)
    ]
    if len(chosen) != 1:
        return 0, ""  # no operation to run: GraphQL's own request error follows
    operation = chosen[0]
    root = schema.mutation_type if operation.operation.value == "mutation" else schema.query_type
    if root is None:
        return 0, ""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    estimate = _Estimate(schema, fragments, variables or {}, rules)
    total = estimate.objects(root, operation.selection_set, 1, rules.default_page_size, "")
    return total, estimate.largest[1]


class CostLimit(SchemaExtension):
    """LIMIT_EXCEEDED before execution when the estimate passes `GRAPH_MAX_NODES`."""

    def __init__(self, rules: CostRules) -> None:
        super().__init__()
        self.rules = rules

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            total, largest = estimate_objects(
                context.schema._schema,
                document,
                context.operation_name,
                context.variables,
                self.rules,
            )
            if total > self.rules.max_nodes:
                raise LimitExceededError(
                    f"the answer could hold {total:,} objects, more than the limit of "
                    f"{self.rules.max_nodes:,} (GRAPH_MAX_NODES); the largest list is "
                    f"`{largest}`: give nested lists smaller `limit`s, or page"
                )
        yield
