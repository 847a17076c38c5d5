"""Every query the dashboard's overview, jobs and failures pages run on
``background_ai_jobs`` reads an index, on both backends (fast at a million jobs; the
timings are in ``bench/web.py``).

Two reads cannot be indexed and are kept off the request path instead: ``job_counts``
and ``usage_totals`` count the whole history (``enricher.web.totals`` recounts them in
the background once that is slow). The small coordination tables (pauses, workers, rate
limits, schedule runs: a row per scope, worker, pool or fire) are read whole.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from enricher.app import Enricher
from enricher.queue.views import EPOCH, FAR_FUTURE, MAX_ID
from tests.backends import DbTarget, is_postgres
from tests.plans import query_plan

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)

PAGE: dict[str, Any] = {
    "status": None,
    "task_type": None,
    "target_entity_type": "ticket",
    "provider": "openai",
    "model": "gpt-4o-mini",
    "error_text": "timeout",
    "before_at": FAR_FUTURE,
    "before_id": MAX_ID,
    "created_from": EPOCH,
    "updated_from": EPOCH,
    "updated_to": FAR_FUTURE,
    "scan": 10_000,
    "limit": 51,
}

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("jobs_page", PAGE, "background_ai_jobs_created"),
    ("jobs_page_by_status", PAGE | {"status": "failed_ai"}, "background_ai_jobs_status_created"),
    ("jobs_page_by_task", PAGE | {"task_type": "summarize"}, "background_ai_jobs_task_created"),
    ("jobs_window_end", PAGE, "background_ai_jobs_created"),
    (
        "jobs_window_end_by_status",
        PAGE | {"status": "cancelled"},
        "background_ai_jobs_status_created",
    ),
    ("jobs_window_end_by_task", PAGE | {"task_type": "topics"}, "background_ai_jobs_task_created"),
    ("failure_groups", {"window": 5000, "limit": 100}, "background_ai_jobs_status_created"),
    ("finished_per_minute", {"since": NOW - timedelta(hours=1)}, "background_ai_jobs_finished"),
    ("usage_since", {"since": NOW - timedelta(hours=9)}, "background_ai_jobs_finished"),
    ("active_job_counts", {}, "background_ai_jobs_"),
    ("oldest_claimable", {"now": NOW}, "background_ai_jobs_"),
    (
        "finished_counts",
        {"minute": NOW - timedelta(minutes=1), "hour": NOW - timedelta(hours=1)},
        "background_ai_jobs_finished",
    ),
    ("jobs_with_id_between", {"lo": MAX_ID, "hi": MAX_ID}, "background_ai_jobs_pkey"),
]


def full_scans(db_path: DbTarget, plan: str) -> list[str]:
    """Plan lines that read ``background_ai_jobs`` without an index."""
    if is_postgres(db_path):
        return [line for line in plan.splitlines() if "Seq Scan on background_ai_jobs" in line]
    return [
        line
        for line in plan.splitlines()
        if line.startswith("SCAN background_ai_jobs") and "INDEX" not in line
    ]


@pytest.mark.parametrize(("query", "params", "index"), CASES, ids=[c[0] for c in CASES])
async def test_each_dashboard_query_reads_an_index(
    app: Enricher, db_path: DbTarget, query: str, params: dict[str, Any], index: str
) -> None:
    plan = query_plan(db_path, query, params)
    if index == "background_ai_jobs_pkey" and not is_postgres(db_path):
        index = "sqlite_autoindex_background_ai_jobs_1"
    assert index in plan, plan
    assert full_scans(db_path, plan) == [], plan


@pytest.mark.parametrize("query", ["jobs_page", "jobs_page_by_status", "jobs_page_by_task"])
async def test_a_page_reads_its_window_in_index_order_from_the_cursor(
    app: Enricher, db_path: DbTarget, query: str
) -> None:
    """The keyset cursor is a range on the index, not a filter: a deep page starts
    where it is instead of walking the pages before it, and nothing is sorted but the
    bounded window."""
    params = PAGE | {"status": "failed_ai", "task_type": "summarize"}
    plan = query_plan(db_path, query, params, pg_off=("sort", "bitmapscan"))
    if is_postgres(db_path):
        assert "Index Cond: " in plan and "ROW(created_at, job_id) <" in plan, plan
        inner = plan.split("Subquery Scan")[-1]
        assert "Sort" not in inner, plan
    else:
        assert "(created_at,job_id)<(?,?)" in plan, plan
