"""A bare TCP server on 127.0.0.1 for the transport tests: what the sandbox will not do
(never answer, drop or reset the connection after reading a request, answer exact bytes,
stand in for a proxy), and a record of the exact requests it received."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Literal, Self

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
