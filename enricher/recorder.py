"""Writing a verdict: one fenced transaction per attempt.

The fence is the ``WHERE job_id = ? AND locked_by = ? AND status = 'processing'``
of the ending statement. If it matches nothing, the job was reclaimed or
cancelled while we worked, so the whole transaction rolls back and the late
result is discarded. Otherwise the job's status, its result, the entity's fields,
keywords or topics and any pause commit together (the entity's ``ai_status``
follows through the schema's trigger).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from db import Connector, Session
from enricher.config import Price
from enricher.models import ClaimedJob, Verdict
from enricher.status import FAILED_STATUSES, JobStatus


class FenceLost(Exception):
    """Internal: the fence matched nothing, roll the transaction back."""


def cost_usd(
    model: str, input_tokens: int, output_tokens: int, prices: Mapping[str, Price]
) -> float | None:
    """Cost from the config's price table (USD per million tokens); None if unpriced."""
    price = prices.get(model)
    if price is None:
        return None
    return round((input_tokens * price.input + output_tokens * price.output) / 1_000_000, 8)


async def record(
    db: Connector,
    job: ClaimedJob,
    verdict: Verdict,
    *,
    worker_id: str,
    prices: Mapping[str, Price],
    now: datetime,
) -> bool:
    """Write the verdict; False when the fence failed and nothing was written."""
    try:
        async with db.transaction() as tx:
            if verdict.status is JobStatus.COMPLETED:
                await _complete(tx, job, verdict, worker_id, prices, now)
            else:
                await _finish(tx, job, verdict, worker_id, now)
            for pause in verdict.pauses:
                await tx.execute(
                    "upsert_pause",
                    {
                        "scope": pause.scope,
                        "paused_until": pause.until,
                        "reason": pause.reason,
                        "now": now,
                    },
                )
    except FenceLost:
        return False
    return True


async def _complete(
    tx: Session,
    job: ClaimedJob,
    verdict: Verdict,
    worker_id: str,
    prices: Mapping[str, Price],
    now: datetime,
) -> None:
    outcome = verdict.outcome
    assert outcome is not None, "a completed verdict carries its outcome"
    generation = outcome.generation
    usage_in = generation.usage.input_tokens if generation else None
    usage_out = generation.usage.output_tokens if generation else None
    row = await tx.fetchrow(
        "complete_job",
        {
            "job_id": job.job_id,
            "worker_id": worker_id,
            "result": json.dumps(dict(outcome.result), ensure_ascii=False, default=str),
            "provider": generation.provider if generation else None,
            "model": generation.model if generation else None,
            "input_tokens": usage_in,
            "output_tokens": usage_out,
            "cost_usd": (
                cost_usd(generation.model, usage_in or 0, usage_out or 0, prices)
                if generation
                else None
            ),
            "now": now,
        },
    )
    if row is None:
        raise FenceLost
    for statement in outcome.writes:
        await tx.run(statement)


async def _finish(
    tx: Session, job: ClaimedJob, verdict: Verdict, worker_id: str, now: datetime
) -> None:
    terminal = verdict.status in FAILED_STATUSES or verdict.status is JobStatus.CANCELLED
    row = await tx.fetchrow(
        "finish_job",
        {
            "job_id": job.job_id,
            "worker_id": worker_id,
            "status": verdict.status.value,
            "consumed": 1 if verdict.consumed else 0,
            "error_message": verdict.error,
            "run_after": verdict.run_after or now,
            "provider": None,
            "model": None,
            "terminal": terminal,
            "now": now,
        },
    )
    if row is None:
        raise FenceLost
