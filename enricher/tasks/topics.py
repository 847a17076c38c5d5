"""``generate_topics``: split a conversation into up to five topics.

A new run replaces the conversation's earlier topics in the same transaction, so
re-enriching a conversation that grew never leaves stale or duplicated topics.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from enricher.clock import utcnow
from enricher.context import JobContext
from enricher.db import Session, Statement, store
from enricher.db.store.enrichment import TopicRow
from enricher.db.targets import BUILTIN_TARGETS, TargetCatalogue
from enricher.errors import TargetError
from enricher.hashing import conversation_hash
from enricher.providers.base import GenerationRequest, Source, SourceMessage
from enricher.tasks.base import TableHandler, TaskResult, require_readable, validated_output
from enricher.tasks.prompts import (
    SYSTEM_TOPICS,
    cache_key,
    render_transcript,
    topics_prompt,
    truncate_messages,
)
from enricher.tasks.schemas import Topic, Topics
from enricher.tasks.writes import replace_keywords

TASK_TYPE = "generate_topics"


class TopicsPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_topics: int = Field(5, ge=1, le=5)
    max_input_tokens: int | None = Field(None, gt=0, le=1_000_000)
    instructions: str | None = Field(None, max_length=2000)


@dataclass(frozen=True)
class Conversation:
    conversation_id: str
    title: str | None
    messages: tuple[SourceMessage, ...]


class TopicsHandler(TableHandler[Conversation, TopicsPayload]):
    """The topics task on one conversation table and its messages table."""

    task_type = TASK_TYPE
    payload_model = TopicsPayload

    async def load(self, db: Session, target_entity_id: str) -> Conversation | None:
        types = self.types
        row = await store.targets.load(db, self.table, types, target_entity_id=target_entity_id)
        if row is None:
            return None
        what = f"{self.target_entity_type} {target_entity_id!r}"
        require_readable(row, what)
        rows = [
            require_readable(r, f"{what}, message {r['message_id']!r}")
            for r in await store.targets.messages(
                db, self.table, types, target_entity_id=target_entity_id
            )
        ]
        messages = tuple(
            SourceMessage(index, r["message_id"], str(r["role"]), str(r["content"] or ""))
            for index, r in enumerate(rows, start=1)
        )
        return Conversation(row["id"], row["title"], messages)

    async def run(
        self, ctx: JobContext, target: Conversation, payload: TopicsPayload
    ) -> TaskResult:
        if not any(m.content.strip() for m in target.messages):
            raise TargetError(
                f"{self.target_entity_type} {target.conversation_id!r} has no messages "
                "with content; "
                "nothing to enrich"
            )
        budget = payload.max_input_tokens or ctx.task.max_input_tokens
        kept, truncated = truncate_messages(target.messages, budget)
        transcript = render_transcript(kept, len(target.messages))
        request = GenerationRequest(
            task_type=self.task_type,
            output_model=Topics,
            system=SYSTEM_TOPICS,
            cache_key=cache_key(self.task_type),
            prompt=topics_prompt(
                conversation_id=target.conversation_id,
                title=target.title,
                transcript=transcript,
                max_topics=payload.max_topics,
                instructions=payload.instructions,
            ),
            source=Source(
                kind="conversation",
                name=target.title or target.conversation_id,
                text=transcript,
                messages=kept,
                truncated=truncated,
            ),
            model=ctx.task.provider.model,
            max_output_tokens=ctx.task.provider.max_output_tokens,
        )
        generation = await ctx.provider.generate(request)
        topics = validated_output(Topics, generation).topics[: payload.max_topics]
        rows = [self._topic_row(target, topic) for topic in topics]
        return TaskResult(
            result={
                "topics": [
                    {
                        key: row[key]
                        for key in ("summary", "purpose_tag", "start_message_id", "end_message_id")
                    }
                    | {"keywords": topic.keywords}
                    for row, topic in zip(rows, topics, strict=True)
                ],
                "truncated": truncated,
                "messages": len(target.messages),
            },
            writes=self.writes(target, topics, rows),
            generation=generation,
        )

    @staticmethod
    def _topic_row(target: Conversation, topic: Topic) -> TopicRow:
        """Map the model's message numbers back to ids, clamped to the real range."""
        last = len(target.messages)
        start = min(max(topic.start_message, 1), last)
        end = min(max(topic.end_message, start), last)
        return {
            "topic_id": str(uuid.uuid4()),
            "conversation_id": target.conversation_id,
            "summary": topic.summary,
            "keywords": topic.keywords,
            "purpose_tag": topic.purpose_tag,
            "start_message_id": target.messages[start - 1].message_id,
            "end_message_id": target.messages[end - 1].message_id,
            "now": utcnow(),
        }

    def writes(
        self, target: Conversation, topics: list[Topic], rows: list[TopicRow]
    ) -> tuple[Statement, ...]:
        keywords = [keyword for topic in topics for keyword in topic.keywords]
        content_hash = conversation_hash([(m.role, m.content) for m in target.messages])
        save = store.targets.save(
            self.table,
            self.types,
            target_entity_id=target.conversation_id,
            content_hash=content_hash,
            now=utcnow(),
        )
        return (
            store.enrichment.clear_topics_write(target_entity_id=target.conversation_id),
            store.enrichment.topics_write(rows),
            *((save,) if save is not None else ()),
            *replace_keywords(self.target_entity_type, target.conversation_id, keywords, "topic"),
        )


class ConversationTopicsHandler(TopicsHandler):
    """The built-in ``conversations`` table."""

    target_entity_type = "conversation"

    def __init__(self, catalogue: TargetCatalogue | None = None) -> None:
        super().__init__(BUILTIN_TARGETS["conversation"], catalogue)
