"""Ordering, pages and keyset connections."""

from __future__ import annotations

from typing import Any

from graph.sql.tables import Catalog
from tests.api import Api
from tests.rows import all_rows


def _key(value: Any, nulls_first: bool, descending: bool) -> tuple[Any, ...]:
    return (0 if (value is None) == nulls_first else 1, value if value is not None else 0)


async def test_order_by_several_keys_with_nulls(api: Api, catalog: Catalog) -> None:
    query = """{ feedbackTickets(orderBy: [{priority: DESC}, {resolvedAt: DESC_NULLS_FIRST}],
                                  limit: 1000) { id } }"""
    data = await api.data(query)
    rows = all_rows(api.db, catalog, "feedback")
    # Enums sort by declared rank, not alphabetically: critical, high, medium, low.
    rank = {v: i for i, v in enumerate(catalog.spec.table("feedback").field("priority").values)}

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        resolved = r["resolved_at"]
        return (
            r["priority"] is not None,  # DESC: nulls first
            -rank.get(r["priority"], 0),
            resolved is not None,
            -(resolved.timestamp()) if resolved else 0,
            r["id"],
        )

    assert [r["id"] for r in data["feedbackTickets"]] == [
        str(r["id"]) for r in sorted(rows, key=key)
    ]


async def test_order_by_related_field(api: Api, catalog: Catalog) -> None:
    data = await api.data("""{ executionLogs(orderBy: [{playbook: {successRate: DESC}}],
        limit: 1000) { id } }""")
    playbooks = {r["playbook_name"]: r for r in all_rows(api.db, catalog, "self_healing")}

    def rate(r: dict[str, Any]) -> float | None:
        playbook = playbooks.get(r["linked_playbook_id"])
        return playbook["success_rate"] if playbook else None

    rows = all_rows(api.db, catalog, "execution_logs")
    # DESC puts nulls first: they count as larger than any value.
    wanted = sorted(rows, key=lambda r: (rate(r) is not None, -(rate(r) or 0), r["id"]))
    assert [r["id"] for r in data["executionLogs"]] == [str(r["id"]) for r in wanted][:1000]


async def test_limit_and_offset(api: Api, catalog: Catalog) -> None:
    data = await api.data("{ executionLogs(orderBy: [{id: ASC}], limit: 5, offset: 10) { id } }")
    ids = [str(r["id"]) for r in all_rows(api.db, catalog, "execution_logs")]
    assert [r["id"] for r in data["executionLogs"]] == ids[10:15]
    default = await api.data("{ executionLogs { id } }")
    assert len(default["executionLogs"]) == min(100, len(ids))


async def test_connection_pages_cover_every_row_once(api: Api, catalog: Catalog) -> None:
    query = """query($after: String) { executionLogsConnection(first: 7, after: $after,
        orderBy: [{status: ASC}, {startedAt: DESC}]) {
        totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await api.data(query, {"after": after}))["executionLogsConnection"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    rows = all_rows(api.db, catalog, "execution_logs")
    assert page["totalCount"] == len(rows)
    assert sorted(seen) == sorted(str(r["id"]) for r in rows) and len(seen) == len(set(seen))


async def test_cursor_from_another_ordering_is_refused(api: Api) -> None:
    first = await api.data("{ executionLogsConnection(first: 1) { pageInfo { endCursor } } }")
    cursor = first["executionLogsConnection"]["pageInfo"]["endCursor"]
    error = await api.error(
        "query($c: String!) { executionLogsConnection(first: 1, after: $c, "
        "orderBy: [{status: ASC}]) { nodes { id } } }",
        {"c": cursor},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await api.error('{ executionLogsConnection(after: "garbage") { nodes { id } } }')
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# Under `nodes` and `edges { node }`, one response key reads a relation (and, deeper, another
# relation and an aggregate) with other arguments: GraphQL answers each branch as asked.
BRANCH = """
    executions(orderBy: [{startedAt: DESC}], limit: %(runs)d) {
        executionId
        relatedFeedback(limit: %(tickets)d) { ticketId }
    }
    executionsAggregate(groupBy: [{field: STATUS}], limit: %(groups)d) { key { status } count }
"""
NARROW = BRANCH % {"runs": 1, "tickets": 1, "groups": 1}
WIDE = BRANCH % {"runs": 3, "tickets": 4, "groups": 5}


async def test_each_branch_of_a_connection_reads_its_own_arguments(api: Api) -> None:
    async def connection(selection: str) -> dict[str, Any]:
        document = f"{{ playbooksConnection(first: 4) {{ totalCount {selection} }} }}"
        found: dict[str, Any] = (await api.data(document))["playbooksConnection"]
        return found

    nodes_alone = await connection(f"nodes {{ playbookName {NARROW} }}")
    edges_alone = await connection(f"edges {{ cursor node {{ playbookName {WIDE} }} }}")
    for selection in (
        f"nodes {{ playbookName {NARROW} }} edges {{ cursor node {{ playbookName {WIDE} }} }}",
        f"edges {{ cursor node {{ playbookName {WIDE} }} }} nodes {{ playbookName {NARROW} }}",
    ):
        both = await connection(selection)
        assert both["nodes"] == nodes_alone["nodes"], selection
        assert both["edges"] == edges_alone["edges"], selection
        assert both["totalCount"] == nodes_alone["totalCount"]
    # The seed links several runs, tickets and statuses to these playbooks: the branches differ.
    assert [p["executions"] for p in nodes_alone["nodes"]] != [
        e["node"]["executions"] for e in edges_alone["edges"]
    ]
