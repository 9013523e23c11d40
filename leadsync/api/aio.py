"""HTTP/1.1 on one asyncio event loop: how the apply engine sends thousands of writes.

Why: applying a plan is thousands of small calls, each waiting tens of milliseconds on the
portal. With one thread per connection the client's CPU per call — GIL hand-offs and thread
wake-ups, more than the HTTP work itself — capped the rate well below what the concurrency
allows (``bench/bench_apply.py``: 2,000 adds at 20 ms and concurrency 16 reach 74–79 % of the
ideal rate on threads, 89 % on one event loop; ~1.24 against ~0.74 ms of the process's CPU
per add, engine included). :class:`AsyncTransport` keeps ``pool_size`` keep-alive
connections to the portal on one loop and sends each request as one write.

It is the same contract as :meth:`leadsync.api.transport.Transport.send`, built from the same
parts (request preparation, error mapping, TLS settings), so a failure gives the same error
type and message whichever path sent it:

- nothing was sent — DNS, refused, connect timeout, TLS handshake: ``ConnectError`` (a refused
  certificate: ``UnreachableError`` with advice, as retrying cannot help);
- sent, and no complete answer — read timeout, connection lost or reset, a garbled answer:
  ``TimeoutError_`` (the request may have been applied: an add is then *uncertain*);
- an answer: the response for 2xx and 401, else the typed error of its status.

Only direct connections are handled here (no proxy, no injected requests Session: see
:attr:`Transport.direct`); the client falls back to its threaded path otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import re
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.client import BadStatusLine, HTTPException
from http.client import IncompleteRead as ChunksCutShort
from os.path import isdir
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    IncompleteRead,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.util.wait import wait_for_read

from ..errors import ApiError, TerminalError
from .transport import HttpResponse, Transport, _root_cause

#: Longest status line or header line accepted, and most header lines (as http.client).
MAX_LINE_BYTES = 65536
MAX_HEADERS = 100
#: Statuses that never carry a body.
NO_BODY_STATUSES = frozenset({204, 304})
#: Largest answer body read into memory (writes get a few bytes back).
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Bytes asked for per read of a body that ends with the connection.
READ_CHUNK_BYTES = 64 * 1024
T = TypeVar("T")


class _Garbled(Exception):
    """The server's answer is not HTTP/1.1 as we can read it (after the request was sent)."""


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        """False once the server closed it (or it broke, or sent something unasked) while it
        sat idle. The socket itself is asked too, as urllib3 does before reusing one: the
        loop may not have read the server's FIN yet (it was busy), and a request sent into
        a connection the server already closed would fail *after sending* — an add would
        be reported uncertain though the server never saw it."""
        if self.reader.at_eof() or self.writer.is_closing() or self.reader.exception():
            return False
        if getattr(self.reader, "_buffer", None):  # bytes nobody asked for: not in step
            return False
        sock = self.writer.get_extra_info("socket")
        return sock is None or not wait_for_read(sock, timeout=0.0)

    def close(self) -> None:
        """Drop the connection at once, as urllib3 does (no TLS close-notify to wait for):
        the socket is closed on the loop's next iteration, whether or not the loop runs
        on after that."""
        with contextlib.suppress(Exception):
            self.writer.transport.abort()


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """The TLS settings of the threaded path (:func:`leadsync.api.transport.build_pool`):
    certifi's CAs (requests' bundle) for True, that CA file or folder for a path, no
    verification for False; TLS 1.2 at least."""
    if verify is False:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ca = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
        ctx = ssl.create_default_context(
            cafile=None if isdir(ca) else ca, capath=ca if isdir(ca) else None
        )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class AsyncTransport:
    """Sends single requests to the origin of ``transport`` from one asyncio loop.

    Use it from the loop it was first used on; :meth:`aclose` closes its connections.
    Up to ``pool_size`` idle connections are kept for reuse (more are opened when needed).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        pool_size: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not transport.direct:
            raise ValueError("AsyncTransport sends only directly to the portal (no proxy)")
        self._sync = transport
        self._clock = clock
        self._pool_size = pool_size
        self._timeout = transport.timeout_s
        parts = urlsplit(transport.base_url)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._tls else 80)
        default_port = self._port == (443 if self._tls else 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._host_header = host if default_port else f"{host}:{self._port}"
        self._ssl = tls_context(transport.verify) if self._tls else None
        self._idle: list[_Connection] = []
        self._helper: ThreadPoolExecutor | None = None

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking ``fn(*args)`` (a login through the threaded transport) on this
        transport's one helper thread, in the caller's context, without stalling the loop.
        One thread: logins are one at a time anyway, and every thread costs address space."""
        if self._helper is None:
            self._helper = ThreadPoolExecutor(1, thread_name_prefix="leadsync-login")
        ctx = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._helper, ctx.run, fn, *args)

    async def aclose(self) -> None:
        """Close every idle connection (and the helper thread); later sends open new ones."""
        if self._helper is not None:
            helper, self._helper = self._helper, None
            helper.shutdown(wait=False)
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        await asyncio.sleep(0)  # one loop iteration: the aborted sockets close in it

    async def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """One request; the contract of :meth:`Transport.send` (module docstring)."""
        started = self._clock()
        target, sent, body = self._sync.prepare(method, path, headers, params, json)
        head = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
        head += [f"{k}: {v}" for k, v in sent.items()]
        try:
            data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        except UnicodeEncodeError as err:  # urllib3/http.client refuse such a header too
            raise TerminalError(
                f"request failed: {self._sync.redact(str(err))}", method=method, endpoint=path
            ) from None
        if body:
            data += body
        conn = await self._connection(method, path)
        try:
            conn.writer.write(data)
            async with asyncio.timeout(self._timeout):
                await conn.writer.drain()
                status, reason, answer_headers, keep_alive = await self._read_head(conn)
                content = await self._read_body(conn, method, status, answer_headers)
        except TimeoutError:
            conn.close()
            raise self._sync.no_answer({"method": method, "endpoint": path}) from None
        except (OSError, EOFError, HTTPException, _Garbled, ValueError) as err:
            conn.close()
            detail = self._sync.redact(_describe(err))
            raise self._sync.connection_lost(detail, {"method": method, "endpoint": path}) from None
        except BaseException:  # cancelled mid-exchange: the connection's state is unknown
            conn.close()
            raise
        if keep_alive and conn.usable() and len(self._idle) < self._pool_size:
            self._idle.append(conn)
        else:
            conn.close()
        response = HttpResponse(
            status,
            reason,
            answer_headers,
            content,
            self._sync.base_url + target,
            self._clock() - started,
        )
        return self._sync.settle(method, path, response, started)

    # --- connections ---------------------------------------------------------------------
    async def _connection(self, method: str, path: str) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                return conn
            conn.close()
        ctx: dict[str, Any] = {"method": method, "endpoint": path}
        try:
            async with asyncio.timeout(self._timeout):
                reader, writer = await asyncio.open_connection(
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._tls else None,
                    limit=MAX_LINE_BYTES,
                )
        except ssl.SSLError as err:
            detail = self._sync.redact(_describe(err))
            raise self._sync.tls_error(err, detail, ctx) from None
        except OSError as err:  # refused, unreachable, DNS, timed out (TimeoutError)
            failure = self._as_urllib3(err)
            raise self._sync._map_urllib3_error(method, path, failure) from None
        return _Connection(reader, writer)

    def _as_urllib3(self, err: OSError) -> Exception:
        """The error urllib3 raises for the same failure to connect, so that the threaded
        path's mapping (:meth:`Transport._map_urllib3_error`) gives the same message."""
        conn = (HTTPSConnection if self._tls else HTTPConnection)(self._host, self._port)
        if isinstance(err, socket.gaierror):
            return NameResolutionError(self._host, conn, err)
        if isinstance(err, TimeoutError):
            message = f"Connection to {self._host} timed out. (connect timeout={self._timeout})"
            return ConnectTimeoutError(conn, message)
        return NewConnectionError(conn, f"Failed to establish a new connection: {_plain(err)}")

    # --- reading an answer ---------------------------------------------------------------
    async def _read_head(self, conn: _Connection) -> tuple[int, str, urllib3.HTTPHeaderDict, bool]:
        while True:
            line = await conn.reader.readline()
            if not line:
                raise EOFError("Remote end closed connection without response")
            version, status, reason = _status_line(line)
            headers = await _read_headers(conn.reader)
            if 100 <= status < 200 and status != 101:
                continue  # an interim answer (100 Continue): the real one follows
            break
        connection = headers.get("Connection", "").lower()
        if version == "HTTP/1.0":
            keep_alive = "keep-alive" in connection
        else:
            keep_alive = "close" not in connection
        return status, reason, headers, keep_alive

    async def _read_body(
        self, conn: _Connection, method: str, status: int, headers: urllib3.HTTPHeaderDict
    ) -> bytes:
        if method == "HEAD" or status in NO_BODY_STATUSES or 100 <= status < 200:
            return b""
        reader = conn.reader
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            body = await _read_chunked(reader)
        elif (length := headers.get("Content-Length")) is not None:
            try:
                size = int(length.split(",")[0].strip())
            except ValueError:
                raise _Garbled(f"invalid Content-Length {length!r}") from None
            if size < 0 or size > MAX_BODY_BYTES:
                raise _Garbled(f"Content-Length {size} out of range")
            try:
                body = await reader.readexactly(size)
            except asyncio.IncompleteReadError as err:  # urllib3's error, for its message
                raise IncompleteRead(len(err.partial), size - len(err.partial)) from None
        else:  # the body ends with the connection
            body = await _read_to_end(reader)
            conn.close()
        return _decode(body, headers.get("Content-Encoding", ""))


def _status_line(line: bytes) -> tuple[str, int, str]:
    """Version, status and reason, read as http.client reads them (and refused with its
    ``BadStatusLine``, so that the message is the threaded path's)."""
    if len(line) > MAX_LINE_BYTES:
        raise _Garbled("status line too long")
    text = line.decode("iso-8859-1")
    version, code, reason = [*text.split(None, 2), "", ""][:3]
    try:
        status = int(code)
    except ValueError:
        raise BadStatusLine(text) from None
    if not version.startswith("HTTP/1.") or not 100 <= status <= 999:
        raise BadStatusLine(text)
    return version, status, reason.strip()


async def _read_headers(reader: asyncio.StreamReader) -> urllib3.HTTPHeaderDict:
    headers = urllib3.HTTPHeaderDict()
    for _ in range(MAX_HEADERS + 1):
        line = await reader.readline()
        if not line:
            raise EOFError("connection closed inside the answer's headers")
        if line in (b"\r\n", b"\n"):
            return headers
        name, sep, value = line.decode("iso-8859-1").partition(":")
        if not sep or not name or name != name.strip():
            raise _Garbled(f"invalid header line {line[:80]!r}")
        headers.add(name, value.strip())
    raise _Garbled(f"more than {MAX_HEADERS} headers")


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked body, read as http.client reads it on the threaded path: a body cut short
    or a chunk size that is not a number is its ``IncompleteRead`` (of the whole chunks
    read); the CRLF after a chunk is not checked; a trailer cut short is let pass."""
    parts: list[bytes] = []
    total = 0
    try:
        while True:
            line = await reader.readline()
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                raise ChunksCutShort(b"") from None
            if size == 0:
                break
            total += size
            if total > MAX_BODY_BYTES:
                raise _Garbled("chunked body too large")
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)  # the CRLF that ends the chunk
    except (asyncio.IncompleteReadError, ChunksCutShort):
        raise ChunksCutShort(b"".join(parts)) from None
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass  # a trailer field
    return b"".join(parts)


async def _read_to_end(reader: asyncio.StreamReader) -> bytes:
    """Everything up to the end of the stream (``read(n)`` returns what has arrived so far:
    a body in several packets would be cut short)."""
    parts: list[bytes] = []
    total = 0
    while chunk := await reader.read(READ_CHUNK_BYTES):
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise _Garbled("answer body too large")
        parts.append(chunk)
    return b"".join(parts)


def _decode(body: bytes, encoding: str) -> bytes:
    """The body with its Content-Encoding undone (gzip, deflate), as urllib3 does."""
    encoding = encoding.strip().lower()
    if not body or encoding in ("", "identity"):
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:  # raw deflate, as some servers send it
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except zlib.error as err:
        raise _Garbled(f"answer body could not be decoded ({encoding}): {err}") from None
    return body  # an encoding we did not ask for: left as sent


def _plain(err: OSError) -> OSError:
    """asyncio's connect error as ``socket.connect`` raises it, which urllib3's message
    quotes (``[Errno 111] Connection refused``, not ``Connect call failed (…)``); of
    several addresses tried, the last one's, as urllib3 reports it."""
    code = err.errno
    if code is None:  # asyncio's "Multiple exceptions: …" of several addresses
        found = re.findall(r"\[Errno (-?\d+)\]", str(err))
        code = int(found[-1]) if found else None
    return OSError(code, os.strerror(code)) if code else err


def _describe(err: BaseException) -> str:
    if isinstance(err, ApiError):
        return str(err)
    text = _root_cause(err)
    return text if text != type(err).__name__ else repr(err)
