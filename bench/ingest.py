"""Throughput and memory of `grace-graph load` on PostgreSQL, against a hand-written COPY floor.

For each size (50,000 rows; with --big also 1,000,000):

1. writes N execution logs as JSON Lines, made by the seed generators (graph/seed): realistic
   values, every optional field sometimes null, links to the playbooks, work orders, agents and
   triggers of a scale-1 seed (so the relation checks find, and lock, real targets);
2. in a fresh database (tables created, scale-1 seed loaded) times `grace-graph load
   execution_logs FILE` end to end as a child process: start-up, reading, validation, COPY,
   commit; the child's peak RSS is its VmHWM (/proc), polled while it runs;
3. times `grace-graph load --upsert` of the same file into the now full table (every row exists:
   every row is updated);
4. in another fresh database times the floor: the same file into the same table by hand-written
   code (bench/ingest_floor.py, a child process too, so it pays its own start-up), orjson +
   psycopg COPY in one transaction, no validation, no checks.

Each measurement is the best of --repeat runs (the machine may be shared). Needs a PostgreSQL
login that may create databases (--pg-url, or GRAPH_BENCH_PG_URL / GRAPH_TEST_PG_URL); every
database it creates is dropped afterwards.

Run: `.venv/bin/python bench/ingest.py [--big] [--repeat 3]`
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import orjson
import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graph.seed.generate import TableRows  # noqa: E402
from graph.seed.grace import GRACE  # noqa: E402
from graph.seed.load import seed_database  # noqa: E402
from graph.seed.plan import make_plan  # noqa: E402
from graph.spec import Spec, load_spec  # noqa: E402
from graph.spec.model import FieldType  # noqa: E402
from graph.sql.ddl import create_schema  # noqa: E402
from graph.sql.engine import build_engine  # noqa: E402
from graph.sql.tables import build_catalog  # noqa: E402

TABLE = "execution_logs"
SQL_TABLE = "memory_execution_logs"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
ENGINE_FIELDS = ("id", "created_at", "updated_at")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--pg-url",
        default=os.environ.get("GRAPH_BENCH_PG_URL")
        or os.environ.get("GRAPH_TEST_PG_URL")
        or DEFAULT_URL,
        help="a login that may create databases",
    )
    p.add_argument("--rows", type=int, default=50_000, help="rows of the standard run")
    p.add_argument("--big", action="store_true", help="also load 1,000,000 rows")
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    p.add_argument("--no-upsert", action="store_true", help="skip the --upsert measurement")
    return p.parse_args(argv)


def write_rows(spec: Spec, count: int, path: Path) -> None:
    """`count` execution logs as JSON Lines, keys load-0000001..., links into a scale-1 seed."""
    plan = make_plan(spec, 1, GRACE)
    keys = [f"load-{n:07d}" for n in range(1, count + 1)]
    plan = replace(
        plan,
        counts={**plan.counts, TABLE: count},
        keys={**plan.keys, TABLE: keys},
    )
    rows = TableRows(spec.table(TABLE), plan, GRACE, seed=11, now=NOW)
    columns = rows.columns
    with path.open("wb") as out:
        for row in rows:
            record = {
                name: value
                for name, value in zip(columns, row, strict=True)
                if name not in ENGINE_FIELDS and value is not None
            }
            out.write(orjson.dumps(record))
            out.write(b"\n")


@contextmanager
def fresh_database(admin_url: str, spec: Spec) -> Iterator[str]:
    """A new database with the tables and a scale-1 seed; dropped afterwards."""
    name = f"grace_bench_ingest_{uuid.uuid4().hex[:10]}"
    admin = make_url(admin_url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        engine = build_engine(url)
        catalog = build_catalog(spec)
        create_schema(engine, catalog)
        seed_database(engine, catalog, scale=1, seed=7, if_empty=False, progress=False, now=NOW)
        with engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
        engine.dispose()
        yield url
    finally:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mib: float = 0.0


def _peak_rss_mib(pid: int) -> float | None:
    """The process's own high-water mark (VmHWM): unlike wait4's ru_maxrss, which also counts
    what the process held before exec (a fork of this, larger, bench process)."""
    try:
        with Path(f"/proc/{pid}/status").open() as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_load(url: str, path: Path, *options: str) -> Run:
    """`grace-graph load` as a child process: wall time, and its peak RSS (VmHWM, polled)."""
    command = [str(ROOT / ".venv" / "bin" / "grace-graph"), "load", TABLE, str(path)]
    command += [*options, "--no-progress", "--database", url]
    command += ["--schemas", str(ROOT / "schemas"), "--relations", str(ROOT / "relations.yaml")]
    peak = 0.0
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        while child.poll() is None:
            peak = max(peak, _peak_rss_mib(child.pid) or 0.0)
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        out, err = child.communicate()
    if child.returncode != 0:
        raise SystemExit(
            f"grace-graph load failed ({child.returncode}):\n{out.decode()}{err.decode()}"
        )
    return Run(seconds, peak)


def run_floor(url: str, spec: Spec, path: Path) -> Run:
    """The same file into the same table by hand (bench/ingest_floor.py): orjson, psycopg
    COPY, one transaction; a child process like the load, so both pay a start-up."""
    table = spec.table(TABLE)
    columns = [f.name for f in table.fields if f.name not in ENGINE_FIELDS]
    json_columns = [c for c in columns if table.field(c).type is FieldType.JSON]
    command = [sys.executable, str(ROOT / "bench" / "ingest_floor.py"), url, SQL_TABLE]
    command += [str(path), ",".join(columns), ",".join(json_columns)]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return Run(time.perf_counter() - started)


def best(runs: list[Run]) -> Run:
    fastest = min(runs, key=lambda r: r.seconds)
    return Run(fastest.seconds, max(r.peak_rss_mib for r in runs))


def measure(args: argparse.Namespace, spec: Spec, rows: int, folder: Path) -> list[str]:
    path = folder / f"logs-{rows}.jsonl"
    started = time.perf_counter()
    write_rows(spec, rows, path)
    size = path.stat().st_size / 2**20
    print(
        f"# {rows:,} rows: {size:,.0f} MiB of JSON Lines in {time.perf_counter() - started:.1f} s"
    )
    loads, upserts, floors = [], [], []
    repeat = args.repeat if rows <= 100_000 else 1
    for _ in range(repeat):
        with fresh_database(args.pg_url, spec) as url:
            loads.append(run_load(url, path))
            print(f"  load   {rows / loads[-1].seconds:>9,.0f} rows/s", flush=True)
            if not args.no_upsert:
                upserts.append(run_load(url, path, "--upsert"))
                print(f"  upsert {rows / upserts[-1].seconds:>9,.0f} rows/s", flush=True)
        with fresh_database(args.pg_url, spec) as url:
            floors.append(run_floor(url, spec, path))
            print(f"  floor  {rows / floors[-1].seconds:>9,.0f} rows/s", flush=True)
    load, floor = best(loads), best(floors)
    lines = [
        f"| {rows:,} | load | {load.seconds:.2f} | {rows / load.seconds:,.0f} | "
        f"{load.peak_rss_mib:,.0f} | {floor.seconds / load.seconds:.2f} |",
    ]
    if upserts:
        upsert = best(upserts)
        lines.append(
            f"| {rows:,} | load --upsert (all rows exist) | {upsert.seconds:.2f} | "
            f"{rows / upsert.seconds:,.0f} | {upsert.peak_rss_mib:,.0f} | "
            f"{floor.seconds / upsert.seconds:.2f} |"
        )
    lines.append(
        f"| {rows:,} | floor: orjson + psycopg COPY | {floor.seconds:.2f} | "
        f"{rows / floor.seconds:,.0f} | | 1.00 |"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    spec = load_spec(ROOT / "schemas", ROOT / "relations.yaml")
    sizes = [args.rows, *([1_000_000] if args.big else [])]
    table = [
        "| rows | what | seconds | rows/s | peak RSS (MiB) | speed vs floor |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory(prefix="grace-ingest-") as folder:
        for rows in sizes:
            table += measure(args, spec, rows, Path(folder))
    print(f"\n{os.cpu_count()} CPUs, best of {args.repeat} runs (1 for 1,000,000 rows)\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
