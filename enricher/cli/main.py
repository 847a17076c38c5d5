"""``enricher``: the console script (its commands are listed in the README).

Exit codes: 0 success; 2 bad usage, bad config or an unreachable database, with
one line naming what is wrong; 1 anything unexpected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from enricher.cli.batches import batches_app
from enricher.cli.common import fail, run_async, settings, state
from enricher.cli.jobs import jobs_app, prune_command
from enricher.clock import parse_timestamp
from enricher.errors import RequestError
from enricher.observe.logs import configure_logging

T = TypeVar("T")

cli = typer.Typer(
    name="enricher",
    no_args_is_help=True,
    add_completion=False,
    help="AI enrichment job manager: summaries, keywords and topics for code, docs and chats.",
)


@cli.callback()
def _global(
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            envvar="ENRICHER_CONFIG",
            help="Config file (default ./enricher.toml when present).",
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
) -> None:
    state.config = config
    if log_level.lower() not in {"debug", "info", "warning", "error", "critical"}:
        fail(f"invalid --log-level {log_level!r}: use debug, info, warning or error")
    configure_logging(log_level)


@cli.command()
def migrate() -> None:
    """Create or upgrade the schema (safe to run again)."""
    from enricher.app import Enricher

    cfg = settings()

    async def go() -> None:
        app = await Enricher.open(cfg, migrate=False)
        async with app:
            report = await app.migrate()
        applied = ", ".join(report.applied) or "nothing to apply"
        print(f"schema at version {report.current_version} ({applied})")

    run_async(go)


@cli.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    force: Annotated[bool, typer.Option(help="Enqueue even when content is unchanged.")] = False,
    follow_symlinks: Annotated[
        bool,
        typer.Option(
            "--follow-symlinks",
            help="Also ingest symlinks whose target is outside the given paths.",
        ),
    ] = False,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="Folder ids are relative to (default: the current folder); "
            "every path must be inside it.",
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group",
            help="The job group (a tenant, repository or project): workers share "
            "their slots fairly between groups.",
        ),
    ] = None,
) -> None:
    """Store files as code entities, documents and conversations, and enqueue them.

    Ids are paths relative to --root (default: the current folder), so `ingest src/`
    stores src/app.py::main. Symlinks out of the given paths, and empty or undecodable
    files, are skipped and listed, unless --follow-symlinks (for symlinks).
    """
    from enricher.app import Enricher
    from enricher.ingest.entities import ingest as ingest_paths
    from enricher.ingest.sources import IngestPathError, check_inside

    for path in paths:
        if not path.exists():
            fail(f"path {path} does not exist")
    if root is not None and not root.is_dir():
        fail(f"--root {root} is not a folder")
    if group is not None and not group.strip():
        fail("--group must not be blank")
    try:  # before the database is opened: a refused ingest touches nothing
        check_inside(paths, root or Path.cwd())
    except IngestPathError as exc:
        fail(str(exc))
    cfg = settings()

    async def go() -> None:
        async with await Enricher.open(cfg) as app:
            try:
                report = await ingest_paths(
                    app,
                    paths,
                    root=root,
                    force=force,
                    follow_symlinks=follow_symlinks,
                    group=group,
                )
            except IngestPathError as exc:
                fail(str(exc))
        entities = ", ".join(f"{n} {t}" for t, n in sorted(report.entities.items())) or "none"
        jobs = ", ".join(f"{n} {o}" for o, n in sorted(report.jobs.items())) or "none"
        print(f"entities: {entities}; jobs: {jobs}")
        for path, reason in report.skipped_files:
            print(f"skipped {path}: {reason}", file=sys.stderr)

    run_async(go)


@cli.command()
def enqueue(
    task: Annotated[str, typer.Option("--task", help="Task type.")],
    target_type: Annotated[str, typer.Option("--target-type", help="Target entity type.")],
    target_id: Annotated[str, typer.Option("--target-id", help="Target entity id.")],
    payload: Annotated[str | None, typer.Option(help="JSON options for the task.")] = None,
    priority: Annotated[int, typer.Option(help="Higher runs first.")] = 0,
    run_at: Annotated[str | None, typer.Option("--run-at", help="ISO time; not before.")] = None,
    force: Annotated[bool, typer.Option(help="Enqueue even when content is unchanged.")] = False,
    group: Annotated[
        str | None,
        typer.Option(
            "--group",
            help="The job group (a tenant, repository or project): workers share "
            "their slots fairly between groups.",
        ),
    ] = None,
) -> None:
    """Enqueue one job and print its id."""
    from enricher.app import Enricher

    when: datetime | None = None
    if run_at:
        try:
            when = parse_timestamp(run_at)
        except ValueError:
            fail(f"invalid --run-at {run_at!r}: use an ISO-8601 time such as 2030-01-31T12:00:00Z")
    cfg = settings()

    async def go() -> None:
        async with await Enricher.open(cfg) as app:
            result = await app.enqueue(
                task,
                target_type,
                target_id,
                payload=payload,
                priority=priority,
                run_at=when,
                force=force,
                group=group,
            )
        if result.outcome == "skipped":
            print(
                f"skipped: {target_type} {target_id} is unchanged since its last enrichment "
                "(use --force)",
                file=sys.stderr,
            )
        elif result.outcome == "existing":
            print(f"{result.job_id}")
            print("an active job already exists for this target; returned it", file=sys.stderr)
        else:
            print(f"{result.job_id}")

    run_async(go)


@cli.command()
def sweep(
    target_types: Annotated[
        list[str] | None,
        typer.Option("--target-type", help="A target type to sweep (repeat; default: all)."),
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", help="Only this task (default: each the type has).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most this many per type and task.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what changed; enqueue nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Enqueue every entity whose content changed since its last successful enrichment,
    or that was never enriched."""
    from enricher.app import Enricher

    cfg = settings()

    async def go() -> list[dict[str, Any]]:
        async with await Enricher.open(cfg) as app:
            counts = await app.sweep(
                target_types or (), task_type=task, limit=limit, dry_run=dry_run
            )
        return [count.as_dict() for count in counts]

    counts = run_async(go)
    if as_json:
        print(json.dumps(counts, indent=2))
        return
    for c in counts:
        done = (
            "dry run, nothing enqueued"
            if dry_run
            else f"{c['created']} enqueued, {c['existing']} already queued, "
            f"{c['skipped']} unchanged"
        )
        print(f"{c['target_entity_type']} ({c['task_type']}): {c['changed']} changed; {done}")


@cli.command()
def pause(
    scope: Annotated[str, typer.Argument(help="task:<task_type> or provider:<name>:<model>.")],
    for_: Annotated[
        str | None, typer.Option("--for", help="How long: 30m, 2h, 1d (default: until resumed).")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Shown in status and the logs.")] = "",
) -> None:
    """Pause a task type or a provider for every worker: no job of it is claimed or
    called until the pause ends or `enricher resume`. Nothing is lost or retried."""
    from enricher.app import Enricher
    from enricher.durations import parse_duration

    cfg = settings()

    async def go() -> datetime:
        length = parse_duration(for_) if for_ is not None else None
        async with await Enricher.open(cfg, existing=True) as app:
            try:
                until = app.clock() + length if length is not None else None
            except OverflowError:
                raise RequestError(f"--for {for_}: too long") from None
            return await app.pause(scope, until=until, reason=reason)

    ends = run_async(go)
    when = "until resumed" if for_ is None else f"until {ends.isoformat(timespec='seconds')}"
    print(f"paused {scope} {when}")


@cli.command()
def resume(
    scope: Annotated[str, typer.Argument(help="The paused scope, as `enricher status` shows it.")],
) -> None:
    """Lift a pause (an operator's, a rate limit's or a spent budget's) for every worker."""
    from enricher.app import Enricher

    cfg = settings()

    async def go() -> bool:
        async with await Enricher.open(cfg, existing=True) as app:
            return await app.resume(scope)

    print(f"resumed {scope}" if run_async(go) else f"{scope} was not paused")


@cli.command()
def run(
    concurrency: Annotated[int | None, typer.Option(min=1, help="Jobs in flight.")] = None,
    burst: Annotated[bool, typer.Option(help="Drain the due backlog, then exit.")] = False,
    worker_id: Annotated[str | None, typer.Option("--worker-id")] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            max=65535,
            help="Serve Prometheus metrics on this port (0 = off; default worker.metrics_port).",
        ),
    ] = None,
) -> None:
    """The long-running worker."""
    from enricher.app import Enricher
    from enricher.observe.metrics import serve_metrics
    from enricher.worker.loop import Worker

    cfg = settings()
    port = cfg.worker.metrics_port if metrics_port is None else metrics_port

    async def go() -> None:
        async with await Enricher.open(cfg) as app:
            worker = Worker(app, worker_id=worker_id, concurrency=concurrency, burst=burst)
            with contextlib.ExitStack() as serving:
                if port:
                    serving.enter_context(
                        serve_metrics(worker.metrics, port, cfg.worker.metrics_host)
                    )
                worker.install_signal_handlers()
                await worker.run()

    run_async(go)


@cli.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh live until Ctrl-C.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.2, help="Seconds between refreshes (--watch).")
    ] = 2.0,
) -> None:
    """Counts per task type and status, throughput, ETA, pauses, rate budgets, workers,
    tokens and cost."""
    from enricher.app import Enricher
    from enricher.observe.report import collect, render, watch_live

    if watch and as_json:
        fail("--watch and --json do not go together: poll `status --json` instead")
    cfg = settings()

    async def go() -> dict[str, Any]:
        async with await Enricher.open(cfg, existing=True) as app:
            if watch:
                await watch_live(app, Console(), interval)
                return {}
            return await collect(app)

    try:
        report = run_async(go)
    except KeyboardInterrupt:
        return
    if watch:
        return
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        render(report, Console())


@cli.command()
def web(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8790,
    allow_actions: Annotated[
        bool,
        typer.Option(
            "--allow-actions",
            help="Allow retry, cancel, pause, resume and prune from the pages "
            "(default web.allow_actions; otherwise they answer 403).",
        ),
    ] = False,
) -> None:
    """Serve the dashboard: overview, jobs, failures, workers, throttling."""
    import uvicorn

    from enricher.app import Enricher
    from enricher.web import create_app

    cfg = settings()
    if not _is_loopback(host) and not (cfg.web.username and cfg.web.password):
        fail(
            f"refusing to serve on {host} without credentials: set web.username and "
            "web.password (ENRICHER_WEB__USERNAME, ENRICHER_WEB__PASSWORD) or bind 127.0.0.1"
        )

    async def check() -> None:
        # Open (and migrate) once before serving, so a database that cannot be used is
        # one line and exit 2 here, not a traceback from uvicorn's lifespan.
        async with await Enricher.open(cfg):
            pass

    run_async(check)
    app = create_app(cfg, allow_actions=True if allow_actions else None)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine: a loopback IP or ``localhost``."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@cli.command()
def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to put demo.db (default: a new temporary folder)."),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1)] = 8,
) -> None:
    """Enrich the bundled sample project end to end: SQLite + the offline local provider."""
    from enricher.demo.run import run_demo

    ok = run_async(lambda: run_demo(directory, concurrency, Console()))
    if not ok:
        raise typer.Exit(1)


@cli.command("simulate-provider")
def simulate_provider(
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free one).")] = 8089,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 opens it to the network.")
    ] = "127.0.0.1",
    rpm: Annotated[int | None, typer.Option(min=1, help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option(min=1, help="Tokens per minute.")] = None,
    latency_ms: Annotated[
        str, typer.Option("--latency-ms", help="Latency per request, '300' or a range '300-800'.")
    ] = "0",
    api_key: Annotated[
        list[str] | None, typer.Option("--api-key", help="Accepted key (repeatable); default: any.")
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="Answer the next request with this fault (repeatable: one request each, "
            "in order), e.g. 500, 429, quota, timeout, malformed.",
        ),
    ] = None,
    retry_after_s: Annotated[
        float, typer.Option("--retry-after-s", min=0, help="retry-after of injected 429s.")
    ] = 1.0,
    fault_rate: Annotated[
        float,
        typer.Option(
            "--fault-rate", min=0, max=1, help="Chance (0-1) of a random fault on any request."
        ),
    ] = 0.0,
    fault_kind: Annotated[
        list[str] | None,
        typer.Option(
            "--fault-kind",
            help="A fault --fault-rate draws from (repeatable; default 500, 503, 529, 429).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the latency and random-fault draws.")] = 0,
    request_log: Annotated[
        Path | None,
        typer.Option(
            "--request-log", help="Append one JSON line per request answered to this file."
        ),
    ] = None,
) -> None:
    """A loopback OpenAI + Anthropic server with real rate limits, to rehearse a backlog.

    Faults are there to rehearse failure as well: --fault scripts the next answers (a
    worker's retry of a 500, its pause on a 429), --fault-rate adds random ones, and
    --request-log shows what the clients really sent and got.
    """
    if not 0 <= port <= 65535:
        fail(f"invalid --port {port}: use 0 to 65535 (0: any free port)")
    from enricher.testing.simulator import (
        FAULTS,
        TRANSIENT_FAULTS,
        ProviderSimulator,
        SimulatorConfig,
    )

    try:
        low, _, high = latency_ms.partition("-")
        latency = (float(low) / 1000, float(high or low) / 1000)
    except ValueError:
        fail(f"invalid --latency-ms {latency_ms!r}: use 300 or 300-800")
        raise
    known = ", ".join(sorted(FAULTS, key=lambda name: (not name.isdigit(), name)))
    for option, names in (("--fault", fault or []), ("--fault-kind", fault_kind or [])):
        for name in names:
            if name not in FAULTS:
                fail(f"unknown {option} {name!r}: use one of {known}")
    if fault_kind and not fault_rate:
        fail("--fault-kind needs --fault-rate above 0 (random faults are off without it)")
    config = SimulatorConfig(
        rpm=rpm,
        tpm=tpm,
        latency_s=latency,
        api_keys=frozenset(api_key) if api_key else None,
        seed=seed,
        fault_rate=fault_rate,
        fault_kinds=tuple(fault_kind) if fault_kind else TRANSIENT_FAULTS,
        retry_after_s=retry_after_s,
        request_log=request_log,
    )

    async def go() -> None:
        server = ProviderSimulator(config)
        server.inject(*(fault or []), retry_after_s=retry_after_s)
        try:
            await server.start(host=host, port=port)
        except OSError as exc:
            if exc.filename:  # the request log, opened first
                fail(f"cannot write --request-log {exc.filename}: {exc.strerror or exc}")
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
            raise
        print(
            f"OpenAI:    ENRICHER_PROVIDER__NAME=openai "
            f"ENRICHER_PROVIDER__BASE_URL={server.openai_base_url}"
        )
        print(
            f"Anthropic: ENRICHER_PROVIDER__NAME=anthropic "
            f"ENRICHER_PROVIDER__BASE_URL={server.anthropic_base_url}"
        )
        print("Press Ctrl-C to stop.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop()
        print(f"served {server.requests} requests: {dict(server.by_status)}")

    run_async(go)


cli.add_typer(jobs_app, name="jobs")
cli.add_typer(batches_app, name="batches")
cli.command("prune")(prune_command)


def main() -> None:
    cli()
