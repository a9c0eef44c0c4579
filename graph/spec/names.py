"""Checks that the GraphQL names generated from the specs do not collide."""

from __future__ import annotations

from graph import naming
from graph.errors import SourcePos
from graph.spec.issues import Issues
from graph.spec.model import FieldType, TableSpec


def check_generated_names(tables: dict[str, TableSpec], issues: Issues) -> None:
    type_names: dict[str, tuple[str, SourcePos]] = {}
    root_fields: dict[str, tuple[str, SourcePos]] = {}
    sql_tables: dict[str, SourcePos] = {}

    def claim(
        registry: dict[str, tuple[str, SourcePos]], name: str, what: str, pos: SourcePos
    ) -> None:
        if name in registry:
            other, other_pos = registry[name]
            issues.add(
                pos,
                "NAME_COLLISION",
                f"generated name '{name}' ({what}) collides with {other} from {other_pos}",
            )
            return
        if registry is type_names and name in naming.SHARED_TYPE_NAMES:
            issues.add(pos, "NAME_COLLISION", f"'{name}' ({what}) is a built-in type name")
            return
        registry[name] = (what, pos)

    for table in tables.values():
        if table.table in sql_tables:
            issues.add(
                table.pos,
                "NAME_COLLISION",
                f"SQL table '{table.table}' is also declared at {sql_tables[table.table]}",
            )
        sql_tables[table.table] = table.pos
        t = table.type_name
        for name, what in (
            (t, f"type of {table.name}"),
            (naming.where_input_name(t), f"filter input of {table.name}"),
            (naming.many_where_input_name(t), f"to-many filter input of {table.name}"),
            (naming.order_input_name(t), f"order input of {table.name}"),
            (naming.connection_type_name(t), f"connection type of {table.name}"),
            (naming.edge_type_name(t), f"edge type of {table.name}"),
            (naming.insert_input_name(t), f"insert input of {table.name}"),
            (naming.set_input_name(t), f"update input of {table.name}"),
            (naming.on_conflict_input_name(t), f"upsert input of {table.name}"),
            (naming.upsert_field_enum_name(t), f"upsert field enum of {table.name}"),
            (naming.write_result_name(t), f"write result type of {table.name}"),
        ):
            claim(type_names, name, what, table.pos)
        for suffix, what in naming.AGGREGATE_TYPE_SUFFIXES.items():
            name = naming.aggregate_type_name(t, suffix)
            claim(type_names, name, f"{what} of {table.name}", table.pos)
        for field in table.fields:
            if field.type is FieldType.ENUM:
                claim(
                    type_names,
                    naming.enum_type_name(t, field.name),
                    f"enum {table.name}.{field.name}",
                    field.pos,
                )
                claim(
                    type_names,
                    naming.enum_filter_name(t, field.name),
                    f"enum filter {table.name}.{field.name}",
                    field.pos,
                )
        for name, what in (
            (table.list_root, f"list field of {table.name}"),
            (table.single_root, f"lookup field of {table.name}"),
            (naming.connection_root_name(table.list_root), f"connection field of {table.name}"),
            (naming.aggregate_root_name(table.list_root), f"aggregate field of {table.name}"),
        ):
            claim(root_fields, name, what, table.pos)
        _check_type_fields(table, issues)


def _check_type_fields(table: TableSpec, issues: Issues) -> None:
    """Fields and relation ends of one type must have distinct camelCase names."""
    seen: dict[str, str] = {}
    for field in table.read_fields:
        gql = field.gql_name
        if gql in seen:
            issues.add(
                field.pos,
                "NAME_COLLISION",
                f"field '{field.name}' becomes '{gql}' in GraphQL, like '{seen[gql]}'",
            )
        seen[gql] = field.name
    for end in table.relations:
        gql = end.gql_name
        if gql in seen:
            pos = end.relation.pos
            issues.add(
                pos,
                "NAME_COLLISION",
                f"relation '{end.name}' on {table.type_name} becomes '{gql}' in GraphQL, "
                f"like '{seen[gql]}'",
            )
        seen[gql] = end.name
    for end in table.relations:
        if not end.many:
            continue
        gql = naming.relation_aggregate_name(end.gql_name)
        if gql in seen:
            issues.add(
                end.relation.pos,
                "NAME_COLLISION",
                f"the aggregate field of relation '{end.name}' on {table.type_name} is "
                f"'{gql}', like '{seen[gql]}'",
            )
        seen[gql] = f"{end.name} (aggregate)"
