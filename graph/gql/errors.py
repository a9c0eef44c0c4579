"""How errors reach a client: a stable `extensions.code`, and nothing internal unless debug."""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError
from graphql.validation import ASTValidationRule, ValidationContext, ValuesOfCorrectTypeRule
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension

from graph.errors import GraphError, UserInputError
from graph.http.observe import current_request_id

log = logging.getLogger("graph.errors")

BAD_USER_INPUT = "BAD_USER_INPUT"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
INTERNAL = "INTERNAL_SERVER_ERROR"
LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
# graphql-core ends messages with " Did you mean 'x'?" or " Did you mean 'x', 'y' or 'z'?".
_SUGGESTION = re.compile(r" Did you mean [^?]*\?$")


class _CodedContext:
    """A validation context whose reported errors carry a code; otherwise the real one."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": self._code}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def with_code(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    """The validation rule, with every error it reports carrying `extensions.code`.

    Some rules report through their context rather than their own report_error (strawberry's
    depth limit does), so the rule is handed a context that adds the code.
    """

    def init(self: ASTValidationRule, context: ValidationContext) -> None:
        rule.__init__(self, _CodedContext(context, code))  # type: ignore[arg-type]

    return type(rule.__name__, (rule,), {"__init__": init})


# GraphQL's own check of literal argument values: a wrong value is the client's input error.
BadValueRule = with_code(ValuesOfCorrectTypeRule, BAD_USER_INPUT)
# Every other rule's errors say GRAPHQL_VALIDATION_FAILED themselves: told apart by message
# alone, "Variable '$v' is never used." read like a variable's bad value. One coded class per
# rule, made once, so the validation cache (keyed by the rule classes) keeps hitting.
_CODED_RULES: dict[type[ASTValidationRule], type[ASTValidationRule]] = {
    ValuesOfCorrectTypeRule: BadValueRule
}


def coded_rule(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    if rule not in _CODED_RULES:
        _CODED_RULES[rule] = with_code(rule, VALIDATION_FAILED)
    return _CODED_RULES[rule]


class ValidationRules(SchemaExtension):
    """Sets the validation rules: GraphQL's own, each with its error code, plus ours.

    The extra rules (depth and alias limits) are classes built once per schema: the validation
    cache is keyed by the rule classes, so rules made anew per request would never hit it.
    Must run before the validation cache validates.
    """

    def __init__(self, extra_rules: tuple[type[ASTValidationRule], ...] = ()) -> None:
        super().__init__()
        self.extra_rules = extra_rules

    def on_validate(self):  # type: ignore[no-untyped-def]
        context = self.execution_context
        standard = tuple(coded_rule(rule) for rule in context.validation_rules)
        context.validation_rules = standard + self.extra_rules
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
    if "Document contains more than" in error.message:  # graphql-core's max_tokens
        return LIMIT_EXCEEDED
    if error.message.startswith("Syntax Error"):
        return PARSE_FAILED
    return VALIDATION_FAILED


def format_error(error: GraphQLError, *, debug: bool, suggestions: bool = True) -> dict[str, Any]:
    """The error as the client sees it; without `suggestions`, no "Did you mean" (names of
    the schema a client without introspection should not learn from its typos)."""
    code = error_code(error)
    formatted: dict[str, Any] = dict(error.formatted)
    if not suggestions:
        formatted["message"] = _SUGGESTION.sub("", formatted["message"])
    extensions: dict[str, Any] = {"code": code}
    original = error.original_error
    if isinstance(original, UserInputError) and original.argument_path:
        extensions["argumentPath"] = list(original.argument_path)
    problems = getattr(original, "problems", ())
    if problems:
        # Every refused value of a write, each with its path inside the field's arguments.
        extensions["problems"] = [{"path": list(p.path), "message": p.message} for p in problems]
    if code == INTERNAL:
        request = {"request_id": current_request_id()}
        log.error("internal error", exc_info=original, extra={"fields": request})
        if not debug:
            formatted["message"] = "Internal server error"
    elif code == "SERVICE_UNAVAILABLE":
        # The driver's own message only: SQLAlchemy's would carry the statement and the
        # client's values into the log.
        cause = original.__cause__ if original else None
        reason = getattr(cause, "orig", cause) or error
        first_line = (str(reason).strip().splitlines() or [""])[0]
        log.warning("database unavailable: %s: %s", type(reason).__name__, first_line)
    if debug and original is not None and code == INTERNAL:
        extensions["exception"] = f"{type(original).__name__}: {original}"
    formatted["extensions"] = extensions
    return formatted
