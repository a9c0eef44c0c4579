"""The reference model of the aggregate root fields (docs/api.md, "Aggregates").

`AggregateModel` is the model of tests/model/evaluate.py with one more kind of root field,
`<plural>Aggregate`: it filters the rows with the same `where` evaluation, groups them in plain
Python, measures every group, then filters, orders and pages the groups, and renders them. It
raises `BadUserInput` or `LimitExceeded` where docs/api.md says the request is that error.

Independence rule, as for the rest of tests/model/: nothing here reads the engine's query code;
the rules come from docs/api.md alone, the field types and enum orders from the spec loader.
Time buckets use Python's zoneinfo; the percentile is the page's formula, in doubles.

`having` and the group `orderBy` are evaluated by the row model itself, over one synthetic
"row" per group: its keys and measures become the fields of a synthetic table (`k0`, `m3`...),
so that their filters (null semantics, `and`/`or`/`not`, enum and string rules) and their
ordering (directions, null placement, enums in declared order, strings by code point) are the
very rules the row model already follows for `where` and `orderBy`; the tie-break by `id` is a
tie-break by the group's rank in key order.

It also answers the rest of the page:

- `fill: true` on root aggregates ("Empty buckets"): the window is read from the bucketed
  field's `gte`/`gt`, `lte`/`lt` and `withinLast` at the top level of `where` and inside its
  `and`s (at any depth); every bucket with an instant in it (enumerated in the time zone, so
  that days around a change of daylight saving time are 23 or 25 hours long) gets a group, once
  for each combination of the other keys' values among the groups of the rows `where` keeps.
  An empty bucket is a group of no rows: count 0, countDistinct 0 (the reading of "counts 0"
  taken, as for the one group of no rows; the literal reading, null, is pinned as a strict
  xfail), every other measure null; `having`, `orderBy` and pages treat it like any group.
- `<relation>Aggregate` fields on parent types ("Aggregates of relations"): the same pipeline
  over each parent's linked rows (each once, as "Relation filters" link them), pages per
  parent, and the cap over the groups of all parents of one field together.
- `<relation>Aggregate` entries in a `where` and an `orderBy` ("Rows by a measure of their
  linked rows"): the measure of the linked rows `filter` keeps, compared with the filter of its
  result type or sorted with the directions of row ordering (a row without linked rows: count
  0, null sums, averages and extremes).

Float sums and averages are summed in doubles "in the order the database reads the rows", so
where such a measure of linked rows decides a filter or an order within its last digits, the
model says `uncertain` (the test then checks only errors). Where the server is known to differ
from the page, the model notes it in `disputed` (the DISPUTED_* texts below, each pinned by a
hand-picked strict xfail test), and the test does not compare that database's answer.

Where the page is silent the comment says which reading was taken (see also the report of
tests/test_aggregate_differential.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
import sys
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from graphql import FieldNode, SelectionSetNode

from graph.errors import SourcePos
from graph.naming import aggregate_root_name, enum_member
from graph.spec.model import FieldSpec, FieldType, RelationEnd, TableSpec
from tests.model.evaluate import (
    BIGINT_MAX,
    BIGINT_MIN,
    BadUserInput,
    Model,
    ModelError,
    Pred,
    _direction,
    _given,
    date_window_start,
    find_member,
    parse_duration,
    render_value,
    window_start,
)
from tests.model.rows import Row

DEFAULT_MAX_GROUPS = 10_000  # GRAPH_MAX_GROUPS
BUCKETS = ("HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR")
NUMBERS = frozenset({FieldType.INT, FieldType.BIGINT, FieldType.FLOAT})
# "every field but id, json, text and list fields"
NOT_GROUPABLE = frozenset({FieldType.JSON, FieldType.TEXT, FieldType.LIST})
# min/max: "numbers, date, datetime, string (by code point), enum (in declared order)".
ORDERED = NUMBERS | {FieldType.DATE, FieldType.DATETIME, FieldType.STRING, FieldType.ENUM}
MEASURES = ("countDistinct", "sum", "avg", "min", "max")
# The type of `sum` of an `int` field. The page says "`int`, `bigint` (a `BigInt`), `float`
# (a `Float`)", which does not name the type for `int`; the schema under test makes it a
# BigInt (a sum of 32-bit values needs more than 32 bits), and so does the model.
SUM_OF_INT = FieldType.BIGINT


# SQLite does not order rows by a relation's integer sum beyond 64 bits exactly: sums 2^63 + 4
# and 2^63 + 5 tie (and go in id order); PostgreSQL orders them exactly. (Groups ordered by
# their own sum are exact on both.)
DISPUTED_SUM_BEYOND_64_BITS = "sqlite: an integer sum beyond 64 bits in an orderBy"


# A float measure whose error band is wider than this fraction of its value (at least 1) is
# a cancellation of huge values: see _group_row.
CANCELLATION = 1e-9


class LimitExceeded(Exception):
    """The contract says this request is a LIMIT_EXCEEDED error."""


class _NotFinite:
    """A measure whose exact value is outside the doubles (a sum of 1e308 and 1e308, a
    percentile between -1e308 and 1e308): docs/api.md does not say what it is."""

    def __repr__(self) -> str:
        return "<not finite>"


NOT_FINITE = _NotFinite()


# docs/api.md: a `sum` or `avg` of a float field is computed in doubles, in an order the
# database chooses; its last digits may differ between the databases, and a sum beyond the
# largest double is an OUT_OF_RANGE error.
EPS = 2.0**-52
# A float average may differ by one more rounding (the division): its relative room, as in the
# test's tolerance for averages.
AVG_BAND = 1e-9


@dataclass(frozen=True)
class Approx:
    """A float sum or average: the exact value rounded once to a double, and how far from it
    summing in doubles in any order may land (`slack`, the error bound of recursive
    summation: n * eps * the sum of the magnitudes). `may_overflow`: the magnitudes add up
    beyond the doubles, so some order of summation overflows. Every other number is compared
    exactly."""

    value: float
    slack: float = 0.0
    may_overflow: bool = False

    def __repr__(self) -> str:
        return f"~{self.value!r}"


def groupable(spec_field: FieldSpec) -> bool:
    return spec_field.name != "id" and spec_field.type not in NOT_GROUPABLE


def measurable(measure: str, spec_field: FieldSpec) -> bool:
    """Whether the measure applies to the field (docs/api.md, the table of measures).

    Not to `id`: the page's table names field types, and `id` is a `bigint`, but `id` is the
    row's identity rather than one of its fields (it cannot group either); the schema under
    test leaves it out of every measure, and so does the model (a question in the report)."""
    if spec_field.name == "id":
        return False
    if measure == "countDistinct":
        return groupable(spec_field)
    if measure in ("sum", "avg", "percentile"):
        return spec_field.type in NUMBERS
    if measure in ("min", "max"):
        return spec_field.type in ORDERED
    raise ModelError(f"unknown measure {measure!r}")


def measure_type(measure: str, spec_field: FieldSpec) -> FieldSpec:
    """The result's field spec (its type decides its filter and its rendering)."""
    if measure == "countDistinct":
        kind = FieldType.INT
    elif measure in ("avg", "percentile"):
        kind = FieldType.FLOAT
    elif measure == "sum":
        kind = SUM_OF_INT if spec_field.type is FieldType.INT else spec_field.type
    else:
        return spec_field  # min and max: "the field's own type"
    return FieldSpec(name=spec_field.name, type=kind, description="", pos=spec_field.pos)


# -- time buckets (docs/api.md "Time buckets") ----------------------------------------------------


def time_zone(name: Any, path: list[str]) -> zoneinfo.ZoneInfo:
    """An IANA name; "an unknown timeZone is a BAD_USER_INPUT error"; default UTC."""
    if not _given(name):
        return zoneinfo.ZoneInfo("UTC")
    if not isinstance(name, str):
        raise ModelError(f"{path}: a time zone is a String")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise BadUserInput(path, f"unknown time zone {name!r}") from None


# The date each bucket starts at: ISO weeks start on Monday, quarters in Jan, Apr, Jul, Oct.
DATE_STARTS: dict[str, Callable[[dt.date], dt.date]] = {
    "DAY": lambda day: day,
    "WEEK": lambda day: day - dt.timedelta(days=day.weekday()),
    "MONTH": lambda day: day.replace(day=1),
    "QUARTER": lambda day: day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1),
    "YEAR": lambda day: day.replace(month=1, day=1),
}


def date_bucket(day: dt.date, bucket: str) -> dt.date:
    if bucket not in DATE_STARTS:
        raise ModelError(f"no date bucket {bucket!r}")
    return DATE_STARTS[bucket](day)


def _wall(moment: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def first_instant(wall: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant whose local clock in `tz` shows `wall` or later.

    That is the instant a bucket starts: the earlier of the two when the clock shows `wall`
    twice (Havana goes back from 01:00 to 00:00: the day starts at the first midnight), and
    the end of the gap when it never shows it (Havana skips from 00:00 to 01:00).
    """
    candidates = [wall.replace(tzinfo=tz, fold=fold).astimezone(dt.UTC) for fold in (0, 1)]
    shown = [moment for moment in candidates if _wall(moment, tz) == wall]
    if shown:
        return min(shown)
    # In a gap: the clock jumps over `wall` between the two readings; find the jump.
    low, high = min(candidates), max(candidates)
    step = dt.timedelta(microseconds=1)
    while high - low > step:
        middle = low + (high - low) // 2
        if _wall(middle, tz) >= wall:
            high = middle
        else:
            low = middle
    return high


def datetime_bucket(moment: dt.datetime, bucket: str, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant the bucket of `moment` starts, in `tz`."""
    local = moment.astimezone(tz)
    if bucket != "HOUR":
        return first_instant(dt.datetime.combine(date_bucket(local.date(), bucket), dt.time()), tz)
    # "the instant minus the minutes and seconds it shows on the local clock" (two aware
    # times of one zone subtract as wall times)
    return moment - (local - local.replace(minute=0, second=0, microsecond=0))


# -- measures ------------------------------------------------------------------------------------


def _exact_in_doubles(values: list[Any], magnitude: Fraction) -> bool:
    """Whether every partial sum, in any order, is a double: the values are multiples of one
    power of two 2^-k and the sum of their magnitudes is below 2^53 * 2^-k (`3.0`, `-2.5` and
    `0.5` add up exactly; `0.1` does not). Such a sum is the same on every database."""
    if len(values) <= 1:
        return True
    scale = max(Fraction(v).denominator for v in values)  # a power of two
    return magnitude * scale < 2**53


def _float_total(values: list[Any], divisor: int) -> Any:
    exact = sum(map(Fraction, values)) / divisor
    magnitude = sum((abs(Fraction(v)) for v in values), Fraction(0))
    may_overflow = magnitude > Fraction(sys.float_info.max)
    try:
        value = float(exact)
    except OverflowError:
        return NOT_FINITE
    if may_overflow:
        slack = math.inf
    elif _exact_in_doubles(values, magnitude):
        slack = 0.0  # the sum is exact, the average its one rounding: no room to differ
    else:
        slack = len(values) * EPS * float(magnitude) / divisor
    return Approx(value, slack, may_overflow)


def exact_sum(values: list[Any], kind: FieldType) -> Any:
    if not values:
        return None
    if kind is not FieldType.FLOAT:
        return sum(values)  # whole numbers: exact, whatever their size
    return _float_total(values, 1)


def exact_avg(values: list[Any], kind: FieldType) -> Any:
    if not values:
        return None
    if kind is not FieldType.FLOAT:
        # Whole numbers: the exact mean, rounded once (the same on both databases).
        return float(Fraction(sum(values), len(values)))
    return _float_total(values, len(values))


def percentile_cont(values: list[Any], p: float) -> Any:
    """docs/api.md: with v sorted and i = p * (n - 1),
    v[floor(i)] + (i - floor(i)) * (v[ceil(i)] - v[floor(i)]), in doubles."""
    if not values:
        return None
    v = [float(x) for x in sorted(values)]
    i = p * (len(v) - 1)
    low, high = math.floor(i), math.ceil(i)
    result = v[low] + (i - low) * (v[high] - v[low])
    return result if math.isfinite(result) else NOT_FINITE


def ordered_extreme(spec_field: FieldSpec, values: list[Any], largest: bool) -> Any:
    """min/max: enums in declared order, strings by code point, the rest by value."""
    if not values:
        return None
    if spec_field.type is FieldType.ENUM:
        rank = {value: i for i, value in enumerate(spec_field.values)}
        return (max if largest else min)(values, key=rank.__getitem__)
    return (max if largest else min)(values)


# -- the request, resolved -----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPath:
    """One grouping key: the to-one relations followed, the field at the end, its bucket."""

    ends: tuple[RelationEnd, ...]
    field: FieldSpec
    bucket: str | None

    @property
    def at(self) -> tuple[tuple[str, ...], str]:
        """Where the key sits in the `key` object: relation names, then the field."""
        return tuple(end.name for end in self.ends), self.field.name


@dataclass
class _Group:
    key: tuple[Any, ...]
    rows: list[Row]
    rank: int = 0


class _Columns:
    """The synthetic table of one request's groups: a column per key and per measure."""

    def __init__(self, owner: TableSpec) -> None:
        self.owner = owner
        self.fields: list[FieldSpec] = []
        self.measures: dict[tuple[str, str], FieldSpec] = {}

    def add(self, template: FieldSpec, prefix: str) -> FieldSpec:
        # `m3`: camel_case leaves it alone, so its GraphQL name is its name.
        column = dataclasses.replace(template, name=f"{prefix}{len(self.fields)}")
        self.fields.append(column)
        return column

    def measure(self, measure: str, spec_field: FieldSpec | None) -> FieldSpec:
        name = spec_field.name if spec_field is not None else ""
        if (measure, name) not in self.measures:
            if spec_field is None:
                count = FieldSpec(name="count", type=FieldType.INT, description="", pos=POS)
                self.measures[(measure, name)] = self.add(count, "m")
            else:
                self.measures[(measure, name)] = self.add(measure_type(measure, spec_field), "m")
        return self.measures[(measure, name)]

    def table(self) -> TableSpec:
        fields = (FieldSpec(name="id", type=FieldType.BIGINT, description="", pos=POS),)
        return TableSpec(
            name="groups",
            table="groups",
            type_name=f"{self.owner.type_name}Group",
            plural=f"{self.owner.type_name}Groups",
            description="",
            key="id",
            fields=fields + tuple(self.fields),
            indexes=(),
            pos=POS,
        )


POS = SourcePos("tests/model/aggregates.py")


# -- the model -----------------------------------------------------------------------------------


@dataclass
class AggregateModel(Model):
    """The row model, answering the aggregate root fields too."""

    max_groups: int = DEFAULT_MAX_GROUPS
    # Set while answering when PostgreSQL may refuse the request as OUT_OF_RANGE (above).
    may_overflow: bool = False
    # Set while answering when a float sum or average of linked rows decides a filter or an
    # order and its last digits (which docs/api.md leaves to each database) could change it.
    uncertain: bool = False
    # Set while answering when the answer is one where the server was found to differ from the
    # page (see the report of tests/test_aggregate_differential.py): what the page says, and
    # why the test does not compare it.
    disputed: set[str] = dataclasses.field(default_factory=set)
    # "sqlite" or "postgresql": some of the disputes above are one database's.
    backend: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._aggregates = {aggregate_root_name(t.list_root): t for t in self.spec.tables.values()}
        self._members: dict[tuple[str, str], FieldSpec | RelationEnd | None] = {}

    def _member(self, table: TableSpec, name: str) -> FieldSpec | RelationEnd | None:  # type: ignore[override]
        """find_member, remembered for the spec's own tables (not the synthetic ones)."""
        if self.spec.tables.get(table.name) is not table:
            return find_member(table, name)
        key = (table.name, name)
        if key not in self._members:
            self._members[key] = find_member(table, name)
        return self._members[key]

    def _root(self, node: FieldNode, key: str, context: Any) -> Any:
        table = self._aggregates.get(node.name.value)
        if table is None:
            return super()._root(node, key, context)
        args = self._args(node, context)
        return self.aggregate(table, args, node, context)

    def answer(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        after_positions: Mapping[str, int] | None = None,
    ) -> dict[str, Any]:
        # The groups each relation aggregate field returns, all parents together.
        self._relation_groups: dict[int, int] = {}
        data = super().answer(document, variables, after_positions)
        for count in self._relation_groups.values():
            # "(for a relation's aggregate, the groups of all parents together)"
            if count > self.max_groups:
                raise LimitExceeded(f"{count} groups of all parents, more than {self.max_groups}")
        return data

    # -- one aggregate field ----------------------------------------------------------------------

    def aggregate(
        self,
        table: TableSpec,
        args: Mapping[str, Any],
        node: FieldNode,
        context: Any,
        rows: list[Row] | None = None,
    ) -> list[dict[str, Any]]:
        """A root aggregate field over the whole table, or (`rows` given) a relation's
        aggregate field over one parent's linked rows."""
        path = [node.name.value]
        keep = self.compile_where(table, args.get("where"), [*path, "where"])
        keys = self.key_paths(table, args.get("groupBy"), [*path, "groupBy"])
        tz = time_zone(args.get("timeZone"), [*path, "timeZone"])
        limit = self._group_limit(args.get("limit"), [*path, "limit"])
        offset = self._offset(args.get("offset"), [*path, "offset"])
        columns = _Columns(table)
        key_columns = [columns.add(kp.field, "k") for kp in keys]
        render = self._measures_selected(table, node.selection_set, context, path)
        having = self._translate_having(table, args.get("having"), columns, [*path, "having"])
        order = self._translate_order(table, args.get("orderBy"), keys, key_columns, columns, path)
        fill: list[Any] | None = None
        if rows is None and args.get("fill") is True:
            fill = self.fill_buckets(table, args.get("where"), keys, tz, [*path, "fill"])
        elif "fill" in args and rows is not None:
            raise ModelError(f"{path}: fill is for root aggregate fields")

        source = self.tables[table.name] if rows is None else rows
        matching = [row for row in source if keep(row)]
        self._flag_overflow(table, matching)
        groups = self._groups(matching, keys, tz)
        if fill is not None:
            groups = self._filled(groups, keys, fill)
        synthetic = columns.table()
        by_key = self.compile_order(synthetic, [{c.gql_name: "ASC"} for c in key_columns], path)
        group_rows = [self._group_row(g, i, key_columns, columns) for i, g in enumerate(groups)]
        group_rows = by_key(group_rows)
        # "Groups tie-break by their keys, ascending": the synthetic `id` becomes the key rank.
        for rank, row in enumerate(group_rows):
            groups[row["id"]].rank = rank
        for row in group_rows:
            row["id"] = groups[row["id"]].rank
        keep_group = self.compile_where(synthetic, having, [*path, "having"])
        chosen = self.compile_order(synthetic, order, [*path, "orderBy"])(
            [row for row in group_rows if keep_group(row)]
        )
        page = chosen[offset:] if limit is None else chosen[offset : offset + limit]
        if len(page) > self.max_groups:
            # "A request that would return more than GRAPH_MAX_GROUPS groups": read as the
            # groups it would return, after having, offset and limit.
            raise LimitExceeded(f"{len(page)} groups, more than {self.max_groups}")
        by_rank = {g.rank: g for g in groups}
        return [render(by_rank[row["id"]], keys) for row in page]

    def _flag_overflow(self, table: TableSpec, matching: list[Row]) -> None:
        """PostgreSQL refuses a float sum beyond the doubles as it computes it, in any group,
        also one that `having` or paging then leaves out: such a request may answer
        OUT_OF_RANGE as a whole (docs/api.md)."""
        for spec_field in table.fields:
            if spec_field.type is not FieldType.FLOAT:
                continue
            values = [row[spec_field.name] for row in matching if row[spec_field.name] is not None]
            magnitude = sum(abs(Fraction(v)) for v in values)
            # PostgreSQL's avg, which `having` and orderBy use, also sums the squares.
            squares = any(abs(v) > 1e154 for v in values)
            if magnitude > Fraction(sys.float_info.max) or squares:
                self.may_overflow = True

    def _group_limit(self, value: Any, path: list[str]) -> int | None:
        if not _given(value):
            return None  # no default page: every group, up to the cap
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelError(f"{path}: a limit must be an Int")
        if value < 0:
            # Not said for aggregates; read as for lists ("below 0": BAD_USER_INPUT).
            raise BadUserInput(path, f"limit {value} below 0")
        if value > self.max_groups:  # "or asks for a larger limit"
            raise LimitExceeded(f"limit {value} above {self.max_groups}")
        return value

    # -- grouping ---------------------------------------------------------------------------------

    def key_paths(self, table: TableSpec, group_by: Any, path: list[str]) -> list[KeyPath]:
        if not _given(group_by):
            return []
        items = group_by if isinstance(group_by, list) else [group_by]
        keys = [self._key_path(table, item, [*path, str(i)]) for i, item in enumerate(items)]
        seen: set[tuple[tuple[str, ...], str]] = set()
        for i, kp in enumerate(keys):
            # "The same key twice is refused" (the code is not named: read as BAD_USER_INPUT).
            # The `key` object has one place per field, so two buckets of one field are the
            # same key too.
            if kp.at in seen:
                raise BadUserInput([*path, str(i)], "the same key twice")
            seen.add(kp.at)
        return keys

    def _key_path(self, table: TableSpec, item: Any, path: list[str]) -> KeyPath:
        if not isinstance(item, dict):
            raise ModelError(f"{path}: a groupBy item is an object")
        given = {k: v for k, v in item.items() if _given(v)}
        bucket = given.pop("bucket", None)
        if len(given) != 1:  # "Each item of groupBy gives exactly one of"
            raise BadUserInput(path, f"a groupBy item names exactly one key: {item!r}")
        ((name, value),) = given.items()
        if name == "field":
            spec_field = self._group_field(table, value, [*path, "field"])
            if bucket is not None:
                self._check_bucket(spec_field, bucket, [*path, "bucket"])
            return KeyPath((), spec_field, bucket)
        if bucket is not None:  # "A bucket on any other field is a BAD_USER_INPUT error"
            raise BadUserInput([*path, "bucket"], "a bucket goes with a date or datetime field")
        end = self._member(table, name)
        if not isinstance(end, RelationEnd) or end.many:
            raise ModelError(f"{path}: {name!r} is not a to-one relation of {table.type_name}")
        inner = self._key_path(self.spec.table(end.target), value, [*path, name])
        return KeyPath((end, *inner.ends), inner.field, inner.bucket)

    @staticmethod
    def _group_field(table: TableSpec, value: Any, path: list[str]) -> FieldSpec:
        for spec_field in table.fields:
            if groupable(spec_field) and enum_member(spec_field.name) == value:
                return spec_field
        # Not a member of <Type>GroupField: "unknown enum value" is a BAD_USER_INPUT error.
        raise BadUserInput(path, f"{table.type_name} cannot group by {value!r}")

    @staticmethod
    def _check_bucket(spec_field: FieldSpec, bucket: Any, path: list[str]) -> None:
        if bucket not in BUCKETS:
            raise BadUserInput(path, f"unknown bucket {bucket!r}")
        if spec_field.type not in (FieldType.DATE, FieldType.DATETIME):
            raise BadUserInput(path, f"a bucket on the {spec_field.type} field {spec_field.name}")
        if spec_field.type is FieldType.DATE and bucket == "HOUR":
            # "HOUR on a date is refused" (the code is not named: read as BAD_USER_INPUT).
            raise BadUserInput(path, "HOUR on a date")

    def key_value(self, row: Row, kp: KeyPath, tz: zoneinfo.ZoneInfo) -> Any:
        for end in kp.ends:
            linked = self.linked(end, row)
            if not linked:  # "rows without a linked row group under null"
                return None
            row = linked[0]
        value = row[kp.field.name]
        if value is None or kp.bucket is None:
            return value
        if kp.field.type is FieldType.DATE:  # "timeZone does not apply to dates"
            return date_bucket(value, kp.bucket)
        return datetime_bucket(value, kp.bucket, tz)

    def _groups(self, rows: list[Row], keys: list[KeyPath], tz: zoneinfo.ZoneInfo) -> list[_Group]:
        if not keys:
            # "none: one group of all rows": one group, also of no rows (count 0).
            return [_Group((), rows)]
        groups: dict[tuple[Any, ...], _Group] = {}
        for row in rows:
            # -0.0 and 0.0 are one key: Python's dict finds them equal, as the page's numbers.
            key = tuple(self.key_value(row, kp, tz) for kp in keys)
            groups.setdefault(key, _Group(key, [])).rows.append(row)
        return list(groups.values())

    # -- measures ---------------------------------------------------------------------------------

    @staticmethod
    def measure(measure: str, spec_field: FieldSpec | None, rows: list[Row], p: float = 0) -> Any:
        """One measure of one group's rows (nulls are skipped by all but `count`)."""
        if spec_field is None:
            return len(rows)
        values = [row[spec_field.name] for row in rows if row[spec_field.name] is not None]
        if measure == "countDistinct":
            return len(set(values))
        if measure == "sum":
            return exact_sum(values, spec_field.type)
        if measure == "avg":
            return exact_avg(values, spec_field.type)
        if measure in ("min", "max"):
            return ordered_extreme(spec_field, values, measure == "max")
        if measure == "percentile":
            return percentile_cont(values, p)
        raise ModelError(f"unknown measure {measure!r}")

    def _group_row(
        self, group: _Group, rank: int, key_columns: list[FieldSpec], columns: _Columns
    ) -> Row:
        row: Row = {"id": rank}
        for column, value in zip(key_columns, group.key, strict=False):
            row[column.name] = value
        for column in key_columns[len(group.key) :]:
            row[column.name] = None
        for (measure, name), column in columns.measures.items():
            spec_field = self.spec.table(columns.owner.name).field(name) if name else None
            value = self.measure(measure, spec_field, group.rows)
            # Filters and orderings see the number itself; a sum beyond the doubles makes the
            # request OUT_OF_RANGE (docs/api.md), and sorts here as the largest.
            if value is NOT_FINITE:
                self.may_overflow = True
                value = math.inf
            if isinstance(value, Approx) and value.slack > CANCELLATION * max(
                1.0, abs(value.value)
            ):
                # Values of opposite signs and huge magnitudes cancel: summed in doubles in
                # the database's order, the sum may land anywhere in a wide band, and a
                # `having` or an ordering by it may decide either way ("their last digits may
                # differ", docs/api.md, taken to its limit). Only errors are compared then.
                self.uncertain = True
            row[column.name] = value.value if isinstance(value, Approx) else value
        return row

    def _measure_field(
        self, table: TableSpec, measure: str, name: str, path: list[str]
    ) -> FieldSpec:
        spec_field = self._member(table, name)
        if not isinstance(spec_field, FieldSpec) or not measurable(measure, spec_field):
            raise ModelError(f"{path}: {measure} does not apply to {table.type_name}.{name}")
        return spec_field

    # -- selection --------------------------------------------------------------------------------

    def _measures_selected(
        self,
        table: TableSpec,
        selection: SelectionSetNode | None,
        context: Any,
        path: list[str],
    ) -> Callable[[_Group, list[KeyPath]], dict[str, Any]]:
        """Checks the selection now (a bad `p` fails the request before anything is read) and
        returns the renderer of one group."""
        nodes = self._fields(selection)
        ps = {id(node): self._percentile_p(node, context, path) for node in nodes}

        def render(group: _Group, keys: list[KeyPath]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for node in nodes:
                response_key = node.alias.value if node.alias else node.name.value
                out[response_key] = self._render_part(table, node, group, keys, ps[id(node)])
            return out

        return render

    def _percentile_p(self, node: FieldNode, context: Any, path: list[str]) -> float:
        if node.name.value != "percentile":
            return 0.0
        p = self._args(node, context).get("p")
        if isinstance(p, bool) or not isinstance(p, int | float):
            raise ModelError(f"{path}: percentile needs a number p, not {p!r}")
        if not 0 <= p <= 1:  # "p must lie in 0..1" (read as BAD_USER_INPUT)
            raise BadUserInput([*path, "percentile", "p"], f"p {p} outside 0..1")
        return float(p)

    def _render_part(
        self, table: TableSpec, node: FieldNode, group: _Group, keys: list[KeyPath], p: float
    ) -> Any:
        name = node.name.value
        if name == "count":
            return len(group.rows)
        if name == "key":
            pairs = list(zip(keys, group.key, strict=True))
            return self._render_key(table, node.selection_set, pairs)
        if name not in (*MEASURES, "percentile"):
            raise ModelError(f"groups have no field {name!r}")
        out: dict[str, Any] = {}
        for sub in self._fields(node.selection_set):
            spec_field = self._measure_field(table, name, sub.name.value, [name])
            value = self.measure(name, spec_field, group.rows, p)
            kind = measure_type(name, spec_field)
            if value is not None and not isinstance(value, _NotFinite | Approx):
                value = render_value(kind, value)
            out[sub.alias.value if sub.alias else sub.name.value] = value
        return out

    def _render_key(
        self,
        table: TableSpec,
        selection: SelectionSetNode | None,
        pairs: list[tuple[KeyPath, Any]],
    ) -> dict[str, Any]:
        """One field per groupable field and to-one relation: the grouped ones hold the
        group's value, the others are null. A relation holds an object when a key goes
        through it (even for the group of rows without a linked row, whose keys are null:
        the page does not say; read literally, the relation itself is grouped), else null."""
        out: dict[str, Any] = {}
        for node in self._fields(selection):
            response_key = node.alias.value if node.alias else node.name.value
            member = self._member(table, node.name.value)
            if isinstance(member, FieldSpec) and groupable(member):
                found = [v for kp, v in pairs if not kp.ends and kp.field.name == member.name]
                out[response_key] = render_value(member, found[0]) if found else None
            elif isinstance(member, RelationEnd) and not member.many:
                inner = [
                    (dataclasses.replace(kp, ends=kp.ends[1:]), v)
                    for kp, v in pairs
                    if kp.ends and kp.ends[0].name == member.name
                ]
                target = self.spec.table(member.target)
                out[response_key] = (
                    self._render_key(target, node.selection_set, inner) if inner else None
                )
            else:
                raise ModelError(f"{table.type_name} keys have no field {node.name.value!r}")
        return out

    # -- having and orderBy over the synthetic group table ----------------------------------------

    def _translate_having(
        self, table: TableSpec, having: Any, columns: _Columns, path: list[str]
    ) -> Any:
        """`having` as a `where` over the synthetic table: `{sum: {durationMs: ops}}` becomes
        `{m4: ops}`; `and`, `or`, `not` and nulls are kept for the row model to read."""
        if not _given(having):
            return having
        if not isinstance(having, dict):
            raise ModelError(f"{path}: having is an object")
        out: dict[str, Any] = {}
        for name, value in having.items():
            here = [*path, name]
            if name in ("and", "or"):
                items = value if isinstance(value, list) or not _given(value) else [value]
                out[name] = (
                    [self._translate_having(table, item, columns, here) for item in items]
                    if _given(value)
                    else value
                )
            elif name == "not":
                out[name] = self._translate_having(table, value, columns, here)
            elif name == "count":
                out[columns.measure("count", None).gql_name] = value
            elif name in MEASURES:
                if not _given(value):
                    continue
                for field_name, ops in value.items():
                    if not _given(ops):
                        continue
                    spec_field = self._measure_field(table, name, field_name, here)
                    out[columns.measure(name, spec_field).gql_name] = ops
            else:
                raise ModelError(f"{here}: having has no {name!r}")
        return out

    def _translate_order(
        self,
        table: TableSpec,
        order_by: Any,
        keys: list[KeyPath],
        key_columns: list[FieldSpec],
        columns: _Columns,
        path: list[str],
    ) -> list[dict[str, Any]]:
        """Each item names exactly one of count, key {...}, countDistinct, sum, avg, min, max."""
        if not _given(order_by):
            return []
        items = order_by if isinstance(order_by, list) else [order_by]
        out: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            here = [*path, "orderBy", str(i)]
            named = {k: v for k, v in item.items() if _given(v)}
            if len(named) != 1:
                raise BadUserInput(here, f"an orderBy item names exactly one thing: {item!r}")
            ((name, value),) = named.items()
            if name == "count":
                out.append({columns.measure("count", None).gql_name: value})
            elif name == "key":
                at, direction = self._order_key(table, value, (), here)
                found = [c for kp, c in zip(keys, key_columns, strict=True) if kp.at == at]
                if not found:
                    # "key {...} (a grouped key)": another key is a wrong argument value (the
                    # code is not named: read as BAD_USER_INPUT).
                    raise BadUserInput(here, "orders by a key that is not grouped")
                out.append({found[0].gql_name: direction})
            elif name in MEASURES:
                if not isinstance(value, dict) or len(value) != 1:
                    raise BadUserInput(here, f"an orderBy item names exactly one field: {value!r}")
                ((field_name, direction),) = value.items()
                spec_field = self._measure_field(table, name, field_name, here)
                out.append({columns.measure(name, spec_field).gql_name: direction})
            else:
                raise ModelError(f"{here}: groups do not order by {name!r}")
        return out

    def _order_key(
        self, table: TableSpec, value: Any, ends: tuple[str, ...], path: list[str]
    ) -> tuple[tuple[tuple[str, ...], str], str]:
        if not isinstance(value, dict) or len(value) != 1:
            raise BadUserInput(path, f"a key ordering names exactly one field: {value!r}")
        ((name, inner),) = value.items()
        member = self._member(table, name)
        if isinstance(member, RelationEnd) and not member.many:
            target = self.spec.table(member.target)
            return self._order_key(target, inner, (*ends, member.name), [*path, name])
        if isinstance(member, FieldSpec):
            return (ends, member.name), inner
        raise ModelError(f"{path}: {table.type_name} keys have no {name!r}")

    # -- fill: a group for every bucket of the where window (docs/api.md "Empty buckets") ---------

    def fill_buckets(
        self,
        table: TableSpec,
        where: Any,
        keys: list[KeyPath],
        tz: zoneinfo.ZoneInfo,
        path: list[str],
    ) -> list[Any]:
        """Every bucket of the window `where` sets on the bucketed field, in order."""
        bucketed = [kp for kp in keys if kp.bucket is not None]
        # "fill needs exactly one bucketed key, of the table's own field"
        if len(bucketed) != 1 or bucketed[0].ends:
            raise BadUserInput(path, "fill needs exactly one bucketed key of the table's own field")
        (key,) = bucketed
        assert key.bucket is not None
        lows: list[Any] = []
        highs: list[Any] = []
        self._window_bounds(key.field, where, lows, highs, [*path[:-1], "where"])
        if not lows or not highs:  # "without a window ... it is refused (BAD_USER_INPUT)"
            raise BadUserInput(path, f"no window on {key.field.gql_name} to fill")
        if any(bound is None for bound in lows + highs):
            return []  # a bound beyond the calendar's ends: nothing lies in the window
        low, high = max(lows), min(highs)
        if low > high:  # an empty window has no buckets
            return []
        buckets: list[Any] | None
        if key.field.type is FieldType.DATE:
            buckets = date_buckets(low, high, key.bucket, self.max_groups)
        else:
            buckets = datetime_buckets(low, high, key.bucket, tz, self.max_groups)
        if buckets is None:  # "with more buckets than GRAPH_MAX_GROUPS ... LIMIT_EXCEEDED"
            raise LimitExceeded(f"the window holds more than {self.max_groups} buckets")
        return buckets

    def _window_bounds(
        self,
        spec_field: FieldSpec,
        where: Any,
        lows: list[Any],
        highs: list[Any],
        path: list[str],
    ) -> None:
        """The field's `gte`/`gt`, `lte`/`lt` and `olderThan` bounds and `withinLast` windows at
        the top level of `where` or inside its `and` (at any depth of `and`s: every one of them must
        hold, as the top level's entries must); never under `or` or `not`. Several bounds
        on one side: the window is where all of them hold. A bound is the first or last
        moment (or day) that meets it; None when there is none in the calendar."""
        if not isinstance(where, dict):
            return
        for name, value in where.items():
            if not _given(value):
                continue
            if name == "and":
                for i, item in enumerate(value if isinstance(value, list) else [value]):
                    self._window_bounds(spec_field, item, lows, highs, [*path, "and", str(i)])
            elif name == spec_field.gql_name and isinstance(value, dict):
                for op, arg in value.items():
                    if _given(arg) and op in ("gte", "gt", "lte", "lt", "withinLast", "olderThan"):
                        self._bound(spec_field, op, arg, lows, highs, [*path, name, op])

    def _bound(
        self,
        spec_field: FieldSpec,
        op: str,
        arg: Any,
        lows: list[Any],
        highs: list[Any],
        path: list[str],
    ) -> None:
        is_date = spec_field.type is FieldType.DATE
        step = dt.timedelta(days=1) if is_date else dt.timedelta(microseconds=1)
        if op == "withinLast":
            now = self.now.astimezone(dt.UTC)
            duration = parse_duration(arg, path)
            if is_date:
                lows.append(date_window_start(now.date(), duration, path))
                highs.append(now.date())
            else:
                lows.append(window_start(now, duration, path))
                highs.append(now)
            return
        if op == "olderThan":  # "ends at ... olderThan": the last moment (or day) before it
            now = self.now.astimezone(dt.UTC)
            duration = parse_duration(arg, path)
            if is_date:
                start: Any = date_window_start(now.date(), duration, path)
            else:
                start = window_start(now, duration, path)
            try:
                highs.append(start - step)
            except OverflowError:
                highs.append(None)
            return
        value = self._scalar_input(spec_field, arg, path)
        try:
            if op == "gte":
                lows.append(value)
            elif op == "gt":
                lows.append(value + step)
            elif op == "lte":
                highs.append(value)
            else:
                highs.append(value - step)
        except OverflowError:
            (lows if op == "gt" else highs).append(None)

    @staticmethod
    def _filled(groups: list[_Group], keys: list[KeyPath], buckets: list[Any]) -> list[_Group]:
        """The groups, and an empty one for every bucket with each combination of the other
        keys' values that occurs ("every bucket appears once for each combination of their
        values that occurs"): among the groups of the rows `where` keeps."""
        at = next(i for i, kp in enumerate(keys) if kp.bucket is not None)
        combinations = list(dict.fromkeys(g.key[:at] + g.key[at + 1 :] for g in groups))
        if len(keys) == 1:
            combinations = [()]  # no other keys: every bucket, rows or not
        present = {g.key for g in groups}
        out = list(groups)
        for combination in combinations:
            for bucket in buckets:
                key = (*combination[:at], bucket, *combination[at:])
                if key not in present:
                    present.add(key)
                    out.append(_Group(key, []))
        return out

    # -- relation aggregates (docs/api.md "Aggregates of relations") -----------------------------

    def relation_aggregate_end(self, table: TableSpec, name: str) -> RelationEnd | None:
        """The to-many relation `<relation>Aggregate` names on this type, if it names one
        (docs/schema-format.md: "to-many relation field + Aggregate")."""
        if self._member(table, name) is not None:
            return None
        for end in table.relations:
            if end.many and f"{end.gql_name}Aggregate" == name:
                return end
        return None

    def _render(
        self, table: TableSpec, row: Row, selection: SelectionSetNode | None, context: Any
    ) -> dict[str, Any]:
        nodes = self._fields(selection)
        ends = {id(n): self.relation_aggregate_end(table, n.name.value) for n in nodes}
        if not any(ends.values()):
            return super()._render(table, row, selection, context)
        plain = tuple(n for n in nodes if ends[id(n)] is None)
        out = super()._render(table, row, SelectionSetNode(selections=plain), context)
        for node in nodes:
            end = ends[id(node)]
            if end is None:
                continue
            # Each parent's linked rows, each once ("a key listed twice in a list links once").
            args = self._args(node, context)
            groups = self.aggregate(
                self.spec.table(end.target), args, node, context, self.linked(end, row)
            )
            self._relation_groups[id(node)] = self._relation_groups.get(id(node), 0) + len(groups)
            out[node.alias.value if node.alias else node.name.value] = groups
        return out

    # -- rows by a measure of their linked rows (docs/api.md) -------------------------------------

    def compile_where(self, table: TableSpec, where: Any, path: list[str]) -> Pred:
        if not isinstance(where, dict) or not table.relations:
            return super().compile_where(table, where, path)
        measured = {
            name: end
            for name in where
            if _given(where[name]) and (end := self.relation_aggregate_end(table, name))
        }
        if not measured:
            return super().compile_where(table, where, path)
        rest = {k: v for k, v in where.items() if k not in measured}
        base = super().compile_where(table, rest, path)
        preds = [
            self._measure_filter(end, where[name], [*path, name]) for name, end in measured.items()
        ]
        return lambda row: base(row) and all(p(row) for p in preds)

    def _relation_measure(
        self, end: RelationEnd, value: Any, path: list[str], what: str
    ) -> tuple[Callable[[Row], Any], FieldSpec, str, Any]:
        """`{filter: ..., <measure>: leaf}` or `{filter: ..., <measure>: {field: leaf}}`: the
        measure of each row's (filtered) linked rows, its result's field spec, the measure's
        name and the leaf (the operators or the direction)."""
        if not isinstance(value, dict):
            raise ModelError(f"{path}: a relation measure is an object")
        target = self.spec.table(end.target)
        keep = self.compile_where(target, value.get("filter"), [*path, "filter"])
        named = {k: v for k, v in value.items() if k != "filter" and _given(v)}
        if len(named) != 1:
            # "exactly one measure" (the code is not named: read as BAD_USER_INPUT).
            raise BadUserInput(path, f"a relation {what} names exactly one measure: {value!r}")
        ((measure, leaf),) = named.items()
        spec_field: FieldSpec | None = None
        if measure == "count":
            result = FieldSpec(name="m", type=FieldType.INT, description="", pos=POS)
        elif measure in MEASURES:
            fields = {k: v for k, v in leaf.items() if _given(v)} if isinstance(leaf, dict) else {}
            if len(fields) != 1:
                raise BadUserInput(path, f"a relation {what} names exactly one field: {leaf!r}")
            ((field_name, leaf),) = fields.items()
            spec_field = self._measure_field(target, measure, field_name, [*path, measure])
            result = dataclasses.replace(measure_type(measure, spec_field), name="m")
        else:
            raise ModelError(f"{path}: no measure {measure!r}")

        if (
            spec_field is not None
            and spec_field.type is FieldType.FLOAT
            and measure in ("sum", "avg")
        ):
            self._flag_relation_overflow(end, keep, measure, spec_field)

        def value_of(row: Row) -> Any:
            linked = [t for t in self.linked(end, row) if keep(t)]
            if spec_field is not None and spec_field.type is FieldType.FLOAT:
                values = [t[spec_field.name] for t in linked if t[spec_field.name] is not None]
                # Beyond the doubles, or (PostgreSQL's avg sums the squares) beyond ~1e154.
                magnitude = sum(abs(Fraction(v)) for v in values)
                squares = measure == "avg" and any(abs(v) > 1e154 for v in values)
                if magnitude > Fraction(sys.float_info.max) or squares:
                    self.may_overflow = True
            found = self.measure(measure, spec_field, linked)
            if found is NOT_FINITE:
                self.may_overflow = True
                return Approx(math.inf, math.inf, True)
            integers = spec_field is not None and spec_field.type is not FieldType.FLOAT
            if measure == "avg" and integers and found is not None and abs(found) > 2**53:
                # The average is a Float: compared as a double, so two means that differ
                # below its precision tie. PostgreSQL rounds the exact mean once; SQLite
                # rounds the sum to a double, then divides: a few units in the last place.
                rounded = float(found)
                slack = 0.0 if self.backend == "postgresql" else 4 * math.ulp(rounded)
                return Approx(rounded, slack)
            return found

        return value_of, result, measure, leaf

    def _flag_relation_overflow(
        self, end: RelationEnd, keep: Pred, measure: str, spec_field: FieldSpec
    ) -> None:
        """A float sum or average of some row's linked rows that may pass the doubles (or, on
        PostgreSQL, an average of values beyond ~1e154, whose squares do): docs/api.md makes
        that OUT_OF_RANGE. Whether the database computes it for that row depends on its plan
        (other conditions may leave the row out first), so the request MAY be refused."""
        for parent in self.tables[end.owner]:
            linked = [t for t in self.linked(end, parent) if keep(t)]
            values = [t[spec_field.name] for t in linked if t[spec_field.name] is not None]
            if sum(abs(Fraction(v)) for v in values) > Fraction(sys.float_info.max):
                self.may_overflow = True
                return
            squares = measure == "avg" and any(abs(v) > 1e154 for v in values)
            if squares and self.backend == "postgresql":
                self.may_overflow = True
                return

    def _measure_filter(self, end: RelationEnd, value: Any, path: list[str]) -> Pred:
        """In a where, "compared with the filter of its result type"; "a row without linked
        rows counts 0 and has null sums, averages and extremes"."""
        value_of, result, _, ops = self._relation_measure(end, value, path, "filter")
        holds = self._compile_field(result, ops, path)
        constants = _numbers_in(ops)

        def pred(row: Row) -> bool:
            found = value_of(row)
            if not isinstance(found, Approx):
                return holds({"m": found})
            answer = holds({"m": found.value})
            band = found.slack + AVG_BAND * abs(found.value)
            if band > 0:
                # Summed in doubles in the database's order, the value may lie anywhere in
                # the band: if that can change the answer, the case is not decidable.
                low, high = found.value - band, found.value + band
                points = [low, high] + [c for c in constants if low <= c <= high]
                if any(holds({"m": p}) != answer for p in points):
                    self.uncertain = True
            return answer

        return pred

    def compile_order(
        self, table: TableSpec, order_by: Any, path: list[str]
    ) -> Callable[[list[Row]], list[Row]]:
        outer: list[Callable[[list[Row]], None]] = getattr(self, "_checks", [])
        self._checks: list[Callable[[list[Row]], None]] = []
        try:
            sort = super().compile_order(table, order_by, path)
            checks = self._checks
        finally:
            self._checks = outer
        if not checks:
            return sort

        def checked(rows: list[Row]) -> list[Row]:
            for check in checks:
                check(rows)
            return sort(rows)

        return checked

    def _sort_key(
        self, table: TableSpec, item: Any, path: list[str]
    ) -> tuple[Callable[[Row], Any], bool, bool]:
        named = {k: v for k, v in item.items() if _given(v)} if isinstance(item, dict) else {}
        end = self.relation_aggregate_end(table, next(iter(named))) if len(named) == 1 else None
        if end is None:
            return super()._sort_key(table, item, path)
        ((name, value),) = named.items()
        value_of, result, measure, direction = self._relation_measure(
            end, value, [*path, name], "order"
        )
        ascending, nulls_first = _direction(direction, [*path, name])
        ranks = {v: i for i, v in enumerate(result.values)} if result.type is FieldType.ENUM else {}

        def sort_value(row: Row) -> Any:
            found = value_of(row)
            if isinstance(found, Approx):
                return found.value
            return ranks[found] if ranks and found is not None else found

        def bands(rows: list[Row]) -> None:
            """Two rows whose float measures may come out either way round: the order the
            databases give them is not decided by the page."""
            spans = []
            for row in rows:
                found = value_of(row)
                if found is None:
                    spans.append((math.inf, math.inf))
                elif not isinstance(found, Approx):
                    spans.append((found, found))
                else:
                    band = found.slack + AVG_BAND * abs(found.value)
                    spans.append((found.value - band, found.value + band))
            spans.sort()
            for (low, high), (next_low, _) in itertools.pairwise(spans):
                if next_low <= high and (high > low or next_low < high):
                    self.uncertain = True

        def beyond_64_bits(rows: list[Row]) -> None:
            values = [value_of(row) for row in rows]
            if any(v is not None and not BIGINT_MIN <= v <= BIGINT_MAX for v in values):
                self.disputed.add(DISPUTED_SUM_BEYOND_64_BITS)

        if result.type is FieldType.FLOAT:
            self._checks.append(bands)
        if measure == "sum" and result.type is FieldType.BIGINT and self.backend == "sqlite":
            self._checks.append(beyond_64_bits)
        return sort_value, ascending, nulls_first


def _numbers_in(ops: Any) -> list[float]:
    """The numbers an operator object compares with."""
    if not isinstance(ops, dict):
        return []
    found: list[float] = []
    for arg in ops.values():
        items = arg if isinstance(arg, list) else [arg]
        found.extend(
            float(i) for i in items if isinstance(i, int | float) and not isinstance(i, bool)
        )
    return found


# -- the buckets of a window ----------------------------------------------------------------------

DATE_STEPS: dict[str, Callable[[dt.date], dt.date]] = {
    "DAY": lambda day: day + dt.timedelta(days=1),
    "WEEK": lambda day: day + dt.timedelta(days=7),
    "MONTH": lambda day: _months_on(day, 1),
    "QUARTER": lambda day: _months_on(day, 3),
    "YEAR": lambda day: _months_on(day, 12),
}


def _months_on(day: dt.date, months: int) -> dt.date:
    """The first of the month `months` after `day`, which is a first of the month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def date_buckets(low: dt.date, high: dt.date, bucket: str, cap: int) -> list[dt.date] | None:
    """The starts of the buckets the days low..high fall in; None when more than `cap`."""
    out: list[dt.date] = []
    start = date_bucket(low, bucket)
    while start <= high:
        out.append(start)
        if len(out) > cap:
            return None
        try:
            start = DATE_STEPS[bucket](start)
        except (OverflowError, ValueError):  # past 9999-12-31
            break
    return out


def datetime_buckets(
    low: dt.datetime, high: dt.datetime, bucket: str, tz: zoneinfo.ZoneInfo, cap: int
) -> list[dt.datetime] | None:
    """The buckets of the instants low..high in `tz`, in order; None when more than `cap`.

    Days and longer: the buckets of the local dates from low's to high's. Hours: the bucket of
    `low` and of every quarter hour after it up to `high` (a bucket changes only on a local
    full hour or a change of offset, which fall on UTC quarter hours in the zones tested)."""
    if bucket != "HOUR":
        first, last = low.astimezone(tz).date(), high.astimezone(tz).date()
        days = date_buckets(first, last, bucket, cap)
        if days is None:
            return None
        starts = {first_instant(dt.datetime.combine(day, dt.time()), tz) for day in days}
        return sorted(starts)
    if (high - low) > dt.timedelta(hours=2 * cap + 4):
        return None  # at least one bucket in every two hours
    quarter = dt.timedelta(minutes=15)
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    moment = epoch + (low - epoch) // quarter * quarter + quarter
    found = {datetime_bucket(low, "HOUR", tz): None}
    while moment <= high:
        found[datetime_bucket(moment, "HOUR", tz)] = None
        if len(found) > cap:
            return None
        moment += quarter
    return sorted(found)
