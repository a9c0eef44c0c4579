"""Bad requests get a readable error with a stable code, and nothing internal leaks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import Api

CASES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("unknown field", "{ executionLogs { nope } }", None, "GRAPHQL_VALIDATION_FAILED"),
    (
        "unused variable",
        "query($v: Int) { executionLogs { id } }",
        {"v": 1},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    (
        "undefined variable",
        "{ executionLogs(limit: $v) { id } }",
        None,
        "GRAPHQL_VALIDATION_FAILED",
    ),
    (
        "variable in the wrong place",
        "query($v: String) { executionLogs(limit: $v) { id } }",
        {"v": "x"},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    (
        "unknown filter field",
        "{ executionLogs(where: {nope: {eq: 1}}) { id } }",
        None,
        "BAD_USER_INPUT",
    ),
    ("syntax error", "{ executionLogs { id }", None, "GRAPHQL_PARSE_FAILED"),
    ("wrong literal type", '{ executionLogs(limit: "ten") { id } }', None, "BAD_USER_INPUT"),
    (
        "unknown enum value",
        "{ executionLogs(where: {status: {eq: EXPLODED}}) { id } }",
        None,
        "BAD_USER_INPUT",
    ),
    (
        "malformed datetime",
        '{ executionLogs(where: {startedAt: {gt: "yesterday"}}) { id } }',
        None,
        "BAD_USER_INPUT",
    ),
    (
        "malformed datetime variable",
        "query($t: DateTime!) { executionLogs(where: {startedAt: {gt: $t}}) { id } }",
        {"t": "31/12/2025"},
        "BAD_USER_INPUT",
    ),
    (
        "malformed duration",
        '{ executionLogs(where: {startedAt: {withinLast: "7 days"}}) { id } }',
        None,
        "BAD_USER_INPUT",
    ),
    (
        "wrong list element type",
        "{ executionLogs(where: {component: {in: [1, 2]}}) { id } }",
        None,
        "BAD_USER_INPUT",
    ),
    (
        # A bare NaN is not JSON: the body is refused before GraphQL reads it (HTTP 400).
        "NaN",
        "query($x: Float!) { playbooks(where: {successRate: {gt: $x}}) { id } }",
        {"x": float("nan")},
        "BAD_REQUEST",
    ),
    (
        "NaN inside JSON",
        "query($c: JSON!) { playbooks(where: {triggerConditions: {contains: $c}}) { id } }",
        {"c": {"a": float("nan")}},
        "BAD_REQUEST",
    ),
    ("limit too large", "{ executionLogs(limit: 1001) { id } }", None, "BAD_USER_INPUT"),
    ("negative limit", "{ executionLogs(limit: -1) { id } }", None, "BAD_USER_INPUT"),
    ("negative offset", "{ executionLogs(offset: -5) { id } }", None, "BAD_USER_INPUT"),
    (
        "nested limit too large",
        "{ playbooks(limit: 2) { executions(limit: 5000) { id } } }",
        None,
        "BAD_USER_INPUT",
    ),
    (
        "two fields in one orderBy item",
        "{ executionLogs(orderBy: [{status: ASC, startedAt: DESC}]) { id } }",
        None,
        "BAD_USER_INPUT",
    ),
    (
        "null comparison",
        "{ executionLogs(where: {status: {eq: null}}) { id } }",
        None,
        "BAD_USER_INPUT",
    ),
    (
        "too deep",
        "{ subAgents { " + "parent { " * 12 + "agentId" + " }" * 12 + " } }",
        None,
        "LIMIT_EXCEEDED",
    ),
]


@pytest.mark.parametrize(("name", "query", "variables", "code"), CASES, ids=[c[0] for c in CASES])
async def test_bad_requests(
    api: Api, name: str, query: str, variables: dict[str, Any] | None, code: str
) -> None:
    body = await api.post(query, variables)
    assert body.get("data") is None or all(v is None for v in body["data"].values())
    error = body["errors"][0]
    assert error["extensions"]["code"] == code, error
    text = str(body).lower()
    for leak in ("select ", "traceback", "sqlalchemy", "psycopg", api.db.url.lower()):
        assert leak not in text


async def test_argument_path_is_reported(api: Api) -> None:
    error = await api.error('{ executionLogs(where: {startedAt: {withinLast: "soon"}}) { id } }')
    assert error["extensions"]["argumentPath"] == [
        "executionLogs",
        "where",
        "startedAt",
        "withinLast",
    ]


async def test_health_endpoints(api: Api) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_graphiql_in_browser(api: Api) -> None:
    page = await api.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_hostile_requests_are_refused(api: Api) -> None:
    many = await api.error(
        "query($v: [String!]!) { executionLogs(where: {component: {in: $v}}) { id } }",
        {"v": [f"c{i}" for i in range(1001)]},
    )
    assert many["extensions"]["code"] == "BAD_USER_INPUT"
    aliases = " ".join(f"a{i}: executionLogs(limit: 1) {{ id }}" for i in range(40))
    assert (await api.error(f"{{ {aliases} }}"))["extensions"]["code"] == "LIMIT_EXCEEDED"
    tokens = "{ executionLogs { " + "id " * 6000 + "} }"
    assert (await api.error(tokens))["extensions"]["code"] == "LIMIT_EXCEEDED"
    nested: dict[str, object] = {"status": {"eq": "FAILED"}}
    for _ in range(40):
        nested = {"not": nested}
    deep = await api.error(
        "query($w: ExecutionLogWhere) { executionLogs(where: $w) { id } }", {"w": nested}
    )
    assert deep["extensions"]["code"] == "BAD_USER_INPUT"


async def test_oversized_body_is_refused_before_parsing(api: Api) -> None:
    response = await api.raw_post(b'{"query": "' + b" " * 2_000_000 + b'{ executionLogs { id } }"}')
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
