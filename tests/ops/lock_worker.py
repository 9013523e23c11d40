"""A separate process that takes a job lock, for the lock tests (run with sys.executable).

lock_worker.py once PATH READY_DIR GO_FILE RELEASE_FILE
    signal ready, wait for GO_FILE, try the lock once; print one JSON line
    {"pid", "result": "won"|"locked", "message"}; a winner holds until RELEASE_FILE exists.
    Exit 0 when it won, 5 (the LockedError exit code) when it did not.
lock_worker.py hold PATH
    take the lock and hold it until killed (prints "held" once it holds it).
lock_worker.py rounds PATH WINS INSIDE_FILE GO_FILE
    win the lock WINS times; inside, create INSIDE_FILE exclusively (a second holder
    would find it there: an overlap) and remove it. Every third win "crashes": the flock is
    dropped and the file left behind, as when a process is killed, so the next winner takes
    over a stale lock. Prints {"pid", "wins", "overlaps", "takeovers"}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from leadsync.errors import LockedError
from leadsync.run.lock import JobLock

POLL_S = 0.002
GIVE_UP_S = 60.0
CRASH_EVERY = 3


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + GIVE_UP_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {path}")
        time.sleep(POLL_S)


def once(lock_file: Path, ready_dir: Path, go: Path, release: Path) -> int:
    (ready_dir / str(os.getpid())).touch()
    wait_for(go)
    lock = JobLock(lock_file, job="nightly")
    try:
        lock.acquire()
    except LockedError as err:
        print(json.dumps({"pid": os.getpid(), "result": "locked", "message": str(err)}))
        return int(err.exit_code)
    print(json.dumps({"pid": os.getpid(), "result": "won", "message": ""}), flush=True)
    wait_for(release)
    lock.release()
    return 0


def hold(lock_file: Path) -> int:
    with JobLock(lock_file, job="nightly"):
        print("held", flush=True)
        time.sleep(GIVE_UP_S)
    return 0


def crash(lock: JobLock) -> None:
    """What the kernel does when a holder dies: the flock goes, the file stays."""
    fd, lock._fd = lock._fd, None
    assert fd is not None
    os.close(fd)


def rounds(lock_file: Path, wins_wanted: int, inside: Path, go: Path) -> int:
    wait_for(go)
    wins = overlaps = takeovers = 0
    deadline = time.monotonic() + GIVE_UP_S
    while wins < wins_wanted and time.monotonic() < deadline:
        lock = JobLock(lock_file, job="nightly")
        try:
            lock.acquire()
        except LockedError:
            time.sleep(POLL_S)
            continue
        wins += 1
        takeovers += lock.took_over is not None
        try:
            fd = os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.close(fd)
        except FileExistsError:
            overlaps += 1
        else:
            time.sleep(POLL_S)
            inside.unlink()
        if wins % CRASH_EVERY == 0:
            crash(lock)
        else:
            lock.release()
    print(
        json.dumps({"pid": os.getpid(), "wins": wins, "overlaps": overlaps, "takeovers": takeovers})
    )
    return 0


def main(argv: list[str]) -> int:
    mode, lock_file = argv[0], Path(argv[1])
    if mode == "once":
        return once(lock_file, Path(argv[2]), Path(argv[3]), Path(argv[4]))
    if mode == "hold":
        return hold(lock_file)
    if mode == "rounds":
        return rounds(lock_file, int(argv[2]), Path(argv[3]), Path(argv[4]))
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
