"""One provider instance per distinct provider configuration, shared by all jobs.

Providers hold connection pools, so building one per job would throw away every
warm connection; tasks that resolve to the same settings share one instance.
"""

from __future__ import annotations

from collections.abc import Callable

from enricher.config import ProviderSettings
from enricher.errors import ConfigError
from providers.base import Provider

ProviderFactory = Callable[[ProviderSettings], Provider]


def default_factory(settings: ProviderSettings) -> Provider:
    """Build the provider the settings name."""
    if settings.name == "local":
        from providers.local import LocalProvider

        return LocalProvider()
    raise ConfigError(
        f"invalid config key 'provider.name': provider {settings.name!r} is not available "
        "in this build; use 'local'"
    )


class ProviderPool:
    def __init__(self, factory: ProviderFactory | None = None) -> None:
        self._factory = factory or default_factory
        self._providers: dict[ProviderSettings, Provider] = {}

    def get(self, settings: ProviderSettings) -> Provider:
        provider = self._providers.get(settings)
        if provider is None:
            provider = self._providers[settings] = self._factory(settings)
        return provider

    async def aclose(self) -> None:
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()
