"""PostgreSQL connector on asyncpg: a pool, positional parameters, translated errors.

Queries are the same named queries as every dialect, written with ``:name``
parameters; they are rewritten once to asyncpg's ``$n`` form (casts ``::type``,
string literals and comments are left alone) and asyncpg prepares and caches them
per connection. A lost connection surfaces as :class:`TransientDatabaseError`:
the pool replaces it on the next acquire, and callers retry.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from functools import cache
from typing import Any, NoReturn

import asyncpg
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from .connector import (
    Params,
    Row,
    Session,
    SessionBase,
    Statement,
    redact_secrets,
    redact_url,
)
from .errors import (
    DatabaseError,
    DatabaseUnavailable,
    IntegrityViolation,
    TransientDatabaseError,
)
from .queries import load_queries

log = structlog.get_logger("enricher.db")

_TOKEN = re.compile(r"'(?:[^']|'')*'|--[^\n]*|::|:([A-Za-z_][A-Za-z0-9_]*)")
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    # The protocol of a connection the server dropped mid-operation can be left "in
    # progress": every later use raises this. The connection is dead, not the request.
    asyncpg.exceptions.InternalClientError,
)
_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03"}


def to_positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """``:name`` → ``$n``; each distinct name gets one position, reused where it recurs."""
    names: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _TOKEN.sub(replace, sql), tuple(names)


@cache
def _compiled(query_sql: str) -> tuple[str, tuple[str, ...]]:
    return to_positional(query_sql)


def _row(record: asyncpg.Record) -> Row:
    """Rows as plain dicts, uuids as text: the same shapes the SQLite connector returns."""
    return {
        key: str(value) if isinstance(value, uuid.UUID) else value for key, value in record.items()
    }


def _translate(exc: BaseException, where: str) -> NoReturn:
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        raise IntegrityViolation(f"{where}: {exc}") from exc
    if isinstance(exc, _CONNECTION_ERRORS):
        raise TransientDatabaseError(
            f"{where}: connection lost ({type(exc).__name__}: {exc})"
        ) from exc
    if isinstance(exc, asyncpg.PostgresError) and exc.sqlstate in _RETRYABLE_SQLSTATES:
        raise TransientDatabaseError(f"{where}: {exc}") from exc
    raise DatabaseError(f"{where}: {exc}") from exc


def _notifier(callback: Callable[[], None]) -> Callable[..., None]:
    def on_notify(*_: object) -> None:
        callback()

    return on_notify


class _PgSession(SessionBase):
    def __init__(self, conn: asyncpg.Connection, queries: Mapping[str, str]) -> None:
        self._conn = conn
        self._queries = queries

    def _prepare(self, query: str, params: Params | None) -> tuple[str, list[Any]]:
        try:
            sql = self._queries[query]
        except KeyError:
            raise DatabaseError(
                f"no query named {query!r} in db/sql/common or db/sql/postgres queries.sql"
            ) from None
        positional, names = _compiled(sql)
        values = params or {}
        try:
            return positional, [values[name] for name in names]
        except KeyError as exc:
            raise DatabaseError(f"{query}: missing parameter {exc}") from None

    async def fetch(self, query: str, params: Params | None = None) -> list[Row]:
        sql, args = self._prepare(query, params)
        try:
            return [_row(r) for r in await self._conn.fetch(sql, *args)]
        except Exception as exc:
            _translate(exc, query)

    async def execute(self, query: str, params: Params | None = None) -> int:
        sql, args = self._prepare(query, params)
        try:
            status = await self._conn.execute(sql, *args)
        except Exception as exc:
            _translate(exc, query)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, query: str, params: Sequence[Params]) -> None:
        if not params:
            return
        sql, _ = self._prepare(query, params[0])
        _, names = _compiled(self._queries[query])
        try:
            await self._conn.executemany(sql, [[p[name] for name in names] for p in params])
        except Exception as exc:
            _translate(exc, query)

    async def run_script(self, sql: str) -> None:
        try:
            await self._conn.execute(sql)
        except Exception as exc:
            _translate(exc, "migration script")


class PostgresConnector:
    """Any number of workers on any number of hosts share one PostgreSQL database."""

    dialect = "postgres"

    def __init__(self, url: str, *, pool_size: int = 10, connect_timeout_s: float = 30.0) -> None:
        self.url = url
        self.pool_size = pool_size
        self.connect_timeout_s = connect_timeout_s
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._channels: dict[str, Callable[[], None]] = {}
        self._listening_to: set[str] = set()
        self._queries = dict(load_queries("postgres"))

    def register_queries(self, queries: Mapping[str, str]) -> None:
        """Add named queries rendered at run time (the target tables' own)."""
        self._queries.update(queries)

    async def open(self) -> None:
        """Connect, retrying with backoff for ``connect_timeout_s`` before giving up (exit 2)."""
        if self._pool is not None:
            return
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(_CONNECTION_ERRORS),
                wait=wait_exponential(multiplier=0.2, max=5.0),
                stop=stop_after_delay(self.connect_timeout_s),
                reraise=True,
            ):
                with attempt:
                    self._pool = await asyncpg.create_pool(
                        self.url,
                        min_size=1,
                        max_size=self.pool_size,
                        timeout=10,
                        command_timeout=60,
                    )
        except _CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable(
                f"cannot reach PostgreSQL at {redact_url(self.url)} after "
                f"{self.connect_timeout_s:g} s: {type(exc).__name__}: "
                f"{redact_secrets(str(exc), self.url)}"
            ) from exc
        except asyncpg.PostgresError as exc:
            raise DatabaseUnavailable(
                f"PostgreSQL at {redact_url(self.url)} refused us: "
                f"{redact_secrets(str(exc), self.url)}"
            ) from exc
        except ValueError as exc:
            # asyncpg could not parse the URL, and says which piece it choked on: that
            # piece may be part of the password. No cause: a logged traceback would show it.
            raise DatabaseUnavailable(
                f"invalid PostgreSQL url {redact_url(self.url)}: "
                f"{redact_secrets(str(exc), self.url)} (percent-encode special characters "
                "in the password)"
            ) from None

    async def close(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def _live(self) -> asyncpg.Pool:
        if self._pool is None:
            raise DatabaseUnavailable(f"PostgreSQL at {redact_url(self.url)} is not open")
        return self._pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            conn = await self._live.acquire()
        except Exception as exc:
            _translate(exc, "acquire a connection")
        try:
            yield conn
        except TransientDatabaseError as exc:
            if isinstance(exc.__cause__, _CONNECTION_ERRORS):
                with suppress(Exception):  # never hand a broken connection to the next user
                    conn.terminate()
            raise
        finally:
            with suppress(Exception):  # a dead connection: the pool replaces it
                await self._live.release(conn)

    @asynccontextmanager
    async def transaction(self, *, ddl: bool = False) -> AsyncIterator[Session]:
        # ``ddl`` changes nothing here: PostgreSQL's sorts spill to disk by work_mem.
        async with self._connection() as conn:
            tx = conn.transaction()
            try:
                await tx.start()
            except Exception as exc:
                _translate(exc, "BEGIN")
            try:
                yield _PgSession(conn, self._queries)
            except BaseException:
                with suppress(Exception):
                    await tx.rollback()
                raise
            try:
                await tx.commit()
            except Exception as exc:
                _translate(exc, "COMMIT")

    async def fetch(self, query: str, params: Params | None = None) -> list[Row]:
        async with self._connection() as conn:
            return await _PgSession(conn, self._queries).fetch(query, params)

    async def fetchrow(self, query: str, params: Params | None = None) -> Row | None:
        async with self._connection() as conn:
            return await _PgSession(conn, self._queries).fetchrow(query, params)

    async def execute(self, query: str, params: Params | None = None) -> int:
        async with self._connection() as conn:
            return await _PgSession(conn, self._queries).execute(query, params)

    async def executemany(self, query: str, params: Sequence[Params]) -> None:
        async with self._connection() as conn:
            await _PgSession(conn, self._queries).executemany(query, params)

    async def run(self, statement: Statement) -> None:
        async with self._connection() as conn:
            await _PgSession(conn, self._queries).run(statement)

    async def run_script(self, sql: str) -> None:
        async with self._connection() as conn:
            await _PgSession(conn, self._queries).run_script(sql)

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` on every NOTIFY on ``channel``, on a dedicated connection.

        Safe to call again at any time: if the connection was lost (a restarted
        server), it is re-opened and every channel is listened to again.
        """
        self._channels[channel] = callback
        if self.listening:
            assert self._listener is not None
            if channel in self._listening_to:
                return
        else:
            try:
                self._listener = await asyncpg.connect(self.url, timeout=10)
            except Exception as exc:
                _translate(exc, f"LISTEN {channel}")
            self._listening_to = set()
        assert self._listener is not None
        for name, notify in self._channels.items():
            if name not in self._listening_to:
                try:
                    await self._listener.add_listener(name, _notifier(notify))
                except Exception as exc:
                    _translate(exc, f"LISTEN {name}")
                self._listening_to.add(name)

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()
