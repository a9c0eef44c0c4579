"""Checks one schema file's located tree and turns it into a TableSpec."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

from graph.errors import SourcePos
from graph.naming import (
    ENGINE_FIELDS,
    PASCAL_CASE,
    SNAKE_CASE,
    default_plural,
    name_problem,
    suggest,
)
from graph.spec.issues import Issues
from graph.spec.model import (
    KEY_TYPES,
    LIST_ELEMENT_TYPES,
    NUMERIC_TYPES,
    FieldSpec,
    FieldType,
    IndexSpec,
    TableSpec,
)
from graph.spec.reading import read_bool, report_unknown_keys
from graph.spec.yaml_tree import YMap, YNode, YScalar, YSeq

TABLE_KEYS = (
    "table",
    "type",
    "plural",
    "description",
    "key",
    "fields",
    "indexes",
    "append_only",
    "audit_chain",
    "rollups",
    "computed",
)
REQUIRED_TABLE_KEYS = ("table", "type", "description", "key", "fields")
FIELD_KEYS = (
    "type",
    "description",
    "required",
    "unique",
    "default",
    "min",
    "max",
    "max_length",
    "values",
    "of",
    "index",
    "examples",
)
TYPE_NAMES = tuple(t.value for t in FieldType)
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# Length of an audit stamp, "sha256:" and 64 hex digits (graph/audit.py): an `audit_chain`
# field with a shorter max_length could not hold one. Kept here because the spec layer imports
# nothing from the SQL side; tests/test_audit.py checks the two agree.
AUDIT_STAMP_LENGTH = 71


def engine_fields(pos: SourcePos) -> tuple[FieldSpec, ...]:
    """id, created_at and updated_at: present on every table, kept by the engine."""
    return (
        FieldSpec(
            "id", FieldType.BIGINT, "Row id assigned by the database.", pos, True, True, engine=True
        ),
        FieldSpec(
            "created_at",
            FieldType.DATETIME,
            "When the row was inserted (UTC).",
            pos,
            True,
            index=True,
            engine=True,
        ),
        FieldSpec(
            "updated_at",
            FieldType.DATETIME,
            "When the row last changed (UTC).",
            pos,
            True,
            engine=True,
        ),
    )


def _with_engine_fields(fields: list[FieldSpec], pos: SourcePos) -> tuple[FieldSpec, ...]:
    row_id, created, updated = engine_fields(pos)
    return (row_id, *fields, created, updated)


def value_problem(
    ftype: FieldType, value: Any, *, of: FieldType | None = None, values: tuple[str, ...] = ()
) -> str | None:
    """Why `value` is not a valid literal for a field of this type, or None if it is."""
    checks: dict[FieldType, Callable[[Any], bool]] = {
        FieldType.STRING: lambda v: isinstance(v, str),
        FieldType.TEXT: lambda v: isinstance(v, str),
        FieldType.UUID: lambda v: isinstance(v, str) and bool(UUID_PATTERN.match(v)),
        FieldType.INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
        FieldType.BIGINT: lambda v: isinstance(v, int) and not isinstance(v, bool),
        FieldType.FLOAT: lambda v: (
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        ),
        FieldType.BOOL: lambda v: isinstance(v, bool),
        FieldType.DATE: lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime),
        FieldType.DATETIME: lambda v: isinstance(v, dt.datetime),
        FieldType.JSON: lambda v: isinstance(v, dict | list),
        FieldType.ENUM: lambda v: isinstance(v, str) and v in values,
    }
    if ftype is FieldType.LIST:
        if not isinstance(v := value, list):
            return "expected a list"
        assert of is not None
        for item in v:
            if (problem := value_problem(of, item)) is not None:
                return f"list item {item!r}: {problem}"
        return None
    if checks[ftype](value):
        return None
    if ftype is FieldType.ENUM:
        return f"expected one of {', '.join(values)}"
    return f"expected a value of type {ftype.value}"


class TableChecker:
    """Validates one schema file; problems go to `issues`, the result is None if unusable."""

    def __init__(self, name: str, tree: YNode, issues: Issues) -> None:
        self.name = name
        self.tree = tree
        self.issues = issues

    def check(self) -> TableSpec | None:
        tree = self.tree
        if not isinstance(tree, YMap):
            self.issues.add(tree.pos, "BAD_VALUE", "a schema file must be a mapping of keys")
            return None
        report_unknown_keys(tree, TABLE_KEYS, "table", self.issues)
        for key in REQUIRED_TABLE_KEYS:
            if key not in tree.items:
                self.issues.add(tree.pos, "MISSING_KEY", f"missing required key '{key}'")
        before = len(self.issues)
        table = self._identifier(tree, "table")
        type_name = self._pascal(tree, "type")
        plural = self._pascal(tree, "plural") if "plural" in tree.items else None
        description = self._text(tree, "description")
        append_only = read_bool(tree, "append_only", self.issues)
        fields = self._fields(tree.items.get("fields"))
        key_name = self._key(tree, fields)
        indexes = self._indexes(tree.items.get("indexes"), fields)
        audit_chain = self._audit_chain(tree, fields, key_name, append_only)
        if len(self.issues) > before or table is None or type_name is None or key_name is None:
            return None
        return TableSpec(
            name=self.name,
            table=table,
            type_name=type_name,
            plural=plural or default_plural(type_name),
            description=description or "",
            key=key_name,
            fields=_with_engine_fields(fields, tree.pos),
            indexes=indexes,
            pos=tree.pos,
            append_only=append_only,
            audit_chain=audit_chain,
        )

    # -- table-level keys -------------------------------------------------------------------

    def _scalar(self, node: YMap, key: str) -> YScalar | None:
        value = node.items.get(key)
        if value is None:
            return None
        if not isinstance(value, YScalar):
            self.issues.add(value.pos, "BAD_VALUE", f"'{key}' must be a single value")
            return None
        return value

    def _text(self, node: YMap, key: str) -> str | None:
        scalar = self._scalar(node, key)
        if scalar is None:
            return None
        if not isinstance(scalar.value, str) or not scalar.value.strip():
            self.issues.add(scalar.pos, "BAD_VALUE", f"'{key}' must be non-empty text")
            return None
        return scalar.value.strip()

    def _identifier(self, node: YMap, key: str) -> str | None:
        scalar = self._scalar(node, key)
        if scalar is None:
            return None
        if scalar.is_yaml11_bool or not isinstance(scalar.value, str):
            self.issues.add(scalar.pos, "BAD_NAME", f"'{scalar.raw}' is not a name; quote it")
            return None
        if (problem := name_problem(scalar.value)) is not None:
            self.issues.add(scalar.pos, "BAD_NAME", f"{key} '{scalar.value}' {problem}")
            return None
        return str(scalar.value)

    def _pascal(self, node: YMap, key: str) -> str | None:
        scalar = self._scalar(node, key)
        if scalar is None:
            return None
        if not isinstance(scalar.value, str) or not PASCAL_CASE.match(scalar.value):
            self.issues.add(
                scalar.pos, "BAD_NAME", f"{key} '{scalar.raw}' must be PascalCase, e.g. WorkOrder"
            )
            return None
        return scalar.value

    def _named_field(
        self, tree: YMap, fields: list[FieldSpec], scalar: YScalar, name: str, missing: str
    ) -> FieldSpec | None:
        """The field a table-level key names, or None after saying `missing` (with a
        suggestion) when no field has that name."""
        by_name = {f.name: f for f in fields}
        if name in by_name:
            return by_name[name]
        # Fields that failed their own checks are absent; don't report them twice.
        fields_node = tree.items.get("fields")
        if not (isinstance(fields_node, YMap) and name in fields_node.items):
            self.issues.add(scalar.pos, "MISSING_COLUMN", f"{missing}{suggest(name, by_name)}")
        return None

    def _key(self, tree: YMap, fields: list[FieldSpec]) -> str | None:
        scalar = self._scalar(tree, "key")
        if scalar is None:
            return None
        name = str(scalar.value)
        field = self._named_field(
            tree, fields, scalar, name, f"key '{name}' is not a field of this table"
        )
        if field is None:
            return None
        if field.type not in KEY_TYPES:
            self.issues.add(
                scalar.pos,
                "BAD_KEY",
                f"key '{name}' has type {field.type.value}; a key must be one of "
                + ", ".join(sorted(t.value for t in KEY_TYPES)),
            )
            return None
        return name

    def _audit_chain(
        self, tree: YMap, fields: list[FieldSpec], key_name: str | None, append_only: bool
    ) -> str | None:
        """The field that holds the server-assigned stamp of each row (docs/audit.md).

        The server writes the stamp, so the field must be able to hold one (a string of at
        least AUDIT_STAMP_LENGTH characters), every row must have one (required) and no two
        the same (unique). A chain over rows that can be changed in place proves nothing
        beyond "someone changed them", so the table must be append-only.
        """
        scalar = self._scalar(tree, "audit_chain")
        if scalar is None:
            return None
        name = scalar.value
        if not isinstance(name, str) or scalar.is_yaml11_bool:
            self.issues.add(
                scalar.pos, "BAD_VALUE", "'audit_chain' must name a field of this table"
            )
            return None
        missing = f"audit_chain '{name}' is not a declared field of this table"
        field = self._named_field(tree, fields, scalar, name, missing)
        if field is None:
            return None
        problems = []
        if field.type is not FieldType.STRING:
            problems.append(f"have type string, not {field.type.value}")
        if not field.required:
            problems.append("be required: true")
        if not field.unique:
            problems.append("be unique: true")
        if field.max_length is not None and field.max_length < AUDIT_STAMP_LENGTH:
            problems.append(
                f"have no max_length or one >= {AUDIT_STAMP_LENGTH} "
                f"(a stamp has {AUDIT_STAMP_LENGTH} characters), not {field.max_length}"
            )
        if name == key_name:
            problems.append("not be the table's key (clients choose keys, the server stamps)")
        if problems:
            self.issues.add(
                scalar.pos,
                "BAD_VALUE",
                f"audit_chain field '{name}' must " + "; must ".join(problems),
            )
            return None
        if not append_only:
            self.issues.add(
                scalar.pos,
                "BAD_VALUE",
                "audit_chain needs append_only: true (a chain over rows that can be updated "
                "or deleted proves nothing)",
            )
            return None
        return name

    def _indexes(self, node: YNode | None, fields: list[FieldSpec]) -> tuple[IndexSpec, ...]:
        if node is None:
            return ()
        if not isinstance(node, YSeq):
            self.issues.add(node.pos, "BAD_VALUE", "'indexes' must be a list of field lists")
            return ()
        # Fields that failed their own checks still count as declared: no second report.
        declared = self.tree.items.get("fields") if isinstance(self.tree, YMap) else None
        known = set(declared.items) if isinstance(declared, YMap) else {f.name for f in fields}
        known |= set(ENGINE_FIELDS)
        result: list[IndexSpec] = []
        for item in node.items:
            if not isinstance(item, YSeq) or not item.items:
                self.issues.add(item.pos, "BAD_VALUE", "an index is a list of field names")
                continue
            names: list[str] = []
            for name_node in item.items:
                name = name_node.value if isinstance(name_node, YScalar) else None
                if not isinstance(name, str) or name not in known:
                    self.issues.add(
                        name_node.pos,
                        "MISSING_COLUMN",
                        f"index names unknown field {name!r}{suggest(str(name), known)}",
                    )
                    continue
                names.append(name)
            if len(names) == len(item.items):
                result.append(IndexSpec(tuple(names), item.pos))
        return tuple(result)

    # -- fields -----------------------------------------------------------------------------

    def _fields(self, node: YNode | None) -> list[FieldSpec]:
        if node is None:
            return []
        if not isinstance(node, YMap) or not node.items:
            self.issues.add(node.pos, "BAD_VALUE", "'fields' must map field names to definitions")
            return []
        result: list[FieldSpec] = []
        for name, definition in node.items.items():
            pos = node.key_pos[name]
            if name in ENGINE_FIELDS:
                self.issues.add(
                    pos, "RESERVED_NAME", f"field '{name}' is added by the engine; remove it"
                )
                continue
            if (problem := name_problem(name)) is not None:
                self.issues.add(pos, "BAD_NAME", f"field name '{name}' {problem}")
                continue
            spec = FieldChecker(name, pos, definition, self.issues).check()
            if spec is not None:
                result.append(spec)
        return result


class FieldChecker:
    """Validates one field definition."""

    def __init__(self, name: str, pos: SourcePos, node: YNode, issues: Issues) -> None:
        self.name = name
        self.pos = pos
        self.node = node
        self.issues = issues

    def check(self) -> FieldSpec | None:
        node = self.node
        if not isinstance(node, YMap):
            self.issues.add(node.pos, "BAD_VALUE", f"field '{self.name}' must be a mapping")
            return None
        before = len(self.issues)
        report_unknown_keys(node, FIELD_KEYS, "field", self.issues)
        ftype = self._type(node)
        if ftype is None:
            return None
        of = self._of(node, ftype)
        values = self._values(node, ftype)
        description = self._description(node)
        self._only_for(node, "min", NUMERIC_TYPES, ftype)
        self._only_for(node, "max", NUMERIC_TYPES, ftype)
        self._only_for(node, "max_length", frozenset({FieldType.STRING}), ftype)
        low = self._number(node, "min")
        high = self._number(node, "max")
        if low is not None and high is not None and low > high:
            self.issues.add(node.items["min"].pos, "BAD_CONSTRAINT", f"min {low} > max {high}")
        max_length = self._number(node, "max_length")
        if max_length is not None and (max_length < 1 or max_length != int(max_length)):
            self.issues.add(
                node.items["max_length"].pos, "BAD_CONSTRAINT", "max_length must be a whole >= 1"
            )
        spec_kwargs: dict[str, Any] = {
            "required": read_bool(node, "required", self.issues),
            "unique": read_bool(node, "unique", self.issues),
            "index": read_bool(node, "index", self.issues),
            "min": low,
            "max": high,
            "max_length": int(max_length) if max_length is not None else None,
            "values": values,
            "of": of,
        }
        default = self._literal(node, "default", ftype, of, values, low, high, max_length)
        examples = self._examples(node, ftype, of, values, low, high, max_length)
        if len(self.issues) > before:
            return None
        return FieldSpec(
            name=self.name,
            type=ftype,
            description=description or "",
            pos=self.pos,
            default=default,
            examples=examples,
            **spec_kwargs,
        )

    def _type(self, node: YMap) -> FieldType | None:
        scalar = node.items.get("type")
        if scalar is None:
            self.issues.add(node.pos, "MISSING_KEY", f"field '{self.name}' has no 'type'")
            return None
        raw = scalar.value if isinstance(scalar, YScalar) else None
        if not isinstance(raw, str) or raw not in TYPE_NAMES:
            self.issues.add(
                scalar.pos, "UNKNOWN_TYPE", f"unknown type '{raw}'{suggest(str(raw), TYPE_NAMES)}"
            )
            return None
        return FieldType(raw)

    def _description(self, node: YMap) -> str | None:
        scalar = node.items.get("description")
        if scalar is None:
            self.issues.add(
                node.pos, "MISSING_KEY", f"field '{self.name}' needs a one-line 'description'"
            )
            return None
        if not isinstance(scalar, YScalar) or not isinstance(scalar.value, str):
            self.issues.add(scalar.pos, "BAD_VALUE", "'description' must be text")
            return None
        if "\n" in scalar.value.strip():
            self.issues.add(scalar.pos, "BAD_VALUE", "'description' must be one line")
        return scalar.value.strip()

    def _of(self, node: YMap, ftype: FieldType) -> FieldType | None:
        scalar = node.items.get("of")
        if ftype is not FieldType.LIST:
            if scalar is not None:
                self.issues.add(scalar.pos, "BAD_CONSTRAINT", "'of' is only for type list")
            return None
        if scalar is None:
            self.issues.add(node.pos, "MISSING_KEY", "a list field needs 'of' (its element type)")
            return None
        allowed = sorted(t.value for t in LIST_ELEMENT_TYPES)
        raw = scalar.value if isinstance(scalar, YScalar) else None
        if raw not in allowed:
            self.issues.add(
                scalar.pos,
                "UNKNOWN_TYPE",
                f"unknown list element type '{raw}'{suggest(str(raw), allowed)}"
                f" (one of {', '.join(allowed)})",
            )
            return None
        return FieldType(raw)

    def _values(self, node: YMap, ftype: FieldType) -> tuple[str, ...]:
        seq = node.items.get("values")
        if ftype is not FieldType.ENUM:
            if seq is not None:
                self.issues.add(seq.pos, "BAD_CONSTRAINT", "'values' is only for type enum")
            return ()
        if seq is None or not isinstance(seq, YSeq) or not seq.items:
            self.issues.add(
                (seq or node).pos,
                "ENUM_WITHOUT_VALUES",
                f"enum field '{self.name}' needs a non-empty list of 'values'",
            )
            return ()
        result: list[str] = []
        for item in seq.items:
            if not isinstance(item, YScalar) or item.is_yaml11_bool:
                raw = item.raw if isinstance(item, YScalar) else "?"
                self.issues.add(
                    item.pos, "BAD_NAME", f"enum value '{raw}' reads as a boolean; quote it"
                )
                continue
            value = str(item.value)
            # Enum values are data, never identifiers: only their spelling is checked
            # (snake_case, so that the upper-cased GraphQL name is valid).
            if not SNAKE_CASE.match(value):
                self.issues.add(item.pos, "BAD_NAME", f"enum value '{value}' is not snake_case")
                continue
            if value in result:
                self.issues.add(item.pos, "DUPLICATE_KEY", f"enum value '{value}' is repeated")
                continue
            result.append(value)
        return tuple(result)

    def _only_for(
        self, node: YMap, key: str, types: frozenset[FieldType], ftype: FieldType
    ) -> None:
        if key in node.items and ftype not in types:
            names = ", ".join(sorted(t.value for t in types))
            self.issues.add(
                node.items[key].pos,
                "BAD_CONSTRAINT",
                f"'{key}' does not apply to type {ftype.value} (only {names})",
            )

    def _number(self, node: YMap, key: str) -> float | None:
        scalar = node.items.get(key)
        if scalar is None:
            return None
        value = scalar.value if isinstance(scalar, YScalar) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.issues.add(scalar.pos, "BAD_VALUE", f"'{key}' must be a number")
            return None
        return float(value)

    def _literal_problem(
        self,
        value: Any,
        ftype: FieldType,
        of: FieldType | None,
        values: tuple[str, ...],
        low: float | None,
        high: float | None,
        max_length: float | None,
    ) -> str | None:
        if ftype is FieldType.LIST and of is None:
            return None  # already reported: no element type
        if (problem := value_problem(ftype, value, of=of, values=values)) is not None:
            return problem
        if isinstance(value, int | float) and not isinstance(value, bool):
            if low is not None and value < low:
                return f"below min {low:g}"
            if high is not None and value > high:
                return f"above max {high:g}"
        if max_length is not None and isinstance(value, str) and len(value) > max_length:
            return f"longer than max_length {max_length:g}"
        return None

    def _literal(
        self,
        node: YMap,
        key: str,
        ftype: FieldType,
        of: FieldType | None,
        values: tuple[str, ...],
        low: float | None,
        high: float | None,
        max_length: float | None,
    ) -> Any:
        literal = node.items.get(key)
        if literal is None:
            return None
        value = to_python(literal)
        problem = self._literal_problem(value, ftype, of, values, low, high, max_length)
        if problem is not None:
            raw = literal.raw if isinstance(literal, YScalar) else "this value"
            self.issues.add(
                literal.pos, "BAD_DEFAULT", f"bad {key} '{raw}' for type {ftype.value}: {problem}"
            )
            return None
        return value

    def _examples(
        self,
        node: YMap,
        ftype: FieldType,
        of: FieldType | None,
        values: tuple[str, ...],
        low: float | None,
        high: float | None,
        max_length: float | None,
    ) -> tuple[Any, ...]:
        seq = node.items.get("examples")
        if seq is None:
            return ()
        if not isinstance(seq, YSeq) or not seq.items:
            self.issues.add(seq.pos, "BAD_VALUE", "'examples' must be a non-empty list")
            return ()
        result: list[Any] = []
        for item in seq.items:
            value = to_python(item)
            problem = self._literal_problem(value, ftype, of, values, low, high, max_length)
            if problem is not None:
                self.issues.add(item.pos, "BAD_VALUE", f"bad example for {ftype.value}: {problem}")
                continue
            result.append(value)
        return tuple(result)


def to_python(node: YNode) -> Any:
    """Plain Python value of a located node (for defaults, examples and relation conditions)."""
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [to_python(item) for item in node.items]
    return {key: to_python(value) for key, value in node.items.items()}
