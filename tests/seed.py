"""Seeding target entities straight into the real schema, as a host application would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from enricher.app import Enricher
from enricher.clock import utcnow
from enricher.hashing import content_hash


async def add_code_entity(
    app: Enricher,
    entity_id: str,
    content: str = "def f():\n    return 1\n",
    name: str | None = None,
) -> None:
    await app.db.execute(
        "upsert_code_entity",
        {
            "entity_id": entity_id,
            "file_path": f"{entity_id}.py",
            "entity_type": "function",
            "name": name or entity_id,
            "language": "python",
            "start_line": 1,
            "end_line": 2,
            "raw_content": content,
            "content_hash": content_hash(content),
            "now": utcnow(),
        },
    )


async def add_document(
    app: Enricher, document_id: str, content: str = "# Title\n\nSome prose.\n"
) -> None:
    await app.db.execute(
        "upsert_project_document",
        {
            "document_id": document_id,
            "file_path": f"{document_id}.md",
            "file_type": "md",
            "title": document_id,
            "raw_content": content,
            "content_hash": content_hash(content),
            "now": utcnow(),
        },
    )


async def add_conversation(
    app: Enricher, conversation_id: str, messages: list[tuple[str, str]]
) -> None:
    now = utcnow()
    await app.db.execute(
        "upsert_conversation",
        {
            "conversation_id": conversation_id,
            "title": conversation_id,
            "content_hash": None,
            "now": now,
        },
    )
    for index, (role, content) in enumerate(messages, start=1):
        await app.db.execute(
            "upsert_conversation_message",
            {
                "message_id": f"{conversation_id}:{index:04d}",
                "conversation_id": conversation_id,
                "role": role,
                "content": content,
                "created_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=index),
            },
        )
