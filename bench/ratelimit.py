"""Pacing at a provider's limit: the shared budget against reactive-only, side by side.

    python -m bench.ratelimit [--url postgresql://...] [--quick] [--cases pg/rpm/short ...]
                              [--targets 1.0] [--measure-s 60]

Every case is run with each strategy, one after the other, and printed in one table:

- **backend**: ``pg``, 4 ``enricher run --burst`` processes on one PostgreSQL database;
  ``sqlite``, 2 processes on one SQLite file;
- **bound**: ``rpm``, small prompts so requests bind; ``tpm``, large prompts (about
  2,300 tokens counted each) so tokens bind;
- **latency**: ``short``, 300-800 ms per call; ``long``, 5-20 s (where a reservation
  and its release drift furthest apart).

Strategies: **budget** at each ``--targets`` value (default 1.0: the whole limit), the
limits learned from the provider's headers; **reactive**: ``rate_budget = false``,
pause after each 429 for its retry-after, no budget (how job managers without shared
budgets behave).

The loopback provider enforces a rolling 60-second RPM and TPM window, as the real
ones do, and counts a request's tokens as its prompt plus its whole output budget.
Utilization is measured at the provider over the steady state: the requests (or
counted tokens) it admitted in ``--measure-s`` seconds starting a minute after the
first request (once the first minute's reservations have aged out and their slots
are being reused), over the limit for that time. Also printed: the share of requests
answered 429 over the whole run, jobs lost (failed, or left ``processing``; a strategy
still draining 40 s after the measured span is stopped with SIGTERM, and its queued jobs
are not lost), and requests that reached the provider while an announced pause of its
scope (a row in ``ai_pauses``, polled every 100 ms) was in force. Nothing is
asserted. ``--quick`` runs the four short-latency cases only (unless ``--cases`` names
others). The span is a whole minute (or several): the pace within a minute is uneven
(the budget lets a 6-second slice run 1.25 times ahead), only the minute is bound.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from bench.burndown_pg import drop, with_database
from enricher.testing.simulator import Call, SimulatorConfig, SimulatorThread

REPO = Path(__file__).resolve().parents[1]
TASK = "enrich_entity_summary_keywords"
#: Counted tokens of one request of each kind (prompt estimate + the 128-token output
#: budget), measured with the simulator: what sizes the limits so the right one binds.
SMALL_REQUEST_TOKENS = 330
LARGE_CONTENT_CHARS = 8000
#: Seconds before the measured span begins, after the first request: the first minute
#: only fills the window; from then on slots age out and must be taken again.
LEAD_S = 60.0
#: Seconds for the processes to start before their first request.
STARTUP_S = 5.0
#: Seconds after the measured span before a strategy still draining is stopped: time
#: for the budget's last jobs (paced, the longest calls 20 s) to finish on their own.
TAIL_S = 40.0


@dataclass(frozen=True)
class Case:
    backend: str  # "pg" or "sqlite"
    bound: str  # "rpm" or "tpm"
    latency: str  # "short" or "long"

    @property
    def name(self) -> str:
        return f"{self.backend}/{self.bound}/{self.latency}"

    @property
    def workers(self) -> int:
        return 4 if self.backend == "pg" else 2

    @property
    def latency_s(self) -> tuple[float, float]:
        return (0.3, 0.8) if self.latency == "short" else (5.0, 20.0)

    @property
    def limits(self) -> tuple[int, int]:
        """(rpm, tpm): the bound one at about 600 (short) or 120 (long) requests a minute,
        the other one far away."""
        per_minute = 600 if self.latency == "short" else 120
        if self.bound == "rpm":
            return per_minute, per_minute * SMALL_REQUEST_TOKENS * 4
        large = LARGE_CONTENT_CHARS // 4 + 330  # content plus the prompt around it
        return per_minute * 4, per_minute // 5 * large  # ~120 or ~24 requests a minute

    @property
    def concurrency(self) -> int:
        """Per process: room for three times the calls in flight at the limit's pace."""
        rpm, _ = self.limits
        in_flight = rpm / 60 * sum(self.latency_s) / 2
        return max(8, math.ceil(3 * in_flight / self.workers))

    def jobs(self, measure_s: float) -> int:
        """Enough for the lead, the measured span and 5 s more at the limit's pace."""
        rpm, tpm = self.limits
        per_minute = rpm if self.bound == "rpm" else tpm / (LARGE_CONTENT_CHARS // 4 + 330)
        return math.ceil(per_minute * (LEAD_S + measure_s + 5) / 60)


CASES = [
    Case(backend, bound, latency)
    for backend in ("pg", "sqlite")
    for bound in ("rpm", "tpm")
    for latency in ("short", "long")
]


@dataclass(frozen=True)
class Result:
    requests: float  # admitted requests over the RPM limit, in the measured span
    tokens: float  # admitted counted tokens over the TPM limit
    share_429: float
    lost: int
    in_pause: int

    @property
    def utilization(self) -> float:
        return max(self.requests, self.tokens)


class Database:
    """A fresh database for one run, written and read as a host would: plain SQL."""

    def __init__(self, backend: str, pg_url: str, folder: Path) -> None:
        self.backend = backend
        self.pg_url = pg_url
        self.folder = folder
        self.url = ""

    async def create(self) -> str:
        if self.backend == "pg":
            name = f"bench_rl_{os.getpid()}_{time.monotonic_ns() % 10**9}"
            await _admin(self.pg_url, f"CREATE DATABASE {name}")
            self.url = with_database(self.pg_url, name)
        else:
            self.url = f"sqlite:///{self.folder / f'rl-{time.monotonic_ns()}.db'}"
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "enricher", "--log-level", "error", "migrate"],
            env={**os.environ, "PYTHONPATH": str(REPO), "ENRICHER_DATABASE__URL": self.url},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return self.url

    async def seed(self, jobs: int, content_chars: int) -> None:
        body = '    """Route the request to its handler."""\n    return route(request)\n'
        filler = "# " + "x" * 76 + "\n"
        pad = filler * max(0, (content_chars - len(body)) // len(filler))
        entities = [
            (f"e{i}", f"handle_request_{i}", "python", f"def handle_request_{i}(r):\n{body}{pad}")
            for i in range(1, jobs + 1)
        ]
        rows = [(TASK, "code_entity", f"e{i}") for i in range(1, jobs + 1)]
        await self._many(
            "INSERT INTO code_entities (entity_id, name, language, raw_content)"
            " VALUES (?, ?, ?, ?)",
            entities,
        )
        await self._many(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
            " VALUES (?, ?, ?)",
            rows,
        )

    async def _many(self, sql: str, rows: Sequence[tuple[str, ...]]) -> None:
        if self.backend == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as conn:
                conn.executemany(sql, rows)
            return
        count = iter(range(1, 100))
        pg_sql = "".join(f"${next(count)}" if ch == "?" else ch for ch in sql)
        conn = await asyncpg.connect(self.url)
        try:
            await conn.executemany(pg_sql, rows)
        finally:
            await conn.close()

    async def fetch(self, sql: str) -> list[tuple[object, ...]]:
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=10)
            try:
                return list(conn.execute(sql).fetchall())
            finally:
                conn.close()
        pg = await asyncpg.connect(self.url)
        try:
            return [tuple(r) for r in await pg.fetch(sql)]
        finally:
            await pg.close()

    async def lost(self) -> int:
        """Jobs that failed, or were left ``processing`` by a stopped worker: the rest are
        completed or still queued (their attempts unspent)."""
        rows = await self.fetch(
            "SELECT count(*) FROM background_ai_jobs"
            " WHERE status LIKE 'failed%' OR status = 'processing'"
        )
        return int(str(rows[0][0]))

    async def drop(self) -> None:
        if self.backend == "pg" and self.url:
            await drop(self.pg_url, self.url)


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _epoch(value: object) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    text = str(value).replace("Z", "+00:00").replace(" ", "T")
    return datetime.fromisoformat(text).timestamp()


async def watch_pauses(
    db: Database, done: asyncio.Event, seen: set[tuple[str, float, float]]
) -> None:
    """Every announced pause (scope, from, until), in wall-clock seconds."""
    while not done.is_set():
        try:
            for scope, updated, until in await db.fetch(
                "SELECT scope, updated_at, paused_until FROM ai_pauses"
            ):
                seen.add((str(scope), _epoch(updated), _epoch(until)))
        except (sqlite3.Error, asyncpg.PostgresError, OSError):
            pass  # a busy moment: the next poll sees the row
        await asyncio.sleep(0.1)


def drain(
    case: Case, db_url: str, base_url: str, budget: bool, target: float, measure_s: float
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ENRICHER_DATABASE__URL": db_url,
        "ENRICHER_PROVIDER__NAME": "openai",
        "ENRICHER_PROVIDER__MODEL": "gpt-4o-mini",
        "ENRICHER_PROVIDER__BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-bench",
        "ENRICHER_PROVIDER__MAX_OUTPUT_TOKENS": "128",
        "ENRICHER_PROVIDER__TIMEOUT_S": "60",
        "ENRICHER_PROVIDER__RATE_BUDGET": "true" if budget else "false",
        "ENRICHER_PROVIDER__RATE_LIMIT_TARGET": str(target),
        "ENRICHER_WORKER__POLL_INTERVAL_S": "0.5",
        "ENRICHER_WORKER__MAX_ATTEMPTS": "5",
    }
    command = [sys.executable, "-m", "enricher", "--log-level", "error", "run", "--burst"]
    procs = [
        subprocess.Popen(
            [*command, "--concurrency", str(case.concurrency)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(case.workers)
    ]
    # The measured span ends LEAD_S + measure_s after the first request; a strategy still
    # draining its queue well after it (reactive-only, behind 60-second pauses) is asked
    # to stop, as an operator would: it hands its jobs back, and they are not lost.
    deadline = time.monotonic() + STARTUP_S + LEAD_S + measure_s + TAIL_S
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            break
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def figures(
    calls: list[Call], case: Case, measure_s: float, pauses: set[tuple[str, float, float]]
) -> tuple[float, float, float, int]:
    """Utilization of each limit over the measured span, the 429 share, and the calls
    that arrived inside an announced pause (``calls`` in the simulator's monotonic time)."""
    rpm, tpm = case.limits
    begin = min(c.started for c in calls) + LEAD_S
    admitted = [c for c in calls if c.status == 200 and begin <= c.started < begin + measure_s]
    minutes = measure_s / 60
    statuses = Counter(c.status for c in calls)
    offset = time.time() - time.monotonic()
    in_pause = sum(
        1
        for c in calls
        if any(
            scope.startswith(("provider:", "task:")) and start <= c.started + offset < until
            for scope, start, until in pauses
        )
    )
    return (
        len(admitted) / minutes / rpm,
        sum(c.tokens for c in admitted) / minutes / tpm,
        statuses[429] / max(1, len(calls)),
        in_pause,
    )


def trace(
    path: Path, case: Case, budget: bool, calls: list[Call], pauses: set[tuple[str, float, float]]
) -> None:
    """Append the run's calls and pauses, in seconds from its first call, for a look."""
    first = min(c.started for c in calls)
    offset = time.time() - time.monotonic()
    with path.open("a") as out:
        label = f"{case.name} {'budget' if budget else 'reactive'}"
        for c in sorted(calls, key=lambda c: c.started):
            times = f"{c.started - first:.3f} {c.finished - first:.3f}"
            out.write(f"{label} call {times} {c.status} {c.tokens}\n")
        for scope, start, until in sorted(pauses, key=lambda p: p[1]):
            times = f"{start - offset - first:.3f} {until - offset - first:.3f}"
            out.write(f"{label} pause {times} {scope}\n")


async def run(
    args: argparse.Namespace, case: Case, budget: bool, target: float, folder: Path
) -> Result:
    db = Database(case.backend, args.url, folder)
    await db.create()
    try:
        jobs = case.jobs(args.measure_s)
        await db.seed(jobs, LARGE_CONTENT_CHARS if case.bound == "tpm" else 0)
        rpm, tpm = case.limits
        config = SimulatorConfig(rpm=rpm, tpm=tpm, latency_s=case.latency_s)
        pauses: set[tuple[str, float, float]] = set()
        done = asyncio.Event()
        with SimulatorThread(config) as server:
            watcher = asyncio.create_task(watch_pauses(db, done, pauses))
            try:
                await asyncio.to_thread(
                    drain, case, db.url, server.openai_base_url, budget, target, args.measure_s
                )
            finally:
                done.set()
                await watcher
            calls = list(server.calls)
        requests, tokens, share, in_pause = figures(calls, case, args.measure_s, pauses)
        if args.trace:
            trace(Path(args.trace), case, budget, calls, pauses)
        return Result(requests, tokens, share, await db.lost(), in_pause)
    finally:
        await db.drop()


def groups(cases: Sequence[Case]) -> list[list[Case]]:
    """Cases run at the same time, each strategy beside its case: an RPM-bound short
    case alone (600 requests a minute through 2-4 processes keep a core busy), the two
    TPM-bound short ones together (about 120 requests a minute each), and every long
    one together (120 or 24 a minute, calls mostly waiting on the provider). The whole
    bench takes four runs' time instead of sixteen."""
    plan = [[c] for c in cases if c.latency == "short" and c.bound == "rpm"]
    for latency, bound in (("short", "tpm"), ("long", None)):
        together = [c for c in cases if c.latency == latency and bound in (None, c.bound)]
        if together:
            plan.append(together)
    return plan


async def main_async(args: argparse.Namespace) -> None:
    cases = [c for c in CASES if c.name in args.cases] if args.cases else CASES
    if args.quick and not args.cases:
        cases = [c for c in cases if c.latency == "short"]
    if not args.url:
        cases = [c for c in cases if c.backend == "sqlite"]
    runs = [("budget", True, t) for t in args.targets] + [("reactive", False, 1.0)]
    runs = [r for r in runs if r[0] in args.strategies]
    print(
        f"Pacing at the limit: utilization of the binding limit over {args.measure_s:g} s of"
        f" steady state (from {LEAD_S:g} s after the first request), as the provider counts."
    )
    print("  pg: 4 processes on PostgreSQL; sqlite: 2 on one file; short: 300-800 ms; long: 5-20 s")
    print(
        "  every strategy of a case runs at the same time, each with its own provider and"
        " database"
    )
    print(
        f"  {'case':<18} {'strategy':<9} {'target':>6} {'utilization':>11} {'of target':>9}"
        f" {'RPM used':>8} {'TPM used':>8} {'429 share':>9} {'lost':>5} {'in pause':>8}"
    )
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="enricher-ratelimit-") as folder:
        for group in groups(cases):
            plan = [(case, run_) for case in group for run_ in runs]
            results = await asyncio.gather(
                *(
                    run(args, case, budget, target, Path(folder))
                    for case, (_, budget, target) in plan
                )
            )
            for (case, (name, budget, target)), r in zip(plan, results, strict=True):
                aim = f"{target:.2f}" if budget else "-"
                print(
                    f"  {case.name:<18} {name:<9} {aim:>6} {r.utilization:>11.3f}"
                    f" {r.utilization / target:>9.3f} {r.requests:>8.3f} {r.tokens:>8.3f}"
                    f" {r.share_429:>9.2%} {r.lost:>5} {r.in_pause:>8}",
                    flush=True,
                )
    print(f"  ({(time.monotonic() - began) / 60:.1f} min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument(
        "--cases", nargs="+", choices=[c.name for c in CASES], help="default: all eight"
    )
    parser.add_argument("--strategies", nargs="+", default=["budget", "reactive"])
    parser.add_argument(
        "--targets", nargs="+", type=float, default=[1.0], help="rate_limit_target values"
    )
    parser.add_argument(
        "--measure-s",
        type=float,
        default=float(os.environ.get("BENCH_RATELIMIT_MEASURE_S", "60")),
        help="the measured span, whole minutes (env BENCH_RATELIMIT_MEASURE_S; default 60)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="the four short-latency cases only (half the time)"
    )
    parser.add_argument("--trace", help="append every call and pause to this file")
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
