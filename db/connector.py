"""The connector protocol: what the manager may ask of any database.

Callers name queries (see :mod:`db.queries`) and pass ``:name`` parameters as a
mapping; rows come back as plain dicts. Writes that must commit together go
through :meth:`Connector.transaction`, which is a *write* transaction on every
dialect (``BEGIN IMMEDIATE`` on SQLite), so two workers never interleave a claim.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

Row = dict[str, Any]
Params = Mapping[str, Any]


@dataclass(frozen=True)
class Statement:
    """One named write, deferred: handlers return these to be run inside the fence."""

    query: str
    params: Params = field(default_factory=dict)
    many: Sequence[Params] | None = None


class Session(Protocol):
    """Queries inside one open transaction."""

    async def fetch(self, query: str, params: Params | None = None) -> list[Row]: ...

    async def fetchrow(self, query: str, params: Params | None = None) -> Row | None: ...

    async def execute(self, query: str, params: Params | None = None) -> int: ...

    async def executemany(self, query: str, params: Sequence[Params]) -> None: ...

    async def run(self, statement: Statement) -> None: ...

    async def run_script(self, sql: str) -> None: ...


class SessionBase:
    """What every dialect's session derives from its own fetch/execute/executemany."""

    async def fetch(self, query: str, params: Params | None = None) -> list[Row]:
        raise NotImplementedError

    async def execute(self, query: str, params: Params | None = None) -> int:
        raise NotImplementedError

    async def executemany(self, query: str, params: Sequence[Params]) -> None:
        raise NotImplementedError

    async def fetchrow(self, query: str, params: Params | None = None) -> Row | None:
        rows = await self.fetch(query, params)
        return rows[0] if rows else None

    async def run(self, statement: Statement) -> None:
        if statement.many is not None:
            await self.executemany(statement.query, statement.many)
        else:
            await self.execute(statement.query, statement.params)


class Connector(Session, Protocol):
    """A database: single statements in autocommit, or a :meth:`transaction`."""

    dialect: str
    url: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Session]: ...

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` when work is announced on ``channel`` (no-op where unsupported)."""
        ...


def connect(url: str, *, busy_timeout_ms: int = 5000, connect_timeout_s: float = 30.0) -> Connector:
    """Build the connector for a database URL (not yet opened)."""
    from db.errors import DatabaseUnavailable

    if url.startswith("sqlite:"):
        from db.sqlite import SqliteConnector

        return SqliteConnector(url, busy_timeout_ms=busy_timeout_ms)
    if url.startswith(("postgresql:", "postgres:")):
        from db.postgres import PostgresConnector

        return PostgresConnector(url, connect_timeout_s=connect_timeout_s)
    raise DatabaseUnavailable(
        f"unsupported database url {redact_url(url)!r}: use sqlite:///path.db "
        "or postgresql://user:pass@host:port/db"
    )


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
