"""Limits at the socket (graph/http/connection.py), on a live `grace-graph serve` process,
spoken to byte by byte: heads that trickle (408), heads too large to read (431),
connections beyond the bound (503), and ordinary requests on kept-alive connections that
must not be caught by any of them.

One SQLite server: nothing here reaches a database (tests/security/test_http.py covers the
same refusals' bodies on both databases).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.databases import fresh_database
from tests.servers import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]
HEADER_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 20
HEAD_LIMIT = 16_384 + 65_536  # GRAPH_MAX_HEADER_BYTES's default + the request line's room


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("connections")
    with fresh_database("sqlite", folder) as db:
        create_schema(db.engine, catalog)
        port = free_port()
        env = {
            **os.environ,
            "GRAPH_HEADER_TIMEOUT_S": f"{HEADER_TIMEOUT_S:g}",
            "GRAPH_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        }
        command = [sys.executable, "-m", "graph.cli", "serve", "--port", str(port)]
        command += ["--database", db.url, "--log-level", "warning"]
        log_path = folder / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            wait_ready(f"http://127.0.0.1:{port}", 150, lambda: f": {log_path.read_text()}")
            yield Server(port, process)
        finally:
            process.terminate()
            process.wait(timeout=20)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], Any]:
    """One HTTP/1.1 response with a Content-Length: status, headers, JSON body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65_536)
        if not chunk:
            raise ConnectionError(f"closed before a whole head: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65_536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        body += chunk
    return int(lines[0].split()[1]), headers, orjson.loads(body[:length])


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(3)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def post(body: bytes, keep_alive: bool = True) -> bytes:
    head = (
        "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    if not keep_alive:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode() + body


def code(body: Any) -> str:
    return str(body["errors"][0]["extensions"]["code"])


def test_headers_that_trickle_are_cut_off(server: Server) -> None:
    """Slowloris: a header line every 200 ms keeps the connection busy forever unless the
    head as a whole has a deadline."""
    with server.connect() as sock:
        started = time.monotonic()
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: test\r\n")
        sock.settimeout(0.2)
        answer = b""
        while time.monotonic() - started < 8 and not answer:
            try:
                sock.sendall(b"X-Trickle: a\r\n")
                answer = sock.recv(65_536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert HEADER_TIMEOUT_S * 0.9 < waited < HEADER_TIMEOUT_S + 3, waited
        body = orjson.loads(answer.partition(b"\r\n\r\n")[2])
        assert code(body) == "REQUEST_TIMEOUT" and body["errors"][0]["extensions"]["requestId"]


def test_a_connection_that_never_sends_is_closed(server: Server) -> None:
    with server.connect() as sock:
        started = time.monotonic()
        status, headers, body = read_response(sock)
        assert status == 408 and code(body) == "REQUEST_TIMEOUT"
        assert headers["connection"] == "close" and closed_by_server(sock)
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 3


def test_a_head_too_large_is_refused_once_the_bound_is_read(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * (HEAD_LIMIT + 10))
        status, _, body = read_response(sock)
        assert status == 431 and code(body) == "LIMIT_EXCEEDED"
        assert "GRAPH_MAX_HEADER_BYTES" in body["errors"][0]["message"]
        assert closed_by_server(sock)


def test_a_huge_head_is_not_read_to_its_end(server: Server) -> None:
    """64 MiB of one header: the server stops reading (and closes) long before the end, so
    the sender cannot deliver it all, and the server's memory does not grow by it."""
    before = server.rss_mib()
    with server.connect() as sock:
        sock.sendall(b"GET /graphql HTTP/1.1\r\nHost: test\r\nX-Huge: ")
        chunk = b"a" * 1_048_576
        sent = 0
        with pytest.raises(OSError):  # broken pipe or reset: the server has closed
            for _ in range(64):
                sock.sendall(chunk)
                sent += len(chunk)
        assert sent < 32 * len(chunk), sent
    assert server.rss_mib() - before < 16


def test_connections_beyond_the_bound_are_refused_at_once(server: Server) -> None:
    held = [server.connect() for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)  # all accepted by the server
        with server.connect() as extra:
            started = time.monotonic()
            status, _, body = read_response(extra)
            assert status == 503 and code(body) == "SERVICE_UNAVAILABLE"
            assert "GRAPH_MAX_CONNECTIONS" in body["errors"][0]["message"]
            assert time.monotonic() - started < 1.0
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    with server.connect() as sock:
        sock.sendall(post(b'{"query": "{ __typename }"}'))
        assert read_response(sock)[0] == 200


def test_ordinary_requests_on_a_kept_alive_connection_pass(server: Server) -> None:
    """A body of 900 kB sent with its head in one write (the head must not be counted with
    it), a second request on the same connection, and a GET whose query string is 60 kB (the
    request line has its own room): all answered 200."""
    padding = "a" * 900_000
    query = "query($p: String) { executionLogs(where: {component: {eq: $p}}) { executionId } }"
    big = orjson.dumps({"query": query, "variables": {"p": padding}})
    with server.connect() as sock:
        sock.sendall(post(big))
        status, _, body = read_response(sock)
        assert status == 200 and body == {"data": {"executionLogs": []}}, body
        sock.sendall(post(b'{"query": "{ __typename }"}'))
        assert read_response(sock)[0] == 200
        comment = "%23" + "a" * 60_000  # a GraphQL comment, URL-encoded
        sock.sendall(
            f"GET /graphql?query=%7B__typename%7D{comment} HTTP/1.1\r\nHost: test\r\n"
            "GraphQL-Require-Preflight: 1\r\nAccept: application/json\r\n\r\n".encode()
        )
        status, _, body = read_response(sock)
        assert status == 200 and body == {"data": {"__typename": "Query"}}, body
