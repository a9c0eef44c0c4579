"""Limits on connections, enforced where the bytes arrive: before any request reaches the
application, the HTTP server has to read it, and a client can make that reading cost.

`GuardedHttpToolsProtocol` is uvicorn's httptools protocol with three bounds more:

- a request's head (request line and headers) must arrive within `GRAPH_HEADER_TIMEOUT_S`
  of its first byte (of the connection, for the first request): a client that trickles its
  headers (slowloris) is answered 408 and cut off, instead of holding the connection forever;
- the head may be at most `GRAPH_MAX_HEADER_BYTES` plus 64 KiB for the request line (a GET
  query travels in it): beyond that 431 and the connection is closed, before more is read
  (uvicorn would otherwise keep every header it is sent);
- a process holds at most `GRAPH_MAX_CONNECTIONS` connections: one more is answered 503 and
  closed at once (file descriptors and memory per connection are bounded).

Each refusal is a GraphQL error body with a stable code, like every other refusal
(graph/http/protocol.py). Selected by `grace-graph serve` (`http=` of uvicorn); the settings
come from the environment, as each worker process's do.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from graph.http.protocol import error_body
from graph.settings import Settings

log = logging.getLogger("graph.http")

# Room for the request line beyond the headers' own limit: a GET carries its query there.
REQUEST_LINE_ROOM = 65_536
_REASONS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


@functools.cache
def _settings() -> Settings:
    return Settings.from_env()


def raw_refusal(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 response that closes the connection: a GraphQL error body."""
    body = orjson.dumps(error_body(code, message, uuid.uuid4().hex))
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json; charset=utf-8\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % (status, _REASONS[status], len(body))
    )
    return head + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline and a size bound on each request's head
    and a bound on the connections of the process."""

    head_deadline: asyncio.TimerHandle | None = None
    head_bytes = 0
    in_head = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        settings = _settings()
        if len(self.connections) > settings.max_connections:
            log.warning("connection refused: %d open", len(self.connections) - 1)
            self._refuse(
                503,
                "SERVICE_UNAVAILABLE",
                f"the server holds {settings.max_connections:,} connections already "
                "(GRAPH_MAX_CONNECTIONS); retry in a second",
            )
            return
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        was_in_head = self.in_head
        super().data_received(data)
        # Counted after parsing, so that a chunk holding the end of a head and the start of
        # a body counts only when the head is still incomplete: then all of it was head.
        if was_in_head and self.in_head and not self.transport.is_closing():
            self.head_bytes += len(data)
            limit = _settings().max_header_bytes + REQUEST_LINE_ROOM
            if self.head_bytes > limit:
                self._refuse(
                    431,
                    "LIMIT_EXCEEDED",
                    f"the request line and headers are over {limit:,} bytes "
                    "(GRAPH_MAX_HEADER_BYTES and 64 KiB for the request line)",
                )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True
        self.head_bytes = 0
        self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._disarm_head_deadline()
        super().on_headers_complete()

    def _arm_head_deadline(self) -> None:
        if self.head_deadline is None:
            timeout = _settings().header_timeout_s
            self.head_deadline = self.loop.call_later(timeout, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _head_too_slow(self) -> None:
        self.head_deadline = None
        if self.in_head and not self.transport.is_closing():
            timeout = _settings().header_timeout_s
            self._refuse(
                408,
                "REQUEST_TIMEOUT",
                f"the request's headers did not arrive within {timeout:g} s "
                "(GRAPH_HEADER_TIMEOUT_S)",
            )

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._disarm_head_deadline()
        self.transport.write(raw_refusal(status, code, message))
        self.transport.close()
