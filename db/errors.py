"""Database errors, translated from driver exceptions at the connector edge.

The manager never sees ``sqlite3`` or ``asyncpg`` exceptions: it sees these, and
decides by class. :class:`DatabaseError` is this package's own root, so the package
imports nothing above it; the whole tree is drawn in :mod:`enricher.errors`.
"""

from __future__ import annotations


class DatabaseError(Exception):
    """Anything the database refused or failed to do."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be opened or reached; at start-up this is exit code 2."""


class DatabaseMissing(DatabaseUnavailable):
    """No enricher database where one was expected: the SQLite file does not exist, or
    the database holds no enricher schema. Commands that only read refuse to create one
    (exit 2): a mistyped path must be one clear line, not a new empty database that
    answers every question with nothing."""


class DatabaseCorrupt(DatabaseUnavailable):
    """The file is damaged ("database disk image is malformed"): no retry can help, and
    a worker that kept polling would only log the same error forever (exit 2)."""


class TransientDatabaseError(DatabaseError):
    """Busy, locked or a dropped connection: the same call may succeed shortly."""


class DatabaseFull(TransientDatabaseError):
    """The disk (or the database's size cap) is full. Transient: writes are retried
    and succeed once room returns, as they do after a restart."""


class IntegrityViolation(DatabaseError):
    """A constraint (unique, not-null, check) refused the write."""


class MigrationError(DatabaseError):
    """The schema files are missing or inconsistent with the database."""
