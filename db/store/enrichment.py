"""The writes of enricher's own result tables: ``entity_keywords``, ``conversation_topics``.

A handler returns its writes as :class:`Statement` s built here (and in
:mod:`.targets` for the target's own row): the worker runs them inside the job's
fence, in the transaction that completes the job, so a reclaimed job's late result
writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from ..connector import Statement


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
