"""The last stage of every run: what it learned, as a :class:`RunReport`, written to its folder.

:func:`finish_sync_report` (``sync`` and ``plan``) and :func:`finish_apply_report` (``apply``
of a saved plan) differ only in where the rows and counts come from; :func:`build_report` puts
the rest together the same way for both, and :func:`run_exit_code` decides the exit code.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ..apply import ApplyResult
from ..errors import ApiError, ExitCode, RefusedError
from ..models import (
    NO_CAMPAIGN_GIVEN,
    ROW_COLUMNS,
    ApplyCount,
    Count,
    OpKind,
    OpOutcome,
    OpResult,
    RowIssue,
    RowOutcome,
    SourceInfo,
    zero_counts,
)
from ..report import RunReport, write_report
from ..report.files import write_summary
from ..sync.issuetable import IssueTable
from ..sync.outcomes import campaign_counts, row_outcomes
from ..sync.plan import Plan, build_plan
from .campaigns import LeadSource
from .state import CampaignsApi, Run

#: The progress name of building every row's outcome (the writing's is ``report``).
OUTCOMES_STAGE = "outcomes"
#: Row counts saved with a plan so that ``apply``'s report can show them.
ROW_KEYS = (Count.ROWS_READ, Count.ROWS_VALID, Count.ROWS_REJECTED, Count.ROWS_DUPLICATE)


def finish_sync_report(run: Run, client: CampaignsApi) -> RunReport:
    """The report of ``sync`` and ``plan``: every input row's outcome, counts per campaign."""
    settings, request = run.settings, run.request
    read, targets, current, plan = run.read, run.targets, run.current, run.plan
    verification = run.verification
    if current is not None:
        current.release_remote()  # the rows' outcomes come from the diffs and the plan
    issues = IssueTable.concat([read.issues if read else [], targets.issues if targets else []])
    names = {cid: c.name for cid, c in (targets.campaigns.items() if targets else [])}
    failed_campaigns = (
        {
            cid: f"campaign {names.get(cid, cid)} could not be read: {current.errors.get(cid, '')}"
            for cid, complete in current.complete.items()
            if not complete
        }
        if current is not None
        else {}
    )
    messages = list(failed_campaigns.values())
    results = run.applied.results if run.applied is not None else None
    if plan is not None and targets is not None:
        rows = row_outcomes(
            targets.desired,
            run.diffs,
            plan,
            results,
            issues,
            lead_ids=verification.lead_ids if verification else {},
            failed_campaigns=failed_campaigns,
            progress=functools.partial(run.progress, OUTCOMES_STAGE) if run.progress else None,
        )
        messages += plan.messages
    else:
        empty = build_plan({}, {}, settings.sync)
        rows = row_outcomes({}, {}, empty, None, issues, lead_ids={}, failed_campaigns={})
    remote_before = current.remote_counts() if current else {}
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
            read.leads["campaign"].fillna(request.campaign or NO_CAMPAIGN_GIVEN)
        ):
            c = counts.setdefault(str(label), {})
            c[Count.ROWS_READ] = c.get(Count.ROWS_READ, 0) + len(frame)
            c[Count.ROWS_VALID] = c.get(Count.ROWS_VALID, 0) + len(frame)
    return build_report(
        run,
        client,
        command="plan" if request.plan_out is not None else "sync",
        mode=settings.sync.mode,
        rows=rows,
        counts=counts,
        issues=issues,
        sources=list(read.sources) if read else [],
        settings_shown=settings.redacted(),
        messages=messages,
        status_before={
            c.name: dict(c.leads_by_status) for c in (targets.campaigns.values() if targets else [])
        },
        status_after=_status_after(client, names, run),
    )


def finish_apply_report(run: Run, client: CampaignsApi) -> RunReport:
    """The report of ``leadsync apply``: one line per input row the saved plan touches."""
    assert run.saved is not None, "apply's report needs the saved plan"
    saved, applied, verification = run.saved, run.applied, run.verification
    plan = saved.plan
    results = applied.results if applied else []
    remote_before = run.current.remote_counts() if run.current else {}
    counts = campaign_counts(
        plan.campaigns,
        {},
        [],
        plan,
        results if applied else None,
        verification,
        remote_before=remote_before,
    )
    for name, rows in saved.meta.get("rows", {}).items():
        for key in ROW_KEYS:
            counts.setdefault(name, zero_counts())[key] = int(rows.get(key, 0))
    if applied is None:
        for c in counts.values():
            c[Count.REMOTE_AFTER] = c[Count.REMOTE_BEFORE]
    return build_report(
        run,
        client,
        command="apply",
        mode=str(plan.policy.mode),
        rows=apply_rows(plan, results, verification.lead_ids if verification else {}),
        counts=counts,
        issues=[],
        sources=list(saved.sources),
        settings_shown=saved.settings,
        messages=[],
        status_before={plan.campaigns.get(c, c): s for c, s in plan.status_before.items()},
        status_after={},
        overrides=list(saved.meta.get("overrides", [])),
    )


def build_report(
    run: Run,
    client: CampaignsApi,
    *,
    command: Any,
    mode: str,
    rows: pd.DataFrame,
    counts: dict[str, dict[str, int]],
    issues: Sequence[RowIssue],
    sources: list[SourceInfo],
    settings_shown: dict[str, Any],
    messages: list[str],
    status_before: dict[str, dict[str, int]],
    status_after: dict[str, dict[str, int]],
    overrides: list[str] | None = None,
) -> RunReport:
    """What every command's report shares: exit code, times, API counters, operations,
    messages (the interruption first, the stopping error last)."""
    applied, plan = run.applied, run.saved.plan if run.saved else run.plan
    verification = run.verification
    all_messages = [
        *interruption(applied),
        *run.messages,
        *messages,
        *(verification.messages if verification else []),
        *([str(run.error)] if run.error else []),
    ]
    return RunReport(
        command=command,
        exit_code=int(run_exit_code(run, counts)),
        dry_run=run.request.dry_run,
        mode=mode,
        started_at=run.started_at,
        finished_at=datetime.now(UTC),
        job=run.request.job,
        overrides=list(run.overrides if overrides is None else overrides),
        api=dict(client.counters.as_dict()) if hasattr(client, "counters") else {},
        timings=dict(run.timings),
        sources=sources,
        settings=settings_shown,
        campaigns=counts,
        rows=rows,
        issues=issues,
        operations=list(applied.results if applied else []),
        kept=plan.kept if plan is not None else pd.DataFrame(),
        drift=plan.drift if plan is not None else pd.DataFrame(),
        status_before=status_before,
        status_after=status_after,
        messages=all_messages,
        refusal=str(run.error) if isinstance(run.error, RefusedError) else None,
        interrupted=bool(applied is not None and applied.interrupted),
    )


def publish_report(report: RunReport, run: Run) -> RunReport:
    """Write the report folder; ``summary.json`` is re-written last with every stage's time
    (the report's own and the writing's, ``write``), so a complete summary means a complete
    folder."""
    t0 = time.perf_counter()
    write_report(report, run.folder, progress=run.progress)
    report.timings = {**run.timings, "write": round(time.perf_counter() - t0, 4)}
    write_summary(report, run.folder)
    return report


def run_exit_code(run: Run, counts: Mapping[str, Mapping[str, int]]) -> ExitCode:
    """The stopping error's code; else 1 when anything failed, remains, or could not be read."""
    applied = run.applied
    if run.error is not None:
        return run.error.exit_code
    if applied is not None and (applied.interrupted or not applied.ok):
        return ExitCode.FAILED
    if any(c.get(Count.FAILED, 0) or c.get(Count.RESIDUAL, 0) for c in counts.values()):
        return ExitCode.FAILED
    if run.current is not None and not all(run.current.complete.values()):
        return ExitCode.FAILED
    return ExitCode.OK


def interruption(applied: ApplyResult | None) -> list[str]:
    """The message of an apply stopped by a signal (none otherwise)."""
    if applied is None or not applied.interrupted:
        return []
    skipped = applied.counts.get(ApplyCount.SKIPPED, 0)
    return [
        f"stopped by a signal (SIGTERM or Ctrl-C) while applying: {skipped:,} operation(s) "
        "were not started; every call in flight finished and is recorded in "
        "operations.jsonl. Run the same command again to finish: it re-reads the campaigns "
        "and does only what is still missing."
    ]


def apply_rows(
    plan: Plan, results: list[OpResult], lead_ids: Mapping[tuple[str, str], str]
) -> pd.DataFrame:
    """``rows.csv`` for ``apply``: one line per input row the plan touches."""
    by_op = {r.op_id: r for r in results}
    records = []
    for op in plan.operations:
        if op.source is None or (op.kind is OpKind.SET_STATUS and op.lead_id is None):
            continue
        r = by_op.get(op.op_id)
        ok = r is not None and r.outcome in (OpOutcome.DONE, OpOutcome.SETTLED_PRESENT)
        outcome = (
            (RowOutcome.ADDED if op.kind is OpKind.ADD else RowOutcome.STATUS_SET)
            if ok
            else RowOutcome.FAILED
        )
        lead_id = op.lead_id or lead_ids.get((op.campaign_id, op.key))
        file, sheet, row = op.source
        message = "" if ok else (r.message if r else "not applied")
        records.append(
            (file, sheet, row, op.campaign, op.key, outcome, lead_id, op.reason, message)
        )
    rows = pd.DataFrame.from_records(records, columns=list(ROW_COLUMNS))
    rows["row"] = rows["row"].astype("Int64")
    return rows


def _status_after(client: LeadSource, names: dict[str, str], run: Run) -> dict[str, dict[str, int]]:
    if run.applied is None or run.error is not None or not names:
        return {}
    try:
        return {c.name: dict(c.leads_by_status) for c in client.campaigns() if c.id in names}
    except ApiError as err:
        run.messages.append(f"could not read campaign counts after applying: {err}")
        return {}
