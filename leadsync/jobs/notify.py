"""Tell someone a job finished: POST the run's summary to a webhook (a job's ``notify_url``).

The body is ``{"text": "<one line>", "summary": {...}}``: chat webhooks (Slack, Mattermost,
Teams' incoming webhooks, Google Chat) show ``text``; anything else can read ``summary`` (the
``summary.json`` of the run). A notification is a courtesy: when it cannot be delivered
(connection refused, timeout, a non-2xx answer) a warning is logged and the run goes on.

Webhook URLs often embed a secret token in their path, so the URL's path and query are never
logged: only its scheme and host.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from .. import __version__
from .folders import EXIT_MEANINGS, format_totals

log = logging.getLogger(__name__)

#: Seconds to wait for the webhook (connect and read each).
DEFAULT_TIMEOUT_S = 10.0
#: How much of a failed answer's body goes into the warning.
ERROR_BODY_CHARS = 200


def safe_url(url: str) -> str:
    """``https://hooks.example.com/…``: the URL without its path, query or credentials."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}/…"


def _scrub(message: str, url: str) -> str:
    """``message`` with the URL's secret-bearing parts (path, query, userinfo) masked."""
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.query, parts.username, parts.password):
        if secret and len(secret) > 1:
            message = message.replace(secret, "…")
    return message


def format_notification(
    job: str, summary: Mapping[str, Any], report_folder: str | None = None
) -> str:
    """The one-line chat text for a finished run.

    ``leadsync job nightly: exit 1 (finished with failed operations or residual differences)
    — rows_read 1200, added 40, failed 2, residual 0 — report: /reports/20261129T235900Z_nightly``
    A dry run says so. ``summary`` is the run's ``summary.json`` content.
    """
    code = summary.get("exit_code")
    meaning = EXIT_MEANINGS.get(code, "unknown exit code") if isinstance(code, int) else "unknown"
    head = f"leadsync job {job}: exit {code} ({meaning})"
    if summary.get("dry_run"):
        head += " [dry run]"
    parts = [head]
    totals = format_totals(summary.get("totals") or {})
    if totals:
        parts.append(totals)
    if report_folder:
        parts.append(f"report: {report_folder}")
    return " — ".join(parts)


def notify(
    url: str,
    summary: Mapping[str, Any],
    text: str,
    *,
    session: requests.Session | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> bool:
    """POST ``{"text": text, "summary": summary}`` as JSON to ``url``.

    Returns True when the webhook answered 2xx. Never raises for a delivery problem: a
    connection error, a timeout, a redirect or any non-2xx answer is logged as a warning (with
    the URL's host only) and returns False. ``session`` defaults to a new ``requests.Session``
    (which honors the ``HTTPS_PROXY`` / ``NO_PROXY`` environment variables), closed afterwards.
    """
    where = safe_url(url)
    own = session is None
    http = session if session is not None else requests.Session()
    try:
        # default=str: datetimes and paths in a summary become their text, not an error.
        body = json.dumps({"text": text, "summary": dict(summary)}, default=str)
        answer = http.post(
            url,
            data=body.encode("utf-8"),
            timeout=timeout,
            allow_redirects=False,  # a redirected POST turns into a GET: not delivered
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": f"leadsync/{__version__}",
            },
        )
    except requests.RequestException as err:
        log.warning(
            "notification to %s not delivered: %s: %s",
            where,
            type(err).__name__,
            _scrub(str(err), url),
        )
        return False
    except ValueError as err:  # e.g. a summary with a circular reference
        log.warning("notification to %s not sent: %s", where, _scrub(str(err), url))
        return False
    finally:
        if own:
            http.close()
    if not 200 <= answer.status_code < 300:
        detail = _scrub(answer.text[:ERROR_BODY_CHARS], url).strip()
        log.warning(
            "notification to %s not delivered: HTTP %s %s",
            where,
            answer.status_code,
            detail,
        )
        return False
    log.info("notification sent to %s", where)
    return True
