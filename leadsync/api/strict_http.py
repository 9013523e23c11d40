"""Answers read strictly on the threaded path: the urllib3 pools leadsync sends through.

``http.client`` (under urllib3) is lenient in two ways that can turn a refused or unknown
write into a success, where the event-loop path (:mod:`.aio`) is strict:

- it skips only ``100 Continue``: any other interim answer (``103 Early Hints``) is taken for
  the final one, and the real answer — a refusal, say — is never read;
- the end of the stream inside the header block is taken for its end: an answer cut after
  ``HTTP/1.1 200 OK`` reads as a whole, empty success.

:data:`POOL_CLASSES` are urllib3's pools with a connection whose response class reads past
every interim answer (RFC 9110 §15.2: 1xx but 101) and raises ``IncompleteRead`` for headers
cut short — which the transport maps, as any answer cut short, to "connection lost after the
request was sent" (an add is then uncertain, never repeated blindly).
"""

from __future__ import annotations

import http.client
from typing import Any

from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class _WatchedFile:
    """A response's socket file that notes when a ``readline`` met the end of the stream."""

    __slots__ = ("_fp", "ended")

    def __init__(self, fp: Any) -> None:
        self._fp = fp
        self.ended = False

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._fp.readline(limit)
        if not line:
            self.ended = True
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fp, name)


class StrictResponse(http.client.HTTPResponse):
    """``http.client.HTTPResponse`` that skips every interim answer and refuses a header
    block cut short by the end of the stream."""

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            # 100 is skipped by begin() itself; 101 ends HTTP on this connection.
            if not 102 <= status < 200:
                return version, status, reason
            http.client._read_headers(self.fp)  # type: ignore[attr-defined]  # the hints

    def begin(self) -> None:
        raw = self.fp
        watched = _WatchedFile(raw)
        self.fp = watched  # type: ignore[assignment]
        try:
            super().begin()
        finally:
            if self.fp is watched:  # begin() may have closed it (set None)
                self.fp = raw
        if watched.ended:  # the status line's own end is RemoteDisconnected, raised above
            raise http.client.IncompleteRead(b"", None)


_STRICT: dict[type, type] = {}


def strict_connection_class(base: type) -> type:
    """``base`` (urllib3's connection class, or whatever stands in for it — vcrpy patches
    it in tests) reading answers with :class:`StrictResponse`; named as ``base``, since
    error messages quote the connection's class name."""
    cls = _STRICT.get(base)
    if cls is None:
        namespace = {"response_class": StrictResponse, "__module__": __name__}
        cls = _STRICT[base] = type(base.__name__, (base,), namespace)
    return cls


class StrictHTTPConnectionPool(HTTPConnectionPool):
    @property
    def ConnectionCls(self) -> type:  # type: ignore[override]  # read at each new connection
        return strict_connection_class(HTTPConnectionPool.ConnectionCls)


class StrictHTTPSConnectionPool(HTTPSConnectionPool):
    @property
    def ConnectionCls(self) -> type:  # type: ignore[override]  # read at each new connection
        return strict_connection_class(HTTPSConnectionPool.ConnectionCls)


#: For ``PoolManager.pool_classes_by_scheme`` (a proxy manager's pools included).
POOL_CLASSES: dict[str, type[HTTPConnectionPool]] = {
    "http": StrictHTTPConnectionPool,
    "https": StrictHTTPSConnectionPool,
}
