"""Soak: a million no-op jobs through four ``enricher run`` processes on PostgreSQL.

    python -m bench.soak [--jobs 1000000] [--workers 4] [--concurrency 16]
                         [--url postgresql://...] [--plot docs/soak.png]

A fresh database gets ``--jobs`` no-op jobs by plain SQL (the bench ``noop`` handler:
the queue's own cost is all there is, so a leak or a slowdown in it is not hidden
behind provider latency). ``--workers`` worker processes drain them. Every 10 s the
bench samples each worker's resident memory (``VmRSS`` of ``/proc/<pid>/status``) and
times a probe claim (the worker's fair claim of 32 jobs, put back at once: what a
claim costs against the table as it is then). Throughput per 10 s comes from the jobs'
own completion times, so sampling cannot skew it.

Targets: each worker's RSS in the last tenth of the run at most 10 % above its RSS
after warm-up (the second tenth); throughput in the last tenth at least 0.9 of the
first. The curves are drawn to ``--plot`` (matplotlib, from the bench extra).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.burndown_pg import drop, fresh, seed, start_workers, timed_claim
from enricher.clock import utcnow
from enricher.db.postgres import PostgresConnector

REPO = Path(__file__).resolve().parents[1]
RSS_TARGET = 0.10
THROUGHPUT_TARGET = 0.9
SAMPLE_S = 10.0


def rss_kb(pid: int) -> int | None:
    """A process's resident set in kB, or None once it has exited."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


@dataclass
class Sample:
    at_s: float  # since the workers started
    rss_mb: list[float | None]
    claim_ms: float
    waiting: int


@dataclass
class Soak:
    samples: list[Sample] = field(default_factory=list)
    buckets: list[tuple[float, int]] = field(default_factory=list)  # (start s, jobs done)
    seconds: float = 0.0


async def soak(db_url: str, jobs: int, workers: int, concurrency: int) -> Soak:
    result = Soak()
    probe = PostgresConnector(db_url, pool_size=1)
    await probe.open()
    conn = await asyncpg.connect(db_url)
    try:
        with tempfile.TemporaryDirectory() as folder:
            started_at = utcnow()
            began = time.perf_counter()
            procs = start_workers(db_url, workers, concurrency, Path(folder))
            try:
                while any(p.poll() is None for p in procs):
                    await asyncio.sleep(SAMPLE_S)
                    rss = [rss_kb(p.pid) for p in procs]
                    claims = [
                        await timed_claim(probe, "bench-soak-probe", fair=True) for _ in range(3)
                    ]
                    waiting = await conn.fetchval(
                        "SELECT count(*) FROM background_ai_jobs WHERE status = 'pending'"
                    )
                    sample = Sample(
                        time.perf_counter() - began,
                        [kb / 1024 if kb is not None else None for kb in rss],
                        statistics.median(claims) * 1000,
                        int(waiting),
                    )
                    result.samples.append(sample)
                    print(
                        f"t={sample.at_s:6.0f}s waiting {sample.waiting:>9,}  claim"
                        f" {sample.claim_ms:6.2f} ms  RSS MB "
                        + " ".join(f"{r:6.1f}" if r else "  gone" for r in sample.rss_mb),
                        flush=True,
                    )
            finally:
                for proc in procs:
                    if proc.poll() is None:
                        proc.terminate()
                for proc in procs:
                    proc.wait(30)
            if any(p.returncode != 0 for p in procs):
                raise SystemExit(f"a worker exited with {[p.returncode for p in procs]}")
        done = await conn.fetchval(
            "SELECT count(*) FROM background_ai_jobs WHERE status = 'completed'"
        )
        assert done == jobs, f"only {done} of {jobs} completed"
        rows = await conn.fetch(
            "SELECT extract(epoch FROM date_bin('10 seconds', updated_at, $1) - $1) AS start,"
            " count(*) AS done FROM background_ai_jobs WHERE status = 'completed'"
            " GROUP BY 1 ORDER BY 1",
            started_at,
        )
        result.buckets = [(float(r["start"]), int(r["done"])) for r in rows]
        first = result.buckets[0][0]
        result.buckets = [(start - first, done) for start, done in result.buckets]
        result.seconds = result.buckets[-1][0] + SAMPLE_S
    finally:
        await conn.close()
        await probe.close()
    return result


def tenths(
    values: list[tuple[float, float]], span: float
) -> tuple[list[float], list[float], list[float]]:
    """The values (time, value) in the first, second and last tenth of ``span``; a short
    run's tenth shorter than a sample gets the nearest sample."""
    first = [v for t, v in values if t < span / 10] or [v for _, v in values[:1]]
    second = [v for t, v in values if span / 10 <= t < span / 5] or [
        v for _, v in values[1:2] or values[:1]
    ]
    last = [v for t, v in values if t >= span * 0.9] or [v for _, v in values[-1:]]
    return first, second, last


def report(result: Soak, workers: int) -> tuple[list[str], dict[str, float]]:
    lines = []
    # The last bucket is cut short by the queue running dry: left out.
    full = result.buckets[:-1] if len(result.buckets) > 2 else result.buckets
    span = full[-1][0] + SAMPLE_S
    rates = [(t, done / SAMPLE_S) for t, done in full]
    first, _, last = tenths(rates, span)
    ratio = statistics.mean(last) / statistics.mean(first)
    lines.append(
        f"throughput: first tenth {statistics.mean(first):,.0f} jobs/s, last tenth"
        f" {statistics.mean(last):,.0f} jobs/s, ratio {ratio:.2f}"
        f" (target >= {THROUGHPUT_TARGET}) {'PASS' if ratio >= THROUGHPUT_TARGET else 'FAIL'}"
    )
    worst = 0.0
    sample_span = result.samples[-1].at_s if result.samples else 0.0
    for index in range(workers):
        series = [(s.at_s, s.rss_mb[index]) for s in result.samples if s.rss_mb[index]]
        values = [(t, float(v)) for t, v in series if v is not None]
        # Samples taken while the worker still ran a full queue: up to the last bucket.
        values = [(t, v) for t, v in values if t <= span]
        _, warm, tail = tenths(values, min(span, sample_span))
        if not warm or not tail:
            continue
        growth = statistics.median(tail) / statistics.median(warm) - 1
        worst = max(worst, growth)
        lines.append(
            f"worker {index + 1} RSS: after warm-up {statistics.median(warm):.1f} MB, last tenth"
            f" {statistics.median(tail):.1f} MB ({growth * 100:+.1f} %)"
        )
    lines.append(
        f"RSS growth after warm-up, worst worker: {worst * 100:+.1f} % (target <="
        f" {RSS_TARGET * 100:.0f} %) {'PASS' if worst <= RSS_TARGET else 'FAIL'}"
    )
    # Probes while the workers ran (the one after they exit claims from an idle table).
    claims = [(s.at_s, s.claim_ms) for s in result.samples if any(s.rss_mb)]
    c_first, _, c_last = tenths(claims, sample_span)
    if c_first and c_last:
        lines.append(
            f"probe claim: first tenth {statistics.median(c_first):.2f} ms, last tenth"
            f" {statistics.median(c_last):.2f} ms"
        )
    return lines, {"throughput_ratio": ratio, "rss_growth": worst}


def plot(result: Soak, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(7, 6.5), sharex=True)
    axes[0].plot([t for t, _ in result.buckets], [d / SAMPLE_S for _, d in result.buckets])
    axes[0].set_ylabel("jobs/s")
    axes[0].set_ylim(bottom=0)
    workers = len(result.samples[0].rss_mb) if result.samples else 0
    for index in range(workers):
        points = [(s.at_s, s.rss_mb[index]) for s in result.samples if s.rss_mb[index]]
        axes[1].plot([t for t, _ in points], [v for _, v in points], label=f"worker {index + 1}")
    axes[1].set_ylabel("RSS (MB)")
    axes[1].set_ylim(bottom=0)
    axes[1].legend(fontsize="small", ncol=4, loc="lower right")
    running = [s for s in result.samples if any(s.rss_mb)]
    axes[2].plot([s.at_s for s in running], [s.claim_ms for s in running])
    axes[2].set_ylabel("probe claim (ms)")
    axes[2].set_ylim(bottom=0)
    axes[2].set_xlabel("seconds since the workers started")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


async def main_async(args: argparse.Namespace) -> None:
    db_url = await fresh(args.url)
    try:
        started = time.perf_counter()
        await seed(db_url, args.jobs)
        print(f"seeded {args.jobs:,} jobs in {time.perf_counter() - started:.0f} s", flush=True)
        result = await soak(db_url, args.jobs, args.workers, args.concurrency)
    finally:
        await drop(args.url, db_url)
    title = (
        f"Soak: {args.jobs:,} no-op jobs, {args.workers} x enricher run"
        f" (concurrency {args.concurrency}), PostgreSQL"
    )
    lines, _ = report(result, args.workers)
    print(f"\n{title}, {result.seconds:.0f} s")
    print("\n".join(lines))
    if args.plot:
        plot(result, Path(args.plot), title)
        print(f"plot: {args.plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--plot", default=str(REPO / "docs" / "soak.png"))
    args = parser.parse_args()
    if not args.url:
        raise SystemExit("no PostgreSQL: pass --url or run through `make bench`")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
