"""What one object of an answer holds, in the order the client reads it: plain data, like
graph/plan.py, for the compiled path (graph/sql/response.py builds the answer's JSON in the
database from a Read and its Shape).

The Read says which rows; the Shape says what each row becomes: its response keys (aliases
included, in GraphQL's field order), and for each the field, `__typename`, or a relation
whose rows have a Shape of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from graph.spec.model import FieldSpec, RelationEnd


@dataclass(frozen=True)
class FieldEntry:
    """A stored field's value, in its GraphQL form."""

    key: str
    field: FieldSpec


@dataclass(frozen=True)
class TypenameEntry:
    """`__typename`: the object type's name."""

    key: str
    type_name: str


@dataclass(frozen=True)
class LinkEntry:
    """A relation: the linked object (to-one) or list of objects (to-many). Its rows are the
    Read's ChildRead under the same key."""

    key: str
    end: RelationEnd
    shape: Shape


Entry = FieldEntry | TypenameEntry | LinkEntry


@dataclass(frozen=True)
class Shape:
    entries: tuple[Entry, ...]
