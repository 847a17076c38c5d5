"""What a call cost, from the config's price table (USD per million tokens)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class Price(Protocol):
    """A model's price per million tokens; the config's ``[prices."model"]`` tables."""

    @property
    def input(self) -> float: ...

    @property
    def output(self) -> float: ...


def cost_usd(
    model: str, input_tokens: int, output_tokens: int, prices: Mapping[str, Price]
) -> float | None:
    """Cost from the config's price table (USD per million tokens); None if unpriced."""
    price = prices.get(model)
    if price is None:
        return None
    return round((input_tokens * price.input + output_tokens * price.output) / 1_000_000, 8)
