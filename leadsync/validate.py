"""``validate``: read and check files offline (no API call), write the report folder.

Also home of the reject-fraction rule (PRODUCT.md §3), which the sync pipeline applies the
same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from .config import Settings
from .errors import ExitCode
from .jobs import new_report_folder
from .models import ReadResult
from .report import RunReport, read_counts, read_rows, write_report

ProgressFn = Callable[[str, int, int | None], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def reject_fraction_message(rejected: int, rows_read: int, max_fraction: float) -> str | None:
    """None when ``rejected`` rows of ``rows_read`` are within ``max_fraction``; otherwise the
    sentence that explains the refusal (exit 2) and how to override it."""
    if rows_read <= 0 or rejected / rows_read <= max_fraction:
        return None
    return (
        f"{rejected:,} of {rows_read:,} rows ({rejected / rows_read:.1%}) were rejected, more "
        f"than the {max_fraction:.0%} allowed by sync.max_reject_fraction; fix the rows listed "
        f"in rejected.csv (or raise max_reject_fraction in the config)"
    )


def build_validate_report(
    result: ReadResult,
    settings: Settings,
    *,
    campaign: str | None,
    started_at: datetime,
    finished_at: datetime,
    timings: dict[str, float],
) -> RunReport:
    """The RunReport of a validation: counts per campaign, rows, and the reject-fraction rule."""
    counts = read_counts(result, campaign=campaign)
    report = RunReport(
        command="validate",
        dry_run=True,
        mode=settings.sync.mode,
        started_at=started_at,
        finished_at=finished_at,
        timings=timings,
        sources=list(result.sources),
        settings=settings.redacted(),
        campaigns=counts,
        rows=read_rows(result),
        issues=list(result.issues),
        messages=list(result.warnings),
    )
    totals = report.totals()
    refusal = reject_fraction_message(
        totals["rows_rejected"], totals["rows_read"], settings.sync.max_reject_fraction
    )
    if refusal:
        report.exit_code = int(ExitCode.BAD_INPUT)
        report.refusal = refusal
    elif totals["rows_read"] == 0:
        report.messages.append("The files hold no data rows.")
    return report


def run_validate(
    paths: Sequence[Path],
    settings: Settings,
    *,
    report_dir: Path | None = None,
    campaign: str | None = None,
    progress: ProgressFn | None = None,
    clock: Callable[[], datetime] = _utc_now,
    timer: Callable[[], float] = time.perf_counter,
) -> RunReport:
    """Read ``paths`` with the reader, check every row, write the report folder.

    Returns the report; ``report.folder`` is the folder written (``report_dir``, else
    ``settings.sync.report_dir/<UTC time>_<first file stem>``, named like every run's folder
    by :func:`leadsync.jobs.new_report_folder`). ``report.exit_code`` is 0, or
    2 when more rows were rejected than ``sync.max_reject_fraction`` allows. Raises
    InputError (exit 2) when a file cannot be read at all; nothing is written then.
    """
    from .reader import read_sources  # the reader imports pandas engines; keep import cheap

    started = clock()
    t0 = timer()
    result = read_sources(list(paths), settings, campaign=campaign, progress=progress)
    timings = {"read": timer() - t0}
    report = build_validate_report(
        result,
        settings,
        campaign=campaign,
        started_at=started,
        finished_at=clock(),
        timings=timings,
    )
    folder = report_dir or new_report_folder(
        settings.sync.report_dir, Path(paths[0]).stem if paths else "validate", started
    )
    write_report(report, folder, progress=progress)
    return report


__all__ = [
    "build_validate_report",
    "reject_fraction_message",
    "run_validate",
]
