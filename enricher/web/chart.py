"""The overview's throughput chart as inline SVG geometry, drawn by the template.

Server-rendered on purpose: no chart library, no JavaScript build, no CDN, and htmx's
poll redraws it with the rest of the page. Only numbers reach the SVG (computed here),
so there is nothing to escape but the minute labels, which autoescape covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH = 600
HEIGHT = 120


@dataclass(frozen=True)
class Bar:
    """One minute: a completed (lower) and a failed (upper) stacked bar, in pixels."""

    minute: str
    completed: int
    failed: int
    x: float
    width: float
    completed_y: float
    completed_h: float
    failed_y: float
    failed_h: float


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak: int
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def first(self) -> str:
        return self.bars[0].minute[-5:] if self.bars else ""

    @property
    def last(self) -> str:
        return self.bars[-1].minute[-5:] if self.bars else ""


def throughput_chart(series: list[dict[str, Any]]) -> Chart:
    """Bars for ``report["throughput_chart"]``, scaled so the busiest minute fills the
    height (a chart of zeros stays flat rather than dividing by zero)."""
    peak = max((int(p["completed"]) + int(p["failed"]) for p in series), default=0)
    scale = HEIGHT / peak if peak else 0.0
    step = WIDTH / max(len(series), 1)
    bars = []
    for index, point in enumerate(series):
        done, failed = int(point["completed"]), int(point["failed"])
        done_h, failed_h = done * scale, failed * scale
        bars.append(
            Bar(
                minute=str(point["minute"]),
                completed=done,
                failed=failed,
                x=round(index * step + 1, 1),
                width=round(max(step - 2, 1), 1),
                completed_y=round(HEIGHT - done_h, 1),
                completed_h=round(done_h, 1),
                failed_y=round(HEIGHT - done_h - failed_h, 1),
                failed_h=round(failed_h, 1),
            )
        )
    return Chart(bars=bars, peak=peak)
