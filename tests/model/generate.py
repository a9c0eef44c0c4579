"""Hypothesis strategies for GraphQL documents, driven by the spec and the data.

The generator knows the spec (fields, types, relations, keys) and the decoded rows, so that most
constants are values the data holds (filters then match something) and the rest are
adversarial. It builds an abstract request (`Sel` trees whose argument values may be wrapped in
`Var` to travel as variables) and renders it to a document and its variables; the model and the
server both read only the rendered text.

Cases:
- `query_cases`: one to three root fields (lists, lookups, first pages of connections) with
  filters, orderings, pages, nested relation fields and aliases;
- `walk_cases`: one connection, walked page by page with a small `first` (the test drives it);
- `bad_cases`: inputs docs/api.md calls `BAD_USER_INPUT`;
- `cursor_cases`: a cursor altered, forged, or used with another ordering or table.

Limits kept (docs/api.md, docs/operations.md): depth 12, 30 aliases, 5,000 tokens, pages and
value lists up to 1000, filter nesting up to 32.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from graphql.language import Lexer, Source, TokenKind
from hypothesis import assume
from hypothesis import strategies as st

from graph.naming import (
    connection_root_name,
    enum_filter_name,
    enum_type_name,
    list_filter_name,
    many_where_input_name,
    order_input_name,
    where_input_name,
)
from graph.spec.model import FieldSpec, FieldType, RelationEnd, Spec, TableSpec
from tests.model.adversarial import JSON_VALUES, STRINGS
from tests.model.evaluate import Model, find_member
from tests.model.rows import Row, Tables

MAX_TOKENS = 5000
MAX_ALIASES = 30
MAX_DEPTH = 12
NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
DIRECTIONS = (
    "ASC",
    "DESC",
    "ASC_NULLS_FIRST",
    "ASC_NULLS_LAST",
    "DESC_NULLS_FIRST",
    "DESC_NULLS_LAST",
)
DATETIME_DURATIONS = (
    "P7D",
    "PT12H",
    "P1M",
    "P1Y",
    "P2W",
    "P1DT6H",
    "p7d",
    "pt12h",
    "P30D",
    "PT1S",
    "PT90M",
    "P0D",
    "P365D",
    "P3M",
    "P5Y",
    "PT1H30M15S",
)
DATE_DURATIONS = ("P7D", "P1D", "P0D", "P2W", "P1M", "P1Y", "p3d", "P30D", "P5Y", "P1W", "P3M")
ALIAS_STEMS = ("a", "x_", "alias", "_", "Node", "id2", "first", "where", "data", "z9")
T = TypeVar("T")

OPERATORS: dict[FieldType, tuple[str, ...]] = {
    FieldType.STRING: (
        *("eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "isNull"),
        *("contains", "startsWith", "endsWith", "like", "ilike"),
    ),
    FieldType.INT: ("eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "isNull"),
    FieldType.BOOL: ("eq", "neq", "isNull"),
    FieldType.ENUM: ("eq", "neq", "in", "nin", "isNull"),
    FieldType.DATE: (
        *("eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "isNull"),
        *("withinLast", "olderThan"),
    ),
    FieldType.JSON: ("contains", "hasKey", "isNull"),
    FieldType.LIST: ("includes", "includesAny", "includesAll", "isNull"),
}
OPERATORS[FieldType.TEXT] = OPERATORS[FieldType.UUID] = OPERATORS[FieldType.STRING]
OPERATORS[FieldType.BIGINT] = OPERATORS[FieldType.FLOAT] = OPERATORS[FieldType.INT]
OPERATORS[FieldType.DATETIME] = OPERATORS[FieldType.DATE]


# -- the abstract request -------------------------------------------------------------------------


@dataclass(frozen=True)
class Var:
    """This value travels as a variable instead of an inline literal (named, or `v<n>`)."""

    value: Any
    name: str | None = None


@dataclass(frozen=True)
class GType:
    """What the renderer needs to know about an input position."""

    kind: str  # where many ops order item scalar enum list json direction
    name: str = ""  # GraphQL type name
    table: TableSpec | None = None
    field: FieldSpec | None = None
    inner: GType | None = None

    @property
    def gql(self) -> str:
        if self.kind == "list":
            assert self.inner is not None
            return f"[{self.inner.gql}!]"
        return self.name


def scalar_type(spec_field: FieldSpec, element: bool = False) -> GType:
    kind = spec_field.of if element else spec_field.type
    assert kind is not None
    if kind is FieldType.ENUM:
        # An enum type is named after its table too: `value_type` knows the table.
        raise AssertionError("enum types need their table: use value_type")
    names = {
        FieldType.STRING: "String",
        FieldType.TEXT: "String",
        FieldType.UUID: "String",
        FieldType.INT: "Int",
        FieldType.BIGINT: "BigInt",
        FieldType.FLOAT: "Float",
        FieldType.BOOL: "Boolean",
        FieldType.DATE: "Date",
        FieldType.DATETIME: "DateTime",
        FieldType.JSON: "JSON",
    }
    return GType("json" if kind is FieldType.JSON else "scalar", names[kind])


def value_type(table: TableSpec, spec_field: FieldSpec) -> GType:
    if spec_field.type is FieldType.ENUM:
        return GType("enum", enum_type_name(table.type_name, spec_field.name))
    return scalar_type(spec_field)


def where_type(table: TableSpec) -> GType:
    return GType("where", where_input_name(table.type_name), table=table)


def many_type(table: TableSpec) -> GType:
    return GType("many", many_where_input_name(table.type_name), table=table)


def order_item_type(table: TableSpec) -> GType:
    return GType("item", order_input_name(table.type_name), table=table)


def order_type(table: TableSpec) -> GType:
    return GType("list", inner=order_item_type(table))


def ops_type(table: TableSpec, spec_field: FieldSpec) -> GType:
    kind = spec_field.type
    if kind is FieldType.ENUM:
        name = enum_filter_name(table.type_name, spec_field.name)
    elif kind is FieldType.LIST:
        assert spec_field.of is not None
        name = list_filter_name(spec_field.of.value)
    else:
        name = {
            FieldType.STRING: "StringFilter",
            FieldType.TEXT: "StringFilter",
            FieldType.UUID: "StringFilter",
            FieldType.INT: "IntFilter",
            FieldType.BIGINT: "BigIntFilter",
            FieldType.FLOAT: "FloatFilter",
            FieldType.BOOL: "BoolFilter",
            FieldType.DATE: "DateFilter",
            FieldType.DATETIME: "DateTimeFilter",
            FieldType.JSON: "JSONFilter",
        }[kind]
    return GType("ops", name, table=table, field=spec_field)


STRING = GType("scalar", "String")
INT = GType("scalar", "Int")
BIGINT = GType("scalar", "BigInt")
BOOLEAN = GType("scalar", "Boolean")
DIRECTION = GType("direction", "SortDirection")


def member(table: TableSpec, name: str) -> FieldSpec | RelationEnd:
    found = find_member(table, name)
    if found is None:
        raise KeyError(name)
    return found


def child_type(parent: GType, key: str, spec: Spec) -> GType:
    """The input type of entry `key` inside an input object of type `parent`."""
    table = parent.table
    if parent.kind == "where":
        assert table is not None
        if key in ("and", "or"):
            return GType("list", inner=where_type(table))
        if key == "not":
            return where_type(table)
        found = member(table, key)
        if isinstance(found, FieldSpec):
            return ops_type(table, found)
        target = spec.table(found.target)
        return many_type(target) if found.many else where_type(target)
    if parent.kind == "many":
        assert table is not None
        return where_type(table)
    if parent.kind == "item":
        assert table is not None
        found = member(table, key)
        if isinstance(found, FieldSpec):
            return DIRECTION
        return order_item_type(spec.table(found.target))
    if parent.kind == "ops":
        assert table is not None and parent.field is not None
        spec_field = parent.field
        if key == "isNull":
            return BOOLEAN
        if spec_field.type is FieldType.JSON:
            return GType("json", "JSON") if key == "contains" else STRING
        if spec_field.type is FieldType.LIST:
            element = scalar_type(spec_field, element=True)
            return element if key == "includes" else GType("list", inner=element)
        if key in ("contains", "startsWith", "endsWith", "like", "ilike"):
            return STRING
        if key in ("withinLast", "olderThan"):
            return STRING
        scalar = value_type(table, spec_field)
        return GType("list", inner=scalar) if key in ("in", "nin") else scalar
    raise AssertionError(f"no entries in {parent}")


@dataclass
class Sel:
    """One selected field: its name, alias, arguments (value, type) and sub-selection."""

    name: str
    alias: str | None = None
    args: dict[str, tuple[Any, GType]] = field(default_factory=dict)
    children: list[Sel] | None = None

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass(frozen=True)
class Case:
    document: str
    variables: dict[str, Any]
    label: str = ""
    # A walk: the response key of the connection to walk; the test sets $first and $after.
    walk_key: str | None = None
    first: int = 0
    # A cursor case: how to spoil the first page's cursor before the second document uses it
    # as $after.
    cursor_trick: str | None = None
    second_document: str = ""
    second_variables: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        variables = json.dumps(self.variables, ensure_ascii=False, indent=1, default=str)
        label = f"[{self.label}]\n" if self.label else ""
        return f"{label}{self.document}\nvariables: {variables}"


# -- rendering ------------------------------------------------------------------------------------


def graphql_string(text: str) -> str:
    """A GraphQL string literal (JSON's escapes are GraphQL's)."""
    return json.dumps(text, ensure_ascii=False)


def graphql_float(number: float) -> str:
    text = repr(float(number))
    assert math.isfinite(number), text
    return text


class Renderer:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.definitions: list[str] = []
        self.variables: dict[str, Any] = {}

    def variable(self, value: Any, gtype: GType, name: str | None = None) -> str:
        name = name or f"v{len(self.definitions)}"
        self.definitions.append(f"${name}: {gtype.gql}")
        self.variables[name] = strip_vars(value)
        return f"${name}"

    def literal(self, value: Any, gtype: GType) -> str:
        if isinstance(value, Var):
            return self.variable(value.value, gtype, value.name)
        if value is None:
            return "null"
        kind = gtype.kind
        if kind == "list":
            assert gtype.inner is not None
            if not isinstance(value, list):  # a single value where a list goes: coerced
                return self.literal(value, gtype.inner)
            return "[" + ", ".join(self.literal(v, gtype.inner) for v in value) + "]"
        if kind in ("where", "many", "ops", "item"):
            parts = [
                f"{key}: {self.literal(v, child_type(gtype, key, self.spec))}"
                for key, v in value.items()
            ]
            return "{" + ", ".join(parts) + "}"
        if kind in ("enum", "direction"):
            return str(value)
        if kind == "json":
            if not json_literal_ok(value):
                return self.variable(value, gtype)
            return json_literal(value)
        return scalar_literal(value, gtype.name)

    def selection(self, sels: list[Sel], indent: int) -> str:
        pad = "  " * indent
        lines = []
        for sel in sels:
            head = f"{sel.alias}: {sel.name}" if sel.alias else sel.name
            if sel.args:
                args = ", ".join(
                    f"{name}: {self.literal(value, gtype)}"
                    for name, (value, gtype) in sel.args.items()
                )
                head += f"({args})"
            if sel.children is not None:
                head += " {\n" + self.selection(sel.children, indent + 1) + "\n" + pad + "}"
            lines.append(pad + head)
        return "\n".join(lines)

    def document(self, roots: list[Sel]) -> tuple[str, dict[str, Any]]:
        body = self.selection(roots, 1)
        head = "query"
        if self.definitions:
            head += "(" + ", ".join(self.definitions) + ")"
        return f"{head} {{\n{body}\n}}", self.variables


def strip_vars(value: Any) -> Any:
    if isinstance(value, Var):
        return strip_vars(value.value)
    if isinstance(value, dict):
        return {k: strip_vars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_vars(v) for v in value]
    return value


def scalar_literal(value: Any, type_name: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return graphql_float(value)
    if isinstance(value, str):
        return graphql_string(value)
    raise AssertionError(f"no {type_name} literal for {value!r}")


def json_literal_ok(value: Any) -> bool:
    if isinstance(value, dict):
        return all(NAME.match(k) and json_literal_ok(v) for k, v in value.items())
    if isinstance(value, list):
        return all(json_literal_ok(v) for v in value)
    return True


def json_literal(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {json_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(json_literal(v) for v in value) + "]"
    if value is None:
        return "null"
    return scalar_literal(value, "JSON")


def count_tokens(document: str) -> int:
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def depth(sels: list[Sel]) -> int:
    return max((1 + (depth(s.children) if s.children else 0) for s in sels), default=0)


def alias_count(sels: list[Sel]) -> int:
    return sum((1 if s.alias else 0) + alias_count(s.children or []) for s in sels)


def render(spec: Spec, roots: list[Sel]) -> tuple[str, dict[str, Any]]:
    document, variables = Renderer(spec).document(roots)
    # The server's limits are not under test here: keep every document inside them.
    assume(depth(roots) <= MAX_DEPTH and alias_count(roots) <= MAX_ALIASES)
    assume(count_tokens(document) <= MAX_TOKENS)
    return document, variables


# -- drawing --------------------------------------------------------------------------------------


class Draw:
    """A thin layer over hypothesis' `draw` that reads like `random`."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw

    def chance(self, p: float) -> bool:
        return bool(self.draw(st.integers(0, 999)) < p * 1000)

    def int(self, low: int, high: int) -> int:
        return int(self.draw(st.integers(low, high)))

    def choice(self, items: Sequence[T]) -> T:
        assert items, "choice from nothing"
        return items[self.int(0, len(items) - 1)]

    def sample(self, items: Sequence[T], count: int) -> list[T]:
        pool = list(items)
        return [pool.pop(self.int(0, len(pool) - 1)) for _ in range(min(count, len(pool)))]


NO_PIVOT: Any = object()  # no pivot row: draw the operand from all the data
# The operators whose values a revalued case draws again.
COMPARED = ("eq", "neq", "gt", "gte", "lt", "lte", "in", "nin")


def _same_form(old: Any, fresh: Any) -> Any:
    """`fresh` as a variable when `old` was one (under the same name), else inline."""
    return Var(fresh, old.name) if isinstance(old, Var) else fresh


def _shifted(value: Any, step: dt.timedelta) -> Any:
    """The value moved by `step`, or left alone at the ends of the calendar (years 1 and 9999)."""
    try:
        return value + step
    except OverflowError:
        return value


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


class Generator:
    """Strategies over one spec and its data."""

    def __init__(self, spec: Spec, tables: Tables, now: dt.datetime) -> None:
        self.spec = spec
        self.tables = tables
        self.now = now
        self.names = sorted(spec.tables)
        # Which rows link to which: to build relation filters around linked rows.
        self.links = Model(spec, tables, now)
        # Values each column holds (list elements one by one), in a fixed order.
        self.values: dict[tuple[str, str], list[Any]] = {}
        for name, table in spec.tables.items():
            for spec_field in table.fields:
                seen: dict[str, Any] = {}
                for row in tables[name]:
                    value = row[spec_field.name]
                    if value is None:
                        continue
                    items = value if spec_field.type is FieldType.LIST else [value]
                    for item in items:
                        seen.setdefault(_sort_key(item), item)
                self.values[(name, spec_field.name)] = [seen[k] for k in sorted(seen)]

    # -- constants --------------------------------------------------------------------------------

    def held(self, table: TableSpec, spec_field: FieldSpec) -> list[Any]:
        return self.values[(table.name, spec_field.name)]

    def constant(self, d: Draw, table: TableSpec, spec_field: FieldSpec) -> Any:
        """A value for eq/gt/in...: mostly one the data holds, else an adversarial one."""
        held = self.held(table, spec_field)
        kind = spec_field.type
        if kind is FieldType.ENUM:
            return d.choice(spec_field.values).upper()
        if kind is FieldType.BOOL:
            return d.chance(0.5)
        if held and d.chance(0.8):
            value = d.choice(held)
        else:
            value = self.adversarial_constant(d, spec_field)
        return self.input_form(d, spec_field.type, value)

    def adversarial_constant(self, d: Draw, spec_field: FieldSpec) -> Any:
        kind = spec_field.type
        if kind in (FieldType.STRING, FieldType.TEXT):
            return d.choice(STRINGS)
        if kind is FieldType.UUID:
            return d.choice(
                ["00000000-0000-4000-8000-000000000000", "ffffffff-ffff-4fff-bfff-ffffffffffff"]
            )
        if kind is FieldType.INT:
            return d.choice([0, -1, 1, 2**31 - 1, -(2**31), 100])
        if kind is FieldType.BIGINT:
            return d.choice([0, -1, 2**63 - 1, -(2**63), 2**53 + 1, -(2**53) - 1])
        if kind is FieldType.FLOAT:
            return d.choice([0.0, -0.0, 5e-324, 1e308, -1e308, 0.5, 1.0, 0.1])
        if kind is FieldType.DATE:
            return self.now.date() - dt.timedelta(days=d.int(-2, 10))
        if kind is FieldType.DATETIME:
            return self.now - dt.timedelta(days=7) + dt.timedelta(microseconds=d.int(-1, 1))
        raise AssertionError(kind)

    def input_form(self, d: Draw, kind: FieldType, value: Any) -> Any:
        """The value as a client writes it: dates as text, BigInt as a number or a string."""
        if kind is FieldType.BIGINT:
            # Negative numbers stay JSON integers: "a string of digits" has no sign.
            return str(value) if value >= 0 and d.chance(0.4) else value
        if kind is FieldType.DATE:
            return _shifted(value, dt.timedelta(days=d.choice([0, 0, 0, -1, 1]))).isoformat()
        if kind is FieldType.DATETIME:
            step = dt.timedelta(microseconds=d.choice([0, 0, 0, -1, 1]))
            return self.datetime_text(d, _shifted(value, step))
        if kind is FieldType.FLOAT:
            return float(value)
        return value

    def datetime_text(self, d: Draw, moment: dt.datetime) -> str:
        """RFC 3339 in one of the forms a client may send: Z or an offset, 0 to 6 digits."""
        utc = moment.astimezone(dt.UTC).replace(tzinfo=None)
        form = d.int(0, 3)
        if form == 0:
            return utc.isoformat(timespec="microseconds") + "Z"
        if form == 1:
            # As few fractional digits as the value needs (0 to 6).
            text = utc.isoformat(timespec="microseconds").rstrip("0").rstrip(".")
            return text + "Z"
        offset = d.choice([dt.timedelta(hours=5, minutes=30), dt.timedelta(hours=-8)])
        if utc.year <= 1 or utc.year >= 9999:  # no room for an offset at the calendar's ends
            return utc.isoformat(timespec="microseconds") + "Z"
        local = moment.astimezone(dt.timezone(offset))
        return local.isoformat(timespec="microseconds" if form == 2 else "auto")

    def text_fragment(
        self, d: Draw, table: TableSpec, spec_field: FieldSpec, op: str, value: str | None
    ) -> str:
        held = [v for v in self.held(table, spec_field) if isinstance(v, str)]
        if value is None:
            if not held or d.chance(0.15):
                return d.choice(STRINGS)
            value = d.choice(held)
        if op == "startsWith":
            return value[: d.int(0, len(value))]
        if op == "endsWith":
            return value[d.int(0, len(value)) :]
        start = d.int(0, len(value))
        return value[start : d.int(start, len(value))]

    def like_pattern(
        self, d: Draw, table: TableSpec, spec_field: FieldSpec, ilike: bool, value: str | None
    ) -> str:
        """A pattern from a value: `_` and `%` for some characters, `\\` escapes mixed in."""
        held = [v for v in self.held(table, spec_field) if isinstance(v, str)]
        if value is None:
            value = d.choice(held) if held and d.chance(0.85) else d.choice(STRINGS)
        parts: list[str] = []
        i = 0
        while i < len(value):
            char = value[i]
            roll = d.int(0, 19)
            if roll == 0:
                parts.append("_")
            elif roll == 1:
                # A run of characters (maybe none) becomes one %.
                parts.append("%")
                i += d.int(0, 3)
                continue
            elif char in "%_\\":
                # Escaped, it stands for itself; left bare, % and _ are wildcards (a bare \ would
                # escape the next character, so it is always escaped).
                parts.append("\\" + char if char == "\\" or d.chance(0.7) else char)
            elif roll == 2:
                parts.append("\\" + char)  # \ before an ordinary character is that character
            else:
                parts.append(char)
            i += 1
        pattern = "".join(parts)
        if d.chance(0.2):
            pattern = "%" + pattern
        if d.chance(0.2):
            pattern += "%"
        if ilike and d.chance(0.7):
            pattern = pattern.upper() if d.chance(0.5) else pattern.lower()
        return pattern

    def json_part(self, d: Draw, table: TableSpec, spec_field: FieldSpec) -> Any:
        """A document some stored value contains, or one it nearly contains."""
        held = [v for v in self.tables[table.name] if v[spec_field.name] is not None]
        if not held or d.chance(0.15):
            return d.choice(JSON_VALUES)
        value = d.choice(held)[spec_field.name]
        if d.chance(0.25):
            return self.json_near_miss(d, value)
        return self.json_sub(d, value, top=True)

    def json_sub(self, d: Draw, value: Any, top: bool) -> Any:
        if isinstance(value, dict):
            keys = d.sample(sorted(value), d.int(0, len(value)))
            return {
                k: self.json_sub(d, value[k], top=False) if d.chance(0.6) else value[k]
                for k in keys
            }
        if isinstance(value, list):
            if top and value and d.chance(0.3):
                item = d.choice(value)
                # An array contains its scalar elements, at the top level only (a JSON null
                # would be an operator given null: a bad input, not this case's business).
                if item is not None and not isinstance(item, dict | list):
                    return item
            picked = [d.choice(value) for _ in range(d.int(0, min(3, len(value))))] if value else []
            return [self.json_sub(d, item, top=False) for item in picked]
        if isinstance(value, int) and not isinstance(value, bool) and d.chance(0.3):
            return float(value)  # 1 equals 1.0
        return value

    def json_near_miss(self, d: Draw, value: Any) -> Any:
        if isinstance(value, dict) and value:
            key = d.choice(sorted(value))
            inner = value[key]
            if isinstance(inner, list) and inner:
                return {key: inner[0]}  # {"b": [1, 2]} does not contain {"b": 1}
            if isinstance(inner, bool | int) and not isinstance(inner, float):
                return {key: (not inner) if isinstance(inner, bool) else inner + 1}
            return {key: [inner]}
        if isinstance(value, list) and value:
            item = d.choice(value)
            return [[item]] if not isinstance(item, list) else item
        return {"missing": value}

    def json_key(self, d: Draw, table: TableSpec, spec_field: FieldSpec) -> str:
        keys: set[str] = {"", "k", "error_type", "a", "missing"}
        for row in self.tables[table.name]:
            value = row[spec_field.name]
            if isinstance(value, dict):
                keys.update(value)
                for inner in value.values():
                    if isinstance(inner, dict):
                        keys.update(inner)  # nested keys: not top-level, never a match
            elif isinstance(value, list):
                keys.update(v for v in value if isinstance(v, str))
        return d.choice(sorted(keys))

    def element(self, d: Draw, table: TableSpec, spec_field: FieldSpec) -> Any:
        held = self.held(table, spec_field)
        element = spec_field.of
        assert element is not None
        if held and d.chance(0.8):
            value = d.choice(held)
        elif element is FieldType.STRING:
            value = d.choice(STRINGS)
        elif element is FieldType.BOOL:
            value = d.chance(0.5)
        elif element is FieldType.FLOAT:
            value = d.choice([0.0, -0.0, 1e308, 5e-324, 0.5])
        elif element is FieldType.INT:
            value = d.choice([0, -1, 2**31 - 1, -(2**31)])
        else:
            value = d.choice([0, 2**63 - 1, -(2**63), 2**53 + 1])
        return self.input_form(d, element, value)

    # -- filters ----------------------------------------------------------------------------------

    def maybe_var(self, d: Draw, value: Any, p: float = 0.15) -> Any:
        return Var(value) if d.chance(p) else value

    def pivot(self, d: Draw, table: TableSpec, among: list[Row] | None = None) -> Row | None:
        """A row the filter is built around, so that it matches something (mostly)."""
        rows = self.tables[table.name] if among is None else among
        if not rows or d.chance(0.15):
            return None
        return d.choice(rows)

    def operators(
        self, d: Draw, table: TableSpec, spec_field: FieldSpec, pivot: Row | None
    ) -> dict[str, Any]:
        value = NO_PIVOT if pivot is None else pivot[spec_field.name]
        if value is None and d.chance(0.5):
            return {"isNull": self.maybe_var(d, True)}
        out: dict[str, Any] = {}
        for op in d.sample(OPERATORS[spec_field.type], 1 if d.chance(0.75) else 2):
            out[op] = self.maybe_var(d, self.operand(d, table, spec_field, op, value))
        return out

    def operand(self, d: Draw, table: TableSpec, spec_field: FieldSpec, op: str, value: Any) -> Any:
        """An operator's argument; built from the pivot's `value` when there is one."""
        kind = spec_field.type
        if op == "isNull":
            return value is None if value is not NO_PIVOT and d.chance(0.8) else d.chance(0.5)
        usable = value is not NO_PIVOT and value is not None and d.chance(0.8)
        if kind is FieldType.JSON:
            if op == "contains":
                if usable:
                    return self.json_sub(d, value, top=True)
                return self.json_part(d, table, spec_field)
            if usable and isinstance(value, dict) and value:
                return d.choice(sorted(value))
            return self.json_key(d, table, spec_field)
        if kind is FieldType.LIST:
            assert spec_field.of is not None
            mine = [self.input_form(d, spec_field.of, v) for v in value] if usable else []
            if op == "includes":
                return d.choice(mine) if mine else self.element(d, table, spec_field)
            count = d.choice([0, 1, 1, 2, 2, 3, 4])
            others = [self.element(d, table, spec_field) for _ in range(count)]
            if op == "includesAll" and mine:
                return d.sample(mine, d.int(0, len(mine)))
            if mine:
                others.insert(d.int(0, len(others)), d.choice(mine))
            return others
        own = self.input_form(d, kind, value) if usable else None
        if kind is FieldType.ENUM and usable:
            own = value.upper()
        if op in ("in", "nin"):
            if d.chance(0.03):
                # A long list, close to the limit of 1000 values.
                return Var([self.constant(d, table, spec_field) for _ in range(d.int(100, 300))])
            count = d.choice([0, 1, 2, 2, 3, 4])
            values = [self.constant(d, table, spec_field) for _ in range(count)]
            if op == "in" and own is not None:
                values.insert(d.int(0, len(values)), own)
            if len(values) == 1 and d.chance(0.2):
                return values[0]  # one value where a list goes: GraphQL makes it a list
            return values
        text = value if usable and isinstance(value, str) else None
        if op in ("contains", "startsWith", "endsWith"):
            return self.text_fragment(d, table, spec_field, op, text)
        if op in ("like", "ilike"):
            return self.like_pattern(d, table, spec_field, op == "ilike", text)
        if op in ("withinLast", "olderThan"):
            durations = DATE_DURATIONS if kind is FieldType.DATE else DATETIME_DURATIONS
            return d.choice(durations)
        if own is not None and op in ("eq", "gte", "lte"):
            return own
        return self.constant(d, table, spec_field)

    def where(
        self, d: Draw, table: TableSpec, budget: int, pivot: Row | None = None
    ) -> dict[str, Any]:
        """A filter, mostly true for `pivot`; `budget` bounds its nesting."""
        out: dict[str, Any] = {}
        roll = d.int(0, 39)
        if roll == 0:
            return {}
        if budget > 0 and roll == 1:
            return {"not": {}}
        if budget > 0 and roll == 2:
            return {d.choice(["and", "or"]): []}
        for _ in range(d.choice([1, 1, 1, 2, 2, 3])):
            kind = d.int(0, 19)
            if kind < 12 or budget <= 0:
                spec_field = d.choice(table.fields)
                if spec_field.gql_name in out:
                    continue
                out[spec_field.gql_name] = self.operators(d, table, spec_field, pivot)
            elif kind < 15 and table.relations:
                end = d.choice(table.relations)
                if end.gql_name in out:
                    continue
                out[end.gql_name] = self.relation_filter(d, end, budget - 1, pivot)
            elif kind < 19:
                combinator = d.choice(["and", "or", "not"])
                if combinator in out:
                    continue
                if combinator == "not":
                    # Around the same pivot: the pivot (mostly) drops out.
                    out["not"] = self.where(d, table, budget - 1, pivot)
                else:
                    items = [
                        self.where(
                            d,
                            table,
                            budget - 1,
                            pivot if i == 0 or combinator == "and" else self.pivot(d, table),
                        )
                        for i in range(d.int(0, 3))
                    ]
                    out[combinator] = items[0] if len(items) == 1 and d.chance(0.2) else items
            else:
                # Entries given as null count as not given.
                name = d.choice(["not", "and", "or", d.choice(table.fields).gql_name])
                out.setdefault(name, None)
        return out

    def relation_filter(
        self, d: Draw, end: RelationEnd, budget: int, pivot: Row | None
    ) -> dict[str, Any]:
        target = self.spec.table(end.target)
        linked = self.links.linked(end, pivot) if pivot is not None else None
        if not end.many:
            if d.chance(0.2):
                return {}
            return self.where(d, target, budget, self.pivot(d, target, linked or None))
        out: dict[str, Any] = {}
        for quantifier in d.sample(["some", "none", "every"], d.choice([0, 1, 1, 1, 2, 3])):
            if d.chance(0.1):
                out[quantifier] = {}
                continue
            # some/every around a linked row; none around any row of the target.
            among = linked or None if quantifier != "none" else None
            out[quantifier] = self.where(d, target, budget, self.pivot(d, target, among))
        return out

    # -- ordering ---------------------------------------------------------------------------------

    def sortable(self, table: TableSpec) -> list[FieldSpec | RelationEnd]:
        fields: list[FieldSpec | RelationEnd] = [
            f for f in table.fields if f.type not in (FieldType.JSON, FieldType.LIST)
        ]
        return fields + [end for end in table.relations if not end.many]

    def order_item(self, d: Draw, table: TableSpec, budget: int) -> dict[str, Any]:
        choices = self.sortable(table)
        if budget <= 0:
            choices = [c for c in choices if isinstance(c, FieldSpec)]
        chosen = d.choice(choices)
        if isinstance(chosen, FieldSpec):
            return {chosen.gql_name: d.choice(DIRECTIONS)}
        return {chosen.gql_name: self.order_item(d, self.spec.table(chosen.target), budget - 1)}

    def order_by(self, d: Draw, table: TableSpec) -> Any:
        items = [self.order_item(d, table, 2) for _ in range(d.choice([1, 1, 2, 2, 3]))]
        if len(items) == 1 and d.chance(0.15):
            return items[0]  # a single object where a list goes
        return items

    # -- selections -------------------------------------------------------------------------------

    def alias(self, d: Draw, taken: set[str], table: TableSpec | None = None) -> str:
        # Sometimes another field's name: the response key must follow the alias, not the field.
        if table is not None and d.chance(0.3):
            candidate = d.choice(table.fields).gql_name
            if candidate not in taken:
                return candidate
        candidate = f"{d.choice(ALIAS_STEMS)}{d.int(0, 99)}"
        while candidate in taken:  # no further draws: the same choices give the same alias
            candidate += "_"
        return candidate

    def list_args(self, d: Draw, table: TableSpec, paging: bool = True) -> dict[str, Any]:
        args: dict[str, tuple[Any, GType]] = {}
        if d.chance(0.6):
            where = self.where(d, table, 3, self.pivot(d, table))
            args["where"] = (self.maybe_var(d, where, 0.12), where_type(table))
        if d.chance(0.6):
            order = self.order_by(d, table)
            args["orderBy"] = (self.maybe_var(d, order, 0.12), order_type(table))
        if paging:
            if d.chance(0.5):
                limit = d.choice([0, 1, 2, 3, 5, 10, 1000, 250])
                args["limit"] = (self.maybe_var(d, limit, 0.2), INT)
            if d.chance(0.3):
                offset = d.choice([0, 0, 1, 1, 2, 5, 40, 300])
                args["offset"] = (self.maybe_var(d, offset, 0.2), INT)
        return args

    def object_selection(
        self, d: Draw, table: TableSpec, levels: int, budget: list[int]
    ) -> list[Sel]:
        """Fields of one object: scalars, and relation fields while `levels` lasts."""
        sels: list[Sel] = []
        taken: set[str] = set()

        def add(sel: Sel) -> None:
            if sel.key in taken:
                return
            taken.add(sel.key)
            sels.append(sel)

        scalars = d.sample(table.fields, d.int(1, 4))
        for spec_field in scalars:
            alias = None
            if budget[0] > 0 and d.chance(0.2):
                alias = self.alias(d, taken | {f.gql_name for f in scalars}, table)
                budget[0] -= 1
            add(Sel(spec_field.gql_name, alias))
        if d.chance(0.05):
            add(Sel("__typename"))
        if levels > 0 and table.relations:
            for end in d.sample(table.relations, d.choice([0, 1, 1, 2])):
                for copy in range(2 if d.chance(0.15) else 1):
                    alias = None
                    if (copy or d.chance(0.15)) and budget[0] > 0:
                        alias = self.alias(d, taken | {end.gql_name})
                        budget[0] -= 1
                    target = self.spec.table(end.target)
                    args = self.list_args(d, target) if end.many else {}
                    children = self.object_selection(d, target, levels - 1, budget)
                    add(Sel(end.gql_name, alias, args, children))
        return sels

    def connection_selection(
        self, d: Draw, table: TableSpec, levels: int, budget: list[int], walk: bool
    ) -> list[Sel]:
        node = self.object_selection(d, table, levels, budget)
        if walk:
            # The walk needs the cursors and hasNextPage; the rest is optional.
            edges = Sel("edges", children=[Sel("cursor"), Sel("node", children=node)])
            info = [Sel("hasNextPage"), Sel("endCursor")]
            if d.chance(0.3):
                info.append(Sel("startCursor"))
            sels = [edges, Sel("pageInfo", children=info)]
            if d.chance(0.3):
                sels.append(Sel("totalCount"))
            return sels
        sels = []
        parts = d.sample(["edges", "nodes", "pageInfo", "totalCount"], d.int(1, 4))
        for part in parts:
            if part == "edges":
                inner = [Sel("node", children=node)]
                if d.chance(0.7):
                    inner.insert(0, Sel("cursor"))
                sels.append(Sel("edges", children=inner))
            elif part == "nodes":
                sels.append(Sel("nodes", children=node))
            elif part == "pageInfo":
                info = d.sample(["hasNextPage", "endCursor", "startCursor"], d.int(1, 3))
                sels.append(Sel("pageInfo", children=[Sel(name) for name in info]))
            else:
                sels.append(Sel("totalCount"))
        return sels

    def constant_key(self, d: Draw, table: TableSpec) -> Any:
        rows = self.tables[table.name]
        if rows and d.chance(0.85):
            return d.choice(rows)[table.key]
        return self.adversarial_constant(d, table.key_field)

    def lookup_args(self, d: Draw, table: TableSpec) -> dict[str, tuple[Any, GType]]:
        rows = self.tables[table.name]
        key_field = table.key_field
        if d.chance(0.6):
            gtype = value_type(table, key_field)
            value = self.input_form(d, key_field.type, self.constant_key(d, table))
            return {key_field.gql_name: (self.maybe_var(d, value, 0.3), gtype)}
        wanted = d.choice(rows)["id"] if rows and d.chance(0.85) else 2**62
        value = str(wanted) if d.chance(0.5) else wanted
        return {"id": (self.maybe_var(d, value, 0.3), BIGINT)}

    def root(self, d: Draw, taken: set[str], budget: list[int]) -> Sel:
        table = self.spec.table(d.choice(self.names))
        kind = d.choice(["list", "list", "list", "lookup", "connection"])
        levels = d.choice([0, 1, 1, 2, 2, 3])
        if kind == "list":
            name = table.list_root
            sel = Sel(name, args=self.list_args(d, table))
            sel.children = self.object_selection(d, table, levels, budget)
        elif kind == "lookup":
            name = table.single_root
            sel = Sel(name, args=self.lookup_args(d, table))
            sel.children = self.object_selection(d, table, levels, budget)
        else:
            name = connection_root_name(table.list_root)
            args = self.list_args(d, table, paging=False)
            if d.chance(0.7):
                args["first"] = (self.maybe_var(d, d.choice([0, 1, 2, 3, 5, 10, 1000]), 0.2), INT)
            sel = Sel(name, args=args)
            sel.children = self.connection_selection(d, table, min(levels, 2), budget, walk=False)
        if name in taken or (budget[0] > 0 and d.chance(0.2)):
            sel.alias = self.alias(d, taken | {name})
            budget[0] -= 1
        taken.add(sel.key)
        return sel

    # -- strategies -------------------------------------------------------------------------------

    def query_cases(self) -> st.SearchStrategy[Case]:
        @st.composite
        def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Case:
            d = Draw(draw)
            budget = [MAX_ALIASES - 2]
            taken: set[str] = set()
            roots = [self.root(d, taken, budget) for _ in range(d.choice([1, 1, 2, 3]))]
            document, variables = render(self.spec, roots)
            return Case(document, variables, label="query")

        return build()

    def revalued_cases(self) -> st.SearchStrategy[tuple[Case, Case]]:
        """Two requests alike but for the values their filters compare (eq ... lte, in, nin)
        and their lookups' keys: what a dashboard sends when its user picks another status,
        day or row. The second may be answered by statements the first one built."""

        @st.composite
        def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> tuple[Case, Case]:
            d = Draw(draw)
            budget = [MAX_ALIASES - 2]
            taken: set[str] = set()
            roots = [self.root(d, taken, budget) for _ in range(d.choice([1, 1, 2]))]
            first = Case(*render(self.spec, roots), label="query")
            for sel in roots:
                self.revalue_root(d, sel)
            return first, Case(*render(self.spec, roots), label="revalued")

        return build()

    def revalue_root(self, d: Draw, sel: Sel) -> None:
        """Draw new compared values and keys in a root field's arguments, in place."""
        for name in self.names:
            table = self.spec.table(name)
            if sel.name == table.single_root:
                for arg, (value, gtype) in sel.args.items():
                    if arg == "id":
                        fresh: Any = d.choice(self.tables[name])["id"] if self.tables[name] else 1
                    else:
                        fresh = self.input_form(
                            d, table.key_field.type, self.constant_key(d, table)
                        )
                    sel.args[arg] = (_same_form(value, fresh), gtype)
                self.revalue_selection(d, table, sel.children or [])
                return
            if sel.name in (table.list_root, connection_root_name(table.list_root)):
                self.revalue_arguments(d, table, sel)
                self.revalue_selection(d, table, sel.children or [])
                return
        raise AssertionError(f"no table has the root field {sel.name}")

    def revalue_selection(self, d: Draw, table: TableSpec, sels: list[Sel]) -> None:
        relations = {end.gql_name: end for end in table.relations}
        for sel in sels:
            if sel.name in relations:
                target = self.spec.table(relations[sel.name].target)
                self.revalue_arguments(d, target, sel)
                self.revalue_selection(d, target, sel.children or [])
            elif sel.name in ("edges", "node", "nodes"):  # a connection's parts
                self.revalue_selection(d, table, sel.children or [])

    def revalue_arguments(self, d: Draw, table: TableSpec, sel: Sel) -> None:
        if "where" in sel.args:
            where, gtype = sel.args["where"]
            inner = where.value if isinstance(where, Var) else where
            sel.args["where"] = (_same_form(where, self.revalue_where(d, table, inner)), gtype)

    def revalue_where(self, d: Draw, table: TableSpec, where: Any) -> Any:
        if not isinstance(where, dict):
            return where  # null
        fields = {f.gql_name: f for f in table.fields}
        relations = {end.gql_name: end for end in table.relations}
        out: dict[str, Any] = {}
        for key, value in where.items():
            if key in ("and", "or") and isinstance(value, list):
                out[key] = [self.revalue_where(d, table, item) for item in value]
            elif key in ("and", "or", "not"):
                out[key] = self.revalue_where(d, table, value)
            elif key in fields and isinstance(value, dict):
                spec_field = fields[key]
                out[key] = {
                    op: self.revalue_operand(d, table, spec_field, op, operand)
                    for op, operand in value.items()
                }
            elif key in relations and isinstance(value, dict):
                end = relations[key]
                target = self.spec.table(end.target)
                if end.many:
                    out[key] = {q: self.revalue_where(d, target, w) for q, w in value.items()}
                else:
                    out[key] = self.revalue_where(d, target, value)
            else:
                out[key] = value
        return out

    def revalue_operand(
        self, d: Draw, table: TableSpec, spec_field: FieldSpec, op: str, operand: Any
    ) -> Any:
        if op not in COMPARED:
            return operand
        pivot = self.pivot(d, table)
        value = NO_PIVOT if pivot is None else pivot[spec_field.name]
        fresh = self.operand(d, table, spec_field, op, value)
        if isinstance(fresh, Var):  # a long list: a variable already
            return fresh
        return _same_form(operand, fresh)

    def walk_cases(self) -> st.SearchStrategy[Case]:
        @st.composite
        def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Case:
            d = Draw(draw)
            table = self.spec.table(d.choice(self.names))
            args = self.list_args(d, table, paging=False)
            if "orderBy" not in args or d.chance(0.2):
                # Every sort key type matters to keysets: make sure nullable, enum, bool and
                # related keys come up often, several at once.
                items = [self.order_item(d, table, 2) for _ in range(d.int(1, 3))]
                args["orderBy"] = (items, order_type(table))
            args["first"] = (Var(1, "first"), INT)  # the test sets the real page size
            args["after"] = (Var(None, "after"), STRING)
            name = connection_root_name(table.list_root)
            budget = [MAX_ALIASES - 2]
            alias = self.alias(d, {name}) if d.chance(0.2) else None
            levels = d.choice([0, 0, 1, 1, 2])
            sel = Sel(name, alias, args, self.connection_selection(d, table, levels, budget, True))
            document, variables = render(self.spec, [sel])
            first = d.choice([1, 2, 3, 4, 7])
            return Case(document, variables, label="walk", walk_key=sel.key, first=first)

        return build()

    def bad_cases(self) -> st.SearchStrategy[Case]:
        @st.composite
        def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Case:
            d = Draw(draw)
            return self.bad_case(d)

        return build()

    def bad_case(self, d: Draw) -> Case:
        tricks: list[str] = [
            "like_backslash",
            "null_operator",
            "page_size",
            "datetime_no_offset",
            "duration",
            "bigint_range",
            "two_keys_in_sort",
            "bad_date",
            "unknown_enum_variable",
            "unknown_filter_key_variable",
            "lookup_arguments",
        ]
        tables_with = {
            kind: [n for n in self.names if any(f.type is kind for f in self.spec.table(n).fields)]
            for kind in (FieldType.DATE, FieldType.ENUM)
        }
        if tables_with[FieldType.DATE]:
            tricks.append("time_on_date")
        trick = d.choice(tricks)
        table = self.spec.table(d.choice(self.names))
        if trick == "time_on_date":
            table = self.spec.table(d.choice(tables_with[FieldType.DATE]))
        elif trick == "unknown_enum_variable" and tables_with[FieldType.ENUM]:
            table = self.spec.table(d.choice(tables_with[FieldType.ENUM]))
        args: dict[str, tuple[Any, GType]] = {}
        where: dict[str, Any] = {}

        def fields_of(*kinds: FieldType) -> list[FieldSpec]:
            return [f for f in table.fields if f.type in kinds]

        if trick == "like_backslash":
            texts = fields_of(FieldType.STRING, FieldType.TEXT, FieldType.UUID)
            spec_field = d.choice(texts)
            op = d.choice(["like", "ilike"])
            pattern = self.like_pattern(d, table, spec_field, op == "ilike", None).rstrip("\\")
            where[spec_field.gql_name] = {op: self.maybe_var(d, pattern + "\\", 0.4)}
        elif trick == "null_operator":
            spec_field = d.choice(table.fields)
            op = d.choice([o for o in OPERATORS[spec_field.type] if o != "isNull"])
            where[spec_field.gql_name] = {op: self.maybe_var(d, None, 0.3)}
        elif trick == "page_size":
            size = d.choice([1001, -1, 5000])
            name = d.choice(["limit", "first", "offset"])
            if name == "offset":
                size = -d.int(1, 3)
            args[name] = (self.maybe_var(d, size, 0.4), INT)
            root = connection_root_name(table.list_root) if name == "first" else table.list_root
            children = [Sel("totalCount")] if name == "first" else [Sel("id")]
            return self._bad(root, args, children, trick)
        elif trick == "datetime_no_offset":
            spec_field = d.choice(fields_of(FieldType.DATETIME))
            text = d.choice(["2026-03-31T09:30:15", "2026-03-31T09:30:15.1234567Z", "2026-03-31"])
            op = d.choice(["eq", "gt", "lte", "in"])
            value = [text] if op == "in" else text
            where[spec_field.gql_name] = {op: self.maybe_var(d, value, 0.4)}
        elif trick == "duration":
            spec_field = d.choice(fields_of(FieldType.DATETIME, FieldType.DATE))
            text = d.choice(["7D", "P", "PT", "P11Y", "P4000D", "P1Y2", "week", "P-1D"])
            op = d.choice(["withinLast", "olderThan"])
            where[spec_field.gql_name] = {op: self.maybe_var(d, text, 0.4)}
        elif trick == "time_on_date":
            spec_field = d.choice(fields_of(FieldType.DATE))
            op = d.choice(["withinLast", "olderThan"])
            text = d.choice(["PT12H", "P1DT6H", "PT30M", "pt1s"])
            where[spec_field.gql_name] = {op: self.maybe_var(d, text, 0.4)}
        elif trick == "bigint_range":
            text = d.choice(["9223372036854775808", "-9223372036854775809", "12a", "1.5"])
            where["id"] = {d.choice(["eq", "gt"]): Var(text) if d.chance(0.5) else text}
        elif trick == "two_keys_in_sort":
            plain = [f for f in table.fields if f.type not in (FieldType.JSON, FieldType.LIST)]
            first, second = d.sample(plain, 2)
            item = {first.gql_name: d.choice(DIRECTIONS), second.gql_name: d.choice(DIRECTIONS)}
            args["orderBy"] = (self.maybe_var(d, [item], 0.3), order_type(table))
        elif trick == "bad_date":
            dates = fields_of(FieldType.DATE)
            if not dates:
                return self.bad_case(d)
            spec_field = d.choice(dates)
            where[spec_field.gql_name] = {"eq": d.choice(["2026-02-30", "2026-3-1", "yesterday"])}
        elif trick == "unknown_enum_variable":
            enums = fields_of(FieldType.ENUM)
            if not enums:
                return self.bad_case(d)
            spec_field = d.choice(enums)
            where[spec_field.gql_name] = {"eq": Var("NOT_A_MEMBER")}
        elif trick == "unknown_filter_key_variable":
            args["where"] = (Var({"noSuchField": {"eq": 1}}), where_type(table))
        elif trick == "lookup_arguments":
            # Exactly one of the key and id: both, or neither.
            lookup = self.lookup_args(d, table) if d.chance(0.5) else {}
            if "id" in lookup:
                key_field = table.key_field
                value = self.input_form(d, key_field.type, self.constant_key(d, table))
                lookup[key_field.gql_name] = (value, value_type(table, key_field))
            elif lookup:
                lookup["id"] = (1, BIGINT)
            return self._bad(table.single_root, lookup, [Sel("id")], trick)
        if where:
            args["where"] = (where, where_type(table))
        return self._bad(table.list_root, args, [Sel("id")], trick)

    def _bad(
        self, root: str, args: dict[str, tuple[Any, GType]], children: list[Sel], label: str
    ) -> Case:
        document, variables = Renderer(self.spec).document([Sel(root, None, args, children)])
        return Case(document, variables, label=f"bad:{label}")

    def cursor_cases(self) -> st.SearchStrategy[Case]:
        """A first page, whose cursor the test spoils as `cursor_trick` says, then uses."""

        @st.composite
        def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Case:
            d = Draw(draw)
            names = [n for n in self.names if self.tables[n]]
            table = self.spec.table(d.choice(names))
            trick = d.choice(
                ["alter", "forge", "truncate", "junk", "empty", "other_order", "other_table"]
            )
            others = [n for n in names if n != table.name]
            if trick == "other_table" and not others:
                trick = "alter"
            second_table = table
            order: list[dict[str, Any]] | None = None
            if trick == "other_table":
                # The default (id) ordering on both tables: only the table differs.
                second_table = self.spec.table(d.choice(others))
            else:
                order = [self.order_item(d, table, 1) for _ in range(d.int(1, 2))]
            second_order = self.other_order(d, table, order) if trick == "other_order" else order
            document, variables = self.page_document(table, order)
            second, second_variables = self.page_document(second_table, second_order)
            return Case(
                document,
                variables,
                label=f"cursor:{trick}",
                cursor_trick=trick,
                second_document=second,
                second_variables=second_variables,
            )

        return build()

    @staticmethod
    def page_document(
        table: TableSpec, order: list[dict[str, Any]] | None
    ) -> tuple[str, dict[str, Any]]:
        definitions = ["$after: String"]
        args = ["first: 1", "after: $after"]
        variables: dict[str, Any] = {}
        if order is not None:
            definitions.append(f"$order: [{order_input_name(table.type_name)}!]")
            args.append("orderBy: $order")
            variables["order"] = order
        name = connection_root_name(table.list_root)
        document = (
            f"query({', '.join(definitions)}) {{\n  page: {name}({', '.join(args)}) {{\n"
            "    edges { cursor node { id } }\n    pageInfo { endCursor hasNextPage }\n  }\n}"
        )
        return document, variables

    def other_order(
        self, d: Draw, table: TableSpec, order: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]]:
        """An ordering that is clearly another one: a key added, or a direction flipped."""
        assert order is not None
        ((name, direction),) = order[0].items()
        if d.chance(0.5) or not isinstance(direction, str):
            return [*order, {"id": "DESC"}]
        # ASC and ASC_NULLS_LAST are one ordering: always flip the direction itself.
        flipped = "ASC" if direction.startswith("DESC") else "DESC"
        return [{name: flipped}, *order[1:]]
