"""The HTTP client both SDKs share: pooled connections sized to the worker.

The official SDKs build on httpx2; one client, passed to both, keeps warm
connections across jobs and bounds them to the worker's concurrency so a burst
of jobs cannot open more sockets than it can use.
"""

from __future__ import annotations

import httpx2


def shared_client(concurrency: int, timeout_s: float) -> httpx2.AsyncClient:
    """A client with ``concurrency`` pooled connections and an explicit timeout."""
    return httpx2.AsyncClient(
        limits=httpx2.Limits(
            max_connections=max(1, concurrency), max_keepalive_connections=max(1, concurrency)
        ),
        timeout=httpx2.Timeout(timeout_s, connect=min(10.0, timeout_s)),
        follow_redirects=True,
    )
