"""Every run's report folder — console, CLI and nightly jobs — and the files in it.

The report roots are ``[sync] report_dir`` and each job's report root. A run is a folder named
as :mod:`leadsync.report.folder` names them (``<UTC stamp>[-n]_<name>``) directly under a root,
never a symlink; only the files a report folder holds (``REPORT_FILES``) are ever served.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import Settings
from ..errors import LeadsyncError
from ..jobs.folders import job_paths
from ..models import ROW_COLUMNS
from ..report.folder import REPORT_FILES, REPORT_FOLDER_RE, STAMP_FORMAT, SUMMARY_FILE
from .review import Page, page_of

#: rows.csv tables kept parsed in memory (those of the most recently opened runs).
ROWS_CACHE_SIZE = 4


@dataclass(frozen=True)
class RunEntry:
    """One report folder."""

    root: int  # index into the roots
    name: str
    path: Path
    stamp: datetime
    label: str

    def summary(self) -> dict[str, Any] | None:
        """Its ``summary.json`` (None while the run is unfinished or when it is unreadable)."""
        path = self.path / SUMMARY_FILE
        if path.is_symlink():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def _entry(root: int, path: Path) -> RunEntry | None:
    m = REPORT_FOLDER_RE.match(path.name)
    if not m:
        return None
    stamp = datetime.strptime(m["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
    return RunEntry(root, path.name, path, stamp, m["name"])


def report_roots(settings: Settings, cwd: Path) -> list[Path]:
    """Where report folders are: ``[sync] report_dir`` and each job's root (absolute, each once)."""
    roots = [cwd / settings.sync.report_dir]  # an absolute report_dir stays as it is
    for job in settings.jobs:
        try:
            roots.append(job_paths(settings, job.name, cwd=cwd).report_root)
        except LeadsyncError:
            continue
    return list(dict.fromkeys(Path(os.path.normpath(root)) for root in roots))


def run_link(roots: list[Path], folder: Path | None) -> str | None:
    """The console's page of report folder ``folder``; None when it is not under a root."""
    if folder is None or not REPORT_FOLDER_RE.match(folder.name):
        return None
    for index, root in enumerate(roots):
        if folder.parent == root:
            return f"/runs/{index}/{folder.name}"
    return None


def list_runs(roots: list[Path]) -> list[RunEntry]:
    """Every report folder under ``roots``, newest first."""
    entries: list[RunEntry] = []
    for index, root in enumerate(roots):
        try:
            found = list(os.scandir(root))
        except OSError:
            continue
        for item in found:
            entry = _entry(index, Path(item.path))
            if entry is not None and item.is_dir(follow_symlinks=False):
                entries.append(entry)
    entries.sort(key=lambda e: (e.stamp, e.name), reverse=True)
    return entries


def find_run(roots: list[Path], root: int, name: str) -> RunEntry | None:
    """The run ``name`` under root number ``root``; None unless it is a real report folder."""
    if not 0 <= root < len(roots) or "/" in name or name in (".", ".."):
        return None
    path = roots[root] / name
    if path.is_symlink() or not path.is_dir():
        return None
    return _entry(root, path)


def run_file(run: RunEntry, name: str) -> Path | None:
    """A report file of ``run`` that may be served (a regular file, not a symlink)."""
    if name not in REPORT_FILES:
        return None
    path = run.path / name
    if path.is_symlink() or not path.is_file():
        return None
    return path


@functools.lru_cache(maxsize=ROWS_CACHE_SIZE)
def _rows(path: Path, size: int, mtime_ns: int) -> pd.DataFrame:
    """rows.csv parsed once per version of the file (its size and mtime are in the key)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    for col in ROW_COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    frame.attrs["search"] = ("number", "campaign", "lead_id", "file", "reasons", "message")
    frame["action"] = frame["outcome"]
    return frame


def page_rows(
    path: Path, *, page: int, outcome: str | None, query: str | None
) -> tuple[Page, dict[str, int]]:
    """One page of rows.csv filtered by outcome and text, and the count of each outcome."""
    info = path.stat()
    frame = _rows(path, info.st_size, info.st_mtime_ns)
    counts = {str(k): int(v) for k, v in frame["outcome"].value_counts().items()}
    return (
        page_of(frame, page=page, action=outcome, query=query, columns=ROW_COLUMNS),
        counts,
    )
