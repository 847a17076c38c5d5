"""A worker acting on what others decide: cancels of running jobs, and retention."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.conftest import AppFactory
from tests.fakes import ScriptedProvider
from tests.hostdb import HostDb, eventually
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"


async def test_a_running_job_is_stopped_by_its_worker_soon_after_a_cancel(
    open_app: AppFactory, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    host = HostDb(db_path)
    provider.latency_s = 60.0  # a provider call that would outlast the test
    # The heartbeat alone would notice only after 60 s: the cancel watch must do it.
    app = await open_app(heartbeat_s=60.0, cancel_check_s=0.1)
    try:
        await add_code_entity(app, "slow")
        await add_code_entity(app, "next")
        slow = await app.enqueue(SUMMARY, "code_entity", "slow", priority=1)
        assert slow.job_id is not None
        worker = Worker(app, concurrency=1)
        run = asyncio.create_task(worker.run())
        await eventually(lambda: provider.in_flight == 1)
        assert host.job(slow.job_id)["status"] == "processing"

        cancelled_at = time.monotonic()
        assert await app.cancel(slow.job_id)
        await eventually(lambda: provider.in_flight == 0, timeout_s=5.0)
        assert time.monotonic() - cancelled_at < 2.0
        assert worker.stats.cancelled == 1 and not worker._running
        cancelled = worker.metrics.registry.get_sample_value(
            "enricher_jobs_finished_total", {"task_type": SUMMARY, "status": "cancelled"}
        )
        assert cancelled == 1.0

        # The freed slot takes the next job; the cancelled one stays cancelled.
        provider.latency_s = 0.0
        nxt = await app.enqueue(SUMMARY, "code_entity", "next")
        assert nxt.job_id is not None
        await eventually(lambda: host.job(str(nxt.job_id))["status"] == "completed")
        worker.stop()
        await asyncio.wait_for(run, 5)
    finally:
        await app.close()
    job = host.job(slow.job_id)
    assert (job["status"], job["error_message"], job["attempts"]) == (
        "cancelled",
        "cancelled by a user",
        0,
    )
    assert host.entity("code_entity", "slow")["ai_status"] == "cancelled"
    assert worker.stats.verdicts.get("cancelled", 0) == 0 and worker.stats.released == 0


async def test_a_worker_with_retention_prunes_old_terminal_jobs(
    open_app: AppFactory, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    app = await open_app(retention="1h", retention_check_s=0.1)
    try:
        for entity_id in ("old", "new"):
            await add_code_entity(app, entity_id)
            await app.enqueue(SUMMARY, "code_entity", entity_id)
        await Worker(app).run_once()
        host.execute(
            "UPDATE background_ai_jobs SET updated_at = ? WHERE target_entity_id = 'old'",
            ("2000-01-01T00:00:00.000Z",),
        )
        await add_code_entity(app, "queued")
        await app.enqueue(SUMMARY, "code_entity", "queued", run_at=datetime(2100, 1, 1, tzinfo=UTC))
        host.execute(  # an active job, however old, is never pruned
            "UPDATE background_ai_jobs SET updated_at = ? WHERE target_entity_id = 'queued'",
            ("2000-01-01T00:00:00.000Z",),
        )
        worker = Worker(app)
        run = asyncio.create_task(worker.run())
        await eventually(lambda: worker.stats.pruned == 1)
        worker.stop()
        await asyncio.wait_for(run, 5)
    finally:
        await app.close()
    remaining = host.query("SELECT target_entity_id, status FROM background_ai_jobs")
    assert sorted((r["target_entity_id"], r["status"]) for r in remaining) == [
        ("new", "completed"),
        ("queued", "pending"),
    ]
    assert host.entity("code_entity", "old")["ai_status"] == "completed"
