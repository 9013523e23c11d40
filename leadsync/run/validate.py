"""``validate``: read and check files offline (no API call), write the report folder.

The reject-fraction rule is the sync's own (:func:`leadsync.sync.plan.reject_refusal`).
"""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..config import Settings
from ..errors import ExitCode
from ..models import Count
from ..report import RunReport, read_counts, read_rows, write_report
from ..report.folder import new_report_folder, open_report_dir
from ..sync.plan import reject_refusal

ProgressFn = Callable[[str, int, int | None], None]
_utc_now = functools.partial(datetime.now, UTC)


def run_validate(
    paths: Sequence[Path],
    settings: Settings,
    *,
    report_dir: Path | None = None,
    replace_report: bool = False,
    campaign: str | None = None,
    progress: ProgressFn | None = None,
    clock: Callable[[], datetime] = _utc_now,
    timer: Callable[[], float] = time.perf_counter,
) -> RunReport:
    """Read ``paths`` with the reader, check every row, write the report folder.

    Returns the report; ``report.folder`` is the folder written (``report_dir``, else
    ``settings.sync.report_dir/<UTC time>_<first file stem>``, named like every run's folder
    by :func:`leadsync.report.folder.new_report_folder`). ``report.exit_code`` is 0, or
    2 when more rows were rejected than ``sync.max_reject_fraction`` allows. Raises
    InputError (exit 2) when a file cannot be read at all (nothing is written then),
    ConfigError (exit 2) when ``report_dir`` cannot take a report (see
    :func:`leadsync.report.folder.open_report_dir`).
    """
    import pyarrow as pa

    from ..reader import read_sources  # the reader imports pandas engines; keep import cheap

    if report_dir is not None:  # a folder that cannot take the report: exit 2 before reading
        open_report_dir(report_dir, replace=replace_report, create=False)
    started = clock()
    t0 = timer()
    result = read_sources(list(paths), settings, campaign=campaign, progress=progress)
    timings = {"read": timer() - t0}
    finished = clock()
    counts = read_counts(result, campaign=campaign)
    rows = read_rows(result, release=True)  # result.leads is needed no more
    report = RunReport(
        command="validate",
        dry_run=True,
        mode=settings.sync.mode,
        started_at=started,
        finished_at=finished,
        timings=timings,
        sources=list(result.sources),
        settings=settings.redacted(),
        campaigns=counts,
        rows=rows,
        issues=result.issues,
        messages=list(result.warnings),
    )
    totals = report.totals()
    refusal = reject_refusal(totals[Count.ROWS_REJECTED], totals[Count.ROWS_READ], settings.sync)
    if refusal:
        report.exit_code = int(ExitCode.BAD_INPUT)
        report.refusal = refusal
    elif totals[Count.ROWS_READ] == 0:
        report.messages.append("The files hold no data rows.")
    # The report holds what it needs (its own rows table, the issues): let go of the read
    # leads before writing it, so the report's tables do not sit on top of them.
    del result
    gc.collect()
    pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed pages
    if report_dir is not None:
        folder = open_report_dir(report_dir, replace=replace_report)
    else:
        folder = new_report_folder(
            settings.sync.report_dir, Path(paths[0]).stem if paths else "validate", started
        )
    write_report(report, folder, progress=progress)
    return report


__all__ = ["run_validate"]
