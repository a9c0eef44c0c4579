"""The `grace-graph` command: check, init, seed, load, sdl, serve and audit verify."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from graph.errors import GraphError, SpecErrors
from graph.settings import Settings
from graph.spec import Spec, load_spec
from graph.sql.engine import build_engine, redact

app = typer.Typer(
    help="Grace Memory Graph: tables and a GraphQL API generated from schemas/ and relations.yaml.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database", "-d", help="Database URL (env GRAPH_DATABASE_URL).", show_default=False
    ),
]
SchemasOpt = Annotated[
    Path | None, typer.Option("--schemas", help="Folder of table specs (env GRAPH_SCHEMAS_DIR).")
]
RelationsOpt = Annotated[
    Path | None, typer.Option("--relations", help="Relations file (env GRAPH_RELATIONS_FILE).")
]


def _settings(database: str | None, schemas: Path | None, relations: Path | None) -> Settings:
    settings = Settings.from_env().with_database(database)
    if schemas is not None:
        settings = replace(settings, schemas_dir=schemas)
    if relations is not None:
        settings = replace(settings, relations_file=relations)
    return settings


def _load(settings: Settings) -> Spec:
    """Load the spec or print every problem and exit 1."""
    try:
        return load_spec(settings.schemas_dir, settings.relations_file)
    except SpecErrors as exc:
        # Plain lines, never wrapped: editors and CI annotate file:line:column.
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        count = len(exc.issues)
        typer.echo(f"{count} error{'s' if count != 1 else ''}; nothing was changed", err=True)
        raise typer.Exit(1) from None


def _database_failure(settings: Settings, exc: Exception) -> typer.Exit:
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc)
    typer.echo(
        f"database {redact(settings.database_url)} is unavailable: {reason} [SERVICE_UNAVAILABLE]",
        err=True,
    )
    return typer.Exit(2)


@contextmanager
def _database(settings: Settings) -> Iterator[Engine]:
    """An engine for one command; failures become one line and exit code 2, never a trace."""
    engine = None
    try:
        engine = build_engine(settings.database_url)
        yield engine
    except (OperationalError, DBAPIError) as exc:
        raise _database_failure(settings, exc) from None
    except GraphError as exc:  # a bad URL, or tables that already hold rows
        typer.echo(f"{exc.message} [{exc.code}]", err=True)
        raise typer.Exit(2) from None
    finally:
        if engine is not None:
            engine.dispose()


@app.command()
def check(
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            "-d",
            help="Also compare this database with the spec: missing tables and columns.",
            show_default=False,
        ),
    ] = None,
    schemas: SchemasOpt = None,
    relations: RelationsOpt = None,
) -> None:
    """Validate schemas/ and relations.yaml (every problem as file:line:column); with
    --database, list every table or column the database lacks and exit 1 if any."""
    settings = _settings(database, schemas, relations)
    spec = _load(settings)
    fields = sum(len(t.declared_fields) for t in spec.tables.values())
    typer.echo(f"ok: {len(spec.tables)} tables, {fields} fields, {len(spec.relations)} relations")
    # Only when asked: without --database, check stays a spec linter that needs no database
    # (CI runs it), even where GRAPH_DATABASE_URL is set.
    if database is not None:
        _check_database(settings, spec)


def _check_database(settings: Settings, spec: Spec) -> None:
    from graph.drift import find_drift
    from graph.sql.tables import build_catalog

    _refuse_missing_sqlite_file(settings)  # connecting would create it
    catalog = build_catalog(spec)
    with _database(settings) as engine:
        drift = find_drift(engine, catalog)
    target = redact(settings.database_url)
    if drift.matches:
        typer.echo(f"the database matches the spec: {drift.spec_tables} tables in {target}")
        return
    lines = drift.describe()
    for line in lines:
        typer.echo(f"{line} [SCHEMA_MISMATCH]", err=True)
    count = len(lines)
    typer.echo(
        f"{count} difference{'s' if count != 1 else ''} between the spec and {target}; "
        f"{drift.fix_hint}",
        err=True,
    )
    raise typer.Exit(1)


def _missing_sqlite_file(url: str) -> Path | None:
    """The file a sqlite:/// URL names when it does not exist; None for every other URL
    (PostgreSQL, :memory:, an existing file, a `uri=true` URL whose mode decides itself)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # build_engine reports the bad URL
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri") is not None:
        return None
    if parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def _refuse_missing_sqlite_file(settings: Settings) -> None:
    """SQLite creates a missing file on connect: a mistyped path would be served as an empty
    database. Only init and seed may create it."""
    missing = _missing_sqlite_file(settings.database_url)
    if missing is not None:
        typer.echo(
            f"database file {missing} does not exist; create it with `grace-graph init` (or "
            "`grace-graph seed`), or correct --database (GRAPH_DATABASE_URL) [MISSING_DATABASE]",
            err=True,
        )
        raise typer.Exit(2)


@app.command()
def init(
    database: DatabaseOpt = None,
    schemas: SchemasOpt = None,
    relations: RelationsOpt = None,
) -> None:
    """Create every table, index, constraint and trigger that is missing (safe to repeat)."""
    from graph.sql.ddl import create_schema
    from graph.sql.tables import build_catalog

    settings = _settings(database, schemas, relations)
    spec = _load(settings)
    catalog = build_catalog(spec)
    with _database(settings) as engine:
        created = create_schema(engine, catalog)
    target = redact(settings.database_url)
    if created:
        typer.echo(f"created {len(created)} tables in {target}")
    else:
        typer.echo(f"all {len(catalog.tables)} tables already exist in {target}")


@app.command()
def seed(
    scale: Annotated[
        float, typer.Option(help="1 is a small demo; 1000 gives 200,000 execution logs.")
    ] = 1,
    seed_value: Annotated[
        int, typer.Option("--seed", help="Random seed: same seed, same rows.")
    ] = 7,
    if_empty: Annotated[
        bool, typer.Option(help="Do nothing when the tables already hold rows.")
    ] = False,
    database: DatabaseOpt = None,
    schemas: SchemasOpt = None,
    relations: RelationsOpt = None,
) -> None:
    """Create the tables if needed and fill them with deterministic, cross-linked sample rows."""
    from graph.seed.load import seed_database
    from graph.sql.ddl import create_schema
    from graph.sql.tables import build_catalog

    if scale <= 0:
        typer.echo("--scale must be greater than 0 [BAD_USER_INPUT]", err=True)
        raise typer.Exit(2)
    settings = _settings(database, schemas, relations)
    spec = _load(settings)
    catalog = build_catalog(spec)
    with _database(settings) as engine:
        create_schema(engine, catalog)
        report = seed_database(
            engine,
            catalog,
            scale=scale,
            seed=seed_value,
            if_empty=if_empty,
            progress=sys.stderr.isatty(),
        )
    typer.echo(report)


@app.command()
def load(
    table: Annotated[
        str, typer.Argument(help="Schema name (execution_logs) or SQL name of the table.")
    ],
    file: Annotated[Path, typer.Argument(help="A .jsonl/.ndjson, .csv or .yaml/.yml file.")],
    file_format: Annotated[
        str | None,
        typer.Option(
            "--format", help="jsonl, csv or yaml (default: from the file name).", show_default=False
        ),
    ] = None,
    upsert: Annotated[
        bool, typer.Option(help="Update the rows whose natural key exists (the fields given).")
    ] = False,
    skip_invalid: Annotated[
        bool, typer.Option(help="Load the valid rows and list the invalid ones.")
    ] = False,
    batch_size: Annotated[int, typer.Option(help="Rows per write batch.")] = 10_000,
    no_progress: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    database: DatabaseOpt = None,
    schemas: SchemasOpt = None,
    relations: RelationsOpt = None,
) -> None:
    """Load a file of rows into one table, all or nothing (docs/load.md)."""
    from graph import ingest
    from graph.sql.tables import build_catalog

    settings = _settings(database, schemas, relations)
    spec = _load(settings)
    options = ingest.LoadOptions(
        upsert=upsert,
        skip_invalid=skip_invalid,
        batch_size=batch_size,
        progress=not no_progress and sys.stderr.isatty(),
    )

    def refuse(exc: ingest.LoadError) -> typer.Exit:
        typer.echo(exc.render(str(file)), err=True)
        return typer.Exit(2 if exc.code == "MISSING_TABLE" else 1)

    try:
        target = ingest.resolve_table(spec, table)
        source = ingest.Source(file, target, file_format)
    except ingest.LoadError as exc:
        raise refuse(exc) from None
    with source, _database(settings) as engine:
        try:
            report = ingest.load(engine, build_catalog(spec), settings, target, source, options)
        except ingest.LoadError as exc:
            raise refuse(exc) from None
    for line in report.problem_lines():
        typer.echo(line, err=True)
    if not report.ok:
        typer.echo(report.summary(), err=True)
        raise typer.Exit(1)
    typer.echo(report.summary())


@app.command()
def sdl(
    schemas: SchemasOpt = None,
    relations: RelationsOpt = None,
) -> None:
    """Print the GraphQL schema (SDL) generated from the specs."""
    from graph.gql.build import print_sdl

    settings = _settings(None, schemas, relations)
    typer.echo(print_sdl(_load(settings), settings), nl=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL: one per core).")] = 1,
    database: DatabaseOpt = None,
    schemas: SchemasOpt = None,
    relations: RelationsOpt = None,
    log_level: Annotated[
        str,
        typer.Option(
            help="Log level: uvicorn's messages and the request log (one line per request at "
            "info; warning and above turn it off)."
        ),
    ] = "info",
) -> None:
    """Serve /graphql (GraphiQL in a browser), /healthz and /readyz."""
    import os

    import uvicorn

    settings = _settings(database, schemas, relations)
    _load(settings)  # refuse to start on spec errors, before any worker starts
    _refuse_missing_sqlite_file(settings)
    # Workers are separate processes: they read their settings from the environment.
    os.environ["GRAPH_DATABASE_URL"] = settings.database_url
    os.environ["GRAPH_SCHEMAS_DIR"] = str(settings.schemas_dir.resolve())
    os.environ["GRAPH_RELATIONS_FILE"] = str(settings.relations_file.resolve())
    os.environ["GRAPH_LOG_LEVEL"] = log_level
    typer.echo(f"serving {redact(settings.database_url)} on http://{host}:{port}/graphql", err=True)
    # uvicorn finishes the requests in flight on SIGTERM, then raises the signal again, which
    # would end the process with status -15; a stop that drained cleanly is a success (0).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        "graph.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        # uvicorn's httptools protocol, with deadlines and bounds on what a connection may
        # send before the application sees a request (slow and huge heads).
        http="graph.http.connection:GuardedHttpToolsProtocol",
    )


audit_app = typer.Typer(
    help="Tamper-evident audit chains of append-only tables (docs/audit.md).",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    table: Annotated[
        str | None,
        typer.Option(
            "--table", help="Schema name of one table to check (default: every chained table)."
        ),
    ] = None,
    database: DatabaseOpt = None,
    schemas: SchemasOpt = None,
    relations: RelationsOpt = None,
) -> None:
    """Recompute every audit_chain stamp; exit 1 at a broken link, printing the first one."""
    from graph.audit import verify_chain
    from graph.naming import suggest
    from graph.sql.tables import build_catalog

    settings = _settings(database, schemas, relations)
    spec = _load(settings)
    chained = [t for t in spec.tables.values() if t.audit_chain is not None]
    if table is not None:
        if table not in spec.tables:
            typer.echo(
                f"unknown table '{table}'{suggest(table, spec.tables)} [BAD_USER_INPUT]", err=True
            )
            raise typer.Exit(2)
        if spec.table(table).audit_chain is None:
            typer.echo(f"table '{table}' has no audit_chain [BAD_USER_INPUT]", err=True)
            raise typer.Exit(2)
        chained = [spec.table(table)]
    if not chained:
        typer.echo("nothing to verify: no table has an audit_chain")
        return
    catalog = build_catalog(spec)
    intact = True
    with _database(settings) as engine, engine.connect() as conn:
        existing = set(engine.dialect.get_table_names(conn))
        for chained_table in chained:
            if chained_table.table not in existing:
                typer.echo(
                    f"table {chained_table.table} does not exist in "
                    f"{redact(settings.database_url)}; run grace-graph init [MISSING_TABLE]",
                    err=True,
                )
                raise typer.Exit(2)
            report = verify_chain(conn, catalog, chained_table)
            if report.intact:
                typer.echo(f"ok: {report.message}")
                if report.head is not None:
                    # The value to anchor outside the database (docs/audit.md).
                    typer.echo(f"  head: row id {report.head_id}, {report.head}")
            else:
                intact = False
                typer.echo(f"broken: {report.message}", err=True)
                typer.echo(
                    f"  {report.broken} of {report.rows} rows do not follow the chain", err=True
                )
    if not intact:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
