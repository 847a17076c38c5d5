"""What every command shares: the global options, one-line failures, running a coroutine.

Its own module so that each command module imports it, and the main module imports
the command modules, with no import pointing back up.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import typer

from enricher.config import Settings, load_settings
from enricher.db.errors import DatabaseUnavailable, MigrationError, TransientDatabaseError
from enricher.errors import (
    ConfigError,
    MetricsServerError,
    PayloadError,
    RequestError,
    UnknownTaskError,
)

T = TypeVar("T")

#: What ends a command with one line and exit 2: bad input or config, and a database
#: that cannot be used (unreachable, corrupt, or still locked or full after waiting).
USAGE_ERRORS = (
    ConfigError,
    DatabaseUnavailable,
    TransientDatabaseError,
    MigrationError,
    UnknownTaskError,
    PayloadError,
    RequestError,
    MetricsServerError,
)


class _State:
    config: str | None = None


state = _State()


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line on stderr and exit with ``code`` (2: the user's to fix)."""
    print(f"enricher: error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return load_settings(state.config)
    except ConfigError as exc:
        fail(str(exc))


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; our deliberate errors become one line and exit code 2."""
    try:
        return asyncio.run(factory())  # type: ignore[arg-type]
    except USAGE_ERRORS as exc:
        fail(str(exc))
