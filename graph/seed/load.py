"""`seed_database`: fills every table with the generated rows, in one transaction.

PostgreSQL gets the rows through COPY (psycopg 3), SQLite through batched executemany; either way
the rows stream from the generators to the database without being collected first.

The time anchor of the seed data is today's UTC midnight: the demo looks recent to its user
("deployed this week" finds rows), yet two runs on the same day with the same seed and scale
write exactly the same rows. Pass `now` to pin the anchor (e.g. to compare runs across days).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any, cast

import orjson
import psycopg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import JSON, Connection, Engine, Table, bindparam, literal, select, text

from graph.audit import canonical_encoding, chain_lock_key, next_stamp
from graph.errors import GraphError
from graph.seed.generate import TableRows
from graph.seed.grace import GRACE
from graph.seed.plan import Profile, SeedPlan, make_plan
from graph.spec.model import FieldType, TableSpec
from graph.sql import rollups
from graph.sql.compile import Compiler
from graph.sql.tables import Catalog

# Rows per executemany on SQLite: large enough to amortize the call, small enough for memory.
SQLITE_BATCH = 5_000
# SQLite page cache while seeding, in KiB (an upper bound; pages are allocated as needed).
SQLITE_CACHE_KIB = 256 * 1024
# PostgreSQL advisory lock held while seeding (create_schema uses 7262311).
SEED_LOCK = 7262312
# Rows between progress bar updates: redrawing per row would cost more than generating it.
PROGRESS_STEP = 2_000


class SeedError(GraphError):
    """Seeding would collide with rows already in the tables."""

    code = "SEED_CONFLICT"


def anchor_now() -> dt.datetime:
    """Today's UTC midnight: same-day runs are identical, and the data looks recent."""
    return dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def seed_database(
    engine: Engine,
    catalog: Catalog,
    *,
    scale: float,
    seed: int,
    if_empty: bool,
    progress: bool,
    now: dt.datetime | None = None,
    profile: Profile | None = None,
) -> str:
    """Fill every table with deterministic, cross-linked sample rows; return a one-line report.

    With `if_empty`, do nothing (and say so) when any table already has rows; without it, raise
    SeedError then, since appended rows would collide with the existing keys.
    """
    if scale <= 0:
        raise ValueError(f"scale must be greater than 0, not {scale}")
    started = time.perf_counter()
    profile = GRACE if profile is None else profile
    plan = make_plan(catalog.spec, scale, profile)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Instances started together with --if-empty: one seeds, the others then find rows.
            conn.execute(text(f"SELECT pg_advisory_xact_lock({SEED_LOCK})"))
        filled = filled_tables(conn, catalog)
        if filled:
            if if_empty:
                return f"nothing seeded: {len(filled)} of {len(catalog.tables)} tables hold rows"
            raise SeedError(
                "tables already hold rows; use a fresh database or --if-empty "
                f"({', '.join(filled[:3])}{', ...' if len(filled) > 3 else ''})"
            )
        anchor = now or anchor_now()
        total = write_all(conn, catalog, plan, profile, seed, anchor, progress)
        if conn.dialect.name == "sqlite":
            # Statistics before the rollups: without them SQLite's planner reads the logs by
            # the index on their status (as selective as any, it guesses) for every playbook,
            # agent and trigger, instead of by the link's index: time grew with the square
            # of the scale (35 of 49 s at scale 400). They serve the served reads too.
            conn.exec_driver_sql("ANALYZE")
        # Rollup fields (run counts, success rates) say what the seeded logs say, as any
        # write through the engine would leave them.
        compiler = Compiler(catalog, conn.dialect.name)
        for table in catalog.spec.tables.values():
            rollups.refresh_all(conn, compiler, table, anchor)
    if engine.dialect.name == "postgresql":
        # Fresh statistics: without them the planner guesses badly on the new rows until
        # autovacuum (which may be off) gets to them.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            names = ", ".join(t.name for t in catalog.metadata.sorted_tables)
            conn.execute(text(f"ANALYZE {names}"))
    elapsed = time.perf_counter() - started
    return f"seeded {len(plan.order)} tables, {total:,} rows in {elapsed:.1f} s"


def filled_tables(conn: Connection, catalog: Catalog) -> list[str]:
    """SQL names of the tables that hold at least one row."""
    return [
        table.name
        for table in catalog.tables.values()
        if conn.execute(select(literal(1)).select_from(table).limit(1)).first() is not None
    ]


@contextmanager
def sqlite_cache(conn: Connection) -> Iterator[None]:
    """A large page cache while seeding: index pages of the big tables stay in memory, which
    cuts SQLite's insert time by a third at the benchmark scale. The setting is restored."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


def write_all(
    conn: Connection,
    catalog: Catalog,
    plan: SeedPlan,
    profile: Profile,
    seed: int,
    now: dt.datetime,
    progress: bool,
) -> int:
    postgres = conn.dialect.name == "postgresql"
    with sqlite_cache(conn), ProgressBar(plan) if progress else NoProgress() as bar:
        for name in plan.order:
            spec = catalog.spec.table(name)
            rows = TableRows(spec, plan, profile, seed=seed, now=now)
            columns: list[str] = rows.columns
            stream: Iterable[tuple[Any, ...]] = rows
            if spec.audit_chain is not None:
                if postgres:
                    # Server writes to the chain wait for the seed's rows (graph/audit.py).
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": chain_lock_key(spec)}
                    )
                columns, stream = chained_rows(spec, rows.columns, rows)
            tracked = bar.track(spec.table, rows.count, stream)
            if postgres:
                copy_rows(conn, catalog.table(name), spec, columns, tracked)
            else:
                insert_rows(conn, catalog.table(name), spec, columns, tracked)
            if postgres and spec.audit_chain is not None and rows.count:
                # The ids were written explicitly: move the identity sequence past them, so
                # that the next insert (graph/audit.py draws from the sequence) gets a new id.
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :last)"),
                    {"table": spec.table, "last": rows.count},
                )
    return sum(plan.counts.values())


def chained_rows(
    spec: TableSpec, columns: list[str], rows: Iterable[tuple[Any, ...]]
) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    """The rows of a table with an `audit_chain`, with explicit ids and their stamps.

    A stamp covers the row's id and created_at (graph/audit.py), so both must be known before
    the row is written: the seed only writes to empty tables, so ids are 1, 2, ... in row
    order, as the database would have given them. Each stamp is computed over the values
    exactly as they are written, chained onto the row before.
    """
    assert spec.audit_chain is not None
    names = ["id", *columns]
    stamp_at = names.index(spec.audit_chain)

    def stream() -> Iterator[tuple[Any, ...]]:
        previous: str | None = None
        for row_id, row in enumerate(rows, start=1):
            values = [row_id, *row]
            record = dict(zip(names, values, strict=True))
            previous = next_stamp(previous, canonical_encoding(spec, record))
            values[stamp_at] = previous
            yield tuple(values)

    return names, stream()


def copy_rows(
    conn: Connection,
    table: Table,
    spec: TableSpec,
    columns: list[str],
    rows: Iterable[tuple[Any, ...]],
) -> None:
    """COPY in text format: jsonb goes as JSON text, arrays as lists, datetimes as they are."""
    driver = cast("psycopg.Connection[Any]", conn.connection.driver_connection)
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    json_at = [k for k, c in enumerate(columns) if spec.field(c).type is FieldType.JSON]
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            if json_at:
                values = list(row)
                for k in json_at:
                    if values[k] is not None:
                        values[k] = orjson.dumps(values[k]).decode()
                copy.write_row(values)
            else:
                copy.write_row(row)


def insert_rows(
    conn: Connection,
    table: Table,
    spec: TableSpec,
    columns: list[str],
    rows: Iterable[tuple[Any, ...]],
) -> None:
    """executemany in batches; SQLAlchemy's column types store datetimes, JSON and lists.

    JSON and list columns (both JSON text on SQLite) are bound with none_as_null, so an absent
    value is SQL NULL as COPY makes it on PostgreSQL, not the JSON text 'null'.
    """
    documents = [c for c in columns if spec.field(c).type in (FieldType.JSON, FieldType.LIST)]
    statement = table.insert().values(
        {c: bindparam(c, type_=JSON(none_as_null=True)) for c in documents}
    )
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(dict(zip(columns, row, strict=True)))
        if len(batch) >= SQLITE_BATCH:
            conn.execute(statement, batch)
            batch = []
    if batch:
        conn.execute(statement, batch)


# -- progress -----------------------------------------------------------------------------------


class NoProgress(AbstractContextManager["NoProgress"]):
    """Prints nothing."""

    def track(
        self, name: str, count: int, rows: Iterable[tuple[Any, ...]]
    ) -> Iterable[tuple[Any, ...]]:
        return rows

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class ProgressBar(AbstractContextManager["ProgressBar"]):
    """A rich progress display on stderr: one bar for all rows, one for the current table."""

    def __init__(self, plan: SeedPlan) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<32}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.overall = self.progress.add_task("all tables", total=sum(plan.counts.values()))

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def track(
        self, name: str, count: int, rows: Iterable[tuple[Any, ...]]
    ) -> Iterator[tuple[Any, ...]]:
        task: TaskID = self.progress.add_task(name, total=count)
        done = 0
        for row in rows:
            yield row
            done += 1
            if done % PROGRESS_STEP == 0:
                self._advance(task, PROGRESS_STEP)
        self._advance(task, done % PROGRESS_STEP)
        # Finished tables leave the display; the overall bar keeps their rows.
        self.progress.update(task, visible=False)

    def _advance(self, task: TaskID, rows: int) -> None:
        self.progress.advance(task, rows)
        self.progress.advance(self.overall, rows)
