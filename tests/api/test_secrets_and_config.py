"""Secrets never reach a log record, an exception or a repr; settings that cannot work fail
at once with a clear ConfigError; TLS options."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests

from leadsync.api import CampaignsClient
from leadsync.api.transport import build_session, tls_verify
from leadsync.config import ApiSettings
from leadsync.errors import ApiError, AuthError, ConfigError
from leadsync.sandbox import Sandbox
from tests.conftest import MakeSandbox
from tests.helpers import settings_for

from .support import RecordingSleep


def test_no_secret_in_logs_exceptions_or_reprs(
    make_sandbox: MakeSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 and leadsync at their chattiest
    sb = make_sandbox(ambiguous_rate=0.0)
    cid = sb.state.add_campaign("Secrets")
    tokens: list[str] = []
    session = requests.Session()
    session.hooks["response"].append(
        lambda r, *a, **k: (
            tokens.extend(r.json()[t] for t in ("access_token", "refresh_token"))
            if r.url.endswith("/login") and r.status_code == 200
            else None
        )
    )
    texts: list[str] = []
    sleep = RecordingSleep()
    client = CampaignsClient(settings_for(sb), session=session, sleep=sleep, clock=sleep.clock)
    texts.append(repr(client))
    client.campaigns()
    sb.expire_tokens()
    client.add_lead(cid, {"number": "+12135550100"})  # 401 → re-login → add
    for call in (
        lambda: client.set_status("f" * 32, "new"),  # 400
        lambda: client.add_lead(cid, {"number": ""}),  # 400
    ):
        with pytest.raises(ApiError) as info:
            call()
        texts += [str(info.value), repr(info.value), info.value.server_message]
    sb.configure(fail_rate=1.0)
    with pytest.raises(ApiError) as info:
        client.queues()
    texts.append(str(info.value))
    client.close()
    sb.configure(fail_rate=0.0)
    bad = CampaignsClient(settings_for(sb, password="another-secret-pw"), sleep=sleep)
    with pytest.raises(AuthError) as refused:
        bad.campaigns()
    texts.append(str(refused.value))
    wrong_key = CampaignsClient(settings_for(sb, username=None, api_key="key-secret-9d2e"))
    with pytest.raises(AuthError, match="API key was refused") as refused:
        wrong_key.campaigns()
    texts += [str(refused.value), repr(wrong_key)]
    right_key = CampaignsClient(settings_for(sb, username=None, api_key=sb.config.api_key))
    right_key.campaigns()
    texts.append(repr(right_key))
    assert len(tokens) == 4  # two logins' access + refresh tokens
    secrets = [
        sb.config.password,
        "another-secret-pw",
        "key-secret-9d2e",
        sb.config.api_key,
        *tokens,
    ]
    records = [r.getMessage() for r in caplog.records] + texts
    assert any("/login" in r for r in records)  # the logs did cover the login
    for text in records:
        for secret in secrets:
            assert secret not in text, text


def test_settings_repr_and_credentials_repr_hide_secrets(sandbox: Sandbox) -> None:
    settings = settings_for(sandbox, api_key="key-secret-9d2e")
    client = CampaignsClient(settings)
    assert "key-secret" not in repr(client) and "demo-password" not in repr(client)
    assert "demo-password" not in repr(client._auth._creds)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"base_url": None}, "base_url is not set"),
        ({"base_url": "portal.example.com:9443"}, "not an http"),
        ({"username": None}, "username not set"),
        ({"password": None, "domain": None}, "password, domain not set"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle"),
    ],
)
def test_unusable_settings_fail_at_once(values: dict[str, object], match: str) -> None:
    base: dict[str, object] = {
        "base_url": "https://portal.example.com:9443",
        "username": "u1",
        "password": "pw-123456",
        "domain": "t1",
        "account_id": "acct",
    }
    settings = ApiSettings(**(base | values))
    with pytest.raises(ConfigError, match=match):
        CampaignsClient(settings)


def test_tls_off_is_logged_each_time(caplog: pytest.LogCaptureFixture) -> None:
    settings = ApiSettings(
        base_url="https://portal.example.com:9443",
        username="u1",
        password="pw-123456",
        domain="t1",
        verify_tls=False,
    )
    with caplog.at_level(logging.WARNING):
        CampaignsClient(settings).close()
        CampaignsClient(settings).close()
    warnings = [r for r in caplog.records if "verification is OFF" in r.getMessage()]
    assert len(warnings) == 2 and all(r.levelno == logging.WARNING for r in warnings)


def test_ca_bundle_is_passed_as_verify(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    settings = ApiSettings(base_url="https://p:9443", ca_bundle=bundle)
    assert tls_verify(settings) == str(bundle)
    assert tls_verify(ApiSettings(base_url="https://p:9443")) is True


def test_pool_is_sized_for_the_workers() -> None:
    session = build_session(ApiSettings(base_url="https://p:9443", concurrency=32))
    adapter = session.get_adapter("https://p:9443/")
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == 32  # type: ignore[attr-defined]
    assert session.headers["User-Agent"].startswith("leadsync/")


def test_session_resolves_proxies_once_and_skips_per_call_env_lookups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from leadsync.api.transport import build_session
    from leadsync.config import ApiSettings

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "")
    session = build_session(ApiSettings(base_url="https://portal.example:9443"))
    assert session.trust_env is False
    assert session.proxies.get("https") == "http://proxy.invalid:3128"
    monkeypatch.setenv("NO_PROXY", "portal.example")
    assert "https" not in build_session(ApiSettings(base_url="https://portal.example:9443")).proxies
