"""`grace-graph serve` starts a real server process that answers over HTTP."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from graph.http import observe
from graph.spec.model import Spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.databases import TestDatabase
from tests.servers import free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent


def test_serve_answers_graphql_and_health(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    create_schema(empty_db.engine, catalog)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "graph.cli",
        "serve",
        "--port",
        str(port),
        "--database",
        empty_db.url,
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, 100)
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        answer = httpx.post(f"{base}/graphql", json={"query": "{ executionLogs { id } }"})
        assert answer.json() == {"data": {"executionLogs": []}}
        page = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"})
        assert "graphiql" in page.text.lower()
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()
    assert "serving" in output and "Traceback" not in output


def test_the_log_level_turns_the_request_log_on_and_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve --log-level` (GRAPH_LOG_LEVEL in the workers) governs the request log too: one
    line per request at info, none at warning; uvicorn's `trace` is debug; unknown is info."""
    request_log = logging.getLogger("graph.request")
    graph_log = logging.getLogger("graph")
    kept = (graph_log.level, list(graph_log.handlers), graph_log.propagate)
    try:
        for given, enabled, level in (
            ("warning", False, logging.WARNING),
            ("info", True, logging.INFO),
            ("trace", True, logging.DEBUG),
            ("loud", True, logging.INFO),
            ("", True, logging.INFO),
        ):
            monkeypatch.setenv("GRAPH_LOG_LEVEL", given)
            observe.configure_logging()
            assert request_log.isEnabledFor(logging.INFO) is enabled, given
            assert graph_log.level == level, given
    finally:
        graph_log.setLevel(kept[0])
        graph_log.handlers[:] = kept[1]
        graph_log.propagate = kept[2]
