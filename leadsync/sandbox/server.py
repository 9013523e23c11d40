"""Sandbox: the stand-in Campaigns API served over real HTTP/1.1 with keep-alive.

The stdlib ``ThreadingHTTPServer`` with one daemon thread per connection, Nagle off on every
accepted socket, one ``write`` per response (head and body together) and a Content-Length on
every answer, so a keep-alive client keeps its connection and is never held up by Nagle.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import socketserver
import ssl
import sys
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import ConfigError
from .config import SandboxConfig
from .routes import INVALID, Request, Response, SandboxApp
from .state import SandboxState
from .stats import SandboxStats

#: How often the serving loop checks for shutdown (bounds how long stop() waits).
POLL_INTERVAL_S = 0.05
#: Pending connections the listening socket queues.
LISTEN_BACKLOG = 128
SERVER_NAME = "leadsync-sandbox"
#: Longest request or header line, and most headers, accepted.
MAX_LINE = 65536
MAX_HEADERS = 100
#: Largest request body accepted (an add-lead body is a few hundred bytes).
MAX_BODY = 1_000_000
#: Longest a client may take to finish the TLS handshake (HTTPS sandboxes only).
TLS_HANDSHAKE_TIMEOUT_S = 10.0


class _Handler(BaseHTTPRequestHandler):
    """Keep-alive request loop with a lean parser (the stdlib's email-based header parser
    costs more than the whole API call)."""

    protocol_version = "HTTP/1.1"
    server_version = SERVER_NAME
    server: _Server

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            # In this connection's thread, not in accept(): a slow or refusing client (one
            # that does not trust the certificate) must not hold up the serving loop. A failed
            # handshake raises SSLError (an OSError), which handle_error drops quietly.
            self.request.settimeout(TLS_HANDSHAKE_TIMEOUT_S)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()
        # Small answers must not wait for a delayed ACK (Nagle + keep-alive = 40 ms stalls).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.request)
        self.server.app.stats.record_connection()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.request)

    def handle_one_request(self) -> None:
        self.command = ""  # until the request line is parsed (error answers read it)
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            self.close_connection = True
            return
        if line in (b"\r\n", b"\n"):  # tolerate a stray empty line between requests
            return
        parts = line.decode("latin-1").split()
        if len(line) > MAX_LINE or len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._bad_request("malformed request line")
            return
        self.command, self.path, self.request_version = parts
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            raw = self.rfile.readline(MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep or len(raw) > MAX_LINE:
                self._bad_request("malformed header")
                return
            headers[name.strip().lower()] = value.strip()
        else:
            self._bad_request("too many headers")
            return
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        self._serve(headers)

    def _bad_request(self, detail: str, status: int = 400) -> None:
        self.close_connection = True
        self._write(Response(status, {"message": INVALID, "detail": detail}))

    def _serve(self, headers: dict[str, str]) -> None:
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or "chunked" in headers.get("transfer-encoding", "").lower():
            # Cannot find the end of the body: answer and drop the connection.
            self._bad_request("a body needs a Content-Length")
            return
        if length > MAX_BODY:
            self._bad_request("body too large", 413)
            return
        if length and headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for this
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request = Request(self.command, unquote(parts.path), query, headers, body)
        response = self.server.app.handle(request)
        self.server.app.stats.record_call(
            self.command, request.path, headers.get("x-account-id"), response.status
        )
        self._write(response)
        if self.server.verbose:
            self.server.log(
                f"{self.client_address[0]} {self.command} {self.path} -> {response.status}"
            )

    def _write(self, response: Response) -> None:
        body = response.body()
        status = response.status
        lines = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            f"Date: {_http_date(int(time.time()))}",
            f"Server: {SERVER_NAME}",
        ]
        lines += [f"{k}: {v}" for k, v in response.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # A HEAD answer has the headers of the full answer and no body.
        self.wfile.write(head if self.command == "HEAD" else head + body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            self.server.log(format % args)


@functools.lru_cache(maxsize=1)  # the Date header formatted once a second, not once a request
def _http_date(second: int) -> str:
    return formatdate(second, usegmt=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self, address: tuple[str, int], app: SandboxApp, *, verbose: bool, stderr: TextIO
    ) -> None:
        self.app = app
        self.verbose = verbose
        self._stderr = stderr
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn): skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

    def close_connections(self) -> None:
        """Shut down every open keep-alive connection so its thread ends."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        err = sys.exc_info()[1]
        if isinstance(err, OSError):  # the client went away (reset, broken pipe, our stop())
            if self.verbose:
                self.log(f"{client_address[0]} connection dropped: {err!r}")
            return
        super().handle_error(request, client_address)  # a sandbox bug: print the traceback

    def log(self, line: str) -> None:
        print(f"[sandbox] {line}", file=self._stderr, flush=True)


def _tls_context(cfg: SandboxConfig) -> ssl.SSLContext | None:
    """The server-side TLS context of ``cfg`` (None: plain HTTP); ConfigError when unusable."""
    if cfg.tls_cert is None or cfg.tls_key is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile=cfg.tls_cert, keyfile=cfg.tls_key)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(
            f"sandbox TLS: cannot load {cfg.tls_cert} / {cfg.tls_key}: {err}"
        ) from None
    return context


class Sandbox:
    """A stand-in Campaigns API on a real HTTP server (see ``SandboxConfig`` for the knobs).

    Use as a context manager (or ``start()``/``stop()``). ``state`` holds the data
    (:class:`SandboxState`), ``stats`` the counters (:class:`SandboxStats`). With a
    ``state_file`` the state is loaded at construction (when the file exists), saved at most
    ``persist_interval_s`` after each change, and saved on stop.
    Raises ConfigError for bad knobs, ValueError for an unreadable state file, OSError when
    the port cannot be bound.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        state: SandboxState | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        stderr: TextIO | None = None,
    ) -> None:
        self._config = config or SandboxConfig()
        self.state = state or SandboxState(self._config.account_id, seed=self._config.seed)
        self.stats = SandboxStats()
        self.app = SandboxApp(self._config, self.state, self.stats, clock=clock, sleep=sleep)
        self._stderr = stderr or sys.stderr
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._persister: threading.Thread | None = None
        self._stopping = threading.Event()
        path = self._config.state_file
        if path is not None and Path(path).exists():
            self.state.load(path)

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Bind and serve in a background thread; returns self. Idempotent."""
        if self._server is not None:
            return self
        cfg = self._config
        context = _tls_context(cfg)  # before binding: a bad certificate leaves no port bound
        self._server = _Server(
            (cfg.host, cfg.port), self.app, verbose=cfg.verbose, stderr=self._stderr
        )
        if context is not None:
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_S},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        if cfg.state_file is not None:
            self._persister = threading.Thread(
                target=self._persist_loop, name=f"sandbox-persist-{self.port}", daemon=True
            )
            self._persister.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and save the state file. Idempotent."""
        server, self._server = self._server, None
        self._stopping.set()
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._persister is not None:
            self._persister.join()
            self._persister = None
        self.save()

    def save(self) -> None:
        """Write the state file now (when there is one and something changed)."""
        path = self._config.state_file
        if path is not None and self.state.dirty:
            self.state.save(path)

    def _persist_loop(self) -> None:
        while not self._stopping.wait(self._config.persist_interval_s):
            try:
                self.save()
            except OSError as err:  # keep serving; say why the file is stale
                print(f"[sandbox] cannot save state: {err}", file=self._stderr, flush=True)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- where and how -------------------------------------------------------------------
    @property
    def config(self) -> SandboxConfig:
        """The knobs in force."""
        return self._config

    @property
    def host(self) -> str:
        return self._config.host

    @property
    def port(self) -> int:
        """The bound port (RuntimeError before start)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._server.server_address[1])

    @property
    def scheme(self) -> str:
        """``https`` when the sandbox was given a TLS certificate, else ``http``."""
        return "https" if self._config.tls_cert is not None else "http"

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (``https://`` with a TLS certificate) of the running server."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """The full URL of ``path`` (which starts with ``/``)."""
        return self.base_url + path

    def configure(self, **knobs: Any) -> SandboxConfig:
        """Change knobs at runtime (e.g. ``fail_rate=0.1``); returns the new config.

        host, port and state_file take effect only on the next start.
        Raises ConfigError for an unknown knob or a value out of range.
        """
        self._config = self._config.replace(**knobs)
        self.app.configure(self._config)
        if self._server is not None:
            self._server.verbose = self._config.verbose
        return self._config

    def issue_token(self, account_id: str | None = None) -> str:
        """A bearer token as login would give (default: the configured account)."""
        return self.app.issue_token(account_id or self._config.account_id)

    def expire_tokens(self) -> None:
        """Invalidate every issued token now (the next call with one answers 401)."""
        self.app.expire_tokens()

    def auth_headers(self, account_id: str | None = None) -> dict[str, str]:
        """Authorization (a fresh token) and X-Account-ID headers for direct calls."""
        account_id = account_id or self._config.account_id
        return {
            "Authorization": f"Bearer {self.issue_token(account_id)}",
            "X-Account-ID": account_id,
        }
