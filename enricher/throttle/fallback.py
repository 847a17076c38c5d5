"""Model fallbacks: a task's chain of pools, the first one free taking the call.

A task with ``fallback`` entries calls its own pool while it can; while that pool is
paused (a 429, a halted key, a spent budget), overloaded (529, or a 503 "queue full")
or too busy to admit the job within ``MAX_POOL_WAIT_S``, the job goes to the next pool
of the chain that is not, instead of waiting. Each job starts from the head of the
chain, so the primary takes the calls back as soon as its pause ends or is lifted.

What a pool's failure teaches is written at once, in its own short transaction, and
noted in this worker's gate: the job itself may well complete on a later pool, and
every worker must still stop claiming for (and calling) the paused one. When every
pool is unavailable the job goes back ``rate_limited`` as it would without a chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from enricher.clock import Clock
from enricher.db import Connector, store
from enricher.models import Pause, provider_scope
from enricher.providers.base import Generation, GenerationRequest
from enricher.providers.errors import ProviderError, ProviderHalted, RateLimited
from enricher.throttle.pauses import GuardedProvider, PauseGate, PoolState, ScopePaused

log = structlog.get_logger("enricher.fallback")

#: How long an overloaded (529) provider is passed over when a fallback can take its
#: calls; it said nothing about when it recovers, and the pause is only for this model.
OVERLOAD_PAUSE_S = 10.0


class FallbackProvider:
    """A task's pools in order; :meth:`generate` calls the first that can take it."""

    def __init__(
        self,
        chain: Sequence[GuardedProvider],
        db: Connector,
        clock: Clock,
        *,
        max_output_tokens: Sequence[int],
        rate_limit_default_pause_s: float,
        provider_halt_pause_s: float,
    ) -> None:
        assert len(chain) > 1, "a fallback provider needs a chain"
        assert len(max_output_tokens) == len(chain)
        self.chain = tuple(chain)
        #: Each pool's own output budget: the request is built with the primary's.
        self.max_output_tokens = tuple(max_output_tokens)
        self.db = db
        self.clock = clock
        self.rate_limit_default_pause_s = rate_limit_default_pause_s
        self.provider_halt_pause_s = provider_halt_pause_s
        primary = self.chain[0]
        self.gate: PauseGate = primary.gate
        self.name = primary.name
        #: The claim counts a job against its primary's pool (see PoolState).
        self.state: PoolState | None = primary.state
        self.scopes = primary.scopes

    async def generate(self, request: GenerationRequest) -> Generation:
        held: list[ScopePaused] = []
        last = len(self.chain) - 1
        for index, guarded in enumerate(self.chain):
            if index:  # the handler named the primary's model; this pool has its own
                request = replace(
                    request, model=guarded.model, max_output_tokens=self.max_output_tokens[index]
                )
            try:
                generation = await guarded.generate(request)
            except ScopePaused as exc:
                if exc.announce:
                    await self._pause(Pause(exc.scope, exc.until, exc.reason))
                held.append(exc)
                if guarded.stopping.is_set():
                    raise  # the worker is shutting down: give the job back, try no other pool
                if index == last:
                    raise self._all_held(held) from exc
                self._passed(guarded, exc.reason)
                continue
            except ProviderError as exc:
                pause = self._unavailable(guarded, exc)
                if pause is None or index == last:
                    raise  # classified as without a chain; the last pool's pause with it
                await self._pause(pause)
                self._passed(guarded, str(exc))
                continue
            if index:
                log.info(
                    "fallback_answered",
                    provider=guarded.provider,
                    model=guarded.model,
                    primary=f"{self.chain[0].provider}:{self.chain[0].model}",
                )
            return generation
        raise AssertionError("unreachable: the last pool raises or answers")

    def _unavailable(self, guarded: GuardedProvider, exc: ProviderError) -> Pause | None:
        """The pause for a pool that cannot take calls now; None for any other error,
        which belongs to the job (a bad request fails on every pool alike)."""
        now = self.clock()
        scope = provider_scope(guarded.provider, guarded.model)
        if isinstance(exc, RateLimited):
            wait = exc.retry_after_s
            wait = self.rate_limit_default_pause_s if wait is None else wait
            return Pause(scope, now + timedelta(seconds=wait), f"rate limited: {exc}")
        if isinstance(exc, ProviderHalted):
            log.error(
                "provider_halted",
                provider=guarded.provider,
                model=guarded.model,
                reason=str(exc),
                pause_s=self.provider_halt_pause_s,
            )
            until = now + timedelta(seconds=self.provider_halt_pause_s)
            return Pause(scope, until, f"provider {guarded.provider} halted: {exc}")
        if exc.status == 529:
            until = now + timedelta(seconds=OVERLOAD_PAUSE_S)
            return Pause(scope, until, f"overloaded: {exc}")
        return None

    async def _pause(self, pause: Pause) -> None:
        """Pause the scope for every worker now, and for this one before it commits."""
        self.gate.note([pause])
        async with self.db.transaction() as tx:
            await store.pauses.upsert(
                tx,
                scope=pause.scope,
                paused_until=pause.until,
                reason=pause.reason,
                now=self.clock(),
            )
        log.warning(
            "provider_paused", scope=pause.scope, until=pause.until.isoformat(), reason=pause.reason
        )

    def _passed(self, guarded: GuardedProvider, why: str) -> None:
        log.info("pool_passed_over", provider=guarded.provider, model=guarded.model, reason=why)

    def _all_held(self, held: list[ScopePaused]) -> ScopePaused:
        """Every pool held the job back: it is due again when the first may take it."""
        first = min(held, key=lambda exc: exc.retry_at)
        reasons = "; ".join(exc.reason for exc in held)
        return ScopePaused(
            first.scope,
            first.until,
            reason=f"every pool of the fallback chain is paused ({reasons})",
            retry_at=first.retry_at,
        )

    def known_paused(self, now: datetime) -> bool:
        """Whether this worker already knows every pool of the chain to be paused."""
        return all(guarded.known_paused(now) for guarded in self.chain)

    async def aclose(self) -> None:
        for guarded in self.chain:
            await guarded.aclose()
