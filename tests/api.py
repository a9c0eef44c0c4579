"""Talks to the real app through httpx's ASGI transport, counting the SQL it runs."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx

from graph.app import create_app
from graph.gql.context import GraphContext
from graph.settings import Settings
from graph.spec.model import Spec
from graph.sql.async_reader import AsyncReader
from graph.sql.engine import StatementCounter
from graph.sql.tables import Catalog
from tests.databases import TestDatabase


class Api:
    def __init__(
        self,
        db: TestDatabase,
        spec: Spec,
        catalog: Catalog,
        settings: Settings | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.db = db
        self.graph = GraphContext(spec, catalog, db.engine, settings or Settings())
        if clock is not None:
            self.graph.clock = clock
        self.app = create_app(graph=self.graph)
        self.counter = StatementCounter()

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        # Python's json writes NaN as a bare NaN, as a careless client would; the server decides.
        body = json.dumps({"query": query, "variables": variables or {}})
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/graphql", content=body, headers={"Content-Type": "application/json"}
            )
        answer: dict[str, Any] = response.json()
        # A request the transport refuses (bare NaN is not JSON: 400) is an error body too.
        assert response.status_code == 200 or (
            400 <= response.status_code < 500 and "data" not in answer and answer["errors"]
        ), response.text
        return answer

    async def raw_post(self, body: bytes) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(
                "/graphql", content=body, headers={"Content-Type": "application/json"}
            )

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    async def counted(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], int]:
        """The data and the number of SQL statements the request ran."""
        with self.counter.watching(self.db.engine) as counter:
            data = await self.data(query, variables)
        return data, counter.count

    async def error(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The first error of a request that must fail."""
        body = await self.post(query, variables)
        assert body.get("errors"), body
        first: dict[str, Any] = body["errors"][0]
        return first

    async def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers=headers)


def loop_tries(reader: AsyncReader) -> list[str]:
    """The texts of the statements `reader` is asked to run on the event loop from now on,
    failed ones included (its `on_statement` hears of those that succeed only)."""
    tries: list[str] = []
    scalar, rows = reader.scalar, reader.rows

    async def counted(sql: str, parameters: Any) -> Any:
        tries.append(sql)
        return await scalar(sql, parameters)

    async def counted_rows(sql: str, parameters: Any) -> list[tuple[Any, ...]]:
        tries.append(sql)
        return await rows(sql, parameters)

    reader.scalar = counted  # type: ignore[method-assign]
    reader.rows = counted_rows  # type: ignore[method-assign]
    return tries


def apis_on_the_loop(db: TestDatabase, spec: Spec, catalog: Catalog) -> tuple[Api, Api, list[str]]:
    """The app, the same app on the reference path (GRAPH_COMPILED=0) to compare with, and
    the texts the app's event-loop reader is asked to run from now on (`loop_tries`)."""
    api = Api(db, spec, catalog)
    reference = Api(db, spec, catalog, Settings(compiled=False))
    reader = api.graph.async_reader
    assert reader is not None
    return api, reference, loop_tries(reader)
