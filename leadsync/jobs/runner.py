"""Unattended runs: ``leadsync sync --job NAME`` — lock → its files → sync → archive → prune →
notify, each step around the same :func:`leadsync.run.pipeline.run_sync` the CLI calls."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ..config import Settings
from ..errors import ExitCode, InputError, LeadsyncError
from ..logs import log_context
from ..report import RunReport
from ..report.files import write_summary
from ..run.lock import JobLock
from ..run.pipeline import run_sync
from ..run.state import CampaignsApi, Progress, SyncRequest
from .folders import archive_sources, job_paths, prune_reports, resolve_sources
from .notify import format_notification, notify

log = logging.getLogger(__name__)


def run_job(
    settings: Settings,
    name: str,
    *,
    cwd: Path,
    dry_run: bool = False,
    allow_mass_delete: bool = False,
    client: CampaignsApi | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Run configured job ``name`` unattended. Raises LockedError (exit 5) when another run
    holds the job's lock (that run will report), InputError (exit 2) when no file matches its
    sources (notified first: a nightly job with nothing to read needs a person); otherwise
    returns the sync's report."""
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
        job_settings = settings.for_job(name)
        pinned = job_settings.sync.model_copy(update={"lock_dir": paths.campaign_lock_dir})
        job_settings = job_settings.model_copy(update={"sync": pinned})
        report = run_sync(job_settings, request, client=client, progress=progress, stop=stop)
        if report.exit_code == ExitCode.OK and paths.archive_dir and not dry_run:
            archive_or_flag(report, sources, paths.archive_dir)
        if job.keep_reports:
            prune_reports(paths.report_root, name, job.keep_reports)
        if job.notify_url:
            summary = report.summary_dict()
            notify(job.notify_url, summary, format_notification(name, summary, str(report.folder)))
    return report


def archive_or_flag(report: RunReport, sources: list[Path], archive_dir: Path) -> None:
    """Move the files a successful job run read into ``archive_dir``. A failure to move them
    does not undo the sync: it turns the run's exit code to 1 and says why in summary.json
    (the files stay where they were, so the next run reads them again and converges)."""
    try:
        archive_sources(sources, archive_dir, report.started_at)
    except (OSError, LeadsyncError) as err:
        log.error("the sync succeeded but its files could not be archived: %s", err)
        report.exit_code = int(ExitCode.FAILED)
        report.messages.append(f"the files could not be moved to {archive_dir}: {err}")
        if report.folder is not None:
            write_summary(report, report.folder)
