"""GraphQL over HTTP: what a request may be, and which media type answers it.

The rules are the GraphQL-over-HTTP specification's (graphql.github.io/graphql-over-http):

- POST carries `application/json` (UTF-8, no other charset, no Content-Encoding): an object
  with a string `query` and optional `operationName` (string), `variables` and `extensions`
  (objects); null stands for absent. Anything else is refused before GraphQL sees it.
- GET carries the same parameters in the URL (`variables` and `extensions` as JSON text). It
  runs queries only, and only with a `GraphQL-Require-Preflight` header: a header no HTML form
  or `<img>` can send, so a page on another site cannot make a visitor's browser run a query
  (cross-site request forgery); a browser must first ask the CORS rules. POST is safe already:
  `application/json` is not a content type a form may send.
- The answer is `application/graphql-response+json` when the client accepts it (request errors
  are then 400 without `data`), else `application/json` (always 200 once GraphQL ran, as
  clients written before the specification expect).

Every refusal is a `TransportError`: an HTTP status, a stable code and a message, answered as
a GraphQL error body (graph/http/endpoint.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
PREFLIGHT_HEADER = "graphql-require-preflight"

BAD_REQUEST = "BAD_REQUEST"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
LIMIT_EXCEEDED = "LIMIT_EXCEEDED"


@dataclass(frozen=True)
class TransportError(Exception):
    """A request refused before GraphQL runs."""

    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class GraphQLRequest:
    query: str
    operation_name: str | None = None
    variables: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None


def error_body(code: str, message: str, request_id: str | None) -> dict[str, Any]:
    """The GraphQL error body of a refusal: one error, its code, and the request's id."""
    extensions: dict[str, Any] = {"code": code}
    if request_id:
        extensions["requestId"] = request_id
    return {"errors": [{"message": message, "extensions": extensions}]}


# -- the answer's media type ------------------------------------------------------------------


def _media_ranges(accept: str) -> list[tuple[str, float, int]]:
    """(media range, quality, position) of each entry of an Accept header."""
    ranges: list[tuple[str, float, int]] = []
    for position, entry in enumerate(accept.split(",")):
        media, *params = (part.strip() for part in entry.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if media and 0.0 < quality <= 1.0:
            ranges.append((media.lower(), quality, position))
    return ranges


def response_media_type(accept: str | None) -> str:
    """The media type of the answer. Without an Accept header, or with `*/*` only,
    `application/json` (what clients older than the specification read); among types the
    client names, the one it prefers (higher quality, then earlier), GraphQL's own first on
    a tie. NOT_ACCEPTABLE (406) when it accepts neither."""
    if accept is None or not accept.strip():
        return JSON
    best: tuple[float, int, int] | None = None
    chosen = None
    for media, quality, position in _media_ranges(accept):
        if media == GRAPHQL_RESPONSE:
            candidate, rank = GRAPHQL_RESPONSE, 0
        elif media == JSON:
            candidate, rank = JSON, 1
        elif media in ("*/*", "application/*"):
            candidate, rank = JSON, 2
        else:
            continue
        key = (-quality, rank, position)
        if best is None or key < best:
            best, chosen = key, candidate
    if chosen is None:
        raise TransportError(
            406,
            NOT_ACCEPTABLE,
            f"the answer is {GRAPHQL_RESPONSE} or {JSON}; the Accept header allows neither",
        )
    return chosen


# -- the request ------------------------------------------------------------------------------


def _content_type(header: str | None) -> tuple[str, dict[str, str]]:
    media, *params = (part.strip() for part in (header or "").split(";"))
    parsed = {}
    for param in params:
        name, _, value = param.partition("=")
        parsed[name.strip().lower()] = value.strip().strip('"').lower()
    return media.lower(), parsed


def check_post_headers(content_type: str | None, content_encoding: str | None) -> None:
    """POST bodies are `application/json` in UTF-8, sent as they are."""
    if content_encoding and content_encoding.strip().lower() != "identity":
        raise TransportError(
            415,
            UNSUPPORTED_MEDIA_TYPE,
            f"Content-Encoding {content_encoding.strip()!r} is not supported; send the body "
            "as it is",
        )
    media, params = _content_type(content_type)
    if media != JSON:
        given = f"Content-Type {media!r}" if media else "no Content-Type"
        raise TransportError(
            415,
            UNSUPPORTED_MEDIA_TYPE,
            f"{given}: a GraphQL request is POSTed as {JSON}",
        )
    charset = params.get("charset")
    if charset is not None and charset not in ("utf-8", "utf8"):
        raise TransportError(
            415, UNSUPPORTED_MEDIA_TYPE, f"charset {charset!r}: requests are UTF-8"
        )


def _json(text: bytes | str, what: str) -> Any:
    # orjson refuses what JSON parsers disagree on: invalid UTF-8, lone surrogates (\ud800),
    # numbers beyond the doubles (1e400), NaN, nesting past 1,024 levels.
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise TransportError(400, BAD_REQUEST, f"{what} is not valid JSON: {exc}") from None


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in a JSON value (a scalar: 0). Iterative: a value
    nested deeper than Python's recursion limit must be measured, not crash the measuring."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _object_or_null(params: Mapping[str, Any], name: str, max_depth: int) -> Any:
    value = params.get(name)
    if value is not None and not isinstance(value, dict):
        raise TransportError(
            400, BAD_REQUEST, f"`{name}` must be an object (or null), not {_kind(value)}"
        )
    if value is not None and json_depth(value) > max_depth:
        raise TransportError(
            400,
            LIMIT_EXCEEDED,
            f"`{name}` nests lists and objects deeper than {max_depth} levels "
            "(GRAPH_MAX_JSON_DEPTH)",
        )
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _request(params: Mapping[str, Any], max_depth: int) -> GraphQLRequest:
    query = params.get("query")
    if query is None:
        raise TransportError(400, BAD_REQUEST, "the request has no `query`")
    if not isinstance(query, str):
        raise TransportError(400, BAD_REQUEST, f"`query` must be a string, not {_kind(query)}")
    name = params.get("operationName")
    if name is not None and not isinstance(name, str):
        raise TransportError(
            400, BAD_REQUEST, f"`operationName` must be a string (or null), not {_kind(name)}"
        )
    return GraphQLRequest(
        query=query,
        operation_name=name or None,
        variables=_object_or_null(params, "variables", max_depth),
        extensions=_object_or_null(params, "extensions", max_depth),
    )


def parse_post_body(body: bytes, max_depth: int) -> GraphQLRequest:
    """The GraphQL request of a POST body (its headers checked by check_post_headers)."""
    if not body.strip():
        raise TransportError(400, BAD_REQUEST, "the request body is empty")
    params = _json(body, "the request body")
    if isinstance(params, list):
        raise TransportError(
            400, BAD_REQUEST, "batched requests (a JSON list) are not supported: send one"
        )
    if not isinstance(params, dict):
        raise TransportError(
            400, BAD_REQUEST, f"the request body must be a JSON object, not {_kind(params)}"
        )
    return _request(params, max_depth)


def parse_get_params(params: Mapping[str, str], max_depth: int) -> GraphQLRequest:
    """The GraphQL request of a GET's URL parameters (`variables`, `extensions`: JSON)."""
    parsed: dict[str, Any] = {
        "query": params.get("query"),
        "operationName": params.get("operationName"),
    }
    for name in ("variables", "extensions"):
        text = params.get(name)
        if text:
            parsed[name] = _json(text, f"`{name}`")
    return _request(parsed, max_depth)


@dataclass(frozen=True)
class DocumentShape:
    nesting: int  # how deeply `{`, `[` and `(` nest
    directives: int  # how many `@`


def document_shape(query: str) -> DocumentShape:
    """How deeply brackets nest in a GraphQL document, and how many directives it has,
    outside strings and comments. Measured before parsing: graphql-core's parser recurses per
    level and would exhaust Python's stack on a few thousand levels (a `not: {not: ...}`
    filter), and reports up to 100 errors for thousands of unknown directives."""
    depth = deepest = directives = 0
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char == "#":
            end = query.find("\n", i)
            i = n if end < 0 else end
        elif char == '"':
            if query.startswith('"""', i):
                end = query.find('"""', i + 3)
                while end > 0 and query[end - 1] == "\\":
                    end = query.find('"""', end + 3)
                i = n if end < 0 else end + 3
                continue
            i += 1
            while i < n and query[i] not in '"\n':
                i += 2 if query[i] == "\\" else 1
        elif char in "{[(":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "}])":
            depth -= 1
        elif char == "@":
            directives += 1
        i += 1
    return DocumentShape(deepest, directives)
