"""Plain-language sentences about a run, for people who did not write leadsync."""

from __future__ import annotations

from typing import Protocol

from ..errors import ExitCode
from ..models import PSEUDO_CAMPAIGNS, Count


class RunReport(Protocol):
    """What the sentences are made of (:class:`leadsync.report.model.RunReport` has it all);
    a protocol, so that this module and the model do not import each other."""

    @property
    def command(self) -> str: ...

    @property
    def exit_code(self) -> int: ...

    @property
    def dry_run(self) -> bool: ...

    @property
    def interrupted(self) -> bool: ...

    @property
    def refusal(self) -> str | None: ...

    @property
    def messages(self) -> list[str]: ...

    def totals(self) -> dict[str, int]: ...

    def campaign_counts(self) -> dict[str, dict[str, int]]: ...

    def exit_meaning(self) -> str: ...


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``1 lead``, ``1,200 leads``."""
    word = singular if n == 1 else (plural or singular + "s")
    return f"{n:,} {word}"


def _where(report: RunReport) -> str:
    names = [n for n in report.campaign_counts() if n not in PSEUDO_CAMPAIGNS]
    if len(names) == 1:
        return names[0]
    return f"{len(names):,} campaigns"


def _join(parts: list[str]) -> str:
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _rejections(t: dict[str, int]) -> str:
    if not t[Count.ROWS_REJECTED]:
        return ""
    return (
        f" {count(t[Count.ROWS_REJECTED], 'input row')} "
        f"{'was' if t[Count.ROWS_REJECTED] == 1 else 'were'} rejected (see rejected.csv)."
    )


def headline(report: RunReport) -> str:
    """One sentence (sometimes two) saying what the run did, e.g.
    ``Dry run: 120 leads would be added to Spring Promo and 3 removed; nothing was changed.``
    """
    t = report.totals()
    if report.refusal:
        refusal = report.refusal.rstrip(".")
        return f"Refused: {refusal}. Nothing was changed in the dialer."
    if report.command == "validate":
        text = (
            f"Validation only, nothing was sent to the dialer: "
            f"{count(t[Count.ROWS_READ], 'row')} read, {t[Count.ROWS_VALID]:,} valid, "
            f"{t[Count.ROWS_REJECTED]:,} rejected, {count(t[Count.ROWS_DUPLICATE], 'duplicate')}."
        )
        if t[Count.ROWS_REJECTED]:
            text += " Fix the rows listed in rejected.csv and load that file again."
        return text
    if report.exit_code in (ExitCode.UNREACHABLE, ExitCode.LOCKED, ExitCode.BAD_INPUT):
        why = report.messages[-1].rstrip(".") if report.messages else report.exit_meaning()
        changed = t[Count.ADDED] + t[Count.DELETED] + t[Count.STATUS_SET]
        if changed:
            return (
                f"The run stopped after {count(changed, 'change')}: {why}. Re-running is "
                "safe: it finishes what is left."
            )
        return f"The run stopped: {why}. Nothing was changed in the dialer."
    where = _where(report)
    if report.dry_run or report.command == "plan":
        parts = [f"{count(t[Count.PLANNED_ADD], 'lead')} would be added to {where}"]
        if t[Count.PLANNED_STATUS]:
            parts.append(f"{count(t[Count.PLANNED_STATUS], 'status', 'statuses')} changed")
        if t[Count.PLANNED_DELETE]:
            parts.append(f"{t[Count.PLANNED_DELETE]:,} removed")
        lead = "Dry run" if report.dry_run else "Plan"
        return f"{lead}: {_join(parts)}; nothing was changed.{_rejections(t)}"
    parts = [
        f"{count(t[Count.ADDED], 'lead')} {'was' if t[Count.ADDED] == 1 else 'were'} added to {where}"
    ]
    if t[Count.STATUS_SET]:
        parts.append(f"{count(t[Count.STATUS_SET], 'status', 'statuses')} changed")
    if t[Count.DELETED]:
        parts.append(f"{t[Count.DELETED]:,} removed")
    text = _join(parts)
    problems = []
    if report.interrupted:
        problems.append("the run was stopped before it finished (run it again to finish)")
    if t[Count.FAILED]:
        problems.append(f"{count(t[Count.FAILED], 'operation')} failed")
    if t[Count.NOT_STARTED]:
        problems.append(f"{count(t[Count.NOT_STARTED], 'operation')} not started")
    if t[Count.RESIDUAL]:
        problems.append(
            f"{count(t[Count.RESIDUAL], 'difference')} still "
            f"{'remains' if t[Count.RESIDUAL] == 1 else 'remain'} after verification"
        )
    if problems:
        text += "; " + _join(problems) + "."
    elif report.exit_code == ExitCode.FAILED:
        text += "; the run was interrupted before it finished."
    else:
        text += "; nothing failed."
    return text + _rejections(t)


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

#: Column headers for tables (console and HTML), where space is short.
COUNT_SHORT: dict[str, str] = {
    Count.ROWS_READ: "read",
    Count.ROWS_VALID: "valid",
    Count.ROWS_REJECTED: "rejected",
    Count.ROWS_DUPLICATE: "duplicate",
    Count.PLANNED_ADD: "to add",
    Count.PLANNED_DELETE: "to remove",
    Count.PLANNED_STATUS: "to set status",
    Count.UNCHANGED: Count.UNCHANGED,
    Count.DRIFT: Count.DRIFT,
    Count.KEPT: Count.KEPT,
    Count.ADDED: Count.ADDED,
    Count.DELETED: "removed",
    Count.STATUS_SET: "status set",
    Count.FAILED: Count.FAILED,
    Count.NOT_STARTED: "not started",
    Count.RESIDUAL: Count.RESIDUAL,
    Count.REMOTE_BEFORE: "leads before",
    Count.REMOTE_AFTER: "leads after",
}
