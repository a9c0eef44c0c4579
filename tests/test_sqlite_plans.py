"""SQLite reaches linked rows by their index, not by reading the linked table once per owner.

A relation through a list column (a ticket's `linked_work_orders`, holding work order ids)
asks, for each owner row, for the target rows whose key is one of the list's elements. Written
as EXISTS (an element equal to the target's key), SQLite evaluates it for every target row:
the README's traversal was 134 times slower on SQLite than on PostgreSQL at 200,000 logs
(docs/performance.md). Written as `key IN (the elements)`, it looks each element up in the
key's index. The plans below are SQLite's own (EXPLAIN QUERY PLAN) of the statements the API
sends, on both paths: compiled (one statement) and reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from graph.settings import Settings
from graph.spec import Spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase, fresh_database

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


async def sent(api: Api, db: TestDatabase, document: str) -> list[tuple[str, Any]]:
    """The SELECT statements one request sends, with their parameters."""
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        answer = await api.post(document)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
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
