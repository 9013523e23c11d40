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
    IssueKind,
    OpResult,
    RowIssue,
    SourceInfo,
    zero_counts,
)
from ..models import ROW_COLUMNS as ROW_COLUMNS  # re-exported: report users name it here
from ..models import empty_rows as empty_rows
from ..sync.issuetable import IssueTable

Command = Literal["sync", "plan", "apply", "validate"]

#: API counters always present in ``summary.json`` (others the client reports are kept too).
API_KEYS: tuple[str, ...] = ("requests", "retries", "throttled")
#: Campaign label for rows that name no campaign (``validate`` without ``--campaign``).
NO_CAMPAIGN = "(no campaign)"

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
        out: dict[str, dict[str, int]] = {}
        for name in sorted(self.campaigns, key=str):
            counts = zero_counts()
            for key, value in self.campaigns[name].items():
                if key in counts:
                    counts[key] = int(value)
            out[name] = counts
        return out

    def totals(self) -> dict[str, int]:
        """Every COUNT_KEY summed over the campaigns."""
        totals = zero_counts()
        for counts in self.campaign_counts().values():
            for key in COUNT_KEYS:
                totals[key] += counts[key]
        return totals

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

    def reason_examples(self) -> dict[str, str]:
        """Each reason code with the message of the first row that carries it."""
        return self.issue_table().code_examples()

    def exit_meaning(self) -> str:
        """The exit code in words."""
        return EXIT_MEANINGS.get(self.exit_code, "unknown exit code")

    def headline(self) -> str:
        """One plain sentence saying what happened (top of the HTML page and the console)."""
        from .words import headline

        return headline(self)

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


def _plain_nested(data: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {
        str(name): {str(s): int(n) for s, n in sorted(counts.items())}
        for name, counts in sorted(data.items(), key=lambda kv: str(kv[0]))
    }
