"""Durations as people write them in config and on the command line: ``7d``, ``1d12h``."""

from __future__ import annotations

import re
from datetime import timedelta

from enricher.errors import RequestError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``12h``, ``7d``, ``2w``, or a sum such as ``1d12h``.

    Whole numbers only: retention is counted in whole units, and a fixed grammar
    keeps a typo (``7 days``, ``-1d``) from silently meaning something else.
    """
    compact = text.strip().lower()
    pieces = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in pieces) != compact:
        raise RequestError(
            f"invalid duration {text!r}: use a number and a unit s, m, h, d or w "
            "(30s, 15m, 12h, 7d, 2w, or a sum such as 1d12h)"
        )
    try:
        return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in pieces))
    except OverflowError:
        raise RequestError(f"invalid duration {text!r}: too long") from None
