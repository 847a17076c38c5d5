"""Fixtures for tests that run ``enricher`` processes against PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backends import drop_database, fresh_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test, dropped after it."""
    url = fresh_database()
    try:
        yield url
    finally:
        drop_database(url)
