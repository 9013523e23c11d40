"""What every page shares: the console's state, rendering (autoescaped templates), errors,
progress events, and :func:`post` (the CSRF check in front of every POST handler)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.templating import Jinja2Templates

from .. import __version__
from ..config import Settings
from ..reader.limits import DEFAULT_LIMITS, Limits
from .history import page_rows
from .imports import ImportStore
from .review import Page
from .security import CSRF_FIELD, BodyTooLarge, checked_form, session_of
from .tasks import Task

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
#: Seconds between two progress events of a running task.
EVENT_INTERVAL_S = 0.4
#: Longest text search kept from a query string.
MAX_QUERY_CHARS = 200


@dataclass
class ConsoleOptions:
    """How the console runs (from ``leadsync serve``'s flags)."""

    token: str
    cwd: Path
    #: Uploads and saved plans; a private temporary folder (removed on exit) when None.
    work_dir: Path | None = None
    limits: Limits = DEFAULT_LIMITS
    sandbox_note: str | None = None  # shown on every page when the API is the embedded sandbox


@dataclass
class JobRun:
    """A "dry run now" of a configured job."""

    name: str
    task: Task


@dataclass
class Console:
    """What every request handler reaches through ``request.app.state.console``."""

    settings: Settings
    options: ConsoleOptions
    store: ImportStore
    roots: list[Path]
    mappings_dir: Path  # named column mappings
    templates: Jinja2Templates
    job_runs: dict[str, JobRun] = field(default_factory=dict)

    @property
    def upload_limit(self) -> int:
        """Largest upload request: the reader's largest file (several files share it)."""
        return self.options.limits.max_file_bytes


def console_of(request: Request) -> Console:
    console = request.app.state.console
    assert isinstance(console, Console)
    return console


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` (autoescaped) with the session's CSRF token."""
    console = console_of(request)
    return console.templates.TemplateResponse(
        request,
        name,
        {
            "csrf": session_of(request).csrf,
            "csrf_field": CSRF_FIELD,
            "version": __version__,
            "sandbox_note": console.options.sandbox_note,
            "nav": "",
            **context,
        },
        status_code=status_code,
        headers={"cache-control": "no-store"},
    )


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status, status=status, message=message)


async def task_events(request: Request, task: Task) -> StreamingResponse:
    """Server-sent events: the task's progress whenever it changes, then ``end``."""

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        ended = asyncio.Event()

        def wake() -> None:  # in the task's thread
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(ended.set)

        forget = task.on_end(wake)
        last = None
        try:
            while True:
                snap = await run_in_threadpool(task.snapshot)
                text = json.dumps(snap)
                if text != last:
                    yield f"data: {text}\n\n"
                    last = text
                if snap["state"] != "running":
                    yield "event: end\ndata: {}\n\n"
                    return
                if await request.is_disconnected():
                    return
                # The next look after EVENT_INTERVAL_S, or at once when the task ends.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), EVENT_INTERVAL_S)
        finally:
            forget()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


def templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["count"] = lambda n: "–" if n is None else f"{int(n):,}"
    return Jinja2Templates(env=env)


Handler = Callable[[Request, FormData], Awaitable[Response]]


def post(handler: Handler, *, max_files: int = 0) -> Callable[[Request], Awaitable[Response]]:
    """A POST endpoint: the form, once its CSRF token is checked (403 otherwise)."""

    async def endpoint(request: Request) -> Response:
        try:
            form = await checked_form(request, max_files=max_files)
        except BodyTooLarge as err:
            return error_page(request, 413, f"{err}; the limit is the reader's file limit")
        if form is None:
            return error_page(request, 403, "this form is out of date (no valid CSRF token)")
        try:
            return await handler(request, form)
        finally:
            await form.close()

    return endpoint


def int_param(value: Any, default: int = 1) -> int:
    """A page number (or index) from a query parameter; ``default`` when it is not one."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def search_text(request: Request) -> str:
    """The text search of the page (``?q=``), cut to :data:`MAX_QUERY_CHARS`."""
    return (request.query_params.get("q") or "")[:MAX_QUERY_CHARS]


async def rows_page(
    request: Request, path: Path, outcome: str | None
) -> tuple[Page, dict[str, int]]:
    """The page of ``path`` (a rows.csv) the query asks for, and the count of each outcome."""
    return await run_in_threadpool(
        page_rows,
        path,
        page=int_param(request.query_params.get("page")),
        outcome=outcome,
        query=search_text(request),
    )
