"""`grace-graph load`: bulk ingest of a JSON Lines, CSV or YAML file into one table.

The file is read once, as a stream, inside one write transaction:

- every record is parsed and checked by `RowValidator` (graph/rows.py), the rules GraphQL
  mutations apply, and each problem is kept with the record's line in the file;
- valid rows are written in batches while the file is still being read: on PostgreSQL each row
  goes into an open COPY as soon as it is valid (the database inserts while the next rows are
  read), elsewhere and for audit-chained tables each batch goes through `WriteOps.insert`;
- at the first invalid row (unless `skip_invalid`) or the first refusal by the database
  (CONFLICT, MISSING_LINK_TARGET, ...), writing stops. The rest of the file is still read and
  validated, so that every problem is reported at once, and the transaction is rolled back:
  nothing of the file is kept. Otherwise the transaction commits: all rows, or none.

Memory does not grow with the file: one batch of rows, the first `MAX_LISTED` problems and a
few counters. docs/load.md is the user's page.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, cast

import orjson
import psycopg
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError

from graph.errors import (
    GraphError,
    Problem,
    ServiceUnavailableError,
    UserInputError,
    WriteError,
)
from graph.naming import suggest
from graph.rows import FieldNames, RowValidator
from graph.settings import Settings
from graph.spec.model import FieldSpec, FieldType, Spec, TableSpec
from graph.sql import rollups
from graph.sql.compile import Compiler
from graph.sql.engine import write_engine
from graph.sql.links import comparable
from graph.sql.tables import Catalog
from graph.sql.write import Writer
from graph.writes import WriteOps

FORMATS = {"jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv", "yaml": "yaml", "yml": "yaml"}
FORMAT_NAMES = ("jsonl", "csv", "yaml")
# Problems kept and printed; the rest are only counted.
MAX_LISTED = 100
DEFAULT_BATCH = 10_000
# Rows between progress updates: redrawing per row would cost more than validating it.
PROGRESS_STEP = 2_000
CSV_CELL_LIMIT = 1 << 30
BAD_INPUT = "BAD_USER_INPUT"
BAD_FILE = "BAD_FILE"
REFUSED = "REFUSED"
_INTEGER = re.compile(r"[+-]?[0-9]+")
_COPY_LINE = re.compile(r"\bline (\d+)")
_UNIQUE_DETAIL = re.compile(r"Key \((?P<column>[^)]+)\)=\((?P<value>.*)\) already exists")


class LoadError(GraphError):
    """The command line or the file itself is wrong (no rows, no header, a syntax error...):
    nothing was written. `line` is 0 when the problem is not at one line; `of_file` is False
    for a problem of the command line rather than of the file (an unknown table)."""

    def __init__(
        self, message: str, code: str = BAD_FILE, line: int = 0, *, of_file: bool = True
    ) -> None:
        super().__init__(message)
        self.code = code
        self.line = line
        self.of_file = of_file

    def render(self, file: str) -> str:
        if not self.of_file:
            return f"{self.message} [{self.code}]"
        return LineProblem(self.line, None, self.message, self.code).render(file)


@dataclass(frozen=True)
class LineProblem:
    """One problem of one record: `file:line: field: message [CODE]`."""

    line: int
    field: str | None
    message: str
    code: str

    def sort_key(self) -> tuple[int, str, str]:
        return (self.line, self.field or "", self.message)

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line > 0 else file
        what = f"{self.field}: {self.message}" if self.field else self.message
        return f"{where}: {what} [{self.code}]"


# -- the table and the format -----------------------------------------------------------------


def resolve_table(spec: Spec, name: str) -> TableSpec:
    """A table by schema name (`execution_logs`) or SQL name (`memory_execution_logs`)."""
    found = spec.find_table(name)
    if found is not None:
        return found
    known = sorted(spec.tables)
    hint = suggest(name, known + sorted(t.table for t in spec.tables.values()))
    raise LoadError(
        f"unknown table '{name}'{hint} (known tables: {', '.join(known)})",
        BAD_INPUT,
        of_file=False,
    )


def file_format(path: Path, given: str | None) -> str:
    if given is not None:
        if given.lower() not in FORMATS:
            raise LoadError(
                f"unknown format '{given}': use one of {', '.join(FORMAT_NAMES)}",
                BAD_INPUT,
                of_file=False,
            )
        return FORMATS[given.lower()]
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return FORMATS[suffix]
    raise LoadError(
        "cannot tell the format from the file name: use --format "
        f"({'|'.join(FORMAT_NAMES)}) or name it .jsonl, .ndjson, .csv, .yaml or .yml",
        BAD_INPUT,
    )


# -- reading: records with their line numbers ---------------------------------------------------

# A record that could not be parsed at all: only its problems are known.
UNPARSED: Any = object()


@dataclass(slots=True)
class Record:
    """One row of the file as parsed, before validation. `issues` are parse problems as
    (field or None, message); a field named there is left out of `raw`."""

    line: int
    raw: Any
    issues: list[tuple[str | None, str]] | None = None


def _json_message(exc: orjson.JSONDecodeError) -> str:
    return f"not valid JSON: {exc.msg} (column {exc.colno})"


def _jsonl_records(handle: IO[bytes]) -> Iterator[Record]:
    loads = orjson.loads
    for number, line in enumerate(handle, start=1):
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            yield Record(number, loads(line))
        except orjson.JSONDecodeError as exc:
            if line.strip():
                yield Record(number, UNPARSED, [(None, _json_message(exc))])


class _CellError(ValueError):
    pass


def _text_cell(cell: str) -> Any:
    return cell


def _integer_cell(cell: str) -> Any:
    # Anything else goes to the validator as text, which says what it expected.
    return int(cell) if _INTEGER.fullmatch(cell) else cell


def _float_cell(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell


def _bool_cell(cell: str) -> Any:
    lowered = cell.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return cell


def _json_cell(cell: str) -> Any:
    try:
        return orjson.loads(cell)
    except orjson.JSONDecodeError as exc:
        raise _CellError(_json_message(exc)) from None


_CELLS: dict[FieldType, Callable[[str], Any]] = {
    FieldType.INT: _integer_cell,
    FieldType.BIGINT: _integer_cell,
    FieldType.FLOAT: _float_cell,
    FieldType.BOOL: _bool_cell,
    FieldType.JSON: _json_cell,
    FieldType.LIST: _json_cell,
}


def csv_header(cells: list[str], table: TableSpec, line: int) -> list[FieldSpec]:
    """The fields a CSV header names, or LoadError naming the first wrong column."""
    names = [c.strip() for c in cells]
    allowed = {f.name: f for f in table.writable_fields}
    example = ",".join(list(allowed)[:4])
    if not any(n in allowed for n in names):
        raise LoadError(
            f"the first line is not a header: a CSV file starts with a row of {table.type_name} "
            f"field names, e.g. {example}",
            line=line,
        )
    seen: set[str] = set()
    fields: list[FieldSpec] = []
    for column, name in enumerate(names, start=1):
        if not name:
            raise LoadError(f"column {column} of the header has no name", line=line)
        if name in seen:
            raise LoadError(f"the header names column '{name}' twice", line=line)
        seen.add(name)
        if name in allowed:
            fields.append(allowed[name])
        elif name in table.server_fields:
            raise LoadError(
                f"column '{name}' is set by the server and cannot be loaded; remove it", line=line
            )
        else:
            raise LoadError(
                f"unknown column '{name}': {table.type_name} has no field '{name}'"
                f"{suggest(name, allowed)}",
                line=line,
            )
    return fields


def _csv_records(handle: IO[str], table: TableSpec) -> Iterator[Record]:
    """Rows of a CSV file; a record's line is the physical line it starts on."""
    # A text cell may be long (a stack trace, a document): the default limit is 128 KiB.
    csv.field_size_limit(max(csv.field_size_limit(), CSV_CELL_LIMIT))
    reader = csv.reader(handle)
    converters: list[tuple[str, Callable[[str], Any]]] | None = None
    previous = 0
    try:
        for cells in reader:
            line, previous = previous + 1, reader.line_num
            if not cells:
                continue
            if converters is None:
                fields = csv_header(cells, table, line)
                converters = [(f.name, _CELLS.get(f.type, _text_cell)) for f in fields]
                continue
            if len(cells) != len(converters):
                message = f"has {len(cells)} cells; the header names {len(converters)} columns"
                yield Record(line, UNPARSED, [(None, message)])
                continue
            raw: dict[str, Any] = {}
            issues: list[tuple[str | None, str]] | None = None
            for (name, convert), cell in zip(converters, cells, strict=True):
                if cell == "":
                    raw[name] = None
                    continue
                try:
                    raw[name] = convert(cell)
                except _CellError as exc:
                    issues = [*(issues or []), (name, str(exc))]
            yield Record(line, raw, issues)
    except csv.Error as exc:
        raise LoadError(f"not valid CSV: {exc}", line=reader.line_num) from None


def _duplicate_keys(node: Any) -> list[tuple[str | None, str]] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    seen: set[str] = set()
    issues: list[tuple[str | None, str]] = []
    for key, _value in node.value:
        if isinstance(key, yaml.ScalarNode):
            if key.value in seen:
                issues.append((key.value, f"is given twice (line {key.start_mark.line + 1})"))
            seen.add(key.value)
    return issues or None


def _utc_timestamps(value: Any) -> Any:
    """YAML timestamps without an offset are UTC (YAML 1.1; so are the spec's defaults)."""
    if isinstance(value, dict):
        for name, item in value.items():
            if isinstance(item, dt.datetime) and item.tzinfo is None:
                value[name] = item.replace(tzinfo=dt.UTC)
    return value


def _yaml_error(exc: yaml.YAMLError) -> LoadError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 0
    problem = getattr(exc, "problem", None) or str(exc)
    return LoadError(f"not valid YAML: {problem}", line=line)


def _yaml_records(handle: IO[str]) -> Iterator[Record]:
    """The items of a YAML list of mappings, composed and built one at a time."""
    # PyYAML's stubs leave the event API untyped.
    loader: Any = yaml.SafeLoader(handle)
    try:
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return
        start = loader.get_event()  # document start
        if not loader.check_event(yaml.SequenceStartEvent):
            node = loader.compose_node(None, None)
            if loader.construct_document(node) is None:
                return  # an empty document
            raise LoadError(
                "a YAML file of rows is one list of mappings (- field: value)",
                line=start.start_mark.line + 1,
            )
        loader.get_event()
        while not loader.check_event(yaml.SequenceEndEvent):
            node = loader.compose_node(None, None)
            line = node.start_mark.line + 1
            issues = _duplicate_keys(node)
            try:
                value = loader.construct_document(node)
            except yaml.constructor.ConstructorError as exc:
                yield Record(line, UNPARSED, [(None, f"not a value: {exc.problem}")])
                continue
            yield Record(line, _utc_timestamps(value), issues)
        loader.get_event()  # sequence end
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            extra = loader.peek_event()
            raise LoadError(
                "a YAML file of rows holds one document (one list); this one has more",
                line=extra.start_mark.line + 1,
            )
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    finally:
        loader.dispose()


class Source(AbstractContextManager["Source"]):
    """An open file of rows: its records in file order, and how far reading has got."""

    def __init__(self, path: Path, table: TableSpec, fmt: str | None = None) -> None:
        self.path = path
        if not path.exists():
            raise LoadError("no such file", BAD_INPUT)
        if path.is_dir():
            raise LoadError("is a folder, not a file", BAD_INPUT)
        self.format = file_format(path, fmt)
        self._stack = ExitStack()
        try:
            self._binary = self._stack.enter_context(path.open("rb"))
        except OSError as exc:
            raise LoadError(f"cannot read the file: {exc.strerror}", BAD_INPUT) from None
        self.size = max(1, path.stat().st_size)
        self._generator = records = self._records(table)
        try:
            first = next(records, None)
        except BaseException:
            self.close()
            raise
        if first is None:
            self.close()
            raise LoadError("no rows: the file holds no records; nothing was loaded")
        self.records: Iterator[Record] = itertools.chain([first], records)

    def _records(self, table: TableSpec) -> Iterator[Record]:
        if self.format == "jsonl":
            yield from _jsonl_records(self._binary)
            return
        text = io.TextIOWrapper(self._binary, encoding="utf-8-sig", newline="")
        try:
            if self.format == "csv":
                yield from _csv_records(text, table)
            else:
                yield from _yaml_records(text)
        except UnicodeDecodeError as exc:
            raise LoadError(f"not UTF-8 text: {exc.reason} near byte {self.position()}") from None
        finally:
            text.detach()

    def position(self) -> int:
        """Bytes read so far (the reader buffers ahead a little)."""
        try:
            return self._binary.tell()
        except ValueError:  # closed
            return self.size

    def close(self) -> None:
        generator = getattr(self, "_generator", None)
        if generator is not None:
            generator.close()  # its text wrapper lets go of the file before the file closes
        self._stack.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- writing: batches ---------------------------------------------------------------------------


@dataclass
class Batch:
    """Valid rows waiting to be written, with their lines and natural keys (no key twice).
    For an upsert, `given` holds the fields each row names: those are what it updates."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    keys: dict[Any, int] = field(default_factory=dict)
    given: list[frozenset[str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def groups(self) -> list[tuple[frozenset[str], Batch]]:
        """The rows by the set of fields they give (an upsert updates each set at once)."""
        groups: dict[frozenset[str], Batch] = {}
        for row, line, given in zip(self.rows, self.lines, self.given, strict=True):
            group = groups.setdefault(given, Batch())
            group.rows.append(row)
            group.lines.append(line)
        return list(groups.items())


@dataclass(frozen=True)
class Conflict:
    """A unique value the database refused: after the rollback the loader finds out whether
    the table held it or the file gives it twice."""

    problem: LineProblem
    field: str
    value: Any


class Refused(Exception):
    """The database refused a batch: the load stops and rolls back."""

    def __init__(self, problems: Sequence[LineProblem], conflicts: Sequence[Conflict] = ()) -> None:
        super().__init__(problems[0].message if problems else "refused")
        self.problems = list(problems)
        self.conflicts = list(conflicts)


class Sink(Protocol):
    """Where valid rows go. `add` sees each row as it joins the batch, `write` the complete
    batch; either may raise Refused. `abort` drops a half-written batch (the load is failing
    and will roll back)."""

    def add(self, row: dict[str, Any], given: frozenset[str]) -> None: ...

    def write(self, batch: Batch) -> None: ...

    def finish(self) -> None:
        """After the last batch, before the commit."""

    def abort(self) -> None: ...


def protected_values(spec: Spec, table: TableSpec) -> list[str]:
    """Fields of `table`, other than its key, that relations with an on_delete rule point at:
    an update of them must not leave links dangling (graph/sql/write.py)."""
    return sorted({rel.to_field for rel in spec.rules_to(table) if rel.to_field != table.key})


def _spec_name(table: TableSpec, name: str | int) -> str:
    """A field named in a Writer problem (GraphQL's camelCase) by its spec name."""
    for f in table.fields:
        if name in (f.gql_name, f.name):
            return f.name
    return str(name)


def _line_problems(
    table: TableSpec, batch: Batch, problems: Sequence[Problem], message: str, code: str
) -> list[LineProblem]:
    """Problems a write reported at `("rows", i, field)`, at the lines of the file."""
    result: list[LineProblem] = []
    for problem in problems:
        path = problem.path
        index = next((p for p in path if isinstance(p, int)), None)
        line = batch.lines[index] if index is not None and index < len(batch.lines) else 0
        names = [p for p in path if isinstance(p, str) and p != "rows"]
        name = _spec_name(table, names[-1]) if names else None
        result.append(LineProblem(line, name, problem.message, code))
    # No row named: the batch as a whole (line 0 prints as the file alone).
    return result or [LineProblem(0, None, message, code)]


class LinkChecks:
    """`Writer.check_links` for a batch in hand, its problems at the lines of the file."""

    def __init__(self, conn: Connection, compiler: Compiler, table: TableSpec) -> None:
        self.writer = Writer(conn, compiler)
        self.table = table

    def check(self, batch: Batch) -> None:
        paths = [("rows", i) for i in range(len(batch.rows))]
        try:
            self.writer.check_links(self.table, batch.rows, paths)
        except WriteError as exc:
            found = _line_problems(self.table, batch, exc.problems, exc.message, exc.code)
            raise Refused(sorted(found, key=LineProblem.sort_key)) from None


class OpsSink:
    """Batches through `WriteOps.insert`: every check a GraphQL insert makes, on any database."""

    def __init__(
        self, conn: Connection, compiler: Compiler, ops: WriteOps, table: TableSpec, upsert: bool
    ) -> None:
        self.conn = conn
        self.compiler = compiler
        self.ops = ops
        self.table = table
        self.upsert = upsert

    def add(self, row: dict[str, Any], given: frozenset[str]) -> None:
        return None

    def write(self, batch: Batch) -> None:
        if not self.upsert:
            self._insert(batch, None)
            return
        for given, group in batch.groups():
            self._insert(group, sorted(given - {self.table.key}))

    def _insert(self, batch: Batch, update: list[str] | None) -> None:
        try:
            self.ops.insert(
                self.conn,
                self.compiler,
                self.table.name,
                batch.rows,
                names=FieldNames.spec,
                update=update,
                path=("rows",),
                limit_rows=False,
            )
        except WriteError as exc:
            problems = _line_problems(self.table, batch, exc.problems, exc.message, exc.code)
            conflicts = []
            if exc.code == "CONFLICT":
                conflicts = [
                    Conflict(p, p.field, batch.rows[batch.lines.index(p.line)].get(p.field))
                    for p in problems
                    if p.field and p.line in batch.lines and self.table.has_field(p.field)
                ]
            raise Refused(problems, conflicts) from None
        except UserInputError as exc:  # the rows were validated already: a bug if it happens
            given: Sequence[Problem] = getattr(exc, "problems", ())
            raise Refused(_line_problems(self.table, batch, given, exc.message, exc.code)) from None
        except (IntegrityError, DataError) as exc:
            reason = str(exc.orig).strip().splitlines()[0]
            raise Refused([LineProblem(batch.lines[0], None, reason, REFUSED)]) from None

    def finish(self) -> None:
        return None  # WriteOps.insert kept the rollups batch by batch

    def abort(self) -> None:
        return None


class CopySink:
    """Batches through PostgreSQL COPY, after the same validation.

    Each row is sent as soon as it is validated, in a COPY that stays open until the batch is
    complete: the database inserts while the file is still being read and checked, with no
    thread. Conflicts come from the table's unique indexes (the error names the COPY line, so
    the file line); links are checked by `LinkChecks` once the batch is in. An upsert COPYs
    into a temporary table and MERGEs it into the table at the end of each batch.
    """

    STAGE = "grace_load_stage"
    # The stage's columns saying which fields a row gives (and whether any besides the key):
    # no spec field name has a space.
    GIVEN = '"grace load given"'
    CHANGES = '"grace load changes"'

    def __init__(
        self,
        conn: Connection,
        compiler: Compiler,
        table: TableSpec,
        columns: list[str],
        upsert: bool,
    ) -> None:
        self.driver = cast("psycopg.Connection[Any]", conn.connection.driver_connection)
        self.table = table
        self.columns = columns
        self.upsert = upsert
        self.links = LinkChecks(conn, compiler, table)
        self.conn = conn
        self.compiler = compiler
        # Parents whose rollups count the loaded rows, recounted once before the commit.
        self.parents: dict[str, set[int]] = {}
        self.json_at = [k for k, c in enumerate(columns) if table.field(c).type is FieldType.JSON]
        quote = conn.dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        self.target = quote(table.table)
        self.copy_sql = f"COPY {self.target} ({names}) FROM STDIN"
        self.key_at = columns.index(table.key)
        self.open: ExitStack | None = None
        self.copy: psycopg.Copy | None = None
        # What the server said while the batch streamed; reported when the batch ends.
        self.broken: psycopg.Error | None = None
        if upsert:
            self.copy_sql = f"COPY {self.STAGE} ({names}, {self.GIVEN}, {self.CHANGES}) FROM STDIN"
            self.merge = self._merge(quote, names)
            self._run(
                f"CREATE TEMPORARY TABLE {self.STAGE} ON COMMIT DROP AS "
                f"SELECT {names}, ARRAY[]::boolean[] AS {self.GIVEN}, "
                f"false AS {self.CHANGES} FROM {self.target} WITH NO DATA"
            )

    def _run(self, sql: str | bytes) -> None:
        try:
            with self.driver.cursor() as cursor:
                cursor.execute(sql)
        except psycopg.OperationalError as exc:
            raise ServiceUnavailableError(f"the database is unavailable: {exc}") from None

    def add(self, row: dict[str, Any], given: frozenset[str]) -> None:
        if self.broken is not None:
            return
        values = [row.get(c) for c in self.columns]
        for k in self.json_at:
            if values[k] is not None:
                values[k] = orjson.dumps(values[k]).decode()
        if self.upsert:
            values.append([c in given for c in self.columns])
            values.append(any(c in given for c in self.columns if c != self.table.key))
        try:
            if self.copy is None:
                if self.upsert:
                    self._run(f"TRUNCATE {self.STAGE}")
                self.open = ExitStack()
                cursor = self.open.enter_context(self.driver.cursor())
                self.copy = self.open.enter_context(cursor.copy(self.copy_sql))
            self.copy.write_row(values)
        except psycopg.OperationalError as exc:
            raise ServiceUnavailableError(f"the database is unavailable: {exc}") from None
        except psycopg.Error as exc:
            self.broken = exc
            self.abort()

    def write(self, batch: Batch) -> None:
        """Ends the batch's COPY (and merges it, for an upsert), then checks its links."""
        try:
            finishing = self.open
            self.copy = self.open = None
            if self.broken is not None:
                raise self.broken
            if finishing is not None:
                finishing.close()
            if self.upsert:
                with self.driver.cursor() as cursor:
                    cursor.execute(self.merge)
        except psycopg.OperationalError as exc:
            raise ServiceUnavailableError(f"the database is unavailable: {exc}") from None
        except psycopg.Error as exc:
            raise self._refused(batch, exc) from None
        self.links.check(batch)
        if not self.upsert:
            counted = rollups.parents_of(self.conn, self.compiler, self.table, batch.rows)
            for name, ids in counted.items():
                self.parents.setdefault(name, set()).update(ids)

    def finish(self) -> None:
        """Recount the rollups the load changed. An upsert may have moved existing rows from
        one parent to another, and their old links are not at hand: every parent of the
        tables that count this one is recounted then."""
        if self.upsert:
            for name in rollups.counting_tables(self.compiler.spec, self.table):
                sql_table = self.compiler.catalog.table(name)
                found = self.conn.execute(select(sql_table.c.id)).scalars()
                self.parents[name] = {int(i) for i in found}
        for name, ids in self.parents.items():
            rollups.refresh(self.conn, self.compiler, self.compiler.spec.table(name), ids)

    def abort(self) -> None:
        stopping = self.open
        self.copy = self.open = None
        if stopping is not None:
            # Ending the COPY with an error makes the server drop it; the load rolls back.
            with suppress(psycopg.Error):
                stopping.__exit__(Refused, Refused([]), None)

    def _merge(self, quote: Callable[[str], str], names: str) -> bytes:
        """One MERGE per batch (PostgreSQL 15): new keys are inserted, existing rows take the
        fields their line gives; a row that gives only its key leaves the existing one be."""
        key = quote(self.table.key)
        updates = ", ".join(
            f"{quote(c)} = CASE WHEN s.{self.GIVEN}[{k}] THEN s.{quote(c)} ELSE t.{quote(c)} END"
            for k, c in enumerate(self.columns, start=1)
            if c != self.table.key
        )
        values = ", ".join(f"s.{quote(c)}" for c in self.columns)
        return (
            f"MERGE INTO {self.target} AS t USING {self.STAGE} AS s ON t.{key} = s.{key} "
            f"WHEN MATCHED AND s.{self.CHANGES} THEN UPDATE SET {updates} "
            f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
        ).encode()

    def _refused(self, batch: Batch, exc: psycopg.Error) -> Refused:
        diag = exc.diag
        primary = (diag.message_primary or str(exc)).strip()
        found = _COPY_LINE.search(diag.context or "")
        index = int(found.group(1)) - 1 if found and not self.upsert else None
        unique = _UNIQUE_DETAIL.search(diag.message_detail or "")
        if exc.sqlstate == "23505" and unique is not None:
            column, text = unique.group("column"), unique.group("value")
            if index is None:  # the merge: find the row by its value
                index = next(
                    (i for i, r in enumerate(batch.rows) if str(r.get(column)) == text), None
                )
            line = batch.lines[index] if index is not None and index < len(batch) else 0
            value = batch.rows[index].get(column) if index is not None else text
            problem = LineProblem(line, column, f"{value!r} already exists", "CONFLICT")
            conflicts = [Conflict(problem, column, value)] if index is not None else []
            return Refused([problem], conflicts)
        line = batch.lines[index] if index is not None and 0 <= index < len(batch) else 0
        return Refused(
            [LineProblem(line, None, f"the database refused the row: {primary}", REFUSED)]
        )


# -- the load -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadOptions:
    upsert: bool = False
    skip_invalid: bool = False
    batch_size: int = DEFAULT_BATCH
    progress: bool = False
    # "auto": COPY on PostgreSQL unless the table has an audit chain; "ops": WriteOps always.
    method: str = "auto"


@dataclass
class LoadReport:
    """What a load did; `ok` when it committed."""

    table: TableSpec
    file: str
    ok: bool = False
    loaded: int = 0
    records: int = 0
    bad_rows: int = 0
    problem_count: int = 0
    problems: list[LineProblem] = field(default_factory=list)
    refused: bool = False
    seconds: float = 0.0
    method: str = ""

    def add(self, problem: LineProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)

    def problem_lines(self) -> list[str]:
        lines = [p.render(self.file) for p in sorted(self.problems, key=LineProblem.sort_key)]
        rest = self.problem_count - len(self.problems)
        if rest > 0:
            lines.append(f"... and {rest:,} more problem{'s' if rest != 1 else ''}")
        return lines

    def summary(self) -> str:
        if self.ok:
            rate = self.loaded / self.seconds if self.seconds > 0 else 0.0
            text = (
                f"loaded {self.loaded:,} row{'s' if self.loaded != 1 else ''} into "
                f"{self.table.table} in {self.seconds:.1f} s ({rate:,.0f} rows/s)"
            )
            if self.bad_rows:
                text += (
                    f"; skipped {self.bad_rows:,} invalid row{'s' if self.bad_rows != 1 else ''}"
                )
            return text
        if self.refused:
            return (
                f"the database refused the rows ({self.problem_count:,} "
                f"problem{'s' if self.problem_count != 1 else ''}); nothing was loaded"
            )
        if self.bad_rows:
            return (
                f"{self.bad_rows:,} of {self.records:,} rows are invalid "
                f"({self.problem_count:,} problem{'s' if self.problem_count != 1 else ''}); "
                "nothing was loaded"
            )
        return "nothing was loaded"


class _Progress(AbstractContextManager["_Progress"]):
    """A rich progress bar on stderr over the bytes of the file; nothing when disabled."""

    def __init__(self, enabled: bool, source: Source, table: str) -> None:
        self.source = source
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        if enabled:
            self.progress = Progress(
                TextColumn(f"loading {table}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rows]:>12,} rows"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self.task = self.progress.add_task("load", total=source.size, rows=0)

    def __enter__(self) -> _Progress:
        if self.progress is not None:
            self.progress.start()
        return self

    def update(self, rows: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=self.source.position(), rows=rows)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.progress is not None:
            self.progress.stop()


class Loader:
    """One load: reads, validates and writes the file (module docstring)."""

    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        settings: Settings,
        table: TableSpec,
        source: Source,
        options: LoadOptions,
        file: str,
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.settings = settings
        self.table = table
        self.source = source
        self.options = options
        self.report = LoadReport(table, file)
        self.validator = RowValidator(table, FieldNames.spec(table))
        self.columns = [f.name for f in table.writable_fields]
        self.failing = False
        self.conflicts: list[Conflict] = []
        # One frozenset per distinct set of given fields, shared by the rows that give it.
        self.given: dict[frozenset[str], frozenset[str]] = {}

    # -- the parts of one pass ----------------------------------------------------------

    def _sink(self, conn: Connection) -> Sink:
        compiler = Compiler(self.catalog, conn.dialect.name)
        copy = (
            self.options.method != "ops"
            and conn.dialect.name == "postgresql"
            and self.table.audit_chain is None
            # MERGE does not run the checks that protect values other rows link to.
            and not (self.options.upsert and protected_values(self.catalog.spec, self.table))
        )
        if copy:
            self.report.method = "copy"
            return CopySink(conn, compiler, self.table, self.columns, self.options.upsert)
        self.report.method = "ops"
        ops = WriteOps(self.catalog.spec, self.settings)
        return OpsSink(conn, compiler, ops, self.table, self.options.upsert)

    def _problems(self, record: Record) -> list[LineProblem]:
        """Every problem of one record; its row is `self.row`."""
        problems: list[LineProblem] = []
        skipped: set[str] = set()
        for name, message in record.issues or ():
            problems.append(LineProblem(record.line, name, message, BAD_INPUT))
            if name is not None:
                skipped.add(name)
        if record.raw is UNPARSED:
            self.row: dict[str, Any] = {}
            return problems
        found = self.validator.problems
        self.row = self.validator.row(record.raw, ())
        if found:
            for problem in found:
                name = str(problem.path[0]) if problem.path else None
                if name in skipped:
                    continue  # the parse problem of this field says it already
                problems.append(LineProblem(record.line, name, problem.message, BAD_INPUT))
            found.clear()
        return problems

    def _fail(self, sink: Sink) -> None:
        """Stop writing: the rest of the file is only validated, and the load rolls back."""
        if not self.failing:
            self.failing = True
            sink.abort()

    def _refuse(self, sink: Sink, refused: Refused) -> None:
        self._fail(sink)
        self.report.refused = True
        for problem in refused.problems:
            self.report.add(problem)
        self.conflicts.extend(refused.conflicts[: MAX_LISTED - len(self.conflicts)])

    def _flush(self, sink: Sink, batch: Batch) -> Batch:
        if batch.rows and not self.failing:
            try:
                sink.write(batch)
                self.report.loaded += len(batch)
            except Refused as refused:
                self._refuse(sink, refused)
        return Batch()

    def _add(self, sink: Sink, batch: Batch, row: dict[str, Any], record: Record) -> Batch:
        line = record.line
        key = comparable(row.get(self.table.key))
        if self.options.upsert and key in batch.keys:
            # A key given again is applied after the first, as the file orders them.
            batch = self._flush(sink, batch)
        elif key in batch.keys:
            problem = LineProblem(
                line,
                self.table.key,
                f"{row[self.table.key]!r} is also given at line {batch.keys[key]}",
                "CONFLICT",
            )
            self._refuse(sink, Refused([problem]))
            return batch
        given: frozenset[str] = frozenset()
        if self.options.upsert:
            given = frozenset(record.raw)
            given = self.given.setdefault(given, given)
            batch.given.append(given)
        batch.rows.append(row)
        batch.lines.append(line)
        batch.keys[key] = line
        try:
            sink.add(row, given)
        except Refused as refused:
            self._refuse(sink, refused)
            return batch
        if len(batch) >= self.options.batch_size:
            batch = self._flush(sink, batch)
        return batch

    def _read(self, sink: Sink, progress: _Progress) -> None:
        report, skip = self.report, self.options.skip_invalid
        batch = Batch()
        try:
            for count, record in enumerate(self.source.records, start=1):
                report.records = count
                if count % PROGRESS_STEP == 0:
                    progress.update(count)
                problems = self._problems(record)
                if problems:
                    report.bad_rows += 1
                    for problem in problems:
                        report.add(problem)
                    if not skip:
                        self._fail(sink)
                    continue
                if not self.failing:
                    batch = self._add(sink, batch, self.row, record)
        except LoadError as exc:
            self._fail(sink)
            report.add(LineProblem(exc.line, None, exc.message, exc.code))
        progress.update(report.records)
        if not self.failing:
            self._flush(sink, batch)

    def _explain_conflicts(self, conn: Connection) -> None:
        """After the rollback: was a refused value in the table, or twice in the file?"""
        if not self.conflicts:
            return
        sql_table = self.catalog.table(self.table.name)
        explained: dict[LineProblem, LineProblem] = {}
        for conflict in self.conflicts:
            column = sql_table.c[conflict.field]
            stmt = select(column).where(column == conflict.value).limit(1)
            exists = conn.execute(stmt).first() is not None
            where = (
                f"a row with this value already exists in {self.table.table}"
                if exists
                else "the file gives this value on an earlier line too"
            )
            old = conflict.problem
            explained[old] = LineProblem(
                old.line, old.field, f"{conflict.value!r}: {where}", old.code
            )
        self.report.problems = [explained.get(p, p) for p in self.report.problems]
        conn.rollback()

    def run(self) -> LoadReport:
        started = time.perf_counter()
        writer = write_engine(self.engine)
        with writer.connect() as conn:
            exists = self.engine.dialect.has_table(conn, self.table.table)
            conn.rollback()
            if not exists:
                raise LoadError(
                    f"table {self.table.table} does not exist; run grace-graph init",
                    "MISSING_TABLE",
                    of_file=False,
                )
            transaction = conn.begin()
            sink: Sink | None = None
            try:
                with _Progress(self.options.progress, self.source, self.table.table) as bar:
                    sink = self._sink(conn)
                    self._read(sink, bar)
                if not self.failing and self.report.loaded == 0:
                    self.failing = True  # every row was skipped
                if self.failing:
                    self.report.loaded = 0
                    transaction.rollback()
                    self._explain_conflicts(conn)
                else:
                    sink.finish()
                    transaction.commit()
                    self.report.ok = True
            except BaseException:
                if sink is not None:
                    with suppress(Exception):  # the first failure is the one to report
                        sink.abort()
                if transaction.is_active:
                    transaction.rollback()
                raise
        self.report.seconds = time.perf_counter() - started
        return self.report


def load(
    engine: Engine,
    catalog: Catalog,
    settings: Settings,
    table: TableSpec,
    source: Source,
    options: LoadOptions,
    file: str | None = None,
) -> LoadReport:
    """Load `source` into `table` in one transaction; the report says what happened.

    LoadError for a missing table or a file that cannot be read at all; SQLAlchemy's
    OperationalError or ServiceUnavailableError when the database cannot be reached.
    """
    if options.batch_size < 1:
        raise LoadError(
            f"--batch-size must be 1 or more, not {options.batch_size}", BAD_INPUT, of_file=False
        )
    if options.upsert and table.append_only:
        raise LoadError(
            f"{table.plural} are append-only: an upsert could change existing rows",
            "APPEND_ONLY",
            of_file=False,
        )
    loader = Loader(engine, catalog, settings, table, source, options, file or str(source.path))
    try:
        return loader.run()
    except ProgrammingError as exc:
        reason = str(exc.orig).strip().splitlines()[0]
        raise LoadError(
            f"the database refused the load: {reason}", REFUSED, of_file=False
        ) from None
