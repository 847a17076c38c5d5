"""``enricher demo``: the whole pipeline on the bundled sample project, offline.

It ignores ``ENRICHER_*`` overrides on purpose: the demo is the embedded default
(SQLite + the ``local`` provider) whatever the shell it runs in is set up for.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from enricher.app import Enricher
from enricher.config import Settings, embedded_settings
from enricher.db import store
from enricher.ingest.entities import ingest
from enricher.observe.logs import configure_logging
from enricher.observe.report import collect, render
from enricher.worker.loop import Worker


def demo_settings(directory: Path, concurrency: int) -> Settings:
    return embedded_settings(
        directory / "demo.db", concurrency=concurrency, poll_interval_s=0.5, heartbeat_s=2.0
    )


async def run_demo(directory: Path | None, concurrency: int, console: Console) -> bool:
    """Ingest, drain in burst mode with a progress bar, show results; True when all enriched."""
    configure_logging("warning")
    folder = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="enricher-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "demo.db").unlink(missing_ok=True)
    console.print(f"[bold]enricher demo[/bold] — database {folder / 'demo.db'}")
    async with await Enricher.open(demo_settings(folder, concurrency)) as app:
        with resources.as_file(resources.files("enricher.demo").joinpath("corpus")) as corpus:
            report = await ingest(app, [corpus], root=corpus)
        created = report.jobs.get("created", 0)
        console.print(
            "ingested "
            + ", ".join(f"{n} {t}" for t, n in sorted(report.entities.items()))
            + f"; {created} jobs enqueued"
        )
        await _drain(app, created, console)
        snapshot = await collect(app)
        render(snapshot, console)
        await _samples(app, console)
        missing = await store.reports.unenriched_entities(app.db)
    if missing:
        console.print(f"[red]{len(missing)} entities were not enriched:[/red] {missing[:5]}")
        return False
    console.print("[green]every entity enriched.[/green]")
    return True


async def _drain(app: Enricher, total: int, console: Console) -> None:
    worker = Worker(app, burst=True, worker_id="demo-worker")
    columns = (TextColumn("enriching"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("jobs", total=total)
        run = asyncio.create_task(worker.run())
        while not run.done():
            await asyncio.wait({run}, timeout=0.1)
            progress.update(bar, completed=sum(worker.stats.verdicts.values()))
        await run
        progress.update(bar, completed=sum(worker.stats.verdicts.values()))


async def _samples(app: Enricher, console: Console) -> None:
    table = Table(title="Sample results", show_lines=True)
    for column in ("entity", "summary", "keywords"):
        table.add_column(column, overflow="fold")
    for row in await store.reports.sample_code_entities(app.db, limit=3):
        table.add_row(row["entity_id"], row["summary"], ", ".join(json.loads(row["keywords"])))
    for row in await store.reports.sample_documents(app.db, limit=2):
        table.add_row(row["document_id"], row["summary"], ", ".join(json.loads(row["keywords"])))
    for row in await store.reports.sample_topics(app.db, limit=3):
        table.add_row(
            escape(f"{row['conversation_id']} [{row['purpose_tag']}]"),
            row["summary"],
            ", ".join(json.loads(row["keywords"])),
        )
    console.print(table)
