"""Reading through the generated API: lists, lookups, traversal, and the SQL it costs."""

from __future__ import annotations

from typing import Any

import pytest

from graph.settings import Settings
from graph.spec import Spec
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase
from tests.rows import all_rows


@pytest.fixture
def reference(seeded_db: TestDatabase, spec: Spec, catalog: Catalog) -> Api:
    """The API without the compiled path: every relation level is a statement of its own
    (tests/test_compiled.py covers the compiled path: one statement per root field)."""
    return Api(seeded_db, spec, catalog, Settings(compiled=False))


TRAVERSAL = """
query Traversal($n: Int!) {
  executionLogs(where: {status: {eq: FAILED}}, orderBy: [{startedAt: DESC}], limit: $n) {
    executionId component startedAt
    playbook { playbookName successRate trustScore }
    workOrder { workOrderId title status }
    relatedFeedback(limit: 5, orderBy: [{ticketId: ASC}]) { ticketId title priority }
  }
}
"""


def _failed_logs(api: Api, catalog: Catalog) -> list[dict[str, Any]]:
    logs = [r for r in all_rows(api.db, catalog, "execution_logs") if r["status"] == "failed"]
    # Newest first, nulls last, then id: the order the API promises.
    dated = sorted(
        (r for r in logs if r["started_at"] is not None),
        key=lambda r: (-r["started_at"].timestamp(), r["id"]),
    )
    return dated + [r for r in logs if r["started_at"] is None]


async def test_traversal_matches_tables_and_costs_four_statements(
    reference: Api, api: Api, catalog: Catalog
) -> None:
    data, statements = await reference.counted(TRAVERSAL, {"n": 50})
    assert statements == 4  # logs, playbooks, work orders, tickets: not one per row
    compiled, one = await api.counted(TRAVERSAL, {"n": 50})
    assert compiled == data and one == 1
    logs = data["executionLogs"]
    expected = _failed_logs(api, catalog)[:50]
    assert [log["executionId"] for log in logs] == [r["execution_id"] for r in expected]
    playbooks = {r["playbook_name"]: r for r in all_rows(api.db, catalog, "self_healing")}
    orders = {r["work_order_id"]: r for r in all_rows(api.db, catalog, "coding_agent")}
    tickets = all_rows(api.db, catalog, "feedback")
    linked = 0
    for log, row in zip(logs, expected, strict=True):
        playbook = playbooks.get(row["linked_playbook_id"])
        assert (log["playbook"] or {}).get("playbookName") == (playbook or {}).get("playbook_name")
        order = orders.get(row["linked_work_order_id"])
        assert (log["workOrder"] or {}).get("title") == (order or {}).get("title")
        same = sorted(
            t["ticket_id"] for t in tickets if t["affected_component"] == row["component"]
        )
        assert [t["ticketId"] for t in log["relatedFeedback"]] == same[:5]
        linked += bool(log["playbook"]) + bool(log["relatedFeedback"])
    assert linked > 0, "sample data should link failed logs to playbooks and tickets"


async def test_statement_count_does_not_grow_with_rows(reference: Api, api: Api) -> None:
    _, few = await reference.counted(TRAVERSAL, {"n": 3})
    _, many = await reference.counted(TRAVERSAL, {"n": 200})
    assert few == many == 4
    _, few = await api.counted(TRAVERSAL, {"n": 3})
    _, many = await api.counted(TRAVERSAL, {"n": 200})
    assert few == many == 1


async def test_nested_levels_cost_one_statement_each(reference: Api, api: Api) -> None:
    query = """{ feedbackTickets(limit: 20) { ticketId workOrders(limit: 10) { workOrderId
        executions(limit: 10) { executionId playbook { playbookName } } } } }"""
    data, statements = await reference.counted(query)
    assert statements == 4
    assert await api.counted(query) == (data, 1)


async def test_lookup_by_key_and_by_id(api: Api, catalog: Catalog) -> None:
    row = all_rows(api.db, catalog, "feedback")[3]
    by_key = await api.data(
        "query($k: String!) { feedbackTicket(ticketId: $k) { id ticketId title } }",
        {"k": row["ticket_id"]},
    )
    assert by_key["feedbackTicket"] == {
        "id": str(row["id"]),
        "ticketId": row["ticket_id"],
        "title": row["title"],
    }
    by_id = await api.data(
        "query($i: BigInt!) { feedbackTicket(id: $i) { ticketId } }", {"i": row["id"]}
    )
    assert by_id["feedbackTicket"]["ticketId"] == row["ticket_id"]
    missing = await api.data('{ feedbackTicket(ticketId: "no-such-ticket") { id } }')
    assert missing["feedbackTicket"] is None


async def test_lookup_needs_exactly_one_argument(api: Api) -> None:
    error = await api.error("{ feedbackTicket { id } }")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await api.error('{ feedbackTicket(ticketId: "x", id: 1) { id } }')
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_list_relation_both_directions(api: Api, catalog: Catalog) -> None:
    """feedback.linked_work_orders is a list of keys; the reverse side finds tickets by it."""
    data = await api.data("""{ feedbackTickets(limit: 1000, orderBy: [{id: ASC}]) {
        ticketId linkedWorkOrders workOrders(limit: 40) { workOrderId } } }""")
    orders = {r["work_order_id"] for r in all_rows(api.db, catalog, "coding_agent")}
    for ticket in data["feedbackTickets"]:
        wanted = sorted(w for w in ticket["linkedWorkOrders"] or [] if w in orders)
        assert sorted(w["workOrderId"] for w in ticket["workOrders"]) == wanted
    reverse = await api.data("""{ workOrders(limit: 1000) { workOrderId
        feedbackTickets(limit: 40) { ticketId } } }""")
    tickets = all_rows(api.db, catalog, "feedback")
    for order in reverse["workOrders"]:
        wanted = sorted(
            t["ticket_id"]
            for t in tickets
            if order["workOrderId"] in (t["linked_work_orders"] or [])
        )
        assert sorted(t["ticketId"] for t in order["feedbackTickets"]) == wanted


async def test_self_relation_parent_and_children(api: Api, catalog: Catalog) -> None:
    data = await api.data("""{ subAgents(limit: 1000) { agentId parentAgentId
        parent { agentId } children(limit: 40) { agentId } } }""")
    agents = data["subAgents"]
    by_id = {a["agentId"]: a for a in agents}
    for agent in agents:
        assert (agent["parent"] or {}).get("agentId") == (
            agent["parentAgentId"] if agent["parentAgentId"] in by_id else None
        )
        kids = sorted(a["agentId"] for a in agents if a["parentAgentId"] == agent["agentId"])
        assert sorted(c["agentId"] for c in agent["children"]) == kids


async def test_relation_with_fixed_condition(api: Api, catalog: Catalog) -> None:
    """governance.subject_ref points at a work order only when subject_type is work_order."""
    data = await api.data("""{ governanceDecisions(limit: 1000) { decisionId subjectType
        subjectRef subjectWorkOrder { workOrderId } } }""")
    orders = {r["work_order_id"] for r in all_rows(api.db, catalog, "coding_agent")}
    hits = 0
    for decision in data["governanceDecisions"]:
        linked = decision["subjectWorkOrder"]
        if decision["subjectType"] == "WORK_ORDER" and decision["subjectRef"] in orders:
            assert linked == {"workOrderId": decision["subjectRef"]}
            hits += 1
        else:
            assert linked is None
    assert hits > 0


async def test_aliases_fragments_and_directives(reference: Api, api: Api) -> None:
    query = """
    query($skip: Boolean!) {
      recent: executionLogs(limit: 3, orderBy: [{id: ASC}]) { ...Log }
      oldest: executionLogs(limit: 2, orderBy: [{id: DESC}]) { id }
    }
    fragment Log on ExecutionLog {
      id
      ... on ExecutionLog { status }
      fixed: playbook @skip(if: $skip) { playbookName }
      first: relatedFeedback(limit: 1) { ticketId }
      two: relatedFeedback(limit: 2) { ticketId }
      __typename
    }"""
    data, statements = await reference.counted(query, {"skip": True})
    assert await api.counted(query, {"skip": True}) == (data, 2)  # one per root field
    assert len(data["recent"]) == 3 and len(data["oldest"]) == 2
    for log in data["recent"]:
        assert "fixed" not in log and log["__typename"] == "ExecutionLog"
        assert len(log["first"]) <= 1 and len(log["two"]) <= 2
        assert log["first"] == log["two"][:1]
    assert statements == 4  # two roots, and one statement per aliased relation


async def test_only_selected_columns_are_read(api: Api) -> None:
    with api.counter.watching(api.db.engine) as counter:
        await api.data("{ executionLogs(limit: 2) { executionId } }")
    sql = counter.statements[0]
    assert "execution_id" in sql and "stack_trace" not in sql and "resource_usage" not in sql
