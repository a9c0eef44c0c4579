"""How the two ends of a relation compare, the same way on both databases.

relations.yaml may link columns whose declared types differ within one class: text (`string`,
`text`, `enum`, `uuid`) or integers (`int`, `bigint`); a list column counts as its element type
(docs/schema-format.md). PostgreSQL has no `uuid = varchar` operator and refuses a bigint value
bound as an int, so a link compares as the wider type of its class: text, or bigint. Where the
two ends are of one type, nothing changes and indexes serve the comparison as declared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, Text, bindparam, cast
from sqlalchemy.types import TypeEngine

from graph.spec.model import FieldSpec, FieldType, RelationEnd, Spec
from graph.sql import dialects
from graph.sql.tables import column_type, element_type

INTEGERS = frozenset({FieldType.INT, FieldType.BIGINT})
# Values per IN list of a write's checks: far below SQLite's 32,766 bound variables, small
# enough to plan fast.
CHUNK = 500


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _scalar(field: FieldSpec) -> FieldType:
    """The type one value of the field has: a list's element type, else its own."""
    if field.type is FieldType.LIST:
        assert field.of is not None
        return field.of
    return field.type


@dataclass(frozen=True)
class Link:
    """A relation end with the declared fields of its two columns."""

    end: RelationEnd
    local: FieldSpec
    remote: FieldSpec

    @property
    def same_type(self) -> bool:
        return _scalar(self.local) is _scalar(self.remote)

    def value_type(self) -> TypeEngine[Any]:
        """The SQL type of one link value: what parents' values are bound as."""
        if self.same_type:
            field = self.remote
            return element_type(field) if field.type is FieldType.LIST else column_type(field)
        if {_scalar(self.local), _scalar(self.remote)} <= INTEGERS:
            return BigInteger()
        return String()

    def holds_any(
        self, dialect: str, column: ColumnElement[Any], field: FieldSpec, values: list[Any]
    ) -> ColumnElement[bool]:
        """`column`, one end of this link declared as `field`, holds one of `values`: a list
        column any of them as an element, a single value one of them."""
        if field.is_list:
            return dialects.list_includes_any(dialect, column, values, element_type(field))
        operand = self.operand(dialect, column, field)
        bound = bindparam(None, values, expanding=True, type_=self.value_type())
        return operand.in_(bound)  # type: ignore[no-any-return]

    def operand(self, dialect: str, column: ColumnElement[Any], field: FieldSpec) -> Any:
        """The column as this link compares it: a uuid as text when the other end is text."""
        if not self.same_type and field.type is FieldType.UUID and dialect == dialects.POSTGRESQL:
            return cast(column, Text())
        return column


def comparable(value: Any) -> Any:
    """A link or key value as Python compares it with another: UUIDs (PostgreSQL hands back
    UUID objects, writers give text) as text."""
    if value is None or isinstance(value, str | int):
        return value
    return str(value)


def link_values(row: Mapping[str, Any], field: FieldSpec) -> list[Any]:
    """The values by which a row links through `field`: a list's elements, or the value."""
    value = row.get(field.name)
    if value is None:
        return []
    return list(value) if field.is_list else [value]


def distinct_link_values(rows: Iterable[Mapping[str, Any]], field: FieldSpec) -> set[Any]:
    """Every value by which any of `rows` links through `field`, comparable(), once each.
    A bulk load asks this of batches of thousands of rows: a single value is gathered by a
    set comprehension, not row by row through link_values()."""
    if field.is_list:
        return {comparable(v) for row in rows for v in link_values(row, field)}
    name = field.name
    values = {row.get(name) for row in rows}
    values.discard(None)
    return {comparable(v) for v in values}


def link_of(spec: Spec, end: RelationEnd) -> Link:
    local = spec.table(end.owner).field(end.local_field)
    remote = spec.table(end.target).field(end.remote_field)
    return Link(end, local, remote)
