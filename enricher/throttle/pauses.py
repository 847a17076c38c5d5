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
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from enricher.clock import Clock, parse_timestamp
from enricher.db import Connector, store
from enricher.deadline import stopped
from enricher.errors import EnricherError
from enricher.models import Pause, is_spend_scope
from enricher.providers.base import Generation, GenerationRequest, Provider, estimate_tokens
from enricher.providers.errors import RateLimited
from enricher.throttle.budget import (
    ANNOUNCE_LEAD,
    SEND_MARGIN,
    Need,
    Pool,
    RateBudget,
    Reservation,
)

log = structlog.get_logger("enricher.pauses")


#: The longest a job waits in ``processing`` for its pool (a slot, its turn, its rate
#: budget) before it goes back to the queue as ``rate_limited``. Waits at the pace of
#: a busy pool are seconds (the budget spreads a minute over 6-second slices); a wait
#: longer than this means the pool is saturated, and a job shown as running for
#: minutes while it waits would mislead the host.
MAX_POOL_WAIT_S = 10.0


class ScopePaused(EnricherError):
    """The job goes back to the queue until ``until`` without calling its provider.

    ``announce`` asks for ``scope`` to be paused for every worker (an exhausted budget:
    no one should claim the pool's jobs until it has room); otherwise only this job
    waits (a scope already paused, or a pool busy for longer than this job may wait).
    ``retry_at`` is when the job is due again (default ``until``).
    """

    def __init__(
        self,
        scope: str,
        until: datetime,
        *,
        reason: str | None = None,
        announce: bool = False,
        retry_at: datetime | None = None,
    ) -> None:
        self.reason = reason or f"{scope} is paused"
        super().__init__(f"{self.reason} until {until.isoformat()}")
        self.scope = scope
        self.until = until
        self.announce = announce
        #: When the job is due again; ``until`` unless a pause row, not the job's own
        #: ``run_after``, is to hold it (a spend cap, which an operator may lift).
        self.retry_at = retry_at or until


@dataclass
class PoolState:
    """What one process's jobs share for one provider pool: the ``max_in_flight`` slots,
    the line for its rate budget (one waiter at the budget, the rest behind it in
    arrival order), and how many jobs are on their way to a call.

    Claims are sized to what the pool can start: while the pool is ``saturated`` (its
    last admission had to wait), the worker claims none of its jobs as long as one is
    already on its way (``entering``: claimed, not yet admitted) or waiting. One such
    job keeps the pool at its pace; more would only sit in ``processing``.
    """

    key: str
    slots: asyncio.Semaphore | None = None
    line: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0
    entering: int = 0
    saturated: bool = False
    #: Called when no job of the pool is on its way: the worker may claim for it again.
    on_free: Callable[[], None] = lambda: None

    @property
    def held(self) -> bool:
        return self.saturated and (self.waiting > 0 or self.entering > 0)

    def settle(self) -> None:
        if self.waiting == 0 and self.entering == 0:
            self.on_free()


class Admission:
    """A claimed job counted as ``entering`` its pool until it is admitted to its call,
    or ends without one; closing is idempotent."""

    def __init__(self, state: PoolState) -> None:
        self.state = state
        self.open = True
        state.entering += 1

    def close(self) -> None:
        if self.open:
            self.open = False
            self.state.entering -= 1
            self.state.settle()


_admission: ContextVar[Admission | None] = ContextVar("enricher_admission", default=None)


@contextmanager
def admitting(admission: Admission | None) -> Iterator[None]:
    """Run a job with its admission, closed when it is admitted or, at the latest, here."""
    token = _admission.set(admission)
    try:
        yield
    finally:
        _admission.reset(token)
        if admission is not None:
            admission.close()


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

    def known_paused(self, scopes: Sequence[str], now: datetime) -> bool:
        """Whether any of ``scopes`` is paused, as far as this worker knows without a
        read: what it read last, and pauses it decided that may not be committed yet."""
        return any((until := self._until.get(s)) is not None and until > now for s in scopes)

    async def check(self, scopes: Sequence[str]) -> None:
        """Raise :class:`ScopePaused` if any of ``scopes`` is paused now."""
        now = self.clock()
        if self._read_at is None or (now - self._read_at).total_seconds() >= self.refresh_s:
            await self._refresh(now)
        for scope in scopes:
            until = self._until.get(scope)
            if until is not None and until > now:
                if is_spend_scope(scope):
                    reason = f"{scope} is paused: spend cap reached"
                    raise ScopePaused(scope, until, reason=reason, retry_at=now)
                raise ScopePaused(scope, until)

    async def _refresh(self, now: datetime) -> None:
        rows = await store.pauses.active(self.db, now=now)
        fresh = {row["scope"]: parse_timestamp(row["paused_until"]) for row in rows}
        local = {scope: until for scope, until in self._until.items() if until > now}
        self._until = {scope: until for scope, until in fresh.items() if until is not None}
        self.note(Pause(scope, until, "") for scope, until in local.items())
        self._read_at = now


class SpendCheck(Protocol):
    """The spend caps' check before a call (:class:`enricher.throttle.spend.SpendGuard`)."""

    async def check(self, provider: str, model: str, request: GenerationRequest) -> None: ...


class GuardedProvider:
    """A provider whose every call passes the pause gate, the pool's concurrency limit
    and the shared rate budget first, and reports back what the call used.

    The waits stop the job's clock (:mod:`enricher.deadline`), and none lasts longer
    than ``MAX_POOL_WAIT_S``: a job that would wait longer goes back to the queue.
    """

    def __init__(
        self,
        inner: Provider,
        gate: PauseGate,
        scopes: Sequence[str],
        *,
        budget: RateBudget | None = None,
        pool: Pool | None = None,
        state: PoolState | None = None,
        stopping: asyncio.Event | None = None,
        max_wait_s: float = MAX_POOL_WAIT_S,
        spend: SpendCheck | None = None,
        provider: str = "",
        model: str = "",
    ) -> None:
        self.inner = inner
        self.spend = spend
        #: The configured provider and model: the spend caps' and the fallbacks' names.
        self.provider = provider or inner.name
        self.model = model
        self.gate = gate
        self.scopes = tuple(scopes)
        self.budget = budget
        self.pool = pool
        self.state = state
        self.stopping = stopping or asyncio.Event()
        self.max_wait_s = max_wait_s
        self.name = inner.name

    async def check(self, request: GenerationRequest) -> None:
        """What a call must pass before it is sent: no pause on its scopes, and no spend
        cap it would reach (raises ScopePaused). A batch-mode request passes it before
        it is collected, so a cap stops batches as it stops calls."""
        await self.gate.check(self.scopes)
        if self.spend is not None:
            await self.spend.check(self.provider, self.model, request)

    async def generate(self, request: GenerationRequest) -> Generation:
        await self.check(request)
        state = self.state
        if state is None:
            return await self.inner.generate(request)
        reservation = await self._admit(state, request)
        try:
            return await self._call(request, reservation)
        finally:
            if state.slots is not None:
                state.slots.release()

    async def _admit(self, state: PoolState, request: GenerationRequest) -> Reservation | None:
        """Wait, with the job's clock stopped, for a slot and room in the budget; holds a
        slot on return (when the pool has slots)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        holds_slot = False
        state.waiting += 1
        try:
            with stopped():
                waited = False
                if state.slots is not None:
                    waited = state.slots.locked()
                    await self._in_time(state.slots.acquire(), deadline, "a free slot")
                    holds_slot = True
                reservation = None
                if self.budget is not None and self.pool is not None:
                    need = Need(
                        estimate_tokens(request.system + request.prompt),
                        request.max_output_tokens,
                    )
                    waited |= state.line.locked()
                    await self._in_time(state.line.acquire(), deadline, "its turn at the budget")
                    try:
                        await self.gate.check(self.scopes)  # paused while it stood in line?
                        reservation, refused = await self._reserve(
                            self.budget, self.pool, need, deadline
                        )
                        waited |= refused
                    finally:
                        state.line.release()
                state.saturated = waited
                return reservation
        except BaseException:
            state.saturated = True
            if holds_slot:
                assert state.slots is not None
                state.slots.release()
            raise
        finally:
            state.waiting -= 1
            if (admission := _admission.get()) is not None:
                admission.close()
            state.settle()

    async def _in_time(self, acquire: Awaitable[object], deadline: float, what: str) -> None:
        """Await ``acquire`` until ``deadline``; past it, hand the job back."""
        left = deadline - asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(acquire, max(left, 0.0))
        except TimeoutError:
            raise self._busy(f"waited {self.max_wait_s:g} s for {what}") from None

    def _busy(self, why: str, wait_s: float | None = None) -> ScopePaused:
        pool = self.pool.key if self.pool else (self.state.key if self.state else "?")
        until = self.gate.clock() + timedelta(seconds=wait_s or self.max_wait_s)
        return ScopePaused(f"budget:{pool}", until, reason=f"pool {pool} busy: {why}")

    async def _call(
        self, request: GenerationRequest, reservation: Reservation | None
    ) -> Generation:
        budget, pool = self.budget, self.pool
        if budget is None or pool is None or reservation is None:
            return await self.inner.generate(request)
        sent_at = self.gate.clock()
        try:
            generation = await self.inner.generate(request)
        except RateLimited as exc:
            await budget.refused(pool, reservation, exc.headers, sent_at)
            raise
        except Exception:
            if not reservation.paced:  # a failed probe: the next call probes at once
                await budget.release(reservation)
            raise
        usage = generation.usage
        await budget.reconcile(
            reservation,
            Need(usage.input_tokens, usage.output_tokens),
            output_budget=pool.counts_output_budget,
        )
        await budget.learn(pool, generation.headers, sent_at)
        return generation

    async def _reserve(
        self, budget: RateBudget, pool: Pool, need: Need, deadline: float
    ) -> tuple[Reservation, bool]:
        """Wait, outside any transaction, until the budget has room; shutdown ends the
        wait, and so does a wait that would pass ``deadline``. Says whether it waited."""
        loop = asyncio.get_running_loop()
        refused = False
        while not (reservation := await budget.reserve(pool, need)).granted:
            refused = True
            wait_s = reservation.wait_s
            if wait_s > self.max_wait_s:
                # The minute is spent for everyone: announce it, so that no worker claims
                # this pool's jobs (or calls it) until there is room.
                # It ends ANNOUNCE_LEAD before the room frees, so jobs stand in line then.
                # It starts once the minute's last admitted call has had its SEND_MARGIN
                # to reach the provider: announced a few ms after that call's reservation,
                # the pause was in force when the call arrived (it was admitted, and
                # counted, but a pause must mean that nothing of the pool goes out).
                until = self.gate.clock() + timedelta(seconds=wait_s) - ANNOUNCE_LEAD
                if reservation.newest_at is not None:
                    settle = reservation.newest_at + SEND_MARGIN - self.gate.clock()
                    await asyncio.sleep(max(0.0, settle.total_seconds()))
                raise ScopePaused(
                    self._provider_scope,
                    until,
                    reason=f"rate budget of {pool.key} spent for {wait_s:.1f} s",
                    announce=True,
                )
            if loop.time() + wait_s > deadline:
                raise self._busy(f"would wait {wait_s:.1f} s more for its rate budget", wait_s)
            log.debug("budget_wait", pool=pool.key, wait_s=round(wait_s, 3))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), min(wait_s, 5.0))
            if self.stopping.is_set():  # shutting down: give the job back, it cost nothing
                until = self.gate.clock() + timedelta(seconds=wait_s)
                raise ScopePaused(f"budget:{pool.key}", until, reason="worker shutting down")
            await self.gate.check(self.scopes)
        return reservation, refused

    def known_paused(self, now: datetime) -> bool:
        """Whether this worker already knows one of the scopes to be paused."""
        return self.gate.known_paused(self.scopes, now)

    @property
    def _provider_scope(self) -> str:
        return next((s for s in self.scopes if s.startswith("provider:")), self.scopes[-1])

    async def aclose(self) -> None:
        await self.inner.aclose()
