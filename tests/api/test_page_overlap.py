"""The listing reads ahead: the next page is requested while the current one is parsed and
used, pages of one campaign stay in order, and at most one request is ahead.

Proven by what a test server observes, never by timing: the server holds each answer until
the test lets it go (the latency is the test's to control), and records every request in the
order it arrived. A client without read-ahead could never have the next page's request in
while the test still holds the current page.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from leadsync.api import CampaignsClient
from leadsync.api.pagefeed import PageFeed
from leadsync.errors import PaginationError

from .support import api_key_settings

CAMPAIGN = "c0ffee"
PAGES = 5
#: Generous bound on waiting for something that must happen (a failure guard, not a measure).
MUST_HAPPEN_S = 10.0


class GatedPages:
    """Pages ``0..PAGES-1`` of one campaign (page i's key is ``"p{i}"``); each answer waits
    until :meth:`release` lets that page go; ``arrived[i]`` is set when its request is in."""

    def __init__(self, key_last: bool = True) -> None:
        self.key_last = key_last
        self.order: list[str | None] = []
        self.arrived = [threading.Event() for _ in range(PAGES)]
        self.gates = [threading.Event() for _ in range(PAGES)]
        self.lock = threading.Lock()

    def release(self, page: int) -> None:
        self.gates[page].set()

    def body(self, page: int) -> bytes:
        leads = [{"id": f"{page}-{j}", "number": f"+1213555{page:02d}{j:02d}"} for j in range(3)]
        key = f"p{page + 1}" if page + 1 < PAGES else None
        doc: dict[str, Any] = {"data": leads}
        if not self.key_last:
            doc = {"next_start_key": key, "data": leads}
        else:
            doc["next_start_key"] = key
        return json.dumps(doc).encode()

    def handle(self, key: str | None) -> bytes:
        page = 0 if key is None else int(key[1:])
        with self.lock:
            self.order.append(key)
        self.arrived[page].set()
        if not self.gates[page].wait(MUST_HAPPEN_S):
            raise AssertionError(f"page {page} never released")
        return self.body(page)


@contextmanager
def served(pages: GatedPages) -> Iterator[str]:
    """The pages on a local HTTP server for the test's duration; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            body = pages.handle(query.get("next_start_key", [None])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def gated() -> Iterator[tuple[GatedPages, CampaignsClient]]:
    pages = GatedPages()
    with served(pages) as url:
        client = CampaignsClient(api_key_settings(url, retry_attempts=1))
        try:
            yield pages, client
        finally:
            for gate in pages.gates:
                gate.set()
            client.close()


@pytest.mark.parametrize("tables", [False, True], ids=["dicts", "arrow"])
def test_next_page_is_requested_while_the_current_one_is_used(
    gated: tuple[GatedPages, CampaignsClient], tables: bool
) -> None:
    pages, client = gated
    listing = client.iter_lead_tables if tables else client.iter_lead_pages
    it = iter(listing(CAMPAIGN, page_size=3))
    pages.release(0)
    for n in range(PAGES):
        page = next(it)
        ids = page.column("id").to_pylist() if tables else [lead["id"] for lead in page]
        assert ids == [f"{n}-{j}" for j in range(3)]  # pages in order
        if n + 1 < PAGES:
            # The test holds page n: only a request sent ahead can have arrived.
            assert pages.arrived[n + 1].wait(MUST_HAPPEN_S), f"page {n + 1} was not asked ahead"
            # …and only one: page n+2's key is in page n+1's answer, which is still held.
            assert not pages.arrived[n + 2].is_set() if n + 2 < PAGES else True
            assert pages.order == [None, *[f"p{i}" for i in range(1, n + 2)]]
            pages.release(n + 1)
    assert next(it, None) is None
    assert pages.order == [None, *[f"p{i}" for i in range(1, PAGES)]]


def test_a_key_the_tail_does_not_tell_is_read_after_the_page() -> None:
    """A page whose key comes first: no read-ahead, same pages, same requests."""
    pages = GatedPages(key_last=False)
    for gate in pages.gates:
        gate.set()
    with served(pages) as url, CampaignsClient(api_key_settings(url, retry_attempts=1)) as client:
        got = [len(p) for p in client.iter_lead_pages(CAMPAIGN, page_size=3)]
    assert got == [3] * PAGES
    assert pages.order == [None, *[f"p{i}" for i in range(1, PAGES)]]


def test_leaving_the_listing_early_waits_for_the_request_ahead(
    gated: tuple[GatedPages, CampaignsClient],
) -> None:
    pages, client = gated
    pages.release(0)
    it = client.iter_lead_pages(CAMPAIGN, page_size=3)
    next(it)
    assert pages.arrived[1].wait(MUST_HAPPEN_S)
    pages.release(1)
    it.close()  # returns once the request ahead is answered (and dropped)
    assert pages.order == [None, "p1"]
    assert threading.active_count() < 50


def test_feed_drops_an_answer_for_another_key() -> None:
    asked: list[str | None] = []

    def request(key: str | None) -> str:
        asked.append(key)
        if key == "bad":
            raise PaginationError("never used", method="GET", endpoint="/")
        return f"answer {key}"

    with PageFeed(request) as feed:
        assert feed.get(None) == "answer None"
        feed.ahead("bad")
        assert feed.in_flight == "bad"
        assert feed.get("good") == "answer good"  # the other key's failure is nobody's
        feed.ahead("k")
        feed.ahead("k")  # already in flight: not sent twice
        assert feed.get("k") == "answer k"
        assert feed.in_flight is None
    assert asked == [None, "bad", "good", "k"]


class SamePage(GatedPages):
    """A server that ignores the page key yet hands out a new key each time."""

    def body(self, page: int) -> bytes:
        leads = [{"id": f"0-{j}", "number": f"+12135550{j:03d}"} for j in range(3)]
        return json.dumps({"data": leads, "next_start_key": f"p{page + 1}"}).encode()


@pytest.mark.parametrize("tables", [False, True], ids=["dicts", "arrow"])
def test_a_page_repeated_under_new_keys_stops_the_listing(tables: bool) -> None:
    pages = SamePage()
    for gate in pages.gates:
        gate.set()
    with served(pages) as url, CampaignsClient(api_key_settings(url, retry_attempts=1)) as client:
        listing = client.iter_lead_tables if tables else client.iter_lead_pages
        with pytest.raises(PaginationError, match="repeats page 1 exactly"):
            list(listing(CAMPAIGN, page_size=3))
    assert pages.order[:2] == [None, "p1"]
    assert len(pages.order) <= 3  # the second page stops it; at most one request was ahead
