"""SandboxState: bulk loading, counts, and the JSON state file (atomic, round trip)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from leadsync.sandbox import DEMO_CAMPAIGNS, Sandbox, SandboxConfig, SandboxState, seed_demo


def test_add_leads_returns_32_hex_ids_in_order() -> None:
    state = SandboxState()
    cid = state.add_campaign("Spring Promo")
    ids = state.add_leads(cid, [{"number": f"+1213555{i:04d}"} for i in range(100)])
    assert len(set(ids)) == 100
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert [lead["id"] for lead in state.leads(cid)] == ids


def test_ids_repeat_with_the_seed() -> None:
    def ids(seed: int) -> list[str]:
        state = SandboxState(seed=seed)
        cid = state.add_campaign("A")
        return [cid, *state.add_leads(cid, [{"number": "+1"}, {"number": "+2"}])]

    assert ids(1) == ids(1)
    assert ids(1) != ids(2)


@pytest.mark.parametrize(
    ("lead", "message"),
    [
        ({"first_name": "Ann"}, "lead #1: number"),
        ({"number": "+1", "priority": "high"}, "lead #1: priority"),
        ({"number": "+1", "status": 3}, "lead #1: status"),
    ],
)
def test_bad_lead_in_a_batch_adds_nothing(lead: dict[str, object], message: str) -> None:
    state = SandboxState()
    cid = state.add_campaign("A")
    with pytest.raises(ValueError, match=message):
        state.add_leads(cid, [{"number": "+12135550100"}, lead])
    assert state.leads(cid) == []


def test_pinned_ids_and_created_times_are_kept() -> None:
    state = SandboxState()
    cid = state.add_campaign("A", campaign_id="c" * 32)
    state.add_leads(cid, [{"number": "+1", "id": "a" * 32, "created": 1_665_762_498}])
    (lead,) = state.leads(cid)
    assert (lead["id"], lead["created"], lead["campaign_id"]) == ("a" * 32, 1_665_762_498, cid)
    with pytest.raises(ValueError, match="already exists"):
        state.add_leads(cid, [{"number": "+2", "id": "a" * 32}])
    with pytest.raises(KeyError):
        state.add_leads("d" * 32, [{"number": "+1"}])


def test_counts_follow_adds_status_changes_and_deletes() -> None:
    state = SandboxState()
    cid = state.add_campaign("A")
    a, b, _ = state.add_leads(cid, [{"number": "+1"}, {"number": "+2"}, {"number": "+3"}])
    state.set_status(a, "success")
    state.delete_lead(b)
    assert state.campaigns()[cid] == {
        "name": "A",
        "status": "stopped",
        "total_leads": 2,
        "leads_by_status": {"new": 1, "success": 1},
    }
    assert not state.delete_lead(b)
    assert not state.set_status(b, "failed")


def test_seed_demo_adds_the_demo_campaigns_once() -> None:
    state = SandboxState()
    first = seed_demo(state)
    again = seed_demo(state)
    assert first == again
    assert set(first) == set(DEMO_CAMPAIGNS)
    counts = state.campaigns()
    assert {counts[cid]["total_leads"] for cid in first.values()} == {
        n for n, _, _ in DEMO_CAMPAIGNS.values()
    }


def test_state_file_round_trip(tmp_path: Path, http: requests.Session) -> None:
    path = tmp_path / "state.json"
    config = SandboxConfig(state_file=path, seed=9)
    with Sandbox(config) as sb:
        cid = sb.state.add_campaign("Spring Promo", status="running")
        sb.state.add_leads(cid, [{"number": "+12135550100", "note": "kept", "status": "failed"}])
        answer = http.put(
            sb.url(f"/api/v2/config/campaigns/{cid}/lead"),
            json={"number": "+12135550101", "cool_off": 30},
            headers=sb.auth_headers(),
        )
        assert answer.status_code == 200
        cdr = sb.state.events()[0]["lead_history"][0]["uuid"]
        assert sb.state.set_voicemail(cdr)
        before = sb.state.to_dict()
        leads_before = sb.state.leads(cid)
    assert path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left over
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert "demo-password" not in path.read_text(encoding="utf-8")  # credentials stay out
    assert saved["campaigns"][0]["id"] == cid
    with Sandbox(config) as again:
        assert again.state.to_dict() == before
        assert again.state.leads(cid) == leads_before
        assert again.state.voicemails() == {cdr}
        ids = [lead["id"] for lead in leads_before]
        assert again.state.lead(ids[0])["note"] == "kept"  # type: ignore[index]
        assert again.state.lead(ids[1])["cool_off"] == 30  # type: ignore[index]
        # And it serves the loaded state over HTTP.
        listed = http.get(
            again.url(f"/api/v2/config/campaigns/{cid}/leads"), headers=again.auth_headers()
        ).json()["data"]
        assert listed == leads_before


def test_state_is_saved_while_running(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with Sandbox(SandboxConfig(state_file=path, persist_interval_s=0.05)) as sb:
        sb.state.add_campaign("Spring Promo")
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (
            json.loads(path.read_text(encoding="utf-8"))["campaigns"][0]["name"] == "Spring Promo"
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "not a leadsync sandbox state"),
        ('{"format": "other", "version": 1}', "not a leadsync sandbox state"),
        (
            '{"format": "leadsync-sandbox-state", "version": 1, "campaigns": [{"name": "x"}]}',
            "campaign #0",
        ),
    ],
)
def test_bad_state_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as err:
        Sandbox(SandboxConfig(state_file=path))
    assert str(path) in str(err.value)
