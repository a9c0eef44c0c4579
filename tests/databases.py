"""Real test databases: a SQLite file in a temporary folder, or a fresh PostgreSQL database.

PostgreSQL tests run when GRAPH_TEST_PG_URL names a server login (any existing database on it,
e.g. postgresql://postgres@127.0.0.1:5432/postgres); each test database is created for the run
and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from graph.sql.engine import build_engine

PG_ENV = "GRAPH_TEST_PG_URL"
BACKENDS = ("sqlite", "postgresql")
PG_TEST_COLLATION = "en-US"


@dataclass(frozen=True)
class TestDatabase:
    __test__ = False  # a fixture value, not a test class

    backend: str
    url: str
    engine: Engine


def pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def skip_without_pg() -> None:
    if pg_admin_url() is None:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set: in CI every PostgreSQL test must run")
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1/postgres)"
        )


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[TestDatabase]:
    """A new, empty database of the given kind, removed when the block ends."""
    name = f"grace_test_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        url = f"sqlite:///{folder / (name + '.db')}"
        engine = build_engine(url)
        try:
            yield TestDatabase(backend, url, engine)
        finally:
            engine.dispose()
        return
    skip_without_pg()
    admin_url = pg_admin_url()
    assert admin_url is not None
    admin = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        # A linguistic collation, as production servers often have ("a" < "B" < "b"), so that
        # any answer that depends on the database's collation instead of the API's own
        # code-point order shows up in the tests; LC_CTYPE stays the template's.
        conn.execute(
            text(
                f'CREATE DATABASE "{name}" TEMPLATE template0 '
                f"LOCALE_PROVIDER icu ICU_LOCALE '{PG_TEST_COLLATION}'"
            )
        )
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = build_engine(url, pool_size=4)
    try:
        yield TestDatabase(backend, url, engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
