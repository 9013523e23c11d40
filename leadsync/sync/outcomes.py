"""What happened to each input row and each campaign: plan + apply + verify → report tables.

Pure functions over the values the pipeline stages produce. ``row_outcomes`` gives one line per
input row (``models.ROW_COLUMNS``); ``campaign_counts`` gives the ``COUNT_KEYS`` of every
campaign; both feed :class:`leadsync.report.RunReport`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..models import (
    NO_CAMPAIGN_GIVEN,
    ROW_COLUMNS,
    UNKNOWN_CAMPAIGN,
    IssueKind,
    OpKind,
    OpOutcome,
    OpResult,
    RowIssue,
    empty_rows,
    zero_counts,
)
from .diff import CampaignDiff
from .plan import REASON_STATUS_AFTER_ADD, Plan, is_removal

_DONE = (OpOutcome.DONE, OpOutcome.SETTLED_PRESENT)
#: rows.csv message of a row whose operation never started (the run was stopped first).
NOT_STARTED_MESSAGE = "not started: the run stopped before this operation; run it again"


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
    ``failed_campaigns`` (id → why) are ``failed`` with that message. Vectorized: a million
    rows take a few seconds, not minutes.
    """
    ops = _row_ops(plan, results)
    skipped = _skipped_sources(plan)
    frames: list[pd.DataFrame] = []
    for cid, frame in desired.items():
        if frame.empty:
            continue
        rows = pd.DataFrame(
            {
                "file": frame["file"].astype("string"),
                "sheet": frame["sheet"].astype("string"),
                "row": frame["row"].astype("Int64"),
                "campaign": frame["campaign"].astype("string"),
                "number": frame["number"].astype("string"),
            }
        )
        diff = diffs.get(cid)
        if diff is not None:
            rows["lead_id"] = diff.matched["lead_id"].reindex(rows.index).astype("string")
            drift = diff.matched["drift"].reindex(rows.index).fillna(False).astype(bool)
        else:
            rows["lead_id"] = pd.Series(pd.NA, index=rows.index, dtype="string")
            drift = pd.Series(False, index=rows.index)
        learned = {key: lid for (c, key), lid in lead_ids.items() if c == cid}
        if learned:
            rows["lead_id"] = rows["lead_id"].fillna(rows["number"].map(learned))
        rows = _join_ops(rows, ops)
        if cid in failed_campaigns:
            rows["outcome"], rows["reasons"] = "failed", "campaign-unreadable"
            rows["message"] = failed_campaigns[cid]
        else:
            _fill_no_op(rows, drift.to_numpy(), skipped)
        frames.append(rows[list(ROW_COLUMNS)])
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
        return empty_rows()
    out = pd.concat([f.astype({"row": "Int64"}) for f in frames], ignore_index=True)
    return out.sort_values(["file", "sheet", "row"], kind="stable", na_position="first")[
        list(ROW_COLUMNS)
    ].reset_index(drop=True)


#: Columns of the per-source operations table joined onto input rows.
_OP_COLUMNS = ("file", "sheet_key", "row", "outcome", "reasons", "message")


def _row_ops(plan: Plan, results: Iterable[OpResult] | None) -> pd.DataFrame:
    """One line per input row that an operation touches: its outcome, reason and message."""
    by_op = {r.op_id: r for r in results} if results is not None else None
    main: dict[tuple[str, str, int], tuple[str, str, str]] = {}
    follow_failed: dict[tuple[str, str, int], str] = {}
    for op in plan.operations:
        if op.source is None or is_removal(op):
            continue
        file, sheet, row = op.source
        src = (file, sheet or "", int(row))
        if op.reason == REASON_STATUS_AFTER_ADD:
            r = by_op.get(op.op_id) if by_op is not None else None
            if r is not None and r.outcome not in _DONE:
                follow_failed[src] = r.message
            continue
        if by_op is None:
            planned = "planned_add" if op.kind is OpKind.ADD else "planned_status"
            main[src] = (planned, op.reason, "")
            continue
        r = by_op.get(op.op_id)
        if r is not None and r.outcome in _DONE:
            main[src] = ("added" if op.kind is OpKind.ADD else "status_set", op.reason, "")
        elif r is None or r.outcome is OpOutcome.SKIPPED:
            why = (r.message if r is not None else "") or NOT_STARTED_MESSAGE
            main[src] = ("not_started", op.reason, why)
        else:
            main[src] = ("failed", op.reason, r.message)
    for src, message in follow_failed.items():
        if src in main and main[src][0] == "added":
            main[src] = (
                "added",
                "status-after-add-failed",
                f"lead added; setting its status failed: {message}",
            )
    if not main:
        return pd.DataFrame(
            {c: pd.Series(dtype="Int64" if c == "row" else "string") for c in _OP_COLUMNS}
        )
    files, sheets, rows_ = zip(*main.keys(), strict=True)
    outcomes, reasons, messages = zip(*main.values(), strict=True)
    return pd.DataFrame(
        {
            "file": pd.array(files, dtype="string"),
            "sheet_key": pd.array(sheets, dtype="string"),
            "row": pd.array(rows_, dtype="Int64"),
            "outcome": pd.array(outcomes, dtype="string"),
            "reasons": pd.array(reasons, dtype="string"),
            "message": pd.array(messages, dtype="string"),
        }
    )


def _join_ops(rows: pd.DataFrame, ops: pd.DataFrame) -> pd.DataFrame:
    keyed = rows.assign(sheet_key=rows["sheet"].fillna(""))
    joined = keyed.merge(ops, on=["file", "sheet_key", "row"], how="left", validate="m:1")
    joined.index = rows.index
    return joined.drop(columns="sheet_key")


def _fill_no_op(
    rows: pd.DataFrame, drift: np.ndarray, skipped: set[tuple[str, str | None, int]]
) -> None:
    """Rows no operation touches: unchanged (noting drift, or a number found in another
    campaign when ``dedupe_scope = "account"``)."""
    none = rows["outcome"].isna().to_numpy()
    if skipped:
        src = list(zip(rows["file"], rows["sheet"].fillna(""), rows["row"], strict=True))
        in_account = np.fromiter(
            ((f, s or None, int(r)) in skipped for f, s, r in src), bool, len(src)
        )
    else:
        in_account = np.zeros(len(rows), bool)
    reasons = np.where(in_account, "exists-in-account", np.where(drift, "drift", ""))
    messages = np.where(
        in_account,
        "the number is already in another campaign",
        np.where(drift, "fields differ from the campaign's lead (see Drift)", ""),
    )
    rows["outcome"] = rows["outcome"].where(~none, "unchanged")
    rows["reasons"] = rows["reasons"].where(~none, pd.array(reasons, dtype="string"))
    rows["message"] = rows["message"].where(~none, pd.array(messages, dtype="string"))


def _skipped_sources(plan: Plan) -> set[tuple[str, str | None, int]]:
    if plan.skipped.empty or not {"file", "row"} <= set(plan.skipped.columns):
        return set()
    sheets = plan.skipped["sheet"] if "sheet" in plan.skipped else [None] * len(plan.skipped)
    return {
        (f, None if pd.isna(s) else s, int(r))
        for f, s, r in zip(plan.skipped["file"], sheets, plan.skipped["row"], strict=True)
    }


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
    """Every ``COUNT_KEYS`` count per campaign name; rows naming a campaign that does not
    exist are counted under :data:`~leadsync.models.UNKNOWN_CAMPAIGN`, rows naming none under
    :data:`~leadsync.models.NO_CAMPAIGN_GIVEN`."""
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
        ref = issue.campaign or NO_CAMPAIGN_GIVEN
        known = by_id.get(ref) or by_name.get(ref.casefold())
        # Rows naming a campaign that does not exist are counted together, not one made-up
        # campaign per misspelled name (rows.csv and rejected.csv keep the name each gave).
        c = bucket(known or (UNKNOWN_CAMPAIGN if issue.campaign else NO_CAMPAIGN_GIVEN))
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
            elif r.outcome is OpOutcome.SKIPPED:
                c["not_started"] += 1
    if verification is not None:
        for cid, n in verification.residual.items():
            bucket(names.get(cid, cid))["residual"] = int(n)
        for cid, n in verification.remote_after.items():
            bucket(names.get(cid, cid))["remote_after"] = int(n)
    return counts
