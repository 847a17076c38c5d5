"""Rate budgets shared by every worker: reserve before a call, reconcile after it.

A provider pool (provider, base_url, model) has per-minute limits on requests,
tokens, and, for Anthropic, input and output tokens separately; configured, or
learned from the provider's rate-limit headers. Before a call, a worker reserves
one request and the estimated tokens in a short transaction (the pool's row lock
on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite); when the last minute's usage leaves
no room, it learns how long to wait and waits outside the transaction. After the
call the reservation is reconciled with the real usage. Reservations are rows
with a timestamp that only count inside the rolling minute, so a crashed worker's
reservation lapses on its own.

The pace aims at ``rate_limit_target`` of each limit, times an adaptive factor:
each 429 multiplies it by 0.8, and every clean minute since the last 429 gives
back 0.1 of it, up to 1.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from enricher.clock import Clock, parse_timestamp
from enricher.db import Connector, Session, store

log = structlog.get_logger("enricher.budget")

WINDOW = timedelta(seconds=60)
#: Limits are per minute, but a minute's quota spent in its first seconds is a burst
#: providers also refuse (and it leaves the rest of the minute idle): each slice of
#: this length may take at most its share of the minute's allowance.
SLICE = timedelta(seconds=6)
#: ...but a slice may run this much ahead of its exact share. A rolling window loses
#: the time between a reservation ageing out and the next one being taken, a loss of
#: that delay over the window's length: a few percent over 6 seconds, a few tenths of a
#: percent over the minute. The slack leaves the minute as the binding limit, and still
#: keeps any 6 seconds to 1.25 times the pace.
SLICE_SLACK = 1.25
#: ...and within a slice the pace is kept second by second: a rolling second admits
#: calls while its usage is below ``SLICE_SLACK`` times a second's share (rounded up:
#: never below the minute's pace, and one call always fits). A slice's share taken at
#: its first instant was a burst (15 calls within 60 ms at 120 RPM) that providers
#: enforcing a limit per second refuse, and the minute kept that shape: the rolling
#: window hands each slot back 60 s later, so every minute was one burst per slice and a
#: quiet stretch, and a minute's count depended on whether a burst fell inside it.
BURST = timedelta(seconds=1)
#: A provider counts a request when it arrives, a moment after its reservation was
#: stamped: the reservation's commit, the SDK, the event loop of a busy worker (tens of
#: milliseconds, over 100 ms in bursts on a loaded machine). Counted for exactly a
#: minute, a reservation freed its place before the provider did, and at
#: ``rate_limit_target = 1.0`` the next call into that place was answered 429 (and a
#: 429 slows the whole pool by ``SLOWDOWN`` for minutes). So a reservation holds its
#: place in the minute this much longer: a slot comes back 0.4% later, never early.
SEND_MARGIN = timedelta(seconds=0.25)
#: An announced spent budget (a wait longer than a job may stand in line) ends this much
#: before the room frees: the held-back jobs are claimed again and stand at the budget
#: when it does. Ended exactly then, every worker first had to notice the end, claim and
#: reach the budget, and the slots freed meanwhile stayed idle: at a minute shaped by
#: bursts, a second or two of every minute. Well under ``MAX_POOL_WAIT_S``.
ANNOUNCE_LEAD = timedelta(seconds=2)
#: How far past our window a 429's count may still hold requests of ours that arrived
#: late at the provider (:meth:`RateBudget.refused`).
EDGE = timedelta(seconds=5)
#: Who the usage the provider counted beyond our reservations is recorded for.
PROVIDER_HEADERS = "provider-headers"
#: A pool whose limits nobody configured is unknown until an answer announces them (or
#: shows that it announces none: ``source = 'unannounced'``). Until then one call at a
#: time probes it, and the others ask again after ``PROBE_WAIT_S``. Sent together
#: unpaced, every worker's first calls (with 5 to 20 s calls, more than a minute's
#: tokens) went out before any answer: the 429s paused the pool and cut its factor.
#: A probe whose answer never comes (its worker died) holds the others back for at
#: most ``PROBE_TIMEOUT``; one that fails is released at once.
PROBE_WAIT_S = 0.5
PROBE_TIMEOUT = timedelta(seconds=30)
UNANNOUNCED = "unannounced"
SLOWDOWN = 0.8
RECOVERY_PER_MINUTE = 0.1
MIN_FACTOR = 0.2

#: The budgeted quantities: a usage row's columns and the pool's matching limits.
DIMENSIONS = ("requests", "tokens", "input_tokens", "output_tokens")
LIMITS = ("rpm", "tpm", "input_tpm", "output_tpm")


@dataclass(frozen=True)
class Pool:
    """One provider pool and what its config says about its limits."""

    key: str
    rpm: int | None = None
    tpm: int | None = None
    target: float = 0.95
    input_tpm: int | None = None
    output_tpm: int | None = None

    @property
    def configured(self) -> bool:
        return any((self.rpm, self.tpm, self.input_tpm, self.output_tpm))

    @property
    def counts_output_budget(self) -> bool:
        """Whether the provider counts a call's whole output budget (``max_tokens``)
        against its tokens per minute, not the tokens it wrote: OpenAI does, at
        admission, for the whole minute; Anthropic adjusts its count to the real output
        at the end of the call."""
        return self.key.startswith("openai|")


@dataclass(frozen=True)
class Need:
    """What one call takes from the pool's minute."""

    input_tokens: int
    output_tokens: int

    def amounts(self) -> tuple[int, int, int, int]:
        return (1, self.input_tokens + self.output_tokens, self.input_tokens, self.output_tokens)


@dataclass(frozen=True)
class Share:
    """A window's allowances. ``whole``: the call must fit inside them; otherwise the
    window admits a call while its usage is below them (it shapes bursts, it never binds
    the average below them)."""

    allowed: Sequence[int | None]
    whole: bool = True


@dataclass(frozen=True)
class Reservation:
    """Room was found (``usage_id`` set), or none and ``wait_s`` says how long to wait.

    ``paced`` is False when the pool had no known limit: the call was only recorded.
    """

    usage_id: str | None
    wait_s: float = 0.0
    paced: bool = True
    #: What was reserved: the output budget a provider may go on counting.
    need: Need | None = None
    #: When refused: the newest reservation in the window, a call that may still be on
    #: its way to the provider (an announced pause waits for it: ``GuardedProvider._reserve``).
    newest_at: datetime | None = None

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


Usage = tuple[datetime, tuple[int, ...]]


def wait_for_room(
    usage: Sequence[Usage], now: datetime, over: Sequence[int], window: timedelta = WINDOW
) -> float:
    """Seconds until enough of the window's usage (oldest first) has aged out to fit."""
    freed = [0] * len(over)
    wait = 0.0
    for used_at, amounts in usage:
        if all(f >= o for f, o in zip(freed, over, strict=True)):
            break
        freed = [f + a for f, a in zip(freed, amounts, strict=True)]
        wait = (used_at + window - now).total_seconds()
    return wait


class RateBudget:
    """One worker's access to the shared budgets."""

    def __init__(
        self, db: Connector, clock: Clock, worker_id: str, *, slice: timedelta = SLICE
    ) -> None:
        self.db = db
        self.clock = clock
        self.worker_id = worker_id
        self.slice = slice
        self._declared: set[str] = set()
        self._unannounced: set[str] = set()

    async def _declare(self, tx: Session, pool: Pool, now: datetime) -> None:
        """Create the pool's row, with the configured limits (they win over learned ones)."""
        if pool.key in self._declared and not pool.configured:
            return
        await store.limits.upsert(
            tx,
            pool_key=pool.key,
            rpm=pool.rpm,
            tpm=pool.tpm,
            input_tpm=pool.input_tpm,
            output_tpm=pool.output_tpm,
            source="config" if pool.configured else "headers",
            now=now,
        )

    async def _window(
        self, tx: Session, pool: Pool, now: datetime, window: timedelta = WINDOW
    ) -> list[Usage]:
        rows = await store.limits.usage_window(tx, pool_key=pool.key, since=now - window)
        return [
            (parse_timestamp(r["used_at"]) or now, tuple(int(r[d]) for d in DIMENSIONS))
            for r in rows
        ]

    async def reserve(self, pool: Pool, need: Need) -> Reservation:
        """Take one call's worth from the pool's minute, or say how long to wait."""
        now = self.clock()
        async with self.db.transaction() as tx:
            await self._declare(tx, pool, now)
            row = await store.limits.lock(tx, pool_key=pool.key)
            assert row is not None
            limits = [row[name] for name in LIMITS]
            self._declared.add(pool.key)
            if not any(limits):
                # No known limit: nothing to pace, but the call is recorded. The first
                # calls go out before any headers came back; unrecorded, the limits
                # learned from their answers found a window emptier than the
                # provider's, and every answer's clamp added its own copy of them.
                if row["source"] != UNANNOUNCED:  # not answered yet: one probe at a time
                    probes = await store.limits.usage_totals(
                        tx, pool_key=pool.key, since=now - PROBE_TIMEOUT
                    )
                    if probes is not None and int(probes["requests"]) > 0:
                        return Reservation(None, wait_s=PROBE_WAIT_S)
                usage_id = str(uuid.uuid4())
                await _insert_usage(tx, usage_id, pool.key, self.worker_id, now, need.amounts())
                return Reservation(usage_id, paced=False, need=need)
            factor = effective_factor(
                float(row["factor"]), parse_timestamp(row["last_limited_at"]), now
            )
            allowed = [
                max(1, math.floor(limit * pool.target * factor)) if limit else None
                for limit in limits
            ]
            waits = [
                await self._wait(tx, pool, now, _span(window), need, share)
                for window, share in self._shares(allowed)
            ]
            wait_s = max(wait for wait, _ in waits)
            if wait_s > 0:
                newest = max((at for _, at in waits if at is not None), default=None)
                return Reservation(None, wait_s=max(wait_s, 0.05), newest_at=newest)
            usage_id = str(uuid.uuid4())
            await _insert_usage(tx, usage_id, pool.key, self.worker_id, now, need.amounts())
            await store.limits.forget_usage(tx, pool_key=pool.key, before=now - 2 * WINDOW)
        return Reservation(usage_id, need=need)

    def _shares(self, allowed: Sequence[int | None]) -> list[tuple[timedelta, Share]]:
        """Each window the reservation must fit, with its share of the allowances: the
        minute, the slice and the second (a budget built without slices, as the tests of
        the minute alone build it, has neither of the shorter two)."""
        shares = [(WINDOW, Share(_share(allowed, WINDOW)))]
        if self.slice < WINDOW:
            shares.append((self.slice, Share(_share(allowed, self.slice))))
            burst = [
                None if a is None else math.ceil(a * SLICE_SLACK * (BURST / WINDOW))
                for a in allowed
            ]
            shares.append((BURST, Share(burst, whole=False)))
        return shares

    async def _wait(
        self,
        tx: Session,
        pool: Pool,
        now: datetime,
        window: timedelta,
        need: Need,
        share: Share,
    ) -> tuple[float, datetime | None]:
        """0 when ``need`` fits the window's share, else seconds until it does (and the
        newest reservation in the window)."""
        totals = await store.limits.usage_totals(tx, pool_key=pool.key, since=now - window)
        assert totals is not None
        # An empty window always admits one call, however large: a single call bigger
        # than a whole allowance must fail at the provider, not wait here forever. A
        # share that is not ``whole`` admits a call while its usage is below it.
        over = [
            int(totals[dimension]) + (amount if share.whole else 1) - limit
            if limit is not None and int(totals[dimension]) > 0
            else 0
            for dimension, limit, amount in zip(
                DIMENSIONS, share.allowed, need.amounts(), strict=True
            )
        ]
        if all(o <= 0 for o in over):
            return 0.0, None
        # Only a refusal reads the rows, to say when enough of them age out.
        usage = await self._window(tx, pool, now, window)
        wait = max(0.0, wait_for_room(usage, now, [max(0, o) for o in over], window))
        return wait, max((used_at for used_at, _ in usage), default=None)

    async def reconcile(
        self, reservation: Reservation, used: Need, *, output_budget: bool = False
    ) -> None:
        """Replace the reservation's estimate with what the call really used.

        With ``output_budget`` (:attr:`Pool.counts_output_budget`) the output stays at
        least what was reserved: the provider goes on counting the whole budget for the
        minute. Lowered to the tokens written, every answered call left a hole in the
        shared view that only the next answer's clamp filled; reservations taken in
        between went over the provider's count, and at ``rate_limit_target = 1.0`` the
        TPM-bound pool met a 429 (its retry-after pause, the factor's 0.8) each minute.
        """
        if reservation.usage_id is None:
            return
        if output_budget and reservation.need is not None:
            output = max(used.output_tokens, reservation.need.output_tokens)
            used = Need(used.input_tokens, output)
        _, tokens, input_tokens, output_tokens = used.amounts()
        await store.limits.reconcile_usage(
            self.db,
            usage_id=reservation.usage_id,
            tokens=tokens,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    async def release(self, reservation: Reservation) -> None:
        """Give a reservation's room back at once: the provider refused the call (429),
        so it never counted there. Left in place, it held a request's room for a minute
        that the provider had free."""
        if reservation.usage_id is not None:
            await store.limits.release_usage(self.db, usage_id=reservation.usage_id)

    async def rate_limited(self, pool: Pool) -> float:
        """A 429 arrived: slow the pool's pace for every worker; returns the new factor."""
        now = self.clock()
        async with self.db.transaction() as tx:
            self._declared.discard(pool.key)
            await self._declare(tx, pool, now)
            self._declared.add(pool.key)
            row = await store.limits.lock(tx, pool_key=pool.key)
            assert row is not None
            factor = max(
                MIN_FACTOR,
                SLOWDOWN
                * effective_factor(
                    float(row["factor"]), parse_timestamp(row["last_limited_at"]), now
                ),
            )
            await store.limits.limited(tx, pool_key=pool.key, factor=factor, now=now)
        log.warning("provider_rate_limited", pool=pool.key, factor=round(factor, 3))
        return factor

    async def refused(
        self, pool: Pool, reservation: Reservation, headers: Mapping[str, str], sent_at: datetime
    ) -> None:
        """A call was answered 429: give its room back (the provider did not count it),
        learn the provider's count from the refusal's headers, and slow the pool for
        every worker unless that count explains the refusal.

        It does when what the provider counted beyond our window is no more than our own
        requests that left the window in the last ``EDGE`` (and one call besides): their
        reservations were stamped a moment before the requests arrived, and the provider
        still counted them when our window had let their slots go. A loaded machine
        delays a request past ``SEND_MARGIN``, freshly started workers most of all (the
        first minute's calls open their connections). The learned count corrects the
        view, and the retry-after pauses the pool; cutting the pace by ``SLOWDOWN`` as
        well cost a fifth of the next minute (pg RPM 0.797). More than that is usage the
        budget does not see (another user of the key, or a provider that counts
        differently), or no count at all: that slows the pace, as before.
        """
        await self.release(reservation)
        beyond = await self.learn(pool, headers, sent_at)
        if not reservation.paced:
            return  # before any limit was known: the headers taught them
        if beyond is not None and reservation.need is not None:
            at = min(sent_at, self.clock())
            async with self.db.transaction() as tx:
                band = await self._window(tx, pool, at, WINDOW + EDGE)
            edge = at - _span(WINDOW)
            freed = [sum(u[1][i] for u in band if u[0] <= edge) for i in range(len(DIMENSIONS))]
            one_call = reservation.need.amounts()
            if all(b <= f + n for b, f, n in zip(beyond, freed, one_call, strict=True)):
                log.info("provider_rate_limited_at_the_edge", pool=pool.key, beyond=beyond)
                return
        await self.rate_limited(pool)

    async def learn(
        self, pool: Pool, headers: Mapping[str, str], sent_at: datetime | None = None
    ) -> tuple[int, ...] | None:
        """Take limits the provider announced (unless configured) and clamp the shared view
        to what it says remains, so every worker sees the provider's own count.

        The ``remaining`` counts are the provider's as the call arrived (shortly after
        ``sent_at``), not as it returns: a call that took 15 s brings back a count 15 s
        old. So the window it is compared with reaches back a minute from ``sent_at``:
        compared with the minute before the return, the usage that had aged out
        meanwhile looked missing, and was added again for a whole minute (the budget
        held back room the provider had free).

        It reaches forward to the return: what was reserved while the call was out,
        the provider may or may not have counted (a call sent later can arrive first,
        and ``sent_at`` is before the SDK has even connected), so it all counts as
        ours. Cut at ``sent_at``, each such early arrival was added once more for a
        minute, and a first burst of 23 calls came out as 18. Outside usage is then seen
        a call later, never twice. Answers that come back out of order are covered the
        same way: what an earlier answer recorded is in the window. It reaches back as
        far as a reservation holds its place (``SEND_MARGIN`` past the minute).

        Returns how much the provider counted beyond that window, per dimension (as
        :meth:`Need.amounts`; 0 where it gave no count), or None when it gave none.
        """
        announced = announced_limits(headers)
        now = self.clock()
        if not any(announced.limits):
            if pool.key not in self._unannounced:
                await store.limits.unannounced(self.db, pool_key=pool.key, now=now)
                self._unannounced.add(pool.key)
            return None
        at = min(sent_at or now, now)
        async with self.db.transaction() as tx:
            rpm, tpm, input_tpm, output_tpm = announced.limits
            await store.limits.upsert(
                tx,
                pool_key=pool.key,
                rpm=rpm,
                tpm=tpm,
                input_tpm=input_tpm,
                output_tpm=output_tpm,
                source="headers",
                now=now,
            )
            usage = await self._window(tx, pool, now, now - at + _span(WINDOW))
            missing = [
                limit - remaining - sum(u[1][i] for u in usage)
                if limit is not None and remaining is not None
                else 0
                for i, (limit, remaining) in enumerate(
                    zip(announced.limits, announced.remaining, strict=True)
                )
            ]
            beyond = tuple(max(0, m) for m in missing)
            if any(beyond):
                await _insert_usage(tx, str(uuid.uuid4()), pool.key, PROVIDER_HEADERS, at, beyond)
        if all(remaining is None for remaining in announced.remaining):
            return None
        return beyond


def _span(window: timedelta) -> timedelta:
    """How far back a window counts reservations: the minute, plus the send margin (a
    slice needs none: its slack already lets it run ahead)."""
    return window + SEND_MARGIN if window >= WINDOW else window


def _share(allowed: Sequence[int | None], window: timedelta) -> list[int | None]:
    """A window's share of the per-minute allowances (at least one of each).

    The minute itself gets its allowance exactly; a shorter slice gets its share
    with ``SLICE_SLACK``, never more than the minute's.
    """
    if window >= WINDOW:
        return list(allowed)
    fraction = min(1.0, SLICE_SLACK * (window / WINDOW))
    return [None if a is None else max(1, math.floor(a * fraction)) for a in allowed]


async def _insert_usage(
    tx: Session, usage_id: str, key: str, worker_id: str, now: datetime, amounts: Sequence[int]
) -> None:
    """Record one use of the pool: ``amounts`` in the order of :data:`DIMENSIONS`."""
    requests, tokens, input_tokens, output_tokens = amounts
    await store.limits.insert_usage(
        tx,
        usage_id=usage_id,
        pool_key=key,
        worker_id=worker_id,
        now=now,
        requests=requests,
        tokens=tokens,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )


@dataclass(frozen=True)
class Announced:
    limits: tuple[int | None, int | None, int | None, int | None]
    remaining: tuple[int | None, int | None, int | None, int | None]

    @property
    def rpm(self) -> int | None:
        return self.limits[0]

    @property
    def tpm(self) -> int | None:
        return self.limits[1]


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
    h = {k.lower(): v for k, v in headers.items()}
    return Announced(
        limits=(
            _int(h, "x-ratelimit-limit-requests", "anthropic-ratelimit-requests-limit"),
            _int(h, "x-ratelimit-limit-tokens", "anthropic-ratelimit-tokens-limit"),
            _int(h, "anthropic-ratelimit-input-tokens-limit"),
            _int(h, "anthropic-ratelimit-output-tokens-limit"),
        ),
        remaining=(
            _int(h, "x-ratelimit-remaining-requests", "anthropic-ratelimit-requests-remaining"),
            _int(h, "x-ratelimit-remaining-tokens", "anthropic-ratelimit-tokens-remaining"),
            _int(h, "anthropic-ratelimit-input-tokens-remaining"),
            _int(h, "anthropic-ratelimit-output-tokens-remaining"),
        ),
    )
