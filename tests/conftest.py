"""Shared fixtures: a real SQLite database per test, and helpers to seed it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from enricher.app import Enricher
from enricher.config import ProviderSettings, Settings, TaskSettings, embedded_settings
from enricher.provider_pool import ProviderFactory
from tests.fakes import ScriptedProvider


def make_settings(db_path: Path, **worker: Any) -> Settings:
    """Settings for tests: fast polls and heartbeats, no environment involved."""
    defaults: dict[str, Any] = {
        "concurrency": 4,
        "poll_interval_s": 0.05,
        "heartbeat_s": 0.2,
        "retry_base_s": 0.01,
        "retry_max_s": 0.05,
        "shutdown_grace_s": 2.0,
        "lock_timeout_s": 30.0,
    }
    settings = embedded_settings(db_path, **(defaults | worker))
    return settings.model_copy(
        update={
            "provider": ProviderSettings(name="local", model="scripted-1"),
            "tasks": {"generate_topics": TaskSettings(max_input_tokens=2000)},
        }
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "enricher.db"


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
def factory(provider: ScriptedProvider) -> ProviderFactory:
    return lambda _settings: provider


@pytest.fixture
async def app(db_path: Path, factory: ProviderFactory) -> AsyncIterator[Enricher]:
    enricher = await Enricher.open(make_settings(db_path), provider_factory=factory)
    try:
        yield enricher
    finally:
        await enricher.close()


AppFactory = Callable[..., Any]


@pytest.fixture
def open_app(db_path: Path, factory: ProviderFactory) -> AppFactory:
    """Open another Enricher on the same database with different worker settings."""

    async def _open(**worker: Any) -> Enricher:
        return await Enricher.open(make_settings(db_path, **worker), provider_factory=factory)

    return _open
