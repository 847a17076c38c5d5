"""Shared rate budgets: reservations, lapses, reconciliation, learning, adaptive pace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from enricher.app import Enricher
from enricher.clock import format_timestamp
from enricher.throttle.budget import (
    PROBE_TIMEOUT,
    PROBE_WAIT_S,
    SEND_MARGIN,
    WINDOW,
    Need,
    Pool,
    RateBudget,
    Reservation,
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
    # The first reservation ages out at t=60, plus the send margin.
    assert refused.wait_s == pytest.approx(50.0 + SEND_MARGIN.total_seconds())
    clock.advance(50.01 + SEND_MARGIN.total_seconds())
    assert (await budget.reserve(POOL, Need(10, 0))).granted


async def test_a_reservation_keeps_its_place_until_the_provider_lets_it_go(
    app: Enricher, clock: Clock
) -> None:
    """The provider counts a call from its arrival, a moment after the reservation was
    stamped: a minute after the reservation, the provider still holds the place, and a
    call sent into it was a 429 at target 1.0. The place comes back after the margin."""
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    for _ in range(10):
        assert (await budget.reserve(POOL, Need(1, 0))).granted
    clock.advance(WINDOW.total_seconds() + 0.01)
    early = await budget.reserve(POOL, Need(1, 0))
    assert not early.granted
    assert early.wait_s == pytest.approx(SEND_MARGIN.total_seconds() - 0.01)
    clock.advance(early.wait_s + 0.01)
    assert (await budget.reserve(POOL, Need(1, 0))).granted


async def test_a_refused_calls_reservation_is_released_at_once(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    """A 429 is not counted by the provider: the reservation of the refused call gives
    its room back at once, instead of holding it for a minute."""
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    taken = [await budget.reserve(POOL, Need(1, 0)) for _ in range(10)]
    assert all(r.granted for r in taken)
    assert not (await budget.reserve(POOL, Need(1, 0))).granted
    await budget.release(taken[-1])
    assert len(HostDb(db_path).query("SELECT usage_id FROM ai_rate_usage")) == 9
    assert (await budget.reserve(POOL, Need(1, 0))).granted
    await budget.release(Reservation(None))  # an unpaced call has nothing to release


async def test_a_long_calls_headers_are_compared_with_the_window_it_was_sent_in(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    """``remaining`` is the provider's count when the call arrived. A call that took 15 s
    brings it back after older usage aged out; compared with the window at the return,
    that usage looked missing and was added again for a minute."""
    pool = Pool("openai|http://x/v1|gpt-4o-mini", target=1.0)
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    await budget.learn(pool, {"x-ratelimit-limit-requests": "10"})
    for _ in range(5):  # older calls, at t=0
        assert (await budget.reserve(pool, Need(1, 0))).granted
    clock.advance(50)
    sent_at = clock.now
    ours = await budget.reserve(pool, Need(1, 0))
    assert ours.granted
    clock.advance(15)  # it returns at t=65: the five older calls aged out at t=60
    headers = {"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "4"}
    await budget.learn(pool, headers, sent_at)
    assert HostDb(db_path).query(
        "SELECT count(*) AS n FROM ai_rate_usage WHERE worker_id = 'provider-headers'"
    ) == [{"n": 0}]  # the provider counted 6 as the call arrived; so did we
    granted = 0
    while (await budget.reserve(pool, Need(1, 0))).granted:
        granted += 1
    assert granted == 9  # only the call itself is still in the minute


async def test_usage_only_the_provider_counted_is_dated_when_the_call_was_sent(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    pool = Pool("openai|http://x/v1|gpt-4o-mini", target=1.0)
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    await budget.learn(pool, {"x-ratelimit-limit-requests": "10"})
    sent_at = clock.now
    assert (await budget.reserve(pool, Need(1, 0))).granted
    clock.advance(15)
    headers = {"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "7"}
    await budget.learn(pool, headers, sent_at)  # 3 counted, 1 ours: 2 from elsewhere
    rows = HostDb(db_path).query(
        "SELECT used_at, requests FROM ai_rate_usage WHERE worker_id = 'provider-headers'"
    )
    assert rows == [{"used_at": format_timestamp(sent_at), "requests": 2}]


async def test_one_call_probes_a_pool_until_its_first_answer(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    """Until an answer says what a pool's limits are, one call at a time goes out (and is
    recorded, so the limits learned from its answer find the provider's count there);
    the others wait. A probe that never answers stops holding them after PROBE_TIMEOUT."""
    pool = Pool("openai|http://x/v1|gpt-4o-mini", target=1.0)
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    probe = await budget.reserve(pool, Need(1, 0))
    assert probe.granted and not probe.paced and probe.usage_id
    held = await budget.reserve(pool, Need(1, 0))
    assert not held.granted and held.wait_s == PROBE_WAIT_S
    clock.advance(PROBE_TIMEOUT.total_seconds() + 1)  # its worker died: another probes
    second = await budget.reserve(pool, Need(1, 0))
    assert second.granted and not second.paced
    assert not (await budget.reserve(pool, Need(1, 0))).granted
    headers = {"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "8"}
    await budget.learn(pool, headers, clock.now)  # both counted by the provider, and by us
    assert HostDb(db_path).query(
        "SELECT count(*) AS n FROM ai_rate_usage WHERE worker_id = 'provider-headers'"
    ) == [{"n": 0}]
    granted = 0
    while (reservation := await budget.reserve(pool, Need(1, 0))).granted:
        assert reservation.paced
        granted += 1
    assert granted == 8


async def test_a_pool_that_announces_no_limits_is_not_probed_again(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    """An answer without rate-limit headers (a local server, a proxy) ends the probing:
    nothing to pace, every call goes at once, and a worker starting later knows it."""
    pool = Pool("openai|http://x/v1|gpt-4o-mini", target=1.0)
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    assert (await budget.reserve(pool, Need(1, 0))).granted
    assert not (await budget.reserve(pool, Need(1, 0))).granted
    await budget.learn(pool, {}, clock.now)
    later = RateBudget(app.db, clock, slice=WINDOW, worker_id="w2")
    for each in (budget, later, budget):
        reservation = await each.reserve(pool, Need(1, 0))
        assert reservation.granted and not reservation.paced
    (row,) = HostDb(db_path).query("SELECT source FROM ai_rate_limits")
    assert row["source"] == "unannounced"
    await budget.learn(pool, {"x-ratelimit-limit-requests": "100"}, clock.now)
    assert (await later.reserve(pool, Need(1, 0))).paced  # it started announcing them


async def test_answers_out_of_order_add_the_providers_count_once(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    """Usage only the provider saw (another user of the key) is learned from answers
    that come back out of order: the call sent last answers first. An earlier-sent
    call's answer must not add again what the later one recorded."""
    pool = Pool("openai|http://x/v1|gpt-4o-mini", target=1.0)
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    await budget.learn(pool, {"x-ratelimit-limit-requests": "100"})
    sent = []
    for _ in range(3):  # our calls at t=0, 1, 2; 10 foreign requests arrive before each
        assert (await budget.reserve(pool, Need(1, 0))).granted
        sent.append(clock.now)
        clock.advance(1)
    clock.advance(10)

    def counted(n: int) -> dict[str, str]:
        return {"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": str(100 - n)}

    await budget.learn(pool, counted(33), sent[2])  # the last call answers first: 30 foreign
    await budget.learn(pool, counted(11), sent[0])  # 10 foreign, inside the 30 already
    await budget.learn(pool, counted(22), sent[1])
    rows = HostDb(db_path).query(
        "SELECT requests FROM ai_rate_usage WHERE worker_id = 'provider-headers'"
    )
    assert sum(int(str(r["requests"])) for r in rows) == 30
    granted = 0
    while (await budget.reserve(pool, Need(1, 0))).granted:
        granted += 1
    assert granted == 100 - 33


async def test_a_call_sent_later_that_arrives_first_is_not_counted_twice(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    """``sent_at`` is stamped before the SDK connects; a call reserved a moment later
    can reach the provider first, and be in the count the earlier call brings back.
    It is ours: cut at ``sent_at``, the window missed it and a phantom request was
    recorded for a minute (a first burst of 23 came out as 18)."""
    pool = Pool("openai|http://x/v1|gpt-4o-mini", target=1.0)
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    await budget.learn(pool, {"x-ratelimit-limit-requests": "10"})
    assert (await budget.reserve(pool, Need(1, 0))).granted
    sent_at = clock.now
    clock.advance(0.01)
    assert (await budget.reserve(pool, Need(1, 0))).granted  # sent later, arrived first
    clock.advance(0.05)
    headers = {"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "8"}
    await budget.learn(pool, headers, sent_at)
    assert HostDb(db_path).query(
        "SELECT count(*) AS n FROM ai_rate_usage WHERE worker_id = 'provider-headers'"
    ) == [{"n": 0}]
    granted = 0
    while (await budget.reserve(pool, Need(1, 0))).granted:
        granted += 1
    assert granted == 8


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


async def test_an_output_budget_the_provider_counts_stays_reserved(
    app: Enricher, db_path: DbTarget, clock: Clock
) -> None:
    """OpenAI counts a call's whole ``max_tokens`` for the minute, whatever it wrote: the
    reconcile takes the real input but keeps the output budget. Anthropic adjusts its
    count to the real output: there the reconcile takes both."""
    assert POOL.counts_output_budget
    assert not Pool("anthropic||claude-haiku-4-5").counts_output_budget
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    call = await budget.reserve(POOL, Need(300, 128))
    await budget.reconcile(call, Need(340, 40), output_budget=True)
    other = await budget.reserve(POOL, Need(300, 128))
    await budget.reconcile(other, Need(340, 40))
    rows = HostDb(db_path).query(
        "SELECT tokens, input_tokens, output_tokens FROM ai_rate_usage ORDER BY tokens"
    )
    assert rows == [
        {"tokens": 380, "input_tokens": 340, "output_tokens": 40},
        {"tokens": 468, "input_tokens": 340, "output_tokens": 128},
    ]


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
    # The provider says 3 of 4 are used (we recorded the one unpaced call), so the
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


async def factor_of(db_path: DbTarget) -> float:
    (row,) = HostDb(db_path).query("SELECT factor FROM ai_rate_limits")
    return float(str(row["factor"]))


@pytest.mark.parametrize(
    ("freed", "sent", "remaining", "slowed"),
    [
        (0, 10, "0", False),  # 9 ours after the release, 10 there: one late arrival
        (0, 7, "0", True),  # 6 ours, 10 there, none of ours just left: someone else
        (10, 7, "0", False),  # 6 ours, 10 there, and 10 of ours left the window 2 s ago
        (0, 10, None, True),  # no count to tell: slow down
    ],
)
async def test_a_429_slows_the_pool_unless_the_providers_count_explains_it(
    app: Enricher,
    db_path: DbTarget,
    clock: Clock,
    freed: int,
    sent: int,
    remaining: str | None,
    slowed: bool,
) -> None:
    """The refused call's room is given back and the refusal's count is learned; the
    pace is cut by SLOWDOWN only for usage the budget cannot see. Requests of ours that
    reached the provider later than their reservations' stamps (a loaded machine, a
    worker's first connections) are still counted there when our minute has let them
    go: the edge of the minute, not someone else's usage."""
    pool = Pool("openai|http://x/v1|gpt-4o-mini", target=1.0)
    budget = RateBudget(app.db, clock, slice=WINDOW, worker_id="w1")
    await budget.learn(pool, {"x-ratelimit-limit-requests": "10"})
    for _ in range(freed):
        assert (await budget.reserve(pool, Need(1, 0))).granted
    clock.advance((WINDOW + SEND_MARGIN).total_seconds() + 2)
    taken = [await budget.reserve(pool, Need(1, 0)) for _ in range(sent)]
    assert all(r.granted for r in taken)
    headers = {"x-ratelimit-limit-requests": "10"}
    if remaining is not None:
        headers["x-ratelimit-remaining-requests"] = remaining
    await budget.refused(pool, taken[-1], headers, clock.now)
    assert await factor_of(db_path) == (pytest.approx(0.8) if slowed else 1.0)
    rows = HostDb(db_path).query("SELECT worker_id, requests FROM ai_rate_usage")
    learned = [r["requests"] for r in rows if r["worker_id"] == "provider-headers"]
    assert len(rows) - len(learned) == freed + sent - 1  # the refused call's room is free
    assert learned == ([] if remaining is None else [10 - (sent - 1)])


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
    granted = 0
    for step in range(11):  # every half second from 0 to 5 s
        clock.advance(0.5 if step else 0.0)
        while (await budget.reserve(pool, Need(1, 0))).granted:
            granted += 1
    assert granted == 12  # floor(100 * 1.25 / 10)
    refused = await budget.reserve(pool, Need(1, 0))
    assert refused.wait_s == pytest.approx(1.0)  # the slice's first calls age out at 6 s
    clock.advance(1.0)
    assert (await budget.reserve(pool, Need(1, 0))).granted


async def test_one_call_larger_than_the_allowance_is_not_held_forever(
    app: Enricher, clock: Clock
) -> None:
    budget = RateBudget(app.db, clock, "w1")
    assert (await budget.reserve(POOL, Need(5000, 0))).granted  # tpm is 1,000


async def test_a_slice_is_spent_second_by_second_not_at_once(app: Enricher, clock: Clock) -> None:
    """At 120 RPM a 6 s slice may take 15 calls. Taken at its first instant they were a
    burst a provider limiting each second refuses, and the minute kept that shape (the
    window hands each place back a minute later). A rolling second admits calls while it
    holds fewer than 1.25 times its share, 3 here (the slice binds as before: the test
    above)."""
    pool = Pool("openai|http://x/v1|gpt-4o-mini", rpm=120, target=1.0)
    budget = RateBudget(app.db, clock, worker_id="w1")
    granted = [(await budget.reserve(pool, Need(1, 0))).granted for _ in range(4)]
    assert granted == [True, True, True, False]
    refused = await budget.reserve(pool, Need(1, 0))
    assert refused.wait_s == pytest.approx(1.0)  # when the first of the three ages out
    clock.advance(1.0)
    assert (await budget.reserve(pool, Need(1, 0))).granted


async def test_the_second_never_binds_below_the_minutes_pace(
    app: Enricher, clock: Clock
) -> None:
    """Calls of 3,000 tokens under 200,000 TPM: a second's share (4,167 tokens at 1.25
    times the pace) holds one call and a part. Fitted whole, one call a second was 0.9
    of the limit; admitted while the second is below its share, two go."""
    pool = Pool("openai|http://x/v1|gpt-4o-mini", tpm=200_000, target=1.0)
    budget = RateBudget(app.db, clock, worker_id="w1")
    granted = [(await budget.reserve(pool, Need(3_000, 0))).granted for _ in range(3)]
    assert granted == [True, True, False]
