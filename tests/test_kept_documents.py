"""Documents answered before, answered again with other variables without GraphQL's execution
(graph/gql/kept_documents.py).

The same bodies go to an app that keeps documents and to one that keeps none: the responses
must be the same bytes, over generated variables (good ones, and ones that do not coerce, that
pass the cost limit, that the planner refuses), and most good ones must skip the full path.
Then: what is never kept, and a statement stopped by the time limit, met once.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.gql.kept_documents import KeptDocuments
from graph.http.endpoint import GraphQLEndpoint
from graph.settings import Settings
from graph.spec.model import Spec
from graph.sql.tables import Catalog
from tests.api import Api, loop_tries
from tests.databases import TestDatabase

REQUEST_ID = re.compile(rb'"requestId":"[^"]*"')
LOGS = """query($status: ExecutionLogStatus, $before: DateTime!, $n: Int, $flag: Boolean!) {
  executionLogs(where: {status: {eq: $status}, startedAt: {lt: $before}},
                orderBy: [{startedAt: DESC}, {executionId: ASC}], limit: $n) {
    executionId status startedAt
    component @include(if: $flag)
    relatedFeedback(limit: $n, orderBy: [{ticketId: ASC}]) { ticketId }
  }
}"""
LOOKUP = """query One($id: String, $rowId: BigInt) {
  run: executionLog(executionId: $id, id: $rowId) { executionId playbook { playbookName } }
}
query Other { executionLogs(limit: 1) { id } }"""
PAGE = """query($first: Int, $after: String, $status: ExecutionLogStatus!) {
  executionLogsConnection(where: {status: {eq: $status}}, first: $first, after: $after,
                          orderBy: [{executionId: ASC}]) {
    edges { cursor node { executionId } } pageInfo { hasNextPage endCursor }
  }
}"""
STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]
BAD = st.sampled_from([None, "NOPE", 7, [], {"a": 1}, "2026-13-01T00:00:00Z", 2**62])
MOMENTS = st.sampled_from(
    ["2026-01-01T00:00:00Z", "2030-06-01T12:30:00+05:30", "1999-12-31T23:59:59.999999Z"]
)
GOOD = st.one_of(
    st.tuples(
        st.just(("LOGS", LOGS, None)),
        st.fixed_dictionaries(
            {
                "status": st.one_of(st.none(), st.sampled_from(STATUSES)),
                "before": MOMENTS,
                "n": st.one_of(st.none(), st.integers(0, 60), st.sampled_from([-1, 10**6, 2**31])),
                "flag": st.booleans(),
            }
        ),
    ),
    st.tuples(
        st.just(("LOOKUP", LOOKUP, "One")),
        st.fixed_dictionaries(
            {
                "id": st.one_of(st.sampled_from(["%", "'", "no such"]), st.text()),
                "rowId": st.none(),
            }
        ),
    ),
    st.tuples(
        st.just(("LOOKUP", LOOKUP, "One")),
        st.fixed_dictionaries(
            {
                "id": st.one_of(st.none(), st.just("both given")),
                "rowId": st.one_of(st.none(), st.integers(-1, 40)),
            }
        ),
    ),
    st.tuples(
        st.just(("PAGE", PAGE, None)),
        st.fixed_dictionaries(
            {
                "first": st.one_of(st.none(), st.integers(0, 30), st.sampled_from([-1, 10**6])),
                "after": st.sampled_from([None, None, None, "not a cursor"]),
                "status": st.sampled_from(STATUSES),
            }
        ),
    ),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[tuple[str, str, str | None], dict[str, Any]]:
    """Good variables, and in a quarter of the cases one of them replaced by a bad value."""
    document, variables = draw(GOOD)
    if draw(st.integers(0, 3)) == 0:
        variables = {**variables, draw(st.sampled_from(sorted(variables))): draw(BAD)}
    return document, variables


WARM_UP = {
    "LOGS": {"status": "FAILED", "before": "2100-01-01T00:00:00Z", "n": 3, "flag": True},
    "LOOKUP": {"id": "warm-up", "rowId": None},
    "PAGE": {"first": 2, "after": None, "status": "FAILED"},
}


def _body(document: str, operation: str | None, variables: dict[str, Any]) -> bytes:
    return orjson.dumps({"query": document, "operationName": operation, "variables": variables})


def _apis(db: TestDatabase, spec: Spec, catalog: Catalog) -> tuple[Api, Api]:
    """An app that keeps documents, and one that keeps none (the full path every time)."""
    limits = Settings(max_nodes=5_000)
    kept, full = Api(db, spec, catalog, limits), Api(db, spec, catalog, limits)
    full.graph.documents = KeptDocuments(0)
    return kept, full


def _same(response: Any, other: Any) -> bytes:
    assert response.status_code == other.status_code
    content: bytes = REQUEST_ID.sub(b"", response.content)
    assert content == REQUEST_ID.sub(b"", other.content)
    return content


def test_other_variables_answer_as_the_full_path(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, full = _apis(seeded_db, spec, catalog)
    runs = {"full": 0}
    original = GraphQLEndpoint._run

    async def counted(self: GraphQLEndpoint, *args: Any) -> Any:
        if self.graph is kept.graph:
            runs["full"] += 1
        return await original(self, *args)

    monkeypatch.setattr(GraphQLEndpoint, "_run", counted)
    loop = asyncio.new_event_loop()
    tally = {"good": 0, "skipped the full path": 0, "errors": 0}
    try:
        for name, document, operation in [("LOGS", LOGS, None), ("LOOKUP", LOOKUP, "One")]:
            body = _body(document, operation, WARM_UP[name])
            _same(*(loop.run_until_complete(api.raw_post(body)) for api in (kept, full)))
        body = _body(PAGE, None, WARM_UP["PAGE"])
        _same(*(loop.run_until_complete(api.raw_post(body)) for api in (kept, full)))
        assert len(kept.graph.documents) == 3

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(case=cases())
        def check(case: tuple[tuple[str, str, str | None], dict[str, Any]]) -> None:
            (_, document, operation), variables = case
            body = _body(document, operation, variables)
            before = runs["full"]
            mine = loop.run_until_complete(kept.raw_post(body))
            content = _same(mine, loop.run_until_complete(full.raw_post(body)))
            if b'"errors"' in content:
                tally["errors"] += 1
                return
            tally["good"] += 1
            tally["skipped the full path"] += runs["full"] == before

        check()
    finally:
        loop.close()
    print(tally)
    assert tally["errors"] >= 15 and tally["good"] >= 50, tally
    # A good request the compiled path answers alone never needs the full path.
    assert tally["skipped the full path"] >= tally["good"] * 3 // 4, tally


def test_what_is_not_kept(seeded_db: TestDatabase, spec: Spec, catalog: Catalog) -> None:
    """Two root fields, a directive on the root field or the operation, a mutation, a
    document of several operations without a name, an error: nothing kept."""
    kept, _ = _apis(seeded_db, spec, catalog)
    documents = [
        ("{ a: executionLogs(limit: 1) { id } b: playbooks(limit: 1) { id } }", None),
        ("query($f: Boolean!) { executionLogs(limit: 1) @include(if: $f) { id } }", None),
        ("query @cached { executionLogs(limit: 1) { id } }", None),
        ("{ executionLogs(limit: -1) { id } }", None),
        ("mutation { insertPlaybooks(rows: []) { affectedCount } }", None),
        ("{ executionLogsAggregate { count } }", None),
    ]
    loop = asyncio.new_event_loop()
    try:
        for document, operation in documents:
            loop.run_until_complete(kept.raw_post(_body(document, operation, {"f": True})))
    finally:
        loop.close()
    assert len(kept.graph.documents) == 0


async def test_a_timeout_is_met_once(seeded_db: TestDatabase, spec: Spec, catalog: Catalog) -> None:
    """A kept document whose statement is stopped by the time limit answers TIMEOUT as the
    full path does, located at its field, without running the statement again."""
    if seeded_db.backend != "postgresql":
        pytest.skip("a lock held by another session: PostgreSQL's lock_timeout")
    api = Api(seeded_db, spec, catalog, Settings(statement_timeout_s=0.5))
    reader = api.graph.async_reader
    assert reader is not None
    async with api.app.router.lifespan_context(api.app):
        first = await api.raw_post(_body(LOOKUP, "One", {"id": "first", "rowId": None}))
        assert orjson.loads(first.content) == {"data": {"run": None}}
        tries = loop_tries(reader)
        with seeded_db.engine.connect() as holder:
            holder.exec_driver_sql("LOCK TABLE memory_execution_logs IN ACCESS EXCLUSIVE MODE")
            with api.counter.watching(seeded_db.engine) as counter:
                response = await api.raw_post(_body(LOOKUP, "One", {"id": "x", "rowId": None}))
            holder.rollback()
        body = orjson.loads(response.content)
        assert body["data"] == {"run": None}
        assert [e["extensions"]["code"] for e in body["errors"]] == ["TIMEOUT"], body
        assert body["errors"][0]["path"] == ["run"]
        assert api.graph.documents.hits == 1
        assert (len(tries), counter.count) == (1, 0), tries
