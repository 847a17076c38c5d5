"""enricher: an AI enrichment job manager.

The public API in one import. The layers, and which folder holds each, are drawn in
docs/architecture.md.
"""

from __future__ import annotations

from enricher.app import Enricher
from enricher.config import Settings, load_settings
from enricher.queue.enqueue import Enqueued, EnqueueRequest
from enricher.status import JobStatus

__all__ = ["EnqueueRequest", "Enqueued", "Enricher", "JobStatus", "Settings", "load_settings"]
