"""Plain helpers shared by the tests (importable: ``from tests.helpers import settings_for``)."""

from __future__ import annotations

from typing import Any

from leadsync.config import ApiSettings
from leadsync.sandbox import Sandbox


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
