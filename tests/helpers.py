"""Plain helpers shared by the tests (importable: ``from tests.helpers import settings_for``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from leadsync.cli.demo import sandbox_api
from leadsync.config import ApiSettings, Settings, load_settings
from leadsync.logs import clear_secrets
from leadsync.sandbox import Sandbox

#: The files a report folder holds after a run that removed nothing, in the order written.
REPORT_FILES: tuple[str, ...] = (
    "summary.json",
    "rows.csv",
    "rejected.csv",
    "operations.jsonl",
    "report.xlsx",
    "report.html",
)
#: The type of the ``make_sandbox`` fixture: ``make_sandbox(**SandboxConfig knobs) -> Sandbox``.
MakeSandbox = Callable[..., Sandbox]


def number(i: int) -> str:
    """A valid, distinct US number for index ``i`` (exchange 2xx keeps it valid)."""
    return f"+1213{200 + i // 10_000:03d}{i % 10_000:04d}"


def settings_for(sb: Sandbox, **api_overrides: Any) -> ApiSettings:
    """ApiSettings that reach the running sandbox ``sb`` with its login credentials.

    ``api_overrides`` set any other ``[api]`` key (e.g. ``retry_attempts=2``, ``api_key=...``).
    """
    return ApiSettings(**(sandbox_api(sb) | api_overrides))


def api_values(sb: Sandbox, **overrides: Any) -> dict[str, Any]:
    """The ``[api]`` values that reach ``sb`` with its login (short backoff for tests)."""
    return sandbox_api(sb) | {"backoff_max_s": 0.2} | overrides


def sync_settings(sb: Sandbox, *, api: Mapping[str, Any] | None = None, **sync: Any) -> Settings:
    """Settings for a sync against ``sb``: ``api`` overrides ``[api]``, keywords ``[sync]``."""
    return load_settings(environ={}, overrides={"api": api_values(sb, **(api or {})), "sync": sync})


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


@contextlib.contextmanager
def restored_logging() -> Iterator[None]:
    """Put logging back as it was after a block that sets it up (handlers added to the root
    logger are closed, levels restored) and forget the registered secrets."""
    root, pkg = logging.getLogger(), logging.getLogger("leadsync")
    saved = (list(root.handlers), root.level, pkg.level)
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in saved[0]:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(saved[1])
        pkg.setLevel(saved[2])
        clear_secrets()
