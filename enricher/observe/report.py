"""``enricher status``: one snapshot of the queue, as data (``--json``) or tables.

The JSON shape is a contract for scripts: keys are only ever added. ``workers``
lists the running and lost workers and those stopped within the last day (older
stopped ones are only counted in ``worker_states``); ``usage`` sums the jobs still
stored, so ``prune`` lowers it.

```
{"generated_at": iso, "database": url,
 "jobs": [{"task_type", "status", "count"}], "totals": {status: count},
 "entities": [{"target_entity_type", "ai_status", "count"}],
 "oldest_claimable_age_s": float | null,
 "backlog": int,                 # active jobs: pending, retry_ai, rate_limited, processing, batched
 "groups": [{"job_group": str | null, "waiting", "running", "backlog": int}],
                                 # active jobs per job group (null: no group), the
                                 # GROUPS_SHOWN largest; waiting = claimable
 "throughput": {"completed_1m", "failed_1m", "completed_1h", "failed_1h": int,
                "jobs_per_minute": float},   # finished jobs; last minute, else last hour
 "throughput_chart": [{"minute": "YYYY-MM-DDTHH:MM", "completed", "failed": int}],
                                 # the last 60 minutes, oldest first, UTC
 "eta_s": float | null,          # backlog / jobs_per_minute; null when nothing finishes
 "pauses": [{"scope", "paused_until", "reason", "seconds_left"}],
 "schedules": [{"name", "cron", "sweep", "last_fire", "last_status", "next_fire"}],
 "workers": [{"worker_id", "hostname", "pid", "status", "state", "running",
              "concurrency", "started_at", "last_heartbeat_at", "stopped_at"}],
 "worker_states": {"running": int, "lost": int, "stopped": int},
 "usage": {"input_tokens", "output_tokens", "cost_usd",   # input_tokens: all input
           "cached_input_tokens", "cache_write_tokens",   # parts read from / written to
                                                          # the provider's prompt cache
           "cache_hit_share": float | null},  # cached / input of the jobs that record
                                              # cache counts; null when there are none
 "usage_today": {...},            # the same keys, for jobs finished since 00:00 UTC
 "totals_counted_at": iso,       # when jobs (terminal counts), entities and usage were
                                 # counted: now, except on a dashboard reusing them
 "rate_limits": [{"pool", "rpm", "tpm", "source", "window_requests", "window_tokens",
                  "requests_used", "tokens_used", "factor"}],
 "spend_caps": [{"scope", "period", "spent_usd", "cap_usd", "paused"}],  # [budget] caps
 "provider_batches": [{"batch_id", "provider_batch_id", "task_type", "provider", "model",
                       "status", "provider_status", "requests", "succeeded", "errored",
                       "expired", "cancelled", "estimated_cost_usd", "age_s"}]}
                                 # open provider batches (mode = "batch"), newest first,
                                 # the BATCHES_SHOWN newest
```
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Protocol

from cronsim import CronSim
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from enricher.clock import Clock, format_timestamp, parse_timestamp
from enricher.config import Settings
from enricher.db import Connector, store
from enricher.db.connector import redact_url
from enricher.db.errors import DatabaseError
from enricher.db.targets import TargetCatalogue
from enricher.status import ACTIVE_STATUSES
from enricher.throttle.budget import WINDOW, effective_factor
from enricher.throttle.spend import caps_of, period_bounds

#: Stopped workers older than this are counted, not listed.
STOPPED_SHOWN = timedelta(days=1)
#: Job groups listed by backlog size: the top of a long tail of tenants is what matters.
GROUPS_SHOWN = 20
#: Open provider batches listed, newest first (`enricher batches list` shows them all).
BATCHES_SHOWN = 20


class Enricher(Protocol):
    """What the report reads of an open :class:`enricher.app.Enricher`: named here, so
    observation stays below the app in the import graph."""

    @property
    def db(self) -> Connector: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def targets(self) -> TargetCatalogue: ...


def _when(value: Any) -> datetime:
    """A stored timestamp (always set where this is used) as a datetime."""
    when = parse_timestamp(value)
    assert when is not None
    return when


def _share(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


def _iso(value: Any) -> str | None:
    parsed = parse_timestamp(value)
    return format_timestamp(parsed) if parsed else None


async def collect_totals(app: Enricher) -> dict[str, Any]:
    """The part of the snapshot that reads the whole history: jobs per task and status
    (terminal ones included), entities per status, and tokens and cost in total and
    today. At a million jobs this is the slow part (a scan of an index or of the table),
    so ``enricher web`` computes it apart and may reuse it for a while; ``counted_at``
    says when it was taken."""
    db, now = app.db, app.clock()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "jobs": [
            {"task_type": r["task_type"], "status": r["status"], "count": int(r["jobs"])}
            for r in await store.reports.job_counts(db)
        ],
        "entities": [
            {
                "target_entity_type": target.target_entity_type,
                "ai_status": r["ai_status"],
                "count": int(r["entities"]),
            }
            for target in app.targets
            for r in await store.targets.status_counts(db, target)
        ],
        "usage": _usage(await store.reports.usage_totals(db) or {}),
        "usage_today": _usage(await store.reports.usage_since(db, since=midnight) or {}),
        "counted_at": _iso(now),
    }


async def collect(app: Enricher, totals: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything ``status`` shows, as JSON-ready data.

    ``totals`` is a :func:`collect_totals` taken earlier (the dashboard's, reused while
    counting the history is slow); by default it is taken now. Active jobs are counted
    afresh either way, from the status index, so the backlog is always exact.
    """
    db, now = app.db, app.clock()
    if totals is None:
        totals = await collect_totals(app)
    active = [
        {"task_type": r["task_type"], "status": r["status"], "count": int(r["jobs"])}
        for r in await store.reports.active_job_counts(db)
    ]
    jobs = sorted(
        [row for row in totals["jobs"] if row["status"] not in ACTIVE_STATUSES] + active,
        key=lambda row: (row["task_type"], row["status"]),
    )
    totals_by_status: Counter[str] = Counter()
    for row in jobs:
        totals_by_status[row["status"]] += row["count"]
    oldest = parse_timestamp(
        (await store.reports.oldest_claimable(db, now=now) or {}).get("oldest")
    )
    pauses = []
    for r in await store.pauses.active(db, now=now):
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
    workers, states = await _workers(app, now)
    backlog = sum(count for status, count in totals_by_status.items() if status in ACTIVE_STATUSES)
    throughput = await _throughput(app, now)
    rate = throughput["jobs_per_minute"]
    pools = []
    for r in await store.limits.pools(db, since=now - WINDOW):
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
        "totals": dict(sorted(totals_by_status.items())),
        "entities": totals["entities"],
        "oldest_claimable_age_s": round((now - oldest).total_seconds(), 1) if oldest else None,
        "backlog": backlog,
        "groups": [
            {
                "job_group": r["job_group"],
                "waiting": int(r["waiting"]),
                "running": int(r["running"]),
                "backlog": int(r["waiting"]) + int(r["running"]),
            }
            for r in await store.reports.group_backlog(db, limit=GROUPS_SHOWN)
        ],
        "throughput": throughput,
        "throughput_chart": await _per_minute(app, now),
        "eta_s": round(backlog / rate * 60, 1) if backlog and rate else None,
        "pauses": pauses,
        "schedules": await _schedules(app, now),
        "workers": workers,
        "worker_states": states,
        "usage": totals["usage"],
        "usage_today": totals["usage_today"],
        "totals_counted_at": totals["counted_at"],
        "rate_limits": pools,
        "spend_caps": await _spend_caps(app, now, {p["scope"] for p in pauses}),
        "provider_batches": await _open_batches(app, now),
    }


async def _open_batches(app: Enricher, now: datetime) -> list[dict[str, Any]]:
    """The provider batches still open, with their counts and age (docs/architecture.md,
    "The batch lane")."""
    rows = await store.batches.list_batches(app.db, open_only=True, limit=BATCHES_SHOWN)
    return [
        {
            "batch_id": str(r["batch_id"]),
            "provider_batch_id": r["provider_batch_id"],
            "task_type": r["task_type"],
            "provider": r["provider"],
            "model": r["model"],
            "status": r["status"],
            "provider_status": r["provider_status"],
            "requests": int(r["request_count"]),
            "succeeded": int(r["succeeded_count"]),
            "errored": int(r["errored_count"]),
            "expired": int(r["expired_count"]),
            "cancelled": int(r["cancelled_count"]),
            "estimated_cost_usd": r["estimated_cost_usd"],
            "age_s": round((now - _when(r["created_at"])).total_seconds(), 1),
        }
        for r in rows
    ]


def _usage(totals: dict[str, Any]) -> dict[str, Any]:
    """Token and cost totals, and the share of input the providers' prompt caches served.

    The share's denominator is the input of the jobs that recorded their cache counts:
    jobs stored before enricher counted cache tokens would otherwise dilute it.
    """
    counted = int(totals.get("cache_counted_input_tokens") or 0)
    cached = int(totals.get("cached_input_tokens") or 0)
    return {
        "input_tokens": int(totals.get("input_tokens") or 0),
        "output_tokens": int(totals.get("output_tokens") or 0),
        "cost_usd": round(float(totals.get("cost_usd") or 0.0), 6),
        "cached_input_tokens": cached,
        "cache_write_tokens": int(totals.get("cache_write_tokens") or 0),
        "cache_hit_share": round(cached / counted, 4) if counted else None,
    }


async def _spend_caps(app: Enricher, now: datetime, paused: set[str]) -> list[dict[str, Any]]:
    """Each configured spend cap with its period's spend so far (README, "Spend caps")."""
    caps = caps_of(app.settings.budget)
    spent: dict[str, dict[str, float]] = {}
    for period in sorted({cap.period for cap in caps}):
        start, end = period_bounds(now, period)
        rows = await store.pauses.spend_by_provider(app.db, since=start, until=end)
        spent[period] = {str(r["provider"]): float(r["cost_usd"] or 0) for r in rows}
    return [
        {
            "scope": cap.scope,
            "period": cap.period,
            "spent_usd": round(
                sum(spent[cap.period].values())
                if cap.provider is None
                else spent[cap.period].get(cap.provider, 0.0),
                6,
            ),
            "cap_usd": cap.limit_usd,
            "paused": cap.scope in paused,
        }
        for cap in caps
    ]


async def _schedules(app: Enricher, now: datetime) -> list[dict[str, Any]]:
    """Each configured schedule with its latest fire (and how it ended) and its next."""
    last = {r["schedule_name"]: r for r in await store.schedules.last_runs(app.db)}
    return [
        {
            "name": s.name,
            "cron": s.cron,
            "sweep": s.sweep,
            "last_fire": _iso(last[s.name]["fire_time"]) if s.name in last else None,
            "last_status": last[s.name]["status"] if s.name in last else None,
            "next_fire": format_timestamp(next(CronSim(s.cron, now))),
        }
        for s in app.settings.schedules
    ]


async def _workers(app: Enricher, now: datetime) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Workers with their state: a running one whose heartbeat is older than the lock
    timeout is ``lost`` (its jobs are being, or will be, reclaimed)."""
    workers, states = [], Counter({"running": 0, "lost": 0, "stopped": 0})
    for r in await store.workers.list_all(app.db):
        beat = parse_timestamp(r["last_heartbeat_at"])
        lost = (
            r["status"] == "running"
            and beat is not None
            and (now - beat).total_seconds() > app.settings.worker.lock_timeout_s
        )
        state = "lost" if lost else str(r["status"])
        states[state] += 1
        stopped_at = parse_timestamp(r["stopped_at"])
        if state == "stopped" and (stopped_at is None or now - stopped_at > STOPPED_SHOWN):
            continue
        workers.append(
            {
                "worker_id": r["worker_id"],
                "hostname": r["hostname"],
                "pid": r["pid"],
                "status": r["status"],
                "state": state,
                "running": r["running"],
                "concurrency": r["concurrency"],
                "started_at": _iso(r["started_at"]),
                "last_heartbeat_at": _iso(beat),
                "stopped_at": _iso(stopped_at),
            }
        )
    return workers, dict(states)


async def _throughput(app: Enricher, now: datetime) -> dict[str, Any]:
    """Jobs finished in the last minute and hour, and the pace the ETA divides by: the
    last minute's when anything finished in it, else the last hour's average."""
    row = await store.reports.finished_counts(
        app.db, minute=now - timedelta(minutes=1), hour=now - timedelta(hours=1)
    )
    counts = {k: int((row or {}).get(k) or 0) for k in _THROUGHPUT_KEYS}
    last_minute = counts["completed_1m"] + counts["failed_1m"]
    per_minute = last_minute or (counts["completed_1h"] + counts["failed_1h"]) / 60
    return {**counts, "jobs_per_minute": round(float(per_minute), 2)}


_THROUGHPUT_KEYS = ("completed_1m", "failed_1m", "completed_1h", "failed_1h")

#: Minutes in the throughput chart.
CHART_MINUTES = 60


async def _per_minute(app: Enricher, now: datetime) -> list[dict[str, Any]]:
    """Jobs completed and failed in each of the last 60 whole minutes and the current
    one, oldest first, zeros included (a chart needs its gaps)."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=CHART_MINUTES)
    rows = await store.reports.finished_per_minute(app.db, since=start)
    counts = {str(r["minute"]): r for r in rows}
    series = []
    for step in range(1, CHART_MINUTES + 1):
        key = (start + timedelta(minutes=step)).strftime("%Y-%m-%dT%H:%M")
        row = counts.get(key) or {}
        series.append(
            {
                "minute": key,
                "completed": int(row.get("completed") or 0),
                "failed": int(row.get("failed") or 0),
            }
        )
    return series


def render(report: dict[str, Any], console: Console) -> None:
    """The snapshot as rich tables."""
    console.print(renderable(report))


async def watch_live(app: Enricher, console: Console, interval: float) -> None:
    """``status --watch``: collect and redraw every ``interval`` seconds until cancelled.

    A database hiccup is shown in place of the tables and retried at the next tick,
    so a watch left open through a server restart recovers on its own.
    """
    with Live(console=console, auto_refresh=False, screen=False) as live:
        while True:
            try:
                view: RenderableType = renderable(await collect(app))
            except DatabaseError as exc:
                view = Text(f"database unavailable: {exc}; retrying", style="red")
            live.update(view, refresh=True)
            await asyncio.sleep(interval)


def renderable(report: dict[str, Any]) -> RenderableType:
    """The snapshot as one rich renderable (printed once, or refreshed by ``--watch``)."""
    parts: list[RenderableType] = []
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
    parts.append(jobs)
    age = report["oldest_claimable_age_s"]
    usage = report["usage"]
    pace = report["throughput"]
    eta = report["eta_s"]
    parts.append(
        Text(
            f"backlog: {report['backlog']}   "
            f"oldest claimable job: {'none' if age is None else f'{age:.1f} s'}   "
            f"ETA: {duration_text(eta) if eta is not None else '-'}\n"
            f"finished: {pace['completed_1m']} completed / {pace['failed_1m']} failed in the"
            f" last minute, {pace['completed_1h']} / {pace['failed_1h']} in the last hour"
            f" ({pace['jobs_per_minute']:.1f} jobs/min)\n"
            f"tokens: {usage['input_tokens']} in / {usage['output_tokens']} out   "
            f"prompt cache: {_share(usage['cache_hit_share'])} of input read from it, "
            f"{usage['cache_write_tokens']} tokens written   "
            f"cost: ${usage['cost_usd']:.4f}"
        )
    )
    groups = report.get("groups") or []
    if any(g["job_group"] is not None for g in groups):  # only once groups are in use
        table = Table(title=f"Backlog by group (largest {GROUPS_SHOWN})")
        table.add_column("group")
        table.add_column("waiting", justify="right")
        table.add_column("running", justify="right")
        for g in groups:
            name = "(none)" if g["job_group"] is None else g["job_group"]
            table.add_row(Text(name), str(g["waiting"]), str(g["running"]))
        parts.append(table)
    if report["schedules"]:
        schedules = Table(title="Schedules")
        for column in ("schedule", "cron", "sweep", "last run", "status", "next run"):
            schedules.add_column(column)
        for s in report["schedules"]:
            schedules.add_row(
                s["name"],
                s["cron"],
                ", ".join(s["sweep"]),
                s["last_fire"] or "never",
                s["last_status"] or "-",
                s["next_fire"],
            )
        parts.append(schedules)
    if report["pauses"]:
        pauses = Table(title="Pauses")
        for column in ("scope", "seconds left", "reason"):
            pauses.add_column(column)
        for p in report["pauses"]:
            pauses.add_row(p["scope"], f"{p['seconds_left']:.1f}", p["reason"])
        parts.append(pauses)
    if report["spend_caps"]:
        caps = Table(title="Spend caps")
        for column in ("scope", "period", "spent", "cap", "state"):
            caps.add_column(column)
        for c in report["spend_caps"]:
            caps.add_row(
                c["scope"],
                c["period"],
                f"${c['spent_usd']:.4f}",
                f"${c['cap_usd']:g}",
                "[bold red]paused: cap reached" if c["paused"] else "open",
            )
        parts.append(caps)
    if report.get("provider_batches"):
        batches = Table(title="Open provider batches (enricher batches list)")
        for column in ("batch", "task", "provider", "status", "requests", "done", "age"):
            batches.add_column(column)
        for b in report["provider_batches"]:
            done = b["succeeded"] + b["errored"]
            status = b["status"] + (f" ({b['provider_status']})" if b["provider_status"] else "")
            batches.add_row(
                b["batch_id"][:8],
                Text(b["task_type"]),
                Text(f"{b['provider']}:{b['model']}"),
                Text(status),
                str(b["requests"]),
                f"{done}/{b['requests']}",
                duration_text(b["age_s"]),
            )
        parts.append(batches)
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
        parts.append(pools)
    states = report["worker_states"]
    if report["workers"] or any(states.values()):
        workers = Table(
            title=f"Workers — {states['running']} running, {states['lost']} lost,"
            f" {states['stopped']} stopped"
        )
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
        parts.append(workers)
    return Group(*parts)


def _use(used: int, limit: int | None) -> str:
    return f"{used} / {limit} ({used / limit:.0%})" if limit else f"{used} / no limit"


def duration_text(seconds: float) -> str:
    """1h 02m, 3m 05s, 42s: an ETA is read at a glance."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
