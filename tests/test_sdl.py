"""The generated GraphQL schema is reviewed like code: a change shows up as a snapshot diff."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from graph.cli import app
from graph.gql.build import print_sdl
from graph.settings import Settings
from graph.spec.model import Spec

SNAPSHOT = Path(__file__).parent / "snapshots" / "schema.graphql"


def test_schema_matches_snapshot(spec: Spec) -> None:
    sdl = print_sdl(spec, Settings())
    if os.environ.get("GRAPH_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(sdl)
    assert sdl == SNAPSHOT.read_text(), (
        "the generated schema changed: review `grace-graph sdl`, then rerun with "
        "GRAPH_UPDATE_SNAPSHOTS=1 to accept it"
    )


def test_sdl_command_prints_it(spec: Spec) -> None:
    root = Path(__file__).resolve().parent.parent
    result = CliRunner().invoke(
        app,
        ["sdl", "--schemas", str(root / "schemas"), "--relations", str(root / "relations.yaml")],
    )
    assert result.exit_code == 0
    assert result.output == SNAPSHOT.read_text()
    for name in (
        "executionLogs(",
        "executionLogsConnection(",
        "type ExecutionLog ",
        "relatedFeedback(",
        "enum ExecutionLogStatus",
        "input ExecutionLogWhere",
    ):
        assert name in result.output
