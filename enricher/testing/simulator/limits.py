"""Requests- and tokens-per-minute limits, enforced as the real providers do.

A rolling 60-second window per API and model; a request that does not fit gets a
429 with ``retry-after``, and every answer carries the ``x-ratelimit-*`` (OpenAI) or
``anthropic-ratelimit-*`` (Anthropic) headers the SDKs and the job manager read.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from enricher.providers.base import estimate_tokens
from enricher.testing.simulator.faults import HttpError, error_body

WINDOW_S = 60.0


@dataclass
class Window:
    """A rolling minute of (time, tokens) for one API and model."""

    entries: deque[tuple[float, int]] = field(default_factory=deque)

    def trim(self, now: float) -> None:
        while self.entries and self.entries[0][0] <= now - WINDOW_S:
            self.entries.popleft()

    def requests(self) -> int:
        return len(self.entries)

    def tokens(self) -> int:
        return sum(tokens for _, tokens in self.entries)

    def wait_for(self, now: float, requests_over: int, tokens_over: int) -> float:
        """Seconds until enough entries leave the window to fit one more request."""
        waits = [0.0]
        if requests_over > 0 and self.entries:
            waits.append(self.entries[requests_over - 1][0] + WINDOW_S - now)
        freed = 0
        for stamp, tokens in self.entries:
            if freed >= tokens_over:
                break
            freed += tokens
            waits.append(stamp + WINDOW_S - now)
        return max(waits)


class RateLimits:
    """One simulator's windows. The limits are passed at each request, as the
    simulator's config holds them."""

    def __init__(self) -> None:
        self.windows: dict[tuple[str, str], Window] = {}

    def admit(
        self,
        api: str,
        model: str,
        tokens: int,
        forced: float | None,
        *,
        rpm: int | None,
        tpm: int | None,
    ) -> dict[str, str]:
        """Count the request in its window, or refuse it with a 429 as the provider would."""
        window = self.windows.setdefault((api, model), Window())
        now = time.monotonic()
        window.trim(now)
        requests_over = (window.requests() + 1 - rpm) if rpm else 0
        tokens_over = (window.tokens() + tokens - tpm) if tpm else 0
        if forced is not None or requests_over > 0 or tokens_over > 0:
            wait = window.wait_for(now, max(0, requests_over), max(0, tokens_over))
            wait = forced if forced is not None else wait
            headers = limit_headers(api, rpm, tpm, window, now, wait)
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            raise HttpError(
                429, error_body(api, 429, "rate_limit_error", "rate limit exceeded"), headers
            )
        window.entries.append((now, tokens))
        return limit_headers(api, rpm, tpm, window, now, 0.0)


def limit_headers(
    api: str, rpm: int | None, tpm: int | None, window: Window, now: float, wait: float
) -> dict[str, str]:
    reset = wait or (window.entries[0][0] + WINDOW_S - now if window.entries else 0.0)
    headers: dict[str, str] = {}
    if api == "openai":
        if rpm:
            headers |= {
                "x-ratelimit-limit-requests": str(rpm),
                "x-ratelimit-remaining-requests": str(max(0, rpm - window.requests())),
                "x-ratelimit-reset-requests": go_duration(reset),
            }
        if tpm:
            headers |= {
                "x-ratelimit-limit-tokens": str(tpm),
                "x-ratelimit-remaining-tokens": str(max(0, tpm - window.tokens())),
                "x-ratelimit-reset-tokens": go_duration(reset),
            }
        return headers
    at = (datetime.now(UTC) + timedelta(seconds=reset)).isoformat().replace("+00:00", "Z")
    if rpm:
        headers |= {
            "anthropic-ratelimit-requests-limit": str(rpm),
            "anthropic-ratelimit-requests-remaining": str(max(0, rpm - window.requests())),
            "anthropic-ratelimit-requests-reset": at,
        }
    if tpm:
        remaining = str(max(0, tpm - window.tokens()))
        for kind in ("tokens", "input-tokens", "output-tokens"):
            headers |= {
                f"anthropic-ratelimit-{kind}-limit": str(tpm),
                f"anthropic-ratelimit-{kind}-remaining": remaining,
                f"anthropic-ratelimit-{kind}-reset": at,
            }
    return headers


def go_duration(seconds: float) -> str:
    """OpenAI's reset format: ``6m0s``, ``1.5s``."""
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}m{rest:.0f}s" if minutes else f"{rest:.3g}s"


def counted_tokens(request: dict[str, Any]) -> int:
    """What a request counts against the token limit: the prompt plus the whole output
    budget, as OpenAI counts ``max_tokens`` before a word is generated."""
    return estimate_tokens(json.dumps(request.get("messages", ""))) + int(
        request.get("max_tokens") or request.get("max_completion_tokens") or 0
    )
