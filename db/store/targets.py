"""Target tables, built-in or a host's: the catalog, ownership, triggers, and reads and writes.

The per-target queries are not in the query files: :mod:`enricher.db.targets` renders
them for each configured target and registers them on the connector as
``target.<type>.<operation>``; the functions here name them through
:meth:`TargetTable.query`, so they stay the only code that names a query.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from ..connector import Row, Session, Statement
from ..targets import (
    SAVE_ROLES,
    STATE_ROLES,
    ColumnTypes,
    KeyKind,
    TableName,
    TargetTable,
    accepts_key,
)

# ── catalog ──────────────────────────────────────────────────────────────


async def table_columns(db: Session, *, table: TableName) -> list[Row]:
    """``(name, type, category)`` of each column of ``table``; empty when there is no table."""
    return await db.fetch("table_columns", {"table_name": table.name, "schema_name": table.schema})


async def lock(db: Session) -> None:
    """Serialise provisioning between processes, for the transaction."""
    await db.fetchrow("lock_targets")


async def owned_tables(db: Session) -> dict[str, str]:
    """``{table_name: target_entity_type}`` of the tables enricher created itself."""
    rows = await db.fetch("owned_tables")
    return {row["table_name"]: row["target_entity_type"] for row in rows}


async def own_table(
    db: Session, *, table_name: str, target_entity_type: str, now: datetime
) -> None:
    """Record that enricher created ``table_name``: from now on it may use it as its own."""
    await db.execute(
        "own_table",
        {"table_name": table_name, "target_entity_type": target_entity_type, "now": now},
    )


async def trigger_definitions(db: Session) -> dict[str, str]:
    """``{target_entity_type: script}`` of the status triggers recorded as in place."""
    rows = await db.fetch("target_trigger_definitions")
    return {row["target_entity_type"]: row["definition"] for row in rows}


async def status_triggers(db: Session) -> list[str]:
    """The names of the status-mirror triggers the catalog holds."""
    return [row["name"] for row in await db.fetch("status_triggers")]


async def record_triggers(db: Session, *, definitions: dict[str, str], now: datetime) -> None:
    """Replace the record of the status triggers in place."""
    await db.execute("forget_target_triggers")
    await db.executemany(
        "record_target_trigger",
        [
            {"target_entity_type": target, "definition": script, "now": now}
            for target, script in sorted(definitions.items())
        ],
    )


# ── one target ───────────────────────────────────────────────────────────


def _value(kind: KeyKind, text: str) -> str | int:
    """A key as the driver binds it: PostgreSQL's driver wants an int for an integer."""
    return int(text) if kind == "integer" else text


def _key(
    target: TargetTable, types: ColumnTypes, target_entity_id: str
) -> dict[str, object] | None:
    """The key parameter, or None when the id cannot be one of this table's keys."""
    if not accepts_key(types.key, target_entity_id):
        return None
    return {"target_entity_id": _value(types.key, target_entity_id)}


async def load(
    db: Session, target: TargetTable, types: ColumnTypes, *, target_entity_id: str
) -> Row | None:
    """``id``, ``raw_content``, ``title``, ``file_path``, ``language``, ``content_hash``."""
    key = _key(target, types, target_entity_id)
    return None if key is None else await db.fetchrow(target.query("load"), key)


async def row(
    db: Session, target: TargetTable, types: ColumnTypes, *, target_entity_id: str
) -> Row | None:
    """The target's whole row, every column, for ``jobs show``."""
    key = _key(target, types, target_entity_id)
    return None if key is None else await db.fetchrow(target.query("row"), key)


async def content_hashes(
    db: Session, target: TargetTable, types: ColumnTypes, *, target_entity_id: str
) -> Row | None:
    """``content_hash`` and ``ai_content_hash``, or None (no row, or no hash columns)."""
    key = _key(target, types, target_entity_id)
    if key is None or not target.has_hash_skip:
        return None
    return await db.fetchrow(target.query("hashes"), key)


async def mark_skipped(
    db: Session, target: TargetTable, types: ColumnTypes, *, target_entity_id: str
) -> None:
    """``ai_status = 'skipped'``, where the target mirrors its status."""
    key = _key(target, types, target_entity_id)
    if key is not None and target.has("ai_status"):
        await db.execute(target.query("mark_skipped"), key)


async def status_counts(db: Session, target: TargetTable) -> list[Row]:
    """``(ai_status, entities)``: how many of the target's rows are in each status."""
    if not target.has("ai_status"):
        return []
    return await db.fetch(target.query("status_counts"))


async def messages(
    db: Session, target: TargetTable, types: ColumnTypes, *, target_entity_id: str
) -> list[Row]:
    """A conversation's messages in order: ``message_id``, ``role``, ``content``."""
    kind = types.message_conversation
    if not accepts_key(kind, target_entity_id):
        return []
    return await db.fetch(
        target.query("messages"), {"target_entity_id": _value(kind, target_entity_id)}
    )


def save(
    target: TargetTable,
    types: ColumnTypes,
    *,
    target_entity_id: str,
    content_hash: str | None,
    now: datetime,
    summary: str | None = None,
    keywords: Sequence[str] | None = None,
) -> Statement | None:
    """The write of a success onto the target's own row (None if it maps no such column).

    Without a summary (topics), only the hash and time of the success are written:
    a summary another task wrote stays.
    """
    roles = SAVE_ROLES if summary is not None else STATE_ROLES
    if not any(target.has(role) for role in roles):
        return None
    return Statement(
        target.query("save" if summary is not None else "save_state"),
        {
            "target_entity_id": _value(types.key, target_entity_id),
            "summary": summary,
            "keywords": json.dumps(list(keywords or ()), ensure_ascii=False),
            "content_hash": content_hash,
            "now": now,
        },
    )


async def sweep_page(
    db: Session,
    target: TargetTable,
    types: ColumnTypes,
    *,
    task_type: str,
    after: str | None,
    limit: int,
) -> list[tuple[str, str | None]]:
    """Up to ``limit`` keys after ``after`` whose content changed since its last success,
    each with its row's job group (None where the mapping names no group column)."""
    rows = await db.fetch(
        target.query("sweep"),
        {
            "after": None if after is None else _value(types.key, after),
            "after_is_null": after is None,
            "task_type": task_type,
            "limit": limit,
        },
    )
    return [(row["id"], row["job_group"]) for row in rows]
