"""The aggregate root field of every table: its GraphQL types and its resolver.

    executionLogsAggregate(where, groupBy, timeZone, having, orderBy, limit, offset)
        : [ExecutionLogGroup!]!

The resolver reads the measures the selection asks for (`count`, `sum { durationMs }`,
`p95: percentile(p: 0.95) { durationMs }` ...), plans them with the arguments
(graph/grouping.py) and runs ONE statement (graph/sql/aggregate.py). Groups come back as dicts
shaped like the types, so the default resolver (a dict lookup) answers every field below.
Types are made in passes, like graph/gql/types.py, because grouping keys follow relations in
cycles (a sub-agent's parent is a sub-agent).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import orjson
import strawberry

from graph import naming
from graph.aggregate import (
    BUCKETS,
    EXTREMES,
    NUMERIC,
    Group,
    groupable_fields,
)
from graph.gql.compiled import COMPILED, REFERENCE
from graph.gql.context import RequestContext
from graph.gql.group_encoder import GroupEncoder, NotEncodable
from graph.gql.group_shaper import GroupShaper, to_one_ends
from graph.gql.resolvers import planner_for
from graph.gql.scalars import BigInt
from graph.gql.types import (
    GeneratedTypes,
    SortDirection,
    bare,
    field_type,
    filter_type,
    input_field,
    list_of,
    make_resolver,
    optional,
)
from graph.plan import link_key
from graph.spec.model import FieldSpec, FieldType, Spec, TableSpec
from graph.sql.aggregate import AggregateCompiler


@strawberry.enum(description="A span of time that groups date and datetime values.")
class TimeBucket(enum.Enum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


assert tuple(b.value for b in TimeBucket) == BUCKETS

# The measure fields of a group, by GraphQL name: which fields of the table each takes.
_MEASURE_FIELDS = {
    "countDistinct": "DistinctCounts",
    "sum": "Sums",
    "avg": "Averages",
    "min": "Extremes",
    "max": "Extremes",
}


def _applies(suffix: str, f: FieldSpec) -> bool:
    if suffix == "DistinctCounts":
        return True  # every groupable field
    if suffix == "Extremes":
        return f.type in EXTREMES
    return f.type in NUMERIC


def _fields_for(table: TableSpec, suffix: str) -> list[FieldSpec]:
    return [f for f in groupable_fields(table) if _applies(suffix, f)]


@dataclass
class AggregateTypes:
    """Every aggregate class of every table, by table name and suffix."""

    shaper: GroupShaper
    made: dict[tuple[str, str], type] = field(default_factory=dict)

    def get(self, table: str, suffix: str) -> type:
        return self.made[(table, suffix)]

    def has(self, table: str, suffix: str) -> bool:
        return (table, suffix) in self.made


class AggregateTypeBuilder:
    """Makes the aggregate types once the enums and filters exist (`build`, called by
    graph/gql/types.py before the object types), and the `<relation>Aggregate` fields of
    the object types (`relation_fields`, called as each is made)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.out = AggregateTypes(shaper=GroupShaper(spec))
        self.types = GeneratedTypes()

    def build(self, types: GeneratedTypes) -> None:
        self.types = types
        types.extensions["object"].append(self.relation_fields)
        types.extensions["where"].append(self.relation_filters)
        types.extensions["order"].append(self.relation_orders)
        tables = list(self.spec.tables.values())
        for table in tables:
            self._group_field_enum(table)
            for suffix in ("GroupBy", "GroupKey", "GroupKeyOrder", "GroupHaving"):
                self._bare(table, suffix)
        for table in tables:
            self._group_by(table)
            self._group_key(table)
            self._group_key_order(table)
            self._measure_types(table)
        for table in tables:
            self._having(table)
            self._order(table)
            self._group(table)
            self._relation_measure_inputs(table)

    def _relation_measure_inputs(self, table: TableSpec) -> None:
        """`<Type>AggregateFilter` and `<Type>AggregateOrder`: a measure of a row's linked
        rows of this table, in another table's `where` and `orderBy`."""
        for kind, described in (
            ("Filter", "Conditions on measures of the linked {} matching `filter`."),
            ("Order", "Sort by one measure of the linked {} matching `filter`."),
        ):
            cls = self._bare(table, f"Aggregate{kind}")
            count = self.types.scalar_filters["IntFilter"] if kind == "Filter" else SortDirection
            annotations: dict[str, Any] = {
                "filter": optional(self.types.wheres[table.name]),
                "count": optional(count),
            }
            cls.filter = input_field("filter", "Only the linked rows matching this.")  # type: ignore[attr-defined]
            cls.count = input_field("count", "The number of linked rows.")  # type: ignore[attr-defined]
            self._measure_inputs(table, cls, annotations, kind, "`{}` of a field.")
            cls.__annotations__ = annotations
            strawberry.input(cls, description=described.format(table.plural))

    def relation_filters(self, table: TableSpec) -> dict[str, tuple[Any, Any]]:
        """`executionsAggregate` in a playbook's `where`."""
        return self._relation_inputs(table, "AggregateFilter")

    def relation_orders(self, table: TableSpec) -> dict[str, tuple[Any, Any]]:
        """`executionsAggregate` in a playbook's `orderBy`."""
        return self._relation_inputs(table, "AggregateOrder")

    def _relation_inputs(self, table: TableSpec, suffix: str) -> dict[str, tuple[Any, Any]]:
        inputs: dict[str, tuple[Any, Any]] = {}
        for end in table.relations:
            if end.many:
                name = naming.relation_aggregate_name(end.gql_name)
                annotation = optional(self.out.get(end.target, suffix))
                described = f"By measures of the linked {end.gql_name} ({end.description})"
                inputs[f"agg_{end.name}"] = (annotation, input_field(name, described))
        return inputs

    def relation_fields(self, table: TableSpec) -> dict[str, tuple[Any, Any]]:
        """`executionsAggregate(...)` on a playbook: one per to-many relation."""
        fields: dict[str, tuple[Any, Any]] = {}
        for end in table.relations:
            if not end.many:
                continue
            name = naming.relation_aggregate_name(end.gql_name)
            resolver = make_resolver(
                group_reader(self.out.shaper, self.spec.table(end.target)),
                name,
                aggregate_arguments(self.types, self.out, end.target),
                list_of(self.out.get(end.target, "Group")),
                with_root=True,
            )
            fields[f"agg_{end.name}"] = (
                None,
                strawberry.field(
                    resolver=resolver,
                    name=name,
                    description=f"The linked {end.gql_name} counted and measured in groups, as "
                    "the root aggregate fields do; loaded for every parent row in one "
                    "statement.",
                ),
            )
        return fields

    def _bare(self, table: TableSpec, suffix: str) -> type:
        cls = bare(naming.aggregate_type_name(table.type_name, suffix))
        self.out.made[(table.name, suffix)] = cls
        return cls

    def _group_field_enum(self, table: TableSpec) -> None:
        name = naming.aggregate_type_name(table.type_name, "GroupField")
        members = [(naming.enum_member(f.name), f.name) for f in groupable_fields(table)]
        py_enum: Any = enum.Enum(name, members)  # type: ignore[misc]
        self.out.made[(table.name, "GroupField")] = strawberry.enum(
            py_enum, description=f"A field of {table.type_name} that can group its rows."
        )

    def _group_by(self, table: TableSpec) -> None:
        cls = self.out.get(table.name, "GroupBy")
        annotations: dict[str, Any] = {
            "field": optional(self.out.get(table.name, "GroupField")),
            "bucket": optional(TimeBucket),
        }
        cls.field = input_field("field", "Group by this field.")  # type: ignore[attr-defined]
        cls.bucket = input_field(  # type: ignore[attr-defined]
            "bucket", "Cut a date or datetime field into spans of time (docs/api.md)."
        )
        for end in to_one_ends(table):
            annotations[f"rel_{end.name}"] = optional(self.out.get(end.target, "GroupBy"))
            setattr(
                cls,
                f"rel_{end.name}",
                input_field(end.gql_name, f"Group by a field of the linked {end.gql_name}."),
            )
        cls.__annotations__ = annotations
        strawberry.input(
            cls,
            description=f"One grouping key of {table.plural}: exactly one of `field` or a "
            "to-one relation.",
        )

    def _group_key(self, table: TableSpec) -> None:
        cls = self.out.get(table.name, "GroupKey")
        annotations: dict[str, Any] = {}
        for f in groupable_fields(table):
            annotations[f.name] = optional(field_type(self.types, table, f))
            setattr(cls, f.name, strawberry.field(name=f.gql_name, description=f.description))
        for end in to_one_ends(table):
            annotations[f"rel_{end.name}"] = optional(self.out.get(end.target, "GroupKey"))
            setattr(cls, f"rel_{end.name}", strawberry.field(name=end.gql_name))
        cls.__annotations__ = annotations
        strawberry.type(
            cls,
            description=f"The key of a group of {table.plural}: the grouped fields hold the "
            "group's value (a bucket's start for a bucketed field), the others null.",
        )

    def _group_key_order(self, table: TableSpec) -> None:
        cls = self.out.get(table.name, "GroupKeyOrder")
        annotations: dict[str, Any] = {}
        for f in groupable_fields(table):
            annotations[f.name] = optional(SortDirection)
            setattr(cls, f.name, input_field(f.gql_name, f.description))
        for end in to_one_ends(table):
            annotations[f"rel_{end.name}"] = optional(self.out.get(end.target, "GroupKeyOrder"))
            setattr(cls, f"rel_{end.name}", input_field(end.gql_name, end.description))
        cls.__annotations__ = annotations
        strawberry.input(cls, description="Sort groups by one of their grouping keys.")

    def _measure_types(self, table: TableSpec) -> None:
        for suffix in ("DistinctCounts", "Sums", "Averages", "Extremes"):
            fields = _fields_for(table, suffix)
            if not fields:
                continue  # GraphQL has no empty object types: the measure is left out
            values = self._bare(table, suffix)
            filters = self._bare(table, f"{suffix}Filter")
            orders = self._bare(table, f"{suffix}Order")
            value_types: dict[str, Any] = {}
            filter_types: dict[str, Any] = {}
            order_types: dict[str, Any] = {}
            for f in fields:
                value_types[f.name], filter_types[f.name] = self._measure_type(table, suffix, f)
                order_types[f.name] = optional(SortDirection)
                setattr(values, f.name, strawberry.field(name=f.gql_name))
                setattr(filters, f.name, input_field(f.gql_name, f.description))
                setattr(orders, f.name, input_field(f.gql_name, f.description))
            values.__annotations__ = value_types
            filters.__annotations__ = filter_types
            orders.__annotations__ = order_types
            strawberry.type(values, description="One measure of each field of a group.")
            strawberry.input(filters, description="Conditions on one measure per field.")
            strawberry.input(orders, description="Sort groups by one measure of one field.")
        numbers = _fields_for(table, "Sums")
        if numbers:
            cls = self._bare(table, "Percentiles")
            cls.__annotations__ = {f.name: float | None for f in numbers}
            for f in numbers:
                setattr(cls, f.name, strawberry.field(name=f.gql_name))
            strawberry.type(cls, description="A percentile of each numeric field of a group.")

    def _measure_type(self, table: TableSpec, suffix: str, f: FieldSpec) -> tuple[Any, Any]:
        """(the result type, its filter) of one measure of `f`."""
        scalar = self.types.scalar_filters
        if suffix == "DistinctCounts":
            return int, optional(scalar["IntFilter"])
        if suffix == "Averages" or (suffix == "Sums" and f.type is FieldType.FLOAT):
            return optional(float), optional(scalar["FloatFilter"])
        if suffix == "Sums":
            return optional(BigInt), optional(scalar["BigIntFilter"])
        return optional(field_type(self.types, table, f)), optional(
            filter_type(self.types, table, f)
        )

    def _having(self, table: TableSpec) -> None:
        cls = self.out.get(table.name, "GroupHaving")
        annotations: dict[str, Any] = {
            "and_": optional(list_of(cls)),
            "or_": optional(list_of(cls)),
            "not_": optional(cls),
            "count": optional(self.types.scalar_filters["IntFilter"]),
        }
        cls.and_ = input_field("and", "Every one of these holds.")  # type: ignore[attr-defined]
        cls.or_ = input_field("or", "At least one of these holds.")  # type: ignore[attr-defined]
        cls.not_ = input_field("not", "This does not hold.")  # type: ignore[attr-defined]
        cls.count = input_field("count", "The number of rows in the group.")  # type: ignore[attr-defined]
        self._measure_inputs(table, cls, annotations, "Filter", "Conditions on `{}` of fields.")
        cls.__annotations__ = annotations
        strawberry.input(
            cls, description=f"Which groups of {table.plural} to keep; all given parts must hold."
        )

    def _measure_inputs(
        self,
        table: TableSpec,
        cls: type,
        annotations: dict[str, Any],
        kind: str,
        description: str,
    ) -> None:
        """One input field per measure (`countDistinct`, `sum`...) the table has, taking
        the measure's `kind` input (Filter or Order) of its fields."""
        for name, suffix in _MEASURE_FIELDS.items():
            if self.out.has(table.name, f"{suffix}{kind}"):
                attr = f"m_{name}"
                annotations[attr] = optional(self.out.get(table.name, f"{suffix}{kind}"))
                setattr(cls, attr, input_field(name, description.format(name)))

    def _order(self, table: TableSpec) -> None:
        cls = self._bare(table, "GroupOrder")
        annotations: dict[str, Any] = {
            "count": optional(SortDirection),
            "key": optional(self.out.get(table.name, "GroupKeyOrder")),
        }
        cls.count = input_field("count", "By the number of rows.")  # type: ignore[attr-defined]
        cls.key = input_field("key", "By a grouping key.")  # type: ignore[attr-defined]
        self._measure_inputs(table, cls, annotations, "Order", "By `{}` of one field.")
        cls.__annotations__ = annotations
        strawberry.input(
            cls, description=f"One sort key of groups of {table.plural}: exactly one entry."
        )

    def _group(self, table: TableSpec) -> None:
        cls = self._bare(table, "Group")
        annotations: dict[str, Any] = {
            "key": self.out.get(table.name, "GroupKey"),
            "count": int,
        }
        cls.key = strawberry.field(description="The group's grouping keys.")  # type: ignore[attr-defined]
        cls.count = strawberry.field(description="Rows in the group.")  # type: ignore[attr-defined]
        for name, suffix in _MEASURE_FIELDS.items():
            if self.out.has(table.name, suffix):
                attr = f"m_{name}"
                annotations[attr] = self.out.get(table.name, suffix)
                setattr(cls, attr, strawberry.field(name=name, description=_DESCRIBED[name]))
        if self.out.has(table.name, "Percentiles"):
            resolver = make_resolver(
                _read_percentile,
                "percentile",
                [("p", float)],
                self.out.get(table.name, "Percentiles"),
                with_root=True,
                required=("p",),
            )
            cls.percentile = strawberry.field(  # type: ignore[attr-defined]
                resolver=resolver,
                description="The p-th percentile (0 <= p <= 1) of numeric fields, "
                "interpolated as PostgreSQL's percentile_cont.",
            )
        cls.__annotations__ = annotations
        strawberry.type(cls, description=f"One group of {table.plural} and its measures.")


_DESCRIBED = {
    "countDistinct": "Distinct non-null values per field.",
    "sum": "Sum per numeric field; null when the group has no value.",
    "avg": "Mean per numeric field; null when the group has no value.",
    "min": "Smallest value per field (enums in declared order, text by code point).",
    "max": "Largest value per field (enums in declared order, text by code point).",
}


def _read_percentile(root: dict[Any, Any], info: Any, p: float) -> Any:
    return root[("percentile", p)]


def group_reader(shaper: GroupShaper, table: TableSpec) -> Any:
    """The resolver of a relation's aggregate: its groups, loaded with the parent row, encoded
    for the client when the compiled path is on (graph/gql/group_encoder.py); the encoder is
    planned once per request and field, whatever the number of parent rows."""

    def read_groups(root: dict[Any, Any], info: Any, **_arguments: Any) -> Any:
        groups: list[Group] = root[link_key(str(info.path.key))]
        shaped = [shaper.shaped(table, group) for group in groups]
        context: RequestContext = info.context
        if not context.graph.settings.compiled:
            return shaped
        nodes = info.field_nodes
        known = tuple(id(node) for node in nodes)
        if known not in context.group_encoders:
            context.group_encoders[known] = _encoder(info)
        return _encoded(context.group_encoders[known], shaped)

    return read_groups


def _encoder(info: Any) -> GroupEncoder | None:
    """The encoder of an aggregate field's groups, or None when it cannot plan them."""
    try:
        return GroupEncoder(
            info.return_type, list(info.field_nodes), info.fragments, info.variable_values
        )
    except NotEncodable:
        return None


def _encoded(encoder: GroupEncoder | None, shaped: list[dict[Any, Any]]) -> Any:
    """The groups encoded, or as they are for graphql-core to complete (with its errors)."""
    if encoder is None:
        return shaped
    try:
        return encoder.encode(shaped)
    except NotEncodable:
        return shaped


def aggregate_arguments(
    types: GeneratedTypes, made: AggregateTypes, table: str, *, root: bool = False
) -> list[tuple[str, Any]]:
    """The arguments of an aggregate field; a root one may also `fill` empty buckets."""
    return [
        ("where", types.wheres[table]),
        ("group_by", list_of(made.get(table, "GroupBy"))),
        ("time_zone", str),
        ("having", made.get(table, "GroupHaving")),
        ("order_by", list_of(made.get(table, "GroupOrder"))),
        ("limit", int),
        ("offset", int),
        *([("fill", bool)] if root else []),
    ]


# -- the resolver ---------------------------------------------------------------------------


async def resolve_aggregate(shaper: GroupShaper, table_name: str, info: strawberry.Info) -> Any:
    raw = info._raw_info
    planner = planner_for(raw)
    key = str(raw.path.key)
    args = planner.arguments(raw.parent_type.name, raw.field_nodes[0])
    table = planner.spec.table(table_name)
    read = planner.aggregate(table_name, list(raw.field_nodes), args, (key,))
    ctx: RequestContext = info.context
    groups: list[Group] = await ctx.session.run(
        lambda conn, compiler: AggregateCompiler(compiler).run(conn, read)
    )
    shaped = [shaper.shaped(table, group) for group in groups]
    if not planner.settings.compiled:
        return shaped
    answer = _encoded(_encoder(raw), shaped)
    # Encoded groups skip graphql-core's completion, as the compiled path's answers do.
    ctx.paths[key] = COMPILED if isinstance(answer, orjson.Fragment) else REFERENCE
    return answer


def aggregate_field(table: TableSpec, types: GeneratedTypes, made: AggregateTypes) -> Any:
    """The `<plural>Aggregate` root field of one table."""

    async def body(info: strawberry.Info, **_arguments: Any) -> Any:
        return await resolve_aggregate(made.shaper, table.name, info)

    name = naming.aggregate_root_name(table.list_root)
    resolver = make_resolver(
        body,
        name,
        aggregate_arguments(types, made, table.name, root=True),
        list_of(made.get(table.name, "Group")),
    )
    return strawberry.field(
        resolver=resolver,
        name=name,
        description=f"{table.plural} counted and measured in groups, by the database "
        "(docs/api.md, Aggregates).",
    )
