"""graph/rows.py on its own: its fast paths answer exactly as the API's own parsers do."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.gql.scalars import parse_datetime
from graph.rows import InvalidValue, coerce_value, json_value
from graph.spec.model import FieldSpec, FieldType

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
