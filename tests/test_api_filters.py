"""Every filter operator gives the same rows on SQLite and PostgreSQL as a Python reference."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from graph.sql.tables import Catalog
from tests.api import Api
from tests.rows import all_rows

Row = dict[str, Any]
NOW = dt.datetime.now(dt.UTC)


def _contains(container: Any, contained: Any) -> bool:
    if isinstance(contained, dict):
        return isinstance(container, dict) and all(
            k in container and _contains(container[k], v) for k, v in contained.items()
        )
    return container == contained


TICKET_CASES: list[tuple[str, Callable[[Row], bool]]] = [
    ("{priority: {eq: CRITICAL}}", lambda r: r["priority"] == "critical"),
    ("{priority: {neq: CRITICAL}}", lambda r: r["priority"] not in (None, "critical")),
    ("{priority: {in: [HIGH, CRITICAL]}}", lambda r: r["priority"] in ("high", "critical")),
    ("{priority: {nin: [LOW]}}", lambda r: r["priority"] not in (None, "low")),
    (
        "{status: {eq: OPEN}, priority: {eq: CRITICAL}}",
        lambda r: r["status"] == "open" and r["priority"] == "critical",
    ),
    (
        "{or: [{priority: {eq: LOW}}, {status: {eq: CLOSED}}]}",
        lambda r: r["priority"] == "low" or r["status"] == "closed",
    ),
    (
        "{not: {status: {in: [OPEN, IN_PROGRESS]}}}",
        lambda r: r["status"] is not None and r["status"] not in ("open", "in_progress"),
    ),
    (
        "{and: [{userSatisfaction: {gte: 0.5}}, {userSatisfaction: {lt: 0.9}}]}",
        lambda r: r["user_satisfaction"] is not None and 0.5 <= r["user_satisfaction"] < 0.9,
    ),
    ("{resolvedAt: {isNull: true}}", lambda r: r["resolved_at"] is None),
    ("{resolvedAt: {isNull: false}}", lambda r: r["resolved_at"] is not None),
    ('{title: {contains: "error"}}', lambda r: "error" in r["title"]),
    ('{title: {startsWith: "Dashboard"}}', lambda r: r["title"].startswith("Dashboard")),
    ('{title: {endsWith: "s"}}', lambda r: r["title"].endswith("s")),
    ('{title: {like: "%API%"}}', lambda r: "API" in r["title"]),
    ('{title: {ilike: "%api%"}}', lambda r: "api" in r["title"].lower()),
    ('{title: {contains: "%"}}', lambda r: "%" in r["title"]),
    ('{title: {contains: "_"}}', lambda r: "_" in r["title"]),
    ('{tags: {includes: "regression"}}', lambda r: "regression" in (r["tags"] or [])),
    (
        '{tags: {includesAny: ["regression", "ux"]}}',
        lambda r: bool({"regression", "ux"} & set(r["tags"] or [])),
    ),
    (
        '{tags: {includesAll: ["regression", "ux"]}}',
        lambda r: {"regression", "ux"} <= set(r["tags"] or []),
    ),
    ('{createdAt: {withinLast: "P7D"}}', lambda r: NOW - dt.timedelta(days=7) <= r["created_at"]),
    (
        '{firstResponseAt: {withinLast: "P7D"}}',
        lambda r: (
            r["first_response_at"] is not None
            and NOW - dt.timedelta(days=7) <= r["first_response_at"] <= NOW
        ),
    ),
    (
        '{firstResponseAt: {olderThan: "P14D"}}',
        lambda r: (
            r["first_response_at"] is not None
            and r["first_response_at"] < NOW - dt.timedelta(days=14)
        ),
    ),
]


@pytest.mark.parametrize(("where", "expect"), TICKET_CASES, ids=[c[0] for c in TICKET_CASES])
async def test_ticket_filters(
    api: Api, catalog: Catalog, where: str, expect: Callable[[Row], bool]
) -> None:
    data = await api.data(f"{{ feedbackTickets(where: {where}, limit: 1000) {{ id }} }}")
    got = sorted(r["id"] for r in data["feedbackTickets"])
    wanted = sorted(str(r["id"]) for r in all_rows(api.db, catalog, "feedback") if expect(r))
    assert got == wanted


async def test_json_filters(api: Api, catalog: Catalog) -> None:
    rows = all_rows(api.db, catalog, "self_healing")
    probe = next(
        r["trigger_conditions"]
        for r in rows
        if isinstance(r["trigger_conditions"], dict) and r["trigger_conditions"]
    )
    key, value = next(iter(probe.items()))
    data = await api.data(
        "query($c: JSON!) { playbooks(where: {triggerConditions: {contains: $c}}) { id } }",
        {"c": {key: value}},
    )
    wanted = sorted(str(r["id"]) for r in rows if _contains(r["trigger_conditions"], {key: value}))
    assert sorted(r["id"] for r in data["playbooks"]) == wanted and wanted
    data = await api.data(
        "query($k: String!) { playbooks(where: {triggerConditions: {hasKey: $k}}) { id } }",
        {"k": key},
    )
    wanted = sorted(
        str(r["id"])
        for r in rows
        if isinstance(r["trigger_conditions"], dict) and key in r["trigger_conditions"]
    )
    assert sorted(r["id"] for r in data["playbooks"]) == wanted


async def test_relation_filters(api: Api, catalog: Catalog) -> None:
    logs = all_rows(api.db, catalog, "execution_logs")
    tickets = all_rows(api.db, catalog, "feedback")
    playbooks = {r["playbook_name"]: r for r in all_rows(api.db, catalog, "self_healing")}

    def critical(r: Row) -> bool:
        return r["priority"] == "critical"

    def related(log: Row) -> list[Row]:
        return [t for t in tickets if t["affected_component"] == log["component"]]

    cases: list[tuple[str, Callable[[Row], bool]]] = [
        (
            "{playbook: {trustScore: {gt: 0.7}}}",
            lambda r: (
                (p := playbooks.get(r["linked_playbook_id"])) is not None
                and p["trust_score"] is not None
                and p["trust_score"] > 0.7
            ),
        ),
        (
            "{relatedFeedback: {some: {priority: {eq: CRITICAL}}}}",
            lambda r: any(critical(t) for t in related(r)),
        ),
        (
            "{relatedFeedback: {none: {priority: {eq: CRITICAL}}}}",
            lambda r: not any(critical(t) for t in related(r)),
        ),
        (
            "{relatedFeedback: {every: {priority: {eq: CRITICAL}}}}",
            lambda r: all(critical(t) for t in related(r)),
        ),
    ]
    for where, expect in cases:
        data = await api.data(f"{{ executionLogs(where: {where}, limit: 1000) {{ id }} }}")
        wanted = sorted(str(r["id"]) for r in logs if expect(r))
        assert sorted(r["id"] for r in data["executionLogs"]) == wanted, where


async def test_like_wildcards_are_escaped_in_contains(api: Api) -> None:
    """`contains: "%"` looks for a percent sign; it is no wildcard matching everything."""
    every = await api.data('{ feedbackTickets(where: {title: {like: "%"}}, limit: 1000) { id } }')
    literal = await api.data(
        '{ feedbackTickets(where: {title: {contains: "%"}}, limit: 1000) { id } }'
    )
    assert len(literal["feedbackTickets"]) < len(every["feedbackTickets"])
