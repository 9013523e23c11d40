"""Where a run's report goes: a new ``<UTC time>_<name>`` folder, or the one ``--report-dir`` names.

A run writes only into a folder that is new or empty, so a report folder never mixes two runs
(an ``operations.jsonl`` appended to while ``summary.json`` is replaced would contradict
itself). ``--replace-report`` lets a run reuse a folder that holds a previous leadsync report
and nothing else; any other content is refused. Symlinks are never followed: not the folder,
not a file in it.

Folder names are ``20261129T235900Z_nightly`` (UTC, to the second); a second run in the same
second gets ``20261129T235900Z-2_nightly``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ConfigError

#: UTC time at the head of report folder names and in archived file names.
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_STAMP_RE = r"[0-9]{8}T[0-9]{6}Z"
#: ``<stamp>[-n]_<name>``: the only folders job pruning may delete.
REPORT_FOLDER_RE = re.compile(rf"^(?P<stamp>{_STAMP_RE})(?:-(?P<n>[0-9]+))?_(?P<name>.+)$")
#: How many same-second names to try before giving up (a report folder or an archived file).
MAX_NAME_TRIES = 1000
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")

SUMMARY_FILE = "summary.json"
ROWS_FILE = "rows.csv"
REJECTED_FILE = "rejected.csv"
OPERATIONS_FILE = "operations.jsonl"
XLSX_FILE = "report.xlsx"
HTML_FILE = "report.html"
BEFORE_FILE = "before.csv"
#: The files a leadsync report folder may hold, in the order write_report returns them (then
#: before.csv, written before any delete); ``--replace-report`` removes exactly these.
REPORT_FILES = (
    SUMMARY_FILE,
    ROWS_FILE,
    REJECTED_FILE,
    OPERATIONS_FILE,
    XLSX_FILE,
    HTML_FILE,
    BEFORE_FILE,
)


def safe_name(name: str) -> str:
    """``name`` made safe as part of a file name: runs of other than ``A-Za-z0-9._-`` → ``_``."""
    safe = _UNSAFE_CHARS.sub("_", name).lstrip(".")
    return safe or "job"


def stamp(now: datetime) -> str:
    """``20261129T235900Z``: ``now`` (an aware datetime) in UTC. ValueError if naive."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"an aware datetime is needed, got naive {now!r}")
    return now.astimezone(UTC).strftime(STAMP_FORMAT)


def new_report_folder(report_root: Path, name: str, now: datetime) -> Path:
    """Create and return this run's report folder ``<report_root>/<UTC stamp>_<name>``.

    ``name`` is the job (or the source file's stem); a second folder in the same second gets
    ``-2``, ``-3``… after the stamp. Creates ``report_root`` when missing. Raises ConfigError
    (exit 2) when the root cannot be made or written.
    """
    head, tail = stamp(now), safe_name(name)
    try:
        report_root.mkdir(parents=True, exist_ok=True)
        for n in range(1, MAX_NAME_TRIES + 1):
            folder = report_root / (f"{head}_{tail}" if n == 1 else f"{head}-{n}_{tail}")
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            return folder
    except OSError as err:
        raise ConfigError(f"report folder root {report_root}: {_why(err)}") from None
    raise ConfigError(f"{report_root}: {MAX_NAME_TRIES} report folders named {head}_{tail}")


def open_report_dir(folder: Path, *, replace: bool = False, create: bool = True) -> Path:
    """Make ``folder`` (``--report-dir``) ready for a new report and return it.

    A missing folder is created (with its parents); an empty one is used as it is. A folder
    holding a previous leadsync report is refused unless ``replace``, which then removes
    that report's files first. Raises ConfigError (exit 2, one line) for a symlink, a file in
    the way, a folder holding anything else, or one that cannot be created. With
    ``create=False`` only checks (creates and removes nothing), so a command can refuse a
    folder before it reads its input and still write nothing when the input is bad.
    """
    if folder.is_symlink():
        raise ConfigError(
            f"--report-dir {folder}: is a symbolic link; name a real folder (links are never "
            "followed, so a report cannot be written somewhere else)"
        )
    if not create and not folder.exists():
        for parent in folder.parents:
            if parent.exists() or parent.is_symlink():
                if not parent.is_dir():
                    raise ConfigError(f"--report-dir {folder}: {parent} is not a folder")
                break
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"--report-dir {folder}: exists and is not a folder") from None
    except OSError as err:
        raise ConfigError(f"--report-dir {folder}: cannot create it: {_why(err)}") from None
    if not folder.is_dir():
        raise ConfigError(f"--report-dir {folder}: exists and is not a folder")
    try:
        entries = list(os.scandir(folder))
    except OSError as err:
        raise ConfigError(f"--report-dir {folder}: cannot read it: {_why(err)}") from None
    if not entries:
        return folder
    foreign = sorted(
        e.name
        for e in entries
        if e.name not in REPORT_FILES
        or not e.is_file(follow_symlinks=False)
        or (e.name == SUMMARY_FILE and not _is_leadsync_summary(Path(e.path)))
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise ConfigError(
            f"--report-dir {folder}: not empty and not a leadsync report folder ({shown}); "
            "name a new or empty folder"
        )
    if not replace:
        raise ConfigError(
            f"--report-dir {folder}: holds a previous report; name a new folder, or pass "
            "--replace-report to replace it"
        )
    if create:
        for entry in entries:
            os.unlink(entry.path)  # regular files only (checked above), never followed
    return folder


def _is_leadsync_summary(path: Path) -> bool:
    """Whether ``path`` is a summary.json that leadsync wrote (not a user's file of that name)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"exit_code", "command", "leadsync_version"} <= data.keys()


def _why(err: OSError) -> str:
    return err.strerror or str(err)
