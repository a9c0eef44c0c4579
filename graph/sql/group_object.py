"""A relation's one group per row (no `groupBy`), built inside the rows' statement.

`executionsAggregate { count max { startedAt } }` on a playbook answers `[{"count": 3, "max":
{"startedAt": "..."}}]`: one group of the playbook's linked rows that match the aggregate's
`where`. Here that list is a correlated subquery of the playbook's row, which aggregates its
linked rows and builds the group object: PostgreSQL `json_build_array((SELECT
json_build_object(...) FROM ... WHERE link AND where))`, SQLite `json_array(json((SELECT
json_object(...) ...)))`. Which aggregates qualify, and why their answers are the reference
path's: graph/gql/inline_groups.py.

The measures are the group statement's own SQL (graph/sql/measures.py `measure_value`:
`count(*)` of the linked rows, `count(DISTINCT v)`, min/max in the API's order), written in the form
the API answers as a row's field is (graph/sql/response.py field_value: a datetime's text, a
BigInt as a string, an enum's member name). An aggregate over no row is the reference's too:
`count` 0, the extremes null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, literal, null, select

from graph.aggregate import MAX, MIN
from graph.shape import GROUP_MEASURE, GROUP_NULL, GROUP_OBJECT, GROUP_TYPENAME, GroupValue
from graph.sql.measures import measure_value

if TYPE_CHECKING:
    from sqlalchemy import FromClause

    from graph.shape import GroupsEntry
    from graph.sql.response import ResponseCompiler


def groups_value(
    response: ResponseCompiler, entry: GroupsEntry, owner: FromClause, level: int
) -> Any:
    """The JSON list of the `owner` row's one group (module docstring)."""
    compiler = response.compiler
    end = entry.aggregate.end
    read = entry.aggregate.read
    table = response.spec.table(end.target)
    target = response.alias(end.target, level)
    conditions = [compiler.link_condition(end, owner, target)]
    if read.where is not None:
        conditions.append(compiler.where(table, target, read.where))
    group = _object(response, entry.group, target)
    if not _measures_rows(entry.group):
        # Nothing but names and nulls: the same object for every row, whatever it links to
        # (a SELECT without an aggregate would give one per linked row).
        return func.json_build_array(group) if response.postgresql else func.json_array(group)
    found = select(group).select_from(target).where(*conditions).correlate(owner)
    if response.postgresql:
        return func.json_build_array(found.scalar_subquery())
    # The subquery's result loses its JSON subtype: json() gives it back.
    return func.json_array(func.json(found.scalar_subquery()))


def _measures_rows(values: tuple[GroupValue, ...]) -> bool:
    """Whether a measure is among the values, at any depth."""
    return any(v.holds == GROUP_MEASURE or _measures_rows(v.inner) for v in values)


def _object(response: ResponseCompiler, values: tuple[GroupValue, ...], rows: Any) -> Any:
    pairs: list[Any] = []
    for value in values:
        pairs += [literal(value.key), _value(response, value, rows)]
    if response.postgresql:
        return func.json_build_object(*pairs)
    return func.json_object(*pairs)


def _value(response: ResponseCompiler, value: GroupValue, rows: Any) -> Any:
    if value.holds == GROUP_TYPENAME:
        return literal(value.type_name)
    if value.holds == GROUP_NULL:
        return null()
    if value.holds == GROUP_OBJECT:
        return _object(response, value.inner, rows)
    assert value.holds == GROUP_MEASURE and value.kind is not None, value
    field = value.field
    column = None if field is None else rows.c[field.name]
    # The group statement's SQL for the measure (an enum's extreme as its value, not rank).
    found = measure_value(response.dialect, value.kind, field, column, ranked=False)
    if value.kind in (MIN, MAX):
        assert field is not None
        return response.answered_value(field, found)  # the field's own answered form
    return found
