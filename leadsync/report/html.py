"""``report.html``: one self-contained page (inline CSS, inline SVG, a few lines of vanilla JS;
nothing is loaded from the network) that a newcomer can read: what happened in one sentence,
the totals, a chart per campaign, statuses before and after, why rows were rejected, the rows
to fix, and the run's details.

The page is the Jinja2 template ``templates/report.html`` rendered with autoescaping: this
module only gathers plain values (numbers, text, small records) for it, so every value from
the run is escaped by the template engine, never by hand. The page stays small at any size:
it lists at most :data:`MAX_PROBLEM_ROWS` rows and :data:`MAX_FAILED_OPS` operations.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import __version__
from ..atomic import open_mode, write_atomic
from ..errors import ExitCode
from ..models import COUNT_KEYS, Count, OpOutcome, RowOutcome
from .files import op_result_record, rows_frame
from .model import RunReport, as_utc
from .svg import color, stacked_bars
from .words import (
    COUNT_LABELS,
    COUNT_SHORT,
    MAX_CAMPAIGN_COLUMNS,
    REASON_HELP,
    card_keys,
    chart_keys,
)

if TYPE_CHECKING:
    import jinja2

#: Problem rows shown in the page at most (rows.csv and rejected.csv have them all).
MAX_PROBLEM_ROWS = 5_000
#: Failed operations listed at most (operations.jsonl has them all).
MAX_FAILED_OPS = 1_000
#: Rejection reasons listed.
TOP_REASONS = 10
PROBLEM_OUTCOMES = (RowOutcome.REJECTED, RowOutcome.FAILED, RowOutcome.NOT_STARTED)
#: The fields of a failed operation the page lists.
FAILED_OP_FIELDS = ("kind", "key", "lead_id", "http_status", "attempts", "message")
PROBLEM_COLUMNS = ("file", "sheet", "row", "campaign", "number", "outcome", "reasons", "message")


def _num(value: Any, decimals: int | None = None) -> str:
    """``1,234`` (or ``1,234.5`` with ``decimals``); empty for a missing value."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if decimals is None:
        return f"{value:,}"
    return f"{float(value):,.{decimals}f}"


def _signed(value: int) -> str:
    return f"{value:+,}"


@functools.cache
def _environment() -> jinja2.Environment:
    """The template environment (Jinja2 loads on the first page written, not at import)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("leadsync.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["num"] = _num
    env.filters["signed"] = _signed
    return env


def _exit_class(code: int) -> str:
    if code == ExitCode.OK:
        return "exit-0"
    if code == ExitCode.FAILED:
        return "exit-1"
    return "exit-bad"


def _cards(report: RunReport) -> list[dict[str, Any]]:
    totals = report.totals()
    return [
        {
            "key": key,
            "value": totals[key],
            "label": COUNT_LABELS[key],
            "color": color(key) if key != Count.ROWS_READ else "#305496",
        }
        for key in card_keys(report)
    ]


def _campaigns(report: RunReport) -> dict[str, Any]:
    """Counts per campaign: one column per campaign (and Total) when there are few campaigns,
    which reads top-down like a sentence; one row per campaign when there are many."""
    counts = report.campaign_counts()
    totals = report.totals()
    columns = [{"name": name, "counts": c, "total": False} for name, c in counts.items()]
    if len(counts) > 1:
        columns.append({"name": "Total", "counts": totals, "total": True})
    return {
        "columns": columns,
        "count_keys": [k for k in COUNT_KEYS if k == Count.ROWS_READ or totals[k]],
        "by_count": len(counts) <= MAX_CAMPAIGN_COLUMNS,
    }


def _statuses(report: RunReport) -> dict[str, Any] | None:
    if not report.status_before and not report.status_after:
        return None
    counted = report.status_rows()
    biggest = max((n for *_, b, a in counted for n in (b, a) if n is not None), default=0)
    rows = []
    for name, status, b, a in counted:
        change = (a or 0) - (b or 0)
        change_class = "delta-pos" if change > 0 else "delta-neg" if change < 0 else "muted"
        rows.append(
            {
                "campaign": str(name),
                "status": str(status),
                "before": b,
                "after": a,
                # No "after" for a campaign (a dry run, or a run that stopped): say so.
                "measured": name in report.status_after,
                "change": change,
                "change_class": change_class,
                "before_width": 100 * (b or 0) / biggest if biggest else 0,
                "after_width": 100 * (a or 0) / biggest if biggest else 0,
            }
        )
    return {"rows": rows, "dry_run": report.dry_run}


def _reasons(report: RunReport) -> dict[str, Any] | None:
    reasons = report.reason_counts()
    if not reasons:
        return None
    examples = report.issue_table().code_examples()  # the first message of each code
    rows_read = report.totals()[Count.ROWS_READ] or 1
    return {
        "rows": [
            {
                "code": code,
                "rows": n,
                "percent": 100 * n / rows_read,
                "help": REASON_HELP.get(code, ""),
                "example": examples.get(code, ""),
            }
            for code, n in reasons[:TOP_REASONS]
        ],
        "more": max(len(reasons) - TOP_REASONS, 0),
    }


def _problems(report: RunReport) -> dict[str, Any] | None:
    """The rows to fix (at most :data:`MAX_PROBLEM_ROWS`), each a tuple of PROBLEM_COLUMNS
    with the file's bare name after ``file`` (the template unpacks tuples: faster than
    looking fields up by name)."""
    rows = rows_frame(report)
    problem = rows["outcome"].isin(PROBLEM_OUTCOMES)
    total = int(problem.sum())
    if not total:
        return None
    shown = rows.loc[problem, list(PROBLEM_COLUMNS)].head(MAX_PROBLEM_ROWS)
    shown = shown.astype("str").fillna("")  # missing values as empty text, in one pass
    records = []
    for rec in shown.itertuples(index=False, name=None):  # at most MAX_PROBLEM_ROWS
        file, sheet, row, campaign, number, outcome, reasons, message = rec
        # the file's name only, so the message keeps room; the whole path on hover
        name = file.replace("\\", "/").rsplit("/", 1)[-1]
        reasons = reasons.replace(";", "; ")
        records.append((file, name, sheet, row, campaign, number, outcome, reasons, message))
    return {"columns": PROBLEM_COLUMNS, "rows": records, "total": total}


def _failed_ops(report: RunReport) -> dict[str, Any] | None:
    failed = [op for op in report.operations if op.outcome == OpOutcome.FAILED]
    if not failed:
        return None
    rows = [
        {k: "" if rec[k] is None else str(rec[k]) for k in FAILED_OP_FIELDS}
        for rec in map(op_result_record, failed[:MAX_FAILED_OPS])
    ]
    return {"rows": rows, "total": len(failed)}


def _badges(report: RunReport) -> list[dict[str, str]]:
    code = int(report.exit_code)
    badges = [{"cls": _exit_class(code), "text": f"exit {code}"}]
    if report.command == "validate":
        badges.append({"cls": "", "text": "offline check"})
    elif report.dry_run:
        badges.append({"cls": "", "text": "dry run"})
    badges.append({"cls": "", "text": report.command})
    return badges


def _subtitle(report: RunReport) -> str:
    parts = [f"started {as_utc(report.started_at).strftime('%Y-%m-%d %H:%M:%S UTC')}"]
    if report.command != "validate":
        parts.insert(0, f"mode {report.mode}")
    if report.job:
        parts.append(f"job {report.job}")
    return " · ".join(parts)


def page_values(report: RunReport, files: list[str] | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain values (nothing escaped or marked up here)."""
    chart_title = {"validate": "Rows per campaign"}.get(
        report.command,
        "What would happen per campaign" if report.dry_run else "What happened per campaign",
    )
    return {
        "version": __version__,
        "title": f"leadsync {report.command} report",
        "badges": _badges(report),
        "subtitle": _subtitle(report),
        "exit_class": _exit_class(int(report.exit_code)),
        "headline": report.headline(),
        "messages": list(report.messages),
        "cards": _cards(report),
        "chart": stacked_bars(
            report.campaign_counts(), chart_keys(report), COUNT_LABELS, chart_title
        ),
        "campaigns": _campaigns(report),
        "labels": COUNT_LABELS,
        "short_labels": COUNT_SHORT,
        "statuses": _statuses(report),
        "reasons": _reasons(report),
        "problems": _problems(report),
        "failed_ops": _failed_ops(report),
        "run": report.summary_dict(),
        "files": list(files or []),
    }


def render_html(report: RunReport, files: list[str] | None = None) -> str:
    """The page as a string. ``files`` names the other files of the folder (footer links)."""
    return _environment().get_template("report.html").render(page_values(report, files))


def write_html(report: RunReport, path: Path, files: list[str] | None = None) -> Path:
    """Write ``report.html`` at ``path`` (atomically). Returns ``path``."""
    text = render_html(report, files)
    write_atomic(path, text, durable=False, mode=open_mode())
    return path
