"""The validated spec: frozen dataclasses, no YAML, no SQLAlchemy, no strawberry."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from graph.errors import SourcePos
from graph.naming import camel_case, lower_first

if TYPE_CHECKING:
    from graph.spec.expression import Expr


class FieldType(enum.StrEnum):
    STRING = "string"
    TEXT = "text"
    INT = "int"
    BIGINT = "bigint"
    FLOAT = "float"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"
    JSON = "json"
    LIST = "list"
    ENUM = "enum"
    UUID = "uuid"


NUMERIC_TYPES = frozenset({FieldType.INT, FieldType.BIGINT, FieldType.FLOAT})
TEXTUAL_TYPES = frozenset({FieldType.STRING, FieldType.TEXT, FieldType.UUID, FieldType.ENUM})
# The range of a `bigint` (and of `id`): a signed 64-bit whole number.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# Element types a `list` may hold: plain scalars that every database compares the same way.
LIST_ELEMENT_TYPES = frozenset(
    {FieldType.STRING, FieldType.INT, FieldType.BIGINT, FieldType.FLOAT, FieldType.BOOL}
)
# Types a natural key may have: short, comparable, indexable.
KEY_TYPES = frozenset({FieldType.STRING, FieldType.INT, FieldType.BIGINT, FieldType.UUID})


OnMissing = Literal["reject", "allow"]
OnDelete = Literal["restrict", "set_null", "cascade", "allow"]
ON_MISSING: tuple[OnMissing, ...] = ("reject", "allow")
ON_DELETE: tuple[OnDelete, ...] = ("restrict", "set_null", "cascade", "allow")


def hash_once(spec: Any) -> int:
    """The hash of a frozen spec, computed once: the compiled path keys its statement cache by
    Reads and Shapes that hold fields and relations (graph/sql/statement_cache.py), and a
    field's hash walks its description, position and computed expression each time. Equality
    stays the dataclass's own (by value): the hash agrees with it. Specs are built in each
    process from the YAML, never pickled, so a kept hash never crosses processes."""
    known: int | None = spec.__dict__.get("_hash")
    if known is None:
        known = hash(tuple(getattr(spec, f.name) for f in fields(spec)))
        object.__setattr__(spec, "_hash", known)
    return known


@dataclass(frozen=True)
class FieldSpec:
    """One column of a table, as declared (or, for id/created_at/updated_at, as the engine adds)."""

    __hash__ = hash_once

    name: str
    type: FieldType
    description: str
    pos: SourcePos
    required: bool = False
    unique: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    values: tuple[str, ...] = ()
    of: FieldType | None = None
    index: bool = False
    examples: tuple[Any, ...] = ()
    engine: bool = False
    # A computed field (graph/spec/computed.py): what the database computes for each row
    # when it is read. It has no column; only the read path knows it.
    computed: Expr | None = None

    @property
    def gql_name(self) -> str:
        return camel_case(self.name)

    @property
    def is_list(self) -> bool:
        return self.type is FieldType.LIST


@dataclass(frozen=True)
class IndexSpec:
    fields: tuple[str, ...]
    pos: SourcePos


@dataclass(frozen=True)
class RelationSpec:
    """One entry of relations.yaml: a named link from a column of one table to another's."""

    __hash__ = hash_once

    name: str
    from_table: str
    from_field: str
    to_table: str
    to_field: str
    reverse: str
    description: str
    reverse_description: str
    pos: SourcePos
    where: tuple[tuple[str, Any], ...] = ()
    # What writes do about links (docs/schema-format.md, "Links under writes"): a written
    # `from` value that names no `to` row, and a deleted `to` row that `from` rows still name.
    on_missing: OnMissing = "allow"
    on_delete: OnDelete = "allow"


@dataclass(frozen=True)
class RelationEnd:
    """A relation seen from one table: the field it adds to that table's type.

    Rows of `target` are linked to a row of `owner` when `target.remote_field` equals
    `owner.local_field` (or, where one side is a list column, when the list contains the
    other side's value), and the fixed `where` conditions of the relation hold.
    """

    __hash__ = hash_once

    name: str
    owner: str
    target: str
    local_field: str
    remote_field: str
    many: bool
    description: str
    relation: RelationSpec
    # Which side holds a list of keys: "local", "remote" or None (plain equality).
    list_side: str | None = None
    # Equality conditions on the owner's or the target's columns (from the relation's `where`).
    local_where: tuple[tuple[str, Any], ...] = ()
    remote_where: tuple[tuple[str, Any], ...] = ()

    @property
    def gql_name(self) -> str:
        return camel_case(self.name)


@dataclass(frozen=True)
class RollupSpec:
    """A field of this table the server keeps from its linked rows (graph/sql/rollups.py).

    `aggregate` over the rows linked through the to-many relation `relation` that meet
    `where` (each linked field in its listed values): count, sum, avg, min or max of `of`, or
    share: the fraction of those rows that also meet `matching`.
    """

    field: str
    relation: str
    aggregate: str
    pos: SourcePos
    of: str | None = None
    where: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    matching: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    # Clients may write the field; what they write stands while no linked row counts (a
    # prior, such as an imported success rate). Only for aggregates that are null then.
    writable_until_linked: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One schema file: a table, its fields (engine fields included) and indexes."""

    name: str  # the schema file's stem, e.g. execution_logs; relations.yaml refers to it
    table: str  # the SQL table name, e.g. memory_execution_logs
    type_name: str  # the GraphQL type, e.g. ExecutionLog
    plural: str  # e.g. ExecutionLogs
    description: str
    key: str
    fields: tuple[FieldSpec, ...]
    indexes: tuple[IndexSpec, ...]
    pos: SourcePos
    append_only: bool = False
    # The field that holds each row's tamper-evident stamp (graph/audit.py), if any.
    audit_chain: str | None = None
    relations: tuple[RelationEnd, ...] = ()
    rollups: tuple[RollupSpec, ...] = ()
    # Read-only fields the database computes when rows are read; `fields` holds the columns.
    computed: tuple[FieldSpec, ...] = ()
    _by_name: dict[str, FieldSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # A new dict, not the one dataclasses.replace() handed over from the table this one
        # replaces: that table's lookups must not start to see this one's computed fields.
        by_name = {f.name: f for f in (*self.fields, *self.computed)}
        object.__setattr__(self, "_by_name", by_name)

    def field(self, name: str) -> FieldSpec:
        """A stored or a computed field."""
        return self._by_name[name]

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    @property
    def read_fields(self) -> tuple[FieldSpec, ...]:
        """Every field a read can name: the columns, then the computed fields."""
        return (*self.fields, *self.computed)

    @property
    def server_fields(self) -> frozenset[str]:
        """Fields clients cannot write: engine fields, the audit stamp, rollups, computed."""
        names = {f.name for f in self.fields if f.engine} | {f.name for f in self.computed}
        names |= {r.field for r in self.rollups if not r.writable_until_linked}
        if self.audit_chain:
            names.add(self.audit_chain)
        return frozenset(names)

    @property
    def writable_fields(self) -> tuple[FieldSpec, ...]:
        """The fields clients may write: all but the server's own."""
        server = self.server_fields
        return tuple(f for f in self.fields if f.name not in server)

    def is_unique(self, name: str) -> bool:
        """No two rows hold the same value of this field: the key, `unique` fields and `id`."""
        return self.field(name).unique or name in (self.key, "id")

    def relation_end(self, name: str) -> RelationEnd:
        return next(e for e in self.relations if e.name == name)

    @property
    def declared_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if not f.engine)

    @property
    def key_field(self) -> FieldSpec:
        return self.field(self.key)

    @property
    def list_root(self) -> str:
        """Root list field: `executionLogs`."""
        return lower_first(self.plural)

    @property
    def single_root(self) -> str:
        """Root lookup field: `executionLog`."""
        return lower_first(self.type_name)


@dataclass(frozen=True)
class Spec:
    """Every table and relation, validated together: nothing here can refer to a missing thing."""

    tables: dict[str, TableSpec]
    relations: tuple[RelationSpec, ...]

    def table(self, name: str) -> TableSpec:
        return self.tables[name]

    def find_table(self, name: str) -> TableSpec | None:
        """A table by its schema name (`execution_logs`) or its SQL name
        (`memory_execution_logs`), as users may name it in code and on the command line."""
        if name in self.tables:
            return self.tables[name]
        return next((t for t in self.tables.values() if t.table == name), None)

    def rules_from(self, table: TableSpec) -> list[RelationSpec]:
        """Relations from `table` with an on_missing or on_delete rule: writes of its rows
        check their links, or keep them valid until commit."""
        return [
            rel
            for rel in self.relations
            if rel.from_table == table.name
            and not (rel.on_missing == "allow" and rel.on_delete == "allow")
        ]

    def rules_to(self, table: TableSpec) -> list[RelationSpec]:
        """Relations to `table` whose on_delete protects the values other rows link to."""
        return [
            rel for rel in self.relations if rel.to_table == table.name and rel.on_delete != "allow"
        ]
