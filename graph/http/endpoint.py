"""`/graphql`: one GraphQL request over HTTP, from the bytes received to the bytes answered.

read and check the request (graph/http/protocol.py) -> run it (the strawberry schema, with the
request's context) -> encode the result in the media type negotiated. A request refused on the
way answers a GraphQL error body with a status and a stable code; nothing reaches the database.
A POST body a prepared operation answered before (graph/gql/prepared.py) is answered again as
soon as its headers are checked and it is read: it parsed and passed the document's checks
then, and would again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
import strawberry
from graphql import GraphQLError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from graph.errors import OperationResolutionError
from graph.gql.compiled import COMPILED
from graph.gql.context import GraphContext, RequestContext
from graph.gql.cost import CostRules
from graph.gql.errors import format_error
from graph.gql.kept_documents import kept_document
from graph.http import observe
from graph.http.protocol import (
    BAD_REQUEST,
    GRAPHQL_RESPONSE,
    JSON,
    LIMIT_EXCEEDED,
    METHOD_NOT_ALLOWED,
    PREFLIGHT_HEADER,
    DocumentShape,
    GraphQLRequest,
    TransportError,
    check_post_headers,
    document_shape,
    error_body,
    parse_get_params,
    parse_post_body,
    response_media_type,
)
from graph.sql.statement_cache import Lru
from graph.sql.timeouts import StatementTimeoutError

log = logging.getLogger("graph.http")

ALLOWED_METHODS = "GET, POST, OPTIONS"
_QUERIES_ONLY = frozenset({OperationType.QUERY})
_QUERIES_AND_MUTATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})
# Documents whose shape (nesting, directives) is kept, and the longest kept: the keys are the
# documents themselves.
KEPT_SHAPES = 512
MAX_KEPT_SHAPE_CHARS = 16 * 1024


def json_response(
    body: Any, status: int, media: str, headers: Mapping[str, str] | None = None
) -> Response:
    # The answer depends on Accept (its media type): caches must key on it.
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=f"{media}; charset=utf-8",
        headers={"Vary": "Accept", **(headers or {})},
    )


@dataclass(frozen=True)
class Incoming:
    """A GraphQL request as the endpoint read it, on its way to an answer."""

    request: Request
    graphql: GraphQLRequest
    # Its key among the prepared operations (graph/gql/prepared.py); None: not kept there.
    digest: bytes | None
    # The media type of the answer.
    media: str
    request_id: str | None
    # The time limit its prepared statement met already (_answer_again): the same statement
    # answers it at once instead of waiting for the limit again (ReadSession.timed_out).
    timed_out: StatementTimeoutError | None = None

    def context(self, graph: GraphContext) -> RequestContext:
        """The request's context for the resolvers."""
        context = RequestContext(graph, self.request, self.graphql.operation_name)
        context.session.timed_out = self.timed_out
        return context


class GraphQLEndpoint:
    """The ASGI app mounted at /graphql."""

    def __init__(self, graph: GraphContext, schema: strawberry.Schema) -> None:
        self.graph = graph
        self.schema = schema
        self.settings = graph.settings
        self.ide_html = get_graphql_ide_html("graphiql") if graph.settings.ide else None
        self.cost_rules = CostRules.of(graph.spec, graph.settings)
        # The root lookup fields: their key may be bound to a variable without planning.
        self.lookups = frozenset(table.single_root for table in graph.spec.tables.values())
        # The shapes of documents seen before: a client sends the same few documents with
        # other variables, and the scan costs as much as a lookup's planning.
        self._shapes: Lru[str, DocumentShape] = Lru(KEPT_SHAPES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.answer(request)
        await response(scope, receive, send)

    async def answer(self, request: Request) -> Response:
        request_id = observe.request_id(request.scope)
        media = JSON
        # The error a prepared statement of this request met (_answer_again).
        timed_out: StatementTimeoutError | None = None
        try:
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": ALLOWED_METHODS})
            if request.method not in ("GET", "POST"):
                raise TransportError(
                    405,
                    METHOD_NOT_ALLOWED,
                    f"{request.method} is not a GraphQL method here: use POST (or GET for queries)",
                    {"Allow": ALLOWED_METHODS},
                )
            if self._wants_ide(request):
                return HTMLResponse(self.ide_html)
            media = response_media_type(request.headers.get("accept"))
            if request.method == "POST":
                check_post_headers(
                    request.headers.get("content-type"), request.headers.get("content-encoding")
                )
                raw = await self._body(request)
                # A body answered before by a prepared operation is answered again before it
                # is parsed: it parsed and passed the checks below then, and would again.
                digest = self.graph.prepared.digest("POST", raw)
                again = await self._answer_again(digest, request.scope, media)
                if isinstance(again, Response):
                    return again
                timed_out = again
                graphql_request = parse_post_body(raw, self.settings.max_json_depth)
            else:
                graphql_request = self._read_get(request)
                digest = self.graph.prepared.digest("GET", request.url.query.encode())
            self._check_document(graphql_request)
        except TransportError as refusal:
            return self.refusal(refusal, media, request_id)
        if request.method == "GET":
            again = await self._answer_again(digest, request.scope, media)
            if isinstance(again, Response):
                return again
            timed_out = again
        incoming = Incoming(request, graphql_request, digest, media, request_id, timed_out)
        kept = await self._answer_kept_document(incoming)
        if kept is not None:
            return kept
        return await self._run(incoming)

    async def _answer_again(
        self, digest: bytes | None, scope: Scope, media: str
    ) -> Response | StatementTimeoutError | None:
        """The answer of a request kept by its digest (graph/gql/prepared.py), or None when
        none is kept or its statement failed (then forgotten: the full path answers). A
        statement stopped by the time limit: its error, which the full path answers without
        waiting for the limit once more (Incoming.timed_out)."""
        kept = self.graph.prepared.get(digest) if digest is not None else None
        if digest is None or kept is None:
            return None
        observe.note_operation(scope, kept.operation_name)
        try:
            answer = await kept.prepared.answer(self.graph)
        except StatementTimeoutError as error:
            self.graph.prepared.forget(digest)
            return error
        if answer is None:
            self.graph.prepared.forget(digest)
            return None
        return self.prepared_response(kept.prepared.key, answer, media)

    async def _answer_kept_document(self, incoming: Incoming) -> Response | None:
        """The answer of a document answered before, with this request's variables
        (graph/gql/kept_documents.py); None when none is kept or the full path must answer.
        The request is then kept as a prepared operation as the full path would keep it."""
        graphql_request = incoming.graphql
        documents = self.graph.documents
        key = documents.key(graphql_request.query, graphql_request.operation_name)
        kept = documents.get(key) if key is not None else None
        if kept is None:
            return None
        observe.note_operation(incoming.request.scope, graphql_request.operation_name)
        context = incoming.context(self.graph)
        try:
            answer = await kept.answer(
                self.schema._schema, self.cost_rules, graphql_request.variables, context
            )
        finally:
            await context.session.close()
        if answer is None:
            return None
        if isinstance(answer, ExecutionResult):
            return self.result_response(answer, incoming.media, incoming.request_id, context)
        if incoming.digest is not None and context.prepared is not None:
            operation_name = graphql_request.operation_name
            self.graph.prepared.keep(incoming.digest, context.prepared, operation_name)
        return self.prepared_response(kept.key, answer, incoming.media)

    def _keep_document(
        self, graphql_request: GraphQLRequest, result: ExecutionResult, context: RequestContext
    ) -> None:
        """Keep the document of a query the compiled path answered by its one root field
        alone, for requests of it with other variables."""
        prepared = context.prepared
        if prepared is None or result.errors or not isinstance(result.data, dict):
            return
        if list(result.data) != [prepared.key]:
            return
        documents = self.graph.documents
        key = documents.key(graphql_request.query, graphql_request.operation_name)
        if key is None or documents.get(key) is not None:
            return
        document = kept_document(
            graphql_request.query, graphql_request.operation_name, self.lookups
        )
        if document is not None and document.key == prepared.key:
            documents.put(key, document)

    def refusal(self, refusal: TransportError, media: str, request_id: str | None) -> Response:
        body = error_body(refusal.code, refusal.message, request_id)
        return json_response(body, refusal.status, media, refusal.headers)

    def _wants_ide(self, request: Request) -> bool:
        """A browser opening /graphql gets GraphiQL: a GET accepting HTML (GraphiQL keeps
        its query in the address, `?query=...`, so a reload must find it again)."""
        if request.method != "GET" or self.ide_html is None:
            return False
        return "text/html" in request.headers.get("accept", "")

    def _read_get(self, request: Request) -> GraphQLRequest:
        graphql_request = parse_get_params(request.query_params, self.settings.max_json_depth)
        if not request.headers.get(PREFLIGHT_HEADER):
            raise TransportError(
                400,
                BAD_REQUEST,
                "a GraphQL GET needs the header `GraphQL-Require-Preflight: 1` (protection "
                "against cross-site requests); or POST the query as application/json",
            )
        return graphql_request

    def _check_document(self, graphql_request: GraphQLRequest) -> None:
        """The document's nesting and directives within the limits, before it is parsed."""
        settings = self.settings
        query = graphql_request.query
        shape = self._shapes.get(query) if len(query) <= MAX_KEPT_SHAPE_CHARS else None
        if shape is None:
            shape = document_shape(query)
            if len(query) <= MAX_KEPT_SHAPE_CHARS:
                self._shapes.put(query, shape)
        if shape.nesting > settings.max_document_nesting:
            raise TransportError(
                400,
                LIMIT_EXCEEDED,
                f"the query nests braces, brackets and parentheses {shape.nesting} deep, more "
                f"than {settings.max_document_nesting} (GRAPH_MAX_DOCUMENT_NESTING)",
            )
        if shape.directives > settings.max_directives:
            raise TransportError(
                400,
                LIMIT_EXCEEDED,
                f"the query has {shape.directives} directives, more than "
                f"{settings.max_directives} (GRAPH_MAX_DIRECTIVES)",
            )

    async def _body(self, request: Request) -> bytes:
        """The whole body, within the read timeout (a client that sends less than it
        declared, or trickles, is cut off: 408)."""
        try:
            with anyio.fail_after(self.settings.body_timeout_s):
                return await request.body()
        except TimeoutError:
            raise TransportError(
                408,
                "REQUEST_TIMEOUT",
                f"the request body did not arrive within {self.settings.body_timeout_s:g} s",
                {"Connection": "close"},
            ) from None
        except ClientDisconnect:
            raise TransportError(400, BAD_REQUEST, "the client went away mid-body") from None

    async def _run(self, incoming: Incoming) -> Response:
        """The request the full way: GraphQL's parse, validation and execution. The
        prepared operations keep it when they may (by `incoming.digest`)."""
        request, graphql_request = incoming.request, incoming.graphql
        media, request_id = incoming.media, incoming.request_id
        observe.note_operation(request.scope, graphql_request.operation_name)
        context = incoming.context(self.graph)
        allowed = _QUERIES_ONLY if request.method == "GET" else _QUERIES_AND_MUTATIONS
        try:
            result = await self.schema.execute(
                graphql_request.query,
                variable_values=graphql_request.variables,
                context_value=context,
                operation_name=graphql_request.operation_name,
                allowed_operation_types=allowed,
            )
        except InvalidOperationTypeError as exc:
            what = "mutations" if exc.operation_type is OperationType.MUTATION else "it"
            refusal = TransportError(
                405,
                METHOD_NOT_ALLOWED,
                f"{what} cannot be sent with GET: POST them",
                {"Allow": "POST"},
            )
            return self.refusal(refusal, media, request_id)
        except CannotGetOperationTypeError:
            error = OperationResolutionError(
                f"the document has no operation named {graphql_request.operation_name!r}"
                if graphql_request.operation_name
                else "the document has no operation to run"
            )
            result = ExecutionResult(
                data=None, errors=[GraphQLError(str(error), original_error=error)]
            )
        except MissingQueryError:
            return self.refusal(
                TransportError(400, BAD_REQUEST, "the `query` is empty"), media, request_id
            )
        if incoming.digest is not None:
            operation_name = graphql_request.operation_name
            self.graph.prepared.record(incoming.digest, result, context.prepared, operation_name)
        self._keep_document(graphql_request, result, context)
        return self.result_response(result, media, request_id, context)

    def prepared_response(self, key: str, answer: orjson.Fragment, media: str) -> Response:
        """What result_response writes for the operation's one compiled root field, whose
        response key is `key`."""
        body: dict[str, Any] = {"data": {key: answer}}
        if self.settings.debug:
            body["extensions"] = {"paths": {key: COMPILED}}
        return json_response(body, 200, media)

    def result_response(
        self,
        result: ExecutionResult,
        media: str,
        request_id: str | None,
        context: RequestContext | None = None,
    ) -> Response:
        """The GraphQL response. A request error (the document did not parse or validate, a
        variable did not coerce, no operation to run) has no `data` and no error with a
        path; under application/graphql-response+json it answers 400."""
        debug = self.settings.debug
        suggestions = self.settings.suggestions
        errors = [
            format_error(error, debug=debug, suggestions=suggestions)
            for error in result.errors or []
        ]
        if request_id:
            for error in errors:
                error["extensions"]["requestId"] = request_id
        request_error = result.data is None and all(not e.get("path") for e in errors)
        body: dict[str, Any] = {} if request_error and errors else {"data": result.data}
        if errors:
            body["errors"] = errors
        if debug and context is not None and context.paths:
            body["extensions"] = {"paths": context.paths}
        status = 400 if request_error and errors and media == GRAPHQL_RESPONSE else 200
        unavailable = any(e["extensions"]["code"] == "SERVICE_UNAVAILABLE" for e in errors)
        return json_response(body, status, media, {"Retry-After": "1"} if unavailable else None)
