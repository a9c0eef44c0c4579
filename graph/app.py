"""The Starlette application: /graphql (GraphiQL in a browser), /healthz and /readyz."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import orjson
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from graph.gql.build import build_schema
from graph.gql.context import GraphContext, RequestContext
from graph.gql.errors import format_error
from graph.limits import BodySizeLimit
from graph.settings import Settings
from graph.spec import load_spec
from graph.sql.engine import build_engine
from graph.sql.tables import build_catalog

log = logging.getLogger("graph.app")
READY_TIMEOUT_S = 3.0


class GraphQLEndpoint(GraphQL[RequestContext, None]):
    """strawberry's ASGI view with our context, error codes and orjson encoding."""

    def __init__(self, graph: GraphContext) -> None:
        super().__init__(
            build_schema(graph.spec, graph.settings),
            graphql_ide="graphiql",
            allow_queries_via_get=True,
        )
        self.graph = graph

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        return RequestContext(self.graph, request)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            debug = self.graph.settings.debug
            data["errors"] = [format_error(e, debug=debug) for e in result.errors]
        return data

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def build_context(settings: Settings) -> GraphContext:
    """Everything the server needs, built once; spec errors stop the start here."""
    spec = load_spec(settings.schemas_dir, settings.relations_file)
    catalog = build_catalog(spec)
    engine = build_engine(settings.database_url, pool_size=settings.db_pool_size)
    return GraphContext(spec, catalog, engine, settings)


def create_app(settings: Settings | None = None, graph: GraphContext | None = None) -> Starlette:
    """The ASGI app; tests pass a ready GraphContext, the CLI passes settings."""
    graph = graph or build_context(settings or Settings.from_env())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        def ping() -> None:
            with graph.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            with anyio.fail_after(READY_TIMEOUT_S):
                await anyio.to_thread.run_sync(ping, abandon_on_cancel=True)
        except Exception as exc:  # any failure means: do not send traffic here
            log.warning("readiness check failed: %s", type(exc).__name__)
            return JSONResponse(
                {"status": "unavailable", "code": "SERVICE_UNAVAILABLE"}, status_code=503
            )
        return JSONResponse({"status": "ready", "database": graph.dialect})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        graph.engine.dispose()

    endpoint = GraphQLEndpoint(graph)
    return Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
        middleware=[Middleware(BodySizeLimit, max_bytes=graph.settings.max_body_bytes)],
    )


def create_app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` and for each worker process of `grace-graph serve`."""
    return create_app(Settings.from_env())
