"""The newest-first jobs list (``jobs list``, the dashboard's jobs page) reads one page
from an index in order: it never sorts the whole table."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import asyncpg

from enricher.app import Enricher
from enricher.db.queries import load_queries
from tests.backends import DbTarget, is_postgres, run_sync

PARAMS = {
    "statuses": None,
    "task_type": None,
    "target_entity_type": None,
    "error_text": None,
    "limit": 50,
    "offset": 0,
}


def _plan(db_path: DbTarget, dialect: str) -> str:
    sql = load_queries(dialect)["list_jobs"]
    if not is_postgres(db_path):
        conn = sqlite3.connect(Path(str(db_path)))
        try:
            rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", PARAMS).fetchall()
        finally:
            conn.close()
        return "\n".join(str(row[-1]) for row in rows)

    async def explain() -> list[Any]:
        conn = await asyncpg.connect(str(db_path))
        try:
            await conn.execute("SET enable_seqscan = off")  # a tiny table: ask what it can do
            names = list(PARAMS)
            positional = sql
            for name in sorted(names, key=len, reverse=True):  # no name is cut by another
                positional = positional.replace(f":{name}", f"${names.index(name) + 1}")
            return list(await conn.fetch(f"EXPLAIN {positional}", *PARAMS.values()))
        finally:
            await conn.close()

    return "\n".join(row[0] for row in run_sync(explain()))


async def test_the_newest_page_reads_the_created_index(app: Enricher, db_path: DbTarget) -> None:
    plan = _plan(db_path, app.db.dialect)
    assert "background_ai_jobs_created" in plan, plan
    if is_postgres(db_path):
        assert "Sort" not in plan, plan
    else:
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
