"""Checks the `rollups` of each schema file: fields the server keeps from linked rows.

    rollups:
      total_runs:
        relation: executions            # a to-many relation of this table
        aggregate: count                # count | sum | avg | min | max | share
        where: {status: [succeeded, failed, timed_out]}
      success_rate:
        relation: executions
        aggregate: share                # the fraction of the `where` rows that meet `matching`
        where: {status: [succeeded, failed, timed_out]}
        matching: {status: succeeded}
      last_used_at: {relation: executions, aggregate: max, of: started_at}

`writable_until_linked: true` (avg, min, max and share only) lets clients write the field; the
written value stands while no linked row counts, e.g. an imported success rate.

Rollups need the relations, so they are checked after relations.yaml, with the YAML tree of
their file kept for positions. Every problem is reported with its file:line:column.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from graph.naming import suggest
from graph.spec.issues import Issues
from graph.spec.model import (
    NUMERIC_TYPES,
    FieldSpec,
    FieldType,
    RollupSpec,
    TableSpec,
)
from graph.spec.reading import read_bool, report_unknown_keys
from graph.spec.tables import to_python, value_problem
from graph.spec.yaml_tree import YMap, YNode, YScalar

ROLLUP_KEYS = ("relation", "aggregate", "of", "where", "matching", "writable_until_linked")
AGGREGATES = ("count", "sum", "avg", "min", "max", "share")
INTEGERS = frozenset({FieldType.INT, FieldType.BIGINT})
Conditions = tuple[tuple[str, tuple[Any, ...]], ...]


def attach_rollups(
    tables: dict[str, TableSpec], trees: dict[str, YNode], issues: Issues
) -> dict[str, TableSpec]:
    result = dict(tables)
    for name, table in tables.items():
        tree = trees.get(name)
        node = tree.items.get("rollups") if isinstance(tree, YMap) else None
        if node is None:
            continue
        rollups = RollupChecker(table, tables, issues).check(node)
        result[name] = replace(table, rollups=rollups)
    return result


class RollupChecker:
    def __init__(self, table: TableSpec, tables: dict[str, TableSpec], issues: Issues) -> None:
        self.table = table
        self.tables = tables
        self.issues = issues

    def check(self, node: YNode) -> tuple[RollupSpec, ...]:
        if not isinstance(node, YMap):
            self.issues.add(node.pos, "BAD_VALUE", "'rollups' maps field names to rollup rules")
            return ()
        found = []
        for name, item in node.items.items():
            rollup = self._rollup(name, node.key_pos[name], item)
            if rollup is not None:
                found.append(rollup)
        return tuple(found)

    def _rollup(self, name: str, pos: Any, node: YNode) -> RollupSpec | None:
        table = self.table
        if not table.has_field(name) or table.field(name).engine:
            names = [f.name for f in table.declared_fields]
            self.issues.add(
                pos, "MISSING_COLUMN", f"rollup of unknown field '{name}'{suggest(name, names)}"
            )
            return None
        target = table.field(name)
        if name in (table.key, table.audit_chain):
            self.issues.add(pos, "BAD_VALUE", f"'{name}' is the key or the audit stamp")
            return None
        if not isinstance(node, YMap):
            self.issues.add(node.pos, "BAD_VALUE", "a rollup is a mapping: relation, aggregate...")
            return None
        return self.rule(name, node, target)

    def rule(self, name: str, node: YMap, target: FieldSpec | None) -> RollupSpec | None:
        """The rollup `node` declares for field `name`; `target` is the stored field that
        keeps it (its type must fit), None for a computed field (its type follows)."""
        table = self.table
        before = len(self.issues)
        keys = ROLLUP_KEYS if target is not None else ROLLUP_KEYS[:-1]
        report_unknown_keys(node, keys, "rollup", self.issues)
        relation = self._text(node, "relation")
        aggregate = self._text(node, "aggregate")
        if relation is None or aggregate is None:
            return None
        ends = {e.name: e for e in table.relations}
        end = ends.get(relation)
        if end is None or not end.many:
            many = sorted(n for n, e in ends.items() if e.many)
            self.issues.add(
                node.items["relation"].pos,
                "BAD_VALUE",
                f"'{relation}' is not a to-many relation of {table.type_name}"
                + (suggest(relation, many) or f" (those are: {', '.join(many) or 'none'})"),
            )
            return None
        linked = self.tables[end.target]
        if aggregate not in AGGREGATES:
            self.issues.add(
                node.items["aggregate"].pos,
                "BAD_VALUE",
                f"aggregate must be one of {', '.join(AGGREGATES)}",
            )
            return None
        of = self._of(node, aggregate, linked)
        where = self._conditions(node, "where", linked)
        matching = self._conditions(node, "matching", linked)
        if aggregate == "share" and "matching" not in node.items:
            self.issues.add(node.pos, "MISSING_KEY", "aggregate share needs 'matching'")
        if aggregate != "share" and "matching" in node.items:
            self.issues.add(
                node.key_pos["matching"], "BAD_VALUE", "'matching' applies to share only"
            )
        if target is not None:
            self._result_type(node, target, aggregate, of)
        writable = read_bool(node, "writable_until_linked", self.issues)
        if writable and aggregate in ("count", "sum"):
            self.issues.add(
                node.key_pos["writable_until_linked"],
                "BAD_VALUE",
                f"a {aggregate} is 0, not empty, when nothing links: it has no place for a "
                "written value",
            )
        if len(self.issues) > before:
            return None
        return RollupSpec(
            field=name,
            relation=relation,
            aggregate=aggregate,
            pos=node.pos,
            of=of.name if of is not None else None,
            where=where,
            matching=matching,
            writable_until_linked=writable,
        )

    def _text(self, node: YMap, key: str) -> str | None:
        scalar = node.items.get(key)
        if scalar is None:
            self.issues.add(node.pos, "MISSING_KEY", f"rollup is missing '{key}'")
            return None
        if not isinstance(scalar, YScalar) or not isinstance(scalar.value, str):
            self.issues.add(scalar.pos, "BAD_VALUE", f"'{key}' must be a name")
            return None
        return scalar.value

    def _of(self, node: YMap, aggregate: str, linked: TableSpec) -> FieldSpec | None:
        needs = aggregate in ("sum", "avg", "min", "max")
        if not needs:
            if "of" in node.items:
                self.issues.add(node.key_pos["of"], "BAD_VALUE", f"{aggregate} takes no 'of'")
            return None
        name = self._text(node, "of")
        if name is None:
            return None
        pos = node.items["of"].pos
        if not linked.has_field(name):
            names = [f.name for f in linked.fields]
            self.issues.add(
                pos,
                "MISSING_COLUMN",
                f"{linked.type_name} has no field '{name}'{suggest(name, names)}",
            )
            return None
        field = linked.field(name)
        if aggregate in ("sum", "avg") and field.type not in NUMERIC_TYPES:
            self.issues.add(pos, "BAD_VALUE", f"{aggregate} needs a number, not {field.type}")
        elif field.type in (FieldType.JSON, FieldType.LIST):
            self.issues.add(pos, "BAD_VALUE", f"{aggregate} of a {field.type} field")
        return field

    def _conditions(self, node: YMap, key: str, linked: TableSpec) -> Conditions:
        item = node.items.get(key)
        if item is None:
            return ()
        if not isinstance(item, YMap) or not item.items:
            self.issues.add(item.pos, "BAD_VALUE", f"'{key}' maps fields to a value or a list")
            return ()
        result = []
        for name, value_node in item.items.items():
            if not linked.has_field(name):
                self.issues.add(
                    item.key_pos[name],
                    "MISSING_COLUMN",
                    f"{linked.type_name} has no field '{name}'",
                )
                continue
            field = linked.field(name)
            raw = to_python(value_node)
            values = tuple(raw) if isinstance(raw, list) else (raw,)
            for value in values:
                problem = (
                    "conditions compare single values only"
                    if field.is_list or field.type is FieldType.JSON
                    else value_problem(field.type, value, values=field.values)
                )
                if problem is not None:
                    self.issues.add(value_node.pos, "BAD_DEFAULT", f"'{name}': {problem}")
                    break
            else:
                result.append((name, values))
        return tuple(result)

    def _result_type(
        self, node: YMap, target: FieldSpec, aggregate: str, of: FieldSpec | None
    ) -> None:
        kind = target.type
        if aggregate == "count":
            fits = kind in INTEGERS
            wanted = "int or bigint"
        elif aggregate in ("avg", "share"):
            fits = kind is FieldType.FLOAT
            wanted = "float"
        elif aggregate == "sum" and of is not None:
            fits = kind is FieldType.FLOAT or (kind in INTEGERS and of.type in INTEGERS)
            wanted = "float" if of.type is FieldType.FLOAT else "int, bigint or float"
        elif of is not None:  # min, max
            fits = kind is of.type or (kind in INTEGERS and of.type in INTEGERS)
            wanted = of.type.value
        else:
            return
        if not fits:
            self.issues.add(
                node.items["aggregate"].pos,
                "BAD_VALUE",
                f"{aggregate} gives a {wanted} value; field '{target.name}' is {kind.value}",
            )
