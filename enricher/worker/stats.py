"""What a worker did: counted by the loop and its side tasks, returned by ``Worker.run``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class WorkerStats:
    """What this worker did; returned by :meth:`Worker.run` (and handy in tests)."""

    claimed: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    discarded: int = 0
    released: int = 0
    reaped: int = 0
    cancelled: int = 0
    pruned: int = 0
