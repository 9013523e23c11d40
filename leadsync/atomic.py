"""Atomic, durable file writes: the one way leadsync replaces a file.

A temporary file is written beside the target (same folder, so the rename cannot cross file
systems), flushed to disk, renamed onto the target in one step, and the folder is synced so the
rename survives a power loss. A reader sees the old file or the new one, never half of either;
on any error the target is left as it was and the temporary file is removed. ``os.replace``
replaces a symlink at the target rather than writing through it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; when the block ends without error the file
    written there replaces ``target``. ``durable`` fsyncs the file and its folder first (off
    only for files that are rewritten at once anyway). Raises what the block or the OS raises."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if durable:
            _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(target.parent)


def write_atomic(target: Path, data: str | bytes, *, durable: bool = True) -> None:
    """Replace ``target`` with ``data`` (text is written as UTF-8 with ``\\n`` line ends)."""
    with atomic_path(target, durable=durable) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8", newline="\n")
        else:
            tmp.write_bytes(data)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable where the platform allows it (not on Windows)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
