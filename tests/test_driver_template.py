"""Statements kept as the driver was given them, bound again for other values
(graph/sql/driver_template.py).

What a bound template sends must be, byte for byte, what SQLAlchemy sends when it builds and
runs the same statement for the same values: checked over generated values of every kind a
Slot takes (enums, datetimes in any offset, 64-bit integers at their bounds, floats, strings
with `% _ \\ '`, quotes and any unicode) against an app that keeps nothing, and against the
reference path's answers. Then: lists (`in`) and SQLite's positional parameters are never
kept so; on the event loop (the app running), a bound statement answers without the engine,
and one stopped by the time limit answers TIMEOUT once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.settings import Settings
from graph.spec.model import BIGINT_MAX, BIGINT_MIN, Spec
from graph.sql.driver_template import DriverTemplate
from graph.sql.statement_cache import StatementCache
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase
from tests.test_sqlite_plans import recorded

LOGS = """query($status: ExecutionLogStatus!, $before: DateTime!, $least: BigInt!,
                $component: String!, $exit: Int!, $hours: Float!) {
  executionLogs(
    where: {status: {neq: $status}, startedAt: {lt: $before}, durationMs: {gte: $least},
            component: {neq: $component}, exitCode: {neq: $exit}},
    orderBy: [{startedAt: DESC}, {executionId: ASC}], limit: 4
  ) {
    executionId status startedAt durationMs exitCode component
    relatedFeedback(where: {resolutionTimeHours: {lt: $hours}}, orderBy: [{ticketId: ASC}],
                    limit: 2) { ticketId resolutionTimeHours }
  }
}"""
LOOKUP = "query($id: String!) { executionLog(executionId: $id) { executionId component } }"
LISTED = """query($statuses: [ExecutionLogStatus!]!) {
  executionLogs(where: {status: {in: $statuses}}, orderBy: [{executionId: ASC}], limit: 3) {
    executionId status
  }
}"""
STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]
# Texts a careless bind would break: LIKE's and the driver's specials, quotes, unicode.
TEXTS = st.one_of(
    st.sampled_from(["%", "_", "\\", "'", "''", "%(slot_0)s", "$1", "memory-api", "é", "🙂"]),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12),
)
OFFSETS = [
    dt.UTC,
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
    dt.timezone(-dt.timedelta(hours=12)),
]
MOMENTS = st.datetimes(
    min_value=dt.datetime(1000, 1, 2),
    max_value=dt.datetime(9000, 1, 1),
    timezones=st.sampled_from(OFFSETS),
)
LOG_VALUES = st.fixed_dictionaries(
    {
        "status": st.sampled_from(STATUSES),
        "before": MOMENTS.map(dt.datetime.isoformat),
        "least": st.one_of(
            st.sampled_from([BIGINT_MIN, BIGINT_MAX, 0, -1]), st.integers(BIGINT_MIN, BIGINT_MAX)
        ),
        "component": TEXTS,
        "exit": st.integers(-(2**31), 2**31 - 1),
        "hours": st.floats(allow_nan=False, allow_infinity=False),
    }
)
WARM_UP = {
    "status": "FAILED",
    "before": "2999-01-01T00:00:00+00:00",
    "least": -7,
    "component": "warm-up",
    "exit": 99,
    "hours": 1e9,
}


@pytest.fixture
def binds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times a kept driver text was bound to a request's values: by the template
    the statement cache found, or by a kept document's binding, which holds its driver text
    (graph/gql/document_bindings.py)."""
    count = [0]
    original = DriverTemplate.bound

    def counted(self: DriverTemplate, slots: Any) -> Any:
        found = original(self, slots)
        count[0] += found is not None
        return found

    monkeypatch.setattr(DriverTemplate, "bound", counted)
    return count


def _apis(db: TestDatabase, spec: Spec, catalog: Catalog) -> tuple[Api, Api, Api]:
    """The app under test; one that keeps nothing (every statement built by SQLAlchemy, with
    the same Slots); one that answers by the reference path."""
    kept = Api(db, spec, catalog, Settings(max_nodes=10**15))
    built = Api(db, spec, catalog, Settings(max_nodes=10**15))
    built.graph.statements = StatementCache(db.engine, 0)
    reference = Api(db, spec, catalog, Settings(max_nodes=10**15, compiled=False))
    return kept, built, reference


async def _sent(
    api: Api, db: TestDatabase, query: str, variables: dict[str, Any]
) -> tuple[Any, list[tuple[str, Any]]]:
    with recorded(db, "SELECT") as statements:
        answer = await api.post(query, variables)
    return answer, statements


def _exact(statements: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Statements as the driver gets them: each parameter with its type and repr (equal
    datetimes in two offsets are not the same parameter)."""

    def typed(params: Any) -> Any:
        items = params.items() if isinstance(params, dict) else enumerate(params)
        return sorted((name, type(value).__name__, repr(value)) for name, value in items)

    return [(sql, typed(params)) for sql, params in statements]


def test_a_bound_template_sends_what_sqlalchemy_sends(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog, binds: list[int]
) -> None:
    kept, built, reference = _apis(seeded_db, spec, catalog)
    postgresql = seeded_db.backend == "postgresql"
    loop = asyncio.new_event_loop()
    drivers = kept.graph.driver_templates
    try:
        warm = loop.run_until_complete(kept.post(LOGS, WARM_UP))
        assert "errors" not in warm, warm
        # PostgreSQL keeps the list's driver text; SQLite's parameters are positional.
        assert len(drivers) == (1 if postgresql else 0)

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(values=LOG_VALUES)
        def check(values: dict[str, Any]) -> None:
            bound, exact_hits = binds[0], kept.graph.statements.hits
            answer, sent = loop.run_until_complete(_sent(kept, seeded_db, LOGS, values))
            expected, built_sent = loop.run_until_complete(_sent(built, seeded_db, LOGS, values))
            truth = loop.run_until_complete(reference.post(LOGS, values))
            assert answer.get("data") == expected.get("data") == truth.get("data"), values
            assert [e["extensions"]["code"] for e in answer.get("errors", [])] == [
                e["extensions"]["code"] for e in truth.get("errors", [])
            ]
            if "errors" in answer or kept.graph.statements.hits != exact_hits:
                return  # refused before any statement, or these values' own statement
            assert len(sent) == len(built_sent) == 1
            assert _exact(sent) == _exact(built_sent), values
            assert binds[0] == bound + (1 if postgresql else 0)

        check()
    finally:
        loop.close()


def test_a_lookup_binds_its_key(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog, binds: list[int]
) -> None:
    """A lookup's key is a Slot: other keys, present and absent, bind the kept text."""
    kept, built, reference = _apis(seeded_db, spec, catalog)
    loop = asyncio.new_event_loop()
    try:
        ids = loop.run_until_complete(
            reference.data("{ executionLogs(orderBy: [{id: ASC}], limit: 3) { executionId } }")
        )["executionLogs"]
        keys = [row["executionId"] for row in ids] + ["no such", "%", "'; --", "é🙂"]
        for key in keys:
            answer, sent = loop.run_until_complete(_sent(kept, seeded_db, LOOKUP, {"id": key}))
            expected, built_sent = loop.run_until_complete(
                _sent(built, seeded_db, LOOKUP, {"id": key})
            )
            truth = loop.run_until_complete(reference.post(LOOKUP, {"id": key}))
            assert answer["data"] == expected["data"] == truth["data"], key
            assert _exact(sent) == _exact(built_sent), key
        found = [
            k for k in keys if loop.run_until_complete(kept.data(LOOKUP, {"id": k}))["executionLog"]
        ]
        assert found == keys[:3]
    finally:
        loop.close()
    if seeded_db.backend == "postgresql":
        assert len(kept.graph.driver_templates) >= 1
        assert binds[0] >= len(keys) - 1
    else:
        assert len(kept.graph.driver_templates) == 0


def test_a_list_is_not_kept_as_driver_text(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    """`in` expands its Slot into one parameter per member: the text depends on the list's
    length, so the built statement runs each time (graph/sql/slots.py)."""
    kept, _, reference = _apis(seeded_db, spec, catalog)
    loop = asyncio.new_event_loop()
    try:
        for statuses in (
            ["FAILED"],
            ["FAILED", "RUNNING"],
            ["QUEUED", "QUEUED", "SUCCEEDED"],
            ["FAILED"],
        ):
            answer = loop.run_until_complete(kept.data(LISTED, {"statuses": statuses}))
            truth = loop.run_until_complete(reference.data(LISTED, {"statuses": statuses}))
            assert answer == truth, statuses
    finally:
        loop.close()
    assert len(kept.graph.driver_templates) == 0
    assert kept.graph.templates.hits == 3


async def test_a_bound_template_runs_on_the_event_loop(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog, binds: list[int]
) -> None:
    """While the app runs, a lookup of another key runs its bound text on the event loop:
    no statement through the engine, the reference path's answer. A lock held past the
    time limit answers TIMEOUT, once: the statement does not run again on the thread."""
    if seeded_db.backend != "postgresql":
        pytest.skip("the event loop's reader is PostgreSQL's")
    api = Api(seeded_db, spec, catalog, Settings(max_nodes=10**15, statement_timeout_s=0.5))
    _, _, reference = _apis(seeded_db, spec, catalog)
    rows = await reference.data("{ executionLogs(orderBy: [{id: ASC}], limit: 4) { executionId } }")
    keys = [row["executionId"] for row in rows["executionLogs"]]
    reader = api.graph.async_reader
    assert reader is not None
    ran: list[float] = []
    async with api.app.router.lifespan_context(api.app):
        assert reader.ready
        reader.on_statement = ran.append
        assert (await api.data(LOOKUP, {"id": keys[0]}))["executionLog"]  # built, on the thread
        assert ran == []
        for key in keys[1:3]:
            with api.counter.watching(seeded_db.engine) as counter:
                answer = await api.data(LOOKUP, {"id": key})
            assert answer == await reference.data(LOOKUP, {"id": key})
            assert counter.count == 0, counter.statements
        assert len(ran) == 2 and binds[0] == 2

        with seeded_db.engine.connect() as holder:
            holder.exec_driver_sql("LOCK TABLE memory_execution_logs IN ACCESS EXCLUSIVE MODE")
            with api.counter.watching(seeded_db.engine) as counter:
                body = orjson.loads(
                    (
                        await api.raw_post(
                            orjson.dumps({"query": LOOKUP, "variables": {"id": keys[3]}})
                        )
                    ).content
                )
            holder.rollback()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["TIMEOUT"], body
        assert "GRAPH_STATEMENT_TIMEOUT_S" in body["errors"][0]["message"]
        assert counter.count == 0, counter.statements
        assert (await api.data(LOOKUP, {"id": keys[3]}))["executionLog"]["executionId"] == keys[3]
