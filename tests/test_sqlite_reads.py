"""SQLite reads take turns on a few worker threads (GraphContext.read_threads): at most
`sqlite_read_threads` run at once, the others wait, and every answer is still the one a read
alone gets. PostgreSQL's reads are not limited. Real SQLite files, real threads: each statement
is held for a moment by an engine listener, so concurrent requests overlap for sure.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from graph.settings import Settings
from graph.spec import Spec
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import TestDatabase

# Distinct documents: the first request of each is planned and compiled (the full path), and
# the prepared operations' path is taken when one comes again (the second round).
QUERIES = [
    f"{{ executionLogs(orderBy: [{{executionId: ASC}}], limit: {n}) "
    "{ executionId playbook { playbookName } } }"
    for n in range(1, 9)
]


class InFlight:
    """Statements running at once on an engine, each held `hold_s` before it runs."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    def before(self, *_: Any) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(self.hold_s)

    def after(self, *_: Any) -> None:
        with self._lock:
            self.now -= 1


@pytest.fixture
def in_flight(seeded_db: TestDatabase) -> Iterator[InFlight]:
    counter = InFlight(hold_s=0.03)
    event.listen(seeded_db.engine, "before_cursor_execute", counter.before)
    event.listen(seeded_db.engine, "after_cursor_execute", counter.after)
    try:
        yield counter
    finally:
        event.remove(seeded_db.engine, "before_cursor_execute", counter.before)
        event.remove(seeded_db.engine, "after_cursor_execute", counter.after)


def settings(read_threads: int) -> Settings:
    # Admission control lets all eight requests in (its limit would otherwise follow the CPU).
    return Settings(sqlite_read_threads=read_threads, max_in_flight=8, adaptive_in_flight=False)


async def answers_at_once(api: Api) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(api.post(query) for query in QUERIES)))


@pytest.mark.parametrize("read_threads", [1, 2])
async def test_sqlite_reads_run_at_most_the_setting_at_once_and_answer_as_alone(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog, in_flight: InFlight, read_threads: int
) -> None:
    alone = Api(seeded_db, spec, catalog, settings(8))
    expected = [await alone.post(query) for query in QUERIES]
    assert all("errors" not in answer for answer in expected)
    in_flight.most = 0

    api = Api(seeded_db, spec, catalog, settings(read_threads))
    if seeded_db.backend == "postgresql":
        # PostgreSQL's reads run in the database's processes: not limited here.
        assert api.graph.read_threads() is None
        return
    limiter = api.graph.read_threads()
    assert limiter is not None and limiter.total_tokens == read_threads
    for _ in range(2):  # planned, then answered as prepared operations
        assert await answers_at_once(api) == expected
    assert in_flight.most == read_threads


async def test_without_the_limit_sqlite_reads_do_overlap(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog, in_flight: InFlight
) -> None:
    """The listener does see overlapping statements when the setting allows them: the bound
    above is the limiter's doing, not the test's."""
    if seeded_db.backend != "sqlite":
        pytest.skip("SQLite's reads only")
    api = Api(seeded_db, spec, catalog, settings(8))
    await answers_at_once(api)
    assert in_flight.most > 2


def test_the_setting_is_at_least_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_SQLITE_READ_THREADS", "0")
    with pytest.raises(SystemExit, match="GRAPH_SQLITE_READ_THREADS"):
        Settings.from_env()
    monkeypatch.setenv("GRAPH_SQLITE_READ_THREADS", "3")
    assert Settings.from_env().sqlite_read_threads == 3
    monkeypatch.delenv("GRAPH_SQLITE_READ_THREADS")
    assert Settings.from_env().sqlite_read_threads >= 1
