"""Putting work on the queue: validation, deduplication and the content-hash skip.

Everything for one call happens in one write transaction, so the job row and the
target's ``ai_status = 'pending'`` (written by the schema's trigger) appear
together, and two pipelines enqueueing the same target race into one job.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from enricher.config import Settings
from enricher.db import Session, store
from enricher.db.targets import TargetCatalogue
from enricher.errors import INT32_MAX, PayloadError, RequestError
from enricher.registry import HandlerRegistry
from enricher.validation import problems


def _not_blank(value: str) -> str:
    """Refuse text that is only whitespace: ``" "`` names no task and no entity, and a
    job for it would only fail later (or, for an id, be enqueued for good)."""
    if not value.strip():
        raise ValueError("must not be blank")
    return value


#: A name or id: at least one character that is not whitespace.
Name = Annotated[str, Field(min_length=1), AfterValidator(_not_blank)]


class EnqueueRequest(BaseModel):
    """One job to enqueue. ``payload`` may be a dict or JSON text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_type: Name
    target_entity_type: Name
    target_entity_id: Name
    payload: dict[str, Any] | str | None = None
    #: Both bounds are PostgreSQL's ``integer``: one range on every backend.
    priority: int = Field(0, ge=-INT32_MAX - 1, le=INT32_MAX)
    run_at: datetime | None = None
    max_attempts: int | None = Field(None, gt=0, le=INT32_MAX)
    force: bool = False
    #: The tenant, repository or project the job belongs to (``job_group``): with
    #: ``worker.fair_groups`` the claim shares free slots round-robin between groups.
    #: None is a group of its own.
    group: Name | None = None

    @classmethod
    def checked(cls, **fields: Any) -> EnqueueRequest:
        """Build a request; a field out of range or of the wrong type is a
        :class:`RequestError` naming it, as the API promises, not pydantic's error."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            found = problems(exc, whole="request", show_input=True)
            raise RequestError(f"invalid enqueue request: {found}") from None


@dataclass(frozen=True)
class Enqueued:
    """What an enqueue did: created a job, found the active one, or skipped the target."""

    outcome: Literal["created", "existing", "skipped"]
    job_id: str | None
    task_type: str
    target_entity_type: str
    target_entity_id: str

    @property
    def created(self) -> bool:
        return self.outcome == "created"


def encode_payload(payload: dict[str, Any] | str | None) -> str | None:
    """Payloads are stored as JSON text; text given to us must already be JSON."""
    if payload is None:
        return None
    if isinstance(payload, str):
        try:
            json.loads(payload)
        except json.JSONDecodeError as exc:
            raise PayloadError(f"payload is not valid JSON: {exc}") from None
        return payload
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def validate(registry: HandlerRegistry, request: EnqueueRequest) -> str | None:
    """Check the handler exists and accepts the payload; return the payload's JSON text."""
    handler = registry.require(request.task_type, request.target_entity_type)
    payload = encode_payload(request.payload)
    handler.parse_payload(payload)
    return payload


async def enqueue_in(
    tx: Session,
    registry: HandlerRegistry,
    settings: Settings,
    requests: Sequence[EnqueueRequest],
    now: datetime,
    targets: TargetCatalogue,
) -> list[Enqueued]:
    """Enqueue every request inside the caller's transaction (validated first, all or none)."""
    payloads = [validate(registry, request) for request in requests]
    return [
        await _enqueue_one(tx, settings, targets, request, payload, now)
        for request, payload in zip(requests, payloads, strict=True)
    ]


async def _enqueue_one(
    tx: Session,
    settings: Settings,
    targets: TargetCatalogue,
    request: EnqueueRequest,
    payload: str | None,
    now: datetime,
) -> Enqueued:
    key = {
        "task_type": request.task_type,
        "target_entity_type": request.target_entity_type,
        "target_entity_id": request.target_entity_id,
    }

    def result(outcome: Literal["created", "existing", "skipped"], job_id: str | None) -> Enqueued:
        return Enqueued(outcome, job_id, **key)

    if existing := await store.jobs.find_active(tx, **key):
        return result("existing", existing["job_id"])
    table = targets.get(request.target_entity_type)
    if table is not None and not request.force and await _unchanged(tx, targets, request):
        await store.targets.mark_skipped(
            tx,
            table,
            targets.types(request.target_entity_type),
            target_entity_id=request.target_entity_id,
        )
        return result("skipped", None)
    row = await store.jobs.insert(
        tx,
        task_type=request.task_type,
        target_entity_type=request.target_entity_type,
        target_entity_id=request.target_entity_id,
        job_id=str(uuid.uuid4()),
        payload=payload,
        priority=request.priority,
        max_attempts=request.max_attempts or settings.for_task(request.task_type).max_attempts,
        run_after=request.run_at or now,
        now=now,
        job_group=request.group,
    )
    if row is not None:
        return result("created", row["job_id"])
    existing = await store.jobs.find_active(tx, **key)
    return result("existing", existing["job_id"] if existing else None)


async def _unchanged(tx: Session, targets: TargetCatalogue, request: EnqueueRequest) -> bool:
    """True when the target's content hash equals the one last enriched successfully.

    Only a target table with both hash columns can tell; a custom target type with no
    table is never skipped.
    """
    table = targets.get(request.target_entity_type)
    if table is None:
        return False
    row = await store.targets.content_hashes(
        tx,
        table,
        targets.types(request.target_entity_type),
        target_entity_id=request.target_entity_id,
    )
    return bool(row and row["content_hash"] and row["content_hash"] == row["ai_content_hash"])
