"""A kept statement's rows read straight from the driver, as SQLAlchemy would have read them.

A connection's page (graph/gql/compiled_connection.py) is several rows, not one JSON text:
each row's nodes, and the values its cursor is encoded from. Those values must come back
through SQLAlchemy's types (a datetime made timezone-aware in UTC by graph/sql/types.py,
say): a cursor is the reference path's text only so. To run such a statement on the event
loop (graph/sql/async_reader.py), as a prepared operation's, the first run through
SQLAlchemy keeps what it sent the driver (graph/sql/statement_cache.py `recording`) and each
column's result processor, looked up by the type the database said the column has; a later
run applies them to the driver's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, Dialect, Select

from graph.sql.statement_cache import DriverStatement

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class DriverRows:
    """A statement as the driver was given it, its columns' names, and what SQLAlchemy does
    to each column's values (None: nothing)."""

    statement: DriverStatement
    columns: tuple[str, ...]
    processors: tuple[Processor | None, ...]

    @classmethod
    def recorded(
        cls,
        sent: Sequence[DriverStatement],
        statement: Select[Any],
        result: CursorResult[Any],
        dialect: Dialect,
    ) -> DriverRows | None:
        """How to read again the rows of `statement`, which sent `sent` and answered `result`
        (before its rows are fetched); None when that is not known for sure: not exactly one
        statement sent, or columns that are not the statement's."""
        description = result.cursor.description if result.cursor is not None else None
        selected = list(statement.selected_columns)
        if len(sent) != 1 or description is None or len(description) != len(selected):
            return None
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(selected, description, strict=True)
        )
        return cls(sent[0], tuple(result.keys()), processors)

    def mappings(self, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """The driver's rows as SQLAlchemy's mappings of them hold them."""
        columns, processors = self.columns, self.processors
        return [
            {
                name: value if process is None else process(value)
                for name, process, value in zip(columns, processors, row, strict=True)
            }
            for row in rows
        ]
