"""Loads `schemas/*.yaml` and `relations.yaml` into a validated Spec, or raises every problem."""

from __future__ import annotations

import os
from pathlib import Path

from graph.errors import SourcePos
from graph.naming import name_problem
from graph.spec.computed import attach_computed
from graph.spec.issues import Issues
from graph.spec.model import Spec, TableSpec
from graph.spec.names import check_generated_names
from graph.spec.relations import RelationChecker, attach_relations
from graph.spec.rollups import attach_rollups
from graph.spec.tables import TableChecker
from graph.spec.yaml_tree import YNode, parse_yaml


def display_path(path: Path) -> str:
    """The path as a user typed it: relative to the working directory when below it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _read(path: Path, issues: Issues) -> YNode | None:
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.add(SourcePos(shown), "UNREADABLE_FILE", f"cannot read file: {exc}")
        return None
    tree, problems = parse_yaml(text, shown)
    for problem in problems:
        issues.add(problem.pos, problem.code, problem.message)
    return tree


def load_tables(
    schemas_dir: Path, issues: Issues, trees: dict[str, YNode] | None = None
) -> tuple[dict[str, TableSpec], set[str]]:
    """The valid tables, and the names of schema files that exist but have errors.

    `trees` receives each valid table's YAML tree, for checks that need every table first.
    """
    if not schemas_dir.is_dir():
        issues.add(SourcePos(display_path(schemas_dir)), "MISSING_FILE", "no schemas folder")
        return {}, set()
    files = sorted(schemas_dir.glob("*.yaml")) + sorted(schemas_dir.glob("*.yml"))
    if not files:
        issues.add(SourcePos(display_path(schemas_dir)), "MISSING_FILE", "no *.yaml files")
    tables: dict[str, TableSpec] = {}
    broken: set[str] = set()
    for path in files:
        if (problem := name_problem(path.stem)) is not None:
            issues.add(
                SourcePos(display_path(path)),
                "BAD_NAME",
                f"schema file name '{path.stem}' {problem}; relations refer to it",
            )
            continue
        if path.stem in tables:
            issues.add(SourcePos(display_path(path)), "DUPLICATE_KEY", "schema declared twice")
            continue
        tree = _read(path, issues)
        table = TableChecker(path.stem, tree, issues).check() if tree is not None else None
        if table is None:
            broken.add(path.stem)
        else:
            tables[path.stem] = table
            if trees is not None and tree is not None:
                trees[path.stem] = tree
    return tables, broken


def load_spec(schemas_dir: Path, relations_file: Path) -> Spec:
    """Read and validate both spec sources together; raise SpecErrors listing every problem."""
    issues = Issues()
    trees: dict[str, YNode] = {}
    tables, broken = load_tables(schemas_dir, issues, trees)
    relations = []
    if not relations_file.is_file():
        issues.add(SourcePos(display_path(relations_file)), "MISSING_FILE", "file not found")
    else:
        tree = _read(relations_file, issues)
        if tree is not None:
            relations = RelationChecker(tree, tables, issues, broken).check()
    tables = attach_relations(tables, relations)
    tables = attach_rollups(tables, trees, issues)
    tables = attach_computed(tables, trees, issues)
    check_generated_names(tables, issues)
    issues.raise_if_any()
    return Spec(tables=tables, relations=tuple(relations))
