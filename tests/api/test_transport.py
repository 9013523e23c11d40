"""The transport against real sockets: every failure maps to its error type and message, the
requests on the wire are exactly these, answers read as sent (charset, headers
case-insensitive), proxies and TLS as requests would do them, and no secret reaches a log
line or a recorded cassette."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import urllib3
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from leadsync import __version__
from leadsync.api import CampaignsClient
from leadsync.api.transport import MIN_POOL_SIZE, Redactor, Transport, build_pool, tls_verify
from leadsync.config import ApiSettings
from leadsync.errors import (
    ApiError,
    ConfigError,
    ConnectError,
    ServerError,
    ThrottledError,
    TimeoutError_,
    UncertainAddError,
    UnreachableError,
)
from leadsync.sandbox import Sandbox
from tests.helpers import MakeSandbox, settings_for
from tests.reliability.support import TlsFiles

from .rawserver import RawServer, answer, free_port
from .support import (
    FILTERED,
    SHORT_TIMEOUT_S,
    RecordingSleep,
    api_key_settings,
    clear_proxy_env,
    make_vcr,
)

ADD_PATH = "/api/v2/config/campaigns/c0ffee/lead"
ADD_BODY = {"number": "+12135550100", "first_name": "Zoë", "priority": 3}
AUTH = {"Authorization": "Bearer tok-0123456789", "X-Account-ID": "acct-demo"}
#: A read timeout short enough for a test, long enough for loopback.
PORTAL = "http://portal.invalid:9443"


# --- helpers ----------------------------------------------------------------------------------
def transport_for(base_url: str, **api: Any) -> Transport:
    """The transport a client builds for these settings."""
    settings = ApiSettings(base_url=base_url, **api)
    return Transport(
        base_url,
        timeout_s=settings.timeout_s,
        redact=Redactor(),
        verify=tls_verify(settings),
        pool_size=settings.concurrency,
    )


def failure(base_url: str, method: str = "PUT", path: str = ADD_PATH, **api: Any) -> ApiError:
    """The error one request to ``base_url`` raises."""
    body = ADD_BODY if method in ("PUT", "POST") else None
    with pytest.raises(ApiError) as info:
        transport_for(base_url, **api).send(method, path, headers=AUTH, json=body)
    return info.value


# --- failures: the type says whether the request may have been applied -------------------------
def test_connection_refused_is_connect_error() -> None:
    err = failure(f"http://127.0.0.1:{free_port()}")
    assert isinstance(err, ConnectError)
    assert "could not connect to http://127.0.0.1:" in str(err)
    assert "Connection refused" in str(err)


def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    with RawServer("silent") as srv:
        err = failure(srv.url, timeout_s=SHORT_TIMEOUT_S)
        assert len(srv.requests) == 1  # the request did arrive
    assert type(err) is TimeoutError_
    assert f"no answer within {SHORT_TIMEOUT_S:g} s" in str(err)
    assert "may have been applied" in str(err)


@pytest.mark.parametrize("behaviour", ["reset", "close"])
def test_connection_lost_after_the_request_was_sent(behaviour: Any) -> None:
    with RawServer(behaviour) as srv:
        err = failure(srv.url)
        assert [r.line for r in srv.requests] == [f"PUT {ADD_PATH} HTTP/1.1"]
    assert type(err) is TimeoutError_
    assert "connection lost after the request was sent" in str(err)
    expected = "Connection reset by peer" if behaviour == "reset" else "without response"
    assert expected in str(err)


def test_proxy_refusing_the_connection_is_connect_error(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxy_env(monkeypatch, http_proxy=f"http://127.0.0.1:{free_port()}")
    err = failure(PORTAL)
    assert type(err) is ConnectError
    assert "proxy refused the connection" in str(err)


def test_unknown_host_is_connect_error() -> None:
    err = failure("http://leadsync-no-such-host.invalid:9443", method="GET")
    assert type(err) is ConnectError
    assert "could not connect to http://leadsync-no-such-host.invalid:9443" in str(err)


def test_add_reset_after_sending_is_uncertain_and_sent_once() -> None:
    with RawServer("reset") as srv:
        sleep = RecordingSleep()
        settings = api_key_settings(srv.url, retry_attempts=5)
        with (
            CampaignsClient(settings, sleep=sleep, clock=sleep.clock) as client,
            pytest.raises(UncertainAddError, match="connection lost") as info,
        ):
            client.add_lead("c0ffee", {"number": "+12135550100"})
        assert len(srv.requests) == 1  # never repeated: it may have been applied
    assert sleep.waits == [] and info.value.attempts == 1  # type: ignore[attr-defined]


def test_add_without_an_answer_is_uncertain_and_sent_once() -> None:
    with RawServer("silent") as srv:
        settings = api_key_settings(srv.url, retry_attempts=5, timeout_s=SHORT_TIMEOUT_S)
        with (
            CampaignsClient(settings, sleep=RecordingSleep()) as client,
            pytest.raises(UncertainAddError, match="no answer within"),
        ):
            client.add_lead("c0ffee", {"number": "+12135550100"})
        assert len(srv.requests) == 1


def test_an_idempotent_call_is_retried_after_a_lost_connection() -> None:
    with RawServer("close") as srv:
        sleep = RecordingSleep()
        settings = api_key_settings(srv.url, retry_attempts=3)
        with (
            CampaignsClient(settings, sleep=sleep, clock=sleep.clock) as client,
            pytest.raises(TimeoutError_),
        ):
            client.set_status("f" * 32, "new")
        assert len(srv.requests) == 3
    assert len(sleep.waits) == 2


# --- TLS ---------------------------------------------------------------------------------------
def test_an_untrusted_certificate_is_unreachable_with_advice(https_sandbox: Sandbox) -> None:
    err = failure(https_sandbox.base_url, method="GET")
    assert type(err) is UnreachableError
    assert "certificate verify failed" in str(err).lower()
    assert "not trusted" in str(err) and "api.ca_bundle" in str(err)
    assert https_sandbox.stats.requests == 0
    # The client does not retry it: the answer comes at once.
    sleep = RecordingSleep()
    with (
        CampaignsClient(settings_for(https_sandbox), sleep=sleep) as client,
        pytest.raises(UnreachableError, match=r"api\.ca_bundle"),
    ):
        client.campaigns()
    assert sleep.waits == [] and https_sandbox.stats.requests == 0


def test_a_certificate_for_another_host_is_refused(https_sandbox: Sandbox, tls: TlsFiles) -> None:
    url = https_sandbox.base_url.replace("127.0.0.1", "localhost")
    err = failure(url, method="GET", ca_bundle=tls.ca_cert)
    assert type(err) is UnreachableError
    assert "does not name the host" in str(err)


def test_the_ca_bundle_or_verify_off_lets_the_call_through(
    https_sandbox: Sandbox, tls: TlsFiles
) -> None:
    cid = https_sandbox.state.add_campaign("Over TLS")
    for api in ({"ca_bundle": tls.ca_cert}, {"verify_tls": False}):
        # Warnings are errors here: verify_tls=false must not print one per request.
        with CampaignsClient(settings_for(https_sandbox, **api)) as client:
            assert [c.id for c in client.campaigns()] == [cid]


# --- what goes on the wire ---------------------------------------------------------------------
REQUESTS_SENT: list[tuple[str, str, dict[str, Any] | None, Any]] = [
    (
        "GET",
        "/api/v2/config/campaigns/c0ffee/leads",
        {"page_size": 10, "next_start_key": "a b/ü+"},
        None,
    ),
    ("GET", "/api/v2/reports/campaigns/leads/history", {"startDate": 1, "skip": None}, None),
    ("PUT", ADD_PATH, None, ADD_BODY),
    ("POST", "/api/v2/config/campaigns/leads/f00/status/new", None, None),
    ("DELETE", "/api/v2/config/campaigns/leads/f00", None, None),
    ("GET", "/callcenter/queues/status", {"unused": None}, None),
]


def test_these_requests_go_on_the_wire() -> None:
    ok = answer(body=b"{}", headers={"Content-Type": "application/json"})
    with RawServer(ok) as srv:
        transport = transport_for(srv.url)
        for method, path, params, body in REQUESTS_SENT:
            transport.send(method, path, headers=AUTH, params=params, json=body)
        seen = [(r.line, r.headers, r.body) for r in srv.requests]
    lines = [line for line, _, _ in seen]
    assert lines == [
        "GET /api/v2/config/campaigns/c0ffee/leads?page_size=10&next_start_key=a+b%2F%C3%BC%2B "
        "HTTP/1.1",
        "GET /api/v2/reports/campaigns/leads/history?startDate=1 HTTP/1.1",
        f"PUT {ADD_PATH} HTTP/1.1",
        "POST /api/v2/config/campaigns/leads/f00/status/new HTTP/1.1",
        "DELETE /api/v2/config/campaigns/leads/f00 HTTP/1.1",
        "GET /callcenter/queues/status HTTP/1.1",  # no empty query
    ]
    _, put_headers, put_body = seen[2]
    assert put_headers["user-agent"] == f"leadsync/{__version__}"
    assert put_headers["accept"] == "application/json"
    assert put_headers["content-type"] == "application/json"
    assert "gzip" in put_headers["accept-encoding"]
    assert json.loads(put_body) == ADD_BODY
    assert put_headers["authorization"] == AUTH["Authorization"]
    for _, headers, body in seen[3:5]:  # POST and DELETE without a body
        assert headers["content-length"] == "0" and body == b""
    for _, headers, _ in (seen[0], seen[5]):  # a GET carries no length
        assert "content-length" not in headers and "content-type" not in headers


def test_a_configured_user_agent_is_sent() -> None:
    with RawServer(answer(body=b"[]")) as srv:
        settings = api_key_settings(srv.url, user_agent="acme-sync/2")
        with CampaignsClient(settings) as client:
            assert client.queues() == []
        (request,) = srv.requests
    assert request.headers["user-agent"] == "acme-sync/2"
    assert request.headers["x-api-key"] == "key-never-logged-5b1d"
    assert request.headers["x-account-id"] == "acct-raw"


# --- what is read from the answer --------------------------------------------------------------
ANSWERS = {
    "json utf-8": answer(
        body='{"name": "Zoë"}'.encode(),
        headers={"content-type": "application/json", "x-request-id": "r-1"},
    ),
    "latin-1 text": answer(
        body="déjà".encode("latin-1"), headers={"Content-Type": "text/plain; charset=iso-8859-1"}
    ),
    "html error page": answer(
        502, "Bad Gateway", b"<html><h1>Bad gateway</h1></html>", {"Content-Type": "text/html"}
    ),
    "no body": answer(204, "No Content"),
}


def test_the_answer_reads_as_sent() -> None:
    with RawServer(ANSWERS["json utf-8"]) as srv:
        r = transport_for(srv.url).send("GET", "/x", headers=AUTH)
    assert (r.status, r.reason, r.content) == (200, "OK", '{"name": "Zoë"}'.encode())
    assert r.text == '{"name": "Zoë"}' and r.json() == {"name": "Zoë"}
    with RawServer(ANSWERS["latin-1 text"]) as srv:
        assert transport_for(srv.url).send("GET", "/x").text == "déjà"
    with RawServer(ANSWERS["no body"]) as srv:
        r = transport_for(srv.url).send("GET", "/x")
    assert (r.status, r.reason, r.content, r.text) == (204, "No Content", b"", "")
    with RawServer(ANSWERS["html error page"]) as srv:
        err = failure(srv.url, "GET", "/x")
    assert type(err) is ServerError and err.status == 502
    assert str(err) == "GET /x → 502: server error: <html><h1>Bad gateway</h1></html>"


def test_answer_headers_are_case_insensitive() -> None:
    with RawServer(ANSWERS["json utf-8"]) as srv:
        response = transport_for(srv.url).send("GET", "/x")
    assert response.headers["X-Request-ID"] == response.headers["x-request-id"] == "r-1"
    assert response.headers.get("CONTENT-TYPE") == "application/json"
    assert response.json() == {"name": "Zoë"} and response.reason == "OK"


def test_a_lower_case_retry_after_is_honoured() -> None:
    throttled = answer(429, "Too Many Requests", b"slow down", {"retry-after": "7"})
    with RawServer(throttled) as srv:
        with pytest.raises(ThrottledError) as info:
            transport_for(srv.url).send("GET", "/x")
        assert info.value.retry_after == 7.0
        assert info.value.server_message == "slow down"


# --- pool and proxies ----------------------------------------------------------------------------
def test_the_pool_is_sized_for_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxy_env(monkeypatch)
    pool = build_pool("https://portal.example:9443", pool_size=32)
    assert type(pool) is urllib3.PoolManager
    assert pool.connection_pool_kw["maxsize"] == 32
    assert pool.connection_pool_kw["block"] is False  # never waits for a free connection
    assert pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    assert pool.connection_pool_kw["ca_certs"] == DEFAULT_CA_BUNDLE_PATH
    assert build_pool("https://p:9443", pool_size=2).connection_pool_kw["maxsize"] == MIN_POOL_SIZE
    assert build_pool("https://p:9443", verify=False).connection_pool_kw["cert_reqs"] == "CERT_NONE"


def test_proxies_are_read_once_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxy_env(monkeypatch, https_proxy="http://proxy.invalid:3128", no_proxy="")
    pool = build_pool("https://portal.example:9443")
    assert isinstance(pool, urllib3.ProxyManager)
    assert pool.proxy is not None and pool.proxy.host == "proxy.invalid"
    clear_proxy_env(monkeypatch, https_proxy="http://proxy.invalid:3128", no_proxy="portal.example")
    assert type(build_pool("https://portal.example:9443")) is urllib3.PoolManager


def test_a_request_through_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with RawServer(answer(body=b"[]")) as proxy:
        user_url = proxy.url.replace("http://", "http://pxuser:px-secret-77@")
        clear_proxy_env(monkeypatch, http_proxy=user_url)
        transport = transport_for(PORTAL)
        transport.send("GET", "/callcenter/queues/status", headers=AUTH)
        line, headers = proxy.requests[-1].line, proxy.requests[-1].headers
        assert transport.redact("px-secret-77") == "***"
        assert transport.redact(headers["proxy-authorization"]) == "Basic ***"
    assert line == f"GET {PORTAL}/callcenter/queues/status HTTP/1.1"  # absolute form
    expected = base64.b64encode(b"pxuser:px-secret-77").decode()
    assert headers["proxy-authorization"] == f"Basic {expected}"


def test_a_proxy_url_without_a_host_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxy_env(monkeypatch, https_proxy="http://:3128")
    with pytest.raises(ConfigError, match="proxy"):
        build_pool("https://portal.example:9443")


def test_close_closes_the_pool(sandbox: Sandbox) -> None:
    client = CampaignsClient(settings_for(sandbox))
    client.campaigns()
    pool = client._transport.pool
    assert pool is not None and len(pool.pools) == 1
    before = pool.connection_from_url(sandbox.base_url)  # the one pool in use
    assert before.num_connections == 1
    client.close()
    assert before.pool is None  # closed, with its connections
    assert [c.name for c in client.campaigns()] == []  # and a later call reconnects
    client.close()


# --- secrets -------------------------------------------------------------------------------------
def test_no_secret_in_logs_or_errors_on_the_default_path(
    make_sandbox: MakeSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 and leadsync at their chattiest
    sb = make_sandbox()
    cid = sb.state.add_campaign("Secrets")
    sleep = RecordingSleep()
    client = CampaignsClient(settings_for(sb), sleep=sleep, clock=sleep.clock)
    texts = [repr(client)]
    client.campaigns()
    sb.expire_tokens()
    client.add_lead(cid, {"number": "+12135550100"})  # 401 → re-login → add
    with pytest.raises(ApiError) as info:
        client.set_status("f" * 32, "new")  # 400
    texts += [str(info.value), repr(info.value)]
    secrets = sorted(client._redact.secrets)
    client.close()
    assert len(secrets) == 5  # the password and two logins' access and refresh tokens
    records = [r.getMessage() for r in caplog.records] + texts
    assert any("/login" in r for r in records)  # the logs did cover the login
    for text in records:
        for secret in secrets:
            assert secret not in text, text


def test_recording_through_the_default_path_filters_secrets(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cid = sandbox.state.add_campaign("Recorded")
    recorder = make_vcr(record_mode="all", library=tmp_path)
    with recorder.use_cassette("live.yaml"), CampaignsClient(settings_for(sandbox)) as c:
        c.campaigns()
        c.add_lead(cid, {"number": "+12135550100"})
        secrets = sorted(c._redact.secrets)
    text = (tmp_path / "live.yaml").read_text(encoding="utf-8")
    assert len(secrets) == 3  # password, access token, refresh token
    for secret in secrets:
        assert secret not in text
    assert f"Bearer {FILTERED}" in text and f"leadsync/{__version__}" in text
    with make_vcr(library=tmp_path).use_cassette("live.yaml") as cas:
        with CampaignsClient(settings_for(sandbox)) as c:
            assert [x.name for x in c.campaigns()] == ["Recorded"]
            assert c.add_lead(cid, {"number": "+12135550100"}).status == 200
        assert cas.all_played
