"""What happened to each input row and each campaign: plan + apply + verify → report tables.

Pure functions over the values the pipeline stages produce. ``row_outcomes`` gives one line per
input row (``models.ROW_COLUMNS``); ``campaign_counts`` gives the ``COUNT_KEYS`` of every
campaign; both feed :class:`leadsync.report.RunReport`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..models import (
    NO_CAMPAIGN_GIVEN,
    ROW_COLUMNS,
    UNKNOWN_CAMPAIGN,
    Count,
    IssueKind,
    OpKind,
    OpOutcome,
    OpResult,
    RowIssue,
    RowOutcome,
    empty_rows,
    zero_counts,
)
from .diff import CampaignDiff, arrow_text
from .issuetable import IssueTable
from .plan import PLAN_COUNT_KEYS, REASON_STATUS_AFTER_ADD, Plan, is_removal

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
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """One line per input row: where it came from, what became of it, the lead id; ordered by
    file, sheet and row (missing first).

    ``results`` is None for a dry run (outcomes are then ``planned_*``). Rows of a campaign in
    ``failed_campaigns`` (id → why) are ``failed`` with that message. Built as Arrow columns
    (operations are matched to rows by integer keys, the order is one integer sort), so a
    million rows make no Python object per row. ``progress(done, total)`` counts the rows.
    """
    ops = _row_ops(plan, results)
    skipped = _skipped_sources(plan)
    issues = IssueTable.from_issues(issues)
    total = sum(len(f) for f in desired.values()) + len(issues)
    done = 0
    tables: list[pa.Table] = []
    for cid, frame in desired.items():
        if frame.empty:
            continue
        tables.append(
            _campaign_rows(
                frame,
                diffs.get(cid),
                ops,
                skipped,
                learned={key: lid for (c, key), lid in lead_ids.items() if c == cid},
                failed=failed_campaigns.get(cid),
            )
        )
        done += len(frame)
        if progress is not None:
            progress(done, total)
    if issues:
        tables.append(issue_rows(issues))
    if progress is not None:
        progress(total, total)
    if not tables:
        return empty_rows()
    table = pa.concat_tables(tables)
    del tables
    table = table.take(pa.array(_source_order(table)))
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get, split_blocks=True, self_destruct=True)


#: Arrow types of the rows table → pandas dtypes (``row`` Int64, the rest ``string``).
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.large_string(): pd.StringDtype()}
_TEXT = pa.large_string()
#: Reasons and messages of rows no operation touches: nothing, drift, in another campaign
#: (plain lists: an Arrow array made at import would start Arrow's allocator in every command).
_NO_OP_REASONS = ["", "drift", "exists-in-account"]
_NO_OP_MESSAGES = [
    "",
    "fields differ from the campaign's lead (see Drift)",
    "the number is already in another campaign",
]
#: Source keys: (file, sheet) pair code × this + row number (row numbers stay below it).
_ROW_SPAN = 1 << 40


def _text(values: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """A text column as one Arrow ``large_string`` array (missing values null)."""
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else arrow_text(values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(_TEXT)


def _campaign_rows(
    frame: pd.DataFrame,
    diff: CampaignDiff | None,
    ops: _RowOps,
    skipped: set[tuple[str, str | None, int]],
    *,
    learned: Mapping[str, str],
    failed: str | None,
) -> pa.Table:
    """The rows of one campaign's desired leads, in the frame's order."""
    n = len(frame)
    file, sheet = _text(frame["file"]), _text(frame["sheet"])
    rows = pa.array(frame["row"].astype("Int64").array, type=pa.int64())
    number = _text(frame["number"])
    drift = np.zeros(n, dtype=bool)
    lead_id: pa.Array = pa.nulls(n, _TEXT)
    if diff is not None and len(diff.matched):
        pos = diff.matched["pos"].to_numpy()
        at = np.full(n, -1, dtype=np.int64)
        at[pos] = np.arange(len(pos))
        lead_id = pc.take(_text(diff.matched["lead_id"]), pa.array(at, mask=at < 0))
        drift[pos] = diff.matched["drift"].to_numpy(dtype=bool)
    if learned:
        found = [learned.get(key) for key in number.to_pylist()]  # after an apply: few rows
        lead_id = pc.coalesce(lead_id, pa.array(found, type=_TEXT))
    columns = {
        "file": file,
        "sheet": sheet,
        "row": rows,
        "campaign": _text(frame["campaign"]),
        "number": number,
        "lead_id": lead_id,
    }
    if failed is not None:
        columns |= {
            "outcome": pa.repeat(pa.scalar(RowOutcome.FAILED.value, _TEXT), n),
            "reasons": pa.repeat(pa.scalar("campaign-unreadable", _TEXT), n),
            "message": pa.repeat(pa.scalar(failed, _TEXT), n),
        }
        return pa.table(columns).select(list(ROW_COLUMNS))
    at = ops.find(file, sheet, rows)
    none = at < 0
    taken = pa.array(at, mask=none)
    in_account = _in_account(columns, skipped) if skipped else np.zeros(n, dtype=bool)
    # 0: nothing to say, 1: drift, 2: already in another campaign
    why = pa.array(np.where(in_account, 2, drift.astype(np.int8)).astype(np.int8))
    reasons = pc.take(pa.array(_NO_OP_REASONS, _TEXT), why)
    messages = pc.take(pa.array(_NO_OP_MESSAGES, _TEXT), why)
    mask = pa.array(none)
    columns |= {
        "outcome": pc.if_else(
            mask, pa.scalar(RowOutcome.UNCHANGED.value, _TEXT), ops.outcome.take(taken)
        ),
        "reasons": pc.if_else(mask, reasons, ops.reasons.take(taken)),
        "message": pc.if_else(mask, messages, ops.message.take(taken)),
    }
    return pa.table(columns).select(list(ROW_COLUMNS))


def _in_account(
    columns: Mapping[str, pa.Array], skipped: set[tuple[str, str | None, int]]
) -> np.ndarray:
    """Rows whose add ``dedupe_scope = "account"`` skipped (few: a set lookup per row)."""
    files = columns["file"].to_pylist()
    sheets = columns["sheet"].to_pylist()
    rows = columns["row"].to_pylist()
    return np.fromiter(
        (
            (f, s or None, int(r)) in skipped if r is not None else False
            for f, s, r in zip(files, sheets, rows, strict=True)
        ),
        dtype=bool,
        count=len(files),
    )


def issue_rows(issues: Iterable[RowIssue]) -> pa.Table:
    """The rows.csv lines of rejected and duplicate rows (one per issue), as Arrow: the
    columns of the :class:`IssueTable` (no Python object per issue)."""
    table = IssueTable.from_issues(issues).table
    n = table.num_rows
    return pa.table(
        {
            "file": table["file"],
            "sheet": table["sheet"],
            "row": table["row"],
            "campaign": table["campaign"],
            "number": table["number"],
            "outcome": table["kind"],
            "lead_id": pa.nulls(n, _TEXT),
            "reasons": table["codes"],
            "message": table["message"],
        }
    )


def _ranks(values: pa.ChunkedArray) -> np.ndarray:
    """Each value's rank among the distinct values (text order; missing first, as -1)."""
    encoded = pc.dictionary_encode(values.combine_chunks())
    names = encoded.dictionary.to_pylist()
    if not names:  # every value missing
        return np.full(len(values), -1, dtype=np.int64)
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.where(codes < 0, -1, rank[np.maximum(codes, 0)])


def _source_order(table: pa.Table) -> np.ndarray:
    """Positions ordering ``table`` by file, sheet, row (missing first; stable)."""
    if not table.num_rows:
        return np.arange(0)
    row = pc.fill_null(table["row"], -1).to_numpy().astype(np.int64)
    return np.lexsort((row, _ranks(table["sheet"]), _ranks(table["file"])))


@dataclass
class _RowOps:
    """One entry per input row an operation touches: its outcome, reasons and message,
    found by (file, sheet, row) with :meth:`find`."""

    pairs: dict[tuple[str, str], int]  # (file, sheet or "") -> pair code
    keys: pd.Index  # pair code × _ROW_SPAN + row, per entry
    outcome: pa.Array
    reasons: pa.Array
    message: pa.Array

    def find(self, file: pa.Array, sheet: pa.Array, rows: pa.Array) -> np.ndarray:
        """The entry of each row (-1 where no operation touches it)."""
        n = len(file)
        if not self.pairs or not n:
            return np.full(n, -1, dtype=np.int64)
        files = pc.dictionary_encode(pc.fill_null(file, ""))
        sheets = pc.dictionary_encode(pc.fill_null(sheet, ""))
        f_names, s_names = files.dictionary.to_pylist(), sheets.dictionary.to_pylist()
        lookup = np.array(
            [self.pairs.get((f, s), -1) for f in f_names for s in s_names], dtype=np.int64
        )
        f_codes = files.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        s_codes = sheets.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        pair = lookup[f_codes * len(s_names) + s_codes]
        row = pc.fill_null(rows, -1).to_numpy().astype(np.int64)
        keys = np.where((pair < 0) | (row < 0), -1, pair * _ROW_SPAN + row)
        at = self.keys.get_indexer(keys)
        return np.where(keys < 0, -1, at).astype(np.int64)


def _row_ops(plan: Plan, results: Iterable[OpResult] | None) -> _RowOps:
    """The outcome of every input row that an operation touches."""
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
            planned = RowOutcome.PLANNED_ADD if op.kind is OpKind.ADD else RowOutcome.PLANNED_STATUS
            main[src] = (planned, op.reason, "")
            continue
        r = by_op.get(op.op_id)
        if r is not None and r.outcome in _DONE:
            done = RowOutcome.ADDED if op.kind is OpKind.ADD else RowOutcome.STATUS_SET
            main[src] = (done, op.reason, "")
        elif r is None or r.outcome is OpOutcome.SKIPPED:
            why = (r.message if r is not None else "") or NOT_STARTED_MESSAGE
            main[src] = (RowOutcome.NOT_STARTED, op.reason, why)
        else:
            main[src] = (RowOutcome.FAILED, op.reason, r.message)
    for src, message in follow_failed.items():
        if src in main and main[src][0] == RowOutcome.ADDED:
            main[src] = (
                RowOutcome.ADDED,
                "status-after-add-failed",
                f"lead added; setting its status failed: {message}",
            )
    pairs: dict[tuple[str, str], int] = {}
    keys = [pairs.setdefault((f, s), len(pairs)) * _ROW_SPAN + r for f, s, r in main]
    outcomes, reasons, messages = zip(*main.values(), strict=True) if main else ((), (), ())
    return _RowOps(
        pairs=pairs,
        keys=pd.Index(np.array(keys, dtype=np.int64)),
        outcome=pa.array(outcomes, type=_TEXT),
        reasons=pa.array(reasons, type=_TEXT),
        message=pa.array(messages, type=_TEXT),
    )


def _skipped_sources(plan: Plan) -> set[tuple[str, str | None, int]]:
    skipped = plan.skipped
    return {
        (f, None if pd.isna(s) else s, int(r))
        for f, s, r in zip(skipped["file"], skipped["sheet"], skipped["row"], strict=True)
    }


def issue_counts(issues: Iterable[RowIssue]) -> list[tuple[str | None, IssueKind, int]]:
    """How many issues there are per (campaign as the row gave it, kind), in the order each
    pair first occurs (one group-by over the columns)."""
    table = IssueTable.from_issues(issues).table
    if not table.num_rows:
        return []
    pairs = pc.dictionary_encode(
        pc.binary_join_element_wise(
            pc.fill_null(table["campaign"], pa.scalar("\x00", _TEXT)),
            table["kind"],
            pa.scalar("\x01", _TEXT),
        ).combine_chunks()
    )
    codes = np.asarray(pairs.indices.to_numpy(zero_copy_only=False))
    counts = np.bincount(codes, minlength=len(pairs.dictionary))
    out: list[tuple[str | None, IssueKind, int]] = []
    for text, n in zip(pairs.dictionary.to_pylist(), counts.tolist(), strict=True):
        campaign, kind = text.rsplit("\x01", 1)
        out.append((None if campaign == "\x00" else campaign, IssueKind(kind), int(n)))
    return out


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
        c[Count.ROWS_VALID] += valid
        c[Count.ROWS_READ] += valid
        c[Count.REMOTE_BEFORE] = int(remote_before.get(cid, 0))
        c[Count.REMOTE_AFTER] = c[Count.REMOTE_BEFORE]
        if plan is not None and cid in plan.counts:
            pc = plan.counts[cid]
            for key in PLAN_COUNT_KEYS:
                if key != Count.REMOTE_BEFORE:  # the fetch's count, set above
                    c[key] = int(pc.get(key, 0))
    by_name = {name.casefold(): name for name in names.values()}
    for campaign, kind, n in issue_counts(issues):
        ref = campaign or NO_CAMPAIGN_GIVEN
        known = names.get(ref) or by_name.get(ref.casefold())
        # Rows naming a campaign that does not exist are counted together, not one made-up
        # campaign per misspelled name (rows.csv and rejected.csv keep the name each gave).
        c = bucket(known or (UNKNOWN_CAMPAIGN if campaign else NO_CAMPAIGN_GIVEN))
        c[Count.ROWS_READ] += n
        if kind is IssueKind.DUPLICATE:
            c[Count.ROWS_DUPLICATE] += n
        else:
            c[Count.ROWS_REJECTED] += n
    if results is not None and plan is not None:
        ops = {op.op_id: op for op in plan.operations}
        for r in results:
            op = ops[r.op_id]
            c = bucket(names.get(op.campaign_id, op.campaign))
            if r.outcome in _DONE:
                if op.kind is OpKind.ADD:
                    c[Count.ADDED] += 1
                elif is_removal(op):  # hard or soft removal, as the plan counts them
                    c[Count.DELETED] += 1
                else:  # status changes and statuses set after an add
                    c[Count.STATUS_SET] += 1
            elif r.outcome in (OpOutcome.FAILED, OpOutcome.UNCERTAIN):
                c[Count.FAILED] += 1
            elif r.outcome is OpOutcome.SKIPPED:
                c[Count.NOT_STARTED] += 1
    if verification is not None:
        for cid, n in verification.residual.items():
            bucket(names.get(cid, cid))[Count.RESIDUAL] = int(n)
        for cid, n in verification.remote_after.items():
            bucket(names.get(cid, cid))[Count.REMOTE_AFTER] = int(n)
    return counts
