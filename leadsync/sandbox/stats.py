"""SandboxStats: what the sandbox was asked and what it did, for tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any, NamedTuple

#: Routes that change state.
WRITE_ROUTES: frozenset[str] = frozenset({"add", "status", "delete", "voicemail"})
#: Requests kept in ``SandboxStats.calls`` (the most recent; older ones are dropped).
CALL_LOG_SIZE = 100_000


class Call(NamedTuple):
    """One request as it came over the wire: verb, path (no query), X-Account-ID, answer."""

    method: str
    path: str
    account_id: str | None
    status: int


class SandboxStats:
    """Counters, updated by the server threads; read them at any time.

    ``by_route``: requests by (method, route), e.g. ``("PUT", "add")``; unknown paths count
    as route ``"unknown"``. ``by_status``: answers by HTTP status. ``writes``: write calls
    received (add/status/delete/voicemail, whatever their outcome). ``committed``: writes that
    changed the state. ``faults``: injected faults by kind (``fail``, ``ambiguous``,
    ``rate_limited``, ``repeat_key``). ``requests``: every request. ``connections``: TCP
    connections accepted (keep-alive clients open few). ``calls``: the last
    ``CALL_LOG_SIZE`` requests served over HTTP (:class:`Call`), for tests that check what a
    client sent (which account, which campaign); ``by_account``: requests by X-Account-ID
    (``None`` when the header was missing).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def record_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def record_request(self, method: str, route: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_route[(method, route)] += 1
            if route in WRITE_ROUTES:
                self.writes += 1

    def record_call(self, method: str, path: str, account_id: str | None, status: int) -> None:
        with self._lock:
            self.calls.append(Call(method, path, account_id, status))
            self.by_account[account_id] += 1

    def record_status(self, status: int) -> None:
        with self._lock:
            self.by_status[status] += 1

    def record_fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def record_commit(self) -> None:
        with self._lock:
            self.committed += 1

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self.by_route: Counter[tuple[str, str]] = Counter()
            self.by_status: Counter[int] = Counter()
            self.faults: Counter[str] = Counter()
            self.writes = 0
            self.committed = 0
            self.requests = 0
            self.connections = 0
            self.calls: deque[Call] = deque(maxlen=CALL_LOG_SIZE)
            self.by_account: Counter[str | None] = Counter()

    def as_dict(self) -> dict[str, Any]:
        """A snapshot as plain data (route keys written ``"METHOD route"``)."""
        with self._lock:
            return {
                "requests": self.requests,
                "connections": self.connections,
                "writes": self.writes,
                "committed": self.committed,
                "faults": dict(self.faults),
                "by_status": dict(self.by_status),
                "by_route": {f"{m} {r}": n for (m, r), n in sorted(self.by_route.items())},
            }
