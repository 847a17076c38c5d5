"""Spend caps: a UTC day's or month's cost, in total or per provider, paused when spent.

Spend is measured, not kept: the stored ``cost_usd`` of the jobs that finished in the
period (``spend_by_provider``, on the partial index of finished jobs). Reading it per
job would put a SUM on the hot path, so each worker keeps the figure and reads it
again at most every ``refresh_s`` (the month before today once a day, today's part each
time; ``[budget] check_s``), at once when a call's estimated cost would reach a cap from
the kept figure, and adds its own completions to the figure as they are written.
When a cap is reached, its scope (``spend:total`` or ``spend:<provider>``) is paused in
``ai_pauses`` until the period ends: the claim skips the pools it covers for every
worker, and the job that found it goes back unsent, its attempt not consumed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog

from enricher.clock import Clock
from enricher.config import BudgetSettings, Price, SpendCap
from enricher.db import Connector, Row, store
from enricher.models import Pause, spend_scope
from enricher.pricing import cost_usd
from enricher.providers.base import GenerationRequest, Usage, estimate_tokens
from enricher.throttle.pauses import PauseGate, ScopePaused

log = structlog.get_logger("enricher.spend")

Period = Literal["day", "month"]


@dataclass(frozen=True)
class Cap:
    """One configured cap: ``provider`` None is the total."""

    provider: str | None
    period: Period
    limit_usd: float

    @property
    def scope(self) -> str:
        return spend_scope(self.provider)


def caps_of(budget: BudgetSettings) -> list[Cap]:
    """Every cap the config sets."""
    entries: list[tuple[str | None, SpendCap]] = [(None, budget), *budget.providers.items()]
    caps: list[Cap] = []
    for provider, cap in entries:
        if cap.daily_usd:
            caps.append(Cap(provider, "day", cap.daily_usd))
        if cap.monthly_usd:
            caps.append(Cap(provider, "month", cap.monthly_usd))
    return caps


def spend_scopes(budget: BudgetSettings, provider: str) -> tuple[str, ...]:
    """The spend scopes that stop a pool of ``provider`` (none for ``local``: it is free)."""
    if provider == "local":
        return ()
    return tuple(sorted({cap.scope for cap in caps_of(budget) if cap.provider in (None, provider)}))


def period_bounds(now: datetime, period: Period) -> tuple[datetime, datetime]:
    """The UTC day or month ``now`` falls in: [start, end)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    month = day.replace(day=1)
    following = (month + timedelta(days=32)).replace(day=1)
    return month, following


class SpendGuard:
    """One worker's view of the spend against the configured caps."""

    def __init__(
        self,
        db: Connector,
        clock: Clock,
        budget: BudgetSettings,
        prices: Mapping[str, Price],
        gate: PauseGate,
    ) -> None:
        self.db = db
        self.clock = clock
        self.caps = caps_of(budget)
        self.prices = prices
        self.gate = gate
        self.refresh_s = budget.check_s
        self._monthly = any(cap.period == "month" for cap in self.caps)
        self._read_at: datetime | None = None
        self._today: dict[str, float] = {}
        self._before_today: dict[str, float] = {}
        self._before_today_of: datetime | None = None
        self._reading = asyncio.Lock()

    async def check(self, provider: str, model: str, request: GenerationRequest) -> None:
        """Raise :class:`ScopePaused` when a cap covering ``provider`` is spent.

        The kept figure is read again when it is older than ``refresh_s``, or when this
        call's estimated cost would reach a cap from it: near a cap every call reads,
        far from it hardly any does.
        """
        caps = [cap for cap in self.caps if cap.provider in (None, provider)]
        if not caps:
            return
        now = self.clock()
        if self._read_at is None or (now - self._read_at).total_seconds() >= self.refresh_s:
            await self._refresh(now)
        estimate = self._estimate(model, request)
        if any(self.spent(c) + estimate >= c.limit_usd for c in caps):
            await self._refresh(now, near_cap=True)
        for cap in caps:
            spent = self.spent(cap)
            if spent >= cap.limit_usd:
                await self._exhausted(cap, spent, now)

    def note(self, provider: str, cost: float) -> None:
        """This worker's own completion, written a moment ago: counted before the next
        read (which then counts it itself), so one worker never outruns its own figure."""
        self._today[provider] = self._today.get(provider, 0.0) + cost

    def spent(self, cap: Cap) -> float:
        """The cap's period's spend, as last read."""
        parts = [self._today] if cap.period == "day" else [self._today, self._before_today]
        if cap.provider is None:
            return sum(sum(part.values()) for part in parts)
        return sum(part.get(cap.provider, 0.0) for part in parts)

    def _estimate(self, model: str, request: GenerationRequest) -> float:
        tokens = estimate_tokens(request.system + request.prompt)
        return cost_usd(model, Usage(tokens, request.max_output_tokens), self.prices) or 0.0

    async def _refresh(self, now: datetime, *, near_cap: bool = False) -> None:
        """Read the spend, once for all the jobs that find the figure stale together: a
        job that waited for another's read started at or after its own ``now`` uses it."""
        async with self._reading:
            read_at = self._read_at
            if read_at is not None:
                age_s = (now - read_at).total_seconds()
                if age_s <= 0 or (not near_cap and age_s < self.refresh_s):
                    return
            await self._read(now)

    async def _read(self, now: datetime) -> None:
        day, tomorrow = period_bounds(now, "day")
        rows = await store.pauses.spend_by_provider(self.db, since=day, until=tomorrow)
        self._today = _by_provider(rows)
        if self._monthly and self._before_today_of != day:
            # Jobs finished before today no longer change: read them once a day.
            month, _ = period_bounds(now, "month")
            rows = await store.pauses.spend_by_provider(self.db, since=month, until=day)
            self._before_today = _by_provider(rows)
            self._before_today_of = day
        self._read_at = now

    async def _exhausted(self, cap: Cap, spent: float, now: datetime) -> None:
        """Pause the cap's scope until its period ends, say so once, hold the job back."""
        _, until = period_bounds(now, cap.period)
        who = "in total" if cap.provider is None else f"on {cap.provider}"
        reason = (
            f"spend cap reached: ${spent:.4f} spent {who} this {cap.period}, "
            f"cap ${cap.limit_usd:g}"
        )
        async with self.db.transaction() as tx:
            started = await store.pauses.start(
                tx, scope=cap.scope, paused_until=until, reason=reason, now=now
            )
        self.gate.note([Pause(cap.scope, until, reason)])
        if started:
            log.warning(
                "budget_exhausted",
                scope=cap.scope,
                period=cap.period,
                spent_usd=round(spent, 6),
                cap_usd=cap.limit_usd,
                paused_until=until.isoformat(),
            )
        # The job is due again at once: the pause, not its run_after, keeps it waiting,
        # so an operator who lifts the pause lets it run without delay.
        raise ScopePaused(cap.scope, until, reason=reason, retry_at=now)


def _by_provider(rows: list[Row]) -> dict[str, float]:
    return {str(row["provider"]): float(row["cost_usd"] or 0) for row in rows}
