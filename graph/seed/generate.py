"""Streams one table's sample rows as tuples in column order, driven by its FieldSpecs.

Per row: the key from the plan, a generic value for every other declared field (enum values,
numbers inside min/max, strings from examples or the field name, ...), linked values from the
plan's pools, then the profile's fixup for cross-column consistency, then created_at/updated_at.
Each table has its own random source, seeded with "<seed>:<table>" (str seeds are hashed with
SHA-512 by `random`, unlike the salted hash()), so a table's rows never depend on another table's.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from graph.seed.plan import Profile, Row, RowContext, SeedPlan, Source
from graph.seed.values import (
    ValueFn,
    date_maker,
    datetime_maker,
    example_maker,
    json_maker,
    list_maker,
    number_maker,
    recent,
    sample,
    string_maker,
    text_maker,
    unique_maker,
)
from graph.spec.model import NUMERIC_TYPES, FieldSpec, FieldType, TableSpec

RowFn = Callable[[random.Random, Row, int], Any]

# Share of optional columns (no default) left empty.
NULL_SHARE = 0.1
# Generic enums without weights: the declared default is the common case.
DEFAULT_ENUM_SHARE = 0.4
ENGINE_FIELDS = frozenset({"id", "created_at", "updated_at"})


def clean_examples(field: FieldSpec) -> list[Any]:
    """Examples as the column stores them: JSON through a round trip (YAML dates become text),
    strings as str (YAML reads `1.0` as a float)."""
    if field.type is FieldType.JSON:
        return [orjson.loads(orjson.dumps(x)) for x in field.examples]
    if field.type in (FieldType.STRING, FieldType.TEXT):
        return [str(x) for x in field.examples]
    return list(field.examples)


def enum_maker(field: FieldSpec, weights: Mapping[str, float] | None) -> ValueFn:
    values = list(field.values)
    if weights and any(v in weights for v in values):
        shares = [weights.get(v, 0.0) for v in values]
    elif field.default in values:
        rest = (1 - DEFAULT_ENUM_SHARE) / max(1, len(values) - 1)
        shares = [DEFAULT_ENUM_SHARE if v == field.default else rest for v in values]
    else:
        return lambda rng, i: rng.choice(values)
    cumulative = [sum(shares[: k + 1]) for k in range(len(shares))]
    return lambda rng, i: rng.choices(values, cum_weights=cumulative)[0]


def bool_maker(field: FieldSpec) -> ValueFn:
    share = {True: 0.85, False: 0.2}.get(field.default, 0.5) if field.default is not None else 0.5
    return lambda rng, i: rng.random() < share


def value_maker(
    table: TableSpec, field: FieldSpec, profile: Profile, now: dt.datetime, slot: list[int]
) -> ValueFn:
    """The generic value of one column, before links and fixups."""
    examples = clean_examples(field)
    kind = field.type
    if field.unique:
        return unique_maker(field)
    if kind is FieldType.ENUM:
        return enum_maker(field, profile.weights.get(table.name, {}).get(field.name))
    if kind is FieldType.BOOL:
        return bool_maker(field)
    if kind in NUMERIC_TYPES:
        return number_maker(field)
    if kind is FieldType.DATETIME:
        return datetime_maker(field, now)
    if kind is FieldType.DATE:
        return date_maker(field, now)
    if kind is FieldType.JSON:
        return json_maker(field, examples, slot)
    if kind is FieldType.LIST:
        return list_maker(field, examples, slot)
    if kind is FieldType.UUID:
        return lambda rng, i: str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if examples:
        return example_maker(examples, slot)
    if kind is FieldType.TEXT:
        return text_maker(field)
    return string_maker(field, table.name.replace("_", "-"))


def with_nulls(make: ValueFn) -> ValueFn:
    return lambda rng, i: None if rng.random() < NULL_SHARE else make(rng, i)


def may_be_null(table: TableSpec, field: FieldSpec) -> bool:
    return not field.required and field.default is None and field.name != table.key


def _pick(pool: Sequence[Any], many: bool, rng: random.Random) -> Any:
    if not pool:
        return None
    return sample(rng, pool) if many else rng.choice(pool)


def hierarchy_maker(pool: Sequence[Any], count: int) -> RowFn:
    """Parents before children: a few roots, then each row under a row about half as far down, so
    the tree has children and grandchildren at every size above a handful of rows."""
    roots = max(2, count // 8)

    def parent(rng: random.Random, row: Row, i: int) -> Any:
        if i < roots:
            return None
        low = (i - roots) // 2
        return pool[rng.randrange(low, min(i, low + 2))]

    return parent


def linked_maker(field: FieldSpec, sources: Sequence[Source], fallback: ValueFn) -> RowFn:
    """Values from the first source whose `where` holds for the row; the generic value when none
    does (e.g. a governance subject that is not a row of any table)."""
    many = field.type is FieldType.LIST
    rules = [(s.where, s.pool) for s in sources]

    def make(rng: random.Random, row: Row, i: int) -> Any:
        for where, pool in rules:
            if all(row.get(k) == v for k, v in where):
                return _pick(pool, many, rng)
        return fallback(rng, i)

    return make


class TableRows:
    """The rows of one table; iterate once."""

    def __init__(
        self, table: TableSpec, plan: SeedPlan, profile: Profile, *, seed: int, now: dt.datetime
    ) -> None:
        self.table = table
        self.count = plan.counts[table.name]
        self.columns = [f.name for f in table.fields if f.name != "id"]
        self.now = now
        self.rng = random.Random(f"{seed}:{table.name}")
        self.context = RowContext(self.rng, now, plan.keys, count=self.count)
        self.keys = plan.keys[table.name]
        self.fixup = profile.fixups.get(table.name)
        # The row's example slot (see example_maker), shared by the columns' closures.
        self.slot = [0]
        self.slots = max((len(f.examples) for f in table.fields), default=0) or 1
        self.plain: list[tuple[str, ValueFn]] = []
        self.linked: list[tuple[str, RowFn]] = []
        self._build(plan, profile)
        self.record = [(f, pool) for (t, f), pool in plan.recorded.items() if t == table.name]
        self.clipped = [
            (f.name, f.max_length)
            for f in table.fields
            if f.max_length and f.type in (FieldType.STRING, FieldType.TEXT)
        ]
        self.datetimes = [f.name for f in table.fields if f.type is FieldType.DATETIME]

    def _build(self, plan: SeedPlan, profile: Profile) -> None:
        for field in self.table.fields:
            if field.name in ENGINE_FIELDS or field.name == self.table.key:
                continue
            make = value_maker(self.table, field, profile, self.now, self.slot)
            nullable = may_be_null(self.table, field)
            sources = plan.sources.get((self.table.name, field.name))
            if not sources or field.type is FieldType.ENUM or field.unique:
                # An enum keeps to its values and a unique column to its own; a link yields.
                self.plain.append((field.name, with_nulls(make) if nullable else make))
            elif sources[0].hierarchy and field.type is not FieldType.LIST:
                self.linked.append((field.name, hierarchy_maker(sources[0].pool, self.count)))
            else:
                linked = linked_maker(field, sources, make)
                self.linked.append((field.name, _nullable(linked) if nullable else linked))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        rng, context, key, slot = self.rng, self.context, self.table.key, self.slot
        for i in range(self.count):
            slot[0] = rng.randrange(self.slots)
            row: Row = {key: self.keys[i]}
            for name, make in self.plain:
                row[name] = make(rng, i)
            for name, link in self.linked:
                row[name] = link(rng, row, i)
            if self.fixup is not None:
                context.index = i
                self.fixup(row, context)
            self._stamp(row)
            self._clip(row)
            for name, pool in self.record:
                if row.get(name) is not None:
                    pool.append(row[name])
            yield tuple(map(row.get, self.columns))

    def _stamp(self, row: Row) -> None:
        """created_at no later than the row's first event, updated_at at its last past one."""
        now = self.now
        past = [v for n in self.datetimes if (v := row.get(n)) is not None and v <= now]
        if row.get("created_at") is None:
            first = min(past) if past else recent(self.rng, now)
            row["created_at"] = first - dt.timedelta(seconds=self.rng.randint(0, 6 * 3600))
        past.append(row["created_at"])
        if row.get("updated_at") is None:
            row["updated_at"] = max(v for v in past if v <= now)

    def _clip(self, row: Row) -> None:
        for name, limit in self.clipped:
            value = row.get(name)
            if value is not None and len(value) > limit:
                row[name] = value[:limit]


def _nullable(make: RowFn) -> RowFn:
    return lambda rng, row, i: None if rng.random() < NULL_SHARE else make(rng, row, i)
