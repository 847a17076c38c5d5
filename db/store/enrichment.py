"""What the built-in handlers read, and the writes they return.

A handler loads its target here, and returns its writes as :class:`Statement` s
built here: the worker runs them inside the job's fence, in the transaction that
completes the job, so a reclaimed job's late result writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from ..connector import Row, Session, Statement

#: The text targets the summary handler serves: (load query, save query).
_TEXT_TARGETS: dict[str, tuple[str, str]] = {
    "code_entity": ("load_code_entity", "save_code_entity_enrichment"),
    "project_document": ("load_project_document", "save_project_document_enrichment"),
}


def _text_target(target_entity_type: str) -> tuple[str, str]:
    try:
        return _TEXT_TARGETS[target_entity_type]
    except KeyError:
        raise ValueError(f"{target_entity_type!r} is not a built-in text target") from None


async def load_text_target(
    db: Session, *, target_entity_type: str, target_entity_id: str
) -> Row | None:
    """A code entity or project document to summarise (``id``, content, names), or None."""
    load, _ = _text_target(target_entity_type)
    return await db.fetchrow(load, {"target_entity_id": target_entity_id})


async def load_conversation(db: Session, *, target_entity_id: str) -> Row | None:
    """A conversation to split into topics (``id``, ``title``, ``content_hash``), or None."""
    return await db.fetchrow("load_conversation", {"target_entity_id": target_entity_id})


async def conversation_messages(db: Session, *, target_entity_id: str) -> list[Row]:
    """The conversation's messages in order (``created_at``, then ``message_id``)."""
    return await db.fetch("load_conversation_messages", {"target_entity_id": target_entity_id})


def summary_write(
    *,
    target_entity_type: str,
    target_entity_id: str,
    summary: str,
    keywords: Sequence[str],
    content_hash: str | None,
    now: datetime,
) -> Statement:
    """Store a text target's summary and keywords (JSON), and the hash they were made at."""
    _, save = _text_target(target_entity_type)
    return Statement(
        save,
        {
            "target_entity_id": target_entity_id,
            "summary": summary,
            "keywords": json.dumps(list(keywords), ensure_ascii=False),
            "content_hash": content_hash,
            "now": now,
        },
    )


def conversation_write(*, target_entity_id: str, content_hash: str, now: datetime) -> Statement:
    """Store the hash of the messages a conversation's topics were made from."""
    return Statement(
        "save_conversation_enrichment",
        {"target_entity_id": target_entity_id, "content_hash": content_hash, "now": now},
    )


def clear_topics_write(*, target_entity_id: str) -> Statement:
    """Delete the conversation's earlier topics: a new run replaces them."""
    return Statement("delete_conversation_topics", {"target_entity_id": target_entity_id})


class TopicRow(TypedDict):
    """One topic of a conversation, as :func:`topics_write` stores it."""

    topic_id: str
    conversation_id: str
    summary: str
    keywords: Sequence[str]
    purpose_tag: str
    start_message_id: str
    end_message_id: str
    now: datetime


def topics_write(topics: Sequence[TopicRow]) -> Statement:
    """Insert the conversation's new topics (``keywords`` stored as JSON), in one batch."""
    return Statement(
        "insert_conversation_topic",
        many=[
            {**topic, "keywords": json.dumps(list(topic["keywords"]), ensure_ascii=False)}
            for topic in topics
        ],
    )


def clear_keywords_write(*, target_entity_type: str, target_entity_id: str) -> Statement:
    """Delete the target's keywords: results replace them, never pile up."""
    return Statement(
        "delete_entity_keywords",
        {"target_entity_type": target_entity_type, "target_entity_id": target_entity_id},
    )


def keywords_write(
    *,
    target_entity_type: str,
    target_entity_id: str,
    keywords: Sequence[tuple[str, float]],
    keyword_type: str,
) -> Statement:
    """Insert the target's ``(keyword, weight)`` pairs, all of one ``keyword_type``."""
    return Statement(
        "insert_entity_keyword",
        many=[
            {
                "target_entity_type": target_entity_type,
                "target_entity_id": target_entity_id,
                "keyword": keyword,
                "weight": weight,
                "keyword_type": keyword_type,
            }
            for keyword, weight in keywords
        ],
    )
