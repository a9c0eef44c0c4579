"""Shared by the write tests: an API over an empty database, direct row counts, a tiny spec.

Creating a PostgreSQL database and the 18 tables takes about a second, so each test module
creates one database per kind (`shared_database`) and every test starts by emptying its tables
(`empty_tables`); tests that need a table no one may empty (the append-only ones) or another
spec take a brand-new database (`empty_db`).

The counts read the tables with plain SQL, never through the API, so a refused write that left
something behind cannot hide behind a read that shares its bug.

The "kit" spec is written into a test's temporary folder. It has what the shipped 18 tables do
not: a `uuid` field, a list default `[]`, a cascade chain `Anchor <- Branch <- Leaf` closed into
a cycle (`Anchor.nextLeaf -> Leaf`), a relation with `on_missing: reject` and
`on_delete: restrict` (`Pin.anchorName`), and a protected relation whose `to` column is not
unique (`Pin.groupRef -> Anchor.grp`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from sqlalchemy import delete, func, select

import graph.app
from graph.gql.build import build_schema
from graph.settings import Settings
from graph.spec import Spec, load_spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog, build_catalog
from tests.api import Api
from tests.databases import TestDatabase, fresh_database

KIT_SCHEMAS = {
    "anchors": """\
table: kit_anchors
type: Anchor
description: Roots of the cascade chain.
key: name
fields:
  name:
    type: string
    max_length: 64
    description: Name of the anchor.
  grp:
    type: string
    max_length: 64
    description: Group; several anchors may share one.
  uid:
    type: uuid
    description: A UUID.
  tags:
    type: list
    of: string
    default: []
    description: Labels.
  size:
    type: bigint
    description: A 64-bit number.
  next_leaf:
    type: string
    max_length: 64
    description: name of a leaf; closes the cascade cycle.
""",
    "branches": """\
table: kit_branches
type: Branch
plural: Branches
description: Middle of the cascade chain.
key: name
fields:
  name:
    type: string
    max_length: 64
    description: Name of the branch.
  anchor_name:
    type: string
    max_length: 64
    description: name of the anchor.
""",
    "leaves": """\
table: kit_leaves
type: Leaf
plural: Leaves
description: End of the cascade chain.
key: name
fields:
  name:
    type: string
    max_length: 64
    description: Name of the leaf.
  branch_name:
    type: string
    max_length: 64
    description: name of the branch.
""",
    "pins": """\
table: kit_pins
type: Pin
description: Rows that keep anchors alive.
key: name
fields:
  name:
    type: string
    max_length: 64
    description: Name of the pin.
  anchor_name:
    type: string
    max_length: 64
    description: name of an anchor that must exist.
  group_ref:
    type: string
    max_length: 64
    description: grp of anchors.
""",
}

KIT_RELATIONS = """\
relations:
  - name: anchor
    from: branches.anchor_name
    to: anchors.name
    reverse: branches
    on_delete: cascade
  - name: branch
    from: leaves.branch_name
    to: branches.name
    reverse: leaves
    on_delete: cascade
  - name: next_leaf_row
    from: anchors.next_leaf
    to: leaves.name
    reverse: pointing_anchors
    on_delete: cascade
  - name: anchor
    from: pins.anchor_name
    to: anchors.name
    reverse: pins
    on_missing: reject
    on_delete: restrict
  - name: groups
    from: pins.group_ref
    to: anchors.grp
    reverse: group_pins
    on_delete: restrict
"""


def kit_spec(folder: Path) -> tuple[Spec, Catalog]:
    """The kit spec, written into `folder` and loaded like the shipped one."""
    schemas = folder / "kit" / "schemas"
    schemas.mkdir(parents=True)
    for name, text in KIT_SCHEMAS.items():
        (schemas / f"{name}.yaml").write_text(text, encoding="utf-8")
    relations = folder / "kit" / "relations.yaml"
    relations.write_text(KIT_RELATIONS, encoding="utf-8")
    spec = load_spec(schemas, relations)
    return spec, build_catalog(spec)


# GraphQL schemas by spec and settings: building one takes half a second, and the schema
# depends on nothing else (resolvers find the database through the request's context).
_SCHEMAS: dict[tuple[int, Settings], tuple[Spec, Any]] = {}


def _cached_schema(spec: Spec, settings: Settings) -> Any:
    key = (id(spec), settings)
    if key not in _SCHEMAS:
        # The spec is kept with its schema, so its id cannot be reused by another spec.
        _SCHEMAS[key] = (spec, build_schema(spec, settings))
    return _SCHEMAS[key][1]


def api_for(
    db: TestDatabase, spec: Spec, catalog: Catalog, settings: Settings | None = None
) -> Api:
    """An API over `db`, whose tables exist."""
    with mock.patch.object(graph.app, "build_schema", _cached_schema):
        return Api(db, spec, catalog, settings)


def serve(db: TestDatabase, spec: Spec, catalog: Catalog, settings: Settings | None = None) -> Api:
    """The tables of `spec` created on the empty `db`, and the API over them."""
    create_schema(db.engine, catalog)
    return api_for(db, spec, catalog, settings)


@contextmanager
def shared_database(backend: str, folder: Path, catalog: Catalog) -> Iterator[TestDatabase]:
    """A new database of the given kind with the tables of `catalog`, for a whole module."""
    with fresh_database(backend, folder) as db:
        create_schema(db.engine, catalog)
        yield db


def empty_tables(db: TestDatabase, spec: Spec, catalog: Catalog) -> None:
    """Delete every row of every table but the append-only ones (their triggers refuse it;
    tests that write them use a database of their own)."""
    with db.engine.begin() as conn:
        for table in spec.tables.values():
            if not table.append_only:
                conn.execute(delete(catalog.table(table.name)))


def count(api: Api, table: str) -> int:
    """Rows of one table (by schema name), counted with plain SQL."""
    sql_table = api.graph.catalog.table(table)
    with api.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sql_table)).scalar_one())


def counts(api: Api, *tables: str) -> dict[str, int]:
    return {table: count(api, table) for table in tables}


def column(api: Api, table: str, field: str, order_by: str = "id") -> list[Any]:
    """One column of a table, in `order_by` order, read with plain SQL."""
    sql_table = api.graph.catalog.table(table)
    with api.db.engine.connect() as conn:
        stmt = select(sql_table.c[field]).order_by(sql_table.c[order_by])
        return list(conn.execute(stmt).scalars())


async def refused(
    api: Api, query: str, variables: dict[str, Any] | None, code: str
) -> dict[str, Any]:
    """The one error of a request that must fail with `code`, and that returned no data."""
    body = await api.post(query, variables)
    assert body.get("data") is None or all(v is None for v in body["data"].values()), body
    errors = body.get("errors")
    assert errors and len(errors) == 1, body
    error: dict[str, Any] = errors[0]
    assert error["extensions"]["code"] == code, error
    return error


async def refused_unchanged(
    api: Api,
    query: str,
    variables: dict[str, Any] | None,
    code: str,
    tables: tuple[str, ...],
) -> dict[str, Any]:
    """As `refused`, and the row counts of `tables` are what they were before."""
    before = counts(api, *tables)
    error = await refused(api, query, variables, code)
    assert counts(api, *tables) == before
    return error


def problems(error: dict[str, Any]) -> list[tuple[str, str]]:
    """`extensions.problems` as (dotted path, message) pairs, in the order given."""
    result = []
    for problem in error["extensions"]["problems"]:
        text = ""
        for part in problem["path"]:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        result.append((text, problem["message"]))
    return result


def log(execution_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "executionId": execution_id,
        "commandType": "DEPLOY",
        "component": "billing-api",
        "status": "FAILED",
        **fields,
    }
