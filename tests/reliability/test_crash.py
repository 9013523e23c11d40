"""Crash test: the real ``leadsync sync`` killed with SIGKILL at random points of its apply,
then re-run to completion, leaves the campaign exactly equal to the file (no number twice,
none missing), and every killed run's ``operations.jsonl`` is valid JSON lines up to the last
complete one, recording every committed call but those in flight.

Reduced (``make test``): 500 adds, 2 kills. Full (``make soak``): 5,000 adds, 3 kills for each
of 3 seeds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from leadsync.errors import ExitCode
from tests.helpers import MakeSandbox
from tests.reliability.scenarios import ENGINE_WINDOW, CrashResult, crash_test

#: Milliseconds the sandbox adds to every call, so that an apply lasts long enough to be
#: killed at a random point of it.
LATENCY_MS = 5.0


def check_crash(result: CrashResult, kills: int) -> None:
    assert result.state is not None
    assert result.state.duplicates == 0, result.state
    assert result.state.missing == result.state.extra == result.state.wrong == 0, result.state
    assert len(result.killed) == kills
    for run in result.killed:
        # read_journal kept every complete line (and skipped only a cut tail)
        assert run.journal_records == run.journal_lines
        # every lead the killed run put on the server is journaled, but for the calls in
        # flight or collected and not yet written when it was killed
        assert run.journaled_done <= run.added_by_run
        assert run.added_by_run - run.journaled_done <= ENGINE_WINDOW, run
    assert result.final_exit == ExitCode.OK
    totals = result.final_summary["totals"]
    assert totals["failed"] == totals["residual"] == 0
    assert totals["remote_after"] == result.size
    # The final run added exactly what the killed ones had not.
    assert totals["added"] == result.size - totals["remote_before"]


def test_killed_syncs_converge_exactly(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    sb = make_sandbox(latency_ms=LATENCY_MS, seed=1)
    result = crash_test(sb, tmp_path, size=500, kills=2, seed=1)
    check_crash(result, kills=2)
    assert sum(run.journal_lines for run in result.killed) > 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_killed_syncs_converge_exactly_full(
    make_sandbox: MakeSandbox, tmp_path: Path, seed: int
) -> None:
    sb = make_sandbox(latency_ms=LATENCY_MS, seed=seed)
    result = crash_test(sb, tmp_path, size=5_000, kills=3, seed=seed)
    check_crash(result, kills=3)
