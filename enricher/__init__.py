"""enricher: an AI enrichment job manager.

The public API is re-exported lazily (PEP 562): ``db`` and ``providers`` import
:mod:`enricher.errors`, and an eager import of the app here would close a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from enricher.app import Enricher
    from enricher.config import Settings, load_settings
    from enricher.enqueue import Enqueued, EnqueueRequest
    from enricher.status import JobStatus

__all__ = ["EnqueueRequest", "Enqueued", "Enricher", "JobStatus", "Settings", "load_settings"]

_EXPORTS = {
    "Enricher": "enricher.app",
    "Settings": "enricher.config",
    "load_settings": "enricher.config",
    "EnqueueRequest": "enricher.enqueue",
    "Enqueued": "enricher.enqueue",
    "JobStatus": "enricher.status",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'enricher' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
