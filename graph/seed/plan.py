"""What to generate before any row exists: row counts, every table's keys, where linked values come
from, and the order of the tables. Everything is derived from the spec and its relations.

Keys are computed up front for every table (they depend only on the table and the row number), so
a column that names rows of another table can draw from that table's keys in any order; this is
what lets cycles such as work orders <-> sub-agents resolve. Columns that share values without a
key (`execution_logs.component` = `feedback.affected_component`) draw from one pool per group.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graph.seed.values import abbreviation, recent, stem_of
from graph.spec.model import FieldSpec, FieldType, RelationSpec, Spec, TableSpec

Row = dict[str, Any]


@dataclass(frozen=True)
class TableSize:
    """Rows at scale 1 (the demo) and at scale 1000 (the benchmark); other scales interpolate
    on a log-log line, so a table can grow slower than the execution logs do."""

    demo: int
    bench: int

    def rows(self, scale: float) -> int:
        growth = math.log(self.bench / self.demo) / math.log(1000)
        return max(MIN_ROWS, round(self.demo * math.pow(scale, growth)))


MIN_ROWS = 3
DEFAULT_SIZE = TableSize(20, 600)


@dataclass
class RowContext:
    """What a row fixup may use besides the row: the table's random source, the time anchor, the
    row number, every table's keys, and a scratch dict that lives as long as the table."""

    rng: random.Random
    now: dt.datetime
    keys: Mapping[str, Sequence[Any]]
    index: int = 0
    count: int = 0
    state: dict[str, Any] = field(default_factory=dict)

    def pick(self, table: str) -> Any:
        """A key of `table`, or None when it has no rows."""
        keys = self.keys.get(table)
        return self.rng.choice(keys) if keys else None

    def recent(self, days: float = 60) -> dt.datetime:
        """A past moment, weighted towards the last week."""
        return recent(self.rng, self.now, days)


Fixup = Callable[[Row, RowContext], None]
KeyFormat = Callable[[int], str]


@dataclass(frozen=True)
class Profile:
    """Domain knowledge layered on the generic generator; every part is optional."""

    sizes: Mapping[str, TableSize] = field(default_factory=dict)
    keys: Mapping[str, KeyFormat] = field(default_factory=dict)
    # table -> field -> value -> relative weight, for enums whose spread matters to queries.
    weights: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    # table -> function that edits a generated row in place (consistency between columns).
    fixups: Mapping[str, Fixup] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """Where a linked column's values come from. `pool` is a live list: for a key it is filled
    before generation starts, for a unique non-key column while its table is generated."""

    pool: list[Any]
    where: tuple[tuple[str, Any], ...] = ()
    hierarchy: bool = False  # a self reference: rows point at earlier rows of the same table


@dataclass(frozen=True)
class SeedPlan:
    counts: dict[str, int]
    keys: dict[str, list[Any]]
    sources: dict[tuple[str, str], list[Source]]
    # Unique non-key columns that relations point at: their values are collected as generated.
    recorded: dict[tuple[str, str], list[Any]]
    order: list[str]


# -- counts and keys ----------------------------------------------------------------------------


def row_counts(spec: Spec, scale: float, profile: Profile) -> dict[str, int]:
    return {name: profile.sizes.get(name, DEFAULT_SIZE).rows(scale) for name in spec.tables}


def named_keys(names: Sequence[str], max_length: int | None = None) -> KeyFormat:
    """Readable names first, then the same names numbered: checkout-e2e, ..., checkout-e2e-2."""

    def key(n: int) -> str:
        base = names[n % len(names)]
        round_ = n // len(names)
        if round_ == 0:
            return base
        suffix = f"{'-' if '-' in base else '_'}{round_ + 1}"
        limit = (max_length or 10_000) - len(suffix)
        return base[:limit] + suffix

    return key


def generic_key(table: TableSpec) -> KeyFormat:
    key = table.key_field
    if key.examples and key.type is FieldType.STRING:
        return named_keys([str(x) for x in key.examples], key.max_length)
    if key.type in (FieldType.INT, FieldType.BIGINT):
        start = int(key.min or 0) + 1
        return lambda n: str(start + n)
    if key.type is FieldType.UUID:
        namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"grace-seed:{table.name}")
        return lambda n: str(uuid.uuid5(namespace, str(n)))
    if key.name.endswith("_id"):
        prefix = abbreviation(key.name)
        return lambda n: f"{prefix}-{n + 1:06d}"
    stem = stem_of(key.name) if stem_of(key.name) != key.name else table.name.rstrip("s")
    return lambda n: f"{stem}_{n + 1:04d}"


def table_keys(table: TableSpec, count: int, profile: Profile) -> list[Any]:
    make = profile.keys.get(table.name) or generic_key(table)
    limit = table.key_field.max_length
    keys = [make(n)[:limit] if limit else make(n) for n in range(count)]
    if table.key_field.type in (FieldType.INT, FieldType.BIGINT):
        return [int(k) for k in keys]
    if len(set(keys)) != len(keys):
        # The readable form does not fit the column's max_length: plain numbers always differ.
        return [str(n + 1) for n in range(count)]
    return keys


# -- relations ----------------------------------------------------------------------------------


def _is_key_link(spec: Spec, relation: RelationSpec) -> bool:
    target = spec.table(relation.to_table)
    return relation.to_field == target.key or target.field(relation.to_field).unique


def _examples(field: FieldSpec) -> list[Any]:
    if field.type is FieldType.LIST:
        return [item for example in field.examples for item in example]
    return list(field.examples)


class _Groups:
    """Union-find over (table, field): columns that must share one pool of values."""

    def __init__(self) -> None:
        self.parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(self, node: tuple[str, str]) -> tuple[str, str]:
        self.parent.setdefault(node, node)
        while self.parent[node] != node:
            node = self.parent[node]
        return node

    def join(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        self.parent[self.find(a)] = self.find(b)

    def members(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for node in sorted(self.parent):
            groups.setdefault(self.find(node), []).append(node)
        return groups


def _shared_pool(spec: Spec, members: Sequence[tuple[str, str]]) -> list[Any]:
    """One pool for a group: an enum's values if a member is an enum (its CHECK allows nothing
    else), otherwise every member's examples, otherwise made-up values named after the column."""
    fields = [spec.table(t).field(f) for t, f in members]
    enums = [f for f in fields if f.type is FieldType.ENUM]
    if enums:
        allowed = set.intersection(*(set(f.values) for f in enums))
        return [v for v in enums[0].values if v in allowed]
    pool = list(dict.fromkeys(x for f in fields for x in _examples(f)))
    if pool:
        return pool
    stem = stem_of(fields[0].name).replace("_", "-")
    return [f"{stem}-{n}" for n in range(1, 9)]


def link_sources(
    spec: Spec, keys: Mapping[str, list[Any]]
) -> tuple[dict[tuple[str, str], list[Source]], dict[tuple[str, str], list[Any]]]:
    sources: dict[tuple[str, str], list[Source]] = {}
    recorded: dict[tuple[str, str], list[Any]] = {}
    groups = _Groups()
    for relation in spec.relations:
        source = (relation.from_table, relation.from_field)
        target = (relation.to_table, relation.to_field)
        if not _is_key_link(spec, relation):
            groups.join(source, target)
            continue
        if relation.to_field == spec.table(relation.to_table).key:
            pool = keys[relation.to_table]
        else:
            pool = recorded.setdefault(target, [])
        hierarchy = relation.from_table == relation.to_table and not relation.where
        sources.setdefault(source, []).append(Source(pool, relation.where, hierarchy))
    for members in groups.members().values():
        pool = _shared_pool(spec, members)
        for member in members:
            # A key link on the same column wins: it is the stricter promise.
            sources.setdefault(member, [Source(pool)])
    return sources, recorded


def table_order(spec: Spec) -> list[str]:
    """Tables that others point at come first (Kahn's algorithm, ties by name). A cycle is broken
    at its table with the fewest unmet dependencies; keys exist up front, so links still hold."""
    needs: dict[str, set[str]] = {name: set() for name in spec.tables}
    for relation in spec.relations:
        if relation.from_table != relation.to_table and _is_key_link(spec, relation):
            needs[relation.from_table].add(relation.to_table)
    order: list[str] = []
    while needs:
        ready = sorted(t for t, deps in needs.items() if not deps)
        chosen = ready[0] if ready else min(needs, key=lambda t: (len(needs[t]), t))
        order.append(chosen)
        del needs[chosen]
        for deps in needs.values():
            deps.discard(chosen)
    return order


def make_plan(spec: Spec, scale: float, profile: Profile) -> SeedPlan:
    counts = row_counts(spec, scale, profile)
    keys = {name: table_keys(t, counts[name], profile) for name, t in spec.tables.items()}
    sources, recorded = link_sources(spec, keys)
    return SeedPlan(counts, keys, sources, recorded, table_order(spec))
