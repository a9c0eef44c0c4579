"""graph/rows.py on its own: its fast paths answer exactly as the API's own parsers do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphql import GraphQLError
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.gql.scalars import parse_datetime
from graph.rows import SLOW, InvalidValue, check_key, coerce_value, fast_check, json_value
from graph.spec import load_spec
from graph.spec.model import FieldSpec, FieldType, TableSpec

ROOT = Path(__file__).resolve().parent.parent
SPEC = load_spec(ROOT / "schemas", ROOT / "relations.yaml")

TEMPLATES = [
    "2026-03-01T10:00:00Z",
    "2026-03-01T10:00:00.123456Z",
    "2026-03-01T10:00:00+02:00",
    "2026-03-01T10:00:00.123456-14:00",
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:59:59.999999Z",
    "2026-W09-1T10:00:00Z",
]
CHARACTERS = "0123456789-:TZ+.tzW 5\u0663"
DATETIME = FieldSpec("at", FieldType.DATETIME, "", None)  # type: ignore[arg-type]


@st.composite
def near_datetimes(draw: Any) -> str:
    """A canonical datetime with up to three characters changed."""
    text = list(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(0, 3))):
        text[draw(st.integers(0, len(text) - 1))] = draw(st.sampled_from(CHARACTERS))
    return "".join(text)


def _api(text: str) -> Any:
    try:
        return parse_datetime(text)
    except GraphQLError:
        return "refused"


def _rows(text: str) -> Any:
    try:
        return coerce_value(DATETIME, text)
    except InvalidValue:
        return "refused"


@settings(max_examples=3000, deadline=None)
@given(near_datetimes())
def test_text_datetimes_are_read_as_the_api_reads_them(text: str) -> None:
    assert _rows(text) == _api(text)


def test_json_is_checked_in_place_and_copied_only_when_it_must() -> None:
    document = {"a": [1, 2.5, {"b": None}], "c": "ü"}
    assert json_value(document) is document
    converted = json_value({"a": (1, 2)})
    assert converted == {"a": [1, 2]}
    for bad in ({"a": float("nan")}, {"a": "\x00"}, {"a": "\ud800"}, {1: 2}, [2**64], {"a": {1}}):
        try:
            json_value(bad)
        except InvalidValue:
            continue
        raise AssertionError(f"{bad!r} was accepted")


# -- the fast checks of a bulk load against the full check ------------------------------------

FAST_FIELDS = [
    (table, field)
    for table in SPEC.tables.values()
    for field in table.writable_fields
    if fast_check(table, field) is not None
]
TEXTS = st.text(
    alphabet=st.sampled_from(
        ["a", "Z", " ", "\t", "\n", "\x00", "\x7f", "\x1f", "é", "\ud800", "_"]
    ),
    max_size=6,
)


def _values(field: FieldSpec) -> st.SearchStrategy[Any]:
    """Values near the edges of what `field` accepts, of its type and of others."""
    bounds = [b for b in (field.min, field.max) if b is not None]
    numbers = st.one_of(
        st.integers(-(2**64), 2**64),
        st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, 0, -1]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([b + d for b in bounds for d in (-1, -0.5, 0, 0.5, 1)] or [0]),
    )
    return st.one_of(
        numbers,
        st.booleans(),
        st.none(),
        TEXTS,
        st.sampled_from([*field.values, *(v.upper() for v in field.values), "x" * 300]),
        st.text(max_size=4).map(lambda t: "k" + t),
        near_datetimes(),
        st.sampled_from([{}, [], {"a": [1, None]}, {"a": float("nan")}, [2**70], {"\x00": 1}]),
    )


def _full(table: TableSpec, field: FieldSpec, value: Any) -> Any:
    try:
        stored = coerce_value(field, value)
        if field.name == table.key:
            check_key(table, stored)
        return stored
    except InvalidValue:
        return "refused"


@settings(max_examples=4000, deadline=None)
@given(st.sampled_from(FAST_FIELDS).flatmap(lambda tf: st.tuples(st.just(tf), _values(tf[1]))))
def test_fast_checks_never_accept_what_the_full_check_refuses(case: Any) -> None:
    """A bulk load takes the fast check's word for plain values (graph/rows.py): it must store
    exactly what the full check would, of the same type, and leave everything else to it."""
    (table, field), value = case
    fast = fast_check(table, field)
    assert fast is not None
    answer = fast(value)
    if answer is SLOW:
        return
    full = _full(table, field, value)
    assert full != "refused", (table.name, field.name, value)
    assert answer == full and type(answer) is type(full), (table.name, field.name, value)


def test_plain_values_take_the_fast_path() -> None:
    """What a bulk file mostly holds is accepted without the full check (else a load is slow
    for no visible reason)."""
    logs = SPEC.table("execution_logs")
    plain = {
        "execution_id": "exec-0001",
        "command": "deploy --all",
        "status": "succeeded",
        "started_at": "2026-03-01T10:00:00.123456Z",
        "completed_at": "2026-03-01T10:00:05+02:00",
        "exit_code": 0,
        "duration_ms": 5000,
        "resource_usage": {"cpu": [1.5, None], "mem": "2G"},
    }
    for name, value in plain.items():
        fast = fast_check(logs, logs.field(name))
        assert fast is not None and fast(value) is not SLOW, name
