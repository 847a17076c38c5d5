"""Provider errors: the classification the job manager acts on.

Providers raise these by exception class and HTTP status, never by message text.
The job manager maps each class to one transition of the state machine (the table
is in docs/architecture.md, "Provider classification"). :class:`ProviderError` is
this package's own root, so the package imports nothing above it; the whole tree
is drawn in :mod:`enricher.errors`.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Anything a provider did wrong; ``provider`` and ``model`` name the scope, and
    ``status`` the HTTP status when there was one (a fallback chain tells an overloaded
    provider, 529, from one that merely failed)."""

    status: int | None = None

    def __init__(self, message: str, *, provider: str = "", model: str = "") -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model


class RateLimited(ProviderError):
    """429: pause the scope for ``retry_after_s`` (None: the configured default)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        provider: str = "",
        model: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.retry_after_s = retry_after_s
        self.headers = headers or {}


class ProviderHalted(ProviderError):
    """Bad key, no permission or no quota: nothing will work until a human acts."""


class RetryableProviderError(ProviderError):
    """5xx, overload, timeout, connection error: the same call may work later."""


class InvalidOutput(RetryableProviderError):
    """The model's output does not validate against the task's model, or it refused."""


class PermanentProviderError(ProviderError):
    """400 / 413 / 422: the request itself is wrong; retrying cannot help."""
