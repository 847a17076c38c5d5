"""What a call cost, from the config's price table (USD per million tokens).

Each token is priced once, at its own rate: uncached input at ``input``, input read
from the provider's prompt cache at ``cached_input``, input written to the cache at
``cache_write``, and output at ``output``. A price without a cache rate charges those
tokens the full input rate: a cost may come out high for an unlisted discount, never
low. A request sent through a batch API writes the 1-hour cache (``cache_write_1h``)
and is charged ``batch`` times every rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from enricher.providers.base import Usage


class Price(Protocol):
    """A model's price per million tokens; the config's ``[prices."model"]`` tables."""

    @property
    def input(self) -> float: ...

    @property
    def output(self) -> float: ...

    @property
    def cached_input(self) -> float | None: ...

    @property
    def cache_write(self) -> float | None: ...

    @property
    def cache_write_1h(self) -> float | None: ...

    @property
    def batch(self) -> float: ...


def cost_usd(
    model: str, usage: Usage, prices: Mapping[str, Price], *, batch: bool = False
) -> float | None:
    """Cost from the config's price table (USD per million tokens); None if unpriced.

    ``usage.input_tokens`` is all input (see :class:`Usage`): the cached reads and the
    cache writes are taken out of it and priced at their own rates, so none is paid twice.
    ``batch``: the call went through a batch API (1-hour cache writes, the discount).
    """
    price = prices.get(model)
    if price is None:
        return None
    cached_rate = price.input if price.cached_input is None else price.cached_input
    write_rate = price.input if price.cache_write is None else price.cache_write
    if batch and price.cache_write_1h is not None:
        write_rate = price.cache_write_1h
    micro = (
        usage.uncached_input_tokens * price.input
        + usage.cached_input_tokens * cached_rate
        + usage.cache_write_tokens * write_rate
        + usage.output_tokens * price.output
    )
    if batch:
        micro *= price.batch
    return round(micro / 1_000_000, 8)
