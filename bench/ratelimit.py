"""Shared rate limits: the budget strategy against reactive-only, side by side.

    python -m bench.ratelimit [--url postgresql://...] [--jobs N] [--workers 4]

The loopback provider enforces RPM and TPM limits (600 and 200k by default) with
300-800 ms latency. For each strategy a fresh PostgreSQL database gets N code
entities and their jobs, and W ``enricher run --burst`` processes drain it:

- **budget**: limits learned from the provider's headers, reserved in the shared
  ``ai_rate_limits`` budget before each call (the default);
  run once per ``--targets`` value (the default 0.95, and 1.0: the whole limit);
- **reactive**: ``rate_budget = false``: pause after each 429 for its retry-after,
  no budget (how job managers without shared budgets behave).

Printed per strategy: utilization over the steady state, that is completed
requests per minute over the RPM limit (``RPM used``) or counted tokens per minute
over the TPM limit (``TPM used``), whichever binds; the same over the pace aimed at
(``of target``); the share of requests answered 429; and jobs lost (not
completed). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import asyncpg

from bench.burndown_pg import drop, fresh
from enricher.testing.simulator import Call, SimulatorConfig, SimulatorThread

REPO = Path(__file__).resolve().parents[1]


async def seed(db_url: str, jobs: int) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(
            "INSERT INTO code_entities (entity_id, name, language, raw_content) SELECT 'e' || i,"
            " 'handle_request_' || i, 'python', 'def handle_request_' || i || '(request):\n'"
            ' || \'    """Route the request to its handler."""\n    return route(request)\n\''
            " FROM generate_series(1, $1) AS i",
            jobs,
        )
        await conn.execute(
            "INSERT INTO background_ai_jobs (task_type, target_entity_type, target_entity_id)"
            " SELECT 'enrich_entity_summary_keywords', 'code_entity', 'e' || i"
            " FROM generate_series(1, $1) AS i",
            jobs,
        )
    finally:
        await conn.close()


async def completed(db_url: str) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM background_ai_jobs WHERE status = 'completed'"
            )
        )
    finally:
        await conn.close()


def drain(db_url: str, base_url: str, workers: int, budget: bool, target: float) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ENRICHER_DATABASE__URL": db_url,
        "ENRICHER_PROVIDER__NAME": "openai",
        "ENRICHER_PROVIDER__MODEL": "gpt-4o-mini",
        "ENRICHER_PROVIDER__BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-bench",
        "ENRICHER_PROVIDER__MAX_OUTPUT_TOKENS": "128",
        "ENRICHER_PROVIDER__RATE_BUDGET": "true" if budget else "false",
        "ENRICHER_PROVIDER__RATE_LIMIT_TARGET": str(target),
        "ENRICHER_WORKER__POLL_INTERVAL_S": "0.5",
        "ENRICHER_WORKER__MAX_ATTEMPTS": "5",
    }
    with tempfile.TemporaryDirectory():
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "enricher",
                    "--log-level",
                    "error",
                    "run",
                    "--burst",
                    "--concurrency",
                    "8",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        for proc in procs:
            proc.wait(3600)


def figures(calls: list[Call], rpm: int, tpm: int) -> tuple[float, float, float]:
    """(requests and tokens per minute over the steady state, each over its limit; the
    share of requests answered 429). Tokens count as the server counts them: the prompt
    plus the whole output budget, so either limit can be the one that binds."""
    ok = sorted((c.finished, c.tokens) for c in calls if c.status == 200)
    begin, end = ok[0][0] + 10, ok[-1][0] - 10
    if end - begin < 30:  # too short a run for a steady state: use all of it
        begin, end = ok[0][0], ok[-1][0]
    steady = [tokens for t, tokens in ok if begin <= t <= end]
    minutes = max(1e-9, (end - begin) / 60)
    statuses = Counter(c.status for c in calls)
    return (
        len(steady) / minutes / rpm,
        sum(steady) / minutes / tpm,
        statuses[429] / max(1, len(calls)),
    )


async def run(
    args: argparse.Namespace, budget: bool, target: float
) -> tuple[float, float, float, int]:
    db_url = await fresh(args.url)
    try:
        await seed(db_url, args.jobs)
        config = SimulatorConfig(rpm=args.rpm, tpm=args.tpm, latency_s=(0.3, 0.8))
        with SimulatorThread(config) as server:
            await asyncio.to_thread(
                drain, db_url, server.openai_base_url, args.workers, budget, target
            )
            calls = list(server.calls)
        requests, tokens, share = figures(calls, args.rpm, args.tpm)
        return requests, tokens, share, args.jobs - await completed(db_url)
    finally:
        await drop(args.url, db_url)


async def main_async(args: argparse.Namespace) -> None:
    print(
        f"Rate limits shared by {args.workers} worker processes on one PostgreSQL database;"
        f" provider RPM {args.rpm}, TPM {args.tpm:,}, latency 300-800 ms, {args.jobs} jobs:"
    )
    print(
        f"  {'strategy':<10} {'target':>7} {'utilization':>12} {'of target':>10}"
        f" {'RPM used':>9} {'TPM used':>9} {'429 share':>10} {'jobs lost':>10}"
    )
    runs = [("budget", True, t) for t in args.targets] + [("reactive", False, 1.0)]
    for name, budget, target in runs:
        if name not in args.strategies:
            continue
        requests, tokens, share, lost = await run(args, budget, target)
        utilization = max(requests, tokens)  # of the limit that binds
        aim = f"{target:.2f}" if budget else "-"
        print(
            f"  {name:<10} {aim:>7} {utilization:>12.3f} {utilization / target:>10.3f}"
            f" {requests:>9.3f} {tokens:>9.3f} {share:>10.2%} {lost:>10}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument("--jobs", type=int, default=1400)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--tpm", type=int, default=200_000)
    parser.add_argument("--strategies", nargs="+", default=["budget", "reactive"])
    parser.add_argument(
        "--targets", nargs="+", type=float, default=[0.95, 1.0], help="rate_limit_target values"
    )
    args = parser.parse_args()
    if not args.url:
        raise SystemExit("no PostgreSQL: pass --url or run through `make bench`")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
