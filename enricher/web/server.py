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
from datetime import datetime, timedelta
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
from enricher.clock import format_timestamp, parse_timestamp
from enricher.config import Settings
from enricher.db import store
from enricher.db.connector import redact_url
from enricher.durations import parse_duration
from enricher.errors import RequestError
from enricher.observe.report import collect
from enricher.status import JobStatus

log = structlog.get_logger("enricher.web")

HERE = Path(__file__).parent
#: Jobs per page of the jobs list.
PAGE_SIZE = 50
#: Failure groups shown.
FAILURE_GROUPS = 100
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

    def __init__(self, settings: Settings, *, allow_actions: bool | None) -> None:
        self.settings = settings
        self.allow_actions = (
            settings.web.allow_actions if allow_actions is None else allow_actions
        )
        self.secret = secrets.token_bytes(32)
        self.env = _environment()
        self._app: Enricher | None = None

    @property
    def app(self) -> Enricher:
        if self._app is None:
            raise RuntimeError("the dashboard's Enricher is not open (lifespan not run)")
        return self._app

    @asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        self._app = await Enricher.open(self.settings)
        try:
            yield
        finally:
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


def create_app(settings: Settings, *, allow_actions: bool | None = None) -> Starlette:
    """The dashboard as an ASGI app; it opens its own :class:`Enricher` in its lifespan.
    ``allow_actions`` overrides ``settings.web.allow_actions``."""
    dash = Dashboard(settings, allow_actions=allow_actions)

    async def overview(request: Request) -> Response:
        user = dash.user(request)
        return dash.render(request, "overview.html", user, report=await collect(dash.app))

    async def jobs(request: Request) -> Response:
        user = dash.user(request)
        q = request.query_params
        filters = {
            key: q.get(key) or None
            for key in ("status", "task_type", "target_entity_type", "error")
        }
        try:
            page = max(1, int(q.get("page", "1")))
        except ValueError:
            page = 1
        try:
            rows = await dash.app.list_jobs(
                statuses=[filters["status"]] if filters["status"] else None,
                task_type=filters["task_type"],
                target_entity_type=filters["target_entity_type"],
                error_text=filters["error"],
                limit=PAGE_SIZE + 1,
                offset=(page - 1) * PAGE_SIZE,
            )
        except RequestError as exc:
            raise HTTPException(400, str(exc)) from exc
        kept = {k: v for k, v in filters.items() if v}
        return dash.render(
            request,
            "jobs.html",
            user,
            jobs=rows[:PAGE_SIZE],
            filters=filters,
            statuses=[s.value for s in JobStatus],
            page=page,
            prev_url=f"/jobs?{urlencode(kept | {'page': page - 1})}" if page > 1 else None,
            next_url=(
                f"/jobs?{urlencode(kept | {'page': page + 1})}"
                if len(rows) > PAGE_SIZE
                else None
            ),
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
        groups = await store.reports.failure_groups(dash.app.db, limit=FAILURE_GROUPS)
        return dash.render(request, "failures.html", user, groups=groups)

    async def workers(request: Request) -> Response:
        user = dash.user(request)
        report = await collect(dash.app)
        now = dash.app.clock()
        ages: dict[str, float | None] = {}
        for worker in report["workers"]:
            beat = parse_timestamp(worker.get("last_heartbeat_at"))
            ages[worker["worker_id"]] = round((now - beat).total_seconds(), 1) if beat else None
        return dash.render(request, "workers.html", user, report=report, ages=ages)

    async def throttling(request: Request) -> Response:
        user = dash.user(request)
        return dash.render(request, "throttling.html", user, report=await collect(dash.app))

    async def action(request: Request) -> Response:
        """One POSTed action: auth, then read-only refusal, then CSRF, then the action
        in its own transaction, logged with who did what."""
        user = dash.user(request)
        if not dash.allow_actions:
            raise HTTPException(403, "read-only: start with --allow-actions to act")
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
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


__all__ = ["create_app"]
