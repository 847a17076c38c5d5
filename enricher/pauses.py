"""Pauses, honoured at the last moment: right before each provider call.

The claim filters paused scopes in SQL, but a job claimed a moment before another
job's 429 would still call the provider during the pause. The gate closes that
gap: every call first checks ``ai_pauses`` (this worker's own verdicts count at
once, before they are even committed; other workers' are read from the database,
by default before every call, since one indexed read is nothing beside a model
call), and a paused scope holds the job back without a request and without
consuming an attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import structlog

from db import Connector
from enricher.budget import Need, Pool, RateBudget, Reservation
from enricher.clock import Clock, parse_timestamp
from enricher.errors import EnricherError
from enricher.models import Pause
from providers.base import Generation, GenerationRequest, Provider, estimate_tokens
from providers.errors import RateLimited

log = structlog.get_logger("enricher.pauses")


class ScopePaused(EnricherError):
    """A scope of this job is paused; the job goes back until ``until``."""

    def __init__(self, scope: str, until: datetime) -> None:
        super().__init__(f"scope {scope} is paused until {until.isoformat()}")
        self.scope = scope
        self.until = until


class PauseGate:
    def __init__(self, db: Connector, clock: Clock, *, refresh_s: float = 0.0) -> None:
        self.db = db
        self.clock = clock
        self.refresh_s = refresh_s
        self._until: dict[str, datetime] = {}
        self._read_at: datetime | None = None

    def note(self, pauses: Iterable[Pause]) -> None:
        """Pauses this worker just decided: effective here before they are even committed."""
        for pause in pauses:
            self._until[pause.scope] = max(pause.until, self._until.get(pause.scope, pause.until))

    async def check(self, scopes: Sequence[str]) -> None:
        """Raise :class:`ScopePaused` if any of ``scopes`` is paused now."""
        now = self.clock()
        if self._read_at is None or (now - self._read_at).total_seconds() >= self.refresh_s:
            await self._refresh(now)
        for scope in scopes:
            until = self._until.get(scope)
            if until is not None and until > now:
                raise ScopePaused(scope, until)

    async def _refresh(self, now: datetime) -> None:
        rows = await self.db.fetch("active_pauses", {"now": now})
        fresh = {row["scope"]: parse_timestamp(row["paused_until"]) for row in rows}
        local = {scope: until for scope, until in self._until.items() if until > now}
        self._until = {scope: until for scope, until in fresh.items() if until is not None}
        self.note(Pause(scope, until, "") for scope, until in local.items())
        self._read_at = now


class GuardedProvider:
    """A provider whose every call passes the pause gate, the pool's concurrency limit
    and the shared rate budget first, and reports back what the call used."""

    def __init__(
        self,
        inner: Provider,
        gate: PauseGate,
        scopes: Sequence[str],
        *,
        budget: RateBudget | None = None,
        pool: Pool | None = None,
        slots: asyncio.Semaphore | None = None,
        stopping: asyncio.Event | None = None,
        queue: asyncio.Lock | None = None,
    ) -> None:
        self.inner = inner
        self.gate = gate
        self.scopes = tuple(scopes)
        self.budget = budget
        self.pool = pool
        self.slots = slots
        self.stopping = stopping or asyncio.Event()
        self.queue = queue or asyncio.Lock()
        self.name = inner.name

    async def generate(self, request: GenerationRequest) -> Generation:
        await self.gate.check(self.scopes)
        if self.slots is None:
            return await self._paced(request)
        async with self.slots:
            return await self._paced(request)

    async def _paced(self, request: GenerationRequest) -> Generation:
        if self.budget is None or self.pool is None:
            return await self.inner.generate(request)
        budget, pool = self.budget, self.pool
        estimate = Need(estimate_tokens(request.system + request.prompt), request.max_output_tokens)
        # One waiter per pool per process, the rest queue behind it in arrival order: jobs
        # keep their order, and a freed slot wakes one reservation, not the whole herd.
        async with self.queue:
            reservation = await self._reserve(budget, pool, estimate)
        try:
            generation = await self.inner.generate(request)
        except RateLimited as exc:
            # A 429 while pacing means the pace was too fast: slow every worker down. One
            # before any limit was known only teaches the limits its headers announce.
            if reservation.usage_id is not None:
                await budget.rate_limited(pool)
            await budget.learn(pool, exc.headers)
            raise
        usage = generation.usage
        await budget.reconcile(reservation, Need(usage.input_tokens, usage.output_tokens))
        await budget.learn(pool, generation.headers)
        return generation

    async def _reserve(self, budget: RateBudget, pool: Pool, need: Need) -> Reservation:
        """Wait, outside any transaction, until the budget has room; shutdown ends the wait."""
        while not (reservation := await budget.reserve(pool, need)).granted:
            log.debug("budget_wait", pool=pool.key, wait_s=round(reservation.wait_s, 3))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), min(reservation.wait_s, 5.0))
            if self.stopping.is_set():  # shutting down: give the job back, it cost nothing
                until = self.gate.clock() + timedelta(seconds=reservation.wait_s)
                raise ScopePaused(f"budget:{pool.key}", until)
            await self.gate.check(self.scopes)
        return reservation

    async def aclose(self) -> None:
        await self.inner.aclose()
