"""Aggregate groups (graph/aggregate.py Group) as the GraphQL group types read them: dicts keyed
by the types' attribute names. The reference path hands them to graphql-core; the group
encoder (graph/gql/group_encoder.py) writes them itself, at the root, under rows the reference
path answers, and in compiled answers (graph/gql/compiled_groups.py)."""

from __future__ import annotations

from typing import Any

from graph.aggregate import COUNT, MEASURE_NAMES, PERCENTILE, Group, GroupKey, groupable_fields
from graph.gql.types import representable
from graph.spec.model import RelationEnd, Spec, TableSpec


def to_one_ends(table: TableSpec) -> list[RelationEnd]:
    """The table's to-one relations: a group's key may follow them."""
    return [end for end in table.relations if not end.many]


class GroupShaper:
    """Groups as the types read them: dicts keyed by the classes' attribute names. One per
    schema: the empty key objects of its tables are made once, then copied per group."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.empty_keys: dict[str, dict[str, Any]] = {}

    def _empty_key(self, table: TableSpec) -> dict[str, Any]:
        empty = self.empty_keys.get(table.name)
        if empty is None:
            empty = {f.name: None for f in groupable_fields(table)}
            empty.update({f"rel_{end.name}": None for end in to_one_ends(table)})
            self.empty_keys[table.name] = empty
        return empty

    def shaped(self, table: TableSpec, group: Group) -> dict[Any, Any]:
        shaped: dict[Any, Any] = {"key": self._key_object(table, group.keys, ()), "count": None}
        by_kind: dict[str, dict[str, Any]] = {}
        for measure, value in group.measures.items():
            if measure.kind == COUNT:
                shaped["count"] = value
            elif measure.kind == PERCENTILE:
                assert measure.field is not None
                shaped.setdefault(("percentile", measure.p), {})[measure.field] = value
            else:
                assert measure.field is not None
                # min/max of a float column holding NaN or an infinity (raw SQL only)
                by_kind.setdefault(measure.kind, {})[measure.field] = representable(value)
        for name, kind in MEASURE_NAMES.items():
            if name not in ("count", "percentile"):
                shaped[f"m_{name}"] = by_kind.get(kind, {})
        return shaped

    def _key_object(
        self, table: TableSpec, keys: dict[GroupKey, Any], via: tuple[Any, ...]
    ) -> dict[str, Any]:
        found = dict(self._empty_key(table))
        deeper: set[Any] = set()
        for key, value in keys.items():
            if key.via == via:
                found[key.field] = representable(value)  # as the column reads (null)
            elif key.via[: len(via)] == via:
                deeper.add(key.via[len(via)])  # a key of a row linked through this relation
        for end in deeper:
            target = self.spec.table(end.target)
            found[f"rel_{end.name}"] = self._key_object(target, keys, (*via, end))
        return found
