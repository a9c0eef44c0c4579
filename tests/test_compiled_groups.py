"""Relation aggregates in compiled answers (graph/gql/compiled_groups.py): the rows' one
statement and one statement per aggregate field, answering byte for byte what the reference
path answers, errors included, on SQLite and PostgreSQL. The generated documents of the
relation-aggregate differential are compared with the reference path in
tests/test_group_encoder.py and with the independent model in
tests/test_aggregate_relations_differential.py; these are hand-picked ones.
"""

from __future__ import annotations

import pytest

from graph.settings import Settings
from tests import test_differential as differential
from tests.api import Api
from tests.test_compiled import body, compiled_api, same_bytes
from tests.test_differential import FIXED_NOW, Backend, World

# The differential test's world (its databases and adversarial rows), as fixtures here too.
world = differential.world
own_loop = differential.own_loop

# Aggregates at the root's rows, below a to-many relation, below a to-one relation (the same
# playbook under several runs), in a lookup, in a lookup that finds nothing; aliases of one
# aggregate with other arguments, per-parent limits, a fragment and __typename.
DOCUMENT = """
query($status: ExecutionLogStatus!) {
  playbooks(orderBy: [{playbookName: ASC}], limit: 25) {
    playbookName
    executionsAggregate { count p95: percentile(p: 0.95) { durationMs } }
    failed: executionsAggregate(where: {status: {eq: $status}}) { ...Counted }
    byStatus: executionsAggregate(groupBy: [{field: STATUS}], orderBy: [{count: DESC}],
                                  limit: 2, offset: 1) { key { status } count }
    executions(orderBy: [{startedAt: DESC}], limit: 3) {
      executionId
      relatedFeedbackAggregate { count max { priority } }
      playbook { playbookName executionsAggregate { count } }
    }
  }
  log: executionLog(id: 2) {
    executionId
    relatedFeedbackAggregate(groupBy: [{field: STATUS}]) { __typename key { status } count }
  }
  none: executionLog(executionId: "no such run") { relatedFeedbackAggregate { count } }
}
fragment Counted on ExecutionLogGroup { count avg { durationMs } min { startedAt } }
"""
# Statements per root field: its rows' one, and one per aggregate field of rows it found
# that the rows' statement does not build (graph/gql/inline_groups.py): the playbooks' two
# ungrouped ones it builds (grouped once, joined to up to 25 playbooks), and the lookup's
# grouped one (one row, grouped by an enum); not the playbooks' grouped one (more than 20
# parents), nor those of the 75 runs below them (more parents than it builds groups for
# below a relation).
STATEMENTS = {"playbooks": 4, "log": 1, "none": 1}


def test_relation_aggregates_are_compiled_and_the_same_bytes(world: World) -> None:
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    for status in ("FAILED", "SUCCEEDED"):
        same_bytes(world, DOCUMENT, {"status": status})
    for backend in world.backends:
        api = compiled_api(backend)
        with api.counter.watching(backend.db.engine) as counter:
            answer = world.loop.run_until_complete(api.post(DOCUMENT, {"status": "FAILED"}))
        assert "errors" not in answer, answer
        assert answer["extensions"]["paths"] == dict.fromkeys(STATEMENTS, "compiled")
        assert counter.count == sum(STATEMENTS.values()), counter.statements
        data = answer["data"]
        assert data["none"] is None and data["log"]["relatedFeedbackAggregate"]
        assert all(p["executionsAggregate"][0]["count"] >= 0 for p in data["playbooks"])
        assert any(
            e["relatedFeedbackAggregate"] for p in data["playbooks"] for e in p["executions"]
        )


def limited_api(backend: Backend, *, compiled: bool, max_groups: int = 1) -> Api:
    """An app allowing `max_groups` groups, with or without the compiled path."""
    graph = backend.api.graph
    settings = Settings(max_nodes=10**15, max_groups=max_groups, compiled=compiled)
    return Api(backend.db, graph.spec, graph.catalog, settings, clock=lambda: FIXED_NOW)


def test_too_many_groups_is_the_reference_paths_error(world: World) -> None:
    """More groups than GRAPH_MAX_GROUPS over the parent rows: both paths answer the same
    LIMIT_EXCEEDED error at the root field, from the aggregate met first in the reference
    path's order (below the relations first)."""
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    document = """{ playbooks(limit: 5) { playbookName
        executionsAggregate(groupBy: [{field: STATUS}]) { count }
        executions(limit: 2) { relatedFeedbackAggregate(groupBy: [{field: STATUS}]) { count } }
    } }"""
    for backend in world.backends:
        fast = limited_api(backend, compiled=True)
        slow = limited_api(backend, compiled=False)
        expected = body(slow, world, document, {})
        assert body(fast, world, document, {}) == expected
        assert b"LIMIT_EXCEEDED" in expected, expected


# A connection's nodes and edges with relation aggregates, one selection written two ways
# (equal Shapes whose groups are written with other keys); `first` filled in.
CONNECTION = """
{
  playbooksConnection(orderBy: [{playbookName: DESC}], first: %d) {
    totalCount
    nodes { playbookName executionsAggregate { count } }
    edges {
      cursor
      node {
        playbookName
        executionsAggregate { n: count }
        executions(limit: 2) { executionId relatedFeedbackAggregate { count } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def test_a_connections_relation_aggregates_are_compiled_and_the_same_bytes(world: World) -> None:
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    # A page of 7 rows read (and 14 runs below them) builds every group in its statement
    # (graph/gql/inline_groups.py); a page of 26 joins its nodes' groups to its rows, and
    # the 52 runs below them take one statement more for theirs.
    for first, statements in ((6, 1), (25, 2)):
        document = CONNECTION % first
        same_bytes(world, document, {})
        for backend in world.backends:
            api = compiled_api(backend)
            with api.counter.watching(backend.db.engine) as counter:
                answer = world.loop.run_until_complete(api.post(document, {}))
            assert "errors" not in answer, answer
            assert answer["extensions"]["paths"] == {"playbooksConnection": "compiled"}
            assert counter.count == statements, counter.statements
            found = answer["data"]["playbooksConnection"]
            assert [node["executionsAggregate"][0]["count"] for node in found["nodes"]] == [
                edge["node"]["executionsAggregate"][0]["n"] for edge in found["edges"]
            ]


def test_too_many_groups_counts_the_rows_answered(world: World) -> None:
    """GRAPH_MAX_GROUPS counts the groups of the parent rows in the answer. Below a relation
    through a list column paged per ticket (`workOrders(limit: 1)`, paged in Python by the
    reference path), the rows the page cut are not parents: both paths answer with exactly as
    many groups allowed as the answer holds, and refuse one fewer."""
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    document = """{ feedbackTickets(orderBy: [{ticketId: ASC}], limit: 60) { ticketId
        workOrders(orderBy: [{workOrderId: ASC}], limit: 1) { workOrderId
            executionsAggregate(groupBy: [{field: STATUS}]) { count } } } }"""
    every = "{ feedbackTickets(orderBy: [{ticketId: ASC}], limit: 60) { workOrders { id } } }"
    for backend in world.backends:
        data = world.loop.run_until_complete(compiled_api(backend).post(document, {}))["data"]
        kept = {
            order["workOrderId"]: len(order["executionsAggregate"])
            for ticket in data["feedbackTickets"]
            for order in ticket["workOrders"]
        }
        groups = sum(kept.values())
        linked = world.loop.run_until_complete(compiled_api(backend).post(every, {}))["data"]
        # The page cut some linked work orders, which have runs of their own.
        assert any(len(t["workOrders"]) > 1 for t in linked["feedbackTickets"])
        assert groups > 1
        for allowed, refused in ((groups, False), (groups - 1, True)):
            answers = [
                body(
                    limited_api(backend, compiled=compiled, max_groups=allowed), world, document, {}
                )
                for compiled in (True, False)
            ]
            assert answers[0] == answers[1]
            assert (b"LIMIT_EXCEEDED" in answers[0]) is refused, (allowed, answers[0][:300])
