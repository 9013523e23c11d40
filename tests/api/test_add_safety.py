"""Add-lead safety against answers the sandbox does not give: a scripted HTTP server on
127.0.0.1 answers each request with the next scripted action (a status, or hanging up).

An add may be repeated only when it certainly never arrived or was explicitly refused (429,
503 with Retry-After); everything else after sending is UncertainAddError, sent once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from leadsync.api import CampaignsClient
from leadsync.config import ApiSettings
from leadsync.errors import (
    ServerError,
    ThrottledError,
    UncertainAddError,
)

from .support import RecordingSleep

ADD_PATH = "/api/v2/config/campaigns/" + "c" * 32 + "/lead"
HANG_UP = (0, {})  # close the connection without answering
Action = tuple[int, dict[str, str]]


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.script: list[Action] = []
        self.requests: list[tuple[str, str]] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.requests.append((self.command, self.path))
        status, headers = self.server.script.pop(0) if self.server.script else (200, {})
        if status == 0:
            self.close_connection = True
            return
        body = b'{"message": "scripted"}'
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", **headers}.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PUT = do_POST = do_GET = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def client(srv: ScriptedServer, sleep: RecordingSleep) -> CampaignsClient:
    host, port = srv.server_address[:2]
    settings = ApiSettings(
        base_url=f"http://{host!s}:{port}",
        api_key="scripted-key-0001",
        account_id="acct",
        retry_attempts=4,
    )
    return CampaignsClient(settings, sleep=sleep, clock=sleep.clock)


@pytest.mark.parametrize(
    "answer",
    [(500, {}), (502, {}), (503, {}), (504, {}), HANG_UP],
    ids=["500", "502", "503-no-retry-after", "504", "hang-up-after-send"],
)
def test_failures_after_sending_are_uncertain_and_sent_once(
    server: ScriptedServer, answer: Action
) -> None:
    server.script = [answer]
    sleep = RecordingSleep()
    with client(server, sleep) as c, pytest.raises(UncertainAddError) as info:
        c.add_lead("c" * 32, {"number": "+12135550100"})
    assert server.requests == [("PUT", ADD_PATH)]  # exactly one add
    assert sleep.waits == []
    assert info.value.endpoint == ADD_PATH


@pytest.mark.parametrize(
    ("answer", "min_wait"),
    [((429, {"Retry-After": "3"}), 3.0), ((503, {"Retry-After": "2"}), 2.0), ((429, {}), 0.25)],
    ids=["429-retry-after", "503-retry-after", "429-bare"],
)
def test_explicit_refusals_are_retried(
    server: ScriptedServer, answer: Action, min_wait: float
) -> None:
    server.script = [answer, answer]
    sleep = RecordingSleep()
    with client(server, sleep) as c:
        result = c.add_lead("c" * 32, {"number": "+12135550100"})
        assert c.counters.as_dict()["throttled"] == 2
    assert (result.method, result.status, result.attempts) == ("PUT", 200, 3)
    assert server.requests == [("PUT", ADD_PATH)] * 3
    assert len(sleep.waits) >= 2 and min(sleep.waits) >= min_wait


def test_still_throttled_after_every_attempt(server: ScriptedServer) -> None:
    server.script = [(429, {"Retry-After": "1"})] * 4
    with client(server, RecordingSleep()) as c, pytest.raises(ThrottledError) as info:
        c.add_lead("c" * 32, {"number": "+12135550100"})
    assert info.value.retry_after == 1.0 and len(server.requests) == 4


def test_idempotent_calls_are_retried_through_the_same_failures(server: ScriptedServer) -> None:
    server.script = [(500, {}), HANG_UP, (502, {}), (200, {})]
    with client(server, RecordingSleep()) as c:
        c.set_status("l" * 32, "new")
        assert c.counters.as_dict()["retries"] == 3
    assert len(server.requests) == 4
    server.script = [(504, {})] * 4
    with client(server, RecordingSleep()) as c, pytest.raises(ServerError, match="504"):
        c.set_voicemail("cdr-1")
