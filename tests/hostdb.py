"""Reading and writing the database the way a host application does: plain SQL.

Tests check state through this independent path rather than through enricher's
own queries, so a wrong query cannot confirm itself.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until ``condition()`` holds; fail the test if it does not within the timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


ENTITY_TABLES = {
    "code_entity": ("code_entities", "entity_id"),
    "project_document": ("project_documents", "document_id"),
    "conversation": ("conversations", "conversation_id"),
}


class HostDb:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._connect() as conn:
            return [dict(row) for row in conn.execute(sql, params).fetchall()]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        conn = self._connect()
        try:
            conn.execute(sql, params)
            conn.commit()
        finally:
            conn.close()

    def job(self, job_id: str) -> dict[str, Any]:
        rows = self.query("SELECT * FROM background_ai_jobs WHERE job_id = ?", (job_id,))
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

    def pauses(self) -> dict[str, dict[str, Any]]:
        return {row["scope"]: row for row in self.query("SELECT * FROM ai_pauses")}
