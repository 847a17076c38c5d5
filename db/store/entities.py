"""What ``enricher ingest`` writes: the built-in target tables, row by row.

Reads and the enrichment writes of any target table, built-in or a host's, are in
:mod:`.targets`; ingest only ever fills enricher's own tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from ..connector import Session

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
