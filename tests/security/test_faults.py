"""Faults against a live `grace-graph serve` process: its PostgreSQL stops and starts again
(SERVICE_UNAVAILABLE, /readyz 503, recovery without a restart), a table locked by another
transaction (TIMEOUT at GRAPH_STATEMENT_TIMEOUT_S), SIGTERM while requests run (they finish,
new connections are refused, the process exits), and a SQLite write blocked by another
process's write lock (TIMEOUT).

The PostgreSQL tests run on an instance of their own (initdb + pg_ctl in a temporary folder,
on a free port), never on the shared server of GRAPH_TEST_PG_URL: they stop it. As root,
initdb and pg_ctl run as the `postgres` user (`runuser -u postgres --`), in a folder owned by
it. The binaries: GRAPH_TEST_PG_BIN, else /usr/lib/postgresql/15/bin, PATH, another version.

The servers start together at the beginning (each takes several seconds to build its schema)
and are stopped at the end, with the instance and the folder, also when a test fails. Every
figure measured is printed (`pytest -s` shows them): docs/operations.md quotes them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from graph.sql.ddl import create_schema
from graph.sql.engine import build_engine
from graph.sql.tables import Catalog
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
PG_BIN_ENV = "GRAPH_TEST_PG_BIN"
LOGS = "{ executionLogs(limit: 1) { id } }"
OTHER = "{ dashboards(limit: 1) { id } }"
INSERT = (
    "mutation Add($id: String!) { insertExecutionLogs(rows: [{executionId: $id,"
    ' commandType: DEPLOY, component: "faults", status: SUCCEEDED}]) { affectedCount } }'
)
LOCKED_TABLE = "memory_execution_logs"
# The server's time limit for the tests of a lock (GRAPH_STATEMENT_TIMEOUT_S).
LIMIT_S = 1.0
# Requests held open by a lock when SIGTERM arrives, and for how long after it.
DRAINED = 20
HOLD_S = 0.5
# Every wait below has a bound; a server that hangs fails the test, never the run.
HTTP_TIMEOUT_S = 20.0
START_TIMEOUT_S = 60.0
POLL_S = 0.05


def say(message: str) -> None:
    print(f"[faults] {message}", flush=True)


def _server_env(extra: dict[str, str]) -> dict[str, str]:
    """The test's environment without its GRAPH_ settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPH_")}
    return {**env, **extra}


# --- a PostgreSQL instance of the tests' own -------------------------------------------------


def _pg_bin() -> Path | None:
    """The folder of initdb and pg_ctl: GRAPH_TEST_PG_BIN, else PostgreSQL 15 (the version
    the server is tested against) in Debian's layout, else PATH, else another version."""
    candidates: list[Path] = []
    if os.environ.get(PG_BIN_ENV):
        candidates.append(Path(os.environ[PG_BIN_ENV]))
    candidates.append(Path("/usr/lib/postgresql/15/bin"))
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


@dataclass
class Postgres:
    """One PostgreSQL instance in `folder` (data, socket and log), on 127.0.0.1:`port`."""

    bin: Path
    folder: Path
    port: int
    # `runuser -u postgres --` when the tests run as root: initdb refuses root.
    prefix: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def _run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, *command], capture_output=True, text=True, timeout=timeout, check=False
        )

    def _ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), *args)

    def init(self) -> None:
        done = self._run(
            str(self.bin / "initdb"),
            *("-D", str(self.data), "-U", "postgres", "-A", "trust"),
            *("-E", "UTF8", "--locale", "C", "--no-sync"),
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self) -> float:
        """Start and wait until it accepts connections (pg_ctl -w); the seconds it took."""
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c max_connections=200"
        )
        started = time.monotonic()
        done = self._ctl(
            "-l", str(self.folder / "postgres.log"), "-o", options, "-w", "-t", "30", "start"
        )
        took = time.monotonic() - started
        assert done.returncode == 0, done.stdout + done.stderr + self.log()
        return took

    def stop(self) -> None:
        """`pg_ctl stop -m immediate`: the postmaster and every backend go at once, as when
        the database's machine fails; open connections of the server break."""
        done = self._ctl("-m", "immediate", "-w", "-t", "30", "stop")
        assert done.returncode == 0, done.stdout + done.stderr

    def running(self) -> bool:
        return self._ctl("status").returncode == 0

    def log(self) -> str:
        path = self.folder / "postgres.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True, connect_timeout=5)


def _postgres_prefix(folder: Path) -> list[str] | str:
    """How to run initdb here: directly, or (as root) as the `postgres` user, with `folder`
    given to it. A string: why it cannot run."""
    if os.geteuid() != 0:
        return []
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        return "running as root, and there is no `postgres` user to run initdb as"
    runuser = shutil.which("runuser")
    if runuser is None:
        return "running as root, and there is no runuser to run initdb as `postgres`"
    os.chown(folder, owner.pw_uid, owner.pw_gid)
    return [runuser, "-u", "postgres", "--"]


# --- live servers -----------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _spawn(name: str, url: str, folder: Path, env: dict[str, str]) -> Server:
    port = free_port()
    log_path = folder / f"server-{name}.log"
    command = [sys.executable, "-m", "graph.cli", "serve", "--port", str(port)]
    command += ["--database", url, "--log-level", "warning"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=_server_env(env), stdout=log, stderr=subprocess.STDOUT
        )
    return Server(name, port, process, log_path)


def _wait_ready(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server {server.name} exited at start:\n{server.log()}")
        try:
            status = httpx.get(f"{server.base}/readyz", timeout=2).status_code
        except httpx.TransportError:
            status = None
        if status == 200:
            return
        if status is not None and status >= 500 and status != 503:
            raise AssertionError(f"server {server.name}: /readyz {status}:\n{server.log()}")
        time.sleep(0.1)
    raise AssertionError(f"server {server.name} did not become ready:\n{server.log()}")


@dataclass
class Fleet:
    folder: Path
    sqlite_path: Path
    postgres: Postgres | None = None
    # Why the PostgreSQL servers are missing, when they are.
    no_postgres: str | None = None
    servers: dict[str, Server] = field(default_factory=dict)

    def server(self, name: str) -> Server:
        if name.startswith("pg") and self.no_postgres is not None:
            if os.environ.get("CI"):
                pytest.fail(self.no_postgres)
            pytest.skip(self.no_postgres)
        return self.servers[name]

    def pg(self) -> Postgres:
        self.server("pg")
        assert self.postgres is not None
        return self.postgres


@pytest.fixture(scope="module")
def fleet(catalog: Catalog) -> Iterator[Fleet]:
    """The live servers of this module, started at once:

    - `pg`: on the tests' own PostgreSQL, time limit 1 s (outage, recovery, lock);
    - `pg_drain`: the same database, time limit 10 s, room for 20 requests at once (SIGTERM);
    - `sqlite`: a SQLite file, time limit 1 s (a write blocked by another process);
    - `sqlite_idle`: the same file, stopped by SIGTERM while idle (its exit status).
    """
    # Not pytest's tmp_path: its parents are closed to the `postgres` user.
    folder = Path(tempfile.mkdtemp(prefix="grace-faults-"))
    fleet = Fleet(folder, folder / "grace.db")
    try:
        sqlite_url = f"sqlite:///{fleet.sqlite_path}"
        engine = build_engine(sqlite_url)
        try:
            create_schema(engine, catalog)
        finally:
            engine.dispose()
        limited = {"GRAPH_STATEMENT_TIMEOUT_S": f"{LIMIT_S:g}"}
        fleet.servers["sqlite"] = _spawn("sqlite", sqlite_url, folder, limited)
        fleet.servers["sqlite_idle"] = _spawn("sqlite_idle", sqlite_url, folder, {})

        pg_bin = _pg_bin()
        prefix = _postgres_prefix(folder)
        if pg_bin is None:
            fleet.no_postgres = f"no initdb/pg_ctl found (set {PG_BIN_ENV})"
        elif isinstance(prefix, str):
            fleet.no_postgres = prefix
        else:
            postgres = Postgres(pg_bin, folder, free_port(), prefix)
            postgres.init()
            fleet.postgres = postgres
            postgres.start()
            engine = build_engine(postgres.url, pool_size=1)
            try:
                create_schema(engine, catalog)
            finally:
                engine.dispose()
            say(f"PostgreSQL {pg_bin} on port {postgres.port}, run as {prefix or 'this user'}")
            fleet.servers["pg"] = _spawn("pg", postgres.url, folder, limited)
            # Room for all 20 at once: none waits for admission or for a pooled connection
            # (a fixed bound: one that follows the CPU could be low after the start-up).
            drain = {
                "GRAPH_STATEMENT_TIMEOUT_S": "10",
                "GRAPH_DB_POOL_SIZE": str(DRAINED),
                "GRAPH_MAX_IN_FLIGHT": str(DRAINED + 4),
                "GRAPH_ADAPTIVE_IN_FLIGHT": "0",
            }
            fleet.servers["pg_drain"] = _spawn("pg_drain", postgres.url, folder, drain)

        started = time.monotonic()
        for server in fleet.servers.values():
            _wait_ready(server, started + START_TIMEOUT_S)
        say(f"{len(fleet.servers)} servers ready in {time.monotonic() - started:.1f} s")
        yield fleet
    finally:
        for server in fleet.servers.values():
            server.stop()
        if fleet.postgres is not None and fleet.postgres.running():
            fleet.postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


# --- requests ---------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    body: dict[str, Any]
    seconds: float

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.body.get("errors", [])]

    def good(self, field_name: str) -> bool:
        """200 with the field's rows and no error."""
        data = self.body.get("data") or {}
        return self.status == 200 and not self.codes and isinstance(data.get(field_name), list)


def post(server: Server, query: str, variables: dict[str, Any] | None = None) -> Answer:
    started = time.monotonic()
    response = httpx.post(
        f"{server.base}/graphql",
        json={"query": query, "variables": variables or {}},
        timeout=HTTP_TIMEOUT_S,
    )
    seconds = time.monotonic() - started
    body: dict[str, Any] = response.json()
    return Answer(response.status_code, response.headers, body, seconds)


def get(server: Server, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(f"{server.base}{path}", timeout=HTTP_TIMEOUT_S)
    return response, time.monotonic() - started


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


# --- PostgreSQL: the database goes down, and comes back ---------------------------------------


def test_a_stopped_database_answers_service_unavailable_at_once(fleet: Fleet) -> None:
    """`pg_ctl stop -m immediate`: a query answers SERVICE_UNAVAILABLE (with Retry-After: 1)
    in well under a second, naming neither the host nor the driver's text; /readyz answers
    503 within its own 3 s limit; /healthz stays 200 (the process is alive: don't restart)."""
    server, postgres = fleet.server("pg"), fleet.pg()
    assert post(server, LOGS).good("executionLogs")
    postgres.stop()
    try:
        answers = [post(server, LOGS) for _ in range(3)]
        first = answers[0]
        say(
            f"database down: GraphQL query -> HTTP {first.status}, "
            f"Retry-After={first.headers.get('retry-after')}, "
            f"content-type={first.headers.get('content-type')}, body={first.body}"
        )
        say(
            "database down: SERVICE_UNAVAILABLE after "
            + ", ".join(f"{a.seconds * 1000:.0f} ms" for a in answers)
            + " (first request: stale pooled connections; then fresh connects)"
        )
        for answer in answers:
            assert answer.status == 200, answer
            assert answer.codes == ["SERVICE_UNAVAILABLE"], answer.body
            assert answer.body["data"] is None, answer.body
            assert answer.headers.get("retry-after") == "1", answer.headers
            assert answer.seconds < 1.0, answer.seconds
            text = str(answer.body)
            for leak in (str(postgres.port), "127.0.0.1", "psycopg", "refused", "SELECT"):
                assert leak not in text, (leak, text)

        ready, ready_s = get(server, "/readyz")
        say(f"database down: /readyz -> {ready.status_code} {ready.text} in {ready_s:.3f} s")
        assert ready.status_code == 503, ready.text
        assert ready.json() == {"status": "unavailable", "code": "SERVICE_UNAVAILABLE"}
        assert ready_s < 3.5, ready_s

        alive, alive_s = get(server, "/healthz")
        say(f"database down: /healthz -> {alive.status_code} {alive.text} in {alive_s:.3f} s")
        assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    finally:
        postgres.start()
    # Leave the server as found: answering again.
    deadline = time.monotonic() + 10
    while not post(server, LOGS).good("executionLogs"):
        assert time.monotonic() < deadline, server.log()
        time.sleep(POLL_S)


def test_the_server_recovers_without_a_restart(fleet: Fleet) -> None:
    """The database stops, then starts again on the same port with the same data: the same
    server process answers queries again, and /readyz is 200 again, within about a second
    of the database accepting connections (polled every 50 ms)."""
    server, postgres = fleet.server("pg"), fleet.pg()
    assert post(server, LOGS).good("executionLogs")
    postgres.stop()
    try:
        down = post(server, LOGS)
        assert down.codes == ["SERVICE_UNAVAILABLE"], down.body
    finally:
        start_s = postgres.start()
    accepting = time.monotonic()  # pg_ctl -w returned: it accepts connections

    failed: list[list[str]] = []
    while not (answer := post(server, LOGS)).good("executionLogs"):
        failed.append(answer.codes)
        assert time.monotonic() - accepting < 10, (failed, server.log())
        time.sleep(POLL_S)
    query_s = time.monotonic() - accepting
    while (ready := get(server, "/readyz")[0]).status_code != 200:
        assert time.monotonic() - accepting < 10, (ready.text, server.log())
        time.sleep(POLL_S)
    ready_s = time.monotonic() - accepting
    say(
        f"recovery: pg_ctl start -w took {start_s * 1000:.0f} ms; then the first good answer "
        f"after {query_s * 1000:.0f} ms ({len(failed)} failed polls: {failed}), "
        f"/readyz 200 after {ready_s * 1000:.0f} ms"
    )
    assert query_s < 2.0, query_s
    assert ready_s < 2.0, ready_s
    assert ready.json() == {"status": "ready", "database": "postgresql"}


# --- PostgreSQL: a table locked by another transaction ----------------------------------------


def test_a_locked_table_answers_timeout_at_the_time_limit(fleet: Fleet) -> None:
    """Another session holds ACCESS EXCLUSIVE on memory_execution_logs: a read of it, and a
    write to it, answer TIMEOUT at GRAPH_STATEMENT_TIMEOUT_S (1 s), not after tens of
    seconds; other tables answer meanwhile; once the lock is released the read works."""
    server, postgres = fleet.server("pg"), fleet.pg()
    with postgres.connect() as holder:
        holder.execute("BEGIN")
        holder.execute(f"LOCK TABLE {LOCKED_TABLE} IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(max_workers=1) as pool:
            blocked = pool.submit(post, server, LOGS)
            time.sleep(0.2)
            others = [post(server, OTHER) for _ in range(3)]
            read = blocked.result(timeout=HTTP_TIMEOUT_S)
        write = post(server, INSERT, {"id": "locked-out"})
        say(
            f"locked table: read -> HTTP {read.status} {read.codes} after {read.seconds:.2f} s; "
            f"write -> {write.codes} after {write.seconds:.2f} s; another table meanwhile: "
            + ", ".join(f"{a.seconds * 1000:.0f} ms" for a in others)
        )
        say(f"locked table: read body {read.body}")
        for answer in (read, write):
            assert answer.status == 200, answer
            assert answer.codes == ["TIMEOUT"], answer.body
            assert LIMIT_S * 0.9 <= answer.seconds < LIMIT_S + 2.5, answer.seconds
        message = read.body["errors"][0]["message"]
        assert "GRAPH_STATEMENT_TIMEOUT_S" in message and LOCKED_TABLE not in message
        for answer in others:
            assert answer.good("dashboards"), answer.body
            assert answer.seconds < 1.0, answer.seconds
        # The holder's transaction is untouched: the server cancelled only its own statements.
        holder.execute("SELECT count(*) FROM memory_execution_logs")
        holder.execute("ROLLBACK")
    after = post(server, LOGS)
    say(f"lock released: read -> {after.body} in {after.seconds * 1000:.0f} ms")
    assert after.good("executionLogs"), after.body
    assert after.body["data"]["executionLogs"] == [], "the timed-out write wrote nothing"


# --- PostgreSQL: SIGTERM while requests run ---------------------------------------------------


def _waiting_for_lock(monitor: psycopg.Connection[Any]) -> int:
    row = monitor.execute(
        "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted",
        (LOCKED_TABLE,),
    ).fetchone()
    assert row is not None
    count: int = row[0]
    return count


def _post_or_error(server: Server) -> Answer | str:
    try:
        return post(server, LOGS)
    except (httpx.HTTPError, ValueError) as exc:  # a reset, a refusal, a torn body
        return f"{type(exc).__name__}: {exc}"


def test_sigterm_lets_admitted_requests_finish(fleet: Fleet) -> None:
    """20 requests wait on a locked table (all inside the database: admitted); SIGTERM; the
    listening socket closes at once (new connections refused); half a second later the lock
    is released; every one of the 20 gets its full answer, none a reset; the process exits
    within seconds."""
    server, postgres = fleet.server("pg_drain"), fleet.pg()
    with postgres.connect() as holder, postgres.connect() as monitor:
        holder.execute("BEGIN")
        holder.execute(f"LOCK TABLE {LOCKED_TABLE} IN ACCESS EXCLUSIVE MODE")
        pool = ThreadPoolExecutor(max_workers=DRAINED)
        try:
            futures: list[Future[Answer | str]] = [
                pool.submit(_post_or_error, server) for _ in range(DRAINED)
            ]
            deadline = time.monotonic() + 15
            while (waiting := _waiting_for_lock(monitor)) < DRAINED:
                done = [f.result() for f in futures if f.done()]
                assert time.monotonic() < deadline and not done, (waiting, done, server.log())
                time.sleep(POLL_S)

            server.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            while not refuses_connections(server.port):
                assert time.monotonic() - signalled < 3, "still accepting after SIGTERM"
                time.sleep(POLL_S)
            refused_s = time.monotonic() - signalled
            # Half a second more: the server keeps waiting for them, it does not cut them.
            time.sleep(HOLD_S)
            assert server.process.poll() is None, "exited with requests in flight"
            still_waiting = _waiting_for_lock(monitor)
            holder.execute("ROLLBACK")
            released_s = time.monotonic() - signalled

            answers = [f.result(timeout=HTTP_TIMEOUT_S) for f in futures]
            answered_s = time.monotonic() - signalled
        finally:
            if holder.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                holder.execute("ROLLBACK")
            pool.shutdown(wait=True, cancel_futures=True)
    try:
        exit_code = server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running 10 s after SIGTERM:\n{server.log()}") from None
    exited_s = time.monotonic() - signalled

    good = [a for a in answers if isinstance(a, Answer) and a.good("executionLogs")]
    say(
        f"SIGTERM with {DRAINED} requests waiting on a lock: new connections refused after "
        f"{refused_s * 1000:.0f} ms; lock released after {released_s * 1000:.0f} ms; "
        f"{len(good)}/{DRAINED} answered 200 with data, the last {answered_s * 1000:.0f} ms "
        f"after SIGTERM; process exited after {exited_s * 1000:.0f} ms with returncode "
        f"{exit_code} (shell status {128 - exit_code if exit_code < 0 else exit_code})"
    )
    assert still_waiting == DRAINED, still_waiting
    assert len(good) == DRAINED, [a if isinstance(a, str) else a.body for a in answers]
    assert answered_s < HOLD_S + 5, answered_s
    assert exited_s < HOLD_S + 5, exited_s
    assert refuses_connections(server.port)
    assert exit_code == 0, (exit_code, server.log())
    assert "Traceback" not in server.log_path.read_text(errors="replace"), server.log()


def test_sigterm_exits_with_status_zero(fleet: Fleet) -> None:
    """uvicorn re-raises the SIGTERM it handled once it has drained; `grace-graph serve`
    turns that into exit status 0 (docs/operations.md: 0 is success)."""
    server = fleet.server("sqlite_idle")
    assert post(server, LOGS).good("executionLogs")
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    exit_code = server.process.wait(timeout=10)
    say(f"SIGTERM, idle: exited after {(time.monotonic() - signalled) * 1000:.0f} ms, {exit_code}")
    assert exit_code == 0


# --- SQLite: a write blocked by another process's write lock -----------------------------------


def test_a_sqlite_write_blocked_by_another_writer_answers_timeout(fleet: Fleet) -> None:
    """Another connection holds SQLite's write lock (BEGIN IMMEDIATE): a mutation answers
    TIMEOUT at GRAPH_STATEMENT_TIMEOUT_S (1 s, busy_timeout), writing nothing; reads answer
    meanwhile (WAL); once the lock is released the same mutation writes its row."""
    server = fleet.server("sqlite")
    holder = sqlite3.connect(fleet.sqlite_path, isolation_level=None, timeout=5)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with ThreadPoolExecutor(max_workers=1) as pool:
            blocked = pool.submit(post, server, INSERT, {"id": "blocked"})
            time.sleep(0.2)
            read = post(server, LOGS)
            write = blocked.result(timeout=HTTP_TIMEOUT_S)
        say(
            f"SQLite write lock held: mutation -> HTTP {write.status} {write.codes} after "
            f"{write.seconds:.2f} s; a read meanwhile in {read.seconds * 1000:.0f} ms"
        )
        say(f"SQLite write lock held: mutation body {write.body}")
        assert write.status == 200, write
        assert write.codes == ["TIMEOUT"], write.body
        assert write.body["data"] == {"insertExecutionLogs": None}, write.body
        assert LIMIT_S * 0.9 <= write.seconds < LIMIT_S + 2.5, write.seconds
        assert "locked" in write.body["errors"][0]["message"], write.body
        assert read.good("executionLogs") and read.seconds < 1.0, read
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
    after = post(server, INSERT, {"id": "after"})
    say(f"SQLite lock released: mutation -> {after.body} in {after.seconds * 1000:.0f} ms")
    assert after.status == 200 and not after.codes, after.body
    assert after.body["data"] == {"insertExecutionLogs": {"affectedCount": 1}}
    rows = post(server, "{ executionLogs { executionId } }")
    assert rows.body["data"]["executionLogs"] == [{"executionId": "after"}], rows.body
