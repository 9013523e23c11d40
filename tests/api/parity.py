"""What the async-writer parity tests share: a scripted raw server, the two write paths
behind one interface, and :func:`both`, which runs a scenario through each path and checks
that the outcomes are equal.

The async write path (``CampaignsClient.async_writer()``: asyncio streams) is compared with
the threaded one (``CampaignsClient.add_lead`` …: urllib3) over real sockets. Each scenario is
one coroutine over a :class:`Writes` (the client's own methods, or its AsyncWriter), run once
per path against a fresh server; an :class:`Outcome` holds everything a caller or the server
can observe of it (result or error, requests on the wire, counters, backoff waits).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from leadsync.api import CampaignsClient
from leadsync.api.client import AddResult
from leadsync.config import ApiSettings
from leadsync.errors import ApiError

from .rawserver import RawServer, answer
from .support import RecordingSleep, api_key_settings

PATHS = ("threads", "async")
#: Backoff jitter seed, the same for both paths so that their waits can be compared.
JITTER_SEED = 7
CAMPAIGN = "c0ffee"
ADD_PATH = f"/api/v2/config/campaigns/{CAMPAIGN}/lead"
LEAD = {"number": "+12135550100", "first_name": "Zoë", "priority": 3}
LEAD_ID = "f" * 32
STATUS_PATH = f"/api/v2/config/campaigns/leads/{LEAD_ID}/status/new"
DELETE_PATH = f"/api/v2/config/campaigns/leads/{LEAD_ID}"
#: A password that must never reach an error or a log line.
PASSWORD = "pw-async-never-shown-91c3"
#: Pause between the pieces of an answer sent in pieces.
PIECE_GAP_S = 0.02

OK = answer(body=b'{"id": "new-1"}', headers={"Content-Type": "application/json"})
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'8\r\n{"id": "\r\n7\r\nnew-1"}\r\n0\r\n\r\n'
)


def json_answer(
    status: int, reason: str, body: Any, headers: dict[str, str] | None = None
) -> bytes:
    """A whole HTTP/1.1 answer with a JSON body."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    return answer(status, reason, json.dumps(body).encode(), headers)


def login_answer(token: str) -> bytes:
    """A login's answer handing out ``token`` (and a refresh token made from it)."""
    body = {"access_token": token, "refresh_token": f"r-{token}", "user": {"account_id": "acct-1"}}
    return json_answer(200, "OK", body)


# --- a scripted raw server --------------------------------------------------------------------
@dataclass(frozen=True)
class Send:
    """Send ``parts`` one by one, ``PIECE_GAP_S`` apart (each reaches the client as a read of
    its own); then keep the connection, or close it when ``hang_up``."""

    parts: tuple[bytes, ...]
    hang_up: bool = False


def hang_up_after(raw: bytes) -> Send:
    """Send ``raw`` (an answer that does not say ``Connection: close``), then close."""
    return Send((raw,), hang_up=True)


#: What the server does with a request: answer these bytes (and keep the connection), a
#: :class:`Send`, or RawServer's own "silent" / "close" / "reset".
Action = bytes | Send | Literal["silent", "close", "reset"]


class ScriptServer(RawServer):
    """A :class:`RawServer` answering each request with the next action of ``script`` (the
    last one repeats); ``hung_up`` is set when a :class:`Send` closed a connection."""

    def __init__(self, *script: Action) -> None:
        super().__init__(b"")
        self.script = list(script)
        self.hung_up = threading.Event()

    def _next(self) -> Action:
        with self._lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def respond(self, conn: socket.socket) -> bool:
        """Play the script's next action on ``conn``; False ends the connection."""
        action = self._next()
        if isinstance(action, Send):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i, part in enumerate(action.parts):
                time.sleep(PIECE_GAP_S if i else 0)
                conn.sendall(part)
            if not action.hang_up:
                return True
            conn.close()
            self.hung_up.set()
            return False
        if isinstance(action, bytes):
            conn.sendall(action)
            return True
        if action == "silent":
            self._stop.wait()
        elif action == "reset":  # linger 0: close() sends RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False  # "close" and the others: the connection ends here


# --- the two paths ----------------------------------------------------------------------------
class Writes(Protocol):
    """The three writes, as the AsyncWriter offers them."""

    async def add_lead(self, campaign_id: str, body: dict[str, Any]) -> AddResult: ...
    async def set_status(self, lead_id: str, status: str) -> None: ...
    async def delete_lead(self, lead_id: str) -> None: ...
    async def aclose(self) -> None: ...


class ThreadedWrites:
    """The client's own (threaded path) methods behind the AsyncWriter's interface."""

    def __init__(self, client: CampaignsClient) -> None:
        self._client = client

    async def add_lead(self, campaign_id: str, body: dict[str, Any]) -> AddResult:
        return self._client.add_lead(campaign_id, body)

    async def set_status(self, lead_id: str, status: str) -> None:
        self._client.set_status(lead_id, status)

    async def delete_lead(self, lead_id: str) -> None:
        self._client.delete_lead(lead_id)

    async def aclose(self) -> None:
        pass


Scenario = Callable[[Writes], Awaitable[Any]]


def run_writes(client: CampaignsClient, path: str, scenario: Scenario) -> Any:
    """``scenario`` on one loop through ``path``: the client's methods or its AsyncWriter."""

    async def main() -> Any:
        writes: Writes | None = (
            ThreadedWrites(client) if path == "threads" else client.async_writer()
        )
        assert writes is not None, "no async writer for these settings"
        try:
            return await scenario(writes)
        finally:
            await writes.aclose()

    return asyncio.run(main())


@dataclass(frozen=True)
class Outcome:
    """Everything a caller or the server can observe of one scenario on one path."""

    value: Any
    error: tuple[str, str, int | None, int | None] | None  # type, message, status, attempts
    waits: tuple[float, ...]
    counters: dict[str, int]
    sent: tuple[tuple[str, tuple[tuple[str, str], ...], bytes], ...] = ()
    connections: int = 0


def normalize(text: str, port: int | None) -> str:
    """``text`` without object addresses, and with ``port`` (which differs per run) as PORT."""
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)
    return text.replace(str(port), "PORT") if port else text


def play(
    path: str,
    settings: ApiSettings,
    scenario: Scenario,
    srv: ScriptServer | None = None,
    port: int | None = None,
) -> Outcome:
    """One scenario through ``path`` with a recording sleep and a seeded jitter."""
    port = srv.port if srv is not None else port
    sleep = RecordingSleep()
    rng = random.Random(JITTER_SEED)
    with CampaignsClient(settings, sleep=sleep, clock=sleep.clock, rng=rng) as client:
        value: Any = None
        error = None
        try:
            value = run_writes(client, path, scenario)
        except ApiError as err:
            attempts = getattr(err, "attempts", None)
            error = (type(err).__name__, normalize(str(err), port), err.status, attempts)
        counters = client.counters.as_dict()
    sent: tuple[Any, ...] = ()
    connections = 0
    if srv is not None:
        sent = tuple(
            (
                r.line,
                tuple(sorted((k, normalize(v, port)) for k, v in r.headers.items())),
                r.body,
            )
            for r in srv.requests
        )
        connections = srv.accepted
    return Outcome(value, error, tuple(sleep.waits), counters, sent, connections)


def both(script: Sequence[Action], scenario: Scenario | None = None, **api: Any) -> Outcome:
    """``scenario`` (default: one add) through each path against a fresh ``script`` server;
    the two outcomes must be equal; returns it."""
    outcomes = {}
    for path in PATHS:
        with ScriptServer(*script) as srv:
            settings = api_key_settings(srv.url, **{"retry_attempts": 4, **api})
            outcomes[path] = play(path, settings, scenario or add_one, srv)
    assert outcomes["async"] == outcomes["threads"]
    return outcomes["async"]


def both_at(url: str, scenario: Scenario | None = None, **api: Any) -> Outcome:
    """``scenario`` through each path against ``url`` (no server of ours behind it)."""
    port = int(url.rsplit(":", 1)[1])
    settings = api_key_settings(url, **api)
    outcomes = {path: play(path, settings, scenario or add_one, port=port) for path in PATHS}
    assert outcomes["async"] == outcomes["threads"]
    return outcomes["async"]


# --- scenarios ----------------------------------------------------------------------------------
async def add_one(w: Writes) -> AddResult:
    return await w.add_lead(CAMPAIGN, LEAD)


async def set_one(w: Writes) -> None:
    await w.set_status(LEAD_ID, "new")


async def delete_one(w: Writes) -> None:
    await w.delete_lead(LEAD_ID)


def lines(out: Outcome) -> list[str]:
    """The request lines the server received, in order."""
    return [line for line, _, _ in out.sent]
