"""Plain helpers shared by the tests (importable: ``from tests.helpers import settings_for``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from leadsync.config import ApiSettings
from leadsync.sandbox import Sandbox

#: The type of the ``make_sandbox`` fixture: ``make_sandbox(**SandboxConfig knobs) -> Sandbox``.
MakeSandbox = Callable[..., Sandbox]


def settings_for(sb: Sandbox, **api_overrides: Any) -> ApiSettings:
    """ApiSettings that reach the running sandbox ``sb`` with its login credentials.

    ``api_overrides`` set any other ``[api]`` key (e.g. ``retry_attempts=2``, ``api_key=...``).
    """
    cfg = sb.config
    values: dict[str, Any] = {
        "base_url": sb.base_url,
        "username": cfg.username,
        "password": cfg.password,
        "domain": cfg.domain,
        "account_id": cfg.account_id,
    }
    values.update(api_overrides)
    return ApiSettings(**values)


class ManualClock:
    """A clock the test moves by hand: pass it as ``Sandbox(clock=...)`` or to a client."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sandbox_login(http: requests.Session, sb: Sandbox, **overrides: Any) -> requests.Response:
    """POST /api/v2/login with the sandbox's credentials (``overrides`` replace fields)."""
    body = {"username": sb.config.username, "password": sb.config.password}
    body["domain"] = sb.config.domain
    body.update(overrides)
    return http.post(sb.url("/api/v2/login"), json=body)


def sandbox_headers(http: requests.Session, sb: Sandbox) -> dict[str, str]:
    """Log in to ``sb`` for real; the Authorization and X-Account-ID headers to send."""
    answer = sandbox_login(http, sb)
    assert answer.status_code == 200, answer.text
    return {
        "Authorization": f"Bearer {answer.json()['access_token']}",
        "X-Account-ID": answer.json()["user"]["account_id"],
    }
