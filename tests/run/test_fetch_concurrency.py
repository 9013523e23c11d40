"""The fetch reads the campaigns of one run at once (each campaign's pages in order), no more
of them at a time than ``api.concurrency``: shown by a server that holds campaign A's first
page until campaign B's first page is asked for (a sequential fetch would never ask)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from leadsync.api import CampaignsClient
from leadsync.models import Campaign
from leadsync.run.campaigns import Targets, fetch_current
from tests.api.support import api_key_settings

PAGES = 3  # pages of each campaign
PAGE = 2  # leads a page
#: How long the held page waits for the other campaign before giving up: a deadlock guard
#: (a sequential fetch would wait forever), not a measure of speed.
HOLD_GUARD_S = 2.0


class HoldingServer(ThreadingHTTPServer):
    """Lists campaigns ``A`` and ``B``; A's first page waits for B's first request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.b_asked = threading.Event()
        self.held_until_b = False
        self.log: list[tuple[str, int]] = []  # (campaign, page) in the order served
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HoldingServer

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        cid = url.path.split("/")[-2]
        start = int(parse_qs(url.query).get("next_start_key", ["0"])[0])
        if cid == "B" and start == 0:
            self.server.b_asked.set()
        if cid == "A" and start == 0:
            self.server.held_until_b = self.server.b_asked.wait(HOLD_GUARD_S)
        n = start // PAGE
        leads = [
            {"id": f"{cid}{n}{i}", "number": f"+1213555{ord(cid)}{n}{i:02d}", "status": "new"}
            for i in range(PAGE)
        ]
        body: dict[str, object] = {"data": leads}
        if n + 1 < PAGES:
            body["next_start_key"] = str(start + PAGE)
        data = json.dumps(body).encode()
        with self.server.lock:
            self.server.log.append((cid, n))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[HoldingServer]:
    srv = HoldingServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def targets() -> Targets:
    campaigns = {cid: Campaign(cid, f"Campaign {cid}") for cid in ("A", "B")}
    return Targets(campaigns=campaigns, desired={}, all_campaigns=list(campaigns.values()))


def fetch(server: HoldingServer, concurrency: int) -> dict[str, list[str]]:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with CampaignsClient(api_key_settings(url, page_size=PAGE)) as client:
        current = fetch_current(
            targets(), client, region="US", page_size=PAGE, concurrency=concurrency
        )
    assert current.complete == {"A": True, "B": True}
    return {cid: frame["id"].tolist() for cid, frame in current.remote.items()}


def test_campaigns_are_fetched_at_once(server: HoldingServer) -> None:
    ids = fetch(server, concurrency=2)
    assert server.held_until_b  # B's first page was asked for while A's was being answered
    assert ids["A"] == [f"A{n}{i}" for n in range(PAGES) for i in range(PAGE)]  # in order
    assert ids["B"] == [f"B{n}{i}" for n in range(PAGES) for i in range(PAGE)]


def test_concurrency_one_reads_one_campaign_at_a_time(server: HoldingServer) -> None:
    fetch(server, concurrency=1)
    assert not server.held_until_b
    assert server.log == [("A", n) for n in range(PAGES)] + [("B", n) for n in range(PAGES)]
