"""When the database cannot be reached the API says so, with a stable code and no details."""

from __future__ import annotations

from pathlib import Path

from graph.spec.model import Spec
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
