"""Shared fixtures: a real database per test (SQLite, and PostgreSQL for the contract
suite), and an app opened on it with a scripted provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from enricher.app import Enricher
from enricher.config import (
    DatabaseSettings,
    ProviderSettings,
    Settings,
    TaskSettings,
    embedded_settings,
)
from enricher.provider_pool import ProviderFactory
from tests.backends import DbTarget, database_url, drop_database, fresh_database
from tests.fakes import ScriptedProvider


def make_settings(db_path: DbTarget, **worker: Any) -> Settings:
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
            "database": DatabaseSettings(url=database_url(db_path), connect_timeout_s=5.0),
            "provider": ProviderSettings(name="local", model="scripted-1"),
            "tasks": {"generate_topics": TaskSettings(max_input_tokens=2000)},
        }
    )


@pytest.fixture(params=["sqlite", "postgres"])
def db_path(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DbTarget]:
    """The test's database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield tmp_path / "enricher.db"
        return
    url = fresh_database()
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
def factory(provider: ScriptedProvider) -> ProviderFactory:
    return lambda _settings: provider


@pytest.fixture
async def app(db_path: DbTarget, factory: ProviderFactory) -> AsyncIterator[Enricher]:
    enricher = await Enricher.open(make_settings(db_path), provider_factory=factory)
    try:
        yield enricher
    finally:
        await enricher.close()


AppFactory = Callable[..., Any]


@pytest.fixture
def open_app(db_path: DbTarget, factory: ProviderFactory) -> AppFactory:
    """Open another Enricher on the same database with different worker settings."""

    async def _open(**worker: Any) -> Enricher:
        return await Enricher.open(make_settings(db_path, **worker), provider_factory=factory)

    return _open
