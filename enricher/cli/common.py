"""What every command shares: the global options, one-line failures, running a coroutine.

Its own module so that each command module imports it, and the main module imports
the command modules, with no import pointing back up.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from enricher.config import Settings, load_settings
from enricher.db.errors import DatabaseUnavailable, MigrationError, TransientDatabaseError
from enricher.errors import (
    ConfigError,
    MetricsServerError,
    PayloadError,
    RequestError,
    UnknownTaskError,
)
from enricher.queue.views import to_json

if TYPE_CHECKING:
    from enricher.app import Enricher

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


JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def run_request(factory: Callable[[], Awaitable[T]]) -> T:
    """``run_async``, plus our own refusals as one line and exit 2."""
    try:
        return run_async(factory)
    except RequestError as exc:
        fail(str(exc))


def existing_app() -> Callable[[], Awaitable[Enricher]]:
    """Read the settings now (a bad config exits 2 before anything runs); open later.

    Every command here reads or changes jobs that must already exist, so none of them
    creates a database: a mistyped path exits 2 naming it (``existing=True``).
    """
    from enricher.app import Enricher

    cfg = settings()
    return lambda: Enricher.open(cfg, existing=True)


def print_json(value: Any) -> None:
    print(json.dumps(to_json(value), indent=2))


def console() -> Console:
    """A terminal's own width; piped output gets room, so a table is not folded to 80."""
    default = Console()
    return default if default.is_terminal else Console(width=max(default.width, 200))


def cell_text(value: Any) -> str:
    """A value as one table cell: timestamps in our ISO form, JSON compact."""
    value = to_json(value)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
