"""The console's ASGI app: :func:`create_app` builds it from Settings and :class:`ConsoleOptions`.

The CLI (``leadsync serve``) reads the config and the environment once and hands this module
the Settings and the access token; nothing here reads ``os.environ``. Pages are Jinja2
templates with autoescaping (every file name, sheet name, header and cell is text, never
markup); long work runs in worker threads (:mod:`.tasks`) and its progress streams to the page
as server-sent events.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..config import Settings
from . import routes_imports, routes_review, routes_runs
from .history import report_roots
from .imports import ImportStore
from .pages import HERE, Console, ConsoleOptions, error_page, templates
from .security import Guard, Sessions

log = logging.getLogger(__name__)


async def _error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        status, detail = exc.status_code, str(exc.detail)
    else:
        log.exception("console request failed", exc_info=exc)
        status, detail = 500, "internal error; see the console's log"
    if "leadsync.session" not in request.scope:
        return HTMLResponse(f"<h1>{status}</h1>", status_code=status)
    return error_page(request, status, detail)


def create_app(settings: Settings, options: ConsoleOptions) -> Starlette:
    """The console app for ``settings`` (the API, [sync], [columns], jobs) and ``options``."""
    owns = options.work_dir is None
    work_dir = options.work_dir or Path(tempfile.mkdtemp(prefix="leadsync-console-"))
    report_root = settings.sync.report_dir
    if not report_root.is_absolute():
        report_root = options.cwd / report_root
        settings = settings.model_copy(
            update={"sync": settings.sync.model_copy(update={"report_dir": report_root})}
        )
    console = Console(
        settings=settings,
        options=options,
        store=ImportStore(work_dir),
        roots=report_roots(settings, options.cwd),
        mappings_dir=report_root / ".console" / "mappings",
        templates=templates(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(lambda: console.store.close(remove_root=owns))

    routes = [
        *routes_imports.ROUTES,
        *routes_review.ROUTES,
        *routes_runs.ROUTES,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _error, Exception: _error},
    )
    app.state.console = console
    app.add_middleware(
        Guard, sessions=Sessions(options.token), uploads={"/imports": console.upload_limit}
    )
    return app
