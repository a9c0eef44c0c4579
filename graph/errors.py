"""One error hierarchy for the whole engine; every error carries a stable UPPER_SNAKE code.

GraphError                      code: INTERNAL_SERVER_ERROR
 +-- SpecErrors                 SPEC_INVALID (a list of SpecIssue, each with its own code)
 +-- UserInputError             BAD_USER_INPUT (a client's argument is wrong; carries the path)
 +-- ServiceUnavailableError    SERVICE_UNAVAILABLE (the database cannot be reached)
 +-- SchemaMismatchError        SCHEMA_MISMATCH (a table or column of the spec is missing)
 +-- OutOfRangeError            OUT_OF_RANGE (a computed number does not fit a double)
 +-- OperationResolutionError   OPERATION_RESOLUTION_FAILURE (which operation of a document to run)
 +-- StatementTimeoutError      TIMEOUT (graph/sql/timeouts.py)
 +-- DatabaseUrlError           BAD_DATABASE_URL (graph/sql/engine.py)
 +-- SeedError                  SEED_CONFLICT (graph/seed/load.py)
 +-- WriteError                 a write refused as a whole; nothing was changed (graph/sql/write.py)
      +-- ConflictError         CONFLICT (a natural key or unique value is taken)
      +-- MissingTargetError    MISSING_LINK_TARGET (on_missing: reject)
      +-- RestrictedError       RESTRICTED (on_delete: restrict, or other rows link to a value)
      +-- TooManyMatchesError   TOO_MANY_MATCHES (more rows match than atMost)
      +-- AppendOnlyError       APPEND_ONLY (an update or delete of an append-only table)
      +-- WriteLimitError       LIMIT_EXCEEDED (more rows than one write may hold)

Limits (depth, aliases, tokens, body size) are enforced before any resolver runs and answer
LIMIT_EXCEEDED from graph/gql/errors.py and graph/http/.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class GraphError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, order=True)
class SourcePos:
    """A place in a spec file: 1-based line and column, as compilers print them."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class SpecIssue:
    """One problem found in the spec files."""

    pos: SourcePos
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.pos}: {self.message} [{self.code}]"


class SpecErrors(GraphError):
    """The spec files have problems; all of them are listed, in file order."""

    code = "SPEC_INVALID"

    def __init__(self, issues: Sequence[SpecIssue]) -> None:
        self.issues = tuple(sorted(issues, key=lambda i: (i.pos, i.code, i.message)))
        count = len(self.issues)
        lines = "\n".join(str(i) for i in self.issues)
        super().__init__(f"{lines}\n{count} error{'s' if count != 1 else ''} in the spec files")


Path = tuple[str | int, ...]


def dotted(path: Sequence[str | int]) -> str:
    """`("rows", 3, "trustScore")` -> `rows[3].trustScore`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class Problem:
    """One refused value of a write: where it is and what is wrong with it."""

    path: Path
    message: str

    def __str__(self) -> str:
        where = dotted(self.path)
        return f"{where}: {self.message}" if where else self.message


def listed(problems: Sequence[Problem]) -> str:
    return "; ".join(str(p) for p in problems)


class UserInputError(GraphError):
    """A client's argument is wrong; `path` names the argument (e.g. where.status.eq)."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, path: Sequence[str | int] = ()) -> None:
        self.argument_path = tuple(path)
        where = ".".join(str(p) for p in self.argument_path)
        super().__init__(f"{where}: {message}" if where else message)


class WriteError(GraphError):
    """A write refused as a whole: nothing of it was kept. `problems` names each cause."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class ConflictError(WriteError):
    code = "CONFLICT"


class MissingTargetError(WriteError):
    code = "MISSING_LINK_TARGET"


class RestrictedError(WriteError):
    code = "RESTRICTED"


class TooManyMatchesError(WriteError):
    code = "TOO_MANY_MATCHES"


class AppendOnlyError(WriteError):
    code = "APPEND_ONLY"


class WriteLimitError(WriteError):
    code = "LIMIT_EXCEEDED"


class LimitExceededError(GraphError):
    """A request asks for more than a configured limit allows; the message names the limit."""

    code = "LIMIT_EXCEEDED"

    def __init__(self, message: str, path: Sequence[str | int] = ()) -> None:
        self.argument_path = tuple(path)
        super().__init__(message)


class OutOfRangeError(GraphError):
    """An answer the database computed does not fit its type (a sum of floats beyond the
    largest double): the request asked for nothing wrong, but there is no value to give."""

    code = "OUT_OF_RANGE"


class OperationResolutionError(GraphError):
    """The request does not say which operation of its document to run (several and no
    `operationName`, or a name no operation has)."""

    code = "OPERATION_RESOLUTION_FAILURE"


class ServiceUnavailableError(GraphError):
    """The database is unreachable or refused the connection; retrying later may work."""

    code = "SERVICE_UNAVAILABLE"


class SchemaMismatchError(GraphError):
    """The database lacks a table or column the spec names: the YAML changed after the tables
    were created (graph/drift.py). `table` and `column` are SQL names, when the database said."""

    code = "SCHEMA_MISMATCH"

    def __init__(
        self, message: str, *, table: str | None = None, column: str | None = None
    ) -> None:
        super().__init__(message)
        self.table = table
        self.column = column
