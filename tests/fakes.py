"""Providers for tests: real implementations of the Provider protocol, scripted.

They stand where a model provider stands; everything behind them (worker,
database, state machine) is the real thing.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel

from enricher.providers.base import Generation, GenerationRequest, Usage
from enricher.tasks.schemas import SummaryKeywords, Topic, Topics


def canned_output(request: GenerationRequest) -> BaseModel:
    """A valid output for the request's model, derived from the source name."""
    if request.output_model is Topics:
        count = max(1, len(request.source.messages))
        return Topics(
            topics=[
                Topic(
                    summary=f"Talk about {request.source.name}.",
                    keywords=["chat", "topic"],
                    purpose_tag="other",
                    start_message=1,
                    end_message=count,
                )
            ]
        )
    return SummaryKeywords(
        summary=f"Summary of {request.source.name}.",
        keywords=["alpha", "beta", request.source.name.lower().replace(" ", "-")[:60] or "gamma"],
    )


class ScriptedProvider:
    """Answers with ``script(request)``: return a Generation/BaseModel or raise."""

    name = "scripted"

    def __init__(
        self,
        script: Callable[[GenerationRequest], BaseModel | Generation] | None = None,
        *,
        latency_s: float = 0.0,
        model: str = "scripted-1",
    ) -> None:
        self.script = script or canned_output
        self.latency_s = latency_s
        self.model = model
        self.calls: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    async def generate(self, request: GenerationRequest) -> Generation:
        self.calls[request.source.name] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            out = self.script(request)
        finally:
            self.in_flight -= 1
        if isinstance(out, Generation):
            return out
        return Generation(
            output=out,
            provider=self.name,
            model=self.model,
            usage=Usage(input_tokens=100, output_tokens=20),
        )

    async def aclose(self) -> None:
        return None


class BarrierProvider(ScriptedProvider):
    """Blocks every call until ``parties`` calls are in flight at once.

    If the worker awaited jobs one by one, the first call would wait forever (the
    test's timeout catches it); with real concurrency all of them pass together.
    """

    def __init__(self, parties: int, timeout_s: float = 10.0) -> None:
        super().__init__()
        self.parties = parties
        self.timeout_s = timeout_s
        self._arrived = 0
        self._all_here = asyncio.Event()

    async def generate(self, request: GenerationRequest) -> Generation:
        self._arrived += 1
        if self._arrived >= self.parties:
            self._all_here.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.wait_for(self._all_here.wait(), self.timeout_s)
        finally:
            self.in_flight -= 1
        return Generation(output=canned_output(request), provider=self.name, model=self.model)


class GatedProvider(ScriptedProvider):
    """Holds every call until the test lets it go with :meth:`release`.

    The test, not the machine's speed, decides when a call ends, so what the worker
    does with a freed slot can be checked exactly, however slow a loaded machine is.
    """

    def __init__(self, seed: int = 7) -> None:
        super().__init__()
        self.started = 0
        self._held: list[asyncio.Event] = []
        self._rng = random.Random(seed)

    async def generate(self, request: GenerationRequest) -> Generation:
        gate = asyncio.Event()
        self._held.append(gate)
        self.started += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await gate.wait()
        finally:
            self.in_flight -= 1
        return Generation(output=canned_output(request), provider=self.name, model=self.model)

    def release(self) -> None:
        """Let one held call (any of them, not always the oldest) return."""
        self._held.pop(self._rng.randrange(len(self._held))).set()
