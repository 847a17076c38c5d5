"""Operating provider batches: which ones exist, what each holds, cancelling one.

The batch lane (:mod:`enricher.worker.batches`) writes ``ai_provider_batches``; this
module is what ``enricher batches list / show / cancel``, ``status`` and the dashboard
read through. A batch is named by its own id (a UUID, or a unique prefix of at least
four hex digits, as a job is) or by the provider's id (``batch_...``, ``msgbatch_...``).

Cancelling marks the row ``cancelling``, then asks the provider to stop the batch (in
that order: a worker that sees the provider's "cancelled" must also see the mark); the
batch stays open, and the next poll (due at once) applies what the provider finished
before it stopped. The rows that never ran cancel their jobs rather than send them
again: an operator who stops a batch does not want it resubmitted. ``enricher jobs
retry --status cancelled`` sends them again on request. docs/architecture.md,
"The batch lane".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from enricher.config import ProviderSettings, Settings
from enricher.db import Connector, Row, store
from enricher.errors import RequestError
from enricher.ids import MIN_PREFIX, canonical_job_id, resolve_prefix
from enricher.provider_pool import ProviderPool
from enricher.providers.errors import ProviderError

#: Batch statuses that are still open at the provider (polled by the workers).
OPEN_STATUSES = ("preparing", "submitted", "cancelling")
#: The error an operator's cancel leaves on the batch and on its unsent jobs.
CANCELLED_BY_OPERATOR = "provider batch cancelled by an operator"


@dataclass(frozen=True)
class BatchDetails:
    """A batch's row, and its jobs by status."""

    batch: Row
    jobs: dict[str, int]


def batch_settings(settings: Settings, row: Row) -> ProviderSettings:
    """The provider settings a batch was sent with: its task's (key, timeout, limits),
    with the row's provider, model and base_url, should the config have changed since."""
    task = settings.for_task(str(row["task_type"])).provider
    return task.model_copy(
        update={"name": row["provider"], "model": row["model"], "base_url": row["base_url"]}
    )


async def resolve(db: Connector, text: str) -> Row:
    """The batch ``text`` names: our id or a unique prefix of it, or the provider's id.

    Raises :class:`RequestError` for a name no batch has, or a prefix several share.
    """
    text = text.strip()
    canonical = canonical_job_id(text)
    if canonical is not None:
        row = await store.batches.get(db, batch_id=canonical)
        if row is not None:
            return row
        raise RequestError(f"no provider batch {canonical}")
    row = await store.batches.find(db, provider_batch_id=text)
    if row is not None:
        return row
    found = await resolve_prefix(
        text,
        lambda lo, hi: store.batches.ids_between(db, lo=lo, hi=hi),
        noun="provider batch",
        nouns="batches",
    )
    if found is None:
        raise RequestError(
            f"no provider batch {text!r} (give enricher's batch id, a prefix of at least "
            f"{MIN_PREFIX} hex characters, or the provider's batch id)"
        )
    row = await store.batches.get(db, batch_id=found)
    if row is None:  # deleted between the two reads
        raise RequestError(f"no provider batch id starts with {text!r}")
    return row


async def list_batches(db: Connector, *, open_only: bool, limit: int) -> list[Row]:
    """Newest first; with ``open_only``, those still open at the provider."""
    return await store.batches.list_batches(db, open_only=open_only, limit=limit)


async def details(db: Connector, text: str) -> BatchDetails:
    row = await resolve(db, text)
    counts = await store.batches.job_counts(db, batch_id=str(row["batch_id"]))
    return BatchDetails(row, {str(c["status"]): int(c["jobs"]) for c in counts})


async def cancel(
    db: Connector, providers: ProviderPool, settings: Settings, text: str, now: datetime
) -> Row:
    """Mark the batch ``cancelling``, then cancel it at the provider; returns the row.

    The mark comes first so that no worker applies a batch the provider has stopped as
    if it had expired (which would send its unrun requests again). A provider that
    refuses the cancel leaves the batch ``submitted``, as before. A batch still being
    submitted (``preparing``) has no provider batch to cancel yet, and one that has
    ended has nothing left to stop: both are refused, with the reason.
    """
    row = await resolve(db, text)
    batch_id, status = str(row["batch_id"]), str(row["status"])
    if status == "cancelling":
        return row
    if status == "preparing":
        raise RequestError(
            f"batch {batch_id} is still being submitted; cancel it once it is (a few seconds)"
        )
    async with db.transaction() as tx:
        marked = await store.batches.cancelling(
            tx, batch_id=batch_id, error=CANCELLED_BY_OPERATOR, now=now
        )
    if marked is None:  # ended (or cancelled by another operator) since it was read
        row = await resolve(db, batch_id)
        if row["status"] == "cancelling":
            return row
        raise RequestError(f"batch {batch_id} has already ended ({row['status']})")
    api = providers.batch_api(batch_settings(settings, marked))
    try:
        await api.cancel(str(marked["provider_batch_id"]))
    except ProviderError as exc:
        async with db.transaction() as tx:
            await store.batches.uncancelled(tx, batch_id=batch_id, now=now)
        raise RequestError(f"the provider did not cancel batch {batch_id}: {exc}") from exc
    return marked
