"""Burn-down benchmark on PostgreSQL: several worker processes, one database.

    python -m bench.burndown_pg [--url postgresql://...] [--jobs N] [--workers W]

Each run creates a fresh database, inserts N no-op jobs by plain SQL, starts W
``enricher run --burst`` processes and measures jobs/s between the first claim and
the last completion (read from the jobs' own timestamps, so process start-up is
not counted). It then measures the claim statement itself on a table that also
holds a million completed rows, side by side with the same claim on an empty
history. Figures are medians of R runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from enricher.clock import utcnow
from enricher.db import Connector, store
from enricher.db.migrate import migrate
from enricher.db.postgres import PostgresConnector

REPO = Path(__file__).resolve().parents[1]


def with_database(url: str, name: str) -> str:
    return f"{url.rpartition('/')[0]}/{name}"


async def admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fresh(url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    await admin(url, f"CREATE DATABASE {name}")
    db_url = with_database(url, name)
    db = PostgresConnector(db_url, pool_size=1)
    await db.open()
    try:
        await migrate(db)
    finally:
        await db.close()
    return db_url


async def drop(url: str, db_url: str) -> None:
    await admin(url, f"DROP DATABASE IF EXISTS {db_url.rpartition('/')[2]} WITH (FORCE)")


async def seed(db_url: str, jobs: int, completed: int = 0) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        if completed:
            await conn.execute(
                "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id,"
                " status, attempts, completed_at) SELECT 'noop', 'noop', 'done' || i,"
                " 'completed', 1, now() FROM generate_series(1, $1) AS i",
                completed,
            )
            await conn.execute("ANALYZE background_ai_jobs")
        await conn.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
            " SELECT 'noop', 'noop', 'n' || i FROM generate_series(1, $1) AS i",
            jobs,
        )
    finally:
        await conn.close()


def start_workers(
    db_url: str, workers: int, concurrency: int, folder: Path, *, burst: bool = True
) -> list[subprocess.Popen[bytes]]:
    """``workers`` ``enricher run`` processes on ``db_url`` with the bench's no-op
    handlers (``--burst`` unless told otherwise), output discarded; their config is
    written in ``folder``. Shared by every bench that drains jobs in processes."""
    config = folder / "enricher.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n[worker]\nhandlers = ["bench.handlers:register"]\n'
        "poll_interval_s = 0.2\nheartbeat_s = 5.0\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [
        sys.executable,
        "-m",
        "enricher",
        "--config",
        str(config),
        "--log-level",
        "warning",
        "run",
        *(["--burst"] if burst else []),
        "--concurrency",
        str(concurrency),
    ]
    return [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(workers)
    ]


def run_workers(db_url: str, workers: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for proc in start_workers(db_url, workers, concurrency, Path(folder)):
            if proc.wait(600) != 0:
                raise SystemExit(f"a worker exited with {proc.returncode}")


async def rate(db_url: str, jobs: int) -> float:
    conn = await asyncpg.connect(db_url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'completed') AS done,"
            " extract(epoch FROM max(completed_at) - min(last_attempted_at)) AS seconds"
            " FROM background_ai_jobs WHERE target_entity_id LIKE 'n%'"
        )
    finally:
        await conn.close()
    assert row["done"] == jobs, f"only {row['done']} of {jobs} completed"
    return jobs / float(row["seconds"])


async def burn_down(url: str, jobs: int, workers: int, concurrency: int) -> float:
    db_url = await fresh(url)
    try:
        await seed(db_url, jobs)
        await asyncio.to_thread(run_workers, db_url, workers, concurrency)
        return await rate(db_url, jobs)
    finally:
        await drop(url, db_url)


async def timed_claim(db: Connector, worker_id: str, *, fair: bool = False) -> float:
    """Seconds for one claim of 32 due jobs (the fair claim with ``fair``); the jobs are
    put back at once, so the next claim finds the same table."""
    began = time.perf_counter()
    async with db.transaction() as tx:
        await store.claims.claim(
            tx,
            worker_id=worker_id,
            now=utcnow(),
            limit=32,
            held_task_types=[],
            provider_scopes={},
            max_attempts_by_task={},
            default_max_attempts=3,
            after_group=store.claims.FIRST_GROUP if fair else None,
        )
    took = time.perf_counter() - began
    async with db.transaction() as tx:
        await store.claims.release(tx, worker_id=worker_id, now=utcnow(), error_message=None)
    return took


async def claim_latency(url: str, completed: int, samples: int = 200) -> float:
    """Median seconds for one claim of 32 jobs (claimed jobs are put back each time)."""
    db_url = await fresh(url)
    db = PostgresConnector(db_url, pool_size=1)
    try:
        await seed(db_url, 1000, completed)
        await db.open()
        timings = [await timed_claim(db, "bench") for _ in range(samples)]
        return statistics.median(timings)
    finally:
        await db.close()
        await drop(url, db_url)


async def main_async(args: argparse.Namespace) -> None:
    rates = [
        await burn_down(args.url, args.jobs, args.workers, args.concurrency)
        for _ in range(args.repeats)
    ]
    print(
        f"PostgreSQL burn-down, {args.jobs} no-op jobs, {args.workers} worker processes x "
        f"concurrency {args.concurrency}, median of {args.repeats}:"
    )
    print(
        f"  {statistics.median(rates):,.0f} jobs/s  (runs: {', '.join(f'{r:,.0f}' for r in rates)})"
    )
    empty = await claim_latency(args.url, 0)
    full = await claim_latency(args.url, args.completed_rows)
    print(
        f"Claim of 32 jobs (median of 200): {empty * 1000:.2f} ms with no history, "
        f"{full * 1000:.2f} ms beside {args.completed_rows:,} completed rows "
        f"(ratio {full / empty:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--completed-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if not args.url:
        raise SystemExit("no PostgreSQL: pass --url or run through `make bench`")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
