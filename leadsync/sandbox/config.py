"""SandboxConfig: the sandbox's account, credentials and fault knobs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..models import DEFAULT_STATUSES

#: Styles of the ``next_start_key`` field on the last page of a leads listing.
LAST_PAGE_STYLES: tuple[str, ...] = ("absent", "null", "empty")
#: Query parameters a server may read the page key from (the document vs stock Kazoo).
PAGE_KEY_PARAMS: tuple[str, ...] = ("next_start_key", "start_key")
#: Verbs the add-lead path may be served with.
ADD_METHODS: tuple[str, ...] = ("PUT", "POST")


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Everything a :class:`~leadsync.sandbox.Sandbox` can be told.

    The demo credentials are not secrets: they open a local stand-in server only.
    Change knobs of a running sandbox with ``Sandbox.configure(**knobs)``.
    Raises :class:`~leadsync.errors.ConfigError` when a knob is out of range.
    """

    username: str = "demo"
    password: str = "demo-password"
    domain: str = "demo"
    account_id: str = "acct-demo"
    api_key: str | None = "demo-api-key"
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port chosen by the system
    #: PEM certificate (chain) and private key: serve HTTPS instead of HTTP (both or neither).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Milliseconds added to every request.
    latency_ms: float = 0.0
    #: Share of requests (any route but login) answered 503 with nothing committed.
    fail_rate: float = 0.0
    #: Share of successful writes that are committed and then answered 500.
    ambiguous_rate: float = 0.0
    #: Requests per second allowed (token bucket); beyond it 429 with Retry-After.
    rate_limit_rps: float | None = None
    #: Requests the bucket lets through at once; None: one second's worth (at least 1).
    rate_limit_burst: float | None = None
    #: Seconds a bearer token stays valid; afterwards 401.
    token_ttl_s: float = 3600.0
    #: Requests a bearer token is good for; afterwards 401 (None: no limit; 0: every token is
    #: refused). Expiry by count makes re-logins happen however fast the client runs.
    token_uses: int | None = None
    #: Every Nth request (any route but login) is answered 429 with Retry-After: 1 (None:
    #: never): throttling by count, whatever the client's speed.
    throttle_every: int | None = None
    #: Most leads the server returns on one page, whatever page_size asks.
    page_cap: int = 1000
    #: Leads per page when the request gives no page_size.
    default_page_size: int = 50
    #: What the last page carries: no next_start_key, null, or "".
    last_page_style: str = "absent"
    #: Fault: the server ignores the page key and serves page 1 again and again.
    repeat_key: bool = False
    #: The query parameter the page key is read from; the other name is ignored.
    page_key_param: str = "next_start_key"
    #: Verbs accepted for add lead; the others answer 405.
    add_methods: tuple[str, ...] = ("PUT",)
    #: Statuses a lead may be set to.
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    #: Seed of every random choice (ids, faults, activity) so that runs repeat.
    seed: int = 0
    #: JSON file the state is loaded from and saved to (atomically); None: memory only.
    state_file: Path | None = None
    #: Longest delay between a change and its save to ``state_file``.
    persist_interval_s: float = 1.0
    #: Log every request to stderr.
    verbose: bool = False

    def __post_init__(self) -> None:
        # Accept lists and lower-case verbs from callers; store canonical values.
        object.__setattr__(self, "add_methods", tuple(m.upper() for m in self.add_methods))
        object.__setattr__(self, "statuses", tuple(self.statuses))
        for name in ("state_file", "tls_cert", "tls_key"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)))
        problems = []
        for name in ("fail_rate", "ambiguous_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name} must be between 0 and 1, got {value}")
        if self.latency_ms < 0:
            problems.append(f"latency_ms must be >= 0, got {self.latency_ms}")
        if self.rate_limit_rps is not None and self.rate_limit_rps <= 0:
            problems.append(f"rate_limit_rps must be > 0 or None, got {self.rate_limit_rps}")
        if self.rate_limit_burst is not None and self.rate_limit_burst < 1:
            problems.append(f"rate_limit_burst must be >= 1 or None, got {self.rate_limit_burst}")
        if self.throttle_every is not None and self.throttle_every < 1:
            problems.append(f"throttle_every must be >= 1 or None, got {self.throttle_every}")
        if self.token_ttl_s <= 0:
            problems.append(f"token_ttl_s must be > 0, got {self.token_ttl_s}")
        if self.token_uses is not None and self.token_uses < 0:
            problems.append(f"token_uses must be >= 0 or None, got {self.token_uses}")
        if self.page_cap < 1 or self.default_page_size < 1:
            problems.append("page_cap and default_page_size must be >= 1")
        if self.last_page_style not in LAST_PAGE_STYLES:
            problems.append(f"last_page_style must be one of {', '.join(LAST_PAGE_STYLES)}")
        if self.page_key_param not in PAGE_KEY_PARAMS:
            problems.append(f"page_key_param must be one of {', '.join(PAGE_KEY_PARAMS)}")
        if not self.add_methods or set(self.add_methods) - set(ADD_METHODS):
            problems.append(f"add_methods must be a non-empty subset of {ADD_METHODS}")
        if not self.statuses:
            problems.append("statuses must not be empty")
        if not 0 <= self.port <= 65535:
            problems.append(f"port must be 0..65535, got {self.port}")
        if (self.tls_cert is None) != (self.tls_key is None):
            problems.append("tls_cert and tls_key go together: give both or neither")
        if problems:
            raise ConfigError("invalid sandbox settings: " + "; ".join(problems))

    def replace(self, **knobs: Any) -> SandboxConfig:
        """A copy with ``knobs`` changed (validated); ConfigError naming unknown knobs."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(knobs) - known)
        if unknown:
            raise ConfigError(f"unknown sandbox knob(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **knobs)
