"""The one exception base class of enricher, and the tree that hangs from it.

Every error enricher raises on purpose derives from :class:`EnricherError`, so a
host application can catch the whole family in one ``except``. The subclasses live
beside the code that raises them, so each layer stays ignorant of the others::

    EnricherError
    ├── ConfigError                     enricher.errors: bad or unknown config key (exit 2)
    ├── UnknownTaskError                enricher.errors: task / target type with no handler
    ├── PayloadError                    enricher.errors: payload not JSON, or invalid for the task
    ├── TargetError                     enricher.errors: target entity missing or not enrichable
    ├── MetricsServerError              enricher.errors: metrics port cannot be bound (exit 2)
    ├── RequestError (also ValueError)  enricher.errors: a jobs/prune request that cannot be done
    ├── db.errors.DatabaseError         anything the database said, translated at the connector
    │   ├── DatabaseUnavailable         cannot open or reach the database (exit 2)
    │   ├── IntegrityViolation          a constraint refused the write
    │   └── MigrationError              schema files missing or inconsistent
    └── providers.errors.ProviderError  anything a model provider did wrong
        ├── RateLimited                 429: pause the scope, no attempt consumed
        ├── ProviderHalted              bad key / no quota: long pause, no attempt consumed
        ├── RetryableProviderError      5xx, overload, timeout, connection error
        │   └── InvalidOutput           output that fails the task's pydantic model
        └── PermanentProviderError      400 / 413 / 422: the request itself is wrong

This module imports nothing from the rest of the project, so ``db`` and
``providers`` can derive from it without import cycles.
"""

from __future__ import annotations


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
