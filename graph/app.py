"""The Starlette application: /graphql (GraphiQL in a browser), /healthz and /readyz."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graph.drift import find_drift
from graph.gql.build import build_schema
from graph.gql.context import GraphContext
from graph.http import observe
from graph.http.admission import BodySizeLimit, HeaderSizeLimit, InFlightLimit
from graph.http.endpoint import GraphQLEndpoint, json_response
from graph.http.observe import RequestLog
from graph.http.protocol import BAD_REQUEST, JSON, METHOD_NOT_ALLOWED, error_body
from graph.settings import Settings
from graph.spec import load_spec
from graph.sql.engine import build_engine
from graph.sql.tables import build_catalog

log = logging.getLogger("graph.app")
READY_TIMEOUT_S = 3.0


def build_context(settings: Settings) -> GraphContext:
    """Everything the server needs, built once; spec errors stop the start here."""
    spec = load_spec(settings.schemas_dir, settings.relations_file)
    catalog = build_catalog(spec)
    engine = build_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        statement_timeout_s=settings.statement_timeout_s,
        pool_timeout_s=settings.pool_timeout_s,
    )
    return GraphContext(spec, catalog, engine, settings)


def create_app(settings: Settings | None = None, graph: GraphContext | None = None) -> Starlette:
    """The ASGI app; tests pass a ready GraphContext, the CLI passes settings."""
    graph = graph or build_context(settings or Settings.from_env())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Ready when the database answers within 3 s AND has every table and column of the
        spec: a database behind the spec must not take traffic it would fail."""
        try:
            with anyio.fail_after(READY_TIMEOUT_S):
                drift = await anyio.to_thread.run_sync(
                    find_drift, graph.engine, graph.catalog, abandon_on_cancel=True
                )
        except Exception as exc:  # any failure means: do not send traffic here
            log.warning("readiness check failed: %s", type(exc).__name__)
            return JSONResponse(
                {"status": "unavailable", "code": "SERVICE_UNAVAILABLE"}, status_code=503
            )
        if not drift.matches:
            return JSONResponse(
                {
                    "status": "unavailable",
                    "code": "SCHEMA_MISMATCH",
                    "drift": drift.describe(),
                    "fix": drift.fix_hint,
                },
                status_code=503,
            )
        return JSONResponse({"status": "ready", "database": graph.dialect})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await _report_drift(graph)
        reader = graph.async_reader if graph.settings.statement_cache_size > 0 else None
        if reader is not None:
            await reader.open()
        try:
            yield
        finally:
            if reader is not None:
                await reader.close()
            graph.engine.dispose()

    settings = graph.settings
    observe.count_statements(graph.engine)
    if graph.async_reader is not None:
        graph.async_reader.on_statement = observe.statement_ran
    endpoint = GraphQLEndpoint(graph, build_schema(graph.spec, settings))
    # Outermost first: the id and log line for every answer, refusals included; CORS headers
    # on refusals too (a browser reads none without them).
    middleware = [
        Middleware(RequestLog),
        Middleware(HeaderSizeLimit, max_bytes=settings.max_header_bytes),
    ]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=[
                    "Content-Type",
                    "Accept",
                    "Authorization",
                    "X-Request-Id",
                    "GraphQL-Require-Preflight",
                ],
                expose_headers=["X-Request-Id"],
                allow_credentials=settings.cors_credentials,
                max_age=settings.cors_max_age_s,
            )
        )
    middleware.append(
        Middleware(
            InFlightLimit,
            max_in_flight=settings.max_in_flight,
            max_queued=settings.max_queued,
            queue_wait_s=settings.queue_wait_s,
            adaptive=settings.adaptive_in_flight,
        )
    )
    middleware.append(Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes))
    return Starlette(
        routes=[
            Route("/graphql", endpoint, methods=None),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers={
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )


async def _report_drift(graph: GraphContext) -> None:
    """At start-up, the differences between the database and the spec, in the log. The
    process starts anyway: /readyz answers 503 until they are fixed, so an orchestrator holds
    traffic back without a crash loop during a roll-out."""
    try:
        with anyio.fail_after(READY_TIMEOUT_S):
            drift = await anyio.to_thread.run_sync(
                find_drift, graph.engine, graph.catalog, abandon_on_cancel=True
            )
    except Exception as exc:
        log.warning("could not compare the database with the spec: %s", type(exc).__name__)
        return
    for line in drift.describe():
        log.error("the database does not match the spec: %s", line)
    if not drift.matches:
        log.error("%s", drift.fix_hint)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (an unknown path, a method a route does not take) as GraphQL
    error bodies, not plain text."""
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: METHOD_NOT_ALLOWED}.get(exc.status_code, BAD_REQUEST)
    message = {404: f"no such path: {request.url.path}; the API is at /graphql"}.get(
        exc.status_code, str(exc.detail)
    )
    body = error_body(code, message, observe.request_id(request.scope))
    return json_response(body, exc.status_code, JSON, exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A bug outside GraphQL's own error handling: logged with its trace and the request id;
    the client gets the id, never the trace."""
    request_id = observe.request_id(request.scope)
    log.error("internal error", exc_info=exc, extra={"fields": {"request_id": request_id}})
    body = error_body("INTERNAL_SERVER_ERROR", "Internal server error", request_id)
    return json_response(body, 500, JSON)


def create_app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` and for each worker process of `grace-graph serve`."""
    observe.configure_logging()
    app = create_app(Settings.from_env())
    # The schema, the catalog and the imported libraries live as long as the process: moved
    # out of the collector's reach, a full collection no longer walks them. Measured under
    # load (bench/shedding.py): full collections had paused the event loop 115-150 ms every
    # few seconds, the whole p99 of the admitted requests.
    gc.freeze()
    return app
