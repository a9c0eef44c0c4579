"""GraphQL's refusals of a write variable and the spec's problems with it, in one error.

graphql-core coerces the variables of an operation before anything executes. When a value does
not fit its type (a wrong scalar, an unknown enum value or field, NaN for a Float, null in a
list of non-null items) it answers with one request error per value ("Variable '$rows' has
invalid value at [3].trustScore: ...") and no resolver runs, so the spec's checks
(graph/rows.py) never see the rows: a client would learn of a range error only after fixing
the type error, one round trip later.

For mutations, `WriteVariableErrors` replaces the refusals of each write variable (one whose
type is a generated `<Type>Insert` or `<Type>Set`, possibly in lists) by ONE BAD_USER_INPUT
error listing them together with the spec's problems of the values GraphQL did coerce, each
with its path, in input order. The spec's checks are the very RowValidator the executed write
runs, fed the values GraphQL's coercion makes of them, so their messages are the same. The
error is still a request error (no `data`): GraphQL requires that when a variable is refused.

Paths name the argument when the variable is exactly one field's argument (`rows[3].trustScore`,
as an executed write says), otherwise the variable (`$rows[3].trustScore`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    coerce_input_value,
    get_named_type,
    get_operation_ast,
    is_input_object_type,
    is_input_type,
    is_list_type,
    is_non_null_type,
    type_from_ast,
)
from graphql.pyutils import Undefined, inspect, is_iterable
from graphql.utilities import validate_input_value
from strawberry.extensions import SchemaExtension

from graph import naming
from graph.errors import Path, Problem
from graph.rows import FieldNames, RowErrors, RowValidator
from graph.spec.model import Spec, TableSpec

__all__ = ["WriteInput", "WriteKind", "WriteVariableErrors", "merged_errors", "write_inputs"]

# graphql-core's own text when it stops coercing after too many errors (max_coercion_errors).
TOO_MANY_ERRORS = "Too many errors processing variables, error limit reached. Execution aborted."


class WriteKind(enum.Enum):
    """Which check of RowValidator a write input's objects go through."""

    INSERT = "insert"  # a whole new row: `.row()`
    SET = "set"  # the changes of an update: `.changes()`


@dataclass(frozen=True)
class WriteInput:
    """A generated input type that carries values to write into one table."""

    table: TableSpec
    kind: WriteKind


def write_inputs(spec: Spec) -> dict[str, WriteInput]:
    """Every write input type of the schema, by its GraphQL name."""
    inputs: dict[str, WriteInput] = {}
    for table in spec.tables.values():
        inputs[naming.insert_input_name(table.type_name)] = WriteInput(table, WriteKind.INSERT)
        inputs[naming.set_input_name(table.type_name)] = WriteInput(table, WriteKind.SET)
    return inputs


# -- where a variable is used --------------------------------------------------------------


def variables_in(value: ValueNode) -> Iterator[str]:
    """The variables a literal holds, at any depth (`[$one, {name: $name}]`)."""
    if isinstance(value, VariableNode):
        yield value.name.value
    elif isinstance(value, ListValueNode):
        for item in value.values:
            yield from variables_in(item)
    elif isinstance(value, ObjectValueNode):
        for field in value.fields:
            yield from variables_in(field.value)


class _Usages:
    """How an operation uses each variable: as a whole field argument (its name), or not
    (None: inside a literal, or in a directive or a fragment's arguments)."""

    def __init__(self, document: DocumentNode, operation: OperationDefinitionNode) -> None:
        self.by_variable: dict[str, list[str | None]] = {}
        self._fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._seen: set[str] = set()
        self._walk(operation.selection_set)

    def _add(self, variable: str, argument: str | None) -> None:
        self.by_variable.setdefault(variable, []).append(argument)

    def _nested(self, nodes: Sequence[Any] | None) -> None:
        """Arguments whose variables cannot be named by the argument (directives...)."""
        for node in nodes or ():
            for variable in variables_in(node.value):
                self._add(variable, None)

    def _walk(self, selection_set: SelectionSetNode | None) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            for directive in selection.directives or ():
                self._nested(directive.arguments)
            if isinstance(selection, FieldNode):
                for argument in selection.arguments or ():
                    if isinstance(argument.value, VariableNode):
                        self._add(argument.value.name.value, argument.name.value)
                    else:
                        self._nested([argument])
                self._walk(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                self._walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                # Fragment arguments exist only behind graphql-core's experimental flag.
                self._nested(getattr(selection, "arguments", None))
                name = selection.name.value
                fragment = self._fragments.get(name)
                if fragment is not None and name not in self._seen:
                    self._seen.add(name)
                    self._walk(fragment.selection_set)

    def prefix(self, variable: str) -> Path:
        """Where the paths of the variable's problems start: the argument it is, when it is
        exactly one field's argument (as the executed write names it), else the variable."""
        usages = self.by_variable.get(variable, [])
        if len(usages) == 1 and usages[0] is not None:
            return (usages[0],)
        return (f"${variable}",)


# -- one variable's problems -----------------------------------------------------------------


def _refusals(value: Any, type_: GraphQLInputType) -> list[tuple[list[str | int], str]]:
    """GraphQL's reasons to refuse `value` as a `type_`, each with its path inside the value:
    the very messages graphql-core puts after "Variable '$rows' has invalid value at ...: "."""
    found: list[tuple[list[str | int], str]] = []
    validate_input_value(value, type_, lambda error, path: found.append((path, error.message)))
    return found


def _without_found(message: str, value: dict[str, Any]) -> str:
    """The message without its `found: {...}` tail when that is the whole object: the client
    sent it, and it would repeat every value of the row for each unknown field."""
    shown = inspect(value)
    for tail, end in ((f", found: {shown}.", "."), (f" Found: {shown}.", "")):
        if message.endswith(tail):
            return message[: -len(tail)] + end
    return message


# Where a problem goes among those of its object: the given fields in the input type's order
# (RowValidator reports them in that order too), then unknown fields as given, then the rest
# (a required field left out) as found.
_Rank = tuple[int, int]
_GIVEN, _UNKNOWN, _REST = 0, 1, 2


class _VariableCheck:
    """Walks one write variable's value as sent: GraphQL's refusals where it refuses a value,
    the spec's problems with the rest. Fields GraphQL refuses are not checked again."""

    def __init__(self, write: WriteInput) -> None:
        self.write = write
        # One validator for the whole variable, as one executed write has one.
        self.validator = RowValidator(write.table, FieldNames.api(write.table))
        self.problems: list[Problem] = []

    def _refused(self, value: Any, type_: GraphQLInputType, path: Path) -> None:
        self.problems += [
            Problem((*path, *inner), message) for inner, message in _refusals(value, type_)
        ]

    def value(self, value: Any, type_: GraphQLInputType, path: Path) -> None:
        if is_non_null_type(type_):
            if value is None or value is Undefined:
                self._refused(value, type_, path)
                return
            type_ = type_.of_type
        if value is None or value is Undefined:
            return  # nothing to write
        if is_list_type(type_):
            # GraphQL takes a single value for a list as a list of one, so the executed
            # write sees it at index 0, and so is it named here.
            items = value if is_iterable(value) else [value]
            for index, item in enumerate(items):
                self.value(item, type_.of_type, (*path, index))
        elif is_input_object_type(type_):
            self._object(value, type_, path)
        else:  # no write input holds a bare scalar at its top, but refuse it the same way
            self._refused(value, type_, path)

    def _object(self, raw: Any, type_: GraphQLInputObjectType, path: Path) -> None:
        if not isinstance(raw, dict):  # GraphQL's own test of an input object
            self._refused(raw, type_, path)
            return
        fields = type_.fields
        position = {name: index for index, name in enumerate(fields)}
        ranked: list[tuple[_Rank, Problem]] = []
        refused_fields: set[str] = set()
        # graphql-core reports an unknown field on the object, one message per unknown field in
        # the order given; here each names its field in the path, like RowValidator does.
        unknown = iter(
            [name for name, v in raw.items() if name not in fields and v is not Undefined]
        )
        for inner, message in _refusals(raw, type_):
            if inner:
                name = str(inner[0])
                refused_fields.add(name)
                ranked.append(((_GIVEN, position[name]), Problem((*path, *inner), message)))
                continue
            unknown_name = (
                next(unknown, None) if "not to include unknown field" in message else None
            )
            if unknown_name is not None:
                problem = Problem((*path, unknown_name), _without_found(message, raw))
                ranked.append(((_UNKNOWN, 0), problem))
            else:
                ranked.append(((_REST, 0), Problem(path, _without_found(message, raw))))
        ranked += self._spec_problems(raw, type_, path, refused_fields, position)
        # Stable: problems of one rank keep the order they were found in.
        ranked.sort(key=lambda item: item[0])
        self.problems += [problem for _rank, problem in ranked]

    def _spec_problems(
        self,
        raw: dict[str, Any],
        type_: GraphQLInputObjectType,
        path: Path,
        refused_fields: set[str],
        position: dict[str, int],
    ) -> list[tuple[_Rank, Problem]]:
        """RowValidator's problems with the fields GraphQL coerced, coerced as the executed
        write receives them (enum members, datetimes, ints for BigInt...)."""
        kept = {
            name: value
            for name, value in raw.items()
            if name in type_.fields and name not in refused_fields
        }
        coerced = coerce_input_value(kept, type_)
        if coerced is Undefined:  # cannot happen once the refused fields are out; be safe
            return []
        if self.write.kind is WriteKind.SET and not coerced and raw:
            # Every field it names was refused: "name at least one field" would be wrong.
            return []
        start = len(self.validator.problems)
        if self.write.kind is WriteKind.INSERT:
            self.validator.row(coerced, path)
        else:
            self.validator.changes(coerced, path)
        ranked: list[tuple[_Rank, Problem]] = []
        for problem in self.validator.problems[start:]:
            field = problem.path[len(path)] if len(problem.path) > len(path) else None
            if not isinstance(field, str):
                ranked.append(((_REST, 0), problem))
            elif field in refused_fields:
                continue  # e.g. "is required": GraphQL said what is wrong with it
            elif field in kept and field in position:
                ranked.append(((_GIVEN, position[field]), problem))
            else:
                ranked.append(((_REST, 0), problem))  # a required field left out
        return ranked


# -- the request's errors --------------------------------------------------------------------


def _refused_variable(error: GraphQLError) -> str | None:
    """The variable whose value graphql-core refused in `error`, if that is what it says."""
    nodes = error.nodes or []
    if len(nodes) != 1 or not isinstance(nodes[0], VariableDefinitionNode):
        return None
    name = nodes[0].variable.name.value
    # Not "has invalid default value": the document's own default, checked by validation.
    return name if error.message.startswith(f"Variable '${name}' has invalid value") else None


def _write_input(
    schema: GraphQLSchema, definition: VariableDefinitionNode, inputs: Mapping[str, WriteInput]
) -> tuple[GraphQLInputType, WriteInput] | None:
    type_ = type_from_ast(schema, definition.type)
    if type_ is None or not is_input_type(type_):
        return None
    write = inputs.get(get_named_type(type_).name)
    return None if write is None else (type_, write)


def merged_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
    errors: list[GraphQLError],
    inputs: Mapping[str, WriteInput],
    max_rows: int,
) -> list[GraphQLError]:
    """The request errors of a mutation whose variables graphql-core refused, with the
    refusals of each write variable merged into one error with the spec's problems of its
    values; every other error as it was. `errors` when there is nothing to merge."""
    if not any(_refused_variable(error) for error in errors):
        return errors
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.MUTATION:
        return errors
    usages = _Usages(document, operation)
    checked: set[str] = set()
    replaced: dict[str, GraphQLError] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        found = _write_input(schema, definition, inputs)
        value = variables.get(name, Undefined)
        if found is None or (value is Undefined and definition.default_value is not None):
            continue  # not a write variable, or the document's own default (validated)
        if isinstance(value, list) and len(value) > max_rows:
            # The executed write would refuse it for its size before checking any row; the
            # spec's checks of so many rows are not worth doing for an error.
            continue
        type_, write = found
        check = _VariableCheck(write)
        check.value(value, type_, usages.prefix(name))
        checked.add(name)
        if check.problems:
            problems = RowErrors(check.problems)
            replaced[name] = GraphQLError(str(problems), definition, original_error=problems)
    if not replaced:
        return errors
    merged: list[GraphQLError] = []
    placed: set[str] = set()
    aborted: list[GraphQLError] = []
    for error in errors:
        refused = _refused_variable(error)
        if refused is not None and refused in replaced:
            if refused not in placed:
                merged.append(replaced[refused])  # where its first refusal was
                placed.add(refused)
        elif error.message == TOO_MANY_ERRORS:
            aborted.append(error)
        else:
            merged.append(error)
    # Write variables GraphQL took as they are, but whose values the spec refuses.
    merged += [error for variable, error in replaced.items() if variable not in placed]
    every_variable = {d.variable.name.value for d in operation.variable_definitions or ()}
    if not every_variable <= checked:
        # graphql-core stopped early: variables it did not reach may hold refused values.
        merged += aborted
    return merged


class WriteVariableErrors(SchemaExtension):
    """After execution, merges the refusals of each write variable of a mutation with the
    spec's problems of its values (see the module's docstring). Does nothing unless the
    result is a request error that names a refused variable."""

    def __init__(self, inputs: Mapping[str, WriteInput], max_rows: int) -> None:
        super().__init__()
        self.inputs = inputs
        self.max_rows = max_rows

    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context
        result = context.result
        # graphql-core answers refused variables with its own result: no data at all.
        if not isinstance(result, ExecutionResult) or result.data is not None:
            return
        if not result.errors or context.graphql_document is None:
            return
        result.errors = merged_errors(
            context.schema._schema,
            context.graphql_document,
            context.operation_name,
            context.variables or {},
            result.errors,
            self.inputs,
            self.max_rows,
        )
