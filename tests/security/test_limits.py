"""Cost limits checked before any SQL (docs/security.md "Limits"): the estimated size of an
answer, offsets, directives; suggestions and introspection switched off; the production
profile. On both databases, through the real app; refused requests run no statement."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import parse

from graph.app import create_app
from graph.gql.build import build_schema
from graph.gql.context import GraphContext
from graph.gql.cost import CostRules, estimate_objects
from graph.settings import Settings
from graph.spec import Spec
from graph.sql.engine import StatementCounter
from graph.sql.tables import Catalog
from tests.databases import TestDatabase


def rules(spec: Spec) -> CostRules:
    rows = frozenset(table.type_name for table in spec.tables.values())
    return CostRules(max_nodes=50_000, default_page_size=100, max_groups=10_000, row_types=rows)


@pytest.fixture(scope="module")
def schema(spec: Spec) -> Any:
    return build_schema(spec, Settings())._schema


ESTIMATES = [
    ("{ executionLogs { id } }", None, 100),
    ("{ executionLogs(limit: 7) { id status } }", None, 7),
    ("{ a: executionLogs(limit: 7) { id } b: executionLogs(limit: 3) { id } }", None, 10),
    # to-one objects count one per parent; a list per parent multiplies
    ("{ executionLogs(limit: 10) { playbook { id } relatedFeedback(limit: 5) { id } } }", None, 70),
    (
        "{ executionLogs(limit: 10) { relatedFeedback(limit: 5) {"
        " workOrders(limit: 2) { id } } } }",
        None,
        10 + 50 + 100,
    ),
    # the default page size where no limit is given
    ("{ playbooks(limit: 2) { executions { id } } }", None, 2 + 200),
    # variables, fragments, inline fragments
    ("query($n: Int) { executionLogs(limit: $n) { id } }", {"n": 40}, 40),
    ("query($n: Int) { executionLogs(limit: $n) { id } }", {}, 100),
    (
        "{ executionLogs(limit: 10) { ...F } }"
        " fragment F on ExecutionLog { relatedFeedback(limit: 3) { id } }",
        None,
        40,
    ),
    ("{ executionLogs(limit: 10) { ... on ExecutionLog { playbook { id } } } }", None, 20),
    # @skip / @include
    ("query($s: Boolean!) { executionLogs(limit: 10) @skip(if: $s) { id } }", {"s": True}, 0),
    ("query($s: Boolean!) { executionLogs(limit: 10) @skip(if: $s) { id } }", {"s": False}, 10),
    ("{ executionLogs(limit: 10) @include(if: false) { id } playbooks(limit: 1) { id } }", None, 1),
    # connections: `first` edges, each with its node (the connection and pageInfo are parts)
    (
        "{ executionLogsConnection(first: 20) { edges { node { id } } pageInfo { hasNextPage } } }",
        None,
        20 + 20,
    ),
    # aggregates: one group without groupBy, the limit or the cap with it, capped in all
    ("{ executionLogsAggregate { count } }", None, 1),
    (
        "{ executionLogsAggregate(groupBy: [{field: STATUS}], limit: 5) { key { status } count } }",
        None,
        5,
    ),
    ("{ executionLogsAggregate(groupBy: [{field: STATUS}]) { count } }", None, 10_000),
    ("{ playbooks(limit: 1000) { executionsAggregate { count } } }", None, 1000 + 1000),
    (
        "{ playbooks(limit: 1000) { executionsAggregate(groupBy: [{field: STATUS}]) { count } } }",
        None,
        1000 + 10_000,
    ),
    # introspection and __typename cost nothing here
    ("{ __typename executionLogs(limit: 1) { __typename id } }", None, 1),
]


@pytest.mark.parametrize(("query", "variables", "expected"), ESTIMATES)
def test_the_estimate_counts_objects_along_nested_pages(
    schema: Any, spec: Spec, query: str, variables: dict[str, Any] | None, expected: int
) -> None:
    total, _ = estimate_objects(schema, parse(query), None, variables, rules(spec))
    assert total == expected


def test_the_estimate_follows_the_named_operation(schema: Any, spec: Spec) -> None:
    document = parse(
        "query A { executionLogs(limit: 3) { id } } query B { playbooks(limit: 9) { id } }"
    )
    assert estimate_objects(schema, document, "B", None, rules(spec))[0] == 9
    assert estimate_objects(schema, document, "A", None, rules(spec))[0] == 3


@pytest.fixture(scope="module")
def app_and_engine(seeded_db: TestDatabase, spec: Spec, catalog: Catalog) -> tuple[Any, Any]:
    return create_app(
        graph=GraphContext(spec, catalog, seeded_db.engine, Settings())
    ), seeded_db.engine


async def post(app: Any, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Accept": "application/graphql-response+json"},
        )


HUGE = (
    "{ "
    + " ".join(
        f"a{i}: executionLogs(limit: 1000) {{ relatedFeedback(limit: 1000) {{ ticketId }} }}"
        for i in range(29)
    )
    + " }"
)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        (HUGE, "29,029,000 objects"),
        ("{ playbooks(limit: 1000) { executions(limit: 1000) { id } } }", "1,001,000 objects"),
        (
            "{ executionLogs(limit: 500) { relatedFeedback { workOrders { id } } } }",
            "executionLogs.relatedFeedback.workOrders",
        ),
    ],
    ids=["29 aliases", "nested thousands", "default pages"],
)
async def test_a_query_too_large_is_refused_before_any_sql(
    app_and_engine: tuple[Any, Any], query: str, fragment: str
) -> None:
    app, engine = app_and_engine
    with StatementCounter().watching(engine) as counter:
        response = await post(app, query)
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert fragment in error["message"] and "GRAPH_MAX_NODES" in error["message"]
    assert counter.count == 0


async def test_a_query_at_the_limit_runs(app_and_engine: tuple[Any, Any]) -> None:
    app, _ = app_and_engine
    response = await post(app, "{ playbooks(limit: 49) { executions(limit: 1000) { id } } }")
    assert response.status_code == 200 and "errors" not in response.json(), response.text


@pytest.mark.parametrize(
    "query",
    [
        "{ executionLogs(offset: 100001) { id } }",
        "{ playbooks { executions(offset: 100001) { id } } }",
        "{ executionLogsAggregate(groupBy: [{field: STATUS}], offset: 100001) { count } }",
    ],
)
async def test_an_offset_beyond_the_cap_is_refused(
    app_and_engine: tuple[Any, Any], query: str
) -> None:
    app, _ = app_and_engine
    response = await post(app, query)
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "GRAPH_MAX_OFFSET" in body["errors"][0]["message"]


async def test_an_offset_at_the_cap_runs(app_and_engine: tuple[Any, Any]) -> None:
    app, _ = app_and_engine
    response = await post(app, "{ executionLogs(offset: 100000) { id } }")
    assert response.json() == {"data": {"executionLogs": []}}


@pytest.mark.parametrize("count", [51, 2000])
async def test_too_many_directives_are_refused_before_parsing(
    app_and_engine: tuple[Any, Any], count: int
) -> None:
    app, _ = app_and_engine
    query = "{ executionLogs(limit: 1) { id " + "@nope " * count + "} }"
    response = await post(app, query)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (
        error["extensions"]["code"] == "LIMIT_EXCEEDED"
        and "GRAPH_MAX_DIRECTIVES" in error["message"]
    )


def closed_app(seeded_db: TestDatabase, spec: Spec, catalog: Catalog) -> Any:
    settings = Settings(introspection=False, suggestions=False, ide=False)
    return create_app(graph=GraphContext(spec, catalog, seeded_db.engine, settings))


async def test_suggestions_can_be_switched_off(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog, app_and_engine: tuple[Any, Any]
) -> None:
    query = "{ executionLogs(limit: 1) { statuss } }"
    open_answer = (await post(app_and_engine[0], query)).json()
    assert "Did you mean 'status'" in open_answer["errors"][0]["message"]
    closed = (await post(closed_app(seeded_db, spec, catalog), query)).json()
    (error,) = closed["errors"]
    assert error["message"] == "Cannot query field 'statuss' on type 'ExecutionLog'."
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize(
    "query", ["{ __schema { types { name } } }", '{ __type(name: "ExecutionLog") { name } }']
)
async def test_introspection_can_be_switched_off(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog, query: str
) -> None:
    response = await post(closed_app(seeded_db, spec, catalog), query)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {error["extensions"]["code"] for error in errors} == {"INTROSPECTION_DISABLED"}


async def test_typename_stays_without_introspection(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    response = await post(closed_app(seeded_db, spec, catalog), "{ __typename }")
    assert response.json() == {"data": {"__typename": "Query"}}


def test_the_production_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_PROFILE", "production")
    settings = Settings.from_env()
    assert (settings.ide, settings.introspection, settings.suggestions) == (False, False, False)
    monkeypatch.setenv("GRAPH_INTROSPECTION", "1")
    assert Settings.from_env().introspection is True
    monkeypatch.setenv("GRAPH_DEBUG", "1")
    with pytest.raises(SystemExit, match="GRAPH_DEBUG"):
        Settings.from_env()
    monkeypatch.setenv("GRAPH_PROFILE", "staging")
    with pytest.raises(SystemExit, match="GRAPH_PROFILE"):
        Settings.from_env()


def test_the_development_profile_is_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRAPH_PROFILE", raising=False)
    settings = Settings.from_env()
    assert (settings.ide, settings.introspection, settings.suggestions) == (True, True, True)
