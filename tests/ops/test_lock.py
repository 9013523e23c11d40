"""The job lock: one run per job, a second run refused at once (exit 5), stale locks taken over,
and exactly one winner among processes racing for it (real processes, real flock)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadsync.errors import ExitCode, LockedError
from leadsync.jobs.folders import lock_path
from leadsync.run.lock import JobLock, LockInfo, holder_state, pid_alive, read_lock

WORKER = Path(__file__).with_name("lock_worker.py")
RACERS = 8
ROUND_RACERS = 4
ROUND_WINS = 12
WAIT_S = 30.0
FIXED = datetime(2026, 11, 29, 23, 59, tzinfo=UTC)


def worker(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def released(path: Path) -> bool:
    """The lock file is still there, empty: nobody holds the lock."""
    return path.exists() and path.stat().st_size == 0 and read_lock(path) is None


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(proc.stdout)
    assert not pid_alive(pid)
    return pid


def test_lock_file_holds_who_and_is_emptied_not_removed_on_exit(tmp_path: Path) -> None:
    path = lock_path(tmp_path / "reports", "nightly")
    assert path == tmp_path / "reports" / ".locks" / "nightly.lock"
    with JobLock(path, job="nightly", clock=lambda: FIXED) as lock:
        assert lock.held
        info = read_lock(path)
        assert info == LockInfo(
            pid=os.getpid(),
            hostname=info.hostname if info else "",
            started_at="2026-11-29T23:59:00Z",
            job="nightly",
        )
        assert json.loads(path.read_text()) == {
            "pid": os.getpid(),
            "hostname": info.hostname if info else "",
            "started_at": "2026-11-29T23:59:00Z",
            "job": "nightly",
        }
        inode = path.stat().st_ino
    assert released(path)
    assert path.stat().st_ino == inode  # never deleted: every run locks the same file
    assert not lock.held
    lock.release()  # twice is harmless


def test_second_acquire_is_refused_at_once_naming_the_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "nightly.lock"

    def no_waiting(seconds: float) -> None:
        raise AssertionError(f"the refused run waited ({seconds} s)")

    with JobLock(path, job="nightly", clock=lambda: FIXED):
        monkeypatch.setattr("leadsync.run.lock.time.sleep", no_waiting)
        with pytest.raises(LockedError) as caught:
            JobLock(path, job="nightly").acquire()  # at once: never waits for the holder
        monkeypatch.undo()
    assert caught.value.exit_code == ExitCode.LOCKED == 5
    message = str(caught.value)
    assert f"pid {os.getpid()}" in message
    assert "since 2026-11-29T23:59:00Z" in message
    assert str(path) in message
    # the refused attempt did not disturb the holder's file, and the lock is free again now
    with JobLock(path, job="nightly"):
        pass


def test_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    path = tmp_path / "nightly.lock"
    with pytest.raises(RuntimeError), JobLock(path):
        raise RuntimeError("boom")
    assert released(path)


def test_stale_lock_from_a_dead_pid_is_taken_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / ".locks" / "nightly.lock"
    path.parent.mkdir()
    pid = dead_pid()
    stale = LockInfo(pid=pid, hostname="web1", started_at="2026-11-28T23:59:00Z", job="nightly")
    path.write_text(stale.to_json())
    with (
        caplog.at_level(logging.WARNING, logger="leadsync.run.lock"),
        JobLock(path, job="nightly") as lock,
    ):
        assert lock.took_over == stale
        assert read_lock(path) == lock.info
        assert lock.info is not None and lock.info.pid == os.getpid()
    assert f"pid {pid} on host web1 since 2026-11-28T23:59:00Z" in caplog.text
    assert released(path)


def test_empty_or_garbage_lock_file_without_a_holder_is_taken_over(tmp_path: Path) -> None:
    for content in ("", "{not json", '{"pid": "x"}'):
        path = tmp_path / "nightly.lock"
        path.write_text(content)
        with JobLock(path) as lock:
            assert lock.took_over is None
            assert read_lock(path) == lock.info


def test_flock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "nightly.lock"
    holder = worker("hold", path)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        info = read_lock(path)
        assert info is not None and info.pid == holder.pid
        assert holder_state(info) == "running"
        with pytest.raises(LockedError, match=f"pid {holder.pid} "):
            JobLock(path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=WAIT_S)  # reaps it and closes its pipes
    assert path.exists()  # SIGKILL leaves the file behind: only the kernel's flock went away
    assert holder_state(info) == "stale"
    with JobLock(path) as lock:
        assert lock.took_over is not None and lock.took_over.pid == holder.pid


def race(tmp_path: Path, path: Path) -> list[tuple[int, dict[str, str]]]:
    """Start RACERS processes, let them try the lock at the same moment; returns
    (exit code, printed result) of each, the winner having held until all others finished."""
    ready, go, release = tmp_path / "ready", tmp_path / "go", tmp_path / "release"
    ready.mkdir()
    procs = [worker("once", path, ready, go, release) for _ in range(RACERS)]
    try:
        wait_until(lambda: len(list(ready.iterdir())) == RACERS, "the racers to start")
        go.touch()
        results: dict[int, tuple[int, dict[str, str]]] = {}

        def losers_done() -> bool:
            for p in procs:
                if p.pid not in results and p.poll() is not None:
                    out, err = p.communicate()
                    assert out, err
                    results[p.pid] = (p.returncode, json.loads(out))
            return len(results) >= RACERS - 1

        wait_until(losers_done, "every racer but one to be refused")
        release.touch()
        for p in procs:
            if p.pid not in results:
                out, err = p.communicate(timeout=WAIT_S)
                assert out, err
                results[p.pid] = (p.returncode, json.loads(out))
        return list(results.values())
    finally:
        release.touch()
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()


def check_one_winner(outcomes: list[tuple[int, dict[str, str]]]) -> None:
    winners = [r for code, r in outcomes if code == 0 and r["result"] == "won"]
    losers = [r for code, r in outcomes if code == ExitCode.LOCKED and r["result"] == "locked"]
    assert len(winners) == 1, outcomes
    assert len(losers) == RACERS - 1, outcomes
    winner = winners[0]["pid"]
    for loser in losers:
        # Refused while the winner held it: the message names the winner, never a stale holder.
        assert f"pid {winner} " in loser["message"], loser


def test_exactly_one_of_many_concurrent_processes_wins(tmp_path: Path) -> None:
    path = tmp_path / "nightly.lock"
    check_one_winner(race(tmp_path, path))
    assert released(path)


def test_exactly_one_of_many_takers_of_a_stale_lock_wins(tmp_path: Path) -> None:
    path = tmp_path / "nightly.lock"
    stale = LockInfo(pid=dead_pid(), hostname="x", started_at="2026-11-28T00:00:00Z", job="n")
    path.write_text(stale.to_json())
    check_one_winner(race(tmp_path, path))
    assert released(path)


def test_no_two_holders_ever_overlap_with_crashes_and_takeovers(tmp_path: Path) -> None:
    path, inside, go = tmp_path / "nightly.lock", tmp_path / "inside", tmp_path / "go"
    procs = [worker("rounds", path, ROUND_WINS, inside, go) for _ in range(ROUND_RACERS)]
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=WAIT_S * 2)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    assert [r["wins"] for r in results] == [ROUND_WINS] * ROUND_RACERS
    assert sum(r["overlaps"] for r in results) == 0, results
    # Every third win left a stale lock behind; the next winner took each one over.
    assert sum(r["takeovers"] for r in results) >= ROUND_WINS // 3, results


def test_a_released_lock_is_taken_without_a_takeover(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "nightly.lock"
    with JobLock(path, pid=4242):
        pass
    with caplog.at_level(logging.WARNING, logger="leadsync.run.lock"), JobLock(path) as lock:
        assert lock.took_over is None
    assert "stale" not in caplog.text
