"""``error_history``: every error a job met, newest 20, kept on every path that stores one."""

from __future__ import annotations

import json
import uuid
from typing import Any

from enricher.app import Enricher
from enricher.providers.base import GenerationRequest
from enricher.providers.errors import RetryableProviderError
from enricher.tasks.schemas import SummaryKeywords
from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.conftest import AppFactory
from tests.fakes import ScriptedProvider
from tests.hostdb import HostDb
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"
PAST = "2000-01-01T00:00:00.000Z"


def history(host: HostDb, job_id: str) -> list[dict[str, Any]]:
    raw = host.job(job_id)["error_history"]
    return [] if raw is None else list(json.loads(raw) if isinstance(raw, str) else raw)


async def enqueue_code(app: Enricher, entity_id: str = "e1", **kwargs: Any) -> str:
    await add_code_entity(app, entity_id)
    result = await app.enqueue(SUMMARY, "code_entity", entity_id, **kwargs)
    assert result.job_id is not None
    return result.job_id


async def test_each_failed_attempt_is_kept_in_order(
    open_app: AppFactory, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    host = HostDb(db_path)
    failures = iter(["503 first", "502 second", "500 third"])

    def flaky(request: GenerationRequest) -> SummaryKeywords:
        raise RetryableProviderError(next(failures))

    provider.script = flaky
    app = await open_app()
    try:
        job_id = await enqueue_code(app, max_attempts=3)
        for _ in range(3):
            host.execute("UPDATE background_ai_jobs SET run_after = ?", (PAST,))
            assert await Worker(app).run_once() == 1
    finally:
        await app.close()
    entries = history(host, job_id)
    assert [(e["attempt"], e["status"]) for e in entries] == [
        (1, "retry_ai"),
        (2, "retry_ai"),
        (3, "failed_ai"),
    ]
    assert ["first" in entries[0]["error"], "second" in entries[1]["error"]] == [True, True]
    assert entries[-1]["error"] == host.job(job_id)["error_message"]
    assert all(e["at"] for e in entries)


async def test_success_and_heartbeats_add_nothing(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    job_id = await enqueue_code(app)
    await Worker(app).run_once()
    assert host.job(job_id)["status"] == "completed"
    assert history(host, job_id) == []


async def test_cancel_and_plain_sql_errors_are_kept_too(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    job_id = await enqueue_code(app)
    assert await app.cancel(job_id)
    assert [(e["status"], e["error"]) for e in history(host, job_id)] == [
        ("cancelled", "cancelled by a user")
    ]


async def test_only_the_newest_twenty_are_kept(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    job_id = await enqueue_code(app)
    for n in range(25):
        host.execute(
            "UPDATE background_ai_jobs SET status = 'retry_ai', error_message = ?,"
            " attempts = ? WHERE job_id = ?",
            (f"error {n}", n, uuid.UUID(job_id) if host.postgres else job_id),
        )
    entries = history(host, job_id)
    assert len(entries) == 20
    assert [e["error"] for e in entries] == [f"error {n}" for n in range(5, 25)]
