"""Every question of the requirements document, answered by the API as docs/queries.md shows.

The queries are read from docs/queries.md, so the page and the tests cannot drift apart. Each is
run on the scale-1 sample data on SQLite and PostgreSQL and compared with hand-written SQL over
the same rows: the same keys in the same order, the same related rows under each, and a
non-empty answer (the seed is built so that every question has one). The SQL printed on the
page runs too, so a reader who copies it gets the API's answer.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import text

from tests.api import Api
from tests.databases import TestDatabase

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "queries.md"
Row = dict[str, Any]
Item = dict[str, Any]

# <!-- query: id -->, <!-- variables: id -->, <!-- sql: id[/root] [postgresql|sqlite] -->,
# each directly followed by its fenced block.
MARKER = re.compile(
    r"<!-- (query|variables|sql): ([a-z0-9-]+)(?:/(\w+))?(?: (postgresql|sqlite))? -->"
)
BLOCK = re.compile(MARKER.pattern + r"\n```(\w+)\n(.*?)```", re.DOTALL)
LANGUAGE = {"query": "graphql", "variables": "json", "sql": "sql"}
BACKENDS = ("sqlite", "postgresql")


# -- the page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSql:
    """One SQL block of the page: for one database or both, answering one root field."""

    root: str | None
    backend: str | None
    sql: str


@dataclass
class Entry:
    """Everything the page shows for one question."""

    query: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    sql: list[PageSql] = field(default_factory=list)


def read_page(path: Path = PAGE) -> dict[str, Entry]:
    """The page's blocks by question id; a marker without its block is an error, not a skip."""
    page = path.read_text(encoding="utf-8")
    entries: dict[str, Entry] = {}
    found = 0
    for kind, qid, root, backend, language, body in BLOCK.findall(page):
        found += 1
        assert language == LANGUAGE[kind], f"{qid}: a {kind} block must be ```{LANGUAGE[kind]}"
        entry = entries.setdefault(qid, Entry())
        if kind == "query":
            assert not entry.query, f"{qid}: two queries"
            entry.query = body
        elif kind == "variables":
            entry.variables = json.loads(body)
        else:
            entry.sql.append(PageSql(root or None, backend or None, body))
    markers = len(MARKER.findall(page))
    assert found == markers, f"{markers - found} marker(s) on {path.name} not followed by a block"
    return entries


ENTRIES = read_page()


# -- SQL over the same rows ------------------------------------------------------------------


class Db:
    """Hand-written SQL against the seeded database, and the few spellings that differ by kind.

    `now` is taken just before the API request, so time windows computed here match the API's.
    """

    def __init__(self, db: TestDatabase, now: dt.datetime) -> None:
        self.db = db
        self.pg = db.backend == "postgresql"
        self.now = now

    def rows(self, sql: str, **params: Any) -> list[Row]:
        with self.db.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql), params).mappings()]

    def column(self, sql: str, **params: Any) -> list[Any]:
        """The first column of each row: the keys of an answer, in its order."""
        with self.db.engine.connect() as conn:
            return [r[0] for r in conn.execute(text(sql), params)]

    def ago(self, **delta: float) -> Any:
        """Bound value for `now - delta`: aware for PostgreSQL, SQLite's stored UTC text form."""
        moment = self.now - dt.timedelta(**delta)
        if self.pg:
            return moment
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def today(self) -> Any:
        """Today's UTC date, as the API's date windows see it."""
        day = self.now.astimezone(dt.UTC).date()
        return day if self.pg else day.isoformat()

    def holds(self, column: str, param: str) -> str:
        """SQL condition: the list column holds the bound value `:param`."""
        if self.pg:
            return f":{param} = ANY({column})"
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = :{param})"

    def member(self, value: str, column: str) -> str:
        """SQL join condition: the value expression is an element of the list column."""
        if self.pg:
            return f"{value} = ANY({column})"
        return f"{value} IN (SELECT value FROM json_each({column}))"

    def json_contains(self, column: str, document: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """SQL condition and parameters: the JSON object column contains these scalar keys."""
        if self.pg:
            return f"{column} @> CAST(:document AS jsonb)", {"document": json.dumps(document)}
        parts = [f"json_extract({column}, '$.{key}') = :k{i}" for i, key in enumerate(document)]
        return " AND ".join(parts), {f"k{i}": v for i, v in enumerate(document.values())}

    def page_sql(self, sql: str) -> list[Any]:
        """Run a block of the page as a reader would paste it: no parameters, first column.

        The driver's own cursor, without parameters, so that a `%` in the SQL stays a `%`.
        """
        with self.db.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                cursor.execute(sql)
                return [r[0] for r in cursor.fetchall()]
            finally:
                cursor.close()


# -- reading answers -------------------------------------------------------------------------


def items_at(data: dict[str, Any], path: str) -> list[Item]:
    """The list at a dotted path of the response (`workOrdersConnection.nodes`)."""
    value: Any = data
    for part in path.split("."):
        value = value[part]
    assert isinstance(value, list), f"{path} is not a list"
    return value


def keys(items: Iterable[Item], key: str) -> list[Any]:
    return [item[key] for item in items]


def one(item: Item, relation: str, key: str) -> Any:
    """The key of a to-one related row, or None when there is none."""
    related = item[relation]
    return None if related is None else related[key]


def linked(items: Iterable[Item], key: str, relation: str, related_key: str) -> list[Any]:
    """(row key, related row key) pairs: which row got which to-one related row."""
    return [(item[key], one(item, relation, related_key)) for item in items]


def pairs(rows: Iterable[Row], key: str, related_key: str) -> list[Any]:
    """The same pairs from SQL rows."""
    return [(row[key], row[related_key]) for row in rows]


def grouped(rows: Iterable[Row], parent: str, child: str) -> dict[Any, list[Any]]:
    """Flattened parent/child rows (a LEFT JOIN) back into each parent's children, in order."""
    groups: dict[Any, list[Any]] = {}
    for row in rows:
        children = groups.setdefault(row[parent], [])
        if row[child] is not None:
            children.append(row[child])
    return groups


def unique(values: Iterable[Any]) -> list[Any]:
    """Values in first-seen order without repeats: a fanned-out SQL answer's parent keys."""
    return list(dict.fromkeys(values))


# -- the questions ---------------------------------------------------------------------------


class Root(NamedTuple):
    """A top-level list of an answer and the key that identifies its rows."""

    path: str
    key: str


# A check asserts what is special about one question (related rows, counts) and returns the
# expected keys of each root, in order, from hand-written SQL.
Check = Callable[[dict[str, Any], Db, dict[str, Any]], dict[str, list[Any]]]


@dataclass(frozen=True)
class Question:
    roots: tuple[Root, ...]
    check: Check


QUESTIONS: dict[str, Question] = {}


def question(qid: str, *roots: Root) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        QUESTIONS[qid] = Question(roots, check)
        return check

    return register


# The document's SQL examples ----------------------------------------------------------------


@question("most-effective-playbooks", Root("playbooks", "playbookName"))
def _most_effective_playbooks(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column("""
        SELECT playbook_name FROM memory_self_healing_playbooks
        WHERE trust_score > 0.7
        ORDER BY success_rate DESC NULLS FIRST, id LIMIT 10""")
    return {"playbooks": want}


@question("recent-incidents", Root("executionLogs", "executionId"))
def _recent_incidents(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    rows = db.rows("""
        SELECT e.execution_id, p.playbook_name
        FROM memory_execution_logs e
        LEFT JOIN memory_self_healing_playbooks p ON p.playbook_name = e.linked_playbook_id
        WHERE e.status = 'failed' AND e.linked_playbook_id IS NOT NULL
        ORDER BY e.started_at DESC NULLS FIRST, e.id LIMIT 20""")
    logs = data["executionLogs"]
    assert linked(logs, "executionId", "playbook", "playbookName") == pairs(
        rows, "execution_id", "playbook_name"
    )
    return {"executionLogs": [r["execution_id"] for r in rows]}


@question("features-deployed-this-week", Root("workOrders", "workOrderId"))
def _features_this_week(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column(
        """
        SELECT work_order_id FROM memory_coding_work_orders
        WHERE status = 'deployed' AND task_type = 'feature'
          AND completed_at >= :since AND completed_at <= :now
        ORDER BY completed_at DESC NULLS FIRST, id LIMIT 100""",
        since=db.ago(days=7),
        now=db.ago(),
    )
    return {"workOrders": want}


@question("failing-test-suites", Root("verificationSuites", "suiteName"))
def _failing_test_suites(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column("""
        SELECT suite_name FROM memory_verification_suites
        WHERE last_run_status = 'fail'
        ORDER BY failed_tests DESC NULLS FIRST, id LIMIT 100""")
    return {"verificationSuites": want}


@question("high-risk-approvals-this-month", Root("governanceDecisions", "decisionId"))
def _high_risk_approvals(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column(
        """
        SELECT decision_id FROM memory_governance_decisions
        WHERE decision_type = 'approval' AND risk_level = 'high'
          AND created_at >= :since AND created_at <= :now
        ORDER BY created_at DESC, id LIMIT 100""",
        since=db.ago(days=30),
        now=db.ago(),
    )
    # The document's own SQL (no decision_type) would also list high-risk denials/escalations.
    assert all(d["decisionOutcome"] != "DENIED" for d in data["governanceDecisions"])
    return {"governanceDecisions": want}


@question("compliance-gaps", Root("complianceReports", "reportId"))
def _compliance_gaps(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column("""
        SELECT report_id FROM memory_compliance_reports
        WHERE compliance_status = 'non_compliant'
        ORDER BY CASE compliance_framework WHEN 'gdpr' THEN 0 WHEN 'soc2' THEN 1
                 WHEN 'hipaa' THEN 2 WHEN 'iso27001' THEN 3 WHEN 'pci_dss' THEN 4
                 WHEN 'ccpa' THEN 5 END, report_id, id LIMIT 100""")
    return {"complianceReports": want}


@question(
    "cross-domain-business-insight",
    Root("ecommerceDocuments", "documentId"),
    Root("salesDashboards", "dashboardName"),
    Root("featureRequests", "ticketId"),
    Root("deployedFeatures", "workOrderId"),
)
def _cross_domain(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    documents = db.column(
        f"""
        SELECT document_id FROM memory_documents WHERE {db.holds("key_topics", "topic")}
        ORDER BY document_id, id LIMIT 50""",
        topic="ecommerce",
    )
    dashboards = db.column(
        f"""
        SELECT dashboard_name FROM memory_business_intelligence
        WHERE category = 'sales' AND {db.holds("data_sources", "source")}
        ORDER BY dashboard_name, id LIMIT 50""",
        source="memory_documents",
    )
    requests = db.column("""
        SELECT ticket_id FROM memory_feedback_tickets WHERE ticket_type = 'feature_request'
        ORDER BY ticket_id, id LIMIT 50""")
    features = db.column("""
        SELECT work_order_id FROM memory_coding_work_orders
        WHERE task_type = 'feature' AND status = 'deployed'
        ORDER BY work_order_id, id LIMIT 50""")
    delivered = grouped(
        db.rows(f"""
            SELECT f.ticket_id, c.work_order_id
            FROM memory_feedback_tickets f
            LEFT JOIN memory_coding_work_orders c
              ON {db.member("c.work_order_id", "f.linked_work_orders")}
             AND c.task_type = 'feature' AND c.status = 'deployed'
            WHERE f.ticket_type = 'feature_request'
            ORDER BY f.ticket_id, c.work_order_id"""),
        "ticket_id",
        "work_order_id",
    )
    for ticket in data["featureRequests"]:
        got = keys(ticket["deliveredBy"], "workOrderId")
        assert got == delivered[ticket["ticketId"]], ticket["ticketId"]
    assert any(t["deliveredBy"] for t in data["featureRequests"]), "no request was delivered"
    # The document's query, made runnable, is the cartesian product of the four lists.
    topic = "'ecommerce' = ANY(d.key_topics)" if db.pg else "d.key_topics LIKE '%\"ecommerce\"%'"
    sources = "array_to_string(b.data_sources, ',')" if db.pg else "b.data_sources"
    product = db.column(f"""
        SELECT count(*) FROM memory_documents d
        JOIN memory_business_intelligence b ON {sources} LIKE '%documents%'
        JOIN memory_feedback_tickets f ON f.ticket_type = 'feature_request'
        JOIN memory_coding_work_orders c ON c.task_type = 'feature'
        WHERE {topic} AND b.category = 'sales' AND c.status = 'deployed'""")
    assert product == [len(documents) * len(dashboards) * len(requests) * len(features)]
    return {
        "ecommerceDocuments": documents,
        "salesDashboards": dashboards,
        "featureRequests": requests,
        "deployedFeatures": features,
    }


@question("related-issues-across-systems", Root("executionLogs", "executionId"))
def _related_issues(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    runs = db.rows("""
        SELECT e.execution_id, e.component, p.playbook_name, c.work_order_id
        FROM memory_execution_logs e
        LEFT JOIN memory_self_healing_playbooks p ON p.playbook_name = e.linked_playbook_id
        LEFT JOIN memory_coding_work_orders c ON c.work_order_id = e.linked_work_order_id
        WHERE e.status = 'failed'
        ORDER BY e.started_at DESC NULLS FIRST, e.id LIMIT 50""")
    newest_tickets = grouped(
        db.rows("""
            SELECT affected_component, ticket_id FROM (
              SELECT affected_component, ticket_id, ROW_NUMBER() OVER (
                PARTITION BY affected_component ORDER BY created_at DESC, id) AS n
              FROM memory_feedback_tickets) t
            WHERE n <= 10 ORDER BY affected_component, n"""),
        "affected_component",
        "ticket_id",
    )
    logs = data["executionLogs"]
    assert keys(logs, "executionId") == [r["execution_id"] for r in runs]
    for log, run in zip(logs, runs, strict=True):
        assert one(log, "remediation", "playbookName") == run["playbook_name"]
        assert one(log, "codeFix", "workOrderId") == run["work_order_id"]
        tickets = keys(log["userIssues"], "ticketId")
        assert tickets == newest_tickets.get(run["component"], []), run["execution_id"]
    assert any(log["codeFix"] for log in logs), "no failed run has its work order"
    assert any(log["userIssues"] for log in logs), "no failed run has tickets on its component"
    # The document joins execution_id = work_order_id: two id spaces that never meet.
    assert db.column("""
        SELECT count(*) FROM memory_execution_logs e
        JOIN memory_coding_work_orders c ON e.execution_id = c.work_order_id""") == [0]
    return {"executionLogs": [r["execution_id"] for r in runs]}


# The subsystems' use cases ------------------------------------------------------------------


@question("playbook-for-database-connection-issues", Root("playbooks", "playbookName"))
def _connection_playbook(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    condition, params = db.json_contains("trigger_conditions", v["conditions"])
    want = db.column(
        f"""
        SELECT playbook_name FROM memory_self_healing_playbooks WHERE {condition}
        ORDER BY success_rate DESC NULLS FIRST, id LIMIT 100""",
        **params,
    )
    remediated = grouped(
        db.rows("""
            SELECT linked_playbook_id, execution_id FROM (
              SELECT linked_playbook_id, execution_id, ROW_NUMBER() OVER (
                PARTITION BY linked_playbook_id ORDER BY started_at DESC NULLS FIRST, id) AS n
              FROM memory_execution_logs WHERE status IN ('failed', 'timed_out')) e
            WHERE n <= 5 ORDER BY linked_playbook_id, n"""),
        "linked_playbook_id",
        "execution_id",
    )
    playbooks = data["playbooks"]
    for playbook in playbooks:
        got = keys(playbook["executions"], "executionId")
        assert got == remediated.get(playbook["playbookName"], []), playbook["playbookName"]
    assert any(p["executions"] for p in playbooks), "no failed run names these playbooks"
    return {"playbooks": want}


@question("deployed-features-this-week", Root("workOrdersConnection.nodes", "workOrderId"))
def _all_deployed_features(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    rows = db.rows(
        """
        SELECT w.work_order_id, cb.repo_name, a.agent_id
        FROM memory_coding_work_orders w
        LEFT JOIN memory_codebases cb ON cb.repo_name = w.repo_name
        LEFT JOIN memory_sub_agents a ON a.agent_id = w.assigned_agent_id
        WHERE w.task_type = 'feature' AND w.status = 'deployed'
          AND w.completed_at >= :since AND w.completed_at <= :now
        ORDER BY w.completed_at DESC NULLS FIRST, w.id""",
        since=db.ago(days=7),
        now=db.ago(),
    )
    connection = data["workOrdersConnection"]
    assert connection["totalCount"] == len(rows)
    assert connection["pageInfo"]["hasNextPage"] == (len(rows) > 50)
    page = rows[:50]
    nodes = connection["nodes"]
    assert linked(nodes, "workOrderId", "codebase", "repoName") == pairs(
        page, "work_order_id", "repo_name"
    )
    assert linked(nodes, "workOrderId", "assignedAgent", "agentId") == pairs(
        page, "work_order_id", "agent_id"
    )
    return {"workOrdersConnection.nodes": [r["work_order_id"] for r in page]}


@question("idle-agents", Root("subAgents", "agentId"))
def _idle_agents(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    rows = db.rows("""
        SELECT a.agent_id, parent.agent_id AS parent_id
        FROM memory_sub_agents a
        LEFT JOIN memory_sub_agents parent ON parent.agent_id = a.parent_agent_id
        WHERE a.status = 'idle'
        ORDER BY a.trust_score DESC NULLS FIRST, a.id LIMIT 100""")
    agents = data["subAgents"]
    assert linked(agents, "agentId", "parent", "agentId") == pairs(rows, "agent_id", "parent_id")
    return {"subAgents": [r["agent_id"] for r in rows]}


@question("failing-tests", Root("verificationSuites", "suiteName"))
def _failing_tests(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column("""
        SELECT suite_name FROM memory_verification_suites
        WHERE last_run_status = 'fail'
        ORDER BY failed_tests DESC NULLS FIRST, id LIMIT 100""")
    fixes = grouped(
        db.rows(f"""
            SELECT s.suite_name, w.work_order_id
            FROM memory_verification_suites s
            LEFT JOIN memory_coding_work_orders w
              ON {db.member("w.work_order_id", "s.linked_fixes")}
            WHERE s.last_run_status = 'fail'
            ORDER BY s.suite_name, w.work_order_id"""),
        "suite_name",
        "work_order_id",
    )
    suites = data["verificationSuites"]
    for suite in suites:
        assert keys(suite["fixes"], "workOrderId") == fixes[suite["suiteName"]]
    assert any(s["fixes"] for s in suites), "no failing suite verifies a fix"
    return {"verificationSuites": want}


@question("who-approved-schema-change", Root("governanceDecisions", "decisionId"))
def _who_approved(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column(
        """
        SELECT decision_id FROM memory_governance_decisions
        WHERE subject_type = 'schema_change' AND subject = :subject
          AND decision_type = 'approval'
        ORDER BY created_at DESC, id LIMIT 100""",
        subject=v["subject"],
    )
    assert all(d["decisionMaker"] for d in data["governanceDecisions"])
    return {"governanceDecisions": want}


@question("failing-triggers", Root("triggers", "triggerName"))
def _failing_triggers(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column("""
        SELECT trigger_name FROM memory_trigger_mesh WHERE failed_triggers > 0
        ORDER BY failed_triggers DESC NULLS FIRST, id LIMIT 100""")
    return {"triggers": want}


@question("stale-dashboards", Root("dashboards", "dashboardName"))
def _stale_dashboards(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    # data_freshness_hours is computed (hours since last_refresh_at), so more than 24 hours
    # is a refresh before a day ago, and the most hours is the oldest refresh.
    want = db.column(
        """
        SELECT dashboard_name FROM memory_business_intelligence WHERE last_refresh_at < :stale
        ORDER BY last_refresh_at ASC NULLS FIRST, id LIMIT 100""",
        stale=db.ago(hours=24),
    )
    hours = [d["dataFreshnessHours"] for d in data["dashboards"]]
    assert hours == sorted(hours, reverse=True) and min(hours) > 24
    return {"dashboards": want}


@question("failed-scans-today", Root("discoveryTargets", "targetName"))
def _failed_scans_today(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column(
        """
        SELECT target_name FROM memory_discovery_targets
        WHERE status = 'error' AND last_scan_at >= :since AND last_scan_at <= :now
        ORDER BY last_scan_at DESC NULLS FIRST, id LIMIT 100""",
        since=db.ago(days=1),
        now=db.ago(),
    )
    return {"discoveryTargets": want}


@question("non-compliant-controls", Root("complianceReports", "reportId"))
def _non_compliant_controls(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column("""
        SELECT report_id FROM memory_compliance_reports
        WHERE compliance_status = 'non_compliant'
        ORDER BY controls_failed DESC NULLS FIRST, id LIMIT 100""")
    assert any(r["gapsIdentified"] for r in data["complianceReports"]), "no gaps listed"
    return {"complianceReports": want}


@question("sops-needing-review", Root("sops", "sopId"))
def _sops_needing_review(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column(
        """
        SELECT sop_id FROM memory_sop_manuals
        WHERE next_review_date < :today AND status <> 'retired'
        ORDER BY next_review_date NULLS LAST, id LIMIT 100""",
        today=db.today(),
    )
    return {"sops": want}


@question("failed-deployments", Root("executionLogs", "executionId"))
def _failed_deployments(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    rows = db.rows("""
        SELECT e.execution_id, p.playbook_name, w.work_order_id
        FROM memory_execution_logs e
        LEFT JOIN memory_self_healing_playbooks p ON p.playbook_name = e.linked_playbook_id
        LEFT JOIN memory_coding_work_orders w ON w.work_order_id = e.linked_work_order_id
        WHERE e.status = 'failed' AND e.command_type = 'deploy'
        ORDER BY e.started_at DESC NULLS FIRST, e.id LIMIT 50""")
    logs = data["executionLogs"]
    assert linked(logs, "executionId", "playbook", "playbookName") == pairs(
        rows, "execution_id", "playbook_name"
    )
    assert linked(logs, "executionId", "workOrder", "workOrderId") == pairs(
        rows, "execution_id", "work_order_id"
    )
    return {"executionLogs": [r["execution_id"] for r in rows]}


@question("unresolved-critical-issues", Root("feedbackTickets", "ticketId"))
def _unresolved_critical(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    unresolved = "status IN ('open', 'in_progress', 'waiting_on_reporter')"
    want = db.column(f"""
        SELECT ticket_id FROM memory_feedback_tickets
        WHERE priority = 'critical' AND {unresolved}
        ORDER BY created_at, id LIMIT 100""")
    orders = grouped(
        db.rows(f"""
            SELECT f.ticket_id, w.work_order_id
            FROM memory_feedback_tickets f
            LEFT JOIN memory_coding_work_orders w
              ON {db.member("w.work_order_id", "f.linked_work_orders")}
            WHERE f.priority = 'critical' AND f.{unresolved}
            ORDER BY f.ticket_id, w.work_order_id"""),
        "ticket_id",
        "work_order_id",
    )
    tickets = data["feedbackTickets"]
    for ticket in tickets:
        assert keys(ticket["workOrders"], "workOrderId") == orders[ticket["ticketId"]]
    return {"feedbackTickets": want}


@question("best-summarization-prompts", Root("prompts", "promptName"))
def _best_prompts(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column("""
        SELECT prompt_name FROM memory_llm_prompts
        WHERE category = 'summarization' AND status = 'active'
        ORDER BY quality_score DESC NULLS LAST, id LIMIT 5""")
    return {"prompts": want}


# The base tables ----------------------------------------------------------------------------


@question("ecommerce-documents", Root("documents", "documentId"))
def _ecommerce_documents(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    rows = db.rows(
        f"""
        SELECT d.document_id, cb.repo_name
        FROM memory_documents d
        LEFT JOIN memory_codebases cb ON cb.repo_name = d.related_repo
        WHERE {db.holds("d.key_topics", "topic")} AND d.status = 'active'
        ORDER BY d.trust_score DESC NULLS FIRST, d.id LIMIT 50""",
        topic="ecommerce",
    )
    documents = data["documents"]
    assert linked(documents, "documentId", "codebase", "repoName") == pairs(
        rows, "document_id", "repo_name"
    )
    assert all("ecommerce" in d["keyTopics"] for d in documents)
    return {"documents": [r["document_id"] for r in rows]}


@question("undertested-codebases", Root("codebases", "repoName"))
def _undertested_codebases(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column("""
        SELECT repo_name FROM memory_codebases
        WHERE status IN ('active', 'maintenance') AND test_coverage_percent < 60
        ORDER BY test_coverage_percent NULLS LAST, id LIMIT 100""")
    failing = grouped(
        db.rows("""
            SELECT cb.repo_name, s.suite_name
            FROM memory_codebases cb
            LEFT JOIN memory_verification_suites s
              ON s.repo_name = cb.repo_name AND s.last_run_status IN ('fail', 'error')
            ORDER BY cb.repo_name, s.suite_name"""),
        "repo_name",
        "suite_name",
    )
    codebases = data["codebases"]
    for codebase in codebases:
        assert keys(codebase["failingSuites"], "suiteName") == failing[codebase["repoName"]]
    return {"codebases": want}


@question("pii-datasets-and-dashboards", Root("datasets", "datasetName"))
def _pii_datasets(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    want = db.column("""
        SELECT dataset_name FROM memory_datasets WHERE contains_pii
        ORDER BY dataset_name, id LIMIT 100""")
    readers = grouped(
        db.rows(f"""
            SELECT ds.dataset_name, b.dashboard_name
            FROM memory_datasets ds
            LEFT JOIN memory_business_intelligence b
              ON {db.member("ds.dataset_name", "b.source_datasets")}
            WHERE ds.contains_pii
            ORDER BY ds.dataset_name, b.dashboard_name"""),
        "dataset_name",
        "dashboard_name",
    )
    datasets = data["datasets"]
    for dataset in datasets:
        assert keys(dataset["dashboards"], "dashboardName") == readers[dataset["datasetName"]]
    assert any(d["dashboards"] for d in datasets), "no dashboard reads personal data"
    return {"datasets": want}


@question("checkout-recordings-with-transcripts", Root("mediaAssets", "mediaId"))
def _checkout_recordings(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    rows = db.rows(
        f"""
        SELECT m.media_id, d.document_id
        FROM memory_media m
        LEFT JOIN memory_documents d ON d.document_id = m.transcript_document_id
        WHERE m.media_type IN ('audio', 'video') AND {db.holds("m.tags", "tag")}
          AND m.transcript_document_id IS NOT NULL
        ORDER BY m.recorded_at DESC NULLS FIRST, m.id LIMIT 100""",
        tag="checkout",
    )
    media = data["mediaAssets"]
    assert linked(media, "mediaId", "transcript", "documentId") == pairs(
        rows, "media_id", "document_id"
    )
    assert any(m["transcript"] for m in media), "no transcript document exists"
    return {"mediaAssets": [r["media_id"] for r in rows]}


@question("validated-insights-with-sources", Root("insights", "insightId"))
def _validated_insights(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    rows = db.rows("""
        SELECT i.insight_id, d.document_id, p.prompt_name
        FROM memory_insights i
        LEFT JOIN memory_documents d ON d.document_id = i.source_document_id
        LEFT JOIN memory_llm_prompts p ON p.prompt_name = i.prompt_name
        WHERE i.status = 'validated' AND i.source_document_id IS NOT NULL
        ORDER BY i.confidence DESC NULLS FIRST, i.id LIMIT 100""")
    insights = data["insights"]
    assert linked(insights, "insightId", "sourceDocument", "documentId") == pairs(
        rows, "insight_id", "document_id"
    )
    assert linked(insights, "insightId", "prompt", "promptName") == pairs(
        rows, "insight_id", "prompt_name"
    )
    assert any(i["sourceDocument"] for i in insights), "no source document exists"
    return {"insights": [r["insight_id"] for r in rows]}


# The incident traversal ---------------------------------------------------------------------


@question("incident-traversal", Root("executionLogs", "executionId"))
def _incident_traversal(data: dict[str, Any], db: Db, v: dict[str, Any]) -> dict[str, Any]:
    rows = db.rows(
        f"""
        SELECT e.execution_id, p.playbook_name, f.ticket_id, w.work_order_id
        FROM (SELECT * FROM memory_execution_logs
              WHERE status = 'failed' AND started_at >= :since AND started_at <= :now
              ORDER BY started_at DESC, id LIMIT 100) e
        LEFT JOIN memory_self_healing_playbooks p ON p.playbook_name = e.linked_playbook_id
        LEFT JOIN memory_feedback_tickets f
          ON f.affected_component = e.component AND f.status = 'open'
        LEFT JOIN memory_coding_work_orders w
          ON {db.member("w.work_order_id", "f.linked_work_orders")}
        ORDER BY e.started_at DESC, e.id, f.ticket_id, w.work_order_id""",
        since=db.ago(days=7),
        now=db.ago(),
    )
    playbooks = {r["execution_id"]: r["playbook_name"] for r in rows}
    tickets = grouped(rows, "execution_id", "ticket_id")
    # A ticket shows up under every run on its component: its work orders, once per run.
    orders = grouped(
        ({**r, "pair": (r["execution_id"], r["ticket_id"])} for r in rows), "pair", "work_order_id"
    )
    logs = data["executionLogs"]
    assert keys(logs, "executionId") == list(playbooks)
    for log in logs:
        run = log["executionId"]
        assert one(log, "playbook", "playbookName") == playbooks[run], run
        assert keys(log["openTickets"], "ticketId") == unique(tickets[run]), run
        for ticket in log["openTickets"]:
            got = keys(ticket["workOrders"], "workOrderId")
            assert got == orders[(run, ticket["ticketId"])], (run, ticket["ticketId"])
    assert any(log["playbook"] for log in logs), "no failed run was remediated"
    linked = [t for log in logs for t in log["openTickets"] if t["workOrders"]]
    assert linked, "no open ticket on a failing component links a work order"
    return {"executionLogs": unique(r["execution_id"] for r in rows)}


# -- the tests -------------------------------------------------------------------------------


def test_page_answers_every_question() -> None:
    """The page and this module cover the same questions, each with a query and its SQL."""
    assert set(ENTRIES) == set(QUESTIONS)
    for qid, entry in ENTRIES.items():
        assert entry.query, f"{qid}: no ```graphql block"
        roots = [root.path.split(".")[0] for root in QUESTIONS[qid].roots]
        for backend in BACKENDS:
            blocks = [b for b in entry.sql if b.backend in (None, backend)]
            answered = sorted(b.root or roots[0] for b in blocks)
            assert answered == sorted(roots), f"{qid}: {backend} SQL answers {answered}"


@pytest.mark.parametrize("qid", list(QUESTIONS))
async def test_question(api: Api, qid: str) -> None:
    """The page's query gives the rows hand-written SQL finds, in order, and at least one."""
    entry, spec = ENTRIES[qid], QUESTIONS[qid]
    now = dt.datetime.now(dt.UTC)
    data = await api.data(entry.query, entry.variables)
    db = Db(api.db, now)
    expected = spec.check(data, db, entry.variables)
    for root in spec.roots:
        got = keys(items_at(data, root.path), root.key)
        assert got == expected[root.path], root.path
        assert got, f"{qid}: {root.path} is empty, but the sample data should answer it"
    for block in entry.sql:
        if block.backend not in (None, api.db.backend):
            continue
        root = next(r for r in spec.roots if block.root in (None, r.path.split(".")[0]))
        got = keys(items_at(data, root.path), root.key)
        assert unique(db.page_sql(block.sql)) == got, f"the page's SQL for {root.path}"
