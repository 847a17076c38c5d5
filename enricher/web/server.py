"""``enricher web``: the dashboard, a Starlette app rendering Jinja2 pages.

Pages are server-rendered and refresh themselves with htmx polling a fragment of the
same URL (the ``HX-Request`` header asks for the fragment), so there is no JS build
and no API to keep in step. Everything shown is hostile text (payloads, errors, entity
content), so autoescape is on and nothing is marked safe. Actions are POST only, read-
only unless allowed, and carry a CSRF token: an HMAC of a per-process secret and the
user, so a page from another origin cannot forge one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import structlog
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from enricher.app import Enricher
from enricher.clock import Clock, format_timestamp, parse_timestamp, utcnow
from enricher.config import Settings
from enricher.db import store
from enricher.db.connector import redact_url
from enricher.durations import parse_duration
from enricher.errors import RequestError
from enricher.observe.report import collect
from enricher.queue.redrive import RETRYABLE_STATUSES
from enricher.status import JobStatus
from enricher.web.chart import throughput_chart
from enricher.web.totals import Totals

log = structlog.get_logger("enricher.web")

HERE = Path(__file__).parent
#: Jobs per page of the jobs list.
PAGE_SIZE = 50
#: Most jobs one page of the jobs list reads (its window; see ``jobs_page`` in the SQL).
JOB_WINDOW = 10_000
#: Failure groups shown.
FAILURE_GROUPS = 100
#: The failures page groups the newest this many jobs of each erroring status.
FAILURE_WINDOW = 5000
#: Filters of the jobs list, as URL parameters (``error`` is the error-text filter).
JOB_FILTERS = ("status", "task_type", "target_entity_type", "provider", "model", "error")
#: Time-range filters of the jobs list: ``[from, to)``, ISO text, UTC unless it says.
JOB_RANGES = ("created_from", "created_to", "updated_from", "updated_to")
#: The filters a bulk retry (a redrive) can apply.
RETRY_FILTERS = ("status", "task_type", "target_entity_type")
#: Most jobs one "cancel selected" takes: a page and then some.
MAX_SELECTED = 500
ANONYMOUS = "anonymous"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["ts"] = _timestamp
    env.filters["show"] = _show
    return env


def _show(value: Any) -> Any:
    """A column value as an operator reads it: timestamps as ISO text, JSON as indented
    JSON, NULL as nothing (autoescape still applies to the result)."""
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return _timestamp(value)


def _timestamp(value: Any) -> Any:
    """A datetime as enricher's ISO text; anything else (a hand-written value that is no
    timestamp, kept as it is by ``queue.views.record``) unchanged, for autoescape."""
    if isinstance(value, datetime):
        return format_timestamp(value)
    return "" if value is None else value


class Dashboard:
    """The state one app shares: its settings, its open Enricher and its CSRF secret."""

    def __init__(
        self, settings: Settings, *, allow_actions: bool | None, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.allow_actions = settings.web.allow_actions if allow_actions is None else allow_actions
        self.secret = secrets.token_bytes(32)
        self.env = _environment()
        self.totals = Totals()
        self._app: Enricher | None = None

    @property
    def app(self) -> Enricher:
        if self._app is None:
            raise RuntimeError("the dashboard's Enricher is not open (lifespan not run)")
        return self._app

    @asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        self._app = await Enricher.open(self.settings, clock=self.clock or utcnow)
        try:
            yield
        finally:
            await self.totals.close()
            await self._app.close()
            self._app = None

    # ── auth and CSRF ──────────────────────────────────────────────────

    def user(self, request: Request) -> str:
        """The basic-auth user, or ``anonymous`` when no credentials are configured;
        401 when they are and the request does not carry them."""
        web = self.settings.web
        if not (web.username and web.password):
            return ANONYMOUS
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                name, _, password = base64.b64decode(encoded).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                name, password = "", ""
            if hmac.compare_digest(name.encode(), web.username.encode()) and (
                hmac.compare_digest(password.encode(), web.password.encode())
            ):
                return name
        raise HTTPException(401, headers={"WWW-Authenticate": 'Basic realm="enricher"'})

    def csrf_token(self, user: str) -> str:
        return hmac.new(self.secret, user.encode(), hashlib.sha256).hexdigest()

    # ── reading ────────────────────────────────────────────────────────

    async def report(self) -> dict[str, Any]:
        """The status snapshot, its history totals from :class:`Totals` (see there)."""
        return await collect(self.app, await self.totals.get(self.app))

    # ── rendering ──────────────────────────────────────────────────────

    def render(self, request: Request, name: str, user: str, **context: Any) -> HTMLResponse:
        """The page, or only its live fragment when htmx polls for it."""
        fragment = request.headers.get("hx-request") == "true"
        template = self.env.get_template(name)
        body = template.render(
            request=request,
            fragment=fragment,
            user=user,
            csrf=self.csrf_token(user),
            allow_actions=self.allow_actions,
            database=redact_url(self.settings.database.url),
            updated_at=format_timestamp(self.app.clock()),
            **context,
        )
        return HTMLResponse(body)


def create_app(
    settings: Settings, *, allow_actions: bool | None = None, clock: Clock | None = None
) -> Starlette:
    """The dashboard as an ASGI app; it opens its own :class:`Enricher` in its lifespan.
    ``allow_actions`` overrides ``settings.web.allow_actions``; ``clock`` replaces the
    wall clock (a bench or a test pinning "now" to its data)."""
    dash = Dashboard(settings, allow_actions=allow_actions, clock=clock)

    async def overview(request: Request) -> Response:
        user = dash.user(request)
        report = await dash.report()
        return dash.render(
            request,
            "overview.html",
            user,
            report=report,
            chart=throughput_chart(report["throughput_chart"]),
            totals_in_background=dash.totals.background,
            totals_max_age_s=f"{dash.totals.max_age_s:.0f}",
        )

    async def jobs(request: Request) -> Response:
        user = dash.user(request)
        q = request.query_params
        filters = {key: q.get(key) or None for key in JOB_FILTERS}
        ranges = {key: q.get(key) or None for key in JOB_RANGES}
        try:
            when = {key: _moment(value) for key, value in ranges.items()}
            page = await dash.app.jobs_page(
                filters={k: v for k, v in filters.items() if k != "error"}
                | {"error_text": filters["error"]},
                before=q.get("before") or None,
                created=(when["created_from"], when["created_to"]),
                updated=(when["updated_from"], when["updated_to"]),
                size=PAGE_SIZE,
                scan=JOB_WINDOW,
            )
        except RequestError as exc:
            raise HTTPException(400, str(exc)) from exc
        kept = {k: v for k, v in (filters | ranges).items() if v}
        here = f"/jobs?{urlencode(kept)}" if kept else "/jobs"
        return dash.render(
            request,
            "jobs.html",
            user,
            jobs=page.jobs,
            filters=filters,
            ranges=ranges,
            statuses=[s.value for s in JobStatus],
            first_url=here if q.get("before") else None,
            next_url=(
                f"/jobs?{urlencode(kept | {'before': page.next_cursor})}"
                if page.next_cursor
                else None
            ),
            searched_to=page.searched_to,
            window=JOB_WINDOW,
            here=(
                f"/jobs?{urlencode(kept | {'before': q['before']})}" if q.get("before") else here
            ),
            retry_filters={k: filters[k] for k in RETRY_FILTERS if filters[k]},
            retry_refused=_retry_refusal(filters, ranges),
        )

    async def job(request: Request) -> Response:
        user = dash.user(request)
        try:
            job_id = await dash.app.resolve_job_id(request.path_params["job_id"])
        except RequestError as exc:
            raise HTTPException(404, str(exc)) from exc
        details = await dash.app.job_details(job_id)
        if details is None:
            raise HTTPException(404, f"no job {job_id}")
        return dash.render(request, "job.html", user, details=details)

    async def failures(request: Request) -> Response:
        user = dash.user(request)
        groups = await store.reports.failure_groups(
            dash.app.db, limit=FAILURE_GROUPS, window=FAILURE_WINDOW
        )
        return dash.render(request, "failures.html", user, groups=groups, window=FAILURE_WINDOW)

    async def workers(request: Request) -> Response:
        user = dash.user(request)
        report = await dash.report()
        now = dash.app.clock()
        ages: dict[str, float | None] = {}
        for worker in report["workers"]:
            beat = parse_timestamp(worker.get("last_heartbeat_at"))
            ages[worker["worker_id"]] = round((now - beat).total_seconds(), 1) if beat else None
        return dash.render(request, "workers.html", user, report=report, ages=ages)

    async def throttling(request: Request) -> Response:
        user = dash.user(request)
        return dash.render(request, "throttling.html", user, report=await dash.report())

    async def action(request: Request) -> Response:
        """One POSTed action: auth, then read-only refusal, then CSRF, then the action
        in its own transaction, logged with who did what."""
        user = dash.user(request)
        if not dash.allow_actions:
            raise HTTPException(403, "read-only: start with --allow-actions to act")
        fields = parse_qs((await request.body()).decode())
        form = {k: v[0] for k, v in fields.items()}
        if not hmac.compare_digest(form.get("csrf", ""), dash.csrf_token(user)):
            raise HTTPException(403, "missing or invalid CSRF token")
        name = request.path_params["name"]
        app = dash.app
        back = form.get("next") or "/"
        if not back.startswith("/") or back.startswith("//"):
            back = "/"
        try:
            if name in ("retry", "cancel"):
                job_id = await app.resolve_job_id(form.get("job_id", ""))
                if name == "retry":
                    report = await app.retry_jobs([job_id])
                    outcome: Any = len(report.redriven)
                else:
                    outcome = await app.cancel(job_id, reason=f"cancelled by {user} (web)")
                target: str = job_id
            elif name == "retry_matching":
                refused = _retry_refusal(form, form)
                if refused:
                    raise RequestError(refused)
                chosen = {k: form.get(k) or None for k in RETRY_FILTERS}
                target = urlencode({k: v for k, v in chosen.items() if v}) or "all"
                report = await app.retry_jobs(
                    statuses=[chosen["status"]] if chosen["status"] else RETRYABLE_STATUSES,
                    task_type=chosen["task_type"],
                    target_entity_type=chosen["target_entity_type"],
                )
                outcome = {"redriven": len(report.redriven), "skipped": len(report.skipped)}
                back = _with_notice(
                    back, f"retried {outcome['redriven']} jobs, skipped {outcome['skipped']}"
                )
            elif name == "cancel_selected":
                picked = fields.get("job_id", [])
                if not picked or len(picked) > MAX_SELECTED:
                    raise RequestError(f"select between 1 and {MAX_SELECTED} jobs to cancel")
                cancelled = await app.cancel_jobs(picked, reason=f"cancelled by {user} (web)")
                target = ",".join(picked)
                outcome = len(cancelled)
                back = _with_notice(back, f"cancelled {outcome} of {len(picked)} selected jobs")
            elif name == "pause":
                target = form.get("scope", "")
                duration = form.get("for") or ""
                until = app.clock() + parse_duration(duration) if duration else None
                outcome = format_timestamp(
                    await app.pause(target, until=until, reason=form.get("reason", ""))
                )
            elif name == "resume":
                target = form.get("scope", "")
                outcome = await app.resume(target)
            elif name == "prune":
                target = form.get("older_than", "")
                older: timedelta = parse_duration(target)
                outcome = await app.prune(older_than=older)
            else:
                raise HTTPException(404, f"no action {name!r}")
        except (RequestError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from exc
        log.warning("web_action", user=user, action=name, target=target, outcome=outcome)
        return RedirectResponse(back, status_code=303)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        template = dash.env.from_string(
            "<!doctype html><title>{{ code }}</title><h1>{{ code }}</h1><p>{{ detail }}</p>"
        )
        return HTMLResponse(
            template.render(code=exc.status_code, detail=exc.detail),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    routes = [
        Route("/", overview),
        Route("/jobs", jobs),
        Route("/jobs/{job_id}", job),
        Route("/failures", failures),
        Route("/workers", workers),
        Route("/throttling", throttling),
        Route("/actions/{name}", action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        lifespan=dash.lifespan,
        exception_handlers={HTTPException: http_error},
    )


def _moment(text: str | None) -> datetime | None:
    """A time-range bound from the URL: ISO text (a ``datetime-local`` input's
    ``2026-12-04T08:30`` included), UTC unless it names an offset."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RequestError(f"{text!r} is not a date and time (e.g. 2026-12-04T08:30)") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _retry_refusal(filters: dict[str, Any], ranges: dict[str, Any]) -> str | None:
    """Why "retry every job matching this filter" cannot take this filter, or None.

    A redrive selects by status, task and target type (``queue/redrive.py``); rather
    than retry more than the operator sees, a filter it cannot apply refuses the action.
    """
    extra = [k for k in (*JOB_FILTERS, *JOB_RANGES) if k not in RETRY_FILTERS]
    given = [k for k in extra if filters.get(k) or ranges.get(k)]
    if given:
        return f"bulk retry filters by status, task and target type only: clear {', '.join(given)}"
    status = filters.get("status")
    if status and status not in RETRYABLE_STATUSES:
        return f"{status} jobs are not retried: only {', '.join(RETRYABLE_STATUSES)}"
    return None


def _with_notice(back: str, notice: str) -> str:
    """The redirect target with a one-line outcome for the page to show."""
    return f"{back}{'&' if '?' in back else '?'}{urlencode({'notice': notice})}"


__all__ = ["create_app"]
