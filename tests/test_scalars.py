"""Scalars in forms client tooling keeps intact, the same on SQLite and PostgreSQL.

BigInt reads as a string of digits (JavaScript numbers stop at 2^53), DateTime in one fixed
UTC form, Date as YYYY-MM-DD; every malformed value, in a variable or inline, is the client's
BAD_USER_INPUT error that says what was wrong.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from sqlalchemy import insert

from graph.gql.scalars import serialize_date, serialize_datetime
from graph.spec.model import Spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase
from tests.rows import all_rows

# The first whole number a JavaScript number cannot hold exactly.
BIG = 2**53 + 1
MAX = 2**63 - 1
CANONICAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
WHOLE_SECOND = dt.datetime(2026, 11, 28, 5, 8, 57, tzinfo=dt.UTC)
WITH_MICROS = dt.datetime(2026, 11, 29, 20, 43, 29, 516000, tzinfo=dt.UTC)


@pytest.fixture
def datasets(empty_db: TestDatabase, spec: Spec, catalog: Catalog) -> Api:
    """Two data sets: one whose id and counters are beyond 2^53, one small."""
    create_schema(empty_db.engine, catalog)
    common = {"data_format": "csv", "created_at": WHOLE_SECOND, "updated_at": WITH_MICROS}
    rows = [
        {
            **common,
            "id": BIG,
            "dataset_name": "big",
            "row_count": BIG,
            "size_bytes": MAX,
            "quality_score": 0.5,
            "last_refreshed_at": WHOLE_SECOND,
        },
        {
            **common,
            "id": 7,
            "dataset_name": "small",
            "row_count": 0,
            "size_bytes": None,
            "quality_score": None,
            "last_refreshed_at": None,
        },
    ]
    with empty_db.engine.begin() as conn:
        conn.execute(insert(catalog.table("datasets")), rows)
        conn.execute(
            insert(catalog.table("compliance")),
            [
                {
                    "report_id": "r-1",
                    "title": "Audit",
                    "compliance_framework": "gdpr",
                    "report_type": "audit",
                    "compliance_status": "compliant",
                    "period_start": dt.date(2026, 1, 5),
                    "period_end": dt.date(2026, 11, 5),
                }
            ],
        )
    return Api(empty_db, spec, catalog)


def _names(data: dict[str, Any]) -> list[str]:
    (rows,) = data.values()
    return sorted(r["datasetName"] for r in rows)


# -- BigInt ----------------------------------------------------------------------------------


async def test_bigint_reads_as_a_string_of_digits_and_round_trips(datasets: Api) -> None:
    data = await datasets.data(
        "{ datasets(orderBy: [{id: ASC}]) { id rowCount sizeBytes qualityScore } }"
    )
    assert data["datasets"] == [
        {"id": "7", "rowCount": "0", "sizeBytes": None, "qualityScore": None},
        # Floats stay JSON numbers.
        {
            "id": str(BIG),
            "rowCount": "9007199254740993",
            "sizeBytes": str(MAX),
            "qualityScore": 0.5,
        },
    ]
    # What was read goes back in as it came out, and finds the same row.
    by_count = await datasets.data(
        "query($n: BigInt!) { datasets(where: {rowCount: {eq: $n}}) { datasetName } }",
        {"n": "9007199254740993"},
    )
    assert _names(by_count) == ["big"]
    by_size = await datasets.data(
        '{ datasets(where: {sizeBytes: {gte: "9223372036854775807"}}) { datasetName } }'
    )
    assert _names(by_size) == ["big"]


async def test_id_is_taken_as_a_string_or_a_number(datasets: Api) -> None:
    for literal in (str(BIG), f'"{BIG}"'):
        data = await datasets.data(f"{{ dataset(id: {literal}) {{ id datasetName }} }}")
        assert data["dataset"] == {"id": str(BIG), "datasetName": "big"}, literal
    for value in (BIG, str(BIG)):
        data = await datasets.data(
            "query($i: BigInt!) { dataset(id: $i) { datasetName } }", {"i": value}
        )
        assert data["dataset"] == {"datasetName": "big"}, value
    for where, names in (
        ('{id: {eq: "7"}}', ["small"]),
        ("{id: {eq: 7}}", ["small"]),
        (f'{{id: {{in: ["7", {BIG}]}}}}', ["big", "small"]),
        (f'{{id: {{nin: [7]}}, rowCount: {{lt: "{BIG + 1}"}}}}', ["big"]),
    ):
        data = await datasets.data(f"{{ datasets(where: {where}) {{ datasetName }} }}")
        assert _names(data) == names, where
    data = await datasets.data(
        "query($w: DatasetWhere) { datasets(where: $w) { datasetName } }",
        {"w": {"id": {"in": [7, str(BIG)]}, "rowCount": {"gt": "-1"}}},
    )
    assert _names(data) == ["big", "small"]


async def test_connection_pages_over_ids_beyond_2_53(datasets: Api) -> None:
    query = """query($after: String) { datasetsConnection(first: 1, after: $after,
        orderBy: [{rowCount: DESC}]) { nodes { id } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await datasets.data(query, {"after": after}))["datasetsConnection"]
        seen += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [str(BIG), "7"]


# -- DateTime and Date -----------------------------------------------------------------------


async def test_datetime_has_one_form_with_or_without_microseconds(datasets: Api) -> None:
    data = await datasets.data(
        "{ datasets(orderBy: [{id: DESC}]) { lastRefreshedAt createdAt updatedAt } }"
    )
    # The same strings on both databases: the whole second gets its six zeros, UTC is Z.
    assert data["datasets"] == [
        {
            "lastRefreshedAt": "2026-11-28T05:08:57.000000Z",
            "createdAt": "2026-11-28T05:08:57.000000Z",
            "updatedAt": "2026-11-29T20:43:29.516000Z",
        },
        {
            "lastRefreshedAt": None,
            "createdAt": "2026-11-28T05:08:57.000000Z",
            "updatedAt": "2026-11-29T20:43:29.516000Z",
        },
    ]


async def test_datetime_input_is_rfc_3339_with_an_offset(datasets: Api) -> None:
    variable = (
        "query($t: DateTime!) { datasets(where: {lastRefreshedAt: {eq: $t}}) { datasetName } }"
    )
    for given in (
        "2026-11-28T05:08:57Z",
        "2026-11-28t05:08:57z",
        "2026-11-28T06:08:57+01:00",
        "2026-11-27T23:38:57.000-05:30",
        "2026-11-28T05:08:57.000000+00:00",
        "2026-11-28T05:08:57-00:00",
    ):
        assert _names(await datasets.data(variable, {"t": given})) == ["big"], given
        inline = f"{{ datasets(where: {{lastRefreshedAt: {{eq: {json.dumps(given)}}}}}) {{ id }} }}"
        assert len((await datasets.data(inline))["datasets"]) == 1, given


async def test_datetime_input_keeps_microseconds(datasets: Api) -> None:
    query = "query($t: DateTime!) { datasets(where: {updatedAt: {eq: $t}}) { datasetName } }"
    same = await datasets.data(query, {"t": "2026-11-29T21:43:29.516+01:00"})
    assert _names(same) == ["big", "small"]
    other = await datasets.data(query, {"t": "2026-11-29T20:43:29.516001Z"})
    assert _names(other) == []
    for edge in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"):
        assert _names(await datasets.data(query, {"t": edge})) == [], edge


async def test_date_reads_and_takes_yyyy_mm_dd(datasets: Api) -> None:
    data = await datasets.data(
        '{ complianceReports(where: {periodStart: {eq: "2026-01-05"}}) { periodStart periodEnd } }'
    )
    assert data["complianceReports"] == [{"periodStart": "2026-01-05", "periodEnd": "2026-11-05"}]


async def test_seeded_rows_read_in_the_canonical_form(api: Api, catalog: Catalog) -> None:
    data = await api.data(
        "{ executionLogs(orderBy: [{id: ASC}], limit: 200) { id startedAt completedAt createdAt } }"
    )
    rows = all_rows(api.db, catalog, "execution_logs")[:200]
    assert [log["id"] for log in data["executionLogs"]] == [str(r["id"]) for r in rows]
    for log, row in zip(data["executionLogs"], rows, strict=True):
        for key, column in (
            ("startedAt", "started_at"),
            ("completedAt", "completed_at"),
            ("createdAt", "created_at"),
        ):
            value = row[column]
            if value is None:
                assert log[key] is None
                continue
            assert CANONICAL.fullmatch(log[key]), log[key]
            assert log[key] == value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    reports = await api.data("{ complianceReports(limit: 50) { periodStart } }")
    starts = [r["periodStart"] for r in reports["complianceReports"] if r["periodStart"]]
    assert starts and all(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", s) for s in starts)


def test_serializers_pad_and_convert_whatever_the_driver_hands_over() -> None:
    # SQLite may hand back naive values: they are UTC already.
    assert serialize_datetime(dt.datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000000Z"
    plus_one = dt.timezone(dt.timedelta(hours=1))
    moment = dt.datetime(2026, 1, 1, 0, 30, 0, 7, tzinfo=plus_one)
    assert serialize_datetime(moment) == "2025-12-31T23:30:00.000007Z"
    assert serialize_datetime(dt.datetime(5, 1, 1, tzinfo=dt.UTC)) == "0005-01-01T00:00:00.000000Z"
    assert serialize_date(dt.date(5, 1, 2)) == "0005-01-02"
    with pytest.raises(TypeError):
        serialize_date(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


# -- every malformed value is the client's error ---------------------------------------------

# (value, a phrase the message must hold)
BIGINT_BAD: list[tuple[Any, str]] = [
    (" 5", "expected a whole number"),
    ("5 ", "expected a whole number"),
    ("+5", "expected a whole number"),
    ("05", "expected a whole number"),
    ("-", "expected a whole number"),
    ("", "expected a whole number"),
    ("5.0", "expected a whole number"),
    ("1e3", "expected a whole number"),
    ("1_000", "expected a whole number"),
    ("\u0663", "expected a whole number"),  # ARABIC-INDIC DIGIT THREE: int() would take it
    ("0x10", "expected a whole number"),
    ("9223372036854775808", "outside -2^63..2^63-1"),
    ("-9223372036854775809", "outside -2^63..2^63-1"),
    ("9" * 5000, "outside -2^63..2^63-1"),
]
BIGINT_BAD_JSON: list[tuple[Any, str]] = [
    (1.0, "expected a whole number"),
    (1.5, "expected a whole number"),
    (True, "expected a whole number"),
    ([1], "expected a whole number"),
    ({"a": 1}, "expected a whole number"),
    (2**63, "outside -2^63..2^63-1"),
    (-(2**63) - 1, "outside -2^63..2^63-1"),
]
BIGINT_BAD_LITERALS: list[tuple[str, str]] = [
    ("1.5", "expected a whole number"),
    ("1.0", "expected a whole number"),
    ("1e3", "expected a whole number"),
    ("true", "expected a whole number"),
    ("FIVE", "expected a whole number"),
    ("[1]", "expected a whole number"),
    ("{a: 1}", "expected a whole number"),
    ("9223372036854775808", "outside -2^63..2^63-1"),
    ("-9223372036854775809", "outside -2^63..2^63-1"),
    ("9" * 5000, "outside -2^63..2^63-1"),
]
DATETIME_BAD: list[tuple[Any, str]] = [
    ("2026-11-28T05:08:57", 'add "Z"'),
    ("2026-11-28T05:08:57.123456", 'add "Z"'),
    ("2026-11-28T05:08:57.1234567Z", "at most 6 fractional digits"),
    ("2026-11-28T24:00:00Z", "hour must be in 0..23"),
    ("2026-11-28T05:08:60Z", "second must be in 0..59"),
    ("2026-11-28T05:08Z", "with seconds"),
    ("2026-11-28 05:08:57Z", "expected an RFC 3339 date and time"),
    ("2026-02-30T05:08:57Z", "day is out of range for month"),
    ("2026-13-01T05:08:57Z", "month must be in 1..12"),
    ("0000-01-01T00:00:00Z", "year 0 is out of range"),
    ("2026-11-28T05:08:57+24:00", "offset must be between"),
    ("2026-11-28T05:08:57-24:00", "offset must be between"),
    ("2026-11-28T05:08:57+01:60", "offset must be between"),
    ("2026-11-28T05:08:57+0100", "expected an RFC 3339 date and time"),
    ("2026-11-28T05:08:57.Z", "expected an RFC 3339 date and time"),
    ("9999-12-31T23:59:59-14:00", "outside years 1 to 9999"),
    ("0001-01-01T00:00:00+01:00", "outside years 1 to 9999"),
    ("2026-11-28", "expected an RFC 3339 date and time"),
    ("yesterday", "expected an RFC 3339 date and time"),
    ("", "expected an RFC 3339 date and time"),
    (1764306537, "expected a string"),
    (True, "expected a string"),
]
DATE_BAD: list[tuple[Any, str]] = [
    ("2026-1-5", "expected YYYY-MM-DD"),
    ("20261105", "expected YYYY-MM-DD"),
    ("2026-W45-4", "expected YYYY-MM-DD"),
    ("2026-W45", "expected YYYY-MM-DD"),
    ("2026-309", "expected YYYY-MM-DD"),
    ("2026-11-05T00:00:00Z", "expected YYYY-MM-DD"),
    ("2026-11-05 ", "expected YYYY-MM-DD"),
    ("", "expected YYYY-MM-DD"),
    ("2026-02-30", "day is out of range for month"),
    (20261105, "expected a string"),
]

# Where each scalar is given: (root field, field filtered on, its where input type).
PLACES = {
    "BigInt": ("executionLogs", "id", "ExecutionLogWhere"),
    "DateTime": ("executionLogs", "startedAt", "ExecutionLogWhere"),
    "Date": ("complianceReports", "periodStart", "ComplianceReportWhere"),
}
VARIABLE_CASES = [
    *(("BigInt", v, m) for v, m in BIGINT_BAD + BIGINT_BAD_JSON),
    *(("DateTime", v, m) for v, m in DATETIME_BAD),
    *(("Date", v, m) for v, m in DATE_BAD),
]
LITERAL_CASES = [
    *(("BigInt", json.dumps(v), m) for v, m in BIGINT_BAD),
    *(("BigInt", v, m) for v, m in BIGINT_BAD_LITERALS),
    *(("DateTime", json.dumps(v), m) for v, m in DATETIME_BAD),
    *(("Date", json.dumps(v), m) for v, m in DATE_BAD),
]


def _case_id(case: tuple[str, Any, str]) -> str:
    text = repr(case[1])
    return f"{case[0]}-{text if len(text) < 40 else text[:37] + '...'}"


def _is_bad_input(error: dict[str, Any], scalar: str, phrase: str) -> None:
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert f"{scalar} cannot represent" in error["message"], error
    assert phrase in error["message"], error
    # Readable: one short line, the offending value clipped, nothing of the server's insides.
    assert len(error["message"]) < 400 and "\n" not in error["message"], error
    assert "Traceback" not in error["message"] and "Expected value of type" not in error["message"]


@pytest.mark.parametrize(
    ("scalar", "value", "phrase"), VARIABLE_CASES, ids=map(_case_id, VARIABLE_CASES)
)
async def test_bad_variable_is_bad_user_input(
    api: Api, scalar: str, value: Any, phrase: str
) -> None:
    root, field, where = PLACES[scalar]
    # As a variable of the scalar's own type: the message names the variable.
    error = await api.error(
        f"query($v: {scalar}!) {{ {root}(where: {{{field}: {{eq: $v}}}}) {{ id }} }}", {"v": value}
    )
    _is_bad_input(error, scalar, phrase)
    assert error["message"].startswith("Variable '$v' has invalid value: "), error
    # Inside a whole filter given as a variable: the message names the path to the value.
    error = await api.error(
        f"query($w: {where}) {{ {root}(where: $w) {{ id }} }}", {"w": {field: {"in": [value]}}}
    )
    _is_bad_input(error, scalar, phrase)
    assert error["message"].startswith(f"Variable '$w' has invalid value at .{field}.in[0]: ")


@pytest.mark.parametrize(
    ("scalar", "literal", "phrase"), LITERAL_CASES, ids=map(_case_id, LITERAL_CASES)
)
async def test_bad_literal_is_bad_user_input(
    api: Api, scalar: str, literal: str, phrase: str
) -> None:
    root, field, _ = PLACES[scalar]
    query = f"{{ {root}(where: {{{field}: {{eq: {literal}}}}}) {{ id }} }}"
    error = await api.error(query)
    _is_bad_input(error, scalar, phrase)
    # The error points at the value itself.
    assert error["locations"] == [{"line": 1, "column": query.index(f"eq: {literal}") + 5}]


async def test_bad_id_in_a_lookup_is_bad_user_input(api: Api) -> None:
    error = await api.error('{ executionLog(id: "42abc") { id } }')
    _is_bad_input(error, "BigInt", "expected a whole number")
    assert error["locations"] == [{"line": 1, "column": 20}]
    error = await api.error("query($i: BigInt!) { executionLog(id: $i) { id } }", {"i": 4.2})
    _is_bad_input(error, "BigInt", "expected a whole number")
    assert error["message"].startswith("Variable '$i' has invalid value: "), error
