"""The whole sync, one stage a line.

    read → resolve campaigns → fetch current leads → diff → plan → guard → apply → verify → report

:func:`run_sync` is the job; each stage is a function from one value to the next, timed and
shown on the progress display. A stage that raises a :class:`LeadsyncError` (bad file, refused
plan, unreachable API) still ends in a written report whose exit code says what happened.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

from ..api import CampaignsClient
from ..config import Settings
from ..errors import LeadsyncError
from ..reader import read_sources
from ..report import RunReport
from .campaigns import CampaignLookup, fetch_current, resolve_campaigns
from .finish import finish_apply_report, finish_sync_report, publish_report
from .lock import campaign_lock_dir, campaign_locks
from .planfile import load_plan
from .reviewed import apply_saved_plan, check_plan_current, save_reviewed_plan
from .sources import expand_sources
from .stages import apply_changes, diff_targets, guard_plan, plan_changes, verify_changes
from .state import CampaignsApi, Progress, Run, SyncRequest


def run_sync(
    settings: Settings,
    request: SyncRequest,
    *,
    client: CampaignsApi | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Run one sync and write its report folder; returns the report (``exit_code`` set).

    Never raises a LeadsyncError: bad input (2), refusals (3) and an unreachable API (4) end
    in a report saying so. ``stop`` (set on Ctrl-C/SIGTERM) stops starting new operations.
    """
    owned = CampaignsClient(settings.api) if client is None else None  # ConfigError: exit 2
    api: CampaignsApi = client or owned  # type: ignore[assignment]
    run = Run.start(settings, request, progress=progress, stop=stop)
    sync, region = settings.sync, settings.sync.region
    locks = ExitStack()
    try:
        # fmt: off
        lookup = CampaignLookup(api, request.campaign)  # lists the campaigns on first use
        run.read = read = run.stage("read", read_sources, list(request.sources), settings,
                                    campaign=request.campaign, progress=run.progress,
                                    campaign_problem=lookup.problem)
        run.targets = targets = run.stage("resolve", resolve_campaigns, read.leads, api,
                                          campaign=request.campaign, lookup=lookup)
        if not request.dry_run:  # one writer per campaign, from fetch to verify
            names = {cid: c.name for cid, c in targets.campaigns.items()}
            locks.enter_context(_hold(settings, names, run))
        run.current = current = run.stage("fetch", fetch_current, targets, api, region=region,
                                          page_size=settings.api.page_size,
                                          account_scope=sync.dedupe_scope == "account",
                                          concurrency=settings.api.concurrency,
                                          progress=run.progress)
        run.diffs = run.stage("diff", diff_targets, targets, current, settings,
                              progress=run.progress)
        run.plan = plan = run.stage("plan", plan_changes, run.diffs, targets, current, settings,
                                    fingerprint=request.plan_out is not None,
                                    progress=run.progress)
        run.overrides = run.stage("guard", guard_plan, plan, read, targets, current, settings,
                                  request)
        if request.plan_out is not None:
            run.stage("save", save_reviewed_plan, plan, read, targets, settings,
                      request.plan_out, run.overrides, request.campaign)
        run.applied = run.stage("apply", apply_changes, plan, current, api, settings, run)
        run.verification = run.stage("verify", verify_changes, plan, api, settings,
                                     run.applied, region=region, desired=targets.desired)
        # fmt: on
    except LeadsyncError as err:
        run.fail(err)
    finally:
        locks.close()
    # The run holds the stages' results from here: no second reference that would keep their
    # tables alive after run.release().
    read = targets = current = plan = None  # type: ignore[assignment]
    try:
        report = run.stage("report", finish_sync_report, run, api)
        run.release()  # the report holds all that is left to write
        report = publish_report(report, run)
    finally:
        if owned is not None:
            owned.close()
    return report


def run_apply(
    settings: Settings,
    plan_path: Path,
    *,
    report_dir: Path | None = None,
    replace_report: bool = False,
    client: CampaignsApi | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Apply a reviewed plan exactly: refuse (exit 3) when it was applied before or any of its
    campaigns changed since; then apply, verify each operation's effect, and report.

    Raises InputError (exit 2) when the plan file is unreadable or was edited."""
    saved = load_plan(plan_path)
    region = saved.settings.get("sync", {}).get("region", settings.sync.region)
    owned = CampaignsClient(settings.api) if client is None else None
    api: CampaignsApi = client or owned  # type: ignore[assignment]
    request = SyncRequest(
        (), report_dir=report_dir, replace_report=replace_report, job=f"apply-{plan_path.stem}"
    )
    run = Run.start(settings, request, progress=progress, stop=stop)
    run.saved = saved
    try:
        # fmt: off
        with _hold(settings, saved.plan.campaigns, run):
            run.current = current = run.stage("fetch", check_plan_current, saved, api, settings)
            run.applied = run.stage("apply", apply_saved_plan, saved, current, api, settings,
                                    run)
            run.verification = run.stage("verify", verify_changes, saved.plan, api, settings,
                                         run.applied, region=region)
        # fmt: on
    except LeadsyncError as err:
        run.fail(err)
    try:
        report = publish_report(run.stage("report", finish_apply_report, run, api), run)
    finally:
        if owned is not None:
            owned.close()
    return report


def _hold(settings: Settings, campaigns: dict[str, str], run: Run) -> AbstractContextManager[None]:
    """The campaign locks of a run that may change ``campaigns`` (id → name)."""
    return campaign_locks(campaign_lock_dir(settings), campaigns, run=run.request.label)


__all__ = ["Progress", "SyncRequest", "expand_sources", "run_apply", "run_sync"]
