"""Seed data on SQLite and PostgreSQL: every table filled, the same seed gives the same rows, every
link resolves, the requirement document's questions find rows, and a second seed is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Date, bindparam, func, select, text

from graph.seed import SeedError, seed_database
from graph.seed.generate import TableRows
from graph.seed.grace import GRACE
from graph.seed.load import anchor_now
from graph.seed.plan import Profile, make_plan
from graph.spec.model import Spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from graph.sql.types import UtcDateTime
from tests.databases import BACKENDS, TestDatabase, fresh_database

SCALE = 0.5
SEED = 7
# A pinned anchor: the rows must not depend on the day the tests run.
NOW = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
ENGINE_COLUMNS = ("id", "created_at", "updated_at")


def seed(db: TestDatabase, catalog: Catalog, **options: Any) -> str:
    settings: dict[str, Any] = {
        "scale": SCALE,
        "seed": SEED,
        "if_empty": False,
        "progress": False,
        "now": NOW,
    }
    return seed_database(db.engine, catalog, **(settings | options))


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(
    request: pytest.FixtureRequest, catalog: Catalog, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestDatabase]:
    """One seeded database per backend, shared by the tests that only read it."""
    with fresh_database(request.param, tmp_path_factory.mktemp("seeded")) as db:
        create_schema(db.engine, catalog)
        report = seed(db, catalog)
        assert report.startswith(f"seeded {len(catalog.tables)} tables, ")
        yield db


def counts(db: TestDatabase, catalog: Catalog) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in catalog.tables.items()
        }


def column(conn: Connection, catalog: Catalog, table: str, *names: str) -> list[tuple[Any, ...]]:
    sql_table = catalog.table(table)
    return [tuple(r) for r in conn.execute(select(*(sql_table.c[n] for n in names)))]


def projection(db: TestDatabase, catalog: Catalog) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows without the engine's columns, ordered by key."""
    result = {}
    with db.engine.connect() as conn:
        for name, table in catalog.tables.items():
            columns = [c for c in table.c if c.name not in ENGINE_COLUMNS]
            key = table.c[catalog.spec.table(name).key]
            result[name] = [tuple(r) for r in conn.execute(select(*columns).order_by(key))]
    return result


def unresolved_links(db: TestDatabase, catalog: Catalog, spec: Spec) -> dict[str, list[Any]]:
    """For each relation that points at a key or unique column: source values with no target."""
    missing: dict[str, list[Any]] = {}
    with db.engine.connect() as conn:
        for relation in spec.relations:
            target = spec.table(relation.to_table)
            if relation.to_field != target.key and not target.field(relation.to_field).unique:
                continue
            targets = {v for (v,) in column(conn, catalog, relation.to_table, relation.to_field)}
            conditions = [name for name, _ in relation.where]
            rows = column(conn, catalog, relation.from_table, relation.from_field, *conditions)
            wanted = tuple(value for _, value in relation.where)
            values = [v for v, *cond in rows if tuple(cond) == wanted and v is not None]
            flat = [x for v in values for x in (v if isinstance(v, list) else [v])]
            label = f"{relation.from_table}.{relation.from_field} -> {relation.to_table}"
            missing[label] = [v for v in flat if v not in targets]
    return missing


# -- every table, every constraint ----------------------------------------------------------------


def test_every_table_has_rows(seeded: TestDatabase, catalog: Catalog) -> None:
    # The inserts passing at all means every CHECK (enums, min/max, lengths) and key held.
    empty = [name for name, n in counts(seeded, catalog).items() if n == 0]
    assert empty == []
    assert counts(seeded, catalog)["execution_logs"] == 100


def test_fractional_scale_still_fills_every_table(empty_db: TestDatabase, catalog: Catalog) -> None:
    create_schema(empty_db.engine, catalog)
    seed(empty_db, catalog, scale=0.1)
    assert min(counts(empty_db, catalog).values()) >= 3


def test_same_seed_gives_the_same_rows(
    empty_db: TestDatabase, catalog: Catalog, tmp_path: Path
) -> None:
    create_schema(empty_db.engine, catalog)
    seed(empty_db, catalog)
    with fresh_database(empty_db.backend, tmp_path) as other:
        create_schema(other.engine, catalog)
        seed(other, catalog)
        first, second = projection(empty_db, catalog), projection(other, catalog)
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name


def test_rows_depend_on_the_seed_only(spec: Spec) -> None:
    """Generated without a database: seed 7 twice gives the same rows, seed 8 other rows."""

    def logs(seed_value: int) -> list[tuple[Any, ...]]:
        plan = make_plan(spec, SCALE, GRACE)
        table = spec.table("execution_logs")
        return list(TableRows(table, plan, GRACE, seed=seed_value, now=NOW))

    first = logs(SEED)
    assert first == logs(SEED)
    other = logs(SEED + 1)
    assert [r[0] for r in other] == [r[0] for r in first]  # keys depend on the row number only
    assert other != first


# -- links ----------------------------------------------------------------------------------------


def test_every_link_resolves(seeded: TestDatabase, catalog: Catalog, spec: Spec) -> None:
    missing = unresolved_links(seeded, catalog, spec)
    assert {label: values for label, values in missing.items() if values} == {}


def test_links_are_used(seeded: TestDatabase, catalog: Catalog, spec: Spec) -> None:
    """Each unconditional key link is set on some rows (links that are never set prove nothing)."""
    unused = []
    with seeded.engine.connect() as conn:
        for relation in spec.relations:
            if relation.where:
                continue
            values = column(conn, catalog, relation.from_table, relation.from_field)
            if all(v in (None, []) for (v,) in values):
                unused.append(relation.name)
    assert unused == []


def test_tickets_and_logs_share_components(seeded: TestDatabase, catalog: Catalog) -> None:
    with seeded.engine.connect() as conn:
        logs = {v for (v,) in column(conn, catalog, "execution_logs", "component")}
        tickets = {v for (v,) in column(conn, catalog, "feedback", "affected_component")}
        suites = {v for (v,) in column(conn, catalog, "verification", "component_under_test")}
    assert logs & tickets
    assert logs & suites


def test_failed_logs_mostly_name_a_playbook(seeded: TestDatabase, catalog: Catalog) -> None:
    with seeded.engine.connect() as conn:
        rows = column(conn, catalog, "execution_logs", "status", "linked_playbook_id")
    failed = [playbook for status, playbook in rows if status == "failed"]
    assert failed
    assert 0.4 <= sum(p is not None for p in failed) / len(failed) <= 0.95


def test_agents_form_a_hierarchy(seeded: TestDatabase, catalog: Catalog) -> None:
    with seeded.engine.connect() as conn:
        parents = dict(column(conn, catalog, "sub_agents", "agent_id", "parent_agent_id"))

    def depth(agent: str) -> int:
        parent = parents[agent]
        return 0 if parent is None else 1 + depth(parent)

    depths = [depth(agent) for agent in parents]
    assert depths.count(0) >= 2  # a few roots
    assert max(depths) >= 2  # children and grandchildren


# -- consistency and the requirement document's questions ----------------------------------------

# Each query counts rows that break a rule the seed promises; every count must be 0.
VIOLATIONS = {
    "log ends before it starts": "SELECT count(*) FROM memory_execution_logs "
    "WHERE completed_at < started_at",
    "failed log without error": "SELECT count(*) FROM memory_execution_logs "
    "WHERE status = 'failed' AND (error_message IS NULL OR exit_code = 0)",
    "succeeded log with exit code": "SELECT count(*) FROM memory_execution_logs "
    "WHERE status = 'succeeded' AND exit_code <> 0",
    "work order ends before it starts": "SELECT count(*) FROM memory_coding_work_orders "
    "WHERE completed_at < started_at",
    "more successes than runs": "SELECT count(*) FROM memory_self_healing_playbooks "
    "WHERE successful_runs > total_runs OR successful_runs + failed_runs <> total_runs",
    "test counts do not add up": "SELECT count(*) FROM memory_verification_suites "
    "WHERE passed_tests + failed_tests + skipped_tests <> total_tests",
    "failing suite without failures": "SELECT count(*) FROM memory_verification_suites "
    "WHERE last_run_status = 'fail' AND failed_tests = 0",
    "trigger counts do not add up": "SELECT count(*) FROM memory_trigger_mesh "
    "WHERE successful_triggers + failed_triggers <> total_triggers",
    "resolved before reported": "SELECT count(*) FROM memory_feedback_tickets "
    "WHERE resolved_at < created_at",
    "more ingested than found": "SELECT count(*) FROM memory_discovery_targets "
    "WHERE items_ingested > items_discovered",
    "created after updated": "SELECT count(*) FROM memory_execution_logs "
    "WHERE created_at > updated_at",
}


def test_rows_are_consistent(seeded: TestDatabase) -> None:
    with seeded.engine.connect() as conn:
        broken = {rule: conn.execute(text(sql)).scalar_one() for rule, sql in VIOLATIONS.items()}
    assert {rule: n for rule, n in broken.items() if n} == {}


# The questions of grace-subsystem-schemas.md, as SQL both databases run; each must find rows.
QUESTIONS = {
    "failed deployments": "SELECT count(*) FROM memory_execution_logs "
    "WHERE status = 'failed' AND command_type = 'deploy'",
    "remediated incidents": "SELECT count(*) FROM memory_execution_logs "
    "WHERE status = 'failed' AND linked_playbook_id IS NOT NULL",
    "trusted playbooks": "SELECT count(*) FROM memory_self_healing_playbooks "
    "WHERE trust_score > 0.7",
    "features deployed this week": "SELECT count(*) FROM memory_coding_work_orders "
    "WHERE status = 'deployed' AND task_type = 'feature' AND completed_at > :week_ago",
    "idle agents": "SELECT count(*) FROM memory_sub_agents WHERE status = 'idle'",
    "failing tests": "SELECT count(*) FROM memory_verification_suites "
    "WHERE last_run_status = 'fail'",
    "high-risk approvals this month": "SELECT count(*) FROM memory_governance_decisions "
    "WHERE risk_level = 'high' AND decision_type = 'approval' AND created_at > :month_ago",
    "failing triggers": "SELECT count(*) FROM memory_trigger_mesh WHERE failed_triggers > 0",
    # data_freshness_hours is computed: more than 24 hours since the last refresh.
    "stale dashboards": "SELECT count(*) FROM memory_business_intelligence "
    "WHERE last_refresh_at < :day_ago",
    "sales dashboards on documents": "SELECT count(*) FROM memory_business_intelligence "
    "WHERE category = 'sales'",
    "discovery errors": "SELECT count(*) FROM memory_discovery_targets WHERE status = 'error'",
    "non-compliant reports": "SELECT count(*) FROM memory_compliance_reports "
    "WHERE compliance_status = 'non_compliant'",
    "SOPs due for review": "SELECT count(*) FROM memory_sop_manuals "
    "WHERE next_review_date < :today",
    "open critical tickets": "SELECT count(*) FROM memory_feedback_tickets "
    "WHERE status = 'open' AND priority = 'critical'",
    "feature requests": "SELECT count(*) FROM memory_feedback_tickets "
    "WHERE ticket_type = 'feature_request'",
    "summarization prompts": "SELECT count(*) FROM memory_llm_prompts "
    "WHERE category = 'summarization'",
}


# Parameters of the questions, bound through the column types (SQLite stores datetimes as text).
PARAMETERS: dict[str, tuple[Any, Any]] = {
    "day_ago": (NOW - dt.timedelta(days=1), UtcDateTime()),
    "week_ago": (NOW - dt.timedelta(days=7), UtcDateTime()),
    "month_ago": (NOW - dt.timedelta(days=30), UtcDateTime()),
    "today": (NOW.date(), Date()),
}


def ask(conn: Connection, sql: str) -> int:
    used = [name for name in PARAMETERS if f":{name}" in sql]
    query = text(sql).bindparams(*(bindparam(n, type_=PARAMETERS[n][1]) for n in used))
    return int(conn.execute(query, {n: PARAMETERS[n][0] for n in used}).scalar_one())


def test_use_case_questions_find_rows(seeded: TestDatabase) -> None:
    with seeded.engine.connect() as conn:
        found = {question: ask(conn, sql) for question, sql in QUESTIONS.items()}
    assert [question for question, n in found.items() if n == 0] == []


def test_absent_documents_and_lists_are_sql_null(seeded: TestDatabase) -> None:
    """Not the JSON text 'null': IS NULL must find them on both databases."""
    with seeded.engine.connect() as conn:
        lists = ask(
            conn, "SELECT count(*) FROM memory_feedback_tickets WHERE linked_work_orders IS NULL"
        )
        documents = ask(
            conn, "SELECT count(*) FROM memory_compliance_reports WHERE gaps_identified IS NULL"
        )
    assert lists > 0
    assert documents > 0


def test_some_documents_are_about_ecommerce(seeded: TestDatabase, catalog: Catalog) -> None:
    with seeded.engine.connect() as conn:
        topics = column(conn, catalog, "documents", "key_topics")
    assert any(t and "ecommerce" in t for (t,) in topics)


# -- seeding twice ------------------------------------------------------------------------------


def test_seeding_again_is_refused(seeded: TestDatabase, catalog: Catalog) -> None:
    before = counts(seeded, catalog)
    with pytest.raises(SeedError) as caught:
        seed(seeded, catalog)
    assert caught.value.code == "SEED_CONFLICT"
    assert "tables already hold rows; use a fresh database or --if-empty" in caught.value.message
    assert counts(seeded, catalog) == before


def test_seeding_again_if_empty_does_nothing(seeded: TestDatabase, catalog: Catalog) -> None:
    before = counts(seeded, catalog)
    report = seed(seeded, catalog, if_empty=True)
    assert report.startswith("nothing seeded")
    assert counts(seeded, catalog) == before


# -- without the Grace profile --------------------------------------------------------------------


def test_generic_rows_alone_satisfy_the_schema(
    empty_db: TestDatabase, catalog: Catalog, spec: Spec
) -> None:
    """No Grace knowledge at all: the spec alone gives valid, linked rows."""
    create_schema(empty_db.engine, catalog)
    seed(empty_db, catalog, profile=Profile())
    assert min(counts(empty_db, catalog).values()) > 0
    missing = unresolved_links(empty_db, catalog, spec)
    assert {label: values for label, values in missing.items() if values} == {}


def test_anchor_is_todays_utc_midnight() -> None:
    anchor = anchor_now()
    assert anchor.tzinfo is dt.UTC
    assert (anchor.hour, anchor.minute, anchor.second, anchor.microsecond) == (0, 0, 0, 0)
    assert dt.datetime.now(dt.UTC) - anchor < dt.timedelta(days=1)
