"""The analytics questions of docs/queries.md, answered with aggregates as the page shows.

The page's "Analytics" section marks its blocks `<!-- analytics: id -->` (the query),
`analytics-variables: id`, `analytics-sql: id[/root] [postgresql|sqlite]` and
`analytics-output: id`, markers that tests/test_queries.py does not read. Each query runs on the
scale-1 demo data on SQLite and on PostgreSQL and must answer exactly the output the page shows,
what the page's SQL for that database finds (every group, count, sum, average and percentile, in
order), the same on both databases, and something rather than nothing.

Literal output for fixed time windows needs fixed data. The seed dates its rows back from an
anchor (graph/seed/load.py): the CLI takes the day's UTC midnight, the shared `seeded_db`
fixture the moment the suite starts. This module seeds its own databases at DEMO_NOW, the anchor
of the page's output, so no answer depends on the day or hour the suite runs.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from graph.seed.load import seed_database
from graph.spec import Spec
from graph.sql.ddl import create_schema
from graph.sql.tables import Catalog
from tests.api import Api
from tests.databases import BACKENDS, TestDatabase, fresh_database

PAGE = Path(__file__).resolve().parent.parent / "docs" / "queries.md"
# The anchor of the page's output: `grace-graph seed` run on that day.
DEMO_NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
Row = dict[str, Any]

MARKER = re.compile(r"<!-- analytics(?:-\w+)?: ")
BLOCK = re.compile(
    r"<!-- analytics(?:-(variables|sql|output))?: ([a-z0-9-]+)(?:/(\w+))?"
    r"(?: (postgresql|sqlite))? -->\n```(\w+)\n(.*?)```",
    re.DOTALL,
)
LANGUAGE = {"": "graphql", "variables": "json", "sql": "sql", "output": "json"}


# -- the page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """Everything the page shows for one question."""

    query: str
    variables: dict[str, Any]
    output: dict[str, Any] | None
    # SQL by (root it answers or None for the only one, database or None for both)
    sql: dict[tuple[str | None, str | None], str]

    def sql_for(self, backend: str) -> dict[str | None, str]:
        """The blocks a reader of that database runs, by the root each answers."""
        blocks = [(root, sql) for (root, kind), sql in self.sql.items() if kind in (None, backend)]
        roots = [root for root, _ in blocks]
        assert len(set(roots)) == len(roots), f"two {backend} SQL blocks for one root: {roots}"
        return dict(blocks)


# A block's place in its question: (kind, root, database), "" the query's kind.
Place = tuple[str, str | None, str | None]


def entry(blocks: dict[Place, str]) -> Entry:
    output = blocks.get(("output", None, None))
    return Entry(
        query=blocks.get(("", None, None), ""),
        variables=json.loads(blocks.get(("variables", None, None), "{}")),
        output=None if output is None else json.loads(output),
        sql={(root, db): body for (kind, root, db), body in blocks.items() if kind == "sql"},
    )


def read_page(path: Path = PAGE) -> dict[str, Entry]:
    """The section's blocks by question id; a marker without its block, or two blocks in one
    place, is an error."""
    page = path.read_text(encoding="utf-8")
    questions: dict[str, dict[Place, str]] = {}
    found = BLOCK.findall(page)
    for kind, qid, root, backend, language, body in found:
        assert language == LANGUAGE[kind], f"{qid}: an analytics-{kind} block is not {language}"
        place = (kind, root or None, backend or None)
        assert place not in questions.setdefault(qid, {}), f"{qid}: two blocks at {place}"
        questions[qid][place] = body
    missing = len(MARKER.findall(page)) - len(found)
    assert not missing, f"{missing} analytics marker(s) on {path.name} not followed by a block"
    return {qid: entry(blocks) for qid, blocks in questions.items()}


ENTRIES = read_page()


# -- SQL and answers -------------------------------------------------------------------------


def fetch(db: TestDatabase, sql: str) -> list[Row]:
    """Rows of SQL run as a reader would paste it: the driver's own cursor, no parameters
    (so that a `%` stays a `%`)."""
    with db.engine.connect() as conn:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()


class PageSql:
    """The page's SQL of one question for one database; remembers which blocks ran."""

    def __init__(self, db: TestDatabase, blocks: dict[str | None, str]) -> None:
        self.db = db
        self.blocks = blocks
        self.ran: set[str | None] = set()

    def __call__(self, root: str | None = None) -> list[Row]:
        self.ran.add(root)
        return fetch(self.db, self.blocks[root])

    def rows(self, sql: str) -> list[Row]:
        """The test's own SQL, beside the page's."""
        return fetch(self.db, sql)


def instant(value: str | dt.date) -> str:
    """The API's DateTime text for a SQL date or timestamp, or SQLite's text for either."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, dt.time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def enum(value: str | None) -> str | None:
    """The API's name of a stored enum value."""
    return None if value is None else value.upper()


def big(value: Any) -> str | None:
    """A BigInt as the API writes it: the digits, in a string."""
    return None if value is None else str(int(value))


def counts(rows: list[Row], key: str, convert: Callable[[Any], Any] = lambda v: v) -> list[Row]:
    """Groups of one key and a count, from SQL rows of (key value, count)."""
    return [{"key": {key: convert(value)}, "count": n} for value, n in (r.values() for r in rows)]


def approx(value: Any) -> Any:
    """The value with each float compared approximately: the same mean or percentile may differ
    in its last bits by database and by the order the values are added in."""
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-9)
    if isinstance(value, dict):
        return {k: approx(v) for k, v in value.items()}
    if isinstance(value, list):
        return [approx(v) for v in value]
    return value


def percentile(values: list[float], p: float) -> float | None:
    """docs/api.md's definition (PostgreSQL's percentile_cont): interpolate at p * (n - 1)."""
    ordered = sorted(values)
    if not ordered:
        return None
    i = p * (len(ordered) - 1)
    low, high = ordered[math.floor(i)], ordered[math.ceil(i)]
    return low + (i - math.floor(i)) * (high - low)


def measured(value: Any) -> bool:
    """Whether an answer holds a number above 0: a count, sum or mean of something."""
    if isinstance(value, dict):
        return any(measured(v) for v in value.values())
    if isinstance(value, list):
        return any(measured(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


# -- the questions ---------------------------------------------------------------------------

# A check compares the API's answer with what the page's SQL finds on the same database.
Check = Callable[[dict[str, Any], PageSql], None]
CHECKS: dict[str, Check] = {}


def question(qid: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        CHECKS[qid] = check
        return check

    return register


@question("failures-per-day")
def _failures_per_day(data: dict[str, Any], sql: PageSql) -> None:
    want = [
        {
            "key": {"component": r["component"], "startedAt": instant(r["day"])},
            "count": r["failures"],
        }
        for r in sql()
    ]
    assert data["executionLogsAggregate"] == want
    # fill: every day of the window for every component that failed in it
    components = {group["key"]["component"] for group in want}
    assert len(want) == 30 * len(components)


@question("trusted-playbooks")
def _trusted_playbooks(data: dict[str, Any], sql: PageSql) -> None:
    statuses: dict[str, list[Row]] = {}
    for r in sql("runsByStatus"):
        group = {"key": {"status": enum(r["status"])}, "count": r["runs"]}
        statuses.setdefault(r["playbook_name"], []).append(group)
    want = [
        {
            "playbookName": r["playbook_name"],
            "trustScore": r["trust_score"],
            "successRate": r["success_rate"],
            "runs": [{"count": r["runs"], "p95": {"durationMs": r["p95_duration_ms"]}}],
            "runsByStatus": statuses.get(r["playbook_name"], []),
        }
        for r in sql("playbooks")
    ]
    assert data["playbooks"] == approx(want)
    # The p95 once more, from the durations themselves by docs/api.md's formula.
    durations: dict[str, list[float]] = {}
    for r in sql.rows("""
        SELECT linked_playbook_id, duration_ms FROM memory_execution_logs
        WHERE linked_playbook_id IS NOT NULL AND duration_ms IS NOT NULL"""):
        durations.setdefault(r["linked_playbook_id"], []).append(r["duration_ms"])
    for playbook in data["playbooks"]:
        (runs,) = playbook["runs"]
        want_p95 = percentile(durations.get(playbook["playbookName"], []), 0.95)
        assert runs["p95"]["durationMs"] == approx(want_p95), playbook["playbookName"]


@question("open-critical-tickets")
def _open_critical_tickets(data: dict[str, Any], sql: PageSql) -> None:
    assert data["perComponent"] == counts(sql("perComponent"), "affectedComponent")
    tickets: dict[str, Row] = {}
    for r in sql("tickets"):
        ticket = tickets.setdefault(
            r["ticket_id"],
            {
                "ticketId": r["ticket_id"],
                "affectedComponent": r["affected_component"],
                "title": r["title"],
                "workOrders": [],
            },
        )
        if r["work_order_id"] is not None:
            order = {"workOrderId": r["work_order_id"], "status": enum(r["status"])}
            ticket["workOrders"].append(order)
    assert data["tickets"] == list(tickets.values())
    assert any(t["workOrders"] for t in data["tickets"]), "no open critical ticket has work orders"


@question("deployments-per-week")
def _deployments_per_week(data: dict[str, Any], sql: PageSql) -> None:
    want: dict[str, list[Row]] = {}
    for r in sql():
        group = {"key": {"completedAt": instant(r["week"])}, "count": r["deployments"]}
        want.setdefault(r["impact"], []).append(group)
    assert data == want
    assert all(len(weeks) == 8 for weeks in want.values())


@question("compliance-gaps-per-framework")
def _compliance_gaps(data: dict[str, Any], sql: PageSql) -> None:
    want = [
        {
            "key": {"complianceFramework": enum(r["compliance_framework"])},
            "reports": r["reports"],
            "sum": {
                "controlsFailed": big(r["controls_failed"]),
                "controlsAssessed": big(r["controls_assessed"]),
            },
            "worstRisk": {"riskLevel": enum(r["worst_risk"])},
        }
        for r in sql()
    ]
    assert data["complianceReportsAggregate"] == want


# The query's alias for each model the prompts name, and for all of them.
PROMPT_MODELS = {
    "all models": "allModels",
    "gpt-4o": "gpt4o",
    "gpt-4o-mini": "gpt4oMini",
    "claude-3-5-sonnet": "claude35Sonnet",
    "llama-3-70b-instruct": "llama370bInstruct",
}


@question("prompt-quality")
def _prompt_quality(data: dict[str, Any], sql: PageSql) -> None:
    want: dict[str, list[Row]] = {}
    for r in sql():
        assert r["model"] in PROMPT_MODELS, f"the query has no aggregate for {r['model']}"
        group = {
            "key": {"category": enum(r["category"])},
            "prompts": r["prompts"],
            "avg": {"qualityScore": r["avg_quality"]},
            "sum": {"totalUses": big(r["total_uses"]), "successfulUses": big(r["successful_uses"])},
        }
        want.setdefault(PROMPT_MODELS[r["model"]], []).append(group)
    assert data == approx(want)


@question("cross-domain-counts")
def _cross_domain_counts(data: dict[str, Any], sql: PageSql) -> None:
    assert data["ecommerceDocuments"] == counts(sql("ecommerceDocuments"), "category")
    assert data["salesDashboards"] == counts(sql("salesDashboards"), "status", enum)
    assert data["featureRequests"] == counts(sql("featureRequests"), "status", enum)
    assert data["deliveredRequests"] == counts(sql("deliveredRequests"), "status", enum)
    assert data["deployedFeatures"] == counts(sql("deployedFeatures"), "component")


@question("related-issues-counts")
def _related_issues_counts(data: dict[str, Any], sql: PageSql) -> None:
    want = [
        {
            "key": {"component": r["component"], "playbook": {"playbookName": r["remediation"]}},
            "count": r["failed_runs"],
            "codeFixes": {"linkedWorkOrderId": r["code_fixes"]},
        }
        for r in sql("failedRuns")
    ]
    assert data["failedRuns"] == want
    assert data["userIssues"] == counts(sql("userIssues"), "affectedComponent")


@question("stale-dashboards")
def _stale_dashboards(data: dict[str, Any], sql: PageSql) -> None:
    assert data["staleByCategory"] == approx(
        [
            {
                "key": {"category": enum(r["category"])},
                "stale": r["stale"],
                "max": {"dataFreshnessHours": float(r["max_hours"])},
                "avg": {"dataFreshnessHours": float(r["avg_hours"])},
            }
            for r in sql("staleByCategory")
        ]
    )
    assert data["stalest"] == approx(
        [
            {
                "dashboardName": r["dashboard_name"],
                "category": enum(r["category"]),
                "owner": r["owner"],
                "lastRefreshAt": instant(r["last_refresh_at"]),
                "dataFreshnessHours": float(r["data_freshness_hours"]),
            }
            for r in sql("stalest")
        ]
    )


# -- the tests -------------------------------------------------------------------------------


@dataclass
class DemoData:
    """This module's demo databases, each seeded at DEMO_NOW on first use, and their answers."""

    folder: Path
    spec: Spec
    catalog: Catalog
    stack: ExitStack
    apis: dict[str, Api] = field(default_factory=dict)
    answers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def api(self, backend: str) -> Api:
        if backend not in self.apis:
            db = self.stack.enter_context(fresh_database(backend, self.folder))
            create_schema(db.engine, self.catalog)
            seed_database(
                db.engine,
                self.catalog,
                scale=1,
                seed=7,
                if_empty=False,
                progress=False,
                now=DEMO_NOW,
            )
            # Requests at the demo's clock too: computed ages (A9) count from it.
            self.apis[backend] = Api(db, self.spec, self.catalog, clock=lambda: DEMO_NOW)
        return self.apis[backend]

    async def answer(self, backend: str, qid: str) -> dict[str, Any]:
        if (backend, qid) not in self.answers:
            entry = ENTRIES[qid]
            data = await self.api(backend).data(entry.query, entry.variables)
            self.answers[backend, qid] = data
        return self.answers[backend, qid]


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, spec: Spec, catalog: Catalog
) -> Iterator[DemoData]:
    with ExitStack() as stack:
        yield DemoData(tmp_path_factory.mktemp("analytics"), spec, catalog, stack)


def test_page_answers_every_question() -> None:
    """The page and this module cover the same questions, each with its query, output and SQL
    for both databases; the page says when its data was seeded."""
    assert set(ENTRIES) == set(CHECKS)
    for qid, entry in ENTRIES.items():
        assert entry.query, f"{qid}: no query"
        assert entry.output is not None, f"{qid}: no output"
        for backend in BACKENDS:
            assert entry.sql_for(backend), f"{qid}: no SQL for {backend}"
    assert DEMO_NOW.date().isoformat() in PAGE.read_text(encoding="utf-8")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("qid", list(CHECKS))
async def test_question(demo: DemoData, qid: str, backend: str) -> None:
    """The page's query gives what the page's SQL finds, the output shown, and something."""
    entry = ENTRIES[qid]
    data = await demo.answer(backend, qid)
    sql = PageSql(demo.api(backend).db, entry.sql_for(backend))
    CHECKS[qid](data, sql)
    assert sql.ran == set(sql.blocks), f"{qid}: SQL on the page that no check runs"
    assert entry.output is not None
    assert data == approx(entry.output["data"]), "the page shows another output"
    for root, groups in data.items():
        assert groups, f"{qid}: {root} is empty, but the demo data should answer it"
    assert measured(data), f"{qid}: every count is 0"


@pytest.mark.parametrize("qid", list(CHECKS))
async def test_same_answer_on_both_databases(demo: DemoData, qid: str) -> None:
    sqlite = await demo.answer("sqlite", qid)
    postgresql = await demo.answer("postgresql", qid)
    assert postgresql == approx(sqlite)
