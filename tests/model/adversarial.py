"""Adversarial rows, derived from the spec: the edges where answers go wrong without an error.

For every table: nulls in every nullable column, ties in sortable columns, duplicates inside
lists, empty lists, Unicode that folds and sorts differently under a locale (É é ß ẞ İ, the
dotless i, Σ ς, emoji outside the BMP, combining marks, right-to-left text), `%` `_` `\\` and
quotes, extreme numbers within each column's min/max, JSON with nested arrays and arrays of
strings, links to missing rows, cycles through self-references and lists naming one key twice.
Every row satisfies its table's constraints (enum values, min/max, max_length, required,
unique), holds no NUL character, and has explicit `id`, `created_at` and `updated_at`, so the
same rows go into every database and get the same ids there. One row per table has an id above
2^53.

The rows are a pure function of (spec, existing rows, now, seed): SQLite and PostgreSQL get
exactly the same rows.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graph.spec.model import FieldSpec, FieldType, RelationSpec, Spec, TableSpec
from tests.model.rows import Row, Tables

INT32 = (-(2**31), 2**31 - 1)
BIGINT = (-(2**63) + 1, 2**63 - 1)  # the brief's ±(2^63-1); -2^63 is left to the filters
HUGE_ID = 2**53 + 1  # a JavaScript number would lose it: BigInt must reach clients as text

# Strings that sort, fold and match differently depending on who does it.
STRINGS: tuple[str, ...] = (
    "",
    " ",
    "a",
    "B",
    "b",
    "Z",
    "É",
    "é",
    "e\u0301",  # e + combining acute: not equal to é, nothing is normalised
    "Éclair",
    "éclair",
    "ß",
    "ẞ",
    "SS",
    "ss",
    "straße",
    "STRASSE",
    "İstanbul",
    "istanbul",
    "\u0131i",  # dotless i, then i
    "ΣΊΣΥΦΟΣ",
    "σίσυφος",
    "ΟΔΟΣ ΟΔΟΣ",
    "Σ",
    "ς",
    "😀",
    "a😀b",
    "🦓 zebra",
    "שלום עולם",
    "مرحبا",
    "100%",
    "50%_off",
    "a_b",
    "a%b",
    "a\\b",
    "\\",
    "\\\\",
    "back\\slash%",
    "it's",
    'say "hi"',
    "%",
    "_",
    "tab\there",
    "line\nbreak",
    "auth-service",
    "AUTH-SERVICE",
    "zzz",
    "~tilde",
    "ABC",
    "abc",
    "Abc",
)

JSON_VALUES: tuple[Any, ...] = (
    {"a": 1, "b": [1, 2, 3]},
    ["error_type", "x"],
    {},
    [],
    {"error_type": "timeout", "nested": {"c": 2, "d": [3, {"e": "É"}]}},
    [1, 2, 3],
    [[1, 2], 3],
    {"b": [1, 2]},
    {"b": 1},
    {"k": None},
    {"k": True},
    {"k": 1},
    {"k": 1.5},
    ["k"],
    [{"a": 1}, {"b": 2}],
    {"émoji 😀": "ß", "%_\\": "quote'\""},
    {"": ""},
    {"a": {"b": {"c": []}}},
    [True, 1, "1", None],
    {"list": ["x", "y"], "n": -0.0},
)

# Fields a relation links through: (table, field) -> the (table, field) values it should match.
Partners = dict[tuple[str, str], list[tuple[str, str, RelationSpec]]]


@dataclass
class _Plan:
    table: TableSpec
    count: int
    ids: list[int]
    keys: list[Any]


def adversarial_rows(
    spec: Spec,
    existing: Tables,
    now: dt.datetime,
    *,
    per_table: int,
    seed: int,
    counts: dict[str, int] | None = None,
) -> dict[str, list[Row]]:
    """New rows for every table, keyed by schema name, ready for `insert(catalog.table(name))`.

    `counts` overrides `per_table` for some tables.
    """
    rng = random.Random(seed)
    plans: dict[str, _Plan] = {}
    for name in sorted(spec.tables):
        table = spec.tables[name]
        rows = existing.get(name, [])
        next_id = max((row["id"] for row in rows), default=0) + 1
        count = (counts or {}).get(name, per_table)
        ids = [next_id + i for i in range(count - 1)] + [HUGE_ID + len(plans)]
        taken = {row[table.key] for row in rows}
        keys = _unique_values(rng, table.key_field, count, taken)
        plans[name] = _Plan(table, count, ids, keys)
    partners = _partners(spec)
    # Values every link column may point at: the other side's existing and planned values.
    pool = _ValuePool(spec, existing, plans)
    out: dict[str, list[Row]] = {}
    for name in sorted(plans):
        out[name] = _table_rows(rng, spec, plans[name], existing.get(name, []), partners, pool, now)
    _add_cycles(spec, out)
    return out


def _partners(spec: Spec) -> Partners:
    partners: Partners = {}
    for relation in spec.relations:
        source = (relation.from_table, relation.from_field)
        target = (relation.to_table, relation.to_field)
        partners.setdefault(source, []).append((*target, relation))
        partners.setdefault(target, []).append((*source, relation))
    return partners


class _ValuePool:
    """Scalar values (list elements flattened) that each column holds or will hold."""

    def __init__(self, spec: Spec, existing: Tables, plans: dict[str, _Plan]) -> None:
        self.values: dict[tuple[str, str], list[Any]] = {}
        for name, table in spec.tables.items():
            for spec_field in table.fields:
                if spec_field.type is FieldType.JSON:
                    continue  # JSON never links
                seen: dict[Any, None] = {}
                for row in existing.get(name, []):
                    value = row[spec_field.name]
                    for item in value if isinstance(value, list) else [value]:
                        if item is not None:
                            seen[item] = None
                if spec_field.name == table.key:
                    seen.update(dict.fromkeys(plans[name].keys))
                self.values[(name, spec_field.name)] = list(seen)

    def of(self, table: str, field_name: str) -> list[Any]:
        return self.values.get((table, field_name), [])


def _table_rows(
    rng: random.Random,
    spec: Spec,
    plan: _Plan,
    existing: list[Row],
    partners: Partners,
    pool: _ValuePool,
    now: dt.datetime,
) -> list[Row]:
    table = plan.table
    uniques = {
        f.name: _unique_values(rng, f, plan.count, {row[f.name] for row in existing})
        for f in table.declared_fields
        if f.unique and f.name != table.key
    }
    moments = _moments(now)
    rows: list[Row] = []
    for i in range(plan.count):
        row: Row = {"id": plan.ids[i], table.key: plan.keys[i]}
        created = moments[i % len(moments)] if i % 3 else moments[0]  # ties on created_at
        row["created_at"] = created
        row["updated_at"] = max(created, moments[(i * 7) % len(moments)])
        conditions: dict[str, Any] = {}
        for spec_field in table.declared_fields:
            if spec_field.name == table.key:
                continue
            if spec_field.name in uniques:
                # Unique columns: distinct values, and one null when the column allows it.
                nullable = not spec_field.required
                row[spec_field.name] = None if nullable and i == 1 else uniques[spec_field.name][i]
                continue
            links = partners.get((table.name, spec_field.name))
            # Enum columns keep their own values: a link value could break their CHECK.
            # Lists of keys link nearly always: they are what the "hub" below is made of.
            chance = 0.95 if spec_field.type is FieldType.LIST else 0.75
            if links and spec_field.type is not FieldType.ENUM and rng.random() < chance:
                other_table, other_field, relation = rng.choice(links)
                others = [v for v in pool.of(other_table, other_field) if _fits(spec_field, v)]
                row[spec_field.name] = _link_value(rng, spec_field, others, i)
                if relation.where and relation.from_table == table.name and rng.random() < 0.7:
                    conditions.update(dict(relation.where))
                continue
            row[spec_field.name] = _value(rng, spec_field, existing, now, i)
        row.update(conditions)  # often make a conditional relation's `where` hold
        rows.append(row)
    return rows


def _link_value(rng: random.Random, spec_field: FieldSpec, others: list[Any], i: int) -> Any:
    """A value that links: mostly one the other side holds, sometimes a dangling one."""
    dangling = _dangling(spec_field)
    if spec_field.type is FieldType.LIST:
        if i % 7 == 3:
            return None
        if i % 7 == 4:
            return []
        chosen = [rng.choice(others) for _ in range(rng.randint(1, 3))] if others else []
        if others and rng.random() < 0.95:
            # One "hub" row that nearly every list names: with enough rows, more than the
            # default page of 100 linked rows hang off one parent.
            chosen.append(others[0])
        if chosen and rng.random() < 0.5:
            chosen.append(chosen[0])  # the same key twice
        if rng.random() < 0.3:
            chosen.append(dangling)
        return [_fit(spec_field, item) for item in chosen]
    if i % 9 == 5 and not spec_field.required:
        return None
    if not others or rng.random() < 0.12:
        return _fit(spec_field, dangling)
    return _fit(spec_field, rng.choice(others))


def _fits(spec_field: FieldSpec, value: Any) -> bool:
    """Whether a value of the other side of a link may be stored in this column."""
    element = spec_field.of if spec_field.type is FieldType.LIST else spec_field.type
    if element in (FieldType.INT, FieldType.BIGINT):
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        if spec_field.type is FieldType.LIST:
            return (
                (INT32 if element is FieldType.INT else BIGINT)[0]
                <= value
                <= (INT32 if element is FieldType.INT else BIGINT)[1]
            )
        low, high = _int_bounds(spec_field)
        return low <= value <= high
    if element is FieldType.UUID:
        try:
            return isinstance(value, str) and str(uuid.UUID(value)) == value
        except ValueError:
            return False
    return isinstance(value, str)


def _dangling(spec_field: FieldSpec) -> Any:
    element = spec_field.of if spec_field.type is FieldType.LIST else spec_field.type
    if element in (FieldType.INT, FieldType.BIGINT):
        return 1_999_999_999 if element is FieldType.INT else 2**62 + 7
    if element is FieldType.UUID:
        return "00000000-0000-4000-8000-00000000dead"
    return "missing-row-%_\\"


def _fit(spec_field: FieldSpec, value: Any) -> Any:
    """The value, cut to the column's max_length (which a link value may exceed)."""
    if isinstance(value, str) and spec_field.max_length is not None:
        return value[: spec_field.max_length]
    return value


def _unique_values(
    rng: random.Random, spec_field: FieldSpec, count: int, taken: set[Any]
) -> list[Any]:
    values: list[Any] = []
    seen = set(taken)
    kind = spec_field.type
    candidates: Iterable[Any]
    if kind in (FieldType.INT, FieldType.BIGINT):
        low, high = _int_bounds(spec_field)
        edges = [low, high, 0, -1, 1, high - 1, low + 1]
        candidates = [v for v in edges if low <= v <= high] + list(range(2, 10_000))
    elif kind is FieldType.UUID:
        candidates = (str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(10_000))
    else:
        # Keys that collate, fold and escape badly, made unique by a counter.
        candidates = (f"{STRINGS[n % len(STRINGS)]}·{n}" for n in range(10_000))
    for value in candidates:
        value = _fit(spec_field, value)
        if value in seen or value == "":
            continue
        seen.add(value)
        values.append(value)
        if len(values) == count:
            return values
    raise AssertionError(f"cannot make {count} unique values for {spec_field.name}")


def _int_bounds(spec_field: FieldSpec) -> tuple[int, int]:
    low, high = INT32 if spec_field.type is FieldType.INT else BIGINT
    if spec_field.min is not None:
        low = max(low, int(spec_field.min))
    if spec_field.max is not None:
        high = min(high, int(spec_field.max))
    return low, high


def _numbers(spec_field: FieldSpec) -> list[Any]:
    if spec_field.type is FieldType.FLOAT:
        low = -1.7976931348623157e308 if spec_field.min is None else spec_field.min
        high = 1.7976931348623157e308 if spec_field.max is None else spec_field.max
        edges = [1e308, -1e308, 5e-324, -5e-324, -0.0, 0.0, 0.5, 1.0, 0.1, 2.5, 1e-300, 100.0]
        return [v for v in edges if low <= v <= high]
    low, high = _int_bounds(spec_field)
    edges = [low, high, 0, 1, -1, 7, 42, high - 1, 2**53 + 1, -(2**53) - 1]
    return [v for v in edges if low <= v <= high]


def _moments(now: dt.datetime) -> list[dt.datetime]:
    """Datetimes on the edges of the relative-time windows, and ties."""
    week = now - dt.timedelta(days=7)
    micro = dt.timedelta(microseconds=1)
    return [
        now,
        week,
        week - micro,
        week + micro,
        now + micro,
        now - dt.timedelta(hours=12),
        now.replace(month=2, day=28) if now.month == 3 else now - dt.timedelta(days=30),
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2000, 1, 1, 0, 0, 0, 999999, tzinfo=dt.UTC),
        now - dt.timedelta(days=365),
        now + dt.timedelta(days=400),
    ]


def _days(now: dt.datetime) -> list[dt.date]:
    today = now.astimezone(dt.UTC).date()
    day = dt.timedelta(days=1)
    return [
        today,
        today - 7 * day,
        today - 8 * day,
        today + day,
        today - day,
        today.replace(month=2, day=28) if today.month == 3 else today - 30 * day,
        dt.date(1970, 1, 1),
        dt.date(1, 1, 1),
        dt.date(9999, 12, 31),
    ]


def _value(
    rng: random.Random, spec_field: FieldSpec, existing: list[Row], now: dt.datetime, i: int
) -> Any:
    nullable = not spec_field.required
    if nullable and (i % 5 == 2 or rng.random() < 0.15):
        return None  # nulls in every nullable column
    # Ties: a value another row already holds.
    held = [row[spec_field.name] for row in existing if row[spec_field.name] is not None]
    if held and spec_field.type is not FieldType.LIST and rng.random() < 0.2:
        return held[rng.randrange(len(held))]
    kind = spec_field.type
    if kind in (FieldType.STRING, FieldType.TEXT):
        return _fit(spec_field, rng.choice(STRINGS))
    if kind is FieldType.UUID:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if kind is FieldType.ENUM:
        return rng.choice(spec_field.values)
    if kind in (FieldType.INT, FieldType.BIGINT, FieldType.FLOAT):
        return rng.choice(_numbers(spec_field))
    if kind is FieldType.BOOL:
        return rng.random() < 0.5
    if kind is FieldType.DATE:
        return rng.choice(_days(now))
    if kind is FieldType.DATETIME:
        return rng.choice(_moments(now))
    if kind is FieldType.JSON:
        return rng.choice(JSON_VALUES)
    if kind is FieldType.LIST:
        return _list_value(rng, spec_field, i)
    raise AssertionError(f"unknown type {kind}")


def _list_value(rng: random.Random, spec_field: FieldSpec, i: int) -> list[Any]:
    if i % 6 == 1:
        return []
    element = spec_field.of
    if element is FieldType.STRING:
        items: list[Any] = rng.sample(STRINGS, rng.randint(1, 3))
    elif element is FieldType.BOOL:
        items = [rng.random() < 0.5 for _ in range(rng.randint(1, 3))]
    else:
        fake = FieldSpec(
            name=spec_field.name,
            type=element or FieldType.INT,
            description="",
            pos=spec_field.pos,
        )
        items = rng.sample(_numbers(fake), rng.randint(1, 3))
    if rng.random() < 0.5:
        items.append(items[0])  # duplicates inside the list
    return items


def _add_cycles(spec: Spec, out: dict[str, list[Row]]) -> None:
    """Self-references that loop: a -> b -> a, and a row that is its own parent."""
    for relation in spec.relations:
        if relation.from_table != relation.to_table or relation.where:
            continue
        table = spec.table(relation.from_table)
        source = table.field(relation.from_field)
        if source.type is FieldType.LIST or len(out[table.name]) < 3:
            continue
        rows = out[table.name]
        a, b, c = rows[0], rows[1], rows[2]
        a[relation.from_field] = _fit(source, b[relation.to_field])
        b[relation.from_field] = _fit(source, a[relation.to_field])
        c[relation.from_field] = _fit(source, c[relation.to_field])
