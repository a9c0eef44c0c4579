"""Hostile values in reads (docs/api.md, docs/security.md): every one gets HTTP 200 with a
`BAD_USER_INPUT` error that says what is wrong (and, where the planner knows it, the argument's
path), the same on SQLite and PostgreSQL, and changes nothing; never an internal error, never a
silent answer.

The families: NUL characters anywhere a string reaches SQL; datetimes whose offset leaves the
years 1..9999, `24:00:00`, more than six fractional digits; Float literals beyond the doubles
(`1e400` reads as infinity); durations too long for any window; altered keyset cursors;
filters nested too deep. Then values only raw SQL can store and GraphQL cannot represent
(NaN, infinities, PostgreSQL's `infinity` instant), which read as null and keep the database's
order, and the Python registry, which plans filters with the same planner.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from graph.errors import UserInputError
from graph.registry import Registry
from graph.settings import Settings
from graph.spec import Spec
from graph.sql.tables import Catalog
from graph.where import MAX_FILTER_DEPTH, MAX_RELATION_DEPTH
from tests.api import Api, loop_tries
from tests.databases import TestDatabase
from tests.security.test_http import fingerprint
from tests.writes import api_for, empty_tables

BAD = "BAD_USER_INPUT"
NUL = "a NUL character (U+0000) cannot be stored or compared"
NOT_FINITE = "is not a finite number"
DAMAGED = "cursor is damaged"
LEAKS = ("Traceback", "sqlalchemy", "psycopg", "sqlite3", "Internal server error")
# Every sort key type of execution logs in one ordering: a cursor of it holds a datetime, a
# string, a bigint, an int and an enum rank, then the id.
CURSOR_ORDER = (
    "[{startedAt: DESC}, {component: ASC}, {durationMs: ASC}, {exitCode: ASC}, {status: ASC}]"
)
CONNECTION = (
    "query($after: String) { executionLogsConnection(first: 2, after: $after, orderBy: "
    + CURSOR_ORDER
    + ") { edges { cursor node { executionId } } } }"
)
STARTED_AT, COMPONENT, DURATION, EXIT_CODE, STATUS, ID = range(1, 7)


@dataclass(frozen=True)
class Case:
    """One hostile request and the refusal it must get."""

    name: str
    query: str
    variables: dict[str, Any] | None = None
    message: str = ""  # a part of the error message
    path: list[str | int] | None = None  # extensions.argumentPath, where one is expected


def nul_case(name: str, query: str, path: list[str | int] | None, value: Any = "a\x00b") -> Case:
    return Case(f"NUL {name}", query, {"v": value}, NUL, path)


def nested(depth: int, wrap: Callable[[Any], Any], inner: Any) -> Any:
    return functools.reduce(lambda filter_, _: wrap(filter_), range(depth), inner)


def nots_literal(depth: int, inner: str) -> str:
    return "{not: " * depth + inner + "}" * depth


NUL_CASES = [
    nul_case(
        "eq",
        "query($v: String) { executionLogs(where: {component: {eq: $v}}) { id } }",
        ["executionLogs", "where", "component", "eq"],
    ),
    Case(
        "NUL eq literal",
        '{ executionLogs(where: {component: {eq: "a\\u0000"}}) { id } }',
        message=NUL,
        path=["executionLogs", "where", "component", "eq"],
    ),
    nul_case(
        "neq",
        "query($v: String) { executionLogs(where: {component: {neq: $v}}) { id } }",
        ["executionLogs", "where", "component", "neq"],
    ),
    nul_case(
        "gt",
        "query($v: String) { executionLogs(where: {component: {gt: $v}}) { id } }",
        ["executionLogs", "where", "component", "gt"],
    ),
    nul_case(
        "in, second value",
        "query($v: [String!]) { executionLogs(where: {component: {in: $v}}) { id } }",
        ["executionLogs", "where", "component", "in", 1],
        ["auth-service", "\x00"],
    ),
    nul_case(
        "nin",
        "query($v: [String!]) { executionLogs(where: {component: {nin: $v}}) { id } }",
        ["executionLogs", "where", "component", "nin", 0],
        ["\x00"],
    ),
    nul_case(
        "like",
        "query($v: String) { executionLogs(where: {component: {like: $v}}) { id } }",
        ["executionLogs", "where", "component", "like"],
        "auth%\x00",
    ),
    nul_case(
        "ilike",
        "query($v: String) { executionLogs(where: {component: {ilike: $v}}) { id } }",
        ["executionLogs", "where", "component", "ilike"],
    ),
    nul_case(
        "startsWith",
        "query($v: String) { executionLogs(where: {component: {startsWith: $v}}) { id } }",
        ["executionLogs", "where", "component", "startsWith"],
    ),
    nul_case(
        "contains",
        "query($v: String) { executionLogs(where: {command: {contains: $v}}) { id } }",
        ["executionLogs", "where", "command", "contains"],
        "\x00",
    ),
    nul_case(
        "endsWith",
        "query($v: String) { executionLogs(where: {command: {endsWith: $v}}) { id } }",
        ["executionLogs", "where", "command", "endsWith"],
    ),
    nul_case(
        "list includes",
        "query($v: String) { playbooks(where: {targetComponents: {includes: $v}}) { id } }",
        ["playbooks", "where", "targetComponents", "includes"],
    ),
    nul_case(
        "list includesAny element",
        "query($v: [String!]) { playbooks(where: {targetComponents: {includesAny: $v}}) { id } }",
        ["playbooks", "where", "targetComponents", "includesAny", 2],
        ["a", "b", "c\x00"],
    ),
    nul_case(
        "json contains value",
        "query($v: JSON) { executionLogs(where: {resourceUsage: {contains: $v}}) { id } }",
        ["executionLogs", "where", "resourceUsage", "contains", "cpu", 0],
        {"cpu": ["\x00"]},
    ),
    nul_case(
        "json contains object key",
        "query($v: JSON) { executionLogs(where: {resourceUsage: {contains: $v}}) { id } }",
        ["executionLogs", "where", "resourceUsage", "contains"],
        {"cpu\x00": 1},
    ),
    nul_case(
        "json hasKey",
        "query($v: String) { executionLogs(where: {resourceUsage: {hasKey: $v}}) { id } }",
        ["executionLogs", "where", "resourceUsage", "hasKey"],
    ),
    # A lookup's key reaches SQL outside the planner: refused all the same, without a path.
    nul_case("lookup key", "query($v: String) { executionLog(executionId: $v) { id } }", None),
    nul_case(
        "having",
        "query($v: String) { executionLogsAggregate(groupBy: [{field: STATUS}], "
        "having: {min: {component: {eq: $v}}}) { count } }",
        ["executionLogsAggregate", "having", "min", "component", "eq"],
    ),
    nul_case(
        "aggregate where",
        "query($v: String) { executionLogsAggregate(where: {component: {eq: $v}}) { count } }",
        ["executionLogsAggregate", "where", "component", "eq"],
    ),
    nul_case(
        "connection where",
        "query($v: String) { executionLogsConnection(where: {component: {eq: $v}}) "
        "{ totalCount } }",
        ["executionLogsConnection", "where", "component", "eq"],
    ),
    nul_case(
        "to-one relation filter",
        "query($v: String) { executionLogs(where: {playbook: {owner: {eq: $v}}}) { id } }",
        ["executionLogs", "where", "playbook", "owner", "eq"],
    ),
    nul_case(
        "to-many relation filter",
        "query($v: String) { playbooks(where: {executions: {every: {component: {eq: $v}}}}) "
        "{ id } }",
        ["playbooks", "where", "executions", "every", "component", "eq"],
    ),
    nul_case(
        "relation measure filter",
        "query($v: String) { playbooks(where: {executionsAggregate: "
        "{filter: {component: {eq: $v}}, count: {gt: 0}}}) { id } }",
        ["playbooks", "where", "executionsAggregate", "filter", "component", "eq"],
    ),
    nul_case(
        "relation list field",
        'query($v: String) { playbook(playbookName: "x") '
        "{ executions(where: {component: {eq: $v}}) { id } } }",
        ["playbook", "executions", "where", "component", "eq"],
    ),
    nul_case(
        "mutation where",
        "mutation($v: String) { deleteExecutionLogs(where: {component: {eq: $v}}, atMost: 1) "
        "{ affectedCount } }",
        ["deleteExecutionLogs", "where", "component", "eq"],
    ),
]

DATETIME = "query($v: DateTime) { executionLogs(where: {startedAt: {gt: $v}}) { id } }"
OUTSIDE_YEARS = "the instant in UTC is outside years 1 to 9999"


def datetime_literal(name: str, value: str, message: str) -> Case:
    return Case(
        f"DateTime literal {name}",
        f'{{ executionLogs(where: {{startedAt: {{gte: "{value}"}}}}) {{ id }} }}',
        message=message,
    )


def datetime_variable(name: str, value: str, message: str) -> Case:
    return Case(f"DateTime variable {name}", DATETIME, {"v": value}, message)


DATETIME_CASES = [
    datetime_literal("-14:00 past year 9999", "9999-12-31T23:59:59-14:00", OUTSIDE_YEARS),
    datetime_variable("-14:00 past year 9999", "9999-12-31T23:59:59-14:00", OUTSIDE_YEARS),
    datetime_literal("+14:00 before year 1", "0001-01-01T00:00:00+14:00", OUTSIDE_YEARS),
    datetime_variable("+14:00 before year 1", "0001-01-01T00:00:00+14:00", OUTSIDE_YEARS),
    datetime_variable("-00:01 past year 9999", "9999-12-31T23:59:59.999999-00:01", OUTSIDE_YEARS),
    datetime_literal("24:00:00", "2026-01-01T24:00:00Z", "hour must be in 0..23"),
    datetime_variable("24:00:00", "2026-01-01T24:00:00Z", "hour must be in 0..23"),
    datetime_variable("second 60", "2026-06-30T23:59:60Z", "second must be in 0..59"),
    datetime_literal("7 fractional digits", "2026-01-01T00:00:00.1234567Z", "at most 6"),
    datetime_variable("7 fractional digits", "2026-01-01T00:00:00.1234567Z", "at most 6"),
    datetime_variable("year 10000", "10000-01-01T00:00:00Z", "expected an RFC 3339"),
    datetime_variable("offset +24:00", "2026-01-01T00:00:00+24:00", "between -23:59 and +23:59"),
    datetime_variable("no offset", "2026-01-01T00:00:00", "no offset"),
    Case(
        "DateTime in a list",
        "query($v: [DateTime!]) { executionLogs(where: {startedAt: {in: $v}}) { id } }",
        {"v": ["2026-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"]},
        OUTSIDE_YEARS,
    ),
    Case(
        "DateTime in having",
        "{ executionLogsAggregate(groupBy: [{field: STATUS}], having: "
        '{max: {startedAt: {lt: "0001-01-01T00:00:00+14:00"}}}) { count } }',
        message=OUTSIDE_YEARS,
    ),
    Case(
        "Date 0000-01-01",
        '{ complianceReports(where: {periodStart: {gt: "0000-01-01"}}) { id } }',
        message="year 0 is out of range",
    ),
]


def float_case(name: str, query: str, path: list[str | int], message: str = NOT_FINITE) -> Case:
    return Case(f"Float literal {name}", query, message=message, path=path)


FLOAT_CASES = [
    float_case(
        "1e400",
        "{ playbooks(where: {successRate: {gt: 1e400}}) { id } }",
        ["playbooks", "where", "successRate", "gt"],
    ),
    float_case(
        "-1e400",
        "{ playbooks(where: {successRate: {lt: -1e400}}) { id } }",
        ["playbooks", "where", "successRate", "lt"],
    ),
    float_case(
        "400-digit integer",
        "{ playbooks(where: {successRate: {eq: 1" + "0" * 400 + "}}) { id } }",
        ["playbooks", "where", "successRate", "eq"],
    ),
    float_case(
        "neq",
        "{ playbooks(where: {successRate: {neq: 1e400}}) { id } }",
        ["playbooks", "where", "successRate", "neq"],
    ),
    float_case(
        "in",
        "{ playbooks(where: {successRate: {in: [0.5, -1e400]}}) { id } }",
        ["playbooks", "where", "successRate", "in", 1],
    ),
    float_case(
        "nin",
        "{ playbooks(where: {successRate: {nin: [1e999]}}) { id } }",
        ["playbooks", "where", "successRate", "nin", 0],
    ),
    float_case(
        "having avg",
        "{ playbooksAggregate(groupBy: [{field: RISK_LEVEL}], "
        "having: {avg: {successRate: {gt: 1e400}}}) { count } }",
        ["playbooksAggregate", "having", "avg", "successRate", "gt"],
    ),
    float_case(
        "having sum of floats",
        "{ playbooksAggregate(groupBy: [{field: RISK_LEVEL}], "
        "having: {sum: {successRate: {lte: -1e400}}}) { count } }",
        ["playbooksAggregate", "having", "sum", "successRate", "lte"],
    ),
    float_case(
        "relation measure",
        "{ playbooks(where: {executionsAggregate: {avg: {durationMs: {gt: 1e400}}}}) { id } }",
        ["playbooks", "where", "executionsAggregate", "avg", "durationMs", "gt"],
    ),
    float_case(
        "json contains",
        "{ executionLogs(where: {resourceUsage: {contains: {cpu: 1e400}}}) { id } }",
        ["executionLogs", "where", "resourceUsage", "contains", "cpu"],
        "NaN and infinity are not JSON values",
    ),
    float_case(
        "percentile",
        "{ playbooksAggregate { p: percentile(p: 1e400) { successRate } } }",
        ["playbooksAggregate", "p", "p"],
        "a percentile lies between 0 and 1",
    ),
]

WINDOW = "query($v: String) { executionLogs(where: {startedAt: {withinLast: $v}}) { id } }"
TOO_LONG = "is longer than 3660 days"


def duration_case(name: str, value: str, message: str = TOO_LONG) -> Case:
    return Case(
        f"duration {name}",
        WINDOW,
        {"v": value},
        message,
        ["executionLogs", "where", "startedAt", "withinLast"],
    )


DURATION_CASES = [
    duration_case("16-digit days", "P9999999999999999D"),
    duration_case("99999999 years", "P99999999Y"),
    duration_case("12-digit hours", "PT999999999999H"),
    duration_case("11 years", "P11Y"),
    duration_case("3661 days", "P3661D"),
    duration_case("digits beyond int()", "P" + "9" * 5000 + "D"),
    duration_case("negative", "-P1D", "is not an ISO 8601 duration"),
    duration_case("empty", "P", "is not an ISO 8601 duration"),
    duration_case("NUL", "P1D\x00", NUL),
    Case(
        "duration olderThan on a date",
        '{ complianceReports(where: {periodStart: {olderThan: "P99999999Y"}}) { id } }',
        message=TOO_LONG,
        path=["complianceReports", "where", "periodStart", "olderThan"],
    ),
    Case(
        "duration hours on a date",
        '{ complianceReports(where: {periodStart: {withinLast: "PT12H"}}) { id } }',
        message="is not a whole number of days",
        path=["complianceReports", "where", "periodStart", "withinLast"],
    ),
    Case(
        "duration in having",
        "{ executionLogsAggregate(groupBy: [{field: STATUS}], "
        'having: {max: {startedAt: {withinLast: "P99999999Y"}}}) { count } }',
        message=TOO_LONG,
        path=["executionLogsAggregate", "having", "max", "startedAt", "withinLast"],
    ),
]

RELATIONS_TOO_DEEP = f"where nests relation filters deeper than {MAX_RELATION_DEPTH} levels"
NESTING_CASES = [
    Case(
        "33 nots, literal",
        "{ playbooks(where: " + nots_literal(MAX_FILTER_DEPTH + 1, "{}") + ") { id } }",
        message=f"where nests and/or/not deeper than {MAX_FILTER_DEPTH} levels",
        path=["playbooks", "where", *["not"] * (MAX_FILTER_DEPTH + 1)],
    ),
    Case(
        "33 nots, variable",
        "query($w: PlaybookWhere) { playbooks(where: $w) { id } }",
        {"w": nested(MAX_FILTER_DEPTH + 1, lambda inner: {"not": inner}, {})},
        f"where nests and/or/not deeper than {MAX_FILTER_DEPTH} levels",
        ["playbooks", "where", *["not"] * (MAX_FILTER_DEPTH + 1)],
    ),
    Case(
        "33 levels of or and not",
        "query($w: PlaybookWhere) { playbooks(where: $w) { id } }",
        {
            "w": nested(
                (MAX_FILTER_DEPTH + 1) // 2 + 1,
                lambda inner: {"not": {"or": [inner]}},
                {"owner": {"eq": "x"}},
            )
        },
        f"where nests and/or/not deeper than {MAX_FILTER_DEPTH} levels",
    ),
    Case(
        "33 nots in having",
        "query($h: PlaybookGroupHaving) { playbooksAggregate(groupBy: [{field: RISK_LEVEL}], "
        "having: $h) { count } }",
        {"h": nested(MAX_FILTER_DEPTH + 1, lambda inner: {"not": inner}, {})},
        f"deeper than {MAX_FILTER_DEPTH} levels",
    ),
    Case(
        "33 nots inside a relation filter",
        "query($w: PlaybookWhere) { executionLogs(where: {playbook: $w}) { id } }",
        {"w": nested(MAX_FILTER_DEPTH + 1, lambda inner: {"not": inner}, {})},
        f"where nests and/or/not deeper than {MAX_FILTER_DEPTH} levels",
    ),
    Case(
        "relation filters 4 deep",
        "{ executionLogs(where: {playbook: {executions: {some: {workOrder: "
        "{executions: {some: {exitCode: {eq: 1}}}}}}}}) { id } }",
        message=RELATIONS_TOO_DEEP,
        path=[
            "executionLogs",
            "where",
            *["playbook", "executions", "some", "workOrder", "executions"],
        ],
    ),
    Case(
        "to-one relation filters 4 deep",
        '{ subAgents(where: {parent: {parent: {parent: {parent: {agentName: {eq: "x"}}}}}}) '
        "{ id } }",
        message=RELATIONS_TOO_DEEP,
        path=["subAgents", "where", "parent", "parent", "parent", "parent"],
    ),
    Case(
        "relation measures 4 deep",
        "{ subAgents(where: {children: {every: {children: {some: {childrenAggregate: "
        '{filter: {parent: {agentName: {eq: "x"}}}, count: {gt: 0}}}}}}}) { id } }',
        message=RELATIONS_TOO_DEEP,
    ),
    Case(
        "orderBy through 4 relations",
        "{ subAgents(orderBy: [{parent: {parent: {parent: {parent: {agentName: ASC}}}}}]) { id } }",
        message=f"orderBy follows relations deeper than {MAX_RELATION_DEPTH} levels",
        path=["subAgents", "orderBy", 0, "parent", "parent", "parent", "parent"],
    ),
]

CASES = [*NUL_CASES, *DATETIME_CASES, *FLOAT_CASES, *DURATION_CASES, *NESTING_CASES]


# -- how one request is sent and checked ---------------------------------------------------------


async def post(app: Any, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
    body = json.dumps({"query": query, "variables": variables or {}})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The one error of a refused request, after the checks every refusal must pass."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == "application/json"
    for leak in LEAKS:
        assert leak not in response.text, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == BAD, response.text
    return dict(error)


def answer(response: httpx.Response) -> dict[str, Any]:
    """The data of a request that must succeed without any error."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, response.text
    return dict(body["data"])


@pytest.fixture(scope="module")
def app(seeded_db: TestDatabase, spec: Spec, catalog: Catalog) -> Any:
    return api_for(seeded_db, spec, catalog).app


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_a_hostile_value_is_refused_as_bad_user_input(
    app: Any, seeded_db: TestDatabase, catalog: Catalog, case: Case
) -> None:
    before = fingerprint(seeded_db, catalog)
    error = refusal(await post(app, case.query, case.variables))
    assert case.message in error["message"], error
    if case.path is not None:
        assert error["extensions"]["argumentPath"] == case.path, error
    assert fingerprint(seeded_db, catalog) == before


def test_every_family_has_its_cases() -> None:
    assert len(NUL_CASES) >= 20 and len(DATETIME_CASES) >= 10 and len(FLOAT_CASES) >= 8
    assert len(DURATION_CASES) >= 8 and len(NESTING_CASES) >= 6


# -- what still runs at the limits --------------------------------------------------------------

AT_THE_LIMITS = {
    "32 nots": "{ playbooks(where: " + nots_literal(MAX_FILTER_DEPTH, "{}") + ") { id } }",
    # 3 relation filters around 32 nots and a computed field that is itself a subquery: the
    # deepest SQL the planner lets through, which SQLite's parser must still read.
    "3 relations, 32 nots, computed leaf": (
        "{ subAgents(where: {assignedWorkOrders: {every: {currentAgents: {every: "
        "{assignedWorkOrders: {every: "
        + nots_literal(MAX_FILTER_DEPTH, "{openFeedbackTickets: {gt: 0}}")
        + "}}}}}}) { id } }"
    ),
    "orderBy through 3 relations and a measure": (
        "{ subAgents(orderBy: [{parent: {parent: {childrenAggregate: {filter: "
        + nots_literal(MAX_FILTER_DEPTH, '{agentName: {ilike: "a%"}}')
        + ", count: DESC}}}}]) { id } }"
    ),
    "a surrogate pair": '{ playbooks(where: {owner: {eq: "\\ud83d\\ude00"}}) { id } }',
    "a datetime at the last instant": (
        '{ executionLogs(where: {startedAt: {lte: "9999-12-31T23:59:59.999999Z"}}, limit: 1) '
        "{ id } }"
    ),
    "a datetime at the first instant, by its offset": (
        '{ executionLogs(where: {startedAt: {gte: "0001-01-01T14:00:00+14:00"}}, limit: 1) { id } }'
    ),
    "a ten-year window": '{ executionLogs(where: {startedAt: {withinLast: "P3660D"}}) { id } }',
    "the largest double": (
        "{ playbooks(where: {successRate: {lt: 1.7976931348623157e308}}) { id } }"
    ),
}


@pytest.mark.parametrize("query", AT_THE_LIMITS.values(), ids=AT_THE_LIMITS.keys())
async def test_values_at_the_limits_still_run(app: Any, query: str) -> None:
    answer(await post(app, query))


# -- cursors --------------------------------------------------------------------------------------


def decoded(cursor: str) -> list[Any]:
    payload: list[Any] = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return payload


def encoded(payload: list[Any]) -> str:
    # json, not orjson: the altered values include integers orjson refuses to write.
    raw = json.dumps(payload, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture(scope="module")
def real_cursor(app: Any) -> list[Any]:
    """A cursor the API made, decoded: [signature, startedAt, component, durationMs,
    exitCode, status rank, id]."""
    data = asyncio.run(_first_page(app))
    cursor: str = data["executionLogsConnection"]["edges"][-1]["cursor"]
    return decoded(cursor)


async def _first_page(app: Any) -> dict[str, Any]:
    return answer(await post(app, CONNECTION))


async def test_the_cursors_of_this_ordering_page_on(app: Any) -> None:
    """The unaltered cursors walk on: three pages, no row twice."""
    seen: list[str] = []
    after = None
    for _ in range(3):
        edges = answer(await post(app, CONNECTION, {"after": after}))["executionLogsConnection"][
            "edges"
        ]
        seen += [edge["node"]["executionId"] for edge in edges]
        after = edges[-1]["cursor"]
    assert len(seen) == len(set(seen)) == 6


CURSOR_EDITS: dict[str, tuple[int, Any]] = {
    "id of 10^30": (ID, 10**30),
    "id true": (ID, True),
    "id 1.5": (ID, 1.5),
    "id -2^63-1": (ID, -(2**63) - 1),
    "id 2^63": (ID, 2**63),
    "id as a string": (ID, "12"),
    "id null": (ID, None),
    "datetime of year 10000": (STARTED_AT, "10000-01-01T00:00:00+00:00"),
    "datetime past year 9999 by its offset": (STARTED_AT, "9999-12-31T23:59:59-14:00"),
    "datetime before year 1 by its offset": (STARTED_AT, "0001-01-01T00:00:00+14:00"),
    "datetime without offset": (STARTED_AT, "2026-01-01T00:00:00"),
    "datetime at 24:00": (STARTED_AT, "2026-01-01T24:00:00+00:00"),
    "datetime as a number": (STARTED_AT, 1767225600),
    "datetime with NUL": (STARTED_AT, "2026-01-01T00:00:00+00:00\x00"),
    # PostgreSQL's own form, which cursors use beyond the years 1..9999 only.
    "beyond-form of a year Python holds": (STARTED_AT, "2026-01-01T00:00:00.000000 AD"),
    "beyond-form past PostgreSQL's last year": (STARTED_AT, "294277-01-01T00:00:00.000000 AD"),
    "beyond-form before 4713 BC": (STARTED_AT, "4714-01-01T00:00:00.000000 BC"),
    "beyond-form of month 13": (STARTED_AT, "20000-13-01T00:00:00.000000 AD"),
    "beyond-form of 29 February in a common year": (STARTED_AT, "20001-02-29T00:00:00.000000 AD"),
    "beyond-form at 24:00": (STARTED_AT, "20000-01-01T24:00:00.000000 AD"),
    "string as a number": (COMPONENT, 42),
    "string as true": (COMPONENT, True),
    "string with NUL": (COMPONENT, "auth\x00service"),
    "string as a list": (COMPONENT, ["auth"]),
    "bigint as a string": (DURATION, "1000"),
    "bigint beyond 64 bits": (DURATION, 2**64),
    "bigint 1.5": (DURATION, 1.5),
    "int beyond 32 bits": (EXIT_CODE, 2**40),
    "int as an object": (EXIT_CODE, {"a": 1}),
    "enum rank beyond 32 bits": (STATUS, 2**40),
    "enum as its name": (STATUS, "failed"),
}


@pytest.mark.parametrize(
    ("position", "value"), CURSOR_EDITS.values(), ids=list(CURSOR_EDITS.keys())
)
async def test_an_altered_cursor_is_damaged(
    app: Any,
    seeded_db: TestDatabase,
    catalog: Catalog,
    real_cursor: list[Any],
    position: int,
    value: Any,
) -> None:
    payload = list(real_cursor)
    payload[position] = value
    before = fingerprint(seeded_db, catalog)
    error = refusal(await post(app, CONNECTION, {"after": encoded(payload)}))
    assert DAMAGED in error["message"], error
    assert error["extensions"]["argumentPath"] == ["executionLogsConnection", "after"]
    assert fingerprint(seeded_db, catalog) == before


CURSOR_FORMS = {
    "another ordering": lambda payload: encoded(["0123456789", *payload[1:]]),
    "a value short": lambda payload: encoded(payload[:-1]),
    "not base64 JSON": lambda payload: "%%%not-a-cursor%%%",
    "a JSON object": lambda payload: encoded({"a": 1}),  # type: ignore[arg-type]
    "a NUL": lambda payload: "WyJ\x00",
    "a lone surrogate": lambda payload: base64.urlsafe_b64encode(b'["\\ud800"]').decode(),
}


@pytest.mark.parametrize("make", CURSOR_FORMS.values(), ids=list(CURSOR_FORMS.keys()))
async def test_a_string_that_is_no_cursor_of_this_ordering_is_refused(
    app: Any, real_cursor: list[Any], make: Callable[[list[Any]], str]
) -> None:
    error = refusal(await post(app, CONNECTION, {"after": make(real_cursor)}))
    assert "cursor" in error["message"], error
    assert error["extensions"]["argumentPath"] == ["executionLogsConnection", "after"]


@pytest.mark.parametrize(
    ("position", "value"),
    [
        (STARTED_AT, "infinity"),  # PostgreSQL's instant after every other
        (STARTED_AT, "-infinity"),
        (STARTED_AT, "2026-01-01T01:00:00+01:00"),  # any offset, as RFC 3339 allows
        (STARTED_AT, "0044-03-15T12:00:00.000000 BC"),  # PostgreSQL's instants beyond 1..9999
        (STARTED_AT, "20000-02-29T00:00:00.000000 AD"),
        (STARTED_AT, "0001-02-29T00:00:00.000000 BC"),  # 1 BC is a leap year
        (COMPONENT, None),
        (DURATION, -(2**63)),
        (EXIT_CODE, -(2**31)),
    ],
)
async def test_a_cursor_edited_to_values_of_the_right_types_moves_the_page(
    app: Any, real_cursor: list[Any], position: int, value: Any
) -> None:
    payload = list(real_cursor)
    payload[position] = value
    answer(await post(app, CONNECTION, {"after": encoded(payload)}))


# -- values only raw SQL can store ----------------------------------------------------------------

PLAYBOOK = "memory_self_healing_playbooks"
# Per database: (playbook name, avg_execution_time_ms, last_used_at) as SQL literals. SQLite
# stores NaN as NULL, and has no instant beyond the years its text holds.
STORED = {
    "sqlite": [("finite", "1.5", None), ("infinite", "9e999", None), ("absent", "NULL", None)],
    "postgresql": [
        ("finite", "1.5", "'2026-01-02 03:04:05+00'"),
        ("infinite", "'Infinity'", "'infinity'"),
        ("not a number", "'NaN'", "'-infinity'"),
        ("absent", "NULL", "NULL"),
    ],
}
# The order the database sorts them in, ascending (nulls last).
BY_TIME_ASC = {
    "sqlite": ["finite", "infinite", "absent"],
    "postgresql": ["finite", "infinite", "not a number", "absent"],
}
BY_INSTANT_ASC = ["not a number", "finite", "infinite", "absent"]
# Instants PostgreSQL holds and Python cannot (codebases' last_commit_at).
BEYOND_YEARS = {"year 20000": "20000-01-01 00:00:00+00", "44 BC": "0044-03-15 12:00:00+00 BC"}


@pytest.fixture(scope="module")
def stored(stored_api: Api) -> Any:
    """Playbooks holding what GraphQL cannot represent, and the app over them."""
    return stored_api.app


@pytest.fixture(scope="module")
def stored_api(shipped_db: TestDatabase, spec: Spec, catalog: Catalog) -> Api:
    """Playbooks holding what GraphQL cannot represent, and the API over them."""
    empty_tables(shipped_db, spec, catalog)
    registry = Registry(spec, shipped_db.engine)
    rows = STORED[shipped_db.backend]
    names = [name for name, _, _ in rows]
    registry.insert_rows(
        PLAYBOOK, [{"playbook_name": n, "actions": [], "risk_level": "low"} for n in names]
    )
    with shipped_db.engine.begin() as conn:
        for name, duration, instant in rows:
            conn.execute(
                text(
                    f"UPDATE {PLAYBOOK} SET avg_execution_time_ms = {duration}"
                    + (f", last_used_at = {instant}" if instant is not None else "")
                    + " WHERE playbook_name = :name"
                ),
                {"name": name},
            )
        if shipped_db.backend == "postgresql":
            registry.insert_rows(
                "memory_codebases",
                [{"repo_name": name, "repo_url": "https://x"} for name in BEYOND_YEARS],
            )
            for name, instant in BEYOND_YEARS.items():
                conn.execute(
                    text(
                        "UPDATE memory_codebases SET last_commit_at = :instant "
                        "WHERE repo_name = :name"
                    ),
                    {"name": name, "instant": instant},
                )
    return api_for(shipped_db, spec, catalog)


async def walk(app: Any, order: str, field: str) -> list[str]:
    """Every playbook name, one page of one row at a time, by `order`."""
    names: list[str] = []
    after = None
    while True:
        data = answer(
            await post(
                app,
                "query($after: String) { playbooksConnection(first: 1, after: $after, orderBy: "
                + order
                + f") {{ edges {{ node {{ playbookName {field} }} }} "
                "pageInfo { hasNextPage endCursor } } }",
                {"after": after},
            )
        )["playbooksConnection"]
        names += [edge["node"]["playbookName"] for edge in data["edges"]]
        # Only the finite row has a value GraphQL can show; the others read as null.
        assert all(
            edge["node"][field] is None or edge["node"]["playbookName"] == "finite"
            for edge in data["edges"]
        )
        if not data["pageInfo"]["hasNextPage"]:
            return names
        after = data["pageInfo"]["endCursor"]
        assert len(names) < 10, names


async def test_a_stored_nan_or_infinity_reads_as_null(
    shipped_db: TestDatabase, stored: Any
) -> None:
    data = answer(
        await post(stored, "{ playbooks { playbookName avgExecutionTimeMs lastUsedAt } }")
    )
    read = {row["playbookName"]: row for row in data["playbooks"]}
    assert read["finite"]["avgExecutionTimeMs"] == 1.5
    for name, row in read.items():
        if name != "finite":
            assert row["avgExecutionTimeMs"] is None and row["lastUsedAt"] is None, row
    lookup = answer(
        await post(
            stored, '{ playbook(playbookName: "infinite") { avgExecutionTimeMs lastUsedAt } }'
        )
    )
    assert lookup == {"playbook": {"avgExecutionTimeMs": None, "lastUsedAt": None}}


async def test_stored_infinities_sort_and_page_as_the_database_orders_them(
    shipped_db: TestDatabase, stored: Any
) -> None:
    expected = BY_TIME_ASC[shipped_db.backend]
    data = answer(
        await post(stored, "{ playbooks(orderBy: [{avgExecutionTimeMs: ASC}]) { playbookName } }")
    )
    assert [row["playbookName"] for row in data["playbooks"]] == expected
    assert await walk(stored, "[{avgExecutionTimeMs: ASC}]", "avgExecutionTimeMs") == expected
    # DESC puts nulls first (as PostgreSQL does), then the values from the largest down.
    descending = [expected[-1], *reversed(expected[:-1])]
    assert await walk(stored, "[{avgExecutionTimeMs: DESC}]", "avgExecutionTimeMs") == descending


async def test_a_stored_infinite_instant_reads_as_null_and_pages_in_place(
    shipped_db: TestDatabase, stored: Any
) -> None:
    if shipped_db.backend != "postgresql":
        pytest.skip("only PostgreSQL stores an instant outside the years 1..9999")
    assert await walk(stored, "[{lastUsedAt: ASC}]", "lastUsedAt") == BY_INSTANT_ASC
    descending = [BY_INSTANT_ASC[-1], *reversed(BY_INSTANT_ASC[:-1])]
    assert await walk(stored, "[{lastUsedAt: DESC}]", "lastUsedAt") == descending
    extremes = answer(
        await post(stored, "{ playbooksAggregate { min { lastUsedAt } max { lastUsedAt } } }")
    )
    assert extremes == {
        "playbooksAggregate": [{"min": {"lastUsedAt": None}, "max": {"lastUsedAt": None}}]
    }
    beyond = answer(
        await post(
            stored,
            "{ codebases { repoName lastCommitAt } "
            "codebasesAggregate { max { lastCommitAt } min { lastCommitAt } } }",
        )
    )
    assert beyond["codebases"] == [{"repoName": n, "lastCommitAt": None} for n in BEYOND_YEARS]
    # Walked one row a page, each cursor holds the exact instant: no row twice, none left out.
    walked = await walk_one_by_one(stored, "codebasesConnection", "lastCommitAt: ASC", "repoName")
    assert walked == ["44 BC", "year 20000"]
    assert beyond["codebasesAggregate"] == [
        {"max": {"lastCommitAt": None}, "min": {"lastCommitAt": None}}
    ]


async def test_infinite_instants_page_alike_when_read_on_the_event_loop(
    shipped_db: TestDatabase, stored_api: Api
) -> None:
    """While the app runs, a connection whose statement ran before is read on PostgreSQL's
    event loop (graph/sql/driver_rows.py), its cursors' values through SQLAlchemy's types as
    on a thread: walking by an instant that holds `infinity`, `-infinity`, an ordinary
    instant and nulls, and by instants beyond the years 1..9999, each page is answered on the
    loop with the bytes the first walk got, so each next cursor is the same text; both when
    the same request comes again (a prepared page) and when the document is new but its
    pages' statements are not (their driver texts bound to the cursors' values)."""
    if shipped_db.backend != "postgresql":
        pytest.skip("the event loop's reader is PostgreSQL's")
    app, reader = stored_api.app, stored_api.graph.async_reader
    assert reader is not None
    walks = [
        ("playbooksConnection", "lastUsedAt: ASC", "playbookName"),
        ("playbooksConnection", "lastUsedAt: DESC", "playbookName"),
        ("codebasesConnection", "lastCommitAt: ASC", "repoName"),
    ]
    first: dict[tuple[str, str, str], list[str]] = {}
    pages: dict[tuple[str, str, str], list[bytes]] = {}
    for order in walks:
        pages[order] = []
        first[order] = await walk_one_by_one(app, *order, pages=pages[order])
    assert first[walks[0]] == BY_INSTANT_ASC
    on_loop = loop_tries(reader)
    async with app.router.lifespan_context(app):
        for order in walks:
            for spaced in (False, True):
                again: list[bytes] = []
                on_loop.clear()
                walked = await walk_one_by_one(app, *order, pages=again, spaced=spaced)
                assert walked == first[order]
                assert again == pages[order] and len(on_loop) == len(again), on_loop
    assert stored_api.graph.prepared.hits >= sum(len(p) for p in pages.values())


async def test_a_walk_with_its_total_count_pages_as_without(
    shipped_db: TestDatabase, stored_api: Api, spec: Spec, catalog: Catalog
) -> None:
    """A page with `totalCount` reads its cursors' values through a subquery (compiled path:
    graph/sql/page_response.py): walking by instants that hold `infinity`, `-infinity` and
    nulls gives the rows in the same order with the count as without it, on both paths."""
    reference = Api(shipped_db, spec, catalog, Settings(compiled=False))
    walks = [
        ("playbooksConnection", "lastUsedAt: ASC", "playbookName"),
        ("playbooksConnection", "lastUsedAt: DESC", "playbookName"),
    ]
    for app in (reference.app, stored_api.app):
        for order in walks:
            without = await walk_one_by_one(app, *order)
            assert await walk_one_by_one(app, *order, total=True) == without, (app, order)
    if shipped_db.backend == "postgresql":
        assert await walk_one_by_one(stored_api.app, *walks[0]) == BY_INSTANT_ASC


async def walk_one_by_one(
    app: Any,
    root: str,
    order: str,
    name: str,
    pages: list[bytes] | None = None,
    *,
    spaced: bool = False,
    total: bool = False,
) -> list[str]:
    """The `name` of every row of the connection `root`, one row a page, by `order`; each
    page's response body appended to `pages`. `spaced`: the same document, written with one
    more space (a request body and a document never seen); `total`: with `totalCount` (the
    page's statement then reads its cursors' values through a subquery)."""
    names: list[str] = []
    after = None
    while len(names) < 10:
        response = await post(
            app,
            ("query ($after" if spaced else "query($after")
            + f": String) {{ {root}(first: 1, after: $after, orderBy: [{{{order}}}])"
            f" {{ {'totalCount' if total else ''}"
            f" edges {{ node {{ {name} }} }} pageInfo {{ hasNextPage endCursor }} }} }}",
            {"after": after},
        )
        if pages is not None:
            pages.append(response.content)
        page = answer(response)[root]
        names += [edge["node"][name] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return names


# Days PostgreSQL's date holds and Python cannot (compliance reports' next_audit_date), in the
# order PostgreSQL sorts them, ascending with nulls last.
DAYS = {
    "minus infinity": "-infinity",
    "44 BC": "0044-03-15 BC",
    "ordinary": "2026-05-01",
    "year 20000": "20000-01-01",
    "infinity": "infinity",
    "absent": None,
}


async def test_stored_days_beyond_the_years_read_as_null_and_page_in_place(
    shipped_db: TestDatabase, spec: Spec, catalog: Catalog, stored: Any
) -> None:
    """Rows, extremes, groups (a bucket too) and a keyset walk over days no Python date can
    hold: null where shown, in the database's order when walked, never an error."""
    if shipped_db.backend != "postgresql":
        pytest.skip("only PostgreSQL stores a day outside the years 1..9999")
    table = "memory_compliance_reports"
    Registry(spec, shipped_db.engine).insert_rows(
        table,
        [
            {
                "report_id": f"R-{index}",
                "title": name,
                "compliance_framework": "gdpr",
                "report_type": "audit",
                "compliance_status": "compliant",
            }
            for index, name in enumerate(DAYS)
        ],
    )
    with shipped_db.engine.begin() as conn:
        for name, day in DAYS.items():
            conn.execute(
                text(f"UPDATE {table} SET next_audit_date = CAST(:day AS date) WHERE title = :t"),
                {"day": day, "t": name},
            )
    data = answer(await post(stored, "{ complianceReports { title nextAuditDate } }"))
    read = {row["title"]: row["nextAuditDate"] for row in data["complianceReports"]}
    assert read == {name: "2026-05-01" if name == "ordinary" else None for name in DAYS}
    groups = answer(
        await post(
            stored,
            "{ a: complianceReportsAggregate { min { nextAuditDate } max { nextAuditDate } }"
            " b: complianceReportsAggregate(groupBy: [{field: NEXT_AUDIT_DATE}]) { count }"
            " c: complianceReportsAggregate(groupBy: [{field: NEXT_AUDIT_DATE, bucket: WEEK}])"
            " { key { nextAuditDate } count } }",
        )
    )
    assert groups["a"] == [{"min": {"nextAuditDate": None}, "max": {"nextAuditDate": None}}]
    assert sum(group["count"] for group in groups["b"]) == len(DAYS)
    weeks = {group["key"]["nextAuditDate"] for group in groups["c"]}
    assert "2026-04-27" in weeks and weeks <= {"2026-04-27", None}

    ascending = list(DAYS)
    root = "complianceReportsConnection"
    descending = [ascending[-1], *reversed(ascending[:-1])]
    for total in (False, True):  # with totalCount, the cursors' values come through a subquery
        walked = await walk_one_by_one(stored, root, "nextAuditDate: ASC", "title", total=total)
        assert walked == ascending
        walked = await walk_one_by_one(stored, root, "nextAuditDate: DESC", "title", total=total)
        assert walked == descending


# -- the Python registry ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(seeded_db: TestDatabase, spec: Spec) -> Registry:
    return Registry(spec, seeded_db.engine)


REGISTRY_FILTERS: dict[str, tuple[Any, str, tuple[str | int, ...]]] = {
    "NUL, shorthand eq": ({"owner": "a\x00"}, NUL, ("filters", "owner", "eq")),
    "NUL in like": ({"owner": {"like": "a%\x00"}}, NUL, ("filters", "owner", "like")),
    "NUL in in": ({"owner": {"in": ["a", "\x00"]}}, NUL, ("filters", "owner", "in", 1)),
    "NUL in a json key": (
        {"trigger_conditions": {"error\x00": 1}},
        NUL,
        ("filters", "trigger_conditions", "contains"),
    ),
    "NUL in hasKey": (
        {"trigger_conditions": {"hasKey": "\x00"}},
        NUL,
        ("filters", "trigger_conditions", "hasKey"),
    ),
    "NUL in a list element": (
        {"target_components": {"includes": "\x00"}},
        NUL,
        ("filters", "target_components", "includes"),
    ),
    "lone surrogate": (
        {"owner": {"contains": "\ud800"}},
        "lone surrogate",
        ("filters", "owner", "contains"),
    ),
    "NaN": ({"success_rate": float("nan")}, NOT_FINITE, ("filters", "success_rate", "eq")),
    "infinity": (
        {"success_rate": {"gt": float("inf")}},
        NOT_FINITE,
        ("filters", "success_rate", "gt"),
    ),
    "33 nested ands": (
        nested(MAX_FILTER_DEPTH + 1, lambda inner: {"and": [inner]}, {}),
        f"where nests and/or/not deeper than {MAX_FILTER_DEPTH} levels",
        ("filters", *["and", 0] * MAX_FILTER_DEPTH, "and"),
    ),
    "relations 4 deep": (
        {"executions": {"some": {"work_order": {"executions": {"some": {"playbook": {}}}}}}},
        RELATIONS_TOO_DEEP,
        ("filters", "executions", "some", "work_order", "executions", "some", "playbook"),
    ),
}


@pytest.mark.parametrize(
    ("filters", "message", "path"), REGISTRY_FILTERS.values(), ids=list(REGISTRY_FILTERS.keys())
)
def test_the_registry_refuses_the_same_values(
    registry: Registry, filters: Any, message: str, path: tuple[str | int, ...]
) -> None:
    for read in (registry.query_rows, registry.count_rows):
        with pytest.raises(UserInputError) as refused:
            read(PLAYBOOK, filters)
        assert refused.value.code == BAD
        assert message in refused.value.message
        assert refused.value.argument_path == path


def test_the_registry_refuses_a_nul_key_and_takes_32_levels(registry: Registry) -> None:
    with pytest.raises(UserInputError, match="NUL"):
        registry.get_row(PLAYBOOK, "restart\x00")
    deepest = nested(MAX_FILTER_DEPTH, lambda inner: {"or": [inner]}, {"owner": {"neq": "x"}})
    assert registry.count_rows(PLAYBOOK, deepest) == registry.count_rows(
        PLAYBOOK, {"owner": {"neq": "x"}}
    )
