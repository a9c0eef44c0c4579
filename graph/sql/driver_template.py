"""A template statement (graph/sql/slots.py) kept as the driver was given it, for other values.

A statement kept by its Read with Slots serves every request that differs from the one that
built it only in comparison values: a dashboard's other status, another day, another key.
Run through SQLAlchemy, each such request still pays for an execution context, the
processing of every parameter and, to keep the event loop free, a worker thread. Yet what
reaches the driver differs from one request to the next only in the Slots' parameters: the
text and the other parameters (on PostgreSQL the constants are written into the text,
graph/sql/inlined.py) are the same. So the first run's driver text and parameters are kept,
with each Slot's bind processor (what SQLAlchemy does to a value of the Slot's type before
the driver sees it: a datetime in UTC, say), and a later request binds its values through
those processors only. On PostgreSQL the statement then runs on the event loop
(graph/sql/async_reader.py), as a prepared operation does (graph/gql/prepared.py).

Not kept: a statement whose parameters are not named (SQLite's are positional), and one
whose Slot was expanded into one parameter per member (`in` and `nin`: the text depends on
the list's length).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Compiled, Dialect

from graph.sql.statement_cache import DriverStatement

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class DriverTemplate:
    """A template's driver text, its parameters other than the Slots', and each Slot's bind
    processor (None: the value goes to the driver as it is)."""

    sql: str
    constants: Mapping[str, Any]
    processors: Mapping[str, Processor | None]

    @classmethod
    def recorded(
        cls, sent: DriverStatement, compiled: Compiled | None, dialect: Dialect, slots: Any
    ) -> DriverTemplate | None:
        """The template of a statement that ran with the Slots' values `slots` (their names
        are what counts) and sent `sent`, compiled as `compiled`; None when the statement
        cannot be kept so (module docstring)."""
        parameters = sent.parameters
        if compiled is None or not isinstance(parameters, dict):
            return None
        binds = compiled.binds  # type: ignore[attr-defined]
        if not all(name in parameters and name in binds for name in slots):
            return None  # an expanded Slot (`in`): its members have names of their own
        processors = {
            name: binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in slots
        }
        constants = {name: value for name, value in parameters.items() if name not in slots}
        return cls(sent.sql, constants, processors)

    def bound(self, slots: Mapping[str, Any]) -> DriverStatement | None:
        """The statement for the Slots' values `slots`; None when they are not the Slots of
        this template (the statement is then built the usual way)."""
        if slots.keys() != self.processors.keys():
            return None
        parameters = dict(self.constants)
        for name, value in slots.items():
            process = self.processors[name]
            parameters[name] = value if process is None else process(value)
        return DriverStatement(self.sql, parameters)
