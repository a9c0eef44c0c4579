"""Live server processes in tests: a free port, and waiting for /readyz."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(base: str, attempts: int, details: Callable[[], str] = lambda: "") -> None:
    """Poll `base`/readyz every 0.1 s until it answers 200; after `attempts`, AssertionError
    with `details()` (the server's log, read only then)."""
    for _ in range(attempts):
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server did not become ready{details()}")
