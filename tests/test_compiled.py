"""The compiled path (graph/gql/compiled.py) answers byte for byte what the reference path
answers, on SQLite and PostgreSQL.

Every generated document of the differential test (tests/model/generate.py: lists, lookups,
pages, nested relations with their own filters, orders and pages, aliases, fragments, over the
shipped tables and the zoo spec, with adversarial rows: nulls, ties, unicode, extreme numbers,
duplicate list links) is posted to two apps on the same database, one with the compiled path
and one without; the two bodies must be the same bytes (request ids aside). Hand-picked
documents check that the compiled path did answer them, in one statement.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.gql import compiled, compiled_connection
from graph.gql.prepared import sent_as_is
from graph.settings import Settings
from graph.spec.model import Spec
from graph.sql.async_reader import REST_S
from graph.sql.ddl import create_schema
from graph.sql.engine import build_engine
from graph.sql.tables import Catalog, build_catalog
from tests import test_differential as differential
from tests.api import Api, apis_on_the_loop, loop_tries
from tests.databases import TestDatabase
from tests.test_differential import (
    FIXED_NOW,
    FUZZ_EXAMPLES,
    MAX_WALK_PAGES,
    Backend,
    World,
    budget,
)

# The differential test's world (its databases, adversarial rows and generator), as fixtures
# of this module too.
world = differential.world
own_loop = differential.own_loop

REQUEST_ID = re.compile(rb'"requestId":"[^"]*"')
# Root fields answered, by path, over the whole run (printed at the end with -s).
PATHS: Counter[str] = Counter()
# Revalued requests, and those a statement built for other values answered.
REVALUED: Counter[str] = Counter()
# Pages of walks after the first, and those a statement built for another page answered.
WALKED: Counter[str] = Counter()
_REFERENCE_APIS: dict[int, Api] = {}


def reference_api(backend: Backend) -> Api:
    """An app on the backend's database that never takes the compiled path."""
    if id(backend) not in _REFERENCE_APIS:
        graph = backend.api.graph
        settings = Settings(max_nodes=10**15, compiled=False)
        _REFERENCE_APIS[id(backend)] = Api(
            backend.db, graph.spec, graph.catalog, settings, clock=lambda: FIXED_NOW
        )
    return _REFERENCE_APIS[id(backend)]


@pytest.fixture(scope="module", autouse=True)
def count_paths() -> Iterator[None]:
    modules = {
        "answer_list": compiled,
        "answer_one": compiled,
        "answer_with_groups": compiled,
        "answer_connection": compiled_connection,
    }
    originals = {name: getattr(module, name) for name, module in modules.items()}

    def counting(name: str) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            answer = await originals[name](*args, **kwargs)
            if name != "answer_connection" or args[0].settings.compiled:  # args[0]: the planner
                PATHS[name if answer is not None else "fell back"] += 1
            return answer

        return counted

    original_fragment = compiled.answer_fragment
    original_as_is = sent_as_is

    def counted_fragment(text: Any, shape: Any, final: bool = False) -> Any:
        if final and text is not None:
            as_is = original_as_is(text, shape)
            PATHS["text sent as it is" if as_is else "text written again"] += 1
            if as_is and "null" in text:
                PATHS["text sent as it is, with nulls in it"] += 1
        return original_fragment(text, shape, final)

    for name, module in modules.items():
        setattr(module, name, counting(name))
    compiled.answer_fragment = counted_fragment  # type: ignore[assignment]
    yield
    for name, module in modules.items():
        setattr(module, name, originals[name])
    compiled.answer_fragment = original_fragment  # type: ignore[assignment]
    print(f"\ncompiled root fields: {dict(PATHS)}")
    final = PATHS["text sent as it is"] + PATHS["text written again"]  # PostgreSQL's only
    if final >= 500:
        # PostgreSQL's text goes to the client as it is for many answers (the byte-for-byte
        # comparisons above then check it): exercised, not only allowed.
        assert PATHS["text sent as it is"] >= final // 4, PATHS
        # Nulls of nullable fields only, seen from the text (Shape.may_hold_null_where_non_null).
        assert PATHS["text sent as it is, with nulls in it"] >= final // 20, PATHS
    print(f"revalued requests: {dict(REVALUED)}")
    if REVALUED["requests"] >= 100:
        # Most revalued requests keep their statements' form (a value drawn null or an empty
        # list does not): the reuse must be exercised, not only possible.
        assert REVALUED["ran a built statement"] >= REVALUED["requests"] // 4, REVALUED
    print(f"walked pages: {dict(WALKED)}")
    if WALKED["later pages"] >= 100:
        assert WALKED["ran a built statement"] >= WALKED["later pages"] // 4, WALKED


def body(api: Api, world: World, document: str, variables: dict[str, Any]) -> bytes:
    raw = orjson.dumps({"query": document, "variables": variables})
    response = world.loop.run_until_complete(api.raw_post(raw))
    return REQUEST_ID.sub(b'"requestId":""', response.content)


def same_bytes(world: World, document: str, variables: dict[str, Any]) -> None:
    """Both paths answer the same bytes on every backend."""
    for backend in world.backends:
        same_bytes_on(world, backend, document, variables)


def same_bytes_on(
    world: World, backend: Backend, document: str, variables: dict[str, Any]
) -> bytes:
    """Both paths answer the same bytes on `backend`; the compiled path twice: built, then
    (for most documents) from its statement cache. The bytes."""
    slow = body(reference_api(backend), world, document, variables)
    for attempt in ("built", "reused"):
        fast = body(backend.api, world, document, variables)
        if fast != slow:
            at = next(i for i, (a, b) in enumerate(zip(fast, slow, strict=False)) if a != b)
            pytest.fail(
                f"{backend.name}: the paths differ at byte {at} ({attempt})\n{document}\n"
                f"{variables}\ncompiled:  ...{fast[max(0, at - 200) : at + 200]!r}\n"
                f"reference: ...{slow[max(0, at - 200) : at + 200]!r}"
            )
    return slow


@budget("queries")
@given(data=st.data())
def test_both_paths_answer_the_same_bytes(world: World, data: st.DataObject) -> None:
    case = data.draw(world.generator.query_cases(), label="case")
    same_bytes(world, case.document, case.variables)


@settings(budget("walks"), max_examples=FUZZ_EXAMPLES or 60)
@given(data=st.data())
def test_both_paths_walk_a_connection_alike(world: World, data: st.DataObject) -> None:
    """A connection walked page by page, each `after` the compiled path's own endCursor:
    every page, its cursors included, the reference path's bytes. A later page mostly runs
    the statement an earlier one built, its cursor's values as parameters (graph/sql/slots.py
    parameterized_page)."""
    case = data.draw(world.generator.walk_cases(), label="case")
    assert case.walk_key is not None
    for backend in world.backends:
        after = None
        templates = backend.api.graph.templates
        for _ in range(MAX_WALK_PAGES):
            variables = {**case.variables, "first": case.first, "after": after}
            before = templates.hits
            answer = orjson.loads(same_bytes_on(world, backend, case.document, variables))
            if after is not None:
                WALKED["later pages"] += 1
                WALKED["ran a built statement"] += templates.hits > before
            connection = (answer.get("data") or {}).get(case.walk_key)
            if not connection or not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]


@settings(budget("queries"), max_examples=FUZZ_EXAMPLES or 200)
@given(data=st.data())
def test_other_values_run_the_built_statements_alike(world: World, data: st.DataObject) -> None:
    """A request, then the same request with other compared values and lookup keys (when
    it has any): the second often runs the statements the first built, with its own values
    as parameters (graph/sql/slots.py). Both answer the reference path's bytes."""
    first, second = data.draw(world.generator.revalued_cases(), label="cases")
    for backend in world.backends:
        same_bytes_on(world, backend, first.document, first.variables)
        # On PostgreSQL a built statement runs as the driver's text it sent, bound to the
        # new values (graph/sql/driver_template.py).
        templates, drivers = backend.api.graph.templates, backend.api.graph.driver_templates
        before = templates.hits + drivers.hits
        same_bytes_on(world, backend, second.document, second.variables)
        if (second.document, second.variables) != (first.document, first.variables):
            REVALUED["requests"] += 1
            REVALUED["ran a built statement"] += templates.hits + drivers.hits > before


# -- hand-picked: the compiled path answers them, in one statement ------------------------------

TRAVERSAL = """
query($component: String) {
  executionLogs(where: {status: {eq: FAILED}}, orderBy: [{startedAt: DESC}], limit: 20) {
    executionId component status startedAt durationMs
    playbook { __typename playbookName successRate riskLevel }
    relatedFeedback(limit: 5, orderBy: [{createdAt: DESC}]) {
      ticketId priority
      workOrders(limit: 2) { workOrderId linesAdded }
    }
  }
  same: executionLogs(where: {component: {eq: $component}}, limit: 3) { id executionId }
  again: executionLogs(where: {component: {eq: $component}}, limit: 3, offset: 1) { id }
  page: executionLogsConnection(first: 4, orderBy: [{durationMs: DESC}]) {
    totalCount
    edges { cursor node { executionId playbook { playbookName } } }
    nodes { id relatedFeedback(limit: 2) { ticketId } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
TRICKY = [
    # Aliases of one field with different arguments; a fragment and an inline fragment;
    # @skip and @include; empty and null relations; nulls first in a sort key.
    """
    fragment Log on ExecutionLog { executionId exitCode }
    { executionLogs(orderBy: [{durationMs: ASC_NULLS_FIRST}], limit: 7, offset: 2) {
        ...Log
        ... on ExecutionLog { d: durationMs startedAt }
        skipped: status @skip(if: true)
        kept: status @include(if: true)
        first: relatedFeedback(limit: 1) { ticketId }
        none: relatedFeedback(limit: 0) { ticketId }
        last: relatedFeedback(orderBy: [{ticketId: DESC}], limit: 1, offset: 1) { ticketId }
        playbook { playbookName executions(limit: 2) { executionId } }
    } }
    """,
    # Every scalar kind the compiler renders, on every table.
    "{ playbooks(limit: 50) { id playbookName successRate avgExecutionTimeMs lastUsedAt"
    " riskLevel enabled createdAt } }",
    "{ complianceReports(limit: 50) { reportId nextAuditDate periodStart certificationStatus } }",
    "{ codebases(limit: 50) { repoName lastCommitAt } }",
    # Computed fields (a formula over the row, the request's moment, a rollup of linked rows).
    "{ dashboards(limit: 100) { id dataFreshnessHours }"
    " workOrders(limit: 100) { id linesChanged openFeedbackTickets"
    " executions(limit: 2) { id } }"
    " verificationSuites(limit: 100) { id passRate } }",
    # A key longer than PostgreSQL's 63-byte column names, at the root and in a relation.
    "{ executionLogs(limit: 5) { "
    + "k" * 64
    + ": executionId playbook { "
    + "p" * 70
    + ": playbookName } relatedFeedback(limit: 2) { ticketId "
    + "t" * 63
    + ": priority } } }",
    # Keys named like the subqueries' anonymous names.
    "{ executionLogs(limit: 3) { anon_1: executionId anon_2: component"
    " playbook { anon_3: playbookName } relatedFeedback(limit: 2) { anon_4: ticketId } } }",
    # Connections: every part, aliased twice, __typename at each level, edges' nodes and
    # nodes selecting different fields, relations; an empty page with its count; a page of
    # nothing; json and list fields in nodes.
    "{ c: executionLogsConnection(first: 3, orderBy: [{durationMs: DESC_NULLS_FIRST}],"
    " where: {status: {eq: FAILED}}) { __typename totalCount t2: totalCount"
    " edges { __typename cursor c2: cursor node { executionId playbook { playbookName } } }"
    " e2: edges { n: node { __typename id } }"
    " nodes { id relatedFeedback(limit: 2) { ticketId } }"
    " pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }"
    " p2: pageInfo { endCursor } } }",
    "{ a: executionLogsConnection(first: 0) { totalCount pageInfo { hasNextPage endCursor }"
    " edges { cursor } }"
    ' b: executionLogsConnection(where: {executionId: {eq: "none"}}) { totalCount nodes { id }'
    " pageInfo { startCursor hasNextPage } }"
    " c: playbooksConnection(first: 2) { edges { node { actions } } } }",
    # Lookups: found (by key and by id), not found, with relations.
    '{ a: executionLog(executionId: "no such run") { id }'
    " b: playbook(id: 1) { playbookName executions(limit: 2) { executionId } }"
    " c: executionLog(id: 2) { executionId playbook { playbookName } relatedFeedback(limit: 2)"
    " { ticketId } } }",
]


def compiled_api(backend: Backend) -> Api:
    graph = backend.api.graph
    settings = Settings(max_nodes=10**15, debug=True)
    return Api(backend.db, graph.spec, graph.catalog, settings, clock=lambda: FIXED_NOW)


def test_a_traversal_is_one_statement_and_the_same_bytes(world: World) -> None:
    if world.name != "grace":
        pytest.skip("the traversal is of the shipped tables")
    variables = {"component": "memory-api"}
    same_bytes(world, TRAVERSAL, variables)
    for backend in world.backends:
        api = compiled_api(backend)
        with api.counter.watching(backend.db.engine) as counter:
            answer = world.loop.run_until_complete(api.post(TRAVERSAL, variables))
        assert "errors" not in answer, answer
        roots = {
            "executionLogs": "compiled",
            "same": "compiled",
            "again": "compiled",
            "page": "compiled",
        }
        assert answer["extensions"] == {"paths": roots}
        # One statement per root field, whatever the relations; the reference path needs one
        # per relation level (4 for the first field; 4 for the connection: its count too).
        assert counter.count == 4, counter.statements


PAGES = """
query($after: String, $order: [ExecutionLogOrderBy!]) {
  executionLogsConnection(first: 7, after: $after, orderBy: $order) {
    totalCount
    edges { cursor node { executionId startedAt durationMs } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


@pytest.mark.parametrize(
    "order",
    [
        [{"startedAt": "DESC"}],
        [{"durationMs": "ASC_NULLS_FIRST"}, {"component": "DESC"}],
        [{"playbook": {"playbookName": "ASC"}}, {"exitCode": "DESC_NULLS_LAST"}],
        [{"status": "ASC"}, {"completedAt": "DESC"}],
    ],
)
def test_later_pages_are_the_reference_paths(world: World, order: list[Any]) -> None:
    """Pages after a cursor (hasPreviousPage true), by sort keys of several types (a
    datetime, a nullable int, text by code point, a related field, an enum): each page the
    reference path's bytes, cursors included, and compiled."""
    if world.name != "grace":
        pytest.skip("the documents are of the shipped tables")
    for backend in world.backends:
        after, pages = None, 0
        while pages < 4:
            variables = {"after": after, "order": order}
            answer = orjson.loads(same_bytes_on(world, backend, PAGES, variables))
            connection = answer["data"]["executionLogsConnection"]
            assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
            pages += 1
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
        assert pages == 4, "the walk should not end within 4 pages of 7"
        answer = world.loop.run_until_complete(compiled_api(backend).post(PAGES, variables))
        assert answer["extensions"]["paths"] == {"executionLogsConnection": "compiled"}


@pytest.mark.parametrize("document", TRICKY)
def test_tricky_documents_are_compiled_and_the_same_bytes(world: World, document: str) -> None:
    if world.name != "grace":
        pytest.skip("the documents are of the shipped tables")
    same_bytes(world, document, {})
    for backend in world.backends:
        answer = world.loop.run_until_complete(compiled_api(backend).post(document, {}))
        assert "errors" not in answer, answer
        assert set(answer["extensions"]["paths"].values()) == {"compiled"}


def test_what_is_not_compiled_falls_back_without_an_error(world: World) -> None:
    if world.name != "grace":
        pytest.skip("the documents are of the shipped tables")
    # b: `nodes` and `edges { node }` read one relation with other arguments (planned apart by
    # the reference path, graph/gql/resolvers.py).
    document = (
        "{ a: playbooks(limit: 2) { playbookName actions }"  # compiled: a json field
        " b: playbooksConnection(first: 2) { edges { node { id executions(limit: 1) { id } } }"
        " nodes { executions(limit: 2) { id } } }"
        " c: playbooks(limit: 2) { playbookName executionsAggregate { count } }"  # compiled
        " d: playbooks(limit: 2) { playbookName } }"
    )
    same_bytes(world, document, {})
    for backend in world.backends:
        answer = world.loop.run_until_complete(compiled_api(backend).post(document, {}))
        assert "errors" not in answer, answer
        assert answer["extensions"]["paths"] == {
            "a": "compiled",
            "b": "reference",
            "c": "compiled",
            "d": "compiled",
        }


# -- the statement cache (graph/sql/statement_cache.py) -----------------------------------------


def test_a_repeated_query_reuses_its_statement(world: World) -> None:
    """The second run of a document takes each root field's statement from the caches: one
    statement per root field still, the same bytes, no statement built. Other values of its
    variables run the same built statements with other parameters (graph/sql/slots.py)."""
    if world.name != "grace":
        pytest.skip("the traversal is of the shipped tables")
    variables = {"component": "memory-api"}
    for backend in world.backends:
        api = compiled_api(backend)
        cache, templates = api.graph.statements, api.graph.templates
        first = world.loop.run_until_complete(
            api.raw_post(orjson.dumps({"query": TRAVERSAL, "variables": variables}))
        )
        # Three lists kept as the driver's text; the lists and the page as built statements.
        assert (len(cache), cache.hits, len(templates), templates.hits) == (3, 0, 4, 0)
        with api.counter.watching(backend.db.engine) as counter:
            again = world.loop.run_until_complete(
                api.raw_post(orjson.dumps({"query": TRAVERSAL, "variables": variables}))
            )
        assert (len(cache), cache.hits, len(templates), templates.hits) == (3, 3, 4, 1)
        assert counter.count == 4, counter.statements
        assert REQUEST_ID.sub(b"", again.content) == REQUEST_ID.sub(b"", first.content)
        # Other values: the two lists of the component run with the new value, nothing is
        # built. On PostgreSQL, the driver's text of their first run is bound to it
        # (graph/sql/driver_template.py) and not kept for these values; on SQLite (positional
        # parameters), the built statements run and are then kept as driver text too.
        found = []
        for component in ("no such", "scheduler", "memory-api"):
            other = world.loop.run_until_complete(api.post(TRAVERSAL, {"component": component}))
            reference = world.loop.run_until_complete(
                reference_api(backend).post(TRAVERSAL, {"component": component})
            )
            assert other["data"] == reference["data"], component
            found.append(len(other["data"]["same"]))
        drivers = api.graph.driver_templates
        if backend.db.engine.dialect.name == "postgresql":
            assert (len(templates), len(drivers), drivers.hits, len(cache)) == (4, 3, 4, 3)
        else:
            assert (len(templates), len(drivers), len(cache)) == (4, 0, 7)
        assert found[0] == 0 and found[2] > 0, found


def test_a_statement_holding_the_moment_is_not_reused(world: World) -> None:
    """Time windows and computed fields of the request's moment are built for each request:
    an hour later, `dataFreshnessHours` is an hour more and `withinLast` sees other rows."""
    if world.name != "grace":
        pytest.skip("the documents are of the shipped tables")
    document = (
        "{ dashboards(orderBy: [{id: ASC}], limit: 3) { id dataFreshnessHours }"
        ' executionLogs(where: {startedAt: {withinLast: "PT1H"}}, limit: 1000) { id } }'
    )
    now = [FIXED_NOW]
    for backend in world.backends:
        now[0] = FIXED_NOW
        graph = backend.api.graph
        api = Api(
            backend.db,
            graph.spec,
            graph.catalog,
            Settings(max_nodes=10**15, debug=True),
            clock=lambda: now[0],
        )
        first = world.loop.run_until_complete(api.post(document))
        now[0] = FIXED_NOW + dt.timedelta(hours=1)
        later = world.loop.run_until_complete(api.post(document))
        assert set(later["extensions"]["paths"].values()) == {"compiled"}
        assert len(api.graph.statements) == 0
        hours = [row["dataFreshnessHours"] for row in first["data"]["dashboards"]]
        more = [row["dataFreshnessHours"] for row in later["data"]["dashboards"]]
        assert [h is None for h in hours] == [h is None for h in more]
        assert all(
            b - a == pytest.approx(1.0) for a, b in zip(hours, more, strict=True) if a is not None
        )
        assert any(h is not None for h in hours), hours


def test_a_list_value_runs_one_built_statement(world: World) -> None:
    """An `in` list is a Slot (graph/sql/slots.py): one statement is built and serves lists of
    other values and lengths, each answering like the reference path. A list cannot key the
    driver-text cache (it is not hashable), so nothing is kept there."""
    if world.name != "grace":
        pytest.skip("the documents are of the shipped tables")
    document = (
        "query($s: [ExecutionLogStatus!])"
        " { executionLogs(where: {status: {in: $s}}, limit: 5) { id status } }"
    )
    lists = [["FAILED", "SUCCEEDED"], ["RUNNING"], ["FAILED", "RUNNING", "SUCCEEDED", "FAILED"]]
    for backend in world.backends:
        api = compiled_api(backend)
        for values in lists:
            answer = world.loop.run_until_complete(api.post(document, {"s": values}))
            reference = world.loop.run_until_complete(
                reference_api(backend).post(document, {"s": values})
            )
            assert answer["extensions"]["paths"] == {"executionLogs": "compiled"}
            assert answer["data"] == reference["data"] and answer["data"]["executionLogs"]
        assert len(api.graph.statements) == 0
        assert (len(api.graph.templates), api.graph.templates.hits) == (1, 2)
        # The empty list is another statement (it matches no row): not a Slot, and as a list
        # in the key it is not kept.
        empty = world.loop.run_until_complete(api.post(document, {"s": []}))
        assert empty["data"] == {"executionLogs": []} and len(api.graph.templates) == 1


# -- prepared operations (graph/gql/prepared.py) -----------------------------------------------

INSERT_PLAYBOOK = (
    "mutation($name: String!) { insertPlaybooks(rows: [{playbookName: $name, actions: [],"
    " riskLevel: LOW}]) { affectedCount } }"
)


async def prepared_again(api: Api, query: bytes) -> Any:
    """Post `query` twice to an app that has kept no operation yet: the second response comes
    from the first one's kept operation, in one statement, with the same bytes and headers."""
    prepared = api.graph.prepared
    first = await api.raw_post(query)
    assert (len(prepared), prepared.hits) == (1, 0)
    with api.counter.watching(api.db.engine) as counter:
        again = await api.raw_post(query)
    assert prepared.hits == 1 and counter.count == 1, counter.statements
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    return again


async def test_a_repeated_request_is_answered_again_without_graphql(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    """The same request body again: the kept statement answers it, with the bytes the full
    path wrote, fresh from the database (rows written in between show), in one statement.
    Another body, several root fields or a field of the request's moment go the full way."""
    create_schema(empty_db.engine, catalog)
    api = Api(empty_db, spec, catalog, Settings(debug=True), clock=lambda: FIXED_NOW)
    prepared = api.graph.prepared
    assert "errors" not in await api.post(INSERT_PLAYBOOK, {"name": "first"})
    query = orjson.dumps({"query": "{ playbooks(orderBy: [{id: ASC}]) { playbookName } }"})

    again = await prepared_again(api, query)
    assert orjson.loads(again.content) == {
        "data": {"playbooks": [{"playbookName": "first"}]},
        "extensions": {"paths": {"playbooks": "compiled"}},
    }

    assert "errors" not in await api.post(INSERT_PLAYBOOK, {"name": "second"})
    later = orjson.loads((await api.raw_post(query)).content)
    assert prepared.hits == 2
    assert later["data"]["playbooks"] == [{"playbookName": "first"}, {"playbookName": "second"}]

    # Not kept: two root fields; a field holding the request's moment; a lookup of a list.
    for document in (
        "{ a: playbooks { id } b: playbooks { id } }",
        "{ dashboards { dataFreshnessHours } }",
        "{ executionLogs(where: {status: {in: [FAILED]}}) { id } }",
    ):
        body = orjson.dumps({"query": document})
        for _ in range(2):
            assert (await api.raw_post(body)).status_code == 200
    assert (len(prepared), prepared.hits) == (1, 2)
    # The same document with other variables is another request.
    lookup = "query($n: String) { playbook(playbookName: $n) { id playbookName } }"
    for name, found in (("first", True), ("second", True), ("first", True), ("none", False)):
        answer = await api.post(lookup, {"n": name})
        assert (answer["data"]["playbook"] is not None) is found, answer
    assert (len(prepared), prepared.hits) == (4, 3)


async def test_a_prepared_request_still_passes_the_header_checks(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    """A kept body is answered again before it is parsed, but not before its headers are
    checked: the same body with another media type or an encoding is refused as before, and
    answered again with the right ones. A GET of the same query keeps its preflight check."""
    create_schema(empty_db.engine, catalog)
    api = Api(empty_db, spec, catalog, Settings(), clock=lambda: FIXED_NOW)
    document = "query Named { playbooks { playbookName } }"
    query = orjson.dumps({"query": document, "operationName": "Named"})
    await prepared_again(api, query)
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for headers in (
            {"Content-Type": "text/plain"},
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            {"Content-Type": "application/json; charset=latin-1"},
        ):
            refused = await client.post("/graphql", content=query, headers=headers)
            assert refused.status_code == 415, (headers, refused.text)
            assert refused.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
        get = await client.get("/graphql", params={"query": document})
        assert get.status_code == 400 and "Preflight" in get.text
        again = await client.post(
            "/graphql", content=query, headers={"Content-Type": "application/json"}
        )
    assert again.json() == {"data": {"playbooks": []}}
    assert api.graph.prepared.hits == 2


async def test_a_repeated_connection_is_answered_again_without_graphql(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    """A connection alone in its operation, requested again: its kept statement answers,
    with the full path's bytes (cursors, count and pageInfo included), fresh from the
    database, in one statement; a connection of the request's moment is not kept."""
    create_schema(empty_db.engine, catalog)
    api = Api(empty_db, spec, catalog, Settings(debug=True), clock=lambda: FIXED_NOW)
    reference = Api(
        empty_db, spec, catalog, Settings(compiled=False, debug=True), clock=lambda: FIXED_NOW
    )
    prepared = api.graph.prepared
    for name in ("first", "second", "third"):
        assert "errors" not in await api.post(INSERT_PLAYBOOK, {"name": name})
    document = (
        "{ playbooksConnection(first: 2, orderBy: [{playbookName: DESC}]) { totalCount"
        " edges { cursor node { playbookName } } pageInfo { hasNextPage endCursor } } }"
    )
    again = await prepared_again(api, orjson.dumps({"query": document}))
    expected, _ = await answered(reference, document)
    assert orjson.loads(again.content)["data"] == expected["data"]
    assert "errors" not in await api.post(INSERT_PLAYBOOK, {"name": "zeta"})
    later, paths = await answered(api, document)
    assert prepared.hits == 2 and paths == {"compiled"}
    assert later == (await answered(reference, document))[0]
    assert later["data"]["playbooksConnection"]["totalCount"] == 4
    # Not kept: a connection whose filter reads the request's moment.
    moment = orjson.dumps(
        {"query": '{ playbooksConnection(where: {createdAt: {withinLast: "P1D"}}) { totalCount } }'}
    )
    for _ in range(2):
        assert (await api.raw_post(moment)).status_code == 200
    assert (len(prepared), prepared.hits) == (1, 2)


# -- a null the database holds under a non-null field ------------------------------------------


async def answered(api: Api, document: str) -> tuple[dict[str, Any], set[str]]:
    """`document`'s answer (request ids blanked, extensions left out) and the paths that
    answered its root fields (the app runs with debug on)."""
    raw = await api.raw_post(orjson.dumps({"query": document}))
    answer = orjson.loads(REQUEST_ID.sub(b'"requestId":""', raw.content))
    return answer, set(answer.pop("extensions")["paths"].values())


async def same_answers(reference: Api, fast: Api, document: str, path: str) -> dict[str, Any]:
    """`fast` answers `document` as `reference` does, three times (built, then from the
    statement cache or as a prepared operation), each time by `path`; the answer."""
    expected, _ = await answered(reference, document)
    for _ in range(3):
        answer, paths = await answered(fast, document)
        assert answer == expected, document
        assert paths == {path}, (document, paths)
    return expected


NULL_UNDER_NON_NULL = [
    "{ playbooks(orderBy: [{id: ASC}]) { playbookName riskLevel } }",
    '{ playbook(playbookName: "loose") { playbookName riskLevel } }',
    "{ executionLogs { executionId playbook { playbookName riskLevel } } }",
    "{ playbooks(orderBy: [{id: ASC}]) { playbookName executions { executionId } } }",
]


async def test_a_stored_null_under_a_non_null_field_is_the_reference_paths_error(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    """A table created while a field was optional may hold nulls after the YAML made it
    required (init never alters a table). GraphQL answers such a null with an error, at
    every depth: the compiled path hands those answers to the reference path, which gives
    the same bytes as without the compiled path; answers without such a null stay compiled,
    also when the same request comes again."""
    table = spec.tables["self_healing"]
    loose_fields = tuple(
        dataclasses.replace(f, required=False) if f.name == "risk_level" else f
        for f in table.fields
    )
    loose_spec = dataclasses.replace(
        spec,
        tables={**spec.tables, "self_healing": dataclasses.replace(table, fields=loose_fields)},
    )
    loose_catalog = build_catalog(loose_spec)
    create_schema(empty_db.engine, loose_catalog)
    loose = Api(empty_db, loose_spec, loose_catalog, clock=lambda: FIXED_NOW)
    written = await loose.post(
        'mutation { insertPlaybooks(rows: [{playbookName: "strict", actions: [], riskLevel: LOW},'
        ' {playbookName: "loose", actions: []}]) { affectedCount }'
        ' insertExecutionLogs(rows: [{executionId: "run", commandType: DEPLOY,'
        ' component: "api", status: FAILED, linkedPlaybookId: "loose"}]) { affectedCount } }'
    )
    assert "errors" not in written, written

    reference = Api(
        empty_db, spec, catalog, Settings(compiled=False, debug=True), clock=lambda: FIXED_NOW
    )
    fast = Api(empty_db, spec, catalog, Settings(debug=True), clock=lambda: FIXED_NOW)
    for document in NULL_UNDER_NON_NULL:
        has_null = "riskLevel" in document
        path = "reference" if has_null else "compiled"
        expected = await same_answers(reference, fast, document, path)
        assert ("errors" in expected) is has_null, expected
        # Sanity: the reference path's error names the field.
        if has_null:
            assert expected["errors"][0]["path"][-1] == "riskLevel", expected


async def test_a_prepared_operation_runs_on_the_event_loop_while_the_app_runs(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    """While the app runs (its lifespan), PostgreSQL's prepared operations run on the event
    loop (graph/sql/async_reader.py), not through the engine: the same bytes, rows written
    in between, counted in the request log; when the loop's connections die, the request
    goes the full way with the right answer and the pool makes new ones."""
    if empty_db.backend != "postgresql":
        pytest.skip("the event loop's reader is PostgreSQL's")
    create_schema(empty_db.engine, catalog)
    api = Api(empty_db, spec, catalog, Settings(debug=True), clock=lambda: FIXED_NOW)
    assert "errors" not in await api.post(INSERT_PLAYBOOK, {"name": "first"})
    query = orjson.dumps({"query": "{ playbooks(orderBy: [{id: ASC}]) { playbookName } }"})
    reader = api.graph.async_reader
    assert reader is not None and not reader.ready
    ran: list[float] = []
    async with api.app.router.lifespan_context(api.app):
        assert reader.ready
        logged = reader.on_statement
        reader.on_statement = lambda seconds: (ran.append(seconds), logged(seconds))[-1]
        first = await api.raw_post(query)  # the full path, which keeps the operation
        with api.counter.watching(empty_db.engine) as counter:
            again = await api.raw_post(query)
        assert again.content == first.content
        assert (counter.count, len(ran), api.graph.prepared.hits) == (0, 1, 1)

        assert "errors" not in await api.post(INSERT_PLAYBOOK, {"name": "second"})
        names = [{"playbookName": "first"}, {"playbookName": "second"}]
        later = orjson.loads((await api.raw_post(query)).content)
        assert later["data"]["playbooks"] == names and len(ran) == 2

        with empty_db.engine.connect() as admin:
            admin.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            admin.commit()
        # A dead connection fails the request's statement on the loop, which then goes the
        # full way; for REST_S the requests keep off the loop (the thread's way answers),
        # while the pool replaces its connections in the background; then the loop again.
        answer = orjson.loads((await api.raw_post(query)).content)
        assert answer["data"]["playbooks"] == names, answer
        assert len(ran) == 2 and not reader.ready
        await asyncio.sleep(REST_S)
        for _ in range(reader.pool_size + 2):
            assert reader.ready
            answer = orjson.loads((await api.raw_post(query)).content)
            assert answer["data"]["playbooks"] == names, answer
            if len(ran) == 3:
                break
            await asyncio.sleep(REST_S)  # another dead connection of the pool's
        assert len(ran) == 3, ran
    assert not reader.ready


@pytest.mark.parametrize(
    "order",
    [
        [{"startedAt": "DESC"}],
        [{"durationMs": "ASC_NULLS_FIRST"}, {"component": "DESC"}],
        [{"status": "ASC"}, {"completedAt": "DESC"}],
        [{"playbook": {"playbookName": "ASC"}}, {"exitCode": "DESC_NULLS_LAST"}],
    ],
)
async def test_a_repeated_connection_runs_on_the_event_loop_while_the_app_runs(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog, order: list[Any]
) -> None:
    """A connection alone in its operation, requested again while the app runs, is read on
    PostgreSQL's event loop (graph/sql/driver_rows.py): its sort values come back through
    SQLAlchemy's types there too, so each page of a walk (after a cursor, by a datetime, a
    nullable int, text, an enum, a related field) has the full path's bytes, cursors and
    count included, and the reference path's answer; nothing runs through the engine."""
    if seeded_db.backend != "postgresql":
        pytest.skip("the event loop's reader is PostgreSQL's")
    api, reference, on_loop = apis_on_the_loop(seeded_db, spec, catalog)
    after, pages = None, 0
    async with api.app.router.lifespan_context(api.app):
        while pages < 3:
            body = orjson.dumps({"query": PAGES, "variables": {"after": after, "order": order}})
            first = await api.raw_post(body)  # the full path, which keeps the operation
            on_loop.clear()
            with api.counter.watching(seeded_db.engine) as counter:
                again = await api.raw_post(body)
            assert (len(on_loop), counter.count) == (1, 0), counter.statements
            assert again.content == first.content
            answer = orjson.loads(again.content)
            expected = orjson.loads((await reference.raw_post(body)).content)
            assert answer == expected
            connection = answer["data"]["executionLogsConnection"]
            assert connection["edges"], connection
            pages += 1
            after = connection["pageInfo"]["endCursor"]
    assert api.graph.prepared.hits == 3


@pytest.mark.parametrize("on_the_loop", [True, False], ids=["event-loop", "thread"])
async def test_a_prepared_request_meets_the_time_limit_once(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog, on_the_loop: bool
) -> None:
    """A prepared request (its body answered before) whose statement the time limit stops
    answers TIMEOUT, located at its field as the full path locates it, with the statement
    run once: the full path, which writes the error, does not make the database wait the
    limit a second time. The request is forgotten; once the lock is gone it is answered."""
    if empty_db.backend != "postgresql":
        pytest.skip("a lock held by another session: PostgreSQL's lock_timeout")
    create_schema(empty_db.engine, catalog)
    # The server's engine carries the time limit (the fixture's has none).
    limited = build_engine(empty_db.url, statement_timeout_s=0.5)
    db = dataclasses.replace(empty_db, engine=limited)
    api = Api(db, spec, catalog, Settings(statement_timeout_s=0.5))
    reader = api.graph.async_reader
    assert reader is not None
    on_loop = loop_tries(reader)
    query = orjson.dumps({"query": "{ logs: executionLogs(limit: 2) { id } }"})
    async with AsyncExitStack() as stack:
        stack.callback(limited.dispose)
        if on_the_loop:
            await stack.enter_async_context(api.app.router.lifespan_context(api.app))
        assert orjson.loads((await api.raw_post(query)).content) == {"data": {"logs": []}}
        assert len(api.graph.prepared) == 1
        with empty_db.engine.connect() as holder:
            holder.exec_driver_sql("LOCK TABLE memory_execution_logs IN ACCESS EXCLUSIVE MODE")
            on_loop.clear()
            with api.counter.watching(limited) as counter:
                response = await api.raw_post(query)
            holder.rollback()
        body = orjson.loads(response.content)
        assert body["data"] is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["TIMEOUT"], body
        assert body["errors"][0]["path"] == ["logs"]
        assert body["errors"][0]["locations"] == [{"line": 1, "column": 3}]
        ran = (len(on_loop), counter.count)
        assert ran == ((1, 0) if on_the_loop else (0, 1)), (on_loop, counter.statements)
        assert api.graph.prepared.hits == 1 and len(api.graph.prepared) == 0
        assert orjson.loads((await api.raw_post(query)).content) == {"data": {"logs": []}}


# -- json and list fields holding what only raw SQL stores --------------------------------------

ZOO_FIELDS = "animalNo readings tagIds keeperCodes luckyNumbers checks medical"
# animal_no -> (list and json columns, as SQL text per backend; None: the row is skipped
# there), and whether the compiled path answers (False: its answer goes to the reference path).
RAW_ANIMALS: dict[int, tuple[dict[str, dict[str, str | None]], bool]] = {
    # A NaN among floats: GraphQL's Float has none, so the reference answers the list as null.
    1: (
        {"readings": {"postgresql": "ARRAY[1.5, 'NaN']::float8[]", "sqlite": "'[1.5, NaN]'"}},
        False,
    ),
    # A null element under `[String!]`: the reference path's error.
    2: (
        {"keeper_codes": {"postgresql": "ARRAY['k1', NULL]", "sqlite": """'["k1", null]'"""}},
        False,
    ),
    # Whole floats stored as integers (SQLite's text), the extremes of BigInt, empty and null.
    3: (
        {
            "readings": {
                "postgresql": "ARRAY[2, 0.5, '-0'::float8, 1e308]",
                "sqlite": "'[2, 0.5, -0.0, 1e308]'",
            },
            "tag_ids": {
                "postgresql": "ARRAY[9223372036854775807, -9223372036854775808]::bigint[]",
                "sqlite": "'[9223372036854775807, -9223372036854775808]'",
            },
            "lucky_numbers": {"postgresql": "ARRAY[]::int[]", "sqlite": "'[]'"},
            "checks": {"postgresql": "ARRAY[true, false]", "sqlite": "'[true, false]'"},
        },
        True,
    ),
    # JSON numbers beyond 64 bits and beyond doubles, a long fraction, unicode, nesting.
    4: (
        {
            "medical": {
                dialect: '\'{"big": 18446744073709551615, "huge": 1e400, "neg": -1e400,'
                ' "long": 0.1000000000000000055511151231257827, "tiny": 5e-324,'
                ' "\u00e9": [null, true, {"x": "\\\\u0000 _\\\\\\\\"}]}\''
                + ("::jsonb" if dialect == "postgresql" else "")
                for dialect in ("postgresql", "sqlite")
            }
        },
        True,
    ),
    # Text SQLite's JSON functions refuse, which Python's parser reads (NaN): the reference.
    5: (
        {
            "medical": {"postgresql": None, "sqlite": "'NaN'"},
            "readings": {"postgresql": None, "sqlite": "'[Infinity]'"},
        },
        False,
    ),
    # A JSON null document and a scalar document.
    6: ({"medical": {"postgresql": "'null'::jsonb", "sqlite": "'null'"}}, True),
    7: ({"medical": {"postgresql": "'\"text\"'::jsonb", "sqlite": "'\"text\"'"}}, True),
}


async def test_json_and_list_values_only_raw_sql_stores_answer_as_the_reference_path(
    empty_db: TestDatabase,
) -> None:
    """The API refuses NaN, null list elements and JSON numbers beyond 64 bits, but raw SQL
    stores them. Each such row, by lookup and in a list, answers the reference path's bytes:
    compiled where the compiled path can give them, through the reference path where not."""
    zoo = differential.load_spec(*differential.SPECS["zoo"])
    zoo_catalog = build_catalog(zoo)
    create_schema(empty_db.engine, zoo_catalog)
    table = zoo_catalog.table("animals").name
    with empty_db.engine.begin() as conn:
        for number, (columns, _compiled) in RAW_ANIMALS.items():
            values = {name: sql[empty_db.backend] for name, sql in columns.items()}
            if None in values.values():
                continue
            names = ", ".join(["animal_no", "name", "species", "vaccinated", *values])
            row = ", ".join([str(number), "'a'", "'yak'", "false", *values.values()])
            conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({row})")
    reference = Api(
        empty_db, zoo, zoo_catalog, Settings(compiled=False, debug=True), clock=lambda: FIXED_NOW
    )
    fast = Api(empty_db, zoo, zoo_catalog, Settings(debug=True), clock=lambda: FIXED_NOW)
    documents = [
        (f"{{ animal(animalNo: {number}) {{ {ZOO_FIELDS} }} }}", is_compiled)
        for number, (columns, is_compiled) in RAW_ANIMALS.items()
        if None not in (sql[empty_db.backend] for sql in columns.values())
    ]
    documents.append((f"{{ animals(orderBy: [{{animalNo: ASC}}]) {{ {ZOO_FIELDS} }} }}", False))
    for document, is_compiled in documents:
        await same_answers(reference, fast, document, "compiled" if is_compiled else "reference")
    # The byte-level form of the compiled answers (floats' digits, BigInt strings) is the
    # reference path's: compare the raw bodies of a compiled row too.
    document = "{ animal(animalNo: 3) { readings tagIds luckyNumbers checks } }"
    slow = (await reference.raw_post(orjson.dumps({"query": document}))).content
    quick = (await fast.raw_post(orjson.dumps({"query": document}))).content
    assert (
        REQUEST_ID.sub(b"", quick).split(b',"extensions"')[0]
        == REQUEST_ID.sub(b"", slow).split(b',"extensions"')[0]
    )
    assert b'"readings":[2.0,0.5,-0.0,1e+308]' in slow
    assert b'"tagIds":["9223372036854775807","-9223372036854775808"]' in slow
