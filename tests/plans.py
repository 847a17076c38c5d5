"""What a named query's plan is, on the test's database: for tests that show an index
is used. Each backend is asked through its own driver, with the query exactly as the
connector sends it (SQLite's text, PostgreSQL's ``$n`` form)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from enricher.db.postgres import to_positional
from enricher.db.queries import load_queries
from enricher.db.timestamps import format_timestamp
from tests.backends import DbTarget, is_postgres, run_sync


def query_plan(
    db_path: DbTarget,
    query: str,
    params: Mapping[str, Any],
    *,
    pg_off: tuple[str, ...] = (),
    analyze: bool = False,
) -> str:
    """The plan of the named query for ``params``, one line per step.

    On PostgreSQL sequential scans are switched off first: a test table is tiny, and the
    question is what the planner *can* do with an index, not what is cheapest for ten rows.
    ``pg_off`` names more plan types to switch off (``sort``, ``bitmapscan``): with sorts
    off, a plan that still sorts has no index to read in order. ``analyze`` runs the
    query (PostgreSQL: ``EXPLAIN ANALYZE`` in a transaction rolled back): only then does
    PostgreSQL show the subqueries a recursive CTE's steps evaluate. SQLite's plan shows
    them anyway.
    """
    if not is_postgres(db_path):
        sql = load_queries("sqlite")[query]
        values = {
            k: format_timestamp(v) if isinstance(v, datetime) else v for k, v in params.items()
        }
        conn = sqlite3.connect(Path(str(db_path)))
        try:
            rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", values).fetchall()
        finally:
            conn.close()
        return "\n".join(str(row[-1]) for row in rows)
    positional, names = to_positional(load_queries("postgres")[query])

    async def explain() -> list[Any]:
        conn = await asyncpg.connect(str(db_path))
        try:
            for kind in ("seqscan", *pg_off):
                await conn.execute(f"SET enable_{kind} = off")
            explain = "EXPLAIN (ANALYZE)" if analyze else "EXPLAIN"
            tx = conn.transaction()
            await tx.start()
            try:
                values = [params[n] for n in names]
                return list(await conn.fetch(f"{explain} {positional}", *values))
            finally:
                await tx.rollback()  # what ANALYZE ran is never kept
        finally:
            await conn.close()

    return "\n".join(row[0] for row in run_sync(explain()))
