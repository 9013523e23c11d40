"""Tenant isolation: every call carries the configured X-Account-ID; the sandbox refuses another
account's campaign; and a mirror sync of one campaign leaves every other campaign — of the
same account or another — byte-identical, without a single call naming it (the account's
campaign listing aside), even when the file's numbers are also in those campaigns and writes
fail ambiguously along the way."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from leadsync.api import CampaignsClient
from leadsync.config import ApiSettings
from leadsync.errors import ExitCode
from leadsync.run.pipeline import SyncRequest, run_sync
from leadsync.sandbox import Sandbox
from tests.helpers import api_values, number, sandbox_headers, sync_settings
from tests.reliability.support import RunCli, write_config
from tests.reliability.support import write_leads as write_file

OTHER_ACCOUNT = "acct-other"
LOGIN_PATH = "/api/v2/login"
CAMPAIGNS_LISTING = "/api/v2/reports/campaigns/leads/status"


def snapshot(sb: Sandbox, campaign_id: str) -> bytes:
    """The campaign's leads, every field, as bytes (sorted: the order is the server's)."""
    return json.dumps(
        sorted(sb.state.leads(campaign_id), key=lambda lead: lead["id"]), sort_keys=True
    ).encode()


def other_account(sb: Sandbox) -> str:
    sb.state.add_account(OTHER_ACCOUNT, username="other", password="other-pw", domain="other")
    cid = sb.state.add_campaign("Spring", account_id=OTHER_ACCOUNT)  # same name as ours
    sb.state.add_leads(cid, [{"number": number(i)} for i in range(20)])
    return cid


def test_every_call_carries_the_configured_account(sandbox: Sandbox, tmp_path: Path) -> None:
    cid = sandbox.state.add_campaign("Spring")
    sandbox.state.add_leads(cid, [{"number": number(i), "status": "new"} for i in range(30)])
    sandbox.configure(ambiguous_rate=0.2, fail_rate=0.1)  # retries, re-reads, settlement
    src = write_file(
        tmp_path / "leads.csv",
        [{"number": number(i), "status": "success"} for i in range(10, 60)],
    )
    report = run_sync(
        sync_settings(
            # 30 % of attempts fail: 20 attempts per call, so no call runs out of them
            # (0.3^20 per call) and the run ends OK in every run, not 19 in 20
            sandbox,
            api={"retry_budget": 10_000, "retry_attempts": 20},
            mode="mirror",
        ),
        SyncRequest((src,), campaign="Spring", allow_mass_delete=True, report_dir=tmp_path / "r"),
    )
    sandbox.configure(ambiguous_rate=0.0, fail_rate=0.0)
    assert report.exit_code == ExitCode.OK, report.messages
    calls = list(sandbox.stats.calls)
    api_calls = [c for c in calls if c.path != LOGIN_PATH]
    assert len(api_calls) > 100  # adds, status changes, deletes, pages
    assert {c.account_id for c in api_calls} == {sandbox.config.account_id}
    assert {c.account_id for c in calls if c.path == LOGIN_PATH} == {None}


def test_the_account_from_the_login_answer_is_sent_when_none_is_configured(
    sandbox: Sandbox,
) -> None:
    settings = ApiSettings(**{**api_values(sandbox), "account_id": None})
    with CampaignsClient(settings) as client:
        client.campaigns()
    assert [c.account_id for c in sandbox.stats.calls if c.path != LOGIN_PATH] == [
        sandbox.config.account_id
    ]


def test_the_sandbox_refuses_another_accounts_campaign(sandbox: Sandbox) -> None:
    theirs = other_account(sandbox)
    with requests.Session() as http:
        ours = sandbox_headers(http, sandbox)
        leads = sandbox.url(f"/api/v2/config/campaigns/{theirs}/leads")
        # with our token and account: the campaign does not exist for us
        assert http.get(leads, headers=ours).status_code == 400
        add = sandbox.url(f"/api/v2/config/campaigns/{theirs}/lead")
        assert http.put(add, headers=ours, json={"number": number(99)}).status_code == 400
        # our token with their account id: forbidden
        assert http.get(leads, headers={**ours, "X-Account-ID": OTHER_ACCOUNT}).status_code == 403
        listing = http.get(sandbox.url(CAMPAIGNS_LISTING), headers=ours).json()
    assert theirs not in listing
    assert len(sandbox.state.leads(theirs)) == 20


def test_leadsync_cannot_be_pointed_at_another_accounts_campaign(
    sandbox: Sandbox, tmp_path: Path, run_leadsync: RunCli
) -> None:
    theirs = other_account(sandbox)
    before = snapshot(sandbox, theirs)
    src = write_file(tmp_path / "leads.csv", [{"number": number(i)} for i in range(5)])
    config = write_config(tmp_path / "leadsync.toml", api_values(sandbox))
    run = run_leadsync(
        "--config", str(config), "sync", str(src), "--campaign", theirs, "--mode", "mirror"
    )
    assert run.code == ExitCode.BAD_INPUT, run.out + run.err
    assert "unknown campaign" in (run.out + run.err).lower()
    assert snapshot(sandbox, theirs) == before
    assert not [c for c in sandbox.stats.calls if theirs in c.path]


def test_a_mirror_sync_touches_only_its_campaign(sandbox: Sandbox, tmp_path: Path) -> None:
    target = sandbox.state.add_campaign("Spring")
    sibling = sandbox.state.add_campaign("Autumn")
    theirs = other_account(sandbox)
    # The same numbers everywhere, all "new": removable, status-changeable, duplicable.
    for cid in (target, sibling):
        sandbox.state.add_leads(cid, [{"number": number(i), "status": "new"} for i in range(40)])
    untouched = {cid: snapshot(sandbox, cid) for cid in (sibling, theirs)}
    lead_ids = {lead["id"] for cid in (sibling, theirs) for lead in sandbox.state.leads(cid)}
    rows = [{"number": number(i), "status": "success"} for i in range(20)]  # 20 removed
    rows += [{"number": number(i)} for i in range(100, 130)]  # 30 added
    src = write_file(tmp_path / "leads.csv", rows)
    sandbox.configure(ambiguous_rate=0.3)  # uncertain adds: the campaign is re-read
    report = run_sync(
        sync_settings(
            # 30 % of attempts fail: 20 attempts per call, so no call runs out of them
            # (0.3^20 per call) and the run ends OK in every run, not 19 in 20
            sandbox,
            api={"retry_budget": 10_000, "retry_attempts": 20},
            mode="mirror",
        ),
        SyncRequest((src,), campaign="Spring", allow_mass_delete=True, report_dir=tmp_path / "r"),
    )
    sandbox.configure(ambiguous_rate=0.0)
    assert report.exit_code == ExitCode.OK, report.messages
    counts = report.campaign_counts()["Spring"]
    assert (counts["added"], counts["deleted"], counts["status_set"]) == (30, 20, 20)
    # The others are exactly as they were.
    for cid, before in untouched.items():
        assert snapshot(sandbox, cid) == before
    # No call named them, their leads, or the other account; only the listing saw the sibling.
    calls = list(sandbox.stats.calls)
    for call in calls:
        assert sibling not in call.path and theirs not in call.path, call
        assert not any(lead_id in call.path for lead_id in lead_ids), call
        assert call.account_id in (None, sandbox.config.account_id), call
    paths = {c.path for c in calls}
    assert CAMPAIGNS_LISTING in paths
    assert {p.split("/")[5] for p in paths if p.startswith("/api/v2/config/campaigns/")} - {
        "leads",
        "call",
    } == {target}
