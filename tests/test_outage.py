"""When the database cannot be reached the API says so, with a stable code and no details."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from graph.spec.model import Spec
from graph.sql.ddl import create_schema
from graph.sql.engine import build_engine
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase


async def test_unreachable_database(spec: Spec, catalog: Catalog, tmp_path: Path) -> None:
    # A real connection attempt to a port where nothing listens (no mock).
    url = "postgresql://grace:secret@127.0.0.1:9/nowhere"
    db = TestDatabase("postgresql", url, build_engine(url, pool_size=1))
    api = Api(db, spec, catalog)
    body = await api.post("{ executionLogs { id } }")
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "secret" not in str(body) and "127.0.0.1" not in str(body)
    ready = await api.get("/readyz")
    assert ready.status_code == 503
    assert (await api.get("/healthz")).status_code == 200
    db.engine.dispose()


async def test_missing_sqlite_folder(spec: Spec, catalog: Catalog, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'g.db'}"
    db = TestDatabase("sqlite", url, build_engine(url))
    body = await Api(db, spec, catalog).post("{ executionLogs { id } }")
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    db.engine.dispose()


async def test_connections_the_server_closed_are_replaced_without_an_error(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    """The pool does not ping before each request (a round trip): a connection whose server
    went away is noticed at checkout, by its socket, and replaced. Every pooled connection is
    terminated by an administrator (as a restart does); the next requests answer, reads and
    a write alike, on new backends."""
    if empty_db.backend != "postgresql":
        pytest.skip("a PostgreSQL server closing its connections")
    create_schema(empty_db.engine, catalog)
    api = Api(empty_db, spec, catalog)
    assert empty_db.engine.pool._pre_ping is False  # type: ignore[attr-defined]
    query = "{ executionLogs { id } playbooks { id } }"
    # Three connections in the pool, each having served.
    held = [empty_db.engine.connect() for _ in range(3)]
    before = {conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() for conn in held}
    for conn in held:
        conn.close()
    with empty_db.engine.connect() as admin:  # one of the three, checked out again
        admin.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        admin.commit()
    time.sleep(0.2)  # the terminated backends' sockets close
    with api.counter.watching(empty_db.engine) as counter:
        body = await api.post(query)
    assert body == {"data": {"executionLogs": [], "playbooks": []}}, body
    assert counter.count == 2, counter.statements  # no ping among the statements
    written = await api.post(
        'mutation { insertPlaybooks(rows: [{playbookName: "p", actions: [], riskLevel: LOW}])'
        " { affectedCount } }"
    )
    assert "errors" not in written, written
    with empty_db.engine.connect() as conn:
        after = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    assert len(before) == 3 and after is not None
