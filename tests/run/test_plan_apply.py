"""plan → review → apply against the sandbox (issue 5's acceptance)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadsync.errors import ExitCode, InputError
from leadsync.run.pipeline import SyncRequest, run_apply, run_sync
from leadsync.sandbox import Sandbox
from tests.helpers import number, sync_settings
from tests.run.test_sync_e2e import write_csv, writes


def make_plan(sb: Sandbox, tmp_path: Path, rows: list[dict], name: str = "plan", **policy):
    src = write_csv(tmp_path / f"{name}.csv", rows)
    settings = sync_settings(sb, report_dir=str(tmp_path / "reports"), **policy)
    out = tmp_path / f"{name}.json"
    report = run_sync(
        settings,
        SyncRequest(
            (src,),
            campaign="Spring",
            dry_run=True,
            plan_out=out,
            report_dir=tmp_path / f"{name}-report",
        ),
    )
    return settings, out, report


def test_plan_then_apply_then_apply_again(sandbox: Sandbox, tmp_path: Path) -> None:
    cid = sandbox.state.add_campaign("Spring")
    sandbox.state.add_leads(cid, [{"number": number(i), "status": "new"} for i in range(10)])
    rows = [{"number": number(i), "status": "success" if i == 5 else ""} for i in range(5, 12)]
    settings, out, planned = make_plan(sandbox, tmp_path, rows, mode="mirror")
    assert planned.exit_code == ExitCode.OK and planned.command == "plan"
    assert writes(sandbox) == 0
    saved = json.loads(out.read_text())
    assert saved["sources"][0]["sha256"] and saved["fingerprints"][cid]
    applied = run_apply(settings, out, report_dir=tmp_path / "apply1")
    assert applied.exit_code == ExitCode.OK, applied.messages
    numbers = {lead["number"]: lead["status"] for lead in sandbox.state.leads(cid)}
    assert set(numbers) == {number(i) for i in range(5, 12)}
    assert numbers[number(5)] == "success"
    summary = json.loads((tmp_path / "apply1" / "summary.json").read_text())
    spring = summary["campaigns"]["Spring"]
    assert (spring["added"], spring["deleted"], spring["status_set"], spring["residual"]) == (
        2,
        5,
        1,
        0,
    )
    assert spring["rows_read"] == 7  # carried over from plan time
    assert (tmp_path / "apply1" / "before.csv").exists()
    # The same plan again: refused, nothing written.
    before = writes(sandbox)
    again = run_apply(settings, out, report_dir=tmp_path / "apply2")
    assert again.exit_code == ExitCode.REFUSED
    assert "already applied" in (again.refusal or "")
    assert writes(sandbox) == before


def test_apply_refuses_a_stale_plan(sandbox: Sandbox, tmp_path: Path) -> None:
    cid = sandbox.state.add_campaign("Spring")
    sandbox.state.add_leads(cid, [{"number": number(i), "status": "new"} for i in range(3)])
    settings, out, _ = make_plan(sandbox, tmp_path, [{"number": number(9)}])
    # Someone edits the campaign between review and apply.
    lead = sandbox.state.leads(cid)[0]
    sandbox.state.set_status(lead["id"], "success")
    before = writes(sandbox)
    report = run_apply(settings, out, report_dir=tmp_path / "apply")
    assert report.exit_code == ExitCode.REFUSED
    assert "changed since" in (report.refusal or "")
    assert writes(sandbox) == before
    assert len(sandbox.state.leads(cid)) == 3
    # A refused plan was not recorded as applied: after a fresh plan, apply works.
    settings, fresh, _ = make_plan(sandbox, tmp_path, [{"number": number(9)}], name="fresh")
    assert run_apply(settings, fresh, report_dir=tmp_path / "apply-fresh").exit_code == 0
    assert len(sandbox.state.leads(cid)) == 4


def test_an_edited_plan_file_is_rejected(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.state.add_campaign("Spring")
    settings, out, _ = make_plan(sandbox, tmp_path, [{"number": number(1)}])
    text = out.read_text().replace(number(1), number(2))
    out.write_text(text)
    with pytest.raises(InputError):
        run_apply(settings, out, report_dir=tmp_path / "apply")
    assert writes(sandbox) == 0
