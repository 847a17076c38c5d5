"""The one place where SDK exceptions become the job manager's error classes.

Decisions are made on exception class and HTTP status only, never on message
text (the table is in docs/architecture.md, "Provider classification"):

| provider says                          | we raise                 |
|----------------------------------------|--------------------------|
| 429                                    | RateLimited (wait from headers) |
| 503 (a local server's full queue)      | RateLimited (retry-after, else 1 s): back-pressure |
| 429 with code insufficient_quota, 401, 403 | ProviderHalted       |
| 529 / overloaded, other 5xx, 408, 409, timeout, connection error | RetryableProviderError |
| 400, 404, 413, 422 and other 4xx       | PermanentProviderError   |

Both official SDKs share the same shape (``APIStatusError.status_code``,
``.response.headers``, ``.body``; ``APITimeoutError`` under
``APIConnectionError``), so one function serves both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypedDict

import anthropic
import openai

from .errors import (
    PermanentProviderError,
    ProviderError,
    ProviderHalted,
    RateLimited,
    RetryableProviderError,
)

_TIMEOUTS = (openai.APITimeoutError, anthropic.APITimeoutError)
_CONNECTION = (openai.APIConnectionError, anthropic.APIConnectionError)
_STATUS = (openai.APIStatusError, anthropic.APIStatusError)
_HALTING = {401, 403}
_PERMANENT = {400, 404, 413, 422}
_RETRYABLE_4XX = {408, 409}
_RESET_HEADERS = (
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-reset",
    "anthropic-ratelimit-input-tokens-reset",
    "anthropic-ratelimit-output-tokens-reset",
)


def classify(exc: BaseException, *, provider: str, model: str) -> ProviderError:
    """Map an SDK exception to the error class the state machine acts on."""
    scope = _Scope(provider=provider, model=model)
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, _TIMEOUTS):
        return RetryableProviderError("request timed out", **scope)
    if isinstance(exc, _CONNECTION):
        return RetryableProviderError(f"connection error: {type(exc).__name__}", **scope)
    if isinstance(exc, _STATUS):
        error = _from_status(exc.status_code, exc.response.headers, exc.body, scope)
        error.status = exc.status_code
        return error
    return RetryableProviderError(f"unexpected {type(exc).__name__}: {exc}", **scope)


def classify_status(
    status: int,
    body: object,
    *,
    provider: str,
    model: str,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """The error class for an HTTP status and error body that arrived without an
    exception: a batch row's error is held to the online call's rules."""
    error = _from_status(status, headers or {}, body, _Scope(provider=provider, model=model))
    error.status = status
    return error


class _Scope(TypedDict):
    provider: str
    model: str


def _from_status(
    status: int, headers: Mapping[str, str], body: object, scope: _Scope
) -> ProviderError:
    code = error_code(body)
    detail = f"HTTP {status}" + (f" ({code})" if code else "")
    if status == 429 and code == "insufficient_quota":
        return ProviderHalted(f"{detail}: the account has no quota left", **scope)
    if status == 429:
        return RateLimited(
            detail, retry_after_s=retry_after_seconds(headers), headers=dict(headers), **scope
        )
    if status == 503:
        # Local servers (vLLM, Ollama) answer 503 when their queue is full: back-pressure,
        # so a short pause without consuming an attempt, not a failure.
        wait = retry_after_seconds(headers)
        return RateLimited(
            f"{detail}: server busy", retry_after_s=1.0 if wait is None else wait, **scope
        )
    if status in _HALTING:
        reason = "the API key was refused" if status == 401 else "permission denied"
        return ProviderHalted(f"{detail}: {reason}", **scope)
    if status in _PERMANENT or (400 <= status < 500 and status not in _RETRYABLE_4XX):
        return PermanentProviderError(f"{detail}: the request was rejected", **scope)
    return RetryableProviderError(f"{detail}: the provider failed", **scope)


def error_code(body: object) -> str | None:
    """The machine-readable error code or type of an OpenAI or Anthropic error body."""
    if not isinstance(body, dict):
        return None
    inner: Any = body.get("error", body)
    if isinstance(inner, dict):
        for key in ("code", "type"):
            if isinstance(inner.get(key), str):
                return str(inner[key])
    return None


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """How long to wait: ``retry-after-ms``, ``retry-after``, else the latest reset header."""
    lower = {k.lower(): v for k, v in headers.items()}
    if (value := lower.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    if (value := lower.get("retry-after")) is not None:
        parsed = _seconds_or_date(value, now)
        if parsed is not None:
            return parsed
    resets = [
        wait
        for name in _RESET_HEADERS
        if (raw := lower.get(name)) is not None and (wait := _reset(raw, now)) is not None
    ]
    return max(resets) if resets else None


def _seconds_or_date(value: str, now: datetime | None) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_go_duration(value: str) -> float | None:
    """OpenAI's reset headers: ``6m0s``, ``1.5s``, ``20ms``, ``1h2m``."""
    text = value.strip()
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def _reset(value: str, now: datetime | None) -> float | None:
    """A reset header: a Go-style duration (OpenAI) or an RFC 3339 instant (Anthropic)."""
    duration = parse_go_duration(value)
    if duration is not None:
        return duration
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
