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


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 86_400:
        raise SystemExit(f"{name} must be a number of seconds above 0, not {raw!r}")
    return value


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in ("1", "true", "yes", "on")


def _env_list(name: str) -> tuple[str, ...]:
    """A comma-separated list (`GRAPH_CORS_ORIGINS=https://a.example,https://b.example`)."""
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


def default_sqlite_read_threads() -> int:
    """The cores of this process but one (at least 1): SQLite reads in the server's process,
    whose event loop (HTTP, GraphQL) keeps one core busy under load. On 2 cores, bench Q1 at
    16 clients: 737 req/s with one read at a time, 524 with two (docs/performance.md#sqlite)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) - 1)


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
    # Reads of a SQLite file running at once in one process (graph/gql/context.py
    # GraphContext.read_threads); the others wait their turn, first come first served.
    sqlite_read_threads: int = field(default_factory=lambda: default_sqlite_read_threads())
    # Requests with a larger body are refused (413) before anything parses them.
    max_body_bytes: int = 1_000_000
    # Rows one write may insert, update or delete (GraphQL and the Python registry alike;
    # `grace-graph load` streams files of any size in batches below it).
    max_write_rows: int = 10_000
    # Groups one aggregate field may return; more is LIMIT_EXCEEDED, never a silent cut.
    max_groups: int = 10_000
    # GraphiQL for a browser that opens /graphql, introspection (`__schema`, `__type`), and
    # "Did you mean" suggestions in errors; the production profile turns all three off.
    ide: bool = True
    introspection: bool = True
    suggestions: bool = True
    # The most objects (rows, groups, edges) a query's answer may hold, estimated before it
    # runs from the page sizes along nested lists (graph/gql/cost.py).
    max_nodes: int = 50_000
    # The largest `offset`: deeper pages cost a scan of every row skipped; use a cursor.
    max_offset: int = 100_000
    # Directives in one query (2,000 unknown ones made 100 errors each time).
    max_directives: int = 50
    # Lists and objects nested in `variables` (or `extensions`), and braces, brackets and
    # parentheses nested in a query, beyond which a request is refused before it is parsed.
    max_json_depth: int = 64
    max_document_nesting: int = 64
    # Seconds a client may take to send a request body (then 408).
    body_timeout_s: float = 10.0
    # Seconds one SQL statement may run, or wait for a lock (then TIMEOUT); seconds a request
    # waits for a pooled PostgreSQL connection (then SERVICE_UNAVAILABLE with Retry-After).
    statement_timeout_s: float = 5.0
    pool_timeout_s: float = 3.0
    # Requests one server process runs at once, and how many more may wait (each at most
    # queue_wait_s) for one to finish; any other is refused at once (503). With
    # adaptive_in_flight the bound follows the process's CPU between 1 and max_in_flight
    # (graph/http/admission.py says how); without it, it is max_in_flight.
    max_in_flight: int = 8
    adaptive_in_flight: bool = True
    max_queued: int = 64
    queue_wait_s: float = 1.0
    # Total size of a request's headers (then 431); seconds a client may take to send a
    # request's line and headers (then 408), and connections one process holds (then 503):
    # both enforced where the bytes arrive (graph/http/connection.py).
    max_header_bytes: int = 16_384
    header_timeout_s: float = 10.0
    max_connections: int = 1000
    # Origins whose pages may call the API from a browser (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    cors_credentials: bool = False
    cors_max_age_s: int = 600
    # Root fields answered by one SQL statement that builds their JSON (graph/gql/compiled.py)
    # where the compiler handles their selection; off: every field takes the reference path.
    compiled: bool = True
    # Compiled statements kept for reuse, per process (graph/sql/statement_cache.py); 0: none.
    statement_cache_size: int = 512

    def __post_init__(self) -> None:
        if self.sqlite_read_threads < 1:
            raise SystemExit("GRAPH_SQLITE_READ_THREADS must be 1 or more")
        if self.statement_cache_size < 0:
            raise SystemExit("GRAPH_STATEMENT_CACHE_SIZE must be 0 or more")
        if "*" in self.cors_origins and self.cors_credentials:
            # Any origin with credentials would let every site read answers as the visitor.
            raise SystemExit("GRAPH_CORS_ORIGINS=* cannot be used with GRAPH_CORS_CREDENTIALS")

    @classmethod
    def from_env(cls) -> Settings:
        """The settings of the environment. `GRAPH_PROFILE=production` turns GraphiQL,
        introspection and suggestions off unless their own variable turns them on, and
        refuses GRAPH_DEBUG."""
        profile = os.environ.get("GRAPH_PROFILE", "").strip().lower() or "development"
        if profile not in ("development", "production"):
            raise SystemExit(f"GRAPH_PROFILE must be development or production, not {profile!r}")
        open_by_default = profile == "development"
        if not open_by_default and _env_bool("GRAPH_DEBUG"):
            raise SystemExit("GRAPH_DEBUG cannot be on with GRAPH_PROFILE=production")
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
            sqlite_read_threads=_env_int(
                "GRAPH_SQLITE_READ_THREADS", default_sqlite_read_threads()
            ),
            max_body_bytes=_env_int("GRAPH_MAX_BODY_BYTES", 1_000_000),
            max_write_rows=_env_int("GRAPH_MAX_WRITE_ROWS", 10_000),
            max_groups=_env_int("GRAPH_MAX_GROUPS", 10_000),
            ide=_env_bool("GRAPH_IDE", default=open_by_default),
            introspection=_env_bool("GRAPH_INTROSPECTION", default=open_by_default),
            suggestions=_env_bool("GRAPH_SUGGESTIONS", default=open_by_default),
            max_nodes=_env_int("GRAPH_MAX_NODES", 50_000),
            max_offset=_env_int("GRAPH_MAX_OFFSET", 100_000),
            max_directives=_env_int("GRAPH_MAX_DIRECTIVES", 50),
            max_json_depth=_env_int("GRAPH_MAX_JSON_DEPTH", 64),
            max_document_nesting=_env_int("GRAPH_MAX_DOCUMENT_NESTING", 64),
            body_timeout_s=_env_float("GRAPH_BODY_TIMEOUT_S", 10.0),
            statement_timeout_s=_env_float("GRAPH_STATEMENT_TIMEOUT_S", 5.0),
            pool_timeout_s=_env_float("GRAPH_POOL_TIMEOUT_S", 3.0),
            max_in_flight=_env_int("GRAPH_MAX_IN_FLIGHT", 8),
            adaptive_in_flight=_env_bool("GRAPH_ADAPTIVE_IN_FLIGHT", default=True),
            compiled=_env_bool("GRAPH_COMPILED", default=True),
            statement_cache_size=_env_int("GRAPH_STATEMENT_CACHE_SIZE", 512),
            max_queued=_env_int("GRAPH_MAX_QUEUED", 64),
            queue_wait_s=_env_float("GRAPH_QUEUE_WAIT_S", 1.0),
            max_header_bytes=_env_int("GRAPH_MAX_HEADER_BYTES", 16_384),
            header_timeout_s=_env_float("GRAPH_HEADER_TIMEOUT_S", 10.0),
            max_connections=_env_int("GRAPH_MAX_CONNECTIONS", 1000),
            cors_origins=_env_list("GRAPH_CORS_ORIGINS"),
            cors_credentials=_env_bool("GRAPH_CORS_CREDENTIALS"),
            cors_max_age_s=_env_int("GRAPH_CORS_MAX_AGE_S", 600),
        )

    def with_database(self, url: str | None) -> Settings:
        return replace(self, database_url=url) if url else self
