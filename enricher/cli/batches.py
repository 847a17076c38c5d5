"""``enricher batches list / show / cancel``: the provider batches of the batch lane.

Thin, as the ``jobs`` commands: each calls one :class:`~enricher.app.Enricher` method
and renders its answer as a rich table or, with ``--json``, as JSON on stdout.

JSON shapes (keys are only ever added)::

    batches list --json     [batch, ...]                       newest first
    batches show ID --json  {"batch": batch, "jobs": {status: count}}
    batches cancel ID --json  batch                            as it is after the cancel

    batch   every column of ai_provider_batches: batch_id, task_type, provider, model,
            base_url, provider_batch_id, input_file_id, output_file_id, error_file_id,
            status (preparing, submitted, cancelling, ended, failed), provider_status,
            request_count, succeeded_count, errored_count, expired_count,
            cancelled_count, estimated_cost_usd, created_by, polled_by, next_poll_at,
            error, created_at, submitted_at, ended_at, updated_at (ISO-8601 UTC or null).

ID is enricher's batch id, a unique prefix of it (at least 4 hex characters), or the
provider's batch id. An unknown or ambiguous ID, a batch still being submitted or
already ended, and a provider that refuses the cancel exit 2 with one line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from enricher.cli.common import JsonFlag, cell_text, console, existing_app, print_json, run_request
from enricher.clock import parse_timestamp
from enricher.observe.report import duration_text

if TYPE_CHECKING:
    from enricher.db import Row
    from enricher.queue.provider_batches import BatchDetails

batches_app = typer.Typer(
    name="batches",
    no_args_is_help=True,
    help='Provider batches (mode = "batch"): list, show, cancel.',
)

BatchArgument = Annotated[
    str,
    typer.Argument(help="enricher's batch id (or a unique prefix), or the provider's batch id."),
]


@batches_app.command("list")
def list_command(
    open_only: Annotated[
        bool, typer.Option("--open", help="Only batches still open at the provider.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many batches.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List provider batches, newest first."""
    opener = existing_app()

    async def go() -> list[Row]:
        async with await opener() as app:
            return await app.list_batches(open_only=open_only, limit=limit)

    batches = run_request(go)
    if as_json:
        print_json([dict(batch) for batch in batches])
        return
    table = Table(title=f"{len(batches)} provider batch(es), newest first")
    columns = ("batch_id", "task", "provider", "status", "requests", "done", "age", "cost")
    for column in columns:
        table.add_column(column, no_wrap=column in {"batch_id", "status"}, overflow="fold")
    now = datetime.now(UTC)
    for batch in batches:
        table.add_row(
            *map(
                Text,
                (
                    str(batch["batch_id"]),
                    str(batch["task_type"]),
                    f"{batch['provider']}:{batch['model']}",
                    _status(batch),
                    str(batch["request_count"]),
                    _done(batch),
                    _age(batch.get("created_at"), now),
                    _cost(batch.get("estimated_cost_usd")),
                ),
            )
        )
    console().print(table)


@batches_app.command("show")
def show_command(batch: BatchArgument, as_json: JsonFlag = False) -> None:
    """Everything stored on a provider batch, and its jobs by status."""
    opener = existing_app()

    async def go() -> BatchDetails:
        async with await opener() as app:
            return await app.batch_details(batch)

    details = run_request(go)
    if as_json:
        print_json({"batch": dict(details.batch), "jobs": details.jobs})
        return
    table = Table(title=f"provider batch {details.batch['batch_id']}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in details.batch.items():
        table.add_row(key, Text(cell_text(value)))
    for status, count in sorted(details.jobs.items()):
        table.add_row(f"jobs {status}", Text(str(count)))
    console().print(table)


@batches_app.command("cancel")
def cancel_command(batch: BatchArgument, as_json: JsonFlag = False) -> None:
    """Cancel a submitted batch at the provider. What it finished is still applied; its
    jobs that never ran end cancelled (`enricher jobs retry --status cancelled` sends
    them again)."""
    opener = existing_app()

    async def go() -> Row:
        async with await opener() as app:
            return await app.cancel_batch(batch)

    row = run_request(go)
    if as_json:
        print_json(dict(row))
        return
    print(
        f"cancelling batch {row['batch_id']} ({row['provider']} {row['provider_batch_id']}): "
        "the workers apply what it finished, and cancel its other jobs"
    )


def _status(batch: Row) -> str:
    provider = batch.get("provider_status")
    return f"{batch['status']} ({provider})" if provider else str(batch["status"])


def _done(batch: Row) -> str:
    keys = ("succeeded_count", "errored_count", "expired_count", "cancelled_count")
    ok, errored, expired, cancelled = (int(batch.get(key) or 0) for key in keys)
    return f"{ok} ok, {errored} errored, {expired + cancelled} unsent"


def _age(created: Any, now: datetime) -> str:
    when = parse_timestamp(created)
    return "-" if when is None else duration_text((now - when).total_seconds())


def _cost(value: Any) -> str:
    return "-" if value is None else f"${float(value):.4f}"
