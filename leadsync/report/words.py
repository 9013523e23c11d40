"""Plain-language sentences about a run, for people who did not write leadsync."""

from __future__ import annotations

from typing import Protocol

from ..errors import ExitCode
from ..models import PSEUDO_CAMPAIGNS


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
    if not t["rows_rejected"]:
        return ""
    return (
        f" {count(t['rows_rejected'], 'input row')} "
        f"{'was' if t['rows_rejected'] == 1 else 'were'} rejected (see rejected.csv)."
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
            f"{count(t['rows_read'], 'row')} read, {t['rows_valid']:,} valid, "
            f"{t['rows_rejected']:,} rejected, {count(t['rows_duplicate'], 'duplicate')}."
        )
        if t["rows_rejected"]:
            text += " Fix the rows listed in rejected.csv and load that file again."
        return text
    if report.exit_code in (ExitCode.UNREACHABLE, ExitCode.LOCKED, ExitCode.BAD_INPUT):
        why = report.messages[-1].rstrip(".") if report.messages else report.exit_meaning()
        changed = t["added"] + t["deleted"] + t["status_set"]
        if changed:
            return (
                f"The run stopped after {count(changed, 'change')}: {why}. Re-running is "
                "safe: it finishes what is left."
            )
        return f"The run stopped: {why}. Nothing was changed in the dialer."
    where = _where(report)
    if report.dry_run or report.command == "plan":
        parts = [f"{count(t['planned_add'], 'lead')} would be added to {where}"]
        if t["planned_status"]:
            parts.append(f"{count(t['planned_status'], 'status', 'statuses')} changed")
        if t["planned_delete"]:
            parts.append(f"{t['planned_delete']:,} removed")
        lead = "Dry run" if report.dry_run else "Plan"
        return f"{lead}: {_join(parts)}; nothing was changed.{_rejections(t)}"
    parts = [f"{count(t['added'], 'lead')} {'was' if t['added'] == 1 else 'were'} added to {where}"]
    if t["status_set"]:
        parts.append(f"{count(t['status_set'], 'status', 'statuses')} changed")
    if t["deleted"]:
        parts.append(f"{t['deleted']:,} removed")
    text = _join(parts)
    problems = []
    if report.interrupted:
        problems.append("the run was stopped before it finished (run it again to finish)")
    if t["failed"]:
        problems.append(f"{count(t['failed'], 'operation')} failed")
    if t["not_started"]:
        problems.append(f"{count(t['not_started'], 'operation')} not started")
    if t["residual"]:
        problems.append(
            f"{count(t['residual'], 'difference')} still "
            f"{'remains' if t['residual'] == 1 else 'remain'} after verification"
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
    "rows_read": "rows read",
    "rows_valid": "valid rows",
    "rows_rejected": "rejected rows",
    "rows_duplicate": "duplicate rows",
    "planned_add": "to add",
    "planned_delete": "to remove",
    "planned_status": "status changes planned",
    "unchanged": "already up to date",
    "drift": "differ from the file (drift)",
    "kept": "kept (not in the file)",
    "added": "added",
    "deleted": "removed",
    "status_set": "status changed",
    "failed": "failed",
    "not_started": "not started (run stopped)",
    "residual": "still different after the run",
    "remote_before": "leads before",
    "remote_after": "leads after",
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
    "rows_read": "read",
    "rows_valid": "valid",
    "rows_rejected": "rejected",
    "rows_duplicate": "duplicate",
    "planned_add": "to add",
    "planned_delete": "to remove",
    "planned_status": "to set status",
    "unchanged": "unchanged",
    "drift": "drift",
    "kept": "kept",
    "added": "added",
    "deleted": "removed",
    "status_set": "status set",
    "failed": "failed",
    "not_started": "not started",
    "residual": "residual",
    "remote_before": "leads before",
    "remote_after": "leads after",
}
