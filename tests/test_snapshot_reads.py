"""One snapshot per operation: every statement of a query sees the same committed state, and a
mutation hands back what it committed, on both databases.

A write is slipped in between the statements of one query: a listener on the engine commits it
through another engine right after the query's first SELECT has run. The query's answer must be
the state before that write, in every root field and at every relation level.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, insert

from graph.spec import Spec
from graph.sql.engine import build_engine
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase
from tests.writes import api_for, column, counts, empty_tables, refused_unchanged

READ = """
{
  playbooks(orderBy: [{playbookName: ASC}]) {
    playbookName
    executions(orderBy: [{executionId: ASC}]) { executionId playbook { playbookName } }
  }
  playbooksConnection { totalCount }
  executionLogs(orderBy: [{executionId: ASC}]) { executionId playbook { playbookName } }
  executionLogsConnection { totalCount edges { node { executionId } } }
}
"""


@pytest.fixture
def api(shipped_db: TestDatabase, spec: Spec, catalog: Catalog) -> Api:
    """The API over the shipped spec's tables (tests/conftest.py), emptied for this test."""
    empty_tables(shipped_db, spec, catalog)
    return api_for(shipped_db, spec, catalog)


@pytest.fixture
def other(api: Api) -> Iterator[TestDatabase]:
    """Another engine on the same database: its writes are another client's."""
    engine = build_engine(api.db.url, pool_size=2)
    try:
        yield TestDatabase(api.db.backend, api.db.url, engine)
    finally:
        engine.dispose()


def playbook(key: str) -> dict[str, Any]:
    return {"playbookName": key, "actions": [], "riskLevel": "LOW"}


def log(key: str, playbook_name: str) -> dict[str, Any]:
    return {
        "executionId": key,
        "commandType": "REMEDIATE",
        "component": "billing-api",
        "status": "SUCCEEDED",
        "linkedPlaybookId": playbook_name,
    }


async def seed(api: Api) -> None:
    await api.data(
        "mutation($p: [PlaybookInsert!]!, $l: [ExecutionLogInsert!]!) { "
        "insertPlaybooks(rows: $p) { affectedCount } "
        "insertExecutionLogs(rows: $l) { affectedCount } }",
        {
            "p": [playbook("p1"), playbook("p2")],
            "l": [log("E1", "p1"), log("E2", "p2"), log("E3", "p1")],
        },
    )


class WriteBetween:
    """After the first SELECT on `engine`, commits rows through `other` (once)."""

    def __init__(self, api: Api, other: TestDatabase) -> None:
        self.api = api
        self.other = other
        self.statements: list[str] = []
        self.written_after = -1
        # What the reading transaction is, asked on its own connection.
        self.transaction: tuple[Any, ...] = ()

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)
        if self.written_after >= 0 or not statement.lstrip().upper().startswith("SELECT"):
            return
        driver = conn.connection.driver_connection
        if self.api.db.backend == "postgresql":
            probe = driver.cursor()
            probe.execute("SHOW transaction_isolation")
            isolation = probe.fetchone()[0]
            probe.execute("SHOW transaction_read_only")
            self.transaction = (isolation, probe.fetchone()[0])
            probe.close()
        else:
            self.transaction = (driver.in_transaction,)
        catalog = self.api.graph.catalog
        playbooks = catalog.table("self_healing")
        logs = catalog.table("execution_logs")
        with self.other.engine.begin() as write:
            write.execute(
                insert(playbooks).values(playbook_name="p0", actions=[], risk_level="low")
            )
            write.execute(
                insert(logs).values(
                    execution_id="E0",
                    command_type="remediate",
                    component="billing-api",
                    status="succeeded",
                    linked_playbook_id="p1",
                )
            )
        self.written_after = len(self.statements)


async def test_one_query_reads_one_snapshot(api: Api, other: TestDatabase) -> None:
    await seed(api)
    before = await api.data(READ)
    assert before["playbooksConnection"] == {"totalCount": 2}
    hook = WriteBetween(api, other)
    event.listen(api.db.engine, "after_cursor_execute", hook)
    try:
        during = await api.data(READ)
    finally:
        event.remove(api.db.engine, "after_cursor_execute", hook)
    # The write landed after the first statement, and the other root fields' statements (one
    # each, the compiled path's) ran after it.
    assert hook.written_after == 1
    if api.db.backend == "postgresql":
        assert hook.transaction == ("repeatable read", "on")
    else:
        assert hook.transaction == (True,)  # a deferred transaction, held open
    assert len(hook.statements) >= 4, hook.statements
    assert counts(api, "self_healing", "execution_logs") == {
        "self_healing": 3,
        "execution_logs": 4,
    }
    assert during == before
    # A new operation sees the write everywhere.
    after = await api.data(READ)
    assert after["playbooksConnection"] == {"totalCount": 3}
    assert after["executionLogsConnection"]["totalCount"] == 4
    (p1,) = [p for p in after["playbooks"] if p["playbookName"] == "p1"]
    assert [e["executionId"] for e in p1["executions"]] == ["E0", "E1", "E3"]


async def test_a_mutation_returns_what_it_committed(api: Api) -> None:
    await seed(api)
    data = await api.data(
        'mutation { updateExecutionLogs(where: {executionId: {eq: "E2"}}, '
        'set: {linkedPlaybookId: "p1"}) { affectedCount rows { executionId linkedPlaybookId '
        "playbook { playbookName executions(orderBy: [{executionId: ASC}]) "
        "{ executionId } } } } }"
    )
    returned = data["updateExecutionLogs"]["rows"]
    # Read inside the write's transaction: the relation levels see the change too.
    assert returned == [
        {
            "executionId": "E2",
            "linkedPlaybookId": "p1",
            "playbook": {
                "playbookName": "p1",
                "executions": [{"executionId": "E1"}, {"executionId": "E2"}, {"executionId": "E3"}],
            },
        }
    ]
    again = await api.data(
        '{ executionLogs(where: {executionId: {eq: "E2"}}) { executionId linkedPlaybookId '
        "playbook { playbookName executions(orderBy: [{executionId: ASC}]) "
        "{ executionId } } } }"
    )
    assert again["executionLogs"] == returned


async def test_a_failed_mutation_returns_no_data_and_leaves_nothing(api: Api) -> None:
    """Refusals found after the statements ran (a missing link target, a restricted delete):
    the transaction is rolled back, the field is null, nothing is left behind."""
    await seed(api)
    await api.data(
        'mutation { insertSubAgents(rows: [{agentId: "A1", agentName: "a", '
        "agentType: WORKER}]) { affectedCount } }"
    )
    tables = ("coding_agent", "sub_agents", "self_healing", "execution_logs")
    error = await refused_unchanged(
        api,
        'mutation { insertWorkOrders(rows: [{workOrderId: "WO-1", title: "t", '
        'taskType: BUGFIX, assignedAgentId: "A1"}, {workOrderId: "WO-2", title: "t", '
        'taskType: BUGFIX, assignedAgentId: "ghost"}]) { affectedCount rows { workOrderId } } }',
        None,
        "MISSING_LINK_TARGET",
        tables,
    )
    assert error["path"] == ["insertWorkOrders"]
    # The delete ran before the restriction was found: rolled back.
    await refused_unchanged(
        api,
        'mutation { deletePlaybooks(where: {playbookName: {in: ["p1", "p2"]}}) '
        "{ affectedCount rows { playbookName } } }",
        None,
        "RESTRICTED",
        tables,
    )
    assert column(api, "self_healing", "playbook_name") == ["p1", "p2"]
    # The rename ran before it was found to strand links: rolled back.
    await refused_unchanged(
        api,
        'mutation { updatePlaybooks(where: {playbookName: {eq: "p1"}}, '
        'set: {playbookName: "p9"}) { affectedCount } }',
        None,
        "RESTRICTED",
        tables,
    )
    assert column(api, "self_healing", "playbook_name") == ["p1", "p2"]
    assert column(api, "coding_agent", "work_order_id") == []
