"""What prompt caching and the batch lane save: one backlog enriched three ways.

    python -m bench.cost [--entities 2000] [--batch-delay 5] [--providers openai anthropic]

For each provider's wire format (OpenAI chat completions and files + batches,
Anthropic messages and message batches, through the real SDKs against the loopback
simulator), the same backlog of code entities (:mod:`bench.cost_corpus`: a fixed part
of about 4,900 tokens, entities of about 530) is enriched on a fresh SQLite database:

1. **online, no cache**: the baseline. The simulator is started with its prompt cache
   off (``SimulatorConfig.prompt_cache = False``), so the very same requests are
   answered and every input token is billed at the input rate. enricher itself has no
   switch to turn caching off, and OpenAI caches without being asked, so a server
   without a cache is the honest way to measure the cost without it;
2. **online, cached**: the simulator caches prefixes of at least the providers' own
   minimum for the model (OpenAI 1,024 tokens; Anthropic 4,096 for Claude Haiku 4.5);
3. **batch, cached**: ``mode = "batch"``: the jobs go out in provider batches
   (1,000 requests each, the default) that the simulator finishes after
   ``--batch-delay`` seconds (``ENRICHER_BENCH_BATCH_DELAY_S``, default 5).

Printed per way (the run of median wall time of ``--repeats``, default 1): the
tokens the server reported as stored on the jobs, the sum of the jobs' ``cost_usd``,
the same cost recomputed from the summed token columns with the price table (a
mismatch would mean a token priced twice or at the wrong rate), the ratio to the
baseline and the wall time. The target, batch with caching at most 0.45 of the
baseline, is printed PASS or FAIL. Costs are deterministic: the simulator's counts
depend on the requests alone (repeats that differ are flagged). The simulator's cache
is ideal (every repeat of a prefix hits, within and across batches, and only the
first of many concurrent requests writes it); real hit rates, in batches above all,
are lower.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from bench.cost_corpus import TASK_TYPE, Entity, GuidedCodeSummary, backlog, fixed_part
from enricher.app import Enricher
from enricher.clock import utcnow
from enricher.config import ProviderSettings, Settings, embedded_settings
from enricher.db import store
from enricher.hashing import content_hash
from enricher.observe.logs import configure_logging
from enricher.pricing import cost_usd
from enricher.providers.base import Usage, estimate_tokens
from enricher.queue.enqueue import EnqueueRequest
from enricher.registry import build_registry
from enricher.testing.simulator import SimulatorConfig, SimulatorThread
from enricher.testing.simulator.batches import BatchSettings
from enricher.worker.loop import Worker

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}
#: The providers' smallest cacheable prefix for those models; the cached runs'
#: simulator caches nothing shorter.
CACHE_MIN_TOKENS = {"openai": 1024, "anthropic": 4096}
TARGET = 0.45
KEY_ENV = "ENRICHER_BENCH_PROVIDER_KEY"
DELAY_ENV = "ENRICHER_BENCH_BATCH_DELAY_S"
#: Stored costs are rounded to 8 decimals per job; their sum may differ by that much.
ROUNDING = 1e-8


@dataclass(frozen=True)
class Way:
    label: str
    mode: Literal["online", "batch"]
    cache: bool


WAYS = (
    Way("online, no cache", "online", cache=False),
    Way("online, cached", "online", cache=True),
    Way("batch, cached", "batch", cache=True),
)


@dataclass(frozen=True)
class Outcome:
    completed: int
    usage: Usage
    cost: float
    recomputed: float
    wall_s: float
    batches: int

    @property
    def consistent(self) -> bool:
        return abs(self.cost - self.recomputed) <= ROUNDING * max(1, self.completed)


def settings(path: Path, provider: str, base_url: str, way: Way, concurrency: int) -> Settings:
    base = embedded_settings(
        path,
        concurrency=concurrency,
        poll_interval_s=0.05,
        heartbeat_s=5.0,
        batch_poll_s=0.25,
    )
    return base.model_copy(
        update={
            "provider": ProviderSettings(
                name=provider,
                model=MODELS[provider],
                base_url=base_url,
                api_key_env=KEY_ENV,
                mode=way.mode,
            )
        }
    )


async def seed(app: Enricher, entities: list[Entity]) -> None:
    """Store the entities as a host's ingest would, then enqueue one job each."""
    for start in range(0, len(entities), 500):
        chunk = entities[start : start + 500]
        async with app.db.transaction() as tx:
            for entity in chunk:
                await store.entities.upsert_code_entity(
                    tx,
                    entity_id=entity.entity_id,
                    file_path=entity.file_path,
                    entity_type="function",
                    name=entity.name,
                    language="python",
                    start_line=1,
                    end_line=entity.content.count("\n"),
                    raw_content=entity.content,
                    content_hash=content_hash(entity.content),
                    now=utcnow(),
                )
        await app.enqueue_many(
            [
                EnqueueRequest(
                    task_type=TASK_TYPE,
                    target_entity_type="code_entity",
                    target_entity_id=entity.entity_id,
                )
                for entity in chunk
            ]
        )


async def enrich(
    provider: str, way: Way, entities: list[Entity], args: argparse.Namespace
) -> Outcome:
    """One fresh database and one fresh simulator: the backlog enriched one way."""
    config = SimulatorConfig(
        prompt_cache=way.cache,
        cache_min_tokens=CACHE_MIN_TOKENS[provider],
        batches=BatchSettings(delay_s=args.batch_delay),
    )
    handler = GuidedCodeSummary()
    handler.system = fixed_part(args.examples)
    registry = build_registry()
    registry.register(handler)
    with SimulatorThread(config) as server, tempfile.TemporaryDirectory() as folder:
        base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        path = Path(folder) / "cost.db"
        app = await Enricher.open(
            settings(path, provider, base_url, way, args.concurrency), registry=registry
        )
        async with app:
            await seed(app, entities)
            began = time.perf_counter()
            stats = await Worker(app, burst=True, worker_id=f"bench-{way.mode}").run()
            wall = time.perf_counter() - began
            totals = await store.reports.usage_totals(app.db) or {}
            prices = app.settings.price_table()
        batches = len(server.batch_endpoints.batches)
    usage = Usage(
        input_tokens=int(totals.get("input_tokens") or 0),
        output_tokens=int(totals.get("output_tokens") or 0),
        cached_input_tokens=int(totals.get("cached_input_tokens") or 0),
        cache_write_tokens=int(totals.get("cache_write_tokens") or 0),
    )
    recomputed = cost_usd(MODELS[provider], usage, prices, batch=way.mode == "batch") or 0.0
    return Outcome(
        completed=stats.verdicts["completed"],
        usage=usage,
        cost=float(totals.get("cost_usd") or 0.0),
        recomputed=recomputed,
        wall_s=wall,
        batches=batches,
    )


async def repeated(
    provider: str, way: Way, entities: list[Entity], args: argparse.Namespace
) -> Outcome:
    """The run of median wall time among ``--repeats``; costs and tokens must not vary
    (the simulator's counts depend on the requests alone), and a run that differs is
    flagged as a mismatch."""
    runs = [await enrich(provider, way, entities, args) for _ in range(args.repeats)]
    median = sorted(runs, key=lambda run: run.wall_s)[(len(runs) - 1) // 2]
    if any((run.usage, run.cost) != (median.usage, median.cost) for run in runs):
        return replace(median, recomputed=float("nan"))
    return median


def header(entities: list[Entity], args: argparse.Namespace) -> None:
    system = fixed_part(args.examples)
    sizes = [estimate_tokens(entity.content) for entity in entities]
    print(
        f"Cost of enriching {len(entities):,} code entities three ways, per provider"
        " (bench/cost.py), from the price table and the usage the server reported:"
    )
    print(
        f"  fixed part: {estimate_tokens(system):,} tokens of system text (instructions, house"
        f" rules, a glossary, {args.examples} worked examples) plus the output schema;"
        f" entity content {statistics.mean(sizes):,.0f} tokens on average"
        f" ({min(sizes):,}-{max(sizes):,})"
    )
    print(
        "  baseline 'online, no cache': the same requests to a simulator whose prompt cache"
        " is off, every input token at the input rate; the cached runs cache prefixes from "
        + ", ".join(f"{CACHE_MIN_TOKENS[p]:,} tokens ({p})" for p in args.providers)
        + " up"
    )
    print(
        f"  {'provider':<10} {'way':<17} {'jobs':>6} {'input':>11} {'cached':>11}"
        f" {'written':>9} {'output':>9} {'cost_usd':>10} {'recomputed':>11} {'x plain':>8}"
        f" {'wall s':>7}"
    )


def row(provider: str, way: Way, outcome: Outcome, plain: float, jobs: int) -> None:
    usage = outcome.usage
    check = "" if outcome.consistent else "  MISMATCH"
    print(
        f"  {provider:<10} {way.label:<17} {outcome.completed:>6,} {usage.input_tokens:>11,}"
        f" {usage.cached_input_tokens:>11,} {usage.cache_write_tokens:>9,}"
        f" {usage.output_tokens:>9,} {outcome.cost:>10.4f} {outcome.recomputed:>11.4f}"
        f" {outcome.cost / plain if plain else 0.0:>8.3f} {outcome.wall_s:>7.1f}{check}"
        + ("" if outcome.completed == jobs else f"  ({jobs - outcome.completed} not completed)"),
        flush=True,
    )


async def main_async(args: argparse.Namespace) -> None:
    entities = list(backlog(args.entities))
    header(entities, args)
    verdicts: list[str] = []
    walls: list[str] = []
    for provider in args.providers:
        outcomes: list[Outcome] = []
        for way in WAYS:
            outcomes.append(await repeated(provider, way, entities, args))
            row(provider, way, outcomes[-1], outcomes[0].cost, len(entities))
        plain, batch = outcomes[0], outcomes[-1]
        ratio = batch.cost / plain.cost if plain.cost else float("inf")
        # A figure from a run that lost jobs, or whose costs do not add up, passes nothing.
        sound = all(o.consistent and o.completed == len(entities) for o in outcomes)
        verdict = "PASS" if ratio <= TARGET and sound else "FAIL"
        verdicts.append(f"{provider} ({MODELS[provider]}) {ratio:.3f} {verdict}")
        walls.append(f"{provider} {batch.wall_s:.1f} s ({batch.batches} provider batches)")
    print(f"Target: batch with caching <= {TARGET} x online without: " + "; ".join(verdicts))
    print(
        f"Batch run wall time, simulated batch processing delay {args.batch_delay:g} s: "
        + "; ".join(walls)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=2000)
    parser.add_argument(
        "--batch-delay",
        type=float,
        default=float(os.environ.get(DELAY_ENV, "5")),
        help=f"seconds the simulator takes to process a batch (env {DELAY_ENV}; default 5)",
    )
    parser.add_argument("--providers", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per way; the median wall time is shown"
    )
    parser.add_argument(
        "--examples", type=int, default=5, help="worked examples in the fixed part (its size)"
    )
    args = parser.parse_args()
    configure_logging("error")
    os.environ.setdefault(KEY_ENV, "sk-bench-not-a-secret")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
