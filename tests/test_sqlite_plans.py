"""SQLite reaches linked rows by their index, not by reading the linked table once per owner.

A relation through a list column (a ticket's `linked_work_orders`, holding work order ids)
asks, for each owner row, for the target rows whose key is one of the list's elements. Written
as EXISTS (an element equal to the target's key), SQLite evaluates it for every target row:
the README's traversal was 134 times slower on SQLite than on PostgreSQL at 200,000 logs
(docs/performance.md). Written as `key IN (the elements)`, it looks each element up in the
key's index. The plans below are SQLite's own (EXPLAIN QUERY PLAN) of the statements the API
sends, on both paths: compiled (one statement) and reference. The seed's rollups (counts of
the logs linked to each playbook, agent and trigger) must likewise read the logs by the link's
index.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from graph.seed.load import seed_database
from graph.settings import Settings
from graph.spec import Spec
from graph.sql import rollups
from graph.sql.compile import Compiler
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase, fresh_database
from tests.test_differential import FIXED_NOW

# The relation in a selection (the compiled path's one statement) and in a filter (EXISTS,
# on both paths).
DOCUMENTS = [
    "{ feedbackTickets(limit: 5) { ticketId workOrders(limit: 3) { workOrderId } } }",
    "{ feedbackTickets(where: {workOrders: {some: {linesAdded: {gt: 10}}}}) { ticketId } }",
]
# How SQLite's plans name the work orders: the table, or an alias of it.
WORK_ORDERS = ("memory_coding_work_orders", "coding_agent")


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[TestDatabase]:
    with fresh_database("sqlite", tmp_path) as db:
        yield db


@contextmanager
def recorded(db: TestDatabase, verb: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements starting with `verb` sent inside the block, with their parameters."""
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if statement.lstrip().upper().startswith(verb):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


async def sent(api: Api, db: TestDatabase, document: str) -> list[tuple[str, Any]]:
    """The SELECT statements one request sends, with their parameters."""
    with recorded(db, "SELECT") as statements:
        answer = await api.post(document)
    assert "errors" not in answer, answer
    return statements


def plan_lines(db: TestDatabase, statement: str, parameters: Any) -> list[str]:
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return [str(row[-1]) for row in rows]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "reference"])
async def test_a_list_column_link_is_an_index_lookup(
    sqlite_db: TestDatabase, spec: Spec, catalog: Catalog, compiled: bool, document: str
) -> None:
    create_schema(sqlite_db.engine, catalog)
    api = Api(sqlite_db, spec, catalog, Settings(compiled=compiled))
    statements = await sent(api, sqlite_db, document)
    lines = [line for statement in statements for line in plan_lines(sqlite_db, *statement)]
    reads = [line for line in lines if any(name in line for name in WORK_ORDERS)]
    if not compiled and "some" not in document:
        # The reference path reads linked rows in a statement of their own, by the owners'
        # link values: none here, in an empty database.
        assert not reads, lines
        return
    assert reads, lines
    # Every read of the work orders is a SEARCH by an index, none a SCAN of the table.
    assert all(line.startswith("SEARCH") for line in reads), lines


# The rollups the seed computes at its end (graph/seed/load.py), each a correlated count of
# the execution logs linked to a parent row; the logs' link column of each parent table.
ROLLUP_LINKS = {
    "sub_agents": "agent_id",
    "triggers": "trigger_name",
    "self_healing": "linked_playbook_id",
}


@pytest.mark.parametrize("table", sorted(ROLLUP_LINKS))
def test_the_seeds_rollups_read_the_logs_by_their_link(
    sqlite_db: TestDatabase, spec: Spec, catalog: Catalog, table: str
) -> None:
    """After seeding, the rollups' counts find each parent's logs by the link's index. With
    no statistics SQLite's planner took the status index instead (its filter names a few
    statuses), reading every log of those statuses per parent: the seed's time grew with the
    square of the scale (207-238 s at scale 1000). The seed now runs ANALYZE first."""
    create_schema(sqlite_db.engine, catalog)
    seed_database(sqlite_db.engine, catalog, scale=20, seed=7, if_empty=False, progress=False)
    with recorded(sqlite_db, "UPDATE") as updates, sqlite_db.engine.begin() as conn:
        rollups.refresh_all(conn, Compiler(catalog, "sqlite"), spec.table(table), FIXED_NOW)
    (statement,) = updates
    lines = plan_lines(sqlite_db, *statement)
    reads = [line for line in lines if "memory_execution_logs" in line]
    assert reads, lines
    link = ROLLUP_LINKS[table]
    assert all(f"INDEX ix_memory_execution_logs_{link}" in line for line in reads), lines
