"""console/tasks: work in a thread, progress a page can show, errors worded for people."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from leadsync.console.tasks import JournalTail, Progress, Task, apply_watch
from leadsync.errors import RefusedError


def line(op_id: int, outcome: str) -> str:
    return json.dumps({"op_id": op_id, "outcome": outcome}) + "\n"


def test_the_journal_tail_counts_each_operations_last_outcome(tmp_path: Path) -> None:
    journal = tmp_path / "operations.jsonl"
    tail = JournalTail(journal)
    tail.read()  # no file yet: nothing, no error
    journal.write_text(line(1, "failed") + line(2, "done") + '{"op_id": 3, "outc')
    tail.read()
    assert tail.failed() == 1 and set(tail.outcomes) == {1, 2}
    with journal.open("a") as fh:  # the half-written line is completed, op 1 settles
        fh.write('ome": "uncertain"}\n' + line(1, "done") + line(3, "failed"))
    tail.read()
    assert tail.outcomes == {1: "done", 2: "done", 3: "failed"} and tail.failed() == 1


def test_apply_watch_shows_failures_throttling_and_calls_in_flight(tmp_path: Path) -> None:
    journal = tmp_path / "operations.jsonl"
    journal.write_text(line(1, "failed"))
    watch = apply_watch(journal, lambda: {"throttled": 4, "retries": 6}, concurrency=8)
    progress = Progress(stage="apply", done=95, total=100)
    watch(progress)
    assert (progress.failed, progress.throttled, progress.retries) == (1, 4, 6)
    assert progress.in_flight == 5
    progress.done = 10
    watch(progress)
    assert progress.in_flight == 8


def test_a_task_keeps_its_result_and_its_progress() -> None:
    def work(task: Task) -> str:
        task.report("plan", 3, 4)
        return "planned"

    task = Task("plan").start(work)
    task.join(30)
    snap = task.snapshot()
    assert task.result == "planned" and snap["state"] == "done"
    assert (snap["stage"], snap["done"], snap["total"]) == ("plan", 3, 4)


def test_errors_for_people_are_shown_others_only_by_type() -> None:
    def refused(task: Task) -> None:
        raise RefusedError("job 'x' is already running", guard="lock")

    def broken(task: Task) -> None:
        raise ValueError("/secret/path and details")

    shown = Task("dry-run").start(refused)
    hidden = Task("plan").start(broken)
    shown.join(30)
    hidden.join(30)
    assert shown.snapshot()["error"] == "job 'x' is already running"
    assert hidden.state == "error" and "/secret/path" not in (hidden.error or "")
    assert "ValueError" in (hidden.error or "")


def test_on_end_calls_once_when_the_task_ends_and_can_be_cancelled() -> None:
    release = threading.Event()
    calls: list[str] = []

    def work(task: Task) -> str:
        release.wait(30)
        return "planned"

    task = Task("plan").start(work)
    task.on_end(lambda: calls.append(f"first saw {task.state}"))
    cancel = task.on_end(lambda: calls.append("cancelled"))
    cancel()
    assert calls == []  # still running
    release.set()
    task.join(30)
    assert calls == ["first saw done"]
    task.on_end(lambda: calls.append("late"))  # already ended: called at once
    assert calls == ["first saw done", "late"]


def test_a_failing_end_callback_does_not_break_the_task() -> None:
    def boom() -> None:
        raise RuntimeError("the page went away")

    release = threading.Event()
    task = Task("plan")
    task.on_end(boom)
    task.start(lambda t: release.wait(30))
    release.set()
    task.join(30)
    assert task.state == "done" and task.result is True
