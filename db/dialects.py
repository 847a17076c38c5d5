"""Which connector serves a database URL.

Its own module, above both implementations, so that the protocol in
:mod:`.connector` imports neither of them and they import it without a cycle. The
implementations are imported on first use: a SQLite user never loads asyncpg.
"""

from __future__ import annotations

from .connector import Connector, redact_url
from .errors import DatabaseUnavailable


def connect(
    url: str,
    *,
    busy_timeout_ms: int = 5000,
    connect_timeout_s: float = 30.0,
    create: bool = True,
) -> Connector:
    """Build the connector for a database URL (not yet opened).

    ``create=False`` makes opening a SQLite file that does not exist fail with
    :class:`~.errors.DatabaseMissing` instead of creating it. PostgreSQL databases are
    never created by enricher, so the flag changes nothing there.
    """
    if url.startswith("sqlite:"):
        from .sqlite import SqliteConnector

        return SqliteConnector(url, busy_timeout_ms=busy_timeout_ms, create=create)
    if url.startswith(("postgresql:", "postgres:")):
        from .postgres import PostgresConnector

        return PostgresConnector(url, connect_timeout_s=connect_timeout_s)
    raise DatabaseUnavailable(
        f"unsupported database url {redact_url(url)!r}: use sqlite:///path.db "
        "or postgresql://user:pass@host:port/db"
    )
