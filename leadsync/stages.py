"""The stages of :func:`leadsync.pipeline.run_sync` that sit between the library parts.

:class:`Run` carries what a run accumulates (timings, the report folder, the value each stage
produced, the error that stopped it); the functions here glue reader, diff, plan, apply and
report together without any of them knowing about the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from .apply import ApplyResult, Journal
from .apply.journal import JOURNAL_NAME
from .campaigns import Current, Targets, fetch_remote
from .config import Settings
from .diff import CampaignDiff, diff_campaign
from .errors import ApiError, ExitCode, InputError, LeadsyncError, RefusedError
from .jobs import archive_sources, new_report_folder
from .logs import log_context
from .models import IssueKind, OpKind, ReadResult, RowIssue
from .outcomes import Verification, campaign_counts, row_outcomes
from .plan import Plan, PlanPolicy, build_plan, check_guards, fingerprint_remote
from .report import RunReport, write_before_csv, write_report
from .report.files import write_summary

if TYPE_CHECKING:
    from .pipeline import SyncRequest

log = logging.getLogger(__name__)
T = TypeVar("T")
Progress = Callable[[str, int, int | None], None]


@dataclass
class Run:
    """What one run has gathered so far."""

    settings: Settings
    request: SyncRequest
    folder: Path
    started_at: datetime
    progress: Progress | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    timings: dict[str, float] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    error: LeadsyncError | None = None
    messages: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        settings: Settings,
        request: SyncRequest,
        *,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        now: datetime | None = None,
    ) -> Run:
        started = now or datetime.now(UTC)
        label = request.job or (request.sources[0].stem if request.sources else "sync")
        if request.report_dir is not None:  # --report-dir names the folder itself
            folder = request.report_dir
            folder.mkdir(parents=True, exist_ok=True)
        else:
            root = request.report_root or settings.sync.report_dir
            folder = new_report_folder(root, label, started)
        return cls(
            settings=settings,
            request=request,
            folder=folder,
            started_at=started,
            progress=progress,
            stop=stop or threading.Event(),
        )

    def stage(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one stage: time it, tag its log lines with ``stage``, keep its value."""
        t0 = time.perf_counter()
        try:
            with log_context(stage=name):
                value = fn(*args, **kwargs)
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 4)
        self.values[name] = value
        return value

    def fail(self, err: LeadsyncError) -> None:
        """Remember the error that stopped the run; the report carries it."""
        if self.request_is_mirror() and isinstance(err, InputError) and "read" not in self.values:
            # A mirror fed an unreadable file must never be mistaken for "remove everything".
            err = RefusedError(
                f"refusing to mirror: the input could not be read ({err}); nothing was written",
                guard="empty-mirror",
            )
        log.error("%s", err)
        self.error = err

    def request_is_mirror(self) -> bool:
        return self.settings.sync.mode == "mirror"


# --- diff -----------------------------------------------------------------------------------
def diff_targets(targets: Targets, current: Current, settings: Settings) -> dict[str, CampaignDiff]:
    """One diff per campaign whose leads all loaded (the others are left untouched: without
    every page we can neither add safely — the lead may be on a missing page — nor delete)."""
    diffs: dict[str, CampaignDiff] = {}
    for cid, desired in targets.desired.items():
        if not current.complete.get(cid, False):
            continue
        unique, dupes = _unique_numbers(desired)
        targets.issues.extend(dupes)
        targets.desired[cid] = unique
        diffs[cid] = diff_campaign(unique, current.remote[cid], statuses=settings.sync.statuses)
    return diffs


def _unique_numbers(desired: pd.DataFrame) -> tuple[pd.DataFrame, list[RowIssue]]:
    """Rows naming one campaign two ways (name and id) can repeat a number: first wins."""
    dup = desired["number"].duplicated(keep="first")
    if not dup.any():
        return desired, []
    first_row = desired.loc[~dup].set_index("number")["row"]
    issues = [
        RowIssue(
            file=r.file,
            sheet=None if pd.isna(r.sheet) else r.sheet,
            row=int(r.row),
            kind=IssueKind.DUPLICATE,
            codes=("duplicate",),
            message=f"same campaign and number as row {int(first_row[r.number])}",
            values={},
            campaign=r.campaign,
            number=r.number,
            duplicate_of_row=int(first_row[r.number]),
        )
        for r in desired.loc[dup].itertuples(index=False)
    ]
    return desired.loc[~dup], issues


# --- plan and guard -------------------------------------------------------------------------
def plan_changes(
    diffs: dict[str, CampaignDiff], targets: Targets, current: Current, settings: Settings
) -> Plan:
    """The operations that close the gap, with each campaign's state fingerprint."""
    plan = build_plan(
        diffs,
        targets.campaigns,
        PlanPolicy.from_settings(settings.sync),
        account_keys=current.account_keys,
    )
    plan.fingerprints = {cid: fingerprint_remote(current.remote[cid]) for cid in diffs}
    return plan


def guard_plan(
    plan: Plan,
    read: ReadResult,
    targets: Targets,
    current: Current,
    settings: Settings,
    request: SyncRequest,
) -> list[str]:
    """Refuse what the safety guards forbid; returns the overrides used (for the report)."""
    issues = [*read.issues, *targets.issues]
    rejected = sum(1 for i in issues if i.kind is IssueKind.REJECTED)
    valid = sum(len(d) for d in targets.desired.values())
    rows_read = valid + len(issues)
    return check_guards(
        plan,
        PlanPolicy.from_settings(settings.sync),
        rows_valid=valid,
        rows_rejected=rejected,
        rows_read=rows_read,
        complete_fetch=current.complete,
        allow_mass_delete=request.allow_mass_delete,
    )


# --- apply and verify -----------------------------------------------------------------------
def apply_changes(
    plan: Plan,
    current: Current,
    client: Any,
    settings: Settings,
    run: Run,
    *,
    apply: Callable[..., ApplyResult],
) -> ApplyResult | None:
    """Apply the plan (nothing in a dry run). Saves ``before.csv`` first when anything will be
    removed; journals every operation to ``operations.jsonl`` as it finishes."""
    if run.request.dry_run:
        return None
    removing = sorted({op.campaign_id for op in plan.removals()})
    if removing:
        write_before_csv(
            pd.concat([current.remote[c] for c in removing], ignore_index=True), run.folder
        )

    def refetch(cid: str) -> pd.DataFrame:
        return fetch_remote(
            client, cid, region=settings.sync.region, page_size=settings.api.page_size
        )

    def on_progress(done: int, total: int) -> None:
        if run.progress is not None:
            run.progress("apply", done, total)

    with Journal(run.folder / JOURNAL_NAME) as journal:
        result = apply(
            plan.operations,
            client,
            concurrency=settings.api.concurrency,
            journal=journal,
            stop=run.stop,
            progress=on_progress,
            fetch_remote=refetch,
            raise_fatal=False,
        )
    run.values["apply"] = result
    if result.fatal is not None:
        raise result.fatal
    return result


def verify_changes(
    plan: Plan,
    targets: Targets,
    client: Any,
    settings: Settings,
    applied: ApplyResult | None,
) -> Verification:
    """Re-read every campaign the plan touched and recompute what is still to do (residual);
    learn the ids of added leads. Nothing to verify in a dry run."""
    if applied is None:
        return Verification()
    verification = Verification(lead_ids=dict(applied.lead_ids))
    policy = PlanPolicy.from_settings(settings.sync)
    touched = sorted({op.campaign_id for op in plan.operations})
    added = {(op.campaign_id, op.key) for op in plan.operations if op.kind is OpKind.ADD}
    for cid in touched:
        try:
            remote = fetch_remote(
                client, cid, region=settings.sync.region, page_size=settings.api.page_size
            )
        except ApiError as err:
            outstanding = sum(
                1 for r in applied.results if r.campaign_id == cid and r.outcome.value != "done"
            )
            verification.residual[cid] = outstanding
            verification.messages.append(
                f"could not re-read campaign {plan.campaigns.get(cid, cid)} to verify: {err}"
            )
            continue
        verification.remote_after[cid] = len(remote)
        again = diff_campaign(targets.desired[cid], remote, statuses=settings.sync.statuses)
        redo = build_plan({cid: again}, targets.campaigns, policy)
        verification.residual[cid] = len(redo.operations)
        ids = remote.drop_duplicates("key").set_index("key")["id"]
        for c, key in added:
            if c == cid and key in ids.index:
                verification.lead_ids[(c, key)] = str(ids[key])
    return verification


# --- report ---------------------------------------------------------------------------------
def finish_report(run: Run, client: Any) -> RunReport:
    """Everything the run learned, as a RunReport with its exit code."""
    v = run.values
    settings, request = run.settings, run.request
    read: ReadResult | None = v.get("read")
    targets: Targets | None = v.get("resolve")
    current: Current | None = v.get("fetch")
    diffs: dict[str, CampaignDiff] = v.get("diff", {})
    plan: Plan | None = v.get("plan")
    applied: ApplyResult | None = v.get("apply")
    verification: Verification | None = v.get("verify")
    issues = [*(read.issues if read else []), *(targets.issues if targets else [])]
    names = {cid: c.name for cid, c in (targets.campaigns.items() if targets else [])}
    failed_campaigns = {
        cid: f"campaign {names.get(cid, cid)} could not be read: {current.errors.get(cid, '')}"
        for cid in (current.complete if current else {})
        if current is not None and not current.complete[cid]
    }
    messages = list(run.messages) + list(failed_campaigns.values())
    results = applied.results if applied is not None else None
    if plan is not None and targets is not None:
        rows = row_outcomes(
            targets.desired,
            diffs,
            plan,
            results,
            issues,
            lead_ids=verification.lead_ids if verification else {},
            failed_campaigns=failed_campaigns,
        )
        messages += plan.messages
    else:
        rows = row_outcomes(
            {}, {}, _empty_plan(settings), None, issues, lead_ids={}, failed_campaigns={}
        )
    if verification is not None:
        messages += verification.messages
    remote_before = {cid: len(frame) for cid, frame in (current.remote.items() if current else [])}
    counts = campaign_counts(
        names,
        targets.desired if targets else {},
        issues,
        plan,
        results,
        verification,
        remote_before=remote_before,
    )
    if read is not None and targets is None:
        # The run stopped before campaigns were resolved: count the rows under their label.
        for label, frame in read.leads.groupby(
            read.leads["campaign"].fillna(request.campaign or "(none)")
        ):
            c = counts.setdefault(str(label), {})
            c["rows_read"] = c.get("rows_read", 0) + len(frame)
            c["rows_valid"] = c.get("rows_valid", 0) + len(frame)
    exit_code = _exit_code(run, applied, counts)
    report = RunReport(
        command="plan" if request.plan_out is not None else "sync",
        exit_code=int(exit_code),
        dry_run=request.dry_run,
        mode=settings.sync.mode,
        started_at=run.started_at,
        finished_at=datetime.now(UTC),
        job=request.job,
        overrides=list(v.get("guard", [])),
        api=dict(client.counters.as_dict()) if hasattr(client, "counters") else {},
        timings=dict(run.timings),
        sources=list(read.sources) if read else [],
        settings=settings.redacted(),
        campaigns=counts,
        rows=rows,
        issues=issues,
        operations=list(results or []),
        kept=plan.kept if plan is not None else pd.DataFrame(),
        drift=plan.drift if plan is not None else pd.DataFrame(),
        status_before={
            c.name: dict(c.leads_by_status) for c in (targets.campaigns.values() if targets else [])
        },
        status_after=_status_after(client, names, run, applied),
        messages=interruption(applied) + messages + ([str(run.error)] if run.error else []),
        refusal=str(run.error) if isinstance(run.error, RefusedError) else None,
        interrupted=bool(applied is not None and applied.interrupted),
    )
    return report


def publish_report(report: RunReport, run: Run) -> RunReport:
    """Write the report folder; ``summary.json`` is re-written last with every stage's time
    (the report's own and the writing's, ``write``), so a complete summary means a complete
    folder."""
    t0 = time.perf_counter()
    write_report(report, run.folder, progress=run.progress)
    report.timings = {**run.timings, "write": round(time.perf_counter() - t0, 4)}
    write_summary(report, run.folder)
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


def _empty_plan(settings: Settings) -> Plan:
    return build_plan({}, {}, PlanPolicy.from_settings(settings.sync))


def _status_after(
    client: Any, names: dict[str, str], run: Run, applied: ApplyResult | None
) -> dict[str, dict[str, int]]:
    if applied is None or run.error is not None or not names:
        return {}
    try:
        return {c.name: dict(c.leads_by_status) for c in client.campaigns() if c.id in names}
    except ApiError as err:
        run.messages.append(f"could not read campaign counts after applying: {err}")
        return {}


def interruption(applied: ApplyResult | None) -> list[str]:
    """The message of an apply stopped by a signal (none otherwise)."""
    if applied is None or not applied.interrupted:
        return []
    skipped = applied.counts.get("skipped", 0)
    return [
        f"stopped by a signal (SIGTERM or Ctrl-C) while applying: {skipped:,} operation(s) "
        "were not started; every call in flight finished and is recorded in "
        "operations.jsonl. Run the same command again to finish: it re-reads the campaigns "
        "and does only what is still missing."
    ]


def _exit_code(
    run: Run, applied: ApplyResult | None, counts: dict[str, dict[str, int]]
) -> ExitCode:
    if run.error is not None:
        return run.error.exit_code
    if applied is not None and (applied.interrupted or not applied.ok):
        return ExitCode.FAILED
    if any(c.get("failed", 0) or c.get("residual", 0) for c in counts.values()):
        return ExitCode.FAILED
    failed_campaigns = run.values.get("fetch")
    if failed_campaigns is not None and not all(failed_campaigns.complete.values()):
        return ExitCode.FAILED
    return ExitCode.OK
