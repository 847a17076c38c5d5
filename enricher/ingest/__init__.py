"""Ingest: walk files and folders, store them as entities, enqueue their enrichment.

``sources`` reads files into records (no database); ``entities`` stores the records
and enqueues their jobs.
"""

from __future__ import annotations

from enricher.ingest.entities import IngestReport, ingest

__all__ = ["IngestReport", "ingest"]
