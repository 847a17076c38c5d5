"""The queue beside ten million finished jobs: claim, enqueue, commands, prune, table size.

    python -m bench.scale [--rows 10000000] [--sqlite-rows 2000000] [--url postgresql://...]
                          [--skip-sqlite] [--skip-postgres] [--samples 400] [--workers 4]

``--rows`` (env ``SCALE_ROWS``) and ``--sqlite-rows`` (env ``SCALE_SQLITE_ROWS``) run it
smaller. For each backend a fresh database is filled by plain SQL in one statement
(``generate_series`` on PostgreSQL, with the secondary indexes dropped and rebuilt
around it; a recursive CTE on SQLite): ``rows`` terminal jobs over a 100-day history
(95 % completed, 3 % failed_ai, 1 % failed_payload_parsing, 1 % cancelled), half on
``project_document`` targets with a ``project_documents`` row per five jobs. Then,
side by side with a second, empty database:

- **Claim.** p50 and p99 of one claim of 32 jobs (the worker's statement,
  ``db/store/claims.py``), fair (``worker.fair_groups``, the default) and plain, each
  against 1,000 due jobs, big and empty interleaved sample by sample. Target: big/empty
  p50 and p99 <= 1.5.
- **Enqueue.** ``Enricher.enqueue_many`` of 100,000 new jobs in chunks of 1,000, big
  and empty: jobs/s and the ratio (target >= 0.67, the claim's 1.5 the other way up).
- **Commands.** ``status --json`` (the report builder), ``jobs list`` with each filter,
  ``jobs retry --status failed_ai --limit 10000`` (the redriven jobs are put back after
  timing): milliseconds, median of a few. Plans are asserted by tests, not here
  (tests/integration/test_command_plans.py).
- **Prune.** ``prune`` of the oldest nine tenths while ``--workers`` ``enricher run``
  processes drain a live backlog of no-op jobs (kept topped up): their throughput during
  the prune against the mean of the windows before and after it. Target >= 0.8.
- **Table health.** Table and index size (PostgreSQL: ``pg_total_relation_size``,
  ``pg_indexes_size``; SQLite: pages and free pages) after the build, after the prune,
  and, on PostgreSQL, dead tuples and autovacuum runs from ``pg_stat_user_tables``
  sampled during and after the prune.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.burndown_pg import start_workers, timed_claim
from enricher.app import Enricher
from enricher.clock import utcnow
from enricher.config import DatabaseSettings, Settings, embedded_settings
from enricher.db.dialects import connect
from enricher.db.timestamps import format_timestamp
from enricher.observe.logs import configure_logging
from enricher.observe.report import collect
from enricher.queue.enqueue import EnqueueRequest

REPO = Path(__file__).resolve().parents[1]
DAYS = 100
CLAIM_TARGET = 1.5
ENQUEUE_TARGET = 1 / CLAIM_TARGET
PRUNE_TARGET = 0.8
DUE_JOBS = 1000
ENQUEUE_JOBS = 100_000
ENQUEUE_CHUNK = 1000

# Row i (1 = oldest) of n: created every DAYS/n, finished 30 s later, ``end`` being the
# newest. Per hundred: 3 failed_ai, 1 failed_payload_parsing, 1 cancelled, 95 completed.
# Even rows are project_document jobs (a document per five of them), odd code_entity.
POSTGRES_SEED = """
INSERT INTO background_ai_jobs (
    task_type, target_entity_type, target_entity_id, status, attempts, run_after,
    completed_at, created_at, updated_at, error_message, provider, model,
    input_tokens, output_tokens, cost_usd)
SELECT CASE i % 4 WHEN 0 THEN 'summarize' WHEN 1 THEN 'topics' WHEN 2 THEN 'keywords'
                  ELSE 'classify' END,
       CASE WHEN i % 2 = 0 THEN 'project_document' ELSE 'code_entity' END,
       CASE WHEN i % 2 = 0 THEN 'd' || (i / 10) ELSE 'c' || i END,
       s.status, 1, created,
       CASE WHEN s.status <> 'cancelled' THEN created + interval '30 seconds' END,
       created, created + interval '30 seconds',
       CASE s.status WHEN 'failed_ai' THEN 'provider said 500: internal server error'
                     WHEN 'failed_payload_parsing' THEN 'payload is not JSON'
                     WHEN 'cancelled' THEN 'cancelled by ops' END,
       CASE WHEN s.status = 'completed' THEN 'local' END,
       CASE WHEN s.status = 'completed' THEN 'extractive' END,
       CASE WHEN s.status = 'completed' THEN 1000 END,
       CASE WHEN s.status = 'completed' THEN 200 END,
       CASE WHEN s.status = 'completed' THEN 0.0004 END
  FROM generate_series(1, $1) AS i,
       LATERAL (SELECT $2::timestamptz - ($1 - i) * $3::interval AS created,
                       CASE WHEN i % 100 < 3 THEN 'failed_ai'
                            WHEN i % 100 = 3 THEN 'failed_payload_parsing'
                            WHEN i % 100 = 4 THEN 'cancelled'
                            ELSE 'completed' END AS status) AS s
"""

POSTGRES_TARGETS = """
INSERT INTO project_documents (document_id, file_path, title, summary, ai_status,
                               ai_last_processed_at)
SELECT 'd' || k, 'docs/' || k || '.md', 'Document ' || k, 'A summary.', 'completed', $2
  FROM generate_series(0, $1 / 10) AS k
"""

SQLITE_SEED = """
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n),
rows AS (
  SELECT i, :end - (:n - i) * :step AS created,
         CASE WHEN i % 100 < 3 THEN 'failed_ai'
              WHEN i % 100 = 3 THEN 'failed_payload_parsing'
              WHEN i % 100 = 4 THEN 'cancelled'
              ELSE 'completed' END AS status
    FROM seq)
INSERT INTO background_ai_jobs (
    task_type, target_entity_type, target_entity_id, status, attempts, run_after,
    completed_at, created_at, updated_at, error_message, provider, model,
    input_tokens, output_tokens, cost_usd)
SELECT CASE i % 4 WHEN 0 THEN 'summarize' WHEN 1 THEN 'topics' WHEN 2 THEN 'keywords'
                  ELSE 'classify' END,
       CASE WHEN i % 2 = 0 THEN 'project_document' ELSE 'code_entity' END,
       CASE WHEN i % 2 = 0 THEN 'd' || (i / 10) ELSE 'c' || i END,
       status, 1, strftime('%Y-%m-%dT%H:%M:%fZ', created, 'unixepoch'),
       CASE WHEN status <> 'cancelled'
            THEN strftime('%Y-%m-%dT%H:%M:%fZ', created + 30, 'unixepoch') END,
       strftime('%Y-%m-%dT%H:%M:%fZ', created, 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%fZ', created + 30, 'unixepoch'),
       CASE status WHEN 'failed_ai' THEN 'provider said 500: internal server error'
                   WHEN 'failed_payload_parsing' THEN 'payload is not JSON'
                   WHEN 'cancelled' THEN 'cancelled by ops' END,
       CASE WHEN status = 'completed' THEN 'local' END,
       CASE WHEN status = 'completed' THEN 'extractive' END,
       CASE WHEN status = 'completed' THEN 1000 END,
       CASE WHEN status = 'completed' THEN 200 END,
       CASE WHEN status = 'completed' THEN 0.0004 END
  FROM rows
"""

SQLITE_TARGETS = """
WITH RECURSIVE seq(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM seq WHERE k < :n / 10)
INSERT INTO project_documents (document_id, file_path, title, summary, ai_status,
                               ai_last_processed_at)
SELECT 'd' || k, 'docs/' || k || '.md', 'Document ' || k, 'A summary.', 'completed', :at
  FROM seq
"""

# What `jobs list` is timed with: (label, list_jobs keyword arguments).
LISTS: list[tuple[str, dict[str, Any]]] = [
    ("jobs list", {}),
    ("jobs list --status failed_ai", {"statuses": ["failed_ai"]}),
    ("jobs list --status cancelled", {"statuses": ["cancelled"]}),
    ("jobs list --status failed_job_logic (none)", {"statuses": ["failed_job_logic"]}),
    ("jobs list --status pending", {"statuses": ["pending"]}),
    (
        "jobs list --status failed_ai --status cancelled",
        {"statuses": ["failed_ai", "cancelled"]},
    ),
    ("jobs list --task topics", {"task_type": "topics"}),
    ("jobs list --task absent (none)", {"task_type": "absent"}),
    ("jobs list --target-type project_document", {"target_entity_type": "project_document"}),
    ("jobs list --target-type absent (none)", {"target_entity_type": "absent"}),
    (
        "jobs list --status failed_ai --task summarize",
        {"statuses": ["failed_ai"], "task_type": "summarize"},
    ),
    ("jobs list --limit 1000", {"limit": 1000}),
]


def verdict(ratio: float, target: float, *, at_most: bool) -> str:
    ok = ratio <= target if at_most else ratio >= target
    return "PASS" if ok else "FAIL"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ───────────────────────────── databases ─────────────────────────────


@dataclass
class Db:
    """One bench database: its URL and a plain connection for the bench's own SQL."""

    url: str
    kind: str  # "postgres" or "sqlite"
    admin_url: str | None = None
    path: Path | None = None
    _pg: Any = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one query at a time

    @property
    def postgres(self) -> bool:
        return self.kind == "postgres"

    async def open(self) -> None:
        if self.postgres:
            self._pg = await asyncpg.connect(self.url)

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()

    async def rows(self, pg_sql: str, sqlite_sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """A query's rows: ``pg_sql`` with ``$n`` or ``sqlite_sql`` with ``?``."""
        if self.postgres:
            async with self._lock:
                return [tuple(r) for r in await self._pg.fetch(pg_sql, *args)]
        assert self.path is not None
        path = self.path
        values = [format_timestamp(a) if isinstance(a, datetime) else a for a in args]

        def go() -> list[tuple[Any, ...]]:
            conn = sqlite3.connect(path, timeout=60)
            try:
                found = list(conn.execute(sqlite_sql, values).fetchall())
                conn.commit()
                return found
            finally:
                conn.close()

        return await asyncio.to_thread(go)

    async def value(self, pg_sql: str, sqlite_sql: str, *args: Any) -> Any:
        return (await self.rows(pg_sql, sqlite_sql, *args))[0][0]


async def create_postgres(admin_url: str, label: str) -> Db:
    name = f"bench_scale_{label}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    db = Db(f"{admin_url.rpartition('/')[0]}/{name}", "postgres", admin_url=admin_url)
    await migrated(db.url)
    await db.open()
    return db


def create_sqlite(folder: Path, label: str) -> Db:
    path = folder / f"scale-{label}.db"
    path.unlink(missing_ok=True)
    return Db(f"sqlite:///{path}", "sqlite", path=path)


async def migrated(url: str) -> None:
    """Migrated and provisioned (the built-in target tables), as a worker's start leaves it."""
    app = await Enricher.open(bench_settings(url))
    await app.close()


async def drop(db: Db) -> None:
    await db.close()
    if db.postgres:
        assert db.admin_url is not None
        conn = await asyncpg.connect(db.admin_url)
        try:
            name = db.url.rpartition("/")[2]
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()
    elif db.path is not None:
        for suffix in ("", "-wal", "-shm"):
            await asyncio.to_thread(Path(f"{db.path}{suffix}").unlink, missing_ok=True)


async def seed_history(db: Db, rows: int, end: datetime) -> float:
    """Fill ``db`` with ``rows`` terminal jobs and their document targets; seconds taken."""
    started = time.perf_counter()
    step = timedelta(seconds=DAYS * 86400 / rows)
    if db.postgres:
        conn = db._pg
        await conn.execute("SET maintenance_work_mem = '512MB'")
        # Indexes are rebuilt once after the insert instead of updated ten million times;
        # the row triggers (NOTIFY on insert) are skipped: nothing listens to a history.
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'background_ai_jobs'"
            " AND indexname <> 'background_ai_jobs_pkey'"
        )
        for index in indexes:
            await conn.execute(f"DROP INDEX {index['indexname']}")
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(POSTGRES_SEED, rows, end, step)
        await conn.execute(POSTGRES_TARGETS, rows, end)
        await conn.execute("SET session_replication_role = DEFAULT")
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("VACUUM ANALYZE background_ai_jobs")
        await conn.execute("VACUUM ANALYZE project_documents")
    else:
        assert db.path is not None
        path = db.path

        def go() -> None:
            conn = sqlite3.connect(path)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(
                    SQLITE_SEED, {"n": rows, "end": end.timestamp(), "step": step.total_seconds()}
                )
                conn.execute(SQLITE_TARGETS, {"n": rows, "at": format_timestamp(end)})
                conn.commit()
                conn.execute("ANALYZE")
                conn.commit()
            finally:
                conn.close()

        await asyncio.to_thread(go)
    return time.perf_counter() - started


async def add_due(db: Db, count: int, prefix: str) -> None:
    """``count`` due no-op jobs (for the claim to find)."""
    await db.rows(
        "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
        " SELECT 'noop', 'noop', $2 || i FROM generate_series(1, $1) AS i",
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)"
        " INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
        " SELECT 'noop', 'noop', ? || i FROM s",
        count,
        prefix,
    )


@dataclass
class Health:
    label: str
    rows: int
    table_mb: float
    index_mb: float
    note: str = ""


async def health(db: Db, label: str) -> Health:
    rows = int(
        await db.value(
            "SELECT count(*) FROM background_ai_jobs", "SELECT count(*) FROM background_ai_jobs"
        )
    )
    if db.postgres:
        total, indexes, dead, live, vacuums, last = (
            await db.rows(
                "SELECT pg_total_relation_size(c.oid), pg_indexes_size(c.oid), s.n_dead_tup,"
                " s.n_live_tup, s.autovacuum_count, s.last_autovacuum"
                " FROM pg_class AS c JOIN pg_stat_user_tables AS s ON s.relid = c.oid"
                " WHERE c.relname = 'background_ai_jobs'",
                "",
            )
        )[0]
        note = f"n_dead_tup {dead:,}, n_live_tup {live:,}, autovacuums {vacuums}, last {last}"
        return Health(label, rows, (total - indexes) / 2**20, indexes / 2**20, note)
    page_size, pages, free = (
        await db.rows(
            "",
            "SELECT (SELECT page_size FROM pragma_page_size()),"
            " (SELECT page_count FROM pragma_page_count()),"
            " (SELECT freelist_count FROM pragma_freelist_count())",
        )
    )[0]
    try:
        table, indexes = (
            await db.rows(
                "",
                "SELECT sum(CASE WHEN name = 'background_ai_jobs' THEN pgsize END),"
                " sum(CASE WHEN name LIKE 'background_ai_jobs_%'"
                " OR name LIKE 'sqlite_autoindex_background_ai_jobs%' THEN pgsize END)"
                " FROM dbstat",
            )
        )[0]
    except sqlite3.OperationalError:
        table, indexes = pages * page_size, 0  # no dbstat in this build: the whole file
    note = f"file {pages * page_size / 2**20:,.0f} MB, {free:,} free pages of {pages:,}"
    return Health(label, rows, (table or 0) / 2**20, (indexes or 0) / 2**20, note)


# ───────────────────────────── claim ─────────────────────────────


@dataclass
class ClaimResult:
    fair: bool
    empty: list[float]
    big: list[float]

    def line(self) -> list[str]:
        name = "fair claim" if self.fair else "plain claim"
        out = []
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            e, b = percentile(self.empty, q), percentile(self.big, q)
            ratio = b / e
            out.append(
                f"  {name:11} {label}: empty {e * 1000:6.2f} ms, big {b * 1000:6.2f} ms,"
                f" ratio {ratio:4.2f} (target <= {CLAIM_TARGET}) "
                f"{verdict(ratio, CLAIM_TARGET, at_most=True)}"
            )
        return out


async def claims(empty: Db, big: Db, samples: int) -> list[ClaimResult]:
    results = []
    async with AsyncExitStack() as stack:
        connectors = []
        for db in (empty, big):
            connector = connect(db.url)
            await connector.open()
            stack.push_async_callback(connector.close)
            connectors.append(connector)
        for fair in (True, False):
            for connector in connectors:  # warm-up: caches, prepared statements
                for _ in range(5):
                    await timed_claim(connector, "bench-scale", fair=fair)
            timings: list[list[float]] = [[], []]
            for _ in range(samples):
                for index, connector in enumerate(connectors):
                    timings[index].append(await timed_claim(connector, "bench-scale", fair=fair))
            results.append(ClaimResult(fair, timings[0], timings[1]))
    return results


# ───────────────────────────── enqueue ─────────────────────────────


def bench_settings(url: str) -> Settings:
    base = embedded_settings("unused.db", concurrency=8, poll_interval_s=0.2, heartbeat_s=5.0)
    worker = base.worker.model_copy(update={"handlers": ["bench.handlers:register"]})
    return base.model_copy(
        update={"database": DatabaseSettings(url=url, connect_timeout_s=10.0), "worker": worker}
    )


async def enqueue_rate(db: Db, count: int, prefix: str) -> float:
    """Jobs/s of ``enqueue_many`` of ``count`` new no-op jobs, in chunks."""
    app = await Enricher.open(bench_settings(db.url))
    try:
        began = time.perf_counter()
        for start in range(0, count, ENQUEUE_CHUNK):
            chunk = [
                EnqueueRequest(
                    task_type="noop", target_entity_type="noop", target_entity_id=f"{prefix}{i}"
                )
                for i in range(start, min(count, start + ENQUEUE_CHUNK))
            ]
            results = await app.enqueue_many(chunk)
            assert all(r.created for r in results)
        return count / (time.perf_counter() - began)
    finally:
        await app.close()


# ───────────────────────────── commands ─────────────────────────────


async def timed(action: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    """Median milliseconds of ``repeat`` runs after one warm-up, and the last answer."""
    answer = await action()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        answer = await action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), answer


async def commands(db: Db, repeat: int) -> list[tuple[str, float, str]]:
    """(label, median ms, note) of each command's work against ``db``."""
    out: list[tuple[str, float, str]] = []
    app = await Enricher.open(bench_settings(db.url))
    try:
        ms, report = await timed(lambda: collect(app), max(1, repeat // 3))
        out.append(("status --json", ms, f"backlog {report['backlog']:,}"))
        for label, kwargs in LISTS:
            ms, jobs = await timed(lambda kw=kwargs: app.list_jobs(**kw), repeat)  # type: ignore[misc]
            out.append((label, ms, f"{len(jobs)} jobs"))
            print(f"    {label:48} {ms:9.1f} ms", flush=True)
        began = time.perf_counter()
        redrive = await app.retry_jobs(statuses=["failed_ai"], limit=10_000)
        ms = (time.perf_counter() - began) * 1000
        out.append(
            (
                "jobs retry --status failed_ai --limit 10000",
                ms,
                f"{len(redrive.redriven):,} redriven, {len(redrive.skipped):,} skipped",
            )
        )
        # Put them back as they were: the prune below must find the same history.
        await put_back(db, list(redrive.redriven))
    finally:
        await app.close()
    return out


async def put_back(db: Db, job_ids: list[str]) -> None:
    for start in range(0, len(job_ids), 1000):
        chunk = job_ids[start : start + 1000]
        await db.rows(
            "UPDATE background_ai_jobs SET status = 'failed_ai', attempts = 1,"
            " error_message = 'provider said 500: internal server error',"
            " updated_at = created_at + interval '30 seconds'"
            " WHERE job_id = ANY($1::uuid[])",
            "UPDATE background_ai_jobs SET status = 'failed_ai', attempts = 1,"
            " error_message = 'provider said 500: internal server error',"
            " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', created_at, '+30 seconds')"
            " WHERE job_id IN (SELECT value FROM json_each(?))",
            chunk if db.postgres else __import__("json").dumps(chunk),
        )


# ───────────────────────────── prune under load ─────────────────────────────


@dataclass
class Live:
    """``enricher run`` worker processes draining no-op jobs, and a feeder keeping
    their backlog from running dry."""

    db: Db
    workers: int
    concurrency: int
    folder: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    fed: int = 0

    def start(self) -> None:
        self.procs = start_workers(
            self.db.url, self.workers, self.concurrency, self.folder, burst=False
        )

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    async def waiting(self) -> int:
        return int(
            await self.db.value(
                "SELECT count(*) FROM background_ai_jobs WHERE status = 'pending'",
                "SELECT count(*) FROM background_ai_jobs WHERE status = 'pending'",
            )
        )

    async def feed(self, low: int, chunk: int) -> None:
        """Top the backlog up by ``chunk`` jobs whenever fewer than ``low`` wait."""
        while True:
            if await self.waiting() < low:
                await add_due(self.db, chunk, f"live{self.fed}-")
                self.fed += 1
            await asyncio.sleep(0.5)

    async def done_between(self, start: datetime, stop: datetime) -> int:
        """No-op jobs completed in ``[start, stop)`` (read from the finished index)."""
        return int(
            await self.db.value(
                "SELECT count(*) FROM background_ai_jobs WHERE status = 'completed'"
                " AND updated_at >= $1 AND updated_at < $2 AND task_type = 'noop'",
                "SELECT count(*) FROM background_ai_jobs WHERE status = 'completed'"
                " AND updated_at >= ? AND updated_at < ? AND task_type = 'noop'",
                start,
                stop,
            )
        )


@dataclass
class PruneResult:
    deleted: int
    seconds: float
    before_rate: float
    during_rate: float
    after_rate: float
    samples: list[str]

    @property
    def ratio(self) -> float:
        return self.during_rate / ((self.before_rate + self.after_rate) / 2)


async def prune_under_load(
    db: Db, rows: int, end: datetime, workers: int, window_s: float
) -> PruneResult:
    cutoff = end - timedelta(days=DAYS * 0.1)
    with tempfile.TemporaryDirectory() as folder:
        live = Live(db, workers, 16, Path(folder))
        feeder: asyncio.Task[None] | None = None
        app = await Enricher.open(bench_settings(db.url))
        try:
            await add_due(db, 20_000, "live-start-")
            live.start()
            feeder = asyncio.create_task(live.feed(low=10_000, chunk=20_000))
            await asyncio.sleep(window_s / 2)  # warm-up
            t0 = utcnow()
            await asyncio.sleep(window_s)
            t1 = utcnow()
            samples: list[str] = []
            sampler = asyncio.create_task(sample_health(db, samples))
            began = time.perf_counter()
            deleted = await app.prune(older_than=utcnow() - cutoff)
            seconds = time.perf_counter() - began
            t2 = utcnow()
            sampler.cancel()
            await asyncio.sleep(window_s)
            t3 = utcnow()
            before = await live.done_between(t0, t1) / (t1 - t0).total_seconds()
            during = await live.done_between(t1, t2) / (t2 - t1).total_seconds()
            after = await live.done_between(t2, t3) / (t3 - t2).total_seconds()
            return PruneResult(deleted, seconds, before, during, after, samples)
        finally:
            if feeder is not None:
                feeder.cancel()
            live.stop()
            await app.close()


async def sample_health(db: Db, into: list[str]) -> None:
    """Every 15 s during the prune: rows, dead tuples, autovacuum runs (PostgreSQL)."""
    began = time.perf_counter()
    while True:
        await asyncio.sleep(15)
        if db.postgres:
            dead, live, vacuums, running = (
                await db.rows(
                    "SELECT n_dead_tup, n_live_tup, autovacuum_count,"
                    " (SELECT count(*) FROM pg_stat_progress_vacuum AS p"
                    "   WHERE p.relid = s.relid)"
                    " FROM pg_stat_user_tables AS s WHERE relname = 'background_ai_jobs'",
                    "",
                )
            )[0]
            into.append(
                f"t={time.perf_counter() - began:5.0f}s n_live_tup {live:>11,} n_dead_tup"
                f" {dead:>11,} autovacuums {vacuums} vacuum running {running}"
            )


# ───────────────────────────── one backend ─────────────────────────────


async def run_backend(
    label: str, make: Callable[[str], Awaitable[Db]], rows: int, args: argparse.Namespace
) -> list[str]:
    """Every measurement on one backend; returns the summary lines."""
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    summary = [f"{label}: {rows:,} terminal jobs"]
    empty = await make("empty")
    big = await make("big")
    try:
        seconds = await seed_history(big, rows, end)
        print(f"{label}: built {rows:,} jobs in {seconds:.0f} s", flush=True)
        summary.append(f"  built in {seconds:.0f} s")
        built = await health(big, "after build")
        await add_due(empty, DUE_JOBS, "due")
        await add_due(big, DUE_JOBS, "due")
        for result in await claims(empty, big, args.samples):
            summary += result.line()
        print("\n".join(summary), flush=True)
        rates = []
        for db in (empty, big):
            rates.append(await enqueue_rate(db, args.enqueue, "enq"))
        ratio = rates[1] / rates[0]
        summary.append(
            f"  enqueue_many {args.enqueue:,} jobs: empty {rates[0]:,.0f} jobs/s, big"
            f" {rates[1]:,.0f} jobs/s, ratio {ratio:.2f} (target >= {ENQUEUE_TARGET:.2f})"
            f" {verdict(ratio, ENQUEUE_TARGET, at_most=False)}"
        )
        print(summary[-1], flush=True)
        # The enqueued jobs are the live backlog below; the commands see them as backlog.
        for name, ms, note in await commands(big, args.repeat):
            summary.append(f"  {name:48} {ms:9.1f} ms   {note}")
        print("\n".join(summary[-len(LISTS) - 2 :]), flush=True)
        pruning = await prune_under_load(big, rows, end, args.workers, args.window)
        summary.append(
            f"  prune: {pruning.deleted:,} rows in {pruning.seconds:.0f} s"
            f" ({pruning.deleted / pruning.seconds:,.0f} rows/s)"
        )
        summary.append(
            f"  workers' throughput ({args.workers} x enricher run):"
            f" before {pruning.before_rate:,.0f}"
            f" jobs/s, during prune {pruning.during_rate:,.0f}, after {pruning.after_rate:,.0f};"
            f" ratio {pruning.ratio:.2f} (target >= {PRUNE_TARGET}) "
            f"{verdict(pruning.ratio, PRUNE_TARGET, at_most=False)}"
        )
        summary += [f"    during prune: {s}" for s in pruning.samples]
        pruned = await health(big, "after prune")
        settled = pruned
        if big.postgres:  # autovacuum wakes every autovacuum_naptime (1 min by default)
            await asyncio.sleep(args.settle)
            settled = await health(big, f"{args.settle:.0f} s later")
        for h in [built, pruned] + ([settled] if settled is not pruned else []):
            summary.append(
                f"  table health {h.label:12}: {h.rows:>11,} rows, table {h.table_mb:8,.0f} MB,"
                f" indexes {h.index_mb:8,.0f} MB; {h.note}"
            )
        print("\n".join(summary[-8:]), flush=True)
    finally:
        await drop(empty)
        if args.keep:
            print(f"kept {big.url}")
            await big.close()
        else:
            await drop(big)
    return summary


async def main_async(args: argparse.Namespace) -> None:
    summaries: list[str] = []
    if not args.skip_postgres:
        if not args.url:
            raise SystemExit("no PostgreSQL: pass --url, set TEST_POSTGRES_URL or --skip-postgres")
        url = args.url

        async def make_pg(label: str) -> Db:
            return await create_postgres(url, label)

        summaries += await run_backend("postgres", make_pg, args.rows, args)
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(dir=args.sqlite_dir) as folder:

            async def make_sqlite(label: str) -> Db:
                db = create_sqlite(Path(folder), label)
                await migrated(db.url)
                return db

            summaries += await run_backend("sqlite", make_sqlite, args.sqlite_rows, args)
    print("\n" + "\n".join(summaries))


def main() -> None:
    configure_logging("warning")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument("--rows", type=int, default=int(os.environ.get("SCALE_ROWS", 10_000_000)))
    parser.add_argument(
        "--sqlite-rows", type=int, default=int(os.environ.get("SCALE_SQLITE_ROWS", 2_000_000))
    )
    parser.add_argument("--sqlite-dir", default=None, help="where the SQLite files go")
    parser.add_argument("--samples", type=int, default=400, help="claims timed per database")
    parser.add_argument("--enqueue", type=int, default=ENQUEUE_JOBS)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--window", type=float, default=20.0, help="seconds per throughput window")
    parser.add_argument(
        "--settle", type=float, default=75.0, help="seconds to wait for autovacuum after the prune"
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the big databases (to explore)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
