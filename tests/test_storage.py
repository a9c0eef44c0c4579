"""`init` builds real tables on both databases, and the database itself guards the rules."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from typer.testing import CliRunner

from graph.app import create_app
from graph.cli import app
from graph.errors import SpecErrors
from graph.settings import Settings
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.databases import TestDatabase

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = {
    "playbook_name": "fix_db",
    "actions": [{"step": 1, "action": "restart"}],
    "risk_level": "low",
}


def _insert(db: TestDatabase, catalog: Catalog, table: str, row: dict[str, Any]) -> None:
    with db.engine.begin() as conn:
        conn.execute(insert(catalog.table(table)), [row])


def test_init_creates_everything_and_is_idempotent(
    empty_db: TestDatabase, catalog: Catalog
) -> None:
    created = create_schema(empty_db.engine, catalog)
    assert len(created) == 18
    assert create_schema(empty_db.engine, catalog) == []
    inspector = inspect(empty_db.engine)
    assert "memory_execution_logs" in inspector.get_table_names()
    indexes = {i["name"] for i in inspector.get_indexes("memory_execution_logs")}
    assert "ix_memory_execution_logs_status_started_at" in indexes
    columns = {c["name"]: c for c in inspector.get_columns("memory_documents")}
    assert {"id", "created_at", "updated_at", "key_topics", "title"} <= set(columns)
    if empty_db.backend == "postgresql":
        assert "ARRAY" in str(columns["key_topics"]["type"])
        assert "TIMESTAMP" in str(columns["created_at"]["type"])
        gin = {i["name"]: i for i in inspector.get_indexes("memory_documents")}
        assert gin["ix_memory_documents_key_topics"]["dialect_options"]["postgresql_using"] == "gin"


def test_init_command_on_both_databases(empty_db: TestDatabase) -> None:
    args = [
        "init",
        "--database",
        empty_db.url,
        "--schemas",
        str(ROOT / "schemas"),
        "--relations",
        str(ROOT / "relations.yaml"),
    ]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0 and "created 18 tables" in first.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "already exist" in again.output


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ({**PLAYBOOK, "risk_level": "extreme"}, "enum value"),
        ({**PLAYBOOK, "success_rate": 1.5}, "rate above 1"),
        ({**PLAYBOOK, "total_runs": -1}, "negative count"),
        ({**PLAYBOOK, "playbook_name": None}, "missing key"),
        ({**PLAYBOOK, "playbook_name": "x" * 300}, "too long"),
    ],
)
def test_database_rejects_bad_rows(
    empty_db: TestDatabase, catalog: Catalog, row: dict[str, Any], why: str
) -> None:
    create_schema(empty_db.engine, catalog)
    with pytest.raises((IntegrityError, DBAPIError)):
        _insert(empty_db, catalog, "self_healing", row)
    with empty_db.engine.connect() as conn:
        count = conn.execute(select(catalog.table("self_healing").c.id)).all()
    assert count == [], why


def test_natural_key_is_unique(empty_db: TestDatabase, catalog: Catalog) -> None:
    create_schema(empty_db.engine, catalog)
    _insert(empty_db, catalog, "self_healing", PLAYBOOK)
    with pytest.raises(IntegrityError):
        _insert(empty_db, catalog, "self_healing", PLAYBOOK)


def test_timestamps_are_utc_and_updated_at_follows_updates(
    empty_db: TestDatabase, catalog: Catalog
) -> None:
    create_schema(empty_db.engine, catalog)
    table = catalog.table("self_healing")
    local = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    _insert(empty_db, catalog, "self_healing", {**PLAYBOOK, "last_used_at": local})
    with empty_db.engine.connect() as conn:
        row = conn.execute(select(table)).mappings().one()
    assert row["last_used_at"] == local and row["last_used_at"].utcoffset() == dt.timedelta(0)
    assert row["created_at"].tzinfo is not None
    assert abs(row["created_at"] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    time.sleep(0.01)
    with empty_db.engine.begin() as conn:
        conn.execute(update(table).values(total_runs=3))
    with empty_db.engine.connect() as conn:
        after = conn.execute(select(table)).mappings().one()
    assert after["updated_at"] > row["updated_at"] and after["created_at"] == row["created_at"]


def test_governance_log_is_append_only(empty_db: TestDatabase, catalog: Catalog) -> None:
    create_schema(empty_db.engine, catalog)
    decision = {
        "decision_id": "gd-1",
        "decision_type": "approval",
        "subject": "Deploy",
        "subject_type": "work_order",
        "risk_level": "high",
        "decision_maker": "ada",
        "decision_outcome": "approved",
        "audit_stamp": "sha256:00",
    }
    _insert(empty_db, catalog, "governance", decision)
    name = catalog.table("governance").name
    for statement in (f"UPDATE {name} SET subject = 'changed'", f"DELETE FROM {name}"):
        with pytest.raises(DBAPIError), empty_db.engine.begin() as conn:
            conn.execute(text(statement))
    with empty_db.engine.connect() as conn:
        subjects = conn.execute(text(f"SELECT subject FROM {name}")).scalars().all()
    assert subjects == ["Deploy"]


def test_server_refuses_to_start_on_spec_errors(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "t.yaml").write_text("table: t\ntype: T\nfields: {}\n")
    (tmp_path / "relations.yaml").write_text("relations: []\n")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'g.db'}",
        schemas_dir=tmp_path / "schemas",
        relations_file=tmp_path / "relations.yaml",
    )
    with pytest.raises(SpecErrors):
        create_app(settings)
    result = CliRunner().invoke(
        app,
        [
            "serve",
            "--schemas",
            str(tmp_path / "schemas"),
            "--relations",
            str(tmp_path / "relations.yaml"),
        ],
    )
    assert result.exit_code == 1 and "MISSING_KEY" in result.output
    assert not (tmp_path / "g.db").exists()


def test_absent_json_and_lists_are_sql_null(empty_db: TestDatabase, catalog: Catalog) -> None:
    create_schema(empty_db.engine, catalog)
    _insert(empty_db, catalog, "self_healing", {**PLAYBOOK, "trigger_conditions": None})
    name = catalog.table("self_healing").name
    with empty_db.engine.connect() as conn:
        nulls = conn.execute(
            text(
                f"SELECT count(*) FROM {name} WHERE trigger_conditions IS NULL "
                "AND target_components IS NULL"
            )
        ).scalar_one()
    assert nulls == 1


def test_defaults_of_every_kind_are_applied(empty_db: TestDatabase, tmp_path: Path) -> None:
    from graph.spec import load_spec
    from graph.sql.tables import build_catalog

    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "things.yaml").write_text(
        "table: things\ntype: Thing\ndescription: Things.\nkey: name\nfields:\n"
        "  name: {type: string, description: Name.}\n"
        "  level: {type: enum, values: [low, high], default: high, description: Level.}\n"
        "  count: {type: int, default: 3, description: Count.}\n"
        "  active: {type: bool, default: true, description: Active.}\n"
        "  due: {type: date, default: 2026-01-31, description: Due.}\n"
        "  seen: {type: datetime, default: 2026-01-31T08:00:00Z, description: Seen.}\n"
        "  tags: {type: list, of: string, default: [a, b], description: Tags.}\n"
        "  meta: {type: json, default: {k: 1}, description: Meta.}\n"
    )
    (tmp_path / "relations.yaml").write_text("relations: []\n")
    catalog = build_catalog(load_spec(tmp_path / "schemas", tmp_path / "relations.yaml"))
    create_schema(empty_db.engine, catalog)
    table = catalog.table("things")
    with empty_db.engine.begin() as conn:
        conn.execute(insert(table), [{"name": "x"}])
        conn.execute(text("INSERT INTO things (name) VALUES ('raw')"))  # a writer outside us
    with empty_db.engine.connect() as conn:
        rows = {r["name"]: r for r in conn.execute(select(table)).mappings()}
    assert rows["x"]["level"] == "high" and rows["x"]["count"] == 3 and rows["x"]["active"]
    assert rows["x"]["due"] == dt.date(2026, 1, 31)
    assert rows["x"]["seen"] == dt.datetime(2026, 1, 31, 8, tzinfo=dt.UTC)
    assert rows["x"]["tags"] == ["a", "b"] and rows["x"]["meta"] == {"k": 1}
    # Scalar and date defaults live in the database itself.
    assert (rows["raw"]["level"], rows["raw"]["count"], rows["raw"]["due"]) == (
        "high",
        3,
        dt.date(2026, 1, 31),
    )
