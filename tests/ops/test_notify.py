"""Notifications: POSTed to a real local webhook server; every failure is a warning, never an
exception, and the webhook's secret path never reaches the log."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from leadsync import __version__
from leadsync.jobs.folders import EXIT_MEANINGS
from leadsync.jobs.notify import format_notification, notify, safe_url

SECRET_PATH = "/services/T0001/B0002/XyZsecretWebhookToken"
SUMMARY = {
    "exit_code": 1,
    "dry_run": False,
    "mode": "mirror",
    "started_at": "2026-11-29T23:59:00Z",
    "totals": {"rows_read": 1200, "rows_rejected": 3, "added": 40, "deleted": 0, "failed": 2},
}
SLOW_S = 5.0
SHORT_TIMEOUT_S = 0.3
POLL_S = 0.02  # how often the server checks for shutdown


@dataclass
class Webhook:
    """What the local webhook received, and how it answers."""

    url: str = ""
    status: int = 200
    delay_s: float = 0.0
    location: str | None = None
    received: list[dict] = field(default_factory=list)  # type: ignore[type-arg]
    wake: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            hook.received.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            if hook.delay_s:
                hook.wake.wait(hook.delay_s)
            self.send_response(hook.status)
            if hook.location:
                self.send_header("Location", hook.location)
            body = b'{"error": "webhook broke"}' if hook.status >= 400 else b"ok"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(POLL_S,), daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_port}{SECRET_PATH}"
    try:
        yield hook
    finally:
        hook.wake.set()
        server.shutdown()
        server.server_close()
        thread.join()


def test_posts_text_and_summary_as_json(webhook: Webhook, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="leadsync.jobs.notify")
    summary = {**SUMMARY, "finished_at": datetime(2026, 11, 30, 0, 1, tzinfo=UTC)}
    assert notify(webhook.url, summary, "leadsync job nightly: exit 1") is True
    (request,) = webhook.received
    assert request["path"] == SECRET_PATH
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert request["headers"]["User-Agent"] == f"leadsync/{__version__}"
    assert request["body"]["text"] == "leadsync job nightly: exit 1"
    assert request["body"]["summary"]["totals"] == SUMMARY["totals"]
    assert request["body"]["summary"]["finished_at"] == "2026-11-30 00:01:00+00:00"
    assert "notification sent to http://127.0.0.1" in caplog.text
    assert "XyZsecret" not in caplog.text


def test_uses_the_given_session(webhook: Webhook) -> None:
    with requests.Session() as session:
        assert notify(webhook.url, SUMMARY, "hi", session=session) is True
        assert notify(webhook.url, SUMMARY, "again", session=session) is True
    assert [r["body"]["text"] for r in webhook.received] == ["hi", "again"]


@pytest.mark.parametrize(("status", "location"), [(500, None), (404, None), (302, "/elsewhere")])
def test_a_non_2xx_answer_is_a_warning(
    webhook: Webhook, caplog: pytest.LogCaptureFixture, status: int, location: str | None
) -> None:
    webhook.status, webhook.location = status, location
    assert notify(webhook.url, SUMMARY, "text") is False
    assert len(webhook.received) == 1  # sent once, not retried, not redirected
    (record,) = [r for r in caplog.records if r.name == "leadsync.jobs.notify"]
    assert record.levelno == logging.WARNING
    assert f"HTTP {status}" in record.getMessage()
    assert "XyZsecret" not in caplog.text


def test_a_server_that_is_down_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}{SECRET_PATH}"
    assert notify(url, SUMMARY, "text", timeout=SHORT_TIMEOUT_S) is False
    assert "not delivered: ConnectionError" in caplog.text
    assert f"http://127.0.0.1:{port}/…" in caplog.text
    assert "XyZsecret" not in caplog.text


def test_a_slow_server_times_out_as_a_warning(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    webhook.delay_s = SLOW_S
    assert notify(webhook.url, SUMMARY, "text", timeout=SHORT_TIMEOUT_S) is False
    assert "not delivered: ReadTimeout" in caplog.text  # gave up by its timeout, not the server
    assert "XyZsecret" not in caplog.text


def test_a_malformed_url_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert notify("not a url", SUMMARY, "text") is False
    assert notify("http://127.0.0.1:notaport/x", SUMMARY, "text") is False
    assert caplog.text.count("not delivered") == 2


def test_safe_url_keeps_scheme_host_and_port_only() -> None:
    assert safe_url("https://user:pw@hooks.example.com/services/T/B/X?token=1") == (
        "https://hooks.example.com/…"
    )
    assert safe_url("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080/…"


def test_one_line_text_for_chat() -> None:
    text = format_notification("nightly", SUMMARY, "/reports/20261129T235900Z_nightly")
    assert text == (
        f"leadsync job nightly: exit 1 ({EXIT_MEANINGS[1]}) — rows_read 1200, rows_rejected 3, "
        "added 40, failed 2 — report: /reports/20261129T235900Z_nightly"
    )
    assert "\n" not in text
    dry = format_notification("nightly", {"exit_code": 0, "dry_run": True, "totals": {}})
    assert dry == f"leadsync job nightly: exit 0 ({EXIT_MEANINGS[0]}) [dry run]"
