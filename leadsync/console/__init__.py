"""The ops console (``leadsync serve``): upload, map, review and approve a sync in a browser.

A local web app (Starlette, served by uvicorn) over the same library calls as the CLI:
``run/inspect`` previews a file, ``run_sync`` with ``plan_out`` makes the reviewed plan,
``run_apply`` applies exactly that plan, ``run_job`` dry-runs a job. Modules: ``app`` (the
factory), ``pages`` (what every page shares: state, rendering, progress events, the CSRF-checked
POST), ``security`` (access token, sessions, CSRF, headers),
``routes_imports``, ``routes_review`` and ``routes_runs`` (the pages), ``imports`` (an import),
``flows`` (the library calls, in worker threads of ``tasks``), ``mapping`` (column mappings),
``review`` (the plan as paginated tables), ``history`` (report folders).
"""

from __future__ import annotations

from .app import create_app
from .pages import ConsoleOptions
from .security import new_token

__all__ = ["ConsoleOptions", "create_app", "new_token"]
