"""Journal: whole lines, readable back, a cut last line tolerated, concurrent appends."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from leadsync.apply import Journal, latest_results, read_journal
from leadsync.errors import InputError
from leadsync.models import OpKind, OpOutcome, OpResult

FIELDS = {
    "op_id",
    "kind",
    "campaign_id",
    "key",
    "outcome",
    "attempts",
    "http_status",
    "message",
    "method",
    "lead_id",
    "started_at",
    "finished_at",
}


def result(op_id: int, outcome: OpOutcome = OpOutcome.DONE, message: str = "") -> OpResult:
    return OpResult(
        op_id=op_id,
        kind=OpKind.ADD,
        campaign_id="c1",
        key=f"+1213555{op_id:04d}",
        outcome=outcome,
        attempts=1,
        http_status=200,
        message=message,
        method="PUT",
        lead_id=None,
        started_at=1.5,
        finished_at=2.5,
    )


@pytest.mark.parametrize("mode", ["background", "always", "never"])
def test_round_trip_every_field(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "run" / "operations.jsonl"  # parent folder created
    written = [result(1), result(2, OpOutcome.FAILED, "POST x → 400: naïve ✓ message")]
    with Journal(path, fsync=mode) as journal:  # type: ignore[arg-type]
        journal.append(written[0])
        journal.append(written[1:])
        journal.append([])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert all(set(json.loads(line)) == FIELDS for line in lines)
    assert json.loads(lines[1])["outcome"] == "failed"
    assert read_journal(path) == written


def test_fsync_modes_are_counted(tmp_path: Path) -> None:
    with Journal(tmp_path / "a.jsonl", fsync="always") as journal:
        for i in range(5):
            journal.append(result(i))
        assert journal.syncs == 5
    never = Journal(tmp_path / "b.jsonl", fsync="never")
    for i in range(5):
        never.append(result(i))
    assert never.syncs == 0
    never.close()
    assert never.syncs == 1  # close always reaches the disk
    never.close()  # twice is harmless
    with pytest.raises(ValueError, match="closed"):
        never.append(result(9))
    with pytest.raises(ValueError, match="fsync must be one of"):
        Journal(tmp_path / "c.jsonl", fsync="sometimes")  # type: ignore[arg-type]


def test_truncated_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "operations.jsonl"
    with Journal(path) as journal:
        journal.append([result(1), result(2)])
    whole = path.read_bytes()
    path.write_bytes(whole + whole.splitlines(keepends=True)[0][:37])  # a kill mid-write
    assert [r.op_id for r in read_journal(path)] == [1, 2]


def test_continuing_a_cut_journal_keeps_later_lines_readable(tmp_path: Path) -> None:
    path = tmp_path / "operations.jsonl"
    path.write_bytes(b'{"op_id": 1, "kind": "add", "campa')  # the previous run was killed
    with Journal(path) as journal:
        journal.append(result(2))
    assert [r.op_id for r in read_journal(path)] == [2]


def test_a_bad_line_inside_the_journal_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "operations.jsonl"
    good = json.dumps(
        {
            "op_id": 1,
            "kind": "add",
            "campaign_id": "c",
            "key": "k",
            "outcome": "done",
            "attempts": 1,
        }
    )
    path.write_text(good + "\n" + '{"op_id": 2, "kind": "explode"}\n' + good + "\n")
    with pytest.raises(InputError, match=r"operations\.jsonl:2"):
        read_journal(path)


def test_latest_result_per_operation_wins(tmp_path: Path) -> None:
    path = tmp_path / "operations.jsonl"
    with Journal(path) as journal:
        journal.append([result(1, OpOutcome.UNCERTAIN), result(2)])
        journal.append(result(1, OpOutcome.SETTLED_PRESENT))
    latest = latest_results(read_journal(path))
    assert latest[1].outcome is OpOutcome.SETTLED_PRESENT
    assert latest[2].outcome is OpOutcome.DONE


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "operations.jsonl"
    long = "x" * 5000  # longer than a pipe buffer: a non-atomic write would tear
    with Journal(path) as journal:

        def write(base: int) -> None:
            for i in range(200):
                journal.append(result(base + i, message=long))

        threads = [threading.Thread(target=write, args=(n * 1000,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    got = read_journal(path)
    assert len(got) == 1600
    assert len({r.op_id for r in got}) == 1600
    assert all(r.message == long for r in got)
