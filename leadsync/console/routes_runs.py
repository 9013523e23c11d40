"""History (every run's report folder), one run's page and files, and the configured jobs."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import LeadsyncError
from ..jobs.folders import TOTALS_SHOWN, job_paths, job_status, resolve_sources
from ..models import Count
from .flows import dry_run_job
from .history import RunEntry, find_run, list_runs, run_file, run_link
from .pages import JobRun, console_of, int_param, post, render, rows_page, task_events
from .review import PAGE_SIZE
from .security import REPORT_CSP
from .tasks import Task

#: Content types of the report files served for download.
MEDIA_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".html": "text/html; charset=utf-8",
}
#: The totals each line of the history lists: those of a job's summary line but residual.
HISTORY_KEYS: tuple[str, ...] = tuple(k for k in TOTALS_SHOWN if k != Count.RESIDUAL)
#: Dry runs of jobs remembered for the Jobs page.
MAX_JOB_RUNS = 50


def _entry(request: Request) -> RunEntry:
    console = console_of(request)
    entry = find_run(
        console.roots, int_param(request.path_params["root"], -1), request.path_params["name"]
    )
    if entry is None:
        raise HTTPException(404, "no such report folder")
    return entry


def _summary_line(summary: dict[str, Any] | None) -> dict[str, Any]:
    if summary is None:
        return {"finished": False}
    totals = summary.get("totals") or {}
    return {
        "finished": True,
        "headline": summary.get("headline") or "",
        "exit_code": summary.get("exit_code"),
        "exit_meaning": summary.get("exit_meaning") or "",
        "command": summary.get("command") or "",
        "dry_run": bool(summary.get("dry_run")),
        "job": summary.get("job") or "",
        "mode": summary.get("mode") or "",
        "totals": {k: totals.get(k, 0) for k in HISTORY_KEYS},
    }


async def history_page(request: Request) -> Response:
    console = console_of(request)
    runs = await run_in_threadpool(list_runs, console.roots)
    pages = max(1, math.ceil(len(runs) / PAGE_SIZE))
    page = min(max(1, int_param(request.query_params.get("page"))), pages)
    shown = runs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    lines = await run_in_threadpool(lambda: [(e, _summary_line(e.summary())) for e in shown])
    return render(
        request,
        "history.html",
        nav="history",
        lines=lines,
        history_keys=HISTORY_KEYS,
        page=page,
        pages=pages,
        total=len(runs),
        roots=console.roots,
    )


async def run_page(request: Request) -> Response:
    entry = _entry(request)
    summary = await run_in_threadpool(entry.summary)
    outcome = request.query_params.get("outcome") or None
    rows = run_file(entry, "rows.csv")
    page, counts = await rows_page(request, rows, outcome) if rows else (None, {})
    files = [
        n
        for n in (
            "report.html",
            "rows.csv",
            "rejected.csv",
            "report.xlsx",
            "summary.json",
            "operations.jsonl",
            "before.csv",
        )
        if run_file(entry, n)
    ]
    return render(
        request,
        "run.html",
        nav="history",
        entry=entry,
        base=f"/runs/{entry.root}/{entry.name}",
        summary=summary,
        line=_summary_line(summary),
        files=files,
        rows_page=page,
        counts=counts,
        outcome=outcome,
        query=request.query_params.get("q") or "",
    )


async def run_file_get(request: Request) -> Response:
    entry = _entry(request)
    name = request.path_params["file"]
    path = run_file(entry, name)
    if path is None:
        raise HTTPException(404, "no such report file")
    shown = name == "report.html" and not request.query_params.get("download")
    # Shown inside the console: a sandboxed frame of its own origin-less document.
    policy = {"content-security-policy": REPORT_CSP, "x-frame-options": "SAMEORIGIN"}
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(Path(name).suffix, "application/octet-stream"),
        filename=None if shown else f"{entry.name}-{name}",
        headers={"cache-control": "no-store"}
        | (policy if shown else {"content-security-policy": "sandbox"}),
    )


# --- jobs -----------------------------------------------------------------------------------
def _jobs_view(request: Request) -> list[dict[str, Any]]:
    console = console_of(request)
    settings, cwd = console.settings, console.options.cwd
    view = []
    for job in settings.jobs:
        item: dict[str, Any] = {"name": job.name, "error": None, "waiting": [], "status": None}
        try:
            item["status"] = job_status(settings, job.name, cwd=cwd)
            base = job_paths(settings, job.name, cwd=cwd).base_dir
            with contextlib.suppress(LeadsyncError):  # no file waiting
                item["waiting"] = [str(p) for p in resolve_sources(job, base)]
            last = item["status"]["last_run"]
            if last is not None:
                item["last_link"] = run_link(console.roots, Path(last["folder"]))
        except LeadsyncError as err:
            item["error"] = str(err)
        view.append(item)
    return view


async def jobs_page(request: Request) -> Response:
    console = console_of(request)
    jobs = await run_in_threadpool(_jobs_view, request)
    recent = sorted(console.job_runs.items(), key=lambda kv: kv[1].task.started, reverse=True)
    return render(
        request,
        "jobs.html",
        nav="jobs",
        jobs=jobs,
        recent=[(tid, r.name, r.task.snapshot()) for tid, r in recent[:10]],
    )


async def job_dry_run(request: Request, form: FormData) -> Response:
    console = console_of(request)
    name = request.path_params["name"]
    if name not in {j.name for j in console.settings.jobs}:
        raise HTTPException(404, "no such job")
    task = Task("dry-run").start(
        lambda t: dry_run_job(t, console.settings, name, console.options.cwd)
    )
    console.job_runs[task.id] = JobRun(name, task)
    while len(console.job_runs) > MAX_JOB_RUNS:
        del console.job_runs[next(iter(console.job_runs))]
    return RedirectResponse(f"/jobs/runs/{task.id}", status_code=303)


def _job_run(request: Request) -> JobRun:
    run = console_of(request).job_runs.get(request.path_params["tid"])
    if run is None:
        raise HTTPException(404, "no such job run")
    return run


async def job_run_page(request: Request) -> Response:
    console = console_of(request)
    run = _job_run(request)
    snap = run.task.snapshot()
    if run.task.running:
        return render(
            request,
            "progress.html",
            nav="jobs",
            title=f"Dry run of job {run.name}",
            task=snap,
            events=f"/jobs/runs/{run.task.id}/events",
            next_url=f"/jobs/runs/{run.task.id}",
        )
    report = run.task.result
    return render(
        request,
        "job_run.html",
        nav="jobs",
        run=run,
        snap=snap,
        summary=report.summary_dict() if report is not None else None,
        link=run_link(console.roots, report.folder) if report is not None else None,
    )


async def job_run_events(request: Request) -> Response:
    return await task_events(request, _job_run(request).task)


ROUTES = [
    Route("/history", history_page),
    Route("/runs/{root}/{name}", run_page),
    Route("/runs/{root}/{name}/files/{file}", run_file_get),
    Route("/jobs", jobs_page),
    Route("/jobs/{name}/dry-run", post(job_dry_run), methods=["POST"]),
    Route("/jobs/runs/{tid}", job_run_page),
    Route("/jobs/runs/{tid}/events", job_run_events),
]
