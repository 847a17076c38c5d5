"""The built-in target tables (``code_entities``, ``project_documents``,
``conversations``) as enqueue, ``jobs show`` and ingest use them.

Custom target types have no queries here: they are never skipped by content hash,
``jobs show`` shows no row for them, and they keep ``ai_status`` with a trigger of
their own (see the README); so callers ask :data:`BUILTIN_TARGET_TYPES` first. What
the handlers read and write is in :mod:`.enrichment`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from ..connector import Row, Session


@dataclass(frozen=True)
class _Table:
    hashes: str
    mark_skipped: str
    row: str  # the whole entity row, for `enricher jobs show`


_TABLES: dict[str, _Table] = {
    "code_entity": _Table("code_entity_hashes", "mark_code_entity_skipped", "get_code_entity"),
    "project_document": _Table(
        "project_document_hashes", "mark_project_document_skipped", "get_project_document"
    ),
    "conversation": _Table("conversation_hashes", "mark_conversation_skipped", "get_conversation"),
}

#: The target types with a table of their own; any other type is a host's custom one.
BUILTIN_TARGET_TYPES: frozenset[str] = frozenset(_TABLES)


def _table(target_entity_type: str) -> _Table:
    try:
        return _TABLES[target_entity_type]
    except KeyError:
        raise ValueError(f"{target_entity_type!r} is not a built-in target type") from None


async def content_hashes(
    db: Session, *, target_entity_type: str, target_entity_id: str
) -> Row | None:
    """The target's ``content_hash`` and the ``ai_content_hash`` it was last enriched at."""
    return await db.fetchrow(
        _table(target_entity_type).hashes, {"target_entity_id": target_entity_id}
    )


async def mark_skipped(
    db: Session, *, target_entity_type: str, target_entity_id: str, now: datetime
) -> int:
    """``ai_status = 'skipped'``: the content did not change since its last enrichment."""
    return await db.execute(
        _table(target_entity_type).mark_skipped,
        {"target_entity_id": target_entity_id, "now": now},
    )


async def target_row(db: Session, *, target_entity_type: str, target_entity_id: str) -> Row | None:
    """The target's whole row, every column, for ``jobs show``."""
    return await db.fetchrow(_table(target_entity_type).row, {"target_entity_id": target_entity_id})


# ── ingest ───────────────────────────────────────────────────────────────


async def upsert_code_entity(
    db: Session,
    *,
    entity_id: str,
    file_path: str,
    entity_type: str,
    name: str,
    language: str | None,
    start_line: int,
    end_line: int,
    raw_content: str,
    content_hash: str,
    now: datetime,
) -> int:
    """Insert or update one code entity (its enrichment columns are left alone)."""
    return await db.execute(
        "upsert_code_entity",
        {
            "entity_id": entity_id,
            "file_path": file_path,
            "entity_type": entity_type,
            "name": name,
            "language": language,
            "start_line": start_line,
            "end_line": end_line,
            "raw_content": raw_content,
            "content_hash": content_hash,
            "now": now,
        },
    )


async def upsert_project_document(
    db: Session,
    *,
    document_id: str,
    file_path: str,
    file_type: str,
    title: str | None,
    raw_content: str,
    content_hash: str,
    now: datetime,
) -> int:
    """Insert or update one project document (its enrichment columns are left alone)."""
    return await db.execute(
        "upsert_project_document",
        {
            "document_id": document_id,
            "file_path": file_path,
            "file_type": file_type,
            "title": title,
            "raw_content": raw_content,
            "content_hash": content_hash,
            "now": now,
        },
    )


async def upsert_conversation(
    db: Session, *, conversation_id: str, title: str | None, content_hash: str, now: datetime
) -> int:
    """Insert or update one conversation; its messages go in :func:`upsert_messages`."""
    return await db.execute(
        "upsert_conversation",
        {
            "conversation_id": conversation_id,
            "title": title,
            "content_hash": content_hash,
            "now": now,
        },
    )


class Message(TypedDict):
    """One message of a conversation, as :func:`upsert_messages` stores it."""

    message_id: str
    role: str
    content: str
    created_at: datetime


async def upsert_messages(
    db: Session, *, conversation_id: str, messages: Sequence[Message]
) -> None:
    """Insert or update the conversation's messages (role and content), in one batch."""
    await db.executemany(
        "upsert_conversation_message",
        [
            {
                "message_id": m["message_id"],
                "conversation_id": conversation_id,
                "role": m["role"],
                "content": m["content"],
                "created_at": m["created_at"],
            }
            for m in messages
        ],
    )
