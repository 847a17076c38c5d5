"""Rate budgets shared by every worker: reserve before a call, reconcile after it.

A provider pool (provider, base_url, model) has requests- and tokens-per-minute
limits, configured or learned from the provider's rate-limit headers. Before a
call, a worker reserves one request and the estimated tokens in a short
transaction (the pool's row lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite);
when the last minute's usage leaves no room, it learns how long to wait and waits
outside the transaction. After the call the reservation is reconciled with the
real usage. Reservations are rows with a timestamp that only count inside the
rolling minute, so a crashed worker's reservation lapses on its own.

The pace aims at ``rate_limit_target`` of the limit, times an adaptive factor:
each 429 multiplies it by 0.8, and every clean minute since the last 429 gives
back 0.1 of it, up to 1.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from db import Connector
from enricher.clock import Clock, parse_timestamp

log = structlog.get_logger("enricher.budget")

WINDOW = timedelta(seconds=60)
SLOWDOWN = 0.8
RECOVERY_PER_MINUTE = 0.1
MIN_FACTOR = 0.2


@dataclass(frozen=True)
class Pool:
    """One provider pool and what its config says about its limits."""

    key: str
    rpm: int | None = None
    tpm: int | None = None
    target: float = 0.95


@dataclass(frozen=True)
class Reservation:
    """Room was found (``usage_id`` set), or none and ``wait_s`` says how long to wait."""

    usage_id: str | None
    wait_s: float = 0.0

    @property
    def granted(self) -> bool:
        return self.wait_s <= 0


def pool_key(provider: str, base_url: str, model: str) -> str:
    return f"{provider}|{base_url}|{model}"


def effective_factor(factor: float, last_limited_at: datetime | None, now: datetime) -> float:
    """The stored factor, recovered by the clean minutes since the last 429."""
    if last_limited_at is None:
        return min(1.0, factor)
    clean_minutes = math.floor((now - last_limited_at) / WINDOW)
    return min(1.0, factor + RECOVERY_PER_MINUTE * max(0, clean_minutes))


def wait_for_room(
    usage: list[tuple[datetime, int, int]], now: datetime, requests_over: int, tokens_over: int
) -> float:
    """Seconds until enough of the window's usage has aged out to fit one more call."""
    waits = [0.0]
    freed_requests = freed_tokens = 0
    for used_at, requests, tokens in usage:  # oldest first
        if freed_requests >= requests_over and freed_tokens >= tokens_over:
            break
        freed_requests += requests
        freed_tokens += tokens
        waits.append((used_at + WINDOW - now).total_seconds())
    return max(waits)


class RateBudget:
    """One worker's access to the shared budgets."""

    def __init__(self, db: Connector, clock: Clock, worker_id: str) -> None:
        self.db = db
        self.clock = clock
        self.worker_id = worker_id
        self._declared: set[str] = set()

    async def reserve(self, pool: Pool, tokens: int) -> Reservation:
        """Take one request and ``tokens`` from the pool's minute, or say how long to wait."""
        now = self.clock()
        async with self.db.transaction() as tx:
            if pool.key not in self._declared or pool.rpm or pool.tpm:
                await tx.execute(
                    "upsert_rate_limit",
                    {
                        "pool_key": pool.key,
                        "rpm": pool.rpm,
                        "tpm": pool.tpm,
                        "source": "config" if (pool.rpm or pool.tpm) else "headers",
                        "now": now,
                    },
                )
            row = await tx.fetchrow("lock_rate_limit", {"pool_key": pool.key})
            assert row is not None
            rpm, tpm = row["rpm"], row["tpm"]
            if not rpm and not tpm:
                self._declared.add(pool.key)
                return Reservation(None)  # no known limit: nothing to pace
            factor = effective_factor(
                float(row["factor"]), parse_timestamp(row["last_limited_at"]), now
            )
            usage = [
                (parse_timestamp(r["used_at"]) or now, int(r["requests"]), int(r["tokens"]))
                for r in await tx.fetch(
                    "rate_usage_window", {"pool_key": pool.key, "since": now - WINDOW}
                )
            ]
            requests_over = tokens_over = 0
            if rpm:
                allowed = max(1, math.floor(rpm * pool.target * factor))
                requests_over = sum(u[1] for u in usage) + 1 - allowed
            if tpm:
                allowed_tokens = max(1, math.floor(tpm * pool.target * factor))
                tokens_over = sum(u[2] for u in usage) + tokens - allowed_tokens
            if requests_over > 0 or tokens_over > 0:
                wait = wait_for_room(usage, now, max(0, requests_over), max(0, tokens_over))
                return Reservation(None, wait_s=max(wait, 0.05))
            usage_id = str(uuid.uuid4())
            await tx.execute(
                "insert_rate_usage",
                {
                    "usage_id": usage_id,
                    "pool_key": pool.key,
                    "worker_id": self.worker_id,
                    "now": now,
                    "requests": 1,
                    "tokens": tokens,
                },
            )
            await tx.execute(
                "forget_rate_usage", {"pool_key": pool.key, "before": now - 2 * WINDOW}
            )
        self._declared.add(pool.key)
        return Reservation(usage_id)

    async def reconcile(self, reservation: Reservation, tokens: int) -> None:
        """Replace the reservation's estimate with what the call really used."""
        if reservation.usage_id is not None:
            await self.db.execute(
                "reconcile_rate_usage", {"usage_id": reservation.usage_id, "tokens": tokens}
            )

    async def rate_limited(self, pool: Pool) -> float:
        """A 429 arrived: slow the pool's pace for every worker; returns the new factor."""
        now = self.clock()
        async with self.db.transaction() as tx:
            await tx.execute(
                "upsert_rate_limit",
                {
                    "pool_key": pool.key,
                    "rpm": pool.rpm,
                    "tpm": pool.tpm,
                    "source": "config" if (pool.rpm or pool.tpm) else "headers",
                    "now": now,
                },
            )
            row = await tx.fetchrow("lock_rate_limit", {"pool_key": pool.key})
            assert row is not None
            factor = max(
                MIN_FACTOR,
                SLOWDOWN
                * effective_factor(
                    float(row["factor"]), parse_timestamp(row["last_limited_at"]), now
                ),
            )
            await tx.execute(
                "rate_limited_pool", {"pool_key": pool.key, "factor": factor, "now": now}
            )
        log.warning("provider_rate_limited", pool=pool.key, factor=round(factor, 3))
        return factor

    async def learn(self, pool: Pool, headers: Mapping[str, str]) -> None:
        """Take limits the provider announced (when none are configured) and clamp to what
        it says remains, so every worker's view matches the provider's own."""
        limits = announced_limits(headers)
        if limits.rpm is None and limits.tpm is None:
            return
        now = self.clock()
        async with self.db.transaction() as tx:
            await tx.execute(
                "upsert_rate_limit",
                {
                    "pool_key": pool.key,
                    "rpm": limits.rpm,
                    "tpm": limits.tpm,
                    "source": "headers",
                    "now": now,
                },
            )
            usage = await tx.fetch(
                "rate_usage_window", {"pool_key": pool.key, "since": now - WINDOW}
            )
            seen_requests = sum(int(r["requests"]) for r in usage)
            seen_tokens = sum(int(r["tokens"]) for r in usage)
            missing_requests = (
                limits.rpm - limits.remaining_requests - seen_requests
                if limits.rpm is not None and limits.remaining_requests is not None
                else 0
            )
            missing_tokens = (
                limits.tpm - limits.remaining_tokens - seen_tokens
                if limits.tpm is not None and limits.remaining_tokens is not None
                else 0
            )
            if missing_requests > 0 or missing_tokens > 0:
                await tx.execute(
                    "insert_rate_usage",
                    {
                        "usage_id": str(uuid.uuid4()),
                        "pool_key": pool.key,
                        "worker_id": "provider-headers",
                        "now": now,
                        "requests": max(0, missing_requests),
                        "tokens": max(0, missing_tokens),
                    },
                )


@dataclass(frozen=True)
class Announced:
    rpm: int | None = None
    tpm: int | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None


def _int(headers: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = headers.get(name)
        if value is not None:
            try:
                return int(float(value))
            except ValueError:
                continue
    return None


def announced_limits(headers: Mapping[str, str]) -> Announced:
    """Limits and remaining quota from OpenAI's or Anthropic's rate-limit headers."""
    lower = {k.lower(): v for k, v in headers.items()}
    return Announced(
        rpm=_int(lower, "x-ratelimit-limit-requests", "anthropic-ratelimit-requests-limit"),
        tpm=_int(lower, "x-ratelimit-limit-tokens", "anthropic-ratelimit-tokens-limit"),
        remaining_requests=_int(
            lower, "x-ratelimit-remaining-requests", "anthropic-ratelimit-requests-remaining"
        ),
        remaining_tokens=_int(
            lower, "x-ratelimit-remaining-tokens", "anthropic-ratelimit-tokens-remaining"
        ),
    )
