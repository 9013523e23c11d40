"""A bare TCP server on 127.0.0.1 for the transport tests: what the sandbox will not do
(never answer, drop or reset the connection after reading a request, answer exact bytes,
stand in for a proxy), and a record of the exact requests it received. :class:`ScriptServer`
answers each request with the next action of a script."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Self

#: What the server does after reading a request: send these bytes (a whole HTTP answer; the
#: connection stays open for more), hold the connection and never answer, close it cleanly,
#: or abort it (TCP RST).
Behaviour = bytes | Literal["silent", "close", "reset"]
#: Longest request head read (the tests send small requests).
MAX_HEAD_BYTES = 64 * 1024
ACCEPT_POLL_S = 0.05
JOIN_TIMEOUT_S = 5.0


@dataclass
class RawRequest:
    """One request as it came over the wire."""

    line: str  # e.g. "PUT /api/v2/config/campaigns/c/lead HTTP/1.1"
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""


def answer(
    status: int = 200,
    reason: str = "OK",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> bytes:
    """A whole HTTP/1.1 answer (Content-Length set; header names sent as given)."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RawServer:
    """``with RawServer(behaviour) as srv:`` — listens on ``srv.url`` until the block ends;
    ``srv.requests`` lists what it read, in order. ``behaviour`` may be changed at any time."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests: list[RawRequest] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(ACCEPT_POLL_S)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    @property
    def accepted(self) -> int:
        """TCP connections accepted so far."""
        with self._lock:
            return len(self._connections)

    def __enter__(self) -> Self:
        self._spawn(self._accept_loop)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv
        for thread in list(self._threads):
            thread.join(JOIN_TIMEOUT_S)
        self._listener.close()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self._lock:
                self._connections.append(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        pending = b""
        with conn:
            while not self._stop.is_set():
                request, pending = read_request(conn, pending)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                if not self.respond(conn):
                    return

    def respond(self, conn: socket.socket) -> bool:
        """Act on the request just read (``behaviour``); False ends the connection."""
        behaviour = self.behaviour
        if behaviour == "silent":
            self._stop.wait()
            return False
        if behaviour == "close":
            return False
        if behaviour == "reset":
            # Linger 0: close() sends RST instead of FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        assert isinstance(behaviour, bytes)
        conn.sendall(behaviour)
        return True


def read_request(conn: socket.socket, pending: bytes) -> tuple[RawRequest | None, bytes]:
    """The next request on ``conn`` (None at end of stream) and the bytes read past it."""
    data = pending
    while b"\r\n\r\n" not in data:
        try:
            chunk = conn.recv(65536)
        except OSError:
            return None, b""
        if not chunk or len(data) > MAX_HEAD_BYTES:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for header in header_lines:
        name, _, value = header.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(rest) < length:
        try:
            chunk = conn.recv(65536)
        except OSError:
            return None, b""
        if not chunk:
            return None, b""
        rest += chunk
    return RawRequest(line, headers, rest[:length]), rest[length:]


# --- scripted answers -----------------------------------------------------------------------
#: Pause between the pieces of an answer sent in pieces.
PIECE_GAP_S = 0.02
#: An add's success, plain and chunked.
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

    @property
    def lines(self) -> list[str]:
        """The request lines received, in order."""
        return [r.line for r in self.requests]

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
