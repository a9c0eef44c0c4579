"""The statements of a write, run in the caller's transaction: insert, upsert, update, delete.

Rows arrive validated (graph/rows.py). This module adds what only the database can answer:
whether a natural key is taken, whether a link names an existing row (`on_missing`), what
happens to rows that link to deleted ones (`on_delete`), the audit chain (graph/audit.py) and
the rollups of the rows written (graph/sql/rollups.py). Every check runs in the same
transaction as the write, so a refused write leaves nothing behind.

Concurrent writers: PostgreSQL runs writes under READ COMMITTED. Rows about to be updated or
deleted are locked first (`FOR UPDATE`), and link targets are locked (`FOR KEY SHARE`, or
`FOR SHARE` when the target column is not unique) when a rule protects the link, so a delete
and an insert that links to the deleted row cannot both pass their checks: one waits for the
other and then sees its effect. SQLite serializes writers with `BEGIN IMMEDIATE`
(graph/sql/engine.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from graph import audit
from graph.errors import (
    AppendOnlyError,
    ConflictError,
    MissingTargetError,
    Path,
    Problem,
    RestrictedError,
    TooManyMatchesError,
    dotted,
    listed,
)
from graph.plan import Filter
from graph.spec.model import FieldSpec, RelationEnd, RelationSpec, TableSpec
from graph.sql import dialects, rollups
from graph.sql.compile import Compiler
from graph.sql.links import (
    CHUNK,
    chunks,
    comparable,
    distinct_link_values,
    link_of,
    link_values,
)


def _shown(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else f"'{value}'"


def forward_end(spec_tables: dict[str, TableSpec], rel: RelationSpec) -> RelationEnd:
    """The end of `rel` on its `from` table (the side that holds the link value)."""
    owner = spec_tables[rel.from_table]
    return next(e for e in owner.relations if e.relation is rel and e.name == rel.name)


class Writer:
    """One write's statements and checks on one connection, inside its transaction."""

    def __init__(self, conn: Connection, compiler: Compiler) -> None:
        self.conn = conn
        self.compiler = compiler
        self.catalog = compiler.catalog
        self.spec = compiler.spec
        self.dialect = compiler.dialect
        self.postgres = self.dialect == dialects.POSTGRESQL

    # -- inserts ------------------------------------------------------------------------

    def insert(
        self,
        table: TableSpec,
        rows: list[dict[str, Any]],
        paths: Sequence[Path],
        *,
        now: dt.datetime,
        upsert: tuple[str, ...] | None = None,
    ) -> list[int]:
        """Insert (or, with `upsert`, insert-or-update on the natural key); ids in row order."""
        if not rows:
            return []
        self._refuse_duplicates(table, rows, paths)
        sql_table = self.catalog.table(table.name)
        before: dict[RelationSpec, set[Any]] = {}
        parents: dict[str, set[int]] = {}
        if upsert is None:
            self._refuse_taken(table, rows, paths)
        else:
            # Rows that exist already are updated: what an update checks, an upsert checks.
            keys = [row[table.key] for row in rows]
            existing = list(self._ids_by_key(table, sql_table, keys).values())
            before = self._linked_values(table, existing, dict.fromkeys(upsert))
            old = self.link_rows(table, existing)
            parents = rollups.parents_of(self.conn, self.compiler, table, old)
        if table.audit_chain:
            rows = audit.assign_stamps(self.conn, self.catalog, table, rows, now)
        # Every row names every column, so one statement shape serves the whole batch.
        columns = dict.fromkeys(name for row in rows for name in row)
        full = [{name: row.get(name) for name in columns} for row in rows]
        with self._integrity(table):
            if upsert is None:
                ids = self._insert_returning(sql_table, full)
            else:
                ids = self._upsert(table, sql_table, full, upsert)
        self._protect_renamed(table, before)
        written = self.link_rows(table, ids)
        path_of = dict(zip(ids, paths, strict=True))
        self.check_links(table, written, [path_of[row["id"]] for row in written])
        self._merge(parents, rollups.parents_of(self.conn, self.compiler, table, written))
        self._refresh_rollups(parents)
        rollups.refresh(self.conn, self.compiler, table, ids)
        return ids

    def _insert_returning(self, sql_table: Table, rows: list[dict[str, Any]]) -> list[int]:
        ids: list[int] = []
        for batch in chunks(rows, _rows_per_statement(len(rows[0]))):
            if self.postgres:
                # SQLAlchemy batches these into multi-row statements that keep the order.
                stmt = insert(sql_table).returning(sql_table.c.id, sort_by_parameter_order=True)
                ids.extend(int(i) for i in self.conn.execute(stmt, list(batch)).scalars())
            else:
                # One multi-row INSERT: SQLite numbers new rows max(id) + 1, one after the
                # other, so the ids sorted are the rows in order (it returns them in any
                # order; asking it for the order would cost one statement per row).
                stmt = insert(sql_table).values(list(batch)).returning(sql_table.c.id)
                ids.extend(sorted(int(i) for i in self.conn.execute(stmt).scalars()))
        return ids

    def _upsert(
        self,
        table: TableSpec,
        sql_table: Table,
        rows: list[dict[str, Any]],
        fields: tuple[str, ...],
    ) -> list[int]:
        make = postgresql.insert if self.postgres else sqlite.insert
        key = sql_table.c[table.key]
        for batch in chunks(rows):
            stmt = make(sql_table)
            if fields:
                stmt = stmt.on_conflict_do_update(
                    index_elements=[key], set_={f: stmt.excluded[f] for f in fields}
                )
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=[key])
            self.conn.execute(stmt, list(batch))
        keys = [row[table.key] for row in rows]
        found = self._ids_by_key(table, sql_table, keys)
        return [found[comparable(k)] for k in keys]

    def _ids_by_key(self, table: TableSpec, sql_table: Table, keys: list[Any]) -> dict[Any, int]:
        """Ids of the rows holding these natural keys (absent keys are left out)."""
        key = sql_table.c[table.key]
        found: dict[Any, int] = {}
        for batch in chunks(keys):
            stmt = select(key, sql_table.c.id).where(key.in_(list(batch)))
            found.update((comparable(k), int(i)) for k, i in self.conn.execute(stmt))
        return found

    def _refuse_duplicates(
        self, table: TableSpec, rows: list[dict[str, Any]], paths: Sequence[Path]
    ) -> None:
        """Two rows of one write with the same key: which one should win? Neither."""
        problems: list[Problem] = []
        for field in _unique_fields(table):
            first: dict[Any, Path] = {}
            for row, path in zip(rows, paths, strict=True):
                value = row.get(field.name)
                if value is None:
                    continue
                if value in first:
                    problems.append(
                        Problem(
                            (*path, field.gql_name),
                            f"{_shown(value)} is also given at {dotted(first[value])}",
                        )
                    )
                else:
                    first[value] = path
        if problems:
            raise ConflictError(
                f"rows of one write repeat a unique value: {listed(problems)}", problems
            )

    def _refuse_taken(
        self, table: TableSpec, rows: list[dict[str, Any]], paths: Sequence[Path]
    ) -> None:
        """CONFLICT naming every unique value that an existing row already holds."""
        sql_table = self.catalog.table(table.name)
        problems: list[Problem] = []
        for field in _unique_fields(table):
            if field.name == table.audit_chain:
                continue  # assigned after this check, unique by construction
            pairs = zip(rows, paths, strict=True)
            wanted = {comparable(row.get(field.name)): path for row, path in pairs}
            wanted.pop(None, None)
            column = sql_table.c[field.name]
            for batch in chunks(list(wanted)):
                taken = self.conn.execute(select(column).where(column.in_(list(batch))))
                for (value,) in taken:
                    path = wanted.get(comparable(value))
                    problems.append(
                        Problem(
                            (*(path or ()), field.gql_name),
                            f"a {table.type_name} with {field.gql_name} {_shown(value)} "
                            "already exists",
                        )
                    )
        if problems:
            raise ConflictError(listed(problems), problems)

    # -- updates and deletes ------------------------------------------------------------

    def matching_ids(
        self, table: TableSpec, where: Filter | None, at_most: int, bound: str | None = None
    ) -> list[int]:
        """Ids of the rows `where` selects, locked for this transaction; at most `at_most`
        (`bound` says where that number came from, for the error)."""
        sql_table = self.catalog.table(table.name)
        stmt = select(sql_table.c.id)
        if where is not None:
            stmt = stmt.where(self.compiler.where(table, sql_table, where))
        locked = stmt.order_by(sql_table.c.id).limit(at_most + 1)
        if self.postgres:
            locked = locked.with_for_update(of=sql_table)
        ids = [int(i) for i in self.conn.execute(locked).scalars()]
        if len(ids) > at_most:
            count = self.conn.execute(
                select(func.count()).select_from(stmt.subquery())
            ).scalar_one()
            raise TooManyMatchesError(
                f"{count} {table.plural} match, more than {bound or f'atMost {at_most}'}; "
                "nothing was changed (narrow the filter or raise atMost)"
            )
        return ids

    def update(self, table: TableSpec, ids: list[int], changes: dict[str, Any]) -> None:
        if table.append_only:
            raise AppendOnlyError(f"{table.plural} are append-only: rows cannot be changed")
        if not ids:
            return
        self._refuse_taken_by_update(table, ids, changes)
        sql_table = self.catalog.table(table.name)
        before = self._linked_values(table, ids, changes)
        # Parents counted these rows before the change, and may count them after it.
        parents = rollups.parents_of(self.conn, self.compiler, table, self.link_rows(table, ids))
        with self._integrity(table):
            for batch in chunks(ids):
                self.conn.execute(
                    update(sql_table).where(sql_table.c.id.in_(list(batch))).values(changes)
                )
        self._protect_renamed(table, before)
        written = self.link_rows(table, ids)
        self.check_links(table, written, [("set",)] * len(written), only=set(changes))
        self._merge(parents, rollups.parents_of(self.conn, self.compiler, table, written))
        self._refresh_rollups(parents)
        rollups.refresh(self.conn, self.compiler, table, ids)

    def _refuse_taken_by_update(
        self, table: TableSpec, ids: list[int], changes: dict[str, Any]
    ) -> None:
        sql_table = self.catalog.table(table.name)
        for field in _unique_fields(table):
            value = changes.get(field.name)
            if field.name not in changes or value is None:
                continue
            path: Path = ("set", field.gql_name)
            if len(ids) > 1:
                message = f"{len(ids)} rows cannot all take the unique value {_shown(value)}"
                raise ConflictError(message, [Problem(path, message)])
            column = sql_table.c[field.name]
            other = select(sql_table.c.id).where(column == value, sql_table.c.id.not_in(ids))
            if self.conn.execute(other.limit(1)).first() is not None:
                message = f"a {table.type_name} with {field.gql_name} {_shown(value)} exists"
                raise ConflictError(message, [Problem(path, message)])

    def delete(
        self, table: TableSpec, ids: list[int], seen: set[tuple[str, int]] | None = None
    ) -> None:
        """Delete rows by id, then apply `on_delete` of every relation that points at them."""
        if table.append_only:
            raise AppendOnlyError(f"{table.plural} are append-only: rows cannot be deleted")
        seen = seen if seen is not None else set()
        ids = [i for i in ids if (table.name, i) not in seen]
        if not ids:
            return
        seen.update((table.name, i) for i in ids)
        before = self._linked_values(table, ids, None)
        parents = rollups.parents_of(self.conn, self.compiler, table, self.link_rows(table, ids))
        sql_table = self.catalog.table(table.name)
        with self._integrity(table):
            for batch in chunks(ids):
                self.conn.execute(delete(sql_table).where(sql_table.c.id.in_(list(batch))))
        self._apply_on_delete(table, before, seen)
        self._refresh_rollups(parents)

    @staticmethod
    def _merge(into: dict[str, set[int]], more: dict[str, set[int]]) -> None:
        for name, ids in more.items():
            into.setdefault(name, set()).update(ids)

    def _refresh_rollups(self, parents: dict[str, set[int]]) -> None:
        for name, ids in parents.items():
            rollups.refresh(self.conn, self.compiler, self.spec.table(name), ids)

    # -- relation rules -----------------------------------------------------------------

    def link_rows(self, table: TableSpec, ids: list[int]) -> list[dict[str, Any]]:
        """The stored values of these rows that relation rules and rollups look at: one
        statement, whatever the number of rules (None when nothing looks)."""
        fields = {
            f for rel in self.spec.rules_from(table) for f in (rel.from_field, *dict(rel.where))
        }
        fields |= set(rollups.link_fields(self.spec, table))
        if not fields or not ids:
            return []
        sql_table = self.catalog.table(table.name)
        rows: list[dict[str, Any]] = []
        for batch in chunks(ids):
            stmt = select(sql_table.c.id, *(sql_table.c[f] for f in sorted(fields)))
            stmt = stmt.where(sql_table.c.id.in_(list(batch)))
            rows.extend(dict(row) for row in self.conn.execute(stmt).mappings())
        return rows

    def check_links(
        self,
        table: TableSpec,
        rows: Sequence[Mapping[str, Any]],
        paths: Sequence[Path],
        only: set[str] | None = None,
    ) -> None:
        """on_missing: reject, and the locks that keep protected links valid until commit.

        `rows` hold the written rows' link fields (link_rows(), or rows in hand); `paths`
        names each, in the same order, for errors.
        """
        for rel in self.spec.rules_from(table):
            if only is None or rel.from_field in only:
                self._check_link(rel, rows, paths)

    def _check_link(
        self, rel: RelationSpec, rows: Sequence[Mapping[str, Any]], paths: Sequence[Path]
    ) -> None:
        end = forward_end(self.spec.tables, rel)
        link = link_of(self.spec, end)
        if rel.where:
            kept = [i for i, r in enumerate(rows) if all(r.get(f) == v for f, v in rel.where)]
            rows, paths = [rows[i] for i in kept], [paths[i] for i in kept]
        wanted = distinct_link_values(rows, link.local)
        if not wanted:
            return
        # Sorted: the same values lock their rows in the same order in every writer.
        found = self._existing(rel, end, sorted(wanted, key=repr))
        missing = wanted - found
        if missing and rel.on_missing == "reject":
            target = self.spec.table(rel.to_table)
            remote = target.field(rel.to_field)
            # The first row naming each missing value, in the order of the rows.
            first: dict[Any, Path] = {}
            for row, path in zip(rows, paths, strict=True):
                for value in link_values(row, link.local):
                    if comparable(value) in missing:
                        first.setdefault(comparable(value), path)
            problems = [
                Problem(
                    (*path, link.local.gql_name),
                    f"no {target.type_name} has {remote.gql_name} {_shown(v)} "
                    f"(relation {rel.name}, on_missing: reject)",
                )
                for v, path in first.items()
            ]
            raise MissingTargetError(listed(problems), problems)

    def _existing(self, rel: RelationSpec, end: RelationEnd, values: list[Any]) -> set[Any]:
        """Which link values some target row holds; those rows stay locked until commit."""
        link = link_of(self.spec, end)
        target = self.catalog.table(rel.to_table)
        column = link.operand(self.dialect, target.c[rel.to_field], link.remote)
        found: set[Any] = set()
        for batch in chunks(values):
            condition = link.holds_any(
                self.dialect, target.c[rel.to_field], link.remote, list(batch)
            )
            stmt = select(column).where(condition)
            if self.postgres:
                # KEY SHARE on a unique target: it blocks deleting the row or changing its key
                # until commit, yet not rollups updating its counters (graph/sql/rollups.py).
                unique = self.spec.table(rel.to_table).is_unique(rel.to_field)
                stmt = stmt.with_for_update(read=True, key_share=unique, of=target)
            found.update(comparable(v) for v in self.conn.execute(stmt).scalars())
        return found

    def _linked_values(
        self, table: TableSpec, ids: list[int], changes: dict[str, Any] | None
    ) -> dict[RelationSpec, set[Any]]:
        """Values of this table's fields that protected relations link to, before the write.

        For an update, only fields it changes (`changes`); for a delete, all of them.
        """
        protected = [
            rel for rel in self.spec.rules_to(table) if changes is None or rel.to_field in changes
        ]
        result: dict[RelationSpec, set[Any]] = {}
        sql_table = self.catalog.table(table.name)
        for rel in protected:
            values: set[Any] = set()
            for batch in chunks(ids):
                stmt = select(sql_table.c[rel.to_field]).where(sql_table.c.id.in_(list(batch)))
                values.update(comparable(v) for v in self.conn.execute(stmt).scalars())
            values.discard(None)
            result[rel] = values
        return result

    def _gone(self, rel: RelationSpec, values: set[Any]) -> list[Any]:
        """Values no remaining row of the target table holds any more."""
        if not values:
            return []
        end = forward_end(self.spec.tables, rel)
        remaining = self._existing(rel, end, sorted(values, key=repr))
        return sorted((v for v in values if v not in remaining), key=repr)

    def _referencing_ids(self, rel: RelationSpec, gone: list[Any]) -> tuple[list[int], list[Any]]:
        """Ids of `from` rows whose link names one of the `gone` values, and which of the
        `gone` values they name."""
        end = forward_end(self.spec.tables, rel)
        link = link_of(self.spec, end)
        source = self.catalog.table(rel.from_table)
        ids: list[int] = []
        named: set[Any] = set()
        wanted = set(gone)
        for batch in chunks(gone):
            column = source.c[rel.from_field]
            condition = link.holds_any(self.dialect, column, link.local, list(batch))
            fixed = [source.c[f] == v for f, v in rel.where]
            stmt = select(source.c.id, source.c[rel.from_field]).where(condition, *fixed)
            if self.postgres:
                stmt = stmt.with_for_update(of=source)
            for row_id, value in self.conn.execute(stmt.order_by(source.c.id)):
                ids.append(int(row_id))
                items = value if link.local.is_list else [value]
                named.update(v for v in map(comparable, items or []) if v in wanted)
        return sorted(set(ids)), sorted(named, key=repr)

    def _apply_on_delete(
        self, table: TableSpec, before: dict[RelationSpec, set[Any]], seen: set[tuple[str, int]]
    ) -> None:
        for rel, values in before.items():
            gone = self._gone(rel, values)
            if not gone:
                continue
            linking, named = self._referencing_ids(rel, gone)
            linking = [i for i in linking if (rel.from_table, i) not in seen]
            if not linking:
                continue
            source = self.spec.table(rel.from_table)
            if rel.on_delete == "restrict":
                raise self._restricted(table, source, rel, named, len(linking))
            if rel.on_delete == "cascade":
                self.delete(source, linking, seen)
            else:
                self._set_null(source, rel, linking, set(gone))

    def _protect_renamed(self, table: TableSpec, before: dict[RelationSpec, set[Any]]) -> None:
        """Changing a value other rows link to would leave them dangling: refused unless
        the relation allows dangling links."""
        for rel, values in before.items():
            gone = self._gone(rel, values)
            linking, named = self._referencing_ids(rel, gone) if gone else ([], [])
            if linking:
                source = self.spec.table(rel.from_table)
                raise self._restricted(table, source, rel, named, len(linking))

    def _restricted(
        self, table: TableSpec, source: TableSpec, rel: RelationSpec, gone: list[Any], count: int
    ) -> RestrictedError:
        field = table.field(rel.to_field)
        values = ", ".join(_shown(v) for v in gone[:5]) + (", ..." if len(gone) > 5 else "")
        rows = (
            f"{count} {source.plural} still link"
            if count != 1
            else f"1 {source.type_name} still links"
        )
        return RestrictedError(
            f"{rows} to "
            f"{table.type_name} {field.gql_name} {values} through relation {rel.name} "
            f"(on_delete: {rel.on_delete}); nothing was changed"
        )

    def _set_null(
        self, source: TableSpec, rel: RelationSpec, ids: list[int], gone: set[Any]
    ) -> None:
        sql_table = self.catalog.table(source.name)
        field = source.field(rel.from_field)
        if not field.is_list:
            for batch in chunks(ids):
                self.conn.execute(
                    update(sql_table)
                    .where(sql_table.c.id.in_(list(batch)))
                    .values({rel.from_field: None})
                )
            return
        # A list keeps its other elements: only the dangling ones leave it.
        column = sql_table.c[rel.from_field]
        lists: dict[int, list[Any]] = {}
        for batch in chunks(ids):
            stmt = select(sql_table.c.id, column).where(sql_table.c.id.in_(list(batch)))
            lists.update((int(i), list(v or [])) for i, v in self.conn.execute(stmt))
        for row_id, values in lists.items():
            kept = [v for v in values if comparable(v) not in gone]
            self.conn.execute(
                update(sql_table).where(sql_table.c.id == row_id).values({rel.from_field: kept})
            )

    # -- the database's own constraints, as the last line -------------------------------

    def _integrity(self, table: TableSpec) -> AbstractContextManager[None]:
        return _integrity_guard(table)


@contextmanager
def _integrity_guard(table: TableSpec) -> Iterator[None]:
    """Turns a constraint the database enforced into the error a client can act on."""
    try:
        yield
    except IntegrityError as exc:
        raise translate_integrity_error(table, exc) from exc


def translate_integrity_error(table: TableSpec, exc: IntegrityError) -> Exception:
    original = exc.orig
    sqlstate = getattr(original, "sqlstate", None)
    text = str(original)
    if sqlstate == "23505" or "UNIQUE constraint failed" in text:
        diag = getattr(original, "diag", None)
        detail = getattr(diag, "message_detail", None) or text.splitlines()[0]
        return ConflictError(f"a {table.type_name} with this value already exists ({detail})")
    if sqlstate == "23001" or "append-only" in text:
        return AppendOnlyError(f"{table.plural} are append-only: rows cannot be changed")
    return exc


def _rows_per_statement(columns: int) -> int:
    """Rows per multi-row INSERT: SQLite allows 32,766 bound values in one statement."""
    return max(1, min(CHUNK, 30_000 // max(columns, 1)))


def _unique_fields(table: TableSpec) -> list[FieldSpec]:
    return [f for f in table.declared_fields if table.is_unique(f.name)]
