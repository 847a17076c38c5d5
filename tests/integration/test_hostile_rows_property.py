"""Property: whatever plain SQL writes into the queue, the backlog beside it completes.

Hypothesis writes job rows with any column set to a value of any SQLite storage
class (integers of any width, floats, text of any kind, text that is not UTF-8,
blobs), beside good jobs, then drains the queue with the real worker. Every good
job completes; every hostile row is refused by the schema or ends in a status that
names what happened; no worker exits, and every row stays readable by the commands.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enricher.app import Enricher
from enricher.clock import format_timestamp, utcnow
from enricher.worker.loop import Worker
from tests.conftest import make_settings
from tests.fakes import ScriptedProvider
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"
COLUMNS = [
    "job_id", "task_type", "target_entity_type", "target_entity_id", "status", "payload",
    "priority", "attempts", "max_attempts", "run_after", "locked_by", "locked_at",
    "last_attempted_at", "completed_at", "created_at", "updated_at", "error_message",
    "result", "provider", "model", "input_tokens", "output_tokens", "cost_usd",
    "cached_input_tokens", "cache_write_tokens",
]  # fmt: skip
#: Statuses a host might write; 'processing' would wait for the reaper's lock timeout.
STATUSES = ["pending", "retry_ai", "rate_limited", "completed", "failed_ai", "cancelled", "x"]
TERMINAL = {"completed", "failed_ai", "failed_payload_parsing", "failed_job_logic", "cancelled"}


class NotUtf8(bytes):
    """Bytes written as TEXT (``CAST(? AS TEXT)``): what a careless host can store."""


values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-5, max_value=5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "2020/01/01",
            "tomorrow",
            "0000-01-01T00:00:00.000Z",
            "2026-02-30T00:00:00.000Z",
            "2020-01-01 00:00:00",
            "2020-01-01T00:00:00+05:00",
            '{"max_input_tokens": 100}',
            '{"instructions": 5}',
            "[1, 2]",
            SUMMARY,
            "code_entity",
            "e0",
        ]
    ),
    st.binary(max_size=12),
    st.binary(min_size=1, max_size=8).map(lambda b: NotUtf8(b"\xff" + b)),
)
rows = st.lists(
    st.dictionaries(
        st.sampled_from(COLUMNS),
        values,
        max_size=4,
    ),
    min_size=1,
    max_size=4,
)


def insert(db: Path, row: dict[str, Any], index: int) -> bool:
    """Write one hostile row by plain SQL; False when the schema refused it."""
    base: dict[str, Any] = {
        "task_type": SUMMARY,
        "target_entity_type": "code_entity",
        "target_entity_id": f"hostile{index}",
    }
    if "status" in row and row["status"] not in STATUSES:
        row["status"] = "pending"  # any other status is refused by its CHECK anyway
    full = {**base, **row}
    marks = ", ".join("CAST(? AS TEXT)" if isinstance(v, NotUtf8) else "?" for v in full.values())
    sql = f"INSERT INTO background_ai_jobs ({', '.join(full)}) VALUES ({marks})"
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(sql, [bytes(v) if isinstance(v, NotUtf8) else v for v in full.values()])
        return True
    except (sqlite3.IntegrityError, OverflowError):
        return False
    finally:
        conn.close()


def final_rows(db: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    conn.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM background_ai_jobs")]
    finally:
        conn.close()


async def scenario(db: Path, hostile: list[dict[str, Any]]) -> None:
    provider = ScriptedProvider()
    app = await Enricher.open(make_settings(db), provider_factory=lambda _s: provider)
    try:
        for i in range(3):
            await add_code_entity(app, f"good{i}")
            await app.enqueue(SUMMARY, "code_entity", f"good{i}")
        for target in ("e0", *(f"hostile{i}" for i in range(len(hostile)))):
            await add_code_entity(app, target)
        accepted = [insert(db, dict(row), i) for i, row in enumerate(hostile)]
        await asyncio.wait_for(Worker(app, burst=True).run(), 60)
        now = format_timestamp(utcnow())
        for job in final_rows(db):
            if str(job["target_entity_id"]).startswith("good"):
                assert job["status"] == "completed", job
            elif job["run_after"] <= now:
                assert job["status"] in TERMINAL, job  # due rows were all dealt with
            assert job["status"] != "processing", job
            details = await app.job_details(str(job["job_id"]))
            assert details is None or details.job["status"] == job["status"]
        assert len(await app.list_jobs(limit=100)) == 3 + sum(accepted)
    finally:
        await app.close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(hostile=rows)
def test_hostile_rows_never_stop_the_backlog(hostile: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(scenario(Path(folder) / "enricher.db", hostile))
