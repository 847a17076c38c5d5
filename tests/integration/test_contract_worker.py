"""The worker loop: real concurrency, burst draining, dispatch spacing, wake-ups."""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from datetime import datetime

import pytest

from enricher.app import Enricher
from enricher.providers.base import GenerationRequest
from enricher.providers.errors import RateLimited, RetryableProviderError
from enricher.tasks.schemas import SummaryKeywords
from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.conftest import AppFactory, make_settings
from tests.fakes import BarrierProvider, GatedProvider, ScriptedProvider
from tests.hostdb import HostDb, eventually
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"


async def seed(app: Enricher, count: int) -> None:
    for i in range(count):
        await add_code_entity(app, f"e{i}")
        await app.enqueue(SUMMARY, "code_entity", f"e{i}")


@pytest.mark.timeout(30)
async def test_runs_concurrency_jobs_at_once(db_path: DbTarget) -> None:
    """Every call blocks until 16 are in flight: a one-by-one loop would never get there."""
    barrier = BarrierProvider(parties=16, timeout_s=10)
    app = await Enricher.open(
        make_settings(db_path, concurrency=16), provider_factory=lambda _s: barrier
    )
    try:
        await seed(app, 16)
        stats = await asyncio.wait_for(Worker(app, burst=True).run(), 20)
        assert barrier.max_in_flight == 16
        assert stats.verdicts == {"completed": 16}
    finally:
        await app.close()


async def test_never_exceeds_concurrency_and_refills_slots(db_path: DbTarget) -> None:
    """A freed slot is refilled while the others still run: no waves of five.

    Every call is held until the test lets one go. After each release the next job
    must start while the other four are still held (a loop that waited for a whole
    batch would never start it, and the wait below would fail), and never a sixth.
    """
    gated, jobs = GatedProvider(), 20
    app = await Enricher.open(
        make_settings(db_path, concurrency=5), provider_factory=lambda _s: gated
    )
    try:
        await seed(app, jobs)
        run = asyncio.create_task(Worker(app, burst=True).run())
        for released in range(jobs):
            started = released + min(5, jobs - released)
            await eventually(lambda: gated.started == started, 10)  # noqa: B023 (awaited here)
            gated.release()
        stats = await asyncio.wait_for(run, 10)
        assert stats.verdicts == {"completed": jobs}
        assert gated.max_in_flight == 5 and gated.started == jobs
    finally:
        await app.close()


async def test_burst_exits_at_once_on_an_empty_queue(app: Enricher) -> None:
    stats = await asyncio.wait_for(Worker(app, burst=True).run(), 5)
    assert stats.claimed == 0


async def test_burst_waits_out_backoff_and_rate_limit_pauses(
    open_app: AppFactory, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    calls = {"n": 0}

    def flaky(request: GenerationRequest) -> SummaryKeywords:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RateLimited("429", retry_after_s=0.3)
        if calls["n"] == 2:
            raise RetryableProviderError("502 bad gateway")
        return SummaryKeywords(summary="Done.", keywords=["a", "b", "c"])

    provider.script = flaky
    app = await open_app(concurrency=1, retry_base_s=0.2, retry_max_s=0.2)
    try:
        await seed(app, 1)
        began = time.perf_counter()
        stats = await asyncio.wait_for(Worker(app, burst=True).run(), 10)
        assert stats.verdicts == {"rate_limited": 1, "retry_ai": 1, "completed": 1}
        assert time.perf_counter() - began >= 0.3
        job = HostDb(db_path).query("SELECT * FROM background_ai_jobs")[0]
        assert (job["status"], job["attempts"]) == ("completed", 2)  # the 429 was free
    finally:
        await app.close()


async def test_burst_does_not_wait_for_jobs_beyond_the_horizon(
    open_app: AppFactory, db_path: DbTarget
) -> None:
    from datetime import UTC, datetime, timedelta

    app = await open_app(burst_horizon_s=60)
    try:
        await add_code_entity(app, "later")
        await app.enqueue(
            SUMMARY, "code_entity", "later", run_at=datetime.now(UTC) + timedelta(hours=2)
        )
        stats = await asyncio.wait_for(Worker(app, burst=True).run(), 5)
        assert stats.claimed == 0
        assert HostDb(db_path).statuses() == {"pending": 1}
    finally:
        await app.close()


async def test_burst_waits_for_a_job_running_in_another_worker(
    open_app: AppFactory, db_path: DbTarget
) -> None:
    app = await open_app()
    try:
        await seed(app, 1)
        other = Worker(app, worker_id="other")
        (job,) = await other._claim(1)
        burst = asyncio.create_task(Worker(app, burst=True).run())
        await asyncio.sleep(0.3)
        assert not burst.done()
        await other._run_job(job)  # the other worker finishes
        await asyncio.wait_for(burst, 5)
        assert HostDb(db_path).statuses() == {"completed": 1}
    finally:
        await app.close()


async def test_job_delay_spaces_dispatches(open_app: AppFactory, db_path: DbTarget) -> None:
    """Claims, where the spacing applies, are ``job_delay_ms`` apart. Each job's claim
    instant is read back from the database: a provider call starts later by however
    long the job took to load, which on a loaded machine varies more than the gap."""
    app = await open_app(concurrency=8, job_delay_ms=100)
    try:
        await seed(app, 5)
        stats = await Worker(app, burst=True).run()
        assert stats.verdicts == {"completed": 5}
        rows = HostDb(db_path).query("SELECT last_attempted_at FROM background_ai_jobs")
        claims = sorted(datetime.fromisoformat(row["last_attempted_at"]) for row in rows)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(claims)]
        assert len(gaps) == 4 and min(gaps) >= 0.1, gaps
    finally:
        await app.close()


async def test_enqueue_in_process_wakes_an_idle_worker(
    open_app: AppFactory, db_path: DbTarget
) -> None:
    app = await open_app(poll_interval_s=30.0)
    try:
        worker = Worker(app)
        run = asyncio.create_task(worker.run())
        await asyncio.sleep(0.2)  # now idle, sleeping up to 30 s
        await seed(app, 1)
        await eventually(lambda: HostDb(db_path).statuses() == {"completed": 1})
        worker.stop()
        await asyncio.wait_for(run, 5)
    finally:
        await app.close()


async def test_job_log_lines_carry_the_job_fields(
    app: Enricher, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from enricher.observe.logs import configure_logging

    configure_logging("info", json=True)
    try:
        await seed(app, 1)
        await Worker(app, worker_id="w-log").run_once()
    finally:
        configure_logging("info", stream=sys.__stderr__)
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    done = [line for line in lines if line["event"] == "job_completed"]
    assert done, lines
    for field in ("job_id", "task_type", "target_entity_type", "target_entity_id", "attempt"):
        assert field in done[0]
    assert done[0]["worker_id"] == "w-log" and done[0]["attempt"] == 1


async def test_a_plain_sql_insert_wakes_an_idle_postgres_worker(
    open_app: AppFactory, db_path: DbTarget
) -> None:
    """LISTEN/NOTIFY: another connection's INSERT wakes a worker polling every 30 s."""
    host = HostDb(db_path)
    if not host.postgres:
        pytest.skip("SQLite has no notifications; other processes' work is polled")
    app = await open_app(poll_interval_s=30.0)
    try:
        await add_code_entity(app, "e1")
        worker = Worker(app)
        run = asyncio.create_task(worker.run())
        await asyncio.sleep(0.3)  # idle now
        host.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
            " VALUES (?, 'code_entity', 'e1')",
            (SUMMARY,),
        )
        await eventually(lambda: host.statuses() == {"completed": 1}, timeout_s=3)
        worker.stop()
        await asyncio.wait_for(run, 5)
    finally:
        await app.close()


async def test_status_shows_a_silent_worker_as_lost(app: Enricher, db_path: DbTarget) -> None:
    from enricher.observe.report import collect

    worker = Worker(app, worker_id="gone")
    await worker.liveness.register()
    HostDb(db_path).execute(
        "UPDATE ai_workers SET last_heartbeat_at = '2000-01-01T00:00:00.000Z'"
        " WHERE worker_id = 'gone'"
    )
    await Worker(app, worker_id="alive").liveness.register()
    states = {w["worker_id"]: w["state"] for w in (await collect(app))["workers"]}
    assert states == {"gone": "lost", "alive": "running"}
