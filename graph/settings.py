"""Settings from environment variables, read in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///./grace.db"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None


def _env_bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    schemas_dir: Path = field(default_factory=lambda: Path("schemas"))
    relations_file: Path = field(default_factory=lambda: Path("relations.yaml"))
    # Debug mode lets SQL text and stack traces reach clients; never in production.
    debug: bool = False
    default_page_size: int = 100
    max_page_size: int = 1000
    max_query_depth: int = 12
    max_aliases: int = 30
    max_query_tokens: int = 5000
    db_pool_size: int = 10
    # Requests with a larger body are refused (413) before anything parses them.
    max_body_bytes: int = 1_000_000
    # Rows one write may insert, update or delete (GraphQL and the Python registry alike;
    # `grace-graph load` streams files of any size in batches below it).
    max_write_rows: int = 10_000
    # Groups one aggregate field may return; more is LIMIT_EXCEEDED, never a silent cut.
    max_groups: int = 10_000

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("GRAPH_DATABASE_URL") or DEFAULT_DATABASE_URL,
            schemas_dir=Path(os.environ.get("GRAPH_SCHEMAS_DIR") or "schemas"),
            relations_file=Path(os.environ.get("GRAPH_RELATIONS_FILE") or "relations.yaml"),
            debug=_env_bool("GRAPH_DEBUG"),
            default_page_size=_env_int("GRAPH_DEFAULT_PAGE_SIZE", 100),
            max_page_size=_env_int("GRAPH_MAX_PAGE_SIZE", 1000),
            max_query_depth=_env_int("GRAPH_MAX_QUERY_DEPTH", 12),
            max_aliases=_env_int("GRAPH_MAX_ALIASES", 30),
            max_query_tokens=_env_int("GRAPH_MAX_QUERY_TOKENS", 5000),
            db_pool_size=_env_int("GRAPH_DB_POOL_SIZE", 10),
            max_body_bytes=_env_int("GRAPH_MAX_BODY_BYTES", 1_000_000),
            max_write_rows=_env_int("GRAPH_MAX_WRITE_ROWS", 10_000),
            max_groups=_env_int("GRAPH_MAX_GROUPS", 10_000),
        )

    def with_database(self, url: str | None) -> Settings:
        return replace(self, database_url=url) if url else self
