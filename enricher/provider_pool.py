"""One provider instance per distinct provider configuration, shared by all jobs.

Providers hold connection pools, so building one per job would throw away every
warm connection: tasks that resolve to the same settings share one instance, and
all remote providers share one HTTP client sized to the worker's concurrency.
Keys are read here, from the environment variable the config names, and go
nowhere but the SDK client: no message or log line ever carries one.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import httpx2

from enricher.config import ProviderSettings
from enricher.errors import ConfigError
from enricher.providers.base import Provider, ProviderConfig
from enricher.providers.batches import BatchAPI

ProviderFactory = Callable[[ProviderSettings], Provider]


def api_key(settings: ProviderSettings) -> str:
    """The provider's key, or a config error naming the variable (never the value)."""
    name = settings.key_env
    value = os.environ.get(name, "") if name else ""
    if not value.strip():
        raise ConfigError(
            f"provider {settings.name!r} needs an API key: environment variable {name} is not "
            "set (name another with provider.api_key_env)"
        )
    return value.strip()


class ProviderPool:
    def __init__(self, factory: ProviderFactory | None = None, *, concurrency: int = 8) -> None:
        self._factory = factory
        self.concurrency = concurrency
        self._providers: dict[ProviderSettings, Provider] = {}
        self._http: httpx2.AsyncClient | None = None

    def get(self, settings: ProviderSettings) -> Provider:
        provider = self._providers.get(settings)
        if provider is None:
            build = self._factory or self._build
            provider = self._providers[settings] = build(settings)
        return provider

    def batch_api(self, settings: ProviderSettings) -> BatchAPI:
        """The batch endpoints of the provider ``settings`` name, over the same client
        (so the same key, base_url and connection pool) as its online calls."""
        provider = self.get(settings)
        from enricher.providers.anthropic_provider import AnthropicProvider
        from enricher.providers.openai_provider import OpenAIProvider

        if isinstance(provider, OpenAIProvider):
            from enricher.providers.openai_batches import OpenAIBatches

            return OpenAIBatches(provider)
        if isinstance(provider, AnthropicProvider):
            from enricher.providers.anthropic_batches import AnthropicBatches

            return AnthropicBatches(provider)
        raise ConfigError(
            f"provider {settings.name!r} has no batch API: mode = \"batch\" needs "
            "provider openai or anthropic"
        )

    def _build(self, settings: ProviderSettings) -> Provider:
        if settings.name == "local":
            from enricher.providers.local import LocalProvider

            return LocalProvider()
        config = ProviderConfig(
            name=settings.name,
            model=settings.model,
            api_key=api_key(settings),
            base_url=settings.base_url,
            timeout_s=settings.timeout_s,
            json_mode=settings.json_mode,
        )
        if not settings.model:
            raise ConfigError(
                f"invalid config key 'provider.model': provider {settings.name!r} "
                "needs a model name"
            )
        if settings.name == "openai":
            from enricher.providers.openai_provider import OpenAIProvider

            return OpenAIProvider(config, self._client(settings.timeout_s))
        from enricher.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider(config, self._client(settings.timeout_s))

    def _client(self, timeout_s: float) -> httpx2.AsyncClient:
        if self._http is None:
            from enricher.providers.http import shared_client

            self._http = shared_client(self.concurrency, timeout_s)
        return self._http

    async def aclose(self) -> None:
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()
