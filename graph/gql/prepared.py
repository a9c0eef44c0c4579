"""Prepared operations: a request the server has answered before, answered again without
GraphQL.

A query whose one root field the compiled path answered with a reusable statement (no
request moment in it, graph/sql/statement_cache.py) is, for the same request body, the same
statement again: parsing, validation, cost checks, planning and execution would all come to
the same result. The endpoint (graph/http/endpoint.py) keeps such requests by a digest of
their method and raw body (or query string); when the same request comes again (a POST: before
its body is parsed) it runs the statement and writes `{"data": {<key>: <answer>}}` itself: the
bytes the full path writes.

Anything else goes the full way: a request first seen, with errors, of several root fields,
holding the moment; and a prepared request whose statement fails: the full path then answers
with its error code or recovers, and the operation is forgotten until it succeeds again. A
statement stopped by the time limit is not run again by the full path: it answers TIMEOUT at
once, where the field is (graph/http/endpoint.py Incoming.timed_out).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio
import orjson

from graph.shape import Shape
from graph.sql.engine import load_json
from graph.sql.response import final_text
from graph.sql.statement_cache import DriverStatement, Lru
from graph.sql.timeouts import raise_if_timeout

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from graph.gql.context import GraphContext

T = TypeVar("T")

# A number written with an exponent (PostgreSQL's float output: `1e-05`, `1.5e+16`).
_EXPONENT = re.compile(r"\de[+-]")
# Bodies beyond this are not kept (a digest costs little, but such requests are rare).
MAX_PREPARED_BYTES = 64 * 1024


class Prepared(Protocol):
    """What the endpoint keeps for a request: the response key of the operation's only root
    field, and how to answer it again (None: the full path answers instead)."""

    @property
    def key(self) -> str: ...

    async def answer(self, graph: GraphContext) -> orjson.Fragment | None:
        """The answer again; None: the full path answers. Raises StatementTimeoutError."""
        ...


@dataclass(frozen=True)
class PreparedOperation:
    """The response key of an operation's only root field, the statement answering it, and
    the shape of its answer."""

    key: str
    statement: DriverStatement
    shape: Shape

    async def answer(self, graph: GraphContext) -> orjson.Fragment | None:
        """The field's answer, as the compiled path encodes it; None when the statement
        failed or the answer holds a null under a non-null field (the full path runs instead
        and answers with its own error). Raises StatementTimeoutError when the statement
        met the time limit."""

        def run(conn: Connection) -> str | None:
            text: str | None = self.statement.run(conn).scalar_one()
            return text

        reader = graph.async_reader
        try:
            # While the app runs, PostgreSQL's statement runs on the event loop.
            if reader is not None and reader.ready:
                text = await reader.scalar(self.statement.sql, self.statement.parameters)
            else:
                text = await anyio.to_thread.run_sync(
                    read_alone, graph, run, limiter=graph.read_threads()
                )
        except Exception as error:
            raise_if_timeout(error, graph.settings.statement_timeout_s)
            # A lost database, a changed table: the full path reports it as it does for any
            # request (the endpoint forgets this operation first).
            return None
        return answer_fragment(text, self.shape, final_text(graph.dialect, self.shape))


class BoundAnswer(Protocol):
    """How a root field's statement, bound to a request's variables without planning
    (graph/gql/document_bindings.py), becomes the field's answer: a list's or a lookup's
    (BoundList), a connection's (graph/gql/compiled_connection.py BoundPage)."""

    async def answer(
        self, context: Any, key: str, statement: DriverStatement, parameters: dict[str, Any]
    ) -> orjson.Fragment | None:
        """The answer of the field at `key` from `statement` (`parameters`: its Slots'
        values), run alone, the request kept as prepared; None when the full path must
        answer (a null under a non-null field)."""
        ...


@dataclass(frozen=True)
class BoundList:
    """A list's or a lookup's answer: the one JSON text of its statement."""

    shape: Shape
    # The text is orjson's already (graph/sql/response.py final_text).
    final: bool

    async def answer(
        self, context: Any, key: str, statement: DriverStatement, parameters: dict[str, Any]
    ) -> orjson.Fragment | None:
        text = await context.session.scalar(statement, alone=True)
        fragment = answer_fragment(text, self.shape, self.final)
        if fragment is not None:
            context.prepared = PreparedOperation(key, statement, self.shape)
        return fragment


def read_alone(graph: GraphContext, work: Callable[[Connection], T]) -> T:
    """`work` on a connection of its own, in the calling thread: a prepared request's one
    statement, outside a transaction on PostgreSQL, like the compiled path's sole field."""
    engine = graph.single_reader or graph.reader
    with engine.connect() as conn:
        return work(conn)


def answer_fragment(text: str | None, shape: Shape, final: bool = False) -> orjson.Fragment | None:
    """A compiled statement's JSON text as the client gets it (graph/gql/compiled.py and the
    prepared operations alike): the database's JSON has its own spacing (PostgreSQL:
    `{"a" : 1}`) and number forms; read once and written again by orjson, it is byte for byte
    the reference path's. `final` (graph/sql/response.py final_text): the text is orjson's
    already, and goes as it is unless it may hold a null under a non-null field (then
    checked) or, with floats, a digit before an exponent (PostgreSQL's `1e-05` is orjson's
    `0.00001`; a string holding such text is read and written again too, which changes
    nothing). No text (a lookup that found nothing) is null. None when the answer holds a
    null under a non-null field of `shape` (loaded_answer)."""
    if text is None:
        return orjson.Fragment(b"null")
    if final and sent_as_is(text, shape):
        return orjson.Fragment(text)
    answer = loaded_answer(text, shape)
    if answer is None:
        return None
    return orjson.Fragment(orjson.dumps(answer))


def sent_as_is(text: str, shape: Shape) -> bool:
    """Whether a final text (answer_fragment) goes to the client as it is: no null in it
    under a non-null field (most texts hold no null at all; in the others, the nulls' keys
    tell, Shape.may_hold_null_where_non_null), and no float written with an exponent."""
    if shape.holds_float and _EXPONENT.search(text) is not None:
        return False
    return "null" not in text or not shape.may_hold_null_where_non_null(text)


def loaded_answer(text: str, shape: Shape) -> Any:
    """A compiled statement's JSON text (a list or an object) read as the reference path
    reads values; None when it holds a null under a non-null field of `shape`: GraphQL
    answers that with an error, which is the reference path's to give."""
    # A json field's document may hold integers beyond 64 bits or beyond doubles (PostgreSQL's
    # jsonb keeps them): they are read as the reference path reads them (load_json).
    answer = load_json(text) if shape.holds_json else orjson.loads(text)
    # Most answers have no null at all: the walk is for those that do.
    if "null" in text and shape.null_where_non_null(answer):
        return None
    return answer


@dataclass(frozen=True)
class KeptRequest:
    """What is kept of a request answered by a prepared operation: the operation, and the
    `operationName` it gave (for the request log: the request is not parsed again)."""

    prepared: Prepared
    operation_name: str | None


class PreparedOperations(Lru[bytes, KeptRequest]):
    """Prepared operations by the digest of their request."""

    def digest(self, method: str, raw: bytes) -> bytes | None:
        """The key of a request's method and raw body (POST) or query string (GET); None
        when none is kept (GRAPH_STATEMENT_CACHE_SIZE=0) or it is too large to keep."""
        if self.size == 0 or len(raw) > MAX_PREPARED_BYTES:
            return None
        return hashlib.blake2b(method.encode() + b"\0" + raw, digest_size=16).digest()

    def forget(self, digest: bytes) -> None:
        """Drop a prepared operation whose statement failed: the full path answers the next
        request too, and keeps it again once it succeeds."""
        self.pop(digest)

    def record(
        self, digest: bytes, result: Any, prepared: Prepared | None, operation_name: str | None
    ) -> None:
        """Keep `prepared` for `digest` when the operation's result was its field alone."""
        if prepared is None or result.errors or not isinstance(result.data, dict):
            return
        if list(result.data) == [prepared.key]:
            self.keep(digest, prepared, operation_name)

    def keep(self, digest: bytes, prepared: Prepared, operation_name: str | None) -> None:
        """Keep `prepared`, the whole answer of the request of `digest`."""
        self.put(digest, KeptRequest(prepared, operation_name))
