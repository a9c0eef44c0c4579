"""`grace-graph load`: files of rows into one table, all or nothing, on both databases.

Every refused load is checked twice: by what it prints (`file:line: field: message [CODE]`) and
by the table, which must hold exactly the rows it held before.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import Result
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from graph import ingest
from graph.cli import app
from graph.settings import Settings
from graph.spec import Spec, load_spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog, build_catalog
from tests.databases import TestDatabase

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "tests" / "fixtures" / "zoo"
LOGS = "memory_execution_logs"


@pytest.fixture
def db(empty_db: TestDatabase, catalog: Catalog) -> TestDatabase:
    create_schema(empty_db.engine, catalog)
    return empty_db


def load(
    db: TestDatabase,
    table: str,
    file: Path,
    *options: str,
    schemas: Path = ROOT / "schemas",
    relations: Path = ROOT / "relations.yaml",
) -> Result:
    args = ["load", table, str(file), *options, "--no-progress", "--database", db.url]
    args += ["--schemas", str(schemas), "--relations", str(relations)]
    return CliRunner().invoke(app, args)


def count(db: TestDatabase, table: str = LOGS) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def log(n: int, **values: Any) -> dict[str, Any]:
    """A valid execution log, in the file's own terms (text datetimes, snake_case names)."""
    row: dict[str, Any] = {
        "execution_id": f"exec-{n:06d}",
        "command_type": "deploy",
        "component": "billing-api",
        "status": "succeeded",
    }
    row.update(values)
    return row


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    with path.open("wb") as out:
        for row in rows:
            out.write(row if isinstance(row, bytes) else orjson.dumps(row))
            out.write(b"\n")
    return path


def seeded(db: TestDatabase, tmp_path: Path, rows: int = 2) -> int:
    """Load `rows` rows first, so that "unchanged" means more than "still empty"."""
    result = load(
        db, "execution_logs", write_jsonl(tmp_path / "first.jsonl", map(log, range(rows)))
    )
    assert result.exit_code == 0, result.output
    return count(db)


def refused(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


# -- loads that succeed -------------------------------------------------------------------------


def test_a_jsonl_file_is_loaded_with_its_values(db: TestDatabase, tmp_path: Path) -> None:
    rows = [
        log(
            1,
            started_at="2024-06-01T09:30:00Z",
            completed_at="2024-06-01T11:30:00+02:00",
            duration_ms="9007199254740993",
            resource_usage={"cpu_seconds": 12.4, "tags": ["a", "b"]},
            exit_code=0,
        ),
        log(2, status="failed", error_message="Zoë's 🦓 run: 100% _done_ \\ not"),
        log(3, environment=None),
    ]
    result = load(db, "execution_logs", write_jsonl(tmp_path / "logs.jsonl", rows))
    assert result.exit_code == 0, result.output
    assert f"loaded 3 rows into {LOGS} in " in result.stdout and "rows/s)" in result.stdout
    with db.engine.connect() as conn:
        stored = {
            r.execution_id: r
            for r in conn.execute(
                text(
                    "SELECT execution_id, started_at, completed_at, duration_ms, resource_usage, "
                    f"error_message, environment FROM {LOGS}"
                )
            )
        }
    first = stored["exec-000001"]
    assert first.duration_ms == 9007199254740993
    resource = first.resource_usage
    resource = json.loads(resource) if isinstance(resource, str) else resource
    assert resource == {"cpu_seconds": 12.4, "tags": ["a", "b"]}
    assert stored["exec-000002"].error_message == "Zoë's 🦓 run: 100% _done_ \\ not"
    assert stored["exec-000003"].environment is None


def test_the_sql_table_name_works_too(db: TestDatabase, tmp_path: Path) -> None:
    result = load(db, LOGS, write_jsonl(tmp_path / "logs.ndjson", [log(1)]))
    assert result.exit_code == 0, result.output
    assert count(db) == 1


def test_yaml_rows_with_timestamps(db: TestDatabase, tmp_path: Path) -> None:
    file = tmp_path / "logs.yaml"
    file.write_text(
        "# two runs\n"
        "- execution_id: exec-1\n"
        "  command_type: test\n"
        "  component: checkout-service\n"
        "  status: failed\n"
        "  started_at: 2024-06-01T09:30:00Z\n"
        "  completed_at: 2024-06-01 10:00:00\n"  # no offset: UTC, as YAML says
        "- {execution_id: exec-2, command_type: build, component: memory-api, status: queued}\n"
    )
    result = load(db, "execution_logs", file)
    assert result.exit_code == 0, result.output
    with db.engine.connect() as conn:
        started, completed = conn.execute(
            text(f"SELECT started_at, completed_at FROM {LOGS} WHERE execution_id = 'exec-1'")
        ).one()
    as_utc = [
        v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(v)
        for v in (started, completed)
    ]
    assert [v.replace(tzinfo=None) for v in as_utc] == [
        dt.datetime(2024, 6, 1, 9, 30),
        dt.datetime(2024, 6, 1, 10, 0),
    ]


def test_yaml_problems_name_the_line_of_the_mapping(db: TestDatabase, tmp_path: Path) -> None:
    before = seeded(db, tmp_path)
    file = tmp_path / "logs.yaml"
    file.write_text(
        "- {execution_id: exec-1, command_type: test, component: a, status: failed}\n"
        "- execution_id: exec-2\n"
        "  command_type: test\n"
        "  component: a\n"
        "  status: exploded\n"
        "- just text\n"
    )
    output = refused(load(db, "execution_logs", file))
    assert f"{file}:2: status: 'exploded' is not one of" in output
    assert f"{file}:6: a row is an object of field values" in output
    assert count(db) == before


def test_the_format_option_overrides_the_file_name(db: TestDatabase, tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "logs.txt", [log(1)])
    output = refused(load(db, "execution_logs", file))
    assert "cannot tell the format" in output and "--format" in output
    output = refused(load(db, "execution_logs", file, "--format", "xml"))
    assert "unknown format 'xml': use one of jsonl, csv, yaml" in output
    output = refused(load(db, "execution_logs", file, "--format", "jsonl", "--batch-size", "0"))
    assert "--batch-size must be 1 or more" in output
    result = load(db, "execution_logs", file, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert count(db) == 1


# -- the command line and the file, before any row ----------------------------------------------


def test_an_unknown_table_names_the_known_ones(db: TestDatabase, tmp_path: Path) -> None:
    output = refused(load(db, "execution_log", write_jsonl(tmp_path / "a.jsonl", [log(1)])))
    assert "unknown table 'execution_log'; did you mean 'execution_logs'?" in output
    assert "known tables:" in output and "feedback" in output and "governance" in output
    assert count(db) == 0


def test_a_missing_file(db: TestDatabase, tmp_path: Path) -> None:
    before = seeded(db, tmp_path)
    output = refused(load(db, "execution_logs", tmp_path / "nowhere.jsonl"))
    assert f"{tmp_path / 'nowhere.jsonl'}: no such file [BAD_USER_INPUT]" in output
    assert count(db) == before


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.jsonl", ""),
        ("blank.jsonl", "\n  \n"),
        ("empty.csv", ""),
        ("header-only.csv", "execution_id,command_type,component,status\n"),
        ("empty.yaml", ""),
        ("empty-list.yaml", "[]\n"),
    ],
)
def test_a_file_without_rows(db: TestDatabase, tmp_path: Path, name: str, content: str) -> None:
    before = seeded(db, tmp_path)
    file = tmp_path / name
    file.write_text(content)
    output = refused(load(db, "execution_logs", file))
    assert "no rows" in output and "[BAD_FILE]" in output
    assert count(db) == before


def test_a_csv_file_without_a_header(db: TestDatabase, tmp_path: Path) -> None:
    before = seeded(db, tmp_path)
    file = tmp_path / "logs.csv"
    file.write_text("exec-9,deploy,billing-api,succeeded\n")
    output = refused(load(db, "execution_logs", file))
    assert f"{file}:1: the first line is not a header" in output
    assert "execution_id," in output  # an example header
    assert count(db) == before


def test_a_csv_column_that_is_no_field(db: TestDatabase, tmp_path: Path) -> None:
    before = seeded(db, tmp_path)
    file = tmp_path / "logs.csv"
    file.write_text("execution_id,command_type,component,statuss\nexec-9,deploy,a,succeeded\n")
    output = refused(load(db, "execution_logs", file))
    assert f"{file}:1: unknown column 'statuss'" in output
    assert "did you mean 'status'?" in output
    file.write_text("execution_id,command_type,component,status,id\nexec-9,deploy,a,failed,7\n")
    assert "column 'id' is set by the server" in refused(load(db, "execution_logs", file))
    assert count(db) == before


def test_unparseable_json_and_rows_that_are_no_objects(db: TestDatabase, tmp_path: Path) -> None:
    before = seeded(db, tmp_path)
    file = write_jsonl(
        tmp_path / "logs.jsonl",
        [log(10), b'{"execution_id": "exec-11", "status": ', log(12), b"[1, 2]", b"null", log(15)],
    )
    output = refused(load(db, "execution_logs", file))
    assert f"{file}:2: not valid JSON" in output
    assert f"{file}:4: a row is an object of field values, not [1, 2] [BAD_USER_INPUT]" in output
    assert f"{file}:5: a row is an object of field values, not None" in output
    assert "3 of 6 rows are invalid" in output and "nothing was loaded" in output
    assert count(db) == before


def test_bad_lines_far_apart_are_all_reported(db: TestDatabase, tmp_path: Path) -> None:
    """Line 3 and line 70,000 of one file: both named, nothing written."""
    before = seeded(db, tmp_path)

    def rows() -> Iterator[bytes]:
        for n in range(1, 70_001):
            if n == 3:
                yield orjson.dumps(log(n, status="exploded"))
            elif n == 70_000:
                yield orjson.dumps({"execution_id": f"exec-{n:06d}", "command_type": "deploy"})
            else:
                yield (
                    b'{"execution_id":"x-%d","command_type":"scan","component":"c","status":"queued"}'
                    % n
                )

    file = write_jsonl(tmp_path / "big.jsonl", rows())
    output = refused(load(db, "execution_logs", file))
    assert f"{file}:3: status: 'exploded' is not one of queued, running" in output
    assert f"{file}:70000: component: is required [BAD_USER_INPUT]" in output
    assert f"{file}:70000: status: is required" in output
    assert "2 of 70,000 rows are invalid (3 problems); nothing was loaded" in output
    assert count(db) == before


def test_the_listing_stops_at_a_hundred_problems(db: TestDatabase, tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "logs.jsonl", (log(n, status="nope") for n in range(150)))
    output = refused(load(db, "execution_logs", file))
    assert f"{file}:100: status:" in output and f"{file}:101: status:" not in output
    assert "... and 50 more problems" in output
    assert count(db) == 0


# -- upsert and skip-invalid --------------------------------------------------------------------


def statuses(db: TestDatabase) -> dict[str, tuple[str, str | None]]:
    with db.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT execution_id, status, command FROM {LOGS}"))
        return {r.execution_id: (r.status, r.command) for r in rows}


def test_upsert_twice_is_idempotent(db: TestDatabase, tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "first.jsonl", [log(1, command="make"), log(2, command="test")])
    assert load(db, "execution_logs", first).exit_code == 0
    # exec-1 changes its status only (command is not given: it stays), exec-3 is new.
    again = write_jsonl(
        tmp_path / "again.jsonl",
        [
            {
                "execution_id": "exec-000001",
                "status": "failed",
                "command_type": "deploy",
                "component": "billing-api",
            },
            log(3, status="running"),
        ],
    )
    for _ in range(2):
        result = load(db, "execution_logs", again, "--upsert")
        assert result.exit_code == 0, result.output
        assert "loaded 2 rows" in result.stdout
        assert count(db) == 3
        assert statuses(db) == {
            "exec-000001": ("failed", "make"),
            "exec-000002": ("succeeded", "test"),
            "exec-000003": ("running", None),
        }


def test_upsert_applies_a_repeated_key_in_file_order(db: TestDatabase, tmp_path: Path) -> None:
    file = write_jsonl(
        tmp_path / "logs.jsonl", [log(1, status="queued"), log(2), log(1, status="failed")]
    )
    result = load(db, "execution_logs", file, "--upsert")
    assert result.exit_code == 0, result.output
    assert statuses(db)["exec-000001"] == ("failed", None) and count(db) == 2


def test_upsert_of_an_append_only_table_is_refused(db: TestDatabase, tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "decisions.jsonl", [{"decision_id": "GD-1"}])
    output = refused(load(db, "governance", file, "--upsert"))
    assert "append-only" in output and "[APPEND_ONLY]" in output
    assert count(db, "memory_governance_decisions") == 0


def test_skip_invalid_loads_the_valid_rows(db: TestDatabase, tmp_path: Path) -> None:
    file = write_jsonl(
        tmp_path / "logs.jsonl",
        [log(1), log(2, status="nope"), b"{oops", log(4), log(5, exit_code=2**40)],
    )
    result = load(db, "execution_logs", file, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "loaded 2 rows" in result.stdout and "skipped 3 invalid rows" in result.stdout
    assert f"{file}:2: status:" in result.output and f"{file}:3: not valid JSON" in result.output
    assert f"{file}:5: exit_code: 1099511627776 is outside the range" in result.output
    assert sorted(statuses(db)) == ["exec-000001", "exec-000004"]


def test_skip_invalid_with_no_valid_row_loads_nothing(db: TestDatabase, tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "logs.jsonl", [log(1, status="nope")])
    output = refused(load(db, "execution_logs", file, "--skip-invalid"))
    assert "nothing was loaded" in output
    assert count(db) == 0


# -- what the database refuses ------------------------------------------------------------------


def test_a_key_that_exists_is_a_conflict(db: TestDatabase, tmp_path: Path) -> None:
    before = seeded(db, tmp_path)  # exec-000000 and exec-000001
    file = write_jsonl(tmp_path / "logs.jsonl", [log(5), log(6), log(1)])
    output = refused(load(db, "execution_logs", file))
    assert (
        f"{file}:3: execution_id: 'exec-000001': a row with this value already exists "
        f"in {LOGS} [CONFLICT]"
    ) in output
    assert count(db) == before


@pytest.mark.parametrize("batch", ["10000", "1"])
def test_a_key_given_twice_in_a_file_is_a_conflict(
    db: TestDatabase, tmp_path: Path, batch: str
) -> None:
    before = seeded(db, tmp_path)
    file = write_jsonl(tmp_path / "logs.jsonl", [log(7), log(8), log(7)])
    output = refused(load(db, "execution_logs", file, "--batch-size", batch))
    assert f"{file}:3: execution_id: 'exec-000007'" in output and "[CONFLICT]" in output
    assert "line 1" in output or "earlier line" in output
    assert count(db) == before


def test_a_dangling_link_is_refused_where_the_relation_rejects_it(
    db: TestDatabase, tmp_path: Path
) -> None:
    """feedback.linked_work_orders -> coding_agent.work_order_id has on_missing: reject."""
    work_orders = write_jsonl(
        tmp_path / "orders.jsonl",
        [{"work_order_id": "WO-1", "title": "Fix the pool", "task_type": "bugfix"}],
    )
    assert load(db, "coding_agent", work_orders).exit_code == 0

    def ticket(n: int, links: list[str]) -> dict[str, Any]:
        return {
            "ticket_id": f"FB-{n}",
            "ticket_type": "bug",
            "title": "Slow",
            "linked_work_orders": links,
        }

    file = write_jsonl(
        tmp_path / "tickets.jsonl",
        [ticket(1, ["WO-1"]), ticket(2, ["WO-1", "WO-404"]), ticket(3, [])],
    )
    output = refused(load(db, "feedback", file))
    assert f"{file}:2: linked_work_orders: no WorkOrder has workOrderId 'WO-404'" in output
    assert "[MISSING_LINK_TARGET]" in output
    assert count(db, "memory_feedback_tickets") == 0
    fixed = write_jsonl(tmp_path / "fixed.jsonl", [ticket(1, ["WO-1"]), ticket(3, [])])
    result = load(db, "feedback", fixed)
    assert result.exit_code == 0, result.output
    assert count(db, "memory_feedback_tickets") == 2


def test_a_chained_table_is_loaded_with_its_stamps(db: TestDatabase, tmp_path: Path) -> None:
    def decision(n: int) -> dict[str, Any]:
        return {
            "decision_id": f"GD-{n}",
            "decision_type": "approval",
            "subject": "Deploy",
            "subject_type": "other",
            "risk_level": "low",
            "decision_maker": "unified_logic",
            "decision_outcome": "approved",
        }

    file = write_jsonl(tmp_path / "decisions.jsonl", map(decision, range(5)))
    result = load(db, "governance", file, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    verify = CliRunner().invoke(
        app,
        [
            "audit",
            "verify",
            "--database",
            db.url,
            "--schemas",
            str(ROOT / "schemas"),
            "--relations",
            str(ROOT / "relations.yaml"),
        ],
    )
    assert verify.exit_code == 0 and "5 rows, chain intact" in verify.output, verify.output


# -- CSV ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zoo_spec() -> Spec:
    return load_spec(ZOO / "schemas", ZOO / "relations.yaml")


def csv_cell(value: Any) -> str:
    """How a value is written in a CSV cell (docs/load.md)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        # Sorted keys: jsonb keeps its own key order, so only a canonical text compares.
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return str(value)


KEEPERS = [
    {
        "keeper_code": "K-1",
        "full_name": "Zoë Ångström 🦓",
        "bio": 'Says "hi", then 100% _wild_ \\ paths\nand a second line',
        "badge": "0b3a4c52-8f1e-4c1a-9d3e-2f6b7a8c9d01",
        "shift": "night",
        "age_days": -2147483648,
        "salary": 9223372036854775807,
        "rating": 0.1,
        "on_duty": True,
        "hired_on": dt.date(2020, 2, 29),
        "last_seen_at": dt.datetime(2024, 6, 1, 9, 30, 0, 123456, tzinfo=dt.UTC),
        "profile": {"langs": ["fr", "日本語"], "score": 1.5, "deep": {"x": None}},
        "nicknames": ["Zo", "a,b", 'quote"d', "back\\slash", "%_"],
        "mentor_code": None,
        "enclosure_ref": None,
        "favourite_chip": None,
        "buddy_no": None,
    },
    {
        "keeper_code": "K-2",
        "full_name": "Bob",
        "bio": None,
        "badge": None,
        "shift": "early",
        "age_days": None,
        "salary": None,
        "rating": None,
        "on_duty": False,
        "hired_on": None,
        "last_seen_at": None,
        "profile": None,
        "nicknames": [],
        "mentor_code": "K-1",
        "enclosure_ref": "north",
        "favourite_chip": -9223372036854775808,
        "buddy_no": 3,
    },
]


def read_keepers(db: TestDatabase, catalog: Catalog) -> list[dict[str, Any]]:
    table = catalog.table("keepers")
    columns = [table.c[name] for name in KEEPERS[0]]
    with db.engine.connect() as conn:
        rows = conn.execute(select(*columns).order_by(table.c.keeper_code)).mappings()
        return [dict(r) for r in rows]


def test_a_csv_round_trip(empty_db: TestDatabase, tmp_path: Path, zoo_spec: Spec) -> None:
    """Unicode, `% _ \\`, quotes, new lines, nulls, lists and JSON: the rows read back are the
    rows written, and written out again they make the same file."""
    catalog = build_catalog(zoo_spec)
    create_schema(empty_db.engine, catalog)
    names = list(KEEPERS[0])
    first = tmp_path / "keepers.csv"
    with first.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        writer.writerows([csv_cell(row[n]) for n in names] for row in KEEPERS)
    result = load(
        empty_db, "keepers", first, schemas=ZOO / "schemas", relations=ZOO / "relations.yaml"
    )
    assert result.exit_code == 0, result.output
    stored = read_keepers(empty_db, catalog)
    for row in stored:
        if row["badge"] is not None:
            row["badge"] = str(row["badge"])
    assert stored == KEEPERS
    again = tmp_path / "again.csv"
    with again.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        writer.writerows([csv_cell(row[n]) for n in names] for row in stored)
    assert again.read_bytes() == first.read_bytes()


def test_csv_cells_are_converted_by_field_type(
    empty_db: TestDatabase, tmp_path: Path, zoo_spec: Spec
) -> None:
    create_schema(empty_db.engine, build_catalog(zoo_spec))
    file = tmp_path / "keepers.csv"
    file.write_text(
        "keeper_code,full_name,age_days,rating,on_duty,profile,nicknames\n"
        "K-1,Ann,12,1e3,TRUE,{},[]\n"
        'K-2,Bob,twelve,x,yes,{oops,"[1]"\n'
        '"K-3","Multi\nline",1,2,false,,"[""a""]"\n'
        "K-4,,1.5,1,true,[],\n"
    )
    output = refused(
        load(empty_db, "keepers", file, schemas=ZOO / "schemas", relations=ZOO / "relations.yaml")
    )
    assert f"{file}:3: age_days: expected a whole number (a 32-bit integer), not 'twelve'" in output
    assert f"{file}:3: rating: expected a number, not 'x'" in output
    assert f"{file}:3: on_duty: expected true or false, not 'yes'" in output
    assert f"{file}:3: profile: not valid JSON" in output
    assert f"{file}:3: nicknames: item 0: expected text, not 1" in output
    assert f"{file}:6: full_name: is required and cannot be null" in output
    assert f"{file}:6: age_days: expected a whole number (a 32-bit integer), not '1.5'" in output
    assert ":4:" not in output and ":5:" not in output  # the record of lines 4-5 is valid
    assert count(empty_db, "zoo_keepers") == 0


def test_a_csv_row_with_the_wrong_number_of_cells(db: TestDatabase, tmp_path: Path) -> None:
    file = tmp_path / "logs.csv"
    file.write_text("execution_id,command_type,component,status\nexec-1,deploy,a\n")
    output = refused(load(db, "execution_logs", file))
    assert f"{file}:2: has 3 cells; the header names 4 columns" in output
    assert count(db) == 0


# -- the database -------------------------------------------------------------------------------


def test_an_unavailable_database_is_exit_code_2(tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "logs.jsonl", [log(1)])
    result = CliRunner().invoke(
        app,
        [
            "load",
            "execution_logs",
            str(file),
            "--no-progress",
            "--database",
            "postgresql://grace@127.0.0.1:1/grace",
            "--schemas",
            str(ROOT / "schemas"),
            "--relations",
            str(ROOT / "relations.yaml"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "[SERVICE_UNAVAILABLE]" in result.output and "Traceback" not in result.output


def test_a_missing_table_says_to_run_init(empty_db: TestDatabase, tmp_path: Path) -> None:
    result = load(empty_db, "execution_logs", write_jsonl(tmp_path / "logs.jsonl", [log(1)]))
    assert result.exit_code == 2, result.output
    assert f"table {LOGS} does not exist; run grace-graph init [MISSING_TABLE]" in result.output


def test_a_load_is_one_transaction(db: TestDatabase, tmp_path: Path) -> None:
    """Batches of one row each: a refusal in the last batch takes back the first ones."""
    before = seeded(db, tmp_path)
    file = write_jsonl(tmp_path / "logs.jsonl", [log(20), log(21), log(22), log(0)])
    output = refused(load(db, "execution_logs", file, "--batch-size", "1"))
    assert f"{file}:4: execution_id: 'exec-000000'" in output
    with db.engine.connect() as conn:
        table = build_catalog(load_spec(ROOT / "schemas", ROOT / "relations.yaml")).table(
            "execution_logs"
        )
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == before


@pytest.mark.parametrize("method", ["auto", "ops"])
def test_both_write_paths_agree(
    db: TestDatabase, tmp_path: Path, spec: Spec, catalog: Catalog, method: str
) -> None:
    """PostgreSQL loads through COPY ("auto") or WriteOps.insert ("ops"): the same rows, the
    same upserts, the same refusals, and a progress bar that draws without a terminal."""
    table = spec.table("execution_logs")

    def run(rows: list[Any], name: str, **options: Any) -> ingest.LoadReport:
        file = write_jsonl(tmp_path / name, rows)
        with ingest.Source(file, table) as source:
            return ingest.load(
                db.engine,
                catalog,
                Settings(),
                table,
                source,
                ingest.LoadOptions(method=method, batch_size=2, progress=True, **options),
            )

    first = run([log(1, command="a"), log(2), log(3, resource_usage={"x": [1]})], "1.jsonl")
    assert first.ok and first.loaded == 3
    assert first.method == ("copy" if db.backend == "postgresql" and method == "auto" else "ops")
    # An upsert row is a whole row (required fields too); it updates the fields it gives.
    mixed = [
        log(1, status="failed"),
        log(4, exit_code=3),
        log(2, command=None),
        log(3),
    ]
    upserted = run(mixed, "2.jsonl", upsert=True)
    assert upserted.ok, upserted.problem_lines()
    assert statuses(db) == {
        "exec-000001": ("failed", "a"),
        "exec-000002": ("succeeded", None),
        "exec-000003": ("succeeded", None),
        "exec-000004": ("succeeded", None),
    }
    conflict = run([log(9), log(4)], "3.jsonl")
    assert not conflict.ok and conflict.refused and count(db) == 4
    assert [p.render("f") for p in conflict.problems] == [
        f"f:2: execution_id: 'exec-000004': a row with this value already exists in {LOGS} "
        "[CONFLICT]"
    ]


@pytest.mark.parametrize("method", ["insert", "upsert"])
def test_a_load_keeps_the_rollups_of_the_rows_it_links(
    db: TestDatabase, tmp_path: Path, method: str
) -> None:
    """Playbook statistics follow a bulk load as they follow a mutation (COPY path on
    PostgreSQL, the checked path on SQLite); counted here from the file's rows."""
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO memory_self_healing_playbooks (playbook_name, actions, risk_level) "
                "VALUES ('p', '[]', 'low'), ('q', '[]', 'low')"
            )
        )
    statuses = ["succeeded", "failed", "running", "timed_out", "succeeded"]
    rows = [log(n, status=s, linked_playbook_id="p") for n, s in enumerate(statuses)]
    options = ["--upsert"] if method == "upsert" else []
    result = load(db, "execution_logs", write_jsonl(tmp_path / "a.jsonl", rows), *options)
    assert result.exit_code == 0, result.output
    if method == "upsert":  # move two runs to the other playbook
        moved = [log(n, status=s, linked_playbook_id="q") for n, s in enumerate(statuses[:2])]
        result = load(db, "execution_logs", write_jsonl(tmp_path / "b.jsonl", moved), *options)
        assert result.exit_code == 0, result.output
    with db.engine.connect() as conn:
        stats = dict(
            conn.execute(
                text("SELECT playbook_name, total_runs FROM memory_self_healing_playbooks")
            ).all()
        )
    assert stats == ({"p": 4, "q": 0} if method == "insert" else {"p": 2, "q": 2})
