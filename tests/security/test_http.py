"""Malformed HTTP and GraphQL-over-HTTP abuse (docs/security.md): each request gets its status,
a GraphQL error body with a stable code, and changes nothing, on SQLite and on PostgreSQL.

Through the real app (httpx's ASGI transport) over the seeded databases; every case first
takes a fingerprint of every table (row count and newest change) and compares it after.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from graph.app import create_app
from graph.gql.context import GraphContext
from graph.settings import Settings
from graph.spec import Spec
from graph.sql.tables import Catalog
from tests.databases import TestDatabase

JSON = "application/json"
GQL = "application/graphql-response+json"
PREFLIGHT = {"GraphQL-Require-Preflight": "1"}
MUTATION = (
    'mutation { deletePlaybooks(where: {playbookName: {eq: "x"}}, atMost: 1) { affectedCount } }'
)


def nested(depth: int) -> str:
    """JSON lists nested `depth` levels deep."""
    return "[" * depth + "]" * depth


@dataclass(frozen=True)
class Case:
    name: str
    status: int
    code: str
    method: str = "POST"
    body: bytes | None = b'{"query": "{ __typename }"}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": JSON})
    path: str = "/graphql"
    params: dict[str, str] | None = None


def body_case(name: str, body: bytes, status: int = 400, code: str = "BAD_REQUEST") -> Case:
    return Case(name, status, code, body=body)


def get_case(name: str, status: int, code: str, params: dict[str, str], **headers: str) -> Case:
    return Case(name, status, code, method="GET", body=None, headers=headers, params=params)


NOT_QUERY = "{ playbooks(where: " + "{not: " * 3000 + "{}" + "}" * 3000 + ") { id } }"
CASES = [
    # -- bodies that are no GraphQL request -----------------------------------------------
    body_case("number", b"42"),
    body_case("string", b'"{ __typename }"'),
    body_case("null", b"null"),
    body_case("boolean", b"true"),
    body_case("batch", b'[{"query": "{ __typename }"}]'),
    body_case("empty", b""),
    body_case("whitespace", b"  \n "),
    body_case("truncated", b'{"query": "{ __typename }"'),
    body_case("invalid utf-8", b'{"query": "{ __typename }", "x": "\xff\xfe"}'),
    body_case("overlong utf-8", b'{"query": "{ __typename }", "x": "\xc0\xaf"}'),
    body_case("utf-16", '{"query": "{ __typename }"}'.encode("utf-16")),
    body_case("lone surrogate", b'{"query": "{ __typename }", "variables": {"x": "\\ud800"}}'),
    body_case("NaN", b'{"query": "{ __typename }", "variables": {"x": NaN}}'),
    body_case("Infinity", b'{"query": "{ __typename }", "variables": {"x": -Infinity}}'),
    body_case("1e400", b'{"query": "{ __typename }", "variables": {"x": 1e400}}'),
    body_case("comment", b'{"query": "{ __typename }" /* c */}'),
    body_case("single quotes", b"{'query': '{ __typename }'}"),
    body_case("trailing comma", b'{"query": "{ __typename }",}'),
    body_case(
        "variables 1,000 deep",
        b'{"query": "{ __typename }", "variables": {"x": ' + nested(999).encode() + b"}}",
        code="LIMIT_EXCEEDED",
    ),
    body_case(
        "variables 65 deep",
        b'{"query": "{ __typename }", "variables": {"x": ' + nested(64).encode() + b"}}",
        code="LIMIT_EXCEEDED",
    ),
    body_case(
        "extensions 100 deep",
        b'{"query": "{ __typename }", "extensions": {"x": ' + nested(100).encode() + b"}}",
        code="LIMIT_EXCEEDED",
    ),
    body_case(
        "variables 3,000 deep",
        b'{"query": "{ __typename }", "variables": {"x": ' + nested(3000).encode() + b"}}",
    ),
    body_case("no query", b'{"notquery": "{ __typename }"}'),
    body_case("query null", b'{"query": null}'),
    body_case("query number", b'{"query": 0}'),
    body_case("query false", b'{"query": false}'),
    body_case("query object", b'{"query": {"obj": "ect"}}'),
    body_case("query list", b'{"query": ["array"]}'),
    body_case("query empty", b'{"query": ""}'),
    body_case("operationName number", b'{"query": "{ __typename }", "operationName": 0}'),
    body_case("operationName object", b'{"query": "{ __typename }", "operationName": {}}'),
    body_case("operationName list", b'{"query": "{ __typename }", "operationName": ["a"]}'),
    body_case("variables list", b'{"query": "{ __typename }", "variables": [1]}'),
    body_case("variables string", b'{"query": "{ __typename }", "variables": "{}"}'),
    body_case("variables number", b'{"query": "{ __typename }", "variables": 1}'),
    body_case("extensions string", b'{"query": "{ __typename }", "extensions": "x"}'),
    body_case(
        "not 3,000 deep",
        json.dumps({"query": NOT_QUERY}).encode(),
        code="LIMIT_EXCEEDED",
    ),
    body_case(
        "list literal 200 deep",
        json.dumps(
            {"query": "{ playbooks(where: {id: {in: " + nested(200) + "}}) { id } }"}
        ).encode(),
        code="LIMIT_EXCEEDED",
    ),
    body_case(
        "over 1 MB",
        b'{"query": "{ __typename }", "x": "' + b"a" * 1_000_001 + b'"}',
        413,
        "LIMIT_EXCEEDED",
    ),
    # -- headers ------------------------------------------------------------------------------
    Case(
        "gzip body",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        body=gzip.compress(b'{"query": "{ __typename }"}'),
        headers={"Content-Type": JSON, "Content-Encoding": "gzip"},
    ),
    Case(
        "deflate",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        headers={"Content-Type": JSON, "Content-Encoding": "deflate"},
    ),
    Case("no content type", 415, "UNSUPPORTED_MEDIA_TYPE", headers={}),
    Case("text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", headers={"Content-Type": "text/plain"}),
    Case(
        "application/jsonx",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        headers={"Content-Type": "application/jsonx"},
    ),
    Case(
        "json suffix",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        headers={"Content-Type": "application/vnd.x+json"},
    ),
    Case(
        "form",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        body=b"query=%7B__typename%7D",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Case(
        "multipart",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    ),
    Case(
        "latin-1",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        headers={"Content-Type": "application/json; charset=latin-1"},
    ),
    Case(
        "utf-16 charset",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        headers={"Content-Type": "application/json; charset=utf-16"},
    ),
    Case(
        "accept html only",
        406,
        "NOT_ACCEPTABLE",
        headers={"Content-Type": JSON, "Accept": "text/html"},
    ),
    Case(
        "accept png", 406, "NOT_ACCEPTABLE", headers={"Content-Type": JSON, "Accept": "image/png"}
    ),
    Case(
        "accept q=0",
        406,
        "NOT_ACCEPTABLE",
        headers={"Content-Type": JSON, "Accept": "application/json;q=0"},
    ),
    # -- methods and paths ------------------------------------------------------------------------
    Case("PUT", 405, "METHOD_NOT_ALLOWED", method="PUT"),
    Case("DELETE", 405, "METHOD_NOT_ALLOWED", method="DELETE"),
    Case("PATCH", 405, "METHOD_NOT_ALLOWED", method="PATCH"),
    get_case("GET mutation", 405, "METHOD_NOT_ALLOWED", {"query": MUTATION}, **PREFLIGHT),
    get_case(
        "GET mutation, graphql-response",
        405,
        "METHOD_NOT_ALLOWED",
        {"query": MUTATION},
        Accept=GQL,
        **PREFLIGHT,
    ),
    get_case("GET without the preflight header", 400, "BAD_REQUEST", {"query": "{ __typename }"}),
    get_case("GET mutation without the header", 400, "BAD_REQUEST", {"query": MUTATION}),
    get_case(
        "GET as text/plain",
        400,
        "BAD_REQUEST",
        {"query": "{ __typename }"},
        **{"Content-Type": "text/plain"},
    ),
    get_case(
        "GET variables not JSON",
        400,
        "BAD_REQUEST",
        {"query": "{ __typename }", "variables": "{x"},
        **PREFLIGHT,
    ),
    get_case(
        "GET variables a list",
        400,
        "BAD_REQUEST",
        {"query": "{ __typename }", "variables": "[]"},
        **PREFLIGHT,
    ),
    get_case("GET no query", 400, "BAD_REQUEST", {"variables": "{}"}, **PREFLIGHT),
    get_case(
        "GET NaN variable",
        400,
        "BAD_REQUEST",
        {"query": "{ __typename }", "variables": '{"x": NaN}'},
        **PREFLIGHT,
    ),
    Case("unknown path", 404, "NOT_FOUND", method="GET", path="/nope", body=None, headers={}),
    Case("POST to healthz", 405, "METHOD_NOT_ALLOWED", path="/healthz"),
]


@pytest.fixture(scope="module")
def app(seeded_db: TestDatabase, spec: Spec, catalog: Catalog) -> Any:
    return create_app(graph=GraphContext(spec, catalog, seeded_db.engine, Settings()))


def fingerprint(db: TestDatabase, catalog: Catalog) -> dict[str, tuple[int, Any]]:
    """Every table's row count and newest update: any write would move one of them."""
    found = {}
    with db.engine.connect() as conn:
        for name, table in catalog.tables.items():
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
            newest = conn.execute(select(func.max(table.c.updated_at))).scalar_one()
            found[name] = (count, newest)
    return found


async def send(app: Any, case: Case) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(
            case.method, case.path, content=case.body, headers=case.headers, params=case.params
        )


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert "data" not in body, body
    (error,) = body["errors"]
    assert error["message"], body
    return str(error["extensions"]["code"])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_a_malformed_request_is_refused_with_its_code(
    app: Any, seeded_db: TestDatabase, catalog: Catalog, case: Case
) -> None:
    before = fingerprint(seeded_db, catalog)
    response = await send(app, case)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].split(";")[0] in (JSON, GQL), response.headers
    assert error_code(response) == case.code, response.text
    assert response.headers["x-request-id"]
    if case.status == 405:
        assert response.headers["allow"]
    assert fingerprint(seeded_db, catalog) == before


def test_at_least_fifty_transport_cases() -> None:
    assert len(CASES) >= 50


# -- the media type of the answer --------------------------------------------------------------


def post(query: str, accept: str | None = None, **extra: Any) -> Case:
    headers = {"Content-Type": JSON} | ({"Accept": accept} if accept is not None else {})
    return Case("", 0, "", body=json.dumps({"query": query, **extra}).encode(), headers=headers)


PARSE_ERROR = "{ playbooks { id "
VALIDATION_ERROR = "{ playbooks { nope } }"
COERCION_ERROR = "query($n: Int!) { playbooks(limit: $n) { id } }"
TWO_OPERATIONS = "query A { __typename } query B { __typename }"


@pytest.mark.parametrize(
    ("query", "extra", "code"),
    [
        (PARSE_ERROR, {}, "GRAPHQL_PARSE_FAILED"),
        (VALIDATION_ERROR, {}, "GRAPHQL_VALIDATION_FAILED"),
        (COERCION_ERROR, {"variables": {"n": "ten"}}, "BAD_USER_INPUT"),
        (COERCION_ERROR, {}, "BAD_USER_INPUT"),
        (TWO_OPERATIONS, {}, "OPERATION_RESOLUTION_FAILURE"),
        (TWO_OPERATIONS, {"operationName": "C"}, "OPERATION_RESOLUTION_FAILURE"),
    ],
    ids=["parse", "validation", "coercion", "missing variable", "two operations", "unknown name"],
)
@pytest.mark.parametrize("accept", [GQL, JSON, None])
async def test_a_request_error_has_no_data(
    app: Any, query: str, extra: dict[str, Any], code: str, accept: str | None
) -> None:
    """GraphQL over HTTP: a request error (nothing executed) has no `data`; it is 400 under
    application/graphql-response+json and 200 under application/json (the default)."""
    response = await send(app, post(query, accept, **extra))
    media = GQL if accept == GQL else JSON
    assert response.status_code == (400 if accept == GQL else 200), response.text
    assert response.headers["content-type"] == f"{media}; charset=utf-8"
    assert error_code(response) == code


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (GQL, GQL),
        (JSON, JSON),
        ("*/*", JSON),
        (None, JSON),
        ("", JSON),
        (f"{JSON}, {GQL}", GQL),
        (f"{GQL};q=0.5, {JSON}", JSON),
        (f"text/html, {GQL};q=0.9, */*;q=0.8", GQL),
        ("application/*", JSON),
    ],
)
async def test_the_answer_takes_the_media_type_the_client_prefers(
    app: Any, accept: str | None, media: str
) -> None:
    response = await send(app, post("{ __typename }", accept))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == f"{media}; charset=utf-8"
    assert response.json() == {"data": {"__typename": "Query"}}
    assert "Accept" in response.headers["vary"]


async def test_a_field_error_keeps_data_and_status_200(app: Any) -> None:
    """An error during execution is a partial answer: `data` stays, 200 in both media."""
    query = "{ playbooks(limit: 5000) { id } }"
    for accept in (GQL, JSON):
        response = await send(app, post(query, accept))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"] is None and body["errors"][0]["path"] == ["playbooks"], body


async def test_a_get_query_with_the_preflight_header_runs(app: Any) -> None:
    case = get_case(
        "",
        0,
        "",
        {
            "query": "query Q($n: Int) { playbooks(limit: $n) { id } }",
            "variables": '{"n": 2}',
            "operationName": "Q",
        },
        **PREFLIGHT,
    )
    response = await send(app, case)
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]["playbooks"]) == 2


@pytest.mark.parametrize("params", [None, {"query": "{ __typename }"}])
async def test_graphiql_for_a_browser(app: Any, params: dict[str, str] | None) -> None:
    """Also with the query GraphiQL keeps in the address (a reload of the page)."""
    case = get_case("", 0, "", {}, Accept="text/html,application/xhtml+xml")
    response = await send(app, dataclass_replace(case, params=params))
    assert response.status_code == 200 and "graphiql" in response.text.lower()


def dataclass_replace(case: Case, **changes: Any) -> Case:
    import dataclasses

    return dataclasses.replace(case, **changes)


async def test_options_names_the_methods(app: Any) -> None:
    response = await send(app, Case("", 0, "", method="OPTIONS", body=None, headers={}))
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, POST, OPTIONS"


# -- request ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("dash-1234_abc.def:9", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("has space", False),
        ("new\\nline", False),
        ("", False),
        ("semi;colon", False),
    ],
)
async def test_the_request_id_is_the_clients_when_sane(app: Any, given: str, kept: bool) -> None:
    case = post(PARSE_ERROR)
    headers = case.headers | {"X-Request-Id": given}
    response = await send(app, dataclass_replace(case, headers=headers))
    returned = response.headers["x-request-id"]
    assert (returned == given) is kept, returned
    assert 1 <= len(returned) <= 128
    assert response.json()["errors"][0]["extensions"]["requestId"] == returned


async def test_each_request_gets_its_own_id(app: Any) -> None:
    ids = {(await send(app, post("{ __typename }"))).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


# -- CORS ----------------------------------------------------------------------------------------

ORIGIN = "https://dashboards.example"


@pytest.fixture(scope="module")
def cors_app(seeded_db: TestDatabase, spec: Spec, catalog: Catalog) -> Iterator[Any]:
    settings = Settings(cors_origins=(ORIGIN,), cors_max_age_s=300)
    yield create_app(graph=GraphContext(spec, catalog, seeded_db.engine, settings))


def preflight(origin: str, method: str = "POST") -> Case:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type",
    }
    return Case("", 0, "", method="OPTIONS", body=None, headers=headers)


async def test_a_preflight_from_an_allowed_origin_is_answered(cors_app: Any) -> None:
    response = await send(cors_app, preflight(ORIGIN))
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-max-age"] == "300"
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_is_refused(cors_app: Any) -> None:
    response = await send(cors_app, preflight("https://evil.example"))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_cross_origin_query_gets_the_cors_headers(cors_app: Any) -> None:
    case = post("{ __typename }")
    response = await send(
        cors_app, dataclass_replace(case, headers=case.headers | {"Origin": ORIGIN})
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_without_cors_settings_no_origin_is_allowed(app: Any) -> None:
    case = post("{ __typename }")
    response = await send(app, dataclass_replace(case, headers=case.headers | {"Origin": ORIGIN}))
    assert "access-control-allow-origin" not in response.headers
