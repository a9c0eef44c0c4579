"""A compiled PostgreSQL statement's constants written into its text (graph/sql/inlined.py):
what is written, what stays a parameter, and that PostgreSQL reads every literal written as
the value the parameter bound, for adversarial values, on a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from graph.spec.model import BIGINT_MAX, BIGINT_MIN, Spec
from graph.sql.inlined import with_constants_inlined
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase, fresh_database
from tests.test_sqlite_plans import recorded


def test_constants_with_a_cast_are_written_and_slots_stay() -> None:
    sql = (
        "SELECT %(param_1)s::VARCHAR, %(param_2)s::INTEGER, %(slot_0)s::VARCHAR, "
        "%(param_3)s::BOOLEAN LIMIT %(param_4)s::INTEGER"
    )
    parameters = {"param_1": "it's", "param_2": -3, "slot_0": "failed", "param_3": True,
                  "param_4": 50}  # fmt: skip
    written, left = with_constants_inlined(sql, parameters)
    assert written == (
        "SELECT 'it''s'::VARCHAR, (-3)::INTEGER, %(slot_0)s::VARCHAR, true::BOOLEAN "
        "LIMIT 50::INTEGER"
    )
    assert left == {"slot_0": "failed"}


def test_what_no_literal_writes_exactly_stays_a_parameter() -> None:
    sql = (
        "SELECT %(param_1)s::VARCHAR, %(param_2)s::FLOAT, %(param_3)s::NUMERIC, "
        "%(param_4)s, %(param_5)s::VARCHAR, %(param_5)s, %(param_6)s::VARCHAR[]"
    )
    parameters = {
        "param_1": "a\\b",  # a backslash's meaning depends on standard_conforming_strings
        "param_2": 0.1,
        "param_3": BIGINT_MAX + 1,
        "param_4": "no cast: its type is the driver's",
        "param_5": "used with and without a cast",
        "param_6": ["a", "b"],
    }
    written, left = with_constants_inlined(sql, parameters)
    assert written == sql.replace("%(param_5)s::VARCHAR", "'used with and without a cast'::VARCHAR")
    assert left == parameters


def test_slots_are_written_too_for_a_statement_kept_for_its_values() -> None:
    sql = "SELECT %(param_1)s::VARCHAR WHERE x = %(slot_0)s::VARCHAR AND t > %(slot_1)s::FLOAT"
    parameters = {"param_1": "A", "slot_0": "50%", "slot_1": 0.5}
    written, left = with_constants_inlined(sql, parameters, slots=True)
    assert written == "SELECT 'A'::VARCHAR WHERE x = '50%%'::VARCHAR AND t > %(slot_1)s::FLOAT"
    assert left == {"slot_1": 0.5}


def test_parameters_by_position_are_left_alone() -> None:
    assert with_constants_inlined("SELECT %s::INTEGER", (1,)) == ("SELECT %s::INTEGER", (1,))


ADVERSARIAL_TEXTS = [
    "",
    "O'Brien",
    "''",
    "100%",
    "%%",
    "%(slot_0)s",
    "%(param_2)s::INTEGER",
    "'; DROP TABLE x; --",
    "/* not a comment */",
    "$$dollar$$",
    "🦀 ünïcödé 中文",
    "line\nbreak\ttab\r",
    "\x01\x1f\x7f",
    "e'quoted'",
]
ADVERSARIAL_INTEGERS = [0, 1, -1, 2**31 - 1, -(2**31), BIGINT_MAX, BIGINT_MIN]


def test_postgresql_reads_every_literal_as_the_parameter(tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as db, db.engine.connect() as conn:
        for value in ADVERSARIAL_TEXTS:
            _same_on_both(conn, "SELECT %(param_1)s::VARCHAR, %(slot_0)s::INTEGER", value)
        for number in ADVERSARIAL_INTEGERS:
            _same_on_both(conn, "SELECT %(param_1)s::BIGINT * 1, %(slot_0)s::INTEGER", number)
            _same_on_both(conn, "SELECT 0 - %(param_1)s::NUMERIC, %(slot_0)s::INTEGER", number)
        for flag in (True, False, None):
            _same_on_both(conn, "SELECT NOT %(param_1)s::BOOLEAN, %(slot_0)s::INTEGER", flag)


def _same_on_both(conn: Any, sql: str, value: Any) -> None:
    parameters = {"param_1": value, "slot_0": 7}
    written, left = with_constants_inlined(sql, parameters)
    assert left == {"slot_0": 7}, (value, written)
    bound = conn.exec_driver_sql(sql, parameters).one()
    literal = conn.exec_driver_sql(written, left).one()
    assert literal == bound, (value, written)


def test_a_statement_kept_for_its_values_binds_nothing(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    """Q1 of bench/ on PostgreSQL: its first run binds only the status compared (the Slot:
    the one value another request may change); the statement kept to answer the same
    request again has that value in its text too, and binds nothing. SQLite's statements
    are left as SQLAlchemy wrote them."""
    api = Api(seeded_db, spec, catalog)
    query = """query($status: ExecutionLogStatus!) {
      executionLogs(where: {status: {eq: $status}}, orderBy: [{startedAt: DESC}], limit: 50) {
        executionId status startedAt
        playbook { playbookName successRate trustScore }
        workOrder { workOrderId title status }
        relatedFeedback(limit: 5) { ticketId title priority }
      }
    }"""
    with recorded(seeded_db, "SELECT") as first_runs:
        for status in ("FAILED", "RUNNING"):
            answer = asyncio.run(api.post(query, {"status": status}))
            assert "errors" not in answer, answer
            assert answer["data"]["executionLogs"], "the seed has runs of both statuses"
    kept = api.graph.statements.values()
    if seeded_db.backend == "sqlite":
        # Positional parameters, the status among the constants.
        assert len(kept) == 2
        for statement, status in zip(kept, ("failed", "running"), strict=True):
            assert status in statement.parameters and "FAILED" in statement.parameters
        return
    assert [list(parameters) for _, parameters in first_runs] == [["slot_0"], ["slot_0"]]
    assert [parameters["slot_0"] for _, parameters in first_runs] == ["failed", "running"]
    # The second status ran the first's text, bound to its own value
    # (graph/sql/driver_template.py), and is not kept for its value.
    assert first_runs[0][0] == first_runs[1][0]
    assert api.graph.driver_templates.hits == 1
    assert len(kept) == 1 and kept[0].parameters == {}
    assert "LIMIT 50::INTEGER" in kept[0].sql and "'FAILED'::VARCHAR" in kept[0].sql
    assert "= 'failed'::VARCHAR" in kept[0].sql


def test_a_boolean_and_an_integer_of_one_text_are_written_apart() -> None:
    """True == 1 in Python, also as a key of the rewrites kept."""
    sql = "SELECT %(param_1)s::INTEGER"
    assert with_constants_inlined(sql, {"param_1": True})[0] == "SELECT true::INTEGER"
    assert with_constants_inlined(sql, {"param_1": 1})[0] == "SELECT 1::INTEGER"
    assert with_constants_inlined(sql, {"param_1": False})[0] == "SELECT false::INTEGER"
    assert with_constants_inlined(sql, {"param_1": 0})[0] == "SELECT 0::INTEGER"
