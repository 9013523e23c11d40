"""install_signal_handlers: the first SIGINT/SIGTERM stops the apply gracefully, a second one
interrupts at once, and the previous handlers come back."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from leadsync.apply import Journal, apply_plan, install_signal_handlers, read_journal
from leadsync.models import OpOutcome

from .support import FakeClient, add_ops


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_apply_gracefully(tmp_path: Path, sig: signal.Signals) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    stop = threading.Event()
    restore = install_signal_handlers(stop)
    try:

        def progress(done: int, total: int) -> None:
            if done >= 20 and not stop.is_set():
                signal.raise_signal(sig)  # delivered to the main thread, as from a terminal

        with Journal(tmp_path / "operations.jsonl") as journal:
            result = apply_plan(
                add_ops("c", 500),
                FakeClient(),
                concurrency=2,
                journal=journal,
                stop=stop,
                progress=progress,
            )
        assert stop.is_set() and result.interrupted
        assert 20 <= result.counts["added"] < 500
        assert result.counts["added"] + result.counts["skipped"] == 500
        assert len(read_journal(journal.path)) == 500
        assert {r.outcome for r in result.results} == {OpOutcome.DONE, OpOutcome.SKIPPED}

        with pytest.raises(KeyboardInterrupt):  # the impatient second Ctrl-C
            signal.raise_signal(signal.SIGINT)
    finally:
        restore()
    assert {s: signal.getsignal(s) for s in before} == before


def test_only_the_main_thread_may_install_them() -> None:
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            install_signal_handlers(threading.Event())
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=attempt)
    t.start()
    t.join()
    assert len(errors) == 1 and "main thread" in str(errors[0])
