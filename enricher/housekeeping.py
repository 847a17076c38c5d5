"""Former home of retention, kept so existing imports keep working.

The code lives in :mod:`enricher.queue.retention`; import from there.
"""

from __future__ import annotations

from enricher.queue.retention import PRUNE_BATCH_SIZE, prune
from enricher.status import prune_statuses

__all__ = ["PRUNE_BATCH_SIZE", "prune", "prune_statuses"]
