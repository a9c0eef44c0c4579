"""The spec loader reports every problem at once, as file:line:column, one test per kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from graph.cli import app
from graph.errors import SpecErrors
from graph.spec import load_spec

GOOD_TABLE = """\
table: memory_tickets
type: Ticket
description: Support tickets.
key: ticket_id
fields:
  ticket_id: {type: string, max_length: 32, description: Ticket id.}
  title: {type: string, required: true, description: One-line summary.}
  priority: {type: enum, values: [low, high], default: low, description: How urgent.}
  component: {type: string, description: Component affected.}
  order_ids: {type: list, of: string, description: Linked orders.}
  score: {type: float, min: 0, max: 1, description: Satisfaction.}
"""
GOOD_ORDERS = """\
table: memory_orders
type: Order
description: Work orders.
key: order_id
fields:
  order_id: {type: string, description: Order id.}
  component: {type: string, description: Component changed.}
  points: {type: int, min: 0, description: Size.}
"""
GOOD_RELATIONS = """\
relations:
  - name: orders
    from: tickets.order_ids
    to: orders.order_id
    reverse: tickets
  - name: same_component_orders
    from: tickets.component
    to: orders.component
    reverse: same_component_tickets
"""


def write(root: Path, tickets: str = GOOD_TABLE, relations: str = GOOD_RELATIONS) -> None:
    (root / "schemas").mkdir(exist_ok=True)
    (root / "schemas" / "tickets.yaml").write_text(tickets)
    (root / "schemas" / "orders.yaml").write_text(GOOD_ORDERS)
    (root / "relations.yaml").write_text(relations)


def problems(root: Path) -> list[str]:
    with pytest.raises(SpecErrors) as caught:
        load_spec(root / "schemas", root / "relations.yaml")
    return [
        f"{i.pos.path.rsplit('/', 1)[-1]}:{i.pos.line}:{i.pos.column} {i.code} {i.message}"
        for i in caught.value.issues
    ]


def test_good_spec_loads(tmp_path: Path) -> None:
    write(tmp_path)
    spec = load_spec(tmp_path / "schemas", tmp_path / "relations.yaml")
    ticket = spec.table("tickets")
    assert [f.name for f in ticket.fields][:2] == ["id", "ticket_id"]
    assert {e.name: e.many for e in ticket.relations} == {
        "orders": True,
        "same_component_orders": True,
    }
    assert {e.name: e.many for e in spec.table("orders").relations} == {
        "tickets": True,
        "same_component_tickets": True,
    }


CASES = [
    (
        "yaml syntax",
        GOOD_TABLE.replace("fields:", "fields: [", 1),
        GOOD_RELATIONS,
        "tickets.yaml:7:3 YAML_SYNTAX YAML syntax error: expected ',' or ']'",
    ),
    (
        "duplicate key",
        GOOD_TABLE + "  title: {type: text, description: again}\n",
        GOOD_RELATIONS,
        "tickets.yaml:12:3 DUPLICATE_KEY duplicate key 'title' (first at line 7)",
    ),
    (
        "unknown key",
        GOOD_TABLE.replace("max_length: 32", "max_lenght: 32"),
        GOOD_RELATIONS,
        "tickets.yaml:6:29 UNKNOWN_KEY unknown field key 'max_lenght'; did you mean 'max_length'?",
    ),
    (
        "unknown type",
        GOOD_TABLE.replace("{type: string, required", "{type: strng, required"),
        GOOD_RELATIONS,
        "tickets.yaml:7:17 UNKNOWN_TYPE unknown type 'strng'; did you mean 'string'?",
    ),
    (
        "enum without values",
        GOOD_TABLE.replace("values: [low, high], default: low, ", ""),
        GOOD_RELATIONS,
        "ENUM_WITHOUT_VALUES enum field 'priority' needs a non-empty list",
    ),
    (
        "bad default",
        GOOD_TABLE.replace("default: low", "default: urgent"),
        GOOD_RELATIONS,
        "BAD_DEFAULT bad default 'urgent' for type enum: expected one of low, high",
    ),
    (
        "not snake_case",
        GOOD_TABLE.replace("  component:", "  Component:"),
        GOOD_RELATIONS,
        "tickets.yaml:9:3 BAD_NAME field name 'Component' is not snake_case",
    ),
    (
        "python keyword",
        GOOD_TABLE + "  lambda: {type: int, description: x}\n",
        GOOD_RELATIONS,
        "BAD_NAME field name 'lambda' is a Python keyword",
    ),
    (
        "sql keyword",
        GOOD_TABLE + "  select: {type: int, description: x}\n",
        GOOD_RELATIONS,
        "BAD_NAME field name 'select' is an SQL reserved word",
    ),
    (
        "generated-name collision",
        GOOD_TABLE + "  order_ids2: {type: int, description: x}\n"
        "  tickets: {type: int, description: x}\n",
        GOOD_RELATIONS.replace("reverse: tickets", "reverse: ticket_rows").replace(
            "name: orders", "name: tickets"
        ),
        "NAME_COLLISION relation 'tickets' on Ticket",
    ),
    (
        "field named like a relation's aggregate",
        GOOD_TABLE + "  orders_aggregate: {type: int, description: x}\n",
        GOOD_RELATIONS,
        "NAME_COLLISION the aggregate field of relation 'orders' on Ticket is 'ordersAggregate', "
        "like 'orders_aggregate'",
    ),
    (
        "relation to missing table",
        GOOD_TABLE,
        GOOD_RELATIONS.replace("to: orders.order_id", "to: order.order_id"),
        "relations.yaml:4:9 MISSING_TABLE relation 'to' names unknown table "
        "'order'; did you mean 'orders'?",
    ),
    (
        "relation to missing column",
        GOOD_TABLE,
        GOOD_RELATIONS.replace("orders.component", "orders.componnent"),
        "MISSING_COLUMN table 'orders' has no field 'componnent'; did you mean",
    ),
    (
        "incompatible types",
        GOOD_TABLE,
        GOOD_RELATIONS.replace("orders.component", "orders.points"),
        "INCOMPATIBLE_TYPES tickets.component (string) cannot link to orders.points",
    ),
    (
        "duplicate relation name",
        GOOD_TABLE,
        GOOD_RELATIONS.replace("same_component_orders", "orders"),
        "relations.yaml:6:11 DUPLICATE_RELATION type Ticket already has a relation "
        "'orders' (line 2)",
    ),
    (
        "yaml 1.1 boolean enum",
        GOOD_TABLE.replace("[low, high], default: low", "[yes, no]"),
        GOOD_RELATIONS,
        "BAD_NAME enum value 'yes' reads as a boolean; quote it",
    ),
    (
        "engine field",
        GOOD_TABLE + "  created_at: {type: datetime, description: x}\n",
        GOOD_RELATIONS,
        "RESERVED_NAME field 'created_at' is added by the engine",
    ),
]


@pytest.mark.parametrize(
    ("name", "tickets", "relations", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_each_kind_of_error(
    tmp_path: Path, name: str, tickets: str, relations: str, expected: str
) -> None:
    write(tmp_path, tickets, relations)
    found = problems(tmp_path)
    assert any(expected in line for line in found), found


def test_enum_values_may_be_keywords_but_must_be_snake_case(tmp_path: Path) -> None:
    write(tmp_path, GOOD_TABLE.replace("[low, high], default: low", "[pass, order]"))
    spec = load_spec(tmp_path / "schemas", tmp_path / "relations.yaml")
    assert spec.table("tickets").field("priority").values == ("pass", "order")
    write(tmp_path, GOOD_TABLE.replace("[low, high], default: low", "[low, Very-High]"))
    assert any("enum value 'Very-High' is not snake_case" in p for p in problems(tmp_path))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    broken = (
        GOOD_TABLE.replace("strng", "x")
        .replace("type: string, required", "type: strng, required")
        .replace("default: low", "default: 7")
        + "  select: {type: int, description: x}\n"
    )
    write(tmp_path, broken, GOOD_RELATIONS.replace("orders.component", "orders.nope"))
    codes = sorted(line.split()[1] for line in problems(tmp_path))
    assert codes == ["BAD_DEFAULT", "BAD_NAME", "MISSING_COLUMN", "UNKNOWN_TYPE"]


def test_check_command_prints_compiler_style_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, GOOD_TABLE.replace("{type: string, required", "{type: strng, required"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1
    assert (
        "schemas/tickets.yaml:7:17: unknown type 'strng'; did you mean 'string'? [UNKNOWN_TYPE]"
    ) in result.output


def test_init_refuses_a_broken_spec_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, GOOD_TABLE.replace("default: low", "default: 3"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init", "--database", "sqlite:///./g.db"])
    assert result.exit_code == 1 and not (tmp_path / "g.db").exists()


def test_real_spec_checks_clean() -> None:
    root = Path(__file__).resolve().parent.parent
    result = CliRunner().invoke(
        app,
        ["check", "--schemas", str(root / "schemas"), "--relations", str(root / "relations.yaml")],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 18 tables")
