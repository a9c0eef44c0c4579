"""The filter, ordering and paging semantics of docs/api.md, on hand-made rows, on both databases.

Each of the seven wrong answers found by the first differential run has its reproduction here
(marked "bug N"), next to the rules that were settled with them. The rows are few and chosen
for the edge each test is about; tests/test_differential.py covers the same ground with
generated queries over many more rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from graph.spec.model import FieldType, Spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import BACKENDS, fresh_database

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def _row(spec: Spec, table: str, key: str, **values: Any) -> dict[str, Any]:
    """A row of `table` with natural key `key`: required fields get a plain value unless given."""
    table_spec = spec.table(table)
    row: dict[str, Any] = {table_spec.key: key}
    for field in table_spec.declared_fields:
        if field.name in row or not field.required or field.default is not None:
            continue
        if field.type is FieldType.ENUM:
            row[field.name] = field.values[0]
        elif field.type is FieldType.JSON:
            row[field.name] = {}
        else:
            row[field.name] = f"{key} {field.name}"
    row.update(values)
    return row


def _rows(spec: Spec) -> dict[str, list[dict[str, Any]]]:
    day = dt.timedelta(days=1)
    return {
        "execution_logs": [
            _row(spec, "execution_logs", "log-null", exit_code=None, component="comp-a"),
            _row(spec, "execution_logs", "log-0", exit_code=0, component="comp-a"),
            _row(spec, "execution_logs", "log-1", exit_code=1, component="comp-b"),
        ],
        "self_healing": [
            _row(
                spec,
                "self_healing",
                "pb-a",
                requires_approval=True,
                trigger_conditions={"error_type": "x", "a": 1, "b": [1, 2, 3]},
                target_components=["x", "y"],
                success_rate=0.5,
            ),
            _row(
                spec,
                "self_healing",
                "pb-b",
                requires_approval=False,
                trigger_conditions=["error_type", "x"],
                target_components=None,
                success_rate=None,
            ),
            _row(
                spec,
                "self_healing",
                "pb-c",
                requires_approval=None,
                trigger_conditions=None,
                target_components=[],
                success_rate=0.5,
            ),
            _row(
                spec,
                "self_healing",
                "pb-d",
                requires_approval=True,
                trigger_conditions={"a": 1.0, "b": 1},
                target_components=["x", "x"],
                success_rate=0.9,
            ),
            _row(
                spec,
                "self_healing",
                "pb-e",
                requires_approval=False,
                trigger_conditions="x",
                target_components=["z"],
                success_rate=None,
            ),
        ],
        "coding_agent": [_row(spec, "coding_agent", f"wo-{n}") for n in (1, 2, 3)],
        "verification": [
            _row(spec, "verification", "suite-1", linked_fixes=["wo-1", "wo-1"]),
            _row(spec, "verification", "suite-2", linked_fixes=["wo-2"]),
            _row(spec, "verification", "suite-3", linked_fixes=None),
        ],
        "feedback": [
            _row(spec, "feedback", "t-open", status="open", linked_work_orders=["wo-1", "wo-1"]),
            _row(spec, "feedback", "t-closed", status="closed", linked_work_orders=["wo-2"]),
        ],
        "sops": [
            _row(spec, "sops", "sop-1", compliance_frameworks=["gdpr"]),
            _row(spec, "sops", "sop-2", compliance_frameworks=["soc2", "soc2"]),
            _row(spec, "sops", "sop-3", compliance_frameworks=None),
        ],
        "compliance": [
            _row(
                spec,
                "compliance",
                "rep-gdpr",
                compliance_framework="gdpr",
                next_audit_date=TODAY,
                gaps_identified=["error_type", "x"],
            ),
            _row(
                spec,
                "compliance",
                "rep-soc2",
                compliance_framework="soc2",
                next_audit_date=TODAY - 7 * day,
            ),
            _row(
                spec,
                "compliance",
                "rep-hipaa",
                compliance_framework="hipaa",
                next_audit_date=TODAY - 8 * day,
            ),
            _row(
                spec,
                "compliance",
                "rep-future",
                compliance_framework="hipaa",
                next_audit_date=TODAY + day,
            ),
            _row(
                spec,
                "compliance",
                "rep-none",
                compliance_framework="hipaa",
                next_audit_date=None,
                remediation_actions={"big": 1e300, "int": 10**30, "small": 12, "real": 2.5},
            ),
        ],
        "documents": [
            _row(spec, "documents", f"doc-{n}", title=title, word_count=words)
            for n, (title, words) in enumerate(TITLES, start=1)
        ],
        "insights": [
            _row(spec, "insights", "ins-1", source_document_id="doc-1"),
            _row(spec, "insights", "ins-2", source_document_id="doc-2"),
            _row(spec, "insights", "ins-3", source_document_id="doc-missing"),
            _row(spec, "insights", "ins-4", source_document_id=None),
        ],
    }


# Document titles in code-point order, with their word counts (null for some).
TITLES: list[tuple[str, int | None]] = [
    ("100%", 500),
    ("B", None),
    ("Z", 300),
    ("_x", 5),
    ("a", 150),
    ("a\\b", None),
    ("a_b", 7),
    ("axb", 7),
    ("b", 20),
    ("É", 1),
    ("é", 2),
    ("ΟΔΟΣ", 3),
]


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    spec: Spec,
    catalog: Catalog,
) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("semantics")
    with fresh_database(request.param, folder) as db:
        create_schema(db.engine, catalog)
        with db.engine.begin() as conn:
            for table, rows in _rows(spec).items():
                for row in rows:  # one by one: the rows name different columns
                    conn.execute(insert(catalog.table(table)), row)
        yield Api(db, spec, catalog, clock=lambda: NOW)


async def _keys(api: Api, root: str, key: str, args: str) -> list[str]:
    data = await api.data(f"{{ {root}({args}) {{ {key} }} }}")
    return [row[key] for row in data[root]]


# -- bug 1: `not` is two-valued -------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # bug 1: rows with a null exit code do not have exit code 0.
        ("{not: {exitCode: {eq: 0}}}", ["log-null", "log-1"]),
        ("{exitCode: {neq: 0}}", ["log-1"]),
        ("{not: {exitCode: {neq: 0}}}", ["log-null", "log-0"]),
        ("{not: {not: {exitCode: {eq: 0}}}}", ["log-0"]),
        ('{not: {or: [{exitCode: {eq: 1}}, {component: {eq: "comp-a"}}]}}', []),
        ('{not: {and: [{exitCode: {lt: 5}}, {component: {eq: "comp-a"}}]}}', ["log-null", "log-1"]),
        ("{not: {exitCode: {in: [0, 1]}}}", ["log-null"]),
        ("{not: {exitCode: {nin: [0]}}}", ["log-null", "log-0"]),
        ("{exitCode: {nin: []}}", ["log-0", "log-1"]),
        ("{exitCode: {in: []}}", []),
        ("{not: {exitCode: {nin: []}}}", ["log-null"]),
        ("{not: {}}", []),
        ("{and: []}", ["log-null", "log-0", "log-1"]),
        ("{or: []}", []),
        ("{or: [{}]}", ["log-null", "log-0", "log-1"]),
        ("{not: {or: []}}", ["log-null", "log-0", "log-1"]),
        ("{exitCode: {}}", ["log-null", "log-0", "log-1"]),
        ("{exitCode: null}", ["log-null", "log-0", "log-1"]),
    ],
)
async def test_boolean_logic_is_two_valued(api: Api, where: str, expected: list[str]) -> None:
    got = await _keys(api, "executionLogs", "executionId", f"where: {where}")
    assert got == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # A null list or null JSON does not hold the value, so `not` of it holds (bug 1, lists).
        ('{not: {targetComponents: {includes: "x"}}}', ["pb-b", "pb-c", "pb-e"]),
        ('{not: {targetComponents: {includesAny: ["x"]}}}', ["pb-b", "pb-c", "pb-e"]),
        ('{not: {triggerConditions: {hasKey: "a"}}}', ["pb-b", "pb-c", "pb-e"]),
        ("{not: {triggerConditions: {contains: {a: 1}}}}", ["pb-b", "pb-c", "pb-e"]),
        ("{not: {successRate: {gt: 0.6}}}", ["pb-a", "pb-b", "pb-c", "pb-e"]),
        ("{not: {requiresApproval: {eq: true}}}", ["pb-b", "pb-c", "pb-e"]),
    ],
)
async def test_not_over_null_lists_and_json(api: Api, where: str, expected: list[str]) -> None:
    assert await _keys(api, "playbooks", "playbookName", f"where: {where}") == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # The linked document exists and does not have more than 100 words (null counts).
        ("{sourceDocument: {not: {wordCount: {gt: 100}}}}", ["ins-2"]),
        ("{sourceDocument: {wordCount: {gt: 100}}}", ["ins-1"]),
        # No linked document with more than 100 words: dangling and null links included.
        ("{not: {sourceDocument: {wordCount: {gt: 100}}}}", ["ins-2", "ins-3", "ins-4"]),
        ("{sourceDocument: {}}", ["ins-1", "ins-2"]),
        ("{not: {sourceDocument: {}}}", ["ins-3", "ins-4"]),
    ],
)
async def test_not_inside_to_one_relation_filters(
    api: Api, where: str, expected: list[str]
) -> None:
    assert await _keys(api, "insights", "insightId", f"where: {where}") == expected


# -- bugs 2 and 3: list-column relations ----------------------------------------------------


async def test_key_listed_twice_links_once(api: Api) -> None:
    """bug 2: a suite listing the same fix twice is one suite of that work order."""
    data = await api.data(
        '{ workOrder(workOrderId: "wo-1") { verifiedBy { suiteName } feedbackTickets '
        '{ ticketId } } feedbackTicket(ticketId: "t-open") { workOrders { workOrderId } } '
        'sop(sopId: "sop-2") { complianceReports { reportId } } '
        'complianceReport(reportId: "rep-soc2") { sops { sopId } '
        "second: sops(offset: 1) { sopId } } }"
    )
    assert data["workOrder"]["verifiedBy"] == [{"suiteName": "suite-1"}]
    assert data["workOrder"]["feedbackTickets"] == [{"ticketId": "t-open"}]
    assert data["feedbackTicket"]["workOrders"] == [{"workOrderId": "wo-1"}]
    assert data["sop"]["complianceReports"] == [{"reportId": "rep-soc2"}]
    assert data["complianceReport"]["sops"] == [{"sopId": "sop-2"}]
    assert data["complianceReport"]["second"] == []


@pytest.mark.parametrize(
    ("root", "key", "where", "expected"),
    [
        # bug 3: the reverse side of a list-column relation filters by the parent row.
        ("complianceReports", "reportId", '{sops: {some: {sopId: {eq: "sop-1"}}}}', ["rep-gdpr"]),
        ("complianceReports", "reportId", "{sops: {some: {}}}", ["rep-gdpr", "rep-soc2"]),
        (
            "complianceReports",
            "reportId",
            '{sops: {none: {sopId: {eq: "sop-1"}}}}',
            ["rep-soc2", "rep-hipaa", "rep-future", "rep-none"],
        ),
        (
            "complianceReports",
            "reportId",
            '{sops: {every: {sopId: {eq: "sop-2"}}}}',
            ["rep-soc2", "rep-hipaa", "rep-future", "rep-none"],
        ),
        ("workOrders", "workOrderId", "{feedbackTickets: {some: {status: {eq: OPEN}}}}", ["wo-1"]),
        (
            "workOrders",
            "workOrderId",
            "{feedbackTickets: {none: {status: {eq: OPEN}}}}",
            ["wo-2", "wo-3"],
        ),
        (
            "workOrders",
            "workOrderId",
            "{feedbackTickets: {every: {status: {eq: OPEN}}}}",
            ["wo-1", "wo-3"],
        ),
        (
            "workOrders",
            "workOrderId",
            "{feedbackTickets: {every: {not: {status: {eq: OPEN}}}}}",
            ["wo-2", "wo-3"],
        ),
        (
            "workOrders",
            "workOrderId",
            '{verifiedBy: {some: {suiteName: {eq: "suite-2"}}}}',
            ["wo-2"],
        ),
        # The owner side of the same relations.
        (
            "verificationSuites",
            "suiteName",
            '{fixes: {some: {workOrderId: {eq: "wo-1"}}}}',
            ["suite-1"],
        ),
        ("feedbackTickets", "ticketId", "{workOrders: {none: {}}}", []),
    ],
)
async def test_list_relation_filters_follow_the_parent_row(
    api: Api, root: str, key: str, where: str, expected: list[str]
) -> None:
    assert await _keys(api, root, key, f"where: {where}") == expected


# -- bugs 5, 6, 7: JSON and list operators --------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # bug 5: an array holding the string "x" has no key "x".
        ('{triggerConditions: {hasKey: "x"}}', []),
        ('{triggerConditions: {hasKey: "error_type"}}', ["pb-a"]),
        # bug 6: {"b": [1, 2, 3]} does not contain {"b": 1}; numbers compare by value.
        ("{triggerConditions: {contains: {a: 1, b: 1}}}", ["pb-d"]),
        ("{triggerConditions: {contains: {b: [3, 1, 1]}}}", ["pb-a"]),
        ("{triggerConditions: {contains: {a: 1}}}", ["pb-a", "pb-d"]),
        ("{triggerConditions: {contains: {}}}", ["pb-a", "pb-d"]),
        ("{triggerConditions: {contains: []}}", ["pb-b"]),
        # At the top level only, an array contains a scalar element.
        ('{triggerConditions: {contains: "x"}}', ["pb-b", "pb-e"]),
        ('{triggerConditions: {contains: ["x"]}}', ["pb-b"]),
        # bug 7: includesAll: [] holds for every list that is not null, empty lists included.
        ("{targetComponents: {includesAll: []}}", ["pb-a", "pb-c", "pb-d", "pb-e"]),
        ("{targetComponents: {includesAny: []}}", []),
        ('{targetComponents: {includesAll: ["x", "x"]}}', ["pb-a", "pb-d"]),
        ('{targetComponents: {includesAll: ["x", "y"]}}', ["pb-a"]),
        ("{targetComponents: {isNull: true}}", ["pb-b"]),
    ],
)
async def test_json_and_list_operators(api: Api, where: str, expected: list[str]) -> None:
    assert await _keys(api, "playbooks", "playbookName", f"where: {where}") == expected


async def test_has_key_on_a_json_array_of_strings(api: Api) -> None:
    """bug 5 as reported: gapsIdentified ["error_type", "x"] has no key "x"."""
    where = '{gapsIdentified: {hasKey: "x"}}'
    assert await _keys(api, "complianceReports", "reportId", f"where: {where}") == []


# -- bug 4 and cursors ----------------------------------------------------------------------

WALK = """query($order: [PlaybookOrderBy!], $after: String, $first: Int) {
  playbooksConnection(orderBy: $order, first: $first, after: $after) {
    edges { cursor node { playbookName } } pageInfo { hasNextPage endCursor } } }"""


async def _walk(api: Api, order: list[dict[str, Any]], first: int) -> list[str]:
    names: list[str] = []
    after = None
    for _ in range(20):
        data = await api.data(WALK, {"order": order, "after": after, "first": first})
        page = data["playbooksConnection"]
        names += [edge["node"]["playbookName"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return names
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("the connection never ended")


@pytest.mark.parametrize(
    "order",
    [
        # bug 4: the page after a cursor on a boolean key was an internal error.
        [{"requiresApproval": "ASC"}],
        [{"requiresApproval": "DESC"}],
        [{"requiresApproval": "ASC_NULLS_FIRST"}, {"successRate": "DESC"}],
        [{"successRate": "DESC_NULLS_LAST"}, {"requiresApproval": "ASC"}],
        [{"riskLevel": "DESC"}],
        [{"playbookName": "DESC"}],
        [{"createdAt": "ASC"}],
    ],
)
@pytest.mark.parametrize("first", [1, 2, 3])
async def test_walking_a_connection_returns_the_list(
    api: Api, order: list[dict[str, Any]], first: int
) -> None:
    data = await api.data(
        "query($order: [PlaybookOrderBy!]) { playbooks(orderBy: $order) { playbookName } }",
        {"order": order},
    )
    listed = [row["playbookName"] for row in data["playbooks"]]
    assert await _walk(api, order, first) == listed


async def test_requires_approval_ties_break_by_id_ascending(api: Api) -> None:
    # pb-a and pb-d are true; pb-b and pb-e false; pb-c null (first with DESC).
    expected = ["pb-c", "pb-a", "pb-d", "pb-b", "pb-e"]
    order = [{"requiresApproval": "DESC"}]
    assert await _walk(api, order, 2) == expected


def _altered(cursor: str, change: Any) -> str:
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    change(payload)
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _set(index: int, value: Any) -> Any:
    def change(payload: list[Any]) -> None:
        payload[index] = value

    return change


@pytest.mark.parametrize(
    ("order", "change"),
    [
        ([{"requiresApproval": "ASC"}], _set(1, "yes")),
        ([{"requiresApproval": "ASC"}], _set(1, 1)),
        ([{"successRate": "ASC"}], _set(1, "0.5")),
        ([{"successRate": "ASC"}], _set(1, True)),
        ([{"totalRuns": "ASC"}], _set(1, 1.5)),
        ([{"totalRuns": "ASC"}], _set(1, 10**30)),
        ([{"riskLevel": "ASC"}], _set(1, "low")),
        ([{"createdAt": "ASC"}], _set(1, "yesterday")),
        ([{"createdAt": "ASC"}], _set(1, "2026-01-01T00:00:00")),
        ([{"createdAt": "ASC"}], _set(1, 12)),
        ([{"playbookName": "ASC"}], _set(1, 12)),
        ([{"playbookName": "ASC"}], _set(2, True)),
        ([{"playbookName": "ASC"}], _set(2, 1.5)),
        ([{"playbookName": "ASC"}], _set(2, 10**30)),
        ([{"playbookName": "ASC"}], _set(2, -(2**63) - 1)),
        ([{"playbookName": "ASC"}], _set(0, "0000000000")),
        ([{"playbookName": "ASC"}], lambda payload: payload.pop()),
        ([{"playbookName": "ASC"}], lambda payload: payload.clear()),
    ],
)
async def test_altered_cursors_are_bad_user_input(
    api: Api, order: list[dict[str, Any]], change: Any
) -> None:
    data = await api.data(WALK, {"order": order, "first": 1})
    cursor = data["playbooksConnection"]["pageInfo"]["endCursor"]
    error = await api.error(WALK, {"order": order, "first": 1, "after": _altered(cursor, change)})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argumentPath"] == ["playbooksConnection", "after"]


@pytest.mark.parametrize("cursor", ["", "%%%", "bnVsbA", "WzFd", "eyJhIjogMX0", "W10"])
async def test_foreign_cursors_are_bad_user_input(api: Api, cursor: str) -> None:
    error = await api.error(WALK, {"order": [], "first": 1, "after": cursor})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# -- strings: code-point order, like escapes, Unicode ilike ----------------------------------


async def test_strings_sort_by_code_point(api: Api) -> None:
    # The PostgreSQL test database has an ICU en-US collation ("a" < "B" < "b"): the API's
    # order must not follow it.
    titles = [title for title, _ in TITLES]
    assert await _keys(api, "documents", "title", "orderBy: [{title: ASC}]") == titles
    assert await _keys(api, "documents", "title", "orderBy: [{title: DESC}]") == titles[::-1]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ('{title: {gt: "a"}}', ["a\\b", "a_b", "axb", "b", "É", "é", "ΟΔΟΣ"]),
        ('{title: {lt: "a"}}', ["100%", "B", "Z", "_x"]),
        ('{title: {gte: "b", lte: "é"}}', ["b", "É", "é"]),
        ('{title: {like: "100\\\\%"}}', ["100%"]),
        ('{title: {like: "a\\\\_b"}}', ["a_b"]),
        ('{title: {like: "a_b"}}', ["a\\b", "a_b", "axb"]),
        ('{title: {like: "a\\\\\\\\b"}}', ["a\\b"]),
        ('{title: {like: "\\\\a"}}', ["a"]),
        ('{title: {like: "\\\\_%"}}', ["_x"]),
        ('{title: {contains: "\\\\"}}', ["a\\b"]),
        ('{title: {contains: "_"}}', ["_x", "a_b"]),
        ('{title: {startsWith: "10"}}', ["100%"]),
        ('{title: {endsWith: "%"}}', ["100%"]),
        ('{title: {like: "é"}}', ["é"]),
        ('{title: {ilike: "é"}}', ["É", "é"]),
        ('{title: {ilike: "%ς"}}', ["ΟΔΟΣ"]),
        ('{title: {ilike: "οδοσ"}}', []),
        ('{title: {ilike: "A%"}}', ["a", "a\\b", "a_b", "axb"]),
        ('{title: {like: "A%"}}', []),
        ('{title: {eq: "É"}}', ["É"]),
        ('{title: {in: ["b", "B"]}}', ["B", "b"]),
    ],
)
async def test_string_operators(api: Api, where: str, expected: list[str]) -> None:
    got = await _keys(api, "documents", "title", f"where: {where}, orderBy: [{{title: ASC}}]")
    assert got == expected


@pytest.mark.parametrize("pattern", ["x\\\\", "\\\\", "a\\\\\\\\\\\\"])
@pytest.mark.parametrize("operator", ["like", "ilike"])
async def test_like_pattern_ending_in_an_escape_is_bad_input(
    api: Api, pattern: str, operator: str
) -> None:
    error = await api.error(
        f'{{ documents(where: {{title: {{{operator}: "{pattern}"}}}}) {{ title }} }}'
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argumentPath"] == ["documents", "where", "title", operator]


async def test_sorting_by_a_related_string_uses_code_point_order(api: Api) -> None:
    got = await _keys(
        api, "insights", "insightId", "orderBy: [{sourceDocument: {title: DESC_NULLS_LAST}}]"
    )
    # doc-1 is "100%", doc-2 is "B"; the other two have no linked document (ties by id).
    assert got == ["ins-2", "ins-1", "ins-3", "ins-4"]


# -- dates: calendar days in UTC ------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ('{nextAuditDate: {withinLast: "P7D"}}', ["rep-gdpr", "rep-soc2"]),
        ('{nextAuditDate: {olderThan: "P7D"}}', ["rep-hipaa"]),
        ('{nextAuditDate: {withinLast: "P1W"}}', ["rep-gdpr", "rep-soc2"]),
        ('{nextAuditDate: {withinLast: "p0d"}}', ["rep-gdpr"]),
        ('{nextAuditDate: {withinLast: "PT24H"}}', ["rep-gdpr"]),
        ('{not: {nextAuditDate: {withinLast: "P7D"}}}', ["rep-hipaa", "rep-future", "rep-none"]),
    ],
)
async def test_date_windows_count_calendar_days(api: Api, where: str, expected: list[str]) -> None:
    assert await _keys(api, "complianceReports", "reportId", f"where: {where}") == expected


@pytest.mark.parametrize("duration", ["PT12H", "P1DT1H", "PT1S"])
async def test_date_windows_need_whole_days(api: Api, duration: str) -> None:
    error = await api.error(
        f'{{ complianceReports(where: {{nextAuditDate: {{withinLast: "{duration}"}}}}) '
        "{ reportId } }"
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argumentPath"] == [
        "complianceReports",
        "where",
        "nextAuditDate",
        "withinLast",
    ]


@pytest.mark.parametrize("duration", ["P9999999999999999D", "P99999Y", "PT99999999999999999999S"])
async def test_huge_durations_are_bad_input(api: Api, duration: str) -> None:
    error = await api.error(
        f'{{ executionLogs(where: {{startedAt: {{withinLast: "{duration}"}}}}) {{ executionId }} }}'
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# -- stored values that must read back --------------------------------------------------------


async def test_json_numbers_beyond_64_bits_read_as_doubles(api: Api) -> None:
    """PostgreSQL's jsonb keeps 1e300 as a 301-digit integer; it reads back as the double."""
    data = await api.data('{ complianceReport(reportId: "rep-none") { remediationActions } }')
    actions = data["complianceReport"]["remediationActions"]
    assert actions == {"big": 1e300, "int": 1e30, "small": 12, "real": 2.5}
    assert isinstance(actions["small"], int)
