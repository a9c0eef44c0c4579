"""Computed fields on SQLite and PostgreSQL, against a model written from the docs alone.

docs/schema-format.md ("Computed fields", "The expression language") says what an expression
means; docs/api.md how the API filters, sorts, pages and aggregates fields. `Model` below is an
evaluator of that language written from those pages (null propagation, SQL's three-valued
`and`/`or`/`not`, `/` as a double division that gives null on a zero divisor, the time
functions on whole microseconds at the request's moment, integer ranges through + - *); it
never asks the engine how it computes anything. Every read goes through the real app
(tests/api.py) with a fixed clock.

- The fixture tests/fixtures/computed has a field of every readable type and computed fields
  of every form (and every rollup aggregate); its rows are adversarial: nulls everywhere, zeros,
  the ends of every declared range, 1e300, 5e-324, -0.0, 2^53 + 1, text with `% _ \\`,
  unicode, datetimes at .999999, in year 1, before 1970 and in year 9999. Values, lookups,
  filters, orderings, connection pages, relations, aggregates and the Python registry are
  compared with the model, and the two databases with each other, field by field.
- Generated expressions (hypothesis): well-typed expressions of the whole grammar, six per
  schema file, loaded, created and read on both databases like the fixture's fields (values,
  filters, orderings, groups and measures), and the databases compared with each other.
  `GRAPH_FUZZ_EXAMPLES=N` draws N fresh schemas instead of the fixed 40.
- Load-time mistakes are reported with file:line:column and their code; writes (GraphQL
  mutations, the Python registry, `grace-graph load`) refuse computed fields.

Floats compare exactly, as the page promises ("the same operations in the same order on both"),
but for sums and averages of floats over several rows (docs/api.md: in the database's order of
rows). -0.0 counts as 0.0 between the databases: a stored -0.0 reads back as 0.0 on SQLite.

The doc says nothing of a double that overflows or underflows (1e300 * 1e300, 5e-324 / 3):
the model flags those (`FloatEdge`), generated expressions leave them out, and the tests at the
end show what the server does there (strict xfails where it answers with an internal error).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import math
import operator
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from graph.cli import app
from graph.errors import OutOfRangeError, SpecErrors
from graph.registry import Registry
from graph.rows import RowErrors
from graph.settings import Settings
from graph.spec import Spec, load_spec
from graph.spec.model import FieldSpec, TableSpec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog, build_catalog
from tests.api import Api
from tests.databases import BACKENDS, TestDatabase, fresh_database, pg_admin_url, skip_without_pg
from tests.writes import api_for

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "computed"
UTC = dt.UTC
NOW = dt.datetime(2026, 5, 17, 8, 30, 15, 123457, tzinfo=UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
MICRO = dt.timedelta(microseconds=1)
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
# Large documents of aliases: one request checks every filter, ordering and measure.
SETTINGS = dataclasses.replace(
    Settings(),
    max_aliases=1000,
    max_query_tokens=500_000,
    max_body_bytes=10_000_000,
    max_nodes=10**12,
)
# Generated schemas per run: fixed examples in CI; `GRAPH_FUZZ_EXAMPLES=N` draws N fresh ones.
FUZZ_EXAMPLES = int(os.environ.get("GRAPH_FUZZ_EXAMPLES", "0") or 0)
GENERATED_EXAMPLES = FUZZ_EXAMPLES or 40
Row = dict[str, Any]


# -- the model: types ---------------------------------------------------------------------------


class Refused(Exception):
    """The model finds the expression outside the language (the loader must refuse it)."""


class FloatEdge(Exception):
    """A double operation overflowed to an infinity or underflowed to zero from non-zero values.

    The doc does not say what happens then; PostgreSQL's double operators raise there, SQLite's
    do not. Generated expressions that reach one on any row are left out."""


@dataclasses.dataclass(frozen=True)
class Ty:
    """The type of an expression; an integer carries the range the loader follows."""

    kind: str  # int float bool string date datetime enum null
    lo: int = 0
    hi: int = 0
    values: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The field type the doc says the loader gives: an int fits Int, else a bigint."""
        if self.kind == "int":
            return "int" if INT32[0] <= self.lo and self.hi <= INT32[1] else "bigint"
        return self.kind


FLOAT, BOOL, STRING, NULL = Ty("float"), Ty("bool"), Ty("string"), Ty("null")
NUMBER_KINDS = ("int", "float")
TIME_KINDS = ("date", "datetime")
TIME_FUNCTIONS = {
    "hours_since": 3600e6,
    "days_since": 86400e6,
    "hours_between": 3600e6,
    "days_between": 86400e6,
}


def int_ty(lo: int, hi: int) -> Ty:
    if lo < INT64[0] or hi > INT64[1]:
        raise Refused(f"can reach {lo if lo < INT64[0] else hi}, beyond 64 bits")
    return Ty("int", lo, hi)


def field_ty(field: FieldSpec) -> Ty:
    """A stored field's type, integers narrowed by their min and max."""
    kind = field.type.value
    if kind in ("int", "bigint"):
        low, high = INT32 if kind == "int" else INT64
        if field.min is not None:
            low = max(low, math.ceil(field.min))
        if field.max is not None:
            high = min(high, math.floor(field.max))
        return Ty("int", low, high)
    if kind == "enum":
        return Ty("enum", values=tuple(field.values or ()))
    if kind in ("float", "bool", "string", "date", "datetime"):
        return Ty(kind)
    raise Refused(f"{field.name!r} is a {kind} field")


def literal_ty(value: Any) -> Ty:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return int_ty(value, value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Refused("numbers must be finite")
        return FLOAT
    if isinstance(value, str):
        return STRING
    raise Refused(f"literal {value!r}")


def unify(types: Sequence[Ty]) -> Ty:
    """The common type of the values of if/else, case and coalesce."""
    real = [t for t in types if t.kind != "null"]
    if not real:
        return NULL
    kinds = {t.kind for t in real}
    if kinds == {"int"}:
        return Ty("int", min(t.lo for t in real), max(t.hi for t in real))
    if kinds <= set(NUMBER_KINDS):
        return FLOAT
    if len(kinds) == 1 and "enum" not in kinds:
        return real[0]
    raise Refused(f"no common type of {sorted(kinds)}")


def as_referenced(ty: Ty) -> Ty:
    """A computed field as a later expression reads it: the loader knows the range of a stored
    integer field from its type, min and max; a computed one has only its type (int: 32 bits,
    bigint: 64)."""
    if ty.kind != "int":
        return ty
    return Ty("int", *(INT32 if ty.name == "int" else INT64))


def interval(op: ast.operator, a: Ty, b: Ty) -> tuple[int, int]:
    if isinstance(op, ast.Add):
        return a.lo + b.lo, a.hi + b.hi
    if isinstance(op, ast.Sub):
        return a.lo - b.hi, a.hi - b.lo
    corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
    return min(corners), max(corners)


# -- the model: values --------------------------------------------------------------------------


def micros(value: dt.date) -> int:
    """Whole microseconds since 1970 (a date from its midnight UTC)."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), UTC)
    return (value - EPOCH) // MICRO


def float_op(op: ast.operator, a: float, b: float) -> float:
    if isinstance(op, ast.Add):
        result = a + b
    elif isinstance(op, ast.Sub):
        result = a - b
    else:
        result = a * b
        if result == 0 and a != 0 and b != 0:
            raise FloatEdge(f"{a!r} * {b!r} underflows")
    if math.isinf(result):
        raise FloatEdge(f"{a!r} and {b!r} overflow")
    return result


def divide(a: float, b: float) -> float | None:
    if b == 0:
        return None
    result = a / b
    if math.isinf(result) or (result == 0 and a != 0):
        raise FloatEdge(f"{a!r} / {b!r} overflows or underflows")
    return result


def loose_equal(a: Any, b: Any) -> bool:
    """`==` of two non-null values; an integer meets a float as a double."""
    if isinstance(a, float) or isinstance(b, float):
        return float(a) == float(b)
    return bool(a == b)


ORDER_OPS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class Model:
    """The expression language of docs/schema-format.md, typed and evaluated in Python."""

    def __init__(self, types: Mapping[str, Ty], now: dt.datetime = NOW) -> None:
        self.types = dict(types)
        self.now = now
        self._types: dict[ast.expr, Ty] = {}  # by node (an id could be reused)

    # -- types

    def type_of(self, node: ast.expr) -> Ty:
        known = self._types.get(node)
        if known is None:
            known = self._types[node] = self._type_of(node)
        return known

    def _want_bool(self, node: ast.expr) -> None:
        if self.type_of(node).kind not in ("bool", "null"):
            raise Refused("a condition must be a bool")

    def _type_of(self, node: ast.expr) -> Ty:
        match node:
            case ast.Name(id=name):
                if name not in self.types:
                    raise Refused(f"no field {name!r}")
                return self.types[name]
            case ast.Constant(value=value):
                return literal_ty(value)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                inner = self.type_of(operand)
                if inner.kind == "int":
                    return int_ty(-inner.hi, -inner.lo)
                if inner.kind == "float":
                    return FLOAT
                raise Refused("- needs a number")
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                self._want_bool(operand)
                return BOOL
            case ast.BinOp(left=left, op=op, right=right):
                a, b = self.type_of(left), self.type_of(right)
                if a.kind not in NUMBER_KINDS or b.kind not in NUMBER_KINDS:
                    raise Refused("arithmetic needs numbers")
                if isinstance(op, ast.Div):
                    return FLOAT
                if not isinstance(op, ast.Add | ast.Sub | ast.Mult):
                    raise Refused("only + - * /")
                if a.kind == b.kind == "int":
                    return int_ty(*interval(op, a, b))
                return FLOAT
            case ast.Compare(left=left, ops=[op], comparators=[right]):
                self._check_compare(left, op, right)
                return BOOL
            case ast.BoolOp(values=operands):
                for operand in operands:
                    self._want_bool(operand)
                return BOOL
            case ast.IfExp(test=test, body=body, orelse=orelse):
                self._want_bool(test)
                return unify([self.type_of(body), self.type_of(orelse)])
            case ast.Call(func=ast.Name(id=name), args=args, keywords=[]):
                return self._call_type(name, args)
        raise Refused(f"{type(node).__name__} is not in the language")

    def _call_type(self, name: str, args: list[ast.expr]) -> Ty:
        if name == "coalesce" and len(args) >= 2:
            return unify([self.type_of(a) for a in args])
        if name == "case" and len(args) >= 3 and len(args) % 2 == 1:
            for condition in args[0:-1:2]:
                self._want_bool(condition)
            return unify([self.type_of(a) for a in [*args[1:-1:2], args[-1]]])
        arity = 1 if name.endswith("_since") else 2
        if name in TIME_FUNCTIONS and len(args) == arity:
            if any(self.type_of(a).kind not in TIME_KINDS for a in args):
                raise Refused(f"{name}() needs dates or datetimes")
            return FLOAT
        raise Refused(f"no function {name!r}")

    def _comparable(self, left: ast.expr, right: ast.expr) -> bool:
        a, b = self.type_of(left), self.type_of(right)
        if a.kind in NUMBER_KINDS and b.kind in NUMBER_KINDS:
            return True
        if a.kind == "enum" and b.kind == "enum":
            return a.values == b.values
        for one, other, node in ((a, b, right), (b, a, left)):
            if one.kind == "enum" and other.kind == "string":
                if not isinstance(node, ast.Constant) or node.value not in one.values:
                    raise Refused(f"not a value of the enum: {ast.unparse(node)}")
                return True
        return a.kind == b.kind and a.kind in ("bool", "string", *TIME_KINDS)

    def _check_compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> None:
        if isinstance(op, ast.Is | ast.IsNot):
            if not (isinstance(right, ast.Constant) and right.value is None):
                raise Refused("is takes None")
            self.type_of(left)
            return
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(right, ast.Tuple) or not right.elts:
                raise Refused("in takes a tuple of constants")
            for element in right.elts:
                if constant(element) is None:
                    raise Refused("in takes constants")
                if not self._comparable(left, element):
                    raise Refused("in: values of another type")
            return
        if NULL in (self.type_of(left), self.type_of(right)):
            raise Refused("a comparison with None is always null")
        if isinstance(op, ast.Eq | ast.NotEq):
            if not self._comparable(left, right):
                raise Refused("cannot compare")
            return
        a, b = self.type_of(left).kind, self.type_of(right).kind
        ordered = (a in NUMBER_KINDS and b in NUMBER_KINDS) or (a == b and a in TIME_KINDS)
        if not ordered:
            raise Refused("order compares numbers, dates or datetimes")

    # -- values

    def cast(self, node: ast.expr, value: Any) -> Any:
        """An integer chosen where the expression is a float reads as a float."""
        if value is not None and self.type_of(node).kind == "float":
            return float(value)
        return value

    def value(self, node: ast.expr, row: Mapping[str, Any]) -> Any:
        """Every operand is evaluated, as the databases may: a double that overflows anywhere
        raises FloatEdge even where the result does not need it."""
        match node:
            case ast.Name(id=name):
                return row[name]
            case ast.Constant(value=value):
                return value
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                inner = self.value(operand, row)
                return None if inner is None else -inner
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                inner = self.value(operand, row)
                return None if inner is None else not inner
            case ast.BinOp(left=left, op=op, right=right):
                a, b = self.value(left, row), self.value(right, row)
                if a is None or b is None:
                    return None
                if isinstance(op, ast.Div):
                    return divide(float(a), float(b))
                if self.type_of(node).kind == "int":
                    return int(interval(op, Ty("int", a, a), Ty("int", b, b))[0])
                return float_op(op, float(a), float(b))
            case ast.Compare(left=left, ops=[op], comparators=[right]):
                return self._compare(left, op, right, row)
            case ast.BoolOp(op=op, values=values):
                found = [self.value(v, row) for v in values]
                decisive = isinstance(op, ast.Or)  # True decides `or`, False decides `and`
                if any(v is decisive for v in found):
                    return decisive
                return None if any(v is None for v in found) else not decisive
            case ast.IfExp(test=test, body=body, orelse=orelse):
                condition = self.value(test, row)
                chosen = [self.value(body, row), self.value(orelse, row)]
                return self.cast(node, chosen[0] if condition is True else chosen[1])
            case ast.Call(func=ast.Name(id=name), args=args):
                return self._call(node, name, [self.value(a, row) for a in args])
        raise Refused(f"cannot evaluate {ast.unparse(node)}")

    def _compare(
        self, left: ast.expr, op: ast.cmpop, right: ast.expr, row: Mapping[str, Any]
    ) -> bool | None:
        a = self.value(left, row)
        if isinstance(op, ast.Is | ast.IsNot):
            return (a is None) == isinstance(op, ast.Is)
        if isinstance(op, ast.In | ast.NotIn):
            assert isinstance(right, ast.Tuple)
            constants = [constant(e) for e in right.elts]
            if a is None:
                return None
            found = any(loose_equal(a, c) for c in constants)
            return found == isinstance(op, ast.In)
        b = self.value(right, row)
        if a is None or b is None:
            return None
        if isinstance(op, ast.Eq):
            return loose_equal(a, b)
        if isinstance(op, ast.NotEq):
            return not loose_equal(a, b)
        if isinstance(a, float) or isinstance(b, float):
            a, b = float(a), float(b)
        return ORDER_OPS[type(op)](a, b)

    def _call(self, node: ast.expr, name: str, args: list[Any]) -> Any:
        if name == "coalesce":
            return self.cast(node, next((a for a in args if a is not None), None))
        if name == "case":
            pairs = list(zip(args[0:-1:2], args[1:-1:2], strict=True))
            chosen = next((v for c, v in pairs if c is True), args[-1])
            return self.cast(node, chosen)
        if any(a is None for a in args):
            return None
        unit = TIME_FUNCTIONS[name]
        if name.endswith("_since"):
            return float(micros(self.now) - micros(args[0])) / unit
        return float(micros(args[1]) - micros(args[0])) / unit


def constant(node: ast.expr) -> Any:
    """The value of a literal (`-3` included, as the doc lists it), else None."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = constant(node.operand)
        if isinstance(inner, int | float) and not isinstance(inner, bool):
            return -inner
    return None


def parse(source: str) -> ast.expr:
    return ast.parse(source.strip(), mode="eval").body


# -- rollups, rows and the API's forms of values -------------------------------------------------


def rollup_ty(entry: Mapping[str, Any], linked: Mapping[str, Ty]) -> Ty:
    aggregate = entry["aggregate"]
    if aggregate == "count":
        return Ty("int", 0, INT32[1])
    if aggregate in ("avg", "share"):
        return FLOAT
    of = linked[entry["of"]]
    if aggregate == "sum":
        return Ty("int", *INT64) if of.kind == "int" else FLOAT
    return of


def _meets(row: Mapping[str, Any], conditions: Mapping[str, Any]) -> bool:
    for name, wanted in conditions.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        if row[name] is None or row[name] not in options:
            return False
    return True


def rollup_value(entry: Mapping[str, Any], linked: Sequence[Row], ty: Ty) -> Any:
    rows = [r for r in linked if _meets(r, entry.get("where", {}))]
    aggregate = entry["aggregate"]
    if aggregate == "count":
        return len(rows)
    if aggregate == "share":
        if not rows:
            return None
        return len([r for r in rows if _meets(r, entry["matching"])]) / len(rows)
    values = [r[entry["of"]] for r in rows if r[entry["of"]] is not None]
    if aggregate == "sum":
        return sum(values) if ty.kind == "int" else sum(values, 0.0)
    if not values:
        return None
    if aggregate == "avg":
        return float(Fraction(sum(values)) / len(values))
    return min(values) if aggregate == "min" else max(values)


@dataclasses.dataclass
class Computed:
    """One table's computed fields as the model sees them, in declaration order."""

    types: dict[str, Ty]  # stored and computed fields
    names: list[str]  # the computed ones
    entries: dict[str, dict[str, Any]]
    trees: dict[str, ast.expr]
    model: Model

    @classmethod
    def of(
        cls,
        table: TableSpec,
        entries: Mapping[str, Mapping[str, Any]],
        linked: Mapping[str, Ty] | None = None,
        now: dt.datetime = NOW,
    ) -> Computed:
        types: dict[str, Ty] = {}
        for field in table.fields:
            with contextlib.suppress(Refused):  # text, json, list, uuid: expressions cannot
                types[field.name] = field_ty(field)
        model = Model(types, now)
        trees: dict[str, ast.expr] = {}
        for name, entry in entries.items():
            if "expr" in entry:
                trees[name] = parse(entry["expr"])
                types[name] = model.type_of(trees[name])
            else:
                assert linked is not None
                types[name] = rollup_ty(entry["rollup"], linked)
            model.types[name] = as_referenced(types[name])
        return cls(types, list(entries), {n: dict(e) for n, e in entries.items()}, trees, model)

    def evaluate(self, row: Row, linked: Sequence[Row] = ()) -> Row:
        """The row with every computed field added (each may read the ones before it)."""
        full = dict(row)
        for name in self.names:
            if name in self.trees:
                full[name] = self.model.value(self.trees[name], full)
            else:
                full[name] = rollup_value(self.entries[name]["rollup"], linked, self.types[name])
        return full


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def stamp(value: dt.datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def to_json(ty: Ty, value: Any) -> Any:
    """A value as the API writes it (docs/api.md, "Scalars")."""
    if value is None:
        return None
    if ty.kind == "int":
        return value if ty.name == "int" else str(value)
    if ty.kind == "float":
        return float(value)
    if ty.kind == "datetime":
        return stamp(value)
    if ty.kind == "date":
        return value.isoformat()
    return value


def same(expected: Any, got: Any) -> bool:
    """JSON equality where a bool is never a number and -0.0 equals 0.0."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    if isinstance(expected, float):
        return isinstance(got, int | float) and float(got) == expected
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and expected.keys() == got.keys()
            and all(same(v, got[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(same(e, g) for e, g in zip(expected, got, strict=True))
        )
    return type(expected) is type(got) and expected == got


def zero_signless(value: Any) -> Any:
    """-0.0 as 0.0, everywhere in an answer (SQLite stores -0.0 as 0.0)."""
    if isinstance(value, float) and value == 0:
        return 0.0
    if isinstance(value, dict):
        return {k: zero_signless(v) for k, v in value.items()}
    if isinstance(value, list):
        return [zero_signless(v) for v in value]
    return value


def canonical(answer: Any) -> str:
    return json.dumps(zero_signless(answer), sort_keys=True, ensure_ascii=False)


# -- the fixture's adversarial rows -------------------------------------------------------------


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def record(code: str, **values: Any) -> Row:
    return {"code": code, **values}


LAST_MOMENT = at(9999, 12, 31, 23, 59, 59, 999999)
FIRST_MOMENT = at(1, 1, 1)
PROBES: list[Row] = [
    record("p-nulls"),
    record(
        "p-zeros",
        small=0,
        whole=0,
        mid=0,
        big=0,
        ratio=0.0,
        unit=0.0,
        flag=False,
        label="",
        status="queued",
        prev_status="queued",
        day=dt.date(1970, 1, 1),
        at=EPOCH,
        until=EPOCH,
    ),
    record(
        "p-lows",
        small=-1000,
        whole=INT32[0],
        mid=-(10**12),
        big=INT64[0],
        ratio=-1e300,
        unit=0.0,
        flag=True,
        label="a%_\\é",
        status="failed",
        prev_status="passed",
        day=dt.date(1, 1, 1),
        at=FIRST_MOMENT,
        until=LAST_MOMENT,
        notes="ünïcødé ☃",
        meta={"a": [1, None]},
        tags=["x", ""],
        ref="0b3a4c52-8f1e-4c1a-9d3e-2f6b7a8c9d01",
    ),
    record(
        "p-highs",
        small=1000,
        whole=INT32[1],
        mid=10**12,
        big=INT64[1],
        ratio=1e300,
        unit=1.0,
        flag=True,
        label="ünïcødé 🎉",
        status="passed",
        prev_status="passed",
        day=dt.date(9999, 12, 31),
        at=LAST_MOMENT,
        until=FIRST_MOMENT,
    ),
    record(
        "p-tiny",
        small=1,
        whole=-1,
        mid=1,
        big=2**53 + 1,
        ratio=5e-324,
        unit=5e-324,
        flag=None,
        label="%",
        status="running",
        day=dt.date(1969, 12, 31),
        at=at(1969, 12, 31, 23, 59, 59, 999999),
        until=at(2026, 5, 17, 8, 30, 15, 999999),
    ),
    record("p-negzero", small=7, whole=7, mid=-7, ratio=-0.0, unit=-0.0, flag=False, label="_"),
    record(
        "p-exact",
        small=-1,
        whole=3,
        mid=10**12 - 1,
        big=2**53 + 1,
        ratio=float(2**53),
        unit=0.5,
        flag=True,
        label="\\",
        status="failed",
        prev_status="failed",
        day=dt.date(2026, 5, 17),
        at=NOW,
        until=NOW + MICRO,
    ),
    record(
        "p-now",
        small=2,
        whole=-3,
        mid=2**31,
        big=-(2**53),
        ratio=0.1,
        unit=0.1 + 0.2,
        flag=None,
        label="A",
        status=None,
        prev_status="running",
        day=dt.date(2026, 5, 18),
        at=NOW - MICRO,
        until=None,
    ),
    record(
        "p-dup-a",
        small=5,
        whole=5,
        mid=5,
        big=5,
        ratio=1.5,
        unit=0.25,
        flag=False,
        label="same",
        status="passed",
        prev_status=None,
        day=dt.date(2000, 2, 29),
        at=at(2000, 2, 29, 12),
        until=at(2000, 3, 1, 12),
    ),
    record(
        "p-dup-b",
        small=5,
        whole=5,
        mid=5,
        big=5,
        ratio=1.5,
        unit=0.25,
        flag=False,
        label="same ",
        status="passed",
        prev_status=None,
        day=dt.date(2000, 2, 29),
        at=at(2000, 2, 29, 12),
        until=at(2000, 3, 1, 12),
    ),
    record(
        "p-neg",
        small=-3,
        whole=INT32[0] + 1,
        mid=-(2**31) - 1,
        big=-1,
        ratio=-2.5,
        unit=1.0,
        flag=True,
        label="é",
        status="queued",
        prev_status="failed",
        day=dt.date(1600, 3, 1),
        at=at(1600, 2, 29, 23, 59, 59, 999999),
        until=at(1600, 3, 1),
    ),
    record(
        "p-future",
        small=999,
        whole=2**30,
        mid=-(10**12) + 1,
        big=2**62,
        ratio=-5e-324,
        unit=0.75,
        flag=False,
        label="É",
        status="running",
        prev_status="queued",
        day=dt.date(9999, 12, 30),
        at=at(2262, 4, 11, 23, 47, 16, 854775),
        until=at(1677, 9, 21, 0, 12, 43, 145224),
    ),
    record("p-only-time", day=dt.date(2026, 5, 17), at=NOW + dt.timedelta(hours=1), until=NOW),
]
READINGS: list[Row] = [
    record(
        "r-01",
        probe_code="p-zeros",
        value=0.5,
        amount=INT32[1],
        kind="ok",
        seen_at=NOW - MICRO,
        on_day=dt.date(2026, 5, 17),
        note="x",
    ),
    record(
        "r-02",
        probe_code="p-zeros",
        value=-1.25,
        amount=INT32[1],
        kind="bad",
        seen_at=FIRST_MOMENT,
        on_day=dt.date(1, 1, 1),
    ),
    record("r-03", probe_code="p-zeros"),
    record(
        "r-04",
        probe_code="p-zeros",
        value=3.0,
        amount=-5,
        kind="odd",
        seen_at=LAST_MOMENT,
        on_day=dt.date(9999, 12, 31),
    ),
    record("r-05", probe_code="p-lows", kind="odd"),
    record("r-06", probe_code="p-lows", kind="bad", seen_at=NOW - dt.timedelta(hours=24)),
    record(
        "r-07",
        probe_code="p-highs",
        value=0.25,
        amount=INT32[0],
        kind="ok",
        seen_at=NOW + dt.timedelta(days=1),
        on_day=dt.date(2026, 5, 18),
    ),
    record(
        "r-08",
        probe_code="p-highs",
        value=0.25,
        amount=INT32[0],
        kind="ok",
        seen_at=NOW - dt.timedelta(hours=24) + MICRO,
        on_day=dt.date(2026, 5, 16),
    ),
    record("r-09", probe_code=None, value=100.0, amount=1, kind="ok"),
    record("r-10", probe_code="p-missing", value=7.0, kind="ok"),
    record(
        "r-11",
        probe_code="p-dup-a",
        value=-0.0,
        amount=0,
        kind="odd",
        seen_at=at(2000, 2, 29, 12),
        on_day=dt.date(2000, 2, 29),
    ),
    record(
        "r-12",
        probe_code="p-exact",
        value=1e300,
        amount=3,
        kind="bad",
        seen_at=NOW,
        on_day=dt.date(2026, 5, 17),
    ),
]
CREATED = at(2025, 1, 1)


def full_rows(table: TableSpec, rows: Sequence[Row]) -> list[Row]:
    """Every stored column given (None where a row says nothing), and created_at/updated_at
    fixed, so that both databases hold the very same rows."""
    names = [f.name for f in table.fields if f.name != "id"]
    full = []
    for i, row in enumerate(rows):
        stamp_at = CREATED + dt.timedelta(minutes=i, microseconds=i)
        full.append(dict.fromkeys(names) | {"created_at": stamp_at, "updated_at": stamp_at})
        full[-1].update(row)
    return full


# -- worlds: a database of each kind with the fixture's rows ------------------------------------


def read_entries(path: Path) -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(path.read_text())
    return dict(document.get("computed") or {})


@dataclasses.dataclass
class Expected:
    """What the model says the fixture's rows are, by table, computed fields included."""

    probes: Computed
    readings: Computed
    probe_rows: list[Row]
    reading_rows: list[Row]

    @classmethod
    def of(
        cls, spec: Spec, ids: Mapping[str, Mapping[str, int]], now: dt.datetime = NOW
    ) -> Expected:
        readings = Computed.of(
            spec.table("readings"), read_entries(FIXTURE / "schemas" / "readings.yaml"), now=now
        )
        probes = Computed.of(
            spec.table("probes"),
            read_entries(FIXTURE / "schemas" / "probes.yaml"),
            linked=readings.types,
            now=now,
        )
        reading_rows = [
            readings.evaluate(r | {"id": ids["readings"][r["code"]]})
            for r in full_rows(spec.table("readings"), READINGS)
        ]
        probe_rows = []
        for row in full_rows(spec.table("probes"), PROBES):
            linked = [r for r in reading_rows if r["probe_code"] == row["code"]]
            probe_rows.append(probes.evaluate(row | {"id": ids["probes"][row["code"]]}, linked))
        return cls(probes, readings, probe_rows, reading_rows)


class World:
    """One database with the fixture's rows, its API (clock fixed at NOW) and the model."""

    def __init__(
        self,
        backend: str,
        db: TestDatabase,
        spec: Spec,
        catalog: Catalog,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.backend, self.db, self.spec, self.catalog, self.loop = backend, db, spec, catalog, loop
        self.api = fixed_clock_api(db, spec, catalog)
        self._answers: dict[str, dict[str, Any]] = {}
        found = self.data("{ probes(limit: 1000) { id code } readings(limit: 1000) { id code } }")
        ids = {t: {r["code"]: int(r["id"]) for r in found[t]} for t in ("probes", "readings")}
        self.expected = Expected.of(spec, ids)

    def __repr__(self) -> str:
        return f"World({self.backend})"

    def post(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The answer to a read (kept: the rows never change, and the comparison of the two
        databases asks again what the tests of each asked)."""
        key = json.dumps([query, variables or {}], sort_keys=True)
        if key not in self._answers:
            request = self.api.post(query, dict(variables or {}))
            self._answers[key] = self.loop.run_until_complete(request)
        return self._answers[key]

    def data(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = self.post(query, variables)
        assert "errors" not in body, (self.backend, body["errors"])
        result: dict[str, Any] = body["data"]
        return result


def fixed_clock_api(db: TestDatabase, spec: Spec, catalog: Catalog) -> Api:
    """The app over `db` with the clock at NOW; one GraphQL schema per spec (tests/writes.py
    keeps them: building one takes half a second)."""
    api = api_for(db, spec, catalog, SETTINGS)
    api.graph.clock = lambda: NOW
    return api


def insert_all(
    db: TestDatabase, catalog: Catalog, spec: Spec, tables: Mapping[str, list[Row]]
) -> None:
    with db.engine.begin() as conn:
        for name, rows in tables.items():
            if rows:
                conn.execute(insert(catalog.table(name)), full_rows(spec.table(name), rows))


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The tests are synchronous (hypothesis needs that); they drive the API in this loop."""
    own = asyncio.new_event_loop()
    yield own
    own.close()


@pytest.fixture(scope="module")
def fixture_spec() -> Spec:
    return load_spec(FIXTURE / "schemas", FIXTURE / "relations.yaml")


@pytest.fixture(scope="module")
def worlds(
    tmp_path_factory: pytest.TempPathFactory,
    loop: asyncio.AbstractEventLoop,
    fixture_spec: Spec,
) -> Iterator[dict[str, World]]:
    catalog = build_catalog(fixture_spec)
    with ExitStack() as stack:
        found: dict[str, World] = {}
        for backend in BACKENDS:
            if backend == "postgresql" and pg_admin_url() is None:
                continue
            folder = tmp_path_factory.mktemp(f"computed-{backend}")
            db = stack.enter_context(fresh_database(backend, folder))
            create_schema(db.engine, catalog)
            insert_all(db, catalog, fixture_spec, {"probes": PROBES, "readings": READINGS})
            found[backend] = World(backend, db, fixture_spec, catalog, loop)
        yield found


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, worlds: dict[str, World]) -> World:
    if request.param not in worlds:
        skip_without_pg()
    return worlds[request.param]


def both(worlds: Mapping[str, World]) -> tuple[World, World]:
    if len(worlds) < len(BACKENDS):
        skip_without_pg()
    return worlds["sqlite"], worlds["postgresql"]


# -- what the API must answer, by the model --------------------------------------------------------


def where_cases(
    ty: Ty, values: Sequence[Any]
) -> list[tuple[dict[str, Any], Callable[[Any], bool]]]:
    """Filters on one field (its operators, docs/api.md) with what each must select."""
    cases: list[tuple[dict[str, Any], Callable[[Any], bool]]] = [
        ({"isNull": True}, lambda v: v is None),
        ({"isNull": False}, lambda v: v is not None),
    ]
    present = sorted({v for v in values if v is not None})
    if not present:
        return cases
    if ty.kind == "bool":
        return [
            *cases,
            ({"eq": True}, lambda v: v is True),
            ({"neq": True}, lambda v: v is False),
            ({"eq": False}, lambda v: v is False),
        ]
    pivot = present[len(present) // 2]
    given = to_json(ty, pivot)
    cases += [
        ({"eq": given}, lambda v: v is not None and v == pivot),
        ({"neq": given}, lambda v: v is not None and v != pivot),
        ({"in": [given, given]}, lambda v: v is not None and v == pivot),
        ({"nin": [given]}, lambda v: v is not None and v != pivot),
        ({"gt": given}, lambda v: v is not None and v > pivot),
        ({"lte": given}, lambda v: v is not None and v <= pivot),
    ]
    if len(present) > 1:
        low = to_json(ty, present[0])
        cases.append(
            ({"gte": low, "lt": given}, lambda v: v is not None and present[0] <= v < pivot)
        )
    return cases


DIRECTIONS = ("ASC", "DESC", "ASC_NULLS_FIRST", "DESC_NULLS_LAST")


def ordered(rows: Sequence[Row], name: str, direction: str) -> list[str]:
    """Codes in the order docs/api.md gives: nulls last with ASC and first with DESC unless
    the direction says, ties by id ascending."""
    by_id = sorted(rows, key=lambda r: r["id"])
    present = [r for r in by_id if r[name] is not None]
    present.sort(key=lambda r: r[name], reverse=direction.startswith("DESC"))  # stable: ids
    nulls = [r for r in by_id if r[name] is None]
    nulls_first = direction == "DESC" or direction.endswith("NULLS_FIRST")
    return [r["code"] for r in (nulls + present if nulls_first else present + nulls)]


def percentile(values: Sequence[float], p: float) -> float | None:
    """docs/api.md: continuous interpolation between the sorted values."""
    if not values:
        return None
    v = sorted(values)
    i = p * (len(v) - 1)
    low, high = math.floor(i), math.ceil(i)
    return v[low] + (i - low) * (v[high] - v[low])


def float_sum_close(values: Sequence[float], got: Any, count: int | None = None) -> bool:
    """A double sum (or average) in some order of the rows: within the summation bound."""
    if not values:
        return got is None
    exact = math.fsum(values)
    divisor = count or 1
    bound = len(values) * 2.0**-52 * math.fsum(abs(v) for v in values) * 2
    return isinstance(got, int | float) and abs(got * divisor - exact) <= bound + 1e-300


class Mismatches:
    """Collects every difference with the model, for one failure message listing them all."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.found: list[str] = []

    def check(self, where: str, expected: Any, got: Any) -> None:
        if not same(expected, got):
            self.found.append(f"{where}: expected {expected!r}, got {got!r}")

    def note(self, text: str) -> None:
        self.found.append(text)

    def assert_none(self) -> None:
        head = f"{self.world.backend}: {len(self.found)} differences from the model\n"
        assert not self.found, head + "\n".join(self.found[:60])


PROBE_FIELDS = list(read_entries(FIXTURE / "schemas" / "probes.yaml"))


# -- the fixture: values ------------------------------------------------------------------------


def fixture_ids() -> dict[str, dict[str, int]]:
    return {
        "probes": {r["code"]: i + 1 for i, r in enumerate(PROBES)},
        "readings": {r["code"]: i + 1 for i, r in enumerate(READINGS)},
    }


def test_the_loader_types_the_fixture_as_the_model_does(fixture_spec: Spec) -> None:
    """Every computed field's type, and Int against BigInt by the ranges (Expected.of also
    evaluates every field of every row: no fixture row reaches a double overflow)."""
    expected = Expected.of(fixture_spec, fixture_ids())
    for table, computed in (("probes", expected.probes), ("readings", expected.readings)):
        loaded = {f.name: f.type.value for f in fixture_spec.table(table).computed}
        assert loaded == {n: computed.types[n].name for n in computed.names}, table


@pytest.mark.parametrize("name", PROBE_FIELDS)
def test_computed_values_are_the_models(world: World, name: str) -> None:
    computed, rows = world.expected.probes, world.expected.probe_rows
    got = world.data(f"{{ probes(orderBy: [{{id: ASC}}]) {{ code {camel(name)} }} }}")["probes"]
    problems = Mismatches(world)
    problems.check("codes", [r["code"] for r in rows], [r["code"] for r in got])
    for want, have in zip(rows, got, strict=True):
        problems.check(want["code"], to_json(computed.types[name], want[name]), have[camel(name)])
    problems.assert_none()


def test_a_lookup_and_a_connection_read_the_same_values(world: World) -> None:
    computed, rows = world.expected.probes, world.expected.probe_rows
    fields = " ".join(camel(n) for n in computed.names)
    got = world.data(
        f'{{ probe(code: "p-zeros") {{ {fields} }} '
        f"probesConnection(first: 100) {{ nodes {{ code {fields} }} }} }}"
    )
    problems = Mismatches(world)
    for row in rows:
        node = next(n for n in got["probesConnection"]["nodes"] if n["code"] == row["code"])
        for name in computed.names:
            value = to_json(computed.types[name], row[name])
            problems.check(f"{row['code']}.{name}", value, node[camel(name)])
            if row["code"] == "p-zeros":
                problems.check(f"lookup {name}", value, got["probe"][camel(name)])
    problems.assert_none()


def test_computed_fields_are_nullable_and_describe_their_formula(world: World) -> None:
    got = world.data('{ __type(name: "Probe") { fields { name description type { kind } } } }')
    fields = {f["name"]: f for f in got["__type"]["fields"]}
    for name, entry in world.expected.probes.entries.items():
        field = fields[camel(name)]
        assert field["type"]["kind"] != "NON_NULL", name
        assert "Computed:" in field["description"], (name, field["description"])
        if "expr" in entry:
            assert entry["expr"] in field["description"], (name, field["description"])


TIMED = ("age_hours", "age_days")


def moving_clock_api(world: World, start: dt.datetime) -> Api:
    """An API whose clock moves an hour each time the server reads it."""
    moments = itertools.count()
    api = api_for(world.db, world.spec, world.catalog, SETTINGS)
    api.graph.clock = lambda: start + dt.timedelta(hours=next(moments))
    return api


def test_time_functions_read_the_moment_of_the_request(world: World) -> None:
    """A later request sees the values at its own moment, one moment for a list and the
    relations and filters under it, however often the clock is read."""
    later = NOW + dt.timedelta(hours=1, microseconds=7)
    api = moving_clock_api(world, later)
    fields = " ".join(camel(n) for n in TIMED)
    got = world.loop.run_until_complete(
        api.data(
            f"{{ probes(orderBy: [{{id: ASC}}]) {{ code {fields} "
            "readings(orderBy: [{id: ASC}]) { code recent } "
            "recent: readings(where: {recent: {eq: true}}, orderBy: [{id: ASC}]) { code } } }"
        )
    )["probes"]
    at_later = Expected.of(world.spec, _ids(world), later)
    problems = Mismatches(world)
    for row, answer in zip(at_later.probe_rows, got, strict=True):
        for name in TIMED:
            problems.check(f"{row['code']}.{name}", row[name], answer[camel(name)])
        linked = [r for r in at_later.reading_rows if r["probe_code"] == row["code"]]
        want = [{"code": r["code"], "recent": r["recent"]} for r in linked]
        problems.check(f"{row['code']}.readings", want, answer["readings"])
        recent = [{"code": r["code"]} for r in linked if r["recent"]]
        problems.check(f"{row['code']}.recent", recent, answer["recent"])
    problems.assert_none()


def test_one_request_has_one_moment(world: World) -> None:
    """'one instant for the whole request': two lists of one request, one moment."""
    api = moving_clock_api(world, NOW)
    query = "{ a: probes { code ageHours } b: probes { code ageHours } }"
    got = world.loop.run_until_complete(api.data(query))
    assert got["a"] == got["b"]


def _ids(world: World) -> dict[str, dict[str, int]]:
    return {
        "probes": {r["code"]: r["id"] for r in world.expected.probe_rows},
        "readings": {r["code"]: r["id"] for r in world.expected.reading_rows},
    }


def from_json(ty: Ty, value: Any) -> Any:
    """A stored value as the API wrote it, back in the model's terms."""
    if value is None:
        return None
    if ty.kind == "int":
        return int(value)
    if ty.kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if ty.kind == "date":
        return dt.date.fromisoformat(value)
    return value


def test_the_shipped_expressions_read_as_the_model_says(
    seeded_db: TestDatabase, spec: Spec, catalog: Catalog, loop: asyncio.AbstractEventLoop
) -> None:
    """schemas/*.yaml's own computed expressions (passRate, linesChanged, dataFreshnessHours)
    over the sample data, against the model fed with the rows' stored values."""
    api = fixed_clock_api(seeded_db, spec, catalog)
    checked = 0
    for table in spec.tables.values():
        entries = read_entries(ROOT / "schemas" / f"{table.name}.yaml")
        exprs = {n: e for n, e in entries.items() if "expr" in e}
        if not exprs:
            continue
        computed = Computed.of(table, exprs)
        trees = [parse(e["expr"]) for e in exprs.values()]
        names = {n.id for tree in trees for n in ast.walk(tree) if isinstance(n, ast.Name)}
        used = sorted(names & {f.name for f in table.fields})  # not the functions' names
        fields = " ".join(camel(n) for n in [*used, *exprs])
        query = f"{{ {table.list_root}(orderBy: [{{id: ASC}}], limit: 1000) {{ id {fields} }} }}"
        answers = loop.run_until_complete(api.data(query))[table.list_root]
        assert answers, table.name
        for answer in answers:
            row = {n: from_json(computed.types[n], answer[camel(n)]) for n in used}
            full = computed.evaluate(row)
            for name in exprs:
                value = to_json(computed.types[name], full[name])
                assert same(value, answer[camel(name)]), (table.name, name, row, answer)
                checked += 1
    assert checked > 0


# -- the fixture: filters, orderings, pages -----------------------------------------------------


def filter_document(
    computed: Computed, rows: Sequence[Row], name: str, *, brief: bool = False
) -> tuple[str, dict[str, Any], list[tuple[str, list[str]]]]:
    """One request with a list of probes per filter on `name` (and its `not`), and the model's
    codes. `brief`: isNull, eq and gt only, `not` of eq only (for generated fields)."""
    parts, variables, wanted = [], {}, []
    in_order = sorted(rows, key=lambda r: r["id"])
    cases = where_cases(computed.types[name], [r[name] for r in rows])
    if brief:
        kept = ({"isNull": True}, {"eq": True}, {"eq": False})
        cases = [c for c in cases if c[0] in kept or next(iter(c[0])) in ("eq", "gt")]
    for i, (ops, holds) in enumerate(cases):
        for negate in (False, True):
            if negate and brief and "eq" not in ops:
                continue
            key = f"w_{name}_{i}{'_not' if negate else ''}"
            where = {camel(name): ops}
            variables[key] = {"not": where} if negate else where
            parts.append(f"{key}: probes(where: ${key}, orderBy: [{{id: ASC}}]) {{ code }}")
            wanted.append((key, [r["code"] for r in in_order if holds(r[name]) != negate]))
    header = ", ".join(f"${k}: ProbeWhere" for k in variables)
    return f"query Filters({header}) {{ {' '.join(parts)} }}", variables, wanted


@pytest.mark.parametrize("name", PROBE_FIELDS)
def test_where_on_computed_fields_selects_the_models_rows(world: World, name: str) -> None:
    query, variables, wanted = filter_document(
        world.expected.probes, world.expected.probe_rows, name
    )
    got = world.data(query, variables)
    problems = Mismatches(world)
    for key, codes in wanted:
        problems.check(f"{json.dumps(variables[key])}", codes, _codes(got, key))
    problems.assert_none()


def order_document(computed: Computed, rows: Sequence[Row], name: str) -> tuple[str, list[Any]]:
    parts, wanted = [], []
    for direction in DIRECTIONS:
        key = f"o_{name}_{direction}"
        parts.append(f"{key}: probes(orderBy: [{{{camel(name)}: {direction}}}]) {{ code }}")
        wanted.append((key, ordered(rows, name, direction)))
    return "{ " + " ".join(parts) + " }", wanted


@pytest.mark.parametrize("name", PROBE_FIELDS)
def test_order_by_computed_fields_is_the_models_order(world: World, name: str) -> None:
    query, wanted = order_document(world.expected.probes, world.expected.probe_rows, name)
    got = world.data(query)
    problems = Mismatches(world)
    for key, codes in wanted:
        problems.check(key, codes, _codes(got, key))
    problems.assert_none()


PAGED = (
    ("span_hours", "DESC"),
    ("cased", "ASC"),
    ("earliest", "ASC_NULLS_FIRST"),
    ("first", "DESC_NULLS_LAST"),
    ("last_seen", "DESC"),
    ("flag_day", "ASC"),
    ("is_late", "DESC"),
    ("mixed", "ASC"),
)


@pytest.mark.parametrize(("name", "direction"), PAGED)
def test_connections_page_by_computed_fields(world: World, name: str, direction: str) -> None:
    """Walking a connection two rows at a time returns the model's order, each row once."""
    seen: list[str] = []
    after: str | None = None
    for _ in range(len(PROBES) + 2):
        page = world.data(
            f"query P($after: String) {{ probesConnection(first: 2, after: $after, "
            f"orderBy: [{{{camel(name)}: {direction}}}]) {{ nodes {{ code }} "
            "pageInfo { hasNextPage endCursor } } }",
            {"after": after},
        )["probesConnection"]
        seen += [n["code"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ordered(world.expected.probe_rows, name, direction)


def _by_codes(rows: Sequence[Row], codes: Sequence[str]) -> list[Row]:
    by_code = {r["code"]: r for r in rows}
    return [by_code[c] for c in codes]


def _codes(answer: Mapping[str, Any], key: str) -> list[str]:
    return [r["code"] for r in answer[key]]


RELATIONS_QUERY = """{
  nested: probes(orderBy: [{id: ASC}]) { code
    readings(orderBy: [{valueTwice: DESC}]) { code valueTwice recent } }
  byProbe: readings(orderBy: [{probe: {spanHours: ASC}}]) { code }
  byCount: readings(orderBy: [{probe: {counted: DESC}}, {recent: ASC}]) { code }
  linkedTotal: readings(where: {probe: {total: {gt: 0}}}, orderBy: [{id: ASC}]) { code }
  some: probes(where: {readings: {some: {valueTwice: {gt: 1}}}}, orderBy: [{id: ASC}]) { code }
  every: probes(where: {readings: {every: {recent: {eq: true}}}}, orderBy: [{id: ASC}]) { code }
  parents: readings(orderBy: [{id: ASC}]) { code probe { code okShare lastSeen } }
  readingFilter: readings(where: {recent: {eq: false}}, orderBy: [{id: ASC}]) { code }
}"""


def relations_expected(expected: Expected) -> dict[str, Any]:
    probes = {r["code"]: r for r in expected.probe_rows}
    readings = sorted(expected.reading_rows, key=lambda r: r["id"])
    twice = expected.readings.types["value_twice"]
    share, seen = expected.probes.types["ok_share"], expected.probes.types["last_seen"]
    linked = {code: [r for r in readings if r["probe_code"] == code] for code in probes}

    def through(name: str) -> list[Row]:
        return [r | {"_key": probes.get(r["probe_code"] or "", {}).get(name)} for r in readings]

    # counted DESC (nulls first: readings without a probe), then recent ASC (nulls last), id.
    by_recent = sorted(readings, key=lambda r: (r["recent"] is None, r["recent"]))
    by_count = sorted(
        [r | {"_key": probes.get(r["probe_code"] or "", {}).get("counted")} for r in by_recent],
        key=lambda r: (r["_key"] is not None, -(r["_key"] or 0)),
    )
    return {
        "nested": [
            {
                "code": code,
                "readings": [
                    {
                        "code": r["code"],
                        "valueTwice": to_json(twice, r["value_twice"]),
                        "recent": r["recent"],
                    }
                    for r in _by_codes(linked[code], ordered(linked[code], "value_twice", "DESC"))
                ],
            }
            for code in [r["code"] for r in sorted(probes.values(), key=lambda r: r["id"])]
        ],
        "byProbe": [{"code": c} for c in ordered(through("span_hours"), "_key", "ASC")],
        "byCount": [{"code": r["code"]} for r in by_count],
        "linkedTotal": [
            {"code": r["code"]}
            for r in readings
            if (p := probes.get(r["probe_code"] or ""))
            and p["total"] is not None
            and p["total"] > 0
        ],
        "some": [
            {"code": r["code"]}
            for r in sorted(probes.values(), key=lambda r: r["id"])
            if any(x["value_twice"] is not None and x["value_twice"] > 1 for x in linked[r["code"]])
        ],
        "every": [
            {"code": r["code"]}
            for r in sorted(probes.values(), key=lambda r: r["id"])
            if all(x["recent"] is True for x in linked[r["code"]])
        ],
        "parents": [
            {
                "code": r["code"],
                "probe": None
                if (p := probes.get(r["probe_code"] or "")) is None
                else {
                    "code": p["code"],
                    "okShare": to_json(share, p["ok_share"]),
                    "lastSeen": to_json(seen, p["last_seen"]),
                },
            }
            for r in readings
        ],
        "readingFilter": [{"code": r["code"]} for r in readings if r["recent"] is False],
    }


def test_relations_read_filter_and_sort_by_computed_fields(world: World) -> None:
    """Computed fields of linked rows: nested lists sorted by them, to-one sorts and filters
    through them, some/every filters on the linked rows' computed fields."""
    got = world.data(RELATIONS_QUERY)
    problems = Mismatches(world)
    for key, want in relations_expected(world.expected).items():
        problems.check(key, want, got[key])
    problems.assert_none()


# -- the fixture: aggregates --------------------------------------------------------------------

AGGREGATE_QUERY = """{
  byCased: probesAggregate(groupBy: [{field: CASED}]) {
    key { cased } count
    countDistinct { first picked earliest isLate }
    sum { total gap mixed amountSum counted }
    avg { total mixed amountSum }
    min { spanHours earliest cased flagDay total negWhole }
    max { spanHours earliest cased flagDay lastSeen bigHalf }
    p50: percentile(p: 0.5) { ageHours total bigHalf }
    p90: percentile(p: 0.9) { mixed spanDays }
    p0: percentile(p: 0) { share }
    p1: percentile(p: 1) { share ratioPerUnit } }
  byTwo: probesAggregate(groupBy: [{field: IS_LATE}, {field: FLAG_DAY}]) {
    key { isLate flagDay cased } count }
  byYear: probesAggregate(groupBy: [{field: EARLIEST, bucket: YEAR}]) { key { earliest } count }
  byShare: probesAggregate(where: {total: {gt: 0}}, groupBy: [{field: SHARE}]) {
    key { share } count sum { amountSum } }
  having: probesAggregate(groupBy: [{field: SAME_STATUS}], having: {sum: {total: {gt: "0"}}},
      orderBy: [{sum: {total: DESC}}]) { key { sameStatus } count sum { total } }
  ordered: probesAggregate(groupBy: [{field: FAILED}], orderBy: [{max: {spanHours: DESC}}]) {
    key { failed } max { spanHours } }
  perProbe: probes(orderBy: [{id: ASC}]) { code
    readingsAggregate { count sum { valueTwice } max { valueTwice } min { valueTwice } } }
}"""
# Sums and averages of floats: in the database's order of rows (docs/api.md), so compared within
# the summation's error bound, not exactly, and not between the databases.
FLOAT_AGGREGATE_QUERY = """{
  byCased: probesAggregate(groupBy: [{field: CASED}]) {
    key { cased } sum { share scaled valueSum ageDays } avg { share ageHours valueAvg first } }
}"""


def null_last(value: Any) -> tuple[bool, Any]:
    return (value is None, value)


def group(rows: Sequence[Row], names: Sequence[str]) -> list[tuple[tuple[Any, ...], list[Row]]]:
    """Groups in key order: ascending, nulls last (docs/api.md), -0.0 one key with 0.0."""
    found: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        found.setdefault(tuple(row[n] for n in names), []).append(row)
    return sorted(found.items(), key=lambda item: tuple(null_last(v) for v in item[0]))


def measure(kind: str, ty: Ty, values: Sequence[Any], p: float = 0.0) -> Any:
    """One measure of a group's non-null values, as docs/api.md ("Aggregates") gives it."""
    present = [v for v in values if v is not None]
    if kind == "countDistinct":
        return len(set(present))
    if not present:
        return None
    if kind == "sum":
        return str(sum(present))  # integer sums only: a BigInt, exact at any size
    if kind == "avg":
        return float(Fraction(sum(present)) / len(present))
    if kind in ("min", "max"):
        return to_json(ty, min(present) if kind == "min" else max(present))
    return percentile([float(v) for v in present], p)


def aggregate_expected(expected: Expected) -> dict[str, Any]:
    rows = sorted(expected.probe_rows, key=lambda r: r["id"])
    types = expected.probes.types

    def measures(members: Sequence[Row], kind: str, names: str, p: float = 0.0) -> dict[str, Any]:
        return {
            camel(n): measure(kind, types[n], [r[n] for r in members], p) for n in names.split()
        }

    def key(names: Sequence[str], values: Sequence[Any], shown: Sequence[str]) -> dict[str, Any]:
        key = {camel(n): None for n in shown}
        key.update({camel(n): to_json(types[n], v) for n, v in zip(names, values, strict=True)})
        return key

    by_cased = [
        {
            "key": key(["cased"], k, ["cased"]),
            "count": len(members),
            "countDistinct": measures(members, "countDistinct", "first picked earliest is_late"),
            "sum": measures(members, "sum", "total gap mixed amount_sum counted"),
            "avg": measures(members, "avg", "total mixed amount_sum"),
            "min": measures(members, "min", "span_hours earliest cased flag_day total neg_whole"),
            "max": measures(
                members, "max", "span_hours earliest cased flag_day last_seen big_half"
            ),
            "p50": measures(members, "percentile", "age_hours total big_half", 0.5),
            "p90": measures(members, "percentile", "mixed span_days", 0.9),
            "p0": measures(members, "percentile", "share", 0),
            "p1": measures(members, "percentile", "share ratio_per_unit", 1),
        }
        for k, members in group(rows, ["cased"])
    ]
    years = [
        r | {"_year": None if r["earliest"] is None else at(r["earliest"].year, 1, 1)} for r in rows
    ]
    with_sums = [
        (k, members, measure("sum", types["total"], [r["total"] for r in members]))
        for k, members in group(rows, ["same_status"])
    ]
    kept = [(k, m, s) for k, m, s in with_sums if s is not None and int(s) > 0]
    kept.sort(key=lambda item: null_last(item[0][0]))
    kept.sort(key=lambda item: -int(item[2]))
    spans = [
        (k, measure("max", types["span_hours"], [r["span_hours"] for r in members]))
        for k, members in group(rows, ["failed"])
    ]
    spans.sort(key=lambda item: null_last(item[0][0]))
    spans.sort(key=lambda item: (item[1] is not None, -(item[1] or 0.0)))  # DESC: nulls first
    return {
        "byCased": by_cased,
        "byTwo": [
            {
                "key": key(["is_late", "flag_day"], k, ["is_late", "flag_day", "cased"]),
                "count": len(m),
            }
            for k, m in group(rows, ["is_late", "flag_day"])
        ],
        "byYear": [
            {"key": {"earliest": None if k[0] is None else stamp(k[0])}, "count": len(m)}
            for k, m in group(years, ["_year"])
        ],
        "byShare": [
            {
                "key": key(["share"], k, ["share"]),
                "count": len(m),
                "sum": {
                    "amountSum": measure("sum", types["amount_sum"], [r["amount_sum"] for r in m])
                },
            }
            for k, m in group(
                [r for r in rows if r["total"] is not None and r["total"] > 0], ["share"]
            )
        ],
        "having": [
            {"key": key(["same_status"], k, ["same_status"]), "count": len(m), "sum": {"total": s}}
            for k, m, s in kept
        ],
        "ordered": [
            {"key": key(["failed"], k, ["failed"]), "max": {"spanHours": v}} for k, v in spans
        ],
        "perProbe": [
            {"code": r["code"], "readingsAggregate": [linked_measures(expected, r["code"])]}
            for r in rows
        ],
    }


def linked_measures(expected: Expected, code: str) -> dict[str, Any]:
    """A probe's one group of its readings (count 0 and null measures when none link)."""
    twice = expected.readings.types["value_twice"]
    values = [x["value_twice"] for x in expected.reading_rows if x["probe_code"] == code]
    return {
        "count": len(values),
        "sum": {"valueTwice": _float_sum(values)},
        "max": {"valueTwice": measure("max", twice, values)},
        "min": {"valueTwice": measure("min", twice, values)},
    }


def _float_sum(values: Sequence[float | None]) -> float | None:
    """A float sum where every order of the rows gives the same double (the fixture's readings
    are dyadic): null when no value."""
    present = [v for v in values if v is not None]
    return math.fsum(present) if present else None


def test_aggregates_group_by_and_measure_computed_fields(world: World) -> None:
    """groupBy (also a time bucket of a computed datetime), count, countDistinct, sum, avg,
    min, max, percentile, having and group ordering on computed fields, and a relation's
    aggregate of the linked rows' computed field; exact, but float sums and averages."""
    got = world.data(AGGREGATE_QUERY)
    problems = Mismatches(world)
    for key, want in aggregate_expected(world.expected).items():
        problems.check(key, want, got[key])
    floats = world.data(FLOAT_AGGREGATE_QUERY)["byCased"]
    rows = world.expected.probe_rows
    groups = group(rows, ["cased"])
    problems.check("float groups", [k[0] for k, _ in groups], [g["key"]["cased"] for g in floats])
    for (_, members), answer in zip(groups, floats, strict=False):
        for kind, names in (
            ("sum", "share scaled value_sum age_days"),
            ("avg", "share age_hours value_avg first"),
        ):
            for name in names.split():
                values = [float(r[name]) for r in members if r[name] is not None]
                got_value = answer[kind][camel(name)]
                count = len(values) if kind == "avg" else None
                if not float_sum_close(values, got_value, count):
                    problems.note(
                        f"{kind} {name} of {members[0]['cased']}: {values} -> {got_value}"
                    )
    problems.assert_none()


# -- the Python registry ------------------------------------------------------------------------


def test_the_python_registry_reads_filters_and_sorts_computed_fields(world: World) -> None:
    registry = Registry(world.spec, world.db.engine)
    computed, rows = world.expected.probes, world.expected.probe_rows
    got = registry.query_rows("probes", {"total": {"gt": 0}}, order_by=["-span_hours", "code"])
    want_rows = [r for r in rows if r["total"] is not None and r["total"] > 0]
    by_span = sorted(want_rows, key=lambda r: r["code"])
    by_span.sort(key=lambda r: (r["span_hours"] is not None, -(r["span_hours"] or 0.0)))
    assert [r["code"] for r in got] == [r["code"] for r in by_span]
    problems = Mismatches(world)
    for want, have in zip(by_span, got, strict=True):
        for name in computed.names:
            if "_since(" in computed.entries[name].get("expr", ""):
                continue  # the registry has no test clock: its "now" is the real one
            expected_value = want[name]
            if computed.types[name].kind == "float" and expected_value is not None:
                expected_value = float(expected_value)
            if not same(expected_value, have[name]) and expected_value != have[name]:
                problems.note(f"{want['code']}.{name}: {expected_value!r} != {have[name]!r}")
    pos = registry.query_rows("probes", {"cased": "pos", "is_late": True}, order_by="id")
    problems.check(
        "cased pos, late",
        [r["code"] for r in rows if r["cased"] == "pos" and r["is_late"] is True],
        [r["code"] for r in pos],
    )
    problems.check(
        "count",
        len([r for r in rows if r["flag_day"] is not None]),
        registry.count_rows("probes", {"flag_day": {"isNull": False}}),
    )
    problems.assert_none()


# -- SQLite and PostgreSQL answer alike ---------------------------------------------------------


@pytest.mark.parametrize("name", PROBE_FIELDS)
def test_both_databases_answer_alike_per_field(worlds: dict[str, World], name: str) -> None:
    """The values, filters and orderings of each computed field, byte for byte (but -0.0)."""
    sqlite, postgresql = both(worlds)
    computed, rows = sqlite.expected.probes, sqlite.expected.probe_rows
    filters, variables, _ = filter_document(computed, rows, name)
    orders, _ = order_document(computed, rows, name)
    values = f"{{ probes(orderBy: [{{id: ASC}}]) {{ code {camel(name)} }} }}"
    for query, arguments in ((values, {}), (filters, variables), (orders, {})):
        answers = [canonical(w.post(query, arguments)) for w in (sqlite, postgresql)]
        assert answers[0] == answers[1], query


def test_both_databases_answer_alike_for_relations_and_aggregates(
    worlds: dict[str, World],
) -> None:
    sqlite, postgresql = both(worlds)
    for query in (RELATIONS_QUERY, AGGREGATE_QUERY):
        answers = [canonical(w.post(query)) for w in (sqlite, postgresql)]
        assert answers[0] == answers[1], query


# -- generated expressions ----------------------------------------------------------------------

FIELDS_PER_SCHEMA = 6
INT_LITERALS = ("0", "1", "2", "3", "7", "1000", str(2**31 - 1), str(2**31), str(2**40))
FLOAT_LITERALS = ("0.5", "2.5", "0.1", "3.0", "0.001", "10000000000.0", "1.0", "1e-300")
STRING_LITERALS = tuple(
    json.dumps(s, ensure_ascii=False)
    for s in ("", "a%_\\é", "%", "_", "\\", "é", "É", "ünïcødé 🎉", "same", "same ", "A", "'")
)
KINDS = ("int", "float", "bool", "string", "date", "datetime")
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


class Generator:
    """Random well-typed expressions of the whole grammar over the pool's fields.

    Every compound part is parenthesised, so precedence never matters; an integer expression
    that could leave 64 bits (the loader refuses those) falls back to a leaf."""

    def __init__(self, data: st.DataObject, pool: Mapping[str, Ty]) -> None:
        self.data = data
        self.pool = pool
        self.model = Model(pool)

    def pick(self, options: Sequence[str]) -> str:
        return self.data.draw(st.sampled_from(list(options)))

    def chance(self, one_in: int) -> bool:
        return self.data.draw(st.integers(1, one_in)) == 1

    def fields(self, kind: str) -> list[str]:
        return [n for n, t in self.pool.items() if t.kind == kind]

    def expr(self, kind: str, depth: int) -> str:
        # Text, dates and datetimes have only if/case/coalesce: they stop earlier.
        if depth <= 0 or self.chance(2 if kind in ("string", "date", "datetime") else 4):
            return self.leaf(kind)
        makers: dict[str, tuple[Callable[[str, int], str], ...]] = {
            "int": (self.arithmetic, self.arithmetic, self.negate, self.choose),
            "float": (
                *(self.divide, self.mixed, self.time_function, self.time_function),
                *(self.negate, self.choose),
            ),
            "bool": (
                *(self.compare, self.compare, self.member, self.null_test),
                *(self.logic, self.choose),
            ),
        }
        options = makers.get(kind, (self.choose,))
        maker = options[self.data.draw(st.integers(0, len(options) - 1))]
        source = maker(kind, depth - 1)
        try:
            self.model.type_of(parse(source))
        except Refused:
            return self.leaf(kind)
        return source

    def leaf(self, kind: str) -> str:
        literals = {
            "int": INT_LITERALS,
            "float": FLOAT_LITERALS,
            "bool": ("True", "False"),
            "string": STRING_LITERALS,
        }.get(kind, ())
        fields = self.fields(kind)
        if literals and (not fields or self.chance(3)):
            return self.pick(literals)
        return self.pick(fields)

    def number(self, depth: int) -> str:
        return self.expr(self.pick(("int", "float")), depth)

    def arithmetic(self, kind: str, depth: int) -> str:
        op = self.pick(("+", "-", "*"))
        return f"({self.expr('int', depth)}) {op} ({self.expr('int', depth)})"

    def negate(self, kind: str, depth: int) -> str:
        return f"-({self.expr(kind, depth)})"

    def divide(self, kind: str, depth: int) -> str:
        return f"({self.number(depth)}) / ({self.number(depth)})"

    def mixed(self, kind: str, depth: int) -> str:
        sides = [self.expr("float", depth), self.number(depth)]
        if self.chance(2):
            sides.reverse()
        return f"({sides[0]}) {self.pick(('+', '-', '*'))} ({sides[1]})"

    def time(self, depth: int) -> str:
        return self.expr(self.pick(("date", "datetime")), depth)

    def time_function(self, kind: str, depth: int) -> str:
        name = self.pick(tuple(TIME_FUNCTIONS))
        if name.endswith("_since"):
            return f"{name}({self.time(depth)})"
        return f"{name}({self.time(depth)}, {self.time(depth)})"

    def choose(self, kind: str, depth: int) -> str:
        """if/else, case or coalesce; a float mixes in integers, any value but the first may
        be None."""

        def value(first: bool = False) -> str:
            if not first and self.chance(4):
                return "None"
            wanted = "float" if first else self.pick(("int", "float"))
            return self.expr(wanted if kind == "float" else kind, depth)

        form = self.pick(("if", "case", "coalesce"))
        if form == "if":
            values = [value(first=True), value()]
            if self.chance(2):
                values.reverse()
            return f"({values[0]}) if ({self.expr('bool', depth)}) else ({values[1]})"
        if form == "case":
            pairs = [
                (self.expr("bool", depth), value(first=i == 0)) for i in range(1 + self.chance(2))
            ]
            parts = [f"({c}), ({v})" for c, v in pairs]
            return f"case({', '.join(parts)}, ({value()}))"
        args = [value(first=True), *(value() for _ in range(1 + self.chance(2)))]
        return f"coalesce({', '.join(f'({a})' for a in args)})"

    def compare(self, kind: str, depth: int) -> str:
        category = self.pick(("number", "time", "string", "enum", "bool"))
        ops: Sequence[str]
        if category == "number":
            left, right, ops = self.number(depth), self.number(depth), COMPARISONS
        elif category == "time":
            moment = self.pick(("date", "datetime"))
            left, right, ops = self.expr(moment, depth), self.expr(moment, depth), COMPARISONS
        elif category == "enum":
            field = self.pick(self.fields("enum"))
            others = [
                n for n in self.fields("enum") if self.pool[n].values == self.pool[field].values
            ]
            values = tuple(json.dumps(v) for v in self.pool[field].values)
            left, right, ops = field, self.pick((*values, *others)), ("==", "!=")
        else:
            wanted = "string" if category == "string" else "bool"
            left, right, ops = self.expr(wanted, depth), self.expr(wanted, depth), ("==", "!=")
        return f"({left}) {self.pick(ops)} ({right})"

    def member(self, kind: str, depth: int) -> str:
        category = self.pick(("int", "float", "string", "enum"))
        if category == "enum":
            field = self.pick(self.fields("enum"))
            subject, constants = field, tuple(json.dumps(v) for v in self.pool[field].values)
        else:
            subject = self.expr(category, depth)
            # Numbers of either kind meet as `==` would meet them.
            numbers = (*INT_LITERALS, *FLOAT_LITERALS)
            constants = numbers if category in ("int", "float") else STRING_LITERALS
        chosen = self.data.draw(st.lists(st.sampled_from(constants), min_size=1, max_size=3))
        tuple_text = f"({chosen[0]},)" if len(chosen) == 1 else f"({', '.join(chosen)})"
        return f"({subject}) {self.pick(('in', 'not in'))} {tuple_text}"

    def null_test(self, kind: str, depth: int) -> str:
        subject_kind = self.pick((*KINDS, "enum"))
        subject = (
            self.pick(self.fields("enum"))
            if subject_kind == "enum"
            else self.expr(subject_kind, depth)
        )
        return f"({subject}) {self.pick(('is', 'is not'))} None"

    def logic(self, kind: str, depth: int) -> str:
        if self.chance(3):
            return f"not ({self.expr('bool', depth)})"
        operands = [self.expr("bool", depth) for _ in range(2 + self.chance(3))]
        return f" {self.pick(('and', 'or'))} ".join(f"({o})" for o in operands)


@dataclasses.dataclass
class Generated:
    """One schema's generated computed fields: their text, types and values by the model."""

    sources: dict[str, str]
    types: dict[str, Ty]
    rows: list[Row]
    skipped: list[str]


def generate(data: st.DataObject, base: Computed, rows: Sequence[Row]) -> Generated:
    pool = dict(base.types)
    model = Model(pool)
    full = [dict(r) for r in rows]
    sources: dict[str, str] = {}
    types: dict[str, Ty] = {}
    skipped: list[str] = []
    for i in range(FIELDS_PER_SCHEMA):
        kind = data.draw(st.sampled_from(KINDS))
        source = Generator(data, pool).expr(kind, depth=3)
        tree = parse(source)
        ty = model.type_of(tree)
        try:
            values = [model.value(tree, row) for row in full]
        except FloatEdge as edge:
            skipped.append(f"{source}: {edge}")
            continue
        name = f"g{i}"
        sources[name] = source
        pool[name] = model.types[name] = as_referenced(ty)
        types[name] = ty
        for row, value in zip(full, values, strict=True):
            row[name] = value
    return Generated(sources, types, full, skipped)


STORED_PROBES = (FIXTURE / "schemas" / "probes.yaml").read_text()
STORED_PROBES = STORED_PROBES[: STORED_PROBES.index("\ncomputed:\n") + 1]
STORED_READINGS = (FIXTURE / "schemas" / "readings.yaml").read_text()
STORED_READINGS = STORED_READINGS[: STORED_READINGS.index("\ncomputed:\n") + 1]
RELATIONS = (FIXTURE / "relations.yaml").read_text()


def write_spec(root: Path, computed: str, *, suffix: str = "", readings: str | None = "") -> None:
    """The fixture's stored fields with other computed fields (tables renamed by `suffix`);
    `readings=None`: the probes alone, without relations (a smaller schema to build)."""
    (root / "schemas").mkdir(parents=True, exist_ok=True)
    probes = STORED_PROBES.replace("table: cx_probes", f"table: cx{suffix}_probes")
    (root / "schemas" / "probes.yaml").write_text(probes + computed)
    if readings is None:
        (root / "relations.yaml").write_text("relations: []\n")
        return
    stored = STORED_READINGS.replace("table: cx_readings", f"table: cx{suffix}_readings")
    (root / "schemas" / "readings.yaml").write_text(stored + readings)
    (root / "relations.yaml").write_text(RELATIONS)


def computed_yaml(sources: Mapping[str, str]) -> str:
    lines = ["computed:"]
    for name, source in sources.items():
        lines += [
            f"  {name}:",
            "    description: A generated expression.",
            f"    expr: {json.dumps(source, ensure_ascii=False)}",
        ]
    return "\n".join(lines) + "\n" if sources else ""


@dataclasses.dataclass(repr=False)
class GeneratedWorld:
    dbs: dict[str, TestDatabase]
    folder: Path
    base: Computed
    rows: list[Row]
    loop: asyncio.AbstractEventLoop
    counter: Iterator[int]


@pytest.fixture(scope="module")
def generated_world(
    tmp_path_factory: pytest.TempPathFactory,
    loop: asyncio.AbstractEventLoop,
    fixture_spec: Spec,
) -> Iterator[GeneratedWorld]:
    """One database of each kind; each example creates its own two tables in it."""
    base = Computed.of(fixture_spec.table("probes"), {})
    rows = [
        r | {"id": i + 1} for i, r in enumerate(full_rows(fixture_spec.table("probes"), PROBES))
    ]
    folder = tmp_path_factory.mktemp("generated")
    with ExitStack() as stack:
        dbs = {}
        for backend in BACKENDS:
            if backend == "postgresql" and pg_admin_url() is None:
                continue
            dbs[backend] = stack.enter_context(fresh_database(backend, folder))
        yield GeneratedWorld(dbs, folder, base, rows, loop, itertools.count())


def generated_document(
    generated: Generated,
) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, tuple[list[float], bool]]]:
    """One request reading every generated field every way; the model's answers by alias, and
    the float sums and averages to compare within their bound (alias -> values, is average)."""
    rows = sorted(generated.rows, key=lambda r: r["id"])
    names = list(generated.sources)
    parts = [f"rows: probes(orderBy: [{{id: ASC}}]) {{ code {' '.join(names)} }}"]
    want: dict[str, Any] = {
        "rows": [
            {"code": r["code"], **{n: to_json(generated.types[n], r[n]) for n in names}}
            for r in rows
        ]
    }
    variables: dict[str, Any] = {}
    close: dict[str, tuple[list[float], bool]] = {}
    trees = {n: parse(source) for n, source in generated.sources.items()}
    computed = Computed(generated.types, names, {}, trees, Model(generated.types))
    for name in names:
        ty = generated.types[name]
        query, given, wanted = filter_document(computed, rows, name, brief=True)
        parts.append(query[query.index("{") + 1 : query.rindex("}")])
        variables.update(given)
        want.update({key: [{"code": c} for c in codes] for key, codes in wanted})
        direction = DIRECTIONS[names.index(name) % len(DIRECTIONS)]  # each in turn
        key = f"o_{name}_{direction}"
        parts.append(f"{key}: probes(orderBy: [{{{name}: {direction}}}]) {{ code }}")
        want[key] = [{"code": c} for c in ordered(rows, name, direction)]
        key = f"k_{name}"
        group_by = f"groupBy: [{{field: {name.upper()}}}]"
        parts.append(f"{key}: probesAggregate({group_by}) {{ key {{ {name} }} count }}")
        want[key] = [
            {"key": {name: to_json(ty, k[0])}, "count": len(m)} for k, m in group(rows, [name])
        ]
        values = [r[name] for r in rows]
        if ty.kind != "bool":
            key = f"m_{name}"
            measures = " ".join(f"{m} {{ {name} }}" for m in ("min", "max", "countDistinct"))
            parts.append(f"{key}: probesAggregate {{ {measures} }}")
            want[key] = [
                {
                    "min": {name: measure("min", ty, values)},
                    "max": {name: measure("max", ty, values)},
                    "countDistinct": {name: measure("countDistinct", ty, values)},
                }
            ]
        if ty.kind == "int":
            key = f"s_{name}"
            measures = " ".join(
                f"{m} {{ {name} }}" for m in ("sum", "avg", "p: percentile(p: 0.5)")
            )
            parts.append(f"{key}: probesAggregate {{ {measures} }}")
            want[key] = [
                {
                    "sum": {name: measure("sum", ty, values)},
                    "avg": {name: measure("avg", ty, values)},
                    "p": {name: measure("percentile", ty, values, 0.5)},
                }
            ]
        present = [float(v) for v in values if v is not None and ty.kind == "float"]
        if ty.kind == "float" and all(abs(v) <= 1e300 for v in present):
            for kind in ("sum", "avg"):
                key = f"f{kind}_{name}"
                parts.append(f"{key}: probesAggregate {{ {kind} {{ {name} }} }}")
                close[key] = (present, kind == "avg")
    header = ", ".join(f"${k}: ProbeWhere" for k in variables)
    query = (
        f"query Generated({header}) {{ {' '.join(parts)} }}"
        if header
        else "{ " + " ".join(parts) + " }"
    )
    return query, variables, want, close


@settings(
    max_examples=GENERATED_EXAMPLES,
    derandomize=not FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
    # Each example creates tables on both databases: shrinking would take minutes. A failure
    # prints the whole schema's expressions, which is what one needs to reproduce it.
    phases=(Phase.explicit, Phase.generate),
)
@given(data=st.data())
def test_generated_expressions_read_as_the_model_says(
    generated_world: GeneratedWorld, data: st.DataObject
) -> None:
    """Each example: several generated computed fields in one schema file, loaded, created on
    every database, their values, filters, orderings and aggregates compared with the model,
    and the databases with each other."""
    world = generated_world
    generated = generate(data, world.base, world.rows)
    if not generated.sources:
        return
    described = "\n".join(
        [f"  {n}: {s}  ({generated.types[n].name})" for n, s in generated.sources.items()]
        + [f"  left out: {s}" for s in generated.skipped]
    )
    suffix = f"g{next(world.counter)}"
    root = world.folder / suffix
    write_spec(root, computed_yaml(generated.sources), suffix=suffix, readings=None)
    try:
        spec = load_spec(root / "schemas", root / "relations.yaml")
    except SpecErrors as caught:
        pytest.fail(f"the loader refuses well-typed expressions:\n{described}\n{caught}")
    loaded = {f.name: f.type.value for f in spec.table("probes").computed}
    assert loaded == {n: t.name for n, t in generated.types.items()}, described
    catalog = build_catalog(spec)
    query, variables, want, close = generated_document(generated)
    answers: dict[str, str] = {}
    problems: list[str] = []
    for backend, db in world.dbs.items():
        create_schema(db.engine, catalog)
        insert_all(db, catalog, spec, {"probes": PROBES})
        api = fixed_clock_api(db, spec, catalog)
        body = world.loop.run_until_complete(api.post(query, variables))
        if body.get("errors"):
            problems.append(f"{backend}: errors {body['errors'][:3]}")
            continue
        got = body["data"]
        for key, expected in want.items():
            if not same(expected, got[key]):
                given = json.dumps(variables.get(key))
                problems.append(f"{backend} {key} {given}: expected {expected}, got {got[key]}")
        for key, (values, is_avg) in close.items():
            kind = "avg" if is_avg else "sum"
            value = got[key][0][kind][key.split("_", 1)[1]]
            if not float_sum_close(values, value, len(values) if is_avg else None):
                problems.append(f"{backend} {key}: {kind} of {values} is not {value}")
        answers[backend] = canonical({k: v for k, v in got.items() if k not in close})
    if len(set(answers.values())) > 1:
        sqlite, postgresql = (json.loads(answers[b]) for b in BACKENDS)
        problems += [
            f"databases differ at {key}: sqlite {sqlite[key]}, postgresql {postgresql[key]}"
            for key in sqlite
            if sqlite[key] != postgresql[key]
        ]
    if problems:
        pytest.fail(f"generated fields:\n{described}\n" + "\n".join(problems[:30]), pytrace=False)


# -- mistakes, reported at load with file:line:column -------------------------------------------


def spec_issues(
    root: Path, computed: str, readings: str = ""
) -> list[tuple[str, int, int, str, str]]:
    write_spec(root, "computed:\n" + computed if computed else "", readings=readings)
    with pytest.raises(SpecErrors) as caught:
        load_spec(root / "schemas", root / "relations.yaml")
    return [
        (Path(i.pos.path).name, i.pos.line, i.pos.column, i.code, i.message)
        for i in caught.value.issues
    ]


EXPR_LINE = STORED_PROBES.count("\n") + 4  # computed:, the name, its description, its expr
# (case, the expr as written in YAML, where the report points in it, a part of the message)
EXPRESSION_MISTAKES = [
    ("unknown field", "smal + 1", "smal", "Probe has no field 'smal'; did you mean 'small'?"),
    ("enum arithmetic", "status + 1", "status", "+ needs numbers"),
    ("bool arithmetic", "flag + 1", "flag", "+ needs numbers"),
    ("text order", '\'"a" < "b"\'', '"a"', "compared with == and != only"),
    ("time of a number", "hours_since(small)", "small)", "hours_since() needs a date or datetime"),
    ("unknown enum value", 'status == "nope"', "status", "'nope' is not a value of the enum"),
    ("modulo", "small % 2", "small", "only + - * / are arithmetic operators"),
    ("floor division", "small // 2", "small", "only + - * / are arithmetic operators"),
    ("power", "small ** 2", "small", "only + - * / are arithmetic operators"),
    ("chained comparison", "small < whole < mid", "small", "one comparison at a time"),
    ("unknown function", "floor(small)", "floor", "no function 'floor' (there are: coalesce"),
    ("always null", "None", "None", "the expression is always null"),
    ("null arithmetic", "small + None", "None", "+ of None is always null"),
    ("comparison with None", "small == None", "small", "a comparison with None is always null"),
    ("64-bit overflow", "big * big", "big", "this can reach"),
    ("overflow by a literal", "big + 1", "big", "this can reach 9223372036854775808"),
    ("negated int64", "-big", "-big", "this can reach 9223372036854775808"),
    ("id plus one", "id + 1", "id", "this can reach 9223372036854775808"),
    ("enum result", "status", "status", "enum; compare it"),
    ("enum chosen", "coalesce(status, prev_status)", "coalesce", "enum values are compared"),
    ("text field", 'notes == "x"', "notes", "'notes' is a text field"),
    ("json field", "meta is None", "meta", "'meta' is a json field"),
    ("list field", "tags is None", "tags", "'tags' is a list field"),
    ("uuid field", 'ref == "x"', "ref", "'ref' is a uuid field"),
    ("attribute", "small.real", "small", "Attribute is not part of the expression language"),
    ("lambda", "'lambda: 1'", "lambda", "Lambda is not part of the expression language"),
    ("int against text", 'small == "x"', "small", "cannot compare an int with a string"),
    ("date against datetime", "day < at", "day", "cannot compare a date with a datetime"),
    ("and of a number", "small and flag", "small", "'and' needs a true/false value"),
    ("infinite literal", "1e400", "1e400", "numbers must be finite"),
    ("huge literal", "'99999999999999999999'", "9999", "99999999999999999999 does not fit"),
    ("None in in", "small in (1, None)", "None", "'in' takes constant values"),
    ("field in in", "small in (1, whole)", "whole", "'in' takes constant values"),
    ("empty in", "small in ()", "()", "'in' takes a list of values"),
    ("case arity", "case(flag, 1)", "case", "case() takes condition, value pairs"),
    ("coalesce arity", "coalesce(small)", "coalesce", "coalesce() takes two or more values"),
    ("syntax", "small +", "small", "syntax error"),
    ("self reference", "total + 1", "total", "Probe has no field 'total'"),
]


@pytest.mark.parametrize(
    ("case", "expr", "marker", "message"),
    EXPRESSION_MISTAKES,
    ids=[c[0] for c in EXPRESSION_MISTAKES],
)
def test_expression_mistakes_are_reported_where_they_are(
    tmp_path: Path, case: str, expr: str, marker: str, message: str
) -> None:
    line = f"    expr: {expr}"
    computed = f"  total:\n    description: A mistake.\n{line}\n"
    found = spec_issues(tmp_path, computed)
    assert found == [
        ("probes.yaml", EXPR_LINE, line.index(marker) + 1, "BAD_EXPRESSION", found[0][4])
    ], found
    assert message in found[0][4], found[0][4]


def _at(text: str, line_text: str, marker: str) -> tuple[int, int]:
    """The line and column of `marker` in the first line of `text`'s computed section that
    starts with `line_text`."""
    lines = text.splitlines()
    first = lines.index("computed:")
    for number, line in enumerate(lines[first:], start=first + 1):
        if line.startswith(line_text):
            return number, line.index(marker, len(line_text) - len(line_text.lstrip())) + 1
    raise AssertionError(line_text)


# (case, computed section of probes.yaml, of readings.yaml, the line, the marker, code, message)
FIELD_MISTAKES = [
    (
        "type int, expr float",
        "  bad:\n    type: int\n    description: x.\n    expr: ratio + 1\n",
        "",
        ("    type: int", "int"),
        "BAD_VALUE",
        "'type' says int, but the expr gives float",
    ),
    (
        "type bigint, expr int",
        "  bad:\n    type: bigint\n    description: x.\n    expr: small + 1\n",
        "",
        ("    type: bigint", "bigint"),
        "BAD_VALUE",
        "'type' says bigint, but the expr gives int",
    ),
    (
        "type date, expr datetime",
        "  bad:\n    type: date\n    description: x.\n    expr: coalesce(at, until)\n",
        "",
        ("    type: date", "date"),
        "BAD_VALUE",
        "'type' says date, but the expr gives datetime",
    ),
    (
        "sum of text",
        "  bad:\n    description: x.\n    rollup: {relation: readings, aggregate: sum, of: note}\n",
        "",
        ("    rollup:", "note"),
        "BAD_VALUE",
        "sum needs a number, not string",
    ),
    (
        "avg of text",
        "  bad:\n    description: x.\n    rollup: {relation: readings, aggregate: avg, of: note}\n",
        "",
        ("    rollup:", "note"),
        "BAD_VALUE",
        "avg needs a number, not string",
    ),
    (
        "max of an enum",
        "  bad:\n    description: x.\n    rollup: {relation: readings, aggregate: max, of: kind}\n",
        "",
        ("    rollup:", "kind"),
        "BAD_VALUE",
        "enum field: computed rollups take the minimum and maximum of numbers, dates",
    ),
    (
        "rollup where value",
        "  bad:\n    description: x.\n"
        "    rollup: {relation: readings, aggregate: count, where: {kind: nope}}\n",
        "",
        ("    rollup:", "nope"),
        "BAD_DEFAULT",
        "'kind': expected one of ok, bad, odd",
    ),
    (
        "rollup over a to-one relation",
        "",
        "computed:\n  bad:\n    description: x.\n    rollup: {relation: probe, aggregate: count}\n",
        ("    rollup:", "probe"),
        "BAD_VALUE",
        "'probe' is not a to-many relation of Reading",
    ),
    (
        "name of a field",
        "  small:\n    description: x.\n    expr: whole + 1\n",
        "",
        ("  small:", "small"),
        "DUPLICATE_KEY",
        "'small' is already a field or relation of the table",
    ),
    (
        "name of a relation",
        "  readings:\n    description: x.\n    expr: whole + 1\n",
        "",
        ("  readings:", "readings"),
        "DUPLICATE_KEY",
        "'readings' is already a field or relation of the table",
    ),
    (
        "a field declared later",
        "  bad:\n    description: x.\n    expr: later + 1\n  later:\n    description: x.\n"
        "    expr: small\n",
        "",
        ("    expr: later", "later"),
        "BAD_EXPRESSION",
        "Probe has no field 'later'",
    ),
    (
        "sql reserved name",
        "  select:\n    description: x.\n    expr: small\n",
        "",
        ("  select:", "select"),
        "BAD_NAME",
        "computed field name 'select' is an SQL reserved word",
    ),
    (
        "no description",
        "  bad:\n    expr: small\n",
        "",
        ("    expr: small", "expr"),
        "MISSING_KEY",
        "computed field is missing 'description'",
    ),
    (
        "neither expr nor rollup",
        "  bad:\n    description: x.\n",
        "",
        ("    description: x.", "description"),
        "MISSING_KEY",
        "a computed field needs 'expr' or 'rollup'",
    ),
    (
        "both expr and rollup",
        "  bad:\n    description: x.\n    expr: small\n"
        "    rollup: {relation: readings, aggregate: count}\n",
        "",
        ("    rollup: {", "rollup"),
        "BAD_VALUE",
        "a computed field has 'expr' or 'rollup', not both",
    ),
]


@pytest.mark.parametrize(
    ("case", "computed", "readings", "place", "code", "message"),
    FIELD_MISTAKES,
    ids=[c[0] for c in FIELD_MISTAKES],
)
def test_computed_field_mistakes_are_reported_where_they_are(
    tmp_path: Path,
    case: str,
    computed: str,
    readings: str,
    place: tuple[str, str],
    code: str,
    message: str,
) -> None:
    found = spec_issues(tmp_path, computed, readings)
    file_name, text = (
        ("readings.yaml", STORED_READINGS + readings)
        if readings
        else ("probes.yaml", STORED_PROBES + "computed:\n" + computed)
    )
    line, column = _at(text, *place)
    assert [(f, ln, col, c) for f, ln, col, c, _ in found] == [(file_name, line, column, code)], (
        found
    )
    assert message in found[0][4], found[0][4]


def test_bad_expression_is_listed_among_the_error_codes() -> None:
    """docs/schema-format.md lists every code the loader reports ("Error codes")."""
    codes = (ROOT / "docs" / "schema-format.md").read_text().split("## Error codes", 1)[1]
    assert "`BAD_EXPRESSION`" in codes


# -- writes refuse computed fields ---------------------------------------------------------------


@pytest.fixture
def writable(empty_db: TestDatabase, fixture_spec: Spec) -> tuple[TestDatabase, Catalog]:
    catalog = build_catalog(fixture_spec)
    create_schema(empty_db.engine, catalog)
    return empty_db, catalog


def row_count(db: TestDatabase, catalog: Catalog) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(catalog.table("probes"))).scalar_one()
        )


@pytest.mark.parametrize("field", ["total", "counted"])
def test_mutation_inputs_have_no_computed_fields(
    writable: tuple[TestDatabase, Catalog],
    fixture_spec: Spec,
    loop: asyncio.AbstractEventLoop,
    field: str,
) -> None:
    db, catalog = writable
    api = fixed_clock_api(db, fixture_spec, catalog)
    insert_error = loop.run_until_complete(
        api.error(
            f'mutation {{ insertProbes(rows: [{{code: "x", {camel(field)}: 3}}]) '
            "{ affectedCount } }"
        )
    )
    assert insert_error["extensions"]["code"] == "BAD_USER_INPUT", insert_error
    assert f"unknown field '{camel(field)}'" in insert_error["message"], insert_error
    assert row_count(db, catalog) == 0
    written = loop.run_until_complete(
        api.data(
            'mutation { insertProbes(rows: [{code: "x", small: 3}]) { rows { total counted } } }'
        )
    )
    assert written["insertProbes"]["rows"] == [{"total": 6, "counted": 0}]
    update_error = loop.run_until_complete(
        api.error(
            'mutation { updateProbes(where: {code: {eq: "x"}}, '
            f"set: {{{camel(field)}: 1}}) {{ affectedCount }} }}"
        )
    )
    assert update_error["extensions"]["code"] == "BAD_USER_INPUT", update_error
    assert loop.run_until_complete(api.data("{ probes { small total } }")) == {
        "probes": [{"small": 3, "total": 6}]
    }


@pytest.mark.parametrize("field", ["total", "counted", "earliest"])
def test_the_python_registry_refuses_computed_fields(
    writable: tuple[TestDatabase, Catalog], fixture_spec: Spec, field: str
) -> None:
    db, catalog = writable
    registry = Registry(fixture_spec, db.engine)
    with pytest.raises(RowErrors) as caught:
        registry.insert_row("probes", {"code": "x", "small": 1, field: None})
    assert caught.value.code == "BAD_USER_INPUT"
    assert f"rows[0].{field}: is computed by the database when read and cannot be written" in str(
        caught.value
    )
    assert row_count(db, catalog) == 0
    registry.insert_row("probes", {"code": "x", "small": 1})
    with pytest.raises(RowErrors) as caught:
        registry.update_rows("probes", {"code": "x"}, {field: 1})
    assert f"set.{field}: is computed" in str(caught.value)
    assert registry.get_row("probes", "x") is not None
    assert registry.query_rows("probes")[0]["total"] == 2


def test_grace_graph_load_refuses_computed_fields(
    writable: tuple[TestDatabase, Catalog], tmp_path: Path
) -> None:
    db, catalog = writable
    rows = tmp_path / "probes.jsonl"
    rows.write_text('{"code": "a", "small": 1}\n{"code": "b", "small": 2, "total": 4}\n')
    result = CliRunner().invoke(
        app,
        [
            "load",
            "probes",
            str(rows),
            "--database",
            db.url,
            "--schemas",
            str(FIXTURE / "schemas"),
            "--relations",
            str(FIXTURE / "relations.yaml"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "total" in result.output and "computed" in result.output, result.output
    assert row_count(db, catalog) == 0


# -- what the doc leaves open or the server gets wrong -----------------------------------------

# Doubles that overflow or underflow (docs/api.md, OUT_OF_RANGE): beyond the largest double
# both databases refuse the request; a non-zero result below the smallest double is refused by
# PostgreSQL and rounded (to 0 or a subnormal) by SQLite. Never an internal error.
EDGES = {
    "squared": ("ratio * ratio", {"ratio": 1e300}),
    "huge_quotient": ("ratio / unit", {"ratio": 1e300, "unit": 5e-324}),
    "tiny_product": ("ratio * unit", {"ratio": 5e-324, "unit": 5e-324}),
    "tiny_third": ("ratio / 3", {"ratio": 5e-324}),
}
OVERFLOWS = ("squared", "huge_quotient")


def edge_spec(root: Path) -> Spec:
    sources = {name: source for name, (source, _) in EDGES.items()}
    write_spec(root, computed_yaml(sources), readings=None)
    return load_spec(root / "schemas", root / "relations.yaml")


@pytest.mark.parametrize("name", list(EDGES))
def test_a_double_overflow_is_no_internal_error(
    empty_db: TestDatabase,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    name: str,
    request: pytest.FixtureRequest,
) -> None:
    spec = edge_spec(tmp_path)
    catalog = build_catalog(spec)
    create_schema(empty_db.engine, catalog)
    insert_all(
        empty_db,
        catalog,
        spec,
        {
            "probes": [
                {"code": "edge", **EDGES[name][1]},
                {"code": "plain", "ratio": 2.0, "unit": 0.5},
            ]
        },
    )
    api = fixed_clock_api(empty_db, spec, catalog)
    body = loop.run_until_complete(
        api.post(f"{{ probes(orderBy: [{{id: ASC}}]) {{ code {camel(name)} }} }}")
    )
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
    if name in OVERFLOWS or empty_db.backend == "postgresql":
        assert codes == ["OUT_OF_RANGE"], body
        assert body["data"] is None, body
    else:
        assert codes == [], body
        assert abs(body["data"]["probes"][0][camel(name)]) < 1e-300, body


@pytest.mark.parametrize(
    "name",
    [
        name
        if name in OVERFLOWS
        else pytest.param(
            name,
            marks=pytest.mark.xfail(
                strict=True,
                reason="documented: PostgreSQL refuses a non-zero result below the smallest "
                "double (OUT_OF_RANGE), SQLite rounds it to 0 or a subnormal",
            ),
        )
        for name in EDGES
    ],
)
def test_a_double_overflow_gives_the_same_answer_on_both_databases(
    worlds: dict[str, World], tmp_path: Path, loop: asyncio.AbstractEventLoop, name: str
) -> None:
    both(worlds)
    spec = edge_spec(tmp_path)
    catalog = build_catalog(spec)
    answers = []
    for backend in BACKENDS:
        with fresh_database(backend, tmp_path) as db:
            create_schema(db.engine, catalog)
            insert_all(db, catalog, spec, {"probes": [{"code": "edge", **EDGES[name][1]}]})
            api = fixed_clock_api(db, spec, catalog)
            body = loop.run_until_complete(api.post(f"{{ probes {{ code {camel(name)} }} }}"))
            for error in body.get("errors", []):
                error["extensions"].pop("requestId")  # one per request, never the same
            answers.append(canonical(body))
    assert answers[0] == answers[1]


def test_a_write_does_not_fail_on_a_computed_field_it_does_not_write(
    empty_db: TestDatabase, tmp_path: Path
) -> None:
    """A write returns the row as stored, without the computed fields: `squared: ratio * ratio`
    overflows for ratio=1e300, and the insert still happens; reading the field is then
    OUT_OF_RANGE, and reading the others is not."""
    spec = edge_spec(tmp_path)
    catalog = build_catalog(spec)
    create_schema(empty_db.engine, catalog)
    registry = Registry(spec, empty_db.engine)
    row = registry.insert_row("probes", {"code": "edge", "ratio": 1e300})
    assert row["ratio"] == 1e300
    assert not set(row) & set(EDGES), row
    assert registry.count_rows("probes") == 1
    with pytest.raises(OutOfRangeError):
        registry.get_row("probes", "edge")


def test_negative_literals_are_constants_of_in(tmp_path: Path) -> None:
    write_spec(
        tmp_path,
        computed_yaml({"signed": "small in (1, -1)", "signed_float": "ratio not in (-2.5, 0.5)"}),
    )
    spec = load_spec(tmp_path / "schemas", tmp_path / "relations.yaml")
    assert {f.name: f.type.value for f in spec.table("probes").computed} == {
        "signed": "bool",
        "signed_float": "bool",
    }


# `in`: constants beyond the subject's 32 bits, and floats after an integer (PostgreSQL once
# bound them all with the subject's or the first constant's type).
CONSTANTS_OF_IN: dict[str, dict[str, str]] = {
    "beyond_int32": {
        "whole_beyond": "whole in (2147483648, 7)",
        "sum_beyond": "(small + 1) not in (4294967296, 2)",
    },
    "mixed_numbers": {
        "small_mixed": "small in (2, 0.1)",
        "ratio_mixed": "ratio in (2, 0.1)",
        "ratio_not_mixed": "ratio not in (1, 2.5)",
    },
}


@pytest.mark.parametrize("case", list(CONSTANTS_OF_IN))
def test_in_compares_its_constants_as_equality_would(
    empty_db: TestDatabase,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    case: str,
) -> None:
    """`in` holds where `==` would hold for one of the constants: an int never equals a
    constant beyond its range, nor 0 the float 0.1."""
    sources = CONSTANTS_OF_IN[case]
    write_spec(tmp_path, computed_yaml(sources), readings=None)
    spec = load_spec(tmp_path / "schemas", tmp_path / "relations.yaml")
    catalog = build_catalog(spec)
    create_schema(empty_db.engine, catalog)
    insert_all(empty_db, catalog, spec, {"probes": PROBES})
    computed = Computed.of(spec.table("probes"), {n: {"expr": e} for n, e in sources.items()})
    rows = [computed.evaluate(r) for r in full_rows(spec.table("probes"), PROBES)]
    api = fixed_clock_api(empty_db, spec, catalog)
    fields = " ".join(camel(n) for n in sources)
    got = loop.run_until_complete(
        api.post(f"{{ probes(orderBy: [{{id: ASC}}]) {{ code {fields} }} }}")
    )
    want = [{"code": r["code"], **{camel(n): r[n] for n in sources}} for r in rows]
    assert got == {"data": {"probes": want}}
