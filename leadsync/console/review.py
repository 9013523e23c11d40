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

from ..models import Count, IssueKind, Operation, OpKind, RowIssue, RowOutcome
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


def _clip(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _name(body: Mapping[str, Any] | None) -> str:
    if not body:
        return ""
    first, last = body.get("first_name"), body.get("last_name")
    if first and last:
        return f"{first} {last}"
    return str(first or last or "")


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


def _part(n: int, **columns: Any) -> pd.DataFrame:
    """Rows of the plan table: PLAN_COLUMNS from ``columns`` (a list, a Series of ``n`` values
    or one value for every row; None where a column is not given)."""
    data = {}
    for name in PLAN_COLUMNS:
        value = columns.get(name)
        if isinstance(value, pd.Series):
            value = value.to_numpy(dtype=object, na_value=None)
        elif not isinstance(value, list):
            value = [value] * n
        data[name] = value
    # Text stays as Python objects: inferring Arrow strings for every part, to be concatenated
    # and sorted, cost more than the whole table.
    frame = pd.DataFrame(data, columns=list(PLAN_COLUMNS), dtype=object)
    frame["row"] = pd.array(frame["row"].to_numpy(), dtype="Int64")
    return frame


def _op_part(ops: list[Operation]) -> pd.DataFrame:
    """The plan's operations as review rows, column by column (the (action, detail) of each
    distinct kind/reason/status/lead id known or not, worked out once)."""
    details: dict[tuple[Any, ...], tuple[str, str]] = {}
    actions, texts = [], []
    for op in ops:
        what = (op.kind, op.reason, op.status, op.lead_id is None)
        found = details.get(what)
        if found is None:
            found = details[what] = _op_detail(op)
        actions.append(found[0])
        texts.append(found[1])
    sources = [op.source or (None, None, None) for op in ops]
    return _part(
        len(ops),
        action=actions,
        campaign=[op.campaign for op in ops],
        number=[op.key for op in ops],
        name=[_name(op.body) for op in ops],
        file=[src[0] for src in sources],
        sheet=[src[1] for src in sources],
        row=[src[2] for src in sources],
        lead_id=[op.lead_id for op in ops],
        detail=texts,
    )


def _text(col: pd.Series) -> pd.Series:
    return col.astype(object).where(col.notna(), "").astype(str)


def _kept_part(kept: pd.DataFrame) -> pd.DataFrame:
    kept = kept.reset_index(drop=True)
    empty = pd.Series([""] * len(kept), dtype=object)
    names = (
        _text(kept.get("first_name", empty)) + " " + _text(kept.get("last_name", empty))
    ).str.strip()
    detail = (
        "only in the campaign, kept ("
        + kept["reason"].astype(object).astype(str)
        + ", status "
        + _text(kept["status"])
        + ")"
    )
    return _part(
        len(kept),
        action="kept",
        campaign=kept["campaign"],
        number=kept["number"],
        name=names,
        lead_id=kept["lead_id"],
        detail=detail,
    )


def _drift_part(drift: pd.DataFrame) -> pd.DataFrame:
    detail = (
        drift["field"].astype(object).astype(str)
        + ": file "
        + _text(drift["file_value"]).map(repr)
        + ", campaign "
        + _text(drift["remote_value"]).map(repr)
        + " ("
        + drift["action"].astype(object).astype(str)
        + ")"
    )
    return _part(
        len(drift),
        action="drift",
        campaign=drift["campaign"],
        number=drift["key"],
        name="",
        file=drift["file"],
        sheet=drift["sheet"],
        row=drift["row"],
        lead_id=drift["lead_id"],
        detail=detail,
    )


def _rows_part(rows: pd.DataFrame, outcomes: Mapping[str, str]) -> pd.DataFrame:
    chosen = rows[rows["outcome"].isin(list(outcomes))].reset_index(drop=True)
    outcome = chosen["outcome"].astype(object)
    return _part(
        len(chosen),
        action=outcome.map(outcomes),
        campaign=chosen["campaign"],
        number=chosen["number"],
        name="",
        file=chosen["file"],
        sheet=chosen["sheet"],
        row=chosen["row"],
        lead_id=chosen["lead_id"],
        detail=outcome.map({RowOutcome.UNCHANGED: "already in the campaign as in the file"}).fillna(
            "planned"
        ),
    )


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
    frame = pd.DataFrame.from_records(records, columns=list(ISSUE_COLUMNS))
    for col in ("row", "twin_row"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    # The columns a text search looks in (the search text is made at the first search).
    frame.attrs["search"] = ("file", "sheet", "campaign", "number", "reasons", "message", "values")
    return frame


def build_review(report: RunReport, saved: SavedPlan | None) -> Review:
    """The review of a plan run: from the saved plan when there is one, else (a refused plan)
    from the report, which has every input row's planned outcome but not the removals."""
    if saved is not None:
        plan = saved.plan
        parts = [_op_part(plan.operations), _kept_part(plan.kept), _drift_part(plan.drift)]
    else:
        parts = [
            _rows_part(
                report.rows, {RowOutcome.PLANNED_ADD: "add", RowOutcome.PLANNED_STATUS: "status"}
            )
        ]
        parts += [_kept_part(report.kept), _drift_part(report.drift)]
    parts.append(_rows_part(report.rows, {RowOutcome.UNCHANGED: "unchanged"}))
    plan_rows = pd.concat(parts, ignore_index=True)
    plan_rows["row"] = plan_rows["row"].astype("Int64")
    order = plan_rows["action"].map({a: i for i, a in enumerate(ACTIONS)}).to_numpy()
    plan_rows = plan_rows.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
    plan_rows.attrs["search"] = ("campaign", "number", "name", "file", "lead_id", "detail")
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
        planned_delete=int(totals.get(Count.PLANNED_DELETE, 0)),
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
    return Page(rows=rows, page=page, pages=pages, total=total)
