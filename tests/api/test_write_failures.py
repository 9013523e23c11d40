"""How the writes fail, retry and refuse, from a scripted raw server and real sockets: a failure
after sending makes an add uncertain and is never repeated, while idempotent writes are
retried; 429/503 with Retry-After are waited out; when nothing was sent (refused, unknown host,
connect timeout, a TLS handshake that never completes) the call is retried and ends
unreachable; a 401 logs in again once. Over TLS: an untrusted certificate or one for another
host is refused with advice, a private CA or verification off lets the writes through. No
secret reaches an error or a log line of the writes.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from leadsync.api import AddResult, CampaignsClient
from leadsync.config import ApiSettings
from leadsync.errors import ApiError
from leadsync.sandbox import Sandbox
from tests.helpers import MakeSandbox, settings_for
from tests.reliability.support import TlsFiles

from .rawserver import (
    CHUNKED,
    OK,
    Action,
    ScriptServer,
    answer,
    free_port,
    hang_up_after,
    json_answer,
    login_answer,
)
from .support import (
    ADD_PATH,
    DELETE_PATH,
    LEAD_ID,
    SHORT_TIMEOUT_S,
    STATUS_PATH,
    Outcome,
    RecordingSleep,
    add_one,
    api_key_settings,
    delete_one,
    play,
    set_one,
)

#: A password that must never reach an error or a log line.
PASSWORD = "pw-writes-never-shown-91c3"


def scripted(
    script: list[Action], scenario: object = add_one, **api: object
) -> tuple[Outcome, ScriptServer]:
    with ScriptServer(*script) as srv:
        out = play(api_key_settings(srv.url, **{"retry_attempts": 4, **api}), scenario)  # type: ignore[arg-type]
    return out, srv


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
    out, srv = scripted([action], timeout_s=SHORT_TIMEOUT_S)
    assert out.error is not None
    kind, message, _, attempts = out.error
    assert kind == "UncertainAddError" and attempts == 1
    assert said in message and "may or may not have been added" in message
    assert srv.lines == [f"PUT {ADD_PATH} HTTP/1.1"]  # never repeated
    assert out.waits == ()


@pytest.mark.parametrize("scenario", [set_one, delete_one], ids=["set-status", "delete"])
@pytest.mark.parametrize("action", ["reset", json_answer(503, "Service Unavailable", {})])
def test_idempotent_writes_are_retried_after_an_ambiguous_failure(
    scenario: object, action: Action
) -> None:
    out, srv = scripted([action, action, OK], scenario)
    assert out.error is None and out.value is None
    assert len(srv.requests) == 3 and len(out.waits) == 2
    assert out.counters["retries"] == 2 and out.counters["errors"] == 0


def test_idempotent_writes_give_up_with_the_last_error() -> None:
    refused = json_answer(502, "Bad Gateway", {"message": "down"})
    out, srv = scripted([refused], set_one, retry_attempts=3)
    assert out.error == ("ServerError", f"POST {STATUS_PATH} → 502: server error: down", 502, 3)
    assert len(srv.requests) == 3 and len(out.waits) == 2


def test_a_delete_refused_after_an_ambiguous_attempt_had_succeeded() -> None:
    gone = json_answer(400, "Bad Request", {"message": f"unknown lead {LEAD_ID}"})
    out, srv = scripted([json_answer(503, "Service Unavailable", {}), gone], delete_one)
    assert out.error is None
    assert srv.lines == [f"DELETE {DELETE_PATH} HTTP/1.1"] * 2
    # …but a first refusal is the caller's error
    out, _ = scripted([gone], delete_one)
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
    out, srv = scripted([refused, refused, OK])
    assert out.value == AddResult(method="PUT", status=200, body={"id": "new-1"}, attempts=3)
    assert len(srv.requests) == 3 and out.counters["throttled"] == 2
    assert len(out.waits) >= 2 and sum(w >= 3.0 for w in out.waits) >= 2


def test_an_add_still_throttled_after_every_attempt() -> None:
    refused = json_answer(429, "Too Many Requests", {"message": "wait"}, {"Retry-After": "1"})
    out, _ = scripted([refused], retry_attempts=3)
    assert out.error == (
        "ThrottledError",
        f"PUT {ADD_PATH} → 429: throttled: wait; retry after 1 s",
        429,
        3,
    )


# --- nothing sent: retried, then unreachable ----------------------------------------------------
def test_a_refused_connection_is_retried_then_unreachable() -> None:
    out = play(api_key_settings(f"http://127.0.0.1:{free_port()}", retry_attempts=3), add_one)
    assert out.error is not None
    kind, message, _, attempts = out.error
    assert (kind, attempts) == ("UnreachableError", 3)
    assert message.startswith(
        f"PUT {ADD_PATH}: API unreachable after 3 attempt(s): could not connect"
    )
    assert "Connection refused" in message
    assert len(out.waits) == 2 and out.counters["requests"] == 3


def test_an_unknown_host_is_retried_then_unreachable() -> None:
    settings = api_key_settings("http://leadsync-no-such-host.invalid:9443", retry_attempts=2)
    out = play(settings, add_one)
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
    settings = api_key_settings(
        f"http://127.0.0.1:{full_backlog}", retry_attempts=2, timeout_s=SHORT_TIMEOUT_S
    )
    out = play(settings, add_one)
    assert out.error is not None
    assert out.error[0] == "UnreachableError" and out.error[3] == 2
    assert f"could not connect within {SHORT_TIMEOUT_S:g} s" in out.error[1]


# --- auth ---------------------------------------------------------------------------------------
def test_a_401_logs_in_again_once_and_resends() -> None:
    refused = json_answer(401, "Unauthorized", {"message": "expired"})
    with ScriptServer(login_answer("tok-1"), refused, login_answer("tok-2"), OK) as srv:
        settings = ApiSettings(
            base_url=srv.url, username="u", password=PASSWORD, domain="d", retry_attempts=4
        )
        out = play(settings, add_one)
    assert out.value == AddResult(method="PUT", status=200, body={"id": "new-1"}, attempts=1)
    assert srv.lines == [
        "POST /api/v2/login HTTP/1.1",
        f"PUT {ADD_PATH} HTTP/1.1",
        "POST /api/v2/login HTTP/1.1",
        f"PUT {ADD_PATH} HTTP/1.1",
    ]
    assert [r.headers.get("authorization") for r in srv.requests] == [
        None,
        "Bearer tok-1",
        None,
        "Bearer tok-2",
    ]
    assert out.counters["relogins"] == 1


def test_a_refused_api_key_is_an_auth_error() -> None:
    out, srv = scripted([json_answer(401, "Unauthorized", {"message": "bad key"})])
    assert out.error is not None and out.error[0] == "AuthError"
    assert "the API key was refused" in out.error[1] and len(srv.requests) == 1


# --- TLS ----------------------------------------------------------------------------------------
def test_an_untrusted_certificate_is_unreachable_with_advice(https_sandbox: Sandbox) -> None:
    out = play(settings_for(https_sandbox, api_key=https_sandbox.config.api_key), add_one)
    assert out.error is not None and out.error[0] == "UnreachableError"
    assert "certificate verify failed" in out.error[1].lower()
    assert "not trusted" in out.error[1] and "api.ca_bundle" in out.error[1]
    assert out.waits == () and https_sandbox.stats.requests == 0


def test_a_certificate_for_another_host_is_refused(https_sandbox: Sandbox, tls: TlsFiles) -> None:
    url = https_sandbox.base_url.replace("127.0.0.1", "localhost")
    out = play(api_key_settings(url, ca_bundle=tls.ca_cert), add_one)
    assert out.error is not None and out.error[0] == "UnreachableError"
    assert "does not name the host" in out.error[1]


@pytest.mark.parametrize("api", ["ca_bundle", "verify_tls=false"])
def test_a_private_ca_or_verification_off_lets_the_writes_through(
    https_sandbox: Sandbox, tls: TlsFiles, api: str
) -> None:
    cid = https_sandbox.state.add_campaign("Over TLS")
    extra: dict[str, object] = (
        {"ca_bundle": tls.ca_cert} if api == "ca_bundle" else {"verify_tls": False}
    )
    settings = settings_for(https_sandbox, api_key=https_sandbox.config.api_key, **extra)

    def add_then_delete(client: CampaignsClient) -> AddResult:
        result = client.add_lead(cid, {"number": "+12135550100"})
        (lead,) = https_sandbox.state.leads(cid)
        client.set_status(lead["id"], "success")
        client.delete_lead(lead["id"])
        return result

    out = play(settings, add_then_delete)
    assert out.error is None and out.value.status == 200
    assert https_sandbox.state.leads(cid) == []
    assert https_sandbox.stats.connections == 1  # one TLS connection, kept alive


def test_a_tls_handshake_that_never_completes_sent_nothing() -> None:
    """The server accepts the connection but never answers the TLS hello: nothing was sent,
    so the add is retried (ConnectError) and ends unreachable. (urllib3 itself raises a
    *read* timeout for a handshake timeout; leadsync.api.transport makes it a connect timeout.)"""
    with ScriptServer("silent") as srv:
        url = srv.url.replace("http://", "https://")
        out = play(api_key_settings(url, retry_attempts=2, timeout_s=SHORT_TIMEOUT_S), add_one)
    assert out.error is not None and out.error[0] == "UnreachableError"
    assert out.error[3] == 2 and f"within {SHORT_TIMEOUT_S:g} s" in out.error[1]
    assert "TLS handshake timed out" in out.error[1]
    assert srv.requests == []


def test_no_answer_after_the_tls_handshake_leaves_the_add_uncertain(
    https_sandbox: Sandbox, tls: TlsFiles
) -> None:
    """The counterpart of the handshake timeout: connected over TLS and the request sent,
    the answer does not come in time — the add may have been applied: uncertain, sent once."""
    cid = https_sandbox.state.add_campaign("Slow over TLS")
    settings = settings_for(
        https_sandbox,
        api_key=https_sandbox.config.api_key,
        ca_bundle=tls.ca_cert,
        timeout_s=SHORT_TIMEOUT_S,
    )
    https_sandbox.configure(latency_ms=SHORT_TIMEOUT_S * 1000 + 500)
    try:
        out = play(settings, lambda c: c.add_lead(cid, {"number": "+12135550101"}))
    finally:
        https_sandbox.configure(latency_ms=0.0)
    assert out.error is not None and out.error[0] == "UncertainAddError", out.error
    assert out.error[3] == 1 and https_sandbox.stats.requests == 1


# --- the sandbox, and secrets -------------------------------------------------------------------
def test_no_secret_in_errors_or_logs_of_the_writes(
    make_sandbox: MakeSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sb = make_sandbox(password=PASSWORD)
    cid = sb.state.add_campaign("Secrets")
    errors: list[str] = []
    sleep = RecordingSleep()
    with CampaignsClient(settings_for(sb), sleep=sleep, clock=sleep.clock) as client:
        client.add_lead(cid, {"number": "+12135550100"})  # logs in
        (lead,) = sb.state.leads(cid)
        client.set_status(lead["id"], "success")
        sb.expire_tokens()
        client.add_lead(cid, {"number": "+12135550101"})  # 401 → re-login → add
        for call in (
            lambda: client.set_status(LEAD_ID, "new"),
            lambda: client.delete_lead(LEAD_ID),
        ):
            with pytest.raises(ApiError) as info:
                call()
            errors.extend([str(info.value), repr(info.value)])
        secrets = sorted(client._redact.secrets)
        texts = [repr(client), *errors]
        counters = client.counters.as_dict()
    assert counters["relogins"] == 1 and sb.stats.by_route[("POST", "login")] == 2
    assert len(secrets) == 5  # the password, two logins' access and refresh tokens
    records = [r.getMessage() for r in caplog.records] + texts
    assert any("/login" in r for r in records) and any("400" in r for r in errors)
    for text in records:
        for secret in secrets:
            assert secret not in text, text
