"""``enrich_entity_summary_keywords``: a summary and keywords for any text target.

One handler class serves every target table with a content column: the built-in
code entities and documents, and each host table mapped with ``[targets.<type>]``.
They differ only in the table (:class:`~enricher.db.targets.TargetTable`, whose
queries :mod:`enricher.db.store.targets` runs) and in how the source is described to
the model (code or a document).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from enricher.clock import utcnow
from enricher.context import JobContext
from enricher.db import Session, Statement, store
from enricher.db.targets import BUILTIN_TARGETS, TargetCatalogue, TargetTable
from enricher.errors import TargetError
from enricher.providers.base import GenerationRequest, Source, SourceKind
from enricher.tasks.base import TableHandler, TaskResult, require_readable, validated_output
from enricher.tasks.prompts import SYSTEM_SUMMARY, cache_key, summary_prompt, truncate
from enricher.tasks.schemas import SummaryKeywords
from enricher.tasks.writes import replace_keywords

TASK_TYPE = "enrich_entity_summary_keywords"


class SummaryPayload(BaseModel):
    """Options a job may carry; every one is optional."""

    model_config = ConfigDict(extra="forbid")

    max_input_tokens: int | None = Field(None, gt=0, le=1_000_000)
    instructions: str | None = Field(None, max_length=2000)


@dataclass(frozen=True)
class TextTarget:
    entity_id: str
    name: str
    file_path: str
    language: str | None
    raw_content: str
    content_hash: str | None


class SummaryHandler(TableHandler[TextTarget, SummaryPayload]):
    """The summary task on one target table."""

    task_type = TASK_TYPE
    payload_model = SummaryPayload
    #: The fixed part of every request (see :mod:`enricher.tasks.prompts`). A subclass
    #: with house rules, a glossary or worked examples sets a longer one under its own
    #: ``task_type``, which names its own cache prefix (:func:`cache_key`).
    system: str = SYSTEM_SUMMARY

    def __init__(self, table: TargetTable, catalogue: TargetCatalogue | None = None) -> None:
        super().__init__(table, catalogue)
        self.source_kind: SourceKind = table.kind

    async def load(self, db: Session, target_entity_id: str) -> TextTarget | None:
        row = await store.targets.load(
            db, self.table, self.types, target_entity_id=target_entity_id
        )
        if row is None:
            return None
        return self.to_target(
            require_readable(row, f"{self.target_entity_type} {target_entity_id!r}")
        )

    def to_target(self, row: dict[str, Any]) -> TextTarget:
        content = row["raw_content"]
        return TextTarget(
            entity_id=row["id"],
            name=str(row["title"] or row["file_path"] or row["id"]),
            file_path=str(row["file_path"] or ""),
            language=None if row["language"] is None else str(row["language"]),
            raw_content=content if isinstance(content, str) else str(content or ""),
            content_hash=None if row["content_hash"] is None else str(row["content_hash"]),
        )

    async def run(self, ctx: JobContext, target: TextTarget, payload: SummaryPayload) -> TaskResult:
        if not target.raw_content.strip():
            raise TargetError(
                f"{self.target_entity_type} {target.entity_id!r} has empty raw_content; "
                "nothing to enrich"
            )
        budget = payload.max_input_tokens or ctx.task.max_input_tokens
        cut = truncate(target.raw_content, budget)
        source = Source(
            kind=self.source_kind,
            name=target.name,
            text=cut.text,
            language=target.language,
            truncated=cut.truncated,
        )
        request = GenerationRequest(
            task_type=self.task_type,
            output_model=SummaryKeywords,
            system=self.system,
            cache_key=cache_key(self.task_type),
            prompt=summary_prompt(
                kind=self.target_entity_type,
                entity_id=target.entity_id,
                name=target.name,
                language=target.language,
                content=cut.text,
                instructions=payload.instructions,
            ),
            source=source,
            model=ctx.task.provider.model,
            max_output_tokens=ctx.task.provider.max_output_tokens,
        )
        generation = await ctx.provider.generate(request)
        output = validated_output(SummaryKeywords, generation)
        return TaskResult(
            result={
                "summary": output.summary,
                "keywords": output.keywords,
                "truncated": cut.truncated,
                "input_chars": cut.original_chars,
            },
            writes=self.writes(target, output),
            generation=generation,
        )

    def writes(self, target: TextTarget, output: SummaryKeywords) -> tuple[Statement, ...]:
        save = store.targets.save(
            self.table,
            self.types,
            target_entity_id=target.entity_id,
            summary=output.summary,
            keywords=output.keywords,
            content_hash=target.content_hash,
            now=utcnow(),
        )
        return (
            *((save,) if save is not None else ()),
            *replace_keywords(
                self.target_entity_type, target.entity_id, output.keywords, "keyword"
            ),
        )


class CodeEntitySummaryHandler(SummaryHandler):
    """The built-in ``code_entities`` table."""

    target_entity_type = "code_entity"
    source_kind: SourceKind = "code"

    def __init__(self, catalogue: TargetCatalogue | None = None) -> None:
        super().__init__(BUILTIN_TARGETS["code_entity"], catalogue)


class ProjectDocumentSummaryHandler(SummaryHandler):
    """The built-in ``project_documents`` table."""

    target_entity_type = "project_document"
    source_kind: SourceKind = "document"

    def __init__(self, catalogue: TargetCatalogue | None = None) -> None:
        super().__init__(BUILTIN_TARGETS["project_document"], catalogue)
