"""How errors reach a client: a stable `extensions.code`, and nothing internal unless debug."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from graphql.validation import ValuesOfCorrectTypeRule
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension

from graph.errors import GraphError, UserInputError

log = logging.getLogger("graph.errors")

BAD_USER_INPUT = "BAD_USER_INPUT"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
INTERNAL = "INTERNAL_SERVER_ERROR"


class BadValueRule(ValuesOfCorrectTypeRule):
    """GraphQL's own check of literal argument values, with its errors marked BAD_USER_INPUT."""

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": BAD_USER_INPUT}
        super().report_error(error)


class MarkBadValues(SchemaExtension):
    """Swap in BadValueRule; must run before the validation cache validates."""

    def on_validate(self):  # type: ignore[no-untyped-def]
        context = self.execution_context
        context.validation_rules = tuple(
            BadValueRule if rule is ValuesOfCorrectTypeRule else rule
            for rule in context.validation_rules
        )
        yield


def error_code(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, GraphError):
        return original.code
    if error.extensions and isinstance(error.extensions.get("code"), str):
        return str(error.extensions["code"])
    if error.message.startswith("Variable '$") or isinstance(
        original, StrawberryInputCoercionError
    ):
        # Coercion of variable values: a wrong type, enum or format from the client.
        return BAD_USER_INPUT
    if original is not None:
        return INTERNAL
    if error.message.startswith("Syntax Error"):
        return PARSE_FAILED
    return VALIDATION_FAILED


def format_error(error: GraphQLError, *, debug: bool) -> dict[str, Any]:
    """The error as the client sees it."""
    code = error_code(error)
    formatted: dict[str, Any] = dict(error.formatted)
    extensions: dict[str, Any] = {"code": code}
    original = error.original_error
    if isinstance(original, UserInputError) and original.argument_path:
        extensions["argumentPath"] = list(original.argument_path)
    if code == INTERNAL:
        log.error("internal error", exc_info=original)
        if not debug:
            formatted["message"] = "Internal server error"
    elif code == "SERVICE_UNAVAILABLE":
        log.warning("database unavailable: %s", original.__cause__ if original else error)
    if debug and original is not None and code == INTERNAL:
        extensions["exception"] = f"{type(original).__name__}: {original}"
    formatted["extensions"] = extensions
    return formatted
