"""The README's examples run: queries find rows in the sample data, the mutation and the
Python quick start work on a fresh database (both databases where one is used)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graph.registry import Registry
from graph.spec import Spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)


def _queries() -> list[str]:
    return [b for b in _blocks("graphql") if not b.lstrip().startswith("mutation")]


async def test_readme_queries_answer(api: Api) -> None:
    queries = _queries()
    assert len(queries) >= 3
    for query in queries:
        data = await api.data(query)
        (rows,) = data.values()
        found = rows["edges"] if isinstance(rows, dict) else rows
        assert found, f"no rows for README query:\n{query}"


async def test_readme_mutation_runs_on_a_fresh_database(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    create_schema(empty_db.engine, catalog)
    api = Api(empty_db, spec, catalog)
    (mutation,) = [b for b in _blocks("graphql") if b.lstrip().startswith("mutation")]
    data = await api.data(mutation)
    assert data["insertPlaybooks"]["affectedCount"] == 1
    assert data["insertPlaybooks"]["rows"][0]["totalRuns"] == 0
    assert data["updatePlaybooks"]["affectedCount"] == 1


def test_readme_python_quick_start_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The requirements document's quick start, copied from the README and run unchanged."""
    (code,) = _blocks("python")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRAPH_SCHEMAS_DIR", str(README.parent / "schemas"))
    monkeypatch.setenv("GRAPH_RELATIONS_FILE", str(README.parent / "relations.yaml"))
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # our own README
    registry = namespace["table_registry"]
    assert isinstance(registry, Registry)
    registry.close()
    assert "fix_database_connection [{'step': 1" in capsys.readouterr().out
    assert (tmp_path / "quickstart.db").exists()
