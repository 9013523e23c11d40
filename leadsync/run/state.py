"""What a run is asked to do and what it has gathered: :class:`SyncRequest` and :class:`Run`.

Each stage of :mod:`leadsync.run.pipeline` is a function from one typed value to the next; the
:class:`Run` keeps those values in typed fields (``read``, ``targets``, ``current``, ``plan``,
``applied``, ``verification``…) so that the report stage can say what happened however far the
run got. :class:`CampaignsApi` is everything the stages ask of the API client.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pyarrow as pa

from ..apply import ApplyResult
from ..apply.calls import LeadWriter
from ..config import Settings
from ..errors import InputError, LeadsyncError, RefusedError
from ..logs import log_context
from ..models import ReadResult
from ..report.folder import new_report_folder, open_report_dir
from ..sync.diff import CampaignDiff
from ..sync.outcomes import Verification
from ..sync.plan import Plan
from .campaigns import Current, LeadSource, Targets
from .planfile import SavedPlan

log = logging.getLogger(__name__)
T = TypeVar("T")
#: ``progress(stage, done, total)``: what a terminal (or the console) shows of a long stage.
Progress = Callable[[str, int, int | None], None]


class Counters(Protocol):
    def as_dict(self) -> Mapping[str, int]: ...


class CampaignsApi(LeadSource, LeadWriter, Protocol):
    """What the run stages use of the API client (:class:`leadsync.api.CampaignsClient`)."""

    @property
    def counters(self) -> Counters: ...


@dataclass(frozen=True)
class SyncRequest:
    """What the user asked for: the files and the flags of ``leadsync sync``."""

    sources: tuple[Path, ...]
    campaign: str | None = None
    dry_run: bool = False
    allow_mass_delete: bool = False
    report_dir: Path | None = None  # this run's folder (--report-dir)
    report_root: Path | None = None  # else a new <UTC time>_<label> folder under this root
    replace_report: bool = False  # --replace-report: reuse a folder holding an older report
    job: str | None = None
    plan_out: Path | None = None  # `leadsync plan`: a dry run that saves the reviewed plan

    @property
    def label(self) -> str:
        """The name at the end of the report folder: the job, else the first file's stem."""
        return self.job or (self.sources[0].stem if self.sources else "sync")


@dataclass
class Run:
    """One run: its request, its report folder, and the value of every stage that ran."""

    settings: Settings
    request: SyncRequest
    folder: Path
    started_at: datetime
    progress: Progress | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    timings: dict[str, float] = field(default_factory=dict)
    error: LeadsyncError | None = None
    messages: list[str] = field(default_factory=list)
    # the stages' values, in pipeline order (None: the stage did not run or did not finish)
    read: ReadResult | None = None
    targets: Targets | None = None
    current: Current | None = None
    diffs: dict[str, CampaignDiff] = field(default_factory=dict)
    plan: Plan | None = None
    overrides: list[str] = field(default_factory=list)
    saved: SavedPlan | None = None  # `leadsync apply`: the reviewed plan being applied
    applied: ApplyResult | None = None
    verification: Verification | None = None

    @classmethod
    def start(
        cls,
        settings: Settings,
        request: SyncRequest,
        *,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        now: datetime | None = None,
    ) -> Run:
        """Open the run's report folder. Raises ConfigError (exit 2) when it cannot be used
        (see :func:`leadsync.report.folder.open_report_dir`)."""
        started = now or datetime.now(UTC)
        if request.report_dir is not None:  # --report-dir names the folder itself
            folder = open_report_dir(request.report_dir, replace=request.replace_report)
        else:
            root = request.report_root or settings.sync.report_dir
            folder = new_report_folder(root, request.label, started)
        return cls(
            settings=settings,
            request=request,
            folder=folder,
            started_at=started,
            progress=progress,
            stop=stop or threading.Event(),
        )

    def stage(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one stage: time it and tag its log lines with ``stage``; return its value."""
        t0 = time.perf_counter()
        try:
            with log_context(stage=name):
                return fn(*args, **kwargs)
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 4)

    def release(self) -> None:
        """Let go of the stages' tables (read leads, remote leads, diffs, plan) once the
        report is built from them: writing it then needs no memory for them."""
        self.read = self.targets = self.current = self.plan = None
        self.diffs = {}
        gc.collect()
        pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed pages

    def fail(self, err: LeadsyncError) -> None:
        """Remember the error that stopped the run; the report carries it."""
        if (
            self.settings.sync.mode == "mirror"
            and isinstance(err, InputError)
            and self.read is None
        ):
            # A mirror fed an unreadable file must never be mistaken for "remove everything".
            err = RefusedError(
                f"refusing to mirror: the input could not be read ({err}); nothing was written",
                guard="empty-mirror",
            )
        log.error("%s", err)
        self.error = err
