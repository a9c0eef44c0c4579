"""Reads whole tables straight from the database, to check API answers against."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from graph.sql.tables import Catalog
from tests.databases import TestDatabase


def all_rows(db: TestDatabase, catalog: Catalog, table: str) -> list[dict[str, Any]]:
    sql_table = catalog.table(table)
    with db.engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(select(sql_table).order_by(sql_table.c.id)).mappings()
        ]
