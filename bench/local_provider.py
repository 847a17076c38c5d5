"""The offline ``local`` provider on big inputs: time per megabyte, and how it scales.

    python -m bench.local_provider [--repeats 3]

For each kind of content (code in two languages, markdown, a conversation), the
same text is answered at an eighth, a quarter, a half and all of a megabyte; the
median of R runs is printed for each size, with the ratio of the whole megabyte to
its eighth: about 8 means linear, 64 would be quadratic. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time

from enricher.providers.base import GenerationRequest, Source
from enricher.providers.local import LocalProvider
from enricher.tasks.schemas import SummaryKeywords, Topics

MEGABYTE = 1024 * 1024
FRACTIONS = (8, 4, 2, 1)


def sources() -> list[Source]:
    def fill(unit: str) -> str:
        return (unit * (MEGABYTE // len(unit) + 1))[:MEGABYTE]

    return [
        Source(
            "code",
            "big.py",
            fill(
                'def handler(request):\n    """Route the request."""\n    return route(request)\n'
            ),
            "python",
        ),
        Source(
            "code",
            "big.ts",
            fill("export function f(a: number): number {\n  return a < b ? x : y;\n}\n"),
            "typescript",
        ),
        Source(
            "document", "big.md", fill("# Cache\n\nThe [cache](x) evicts entries. "), "markdown"
        ),
        Source(
            "conversation",
            "big.chat",
            fill("user: message about the deploy and its rollback error?\n"),
        ),
    ]


async def seconds(source: Source, repeats: int) -> float:
    model = Topics if source.kind == "conversation" else SummaryKeywords
    request = GenerationRequest(
        task_type="bench",
        output_model=model,
        system="",
        prompt=source.text,
        source=source,
        model="local",
        max_output_tokens=256,
    )
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        await LocalProvider().generate(request)
        runs.append(time.perf_counter() - began)
    return statistics.median(runs)


async def main_async(repeats: int) -> None:
    print(f"local provider, median of {repeats} runs (seconds):")
    print(f"  {'source':<10}" + "".join(f"{f'1/{f} MB':>10}" for f in FRACTIONS) + f"{'ratio':>8}")
    for source in sources():
        times = [
            await seconds(dataclasses.replace(source, text=source.text[: MEGABYTE // f]), repeats)
            for f in FRACTIONS
        ]
        cells = "".join(f"{t:>10.3f}" for t in times)
        print(f"  {source.name:<10}{cells}{times[-1] / times[0]:>8.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    asyncio.run(main_async(parser.parse_args().repeats))


if __name__ == "__main__":
    main()
