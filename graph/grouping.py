"""Turns the arguments of an aggregate field into an AggregateRead (graph/aggregate.py).

Arguments arrive as GraphQL hands them over (camelCase names, enum members); every rule the
type system cannot state is checked here, before any SQL: one key per groupBy item, buckets on
dates only, known time zones, percentiles in 0..1, orders by grouped keys, the group cap.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from graph.aggregate import (
    BUCKETS,
    COUNT,
    MEASURE_NAMES,
    AggregateRead,
    GroupKey,
    GroupOrder,
    Having,
    HavingBool,
    MeasureCompare,
    groupable,
    measure_field,
    window_bounds,
)
from graph.errors import LimitExceededError, UserInputError
from graph.naming import suggest
from graph.paging import checked_offset
from graph.plan import Compare, Filter, Measure
from graph.spec.model import FieldType, RelationEnd
from graph.where import MAX_FILTER_DEPTH, FilterPlanner, TableIndex, plain

Path = tuple[str | int, ...]


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # The tz database's zone names, less `localtime` (the server's own zone, whatever it is)
    # and `Factory` (no offset at all): a request means the same on every server.
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "Factory"}


def check_time_zone(name: Any, path: Path) -> str:
    if name is None:
        return "UTC"
    if not isinstance(name, str) or name not in _zone_names():
        hint = suggest(name, _zone_names()) if isinstance(name, str) else ""
        raise UserInputError(
            f"unknown time zone {name!r}{hint}; use an IANA name such as Europe/Berlin or UTC",
            path,
        )
    return name


def check_percentile(p: Any, path: Path) -> float:
    if not isinstance(p, int | float) or not math.isfinite(p) or not 0 <= p <= 1:
        raise UserInputError(f"a percentile lies between 0 and 1, not {p!r}", path)
    return float(p)


class AggregatePlanner:
    """Plans aggregate fields of one request; names as `index` has them (GraphQL's)."""

    def __init__(
        self,
        index: dict[str, TableIndex],
        filters: FilterPlanner,
        max_groups: int,
        max_offset: int,
    ):
        self.index = index
        self.filters = filters
        self.max_groups = max_groups
        self.max_offset = max_offset

    def plan(
        self,
        table: str,
        args: Mapping[str, Any],
        selected: Sequence[Measure],
        path: Path,
    ) -> AggregateRead:
        """The AggregateRead of one aggregate field; `selected` are the measures its
        selection asks for (having and orderBy add their own)."""
        where = self.filters.where(table, args.get("where"), (*path, "where"))
        keys = self.keys(table, args.get("groupBy") or [], (*path, "groupBy"))
        zone = check_time_zone(args.get("timeZone"), (*path, "timeZone"))
        measures: dict[Measure, None] = dict.fromkeys(selected)
        having = self.having(table, args.get("having"), (*path, "having"), measures, 0)
        order = self.order(table, keys, args.get("orderBy") or [], (*path, "orderBy"), measures)
        limit = self.limit(args.get("limit"), (*path, "limit"))
        offset = checked_offset(args.get("offset"), self.max_offset, (*path, "offset"))
        fill = bool(args.get("fill"))
        if fill:
            self._check_fill(table, keys, where, (*path, "fill"))
        return AggregateRead(
            table,
            where,
            keys,
            tuple(measures),
            having,
            order,
            limit,
            offset,
            zone,
            self.max_groups,
            fill,
        )

    def _check_fill(
        self, table: str, keys: tuple[GroupKey, ...], where: Filter | None, path: Path
    ) -> None:
        """`fill` needs one time bucket of the table's own field, and a window on that field
        in `where` to fill."""
        bucketed = [key for key in keys if key.bucket is not None]
        if len(bucketed) != 1 or bucketed[0].via:
            raise UserInputError(
                "fill needs exactly one groupBy item with a bucket, on a field of this table",
                path,
            )
        field = self.index[table].spec.field(bucketed[0].field)
        lower, upper = window_bounds(where, field.name)
        if not lower or not upper:
            raise UserInputError(
                f"fill needs the window to fill in where: {field.gql_name} with gte, gt or "
                "withinLast, and lte, lt, olderThan or withinLast",
                path,
            )

    def limit(self, value: int | None, path: Path) -> int | None:
        if value is None:
            return None
        if value < 0:
            raise UserInputError(f"must be 0 or more, not {value}", path)
        if value > self.max_groups:
            raise LimitExceededError(
                f"{'.'.join(map(str, path))}: {value} is more than the {self.max_groups:,} "
                "groups one aggregate may return (GRAPH_MAX_GROUPS)",
                path,
            )
        return value

    # -- grouping keys --------------------------------------------------------------------

    def keys(self, table: str, raw: Sequence[Any], path: Path) -> tuple[GroupKey, ...]:
        keys: list[GroupKey] = []
        for i, item in enumerate(raw):
            key = self.key(table, item, (*path, i), ())
            if any(k.field == key.field and k.via == key.via for k in keys):
                # Also in two buckets: their groups would show the same key field.
                raise UserInputError("the same field is grouped by twice", (*path, i))
            keys.append(key)
        return tuple(keys)

    def key(
        self, table: str, item: Mapping[str, Any], path: Path, via: tuple[RelationEnd, ...]
    ) -> GroupKey:
        info = self.index[table]
        bucket = item.get("bucket")
        name, value = _only_entry(
            {k: v for k, v in item.items() if k != "bucket"},
            "each groupBy item gives exactly one of field or a relation, e.g. "
            "{field: STATUS} or {playbook: {field: RISK_LEVEL}}",
            path,
        )
        if name != "field":
            if bucket is not None:
                raise UserInputError("give bucket beside the date field it cuts", path)
            end = info.relations[name]
            return self.key(end.target, value, (*path, name), (*via, end))
        field = info.spec.field(str(plain(value)))
        if not groupable(info.spec, field):
            raise UserInputError(f"{field.gql_name} cannot be a grouping key", path)
        if bucket is None:
            return GroupKey(field.name, via)
        unit = str(plain(bucket))
        if field.type not in (FieldType.DATE, FieldType.DATETIME):
            raise UserInputError(
                f"a time bucket needs a date or datetime field; {field.gql_name} is "
                f"{field.type.value}",
                (*path, "bucket"),
            )
        if field.type is FieldType.DATE and unit == "hour":
            raise UserInputError(f"{field.gql_name} is a date: it has no hours", (*path, "bucket"))
        assert unit in BUCKETS
        return GroupKey(field.name, via, unit)

    # -- having ---------------------------------------------------------------------------

    def having(
        self,
        table: str,
        raw: Mapping[str, Any] | None,
        path: Path,
        measures: dict[Measure, None],
        depth: int,
    ) -> Having | None:
        if raw is None:
            return None
        if depth > MAX_FILTER_DEPTH:
            raise UserInputError(
                f"having nests and/or/not deeper than {MAX_FILTER_DEPTH} levels", path
            )
        info = self.index[table]
        parts: list[Having] = []
        for name, value in raw.items():
            here = (*path, name)
            if value is None:
                continue
            if name in ("and", "or"):
                items = [
                    self.having(table, v, (*here, i), measures, depth + 1) or _ALWAYS
                    for i, v in enumerate(value)
                ]
                parts.append(HavingBool(name, tuple(items)))
            elif name == "not":
                inner = self.having(table, value, here, measures, depth + 1) or _ALWAYS
                parts.append(HavingBool("not", (inner,)))
            elif name == "count":
                parts += self._compares(Measure(COUNT), info, value, here, measures)
            else:
                kind = MEASURE_NAMES[name]
                for field_name, ops in value.items():
                    if ops is None:
                        continue
                    field = info.fields[field_name]
                    measure = Measure(kind, field.name)
                    parts += self._compares(measure, info, ops, (*here, field_name), measures)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else HavingBool("and", tuple(parts))

    def _compares(
        self,
        measure: Measure,
        info: TableIndex,
        ops: Mapping[str, Any],
        path: Path,
        measures: dict[Measure, None],
    ) -> list[Having]:
        field = info.spec.field(measure.field) if measure.field else info.spec.key_field
        result_field = measure_field(measure.kind, field)
        measures.setdefault(measure, None)
        found: list[Having] = []
        for compare in self.filters.compares(result_field, ops, path):
            assert isinstance(compare, Compare)
            found.append(MeasureCompare(measure, compare.op, compare.value))
        return found

    # -- order ----------------------------------------------------------------------------

    def order(
        self,
        table: str,
        keys: tuple[GroupKey, ...],
        raw: Sequence[Mapping[str, Any]],
        path: Path,
        measures: dict[Measure, None],
    ) -> tuple[GroupOrder, ...]:
        info = self.index[table]
        result: list[GroupOrder] = []
        for i, item in enumerate(raw):
            here = (*path, i)
            name, value = _only_entry(
                item,
                "each orderBy item names exactly one of count, key, countDistinct, sum, avg, "
                "min or max, e.g. [{count: DESC}]",
                here,
            )
            if name == "count":
                measures.setdefault(Measure(COUNT), None)
                result.append(_ordered(Measure(COUNT), value))
            elif name == "key":
                key, direction = self._order_key(table, keys, value, (*here, "key"), ())
                result.append(_ordered(key, direction))
            else:
                field_name, direction = _only_entry(
                    value, f"{name} names exactly one field here", (*here, name)
                )
                measure = Measure(MEASURE_NAMES[name], info.fields[field_name].name)
                measures.setdefault(measure, None)
                result.append(_ordered(measure, direction))
        return tuple(result)

    def _order_key(
        self,
        table: str,
        keys: tuple[GroupKey, ...],
        item: Mapping[str, Any],
        path: Path,
        via: tuple[RelationEnd, ...],
    ) -> tuple[GroupKey, Any]:
        info = self.index[table]
        name, value = _only_entry(item, "key names exactly one grouped key here", path)
        if name in info.relations:
            end = info.relations[name]
            return self._order_key(end.target, keys, value, (*path, name), (*via, end))
        field = info.fields[name]
        for key in keys:
            if key.field == field.name and key.via == via:
                return key, value
        raise UserInputError(f"{field.gql_name} is not a grouping key of this request", path)


def _only_entry(item: Mapping[str, Any], message: str, path: Path) -> tuple[str, Any]:
    """The one non-null entry of an input object that must give exactly one."""
    given = [(k, v) for k, v in item.items() if v is not None]
    if len(given) != 1:
        raise UserInputError(message, path)
    return given[0]


# An empty `having` item holds for every group, as an empty `where` does for every row.
_ALWAYS: Having = HavingBool("and", ())


def _ordered(by: GroupKey | Measure, direction: Any) -> GroupOrder:
    text = str(plain(direction))
    # Nulls count as larger than any value unless the direction says otherwise, as for rows.
    return GroupOrder(
        by,
        descending=text.startswith("desc"),
        nulls_first=text.endswith("nulls_first") or text == "desc",
    )
