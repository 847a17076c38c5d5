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
from enricher.models import provider_scope, task_scope
from enricher.provider_pool import ProviderPool
from enricher.throttle.budget import Pool, RateBudget, pool_key
from enricher.throttle.pauses import GuardedProvider, PauseGate, PoolState


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
    ) -> None:
        self.settings = settings
        self.providers = providers
        self.gate = gate
        self.budget = budget
        self.clock = clock
        self._on_free = on_free
        self._stopping = stopping
        self._pools: dict[str, PoolState] = {}
        self._pool_tasks: dict[str, set[str]] = {}
        self._prepared: dict[str, tuple[EffectiveTask, GuardedProvider]] = {}

    def prepared(self, task_type: str) -> tuple[EffectiveTask, GuardedProvider]:
        """The task type's merged settings and its guarded provider."""
        prepared = self._prepared.get(task_type)
        if prepared is None:
            task = self.settings.for_task(task_type)
            prepared = (task, self._guarded(task_type, task.provider))
            self._prepared[task_type] = prepared
        return prepared

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
            task
            for task, (_, guarded) in self._prepared.items()
            if self.gate.known_paused(guarded.scopes, now)
        )
        return sorted(held)

    def _guarded(self, task_type: str, settings: ProviderSettings) -> GuardedProvider:
        """The job's provider behind its pauses, its pool's slots and its rate budget.

        The offline ``local`` provider has no pool and no budget: it only honours
        pauses (an operator's pause of its task type still holds it).
        """
        scopes = (task_scope(task_type), provider_scope(settings.name, settings.model))
        inner = self.providers.get(settings)
        if settings.name == "local":
            return GuardedProvider(inner, self.gate, scopes)
        key = pool_key(settings.name, settings.base_url, settings.model)
        state = self._pools.get(key)
        if state is None:
            slots = asyncio.Semaphore(settings.max_in_flight) if settings.max_in_flight else None
            state = self._pools[key] = PoolState(key, slots, on_free=self._on_free)
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
        )
