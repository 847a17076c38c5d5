"""Shared rate budgets: reservations, lapses, reconciliation, learning, adaptive pace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from enricher.app import Enricher
from enricher.clock import format_timestamp
from enricher.throttle.budget import (
    WINDOW,
    Need,
    Pool,
    RateBudget,
    announced_limits,
    effective_factor,
)
from tests.backends import DbTarget
from tests.hostdb import HostDb

POOL = Pool("openai|http://x/v1|gpt-4o-mini", rpm=10, tpm=1000, target=1.0)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_reservations_stop_at_the_limit_and_say_how_long_to_wait(
    app: Enricher, clock: Clock
) -> None:
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    for _ in range(10):
        assert (await budget.reserve(POOL, Need(10, 0))).granted
        clock.advance(1)
    refused = await budget.reserve(POOL, Need(10, 0))
    assert not refused.granted and refused.usage_id is None
    assert refused.wait_s == pytest.approx(50.0)  # the first reservation ages out at t=60
    clock.advance(50.01)
    assert (await budget.reserve(POOL, Need(10, 0))).granted


async def test_two_workers_share_one_budget(app: Enricher, clock: Clock) -> None:
    first, second = (
        RateBudget(app.db, clock, slice=WINDOW, worker_id="w1"),
        RateBudget(app.db, clock, slice=WINDOW, worker_id="w2"),
    )
    granted = [
        (await (first if i % 2 else second).reserve(POOL, Need(1, 0))).granted for i in range(14)
    ]
    assert granted.count(True) == 10


async def test_tokens_are_budgeted_and_reconciled(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    big = await budget.reserve(POOL, Need(900, 0))
    assert big.granted
    assert not (await budget.reserve(POOL, Need(200, 0))).granted  # 900 + 200 > 1000
    await budget.reconcile(big, Need(300, 0))  # it used far less than estimated
    assert (await budget.reserve(POOL, Need(200, 0))).granted
    tokens = HostDb(db_path).query("SELECT tokens FROM ai_rate_usage ORDER BY tokens")
    assert [r["tokens"] for r in tokens] == [200, 300]


async def test_a_dead_workers_reservations_lapse(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    assert (await budget.reserve(POOL, Need(1, 0))).granted  # declares the pool
    old = format_timestamp(clock.now - timedelta(seconds=61))
    host = HostDb(db_path)
    for i in range(20):
        host.execute(
            "INSERT INTO ai_rate_usage (usage_id, pool_key, worker_id, used_at, requests, tokens)"
            " VALUES (?, ?, 'dead', ?, 1, 1)",
            (f"00000000-0000-4000-8000-{i:012d}", POOL.key, old),
        )
    assert (await budget.reserve(POOL, Need(1, 0))).granted


async def test_limits_are_learned_from_headers_and_clamped_to_remaining(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    pool = Pool("anthropic||claude-haiku-4-5", target=1.0)
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    assert (await budget.reserve(pool, Need(5, 0))).granted  # no limit known yet: unpaced
    await budget.learn(
        pool,
        {"anthropic-ratelimit-requests-limit": "4", "anthropic-ratelimit-requests-remaining": "1"},
    )
    row = HostDb(db_path).query("SELECT rpm, source FROM ai_rate_limits")[0]
    assert row == {"rpm": 4, "source": "headers"}
    # The provider says 3 of 4 are used (we recorded none: no limit was known), so the
    # clamp brings every worker's view to 3, and exactly one more call fits.
    assert (await budget.reserve(pool, Need(5, 0))).granted
    assert not (await budget.reserve(pool, Need(5, 0))).granted


async def test_configured_limits_win_over_headers(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    await budget.reserve(POOL, Need(1, 0))
    await budget.learn(POOL, {"x-ratelimit-limit-requests": "5000"})
    assert HostDb(db_path).query("SELECT rpm FROM ai_rate_limits")[0]["rpm"] == 10


async def test_a_429_slows_the_pool_and_clean_minutes_restore_it(
    app: Enricher, clock: Clock
) -> None:
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    assert await budget.rate_limited(POOL) == pytest.approx(0.8)
    assert await budget.rate_limited(POOL) == pytest.approx(0.64)
    granted = 0
    while (await budget.reserve(POOL, Need(1, 0))).granted:
        granted += 1
    assert granted == 6  # floor(10 x 0.64)
    last = clock.now
    assert effective_factor(0.64, last, last + timedelta(seconds=59)) == pytest.approx(0.64)
    assert effective_factor(0.64, last, last + timedelta(minutes=2)) == pytest.approx(0.84)
    assert effective_factor(0.64, last, last + timedelta(minutes=10)) == 1.0


def test_announced_limits_read_both_providers() -> None:
    openai = announced_limits(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-limit-tokens": "200000",
        }
    )
    assert (openai.rpm, openai.remaining[0], openai.tpm) == (500, 499, 200000)
    anthropic = announced_limits({"Anthropic-RateLimit-Tokens-Limit": "80000"})
    assert anthropic.tpm == 80000 and anthropic.rpm is None


async def test_anthropic_input_and_output_tokens_are_budgeted_apart(
    app: Enricher, clock: Clock
) -> None:
    pool = Pool("anthropic||claude-haiku-4-5", input_tpm=1000, output_tpm=100, target=1.0)
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    assert (await budget.reserve(pool, Need(100, 60))).granted
    assert not (await budget.reserve(pool, Need(100, 60))).granted  # output: 120 > 100
    assert (await budget.reserve(pool, Need(800, 40))).granted  # input 900, output 100
    assert not (await budget.reserve(pool, Need(200, 0))).granted  # input: 1,100 > 1,000


async def test_a_minutes_allowance_is_spread_over_the_minute(app: Enricher, clock: Clock) -> None:
    """No burst: each 6-second slice takes at most 1.25 tenths of the minute's allowance."""
    budget = RateBudget(app.db, clock, "w1")
    pool = Pool("openai||gpt-4o-mini", rpm=100, target=1.0)
    assert [(await budget.reserve(pool, Need(1, 0))).granted for _ in range(13)].count(True) == 12
    refused = await budget.reserve(pool, Need(1, 0))
    assert refused.wait_s == pytest.approx(6.0)
    clock.advance(6.0)
    assert (await budget.reserve(pool, Need(1, 0))).granted


async def test_one_call_larger_than_the_allowance_is_not_held_forever(
    app: Enricher, clock: Clock
) -> None:
    budget = RateBudget(app.db, clock, "w1")
    assert (await budget.reserve(POOL, Need(5000, 0))).granted  # tpm is 1,000
