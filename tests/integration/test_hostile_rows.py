"""What a host's plain SQL can write into the queue, and how the queue survives it.

Each test writes rows the way a host application would (``HostDb``, plain SQL), then
runs the real worker: a bad row ends in a named failure status with a message naming
the column, or the schema refuses it; the good jobs beside it always complete.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from pydantic import BaseModel

from enricher.app import Enricher
from enricher.errors import EnricherError, RequestError
from enricher.providers.base import Generation, GenerationRequest, Usage
from enricher.worker.loop import Worker
from tests.backends import DbTarget, is_postgres
from tests.conftest import make_settings
from tests.fakes import ScriptedProvider
from tests.hostdb import HostDb
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"
INSERT = (
    "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id{cols}) "
    "VALUES ('enrich_entity_summary_keywords', 'code_entity', ?{marks})"
)


def insert_job(host: HostDb, target_id: str, **columns: Any) -> None:
    """A job row as plain SQL writes it: the three required columns and ``columns``."""
    cols = "".join(f", {name}" for name in columns)
    marks = ", ?" * len(columns)
    host.execute(INSERT.format(cols=cols, marks=marks), (target_id, *columns.values()))


async def seed_good(app: Enricher, count: int) -> None:
    for i in range(count):
        await add_code_entity(app, f"good{i}")
        await app.enqueue(SUMMARY, "code_entity", f"good{i}")


async def drain(app: Enricher) -> None:
    await asyncio.wait_for(Worker(app, burst=True).run(), 30)


def by_target(host: HostDb) -> dict[str, dict[str, Any]]:
    return {r["target_entity_id"]: r for r in host.query("SELECT * FROM background_ai_jobs")}


def sqlite_only(db_path: DbTarget) -> None:
    if is_postgres(db_path):
        pytest.skip("PostgreSQL's column types refuse these values by themselves")


# ── refused at the write ─────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("priority", "high"),
        ("priority", 2**40),
        ("attempts", "x"),
        ("max_attempts", "x"),
        ("run_after", "2020/01/01"),
        ("run_after", 1700000000),
        ("run_after", "tomorrow"),
        ("locked_at", "soon"),
        ("payload", b"\x00\x01"),
        ("cost_usd", "free"),
        ("cached_input_tokens", "many"),
        ("cached_input_tokens", -1),
        ("cache_write_tokens", 1.5),
    ],
)
async def test_sqlite_refuses_a_wrongly_typed_job_row(
    app: Enricher, db_path: DbTarget, column: str, value: object
) -> None:
    sqlite_only(db_path)
    host = HostDb(db_path)
    with pytest.raises(sqlite3.IntegrityError, match=f"background_ai_jobs.{column} must be"):
        insert_job(host, "m23", **{column: value})
    await seed_good(app, 1)
    with pytest.raises(sqlite3.IntegrityError, match=f"background_ai_jobs.{column} must be"):
        host.execute(f"UPDATE background_ai_jobs SET {column} = ?", (value,))
    await drain(app)
    assert {r["status"] for r in by_target(host).values()} == {"completed"}


async def test_sqlite_normalises_timestamps_so_text_order_is_time_order(
    app: Enricher, db_path: DbTarget
) -> None:
    """SQLite's own ``datetime('now', '+6 hours')`` has a space where the claim's text
    comparison expects a 'T': stored as written, it sorted before "now" and ran at once."""
    sqlite_only(db_path)
    host = HostDb(db_path)
    await seed_good(app, 2)
    host.execute(
        "UPDATE background_ai_jobs SET run_after = datetime('now', '+6 hours') "
        "WHERE target_entity_id = 'good0'"
    )
    insert_job(host, "offset", run_after="2020-01-01T02:00:00+02:00")
    rows = by_target(host)
    assert rows["good0"]["run_after"].endswith("Z") and "T" in rows["good0"]["run_after"]
    assert rows["offset"]["run_after"] == "2020-01-01T00:00:00.000Z"
    await drain(app)
    rows = by_target(host)
    assert rows["good0"]["status"] == "pending"  # six hours from now: not due
    assert rows["good1"]["status"] == "completed"
    assert rows["offset"]["status"] == "failed_job_logic"  # no such entity, but it ran


# ── read by the worker: the row fails alone ──────────────────────────────────────


async def test_a_row_the_worker_cannot_read_fails_alone(app: Enricher, db_path: DbTarget) -> None:
    """Year 0 and 30 February pass SQLite's checks but no datetime can hold them: the
    claim has committed, so the job must end with a message, and the worker go on."""
    sqlite_only(db_path)
    host = HostDb(db_path)
    await seed_good(app, 3)
    insert_job(host, "year0", run_after="0000-01-01T00:00:00.000Z", priority=9)
    insert_job(host, "feb30", run_after="2026-02-30T00:00:00.000Z", priority=9)
    stats = await asyncio.wait_for(Worker(app, burst=True).run(), 30)
    rows = by_target(host)
    for bad in ("year0", "feb30"):
        assert rows[bad]["status"] == "failed_job_logic"
        assert "invalid job row: run_after = " in rows[bad]["error_message"]
    assert {rows[f"good{i}"]["status"] for i in range(3)} == {"completed"}
    assert stats.verdicts == {"completed": 3, "failed_job_logic": 2}


async def test_rows_written_before_the_checks_are_repaired_at_upgrade(
    app: Enricher, db_path: DbTarget
) -> None:
    """A database from before the checks may already hold such rows: the upgrade fails
    the active ones with the reason, and every worker can claim again."""
    sqlite_only(db_path)
    host = HostDb(db_path)
    await seed_good(app, 2)
    await app.close()
    for trigger in ("insert", "update"):
        host.execute(f"DROP TRIGGER background_ai_jobs_checked_on_{trigger}")
    host.execute("DELETE FROM schema_version WHERE version = 4")
    insert_job(host, "m23", priority="high")
    insert_job(host, "att", attempts="x")
    insert_job(host, "later", run_after="2999-01-01 00:00:00")
    reopened = await Enricher.open(make_settings(db_path), provider_factory=app.providers._factory)
    try:
        rows = by_target(host)
        assert rows["m23"]["status"] == "failed_job_logic"
        assert rows["m23"]["error_message"].endswith("priority = 'high'")
        assert rows["att"]["error_message"].endswith("attempts = 'x'")
        assert rows["later"]["run_after"] == "2999-01-01T00:00:00.000Z"
        await drain(reopened)
        rows = by_target(host)
        assert [rows[f"good{i}"]["status"] for i in range(2)] == ["completed"] * 2
        assert rows["later"]["status"] == "pending"
    finally:
        await reopened.close()


async def test_a_task_type_with_quotes_does_not_break_the_claim(
    app: Enricher, db_path: DbTarget
) -> None:
    """The claim looks task types up in JSON maps: a quote or ``$`` in one once made the
    JSON path invalid, and every claim failed."""
    host = HostDb(db_path)
    await seed_good(app, 2)
    for task in ('we"ird', "$", "a.b[0]"):
        host.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id) "
            "VALUES (?, 'code_entity', ?)",
            (task, f"t{task}"),
        )
    await drain(app)
    statuses = {r["task_type"]: r["status"] for r in by_target(host).values()}
    assert statuses == {
        SUMMARY: "completed",
        'we"ird': "failed_job_logic",
        "$": "failed_job_logic",
        "a.b[0]": "failed_job_logic",
    }


# ── text that is not UTF-8 ───────────────────────────────────────────────────────


async def test_a_payload_that_is_not_utf8_fails_that_job_and_stays_manageable(
    app: Enricher, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    sqlite_only(db_path)
    host = HostDb(db_path)
    await seed_good(app, 2)
    await add_code_entity(app, "bad")
    await add_code_entity(app, "bad2")
    for target in ("bad", "bad2"):
        host.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id, "
            "payload) VALUES (?, 'code_entity', ?, CAST(x'7b2261223a22ff227d' AS TEXT))",
            (SUMMARY, target),
        )
    second = by_target(host)["bad2"]["job_id"]
    assert await app.cancel(second)  # cancellable while pending
    await drain(app)
    rows = by_target(host)
    assert rows["bad"]["status"] == "failed_payload_parsing"
    assert "payload is not valid UTF-8 (byte ff at offset 6)" in rows["bad"]["error_message"]
    assert rows["bad2"]["status"] == "cancelled"
    assert [rows[f"good{i}"]["status"] for i in range(2)] == ["completed"] * 2
    assert host.entity("code_entity", "bad")["ai_status"] == "failed_payload_parsing"
    listed = await app.list_jobs()
    assert len(listed) == 4
    details = await app.job_details(rows["bad"]["job_id"])
    assert details is not None and "\ufffd" in str(details.job["payload"])
    assert provider.calls["bad"] == 0


async def test_content_that_is_not_utf8_fails_at_once_without_a_call(
    app: Enricher, db_path: DbTarget, provider: ScriptedProvider
) -> None:
    """Retrying cannot repair bytes: one attempt, no provider call, a message naming them."""
    sqlite_only(db_path)
    host = HostDb(db_path)
    await add_code_entity(app, "latin1")
    host.execute(
        "UPDATE code_entities SET raw_content = CAST(x'6361666509' || x'e9' AS TEXT) "
        "WHERE entity_id = 'latin1'"
    )
    await app.enqueue(SUMMARY, "code_entity", "latin1")
    await drain(app)
    job = by_target(host)["latin1"]
    assert (job["status"], job["attempts"]) == ("failed_job_logic", 1)
    assert "raw_content is not valid UTF-8 (byte e9 at offset 5)" in job["error_message"]
    assert provider.calls["latin1"] == 0


# ── what the model or the database says ─────────────────────────────────────────


class LooseOutput(BaseModel):
    """An answer shaped like the task's output but not validated as it yet."""

    summary: str
    keywords: list[str]


async def test_nul_in_model_text_is_stripped_and_the_result_stored(
    db_path: DbTarget,
) -> None:
    """PostgreSQL cannot store NUL: the write failed for good, the job sat in
    ``processing`` until its lock timed out, and was paid for three times."""

    def answer(request: GenerationRequest) -> Generation:
        return Generation(
            output=LooseOutput(summary="Parses\x00 invoices.", keywords=["pdf\x00", "b", "c"]),
            provider="scripted",
            model="scripted-1",
            usage=Usage(10, 5),
        )

    provider = ScriptedProvider(answer)
    app = await Enricher.open(make_settings(db_path), provider_factory=lambda _s: provider)
    try:
        await add_code_entity(app, "nul")
        await app.enqueue(SUMMARY, "code_entity", "nul")
        await drain(app)
    finally:
        await app.close()
    host = HostDb(db_path)
    assert by_target(host)["nul"]["status"] == "completed"
    entity = host.entity("code_entity", "nul")
    assert entity["summary"] == "Parses invoices."
    assert provider.calls["nul"] == 1


async def test_a_result_the_database_refuses_fails_at_once(db_path: DbTarget) -> None:
    """A permanent write error is not a lost connection: the job fails now, with the
    database's reason, instead of being reclaimed and paid for again."""
    from enricher.registry import build_registry
    from enricher.tasks.summary import CodeEntitySummaryHandler
    from enricher.tasks.writes import replace_keywords

    class Unstorable(CodeEntitySummaryHandler):
        def writes(self, target: Any, output: Any) -> Any:
            (keyword,) = replace_keywords("code_entity", target.entity_id, ["x"], "keyword")[1:]
            refused = type(keyword)(keyword.query, {**dict(keyword.params), "keyword": None})
            return (*super().writes(target, output), refused)

    registry = build_registry([])
    registry.register(Unstorable(), replace=True)
    provider = ScriptedProvider()
    app = await Enricher.open(
        make_settings(db_path), registry=registry, provider_factory=lambda _s: provider
    )
    try:
        await seed_good(app, 1)
        stats = await asyncio.wait_for(Worker(app, burst=True).run(), 30)
    finally:
        await app.close()
    job = by_target(HostDb(db_path))["good0"]
    assert (job["status"], job["attempts"]) == ("failed_ai", 1)
    assert "the database refused to store the job's result" in job["error_message"]
    assert stats.verdicts == {"failed_ai": 1}
    assert provider.calls["good0"] == 1


# ── numbers out of range ─────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "fields",
    [{"priority": 10**20}, {"priority": 3_000_000_000}, {"max_attempts": 2**31}],
)
async def test_enqueue_out_of_range_is_a_request_error(
    app: Enricher, fields: dict[str, int]
) -> None:
    await add_code_entity(app, "e1")
    with pytest.raises(RequestError, match=f"invalid enqueue request: {next(iter(fields))}"):
        await app.enqueue(SUMMARY, "code_entity", "e1", **fields)  # type: ignore[arg-type]
    with pytest.raises(EnricherError):
        await app.list_jobs(limit=10**20)
    assert await app.list_jobs() == []
