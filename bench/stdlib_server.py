"""A Campaigns API stand-in built on the standard library's own HTTP parsing, for benchmarks.

Written from the API document (docs/), independent of leadsync's sandbox: the standard
library's ``http.server.ThreadingHTTPServer`` and ``BaseHTTPRequestHandler`` (HTTP/1.1,
keep-alive) serving login, the campaign counts, add lead (PUT or POST), set status, delete and
the leads listing, with a per-request latency and an optional rate limit (429 with
Retry-After beyond it), so that a benchmark measures leadsync against a server that is not
its own.

Leads are kept per campaign in insertion order, so a page costs the same at any offset
(a 1,000,000-lead campaign is listed in O(page) per page). ``--seed FILE`` loads leads
first: JSON lines, each a lead's fields plus ``campaign`` (a name; new names become new
campaigns, listed after the default ones).

Usage: ``python bench/stdlib_server.py [--latency-ms 20] [--rate 100] [--seed FILE]``;
prints ``READY <port> <token> <campaign id>…`` and serves until its standard input closes.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCOUNT_ID = "acct-bench"
USERNAME, PASSWORD, DOMAIN = "bench", "bench-password", "bench"
CAMPAIGNS = ("Apply", "Bare", "Naive", "Limited", "Urllib3", "Requests")
ADD = re.compile(r"^/api/v2/config/campaigns/([^/]+)/lead$")
LEADS = re.compile(r"^/api/v2/config/campaigns/([^/]+)/leads$")
STATUS = re.compile(r"^/api/v2/config/campaigns/leads/([^/]+)/status/([^/]+)$")
DELETE = re.compile(r"^/api/v2/config/campaigns/leads/([^/]+)$")
COUNTS = "/api/v2/reports/campaigns/leads/status"
LOGIN = "/api/v2/login"


class Store:
    """Campaigns and their leads, tokens, and the rate limit (a token bucket holding one
    second's worth); thread-safe."""

    def __init__(self, rate: float | None) -> None:
        self.lock = threading.Lock()
        self.campaigns = {secrets.token_hex(16): name for name in CAMPAIGNS}
        self.leads: dict[str, dict[str, Any]] = {}
        self.by_campaign: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in self.campaigns}
        self._listing: dict[str, list[dict[str, Any]]] = {}  # cached pages' source per campaign
        self.tokens: set[str] = set()
        self.rate = rate
        self._bucket = rate or 0.0
        self._last = time.monotonic()
        self.throttled = 0

    def put(self, lead: dict[str, Any]) -> None:
        """Store ``lead`` (it carries ``id`` and ``campaign_id``); the caller holds the lock."""
        self.leads[lead["id"]] = lead
        self.by_campaign[lead["campaign_id"]][lead["id"]] = lead
        self._listing.pop(lead["campaign_id"], None)

    def drop(self, lead_id: str) -> dict[str, Any] | None:
        """Remove a lead; the caller holds the lock."""
        lead = self.leads.pop(lead_id, None)
        if lead is not None:
            del self.by_campaign[lead["campaign_id"]][lead_id]
            self._listing.pop(lead["campaign_id"], None)
        return lead

    def listing(self, cid: str) -> list[dict[str, Any]]:
        """The campaign's leads in insertion order (rebuilt only after a change)."""
        with self.lock:
            leads = self._listing.get(cid)
            if leads is None:
                leads = self._listing[cid] = list(self.by_campaign[cid].values())
            return leads

    def seed(self, path: str) -> None:
        """Load the JSON lines of ``path`` (lead fields plus a ``campaign`` name)."""
        ids = {name: cid for cid, name in self.campaigns.items()}
        now = int(time.time())
        with open(path, encoding="utf-8") as fh, self.lock:
            for line in fh:
                lead = json.loads(line)
                name = lead.pop("campaign")
                cid = ids.get(name)
                if cid is None:
                    cid = ids[name] = secrets.token_hex(16)
                    self.campaigns[cid] = name
                    self.by_campaign[cid] = {}
                lead = {"id": secrets.token_hex(16), "campaign_id": cid, "status": "new", **lead}
                lead.setdefault("created", now)
                self.put(lead)

    def take(self) -> float:
        """0 when this request may pass the rate limit, else seconds until it could."""
        if self.rate is None:
            return 0.0
        with self.lock:
            now = time.monotonic()
            self._bucket = min(self.rate, self._bucket + (now - self._last) * self.rate)
            self._last = now
            if self._bucket >= 1.0:
                self._bucket -= 1.0
                return 0.0
            self.throttled += 1
            return (1.0 - self._bucket) / self.rate


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # The handler writes the head and the body apart: without this, Nagle's algorithm and the
    # client's delayed ACK hold the body back ~40 ms.
    disable_nagle_algorithm = True
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body if body is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _handle(self) -> None:
        store = self.server.store
        body = self._body()
        time.sleep(self.server.latency_s)
        wait = store.take()
        if wait:
            retry_after = str(max(1, math.ceil(wait)))  # whole seconds, as HTTP says
            self._answer(429, {"message": "too many requests"}, {"Retry-After": retry_after})
            return
        url = urlsplit(self.path)
        if url.path == LOGIN and self.command == "POST":
            ok = isinstance(body, dict) and (body.get("username"), body.get("password")) == (
                USERNAME,
                PASSWORD,
            )
            if not ok:
                self._answer(400, {"message": "invalid credentials"})
                return
            token = secrets.token_hex(24)
            with store.lock:
                store.tokens.add(token)
            user = {"account_id": ACCOUNT_ID}
            self._answer(200, {"access_token": token, "refresh_token": "r", "user": user})
            return
        auth = self.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in store.tokens:
            self._answer(401, {"message": "Invalid or expired token."})
            return
        if self.headers.get("X-Account-ID") != ACCOUNT_ID:
            self._answer(403, {"message": "forbidden"})
            return
        self._route(url.path, parse_qs(url.query), body)

    def _route(self, path: str, query: dict[str, list[str]], body: Any) -> None:
        store = self.server.store
        verb = self.command
        if path == COUNTS and verb == "GET":
            with store.lock:
                counts = {
                    cid: {
                        "name": name,
                        "total_leads": len(store.by_campaign[cid]),
                        "leads_by_status": {},
                    }
                    for cid, name in store.campaigns.items()
                }
            self._answer(200, counts)
        elif (m := ADD.match(path)) and verb in ("PUT", "POST"):
            if m.group(1) not in store.campaigns or not isinstance(body, dict):
                self._answer(400, {"message": "invalid lead"})
                return
            lead = {"id": secrets.token_hex(16), "campaign_id": m.group(1), "status": "new"}
            lead.update({k: v for k, v in body.items() if k not in lead})
            lead["created"] = int(time.time())
            with store.lock:
                store.put(lead)
            self._answer(200, {})
        elif (m := STATUS.match(path)) and verb == "POST":
            with store.lock:
                lead = store.leads.get(m.group(1))
                if lead is not None:
                    lead["status"] = m.group(2)
            self._answer(200 if lead is not None else 400, {})
        elif (m := DELETE.match(path)) and verb == "DELETE":
            with store.lock:
                gone = store.drop(m.group(1))
            self._answer(200 if gone is not None else 400, {})
        elif (m := LEADS.match(path)) and verb == "GET":
            size = int(query.get("page_size", ["50"])[0])
            start = int(query.get("next_start_key", ["0"])[0] or 0)
            if m.group(1) not in store.by_campaign:
                self._answer(404, {"message": "no such campaign"})
                return
            mine = store.listing(m.group(1))
            page = mine[start : start + size]
            answer: dict[str, Any] = {"data": page}
            if start + size < len(mine):
                answer["next_start_key"] = str(start + size)
            self._answer(200, answer)
        else:
            self._answer(404, {"message": "not found"})

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 resets some of 16 connections opened at once

    def __init__(self, latency_s: float, rate: float | None) -> None:
        self.latency_s = latency_s
        self.store = Store(rate)
        super().__init__(("127.0.0.1", 0), Handler)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=None, help="requests/s allowed (429 beyond)")
    ap.add_argument("--seed", help="JSON lines of leads (with a campaign name) to load first")
    args = ap.parse_args()
    server = Server(args.latency_ms / 1000, args.rate)
    if args.seed:
        server.store.seed(args.seed)
    token = secrets.token_hex(24)
    server.store.tokens.add(token)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("READY", server.server_address[1], token, *server.store.campaigns, flush=True)
    sys.stdin.read()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
