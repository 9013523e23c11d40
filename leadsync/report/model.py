"""The run report: everything a run learned, as one value, and its ``summary.json`` form.

:class:`RunReport` is filled by the pipeline (or :func:`leadsync.run.validate.run_validate`) and
handed to :func:`leadsync.report.write_report`. Totals are always computed from the
per-campaign counts, never kept separately, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from .. import __version__
from ..errors import ExitCode
from ..models import (
    COUNT_KEYS,
    PSEUDO_CAMPAIGNS,
    Count,
    IssueKind,
    OpResult,
    RowIssue,
    SourceInfo,
    empty_rows,
)
from ..models import ROW_COLUMNS as ROW_COLUMNS  # re-exported: report users name it here
from ..sync.issuetable import IssueTable

Command = Literal["sync", "plan", "apply", "validate"]

#: API counters always present in ``summary.json`` (others the client reports are kept too).
API_KEYS: tuple[str, ...] = ("requests", "retries", "throttled")

#: What each exit code means, in words a newcomer understands (README has the same table).
EXIT_MEANINGS: dict[int, str] = {
    ExitCode.OK: "done, nothing failed",
    ExitCode.FAILED: "finished with failed operations or residual differences (or interrupted)",
    ExitCode.BAD_INPUT: "bad input, config or usage",
    ExitCode.REFUSED: "refused by a safety guard or a stale plan; nothing was written",
    ExitCode.UNREACHABLE: "API unreachable or login refused",
    ExitCode.LOCKED: "another run of the job holds the lock",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_utc(moment: datetime | None) -> str | None:
    """``moment`` as ISO 8601 UTC with a ``Z`` (``2024-05-01T12:00:00.123Z``); naive = UTC."""
    if moment is None:
        return None
    text = as_utc(moment).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass(slots=True)
class RunReport:
    """What one run did; the single input of every report writer.

    ``campaigns`` maps a campaign name to a dict holding every key of
    :data:`leadsync.models.COUNT_KEYS` (missing keys count as 0). ``rows`` has
    :data:`ROW_COLUMNS`; ``kept`` and ``drift`` are written with whatever columns they carry.
    ``status_before`` / ``status_after`` map a campaign name to ``{status: count}``.
    ``folder`` is set by :func:`~leadsync.report.write_report` to the folder it wrote.
    """

    command: Command
    exit_code: int = int(ExitCode.OK)
    dry_run: bool = False
    mode: str = "upsert"
    started_at: datetime = field(default_factory=_utc_now)
    finished_at: datetime | None = None
    job: str | None = None
    overrides: list[str] = field(default_factory=list)
    api: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    sources: list[SourceInfo] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    campaigns: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: pd.DataFrame = field(default_factory=empty_rows)
    issues: Sequence[RowIssue] = field(default_factory=list)  # an IssueTable from the reader
    operations: list[OpResult] = field(default_factory=list)
    kept: pd.DataFrame = field(default_factory=pd.DataFrame)
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    status_before: dict[str, dict[str, int]] = field(default_factory=dict)
    status_after: dict[str, dict[str, int]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    refusal: str | None = None
    #: The apply was stopped by a signal (SIGTERM, Ctrl-C) before every operation ran.
    interrupted: bool = False
    folder: Path | None = None  # set by write_report: where the files are

    # --- derived values ---------------------------------------------------------------------
    def campaign_counts(self) -> dict[str, dict[str, int]]:
        """Per campaign, every COUNT_KEY in order (missing ones 0), sorted by campaign name."""
        return {
            name: {key: int(self.campaigns[name].get(key, 0)) for key in COUNT_KEYS}
            for name in sorted(self.campaigns, key=str)
        }

    def totals(self) -> dict[str, int]:
        """Every COUNT_KEY summed over the campaigns."""
        counts = self.campaign_counts().values()
        return {key: sum(c[key] for c in counts) for key in COUNT_KEYS}

    def duration_s(self) -> float | None:
        """Seconds from start to finish (None while the run is not finished)."""
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def issue_table(self) -> IssueTable:
        """``issues`` as columns (itself when the reader made it so)."""
        return IssueTable.from_issues(self.issues)

    def rejected_issues(self) -> IssueTable:
        """The issues that are rejections (duplicates dropped by the policy are not)."""
        return self.issue_table().of_kind(IssueKind.REJECTED)

    def reason_counts(self) -> list[tuple[str, int]]:
        """Rejection reason codes with how many rows carry each, most frequent first."""
        counts = self.issue_table().code_counts()
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def status_rows(self) -> list[tuple[str, str, int | None, int | None]]:
        """``(campaign, status, before, after)`` for each status counted before or after the
        run, by campaign and then status; a count not taken is None."""
        rows = []
        for name in sorted({*self.status_before, *self.status_after}, key=str):
            before = self.status_before.get(name, {})
            after = self.status_after.get(name, {})
            for status in sorted({*before, *after}, key=str):
                rows.append((name, status, before.get(status), after.get(status)))
        return rows

    def exit_meaning(self) -> str:
        """The exit code in words."""
        return EXIT_MEANINGS.get(self.exit_code, "unknown exit code")

    def headline(self) -> str:
        """One sentence (sometimes two) saying what the run did, in words for people who did
        not write leadsync (top of the page and the console), e.g. ``Dry run: 120 leads would
        be added to Spring Promo and 3 removed; nothing was changed.``"""
        t = self.totals()
        if self.refusal:
            return f"Refused: {self.refusal.rstrip('.')}. Nothing was changed in the dialer."
        if self.command == "validate":
            text = (
                f"Validation only, nothing was sent to the dialer: "
                f"{count(t[Count.ROWS_READ], 'row')} read, {t[Count.ROWS_VALID]:,} valid, "
                f"{t[Count.ROWS_REJECTED]:,} rejected, {count(t[Count.ROWS_DUPLICATE], 'duplicate')}."
            )
            if t[Count.ROWS_REJECTED]:
                text += " Fix the rows listed in rejected.csv and load that file again."
            return text
        if self.exit_code in (ExitCode.UNREACHABLE, ExitCode.LOCKED, ExitCode.BAD_INPUT):
            why = self.messages[-1].rstrip(".") if self.messages else self.exit_meaning()
            changed = t[Count.ADDED] + t[Count.DELETED] + t[Count.STATUS_SET]
            if changed:
                return (
                    f"The run stopped after {count(changed, 'change')}: {why}. Re-running is "
                    "safe: it finishes what is left."
                )
            return f"The run stopped: {why}. Nothing was changed in the dialer."
        names = [n for n in self.campaign_counts() if n not in PSEUDO_CAMPAIGNS]
        where = names[0] if len(names) == 1 else f"{len(names):,} campaigns"
        if self.dry_run or self.command == "plan":
            parts = [f"{count(t[Count.PLANNED_ADD], 'lead')} would be added to {where}"]
            if t[Count.PLANNED_STATUS]:
                parts.append(f"{count(t[Count.PLANNED_STATUS], 'status', 'statuses')} changed")
            if t[Count.PLANNED_DELETE]:
                parts.append(f"{t[Count.PLANNED_DELETE]:,} removed")
            lead = "Dry run" if self.dry_run else "Plan"
            return f"{lead}: {_join(parts)}; nothing was changed.{_rejections(t)}"
        added = t[Count.ADDED]
        parts = [f"{count(added, 'lead')} {'was' if added == 1 else 'were'} added to {where}"]
        if t[Count.STATUS_SET]:
            parts.append(f"{count(t[Count.STATUS_SET], 'status', 'statuses')} changed")
        if t[Count.DELETED]:
            parts.append(f"{t[Count.DELETED]:,} removed")
        text = _join(parts)
        problems = []
        if self.interrupted:
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
        elif self.exit_code == ExitCode.FAILED:
            text += "; the run was interrupted before it finished."
        else:
            text += "; nothing failed."
        return text + _rejections(t)

    def summary_dict(self) -> dict[str, Any]:
        """The content of ``summary.json``: plain JSON types, keys in a stable order."""
        api = {key: int(self.api.get(key, 0)) for key in API_KEYS}
        api.update({k: v for k, v in self.api.items() if k not in api})
        return {
            "exit_code": int(self.exit_code),
            "exit_meaning": self.exit_meaning(),
            "headline": self.headline(),
            "dry_run": bool(self.dry_run),
            "interrupted": bool(self.interrupted),
            "mode": self.mode,
            "command": self.command,
            "job": self.job,
            "started_at": iso_utc(self.started_at),
            "finished_at": iso_utc(self.finished_at),
            "duration_s": self.duration_s(),
            "overrides": list(self.overrides),
            "api": api,
            "timings": {k: round(float(v), 3) for k, v in self.timings.items()},
            "sources": [asdict(s) for s in self.sources],
            "settings": self.settings,
            "totals": self.totals(),
            "campaigns": self.campaign_counts(),
            "status_before": _plain_nested(self.status_before),
            "status_after": _plain_nested(self.status_after),
            "messages": list(self.messages),
            "refusal": self.refusal,
            "leadsync_version": __version__,
        }


headline = RunReport.headline


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``1 lead``, ``1,200 leads``."""
    word = singular if n == 1 else (plural or singular + "s")
    return f"{n:,} {word}"


def _join(parts: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def _rejections(t: dict[str, int]) -> str:
    n = t[Count.ROWS_REJECTED]
    if not n:
        return ""
    return f" {count(n, 'input row')} {'was' if n == 1 else 'were'} rejected (see rejected.csv)."


def _plain_nested(data: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {
        str(name): {str(s): int(n) for s, n in sorted(counts.items())}
        for name, counts in sorted(data.items(), key=lambda kv: str(kv[0]))
    }
