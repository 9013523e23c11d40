"""``write_report``: every file of a report folder (docs/design.md, 'Reporting'), with progress."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .files import rejected_frame, write_operations, write_rejected, write_rows, write_summary
from .folder import BEFORE_FILE, HTML_FILE, REPORT_FILES, XLSX_FILE
from .html import write_html
from .model import RunReport
from .xlsx import sheet_tables, write_sheets

#: The stage name the writing reports its progress under: ``progress("report", done, total)``.
PROGRESS_STAGE = "report"
#: Progress units of report.html, written last (the small files count nothing).
HTML_UNITS = 1

Progress = Callable[[str, int, int | None], None]


class _Tally:
    """Counts the rows written across the files; reports ``(stage, done, total)``."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, rows: int) -> None:
        with self._lock:
            self.done = min(self.done + rows, self.total)
            if self.progress is not None:
                self.progress(PROGRESS_STAGE, self.done, self.total)


def write_report(
    report: RunReport, folder: Path, *, progress: Progress | None = None
) -> list[Path]:
    """Write the report folder (created when missing) and return the paths written, in the
    order of :data:`~leadsync.report.folder.REPORT_FILES`; set ``report.folder``.

    Each file is replaced atomically, ``summary.json`` last. ``operations.jsonl`` is left alone
    when the apply stage already wrote it (the live journal); ``before.csv`` is written by
    :func:`write_before_csv` before any delete. ``progress("report", done, total)`` counts the
    rows written (plus one for report.html). Raises OSError when the folder cannot be written.

    The CSV files (mostly Arrow work, without the GIL) are written on a worker thread while
    this one writes the workbook and the page (mostly Python): the two overlap on two cores.
    """
    folder.mkdir(parents=True, exist_ok=True)
    report.folder = folder
    rejected = rejected_frame(report.rejected_issues())
    sheets = sheet_tables(report, rejected=rejected)
    tally = _Tally(
        progress,
        len(report.rows) + len(rejected) + sum(s.table.num_rows for s in sheets) + HTML_UNITS,
    )
    tally(0)
    names = [n for n in REPORT_FILES if n != BEFORE_FILE or (folder / n).exists()]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-csv") as pool:
        csv_files = pool.submit(
            lambda: (
                write_rows(report, folder, tally),
                write_rejected(report, folder, tally, frame=rejected),
            )
        )
        operations = write_operations(report, folder)
        workbook = write_sheets(report, sheets, folder / XLSX_FILE, tally)
        html = write_html(report, folder / HTML_FILE, files=names)
    rows_csv, rejected_csv = csv_files.result()
    # Last: a scheduler that finds summary.json finds a complete folder (docs/design.md).
    summary = write_summary(report, folder)
    tally(HTML_UNITS)
    return [summary, rows_csv, rejected_csv, operations, workbook, html]
