"""Turns a GraphQL selection (the whole subtree under a root field) into a plan.

The root resolver plans everything it will need before any SQL runs, so the number of
statements depends on the relation fields asked for, never on the number of rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
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

from graph.errors import UserInputError
from graph.plan import BoolOp, ChildRead, Compare, Filter, Read, RelationFilter, SortKey
from graph.settings import Settings
from graph.spec.model import FieldSpec, RelationEnd, Spec, TableSpec
from graph.sql import filters

Path = tuple[str | int, ...]
MAX_FILTER_DEPTH = 32
# Longer value lists are almost always a mistake and make huge statements.
MAX_LIST_VALUES = 1000
# The filter that holds for every row: what `{}` means wherever a filter is expected.
ALWAYS = BoolOp("and", ())


@dataclass(frozen=True)
class TableIndex:
    """GraphQL names of one table's fields and relations, resolved once at start-up."""

    spec: TableSpec
    fields: dict[str, FieldSpec]
    relations: dict[str, RelationEnd]


def build_index(spec: Spec) -> dict[str, TableIndex]:
    return {
        name: TableIndex(
            table,
            {f.gql_name: f for f in table.fields},
            {e.gql_name: e for e in table.relations},
        )
        for name, table in spec.tables.items()
    }


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


def plain(value: Any) -> Any:
    """Enum members to their stored value, lists and objects element-wise."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def _finite_json(value: Any, path: Path) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise UserInputError("NaN and infinity are not JSON values", path)
    if isinstance(value, list):
        for i, item in enumerate(value):
            _finite_json(item, (*path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            _finite_json(item, (*path, key))


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
        where = self.where(table, args.get("where"), (*path, "where"))
        order = self.order(table, args.get("orderBy"), (*path, "orderBy"))
        limit, offset = self.page(args, path) if many else (None, 0)
        return Read(
            table, tuple(dict.fromkeys(columns)), where, order, limit, offset, tuple(children)
        )

    def page(self, args: dict[str, Any], path: Path) -> tuple[int, int]:
        limit = args.get("limit")
        offset = args.get("offset")
        return (
            self.page_size(limit, (*path, "limit")),
            self.non_negative(offset, (*path, "offset")),
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

    @staticmethod
    def non_negative(value: int | None, path: Path) -> int:
        if value is None:
            return 0
        if value < 0:
            raise UserInputError(f"must be 0 or more, not {value}", path)
        return value

    # -- filters ------------------------------------------------------------------------

    def where(self, table: str, raw: Any, path: Path, depth: int = 0) -> Filter | None:
        if raw is None:
            return None
        if depth > MAX_FILTER_DEPTH:
            raise UserInputError(f"filters nest deeper than {MAX_FILTER_DEPTH} levels", path)
        info = self.index[table]
        parts: list[Filter] = []
        for key, value in raw.items():
            here = (*path, key)
            if value is None:
                continue
            if key in ("and", "or"):
                # An empty filter holds for every row: `or: [{}]` holds, it is not `or: []`.
                items = [
                    self.where(table, v, (*here, i), depth + 1) or ALWAYS
                    for i, v in enumerate(value)
                ]
                parts.append(BoolOp(key, tuple(items)))
            elif key == "not":
                inner = self.where(table, value, here, depth + 1)
                parts.append(BoolOp("not", (inner or ALWAYS,)))
            elif key in info.fields:
                parts.extend(self.compares(info.fields[key], value, here))
            else:
                parts.extend(self.relation_filters(info.relations[key], value, here, depth))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def compares(self, field: FieldSpec, ops: dict[str, Any], path: Path) -> list[Filter]:
        result: list[Filter] = []
        kind = filters.KIND_OF_TYPE[field.type]
        for op_name, value in ops.items():
            here = (*path, op_name)
            if value is None:
                raise UserInputError("null is not a value to compare with; use isNull", here)
            op = filters.operator(kind, op_name)
            if op.value == filters.JSON_VALUE:
                _finite_json(value, here)
            if op.value in (filters.MANY, filters.ELEMENTS):
                if any(v is None for v in value):
                    raise UserInputError("lists of values cannot hold null; use isNull", here)
                if len(value) > MAX_LIST_VALUES:
                    raise UserInputError(
                        f"at most {MAX_LIST_VALUES} values, not {len(value)}", here
                    )
            if op.check is not None:
                try:
                    op.check(plain(value), field)
                except ValueError as exc:
                    raise UserInputError(str(exc), here) from None
            result.append(Compare(field.name, op_name, plain(value)))
        return result

    def relation_filters(
        self, end: RelationEnd, value: dict[str, Any], path: Path, depth: int
    ) -> list[Filter]:
        if not end.many:
            return [RelationFilter(end, "is", self.where(end.target, value, path, depth + 1))]
        return [
            RelationFilter(end, mode, self.where(end.target, inner, (*path, mode), depth + 1))
            for mode, inner in value.items()
            if inner is not None
        ]

    # -- ordering -----------------------------------------------------------------------

    def order(
        self, table: str, raw: list[dict[str, Any]] | None, path: Path
    ) -> tuple[SortKey, ...]:
        if not raw:
            return ()
        return tuple(self.sort_key(table, item, (*path, i), ()) for i, item in enumerate(raw))

    def sort_key(
        self, table: str, item: dict[str, Any], path: Path, via: tuple[RelationEnd, ...]
    ) -> SortKey:
        given = {k: v for k, v in item.items() if v is not None}
        if len(given) != 1:
            raise UserInputError(
                "each orderBy item names exactly one field, e.g. [{startedAt: DESC}, {id: ASC}]",
                path,
            )
        ((key, value),) = given.items()
        info = self.index[table]
        if key in info.relations:
            end = info.relations[key]
            return self.sort_key(end.target, value, (*path, key), (*via, end))
        direction = plain(value)
        return SortKey(
            info.fields[key].name,
            descending=direction.startswith("desc"),
            # Nulls sort as larger than any value unless asked otherwise (PostgreSQL's own
            # rule): ASC puts them last, DESC first, and one b-tree index serves both ways.
            nulls_first=direction.endswith("nulls_first") or (direction == "desc"),
            via=via,
        )
