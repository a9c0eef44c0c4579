"""Turns a GraphQL selection (the whole subtree under a root field) into a plan.

The root resolver plans everything it will need before any SQL runs, so the number of
statements depends on the relation fields asked for, never on the number of rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution.values import (
    VariableValues,
    get_argument_values,
    get_directive_values,
)

from graph import naming
from graph.aggregate import COUNT, MEASURE_NAMES, PERCENTILE, AggregateRead, ChildAggregate
from graph.errors import UserInputError
from graph.grouping import AggregatePlanner, check_percentile
from graph.paging import checked_offset
from graph.plan import ChildRead, Filter, Measure, Read, SortKey
from graph.settings import Settings
from graph.spec.model import Spec
from graph.where import FilterPlanner, TableIndex

Path = tuple[str | int, ...]


def core_variables(variables: Any) -> VariableValues:
    """Variable values in the form graphql-core 3.3's argument helpers take.

    They want a VariableValues (coerced values plus their sources); the info object of a
    resolver may hand over the plain dict of coerced values instead.
    """
    if isinstance(variables, VariableValues):
        return variables
    return VariableValues(sources={}, coerced=dict(variables or {}))


def _included(node: FieldNode | InlineFragmentNode | FragmentSpreadNode, variables: Any) -> bool:
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip is not None and skip.get("if") is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include is not None and include.get("if") is False)


def collect_fields(
    selection_sets: list[SelectionSetNode],
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Any,
) -> dict[str, list[FieldNode]]:
    """Fields by response key, through fragments and @skip/@include, as GraphQL executes them."""
    fields: dict[str, list[FieldNode]] = {}

    def walk(selection_set: SelectionSetNode, seen: set[str]) -> None:
        for selection in selection_set.selections:
            if not _included(selection, variables):  # type: ignore[arg-type]
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    walk(fragments[name].selection_set, seen | {name})

    for selection_set in selection_sets:
        walk(selection_set, set())
    return fields


class Planner:
    """Plans one root field of one request."""

    def __init__(
        self,
        spec: Spec,
        index: dict[str, TableIndex],
        settings: Settings,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Any,
    ) -> None:
        self.spec = spec
        self.index = index
        self.settings = settings
        self.schema = schema
        self.fragments = fragments
        self.variables = core_variables(variables)
        self.filters = FilterPlanner(spec, index)

    def where(self, table: str, raw: Any, path: Path) -> Filter | None:
        return self.filters.where(table, raw, path)

    def order(
        self, table: str, raw: list[dict[str, Any]] | None, path: Path
    ) -> tuple[SortKey, ...]:
        return self.filters.order(table, raw, path)

    # -- selections ---------------------------------------------------------------------

    def subfields(self, nodes: list[FieldNode]) -> dict[str, list[FieldNode]]:
        sets = [n.selection_set for n in nodes if n.selection_set is not None]
        return collect_fields(sets, self.fragments, self.variables)

    def arguments(self, parent_type: str, node: FieldNode) -> dict[str, Any]:
        gql_type = self.schema.type_map[parent_type]
        assert isinstance(gql_type, GraphQLObjectType)
        definition: GraphQLField = gql_type.fields[node.name.value]
        return get_argument_values(definition, node, self.variables)

    def read(
        self,
        table: str,
        fields: dict[str, list[FieldNode]],
        args: dict[str, Any],
        path: Path,
        *,
        many: bool = True,
    ) -> Read:
        """The Read for rows of `table` whose selected fields are `fields`."""
        info = self.index[table]
        columns: list[str] = []
        children: list[ChildRead] = []
        aggregates: list[ChildAggregate] = []
        # The `<relation>Aggregate` fields of the table's type, by GraphQL name.
        aggregate_ends = info.aggregates
        for key, nodes in fields.items():
            name = nodes[0].name.value
            if name in info.fields:
                columns.append(info.fields[name].name)
            elif name in info.relations:
                end = info.relations[name]
                child_args = self.arguments(info.spec.type_name, nodes[0])
                child = self.read(
                    end.target, self.subfields(nodes), child_args, (*path, key), many=end.many
                )
                children.append(ChildRead(key, end, child))
            elif name in aggregate_ends:
                end = aggregate_ends[name]
                child_args = self.arguments(info.spec.type_name, nodes[0])
                grouped = self.aggregate(end.target, nodes, child_args, (*path, key))
                aggregates.append(ChildAggregate(key, end, grouped))
        where = self.where(table, args.get("where"), (*path, "where"))
        order = self.order(table, args.get("orderBy"), (*path, "orderBy"))
        limit, offset = self.page(args, path) if many else (None, 0)
        return Read(
            table,
            tuple(dict.fromkeys(columns)),
            where,
            order,
            limit,
            offset,
            tuple(children),
            tuple(aggregates),
        )

    # -- aggregates -------------------------------------------------------------------------

    def aggregate(
        self, table: str, nodes: list[FieldNode], args: dict[str, Any], path: Path
    ) -> AggregateRead:
        """The AggregateRead of an aggregate field (a root one or a relation's): the
        measures its groups' selection asks for, with its arguments."""
        planner = AggregatePlanner(
            self.index, self.filters, self.settings.max_groups, self.settings.max_offset
        )
        return planner.plan(table, args, self.measures(table, nodes, path), path)

    def measures(self, table: str, nodes: list[FieldNode], path: Path) -> list[Measure]:
        """The measures a group's selection asks for (aliases and fragments included)."""
        spec = self.spec.table(table)
        found: list[Measure] = []
        group_type = naming.aggregate_type_name(spec.type_name, "Group")
        by_gql = {f.gql_name: f for f in spec.read_fields}
        for key, selected in self.subfields(nodes).items():
            name = selected[0].name.value
            if name == "count":
                found.append(Measure(COUNT))
            elif name == "percentile":
                for node in selected:
                    args = self.arguments(group_type, node)
                    p = check_percentile(args.get("p"), (*path, key, "p"))
                    found += [
                        Measure(PERCENTILE, by_gql[sub[0].name.value].name, p)
                        for sub in self.subfields([node]).values()
                        if sub[0].name.value in by_gql
                    ]
            elif name in MEASURE_NAMES:
                found += [
                    Measure(MEASURE_NAMES[name], by_gql[sub[0].name.value].name)
                    for sub in self.subfields(selected).values()
                    if sub[0].name.value in by_gql
                ]
        return list(dict.fromkeys(found))

    def page(self, args: dict[str, Any], path: Path) -> tuple[int, int]:
        limit = args.get("limit")
        offset = args.get("offset")
        return (
            self.page_size(limit, (*path, "limit")),
            checked_offset(offset, self.settings.max_offset, (*path, "offset")),
        )

    def page_size(self, value: int | None, path: Path) -> int:
        if value is None:
            return self.settings.default_page_size
        if value < 0:
            raise UserInputError(f"must be 0 or more, not {value}", path)
        if value > self.settings.max_page_size:
            raise UserInputError(
                f"{value} is more than the maximum page size {self.settings.max_page_size}; "
                "ask for fewer rows and page with offset or a connection cursor",
                path,
            )
        return value
