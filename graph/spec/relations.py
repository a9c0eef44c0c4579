"""Checks relations.yaml against the tables; derives the field a relation adds to each end."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from graph.errors import SourcePos
from graph.naming import name_problem, suggest
from graph.spec.issues import Issues
from graph.spec.model import (
    ON_DELETE,
    ON_MISSING,
    FieldSpec,
    FieldType,
    OnDelete,
    OnMissing,
    RelationEnd,
    RelationSpec,
    TableSpec,
)
from graph.spec.reading import report_unknown_keys
from graph.spec.tables import to_python, value_problem
from graph.spec.yaml_tree import YMap, YNode, YScalar, YSeq

RELATION_KEYS = (
    "name",
    "from",
    "to",
    "reverse",
    "description",
    "reverse_description",
    "where",
    "on_missing",
    "on_delete",
)
REQUIRED_RELATION_KEYS = ("name", "from", "to", "reverse")
# Types whose values can be compared for equality across two columns.
_COMPARABLE = {
    FieldType.STRING: "text",
    FieldType.TEXT: "text",
    FieldType.ENUM: "text",
    FieldType.UUID: "text",
    FieldType.INT: "integer",
    FieldType.BIGINT: "integer",
}


def _family(field: FieldSpec) -> str | None:
    """Comparison family of a column, or of a list column's elements."""
    element = field.of if field.type is FieldType.LIST else field.type
    return _COMPARABLE.get(element) if element is not None else None


class RelationChecker:
    def __init__(
        self, tree: YNode, tables: dict[str, TableSpec], issues: Issues, broken: set[str]
    ) -> None:
        self.tree = tree
        self.tables = tables
        # Schema files that exist but failed their own checks: already reported, not missing.
        self.broken = broken
        self.issues = issues
        self.seen: dict[tuple[str, str], SourcePos] = {}

    def check(self) -> list[RelationSpec]:
        tree = self.tree
        if not isinstance(tree, YMap) or "relations" not in tree.items:
            self.issues.add(tree.pos, "MISSING_KEY", "relations.yaml needs a 'relations' list")
            return []
        for key, pos in tree.key_pos.items():
            if key != "relations":
                self.issues.add(pos, "UNKNOWN_KEY", f"unknown key '{key}'; expected 'relations'")
        items = tree.items["relations"]
        if not isinstance(items, YSeq):
            self.issues.add(items.pos, "BAD_VALUE", "'relations' must be a list")
            return []
        result = []
        for item in items.items:
            relation = self._relation(item)
            if relation is not None:
                result.append(relation)
        return result

    def _relation(self, node: YNode) -> RelationSpec | None:
        if not isinstance(node, YMap):
            self.issues.add(node.pos, "BAD_VALUE", "a relation must be a mapping")
            return None
        before = len(self.issues)
        report_unknown_keys(node, RELATION_KEYS, "relation", self.issues)
        for key in REQUIRED_RELATION_KEYS:
            if key not in node.items:
                self.issues.add(node.pos, "MISSING_KEY", f"relation is missing '{key}'")
        name = self._name(node, "name")
        reverse = self._name(node, "reverse")
        source = self._column(node, "from")
        target = self._column(node, "to")
        texts = {k: self._text(node, k) for k in ("description", "reverse_description")}
        if source is None or target is None or name is None or reverse is None:
            return None
        (from_table, from_field), (to_table, to_field) = source, target
        self._compatible(node, source, target)
        where = self._where(node.items.get("where"), from_table)
        on_missing, on_delete = self._write_rules(node, source, target)
        self._unique_name(node.items["name"].pos, from_table, name)
        self._unique_name(node.items["reverse"].pos, to_table, reverse)
        if len(self.issues) > before:
            return None
        return RelationSpec(
            name=name,
            from_table=from_table,
            from_field=from_field,
            to_table=to_table,
            to_field=to_field,
            reverse=reverse,
            description=texts["description"] or f"Linked {self.tables[to_table].type_name}.",
            reverse_description=texts["reverse_description"]
            or f"Linked {self.tables[from_table].plural}.",
            pos=node.pos,
            where=where,
            on_missing=on_missing,
            on_delete=on_delete,
        )

    def _name(self, node: YMap, key: str) -> str | None:
        scalar = node.items.get(key)
        if scalar is None:
            return None
        if not isinstance(scalar, YScalar) or not isinstance(scalar.value, str):
            self.issues.add(scalar.pos, "BAD_NAME", f"'{key}' must be a snake_case name")
            return None
        if (problem := name_problem(scalar.value)) is not None:
            self.issues.add(scalar.pos, "BAD_NAME", f"relation {key} '{scalar.value}' {problem}")
            return None
        return scalar.value

    def _text(self, node: YMap, key: str) -> str | None:
        scalar = node.items.get(key)
        if scalar is None:
            return None
        if not isinstance(scalar, YScalar) or not isinstance(scalar.value, str):
            self.issues.add(scalar.pos, "BAD_VALUE", f"'{key}' must be text")
            return None
        return scalar.value.strip()

    def _column(self, node: YMap, key: str) -> tuple[str, str] | None:
        scalar = node.items.get(key)
        if scalar is None:
            return None
        raw = scalar.value if isinstance(scalar, YScalar) else None
        if not isinstance(raw, str) or raw.count(".") != 1:
            self.issues.add(
                scalar.pos,
                "BAD_VALUE",
                f"'{key}' must be <schema>.<field>, e.g. feedback.ticket_id",
            )
            return None
        table_name, field_name = raw.split(".")
        table = self.tables.get(table_name)
        if table is None and table_name in self.broken:
            return None
        if table is None:
            self.issues.add(
                scalar.pos,
                "MISSING_TABLE",
                f"relation '{key}' names unknown table '{table_name}'"
                + suggest(table_name, self.tables),
            )
            return None
        if not table.has_field(field_name):
            names = [f.name for f in table.fields]
            self.issues.add(
                scalar.pos,
                "MISSING_COLUMN",
                f"table '{table_name}' has no field '{field_name}'{suggest(field_name, names)}",
            )
            return None
        return table_name, field_name

    def _compatible(self, node: YMap, source: tuple[str, str], target: tuple[str, str]) -> None:
        left = self.tables[source[0]].field(source[1])
        right = self.tables[target[0]].field(target[1])
        left_family, right_family = _family(left), _family(right)
        if left.is_list and right.is_list:
            problem = "both ends are lists; one end must be a single value"
        elif left_family is None or right_family is None:
            problem = "only text and integer columns (or lists of them) can link"
        elif left_family != right_family:
            problem = f"{left_family} cannot equal {right_family}"
        else:
            return
        self.issues.add(
            node.items["to"].pos,
            "INCOMPATIBLE_TYPES",
            f"{source[0]}.{source[1]} ({_describe(left)}) cannot link to "
            f"{target[0]}.{target[1]} ({_describe(right)}): {problem}",
        )

    def _where(self, node: YNode | None, table_name: str) -> tuple[tuple[str, Any], ...]:
        if node is None:
            return ()
        if not isinstance(node, YMap) or not node.items:
            self.issues.add(node.pos, "BAD_VALUE", "'where' maps source fields to fixed values")
            return ()
        table = self.tables[table_name]
        result = []
        for name, value_node in node.items.items():
            pos = node.key_pos[name]
            if not table.has_field(name):
                self.issues.add(
                    pos, "MISSING_COLUMN", f"table '{table_name}' has no field '{name}'"
                )
                continue
            field = table.field(name)
            value = to_python(value_node)
            if field.is_list or field.type is FieldType.JSON:
                problem: str | None = "conditions compare single values only"
            else:
                problem = value_problem(field.type, value, values=field.values)
            if problem is not None:
                self.issues.add(
                    value_node.pos, "BAD_DEFAULT", f"bad value for '{name}' in where: {problem}"
                )
                continue
            result.append((name, value))
        return tuple(result)

    def _choice(self, node: YMap, key: str, allowed: tuple[str, ...]) -> str:
        scalar = node.items.get(key)
        if scalar is None:
            return "allow"
        value = scalar.value if isinstance(scalar, YScalar) else None
        if value not in allowed:
            self.issues.add(scalar.pos, "BAD_VALUE", f"'{key}' must be one of {', '.join(allowed)}")
            return "allow"
        return str(value)

    def _write_rules(
        self, node: YMap, source: tuple[str, str], target: tuple[str, str]
    ) -> tuple[OnMissing, OnDelete]:
        """on_missing and on_delete, checked against what the two ends can do."""
        on_missing: OnMissing = self._choice(node, "on_missing", ON_MISSING)  # type: ignore[assignment]
        on_delete: OnDelete = self._choice(node, "on_delete", ON_DELETE)  # type: ignore[assignment]
        if on_missing == "allow" and on_delete == "allow":
            return on_missing, on_delete
        source_table, target_table = self.tables[source[0]], self.tables[target[0]]
        from_field, to_field = source_table.field(source[1]), target_table.field(target[1])
        pos = node.items.get("on_delete", node.items.get("on_missing", node)).pos
        if to_field.is_list:
            self.issues.add(
                pos,
                "BAD_VALUE",
                "on_missing and on_delete need the 'to' end to be a single value, "
                f"not the list {target[0]}.{target[1]}",
            )
        if on_delete in ("set_null", "cascade") and source_table.append_only:
            self.issues.add(
                pos,
                "BAD_VALUE",
                f"on_delete: {on_delete} would change rows of the append-only table "
                f"'{source[0]}'; use restrict or allow",
            )
        if (
            on_delete == "set_null"
            and not from_field.is_list
            and (from_field.required or from_field.name == source_table.key)
        ):
            self.issues.add(
                pos,
                "BAD_VALUE",
                f"on_delete: set_null cannot empty {source[0]}.{source[1]}: it is required",
            )
        return on_missing, on_delete

    def _unique_name(self, pos: SourcePos, table: str, name: str) -> None:
        previous = self.seen.get((table, name))
        if previous is not None:
            self.issues.add(
                pos,
                "DUPLICATE_RELATION",
                f"type {self.tables[table].type_name} already has a relation '{name}' "
                f"(line {previous.line})",
            )
            return
        self.seen[(table, name)] = pos


def _describe(field: FieldSpec) -> str:
    return f"list of {field.of.value}" if field.of is not None else field.type.value


def attach_relations(
    tables: dict[str, TableSpec], relations: list[RelationSpec]
) -> dict[str, TableSpec]:
    """Add each relation's two ends to the tables they belong to."""
    ends: dict[str, list[RelationEnd]] = {name: [] for name in tables}
    for rel in relations:
        source, target = tables[rel.from_table], tables[rel.to_table]
        src_field, dst_field = source.field(rel.from_field), target.field(rel.to_field)
        list_side = "local" if src_field.is_list else "remote" if dst_field.is_list else None
        ends[source.name].append(
            RelationEnd(
                name=rel.name,
                owner=source.name,
                target=target.name,
                local_field=rel.from_field,
                remote_field=rel.to_field,
                many=src_field.is_list or dst_field.is_list or not target.is_unique(dst_field.name),
                description=rel.description,
                relation=rel,
                list_side=list_side,
                local_where=rel.where,
            )
        )
        ends[target.name].append(
            RelationEnd(
                name=rel.reverse,
                owner=target.name,
                target=source.name,
                local_field=rel.to_field,
                remote_field=rel.from_field,
                many=src_field.is_list or dst_field.is_list or not source.is_unique(src_field.name),
                description=rel.reverse_description,
                relation=rel,
                list_side={"local": "remote", "remote": "local"}.get(list_side or ""),
                remote_where=rel.where,
            )
        )
    return {name: replace(t, relations=tuple(ends[name])) for name, t in tables.items()}
