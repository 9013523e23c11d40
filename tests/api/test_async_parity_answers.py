"""The async write path reads every answer as the threaded one does. For the same bytes from a
scripted raw server both paths give the same result or error and put the same requests on the
wire: a plain success, a refusal with the server's message, the 404/405 fallback from PUT to
POST, answers in every framing (chunked, gzip, HTTP/1.0, interim 100s) and arriving in pieces;
the exact request bytes and headers; kept-alive connections reused, and one the server closed
not reused; and where http.client alone would read an answer wrongly (a 103 Early Hints,
headers cut short), both paths read it strictly.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import pytest

from leadsync import __version__
from leadsync.api.client import AddResult

from .parity import (
    ADD_PATH,
    CAMPAIGN,
    CHUNKED,
    DELETE_PATH,
    LEAD,
    LEAD_ID,
    OK,
    PATHS,
    STATUS_PATH,
    Action,
    ScriptServer,
    Send,
    Writes,
    add_one,
    both,
    hang_up_after,
    json_answer,
    lines,
    play,
)
from .support import api_key_settings

#: Time for a FIN to reach the client over loopback.
FIN_WAIT_S = 0.05
#: How long a test waits for the server side of a socket to do something.
SERVER_WAIT_S = 5.0
UNTIL_CLOSE = b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"id": "new-1"}'


def split(raw: bytes, *marks: bytes) -> tuple[bytes, ...]:
    """``raw`` cut just after each of ``marks`` (in order)."""
    parts = []
    for mark in marks:
        head, sep, raw = raw.partition(mark)
        assert sep, mark
        parts.append(head + sep)
    return (*parts, raw)


# --- answers ----------------------------------------------------------------------------------
def test_a_successful_add_gives_the_same_result() -> None:
    out = both([OK])
    assert out.value == AddResult(method="PUT", status=200, body={"id": "new-1"}, attempts=1)
    assert lines(out) == [f"PUT {ADD_PATH} HTTP/1.1"]
    assert out.counters == {"requests": 1, "retries": 0, "throttled": 0, "relogins": 0, "errors": 0}


def test_a_400_carries_the_servers_message() -> None:
    refused = json_answer(400, "Bad Request", {"message": "number is required"})
    out = both([refused])
    assert out.error == (
        "BadRequestError",
        f"PUT {ADD_PATH} → 400: number is required",
        400,
        1,
    )
    assert len(out.sent) == 1 and out.waits == () and out.counters["errors"] == 1


@pytest.mark.parametrize("status", [404, 405])
def test_404_or_405_falls_back_to_post_once_and_learns_it(status: int) -> None:
    async def two_adds(w: Writes) -> list[AddResult]:
        return [await w.add_lead(CAMPAIGN, LEAD), await w.add_lead(CAMPAIGN, LEAD)]

    out = both([json_answer(status, "No", {"message": "no such route"}), OK], two_adds)
    assert out.value == [
        AddResult(method="POST", status=200, body={"id": "new-1"}, attempts=2),
        AddResult(method="POST", status=200, body={"id": "new-1"}, attempts=1),
    ]
    assert lines(out) == [f"{m} {ADD_PATH} HTTP/1.1" for m in ("PUT", "POST", "POST")]


def test_an_add_refused_with_both_verbs_is_not_found() -> None:
    out = both([json_answer(405, "Method Not Allowed", {"message": "nope"})])
    assert out.error is not None and out.error[0] == "NotFoundError"
    assert "refused with both verbs: PUT → 405, POST → 405 (nope)" in out.error[1]
    assert len(out.sent) == 2


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
def test_answers_in_every_framing_read_the_same(headers: dict[str, str]) -> None:
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

    async def two_adds(w: Writes) -> list[AddResult]:
        return [await w.add_lead(CAMPAIGN, LEAD), await w.add_lead(CAMPAIGN, LEAD)]

    out = both([raw], two_adds)
    expected = AddResult(method="PUT", status=200, body={"id": "new-1", "name": "Zoë"})
    assert out.value == [expected, expected]
    assert out.connections == (2 if "Connection" in headers else 1)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
        b'{"id": "new-1"}',
        hang_up_after(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"id": "new-1"}'),
        b"HTTP/1.1 100 Continue\r\n\r\n" + OK,
        hang_up_after(CHUNKED[: -len(b"\r\n")]),
    ],
    ids=["http/1.0 with length", "http/1.0 body until close", "100 continue", "trailer cut"],
)
def test_older_interim_and_lenient_answers_read_the_same(raw: Action) -> None:
    async def two_adds(w: Writes) -> list[AddResult]:
        return [await w.add_lead(CAMPAIGN, LEAD), await w.add_lead(CAMPAIGN, LEAD)]

    out = both([raw], two_adds)
    expected = AddResult(method="PUT", status=200, body={"id": "new-1"})
    assert out.value == [expected, expected]
    assert len(out.sent) == 2


@pytest.mark.parametrize(
    "pieces",
    [
        Send(split(OK, b"HTTP/1.1 2", b"Content-", b'{"id')),
        Send(split(CHUNKED, b"chunked\r\n", b'{"i', b"7\r\nnew")),
        Send(split(UNTIL_CLOSE, b'{"id', b'"new'), hang_up=True),
    ],
    ids=["content-length", "chunked", "http/1.0 body until close"],
)
def test_answers_arriving_in_pieces_read_the_same(pieces: Send) -> None:
    out = both([pieces])
    assert out.value == AddResult(method="PUT", status=200, body={"id": "new-1"})


# --- the wire -----------------------------------------------------------------------------------
def test_the_same_request_goes_on_the_wire() -> None:
    async def writes(w: Writes) -> None:
        await w.add_lead(CAMPAIGN, LEAD)
        await w.set_status(LEAD_ID, "new")
        await w.delete_lead(LEAD_ID)

    out = both([OK], writes, user_agent="acme-sync/2")  # `both` compares every header
    assert lines(out) == [
        f"PUT {ADD_PATH} HTTP/1.1",
        f"POST {STATUS_PATH} HTTP/1.1",
        f"DELETE {DELETE_PATH} HTTP/1.1",
    ]
    (_, put, body), (_, post, _), (_, delete, _) = out.sent
    put_headers, post_headers = dict(put), dict(post)
    assert put_headers["host"] == "127.0.0.1:PORT"
    assert put_headers["user-agent"] == "acme-sync/2"
    assert put_headers["content-type"] == "application/json"
    assert put_headers["content-length"] == str(len(body))
    assert put_headers["x-api-key"] == "key-never-logged-5b1d"
    assert put_headers["x-account-id"] == "acct-raw"
    assert json.loads(body) == LEAD
    assert post_headers["content-length"] == dict(delete)["content-length"] == "0"
    assert "content-type" not in post_headers


def test_the_default_user_agent_is_leadsyncs() -> None:
    out = both([OK])
    assert dict(out.sent[0][1])["user-agent"] == f"leadsync/{__version__}"


# --- connections --------------------------------------------------------------------------------
def test_keep_alive_connections_are_reused() -> None:
    async def many(w: Writes) -> None:
        for _ in range(20):
            await w.add_lead(CAMPAIGN, LEAD)
            await w.set_status(LEAD_ID, "new")

    out = both([OK], many)
    assert len(out.sent) == 40 and out.connections == 1


@pytest.mark.parametrize("loop", ["idle", "busy"])
def test_a_connection_the_server_closed_while_idle_is_not_reused(loop: str) -> None:
    """The server hangs up a kept-alive connection between two adds, while the loop waits
    or while it is busy (and has not read the close yet): the second add must go out on a
    new connection, not into the dead one to be reported uncertain."""

    async def two_adds(w: Writes) -> list[AddResult]:
        first = await w.add_lead(CAMPAIGN, LEAD)
        assert srv.hung_up.wait(SERVER_WAIT_S)
        if loop == "idle":
            await asyncio.sleep(FIN_WAIT_S)
        else:
            time.sleep(FIN_WAIT_S)  # blocks the loop on purpose
        return [first, await w.add_lead(CAMPAIGN, LEAD)]

    outcomes = {}
    for path in PATHS:
        with ScriptServer(hang_up_after(OK), OK) as srv:
            outcomes[path] = play(path, api_key_settings(srv.url), two_adds, srv)
    assert outcomes["async"] == outcomes["threads"]
    out = outcomes["async"]
    assert out.error is None
    assert out.value == [AddResult(method="PUT", status=200, body={"id": "new-1"})] * 2
    assert len(out.sent) == 2 and out.connections == 2


# --- where http.client alone would read an answer wrongly (leadsync.api.strict_http) -----------
@pytest.mark.parametrize("path", PATHS)
def test_an_early_hints_answer_is_not_taken_for_the_answer(path: str) -> None:
    """A 103 is an interim answer, as 100 is, and the real one follows. http.client skips
    only 100; taken for the add's answer (a success), the 103 would hide the real one, here
    a refusal (the threaded path reads through leadsync.api.strict_http)."""
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
    refused = json_answer(400, "Bad Request", {"message": "duplicate"})
    with ScriptServer(hints + refused) as srv:
        out = play(path, api_key_settings(srv.url), add_one, srv)
    assert out.error == ("BadRequestError", f"PUT {ADD_PATH} → 400: duplicate", 400, 1)


@pytest.mark.parametrize("path", PATHS)
def test_an_answer_cut_inside_its_headers_leaves_the_add_uncertain(path: str) -> None:
    """The connection ends in the middle of the answer's headers. http.client takes the end
    of the stream for the end of the headers, and then for the end of an empty body: half
    an answer would read as a done add (the threaded path reads through strict_http)."""
    with ScriptServer(hang_up_after(b"HTTP/1.1 200 OK\r\nContent-")) as srv:
        out = play(path, api_key_settings(srv.url), add_one, srv)
    assert out.error is not None and out.error[0] == "UncertainAddError"
    assert len(out.sent) == 1
