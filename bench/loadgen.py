"""A small HTTP/1.1 load generator for the shedding bench: POSTs one fixed request over
keep-alive connections and records each answer's status and latency.

Two modes:

- `closed_loop(clients)`: each client sends its next request when the last one answered
  (unloaded latency, capacity).
- `open_loop(rate)`: requests start on an even schedule, one every 1/rate seconds, whether or
  not earlier ones have answered, as independent users do. A closed loop with a rate cap
  (`hey -q`) is not that: its clients tick together and arrive in bursts, and a slow server
  slows the offered load down.

Plain asyncio streams with uvloop, not an HTTP library: a request costs the generator tens of
microseconds, so it takes little of the CPU it shares with the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import uvloop


@dataclass
class Answers:
    """Latencies in seconds by HTTP status; `failures` counts requests that got no answer."""

    latencies: dict[int, list[float]] = field(default_factory=dict)
    failures: int = 0
    sent: int = 0

    def add(self, status: int, seconds: float) -> None:
        self.latencies.setdefault(status, []).append(seconds)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> int:
        """Send `request`, read the whole answer, return its status. The server keeps the
        connection open unless it says `connection: close` (then ConnectionError next time)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        closing = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                closing = True
        await self.reader.readexactly(length)
        if closing:
            self.writer.close()
            raise _Closed(status)
        return status


class _Closed(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


def build_request(host: str, port: int, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class Client:
    """Keep-alive connections to one server, reused; a new one is opened when none is idle."""

    def __init__(self, host: str, port: int, path: str, body: bytes, timeout_s: float) -> None:
        self.host, self.port = host, port
        self.request = build_request(host, port, path, body)
        self.timeout_s = timeout_s
        self.idle: list[Connection] = []

    async def one(self, answers: Answers) -> None:
        answers.sent += 1
        started = time.perf_counter()
        reused = bool(self.idle)
        try:
            connection = self.idle.pop() if reused else await self._connect()
            try:
                status = await asyncio.wait_for(connection.exchange(self.request), self.timeout_s)
            except asyncio.IncompleteReadError as closed:
                if not reused or closed.partial:
                    raise
                # The server closed this idle connection (its keep-alive timeout) as the
                # request left: a client sends it again on a new one.
                connection = await self._connect()
                status = await asyncio.wait_for(connection.exchange(self.request), self.timeout_s)
        except _Closed as closed:
            answers.add(closed.status, time.perf_counter() - started)
            return
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            answers.failures += 1
            return
        answers.add(status, time.perf_counter() - started)
        self.idle.append(connection)

    async def _connect(self) -> Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return Connection(reader, writer)

    def close(self) -> None:
        for connection in self.idle:
            connection.writer.close()
        self.idle.clear()


def _run(work: Callable[[], Awaitable[Answers]]) -> Answers:
    return uvloop.run(work())


def closed_loop(
    host: str, port: int, path: str, body: bytes, clients: int, seconds: float
) -> Answers:
    """`clients` clients back to back for `seconds`."""

    async def work() -> Answers:
        client = Client(host, port, path, body, timeout_s=30)
        answers = Answers()
        deadline = time.perf_counter() + seconds

        async def loop() -> None:
            while time.perf_counter() < deadline:
                await client.one(answers)

        await asyncio.gather(*(loop() for _ in range(clients)))
        client.close()
        return answers

    return _run(work)


def open_loop(host: str, port: int, path: str, body: bytes, rate: float, seconds: float) -> Answers:
    """One request every 1/rate seconds for `seconds`, each on its own schedule; answers
    still outstanding 30 s after the last start count as failures."""

    async def work() -> Answers:
        client = Client(host, port, path, body, timeout_s=30)
        answers = Answers()
        pending: set[asyncio.Task[None]] = set()
        interval = 1.0 / rate
        started = time.perf_counter()
        count = int(rate * seconds)
        for index in range(count):
            delay = started + index * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(client.one(answers))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending, timeout=30)
        client.close()
        return answers

    return _run(work)
