"""Mutations, generated per table like the reads: insert (and upsert), update, delete.

    insertPlaybooks(rows: [PlaybookInsert!]!, onConflict: PlaybookOnConflict): PlaybookWriteResult!
    updatePlaybooks(where: PlaybookWhere!, set: PlaybookSet!, atMost: Int): PlaybookWriteResult!
    deletePlaybooks(where: PlaybookWhere!, atMost: Int): PlaybookWriteResult!

Append-only tables get `insert` only, without `onConflict`. Input fields are all nullable:
GraphQL checks each value's type, graph/rows.py checks the spec's rules (required, ranges,
lengths, key format) and reports every problem of the request in one BAD_USER_INPUT error.
Each field runs in its own transaction, and returns only after it committed; the rows it hands
back (`rows`, with any relations selected under them) are read inside that transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import FieldNode
from sqlalchemy import Connection

from graph import naming
from graph.gql.context import GraphContext, RequestContext
from graph.gql.resolvers import named, planner_for
from graph.gql.types import (
    GeneratedTypes,
    bare,
    field_type,
    input_field,
    list_of,
    make_resolver,
    optional,
)
from graph.plan import Filter, Read
from graph.rows import FieldNames
from graph.spec.model import Spec, TableSpec
from graph.sql.compile import Compiler
from graph.sql.execute import fetch_by_ids


def _writable(table: TableSpec) -> list[Any]:
    return [f for f in table.fields if not f.engine and f.name != table.audit_chain]


class MutationTypes:
    """The input and result types of every table's mutations."""

    def __init__(self, spec: Spec, types: GeneratedTypes) -> None:
        self.spec = spec
        self.types = types
        self.inserts: dict[str, type] = {}
        self.sets: dict[str, type] = {}
        self.on_conflicts: dict[str, type] = {}
        self.results: dict[str, type] = {}
        for table in spec.tables.values():
            self._inputs(table)
            self._result(table)

    def _row_input(self, table: TableSpec, name: str, description: str) -> type:
        cls = bare(name)
        annotations: dict[str, Any] = {}
        for f in table.writable_fields:
            annotations[f.name] = optional(field_type(self.types, table, f))
            required = " Required." if f.required or f.name == table.key else ""
            setattr(cls, f.name, input_field(f.gql_name, f"{f.description}{required}"))
        cls.__annotations__ = annotations
        return strawberry.input(cls, description=description)

    def _inputs(self, table: TableSpec) -> None:
        t = table.type_name
        self.inserts[table.name] = self._row_input(
            table,
            naming.insert_input_name(t),
            f"One new {t}. Fields left out take their default; `id`, `createdAt` and "
            "`updatedAt` are set by the server.",
        )
        self.sets[table.name] = self._row_input(
            table, naming.set_input_name(t), f"New values for fields of {table.plural}."
        )
        if table.append_only:
            return
        members = [(f.gql_name, f.gql_name) for f in table.writable_fields if f.name != table.key]
        py_enum: Any = enum.Enum(naming.upsert_field_enum_name(t), members)  # type: ignore[misc]
        fields_enum = strawberry.enum(
            py_enum, description=f"A field of {t} an upsert may overwrite."
        )
        cls = bare(naming.on_conflict_input_name(t))
        cls.__annotations__ = {"update": list_of(fields_enum)}
        cls.update = strawberry.field(  # type: ignore[attr-defined]
            description=f"When a row with the same {table.key_field.gql_name} exists, these "
            "of its fields take the new row's values (the others keep theirs); `[]` keeps "
            "the existing row as it is.",
        )
        self.on_conflicts[table.name] = strawberry.input(
            cls, description=f"Upsert on {table.key_field.gql_name}, the natural key."
        )

    def _result(self, table: TableSpec) -> None:
        cls = bare(naming.write_result_name(table.type_name))
        cls.__annotations__ = {
            "affected_count": int,
            "rows": list_of(self.types.objects[table.name]),
        }
        cls.affected_count = strawberry.field(  # type: ignore[attr-defined]
            description="How many rows the mutation inserted, changed or deleted (an upsert "
            "counts every row it names, existing ones kept as they were included)."
        )
        cls.rows = strawberry.field(  # type: ignore[attr-defined]
            description="The affected rows as they are after the mutation (deleted rows as "
            "they were), in the order written; relations can be selected as in queries."
        )
        self.results[table.name] = strawberry.type(
            cls, description=f"What a mutation of {table.plural} did."
        )


# -- resolvers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    """One mutation field as asked: its arguments, its filter, and what to read back."""

    graph: GraphContext
    now: dt.datetime
    table: str
    args: dict[str, Any]
    where: Filter | None
    # The Read for the `rows` selected under the result (None when not selected).
    read: Read | None

    def result(self, conn: Connection, compiler: Compiler, ids: list[int]) -> dict[str, Any]:
        rows = fetch_by_ids(conn, compiler, self.read, ids) if self.read is not None else []
        return {"affected_count": len(ids), "rows": rows}


def _call(info: strawberry.Info, table: str) -> _Call:
    raw = info._raw_info
    planner = planner_for(raw)
    key = str(raw.path.key)
    args = planner.arguments(raw.parent_type.name, raw.field_nodes[0])
    where = planner.where(table, args.get("where"), (key, "where"))
    nodes: list[FieldNode] = named(planner.subfields(list(raw.field_nodes)), "rows")
    read = None
    if nodes:
        read = planner.read(table, planner.subfields(nodes), {}, (key, "rows"), many=False)
    ctx: RequestContext = info.context
    return _Call(ctx.graph, ctx.now, table, args, where, read)


async def resolve_insert(table: str, info: strawberry.Info) -> dict[str, Any]:
    call = _call(info, table)
    on_conflict = call.args.get("onConflict")
    update = None if on_conflict is None else on_conflict.get("update")

    def work(conn: Connection, compiler: Compiler) -> dict[str, Any]:
        rows = call.args["rows"]
        ids = call.graph.writes.insert(
            conn, compiler, table, rows, names=FieldNames.api, update=update
        )
        return call.result(conn, compiler, ids)

    return await call.graph.write(work, call.now)


async def resolve_update(table: str, info: strawberry.Info) -> dict[str, Any]:
    call = _call(info, table)
    changes, at_most = call.args.get("set"), call.args.get("atMost")

    def work(conn: Connection, compiler: Compiler) -> dict[str, Any]:
        writes = call.graph.writes
        ids = writes.update(
            conn, compiler, table, call.where, changes, at_most, names=FieldNames.api
        )
        return call.result(conn, compiler, ids)

    return await call.graph.write(work, call.now)


async def resolve_delete(table: str, info: strawberry.Info) -> dict[str, Any]:
    call = _call(info, table)

    def work(conn: Connection, compiler: Compiler) -> dict[str, Any]:
        writes = call.graph.writes
        writer, ids = writes.delete_matching(
            conn, compiler, table, call.where, call.args.get("atMost")
        )
        # Read before deleting: afterwards neither they nor rows cascaded with them exist.
        result = call.result(conn, compiler, ids)
        writes.delete(writer, table, ids)
        return result

    return await call.graph.write(work, call.now)


def _bound(resolve: Any, table: str) -> Any:
    async def body(info: strawberry.Info, **_arguments: Any) -> Any:
        return await resolve(table, info)

    return body


def mutation_fields(spec: Spec, types: GeneratedTypes) -> dict[str, Any]:
    """Every mutation root field, by name."""
    made = MutationTypes(spec, types)
    fields: dict[str, Any] = {}
    for table in spec.tables.values():
        insert_name, update_name, delete_name = naming.mutation_root_names(table.plural)
        result = optional(made.results[table.name])
        rows_arg: list[tuple[str, Any]] = [("rows", list_of(made.inserts[table.name]))]
        if not table.append_only:
            rows_arg.append(("on_conflict", made.on_conflicts[table.name]))
        fields[insert_name] = strawberry.field(
            resolver=make_resolver(
                _bound(resolve_insert, table.name),
                insert_name,
                rows_arg,
                result,
                required=("rows",),
            ),
            name=insert_name,
            description=f"Insert {table.plural}: every row or none. With onConflict, upsert on "
            f"{table.key_field.gql_name}.",
        )
        if table.append_only:
            continue
        where = types.wheres[table.name]
        fields[update_name] = strawberry.field(
            resolver=make_resolver(
                _bound(resolve_update, table.name),
                update_name,
                [("where", where), ("set", made.sets[table.name]), ("at_most", int)],
                result,
                required=("where", "set"),
            ),
            name=update_name,
            description=f"Change the {table.plural} `where` selects. When more than atMost "
            "match (default: the server's write limit), nothing changes.",
        )
        fields[delete_name] = strawberry.field(
            resolver=make_resolver(
                _bound(resolve_delete, table.name),
                delete_name,
                [("where", where), ("at_most", int)],
                result,
                required=("where",),
            ),
            name=delete_name,
            description=f"Delete the {table.plural} `where` selects, applying each relation's "
            "on_delete rule. When more than atMost match, nothing is deleted.",
        )
    return fields
