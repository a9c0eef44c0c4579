"""Filters and sort orders as plain data: what `where` and `orderBy` mean, for every caller.

GraphQL hands over arguments it has already type-checked, keyed by camelCase names. Python
callers (graph/registry.py) hand over plain dicts keyed by the spec's snake_case names, with
the document's shorthand (`{'status': 'failed'}` is `eq`; a mapping given to a json field is
`contains`) and raw values that are checked here by the write path's own rules (graph/rows.py).
Both end as the same `Filter` and `SortKey` values (graph/plan.py), so both mean the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graph.aggregate import COUNT, MEASURE_NAMES, PERCENTILE, measurable, measure_field
from graph.errors import UserInputError
from graph.naming import camel_case, relation_aggregate_name, suggest
from graph.plan import (
    BoolOp,
    Compare,
    Filter,
    Measure,
    MeasureFilter,
    RelationFilter,
    RelationMeasure,
    SortKey,
)
from graph.rows import InvalidValue, coerce_value
from graph.spec.model import FieldSpec, FieldType, RelationEnd, Spec, TableSpec
from graph.sql import filters

Path = tuple[str | int, ...]
# How deeply `and`, `or` and `not` may nest in one `where` (also inside relation filters).
# Deeper is a generated or hostile filter, and every level is one more nesting of the SQL.
MAX_FILTER_DEPTH = 32
# How deeply relations may nest in a `where` (`playbook: {...}`, `some`/`none`/`every`, a
# relation aggregate's `filter` or measure) and in an `orderBy` key (`{playbook: {owner:
# ASC}}`). Each is a correlated subquery, and SQLite's parser (a fixed 100-entry stack before
# 3.46, the version Debian 12 ships) overflowed on 7 to 10 of them nested, answering "database
# unavailable". Measured on the shipped spec: 3 of them around 32 `not` and the costliest
# leaf (a computed field that is itself a subquery) still parse, 4 do not.
MAX_RELATION_DEPTH = 3
# Longer value lists are almost always a mistake and make huge statements.
MAX_LIST_VALUES = 1000
# The filter that holds for every row: what `{}` means wherever a filter is expected.
ALWAYS = BoolOp("and", ())
COMBINATORS = ("and", "or", "not")
DIRECTIONS = (
    "asc",
    "desc",
    "asc_nulls_first",
    "asc_nulls_last",
    "desc_nulls_first",
    "desc_nulls_last",
)


@dataclass(frozen=True)
class TableIndex:
    """The names one caller uses for a table's fields and relations, resolved once."""

    spec: TableSpec
    fields: dict[str, FieldSpec]
    relations: dict[str, RelationEnd]
    # To-many relations by the name of their aggregate (`executionsAggregate`), which filters
    # and sorts rows by a measure of their linked rows.
    aggregates: dict[str, RelationEnd]


def build_index(spec: Spec, *, python: bool = False) -> dict[str, TableIndex]:
    """GraphQL's camelCase names, or (python=True) the spec's own snake_case names."""
    return {
        name: TableIndex(
            table,
            {(f.name if python else f.gql_name): f for f in table.read_fields},
            {(e.name if python else e.gql_name): e for e in table.relations},
            {
                (f"{e.name}_aggregate" if python else relation_aggregate_name(e.gql_name)): e
                for e in table.relations
                if e.many
            },
        )
        for name, table in spec.tables.items()
    }


def _direction(value: Any, path: Path) -> tuple[bool, bool]:
    """(descending, nulls first) of a sort direction. Nulls count as larger than any value
    unless asked otherwise (PostgreSQL's own rule): ASC puts them last, DESC first, and one
    b-tree index serves both ways."""
    direction = str(plain(value)).lower()
    if direction not in DIRECTIONS:
        raise UserInputError(
            f"sort direction {value!r} is not one of {', '.join(DIRECTIONS)}", path
        )
    return direction.startswith("desc"), direction.endswith("nulls_first") or direction == "desc"


def plain(value: Any) -> Any:
    """Enum members to their stored value, lists and objects element-wise."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Nesting:
    """Where a filter sits: inside how many `and`/`or`/`not` and how many relation filters."""

    combinators: int = 0
    relations: int = 0

    def combined(self, path: Path) -> Nesting:
        """One `and`, `or` or `not` deeper (refused beyond MAX_FILTER_DEPTH)."""
        if self.combinators >= MAX_FILTER_DEPTH:
            raise UserInputError(
                f"where nests and/or/not deeper than {MAX_FILTER_DEPTH} levels", path
            )
        return Nesting(self.combinators + 1, self.relations)

    def related(self, path: Path) -> Nesting:
        """One relation filter deeper (refused beyond MAX_RELATION_DEPTH)."""
        if self.relations >= MAX_RELATION_DEPTH:
            raise UserInputError(
                f"where nests relation filters deeper than {MAX_RELATION_DEPTH} levels", path
            )
        return Nesting(self.combinators, self.relations + 1)


# Where a whole `where` starts: inside nothing.
TOP = Nesting()


def refuse_unusable(value: Any, path: Path, *, json: bool = False) -> None:
    """BAD_USER_INPUT, at the place inside `value`, for what no database compares alike: NUL
    or a lone surrogate in text, NaN or infinity (graph/sql/filters.py unusable_value)."""
    problem = filters.unusable_value(value, json=json)
    if problem is not None:
        inner, reason = problem
        raise UserInputError(reason, (*path, *inner))


class FilterPlanner:
    """Turns `where` and `orderBy` arguments into plan values; `python` for loose callers."""

    def __init__(self, spec: Spec, index: dict[str, TableIndex], *, python: bool = False) -> None:
        self.spec = spec
        self.index = index
        self.python = python

    # -- filters ------------------------------------------------------------------------

    def where(self, table: str, raw: Any, path: Path, nesting: Nesting = TOP) -> Filter | None:
        if raw is None:
            return None
        info = self.index[table]
        if self.python and not isinstance(raw, Mapping):
            raise UserInputError(f"a filter is a mapping of field names, not {raw!r}", path)
        parts: list[Filter] = []
        for key, value in raw.items():
            here = (*path, key)
            if self.python:
                self._known(info, key, here)
            if value is None:
                continue
            if key in ("and", "or"):
                deeper = nesting.combined(here)
                # An empty filter holds for every row: `or: [{}]` holds, it is not `or: []`.
                items = [
                    self.where(table, v, (*here, i), deeper) or ALWAYS for i, v in enumerate(value)
                ]
                parts.append(BoolOp(key, tuple(items)))
            elif key == "not":
                inner = self.where(table, value, here, nesting.combined(here))
                parts.append(BoolOp("not", (inner or ALWAYS,)))
            elif key in info.fields:
                parts.extend(self.compares(info.fields[key], value, here))
            elif key in info.aggregates:
                deeper = nesting.related(here)
                parts.extend(self.measure_filters(info.aggregates[key], value, here, deeper))
            else:
                deeper = nesting.related(here)
                parts.extend(self.relation_filters(info.relations[key], value, here, deeper))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def compares(self, field: FieldSpec, ops: Any, path: Path) -> list[Filter]:
        result: list[Filter] = []
        kind = filters.KIND_OF_TYPE[field.type]
        if self.python:
            ops = self._shorthand(field, kind, ops)
        for op_name, value in ops.items():
            here = (*path, op_name)
            if value is None:
                raise UserInputError("null is not a value to compare with; use isNull", here)
            # Before a Python caller's value is converted, so that both callers read the same.
            refuse_unusable(value, here, json=kind == "json")
            if self.python:
                op = self._operator(kind, op_name, here)
                value = self._coerced(field, op, value, here)
            else:  # GraphQL has already checked the name against the input type
                op = filters.operator(kind, op_name)
            if op.value in (filters.MANY, filters.ELEMENTS):
                if any(v is None for v in value):
                    raise UserInputError("lists of values cannot hold null; use isNull", here)
                if len(value) > MAX_LIST_VALUES:
                    raise UserInputError(
                        f"at most {MAX_LIST_VALUES} values, not {len(value)}", here
                    )
            if op.check is not None:
                try:
                    op.check(plain(value), field)
                except ValueError as exc:
                    raise UserInputError(str(exc), here) from None
            result.append(Compare(field.name, op.name, plain(value)))
        return result

    # -- what only Python callers need ---------------------------------------------------

    def _known(self, info: TableIndex, key: Any, path: Path) -> None:
        if key in COMBINATORS or key in info.fields or key in info.relations:
            return
        if key in info.aggregates:
            return
        names = [*info.fields, *info.relations, *info.aggregates]
        hint = suggest(key, names) if isinstance(key, str) else ""
        raise UserInputError(f"{info.spec.type_name} has no field {key!r}{hint}", path)

    def _operator(self, kind: str, name: Any, path: Path) -> filters.Operator:
        known = {op.name: op for op in filters.operators_for(kind)}
        op = known.get(name) or (known.get(camel_case(name)) if isinstance(name, str) else None)
        if op is None:
            hint = suggest(name, known) if isinstance(name, str) else ""
            raise UserInputError(
                f"{name!r} is not an operator of {kind} fields{hint} (one of {', '.join(known)})",
                path,
            )
        return op

    def _shorthand(self, field: FieldSpec, kind: str, ops: Any) -> Mapping[str, Any]:
        """The document's shorthand: a bare value is `eq` (`includes` for a list field); a
        mapping given to a json field is `contains` unless every key is an operator."""
        names = {op.name for op in filters.operators_for(kind)}
        if isinstance(ops, Mapping):
            if field.type is FieldType.JSON and not all(
                isinstance(k, str) and (k in names or camel_case(k) in names) for k in ops
            ):
                return {"contains": ops}
            return ops
        if field.type is FieldType.LIST:
            return {"includes": ops}
        if field.type is FieldType.JSON:
            return {"contains": ops}
        return {"eq": ops}

    def _coerced(self, field: FieldSpec, op: filters.Operator, value: Any, path: Path) -> Any:
        """A Python caller's raw value, checked and converted as a written value would be."""
        try:
            if op.value == filters.SAME:
                return coerce_value(field, value)
            if op.value == filters.MANY:
                if not isinstance(value, list | tuple | set | frozenset):
                    raise InvalidValue(f"expected a list of values, not {value!r}")
                return [coerce_value(field, v) if v is not None else None for v in value]
            if op.value in (filters.ELEMENT, filters.ELEMENTS) and field.of is not None:
                element = FieldSpec("item", field.of, "", field.pos)
                if op.value == filters.ELEMENT:
                    return coerce_value(element, value)
                if not isinstance(value, list | tuple | set | frozenset):
                    raise InvalidValue(f"expected a list of values, not {value!r}")
                return [coerce_value(element, v) if v is not None else None for v in value]
        except InvalidValue as exc:
            raise UserInputError(str(exc), path) from None
        return value

    def relation_filters(
        self, end: RelationEnd, value: dict[str, Any], path: Path, nesting: Nesting
    ) -> list[Filter]:
        """A relation's filter; `nesting` already counts it."""
        if not end.many:
            return [RelationFilter(end, "is", self.where(end.target, value, path, nesting))]
        return [
            RelationFilter(end, mode, self.where(end.target, inner, (*path, mode), nesting))
            for mode, inner in value.items()
            if inner is not None
        ]

    def measure_filters(
        self, end: RelationEnd, raw: Mapping[str, Any], path: Path, nesting: Nesting
    ) -> list[Filter]:
        """`executionsAggregate: {filter: {...}, count: {gt: 5}, max: {durationMs: {...}}}`:
        conditions on measures of each row's linked rows (those matching `filter`); `nesting`
        already counts the relation."""
        linked = self.where(end.target, raw.get("filter"), (*path, "filter"), nesting)
        result: list[Filter] = []
        for measure, ops, here in self._measures(end, raw, path):
            target = self.spec.table(end.target)
            base = target.field(measure.field) if measure.field else target.key_field
            for compare in self.compares(measure_field(measure.kind, base), ops, here):
                assert isinstance(compare, Compare)
                of = RelationMeasure(end, measure, linked)
                result.append(MeasureFilter(of, compare.op, compare.value))
        if not result:
            raise UserInputError("name a measure to compare, e.g. {count: {gt: 0}}", path)
        return result

    def _measures(
        self, end: RelationEnd, raw: Mapping[str, Any], path: Path
    ) -> list[tuple[Measure, Any, Path]]:
        """(measure, what is given for it, its path) for each measure a relation aggregate
        entry names: `count: X`, or `sum: {durationMs: X}`."""
        info = self.index[end.target]
        found: list[tuple[Measure, Any, Path]] = []
        for name, value in raw.items():
            if name == "filter" or value is None:
                continue
            here = (*path, name)
            kind = MEASURE_NAMES.get(camel_case(name)) if self.python else MEASURE_NAMES[name]
            if kind is None or kind == PERCENTILE:
                raise UserInputError(
                    f"{name!r} is not one of filter, count, countDistinct, sum, avg, min, max",
                    here,
                )
            if kind == COUNT:
                found.append((Measure(COUNT), value, here))
                continue
            for field_name, given in value.items():
                if given is None:
                    continue
                if self.python:
                    self._known(info, field_name, (*here, field_name))
                field = info.fields[field_name]
                if not measurable(kind, field):
                    raise UserInputError(
                        f"{name} does not apply to {field.type.value} fields",
                        (*here, field_name),
                    )
                found.append((Measure(kind, field.name), given, (*here, field_name)))
        return found

    # -- ordering -----------------------------------------------------------------------

    def order(
        self, table: str, raw: list[dict[str, Any]] | None, path: Path
    ) -> tuple[SortKey, ...]:
        if not raw:
            return ()
        return tuple(self.sort_key(table, item, (*path, i), ()) for i, item in enumerate(raw))

    def sort_key(
        self, table: str, item: dict[str, Any], path: Path, via: tuple[RelationEnd, ...]
    ) -> SortKey:
        given = {k: v for k, v in item.items() if v is not None}
        if len(given) != 1:
            raise UserInputError(
                "each orderBy item names exactly one field, e.g. [{startedAt: DESC}, {id: ASC}]",
                path,
            )
        ((key, value),) = given.items()
        info = self.index[table]
        if self.python:
            self._known(info, key, path)
            if key in info.fields and (
                not isinstance(value, str) or value.lower() not in DIRECTIONS
            ):
                raise UserInputError(
                    f"sort direction {value!r} is not one of {', '.join(DIRECTIONS)}", path
                )
            value = value.lower() if isinstance(value, str) else value
        if (key in info.relations or key in info.aggregates) and len(via) >= MAX_RELATION_DEPTH:
            raise UserInputError(
                f"orderBy follows relations deeper than {MAX_RELATION_DEPTH} levels",
                (*path, key),
            )
        if key in info.relations:
            end = info.relations[key]
            return self.sort_key(end.target, value, (*path, key), (*via, end))
        if key in info.aggregates:
            return self._measure_sort_key(info.aggregates[key], value, (*path, key), via)
        descending, nulls_first = _direction(value, path)
        return SortKey(info.fields[key].name, descending, nulls_first, via)

    def _measure_sort_key(
        self, end: RelationEnd, raw: Any, path: Path, via: tuple[RelationEnd, ...]
    ) -> SortKey:
        """`{executionsAggregate: {filter: {...}, count: DESC}}`: one measure of each row's
        linked rows (those matching `filter`)."""
        if not isinstance(raw, Mapping):
            raise UserInputError("name a measure and its direction, e.g. {count: DESC}", path)
        found = self._measures(end, raw, path)
        if len(found) != 1:
            raise UserInputError(
                "name exactly one measure and its direction, e.g. {count: DESC} or "
                "{max: {durationMs: DESC}}",
                path,
            )
        ((measure, direction, here),) = found
        # The filter of a subquery under the relations the key follows and the measured one.
        nesting = Nesting(relations=len(via)).related(path)
        linked = self.where(end.target, raw.get("filter"), (*path, "filter"), nesting)
        descending, nulls_first = _direction(direction, here)
        of = RelationMeasure(end, measure, linked)
        return SortKey("", descending, nulls_first, via, of)
