"""The async write path over TLS and where it is not used. Against an HTTPS sandbox both paths
refuse an untrusted certificate or one for another host with the same advice, and let the
writes through with a private CA or verification off; a TLS handshake that never completes
sent nothing, and no answer after the handshake leaves an add uncertain. ``async_writer()`` is None
with ``io="threads"``, with a caller's requests Session and through a proxy. No secret (the
password, access or refresh tokens) reaches an error or a log line of the async path.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import requests

from leadsync.api import CampaignsClient
from leadsync.api.client import AddResult
from leadsync.errors import ApiError
from leadsync.sandbox import Sandbox
from tests.helpers import MakeSandbox, settings_for
from tests.reliability.support import TlsFiles

from .parity import (
    LEAD_ID,
    PASSWORD,
    PATHS,
    ScriptServer,
    Writes,
    add_one,
    both_at,
    play,
    run_writes,
)
from .support import SHORT_TIMEOUT_S, RecordingSleep, api_key_settings, clear_proxy_env


# --- TLS ----------------------------------------------------------------------------------------
def test_an_untrusted_certificate_is_unreachable_with_advice(https_sandbox: Sandbox) -> None:
    settings = settings_for(https_sandbox, api_key=https_sandbox.config.api_key)
    outcomes = {path: play(path, settings, add_one, port=https_sandbox.port) for path in PATHS}
    assert outcomes["async"] == outcomes["threads"]
    out = outcomes["async"]
    assert out.error is not None and out.error[0] == "UnreachableError"
    assert "certificate verify failed" in out.error[1].lower()
    assert "not trusted" in out.error[1] and "api.ca_bundle" in out.error[1]
    assert out.waits == () and https_sandbox.stats.requests == 0


def test_a_certificate_for_another_host_is_refused(https_sandbox: Sandbox, tls: TlsFiles) -> None:
    url = https_sandbox.base_url.replace("127.0.0.1", "localhost")
    out = both_at(url, ca_bundle=tls.ca_cert)
    assert out.error is not None and out.error[0] == "UnreachableError"
    assert "does not name the host" in out.error[1]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("api", ["ca_bundle", "verify_tls=false"])
def test_a_private_ca_or_verification_off_lets_the_writes_through(
    https_sandbox: Sandbox,
    tls: TlsFiles,
    path: str,
    api: str,
) -> None:
    cid = https_sandbox.state.add_campaign("Over TLS")
    extra: dict[str, Any] = (
        {"ca_bundle": tls.ca_cert} if api == "ca_bundle" else {"verify_tls": False}
    )
    settings = settings_for(https_sandbox, api_key=https_sandbox.config.api_key, **extra)

    async def add_then_delete(w: Writes) -> AddResult:
        result = await w.add_lead(cid, {"number": "+12135550100"})
        (lead,) = https_sandbox.state.leads(cid)
        await w.set_status(lead["id"], "success")
        await w.delete_lead(lead["id"])
        return result

    out = play(path, settings, add_then_delete)
    assert out.error is None and out.value.status == 200
    assert https_sandbox.state.leads(cid) == []
    assert https_sandbox.stats.connections == 1  # one TLS connection, kept alive


@pytest.mark.parametrize("path", PATHS)
def test_a_tls_handshake_that_never_completes_sent_nothing(path: str) -> None:
    """The server accepts the connection but never answers the TLS hello: nothing was sent,
    so the add is retried (ConnectError) and ends unreachable. (urllib3 raises a *read*
    timeout for a handshake timeout; the threaded path tells it apart by where it arose.)"""
    with ScriptServer("silent") as srv:
        url = srv.url.replace("http://", "https://")
        settings = api_key_settings(url, retry_attempts=2, timeout_s=SHORT_TIMEOUT_S)
        out = play(path, settings, add_one, srv)
    assert out.error is not None and out.error[0] == "UnreachableError"
    assert out.error[3] == 2 and f"within {SHORT_TIMEOUT_S:g} s" in out.error[1]
    assert out.sent == ()


@pytest.mark.parametrize("path", PATHS)
def test_no_answer_after_the_tls_handshake_leaves_the_add_uncertain(
    https_sandbox: Sandbox, tls: TlsFiles, path: str
) -> None:
    """The counterpart of the handshake timeout: connected over TLS and the request sent,
    the answer does not come in time — the add may have been applied: uncertain, sent once."""
    cid = https_sandbox.state.add_campaign(f"Slow over TLS ({path})")
    settings = settings_for(
        https_sandbox,
        api_key=https_sandbox.config.api_key,
        ca_bundle=tls.ca_cert,
        timeout_s=SHORT_TIMEOUT_S,
    )

    async def add(w: Writes) -> AddResult:
        return await w.add_lead(cid, {"number": "+12135550101"})

    before = https_sandbox.stats.requests
    https_sandbox.configure(latency_ms=SHORT_TIMEOUT_S * 1000 + 500)
    try:
        out = play(path, settings, add, port=https_sandbox.port)
    finally:
        https_sandbox.configure(latency_ms=0.0)
    assert out.error is not None and out.error[0] == "UncertainAddError", out.error
    assert out.error[3] == 1 and https_sandbox.stats.requests - before == 1


# --- when there is no async writer --------------------------------------------------------------
def test_no_async_writer_with_threads_or_a_session(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxy_env(monkeypatch)
    url = "http://portal.invalid:9443"
    with CampaignsClient(api_key_settings(url)) as client:
        writer = client.async_writer()
        assert writer is not None
        asyncio.run(writer.aclose())
    with CampaignsClient(api_key_settings(url, io="threads")) as client:
        assert client.async_writer() is None
    with requests.Session() as session, CampaignsClient(api_key_settings(url), session) as client:
        assert client.async_writer() is None


@pytest.mark.parametrize(
    ("url", "env", "direct"),
    [
        ("http://portal.invalid:9443", {"http_proxy": "http://proxy.invalid:3128"}, False),
        ("https://portal.invalid:9443", {"https_proxy": "http://proxy.invalid:3128"}, False),
        ("https://portal.invalid:9443", {"all_proxy": "http://proxy.invalid:3128"}, False),
        (
            "https://portal.invalid:9443",
            {"https_proxy": "http://proxy.invalid:3128", "no_proxy": "portal.invalid"},
            True,
        ),
        ("https://portal.invalid:9443", {"http_proxy": "http://proxy.invalid:3128"}, True),
    ],
    ids=["http-proxy", "https-proxy", "all-proxy", "no-proxy-exempts", "other-scheme-proxy"],
)
def test_no_async_writer_through_a_proxy(
    monkeypatch: pytest.MonkeyPatch, url: str, env: dict[str, str], direct: bool
) -> None:
    clear_proxy_env(monkeypatch, **env)
    with CampaignsClient(api_key_settings(url)) as client:
        writer = client.async_writer()
        assert (writer is not None) is direct
        if writer is not None:
            asyncio.run(writer.aclose())


# --- secrets ------------------------------------------------------------------------------------
def test_no_secret_in_errors_or_logs_of_the_async_path(
    make_sandbox: MakeSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sb = make_sandbox(password=PASSWORD)
    cid = sb.state.add_campaign("Secrets")
    settings = settings_for(sb)
    errors: list[str] = []

    async def writes(w: Writes) -> None:
        await w.add_lead(cid, {"number": "+12135550100"})  # logs in
        sb.expire_tokens()
        await w.add_lead(cid, {"number": "+12135550101"})  # 401 → re-login → add
        for call in (w.set_status(LEAD_ID, "new"), w.delete_lead(LEAD_ID)):
            with pytest.raises(ApiError) as info:
                await call
            errors.extend([str(info.value), repr(info.value)])

    sleep = RecordingSleep()
    with CampaignsClient(settings, sleep=sleep, clock=sleep.clock) as client:
        run_writes(client, "async", writes)
        secrets = sorted(client._redact._secrets)
        texts = [repr(client), *errors]
    assert len(secrets) == 5  # the password, two logins' access and refresh tokens
    records = [r.getMessage() for r in caplog.records] + texts
    assert any("/login" in r for r in records) and any("400" in r for r in errors)
    for text in records:
        for secret in secrets:
            assert secret not in text, text
