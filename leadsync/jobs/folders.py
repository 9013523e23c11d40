"""Configured jobs on disk: their paths (relative ones against the config file's folder), the
files their ``source`` patterns match, their report folders (pruned, last run, status) and the
archive of the files a successful run read. Pruning only ever deletes folders named exactly as
:mod:`leadsync.report.folder` names that job's reports.
"""

from __future__ import annotations

import errno
import glob
import json
import logging
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import JobSettings, Settings
from ..errors import ConfigError, InputError
from ..models import Count
from ..report.folder import MAX_NAME_TRIES, REPORT_FOLDER_RE, STAMP_FORMAT, stamp
from ..report.folder import safe_name as safe_job_name
from ..report.model import EXIT_MEANINGS
from ..run.lock import LOCK_DIR_NAME, LOCK_SUFFIX, campaign_lock_dir, holder_state, read_lock

log = logging.getLogger(__name__)

#: Totals shown in one-line summaries (``leadsync jobs``, notifications), in this order, when
#: non-zero; ``failed`` and ``residual`` are shown even at zero (zero there is news too).
TOTALS_SHOWN: tuple[str, ...] = (
    Count.ROWS_READ,
    Count.ROWS_REJECTED,
    Count.ADDED,
    Count.STATUS_SET,
    Count.DELETED,
    Count.FAILED,
    Count.RESIDUAL,
)
TOTALS_ALWAYS_SHOWN: frozenset[str] = frozenset({Count.FAILED, Count.RESIDUAL})

SUMMARY_FILE = "summary.json"
_GLOB_MAGIC = re.compile(r"[*?[]")


def format_totals(totals: Mapping[str, Any]) -> str:
    """``rows_read 1200, added 40, failed 2, residual 0``: the totals that say most."""
    return ", ".join(
        f"{key} {totals[key]}"
        for key in TOTALS_SHOWN
        if key in totals and (totals[key] or key in TOTALS_ALWAYS_SHOWN)
    )


def lock_path(report_root: Path, job: str) -> Path:
    """The lock file of ``job``: ``<report_root>/.locks/<job>.lock``.

    The report root is already writable and kept between runs (reports and :func:`last_run`
    live there), so the lock needs no setting of its own.
    """
    return report_root / LOCK_DIR_NAME / f"{safe_job_name(job)}{LOCK_SUFFIX}"


@dataclass(frozen=True, slots=True)
class JobPaths:
    """Where one job's files are, every path absolute."""

    base_dir: Path  # the config file's folder: relative paths in the config start here
    report_root: Path  # the job's report_dir (else [sync] report_dir)
    lock_file: Path
    archive_dir: Path | None
    campaign_lock_dir: Path  # the configuration's, not moved by the job's report_dir


def _absolute(path: Path, base_dir: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base_dir / path


def job_paths(settings: Settings, name: str, *, cwd: Path) -> JobPaths:
    """The paths of job ``name``. Raises ConfigError (exit 2) for an unknown job."""
    job = settings.job(name)
    # The config file's folder, or ``cwd`` when the settings came from no file.
    base = cwd if settings.config_path is None else (cwd / settings.config_path).parent
    root = _absolute(settings.for_job(name).sync.report_dir, base)
    return JobPaths(
        base_dir=base,
        report_root=root,
        lock_file=lock_path(root, name),
        archive_dir=_absolute(job.archive_dir, base) if job.archive_dir is not None else None,
        campaign_lock_dir=_absolute(campaign_lock_dir(settings), base),
    )


def resolve_sources(job: JobSettings, base_dir: Path) -> list[Path]:
    """The files job ``job`` reads: every match of its ``source`` paths and globs.

    Relative patterns start at ``base_dir`` (the config file's folder); ``~`` is expanded; ``**``
    matches folders recursively; names starting with a dot are not matched by wildcards. Matches
    of each pattern are sorted by name, patterns keep their configured order (which matters for
    ``duplicate_policy``), and a file matched twice is read once. Only regular files count.

    A pattern matching nothing is logged as a warning; raises InputError (exit 2) when no
    pattern matches any file, or when a literal path names a folder.
    """
    found: dict[str, Path] = {}
    for pattern in job.source:
        matches = _matches(job.name, pattern, base_dir)
        if not matches:
            log.warning("job %r: source %r matches no file", job.name, pattern)
        for match in matches:
            found.setdefault(os.path.normpath(match), Path(os.path.normpath(match)))
    if not found:
        patterns = ", ".join(job.source)
        raise InputError(f"job {job.name}: no files match {patterns} (looked in {base_dir})")
    return list(found.values())


def _matches(job: str, pattern: str, base_dir: Path) -> list[str]:
    raw = os.path.expanduser(pattern)
    if _GLOB_MAGIC.search(raw) is None:
        path = os.path.join(base_dir, raw)  # an absolute ``raw`` stays as it is
        if os.path.isdir(path):
            raise InputError(
                f"job {job}: source {pattern!r} is a folder; name files or use a glob "
                f"such as {os.path.join(pattern, '*.csv')!r}",
                path=path,
            )
        return [path] if os.path.isfile(path) else []
    full = raw if os.path.isabs(raw) else os.path.join(glob.escape(str(base_dir)), raw)
    return sorted(m for m in glob.glob(full, recursive=True) if os.path.isfile(m))


def _report_folders(report_root: Path, job: str) -> list[Path]:
    """The job's report folders, newest first (real folders only, never symlinks)."""
    want = safe_job_name(job)
    keyed: list[tuple[str, int, Path]] = []
    try:
        entries = list(os.scandir(report_root))
    except FileNotFoundError:
        return []
    for entry in entries:
        m = REPORT_FOLDER_RE.match(entry.name)
        if m and m["name"] == want and entry.is_dir(follow_symlinks=False):
            keyed.append((m["stamp"], int(m["n"] or 1), Path(entry.path)))
    keyed.sort(key=lambda k: (k[0], k[1]), reverse=True)
    return [path for _, _, path in keyed]


def prune_reports(report_root: Path, job: str, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest report folders of ``job``; return those deleted.

    Only folders named ``<UTC stamp>[-n]_<job>`` directly under ``report_root`` are considered;
    anything else (other jobs, files, symlinks, ``.locks``, folders people made) is never
    touched. A folder that cannot be deleted is logged as a warning and skipped: pruning is
    housekeeping and never fails a run. Raises ValueError when ``keep`` < 1.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    deleted = []
    for folder in reversed(_report_folders(report_root, job)[keep:]):
        try:
            shutil.rmtree(folder)
        except OSError as err:
            log.warning("job %r: could not prune report folder %s: %s", job, folder, err)
            continue
        deleted.append(folder)
    if deleted:
        log.info("job %r: pruned %d old report folder(s), kept %d", job, len(deleted), keep)
    return deleted


def last_run(report_root: Path, job: str) -> dict[str, Any] | None:
    """The newest finished run of ``job``: its ``summary.json`` read; ``None`` if none.

    Returns ``{"folder", "time", "started_at", "finished_at", "exit_code", "meaning",
    "dry_run", "mode", "totals", "unfinished_newer"}``: ``time`` is ``finished_at`` (else
    ``started_at``, else the folder's stamp); ``unfinished_newer`` counts newer report folders
    without a readable summary (a run in progress, or one that was killed).
    """
    unfinished = 0
    for folder in _report_folders(report_root, job):
        try:
            summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
            exit_code = int(summary["exit_code"])
        except (OSError, ValueError, KeyError, TypeError):
            unfinished += 1
            continue
        match = REPORT_FOLDER_RE.match(folder.name)
        folder_time = (
            datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=UTC).isoformat()
            if match
            else None
        )
        return {
            "folder": folder,
            "time": summary.get("finished_at") or summary.get("started_at") or folder_time,
            "started_at": summary.get("started_at"),
            "finished_at": summary.get("finished_at"),
            "exit_code": exit_code,
            "meaning": EXIT_MEANINGS.get(exit_code, "unknown exit code"),
            "dry_run": summary.get("dry_run"),
            "mode": summary.get("mode"),
            "totals": summary.get("totals") or {},
            "unfinished_newer": unfinished,
        }
    return None


def job_status(settings: Settings, name: str, *, cwd: Path) -> dict[str, Any]:
    """What ``leadsync jobs`` shows for job ``name``: ``{"name", "sources", "campaign",
    "mode", "report_root", "last_run"`` (:func:`last_run` or None)``, "lock"}``; ``lock`` is
    None, or the lock file's content plus ``state``: ``running`` / ``stale`` (its pid is dead
    on this host; the next run takes it over) / ``unknown`` (held from another host).
    Raises ConfigError for an unknown job."""
    job = settings.job(name)
    paths = job_paths(settings, name, cwd=cwd)
    holder = read_lock(paths.lock_file)
    lock = None
    if holder is not None:
        lock = {**asdict(holder), "state": holder_state(holder)}
    return {
        "name": job.name,
        "sources": list(job.source),
        "campaign": job.campaign,
        "mode": settings.for_job(name).sync.mode,
        "report_root": paths.report_root,
        "last_run": last_run(paths.report_root, name),
        "lock": lock,
    }


def archive_sources(paths: list[Path], archive_dir: Path, now: datetime) -> list[Path]:
    """Move the files a run read into ``archive_dir``; return their new paths, in order.

    Call only after a run that exited 0. ``leads.csv`` becomes ``leads.20261129T235900Z.csv``
    (``now`` in UTC; an aware datetime, else ValueError); an existing name is never overwritten
    (``leads.20261129T235900Z-2.csv`` instead). ``archive_dir`` is created when missing. A
    move within one filesystem is a hard link then an unlink (atomic, never overwrites); across
    filesystems it is an exclusive copy, then the source is removed.

    Raises ConfigError (exit 2) naming the file and how many were archived before it when one
    cannot be moved (permissions, a full disk); files already moved stay moved.
    """
    head = stamp(now)
    moved: list[Path] = []
    try:
        archive_dir.mkdir(parents=True, exist_ok=True)
        for src in paths:
            moved.append(_archive_one(Path(src), archive_dir, head))
            log.info("archived %s as %s", src, moved[-1])
    except OSError as err:
        raise ConfigError(
            f"cannot archive {err.filename or archive_dir} into {archive_dir}: "
            f"{err.strerror or err} ({len(moved)} of {len(paths)} file(s) archived before it)"
        ) from None
    return moved


def _archive_one(src: Path, archive_dir: Path, head: str) -> Path:
    for n in range(1, MAX_NAME_TRIES + 1):
        tag = head if n == 1 else f"{head}-{n}"
        dst = archive_dir / f"{src.stem}.{tag}{src.suffix}"
        try:
            _place(src, dst)
        except FileExistsError:
            continue
        src.unlink()
        return dst
    raise FileExistsError(errno.EEXIST, f"{MAX_NAME_TRIES} archived copies exist", str(src))


#: link() failures that mean "this filesystem cannot hard-link here": copy instead.
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


def _place(src: Path, dst: Path) -> None:
    """Make ``dst`` a copy of ``src`` without ever replacing an existing ``dst``."""
    try:
        os.link(src, dst)
        return
    except OSError as err:
        if err.errno not in _NO_LINK:  # FileExistsError included
            raise
    with src.open("rb") as fin, dst.open("xb") as fout:
        try:
            shutil.copyfileobj(fin, fout)
            fout.flush()
            os.fsync(fout.fileno())
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
    shutil.copystat(src, dst)
