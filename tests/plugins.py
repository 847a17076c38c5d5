"""A host application's custom handler, loaded by workers through ``worker.handlers``.

``probe`` jobs target ``probe`` entities that live nowhere: each run appends
"pid job_id target_id" to the file named by ``$PROBE_LOG`` (one ``write`` in
append mode, atomic for short lines), then sleeps ``$PROBE_SLEEP_S``. The log is
what lets a test see whether any target ran twice.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from enricher.context import JobContext, current_job
from enricher.db import Session
from enricher.registry import HandlerRegistry
from enricher.tasks.base import EmptyPayload, Handler, TaskResult


@dataclass(frozen=True)
class Probe:
    target_id: str


class ProbeHandler(Handler[Probe, EmptyPayload]):
    task_type = "probe"
    target_entity_type = "probe"

    async def load(self, db: Session, target_entity_id: str) -> Probe:
        return Probe(target_entity_id)

    async def run(self, ctx: JobContext, target: Probe, payload: EmptyPayload) -> TaskResult:
        assert current_job() == ctx  # handlers can read the current job
        if path := os.environ.get("PROBE_LOG"):
            line = f"{os.getpid()} {ctx.job_id} {target.target_id}\n"
            await asyncio.to_thread(_append, path, line)
        await asyncio.sleep(float(os.environ.get("PROBE_SLEEP_S", "0")))
        return TaskResult(result={"probe": target.target_id})


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as log:
        log.write(line)


def register(registry: HandlerRegistry) -> None:
    registry.register(ProbeHandler())
