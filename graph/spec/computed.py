"""Checks the `computed` fields of each schema file: read-only fields the database computes.

    computed:
      data_freshness_hours:
        description: Hours since the last refresh.
        expr: hours_since(last_refresh_at)
      pass_rate:
        description: The share of the tests that passed; null when there are none.
        expr: passed_tests / total_tests
      open_tickets:
        description: Tickets still open.
        rollup: {relation: tickets, aggregate: count, where: {status: [open, in_progress]}}

An expression is written in a small part of Python's expression syntax, parsed by Python's own
parser (`ast`, eval mode) and then checked node by node against the fields of the table: only
the nodes listed in docs/schema-format.md are accepted, every operand's type must fit, and an
integer result must provably fit 64 bits (from the fields' `min`/`max`). A rollup takes the keys
of a stored rollup (graph/spec/rollups.py) and its type follows from the aggregate.

Every problem is reported with the file:line:column of the place in the expression.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, replace
from typing import Literal

from graph.errors import SourcePos
from graph.naming import name_problem, suggest
from graph.spec.expression import (
    Arith,
    ArithOp,
    Choice,
    Coalesce,
    CompareOp,
    Comparison,
    Const,
    Elapsed,
    Expr,
    IsNull,
    Logic,
    Negate,
    OneOf,
    Ref,
    Rollup,
    Unit,
)
from graph.spec.issues import Issues
from graph.spec.model import (
    BIGINT_MAX,
    BIGINT_MIN,
    NUMERIC_TYPES,
    FieldSpec,
    FieldType,
    RollupSpec,
    TableSpec,
)
from graph.spec.reading import report_unknown_keys
from graph.spec.rollups import INTEGERS, RollupChecker
from graph.spec.yaml_tree import YMap, YNode, YScalar

COMPUTED_KEYS = ("description", "expr", "rollup", "type")
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
MOMENTS = frozenset({FieldType.DATE, FieldType.DATETIME})
# Types an expression may read: not documents, lists, long text or uuids.
READABLE = frozenset(
    {
        FieldType.INT,
        FieldType.BIGINT,
        FieldType.FLOAT,
        FieldType.BOOL,
        FieldType.STRING,
        FieldType.ENUM,
        FieldType.DATE,
        FieldType.DATETIME,
    }
)
# Types a computed field may have: an enum or a uuid would need values and rules of its own.
RESULT_TYPES = READABLE - {FieldType.ENUM}
# Types whose values are ordered the same on both databases (`<`, `>`).
ORDERED = NUMERIC_TYPES | MOMENTS
ARITH_OPS: dict[type[ast.operator], ArithOp] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
}
COMPARE_OPS: dict[type[ast.cmpop], CompareOp] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
FUNCTIONS = ("coalesce", "case", "hours_since", "days_since", "hours_between", "days_between")
TYPE_BOUNDS = {FieldType.INT: (INT_MIN, INT_MAX), FieldType.BIGINT: (BIGINT_MIN, BIGINT_MAX)}
Bounds = tuple[int, int]


def attach_computed(
    tables: dict[str, TableSpec], trees: dict[str, YNode], issues: Issues
) -> dict[str, TableSpec]:
    result = dict(tables)
    for name, table in tables.items():
        tree = trees.get(name)
        node = tree.items.get("computed") if isinstance(tree, YMap) else None
        if node is None:
            continue
        # Rollups read the linked tables' columns only (`tables`, before any computed field).
        computed = ComputedChecker(table, tables, issues).check(node)
        result[name] = replace(table, computed=computed)
    return result


class Problem(Exception):
    """One thing wrong in an expression, at a node of Python's tree."""

    def __init__(self, node: ast.AST | None, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


@dataclass(frozen=True)
class Typed:
    """A checked node and, for integers, the range its value provably stays in."""

    expr: Expr
    bounds: Bounds | None = None

    @property
    def type(self) -> FieldType | None:
        return self.expr.type


class ComputedChecker:
    def __init__(self, table: TableSpec, tables: dict[str, TableSpec], issues: Issues) -> None:
        self.table = table
        self.tables = tables
        self.issues = issues
        self.found: list[FieldSpec] = []

    def check(self, node: YNode) -> tuple[FieldSpec, ...]:
        if not isinstance(node, YMap):
            self.issues.add(node.pos, "BAD_VALUE", "'computed' maps field names to definitions")
            return ()
        for name, item in node.items.items():
            field = self._field(name, node.key_pos[name], item)
            if field is not None:
                self.found.append(field)
        return tuple(self.found)

    def _field(self, name: str, pos: SourcePos, node: YNode) -> FieldSpec | None:
        if (problem := name_problem(name)) is not None:
            self.issues.add(pos, "BAD_NAME", f"computed field name '{name}' {problem}")
            return None
        if self.table.has_field(name) or any(e.name == name for e in self.table.relations):
            self.issues.add(
                pos, "DUPLICATE_KEY", f"'{name}' is already a field or relation of the table"
            )
            return None
        if not isinstance(node, YMap):
            self.issues.add(node.pos, "BAD_VALUE", "a computed field is a mapping: expr or rollup")
            return None
        report_unknown_keys(node, COMPUTED_KEYS, "computed field", self.issues)
        description = node.items.get("description")
        if description is None:
            self.issues.add(node.pos, "MISSING_KEY", "computed field is missing 'description'")
        elif not isinstance(description, YScalar) or not str(description.value or "").strip():
            self.issues.add(description.pos, "BAD_VALUE", "'description' must be non-empty text")
        if "expr" in node.items and "rollup" in node.items:
            self.issues.add(
                node.key_pos["rollup"],
                "BAD_VALUE",
                "a computed field has 'expr' or 'rollup', not both",
            )
            return None
        if "expr" not in node.items and "rollup" not in node.items:
            self.issues.add(node.pos, "MISSING_KEY", "a computed field needs 'expr' or 'rollup'")
            return None
        value = self._expression(node) if "expr" in node.items else self._rollup(name, node)
        if value is None or not self._declared_type_fits(node, value.type):
            return None
        text = str(description.value).strip() if isinstance(description, YScalar) else ""
        assert value.type is not None  # _expression and _rollup refuse untyped results
        # The schema's readers (GraphQL's introspection, the playground) see how it is made.
        text = f"{text} Computed: {self._formula(node)}."
        return FieldSpec(name, value.type, text, pos, computed=value)

    @staticmethod
    def _formula(node: YMap) -> str:
        expr = node.items.get("expr")
        if isinstance(expr, YScalar):
            return f"`{' '.join(str(expr.value).split())}`"
        rule = node.items["rollup"]
        assert isinstance(rule, YMap)
        parts = [f"{k}: {_flat(v)}" for k, v in rule.items.items()]
        return f"rollup ({'; '.join(parts)})"

    def _declared_type_fits(self, node: YMap, found: FieldType | None) -> bool:
        """An optional `type:` says what the author expects; it must be what the expression
        gives, so that a reader of the file can trust it."""
        declared = node.items.get("type")
        if declared is None:
            return True
        wanted = declared.value if isinstance(declared, YScalar) else None
        if found is not None and wanted == found.value:
            return True
        types = sorted(t.value for t in RESULT_TYPES)
        if wanted not in types:
            self.issues.add(
                declared.pos,
                "UNKNOWN_TYPE",
                f"unknown type {wanted!r}{suggest(str(wanted), types)} (a computed field is one "
                f"of {', '.join(types)})",
            )
            return False
        self.issues.add(
            declared.pos,
            "BAD_VALUE",
            f"'type' says {wanted!s}, but the {'expr' if 'expr' in node.items else 'rollup'} "
            f"gives {found.value if found is not None else 'no type'}",
        )
        return False

    # -- rollups ------------------------------------------------------------------------

    def _rollup(self, name: str, node: YMap) -> Rollup | None:
        rule_node = node.items["rollup"]
        if not isinstance(rule_node, YMap):
            self.issues.add(rule_node.pos, "BAD_VALUE", "'rollup' is a mapping: relation, ...")
            return None
        rule = RollupChecker(self.table, self.tables, self.issues).rule(name, rule_node, None)
        if rule is None:
            return None
        result = self._rollup_type(rule)
        if result is None:
            self.issues.add(
                rule_node.items["of"].pos,
                "BAD_VALUE",
                f"{rule.aggregate} of {_article(self._of(rule).type.value)} field: computed "
                "rollups take "
                "the minimum and maximum of numbers, dates and datetimes",
            )
            return None
        return Rollup(rule, result)

    def _of(self, rule: RollupSpec) -> FieldSpec:
        end = self.table.relation_end(rule.relation)
        return self.tables[end.target].field(rule.of or "")

    def _rollup_type(self, rule: RollupSpec) -> FieldType | None:
        if rule.aggregate == "count":
            return FieldType.INT
        if rule.aggregate in ("avg", "share"):
            return FieldType.FLOAT
        of = self._of(rule).type
        if rule.aggregate == "sum":
            return FieldType.FLOAT if of is FieldType.FLOAT else FieldType.BIGINT
        # min and max: SQL's min of an enum column is alphabetical, not the declared order.
        return of if of in ORDERED else None

    # -- expressions --------------------------------------------------------------------

    def _expression(self, node: YMap) -> Expr | None:
        scalar = node.items["expr"]
        if not isinstance(scalar, YScalar) or not isinstance(scalar.value, str):
            self.issues.add(scalar.pos, "BAD_VALUE", "'expr' must be an expression, as text")
            return None
        text = scalar.value
        try:
            tree = ast.parse(text.strip(), mode="eval")
            typed = ExpressionTyper(self.table, self.found).check(tree.body)
        except SyntaxError as exc:
            offset = max((exc.offset or 1) - 1, 0) + len(text) - len(text.lstrip())
            self.issues.add(_at(scalar, offset), "BAD_EXPRESSION", f"syntax error: {exc.msg}")
            return None
        except Problem as problem:
            offset = getattr(problem.node, "col_offset", 0) + len(text) - len(text.lstrip())
            self.issues.add(_at(scalar, offset), "BAD_EXPRESSION", problem.message)
            return None
        return typed.expr


def _flat(node: YNode) -> str:
    """A rollup's YAML value on one line, for the field's description."""
    if isinstance(node, YScalar):
        return str(node.value)
    if isinstance(node, YMap):
        return ", ".join(f"{k} {_flat(v)}" for k, v in node.items.items())
    return "/".join(_flat(item) for item in node.items)


def _at(scalar: YScalar, offset: int) -> SourcePos:
    """Where in the file the expression's character `offset` stands: exact for an expression
    on one line (the usual case), the start of the value for one folded over several."""
    pos = scalar.pos
    if "\n" in scalar.raw or pos.line <= 0:
        return pos
    text = scalar.raw
    # ast counts UTF-8 bytes; the file's columns count characters.
    chars = len(text.encode("utf-8")[:offset].decode("utf-8", errors="ignore"))
    return SourcePos(pos.path, pos.line, pos.column + chars + (1 if scalar.quoted else 0))


class ExpressionTyper:
    """Turns Python's tree of one expression into a typed Expr, or raises Problem."""

    def __init__(self, table: TableSpec, earlier: list[FieldSpec]) -> None:
        self.table = table
        self.earlier = {f.name: f for f in earlier}

    def check(self, node: ast.expr) -> Typed:
        typed = self.visit(node)
        if typed.type is None:
            raise Problem(node, "the expression is always null")
        if typed.type not in RESULT_TYPES:
            raise Problem(
                node, f"a computed field cannot be {_article(typed.type.value)}; compare it"
            )
        return typed

    def visit(self, node: ast.expr) -> Typed:
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Constant):
            return _constant(node)
        if isinstance(node, ast.BinOp):
            return self._arith(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BoolOp):
            op: Literal["and", "or"] = "and" if isinstance(node.op, ast.And) else "or"
            items = tuple(self._boolean(v, op).expr for v in node.values)
            return Typed(Logic(op, items))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            whens = ((self._boolean(node.test, "if").expr, self.visit(node.body)),)
            return self._choice(node, whens, self.visit(node.orelse))
        if isinstance(node, ast.Call):
            return self._call(node)
        what = type(node).__name__
        raise Problem(node, f"{what} is not part of the expression language")

    def _name(self, node: ast.Name) -> Typed:
        name = node.id
        field = self.earlier.get(name)
        if field is None and self.table.has_field(name):
            field = self.table.field(name)
        if field is None:
            known = [f.name for f in self.table.fields] + list(self.earlier)
            later = " (computed fields may use those declared before them)"
            hint = suggest(name, known) or (later if name in FUNCTIONS else "")
            raise Problem(node, f"{self.table.type_name} has no field '{name}'{hint}")
        if field.type not in READABLE:
            raise Problem(
                node, f"'{name}' is a {field.type.value} field: expressions do not read those"
            )
        return Typed(Ref(name, field.type), _field_bounds(field))

    def _boolean(self, node: ast.expr, what: str) -> Typed:
        typed = self.visit(node)
        if typed.type is not FieldType.BOOL:
            raise Problem(node, f"'{what}' needs a true/false value, not {_shown(typed)}")
        return typed

    def _number(self, node: ast.expr, what: str) -> Typed:
        typed = self.visit(node)
        if typed.type is None:
            raise Problem(node, f"{what} of None is always null")
        if typed.type not in NUMERIC_TYPES:
            raise Problem(node, f"{what} needs numbers, not {_shown(typed)}")
        return typed

    def _arith(self, node: ast.BinOp) -> Typed:
        op = ARITH_OPS.get(type(node.op))
        if op is None:
            raise Problem(node, "only + - * / are arithmetic operators here")
        left, right = self._number(node.left, op), self._number(node.right, op)
        if op == "/":
            return Typed(Arith(op, left.expr, right.expr, FieldType.FLOAT))
        if FieldType.FLOAT in (left.type, right.type):
            return Typed(Arith(op, left.expr, right.expr, FieldType.FLOAT))
        assert left.bounds is not None and right.bounds is not None
        bounds = _combine(op, left.bounds, right.bounds)
        return Typed(Arith(op, left.expr, right.expr, _integer_type(node, bounds)), bounds)

    def _unary(self, node: ast.UnaryOp) -> Typed:
        if isinstance(node.op, ast.Not):
            return Typed(Logic("not", (self._boolean(node.operand, "not").expr,)))
        if isinstance(node.op, ast.Invert):
            raise Problem(node, "~ is not part of the expression language")
        typed = self._number(node.operand, "-")
        if isinstance(node.op, ast.UAdd):
            return typed
        if typed.bounds is None:
            return Typed(Negate(typed.expr, FieldType.FLOAT))
        bounds = (-typed.bounds[1], -typed.bounds[0])
        return Typed(Negate(typed.expr, _integer_type(node, bounds)), bounds)

    def _compare(self, node: ast.Compare) -> Typed:
        if len(node.ops) != 1:
            raise Problem(node, "one comparison at a time: write a < b and b < c")
        op, right_node = node.ops[0], node.comparators[0]
        left = self.visit(node.left)
        if isinstance(op, ast.Is | ast.IsNot):
            if not (isinstance(right_node, ast.Constant) and right_node.value is None):
                raise Problem(right_node, "'is' compares with None only")
            return Typed(IsNull(left.expr, negated=isinstance(op, ast.IsNot)))
        if isinstance(op, ast.In | ast.NotIn):
            return self._one_of(node, left, right_node, negated=isinstance(op, ast.NotIn))
        symbol = COMPARE_OPS[type(op)]
        right = self.visit(right_node)
        if left.type is None or right.type is None:
            raise Problem(node, "a comparison with None is always null: write 'x is None'")
        self._comparable(node, left, right, symbol)
        return Typed(Comparison(symbol, left.expr, right.expr))

    def _comparable(self, node: ast.expr, left: Typed, right: Typed, symbol: str) -> None:
        types = {left.type, right.type}
        if types <= NUMERIC_TYPES or (len(types) == 1 and left.type in MOMENTS):
            return
        for enum_side, other in ((left, right), (right, left)):
            if enum_side.type is FieldType.ENUM:
                self._enum_literal(node, enum_side, other)
                break
        else:
            if len(types) != 1 or left.type not in (FieldType.STRING, FieldType.BOOL):
                raise Problem(node, f"cannot compare {_shown(left)} with {_shown(right)}")
        if symbol not in ("==", "!="):
            kind = left.type.value if left.type is not None else "these"
            raise Problem(node, f"{kind} values are compared with == and != only")

    def _enum_literal(self, node: ast.expr, enum_side: Typed, other: Typed) -> None:
        """An enum compares with its own values, written as text: status == "failed"."""
        values = self._enum_values(enum_side.expr)
        if isinstance(other.expr, Const) and isinstance(other.expr.value, str):
            if other.expr.value not in values:
                raise Problem(
                    node,
                    f"'{other.expr.value}' is not a value of the enum"
                    f"{suggest(other.expr.value, values)} (those are: {', '.join(values)})",
                )
            return
        if other.type is FieldType.ENUM and self._enum_values(other.expr) == values:
            return
        raise Problem(node, f"an enum compares with one of its values as text, not {_shown(other)}")

    def _enum_values(self, expr: Expr) -> tuple[str, ...]:
        assert isinstance(expr, Ref)  # only a column has the enum type (_unify refuses it)
        return self.table.field(expr.field).values

    def _one_of(self, node: ast.Compare, left: Typed, right: ast.expr, *, negated: bool) -> Typed:
        if not isinstance(right, ast.Tuple | ast.List) or not right.elts:
            raise Problem(right, "'in' takes a list of values: status in ('failed', 'timed_out')")
        choices: list[Const] = []
        for item in right.elts:
            choice = _negative_number(item) or _constant_choice(item)
            self._comparable(node, left, choice, "==")
            assert isinstance(choice.expr, Const)
            choices.append(choice.expr)
        return Typed(OneOf(left.expr, tuple(choices), negated))

    def _call(self, node: ast.Call) -> Typed:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS:
            shown = name or "this"
            raise Problem(
                node,
                f"no function {shown!r}{suggest(shown, FUNCTIONS)} "
                f"(there are: {', '.join(FUNCTIONS)})",
            )
        if node.keywords:
            raise Problem(node.keywords[0].value, f"{name}() takes no named arguments")
        args = node.args
        if any(isinstance(a, ast.Starred) for a in args):
            raise Problem(node, f"{name}() takes its arguments one by one")
        if name == "coalesce":
            if len(args) < 2:
                raise Problem(node, "coalesce() takes two or more values")
            items = [self.visit(a) for a in args]
            result, bounds = _unify(node, items)
            return Typed(Coalesce(tuple(i.expr for i in items), result), bounds)
        if name == "case":
            if len(args) < 3 or len(args) % 2 == 0:
                raise Problem(node, "case() takes condition, value pairs and a last default value")
            pairs = [
                (self._boolean(args[i], "case").expr, self.visit(args[i + 1]))
                for i in range(0, len(args) - 1, 2)
            ]
            return self._choice(node, tuple(pairs), self.visit(args[-1]))
        assert name is not None
        unit: Unit = "hours" if name.startswith("hours") else "days"
        wanted = 1 if name.endswith("_since") else 2
        if len(args) != wanted:
            raise Problem(node, f"{name}() takes {wanted} date or datetime value(s)")
        moments = [self._moment(a, name) for a in args]
        end = moments[1].expr if wanted == 2 else None
        return Typed(Elapsed(unit, moments[0].expr, end))

    def _moment(self, node: ast.expr, function: str) -> Typed:
        typed = self.visit(node)
        if typed.type not in MOMENTS:
            raise Problem(node, f"{function}() needs a date or datetime, not {_shown(typed)}")
        return typed

    def _choice(
        self, node: ast.expr, whens: tuple[tuple[Expr, Typed], ...], default: Typed
    ) -> Typed:
        values = [v for _, v in whens] + [default]
        result, bounds = _unify(node, values)
        pairs = tuple((cond, value.expr) for cond, value in whens)
        return Typed(Choice(pairs, default.expr, result), bounds)


def _constant_choice(node: ast.expr) -> Typed:
    if not isinstance(node, ast.Constant) or node.value is None:
        raise Problem(node, "'in' takes constant values (not fields or None)")
    return _constant(node)


def _negative_number(node: ast.expr) -> Typed | None:
    """`-3` in an `in` list: Python reads it as minus applied to 3."""
    if not (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)):
        return None
    operand = node.operand
    if not isinstance(operand, ast.Constant) or isinstance(operand.value, bool):
        return None
    if not isinstance(operand.value, int | float):
        return None
    negated = ast.Constant(-operand.value)
    ast.copy_location(negated, node)
    return _constant(negated)


def _constant(node: ast.Constant) -> Typed:
    value = node.value
    if value is None:
        return Typed(Const(None, None))
    if isinstance(value, bool):
        return Typed(Const(value, FieldType.BOOL))
    if isinstance(value, int):
        if not BIGINT_MIN <= value <= BIGINT_MAX:
            raise Problem(node, f"{value} does not fit a 64-bit integer")
        kind = FieldType.INT if INT_MIN <= value <= INT_MAX else FieldType.BIGINT
        return Typed(Const(value, kind), (value, value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Problem(node, "numbers must be finite")
        return Typed(Const(value, FieldType.FLOAT))
    if isinstance(value, str):
        if "\x00" in value:
            raise Problem(node, "text may not hold NUL characters")
        return Typed(Const(value, FieldType.STRING))
    raise Problem(node, f"{type(value).__name__} values are not part of the expression language")


def _field_bounds(field: FieldSpec) -> Bounds | None:
    """The range of an integer field: its type's, narrowed by its declared min and max."""
    if field.type not in INTEGERS:
        return None
    low, high = TYPE_BOUNDS[field.type]
    if field.min is not None:
        low = max(low, math.ceil(field.min))
    if field.max is not None:
        high = min(high, math.floor(field.max))
    if field.name == "id":
        low = max(low, 1)
    return low, high


def _combine(op: str, left: Bounds, right: Bounds) -> Bounds:
    """The range of `left op right` for whole numbers (interval arithmetic, exact)."""
    if op == "+":
        return left[0] + right[0], left[1] + right[1]
    if op == "-":
        return left[0] - right[1], left[1] - right[0]
    products = [a * b for a in left for b in right]
    return min(products), max(products)


def _integer_type(node: ast.expr, bounds: Bounds) -> FieldType:
    """`int` when the value provably fits GraphQL's Int, `bigint` when 64 bits, else refused:
    SQLite would turn an overflowing integer into an inexact float, PostgreSQL would fail."""
    if bounds[0] >= INT_MIN and bounds[1] <= INT_MAX:
        return FieldType.INT
    if bounds[0] >= BIGINT_MIN and bounds[1] <= BIGINT_MAX:
        return FieldType.BIGINT
    raise Problem(
        node,
        f"this can reach {bounds[0] if bounds[0] < BIGINT_MIN else bounds[1]}, beyond a 64-bit "
        "integer: give the fields a min and max, or divide (/ gives a float)",
    )


def _unify(node: ast.expr, items: list[Typed]) -> tuple[FieldType, Bounds | None]:
    """The one type of values that stand for each other (coalesce, case, if-else)."""
    types = {i.type for i in items if i.type is not None}
    if not types:
        raise Problem(node, "every value here is None: the result is always null")
    if types <= NUMERIC_TYPES:
        if FieldType.FLOAT in types:
            return FieldType.FLOAT, None
        ranges = [i.bounds for i in items if i.bounds is not None]
        bounds = min(r[0] for r in ranges), max(r[1] for r in ranges)
        return _integer_type(node, bounds), bounds
    if len(types) == 1:
        (only,) = types
        if only is FieldType.ENUM:
            raise Problem(node, "enum values are compared, not chosen: choose text instead")
        return only, None
    shown = ", ".join(sorted(t.value for t in types))
    raise Problem(node, f"these values have different types ({shown})")


def _shown(typed: Typed) -> str:
    return "None" if typed.type is None else _article(typed.type.value)


def _article(name: str) -> str:
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
