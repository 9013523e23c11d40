"""One run per job, one writer per campaign: lock files held with ``flock`` (docs/design.md,
'Safety').

Two kinds of lock use this file: a job's (``leadsync sync --job NAME``: one run of a job at a
time) and a campaign's (:func:`campaign_locks`: every run that may change a campaign — a sync
that is not a dry run, ``leadsync apply``, the console's approve — holds the lock of each of its
campaigns from before it reads the live leads until it has verified its changes, so two writers
never plan against each other's half-applied changes).

An exclusive ``fcntl.flock`` on the job's lock file is held for the whole run. The flock alone
decides who owns the job: the kernel drops it when the holder exits, however it exits (SIGKILL,
OOM kill), so a crashed run never blocks the next one. The file itself is never deleted — only
emptied when a run releases it — so every run locks the same file and no unlink race exists.
Its JSON content ``{pid, hostname, started_at, job}`` is for people and error messages; content
found by the next holder means the previous run ended without releasing (a *stale* lock, taken
over and logged).

The lock folder must be on a filesystem where ``flock`` works between every host that runs the
job: a local disk, or NFSv4. Never delete a lock file by hand while a run may hold it. Where a
job's lock file lives is decided by :func:`leadsync.jobs.folders.lock_path`; a campaign's by
:func:`campaign_lock_dir` (``[sync] lock_dir``, else ``<report_dir>/.locks``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..config import Settings
from ..errors import LockedError
from ..report.folder import safe_name

log = logging.getLogger(__name__)

#: The folder of lock files under a report root (never matches a report folder's name).
LOCK_DIR_NAME = ".locks"
LOCK_SUFFIX = ".lock"
#: Permission bits of a new lock file (owner writes; everyone may read who holds it).
LOCK_FILE_MODE = 0o644
#: A refused run reads the holder's content for its message; while that content may be a
#: dead holder's (a taker is mid-takeover), it reads again every pause, at most this long.
HOLDER_SETTLE_S = 5.0
HOLDER_READ_PAUSE_S = 0.01
#: Never read more than this from a lock file (it holds a few hundred bytes of JSON).
MAX_LOCK_FILE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds (or held) a lock: the lock file's content."""

    pid: int
    hostname: str
    started_at: str  # ISO 8601 UTC, e.g. 2026-11-29T23:59:00Z
    job: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LockInfo | None:
        """Parse lock file content; ``None`` when empty, partial or not ours."""
        try:
            data = json.loads(text)
            return cls(
                pid=int(data["pid"]),
                hostname=str(data["hostname"]),
                started_at=str(data["started_at"]),
                job=str(data["job"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        """``pid 4242 on host web1 since 2026-11-29T23:59:00Z``."""
        return f"pid {self.pid} on host {self.hostname} since {self.started_at}"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (signal 0; EPERM means it exists)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_lock(path: Path) -> LockInfo | None:
    """The content of the lock file at ``path`` without locking anything (for status tables).

    ``None`` when there is no lock file or its content is unreadable. A file being present does
    not prove a run is going on: see :func:`holder_state`.
    """
    try:
        with path.open("rb") as fh:
            return LockInfo.from_json(fh.read(MAX_LOCK_FILE_BYTES).decode("utf-8", "replace"))
    except OSError:
        return None


def holder_state(info: LockInfo, hostname: str | None = None) -> str:
    """``running``, ``stale`` (its pid is dead on this host) or ``unknown`` (another host)."""
    here = hostname or socket.gethostname()
    if info.hostname != here:
        return "unknown"
    return "running" if pid_alive(info.pid) else "stale"


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _write_fd(fd: int, text: str) -> None:
    # Write first, then cut to length: a reader never sees an empty file, only old or new
    # content (or, at worst, a mix it cannot parse and reads again).
    data = text.encode("utf-8")
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))
    os.fsync(fd)


class JobLock:
    """Hold the lock of one job for the duration of a ``with`` block.

    ``with JobLock(jobs.lock_path(root, "nightly"), job="nightly"):`` — raises
    :class:`~leadsync.errors.LockedError` (exit 5) at once when another live run holds it; takes
    over a stale lock (logging a warning naming the dead holder); empties the file on exit.

    ``clock`` gives the start time written to the file (an aware datetime); ``hostname`` and
    ``pid`` default to this process's. Not re-entrant: a second ``JobLock`` on the same path in
    the same process is refused like any other holder.
    """

    def __init__(
        self,
        path: Path,
        *,
        job: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hostname: str | None = None,
        pid: int | None = None,
        title: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.job = job if job is not None else self.path.stem
        #: What the refusal names: ``job 'nightly'``, or a campaign's ``campaign 'Spring' (id 7)``.
        self.title = title or f"job {self.job!r}"
        self._clock = clock
        self._hostname = hostname or socket.gethostname()
        self._pid = pid if pid is not None else os.getpid()
        self._fd: int | None = None
        self.info: LockInfo | None = None
        #: The dead holder's content when this lock was taken over from a stale one.
        self.took_over: LockInfo | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> JobLock:
        """Take the lock; return ``self``. Raises LockedError when a live run holds it."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this JobLock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, LOCK_FILE_MODE)
        try:
            if not _try_flock(fd):
                raise self._locked_error()
            previous = os.pread(fd, MAX_LOCK_FILE_BYTES, 0).decode("utf-8", "replace")
            info = LockInfo(
                pid=self._pid,
                hostname=self._hostname,
                started_at=self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                job=self.job,
            )
            _write_fd(fd, info.to_json())
        except BaseException:
            os.close(fd)
            raise
        self._fd, self.info = fd, info
        if previous.strip():
            self.took_over = LockInfo.from_json(previous)
            who = self.took_over.describe() if self.took_over else "an unknown process"
            log.warning(
                "%s: took over a stale lock %s left by %s (it no longer holds it)",
                self.title,
                self.path,
                who,
            )
        return self

    def _locked_error(self) -> LockedError:
        # A process taking over a stale lock holds the flock an instant before it rewrites the
        # content, so the content may still name the dead holder: read it again until it names
        # a live process on this host, or changes, or HOLDER_SETTLE_S has passed.
        first = holder = read_lock(self.path)
        deadline = time.monotonic() + HOLDER_SETTLE_S
        while time.monotonic() < deadline and (
            holder is None
            or (holder == first and holder_state(holder, self._hostname) != "running")
        ):
            time.sleep(HOLDER_READ_PAUSE_S)
            holder = read_lock(self.path)
        who = holder.describe() if holder else "another process (its details are not written yet)"
        return LockedError(
            f"{self.title} is already running: {who} holds the lock {self.path}. "
            "This run did nothing; try again when that run has finished."
        )

    def release(self) -> None:
        """Empty the lock file and drop the flock (the file stays). Safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # while still holding it: an empty file means "released"
        finally:
            os.close(fd)

    def __enter__(self) -> JobLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self.held else "not held"
        return f"JobLock({str(self.path)!r}, job={self.job!r}, {state})"


def campaign_lock_dir(settings: Settings) -> Path:
    """Where the campaign locks live: ``[sync] lock_dir``, else ``<[sync] report_dir>/.locks``.

    Every run of one configuration must find the same folder: a job's report_dir does not move
    it (:func:`leadsync.jobs.folders.job_paths` resolves it from the configuration's own)."""
    return settings.sync.lock_dir or settings.sync.report_dir / LOCK_DIR_NAME


@contextmanager
def campaign_locks(lock_dir: Path, campaigns: Mapping[str, str], *, run: str) -> Iterator[None]:
    """Hold the lock of every campaign in ``campaigns`` (id → name) for the ``with`` block.

    Taken in order of id, so two runs never hold one each of two locks they both want. Raises
    LockedError (exit 5) naming the campaign when another live run holds one; the locks already
    taken are released first. ``run`` is written in the lock files (who holds them)."""
    with ExitStack() as held:
        for cid in sorted(campaigns):
            path = lock_dir / f"campaign-{safe_name(cid)}{LOCK_SUFFIX}"
            title = f"a change to campaign {campaigns[cid]!r} (id {cid})"
            held.enter_context(JobLock(path, job=run, title=title))
        yield
