"""Helpers of the API client tests: the strict vcrpy set-up (secrets filtered on record),
settings for the document's example portal, and a sleep that records instead of waiting."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import vcr
from vcr.request import Request as VcrRequest

from leadsync.api import AddResult, CampaignsClient
from leadsync.api.transport import Answer
from leadsync.config import ApiSettings
from leadsync.errors import ApiError

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
#: The document's example portal (cassettes only: never contacted).
DOC_BASE_URL = "https://portal.example.com:9443"
DOC_ACCOUNT_ID = "acct-doc"
#: A password that must never reach a cassette, a log record or an exception.
DOC_PASSWORD = "pw-never-in-cassettes-7c41"
FILTERED = "[FILTERED]"
#: Headers that carry secrets: masked before anything is written to a cassette.
SECRET_HEADERS = ("authorization", "x-api-key")
#: Token fields of a login answer, masked when recording.
TOKEN_FIELDS = ("access_token", "refresh_token", "auth_token")


def scrub_request(request: VcrRequest) -> VcrRequest:
    """vcrpy hook: mask the password of a login body before it is written."""
    if urlsplit(request.uri).path.endswith("/login") and request.body:
        try:
            body = json.loads(request.body)
        except ValueError:
            request.body = FILTERED
        else:
            if isinstance(body, dict) and "password" in body:
                body["password"] = FILTERED
            request.body = json.dumps(body)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy hook: mask the tokens of a login answer before it is written."""
    raw = response["body"]["string"]
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        body = json.loads(text)
    except ValueError:
        return response
    if isinstance(body, dict) and any(f in body for f in TOKEN_FIELDS):
        for f in TOKEN_FIELDS:
            if f in body:
                body[f] = FILTERED
        new = json.dumps(body)
        response["body"]["string"] = new.encode() if isinstance(raw, bytes) else new
        response["headers"].pop("Content-Length", None)
    return response


def _mask_authorization(key: str, value: str, request: VcrRequest) -> str:
    """Keep the scheme, mask the credential: ``Bearer [FILTERED]``."""
    scheme = value.split(" ", 1)[0] if " " in value else ""
    return f"{scheme} {FILTERED}".strip()


def _match_account_header(r1: VcrRequest, r2: VcrRequest) -> None:
    """The client sends X-Account-ID on every call but login, with the cassette's value."""
    is_login = urlsplit(r1.uri).path.endswith("/login")
    sent = r1.headers.get("X-Account-ID")
    if is_login:
        assert sent is None, "login must not send X-Account-ID"
    else:
        assert sent == r2.headers.get("X-Account-ID"), f"X-Account-ID {sent!r}"


def _match_auth_header(r1: VcrRequest, r2: VcrRequest) -> None:
    """Every call but login carries a bearer token (the cassette itself holds none)."""
    is_login = urlsplit(r1.uri).path.endswith("/login")
    auth = r1.headers.get("Authorization")
    if is_login:
        assert auth is None, "login must not send a token"
    else:
        # vcrpy filters the live request before matching: the token is masked by now.
        assert auth == f"Bearer {FILTERED}", "no bearer token sent"


def make_vcr(record_mode: str = "none", library: Path = CASSETTES) -> vcr.VCR:
    """The project's vcrpy set-up: strict replay by default, secrets filtered on record."""
    my_vcr = vcr.VCR(
        cassette_library_dir=str(library),
        record_mode=record_mode,
        filter_headers=[("authorization", _mask_authorization), ("x-api-key", FILTERED)],
        before_record_request=scrub_request,
        before_record_response=scrub_response,
        decode_compressed_response=True,
    )
    my_vcr.register_matcher("account_header", _match_account_header)
    my_vcr.register_matcher("auth_header", _match_auth_header)
    my_vcr.match_on = (
        "method",
        "scheme",
        "host",
        "port",
        "path",
        "query",
        "account_header",
        "auth_header",
    )
    return my_vcr


def doc_settings(**overrides: Any) -> ApiSettings:
    """Settings for the document's example portal, as the cassettes expect them."""
    values: dict[str, Any] = {
        "base_url": DOC_BASE_URL,
        "username": "yourUserName",
        "password": DOC_PASSWORD,
        "domain": "yourTenant",
        "account_id": DOC_ACCOUNT_ID,
        "retry_attempts": 1,
    }
    values.update(overrides)
    return ApiSettings(**values)


class RecordingSleep:
    """A ``sleep`` that records each wait and advances a fake clock instead of waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.waits: list[float] = []
        self.now = start

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


#: A timeout short enough for tests that wait for one (seconds).
SHORT_TIMEOUT_S = 0.3
#: Every proxy variable requests and urllib3 read (each also in upper case).
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def clear_proxy_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """No proxy variable set but ``values`` (e.g. ``http_proxy=...``), in both cases."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
        monkeypatch.setenv(name.upper(), value)


def api_key_settings(base_url: str, **api: Any) -> ApiSettings:
    """Settings for ``base_url`` that never log in (API key mode)."""
    values: dict[str, Any] = {
        "base_url": base_url,
        "api_key": "key-never-logged-5b1d",
        "account_id": "acct-raw",
    }
    values.update(api)
    return ApiSettings(**values)


# --- one scenario through a client --------------------------------------------------------------
CAMPAIGN = "c0ffee"
ADD_PATH = f"/api/v2/config/campaigns/{CAMPAIGN}/lead"
LEAD = {"number": "+12135550100", "first_name": "Zoë", "priority": 3}
LEAD_ID = "f" * 32
STATUS_PATH = f"/api/v2/config/campaigns/leads/{LEAD_ID}/status/new"
DELETE_PATH = f"/api/v2/config/campaigns/leads/{LEAD_ID}"
#: Backoff jitter seed, so that waits repeat.
JITTER_SEED = 7


@dataclass(frozen=True)
class Outcome:
    """What a caller sees of one scenario: its value or its error (type name, message,
    status, attempts), the backoff waits, the client's counters."""

    value: Any
    error: tuple[str, str, int | None, int | None] | None
    waits: tuple[float, ...]
    counters: dict[str, int]


def play(settings: ApiSettings, scenario: Callable[[CampaignsClient], Any]) -> Outcome:
    """``scenario(client)`` with a recording sleep and a seeded jitter."""
    sleep = RecordingSleep()
    rng = random.Random(JITTER_SEED)
    with CampaignsClient(settings, sleep=sleep, clock=sleep.clock, rng=rng) as client:
        value: Any = None
        error = None
        try:
            value = scenario(client)
        except ApiError as err:
            error = (type(err).__name__, str(err), err.status, getattr(err, "attempts", None))
        counters = client.counters.as_dict()
    return Outcome(value, error, tuple(sleep.waits), counters)


def add_one(client: CampaignsClient) -> AddResult:
    return client.add_lead(CAMPAIGN, LEAD)


def set_one(client: CampaignsClient) -> None:
    client.set_status(LEAD_ID, "new")


def delete_one(client: CampaignsClient) -> None:
    client.delete_lead(LEAD_ID)


@dataclass(frozen=True)
class Exchange:
    """One request the client's transport sent and the answer it returned."""

    method: str
    path: str
    headers: dict[str, str]  # every header sent (the defaults and the call's own)
    answer: Answer | None  # 2xx and 401: the answer; else None and the error raised
    error: ApiError | None = None

    @property
    def status(self) -> int | None:
        return self.answer.status if self.answer is not None else self.error.status


def watch_answers(client: CampaignsClient, hook: Callable[[Exchange], None]) -> None:
    """Call ``hook`` on every exchange of the client's transport (the answer, or the error it
    raised), in the calling thread, before the client sees it: a test's window onto the wire."""
    transport = client._transport
    send = transport.send

    def watched(method: str, path: str, **kwargs: Any) -> Answer:
        headers = {**transport.headers, **(kwargs.get("headers") or {})}
        try:
            answer = send(method, path, **kwargs)
        except ApiError as err:
            hook(Exchange(method, path, headers, None, err))
            raise
        hook(Exchange(method, path, headers, answer))
        return answer

    transport.send = watched  # type: ignore[method-assign]
