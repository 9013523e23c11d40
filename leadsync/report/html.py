"""``report.html``: one self-contained page (inline CSS, inline SVG, a few lines of vanilla JS;
nothing is loaded from the network) that a newcomer can read: what happened in one sentence,
the totals, a chart per campaign, statuses before and after, why rows were rejected, the rows
to fix, and the run's details. Every value from the run is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd

from .. import __version__
from ..errors import ExitCode
from ..models import COUNT_KEYS, OpOutcome
from .files import atomic_path, rows_frame
from .model import RunReport, as_utc
from .svg import COLORS, DEFAULT_COLOR, stacked_bars
from .words import COUNT_LABELS, COUNT_SHORT, REASON_HELP

#: Problem rows shown in the page at most (rows.csv and rejected.csv have them all).
MAX_PROBLEM_ROWS = 5_000
#: Failed operations listed at most (operations.jsonl has them all).
MAX_FAILED_OPS = 1_000
#: Up to this many campaigns, the per-campaign table has a column per campaign.
MAX_CAMPAIGN_COLUMNS = 5
#: Rejection reasons listed.
TOP_REASONS = 10
PROBLEM_OUTCOMES = ("rejected", "failed", "not_started")
PROBLEM_COLUMNS = ("file", "sheet", "row", "campaign", "number", "outcome", "reasons", "message")

#: The counts shown as cards and charted, per kind of run.
VALIDATE_KEYS = ["rows_valid", "rows_rejected", "rows_duplicate"]
PLANNED_KEYS = [
    "planned_add",
    "planned_status",
    "planned_delete",
    "unchanged",
    "rows_rejected",
    "rows_duplicate",
]
APPLIED_KEYS = [
    "added",
    "status_set",
    "deleted",
    "unchanged",
    "failed",
    "not_started",
    "rows_rejected",
    "rows_duplicate",
]


def _template(name: str) -> str:
    return (resources.files("leadsync.report") / "templates" / name).read_text(encoding="utf-8")


def _e(value: Any) -> str:
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return ""
    return escape(str(value))


def chart_keys(report: RunReport) -> list[str]:
    """The counts that describe this kind of run (cards and chart)."""
    if report.command == "validate":
        return VALIDATE_KEYS
    if report.dry_run or report.command == "plan":
        return PLANNED_KEYS
    return APPLIED_KEYS


def _exit_class(code: int) -> str:
    if code == ExitCode.OK:
        return "exit-0"
    if code == ExitCode.FAILED:
        return "exit-1"
    return "exit-bad"


def _cards(report: RunReport) -> str:
    totals = report.totals()
    keys = ["rows_read", *chart_keys(report)]
    for extra in ("drift", "kept", "residual"):
        if totals[extra] and extra not in keys:
            keys.append(extra)
    out = []
    for key in keys:
        value = totals[key]
        color = COLORS.get(key, DEFAULT_COLOR) if key != "rows_read" else "#305496"
        out.append(
            f'<div class="card{" zero" if not value else ""}" data-key="{key}" '
            f'style="border-top-color:{color}"><div class="num">{value:,}</div>'
            f'<div class="label">{escape(COUNT_LABELS[key])}</div></div>'
        )
    return "\n".join(out)


def _campaign_table(report: RunReport) -> str:
    """Counts per campaign: one column per campaign (and Total) when there are few campaigns,
    which reads top-down like a sentence; one row per campaign when there are many."""
    counts = report.campaign_counts()
    totals = report.totals()
    if not counts:
        return '<p class="muted">No campaign was involved.</p>'
    keys = [k for k in COUNT_KEYS if k == "rows_read" or totals[k]]
    columns = [(name, c, False) for name, c in counts.items()]
    if len(counts) > 1:
        columns.append(("Total", totals, True))
    if len(counts) <= MAX_CAMPAIGN_COLUMNS:
        head = "".join(f'<th class="n">{escape(name)}</th>' for name, _, _ in columns)
        body = "".join(
            f'<tr><td title="{escape(k)}">{escape(COUNT_LABELS[k])}</td>'
            + "".join(
                f'<td class="n{" total" if is_total else ""}" data-key="{k}">{c[k]:,}</td>'
                for _, c, is_total in columns
            )
            + "</tr>"
            for k in keys
        )
        return (
            f'<table id="campaigns" class="by-count"><thead><tr><th>count</th>{head}</tr>'
            f"</thead><tbody>{body}</tbody></table>"
        )
    head = "".join(
        f'<th class="n" title="{escape(COUNT_LABELS[k])}">{escape(COUNT_SHORT[k])}</th>'
        for k in keys
    )
    rows = []
    for name, row, is_total in columns:
        cls = ' class="total"' if is_total else ""
        cells = "".join(f'<td class="n" data-key="{k}">{row[k]:,}</td>' for k in keys)
        rows.append(f"<tr{cls}><td>{escape(name)}</td>{cells}</tr>")
    return (
        f'<table id="campaigns" class="by-campaign"><thead><tr><th>campaign</th>{head}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _status_section(report: RunReport) -> str:
    if not report.status_before and not report.status_after:
        return ""
    parts = [
        '<section id="status-section"><h2>Leads by status, before and after</h2>',
        '<table id="statuses"><thead><tr><th>campaign</th><th>status</th>'
        '<th class="n">before</th><th class="n">after</th><th class="n">change</th>'
        '<th style="width:30%"></th></tr></thead><tbody>',
    ]
    names = sorted({*report.status_before, *report.status_after}, key=str)
    biggest = max(
        [
            n
            for d in (report.status_before, report.status_after)
            for c in d.values()
            for n in c.values()
        ]
        or [0]
    )
    for name in names:
        before = report.status_before.get(name, {})
        after = report.status_after.get(name, {})
        # No "after" for a campaign (a dry run, or a run that stopped): say so, no change.
        measured = name in report.status_after
        for status in sorted({*before, *after}, key=str):
            b, a = before.get(status), after.get(status)
            if measured:
                delta = (a or 0) - (b or 0)
                cls = "delta-pos" if delta > 0 else "delta-neg" if delta < 0 else "muted"
                change = f'<td class="n {cls}">{delta:+,}</td>'
                after_cell = "" if a is None else f"{a:,}"
            else:
                change = '<td class="n muted">-</td>'
                after_cell = '<span class="muted">not read</span>'
            wb = 100 * (b or 0) / biggest if biggest else 0
            wa = 100 * (a or 0) / biggest if biggest else 0
            parts.append(
                f"<tr><td>{escape(str(name))}</td><td>{escape(str(status))}</td>"
                f'<td class="n">{"" if b is None else f"{b:,}"}</td>'
                f'<td class="n">{after_cell}</td>{change}'
                f'<td><div class="bar" style="width:{wb:.1f}%" title="before"></div>'
                + (
                    f'<div class="bar after" style="width:{wa:.1f}%;margin-top:2px" '
                    f'title="after"></div>'
                    if measured
                    else ""
                )
                + "</td></tr>"
            )
    note = "Blue bar: before the run; green bar: after."
    if report.dry_run:
        note += " A dry run changes nothing, so there is no after."
    parts.append(f'</tbody></table><p class="muted">{note}</p></section>')
    return "".join(parts)


def _reasons_section(report: RunReport) -> str:
    reasons = report.reason_counts()
    if not reasons:
        return ""
    examples: dict[str, str] = {}
    for issue in report.issues:
        for code in issue.codes:
            examples.setdefault(code, issue.message)
    rows_read = report.totals()["rows_read"] or 1
    body = []
    for code, n in reasons[:TOP_REASONS]:
        help_text = REASON_HELP.get(code, "")
        body.append(
            f'<tr><td class="codes"><code>{escape(code)}</code></td><td class="n">{n:,}</td>'
            f'<td class="n">{100 * n / rows_read:.1f}%</td><td>{escape(help_text)}'
            f'<div class="muted">e.g. {escape(examples.get(code, ""))}</div></td></tr>'
        )
    more = (
        f'<p class="muted">{len(reasons) - TOP_REASONS:,} less frequent reasons are in '
        f"rejected.csv.</p>"
        if len(reasons) > TOP_REASONS
        else ""
    )
    return (
        '<section id="reasons-section"><h2>Why rows were not accepted</h2>'
        '<table id="reasons"><thead><tr><th>reason</th><th class="n">rows</th>'
        '<th class="n">of rows read</th><th>what it means / example</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{more}</section>"
    )


def _problems_section(report: RunReport) -> str:
    rows = rows_frame(report)
    problems = rows[rows["outcome"].isin(PROBLEM_OUTCOMES)]
    if problems.empty:
        return ""
    shown = problems.head(MAX_PROBLEM_ROWS)
    head = "".join(f"<th>{c}</th>" for c in PROBLEM_COLUMNS)
    records = shown.loc[:, list(PROBLEM_COLUMNS)].itertuples(index=False, name=None)
    body = []
    for rec in records:
        cells = []
        for col, value in zip(PROBLEM_COLUMNS, rec, strict=True):
            if col == "outcome":
                cells.append(f'<td class="outcome-{_e(value)}">{_e(value)}</td>')
            elif col == "row":
                cells.append(f'<td class="n">{_e(value)}</td>')
            elif col == "file" and isinstance(value, str):
                # the name only, so the message keeps room; the whole path on hover
                name = value.replace("\\", "/").rsplit("/", 1)[-1]
                cells.append(f'<td title="{_e(value)}">{_e(name)}</td>')
            elif col == "reasons":
                cells.append(f"<td>{_e(value).replace(';', '; ')}</td>")
            else:
                cells.append(f"<td>{_e(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = (
        f'<p class="note">Showing the first {len(shown):,} of {len(problems):,} rows that need '
        "attention: rows.csv and rejected.csv have them all.</p>"
        if len(problems) > len(shown)
        else ""
    )
    return (
        '<section id="problems-section"><h2>Rows that need attention</h2>'
        '<p class="muted">Rejected rows are listed in rejected.csv with their original '
        "columns: fix the cells, then load that file again.</p>"
        '<input id="row-filter" class="filter" type="search" '
        'placeholder="Filter rows: type a number, a reason, a file…" aria-label="Filter rows">'
        f' <span id="row-filter-count" class="muted">{len(shown):,} shown</span>{note}'
        f'<div class="scroll"><table id="problems"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )


def _failed_ops_section(report: RunReport) -> str:
    failed = [op for op in report.operations if op.outcome == OpOutcome.FAILED]
    if not failed:
        return ""
    body = [
        f"<tr><td>{_e(getattr(op.kind, 'value', op.kind))}</td><td>{_e(op.key)}</td>"
        f"<td>{_e(op.lead_id)}</td><td class='n'>{_e(op.http_status)}</td>"
        f"<td class='n'>{_e(op.attempts)}</td><td>{_e(op.message)}</td></tr>"
        for op in failed[:MAX_FAILED_OPS]
    ]
    note = (
        f'<p class="note">Showing {MAX_FAILED_OPS:,} of {len(failed):,}: '
        "operations.jsonl has them all.</p>"
        if len(failed) > MAX_FAILED_OPS
        else ""
    )
    return (
        '<section id="failed-ops-section"><h2>Operations that failed</h2>'
        '<div class="scroll"><table id="failed-ops"><thead><tr><th>operation</th><th>number</th>'
        '<th>lead id</th><th class="n">HTTP</th><th class="n">attempts</th><th>message</th>'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>{note}</section>"
    )


def _meta(report: RunReport) -> str:
    s = report.summary_dict()
    items: list[tuple[str, str]] = [
        ("Command", f"<code>{escape(s['command'])}</code>"),
        ("Mode", escape(s["mode"])),
        ("Dry run", "yes: nothing was changed" if s["dry_run"] else "no"),
        ("Exit code", f"<strong>{s['exit_code']}</strong>: {escape(s['exit_meaning'])}"),
        ("Job", _e(s["job"]) or '<span class="muted">none</span>'),
        ("Started (UTC)", _e(s["started_at"])),
        ("Finished (UTC)", _e(s["finished_at"])),
        ("Duration", "" if s["duration_s"] is None else f"{s['duration_s']:,.1f} s"),
        (
            "Overrides",
            ", ".join(f"<code>{escape(o)}</code>" for o in s["overrides"])
            or '<span class="muted">none (every safety guard was on)</span>',
        ),
        ("API calls", ", ".join(f"{escape(str(k))} {_e(v)}" for k, v in s["api"].items())),
        (
            "Time per stage",
            ", ".join(f"{escape(str(k))} {float(v):,.2f} s" for k, v in s["timings"].items())
            or '<span class="muted">not measured</span>',
        ),
    ]
    for src in s["sources"]:
        sheet = f", sheet {escape(str(src['sheet']))}" if src.get("sheet") else ""
        items.append(
            (
                "Source file",
                f"{escape(str(src['path']))} ({escape(str(src['format']))}{sheet}, "
                f"{int(src['rows']):,} rows) "
                f'<span class="muted">sha256 {escape(str(src["sha256"])[:16])}…</span>',
            )
        )
    if s["refusal"]:
        items.append(("Refused because", escape(s["refusal"])))
    return (
        '<dl class="meta">'
        + "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in items)
        + "</dl>"
    )


def _messages(report: RunReport) -> str:
    if not report.messages:
        return ""
    items = "".join(f"<li>{escape(m)}</li>" for m in report.messages)
    return f'<div class="note" id="messages"><ul style="margin:0">{items}</ul></div>'


def _footer(files: list[str]) -> str:
    links = " · ".join(f'<a href="{escape(n)}">{escape(n)}</a>' for n in files)
    return (
        f"Files in this report folder: {links}. "
        f"Written by leadsync {escape(__version__)}; this page needs no network."
    )


def render_html(report: RunReport, files: list[str] | None = None) -> str:
    """The page as a string. ``files`` names the other files of the folder (footer links)."""
    code = int(report.exit_code)
    chart_title = {
        "validate": "Rows per campaign",
    }.get(
        report.command,
        "What would happen per campaign" if report.dry_run else "What happened per campaign",
    )
    badges = [f'<span class="badge {_exit_class(code)}">exit {code}</span>']
    if report.command == "validate":
        badges.append('<span class="badge">offline check</span>')
    elif report.dry_run:
        badges.append('<span class="badge">dry run</span>')
    badges.append(f'<span class="badge">{escape(report.command)}</span>')
    started = as_utc(report.started_at).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts = [f"started {started}"]
    if report.command != "validate":
        parts.insert(0, f"mode {report.mode}")
    if report.job:
        parts.append(f"job {report.job}")
    subtitle = escape(" · ".join(parts))
    values = {
        "version": escape(__version__),
        "title": escape(f"leadsync {report.command} report"),
        "badges": " ".join(badges),
        "subtitle": subtitle,
        "exit_class": _exit_class(code),
        "headline": escape(report.headline()),
        "messages": _messages(report),
        "cards": _cards(report),
        "chart_title": escape(chart_title),
        "chart": stacked_bars(
            report.campaign_counts(), chart_keys(report), COUNT_LABELS, chart_title
        ),
        "campaign_table": _campaign_table(report),
        "status_section": _status_section(report),
        "reasons_section": _reasons_section(report),
        "problems_section": _problems_section(report),
        "failed_ops_section": _failed_ops_section(report),
        "meta": _meta(report),
        "footer": _footer(files or []),
        "css": _template("report.css"),
        "js": _template("report.js"),
    }
    return Template(_template("report.html")).substitute(values)


def write_html(report: RunReport, path: Path, files: list[str] | None = None) -> Path:
    """Write ``report.html`` at ``path`` (atomically). Returns ``path``."""
    text = render_html(report, files)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
