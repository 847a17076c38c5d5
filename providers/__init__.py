"""Model providers: one module per provider, plus the shared request, result and errors.

This package knows nothing of the database: it turns a :class:`GenerationRequest`
into a validated :class:`Generation`, or raises one of :mod:`providers.errors`.
"""

from __future__ import annotations

from providers.base import Generation, GenerationRequest, Provider, Source, SourceMessage, Usage

__all__ = ["Generation", "GenerationRequest", "Provider", "Source", "SourceMessage", "Usage"]
