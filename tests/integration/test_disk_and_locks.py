"""A full disk and a long-held lock: the worker waits them out and loses nothing.

SQLite answers SQLITE_FULL on demand once ``PRAGMA max_page_count`` caps the file at
its current size, so a full disk needs no real disk. The cap is set on the worker's
own connection (the pragma is per connection), mid-drain.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from enricher.app import Enricher
from enricher.config import DatabaseSettings
from enricher.db.migrate import migrate
from enricher.db.sqlite import SqliteConnector
from enricher.worker.loop import Worker
from tests.backends import DbTarget, is_postgres
from tests.conftest import make_settings
from tests.fakes import ScriptedProvider
from tests.hostdb import HostDb, eventually
from tests.seed import add_code_entity

SUMMARY = "enrich_entity_summary_keywords"
CONTENT = "def handler(event):\n    '''Route one event to its queue.'''\n" * 40


def sqlite_only(db_path: DbTarget) -> None:
    if is_postgres(db_path):
        pytest.skip("SQLite's own failure modes")


async def pragma(app: Enricher, sql: str) -> int:
    db = app.db
    assert isinstance(db, SqliteConnector) and db._conn is not None
    rows = list(await db._conn.execute_fetchall(sql))
    return int(rows[0]["page_count"]) if rows and "page_count" in rows[0] else 0


@pytest.mark.timeout(90)
async def test_a_full_disk_stops_no_worker_and_loses_no_verdict(db_path: DbTarget) -> None:
    sqlite_only(db_path)
    provider = ScriptedProvider(latency_s=0.02)
    app = await Enricher.open(
        make_settings(db_path, concurrency=4), provider_factory=lambda _s: provider
    )
    try:
        for i in range(40):
            await add_code_entity(app, f"e{i:02d}", content=CONTENT + str(i))
            await app.enqueue(SUMMARY, "code_entity", f"e{i:02d}")
        worker = Worker(app)
        running = asyncio.create_task(worker.run())
        host = HostDb(db_path)
        await eventually(lambda: host.statuses().get("completed", 0) >= 5, 20)
        full = await pragma(app, "PRAGMA page_count")
        await pragma(app, f"PRAGMA max_page_count = {full}")
        await eventually(lambda: worker.recorder.stalled, 20)  # a write met SQLITE_FULL
        calls_while_full = sum(provider.calls.values())
        await asyncio.sleep(1.5)
        assert not running.done(), "the worker must not exit on a full disk"
        # While verdicts cannot be stored, no more work is paid for (at most the jobs
        # already in flight finish their calls).
        assert sum(provider.calls.values()) <= calls_while_full + worker.concurrency
        await pragma(app, "PRAGMA max_page_count = 1073741823")
        await eventually(lambda: host.statuses() == {"completed": 40}, 40)
        worker.stop()
        stats = await asyncio.wait_for(running, 20)
    finally:
        await app.close()
    assert stats.discarded == 0
    assert set(provider.calls.values()) == {1}, "a verdict was lost and its target paid twice"
    workers = host.query("SELECT status FROM ai_workers")
    assert [w["status"] for w in workers] == ["stopped"]


@pytest.mark.timeout(60)
async def test_a_worker_starts_while_another_process_holds_the_write_lock(
    db_path: DbTarget, provider: ScriptedProvider
) -> None:
    """The lock outlasts ``busy_timeout_ms`` many times over: registering waits, as a
    claim does, instead of crashing with "database is locked"."""
    sqlite_only(db_path)
    settings = make_settings(db_path)
    settings = settings.model_copy(
        update={"database": DatabaseSettings(url=settings.database.url, busy_timeout_ms=50)}
    )
    app = await Enricher.open(settings, provider_factory=lambda _s: provider)
    try:
        for i in range(3):
            await add_code_entity(app, f"e{i}")
            await app.enqueue(SUMMARY, "code_entity", f"e{i}")
        holder = sqlite3.connect(db_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        began = time.monotonic()
        running = asyncio.create_task(Worker(app, burst=True).run())
        await asyncio.sleep(1.0)
        assert not running.done(), "the worker gave up on a locked database"
        holder.execute("ROLLBACK")
        holder.close()
        stats = await asyncio.wait_for(running, 30)
    finally:
        await app.close()
    assert time.monotonic() - began >= 1.0
    assert stats.verdicts == {"completed": 3}


async def temp_store(db: SqliteConnector) -> int:
    """0 default, 1 file, 2 memory: where this connection keeps temporary tables and sorts."""
    assert db._conn is not None
    rows = list(await db._conn.execute_fetchall("PRAGMA temp_store"))
    return int(rows[0]["temp_store"])


async def test_claims_sort_in_memory_and_a_migration_on_disk(tmp_path: Path) -> None:
    # The fair claim's CTE tables cost a pager set-up each with file-backed temp
    # storage (three times the plain claim's time); a migration's CREATE INDEX sorts a
    # whole table, which must not be held in RAM. SQLite refuses to switch while a
    # transaction is open once temp storage is in use, so the switch is made between.
    db = SqliteConnector(f"sqlite:///{tmp_path / 'temp.db'}")
    await db.open()
    try:
        assert await temp_store(db) == 2
        async with db.transaction() as tx:  # temp storage in use from here on
            await tx.run_script(
                "CREATE TEMP TABLE scratch (n INTEGER);\n"
                "INSERT INTO scratch SELECT value FROM json_each('[3, 1, 2]');\n"
            )
        async with db.transaction(ddl=True):
            assert await temp_store(db) == 1
        assert await temp_store(db) == 2
        with pytest.raises(RuntimeError):
            async with db.transaction(ddl=True):
                raise RuntimeError("a failed migration")
        assert await temp_store(db) == 2
        await migrate(db)
        assert await temp_store(db) == 2
    finally:
        await db.close()
