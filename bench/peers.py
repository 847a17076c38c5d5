"""Peer benchmark: enricher, procrastinate and pgqueuer burn down the same no-op jobs.

    python -m bench.peers [--url postgresql://...] [--jobs N] [--workers W]
                          [--concurrency C] [--repeats R]

Why: a queue on PostgreSQL competes with the PostgreSQL queues people already use, so
its throughput only means something beside theirs, measured in the same run on the same
server. Each run gives one system a fresh database on the server at ``--url``, applies
that system's schema with the system's own tooling, enqueues N no-op jobs in bulk and
ANALYZEs the database (neither timed), then starts W worker processes with C jobs in
flight each and waits for them to drain the queue and exit. The repeats are interleaved
(one run of each system per round, the order rotated every round), so all three see the
same machine; each figure is the median of R runs. Nothing is asserted: the table prints
jobs/s, enricher's ratio to each peer, the CPU time the worker processes used per job
(start-up included; it moves far less than jobs/s when the machine is shared, and tells
client cost from server cost), and a warning when a run did not complete every job.

Per system (jobs/s = completed jobs / span; the span runs from the first job start to
the last job done, read from timestamps the system itself stores, so process start-up,
imports and the final idle check are not counted):

- enricher: ``enricher run --burst --concurrency C`` processes with the ``noop`` handler
  of ``bench.handlers`` (``bench.burndown_pg.run_workers``); jobs inserted by plain SQL
  (``bench.burndown_pg.seed``); span = min(``last_attempted_at``) .. max(``completed_at``)
  of ``background_ai_jobs``; done = rows in ``completed``.
- procrastinate: ``procrastinate worker --concurrency C --one-shot`` processes on the
  app below (psycopg pool of at most 10 connections, as enricher's asyncpg pool); schema
  by ``procrastinate schema --apply``; jobs by ``Task.batch_defer_async``; span =
  min(``at``) of ``started`` .. max(``at``) of ``succeeded`` rows of
  ``procrastinate_events`` (written by its status trigger); done = jobs in ``succeeded``.
- pgqueuer: processes running ``pgqueuer.run(pgqueuer_factory, mode=drain,
  max_concurrent_tasks=C, batch_size=10)``, its documented "``pgq run`` without the CLI"
  (``pgq run`` itself crashes at start in 1.6.0 with this venv's typer), on asyncio as
  its docstring shows (the CLI would use uvloop); the factory is its documented form,
  one asyncpg connection per process; schema by ``pgq install`` (durable: every table
  logged, as the other two); jobs by ``Queries.enqueue`` with lists; span =
  min(``created``) of ``picked`` .. max(``created``) of ``successful`` rows of
  ``pgqueuer_log`` (a finished job leaves the queue table and its acknowledgement is
  logged there, in batches); done = distinct ``successful`` job ids.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

# The peers are bench-only extras (pip install -e '.[bench]'): without them these imports
# fail, and mypy, which checks bench/ in the test suite too, sees Any instead of a type.
from pgqueuer import AsyncpgDriver, Job, Queries, QueueManager  # type: ignore[import-not-found, unused-ignore]
from pgqueuer import run as pgqueuer_run  # type: ignore[import-not-found, unused-ignore]
from pgqueuer.types import QueueExecutionMode  # type: ignore[import-not-found, unused-ignore]
from procrastinate import App, PsycopgConnector  # type: ignore[import-not-found, unused-ignore]

from bench.burndown_pg import REPO, admin, drop, fresh, run_workers, seed, with_database

SYSTEMS = ("enricher", "procrastinate", "pgqueuer")

# The worker processes are separate interpreters that import this module: they read the
# database to work on from here, because procrastinate's CLI takes an app, not a URL.
URL_ENV = "BENCH_PEERS_URL"

# enricher's asyncpg pool holds at most 10 connections per process; procrastinate gets the
# same, where its default (4) would throttle 32 jobs in flight on connection waits.
POOL_SIZE = 10
# pgqueuer's default dequeue batch; it needs max_concurrent_tasks >= 2 * batch.
PGQUEUER_BATCH = 10
WORKER_TIMEOUT_S = 600.0

ENRICHER_SPAN = """
SELECT count(*) FILTER (WHERE status = 'completed') AS done,
       extract(epoch FROM max(completed_at) - min(last_attempted_at)) AS seconds
FROM background_ai_jobs
"""

PROCRASTINATE_SPAN = """
SELECT (SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded') AS done,
       extract(epoch FROM max(at) FILTER (WHERE type = 'succeeded')
                        - min(at) FILTER (WHERE type = 'started')) AS seconds
FROM procrastinate_events
"""

PGQUEUER_SPAN = """
SELECT count(DISTINCT job_id) FILTER (WHERE status = 'successful') AS done,
       extract(epoch FROM max(created) FILTER (WHERE status = 'successful')
                        - min(created) FILTER (WHERE status = 'picked')) AS seconds
FROM pgqueuer_log
"""


async def procrastinate_noop() -> None:
    """The procrastinate task: nothing, so the run measures the queue alone."""


class NotInMainWarning(logging.Filter):
    """Drops procrastinate's warning about an app built in ``__main__``.

    ``python -m bench.peers`` runs this module as ``__main__``, which procrastinate warns
    about because task names derived from the module would differ between the process
    that defers and the workers; the one task here is named explicitly, so they don't.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "action", None) != "app_defined_in___main__"


logging.getLogger("procrastinate.blueprints").addFilter(NotInMainWarning())

# The app the procrastinate CLI loads (``--app bench.peers.procrastinate_app``). Its
# connector opens no connection until a worker opens the app, so importing is free.
procrastinate_app = App(
    connector=PsycopgConnector(conninfo=os.environ.get(URL_ENV, ""), max_size=POOL_SIZE)
)
procrastinate_app.task(name="noop")(procrastinate_noop)


async def pgqueuer_noop(job: Job) -> None:
    """The pgqueuer entrypoint: nothing, so the run measures the queue alone."""


@asynccontextmanager
async def pgqueuer_factory() -> AsyncIterator[QueueManager]:
    """pgqueuer's factory form: a queue manager on one connection, made per worker process."""
    connection = await asyncpg.connect(os.environ[URL_ENV])
    try:
        manager = QueueManager(Queries(AsyncpgDriver(connection)))
        manager.entrypoint("noop")(pgqueuer_noop)
        yield manager
    finally:
        await connection.close()


def pgqueuer_worker(concurrency: int) -> None:
    """One pgqueuer worker process: ``pgqueuer.run``, "as ``pgq run`` does, without the CLI".

    Not the CLI itself: ``pgq run`` of pgqueuer 1.6.0 crashes at start with the typer in
    this venv (its ``--log-level`` parser hands a str to a set-up that wants an enum,
    even for the default). The documented alternative runs the same supervisor; it is
    started with ``asyncio.run`` as its docstring shows, where the CLI would use uvloop.
    """
    asyncio.run(
        pgqueuer_run(
            pgqueuer_factory,
            mode=QueueExecutionMode.drain,
            max_concurrent_tasks=concurrency,
            batch_size=pgqueuer_batch(concurrency),
        )
    )


def pgqueuer_batch(concurrency: int) -> int:
    """pgqueuer's default batch of 10, or less: it wants max_concurrent_tasks >= 2 * batch."""
    return min(PGQUEUER_BATCH, max(concurrency // 2, 1))


@dataclass
class Run:
    """One burn-down of one system: what its own timestamps say, and what went wrong."""

    system: str
    jobs: int
    done: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_job(self) -> float:
        return 1000 * self.cpu_s / self.done if self.done else 0.0


def children_cpu_s() -> float:
    """CPU seconds of every child process waited for so far (user + system).

    The difference across a run is what its worker processes cost, start-up included.
    Unlike jobs/s it barely moves when other work shares the machine, so it says which
    side of the socket a slow run spent its time on.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker_env(db_url: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), URL_ENV: db_url}


def run_processes(commands: list[list[str]], env: dict[str, str]) -> list[str]:
    """Run the commands side by side until all exit; return what went wrong, if anything.

    A peer that fails or hangs is reported, not raised: the other systems' figures are
    still worth printing, and the missing jobs show in the count.
    """
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        logs = [Path(folder) / f"worker{i}.log" for i in range(len(commands))]
        procs = []
        for command, log in zip(commands, logs, strict=True):
            with log.open("wb") as err:
                procs.append(
                    subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
                )
        deadline = time.monotonic() + WORKER_TIMEOUT_S
        for proc, log in zip(procs, logs, strict=True):
            try:
                code = proc.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                problems.append(f"a worker ran longer than {WORKER_TIMEOUT_S:.0f} s and was killed")
                continue
            if code != 0:
                tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                problems.append(f"a worker exited with {code}: {' | '.join(tail)}")
    return problems


def set_up(command: list[str], env: dict[str, str]) -> None:
    """Run a peer's own set-up command quietly; without its schema there is no run."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])}... failed: {done.stderr.strip()[-2000:]}")


async def new_database(url: str, system: str) -> str:
    """An empty database for one peer: its own tooling creates the schema."""
    name = f"peers_{system}_{uuid.uuid4().hex[:12]}"
    await admin(url, f"CREATE DATABASE {name}")
    return with_database(url, name)


async def analyze(db_url: str) -> None:
    """Give the planner the backlog's statistics before the clock starts.

    A live queue's tables have them (autovacuum analyzes as rows change); a table filled
    a second ago by one bulk insert does not, and the planner, believing it empty, may
    pick a plan that reads the whole backlog on every claim (procrastinate's one-job
    claim then sorts every ``todo`` row, 5 ms per claim at 5000 jobs instead of 0.05).
    """
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def span(db_url: str, sql: str, run: Run) -> Run:
    conn = await asyncpg.connect(db_url)
    try:
        row = await conn.fetchrow(sql)
    finally:
        await conn.close()
    run.done = int(row["done"])
    run.seconds = float(row["seconds"] or 0.0)
    if run.done != run.jobs:
        run.problems.append(f"only {run.done} of {run.jobs} jobs completed")
    return run


async def run_enricher(url: str, jobs: int, workers: int, concurrency: int) -> Run:
    db_url = await fresh(url)
    try:
        await seed(db_url, jobs)
        await analyze(db_url)
        run = Run("enricher", jobs)
        before = children_cpu_s()
        try:
            await asyncio.to_thread(run_workers, db_url, workers, concurrency)
        except SystemExit as exc:  # run_workers' way of saying a worker failed
            run.problems.append(str(exc))
        run.cpu_s = children_cpu_s() - before
        return await span(db_url, ENRICHER_SPAN, run)
    finally:
        await drop(url, db_url)


async def run_procrastinate(url: str, jobs: int, workers: int, concurrency: int) -> Run:
    db_url = await new_database(url, "procrastinate")
    env = worker_env(db_url)
    cli = [sys.executable, "-m", "procrastinate", "--app", "bench.peers.procrastinate_app"]
    try:
        await asyncio.to_thread(set_up, [*cli, "schema", "--apply"], env)
        connector = PsycopgConnector(conninfo=db_url)
        with procrastinate_app.replace_connector(connector) as app:
            async with app.open_async():
                await app.tasks["noop"].batch_defer_async(*({} for _ in range(jobs)))
        await analyze(db_url)
        command = [
            *cli,
            "--log-level",
            "warning",
            "worker",
            "--concurrency",
            str(concurrency),
            "--one-shot",
        ]
        run = Run("procrastinate", jobs)
        before = children_cpu_s()
        run.problems += await asyncio.to_thread(run_processes, [command] * workers, env)
        run.cpu_s = children_cpu_s() - before
        return await span(db_url, PROCRASTINATE_SPAN, run)
    finally:
        await drop(url, db_url)


async def run_pgqueuer(url: str, jobs: int, workers: int, concurrency: int) -> Run:
    db_url = await new_database(url, "pgqueuer")
    env = worker_env(db_url)
    install = [sys.executable, "-m", "pgqueuer", "--pg-dsn", db_url, "install"]
    try:
        await asyncio.to_thread(set_up, install, env)
        conn = await asyncpg.connect(db_url)
        try:
            await Queries(AsyncpgDriver(conn)).enqueue(["noop"] * jobs, [None] * jobs, [0] * jobs)
        finally:
            await conn.close()
        await analyze(db_url)
        command = [
            sys.executable,
            "-m",
            "bench.peers",
            "--pgqueuer-worker",
            "--concurrency",
            str(concurrency),
        ]
        run = Run("pgqueuer", jobs)
        before = children_cpu_s()
        run.problems += await asyncio.to_thread(run_processes, [command] * workers, env)
        run.cpu_s = children_cpu_s() - before
        return await span(db_url, PGQUEUER_SPAN, run)
    finally:
        await drop(url, db_url)


RUNNERS: dict[str, Callable[[str, int, int, int], Awaitable[Run]]] = {
    "enricher": run_enricher,
    "procrastinate": run_procrastinate,
    "pgqueuer": run_pgqueuer,
}


async def main_async(args: argparse.Namespace) -> None:
    runs: dict[str, list[Run]] = {system: [] for system in SYSTEMS}
    for repeat in range(args.repeats):
        # Rotating the order keeps any drift of the machine (other loads, the server's
        # caches, autovacuum) from always favouring the same system.
        order = SYSTEMS[repeat % len(SYSTEMS) :] + SYSTEMS[: repeat % len(SYSTEMS)]
        for system in order:
            run = await RUNNERS[system](args.url, args.jobs, args.workers, args.concurrency)
            runs[system].append(run)
            for problem in run.problems:
                print(f"WARNING: {system}, run {repeat + 1}: {problem}", file=sys.stderr)

    medians = {system: statistics.median(r.rate for r in runs[system]) for system in SYSTEMS}
    cpu = {system: statistics.median(r.cpu_ms_per_job for r in runs[system]) for system in SYSTEMS}
    print(
        f"PostgreSQL peer burn-down, {args.jobs} no-op jobs, {args.workers} worker processes x "
        f"concurrency {args.concurrency}, median of {args.repeats} interleaved runs:"
    )
    print(f"  {'system':<14} {'jobs/s':>8}  {'enricher/it':>11}  {'worker CPU':>13}  runs (jobs/s)")
    for system in SYSTEMS:
        ratio = medians["enricher"] / medians[system] if medians[system] else float("nan")
        each = ", ".join(f"{r.rate:,.0f}" for r in runs[system])
        print(
            f"  {system:<14} {medians[system]:>8,.0f}  {ratio:>11.2f}  "
            f"{cpu[system]:>7.2f} ms/job  {each}"
        )
    incomplete = [s for s in SYSTEMS if any(r.done != r.jobs for r in runs[s])]
    if incomplete:
        print(f"  WARNING: not every job completed for: {', '.join(incomplete)}")
    ahead = all(medians["enricher"] >= medians[peer] for peer in SYSTEMS[1:])
    print(f"  enricher at or above both peers: {'yes' if ahead else 'no'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    # Internal: what each pgqueuer worker subprocess runs (see pgqueuer_worker).
    parser.add_argument("--pgqueuer-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pgqueuer_worker:
        pgqueuer_worker(args.concurrency)
        return
    if not args.url:
        raise SystemExit("no PostgreSQL: pass --url or run through `make bench`")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
