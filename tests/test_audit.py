"""The audit chain of append-only tables (docs/audit.md): the spec key and its checks, the
canonical encoding as written and as read back from both databases, chained inserts under
concurrency, tampering found by `verify_chain` and `grace-graph audit verify`, TRUNCATE refused,
and seeded data that forms a valid chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from graph import audit
from graph.audit import (
    STAMP_LENGTH,
    AuditChainError,
    assign_stamps,
    canonical_encoding,
    next_stamp,
    verify_chain,
)
from graph.cli import app
from graph.errors import SpecErrors
from graph.seed.load import seed_database
from graph.spec import Spec, load_spec
from graph.spec.model import TableSpec
from graph.spec.tables import AUDIT_STAMP_LENGTH
from graph.sql.ddl import create_schema
from graph.sql.engine import WRITE, build_engine
from graph.sql.tables import Catalog, build_catalog
from tests.databases import TestDatabase

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 1, 15, 8, 30, 1, 234567, tzinfo=dt.UTC)

# A chained table with a field of every type, for the encoding's round trips.
LEDGER = """\
table: memory_ledger
type: LedgerEntry
description: Every field type, chained.
key: entry_id
append_only: true
audit_chain: stamp
fields:
  entry_id: {type: string, max_length: 64, description: Key.}
  title: {type: string, description: Short text.}
  body: {type: text, description: Long text.}
  quantity: {type: int, description: An int.}
  total: {type: bigint, description: A bigint.}
  ratio: {type: float, description: A float.}
  flag: {type: bool, default: false, description: A bool.}
  on_day: {type: date, description: A date.}
  moment: {type: datetime, description: A datetime.}
  doc: {type: json, description: A document.}
  tags: {type: list, of: string, default: [], description: Strings.}
  scores: {type: list, of: float, description: Floats.}
  counts: {type: list, of: bigint, description: Bigints.}
  flags: {type: list, of: bool, description: Bools.}
  kind: {type: enum, values: [a_kind, b_kind], default: a_kind, description: An enum.}
  ref: {type: uuid, description: A uuid.}
  stamp: {type: string, required: true, unique: true, description: The audit stamp.}
"""


def write_spec(root: Path, ledger: str = LEDGER) -> tuple[Path, Path]:
    (root / "schemas").mkdir(parents=True, exist_ok=True)
    (root / "schemas" / "ledger.yaml").write_text(ledger, encoding="utf-8")
    (root / "relations.yaml").write_text("relations: []\n", encoding="utf-8")
    return root / "schemas", root / "relations.yaml"


@pytest.fixture(scope="module")
def ledger_spec(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return load_spec(*write_spec(tmp_path_factory.mktemp("ledger")))


@pytest.fixture(scope="module")
def ledger_catalog(ledger_spec: Spec) -> Catalog:
    return build_catalog(ledger_spec)


# -- the spec key ---------------------------------------------------------------------------------


def spec_problems(tmp_path: Path, ledger: str) -> list[str]:
    with pytest.raises(SpecErrors) as caught:
        load_spec(*write_spec(tmp_path, ledger))
    return [f"{i.pos.line}:{i.pos.column} {i.code} {i.message}" for i in caught.value.issues]


STAMP_LINE = "  stamp: {type: string, required: true, unique: true, description: The audit stamp.}"
SPEC_CASES = [
    (
        "undeclared field",
        LEDGER.replace("audit_chain: stamp", "audit_chain: stump"),
        "6:14 MISSING_COLUMN audit_chain 'stump' is not a declared field of this table; "
        "did you mean 'stamp'?",
    ),
    (
        "engine field",
        LEDGER.replace("audit_chain: stamp", "audit_chain: id"),
        "6:14 MISSING_COLUMN audit_chain 'id' is not a declared field of this table",
    ),
    (
        "not a name",
        LEDGER.replace("audit_chain: stamp", "audit_chain: [stamp]"),
        "6:14 BAD_VALUE 'audit_chain' must be a single value",
    ),
    (
        "not a string field",
        LEDGER.replace(STAMP_LINE, STAMP_LINE.replace("type: string", "type: text")),
        "6:14 BAD_VALUE audit_chain field 'stamp' must have type string, not text",
    ),
    (
        "not required",
        LEDGER.replace(STAMP_LINE, STAMP_LINE.replace(" required: true,", "")),
        "6:14 BAD_VALUE audit_chain field 'stamp' must be required: true",
    ),
    (
        "not unique",
        LEDGER.replace(STAMP_LINE, STAMP_LINE.replace(" unique: true,", "")),
        "6:14 BAD_VALUE audit_chain field 'stamp' must be unique: true",
    ),
    (
        "too short",
        LEDGER.replace(
            STAMP_LINE, STAMP_LINE.replace("type: string,", "type: string, max_length: 70,")
        ),
        "6:14 BAD_VALUE audit_chain field 'stamp' must have no max_length or one >= 71 "
        "(a stamp has 71 characters), not 70",
    ),
    (
        "the key",
        LEDGER.replace("key: entry_id", "key: stamp"),
        "6:14 BAD_VALUE audit_chain field 'stamp' must not be the table's key",
    ),
    (
        "not append-only",
        LEDGER.replace("append_only: true", "append_only: false"),
        "6:14 BAD_VALUE audit_chain needs append_only: true",
    ),
    (
        "append_only absent",
        LEDGER.replace("append_only: true\n", ""),
        "5:14 BAD_VALUE audit_chain needs append_only: true",
    ),
]


@pytest.mark.parametrize(("name", "ledger", "expected"), SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_each_audit_chain_spec_error(tmp_path: Path, name: str, ledger: str, expected: str) -> None:
    found = spec_problems(tmp_path, ledger)
    assert any(line.startswith(expected) for line in found), found
    assert len(found) == 1, found


def test_several_audit_chain_problems_are_reported_together(tmp_path: Path) -> None:
    broken = LEDGER.replace(STAMP_LINE, STAMP_LINE.replace(" required: true, unique: true,", ""))
    (line,) = spec_problems(tmp_path, broken)
    assert line == (
        "6:14 BAD_VALUE audit_chain field 'stamp' must be required: true; must be unique: true"
    )


def test_a_long_enough_max_length_is_fine(tmp_path: Path) -> None:
    ledger = LEDGER.replace(
        STAMP_LINE, STAMP_LINE.replace("type: string,", "type: string, max_length: 71,")
    )
    assert load_spec(*write_spec(tmp_path, ledger)).table("ledger").audit_chain == "stamp"


def test_stamp_length_agrees_with_the_spec_check() -> None:
    assert STAMP_LENGTH == AUDIT_STAMP_LENGTH == 71


def test_governance_decisions_are_chained(spec: Spec) -> None:
    assert spec.table("governance").audit_chain == "audit_stamp"
    assert [t.name for t in spec.tables.values() if t.audit_chain] == ["governance"]


# -- the encoding and the hash --------------------------------------------------------------------


def ledger_row(entry: str, **values: Any) -> dict[str, Any]:
    """Every field but the stamp; null unless given."""
    row: dict[str, Any] = {
        "entry_id": entry,
        "title": None,
        "body": None,
        "quantity": None,
        "total": None,
        "ratio": None,
        "flag": None,
        "on_day": None,
        "moment": None,
        "doc": None,
        "tags": None,
        "scores": None,
        "counts": None,
        "flags": None,
        "kind": None,
        "ref": None,
    }
    return row | values


def test_the_encoding_is_the_documented_json(ledger_spec: Spec) -> None:
    table = ledger_spec.table("ledger")
    row = ledger_row(
        "e-1",
        title="naïve ☃",
        quantity=-3,
        total=2**63 - 1,
        ratio=0.1,
        flag=True,
        on_day=dt.date(999, 1, 2),
        moment=dt.datetime(2024, 6, 1, 14, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        doc={"b": [1.0, 1e-300, 1e16], "a": {"y": None, "x": "é"}},
        tags=["z", "a"],
        scores=[1, -0.0],
        counts=[2],
        flags=[False],
        kind="b_kind",
        ref="0B3A4C52-8F1E-4C1A-9D3E-2F6B7A8C9D01",
    ) | {"id": 7, "created_at": NOW, "stamp": "ignored: the stamp is not hashed"}
    expected = (
        '{"created_at":"2026-01-15T08:30:01.234567Z",'
        '"fields":{"body":null,"counts":[2],"doc":{"a":{"x":"é","y":null},"b":[1,1e-300,'
        '10000000000000000]},"entry_id":"e-1","flag":true,"flags":[false],"kind":"b_kind",'
        '"moment":"2024-06-01T09:00:00.000005Z","on_day":"0999-01-02","quantity":-3,'
        '"ratio":0.1,"ref":"0b3a4c52-8f1e-4c1a-9d3e-2f6b7a8c9d01","scores":[1.0,0.0],'
        '"tags":["z","a"],"title":"naïve ☃","total":9223372036854775807},'
        '"id":7,"table":"memory_ledger"}'
    )
    assert canonical_encoding(table, row) == expected.encode("utf-8")


def test_the_stamp_is_sha256_over_the_previous_stamp_and_the_encoding() -> None:
    first = next_stamp(None, b"{}")
    assert first == "sha256:" + hashlib.sha256(b"\n{}").hexdigest() == next_stamp("", b"{}")
    second = next_stamp(first, b"{}")
    assert second == "sha256:" + hashlib.sha256(first.encode() + b"\n{}").hexdigest()
    assert len(second) == STAMP_LENGTH


ADVERSARIAL_DOC = {
    "ünïcödé ☃ 𝄞": [0.1, 1e-300, 5e-324, 1e16, 1e20, 1.0, -0.0, 1 / 3, 1152921504606847232.0],
    "ints": [0, -1, 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 + 1, 10**30, 10**300],
    "nested": {"z": None, "a": {"b": [True, False, None, "", '\u2028\t"\\']}, "e": {}, "l": []},
    "9": "keys are text",
}


def adversarial_rows() -> list[dict[str, Any]]:
    return [
        ledger_row(
            "e-unicode",
            title='naïve ☃ 𝄞 "quoted" back\\slash \u2028 tab\t end ',
            body="line one\nline two — 日本語 e\u0301",
            quantity=-(2**31),
            total=-(2**63),
            ratio=1e-300,
            flag=True,
            on_day=dt.date(2024, 2, 29),
            moment=dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
            doc=ADVERSARIAL_DOC,
            tags=["☃", "", "a b", "日本"],
            scores=[0.1, 1e-300, -0.0, 1.0, 1 / 3],
            counts=[2**63 - 1, -(2**63), 0],
            flags=[True, False],
            kind="b_kind",
            ref="0B3A4C52-8F1E-4C1A-9D3E-2F6B7A8C9D01",
        ),
        ledger_row(
            "e-floats",
            ratio=0.1,
            total=2**63 - 1,
            moment=dt.datetime(2024, 6, 1, 9, 30, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=-7))),
            doc=[1, "a", {"b": 2.5, "a": [0.1, {"c": None}]}],
            scores=[],
            on_day=dt.date(999, 1, 2),
        ),
        ledger_row("e-nulls"),
        ledger_row("e-negative-zero", ratio=-0.0, quantity=0, flag=False, tags=[]),
        # Fields left out: the stamp covers the defaults the row is stored with.
        {"entry_id": "e-defaults", "title": "defaults"},
    ]


def insert_chained(
    engine: Engine,
    catalog: Catalog,
    table: TableSpec,
    rows: list[dict[str, Any]],
    now: dt.datetime = NOW,
    *,
    immediate: bool = True,
) -> list[dict[str, Any]]:
    """Stamp and insert in one transaction, as the write path does (graph/sql/write.py).

    SQLite: a connection with the WRITE execution option begins its transactions with BEGIN
    IMMEDIATE (graph/sql/engine.py); without it (`immediate=False`) the transaction begins
    deferred, as a plain BEGIN, and assign_stamps must take the write lock itself.
    """
    with engine.connect().execution_options(**{WRITE: immediate}) as conn, conn.begin():
        stamped = assign_stamps(conn, catalog, table, rows, now)
        conn.execute(insert(catalog.table(table.name)).values(stamped))
    return stamped


def read_rows(engine: Engine, catalog: Catalog, table: TableSpec) -> list[dict[str, Any]]:
    sql_table = catalog.table(table.name)
    with engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(select(sql_table).order_by(sql_table.c.id)).mappings()
        ]


def test_encoding_is_the_same_as_written_and_as_read_back(
    empty_db: TestDatabase, ledger_spec: Spec, ledger_catalog: Catalog
) -> None:
    create_schema(empty_db.engine, ledger_catalog)
    table = ledger_spec.table("ledger")
    written = insert_chained(empty_db.engine, ledger_catalog, table, adversarial_rows())
    stored = read_rows(empty_db.engine, ledger_catalog, table)
    assert [r["entry_id"] for r in stored] == [r["entry_id"] for r in written]
    for before, after in zip(written, stored, strict=True):
        assert canonical_encoding(table, after) == canonical_encoding(table, before)
        assert after["stamp"] == before["stamp"]
        assert after["created_at"] == NOW and after["updated_at"] == NOW
    # What was read back really went through the database's own forms.
    if empty_db.backend == "postgresql":
        assert stored[0]["ref"] == "0b3a4c52-8f1e-4c1a-9d3e-2f6b7a8c9d01"  # the uuid type's form
        assert stored[0]["doc"]["ints"][-1] == 1e300  # beyond 64 bits: a double (load_json)
    assert (
        stored[-1]["flag"] is False and stored[-1]["tags"] == [] and stored[-1]["kind"] == "a_kind"
    )
    with empty_db.engine.connect() as conn:
        report = verify_chain(conn, ledger_catalog, table)
    assert report.intact and report.rows == len(written), report.message
    assert report.head == written[-1]["stamp"] and report.head_id == written[-1]["id"]


def test_the_chain_continues_across_inserts_and_batches(
    empty_db: TestDatabase,
    ledger_spec: Spec,
    ledger_catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    create_schema(empty_db.engine, ledger_catalog)
    table = ledger_spec.table("ledger")
    first = insert_chained(
        empty_db.engine, ledger_catalog, table, [ledger_row("a"), ledger_row("b")]
    )
    # A second transaction, a second later: it chains onto the head the first one left.
    later = insert_chained(
        empty_db.engine, ledger_catalog, table, [ledger_row("c")], NOW + dt.timedelta(seconds=1)
    )
    ids = [r["id"] for r in first + later]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert first[0]["stamp"] == next_stamp(None, canonical_encoding(table, first[0]))
    assert later[0]["stamp"] == next_stamp(first[1]["stamp"], canonical_encoding(table, later[0]))
    monkeypatch.setattr(audit, "VERIFY_BATCH", 2)  # three rows: two batches and a short one
    with empty_db.engine.connect() as conn:
        report = verify_chain(conn, ledger_catalog, table)
    assert report.intact and report.rows == 3
    assert report.message == "memory_ledger: 3 rows, chain intact"


def test_an_empty_table_is_an_intact_chain(
    empty_db: TestDatabase, ledger_spec: Spec, ledger_catalog: Catalog
) -> None:
    create_schema(empty_db.engine, ledger_catalog)
    with empty_db.engine.connect() as conn:
        report = verify_chain(conn, ledger_catalog, ledger_spec.table("ledger"))
    assert report.intact and report.rows == 0 and report.head is None
    with empty_db.engine.connect() as conn:
        assert assign_stamps(conn, ledger_catalog, ledger_spec.table("ledger"), [], NOW) == []


# -- concurrency ----------------------------------------------------------------------------------

WRITERS = 16
ROWS_PER_WRITER = 3


def concurrent_inserts(
    engine: Engine, catalog: Catalog, table: TableSpec, *, immediate: bool
) -> list[list[dict[str, Any]]]:
    """WRITERS threads, each inserting ROWS_PER_WRITER rows in one transaction of its own
    connection, all let go at once."""
    start = threading.Barrier(WRITERS)

    def writer(n: int) -> list[dict[str, Any]]:
        rows = [ledger_row(f"w{n:02d}-{k}", quantity=k, title=f"writer {n}") for k in range(3)]
        start.wait()
        return insert_chained(engine, catalog, table, rows, immediate=immediate)

    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(writer, range(WRITERS)))


def check_one_line(
    engine: Engine, catalog: Catalog, table: TableSpec, batches: list[list[dict[str, Any]]]
) -> None:
    stored = read_rows(engine, catalog, table)
    assert len(stored) == WRITERS * ROWS_PER_WRITER
    # No fork: each stamp chains onto the row just before it, and no two rows share a previous.
    previous = None
    for row in stored:
        assert row["stamp"] == next_stamp(previous, canonical_encoding(table, row)), row["id"]
        previous = row["stamp"]
    # Each writer's rows are consecutive: one transaction extended the chain at a time.
    for batch in batches:
        ids = [r["id"] for r in batch]
        assert ids == list(range(ids[0], ids[0] + ROWS_PER_WRITER))
    with engine.connect() as conn:
        report = verify_chain(conn, catalog, table)
    assert report.intact and report.rows == WRITERS * ROWS_PER_WRITER, report.message


def test_concurrent_writers_form_one_chain(
    empty_db: TestDatabase, ledger_spec: Spec, ledger_catalog: Catalog
) -> None:
    create_schema(empty_db.engine, ledger_catalog)
    table = ledger_spec.table("ledger")
    # One connection per writer (the fixture's PostgreSQL pool is smaller).
    engine = build_engine(empty_db.url, pool_size=WRITERS)
    try:
        batches = concurrent_inserts(engine, ledger_catalog, table, immediate=True)
        check_one_line(engine, ledger_catalog, table, batches)
    finally:
        engine.dispose()


def test_sqlite_deferred_transactions_still_form_one_chain(
    tmp_path: Path, ledger_spec: Spec, ledger_catalog: Catalog
) -> None:
    """Without BEGIN IMMEDIATE, assign_stamps takes SQLite's write lock itself before reading
    the head, so writers that began deferred transactions still take turns."""
    engine = build_engine(f"sqlite:///{tmp_path / 'deferred.db'}")
    try:
        create_schema(engine, ledger_catalog)
        table = ledger_spec.table("ledger")
        batches = concurrent_inserts(engine, ledger_catalog, table, immediate=False)
        check_one_line(engine, ledger_catalog, table, batches)
    finally:
        engine.dispose()


def test_postgresql_refuses_chained_inserts_under_repeatable_read(
    empty_db: TestDatabase, ledger_spec: Spec, ledger_catalog: Catalog
) -> None:
    if empty_db.backend != "postgresql":
        pytest.skip("isolation levels are PostgreSQL's")
    create_schema(empty_db.engine, ledger_catalog)
    engine = empty_db.engine.execution_options(isolation_level="REPEATABLE READ")
    with pytest.raises(AuditChainError, match="READ COMMITTED"), engine.begin() as conn:
        assign_stamps(conn, ledger_catalog, ledger_spec.table("ledger"), [ledger_row("x")], NOW)


# -- tampering ------------------------------------------------------------------------------------


def decision(n: int) -> dict[str, Any]:
    return {
        "decision_id": f"GD-{n:04d}",
        "decision_type": "approval",
        "subject": f"Deploy WO-{n}",
        "subject_type": "work_order",
        "subject_ref": f"WO-{n}",
        "context": {"confidence": 0.91, "lines_changed": n},
        "policy_references": ["SOP-SEC-004"],
        "risk_level": "low",
        "risk_score": 0.1,
        "auto_approved": True,
        "requested_by": "schema-agent",
        "decision_maker": "unified_logic",
        "decision_outcome": "approved",
        "reasoning": "Low risk.",
        "conditions": None,
        "expiration_date": dt.date(2026, 4, 15),
    }


@pytest.fixture
def decisions(empty_db: TestDatabase, catalog: Catalog, spec: Spec) -> Iterator[TestDatabase]:
    """The real tables with five chained governance decisions."""
    create_schema(empty_db.engine, catalog)
    insert_chained(empty_db.engine, catalog, spec.table("governance"), [decision(1), decision(2)])
    insert_chained(
        empty_db.engine,
        catalog,
        spec.table("governance"),
        [decision(3), decision(4), decision(5)],
        NOW + dt.timedelta(minutes=1),
    )
    yield empty_db


def behind_the_servers_back(db: TestDatabase, statement: str) -> None:
    """Run a change the append-only triggers would refuse, with the triggers out of the way."""
    name = "memory_governance_decisions"
    with db.engine.begin() as conn:
        if db.backend == "postgresql":
            conn.execute(text(f"ALTER TABLE {name} DISABLE TRIGGER ALL"))
            conn.execute(text(statement))
            conn.execute(text(f"ALTER TABLE {name} ENABLE TRIGGER ALL"))
        else:
            conn.execute(text(f"DROP TRIGGER trg_{name}_no_update"))
            conn.execute(text(f"DROP TRIGGER trg_{name}_no_delete"))
            conn.execute(text(statement))


def verify_governance(db: TestDatabase, catalog: Catalog, spec: Spec) -> audit.ChainReport:
    with db.engine.connect() as conn:
        return verify_chain(conn, catalog, spec.table("governance"))


def cli_verify(db: TestDatabase) -> Any:
    return CliRunner().invoke(
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


def test_an_intact_chain_verifies(decisions: TestDatabase, catalog: Catalog, spec: Spec) -> None:
    report = verify_governance(decisions, catalog, spec)
    assert report.intact and report.rows == 5
    result = cli_verify(decisions)
    assert result.exit_code == 0, result.output
    assert "ok: memory_governance_decisions: 5 rows, chain intact" in result.output
    assert f"head: row id {report.head_id}, {report.head}" in result.output


def test_a_changed_row_is_named(decisions: TestDatabase, catalog: Catalog, spec: Spec) -> None:
    behind_the_servers_back(
        decisions,
        "UPDATE memory_governance_decisions SET decision_outcome = 'denied' "
        "WHERE decision_id = 'GD-0003'",
    )
    report = verify_governance(decisions, catalog, spec)
    changed = next(
        r
        for r in read_rows(decisions.engine, catalog, spec.table("governance"))
        if r["decision_id"] == "GD-0003"
    )
    assert not report.intact and report.rows == 5
    assert report.broken_id == changed["id"] and report.broken == 1
    assert f"row id {changed['id']} (decision_id 'GD-0003')" in report.message
    assert "stored audit_stamp sha256:" in report.message
    result = cli_verify(decisions)
    assert result.exit_code == 1, result.output
    assert f"broken: memory_governance_decisions: row id {changed['id']} " in result.output


def test_a_rewritten_stamp_is_named(decisions: TestDatabase, catalog: Catalog, spec: Spec) -> None:
    forged = "sha256:" + "0" * 64
    behind_the_servers_back(
        decisions,
        f"UPDATE memory_governance_decisions SET audit_stamp = '{forged}' "
        "WHERE decision_id = 'GD-0002'",
    )
    report = verify_governance(decisions, catalog, spec)
    assert "(decision_id 'GD-0002')" in report.message and forged in report.message
    assert report.broken == 2  # the row, and the next one, which chains onto its stamp


def test_a_row_removed_from_the_middle_is_found(
    decisions: TestDatabase, catalog: Catalog, spec: Spec
) -> None:
    behind_the_servers_back(
        decisions, "DELETE FROM memory_governance_decisions WHERE decision_id = 'GD-0002'"
    )
    report = verify_governance(decisions, catalog, spec)
    assert report.rows == 4 and "(decision_id 'GD-0003')" in report.message


def test_removing_the_newest_row_is_not_found_without_an_anchor(
    decisions: TestDatabase, catalog: Catalog, spec: Spec
) -> None:
    """The documented limit (docs/audit.md): only an anchored head shows a cut-off tail."""
    anchored = verify_governance(decisions, catalog, spec).head
    behind_the_servers_back(
        decisions, "DELETE FROM memory_governance_decisions WHERE decision_id = 'GD-0005'"
    )
    report = verify_governance(decisions, catalog, spec)
    assert report.intact and report.rows == 4 and report.head != anchored


def test_postgresql_refuses_truncate(decisions: TestDatabase) -> None:
    if decisions.backend != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE is refused by the row trigger")
    with pytest.raises(DBAPIError, match="append-only"), decisions.engine.begin() as conn:
        conn.execute(text("TRUNCATE memory_governance_decisions"))
    with decisions.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM memory_governance_decisions")).scalar()
    assert count == 5


def test_cli_names_unknown_and_unchained_tables(decisions: TestDatabase) -> None:
    base = ["audit", "verify", "--database", decisions.url, "--schemas", str(ROOT / "schemas")]
    base += ["--relations", str(ROOT / "relations.yaml")]
    result = CliRunner().invoke(app, [*base, "--table", "governanse"])
    assert result.exit_code == 2 and "did you mean 'governance'?" in result.output
    result = CliRunner().invoke(app, [*base, "--table", "feedback"])
    assert result.exit_code == 2 and "table 'feedback' has no audit_chain" in result.output
    result = CliRunner().invoke(app, [*base, "--table", "governance"])
    assert result.exit_code == 0 and "5 rows, chain intact" in result.output


# -- seed -----------------------------------------------------------------------------------------


def test_seeded_decisions_form_a_valid_chain(
    empty_db: TestDatabase, catalog: Catalog, spec: Spec
) -> None:
    create_schema(empty_db.engine, catalog)
    seed_database(
        empty_db.engine, catalog, scale=0.5, seed=7, if_empty=False, progress=False, now=NOW
    )
    report = verify_governance(empty_db, catalog, spec)
    assert report.intact and report.rows > 0, report.message
    result = cli_verify(empty_db)
    assert result.exit_code == 0, result.output
    assert f"ok: memory_governance_decisions: {report.rows} rows, chain intact" in result.output
    # The server's next decision extends the seeded chain (on PostgreSQL the identity sequence
    # was moved past the seeded ids).
    (added,) = insert_chained(empty_db.engine, catalog, spec.table("governance"), [decision(1)])
    assert added["id"] == report.rows + 1
    after = verify_governance(empty_db, catalog, spec)
    assert after.intact and after.rows == report.rows + 1
