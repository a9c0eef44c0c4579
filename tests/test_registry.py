"""The Python registry: the document's calls, the same rules and error codes as GraphQL.

Each test runs on SQLite and PostgreSQL; expected answers are written out by hand from the rows
the test inserted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from graph.errors import ConflictError, GraphError, TooManyMatchesError, UserInputError
from graph.registry import AsyncRegistry, Registry
from graph.rows import RowErrors
from graph.spec import Spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase


@pytest.fixture
def registry(empty_db: TestDatabase, spec: Spec, catalog: Catalog) -> Registry:
    create_schema(empty_db.engine, catalog)
    return Registry(spec, empty_db.engine)


def _playbook(name: str, **extra: Any) -> dict[str, Any]:
    return {"playbook_name": name, "actions": [{"step": 1}], "risk_level": "low", **extra}


def _log(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "execution_id": f"run-{i}",
        "command_type": "deploy",
        "component": "billing-api",
        "status": "failed",
        **extra,
    }


def test_table_by_sql_or_schema_name(registry: Registry) -> None:
    assert registry.table("memory_self_healing_playbooks") is registry.table("self_healing")
    with pytest.raises(UserInputError) as caught:
        registry.table("memory_self_healing_playbook")
    assert "did you mean 'memory_self_healing_playbooks'" in str(caught.value)


def test_inserted_row_comes_back_as_stored(registry: Registry) -> None:
    row = registry.insert_row(
        "self_healing", _playbook("p", trust_score=0.5, target_components=["a", "b", "a"])
    )
    assert row["id"] >= 1 and row["created_at"].tzinfo is not None
    assert row["target_components"] == ["a", "b", "a"]
    assert (row["enabled"], row["total_runs"], row["description"]) == (True, 0, None)
    assert registry.get_row("self_healing", "p") == row
    assert registry.get_row("self_healing", "absent") is None
    log = registry.insert_row(
        "execution_logs", _log(1, started_at="2026-03-01T10:00:00+02:00", duration_ms="42")
    )
    assert log["started_at"] == dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    assert log["duration_ms"] == 42


def test_filters_shorthand_and_operators(registry: Registry) -> None:
    registry.insert_rows(
        "self_healing",
        [
            _playbook("a", trigger_conditions={"error_type": "ConnectionError", "n": 1}),
            _playbook("b", trigger_conditions={"error_type": "TimeoutError"}, risk_level="high"),
            _playbook("c", target_components=["x", "y"], trust_score=0.9),
        ],
    )

    def names(filters: dict[str, Any] | None, **kw: Any) -> list[str]:
        return [r["playbook_name"] for r in registry.query_rows("self_healing", filters, **kw)]

    assert names({"trigger_conditions": {"error_type": "ConnectionError"}}) == ["a"]
    assert names({"trigger_conditions": {"hasKey": "n"}}) == ["a"]
    assert names({"risk_level": "high"}) == ["b"]
    assert names({"risk_level": {"in": ["high", "low"]}}, order_by="-playbook_name") == [
        "c",
        "b",
        "a",
    ]
    assert names({"target_components": "y"}) == ["c"]
    assert names({"trust_score": {"is_null": True}}) == ["a", "b"]
    assert names({"or": [{"playbook_name": "a"}, {"not": {"risk_level": "low"}}]}) == ["a", "b"]
    assert names(None, order_by=[{"risk_level": "desc"}, "playbook_name"], limit=2) == ["b", "a"]
    assert names(None, limit=1, offset=2) == ["c"]
    assert registry.count_rows("self_healing", {"risk_level": "low"}) == 2


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"risk_levle": "low"}, "no field 'risk_levle'; did you mean 'risk_level'?"),
        ({"risk_level": {"equals": "low"}}, "'equals' is not an operator of enum fields"),
        ({"risk_level": "urgent"}, "'urgent' is not one of low, medium, high, critical"),
        ({"total_runs": "7"}, "expected a whole number"),
        ({"last_used_at": {"gt": "yesterday"}}, 'DateTime cannot represent "yesterday"'),
        ({"playbook_name": {"like": "a\\"}}, "filters.playbook_name.like"),
        ("low", "a filter is a mapping"),
    ],
)
def test_bad_filters_are_user_errors(registry: Registry, filters: Any, message: str) -> None:
    with pytest.raises(UserInputError) as caught:
        registry.query_rows("self_healing", filters)
    assert caught.value.code == "BAD_USER_INPUT"
    assert message in str(caught.value)


def test_same_rules_and_codes_as_graphql(registry: Registry) -> None:
    registry.insert_row("self_healing", _playbook("p"))
    with pytest.raises(RowErrors) as caught:
        registry.insert_rows(
            "self_healing",
            [_playbook("q", trust_score=1.7), {"playbook_name": " bad", "id": 3}],
        )
    assert caught.value.code == "BAD_USER_INPUT"
    assert [str(p) for p in caught.value.problems] == [
        "rows[0].trust_score: 1.7 is above the maximum 1",
        "rows[1].playbook_name: a key cannot start or end with white space",
        "rows[1].id: is set by the server and cannot be written",
        "rows[1].actions: is required",
        "rows[1].risk_level: is required",
    ]
    with pytest.raises(ConflictError) as conflict:
        registry.insert_row("self_healing", _playbook("p"))
    assert conflict.value.code == "CONFLICT"
    assert "playbookName 'p' already exists" in str(conflict.value)
    assert registry.count_rows("self_healing") == 1


def test_update_and_delete_respect_at_most(registry: Registry) -> None:
    registry.insert_rows("self_healing", [_playbook(n) for n in "abc"])
    with pytest.raises(TooManyMatchesError) as caught:
        registry.update_rows("self_healing", {"risk_level": "low"}, {"enabled": False}, at_most=2)
    assert "3 Playbooks match, more than atMost 2" in str(caught.value)
    assert registry.count_rows("self_healing", {"enabled": False}) == 0
    with pytest.raises(UserInputError, match="matches every Playbook"):
        registry.delete_rows("self_healing", {})
    changed = registry.update_rows("self_healing", {"playbook_name": "b"}, {"owner": "me"})
    assert [(r["playbook_name"], r["owner"]) for r in changed] == [("b", "me")]
    deleted = registry.delete_rows("self_healing", None, at_most=3)
    assert sorted(r["playbook_name"] for r in deleted) == ["a", "b", "c"]
    assert registry.count_rows("self_healing") == 0


def test_upsert_on_the_natural_key(registry: Registry) -> None:
    registry.insert_row("self_healing", _playbook("p", owner="first"))
    for _ in range(2):  # a retried upsert changes nothing more
        rows = registry.insert_rows(
            "self_healing",
            [_playbook("p", owner="second", risk_level="high"), _playbook("q")],
            on_conflict_update=["owner"],
        )
        assert [(r["playbook_name"], r["owner"], r["risk_level"]) for r in rows] == [
            ("p", "second", "low"),
            ("q", None, "low"),
        ]
    assert registry.count_rows("self_healing") == 2
    with pytest.raises(RowErrors, match="on_conflict_update\\[0\\]"):
        registry.insert_rows("self_healing", [_playbook("p")], on_conflict_update=["nope"])


def test_relation_rules_apply_to_python_writes(registry: Registry) -> None:
    registry.insert_row("self_healing", _playbook("p"))
    registry.insert_row("execution_logs", _log(1, linked_playbook_id="p"))
    with pytest.raises(GraphError) as caught:
        registry.delete_rows("self_healing", {"playbook_name": "p"})
    assert caught.value.code == "RESTRICTED"
    assert registry.count_rows("self_healing") == 1


async def test_async_registry_and_graphql_see_the_same_rows(
    registry: Registry, spec: Spec, catalog: Catalog, empty_db: TestDatabase
) -> None:
    async_registry = AsyncRegistry(registry)
    await async_registry.insert_rows("self_healing", [_playbook("p"), _playbook("q")])
    await async_registry.update_rows("self_healing", {"playbook_name": "q"}, {"owner": "o"})
    rows = await async_registry.query_rows("self_healing", order_by="playbook_name")
    api = Api(empty_db, spec, catalog)
    data = await api.data("{ playbooks(orderBy: [{playbookName: ASC}]) { playbookName owner } }")
    assert data["playbooks"] == [
        {"playbookName": r["playbook_name"], "owner": r["owner"]} for r in rows
    ]
    assert await async_registry.count_rows("self_healing") == 2
    with pytest.raises(UserInputError):
        await async_registry.query_rows("self_healing", {"nope": 1})


def test_concurrent_decisions_form_one_audit_chain(registry: Registry) -> None:
    """Sixteen writers insert governance decisions at once through the registry (the same
    write path as the mutations): one chain, one row per insert, no fork."""
    import threading

    from graph.audit import verify_chain

    decision = {
        "decision_type": "approval",
        "subject": "Enable playbook p",
        "subject_type": "playbook",
        "risk_level": "low",
        "decision_maker": "unified_logic",
        "decision_outcome": "approved",
    }
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(3):
                registry.insert_row("governance", {**decision, "decision_id": f"d-{worker}-{n}"})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with registry.engine.connect() as conn:
        report = verify_chain(conn, registry.catalog, registry.table("governance"))
    assert report.intact and report.rows == 48
    stamps = [r["audit_stamp"] for r in registry.query_rows("governance", order_by="id")]
    assert len(set(stamps)) == 48 and report.head == stamps[-1]
