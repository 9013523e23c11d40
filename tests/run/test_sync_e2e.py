"""The sync engine end to end, against the sandbox over real HTTP (issue 4's acceptance)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from leadsync.errors import ExitCode
from leadsync.run.pipeline import SyncRequest, run_sync
from leadsync.sandbox import Sandbox
from tests.helpers import MakeSandbox, number, sync_settings

WRITE_ROUTES = {"add", "status", "delete", "voicemail"}


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str] | None = None) -> Path:
    header = header or ["Phone", "First Name", "Last Name", "Status"]
    keys = {
        "Phone": "number",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Status": "status",
        "Priority": "priority",
    }
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(keys.get(h, h), "") for h in header])
    return path


def writes(sb: Sandbox) -> int:
    return sum(n for (_method, route), n in sb.stats.by_route.items() if route in WRITE_ROUTES)


def sync(
    sb: Sandbox,
    tmp_path: Path,
    files: list[Path],
    *,
    campaign: str = "Spring",
    dry_run: bool = False,
    allow: bool = False,
    name: str = "run",
    **policy: Any,
):
    settings = sync_settings(sb, **policy)
    request = SyncRequest(
        tuple(files),
        campaign=campaign,
        dry_run=dry_run,
        allow_mass_delete=allow,
        report_dir=tmp_path / name,
    )
    return run_sync(settings, request)


def summary(report) -> dict[str, Any]:
    return json.loads((report.folder / "summary.json").read_text())


def test_sync_adds_sets_status_and_converges(sandbox: Sandbox, tmp_path: Path) -> None:
    cid = sandbox.state.add_campaign("Spring")
    sandbox.state.add_leads(
        cid,
        [
            {"number": number(0), "first_name": "Ann", "status": "new"},
            {"number": number(1), "first_name": "Bob", "status": "new"},
        ],
    )
    rows = [
        {"number": number(0), "first_name": "Ann"},
        {"number": number(1), "first_name": "Bob", "status": "success"},
        {"number": number(2), "first_name": "Cy"},
        {"number": number(3), "first_name": "Di", "status": "failed"},
    ]
    src = write_csv(tmp_path / "leads.csv", rows)
    first = sync(sandbox, tmp_path, [src], name="first")
    assert first.exit_code == ExitCode.OK, first.messages
    s = summary(first)["campaigns"]["Spring"]
    assert (s["added"], s["status_set"], s["unchanged"], s["failed"], s["residual"]) == (
        2,
        2,
        1,
        0,
        0,
    )
    leads = {lead["number"]: lead for lead in sandbox.state.leads(cid)}
    assert set(leads) == {number(i) for i in range(4)}
    assert leads[number(1)]["status"] == "success"
    assert leads[number(3)]["status"] == "failed"  # status set after the add
    # rows.csv gives every row its lead id, added rows included (learned on re-read).
    with (first.folder / "rows.csv").open(encoding="utf-8") as fh:
        out = {r["number"]: r for r in csv.DictReader(fh)}
    assert out[number(2)]["outcome"] == "added"
    assert out[number(2)]["lead_id"] == leads[number(2)]["id"]
    assert out[number(0)]["outcome"] == "unchanged"
    # Converges: a second run plans and sends zero writes.
    before = writes(sandbox)
    second = sync(sandbox, tmp_path, [src], name="second")
    assert second.exit_code == ExitCode.OK
    assert writes(sandbox) == before
    t = summary(second)["totals"]
    assert t["planned_add"] == t["planned_status"] == t["planned_delete"] == 0


def test_never_duplicates_under_faults(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    sb = make_sandbox(seed=7)
    cid = sb.state.add_campaign("Spring")
    # The campaign holds 2,800 leads; the file lists 3,000 rows overlapping 2,800 of them
    # (200 new, 100 with a new status) and omits 0: upsert.
    sb.state.add_leads(cid, [{"number": number(i), "status": "new"} for i in range(2_800)])
    rows = [{"number": number(i), "status": "success" if i < 100 else ""} for i in range(3_000)]
    src = write_csv(tmp_path / "leads.csv", rows)
    sb.configure(fail_rate=0.10, ambiguous_rate=0.05, throttle_every=97, token_uses=89)
    # ~16 % of attempts fail, so 6 attempts (the default) all fail for about one call in
    # 60,000: among ~3,300 calls, a failed operation in about one run of 20. 12 attempts make
    # it one run in 10^6 (the chance, not the speed, of the machine decides it).
    api = {"concurrency": 8, "retry_budget": 5_000, "retry_attempts": 12}
    report = sync(sb, tmp_path, [src], api=api)
    sb.configure(fail_rate=0.0, ambiguous_rate=0.0, throttle_every=None, token_uses=None)
    leads = sb.state.leads(cid)
    counts = Counter(lead["number"] for lead in leads)
    assert max(counts.values()) == 1, "a duplicate lead was created"
    assert set(counts) == {number(i) for i in range(3_000)}, "a lead is missing"
    statuses = {lead["number"]: lead["status"] for lead in leads}
    assert all(statuses[number(i)] == "success" for i in range(100))
    assert all(statuses[number(i)] == "new" for i in range(100, 3_000))
    s = summary(report)
    c = s["campaigns"]["Spring"]
    assert report.exit_code == ExitCode.OK, s["messages"]
    assert c["added"] == 200 and c["status_set"] == 100
    assert c["residual"] == 0 and c["failed"] == 0
    assert c["remote_before"] == 2_800 and c["remote_after"] == len(leads) == 3_000
    # the faults really fired (by count, so whatever the machine's speed)
    assert s["api"]["retries"] > 0 and s["api"]["throttled"] > 0 and s["api"]["relogins"] > 0


def test_mirror_refuses_an_empty_file(sandbox: Sandbox, tmp_path: Path) -> None:
    cid = sandbox.state.add_campaign("Spring")
    sandbox.state.add_leads(cid, [{"number": number(i), "status": "new"} for i in range(5)])
    empty = write_csv(tmp_path / "empty.csv", [])
    report = sync(sandbox, tmp_path, [empty], mode="mirror")
    assert report.exit_code == ExitCode.REFUSED
    assert writes(sandbox) == 0
    assert len(sandbox.state.leads(cid)) == 5
    assert "mirror" in (report.refusal or "")


def test_mirror_refuses_a_file_whose_phone_column_did_not_map(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cid = sandbox.state.add_campaign("Spring")
    sandbox.state.add_leads(cid, [{"number": number(i), "status": "new"} for i in range(5)])
    src = write_csv(
        tmp_path / "odd.csv", [{"Fone": number(1), "Name": "x"}], header=["Fone", "Name"]
    )
    report = sync(sandbox, tmp_path, [src], mode="mirror")
    assert report.exit_code == ExitCode.REFUSED
    assert writes(sandbox) == 0
    assert json.loads((report.folder / "summary.json").read_text())["exit_code"] == 3


def test_mirror_refuses_a_mass_delete_then_obeys_the_override(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cid = sandbox.state.add_campaign("Spring")
    sandbox.state.add_leads(cid, [{"number": number(i), "status": "new"} for i in range(40)])
    src = write_csv(tmp_path / "half.csv", [{"number": number(i)} for i in range(20)])
    refused = sync(sandbox, tmp_path, [src], mode="mirror", name="refused")
    assert refused.exit_code == ExitCode.REFUSED
    assert "--allow-mass-delete" in (refused.refusal or "")
    assert "20" in (refused.refusal or "") and "40" in (refused.refusal or "")
    assert writes(sandbox) == 0
    allowed = sync(sandbox, tmp_path, [src], mode="mirror", allow=True, name="allowed")
    assert allowed.exit_code == ExitCode.OK
    assert summary(allowed)["overrides"], "the override must be recorded"
    assert len(sandbox.state.leads(cid)) == 20
    assert (allowed.folder / "before.csv").exists()


def test_mirror_never_deletes_dialed_leads(sandbox: Sandbox, tmp_path: Path) -> None:
    cid = sandbox.state.add_campaign("Spring")
    sandbox.state.add_leads(
        cid,
        [
            {"number": number(0), "status": "new"},
            {"number": number(1), "status": "success"},
            {"number": number(2), "status": "failed"},
            {"number": number(3), "status": "new"},
        ],
    )
    src = write_csv(tmp_path / "one.csv", [{"number": number(0)}])
    report = sync(sandbox, tmp_path, [src], mode="mirror")
    assert report.exit_code == ExitCode.OK
    left = {lead["number"]: lead["status"] for lead in sandbox.state.leads(cid)}
    assert left == {number(0): "new", number(1): "success", number(2): "failed"}
    c = summary(report)["campaigns"]["Spring"]
    assert (c["deleted"], c["kept"]) == (1, 2)


def test_dry_run_writes_nothing_and_predicts_the_real_run(sandbox: Sandbox, tmp_path: Path) -> None:
    cid = sandbox.state.add_campaign("Spring")
    sandbox.state.add_leads(cid, [{"number": number(i), "status": "new"} for i in range(10)])
    rows = [{"number": number(i), "status": "success" if i == 3 else ""} for i in range(5, 15)]
    src = write_csv(tmp_path / "f.csv", rows)
    dry = sync(sandbox, tmp_path, [src], mode="mirror", dry_run=True, name="dry")
    assert writes(sandbox) == 0
    assert dry.exit_code == ExitCode.OK
    planned = summary(dry)["campaigns"]["Spring"]
    real = sync(sandbox, tmp_path, [src], mode="mirror", name="real")
    done = summary(real)["campaigns"]["Spring"]
    assert (planned["planned_add"], planned["planned_delete"], planned["planned_status"]) == (
        done["added"],
        done["deleted"],
        done["status_set"],
    )
    assert planned["planned_add"] == 5 and planned["planned_delete"] == 5
    with (dry.folder / "rows.csv").open(encoding="utf-8") as fh:
        outcomes = Counter(r["outcome"] for r in csv.DictReader(fh))
    assert outcomes == {"planned_add": 5, "unchanged": 5}


def test_unknown_campaign_is_a_usage_error_listing_campaigns(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.state.add_campaign("Spring")
    src = write_csv(tmp_path / "f.csv", [{"number": number(1)}])
    report = sync(sandbox, tmp_path, [src], campaign="Nope")
    assert report.exit_code == ExitCode.BAD_INPUT
    assert any("Spring" in m for m in report.messages)


def test_unreachable_api_exits_4(tmp_path: Path, make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    sb.state.add_campaign("Spring")
    settings = sync_settings(sb, api={"retry_attempts": 2})
    sb.stop()
    src = write_csv(tmp_path / "f.csv", [{"number": number(1)}])
    report = run_sync(settings, SyncRequest((src,), campaign="Spring", report_dir=tmp_path / "r"))
    assert report.exit_code == ExitCode.UNREACHABLE


@pytest.mark.parametrize("mode", ["add", "upsert"])
def test_add_and_upsert_never_remove(sandbox: Sandbox, tmp_path: Path, mode: str) -> None:
    cid = sandbox.state.add_campaign("Spring")
    sandbox.state.add_leads(cid, [{"number": number(i), "status": "new"} for i in range(3)])
    src = write_csv(tmp_path / "f.csv", [{"number": number(9), "status": "success"}])
    report = sync(sandbox, tmp_path, [src], mode=mode)
    assert report.exit_code == ExitCode.OK
    assert len(sandbox.state.leads(cid)) == 4
    c = summary(report)["campaigns"]["Spring"]
    assert c["deleted"] == 0 and c["kept"] == 3


def test_too_many_rejected_rows_stops_with_exit_2_and_says_so(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.state.add_campaign("Spring")
    # more than reject_guard_floor (10) rows rejected, and more than 20% of the file
    rows = [{"number": number(1)}, *({"number": f"not a phone {i}"} for i in range(11))]
    report = sync(sandbox, tmp_path, [write_csv(tmp_path / "bad.csv", rows)])
    assert report.exit_code == ExitCode.BAD_INPUT
    assert writes(sandbox) == 0
    headline = summary(report)["headline"]
    assert headline.startswith("The run stopped") and "max_reject_fraction" in headline
    assert "Nothing was changed" in headline


def test_a_small_file_with_a_few_bad_rows_loads_the_rest(sandbox: Sandbox, tmp_path: Path) -> None:
    """13 rows, 4 bad: at most reject_guard_floor rows rejected, so the 9 good ones load."""
    sandbox.state.add_campaign("Spring")
    rows = [*({"number": number(i)} for i in range(9)), *({"number": "bad"} for _ in range(4))]
    report = sync(sandbox, tmp_path, [write_csv(tmp_path / "small.csv", rows)])
    assert report.exit_code == ExitCode.OK
    assert summary(report)["totals"]["added"] == 9
    assert summary(report)["totals"]["rows_rejected"] == 4


def test_rows_naming_unknown_campaigns_are_one_group_not_made_up_campaigns(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.state.add_campaign("Spring")
    rows = [
        {"number": number(1), "Campaign": "Spring"},
        {"number": number(2), "Campaign": "Spring"},
        {"number": number(3), "Campaign": "Sprnig"},
        {"number": number(4), "Campaign": "Fall"},
        {"number": number(5), "Campaign": "Winter"},
    ]
    src = write_csv(tmp_path / "c.csv", rows, header=["Phone", "Campaign"])
    report = sync(sandbox, tmp_path, [src], campaign=None, dry_run=True)  # type: ignore[arg-type]
    s = summary(report)
    assert set(s["campaigns"]) == {"Spring", "(unknown campaign)"}
    assert s["campaigns"]["(unknown campaign)"]["rows_rejected"] == 3
    assert s["headline"].startswith("Dry run: 2 leads would be added to Spring;"), s["headline"]
    with (report.folder / "rows.csv").open(encoding="utf-8-sig", newline="") as fh:
        named = {r["campaign"] for r in csv.DictReader(fh) if r["outcome"] == "rejected"}
    assert named == {"Sprnig", "Fall", "Winter"}  # each row keeps the name it gave


def test_rows_naming_unknown_campaigns_keep_their_original_cells_in_rejected_csv(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """rejected.csv holds the file's own columns and text for these rows too (so it can be
    fixed and loaded again), not the cleaned lead fields (issue 14 item 6)."""
    sandbox.state.add_campaign("Spring")
    src = tmp_path / "mixed.csv"
    src.write_text(
        "Phone,First Name,Campaign,Rep note\n"
        "(213) 555-0101, Ann ,Spring,call after 5\n"
        "(213) 555-0102, Bob ,Fall,VIP\n"
        "213.555.0103,Cy,,no campaign\n",
        encoding="utf-8",
    )
    report = sync(sandbox, tmp_path, [src], campaign=None, dry_run=True)  # type: ignore[arg-type]
    assert report.exit_code == ExitCode.OK
    with (report.folder / "rejected.csv").open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rejected = list(reader)
    assert reader.fieldnames is not None
    assert reader.fieldnames[:4] == ["Phone", "First Name", "Campaign", "Rep note"]
    by_phone = {r["Phone"]: r for r in rejected}
    fall = by_phone["(213) 555-0102"]  # the original text, not +12135550102
    assert (fall["First Name"], fall["Campaign"], fall["Rep note"]) == (" Bob ", "Fall", "VIP")
    assert fall["source_row"] == "3"
    assert fall["error"].startswith("campaign-unknown: campaign 'Fall' does not exist; known:")
    assert "Spring" in fall["error"]
    assert by_phone["213.555.0103"]["error"].startswith("campaign-missing")
    assert summary(report)["campaigns"]["(unknown campaign)"]["rows_rejected"] == 1
