"""The pipeline's direction holds: spec knows no SQL or GraphQL, sql knows no GraphQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GRAPH = Path(__file__).resolve().parent.parent / "graph"
FORBIDDEN = {
    "spec": ("sqlalchemy", "strawberry", "graphql", "graph.sql", "graph.gql"),
    "sql": ("strawberry", "graphql", "graph.gql"),
    "seed": ("strawberry", "graphql", "graph.gql"),
}
PLAN_FILES = (
    "plan.py",
    "aggregate.py",
    "grouping.py",
    "errors.py",
    "naming.py",
    "rows.py",
    "texts.py",
    "instants.py",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_down_the_pipeline(layer: str) -> None:
    for path in sorted((GRAPH / layer).glob("*.py")):
        bad = {
            n for n in _imports(path) for f in FORBIDDEN[layer] if n == f or n.startswith(f + ".")
        }
        assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", PLAN_FILES)
def test_plain_data_modules_import_no_framework(name: str) -> None:
    bad = {
        n
        for n in _imports(GRAPH / name)
        if n.split(".")[0] in ("sqlalchemy", "strawberry", "graphql", "starlette")
    }
    assert not bad, f"{name} imports {sorted(bad)}"


def test_gql_builds_no_sql() -> None:
    """The GraphQL layer hands plans to graph.sql; it may name an engine, never a statement."""
    for path in sorted((GRAPH / "gql").glob("*.py")):
        sql_imports = {n for n in _imports(path) if n.split(".")[0] == "sqlalchemy"}
        assert sql_imports <= {"sqlalchemy", "sqlalchemy.exc"}, path.name
        assert "select(" not in path.read_text(), path.name
