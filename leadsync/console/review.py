"""What a reviewer reads before approving: the saved plan and the plan run's report, as tables.

:func:`build_review` turns the saved plan (its operations, kept leads and drift) and the plan
run's report (rows, rejected and duplicate rows) into three tables; :func:`page_of` filters one
of them and cuts one page, on the server, so a page never holds more than
:data:`PAGE_SIZE` rows whatever the size of the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..models import IssueKind, Operation, OpKind, RowIssue
from ..report import RunReport
from ..run.planfile import SavedPlan

#: Rows shown on one page of any table.
PAGE_SIZE = 50
#: The per-lead actions of a plan, in the order the review shows them.
ACTIONS: tuple[str, ...] = ("add", "status", "remove", "kept", "drift", "unchanged")
PLAN_COLUMNS: tuple[str, ...] = (
    "action",
    "campaign",
    "number",
    "name",
    "file",
    "sheet",
    "row",
    "lead_id",
    "detail",
)
ISSUE_COLUMNS: tuple[str, ...] = (
    "file",
    "sheet",
    "row",
    "campaign",
    "number",
    "reasons",
    "message",
    "values",
    "twin_row",
)
_REMOVAL_REASONS = frozenset({"absent-from-file", "remote-duplicate"})
#: Longest cell text kept for display (the full value is in the report's files).
MAX_CELL_CHARS = 300


@dataclass
class Review:
    """The tables of one plan, and what the reviewer must know about it."""

    plan_rows: pd.DataFrame
    rejected: pd.DataFrame
    duplicates: pd.DataFrame
    counts: dict[str, int]
    refusal: str | None = None
    refusal_guard: str | None = None
    overrides: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    planned_delete: int = 0  # known from the counts even when the plan was refused

    def table(self, name: str) -> pd.DataFrame:
        return {"plan": self.plan_rows, "rejected": self.rejected, "duplicates": self.duplicates}[
            name
        ]


@dataclass(frozen=True)
class Page:
    """One page of a filtered table."""

    rows: list[dict[str, Any]]
    page: int
    pages: int
    total: int  # rows matching the filter
    size: int = PAGE_SIZE


def _clip(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _name(body: Mapping[str, Any] | None) -> str:
    if not body:
        return ""
    return " ".join(str(body[k]) for k in ("first_name", "last_name") if body.get(k))


def _op_detail(op: Operation) -> tuple[str, str]:
    """(action, detail) of one operation."""
    if op.kind is OpKind.ADD:
        if op.reason == "drift-replace":
            return "add", "replaces the lead whose fields differ"
        return "add", "not in the campaign: added"
    if op.kind is OpKind.DELETE:
        return "remove", f"deleted ({op.reason})"
    if op.reason in _REMOVAL_REASONS:
        return "remove", f"status set to {op.status} ({op.reason})"
    if op.lead_id is None:
        return "status", f"status {op.status}, once the added lead's id is known"
    return "status", f"status set to {op.status}"


def _op_frame(ops: list[Operation]) -> pd.DataFrame:
    """The plan's operations as review rows, built column by column."""
    details = [_op_detail(op) for op in ops]
    sources = [op.source or (None, None, None) for op in ops]
    return pd.DataFrame(
        {
            "action": [d[0] for d in details],
            "campaign": [op.campaign for op in ops],
            "number": [op.key for op in ops],
            "name": [_name(op.body) for op in ops],
            "file": [src[0] for src in sources],
            "sheet": [src[1] for src in sources],
            "row": pd.array([src[2] for src in sources], dtype="Int64"),
            "lead_id": [op.lead_id for op in ops],
            "detail": [d[1] for d in details],
        },
        columns=list(PLAN_COLUMNS),
    )


def _frame(records: Iterable[tuple[Any, ...]], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(records), columns=list(columns))
    for col in ("row", "twin_row"):
        if col in frame.columns:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    return frame


def _kept_records(kept: pd.DataFrame) -> list[tuple[Any, ...]]:
    if kept.empty:
        return []
    names = (
        kept.get("first_name", pd.Series(dtype=str)).fillna("").astype(str)
        + " "
        + kept.get("last_name", pd.Series(dtype=str)).fillna("").astype(str)
    ).str.strip()
    return list(
        zip(
            ["kept"] * len(kept),
            kept["campaign"],
            kept["number"],
            names,
            [None] * len(kept),
            [None] * len(kept),
            [None] * len(kept),
            kept["lead_id"],
            "only in the campaign, kept ("
            + kept["reason"].astype(str)
            + ", status "
            + kept["status"].fillna("").astype(str)
            + ")",
            strict=True,
        )
    )


def _drift_records(drift: pd.DataFrame) -> list[tuple[Any, ...]]:
    if drift.empty:
        return []
    detail = (
        drift["field"].astype(str)
        + ": file "
        + drift["file_value"].fillna("").astype(str).map(repr)
        + ", campaign "
        + drift["remote_value"].fillna("").astype(str).map(repr)
        + " ("
        + drift["action"].astype(str)
        + ")"
    )
    return list(
        zip(
            ["drift"] * len(drift),
            drift["campaign"],
            drift["key"],
            [""] * len(drift),
            drift["file"],
            drift["sheet"],
            drift["row"],
            drift["lead_id"],
            detail,
            strict=True,
        )
    )


def _row_records(rows: pd.DataFrame, outcomes: Mapping[str, str]) -> list[tuple[Any, ...]]:
    chosen = rows[rows["outcome"].isin(list(outcomes))]
    if chosen.empty:
        return []
    return list(
        zip(
            chosen["outcome"].map(outcomes),
            chosen["campaign"],
            chosen["number"],
            [""] * len(chosen),
            chosen["file"],
            chosen["sheet"],
            chosen["row"],
            chosen["lead_id"],
            chosen["outcome"]
            .map({"unchanged": "already in the campaign as in the file"})
            .fillna("planned"),
            strict=True,
        )
    )


def _with_search(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Name the columns a text search looks in (the search text is made at the first search)."""
    frame.attrs["search"] = columns
    return frame


def _search_text(frame: pd.DataFrame) -> pd.Series:
    if "_search" not in frame.columns:
        text = pd.Series([""] * len(frame), index=frame.index, dtype=object)
        for col in frame.attrs.get("search", ()):
            text = text + " " + frame[col].fillna("").astype(str)
        frame["_search"] = text.str.casefold()
    return frame["_search"]


def _issues(issues: Iterable[RowIssue], kind: IssueKind) -> pd.DataFrame:
    records = [
        (
            i.file,
            i.sheet,
            i.row,
            i.campaign,
            i.number,
            ", ".join(i.codes),
            i.message,
            "; ".join(f"{k}: {_clip(v)}" for k, v in i.values.items() if v not in (None, "")),
            i.duplicate_of_row,
        )
        for i in issues
        if i.kind is kind
    ]
    frame = _frame(records, ISSUE_COLUMNS)
    return _with_search(
        frame, ("file", "sheet", "campaign", "number", "reasons", "message", "values")
    )


def build_review(report: RunReport, saved: SavedPlan | None) -> Review:
    """The review of a plan run: from the saved plan when there is one, else (a refused plan)
    from the report, which has every input row's planned outcome but not the removals."""
    frames = []
    if saved is not None:
        frames.append(_op_frame(saved.plan.operations))
        records = _kept_records(saved.plan.kept) + _drift_records(saved.plan.drift)
    else:
        records = _row_records(report.rows, {"planned_add": "add", "planned_status": "status"})
        records += _kept_records(report.kept) + _drift_records(report.drift)
    records += _row_records(report.rows, {"unchanged": "unchanged"})
    frames.append(_frame(records, PLAN_COLUMNS))
    plan_rows = pd.concat([f for f in frames if len(f)] or frames, ignore_index=True)
    plan_rows["row"] = plan_rows["row"].astype("Int64")
    order = plan_rows["action"].map({a: i for i, a in enumerate(ACTIONS)}).to_numpy()
    plan_rows = plan_rows.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
    plan_rows = _with_search(plan_rows, ("campaign", "number", "name", "file", "lead_id", "detail"))
    counts = {a: 0 for a in ACTIONS} | {
        str(k): int(v) for k, v in plan_rows["action"].value_counts().items()
    }
    totals = report.totals()
    overrides = list(saved.meta.get("overrides", [])) if saved is not None else []
    guard = None
    if report.refusal:
        guard = "mass-delete" if "--allow-mass-delete" in report.refusal else "other"
    return Review(
        plan_rows=plan_rows,
        rejected=_issues(report.issues, IssueKind.REJECTED),
        duplicates=_issues(report.issues, IssueKind.DUPLICATE),
        counts=counts,
        refusal=report.refusal,
        refusal_guard=guard,
        overrides=overrides or list(report.overrides),
        messages=list(report.messages),
        planned_delete=int(totals.get("planned_delete", 0)),
    )


def page_of(
    frame: pd.DataFrame,
    *,
    page: int = 1,
    action: str | None = None,
    query: str | None = None,
    columns: tuple[str, ...],
    size: int = PAGE_SIZE,
) -> Page:
    """Rows ``(page - 1) * size`` … of ``frame`` filtered by ``action`` and a case-insensitive
    ``query`` (a substring of any shown column); ``page`` is clamped to the pages there are."""
    chosen = frame
    if action and "action" in frame.columns:
        chosen = chosen[chosen["action"] == action]
    if query and query.strip():
        text = _search_text(frame).loc[chosen.index]
        chosen = chosen[text.str.contains(query.strip().casefold(), regex=False)]
    total = len(chosen)
    pages = max(1, math.ceil(total / size))
    page = min(max(1, page), pages)
    window = chosen.iloc[(page - 1) * size : page * size]
    rows = [
        {c: _clip(v) for c, v in zip(columns, values, strict=True)}
        for values in window[list(columns)].itertuples(index=False, name=None)
    ]
    return Page(rows=rows, page=page, pages=pages, total=total, size=size)
