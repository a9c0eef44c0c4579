"""Write variables GraphQL refuses: its refusals and the spec's problems come back together.

graphql-core refuses a variable's value (wrong type, unknown enum value or field, null in a
list) before anything runs; graph/gql/coercion.py then answers, for each write variable, ONE
BAD_USER_INPUT request error (no data) listing GraphQL's refusals and the spec's problems with
the values it did take, in input order, with paths as an executed write names them. Every test
also checks that nothing was written, with plain SQL (tests/writes.py).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from graphql import GraphQLSchema, OperationDefinitionNode, parse
from graphql.execution import get_variable_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.gql.build import build_schema
from graph.settings import Settings
from graph.spec import Spec
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase
from tests.writes import api_for, column, counts, empty_tables, log, problems

TABLES = ("self_healing", "execution_logs", "sops")

INSERT = """
mutation($rows: [PlaybookInsert!]!) {
  insertPlaybooks(rows: $rows) { affectedCount }
}"""
UPDATE = """
mutation($where: PlaybookWhere!, $set: PlaybookSet!) {
  updatePlaybooks(where: $where, set: $set, atMost: 10) { affectedCount }
}"""


def playbook(name: str, **fields: Any) -> dict[str, Any]:
    return {"playbookName": name, "actions": [{"step": 1}], "riskLevel": "LOW", **fields}


@pytest.fixture
def api(shipped_db: TestDatabase, spec: Spec, catalog: Catalog) -> Api:
    """The API over the shipped spec's tables (tests/conftest.py), emptied for this test."""
    empty_tables(shipped_db, spec, catalog)
    return api_for(shipped_db, spec, catalog)


@pytest.fixture(scope="module")
def graphql_schema(spec: Spec) -> GraphQLSchema:
    schema: GraphQLSchema = build_schema(spec, Settings())._schema
    return schema


async def refused_request(api: Api, query: str, variables: dict[str, Any]) -> list[Any]:
    """The errors of a request GraphQL refused as a whole: no data, every error
    BAD_USER_INPUT, and no table changed."""
    before = counts(api, *TABLES)
    body = await api.post(query, variables)
    assert body.get("data") is None, body
    errors: list[Any] = body["errors"]
    assert errors and all(e["extensions"]["code"] == "BAD_USER_INPUT" for e in errors), errors
    assert counts(api, *TABLES) == before
    return errors


def listed(expected: list[tuple[str, str]]) -> str:
    return f"{len(expected)} invalid values: " + "; ".join(f"{p}: {m}" for p, m in expected)


# -- inserts --------------------------------------------------------------------------------


async def test_type_and_spec_errors_of_many_rows_come_in_one_error(api: Api) -> None:
    rows: list[dict[str, Any]] = [playbook(f"ok{i}") for i in range(6)]
    rows[0] = playbook(" p0", trustScore="high", timeoutSeconds=-1)
    rows[2] = {
        "playbookName": "p2",
        "description": "a\x00b",
        "actions": None,
        "riskLevel": "low",  # the stored value, not the GraphQL member LOW
        "enabled": "yes",
        "owner": "x" * 129,
    }
    rows[4] = {"playbookName": 42, "actions": "steps", "successRate": 1.5, "nope": 1}
    (error,) = await refused_request(api, INSERT, {"rows": rows})
    expected = [
        ("rows[0].playbookName", "a key cannot start or end with white space"),
        ("rows[0].timeoutSeconds", "-1 is below the minimum 0"),
        ("rows[0].trustScore", "Float cannot represent non numeric value: 'high'"),
        ("rows[2].description", "text cannot hold the NUL character (\\u0000)"),
        ("rows[2].actions", "is required and cannot be null"),
        (
            "rows[2].riskLevel",
            "Value 'low' does not exist in 'PlaybookRiskLevel' enum. "
            "Did you mean the enum value 'LOW'?",
        ),
        ("rows[2].enabled", "Boolean cannot represent a non boolean value: 'yes'"),
        ("rows[2].owner", "129 characters is longer than the maximum length 128"),
        ("rows[4].playbookName", "String cannot represent a non string value: 42"),
        ("rows[4].actions", "expected a JSON object or array, not 'steps'"),
        ("rows[4].successRate", "1.5 is above the maximum 1"),
        (
            "rows[4].nope",
            "Expected value of type 'PlaybookInsert' not to include unknown field 'nope'.",
        ),
        # The spec's required fields the row leaves out come last, as in an executed write;
        # the refused riskLevel of rows[2] is not "required" on top of its refusal.
        ("rows[4].riskLevel", "is required"),
    ]
    assert problems(error) == expected
    assert error["message"] == listed(expected)
    assert error["locations"] == [{"line": 2, "column": 10}]
    assert "path" not in error


async def test_only_refusals_string_null_element_unknown_field(api: Api) -> None:
    rows = [
        playbook("p0", successRate="high"),
        playbook("p1", targetComponents=[None, "billing-api", None]),
        {"playbookName": "p2", "actions": [], "riskLevl": "HIGH"},
        None,
    ]
    (error,) = await refused_request(api, INSERT, {"rows": rows})
    assert problems(error) == [
        ("rows[0].successRate", "Float cannot represent non numeric value: 'high'"),
        (
            "rows[1].targetComponents[0]",
            "Expected value of non-null type 'String!' not to be None.",
        ),
        (
            "rows[1].targetComponents[2]",
            "Expected value of non-null type 'String!' not to be None.",
        ),
        (
            "rows[2].riskLevl",
            "Expected value of type 'PlaybookInsert' not to include unknown field 'riskLevl'. "
            "Did you mean 'riskLevel'?",
        ),
        # The misspelt field leaves the required one out: the spec says so too.
        ("rows[2].riskLevel", "is required"),
        ("rows[3]", "Expected value of non-null type 'PlaybookInsert!' not to be None."),
    ]


async def test_the_variable_itself_refused(api: Api) -> None:
    (error,) = await refused_request(api, INSERT, {"rows": None})
    assert problems(error) == [
        ("rows", "Expected value of non-null type '[PlaybookInsert!]!' not to be None.")
    ]
    (error,) = await refused_request(api, INSERT, {})
    assert problems(error) == [
        ("rows", "Expected a value of non-null type '[PlaybookInsert!]!' to be provided.")
    ]
    # A row that is no object; a single row for the list counts as a list of one (index 0).
    (error,) = await refused_request(api, INSERT, {"rows": [playbook("p0"), "p1"]})
    assert problems(error) == [
        ("rows[1]", "Expected value of type 'PlaybookInsert' to be an object, found: 'p1'.")
    ]
    (error,) = await refused_request(api, INSERT, {"rows": playbook("p0", enabled=1, trustScore=2)})
    assert problems(error) == [
        ("rows[0].enabled", "Boolean cannot represent a non boolean value: 1"),
        ("rows[0].trustScore", "2 is above the maximum 1"),
    ]


async def test_custom_scalars_reach_the_spec_as_in_an_executed_write(api: Api) -> None:
    """BigInt, DateTime and enums are coerced by GraphQL's own scalars before the spec checks
    them: the same values and messages as when the write runs."""
    query = """
    mutation($rows: [ExecutionLogInsert!]!) {
      insertExecutionLogs(rows: $rows) { affectedCount }
    }"""

    spec_problems = [
        log("e0", durationMs="-5", startedAt="2026-01-02T03:04:05+01:00"),
        log("e1", durationMs=-7, component="c" * 129),
    ]
    executed = await api.post(query, {"rows": spec_problems})
    assert executed["data"] == {"insertExecutionLogs": None}
    (ran,) = executed["errors"]
    assert problems(ran) == [
        ("rows[0].durationMs", "-5 is below the minimum 0"),
        ("rows[1].component", "129 characters is longer than the maximum length 128"),
        ("rows[1].durationMs", "-7 is below the minimum 0"),
    ]
    refused = [log("e2", startedAt="yesterday", durationMs="1e3", commandType="Deploy")]
    (error,) = await refused_request(api, query, {"rows": spec_problems + refused})
    refusals = problems(error)[len(problems(ran)) :]
    assert problems(error)[: len(problems(ran))] == problems(ran)
    assert [path for path, _message in refusals] == [
        "rows[2].commandType",
        "rows[2].startedAt",
        "rows[2].durationMs",
    ]
    assert refusals[0][1].startswith("Value 'Deploy' does not exist in 'ExecutionLogCommandType'")
    # The scalars' own messages (graph/gql/scalars.py), without graphql-core's prefix.
    assert not any(message.startswith("Variable") for _path, message in refusals)
    assert "yesterday" in refusals[1][1] and "1e3" in refusals[2][1]


# -- updates --------------------------------------------------------------------------------


async def test_update_set_with_a_bad_enum_and_an_out_of_range_value(api: Api) -> None:
    await api.data(INSERT, {"rows": [playbook("p1", owner="ops")]})
    where = {"playbookName": {"eq": "p1"}}
    change = {"owner": "x" * 129, "riskLevel": "EXTREME", "trustScore": 1.7, "enabled": True}
    (error,) = await refused_request(api, UPDATE, {"where": where, "set": change})
    # In the input type's order, not the order sent.
    expected = [
        ("set.riskLevel", "Value 'EXTREME' does not exist in 'PlaybookRiskLevel' enum."),
        ("set.trustScore", "1.7 is above the maximum 1"),
        ("set.owner", "129 characters is longer than the maximum length 128"),
    ]
    assert problems(error) == expected
    assert error["message"] == listed(expected)
    assert error["locations"] == [{"line": 2, "column": 34}]  # $set, not $where
    assert column(api, "self_healing", "owner") == ["ops"]
    assert column(api, "self_healing", "enabled") == [True]


async def test_a_set_whose_every_field_is_refused_is_not_also_empty(api: Api) -> None:
    where = {"playbookName": {"eq": "p1"}}
    (error,) = await refused_request(api, UPDATE, {"where": where, "set": {"riskLevel": 3}})
    assert problems(error) == [
        ("set.riskLevel", "Enum 'PlaybookRiskLevel' cannot represent non-string value: 3.")
    ]
    (error,) = await refused_request(api, UPDATE, {"where": where, "set": {"nope": 3}})
    assert problems(error) == [
        ("set.nope", "Expected value of type 'PlaybookSet' not to include unknown field 'nope'.")
    ]


async def test_a_bad_where_keeps_its_own_error(api: Api) -> None:
    await api.data(INSERT, {"rows": [playbook("p1")]})
    where = {"riskLevel": {"eq": "EXTREME"}}
    (error,) = await refused_request(api, UPDATE, {"where": where, "set": {"owner": "ops"}})
    # graphql-core's own error, as before: only write variables are merged.
    assert error["message"] == (
        "Variable '$where' has invalid value at .riskLevel.eq: Value 'EXTREME' does not exist "
        "in 'PlaybookRiskLevel' enum."
    )
    assert "problems" not in error["extensions"]
    assert error["locations"] == [{"line": 2, "column": 10}]
    # When the request fails anyway, the spec's problems with $set are told at once too.
    errors = await refused_request(api, UPDATE, {"where": where, "set": {"trustScore": -1}})
    assert [e["message"] for e in errors] == [
        error["message"],
        "1 invalid value: set.trustScore: -1 is below the minimum 0",
    ]
    assert problems(errors[1]) == [("set.trustScore", "-1 is below the minimum 0")]
    # A good $set with a bad $where: nothing but the $where error.
    assert column(api, "self_healing", "owner") == [None]


# -- how variables are named -----------------------------------------------------------------


async def test_a_variable_inside_a_literal_is_named_by_the_variable(api: Api) -> None:
    query = """
    mutation($one: PlaybookInsert!) {
      insertPlaybooks(rows: [$one, {playbookName: "lit", actions: [], riskLevel: LOW}]) {
        affectedCount
      }
    }"""
    one = playbook("p1", trustScore="high", timeoutSeconds=-3)
    (error,) = await refused_request(api, query, {"one": one})
    assert problems(error) == [
        ("$one.timeoutSeconds", "-3 is below the minimum 0"),
        ("$one.trustScore", "Float cannot represent non numeric value: 'high'"),
    ]
    assert error["extensions"]["problems"][0]["path"] == ["$one", "timeoutSeconds"]


async def test_a_variable_used_by_two_fields_is_named_by_the_variable(api: Api) -> None:
    query = """
    mutation($rows: [PlaybookInsert!]!) {
      a: insertPlaybooks(rows: $rows) { affectedCount }
      b: insertPlaybooks(rows: $rows) { affectedCount }
    }"""
    rows = [playbook("p1", riskLevel=None), playbook("p2", enabled="no")]
    (error,) = await refused_request(api, query, {"rows": rows})
    assert problems(error) == [
        # null for a nullable input field is GraphQL's to take; the spec refuses it.
        ("$rows[0].riskLevel", "is required and cannot be null"),
        ("$rows[1].enabled", "Boolean cannot represent a non boolean value: 'no'"),
    ]


async def test_two_fields_with_two_bad_variables_give_two_errors(api: Api) -> None:
    query = """
    mutation($books: [PlaybookInsert!]!, $sops: [SopInsert!]!) {
      insertPlaybooks(rows: $books) { affectedCount }
      insertSops(rows: $sops) { affectedCount }
    }"""
    books = [playbook("p1", trustScore=-0.5), playbook("p2", enabled="maybe")]
    sops = [{"sopId": "S1", "title": 5, "version": "1"}, {"sopId": " S2", "title": "t"}]
    first, second = await refused_request(api, query, {"books": books, "sops": sops})
    assert problems(first) == [
        ("rows[0].trustScore", "-0.5 is below the minimum 0"),
        ("rows[1].enabled", "Boolean cannot represent a non boolean value: 'maybe'"),
    ]
    assert first["locations"] == [{"line": 2, "column": 14}]
    sop_problems = problems(second)
    assert sop_problems[0] == ("rows[0].title", "String cannot represent a non string value: 5")
    assert sop_problems[1] == ("rows[1].sopId", "a key cannot start or end with white space")
    assert second["locations"] == [{"line": 2, "column": 42}]


async def test_a_variable_in_a_fragment_is_named_by_its_argument(api: Api) -> None:
    query = """
    fragment Write on Mutation { insertPlaybooks(rows: $rows) { affectedCount } }
    mutation($rows: [PlaybookInsert!]!) { ...Write }
    """
    rows = [playbook("p1", trustScore=3, riskLevel="SEVERE")]
    (error,) = await refused_request(api, query, {"rows": rows})
    assert problems(error) == [
        ("rows[0].riskLevel", "Value 'SEVERE' does not exist in 'PlaybookRiskLevel' enum."),
        ("rows[0].trustScore", "3 is above the maximum 1"),
    ]
    assert error["locations"] == [{"line": 3, "column": 14}]


# -- limits ---------------------------------------------------------------------------------


async def test_more_refusals_than_graphql_reports_are_all_listed(api: Api) -> None:
    """graphql-core stops after 50 refusals; the merged error names every one of them."""
    rows = [playbook(f"p{i}", riskLevel="NONE") for i in range(60)]
    (error,) = await refused_request(api, INSERT, {"rows": rows})
    assert [path for path, _message in problems(error)] == [
        f"rows[{i}].riskLevel" for i in range(60)
    ]
    # When graphql-core stopped before reaching a variable that is no write variable, its
    # notice stays: that variable may hold more refused values.
    query = """
    mutation($set: PlaybookSet!, $where: PlaybookWhere!) {
      updatePlaybooks(where: $where, set: $set, atMost: 1) { affectedCount }
    }"""
    change = {"targetComponents": [None] * 55}
    where = {"riskLevel": {"eq": "EXTREME"}}
    body = await api.post(query, {"set": change, "where": where})
    assert body.get("data") is None
    merged, notice = body["errors"]
    assert merged["extensions"]["code"] == "BAD_USER_INPUT"
    assert len(problems(merged)) == 55
    # Its code is what it was before (it names no variable).
    assert notice["message"].startswith("Too many errors processing variables")


async def test_a_list_above_the_write_limit_keeps_graphql_errors(
    api: Api, spec: Spec, catalog: Catalog
) -> None:
    """The executed write refuses so many rows before checking any (LIMIT_EXCEEDED); a refused
    variable that long keeps graphql-core's errors, and the spec's checks are spared."""
    small = api_for(api.db, spec, catalog, Settings(max_write_rows=2))
    rows = [playbook("p0", trustScore=7), playbook("p1"), playbook("p2", enabled="x")]
    (error,) = await refused_request(small, INSERT, {"rows": rows})
    assert error["message"].startswith("Variable '$rows' has invalid value at [2].enabled:")
    (error,) = await refused_request(small, INSERT, {"rows": rows[1:]})
    assert problems(error) == [
        ("rows[1].enabled", "Boolean cannot represent a non boolean value: 'x'")
    ]


# -- generated rows --------------------------------------------------------------------------

# Per field of PlaybookInsert: values that are right, values GraphQL takes but the spec refuses,
# and values GraphQL refuses. (NaN and lone surrogates are not JSON: the transport refuses the
# body before GraphQL reads it, tests/security.)
FIELDS: dict[str, tuple[list[Any], list[Any], list[Any]]] = {
    "description": (["d"], ["a\x00b"], [1.5]),
    "triggerConditions": ([{"a": 1}], ["text"], []),
    "actions": ([[{"step": 1}]], [None, "steps"], []),
    "targetComponents": ([["a"], None], [["a\x00"]], [[None], ["a", 5]]),
    "riskLevel": (["LOW", "CRITICAL"], [None], ["EXTREME", "low"]),
    "requiresApproval": ([True], [], ["yes", 1]),
    "enabled": ([False], [], [0]),
    "successRate": ([0.5], [1.5, -0.1], ["x", True]),
    "timeoutSeconds": ([30], [-1], [1.5, 2**40]),
    "trustScore": ([0.9, 1], [1.7], [False, "high"]),
    "owner": (["ops"], ["x" * 129], [[1]]),
    "version": (["1"], ["v\x00"], [{}]),
}
ORDER = ["playbookName", *FIELDS]  # PlaybookInsert's field order
_ABSENT = object()
_PREFIX = re.compile(r"Variable '\$rows' has invalid value(?: at (\S+))?: (.*)", re.DOTALL)


@st.composite
def generated_row(draw: st.DrawFn, index: int) -> tuple[dict[str, Any], set[str]]:
    """A row, and the fields of it GraphQL refuses."""
    row: dict[str, Any] = {}
    refused: set[str] = set()
    name = draw(st.sampled_from([f"p{index}", " lead", "", 5, _ABSENT]))
    if name is not _ABSENT:
        row["playbookName"] = name
        if name == 5:
            refused.add("playbookName")
    for field, (good, spec_bad, graphql_bad) in FIELDS.items():
        kind = draw(st.sampled_from(["absent", "good", "spec", "graphql"]))
        choices = {"good": good, "spec": spec_bad, "graphql": graphql_bad}.get(kind, [])
        if choices:
            row[field] = draw(st.sampled_from(choices))
            if kind == "graphql":
                refused.add(field)
    if draw(st.booleans()):
        row["nope"] = 1
        refused.add("nope")
    # Sent in any order: problems still come in the input type's order.
    keys = draw(st.permutations(list(row)))
    return {key: row[key] for key in keys}, refused


def graphql_refusals(schema: GraphQLSchema, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What graphql-core itself says of the rows, as (path, message) pairs."""
    operation = parse(INSERT).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    errors = get_variable_values(schema, operation.variable_definitions, {"rows": rows})
    assert isinstance(errors, list)
    refusals = []
    for error in errors:
        match = _PREFIX.fullmatch(error.message)
        assert match, error.message
        path, message = "rows" + (match.group(1) or ""), match.group(2)
        if "not to include unknown field 'nope'" in message:
            path, message = f"{path}.nope", message.split(", found:")[0] + "."
        refusals.append((path, message))
    return refusals


def field_of(path: str) -> tuple[int, str]:
    match = re.match(r"rows\[(\d+)\]\.(\w+)", path)
    assert match, path
    return int(match.group(1)), match.group(2)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.integers(1, 4).flatmap(lambda n: st.tuples(*(generated_row(i) for i in range(n)))),
)
async def test_generated_rows_list_refusals_and_spec_problems_as_an_executed_write(
    api: Api,
    graphql_schema: GraphQLSchema,
    cases: tuple[tuple[dict[str, Any], set[str]], ...],
) -> None:
    rows = [row for row, _refused in cases]
    refused = {(i, field) for i, (_row, fields) in enumerate(cases) for field in fields}
    # A last row the spec refuses, so that the executed write below never writes.
    last = playbook("zz", trustScore=1.7)
    # The spec's problems when the write runs: the rows without what GraphQL refuses.
    stripped = [
        {k: v for k, v in row.items() if (i, k) not in refused} for i, row in enumerate(rows)
    ]
    before = counts(api, *TABLES)
    executed = await api.post(INSERT, {"rows": [*stripped, last]})
    assert executed["data"] == {"insertPlaybooks": None}, executed
    (ran,) = executed["errors"]
    spec_expected = [p for p in problems(ran) if field_of(p[0]) not in refused]
    if not refused:
        return  # nothing for GraphQL to refuse: the executed write is the whole story
    (error,) = await refused_request(api, INSERT, {"rows": [*rows, last]})
    found = problems(error)
    assert counts(api, *TABLES) == before
    # GraphQL's refusals: those graphql-core itself makes, in its words, each field once.
    refusals = [p for p in found if field_of(p[0]) in refused]
    assert sorted(refusals) == sorted(graphql_refusals(graphql_schema, [*rows, last]))
    assert {field_of(path) for path, _message in refusals} == refused
    # The spec's problems: exactly those of the executed write, in the same order.
    assert [p for p in found if field_of(p[0]) not in refused] == spec_expected
    # Input order: rows in turn, in each the given fields in the input type's order, then
    # the unknown ones, then the required ones left out.
    ranks = []
    for path, _message in found:
        index, field = field_of(path)
        given = field in rows[index] if index < len(rows) else field in last
        rank = ORDER.index(field) if given and field in ORDER else (100 if given else 200)
        ranks.append((index, rank))
    assert ranks == sorted(ranks), found
    assert error["message"] == listed(found)
