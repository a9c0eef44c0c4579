"""The one way to write: GraphQL mutations, the Python registry and `grace-graph load` call these.

Each operation validates everything it was given (graph/rows.py), refuses the whole write on
any problem, and only then runs the statements (graph/sql/write.py), all on the caller's
connection inside the caller's transaction: a refused write leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from graph.errors import AppendOnlyError, Path, Problem, UserInputError, WriteLimitError
from graph.plan import BoolOp, Filter
from graph.rows import FieldNames, RowValidator
from graph.settings import Settings
from graph.spec.model import Spec, TableSpec
from graph.sql.compile import Compiler
from graph.sql.write import Writer

Names = Callable[[TableSpec], FieldNames]


def _matches_everything(where: Filter | None) -> bool:
    return where is None or (isinstance(where, BoolOp) and where.kind == "and" and not where.items)


@dataclass(frozen=True)
class WriteOps:
    """Validated writes of one spec, with the limits of one server or registry."""

    spec: Spec
    settings: Settings

    def _table(self, name: str) -> TableSpec:
        return self.spec.table(name)

    def _row_limit(self, count: int, what: str, path: Path) -> None:
        limit = self.settings.max_write_rows
        if count > limit:
            raise WriteLimitError(
                f"{count} {what} is more than one write may hold ({limit}, "
                "GRAPH_MAX_WRITE_ROWS); split it, or use `grace-graph load` for files",
                [Problem(path, f"at most {limit}")],
            )

    def insert(
        self,
        conn: Connection,
        compiler: Compiler,
        table_name: str,
        rows: Sequence[Any],
        *,
        names: Names,
        update: Sequence[Any] | None = None,
        path: Path = ("rows",),
        update_path: Path = ("onConflict", "update"),
        now: dt.datetime | None = None,
        limit_rows: bool = True,
    ) -> list[int]:
        """Insert `rows` (all or none); with `update`, upsert on the natural key."""
        table = self._table(table_name)
        if limit_rows:
            self._row_limit(len(rows), "rows", path)
        validator = RowValidator(table, names(table))
        valid = validator.rows(rows, path)
        upsert = None
        if update is not None:
            if table.append_only:
                raise AppendOnlyError(
                    f"{table.plural} are append-only: an upsert could change existing rows"
                )
            upsert = validator.update_fields(update, update_path)
        validator.raise_problems()
        paths = [(*path, i) for i in range(len(valid))]
        writer = Writer(conn, compiler)
        return writer.insert(table, valid, paths, now=now or compiler.ctx.now, upsert=upsert)

    def _at_most(
        self, table: TableSpec, where: Filter | None, at_most: int | None
    ) -> tuple[int, str | None]:
        if at_most is not None and at_most < 0:
            raise UserInputError(f"must be 0 or more, not {at_most}", ("atMost",))
        if at_most is None:
            if _matches_everything(where):
                raise UserInputError(
                    f"this filter matches every {table.type_name}; pass atMost to confirm "
                    "how many rows may change",
                    ("where",),
                )
            limit = self.settings.max_write_rows
            return limit, f"the write limit {limit} (no atMost given)"
        self._row_limit(at_most, "rows (atMost)", ("atMost",))
        return at_most, None

    def update(
        self,
        conn: Connection,
        compiler: Compiler,
        table_name: str,
        where: Filter | None,
        changes: Any,
        at_most: int | None,
        *,
        names: Names,
    ) -> list[int]:
        """Change the rows `where` selects; none if more than `at_most` match."""
        table = self._table(table_name)
        if table.append_only:
            raise AppendOnlyError(f"{table.plural} are append-only: rows cannot be changed")
        validator = RowValidator(table, names(table))
        values = validator.changes(changes, ("set",))
        validator.raise_problems()
        limit, bound = self._at_most(table, where, at_most)
        writer = Writer(conn, compiler)
        ids = writer.matching_ids(table, where, limit, bound)
        writer.update(table, ids, values)
        return ids

    def delete_matching(
        self,
        conn: Connection,
        compiler: Compiler,
        table_name: str,
        where: Filter | None,
        at_most: int | None,
    ) -> tuple[Writer, list[int]]:
        """Lock the rows a delete would remove; the caller may read them, then `delete`."""
        table = self._table(table_name)
        if table.append_only:
            raise AppendOnlyError(f"{table.plural} are append-only: rows cannot be deleted")
        limit, bound = self._at_most(table, where, at_most)
        writer = Writer(conn, compiler)
        return writer, writer.matching_ids(table, where, limit, bound)

    def delete(self, writer: Writer, table_name: str, ids: list[int]) -> None:
        writer.delete(self._table(table_name), ids)
