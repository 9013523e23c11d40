"""The console's long work, each the library call a CLI command makes (nothing here implements
a stage): inspect, plan, apply, a job's dry run, run in :class:`~leadsync.console.tasks.Task`
threads.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..api import CampaignsClient
from ..apply import JOURNAL_NAME
from ..config import Settings
from ..errors import ConfigError, ExitCode, LeadsyncError
from ..jobs.runner import run_job
from ..report import RunReport
from ..report.folder import new_report_folder
from ..run.inspect import inspect_file
from ..run.pipeline import run_apply, run_sync
from ..run.planfile import load_plan, paused_gc, read_back
from ..run.reviewed import plan_difference
from ..run.state import SyncRequest
from .imports import ApplyRound, Import, PlanRound
from .review import build_review
from .tasks import Task, apply_watch

log = logging.getLogger(__name__)


def import_settings(base: Settings, imp: Import) -> Settings:
    """``base`` with the import's choices (mode, region, sheet, header row) and its
    ``[columns]`` table. Raises ConfigError naming a bad choice."""
    data = base.model_dump()
    for key in ("mode", "region", "sheet", "header_row"):
        if (value := getattr(imp.options, key)) is not None:
            data["sync"][key] = value
    if imp.columns is not None:
        data["columns"] = dict(imp.columns)
    try:
        return Settings(**data)
    except ValidationError as err:
        raise ConfigError(
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        ) from None


def inspect_import(imp: Import, settings: Settings) -> None:
    """Preview every uploaded file (sheet, header row, first rows, detected fields)."""
    previews = []
    try:
        for upload in imp.uploads:
            previews.extend(inspect_file(upload.path, settings))
    except LeadsyncError as err:
        imp.inspect_error = str(err)
    imp.previews = previews


def make_plan(task: Task, imp: Import, base: Settings, *, allow_mass_delete: bool) -> PlanRound:
    """``leadsync plan`` of the import's files: a dry run that saves the reviewed plan (unless
    a guard refuses it) and writes its report folder; then the review tables."""
    settings = import_settings(base, imp)
    number = len(imp.plans) + 1
    out = imp.folder / f"console-{imp.id}-{number}.json"
    out.unlink(missing_ok=True)
    previous = imp.plan
    folder = new_report_folder(settings.sync.report_dir, f"console-{imp.label}", datetime.now(UTC))
    request = SyncRequest(
        tuple(u.path for u in imp.uploads),
        campaign=imp.options.campaign,
        dry_run=True,
        allow_mass_delete=allow_mass_delete,
        report_dir=folder,
        plan_out=out,
    )
    # The plan is saved and read back at once: read_back spares parsing and hashing again
    # the file just written (it is still checked, and read from disk if it changed). The
    # collector is paused meanwhile: a plan builds millions of objects and almost no cycles,
    # and each full collection walks everything alive (bench/RESULTS.md has the cost).
    with read_back(), paused_gc():
        report = run_sync(settings, request, progress=task.report, stop=task.stop)
        task.report("review", 0, None)
        saved = load_plan(out) if out.exists() else None
        review = build_review(report, saved)
    difference = None
    if previous is not None and previous.saved is not None and saved is not None:
        difference = plan_difference(previous.saved.plan, saved.plan)
    return PlanRound(
        number=number,
        path=out,
        report=report,
        saved=saved,
        review=review,
        difference=difference,
    )


def apply_reviewed(task: Task, imp: Import, base: Settings, plan: PlanRound) -> ApplyRound:
    """``leadsync apply`` of the reviewed plan. run_apply holds the lock of every campaign it
    touches (the lock every writing run takes: CLI, jobs, console) and refuses a stale or
    already applied plan; a plan refused for a lock stays approvable."""
    assert plan.saved is not None, "only a saved plan can be approved"
    settings = import_settings(base, imp)
    try:
        client = CampaignsClient(settings.api)
    except LeadsyncError as err:
        return ApplyRound(plan.number, error=str(err))
    with client:
        folder = new_report_folder(
            settings.sync.report_dir, f"console-{imp.label}-apply", datetime.now(UTC)
        )
        task.watch = apply_watch(
            folder / JOURNAL_NAME, client.counters.as_dict, settings.api.concurrency
        )
        report = run_apply(
            settings,
            plan.path,
            report_dir=folder,
            client=client,
            progress=task.report,
            stop=task.stop,
        )
    if report.exit_code == ExitCode.LOCKED:
        return ApplyRound(plan.number, error=report.messages[0] if report.messages else None)
    done = ApplyRound(plan.number, report=report)
    if not done.stale:
        imp.remove_files()
    return done


def dry_run_job(task: Task, settings: Settings, name: str, cwd: Path) -> RunReport:
    """``leadsync sync --job NAME --dry-run``: raises LockedError when the job is running."""
    return run_job(settings, name, cwd=cwd, dry_run=True, progress=task.report, stop=task.stop)


def campaign_list(settings: Settings) -> list[Any]:
    """The live campaigns with their counts by status (the API's campaign report)."""
    with CampaignsClient(settings.api) as client:
        return list(client.campaigns())
