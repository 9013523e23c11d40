"""Every number summary.json holds, checked against the sandbox's real state (issue 5)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

from leadsync.errors import ExitCode
from leadsync.models import COUNT_KEYS
from leadsync.sandbox import Sandbox
from tests.helpers import number
from tests.run.test_sync_e2e import sync, write_csv


def test_every_summary_number_matches_the_server(sandbox: Sandbox, tmp_path: Path) -> None:
    cid = sandbox.state.add_campaign("Spring")
    sandbox.state.add_leads(
        cid,
        [
            {"number": number(0), "first_name": "Ann", "status": "new"},  # unchanged
            {"number": number(1), "first_name": "Bob", "status": "new"},  # status → success
            {"number": number(2), "first_name": "Cy", "status": "new"},  # drift (name)
            {"number": number(3), "first_name": "Di", "status": "new"},  # not in file: delete
            {"number": number(4), "first_name": "Ed", "status": "success"},  # dialed: kept
        ],
    )
    rows = [
        {"number": number(0), "first_name": "Ann"},
        {"number": number(1), "first_name": "Bob", "status": "success"},
        {"number": number(2), "first_name": "Cyrus"},
        {"number": number(5), "first_name": "Fay"},  # added
        {"number": number(6), "first_name": "Gus", "status": "failed"},  # added, then status
        {"number": number(5), "first_name": "Fay again"},  # duplicate of the row above
        {"number": "12", "first_name": "Hal"},  # rejected: too short
    ]
    src = write_csv(tmp_path / "f.csv", rows)
    before = sandbox.state.leads(cid)
    report = sync(sandbox, tmp_path, [src], mode="mirror", max_reject_fraction=0.5)
    assert report.exit_code == ExitCode.OK, report.messages
    summary = json.loads((report.folder / "summary.json").read_text())
    after = sandbox.state.leads(cid)
    by_number = {lead["number"]: lead for lead in after}

    # What the server shows, computed independently of leadsync's own bookkeeping.
    added = {lead["number"] for lead in after} - {lead["number"] for lead in before}
    deleted = {lead["number"] for lead in before} - {lead["number"] for lead in after}
    status_set = sum(
        1
        for lead in before
        if lead["number"] in by_number and by_number[lead["number"]]["status"] != lead["status"]
    ) + sum(1 for n in added if by_number[n]["status"] != "new")
    expected = {
        "rows_read": 7,
        "rows_valid": 5,
        "rows_rejected": 1,
        "rows_duplicate": 1,
        "planned_add": len(added),
        "planned_delete": len(deleted),
        "planned_status": status_set,
        "unchanged": 2,  # Ann, and Cy whose only difference is drift (reported, not changed)
        "drift": 1,
        "kept": 1,  # the dialed lead not in the file
        "added": len(added),
        "deleted": len(deleted),
        "status_set": status_set,
        "failed": 0,
        "not_started": 0,
        "residual": 0,
        "remote_before": len(before),
        "remote_after": len(after),
    }
    assert set(expected) == set(COUNT_KEYS)
    assert summary["campaigns"]["Spring"] == expected
    assert summary["totals"] == expected
    assert (len(added), len(deleted), status_set) == (2, 1, 2)
    assert summary["status_before"]["Spring"] == dict(Counter(x["status"] for x in before))
    assert summary["status_after"]["Spring"] == dict(Counter(x["status"] for x in after))
    assert summary["api"]["requests"] >= len(added) + len(deleted) + status_set
    # rows.csv: one line per input row, with the server's lead id for every kept row.
    with (report.folder / "rows.csv").open(encoding="utf-8-sig") as fh:
        lines = list(csv.DictReader(fh))
    assert len(lines) == 7
    for line in lines:
        if line["outcome"] in ("added", "unchanged", "status_set"):
            assert line["lead_id"] == by_number[line["number"]]["id"], line
    assert Counter(line["outcome"] for line in lines) == {
        "added": 2,
        "unchanged": 2,
        "status_set": 1,
        "duplicate": 1,
        "rejected": 1,
    }
