"""Burn-down benchmark on SQLite: no-op throughput and concurrency efficiency.

    python -m bench.burndown [--jobs N] [--repeats R]

1. N no-op jobs are inserted, then one worker drains them in burst mode; jobs/s is
   N over the drain time. This is the queue's own overhead per job: a batched claim,
   dispatch, one fenced completion transaction, the entity-status trigger.
2. A provider with fixed latency L at concurrency C can at best complete C/L jobs
   per second; efficiency is the measured rate divided by that ideal.

Each figure is the median of R runs, each on a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from enricher.app import Enricher
from enricher.config import Settings, embedded_settings
from enricher.observe.logs import configure_logging
from enricher.queue.enqueue import EnqueueRequest
from enricher.registry import build_registry
from enricher.worker.loop import Worker


def settings(path: Path, concurrency: int) -> Settings:
    return embedded_settings(path, concurrency=concurrency, poll_interval_s=0.05, heartbeat_s=5.0)


async def burn_down(task: str, jobs: int, concurrency: int, latency_s: float = 0.0) -> float:
    """Jobs per second for draining ``jobs`` jobs of ``task``."""
    from bench.handlers import FixedLatencyProvider, register

    registry = build_registry()
    register(registry)
    with tempfile.TemporaryDirectory() as folder:
        app = await Enricher.open(
            settings(Path(folder) / "bench.db", concurrency),
            registry=registry,
            provider_factory=lambda _s: FixedLatencyProvider(latency_s),
        )
        async with app:
            for start in range(0, jobs, 1000):
                await app.enqueue_many(
                    [
                        EnqueueRequest(
                            task_type=task, target_entity_type="noop", target_entity_id=str(i)
                        )
                        for i in range(start, min(jobs, start + 1000))
                    ]
                )
            worker = Worker(app, burst=True, worker_id="bench")
            began = time.perf_counter()
            stats = await worker.run()
            elapsed = time.perf_counter() - began
    assert stats.verdicts["completed"] == jobs, stats
    return jobs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    args = parser.parse_args()
    configure_logging("warning")

    noop = [
        asyncio.run(burn_down("noop", args.jobs, args.concurrency)) for _ in range(args.repeats)
    ]
    latency = args.latency_ms / 1000
    sleep_jobs = args.concurrency * 10
    ideal = args.concurrency / latency
    slow = [
        asyncio.run(burn_down("sleep", sleep_jobs, args.concurrency, latency))
        for _ in range(args.repeats)
    ]
    rate = statistics.median(noop)
    measured = statistics.median(slow)
    print(
        f"SQLite burn-down, {args.jobs} no-op jobs, concurrency {args.concurrency}, "
        f"median of {args.repeats}:"
    )
    print(
        f"  no-op throughput: {rate:,.0f} jobs/s  (runs: {', '.join(f'{r:,.0f}' for r in noop)})"
        f"  target >= 1,500: ratio {rate / 1500:.2f}"
    )
    print(
        f"Concurrency efficiency, C={args.concurrency}, L={args.latency_ms:g} ms, "
        f"{sleep_jobs} jobs:"
    )
    print(
        f"  measured {measured:,.1f} jobs/s / ideal C/L {ideal:,.1f} jobs/s = "
        f"{measured / ideal:.3f}  (target >= 0.9)"
    )


if __name__ == "__main__":
    main()
