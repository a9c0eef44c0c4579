"""Connections stay stable while rows are inserted between pages."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from graph.spec.model import Spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase

PAGE = """query($after: String) { feedbackTicketsConnection(first: 3, after: $after,
    orderBy: [{firstResponseAt: DESC_NULLS_LAST}]) { edges { node { ticketId } }
    pageInfo { hasNextPage endCursor } } }"""


def _ticket(n: int, hours_ago: int | None) -> dict[str, object]:
    when = (
        None
        if hours_ago is None
        else dt.datetime(2026, 1, 1, tzinfo=dt.UTC) - dt.timedelta(hours=hours_ago)
    )
    return {
        "ticket_id": f"t-{n:03d}",
        "title": f"Ticket {n}",
        "ticket_type": "bug",
        "priority": "low",
        "status": "open",
        "first_response_at": when,
    }


async def test_inserts_between_pages_do_not_shift_them(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    create_schema(empty_db.engine, catalog)
    table = catalog.table("feedback")
    rows = [_ticket(n, n if n % 4 else None) for n in range(1, 13)]
    with empty_db.engine.begin() as conn:
        conn.execute(insert(table), rows)
    api = Api(empty_db, spec, catalog)
    first = (await api.data(PAGE))["feedbackTicketsConnection"]
    # New rows land both before and after the cursor, including one with a null sort value.
    with empty_db.engine.begin() as conn:
        conn.execute(insert(table), [_ticket(100, 0), _ticket(101, 1000), _ticket(102, None)])
    seen = [e["node"]["ticketId"] for e in first["edges"]]
    after = first["pageInfo"]["endCursor"]
    while after:
        page = (await api.data(PAGE, {"after": after}))["feedbackTicketsConnection"]
        seen += [e["node"]["ticketId"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    # Nothing seen twice, no original row skipped; the row newer than page one is not seen.
    assert len(seen) == len(set(seen))
    assert {r["ticket_id"] for r in rows} <= set(seen)
    assert "t-100" not in seen and {"t-101", "t-102"} <= set(seen)
    expected_order = sorted(
        [*rows, _ticket(101, 1000), _ticket(102, None)],
        key=lambda r: (
            r["first_response_at"] is None,
            -r["first_response_at"].timestamp() if r["first_response_at"] else 0,
        ),
    )
    assert seen[3:] == [str(r["ticket_id"]) for r in expected_order if r["ticket_id"] in seen][3:]


async def test_like_is_case_sensitive_and_aliases_reach_connection_nodes(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    create_schema(empty_db.engine, catalog)
    with empty_db.engine.begin() as conn:
        conn.execute(
            insert(catalog.table("feedback")),
            [{**_ticket(1, 1), "title": "API down"}, {**_ticket(2, 2), "title": "api slow"}],
        )
    api = Api(empty_db, spec, catalog)
    query = """query($p: String!) { feedbackTicketsConnection(where: {title: {like: $p}},
        orderBy: [{ticketId: ASC}]) { e: edges { n: node { t: title } } all: nodes { title } } }"""
    case = (await api.data(query, {"p": "%API%"}))["feedbackTicketsConnection"]
    assert [edge["n"]["t"] for edge in case["e"]] == ["API down"]
    assert [node["title"] for node in case["all"]] == ["API down"]
    folded = await api.data(
        '{ feedbackTickets(where: {title: {ilike: "%API%"}}, orderBy: [{id: ASC}]) { title } }'
    )
    assert [t["title"] for t in folded["feedbackTickets"]] == ["API down", "api slow"]
