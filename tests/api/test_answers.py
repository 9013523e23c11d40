"""How the client reads the answers of its writes, from exact bytes of a scripted raw server: a
plain success, a refusal with the server's message, the 404/405 fallback from PUT to POST,
answers in every framing (chunked, gzip, HTTP/1.0, interim 100s) and arriving in pieces; the
exact requests put on the wire; kept-alive connections reused, and one the server closed not
reused; and where http.client alone would read an answer wrongly (a 103 Early Hints, headers
cut short), the strict reading of :mod:`leadsync.api.transport`.
"""

from __future__ import annotations

import gzip
import json
import time

import pytest

from leadsync import __version__
from leadsync.api import AddResult, CampaignsClient

from .rawserver import CHUNKED, OK, Action, ScriptServer, Send, hang_up_after, json_answer
from .support import (
    ADD_PATH,
    CAMPAIGN,
    DELETE_PATH,
    LEAD,
    LEAD_ID,
    STATUS_PATH,
    Outcome,
    add_one,
    api_key_settings,
    play,
)

UNTIL_CLOSE = b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"id": "new-1"}'
ADDED = AddResult(method="PUT", status=200, body={"id": "new-1"})
#: Time for a FIN to reach the client over loopback.
FIN_WAIT_S = 0.05
#: How long a test waits for the server side of a socket to do something.
SERVER_WAIT_S = 5.0


def scripted(
    *script: Action, scenario: object = add_one, **api: object
) -> tuple[Outcome, ScriptServer]:
    """``scenario`` (default: one add) against a fresh server playing ``script``."""
    with ScriptServer(*script) as srv:
        out = play(api_key_settings(srv.url, **{"retry_attempts": 4, **api}), scenario)  # type: ignore[arg-type]
    return out, srv


def two_adds(client: CampaignsClient) -> list[AddResult]:
    return [client.add_lead(CAMPAIGN, LEAD), client.add_lead(CAMPAIGN, LEAD)]


def split(raw: bytes, *marks: bytes) -> tuple[bytes, ...]:
    """``raw`` cut just after each of ``marks`` (in order)."""
    parts = []
    for mark in marks:
        head, sep, raw = raw.partition(mark)
        assert sep, mark
        parts.append(head + sep)
    return (*parts, raw)


# --- answers ----------------------------------------------------------------------------------
def test_a_successful_add() -> None:
    out, srv = scripted(OK)
    assert out.value == AddResult(method="PUT", status=200, body={"id": "new-1"}, attempts=1)
    assert srv.lines == [f"PUT {ADD_PATH} HTTP/1.1"]
    assert out.counters == {"requests": 1, "retries": 0, "throttled": 0, "relogins": 0, "errors": 0}


def test_a_400_carries_the_servers_message() -> None:
    out, srv = scripted(json_answer(400, "Bad Request", {"message": "number is required"}))
    assert out.error == ("BadRequestError", f"PUT {ADD_PATH} → 400: number is required", 400, 1)
    assert len(srv.requests) == 1 and out.waits == () and out.counters["errors"] == 1


@pytest.mark.parametrize("status", [404, 405])
def test_404_or_405_falls_back_to_post_once_and_learns_it(status: int) -> None:
    out, srv = scripted(
        json_answer(status, "No", {"message": "no such route"}), OK, scenario=two_adds
    )
    assert out.value == [
        AddResult(method="POST", status=200, body={"id": "new-1"}, attempts=2),
        AddResult(method="POST", status=200, body={"id": "new-1"}, attempts=1),
    ]
    assert srv.lines == [f"{m} {ADD_PATH} HTTP/1.1" for m in ("PUT", "POST", "POST")]


def test_an_add_refused_with_both_verbs_is_not_found() -> None:
    out, srv = scripted(json_answer(405, "Method Not Allowed", {"message": "nope"}))
    assert out.error is not None and out.error[0] == "NotFoundError"
    assert "refused with both verbs: PUT → 405, POST → 405 (nope)" in out.error[1]
    assert len(srv.requests) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {"Transfer-Encoding": "chunked"},
        {"Content-Encoding": "gzip"},
        {"Transfer-Encoding": "chunked", "Content-Encoding": "gzip"},
        {"Connection": "close"},
    ],
    ids=["chunked", "gzip", "chunked-gzip", "connection-close"],
)
def test_answers_in_every_framing(headers: dict[str, str]) -> None:
    payload = json.dumps({"id": "new-1", "name": "Zoë"}).encode()
    content = gzip.compress(payload) if "Content-Encoding" in headers else payload
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json; charset=utf-8"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if "Transfer-Encoding" in headers:
        # two chunks (the second with an extension) and a trailer
        half = len(content) // 2
        framed = (
            f"{half:x}\r\n".encode()
            + content[:half]
            + f"\r\n{len(content) - half:X};ext=1\r\n".encode()
            + content[half:]
            + b"\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
    else:
        head.append(f"Content-Length: {len(content)}")
        framed = content
    raw = ("\r\n".join(head) + "\r\n\r\n").encode() + framed
    out, srv = scripted(raw, scenario=two_adds)
    expected = AddResult(method="PUT", status=200, body={"id": "new-1", "name": "Zoë"})
    assert out.value == [expected, expected]
    assert srv.accepted == (2 if "Connection" in headers else 1)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
        b'{"id": "new-1"}',
        hang_up_after(UNTIL_CLOSE),
        b"HTTP/1.1 100 Continue\r\n\r\n" + OK,
        hang_up_after(CHUNKED[: -len(b"\r\n")]),
    ],
    ids=["http/1.0 with length", "http/1.0 body until close", "100 continue", "trailer cut"],
)
def test_older_interim_and_lenient_answers(raw: Action) -> None:
    out, srv = scripted(raw, scenario=two_adds)
    assert out.value == [ADDED, ADDED]
    assert len(srv.requests) == 2


@pytest.mark.parametrize(
    "pieces",
    [
        Send(split(OK, b"HTTP/1.1 2", b"Content-", b'{"id')),
        Send(split(CHUNKED, b"chunked\r\n", b'{"i', b"7\r\nnew")),
        Send(split(UNTIL_CLOSE, b'{"id', b'"new'), hang_up=True),
    ],
    ids=["content-length", "chunked", "http/1.0 body until close"],
)
def test_answers_arriving_in_pieces(pieces: Send) -> None:
    out, _ = scripted(pieces)
    assert out.value == ADDED


# --- the wire -----------------------------------------------------------------------------------
def test_the_writes_put_these_requests_on_the_wire() -> None:
    def writes(client: CampaignsClient) -> None:
        client.add_lead(CAMPAIGN, LEAD)
        client.set_status(LEAD_ID, "new")
        client.delete_lead(LEAD_ID)

    out, srv = scripted(OK, scenario=writes, user_agent="acme-sync/2")
    assert out.error is None
    assert srv.lines == [
        f"PUT {ADD_PATH} HTTP/1.1",
        f"POST {STATUS_PATH} HTTP/1.1",
        f"DELETE {DELETE_PATH} HTTP/1.1",
    ]
    put, post, delete = srv.requests
    assert put.headers["host"] == f"127.0.0.1:{srv.port}"
    assert put.headers["user-agent"] == "acme-sync/2"
    assert put.headers["content-type"] == "application/json"
    assert put.headers["content-length"] == str(len(put.body))
    assert put.headers["x-api-key"] == "key-never-logged-5b1d"
    assert put.headers["x-account-id"] == "acct-raw"
    assert json.loads(put.body) == LEAD
    assert post.headers["content-length"] == delete.headers["content-length"] == "0"
    assert "content-type" not in post.headers


def test_the_default_user_agent_is_leadsyncs() -> None:
    _, srv = scripted(OK)
    assert srv.requests[0].headers["user-agent"] == f"leadsync/{__version__}"


# --- connections --------------------------------------------------------------------------------
def test_keep_alive_connections_are_reused() -> None:
    def many(client: CampaignsClient) -> None:
        for _ in range(20):
            client.add_lead(CAMPAIGN, LEAD)
            client.set_status(LEAD_ID, "new")

    out, srv = scripted(OK, scenario=many)
    assert out.error is None and len(srv.requests) == 40 and srv.accepted == 1


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """The server hangs up a kept-alive connection between two adds: the second add must go
    out on a new connection, not into the dead one to be reported uncertain."""
    with ScriptServer(hang_up_after(OK), OK) as srv:

        def adds(client: CampaignsClient) -> list[AddResult]:
            first = client.add_lead(CAMPAIGN, LEAD)
            assert srv.hung_up.wait(SERVER_WAIT_S)
            time.sleep(FIN_WAIT_S)  # the FIN reaches the client
            return [first, client.add_lead(CAMPAIGN, LEAD)]

        out = play(api_key_settings(srv.url), adds)
    assert out.error is None and out.value == [ADDED, ADDED]
    assert len(srv.requests) == 2 and srv.accepted == 2


# --- where http.client alone would read an answer wrongly (leadsync.api.transport) -----------------
def test_an_early_hints_answer_is_not_taken_for_the_answer() -> None:
    """A 103 is an interim answer, as 100 is, and the real one follows. http.client skips
    only 100; taken for the add's answer (a success), the 103 would hide the real one, here
    a refusal."""
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
    out, _ = scripted(hints + json_answer(400, "Bad Request", {"message": "duplicate"}))
    assert out.error == ("BadRequestError", f"PUT {ADD_PATH} → 400: duplicate", 400, 1)


def test_an_answer_cut_inside_its_headers_leaves_the_add_uncertain() -> None:
    """The connection ends in the middle of the answer's headers. http.client takes the end
    of the stream for the end of the headers, and then for the end of an empty body: half
    an answer would read as a done add."""
    out, srv = scripted(hang_up_after(b"HTTP/1.1 200 OK\r\nContent-"))
    assert out.error is not None and out.error[0] == "UncertainAddError"
    assert len(srv.requests) == 1
