"""Model providers: one module per provider, plus the shared request, result and errors.

This package knows nothing of the database: it turns a :class:`GenerationRequest`
into a validated :class:`Generation`, or raises one of :mod:`enricher.providers.errors`.
"""

from __future__ import annotations

from .base import Generation, GenerationRequest, Provider, Source, SourceMessage, Usage

__all__ = ["Generation", "GenerationRequest", "Provider", "Source", "SourceMessage", "Usage"]

if __name__ != "enricher.providers":  # the folder is importable only under its one name
    raise ImportError(f"import enricher.providers, not {__name__}: see docs/architecture.md")
