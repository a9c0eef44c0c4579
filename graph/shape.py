"""What one object of an answer holds, in the order the client reads it: plain data, like
graph/plan.py, for the compiled path (graph/sql/response.py builds the answer's JSON in the
database from a Read and its Shape).

The Read says which rows; the Shape says what each row becomes: its response keys (aliases
included, in GraphQL's field order), and for each the field, `__typename`, a relation whose
rows have a Shape of their own, or a relation's aggregate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from graph.aggregate import ChildAggregate
from graph.spec.model import FieldSpec, FieldType, RelationEnd


@dataclass(frozen=True)
class FieldEntry:
    """A stored field's value, in its GraphQL form. `non_null`: its GraphQL type is non-null
    (a required field, or the table's key)."""

    key: str
    field: FieldSpec
    non_null: bool = False


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


@dataclass(frozen=True)
class AggregateEntry:
    """A relation's aggregate (`executionsAggregate`): the statement writes the row's id
    under the key, and graph/gql/compiled_groups.py puts the row's groups there, read by the
    aggregate's own statement."""

    key: str
    end: RelationEnd


# What a key of a group object (GroupValue) holds.
GROUP_TYPENAME = "typename"  # the object type's name
GROUP_NULL = "null"  # a grouping key the aggregate does not group by
GROUP_KEY = "key"  # a grouping key's value (its field, its place in AggregateRead.keys)
GROUP_OBJECT = "object"  # an object of its own values (`key`, `min`, ...)
GROUP_MEASURE = "measure"  # `count`, or a measure of a field (COUNT_DISTINCT, MIN, MAX)


@dataclass(frozen=True)
class GroupValue:
    """One response key of a group object built in the statement, or of an object in it."""

    key: str
    holds: str
    type_name: str | None = None  # GROUP_TYPENAME
    inner: tuple[GroupValue, ...] = ()  # GROUP_OBJECT
    kind: str | None = None  # GROUP_MEASURE: a measure kind of graph/aggregate.py
    field: FieldSpec | None = None  # GROUP_MEASURE of a field
    p: float | None = None  # GROUP_MEASURE of a percentile
    at: int | None = None  # GROUP_KEY: the key's place in the aggregate's keys


@dataclass(frozen=True)
class GroupsEntry:
    """A relation's aggregate whose groups per row the statement builds itself, as a
    correlated subquery over the row's linked rows (graph/sql/group_object.py;
    which ones: graph/gql/inline_groups.py). `aggregate` says which rows (its relation and
    `where`); `group`, the group object's keys in the client's order."""

    key: str
    aggregate: ChildAggregate
    group: tuple[GroupValue, ...]
    # The groups of all rows of a root list at once, joined to them (more rows than a
    # correlated subquery per row pays for): graph/sql/group_object.py joined_groups.
    joined: bool = False
    # Grouped by keys, filtered by `having`, limited or offset: each row's list of groups
    # (graph/sql/group_object.py listed_groups_value).
    listed: bool = False


Entry = FieldEntry | TypenameEntry | LinkEntry | AggregateEntry | GroupsEntry


@dataclass(frozen=True)
class Shape:
    entries: tuple[Entry, ...]

    def null_where_non_null(self, answer: Any) -> bool:
        """Whether `answer` (an object of this shape, a list of them, or null) holds null
        under a non-null field, or in a list field (its elements are non-null), at any
        depth. The database may hold such a null where the YAML made a field required after
        its table was created (graph/drift.py), or raw SQL wrote it into a list; GraphQL
        answers it with an error, which only the reference path gives."""
        keys, lists, links = self._non_null
        for row in answer if isinstance(answer, list) else (answer,):
            if row is None:
                continue  # a to-one relation or lookup that found nothing: allowed
            for key in keys:
                if row[key] is None:
                    return True
            for key in lists:
                # A list's elements are non-null (`[String!]`).
                if isinstance(row[key], list) and None in row[key]:
                    return True
            for key, shape in links:
                if shape.null_where_non_null(row[key]):
                    return True
        return False

    def may_hold_null_where_non_null(self, text: str) -> bool:
        """Whether JSON `text` of this shape, written without spaces (PostgreSQL's
        row_to_json, orjson), may hold what null_where_non_null looks for. False is sure: such
        a null is written `"key":null` under one of the non-null fields' keys, or `[null` /
        `,null` in a list field, and no string holds `"key":null` (its quotes are escaped).
        True is not: another field of the same key may be nullable, or a string may hold
        `,null`; the answer is then read to know."""
        pattern = self._null_where_non_null_text
        return pattern is not None and pattern.search(text) is not None

    @cached_property
    def _null_where_non_null_text(self) -> re.Pattern[str] | None:
        keys, has_lists = self._non_null_keys_below()
        forms = [f'"{re.escape(key)}":null' for key in sorted(keys)]
        if has_lists:
            forms.append(r"[\[,]null")
        return re.compile("|".join(forms)) if forms else None

    def _non_null_keys_below(self) -> tuple[set[str], bool]:
        """The keys of non-null fields at any depth, and whether a list field is anywhere."""
        keys, lists, links = self._non_null
        found, has_lists = set(keys), bool(lists)
        for _, shape in links:
            below, lists_below = shape._non_null_keys_below()
            found |= below
            has_lists = has_lists or lists_below
        return found, has_lists

    @cached_property
    def holds_json(self) -> bool:
        """Whether a json field is selected at any depth: its documents' numbers are read
        as the reference path reads them (graph/gql/prepared.py, answer_fragment)."""
        return any(
            (isinstance(e, FieldEntry) and e.field.type is FieldType.JSON)
            or (isinstance(e, LinkEntry) and e.shape.holds_json)
            for e in self.entries
        )

    @cached_property
    def holds_groups(self) -> bool:
        """Whether a relation's group object is built in the statement at any depth (its
        JSON is the database's json_build_object, spaced: never a final text)."""
        return any(
            isinstance(e, GroupsEntry) or (isinstance(e, LinkEntry) and e.shape.holds_groups)
            for e in self.entries
        )

    @cached_property
    def holds_float(self) -> bool:
        """Whether a float field (or a list of floats) is selected at any depth: the
        database's digits and orjson's differ where an exponent is written
        (graph/gql/prepared.py, answer_fragment)."""
        return any(
            (isinstance(e, FieldEntry) and FieldType.FLOAT in (e.field.type, e.field.of))
            or (isinstance(e, LinkEntry) and e.shape.holds_float)
            for e in self.entries
        )

    @cached_property
    def longest_key(self) -> int:
        """The longest response key at any depth, in bytes (graph/sql/response.py builds an
        object whose keys are all within PostgreSQL's column names as a record)."""
        own = (len(e.key.encode()) for e in self.entries)
        linked = (e.shape.longest_key for e in self.entries if isinstance(e, LinkEntry))
        return max((*own, *linked), default=0)

    @cached_property
    def _non_null(
        self,
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, Shape], ...]]:
        """The keys of non-null fields, of list fields (whose elements are non-null), and
        the relations with such fields below them."""
        keys = tuple(e.key for e in self.entries if isinstance(e, FieldEntry) and e.non_null)
        lists = tuple(e.key for e in self.entries if isinstance(e, FieldEntry) and e.field.is_list)
        links = tuple(
            (e.key, e.shape)
            for e in self.entries
            if isinstance(e, LinkEntry) and any(e.shape._non_null)
        )
        return keys, lists, links
