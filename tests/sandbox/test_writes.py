"""Writes: add validation and non-idempotency, status, delete, voicemail, add verbs."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from leadsync.sandbox import Sandbox
from tests.helpers import MakeSandbox


def add(
    http: requests.Session, sb: Sandbox, cid: str, body: Any, method: str = "PUT"
) -> requests.Response:
    return http.request(
        method, sb.url(f"/api/v2/config/campaigns/{cid}/lead"), json=body, headers=sb.auth_headers()
    )


def test_add_stores_every_field_of_the_body(sandbox: Sandbox, http: requests.Session) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    body = {
        "number": "+12135550100",
        "retries": 5,
        "first_name": "Ann",
        "last_name": "Lee",
        "type": "sales",
        "priority": 2,
        "ticket_id": "T-1001",
        "note": "VIP",
        "cool_off": 600,
    }
    assert add(http, sandbox, cid, body).status_code == 200
    (listed,) = sandbox.state.leads(cid)
    stored = sandbox.state.lead(listed["id"])
    assert stored is not None
    assert {k: stored[k] for k in body} == body
    assert stored["status"] == "new"


def test_add_fills_server_defaults_for_fields_not_given(
    sandbox: Sandbox, http: requests.Session
) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    assert add(http, sandbox, cid, {"number": "+12135550100"}).status_code == 200
    (lead,) = sandbox.state.leads(cid)
    assert (lead["first_name"], lead["last_name"], lead["status"]) == ("", "", "new")
    assert isinstance(lead["retries"], int) and isinstance(lead["priority"], int)


def test_add_is_not_idempotent(sandbox: Sandbox, http: requests.Session) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    body = {"number": "+12135550100", "first_name": "Ann"}
    assert add(http, sandbox, cid, body).status_code == 200
    assert add(http, sandbox, cid, body).status_code == 200
    leads = sandbox.state.leads(cid)
    assert [lead["number"] for lead in leads] == ["+12135550100", "+12135550100"]
    assert leads[0]["id"] != leads[1]["id"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"number": ""},
        {"number": "   "},
        {"number": 2135550100},
        {"number": None},
        {"number": "+12135550100", "priority": "2"},
        {"number": "+12135550100", "priority": 2.5},
        {"number": "+12135550100", "retries": True},
        {"number": "+12135550100", "cool_off": None},
        {"number": "+12135550100", "first_name": 7},
        {"number": "+12135550100", "note": ["x"]},
        ["+12135550100"],
        "just text",
    ],
    ids=lambda b: repr(b)[:40],
)
def test_add_rejects_bad_bodies_with_400(
    sandbox: Sandbox, http: requests.Session, body: Any
) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    answer = add(http, sandbox, cid, body)
    assert answer.status_code == 400
    assert answer.json()["message"] == "The information sent is invalid."
    assert sandbox.state.leads(cid) == []
    assert sandbox.stats.committed == 0


def test_add_body_that_is_not_json_is_400(sandbox: Sandbox, http: requests.Session) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    answer = http.put(
        sandbox.url(f"/api/v2/config/campaigns/{cid}/lead"),
        data=b"number=+12135550100",
        headers=sandbox.auth_headers(),
    )
    assert answer.status_code == 400


def test_add_to_unknown_campaign_is_400(sandbox: Sandbox, http: requests.Session) -> None:
    assert add(http, sandbox, "f" * 32, {"number": "+12135550100"}).status_code == 400


def test_post_only_deployment_answers_405_to_put(
    make_sandbox: MakeSandbox, http: requests.Session
) -> None:
    sb = make_sandbox(add_methods=("POST",))
    cid = sb.state.add_campaign("Spring Promo")
    refused = add(http, sb, cid, {"number": "+12135550100"}, method="PUT")
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "POST"
    assert sb.state.leads(cid) == []
    assert add(http, sb, cid, {"number": "+12135550100"}, method="POST").status_code == 200
    assert len(sb.state.leads(cid)) == 1
    assert sb.stats.by_route[("PUT", "add")] == 1 and sb.stats.by_route[("POST", "add")] == 1


def test_default_deployment_answers_405_to_post(sandbox: Sandbox, http: requests.Session) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    assert add(http, sandbox, cid, {"number": "+12135550100"}, method="POST").status_code == 405


def status_call(
    http: requests.Session, sb: Sandbox, lead_id: str, status: str
) -> requests.Response:
    return http.post(
        sb.url(f"/api/v2/config/campaigns/leads/{lead_id}/status/{status}"),
        headers=sb.auth_headers(),
    )


def test_set_status_is_idempotent_and_checks_the_status(
    sandbox: Sandbox, http: requests.Session
) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    (lead_id,) = sandbox.state.add_leads(cid, [{"number": "+12135550100"}])
    assert status_call(http, sandbox, lead_id, "success").status_code == 200
    assert status_call(http, sandbox, lead_id, "success").status_code == 200
    assert sandbox.state.campaigns()[cid]["leads_by_status"] == {"success": 1}
    assert status_call(http, sandbox, lead_id, "callback").status_code == 400
    assert status_call(http, sandbox, "0" * 32, "success").status_code == 400
    assert sandbox.state.lead(lead_id)["status"] == "success"  # type: ignore[index]


def test_tenant_statuses_are_a_knob(make_sandbox: MakeSandbox, http: requests.Session) -> None:
    sb = make_sandbox(statuses=("new", "success", "failed", "callback"))
    cid = sb.state.add_campaign("Spring Promo")
    (lead_id,) = sb.state.add_leads(cid, [{"number": "+12135550100"}])
    assert status_call(http, sb, lead_id, "callback").status_code == 200
    assert sb.state.campaigns()[cid]["leads_by_status"] == {"callback": 1}


def test_delete_twice_answers_400_the_second_time(sandbox: Sandbox, http: requests.Session) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    (lead_id,) = sandbox.state.add_leads(cid, [{"number": "+12135550100"}])
    url = sandbox.url(f"/api/v2/config/campaigns/leads/{lead_id}")
    assert http.delete(url, headers=sandbox.auth_headers()).status_code == 200
    second = http.delete(url, headers=sandbox.auth_headers())
    assert second.status_code == 400
    assert second.json()["message"] == "The information sent is invalid."
    assert sandbox.state.campaigns()[cid]["total_leads"] == 0
    assert sandbox.stats.writes == 2 and sandbox.stats.committed == 1


def test_voicemail_needs_a_known_call_and_is_idempotent(
    sandbox: Sandbox, http: requests.Session
) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    sandbox.state.add_leads(cid, [{"number": "+12135550100", "status": "failed"}])
    cdr = sandbox.state.events()[0]["lead_history"][0]["uuid"]
    for _ in range(2):
        answer = http.put(
            sandbox.url(f"/api/v2/config/campaigns/call/{cdr}/disposition/voicemail"),
            headers=sandbox.auth_headers(),
        )
        assert answer.status_code == 200
    unknown = http.put(
        sandbox.url("/api/v2/config/campaigns/call/no-such-call/disposition/voicemail"),
        headers=sandbox.auth_headers(),
    )
    assert unknown.status_code == 400
    assert sandbox.state.voicemails() == {cdr}


def test_concurrent_writes_from_many_threads_all_land(sandbox: Sandbox) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    threads, per_thread = 8, 25
    statuses: list[int] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        with requests.Session() as s:
            s.trust_env = False
            headers = sandbox.auth_headers()
            for i in range(per_thread):
                answer = s.put(
                    sandbox.url(f"/api/v2/config/campaigns/{cid}/lead"),
                    json={"number": f"+1213{t:03d}{i:04d}"},
                    headers=headers,
                )
                with lock:
                    statuses.append(answer.status_code)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert statuses == [200] * threads * per_thread
    leads = sandbox.state.leads(cid)
    assert len({lead["id"] for lead in leads}) == len({lead["number"] for lead in leads}) == 200
    assert sandbox.state.campaigns()[cid]["total_leads"] == 200
    assert sandbox.stats.by_route[("PUT", "add")] == 200


def test_stats_reset(sandbox: Sandbox, http: requests.Session) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    add(http, sandbox, cid, {"number": "+12135550100"})
    assert sandbox.stats.as_dict()["writes"] == 1
    sandbox.stats.reset()
    snapshot = sandbox.stats.as_dict()
    assert (snapshot["requests"], snapshot["writes"], snapshot["committed"]) == (0, 0, 0)
    assert snapshot["by_route"] == {} and snapshot["faults"] == {}
