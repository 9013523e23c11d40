"""Activity: deterministic events, time window, startKey offsets, date parameters."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from leadsync.sandbox import Sandbox, SandboxConfig
from tests.helpers import MakeSandbox

HISTORY = "/api/v2/reports/campaigns/leads/history"
CREATED = 1_700_000_000
END = 4_000_000_000


def seed(sb: Sandbox, dialed: int, new: int = 3) -> None:
    cid = sb.state.add_campaign("Spring Promo")
    sb.state.add_leads(
        cid,
        [
            {"number": f"+1213555{i:04d}", "status": "success", "created": CREATED}
            for i in range(dialed)
        ]
        + [{"number": f"+1310555{i:04d}", "created": CREATED} for i in range(new)],
    )


def history(http: requests.Session, sb: Sandbox, **params: Any) -> requests.Response:
    return http.get(sb.url(HISTORY), params=params, headers=sb.auth_headers())


def test_one_event_per_dialed_lead_oldest_first(sandbox: Sandbox, http: requests.Session) -> None:
    seed(sandbox, dialed=20)
    events = history(http, sandbox, startDate=0, endDate=END).json()
    assert len(events) == 20
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert all(CREATED < t <= CREATED + 60 + 86_400 for t in stamps)
    assert len({e["lead_history"][0]["uuid"] for e in events}) == 20


def test_window_filters_by_timestamp_inclusively(sandbox: Sandbox, http: requests.Session) -> None:
    seed(sandbox, dialed=30)
    events = history(http, sandbox, startDate=0, endDate=END).json()
    lo, hi = events[5]["timestamp"], events[20]["timestamp"]
    inside = history(http, sandbox, startDate=lo, endDate=hi).json()
    assert inside == [e for e in events if lo <= e["timestamp"] <= hi]
    assert inside[0] == events[5] and inside[-1]["timestamp"] == hi


def test_start_key_is_an_offset_and_a_short_page_ends(
    sandbox: Sandbox, http: requests.Session
) -> None:
    seed(sandbox, dialed=25)
    everything = history(http, sandbox, startDate=0, endDate=END).json()
    pages = [
        history(http, sandbox, startDate=0, endDate=END, pageSize=10, startKey=k).json()
        for k in (0, 10, 20)
    ]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [e for p in pages for e in p] == everything


def test_page_cap_applies_to_activity(make_sandbox: MakeSandbox, http: requests.Session) -> None:
    sb = make_sandbox(page_cap=4)
    seed(sb, dialed=10)
    assert len(history(http, sb, startDate=0, endDate=END, pageSize=100).json()) == 4


def test_milliseconds_and_the_documents_misspelling_are_accepted(
    sandbox: Sandbox, http: requests.Session
) -> None:
    seed(sandbox, dialed=5)
    seconds = history(http, sandbox, startDate=0, endDate=END).json()
    millis = history(http, sandbox, starDate=0, endDate=END * 1000).json()
    assert millis == seconds


@pytest.mark.parametrize(
    "params",
    [
        {"endDate": END},
        {"startDate": 0},
        {"startDate": "yesterday", "endDate": END},
        {"startDate": 0, "endDate": END, "startKey": -1},
        {"startDate": 0, "endDate": END, "pageSize": 0},
    ],
)
def test_bad_parameters_are_400(
    sandbox: Sandbox, http: requests.Session, params: dict[str, Any]
) -> None:
    assert history(http, sandbox, **params).status_code == 400


def test_events_follow_status_changes_and_repeat_with_the_seed(http: requests.Session) -> None:
    answers = []
    for _ in range(2):
        with Sandbox(SandboxConfig(seed=5)) as sb:
            seed(sb, dialed=4)
            lead_id = sb.state.leads(sb.state.find_campaign("Spring Promo") or "")[-1]["id"]
            before = history(http, sb, startDate=0, endDate=END).json()
            sb.state.set_status(lead_id, "failed")  # a new lead now dialed
            after = history(http, sb, startDate=0, endDate=END).json()
            assert len(after) == len(before) + 1
            answers.append(after)
    assert answers[0] == answers[1]
