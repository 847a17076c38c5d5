"""``enricher status`` data: throughput, backlog, ETA and workers, on both dialects."""

from __future__ import annotations

import uuid
from datetime import timedelta

from enricher.app import Enricher
from enricher.clock import format_timestamp, utcnow
from enricher.observe.report import collect, renderable
from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.hostdb import HostDb
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"


async def seed_jobs(
    app: Enricher, host: HostDb, statuses: dict[str, tuple[int, float]], prefix: str = "e"
) -> None:
    """``status: (how many, finished how many seconds ago)`` for each status."""
    n = 0
    for status, (count, ago) in statuses.items():
        for _ in range(count):
            n += 1
            await add_code_entity(app, f"{prefix}{n}")
            job = await app.enqueue(SUMMARY, "code_entity", f"{prefix}{n}")
            assert job.job_id is not None
            finished = format_timestamp(utcnow() - timedelta(seconds=ago)) if ago else None
            host.execute(
                "UPDATE background_ai_jobs SET status = ?, completed_at = ?,"
                " updated_at = COALESCE(?, updated_at) WHERE job_id = ?",
                (
                    status,
                    finished,
                    finished,
                    uuid.UUID(job.job_id) if host.postgres else job.job_id,
                ),
            )


async def test_throughput_backlog_and_eta(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    await seed_jobs(
        app,
        host,
        {
            "completed": (6, 10.0),  # in the last minute
            "failed_ai": (2, 20.0),  # in the last minute
            "failed_job_logic": (3, 600.0),  # in the last hour
            "cancelled": (1, 30.0),  # finished, but neither completed nor failed
            "pending": (8, 0),
            "retry_ai": (4, 0),
        },
    )
    host.execute(
        "UPDATE background_ai_jobs SET completed_at = ?, updated_at = ?"
        " WHERE status = 'completed' AND target_entity_id = 'e1'",
        (format_timestamp(utcnow() - timedelta(hours=3)),) * 2,  # older than the hour
    )
    report = await collect(app)
    assert report["throughput"] == {
        "completed_1m": 5,
        "failed_1m": 2,
        "completed_1h": 5,
        "failed_1h": 5,
        "jobs_per_minute": 7.0,
    }
    assert report["backlog"] == 12
    assert report["eta_s"] == round(12 / 7 * 60, 1)
    text = str(renderable(report))
    assert text  # renders without error


async def test_without_recent_work_the_hour_sets_the_pace_or_there_is_no_eta(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    await seed_jobs(app, host, {"pending": (3, 0)})
    report = await collect(app)
    assert report["throughput"]["jobs_per_minute"] == 0 and report["eta_s"] is None

    await seed_jobs(app, host, {"completed": (30, 900.0)}, prefix="done")
    report = await collect(app)
    assert report["throughput"]["jobs_per_minute"] == 0.5
    assert report["eta_s"] == 360.0


async def test_workers_long_stopped_are_counted_not_listed(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    for worker_id in ("old", "recent", "alive"):
        await Worker(app, worker_id=worker_id).liveness.register()
    await Worker(app, worker_id="old").liveness.mark_stopped()
    await Worker(app, worker_id="recent").liveness.mark_stopped()
    host.execute(
        "UPDATE ai_workers SET stopped_at = ? WHERE worker_id = 'old'",
        (format_timestamp(utcnow() - timedelta(days=3)),),
    )
    report = await collect(app)
    assert report["worker_states"] == {"running": 1, "lost": 0, "stopped": 2}
    assert {w["worker_id"]: w["state"] for w in report["workers"]} == {
        "recent": "stopped",
        "alive": "running",
    }
