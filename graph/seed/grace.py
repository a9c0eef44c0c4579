"""Grace-specific touches on top of the generic generator: table sizes, readable keys, status
spreads, and per-table row fixups that keep columns consistent with each other.

Each fixup edits a generated row in place; it reads with `row.get` and anything it writes to a
column the table does not have is dropped, so a changed schema degrades to generic rows instead of
failing. Some rows are "showcase" rows (`_every`): every n-th row is forced into the state that a
use-case question of the requirements asks for (failed deployments, idle agents, failing suites,
open critical tickets...), so each question returns rows at every scale, even 0.1.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, NamedTuple

from graph.seed.plan import KeyFormat, Profile, Row, RowContext, TableSize, named_keys

COMPONENTS = (
    "auth-service",
    "billing-api",
    "checkout-service",
    "postgres-primary",
    "search-indexer",
    "notification-worker",
    "memory-api",
    "ingestion-pipeline",
)
SUITE_TYPES = ("unit", "integration", "e2e", "performance", "security", "smoke")


class Recipe(NamedTuple):
    conditions: dict[str, Any]
    actions: tuple[str, ...]
    targets: tuple[str, ...]
    error: str


PLAYBOOKS = {
    "fix_database_connection": Recipe(
        {"error_type": "ConnectionError"},
        ("restart_db_pool", "verify_connection"),
        ("postgres-primary", "billing-api"),
        "ConnectionError: could not connect to postgres-primary:5432 (pool exhausted)",
    ),
    "rollback_failed_deployment": Recipe(
        {"metric": "error_rate", "above": 0.05},
        ("rollback_deployment", "notify_oncall"),
        ("checkout-service", "billing-api", "memory-api"),
        "Deployment failed: error rate 7.2% above 5% after rollout",
    ),
    "restart_search_indexer": Recipe(
        {"error_type": "TimeoutError", "component": "search-indexer"},
        ("restart_service", "reindex_recent_documents"),
        ("search-indexer",),
        "TimeoutError: search-indexer did not answer within 30000 ms",
    ),
    "clear_disk_space": Recipe(
        {"error_type": "DiskFull"},
        ("rotate_logs", "purge_tmp", "verify_free_space"),
        ("postgres-primary", "ingestion-pipeline"),
        "DiskFull: no space left on device /var/lib/postgresql",
    ),
    "requeue_failed_notifications": Recipe(
        {"error_type": "DeliveryError", "component": "notification-worker"},
        ("requeue_dead_letters", "verify_delivery"),
        ("notification-worker",),
        "DeliveryError: 412 notifications moved to the dead-letter queue",
    ),
    "refresh_auth_token_cache": Recipe(
        {"error_type": "AuthenticationError"},
        ("flush_token_cache", "verify_login"),
        ("auth-service",),
        "AuthenticationError: token signature verification failed",
    ),
    "scale_out_checkout": Recipe(
        {"metric": "p95_latency_ms", "above": 1500},
        ("scale_out", "verify_latency"),
        ("checkout-service",),
        "LatencyBudgetExceeded: p95 latency 2300 ms above 1500 ms",
    ),
    "recycle_memory_api_workers": Recipe(
        {"error_type": "OOMKilled", "component": "memory-api"},
        ("drain_workers", "restart_service", "verify_health"),
        ("memory-api",),
        "OOMKilled: memory-api worker exceeded 2048 MiB",
    ),
    "restart_ingestion_pipeline": Recipe(
        {"error_type": "TimeoutError", "component": "ingestion-pipeline"},
        ("pause_consumers", "restart_service", "resume_consumers"),
        ("ingestion-pipeline",),
        "TimeoutError: ingestion-pipeline consumer lag above 10 minutes",
    ),
}
FAILURES = {
    "deploy": "Deployment failed: readiness probe timed out",
    "test": "AssertionError: expected 200, got 500",
    "migrate": "Migration failed: lock timeout on table orders",
    "build": "Build failed: could not resolve dependency grace-sdk>=2.1",
    "scan": "Scan failed: HTTP 429 Too Many Requests",
    "ingest": "IngestError: malformed record at offset 18231",
    "backup": "Backup failed: snapshot upload timed out",
    "remediate": "Remediation did not converge after 3 attempts",
}
COMMANDS = {
    "deploy": "kubectl rollout restart deploy/{c}",
    "test": "pytest tests/{c}",
    "migrate": "alembic upgrade head",
    "build": "docker build -t registry.grace.internal/{c}:latest .",
    "scan": "grace-hunter scan --component {c}",
    "ingest": "grace-ingest run --source {c}",
    "backup": "pg_dump --format=custom --file=/backups/{c}.dump",
    "remediate": "playbook run {p}",
}
# Wall time of each kind of operation, in seconds (low, high; drawn on a log scale).
DURATIONS = {
    "deploy": (30, 900),
    "test": (5, 1200),
    "migrate": (2, 600),
    "build": (30, 1200),
    "scan": (10, 1800),
    "ingest": (10, 3600),
    "backup": (60, 7200),
    "remediate": (5, 300),
}
TRIGGERS = {
    "on_test_failed_open_work_order": "test_failed",
    "on_execution_failed_run_playbook": "execution_failed",
    "on_ticket_created_triage": "ticket_created",
    "on_schema_proposed_request_approval": "schema_proposed",
    "on_deployment_finished_run_smoke_tests": "deployment_finished",
    "on_playbook_executed_update_trust": "playbook_executed",
    "on_task_completed_notify_requester": "task_completed",
    "on_execution_failed_page_oncall": "execution_failed",
    "on_test_failed_notify_owner": "test_failed",
    "on_deployment_finished_refresh_dashboards": "deployment_finished",
}
DASHBOARDS = {
    "ecommerce_sales_weekly": ("sales", ["memory_documents", "stripe_api"]),
    "support_backlog": ("support", ["memory_feedback_tickets", "zendesk"]),
    "platform_reliability": ("engineering", ["memory_execution_logs", "prometheus"]),
    "conversion_funnel": ("marketing", ["snowflake:analytics", "google_analytics"]),
    "revenue_monthly": ("finance", ["stripe_api", "memory_datasets"]),
    "ecommerce_pricing_experiments": ("sales", ["memory_documents", "memory_datasets"]),
    "agent_performance": ("ops", ["memory_sub_agents", "memory_execution_logs"]),
    "feature_adoption": ("product", ["memory_coding_work_orders", "google_analytics"]),
}
DISCOVERY = {
    "postgres_release_notes": ("website", "https://www.postgresql.org/docs/release/"),
    "grace_core_repository": ("repo", "https://api.github.com/repos/grace-ai/grace-core"),
    "stripe_status_feed": ("feed", "https://status.stripe.com/history.rss"),
    "hacker_news_frontpage": ("feed", "https://news.ycombinator.com/rss"),
    "competitor_pricing_pages": ("website", "https://example-competitor.com/pricing"),
    "github_security_advisories": ("api", "https://api.github.com/advisories"),
    "python_insider_blog": ("feed", "https://blog.python.org/feeds/posts/default"),
    "kubernetes_changelog": ("repo", "https://api.github.com/repos/kubernetes/kubernetes"),
}
PROMPT_CATEGORIES = {
    "summarize": "summarization",
    "extract": "extraction",
    "classify": "classification",
    "generate": "code_generation",
    "review": "code_review",
    "plan": "planning",
    "chat": "conversation",
    "translate": "translation",
    "evaluate": "evaluation",
}
PROMPTS = (
    "summarize_incident",
    "classify_ticket",
    "extract_action_items",
    "generate_unit_tests",
    "review_pull_request",
    "plan_work_order",
    "summarize_document",
    "chat_support_reply",
    "translate_release_notes",
    "evaluate_insight_quality",
    "summarize_meeting_notes",
    "extract_invoice_fields",
)
DATASETS = (
    "sales_orders_daily",
    "web_sessions",
    "support_tickets_nightly",
    "order_items",
    "marketing_spend",
    "invoice_ledger",
    "product_catalog",
    "customer_churn_scores",
)
SOP_AREAS = {
    "SEC": ("security", ["Access Review for Privileged Accounts", "Vulnerability Report Handling"]),
    "OPS": ("operations", ["Production Database Failover", "Deployment Freeze Windows"]),
    "INC": ("incident_response", ["Incident Response and Escalation", "Post-Incident Review"]),
    "DATA": ("data_handling", ["Customer Data Deletion Requests", "PII Export Approval"]),
    "DEP": ("deployment", ["Production Release Checklist", "Emergency Hotfix Procedure"]),
    "SUP": ("support", ["Critical Ticket Escalation", "Customer Credit Approval"]),
}
FRAMEWORKS = {
    "gdpr": "GDPR",
    "soc2": "SOC 2",
    "hipaa": "HIPAA",
    "iso27001": "ISO 27001",
    "pci_dss": "PCI DSS",
    "ccpa": "CCPA",
}
AGENT_NAMES = {
    "shard": ("Coding Shard", "Ops Shard", "Knowledge Shard"),
    "specialist": ("Log Analyst", "Compliance Reviewer", "Feedback Triage", "Discovery Hunter"),
    "worker": ("Test Runner", "Ingestion Worker", "Diff Builder"),
}
RISK_SCORES = {"low": (0.02, 0.3), "medium": (0.3, 0.6), "high": (0.6, 0.85), "critical": (0.85, 1)}
SUBJECTS = {
    "work_order": "Deploy {ref} to production",
    "playbook": "Enable playbook {ref}",
    "sop": "Publish {ref} version 2",
    "prompt": "Promote prompt {ref} to public",
    "agent": "Grant {ref} write access to execution logs",
    "trigger": "Enable trigger {ref}",
    "schema_change": "Add column risk_score to {ref}",
    "other": "Exception to the deployment freeze for {ref}",
}
SCHEMA_TABLES = ("memory_sub_agents", "memory_execution_logs", "memory_documents")


# -- helpers ------------------------------------------------------------------------------------


def _every(ctx: RowContext, n: int, offset: int = 1) -> bool:
    """True for one row in n: the showcase rows."""
    return ctx.index % n == offset % n


def _base(key: str) -> str:
    """A named key without the number added past the list: `clear_disk_space_2` -> its recipe."""
    return re.sub(r"[-_]\d+$", "", key)


def _log_uniform(ctx: RowContext, low: float, high: float) -> float:
    return float(low * (high / low) ** ctx.rng.random())


def _span(ctx: RowContext, low_s: float, high_s: float) -> tuple[dt.datetime, dt.datetime]:
    """A finished activity: its end weighted towards the last week, its start before it."""
    end = ctx.recent()
    return end - dt.timedelta(seconds=int(_log_uniform(ctx, low_s, high_s))), end


def _later(ctx: RowContext, moment: dt.datetime, low_s: float, high_s: float) -> dt.datetime:
    """A moment after `moment`, never after the anchor."""
    return min(ctx.now, moment + dt.timedelta(seconds=int(_log_uniform(ctx, low_s, high_s))))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48]


def _count_split(total: int, rate: float) -> tuple[int, int]:
    """Successes and failures of `total` tries at about `rate` success."""
    good = min(total, round(total * rate))
    return good, total - good


def _has_key(ctx: RowContext, table: str, key: Any) -> bool:
    keys = ctx.state.get(f"keys:{table}")
    if keys is None:
        keys = ctx.state[f"keys:{table}"] = frozenset(ctx.keys.get(table, ()))
    return key in keys


def _playbook_for(ctx: RowContext, component: str) -> Any:
    """A playbook that targets the component, or any playbook."""
    by_component = ctx.state.get("playbooks")
    if by_component is None:
        by_component = ctx.state["playbooks"] = {}
        for key in ctx.keys.get("self_healing", ()):
            recipe = PLAYBOOKS.get(_base(key))
            for target in recipe.targets if recipe else ():
                by_component.setdefault(target, []).append(key)
    choices = by_component.get(component)
    return ctx.rng.choice(choices) if choices else ctx.pick("self_healing")


# -- fixups -------------------------------------------------------------------------------------


def execution_log(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    if _every(ctx, 25):
        row.update(command_type="deploy", status="failed", environment="production")
    kind, status, component = row["command_type"], row["status"], row["component"]
    finished = status not in ("queued", "running")
    failed = status in ("failed", "timed_out")
    started, ended = _span(ctx, *DURATIONS.get(kind, (5, 600)))
    end: dt.datetime | None = ended
    if not finished:
        started, end = ctx.recent(1), None
    playbook = None
    if (failed and rng.random() < 0.7) or kind == "remediate":
        playbook = _playbook_for(ctx, component)
    recipe = PLAYBOOKS.get(_base(playbook)) if playbook else None
    key, month = row["execution_id"], started.strftime("%Y/%m")
    row.update(
        started_at=None if status == "queued" else started,
        completed_at=end,
        duration_ms=int((end - started).total_seconds() * 1000) if end else None,
        exit_code={"succeeded": 0, "failed": 1, "timed_out": 124, "cancelled": 130}.get(status),
        command=COMMANDS.get(kind, "{c}").format(c=component, p=playbook or "auto_select"),
        linked_playbook_id=playbook,
        error_message=(recipe.error if recipe else FAILURES.get(kind)) if failed else None,
        remediation_applied=f"Ran playbook {playbook}; {component} recovered."
        if failed and playbook
        else None,
        stdout_path=f"s3://grace-logs/exec/{month}/{key}.stdout" if status != "queued" else None,
        stderr_path=f"s3://grace-logs/exec/{month}/{key}.stderr" if status != "queued" else None,
        resource_usage={
            "cpu_seconds": round(rng.random() * 60, 1),
            "max_rss_mb": rng.randint(64, 4096),
            "io_read_mb": rng.randint(0, 500),
        }
        if finished
        else None,
    )
    if failed and status == "failed" and rng.random() < 0.3:
        row["exit_code"] = 137  # killed: out of memory
    if not failed:
        row.update(stack_trace=None, post_mortem_findings=None)
    elif rng.random() < 0.6:
        row["post_mortem_findings"] = None
    if kind not in ("deploy", "build", "test", "migrate") and rng.random() < 0.8:
        row["linked_work_order_id"] = None


BRANCHES = {"feature": "feature", "bugfix": "fix", "refactor": "refactor", "performance": "perf"}


def work_order(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    if _every(ctx, 6):
        row.update(task_type="feature", status="deployed")
    status, component = row["status"], row.get("component")
    if _has_key(ctx, "codebases", component):
        row["repo_name"] = component
    started, ended = _span(ctx, 3600, 5 * 86400)
    completed: dt.datetime | None = ended
    if status in ("pending", "in_progress", "review"):
        started, completed = ctx.recent(14), None
    passed, failed = rng.randint(5, 200), 0
    if status == "failed":
        failed = rng.randint(1, 8)
    elif status != "deployed":
        failed = rng.choice((0, 0, 1, 2))
    key, title = row["work_order_id"], row.get("title") or "change"
    prefix = BRANCHES.get(row["task_type"], "chore")
    row.update(
        started_at=None if status == "pending" else started,
        completed_at=completed,
        branch_name=f"{prefix}/{_slug(title)}",
        code_diff_path=f"s3://grace-diffs/{key}.diff" if status != "pending" else None,
        pull_request_url=f"https://github.com/grace-ai/{row.get('repo_name') or component}"
        f"/pull/{rng.randint(10, 3000)}"
        if status not in ("pending", "in_progress")
        else None,
        test_results={"passed": passed, "failed": failed, "skipped": rng.randint(0, 3)}
        if status != "pending"
        else None,
    )
    if status != "deployed":
        row["deployment_impact"] = None
    if status in ("pending", "in_progress"):
        row.update(reviewer_notes=None, lines_added=None, lines_removed=None)


def feedback_ticket(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    if _every(ctx, 8):
        row.update(ticket_type="bug", status="open", priority="critical")
    status = row["status"]
    reported, closed = _span(ctx, 1800, 10 * 86400)
    resolved: dt.datetime | None = closed
    if status not in ("resolved", "closed"):
        reported, resolved = ctx.recent(30), None
        row.update(root_cause=None, resolution_steps=None)
    answered = status != "open" or rng.random() < 0.4
    row.update(
        created_at=reported,
        first_response_at=_later(ctx, reported, 300, 8 * 3600) if answered else None,
        resolved_at=resolved,
        resolution_time_hours=round((resolved - reported).total_seconds() / 3600, 2)
        if resolved
        else None,
        user_satisfaction=round(0.4 + rng.random() * 0.6, 2) if resolved else None,
    )
    if row["ticket_type"] == "question":
        row["linked_work_orders"] = None
    elif row.get("knowledge_base_links") and rng.random() < 0.6:
        row["knowledge_base_links"] = None


def playbook(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    recipe = PLAYBOOKS.get(_base(row["playbook_name"]))
    if recipe:
        row.update(
            trigger_conditions=recipe.conditions,
            actions=[{"step": n, "action": a} for n, a in enumerate(recipe.actions, 1)],
            target_components=list(recipe.targets),
        )
    total = rng.randint(0, 500)
    good, bad = _count_split(total, 0.55 + rng.random() * 0.44)
    trusted = rng.random() < 0.7
    row.update(
        total_runs=total,
        successful_runs=good,
        failed_runs=bad,
        success_rate=round(good / total, 3) if total else None,
        last_used_at=ctx.recent() if total else None,
        trust_score=round((0.72 + rng.random() * 0.26) if trusted else rng.random() * 0.7, 3),
        requires_approval=row["risk_level"] in ("high", "critical"),
    )


def sub_agent(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    depths: dict[Any, int] = ctx.state.setdefault("depths", {})
    parent = row.get("parent_agent_id")
    depth = depths[row["agent_id"]] = depths.get(parent, -1) + 1 if parent else 0
    kind = ("shard", "specialist", "worker")[min(depth, 2)]
    names = AGENT_NAMES[kind]
    if _every(ctx, 5, 2):
        row["status"] = "idle"
    status = row["status"]
    done = rng.randint(0, 2000)
    failed = rng.randint(0, done // 8 + 2)
    row.update(
        agent_type=kind,
        agent_name=f"{names[ctx.index % len(names)]} {ctx.index + 1}",
        tasks_completed=done,
        tasks_failed=failed,
        success_rate=round(done / (done + failed), 3) if done + failed else None,
        last_heartbeat_at=ctx.recent(30)
        if status == "offline"
        else ctx.now - dt.timedelta(seconds=rng.randint(5, 1800)),
    )
    if status not in ("active", "busy"):
        row["current_task"] = None


TEST_COMMANDS = {
    "unit": "pytest tests/unit/{c}",
    "integration": "pytest tests/integration/{c}",
    "e2e": "npm run test:e2e -- {c}",
    "performance": "k6 run load/{c}.js",
    "security": "zap-baseline.py -t https://{c}.staging.grace.internal",
    "smoke": "pytest tests/smoke -k {c}",
}


def verification_suite(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    name = row["suite_name"]
    for component in COMPONENTS:
        if name.startswith(component + "-"):
            row["component_under_test"] = component
            kind = name[len(component) + 1 :].split("-")[0]
            row["suite_type"] = kind if kind in SUITE_TYPES else row["suite_type"]
    component = row["component_under_test"]
    if _has_key(ctx, "codebases", component):
        row["repo_name"] = component
    row["test_command"] = TEST_COMMANDS.get(row["suite_type"], "make test").format(c=component)
    if _every(ctx, 6):
        row["last_run_status"] = "fail"
    status = row["last_run_status"]
    if status == "never_run":
        row.update(
            dict.fromkeys(("total_tests", "passed_tests", "failed_tests", "skipped_tests")),
            flaky_tests=None,
            last_run_at=None,
            last_run_duration_ms=None,
            historical_pass_rate=None,
            failure_summary=None,
            linked_fixes=None,
        )
        return
    total = rng.randint(5, 400)
    failed = rng.randint(1, max(1, total // 10)) if status == "fail" else 0
    skipped = total if status == "skipped" else rng.randint(0, total // 20)
    row.update(
        total_tests=total,
        failed_tests=failed,
        skipped_tests=skipped,
        passed_tests=total - failed - skipped,
        flaky_tests=rng.randint(0, min(3, total - skipped)),
        last_run_at=ctx.recent(14),
        historical_pass_rate=round(0.5 + rng.random() * 0.5, 3),
    )
    if status not in ("fail", "error"):
        row["failure_summary"] = None


def governance_decision(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    if _every(ctx, 6):
        row.update(decision_type="approval", risk_level="high")
    kind, risk = row["decision_type"], row["risk_level"]
    outcome = {
        "approval": rng.choice(("approved", "approved", "approved_with_conditions")),
        "denial": "denied",
        "escalation": rng.choice(("escalated", "pending_review")),
    }[kind]
    auto = kind == "approval" and risk == "low" and rng.random() < 0.7
    subject_type, ref = row["subject_type"], row.get("subject_ref")
    if subject_type == "schema_change":
        ref = rng.choice(SCHEMA_TABLES)
    elif subject_type == "other":
        ref = None
    created = ctx.recent(25) if _every(ctx, 6) else ctx.recent()
    low, high = RISK_SCORES.get(risk, (0.0, 1.0))
    row.update(
        decision_outcome=outcome,
        auto_approved=auto,
        decision_maker="unified_logic" if auto else row["decision_maker"],
        subject_ref=ref,
        subject=SUBJECTS.get(subject_type, "{ref}").format(ref=ref or rng.choice(COMPONENTS)),
        context={
            "subject": ref,
            "requested_change": subject_type,
            "confidence": round(0.5 + rng.random() * 0.5, 2),
        },
        risk_score=round(low + rng.random() * (high - low), 3),
        conditions=row.get("conditions") if outcome == "approved_with_conditions" else None,
        expiration_date=created.date() + dt.timedelta(days=90) if kind == "approval" else None,
        created_at=created,
    )
    # audit_stamp: graph/seed/load.py chains the rows with graph/audit.py as they are written,
    # over the final values (after clipping) and the ids the rows get.


def trigger(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    name = _base(row["trigger_name"])
    event = TRIGGERS.get(name)
    if event:
        action = name.removeprefix(f"on_{event}_").replace("_", " ")
        row.update(event_type=event, description=f"On {event.replace('_', ' ')}: {action}.")
    total = int(_log_uniform(ctx, 1, 50_000)) if rng.random() < 0.95 else 0
    failure_rate = 0.02 + rng.random() * 0.2 if _every(ctx, 3) else rng.random() * 0.01
    good, bad = _count_split(total, 1 - failure_rate)
    last = ctx.recent(7) if total else None
    row.update(
        total_triggers=total,
        successful_triggers=good,
        failed_triggers=bad,
        last_triggered_at=last,
        last_failure_at=last - dt.timedelta(seconds=rng.randint(0, 86400))
        if last and bad
        else None,
    )
    if not bad:
        row["last_error"] = None


def dashboard(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    name = _base(row["dashboard_name"])
    known = DASHBOARDS.get(name)
    if known:
        title = name.replace("_", " ").capitalize()
        row.update(
            category=known[0],
            data_sources=known[1],
            description=f"{title}, for the {known[0]} team.",
        )
    stale = _every(ctx, 4) or rng.random() < 0.15
    hours = 25 + rng.random() * 200 if stale else 0.05 + rng.random() * 23
    row.update(
        last_refresh_at=ctx.now - dt.timedelta(seconds=int(hours * 3600)),
        dashboard_url=f"https://bi.grace.internal/d/{row['dashboard_name'].replace('_', '-')}",
    )


SCAN_INTERVALS = {"hourly": 1 / 24, "daily": 1, "weekly": 7, "monthly": 30}


def discovery_target(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    name = _base(row["target_name"])
    known = DISCOVERY.get(name)
    if known:
        words = name.replace("_", " ")
        row.update(
            target_type=known[0],
            target_url=known[1],
            description=f"Scans {words} for items worth ingesting into Grace memory.",
        )
    if _every(ctx, 6):
        row["status"] = "error"
    status = row["status"]
    interval = SCAN_INTERVALS.get(row.get("scan_frequency") or "", 1)
    last_scan = ctx.now - dt.timedelta(seconds=int(rng.random() * interval * 86400))
    found = rng.randint(0, 20_000)
    errors = rng.randint(1, 6) if status == "error" else 0
    row.update(
        last_scan_at=last_scan,
        last_success_at=last_scan - dt.timedelta(days=errors * interval) if errors else last_scan,
        next_scan_at=None
        if status in ("paused", "disabled")
        else max(ctx.now + dt.timedelta(hours=1), last_scan + dt.timedelta(days=interval)),
        items_discovered=found,
        items_ingested=rng.randint(0, found),
        error_count=errors,
    )
    if not errors:
        row["last_error"] = None


def compliance_report(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    if _every(ctx, 4):
        row["compliance_status"] = "non_compliant"
    status, framework = row["compliance_status"], row["compliance_framework"]
    end = ctx.now.date() - dt.timedelta(days=rng.randint(0, 120))
    start = end - dt.timedelta(days=90)
    kind = row["report_type"]
    assessed = rng.randint(20, 150)
    failed = {
        "compliant": 0,
        "partially_compliant": rng.randint(1, assessed // 10),
        "non_compliant": rng.randint(3, assessed // 4),
    }.get(status)
    row.update(
        title=f"{FRAMEWORKS.get(framework, framework)} {kind.title()} "
        f"{end.year} Q{(end.month - 1) // 3 + 1}",
        period_start=start,
        period_end=end,
        controls_assessed=assessed if failed is not None else None,
        controls_failed=failed,
        risk_level={"compliant": "low", "non_compliant": rng.choice(("high", "critical"))}.get(
            status, row.get("risk_level")
        ),
        certification_expiry=end + dt.timedelta(days=365),
        next_audit_date=ctx.now.date() + dt.timedelta(days=rng.randint(14, 180)),
    )
    if not failed:
        row.update(gaps_identified=None, remediation_actions=None)


def sop(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    category, titles = SOP_AREAS.get(row["sop_id"].split("-")[1], ("operations", ["Procedure"]))
    every = rng.choice((90, 180, 365))
    overdue = _every(ctx, 4) or rng.random() < 0.1
    age = every + rng.randint(1, 60) if overdue else rng.randint(0, every - 1)
    reviewed = ctx.now.date() - dt.timedelta(days=age)
    title = titles[ctx.index // len(SOP_AREAS) % len(titles)]
    row.update(
        category=category,
        title=title,
        review_frequency_days=every,
        last_reviewed_date=reviewed,
        next_review_date=reviewed + dt.timedelta(days=every),
        effective_date=reviewed - dt.timedelta(days=rng.randint(0, 60)),
        content_path=f"docs/sops/{row['sop_id']}-{_slug(title)}.md",
    )
    if row["status"] == "draft":
        row["approval_signatures"] = None


def prompt(row: Row, ctx: RowContext) -> None:
    rng = ctx.rng
    verb, _, subject = _base(row["prompt_name"]).partition("_")
    if verb in PROMPT_CATEGORIES:
        words = subject.replace("_", " ")
        row.update(
            category=PROMPT_CATEGORIES[verb],
            description=f"Asks the model to {verb} the given {words}.",
            prompt_template=f"{verb.capitalize()} the following {words}.\n\n{{{subject}}}",
            parameters={subject: {"type": "string", "required": True}},
        )
    total = int(_log_uniform(ctx, 1, 100_000)) if row["status"] != "draft" else 0
    good, _ = _count_split(total, 0.6 + rng.random() * 0.39)
    row.update(
        total_uses=total,
        successful_uses=good,
        last_used_at=ctx.recent(14) if total else None,
    )


def document(row: Row, ctx: RowContext) -> None:
    topics = row.get("key_topics")
    if _every(ctx, 5) and topics is not None and "ecommerce" not in topics:
        row["key_topics"] = ["ecommerce", *topics]


MEDIA = {
    "video": ("video/mp4", True, True),
    "audio": ("audio/mpeg", True, False),
    "image": ("image/png", False, True),
}


def media_asset(row: Row, ctx: RowContext) -> None:
    mime, timed, visual = MEDIA.get(row["media_type"], (None, True, True))
    row["mime_type"] = mime
    if not timed:
        row.update(duration_seconds=None, transcript_document_id=None)
    if not visual:
        row.update(width_px=None, height_px=None)


def codebase(row: Row, ctx: RowContext) -> None:
    row["repo_url"] = f"https://github.com/grace-ai/{row['repo_name']}"


# -- the profile --------------------------------------------------------------------------------


def _numbered(template: str) -> KeyFormat:
    return lambda n: template.format(n=n + 1)


def _shares(spec: str) -> dict[str, float]:
    """`"open 25 closed 75"` -> {"open": 25.0, "closed": 75.0}: relative weights of enum values."""
    words = spec.split()
    return {value: float(weight) for value, weight in zip(words[::2], words[1::2], strict=True)}


def _sop_key(n: int) -> str:
    areas = list(SOP_AREAS)
    return f"SOP-{areas[n % len(areas)]}-{n // len(areas) + 1:03d}"


GRACE = Profile(
    sizes={
        "execution_logs": TableSize(200, 200_000),
        "feedback": TableSize(40, 20_000),
        "coding_agent": TableSize(40, 10_000),
        "governance": TableSize(40, 8_000),
        "documents": TableSize(50, 5_000),
        "insights": TableSize(30, 4_000),
        "media": TableSize(20, 1_000),
        "datasets": TableSize(20, 600),
        "verification": TableSize(24, 600),
        "sub_agents": TableSize(15, 300),
        "sops": TableSize(15, 300),
        "discovery": TableSize(12, 300),
        "triggers": TableSize(12, 250),
        "self_healing": TableSize(12, 200),
        "prompts": TableSize(15, 200),
        "compliance": TableSize(10, 200),
        "business_intelligence": TableSize(10, 150),
        "codebases": TableSize(10, 150),
    },
    keys={
        "execution_logs": _numbered("exec-{n:06d}"),
        "documents": _numbered("doc-{n:06d}"),
        "coding_agent": _numbered("WO-{n:05d}"),
        "feedback": _numbered("FB-{n:05d}"),
        "governance": _numbered("GOV-{n:05d}"),
        "insights": _numbered("ins-{n:06d}"),
        "media": _numbered("media-{n:05d}"),
        "sub_agents": _numbered("agent-{n:04d}"),
        "compliance": _numbered("CR-{n:04d}"),
        "sops": _sop_key,
        "codebases": named_keys(("grace-core", *COMPONENTS, "storefront-web", "analytics-etl")),
        "self_healing": named_keys(tuple(PLAYBOOKS)),
        "triggers": named_keys(tuple(TRIGGERS)),
        "business_intelligence": named_keys(tuple(DASHBOARDS)),
        "discovery": named_keys(tuple(DISCOVERY)),
        "prompts": named_keys(PROMPTS),
        "verification": named_keys(tuple(f"{c}-{t}" for t in SUITE_TYPES for c in COMPONENTS)),
        "datasets": named_keys(DATASETS),
    },
    weights={
        "execution_logs": {
            "status": _shares("succeeded 68 failed 17 running 3 queued 3 timed_out 4 cancelled 5"),
            "command_type": _shares(
                "deploy 20 test 25 build 20 remediate 8 migrate 5 scan 8 ingest 10 backup 4"
            ),
            "environment": _shares("production 50 staging 30 development 20"),
        },
        "coding_agent": {
            "status": _shares(
                "deployed 35 in_progress 15 review 12 pending 18 failed 10 cancelled 10"
            ),
            "task_type": _shares(
                "feature 35 bugfix 30 refactor 10 performance 5 security 5 test 7 documentation 4 "
                "chore 4"
            ),
        },
        "feedback": {
            "status": _shares("open 25 in_progress 20 waiting_on_reporter 8 resolved 32 closed 15"),
            "priority": _shares("critical 10 high 25 medium 40 low 25"),
            "ticket_type": _shares("bug 55 feature_request 30 question 15"),
        },
        "sub_agents": {"status": _shares("idle 30 active 30 busy 20 error 8 offline 12")},
        "verification": {
            "last_run_status": _shares("pass 65 fail 20 error 5 skipped 3 never_run 7")
        },
        "governance": {
            "decision_type": _shares("approval 70 denial 15 escalation 15"),
            "risk_level": _shares("low 45 medium 30 high 18 critical 7"),
        },
        "compliance": {
            "compliance_status": _shares(
                "compliant 40 partially_compliant 30 non_compliant 20 not_assessed 10"
            )
        },
        "discovery": {"status": _shares("active 60 scanning 10 paused 8 error 15 disabled 7")},
        "sops": {"status": _shares("active 65 in_review 15 draft 12 retired 8")},
        "prompts": {"status": _shares("active 75 draft 15 deprecated 10")},
    },
    fixups={
        "execution_logs": execution_log,
        "coding_agent": work_order,
        "feedback": feedback_ticket,
        "self_healing": playbook,
        "sub_agents": sub_agent,
        "verification": verification_suite,
        "governance": governance_decision,
        "triggers": trigger,
        "business_intelligence": dashboard,
        "discovery": discovery_target,
        "compliance": compliance_report,
        "sops": sop,
        "prompts": prompt,
        "documents": document,
        "media": media_asset,
        "codebases": codebase,
    },
)
