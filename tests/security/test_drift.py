"""A database that does not match the spec is named as such (SCHEMA_MISMATCH), on SQLite and on
PostgreSQL: find_drift lists each difference, requests that touch a missing table or column say
which one and what fixes it, `grace-graph check --database` exits 1, and `grace-graph serve`
refuses a SQLite file that does not exist instead of creating an empty one.

The drifted database is made by `create_schema` and then altered with raw SQL, as an operator
who edited schemas/ after `init` would leave it (here: the other way round, same effect).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from graph.drift import Drift, RetypedColumn, find_drift, schema_mismatch
from graph.errors import SchemaMismatchError, ServiceUnavailableError
from graph.gql.context import database_errors
from graph.registry import Registry
from graph.spec import Spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import BACKENDS, TestDatabase, fresh_database

ROOT = Path(__file__).resolve().parent.parent.parent
DROPPED_TABLE = "memory_business_intelligence"  # the Dashboards
ALTERED_TABLE = "memory_codebases"  # loses `description`; `frameworks` becomes an integer
# Plain columns only: SQLite's DROP COLUMN refuses one that an index or CHECK names.
DRIFT_SQL = (
    f"DROP TABLE {DROPPED_TABLE}",
    f"ALTER TABLE {ALTERED_TABLE} DROP COLUMN description",
    f"ALTER TABLE {ALTERED_TABLE} DROP COLUMN frameworks",
    f"ALTER TABLE {ALTERED_TABLE} ADD COLUMN frameworks INTEGER",
    # What the spec does not name is no drift.
    "CREATE TABLE operator_notes (id INTEGER PRIMARY KEY, note TEXT)",
    f"ALTER TABLE {ALTERED_TABLE} ADD COLUMN operator_note TEXT",
)
SQL_WORDS = ("SELECT", "INSERT", "FROM", "WHERE", "LINE")


@pytest.fixture(scope="module", params=BACKENDS)
def drifted_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, catalog: Catalog
) -> Iterator[TestDatabase]:
    """One drifted database per kind for the module; no test changes it (its writes fail)."""
    with fresh_database(request.param, tmp_path_factory.mktemp("drift")) as db:
        create_schema(db.engine, catalog)
        with db.engine.begin() as conn:
            for statement in DRIFT_SQL:
                conn.execute(text(statement))
        yield db


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "graph.cli", *args],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- find_drift ------------------------------------------------------------------------------


def test_matching_database_has_no_drift_and_a_fix_shows_at_once(
    empty_db: TestDatabase, catalog: Catalog
) -> None:
    create_schema(empty_db.engine, catalog)
    drift = find_drift(empty_db.engine, catalog)
    assert drift == Drift(spec_tables=len(catalog.tables))
    assert drift.matches and drift.describe() == [] and drift.fix_hint is None
    with empty_db.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {DROPPED_TABLE}"))
    assert find_drift(empty_db.engine, catalog).missing_tables == (DROPPED_TABLE,)
    create_schema(empty_db.engine, catalog)  # what `grace-graph init` runs
    assert find_drift(empty_db.engine, catalog).matches


def test_drift_names_exactly_the_differences(drifted_db: TestDatabase, catalog: Catalog) -> None:
    # The spec's list field is a native array on PostgreSQL, JSON text on SQLite.
    list_family = "array" if drifted_db.backend == "postgresql" else "json"
    with drifted_db.engine.connect() as conn:  # a connection works as well as an engine
        drift = find_drift(conn, catalog)
    assert drift == Drift(
        spec_tables=len(catalog.tables),
        missing_tables=(DROPPED_TABLE,),
        missing_columns={ALTERED_TABLE: ("description",)},
        retyped_columns=(RetypedColumn(ALTERED_TABLE, "frameworks", list_family, "integer"),),
    )
    assert not drift.matches
    assert drift.describe() == [
        f"table {DROPPED_TABLE} does not exist",
        f"column {ALTERED_TABLE}.description does not exist",
        f"column {ALTERED_TABLE}.frameworks holds integer; the spec declares {list_family}",
    ]
    assert drift.fix_hint is not None
    assert "grace-graph init" in drift.fix_hint and "migration" in drift.fix_hint


# -- requests that run into the drift ----------------------------------------------------------


async def test_requests_name_the_missing_table_or_column(
    drifted_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    api = Api(drifted_db, spec, catalog)
    expected = {
        "{ dashboards { id dashboardName } }": f"table {DROPPED_TABLE} does not exist",
        '{ dashboard(dashboardName: "d") { id } }': f"table {DROPPED_TABLE} does not exist",
        "{ codebases { repoName description } }": f"column {ALTERED_TABLE}.description",
        "{ codebasesConnection(first: 2) { edges { node { description } } } }": (
            f"column {ALTERED_TABLE}.description"
        ),
        'mutation { insertDashboards(rows: [{dashboardName: "d", category: SALES, owner: "o"}])'
        " { affectedCount } }": f"table {DROPPED_TABLE} does not exist",
        'mutation { insertCodebases(rows: [{repoName: "r", repoUrl: "u", description: "d"}])'
        " { affectedCount } }": f"column {ALTERED_TABLE}.description",
    }
    for query, names in expected.items():
        error = await api.error(query)
        assert error["extensions"]["code"] == "SCHEMA_MISMATCH", (query, error)
        message = error["message"]
        assert names in message, (query, message)
        fix = "grace-graph init" if "table" in names else "needs a migration"
        assert fix in message, (query, message)
        assert not any(word in message for word in SQL_WORDS), message
    # What the drift does not touch still answers.
    assert await api.data("{ codebases { repoName } executionLogs { id } }") == {
        "codebases": [],
        "executionLogs": [],
    }


async def test_readyz_names_the_drift(
    drifted_db: TestDatabase, spec: Spec, catalog: Catalog, tmp_path: Path
) -> None:
    """/readyz: 503 SCHEMA_MISMATCH with every difference while the database lags the spec;
    200 on a matching one."""
    response = await Api(drifted_db, spec, catalog).get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "SCHEMA_MISMATCH" and "grace-graph init" in body["fix"]
    assert f"table {DROPPED_TABLE} does not exist" in body["drift"]
    assert any(f"{ALTERED_TABLE}.description" in line for line in body["drift"])
    with fresh_database(drifted_db.backend, tmp_path) as matching:
        create_schema(matching.engine, catalog)
        ready = await Api(matching, spec, catalog).get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_registry_names_the_missing_table_or_column(drifted_db: TestDatabase, spec: Spec) -> None:
    registry = Registry(spec, drifted_db.engine)  # not closed: the engine is the fixture's
    with pytest.raises(SchemaMismatchError) as missing_table:
        registry.query_rows("business_intelligence")
    assert (missing_table.value.table, missing_table.value.column) == (DROPPED_TABLE, None)
    with pytest.raises(SchemaMismatchError) as missing_column:
        registry.insert_row("codebases", {"repo_name": "r", "repo_url": "u", "description": "d"})
    assert missing_column.value.code == "SCHEMA_MISMATCH"
    assert (missing_column.value.table, missing_column.value.column) == (
        ALTERED_TABLE,
        "description",
    )
    assert registry.count_rows("codebases") == 0  # nothing was written


class PgError(Exception):
    """A stand-in for a psycopg error: its SQLSTATE and primary message."""

    def __init__(self, sqlstate: str, primary: str) -> None:
        super().__init__(f"{primary}\nLINE 1: SELECT secret FROM t")
        self.sqlstate = sqlstate
        self.diag = type("Diag", (), {"message_primary": primary})()


@pytest.mark.parametrize(
    ("original", "table", "column"),
    [
        (sqlite3.OperationalError("no such table: memory_codebases"), "memory_codebases", None),
        (sqlite3.OperationalError("no such table: main.memory_sops"), "memory_sops", None),
        (
            sqlite3.OperationalError("no such column: memory_codebases_1.status"),
            "memory_codebases",
            "status",
        ),
        (sqlite3.OperationalError("no such column: anon_1.status"), None, "status"),
        (
            sqlite3.OperationalError("table memory_codebases has no column named status"),
            "memory_codebases",
            "status",
        ),
        (PgError("42P01", 'relation "memory_sops" does not exist'), "memory_sops", None),
        (
            PgError("42703", 'column "status" of relation "memory_codebases" does not exist'),
            "memory_codebases",
            "status",
        ),
        (
            PgError("42703", "column memory_codebases.status does not exist"),
            "memory_codebases",
            "status",
        ),
        (PgError("42703", 'column "status" does not exist'), None, "status"),
    ],
)
def test_database_messages_become_schema_mismatch(
    original: Exception, table: str | None, column: str | None, catalog: Catalog
) -> None:
    wrapper = ProgrammingError if isinstance(original, PgError) else OperationalError
    with pytest.raises(SchemaMismatchError) as caught, database_errors(catalog):
        raise wrapper("SELECT secret FROM t", None, original)
    assert (caught.value.table, caught.value.column) == (table, column)
    assert "secret" not in caught.value.message


@pytest.mark.parametrize(
    "original",
    [
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("unable to open database file"),
        sqlite3.OperationalError("disk I/O error"),
    ],
)
def test_an_outage_stays_service_unavailable(original: Exception) -> None:
    with pytest.raises(ServiceUnavailableError), database_errors():
        raise OperationalError("SELECT 1", None, original)


def test_other_errors_are_no_mismatch() -> None:
    # 42P01 also reports a statement of ours that is wrong (a bug): it stays an internal error.
    bug = PgError("42P01", 'missing FROM-clause entry for table "memory_codebases_1"')
    unique = PgError("23505", "duplicate key value violates unique constraint")
    for original in (bug, unique):
        assert schema_mismatch(ProgrammingError("SELECT", None, original)) is None
    with pytest.raises(ProgrammingError), database_errors():
        raise ProgrammingError("SELECT", None, bug)


# -- the command line --------------------------------------------------------------------------


def test_check_lists_the_drift_and_exits_1(drifted_db: TestDatabase) -> None:
    result = run_cli("check", "--database", drifted_db.url)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines[:3] == [
        f"table {DROPPED_TABLE} does not exist [SCHEMA_MISMATCH]",
        f"column {ALTERED_TABLE}.description does not exist [SCHEMA_MISMATCH]",
        f"column {ALTERED_TABLE}.frameworks holds integer; the spec declares "
        f"{'array' if drifted_db.backend == 'postgresql' else 'json'} [SCHEMA_MISMATCH]",
    ]
    assert lines[3].startswith("3 differences between the spec and ")
    assert "grace-graph init" in lines[3] and "Traceback" not in result.stderr


def test_check_passes_on_a_matching_database(empty_db: TestDatabase, catalog: Catalog) -> None:
    create_schema(empty_db.engine, catalog)
    result = run_cli("check", "--database", empty_db.url)
    assert result.returncode == 0, result.stderr
    assert f"the database matches the spec: {len(catalog.tables)} tables" in result.stdout


def test_serve_and_check_refuse_a_missing_sqlite_file(tmp_path: Path) -> None:
    missing = tmp_path / "mistyped.db"
    url = f"sqlite:///{missing}"
    for command in ("serve", "check"):
        result = run_cli(command, "--database", url)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert f"database file {missing} does not exist" in result.stderr
        assert "grace-graph init" in result.stderr and "Traceback" not in result.stderr
        assert not missing.exists(), command
    # `init` (like `seed`) is what creates it.
    assert run_cli("init", "--database", url).returncode == 0
    assert missing.exists()


def test_check_of_an_in_memory_database_is_no_missing_file(catalog: Catalog) -> None:
    result = run_cli("check", "--database", "sqlite:///:memory:")
    # Not refused as a missing file: an empty in-memory database lacks every table.
    assert result.returncode == 1 and "MISSING_DATABASE" not in result.stderr
    assert f"{len(catalog.tables)} differences" in result.stderr
