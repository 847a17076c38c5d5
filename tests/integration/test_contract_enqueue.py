"""The enqueue API: validation, dedup, content-hash skip, and plain-SQL inserts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from enricher.app import Enricher
from enricher.errors import PayloadError, RequestError, UnknownTaskError
from enricher.queue.enqueue import EnqueueRequest
from enricher.worker.loop import Worker
from tests.backends import DbTarget
from tests.hostdb import HostDb
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def test_enqueue_creates_job_and_marks_entity_pending(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    await add_code_entity(app, "e1")
    result = await app.enqueue(
        SUMMARY, "code_entity", "e1", payload={"instructions": "brief"}, priority=5
    )
    assert result.outcome == "created" and result.job_id and UUID.match(result.job_id)
    job = host.job(result.job_id)
    assert (job["status"], job["priority"], job["attempts"], job["max_attempts"]) == (
        "pending",
        5,
        0,
        3,
    )
    assert job["payload"] == '{"instructions": "brief"}'
    assert host.entity("code_entity", "e1")["ai_status"] == "pending"


async def test_enqueue_again_returns_the_active_job(app: Enricher, db_path: DbTarget) -> None:
    await add_code_entity(app, "e1")
    first = await app.enqueue(SUMMARY, "code_entity", "e1")
    second = await app.enqueue(SUMMARY, "code_entity", "e1", force=True)
    assert second.outcome == "existing" and second.job_id == first.job_id
    assert HostDb(db_path).statuses() == {"pending": 1}


async def test_partial_unique_index_refuses_a_second_active_row(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    sql = (
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
        " VALUES (?, 'code_entity', 'e1')"
    )
    host.execute(sql, (SUMMARY,))
    with pytest.raises(host.IntegrityError):
        host.execute(sql, (SUMMARY,))
    host.execute("UPDATE background_ai_jobs SET status = 'completed'")
    host.execute(sql, (SUMMARY,))  # terminal jobs do not count
    assert host.statuses() == {"completed": 1, "pending": 1}


async def test_unchanged_content_is_skipped_unless_forced(app: Enricher, db_path: DbTarget) -> None:
    host = HostDb(db_path)
    await add_code_entity(app, "e1")
    await app.enqueue(SUMMARY, "code_entity", "e1")
    await Worker(app).run_once()
    assert host.entity("code_entity", "e1")["ai_status"] == "completed"

    skipped = await app.enqueue(SUMMARY, "code_entity", "e1")
    assert (skipped.outcome, skipped.job_id) == ("skipped", None)
    assert host.entity("code_entity", "e1")["ai_status"] == "skipped"
    assert host.statuses() == {"completed": 1}

    forced = await app.enqueue(SUMMARY, "code_entity", "e1", force=True)
    assert forced.outcome == "created"
    assert host.entity("code_entity", "e1")["ai_status"] == "pending"

    await Worker(app).run_once()
    await add_code_entity(app, "e1", content="def g():\n    return 2\n")  # content changed
    changed = await app.enqueue(SUMMARY, "code_entity", "e1")
    assert changed.outcome == "created"


async def test_unknown_task_or_target_type_is_refused_clearly(
    app: Enricher, db_path: DbTarget
) -> None:
    with pytest.raises(UnknownTaskError, match="unknown task type 'summarise'; known: "):
        await app.enqueue("summarise", "code_entity", "e1")
    with pytest.raises(UnknownTaskError, match="does not handle target type 'conversation'"):
        await app.enqueue(SUMMARY, "conversation", "c1")
    assert HostDb(db_path).statuses() == {}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ((SUMMARY, "code_entity", ""), "target_entity_id"),
        ((SUMMARY, "code_entity", "  "), "target_entity_id"),
        ((SUMMARY, "", "e1"), "target_entity_type"),
        ((SUMMARY, " \t", "e1"), "target_entity_type"),
        (("", "code_entity", "e1"), "task_type"),
        ((" ", "code_entity", "e1"), "task_type"),
    ],
)
async def test_empty_or_blank_names_are_a_request_error(
    app: Enricher, db_path: DbTarget, fields: tuple[str, str, str], field: str
) -> None:
    """The API promises its own errors: pydantic's ValidationError must not escape, and
    a whitespace id must not become a job that can never find its target."""
    with pytest.raises(RequestError, match=f"invalid enqueue request: {field}: "):
        await app.enqueue(*fields)
    assert HostDb(db_path).statuses() == {}


async def test_bad_payload_is_refused_at_enqueue(app: Enricher, db_path: DbTarget) -> None:
    with pytest.raises(PayloadError, match="not valid JSON"):
        await app.enqueue(SUMMARY, "code_entity", "e1", payload="{oops")
    with pytest.raises(PayloadError, match="max_input_tokens"):
        await app.enqueue(SUMMARY, "code_entity", "e1", payload={"max_input_tokens": 0})
    with pytest.raises(PayloadError, match="must be a JSON object"):
        await app.enqueue(SUMMARY, "code_entity", "e1", payload="[1, 2]")
    assert HostDb(db_path).statuses() == {}


async def test_enqueue_many_validates_all_before_writing_any(
    app: Enricher, db_path: DbTarget
) -> None:
    requests = [
        EnqueueRequest(task_type=SUMMARY, target_entity_type="code_entity", target_entity_id="a"),
        EnqueueRequest(task_type="nope", target_entity_type="code_entity", target_entity_id="b"),
    ]
    with pytest.raises(UnknownTaskError):
        await app.enqueue_many(requests)
    assert HostDb(db_path).statuses() == {}

    ok = [
        EnqueueRequest(task_type=SUMMARY, target_entity_type="code_entity", target_entity_id=str(i))
        for i in range(50)
    ]
    results = await app.enqueue_many(ok)
    assert [r.outcome for r in results] == ["created"] * 50
    assert HostDb(db_path).statuses() == {"pending": 50}


async def test_run_at_delays_the_job(app: Enricher, db_path: DbTarget) -> None:
    await add_code_entity(app, "e1")
    later = datetime.now(UTC) + timedelta(hours=1)
    await app.enqueue(SUMMARY, "code_entity", "e1", run_at=later)
    assert await Worker(app).run_once() == 0


async def test_priority_orders_the_claim(app: Enricher) -> None:
    for i, priority in enumerate([0, 10, 5]):
        await add_code_entity(app, f"e{i}")
        await app.enqueue(SUMMARY, "code_entity", f"e{i}", priority=priority)
    claimed = await Worker(app)._claim(3)
    assert [j.target_entity_id for j in claimed] == ["e1", "e2", "e0"]


async def test_plain_sql_insert_with_defaults_is_a_valid_job(
    app: Enricher, db_path: DbTarget
) -> None:
    host = HostDb(db_path)
    await add_code_entity(app, "e1")
    host.execute(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
        " VALUES (?, 'code_entity', 'e1')",
        (SUMMARY,),
    )
    job = host.query("SELECT * FROM background_ai_jobs")[0]
    assert UUID.match(job["job_id"])
    assert (job["status"], job["priority"], job["attempts"], job["max_attempts"]) == (
        "pending",
        0,
        0,
        None,
    )
    assert job["run_after"].endswith("Z") and job["created_at"]
    assert host.entity("code_entity", "e1")["ai_status"] == "pending"
    await Worker(app).run_once()
    job = host.job(job["job_id"])
    assert (job["status"], job["max_attempts"]) == ("completed", 3)
