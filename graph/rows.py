"""Validation of the values a client writes, from the spec alone: no SQL, no GraphQL.

GraphQL mutations, the Python registry and `grace-graph load` all hand their rows here first, so
the three accept and refuse exactly the same values with the same messages. Every problem of a
request is collected before anything is written and reported together (`RowErrors`), each with
its path: `rows[3].trustScore: 1.7 is above the maximum 1`.

Values come in two dialects:

- *Python*: the values GraphQL has already coerced (datetime, date, int, enum members) or that a
  Python caller passes;
- *text*: what a file holds (JSON Lines, YAML, CSV): datetimes, dates and big integers may be
  strings in their documented forms. Both are accepted wherever the type allows no confusion.

The database's own constraints (NOT NULL, CHECK, UNIQUE) stay as the last line behind this.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

from graph.errors import Path, Problem, UserInputError, listed
from graph.naming import suggest
from graph.spec.model import BIGINT_MAX, BIGINT_MIN, FieldSpec, FieldType, TableSpec
from graph.texts import TextValueError, parse_bigint, parse_date, parse_datetime

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Deeper JSON is almost always an attack or a bug, and recursion in every layer pays for it.
MAX_JSON_DEPTH = 64
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# Control characters other than tab, newline and carriage return have no place in a key.
_KEY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RowErrors(UserInputError):
    """Every invalid value of one write, at once (BAD_USER_INPUT)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        super().__init__(f"{count} invalid value{'s' if count != 1 else ''}: {listed(problems)}")


class InvalidValue(ValueError):
    """Why one value cannot be written to one field."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_text(value: str) -> None:
    """Text both databases store alike: PostgreSQL refuses NUL, and lone surrogates cannot be
    encoded as UTF-8 at all (SQLite would keep what PostgreSQL refuses)."""
    if "\x00" in value:
        raise InvalidValue("text cannot hold the NUL character (\\u0000)")
    if value.isascii():  # the common case, and no surrogate can hide in it
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue("text holds a lone surrogate, which is not Unicode text") from None


def _number_bounds(field: FieldSpec, number: float) -> None:
    if field.min is not None and number < field.min:
        raise InvalidValue(f"{_number(number)} is below the minimum {_number(field.min)}")
    if field.max is not None and number > field.max:
        raise InvalidValue(f"{_number(number)} is above the maximum {_number(field.max)}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(value)


def _whole(value: Any, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"expected a whole number ({what}), not {_shown(value)}")
    if not low <= value <= high:
        raise InvalidValue(f"{value} is outside the range of {what}")
    return value


def _bigint(value: Any) -> int:
    if isinstance(value, str):
        try:
            return parse_bigint(value)
        except TextValueError as exc:
            raise InvalidValue(str(exc)) from None
    return _whole(value, BIGINT_MIN, BIGINT_MAX, "a 64-bit integer")


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"expected a number, not {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidValue(f"{value} is too large for a float") from None
    if not math.isfinite(number):
        raise InvalidValue(f"{number} is not a finite number")
    return number


# The shapes most text datetimes have (what the API itself writes, and offsets), told by one
# regular expression and parsed by the C parser. Anything else goes through the API's own
# parser, which explains what is wrong.
_CANONICAL_DATETIME = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)",
    re.ASCII,
)


def _fast_datetime(text: str) -> dt.datetime | None:
    """`YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)` by the C parser; None for any other
    shape (the API's parser then decides, and explains). The C parser alone would also take
    week dates, ordinal dates and offset minutes of 60 and more, which the API does not."""
    if _CANONICAL_DATETIME.fullmatch(text) is None:
        return None
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, str):
        fast = _fast_datetime(value)
        if fast is not None:
            return fast
        try:
            return parse_datetime(value)
        except TextValueError as exc:
            raise InvalidValue(str(exc)) from None
    if not isinstance(value, dt.datetime):
        raise InvalidValue(f"expected a date and time, not {_shown(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue("a datetime needs a time zone (e.g. UTC); this one has none")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidValue("the instant in UTC is outside years 1 to 9999") from None


def _date(value: Any) -> dt.date:
    if isinstance(value, str):
        try:
            return parse_date(value)
        except TextValueError as exc:
            raise InvalidValue(str(exc)) from None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise InvalidValue(f"expected a date, not {_shown(value)}")
    return value


def _text(field: FieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"expected text, not {_shown(value)}")
    check_text(value)
    if field.max_length is not None and len(value) > field.max_length:
        raise InvalidValue(
            f"{len(value)} characters is longer than the maximum length {field.max_length}"
        )
    return value


def _uuid(value: Any) -> str:
    text = str(value) if isinstance(value, uuid.UUID) else value
    if not isinstance(text, str) or not _UUID.fullmatch(text):
        raise InvalidValue(
            f"expected a UUID such as 0b3a4c52-8f1e-4c1a-9d3e-2f6b7a8c9d01, not {_shown(value)}"
        )
    # One stored form, so equality and links never depend on how a writer spelled it.
    return text.lower()


def _enum(field: FieldSpec, value: Any) -> str:
    stored = value.value if isinstance(value, Enum) else value
    if not isinstance(stored, str) or stored not in field.values:
        raise InvalidValue(f"{_shown(stored)} is not one of {', '.join(field.values)}")
    return stored


def json_value(value: Any, depth: int = 0) -> Any:
    """A JSON document both databases store alike (and that orjson can send back).

    A document of plain dicts and lists (what JSON parsers and GraphQL hand over) is checked
    in place and returned as it is; tuples and other mappings are copied into lists and dicts.
    """
    if _plain_json(value, depth):
        return value
    return _copied_json(value, depth)


def _json_scalar(value: Any) -> bool:
    """Whether `value` is a JSON scalar (checked); False for anything else."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        if not BIGINT_MIN <= value <= BIGINT_MAX:
            raise InvalidValue(f"the JSON number {value} is outside 64 bits")
        return True
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValue("NaN and infinity are not JSON values")
        return True
    if isinstance(value, str):
        check_text(value)
        return True
    return False


def _plain_json(value: Any, depth: int) -> bool:
    """Check a document in place; False when part of it must be converted (a tuple...)."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidValue(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidValue(f"JSON object keys are text, not {_shown(key)}")
            check_text(key)
            if not _plain_json(item, depth + 1):
                return False
        return True
    if kind is list:
        return all(_plain_json(item, depth + 1) for item in value)
    if _json_scalar(value):
        return True
    if isinstance(value, list | tuple | Mapping):
        return False
    raise InvalidValue(f"{_shown(value)} is not a JSON value")


def _copied_json(value: Any, depth: int) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise InvalidValue(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
    if _json_scalar(value):
        return value
    if isinstance(value, list | tuple):
        return [_copied_json(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidValue(f"JSON object keys are text, not {_shown(key)}")
            check_text(key)
            result[key] = _copied_json(item, depth + 1)
        return result
    raise InvalidValue(f"{_shown(value)} is not a JSON value")


def _json(value: Any) -> Any:
    if not isinstance(value, Mapping | list | tuple):
        raise InvalidValue(f"expected a JSON object or array, not {_shown(value)}")
    return json_value(value)


def _element(of: FieldType, value: Any) -> Any:
    if value is None:
        raise InvalidValue("a list cannot hold null")
    element = FieldSpec("item", of, "", _NO_POS)
    return _SCALARS[of](element, value)


def _list(field: FieldSpec, value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise InvalidValue(f"expected a list, not {_shown(value)}")
    assert field.of is not None
    result = []
    for i, item in enumerate(value):
        try:
            result.append(_element(field.of, item))
        except InvalidValue as exc:
            raise InvalidValue(f"item {i}: {exc}") from None
    return result


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"expected true or false, not {_shown(value)}")
    return value


def _int(field: FieldSpec, value: Any) -> int:
    number = _whole(value, INT_MIN, INT_MAX, "a 32-bit integer")
    _number_bounds(field, number)
    return number


def _big(field: FieldSpec, value: Any) -> int:
    number = _bigint(value)
    _number_bounds(field, number)
    return number


def _real(field: FieldSpec, value: Any) -> float:
    number = _float(value)
    _number_bounds(field, number)
    return number


_SCALARS: dict[FieldType, Callable[[FieldSpec, Any], Any]] = {
    FieldType.STRING: _text,
    FieldType.TEXT: _text,
    FieldType.UUID: lambda f, v: _uuid(v),
    FieldType.INT: _int,
    FieldType.BIGINT: _big,
    FieldType.FLOAT: _real,
    FieldType.BOOL: lambda f, v: _bool(v),
    FieldType.DATE: lambda f, v: _date(v),
    FieldType.DATETIME: lambda f, v: _datetime(v),
    FieldType.JSON: lambda f, v: _json(v),
    FieldType.LIST: _list,
    FieldType.ENUM: _enum,
}


class _NoPos:
    path, line, column = "", 0, 0


_NO_POS: Any = _NoPos()


def coerce_value(field: FieldSpec, value: Any) -> Any:
    """The value as it is stored, or InvalidValue saying why it cannot be (null not allowed
    here: callers decide what null means)."""
    return _SCALARS[field.type](field, value)


def check_key(table: TableSpec, value: Any) -> None:
    """A natural key names a row in URLs, logs and links: no blank, padded or control text."""
    if not isinstance(value, str):
        return
    if not value.strip():
        raise InvalidValue(f"the key {table.key_field.name} cannot be blank")
    if value != value.strip():
        raise InvalidValue("a key cannot start or end with white space")
    if _KEY_CONTROL.search(value) or "\n" in value or "\r" in value or "\t" in value:
        raise InvalidValue("a key cannot hold control characters")


# -- the fast path -------------------------------------------------------------------------
#
# A bulk load checks millions of values, nearly all of them plain and valid. For each field a
# fast check accepts the common valid forms with a few C-level tests and returns the value as
# the full check above would store it; anything else (None, non-ASCII text, strings for
# numbers, Enum members, lists, any invalid value) it hands back as SLOW, and the full check
# decides and explains. So the full check stays the one definition of what is valid:
# tests/test_rows.py checks that the fast path never accepts what the full check refuses, nor
# stores anything differently.

SLOW: Any = object()
FastCheck = Callable[[Any], Any]


def _fast_text(field: FieldSpec, is_key: bool) -> FastCheck:
    longest = field.max_length

    def check(value: Any) -> Any:
        # ASCII holds no lone surrogate; printable ASCII holds no control character (NUL
        # included), which a key refuses and other text accepts but NUL.
        if type(value) is not str or not value.isascii():
            return SLOW
        if longest is not None and len(value) > longest:
            return SLOW
        if is_key:
            if not value.isprintable() or not value or value[0] == " " or value[-1] == " ":
                return SLOW
        elif "\x00" in value:
            return SLOW
        return value

    return check


def _fast_number(field: FieldSpec, kind: type, low: float, high: float) -> FastCheck:
    if field.min is not None:
        low = max(low, field.min)
    if field.max is not None:
        high = min(high, field.max)

    def check(value: Any) -> Any:
        # `type(...) is`: bool is an int subclass, and an int given for a float is converted
        # by the full check.
        if type(value) is not kind:
            return SLOW
        number = cast(float, value)
        return number if low <= number <= high else SLOW

    return check


def _fast_enum(field: FieldSpec) -> FastCheck:
    members = frozenset(field.values)

    def check(value: Any) -> Any:
        return value if type(value) is str and value in members else SLOW

    return check


def _fast_bool(value: Any) -> Any:
    return value if type(value) is bool else SLOW


def _fast_datetime_text(value: Any) -> Any:
    if type(value) is str:
        parsed = _fast_datetime(value)
        if parsed is not None:
            return parsed
    return SLOW


def _fast_json(value: Any) -> Any:
    if type(value) is dict or type(value) is list:
        try:
            if _plain_json(value, 0):
                return value
        except InvalidValue:
            pass  # the full check says why
    return SLOW


def fast_check(table: TableSpec, field: FieldSpec) -> FastCheck | None:
    """The fast check of one writable field (see above); None where there is none."""
    kind = field.type
    if kind in (FieldType.STRING, FieldType.TEXT):
        return _fast_text(field, field.name == table.key)
    if kind is FieldType.INT:
        return _fast_number(field, int, INT_MIN, INT_MAX)
    if kind is FieldType.BIGINT:
        return _fast_number(field, int, BIGINT_MIN, BIGINT_MAX)
    if kind is FieldType.FLOAT:
        # NaN fails every comparison, and infinity is beyond any bound given; without bounds
        # the full check refuses both.
        return (
            _fast_number(field, float, -math.inf, math.inf)
            if field.min is not None and (field.max is not None)
            else None
        )
    if kind is FieldType.ENUM:
        return _fast_enum(field)
    if kind is FieldType.BOOL:
        return _fast_bool
    if kind is FieldType.DATETIME:
        return _fast_datetime_text
    if kind is FieldType.JSON:
        return _fast_json
    return None


@dataclass(frozen=True)
class FieldNames:
    """How one caller names fields: GraphQL's camelCase, or the spec's snake_case."""

    by_name: Mapping[str, FieldSpec]
    shown: Callable[[FieldSpec], str]

    @classmethod
    def api(cls, table: TableSpec) -> FieldNames:
        return cls({f.gql_name: f for f in table.read_fields}, lambda f: f.gql_name)

    @classmethod
    def spec(cls, table: TableSpec) -> FieldNames:
        return cls({f.name: f for f in table.read_fields}, lambda f: f.name)


class RowValidator:
    """Checks rows and `set` values of one table; collects problems rather than stopping."""

    def __init__(self, table: TableSpec, names: FieldNames) -> None:
        self.table = table
        self.names = names
        # Fields the server fills itself (the audit stamp, rollups) are no more writable
        # than `id`.
        self.server_fields = table.server_fields
        self.problems: list[Problem] = []
        # Worked out once: rows are checked by the million in a bulk load.
        self._writable = table.writable_fields
        self._fields = {n: f for n, f in names.by_name.items() if f.name not in self.server_fields}
        self._coercers = {f.name: _SCALARS[f.type] for f in self._writable}
        # Fields a row that leaves them out needs filled (a default) or reported (required).
        self._needed = [
            (f, f.default is not None, f.required or f.name == table.key)
            for f in self._writable
            if f.default is not None or f.required or f.name == table.key
        ]
        # By the caller's name: the stored name and the fast check (module comment above).
        self._fast: dict[str, tuple[str, FastCheck]] = {}
        for name, f in self._fields.items():
            check = fast_check(table, f)
            if check is not None:
                self._fast[name] = (f.name, check)

    def _problem(self, path: Path, message: str) -> None:
        self.problems.append(Problem(path, message))

    def _field(self, name: Any, path: Path) -> FieldSpec | None:
        field = self.names.by_name.get(name) if isinstance(name, str) else None
        if field is None:
            writable = [self.names.shown(f) for f in self._writable]
            hint = suggest(name, writable) if isinstance(name, str) else ""
            self._problem(path, f"{self.table.type_name} has no field {name!r}{hint}")
            return None
        if field.name in self.server_fields:
            if field.computed is not None:
                what = "computed by the database when read"
            elif field.name in {r.field for r in self.table.rollups}:
                what = "kept by the server from linked rows"
            else:
                what = "set by the server"
            self._problem(path, f"is {what} and cannot be written")
            return None
        return field

    def _value(self, field: FieldSpec, value: Any, path: Path, name: Any) -> Any:
        """The stored form of one given value; `path + (name,)` names it in a problem (built
        only then)."""
        if value is None:
            if field.required or field.name == self.table.key:
                self._problem((*path, name), "is required and cannot be null")
            return None
        try:
            stored = self._coercers[field.name](field, value)
            if field.name == self.table.key:
                check_key(self.table, stored)
        except InvalidValue as exc:
            self._problem((*path, name), str(exc))
            return None
        return stored

    def row(self, raw: Any, path: Path) -> dict[str, Any]:
        """One row to insert: given values checked, defaults filled, required ones present."""
        if not isinstance(raw, Mapping):
            self._problem(path, f"a row is an object of field values, not {_shown(raw)}")
            return {}
        values: dict[str, Any] = {}
        fast = self._fast
        for name, value in raw.items():
            known = fast.get(name)
            if known is not None:
                stored = known[1](value)
                if stored is not SLOW:
                    values[known[0]] = stored
                    continue
            field = self._fields.get(name)
            if field is None:
                field = self._field(name, (*path, name))  # reports why
            if field is not None:
                values[field.name] = self._value(field, value, path, name)
        for field, has_default, required in self._needed:
            if field.name in values:
                continue
            if has_default:
                values[field.name] = _default(field)
            elif required:
                self._problem((*path, self.names.shown(field)), "is required")
        return values

    def rows(self, raw: Iterable[Any], path: Path) -> list[dict[str, Any]]:
        return [self.row(item, (*path, i)) for i, item in enumerate(raw)]

    def changes(self, raw: Any, path: Path) -> dict[str, Any]:
        """The `set` of an update: only the given fields, each checked; never empty."""
        if not isinstance(raw, Mapping) or not raw:
            self._problem(path, "name at least one field to change")
            return {}
        values: dict[str, Any] = {}
        for name, value in raw.items():
            field = self._field(name, (*path, name))
            if field is not None:
                values[field.name] = self._value(field, value, path, name)
        return values

    def update_fields(self, raw: Any, path: Path) -> tuple[str, ...]:
        """The fields an upsert takes from the new row when its natural key exists already."""
        if not isinstance(raw, list | tuple):
            self._problem(path, "name the fields to update, e.g. [successRate]")
            return ()
        result: list[str] = []
        for i, name in enumerate(raw):
            plain = name.value if isinstance(name, Enum) else name
            field = self._field(plain, (*path, i))
            if field is None:
                continue
            if field.name == self.table.key:
                self._problem((*path, i), "the natural key is what an upsert matches on")
                continue
            result.append(field.name)
        return tuple(dict.fromkeys(result))

    def raise_problems(self) -> None:
        if self.problems:
            raise RowErrors(self.problems)


def _default(field: FieldSpec) -> Any:
    value = field.default
    if isinstance(value, dict | list):
        return copy.deepcopy(value)  # a fresh copy per row: callers may change it
    if field.type is FieldType.DATETIME and isinstance(value, dt.datetime):
        # YAML timestamps without an offset are UTC, as everywhere in the spec.
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    return value
