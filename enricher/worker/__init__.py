"""The worker: the claim loop, one attempt's execution, verdict recording, liveness.

See docs/architecture.md, "The worker".
"""

from __future__ import annotations

from enricher.worker.loop import Worker
from enricher.worker.stats import WorkerStats

__all__ = ["Worker", "WorkerStats"]
