"""Aggregate groups encoded for the client without graphql-core completing them field by field.

An aggregate's groups arrive from the database finished (graph/sql/aggregate.py computes them,
graph/gql/aggregates.py GroupShaper shapes them as the types read them). graphql-core would
then visit every field of every group: resolve it, coerce its arguments (a `percentile(p:)`
anew for each group of each parent row), complete and serialize it. For a list of 200
playbooks with two relation aggregates that was most of the request's CPU.

A GroupEncoder plans the selection once (fields by response key through fragments,
`@skip`/`@include` and aliases, `__typename`, each field's GraphQL type and the key its value
has in the group's dict, a percentile's `p`) and then writes each group's answer as graphql-core
would: keys in the selection's order, leaf values through the schema's own `serialize` of
their scalar or enum type. The answer is handed over as an orjson.Fragment, which
graph/gql/compiled.py's PassThroughExecution lets through untouched.

What it cannot encode as graphql-core would (a null under a non-null field, a value a scalar
refuses, an unknown field) raises NotEncodable: the caller then returns the groups for
graphql-core to complete, with its errors and their paths.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
)
from graphql.execution.values import get_argument_values

from graph.gql.selection import collect_fields, core_variables

TYPENAME = "__typename"
# The one field of a group with an argument; its value is read under ("percentile", p).
PERCENTILE = "percentile"


class NotEncodable(Exception):
    """Something graphql-core would answer with an error, or that this encoder does not know."""


@dataclass(frozen=True)
class _Field:
    key: str
    read: Callable[[Any], Any]
    non_null: bool
    # A leaf's serializer, or the plan of an object's fields.
    serialize: Callable[[Any], Any] | None
    fields: tuple[_Field, ...] | None


class GroupEncoder:
    """The answer of one aggregate field (a root `...Aggregate` or a relation's), for any
    list of groups, as graphql-core would complete it."""

    def __init__(
        self,
        return_type: GraphQLOutputType,
        field_nodes: list[FieldNode],
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Any,
    ) -> None:
        self._fragments = fragments
        self._variables = core_variables(variables)
        group = get_named_type(return_type)  # the group type inside `[Group!]!`
        if not isinstance(group, GraphQLObjectType):
            raise NotEncodable(f"{group} is not an object type")
        self._fields = self._plan(group, field_nodes)

    def encode(self, groups: list[dict[Any, Any]]) -> orjson.Fragment:
        """The groups' JSON, as the client gets it; NotEncodable when graphql-core would
        answer otherwise."""
        return orjson.Fragment(orjson.dumps([_object(self._fields, group) for group in groups]))

    def _plan(self, parent: GraphQLObjectType, nodes: list[FieldNode]) -> tuple[_Field, ...]:
        sets = [node.selection_set for node in nodes if node.selection_set is not None]
        planned = []
        for key, same in collect_fields(sets, self._fragments, self._variables).items():
            name = same[0].name.value
            if name == TYPENAME:
                planned.append(_Field(key, _constant(parent.name), True, _same, None))
                continue
            definition = parent.fields.get(name)
            if definition is None:
                raise NotEncodable(f"{parent.name} has no field {name}")
            read = self._reader(name, definition, same[0])
            kind = definition.type
            non_null = isinstance(kind, GraphQLNonNull)
            inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
            if isinstance(inner, GraphQLObjectType):
                planned.append(_Field(key, read, non_null, None, self._plan(inner, same)))
            elif isinstance(inner, GraphQLScalarType | GraphQLEnumType):
                planned.append(_Field(key, read, non_null, inner.serialize, None))
            else:  # a list inside a group: none today
                raise NotEncodable(f"{parent.name}.{name} is {kind}")
        return tuple(planned)

    def _reader(self, name: str, definition: Any, node: FieldNode) -> Callable[[Any], Any]:
        """How a group's dict holds the field (what the schema's resolver reads)."""
        if definition.args:
            if name != PERCENTILE:
                raise NotEncodable(f"{name} takes arguments")
            p = get_argument_values(definition, node, self._variables)["p"]
            return lambda row: row[(PERCENTILE, p)]
        strawberry_field = definition.extensions.get("strawberry-definition")
        if strawberry_field is None:
            raise NotEncodable(f"{name} has no python name")
        python_name: str = strawberry_field.python_name
        return lambda row: row[python_name]


def _object(fields: tuple[_Field, ...], row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields:
        try:
            value = field.read(row)
        except (KeyError, TypeError):
            raise NotEncodable(f"no value for {field.key}") from None
        if value is None:
            if field.non_null:
                raise NotEncodable(f"null under the non-null {field.key}")
            out[field.key] = None
        elif field.fields is not None:
            out[field.key] = _object(field.fields, value)
        else:
            assert field.serialize is not None
            try:
                serialized = field.serialize(value)
            except Exception:
                raise NotEncodable(f"{field.key} refuses {value!r}") from None
            if serialized is None or serialized is Undefined:
                raise NotEncodable(f"{field.key} refuses {value!r}")
            out[field.key] = serialized
    return out


def _same(value: Any) -> Any:
    return value


def _constant(value: str) -> Callable[[Any], str]:
    return lambda _row: value
