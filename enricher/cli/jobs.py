"""``enricher jobs list / show / retry / cancel`` and ``enricher prune``: operating the queue.

The commands stay thin: each calls one :class:`~enricher.app.Enricher` method and
renders its answer, as rich tables or, with ``--json``, as JSON on stdout.

JSON shapes (a contract for scripts: keys are only ever added)::

    jobs list --json    [job, ...]                          newest first
    jobs show ID --json {"job": job, "target": entity | null, "error_history": [entry, ...]}
    jobs retry --json   {"redriven": [job_id, ...], "skipped": [{"job_id", "reason"}, ...]}
    jobs cancel --json  {"job_id", "was": status, "running": bool}
    prune --json        {"deleted": n, "before": iso, "older_than_s": float, "statuses": [...]}

    job     every column of background_ai_jobs under its own name: job_id, task_type,
            target_entity_type, target_entity_id, status, payload, priority, attempts,
            max_attempts, run_after, locked_by, locked_at, last_attempted_at,
            completed_at, created_at, updated_at, error_message, result, provider,
            model, input_tokens, output_tokens, cost_usd, error_history,
            cached_input_tokens, cache_write_tokens (parts of input_tokens, which is
            all input), and any column a later migration adds. Timestamps are ISO-8601 UTC text
            ("2026-01-31T12:00:00.000Z") or null; payload, result and error_history
            are parsed JSON or null (a payload that is not valid JSON stays its raw
            text; a job's error_history column is null until its first error).
    entry   {"at": iso, "attempt": int, "status": str, "error": str}, oldest first,
            the last 20 errors; the top-level "error_history" is [] when there are none.
    entity  every column of the target's row in code_entities, project_documents or
            conversations, same conventions (keywords parsed, raw_content whole);
            null for a custom target type or a target row that no longer exists.

Exit codes: 2 when the request cannot be carried out as asked, with one
line on stderr: an unknown or malformed job id, a bad duration or status, retrying a
job that is completed, active or superseded, cancelling a job that already ended.
1 stays reserved for the unexpected. ``retry ID --json`` still prints its report
before exiting 2. A ``retry --status`` batch that skips some jobs exits 0: skips are
part of its report.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from enricher.cli.common import (
    JsonFlag,
    cell_text,
    console,
    existing_app,
    fail,
    print_json,
    run_request,
)
from enricher.clock import format_timestamp
from enricher.durations import parse_duration
from enricher.errors import RequestError
from enricher.ids import MIN_PREFIX
from enricher.queue.redrive import RedriveReport
from enricher.queue.views import JobDetails, is_job_reference
from enricher.status import prune_statuses

T = TypeVar("T")

#: Characters of raw_content the table view shows; --json shows it whole.
PREVIEW_CHARS = 400
#: Characters of an error message in the list view.
ERROR_CHARS = 60

StatusOption = Annotated[
    list[str] | None, typer.Option("--status", help="Only this status (repeatable).")
]
TaskOption = Annotated[str | None, typer.Option("--task", help="Only this task type.")]
TargetTypeOption = Annotated[
    str | None, typer.Option("--target-type", help="Only this target entity type.")
]

jobs_app = typer.Typer(
    name="jobs", no_args_is_help=True, help="Inspect and act on jobs: list, show, retry, cancel."
)

#: The argument naming one job: a whole id, or a unique prefix such as ``1f0c``.
JobIdArgument = Annotated[
    str,
    typer.Argument(
        help=f"The job's id, or a unique prefix of it (at least {MIN_PREFIX} hex characters)."
    ),
]


def _check_reference(job_id: str) -> None:
    """Refuse text that can name no job before opening the database."""
    if not is_job_reference(job_id):
        fail(
            f"{job_id!r} is not a job id (job ids are UUIDs; a prefix needs at least "
            f"{MIN_PREFIX} hex characters)"
        )


@jobs_app.command("list")
def list_command(
    status: StatusOption = None,
    task: TaskOption = None,
    target_type: TargetTypeOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many jobs.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List jobs, newest first."""
    opener = existing_app()

    async def go() -> list[dict[str, Any]]:
        async with await opener() as app:
            return await app.list_jobs(
                statuses=status, task_type=task, target_entity_type=target_type, limit=limit
            )

    jobs = run_request(go)
    if as_json:
        print_json(jobs)
        return
    table = Table(title=f"{len(jobs)} job(s), newest first")
    for column in ("job_id", "task", "target", "status", "tries", "updated", "error"):
        table.add_column(column, no_wrap=column in {"job_id", "status"}, overflow="fold")
    for job in jobs:
        error = job.get("error_message") or ""
        table.add_row(
            *map(
                Text,
                (
                    str(job["job_id"]),
                    job["task_type"],
                    f"{job['target_entity_type']}:{job['target_entity_id']}",
                    job["status"],
                    f"{job['attempts']}/{job['max_attempts'] or '-'}",
                    cell_text(job.get("updated_at")),
                    error if len(error) <= ERROR_CHARS else error[: ERROR_CHARS - 1] + "…",
                ),
            )
        )
    console().print(table)


@jobs_app.command("show")
def show_command(job_id: JobIdArgument, as_json: JsonFlag = False) -> None:
    """Everything stored on a job, its target entity and its error history."""
    _check_reference(job_id)
    opener = existing_app()

    async def go() -> JobDetails | None:
        async with await opener() as app:
            return await app.job_details(await app.resolve_job_id(job_id))

    details = run_request(go)
    if details is None:
        fail(f"no job {job_id}")
    if as_json:
        print_json(
            {"job": details.job, "target": details.target, "error_history": details.error_history}
        )
        return
    _render_details(details, console())


def _render_details(details: JobDetails, console: Console) -> None:
    job = details.job
    table = Table(title=f"job {job['job_id']}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in job.items():
        if key != "error_history":
            table.add_row(key, Text(cell_text(value)))
    console.print(table)

    target_name = f"{job['target_entity_type']} {job['target_entity_id']}"
    if details.target is None:
        console.print(f"target {target_name}: no row (a custom target type, or deleted)")
    else:
        entity = Table(title=f"target {target_name}", show_header=False)
        entity.add_column("field", style="bold")
        entity.add_column("value", overflow="fold")
        for key, value in details.target.items():
            text = cell_text(value)
            if key == "raw_content" and len(text) > PREVIEW_CHARS:
                more = len(text) - PREVIEW_CHARS
                text = f"{text[:PREVIEW_CHARS]}… ({more} more characters; --json shows all)"
            entity.add_row(key, Text(text))
        console.print(entity)

    if not details.error_history:
        console.print("error history: none")
        return
    history = Table(title=f"error history ({len(details.error_history)}, oldest first)")
    for column in ("at", "attempt", "status", "error"):
        history.add_column(column, overflow="fold")
    for entry in details.error_history:
        history.add_row(
            *(Text(cell_text(entry.get(key))) for key in ("at", "attempt", "status", "error"))
        )
    console.print(history)


@jobs_app.command("retry")
def retry_command(
    job_id: Annotated[
        str | None,
        typer.Argument(help=f"One job to retry: its id, or a unique prefix ({MIN_PREFIX}+ hex)."),
    ] = None,
    status: StatusOption = None,
    task: TaskOption = None,
    target_type: TargetTypeOption = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many jobs.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Redrive failed or cancelled jobs: back to pending, attempts reset, due now.

    Name one job, or select by --status (failed_ai, failed_payload_parsing,
    failed_job_logic, cancelled) and optionally --task, --target-type, --limit.
    """
    if job_id is not None and (status or task or target_type or limit):
        fail("give either a job id or filters (--status, --task, --target-type, --limit)")
    if job_id is None and not status:
        fail("name a job id, or give --status failed_ai (or another failed status, cancelled)")
    if job_id is not None:
        _check_reference(job_id)
    opener = existing_app()

    async def go() -> RedriveReport:
        async with await opener() as app:
            return await app.retry_jobs(
                [await app.resolve_job_id(job_id)] if job_id is not None else None,
                statuses=status,
                task_type=task,
                target_entity_type=target_type,
                limit=limit,
            )

    report = run_request(go)
    if job_id is not None and report.skipped:
        reason = report.skipped[0].reason
        if reason == "no such job":
            fail(f"no job {job_id}")
        if as_json:
            print_json(report.as_json())
        fail(f"job {job_id} not retried: {reason}")
    if as_json:
        print_json(report.as_json())
        return
    print(f"redriven {len(report.redriven)} job(s); skipped {len(report.skipped)}")
    for job in report.redriven:
        print(f"  redriven {job}")
    for skip in report.skipped:
        print(f"  skipped {skip.job_id}: {skip.reason}")


@jobs_app.command("cancel")
def cancel_command(job_id: JobIdArgument, as_json: JsonFlag = False) -> None:
    """Cancel a queued or running job (a running one is stopped by its worker)."""
    _check_reference(job_id)
    opener = existing_app()

    async def go() -> tuple[str, str | None, bool, str | None]:
        async with await opener() as app:
            canonical = await app.resolve_job_id(job_id)
            before = await app.get_job(canonical)
            if before is None:
                return canonical, None, False, None
            cancelled = await app.cancel(canonical)
            after = await app.get_job(canonical)
            return canonical, before["status"], cancelled, after["status"] if after else None

    canonical, was, cancelled, now_status = run_request(go)
    if was is None:
        fail(f"no job {job_id}")
    if not cancelled:
        fail(f"job {canonical} is already {now_status or was}: nothing to cancel")
    running = was == "processing"
    if as_json:
        print_json({"job_id": canonical, "was": was, "running": running})
    elif running:
        print(f"cancelled {canonical} (running: its worker stops it within seconds)")
    else:
        print(f"cancelled {canonical} (queued as {was}: it will not run)")


def prune_command(
    older_than: Annotated[
        str,
        typer.Option("--older-than", help="Age since the last update: 30s, 15m, 12h, 7d, 2w."),
    ],
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="Only this terminal status (repeatable; default: all terminal)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Delete terminal jobs (completed, failed_*, cancelled) not updated for --older-than."""
    try:
        age = parse_duration(older_than)
        statuses = prune_statuses(status)
    except RequestError as exc:
        fail(str(exc))
    opener = existing_app()

    async def go() -> tuple[int, datetime]:
        async with await opener() as app:
            now = app.clock()
            deleted = await app.prune(older_than=age, statuses=statuses, now=now)
            return deleted, now - age

    deleted, before = run_request(go)
    if as_json:
        print_json(
            {
                "deleted": deleted,
                "before": before,
                "older_than_s": age.total_seconds(),
                "statuses": list(statuses),
            }
        )
        return
    print(
        f"pruned {deleted} job(s) ({', '.join(statuses)}) "
        f"not updated since {format_timestamp(before)}"
    )
