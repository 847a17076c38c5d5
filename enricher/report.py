"""``enricher status``: one snapshot of the queue, as data (``--json``) or tables.

The JSON shape is a contract for scripts: keys are only ever added.

```
{"generated_at": iso, "database": url,
 "jobs": [{"task_type", "status", "count"}], "totals": {status: count},
 "entities": [{"target_entity_type", "ai_status", "count"}],
 "oldest_claimable_age_s": float | null,
 "pauses": [{"scope", "paused_until", "reason", "seconds_left"}],
 "workers": [{"worker_id", "hostname", "pid", "status", "state", "running",
              "concurrency", "started_at", "last_heartbeat_at"}],
 "usage": {"input_tokens", "output_tokens", "cost_usd"},
 "rate_limits": [{"pool", "rpm", "tpm", "source", "window_requests", "window_tokens",
                  "requests_used", "tokens_used", "factor"}]}
```
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from db.connector import redact_url
from enricher.app import Enricher
from enricher.budget import WINDOW, effective_factor
from enricher.clock import format_timestamp, parse_timestamp


def _iso(value: Any) -> str | None:
    parsed = parse_timestamp(value)
    return format_timestamp(parsed) if parsed else None


async def collect(app: Enricher) -> dict[str, Any]:
    """Everything ``status`` shows, as JSON-ready data."""
    db, now = app.db, app.clock()
    jobs = [
        {"task_type": r["task_type"], "status": r["status"], "count": int(r["jobs"])}
        for r in await db.fetch("job_counts")
    ]
    totals: Counter[str] = Counter()
    for row in jobs:
        totals[row["status"]] += row["count"]
    oldest = parse_timestamp(
        (await db.fetchrow("oldest_claimable", {"now": now}) or {}).get("oldest")
    )
    pauses = []
    for r in await db.fetch("active_pauses", {"now": now}):
        until = parse_timestamp(r["paused_until"])
        assert until is not None
        pauses.append(
            {
                "scope": r["scope"],
                "paused_until": _iso(until),
                "reason": r["reason"],
                "seconds_left": round((until - now).total_seconds(), 1),
            }
        )
    workers = []
    for r in await db.fetch("list_workers"):
        beat = parse_timestamp(r["last_heartbeat_at"])
        lost = (
            r["status"] == "running"
            and beat is not None
            and (now - beat).total_seconds() > app.settings.worker.lock_timeout_s
        )
        workers.append(
            {
                "worker_id": r["worker_id"],
                "hostname": r["hostname"],
                "pid": r["pid"],
                "status": r["status"],
                "state": "lost" if lost else r["status"],
                "running": r["running"],
                "concurrency": r["concurrency"],
                "started_at": _iso(r["started_at"]),
                "last_heartbeat_at": _iso(beat),
            }
        )
    usage = await db.fetchrow("usage_totals") or {}
    pools = []
    for r in await db.fetch("rate_pools", {"since": now - WINDOW}):
        rpm, tpm = r["rpm"], r["tpm"]
        requests, tokens = int(r["window_requests"]), int(r["window_tokens"])
        pools.append(
            {
                "pool": r["pool_key"],
                "rpm": rpm,
                "tpm": tpm,
                "source": r["source"],
                "window_requests": requests,
                "window_tokens": tokens,
                "requests_used": round(requests / rpm, 3) if rpm else None,
                "tokens_used": round(tokens / tpm, 3) if tpm else None,
                "factor": round(
                    effective_factor(
                        float(r["factor"]), parse_timestamp(r["last_limited_at"]), now
                    ),
                    3,
                ),
            }
        )
    return {
        "generated_at": _iso(now),
        "database": redact_url(app.settings.database.url),
        "jobs": jobs,
        "totals": dict(sorted(totals.items())),
        "entities": [
            {
                "target_entity_type": r["target_entity_type"],
                "ai_status": r["ai_status"],
                "count": int(r["entities"]),
            }
            for r in await db.fetch("entity_status_counts")
        ],
        "oldest_claimable_age_s": round((now - oldest).total_seconds(), 1) if oldest else None,
        "pauses": pauses,
        "workers": workers,
        "usage": {
            "input_tokens": int(usage.get("input_tokens") or 0),
            "output_tokens": int(usage.get("output_tokens") or 0),
            "cost_usd": round(float(usage.get("cost_usd") or 0.0), 6),
        },
        "rate_limits": pools,
    }


def render(report: dict[str, Any], console: Console) -> None:
    """The snapshot as rich tables."""
    statuses = sorted(report["totals"])
    jobs = Table(title=f"Jobs — {report['database']}")
    jobs.add_column("task type")
    for status in statuses:
        jobs.add_column(status, justify="right")
    by_task: dict[str, Counter[str]] = {}
    for row in report["jobs"]:
        by_task.setdefault(row["task_type"], Counter())[row["status"]] += row["count"]
    for task, counts in sorted(by_task.items()):
        jobs.add_row(task, *(str(counts.get(s, 0)) for s in statuses))
    if by_task:
        jobs.add_row("[bold]total", *(f"[bold]{report['totals'][s]}" for s in statuses))
    console.print(jobs)
    age = report["oldest_claimable_age_s"]
    usage = report["usage"]
    console.print(
        f"oldest claimable job: {'none' if age is None else f'{age:.1f} s'}   "
        f"tokens: {usage['input_tokens']} in / {usage['output_tokens']} out   "
        f"cost: ${usage['cost_usd']:.4f}"
    )
    if report["pauses"]:
        pauses = Table(title="Pauses")
        for column in ("scope", "seconds left", "reason"):
            pauses.add_column(column)
        for p in report["pauses"]:
            pauses.add_row(p["scope"], f"{p['seconds_left']:.1f}", p["reason"])
        console.print(pauses)
    if report["rate_limits"]:
        pools = Table(title="Rate budgets (last minute)")
        for column in ("pool", "requests", "tokens", "factor", "limits from"):
            pools.add_column(column)
        for p in report["rate_limits"]:
            pools.add_row(
                p["pool"],
                _use(p["window_requests"], p["rpm"]),
                _use(p["window_tokens"], p["tpm"]),
                f"{p['factor']:.2f}",
                p["source"],
            )
        console.print(pools)
    if report["workers"]:
        workers = Table(title="Workers")
        for column in ("worker", "state", "running", "concurrency", "last heartbeat"):
            workers.add_column(column)
        for w in report["workers"]:
            workers.add_row(
                w["worker_id"],
                w["state"],
                str(w["running"]),
                str(w["concurrency"]),
                w["last_heartbeat_at"] or "",
            )
        console.print(workers)


def _use(used: int, limit: int | None) -> str:
    return f"{used} / {limit} ({used / limit:.0%})" if limit else f"{used} / no limit"
