"""One import in the console: its uploaded files, options, mapping, plans and applies.

An import moves through the pages: uploaded → mapped → plan (a saved plan, the same file
``leadsync plan --out`` writes, reviewed) → approved (``run_apply`` of exactly that plan) →
result. Its files live in a private work folder (0700, files 0600) and are removed once the
plan has been applied (or refused for anything but a stale plan, which can be re-planned), when
the import is discarded, and when the console stops.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import InputError
from ..report import RunReport
from ..run.inspect import SheetPreview
from ..run.planfile import SavedPlan
from .review import Review
from .tasks import Task

log = logging.getLogger(__name__)

#: File types the upload accepts (the reader's formats).
UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods")
#: Most files one import may upload.
MAX_UPLOAD_FILES = 20
#: Longest file name kept (the rest is cut, the suffix kept).
MAX_NAME_CHARS = 120
#: Bytes copied at a time from an upload into the work folder.
COPY_CHUNK = 1024 * 1024
#: How long stopping the console waits for a running plan or apply to finish its report.
STOP_WAIT_S = 60.0
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_SEPARATORS = re.compile(r"[/\\\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class ImportOptions:
    """What the user chose on the "new import" page."""

    campaign: str | None = None  # None: the file's campaign column
    mode: str = "upsert"
    region: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    mapping_name: str | None = None


@dataclass(frozen=True)
class Upload:
    name: str  # the file's name as the user sent it (display only, escaped by the templates)
    path: Path


@dataclass
class PlanRound:
    """One plan made for the import (a re-plan adds another)."""

    number: int
    path: Path  # the saved plan (absent when a guard refused it)
    report: RunReport
    saved: SavedPlan | None
    review: Review
    #: (operation, in the previous plan, in this one) when made by "re-plan" after a refusal.
    difference: list[tuple[str, int, int]] | None = None

    @property
    def plan_id(self) -> str | None:
        return self.saved.plan_id if self.saved is not None else None


@dataclass
class ApplyRound:
    """One approval: the apply's report, or why it did not start."""

    plan_number: int
    report: RunReport | None = None
    error: str | None = None  # e.g. another apply holds a campaign's lock

    @property
    def stale(self) -> bool:
        return bool(
            self.report is not None and self.report.refusal and "stale" in self.report.refusal
        )


@dataclass
class Import:
    id: str
    folder: Path
    uploads: list[Upload]
    options: ImportOptions
    created: float = field(default_factory=time.time)
    previews: list[SheetPreview] = field(default_factory=list)
    inspect_error: str | None = None
    base_columns: dict[str, str] = field(default_factory=dict)  # [columns] of the previews
    columns: dict[str, str] | None = None  # the [columns] table used for the plan
    notes: list[str] = field(default_factory=list)  # e.g. "mapping saved as …"
    plans: list[PlanRound] = field(default_factory=list)
    applies: list[ApplyRound] = field(default_factory=list)
    task: Task | None = None
    files_removed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def label(self) -> str:
        return Path(self.uploads[0].name).stem if self.uploads else "import"

    @property
    def files_dir(self) -> Path:
        return self.folder / "files"

    @property
    def plan(self) -> PlanRound | None:
        return self.plans[-1] if self.plans else None

    @property
    def last_apply(self) -> ApplyRound | None:
        return self.applies[-1] if self.applies else None

    @property
    def busy(self) -> bool:
        return self.task is not None and self.task.running

    @property
    def step(self) -> str:
        """Where the import is: map, planning, review, applying or result."""
        if self.task is not None and self.task.running:
            return "planning" if self.task.kind == "plan" else "applying"
        last = self.last_apply
        if last is not None and last.plan_number == (self.plan.number if self.plan else 0):
            return "result"
        if self.plan is not None:
            return "review"
        return "map"

    def remove_files(self) -> None:
        """Delete the uploaded files (the plan files stay while the console runs)."""
        shutil.rmtree(self.files_dir, ignore_errors=True)
        self.files_removed = True


def clean_name(name: str | None, index: int) -> str:
    """A file name safe to create in the work folder that keeps what the user sees: no folder
    part, no control characters, not hidden, not too long."""
    base = _SEPARATORS.sub("_", unicodedata.normalize("NFC", name or "")).strip().lstrip(".")
    if not base:
        base = f"upload-{index}"
    if len(base) > MAX_NAME_CHARS:
        stem, dot, suffix = base.rpartition(".")
        keep = MAX_NAME_CHARS - len(suffix) - 1
        base = (stem[:keep] + dot + suffix) if dot else base[:MAX_NAME_CHARS]
    return base


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by this user only."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    os.chmod(path, PRIVATE_DIR_MODE)
    return path


class ImportStore:
    """The imports of this console process, and their private work folder."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = private_dir(work_dir)
        self._imports: dict[str, Import] = {}
        self._lock = threading.Lock()

    def create(self, options: ImportOptions) -> Import:
        iid = secrets.token_hex(8)
        imp = Import(id=iid, folder=private_dir(self.work_dir / iid), uploads=[], options=options)
        private_dir(imp.files_dir)
        with self._lock:
            self._imports[iid] = imp
        return imp

    def get(self, iid: str) -> Import | None:
        with self._lock:
            return self._imports.get(iid)

    def __iter__(self) -> Iterator[Import]:
        with self._lock:
            return iter(list(self._imports.values()))

    def discard(self, iid: str) -> None:
        with self._lock:
            imp = self._imports.pop(iid, None)
        if imp is not None:
            shutil.rmtree(imp.folder, ignore_errors=True)

    def close(self, *, remove_root: bool = True) -> None:
        """Stop running work (an apply finishes its calls in flight and writes its report)
        and remove every import's files; the work folder too when ``remove_root``."""
        for imp in self:
            if imp.task is not None:
                imp.task.stop.set()
        for imp in self:
            if imp.task is not None:
                imp.task.join(timeout=STOP_WAIT_S)
            shutil.rmtree(imp.folder, ignore_errors=True)
        if remove_root:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def save_upload(imp: Import, name: str | None, source: IO[bytes], *, limit: int) -> None:
    """Copy one uploaded file into the import's private folder. Raises InputError for a type
    the reader does not read or a file over ``limit`` bytes (the reader's own bound)."""
    index = len(imp.uploads) + 1
    clean = clean_name(name, index)
    if not clean.lower().endswith(UPLOAD_SUFFIXES):
        raise InputError(
            f"{clean}: not a spreadsheet the reader knows ({', '.join(UPLOAD_SUFFIXES)})"
        )
    taken = {u.path.name for u in imp.uploads}
    stored = clean if clean not in taken else f"{index}-{clean}"
    target = imp.files_dir / stored
    copied = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(COPY_CHUNK):
            copied += len(chunk)
            if copied > limit:
                out.close()
                target.unlink(missing_ok=True)
                raise InputError(
                    f"{clean} is larger than the limit of {limit / 2**20:,.0f} MiB", path=clean
                )
            out.write(chunk)
    imp.uploads.append(Upload(name=(name or clean), path=target))


def describe_options(options: ImportOptions) -> dict[str, Any]:
    return {
        "campaign": options.campaign or "(the file's campaign column)",
        "mode": options.mode,
        "region": options.region or "(from the config)",
        "sheet": options.sheet or "(the first)",
        "header_row": options.header_row or "(found automatically)",
    }
