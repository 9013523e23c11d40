"""What a person reads about the counts: their labels, what a rejection code means, and
which counts describe each kind of run (cards, chart and console summary)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import Count

if TYPE_CHECKING:
    from .model import RunReport

#: What each count means, short enough for a card or a column header.
COUNT_LABELS: dict[str, str] = {
    Count.ROWS_READ: "rows read",
    Count.ROWS_VALID: "valid rows",
    Count.ROWS_REJECTED: "rejected rows",
    Count.ROWS_DUPLICATE: "duplicate rows",
    Count.PLANNED_ADD: "to add",
    Count.PLANNED_DELETE: "to remove",
    Count.PLANNED_STATUS: "status changes planned",
    Count.UNCHANGED: "already up to date",
    Count.DRIFT: "differ from the file (drift)",
    Count.KEPT: "kept (not in the file)",
    Count.ADDED: Count.ADDED,
    Count.DELETED: "removed",
    Count.STATUS_SET: "status changed",
    Count.FAILED: Count.FAILED,
    Count.NOT_STARTED: "not started (run stopped)",
    Count.RESIDUAL: "still different after the run",
    Count.REMOTE_BEFORE: "leads before",
    Count.REMOTE_AFTER: "leads after",
}

#: What a rejection code means and what to do about it.
REASON_HELP: dict[str, str] = {
    "phone-invalid": "The phone number is not a valid number for its country; check the digits "
    "and the country code (or --region).",
    "phone-missing": "The row has no phone number.",
    "phone-scientific": "Excel turned the number into scientific notation (like 4.47701E+11): "
    "format the phone column as Text and type or paste the numbers again.",
    "priority-not-integer": "Priority must be a whole number.",
    "retries-not-integer": "Retries must be a whole number.",
    "cool_off-not-integer": "Cool-off must be a whole number.",
    "phone-decimal": "The number has decimals (like 2135550102.5): Excel treated it as a "
    "number; format the phone column as Text.",
    "phone-too-short": "The number has too few digits for a phone number.",
    "phone-too-long": "The number has too many digits for a phone number.",
    "status-unknown": "The status is not one this dialer knows (see sync.statuses).",
    "campaign-unknown": "The campaign named in the row does not exist in the dialer.",
    "duplicate": "The same number appears earlier in the same campaign; the first row wins.",
    "dnc": "The number is on a do-not-call list.",
}

#: Column headers for tables (console and HTML), where space is short (most keys are).
COUNT_SHORT: dict[str, str] = {
    **{key: key for key in Count},
    Count.ROWS_READ: "read",
    Count.ROWS_VALID: "valid",
    Count.ROWS_REJECTED: "rejected",
    Count.ROWS_DUPLICATE: "duplicate",
    Count.PLANNED_ADD: "to add",
    Count.PLANNED_DELETE: "to remove",
    Count.PLANNED_STATUS: "to set status",
    Count.DELETED: "removed",
    Count.STATUS_SET: "status set",
    Count.NOT_STARTED: "not started",
    Count.REMOTE_BEFORE: "leads before",
    Count.REMOTE_AFTER: "leads after",
}

#: Up to this many campaigns, the per-campaign tables have a column per campaign.
MAX_CAMPAIGN_COLUMNS = 5
#: The counts shown as cards and charted, per kind of run.
VALIDATE_KEYS: list[str] = [Count.ROWS_VALID, Count.ROWS_REJECTED, Count.ROWS_DUPLICATE]
PLANNED_KEYS: list[str] = [
    Count.PLANNED_ADD,
    Count.PLANNED_STATUS,
    Count.PLANNED_DELETE,
    Count.UNCHANGED,
    Count.ROWS_REJECTED,
    Count.ROWS_DUPLICATE,
]
APPLIED_KEYS: list[str] = [
    Count.ADDED,
    Count.STATUS_SET,
    Count.DELETED,
    Count.UNCHANGED,
    Count.FAILED,
    Count.NOT_STARTED,
    Count.ROWS_REJECTED,
    Count.ROWS_DUPLICATE,
]


def chart_keys(report: RunReport) -> list[str]:
    """The counts that describe this kind of run (cards and chart)."""
    if report.command == "validate":
        return VALIDATE_KEYS
    if report.dry_run or report.command == "plan":
        return PLANNED_KEYS
    return APPLIED_KEYS


def card_keys(report: RunReport) -> list[str]:
    """``rows_read``, the counts of :func:`chart_keys`, then drift, kept and residual when
    there are any (cards and the console's summary)."""
    totals = report.totals()
    keys = [Count.ROWS_READ, *chart_keys(report)]
    return keys + [
        k for k in (Count.DRIFT, Count.KEPT, Count.RESIDUAL) if totals[k] and k not in keys
    ]
