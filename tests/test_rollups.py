"""Rollups: declared in YAML, checked at load, recomputed in every write's transaction.

The expected values are counted here in Python from the rows the test wrote, never with the
engine's SQL; each behaviour runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from graph.errors import SpecErrors
from graph.registry import Registry
from graph.spec import Spec, load_spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.databases import TestDatabase

ENDED = ("succeeded", "failed", "timed_out")

# -- spec errors ---------------------------------------------------------------------------

PARENT = """\
table: memory_parents
type: Parent
description: Parents.
key: name
fields:
  name: {type: string, description: Name.}
  runs: {type: int, default: 0, description: Runs.}
  rate: {type: float, description: Rate.}
  last_at: {type: datetime, description: Last.}
  label: {type: string, description: Label.}
rollups:
{rollups}
"""
CHILD = """\
table: memory_children
type: Child
description: Children.
key: code
fields:
  code: {type: string, description: Code.}
  parent_name: {type: string, description: Parent.}
  state: {type: enum, values: [ok, bad], description: State.}
  at: {type: datetime, description: When.}
  note: {type: string, description: Note.}
  extra: {type: json, description: Extra.}
"""
RELATIONS = """\
relations:
  - name: parent
    from: children.parent_name
    to: parents.name
    reverse: children
"""


def _spec_problems(root: Path, rollups: str) -> list[str]:
    (root / "schemas").mkdir(exist_ok=True)
    (root / "schemas" / "parents.yaml").write_text(PARENT.replace("{rollups}", rollups))
    (root / "schemas" / "children.yaml").write_text(CHILD)
    (root / "relations.yaml").write_text(RELATIONS)
    with pytest.raises(SpecErrors) as caught:
        load_spec(root / "schemas", root / "relations.yaml")
    return [f"{i.pos.line}:{i.pos.column} {i.code} {i.message}" for i in caught.value.issues]


BAD_ROLLUPS = [
    ("unknown field", "  nope: {relation: children, aggregate: count}", "MISSING_COLUMN"),
    ("the key", "  name: {relation: children, aggregate: count}", "the key"),
    ("to-one relation", "  runs: {relation: nothing, aggregate: count}", "not a to-many"),
    ("unknown aggregate", "  runs: {relation: children, aggregate: median}", "one of count"),
    ("avg into int", "  runs: {relation: children, aggregate: avg, of: at}", "needs a number"),
    ("count into float", "  rate: {relation: children, aggregate: count}", "gives a int"),
    ("max type", "  last_at: {relation: children, aggregate: max, of: note}", "gives a string"),
    ("json max", "  label: {relation: children, aggregate: max, of: extra}", "max of a json"),
    ("unknown of", "  rate: {relation: children, aggregate: avg, of: nope}", "has no field"),
    ("bad where value", "  runs: {relation: children, aggregate: count, where: {state: meh}}", ""),
    ("share without matching", "  rate: {relation: children, aggregate: share}", "needs"),
    (
        "matching on count",
        "  runs: {relation: children, aggregate: count, matching: {state: ok}}",
        "",
    ),
    ("unknown key", "  runs: {relation: children, aggregate: count, filter: {}}", "UNKNOWN_KEY"),
    ("missing relation", "  runs: {aggregate: count}", "missing 'relation'"),
]


@pytest.mark.parametrize(
    ("case", "rollup", "expected"), BAD_ROLLUPS, ids=[c[0] for c in BAD_ROLLUPS]
)
def test_bad_rollups_are_reported_with_their_position(
    tmp_path: Path, case: str, rollup: str, expected: str
) -> None:
    found = _spec_problems(tmp_path, rollup)
    assert found, case
    # Each problem points into the rollup's own line of parents.yaml.
    assert all(line.startswith("12:") for line in found), found
    assert any(expected in line for line in found), found


def test_several_bad_rollups_are_reported_together(tmp_path: Path) -> None:
    found = _spec_problems(
        tmp_path,
        "  runs: {relation: children, aggregate: median}\n"
        "  rate: {relation: children, aggregate: share}",
    )
    assert [f.split(" ")[0].split(":")[0] for f in found] == ["12", "13"]


# -- behaviour on both databases -------------------------------------------------------------


@pytest.fixture
def registry(empty_db: TestDatabase, spec: Spec, catalog: Catalog) -> Registry:
    create_schema(empty_db.engine, catalog)
    return Registry(spec, empty_db.engine)


def _log(i: int, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "execution_id": f"run-{i}",
        "command_type": "deploy",
        "component": "billing-api",
        "status": status,
        "started_at": dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i),
        "duration_ms": 1000 * (i + 1),
        **extra,
    }


def _expected(logs: list[dict[str, Any]], playbook: str) -> dict[str, Any]:
    """The playbook's statistics, counted in Python from the logs as last written."""
    mine = [log for log in logs if log.get("linked_playbook_id") == playbook]
    ended = [log for log in mine if log["status"] in ENDED]
    succeeded = [log for log in ended if log["status"] == "succeeded"]
    return {
        "total_runs": len(ended),
        "successful_runs": len(succeeded),
        "failed_runs": len(ended) - len(succeeded),
        "success_rate": len(succeeded) / len(ended) if ended else None,
        "avg_execution_time_ms": (
            sum(log["duration_ms"] for log in ended) / len(ended) if ended else None
        ),
        "last_used_at": max((log["started_at"] for log in mine), default=None),
    }


def _stats(registry: Registry, playbook: str) -> dict[str, Any]:
    row = registry.get_row("self_healing", playbook)
    assert row is not None
    return {k: row[k] for k in _expected([], playbook)}


def _playbook(name: str) -> dict[str, Any]:
    return {"playbook_name": name, "actions": [{"step": 1}], "risk_level": "low"}


def test_playbook_statistics_follow_every_kind_of_write(registry: Registry) -> None:
    registry.insert_rows("self_healing", [_playbook("p"), _playbook("q")])
    assert _stats(registry, "p")["total_runs"] == 0
    statuses = ["running", "succeeded", "failed", "cancelled", "timed_out", "queued"]
    logs = [_log(i, s, linked_playbook_id="p") for i, s in enumerate(statuses)]
    registry.insert_rows("execution_logs", logs)
    assert _stats(registry, "p") == _expected(logs, "p")

    # running -> succeeded counts one run, not two; twice the same change changes nothing.
    for _ in range(2):
        registry.update_rows("execution_logs", {"execution_id": "run-0"}, {"status": "succeeded"})
        logs[0]["status"] = "succeeded"
        assert _stats(registry, "p") == _expected(logs, "p")

    # A log moving to another playbook leaves one and joins the other.
    registry.update_rows("execution_logs", {"execution_id": "run-2"}, {"linked_playbook_id": "q"})
    logs[2]["linked_playbook_id"] = "q"
    assert _stats(registry, "p") == _expected(logs, "p")
    assert _stats(registry, "q") == _expected(logs, "q")

    registry.delete_rows("execution_logs", {"execution_id": "run-1"})
    del logs[1]
    assert _stats(registry, "p") == _expected(logs, "p")

    # An upsert that changes a status counts like an update.
    changed = {**_log(4, "succeeded", linked_playbook_id="p")}
    registry.insert_rows("execution_logs", [changed], on_conflict_update=["status"])
    next(log for log in logs if log["execution_id"] == "run-4")["status"] = "succeeded"
    assert _stats(registry, "p") == _expected(logs, "p")


def test_a_playbook_registered_after_its_runs_counts_them(registry: Registry) -> None:
    logs = [_log(i, "succeeded", linked_playbook_id="late") for i in range(3)]
    registry.insert_rows("execution_logs", logs)
    registry.insert_row("self_healing", _playbook("late"))
    assert _stats(registry, "late") == _expected(logs, "late")


def test_rollup_fields_cannot_be_written(registry: Registry) -> None:
    from graph.rows import RowErrors

    with pytest.raises(RowErrors) as caught:
        registry.insert_row("self_healing", {**_playbook("p"), "total_runs": 7})
    assert "rows[0].total_runs: is kept by the server" in str(caught.value)
    assert registry.count_rows("self_healing") == 0


def test_agent_and_trigger_statistics(registry: Registry) -> None:
    registry.insert_row("sub_agents", {**_required(registry, "sub_agents"), "agent_id": "a1"})
    registry.insert_row("triggers", _trigger(registry))
    logs = [
        _log(i, s, agent_id="a1", trigger_name="t1")
        for i, s in enumerate(["succeeded", "failed", "timed_out", "running"])
    ]
    registry.insert_rows("execution_logs", logs)
    agent = registry.get_row("sub_agents", "a1")
    assert agent is not None
    assert (agent["tasks_completed"], agent["tasks_failed"]) == (1, 2)
    assert agent["success_rate"] == pytest.approx(1 / 3)
    trigger = registry.get_row("triggers", "t1")
    assert trigger is not None
    assert (trigger["total_triggers"], trigger["successful_triggers"]) == (3, 1)
    assert trigger["failed_triggers"] == 2
    assert trigger["last_triggered_at"] == logs[3]["started_at"]
    assert trigger["last_failure_at"] == logs[2]["started_at"]


def _required(registry: Registry, table: str) -> dict[str, Any]:
    """A valid value for every required field without a default (from the spec's examples)."""
    spec = registry.table(table)
    values: dict[str, Any] = {}
    for field in spec.declared_fields:
        if field.required and field.default is None and field.name not in spec.server_fields:
            if field.values:
                values[field.name] = field.values[0]
            elif field.examples:
                values[field.name] = field.examples[0]
            else:
                values[field.name] = {"json": {}, "int": 1, "float": 0.5}.get(
                    field.type.value, f"{field.name}-1"
                )
    return values


def _trigger(registry: Registry) -> dict[str, Any]:
    return {**_required(registry, "triggers"), "trigger_name": "t1"}


def test_concurrent_writers_of_one_playbook_lose_no_run(registry: Registry) -> None:
    """Sixteen writers at once: each recount waits for the one before it (row lock)."""
    registry.insert_row("self_healing", _playbook("busy"))
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(3):
                i = worker * 10 + n
                registry.insert_row(
                    "execution_logs", _log(i, "succeeded", linked_playbook_id="busy")
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    stats = _stats(registry, "busy")
    assert stats["total_runs"] == stats["successful_runs"] == 48


def test_seeded_statistics_agree_with_the_seeded_logs(seeded_db: TestDatabase) -> None:
    with seeded_db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.playbook_name, p.total_runs, "
                "(SELECT count(*) FROM memory_execution_logs e "
                " WHERE e.linked_playbook_id = p.playbook_name "
                " AND e.status IN ('succeeded', 'failed', 'timed_out')) "
                "FROM memory_self_healing_playbooks p"
            )
        ).all()
    assert rows
    assert all(stored == counted for _name, stored, counted in rows)


def test_rollup_fields_are_not_in_the_mutation_inputs(spec: Spec) -> None:
    """The server's rollups are absent from the inputs; a `writable_until_linked` one is in."""
    from graph.gql.build import build_schema
    from graph.settings import Settings

    type_map = build_schema(spec, Settings())._schema.type_map
    for name in ("PlaybookInsert", "PlaybookSet"):
        fields = set(type_map[name].fields)  # type: ignore[attr-defined]
        assert {"totalRuns", "successfulRuns", "failedRuns", "lastUsedAt"}.isdisjoint(fields)
        assert {"successRate", "playbookName"} <= fields
