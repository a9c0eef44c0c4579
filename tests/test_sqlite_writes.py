"""SQLite writers of one process take the write lock in arrival order (graph/sql/sqlite_writes.py),
and give it back however their transaction ends. Real SQLite files, real threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from graph.sql.engine import build_engine, write_engine
from graph.sql.sqlite_writes import WriteTurns
from graph.sql.timeouts import StatementTimeoutError


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    # No statement limit: a writer waits up to SQLite's busy_timeout (5 s) for its turn.
    engine = build_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (writer INTEGER, n INTEGER)"))
    yield engine
    engine.dispose()


def _waiting(turns: WriteTurns) -> int:
    return len(turns._waiting)


def test_writers_are_served_in_the_order_they_came() -> None:
    turns = WriteTurns(wait_s=10.0)
    served: list[int] = []
    turns.take()
    threads = []

    def write(writer: int) -> None:
        turns.take()
        served.append(writer)

    for writer in range(12):
        thread = threading.Thread(target=write, args=(writer,))
        thread.start()
        threads.append(thread)
        # The next writer arrives only once this one waits.
        while _waiting(turns) < writer + 1:
            time.sleep(0.001)
    for _ in range(13):
        turns.give_back()
        time.sleep(0.01)
    for thread in threads:
        thread.join()
    assert served == list(range(12))


def test_a_writer_that_waits_too_long_leaves_the_queue_and_the_next_one_goes() -> None:
    turns = WriteTurns(wait_s=0.2)
    turns.take()
    with pytest.raises(StatementTimeoutError) as refused:
        turns.take()
    assert refused.value.code == "TIMEOUT"
    assert _waiting(turns) == 0
    turns.give_back()
    turns.take()  # free again at once


def test_a_sqlite_write_waits_for_the_one_before_it_then_sees_its_rows(engine: Engine) -> None:
    writes = write_engine(engine)
    first = writes.connect()
    first.begin()
    first.execute(text("INSERT INTO t VALUES (1, 1)"))
    second_done = threading.Event()

    def second() -> None:
        with writes.begin() as conn:
            count = conn.execute(text("SELECT count(*) FROM t")).scalar_one()
            conn.execute(text("INSERT INTO t VALUES (2, :n)"), {"n": count})
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not second_done.wait(0.3)
    first.commit()
    first.close()
    thread.join(5)
    assert second_done.is_set()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t WHERE writer = 2")).scalar_one() == 1


@pytest.mark.parametrize("ending", ["rollback", "error inside", "close without commit"])
def test_the_turn_comes_back_however_the_transaction_ends(engine: Engine, ending: str) -> None:
    writes = write_engine(engine)
    if ending == "rollback":
        conn = writes.connect()
        conn.begin()
        conn.execute(text("INSERT INTO t VALUES (1, 1)"))
        conn.rollback()
        conn.close()
    elif ending == "error inside":
        with pytest.raises(ZeroDivisionError), writes.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1, 1)"))
            _ = 1 / 0
    else:
        conn = writes.connect()
        conn.begin()
        conn.execute(text("INSERT INTO t VALUES (1, 1)"))
        conn.close()
    started = time.monotonic()
    with writes.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2, 2)"))
    # Well under the 5 s a kept turn would make the next writer wait before TIMEOUT.
    assert time.monotonic() - started < 2.0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT writer FROM t")).scalars().all() == [2]


def test_a_write_refused_for_its_turn_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    """With a statement limit, the wait for a turn is that limit, as is SQLite's busy_timeout."""
    limited = build_engine(f"sqlite:///{tmp_path / 'turns.db'}", statement_timeout_s=0.3)
    writes = write_engine(limited)
    holder = writes.connect()
    holder.begin()
    started = time.monotonic()
    with pytest.raises(StatementTimeoutError) as refused, writes.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2, 2)"))
    assert 0.3 <= time.monotonic() - started < 3.0
    assert refused.value.code == "TIMEOUT"
    holder.rollback()
    holder.close()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    with writes.begin() as conn:  # and the queue is free again
        conn.execute(text("INSERT INTO t VALUES (3, 3)"))
    limited.dispose()


def test_many_writers_of_one_row_all_land(engine: Engine) -> None:
    """32 threads each add 1 to one counter 4 times, reading it first and keeping the lock
    40 ms: no write refused, none lost. The writes take about 5 s in all, each waits about
    1.3 s for its turn. SQLite's busy handler alone let the oldest waiters lose every race
    until busy_timeout (5 s) ran out."""
    writes = write_engine(engine)
    with writes.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (0, 0)"))
    errors: list[BaseException] = []

    def add() -> None:
        try:
            for _ in range(4):
                with writes.begin() as conn:
                    n = conn.execute(text("SELECT n FROM t WHERE writer = 0")).scalar_one()
                    time.sleep(0.04)
                    conn.execute(text("UPDATE t SET n = :n WHERE writer = 0"), {"n": n + 1})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=add) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t WHERE writer = 0")).scalar_one() == 128
