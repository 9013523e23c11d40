"""The whole sync, one stage a line.

    read → resolve campaigns → fetch current leads → diff → plan → guard → apply → verify → report

:func:`run_sync` is the job; each stage is a function from one value to the next, timed and
shown on the progress display. A stage that raises a :class:`LeadsyncError` (bad file, refused
plan, unreachable API) still ends in a written report whose exit code says what happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..api import CampaignsClient
from ..apply import apply_plan
from ..config import Settings
from ..errors import ExitCode, InputError, LeadsyncError
from ..jobs.folders import job_paths, prune_reports, resolve_sources
from ..jobs.lock import JobLock
from ..jobs.notify import format_notification, notify
from ..logs import log_context
from ..reader import read_sources
from ..report import RunReport
from .campaigns import fetch_current, resolve_campaigns
from .planfile import load_plan
from .reviewed import (
    apply_saved_plan,
    check_plan_current,
    finish_apply_report,
    save_reviewed_plan,
    verify_plan_effects,
)
from .stages import (
    Run,
    apply_changes,
    archive_or_flag,
    diff_targets,
    finish_report,
    guard_plan,
    plan_changes,
    publish_report,
    verify_changes,
)

Progress = Callable[[str, int, int | None], None]


#: File types a SOURCE folder is searched for.
SOURCE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods")


def expand_sources(paths: tuple[Path, ...] | list[Path]) -> tuple[Path, ...]:
    """SOURCE arguments → files: a folder stands for its spreadsheets (sorted, not recursive).
    Raises InputError naming a path that does not exist or a folder with no spreadsheet."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file()
                and p.suffix.lower() in SOURCE_SUFFIXES
                and not p.name.startswith((".", "~$"))
            )
            if not found:
                raise InputError(
                    f"{path}: no spreadsheet files in this folder ({', '.join(SOURCE_SUFFIXES)})",
                    path=str(path),
                )
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file", path=str(path))
    return tuple(dict.fromkeys(files))


@dataclass(frozen=True)
class SyncRequest:
    """What the user asked for: the files and the flags of ``leadsync sync``."""

    sources: tuple[Path, ...]
    campaign: str | None = None
    dry_run: bool = False
    allow_mass_delete: bool = False
    report_dir: Path | None = None  # this run's folder (--report-dir)
    report_root: Path | None = None  # else a new <UTC time>_<label> folder under this root
    job: str | None = None
    plan_out: Path | None = None  # `leadsync plan`: a dry run that saves the reviewed plan


def run_sync(
    settings: Settings,
    request: SyncRequest,
    *,
    client: CampaignsClient | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Run one sync and write its report folder; returns the report (``exit_code`` set).

    Never raises a LeadsyncError: bad input (2), refusals (3) and an unreachable API (4) end
    in a report saying so. ``stop`` (set on Ctrl-C/SIGTERM) stops starting new operations.
    """
    api = client or CampaignsClient(settings.api)  # ConfigError (exit 2) before any folder
    run = Run.start(settings, request, progress=progress, stop=stop)
    sync, region = settings.sync, settings.sync.region
    try:
        # fmt: off
        read = run.stage("read", read_sources, list(request.sources), settings,
                         campaign=request.campaign, progress=run.progress)
        targets = run.stage("resolve", resolve_campaigns, read.leads, api,
                            campaign=request.campaign)
        current = run.stage("fetch", fetch_current, targets, api, region=region,
                            page_size=settings.api.page_size,
                            account_scope=sync.dedupe_scope == "account",
                            progress=run.progress)
        diffs = run.stage("diff", diff_targets, targets, current, settings)
        plan = run.stage("plan", plan_changes, diffs, targets, current, settings)
        overrides = run.stage("guard", guard_plan, plan, read, targets, current, settings,
                              request)
        if request.plan_out is not None:
            run.stage("save", save_reviewed_plan, plan, read, targets, settings,
                      request.plan_out, overrides, request.campaign)
        applied = run.stage("apply", apply_changes, plan, current, api, settings, run,
                            apply=apply_plan)
        run.stage("verify", verify_changes, plan, targets, api, settings, applied)
        # fmt: on
    except LeadsyncError as err:
        run.fail(err)
    try:
        report = publish_report(run.stage("report", finish_report, run, api), run)
    finally:
        if client is None:
            api.close()
    return report


def run_apply(
    settings: Settings,
    plan_path: Path,
    *,
    report_dir: Path | None = None,
    client: CampaignsClient | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Apply a reviewed plan exactly: refuse (exit 3) when it was applied before or any of its
    campaigns changed since; then apply, verify each operation's effect, and report.

    Raises InputError (exit 2) when the plan file is unreadable or was edited."""
    saved = load_plan(plan_path)
    region = saved.settings.get("sync", {}).get("region", settings.sync.region)
    api = client or CampaignsClient(settings.api)
    request = SyncRequest((), report_dir=report_dir, job=f"apply-{plan_path.stem}")
    run = Run.start(settings, request, progress=progress, stop=stop)
    try:
        # fmt: off
        current = run.stage("fetch", check_plan_current, saved, api, settings)
        applied = run.stage("apply", apply_saved_plan, saved, current, api, settings, run)
        run.stage("verify", verify_plan_effects, saved.plan, api, settings, region, applied)
        # fmt: on
    except LeadsyncError as err:
        run.fail(err)
    try:
        report = publish_report(run.stage("report", finish_apply_report, run, saved, api), run)
    finally:
        if client is None:
            api.close()
    return report


def run_job(
    settings: Settings,
    name: str,
    *,
    cwd: Path,
    dry_run: bool = False,
    allow_mass_delete: bool = False,
    client: CampaignsClient | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Run configured job ``name`` unattended: lock → its files → sync → archive → prune →
    notify. Raises LockedError (exit 5) when another run holds the job's lock (that run will
    report), InputError (exit 2) when no file matches its sources (notified first: a nightly
    job with nothing to read needs a person); otherwise returns the sync's report."""
    job = settings.job(name)
    paths = job_paths(settings, name, cwd=cwd)
    with log_context(job=name), JobLock(paths.lock_file, job=name):
        try:
            sources = resolve_sources(job, paths.base_dir)
        except InputError as err:
            if job.notify_url:
                summary = {"job": name, "exit_code": int(err.exit_code), "messages": [str(err)]}
                notify(job.notify_url, summary, f"leadsync job {name}: exit 2 — {err}")
            raise
        request = SyncRequest(
            tuple(sources),
            campaign=job.campaign,
            dry_run=dry_run,
            allow_mass_delete=allow_mass_delete,
            report_root=paths.report_root,
            job=name,
        )
        report = run_sync(
            settings.for_job(name), request, client=client, progress=progress, stop=stop
        )
        if report.exit_code == ExitCode.OK and paths.archive_dir and not dry_run:
            archive_or_flag(report, sources, paths.archive_dir)
        if job.keep_reports:
            prune_reports(paths.report_root, name, job.keep_reports)
        if job.notify_url:
            summary = report.summary_dict()
            notify(job.notify_url, summary, format_notification(name, summary, str(report.folder)))
    return report


__all__ = ["SyncRequest", "expand_sources", "run_apply", "run_job", "run_sync"]
