"""Relation rules under writes (`on_missing`, `on_delete`), on both databases.

The shipped relations.yaml gives reject, restrict and set_null; the kit spec (tests/writes.py)
adds cascade (a chain closed into a cycle) and a restrict relation whose `to` column is not
unique. Every refused write leaves the row counts of the tables it touched as they were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from graph.settings import Settings
from graph.spec import Spec
from graph.sql.engine import build_engine
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import BACKENDS, TestDatabase
from tests.writes import (
    api_for,
    column,
    count,
    counts,
    empty_tables,
    kit_spec,
    problems,
    refused_unchanged,
    shared_database,
)
from tests.writes import (
    log as failed_deploy,
)


@pytest.fixture
def api(shipped_db: TestDatabase, spec: Spec, catalog: Catalog) -> Api:
    """The API over the shipped spec's tables (tests/conftest.py), emptied for this test."""
    empty_tables(shipped_db, spec, catalog)
    return api_for(shipped_db, spec, catalog)


@pytest.fixture(scope="module")
def kit_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Spec, Catalog]:
    return kit_spec(tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module", params=BACKENDS)
def kit_db(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    kit_world: tuple[Spec, Catalog],
) -> Iterator[TestDatabase]:
    with shared_database(request.param, tmp_path_factory.mktemp("kit_db"), kit_world[1]) as db:
        yield db


@pytest.fixture
def kit(kit_db: TestDatabase, kit_world: tuple[Spec, Catalog]) -> Api:
    """The API over the kit spec's tables, emptied for this test."""
    empty_tables(kit_db, *kit_world)
    return api_for(kit_db, *kit_world)


def insert(type_plural: str, type_name: str, fields: str = "affectedCount") -> str:
    return (
        f"mutation($rows: [{type_name}Insert!]!) {{ insert{type_plural}(rows: $rows) "
        f"{{ {fields} }} }}"
    )


def delete(type_plural: str, type_name: str, fields: str = "affectedCount") -> str:
    return (
        f"mutation($where: {type_name}Where!, $atMost: Int) {{ delete{type_plural}("
        f"where: $where, atMost: $atMost) {{ {fields} }} }}"
    )


def update(type_plural: str, type_name: str, fields: str = "affectedCount") -> str:
    return (
        f"mutation($where: {type_name}Where!, $set: {type_name}Set!) {{ update{type_plural}("
        f"where: $where, set: $set) {{ {fields} }} }}"
    )


def work_order(key: str, **fields: Any) -> dict[str, Any]:
    return {"workOrderId": key, "title": key, "taskType": "BUGFIX", **fields}


def ticket(key: str, **fields: Any) -> dict[str, Any]:
    return {"ticketId": key, "ticketType": "BUG", "title": key, **fields}


def log(key: str, **fields: Any) -> dict[str, Any]:
    return failed_deploy(key, **{"commandType": "REMEDIATE", "status": "SUCCEEDED", **fields})


def playbook(key: str) -> dict[str, Any]:
    return {"playbookName": key, "actions": [], "riskLevel": "LOW"}


def agent(key: str, **fields: Any) -> dict[str, Any]:
    return {"agentId": key, "agentName": key, "agentType": "WORKER", **fields}


async def add(api: Api, plural: str, name: str, *rows: dict[str, Any]) -> None:
    data = await api.data(insert(plural, name), {"rows": list(rows)})
    assert data[f"insert{plural}"]["affectedCount"] == len(rows)


# -- on_missing ---------------------------------------------------------------------------------


async def test_reject_refuses_a_dangling_scalar_link(api: Api) -> None:
    await add(api, "SubAgents", "SubAgent", agent("A1"))
    error = await refused_unchanged(
        api,
        insert("WorkOrders", "WorkOrder"),
        {
            "rows": [
                work_order("WO-1", assignedAgentId="A1"),
                work_order("WO-2", assignedAgentId="ghost"),
            ]
        },
        "MISSING_LINK_TARGET",
        ("coding_agent", "sub_agents"),
    )
    assert problems(error) == [
        (
            "rows[1].assignedAgentId",
            "no SubAgent has agentId 'ghost' (relation assigned_agent, on_missing: reject)",
        )
    ]
    # An update that would make the link dangle: refused, the value stays.
    await add(api, "WorkOrders", "WorkOrder", work_order("WO-1", assignedAgentId="A1"))
    error = await refused_unchanged(
        api,
        update("WorkOrders", "WorkOrder"),
        {"where": {"workOrderId": {"eq": "WO-1"}}, "set": {"assignedAgentId": "A9"}},
        "MISSING_LINK_TARGET",
        ("coding_agent",),
    )
    assert problems(error) == [
        (
            "set.assignedAgentId",
            "no SubAgent has agentId 'A9' (relation assigned_agent, on_missing: reject)",
        )
    ]
    assert column(api, "coding_agent", "assigned_agent_id") == ["A1"]


async def test_reject_refuses_a_dangling_list_element(api: Api) -> None:
    await add(api, "WorkOrders", "WorkOrder", work_order("WO-1"), work_order("WO-2"))
    error = await refused_unchanged(
        api,
        insert("FeedbackTickets", "FeedbackTicket"),
        {
            "rows": [
                ticket("T-1", linkedWorkOrders=["WO-1"]),
                ticket("T-2", linkedWorkOrders=["WO-2", "WO-9", "WO-1"]),
            ]
        },
        "MISSING_LINK_TARGET",
        ("feedback", "coding_agent"),
    )
    assert problems(error) == [
        (
            "rows[1].linkedWorkOrders",
            "no WorkOrder has workOrderId 'WO-9' (relation work_orders, on_missing: reject)",
        )
    ]
    assert "rows[1].linkedWorkOrders" in error["message"] and "'WO-9'" in error["message"]


async def test_reject_accepts_targets_of_the_same_write(api: Api) -> None:
    """The check runs after the rows are in: a parent and its child may come in one batch,
    and a null link or an empty list names nothing."""
    await add(
        api,
        "SubAgents",
        "SubAgent",
        agent("child", parentAgentId="root"),
        agent("root"),
        agent("orphan", parentAgentId=None),
    )
    await add(api, "FeedbackTickets", "FeedbackTicket", ticket("T-1", linkedWorkOrders=[]))
    data = await api.data('{ subAgent(agentId: "child") { parent { agentId } } }')
    assert data == {"subAgent": {"parent": {"agentId": "root"}}}


async def test_allow_stores_a_dangling_link(api: Api) -> None:
    data = await api.data(
        insert("ExecutionLogs", "ExecutionLog", "rows { executionId playbook { playbookName } }"),
        {"rows": [log("E1", linkedPlaybookId="not-yet")]},
    )
    assert data["insertExecutionLogs"]["rows"] == [{"executionId": "E1", "playbook": None}]
    assert column(api, "execution_logs", "linked_playbook_id") == ["not-yet"]
    # Once the playbook exists, the link reads.
    await add(api, "Playbooks", "Playbook", playbook("not-yet"))
    data = await api.data("{ executionLogs { playbook { playbookName } } }")
    assert data == {"executionLogs": [{"playbook": {"playbookName": "not-yet"}}]}


# -- on_delete ---------------------------------------------------------------------------------


async def test_restrict_refuses_deleting_a_playbook_with_runs(api: Api) -> None:
    await add(api, "Playbooks", "Playbook", playbook("P"), playbook("Q"))
    await add(
        api,
        "ExecutionLogs",
        "ExecutionLog",
        log("E1", linkedPlaybookId="P"),
        log("E2", linkedPlaybookId="P"),
    )
    error = await refused_unchanged(
        api,
        delete("Playbooks", "Playbook"),
        {"where": {"playbookName": {"in": ["P", "Q"]}}},
        "RESTRICTED",
        ("self_healing", "execution_logs"),
    )
    assert error["message"].startswith("2 ExecutionLogs still link to Playbook playbookName 'P'"), (
        error
    )
    assert "through relation playbook (on_delete: restrict)" in error["message"]
    assert column(api, "self_healing", "playbook_name") == ["P", "Q"]
    # Q has no runs: it may go; P stays until its runs stop naming it.
    data = await api.data(delete("Playbooks", "Playbook"), {"where": {"playbookName": {"eq": "Q"}}})
    assert data["deletePlaybooks"]["affectedCount"] == 1
    await api.data(
        update("ExecutionLogs", "ExecutionLog"),
        {"where": {"linkedPlaybookId": {"eq": "P"}}, "set": {"linkedPlaybookId": "gone"}},
    )
    data = await api.data(delete("Playbooks", "Playbook"), {"where": {"playbookName": {"eq": "P"}}})
    assert data["deletePlaybooks"]["affectedCount"] == 1
    assert count(api, "self_healing") == 0 and count(api, "execution_logs") == 2


async def test_restricted_names_only_the_values_rows_link_to(api: Api) -> None:
    await add(api, "Playbooks", "Playbook", playbook("P"), playbook("Q"))
    await add(api, "ExecutionLogs", "ExecutionLog", log("E1", linkedPlaybookId="P"))
    error = await refused_unchanged(
        api,
        delete("Playbooks", "Playbook"),
        {"where": {"playbookName": {"in": ["P", "Q"]}}},
        "RESTRICTED",
        ("self_healing", "execution_logs"),
    )
    assert error["message"] == (
        "1 ExecutionLog still links to Playbook playbookName 'P' through relation playbook "
        "(on_delete: restrict); nothing was changed"
    )


async def test_restrict_refuses_renaming_a_linked_value(api: Api) -> None:
    await add(api, "Playbooks", "Playbook", playbook("P"), playbook("Q"))
    await add(api, "ExecutionLogs", "ExecutionLog", log("E1", linkedPlaybookId="P"))
    error = await refused_unchanged(
        api,
        update("Playbooks", "Playbook"),
        {"where": {"playbookName": {"eq": "P"}}, "set": {"playbookName": "P2"}},
        "RESTRICTED",
        ("self_healing", "execution_logs"),
    )
    assert "1 ExecutionLog still links to Playbook playbookName 'P'" in error["message"]
    assert column(api, "self_healing", "playbook_name") == ["P", "Q"]
    # Other fields of P change freely, and Q (no runs) may be renamed.
    await api.data(
        update("Playbooks", "Playbook"),
        {"where": {"playbookName": {"eq": "P"}}, "set": {"owner": "ops"}},
    )
    await api.data(
        update("Playbooks", "Playbook"),
        {"where": {"playbookName": {"eq": "Q"}}, "set": {"playbookName": "Q2"}},
    )
    assert column(api, "self_healing", "playbook_name") == ["P", "Q2"]


async def test_set_null_renaming_is_restricted_too(api: Api) -> None:
    """Renaming a work order that a ticket lists would leave the ticket naming nothing."""
    await add(api, "WorkOrders", "WorkOrder", work_order("WO-1"))
    await add(api, "FeedbackTickets", "FeedbackTicket", ticket("T-1", linkedWorkOrders=["WO-1"]))
    error = await refused_unchanged(
        api,
        update("WorkOrders", "WorkOrder"),
        {"where": {"workOrderId": {"eq": "WO-1"}}, "set": {"workOrderId": "WO-1b"}},
        "RESTRICTED",
        ("coding_agent", "feedback"),
    )
    assert "on_delete: set_null" in error["message"]
    assert column(api, "coding_agent", "work_order_id") == ["WO-1"]


async def test_allow_deletes_and_leaves_the_linking_rows(api: Api) -> None:
    # execution_logs.component -> feedback.affected_component keeps the defaults.
    await add(
        api, "FeedbackTickets", "FeedbackTicket", ticket("T-1", affectedComponent="billing-api")
    )
    await add(api, "ExecutionLogs", "ExecutionLog", log("E1"))
    before = await api.data("{ executionLogs { relatedFeedback { ticketId } } }")
    assert before == {"executionLogs": [{"relatedFeedback": [{"ticketId": "T-1"}]}]}
    data = await api.data(
        delete("FeedbackTickets", "FeedbackTicket"), {"where": {"ticketId": {"eq": "T-1"}}}
    )
    assert data["deleteFeedbackTickets"]["affectedCount"] == 1
    assert column(api, "execution_logs", "component") == ["billing-api"]
    after = await api.data("{ executionLogs { relatedFeedback { ticketId } } }")
    assert after == {"executionLogs": [{"relatedFeedback": []}]}


async def test_set_null_clears_a_scalar_link(api: Api) -> None:
    await add(api, "SubAgents", "SubAgent", agent("A1"), agent("A2"))
    await add(
        api,
        "WorkOrders",
        "WorkOrder",
        work_order("WO-1", assignedAgentId="A1"),
        work_order("WO-2", assignedAgentId="A2"),
        work_order("WO-3", assignedAgentId="A1"),
    )
    data = await api.data(
        delete(
            "SubAgents",
            "SubAgent",
            "affectedCount rows { agentId assignedWorkOrders { workOrderId } }",
        ),
        {"where": {"agentId": {"eq": "A1"}}},
    )
    # The deleted row as it was, links included.
    assert data["deleteSubAgents"] == {
        "affectedCount": 1,
        "rows": [
            {
                "agentId": "A1",
                "assignedWorkOrders": [{"workOrderId": "WO-1"}, {"workOrderId": "WO-3"}],
            }
        ],
    }
    assert column(api, "coding_agent", "assigned_agent_id") == [None, "A2", None]
    assert count(api, "coding_agent") == 3


async def test_set_null_removes_only_the_gone_element_of_a_list(api: Api) -> None:
    await add(
        api, "WorkOrders", "WorkOrder", work_order("WO-1"), work_order("WO-2"), work_order("WO-3")
    )
    await add(
        api,
        "FeedbackTickets",
        "FeedbackTicket",
        ticket("T-1", linkedWorkOrders=["WO-1", "WO-2", "WO-3"]),
        ticket("T-2", linkedWorkOrders=["WO-1"]),
        ticket("T-3", linkedWorkOrders=["WO-3"]),
    )
    data = await api.data(
        delete("WorkOrders", "WorkOrder"), {"where": {"workOrderId": {"eq": "WO-1"}}}
    )
    assert data["deleteWorkOrders"]["affectedCount"] == 1
    assert column(api, "feedback", "linked_work_orders") == [["WO-2", "WO-3"], [], ["WO-3"]]
    tickets = await api.data("{ feedbackTickets { ticketId workOrders { workOrderId } } }")
    assert tickets["feedbackTickets"][0]["workOrders"] == [
        {"workOrderId": "WO-2"},
        {"workOrderId": "WO-3"},
    ]
    assert count(api, "feedback") == 3


# -- the kit spec: a non-unique `to`, cascade ------------------------------------------------


async def test_restrict_holds_only_when_the_value_is_gone(kit: Api) -> None:
    """Two anchors share the group a pin names: deleting one leaves the value held."""
    await add(
        kit,
        "Anchors",
        "Anchor",
        {"name": "x", "grp": "g"},
        {"name": "y", "grp": "g"},
        {"name": "z", "grp": "h"},
    )
    await add(kit, "Pins", "Pin", {"name": "pin", "groupRef": "g"})
    data = await kit.data(delete("Anchors", "Anchor"), {"where": {"name": {"eq": "x"}}})
    assert data["deleteAnchors"]["affectedCount"] == 1
    # Moving y out of the group would take the value away: refused like a delete.
    await refused_unchanged(
        kit,
        update("Anchors", "Anchor"),
        {"where": {"name": {"eq": "y"}}, "set": {"grp": "h"}},
        "RESTRICTED",
        ("anchors", "pins"),
    )
    error = await refused_unchanged(
        kit,
        delete("Anchors", "Anchor"),
        {"where": {"name": {"in": ["y", "z"]}}},
        "RESTRICTED",
        ("anchors", "pins"),
    )
    assert "1 Pin still links to Anchor grp 'g'" in error["message"]
    assert column(kit, "anchors", "name") == ["y", "z"]


async def test_an_upsert_may_not_take_away_a_linked_value(kit: Api) -> None:
    await add(kit, "Anchors", "Anchor", {"name": "x", "grp": "g"})
    await add(kit, "Pins", "Pin", {"name": "pin", "groupRef": "g"})
    await refused_unchanged(
        kit,
        'mutation { insertAnchors(rows: [{name: "x", grp: "h"}], '
        "onConflict: {update: [grp]}) { affectedCount } }",
        None,
        "RESTRICTED",
        ("anchors", "pins"),
    )
    assert column(kit, "anchors", "grp") == ["g"]


async def test_cascade_follows_the_chain_and_ends_on_a_cycle(kit: Api) -> None:
    # a1 <- b1 <- l1, and a1.nextLeaf = l1 closes the cycle; a2 hangs on l1 too, and b2
    # on a2. a3 and b3 are elsewhere.
    await add(
        kit,
        "Anchors",
        "Anchor",
        {"name": "a1", "nextLeaf": "l1"},
        {"name": "a2", "nextLeaf": "l1"},
        {"name": "a3"},
    )
    await add(
        kit,
        "Branches",
        "Branch",
        {"name": "b1", "anchorName": "a1"},
        {"name": "b2", "anchorName": "a2"},
        {"name": "b3", "anchorName": "a3"},
    )
    await add(
        kit,
        "Leaves",
        "Leaf",
        {"name": "l1", "branchName": "b1"},
        {"name": "l2", "branchName": "b2"},
        {"name": "l3", "branchName": "b3"},
    )
    data = await kit.data(
        delete("Anchors", "Anchor", "affectedCount rows { name branches { name } }"),
        {"where": {"name": {"eq": "a1"}}},
    )
    # The result lists the rows asked for; the cascade took the rest with them.
    assert data["deleteAnchors"] == {
        "affectedCount": 1,
        "rows": [{"name": "a1", "branches": [{"name": "b1"}]}],
    }
    assert column(kit, "anchors", "name") == ["a3"]
    assert column(kit, "branches", "name") == ["b3"]
    assert column(kit, "leaves", "name") == ["l3"]


async def test_a_self_cycle_ends(kit: Api) -> None:
    """A leaf whose branch is anchored on an anchor pointing back at that leaf."""
    await add(kit, "Anchors", "Anchor", {"name": "a", "nextLeaf": "l"})
    await add(kit, "Branches", "Branch", {"name": "b", "anchorName": "a"})
    await add(kit, "Leaves", "Leaf", {"name": "l", "branchName": "b"})
    data = await kit.data(delete("Leaves", "Leaf"), {"where": {"name": {"eq": "l"}}})
    assert data["deleteLeaves"]["affectedCount"] == 1
    assert counts(kit, "anchors", "branches", "leaves") == {
        "anchors": 0,
        "branches": 0,
        "leaves": 0,
    }


async def test_cascade_into_a_restricted_row_refuses_the_whole_delete(kit: Api) -> None:
    await add(kit, "Anchors", "Anchor", {"name": "a1"}, {"name": "a2", "nextLeaf": "l1"})
    await add(kit, "Branches", "Branch", {"name": "b1", "anchorName": "a1"})
    await add(kit, "Leaves", "Leaf", {"name": "l1", "branchName": "b1"})
    # a2 is pinned: reaching it through a1 -> b1 -> l1 -> a2 stops everything.
    await add(kit, "Pins", "Pin", {"name": "pin", "anchorName": "a2"})
    error = await refused_unchanged(
        kit,
        delete("Anchors", "Anchor"),
        {"where": {"name": {"eq": "a1"}}},
        "RESTRICTED",
        ("anchors", "branches", "leaves", "pins"),
    )
    assert "1 Pin still links to Anchor name 'a2'" in error["message"]


async def test_kit_reject_names_the_missing_value(kit: Api) -> None:
    error = await refused_unchanged(
        kit,
        insert("Pins", "Pin"),
        {"rows": [{"name": "p", "anchorName": "nowhere"}]},
        "MISSING_LINK_TARGET",
        ("pins", "anchors"),
    )
    assert problems(error) == [
        ("rows[0].anchorName", "no Anchor has name 'nowhere' (relation anchor, on_missing: reject)")
    ]


# -- concurrent writers --------------------------------------------------------------------------


@pytest.fixture
def second_engine(api: Api) -> Iterator[TestDatabase]:
    """The same database through another engine: another pool, other connections."""
    engine = build_engine(api.db.url, pool_size=4)
    try:
        yield TestDatabase(api.db.backend, api.db.url, engine)
    finally:
        engine.dispose()


def _outcome(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    if not errors:
        return "ok"
    (error,) = errors
    code: str = error["extensions"]["code"]
    return code


async def test_concurrent_links_and_delete_never_leave_a_dangling_link(
    api: Api, second_engine: TestDatabase
) -> None:
    """insights.prompt_name -> prompts.prompt_name: on_missing reject, on_delete restrict.
    16 clients insert insights naming prompt P while another client deletes P. Whatever the
    interleaving, no insight may end up naming a prompt that is gone, and every client gets
    success or a coded refusal."""
    deleter = api_for(second_engine, api.graph.spec, api.graph.catalog)
    insight_q = insert("Insights", "Insight")
    delete_q = delete("Prompts", "Prompt")
    for round_no, position in enumerate((0, 8, 16)):
        prompt = f"P{round_no}"
        await add(
            api,
            "Prompts",
            "Prompt",
            {"promptName": prompt, "category": "SUMMARIZATION", "promptTemplate": "t"},
        )
        calls = [
            api.post(
                insight_q,
                {
                    "rows": [
                        {
                            "insightId": f"{prompt}-I{i}",
                            "title": "t",
                            "content": "c",
                            "insightType": "SUMMARY",
                            "promptName": prompt,
                        }
                    ]
                },
            )
            for i in range(16)
        ]
        calls.insert(position, deleter.post(delete_q, {"where": {"promptName": {"eq": prompt}}}))
        bodies = await asyncio.gather(*calls)
        deleted = _outcome(bodies[position])
        inserted = [_outcome(b) for i, b in enumerate(bodies) if i != position]
        assert deleted in ("ok", "RESTRICTED"), bodies[position]
        assert set(inserted) <= {"ok", "MISSING_LINK_TARGET"}, inserted
        prompts = column(api, "prompts", "prompt_name")
        names = [n for n in column(api, "insights", "prompt_name") if n == prompt]
        assert len(names) == inserted.count("ok")
        if deleted == "ok":
            # Gone: no insight may name it, so every insert failed (before: RESTRICTED).
            assert prompt not in prompts and names == []
        else:
            assert prompt in prompts and names
    # No dangling link at all.
    assert set(column(api, "insights", "prompt_name")) <= set(column(api, "prompts", "prompt_name"))


async def test_concurrent_runs_and_delete_of_their_playbook(
    api: Api, second_engine: TestDatabase
) -> None:
    """execution_logs -> playbooks: on_missing allow, on_delete restrict. A log may name a
    playbook that is gone only when it was written after the delete: the delete succeeds
    only if no log that names the playbook was committed before it."""
    # 17 writes at once, each waiting for SQLite's one write lock on a busy machine: room for
    # all of them in flight, so that load shedding (tests/security/test_admission.py) does not
    # answer some with 503 before the rules under test are reached. The bound stays fixed: in
    # a test the process's CPU is busy with the client too, and would lower it.
    roomy = Settings(max_in_flight=32, adaptive_in_flight=False)
    writer = api_for(api.db, api.graph.spec, api.graph.catalog, roomy)
    deleter = api_for(second_engine, api.graph.spec, api.graph.catalog, roomy)
    await add(api, "Playbooks", "Playbook", playbook("P"))
    calls = [
        writer.post(
            insert("ExecutionLogs", "ExecutionLog"), {"rows": [log(f"E{i}", linkedPlaybookId="P")]}
        )
        for i in range(16)
    ]
    calls.insert(
        8, deleter.post(delete("Playbooks", "Playbook"), {"where": {"playbookName": {"eq": "P"}}})
    )
    bodies = await asyncio.gather(*calls)
    outcomes = [_outcome(b) for b in bodies]
    assert outcomes[8] in ("ok", "RESTRICTED"), bodies[8]
    assert all(o == "ok" for i, o in enumerate(outcomes) if i != 8), outcomes
    assert count(api, "execution_logs") == 16
    assert (count(api, "self_healing") == 0) == (outcomes[8] == "ok")
