"""From what the reader returned to the report's rows table and per-campaign read counts."""

from __future__ import annotations

import pandas as pd

from ..models import IssueKind, ReadResult, zero_counts
from .model import NO_CAMPAIGN, ROW_COLUMNS

_ISSUE_COUNT_KEY = {IssueKind.REJECTED: "rows_rejected", IssueKind.DUPLICATE: "rows_duplicate"}


def _text(values: object, length: int) -> pd.Series:
    return pd.Series(values if values is not None else [pd.NA] * length, dtype="str")


def read_rows(result: ReadResult, *, valid_outcome: str = "valid") -> pd.DataFrame:
    """One row per input row (:data:`ROW_COLUMNS`), in the order of the files and sheets read
    and then by row number.

    Accepted rows get ``valid_outcome`` (the sync replaces it with what happened to them) and
    their warnings as reasons; rejected and duplicate rows get their kind, codes and message.
    """
    leads = result.leads
    n = len(leads)
    accepted = pd.DataFrame(
        {
            "file": leads["file"].astype("str").to_numpy(),
            "sheet": leads["sheet"].astype("str").to_numpy(),
            "row": leads["row"].astype("Int64").to_numpy(),
            "campaign": leads["campaign"].astype("str").to_numpy(),
            "number": leads["number"].astype("str").to_numpy(),
            "outcome": _text([valid_outcome] * n, n),
            "lead_id": _text(None, n),
            "reasons": leads["warnings"].astype("str").replace("", pd.NA).to_numpy(),
            "message": _text(None, n),
        },
        columns=list(ROW_COLUMNS),
    )
    issues = result.issues
    bad = pd.DataFrame(
        {
            "file": _text([i.file for i in issues], len(issues)),
            "sheet": _text([i.sheet for i in issues], len(issues)),
            "row": pd.Series([i.row for i in issues], dtype="Int64"),
            "campaign": _text([i.campaign for i in issues], len(issues)),
            "number": _text([i.number for i in issues], len(issues)),
            "outcome": _text([i.kind.value for i in issues], len(issues)),
            "lead_id": _text(None, len(issues)),
            "reasons": _text([";".join(i.codes) for i in issues], len(issues)),
            "message": _text([i.message for i in issues], len(issues)),
        },
        columns=list(ROW_COLUMNS),
    )
    frames = [f for f in (accepted, bad) if len(f)]
    if not frames:
        return accepted
    rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    rows["row"] = rows["row"].astype("Int64")
    for col in ROW_COLUMNS:
        if col != "row":
            rows[col] = rows[col].astype("str")
    # Order: the files/sheets as the reader listed them, then any others, then row number.
    order: dict[tuple[str, str], int] = {}
    for s in result.sources:
        order.setdefault((str(s.path), str(s.sheet) if s.sheet is not None else ""), len(order))
    pairs = list(zip(rows["file"].fillna(""), rows["sheet"].fillna(""), strict=True))
    rank = [order.setdefault(p, len(order)) for p in pairs]
    return (
        rows.assign(_rank=rank)
        .sort_values(["_rank", "row"], kind="stable", na_position="last")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def read_counts(result: ReadResult, *, campaign: str | None = None) -> dict[str, dict[str, int]]:
    """Per campaign value (``campaign`` when the file names none, else
    :data:`~leadsync.report.model.NO_CAMPAIGN`): ``rows_read``, ``rows_valid``,
    ``rows_rejected``, ``rows_duplicate``; every other count key is 0."""
    fallback = campaign or NO_CAMPAIGN
    counts: dict[str, dict[str, int]] = {}

    def bucket(name: object) -> dict[str, int]:
        key = fallback if name is None or pd.isna(name) or str(name) == "" else str(name)
        return counts.setdefault(key, zero_counts())

    valid = result.leads["campaign"].astype("str").fillna("").value_counts()
    for name, n in valid.items():
        bucket(name)["rows_valid"] += int(n)
    for issue in result.issues:
        bucket(issue.campaign)[_ISSUE_COUNT_KEY[issue.kind]] += 1
    for c in counts.values():
        c["rows_read"] = c["rows_valid"] + c["rows_rejected"] + c["rows_duplicate"]
    return counts
