"""Mutations: insert, upsert, update and delete through GraphQL, on both databases.

Every refused write is checked twice: the error (code, and the path of each problem), and the
row counts of the touched tables, read with plain SQL, unchanged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text

from graph.audit import verify_chain
from graph.settings import Settings
from graph.spec import Spec, load_spec
from graph.sql.tables import Catalog, build_catalog
from tests.api import Api
from tests.databases import TestDatabase
from tests.writes import (
    api_for,
    column,
    count,
    counts,
    empty_tables,
    kit_spec,
    log,
    problems,
    refused_unchanged,
    serve,
)

INSERT = """
mutation($rows: [PlaybookInsert!]!) {
  insertPlaybooks(rows: $rows) { affectedCount rows { id playbookName } }
}"""
UPSERT = """
mutation($rows: [PlaybookInsert!]!, $update: [PlaybookUpsertField!]!) {
  insertPlaybooks(rows: $rows, onConflict: {update: $update}) {
    affectedCount
    rows { id playbookName riskLevel owner trustScore version createdAt }
  }
}"""


def playbook(name: str, **fields: Any) -> dict[str, Any]:
    return {"playbookName": name, "actions": [{"step": 1}], "riskLevel": "LOW", **fields}


def instant(text_value: str) -> dt.datetime:
    """A DateTime as the API writes it: `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
    assert len(text_value) == 27 and text_value.endswith("Z"), text_value
    return dt.datetime.strptime(text_value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


@pytest.fixture
def api(shipped_db: TestDatabase, spec: Spec, catalog: Catalog) -> Api:
    """The API over the shipped spec's tables (tests/conftest.py), emptied for this test."""
    empty_tables(shipped_db, spec, catalog)
    return api_for(shipped_db, spec, catalog)


async def insert_playbooks(api: Api, *rows: dict[str, Any]) -> list[dict[str, Any]]:
    data = await api.data(INSERT, {"rows": list(rows)})
    result: list[dict[str, Any]] = data["insertPlaybooks"]["rows"]
    return result


# -- inserts --------------------------------------------------------------------------------


async def test_insert_one_row_fills_defaults_and_server_fields(api: Api) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    data = await api.data(
        'mutation { insertPlaybooks(rows: [{playbookName: "p1", actions: [{step: 1}], '
        "riskLevel: LOW}]) { affectedCount rows { id playbookName actions riskLevel enabled "
        "requiresApproval totalRuns targetComponents createdAt updatedAt "
        "executions { executionId } } } }"
    )
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    result = data["insertPlaybooks"]
    assert result["affectedCount"] == 1
    (row,) = result["rows"]
    assert row["id"].isdigit()  # BigInt: a string of digits
    assert row["playbookName"] == "p1" and row["actions"] == [{"step": 1}]
    assert row["enabled"] is True and row["requiresApproval"] is False
    assert row["totalRuns"] == 0
    assert row["targetComponents"] is None  # no default: stays null
    assert row["executions"] == []
    created, updated = instant(row["createdAt"]), instant(row["updatedAt"])
    # Not equal on SQLite: the rollups refreshed in the same write touch updatedAt, and
    # SQLite's trigger reads the wall clock (PostgreSQL's now() is the transaction's start).
    assert before <= created <= updated <= after
    # What the table holds, read without the API.
    assert column(api, "self_healing", "id") == [int(row["id"])]
    assert column(api, "self_healing", "enabled") == [True]
    assert column(api, "self_healing", "created_at") == [created]
    # A table without rollups: one write, one moment.
    sop = await api.data(
        'mutation { insertSops(rows: [{sopId: "S1", title: "t", version: "1"}]) '
        "{ rows { status trainingRequired reviewFrequencyDays createdAt updatedAt } } }"
    )
    (row,) = sop["insertSops"]["rows"]
    assert (row["status"], row["trainingRequired"], row["reviewFrequencyDays"]) == (
        "DRAFT",
        False,
        365,
    )
    assert row["createdAt"] == row["updatedAt"]


async def test_insert_many_rows_in_input_order_with_relations(api: Api) -> None:
    # Logs first: they may name playbooks that do not exist yet (on_missing: allow).
    await api.data(
        "mutation($rows: [ExecutionLogInsert!]!) { insertExecutionLogs(rows: $rows) "
        "{ affectedCount } }",
        {"rows": [log("E1", linkedPlaybookId="alpha"), log("E2", linkedPlaybookId="mid")]},
    )
    names = ["zeta", "alpha", "mid", "beta"]
    data = await api.data(
        "mutation($rows: [PlaybookInsert!]!) { insertPlaybooks(rows: $rows) { affectedCount "
        "rows { id playbookName executions { executionId playbook { playbookName } } } } }",
        {"rows": [playbook(n) for n in names]},
    )
    result = data["insertPlaybooks"]
    assert result["affectedCount"] == 4
    assert [r["playbookName"] for r in result["rows"]] == names
    ids = [int(r["id"]) for r in result["rows"]]
    assert ids == sorted(ids) and len(set(ids)) == 4
    executions = {r["playbookName"]: r["executions"] for r in result["rows"]}
    assert executions == {
        "zeta": [],
        "alpha": [{"executionId": "E1", "playbook": {"playbookName": "alpha"}}],
        "mid": [{"executionId": "E2", "playbook": {"playbookName": "mid"}}],
        "beta": [],
    }
    assert count(api, "self_healing") == 4


async def test_list_default_and_uuid_spelling(empty_db: TestDatabase, tmp_path: Path) -> None:
    # The shipped tables have no uuid field and no list default: the kit spec has both.
    kit = serve(empty_db, *kit_spec(tmp_path))
    upper = "0B3A4C52-8F1E-4C1A-9D3E-2F6B7A8C9D01"
    data = await kit.data(
        "mutation($rows: [AnchorInsert!]!) { insertAnchors(rows: $rows) "
        "{ rows { name uid tags } } }",
        {"rows": [{"name": "a1", "uid": upper}, {"name": "a2", "tags": ["x"]}]},
    )
    assert data["insertAnchors"]["rows"] == [
        {"name": "a1", "uid": upper.lower(), "tags": []},
        {"name": "a2", "uid": None, "tags": ["x"]},
    ]
    with empty_db.engine.connect() as conn:
        stored = conn.execute(text("SELECT uid FROM kit_anchors WHERE name = 'a1'")).scalar_one()
    assert str(stored) == upper.lower()
    assert column(kit, "anchors", "tags") == [[], ["x"]]
    # A filter in upper case finds the row stored in lower case.
    found = await kit.data(f'{{ anchors(where: {{uid: {{eq: "{upper}"}}}}) {{ name }} }}')
    assert found == {"anchors": [{"name": "a1"}]}


async def test_datetimes_with_offsets_are_stored_as_the_same_instant(api: Api) -> None:
    data = await api.data(
        "mutation($rows: [ExecutionLogInsert!]!) { insertExecutionLogs(rows: $rows) "
        "{ rows { executionId startedAt completedAt } } }",
        {
            "rows": [
                log(
                    "E1",
                    startedAt="2026-11-28T06:08:57.5+01:00",
                    completedAt="2026-11-27T23:38:57.123456-05:30",
                ),
                log("E2", startedAt="2026-11-28T05:08:57Z"),
            ]
        },
    )
    assert data["insertExecutionLogs"]["rows"] == [
        {
            "executionId": "E1",
            "startedAt": "2026-11-28T05:08:57.500000Z",
            "completedAt": "2026-11-28T05:08:57.123456Z",
        },
        {"executionId": "E2", "startedAt": "2026-11-28T05:08:57.000000Z", "completedAt": None},
    ]
    utc = dt.UTC
    assert column(api, "execution_logs", "started_at") == [
        dt.datetime(2026, 11, 28, 5, 8, 57, 500000, tzinfo=utc),
        dt.datetime(2026, 11, 28, 5, 8, 57, tzinfo=utc),
    ]
    assert column(api, "execution_logs", "completed_at") == [
        dt.datetime(2026, 11, 28, 5, 8, 57, 123456, tzinfo=utc),
        None,
    ]
    # The same instant written with another offset finds it.
    found = await api.data(
        '{ executionLogs(where: {startedAt: {eq: "2026-11-27T23:08:57.5-06:00"}}) { executionId } }'
    )
    assert found == {"executionLogs": [{"executionId": "E1"}]}
    # A datetime without an offset is refused.
    error = await refused_unchanged(
        api,
        "mutation($rows: [ExecutionLogInsert!]!) { insertExecutionLogs(rows: $rows) "
        "{ affectedCount } }",
        {"rows": [log("E1", startedAt="2026-11-28T06:08:57")]},
        "BAD_USER_INPUT",
        ("execution_logs",),
    )
    assert "[0].startedAt" in error["message"]


async def test_bigint_as_string_and_as_int(api: Api) -> None:
    big = 9007199254740993  # 2^53 + 1: a double would round it
    data = await api.data(
        "mutation($rows: [ExecutionLogInsert!]!) { insertExecutionLogs(rows: $rows) "
        "{ rows { executionId durationMs } } }",
        {
            "rows": [
                log("E1", durationMs=str(big)),
                log("E2", durationMs=big),
                log("E3", durationMs="9223372036854775807"),
            ]
        },
    )
    assert data["insertExecutionLogs"]["rows"] == [
        {"executionId": "E1", "durationMs": str(big)},
        {"executionId": "E2", "durationMs": str(big)},
        {"executionId": "E3", "durationMs": "9223372036854775807"},
    ]
    literal = await api.data(
        'mutation { insertExecutionLogs(rows: [{executionId: "E4", commandType: DEPLOY, '
        f'component: "c", status: FAILED, durationMs: {big}}}, {{executionId: "E5", '
        f'commandType: DEPLOY, component: "c", status: FAILED, durationMs: "{big}"}}]) '
        "{ rows { durationMs } } }"
    )
    assert literal["insertExecutionLogs"]["rows"] == [{"durationMs": str(big)}] * 2
    assert column(api, "execution_logs", "duration_ms") == [big, big, 2**63 - 1, big, big]
    # Beyond 64 bits, and below the field's minimum: refused, nothing written.
    await refused_unchanged(
        api,
        INSERT.replace("Playbook", "ExecutionLog").replace("playbookName", "executionId"),
        {"rows": [log("E6", durationMs="9223372036854775808")]},
        "BAD_USER_INPUT",
        ("execution_logs",),
    )
    error = await refused_unchanged(
        api,
        INSERT.replace("Playbook", "ExecutionLog").replace("playbookName", "executionId"),
        {"rows": [log("E6", durationMs="-1")]},
        "BAD_USER_INPUT",
        ("execution_logs",),
    )
    assert problems(error) == [("rows[0].durationMs", "-1 is below the minimum 0")]


# -- validation: every problem at once ----------------------------------------------------


async def test_every_invalid_value_is_listed_in_one_error(api: Api) -> None:
    rows: list[dict[str, Any]] = [playbook(f"ok{i}") for i in range(8)]
    rows[0] = playbook(" lead", timeoutSeconds=-1, trustScore=1.7, owner="x" * 129)
    rows[3] = {
        "playbookName": "p\t3",
        "actions": None,
        "description": "a\x00b",
    }
    rows[7] = {
        "playbookName": "",
        "actions": "steps",
        "riskLevel": "HIGH",
        "triggerConditions": "text",
    }
    # (NaN and lone surrogates are not JSON: the transport refuses such a body, HTTP 400;
    # tests/security/test_http.py.)
    body = json.dumps({"query": INSERT, "variables": {"rows": rows}}).encode()
    before = count(api, "self_healing")
    response = await api.raw_post(body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["data"] == {"insertPlaybooks": None}
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    # Each row's problems in the order of the input type's fields (GraphQL coerces the
    # variable into that order), then the required fields the row leaves out.
    expected = [
        ("rows[0].playbookName", "a key cannot start or end with white space"),
        ("rows[0].timeoutSeconds", "-1 is below the minimum 0"),
        ("rows[0].trustScore", "1.7 is above the maximum 1"),
        ("rows[0].owner", "129 characters is longer than the maximum length 128"),
        ("rows[3].playbookName", "a key cannot hold control characters"),
        ("rows[3].description", "text cannot hold the NUL character (\\u0000)"),
        ("rows[3].actions", "is required and cannot be null"),
        ("rows[3].riskLevel", "is required"),
        ("rows[7].playbookName", "the key playbook_name cannot be blank"),
        ("rows[7].triggerConditions", "expected a JSON object or array, not 'text'"),
        ("rows[7].actions", "expected a JSON object or array, not 'steps'"),
    ]
    assert problems(error) == expected
    assert error["message"] == f"{len(expected)} invalid values: " + "; ".join(
        f"{path}: {message}" for path, message in expected
    )
    assert count(api, "self_healing") == before == 0


async def test_values_graphql_refuses_are_listed_with_the_spec_problems(api: Api) -> None:
    """A wrong enum, an unknown field, a string for a Float, a null list element and a list
    element of the wrong type are refused by GraphQL's coercion of the variable, before
    anything runs; they
    come back in the one BAD_USER_INPUT error that also lists the spec's problems with the
    values GraphQL took (tests/test_mutation_coercion.py has the details)."""
    rows: list[dict[str, Any]] = [playbook(f"ok{i}") for i in range(8)]
    rows[0] = playbook("p0", riskLevel="EXTREME", owner="x" * 129)
    rows[3] = playbook("p3", nope=1, trustScore="high")
    rows[5] = playbook("p5", targetComponents=["billing-api", None], timeoutSeconds=-1)
    rows[7] = playbook("p7", targetComponents=["billing-api", 5])
    body = await api.post(INSERT, {"rows": rows})
    # Still a request error: GraphQL runs nothing when it refuses a variable's value.
    assert body.get("data") is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["locations"] == [{"line": 2, "column": 10}]  # the definition of $rows
    expected = [
        ("rows[0].riskLevel", "Value 'EXTREME' does not exist in 'PlaybookRiskLevel' enum."),
        ("rows[0].owner", "129 characters is longer than the maximum length 128"),
        ("rows[3].trustScore", "Float cannot represent non numeric value: 'high'"),
        (
            "rows[3].nope",
            "Expected value of type 'PlaybookInsert' not to include unknown field 'nope'.",
        ),
        (
            "rows[5].targetComponents[1]",
            "Expected value of non-null type 'String!' not to be None.",
        ),
        ("rows[5].timeoutSeconds", "-1 is below the minimum 0"),
        ("rows[7].targetComponents[1]", "String cannot represent a non string value: 5"),
    ]
    assert problems(error) == expected
    assert error["message"] == f"{len(expected)} invalid values: " + "; ".join(
        f"{path}: {message}" for path, message in expected
    )
    assert count(api, "self_healing") == 0
    # An unknown field in a literal: refused by GraphQL's validation, with the same code.
    error = await refused_unchanged(
        api,
        'mutation { insertPlaybooks(rows: [{playbookName: "p", actions: [], riskLevel: LOW, '
        "nope: 1}]) { affectedCount } }",
        None,
        "BAD_USER_INPUT",
        ("self_healing",),
    )
    assert "unknown field 'nope'" in error["message"]


SERVER_FIELDS = [
    ("id", "id", 5),
    ("createdAt", "created_at", "2020-01-01T00:00:00Z"),
    ("updatedAt", "updated_at", "2020-01-01T00:00:00Z"),
]


async def test_server_fields_cannot_be_written(api: Api) -> None:
    await insert_playbooks(api, playbook("p1"))
    for field, sql_name, value in SERVER_FIELDS:
        await _refuse_server_field(api, field, sql_name, value)


async def _refuse_server_field(api: Api, field: str, sql_name: str, value: Any) -> None:
    before = column(api, "self_healing", sql_name)
    # Neither input type has the field: GraphQL refuses it, as a literal and as a variable.
    literal = json.dumps(value)
    for query, variables in [
        (
            'mutation { insertPlaybooks(rows: [{playbookName: "p2", actions: [], '
            f"riskLevel: LOW, {field}: {literal}}}]) {{ affectedCount }} }}",
            None,
        ),
        (INSERT, {"rows": [playbook("p2", **{field: value})]}),
        (
            'mutation { updatePlaybooks(where: {playbookName: {eq: "p1"}}, '
            f"set: {{{field}: {literal}}}) {{ affectedCount }} }}",
            None,
        ),
        (
            "mutation($set: PlaybookSet!) { updatePlaybooks(where: {playbookName: {eq: "
            '"p1"}}, set: $set) { affectedCount } }',
            {"set": {field: value}},
        ),
    ]:
        error = await refused_unchanged(api, query, variables, "BAD_USER_INPUT", ("self_healing",))
        assert f"unknown field '{field}'" in error["message"]
    assert column(api, "self_healing", sql_name) == before


# -- updates --------------------------------------------------------------------------------

UPDATE = """
mutation($where: PlaybookWhere!, $set: PlaybookSet!, $atMost: Int) {
  updatePlaybooks(where: $where, set: $set, atMost: $atMost) {
    affectedCount rows { playbookName owner riskLevel }
  }
}"""
DELETE = """
mutation($where: PlaybookWhere!, $atMost: Int) {
  deletePlaybooks(where: $where, atMost: $atMost) { affectedCount rows { playbookName } }
}"""


def named(*names: str) -> dict[str, Any]:
    return {"playbookName": {"in": list(names)}}


async def test_update_changes_the_matching_rows_only(api: Api) -> None:
    await insert_playbooks(api, playbook("p1"), playbook("p2"), playbook("p3"))
    data = await api.data(UPDATE, {"where": named("p3", "p1"), "set": {"owner": "ops"}})
    assert data["updatePlaybooks"] == {
        "affectedCount": 2,
        "rows": [
            {"playbookName": "p1", "owner": "ops", "riskLevel": "LOW"},
            {"playbookName": "p3", "owner": "ops", "riskLevel": "LOW"},
        ],
    }
    assert column(api, "self_healing", "owner") == ["ops", None, "ops"]
    none = await api.data(UPDATE, {"where": named("nobody"), "set": {"owner": "x"}})
    assert none["updatePlaybooks"] == {"affectedCount": 0, "rows": []}


async def test_empty_set_and_null_for_a_required_field_are_refused(api: Api) -> None:
    await insert_playbooks(api, playbook("p1"))
    error = await refused_unchanged(
        api, UPDATE, {"where": named("p1"), "set": {}}, "BAD_USER_INPUT", ("self_healing",)
    )
    assert problems(error) == [("set", "name at least one field to change")]
    error = await refused_unchanged(
        api,
        UPDATE,
        {"where": named("p1"), "set": {"riskLevel": None, "actions": None, "owner": None}},
        "BAD_USER_INPUT",
        ("self_healing",),
    )
    assert problems(error) == [
        ("set.actions", "is required and cannot be null"),
        ("set.riskLevel", "is required and cannot be null"),
    ]
    error = await refused_unchanged(
        api,
        UPDATE,
        {"where": named("p1"), "set": {"playbookName": None}},
        "BAD_USER_INPUT",
        ("self_healing",),
    )
    assert problems(error) == [("set.playbookName", "is required and cannot be null")]
    assert column(api, "self_healing", "risk_level") == ["low"]
    # A key another row holds.
    await insert_playbooks(api, playbook("p2"), playbook("p3"))
    error = await refused_unchanged(
        api,
        UPDATE,
        {"where": named("p1"), "set": {"playbookName": "p2"}},
        "CONFLICT",
        ("self_healing",),
    )
    assert problems(error) == [("set.playbookName", "a Playbook with playbookName 'p2' exists")]
    # One key for two rows: refused before either changes.
    error = await refused_unchanged(
        api,
        UPDATE,
        {"where": named("p1", "p3"), "set": {"playbookName": "p9"}},
        "CONFLICT",
        ("self_healing",),
    )
    assert problems(error) == [("set.playbookName", "2 rows cannot all take the unique value 'p9'")]
    assert column(api, "self_healing", "playbook_name") == ["p1", "p2", "p3"]
    # Renaming a row to its own key changes nothing, and is no conflict.
    same = await api.data(UPDATE, {"where": named("p1"), "set": {"playbookName": "p1"}})
    assert same["updatePlaybooks"]["affectedCount"] == 1


async def test_updated_at_changes_on_update_and_created_at_does_not(api: Api) -> None:
    query = "{ playbooks { createdAt updatedAt } }"
    await insert_playbooks(api, playbook("p1"))
    (first,) = (await api.data(query))["playbooks"]
    await asyncio.sleep(0.01)  # SQLite's clock counts milliseconds
    await api.data(UPDATE, {"where": named("p1"), "set": {"owner": "ops"}})
    (second,) = (await api.data(query))["playbooks"]
    assert second["createdAt"] == first["createdAt"]
    assert instant(second["updatedAt"]) > instant(first["updatedAt"])
    assert column(api, "self_healing", "created_at") == [instant(first["createdAt"])]


# -- conflicts on insert --------------------------------------------------------------------


async def test_a_key_repeated_within_one_insert_is_a_conflict(api: Api) -> None:
    error = await refused_unchanged(
        api,
        INSERT,
        {"rows": [playbook("p1"), playbook("p2"), playbook("p1"), playbook("p2")]},
        "CONFLICT",
        ("self_healing",),
    )
    assert problems(error) == [
        ("rows[2].playbookName", "'p1' is also given at rows[0]"),
        ("rows[3].playbookName", "'p2' is also given at rows[1]"),
    ]
    assert "rows[2].playbookName" in error["message"] and "rows[0]" in error["message"]
    # A key another row holds already.
    await insert_playbooks(api, playbook("p1"))
    error = await refused_unchanged(
        api,
        INSERT,
        {"rows": [playbook("p0"), playbook("p1", owner="other")]},
        "CONFLICT",
        ("self_healing",),
    )
    assert problems(error) == [
        ("rows[1].playbookName", "a Playbook with playbookName 'p1' already exists")
    ]
    assert column(api, "self_healing", "owner") == [None]


# -- limits ---------------------------------------------------------------------------------


async def test_write_row_limit(api: Api, spec: Spec, catalog: Catalog) -> None:
    small = api_for(api.db, spec, catalog, Settings(max_write_rows=5))
    error = await refused_unchanged(
        small,
        INSERT,
        {"rows": [playbook(f"p{i}") for i in range(6)]},
        "LIMIT_EXCEEDED",
        ("self_healing",),
    )
    assert "6 rows" in error["message"] and "(5" in error["message"]
    assert (await small.data(INSERT, {"rows": [playbook(f"p{i}") for i in range(5)]}))[
        "insertPlaybooks"
    ]["affectedCount"] == 5
    # atMost above the limit is refused; without atMost the limit is the bound.
    await refused_unchanged(
        small, DELETE, {"where": {}, "atMost": 6}, "LIMIT_EXCEEDED", ("self_healing",)
    )
    await small.data(INSERT, {"rows": [playbook("p5")]})
    error = await refused_unchanged(
        small,
        UPDATE,
        {"where": {"riskLevel": {"eq": "LOW"}}, "set": {"owner": "x"}},
        "TOO_MANY_MATCHES",
        ("self_healing",),
    )
    assert error["message"].startswith(
        "6 Playbooks match, more than the write limit 5 (no atMost given)"
    )
    assert column(small, "self_healing", "owner") == [None] * 6
    # The default: 10,000 rows, for inserts and for atMost.
    assert Settings().max_write_rows == 10_000
    assert api.graph.settings.max_write_rows == 10_000
    error = await refused_unchanged(
        api,
        INSERT,
        {"rows": [{"playbookName": f"b{i}"} for i in range(10_001)]},
        "LIMIT_EXCEEDED",
        ("self_healing",),
    )
    assert error["message"].startswith("10001 rows is more than one write may hold (10000")
    error = await refused_unchanged(
        api, DELETE, {"where": {}, "atMost": 10_001}, "LIMIT_EXCEEDED", ("self_healing",)
    )
    assert "10001" in error["message"] and "10000" in error["message"]
    data = await api.data(DELETE, {"where": {}, "atMost": 10_000})
    assert data["deletePlaybooks"]["affectedCount"] == 6


async def test_at_most_exceeded_changes_nothing(api: Api) -> None:
    await insert_playbooks(api, playbook("p1"), playbook("p2"), playbook("p3"))
    low = {"riskLevel": {"eq": "LOW"}}
    error = await refused_unchanged(
        api,
        UPDATE,
        {"where": low, "set": {"owner": "x"}, "atMost": 2},
        "TOO_MANY_MATCHES",
        ("self_healing",),
    )
    assert error["message"].startswith("3 Playbooks match, more than atMost 2")
    error = await refused_unchanged(
        api, DELETE, {"where": low, "atMost": 2}, "TOO_MANY_MATCHES", ("self_healing",)
    )
    assert error["message"].startswith("3 Playbooks match, more than atMost 2")
    await refused_unchanged(
        api, DELETE, {"where": low, "atMost": 0}, "TOO_MANY_MATCHES", ("self_healing",)
    )
    assert column(api, "self_healing", "owner") == [None] * 3
    # Exactly atMost matches: allowed.
    data = await api.data(DELETE, {"where": low, "atMost": 3})
    assert data["deletePlaybooks"]["affectedCount"] == 3
    assert count(api, "self_healing") == 0


async def test_a_filter_matching_everything_needs_at_most(api: Api) -> None:
    await insert_playbooks(api, playbook("p1"), playbook("p2"))
    error = await refused_unchanged(api, DELETE, {"where": {}}, "BAD_USER_INPUT", ("self_healing",))
    assert error["extensions"]["argumentPath"] == ["where"]
    await refused_unchanged(
        api,
        "mutation { deletePlaybooks(where: {}) { affectedCount } }",
        None,
        "BAD_USER_INPUT",
        ("self_healing",),
    )
    await refused_unchanged(
        api, UPDATE, {"where": {}, "set": {"owner": "x"}}, "BAD_USER_INPUT", ("self_healing",)
    )
    data = await api.data(DELETE, {"where": {}, "atMost": 2})
    assert data["deletePlaybooks"]["affectedCount"] == 2
    # A negative atMost.
    await insert_playbooks(api, playbook("p1"))
    for query, variables in [
        (DELETE, {"where": named("p1"), "atMost": -1}),
        (UPDATE, {"where": named("p1"), "set": {"owner": "x"}, "atMost": -1}),
    ]:
        error = await refused_unchanged(api, query, variables, "BAD_USER_INPUT", ("self_healing",))
        assert error["extensions"]["argumentPath"] == ["atMost"]
    assert column(api, "self_healing", "owner") == [None]


# -- upserts --------------------------------------------------------------------------------


async def test_upsert_inserts_new_keys_and_updates_only_the_listed_fields(api: Api) -> None:
    await insert_playbooks(
        api, playbook("p1", owner="old", trustScore=0.1, version="1.0", riskLevel="LOW")
    )
    (before,) = (await api.data("{ playbooks { id createdAt } }"))["playbooks"]
    data = await api.data(
        UPSERT,
        {
            "rows": [
                playbook("p2", owner="fresh", trustScore=0.5, riskLevel="MEDIUM"),
                playbook("p1", owner="new", trustScore=0.9, version="2.0", riskLevel="HIGH"),
            ],
            "update": ["riskLevel", "trustScore"],
        },
    )
    result = data["insertPlaybooks"]
    assert result["affectedCount"] == 2
    p2, p1 = result["rows"]
    assert p1 == {
        "id": before["id"],
        "playbookName": "p1",
        "riskLevel": "HIGH",
        "trustScore": 0.9,
        "owner": "old",  # not listed: kept
        "version": "1.0",
        "createdAt": before["createdAt"],
    }
    assert p2["playbookName"] == "p2" and p2["owner"] == "fresh" and p2["riskLevel"] == "MEDIUM"
    assert int(p2["id"]) > int(p1["id"])
    assert column(api, "self_healing", "owner", order_by="playbook_name") == ["old", "fresh"]
    assert column(api, "self_healing", "risk_level", order_by="playbook_name") == [
        "high",
        "medium",
    ]


async def test_upsert_with_no_fields_keeps_existing_rows_and_returns_them(api: Api) -> None:
    await insert_playbooks(api, playbook("p1", owner="old"))
    data = await api.data(
        UPSERT,
        {"rows": [playbook("p1", owner="new"), playbook("p2", owner="two")], "update": []},
    )
    result = data["insertPlaybooks"]
    assert [(r["playbookName"], r["owner"]) for r in result["rows"]] == [
        ("p1", "old"),
        ("p2", "two"),
    ]
    # affectedCount is left open: it counts the kept row too (2), while its description says
    # "inserted, changed or deleted", which the kept row was not.
    assert column(api, "self_healing", "owner") == ["old", "two"]


async def test_a_retried_upsert_is_idempotent(api: Api) -> None:
    variables = {
        "rows": [playbook("p1", owner="a", trustScore=0.2), playbook("p2", version="3")],
        "update": ["owner", "trustScore", "version"],
    }
    first = (await api.data(UPSERT, variables))["insertPlaybooks"]
    table = counts(api, "self_healing")
    second = (await api.data(UPSERT, variables))["insertPlaybooks"]
    assert second == first
    assert counts(api, "self_healing") == table == {"self_healing": 2}


async def test_upsert_field_names_are_checked_by_graphql(api: Api) -> None:
    await insert_playbooks(api, playbook("p1"))
    for name in ("nope", "playbookName", "id", "createdAt"):
        error = await refused_unchanged(
            api,
            'mutation { insertPlaybooks(rows: [{playbookName: "p1", actions: [], '
            f"riskLevel: HIGH}}], onConflict: {{update: [{name}]}}) {{ affectedCount }} }}",
            None,
            "BAD_USER_INPUT",
            ("self_healing",),
        )
        assert f"'{name}' does not exist in 'PlaybookUpsertField'" in error["message"]
    # Through a variable too.
    error = await refused_unchanged(
        api,
        UPSERT,
        {"rows": [playbook("p1")], "update": ["playbookName"]},
        "BAD_USER_INPUT",
        ("self_healing",),
    )
    assert "playbookName" in error["message"]
    assert column(api, "self_healing", "risk_level") == ["low"]
    # One key twice in one upsert: which row should win? Neither.
    await insert_playbooks(api, playbook("p7", owner="old"))
    error = await refused_unchanged(
        api,
        UPSERT,
        {"rows": [playbook("p7", owner="a"), playbook("p7", owner="b")], "update": ["owner"]},
        "CONFLICT",
        ("self_healing",),
    )
    assert problems(error) == [("rows[1].playbookName", "'p7' is also given at rows[0]")]
    assert column(api, "self_healing", "owner") == [None, "old"]


# -- mutations of one operation ---------------------------------------------------------------


async def test_each_mutation_field_commits_on_its_own(api: Api) -> None:
    """Mutation fields run one after the other, each in its own transaction. A field that fails
    answers null with its error; the fields before it stay committed and the ones after it
    still run, and the response shows both."""
    body = await api.post(
        'mutation { a: insertPlaybooks(rows: [{playbookName: "p1", actions: [], '
        'riskLevel: LOW}]) { affectedCount } b: insertPlaybooks(rows: [{playbookName: "p1", '
        "actions: [], riskLevel: LOW}]) { affectedCount } c: insertPlaybooks(rows: "
        '[{playbookName: "p2", actions: [], riskLevel: LOW}]) { affectedCount } }'
    )
    assert body["data"] == {"a": {"affectedCount": 1}, "b": None, "c": {"affectedCount": 1}}
    (error,) = body["errors"]
    assert error["path"] == ["b"] and error["extensions"]["code"] == "CONFLICT"
    assert column(api, "self_healing", "playbook_name") == ["p1", "p2"]


async def test_mutations_are_refused_over_get(api: Api) -> None:
    query = (
        'mutation { insertPlaybooks(rows: [{playbookName: "p1", actions: [], riskLevel: LOW}]) '
        "{ affectedCount } }"
    )
    response = await api.get(f"/graphql?query={quote(query)}")
    assert response.status_code == 400
    assert count(api, "self_healing") == 0


# -- append-only tables ---------------------------------------------------------------------

DECISION = {
    "decisionType": "APPROVAL",
    "subject": "Enable playbook p1",
    "subjectType": "PLAYBOOK",
    "subjectRef": "p1",
    "riskLevel": "LOW",
    "decisionMaker": "unified_logic",
    "decisionOutcome": "APPROVED",
}
INSERT_DECISIONS = """
mutation($rows: [GovernanceDecisionInsert!]!) {
  insertGovernanceDecisions(rows: $rows) { affectedCount rows { decisionId auditStamp } }
}"""


async def test_append_only_tables_have_no_update_delete_or_upsert(api: Api) -> None:
    for query in [
        'mutation { updateGovernanceDecisions(where: {}, set: {subject: "x"}, atMost: 1) '
        "{ affectedCount } }",
        "mutation { deleteGovernanceDecisions(where: {}, atMost: 1) { affectedCount } }",
        'mutation { insertGovernanceDecisions(rows: [{decisionId: "d1", decisionType: '
        'APPROVAL, subject: "s", subjectType: OTHER, riskLevel: LOW, decisionMaker: "m", '
        "decisionOutcome: APPROVED}], onConflict: {update: []}) { affectedCount } }",
    ]:
        await refused_unchanged(api, query, None, "GRAPHQL_VALIDATION_FAILED", ("governance",))
    error = await refused_unchanged(
        api,
        INSERT_DECISIONS,
        {"rows": [{"decisionId": "d1", **DECISION, "auditStamp": "sha256:forged"}]},
        "BAD_USER_INPUT",
        ("governance",),
    )
    assert "unknown field 'auditStamp'" in error["message"]


async def test_decisions_get_chained_audit_stamps(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    # A database of its own: rows of an append-only table cannot be deleted afterwards.
    api = serve(empty_db, spec, catalog)
    data = await api.data(
        INSERT_DECISIONS,
        {"rows": [{"decisionId": "d1", **DECISION}, {"decisionId": "d2", **DECISION}]},
    )
    first, second = data["insertGovernanceDecisions"]["rows"]
    (third,) = (await api.data(INSERT_DECISIONS, {"rows": [{"decisionId": "d3", **DECISION}]}))[
        "insertGovernanceDecisions"
    ]["rows"]
    stamps = [r["auditStamp"] for r in (first, second, third)]
    assert all(s.startswith("sha256:") for s in stamps)
    assert len(set(stamps)) == 3
    assert column(api, "governance", "audit_stamp") == stamps
    with api.db.engine.connect() as conn:
        report = verify_chain(conn, api.graph.catalog, api.graph.spec.table("governance"))
    assert report.intact and report.rows == 3 and report.head == stamps[-1]


async def test_an_optional_unique_field_may_be_left_out(
    empty_db: TestDatabase, tmp_path: Path
) -> None:
    zoo = Path(__file__).parent / "fixtures" / "zoo"
    spec = load_spec(zoo / "schemas", zoo / "relations.yaml")
    keepers = serve(empty_db, spec, build_catalog(spec))
    # Keeper.badge is `unique: true` and optional.
    body = await keepers.post(
        'mutation { insertKeepers(rows: [{keeperCode: "k1", fullName: "K"}]) '
        "{ affectedCount rows { keeperCode badge } } }"
    )
    assert "errors" not in body, body["errors"]
    assert body["data"]["insertKeepers"]["rows"] == [{"keeperCode": "k1", "badge": None}]
