"""One guarded provider per task type, and the saturation of each provider pool.

A job's provider call passes its pauses, its pool's ``max_in_flight`` slots and its
share of the rate budget (:class:`~enricher.throttle.pauses.GuardedProvider`). This
module builds that guard once per task type and worker (settings are frozen, and
building it per job cost a fifth of a no-op job's CPU), and keeps one
:class:`~enricher.throttle.pauses.PoolState` per pool (provider, base_url, model), so
the claim loop can size its claims to what each pool can start (docs/architecture.md,
"Throttling").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from enricher.clock import Clock
from enricher.config import EffectiveTask, ProviderSettings, Settings
from enricher.db import Connector
from enricher.models import provider_scope, task_scope
from enricher.provider_pool import ProviderPool
from enricher.throttle.budget import Pool, RateBudget, pool_key
from enricher.throttle.fallback import FallbackProvider
from enricher.throttle.pauses import GuardedProvider, PauseGate, PoolState
from enricher.throttle.spend import SpendGuard, spend_scopes

#: What a job calls: one guarded pool, or a task's chain of them.
Guarded = GuardedProvider | FallbackProvider


class ProviderGuards:
    """The guarded provider of each task type, built on first use and kept."""

    def __init__(
        self,
        settings: Settings,
        providers: ProviderPool,
        gate: PauseGate,
        budget: RateBudget,
        clock: Clock,
        *,
        on_free: Callable[[], None],
        stopping: asyncio.Event,
        db: Connector | None = None,
        spend: SpendGuard | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.spend = spend
        self.providers = providers
        self.gate = gate
        self.budget = budget
        self.clock = clock
        self._on_free = on_free
        self._stopping = stopping
        self._pools: dict[str, PoolState] = {}
        self._pool_tasks: dict[str, set[str]] = {}
        self._prepared: dict[str, tuple[EffectiveTask, Guarded]] = {}

    def prepared(self, task_type: str) -> tuple[EffectiveTask, Guarded]:
        """The task type's merged settings and its guarded provider (its chain of pools,
        when it has fallbacks)."""
        prepared = self._prepared.get(task_type)
        if prepared is None:
            task = self.settings.for_task(task_type)
            prepared = (task, self._chain(task))
            self._prepared[task_type] = prepared
        return prepared

    def pool_scopes(self, task: EffectiveTask) -> list[list[str]]:
        """The scopes that stop each pool of the task's chain, for the claim: a job is
        claimable while one pool has none of its scopes paused."""
        return [list(self._pool_scopes(p)) for p in (task.provider, *task.fallbacks)]

    def _pool_scopes(self, settings: ProviderSettings) -> tuple[str, ...]:
        spend = spend_scopes(self.settings.budget, settings.name) if self.spend else ()
        return (provider_scope(settings.name, settings.model), *spend)

    def _chain(self, task: EffectiveTask) -> Guarded:
        primary = self._guarded(task.task_type, task.provider)
        if not task.fallbacks:
            return primary
        if self.db is None:
            raise RuntimeError("a task with fallbacks needs the database for its pauses")
        chain = [primary]
        chain += [self._guarded(task.task_type, p, holds=False) for p in task.fallbacks]
        worker = self.settings.worker
        return FallbackProvider(
            chain,
            self.db,
            self.clock,
            max_output_tokens=[p.max_output_tokens for p in (task.provider, *task.fallbacks)],
            rate_limit_default_pause_s=worker.rate_limit_default_pause_s,
            provider_halt_pause_s=worker.provider_halt_pause_s,
        )

    def pool_state(self, task_type: str) -> PoolState | None:
        """The pool a task type's jobs count against, once its guard exists."""
        prepared = self._prepared.get(task_type)
        return prepared[1].state if prepared else None

    def any_saturated(self) -> bool:
        """A pool whose calls had to wait and that can start one more job now."""
        return any(state.saturated and not state.held for state in self._pools.values())

    def held_task_types(self) -> list[str]:
        """Task types not to claim now, sorted: those whose pool already has a job
        of ours on its way while it is saturated (see :class:`PoolState`), and those
        under a pause this worker decided a moment ago, which the claim's SQL cannot see
        until it is committed."""
        held = {
            task
            for key, state in self._pools.items()
            if state.held
            for task in self._pool_tasks.get(key, ())
        }
        now = self.clock()
        held.update(
            task for task, (_, guarded) in self._prepared.items() if guarded.known_paused(now)
        )
        return sorted(held)

    def _guarded(
        self, task_type: str, settings: ProviderSettings, *, holds: bool = True
    ) -> GuardedProvider:
        """The job's provider behind its pauses, its spend caps, its pool's slots and its
        rate budget. ``holds``: a saturated pool holds the task type back from claims
        (not so for a fallback's pool: the primary's decides).

        The offline ``local`` provider has no pool, no budget and no cost: it only
        honours pauses (an operator's pause of its task type still holds it).
        """
        scopes = (task_scope(task_type), *self._pool_scopes(settings))
        inner = self.providers.get(settings)
        name, model = settings.name, settings.model
        if name == "local":
            return GuardedProvider(inner, self.gate, scopes, provider=name, model=model)
        key = pool_key(settings.name, settings.base_url, settings.model)
        state = self._pools.get(key)
        if state is None:
            slots = asyncio.Semaphore(settings.max_in_flight) if settings.max_in_flight else None
            state = self._pools[key] = PoolState(key, slots, on_free=self._on_free)
        if holds:
            self._pool_tasks.setdefault(key, set()).add(task_type)
        return GuardedProvider(
            inner,
            self.gate,
            scopes,
            budget=self.budget if settings.rate_budget else None,
            pool=Pool(
                key,
                settings.rpm,
                settings.tpm,
                settings.rate_limit_target,
                settings.input_tpm,
                settings.output_tpm,
            ),
            state=state,
            stopping=self._stopping,
            spend=self.spend,
            provider=name,
            model=model,
        )
