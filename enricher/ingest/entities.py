"""``enricher ingest``: store files as entities and enqueue their enrichment.

Parsing lives in :mod:`enricher.sources` (pure, no I/O beyond reading files);
this module stores what it yields and enqueues one job per entity, a batch per
transaction, so a large tree streams in without one giant transaction and a crash
half-way leaves every stored entity with its job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import structlog

from enricher.app import Enricher
from enricher.clock import parse_timestamp
from enricher.db import Session
from enricher.db.store import entities as entity_store
from enricher.ingest.sources import (
    CodeEntityRecord,
    ConversationRecord,
    DocumentRecord,
    SourceError,
    assign_ids,
    check_inside,
    classify,
    discover,
    parse_code,
    parse_conversation,
    parse_document,
)
from enricher.queue.enqueue import EnqueueRequest, enqueue_in
from enricher.tasks.summary import TASK_TYPE as SUMMARY_TASK
from enricher.tasks.topics import TASK_TYPE as TOPICS_TASK

log = structlog.get_logger("enricher.ingest")

Record = CodeEntityRecord | DocumentRecord | ConversationRecord
BATCH = 200


@dataclass
class IngestReport:
    entities: Counter[str] = field(default_factory=Counter)
    jobs: Counter[str] = field(default_factory=Counter)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)


def records(
    paths: Sequence[Path],
    report: IngestReport,
    *,
    root: Path | None = None,
    follow_symlinks: bool = False,
) -> Iterator[Record]:
    """Every entity under ``paths``; unreadable, empty or unsupported files are reported.

    All of ``paths`` are discovered together: a symlink is judged against every path
    the user named (see :func:`enricher.ingest.sources.discover`), and a file two of
    them reach is stored once. Ids are relative to ``root`` (default: the current
    folder). A path outside it, or two files with one id, raise
    :class:`~enricher.ingest.sources.IngestPathError` before the first record.
    """
    root = Path.cwd() if root is None else root
    check_inside(paths, root)
    found = discover(paths, follow_symlinks=follow_symlinks)
    assign_ids(found.files, root)
    for path, reason in found.skipped:
        _skip(report, path, reason)
    # Conversation ids come from the files' contents, not their paths: two files may
    # claim one. The first keeps it; the other is reported, never silently overwrites.
    owners: dict[str, Path] = {}
    for path in found.files:
        try:
            parsed = _parse(path, root)
        except (SourceError, OSError) as exc:
            _skip(report, path, str(exc))
            continue
        if isinstance(parsed, str):
            _skip(report, path, parsed)
            continue
        for record in parsed:
            if isinstance(record, ConversationRecord):
                owner = owners.get(record.conversation_id)
                if owner is not None:
                    reason = f"conversation {record.conversation_id} is already in {owner}"
                    _skip(report, path, reason)
                    continue
                owners[record.conversation_id] = path
            yield record


def _parse(path: Path, root: Path) -> list[Record] | str:
    """A file's records, or why it gives none: every file is stored or said skipped."""
    kind = classify(path)
    if kind is None:
        return "unsupported file type"
    if kind == "document":
        return [parse_document(path, root)]
    found: list[Record] = []
    found.extend(parse_code(path, root) if kind == "code" else parse_conversation(path, root))
    return found or "nothing to index (only imports, comments or a few statements)"


def _skip(report: IngestReport, path: Path, reason: str) -> None:
    log.info("file_skipped", path=str(path), reason=reason)
    report.skipped_files.append((str(path), reason))


async def ingest(
    app: Enricher,
    paths: Sequence[Path],
    *,
    root: Path | None = None,
    force: bool = False,
    follow_symlinks: bool = False,
    group: str | None = None,
) -> IngestReport:
    """Store and enqueue everything under ``paths``, with ids relative to ``root``.

    ``root`` defaults to the current folder, so ``ingest(app, [Path("src")])`` stores
    ``src/app.py::main``. ``follow_symlinks`` opts in to symlinks whose target is
    outside ``paths``; without it they are skipped (and reported), so a stray link
    cannot send a file from elsewhere on the machine to the provider. ``group`` is the
    ``job_group`` of every job it enqueues (a repository, say): the fair claim shares
    slots between groups, so one large ingest does not hold back another's jobs.
    """
    report = IngestReport()
    batch: list[Record] = []
    refused: set[str] = set()
    for record in records(paths, report, root=root, follow_symlinks=follow_symlinks):
        kind, name = _identity(record)
        if not app.targets.is_builtin(kind):
            if name not in refused:
                refused.add(name)
                report.skipped_files.append((name, _mapped_reason(app, kind)))
            continue
        batch.append(record)
        if len(batch) >= BATCH:
            await _store_batch(app, batch, report, force, group)
            batch = []
    if batch:
        await _store_batch(app, batch, report, force, group)
    return report


def _identity(record: Record) -> tuple[str, str]:
    """The record's target type, and the file or id it came from (for a skip line)."""
    if isinstance(record, CodeEntityRecord):
        return "code_entity", record.file_path
    if isinstance(record, DocumentRecord):
        return "project_document", record.file_path
    return "conversation", record.conversation_id


def _mapped_reason(app: Enricher, kind: str) -> str:
    """Why ingest leaves a type alone: the host maps it to a table of its own."""
    table = app.targets.get(kind)
    where = f"your table {table.table}" if table is not None else "no table"
    return (
        f"{kind} is mapped to {where} ([targets.{kind}]); "
        "ingest fills only enricher's own tables"
    )


async def _store_batch(
    app: Enricher, batch: list[Record], report: IngestReport, force: bool, group: str | None
) -> None:
    now = app.clock()
    requests = []
    async with app.db.transaction() as tx:
        for record in batch:
            target_type, target_id = await store(tx, record, now)
            report.entities[target_type] += 1
            task = TOPICS_TASK if target_type == "conversation" else SUMMARY_TASK
            requests.append(
                EnqueueRequest(
                    task_type=task,
                    target_entity_type=target_type,
                    target_entity_id=target_id,
                    force=force,
                    group=group,
                )
            )
        results = await enqueue_in(
            tx, app.registry, app.settings, requests, now, app.targets
        )
    for result in results:
        report.jobs[result.outcome] += 1
    if any(r.created for r in results):
        app.notify()
    log.info(
        "ingest_batch_stored",
        entities=len(batch),
        jobs={k: v for k, v in Counter(r.outcome for r in results).items()},
    )


async def store(tx: Session, record: Record, now: datetime) -> tuple[str, str]:
    """Upsert one entity; return its (target_entity_type, target_entity_id)."""
    if isinstance(record, CodeEntityRecord):
        await entity_store.upsert_code_entity(
            tx,
            entity_id=record.entity_id,
            file_path=record.file_path,
            entity_type=record.entity_type,
            name=record.name,
            language=record.language,
            start_line=record.start_line,
            end_line=record.end_line,
            raw_content=record.raw_content,
            content_hash=record.content_hash,
            now=now,
        )
        return "code_entity", record.entity_id
    if isinstance(record, DocumentRecord):
        await entity_store.upsert_project_document(
            tx,
            document_id=record.document_id,
            file_path=record.file_path,
            file_type=record.file_type,
            title=record.title,
            raw_content=record.raw_content,
            content_hash=record.content_hash,
            now=now,
        )
        return "project_document", record.document_id
    await entity_store.upsert_conversation(
        tx,
        conversation_id=record.conversation_id,
        title=record.title,
        content_hash=record.content_hash,
        now=now,
    )
    await entity_store.upsert_messages(
        tx,
        conversation_id=record.conversation_id,
        messages=[
            {
                "message_id": m.message_id,
                "role": m.role,
                "content": m.content,
                "created_at": _timestamp(m.created_at) or _nth(now, i),
            }
            for i, m in enumerate(record.messages)
        ],
    )
    return "conversation", record.conversation_id


def _timestamp(text: str | None) -> datetime | None:
    """A message's own time, if the file gave a readable one."""
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


def _nth(now: datetime, index: int) -> datetime:
    """Messages without a timestamp keep their file order: now + index milliseconds."""
    return now + timedelta(milliseconds=index)
