"""Handlers for benchmarks: the queue's own cost with (almost) nothing else.

``noop`` does no work at all, so a burn-down of noop jobs measures claim, dispatch,
fenced completion and the entity-status trigger. ``sleep`` awaits the provider,
so with a fixed-latency provider it measures how well concurrency hides latency.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from enricher.context import JobContext
from enricher.db import Session
from enricher.providers.base import Generation, GenerationRequest, Source, Usage
from enricher.registry import HandlerRegistry
from enricher.tasks.base import EmptyPayload, Handler, TaskResult
from enricher.tasks.schemas import SummaryKeywords


@dataclass(frozen=True)
class Stub:
    target_id: str


class NoopHandler(Handler[Stub, EmptyPayload]):
    task_type = "noop"
    target_entity_type = "noop"

    async def load(self, db: Session, target_entity_id: str) -> Stub:
        return Stub(target_entity_id)

    async def run(self, ctx: JobContext, target: Stub, payload: EmptyPayload) -> TaskResult:
        return TaskResult(result={})


class SleepHandler(NoopHandler):
    task_type = "sleep"

    async def run(self, ctx: JobContext, target: Stub, payload: EmptyPayload) -> TaskResult:
        request = GenerationRequest(
            task_type=self.task_type,
            output_model=SummaryKeywords,
            system="",
            prompt="",
            source=Source(kind="document", name=target.target_id, text="x"),
            model="fixed",
            max_output_tokens=1,
        )
        generation = await ctx.provider.generate(request)
        return TaskResult(result={}, generation=generation)


class FixedLatencyProvider:
    """Answers every call after exactly ``latency_s``: an ideal provider."""

    name = "fixed"

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self._output = SummaryKeywords(summary="x.", keywords=["a", "b", "c"])

    async def generate(self, request: GenerationRequest) -> Generation:
        await asyncio.sleep(self.latency_s)
        return Generation(output=self._output, provider=self.name, model="fixed", usage=Usage(1, 1))

    async def aclose(self) -> None:
        return None


def register(registry: HandlerRegistry) -> Any:
    registry.register(NoopHandler())
    registry.register(SleepHandler())
