"""A bounded property-based fuzz of the GraphQL API with valid queries, on SQLite and PostgreSQL.

Every generated request goes through the real app (httpx's ASGI transport) over the seeded
database and must get what docs/security.md promises for anything a client sends:

- an HTTP status below 500 and no error with the code `INTERNAL_SERVER_ERROR`;
- a well-formed GraphQL body: `data` and/or `errors`, each error with a `message` and an
  `extensions.code` (and no `data` key when the status is not 200);
- no leak: no "Traceback", "sqlalchemy", "psycopg", "SELECT " or source path in the errors
  (unless the request itself holds that text: messages may quote a client's value);
- the fingerprint of every table unchanged: queries never write;
- connections walked page by page never return a row twice (docs/api.md, "Pages").

The generators aim at requests that really run SQL, so values come from the seeded rows (read
once with plain SQL, `tests/model/rows.py`): filters name strings, keys, dates, numbers, JSON
pieces and list elements the database holds, so they match rows.

1. `test_schema_driven_queries`: hypothesis-graphql (`hypothesis_graphql.queries`) draws
   documents from a pruned copy of the schema (`hg_schema`: no mutations, no recursive input
   fields, no `after`/`fill`; its generator would otherwise spend seconds per example in
   recursive `where` objects). `Repair` then walks the document with the real schema and
   redraws every argument from the data and the rules of docs/api.md: one key per `orderBy`
   item, exactly one lookup argument, grouping keys with fitting buckets, page sizes under the
   size estimate.
2. `test_traversals`, `test_connection_walks`, `test_aggregates`: a generator of our own
   (`Gen`) for what (1) does not reach: relation filters (`some`/`none`/`every`, to-one,
   measures of linked rows, `and`/`or`/`not`, nulls), `orderBy` with several keys (related
   fields, measures), nested relation lists with their own arguments, connections walked with
   `after` cursors taken from the previous real answer, `<plural>Aggregate` with `groupBy`,
   buckets, `timeZone`, `having`, `orderBy`, `fill`, `percentile`, and pages at their caps.
   Values include hostile but valid ones: Unicode that folds and sorts differently, `%`, `_`
   and `\\` in `like` patterns, numbers at their type's limits, long strings, empty lists,
   datetimes with offsets and at the edges of years 1..9999, `fill` windows at those edges.
3. `test_mutations`: inserts (rows like the stored ones under new keys, or upserts), updates
   and deletes (chosen by the same `where`) against a throwaway copy of the database, never
   the shared one: no 5xx or INTERNAL_SERVER_ERROR either, and a refused write changes
   nothing ("an error means nothing of that field was kept").

Refusals that the contract allows (LIMIT_EXCEEDED from the size estimate, BAD_USER_INPUT from
the planner, OUT_OF_RANGE...) are fine answers, but each test asserts that at least
MIN_CLEAN_RATIO of its requests ran without any error, so the fuzz really executes SQL; the
ratio is printed (`pytest -s` shows it).

Budget: derandomized (the same cases on every run; the values follow the data, whose
timestamps follow the clock), about 80 seconds for the module on both databases on a 2-core
machine (EXAMPLES). `GRAPH_FUZZ_EXAMPLES=N` (as in tests/test_differential.py) draws N fresh
random cases per test instead and shrinks a failure; `GRAPH_FUZZ_SHRINK=1` shrinks in the
bounded run too. A failure prints the whole request and the backend; `GRAPH_DEBUG=1` serves
with `Settings(debug=True)`, so the exception and its traceback come back in `extensions`
(the leak check is off then).

Defects found are kept below as regression cases (`REGRESSIONS`): strict xfail while they fail,
with the shape each one needs left out of the fuzz (`Exclusions`) so that the rest keeps
running; a fixed one stays as a plain regression test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import graphql
import httpx
import hypothesis_graphql
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
)
from graphql import language as ast
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from sqlalchemy import func, literal_column, select, union_all

from graph.app import create_app
from graph.gql.build import build_schema
from graph.gql.context import GraphContext
from graph.naming import (
    aggregate_root_name,
    connection_root_name,
    enum_member,
    mutation_root_names,
    order_input_name,
    relation_aggregate_name,
    where_input_name,
)
from graph.seed.load import seed_database
from graph.settings import Settings
from graph.spec import Spec
from graph.spec.expression import Elapsed
from graph.spec.model import FieldSpec, FieldType, TableSpec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.databases import TestDatabase, fresh_database
from tests.model.adversarial import STRINGS
from tests.model.generate import DATE_DURATIONS, DATETIME_DURATIONS, DIRECTIONS, NAME
from tests.model.rows import read_tables

# -- budget ----------------------------------------------------------------------------------------

FUZZ_EXAMPLES = int(os.environ.get("GRAPH_FUZZ_EXAMPLES", "0") or 0)
# Shrinking a failure costs minutes (a hypothesis-graphql document shrinks slowly, each step a
# request): on in fuzz mode or with GRAPH_FUZZ_SHRINK=1, off in the bounded run, whose failure
# message already holds the whole request (as in tests/test_differential.py).
SHRINK = bool(FUZZ_EXAMPLES) or os.environ.get("GRAPH_FUZZ_SHRINK", "") not in ("", "0")
# Examples per test and backend: about 80 seconds for the module on both databases (2 cores).
# hypothesis-graphql's documents cost about 0.07 s each to draw, the own ones far less.
EXAMPLES = {"schema": 90, "traversal": 160, "walk": 60, "aggregate": 140, "mutation": 80}
MIN_CLEAN_RATIO = 0.6
DEBUG = os.environ.get("GRAPH_DEBUG", "") not in ("", "0")
# What the generators aim the size estimate at (GRAPH_MAX_NODES is 50,000): nested pages are
# chosen so that their product stays below it, with room for to-one objects and groups.
NODE_BUDGET = 10_000
PAGE_SIZES = (0, 1, 2, 3, 5, 10, 20, 50, 100)
# Pages and offsets at their caps (GRAPH_MAX_PAGE_SIZE 1,000, GRAPH_MAX_OFFSET 100,000).
CAPPED_PAGE_SIZES = (999, 1000)
OFFSETS = (0, 1, 2, 5, 10, 50, 150, 99_999, 100_000)
LEAK_MARKERS = ("Traceback", "sqlalchemy", "psycopg", "SELECT ", 'File "/')

BUCKETS = ("HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR")
# IANA names both databases know: odd offsets (+05:45, +13:45), the date line, aliases, and
# zones whose daylight saving time changes at midnight.
TIME_ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "US/Pacific",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "America/Santiago",
    "Asia/Beirut",
    "Australia/Lord_Howe",
    "EST5EDT",
    "ROK",
    "Europe/Kiev",
    "Zulu",
)
# `fill` windows at the edges of the representable years (YEAR buckets over everything are
# 9,999 groups, just under GRAPH_MAX_GROUPS).
DATETIME_WINDOWS = (
    ("0001-01-01T00:00:00Z", "0001-03-01T00:00:00Z"),
    ("9999-11-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"),
    ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"),
)
DATE_WINDOWS = (
    ("0001-01-01", "0001-03-01"),
    ("9999-11-01", "9999-12-31"),
    ("0001-01-01", "9999-12-31"),
)
PERCENTILES = (0.0, 0.5, 0.95, 0.99, 1.0, 1e-9, 0.999999, 0.333, 5e-324)
# Durations at the edge of what withinLast/olderThan take: "at most ten years" (docs/api.md).
# P10Y and P120M are refused as "longer than 3660 days" (graph/sql/durations.py counts a month
# as 31 days): a BAD_USER_INPUT against the letter of the documentation, reported, kept.
LONG_DURATIONS = ("P3660D", "P10Y", "PT0S", "P120M", "PT87840H")

INT_LIMITS = (0, -1, 1, 2**31 - 1, -(2**31))
BIGINT_LIMITS: tuple[int | str, ...] = (
    0,
    2**63 - 1,
    -(2**63),
    2**53 + 1,
    "9223372036854775807",
    "-9223372036854775808",
)
FLOAT_LIMITS = (
    0.0,
    -0.0,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    5e-324,
    -1e-300,
    0.1,
    9007199254740993.0,
)
DATE_LIMITS = ("0001-01-01", "9999-12-31", "2024-02-29", "1970-01-01")
DATETIME_LIMITS = (
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T05:00:00+05:00",
    "9999-12-31T18:59:59-05:00",
    "1970-01-01T00:00:00.000001+14:00",
    "2026-03-29T02:30:00+02:00",
    "2026-10-25T02:30:00.5+01:00",
)
# Long values: one token each, far below the 1 MB body; more bytes than SQLite's default
# LIKE pattern limit (50,000) in the emoji case.
LONG_STRINGS = ("x" * 5000, "É" * 3000, "😀" * 15_000, "%_" * 400)
HOSTILE_STRINGS = (*STRINGS, *LONG_STRINGS)
# `like` patterns that are valid (no lone trailing backslash): escapes, wildcards only, a
# backslash before an ordinary character, non-ASCII around wildcards.
HOSTILE_PATTERNS = (
    "%",
    "_",
    "",
    "\\%",
    "\\_",
    "\\\\",
    "%\\\\%",
    "a\\b%",
    "%%%%",
    "___",
    "😀%",
    "É%",
    "%ß%",
    "%\\_%",
    "%" * 50,
    "_%" * 20,
    "%" + "x" * 5000 + "%",
)
HOSTILE_JSON: tuple[Any, ...] = (
    {},
    [],
    0,
    "x",
    1e300,
    2**70,
    2**64 - 1,
    -(2**63),
    True,
    {"a": {"b": {"c": [1, [2, [3]]]}}},
    {"k": "😀", "n": None},
    [1, 1.0, "1", True],
    [[[]]],
)
HOSTILE_KEYS = ("", "😀", "a.b", "%", "key with space", "ß")


def budget(kind: str) -> settings:
    return settings(
        max_examples=FUZZ_EXAMPLES or EXAMPLES[kind],
        derandomize=not FUZZ_EXAMPLES,
        database=None,
        deadline=None,
        print_blob=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if SHRINK else []),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


# -- requests and their text -----------------------------------------------------------------------


class Enum(str):
    """An enum value: written bare in a document, as a string in variables."""


@dataclass
class Sel:
    """One field of a selection: its arguments as Python values, and its own selection."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    children: list[Sel] = field(default_factory=list)
    alias: str | None = None


@dataclass(frozen=True)
class Request:
    """What is sent: hypothesis prints it whole for a failing example."""

    document: str
    variables: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return self.document + "\n" + json.dumps(self.variables, ensure_ascii=False)


def literal(value: Any) -> str:
    """A GraphQL literal. JSON-scalar values are Python values too: keys are GraphQL names."""
    if value is None:
        return "null"
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        # JSON's escapes are GraphQL's; control characters come out as \u00XX.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    assert isinstance(value, dict), value
    return "{" + ", ".join(f"{key}: {literal(item)}" for key, item in value.items()) + "}"


def plain(value: Any) -> Any:
    """The JSON form of a value for `variables`."""
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def selection_text(sels: list[Sel], variables: dict[str, str] | None = None) -> str:
    parts = []
    for sel in sels:
        text = f"{sel.alias}: {sel.name}" if sel.alias else sel.name
        if sel.args:
            rendered = []
            for name, value in sel.args.items():
                var = (variables or {}).get(name)
                rendered.append(f"{name}: ${var}" if var else f"{name}: {literal(value)}")
            text += "(" + ", ".join(rendered) + ")"
        if sel.children:
            text += " { " + selection_text(sel.children) + " }"
        parts.append(text)
    return " ".join(parts)


def render(roots: list[Sel], schema: GraphQLSchema, hoist: bool, mutation: bool = False) -> Request:
    """The document; with `hoist`, the root fields' arguments travel as variables (the
    scalars' parse_value path instead of parse_literal). A mutation's always do: the JSON
    object keys of stored rows need not be GraphQL names, which a literal would need."""
    if not hoist and not mutation:
        return Request("{ " + selection_text(roots) + " }")
    query = schema.mutation_type if mutation else schema.query_type
    assert query is not None
    definitions, variables, texts = [], {}, []
    for number, root in enumerate(roots):
        names = {}
        for arg, value in root.args.items():
            name = f"v{number}_{arg}"
            names[arg] = name
            definitions.append(f"${name}: {query.fields[root.name].args[arg].type}")
            variables[name] = plain(value)
        texts.append(selection_text([root], names))
    keyword = "mutation Fuzz" if mutation else "query Fuzz"
    head = f"{keyword}({', '.join(definitions)})" if definitions else keyword
    return Request(head + " { " + " ".join(texts) + " }", variables)


# -- the data --------------------------------------------------------------------------------------


def spread(values: list[Any], count: int) -> list[Any]:
    """At most `count` of the values, evenly spread: small and large ones, early and late."""
    if len(values) <= count:
        return values
    step = len(values) / count
    return [values[int(i * step)] for i in range(count)]


def renderable(value: Any) -> bool:
    """Whether a JSON value can be written as a GraphQL literal (object keys must be names)."""
    if isinstance(value, dict):
        return all(NAME.match(key) and renderable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(renderable(item) for item in value)
    return not (isinstance(value, float) and value != value)


class Pool:
    """Values the seeded database holds, per (table, field): filters made of them match."""

    def __init__(self, spec: Spec, tables: dict[str, list[dict[str, Any]]]) -> None:
        self.rows = tables
        self.values: dict[tuple[str, str], list[Any]] = {}
        self.json: dict[tuple[str, str], list[Any]] = {}
        self.keys: dict[tuple[str, str], list[str]] = {}
        self.windows: dict[tuple[str, str], tuple[Any, Any]] = {}
        for name, rows in tables.items():
            table = spec.tables[name]
            for spec_field in table.fields:
                found = [row[spec_field.name] for row in rows]
                found = [value for value in found if value is not None]
                if spec_field.type is FieldType.JSON:
                    self._json(name, spec_field.name, found)
                    continue
                if spec_field.type is FieldType.LIST:
                    found = [item for value in found for item in value]
                distinct = sorted(set(found), key=lambda v: (type(v).__name__, v))
                self.values[(name, spec_field.name)] = spread(distinct, 60)
                if distinct and spec_field.type in (FieldType.DATE, FieldType.DATETIME):
                    self.windows[(name, spec_field.name)] = (distinct[0], distinct[-1])

    def _json(self, table: str, name: str, found: list[Any]) -> None:
        """Pieces the stored values contain (`contains` holds for their rows) and their keys."""
        pieces: list[Any] = []
        keys: set[str] = set()
        for value in found[:80]:
            if isinstance(value, dict):
                keys.update(value)
                pieces.extend({key: item} for key, item in list(value.items())[:3])
                pieces.append(value)
            elif isinstance(value, list):
                pieces.extend([item] for item in value[:3])
                # Only at the top level, an array contains a scalar that is one of its elements.
                pieces.extend(item for item in value[:2] if not isinstance(item, dict | list))
            else:
                pieces.append(value)
        self.json[(table, name)] = spread([p for p in pieces if renderable(p)], 60)
        self.keys[(table, name)] = sorted(keys)[:40]


# -- the schema ------------------------------------------------------------------------------------


def cyclic_inputs(schema: GraphQLSchema) -> set[str]:
    """Input object types that can contain themselves (`where` through relations, `and`...)."""
    inputs = {
        name: kind
        for name, kind in schema.type_map.items()
        if isinstance(kind, GraphQLInputObjectType)
    }
    edges = {
        name: {
            graphql.get_named_type(f.type).name
            for f in kind.fields.values()
            if isinstance(graphql.get_named_type(f.type), GraphQLInputObjectType)
        }
        for name, kind in inputs.items()
    }
    cyclic = set()
    for start in inputs:
        stack, seen = list(edges[start]), set()
        while stack:
            name = stack.pop()
            if name == start:
                cyclic.add(start)
                break
            if name not in seen:
                seen.add(name)
                stack.extend(edges[name])
    return cyclic


def named_type(node: ast.TypeNode) -> str:
    while not isinstance(node, ast.NamedTypeNode):
        node = node.type  # type: ignore[attr-defined]
    return node.name.value


def hg_schema(schema: GraphQLSchema) -> GraphQLSchema:
    """The schema hypothesis-graphql draws from: a subset of the real one, so every document
    it makes is valid there too. Without mutations; without input fields that lead back into
    their own type (hypothesis-graphql fills every optional input it picks, and recursive
    `where` objects cost it seconds per example; `Gen` covers them); without `after` (a cursor
    must come from a real answer) and `fill` (it needs a window: `Gen` makes those)."""
    cyclic = cyclic_inputs(schema)
    document = graphql.parse(graphql.print_schema(schema))
    definitions: list[ast.DefinitionNode] = []
    for node in document.definitions:
        if isinstance(node, ast.ObjectTypeDefinitionNode) and node.name.value == "Mutation":
            continue
        if isinstance(node, ast.SchemaDefinitionNode):
            operations = tuple(
                op for op in node.operation_types if op.operation != ast.OperationType.MUTATION
            )
            node = ast.SchemaDefinitionNode(directives=(), operation_types=operations)
        elif isinstance(node, ast.InputObjectTypeDefinitionNode):
            kept = tuple(f for f in node.fields or () if named_type(f.type) not in cyclic)
            node = ast.InputObjectTypeDefinitionNode(name=node.name, directives=(), fields=kept)
        elif isinstance(node, ast.ObjectTypeDefinitionNode):
            fields = tuple(
                ast.FieldDefinitionNode(
                    name=f.name,
                    arguments=tuple(
                        a for a in f.arguments or () if a.name.value not in ("after", "fill")
                    ),
                    type=f.type,
                    directives=(),
                )
                for f in node.fields or ()
            )
            node = ast.ObjectTypeDefinitionNode(
                name=node.name, interfaces=(), directives=(), fields=fields
            )
        definitions.append(node)
    return graphql.build_ast_schema(ast.DocumentNode(definitions=tuple(definitions)))


# Placeholders for hypothesis-graphql's scalars: `Repair` redraws every value from the data, so
# drawing rich ones here would only cost time (custom_scalars also overrides its built-ins).
PLACEHOLDERS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    "BigInt": st.just(nodes.Int(1)),
    "Int": st.just(nodes.Int(1)),
    "Float": st.just(nodes.Float(0.5)),
    "String": st.just(nodes.String("a")),
    "DateTime": st.just(nodes.String("2026-01-01T00:00:00Z")),
    "Date": st.just(nodes.String("2026-01-01")),
    "JSON": st.just(nodes.Object([])),
}


class Schemas:
    """The real schema, the one hypothesis-graphql draws from, and its strategies per root."""

    def __init__(self, spec: Spec) -> None:
        self.real: GraphQLSchema = build_schema(spec, Settings())._schema
        self.pruned = hg_schema(self.real)
        self.strategies: dict[str, st.SearchStrategy[Any]] = {}

    def documents(self, root: str) -> st.SearchStrategy[Any]:
        if root not in self.strategies:
            self.strategies[root] = hypothesis_graphql.queries(
                self.pruned,
                fields=[root],
                custom_scalars=PLACEHOLDERS,
                allow_null=False,
                print_ast=lambda document: document,
            )
        return self.strategies[root]


_SCHEMAS: dict[int, Schemas] = {}


def schemas_for(spec: Spec) -> Schemas:
    # Built once per session: the spec is the same object for both backends.
    if id(spec) not in _SCHEMAS:
        _SCHEMAS[id(spec)] = Schemas(spec)
    return _SCHEMAS[id(spec)]


# -- defects found: strict xfail regressions, and the shapes the fuzz leaves out meanwhile ---------


@dataclass(frozen=True)
class Regression:
    """A request the fuzz found failing, minimised. Strict xfail on the backends in
    `broken_on`; `excludes` names the Exclusions flag that keeps its shape out of the fuzz
    there meanwhile. A fixed defect keeps its case, with `broken_on=()`."""

    name: str
    document: str
    broken_on: tuple[str, ...] = ()
    reason: str = ""
    excludes: str = ""
    # A connection walked page by page (the document takes `$after`), not one request.
    walk: bool = False
    # The request's variables, as (name, value) pairs (the dataclass is frozen and hashable).
    variables: tuple[tuple[str, Any], ...] = ()


REGRESSIONS = (
    # Found by this fuzz while it was written, in the uncommitted working tree (SQLite only), and
    # fixed there meanwhile (`type = UtcDateTime()` on `_readable_instant`): UtcDateTime's new
    # column_expression wrapped every selected DateTime column in a FunctionElement without a
    # type, so the result processor was lost and SQLite's raw text ('2026-10-06
    # 07:51:01.742019') reached serialize_datetime: TypeError, INTERNAL_SERVER_ERROR for every
    # DateTime read (rows, group keys, buckets, min/max). While broken it was
    # broken_on=("sqlite",), excludes="datetime_output".
    Regression("datetime field of rows", "{ executionLogs(limit: 2) { id startedAt } }"),
    Regression(
        "bucketed datetime group key",
        "{ executionLogsAggregate(groupBy: [{field: STARTED_AT, bucket: DAY}], limit: 3) "
        "{ count key { startedAt } } }",
    ),
    Regression(
        "datetime extremes of linked rows",
        "{ playbooks(limit: 2) { executionsAggregate(limit: 2) { max { startedAt } count } } }",
    ),
    # Found by the schema-driven fuzz (both databases): a JSON `contains` holding an integer
    # literal outside 64 bits (2^64 and up, below -2^63) reaches orjson.dumps in
    # graph/sql/dialects.py:json_contains, which raises TypeError("Integer exceeds 64-bit
    # range"): INTERNAL_SERVER_ERROR. Fixed: the filter compares such an integer as the
    # nearest double, as the same value sent as a variable and as stored JSON hold it.
    Regression(
        "JSON contains an integer beyond 64 bits",
        "{ verificationSuites(where: {testCases: {contains: 18446744073709551616}}) { id } }",
    ),
    Regression(
        "JSON contains a negative integer beyond 64 bits, nested",
        "{ verificationSuites(where: {testCases: {contains: {a: [-9223372036854775809]}}}) "
        "{ id } }",
    ),
    # The same values as variables answer normally (no rows): only the literal crashes.
    Regression(
        "JSON contains an integer beyond 64 bits, as a variable",
        "query Q($v: JSON) { verificationSuites(where: {testCases: {contains: $v}}) { id } }",
        variables=(("v", {"a": [-(2**63) - 1, 2**70]}),),
    ),
    # Found by the fill windows at the edges of time (both databases): when the last bucket
    # of a datetime `fill` window is the one holding the last instant Python can represent
    # (9999-12-31 for DAY and longer buckets, its 23:00 hour for HOUR),
    # graph/sql/buckets.py:datetime_bucket_starts probes one bucket further
    # (`probe += _SHORTEST[unit]`): OverflowError("date value out of range"),
    # INTERNAL_SERVER_ERROR. Fixed: the window's buckets end there.
    Regression(
        "fill window ending on the last day",
        '{ executionLogsAggregate(where: {startedAt: {gte: "9999-12-31T00:00:00Z", '
        'lte: "9999-12-31T00:00:00Z"}}, groupBy: [{field: STARTED_AT, bucket: DAY}], '
        "fill: true) { count } }",
    ),
    Regression(
        "fill window ending in the last hour",
        '{ executionLogsAggregate(where: {startedAt: {gte: "9999-12-31T23:00:00Z", '
        'lte: "9999-12-31T23:59:59Z"}}, groupBy: [{field: STARTED_AT, bucket: HOUR}], '
        'timeZone: "Asia/Kathmandu", fill: true) { count key { startedAt } } }',
    ),
    # Found by the walks (both databases): docs/api.md promises that walking a connection
    # "returns every matching row once, in order, for any orderBy", but a computed field that
    # moves with the clock (dataFreshnessHours = hours_since(last_refresh_at), "now" read per
    # request) has grown by the next request: the cursor's value of the last row is then below
    # that row's new value, and the row comes again as the first of the next page (ASC; DESC
    # can skip near-ties instead).
    Regression(
        "walk ordered by a field that moves with the clock",
        "query Page($after: String) { dashboardsConnection(first: 3, after: $after, "
        "orderBy: [{dataFreshnessHours: ASC}]) { edges { node { id } } "
        "pageInfo { hasNextPage endCursor } } }",
        broken_on=("sqlite", "postgresql"),
        reason="the last row of each page comes again on the next page: the sort value "
        "(hours since last_refresh_at) grew between the requests, the cursor kept the old one",
        excludes="moving_sort_walk",
        walk=True,
    ),
)


@dataclass(frozen=True)
class Exclusions:
    """Shapes a known defect breaks on this backend (REGRESSIONS), left out of the fuzz so
    that the rest of it keeps running."""

    # Selecting a DateTime-typed output field.
    datetime_output: bool = False
    # Integers outside 64 bits in JSON filter values.
    big_json_integers: bool = False
    # `fill` windows of a datetime field that reach the last day of year 9999.
    fill_at_end_of_time: bool = False
    # Asserting that walks never repeat a row when their orderBy names a computed field that
    # moves with the clock (the rows are still walked and checked otherwise).
    moving_sort_walk: bool = False


def exclusions(backend: str) -> Exclusions:
    flags = {r.excludes for r in REGRESSIONS if r.excludes and backend in r.broken_on}
    return Exclusions(**dict.fromkeys(flags, True))


# -- values ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ctx:
    """The table field a filter applies to: its stored values are the likely constants."""

    table: TableSpec
    field: FieldSpec

    @property
    def key(self) -> tuple[str, str]:
        return (self.table.name, self.field.name)


def utc_text(moment: dt.datetime, digits: int, offset: dt.timedelta | None) -> str:
    """RFC 3339 with `digits` fractional digits, in UTC (`Z`) or at the offset."""
    shown = moment if offset is None else moment.astimezone(dt.timezone(offset))
    text = shown.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{shown.microsecond:06d}"[:digits]
    if offset is None:
        return text + "Z"
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


OFFSETS_TZ = (
    None,
    None,
    dt.timedelta(hours=5, minutes=30),
    dt.timedelta(hours=-8),
    dt.timedelta(hours=14),
    dt.timedelta(hours=-12),
    dt.timedelta(0),
)


class Values:
    """Leaf values: mostly from the data, else hostile but valid for their type."""

    def __init__(self, pool: Pool, excluded: Exclusions) -> None:
        self.pool = pool
        self.json = tuple(
            value
            for value in HOSTILE_JSON
            if not (excluded.big_json_integers and beyond_64_bits(value))
        )

    def often(self, draw: st.DrawFn, percent: int) -> bool:
        # Shrinks towards True: a minimal failing case keeps the data's values.
        return draw(st.integers(0, 99)) < percent

    def scalar(self, draw: st.DrawFn, kind: graphql.GraphQLNamedType, ctx: Ctx | None) -> Any:
        if isinstance(kind, GraphQLEnumType):
            return Enum(draw(st.sampled_from(sorted(kind.values))))
        name = kind.name
        if name == "Boolean":
            return draw(st.booleans())
        found = self.pool.values.get(ctx.key) if ctx else None
        if found and self.often(draw, 80):
            value = self.as_input(draw, name, draw(st.sampled_from(found)))
            if value is not None:
                return value
        return self.hostile(draw, name, ctx)

    def as_input(self, draw: st.DrawFn, name: str, value: Any) -> Any:
        """A stored value as an input of the scalar `name`, or None if it does not fit."""
        if name == "DateTime" and isinstance(value, dt.datetime):
            digits = draw(st.sampled_from((6, 6, 0, 3)))
            return utc_text(value, digits, draw(st.sampled_from(OFFSETS_TZ)))
        if name == "Date" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, bool):
            return None
        if name == "BigInt" and isinstance(value, int):
            return str(value) if draw(st.booleans()) else value
        if name == "Int" and isinstance(value, int) and -(2**31) <= value < 2**31:
            return value
        if name == "Float" and isinstance(value, int | float):
            return float(value)
        if name == "String" and isinstance(value, str):
            return value
        return None

    def hostile(self, draw: st.DrawFn, name: str, ctx: Ctx | None) -> Any:
        if name == "Int":
            return draw(st.sampled_from(INT_LIMITS))
        if name == "BigInt":
            return draw(st.sampled_from(BIGINT_LIMITS))
        if name == "Float":
            return draw(st.sampled_from(FLOAT_LIMITS))
        if name == "Date":
            return draw(st.sampled_from(DATE_LIMITS))
        if name == "DateTime":
            return draw(st.sampled_from(DATETIME_LIMITS))
        if name == "JSON":
            return draw(st.sampled_from(self.json))
        if ctx is not None and ctx.field.type is FieldType.UUID:
            # UUID fields compare UUIDs: any other text is BAD_USER_INPUT.
            return "{00000000-0000-0000-0000-00000000000A}"
        return draw(st.sampled_from(HOSTILE_STRINGS))

    def text_of(self, draw: st.DrawFn, ctx: Ctx | None) -> str:
        found = self.pool.values.get(ctx.key) if ctx else None
        texts = [v for v in found or () if isinstance(v, str)]
        if texts and self.often(draw, 80):
            return str(draw(st.sampled_from(texts)))
        return str(draw(st.sampled_from(HOSTILE_STRINGS)))

    def substring(self, draw: st.DrawFn, ctx: Ctx | None, op: str) -> str:
        text = self.text_of(draw, ctx)
        cut = draw(st.integers(0, len(text)))
        if op == "startsWith":
            return text[: max(cut, 1)]
        if op == "endsWith":
            return text[cut:]
        end = draw(st.integers(cut, len(text)))
        return text[cut:end]

    def pattern(self, draw: st.DrawFn, ctx: Ctx | None, op: str) -> str:
        """A `like` pattern built from a stored value (so it matches), or a hostile one."""
        if not self.often(draw, 80):
            return str(draw(st.sampled_from(HOSTILE_PATTERNS)))
        text = self.text_of(draw, ctx)
        if op == "ilike" and draw(st.booleans()):
            text = text.swapcase()
        # Cut the text first, then escape: an escape is never split, and no pattern ends in a
        # lone backslash (that is BAD_USER_INPUT).
        cut = draw(st.integers(0, len(text)))
        form = draw(st.integers(0, 4))
        if form == 0:
            return escape(text)
        if form == 1:
            return escape(text[:cut]) + "%"
        if form == 2:
            return "%" + escape(text[cut:])
        if form == 3:
            return "%" + escape(text[cut : cut + 3]) + "%"
        if not text:
            return "_%"
        at = min(cut, len(text) - 1)
        return escape(text[:at]) + "_" + escape(text[at + 1 :])

    def duration(self, draw: st.DrawFn, date_only: bool) -> str:
        usual = DATE_DURATIONS if date_only else DATETIME_DURATIONS
        extremes = tuple(d for d in LONG_DURATIONS if not date_only or "T" not in d)
        return str(draw(st.sampled_from(usual + extremes)))

    def json_piece(self, draw: st.DrawFn, ctx: Ctx | None) -> Any:
        pieces = self.pool.json.get(ctx.key) if ctx else None
        if pieces and self.often(draw, 80):
            return draw(st.sampled_from(pieces))
        return draw(st.sampled_from(self.json))

    def json_key(self, draw: st.DrawFn, ctx: Ctx | None) -> str:
        keys = self.pool.keys.get(ctx.key) if ctx else None
        if keys and self.often(draw, 80):
            return str(draw(st.sampled_from(keys)))
        return str(draw(st.sampled_from(HOSTILE_KEYS)))

    def operand(
        self,
        draw: st.DrawFn,
        op: str,
        kind: graphql.GraphQLNamedType,
        filter_name: str,
        ctx: Ctx | None,
    ) -> Any:
        if op in ("withinLast", "olderThan"):
            return self.duration(draw, date_only=filter_name == "DateFilter")
        if op in ("like", "ilike"):
            return self.pattern(draw, ctx, op)
        if op in ("contains", "startsWith", "endsWith") and kind.name == "String":
            return self.substring(draw, ctx, op)
        if op == "hasKey":
            return self.json_key(draw, ctx)
        if kind.name == "JSON":
            return self.json_piece(draw, ctx)
        return self.scalar(draw, kind, ctx)

    def filter(
        self,
        draw: st.DrawFn,
        kind: GraphQLInputObjectType,
        ctx: Ctx | None,
        ops: list[str] | None = None,
    ) -> dict[str, Any]:
        """A filter object (`StringFilter`, `IntFilter`, an enum's filter...) with the given
        operators, or one or two drawn ones."""
        if ops is None:
            ops = draw(st.lists(st.sampled_from(sorted(kind.fields)), min_size=1, max_size=2))
        out: dict[str, Any] = {}
        for op in ops:
            if op not in kind.fields:
                continue
            of = graphql.get_nullable_type(kind.fields[op].type)
            if isinstance(of, GraphQLList):
                element = graphql.get_named_type(of)
                # Empty lists mean something (in: [] holds for no row); 40 values now and then.
                size = draw(st.sampled_from((1, 2, 3, 0, 5, 40)))
                out[op] = [self.operand(draw, op, element, kind.name, ctx) for _ in range(size)]
            else:
                out[op] = self.operand(draw, op, graphql.get_named_type(of), kind.name, ctx)
        return out


def beyond_64_bits(value: Any) -> bool:
    """Whether a JSON value holds an integer outside -2^63..2^64-1 (what orjson can write)."""
    if isinstance(value, dict):
        return any(beyond_64_bits(item) for item in value.values())
    if isinstance(value, list):
        return any(beyond_64_bits(item) for item in value)
    return isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64


def escape(text: str) -> str:
    """`text` as a `like` pattern that matches exactly it."""
    return re.sub(r"([%_\\])", r"\\\1", text)


# -- the generator of our own, and what Repair shares with it --------------------------------------


class Gen:
    """Requests from the spec, the schema and the data (see the module docstring)."""

    def __init__(self, spec: Spec, schemas: Schemas, pool: Pool, excluded: Exclusions) -> None:
        self.spec = spec
        self.schema = schemas.real
        self.values = Values(pool, excluded)
        self.pool = pool
        self.excluded = excluded
        self.tables = sorted(spec.tables.values(), key=lambda t: t.name)
        # Which table a generated type belongs to: `ExecutionLog`, `ExecutionLogWhere`, ...
        self.by_type: dict[str, TableSpec] = {}
        for table in self.tables:
            for name in self.schema.type_map:
                if name.startswith(table.type_name):
                    rest = name[len(table.type_name) :]
                    known = self.by_type.get(name)
                    # The longest type name wins: `SubAgent` before `Sub`, if both existed.
                    if rest in TYPE_SUFFIXES and (
                        known is None or len(known.type_name) < len(table.type_name)
                    ):
                        self.by_type[name] = table

    # -- schema lookups --

    def input(self, name: str) -> GraphQLInputObjectType:
        kind = self.schema.type_map[name]
        assert isinstance(kind, GraphQLInputObjectType), name
        return kind

    def enum(self, name: str) -> GraphQLEnumType:
        kind = self.schema.type_map[name]
        assert isinstance(kind, GraphQLEnumType), name
        return kind

    def object(self, name: str) -> GraphQLObjectType:
        kind = self.schema.type_map[name]
        assert isinstance(kind, GraphQLObjectType), name
        return kind

    def fields_of(self, table: TableSpec) -> dict[str, FieldSpec]:
        return {f.gql_name: f for f in table.read_fields}

    def input_fields(self, name: str) -> dict[str, str]:
        """An input type's fields and the names of their (unwrapped) types."""
        return {
            key: graphql.get_named_type(f.type).name for key, f in self.input(name).fields.items()
        }

    def suffix_table(self, type_name: str, suffix: str) -> TableSpec | None:
        table = self.by_type.get(type_name)
        return table if table and type_name == table.type_name + suffix else None

    def leaf_fields(self, type_name: str) -> list[str]:
        """The scalar and enum fields of an output type that may be selected here."""
        out = []
        for name, f in self.object(type_name).fields.items():
            kind = graphql.get_named_type(f.type)
            if not isinstance(kind, GraphQLScalarType | GraphQLEnumType) or f.args:
                continue
            if self.excluded.datetime_output and kind.name == "DateTime":
                continue
            out.append(name)
        return out

    def leaves(self, draw: st.DrawFn, type_name: str, most: int = 4) -> list[Sel]:
        names = self.leaf_fields(type_name)
        if not names:
            return [Sel("__typename")]
        picked = draw(st.lists(st.sampled_from(names), min_size=1, max_size=most, unique=True))
        return [Sel(name) for name in picked]

    # -- page sizes under the size estimate --

    def page(self, draw: st.DrawFn, multiplier: int, levels: int) -> int:
        """A page size for a list with `levels` nested paged lists (itself included), under
        `multiplier` objects above: their product stays within NODE_BUDGET, now and then
        a page at its cap on a list with nothing below."""
        chance = draw(st.integers(0, 99))
        if chance < 2 or (multiplier == 1 and levels == 1 and chance < 12):
            # Rarely also under or above other lists: the size estimate may then refuse
            # (LIMIT_EXCEEDED), which is fine but counted.
            return int(draw(st.sampled_from(CAPPED_PAGE_SIZES)))
        cap = max(1, int((NODE_BUDGET / multiplier) ** (1 / max(levels, 1))))
        return int(draw(st.sampled_from([n for n in PAGE_SIZES if n <= cap])))

    def offset(self, draw: st.DrawFn) -> int:
        return int(draw(st.sampled_from(OFFSETS)))

    # -- where --

    def where(self, draw: st.DrawFn, table: TableSpec, depth: int = 0) -> dict[str, Any]:
        """A `<Type>Where`: field filters, relation filters, measures of linked rows,
        `and`/`or`/`not`, and entries given as null (they count as not given)."""
        name = where_input_name(table.type_name)
        fields = self.input_fields(name)
        own = self.fields_of(table)
        plain_fields = sorted(k for k in fields if k in own)
        relations = sorted(k for k, t in fields.items() if k not in own and k not in COMBINATORS)
        kinds = ["field"] * 5 + ["null"]
        if depth < 2 and relations:
            kinds += ["relation"] * 3
        if depth < 3:
            kinds += ["and", "or", "not"]
        out: dict[str, Any] = {}
        # Few entries: each must hold, and the point is that rows match.
        for _ in range(draw(st.integers(1, 2) if depth == 0 else st.integers(0, 3))):
            kind = draw(st.sampled_from(kinds))
            if kind == "field":
                key = draw(st.sampled_from(plain_fields))
                ctx = Ctx(table, own[key])
                out[key] = self.values.filter(draw, self.input(fields[key]), ctx)
            elif kind == "null":
                out[draw(st.sampled_from([*plain_fields, *COMBINATORS]))] = None
            elif kind == "relation":
                key = draw(st.sampled_from(relations))
                out[key] = self.relation_filter(draw, fields[key], depth)
            elif kind == "not":
                out["not"] = self.where(draw, table, depth + 1)
            else:
                size = draw(st.integers(0, 2))
                out[kind] = [self.where(draw, table, depth + 1) for _ in range(size)]
        return out

    def relation_filter(self, draw: st.DrawFn, type_name: str, depth: int) -> dict[str, Any]:
        target = self.by_type[type_name]
        if type_name == where_input_name(target.type_name):  # to-one
            return self.where(draw, target, depth + 1)
        if self.suffix_table(type_name, "ManyWhere"):
            quantifiers = draw(
                st.lists(st.sampled_from(("some", "none", "every")), min_size=0, max_size=2)
            )
            return {q: self.where(draw, target, depth + 1) for q in quantifiers}
        assert self.suffix_table(type_name, "AggregateFilter"), type_name
        out: dict[str, Any] = {}
        if draw(st.booleans()):
            out["filter"] = self.where(draw, target, depth + 1)
        # At least one measure: a filter alone is BAD_USER_INPUT ("name a measure").
        offered = [m for m in MEASURES if m in self.input_fields(type_name)]
        for measure in draw(
            st.lists(st.sampled_from(offered), min_size=1, max_size=2, unique=True)
        ):
            out[measure] = self.measure_filter(draw, target, measure)
        return out

    def measure_filter(self, draw: st.DrawFn, table: TableSpec, measure: str) -> Any:
        """A filter of one measure (`count: {gte: 2}`, `max: {durationMs: {gt: ...}}`)."""
        if measure == "count":
            return self.values.filter(draw, self.input("IntFilter"), None)
        name = table.type_name + MEASURE_FILTERS[measure]
        fields = self.input_fields(name) if name in self.schema.type_map else {}
        if not fields:
            return self.values.filter(draw, self.input("IntFilter"), None)
        key = draw(st.sampled_from(sorted(fields)))
        own = self.fields_of(table)
        # min/max compare values of the field itself: its data fits.
        ctx = Ctx(table, own[key]) if measure in ("min", "max") and key in own else None
        return {key: self.values.filter(draw, self.input(fields[key]), ctx)}

    # -- orderBy --

    def order(self, draw: st.DrawFn, table: TableSpec, depth: int = 0) -> list[dict[str, Any]]:
        """One to four sort keys: fields, fields of to-one rows, measures of linked rows."""
        size = draw(st.integers(1, 4))
        return [self.order_item(draw, table, depth) for _ in range(size)]

    def order_item(self, draw: st.DrawFn, table: TableSpec, depth: int) -> dict[str, Any]:
        fields = self.input_fields(order_input_name(table.type_name))
        direct = sorted(k for k, t in fields.items() if t == "SortDirection")
        related = sorted(k for k, t in fields.items() if t != "SortDirection")
        if depth >= 2 or not related or draw(st.integers(0, 99)) < 65:
            return {draw(st.sampled_from(direct)): Enum(draw(st.sampled_from(DIRECTIONS)))}
        key = draw(st.sampled_from(related))
        type_name = fields[key]
        target = self.by_type[type_name]
        if type_name == order_input_name(target.type_name):  # a to-one row's field
            return {key: self.order_item(draw, target, depth + 1)}
        # A measure of the linked rows: exactly one, with an optional filter of those rows.
        out: dict[str, Any] = {}
        if draw(st.booleans()):
            out["filter"] = self.where(draw, target, depth + 1)
        offered = [m for m in MEASURES if m in self.input_fields(type_name)]
        measure = draw(st.sampled_from(offered))
        direction = Enum(draw(st.sampled_from(DIRECTIONS)))
        names = self.measure_names(target, MEASURE_ORDERS.get(measure))
        if names:
            out[measure] = {draw(st.sampled_from(names)): direction}
        else:
            out["count"] = direction
        return {key: out}

    def measure_names(self, table: TableSpec, suffix: str | None) -> list[str]:
        """The fields of a table's `<Type><suffix>` input (`SumsOrder`...), if it has one."""
        name = table.type_name + suffix if suffix else ""
        return sorted(self.input_fields(name)) if name in self.schema.type_map else []

    # -- aggregates --

    def group_by(
        self, draw: st.DrawFn, table: TableSpec, most: int = 3
    ) -> tuple[list[dict[str, Any]], list[tuple[str, ...]], str | None]:
        """Grouping keys: fields (dates with a bucket now and then) and fields of to-one rows.
        Returns the keys, their paths in the group's `key` (as GraphQL names) and the field of
        the one bucketed key of the table's own, if there is exactly one (for `fill`)."""
        items: list[dict[str, Any]] = []
        paths: list[tuple[str, ...]] = []
        bucketed: list[str] = []
        for _ in range(draw(st.integers(0, most))):
            item, path, bucket_field = self.group_item(draw, table, depth=0)
            if item is None or path in paths:
                continue  # the same field twice is refused
            items.append(item)
            paths.append(path)
            if bucket_field:
                bucketed.append(bucket_field)
        return items, paths, bucketed[0] if len(bucketed) == 1 else None

    def group_item(
        self, draw: st.DrawFn, table: TableSpec, depth: int
    ) -> tuple[dict[str, Any] | None, tuple[str, ...], str | None]:
        fields = self.input_fields(table.type_name + "GroupBy")
        relations = sorted(k for k in fields if k not in ("field", "bucket"))
        if depth == 0 and relations and draw(st.integers(0, 99)) < 25:
            key = draw(st.sampled_from(relations))
            inner, path, _ = self.group_item(draw, self.by_type[fields[key]], depth + 1)
            return ({key: inner} if inner else None), (key, *path), None
        enum = self.schema.type_map[table.type_name + "GroupField"]
        assert isinstance(enum, GraphQLEnumType)
        member = draw(st.sampled_from(sorted(enum.values)))
        item: dict[str, Any] = {"field": Enum(member)}
        spec_field = table.field(member.lower())
        bucket_field = None
        if spec_field.type in (FieldType.DATE, FieldType.DATETIME) and draw(st.booleans()):
            buckets = [b for b in BUCKETS if b != "HOUR" or spec_field.type is FieldType.DATETIME]
            item["bucket"] = Enum(draw(st.sampled_from(buckets)))
            bucket_field = spec_field.name
        return item, (spec_field.gql_name,), bucket_field

    def having(self, draw: st.DrawFn, table: TableSpec, depth: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for _ in range(draw(st.integers(1, 2))):
            kind = draw(
                st.sampled_from(("measure",) * 4 + (("and", "or", "not") if depth < 2 else ()))
            )
            if kind == "measure":
                having = self.input_fields(table.type_name + "GroupHaving")
                measure = draw(st.sampled_from([m for m in MEASURES if m in having]))
                out[measure] = self.measure_filter(draw, table, measure)
            elif kind == "not":
                out["not"] = self.having(draw, table, depth + 1)
            else:
                out[kind] = [
                    self.having(draw, table, depth + 1) for _ in range(draw(st.integers(0, 2)))
                ]
        return out

    def group_order(
        self, draw: st.DrawFn, table: TableSpec, paths: list[tuple[str, ...]]
    ) -> list[dict[str, Any]]:
        """Group orders: `count`, a grouped key, or one measure of one field."""
        out: list[dict[str, Any]] = []
        for _ in range(draw(st.integers(1, 3))):
            direction = Enum(draw(st.sampled_from(DIRECTIONS)))
            kind = draw(st.sampled_from(("count", "key", "key", *MEASURES[1:])))
            if kind == "key" and paths:
                path = draw(st.sampled_from(paths))
                value: Any = direction
                for step in reversed(path):
                    value = {step: value}
                out.append({"key": value})
            elif names := self.measure_names(table, MEASURE_ORDERS.get(kind)):
                out.append({kind: {draw(st.sampled_from(names)): direction}})
            else:
                out.append({"count": direction})
        return out

    def group_selection(
        self, draw: st.DrawFn, table: TableSpec, paths: list[tuple[str, ...]]
    ) -> list[Sel]:
        """What a group shows: its key, count, and measures (percentiles under aliases)."""
        sels = [Sel("count")]
        if paths and draw(st.integers(0, 99)) < 85:
            sels.append(Sel("key", children=self.key_selection(table, paths)))
        group = self.object(table.type_name + "Group").fields
        offered = [m for m in OUTPUT_MEASURES if m in group]
        for measure in draw(
            st.lists(st.sampled_from(offered), min_size=0, max_size=3, unique=True)
        ):
            type_name = table.type_name + OUTPUT_MEASURES[measure]
            children = self.leaves(draw, type_name, most=3)
            if measure == "percentile":
                for number in range(draw(st.integers(1, 2))):
                    p = draw(st.sampled_from(PERCENTILES))
                    sels.append(Sel("percentile", {"p": p}, children, alias=f"p{number}"))
            else:
                sels.append(Sel(measure, children=children))
        return sels

    def key_selection(self, table: TableSpec, paths: list[tuple[str, ...]]) -> list[Sel]:
        """`key { status playbook { owner } }` for the grouped paths."""
        root: dict[str, Any] = {}
        for path in paths:
            node = root
            for step in path:
                node = node.setdefault(step, {})

        def sels(node: dict[str, Any], type_name: str) -> list[Sel]:
            out = []
            kind = self.object(type_name)
            for step, below in node.items():
                target = graphql.get_named_type(kind.fields[step].type)
                if below:
                    out.append(Sel(step, children=sels(below, target.name)))
                elif not (self.excluded.datetime_output and target.name == "DateTime"):
                    out.append(Sel(step))
            return out or [Sel("__typename")]

        return sels(root, table.type_name + "GroupKey")

    def aggregate_args(
        self, draw: st.DrawFn, table: TableSpec, multiplier: int, root: bool
    ) -> tuple[dict[str, Any], list[tuple[str, ...]]]:
        args: dict[str, Any] = {}
        items, paths, bucketed = self.group_by(draw, table)
        where: dict[str, Any] | None = None
        if draw(st.booleans()):
            where = self.where(draw, table)
        grouped = bool(items)
        if grouped or draw(st.booleans()):
            args["groupBy"] = items
        if root and bucketed and draw(st.integers(0, 99)) < 40:
            # fill: every bucket of the where window gets a group; it needs the window.
            where = dict(where or {})
            where[table.field(bucketed).gql_name] = self.window(draw, table, bucketed)
            args["fill"] = True
        if where is not None:
            args["where"] = where
        if draw(st.booleans()):
            args["timeZone"] = draw(st.sampled_from(TIME_ZONES))
        if draw(st.integers(0, 99)) < 35:
            args["having"] = self.having(draw, table)
        if draw(st.booleans()):
            args["orderBy"] = self.group_order(draw, table, paths)
        # Without a limit, grouped aggregates count as GRAPH_MAX_GROUPS in the size estimate.
        if grouped or draw(st.booleans()):
            args["limit"] = self.page(draw, multiplier, 1)
        if draw(st.integers(0, 99)) < 20:
            args["offset"] = self.offset(draw)
        return args, paths

    def window(self, draw: st.DrawFn, table: TableSpec, name: str) -> dict[str, Any]:
        """The window `fill` needs: relative, between stored values, or at an edge of time
        (time zones west of UTC put the first buckets before year 1; too many buckets are
        LIMIT_EXCEEDED)."""
        spec_field = table.field(name)
        date_only = spec_field.type is FieldType.DATE
        found = self.pool.windows.get((table.name, name))
        choice = draw(st.integers(0, 99))
        if choice < 15:
            edges: tuple[tuple[str, str], ...] = DATE_WINDOWS if date_only else DATETIME_WINDOWS
            if not date_only and self.excluded.fill_at_end_of_time:
                edges = tuple(e for e in edges if not e[1].startswith("9999"))
            low_text, high_text = draw(st.sampled_from(edges))
            return {"gte": low_text, "lte": high_text}
        if found is None or choice < 55:
            return {"withinLast": draw(st.sampled_from(("P7D", "P30D", "P2W", "P1M")))}
        low, high = found
        scalar = "Date" if date_only else "DateTime"
        # A window of stored values; the hour buckets of a long one are LIMIT_EXCEEDED.
        return {
            "gte": self.values.as_input(draw, scalar, low),
            "lte": self.values.as_input(draw, scalar, high),
        }

    # -- rows and their relations --

    def rows(self, draw: st.DrawFn, table: TableSpec, depth: int, multiplier: int) -> list[Sel]:
        """A row's selection: a few fields, and up to two relation fields with their own
        arguments, three levels deep."""
        sels = self.leaves(draw, table.type_name)
        if depth >= 3:
            return sels
        kind = self.object(table.type_name)
        relations = sorted(
            name
            for name, f in kind.fields.items()
            if isinstance(graphql.get_named_type(f.type), GraphQLObjectType)
        )
        if not relations:
            return sels
        picked = draw(st.lists(st.sampled_from(relations), max_size=2, unique=True))
        for name in picked:
            f = kind.fields[name]
            target_type = graphql.get_named_type(f.type).name
            target = self.by_type[target_type]
            if not f.args:  # to-one
                sels.append(Sel(name, children=self.rows(draw, target, depth + 1, multiplier)))
            elif target_type.endswith("Group"):
                args, paths = self.aggregate_args(draw, target, multiplier, root=False)
                sels.append(Sel(name, args, self.group_selection(draw, target, paths)))
            else:
                args = self.list_args(draw, target, depth + 1, multiplier, levels=3 - depth)
                below = multiplier * max(int(args.get("limit", 100)), 1)
                sels.append(Sel(name, args, self.rows(draw, target, depth + 1, below)))
        return sels

    def list_args(
        self, draw: st.DrawFn, table: TableSpec, depth: int, multiplier: int, levels: int
    ) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if draw(st.integers(0, 99)) < 70:
            args["where"] = self.where(draw, table, depth=0 if depth == 0 else 1)
        if draw(st.booleans()):
            args["orderBy"] = self.order(draw, table)
        size = self.page(draw, multiplier, levels)
        # Without `limit` the default page of 100 applies: leave it out where it fits.
        if size != 100 or draw(st.booleans()):
            args["limit"] = size
        if draw(st.integers(0, 99)) < 25:
            args["offset"] = self.offset(draw)
        return args

    def lookup_args(self, draw: st.DrawFn, table: TableSpec) -> dict[str, Any]:
        """Exactly one of the natural key and `id`, usually one that exists."""
        key = table.key_field
        if draw(st.booleans()):
            ids = self.pool.values.get((table.name, "id")) or [1]
            value = draw(st.sampled_from(ids)) if self.values.often(draw, 85) else 2**63 - 1
            return {"id": str(value) if draw(st.booleans()) else value}
        scalar = self.schema.type_map[KEY_SCALARS.get(key.type, "String")]
        assert isinstance(scalar, GraphQLScalarType)
        return {key.gql_name: self.values.scalar(draw, scalar, Ctx(table, key))}

    def traversal(self, draw: st.DrawFn) -> list[Sel]:
        """One or two root fields: lists, lookups, first pages of connections."""
        roots = []
        for number in range(draw(st.integers(1, 2))):
            table = draw(st.sampled_from(self.tables))
            kind = draw(st.sampled_from(("list", "list", "list", "lookup", "connection")))
            alias = f"r{number}"
            if kind == "lookup":
                children = self.rows(draw, table, 1, 1)
                roots.append(Sel(table.single_root, self.lookup_args(draw, table), children, alias))
            elif kind == "list":
                args = self.list_args(draw, table, 0, 1, levels=3)
                below = max(int(args.get("limit", 100)), 1)
                children = self.rows(draw, table, 0, below)
                roots.append(Sel(table.list_root, args, children, alias))
            else:
                sel = self.connection(draw, table)
                sel.alias = alias
                roots.append(sel)
        return roots

    def connection(self, draw: st.DrawFn, table: TableSpec) -> Sel:
        """A connection's first page: edges with cursors, nodes, pageInfo, totalCount."""
        args: dict[str, Any] = {}
        if draw(st.integers(0, 99)) < 60:
            args["where"] = self.where(draw, table)
        if draw(st.integers(0, 99)) < 75:
            args["orderBy"] = self.order(draw, table)
        first = int(draw(st.sampled_from((1, 2, 3, 5, 10, 50, 0, 1000))))
        args["first"] = first
        node = [Sel("id"), *self.rows(draw, table, 2, max(first, 1))]
        sels = [
            Sel("edges", children=[Sel("cursor"), Sel("node", children=node)]),
            Sel("pageInfo", children=[Sel("hasNextPage"), Sel("endCursor")]),
        ]
        if draw(st.booleans()):
            sels.append(Sel("totalCount"))
        if draw(st.booleans()):
            sels.append(Sel("nodes", children=[Sel("id")]))
        return Sel(connection_root_name(table.list_root), args, sels)

    def aggregates(self, draw: st.DrawFn) -> list[Sel]:
        """One or two root aggregates, or a list whose rows measure their linked rows."""
        roots = []
        for number in range(draw(st.integers(1, 2))):
            table = draw(st.sampled_from(self.tables))
            if draw(st.integers(0, 99)) < 75:
                args, paths = self.aggregate_args(draw, table, 1, root=True)
                sels = self.group_selection(draw, table, paths)
                name = aggregate_root_name(table.list_root)
                roots.append(Sel(name, args, sels, alias=f"a{number}"))
                continue
            relations = [e for e in table.relations if e.many]
            if not relations:
                continue
            end = draw(st.sampled_from(relations))
            target = self.spec.tables[end.target]
            limit = int(draw(st.sampled_from((1, 2, 5, 10, 20))))
            args, paths = self.aggregate_args(draw, target, limit, root=False)
            name = relation_aggregate_name(end.gql_name)
            measure = Sel(name, args, self.group_selection(draw, target, paths))
            sels = [*self.leaves(draw, table.type_name, most=2), measure]
            list_args: dict[str, Any] = {"limit": limit}
            if draw(st.booleans()):
                list_args["orderBy"] = self.order(draw, table)
            roots.append(Sel(table.list_root, list_args, sels, alias=f"a{number}"))
        return roots or [Sel("executionLogsAggregate", {}, [Sel("count")])]


COMBINATORS = ("and", "or", "not")
MEASURES = ("count", "countDistinct", "sum", "avg", "min", "max")
MEASURE_FILTERS = {
    "countDistinct": "DistinctCountsFilter",
    "sum": "SumsFilter",
    "avg": "AveragesFilter",
    "min": "ExtremesFilter",
    "max": "ExtremesFilter",
}
MEASURE_ORDERS = {
    "countDistinct": "DistinctCountsOrder",
    "sum": "SumsOrder",
    "avg": "AveragesOrder",
    "min": "ExtremesOrder",
    "max": "ExtremesOrder",
}
OUTPUT_MEASURES = {
    "countDistinct": "DistinctCounts",
    "sum": "Sums",
    "avg": "Averages",
    "min": "Extremes",
    "max": "Extremes",
    "percentile": "Percentiles",
}
TYPE_SUFFIXES = frozenset(
    {
        "",
        "Connection",
        "Edge",
        "Where",
        "ManyWhere",
        "OrderBy",
        "Group",
        "GroupBy",
        "GroupKey",
        "GroupKeyOrder",
        "GroupHaving",
        "GroupOrder",
        "Sums",
        "Averages",
        "Extremes",
        "DistinctCounts",
        "Percentiles",
        "SumsFilter",
        "AveragesFilter",
        "ExtremesFilter",
        "DistinctCountsFilter",
        "SumsOrder",
        "AveragesOrder",
        "ExtremesOrder",
        "DistinctCountsOrder",
        "AggregateFilter",
        "AggregateOrder",
    }
)
KEY_SCALARS = {FieldType.INT: "Int", FieldType.BIGINT: "BigInt"}


# -- hypothesis-graphql's documents, repaired ------------------------------------------------------


class Repair:
    """Turns a document hypothesis-graphql drew into a request that runs: the structure
    (fields, arguments, operators, enum values) stays as drawn; the values are redrawn from
    the data, and what docs/api.md refuses is mended (see the module docstring)."""

    def __init__(self, gen: Gen, draw: st.DrawFn) -> None:
        self.gen, self.draw = gen, draw

    def document(self, document: ast.DocumentNode) -> list[Sel]:
        (operation,) = document.definitions
        assert isinstance(operation, ast.OperationDefinitionNode)
        query = self.gen.schema.query_type
        assert query is not None
        return self.selections(operation.selection_set, query, 1)

    def selections(
        self, selection_set: ast.SelectionSetNode, parent: GraphQLObjectType, multiplier: int
    ) -> list[Sel]:
        out: list[Sel] = []
        for node in selection_set.selections:
            assert isinstance(node, ast.FieldNode)
            name = node.name.value
            definition = parent.fields[name]
            target = graphql.get_named_type(definition.type)
            if self.gen.excluded.datetime_output and target.name == "DateTime":
                continue
            args = {a.name.value: value_of(a.value) for a in node.arguments or ()}
            args, below = self.arguments(parent, name, target.name, args, node, multiplier)
            children: list[Sel] = []
            if node.selection_set is not None:
                assert isinstance(target, GraphQLObjectType)
                children = self.selections(node.selection_set, target, below)
                children = children or [Sel("__typename")]
            out.append(Sel(name, args, children))
        return out

    def arguments(
        self,
        parent: GraphQLObjectType,
        name: str,
        target: str,
        args: dict[str, Any],
        node: ast.FieldNode,
        multiplier: int,
    ) -> tuple[dict[str, Any], int]:
        draw, gen = self.draw, self.gen
        if "p" in args:  # percentile(p:), which must lie in 0..1
            return {"p": draw(st.sampled_from(PERCENTILES))}, multiplier
        table = gen.by_type.get(target)
        if table is None or not args:
            return args, multiplier
        if parent.name == "Query" and name == table.single_root:
            return gen.lookup_args(draw, table), multiplier
        out: dict[str, Any] = {}
        paths: list[tuple[str, ...]] = []
        if "groupBy" in args:
            out["groupBy"], paths = self.group_by(table, args["groupBy"])
        for arg, value in args.items():
            if arg == "where":
                out["where"] = self.where(table, value)
            elif arg == "orderBy" and target == table.type_name + "Group":
                out["orderBy"] = self.group_order(table, value, paths)
            elif arg == "orderBy":
                out["orderBy"] = [self.order_item(table, item) for item in value if item]
            elif arg in ("limit", "first"):
                out[arg] = gen.page(draw, multiplier, 1 + paged_levels(node))
            elif arg == "offset":
                out[arg] = gen.offset(draw)
            elif arg == "having":
                out["having"] = self.having(table, value)
            elif arg == "timeZone":
                out["timeZone"] = draw(st.sampled_from(TIME_ZONES))
            elif arg != "groupBy":
                out[arg] = value
        size = out.get("limit", out.get("first"))
        return out, multiplier * max(int(size or 1), 1)

    def where(self, table: TableSpec, value: dict[str, Any]) -> dict[str, Any]:
        gen = self.gen
        fields = gen.input_fields(where_input_name(table.type_name))
        own = gen.fields_of(table)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in own:
                # hypothesis-graphql picks many operators per field, which together rarely
                # hold: two of them keep the structure and let rows match.
                chosen = st.lists(
                    st.sampled_from(sorted(item)), min_size=1, max_size=2, unique=True
                )
                ops = self.draw(chosen) if item else []
                kind = gen.input(fields[key])
                out[key] = gen.values.filter(self.draw, kind, Ctx(table, own[key]), ops)
            elif key in ("and", "or"):
                out[key] = [self.where(table, each) for each in item]
            elif key == "not":
                out[key] = self.where(table, item)
            else:
                out[key] = gen.relation_filter(self.draw, fields[key], 1)
        return out

    def order_item(self, table: TableSpec, item: dict[str, Any]) -> dict[str, Any]:
        """Exactly one key per item (several are BAD_USER_INPUT)."""
        key = self.draw(st.sampled_from(sorted(item)))
        if isinstance(item[key], str):
            return {key: Enum(item[key])}
        return self.gen.order_item(self.draw, table, 0)

    def group_by(
        self, table: TableSpec, items: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[tuple[str, ...]]]:
        """Exactly one of `field` or a relation per item, a bucket only on a date field (no
        HOUR on a date), no field twice."""
        out: list[dict[str, Any]] = []
        paths: list[tuple[str, ...]] = []
        for item in items:
            if "field" in item:
                spec_field = table.field(str(item["field"]).lower())
                kept: dict[str, Any] = {"field": Enum(item["field"])}
                bucket = item.get("bucket")
                dated = spec_field.type in (FieldType.DATE, FieldType.DATETIME)
                if bucket and dated and (bucket != "HOUR" or spec_field.type is FieldType.DATETIME):
                    kept["bucket"] = Enum(bucket)
                path: tuple[str, ...] = (spec_field.gql_name,)
            else:
                generated, path, _ = self.gen.group_item(self.draw, table, depth=0)
                if generated is None:
                    continue
                kept = generated
            if path not in paths:
                out.append(kept)
                paths.append(path)
        return out, paths

    def group_order(
        self, table: TableSpec, items: list[dict[str, Any]], paths: list[tuple[str, ...]]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in items:
            if not item:
                continue
            key = self.draw(st.sampled_from(sorted(item)))
            value = item[key]
            if key == "count":
                out.append({"count": Enum(value)})
            elif key == "key":
                if paths:  # a grouped key only
                    out.extend(self.gen.group_order(self.draw, table, paths)[:1])
            elif isinstance(value, dict) and value:
                inner = self.draw(st.sampled_from(sorted(value)))
                out.append({key: {inner: Enum(value[inner])}})
        return out

    def having(self, table: TableSpec, value: dict[str, Any]) -> dict[str, Any]:
        gen = self.gen
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in ("and", "or"):
                out[key] = [self.having(table, each) for each in item]
            elif key == "not":
                out[key] = self.having(table, item)
            elif key == "count":
                out[key] = gen.values.filter(self.draw, gen.input("IntFilter"), None, list(item))
            else:
                fields = gen.input_fields(table.type_name + MEASURE_FILTERS[key])
                own = gen.fields_of(table)
                measured = {}
                for name, ops in item.items():
                    ctx = Ctx(table, own[name]) if key in ("min", "max") and name in own else None
                    kind = gen.input(fields[name])
                    measured[name] = gen.values.filter(self.draw, kind, ctx, list(ops))
                out[key] = measured
        return out


def value_of(node: ast.ValueNode) -> Any:
    """A literal hypothesis-graphql drew, as a Python value (enums stay enums)."""
    if isinstance(node, ast.EnumValueNode):
        return Enum(node.value)
    if isinstance(node, ast.ListValueNode):
        return [value_of(item) for item in node.values]
    if isinstance(node, ast.ObjectValueNode):
        return {f.name.value: value_of(f.value) for f in node.fields}
    return graphql.value_from_ast_untyped(node)


def paged_levels(node: ast.FieldNode) -> int:
    """Paged lists nested below a field (fields with `limit` or `first`)."""
    if node.selection_set is None:
        return 0
    deepest = 0
    for child in node.selection_set.selections:
        assert isinstance(child, ast.FieldNode)
        names = {a.name.value for a in child.arguments or ()}
        deepest = max(deepest, bool(names & {"limit", "first"}) + paged_levels(child))
    return deepest


# -- mutations, on a throwaway copy ----------------------------------------------------------------


class Writes:
    """Mutations made from the stored rows, for a throwaway copy of the seeded database:
    inserts of rows like the stored ones under new keys (or under existing ones with
    `onConflict`), updates and deletes chosen by the queries' `where`, bounded by `atMost`;
    now and then a hostile value, which the spec's checks refuse as BAD_USER_INPUT."""

    def __init__(self, gen: Gen) -> None:
        self.gen = gen
        mutation = gen.schema.mutation_type
        assert mutation is not None
        self.fields = mutation.fields
        # Counts the rows made: hypothesis replays similar draws, and a drawn "fresh" key
        # would come back and be a CONFLICT.
        self.made = 0

    def mutation(self, draw: st.DrawFn) -> Sel:
        gen = self.gen
        table = draw(st.sampled_from(gen.tables))
        names = dict(
            zip(("insert", "update", "delete"), mutation_root_names(table.plural), strict=True)
        )
        kind = draw(st.sampled_from([k for k, name in names.items() if name in self.fields]))
        name = names[kind]
        args: dict[str, Any] = {}
        if kind == "insert":
            upsert = "onConflict" in self.fields[name].args and draw(st.booleans())
            size = draw(st.integers(1, 3))
            args["rows"] = [self.row(draw, table, upsert) for _ in range(size)]
            if upsert:
                members = sorted(gen.enum(table.type_name + "UpsertField").values)
                chosen = draw(st.lists(st.sampled_from(members), max_size=3, unique=True))
                args["onConflict"] = {"update": [Enum(m) for m in chosen]}
        else:
            args["where"] = gen.where(draw, table)
            if kind == "update":
                args["set"] = self.changes(draw, table)
            if draw(st.integers(0, 99)) < 85:
                # Mostly room for every match: fewer is TOO_MANY_MATCHES, and nothing runs.
                args["atMost"] = draw(st.sampled_from((1000, 50, 1000, 5, 1)))
        sels = [Sel("affectedCount")]
        if draw(st.booleans()):
            sels.append(Sel("rows", children=[Sel("id"), *gen.leaves(draw, table.type_name, 3)]))
        return Sel(name, args, sels)

    def row(self, draw: st.DrawFn, table: TableSpec, upsert: bool) -> dict[str, Any]:
        gen = self.gen
        kind = gen.input(table.type_name + "Insert")
        own = gen.fields_of(table)
        stored = gen.pool.rows.get(table.name) or [{}]
        base = draw(st.sampled_from(stored))
        out: dict[str, Any] = {}
        for name, input_field in kind.fields.items():
            spec_field = own.get(name)
            value = base.get(spec_field.name) if spec_field else None
            if spec_field is not None and value is not None:
                out[name] = self.value(draw, input_field.type, value)
        keep_key = upsert and bool(base) and draw(st.booleans())
        for spec_field in table.fields:
            unique = spec_field.name == table.key or spec_field.unique
            if unique and spec_field.gql_name in kind.fields and not keep_key:
                out[spec_field.gql_name] = self.fresh(spec_field)
        if draw(st.integers(0, 99)) < 20:
            name = draw(st.sampled_from(sorted(kind.fields)))
            out[name] = self.hostile(draw, kind.fields[name].type)
        return out

    def changes(self, draw: st.DrawFn, table: TableSpec) -> dict[str, Any]:
        """One or two fields to set: a value another row holds, or a hostile one. Never the
        key: other rows may link to it (RESTRICTED)."""
        gen = self.gen
        kind = gen.input(table.type_name + "Set")
        own = gen.fields_of(table)
        names = sorted(n for n in kind.fields if n in own and own[n].name != table.key)
        out: dict[str, Any] = {}
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
            ctx = Ctx(table, own[name])
            of = kind.fields[name].type
            if draw(st.integers(0, 99)) < 15:
                out[name] = self.hostile(draw, of)
            elif own[name].type is FieldType.JSON:
                out[name] = gen.values.json_piece(draw, ctx)
            elif isinstance(graphql.get_nullable_type(of), GraphQLList):
                element = graphql.get_named_type(of)
                out[name] = [
                    gen.values.scalar(draw, element, ctx) for _ in range(draw(st.integers(0, 3)))
                ]
            else:
                out[name] = gen.values.scalar(draw, graphql.get_named_type(of), ctx)
        return out

    def value(self, draw: st.DrawFn, of: GraphQLInputType, value: Any) -> Any:
        """A stored value as the input of its field."""
        named = graphql.get_named_type(of)
        nullable = graphql.get_nullable_type(of)
        if isinstance(nullable, GraphQLList):
            return [self.value(draw, nullable.of_type, item) for item in value]
        if isinstance(named, GraphQLEnumType):
            return Enum(enum_member(value))
        if named.name in ("JSON", "Boolean"):
            return value
        return self.gen.values.as_input(draw, named.name, value)

    def hostile(self, draw: st.DrawFn, of: GraphQLInputType) -> Any:
        named = graphql.get_named_type(of)
        if isinstance(named, GraphQLEnumType):
            value: Any = Enum(draw(st.sampled_from(sorted(named.values))))
        elif named.name == "Boolean":
            value = draw(st.booleans())
        else:
            value = self.gen.values.hostile(draw, named.name, None)
        return [value] if isinstance(graphql.get_nullable_type(of), GraphQLList) else value

    def fresh(self, spec_field: FieldSpec) -> Any:
        """A value no stored row has, for the key and other unique fields."""
        self.made += 1
        if spec_field.type in (FieldType.INT, FieldType.BIGINT):
            return 10**6 + self.made
        if spec_field.type is FieldType.UUID:
            return str(uuid.UUID(int=self.made))
        return f"fuzz-{self.made}"


# -- the world: one seeded database, its app, and what every answer must be ------------------------


@dataclass
class Stats:
    """How the requests of one test ended."""

    total: int = 0
    clean: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)

    def record(self, body: dict[str, Any]) -> None:
        self.total += 1
        errors = body.get("errors") or []
        if not errors:
            self.clean += 1
        for error in errors:
            code = str(error["extensions"]["code"])
            self.codes[code] += 1
            self.samples.setdefault(code, str(error["message"])[:200])

    @property
    def ratio(self) -> float:
        return self.clean / self.total if self.total else 0.0

    def summary(self, name: str, backend: str) -> str:
        codes = ", ".join(f"{code} {count}" for code, count in self.codes.most_common())
        samples = "".join(f"\n  {code}: {text}" for code, text in self.samples.items())
        return (
            f"[{backend}] {name}: {self.clean}/{self.total} requests ({self.ratio:.0%}) ran "
            f"without errors; error codes: {codes or 'none'}{samples}"
        )


class World:
    """One seeded database with its app, its pool of values and the generators over them.
    A plain class with a short repr: pytest prints it in a failure, and a dataclass would print
    every pooled value."""

    def __init__(
        self, db: TestDatabase, spec: Spec, catalog: Catalog, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.db, self.catalog, self.loop = db, catalog, loop
        self.backend = db.backend
        self.app = create_app(graph=GraphContext(spec, catalog, db.engine, Settings(debug=DEBUG)))
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://fuzz"
        )
        self.schemas = schemas_for(spec)
        self.pool = Pool(spec, read_tables(db.url, spec))
        self.gen = Gen(spec, self.schemas, self.pool, exclusions(self.backend))
        self.initial = self.fingerprint()

    def __repr__(self) -> str:
        return f"World({self.backend})"

    def fingerprint(self) -> list[tuple[Any, ...]]:
        """Every table's row count, newest update and largest id, in one statement: any
        write would move one of them."""
        parts: list[Any] = [
            select(
                literal_column(f"'{name}'").label("name"),
                func.count().label("rows"),
                func.max(table.c.updated_at).label("newest"),
                func.max(table.c.id).label("top"),
            ).select_from(table)
            for name, table in sorted(self.catalog.tables.items())
        ]
        with self.db.engine.connect() as conn:
            found = conn.execute(union_all(*parts)).all()
        return sorted((str(row[0]), row[1], str(row[2]), row[3]) for row in found)

    def post(self, request: Request) -> httpx.Response:
        body = json.dumps({"query": request.document, "variables": request.variables})
        headers = {"Content-Type": "application/json"}
        send = self.client.post("/graphql", content=body, headers=headers)
        return self.loop.run_until_complete(send)

    def check(self, request: Request, stats: Stats, writes: bool = False) -> dict[str, Any]:
        """Send one request and assert what every answer must be (the module docstring).
        A query changes nothing; a mutation (one field) that answers an error changes
        nothing either ("an error means nothing of that field was kept")."""
        before = self.fingerprint() if writes else self.initial
        response = self.post(request)
        where = f"on {self.backend}, request:\n{request.document}\nvariables: {request.variables}"
        answer = f"HTTP {response.status_code}: {response.text[:4000]}"
        assert response.status_code < 500, f"{where}\n{answer}"
        body = response.json()
        assert isinstance(body, dict), f"{where}\n{answer}"
        assert body.keys() <= {"data", "errors", "extensions"}, f"{where}\n{answer}"
        assert "data" in body or "errors" in body, f"{where}\n{answer}"
        errors = body.get("errors")
        if response.status_code != 200:
            assert "data" not in body and errors, f"{where}\n{answer}"
        if errors is not None:
            assert isinstance(errors, list) and errors, f"{where}\n{answer}"
            for error in errors:
                assert isinstance(error.get("message"), str), f"{where}\n{answer}"
                assert error["message"], f"{where}\n{answer}"
                code = (error.get("extensions") or {}).get("code")
                assert isinstance(code, str) and code, f"{where}\n{answer}"
                assert code != "INTERNAL_SERVER_ERROR", f"{where}\n{answer}"
            if not DEBUG:
                sent = request.text()
                shown = json.dumps(errors, ensure_ascii=False)
                for marker in LEAK_MARKERS:
                    leaked = marker in shown and marker not in sent
                    assert not leaked, f"{marker!r} leaked {where}\n{answer}"
        if not writes or errors:
            assert self.fingerprint() == before, f"the data changed {where}\n{answer}"
        stats.record(body)
        return body

    def valid(self, request: Request) -> None:
        """The generators' own check: a request must be valid GraphQL for the real schema, or
        the fuzz measures nothing but GRAPHQL_VALIDATION_FAILED."""
        problems = graphql.validate(self.schemas.real, graphql.parse(request.document))
        assert not problems, f"generated an invalid document: {problems}\n{request.document}"

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())


@pytest.fixture(scope="module")
def world(seeded_db: TestDatabase, spec: Spec, catalog: Catalog) -> Iterator[World]:
    """Hypothesis runs sync tests: they drive the async app through a loop of their own."""
    loop = asyncio.new_event_loop()
    found = World(seeded_db, spec, catalog, loop)
    try:
        yield found
    finally:
        found.close()
        loop.close()


@pytest.fixture(scope="module")
def scratch(
    world: World, spec: Spec, catalog: Catalog, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A throwaway database of the same kind with the same sample data, for mutations: the
    seeded database is shared by the whole session and must not change."""
    with fresh_database(world.backend, tmp_path_factory.mktemp("fuzz-writes")) as db:
        create_schema(db.engine, catalog)
        now = dt.datetime.now(dt.UTC)
        seed_database(db.engine, catalog, scale=1, seed=7, if_empty=False, progress=False, now=now)
        found = World(db, spec, catalog, world.loop)
        try:
            yield found
        finally:
            found.close()


def report(stats: Stats, name: str, world: World) -> None:
    summary = stats.summary(name, world.backend)
    print(summary)
    assert stats.total > 0, summary
    assert stats.ratio >= MIN_CLEAN_RATIO, summary


# -- the tests -------------------------------------------------------------------------------------


def test_schema_driven_queries(world: World) -> None:
    """hypothesis-graphql's documents over every root field, values redrawn from the data."""
    stats = Stats()
    query = world.schemas.real.query_type
    assert query is not None
    roots = sorted(query.fields)

    @st.composite
    def requests(draw: st.DrawFn) -> Request:
        root = draw(st.sampled_from(roots))
        document = draw(world.schemas.documents(root))
        sels = Repair(world.gen, draw).document(document)
        return render(sels, world.schemas.real, hoist=draw(st.integers(0, 99)) < 30)

    @budget("schema")
    @given(request=requests())
    def run(request: Request) -> None:
        world.valid(request)
        world.check(request, stats)

    run()
    report(stats, "schema-driven queries", world)


def test_traversals(world: World) -> None:
    """Nested relation traversals with filters, several sort keys and per-parent pages."""
    stats = Stats()

    @st.composite
    def requests(draw: st.DrawFn) -> Request:
        roots = world.gen.traversal(draw)
        return render(roots, world.schemas.real, hoist=draw(st.integers(0, 99)) < 30)

    @budget("traversal")
    @given(request=requests())
    def run(request: Request) -> None:
        world.valid(request)
        world.check(request, stats)

    run()
    report(stats, "traversals", world)


def walk_pages(
    world: World,
    page: Callable[[str | None], Request],
    pages: int,
    stats: Stats,
    disjoint: bool = True,
) -> None:
    """Ask for the first page and up to `pages` more, each `after` the previous answer's
    `endCursor`; with `disjoint`, no row may come twice (docs/api.md, "Pages")."""
    seen: set[str] = set()
    after: str | None = None
    for _ in range(pages + 1):
        request = page(after)
        body = world.check(request, stats)
        # The walked connection is the request's only root field.
        found = next(iter((body.get("data") or {}).values()), None)
        if body.get("errors") or found is None:
            return
        ids = [edge["node"]["id"] for edge in found["edges"]]
        again = seen & set(ids)
        assert not (disjoint and again), (
            f"rows {sorted(again)} came twice on {world.backend}: {request}"
        )
        seen.update(ids)
        info = found["pageInfo"]
        if not info["hasNextPage"] or not info["endCursor"]:
            return
        after = info["endCursor"]


def moving_fields(spec: Spec) -> set[str]:
    """GraphQL names of computed fields whose value moves with the clock (`Elapsed` to now)."""

    def moves(node: Any) -> bool:
        if isinstance(node, Elapsed) and node.end is None:
            return True
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            return any(moves(getattr(node, f.name)) for f in dataclasses.fields(node))
        return False

    return {f.gql_name for t in spec.tables.values() for f in t.computed if moves(f.computed)}


@dataclass
class Walk:
    """A connection walked page by page: the first page's field, and how many more pages to
    ask for with the `after` cursor of the previous real answer."""

    first_page: Sel
    pages: int
    hoist: bool


def test_connection_walks(world: World) -> None:
    """Connections walked with cursors from the previous answer: every page runs, and no row
    comes twice (docs/api.md, "Pages")."""
    stats = Stats()

    @st.composite
    def walks(draw: st.DrawFn) -> Walk:
        table = draw(st.sampled_from(world.gen.tables))
        sel = world.gen.connection(draw, table)
        return Walk(sel, draw(st.integers(1, 4)), draw(st.booleans()))

    moving = moving_fields(world.gen.spec)

    @budget("walk")
    @given(walk=walks())
    def run(walk: Walk) -> None:
        sel = walk.first_page

        def page(after: str | None) -> Request:
            args = {**sel.args, "after": after} if after else sel.args
            request = render([dataclasses.replace(sel, args=args)], world.schemas.real, walk.hoist)
            world.valid(request)
            return request

        order = json.dumps(plain(sel.args.get("orderBy")))
        known = world.gen.excluded.moving_sort_walk and any(name in order for name in moving)
        walk_pages(world, page, walk.pages, stats, disjoint=not known)

    run()
    report(stats, "connection walks", world)


def test_aggregates(world: World) -> None:
    """Root and relation aggregates: groupBy, buckets, timeZone, having, orderBy, fill,
    percentiles, pages."""
    stats = Stats()

    @st.composite
    def requests(draw: st.DrawFn) -> Request:
        roots = world.gen.aggregates(draw)
        return render(roots, world.schemas.real, hoist=draw(st.integers(0, 99)) < 30)

    @budget("aggregate")
    @given(request=requests())
    def run(request: Request) -> None:
        world.valid(request)
        world.check(request, stats)

    run()
    report(stats, "aggregates", world)


def test_mutations(scratch: World) -> None:
    """Inserts, upserts, updates and deletes on the throwaway copy: never a 5xx or an
    INTERNAL_SERVER_ERROR, and a refused write changes nothing."""
    stats = Stats()
    writes = Writes(scratch.gen)

    @st.composite
    def requests(draw: st.DrawFn) -> Request:
        return render([writes.mutation(draw)], scratch.schemas.real, True, mutation=True)

    @budget("mutation")
    @given(request=requests())
    def run(request: Request) -> None:
        scratch.valid(request)
        scratch.check(request, stats, writes=True)

    run()
    report(stats, "mutations", scratch)


@pytest.mark.parametrize("case", REGRESSIONS, ids=[r.name for r in REGRESSIONS])
def test_regression(world: World, case: Regression, request: pytest.FixtureRequest) -> None:
    """Defects the fuzz found, minimised; strict xfail where they still fail, so that a fix
    shows (then empty `broken_on`, which also brings the shape back into the fuzz)."""
    if world.backend in case.broken_on:
        request.applymarker(pytest.mark.xfail(strict=True, reason=case.reason))
    if case.walk:
        walk_pages(world, lambda after: Request(case.document, {"after": after}), 5, Stats())
    else:
        world.check(Request(case.document, dict(case.variables)), Stats())
