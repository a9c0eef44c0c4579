"""Compiles a root field's Read and its Shape (graph/shape.py) into ONE SQL statement whose one
value is the field's answer as JSON text: the list of rows, each an object with the response's
keys in order, relations nested as objects or lists, every value already in its GraphQL form.

PostgreSQL builds each row as a record whose columns are named by the response keys
(row_to_json, and array_to_json of an ARRAY of records for lists), SQLite with json_object and
json_group_array; relations are correlated subqueries (per parent row: its links, the
relation's filter, order, offset and limit), so the statement count no longer grows with the
relations asked for. A relation's aggregate is built here too where graph/gql/inline_groups.py
allows it (graph/sql/group_object.py); otherwise it is the row's id here, and its groups come
from its own statement (graph/gql/compiled_groups.py). Filters, orders and link conditions are the
reference compiler's own (graph/sql/compile.py): the rows are the same, only their form
differs.

Values (what the reference path's scalars serialize to): enums by their GraphQL name, BigInt
as a string of digits, DateTime as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, Date as `YYYY-MM-DD`,
booleans as true/false, NaN and infinite floats (and instants and days beyond the years
1..9999) as null. Floats leave PostgreSQL in their shortest exact digits; SQLite's JSON keeps
15 digits only, so a user function (`grace_json_float`, graph/sql/engine.py) writes them
there. graph/gql/compiled.py reads the text once and re-encodes it as the reference path
would (orjson), so both paths answer the same bytes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
    FromClause,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
)

from graph import naming
from graph.plan import ChildRead, Read
from graph.shape import AggregateEntry, Entry, GroupsEntry, LinkEntry, Shape, TypenameEntry
from graph.spec.model import FieldSpec, FieldType, TableSpec
from graph.sql import dialects
from graph.sql.compile import Compiler
from graph.sql.group_object import (
    JoinedValues,
    groups_value,
    join_groups,
    listed_groups_value,
)
from graph.sql.tables import Catalog
from graph.sql.types import CalendarDate, UtcDateTime

# PostgreSQL's functions take at most 100 arguments (FUNC_MAX_ARGS): 50 key/value pairs per
# object. SQLite's default limit is 127 (63 pairs). graph/gql/compiled.py keeps shapes within.
MAX_KEYS = 50
# PostgreSQL's NAMEDATALEN - 1: a longer column name is cut (ResponseCompiler._as_records).
MAX_COLUMN_NAME = 63
# The name of a subquery whose rows are taken whole (`SELECT row$ FROM (...) AS row$`). A bare
# name is a column first in PostgreSQL, so a response key equal to it (an alias `anon_1`, one
# of SQLAlchemy's anonymous names) would be taken instead of the row; a GraphQL name has no `$`.
RECORD = "row$"
OBJECT = "__obj"
_UTC_TEXT = """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""
JSON_TYPE = JSON()
# Aliases by catalog (its id, with the catalog kept alive beside them): ResponseCompiler.alias.
_ALIASES: dict[int, tuple[Catalog, dict[tuple[str, int], Any]]] = {}
# Value expressions by dialect and column: ResponseCompiler.field_value.
_VALUES: dict[tuple[str, int], tuple[Any, Any]] = {}


class ResponseCompiler:
    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.dialect = compiler.dialect
        self.spec = compiler.spec
        self.catalog = compiler.catalog

    @property
    def postgresql(self) -> bool:
        return self.dialect == dialects.POSTGRESQL

    def alias(self, table: str, level: int) -> Any:
        """The alias of `table` for rows `level` relations below the root. Made once per
        catalog and reused: an alias's column proxies cost as much to build as the rest of
        the statement. Distinct per level, so a relation of a table to itself correlates to
        the right row; siblings of one level sit in separate subqueries and may share one."""
        key = (table, level)
        made = _ALIASES.setdefault(id(self.catalog), (self.catalog, {}))[1]
        if key not in made:
            made[key] = self.catalog.table(table).alias(f"{table}_{level}")
        return made[key]

    def root_list(self, read: Read, shape: Shape) -> Select[Any]:
        """The statement answering a root list field: one row, one column, the JSON text."""
        table = self.spec.table(read.table)
        source = self.catalog.table(read.table)
        conditions = []
        if read.where is not None:
            conditions.append(self.compiler.where(table, source, read.where))
        rows = self._rows(read, shape, table, source, conditions, owner=None, level=0)
        return select(cast(self._array(rows, shape, owner=None), Text))

    def root_one(self, read: Read, shape: Shape) -> Select[Any]:
        """The statement answering a lookup: one row, one column, the object's JSON text, or
        null when no row matches."""
        table = self.spec.table(read.table)
        source = self.catalog.table(read.table)
        conditions = []
        if read.where is not None:
            conditions.append(self.compiler.where(table, source, read.where))
        rows = self._rows(read, shape, table, source, conditions, owner=None, level=0)
        return select(cast(self._first(rows, shape), Text))

    def row_object(
        self, read: Read, shape: Shape, source: FromClause, joined: JoinedValues | None = None
    ) -> Any:
        """The object of one row of `source` (a root table, in the FROM of an enclosing
        statement: a connection's page, graph/sql/page_response.py), as JSON; `joined`: the
        values of relation aggregates joined to the rows there, and what they are read from."""
        table = self.spec.table(read.table)
        values, froms = (joined.values, joined.froms) if joined is not None else ({}, ())
        columns = self._columns(read, shape, table, source, 0, values)
        if self._as_records(shape):
            return _record_json(select(*columns).correlate(source, *froms))
        return columns[0].element  # the object, without its label

    # -- lists and objects ----------------------------------------------------------------

    def _as_records(self, shape: Shape) -> bool:
        """Whether rows of `shape` are built as records whose columns are named by the
        response keys (PostgreSQL: `row_to_json`, `array_to_json` of an array of records).
        That costs PostgreSQL less than json_build_object, which looks up how to write each
        of its arguments again for every row; but a column name is at most 63 bytes there
        (longer ones are cut), so a shape with a longer key keeps json_build_object."""
        return self.postgresql and all(
            len(entry.key.encode()) <= MAX_COLUMN_NAME for entry in shape.entries
        )

    def _rows(
        self,
        read: Read,
        shape: Shape,
        table: TableSpec,
        source: FromClause,
        conditions: list[ColumnElement[bool]],
        owner: FromClause | None,
        level: int,
    ) -> Select[Any]:
        """The page's rows, in the page's order: a record per row (`_as_records`) or a JSON
        object in the column OBJECT; correlated to the `owner` row of an enclosing statement
        when there is one (a subquery in FROM is not correlated by default: the owner's table
        would be joined in instead)."""
        order = self.compiler.order_by(table, source, read.order)
        # A root list's relation aggregates over many rows: grouped once, joined to the rows.
        joined = (
            join_groups(self, shape, read, source, start=source)
            if owner is None
            else JoinedValues(source, {}, ())
        )
        rows = (
            select(*self._columns(read, shape, table, source, level, joined.values))
            .select_from(joined.rows_from)
            .where(*conditions)
            .order_by(*order)
        )
        if owner is not None:
            rows = rows.correlate(owner)
        if read.limit is not None:
            rows = rows.limit(read.limit)
        if read.offset:
            rows = rows.offset(read.offset)
        return rows

    def _array(self, rows: Select[Any], shape: Shape, owner: FromClause | None) -> Any:
        """The JSON array of the rows' objects, in their order, `[]` when there are none."""
        if self._as_records(shape):
            # ARRAY(subquery) keeps the subquery's order (SQL's array value constructor by
            # query): no window numbering the rows and no sort inside an aggregate.
            page = rows.subquery(RECORD)
            records = select(page.table_valued()).select_from(page)
            return func.array_to_json(func.array(records.scalar_subquery()))
        if self.postgresql:
            return func.array_to_json(func.array(rows.scalar_subquery()))
        # SQLite feeds an aggregate the subquery's rows in the subquery's order.
        page = rows.subquery()
        array = select(func.json_group_array(func.json(page.c[OBJECT])))
        if owner is not None:
            array = array.correlate(owner)
        return array.scalar_subquery()

    def _first(self, rows: Select[Any], shape: Shape) -> Any:
        """The first of the rows as a JSON object, or null when there is none."""
        first = rows.limit(1)
        if self._as_records(shape):
            return _record_json(first)
        return first.scalar_subquery()

    def _columns(
        self,
        read: Read,
        shape: Shape,
        table: TableSpec,
        source: FromClause,
        level: int,
        joined: dict[str, Any] | None = None,
    ) -> list[Any]:
        """A row's columns: one per response key (`_as_records`), or the object alone;
        `joined`: the values of relation aggregates joined to the rows, by response key."""
        joined = joined or {}
        values = [
            (
                entry.key,
                joined[entry.key]
                if entry.key in joined
                else self._value(entry, read, table, source, level),
            )
            for entry in shape.entries
        ]
        if self._as_records(shape):
            return [value.label(key) for key, value in values]
        pairs = [part for key, value in values for part in (literal(key), value)]
        if self.postgresql:
            return [func.json_build_object(*pairs).label(OBJECT)]
        return [func.json_object(*pairs).label(OBJECT)]

    def _value(
        self, entry: Entry, read: Read, table: TableSpec, source: FromClause, level: int
    ) -> Any:
        if isinstance(entry, TypenameEntry):
            return literal(entry.type_name)
        if isinstance(entry, GroupsEntry):
            if entry.listed:
                return listed_groups_value(self, entry, source)
            return groups_value(self, entry, source, level + 1)
        if isinstance(entry, AggregateEntry):
            # The row's id, by which the aggregate's own statement finds its groups
            # (graph/gql/compiled_groups.py puts them in its place).
            return source.c.id
        if not isinstance(entry, LinkEntry):
            if entry.field.computed is not None:
                # A computed field's SQL is made anew for each statement (it may hold the
                # request's moment): not cached.
                column = self.compiler.column(table, source, entry.field.name)
                return self.answered_value(entry.field, column)
            return self.field_value(entry.field, source.c[entry.field.name])
        child = next(c for c in read.children if c.key == entry.key)
        return self._linked(child, entry.shape, source, level + 1)

    def _linked(self, child: ChildRead, shape: Shape, owner: FromClause, level: int) -> Any:
        """A relation of the row `owner`, as a correlated subquery: the linked object (or
        null) for a to-one relation, the page of linked objects for a to-many one."""
        end, read = child.end, child.read
        table = self.spec.table(end.target)
        target = self.alias(end.target, level)
        conditions = [self.compiler.link_condition(end, owner, target)]
        if read.where is not None:
            conditions.append(self.compiler.where(table, target, read.where))
        rows = self._rows(read, shape, table, target, conditions, owner=owner, level=level)
        if not end.many:
            found = self._first(rows, shape)
            return found if self.postgresql else func.json(found)
        linked = self._array(rows, shape, owner)
        return linked if self.postgresql else func.json(linked)

    # -- values ---------------------------------------------------------------------------

    def field_value(self, field: FieldSpec, column: Any) -> Any:
        """A stored field as the JSON value the API answers with. The expression depends on
        the column only (a table's or one of the reused aliases'), so it is built once: a
        float's alone is a dozen SQL elements."""
        key = (self.dialect, id(column))
        cached = _VALUES.get(key)
        if cached is None or cached[0] is not column:  # the column kept: its id stays its own
            cached = _VALUES[key] = (column, self.answered_value(field, column))
        return cached[1]

    def answered_value(self, field: FieldSpec, column: Any) -> Any:
        """A field's value (a column, or an expression of its type) as the JSON value the API
        answers with; built anew (field_value keeps those of the reused columns)."""
        kind = field.type
        if kind is FieldType.ENUM:
            names = {value: naming.enum_member(value) for value in field.values}
            return case(names, value=column)
        if kind is FieldType.BIGINT:
            return cast(column, Text)
        if kind is FieldType.BOOL and not self.postgresql:
            return func.json(case((column, "true"), (~column, "false")))
        if kind is FieldType.FLOAT:
            if self.postgresql:
                return self._pg_float(column)
            return func.json(func.grace_json_float(column))
        if kind is FieldType.DATETIME:
            if self.postgresql:
                readable = type_coerce_expression(column, UtcDateTime())
                return func.to_char(func.timezone("UTC", readable), literal_column(_UTC_TEXT))
            # SQLite keeps `YYYY-MM-DD HH:MM:SS.ffffff` in UTC (graph/sql/types.py).
            day = func.substr(column, 1, 10, type_=String())
            return day.concat("T").concat(func.substr(column, 12, 15, type_=String())).concat("Z")
        if kind is FieldType.DATE and self.postgresql:
            return type_coerce_expression(column, CalendarDate())
        if kind is FieldType.JSON and not self.postgresql:
            # SQLite keeps the document as text: json() embeds it as JSON, its numbers as
            # written (PostgreSQL's jsonb is embedded as it is).
            return func.json(column)
        if kind is FieldType.LIST:
            return self._list_value(field, column)
        return column

    def _list_value(self, field: FieldSpec, column: Any) -> Any:
        """A list field as a JSON array (or null), each element in its GraphQL form: BigInt
        as a string of digits, floats in their exact digits. A null element, or a NaN or
        infinite float (which makes the reference path answer the whole list as null), comes
        out as a null element: graph/shape.py sends such answers to the reference path."""
        element = field.of
        if self.postgresql:
            if element is FieldType.BIGINT:
                return cast(column, ARRAY(Text))
            if element is not FieldType.FLOAT:
                return column  # a native array is a JSON array of its strings, ints, booleans
            each = (
                func.unnest(column)
                .table_valued("value", with_ordinality="position")
                .render_derived()
            )
            values = select(self._pg_float(each.c.value)).order_by(each.c.position)
            floats = func.array_to_json(func.array(values.scalar_subquery()))
            return case((column.is_(None), None), else_=floats)
        if element is FieldType.BIGINT:
            value: Any = cast(literal_column("value"), Text)
        elif element is FieldType.FLOAT:
            value = func.json(func.grace_json_float(literal_column("value")))
        else:
            return func.json(column)
        # json_each yields the elements in order, and SQLite feeds the aggregate in that
        # order. The subquery's result loses its JSON subtype: json() gives it back.
        array = select(func.json_group_array(value)).select_from(func.json_each(column))
        return case((column.is_(None), None), else_=func.json(array.scalar_subquery()))

    @staticmethod
    def _pg_float(column: Any) -> Any:
        """A double as JSON: its shortest exact digits (PostgreSQL's own output), with `.0`
        after a whole number (`3` would read back as an integer, where the API answers
        `3.0`); NaN and infinities, which GraphQL's Float does not have, as null."""
        text = cast(column, Text)
        unrepresentable = column.in_(
            [literal_column(f"'{v}'::float8") for v in ("NaN", "Infinity", "-Infinity")]
        )
        whole = and_(func.strpos(text, ".") == 0, func.strpos(text, "e") == 0)
        return case(
            (unrepresentable, None),
            (whole, cast(text.concat(".0"), JSON_TYPE)),
            else_=cast(text, JSON_TYPE),
        )


def final_text(dialect: str, shape: Shape) -> bool:
    """Whether the database's JSON text of `shape` is, byte for byte, what orjson writes of
    it, so that it may reach the client as it is (graph/gql/prepared.py, answer_fragment).
    On PostgreSQL when every object is a record (row_to_json and array_to_json write no
    spaces and escape strings as orjson does: the short escapes, `\\u00XX` for the other
    control characters) and no json field is selected (jsonb spaces its documents); floats
    then differ only where PostgreSQL writes an exponent (`1e-05`, `1e+15`), which the
    caller looks for. Not with a group object built in the statement (json_build_object
    spaces it: graph/sql/group_object.py). Not on SQLite, whose JSON this module does not
    shape as orjson's."""
    return (
        dialect == dialects.POSTGRESQL
        and not shape.holds_json
        and not shape.holds_groups
        and shape.longest_key <= MAX_COLUMN_NAME
    )


def _record_json(row: Select[Any]) -> Any:
    """The one row of `row`, taken whole as a record, as a JSON object (null without a row)."""
    record = row.subquery(RECORD)
    return select(func.row_to_json(record.table_valued())).select_from(record).scalar_subquery()


def type_coerce_expression(column: Any, kind: UtcDateTime | CalendarDate) -> Any:
    """The column as its type reads it (null beyond the years 1..9999 on PostgreSQL)."""
    return kind.column_expression(column)
