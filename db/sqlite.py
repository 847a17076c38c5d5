"""SQLite connector on aiosqlite: WAL, a busy timeout, ``BEGIN IMMEDIATE`` writes.

One aiosqlite connection runs every statement on one thread, so an asyncio lock
serialises its users: without it two tasks' transactions would interleave on the
same connection. Other processes on the same file coordinate through SQLite's own
locks (WAL lets readers go on while one writer commits), and the busy timeout turns
short contention into waiting instead of errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import aiosqlite

from .connector import Params, Row, Session, SessionBase, Statement, decode_text
from .errors import (
    DatabaseCorrupt,
    DatabaseError,
    DatabaseFull,
    DatabaseMissing,
    DatabaseUnavailable,
    IntegrityViolation,
    TransientDatabaseError,
)
from .queries import load_queries
from .timestamps import format_timestamp

_TRANSIENT_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR}
_FULL_CODES = {sqlite3.SQLITE_FULL}
_CORRUPT_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_UNAVAILABLE_CODES = {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY}
#: Temporary tables and sorts in memory. Every statement enricher runs reads an index
#: and its temporary structures are small (a claim's few CTE tables and sorts); with
#: the default file-backed store each one costs a pager set-up, which made a fair
#: claim three times dearer than the plain one (docs/architecture.md, "The claim").
#: A DDL transaction (a migration's CREATE INDEX sorts the whole table: 230 MB of RAM
#: at 2,000,000 rows) runs with the file-backed store: see transaction(ddl=True).
TEMP_STORE = "MEMORY"

#: What binding a Python value can raise before SQLite sees it: an int wider than 64
#: bits, a str with lone surrogates. The value is wrong, not the database.
_BIND_ERRORS = (OverflowError, UnicodeEncodeError)


def sqlite_path(url: str) -> str:
    """``sqlite:///rel.db`` → ``rel.db``; ``sqlite:////abs.db`` → ``/abs.db``."""
    if not url.startswith("sqlite://"):
        raise DatabaseUnavailable(f"not a sqlite url: {url!r}")
    path = url.removeprefix("sqlite://")
    path = path.removeprefix("/") if path.startswith("/") else path
    if not path:
        raise DatabaseUnavailable(f"sqlite url {url!r} names no file")
    return path


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _adapt(params: Params | None) -> dict[str, Any]:
    """Datetimes become the fixed-width ISO text the schema's defaults use."""
    if not params:
        return {}
    return {
        key: format_timestamp(value) if isinstance(value, datetime) else value
        for key, value in params.items()
    }


def _primary_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _translate(exc: BaseException, where: str) -> NoReturn:
    """Driver errors as :mod:`enricher.db.errors` classes, decided by SQLite's result code."""
    if isinstance(exc, _BIND_ERRORS):
        raise DatabaseError(f"{where}: a value cannot be stored: {exc}") from exc
    primary = _primary_code(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        raise IntegrityViolation(f"{where}: {exc}") from exc
    if primary in _FULL_CODES:
        raise DatabaseFull(f"{where}: {exc} (waiting for room)") from exc
    if primary in _TRANSIENT_CODES:
        raise TransientDatabaseError(f"{where}: {exc}") from exc
    if primary in _CORRUPT_CODES:
        raise DatabaseCorrupt(f"{where}: {exc}: the database file is damaged") from exc
    if primary in _UNAVAILABLE_CODES:
        raise DatabaseUnavailable(f"{where}: {exc}") from exc
    raise DatabaseError(f"{where}: {exc}") from exc


def split_script(sql: str) -> list[str]:
    """Split a script into complete statements (trigger bodies stay whole)."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if stripped := buffer.strip():
                statements.append(stripped)
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise DatabaseError(f"incomplete SQL statement at end of script: {buffer.strip()[:80]}")
    return statements


def _create_private(path: Path) -> None:
    """Create a new database file readable by its owner only (0600), before SQLite
    would create it with the umask's 0644: jobs and entities are the host's data.
    An existing file keeps the mode its owner gave it."""
    parent = path.parent
    if not parent.is_dir():
        raise DatabaseUnavailable(
            f"cannot open SQLite database {path}: folder {parent} does not exist"
        )
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot create SQLite database {path}: {exc}") from exc
    os.close(fd)


def _require_file(path: str) -> None:
    """Refuse to open a file that does not exist: SQLite would create it, empty."""
    if not Path(path).exists():
        raise DatabaseMissing(f"no database at {path} (run `enricher migrate` first)")


class _SqliteSession(SessionBase):
    """Statements on the locked connection; used inside and outside transactions."""

    def __init__(self, conn: aiosqlite.Connection, queries: Mapping[str, str]) -> None:
        self._conn = conn
        self._queries = queries

    def _sql(self, query: str) -> str:
        try:
            return self._queries[query]
        except KeyError:
            raise DatabaseError(
                f"no query named {query!r} in db/sql/common or db/sql/sqlite queries.sql"
            ) from None

    async def fetch(self, query: str, params: Params | None = None) -> list[Row]:
        try:
            rows = await self._conn.execute_fetchall(self._sql(query), _adapt(params))
        except (sqlite3.Error, *_BIND_ERRORS) as exc:
            _translate(exc, query)
        return list(rows)  # type: ignore[arg-type]

    async def execute(self, query: str, params: Params | None = None) -> int:
        try:
            cursor = await self._conn.execute(self._sql(query), _adapt(params))
        except (sqlite3.Error, *_BIND_ERRORS) as exc:
            _translate(exc, query)
        return cursor.rowcount

    async def executemany(self, query: str, params: Sequence[Params]) -> None:
        if not params:
            return
        try:
            await self._conn.executemany(self._sql(query), [_adapt(p) for p in params])
        except (sqlite3.Error, *_BIND_ERRORS) as exc:
            _translate(exc, query)

    async def run_script(self, sql: str) -> None:
        for statement in split_script(sql):
            try:
                await self._conn.execute(statement)
            except sqlite3.Error as exc:
                _translate(exc, f"script statement {statement[:60]!r}")


class SqliteConnector:
    """The embedded default database."""

    dialect = "sqlite"

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000, create: bool = True) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._busy_timeout_ms = busy_timeout_ms
        #: False for commands that only read: a missing file is DatabaseMissing, not a
        #: new empty database (SQLite creates any file it is asked to open).
        self._create = create
        self._conn: aiosqlite.Connection | None = None
        self._session: _SqliteSession | None = None
        self._lock = asyncio.Lock()
        self._queries = dict(load_queries("sqlite"))

    def register_queries(self, queries: Mapping[str, str]) -> None:
        """Add named queries rendered at run time (the target tables' own)."""
        self._queries.update(queries)

    async def open(self) -> None:
        if self._conn is not None:
            return
        if self.path != ":memory:":
            if not self._create:
                _require_file(self.path)
            _create_private(Path(self.path))
        try:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        try:
            conn.row_factory = _dict_row  # type: ignore[assignment]
            conn.text_factory = decode_text
            await conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute(f"PRAGMA temp_store = {TEMP_STORE}")
        except sqlite3.Error as exc:
            await conn.close()
            message = f"cannot open SQLite database {self.path}: {exc}"
            if _primary_code(exc) in _CORRUPT_CODES:
                raise DatabaseCorrupt(f"{message}: the database file is damaged") from exc
            raise DatabaseUnavailable(message) from exc
        self._conn = conn
        self._session = _SqliteSession(conn, self._queries)

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn, self._session = self._conn, None, None
            await conn.close()

    @property
    def _live(self) -> _SqliteSession:
        if self._session is None:
            raise DatabaseUnavailable(f"SQLite database {self.path} is not open")
        return self._session

    @asynccontextmanager
    async def transaction(self, *, ddl: bool = False) -> AsyncIterator[Session]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` if the block raises.

        With ``ddl`` the transaction's sorts may spill to a temporary file (see
        :data:`TEMP_STORE`); SQLite takes that setting only between transactions.
        """
        async with self._lock:
            session = self._live
            if ddl:
                await self._temp_store(session, "FILE")
            try:
                async with self._begun(session):
                    yield session
            finally:
                if ddl:
                    await self._temp_store(session, TEMP_STORE)

    @staticmethod
    @asynccontextmanager
    async def _begun(session: _SqliteSession) -> AsyncIterator[None]:
        try:
            await session._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            _translate(exc, "BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await SqliteConnector._rollback(session)
            raise
        try:
            await session._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            await SqliteConnector._rollback(session)
            _translate(exc, "COMMIT")

    @staticmethod
    async def _temp_store(session: _SqliteSession, mode: str) -> None:
        try:
            await session._conn.execute(f"PRAGMA temp_store = {mode}")
        except sqlite3.Error as exc:
            _translate(exc, "PRAGMA temp_store")

    @staticmethod
    async def _rollback(session: _SqliteSession) -> None:
        """Roll back if a transaction is still open. After SQLITE_FULL (and some I/O
        errors) SQLite has already rolled back by itself, and a second ROLLBACK would
        raise "no transaction is active" over the real error."""
        if session._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                await session._conn.execute("ROLLBACK")

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """SQLite has no notifications: other processes' work is found by polling."""

    async def fetch(self, query: str, params: Params | None = None) -> list[Row]:
        async with self._lock:
            return await self._live.fetch(query, params)

    async def fetchrow(self, query: str, params: Params | None = None) -> Row | None:
        async with self._lock:
            return await self._live.fetchrow(query, params)

    async def execute(self, query: str, params: Params | None = None) -> int:
        async with self._lock:
            return await self._live.execute(query, params)

    async def executemany(self, query: str, params: Sequence[Params]) -> None:
        async with self._lock:
            await self._live.executemany(query, params)

    async def run(self, statement: Statement) -> None:
        async with self._lock:
            await self._live.run(statement)

    async def run_script(self, sql: str) -> None:
        async with self._lock:
            await self._live.run_script(sql)
