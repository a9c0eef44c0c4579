"""Aggregate groups encoded without graphql-core (graph/gql/group_encoder.py) are the bytes
graphql-core's completion writes: every generated aggregate document of the differential
suites (root aggregates, relation aggregates of rows in lists, lookups and connections) is
posted to two apps on the same database, with and without the compiled path, on SQLite and
PostgreSQL. The differential suites themselves compare the encoded answers with the model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.gql import compiled
from graph.settings import Settings
from tests.api import Api
from tests.test_aggregate_differential import (  # noqa: F401 (fixtures: this module's own)
    AggregateWorld,
    aggregate_world,
)
from tests.test_aggregate_relations_differential import (  # noqa: F401 (fixtures)
    RelationWorld,
    relation_world,
)
from tests.test_compiled import same_bytes
from tests.test_differential import (  # noqa: F401 (fixtures: this module's own)
    FIXED_NOW,
    FUZZ_EXAMPLES,
    budget,
    own_loop,
    world,
)

# Root fields with relation aggregates under their rows (graph/gql/compiled_groups.py), by
# whether the compiled path answered them.
WITH_GROUPS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def count_compiled_groups() -> Iterator[None]:
    original = compiled.answer_with_groups

    async def counted(*args: Any, **kwargs: Any) -> Any:
        answer = await original(*args, **kwargs)
        WITH_GROUPS["compiled" if answer is not None else "fell back"] += 1
        return answer

    compiled.answer_with_groups = counted  # type: ignore[assignment]
    yield
    compiled.answer_with_groups = original  # type: ignore[assignment]
    print(f"\nroot fields with relation aggregates: {dict(WITH_GROUPS)}")
    # The generated relation aggregates are mostly under lists and lookups: they must have been
    # compiled, not only allowed to be.
    assert WITH_GROUPS["compiled"] >= 50, WITH_GROUPS


@settings(budget("queries"), max_examples=FUZZ_EXAMPLES or 200)
@given(data=st.data())
def test_root_aggregates_encode_as_graphql_core_completes(
    aggregate_world: AggregateWorld,  # noqa: F811
    data: st.DataObject,
) -> None:
    case = data.draw(aggregate_world.cases.cases(), label="case")
    same_bytes(aggregate_world.world, case.document, case.variables)


@settings(budget("queries"), max_examples=FUZZ_EXAMPLES or 80)
@given(data=st.data())
def test_relation_aggregates_encode_as_graphql_core_completes(
    relation_world: RelationWorld,  # noqa: F811
    data: st.DataObject,
) -> None:
    case = data.draw(relation_world.cases.aggregate_cases(), label="case")
    same_bytes(relation_world.world, case.document, case.variables)


HAND_PICKED = """
query($yes: Boolean!) {
  a: executionLogsAggregate(groupBy: [{field: STATUS}, {field: STARTED_AT, bucket: MONTH}]) {
    __typename
    key { status __typename startedAt }
    n: count
    ...Measures
    p50: percentile(p: 0.5) { durationMs }
    p95: percentile(p: 0.95) { durationMs exitCode }
    skipped: count @skip(if: $yes)
    kept: max @include(if: $yes) { startedAt status }
    ... on ExecutionLogGroup { min { component } }
  }
  playbooks(orderBy: [{playbookName: ASC}], limit: 30) {
    playbookName
    executionsAggregate { count p95: percentile(p: 0.95) { durationMs } }
    failed: executionsAggregate(where: {status: {eq: FAILED}}) { count avg { durationMs } }
    byStatus: executionsAggregate(groupBy: [{field: STATUS}]) { key { status } count }
  }
}
fragment Measures on ExecutionLogGroup { sum { durationMs } avg { exitCode } }
"""


def test_hand_picked_groups_encode_as_graphql_core_completes(
    aggregate_world: AggregateWorld,  # noqa: F811
) -> None:
    """Aliases, fragments, an inline fragment, @skip/@include, __typename at two levels, two
    percentiles, and relation aggregates of 30 rows; the groups were encoded (compiled)."""
    base = aggregate_world.world
    if base.name != "grace":
        pytest.skip("the document is of the shipped tables")
    for yes in (True, False):
        same_bytes(base, HAND_PICKED, {"yes": yes})
    for backend in base.backends:
        api = Api(
            backend.db,
            backend.api.graph.spec,
            backend.api.graph.catalog,
            Settings(max_nodes=10**15, debug=True),
            clock=lambda: FIXED_NOW,
        )
        answer = base.loop.run_until_complete(api.post(HAND_PICKED, {"yes": True}))
        assert "errors" not in answer, answer
        assert answer["extensions"]["paths"]["a"] == "compiled"
        assert answer["data"]["a"] and answer["data"]["playbooks"]
