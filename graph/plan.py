"""What a request asks the database for, as plain data: no SQLAlchemy, no strawberry.

The GraphQL layer turns a selection into a Plan; the SQL layer compiles and runs it. A faster
path (one SQL statement returning response-shaped JSON) can take the same Plan later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graph.spec.model import RelationEnd

if TYPE_CHECKING:
    from graph.aggregate import ChildAggregate


@dataclass(frozen=True)
class Slot:
    """A Compare's value left out of a statement: a named parameter given when the statement
    runs (graph/sql/slots.py), so that one statement serves every value."""

    name: str


@dataclass(frozen=True)
class Compare:
    """`field <op> value`, one operator of the filter registry."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class BoolOp:
    """and / or of several filters; `not` is BoolOp("not", (f,))."""

    kind: str
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class RelationFilter:
    """A filter on linked rows: to-one `is`, to-many `some`, `none` or `every`."""

    end: RelationEnd
    mode: str
    filter: Filter | None


@dataclass(frozen=True)
class Measure:
    """One aggregate of a set of rows: `count` (no field), or `kind` of `field`
    (graph/aggregate.py names the kinds)."""

    kind: str
    field: str | None = None
    p: float | None = None  # percentile only


@dataclass(frozen=True)
class RelationMeasure:
    """A measure of the rows linked to each row through a to-many relation, those matching
    `filter` (all when None): a playbook's count of failed executions."""

    end: RelationEnd
    measure: Measure
    filter: Filter | None = None


@dataclass(frozen=True)
class MeasureFilter:
    """`<relation>Aggregate` in a `where`: a relation measure `op` a value."""

    of: RelationMeasure
    op: str
    value: Any


Filter = Compare | BoolOp | RelationFilter | MeasureFilter


@dataclass(frozen=True)
class SortKey:
    """Sort by a field, possibly of a to-one related row reached through `via` (relation names).

    Null placement is always explicit, so both databases order rows the same way.
    """

    field: str
    descending: bool = False
    nulls_first: bool = False
    via: tuple[RelationEnd, ...] = ()
    # Sort by a measure of linked rows instead of a field (`field` is then "").
    measure: RelationMeasure | None = None


@dataclass(frozen=True)
class Read:
    """Rows of one table: which columns, which rows, in what order, which page, what links."""

    table: str
    columns: tuple[str, ...]
    where: Filter | None = None
    order: tuple[SortKey, ...] = ()
    limit: int | None = None
    offset: int = 0
    children: tuple[ChildRead, ...] = ()
    # Aggregates of to-many relations, per row (graph/aggregate.py).
    aggregates: tuple[ChildAggregate, ...] = ()


@dataclass(frozen=True)
class ChildRead:
    """Rows linked to each parent row through `end`, stored on the parent under `key`."""

    key: str
    end: RelationEnd
    read: Read


@dataclass(frozen=True)
class Page:
    """Keyset page of a connection: `after` holds the sort values of the last row seen."""

    first: int
    after: tuple[Any, ...] | None = None
    want_total: bool = False


@dataclass
class Rows:
    """Result of a Read: row dicts keyed by field name, links stored under (REL, key)."""

    items: list[dict[Any, Any]] = field(default_factory=list)
    has_more: bool = False
    total: int | None = None


# Rows carry their linked rows under keys that can never be a field name.
REL = "\x00rel"


def link_key(response_key: str) -> tuple[str, str]:
    return (REL, response_key)
