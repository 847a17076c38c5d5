"""Every error enricher raises on purpose, and the whole tree in one place.

There are three roots, one per layer that raises, because storage and providers
import nothing from the rest of enricher (docs/architecture.md, "Layers"): each has
its own base class, and :data:`ERRORS` names all three for a host that wants to catch
the whole family in one ``except ERRORS:``::

    enricher.errors.EnricherError
    ├── ConfigError                      bad or unknown config key (exit 2)
    ├── UnknownTaskError                 task / target type with no handler
    ├── PayloadError                     payload not JSON, or invalid for the task
    ├── TargetError                      target entity missing or not enrichable
    ├── MetricsServerError               metrics port cannot be bound (exit 2)
    ├── RequestError (also ValueError)   a jobs/prune request that cannot be done (exit 2)
    ├── ingest.sources.SourceError       a file ingest cannot parse (skipped, listed)
    ├── ingest.sources.IngestPathError   path outside the ingest root, or two files one id (exit 2)
    ├── ingest.decoding.Undecodable      bytes in no declared encoding (the file is skipped)
    ├── throttle.pauses.ScopePaused      the job goes back to the queue unrun (internal)
    └── worker.batch_calls.Deferred      the request waits for a provider batch (internal)

    enricher.db.errors.DatabaseError     anything the database said, translated at the connector
    ├── DatabaseUnavailable              cannot open or reach the database (exit 2)
    │   ├── DatabaseMissing              no file or no schema, for a read-only command (exit 2)
    │   └── DatabaseCorrupt              "database disk image is malformed" (exit 2)
    ├── TransientDatabaseError           busy, locked, connection lost: retried
    │   └── DatabaseFull                 no room on disk: retried until there is
    ├── IntegrityViolation               a constraint refused the write
    └── MigrationError                   schema or query files missing or inconsistent
        └── targets.TargetMappingError   a mapped table or column missing or misnamed (exit 2)

    enricher.providers.errors.ProviderError   anything a model provider did wrong
    ├── RateLimited                      429: pause the scope, no attempt consumed
    ├── ProviderHalted                   bad key / no quota: long pause, no attempt consumed
    ├── RetryableProviderError           5xx, overload, timeout, connection error
    │   └── InvalidOutput                output that fails the task's pydantic model
    └── PermanentProviderError           400 / 413 / 422: the request itself is wrong

What each provider error does to a job is the table in docs/architecture.md,
"Provider classification".
"""

from __future__ import annotations

from enricher.db.errors import DatabaseError
from enricher.providers.errors import ProviderError


class EnricherError(Exception):
    """Base of every error enricher raises deliberately."""


class ConfigError(EnricherError):
    """The configuration cannot be loaded; the message names the offending key."""


class UnknownTaskError(EnricherError):
    """No handler is registered for a (task_type, target_entity_type) pair."""


class PayloadError(EnricherError):
    """A job's payload is not JSON, or not valid for its task."""


class TargetError(EnricherError):
    """The job's target entity is missing or has nothing to enrich."""


class MetricsServerError(EnricherError):
    """The metrics endpoint cannot be served: the port is in use or the address is wrong."""


class RequestError(EnricherError, ValueError):
    """A job-administration request that cannot be carried out as asked (CLI exit 2).

    A malformed duration, an active status given to prune, a status that cannot be
    retried. It is also a ``ValueError`` so config validators can reuse the same
    checks: pydantic turns a ``ValueError`` into a validation message.
    """


#: The widest integer a job column holds in every dialect (PostgreSQL's ``integer``).
INT32_MAX = 2**31 - 1


def require_range(name: str, value: int, low: int, high: int = INT32_MAX) -> int:
    """``value``, or a :class:`RequestError` naming ``name`` when it is out of range: a
    number too wide for the column must be one clear line, not a driver's overflow."""
    if not low <= value <= high:
        raise RequestError(f"{name} must be from {low} to {high} (got {value})")
    return value


#: The three roots: ``except ERRORS`` catches every error enricher raises on purpose.
ERRORS: tuple[type[Exception], ...] = (EnricherError, DatabaseError, ProviderError)
