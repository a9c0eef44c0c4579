"""Shape.may_hold_null_where_non_null (graph/shape.py): the text check that lets PostgreSQL's
answer with nulls in it go to the client as it is (graph/gql/prepared.py sent_as_is). It may
say "maybe" where there is no such null; it must never say "no" where there is one. Checked
here against the walk it spares (null_where_non_null), on answers orjson writes as
PostgreSQL does, adversarial strings included; the byte-for-byte comparisons of
tests/test_compiled.py check it on the databases' own texts."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.shape import FieldEntry, LinkEntry, Shape
from graph.spec.model import Spec

# Strings a text check could be fooled by: the keys and the null forms it looks for.
TRICKY = ['"name":null', "name", ",null", "[null", "null", '\\"name\\":null', '"', "\\", ""]


def _shape(spec: Spec) -> Shape:
    """Execution logs (non-null `executionId`, nullable `component`), each with its playbook
    (a nullable to-one relation whose `playbookName` is non-null) aliased under a key that
    is also a nullable field's, and a list field whose elements are non-null."""
    logs = spec.table("execution_logs")
    playbooks = spec.table("self_healing")
    playbook = Shape(
        (
            FieldEntry("name", playbooks.field("playbook_name"), non_null=True),
            FieldEntry("note", playbooks.field("description")),
            FieldEntry("parts", playbooks.field("target_components")),  # a list of strings
        )
    )
    return Shape(
        (
            FieldEntry("id", logs.field("execution_id"), non_null=True),
            FieldEntry("name", logs.field("component")),  # nullable here, non-null below
            LinkEntry("playbook", logs.relation_end("playbook"), playbook),
        )
    )


def _text(answer: Any) -> str:
    return orjson.dumps(answer).decode()


def test_nulls_of_nullable_fields_only_are_sure(spec: Spec) -> None:
    shape = _shape(spec)
    shape_without_name = Shape(shape.entries[:1] + shape.entries[2:])
    playbook = {"name": "p", "note": None, "parts": None}
    answer = [{"id": "a", "playbook": None}, {"id": "b", "playbook": playbook}]
    assert not shape_without_name.may_hold_null_where_non_null(_text(answer))
    assert not shape_without_name.null_where_non_null(answer)


def test_a_null_under_a_non_null_field_is_always_seen(spec: Spec) -> None:
    shape = _shape(spec)
    answer = [{"id": "a", "name": "x", "playbook": {"name": None, "note": "n", "parts": []}}]
    assert shape.null_where_non_null(answer)
    assert shape.may_hold_null_where_non_null(_text(answer))
    # The same key, nullable at the top: a null there is a "maybe", never a "no".
    allowed = [{"id": "a", "name": None, "playbook": None}]
    assert not shape.null_where_non_null(allowed)
    assert shape.may_hold_null_where_non_null(_text(allowed))
    # A null element of a list field.
    playbook = {"name": "p", "note": "n", "parts": ["a", None]}
    listed = [{"id": "a", "name": "x", "playbook": playbook}]
    assert shape.null_where_non_null(listed)
    assert shape.may_hold_null_where_non_null(_text(listed))


strings = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))
maybe = st.one_of(st.none(), strings)
parts = st.lists(maybe, max_size=3)


@settings(max_examples=1500, deadline=None, derandomize=True, database=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "id": maybe,
                "name": maybe,
                "playbook": st.one_of(
                    st.none(),
                    st.fixed_dictionaries(
                        {"name": maybe, "note": maybe, "parts": st.one_of(st.none(), parts)}
                    ),
                ),
            }
        ),
        max_size=4,
    )
)
def test_the_text_check_never_misses_what_the_walk_finds(spec: Spec, rows: list[Any]) -> None:
    shape = _shape(spec)
    if shape.null_where_non_null(rows):
        assert shape.may_hold_null_where_non_null(_text(rows)), rows
