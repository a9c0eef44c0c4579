"""Creates every table, index, constraint and trigger of the catalog; safe to run again."""

from __future__ import annotations

from sqlalchemy import Engine, text

from graph.sql.tables import PG_FUNCTIONS, Catalog


def create_schema(engine: Engine, catalog: Catalog) -> list[str]:
    """Create what is missing and return the names of the tables created by this call."""
    with engine.begin() as conn:
        existing = set(engine.dialect.get_table_names(conn))
        if engine.dialect.name == "postgresql":
            # Serialize concurrent `init` runs (several server instances starting together).
            conn.execute(text("SELECT pg_advisory_xact_lock(7262311)"))
            for statement in PG_FUNCTIONS:
                conn.execute(text(statement))
        catalog.metadata.create_all(conn, checkfirst=True)
    return [t.name for t in catalog.metadata.sorted_tables if t.name not in existing]
