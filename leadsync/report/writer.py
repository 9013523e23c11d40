"""``write_report``: every file of a report folder (PRODUCT.md §5)."""

from __future__ import annotations

from pathlib import Path

from .files import (
    BEFORE_NAME,
    OPERATIONS_NAME,
    write_operations,
    write_rejected,
    write_rows,
    write_summary,
)
from .html import write_html
from .model import RunReport
from .xlsx import write_xlsx

XLSX_NAME = "report.xlsx"
HTML_NAME = "report.html"


def write_report(report: RunReport, folder: Path) -> list[Path]:
    """Write the report folder and return the paths written, in this order:
    ``summary.json``, ``rows.csv``, ``rejected.csv``, ``operations.jsonl``, ``report.xlsx``,
    ``report.html``.

    The folder is created when missing. Each file is replaced atomically, so a file is either
    the old one or complete. ``operations.jsonl`` is left alone when the apply stage already
    wrote it (it is the live journal); ``before.csv`` is written by :func:`write_before_csv`
    before any delete. Sets ``report.folder``. Raises OSError when the folder cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    report.folder = folder
    paths = [
        write_summary(report, folder),
        write_rows(report, folder),
        write_rejected(report, folder),
        write_operations(report, folder),
        write_xlsx(report, folder / XLSX_NAME),
    ]
    names = [p.name for p in paths] + [HTML_NAME]
    if (folder / BEFORE_NAME).exists():
        names.append(BEFORE_NAME)
    paths.append(write_html(report, folder / HTML_NAME, files=names))
    return paths


__all__ = ["HTML_NAME", "OPERATIONS_NAME", "XLSX_NAME", "write_report"]
