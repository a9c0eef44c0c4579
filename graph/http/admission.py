"""What a request must be to be let in at all, checked before anything reads or runs it.

Three ASGI middlewares, outermost first:

- `InFlightLimit`: at most `max_in_flight` requests of this process at once, and a queue
  bounded in length and in wait (short once it stands); any other request is refused (503,
  `Retry-After: 1`, SERVICE_UNAVAILABLE) instead of joining a queue that grows without bound
  while every admitted request slows down. Health checks pass.
- `HeaderSizeLimit`: headers larger than `max_header_bytes` in all -> 431.
- `BodySizeLimit`: a declared Content-Length over `max_bytes`, or a streamed body that grows
  past it (chunked uploads declare no length) -> 413.

Each refusal is a GraphQL error body with a stable code and the request id.
"""

from __future__ import annotations

import time

import anyio
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.http import observe
from graph.http.protocol import error_body

# Paths never shed: a load balancer must learn the process is alive and ready even when busy.
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})


async def refuse(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    body = orjson.dumps(error_body(code, message, observe.request_id(scope)))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# A queue that has not been empty for this long is standing: the server is overloaded, not
# absorbing a burst, and a request then waits at most OVERLOADED_WAIT_S for a slot (the
# queue discipline of "Fail at Scale", Maurer, ACM Queue 2015).
STANDING_QUEUE_S = 0.1
OVERLOADED_WAIT_S = 0.005


class InFlightLimit:
    """Load shedding: at most `max_in_flight` requests run at once per process; up to
    `max_queued` more wait for a slot, each at most `queue_wait_s` while the queue drains (a
    burst), and only a few milliseconds once it has stood for 100 ms (an overload); any other
    is refused at once. A queue without bounds would make every admitted request wait for all
    the ones before it; this one bounds the latency of what it admits."""

    def __init__(
        self, app: ASGIApp, max_in_flight: int, max_queued: int, queue_wait_s: float
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_queued = max_queued
        self.queue_wait_s = queue_wait_s
        self.slots = anyio.Semaphore(max_in_flight)
        self.queued = 0
        self.last_empty = time.monotonic()

    @property
    def in_flight(self) -> int:
        return self.max_in_flight - self.slots.value

    def _wait_allowed(self) -> float:
        now = time.monotonic()
        if self.queued == 0:
            self.last_empty = now
        standing = now - self.last_empty > STANDING_QUEUE_S
        return OVERLOADED_WAIT_S if standing else self.queue_wait_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in HEALTH_PATHS:
            await self.app(scope, receive, send)
            return
        admitted = False
        if self.slots.value > 0 or self.queued < self.max_queued:
            wait = self._wait_allowed()
            self.queued += 1
            try:
                with anyio.move_on_after(wait):
                    await self.slots.acquire()
                    admitted = True
            finally:
                self.queued -= 1
                if self.queued == 0:
                    self.last_empty = time.monotonic()
        if not admitted:
            await refuse(
                scope,
                send,
                503,
                "SERVICE_UNAVAILABLE",
                f"the server is at capacity ({self.max_in_flight} requests at once, "
                f"GRAPH_MAX_IN_FLIGHT, and {self.max_queued} waiting, GRAPH_MAX_QUEUED); "
                "retry in a second",
                ((b"retry-after", b"1"),),
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()


class HeaderSizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.max_bytes:
                await refuse(
                    scope,
                    send,
                    431,
                    "LIMIT_EXCEEDED",
                    f"the request's headers are {size:,} bytes, more than {self.max_bytes:,} "
                    "(GRAPH_MAX_HEADER_BYTES)",
                    ((b"connection", b"close"),),
                )
                return
        await self.app(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await refuse(
            scope,
            send,
            413,
            "LIMIT_EXCEEDED",
            f"the request body is larger than {self.max_bytes:,} bytes (GRAPH_MAX_BODY_BYTES)",
            ((b"connection", b"close"),),
        )
