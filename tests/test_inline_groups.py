"""Relation aggregates built inside the rows' statement (graph/gql/inline_groups.py,
graph/sql/group_object.py): the same bytes as the reference path, in one statement.

Generated documents, from the GraphQL schema of each spec of the differential world (the
shipped tables and the zoo, with adversarial rows: nulls, ties, a key listed twice in a list
column, dangling links, Unicode, extreme numbers, boundary datetimes): a root list with or
without a limit, a lookup, or a connection's page (its first three pages walked by cursor, with
or without an `orderBy`), whose rows (and a to-many and a to-one relation's rows) select
one or two relation aggregates with a random part of their group: `count`, `__typename`,
`key {...}`, `countDistinct`, `min`, `max`, `sum`, `avg` and `percentile(p:)` (p at 0, 1,
halves, a third, 0.95) of any of their fields (floats, bigint sums and computed fields too,
which keep their own statement), a `where` on the linked rows, a `limit` or `offset`. Each
is posted to the compiled path and to the reference path on SQLite and PostgreSQL; the
answers must be the same bytes. The count of aggregates built inline
shows the generator reaches them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import orjson
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.gql import compiled
from graph.gql.build import build_schema
from graph.naming import connection_root_name, relation_aggregate_name
from graph.settings import Settings
from graph.spec.model import Spec, TableSpec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests import test_differential as differential
from tests.api import Api
from tests.databases import TestDatabase
from tests.test_compiled import body, compiled_api, same_bytes, same_bytes_on
from tests.test_compiled_groups import limited_api
from tests.test_differential import FIXED_NOW, FUZZ_EXAMPLES, Backend, World, budget

world = differential.world
own_loop = differential.own_loop

# Relation aggregates met by the compiled path, by whether the statement built them.
MET: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def count_inline_groups() -> Iterator[None]:
    original = compiled.inline_group

    def counted(*args: Any, **kwargs: Any) -> Any:
        group = original(*args, **kwargs)
        MET["inline" if group is not None else "own statement"] += 1
        MET["grouped inline"] += group is not None and group.listed
        MET["joined inline"] += group is not None and group.joined
        return group

    compiled.inline_group = counted  # type: ignore[assignment]
    yield
    compiled.inline_group = original  # type: ignore[assignment]
    print(f"\nrelation aggregates: {dict(MET)}")
    if MET["generated"]:  # the generated documents must reach both ways, not only allow them
        assert MET["inline"] >= 40 and MET["own statement"] >= 10, MET
        assert MET["grouped inline"] >= 10 and MET["joined inline"] >= 5, MET


def _object(kind: Any) -> GraphQLObjectType:
    named = get_named_type(kind)
    assert isinstance(named, GraphQLObjectType)
    return named


class Documents:
    """Documents over one spec's schema (module docstring)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.schema: GraphQLSchema = build_schema(spec, Settings())._schema
        self.parents = [t for t in spec.tables.values() if any(e.many for e in t.relations)]

    def document(self, draw: st.DrawFn) -> str:
        table = draw(st.sampled_from(self.parents))
        rows = self.rows(draw, table, depth=0)
        root = draw(st.sampled_from(["lookup", "lookup", "list", "list", "connection"]))
        if root == "lookup":
            key = draw(st.integers(1, 40))
            return f"{{ one: {table.single_root}(id: {key}) {{ {rows} }} }}"
        if root == "connection":
            # A page of first + 1 rows: within 20, its nodes' groups are built per row;
            # beyond, joined to the page's rows. Walked by its cursor (test below).
            first = draw(st.sampled_from([1, 4, 19, 20, 30]))
            total = "totalCount " if draw(st.booleans()) else ""
            nodes = draw(
                st.sampled_from([f"nodes {{ {rows} }}", f"edges {{ cursor node {{ {rows} }} }}"])
            )
            connection = connection_root_name(table.list_root)
            order = self.page_order(draw, connection)
            return (
                f"query($after: String) {{ page: {connection}(first: {first}, after: $after"
                f"{order}) {{ {total}{nodes} pageInfo {{ hasNextPage endCursor }} }} }}"
            )
        limit = draw(st.sampled_from([1, 3, 6, 20, 40, None]))
        args = f"(limit: {limit})" if limit is not None else ""
        return f"{{ rows: {table.list_root}{args} {{ {rows} }} }}"

    def page_order(self, draw: st.DrawFn, connection: str) -> str:
        """None, or an `orderBy` of one of the connection's sortable fields (nulls and ties
        among them: the cursor's condition repeats in the joined groups' subquery)."""
        order_arg = self.schema.query_type.fields[connection].args.get("orderBy")
        if order_arg is None or not draw(st.booleans()):
            return ""
        order_type = get_named_type(order_arg.type)
        assert isinstance(order_type, GraphQLInputObjectType)
        sortable = {
            name: kind
            for name, field in order_type.fields.items()
            if isinstance(kind := get_named_type(field.type), GraphQLEnumType)
        }
        if not sortable:
            return ""
        name = draw(st.sampled_from(sorted(sortable)))
        direction = draw(st.sampled_from(sorted(sortable[name].values)))
        return f", orderBy: [{{{name}: {direction}}}]"

    def rows(self, draw: st.DrawFn, table: TableSpec, depth: int) -> str:
        parts = ["id"]
        many = [e for e in table.relations if e.many]
        for n in range(draw(st.integers(1, 2))):
            end = draw(st.sampled_from(many))
            parts.append(
                f"a{n}: {self.aggregate(draw, table, relation_aggregate_name(end.gql_name))}"
            )
        if depth == 0:
            end = draw(st.sampled_from(table.relations))
            target = self.spec.table(end.target)
            if any(e.many for e in target.relations) and draw(st.booleans()):
                limit = f"(limit: {draw(st.integers(1, 3))})" if end.many else ""
                parts.append(f"{end.gql_name}{limit} {{ {self.rows(draw, target, 1)} }}")
        return " ".join(parts)

    def aggregate(self, draw: st.DrawFn, table: TableSpec, name: str) -> str:
        parent = self.schema.type_map[table.type_name]
        assert isinstance(parent, GraphQLObjectType)
        group = _object(parent.fields[name].type)
        args = []
        target_type = self.target_fields(group)
        where = draw(st.sampled_from(["", "gt", "lte", "isNull"]))
        if where in ("gt", "lte"):
            args.append(f"where: {{id: {{{where}: {draw(st.integers(0, 30))}}}}}")
        elif where == "isNull" and target_type:
            field = draw(st.sampled_from(target_type))
            args.append(
                f"where: {{{field}: {{isNull: {draw(st.sampled_from(['true', 'false']))}}}}}"
            )
        # A plain aggregate (one group per row, no having or page): the ones joined to the
        # rows of a long list or page, which a grouped one never is.
        plain = draw(st.integers(0, 2)) == 0
        grouped = [] if plain else self.grouped_by(draw, parent.fields[name], target_type)
        if grouped:
            keys = ", ".join(f"{{field: {_group_field(f)}}}" for f in grouped)
            args.append(f"groupBy: [{keys}]")
        having = "" if plain else draw(st.sampled_from(["", "", *HAVING]))
        if having and target_type:
            args.append("having: " + having.replace("FIELD", draw(st.sampled_from(target_type))))
        order = draw(st.sampled_from(["", "", "count", "key", "countDistinct"]))
        direction = draw(st.sampled_from(["ASC", "DESC", "ASC_NULLS_FIRST", "DESC_NULLS_LAST"]))
        if order == "count":
            args.append(f"orderBy: [{{count: {direction}}}]")
        elif order == "key" and grouped:
            args.append(f"orderBy: [{{key: {{{grouped[-1]}: {direction}}}}}]")
        elif order == "countDistinct" and target_type:
            field = draw(st.sampled_from(target_type))
            args.append(f"orderBy: [{{countDistinct: {{{field}: {direction}}}}}, {{count: DESC}}]")
        page = (
            ""
            if plain
            else draw(
                st.sampled_from(
                    [
                        "",
                        "",
                        "",
                        "limit: 0",
                        "limit: 1",
                        "offset: 1",
                        "limit: 3",
                        "limit: 2, offset: 1",
                    ]
                )
            )
        )
        if page:
            args.append(page)
        items = self.group(draw, group)
        return f"{name}{'(' + ', '.join(args) + ')' if args else ''} {{ {items} }}"

    def grouped_by(self, draw: st.DrawFn, aggregate: Any, target_type: list[str]) -> list[str]:
        """None, one or two of the linked table's fields to group by (GraphQL names)."""
        field_enum = get_named_type(
            get_named_type(aggregate.args["groupBy"].type).fields["field"].type
        )
        assert isinstance(field_enum, GraphQLEnumType)
        groupable = [f for f in target_type if _group_field(f) in field_enum.values]
        if not groupable:
            return []
        # No more keys than fields: a unique list longer than that cannot be drawn.
        count = min(draw(st.sampled_from([0, 0, 1, 1, 2])), len(groupable))
        return draw(
            st.lists(st.sampled_from(groupable), min_size=count, max_size=count, unique=True)
        )

    def target_fields(self, group: GraphQLObjectType) -> list[str]:
        """The linked table's fields that its group's `key` lists (scalar ones)."""
        key = _object(group.fields["key"].type)
        return [
            n
            for n, f in key.fields.items()
            if not isinstance(get_named_type(f.type), GraphQLObjectType)
        ]

    def group(self, draw: st.DrawFn, group: GraphQLObjectType) -> str:
        chosen = draw(
            st.lists(
                st.sampled_from(
                    [
                        "count",
                        "__typename",
                        "key",
                        "countDistinct",
                        "min",
                        "max",
                        "sum",
                        "avg",
                        "percentile",
                        "c: count",
                    ]
                ),
                min_size=1,
                max_size=5,
                unique=True,
            )
        )
        items = []
        for item in chosen:
            if item in ("count", "__typename", "c: count"):
                items.append(item)
                continue
            inner = _object(group.fields[item].type)
            names = sorted(inner.fields)
            picked = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
            if draw(st.integers(0, 4)) == 0:
                picked.append("__typename")
            fields = " ".join(self.leaf(n, inner) for n in picked)
            if item == "percentile":
                p = draw(st.sampled_from(["0", "1", "0.5", "0.25", "0.3333333333333333", "0.95"]))
                item = f"p{len(items)}: percentile(p: {p})"
            items.append(f"{item} {{ {fields} }}")
        return " ".join(items) or "count"

    @staticmethod
    def leaf(name: str, parent: GraphQLObjectType) -> str:
        """A field of a group's object; a to-one relation's key object with its __typename."""
        if name != "__typename" and isinstance(
            get_named_type(parent.fields[name].type), GraphQLObjectType
        ):
            return f"{name} {{ __typename }}"
        return name


# `having` filters the generator draws (FIELD: one of the linked table's fields).
HAVING = [
    "{count: {gt: 1}}",
    "{countDistinct: {FIELD: {gte: 2}}}",
    "{or: [{count: {lte: 1}}, {count: {gt: 3}}]}",
    "{not: {count: {eq: 1}}}",
]


def _group_field(name: str) -> str:
    """A field's GraphQL name as the group-by enum writes it (`startedAt`: STARTED_AT)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


_DOCUMENTS: dict[str, Documents] = {}


def documents(world: World) -> Documents:
    if world.name not in _DOCUMENTS:
        _DOCUMENTS[world.name] = Documents(world.spec)
    return _DOCUMENTS[world.name]


@settings(budget("queries"), max_examples=FUZZ_EXAMPLES or 60)
@given(data=st.data())
def test_groups_built_in_the_statement_are_the_reference_paths_bytes(
    world: World, data: st.DataObject
) -> None:
    document = data.draw(st.composite(lambda draw: documents(world).document(draw))(), "doc")
    MET["generated"] += 1
    if "$after" not in document:
        same_bytes(world, document, {})
        return
    for backend in world.backends:  # a connection: its first three pages, by its cursor
        after = None
        for _page in range(3):
            answer = orjson.loads(same_bytes_on(world, backend, document, {"after": after}))
            page = (answer.get("data") or {}).get("page")
            # An error (a float sum beyond a double's range) ends the walk: both paths gave it.
            if page is None or not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]


HAND_PICKED = """
{ playbooks(limit: 6) {
    playbookName
    executionsAggregate(where: {status: {eq: FAILED}}) {
      __typename n: count key { status __typename playbook { __typename } }
      ...Extremes
      countDistinct { component status startedAt durationMs }
      sum { exitCode } avg { durationMs exitCode }
      p95: percentile(p: 0.95) { durationMs exitCode }
      median: percentile(p: 0.5) { __typename exitCode }
    }
    executions(limit: 3) {
      executionId
      relatedFeedbackAggregate { count max { priority } min { priority } }
      playbook { executionsAggregate { count } }
    }
} }
fragment Extremes on ExecutionLogGroup {
  min { startedAt component durationMs exitCode status }
  max { startedAt component durationMs exitCode status __typename }
}
"""


def test_one_statement_answers_rows_and_their_groups(world: World) -> None:
    """Aliases, a fragment, __typename at three levels, every extreme type, integer sums,
    averages and two percentiles, a relation's own where, 18 runs below 6 playbooks: the
    reference path's bytes, and ONE statement for the root field."""
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    same_bytes(world, HAND_PICKED, {})
    for backend in world.backends:
        answer = _answer_in(world, backend, HAND_PICKED, {}, statements=1)
        assert answer["extensions"]["paths"] == {"playbooks": "compiled"}
        groups = [p["executionsAggregate"] for p in answer["data"]["playbooks"]]
        assert all(len(g) == 1 and g[0]["__typename"] == "ExecutionLogGroup" for g in groups)
        assert any(g[0]["n"] > 0 for g in groups)


def test_more_parents_than_groups_allowed_keep_the_reference_error(world: World) -> None:
    """GRAPH_MAX_GROUPS: a limit above it keeps the aggregate's own statement, whose
    LIMIT_EXCEEDED both paths answer; a limit within it is built in the statement (no error on
    either path). Without a limit, the default page size (100) is the bound. Within the cap,
    more parents than MAX_PARENTS: a root list's are grouped once and joined to its rows (one
    statement), those below a relation keep the aggregate's own statement."""
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    document = "{ playbooks%s { playbookName executionsAggregate { count } } }"
    for backend in world.backends:
        for limit, refused in (("(limit: 3)", True), ("(limit: 2)", False), ("", True)):
            fast = limited_api(backend, compiled=True, max_groups=2)
            slow = limited_api(backend, compiled=False, max_groups=2)
            with fast.counter.watching(backend.db.engine) as counter:
                answer = body(fast, world, document % limit, {})
            assert answer == body(slow, world, document % limit, {})
            assert (b"LIMIT_EXCEEDED" in answer) is refused, answer[:300]
            # Refused: the rows' statement, then the aggregate's own, which fails.
            assert counter.count == (2 if refused else 1), counter.statements
        api = compiled_api(backend)
        below = "{ playbooks%s { executions(limit: 3) { relatedFeedbackAggregate { count } } } }"
        for query, statements in (
            (document % "(limit: 20)", 1),
            (document % "(limit: 21)", 1),  # grouped once and joined to the rows
            (document % "", 1),
            (below % "(limit: 6)", 1),  # 18 runs
            (below % "(limit: 7)", 2),  # 21 runs below a root list: its own statement
        ):
            with api.counter.watching(backend.db.engine) as counter:
                answer = world.loop.run_until_complete(api.post(query, {}))
            assert "errors" not in answer and counter.count == statements, counter.statements
            same_bytes_on(world, backend, query, {})


# Runs of each playbook: durations (bigint, never negative) and exit codes (int). The first
# is an average a double's division gets wrong when the sum is rounded first (the exact sum
# over the count, rounded once, is the answer); sums beyond 64 bits; ties; nulls only.
RUNS_BY_PLAYBOOK: dict[str, list[tuple[int | None, int | None]]] = {
    "a-rounded-once": [
        (62598638280652003, 2**31 - 1),
        (38139227113959256, 2**31 - 1),
        (56907017076374389, -(2**31)),
    ],
    "b-beyond-64-bits": [(2**63 - 1, -(2**31)), (2**63 - 1, -(2**31)), (2**63 - 2, 7)],
    "c-ties": [(5, 0), (5, 0), (5, 0), (5, 0)],
    "d-nulls": [(None, None), (None, None)],
    "e-no-runs": [],
    "f-🙂 spread": [(1, -1), (2, 1), (10, 3), (100, None), (7, 5)],
}

MEASURES = """query Measures($p: Float!, $limit: Int!, $offset: Int!, $skip: String!) {
  playbooks(
    where: {playbookName: {neq: $skip}}, orderBy: [{playbookName: ASC}], limit: $limit,
    offset: $offset
  ) {
    playbookName
    executionsAggregate {
      count
      sum { exitCode }
      avg { durationMs exitCode }
      p0: percentile(p: 0) { durationMs }
      third: percentile(p: 0.3333333333333333) { durationMs exitCode }
      asked: percentile(p: $p) { __typename durationMs exitCode }
    }
  }
}"""


def _model_percentile(p: float, values: list[int | None]) -> float | None:
    """PostgreSQL's documented percentile_cont: interpolate between the values at the floor
    and the ceiling of p * (n - 1) among the sorted non-null values, read as doubles."""
    ranked = sorted(float(v) for v in values if v is not None)
    if not ranked:
        return None
    position = p * (len(ranked) - 1)
    first, second = math.floor(position), math.ceil(position)
    return ranked[first] + (ranked[second] - ranked[first]) * (position - first)


def _model_group(runs: list[tuple[int | None, int | None]], p: float) -> dict[str, Any]:
    durations = [d for d, _ in runs]
    codes = [c for _, c in runs]

    def average(values: list[int | None]) -> float | None:
        known = [v for v in values if v is not None]
        return float(Fraction(sum(known), len(known))) if known else None

    known_codes = [c for c in codes if c is not None]
    return {
        "count": len(runs),
        "sum": {"exitCode": str(sum(known_codes)) if known_codes else None},
        "avg": {"durationMs": average(durations), "exitCode": average(codes)},
        "p0": {"durationMs": _model_percentile(0, durations)},
        "third": {
            "durationMs": _model_percentile(0.3333333333333333, durations),
            "exitCode": _model_percentile(0.3333333333333333, codes),
        },
        "asked": {
            "__typename": "ExecutionLogPercentiles",
            "durationMs": _model_percentile(p, durations),
            "exitCode": _model_percentile(p, codes),
        },
    }


async def test_sums_averages_and_percentiles_are_built_exactly(
    empty_db: TestDatabase, spec: Spec, catalog: Catalog
) -> None:
    """Integer sums, averages and percentiles of linked rows, built in the rows' statement:
    the independent model's values (an exact average rounded once, where dividing the rounded
    sum gives another double; sums beyond 64 bits; ties; nulls only; no linked row), the
    reference path's bytes, and one statement per request, `p` given as a variable too
    (another `p`: another statement, never the first one's answer); under a list of at most
    20 rows and, grouped once and joined to the rows, of more (an offset, a `where` on the
    list; runs of no playbook and of a dangling one)."""
    create_schema(empty_db.engine, catalog)
    api = Api(empty_db, spec, catalog, Settings(debug=True), clock=lambda: FIXED_NOW)
    reference = Api(
        empty_db, spec, catalog, Settings(debug=True, compiled=False), clock=lambda: FIXED_NOW
    )
    plain = Api(empty_db, spec, catalog, Settings(), clock=lambda: FIXED_NOW)
    plain_reference = Api(
        empty_db, spec, catalog, Settings(compiled=False), clock=lambda: FIXED_NOW
    )
    total, count = sum(RUNS_BY_PLAYBOOK["a-rounded-once"][i][0] or 0 for i in range(3)), 3
    assert total / count != float(total) / count  # the case is one a rounded sum gets wrong
    n = 0
    for name, runs in RUNS_BY_PLAYBOOK.items():
        await api.data(
            "mutation($name: String!) { insertPlaybooks(rows: [{playbookName: $name,"
            " actions: [], riskLevel: LOW}]) { affectedCount } }",
            {"name": name},
        )
        rows = []
        for duration, code in runs:
            n += 1
            rows.append(
                {
                    "executionId": f"run-{n}",
                    "commandType": "DEPLOY",
                    "component": "api",
                    "status": "SUCCEEDED",
                    "linkedPlaybookId": name,
                    "durationMs": None if duration is None else str(duration),
                    "exitCode": code,
                }
            )
        if rows:
            await api.data(
                "mutation($rows: [ExecutionLogInsert!]!) { insertExecutionLogs(rows: $rows)"
                " { affectedCount } }",
                {"rows": rows},
            )
    # Runs of no playbook: a dangling link, no link.
    await api.data(
        "mutation($rows: [ExecutionLogInsert!]!) { insertExecutionLogs(rows: $rows)"
        " { affectedCount } }",
        {
            "rows": [
                {
                    "executionId": f"orphan-{i}",
                    "commandType": "DEPLOY",
                    "component": "api",
                    "status": "SUCCEEDED",
                    "linkedPlaybookId": link,
                    "durationMs": "9000000000000000000",
                    "exitCode": 99,
                }
                for i, link in enumerate(("no-such-playbook", None))
            ]
        },
    )
    # Within 20 rows a subquery per playbook; above, the groups grouped once and joined.
    pages = [(10, 0, "x"), (30, 0, "c-ties"), (30, 2, "x"), (21, 1, "d-nulls"), (3, 1, "x")]
    for p, (limit, offset, skip) in zip((0.95, 0.5, 0.25, 1.0, 0.0), pages, strict=True):
        variables = {"p": p, "limit": limit, "offset": offset, "skip": skip}
        with api.counter.watching(empty_db.engine) as counter:
            answer = await api.post(MEASURES, variables)
        assert answer["extensions"]["paths"] == {"playbooks": "compiled"}, answer
        assert counter.count == 1, counter.statements
        assert ("GROUP BY" in counter.statements[0]) is (limit > 20), counter.statements
        assert answer["data"] == (await reference.post(MEASURES, variables))["data"]
        kept = [(name, runs) for name, runs in RUNS_BY_PLAYBOOK.items() if name != skip]
        expected = [
            {"playbookName": name, "executionsAggregate": [_model_group(runs, p)]}
            for name, runs in kept[offset : offset + limit]
        ]
        assert answer["data"]["playbooks"] == expected
        body = orjson.dumps({"query": MEASURES, "variables": variables})
        assert (await plain.raw_post(body)).content == (
            await plain_reference.raw_post(body)
        ).content
    # While the app runs (kept documents, their bindings, the event loop's reader), the same
    # document with `p` changing back and forth: each answer the reference path's bytes.
    async with plain.app.router.lifespan_context(plain.app):
        for p, limit, skip in (
            (0.95, 10, "x"),
            (0.5, 30, "x"),
            (0.95, 10, "c-ties"),
            (0.5, 30, "c-ties"),
            (0.5, 30, "a-rounded-once"),
            (0.25, 30, "x"),
            (0.5, 10, "b-beyond-64-bits"),
            (0.0, 30, "f-🙂 spread"),
        ):
            variables = {"p": p, "limit": limit, "offset": 0, "skip": skip}
            body = orjson.dumps({"query": MEASURES, "variables": variables})
            for _ in range(2):
                again = await plain.raw_post(body)
                assert again.content == (await plain_reference.raw_post(body)).content


GROUPED = """
query($p: Float!) { playbooks(limit: 6) {
    playbookName
    byStatus: executionsAggregate(groupBy: [{field: STATUS}], orderBy: [{count: DESC}]) {
      __typename count key { status component __typename playbook { __typename } }
      max { startedAt } sum { exitCode } avg { durationMs } percentile(p: $p) { durationMs }
    }
    busiest: executionsAggregate(
      groupBy: [{field: COMPONENT}, {field: STATUS}], where: {durationMs: {isNull: false}},
      having: {or: [{count: {gt: 1}}, {sum: {exitCode: {gte: "3"}}}]},
      orderBy: [{max: {durationMs: DESC}}, {key: {component: ASC}}], limit: 2, offset: 1) {
      key { component status } count min { durationMs }
    }
    skipped: executionsAggregate(offset: 1) { count }
    none: executionsAggregate(limit: 0) { count }
    filtered: executionsAggregate(having: {count: {gt: 2}}) { count max { exitCode } }
    executions(limit: 3) {
      executionId
      relatedFeedbackAggregate(groupBy: [{field: PRIORITY}]) { key { priority } count }
    }
} }
"""


def test_grouped_relation_aggregates_are_one_statement(world: World) -> None:
    """groupBy on enum and string keys, `having` with `or`, an order by a measure and by a
    key, limit and offset per row, an ungrouped aggregate offset, limited to 0 and filtered
    by `having`, a grouped aggregate of 18 runs below 6 playbooks: the reference path's
    bytes, in ONE statement. A time bucket, an average in `having` and a string key without
    a limit keep the aggregate's own statement."""
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    for p in (0.5, 0.95):
        same_bytes(world, GROUPED, {"p": p})
    kept_apart = [
        "{ playbooks(limit: 3) { executionsAggregate(groupBy: [{field: STARTED_AT, bucket: DAY}])"
        " { count } } }",
        "{ playbooks(limit: 3) { executionsAggregate(groupBy: [{field: STATUS}],"
        " having: {avg: {durationMs: {gt: 10}}}) { count } } }",
        "{ playbooks(limit: 3) { executionsAggregate(groupBy: [{field: COMPONENT}]) { count } } }",
    ]
    for document in kept_apart:
        same_bytes(world, document, {})
    for backend in world.backends:
        playbooks = _answer_in(world, backend, GROUPED, {"p": 0.5}, statements=1)["data"]
        assert any(len(p["byStatus"]) > 1 for p in playbooks["playbooks"])
        assert all(p["skipped"] == [] and p["none"] == [] for p in playbooks["playbooks"])
        for document in kept_apart:
            _answer_in(world, backend, document, {}, statements=2)


def test_a_tables_groups_of_its_own_rows_read_the_linked_rows(world: World) -> None:
    """A relation of a table to itself (an animal's offspring), grouped: the grouped rows are
    the linked ones, not the row itself (found by the generator: the inner SELECT read the
    table under its own name, which the enclosing statement's row already had)."""
    if world.name != "zoo":
        pytest.skip("the document is of the zoo's tables")
    document = (
        "{ rows: animals(limit: 4) { id a0: offspringAggregate(groupBy: [{field: ANIMAL_NO}],"
        " limit: 1) { count key { animalNo } } } }"
    )
    same_bytes(world, document, {})
    for backend in world.backends:
        answer = _answer_in(world, backend, document, {}, statements=1)
        assert any(row["a0"] for row in answer["data"]["rows"])


def _answer_in(
    world: World, backend: Backend, document: str, variables: dict[str, Any], *, statements: int
) -> dict[str, Any]:
    """The compiled path's answer (without errors), asserted to take `statements`."""
    api = compiled_api(backend)
    with api.counter.watching(backend.db.engine) as counter:
        answer: dict[str, Any] = world.loop.run_until_complete(api.post(document, variables))
    assert "errors" not in answer, answer
    assert counter.count == statements, (document, counter.statements)
    return answer


def test_a_built_aggregates_filter_values_share_one_statement(world: World) -> None:
    """The compared values in the `where` of an aggregate the rows' statement builds are
    parameters (graph/sql/slots.py parameterized_with_groups): other values run the statement
    built for the first (one template kept), and answer as the reference path does."""
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    document = """query($since: DateTime!, $ms: BigInt!) { playbooks(limit: 4) {
      playbookName
      recent: executionsAggregate(where: {startedAt: {gte: $since}}) { count }
      long: executionsAggregate(groupBy: [{field: STATUS}], where: {durationMs: {gt: $ms}}) {
        key { status } count
      }
    } }"""
    values = [
        {"since": "2026-11-01T00:00:00Z", "ms": "0"},
        {"since": "2026-11-25T12:00:00Z", "ms": "50000"},
        {"since": "0001-01-01T00:00:00Z", "ms": "9223372036854775807"},
    ]
    for backend in world.backends:
        _answer_in(world, backend, document, values[0], statements=1)
        same_bytes_on(world, backend, document, values[0])
        templates = backend.api.graph.templates
        kept = len(templates)
        for variables in values[1:]:
            same_bytes_on(world, backend, document, variables)
            assert len(templates) == kept, f"{variables} built another statement"


FOLDED = """query($status: ExecutionLogStatus!) {
  playbooks(orderBy: [{playbookName: DESC}], limit: 30) {
    playbookName
    all: executionsAggregate { count max { startedAt } p95: percentile(p: 0.95) { durationMs } }
    failed: executionsAggregate(where: {status: {eq: $status}}) {
      count countDistinct { component } min { status startedAt } sum { exitCode }
      avg { durationMs }
    }
    long: executionsAggregate(where: {durationMs: {gt: 60000}}) { n: count max { durationMs } }
    untimed: executionsAggregate(where: {durationMs: {isNull: true}}) { count }
    decisions: governanceDecisionsAggregate { count }
} }"""


def test_aggregates_of_one_relation_read_its_rows_once(world: World) -> None:
    """Four aggregates of one relation over 30 playbooks (one without a filter, three with,
    one that keeps no row for most playbooks), beside another relation's: the reference
    path's bytes in ONE statement, the runs grouped once (each aggregate measures the rows
    its own filter keeps); without the unfiltered one, the runs no filter keeps are left
    out of the grouping."""
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    filtered_only = FOLDED.replace(
        "all: executionsAggregate { count max { startedAt } p95: percentile(p: 0.95) "
        "{ durationMs } }",
        "",
    )
    for status in ("FAILED", "SUCCEEDED", "RUNNING"):
        same_bytes(world, FOLDED, {"status": status})
        same_bytes(world, filtered_only, {"status": status})
    for backend in world.backends:
        for document, grouped in ((FOLDED, 2), (filtered_only, 2)):
            api = compiled_api(backend)
            with api.counter.watching(backend.db.engine) as counter:
                answer = world.loop.run_until_complete(api.post(document, {"status": "FAILED"}))
            assert "errors" not in answer, answer
            (statement,) = counter.statements
            # The runs' grouped subquery and the decisions': one each.
            assert statement.count("GROUP BY") == grouped, statement
            playbooks = answer["data"]["playbooks"]
            assert any(p["failed"][0]["count"] for p in playbooks)
            assert any(p["long"][0]["n"] == 0 for p in playbooks)


PAGE = """query($after: String) { playbooksConnection(first: %d, after: $after,
    orderBy: [{playbookName: ASC}]) {
  totalCount
  nodes {
    playbookName
    executionsAggregate { count avg { durationMs } }
    byStatus: executionsAggregate(groupBy: [{field: STATUS}]) { key { status } count }
  }
  edges { cursor node { failed: executionsAggregate(where: {status: {eq: FAILED}}) { count } } }
  pageInfo { hasNextPage endCursor }
} }"""


def test_a_pages_groups_are_built_in_its_statement(world: World) -> None:
    """A connection's page of at most 20 rows (first + 1 read) builds its nodes' relation
    aggregates per row, in the page's one statement, `nodes` and `edges { node }` alike, on
    the first page and after a cursor; a bigger page joins those of one group per row to its
    rows, and its grouped aggregate (unbounded groups per row) keeps its own statement."""
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    for backend in world.backends:
        for size, statements in ((6, 1), (20, 2), (25, 2)):
            first = _answer_in(world, backend, PAGE % size, {"after": None}, statements=statements)
            info = first["data"]["playbooksConnection"]["pageInfo"]
            after = info["endCursor"]
            # An empty page has no groups to read: its one statement alone.
            later = statements if info["hasNextPage"] else 1
            _answer_in(world, backend, PAGE % size, {"after": after}, statements=later)
            for variables in ({"after": None}, {"after": after}):
                same_bytes_on(world, backend, PAGE % size, variables)


JOINED_RANGE = """{ playbooks(limit: 40) {
  id none: governanceDecisionsAggregate(where: {id: {lte: 0}}) { count }
  %s
} }"""
SOME = "some: governanceDecisionsAggregate(where: {id: {lte: %d}}) { count }"


def test_a_joined_aggregates_id_range_keeps_its_rows(world: World) -> None:
    """SQLite 3.40 answered `link IN (SELECT ...)` beside an id range wrongly on an index of
    (subject type, link): the joined groups of 40 playbooks counted decisions of any id under
    `id <= 0` (found by the generated documents). An aggregate alone and two together (one
    grouped subquery) count only the rows their range keeps."""
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    for backend in world.backends:
        for other in ("", SOME % 25, SOME % 10**6):
            document = JOINED_RANGE % other
            same_bytes_on(world, backend, document, {})
            answer = _answer_in(world, backend, document, {}, statements=1)
            rows = answer["data"]["playbooks"]
            assert all(row["none"] == [{"count": 0}] for row in rows)
            if str(10**6) in other:  # the range keeps every decision: some playbooks have them
                assert any(row["some"][0]["count"] > 0 for row in rows)
