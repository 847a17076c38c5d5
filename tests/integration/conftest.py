"""The real SDKs against the loopback provider server, on a real SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx2 as httpx
import pytest

from enricher.app import Enricher
from enricher.config import ProviderSettings, Settings, WebSettings
from enricher.testing.simulator import ProviderSimulator, SimulatorConfig
from enricher.web import create_app
from tests.backends import DbTarget
from tests.conftest import make_settings

KEY_ENV = "SIMULATED_PROVIDER_KEY"
KEY = "sk-test-very-secret-0123456789"
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}


@pytest.fixture
async def simulator() -> AsyncIterator[ProviderSimulator]:
    server = ProviderSimulator(SimulatorConfig(api_keys=frozenset({KEY})))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


ProviderApp = Callable[..., Awaitable[Enricher]]


@pytest.fixture
async def provider_app(
    db_path: DbTarget, simulator: ProviderSimulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ProviderApp]:
    """An Enricher whose provider is ``name``, served by the simulator."""
    monkeypatch.setenv(KEY_ENV, KEY)
    opened: list[Enricher] = []

    async def _open(
        name: str,
        *,
        timeout_s: float = 10.0,
        provider: dict[str, Any] | None = None,
        server: ProviderSimulator | None = None,
        **worker: Any,
    ) -> Enricher:
        """``provider`` adds provider settings (rpm, max_in_flight...); ``server`` is
        another simulator to talk to (one with latency, say)."""
        serving = server or simulator
        base = serving.openai_base_url if name == "openai" else serving.anthropic_base_url
        settings = make_settings(db_path, **worker).model_copy(
            update={
                "provider": ProviderSettings(
                    name=name,
                    model=MODELS[name],
                    base_url=base,
                    api_key_env=KEY_ENV,
                    timeout_s=timeout_s,
                    **(provider or {}),
                ),
                "tasks": {},
            }
        )
        app = await Enricher.open(settings)
        opened.append(app)
        return app

    try:
        yield _open
    finally:
        for app in opened:
            await app.close()


Client = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def client(db_path: DbTarget) -> AsyncIterator[Client]:
    """An enricher web dashboard (``tests/integration/test_web*.py``):
    ``await client(allow_actions=..., username=..., password=...)``: an HTTP client
    on a dashboard whose lifespan has run."""
    async with AsyncExitStack() as stack:

        async def make(database_url: str | None = None, **web: Any) -> httpx.AsyncClient:
            settings: Settings = make_settings(db_path)
            update: dict[str, Any] = {"web": WebSettings(**web)}
            if database_url:
                update["database"] = settings.database.model_copy(update={"url": database_url})
            settings = settings.model_copy(update=update)
            asgi = create_app(settings)
            await stack.enter_async_context(asgi.router.lifespan_context(asgi))
            return await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=asgi), base_url="http://testserver"
                )
            )

        yield make
