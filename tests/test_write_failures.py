"""No lost and no partial writes: a write whose database connection dies half-way keeps nothing.

On PostgreSQL the connection is really lost: another connection ends the writer's backend with
`pg_terminate_backend` at a chosen point of the write (before its k-th INSERT batch, before the
rollup UPDATE, at COMMIT, while its INSERT waits on a lock, between two COPY batches of a load)
and waits until the backend is gone. On SQLite, whose database has no server to lose, the same
points raise the driver's own "disk I/O error" (SQLITE_IOERR), so that the rest of the stack
handles it as it would a real one. Each test then checks, on a new engine that shares no
connection with the failed write, that the tables hold exactly what they held before.

The clients' side: a GraphQL mutation answers SERVICE_UNAVAILABLE with no data; the Python
registry raises; `grace-graph load` exits with code 2 and says [SERVICE_UNAVAILABLE].
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from graph.cli import app
from graph.registry import Registry
from graph.spec import Spec
from graph.sql.engine import build_engine
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase, fresh_database
from tests.writes import kit_spec, serve

ROOT = Path(__file__).resolve().parent.parent
LOGS = "memory_execution_logs"
PLAYBOOKS = "memory_self_healing_playbooks"
ROWS = 5_000  # rows of the big writes: 10 INSERT batches of 500 on PostgreSQL
PLAYBOOK_NAMES = [f"pb-{i}" for i in range(10)]
UNAVAILABLE = "SERVICE_UNAVAILABLE"

INSERT_LOGS = """
mutation($rows: [ExecutionLogInsert!]!) {
  insertExecutionLogs(rows: $rows) { affectedCount rows { id executionId } }
}"""
UPSERT_LOGS = """
mutation($rows: [ExecutionLogInsert!]!, $update: [ExecutionLogUpsertField!]!) {
  insertExecutionLogs(rows: $rows, onConflict: {update: $update}) {
    affectedCount
    rows { executionId status exitCode linkedPlaybookId playbook { playbookName totalRuns } }
  }
}"""


# -- losing the database at one point of a write -------------------------------------------------


class Outage:
    """Loses the connection of a write at one point: the `nth` statement starting with
    `prefix`, or (`holding`) the first such statement once the write's own transaction holds
    that many rows of `table`, or its COMMIT (`prefix="COMMIT"`).

    PostgreSQL: another connection terminates the writer's backend and waits until it is gone;
    the statement then meets a dead connection. SQLite: the driver's disk I/O error. Listens on
    `engine`, or on every engine (`Engine`, for commands that build their own).
    """

    def __init__(
        self,
        backend: str,
        url: str,
        prefix: str,
        *,
        nth: int = 1,
        holding: int | None = None,
        table: str = LOGS,
        engine: Engine | type[Engine] = Engine,
    ) -> None:
        self.backend, self.url, self.prefix = backend, url, prefix
        self.nth, self.holding, self.table = nth, holding, table
        self.engine = engine
        self.seen = 0
        self.tripped = False
        # What the failed write had done: (state, wrote anything) of its backend on PostgreSQL;
        # SQLite: ("in transaction", True) when a transaction was open.
        self.before: tuple[str, bool] | None = None
        self.held: int | None = None  # rows of `table` the transaction held (holding mode)

    @classmethod
    def of(cls, db: TestDatabase, prefix: str, **options: Any) -> Outage:
        return cls(db.backend, db.url, prefix, engine=db.engine, **options)

    def __enter__(self) -> Outage:
        if self.prefix == "COMMIT":
            event.listen(self.engine, "commit", self._on_commit)
        else:
            event.listen(self.engine, "before_cursor_execute", self._on_statement)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.prefix == "COMMIT":
            event.remove(self.engine, "commit", self._on_commit)
        else:
            event.remove(self.engine, "before_cursor_execute", self._on_statement)

    def _driver(self, conn: Any) -> Any:
        return conn.connection.driver_connection

    def _held(self, driver: Any) -> int:
        # On the write's own connection: it sees its own uncommitted rows.
        cursor = driver.execute(f"SELECT count(*) FROM {self.table}")
        (count,) = cursor.fetchone()
        cursor.close()
        return int(count)

    def _on_statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.tripped or not statement.startswith(self.prefix):
            return
        self.seen += 1
        driver = self._driver(conn)
        if self.holding is not None:
            held = self._held(driver)
            if held < self.holding:
                return
            self.held = held
        elif self.seen < self.nth:
            return
        self._lose(driver)
        if self.backend == "sqlite":
            raise sqlite3.OperationalError("disk I/O error")

    def _on_commit(self, conn: Any) -> None:
        if not self.tripped:
            self._lose(self._driver(conn))
            if self.backend == "sqlite":  # raised outside SQLAlchemy's wrapping: wrap it here
                raise OperationalError("COMMIT", None, sqlite3.OperationalError("disk I/O error"))

    def _lose(self, driver: Any) -> None:
        self.tripped = True
        if self.backend == "sqlite":
            self.before = ("in transaction" if driver.in_transaction else "idle", True)
        else:
            self.before = terminate(self.url, driver.info.backend_pid)


def terminate(url: str, pid: int) -> tuple[str, bool]:
    """End backend `pid` from another connection and wait until it is gone; returns its state
    just before and whether its transaction had written anything."""
    with psycopg.connect(url, autocommit=True) as other:
        found = other.execute(
            "SELECT state, backend_xid IS NOT NULL FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        assert found is not None, f"backend {pid} is not running"
        row = other.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()
        assert row == (True,), f"backend {pid} did not end within 5 s"
    return str(found[0]), bool(found[1])


# -- reading what the database kept --------------------------------------------------------------


def fresh(db: TestDatabase, sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql` read on a new engine: no connection of the failed write is reused."""
    engine = build_engine(db.url, pool_size=1)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def fresh_count(db: TestDatabase, table: str = LOGS) -> int:
    return int(fresh(db, f"SELECT count(*) FROM {table}")[0][0])


def logs_and_rollups(db: TestDatabase) -> dict[str, Any]:
    """Every log's key and status, and every playbook's rollups: what "unchanged" compares."""
    return {
        "logs": fresh(
            db, f"SELECT execution_id, status, exit_code FROM {LOGS} ORDER BY execution_id"
        ),
        "rollups": fresh(
            db,
            "SELECT playbook_name, total_runs, successful_runs, failed_runs, success_rate, "
            f"avg_execution_time_ms FROM {PLAYBOOKS} ORDER BY playbook_name",
        ),
    }


def true_rollups(db: TestDatabase) -> list[tuple[Any, ...]]:
    """Each playbook's (name, total_runs, successful_runs) counted from the logs themselves."""
    return fresh(
        db,
        f"SELECT p.playbook_name, "
        f"(SELECT count(*) FROM {LOGS} l WHERE l.linked_playbook_id = p.playbook_name "
        "AND l.status IN ('succeeded', 'failed', 'timed_out')), "
        f"(SELECT count(*) FROM {LOGS} l WHERE l.linked_playbook_id = p.playbook_name "
        f"AND l.status = 'succeeded') FROM {PLAYBOOKS} p ORDER BY p.playbook_name",
    )


def stored_rollups(db: TestDatabase) -> list[tuple[Any, ...]]:
    return fresh(
        db,
        f"SELECT playbook_name, total_runs, successful_runs FROM {PLAYBOOKS} "
        "ORDER BY playbook_name",
    )


# -- rows -----------------------------------------------------------------------------------------


def log(key: str, i: int, **fields: Any) -> dict[str, Any]:
    """A valid execution log; one in four names a playbook, whose rollups it then changes."""
    row: dict[str, Any] = {
        "executionId": key,
        "commandType": "DEPLOY",
        "component": f"svc-{i % 7}",
        "status": "FAILED" if i % 3 == 0 else "SUCCEEDED",
        "durationMs": 10 * i,
        **fields,
    }
    if i % 4 == 0:
        row["linkedPlaybookId"] = PLAYBOOK_NAMES[i % len(PLAYBOOK_NAMES)]
    return row


def logs(prefix: str, count: int, **fields: Any) -> list[dict[str, Any]]:
    return [log(f"{prefix}-{i:05d}", i, **fields) for i in range(count)]


async def prepare(api: Api, old_logs: int = 100) -> None:
    """Ten playbooks and `old_logs` logs (some linked): "unchanged" then means more than empty."""
    playbooks = [{"playbookName": n, "actions": [], "riskLevel": "LOW"} for n in PLAYBOOK_NAMES]
    await api.data(
        "mutation($rows: [PlaybookInsert!]!) { insertPlaybooks(rows: $rows) { affectedCount } }",
        {"rows": playbooks},
    )
    if old_logs:
        await api.data(INSERT_LOGS, {"rows": logs("old", old_logs)})


async def lost(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The answer to a write whose connection was lost: one SERVICE_UNAVAILABLE, no data (the
    field is null, or `data` is when the field's type is non-null)."""
    body = await api.post(query, variables)
    data = body.get("data")
    assert data is None or all(value is None for value in data.values()), body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == UNAVAILABLE, error
    assert error["message"] in (
        "the database is unavailable; try again shortly",
        "the database connection was lost; try again",
    )
    assert "INSERT" not in str(body) and "pg_" not in str(body)  # no SQL in the answer
    result: dict[str, Any] = error
    return result


def assert_mid_transaction(outage: Outage) -> None:
    """The connection was lost after the write had written, before it committed."""
    assert outage.tripped, f"the write never reached {outage.prefix!r} ({outage.seen} seen)"
    assert outage.before in (("idle in transaction", True), ("in transaction", True)), outage.before


@pytest.fixture
def api(empty_db: TestDatabase, spec: Spec, catalog: Catalog) -> Api:
    """The shipped spec's tables on a fresh, empty database of each kind."""
    return serve(empty_db, spec, catalog)


@pytest.fixture
def pg_api(spec: Spec, catalog: Catalog, tmp_path: Path) -> Iterator[Api]:
    """The shipped spec's tables on a fresh PostgreSQL database (skipped without one)."""
    with fresh_database("postgresql", tmp_path) as db:
        yield serve(db, spec, catalog)


@pytest.fixture
def sqlite_api(spec: Spec, catalog: Catalog, tmp_path: Path) -> Iterator[Api]:
    """The shipped spec's tables on a fresh SQLite database."""
    with fresh_database("sqlite", tmp_path) as db:
        yield serve(db, spec, catalog)


# -- inserts through GraphQL ----------------------------------------------------------------------

# Where the connection is lost: half-way through the INSERT batches (2,500 of the 5,000 rows
# written), after every row is written (before the UPDATE of the playbooks' rollups), at COMMIT.
POINTS = {
    "mid-insert": ("INSERT INTO memory_execution_logs", {"holding": 100 + ROWS // 2}),
    "rollups": (f"UPDATE {PLAYBOOKS}", {}),
    "commit": ("COMMIT", {}),
}


@pytest.mark.parametrize("point", list(POINTS))
async def test_an_insert_that_loses_its_connection_keeps_nothing(api: Api, point: str) -> None:
    await prepare(api)
    before = logs_and_rollups(api.db)
    prefix, options = POINTS[point]
    with Outage.of(api.db, prefix, **options) as outage:
        await lost(api, INSERT_LOGS, {"rows": logs("new", ROWS)})
    assert_mid_transaction(outage)
    if point == "mid-insert":
        assert outage.held is not None and 100 < outage.held < 100 + ROWS
    assert logs_and_rollups(api.db) == before
    assert fresh(api.db, f"SELECT count(*) FROM {LOGS} WHERE execution_id LIKE 'new-%'") == [(0,)]
    # The server recovers: the next write takes a new connection, and its rollups are right.
    data = await api.data(INSERT_LOGS, {"rows": logs("next", 8)})
    assert data["insertExecutionLogs"]["affectedCount"] == 8
    assert fresh_count(api.db) == 108
    assert stored_rollups(api.db) == true_rollups(api.db)


async def test_an_insert_killed_while_its_statement_waits_keeps_nothing(pg_api: Api) -> None:
    """The kill lands while an INSERT batch runs: it waits on a lock, because another
    transaction holds an uncommitted row with the key of row 3,200 (batch 7 of 10)."""
    api = pg_api
    await prepare(api)
    before = logs_and_rollups(api.db)
    rows = logs("new", ROWS)
    blocked_key = rows[3_200]["executionId"]
    killed: list[tuple[str, bool]] = []

    def kill_the_waiting_insert() -> None:
        with psycopg.connect(api.db.url, autocommit=True) as watcher:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                found = watcher.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND state = 'active' "
                    "AND query LIKE 'INSERT INTO memory_execution_logs%'"
                ).fetchone()
                if found is not None:
                    killed.append(terminate(api.db.url, found[0]))
                    return
                time.sleep(0.01)

    with psycopg.connect(api.db.url) as blocker:
        blocker.execute(
            f"INSERT INTO {LOGS} (execution_id, command_type, component, status) "
            "VALUES (%s, 'deploy', 'blocker', 'queued')",
            (blocked_key,),
        )
        watcher = threading.Thread(target=kill_the_waiting_insert)
        watcher.start()
        try:
            await lost(api, INSERT_LOGS, {"rows": rows})
        finally:
            watcher.join()
        blocker.rollback()
    assert killed == [("active", True)]  # written batches 1-6, waiting in batch 7
    assert logs_and_rollups(api.db) == before


# -- upserts and deletes through GraphQL ----------------------------------------------------------


async def test_an_upsert_that_loses_its_connection_changes_nothing(api: Api) -> None:
    """1,000 existing logs take new values and 4,000 are new; the connection is lost in the
    6th of 10 batches: no log changes status, none is added, no rollup moves."""
    await prepare(api, old_logs=1_000)
    before = logs_and_rollups(api.db)
    changed = logs("old", 1_000, status="TIMED_OUT", exitCode=124)
    rows = changed + logs("new", ROWS - 1_000)
    variables = {"rows": rows, "update": ["status", "exitCode"]}
    # PostgreSQL: one INSERT ... ON CONFLICT per 500 rows; SQLite: one executemany per 500.
    with Outage.of(api.db, "INSERT INTO memory_execution_logs", nth=6) as outage:
        await lost(api, UPSERT_LOGS, variables)
    assert_mid_transaction(outage)
    assert logs_and_rollups(api.db) == before


async def test_a_cascading_delete_that_loses_its_connection_deletes_nothing(
    empty_db: TestDatabase, tmp_path: Path
) -> None:
    """Deleting 50 anchors cascades to 500 branches and 1,000 leaves (kit spec, tests/writes.py);
    the connection is lost at the second DELETE of leaves, when the anchors, the branches and
    half the leaves are gone in the transaction."""
    kit = serve(empty_db, *kit_spec(tmp_path))
    anchors = [{"name": f"a{i}"} for i in range(50)]
    branches = [{"name": f"b{i}", "anchorName": f"a{i % 50}"} for i in range(500)]
    leaves = [{"name": f"l{i}", "branchName": f"b{i % 500}"} for i in range(1_000)]
    for plural, name, rows in (
        ("Anchors", "Anchor", anchors),
        ("Branches", "Branch", branches),
        ("Leaves", "Leaf", leaves),
    ):
        await kit.data(
            f"mutation($rows: [{name}Insert!]!) {{ insert{plural}(rows: $rows) "
            "{ affectedCount } }",
            {"rows": rows},
        )
    tables = ("kit_anchors", "kit_branches", "kit_leaves")
    before = {t: fresh(kit.db, f"SELECT name FROM {t} ORDER BY name") for t in tables}
    delete = "mutation { deleteAnchors(where: {}, atMost: 50) { affectedCount rows { name } } }"
    with Outage.of(kit.db, "DELETE FROM kit_leaves", nth=2, table="kit_leaves") as outage:
        await lost(kit, delete, {})
    assert_mid_transaction(outage)
    assert outage.seen == 2
    assert {t: fresh(kit.db, f"SELECT name FROM {t} ORDER BY name") for t in tables} == before


async def test_a_set_null_delete_that_loses_its_connection_keeps_every_link(api: Api) -> None:
    """Deleting 20 work orders takes them out of the lists of 300 feedback tickets (set_null,
    one UPDATE per ticket); the connection is lost at the 150th of those UPDATEs."""
    orders = [{"workOrderId": f"W{i}", "title": f"w{i}", "taskType": "BUGFIX"} for i in range(20)]
    tickets = [
        {
            "ticketId": f"T{i}",
            "ticketType": "BUG",
            "title": f"t{i}",
            "linkedWorkOrders": [f"W{i % 20}", f"W{(i + 7) % 20}"],
        }
        for i in range(300)
    ]
    await api.data(
        "mutation($rows: [WorkOrderInsert!]!) { insertWorkOrders(rows: $rows) { affectedCount } }",
        {"rows": orders},
    )
    await api.data(
        "mutation($rows: [FeedbackTicketInsert!]!) { insertFeedbackTickets(rows: $rows) "
        "{ affectedCount } }",
        {"rows": tickets},
    )

    def state() -> tuple[Any, ...]:
        return (
            fresh(api.db, "SELECT work_order_id FROM memory_coding_work_orders ORDER BY 1"),
            fresh(
                api.db,
                "SELECT ticket_id, linked_work_orders FROM memory_feedback_tickets ORDER BY 1",
            ),
        )

    before = state()
    assert len(before[0]) == 20 and len(before[1]) == 300
    delete = "mutation { deleteWorkOrders(where: {}, atMost: 20) { affectedCount } }"
    prefix = "UPDATE memory_feedback_tickets"
    with Outage.of(api.db, prefix, nth=150, table="memory_feedback_tickets") as outage:
        await lost(api, delete, {})
    assert_mid_transaction(outage)
    assert state() == before


# -- the Python registry -------------------------------------------------------------------------


@pytest.mark.parametrize("upsert", [False, True], ids=["insert", "upsert"])
async def test_a_registry_write_that_loses_its_connection_raises_and_keeps_nothing(
    api: Api, spec: Spec, upsert: bool
) -> None:
    await prepare(api)
    before = logs_and_rollups(api.db)
    registry = Registry(spec, api.db.engine)
    rows = [
        {
            "execution_id": f"reg-{i:05d}",
            "command_type": "deploy",
            "component": "billing-api",
            "status": "failed" if i % 2 else "succeeded",
            "linked_playbook_id": PLAYBOOK_NAMES[i % 10] if i % 4 == 0 else None,
        }
        for i in range(ROWS)
    ]
    update = ["status"] if upsert else None
    options: dict[str, Any] = {"nth": 6} if upsert else {"holding": 100 + ROWS // 2}
    with (
        Outage.of(api.db, "INSERT INTO memory_execution_logs", **options) as outage,
        pytest.raises(OperationalError) as caught,
    ):
        await asyncio.to_thread(
            registry.insert_rows, "execution_logs", rows, on_conflict_update=update
        )
    assert_mid_transaction(outage)
    assert "disk I/O error" in str(caught.value) or "terminat" in str(caught.value)
    assert logs_and_rollups(api.db) == before
    # The registry recovers on its next call.
    (row,) = registry.insert_rows("execution_logs", rows[:1], on_conflict_update=update)
    assert row["execution_id"] == "reg-00000"
    assert fresh_count(api.db) == 101
    assert stored_rollups(api.db) == true_rollups(api.db)


# -- retries --------------------------------------------------------------------------------------


async def test_an_upsert_sent_twice_gives_the_same_rows_and_rollups(api: Api) -> None:
    """The client did not see the first answer (a timeout) and sends the upsert again: the
    rows, their count and the playbooks' rollups are what one upsert makes. Rollups are
    recomputed, not incremented, so the second run does not count the runs twice."""
    await prepare(api)
    rows = logs("old", 50, status="TIMED_OUT", exitCode=124) + logs("new", 150)
    variables = {"rows": rows, "update": ["status", "exitCode"]}
    first = (await api.data(UPSERT_LOGS, variables))["insertExecutionLogs"]
    after_first = logs_and_rollups(api.db)
    second = (await api.data(UPSERT_LOGS, variables))["insertExecutionLogs"]
    assert second == first
    assert first["affectedCount"] == 200
    assert logs_and_rollups(api.db) == after_first
    assert len(after_first["logs"]) == 250  # 100 old (50 of them updated) + 150 new
    assert stored_rollups(api.db) == true_rollups(api.db)


async def test_an_upsert_lost_before_commit_then_retried_writes_each_key_once(api: Api) -> None:
    """The first attempt loses its connection at COMMIT, after every statement ran; the client
    retries and the retry succeeds: one row per key, with the retry's values."""
    await prepare(api)
    before = logs_and_rollups(api.db)
    rows = logs("old", 50, status="TIMED_OUT", exitCode=124) + logs("new", 950)
    variables = {"rows": rows, "update": ["status", "exitCode"]}
    with Outage.of(api.db, "COMMIT") as outage:
        await lost(api, UPSERT_LOGS, variables)
    assert_mid_transaction(outage)
    assert logs_and_rollups(api.db) == before
    retry = (await api.data(UPSERT_LOGS, variables))["insertExecutionLogs"]
    assert retry["affectedCount"] == 1_000
    assert [r["executionId"] for r in retry["rows"]] == [r["executionId"] for r in rows]
    keys = fresh(
        api.db, f"SELECT execution_id, count(*) FROM {LOGS} GROUP BY execution_id ORDER BY 1"
    )
    assert len(keys) == 1_050 and {n for _, n in keys} == {1}
    statuses = dict(fresh(api.db, f"SELECT execution_id, status FROM {LOGS}"))
    assert {statuses[f"old-{i:05d}"] for i in range(50)} == {"timed_out"}
    assert {statuses[f"old-{i:05d}"] for i in range(50, 100)} <= {"failed", "succeeded"}
    assert stored_rollups(api.db) == true_rollups(api.db)


# -- grace-graph load -----------------------------------------------------------------------------


def write_jsonl(path: Path, count: int) -> Path:
    with path.open("wb") as out:
        for i in range(count):
            row = {
                "execution_id": f"load-{i:06d}",
                "command_type": "ingest",
                "component": f"svc-{i % 7}",
                "status": "succeeded",
            }
            out.write(orjson.dumps(row) + b"\n")
    return path


def load_args(db: TestDatabase, file: Path, batch_size: int) -> list[str]:
    return [
        "load",
        "execution_logs",
        str(file),
        "--batch-size",
        str(batch_size),
        "--no-progress",
        "--database",
        db.url,
        "--schemas",
        str(ROOT / "schemas"),
        "--relations",
        str(ROOT / "relations.yaml"),
    ]


async def test_a_load_killed_between_copy_batches_keeps_nothing(
    pg_api: Api, tmp_path: Path
) -> None:
    """`grace-graph load` in its own process, 40 COPY batches of 1,000 rows in one transaction;
    another connection terminates its backend once it has run 3 of them."""
    api = pg_api
    await prepare(api)
    before = logs_and_rollups(api.db)
    file = write_jsonl(tmp_path / "logs.jsonl", 40_000)
    command = [str(Path(sys.executable).with_name("grace-graph")), *load_args(api.db, file, 1000)]
    load = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed: list[bool] = []
    copies: set[Any] = set()
    try:
        with psycopg.connect(api.db.url, autocommit=True) as watcher:
            deadline = time.monotonic() + 60
            while load.poll() is None and time.monotonic() < deadline and not killed:
                found = watcher.execute(
                    "SELECT pid, query_start FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state <> 'idle' AND query LIKE 'COPY memory_execution_logs%'"
                ).fetchall()
                copies.update(start for _, start in found)
                if len(copies) >= 3 and found:
                    # Only while its transaction is open: never after it committed.
                    ended = watcher.execute(
                        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                        "WHERE pid = %s AND xact_start IS NOT NULL AND state <> 'idle'",
                        (found[0][0],),
                    ).fetchall()
                    killed.extend(bool(e) for (e,) in ended)
                await asyncio.sleep(0.002)
        out, err = load.communicate(timeout=60)
    finally:
        if load.poll() is None:
            load.kill()
            load.communicate()
    assert killed == [True], f"the load was not killed mid-way ({len(copies)} COPYs seen)"
    assert load.returncode == 2, (out, err)
    assert b"[SERVICE_UNAVAILABLE]" in err and b"Traceback" not in err, err
    assert logs_and_rollups(api.db) == before


async def test_a_load_that_loses_its_connection_keeps_nothing_sqlite(
    sqlite_api: Api, tmp_path: Path
) -> None:
    """The SQLite analogue, in-process: the outage listens on every engine (the command builds
    its own), and strikes once the load's transaction holds 2,000 of its 5,000 rows."""
    api = sqlite_api
    await prepare(api)
    before = logs_and_rollups(api.db)
    file = write_jsonl(tmp_path / "logs.jsonl", ROWS)
    with Outage("sqlite", api.db.url, "INSERT INTO memory_execution_logs", holding=2_100) as out:
        result = await asyncio.to_thread(CliRunner().invoke, app, load_args(api.db, file, 500))
    assert_mid_transaction(out)
    assert result.exit_code == 2, result.output
    assert "[SERVICE_UNAVAILABLE]" in result.output and "Traceback" not in result.output
    assert logs_and_rollups(api.db) == before
