"""The model: the answer docs/api.md prescribes for a GraphQL document, computed in plain Python.

`Model.answer(document, variables)` parses the document (graphql-core's parser, nothing of the
engine), evaluates every root field over the decoded rows of tests/model/rows.py and returns the
expected `data`, or raises `BadUserInput` where the contract says the request is a
`BAD_USER_INPUT` error. Every rule below cites the part of docs/api.md it implements; where the
page is silent the comment says which literal reading was taken.

Cursors are opaque (docs/api.md "Pages"), so the model cannot write them: an expected cursor is
the `CURSOR` sentinel, and the walk of a connection tells the model where an `after` cursor
points (`after_positions`: response key -> number of rows already returned).
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    parse,
)
from graphql.utilities import value_from_ast_untyped

from graph.naming import connection_root_name
from graph.spec.model import FieldSpec, FieldType, RelationEnd, Spec, TableSpec
from tests.model.rows import Row, Tables

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
DEFAULT_PAGE = 100  # "limit (default 100, at most 1000)", also `first`
MAX_PAGE = 1000

Pred = Callable[[Row], bool]


class BadUserInput(Exception):
    """The contract says this request is a BAD_USER_INPUT error."""

    def __init__(self, path: list[str], message: str) -> None:
        super().__init__(f"{'.'.join(path)}: {message}")
        self.path = path


class ModelError(AssertionError):
    """The document asks for something the model (or the contract) does not cover: a test bug."""


class _Cursor:
    """Stands for an opaque cursor string in an expected answer."""

    def __repr__(self) -> str:
        return "<cursor>"


CURSOR = _Cursor()


# -- scalar input forms (docs/api.md "Scalars") -------------------------------------------------

DATETIME_INPUT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$"
)
DATE_INPUT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BIGINT_TEXT = re.compile(r"^-?\d+$")
# ISO 8601 durations as docs/api.md lists them: Y M W D, then T with H M S; letters in either
# case; at least one part, and a T must be followed by one.
DURATION = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$",
    re.IGNORECASE,
)


def parse_datetime(value: Any, path: list[str]) -> dt.datetime:
    """RFC 3339 with `Z` or an offset, 0 to 6 fractional digits; no offset is an error."""
    if not isinstance(value, str):
        raise BadUserInput(path, f"not a DateTime: {value!r}")
    match = DATETIME_INPUT.match(value)
    if not match:
        raise BadUserInput(path, f"malformed DateTime {value!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "").ljust(6, "0"))
    if offset == "Z":
        tz = dt.UTC
    else:
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    try:
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
    except ValueError as error:
        raise BadUserInput(path, f"malformed DateTime {value!r}: {error}") from None
    return moment.astimezone(dt.UTC)


def parse_date(value: Any, path: list[str]) -> dt.date:
    if not isinstance(value, str) or not DATE_INPUT.match(value):
        raise BadUserInput(path, f"malformed Date {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadUserInput(path, f"malformed Date {value!r}") from None


def parse_bigint(value: Any, path: list[str]) -> int:
    """A string of digits or a JSON integer, from -2^63 to 2^63-1."""
    if isinstance(value, bool):
        raise BadUserInput(path, f"not a BigInt: {value!r}")
    if isinstance(value, str) and BIGINT_TEXT.match(value):
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        raise BadUserInput(path, f"not a BigInt: {value!r}")
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise BadUserInput(path, f"BigInt out of range: {value!r}")
    return number


def parse_float(value: Any, path: list[str]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelError(f"{path}: not a Float: {value!r}")
    number = float(value)
    if not math.isfinite(number):  # "NaN and infinities cannot be given"
        raise BadUserInput(path, f"not a finite Float: {value!r}")
    return number


def check_json(value: Any, path: list[str]) -> Any:
    """Any JSON value, finite numbers only."""
    if isinstance(value, float) and not math.isfinite(value):
        raise BadUserInput(path, "JSON with a non-finite number")
    if isinstance(value, list):
        for item in value:
            check_json(item, path)
    elif isinstance(value, dict):
        for item in value.values():
            check_json(item, path)
    return value


@dataclass(frozen=True)
class Duration:
    months: int  # years count as 12 months: calendar arithmetic
    days: int  # weeks count as 7 days
    seconds: int  # hours, minutes, seconds

    @property
    def has_time(self) -> bool:
        return self.seconds != 0


def parse_duration(value: Any, path: list[str]) -> Duration:
    if not isinstance(value, str):
        raise ModelError(f"{path}: a duration must be a string, not {value!r}")
    match = DURATION.match(value)
    if not match:
        raise BadUserInput(path, f"malformed duration {value!r}")
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    has_time_part = "T" in value.upper()
    duration = Duration(
        months=years * 12 + months,
        days=weeks * 7 + days,
        seconds=hours * 3600 + minutes * 60 + seconds,
    )
    if has_time_part and not duration.has_time:
        # `P1DT0H`: the page does not say whether a zero time part makes a date duration
        # invalid; the generator never writes one, so the model refuses to guess.
        raise ModelError(f"{path}: a zero time part in {value!r} is not covered by the contract")
    return duration


def minus_months(moment: Any, months: int) -> Any:
    """Calendar months back: one month before 31 March is the last day of February."""
    if months == 0:
        return moment
    index = moment.year * 12 + (moment.month - 1) - months
    year, month0 = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


def window_start(now: dt.datetime, duration: Duration, path: list[str]) -> dt.datetime:
    # Months first, then days, then the time part (PostgreSQL's order for `now - interval`);
    # the page does not say which comes first when months and days are combined, and the
    # generator never combines them (see the report of the differential test).
    start: dt.datetime = minus_months(now, duration.months)
    start = start - dt.timedelta(days=duration.days, seconds=duration.seconds)
    if start < minus_months(now, 120):  # "at most ten years"
        raise BadUserInput(path, "a duration over ten years")
    return start


def date_window_start(today: dt.date, duration: Duration, path: list[str]) -> dt.date:
    if duration.has_time:  # "PT12H on a date field is a BAD_USER_INPUT error"
        raise BadUserInput(path, "a date duration must be whole days")
    start: dt.date = minus_months(today, duration.months) - dt.timedelta(days=duration.days)
    if start < minus_months(today, 120):
        raise BadUserInput(path, "a duration over ten years")
    return start


# -- like / ilike (docs/api.md "Strings") ---------------------------------------------------------


def like_regex(pattern: str, path: list[str]) -> re.Pattern[str]:
    """`%` any text, `_` one character, `\\` escapes the next character; the whole value."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 == len(pattern):
                raise BadUserInput(path, "a like pattern ends in a single backslash")
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


# -- JSON containment (docs/api.md "JSON fields": PostgreSQL's @>) -------------------------------


def _json_scalar_equal(a: Any, b: Any) -> bool:
    """Scalars: numbers by value (1 equals 1.0), strings exactly, `true` never equals 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return a is None and b is None


def json_contains(whole: Any, part: Any, top: bool = True) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            key in whole and json_contains(whole[key], value, top=False)
            for key, value in part.items()
        )
    if isinstance(part, list):
        return isinstance(whole, list) and all(
            any(json_contains(item, wanted, top=False) for item in whole) for wanted in part
        )
    if isinstance(whole, list):
        # Only at the top level does an array contain a scalar that is one of its elements.
        return top and any(_json_scalar_equal(item, part) for item in whole)
    if isinstance(whole, dict):
        return False
    return _json_scalar_equal(whole, part)


# -- output forms (docs/api.md "Scalars") ---------------------------------------------------------


def render_datetime(moment: dt.datetime) -> str:
    # isoformat, not strftime: "%Y" drops the zero padding of years before 1000 on glibc.
    utc = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def render_value(spec_field: FieldSpec, value: Any) -> Any:
    if value is None:
        return None
    kind = spec_field.type
    if kind is FieldType.BIGINT:
        return str(value)  # "a JSON string of decimal digits"
    if kind is FieldType.ENUM:
        return value.upper()
    if kind is FieldType.DATE:
        return value.isoformat()
    if kind is FieldType.DATETIME:
        return render_datetime(value)
    if kind is FieldType.LIST:
        if spec_field.of is FieldType.BIGINT:
            return [str(item) for item in value]
        return list(value)
    return value


# -- the model ---------------------------------------------------------------------------------


def find_member(table: TableSpec, name: str) -> FieldSpec | RelationEnd | None:
    """The field or relation end a GraphQL name stands for on this table's type."""
    for spec_field in table.fields:
        if spec_field.gql_name == name:
            return spec_field
    for end in table.relations:
        if end.gql_name == name:
            return end
    return None


def _direction(value: Any, path: list[str]) -> tuple[bool, bool]:
    """(ascending, nulls_first). Nulls count as larger than any value unless the direction says."""
    table = {
        "ASC": (True, False),
        "DESC": (False, True),
        "ASC_NULLS_FIRST": (True, True),
        "ASC_NULLS_LAST": (True, False),
        "DESC_NULLS_FIRST": (False, True),
        "DESC_NULLS_LAST": (False, False),
    }
    if value not in table:
        raise ModelError(f"{path}: not a sort direction: {value!r}")
    return table[value]


def _as_list(value: Any) -> list[Any]:
    """GraphQL input coercion: a single value where a list is expected is a list of one."""
    return value if isinstance(value, list) else [value]


def _given(value: Any) -> bool:
    return value is not None and value is not Undefined


@dataclass
class Model:
    spec: Spec
    tables: Tables
    now: dt.datetime
    _links: dict[tuple[str, str], dict[Any, list[Row]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._roots: dict[str, tuple[str, TableSpec]] = {}
        for table in self.spec.tables.values():
            self._roots[table.list_root] = ("list", table)
            self._roots[table.single_root] = ("lookup", table)
            self._roots[connection_root_name(table.list_root)] = ("connection", table)
        self._by_id = {name: {row["id"]: row for row in rows} for name, rows in self.tables.items()}

    # -- names ------------------------------------------------------------------------------------

    @staticmethod
    def _member(table: TableSpec, name: str) -> FieldSpec | RelationEnd | None:
        return find_member(table, name)

    # -- links (docs/api.md "Relation filters": what a row is linked to) --------------------------

    def linked(self, end: RelationEnd, row: Row) -> list[Row]:
        """The target rows linked to `row`, each once, in `id` order."""
        if any(row[name] != value for name, value in end.local_where):
            return []
        local = row[end.local_field]
        if local is None:  # "A null value links to nothing"
            return []
        index = self._link_index(end)
        keys = set(local) if end.list_side == "local" else {local}
        found = {id(target): target for key in keys for target in index.get(key, [])}
        return sorted(found.values(), key=lambda target: target["id"])

    def _link_index(self, end: RelationEnd) -> dict[Any, list[Row]]:
        """Target rows by the value (or each list element) of their remote column."""
        cache_key = (end.owner, end.name)
        if cache_key not in self._links:
            index: dict[Any, list[Row]] = {}
            for target in self.tables[end.target]:
                if any(target[name] != value for name, value in end.remote_where):
                    continue
                remote = target[end.remote_field]
                if remote is None:
                    continue
                # "a key listed twice in a list links once"
                values = set(remote) if end.list_side == "remote" else {remote}
                for value in values:
                    index.setdefault(value, []).append(target)
            self._links[cache_key] = index
        return self._links[cache_key]

    # -- filters (docs/api.md "What a filter means") ----------------------------------------------

    def compile_where(self, table: TableSpec, where: Any, path: list[str]) -> Pred:
        """A predicate that holds or does not: there is no "unknown"."""
        if not _given(where):
            return lambda row: True
        if not isinstance(where, dict):
            raise ModelError(f"{path}: a where must be an object, not {where!r}")
        preds: list[Pred] = []
        for key, value in where.items():
            if not _given(value):  # "An entry or a combinator given as null counts as not given"
                continue
            here = [*path, key]
            if key == "and":
                subs = [self.compile_where(table, w, here) for w in _as_list(value)]
                preds.append(lambda row, subs=subs: all(p(row) for p in subs))
            elif key == "or":
                subs = [self.compile_where(table, w, here) for w in _as_list(value)]
                preds.append(lambda row, subs=subs: any(p(row) for p in subs))
            elif key == "not":
                sub = self.compile_where(table, value, here)
                preds.append(lambda row, sub=sub: not sub(row))
            else:
                member = self._member(table, key)
                if isinstance(member, FieldSpec):
                    preds.append(self._compile_field(member, value, here))
                elif isinstance(member, RelationEnd):
                    preds.append(self._compile_relation(member, value, here))
                else:  # "unknown ... filter key" is a BAD_USER_INPUT error
                    raise BadUserInput(here, f"{table.type_name} has no filter {key!r}")
        return lambda row: all(p(row) for p in preds)

    def _compile_relation(self, end: RelationEnd, value: Any, path: list[str]) -> Pred:
        target = self.spec.table(end.target)
        if not end.many:
            # To-one: holds when a linked row matches (`playbook: {}`: when one exists).
            sub = self.compile_where(target, value, path)
            return lambda row: any(sub(t) for t in self.linked(end, row))
        if not isinstance(value, dict):
            raise ModelError(f"{path}: a to-many filter must be an object")
        preds: list[Pred] = []
        for quantifier, inner in value.items():
            if not _given(inner):
                continue
            sub = self.compile_where(target, inner, [*path, quantifier])
            if quantifier == "some":
                preds.append(lambda row, sub=sub: any(sub(t) for t in self.linked(end, row)))
            elif quantifier == "none":
                preds.append(lambda row, sub=sub: not any(sub(t) for t in self.linked(end, row)))
            elif quantifier == "every":  # true when there are none
                preds.append(lambda row, sub=sub: all(sub(t) for t in self.linked(end, row)))
            else:
                raise ModelError(f"{path}: unknown quantifier {quantifier!r}")
        return lambda row: all(p(row) for p in preds)

    def _compile_field(self, spec_field: FieldSpec, ops: Any, path: list[str]) -> Pred:
        if not isinstance(ops, dict):
            raise ModelError(f"{path}: operators must be an object")
        checks: list[Callable[[Any], bool]] = []
        wants_null: bool | None = None
        for op, arg in ops.items():
            here = [*path, op]
            if arg is Undefined:
                continue
            if arg is None:
                # "An operator given null is a BAD_USER_INPUT error" (isNull included: it is
                # one of the operators the table lists).
                raise BadUserInput(here, "an operator given null")
            if op == "isNull":
                if not isinstance(arg, bool):
                    raise ModelError(f"{here}: isNull takes a Boolean")
                wants_null = arg
            else:
                checks.append(self._operator(spec_field, op, arg, here))
        name = spec_field.name

        def pred(row: Row) -> bool:
            value = row[name]
            if value is None:
                # "An operator on a field that is null does not hold, whatever the operator.
                # Only isNull: true holds for a null field." No operator at all holds.
                return not checks and wants_null in (None, True)
            if wants_null is True:
                return False
            return all(check(value) for check in checks)

        return pred

    def _operator(
        self, spec_field: FieldSpec, op: str, arg: Any, path: list[str]
    ) -> Callable[[Any], bool]:
        kind = spec_field.type
        if kind is FieldType.LIST:
            return self._list_operator(spec_field, op, arg, path)
        if kind is FieldType.JSON:
            if op == "contains":
                wanted = check_json(arg, path)
                return lambda value: json_contains(value, wanted)
            if op == "hasKey":
                if not isinstance(arg, str):
                    raise ModelError(f"{path}: hasKey takes a String")
                # "holds when the value is an object with the top-level key"
                return lambda value: isinstance(value, dict) and arg in value
            raise ModelError(f"{path}: no JSON operator {op!r}")
        if op in ("withinLast", "olderThan"):
            return self._relative_time(spec_field, op, arg, path)
        if kind in (FieldType.STRING, FieldType.TEXT, FieldType.UUID):
            text_ops = self._text_operator(op, arg, path)
            if text_ops is not None:
                return text_ops
        allowed = {
            FieldType.STRING: "eq neq gt gte lt lte in nin",
            FieldType.TEXT: "eq neq gt gte lt lte in nin",
            FieldType.UUID: "eq neq gt gte lt lte in nin",
            FieldType.INT: "eq neq gt gte lt lte in nin",
            FieldType.BIGINT: "eq neq gt gte lt lte in nin",
            FieldType.FLOAT: "eq neq gt gte lt lte in nin",
            FieldType.BOOL: "eq neq",
            FieldType.ENUM: "eq neq in nin",
            FieldType.DATE: "eq neq gt gte lt lte in nin",
            FieldType.DATETIME: "eq neq gt gte lt lte in nin",
        }[kind].split()
        if op not in allowed:
            raise ModelError(f"{path}: {kind} fields have no operator {op!r}")
        convert = functools.partial(self._scalar_input, spec_field)
        if op in ("in", "nin"):
            values = [convert(item, [*path, str(i)]) for i, item in enumerate(_as_list(arg))]
            if op == "in":  # "in: [] holds for no row"
                return lambda value: any(value == v for v in values)
            # "nin holds when the field has a value and it is none of the values"
            return lambda value: all(value != v for v in values)
        wanted = convert(arg, path)
        compare: dict[str, Callable[[Any], bool]] = {
            "eq": lambda value: value == wanted,
            "neq": lambda value: value != wanted,
            "gt": lambda value: value > wanted,
            "gte": lambda value: value >= wanted,
            "lt": lambda value: value < wanted,
            "lte": lambda value: value <= wanted,
        }
        return compare[op]

    @staticmethod
    def _text_operator(op: str, arg: Any, path: list[str]) -> Callable[[Any], bool] | None:
        if op not in ("contains", "startsWith", "endsWith", "like", "ilike"):
            return None
        if not isinstance(arg, str):
            raise ModelError(f"{path}: {op} takes a String")
        if op == "contains":  # literal and case-sensitive: % _ \ are ordinary characters
            return lambda value: arg in value
        if op == "startsWith":
            return lambda value: value.startswith(arg)
        if op == "endsWith":
            return lambda value: value.endswith(arg)
        if op == "like":
            regex = like_regex(arg, path)
            return lambda value: regex.fullmatch(value) is not None
        # ilike: like after lower-casing both with Unicode's full lower-case mapping.
        regex = like_regex(arg.lower(), path)
        return lambda value: regex.fullmatch(value.lower()) is not None

    def _scalar_input(self, spec_field: FieldSpec, arg: Any, path: list[str]) -> Any:
        """An operator's argument, as a value comparable with the decoded column."""
        kind = spec_field.type
        if kind in (FieldType.STRING, FieldType.TEXT, FieldType.UUID):
            if not isinstance(arg, str):
                raise ModelError(f"{path}: expected a String, got {arg!r}")
            return arg
        if kind is FieldType.INT:
            if isinstance(arg, bool) or not isinstance(arg, int):
                raise ModelError(f"{path}: expected an Int, got {arg!r}")
            return arg
        if kind is FieldType.BIGINT:
            return parse_bigint(arg, path)
        if kind is FieldType.FLOAT:
            return parse_float(arg, path)
        if kind is FieldType.BOOL:
            if not isinstance(arg, bool):
                raise ModelError(f"{path}: expected a Boolean, got {arg!r}")
            return arg
        if kind is FieldType.ENUM:
            members = {value.upper(): value for value in spec_field.values}
            if arg not in members:
                raise BadUserInput(path, f"unknown enum value {arg!r}")
            return members[arg]
        if kind is FieldType.DATE:
            return parse_date(arg, path)
        if kind is FieldType.DATETIME:
            return parse_datetime(arg, path)
        raise ModelError(f"{path}: no scalar input for {kind}")

    def _relative_time(
        self, spec_field: FieldSpec, op: str, arg: Any, path: list[str]
    ) -> Callable[[Any], bool]:
        duration = parse_duration(arg, path)
        now = self.now.astimezone(dt.UTC)
        if spec_field.type is FieldType.DATETIME:
            start = window_start(now, duration, path)
            if op == "withinLast":  # from start up to now, both ends included
                return lambda value: start <= value <= now
            return lambda value: value < start
        if spec_field.type is FieldType.DATE:
            # Calendar days in UTC: today T; withinLast holds for T - d <= date <= T.
            today = now.date()
            day = date_window_start(today, duration, path)
            if op == "withinLast":
                return lambda value: day <= value <= today
            return lambda value: value < day
        raise ModelError(f"{path}: {op} on a {spec_field.type} field")

    def _list_operator(
        self, spec_field: FieldSpec, op: str, arg: Any, path: list[str]
    ) -> Callable[[Any], bool]:
        element = spec_field.of
        assert element is not None

        def convert(item: Any, where: list[str]) -> Any:
            if element is FieldType.BIGINT:
                return parse_bigint(item, where)
            if element is FieldType.FLOAT:
                return parse_float(item, where)
            if element is FieldType.INT and (isinstance(item, bool) or not isinstance(item, int)):
                raise ModelError(f"{where}: expected an Int")
            if element is FieldType.STRING and not isinstance(item, str):
                raise ModelError(f"{where}: expected a String")
            if element is FieldType.BOOL and not isinstance(item, bool):
                raise ModelError(f"{where}: expected a Boolean")
            return item

        def holds(value: list[Any], wanted: Any) -> bool:
            # Elements compare by value and type: True is not 1 in a list of Booleans.
            return any(type(item) is type(wanted) and item == wanted for item in value)

        if op == "includes":
            wanted = convert(arg, path)
            return lambda value: holds(value, wanted)
        if op in ("includesAny", "includesAll"):
            values = [convert(item, [*path, str(i)]) for i, item in enumerate(_as_list(arg))]
            if op == "includesAny":  # `includesAny: []` holds for no row
                return lambda value: any(holds(value, v) for v in values)
            # `includesAll: []` holds for every list that is not null, the empty list included
            return lambda value: all(holds(value, v) for v in values)
        raise ModelError(f"{path}: lists have no operator {op!r}")

    # -- ordering (docs/api.md "Ordering") --------------------------------------------------------

    def compile_order(
        self, table: TableSpec, order_by: Any, path: list[str]
    ) -> Callable[[list[Row]], list[Row]]:
        keys: list[tuple[Callable[[Row], Any], bool, bool]] = []
        if _given(order_by):
            for i, item in enumerate(_as_list(order_by)):
                keys.append(self._sort_key(table, item, [*path, str(i)]))

        def compare(a: Row, b: Row) -> int:
            for value_of, ascending, nulls_first in keys:
                x, y = value_of(a), value_of(b)
                if x is None and y is None:
                    continue
                if x is None or y is None:
                    first = (x is None) == nulls_first
                    return -1 if first else 1
                if x != y:
                    less = x < y
                    return (-1 if less else 1) if ascending else (1 if less else -1)
            # "Ties are broken by id, always ascending, whatever the directions of the keys"
            return (a["id"] > b["id"]) - (a["id"] < b["id"])

        return lambda rows: sorted(rows, key=functools.cmp_to_key(compare))

    def _sort_key(
        self, table: TableSpec, item: Any, path: list[str]
    ) -> tuple[Callable[[Row], Any], bool, bool]:
        if not isinstance(item, dict):
            raise ModelError(f"{path}: a sort key must be an object")
        named = {k: v for k, v in item.items() if _given(v)}
        if len(named) != 1:  # "each an object naming exactly one field"
            raise BadUserInput(path, f"a sort key must name exactly one field: {item!r}")
        ((name, direction),) = named.items()
        member = self._member(table, name)
        here = [*path, name]
        if isinstance(member, FieldSpec):
            if member.type in (FieldType.JSON, FieldType.LIST):
                raise ModelError(f"{here}: json and list fields do not sort")
            ascending, nulls_first = _direction(direction, here)
            return self._field_sort_value(member), ascending, nulls_first
        if isinstance(member, RelationEnd) and not member.many:
            # A to-one relation sorts by a field of the linked row; none sorts as null.
            inner, ascending, nulls_first = self._sort_key(
                self.spec.table(member.target), direction, here
            )

            def via(row: Row, end: RelationEnd = member) -> Any:
                linked = self.linked(end, row)
                return inner(linked[0]) if linked else None

            return via, ascending, nulls_first
        raise ModelError(f"{path}: {table.type_name} cannot sort by {name!r}")

    @staticmethod
    def _field_sort_value(spec_field: FieldSpec) -> Callable[[Row], Any]:
        name = spec_field.name
        if spec_field.type is FieldType.ENUM:
            # Enums sort in declared order, not alphabetically.
            order = {value: i for i, value in enumerate(spec_field.values)}
            return lambda row: None if row[name] is None else order[row[name]]
        if spec_field.type is FieldType.BOOL:
            return lambda row: None if row[name] is None else int(row[name])  # false < true
        # Strings by code point (Python's own str order), numbers by value, moments in time.
        return lambda row: row[name]

    # -- pages ------------------------------------------------------------------------------------

    @staticmethod
    def _page_size(value: Any, path: list[str]) -> int:
        if not _given(value):
            return DEFAULT_PAGE
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelError(f"{path}: a page size must be an Int")
        if value < 0 or value > MAX_PAGE:  # "a limit above the maximum or below 0"
            raise BadUserInput(path, f"page size {value} out of 0..{MAX_PAGE}")
        return value

    @staticmethod
    def _offset(value: Any, path: list[str]) -> int:
        if not _given(value):
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelError(f"{path}: an offset must be an Int")
        if value < 0:
            # The page names only limits below 0; a negative offset is as wrong a value.
            raise BadUserInput(path, f"offset {value} below 0")
        return value

    def _select_rows(
        self, table: TableSpec, rows: Iterable[Row], args: Mapping[str, Any], path: list[str]
    ) -> list[Row]:
        """Filter, then order: what a list, a connection and a to-many field share."""
        keep = self.compile_where(table, args.get("where"), [*path, "where"])
        order = self.compile_order(table, args.get("orderBy"), [*path, "orderBy"])
        return order([row for row in rows if keep(row)])

    def _list(
        self, table: TableSpec, rows: Iterable[Row], args: Mapping[str, Any], path: list[str]
    ) -> list[Row]:
        limit = self._page_size(args.get("limit"), [*path, "limit"])
        offset = self._offset(args.get("offset"), [*path, "offset"])
        selected = self._select_rows(table, rows, args, path)
        # "offset rows are skipped, then at most limit returned"
        return selected[offset : offset + limit]

    # -- documents --------------------------------------------------------------------------------

    def answer(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        after_positions: Mapping[str, int] | None = None,
    ) -> dict[str, Any]:
        """The expected `data` of the document, or BadUserInput."""
        tree: DocumentNode = parse(document)
        operations = [d for d in tree.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].operation.value != "query":
            raise ModelError("the model answers documents with exactly one query")
        operation = operations[0]
        values = dict(variables or {})
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in values and definition.default_value is not None:
                values[name] = value_from_ast_untyped(definition.default_value, values)
        context = _Context(values, dict(after_positions or {}))
        data: dict[str, Any] = {}
        for node in self._fields(operation.selection_set):
            key = node.alias.value if node.alias else node.name.value
            data[key] = self._root(node, key, context)
        return data

    @staticmethod
    def _fields(selection_set: SelectionSetNode | None) -> list[FieldNode]:
        if selection_set is None:
            raise ModelError("a selection set is missing")
        fields = []
        for selection in selection_set.selections:
            if not isinstance(selection, FieldNode):
                raise ModelError("the model does not evaluate fragments")
            fields.append(selection)
        return fields

    @staticmethod
    def _args(node: FieldNode, context: _Context) -> dict[str, Any]:
        args = {}
        for argument in node.arguments or ():
            value = value_from_ast_untyped(argument.value, context.variables)
            if value is not Undefined:
                args[argument.name.value] = _strip_undefined(value)
        return args

    def _root(self, node: FieldNode, key: str, context: _Context) -> Any:
        name = node.name.value
        if name == "__typename":
            return "Query"
        if name not in self._roots:
            raise ModelError(f"unknown root field {name!r}")
        kind, table = self._roots[name]
        args = self._args(node, context)
        path = [name]
        rows = self.tables[table.name]
        if kind == "list":
            return [
                self._render(table, row, node.selection_set, context)
                for row in self._list(table, rows, args, path)
            ]
        if kind == "lookup":
            found = self._lookup(table, args, path)
            return (
                None if found is None else self._render(table, found, node.selection_set, context)
            )
        return self._connection(table, rows, args, path, key, node, context)

    def _lookup(self, table: TableSpec, args: Mapping[str, Any], path: list[str]) -> Row | None:
        """By the natural key or by id, exactly one of them."""
        key_field = table.key_field
        given = {k: v for k, v in args.items() if _given(v)}
        if len(given) != 1:
            # "the natural key or id, exactly one": anything else is a wrong argument value.
            raise BadUserInput(path, "a lookup takes exactly one of its key and id")
        ((name, value),) = given.items()
        if name == "id":
            wanted = parse_bigint(value, [*path, "id"])
            return self._by_id[table.name].get(wanted)
        if name != key_field.gql_name:
            raise ModelError(f"{path}: {name!r} is not the key of {table.type_name}")
        bigint = key_field.type is FieldType.BIGINT
        wanted = parse_bigint(value, [*path, name]) if bigint else value
        for row in self.tables[table.name]:
            if row[key_field.name] == wanted:
                return row
        return None

    def _connection(
        self,
        table: TableSpec,
        rows: list[Row],
        args: Mapping[str, Any],
        path: list[str],
        key: str,
        node: FieldNode,
        context: _Context,
    ) -> dict[str, Any]:
        first = self._page_size(args.get("first"), [*path, "first"])
        selected = self._select_rows(table, rows, args, path)
        start = 0
        if _given(args.get("after")):
            if key not in context.after_positions:
                raise ModelError(f"{path}: the model needs to be told where `after` points")
            start = context.after_positions[key]
        page = selected[start : start + first]
        result: dict[str, Any] = {}
        for sub in self._fields(node.selection_set):
            sub_key = sub.alias.value if sub.alias else sub.name.value
            sub_name = sub.name.value
            if sub_name == "totalCount":  # every matching row, whatever the page
                result[sub_key] = len(selected)
            elif sub_name == "nodes":
                result[sub_key] = [self._render(table, r, sub.selection_set, context) for r in page]
            elif sub_name == "edges":
                result[sub_key] = [self._edge(table, r, sub, context) for r in page]
            elif sub_name == "pageInfo":
                result[sub_key] = self._page_info(sub, page, start + first < len(selected))
            elif sub_name == "__typename":
                result[sub_key] = f"{table.type_name}Connection"
            else:
                raise ModelError(f"{path}: connections have no field {sub_name!r}")
        return result

    def _edge(self, table: TableSpec, row: Row, node: FieldNode, context: _Context) -> Any:
        edge: dict[str, Any] = {}
        for sub in self._fields(node.selection_set):
            sub_key = sub.alias.value if sub.alias else sub.name.value
            if sub.name.value == "cursor":
                edge[sub_key] = CURSOR
            elif sub.name.value == "node":
                edge[sub_key] = self._render(table, row, sub.selection_set, context)
            elif sub.name.value == "__typename":
                edge[sub_key] = f"{table.type_name}Edge"
            else:
                raise ModelError(f"edges have no field {sub.name.value!r}")
        return edge

    def _page_info(self, node: FieldNode, page: list[Row], has_next: bool) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for sub in self._fields(node.selection_set):
            sub_key = sub.alias.value if sub.alias else sub.name.value
            name = sub.name.value
            if name == "hasNextPage":
                info[sub_key] = has_next
            elif name in ("endCursor", "startCursor"):
                # Silent in the page: no edge, no cursor (null); else the edge's cursor.
                info[sub_key] = CURSOR if page else None
            elif name == "__typename":
                info[sub_key] = "PageInfo"
            else:
                # hasPreviousPage: docs/api.md does not say what it is after a cursor.
                raise ModelError(f"pageInfo.{name} is not described by the contract")
        return info

    def _render(
        self, table: TableSpec, row: Row, selection: SelectionSetNode | None, context: _Context
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for node in self._fields(selection):
            key = node.alias.value if node.alias else node.name.value
            name = node.name.value
            if name == "__typename":
                out[key] = table.type_name
                continue
            member = self._member(table, name)
            if isinstance(member, FieldSpec):
                out[key] = render_value(member, row[member.name])
            elif isinstance(member, RelationEnd):
                target = self.spec.table(member.target)
                linked = self.linked(member, row)
                if not member.many:
                    if len(linked) > 1:
                        raise ModelError(f"to-one {member.name} links {len(linked)} rows")
                    out[key] = (
                        self._render(target, linked[0], node.selection_set, context)
                        if linked
                        else None
                    )
                else:
                    # limit and offset per parent row, each parent's rows on their own.
                    args = self._args(node, context)
                    page = self._list(target, linked, args, [name])
                    out[key] = [self._render(target, r, node.selection_set, context) for r in page]
            else:
                raise ModelError(f"{table.type_name} has no field {name!r}")
        return out


@dataclass
class _Context:
    variables: dict[str, Any]
    after_positions: dict[str, int]


def _strip_undefined(value: Any) -> Any:
    """Input object fields bound to variables that were not given are not given at all."""
    if isinstance(value, dict):
        return {k: _strip_undefined(v) for k, v in value.items() if v is not Undefined}
    if isinstance(value, list):
        return [_strip_undefined(v) for v in value]
    return value
