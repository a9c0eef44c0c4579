"""Request ids and one log line per request.

Every response carries `X-Request-Id`: the client's own when it is sane (letters, digits and
`._:-`, at most 128 characters), else a new one; GraphQL errors carry it in
`extensions.requestId` (graph/http/endpoint.py). When the response is sent, one line is logged
on the `graph.request` logger: id, method, path, operation name, status, duration, the SQL
statements run and the time spent in them, the client's address. Never variables, the query
text or headers: they may hold personal data or secrets.

The statements are counted by engine events (`count_statements`) into a per-request record
held in a context variable; the worker threads that run them inherit it (anyio copies the
context into them).
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("graph.request")

HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")


@dataclass
class RequestRecord:
    request_id: str
    statements: int = 0
    database_s: float = 0.0
    operation: str | None = None


_current: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "graph_request", default=None
)


def current_request_id() -> str | None:
    """The id of the request this code runs for (None outside a request)."""
    record = _current.get()
    return record.request_id if record is not None else None


def request_id(scope: Scope) -> str | None:
    record = scope.get("state", {}).get("graph_request")
    return record.request_id if isinstance(record, RequestRecord) else None


def note_operation(scope: Scope, name: str | None) -> None:
    record = scope.get("state", {}).get("graph_request")
    if isinstance(record, RequestRecord):
        record.operation = name


def _incoming_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == HEADER and _SANE_ID.fullmatch(value):
            return bytes(value).decode("ascii")
    return uuid.uuid4().hex


class RequestLog:
    """ASGI middleware: the request id, the response header, the log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = RequestRecord(_incoming_id(scope))
        scope.setdefault("state", {})["graph_request"] = record
        token = _current.set(record)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER]
                headers.append((HEADER, record.request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
            client = scope.get("client")
            log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": record.request_id,
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "operation": record.operation,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "statements": record.statements,
                        "database_ms": round(record.database_s * 1000, 2),
                        "client": client[0] if client else None,
                    }
                },
            )


def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    conn.info["graph_started"] = time.perf_counter()


def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    record = _current.get()
    started = conn.info.pop("graph_started", None)
    if record is not None:
        record.statements += 1
        if started is not None:
            record.database_s += time.perf_counter() - started


def statement_ran(seconds: float) -> None:
    """Count a statement run outside the engine (graph/sql/async_reader.py) into the request
    running it."""
    record = _current.get()
    if record is not None:
        record.statements += 1
        record.database_s += seconds


def count_statements(engine: Engine) -> None:
    """Count each statement `engine` runs, and its time, into the request running it."""
    if not event.contains(engine, "after_cursor_execute", _after):
        event.listen(engine, "before_cursor_execute", _before)
        event.listen(engine, "after_cursor_execute", _after)


class LogFormatter(logging.Formatter):
    """One JSON object per line when the output is not a terminal (for log collectors);
    `key=value` pairs after the message on a terminal."""

    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = dict(getattr(record, "fields", {}) or {})
        if self.as_json:
            line: dict[str, Any] = {
                "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
                **fields,
            }
            if record.exc_info:
                line["trace"] = self.formatException(record.exc_info)
            return orjson.dumps(line, default=str).decode()
        text = f"{record.levelname.lower()} {record.name}: {record.getMessage()}"
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(level: int | str | None = None) -> None:
    """The server's logging: graph.* loggers through LogFormatter on stderr, at `level` (by
    default GRAPH_LOG_LEVEL, which `grace-graph serve --log-level` sets; info: the request
    log, one line per request, is on; warning and above: it is off)."""
    if level is None:
        name = os.environ.get("GRAPH_LOG_LEVEL", "").strip().upper() or "INFO"
        # uvicorn's `trace` is below debug; a name logging does not know: info.
        known = logging.getLevelNamesMapping()
        level = "DEBUG" if name == "TRACE" else name if name in known else "INFO"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter(as_json=not sys.stderr.isatty()))
    logger = logging.getLogger("graph")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
