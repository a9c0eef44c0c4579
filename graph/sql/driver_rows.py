"""A statement's rows read straight from the driver, as SQLAlchemy would have read them.

A connection's page (graph/gql/compiled_connection.py) is several rows, not one JSON text:
each row's nodes, and the values its cursor is encoded from. Those values must come back
through SQLAlchemy's types (an instant of a cursor is read from PostgreSQL's text as a
datetime, `infinity` or an instant beyond the years 1..9999 by graph/sql/types.py): a cursor
is the reference path's text only so. To run such a statement's driver text on the event loop
(graph/sql/async_reader.py), as a list's, the first run through SQLAlchemy keeps, with the
text (graph/sql/driver_template.py), each column's result processor, looked up by the type
the database said the column has; a later run applies them to the driver's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, Dialect, Select

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class RowReader:
    """A statement's columns' names, and what SQLAlchemy does to each column's values (None:
    nothing)."""

    columns: tuple[str, ...]
    processors: tuple[Processor | None, ...]

    @classmethod
    def of(
        cls, statement: Select[Any], result: CursorResult[Any], dialect: Dialect
    ) -> RowReader | None:
        """How to read the rows of `statement`, which answered `result` (before its rows are
        fetched); None when that is not known for sure (columns that are not the
        statement's)."""
        description = result.cursor.description if result.cursor is not None else None
        selected = list(statement.selected_columns)
        if description is None or len(description) != len(selected):
            return None
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(selected, description, strict=True)
        )
        return cls(tuple(result.keys()), processors)

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
