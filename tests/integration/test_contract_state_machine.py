"""Every transition of the state machine (docs/architecture.md), with the entity status
rule checked after each."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from enricher.app import Enricher
from enricher.clock import utcnow
from enricher.db import store
from enricher.providers.base import GenerationRequest
from enricher.providers.errors import (
    InvalidOutput,
    PermanentProviderError,
    ProviderHalted,
    RateLimited,
    RetryableProviderError,
)
from enricher.status import JobStatus
from enricher.tasks.schemas import SummaryKeywords
from enricher.worker.loop import Worker
from tests.backends import DbTarget, is_postgres
from tests.conftest import AppFactory
from tests.fakes import ScriptedProvider
from tests.hostdb import HostDb, eventually
from tests.seed import add_code_entity, add_conversation, add_document

SUMMARY = "enrich_entity_summary_keywords"


def assert_entity_follows(host: HostDb, job_id: str) -> dict[str, object]:
    """The entity status rule: ai_status and ai_error mirror the most recent job."""
    job = host.job(job_id)
    entity = host.entity(job["target_entity_type"], job["target_entity_id"])
    assert entity["ai_status"] == job["status"]
    assert entity["ai_error"] == job["error_message"]
    return entity


async def enqueue_code(app: Enricher, entity_id: str = "e1", **kwargs: object) -> str:
    await add_code_entity(app, entity_id)
    result = await app.enqueue(SUMMARY, "code_entity", entity_id, **kwargs)  # type: ignore[arg-type]
    assert result.job_id is not None
    return result.job_id


async def test_enqueue_sets_pending_and_claim_sets_processing(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    job_id = await enqueue_code(app)
    assert host.job(job_id)["status"] == "pending"
    assert_entity_follows(host, job_id)

    worker = Worker(app, worker_id="w1")
    jobs = await worker._claim(10)
    assert [j.job_id for j in jobs] == [job_id]
    row = host.job(job_id)
    assert (row["status"], row["locked_by"], row["attempts"]) == ("processing", "w1", 0)
    assert row["max_attempts"] == 3
    assert_entity_follows(host, job_id)


async def test_completed_writes_results_entity_and_keywords_together(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    job_id = await enqueue_code(app)
    await Worker(app).run_once()
    job = host.job(job_id)
    assert job["status"] == "completed"
    assert job["attempts"] == 1 and job["completed_at"] and job["locked_by"] is None
    assert job["error_message"] is None
    assert (job["provider"], job["model"], job["input_tokens"], job["output_tokens"]) == (
        "scripted",
        "scripted-1",
        100,
        20,
    )
    result = json.loads(job["result"])
    assert result["summary"] == "Summary of e1." and result["truncated"] is False
    entity = assert_entity_follows(host, job_id)
    assert entity["summary"] == "Summary of e1."
    assert json.loads(str(entity["keywords"])) == ["alpha", "beta", "e1"]
    assert entity["ai_content_hash"] == entity["content_hash"]
    assert entity["ai_last_processed_at"]
    keywords = host.query("SELECT keyword, weight FROM entity_keywords ORDER BY weight DESC")
    assert [k["keyword"] for k in keywords] == ["alpha", "beta", "e1"]


async def test_rate_limited_pauses_task_and_provider_without_consuming(
    app: Enricher, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    host = HostDb(db_path)

    def limited(request: GenerationRequest) -> SummaryKeywords:
        raise RateLimited("429 too many requests", retry_after_s=7)

    provider.script = limited
    job_id = await enqueue_code(app)
    before = datetime.now(UTC)
    await Worker(app).run_once()
    job = host.job(job_id)
    assert job["status"] == "rate_limited" and job["attempts"] == 0
    assert "rate limited" in job["error_message"] and "not consumed" in job["error_message"]
    run_after = datetime.fromisoformat(job["run_after"].replace("Z", "+00:00"))
    assert timedelta(seconds=6) < run_after - before < timedelta(seconds=9)
    pauses = host.pauses()
    assert set(pauses) == {f"task:{SUMMARY}", "provider:local:scripted-1"}
    assert_entity_follows(host, job_id)

    # Every worker honours the pause: a fresh job of the same task type is not claimable.
    await add_code_entity(app, "e2")
    await app.enqueue(SUMMARY, "code_entity", "e2")
    assert await Worker(app, worker_id="other").run_once() == 0


async def test_default_pause_when_no_retry_after(
    app: Enricher, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    def limited(request: GenerationRequest) -> SummaryKeywords:
        raise RateLimited("429")

    provider.script = limited
    await enqueue_code(app)
    await Worker(app).run_once()
    until = HostDb(db_path).pauses()[f"task:{SUMMARY}"]["paused_until"]
    left = datetime.fromisoformat(until.replace("Z", "+00:00")) - datetime.now(UTC)
    assert timedelta(seconds=55) < left <= timedelta(seconds=60)


async def test_pause_filters_only_its_task_type(
    app: Enricher, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    host = HostDb(db_path)
    host.execute(
        "INSERT INTO ai_pauses (scope, paused_until, reason) VALUES (?, ?, 'test')",
        (f"task:{SUMMARY}", "2999-01-01T00:00:00.000Z"),
    )
    await enqueue_code(app)
    await add_conversation(app, "c1", [("user", "hello there, how do I deploy?")])
    topics = await app.enqueue("generate_topics", "conversation", "c1")
    claimed = await Worker(app)._claim(10)
    assert [j.job_id for j in claimed] == [topics.job_id]


async def test_retryable_error_backs_off_then_fails_when_exhausted(
    open_app: AppFactory, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    host = HostDb(db_path)

    def flaky(request: GenerationRequest) -> SummaryKeywords:
        raise RetryableProviderError("503 service unavailable")

    provider.script = flaky
    app = await open_app(retry_base_s=30.0, retry_max_s=60.0)
    try:
        job_id = await enqueue_code(app, max_attempts=2)
        await Worker(app).run_once()
        job = host.job(job_id)
        assert (job["status"], job["attempts"]) == ("retry_ai", 1)
        assert "503" in job["error_message"] and "attempt 1 of 2" in job["error_message"]
        run_after = datetime.fromisoformat(job["run_after"].replace("Z", "+00:00"))
        assert run_after <= datetime.now(UTC) + timedelta(seconds=30)
        assert_entity_follows(host, job_id)
        assert await Worker(app).run_once() == 0  # backing off: not claimable yet

        host.execute("UPDATE background_ai_jobs SET run_after = '2000-01-01T00:00:00.000Z'")
        await Worker(app).run_once()
        job = host.job(job_id)
        assert (job["status"], job["attempts"]) == ("failed_ai", 2)
        assert "giving up" in job["error_message"]
        assert_entity_follows(host, job_id)
    finally:
        await app.close()


@pytest.mark.parametrize(
    ("error", "status", "attempts", "fragment"),
    [
        (PermanentProviderError("400 bad request"), "failed_ai", 1, "rejected the request"),
        (InvalidOutput("summary: field required"), "retry_ai", 1, "field required"),
        (ProviderHalted("401 invalid api key"), "rate_limited", 0, "halted"),
        (ValueError("handler bug"), "retry_ai", 1, "ValueError: handler bug"),
    ],
)
async def test_provider_error_classes(
    app: Enricher,
    db_path: DbTarget,
    provider: ScriptedProvider,
    error: Exception,
    status: str,
    attempts: int,
    fragment: str,
) -> None:
    host = HostDb(db_path)

    def fail(request: GenerationRequest) -> SummaryKeywords:
        raise error

    provider.script = fail
    job_id = await enqueue_code(app)
    await Worker(app).run_once()
    job = host.job(job_id)
    assert (job["status"], job["attempts"]) == (status, attempts)
    assert fragment in job["error_message"]
    assert_entity_follows(host, job_id)
    if isinstance(error, ProviderHalted):
        assert set(host.pauses()) == {"provider:local:scripted-1"}


async def test_timeout_is_retryable(
    open_app: AppFactory, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    from enricher.config import TaskSettings

    provider.latency_s = 5.0
    app = await open_app()
    app.settings = app.settings.model_copy(update={"tasks": {SUMMARY: TaskSettings(timeout_s=0.1)}})
    try:
        job_id = await enqueue_code(app)
        await Worker(app).run_once()
        job = HostDb(db_path).job(job_id)
        assert job["status"] == "retry_ai" and "timed out after 0.1 s" in job["error_message"]
    finally:
        await app.close()


async def test_payload_not_json_fails_parsing(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    await add_code_entity(app, "e1")
    insert = (
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id, payload)"
        " VALUES (?, 'code_entity', 'e1', '{not json')"
    )
    if host.postgres:  # payload is jsonb: PostgreSQL refuses the row at the door
        import asyncpg

        with pytest.raises(asyncpg.DataError):
            host.execute(insert, (SUMMARY,))
        assert host.statuses() == {}
        return
    host.execute(insert, (SUMMARY,))
    await Worker(app).run_once()
    job = host.query("SELECT * FROM background_ai_jobs")[0]
    assert job["status"] == "failed_payload_parsing"
    assert "not valid JSON" in job["error_message"]
    assert_entity_follows(host, job["job_id"])


async def test_payload_invalid_for_task_fails_parsing(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    await add_code_entity(app, "e1")
    host.execute(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id, payload)"
        " VALUES (?, 'code_entity', 'e1', '{\"max_input_tokens\": -5, \"colour\": 1}')",
        (SUMMARY,),
    )
    await Worker(app).run_once()
    job = host.query("SELECT * FROM background_ai_jobs")[0]
    assert job["status"] == "failed_payload_parsing"
    assert "max_input_tokens" in job["error_message"] and "colour" in job["error_message"]


async def test_unknown_task_and_target_type_fail_job_logic(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    host.execute(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
        " VALUES ('translate', 'code_entity', 'x')"
    )
    host.execute(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
        " VALUES (?, 'spreadsheet', 'x')",
        (SUMMARY,),
    )
    await Worker(app).run_once()
    rows = {r["task_type"]: r for r in host.query("SELECT * FROM background_ai_jobs")}
    assert rows["translate"]["status"] == "failed_job_logic"
    assert "no handler registered for task 'translate'" in rows["translate"]["error_message"]
    assert rows[SUMMARY]["status"] == "failed_job_logic"
    assert "'spreadsheet'" in rows[SUMMARY]["error_message"]


async def test_missing_target_fails_job_logic(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    host.execute(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
        " VALUES (?, 'code_entity', 'ghost')",
        (SUMMARY,),
    )
    await Worker(app).run_once()
    job = host.query("SELECT * FROM background_ai_jobs")[0]
    assert job["status"] == "failed_job_logic"
    assert job["error_message"] == "target code_entity 'ghost' not found"


async def test_empty_content_fails_job_logic(
    app: Enricher, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    host = HostDb(db_path)
    await add_document(app, "d1", content="   \n\t\n")
    result = await app.enqueue(SUMMARY, "project_document", "d1")
    await Worker(app).run_once()
    assert result.job_id
    job = host.job(result.job_id)
    assert job["status"] == "failed_job_logic" and "empty raw_content" in job["error_message"]
    assert_entity_follows(host, result.job_id)
    assert sum(provider.calls.values()) == 0


async def test_huge_content_is_truncated_with_marker(
    app: Enricher, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    seen: list[GenerationRequest] = []

    def capture(request: GenerationRequest) -> SummaryKeywords:
        seen.append(request)
        return SummaryKeywords(summary="Big file.", keywords=["big", "file", "huge"])

    provider.script = capture
    huge = "x = 1\n" * 500_000  # 3 MB
    await add_code_entity(app, "big", content=huge)
    result = await app.enqueue(SUMMARY, "code_entity", "big")
    await Worker(app).run_once()
    assert result.job_id
    job = HostDb(db_path).job(result.job_id)
    assert job["status"] == "completed"
    assert json.loads(job["result"])["truncated"] is True
    assert json.loads(job["result"])["input_chars"] == len(huge)
    assert "truncated by enricher" in seen[0].prompt
    assert len(seen[0].prompt) < 6000 * 4 + 2000


async def test_cancel_pending_job(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    job_id = await enqueue_code(app)
    assert await app.cancel(job_id)
    assert host.job(job_id)["status"] == "cancelled"
    assert_entity_follows(host, job_id)
    assert await Worker(app).run_once() == 0
    assert not await app.cancel(job_id)  # already terminal


async def test_cancel_running_job_discards_its_result(
    app: Enricher, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    host = HostDb(db_path)
    provider.latency_s = 0.3
    job_id = await enqueue_code(app)
    worker = Worker(app)
    run = asyncio.create_task(worker.run_once())
    await asyncio.sleep(0.1)
    assert host.job(job_id)["status"] == "processing"
    assert await app.cancel(job_id)
    await run
    job = host.job(job_id)
    assert job["status"] == "cancelled" and job["result"] is None
    assert worker.stats.discarded == 1
    entity = assert_entity_follows(host, job_id)
    assert entity["summary"] is None


async def test_reaper_reclaims_stale_job_and_fence_discards_late_result(
    open_app: AppFactory, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    host = HostDb(db_path)
    app = await open_app(lock_timeout_s=0.5, heartbeat_s=0.1)
    try:
        job_id = await enqueue_code(app)
        dead = Worker(app, worker_id="dead")
        jobs = await dead._claim(1)
        host.execute("UPDATE background_ai_jobs SET locked_at = '2000-01-01T00:00:00.000Z'")
        reaper = Worker(app, worker_id="reaper")
        await reaper.liveness.reap()
        job = host.job(job_id)
        assert (job["status"], job["attempts"], job["locked_by"]) == ("retry_ai", 1, None)
        assert "worker dead stopped heart-beating" in job["error_message"]
        assert_entity_follows(host, job_id)

        # The old owner finishes late: the fence refuses it and nothing is written.
        await dead._run_job(jobs[0])
        assert dead.stats.discarded == 1
        assert host.job(job_id)["status"] == "retry_ai"
        assert host.entity("code_entity", "e1")["summary"] is None

        # The job runs again normally and completes once.
        await reaper.run_once()
        assert host.job(job_id)["status"] == "completed"
        assert host.job(job_id)["attempts"] == 2
    finally:
        await app.close()


async def test_reaper_fails_job_whose_attempts_are_exhausted(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    job_id = await enqueue_code(app, max_attempts=1)
    await Worker(app, worker_id="dead")._claim(1)
    host.execute("UPDATE background_ai_jobs SET locked_at = '2000-01-01T00:00:00.000Z'")
    await Worker(app).liveness.reap()
    job = host.job(job_id)
    assert (job["status"], job["attempts"]) == ("failed_ai", 1)
    assert_entity_follows(host, job_id)


async def test_shutdown_puts_running_jobs_back_without_consuming(
    open_app: AppFactory, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    host = HostDb(db_path)
    provider.latency_s = 10.0
    app = await open_app(shutdown_grace_s=0.2)
    try:
        job_id = await enqueue_code(app)
        worker = Worker(app, worker_id="w")
        run = asyncio.create_task(worker.run())
        await eventually(lambda: host.job(job_id)["status"] == "processing")
        worker.stop()
        stats = await asyncio.wait_for(run, 5)
        job = host.job(job_id)
        assert (job["status"], job["attempts"], job["locked_by"]) == ("retry_ai", 0, None)
        assert "interrupted by shutdown" in job["error_message"]
        assert stats.released == 1
        assert_entity_follows(host, job_id)
        assert host.query("SELECT status FROM ai_workers")[0]["status"] == "stopped"
    finally:
        await app.close()


async def test_lost_job_is_dropped_by_heartbeat(
    open_app: AppFactory, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    host = HostDb(db_path)
    provider.latency_s = 30.0
    app = await open_app(heartbeat_s=0.05)
    try:
        job_id = await enqueue_code(app)
        worker = Worker(app, worker_id="w")
        run = asyncio.create_task(worker.run())
        await eventually(lambda: host.job(job_id)["status"] == "processing")
        # Someone else took it over (as a reaper would after a long stall).
        host.execute("UPDATE background_ai_jobs SET locked_by = 'thief'")
        await eventually(lambda: not worker._running)
        worker.stop()
        await asyncio.wait_for(run, 5)
        assert host.job(job_id)["locked_by"] == "thief"  # our shutdown did not touch it
    finally:
        await app.close()


async def test_a_heartbeat_never_waits_for_a_row_lock(app: Enricher, db_path: DbTarget) -> None:
    # A group-committed verdict locks the worker's rows in its own order; a heartbeat
    # that waited for them, holding others, deadlocked with it on PostgreSQL. It now
    # reports the jobs from its snapshot and refreshes only the rows nobody has locked.
    if not is_postgres(db_path):
        pytest.skip("row locks are PostgreSQL's; SQLite has one write lock")
    host = HostDb(db_path)
    job_id = await enqueue_code(app)
    host.execute(
        "UPDATE background_ai_jobs SET status = 'processing', locked_by = 'w',"
        " locked_at = '2026-01-01T00:00:00Z'"
    )
    verdict = await asyncpg.connect(str(db_path))
    try:
        async with verdict.transaction():
            await verdict.execute(
                "SELECT 1 FROM background_ai_jobs WHERE job_id = $1::uuid FOR UPDATE", job_id
            )
            rows = await asyncio.wait_for(
                store.claims.heartbeat(app.db, worker_id="w", now=utcnow(), job_ids=[job_id]),
                timeout=5,
            )
            assert [str(r["job_id"]) for r in rows] == [job_id]  # still ours
        assert host.job(job_id)["locked_at"].startswith("2026-01-01")  # skipped while locked
        await store.claims.heartbeat(app.db, worker_id="w", now=utcnow(), job_ids=[job_id])
        assert not host.job(job_id)["locked_at"].startswith("2026-01-01")
    finally:
        await verdict.close()


async def test_topics_replace_earlier_topics(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    await add_conversation(
        app, "c1", [("user", "why does the build fail?"), ("assistant", "the cache is stale")]
    )
    first = await app.enqueue("generate_topics", "conversation", "c1")
    await Worker(app).run_once()
    second = await app.enqueue("generate_topics", "conversation", "c1", force=True)
    await Worker(app).run_once()
    assert first.job_id and second.job_id and first.job_id != second.job_id
    topics = host.query("SELECT * FROM conversation_topics WHERE conversation_id = 'c1'")
    assert len(topics) == 1
    assert topics[0]["start_message_id"] == "c1:0001" and topics[0]["end_message_id"] == "c1:0002"
    assert_entity_follows(host, second.job_id)
    entity = host.entity("conversation", "c1")
    assert entity["ai_content_hash"] and entity["ai_last_processed_at"]


async def test_status_value_set_is_the_designs() -> None:
    assert {s.value for s in JobStatus} == {
        "pending",
        "processing",
        "rate_limited",
        "retry_ai",
        "completed",
        "failed_ai",
        "failed_payload_parsing",
        "failed_job_logic",
        "cancelled",
        "batched",
    }


async def test_output_of_the_wrong_shape_is_retryable_invalid_output(
    app: Enricher, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    from enricher.tasks.schemas import Topic

    def wrong(request: GenerationRequest) -> Topic:
        return Topic(
            summary="x.", keywords=["a"], purpose_tag="other", start_message=1, end_message=1
        )

    provider.script = wrong
    job_id = await enqueue_code(app)
    await Worker(app).run_once()
    job = HostDb(db_path).job(job_id)
    assert (job["status"], job["attempts"]) == ("retry_ai", 1)
    assert "output is not a valid SummaryKeywords" in job["error_message"]
