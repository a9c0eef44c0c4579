"""A kept document's statement, bound to a request's variables without planning.

A document answered before (graph/gql/kept_documents.py) skips GraphQL's execution, but its
root resolver still plans the selection, builds its Shape, takes the comparison values out of
the Read (graph/sql/slots.py) and looks its statement up, at every request: for a grid's
detail pane that asks for one key after another, the same work again to reach the same
statement with another value in one Slot. This module keeps, per document and per value of
the variables that can change the statement, what that work comes to: the template's driver
text, the Shape, and which variable gives which Slot its value. A later request then checks each
such value as the planner checks it and runs the template's driver text
(graph/sql/driver_template.py) with them.

Which variables only give values (VALUE variables): declared as a scalar that has a probe
below (String, ID, Int, BigInt, Float, DateTime, Date), and used nowhere but as the operand of
an operator that takes one value in a Slot (`eq`, `neq`, `gt`, `gte`, `lt`, `lte`) inside a
`where`, or as the argument of the root lookup. Every other variable (limits, orders, lists,
enums, directives' conditions) is part of the binding's key with its value; a value variable
only with whether it is absent, null or given.

How a binding is found, not assumed: the root field is planned twice more, in a session that
runs nothing (ReadSession.planning_only: the compiled path raises StatementNoted with what it
would run), each time with fresh probe values of the value variables. A binding is kept only
when both plans give the same template, every Slot either holds a probe itself in both (that
variable's Slot: the value reached it unchanged) or the same value in both (a constant of the
document), and the template's driver text is kept. A value that reaches a Slot changed (a
UUID made canonical), a Slot kept out of the statement (a relation aggregate's filter), a
statement that would not be the operation's only one: no binding, and such requests plan as
before. A variable's value the planner would refuse (NUL, a lone surrogate, a failed
operator check) makes the request go the full way, which answers the error with its path.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from graphql import (
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    ListValueNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionNode,
    ValueNode,
    VariableNode,
)

from graph.errors import GraphError
from graph.gql.coercion import variables_in
from graph.gql.compiled import COMPILED, StatementNoted
from graph.gql.prepared import BoundAnswer
from graph.spec.model import FieldSpec, Spec
from graph.sql import filters
from graph.sql.driver_template import DriverTemplate
from graph.sql.slots import slot_compares
from graph.sql.statement_cache import Lru
from graph.where import plain

if TYPE_CHECKING:
    from graph.gql.context import RequestContext

# The filter argument whose operators' operands may be value variables.
WHERE = "where"
# Bindings kept per document: one per value of the other variables (a few limits, a few
# statuses); beyond it, the least recently used goes.
MAX_BINDINGS = 64
# How many probe values apart the two plans' probes are (their values must differ).
SECOND_PROBES = 7


def _probe_text(n: int) -> str:
    return f"grace-probe-{secrets.token_hex(8)}-{n}"


# A fresh object of each scalar's coerced type per call (never one the planner holds already:
# a Slot holding it is that variable's), with a value no document writes.
PROBES: dict[str, Callable[[int], Any]] = {
    "String": _probe_text,
    "ID": _probe_text,
    "Int": lambda n: int(str(1_000_000_007 + n)),
    "BigInt": lambda n: int(str(5_000_000_000_017 + n)),
    "Float": lambda n: float(str(1234.0625 + n)),
    "DateTime": lambda n: dt.datetime(2001, 2, 3, 4, 5, 6, 1_000 + n, tzinfo=dt.UTC),
    "Date": lambda n: dt.date(2001, 2, 3) + dt.timedelta(days=n),
}

# A value variable's state in a binding's key.
ABSENT, NULL, GIVEN = 0, 1, 2


def value_variables(
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    lookups: frozenset[str],
) -> dict[str, str]:
    """The operation's value variables (module docstring), each with its declared type's
    name. `lookups`: the root lookup fields' names."""
    declared = {
        d.variable.name.value: d.type.type if isinstance(d.type, NonNullTypeNode) else d.type
        for d in operation.variable_definitions or ()
    }
    candidates = {
        name: type_node.name.value
        for name, type_node in declared.items()
        if isinstance(type_node, NamedTypeNode) and type_node.name.value in PROBES
    }
    elsewhere: set[str] = set()
    definitions = [operation, *fragments.values()]
    for directive in (d for definition in definitions for d in definition.directives or ()):
        elsewhere.update(_directive_variables(directive))
    roots = operation.selection_set.selections
    for selection in _selections(operation, fragments):
        for directive in selection.directives or ():
            elsewhere.update(_directive_variables(directive))
        if not isinstance(selection, FieldNode):
            continue
        # Identity, not depth: a root field is one of the operation's own selections.
        lookup = selection.name.value in lookups and any(selection is root for root in roots)
        for argument in selection.arguments or ():
            if argument.name.value == WHERE:
                elsewhere.update(_outside_operands(argument.value))
            elif not (lookup and isinstance(argument.value, VariableNode)):
                elsewhere.update(variables_in(argument.value))
    return {name: type_name for name, type_name in candidates.items() if name not in elsewhere}


def _selections(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> Iterator[SelectionNode]:
    """Every selection of the operation and of each fragment, once: one walk serves both the
    fields' arguments and the directives (validation refuses a fragment never spread)."""
    sets = [operation.selection_set, *(f.selection_set for f in fragments.values())]
    while sets:
        for selection in sets.pop().selections:
            yield selection
            inner = getattr(selection, "selection_set", None)
            if inner is not None:
                sets.append(inner)


def _directive_variables(directive: DirectiveNode) -> Iterator[str]:
    """The variables of a directive's arguments (a condition: part of the key)."""
    for argument in directive.arguments or ():
        yield from variables_in(argument.value)


def _outside_operands(where: ValueNode) -> Iterator[str]:
    """The variables of a `where` value used other than as a one-value operator's operand."""
    if isinstance(where, ObjectValueNode):
        for item in where.fields:
            operand = isinstance(item.value, VariableNode)
            if not (operand and item.name.value in filters.SCALAR_SLOT_OPERATORS):
                yield from _outside_operands(item.value)
    elif isinstance(where, ListValueNode):
        for value in where.values:
            yield from _outside_operands(value)
    else:
        yield from variables_in(where)


def binding_key(
    names: tuple[str, ...], values: Collection[str], raw: Any, coerced: dict[str, Any]
) -> tuple[Any, ...] | None:
    """The key of a request's binding: each variable's value, but a value variable's state
    (absent, null, given); None when a value cannot key it."""
    given = raw if isinstance(raw, dict) else {}
    parts: list[Any] = []
    for name in names:
        if name in values:
            state = ABSENT if name not in coerced else NULL if coerced[name] is None else GIVEN
            parts.append(state)
        elif name in given:
            try:
                parts.append(orjson.dumps(given[name], option=orjson.OPT_SORT_KEYS))
            except TypeError:
                return None
        else:
            parts.append(None)
    return tuple(parts)


@dataclass(frozen=True)
class BoundSlot:
    """A Slot whose value is a variable's, checked as the planner checks a compared value."""

    name: str
    variable: str
    field: FieldSpec
    operator: filters.Operator

    def value(self, given: Any) -> Any:
        """The Slot's value for the variable's coerced value; raises ValueError where the
        planner would refuse the value (the full path then reports it)."""
        kind = filters.KIND_OF_TYPE[self.field.type]
        if filters.unusable_value(given, json=kind == "json") is not None:
            raise ValueError("refused")
        if self.operator.check is not None:
            self.operator.check(plain(given), self.field)
        try:
            return filters.slot_value(self.field, self.operator.name, plain(given))
        except GraphError as error:
            raise ValueError("refused") from error


@dataclass(frozen=True)
class Binding:
    """A document's statement for one binding key: the template's driver text (held here, as
    long as the document is kept, whether or not the driver texts' cache still holds it), how
    its rows become the answer, the Slots that take variables' values and the others'
    values."""

    key: str
    driver: DriverTemplate
    answerer: BoundAnswer
    slots: tuple[BoundSlot, ...]
    constants: dict[str, Any]

    async def answer(
        self, context: RequestContext, coerced: dict[str, Any]
    ) -> orjson.Fragment | None:
        """The root field's answer for these variables; None when the full path must answer
        (a refused value, a null under a non-null field). Raises what the statement raises
        (a time limit: GraphError)."""
        parameters = dict(self.constants)
        try:
            for slot in self.slots:
                parameters[slot.name] = slot.value(coerced[slot.variable])
        except ValueError:
            return None
        statement = self.driver.bound(parameters)
        if statement is None:
            return None
        fragment = await self.answerer.answer(context, self.key, statement, parameters)
        if fragment is None:
            return None
        context.paths[self.key] = COMPILED
        return fragment


def bound_from(
    spec: Spec,
    key: str,
    notes: list[tuple[StatementNoted, dict[str, Any]]],
    driver_templates: Lru[Any, DriverTemplate],
) -> Binding | None:
    """The binding two planning-only runs show, each with its probes by variable; None when
    they do not show one (module docstring)."""
    (first, first_probes), (second, second_probes) = notes
    if not (first.alone and second.alone) or first.template_key is None:
        return None
    if first.answerer is None or second.answerer is None:
        return None
    if first.template_key != second.template_key or first.kind != second.kind:
        return None
    driver = driver_templates.peek(first.template_key)
    if driver is None:
        return None
    if first.parameters.keys() != second.parameters.keys():
        return None
    compares = slot_compares(spec, first.template_read)
    slots: list[BoundSlot] = []
    constants: dict[str, Any] = {}
    for name, value in first.parameters.items():
        other = second.parameters[name]
        variable = next((v for v, probe in first_probes.items() if probe is value), None)
        if variable is not None:
            if other is not second_probes[variable] or name not in compares:
                return None
            table, compare = compares[name]
            field = spec.table(table).field(compare.field)
            operator = filters.operator(filters.KIND_OF_TYPE[field.type], compare.op)
            slots.append(BoundSlot(name, variable, field, operator))
        elif type(value) is type(other) and value == other:
            constants[name] = value
        else:
            return None
    return Binding(key, driver, first.answerer, tuple(slots), constants)
