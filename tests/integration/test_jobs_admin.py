"""Job administration on both dialects: list, details, redrive, cancel and prune.

Jobs are put in every status by plain SQL, as a host application (or a worker in
another process) would leave them; results are read back through HostDb, not
through the queries under test.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from enricher.app import Enricher
from enricher.errors import RequestError
from enricher.queue.retention import prune
from enricher.status import JobStatus
from enricher.worker.loop import Worker
from tests.backends import DbTarget, is_postgres
from tests.hostdb import HostDb, eventually
from tests.seed import add_code_entity, add_conversation, add_document

SUMMARY = "enrich_entity_summary_keywords"
TOPICS = "generate_topics"
NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=10)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def set_job(
    host: HostDb,
    job_id: str,
    status: str,
    *,
    error: str | None = None,
    attempts: int = 0,
    at: datetime = NOW,
    created: datetime | None = None,
) -> None:
    """Leave a job in ``status`` the way a worker would have (plain SQL)."""
    terminal = JobStatus(status).is_terminal
    if status == "processing":
        host.execute(
            "UPDATE background_ai_jobs SET locked_by = 'w-elsewhere', locked_at = ? "
            "WHERE job_id = ?",
            (iso(at), _key(host, job_id)),
        )
    host.execute(
        "UPDATE background_ai_jobs SET status = ?, error_message = ?, attempts = ?, "
        "updated_at = ?, completed_at = ? WHERE job_id = ?",
        (status, error, attempts, iso(at), iso(at) if terminal else None, _key(host, job_id)),
    )
    if created is not None:
        host.execute(
            "UPDATE background_ai_jobs SET created_at = ? WHERE job_id = ?",
            (iso(created), _key(host, job_id)),
        )


def _key(host: HostDb, job_id: str) -> object:
    return uuid.UUID(job_id) if host.postgres else job_id


async def code_job(
    app: Enricher,
    host: HostDb,
    entity_id: str,
    status: str = "pending",
    *,
    attempts: int = 0,
    at: datetime | None = None,
    created: datetime | None = None,
) -> str:
    """A job enqueued through the API, then left in ``status`` (at ``at``) by plain SQL."""
    await add_code_entity(app, entity_id)
    result = await app.enqueue(SUMMARY, "code_entity", entity_id, force=True)
    assert result.created and result.job_id is not None
    if status != "pending" or at is not None or created is not None:
        error = None if status in {"pending", "processing", "completed"} else f"{status} boom"
        set_job(
            host,
            result.job_id,
            status,
            error=error,
            attempts=attempts,
            at=at or NOW,
            created=created,
        )
    return result.job_id


async def one_of_each(app: Enricher, host: HostDb, at: datetime = NOW) -> dict[str, str]:
    """One code-entity job in every status, created one second apart in enum order."""
    jobs: dict[str, str] = {}
    for index, status in enumerate(JobStatus):
        created = at + timedelta(seconds=index)
        jobs[status.value] = await code_job(
            app, host, f"e_{status.value}", status.value, at=at, created=created
        )
    return jobs


# ── list ────────────────────────────────────────────────────────────────


async def test_list_filters_newest_first_with_every_column(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    jobs = await one_of_each(app, host)
    await add_document(app, "d1")
    doc = await app.enqueue(SUMMARY, "project_document", "d1", payload={"instructions": "brief"})
    await add_conversation(app, "c1", [("user", "hello"), ("assistant", "hi")])
    topic = await app.enqueue(TOPICS, "conversation", "c1")
    for job_id, second in ((doc.job_id, 100), (topic.job_id, 101)):
        assert job_id is not None
        host.execute(
            "UPDATE background_ai_jobs SET created_at = ? WHERE job_id = ?",
            (iso(NOW + timedelta(seconds=second)), _key(host, job_id)),
        )

    listed = await app.list_jobs()
    assert [j["job_id"] for j in listed] == [topic.job_id, doc.job_id, *reversed(jobs.values())]
    first = listed[1]
    assert first["payload"] == {"instructions": "brief"}  # parsed JSON, both dialects
    assert isinstance(first["created_at"], datetime) and first["created_at"].tzinfo is not None
    assert "error_history" in first and "cost_usd" in first  # SELECT *: every column

    failed = await app.list_jobs(statuses=["failed_ai", "cancelled"])
    assert {j["job_id"] for j in failed} == {jobs["failed_ai"], jobs["cancelled"]}
    assert [j["job_id"] for j in await app.list_jobs(task_type=TOPICS)] == [topic.job_id]
    by_type = await app.list_jobs(target_entity_type="project_document")
    assert [j["job_id"] for j in by_type] == [doc.job_id]
    both = await app.list_jobs(statuses=["pending"], task_type=SUMMARY, target_entity_type="x")
    assert both == []
    assert len(await app.list_jobs(limit=3)) == 3
    with pytest.raises(RequestError, match="unknown status 'failed'"):
        await app.list_jobs(statuses=["failed"])


# ── show ────────────────────────────────────────────────────────────────


async def test_details_carry_target_row_and_error_history(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    job_id = await code_job(app, host, "e1", "retry_ai", attempts=1, at=NOW)
    set_job(host, job_id, "failed_ai", error="400 bad request", attempts=2, at=NOW)

    details = await app.job_details(job_id.upper())  # ids are case-insensitive UUIDs
    assert details is not None
    assert details.job["job_id"] == job_id and details.job["status"] == "failed_ai"
    assert details.target is not None
    assert details.target["entity_id"] == "e1" and details.target["raw_content"].startswith("def")
    assert details.target["ai_status"] == "failed_ai"
    assert [(e["attempt"], e["status"], e["error"]) for e in details.error_history] == [
        (1, "retry_ai", "retry_ai boom"),
        (2, "failed_ai", "400 bad request"),
    ]
    assert all(isinstance(e["at"], datetime) for e in details.error_history)

    assert await app.job_details(str(uuid.uuid4())) is None
    assert await app.job_details("not-a-uuid") is None


async def test_details_of_a_custom_target_have_no_row(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    host.execute(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id) "
        "VALUES ('tag', 'widget', 'w1')"
    )
    job_id = host.query("SELECT job_id FROM background_ai_jobs")[0]["job_id"]
    details = await app.job_details(job_id)
    assert details is not None and details.target is None and details.error_history == []


# ── retry (redrive) ─────────────────────────────────────────────────────


async def test_retry_by_id_resets_the_job_and_its_entity(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    job_id = await code_job(app, host, "e1", "failed_ai", attempts=3, at=OLD)
    assert host.entity("code_entity", "e1")["ai_status"] == "failed_ai"
    woken: list[int] = []
    app.add_listener(lambda: woken.append(1))

    report = await app.retry_jobs([job_id])
    assert report.redriven == (job_id,) and report.skipped == ()
    assert woken == [1]  # idle in-process workers are woken
    job = host.job(job_id)
    assert (job["status"], job["attempts"], job["error_message"]) == ("pending", 0, None)
    assert job["locked_by"] is None and job["locked_at"] is None and job["completed_at"] is None
    assert job["run_after"] > iso(OLD) and job["updated_at"] == job["run_after"]
    assert "failed_ai boom" in str(job["error_history"])  # history stays
    entity = host.entity("code_entity", "e1")
    assert (entity["ai_status"], entity["ai_error"]) == ("pending", None)

    assert await Worker(app).run_once() == 1  # claimable again, and it runs
    assert host.job(job_id)["status"] == "completed"
    assert host.entity("code_entity", "e1")["ai_status"] == "completed"


async def test_retry_by_filter_takes_only_matching_failed_jobs(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    jobs = await one_of_each(app, host, at=OLD)
    await add_document(app, "d1")
    doc = await app.enqueue(SUMMARY, "project_document", "d1")
    assert doc.job_id is not None
    set_job(host, doc.job_id, "failed_ai", error="boom", attempts=3)

    report = await app.retry_jobs(statuses=["failed_ai"], target_entity_type="code_entity")
    assert report.redriven == (jobs["failed_ai"],) and report.skipped == ()
    assert host.job(doc.job_id)["status"] == "failed_ai"
    untouched = {s: host.job(j)["status"] for s, j in jobs.items() if s != "failed_ai"}
    assert untouched == {s: s for s in untouched}

    report = await app.retry_jobs(
        statuses=["failed_payload_parsing", "failed_job_logic", "cancelled"], task_type=SUMMARY
    )
    assert set(report.redriven) == {
        jobs["failed_payload_parsing"],
        jobs["failed_job_logic"],
        jobs["cancelled"],
    }
    for status in ("failed_payload_parsing", "failed_job_logic", "cancelled"):
        assert host.entity("code_entity", f"e_{status}")["ai_status"] == "pending"
    assert host.job(jobs["completed"])["status"] == "completed"

    none = await app.retry_jobs(statuses=["failed_ai"], task_type=TOPICS)
    assert none.redriven == () and none.skipped == ()


async def test_retry_limit_takes_the_oldest_failures_first(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    ids = [
        await code_job(app, host, f"e{i}", "failed_ai", at=OLD + timedelta(minutes=i))
        for i in range(5)
    ]
    report = await app.retry_jobs(statuses=["failed_ai"], limit=2)
    assert report.redriven == tuple(ids[:2])
    assert host.statuses() == {"pending": 2, "failed_ai": 3}


async def test_retry_skips_a_target_with_an_active_job_without_aborting(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    busy = await code_job(app, host, "busy", "failed_ai", at=OLD)
    active = await app.enqueue(SUMMARY, "code_entity", "busy")  # a new active job
    assert active.created
    free = await code_job(app, host, "free", "failed_ai", at=OLD)

    report = await app.retry_jobs(statuses=["failed_ai"])
    assert report.redriven == (free,)
    assert [s.job_id for s in report.skipped] == [busy]
    assert "active job" in report.skipped[0].reason and str(active.job_id) in (
        report.skipped[0].reason
    )
    assert host.job(busy)["status"] == "failed_ai"
    assert host.entity("code_entity", "busy")["ai_status"] == "pending"  # the active job's

    by_id = await app.retry_jobs([busy])
    assert by_id.redriven == () and "active job" in by_id.skipped[0].reason


async def test_retry_skips_superseded_jobs_and_never_starves_on_them(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    old = await code_job(app, host, "e1", "failed_ai", at=OLD, created=OLD)
    newer = await code_job(app, host, "e1", "completed", at=NOW)  # enqueue --force, done
    retry_me = await code_job(app, host, "e2", "failed_ai", at=NOW, created=NOW)

    report = await app.retry_jobs(statuses=["failed_ai"], limit=1)
    assert report.redriven == (retry_me,) and report.skipped == ()  # old one did not take it
    report = await app.retry_jobs(statuses=["failed_ai"])
    assert report.redriven == ()
    assert [(s.job_id, "superseded" in s.reason) for s in report.skipped] == [(old, True)]
    assert str(newer) in report.skipped[0].reason
    assert host.entity("code_entity", "e1")["ai_status"] == "completed"

    # Two failures of one target in one batch: only the latest comes back, no conflict.
    first = await code_job(app, host, "e3", "failed_ai", at=OLD, created=OLD)
    second = await code_job(app, host, "e3", "failed_ai", at=NOW, created=NOW)
    report = await app.retry_jobs(statuses=["failed_ai"])
    assert report.redriven == (second,)
    assert first in {s.job_id for s in report.skipped}


async def test_retry_refuses_completed_active_and_unknown_jobs(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    jobs = await one_of_each(app, host)
    report = await app.retry_jobs([jobs["completed"]])
    assert report.redriven == () and "enqueue --force" in report.skipped[0].reason
    report = await app.retry_jobs([jobs["processing"]])
    assert "already active (processing)" in report.skipped[0].reason
    missing = str(uuid.uuid4())
    report = await app.retry_jobs([missing, "garbage"])
    assert [(s.job_id, s.reason) for s in report.skipped] == [
        (missing, "no such job"),
        ("garbage", "no such job"),
    ]
    with pytest.raises(RequestError, match="enqueue --force"):
        await app.retry_jobs(statuses=["completed"])
    with pytest.raises(RequestError, match="still active"):
        await app.retry_jobs(statuses=["retry_ai"])
    with pytest.raises(RequestError, match="job id or give --status"):
        await app.retry_jobs()
    assert host.job(jobs["completed"])["status"] == "completed"


async def test_redrive_wakes_workers_in_other_processes_on_postgres(
    app: Enricher, db_path: DbTarget
) -> None:
    if not is_postgres(db_path):
        pytest.skip("SQLite workers in other processes find redriven jobs by polling")
    host = HostDb(db_path)
    job_id = await code_job(app, host, "e1", "failed_ai", at=OLD)
    notified: list[int] = []
    other = await Enricher.open(app.settings)  # another process's listener connection
    try:
        await other.db.listen("enricher_jobs", lambda: notified.append(1))
        await app.retry_jobs([job_id])
        await eventually(lambda: bool(notified))
    finally:
        await other.close()


# ── cancel ──────────────────────────────────────────────────────────────


async def test_cancel_queued_and_running_but_not_finished_jobs(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    jobs = await one_of_each(app, host)
    for status in ("pending", "processing", "retry_ai", "rate_limited"):
        assert await app.cancel(jobs[status])
        assert host.job(jobs[status])["status"] == "cancelled"
        assert host.entity("code_entity", f"e_{status}")["ai_status"] == "cancelled"
    for status in ("completed", "failed_ai", "cancelled"):
        assert not await app.cancel(jobs[status])
        assert host.job(jobs[status])["status"] == status
    # A cancelled job can be redriven.
    assert (await app.retry_jobs([jobs["pending"]])).redriven == (jobs["pending"],)


# ── prune ───────────────────────────────────────────────────────────────


async def test_prune_deletes_only_old_terminal_jobs(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    old = await one_of_each(app, host, at=OLD)
    recent = await code_job(app, host, "recent", "completed", at=NOW - timedelta(days=1))

    deleted = await app.prune(older_than=timedelta(days=7), now=NOW)
    assert deleted == 5
    remaining = {row["job_id"] for row in host.query("SELECT job_id FROM background_ai_jobs")}
    active = {old[s.value] for s in JobStatus if s.is_active}
    assert remaining == active | {recent}  # old active jobs are never pruned
    # Entities keep their status when their latest job is pruned.
    assert host.entity("code_entity", "e_completed")["ai_status"] == "completed"
    assert host.entity("code_entity", "e_failed_ai")["ai_status"] == "failed_ai"


async def test_prune_by_status_and_refuses_active_statuses(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    jobs = await one_of_each(app, host, at=OLD)
    assert await app.prune(older_than=timedelta(days=1), statuses=["completed"]) == 1
    assert await app.prune(older_than=timedelta(days=30), statuses=["failed_ai"]) == 0
    for status in ("pending", "processing"):
        with pytest.raises(RequestError, match=f"refusing to prune '{status}'"):
            await app.prune(older_than=timedelta(0), statuses=["cancelled", status])
    with pytest.raises(RequestError, match="unknown status"):
        await app.prune(older_than=timedelta(0), statuses=["done"])
    with pytest.raises(RequestError, match="negative"):
        await app.prune(older_than=timedelta(seconds=-1))
    assert host.statuses().get("completed") is None
    assert host.job(jobs["cancelled"])["status"] == "cancelled"  # nothing went in the refusals


async def test_prune_deletes_in_batches(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    for i in range(7):
        await code_job(app, host, f"e{i}", "completed", at=OLD)
    keep = await code_job(app, host, "keep", "pending", at=OLD)
    with capture_logs() as logs:
        deleted = await prune(
            app.db, older_than=timedelta(days=1), statuses=None, now=NOW, batch_size=3
        )
    assert deleted == 7
    [event] = [e for e in logs if e["event"] == "jobs_pruned"]
    assert (event["deleted"], event["batches"]) == (7, 3)
    assert [row["job_id"] for row in host.query("SELECT job_id FROM background_ai_jobs")] == [keep]


async def test_prune_rests_in_proportion_to_each_batch(app: Enricher, db_path: DbTarget) -> None:
    """Between batches the prune hands the server back to the workers: a rest of
    ``pause_ratio`` times what the batch took; none after the last, none with ratio 0."""
    host = HostDb(db_path)
    for i in range(7):
        await code_job(app, host, f"e{i}", "completed", at=OLD)
    rests: list[float] = []

    async def rest(seconds: float) -> None:
        rests.append(seconds)

    with capture_logs() as logs:
        deleted = await prune(
            app.db,
            older_than=timedelta(days=1),
            statuses=None,
            now=NOW,
            batch_size=3,
            pause_ratio=2.0,
            sleep=rest,
        )
    assert deleted == 7
    assert len(rests) == 2 and all(r > 0 for r in rests), rests  # 3 batches: 3 + 3 + 1
    [event] = [e for e in logs if e["event"] == "jobs_pruned"]
    assert event["rested_s"] == pytest.approx(sum(rests), abs=0.001)
    for i in range(4):
        await code_job(app, host, f"f{i}", "completed", at=OLD)
    rests.clear()
    await prune(
        app.db,
        older_than=timedelta(days=1),
        statuses=None,
        now=NOW,
        batch_size=2,
        pause_ratio=0.0,
        sleep=rest,
    )
    assert rests == [0.0, 0.0]
    with pytest.raises(RequestError, match="pause ratio"):
        await prune(app.db, older_than=timedelta(days=1), statuses=None, now=NOW, pause_ratio=-1)


async def test_prune_waits_for_a_redrive_and_keeps_the_redriven_job(
    app: Enricher, db_path: DbTarget
) -> None:
    """The PostgreSQL prune takes no row locks of its own: a job a redrive is changing is
    waited for, and once the redrive commits the job is pending again and stays."""
    if not is_postgres(db_path):
        pytest.skip("SQLite's writers are serialised by the database lock")
    import asyncpg

    host = HostDb(db_path)
    job = await code_job(app, host, "redriven", "failed_ai", at=OLD)
    other = await code_job(app, host, "other", "completed", at=OLD)
    conn = await asyncpg.connect(str(db_path))
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute(
            "UPDATE background_ai_jobs SET status = 'pending', updated_at = now()"
            " WHERE job_id = $1",
            uuid.UUID(job),
        )
        pruning = asyncio.create_task(
            prune(app.db, older_than=timedelta(days=1), statuses=None, now=NOW, pause_ratio=0)
        )
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        await eventually(lambda: host.query(waiting)[0]["count"] == 1)
        assert not pruning.done()
        await tx.commit()
        assert await pruning == 1
    finally:
        await conn.close()
    assert host.job(job)["status"] == "pending"
    assert (
        host.query("SELECT job_id FROM background_ai_jobs WHERE job_id = ?", (_key(host, other),))
        == []
    )


async def test_prune_runs_beside_a_worker(app: Enricher, db_path: DbTarget) -> None:
    """Pruning while a worker completes jobs: each statement is short, nothing is lost."""
    host = HostDb(db_path)
    for i in range(20):
        await code_job(app, host, f"old{i}", "completed", at=OLD)
    fresh = [await code_job(app, host, f"new{i}") for i in range(8)]
    worker = Worker(app)
    pruned, ran = await asyncio.gather(
        prune(app.db, older_than=timedelta(days=1), statuses=None, now=NOW, batch_size=4),
        worker.run_once(limit=8),
    )
    assert pruned == 20 and ran == 8
    assert {host.job(j)["status"] for j in fresh} == {"completed"}
