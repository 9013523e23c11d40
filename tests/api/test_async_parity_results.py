"""The async write path fails, retries and refuses as the threaded one does. For the same
scripted server both paths give the same error (type, message, ``attempts``), the same requests
and the same backoff waits: a failure after sending makes an add uncertain and is never
repeated, while idempotent writes are retried; 429/503 with Retry-After are waited out; when
nothing was sent (refused, unknown host, connect timeout) the call is retried and ends
unreachable; a 401 logs in again once. Against a sandbox, clean or failing a seeded share of
calls, both paths make the same writes and see the same errors and counters.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from leadsync.api.client import AddResult
from leadsync.config import ApiSettings
from leadsync.errors import ApiError
from leadsync.sandbox import Sandbox
from tests.helpers import MakeSandbox, settings_for

from .parity import (
    ADD_PATH,
    CHUNKED,
    DELETE_PATH,
    LEAD,
    LEAD_ID,
    OK,
    PASSWORD,
    PATHS,
    STATUS_PATH,
    Action,
    Outcome,
    Scenario,
    ScriptServer,
    Writes,
    add_one,
    both,
    both_at,
    delete_one,
    hang_up_after,
    json_answer,
    lines,
    login_answer,
    play,
    set_one,
)
from .rawserver import answer, free_port
from .support import SHORT_TIMEOUT_S

#: Adds sent to a sandbox that fails a share of them.
ADDS_UNDER_FAULTS = 30


# --- failures after sending: an add is uncertain and never repeated ------------------------------
@pytest.mark.parametrize(
    ("action", "said"),
    [
        ("silent", f"no answer within {SHORT_TIMEOUT_S:g} s"),
        ("close", "(Remote end closed connection without response)"),
        ("reset", "Connection reset by peer"),
        (b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n", "connection lost after the request"),
        (b"garbage\r\n\r\n", "connection lost after the request was sent (garbage"),
        (hang_up_after(OK[:-4]), "IncompleteRead"),
        (hang_up_after(CHUNKED[:-12]), "IncompleteRead(8 bytes read)"),
        (CHUNKED.replace(b"8\r\n", b"zz\r\n"), "IncompleteRead(0 bytes read)"),
        (json_answer(500, "Internal Server Error", {"message": "boom"}), "server error: boom"),
        (answer(502, "Bad Gateway", b"<html>bad gateway</html>"), "server error"),
        (json_answer(503, "Service Unavailable", {"message": "later"}), "server error: later"),
        (answer(504, "Gateway Timeout"), "server error: Gateway Timeout"),
    ],
    ids=[
        "read-timeout",
        "close",
        "reset",
        "bad-status",
        "garbled",
        "body-cut-short",
        "chunks-cut-short",
        "bad-chunk-size",
        "500",
        "502",
        "503",
        "504",
    ],
)
def test_failures_after_sending_make_an_add_uncertain_sent_once(action: Action, said: str) -> None:
    out = both([action], timeout_s=SHORT_TIMEOUT_S)
    assert out.error is not None
    kind, message, _, attempts = out.error
    assert kind == "UncertainAddError" and attempts == 1
    assert said in message and "may or may not have been added" in message
    assert lines(out) == [f"PUT {ADD_PATH} HTTP/1.1"]  # never repeated
    assert out.waits == ()


@pytest.mark.parametrize("scenario", [set_one, delete_one], ids=["set-status", "delete"])
@pytest.mark.parametrize("action", ["reset", json_answer(503, "Service Unavailable", {})])
def test_idempotent_writes_are_retried_after_an_ambiguous_failure(
    scenario: Scenario, action: Action
) -> None:
    out = both([action, action, OK], scenario)
    assert out.error is None and out.value is None
    assert len(out.sent) == 3 and len(out.waits) == 2
    assert out.counters["retries"] == 2 and out.counters["errors"] == 0


def test_idempotent_writes_give_up_with_the_same_error() -> None:
    out = both([json_answer(502, "Bad Gateway", {"message": "down"})], set_one, retry_attempts=3)
    assert out.error == ("ServerError", f"POST {STATUS_PATH} → 502: server error: down", 502, 3)
    assert len(out.sent) == 3 and len(out.waits) == 2


def test_a_delete_refused_after_an_ambiguous_attempt_had_succeeded() -> None:
    gone = json_answer(400, "Bad Request", {"message": f"unknown lead {LEAD_ID}"})
    out = both([json_answer(503, "Service Unavailable", {}), gone], delete_one)
    assert out.error is None
    assert lines(out) == [f"DELETE {DELETE_PATH} HTTP/1.1"] * 2
    # …but a first refusal is the caller's error
    out = both([gone], delete_one)
    assert out.error == (
        "BadRequestError",
        f"DELETE {DELETE_PATH} → 400: unknown lead {LEAD_ID}",
        400,
        1,
    )


# --- explicit refusals: retried, Retry-After honoured -------------------------------------------
@pytest.mark.parametrize("status", [429, 503])
def test_an_add_refused_with_retry_after_is_retried_after_that_wait(status: int) -> None:
    refused = json_answer(status, "Slow Down", {"message": "slow down"}, {"Retry-After": "3"})
    out = both([refused, refused, OK])
    assert out.value == AddResult(method="PUT", status=200, body={"id": "new-1"}, attempts=3)
    assert len(out.sent) == 3 and out.counters["throttled"] == 2
    assert len(out.waits) >= 2 and sum(w >= 3.0 for w in out.waits) >= 2


def test_an_add_still_throttled_after_every_attempt() -> None:
    refused = json_answer(429, "Too Many Requests", {"message": "wait"}, {"Retry-After": "1"})
    out = both([refused], retry_attempts=3)
    assert out.error == (
        "ThrottledError",
        f"PUT {ADD_PATH} → 429: throttled: wait; retry after 1 s",
        429,
        3,
    )


# --- nothing sent: retried, then unreachable ----------------------------------------------------
def test_a_refused_connection_is_retried_then_unreachable() -> None:
    out = both_at(f"http://127.0.0.1:{free_port()}", retry_attempts=3)
    assert out.error is not None
    kind, message, _, attempts = out.error
    assert (kind, attempts) == ("UnreachableError", 3)
    assert message.startswith(
        f"PUT {ADD_PATH}: API unreachable after 3 attempt(s): could not connect"
    )
    assert "Connection refused" in message
    assert len(out.waits) == 2 and out.counters["requests"] == 3


def test_an_unknown_host_is_retried_then_unreachable() -> None:
    out = both_at("http://leadsync-no-such-host.invalid:9443", retry_attempts=2)
    assert out.error is not None and out.error[0] == "UnreachableError"
    assert "leadsync-no-such-host.invalid" in out.error[1]


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose listen queue is full: a connection attempt gets no answer (connect
    timeout), and nothing is ever sent."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        filler.connect(("127.0.0.1", port))  # takes the one place in the queue
        yield port


def test_a_connect_timeout_is_retried_then_unreachable(full_backlog: int) -> None:
    out = both_at(f"http://127.0.0.1:{full_backlog}", retry_attempts=2, timeout_s=SHORT_TIMEOUT_S)
    assert out.error is not None
    assert out.error[0] == "UnreachableError" and out.error[3] == 2
    assert f"could not connect within {SHORT_TIMEOUT_S:g} s" in out.error[1]


# --- auth ---------------------------------------------------------------------------------------
def test_a_401_logs_in_again_once_and_resends() -> None:
    refused = json_answer(401, "Unauthorized", {"message": "expired"})
    script = [login_answer("tok-1"), refused, login_answer("tok-2"), OK]
    outcomes = {}
    for path in PATHS:
        with ScriptServer(*script) as srv:
            settings = ApiSettings(
                base_url=srv.url, username="u", password=PASSWORD, domain="d", retry_attempts=4
            )
            # the async path logs in through the threaded transport: its own connection
            outcomes[path] = replace(play(path, settings, add_one, srv), connections=0)
    assert outcomes["async"] == outcomes["threads"]
    out = outcomes["async"]
    assert out.value == AddResult(method="PUT", status=200, body={"id": "new-1"}, attempts=1)
    assert lines(out) == [
        "POST /api/v2/login HTTP/1.1",
        f"PUT {ADD_PATH} HTTP/1.1",
        "POST /api/v2/login HTTP/1.1",
        f"PUT {ADD_PATH} HTTP/1.1",
    ]
    tokens = [dict(headers).get("authorization") for _, headers, _ in out.sent]
    assert tokens == [None, "Bearer tok-1", None, "Bearer tok-2"]
    assert out.counters["relogins"] == 1


def test_a_refused_api_key_is_an_auth_error() -> None:
    out = both([json_answer(401, "Unauthorized", {"message": "bad key"})])
    assert out.error is not None and out.error[0] == "AuthError"
    assert "the API key was refused" in out.error[1] and len(out.sent) == 1


# --- the sandbox --------------------------------------------------------------------------------
def on_sandboxes(
    make_sandbox: MakeSandbox,
    scenario_for: Callable[[Sandbox, str], Scenario],
    knobs: dict[str, Any] | None = None,
    **api: Any,
) -> tuple[Outcome, dict[str, int]]:
    """``scenario_for(sandbox, campaign_id)`` through each path against its own sandbox
    (same knobs, same seed: the same faults for the same requests); the outcomes and the
    requests each sandbox served by route must be equal; returns them."""
    seen = {}
    for path in PATHS:
        sb = make_sandbox(seed=3, **(knobs or {}))
        cid = sb.state.add_campaign("Parity")
        out = play(path, settings_for(sb, **api), scenario_for(sb, cid))
        seen[path] = (out, sb.stats.as_dict()["by_route"])
    assert seen["async"] == seen["threads"]
    return seen["async"]


def leads_of(sb: Sandbox, cid: str) -> list[dict[str, Any]]:
    """The campaign's leads, without their creation time (a wall-clock second)."""
    return [{k: v for k, v in lead.items() if k != "created"} for lead in sb.state.leads(cid)]


def test_the_sandbox_sees_the_same_writes(make_sandbox: MakeSandbox) -> None:
    def scenario_for(sb: Sandbox, cid: str) -> Scenario:
        async def writes(w: Writes) -> list[Any]:
            results: list[Any] = [await w.add_lead(cid, LEAD)]
            (lead,) = sb.state.leads(cid)
            await w.set_status(lead["id"], "success")
            results.append(leads_of(sb, cid))
            sb.expire_tokens()  # the next call gets a 401: one re-login, one resend
            await w.delete_lead(lead["id"])
            results.append(leads_of(sb, cid))
            return results

        return writes

    out, routes = on_sandboxes(make_sandbox, scenario_for)
    assert out.error is None and out.value[0].status == 200
    assert out.value[1][0]["status"] == "success" and out.value[2] == []
    assert out.counters["relogins"] == 1
    assert routes["POST login"] == 2 and routes["DELETE delete"] == 2


def test_a_faulty_sandbox_gets_the_same_writes_and_errors(make_sandbox: MakeSandbox) -> None:
    """503s (nothing committed) and 500s after committing, drawn from the same seed: every
    add, retry, uncertain add and counter comes out the same on both paths."""

    def scenario_for(sb: Sandbox, cid: str) -> Scenario:
        async def writes(w: Writes) -> list[Any]:
            results: list[Any] = []
            for i in range(ADDS_UNDER_FAULTS):
                try:
                    results.append(await w.add_lead(cid, {"number": f"+1213555{i:04d}"}))
                except ApiError as err:
                    results.append((type(err).__name__, str(err), getattr(err, "attempts", None)))
            for lead in sb.state.leads(cid):
                try:
                    await w.delete_lead(lead["id"])
                except ApiError as err:
                    results.append((type(err).__name__, str(err), getattr(err, "attempts", None)))
            results.append(leads_of(sb, cid))
            return results

        return writes

    knobs = {"fail_rate": 0.25, "ambiguous_rate": 0.25, "api_key": "key-faults-1"}
    out, routes = on_sandboxes(
        make_sandbox, scenario_for, knobs, api_key="key-faults-1", retry_attempts=3
    )
    kinds = [r[0] if isinstance(r, tuple) else "added" for r in out.value[:ADDS_UNDER_FAULTS]]
    assert "added" in kinds and "UncertainAddError" in kinds  # the knobs did bite
    assert out.counters["retries"] > 0 and out.value[-1] == []
    assert routes["PUT add"] == out.counters["requests"] - routes["DELETE delete"]
