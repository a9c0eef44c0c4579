"""Fixtures shared by every test: the real spec, and real databases of both kinds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.seed.load import seed_database
from graph.spec import Spec, load_spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog, build_catalog
from tests.api import Api
from tests.databases import BACKENDS, TestDatabase, fresh_database
from tests.writes import shared_database

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec(ROOT / "schemas", ROOT / "relations.yaml")


@pytest.fixture(scope="session")
def catalog(spec: Spec) -> Catalog:
    return build_catalog(spec)


@pytest.fixture(params=BACKENDS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestDatabase]:
    """A brand-new database with no tables, on SQLite and on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture(scope="session", params=BACKENDS)
def seeded_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, catalog: Catalog
) -> Iterator[TestDatabase]:
    """One database per kind with the scale-1 sample data; tests only read it."""
    with fresh_database(request.param, tmp_path_factory.mktemp("seeded")) as db:
        create_schema(db.engine, catalog)
        # Anchored at this moment, not at midnight like the CLI: "within the last day" questions
        # then find the same rows whatever the time of day the suite runs.
        seed_database(
            db.engine,
            catalog,
            scale=1,
            seed=7,
            if_empty=False,
            progress=False,
            now=dt.datetime.now(dt.UTC),
        )
        yield db


@pytest.fixture(scope="module", params=BACKENDS)
def shipped_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, catalog: Catalog
) -> Iterator[TestDatabase]:
    """One database of each kind with the shipped spec's tables, per test module: tests that
    write empty it first (tests/writes.py), which is far faster than a database per test."""
    folder = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with shared_database(request.param, folder, catalog) as db:
        yield db


@pytest.fixture(scope="session")
def api(seeded_db: TestDatabase, spec: Spec, catalog: Catalog) -> Api:
    """The GraphQL API over the seeded database of each kind."""
    return Api(seeded_db, spec, catalog)
