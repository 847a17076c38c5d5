"""The dashboard at a million jobs: how long each page takes, on SQLite and PostgreSQL.

    python -m bench.web [--jobs 1000000] [--url postgresql://...] [--repeat 15]
                        [--sqlite-file /tmp/enricher-web-bench.db] [--skip-sqlite]

Builds a queue of ``--jobs`` jobs by plain SQL in one statement (a recursive CTE on
SQLite, ``generate_series`` on PostgreSQL; never the API, which would take hours):
a month of history, mostly completed with tokens and cost, a few per cent failed with a
handful of recurring errors and some unique ones, cancellations, and a backlog of
pending, retrying and rate-limited jobs in the newest hours. The SQLite file is kept
and reused when it already holds that many jobs (delete it to rebuild); the PostgreSQL
database is created fresh and dropped at the end.

Then every page of the issue's "fast" list is fetched through the ASGI app (no network,
no server: what is timed is the handler, its queries and the template), ``--repeat``
times after one warm-up, and the median and 95th percentile printed against the 100 ms
target. Asserts nothing: figures for the README and docs/architecture.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx2 as httpx

from enricher.app import Enricher
from enricher.config import DatabaseSettings, Settings
from enricher.db.dialects import connect
from enricher.db.migrate import migrate
from enricher.observe.report import collect_totals
from enricher.queue.views import encode_cursor
from enricher.web import create_app

TARGET_MS = 100.0
DAYS = 30
ERRORS = (
    "provider said 400: invalid_request_error: context length exceeded",
    "output failed validation: 1 validation error for Summary",
    "timed out after 60 s",
    "provider said 500: internal server error",
    "payload is not JSON: Expecting value: line 1 column 1",
    "target row missing: ticket was deleted",
    "provider said 529: overloaded",
    "provider said 422: unprocessable entity",
)

# Rows by their number i (1 = oldest, n = newest): every row is a function of i, so
# both dialects build the same queue. A job is created every DAYS/n, ends 30 s later.
# Status: every other job of the newest 2 % is the backlog (pending, with every 7th
# retry_ai and every 11th rate_limited), the newest 20 are processing; the rest, per
# hundred: 3 failed_ai, 1 failed_payload_parsing, 1 cancelled, 95 completed.
SQLITE_SEED = """
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n),
rows AS (
  SELECT i,
         CASE WHEN i > :n - 20 THEN 'processing'
              WHEN i > :n * 0.98 AND i % 2 = 0 THEN CASE WHEN i % 7 = 0 THEN 'retry_ai'
                                           WHEN i % 11 = 0 THEN 'rate_limited'
                                           ELSE 'pending' END
              WHEN i % 100 < 3 THEN 'failed_ai'
              WHEN i % 100 = 3 THEN 'failed_payload_parsing'
              WHEN i % 100 = 4 THEN 'cancelled'
              ELSE 'completed' END AS status,
         :end - (:n - i) * :step AS created
    FROM seq)
INSERT INTO background_ai_jobs (
    task_type, target_entity_type, target_entity_id, status, attempts, run_after,
    locked_by, locked_at, completed_at, created_at, updated_at, error_message, provider,
    model, input_tokens, cached_input_tokens, output_tokens, cost_usd)
SELECT CASE i % 4 WHEN 0 THEN 'summarize' WHEN 1 THEN 'topics' WHEN 2 THEN 'keywords'
                  ELSE 'classify' END,
       CASE i % 3 WHEN 0 THEN 'ticket' WHEN 1 THEN 'email' ELSE 'page' END,
       'e' || i, status,
       CASE WHEN status IN ('completed', 'pending') THEN 0 ELSE 1 END,
       strftime('%Y-%m-%dT%H:%M:%fZ', created, 'unixepoch'),
       CASE WHEN status = 'processing' THEN 'bench-worker' END,
       CASE WHEN status = 'processing' THEN strftime('%Y-%m-%dT%H:%M:%fZ', :end, 'unixepoch') END,
       CASE WHEN status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'cancelled')
            THEN strftime('%Y-%m-%dT%H:%M:%fZ', created + 30, 'unixepoch') END,
       strftime('%Y-%m-%dT%H:%M:%fZ', created, 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%fZ', min(created + 30, :end), 'unixepoch'),
       CASE WHEN status IN ('failed_ai', 'failed_payload_parsing', 'retry_ai', 'rate_limited')
            THEN CASE WHEN i % 13 = 0 THEN 'unexpected reply for job ' || i
                      ELSE (SELECT value FROM json_each(:errors) WHERE key = i % 8) END
            WHEN status = 'cancelled' THEN 'cancelled by ops (web)' END,
       CASE WHEN status = 'completed' THEN CASE i % 3 WHEN 0 THEN 'openai'
            WHEN 1 THEN 'anthropic' ELSE 'local' END END,
       CASE WHEN status = 'completed' THEN CASE i % 3 WHEN 0 THEN 'gpt-4o-mini'
            WHEN 1 THEN 'claude-haiku' ELSE 'extractive' END END,
       CASE WHEN status = 'completed' THEN 1000 + i % 500 END,
       CASE WHEN status = 'completed' THEN CASE WHEN i % 2 = 0 THEN 800 ELSE 0 END END,
       CASE WHEN status = 'completed' THEN 200 END,
       CASE WHEN status = 'completed' THEN 0.0004 END
  FROM rows
"""

POSTGRES_SEED = """
WITH rows AS (
  SELECT i,
         CASE WHEN i > $1 - 20 THEN 'processing'
              WHEN i > $1 * 0.98 AND i % 2 = 0 THEN CASE WHEN i % 7 = 0 THEN 'retry_ai'
                                           WHEN i % 11 = 0 THEN 'rate_limited'
                                           ELSE 'pending' END
              WHEN i % 100 < 3 THEN 'failed_ai'
              WHEN i % 100 = 3 THEN 'failed_payload_parsing'
              WHEN i % 100 = 4 THEN 'cancelled'
              ELSE 'completed' END AS status,
         $2::timestamptz - ($1 - i) * $3::interval AS created
    FROM generate_series(1, $1) AS i)
INSERT INTO background_ai_jobs (
    task_type, target_entity_type, target_entity_id, status, attempts, run_after,
    locked_by, locked_at, completed_at, created_at, updated_at, error_message, provider,
    model, input_tokens, cached_input_tokens, output_tokens, cost_usd)
SELECT CASE i % 4 WHEN 0 THEN 'summarize' WHEN 1 THEN 'topics' WHEN 2 THEN 'keywords'
                  ELSE 'classify' END,
       CASE i % 3 WHEN 0 THEN 'ticket' WHEN 1 THEN 'email' ELSE 'page' END,
       'e' || i, status,
       CASE WHEN status IN ('completed', 'pending') THEN 0 ELSE 1 END,
       created,
       CASE WHEN status = 'processing' THEN 'bench-worker' END,
       CASE WHEN status = 'processing' THEN $2::timestamptz END,
       CASE WHEN status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'cancelled')
            THEN created + interval '30 seconds' END,
       created,
       least(created + interval '30 seconds', $2::timestamptz),
       CASE WHEN status IN ('failed_ai', 'failed_payload_parsing', 'retry_ai', 'rate_limited')
            THEN CASE WHEN i % 13 = 0 THEN 'unexpected reply for job ' || i
                      ELSE ($4::text[])[i % 8 + 1] END
            WHEN status = 'cancelled' THEN 'cancelled by ops (web)' END,
       CASE WHEN status = 'completed' THEN CASE i % 3 WHEN 0 THEN 'openai'
            WHEN 1 THEN 'anthropic' ELSE 'local' END END,
       CASE WHEN status = 'completed' THEN CASE i % 3 WHEN 0 THEN 'gpt-4o-mini'
            WHEN 1 THEN 'claude-haiku' ELSE 'extractive' END END,
       CASE WHEN status = 'completed' THEN 1000 + i % 500 END,
       CASE WHEN status = 'completed' THEN CASE WHEN i % 2 = 0 THEN 800 ELSE 0 END END,
       CASE WHEN status = 'completed' THEN 200 END,
       CASE WHEN status = 'completed' THEN 0.0004 END
  FROM rows
"""


async def migrated(url: str) -> None:
    db = connect(url)
    await db.open()
    try:
        await migrate(db)
    finally:
        await db.close()


def sqlite_jobs(path: Path) -> int | None:
    """How many jobs the bench file holds (None: no usable file)."""
    if not path.exists():
        return None
    try:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("SELECT count(*) FROM background_ai_jobs").fetchone()[0])
    except sqlite3.Error:
        return None


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def seed_sqlite(path: Path, jobs: int, end: datetime) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            SQLITE_SEED,
            {
                "n": jobs,
                "end": end.timestamp(),
                "step": DAYS * 86400 / jobs,
                "errors": json.dumps(list(ERRORS)),
            },
        )
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()


async def build_sqlite(path: Path, jobs: int, end: datetime) -> tuple[str, datetime]:
    """The SQLite bench database and the time its newest job was created."""
    url = f"sqlite:///{path}"
    if sqlite_jobs(path) == jobs:
        print(f"sqlite: reusing {path} ({jobs} jobs; delete it to rebuild)")
        await migrated(url)  # a newer migration (an index) is applied to the old file
        with sqlite3.connect(path) as conn:
            (newest,) = conn.execute("SELECT max(created_at) FROM background_ai_jobs").fetchone()
        return url, datetime.fromisoformat(newest.replace("Z", "+00:00"))
    remove(path)
    await migrated(url)
    started = time.perf_counter()
    seed_sqlite(path, jobs, end)
    print(f"sqlite: built {jobs} jobs in {time.perf_counter() - started:.0f} s ({path})")
    return url, end


async def build_postgres(url: str, jobs: int, end: datetime, name: str) -> tuple[str, datetime]:
    """The PostgreSQL bench database ``name``: reused when it holds ``jobs`` jobs."""
    db_url = f"{url.rpartition('/')[0]}/{name}"
    admin = await asyncpg.connect(url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    await migrated(db_url)
    conn = await asyncpg.connect(db_url)
    try:
        if await conn.fetchval("SELECT count(*) FROM background_ai_jobs") == jobs:
            print(f"postgres: reusing {name} ({jobs} jobs)")
            await conn.execute("VACUUM ANALYZE background_ai_jobs")
            newest = await conn.fetchval("SELECT max(created_at) FROM background_ai_jobs")
            return db_url, newest
        await conn.execute("TRUNCATE background_ai_jobs")
        started = time.perf_counter()
        await conn.execute(
            POSTGRES_SEED, jobs, end, timedelta(seconds=DAYS * 86400 / jobs), list(ERRORS)
        )
        await conn.execute("VACUUM ANALYZE background_ai_jobs")
    finally:
        await conn.close()
    print(f"postgres: built {jobs} jobs in {time.perf_counter() - started:.0f} s ({name})")
    return db_url, end


async def drop_postgres(url: str, db_url: str) -> None:
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {db_url.rpartition('/')[2]} WITH (FORCE)")
    finally:
        await admin.close()


def pages(end: datetime) -> list[tuple[str, str]]:
    """(label, path) of every page and filter timed."""
    day = quote((end - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    week = quote((end - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"))
    return [
        ("overview", "/"),
        ("jobs", "/jobs"),
        ("jobs status=failed_ai", "/jobs?status=failed_ai"),
        ("jobs status=cancelled", "/jobs?status=cancelled"),
        ("jobs status=processing", "/jobs?status=processing"),
        ("jobs task=topics", "/jobs?task_type=topics"),
        ("jobs task=absent", "/jobs?task_type=absent"),
        ("jobs target type=ticket", "/jobs?target_entity_type=ticket"),
        ("jobs provider+model", "/jobs?provider=anthropic&model=claude-haiku"),
        ("jobs error text", "/jobs?error=validation"),
        ("jobs error text, none", "/jobs?error=no+such+words"),
        ("jobs status+task", "/jobs?status=failed_ai&task_type=summarize"),
        ("jobs created range", f"/jobs?created_from={week}&created_to={day}"),
        ("jobs updated range", f"/jobs?updated_from={week}&updated_to={day}"),
        ("jobs deep page", "/jobs?before=DEEP"),
        ("failures", "/failures"),
        ("throttling", "/throttling"),
        ("workers", "/workers"),
    ]


async def time_pages(
    label: str, url: str, end: datetime, repeat: int, jobs: int
) -> list[tuple[str, float, float]]:
    settings = Settings(database=DatabaseSettings(url=url))
    # "Now" is pinned to the newest job, so a reused database has the same recent hour
    # (chart, throughput, today's usage) as a freshly built one.
    app = create_app(settings, clock=lambda: end)
    results = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            deep = await deep_cursor(url, jobs)
            for name, path in pages(end):
                path = path.replace("before=DEEP", f"before={deep}")
                first = await client.get(path)
                assert first.status_code == 200, (name, first.status_code, first.text[:300])
                times = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    response = await client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200
                times.sort()
                p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
                results.append((name, statistics.median(times), p95))
                flag = "ok" if statistics.median(times) < TARGET_MS else "SLOW"
                print(
                    f"{label:9} {name:26} median {statistics.median(times):7.1f} ms"
                    f"  p95 {p95:7.1f} ms  {flag}",
                    flush=True,
                )
        results.append(await time_totals(label, app_settings=settings, end=end, repeat=3))
    return results


async def time_totals(
    label: str, *, app_settings: Settings, end: datetime, repeat: int
) -> tuple[str, float, float]:
    """The history totals the overview reuses (``enricher.web.totals``): what a
    background recount costs, and what the first overview after start-up waits for."""
    app = await Enricher.open(app_settings, clock=lambda: end)
    times = []
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            await collect_totals(app)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        await app.close()
    median = statistics.median(times)
    print(f"{label:9} {'totals recount (bg)':26} median {median:7.1f} ms  p95 {max(times):7.1f} ms")
    return ("totals recount (background)", median, max(times))


async def deep_cursor(url: str, jobs: int) -> str:
    """The cursor of a page nine tenths of the way down the list (read once, directly)."""
    sql = (
        "SELECT created_at, job_id FROM background_ai_jobs "
        "ORDER BY created_at DESC, job_id DESC LIMIT 1 OFFSET " + str(jobs * 9 // 10)
    )
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            at, job_id = conn.execute(sql).fetchone()
        created = datetime.fromisoformat(at.replace("Z", "+00:00"))
    else:
        conn_pg = await asyncpg.connect(url)
        try:
            row = await conn_pg.fetchrow(sql)
        finally:
            await conn_pg.close()
        created, job_id = row["created_at"], row["job_id"]
    return quote(encode_cursor(created, str(job_id)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--url", default=os.environ.get("TEST_POSTGRES_URL"))
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--sqlite-file", type=Path, default=Path("/tmp/enricher-web-bench.db"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--keep", action="store_true", help="keep the PostgreSQL database for the next run"
    )
    args = parser.parse_args()
    end = datetime.now(UTC).replace(microsecond=0)
    summary: dict[str, list[tuple[str, float, float]]] = {}
    if not args.skip_sqlite:
        url, newest = await build_sqlite(args.sqlite_file, args.jobs, end)
        summary["sqlite"] = await time_pages("sqlite", url, newest, args.repeat, args.jobs)
    if args.url:
        name = f"bench_web_{args.jobs}"
        db_url, newest = await build_postgres(args.url, args.jobs, end, name)
        try:
            summary["postgres"] = await time_pages(
                "postgres", db_url, newest, args.repeat, args.jobs
            )
        finally:
            if not args.keep:
                await drop_postgres(args.url, db_url)
    else:
        print("postgres: skipped (no --url and no TEST_POSTGRES_URL)")
    print(f"\n{args.jobs} jobs; median / p95 in ms; target {TARGET_MS:.0f} ms")
    backends = list(summary)
    print(f"{'page':26}" + "".join(f"{b:>22}" for b in backends))
    for index, (name, _, _) in enumerate(next(iter(summary.values()), [])):
        cells = "".join(
            f"{summary[b][index][1]:>10.1f} / {summary[b][index][2]:>7.1f}"
            f" {'ok' if summary[b][index][1] < TARGET_MS else '!!'}"
            for b in backends
        )
        print(f"{name:26}{cells}")
    worst = {
        b: max(r[1] for r in rows if not r[0].startswith("totals")) for b, rows in summary.items()
    }
    for b, w in worst.items():
        print(f"{b}: slowest page median {w:.1f} ms = {w / TARGET_MS:.2f} x the target")


if __name__ == "__main__":
    asyncio.run(main())
