"""Builds the strawberry types of the API from the spec: objects, enums, filters, orders, pages.

Classes are made in three passes (bare classes, then annotations, then decoration) because the
types refer to each other in cycles: a log links to its playbook, the playbook back to its logs.
"""

from __future__ import annotations

import enum
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import strawberry

from graph import naming
from graph.gql.scalars import JSON, python_type
from graph.plan import link_key
from graph.spec.model import LIST_ELEMENT_TYPES, FieldSpec, FieldType, RelationEnd, Spec, TableSpec
from graph.sql import filters


@strawberry.enum(
    description="Sort direction. Nulls count as larger than any value: last with ASC, first "
    "with DESC, unless the name says otherwise."
)
class SortDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"
    ASC_NULLS_FIRST = "asc_nulls_first"
    ASC_NULLS_LAST = "asc_nulls_last"
    DESC_NULLS_FIRST = "desc_nulls_first"
    DESC_NULLS_LAST = "desc_nulls_last"


@strawberry.type(description="Where a page of a connection stands.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More rows follow this page.")
    has_previous_page: bool = strawberry.field(description="The page started after a cursor.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first row.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


def bare(name: str) -> type:
    return type(name, (), {"__module__": __name__})


def input_field(gql_name: str, description: str) -> Any:
    return strawberry.field(name=gql_name, description=description, default=strawberry.UNSET)


def optional(annotation: Any) -> Any:
    return annotation | None


def list_of(annotation: Any) -> Any:
    """`list[annotation]` for a class made at run time (mypy cannot check those)."""
    return list[annotation]


@dataclass
class GeneratedTypes:
    """Every generated class, by spec table name (enums by table and field)."""

    objects: dict[str, type] = field(default_factory=dict)
    wheres: dict[str, type] = field(default_factory=dict)
    many_wheres: dict[str, type] = field(default_factory=dict)
    orders: dict[str, type] = field(default_factory=dict)
    connections: dict[str, type] = field(default_factory=dict)
    enums: dict[tuple[str, str], type] = field(default_factory=dict)
    scalar_filters: dict[str, type] = field(default_factory=dict)
    # Makers of more fields of a table's object type ("object"), filter ("where") or order
    # ("order") input, run as each is made (the aggregates of its to-many relations,
    # graph/gql/aggregates.py): `{attribute: (annotation, strawberry field)}`.
    extensions: dict[str, list[Callable[[TableSpec], dict[str, tuple[Any, Any]]]]] = field(
        default_factory=lambda: {"object": [], "where": [], "order": []}
    )

    def extend(self, kind: str, cls: type, table: TableSpec, annotations: dict[str, Any]) -> None:
        for make in self.extensions[kind]:
            for attribute, (annotation, made) in make(table).items():
                if annotation is not None:  # a field with a resolver takes its type from it
                    annotations[attribute] = annotation
                setattr(cls, attribute, made)


def orderable(f: FieldSpec) -> bool:
    return f.type not in (FieldType.JSON, FieldType.LIST)


def make_resolver(
    body: Callable[..., Any],
    name: str,
    params: list[tuple[str, Any]],
    returns: Any,
    *,
    with_root: bool = False,
    required: tuple[str, ...] = (),
) -> Callable[..., Any]:
    """Give `body(root?, info, **args)` the typed signature strawberry reads arguments from."""

    def resolver(*args: Any, **kwargs: Any) -> Any:
        return body(*args, **kwargs)

    async def async_resolver(*args: Any, **kwargs: Any) -> Any:
        return await body(*args, **kwargs)

    fn = async_resolver if inspect.iscoroutinefunction(body) else resolver
    keyword = inspect.Parameter.KEYWORD_ONLY
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter("root", positional)] if with_root else []
    parameters.append(inspect.Parameter("info", positional, annotation=strawberry.Info))
    parameters += [
        inspect.Parameter(p, keyword, annotation=t)
        if p in required
        else inspect.Parameter(p, keyword, default=strawberry.UNSET, annotation=optional(t))
        for p, t in params
    ]
    fn.__signature__ = inspect.Signature(  # type: ignore[union-attr]
        parameters, return_annotation=returns
    )
    fn.__name__ = name
    return fn


def list_arguments(types: GeneratedTypes, table: str) -> list[tuple[str, Any]]:
    return [
        ("where", types.wheres[table]),
        ("order_by", list_of(types.orders[table])),
        ("limit", int),
        ("offset", int),
    ]


def read_link(root: Any, info: Any, **_arguments: Any) -> Any:
    """Relations are loaded by the root resolver; here the row only hands over its part.

    `info` is strawberry's Info or graphql-core's: both know the response key (the alias).
    """
    return root[link_key(str(info.path.key))]


def representable(value: Any) -> Any:
    """A stored value as GraphQL can send it: a float that is NaN or infinite reads as null,
    and so does a list holding one (GraphQL's Float has neither, and its list items are
    non-null). PostgreSQL's double precision stores 'NaN' and 'Infinity', SQLite's REAL
    infinities; only raw SQL puts them there, as the API refuses them. The row keeps the
    value, so that sorting and cursors follow the database's own order."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is list and any(type(v) is float and not math.isfinite(v) for v in value):
        return None
    return value


def column_reader(name: str) -> Callable[..., Any]:
    """Resolver of one column: a lookup in the row dict the root resolver loaded."""

    def read_column(root: dict[Any, Any], info: Any, **_arguments: Any) -> Any:
        return representable(root[name])

    return read_column


def field_type(types: GeneratedTypes, table: TableSpec, f: FieldSpec) -> Any:
    """The Python annotation strawberry reads a field's GraphQL type from."""
    if f.type is FieldType.ENUM:
        return types.enums[(table.name, f.name)]
    if f.type is FieldType.LIST:
        assert f.of is not None
        return list_of(python_type(f.of.value))
    return python_type(f.type.value)


def filter_type(types: GeneratedTypes, table: TableSpec, f: FieldSpec) -> Any:
    """The filter input of one field's values (`StringFilter`, an enum's own filter...)."""
    if f.type is FieldType.ENUM:
        return types.scalar_filters[naming.enum_filter_name(table.type_name, f.name)]
    if f.type is FieldType.LIST:
        assert f.of is not None
        return types.scalar_filters[f"list:{f.of.value}"]
    name = {
        "string": "StringFilter",
        "int": "IntFilter",
        "bigint": "BigIntFilter",
        "float": "FloatFilter",
        "bool": "BoolFilter",
        "date": "DateFilter",
        "datetime": "DateTimeFilter",
        "json": "JSONFilter",
    }[filters.KIND_OF_TYPE[f.type]]
    return types.scalar_filters[name]


class TypeBuilder:
    def __init__(
        self, spec: Spec, before_objects: Callable[[GeneratedTypes], None] | None = None
    ) -> None:
        self.spec = spec
        self.types = GeneratedTypes()
        self.before_objects = before_objects

    def build(self) -> GeneratedTypes:
        self._scalar_filters()
        for table in self.spec.tables.values():
            self._enums(table)
        for table in self.spec.tables.values():
            self.types.objects[table.name] = bare(table.type_name)
            self.types.wheres[table.name] = bare(naming.where_input_name(table.type_name))
            self.types.many_wheres[table.name] = bare(naming.many_where_input_name(table.type_name))
            self.types.orders[table.name] = bare(naming.order_input_name(table.type_name))
        if self.before_objects is not None:
            # Types the objects and inputs below refer to, made from the enums, filters and
            # (still bare) classes above.
            self.before_objects(self.types)
        for table in self.spec.tables.values():
            self._object(table)
            self._where(table)
            self._many_where(table)
            self._order(table)
        for table in self.spec.tables.values():
            self._connection(table)
        return self.types

    # -- enums and scalar filters -------------------------------------------------------

    def _enums(self, table: TableSpec) -> None:
        for f in table.fields:
            if f.type is not FieldType.ENUM:
                continue
            name = naming.enum_type_name(table.type_name, f.name)
            members = [(naming.enum_member(v), v) for v in f.values]
            py_enum = enum.Enum(name, members)  # type: ignore[misc]
            enum_cls = strawberry.enum(py_enum, description=f.description)
            self.types.enums[(table.name, f.name)] = enum_cls
            self._filter_input(
                naming.enum_filter_name(table.type_name, f.name),
                filters.operators_for("enum"),
                enum_cls,
                None,
                f"Conditions on {table.type_name}.{f.gql_name}.",
            )

    def _scalar_filters(self) -> None:
        kinds = {
            "string": ("StringFilter", str),
            "int": ("IntFilter", int),
            "bigint": ("BigIntFilter", python_type("bigint")),
            "float": ("FloatFilter", float),
            "bool": ("BoolFilter", bool),
            "date": ("DateFilter", python_type("date")),
            "datetime": ("DateTimeFilter", python_type("datetime")),
            "json": ("JSONFilter", JSON),
        }
        for kind, (name, py) in kinds.items():
            self._filter_input(
                name,
                filters.operators_for(kind),
                py,
                None,
                f"Conditions on a {kind} field; all given conditions must hold.",
            )
        for element in sorted(t.value for t in LIST_ELEMENT_TYPES):
            name = naming.list_filter_name(element)
            self._filter_input(
                name,
                filters.operators_for("list"),
                None,
                python_type(element),
                f"Conditions on a list of {element} values.",
            )
            self.types.scalar_filters[f"list:{element}"] = self.types.scalar_filters.pop(name)

    def _filter_input(
        self,
        name: str,
        operators: tuple[filters.Operator, ...] | list[filters.Operator],
        py: Any,
        element: Any,
        description: str,
    ) -> None:
        value_types = {
            filters.SAME: py,
            filters.MANY: list_of(py) if py is not None else None,
            filters.BOOL: bool,
            filters.TEXT: str,
            filters.DURATION: str,
            filters.JSON_VALUE: JSON,
            filters.ELEMENT: element,
            filters.ELEMENTS: list_of(element) if element is not None else None,
        }
        cls = bare(name)
        annotations: dict[str, Any] = {}
        for op in operators:
            attr = _python_name(op.name)
            annotations[attr] = optional(value_types[op.value])
            setattr(cls, attr, input_field(op.name, op.description))
        cls.__annotations__ = annotations
        self.types.scalar_filters[name] = strawberry.input(cls, description=description)

    # -- per table ----------------------------------------------------------------------

    def _field_type(self, table: TableSpec, f: FieldSpec) -> Any:
        return field_type(self.types, table, f)

    def _filter_type(self, table: TableSpec, f: FieldSpec) -> Any:
        return filter_type(self.types, table, f)

    def _object(self, table: TableSpec) -> None:
        cls = self.types.objects[table.name]
        annotations: dict[str, Any] = {}
        for f in table.read_fields:
            py = self._field_type(table, f)
            annotations[f.name] = py if f.required or f.name == table.key else optional(py)
            setattr(cls, f.name, strawberry.field(name=f.gql_name, description=f.description))
        cls.__annotations__ = annotations
        for end in table.relations:
            setattr(cls, f"rel_{end.name}", self._link_field(end))
        self.types.extend("object", cls, table, annotations)
        strawberry.type(cls, description=table.description)

    def _link_field(self, end: RelationEnd) -> Any:
        target = self.types.objects[end.target]
        if end.many:
            returns: Any = list_of(target)
            params = list_arguments(self.types, end.target)
        else:
            returns, params = optional(target), []
        resolver = make_resolver(read_link, f"resolve_{end.name}", params, returns, with_root=True)
        return strawberry.field(resolver=resolver, name=end.gql_name, description=end.description)

    def _where(self, table: TableSpec) -> None:
        cls = self.types.wheres[table.name]
        annotations: dict[str, Any] = {
            "and_": optional(list_of(cls)),
            "or_": optional(list_of(cls)),
            "not_": optional(cls),
        }
        combinators = {
            "and_": input_field("and", "Every one of these filters holds."),
            "or_": input_field("or", "At least one of these filters holds."),
            "not_": input_field("not", "This filter does not hold."),
        }
        for attr, value in combinators.items():
            setattr(cls, attr, value)
        for f in table.read_fields:
            annotations[f.name] = optional(self._filter_type(table, f))
            setattr(cls, f.name, input_field(f.gql_name, f.description))
        for end in table.relations:
            target = (self.types.many_wheres if end.many else self.types.wheres)[end.target]
            annotations[f"rel_{end.name}"] = optional(target)
            setattr(cls, f"rel_{end.name}", input_field(end.gql_name, end.description))
        self.types.extend("where", cls, table, annotations)
        cls.__annotations__ = annotations
        strawberry.input(cls, description=f"Filter on {table.plural}; all given parts must hold.")

    def _many_where(self, table: TableSpec) -> None:
        cls = self.types.many_wheres[table.name]
        where = self.types.wheres[table.name]
        cls.__annotations__ = {
            "some": optional(where),
            "none": optional(where),
            "every": optional(where),
        }
        cls.some = input_field("some", "At least one linked row matches.")  # type: ignore[attr-defined]
        cls.none = input_field("none", "No linked row matches.")  # type: ignore[attr-defined]
        cls.every = input_field("every", "Every linked row matches (true when none).")  # type: ignore[attr-defined]
        strawberry.input(cls, description=f"Filter on linked {table.plural}.")

    def _order(self, table: TableSpec) -> None:
        cls = self.types.orders[table.name]
        annotations: dict[str, Any] = {}
        for f in table.read_fields:
            if orderable(f):
                annotations[f.name] = optional(SortDirection)
                setattr(cls, f.name, input_field(f.gql_name, f.description))
        for end in table.relations:
            if not end.many:
                annotations[f"rel_{end.name}"] = optional(self.types.orders[end.target])
                setattr(cls, f"rel_{end.name}", input_field(end.gql_name, end.description))
        self.types.extend("order", cls, table, annotations)
        cls.__annotations__ = annotations
        strawberry.input(
            cls, description=f"One sort key of {table.plural}: give exactly one field per item."
        )

    def _connection(self, table: TableSpec) -> None:
        node = self.types.objects[table.name]
        edge = bare(naming.edge_type_name(table.type_name))
        edge.__annotations__ = {"cursor": str, "node": node}
        edge.cursor = strawberry.field(description="Opaque position of this row.")  # type: ignore[attr-defined]
        edge.node = strawberry.field(description="The row.")  # type: ignore[attr-defined]
        edge_cls = strawberry.type(edge, description=f"One {table.type_name} of a page.")
        conn = bare(naming.connection_type_name(table.type_name))
        conn.__annotations__ = {
            "edges": list_of(edge_cls),
            "nodes": list_of(node),
            "page_info": PageInfo,
            "total_count": int,
        }
        conn.edges = strawberry.field(description="Rows of this page with their cursors.")  # type: ignore[attr-defined]
        conn.nodes = strawberry.field(description="Rows of this page.")  # type: ignore[attr-defined]
        conn.page_info = strawberry.field(description="Cursors and whether more rows follow.")  # type: ignore[attr-defined]
        conn.total_count = strawberry.field(  # type: ignore[attr-defined]
            description="Rows matching the filter in all pages (costs one more query)."
        )
        self.types.connections[table.name] = strawberry.type(
            conn, description=f"A page of {table.plural}, in keyset order."
        )


def _python_name(op_name: str) -> str:
    """`startsWith` -> `starts_with_`: never a Python keyword, never a field name clash."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in op_name)
    return f"{snake}_"


def build_types(
    spec: Spec, before_objects: Callable[[GeneratedTypes], None] | None = None
) -> GeneratedTypes:
    return TypeBuilder(spec, before_objects).build()
