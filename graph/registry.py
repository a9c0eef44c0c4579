"""The memory tables from Python, the way the requirements document's subsystems use them.

    from graph import Registry

    table_registry = Registry.open("sqlite:///./grace.db")
    table_registry.load_all_schemas()
    table_registry.insert_row("memory_self_healing_playbooks", {"playbook_name": ..., ...})
    table_registry.query_rows(
        "memory_self_healing_playbooks",
        filters={"trigger_conditions": {"error_type": "ConnectionError"}},
        limit=1,
    )

Field names are the spec's snake_case names; values are Python values (datetimes, dates, ints,
dicts and lists for json) or their documented text forms. Filters take the operator vocabulary
of GraphQL's `where` (`{"started_at": {"withinLast": "P7D"}}`, `{"and": [...]}`) with the
document's shorthand: a bare value means `eq` (`includes` on a list field), a mapping given to a
json field means `contains`. Writes and reads go through the same validation, plans and SQL as
the GraphQL API (graph/writes.py, graph/where.py, graph/sql/), and fail with the same errors
(graph.errors, each with its `.code`). `AsyncRegistry` offers the same methods as coroutines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine

from graph.drift import schema_mismatch_errors
from graph.errors import UserInputError
from graph.naming import suggest
from graph.plan import Filter, Read, SortKey
from graph.rows import FieldNames
from graph.settings import Settings
from graph.spec import Spec, load_spec
from graph.spec.model import TableSpec
from graph.sql.compile import Compiler
from graph.sql.ddl import create_schema
from graph.sql.engine import build_engine, snapshot_reader, write_engine
from graph.sql.execute import fetch_by_ids, fetch_rows
from graph.sql.tables import Catalog, build_catalog
from graph.where import FilterPlanner, build_index
from graph.writes import WriteOps

T = TypeVar("T")
Row = dict[str, Any]
OrderBy = str | Mapping[str, str] | Sequence[str | Mapping[str, str]]


class Registry:
    """Synchronous access to every table of one spec in one database."""

    def __init__(self, spec: Spec, engine: Engine, settings: Settings | None = None) -> None:
        self.spec = spec
        self.catalog: Catalog = build_catalog(spec)
        self.engine = engine
        self.settings = settings or Settings()
        self.writes = WriteOps(spec, self.settings)
        self._filters = FilterPlanner(spec, build_index(spec, python=True), python=True)
        # One snapshot per call, as for a GraphQL operation (graph/gql/context.py).
        self._reader = snapshot_reader(engine)
        self._writer = write_engine(engine)

    @classmethod
    def open(
        cls,
        database_url: str | None = None,
        schemas_dir: str | Path | None = None,
        relations_file: str | Path | None = None,
        *,
        settings: Settings | None = None,
    ) -> Registry:
        """Load and check the spec, and connect (lazily) to the database.

        Unset arguments come from `settings` or the environment (GRAPH_DATABASE_URL,
        GRAPH_SCHEMAS_DIR, GRAPH_RELATIONS_FILE), as for `grace-graph`.
        """
        settings = (settings or Settings.from_env()).with_database(database_url)
        spec = load_spec(
            Path(schemas_dir) if schemas_dir is not None else settings.schemas_dir,
            Path(relations_file) if relations_file is not None else settings.relations_file,
        )
        engine = build_engine(settings.database_url, pool_size=settings.db_pool_size)
        return cls(spec, engine, settings)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- tables -------------------------------------------------------------------------

    def load_all_schemas(self) -> list[str]:
        """Create every missing table, index, constraint and trigger (like `grace-graph init`);
        returns the SQL names of the tables this call created."""
        return create_schema(self.engine, self.catalog)

    def table(self, name: str) -> TableSpec:
        """A table by its SQL name (`memory_execution_logs`) or schema name (`execution_logs`)."""
        found = self.spec.find_table(name)
        if found is None:
            known = sorted(t.table for t in self.spec.tables.values())
            raise UserInputError(f"no table {name!r}{suggest(name, known)}", ("table",))
        return found

    # -- writes -------------------------------------------------------------------------

    def _write(self, work: Callable[[Connection, Compiler], T]) -> T:
        with schema_mismatch_errors(self.catalog), self._writer.connect() as conn, conn.begin():
            return work(conn, Compiler(self.catalog, self.engine.dialect.name))

    def _stored_columns(self, table: TableSpec) -> Read:
        """What a write returns: the rows as stored. Not the computed fields: a formula that
        cannot be computed for the new values (a double overflow) must not undo the write
        (get_row and query_rows read them)."""
        return Read(table.name, tuple(f.name for f in table.fields))

    def insert_row(self, table: str, data: Mapping[str, Any]) -> Row:
        """Insert one row; returns it as stored (with `id`, `created_at`, defaults)."""
        return self.insert_rows(table, [data])[0]

    def insert_rows(
        self,
        table: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        on_conflict_update: Sequence[str] | None = None,
        path: tuple[str, ...] = ("rows",),
    ) -> list[Row]:
        """Insert every row or none. With `on_conflict_update`, upsert on the natural key:
        an existing row takes the new values of those fields (`[]`: it stays as it is)."""
        spec = self.table(table)
        read = self._stored_columns(spec)

        def work(conn: Connection, compiler: Compiler) -> list[Row]:
            ids = self.writes.insert(
                conn,
                compiler,
                spec.name,
                list(rows),
                names=FieldNames.spec,
                update=on_conflict_update,
                path=path,
                update_path=("on_conflict_update",),
            )
            return _plain_rows(fetch_by_ids(conn, compiler, read, ids))

        return self._write(work)

    def update_rows(
        self,
        table: str,
        filters: Mapping[str, Any] | None,
        values: Mapping[str, Any],
        *,
        at_most: int | None = None,
    ) -> list[Row]:
        """Change the rows `filters` selects; nothing changes if more than `at_most` match
        (default: the write limit; a filter matching every row needs an explicit at_most)."""
        spec = self.table(table)
        where = self.filter(spec, filters)
        read = self._stored_columns(spec)

        def work(conn: Connection, compiler: Compiler) -> list[Row]:
            ids = self.writes.update(
                conn, compiler, spec.name, where, values, at_most, names=FieldNames.spec
            )
            return _plain_rows(fetch_by_ids(conn, compiler, read, ids))

        return self._write(work)

    def delete_rows(
        self, table: str, filters: Mapping[str, Any] | None, *, at_most: int | None = None
    ) -> list[Row]:
        """Delete the rows `filters` selects (relation rules apply); returns them as they were."""
        spec = self.table(table)
        where = self.filter(spec, filters)
        read = self._stored_columns(spec)

        def work(conn: Connection, compiler: Compiler) -> list[Row]:
            writer, ids = self.writes.delete_matching(conn, compiler, spec.name, where, at_most)
            deleted = _plain_rows(fetch_by_ids(conn, compiler, read, ids))
            self.writes.delete(writer, spec.name, ids)
            return deleted

        return self._write(work)

    # -- reads --------------------------------------------------------------------------

    def filter(self, table: TableSpec, filters: Mapping[str, Any] | None) -> Filter | None:
        """The plan of a Python filter (validated; UserInputError names the bad part)."""
        return self._filters.where(table.name, filters, ("filters",))

    def _order(self, table: TableSpec, order_by: OrderBy | None) -> tuple[SortKey, ...]:
        if order_by is None:
            return ()
        items = [order_by] if isinstance(order_by, str | Mapping) else list(order_by)
        raw = [dict(_order_item(item)) for item in items]
        return self._filters.order(table.name, raw, ("order_by",))

    def query_rows(
        self,
        table: str,
        filters: Mapping[str, Any] | None = None,
        *,
        order_by: OrderBy | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Row]:
        """Rows matching `filters`, every field, ordered by `order_by` (`"-started_at"`,
        `{"started_at": "desc"}`, or a list of those; ties by id). `limit=None`: all rows."""
        spec = self.table(table)
        if limit is not None and limit < 0:
            raise UserInputError(f"must be 0 or more, not {limit}", ("limit",))
        if offset < 0:
            raise UserInputError(f"must be 0 or more, not {offset}", ("offset",))
        read = Read(
            spec.name,
            tuple(f.name for f in spec.read_fields),
            self.filter(spec, filters),
            self._order(spec, order_by),
            limit,
            offset,
        )
        with schema_mismatch_errors(self.catalog), self._reader.connect() as conn, conn.begin():
            compiler = Compiler(self.catalog, self.engine.dialect.name)
            return _plain_rows(fetch_rows(conn, compiler, read).items)

    def get_row(self, table: str, key: Any) -> Row | None:
        """The row whose natural key is `key`, or None."""
        spec = self.table(table)
        rows = self.query_rows(table, {spec.key: {"eq": key}}, limit=1)
        return rows[0] if rows else None

    def count_rows(self, table: str, filters: Mapping[str, Any] | None = None) -> int:
        spec = self.table(table)
        read = Read(spec.name, ("id",), self.filter(spec, filters))
        with schema_mismatch_errors(self.catalog), self._reader.connect() as conn, conn.begin():
            compiler = Compiler(self.catalog, self.engine.dialect.name)
            return int(conn.execute(compiler.count_rows(read)).scalar_one())


def _order_item(item: str | Mapping[str, str]) -> Mapping[str, str]:
    if isinstance(item, str):
        return {item[1:]: "desc"} if item.startswith("-") else {item: "asc"}
    return item


def _plain_rows(rows: list[Any]) -> list[Row]:
    """Rows as plain dicts of their fields (no engine bookkeeping keys)."""
    return [{k: v for k, v in row.items() if isinstance(k, str)} for row in rows]


class AsyncRegistry:
    """The Registry's methods as coroutines: each runs in a worker thread, off the event loop."""

    def __init__(self, registry: Registry) -> None:
        self.sync = registry

    @classmethod
    def open(
        cls,
        database_url: str | None = None,
        schemas_dir: str | Path | None = None,
        relations_file: str | Path | None = None,
        *,
        settings: Settings | None = None,
    ) -> AsyncRegistry:
        return cls(Registry.open(database_url, schemas_dir, relations_file, settings=settings))

    async def _run(self, work: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(work)

    async def load_all_schemas(self) -> list[str]:
        return await self._run(self.sync.load_all_schemas)

    async def insert_row(self, table: str, data: Mapping[str, Any]) -> Row:
        return await self._run(lambda: self.sync.insert_row(table, data))

    async def insert_rows(
        self,
        table: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        on_conflict_update: Sequence[str] | None = None,
    ) -> list[Row]:
        return await self._run(
            lambda: self.sync.insert_rows(table, rows, on_conflict_update=on_conflict_update)
        )

    async def update_rows(
        self,
        table: str,
        filters: Mapping[str, Any] | None,
        values: Mapping[str, Any],
        *,
        at_most: int | None = None,
    ) -> list[Row]:
        return await self._run(
            lambda: self.sync.update_rows(table, filters, values, at_most=at_most)
        )

    async def delete_rows(
        self, table: str, filters: Mapping[str, Any] | None, *, at_most: int | None = None
    ) -> list[Row]:
        return await self._run(lambda: self.sync.delete_rows(table, filters, at_most=at_most))

    async def query_rows(
        self,
        table: str,
        filters: Mapping[str, Any] | None = None,
        *,
        order_by: OrderBy | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Row]:
        return await self._run(
            lambda: self.sync.query_rows(
                table, filters, order_by=order_by, limit=limit, offset=offset
            )
        )

    async def get_row(self, table: str, key: Any) -> Row | None:
        return await self._run(lambda: self.sync.get_row(table, key))

    async def count_rows(self, table: str, filters: Mapping[str, Any] | None = None) -> int:
        return await self._run(lambda: self.sync.count_rows(table, filters))

    async def close(self) -> None:
        await self._run(self.sync.close)

    async def __aenter__(self) -> AsyncRegistry:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()
