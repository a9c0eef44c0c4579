"""A compiled PostgreSQL statement's constants written into its text; its Slots stay parameters.

Why: PostgreSQL runs a statement psycopg prepared (after a few runs of the same text) with
either one plan for all parameter values (generic) or a plan made again at every run for the
values given (custom), and keeps making custom plans unless the generic one is estimated as
cheap. A response statement binds dozens of values that never vary for its cache key: enum
names and their API names, limits and offsets, the time zone, patterns. As parameters they
have to be parsed at every run, and a `LIMIT $29` makes the generic plan look expensive (its
row count is unknown), so Q1 of bench/ was planned again at every run: 0.72 of its 3.1 ms in
PostgreSQL. Written into the text, they are what they are at planning; only the Slots
(graph/sql/slots.py: the comparison values a cached statement serves for every request) stay
parameters, and PostgreSQL chooses between its plans on that alone.

Only what a literal writes exactly as the parameter would bind it is written in:

- a placeholder followed by a cast (`%(param_1)s::VARCHAR`): SQLAlchemy's psycopg dialect casts
  every typed parameter, so the literal gets the parameter's type whatever its own;
- a string without a backslash (`standard_conforming_strings` decides what a backslash in a
  literal means; nothing else in it depends on a setting), its quotes doubled and its `%`
  doubled for psycopg's placeholder syntax;
- an integer within 64 bits (a negative one in parentheses: `-5::INTEGER` would cast 5
  before negating it), a boolean, a null.

Anything else (floats, instants, lists, JSON documents) stays a parameter.

A statement kept for the same Read, values included (the compiled path's exact cache, and so
the prepared operations of graph/gql/prepared.py), has its Slots' values written in as well.
With no parameter left, PostgreSQL plans it once per connection, for those very values, and
runs that plan every time: what a custom plan would be, without planning at every run (Q2 of
bench/: 0.4 ms of its 1.6 ms in PostgreSQL went to planning again).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from graph.spec.model import BIGINT_MAX, BIGINT_MIN

# The name graph/sql/slots.py gives every Slot's parameter.
SLOT_PREFIX = "slot_"
# A psycopg named placeholder directly followed by a cast.
_CAST_PLACEHOLDER = re.compile(r"%\((\w+)\)s(?=::)")
_UNCAST_PLACEHOLDER = re.compile(r"%\((\w+)\)s(?!::)")


def with_constants_inlined(sql: str, parameters: Any, slots: bool = False) -> tuple[str, Any]:
    """`sql` with every constant parameter that can be written as a literal written in, and
    the parameters left (the Slots, and constants no literal writes exactly). With `slots`,
    the Slots' values too: for a statement kept to answer the same values again. Parameters
    not given by name (a tuple) are left as they are."""
    if not isinstance(parameters, dict):
        return sql, parameters
    # Typed: True and 1 are equal keys to the cache below, and are written otherwise.
    constants = tuple(
        (name, type(value), value)
        for name, value in parameters.items()
        if (slots or not name.startswith(SLOT_PREFIX)) and _writable(value)
    )
    if not constants:
        return sql, parameters
    # A statement kept for its values is rewritten once: its values would only crowd out
    # the templates' rewrites, which recur at every request.
    rewrite = _inlined.__wrapped__ if slots else _inlined
    text, written = rewrite(sql, constants)
    left = {name: value for name, value in parameters.items() if name not in written}
    return text, left


@lru_cache(maxsize=1024)
def _inlined(sql: str, constants: tuple[tuple[str, type, Any], ...]) -> tuple[str, frozenset[str]]:
    """The text with the cast placeholders of `constants` (name, type, value) written as
    literals, and the names written. Kept: a statement built from a cached template is
    rewritten the same way at every request."""
    values = {name: value for name, _, value in constants}
    written: set[str] = set()

    def literal(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        written.add(name)
        return _literal(values[name])

    text = _CAST_PLACEHOLDER.sub(literal, sql)
    # A name also used without a cast stays a parameter there, and so must stay given. (Read
    # in the text before: a literal just written may hold what looks like a placeholder.)
    used_uncast = {match.group(1) for match in _UNCAST_PLACEHOLDER.finditer(sql)}
    return text, frozenset(written - used_uncast)


def _writable(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return BIGINT_MIN <= value <= BIGINT_MAX
    if isinstance(value, str):
        return "\\" not in value and "\0" not in value
    return False


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value >= 0 else f"({value})"
    text: str = value
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"
