"""What happened to each input row and each campaign: plan + apply + verify → report tables.

Pure functions over the values the pipeline stages produce. ``row_outcomes`` gives one line per
input row (``report.model.ROW_COLUMNS``); ``campaign_counts`` gives the ``COUNT_KEYS`` of every
campaign; both feed :class:`leadsync.report.RunReport`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from .diff import CampaignDiff
from .models import (
    IssueKind,
    Operation,
    OpKind,
    OpOutcome,
    OpResult,
    RowIssue,
    zero_counts,
)
from .plan import Plan, is_removal
from .report.model import ROW_COLUMNS

_DONE = (OpOutcome.DONE, OpOutcome.SETTLED_PRESENT)


@dataclass
class Verification:
    """What the re-read after applying found (empty in a dry run)."""

    residual: dict[str, int] = field(default_factory=dict)  # campaign id -> outstanding ops
    remote_after: dict[str, int] = field(default_factory=dict)  # campaign id -> lead count
    lead_ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (cid, key) -> id
    messages: list[str] = field(default_factory=list)


def row_outcomes(
    desired: Mapping[str, pd.DataFrame],
    diffs: Mapping[str, CampaignDiff],
    plan: Plan,
    results: Iterable[OpResult] | None,
    issues: Iterable[RowIssue],
    *,
    lead_ids: Mapping[tuple[str, str], str],
    failed_campaigns: Mapping[str, str],
) -> pd.DataFrame:
    """One line per input row: where it came from, what became of it, the lead id.

    ``results`` is None for a dry run (outcomes are then ``planned_*``). Rows of a campaign in
    ``failed_campaigns`` (id → why) are ``failed`` with that message.
    """
    by_op = {r.op_id: r for r in results} if results is not None else None
    ops_by_source: dict[tuple[str, str | None, int], list[Operation]] = {}
    for op in plan.operations:
        if op.source is not None and not is_removal(op):
            ops_by_source.setdefault(op.source, []).append(op)
    skipped = _skipped_sources(plan)
    frames: list[pd.DataFrame] = []
    for cid, frame in desired.items():
        if frame.empty:
            continue
        diff = diffs.get(cid)
        matched = diff.matched["lead_id"] if diff is not None else pd.Series(dtype="string")
        drift_rows = set(diff.matched.index[diff.matched["drift"]]) if diff is not None else set()
        records = []
        for label, row in zip(frame.index, frame.itertuples(index=False), strict=True):
            source = (row.file, None if pd.isna(row.sheet) else row.sheet, int(row.row))
            key = row.number
            lead_id = matched.get(label)
            lead_id = None if lead_id is None or pd.isna(lead_id) else str(lead_id)
            if cid in failed_campaigns:
                outcome, reasons, message = "failed", "campaign-unreadable", failed_campaigns[cid]
            else:
                outcome, reasons, message = _outcome(
                    ops_by_source.get(source, []), by_op, source in skipped
                )
                if label in drift_rows and outcome == "unchanged":
                    reasons, message = "drift", "fields differ from the campaign's lead (see Drift)"
            if lead_id is None:
                lead_id = lead_ids.get((cid, key))
            records.append(
                (
                    row.file,
                    source[1],
                    source[2],
                    row.campaign,
                    key,
                    outcome,
                    lead_id,
                    reasons,
                    message,
                )
            )
        frames.append(pd.DataFrame.from_records(records, columns=list(ROW_COLUMNS)))
    issue_records = [
        (
            i.file,
            i.sheet,
            i.row,
            i.campaign,
            i.number,
            i.kind.value,
            None,
            ";".join(i.codes),
            i.message,
        )
        for i in issues
    ]
    if issue_records:
        frames.append(pd.DataFrame.from_records(issue_records, columns=list(ROW_COLUMNS)))
    if not frames:
        from .report.model import empty_rows

        return empty_rows()
    rows = pd.concat(frames, ignore_index=True)
    rows["row"] = rows["row"].astype("Int64")
    return rows.sort_values(
        ["file", "sheet", "row"], kind="stable", na_position="first"
    ).reset_index(drop=True)


def _skipped_sources(plan: Plan) -> set[tuple[str, str | None, int]]:
    if plan.skipped.empty or not {"file", "row"} <= set(plan.skipped.columns):
        return set()
    sheets = plan.skipped["sheet"] if "sheet" in plan.skipped else [None] * len(plan.skipped)
    return {
        (f, None if pd.isna(s) else s, int(r))
        for f, s, r in zip(plan.skipped["file"], sheets, plan.skipped["row"], strict=True)
    }


def _outcome(
    ops: list[Operation], by_op: Mapping[int, OpResult] | None, skipped: bool
) -> tuple[str, str, str]:
    """(outcome, reasons, message) of one input row from the operations planned for it."""
    if not ops:
        if skipped:
            return "unchanged", "exists-in-account", "the number is already in another campaign"
        return "unchanged", "", ""
    main = next((op for op in ops if op.kind is OpKind.ADD), ops[0])
    if by_op is None:
        planned = "planned_add" if main.kind is OpKind.ADD else "planned_status"
        return planned, main.reason, ""
    failures = [
        by_op[op.op_id] for op in ops if op.op_id in by_op and by_op[op.op_id].outcome not in _DONE
    ]
    result = by_op.get(main.op_id)
    if result is None or result.outcome not in _DONE:
        why = result.message if result is not None else "not applied"
        return "failed", main.reason, why
    outcome = "added" if main.kind is OpKind.ADD else "status_set"
    if failures:
        f = failures[0]
        return (
            outcome,
            "status-after-add-failed",
            f"lead added; setting its status failed: {f.message}",
        )
    return outcome, main.reason, ""


def campaign_counts(
    names: Mapping[str, str],
    desired: Mapping[str, pd.DataFrame],
    issues: Iterable[RowIssue],
    plan: Plan | None,
    results: Iterable[OpResult] | None,
    verification: Verification | None,
    *,
    remote_before: Mapping[str, int],
) -> dict[str, dict[str, int]]:
    """Every ``COUNT_KEYS`` count per campaign name (rows naming no known campaign are
    counted under the name they gave)."""
    counts: dict[str, dict[str, int]] = {}

    def bucket(name: str) -> dict[str, int]:
        return counts.setdefault(name, zero_counts())

    for cid, name in names.items():
        c = bucket(name)
        valid = len(desired.get(cid, ()))
        c["rows_valid"] += valid
        c["rows_read"] += valid
        c["remote_before"] = int(remote_before.get(cid, 0))
        c["remote_after"] = c["remote_before"]
        if plan is not None and cid in plan.counts:
            pc = plan.counts[cid]
            for key in (
                "planned_add",
                "planned_delete",
                "planned_status",
                "unchanged",
                "drift",
                "kept",
            ):
                c[key] = int(pc.get(key, 0))
    by_name = {name.casefold(): name for name in names.values()}
    by_id = dict(names)
    for issue in issues:
        ref = issue.campaign or "(none)"
        name = by_id.get(ref) or by_name.get(ref.casefold(), ref)
        c = bucket(name)
        c["rows_read"] += 1
        if issue.kind is IssueKind.DUPLICATE:
            c["rows_duplicate"] += 1
        else:
            c["rows_rejected"] += 1
    if results is not None and plan is not None:
        ops = {op.op_id: op for op in plan.operations}
        for r in results:
            op = ops[r.op_id]
            c = bucket(names.get(op.campaign_id, op.campaign))
            if r.outcome in _DONE:
                if op.kind is OpKind.ADD:
                    c["added"] += 1
                elif is_removal(op):  # hard or soft removal, as the plan counts them
                    c["deleted"] += 1
                else:  # status changes and statuses set after an add
                    c["status_set"] += 1
            elif r.outcome in (OpOutcome.FAILED, OpOutcome.UNCERTAIN):
                c["failed"] += 1
    if verification is not None:
        for cid, n in verification.residual.items():
            bucket(names.get(cid, cid))["residual"] = int(n)
        for cid, n in verification.remote_after.items():
            bucket(names.get(cid, cid))["remote_after"] = int(n)
    return counts
