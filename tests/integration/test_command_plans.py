"""Every query the operating commands (``status``, ``jobs list / show / retry / cancel``,
``prune``) run on ``background_ai_jobs`` reads an index, on both backends: at ten
million jobs (bench/scale.py) a full scan is seconds, not milliseconds.

The dashboard's queries, which ``status`` shares, are in test_web_plans.py; the claim's
in test_fair_claim.py. Two reads of ``status`` stay whole-history aggregates by design:
``job_counts`` reads the (status, task_type) index whole, never the table, and
``usage_totals`` sums the token and cost columns of every job (what the README's
"At scale" section says to expect of ``status`` at that size).

``list_jobs`` has one statement per filter shape (no status or task; by status; by
task), each reading its index newest first: the ``(:filter IS NULL OR ...)`` form hid
the filter from the planner, which scanned the table. ``redrive_candidates`` takes its
ids from the primary key or its statuses from their index (exactly one is given).
``UNINDEXED`` lists the plans known not to read an index, each then a strict expected
failure; it is empty, and a new query that scans belongs on it only with a reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from enricher.app import Enricher
from enricher.queue.views import MAX_ID
from tests.backends import DbTarget, is_postgres
from tests.integration.test_web_plans import full_scans
from tests.plans import query_plan

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
TERMINAL = ["completed", "failed_ai", "failed_payload_parsing", "failed_job_logic", "cancelled"]

LIST: dict[str, Any] = {
    "statuses": None,
    "task_type": None,
    "target_entity_type": None,
    "error_text": None,
    "limit": 50,
    "offset": 0,
}
RETRY: dict[str, Any] = {
    "job_ids": None,
    "statuses": json.dumps(["failed_ai"]),
    "task_type": None,
    "target_entity_type": None,
    "limit": 10_000,
}

CASES: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "list by status",
        "list_jobs_by_status",
        LIST | {"statuses": json.dumps(["failed_ai"])},
        "background_ai_jobs_status_created",
    ),
    (
        "list by two statuses",
        "list_jobs_by_status",
        LIST | {"statuses": json.dumps(["failed_ai", "cancelled"])},
        "background_ai_jobs_status_created",
    ),
    (
        "list by status and task",
        "list_jobs_by_status",
        LIST | {"statuses": json.dumps(["failed_ai"]), "task_type": "summarize"},
        "background_ai_jobs_",  # PostgreSQL may take the task's index: either reads one
    ),
    (
        "list by task",
        "list_jobs_by_task",
        LIST | {"task_type": "summarize"},
        "background_ai_jobs_task_created",
    ),
    (
        "list by target type",
        "list_jobs",
        LIST | {"target_entity_type": "ticket"},
        "background_ai_jobs_",
    ),
    ("retry by status", "redrive_candidates", RETRY, "background_ai_jobs_status_"),
    (
        "retry by status and task",
        "redrive_candidates",
        RETRY | {"task_type": "summarize"},
        "background_ai_jobs_",
    ),
    (
        "retry by ids",
        "redrive_candidates",
        RETRY | {"statuses": None, "job_ids": json.dumps([MAX_ID])},
        "background_ai_jobs_pkey",
    ),
    (
        "redrive",
        "redrive_jobs",
        {"job_ids": json.dumps([MAX_ID]), "now": NOW},
        "background_ai_jobs_",
    ),
    ("show", "get_job", {"job_id": MAX_ID}, "background_ai_jobs_pkey"),
    (
        "cancel",
        "cancel_job",
        {"job_id": MAX_ID, "error_message": "x", "now": NOW},
        "background_ai_jobs_pkey",
    ),
    (
        "prune",
        "prune_jobs",
        {
            "statuses": json.dumps(TERMINAL),
            "before": NOW - timedelta(days=30),
            "batch_size": 10_000,
        },
        "background_ai_jobs_finished",
    ),
    ("status: job counts", "job_counts", {}, "background_ai_jobs_status_task"),
]


UNINDEXED: set[tuple[str, str]] = set()


@pytest.mark.parametrize(("case", "query", "params", "index"), CASES, ids=[c[0] for c in CASES])
async def test_each_command_query_reads_an_index(
    app: Enricher,
    db_path: DbTarget,
    request: pytest.FixtureRequest,
    case: str,
    query: str,
    params: dict[str, Any],
    index: str,
) -> None:
    backend = "postgres" if is_postgres(db_path) else "sqlite"
    if (backend, case) in UNINDEXED:
        request.applymarker(
            pytest.mark.xfail(strict=True, reason="the IS NULL OR IN (json) filter form")
        )
    plan = query_plan(db_path, query, params)
    if index == "background_ai_jobs_pkey" and not is_postgres(db_path):
        index = "sqlite_autoindex_background_ai_jobs_1"
    assert index in plan, plan
    assert full_scans(db_path, plan) == [], plan
