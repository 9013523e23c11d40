"""``operations.jsonl``: one JSON object per finished operation, appended at once.

Each line is one :class:`~leadsync.models.OpResult` (``op_id, kind, campaign_id, key, outcome,
attempts, http_status, message, method, lead_id, started_at, finished_at``). An operation may
appear more than once: an uncertain add is written when its call ends (``uncertain``) and again
when the settlement decides it (``settled_present``, ``done`` or ``failed``); the last line of
an ``op_id`` is its final state (:func:`latest_results`).

Durability: each batch is written at once with one ``os.write`` on an ``O_APPEND`` descriptor,
so a killed process (even SIGKILL) leaves every line written so far, at worst a truncated last
one, which :func:`read_journal` skips. Reaching the disk (``os.fsync``) is a separate choice,
because one fsync can take longer than a call:

- ``fsync="background"`` (default): a syncer thread fsyncs whenever lines are pending (group
  commit: one fsync covers every line written before it); writers never wait for the disk, and
  an OS crash or power loss loses at most the lines of the last fsync interval;
- ``fsync="always"``: every ``append`` fsyncs before returning (the writer waits);
- ``fsync="never"``: only ``close`` fsyncs.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal, get_args

from ..errors import InputError
from ..models import OpKind, OpOutcome, OpResult

logger = logging.getLogger(__name__)

#: File name of the journal inside a report folder (docs/design.md, 'Reporting').
JOURNAL_NAME = "operations.jsonl"
_FILE_MODE = 0o644


#: The fields of a journal line, in order (those of OpResult).
RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(OpResult))
#: One encoder for every line: ``json.dumps`` with options builds a new encoder per call.
#: Records are flat (no cycles to check).
_encode_line = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False
).encode


def result_to_record(result: OpResult) -> dict[str, Any]:
    """One journal record (JSON-ready dict) for ``result``."""
    # Not dataclasses.asdict: it deep-copies every value and was most of the journal's cost.
    record = {name: getattr(result, name) for name in RECORD_FIELDS}
    record["kind"] = str(result.kind)
    record["outcome"] = str(result.outcome)
    return record


def record_to_result(record: dict[str, Any]) -> OpResult:
    """The :class:`OpResult` a journal record describes. Raises ``KeyError``/``ValueError``."""
    return OpResult(
        op_id=int(record["op_id"]),
        kind=OpKind(record["kind"]),
        campaign_id=str(record["campaign_id"]),
        key=str(record["key"]),
        outcome=OpOutcome(record["outcome"]),
        attempts=int(record.get("attempts", 0)),
        http_status=record.get("http_status"),
        message=str(record.get("message") or ""),
        method=record.get("method"),
        lead_id=record.get("lead_id"),
        started_at=float(record.get("started_at") or 0.0),
        finished_at=float(record.get("finished_at") or 0.0),
    )


FsyncMode = Literal["background", "always", "never"]
FSYNC_MODES: tuple[str, ...] = get_args(FsyncMode)


class Journal:
    """Append-only, thread-safe writer of ``operations.jsonl``.

    ``Journal(path)`` creates the parent folder and opens the file for appending (an existing
    journal is continued, never truncated). ``append`` takes one result or a batch and writes
    it with one system call; ``fsync`` chooses when it reaches the disk (module docstring).
    Use it as a context manager or call :meth:`close` (which fsyncs). Raises ``ValueError`` for
    an unknown ``fsync`` mode, ``OSError`` when the file cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: FsyncMode = "background") -> None:
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_MODES)}, got {fsync!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync_mode = fsync
        self._lock = threading.Lock()
        self._fd: int | None = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _FILE_MODE
        )
        #: fsync calls made (the tests count them per mode).
        self.syncs = 0
        self._ensure_line_start()
        self._written = 0  # lines written so far (under _lock)
        self._synced = 0  # lines known to be on disk
        self._pending = threading.Condition(self._lock)
        self._syncer: threading.Thread | None = None
        if fsync == "background":
            self._syncer = threading.Thread(
                target=self._sync_loop, name="leadsync-journal-fsync", daemon=True
            )
            self._syncer.start()

    def _ensure_line_start(self) -> None:
        """When continuing a journal whose last line was cut off by a kill, start on a new line
        so the cut line stays the only bad one (``read_journal`` skips it)."""
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with open(self.path, "rb") as f:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                self._write_all(b"\n")

    def _write_all(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def _sync(self, fd: int) -> None:
        os.fsync(fd)
        self.syncs += 1

    def _sync_loop(self) -> None:
        while True:
            with self._lock:
                while self._fd is not None and self._synced == self._written:
                    self._pending.wait()
                if self._fd is None:
                    return
                fd, target = self._fd, self._written
            try:
                self._sync(fd)  # outside the lock: writers go on meanwhile
            except OSError as exc:  # the fd was closed under us by close(): nothing left
                logger.debug("journal fsync: %s", exc)
                return
            with self._lock:
                self._synced = max(self._synced, target)

    def append(self, results: OpResult | Iterable[OpResult]) -> None:
        """Write ``results`` (one or many) as whole lines with one system call.

        Raises ``ValueError`` when the journal is closed and ``OSError`` when the disk refuses.
        """
        batch = [results] if isinstance(results, OpResult) else list(results)
        if not batch:
            return
        data = ("\n".join([_encode_line(result_to_record(r)) for r in batch]) + "\n").encode()
        with self._lock:
            if self._fd is None:
                raise ValueError(f"journal {self.path} is closed")
            self._write_all(data)
            self._written += len(batch)
            if self.fsync_mode == "always":
                self._sync(self._fd)
                self._synced = self._written
            elif self.fsync_mode == "background":
                self._pending.notify()

    def close(self) -> None:
        """Write everything to disk and close; closing twice is harmless."""
        with self._lock:
            fd, self._fd = self._fd, None
            self._pending.notify_all()
        if fd is None:
            return
        if self._syncer is not None:
            self._syncer.join()
        try:
            self._sync(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: str | os.PathLike[str]) -> list[OpResult]:
    """Every result recorded in the journal at ``path``, in file order.

    A last line cut off by a killed run (no newline, or not valid JSON) is skipped with a
    warning; any other bad line raises :class:`~leadsync.errors.InputError` naming the file and
    line number. A missing file raises ``FileNotFoundError``.
    """
    p = Path(path)
    lines = p.read_bytes().split(b"\n")  # the last element is b"" when the last line is whole
    results: list[OpResult] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            results.append(record_to_result(record))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            # The unfinished last line, or one cut by a kill and continued by a later run
            # (Journal started it on a fresh line): its JSON is simply incomplete.
            if number == len(lines) or not line.rstrip().endswith(b"}"):
                logger.warning("%s:%d: skipping a truncated last line", p, number)
                continue
            raise InputError(
                f"{p}:{number}: not a journal line ({exc}): {line[:80]!r}", path=str(p)
            ) from exc
    return results


def latest_results(results: Iterable[OpResult]) -> dict[int, OpResult]:
    """The final state of each operation: the last journal line of each ``op_id``."""
    return {r.op_id: r for r in results}
