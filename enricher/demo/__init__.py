"""``enricher demo``: ingest the bundled sample project (``corpus/``) and drain it offline."""

from __future__ import annotations

from enricher.demo.run import run_demo

__all__ = ["run_demo"]
