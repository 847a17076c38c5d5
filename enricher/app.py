"""The object a host application holds: settings, database, handlers, providers.

``Enricher`` is the Python API host applications use: open it on a config (or just a
database URL), enqueue work, read jobs back, and build workers. It owns the
connector and the provider pool, so closing it releases both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from enricher.clock import Clock, utcnow
from enricher.config import Settings
from enricher.db import Connector, Row, connect, store
from enricher.db.errors import DatabaseUnavailable, TransientDatabaseError
from enricher.db.migrate import MigrationReport, migrate, require_schema
from enricher.db.provision import provision
from enricher.errors import RequestError
from enricher.ids import canonical_job_id
from enricher.provider_pool import ProviderFactory, ProviderPool
from enricher.queue import provider_batches
from enricher.queue.enqueue import Enqueued, EnqueueRequest, enqueue_in
from enricher.queue.provider_batches import BatchDetails
from enricher.queue.redrive import RedriveReport, redrive
from enricher.queue.retention import prune as prune_jobs
from enricher.queue.sweep import SweepCount, sweep, sweep_plan
from enricher.queue.views import (
    JobDetails,
    JobsPage,
    jobs_page,
    list_jobs,
    load_details,
    resolve_job_id,
)
from enricher.registry import HandlerRegistry, build_registry
from enricher.targets import target_catalogue

log = structlog.get_logger("enricher")

#: How long a pause with no end lasts: until an operator resumes it, in practice.
INDEFINITE = timedelta(days=36500)
_SCOPE = re.compile(r"(task|provider|spend):\S+")


def checked_scope(scope: str) -> str:
    """A pause scope as the claim knows them, else :class:`RequestError`."""
    if not _SCOPE.fullmatch(scope):
        raise RequestError(
            f"{scope!r} is not a pause scope: use task:<task_type>, "
            "provider:<name>:<model> or spend:<total|provider> (see `enricher status`)"
        )
    return scope


class Enricher:
    """Enqueue and inspect enrichment jobs; build workers that run them."""

    def __init__(
        self,
        settings: Settings,
        *,
        registry: HandlerRegistry | None = None,
        provider_factory: ProviderFactory | None = None,
        clock: Clock = utcnow,
        create_database: bool = True,
    ) -> None:
        self.settings = settings
        self.targets = target_catalogue(settings)
        self.registry = registry or build_registry(settings.worker.handlers, self.targets)
        self.db: Connector = connect(
            settings.database.url,
            busy_timeout_ms=settings.database.busy_timeout_ms,
            connect_timeout_s=settings.database.connect_timeout_s,
            create=create_database,
        )
        self.providers = ProviderPool(provider_factory, concurrency=settings.worker.concurrency)
        self.clock = clock
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        migrate: bool = True,
        existing: bool = False,
        **kwargs: Any,
    ) -> Enricher:
        """Open the database and migrate it: apply pending migrations, then check the
        target tables, create the built-in ones the config uses and bring the status
        triggers in line (see :meth:`migrate`). ``migrate=False`` does none of that: the
        caller migrates itself, before it touches a target.

        ``existing=True`` is for callers that only read or change what is already there
        (``status``, ``jobs``, ``prune``): a SQLite file that does not exist, or a
        database without enricher's schema, raises
        :class:`~enricher.db.errors.DatabaseMissing` instead of being created and
        migrated, so a mistyped path is an error rather than an empty answer. An
        existing schema of an older version is still brought up to date.
        """
        app = cls(settings or Settings(), create_database=not existing, **kwargs)
        try:
            await app.db.open()
            if existing:
                await require_schema(app.db)
            if migrate:
                await app._migrate_patiently()
        except BaseException:
            await app.db.close()
            raise
        return app

    async def _migrate_patiently(self) -> MigrationReport:
        """Migrate, waiting out a database another process holds locked (or one that is
        restarting) for up to ``database.connect_timeout_s``; then one clear error."""
        patience = self.settings.database.connect_timeout_s
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(TransientDatabaseError),
                wait=wait_exponential(multiplier=0.1, max=2.0),
                stop=stop_after_delay(patience),
                reraise=True,
            ):
                with attempt:
                    return await self.migrate()
        except TransientDatabaseError as exc:
            raise DatabaseUnavailable(
                f"database still busy after waiting {patience:g} s "
                f"(database.connect_timeout_s): {exc}"
            ) from exc
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self.providers.aclose()
        await self.db.close()

    async def __aenter__(self) -> Enricher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def migrate(self) -> MigrationReport:
        """Apply pending migrations, then provision the target tables (see :meth:`open`)."""
        report = await migrate(self.db)
        await provision(self.db, self.targets, now=self.clock())
        if report.applied:
            log.info(
                "schema_migrated", applied=list(report.applied), version=report.current_version
            )
        return report

    # ── enqueue ──────────────────────────────────────────────────────────

    async def enqueue(
        self,
        task_type: str,
        target_entity_type: str,
        target_entity_id: str,
        *,
        payload: dict[str, Any] | str | None = None,
        priority: int = 0,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
        force: bool = False,
        group: str | None = None,
    ) -> Enqueued:
        """Enqueue one job; returns the active job instead if the target already has one.

        ``group`` (a tenant, repository or project; ``job_group``) is what the fair claim
        shares free slots between, so one group's backfill cannot starve another's jobs.

        Raises :class:`~enricher.errors.UnknownTaskError` for a task or target type no
        handler accepts, :class:`~enricher.errors.PayloadError` for a bad payload and
        :class:`~enricher.errors.RequestError` for a value out of range (a priority
        wider than a 32-bit integer, say).
        """
        request = EnqueueRequest.checked(
            task_type=task_type,
            target_entity_type=target_entity_type,
            target_entity_id=target_entity_id,
            payload=payload,
            priority=priority,
            run_at=run_at,
            max_attempts=max_attempts,
            force=force,
            group=group,
        )
        return (await self.enqueue_many([request]))[0]

    async def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[Enqueued]:
        """Enqueue many jobs in one transaction: all are validated before any is written."""
        if not requests:
            return []
        async with self.db.transaction() as tx:
            results = await enqueue_in(
                tx, self.registry, self.settings, requests, self.clock(), self.targets
            )
        if any(r.created for r in results):
            self.notify()
        return results

    # ── inspection ───────────────────────────────────────────────────────

    async def resolve_job_id(self, job_id: str) -> str:
        """The whole id of the job ``job_id`` names: a whole id as is, or a unique prefix
        of at least 4 hex characters, as git takes commit hashes. Raises
        :class:`~enricher.errors.RequestError` for a prefix no job or several jobs have
        (the message says how many)."""
        return await resolve_job_id(self.db, job_id)

    async def get_job(self, job_id: str) -> Row | None:
        """The job's whole row (every column of ``background_ai_jobs``, as the database
        returns it), or None for an unknown or malformed id. A whole id only: see
        :meth:`resolve_job_id` for prefixes."""
        canonical = canonical_job_id(job_id)
        if canonical is None:
            return None
        return await store.jobs.get(self.db, job_id=canonical)

    async def cancel(self, job_id: str, reason: str = "cancelled by a user") -> bool:
        """Cancel an active job. A running one loses its fence; its worker drops it."""
        canonical = canonical_job_id(job_id)
        if canonical is None:
            return False
        async with self.db.transaction() as tx:
            row = await store.jobs.cancel(
                tx, job_id=canonical, error_message=reason, now=self.clock()
            )
        return row is not None

    async def cancel_jobs(
        self, job_ids: Sequence[str], reason: str = "cancelled by a user"
    ) -> list[str]:
        """Cancel several active jobs in one transaction (all or none is written); returns
        the ids that were active and are now cancelled. Ids that are malformed or name
        no active job are left out of the answer, not raised."""
        cancelled: list[str] = []
        async with self.db.transaction() as tx:
            for job_id in dict.fromkeys(filter(None, map(canonical_job_id, job_ids))):
                row = await store.jobs.cancel(
                    tx, job_id=job_id, error_message=reason, now=self.clock()
                )
                if row is not None:
                    cancelled.append(job_id)
        return cancelled

    # ── administration: jobs list / show / retry, prune ──────────────────

    async def list_jobs(
        self,
        *,
        statuses: Sequence[str] | None = None,
        task_type: str | None = None,
        target_entity_type: str | None = None,
        limit: int = 50,
        error_text: str | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Jobs matching every filter given, newest first: every column, timestamps as
        aware datetimes, JSON columns parsed (see :mod:`enricher.jobviews`)."""
        return await list_jobs(
            self.db,
            statuses=statuses,
            task_type=task_type,
            target_entity_type=target_entity_type,
            limit=limit,
            error_text=error_text,
            offset=offset,
        )

    async def jobs_page(
        self,
        *,
        filters: dict[str, str | None],
        before: str | None = None,
        created: tuple[datetime | None, datetime | None] = (None, None),
        updated: tuple[datetime | None, datetime | None] = (None, None),
        size: int = 50,
        scan: int = 10_000,
    ) -> JobsPage:
        """A page of the dashboard's jobs list: keyset-paginated, each page a bounded read
        of at most ``scan`` jobs whatever the filters (see
        :func:`enricher.queue.views.jobs_page`)."""
        return await jobs_page(
            self.db,
            filters=filters,
            before=before,
            created=created,
            updated=updated,
            size=size,
            scan=scan,
        )

    async def job_details(self, job_id: str) -> JobDetails | None:
        """A job with its target entity's row and its error history; None if unknown."""
        return await load_details(self.db, job_id, self.targets)

    async def retry_jobs(
        self,
        job_ids: Sequence[str] | None = None,
        *,
        statuses: Sequence[str] | None = None,
        task_type: str | None = None,
        target_entity_type: str | None = None,
        limit: int | None = None,
    ) -> RedriveReport:
        """Redrive failed and cancelled jobs (by id, or by filters) in one transaction.

        Each comes back ``pending`` with its attempts reset; a job whose target has an
        active or newer job, or that is not failed or cancelled, is reported as skipped.
        Idle workers in this process wake at once (other processes: NOTIFY or polling).
        """
        report = await redrive(
            self.db,
            now=self.clock(),
            job_ids=job_ids,
            statuses=statuses,
            task_type=task_type,
            target_entity_type=target_entity_type,
            limit=limit,
        )
        if report.redriven:
            self.notify()
        return report

    async def prune(
        self,
        *,
        older_than: timedelta,
        statuses: Sequence[str] | None = None,
        now: datetime | None = None,
    ) -> int:
        """Delete terminal jobs not updated for ``older_than``; returns how many.

        ``statuses`` narrows the terminal statuses (default: all); an active one raises
        :class:`~enricher.housekeeping.RequestError`. See :mod:`enricher.housekeeping`.
        """
        return await prune_jobs(
            self.db, older_than=older_than, statuses=statuses, now=now or self.clock()
        )

    async def list_batches(self, *, open_only: bool = False, limit: int = 50) -> list[Row]:
        """Provider batches (rows of ``ai_provider_batches``), newest first; with
        ``open_only`` those still open at the provider."""
        return await provider_batches.list_batches(self.db, open_only=open_only, limit=limit)

    async def batch_details(self, batch: str) -> BatchDetails:
        """A batch's row and its jobs by status. ``batch`` is enricher's batch id (or a
        unique prefix of it) or the provider's; an unknown one raises RequestError."""
        return await provider_batches.details(self.db, batch)

    async def cancel_batch(self, batch: str) -> Row:
        """Cancel a submitted batch at the provider; what it finished is still applied,
        and its jobs that never ran end ``cancelled``. Returns the batch's row."""
        return await provider_batches.cancel(
            self.db, self.providers, self.settings, batch, self.clock()
        )

    async def pause(
        self, scope: str, *, until: datetime | None = None, reason: str = ""
    ) -> datetime:
        """Pause ``scope`` (``task:<type>``, ``provider:<name>:<model>``) for every worker,
        until ``until`` (None: until resumed); returns when it ends. No job is lost: the
        claim skips the scope's jobs and running ones are held back before their call."""
        checked_scope(scope)
        now = self.clock()
        ends = until or now + INDEFINITE
        if ends <= now:
            raise RequestError(f"a pause must end in the future, not at {ends.isoformat()}")
        await store.pauses.set(
            self.db,
            scope=scope,
            paused_until=ends,
            reason=reason or "paused by an operator",
            now=now,
        )
        log.warning("scope_paused", scope=scope, until=ends.isoformat(), reason=reason)
        return ends

    async def resume(self, scope: str) -> bool:
        """Lift the pause on ``scope``; False if it was not paused. Idle workers wake."""
        checked_scope(scope)
        async with self.db.transaction() as tx:  # NOTIFY goes out with the commit
            lifted = await store.pauses.delete(tx, scope=scope) > 0
            if lifted:
                await store.jobs.notify(tx, reason="resumed")
        if lifted:
            self.notify()
            log.warning("scope_resumed", scope=scope)
        return lifted

    async def sweep(
        self,
        target_types: Sequence[str] = (),
        *,
        task_type: str | None = None,
        limit: int | None = None,
        dry_run: bool = False,
    ) -> list[SweepCount]:
        """Enqueue every entity that changed since its last successful enrichment.

        No target types: every target table; no task: each task its type has. ``limit``
        caps each (type, task); ``dry_run`` counts without enqueueing. See
        :mod:`enricher.queue.sweep`.
        """
        plan = sweep_plan(self.registry, self.targets, target_types, task_type)
        counts = await sweep(
            self.db,
            self.registry,
            self.settings,
            self.targets,
            plan=plan,
            limit=limit,
            dry_run=dry_run,
            now=self.clock(),
        )
        if any(count.created for count in counts):
            self.notify()  # other processes hear of the jobs from the insert trigger
        return counts

    # ── in-process wake-ups ──────────────────────────────────────────────

    def add_listener(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` after each enqueue that created work; returns the remover."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def notify(self) -> None:
        """Wake this process's idle workers: new work was just committed."""
        for callback in list(self._listeners):
            callback()
