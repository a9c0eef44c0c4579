"""The reference pages keep up with the code: every key, type, error code and setting is documented.

docs/schema-format.md must name (in backticks) every key the spec loader accepts, every field
type, every error code the loader can report and every built-in GraphQL type name; its example
files must load. docs/operations.md must name the environment variable of every setting.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from graph import naming
from graph.settings import Settings
from graph.spec import load_spec
from graph.spec.relations import RELATION_KEYS
from graph.spec.tables import FIELD_KEYS, TABLE_KEYS, TYPE_NAMES

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DOC = ROOT / "docs" / "schema-format.md"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
SPEC_SOURCES = sorted((ROOT / "graph" / "spec").glob("*.py"))
CODE = re.compile(r"[A-Z][A-Z_]{4,}")
# ```yaml blocks whose first line names the file they are, e.g. "# schemas/execution_logs.yaml".
EXAMPLE_FILE = re.compile(r"```yaml\n# ((?:schemas/)?[a-z_]+\.yaml)\n(.*?)```", re.DOTALL)


def _missing(names: Iterable[str], page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [name for name in names if f"`{name}`" not in text]


def _issue_codes() -> set[str]:
    """Codes passed to `issues.add(pos, CODE, ...)` or `YamlProblem(pos, CODE, ...)`."""
    codes: set[str] = set()
    for path in SPEC_SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            func = node.func
            is_add = isinstance(func, ast.Attribute) and func.attr == "add"
            is_problem = isinstance(func, ast.Name) and func.id == "YamlProblem"
            code = node.args[1]
            value = code.value if isinstance(code, ast.Constant) else None
            if (is_add or is_problem) and isinstance(value, str) and CODE.fullmatch(value):
                codes.add(value)
    return codes


@pytest.mark.parametrize(
    ("what", "names"),
    [
        ("table key", TABLE_KEYS),
        ("field key", FIELD_KEYS),
        ("type", TYPE_NAMES),
        ("relation key", RELATION_KEYS),
        ("built-in GraphQL type name", sorted(naming.SHARED_TYPE_NAMES)),
    ],
)
def test_schema_format_names_every_key(what: str, names: Iterable[str]) -> None:
    missing = _missing(names, SCHEMA_DOC)
    assert not missing, f"docs/schema-format.md does not document {what}s: {missing}"


def test_schema_format_lists_every_error_code() -> None:
    codes = _issue_codes()
    # The loader reports a couple of dozen codes; finding few means this scan broke, not the docs.
    assert len(codes) >= 10, f"found only {sorted(codes)} in graph/spec/*.py"
    missing = _missing(sorted(codes), SCHEMA_DOC)
    assert not missing, f"docs/schema-format.md does not list error codes: {missing}"


def test_schema_format_examples_load(tmp_path: Path) -> None:
    """The example schema files and relations.yaml on the page are valid, together."""
    examples = EXAMPLE_FILE.findall(SCHEMA_DOC.read_text(encoding="utf-8"))
    names = [name for name, _ in examples]
    assert "relations.yaml" in names, "no '# relations.yaml' example block"
    assert any(name.startswith("schemas/") for name in names), "no '# schemas/...' example"
    (tmp_path / "schemas").mkdir()
    for name, body in examples:
        (tmp_path / name).write_text(body, encoding="utf-8")
    spec = load_spec(tmp_path / "schemas", tmp_path / "relations.yaml")
    used = {f.type.value for table in spec.tables.values() for f in table.declared_fields}
    assert used >= set(TYPE_NAMES), f"the examples do not use {sorted(set(TYPE_NAMES) - used)}"


def test_operations_documents_every_setting() -> None:
    source = (ROOT / "graph" / "settings.py").read_text(encoding="utf-8")
    variables = []
    for field in dataclasses.fields(Settings):
        variable = f"GRAPH_{field.name.upper()}"
        assert f'"{variable}"' in source, (
            f"Settings.{field.name} is not read from {variable} in graph/settings.py"
        )
        variables.append(variable)
    # Any other GRAPH_ variable settings.py reads must be documented too.
    variables += sorted(set(re.findall(r'"(GRAPH_[A-Z0-9_]+)"', source)) - set(variables))
    missing = _missing(variables, OPERATIONS_DOC)
    assert not missing, f"docs/operations.md does not document {missing}"
