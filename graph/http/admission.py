"""What a request must be to be let in at all, checked before anything reads or runs it.

Three ASGI middlewares, outermost first:

- `InFlightLimit`: a bounded number of requests of this process at once (a bound that follows
  the process's CPU, up to `max_in_flight`), and a queue bounded in length and in wait (short
  once it stands, newest first); any other request is refused (503, `Retry-After: 1`,
  SERVICE_UNAVAILABLE) instead of joining a queue that grows without bound while every
  admitted request slows down. Health checks pass.
- `HeaderSizeLimit`: headers larger than `max_header_bytes` in all -> 431.
- `BodySizeLimit`: a declared Content-Length over `max_bytes`, or a streamed body that grows
  past it (chunked uploads declare no length) -> 413.

Each refusal is a GraphQL error body with a stable code and the request id.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

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
# absorbing a burst. A queued request then waits at most OVERLOADED_WAIT_S, and the newest
# waiter is served first: the queue discipline of "Fail at Scale" (Maurer, ACM Queue 2015),
# CoDel's rule applied to requests plus adaptive LIFO.
STANDING_QUEUE_S = 0.5
OVERLOADED_WAIT_S = 0.005
# An overload ends only after this long without a refusal: a queue kept short by refusals
# empties often, and each empty moment must not start another 100 ms of patient queueing.
OVERLOAD_MEMORY_S = 1.0
# The limit on requests in flight adapts to this process's CPU, measured every ADAPT_EVERY_S:
# while the process is busy BUSY_SHARE of the time or more, one more request in flight only
# makes every admitted one slower (its Python runs one thread at a time), so the limit falls
# by one, down to 1; below IDLE_SHARE the process waits on the database more than it
# computes, so the limit rises by one, up to max_in_flight. Measured with bench/shedding.py
# on a CPU-bound query: admitted p50 3.9 ms at 1 in flight, 7.3 at 2, 14.5 at 4, 28.9 at 8,
# for the same requests served per second.
ADAPT_EVERY_S = 0.05
BUSY_SHARE = 0.8
IDLE_SHARE = 0.5


@dataclass(eq=False)
class _Waiter:
    """A request waiting for a slot. `event` is set when it is decided: `granted` says how."""

    since: float
    event: anyio.Event = field(default_factory=anyio.Event)
    granted: bool = False


class InFlightLimit:
    """Load shedding: at most `limit` requests run at once per process (with `adaptive`, a
    limit between 1 and `max_in_flight` that follows the process's CPU; else
    `max_in_flight`); up to
    `max_queued` more wait for a slot. While the queue drains now and then (a burst) they wait
    in order, each at most `queue_wait_s`. Once the queue has stood for `standing_queue_s`
    (an overload) the server cannot catch up by waiting: a waiter gets at most
    `overloaded_wait_s`, those that waited longer are refused when a slot frees, and the slot
    goes to the newest waiter, which still has its client's patience; the admitted keep their
    latency and the excess is told at once (503, Retry-After). A queue without these bounds
    makes every admitted request wait for all the ones before it."""

    def __init__(
        self,
        app: ASGIApp,
        max_in_flight: int,
        max_queued: int,
        queue_wait_s: float,
        standing_queue_s: float = STANDING_QUEUE_S,
        overloaded_wait_s: float = OVERLOADED_WAIT_S,
        adaptive: bool = True,
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_queued = max_queued
        self.queue_wait_s = queue_wait_s
        self.standing_queue_s = standing_queue_s
        self.overloaded_wait_s = min(overloaded_wait_s, queue_wait_s)
        self.running = 0
        self.waiters: deque[_Waiter] = deque()
        self.last_empty = time.monotonic()
        self.overloaded_until = 0.0
        self.limit = max_in_flight
        self.adaptive = adaptive
        self.window_wall = time.monotonic()
        self.window_cpu = time.process_time()

    @property
    def in_flight(self) -> int:
        return self.running

    @property
    def queued(self) -> int:
        return len(self.waiters)

    def _overloaded(self, now: float) -> bool:
        if not self.waiters:
            self.last_empty = now
        elif now - self.last_empty > self.standing_queue_s:
            self.overloaded_until = now + OVERLOAD_MEMORY_S
        return now < self.overloaded_until

    def _shed(self, now: float) -> None:
        self.overloaded_until = now + OVERLOAD_MEMORY_S

    def _adapt(self, now: float) -> None:
        if not self.adaptive or now - self.window_wall < ADAPT_EVERY_S:
            return
        cpu = time.process_time()
        busy = (cpu - self.window_cpu) / (now - self.window_wall)
        self.window_wall, self.window_cpu = now, cpu
        if busy >= BUSY_SHARE:
            self.limit = max(1, self.limit - 1)
        elif busy < IDLE_SHARE and self.limit < self.max_in_flight:
            self.limit += 1
            self._fill(now)

    async def _admit(self) -> bool:
        """True once this request holds a slot; False when it is to be refused."""
        now = time.monotonic()
        self._adapt(now)
        if self.running < self.limit and not self.waiters:
            self.running += 1
            return True
        if len(self.waiters) >= self.max_queued:
            return False  # a full queue in a burst: the waiting keep their places
        self._overloaded(now)  # an empty queue marks now as its last empty moment
        waiter = _Waiter(now)
        self.waiters.append(waiter)
        try:
            with anyio.move_on_after(self.overloaded_wait_s):
                await waiter.event.wait()
            deadline = now + self.queue_wait_s
            # A burst: wait on, waking every ADAPT_EVERY_S so that the bound can rise while
            # the requests in flight wait on the database (then nothing else wakes it), and
            # so that an overload that begins meanwhile cuts the wait short.
            while not waiter.event.is_set():
                moment = time.monotonic()
                if moment >= deadline or self._overloaded(moment):
                    break
                self._adapt(moment)
                with anyio.move_on_after(min(ADAPT_EVERY_S, deadline - moment)):
                    await waiter.event.wait()
        except BaseException:
            if waiter.granted:  # cancelled after the slot was handed over: pass it on
                self._release()
            raise
        finally:
            if not waiter.event.is_set():  # gave up waiting: leave the queue
                now = time.monotonic()
                self.waiters.remove(waiter)
                self._shed(now)
                if not self.waiters:
                    self.last_empty = now
        return waiter.granted

    def _release(self) -> None:
        """A request finished: its slot goes to a waiter, or is freed."""
        now = time.monotonic()
        self.running -= 1
        self._adapt(now)
        self._fill(now)

    def _fill(self, now: float) -> None:
        """Hand free slots to waiters: in order during a burst; during an overload, after
        refusing those that waited too long, newest first."""
        overloaded = self._overloaded(now)
        if overloaded:
            while self.waiters and now - self.waiters[0].since > self.overloaded_wait_s:
                self.waiters.popleft().event.set()  # waited too long: refused
                self._shed(now)
        while self.running < self.limit and self.waiters:
            chosen = self.waiters.pop() if overloaded else self.waiters.popleft()
            chosen.granted = True
            chosen.event.set()
            self.running += 1
        if not self.waiters:
            self.last_empty = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in HEALTH_PATHS:
            await self.app(scope, receive, send)
            return
        if not await self._admit():
            await refuse(
                scope,
                send,
                503,
                "SERVICE_UNAVAILABLE",
                f"the server is at capacity ({self.limit} requests at once, at most "
                f"{self.max_in_flight} by GRAPH_MAX_IN_FLIGHT, and {self.max_queued} "
                "waiting, GRAPH_MAX_QUEUED); retry in a second",
                ((b"retry-after", b"1"),),
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._release()


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
