"""Secrets never reach a log record, an exception or a repr; settings that cannot work fail
at once with a clear ConfigError; TLS options."""

from __future__ import annotations

import base64
import json
import logging
import socket
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from leadsync.api import CampaignsClient
from leadsync.api.transport import tls_verify
from leadsync.config import ApiSettings, load_settings
from leadsync.errors import ApiError, AuthError, ConfigError
from leadsync.logs import SecretMask
from leadsync.sandbox import Sandbox
from tests.conftest import MakeSandbox
from tests.helpers import settings_for

from .rawserver import ScriptServer, answer
from .support import Exchange, RecordingSleep, watch_answers


def test_no_secret_in_logs_exceptions_or_reprs(
    make_sandbox: MakeSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 and leadsync at their chattiest
    sb = make_sandbox(ambiguous_rate=0.0)
    cid = sb.state.add_campaign("Secrets")
    tokens: list[str] = []

    def grab_tokens(x: Exchange) -> None:
        if x.path.endswith("/login") and x.answer is not None and x.answer.status == 200:
            tokens.extend(x.answer.json()[t] for t in ("access_token", "refresh_token"))

    texts: list[str] = []
    sleep = RecordingSleep()
    client = CampaignsClient(settings_for(sb), sleep=sleep, clock=sleep.clock)
    watch_answers(client, grab_tokens)
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


@pytest.mark.parametrize(
    ("api", "match"),
    [
        ({"base_url": "portal.example.com:9443"}, r"\[api\] base_url: .*not an http"),
        ({"base_url": "http://127.0.0.1:99999"}, r"\[api\] base_url: .*Port out of range"),
        ({"base_url": "http://127.0.0.1:port"}, r"\[api\] base_url: is not a valid URL"),
        ({"base_url": "https://portal.example.com:9443/?x=1"}, "query or fragment"),
        ({"user_agent": "x\r\nX-Evil: 1"}, r"\[api\] user_agent: .*control characters"),
        ({"account_id": "acct\n1"}, r"\[api\] account_id: .*control characters"),
        ({"api_key": "key\r\n"}, r"\[api\] api_key: .*control characters"),
    ],
)
def test_settings_that_cannot_make_a_request_are_config_errors(
    api: dict[str, str], match: str
) -> None:
    """Caught when the settings are read (exit 2, one line), not as a traceback or a
    'request failed' once the run is under way."""
    with pytest.raises(ConfigError, match=match) as info:
        load_settings(overrides={"api": api})
    assert "\n" not in str(info.value) and info.value.exit_code == 2


def test_credentials_in_the_base_url_are_refused_without_being_shown() -> None:
    """``http://user:pass@host`` would copy the password into summary.json, plan.json, the
    log and the report, wherever the URL is shown: refused, with what to do instead."""
    url = "http://someone:Pw-in-url-77@127.0.0.1:9443"
    with pytest.raises(ConfigError) as info:
        load_settings(overrides={"api": {"base_url": url}})
    message = str(info.value)
    assert "Pw-in-url-77" not in message and "someone" not in message
    assert "[api] base_url" in message and "username" in message and "api_key" in message
    with pytest.raises(ConfigError, match="user name or password"):
        load_settings(environ={"LEADSYNC_BASE_URL": "https://u@portal.example.com"})


# --- a secret in every form it can take -------------------------------------------------------
ODD_PASSWORDS = ['pa"ss\\word-Zoë-1', "Ünïcødé-pässwörd", "plain-but-long-pw"]


@pytest.mark.parametrize("password", ODD_PASSWORDS)
@pytest.mark.parametrize("ascii_only", [True, False], ids=["escaped", "utf-8"])
def test_a_login_error_echoing_the_body_shows_no_form_of_the_password(
    password: str, ascii_only: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's 400 quotes the login body back, the password JSON-escaped (``\\"``,
    ``\\\\``, ``\\u00fc``) or not: the error (what stdout, summary.json and report.html show)
    and the log carry none of it, not even a part cut off by the message's length limit."""
    caplog.set_level(logging.DEBUG)
    with ScriptServer(b"") as srv:

        def echo(conn: socket.socket) -> bool:
            sent = json.loads(srv.requests[-1].body)
            quoted = json.dumps(sent, ensure_ascii=ascii_only)  # the body as JSON text
            said = {"message": f"invalid login: {quoted}"}
            conn.sendall(answer(400, "Bad Request", json.dumps(said).encode()))
            return True

        srv.respond = echo  # type: ignore[method-assign]
        settings = ApiSettings(base_url=srv.url, username="u", password=password, domain="d")
        with CampaignsClient(settings) as client, pytest.raises(AuthError) as info:
            client.campaigns()
    forms = {password, json.dumps(password)[1:-1], json.dumps(password, ensure_ascii=False)[1:-1]}
    shown = [str(info.value), repr(info.value), info.value.server_message or ""]
    shown += [r.getMessage() for r in caplog.records]
    assert "invalid login" in str(info.value)
    for text in shown:
        for form in forms:
            assert form not in text, text
            assert form[:10] not in text, text  # nor a part of it


def test_every_form_of_a_secret_is_masked() -> None:
    secret = 'pä"ss\\word-12'
    mask = SecretMask()
    mask.add(secret)
    for shown in (
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"user:{secret}".encode()).decode()[8:],  # inside Basic user:pass
        base64.b64encode(f"us:{secret}".encode()).decode()[4:],
        base64.b64encode(f"u:{secret}".encode()).decode()[4:],
        secret[:8],  # a part of 8 characters or more
        secret[3:12],
    ):
        masked = mask(f"<{shown}>")
        assert masked.startswith("<***") or masked == "<***>", (shown, masked)
        assert shown not in masked
    assert mask('pä"ss') == 'pä"ss'  # under 8 characters of it: nothing to mask
