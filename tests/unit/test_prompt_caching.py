"""Prompt caching without a server: usage normalised, each token priced once, and the
simulator's cache model.

The usage objects are the SDKs' own types, validated from the JSON the APIs send, so
the field names and the providers' counting conventions are the real ones: OpenAI's
``prompt_tokens`` includes its cached tokens, Anthropic's ``input_tokens`` excludes
cache reads and writes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from anthropic.types import Usage as AnthropicUsage
from openai.types import CompletionUsage

from enricher.config import DEFAULT_PRICES, Price
from enricher.pricing import cost_usd
from enricher.providers.anthropic_provider import _usage as anthropic_usage
from enricher.providers.base import Usage, estimate_tokens
from enricher.providers.openai_provider import _usage as openai_usage
from enricher.testing.simulator.answers import completion
from enricher.testing.simulator.caching import PromptCache


def test_openai_cached_tokens_are_part_of_the_input_and_priced_at_the_discount() -> None:
    usage = openai_usage(
        CompletionUsage.model_validate(
            {
                "prompt_tokens": 1000,
                "completion_tokens": 200,
                "total_tokens": 1200,
                "prompt_tokens_details": {"cached_tokens": 600},
            }
        )
    )

    assert usage == Usage(input_tokens=1000, output_tokens=200, cached_input_tokens=600)
    assert usage.uncached_input_tokens == 400
    expected = (400 * 0.15 + 600 * 0.075 + 200 * 0.60) / 1e6
    assert cost_usd("gpt-4o-mini", usage, DEFAULT_PRICES) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.000225)


def test_openai_usage_without_details_has_no_cached_tokens() -> None:
    usage = openai_usage(
        CompletionUsage.model_validate(
            {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        )
    )
    assert usage == Usage(10, 5)
    assert openai_usage(None) == Usage()


@pytest.mark.parametrize(
    ("wire", "normalised", "expected"),
    [
        # First request: 300 uncached, 1,000 written to the cache at 1.25 x input.
        (
            {"input_tokens": 300, "output_tokens": 100, "cache_creation_input_tokens": 1000,
             "cache_read_input_tokens": 0},
            Usage(1300, 100, cached_input_tokens=0, cache_write_tokens=1000),
            (300 * 1.00 + 1000 * 1.25 + 100 * 5.00) / 1e6,
        ),
        # Second request: the same 1,000 read back at 0.1 x input.
        (
            {"input_tokens": 300, "output_tokens": 100, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 1000},
            Usage(1300, 100, cached_input_tokens=1000, cache_write_tokens=0),
            (300 * 1.00 + 1000 * 0.10 + 100 * 5.00) / 1e6,
        ),
        # An older response without the cache fields.
        (
            {"input_tokens": 300, "output_tokens": 100},
            Usage(300, 100),
            (300 * 1.00 + 100 * 5.00) / 1e6,
        ),
    ],
    ids=["cache-write", "cache-read", "no-cache-fields"],
)  # fmt: skip
def test_anthropic_cache_reads_and_writes_are_added_to_the_input_once(
    wire: dict[str, int], normalised: Usage, expected: float
) -> None:
    usage = anthropic_usage(AnthropicUsage.model_validate(wire))

    assert usage == normalised
    assert usage.uncached_input_tokens == 300
    cost = cost_usd("claude-haiku-4-5", usage, DEFAULT_PRICES)
    assert cost == pytest.approx(expected, abs=1e-12)


def test_hand_computed_anthropic_figures() -> None:
    """The figures above, written out: 0.00205 for the write, 0.0009 for the read."""
    write = Usage(1300, 100, cache_write_tokens=1000)
    read = Usage(1300, 100, cached_input_tokens=1000)
    assert cost_usd("claude-haiku-4-5", write, DEFAULT_PRICES) == pytest.approx(0.00205)
    assert cost_usd("claude-haiku-4-5", read, DEFAULT_PRICES) == pytest.approx(0.0009)


def test_a_price_without_cache_rates_charges_cached_tokens_the_input_rate() -> None:
    prices = {"m": Price(input=2.0, output=4.0)}
    usage = Usage(1000, 10, cached_input_tokens=600, cache_write_tokens=100)

    assert cost_usd("m", usage, prices) == pytest.approx((1000 * 2.0 + 10 * 4.0) / 1e6)
    assert Price(input=1, output=1).batch == 0.5


def test_every_built_in_model_has_a_cached_input_price_below_its_input_price() -> None:
    for name, price in DEFAULT_PRICES.items():
        assert price.cached_input is not None, name
        assert price.cached_input <= price.input, name
        if name.startswith("claude"):
            assert price.cached_input == pytest.approx(price.input * 0.1), name
            assert price.cache_write == pytest.approx(price.input * 1.25), name


# ── the simulator's cache model ───────────────────────────────────────────────────


def openai_body(system: str, key: str | None, user: str = "entity") -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "prompt_cache_key": key,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ],
    }


def anthropic_body(system: str, *, breakpoint: bool = True) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": system}
    if breakpoint:
        block["cache_control"] = {"type": "ephemeral"}
    return {
        "model": "claude-haiku-4-5",
        "tools": [{"name": "record", "input_schema": {"type": "object"}}],
        "system": [block],
        "messages": [{"role": "user", "content": "entity"}],
    }


def test_the_simulator_caches_an_openai_prefix_by_key_and_system_text() -> None:
    cache = PromptCache()
    system = "You write search metadata. " * 20

    assert cache.openai(openai_body(system, "enricher:t:v2"), 1000) == 0
    cached = cache.openai(openai_body(system, "enricher:t:v2", user="another entity"), 1000)
    assert 0 < cached < 1000
    assert cache.openai(openai_body(system, "enricher:t:v3"), 1000) == 0  # another key
    assert cache.openai(openai_body(system + "!", "enricher:t:v2"), 1000) == 0  # other text
    assert cache.openai(openai_body(system, "enricher:t:v2"), 5) == 5  # never above the total


def test_the_simulator_writes_an_anthropic_prefix_once_then_reads_it() -> None:
    cache = PromptCache()
    system = "You index conversations. " * 20

    read, written = cache.anthropic(anthropic_body(system))
    assert read == 0 and written > 0
    assert cache.anthropic(anthropic_body(system)) == (written, 0)
    assert cache.anthropic(anthropic_body(system, breakpoint=False)) == (0, 0)


def test_the_simulator_caches_no_prefix_below_its_minimum_and_nothing_when_off() -> None:
    system = "You write search metadata. " * 20  # about 140 tokens
    short = PromptCache(min_tokens=1024)
    long_enough = PromptCache(min_tokens=100)
    off = PromptCache(enabled=False)

    for cache in (short, long_enough, off):
        assert cache.openai(openai_body(system, "k"), 1000) == 0
        cache.anthropic(anthropic_body(system))
    assert short.openai(openai_body(system, "k"), 1000) == 0
    assert short.anthropic(anthropic_body(system)) == (0, 0)
    assert off.openai(openai_body(system, "k"), 1000) == 0
    assert off.anthropic(anthropic_body(system)) == (0, 0)
    assert long_enough.openai(openai_body(system, "k"), 1000) > 0
    read, written = long_enough.anthropic(anthropic_body(system))
    assert read > 0 and written == 0


@pytest.mark.parametrize(
    "cache",
    [PromptCache(), PromptCache(enabled=False), PromptCache(min_tokens=10_000), None],
    ids=["cached", "off", "below-minimum", "no-cache"],
)
def test_anthropic_bills_the_same_input_whether_the_cache_serves_it_or_not(
    cache: PromptCache | None,
) -> None:
    """Tools and system the cache did not take are counted in ``input_tokens``, as
    Anthropic counts them: all input is the same on a first request, a repeat, or a
    server whose cache is off; only its split between the fields differs."""
    request = anthropic_body("You index conversations. " * 40)
    plain = completion("anthropic", request, "claude-haiku-4-5", None, PromptCache(enabled=False))
    whole = plain["usage"]["input_tokens"]
    assert whole > estimate_tokens(json.dumps(request["messages"]))  # the head is in it

    for _ in range(2):  # a first sight, then a repeat
        usage = completion("anthropic", request, "claude-haiku-4-5", None, cache)["usage"]
        total = (
            usage["input_tokens"]
            + usage["cache_read_input_tokens"]
            + usage["cache_creation_input_tokens"]
        )
        assert total == whole


def test_a_one_hour_breakpoint_caches_as_many_tokens_as_a_five_minute_one() -> None:
    """``cache_control`` asks for caching; it is not input: a batch request (1-hour
    cache) carries as many input tokens as the online one (5-minute cache)."""
    online = anthropic_body("You index conversations. " * 40)
    batch = anthropic_body("You index conversations. " * 40)
    batch["system"][0]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}

    assert PromptCache().anthropic(online) == PromptCache().anthropic(batch)
