"""Retry delays: full-jitter exponential backoff.

Full jitter (a uniform draw between zero and the exponential cap) spreads a burst
of failures across the window instead of re-synchronising them, which is what a
rate-limited or overloaded provider needs (see the AWS Architecture Blog's
"Exponential Backoff And Jitter").
"""

from __future__ import annotations

import random


def full_jitter(
    attempt: int, base_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the ``attempt``-th failure (1-based)."""
    ceiling = min(max_s, base_s * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(0.0, ceiling)
