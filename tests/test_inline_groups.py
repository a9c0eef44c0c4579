"""Relation aggregates built inside the rows' statement (graph/gql/inline_groups.py,
graph/sql/group_object.py): the same bytes as the reference path, in one statement.

Generated documents, from the GraphQL schema of each spec of the differential world (the
shipped tables and the zoo, with adversarial rows: nulls, ties, a key listed twice in a list
column, dangling links, Unicode, extreme numbers, boundary datetimes): a root list with or
without a limit, or a lookup, whose rows (and a to-many and a to-one relation's rows) select
one or two relation aggregates with a random part of their group: `count`, `__typename`,
`key {...}`, `countDistinct`, `min`, `max` of any of their fields (floats and computed fields
too, which keep their own statement), now and then a `sum`, a `where` on the linked rows, a
`limit` or `offset`. Each is posted to the compiled path and to the reference path on SQLite
and PostgreSQL; the answers must be the same bytes. The count of aggregates built inline
shows the generator reaches them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import GraphQLObjectType, GraphQLSchema, get_named_type
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.gql import compiled
from graph.gql.build import build_schema
from graph.naming import relation_aggregate_name
from graph.settings import Settings
from graph.spec.model import Spec, TableSpec
from tests import test_differential as differential
from tests.test_compiled import body, compiled_api, same_bytes
from tests.test_compiled_groups import limited_api
from tests.test_differential import FUZZ_EXAMPLES, World, budget

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
        return group

    compiled.inline_group = counted  # type: ignore[assignment]
    yield
    compiled.inline_group = original  # type: ignore[assignment]
    print(f"\nrelation aggregates: {dict(MET)}")
    if MET["generated"]:  # the generated documents must reach both ways, not only allow them
        assert MET["inline"] >= 40 and MET["own statement"] >= 10, MET


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
        if draw(st.booleans()):
            key = draw(st.integers(1, 40))
            return f"{{ one: {table.single_root}(id: {key}) {{ {rows} }} }}"
        limit = draw(st.sampled_from([1, 3, 6, 20, 40, None]))
        args = f"(limit: {limit})" if limit is not None else ""
        return f"{{ rows: {table.list_root}{args} {{ {rows} }} }}"

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
        page = draw(st.sampled_from(["", "", "", "limit: 0", "limit: 1", "offset: 1"]))
        if page:
            args.append(page)
        items = self.group(draw, group)
        return f"{name}{'(' + ', '.join(args) + ')' if args else ''} {{ {items} }}"

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
                    ["count", "__typename", "key", "countDistinct", "min", "max", "sum", "c: count"]
                ),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
        items = []
        for item in chosen:
            if item in ("count", "__typename", "c: count"):
                items.append(item)
                continue
            if item == "sum" and draw(st.integers(0, 3)):
                continue  # now and then: it keeps the aggregate's own statement
            inner = _object(group.fields[item].type)
            names = sorted(inner.fields)
            picked = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
            if draw(st.integers(0, 4)) == 0:
                picked.append("__typename")
            fields = " ".join(self.leaf(n, inner) for n in picked)
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
    same_bytes(world, document, {})


HAND_PICKED = """
{ playbooks(limit: 6) {
    playbookName
    executionsAggregate(where: {status: {eq: FAILED}}) {
      __typename n: count key { status __typename playbook { __typename } }
      ...Extremes
      countDistinct { component status startedAt durationMs }
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
    """Aliases, a fragment, __typename at three levels, every extreme type, a relation's own
    where, 18 runs below 6 playbooks: the reference path's bytes, and ONE statement for the
    root field."""
    if world.name != "grace":
        pytest.skip("the document is of the shipped tables")
    same_bytes(world, HAND_PICKED, {})
    for backend in world.backends:
        api = compiled_api(backend)
        with api.counter.watching(backend.db.engine) as counter:
            answer = world.loop.run_until_complete(api.post(HAND_PICKED, {}))
        assert "errors" not in answer, answer
        assert answer["extensions"]["paths"] == {"playbooks": "compiled"}
        assert counter.count == 1, counter.statements
        groups = [p["executionsAggregate"] for p in answer["data"]["playbooks"]]
        assert all(len(g) == 1 and g[0]["__typename"] == "ExecutionLogGroup" for g in groups)
        assert any(g[0]["n"] > 0 for g in groups)


def test_more_parents_than_groups_allowed_keep_the_reference_error(world: World) -> None:
    """GRAPH_MAX_GROUPS: a limit above it keeps the aggregate's own statement, whose
    LIMIT_EXCEEDED both paths answer; a limit within it is built in the statement (no error on
    either path). Without a limit, the default page size (100) is the bound: more parents than
    MAX_PARENTS, own statement, at any GRAPH_MAX_GROUPS."""
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
        for limit, statements in (("(limit: 20)", 1), ("(limit: 21)", 2), ("", 2)):
            with api.counter.watching(backend.db.engine) as counter:
                answer = world.loop.run_until_complete(api.post(document % limit, {}))
            assert "errors" not in answer and counter.count == statements, counter.statements
