"""Fair share between job groups: a late small group against a huge backlog.

    python -m bench.fairness [--backlog N] [--late M] [--url postgresql://...]

For each backend (SQLite, and PostgreSQL when a URL is given) and each setting of
``worker.fair_groups`` (on, then off), on a fresh database:

1. N no-op jobs of group A are bulk-inserted by plain SQL (a backfill).
2. Workers start draining them (in this process, concurrency C each, with the bench
   ``noop`` handler: the queue's own cost is all there is, so the claim's share of it
   is as large as it gets). After a warm-up, throughput is measured over a window
   from the completed count: jobs/s with the whole backlog still there.
3. M jobs of group B are enqueued through the API. Each one's start delay is its
   claim time (``last_attempted_at``) minus its enqueue time (``created_at``); p50 and
   p95 are reported, or how many had started when the wait gave up (with fairness off
   B waits behind all of A's backlog).

Targets: B's p95 start delay within 2 s with fairness on; throughput with
fairness on at least 0.9 of throughput with it off.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from enricher.app import Enricher
from enricher.clock import parse_timestamp
from enricher.config import DatabaseSettings, Settings, embedded_settings
from enricher.observe.logs import configure_logging
from enricher.queue.enqueue import EnqueueRequest
from enricher.registry import build_registry
from enricher.worker.loop import Worker

Query = Callable[[str], Awaitable[list[tuple[object, ...]]]]


@dataclass
class Result:
    backend: str
    fair: bool
    throughput: float
    delays: list[float]  # seconds, of the late jobs that started
    late: int
    gave_up_s: float

    def percentile(self, q: float) -> str:
        """The q-th percentile of the start delay, or how far the wait got without it."""
        needed = max(1, int(q * self.late + 0.999999))
        if len(self.delays) < needed:
            return f"> {self.gave_up_s:.0f} s ({len(self.delays)}/{self.late} started)"
        ordered = sorted(self.delays)
        return f"{ordered[needed - 1]:.2f} s"


def settings(url: str, concurrency: int, fair: bool) -> Settings:
    base = embedded_settings(
        "unused.db", concurrency=concurrency, poll_interval_s=0.05, heartbeat_s=5.0
    )
    worker = base.worker.model_copy(update={"fair_groups": fair})
    return base.model_copy(
        update={"database": DatabaseSettings(url=url, connect_timeout_s=5.0), "worker": worker}
    )


def seed_sqlite(path: Path, backlog: int) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
            " INSERT INTO background_ai_jobs"
            " (task_type, target_entity_type, target_entity_id, job_group)"
            " SELECT 'noop', 'noop', 'a' || i, 'A' FROM n",
            (backlog,),
        )
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()


async def seed_postgres(url: str, backlog: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id,"
            " job_group) SELECT 'noop', 'noop', 'a' || i, 'A' FROM generate_series(1, $1) AS i",
            backlog,
        )
        await conn.execute("ANALYZE background_ai_jobs")
    finally:
        await conn.close()


def sqlite_query(path: Path) -> Query:
    async def run(sql: str) -> list[tuple[object, ...]]:
        def go() -> list[tuple[object, ...]]:
            conn = sqlite3.connect(path, timeout=30)
            try:
                return list(conn.execute(sql).fetchall())
            finally:
                conn.close()

        return await asyncio.to_thread(go)

    return run


def postgres_query(url: str) -> Query:
    async def run(sql: str) -> list[tuple[object, ...]]:
        conn = await asyncpg.connect(url)
        try:
            return [tuple(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    return run


async def completed(query: Query) -> int:
    (row,) = await query("SELECT count(*) FROM background_ai_jobs WHERE status = 'completed'")
    return int(str(row[0]))


def when(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else parse_timestamp(str(value))
    assert moment is not None
    return moment


async def measure(
    backend: str,
    url: str,
    query: Query,
    fair: bool,
    args: argparse.Namespace,
) -> Result:
    """Drain the backlog with ``args.workers`` workers; throughput, then B's delays."""
    registry = build_registry()
    from bench.handlers import register

    register(registry)
    apps = [
        await Enricher.open(settings(url, args.concurrency, fair), registry=registry)
        for _ in range(args.workers)
    ]
    workers = [Worker(app, worker_id=f"bench-{i}") for i, app in enumerate(apps)]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        await asyncio.sleep(args.warmup_s)
        before, began = await completed(query), time.perf_counter()
        await asyncio.sleep(args.window_s)
        after, ended = await completed(query), time.perf_counter()
        throughput = (after - before) / (ended - began)

        await apps[0].enqueue_many(
            [
                EnqueueRequest(
                    task_type="noop", target_entity_type="noop", target_entity_id=f"b{i}", group="B"
                )
                for i in range(args.late)
            ]
        )
        deadline = time.perf_counter() + args.give_up_s
        rows: list[tuple[object, ...]] = []
        while time.perf_counter() < deadline:
            rows = await query(
                "SELECT created_at, last_attempted_at FROM background_ai_jobs"
                " WHERE job_group = 'B' AND last_attempted_at IS NOT NULL"
            )
            if len(rows) == args.late:
                break
            await asyncio.sleep(0.1)
        delays = [(when(started) - when(created)).total_seconds() for created, started in rows]
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for app in apps:
            await app.close()
    return Result(backend, fair, throughput, delays, args.late, args.give_up_s)


async def run_sqlite(fair: bool, args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fair.db"
        url = f"sqlite:///{path}"
        app = await Enricher.open(settings(url, args.concurrency, fair))  # migrates
        await app.close()
        await asyncio.to_thread(seed_sqlite, path, args.backlog)
        return await measure("SQLite", url, sqlite_query(path), fair, args)


async def run_postgres(fair: bool, args: argparse.Namespace) -> Result:
    from bench.burndown_pg import drop, fresh

    db_url = await fresh(args.url)
    try:
        await seed_postgres(db_url, args.backlog)
        return await measure("PostgreSQL", db_url, postgres_query(db_url), fair, args)
    finally:
        await drop(args.url, db_url)


def report(on: Result, off: Result) -> None:
    ratio = on.throughput / off.throughput if off.throughput else float("nan")
    print(
        f"{on.backend}: late jobs of group B beside a backlog of group A"
        f" ({on.late} delays pooled over the runs; throughput: the median run)"
    )
    print(f"  {'':28}{'fairness on':>30}{'fairness off':>30}")
    print(f"  {'B start delay p50':28}{on.percentile(0.5):>30}{off.percentile(0.5):>30}")
    print(f"  {'B start delay p95':28}{on.percentile(0.95):>30}{off.percentile(0.95):>30}")
    on_rate, off_rate = f"{on.throughput:,.0f} jobs/s", f"{off.throughput:,.0f} jobs/s"
    print(f"  {'throughput':28}{on_rate:>30}{off_rate:>30}")
    p95_ok = len(on.delays) >= int(0.95 * on.late + 0.999999) and (
        sorted(on.delays)[int(0.95 * on.late + 0.999999) - 1] <= 2.0
    )
    print(
        f"  targets: B p95 <= 2 s with fairness on: {'met' if p95_ok else 'MISSED'};"
        f" throughput on/off = {ratio:.3f} (>= 0.90: {'met' if ratio >= 0.9 else 'MISSED'})"
    )


async def main_async(args: argparse.Namespace) -> None:
    print(
        f"Fairness bench: backlog {args.backlog:,} jobs of A, {args.late} late jobs of B,"
        f" {args.workers} worker(s) x concurrency {args.concurrency}, no-op handler;"
        f" throughput over {args.window_s:g} s after {args.warmup_s:g} s of warm-up"
    )
    runners: list[tuple[str, Callable[[bool, argparse.Namespace], Awaitable[Result]]]] = [
        ("sqlite", run_sqlite)
    ]
    if args.url:
        runners.append(("postgres", run_postgres))
    for name, runner in runners:
        if args.only and name != args.only:
            continue
        on_runs = [await runner(True, args) for _ in range(args.repeats)]
        off_runs = [await runner(False, args) for _ in range(args.repeats)]
        on, off = median_run(on_runs), median_run(off_runs)
        report(on, off)


def median_run(runs: list[Result]) -> Result:
    """One result of several: median throughput, every run's delays pooled."""
    first = runs[0]
    return Result(
        first.backend,
        first.fair,
        statistics.median(r.throughput for r in runs),
        [d for r in runs for d in r.delays],
        first.late * len(runs),
        first.gave_up_s,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument("--backlog", type=int, default=200_000)
    parser.add_argument("--late", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup-s", type=float, default=3.0)
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--give-up-s", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--only", choices=["sqlite", "postgres"], default="")
    args = parser.parse_args()
    configure_logging("warning")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
