"""Aggregate root fields: one statement each, and answers that add up (docs/api.md, Aggregates).

The answers themselves are checked against an independent model in
tests/test_aggregate_differential.py; here, what the pipeline promises besides.
"""

from __future__ import annotations

import pytest

from tests.api import Api

SHAPES = [
    "{ executionLogsAggregate { count } }",
    """{ executionLogsAggregate(
          groupBy: [{field: STARTED_AT, bucket: DAY}, {playbook: {field: RISK_LEVEL}},
                    {agent: {parent: {field: AGENT_TYPE}}}]
          timeZone: "Europe/Berlin"
          having: {or: [{count: {gt: 1}}, {max: {durationMs: {gt: "1000"}}}]}
          orderBy: [{sum: {durationMs: DESC}}, {key: {playbook: {riskLevel: ASC}}}]
          limit: 50 offset: 1) {
        key { startedAt playbook { riskLevel } agent { parent { agentType } } }
        count countDistinct { component } sum { durationMs exitCode } avg { durationMs }
        min { status startedAt component } max { status }
        p50: percentile(p: 0.5) { durationMs exitCode } p99: percentile(p: 0.99) { durationMs }
    } }""",
]


@pytest.mark.parametrize("query", SHAPES)
async def test_an_aggregate_field_is_one_statement(api: Api, query: str) -> None:
    data, statements = await api.counted(query)
    assert data["executionLogsAggregate"], data
    assert statements == 1


async def test_groups_add_up_to_the_rows(api: Api) -> None:
    everything = await api.data("{ executionLogsAggregate { count sum { durationMs } } }")
    (whole,) = everything["executionLogsAggregate"]
    by_status = await api.data(
        "{ executionLogsAggregate(groupBy: [{field: STATUS}]) "
        "{ key { status } count sum { durationMs } } }"
    )
    groups = by_status["executionLogsAggregate"]
    assert sum(g["count"] for g in groups) == whole["count"] > 0
    total = sum(int(g["sum"]["durationMs"] or 0) for g in groups)
    assert str(total) == whole["sum"]["durationMs"]
    # Groups come in key order; enums in declared order.
    statuses = [g["key"]["status"] for g in groups]
    declared = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]
    assert statuses == [s for s in declared if s in statuses]


async def test_two_aggregate_fields_are_two_statements(api: Api) -> None:
    query = """{ a: executionLogsAggregate { count }
                 b: playbooksAggregate(groupBy: [{field: RISK_LEVEL}]) { count } }"""
    data, statements = await api.counted(query)
    assert set(data) == {"a", "b"}
    assert statements == 2


def relation_query(parents: str, key: str, relation: str, fields: str) -> str:
    return f"""query($n: Int!) {{ {parents}(limit: $n) {{ {key}
    {relation}Aggregate {{ count {fields} }}
    paged: {relation}Aggregate(
        where: {{createdAt: {{isNull: false}}}}, groupBy: [{{field: UPDATED_AT, bucket: DAY}}],
        orderBy: [{{count: DESC}}], limit: 2, offset: 1) {{ key {{ updatedAt }} count }} }} }}"""


def root_query(children: str, link: str, fields: str) -> str:
    return f"""query($value: String!) {{
    all: {children}Aggregate(where: {{{link}: {{eq: $value}}}}) {{ count {fields} }}
    paged: {children}Aggregate(
        where: {{{link}: {{eq: $value}}, createdAt: {{isNull: false}}}},
        groupBy: [{{field: UPDATED_AT, bucket: DAY}}],
        orderBy: [{{count: DESC}}], limit: 2, offset: 1) {{ key {{ updatedAt }} count }} }}"""


# (parents, their key, relation, the linked rows' root, their link field, measures)
RELATIONS = [
    (
        "playbooks",
        "playbookName",
        "executions",
        "executionLogs",
        "linkedPlaybookId",
        "avg { durationMs } p90: percentile(p: 0.9) { durationMs } max { status }",
    ),
    (
        "subAgents",
        "agentId",
        "children",
        "subAgents",
        "parentAgentId",
        "min { agentType } countDistinct { status }",
    ),
]


async def test_a_relations_aggregate_is_one_statement_for_all_parents(api: Api) -> None:
    query = relation_query(*(RELATIONS[0][i] for i in (0, 1, 2, 5)))
    _, few = await api.counted(query, {"n": 2})
    _, many = await api.counted(query, {"n": 500})
    # The parents, then one per aggregate field for all of them at once; the rows' statement
    # builds the ungrouped one itself (graph/gql/inline_groups.py: a subquery per row within
    # 20 rows, grouped once and joined to the rows beyond), not the one with `groupBy`.
    assert (few, many) == (2, 2)


@pytest.mark.parametrize("relation", RELATIONS, ids=lambda r: f"{r[0]}.{r[2]}")
async def test_a_relations_aggregate_equals_the_root_aggregate_of_its_rows(
    api: Api, relation: tuple[str, ...]
) -> None:
    """Per parent, in one statement for all (joined, ranked per parent), the same groups as
    the root field asked about that parent's rows alone: every parent, with and without
    linked rows, paged per parent."""
    parents_root, key, name, children_root, link, fields = relation
    data = await api.data(relation_query(parents_root, key, name, fields), {"n": 500})
    parents = data[parents_root]
    counts = [p[f"{name}Aggregate"][0]["count"] for p in parents]
    assert max(counts) > 1, counts
    if name == "children":
        assert 0 in counts, counts  # agents without children still have their one group
    for parent in parents:
        alone = await api.data(root_query(children_root, link, fields), {"value": parent[key]})
        assert parent[f"{name}Aggregate"] == alone["all"], parent[key]
        assert parent["paged"] == alone["paged"], parent[key]


async def _failed_per_playbook(api: Api) -> dict[str, int]:
    """Failed runs per playbook, by the root aggregate grouped by the link field."""
    data = await api.data(
        """{ executionLogsAggregate(where: {status: {eq: FAILED}},
              groupBy: [{field: LINKED_PLAYBOOK_ID}]) { key { linkedPlaybookId } count } }"""
    )
    return {
        g["key"]["linkedPlaybookId"]: g["count"]
        for g in data["executionLogsAggregate"]
        if g["key"]["linkedPlaybookId"] is not None
    }


async def test_rows_filter_and_sort_by_a_measure_of_their_linked_rows(api: Api) -> None:
    failed = await _failed_per_playbook(api)
    names = [
        p["playbookName"]
        for p in (await api.data("{ playbooks(limit: 500) { playbookName } }"))["playbooks"]
    ]
    query = """query($n: Int!) { playbooks(
        where: {executionsAggregate: {filter: {status: {eq: FAILED}}, count: {gte: $n}}},
        orderBy: [{executionsAggregate: {filter: {status: {eq: FAILED}}, count: DESC}},
                  {playbookName: DESC}], limit: 500) { playbookName } }"""
    for threshold in (0, 1, 3, 100):
        data = await api.data(query, {"n": threshold})
        expected = sorted(
            (n for n in names if failed.get(n, 0) >= threshold),
            key=lambda n: (failed.get(n, 0), n),
            reverse=True,
        )
        assert [p["playbookName"] for p in data["playbooks"]] == expected, threshold


@pytest.mark.parametrize("measure", ["max", "sum"])
async def test_a_connection_pages_by_a_measure_of_linked_rows(api: Api, measure: str) -> None:
    """Walked two rows at a time, a connection ordered by a relation measure returns every
    row once, in the order of the list (ties broken by id). A `sum` of a bigint field is a
    numeric on PostgreSQL, which the cursor holds as a whole number."""
    order = f"[{{executionsAggregate: {{{measure}: {{durationMs: DESC}}}}}}]"
    full = await api.data(f"{{ playbooks(orderBy: {order}, limit: 500) {{ playbookName }} }}")
    walked: list[str] = []
    after = None
    while True:
        page = await api.data(
            f"""query($after: String) {{ playbooksConnection(first: 2, after: $after,
                orderBy: {order}) {{ nodes {{ playbookName }}
                pageInfo {{ hasNextPage endCursor }} }} }}""",
            {"after": after},
        )
        connection = page["playbooksConnection"]
        walked += [n["playbookName"] for n in connection["nodes"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert walked == [p["playbookName"] for p in full["playbooks"]]
    other = await api.error(
        """query($after: String) { playbooksConnection(first: 2, after: $after,
            orderBy: [{executionsAggregate: {count: DESC}}]) { nodes { playbookName } } }""",
        {"after": after},
    )
    assert other["extensions"]["code"] == "BAD_USER_INPUT"  # a cursor of another measure


async def test_a_relation_measure_names_exactly_one_measure(api: Api) -> None:
    for arguments in (
        "where: {executionsAggregate: {filter: {status: {eq: FAILED}}}}",
        "orderBy: [{executionsAggregate: {count: DESC, max: {durationMs: ASC}}}]",
        "orderBy: [{executionsAggregate: {filter: {status: {eq: FAILED}}}}]",
    ):
        error = await api.error(f"{{ playbooks({arguments}) {{ playbookName }} }}")
        assert error["extensions"]["code"] == "BAD_USER_INPUT", arguments


FILLED = """query($fill: Boolean, $having: ExecutionLogGroupHaving) { executionLogsAggregate(
    where: {startedAt: {gte: "2026-10-20T00:00:00Z", lt: "2026-11-03T00:00:00Z"}},
    groupBy: [{field: STARTED_AT, bucket: DAY}, {field: ENVIRONMENT}],
    timeZone: "Europe/Berlin", fill: $fill, having: $having) {
      key { startedAt environment } count sum { durationMs } } }"""


async def test_fill_gives_every_bucket_of_the_window_a_group(api: Api) -> None:
    """14 Berlin days (one of them 25 hours long, 2026-10-25) for every environment that
    occurs; the empty ones count 0 with null sums, the others are the unfilled groups."""
    plain = (await api.data(FILLED, {"fill": False}))["executionLogsAggregate"]
    filled = (await api.data(FILLED, {"fill": True}))["executionLogsAggregate"]
    environments = {g["key"]["environment"] for g in plain}
    days = sorted({g["key"]["startedAt"] for g in filled})
    assert days[0] == "2026-10-19T22:00:00.000000Z"  # Oct 20, 00:00 in Berlin (CEST)
    assert "2026-10-24T22:00:00.000000Z" in days  # Oct 25 starts in CEST ...
    assert "2026-10-25T23:00:00.000000Z" in days  # ... and Oct 26 in CET: 25 hours later
    assert days[-1] == "2026-11-02T23:00:00.000000Z"  # Nov 3, 00:00 CET, holds 00:00-00:59Z
    assert len(days) == 15
    assert len(filled) == len(days) * len(environments)
    assert [g for g in filled if g["count"] > 0] == plain
    for group in filled:
        if group["count"] == 0:
            assert group["sum"]["durationMs"] is None
    having = {"count": {"gte": 1}}
    kept = (await api.data(FILLED, {"fill": True, "having": having}))["executionLogsAggregate"]
    assert kept == plain


async def test_fill_takes_a_relative_window_and_refuses_what_it_cannot_fill(api: Api) -> None:
    data = await api.data(
        """{ executionLogsAggregate(where: {startedAt: {withinLast: "P6D"}},
            groupBy: [{field: STARTED_AT, bucket: DAY}], fill: true) { key { startedAt } } }"""
    )
    assert len(data["executionLogsAggregate"]) == 7  # today and the six days before
    for arguments, code in (
        ("groupBy: [{field: STARTED_AT, bucket: DAY}], fill: true", "BAD_USER_INPUT"),
        (
            'where: {startedAt: {gte: "2026-01-01T00:00:00Z"}}, '
            "groupBy: [{field: STARTED_AT, bucket: DAY}], fill: true",
            "BAD_USER_INPUT",
        ),
        (
            'where: {or: [{startedAt: {gte: "2026-01-01T00:00:00Z", '
            'lt: "2026-02-01T00:00:00Z"}}]}, groupBy: [{field: STARTED_AT, bucket: DAY}], '
            "fill: true",
            "BAD_USER_INPUT",
        ),
        (
            'where: {startedAt: {gte: "2026-01-01T00:00:00Z", lt: "2026-02-01T00:00:00Z"}}, '
            "groupBy: [{field: STATUS}], fill: true",
            "BAD_USER_INPUT",
        ),
        (
            'where: {startedAt: {gte: "2000-01-01T00:00:00Z", lt: "2026-02-01T00:00:00Z"}}, '
            "groupBy: [{field: STARTED_AT, bucket: HOUR}], fill: true",
            "LIMIT_EXCEEDED",
        ),
    ):
        error = await api.error(f"{{ executionLogsAggregate({arguments}) {{ count }} }}")
        assert error["extensions"]["code"] == code, (arguments, error)


async def test_a_field_is_grouped_by_once(api: Api) -> None:
    """In two buckets, its groups would show the same key field: refused, not ambiguous."""
    for group_by in (
        "[{field: STARTED_AT, bucket: DAY}, {field: STARTED_AT, bucket: MONTH}]",
        "[{field: STARTED_AT, bucket: DAY}, {field: STARTED_AT}]",
        "[{field: STATUS}, {field: STATUS}]",
    ):
        error = await api.error(f"{{ executionLogsAggregate(groupBy: {group_by}) {{ count }} }}")
        assert error["extensions"]["code"] == "BAD_USER_INPUT", group_by
    nested = await api.data(
        "{ executionLogsAggregate(groupBy: [{field: CREATED_AT}, {playbook: {field: CREATED_AT}}]) "
        "{ count } }"
    )
    assert nested["executionLogsAggregate"]  # the same name on another table is another key
