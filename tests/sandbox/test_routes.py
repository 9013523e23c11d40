"""Every route answers with the document's paths, verbs and payload shapes."""

from __future__ import annotations

import io
import re
import socket

import pytest
import requests

from leadsync.sandbox import Sandbox, SandboxConfig
from tests.helpers import sandbox_headers, sandbox_login

HEX32 = re.compile(r"^[0-9a-f]{32}$")
#: Keys of a lead in the document's listing example.
DOC_LEAD_KEYS = {
    "created",
    "campaign_id",
    "number",
    "status",
    "retries",
    "first_name",
    "last_name",
    "priority",
    "id",
}
#: Keys of a queue and of an agent in the document's queues example.
DOC_QUEUE_KEYS = {
    "id",
    "name",
    "extension",
    "max_time_caller_in_queue",
    "strategy",
    "agents",
    "calls",
    "total_agents",
    "logged_in_agents",
    "logged_out_agents",
    "idle_agents",
    "misconfigured_agents",
    "agents_registered",
    "agents_on_call",
}
DOC_AGENT_KEYS = {
    "id",
    "name",
    "extension",
    "extension_is_valid",
    "delay",
    "timeout",
    "logged_in",
    "status",
    "registered",
    "tags",
}
#: Keys of an activity event and of its lead_history entries in the document's example.
DOC_EVENT_KEYS = {
    "datetime",
    "timestamp",
    "campaign_name",
    "lead_name",
    "lead_number",
    "agent_name",
    "agent_extension",
    "lead_history",
}
DOC_HISTORY_KEYS = {"agent", "event", "ext", "last_attempt", "type", "uuid"}


def test_login_answers_user_and_tokens(sandbox: Sandbox, http: requests.Session) -> None:
    answer = sandbox_login(http, sandbox)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert set(body) == {"user", "access_token", "refresh_token"}
    assert body["user"]["account_id"] == sandbox.config.account_id
    assert body["access_token"] != body["refresh_token"]
    assert len(body["access_token"]) >= 32


def test_login_bad_credentials_is_400_with_the_documented_message(
    sandbox: Sandbox, http: requests.Session
) -> None:
    for wrong in ({"password": "nope"}, {"username": "eve"}, {"domain": "other"}):
        answer = sandbox_login(http, sandbox, **wrong)
        assert answer.status_code == 400
        assert answer.json()["message"] == "The information sent is invalid."
    garbage = http.post(sandbox.url("/api/v2/login"), data=b"{not json")
    assert garbage.status_code == 400


def test_campaigns_counts_are_keyed_by_campaign_id(
    sandbox: Sandbox, http: requests.Session
) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    empty = sandbox.state.add_campaign("Empty", status="running")
    sandbox.state.add_leads(
        cid,
        [
            {"number": f"+1213555010{i}", "status": s}
            for i, s in enumerate(["new", "new", "success"])
        ],
    )
    answer = http.get(
        sandbox.url("/api/v2/reports/campaigns/leads/status"),
        headers=sandbox_headers(http, sandbox),
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {cid, empty}
    assert HEX32.match(cid)
    assert body[cid] == {
        "name": "Spring Promo",
        "status": "stopped",
        "total_leads": 3,
        "leads_by_status": {"new": 2, "success": 1},
    }
    assert body[empty]["status"] == "running"
    assert body[empty]["total_leads"] == 0


def test_leads_page_has_the_documented_lead_shape(sandbox: Sandbox, http: requests.Session) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    sandbox.state.add_leads(
        cid,
        [
            {
                "number": "+12131204",
                "first_name": "Piper",
                "last_name": "Huffman",
                "retries": 11,
                "priority": 4,
                "type": "sales",
                "ticket_id": "T-1",
                "note": "hidden from listings",
                "cool_off": 30,
            }
        ],
    )
    answer = http.get(
        sandbox.url(f"/api/v2/config/campaigns/{cid}/leads"),
        params={"page_size": 10},
        headers=sandbox_headers(http, sandbox),
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"data"}  # a single page: next_start_key absent (default style)
    (lead,) = body["data"]
    assert set(lead) == DOC_LEAD_KEYS  # no type, ticket_id, note, cool_off
    assert lead["campaign_id"] == cid
    assert HEX32.match(lead["id"])
    assert isinstance(lead["created"], int) and lead["created"] > 1_600_000_000
    assert (lead["number"], lead["first_name"], lead["retries"], lead["priority"]) == (
        "+12131204",
        "Piper",
        11,
        4,
    )
    stored = sandbox.state.lead(lead["id"])
    assert stored is not None
    assert (stored["note"], stored["cool_off"], stored["type"]) == (
        "hidden from listings",
        30,
        "sales",
    )


def test_queues_list_has_the_documented_shape(sandbox: Sandbox, http: requests.Session) -> None:
    answer = http.get(
        sandbox.url("/callcenter/queues/status"), headers=sandbox_headers(http, sandbox)
    )
    assert answer.status_code == 200
    queues = answer.json()
    assert isinstance(queues, list) and queues
    assert set(queues[0]) == DOC_QUEUE_KEYS
    assert set(queues[0]["agents"][0]) == DOC_AGENT_KEYS
    assert queues[0]["total_agents"] == len(queues[0]["agents"])


def test_activity_events_have_the_documented_shape(
    sandbox: Sandbox, http: requests.Session
) -> None:
    cid = sandbox.state.add_campaign("load_test_camp_1")
    sandbox.state.add_leads(
        cid,
        [
            {
                "number": "+12195011918",
                "first_name": "Raven",
                "last_name": "Shields",
                "status": "success",
            },
            {"number": "+12195011919", "status": "new"},  # never dialed: no event
        ],
    )
    answer = http.get(
        sandbox.url("/api/v2/reports/campaigns/leads/history"),
        params={"startDate": 0, "endDate": 4_000_000_000, "pageSize": 1000},
        headers=sandbox_headers(http, sandbox),
    )
    assert answer.status_code == 200
    (event,) = answer.json()
    assert set(event) == DOC_EVENT_KEYS
    assert (event["campaign_name"], event["lead_name"], event["lead_number"]) == (
        "load_test_camp_1",
        "Raven Shields",
        "+12195011918",
    )
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$", event["datetime"])
    assert set(event["lead_history"][0]) == DOC_HISTORY_KEYS
    assert event["lead_history"][0]["event"] == "campaign dial"


def test_writes_answer_200_with_an_empty_object(sandbox: Sandbox, http: requests.Session) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    sandbox.state.add_leads(cid, [{"number": "+12135550100", "status": "failed"}])
    headers = sandbox_headers(http, sandbox)
    add = http.put(
        sandbox.url(f"/api/v2/config/campaigns/{cid}/lead"),
        json={"number": "+12135550101", "first_name": "Bob", "priority": 2},
        headers=headers,
    )
    assert (add.status_code, add.json()) == (200, {})
    lead_id = sandbox.state.leads(cid)[1]["id"]
    status = http.post(
        sandbox.url(f"/api/v2/config/campaigns/leads/{lead_id}/status/success"), headers=headers
    )
    assert (status.status_code, status.json()) == (200, {})
    assert sandbox.state.lead(lead_id)["status"] == "success"  # type: ignore[index]
    cdr = sandbox.state.events()[0]["lead_history"][0]["uuid"]
    voicemail = http.put(
        sandbox.url(f"/api/v2/config/campaigns/call/{cdr}/disposition/voicemail"), headers=headers
    )
    assert (voicemail.status_code, voicemail.json()) == (200, {})
    assert sandbox.state.voicemails() == {cdr}
    delete = http.delete(sandbox.url(f"/api/v2/config/campaigns/leads/{lead_id}"), headers=headers)
    assert (delete.status_code, delete.json()) == (200, {})
    assert [lead["number"] for lead in sandbox.state.leads(cid)] == ["+12135550100"]
    assert sandbox.stats.writes == 4
    assert sandbox.stats.by_route[("PUT", "add")] == 1


def test_unknown_path_is_404_and_wrong_verb_is_405(
    sandbox: Sandbox, http: requests.Session
) -> None:
    headers = sandbox_headers(http, sandbox)
    missing = http.get(sandbox.url("/api/v2/nothing/here"), headers=headers)
    assert missing.status_code == 404
    assert sandbox.stats.by_route[("GET", "unknown")] == 1
    wrong = http.delete(sandbox.url("/api/v2/reports/campaigns/leads/status"), headers=headers)
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET"


def test_queues_path_has_no_api_v2_prefix(sandbox: Sandbox, http: requests.Session) -> None:
    answer = http.get(
        sandbox.url("/api/v2/callcenter/queues/status"), headers=sandbox_headers(http, sandbox)
    )
    assert answer.status_code == 404


def test_every_answer_carries_content_length_and_keeps_the_connection(
    sandbox: Sandbox, http: requests.Session
) -> None:
    headers = sandbox_headers(http, sandbox)
    answers = [
        http.get(sandbox.url("/api/v2/reports/campaigns/leads/status"), headers=headers),
        http.get(sandbox.url("/nope"), headers=headers),
        http.get(sandbox.url("/api/v2/reports/campaigns/leads/status")),  # 401
    ]
    for answer in answers:
        assert int(answer.headers["Content-Length"]) == len(answer.content)
        assert answer.raw.version == 11
        assert "close" not in answer.headers.get("Connection", "")
    assert sandbox.stats.connections == 1  # login and all three calls over one connection


def test_head_answers_without_a_body_and_keeps_the_connection_usable(
    sandbox: Sandbox, http: requests.Session
) -> None:
    headers = sandbox_headers(http, sandbox)
    head = http.head(sandbox.url("/api/v2/reports/campaigns/leads/status"), headers=headers)
    assert head.status_code == 405 and head.content == b""
    after = http.get(sandbox.url("/api/v2/reports/campaigns/leads/status"), headers=headers)
    assert after.status_code == 200 and after.json() == {}


def test_expect_100_continue_is_honoured(sandbox: Sandbox) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    auth = sandbox.auth_headers()
    body = b'{"number": "+12135550100"}'
    head = (
        f"PUT /api/v2/config/campaigns/{cid}/lead HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {auth['Authorization']}\r\nX-Account-ID: {auth['X-Account-ID']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    ).encode()
    with socket.create_connection((sandbox.host, sandbox.port), timeout=10) as conn:
        conn.sendall(head)
        assert conn.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        conn.sendall(body)
        assert conn.recv(1000).startswith(b"HTTP/1.1 200 OK\r\n")
    assert len(sandbox.state.leads(cid)) == 1


def test_a_sandbox_bug_answers_500_and_keeps_serving(
    sandbox: Sandbox, http: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = sandbox_headers(http, sandbox)

    def broken(account_id: str | None = None) -> dict[str, object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(sandbox.state, "campaigns", broken)
    answer = http.get(sandbox.url("/api/v2/reports/campaigns/leads/status"), headers=headers)
    assert answer.status_code == 500
    assert answer.json() == {"message": "Error due to an internal issue."}
    monkeypatch.undo()
    again = http.get(sandbox.url("/api/v2/reports/campaigns/leads/status"), headers=headers)
    assert again.status_code == 200


def test_quiet_unless_verbose(http: requests.Session) -> None:
    for verbose, expect_lines in ((False, 0), (True, 2)):
        stderr = io.StringIO()
        with Sandbox(SandboxConfig(verbose=verbose), stderr=stderr) as sb:
            http.get(sb.url("/api/v2/reports/campaigns/leads/status"))
            http.get(sb.url("/nowhere"))
        lines = stderr.getvalue().splitlines()
        assert len(lines) == expect_lines
        if verbose:
            assert "GET /nowhere -> 404" in lines[1]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"400"),
        (b"PUT /x HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", b"413"),
    ],
)
def test_malformed_requests_get_an_answer_and_a_closed_connection(
    sandbox: Sandbox, raw: bytes, status: bytes
) -> None:
    with socket.create_connection((sandbox.host, sandbox.port), timeout=10) as conn:
        conn.sendall(raw)
        answer = b""
        while chunk := conn.recv(4096):  # the server closes the connection after answering
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 " + status)
    assert b"Connection: close" in answer
