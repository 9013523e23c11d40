"""Atomic, durable file writes: the one way leadsync replaces a file.

A temporary file is written beside the target (same folder, so the rename cannot cross file
systems), flushed to disk, renamed onto the target in one step, and the folder is synced so the
rename survives a power loss. A reader sees the old file or the new one, never half of either;
on any error the target is left as it was and the temporary file is removed. ``os.replace``
replaces a symlink at the target rather than writing through it. The new file is readable by
its owner only unless a ``mode`` is given (:func:`open_mode` is the one a plain ``open`` gives).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path, *, durable: bool = True, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; when the block ends without error the file
    written there replaces ``target``. ``durable`` fsyncs the file and its folder first (off
    only for files that are rewritten at once anyway). ``mode``: the file's permissions
    (default ``0o600``). Raises what the block or the OS raises."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        if durable:
            _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(target.parent)


def write_atomic(
    target: Path, data: str | bytes, *, durable: bool = True, mode: int | None = None
) -> None:
    """Replace ``target`` with ``data`` (text is written as UTF-8 with ``\\n`` line ends)."""
    with atomic_path(target, durable=durable, mode=mode) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8", newline="\n")
        else:
            tmp.write_bytes(data)


def open_mode() -> int:
    """The permissions a plain ``open(path, "w")`` gives a new file: ``0o666`` less the
    process's umask. The umask is read from /proc/self/status where there is one (setting it
    to read it, the only other way, races with other threads); else ``0o022`` is assumed."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable where the platform allows it (not on Windows)."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
