"""The API's answers equal the reference model's, on SQLite and PostgreSQL, and each other's.

Generated documents (tests/model/generate.py) run against the real app on every available
backend; the model (tests/model/evaluate.py), written from docs/api.md alone, says what the
answer must be. Each case asserts: no `errors` (or exactly `BAD_USER_INPUT` where the contract
says so), `data` equal to the model's, and SQLite's answer equal to PostgreSQL's. A failure
prints the document, the variables and the first differing path: paste them into a regression
test.

Two specs run: the shipped 18 tables (seeded at scale 1, plus adversarial rows) and the small
"zoo" spec of tests/fixtures/zoo, which has every field type and relation kind.

Budget: `EXAMPLES` per test keeps this module at about three minutes on both databases on a
2-core machine; the cases are the same on every run (derandomized) and a failure is reported
as found, not shrunk. `GRAPH_FUZZ_EXAMPLES=N` (make fuzz) raises the budget to N, draws fresh
random cases each run and shrinks a failure to a small document; `GRAPH_FUZZ_SHRINK=1` shrinks
in the bounded run too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import math
import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from graph.seed.load import seed_database
from graph.settings import Settings
from graph.spec import Spec, load_spec
from graph.sql.ddl import create_schema
from graph.sql.tables import build_catalog
from tests.api import Api
from tests.databases import TestDatabase, fresh_database, pg_admin_url, skip_without_pg
from tests.model.adversarial import adversarial_rows
from tests.model.evaluate import CURSOR, BadUserInput, Model, json_contains, like_regex
from tests.model.generate import Case, Generator
from tests.model.rows import read_tables

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "tests" / "fixtures" / "zoo"
SPECS = {
    "grace": (ROOT / "schemas", ROOT / "relations.yaml"),
    "zoo": (ZOO / "schemas", ZOO / "relations.yaml"),
}
# "Now" of the sample data and of withinLast/olderThan: the last day of a month, so that
# "P1M" has to clamp to the end of February, with microseconds to compare.
FIXED_NOW = dt.datetime(2026, 3, 31, 9, 30, 15, 250000, tzinfo=dt.UTC)
# Rows per table, random seed, and tables with more rows: 160 animals, so that one keeper has
# more animals than the default page of 100 (tests/model/adversarial.py makes a "hub").
ADVERSARIAL: dict[str, tuple[int, int, dict[str, int]]] = {
    "grace": (12, 11, {}),
    "zoo": (40, 13, {"animals": 160}),
}

FUZZ_EXAMPLES = int(os.environ.get("GRAPH_FUZZ_EXAMPLES", "0") or 0)
# Shrinking a failure to a minimal document costs minutes (hundreds of reruns, each several
# requests): on in fuzz mode or with GRAPH_FUZZ_SHRINK=1, off in the bounded CI run, whose
# failure message already holds the whole document and its variables.
SHRINK = bool(FUZZ_EXAMPLES) or os.environ.get("GRAPH_FUZZ_SHRINK", "") not in ("", "0")
# Per test and spec; together about three minutes on SQLite and PostgreSQL (2 cores).
EXAMPLES = {"queries": 800, "walks": 200, "bad": 200, "cursors": 100}
MAX_WALK_PAGES = 8


def budget(kind: str) -> settings:
    return settings(
        max_examples=FUZZ_EXAMPLES or EXAMPLES[kind],
        derandomize=not FUZZ_EXAMPLES,
        database=None,
        deadline=None,
        print_blob=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
        + ([Phase.shrink, Phase.explain] if SHRINK else []),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# -- the world: one database per backend and spec, with its API and its model ----------------


class Backend:
    """One database of the world: its API and the model over its rows."""

    def __init__(self, name: str, db: TestDatabase, api: Api, model: Model) -> None:
        self.name, self.db, self.api, self.model = name, db, api, model


class World:
    """One spec on every available backend, and the generator over its data.

    A plain class, not a dataclass: hypothesis prints the arguments of a failing example, and
    would print a dataclass field by field (megabytes of rows: a warning, and warnings are
    errors in this suite).
    """

    def __init__(
        self,
        name: str,
        spec: Spec,
        backends: list[Backend],
        generator: Generator,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.name, self.spec, self.backends = name, spec, backends
        self.generator, self.loop = generator, loop

    def __repr__(self) -> str:
        return f"World({self.name!r}, {[b.name for b in self.backends]})"

    def post(self, backend: Backend, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        return self.loop.run_until_complete(backend.api.post(document, variables))


def available_backends() -> list[str]:
    if pg_admin_url() is None:
        if os.environ.get("CI"):
            skip_without_pg()  # fails: in CI PostgreSQL must be there
        return ["sqlite"]
    return ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def own_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """Hypothesis runs sync tests: they drive the async API through this loop of their own."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="session", params=sorted(SPECS))
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    own_loop: asyncio.AbstractEventLoop,
) -> Iterator[World]:
    name: str = request.param
    spec = load_spec(*SPECS[name])
    catalog = build_catalog(spec)
    per_table, seed, counts = ADVERSARIAL[name]
    with ExitStack() as stack:
        backends: list[Backend] = []
        new_rows = None
        for backend in available_backends():
            folder = tmp_path_factory.mktemp(f"differential-{name}")
            db = stack.enter_context(fresh_database(backend, folder))
            create_schema(db.engine, catalog)
            if name == "grace":
                seed_database(
                    db.engine,
                    catalog,
                    scale=1,
                    seed=7,
                    if_empty=False,
                    progress=False,
                    now=FIXED_NOW,
                )
            if new_rows is None:
                # Made once, from the first database's sample rows: every backend gets the same.
                existing = read_tables(db.url, spec)
                new_rows = adversarial_rows(
                    spec, existing, FIXED_NOW, per_table=per_table, seed=seed, counts=counts
                )
            with db.engine.begin() as conn:
                for table_name, rows in new_rows.items():
                    conn.execute(insert(catalog.table(table_name)), rows)
            # The model has no size estimate (tests/security/test_limits.py checks it): the
            # generated queries nest default pages far past GRAPH_MAX_NODES.
            unbounded = Settings(max_nodes=10**15)
            api = Api(db, spec, catalog, unbounded, clock=lambda: FIXED_NOW)
            model = Model(spec, read_tables(db.url, spec), FIXED_NOW)
            backends.append(Backend(backend, db, api, model))
        generator = Generator(spec, backends[0].model.tables, FIXED_NOW)
        yield World(name, spec, backends, generator, own_loop)


# -- comparing answers ---------------------------------------------------------------------------


def first_difference(expected: Any, got: Any, path: str = "data") -> str | None:
    """Where `got` first differs from `expected` (CURSOR matches any non-empty string)."""
    if expected is CURSOR:
        if isinstance(got, str) and got:
            return None
        return f"{path}: expected a cursor, got {got!r}"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{path}: expected an object, got {_short(got)}"
        if set(expected) != set(got):
            return f"{path}: expected keys {sorted(expected)}, got {sorted(got)}"
        for key in expected:
            found = first_difference(expected[key], got[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(got, list):
            return f"{path}: expected a list, got {_short(got)}"
        for i, (want, have) in enumerate(zip(expected, got, strict=False)):
            found = first_difference(want, have, f"{path}[{i}]")
            if found:
                return f"{found}\n  ({_ids(expected)} expected, {_ids(got)} got at {path})"
        if len(expected) != len(got):
            return (
                f"{path}: expected {len(expected)} items, got {len(got)}\n"
                f"  expected {_ids(expected)}\n  got      {_ids(got)}"
            )
        return None
    # Booleans are not numbers, and a number is not its text: compare the JSON kinds too.
    same_kind = _kind(expected) == _kind(got)
    if same_kind and expected == got:
        return None
    return f"{path}: expected {expected!r}, got {got!r}"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 200 else text[:200] + "..."


def _ids(items: list[Any]) -> str:
    """A list's items as short as possible: their `id`, else their first value."""
    marks = []
    for item in items:
        if isinstance(item, dict) and item:
            mark = item["id"] if "id" in item else next(iter(item.values()))
        else:
            mark = item
        marks.append(_short(mark)[:24])
    text = "[" + ", ".join(marks) + "]"
    return text if len(text) <= 300 else text[:300] + "...]"


def masked(expected: Any, got: Any) -> Any:
    """`got` with the cursors replaced: they are opaque, and need not agree across backends."""
    if expected is CURSOR:
        return "<cursor>"
    if isinstance(expected, dict) and isinstance(got, dict):
        return {k: masked(expected.get(k), v) for k, v in got.items()}
    if isinstance(expected, list) and isinstance(got, list):
        return [masked(e, g) for e, g in zip(expected, got, strict=False)] + got[len(expected) :]
    return got


def report(case: Case, problems: dict[str, str | None]) -> str:
    """The failure message: each backend's first problem (or "ok"), then the request."""
    lines = [f"{name}: {problem or 'ok'}" for name, problem in problems.items()]
    return "\n" + "\n".join(lines) + f"\n--- request ---\n{case.describe()}\n"


def verdict(case: Case, problems: dict[str, str | None], extra: str = "") -> None:
    if any(problems.values()):
        pytest.fail(report(case, problems) + extra, pytrace=False)


def error_code(answer: dict[str, Any]) -> str | None:
    errors = answer.get("errors")
    if not errors:
        return None
    code: str | None = (errors[0].get("extensions") or {}).get("code")
    return code


def expected_answer(model: Model, case: Case) -> dict[str, Any] | BadUserInput:
    try:
        return model.answer(case.document, case.variables)
    except BadUserInput as error:
        return error


def problem_with(expected: dict[str, Any] | BadUserInput, got: dict[str, Any]) -> str | None:
    """How an answer breaks the contract, or None."""
    if isinstance(expected, BadUserInput):
        code = error_code(got)
        if code == "BAD_USER_INPUT":
            return None
        return f"expected BAD_USER_INPUT ({expected}), got {code}: {_short(got)}"
    if "errors" in got:
        return f"errors: {_short(got['errors'])}"
    return first_difference(expected, got.get("data"))


def backends_disagree(expected: Any, answers: dict[str, dict[str, Any]]) -> str | None:
    """SQLite's answer against PostgreSQL's (cursors aside: they are opaque)."""
    if len(answers) < 2:
        return None
    sqlite, postgresql = answers["sqlite"], answers["postgresql"]
    if isinstance(expected, BadUserInput):
        if error_code(sqlite) == error_code(postgresql):
            return None
        return f"{_short(sqlite)} != {_short(postgresql)}"
    left = masked(expected, sqlite.get("data"))
    right = masked(expected, postgresql.get("data"))
    return first_difference(left, right)


def run_case(world: World, case: Case) -> None:
    """The case on every backend, then every backend's verdict at once."""
    expected: Any = None
    answers: dict[str, dict[str, Any]] = {}
    problems: dict[str, str | None] = {}
    for backend in world.backends:
        expected = expected_answer(backend.model, case)
        answers[backend.name] = got = world.post(backend, case.document, case.variables)
        problems[backend.name] = problem_with(expected, got)
    if not any(problems.values()):
        problems["sqlite vs postgresql"] = backends_disagree(expected, answers)
    verdict(case, problems)


# -- the generated cases ---------------------------------------------------------------------------


@budget("queries")
@given(data=st.data())
def test_queries_answer_like_the_model(world: World, data: st.DataObject) -> None:
    """Lists, lookups and first pages: filters, orderings, pages, nested relations, aliases."""
    run_case(world, data.draw(world.generator.query_cases(), label="case"))


def walk(world: World, backend: Backend, case: Case) -> tuple[list[Any], str | None]:
    """Page through the connection of a walk case: the masked pages, and the first problem
    (with the variables of the page that shows it)."""
    key = case.walk_key
    assert key is not None
    everything = expected_answer(
        backend.model, replace(case, variables={**case.variables, "first": 1000})
    )
    if isinstance(everything, BadUserInput):
        # A filter the contract refuses: the first page must be refused, and that is all.
        got = world.post(backend, case.document, case.variables)
        return [], problem_with(everything, got)
    total = len(everything[key]["edges"])
    # Small pages, but never so many that one case takes seconds.
    first = max(case.first, math.ceil(total / MAX_WALK_PAGES))
    position, after, pages = 0, None, []
    for page_number in range(MAX_WALK_PAGES + 3):
        variables = {**case.variables, "first": first, "after": after}
        at = {key: position} if after is not None else None
        expected = backend.model.answer(case.document, variables, after_positions=at)
        got = world.post(backend, case.document, variables)
        where = f"page {page_number}, after row {position}, variables {json.dumps(variables)}"
        problem = problem_with(expected, got)
        if problem:
            return pages, f"{where}: {problem}"
        connection = got["data"][key]
        edges, info = connection["edges"], connection["pageInfo"]
        if edges and info["endCursor"] != edges[-1]["cursor"]:
            return pages, f"{where}: endCursor is not the last edge's cursor"
        if edges and "startCursor" in info and info["startCursor"] != edges[0]["cursor"]:
            return pages, f"{where}: startCursor is not the first edge's cursor"
        pages.append(masked(expected, got["data"]))
        if not info["hasNextPage"]:
            return pages, None
        position += len(edges)
        after = info["endCursor"]
    return pages, f"the walk does not end after {MAX_WALK_PAGES + 3} pages of {first}"


@budget("walks")
@given(data=st.data())
def test_connections_walk_every_row_once_in_order(world: World, data: st.DataObject) -> None:
    """Page by page with a small `first`, to `hasNextPage: false`: every row once, in order.

    The model is told where each `after` cursor points (after the rows returned so far), so
    every page is checked against the rows that must follow, not just the whole walk.
    """
    case: Case = data.draw(world.generator.walk_cases(), label="case")
    pages: dict[str, list[Any]] = {}
    problems: dict[str, str | None] = {}
    for backend in world.backends:
        pages[backend.name], problems[backend.name] = walk(world, backend, case)
    if len(pages) == 2 and not any(problems.values()):
        left, right = pages["sqlite"], pages["postgresql"]
        problems["sqlite vs postgresql"] = first_difference(left, right, "pages")
    verdict(case, problems)


@budget("bad")
@given(data=st.data())
def test_bad_input_is_bad_user_input(world: World, data: st.DataObject) -> None:
    """Inputs docs/api.md calls BAD_USER_INPUT get exactly that code, on every backend."""
    case: Case = data.draw(world.generator.bad_cases(), label="case")
    # The generator and the model must agree that the input is bad: else the test is wrong.
    expected = expected_answer(world.backends[0].model, case)
    assert isinstance(expected, BadUserInput), f"the model accepts {case.describe()}"
    run_case(world, case)


def spoil(cursor: str, trick: str) -> str:
    """The cursor, altered as a careless or malicious client would."""
    if trick == "truncate":
        return cursor[:-2] if len(cursor) > 2 else cursor + "x"
    if trick == "junk":
        return "not-a-cursor"
    if trick == "empty":
        return ""
    if trick in ("forge", "alter"):
        # Cursors are not signed (docs/api.md): an edited cursor whose values still have the
        # right types only positions the page. These edits leave it malformed: an id of the
        # wrong type or outside 64 bits ("forge"), a signature of no ordering ("alter").
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            value = json.loads(base64.urlsafe_b64decode(padded))
        except (binascii.Error, ValueError):
            return "not-a-cursor"
        if not isinstance(value, list) or not value:
            return "not-a-cursor"
        if trick == "forge":
            value[-1] = ("1", 1.5, True, 2**64, [value[-1]])[len(cursor) % 5]
        else:
            value[0] = "x" + str(value[0])
        text = base64.urlsafe_b64encode(json.dumps(value).encode()).decode()
        return text.rstrip("=")
    return cursor  # other_order, other_table: a real cursor, used where it does not belong


@budget("cursors")
@given(data=st.data())
def test_spoiled_cursors_are_bad_user_input(world: World, data: st.DataObject) -> None:
    """An altered cursor, or one used with another ordering or table: BAD_USER_INPUT, `after`."""
    case: Case = data.draw(world.generator.cursor_cases(), label="case")
    assert case.cursor_trick is not None
    problems: dict[str, str | None] = {}
    steps: list[str] = []
    for backend in world.backends:
        first = world.post(backend, case.document, case.variables)
        cursor = ((first.get("data") or {}).get("page") or {}).get("pageInfo", {}).get("endCursor")
        if "errors" in first or not cursor:
            problems[backend.name] = f"no cursor from the first page: {_short(first)}"
            continue
        spoiled = spoil(cursor, case.cursor_trick)
        steps.append(f"{backend.name}: cursor {cursor!r} became {spoiled!r}")
        got = world.post(backend, case.second_document, {**case.second_variables, "after": spoiled})
        path = (got.get("errors") or [{}])[0].get("extensions", {}).get("argumentPath") or []
        if error_code(got) != "BAD_USER_INPUT":
            problems[backend.name] = f"expected BAD_USER_INPUT, got {_short(got)}"
        elif "after" not in path:
            problems[backend.name] = f"the error does not name `after`: argumentPath {path}"
        else:
            problems[backend.name] = None
    second = Case(case.second_document, {**case.second_variables, "after": "<spoiled>"}, case.label)
    verdict(second, problems, "\n".join(steps) + f"\n--- first page ---\n{case.describe()}")


def test_backends_store_the_same_rows(world: World) -> None:
    """Decoded, both databases hold the same rows: the model's inputs agree."""
    if len(world.backends) < 2:
        pytest.skip("one backend")
    sqlite, postgresql = (b.model.tables for b in world.backends)
    for name in sqlite:
        assert len(sqlite[name]) == len(postgresql[name]), name
        for left, right in zip(sqlite[name], postgresql[name], strict=True):
            for column, value in left.items():
                other = right[column]
                assert _kind(value) == _kind(other) and value == other, (
                    f"{name} id {left['id']} {column}: sqlite {value!r}, postgresql {other!r}"
                )


# -- the model itself: hand-written cases ------------------------------------------------------


def _zoo_model(keepers: list[dict[str, Any]]) -> Model:
    spec = load_spec(*SPECS["zoo"])
    blank = {f.name: None for f in spec.table("keepers").fields}
    rows = [{**blank, **row} for row in keepers]
    return Model(spec, {"keepers": rows, "animals": [], "enclosures": []}, FIXED_NOW)


def _ids_of(model: Model, where: str) -> list[str]:
    data = model.answer(f"{{ keepers(where: {where}) {{ id }} }}")
    return [row["id"] for row in data["keepers"]]


def test_model_not_holds_for_null_fields() -> None:
    model = _zoo_model(
        [{"id": 1, "age_days": 0}, {"id": 2, "age_days": None}, {"id": 3, "age_days": 5}]
    )
    assert _ids_of(model, "{not: {ageDays: {eq: 0}}}") == ["2", "3"]
    assert _ids_of(model, "{ageDays: {neq: 0}}") == ["3"]
    assert _ids_of(model, "{ageDays: {nin: []}}") == ["1", "3"]
    assert _ids_of(model, "{ageDays: {in: []}}") == []
    assert _ids_of(model, "{not: {}}") == []
    assert _ids_of(model, "{and: [], or: []}") == []
    assert _ids_of(model, "{ageDays: {isNull: true}}") == ["2"]


def test_model_json_containment_is_postgresql_containment() -> None:
    assert json_contains({"a": 1, "b": [1, 2, 3]}, {"b": [3, 1, 1]})
    assert json_contains({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 2}})
    assert not json_contains({"b": [1, 2]}, {"b": 1})
    assert json_contains(["x", "y"], "x")
    assert not json_contains([["x"]], ["x"])
    assert json_contains({"n": 1}, {"n": 1.0})
    assert not json_contains({"n": True}, {"n": 1})
    model = _zoo_model(
        [
            {"id": 1, "profile": {"a": 1, "b": [1, 2, 3]}},
            {"id": 2, "profile": ["error_type", "x"]},
            {"id": 3, "profile": None},
        ]
    )
    assert _ids_of(model, '{profile: {hasKey: "error_type"}}') == []
    assert _ids_of(model, '{profile: {hasKey: "b"}}') == ["1"]
    assert _ids_of(model, "{profile: {contains: {b: 2}}}") == []
    assert _ids_of(model, '{profile: {contains: "x"}}') == ["2"]
    assert _ids_of(model, "{not: {profile: {contains: {}}}}") == ["2", "3"]


def test_model_like_escapes_and_folds() -> None:
    assert like_regex(r"a\%b", []).fullmatch("a%b")
    assert not like_regex(r"a\%b", []).fullmatch("axb")
    assert like_regex(r"a\\_", []).fullmatch("a\\z")
    assert like_regex(r"\a_%", []).fullmatch("a😀")
    with pytest.raises(BadUserInput):
        like_regex("abc\\", [])
    model = _zoo_model(
        [
            {"id": 1, "full_name": "ΟΔΟΣ"},
            {"id": 2, "full_name": "Straße"},
            {"id": 3, "full_name": "É"},
        ]
    )
    # Capital sigma lowers to the final form (U+03C2) at the end of a word, else to U+03C3.
    assert _ids_of(model, '{fullName: {ilike: "\u03bf\u03b4\u03bf\u03c3"}}') == []
    assert _ids_of(model, '{fullName: {ilike: "\u03bf\u03b4\u03bf\u03c2"}}') == ["1"]
    assert _ids_of(model, '{fullName: {ilike: "%\u03a3"}}') == []  # a lone capital sigma: U+03C3
    assert _ids_of(model, '{fullName: {ilike: "STRASSE"}}') == []  # no case folding, lowering
    assert _ids_of(model, '{fullName: {ilike: "é"}}') == ["3"]
    # Code points: capital omicron (U+039F) and É (U+00C9) come after "Z", "S" before it.
    assert _ids_of(model, '{fullName: {gt: "Z"}}') == ["1", "3"]


def test_model_orders_nulls_enums_and_ties_like_the_contract() -> None:
    model = _zoo_model(
        [
            {"id": 1, "shift": "night", "on_duty": True},
            {"id": 2, "shift": None, "on_duty": False},
            {"id": 3, "shift": "early", "on_duty": None},
            {"id": 4, "shift": "night", "on_duty": False},
        ]
    )

    def order(by: str) -> list[str]:
        data = model.answer(f"{{ keepers(orderBy: {by}) {{ id }} }}")
        return [row["id"] for row in data["keepers"]]

    assert order("[{shift: ASC}]") == ["3", "1", "4", "2"]  # declared order, nulls last
    assert order("[{shift: DESC}]") == ["2", "1", "4", "3"]  # nulls first, ties by id ascending
    assert order("[{shift: DESC_NULLS_LAST}]") == ["1", "4", "3", "2"]
    assert order("[{onDuty: ASC_NULLS_FIRST}, {shift: DESC}]") == ["3", "2", "4", "1"]


def test_model_relative_time_counts_calendar_months_and_days() -> None:
    model = _zoo_model(
        [
            {"id": 1, "last_seen_at": dt.datetime(2026, 2, 28, 9, 30, 15, 250000, tzinfo=dt.UTC)},
            {"id": 2, "last_seen_at": dt.datetime(2026, 2, 28, 9, 30, 15, 249999, tzinfo=dt.UTC)},
            {"id": 3, "last_seen_at": FIXED_NOW + dt.timedelta(microseconds=1)},
            {"id": 4, "hired_on": dt.date(2026, 3, 24)},
            {"id": 5, "hired_on": dt.date(2026, 3, 23)},
        ]
    )
    assert _ids_of(model, '{lastSeenAt: {withinLast: "P1M"}}') == ["1"]
    assert _ids_of(model, '{lastSeenAt: {olderThan: "P1M"}}') == ["2"]
    assert _ids_of(model, '{hiredOn: {withinLast: "P7D"}}') == ["4"]
    assert _ids_of(model, '{hiredOn: {olderThan: "p1w"}}') == ["5"]
    with pytest.raises(BadUserInput):
        _ids_of(model, '{hiredOn: {withinLast: "PT12H"}}')


def test_model_lists_and_links_count_each_key_once() -> None:
    spec = load_spec(*SPECS["zoo"])
    animals = spec.table("animals")
    keepers_end = next(e for e in animals.relations if e.name == "keepers")
    blank_animal = {f.name: None for f in animals.fields}
    blank_keeper = {f.name: None for f in spec.table("keepers").fields}
    model = Model(
        spec,
        {
            "animals": [
                {**blank_animal, "id": 1, "keeper_codes": ["k1", "k1", "gone"]},
                {**blank_animal, "id": 2, "keeper_codes": []},
                {**blank_animal, "id": 3, "keeper_codes": None},
            ],
            "keepers": [{**blank_keeper, "id": 7, "keeper_code": "k1"}],
            "enclosures": [],
        },
        FIXED_NOW,
    )
    assert [r["id"] for r in model.linked(keepers_end, model.tables["animals"][0])] == [7]
    data = model.answer("{ animals(where: {keeperCodes: {includesAll: []}}) { id } }")
    assert [row["id"] for row in data["animals"]] == ["1", "2"]
    data = model.answer("{ keepers { animals { id } } }")
    assert data == {"keepers": [{"animals": [{"id": "1"}]}]}
    data = model.answer('{ animals(where: {keepers: {every: {keeperCode: {eq: "x"}}}}) { id } }')
    assert [row["id"] for row in data["animals"]] == ["2", "3"]
