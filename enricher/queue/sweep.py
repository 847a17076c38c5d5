"""Sweeps: enqueue every entity whose content changed since its last successful enrichment.

Hosts change their rows without telling enricher. A sweep walks a target table in key
order, a page at a time, and enqueues each entity that changed (its ``content_hash``
differs from its ``ai_content_hash``) or was never enriched (no hash columns: never
completed). Each page is enqueued in one transaction through the ordinary enqueue, so
an entity with an active job is found, not duplicated, and the content-hash skip
applies. ``enricher sweep`` and the workers' ``[[schedules]]`` both run this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from enricher.config import Settings
from enricher.db import Connector, store
from enricher.db.targets import TargetCatalogue
from enricher.errors import RequestError, require_range
from enricher.queue.enqueue import EnqueueRequest, enqueue_in
from enricher.registry import HandlerRegistry

#: Entities read and enqueued per transaction.
PAGE_SIZE = 500


@dataclass(frozen=True)
class SweepCount:
    """What a sweep found and did for one target type and task."""

    target_entity_type: str
    task_type: str
    changed: int = 0
    created: int = 0
    existing: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sweep_plan(
    registry: HandlerRegistry,
    targets: TargetCatalogue,
    target_types: Sequence[str] = (),
    task_type: str | None = None,
) -> list[tuple[str, str]]:
    """``(target_entity_type, task_type)`` pairs to sweep; a bad name is a RequestError.

    No target types: every target table. No task: every task the type's handlers serve.
    """
    chosen = list(dict.fromkeys(target_types)) or [t.target_entity_type for t in targets]
    plan: list[tuple[str, str]] = []
    for target_type in chosen:
        if targets.get(target_type) is None:
            known = ", ".join(t.target_entity_type for t in targets)
            raise RequestError(
                f"no table for target type {target_type!r} to sweep; target tables: {known}"
            )
        tasks = sorted(
            key.task_type
            for key in registry.registered()
            if key.target_entity_type == target_type
            and (task_type is None or key.task_type == task_type)
        )
        if task_type is not None and not tasks:
            raise RequestError(f"task {task_type!r} does not handle target type {target_type!r}")
        plan.extend((target_type, task) for task in tasks)
    return plan


async def sweep(
    db: Connector,
    registry: HandlerRegistry,
    settings: Settings,
    targets: TargetCatalogue,
    *,
    plan: Sequence[tuple[str, str]],
    limit: int | None,
    dry_run: bool,
    now: datetime,
) -> list[SweepCount]:
    """Run the plan: each pair's changed entities, ``limit`` at most per pair."""
    if limit is not None:
        require_range("--limit", limit, 1)
    return [
        await _sweep_one(
            db, registry, settings, targets, target_type, task_type, limit, dry_run, now
        )
        for target_type, task_type in plan
    ]


async def _sweep_one(
    db: Connector,
    registry: HandlerRegistry,
    settings: Settings,
    targets: TargetCatalogue,
    target_type: str,
    task_type: str,
    limit: int | None,
    dry_run: bool,
    now: datetime,
) -> SweepCount:
    table = targets.get(target_type)
    assert table is not None  # sweep_plan checked it
    types = targets.types(target_type)
    counts = {"changed": 0, "created": 0, "existing": 0, "skipped": 0}
    after: str | None = None
    while limit is None or counts["changed"] < limit:
        size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - counts["changed"])
        async with db.transaction() as tx:
            keys = await store.targets.sweep_page(
                tx, table, types, task_type=task_type, after=after, limit=size
            )
            if keys and not dry_run:
                requests = [
                    EnqueueRequest(
                        task_type=task_type,
                        target_entity_type=target_type,
                        target_entity_id=key,
                        # a blank group column names no group: NULL, one group of its own
                        group=group if group and group.strip() else None,
                    )
                    for key, group in keys
                ]
                for done in await enqueue_in(tx, registry, settings, requests, now, targets):
                    counts[done.outcome] += 1
        counts["changed"] += len(keys)
        if len(keys) < size:
            break
        after = keys[-1][0]
    return SweepCount(target_type, task_type, **counts)
