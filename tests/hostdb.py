"""Reading and writing the database the way a host application does: plain SQL.

Tests check state through this independent path rather than through enricher's
own queries, so a wrong query cannot confirm itself. The same ``?``-placeholder
SQL runs on SQLite (sqlite3) and PostgreSQL (asyncpg on a helper loop); values
come back in one shape (timestamps as ISO-8601 ``…Z`` text, uuids as text).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from enricher.clock import format_timestamp, parse_timestamp
from tests.backends import DbTarget, is_postgres, run_sync

ENTITY_TABLES = {
    "code_entity": ("code_entities", "entity_id"),
    "project_document": ("project_documents", "document_id"),
    "conversation": ("conversations", "conversation_id"),
}
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until ``condition()`` holds; fail the test if it does not within the timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _pg_param(value: Any) -> Any:
    return parse_timestamp(value) if isinstance(value, str) and _ISO.match(value) else value


def _positional(sql: str) -> str:
    count = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


class HostDb:
    def __init__(self, target: DbTarget) -> None:
        self.target = target
        self.postgres = is_postgres(target)
        self.IntegrityError: type[Exception] = (
            asyncpg.IntegrityConstraintViolationError if self.postgres else sqlite3.IntegrityError
        )

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        if self.postgres:
            return run_sync(self._pg(sql, params, fetch=True))
        conn = sqlite3.connect(self.target, timeout=10)
        conn.row_factory = sqlite3.Row
        conn.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
        try:
            return [dict(row) for row in conn.execute(sql, params).fetchall()]
        finally:
            conn.close()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        if self.postgres:
            run_sync(self._pg(sql, params, fetch=False))
            return
        conn = sqlite3.connect(self.target, timeout=10)
        try:
            conn.execute(sql, params)
            conn.commit()
        finally:
            conn.close()

    async def _pg(self, sql: str, params: tuple[Any, ...], *, fetch: bool) -> list[dict[str, Any]]:
        conn = await asyncpg.connect(str(self.target))
        try:
            args = [_pg_param(p) for p in params]
            if not fetch:
                await conn.execute(_positional(sql), *args)
                return []
            rows = await conn.fetch(_positional(sql), *args)
            return [{k: _normal(v) for k, v in row.items()} for row in rows]
        finally:
            await conn.close()

    def job(self, job_id: str) -> dict[str, Any]:
        rows = self.query(
            "SELECT * FROM background_ai_jobs WHERE job_id = ?",
            (uuid.UUID(job_id) if self.postgres else job_id,),
        )
        assert rows, f"no job {job_id}"
        return rows[0]

    def entity(self, target_type: str, target_id: str) -> dict[str, Any]:
        table, key = ENTITY_TABLES[target_type]
        rows = self.query(f"SELECT * FROM {table} WHERE {key} = ?", (target_id,))
        assert rows, f"no {target_type} {target_id}"
        return rows[0]

    def statuses(self) -> dict[str, int]:
        rows = self.query("SELECT status, count(*) AS n FROM background_ai_jobs GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    def worker_statuses(self) -> dict[str, int]:
        """``ai_workers`` rows per status: a worker is ``running`` once it has
        registered, by which time its signal handlers are in place."""
        rows = self.query("SELECT status, count(*) AS n FROM ai_workers GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    def pauses(self) -> dict[str, dict[str, Any]]:
        return {row["scope"]: row for row in self.query("SELECT * FROM ai_pauses")}
