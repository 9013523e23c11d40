"""The sandbox's API: routing, auth, fault injection and the nine endpoints.

Transport-free: :meth:`SandboxApp.handle` turns a :class:`Request` into a :class:`Response`,
so the HTTP server (``server.py``) only moves bytes. Paths, verbs, headers, status codes and
payloads follow ``docs/design.md`` and the vendor document.

Order of checks for every request: route known (404) → count it → latency → rate limit (429
with Retry-After) → verb allowed (405) → transient failure (503, any route but login, nothing
committed) → auth (401 no/expired token, 400 no X-Account-ID, 403 another account) → the
endpoint (400 on bad input or an id of another account) → for a committed write, the
ambiguous fault (500 although committed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import SandboxConfig
from .leads import INT_KEYS, STR_KEYS
from .state import Account, SandboxState
from .stats import WRITE_ROUTES, SandboxStats

log = logging.getLogger(__name__)

#: The messages the document gives for its two error statuses.
INVALID = "The information sent is invalid."
INTERNAL = "Error due to an internal issue."
UNAUTHORIZED = "Invalid or expired token."
FORBIDDEN = "This account is not accessible with these credentials."
UNAVAILABLE = "Service temporarily unavailable."
THROTTLED = "Too many requests."
NOT_FOUND = "Not found."
NOT_ALLOWED = "Method not allowed."
#: Activity endpoint: dates above this are milliseconds (the document's example sends ms).
MS_THRESHOLD = 100_000_000_000
#: Expired tokens are purged once this many tokens are held.
TOKEN_PURGE_AT = 10_000
_TOKEN_BYTES = 24


class FaultDice:
    """Seeded coin flips shared by the server threads (deterministic when single-threaded)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def hit(self, rate: float) -> bool:
        """True with probability ``rate`` (never when rate is 0, always when it is 1)."""
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate


class TokenBucket:
    """``rate`` requests per second with a burst of ``burst`` (default one second's worth,
    at least one). It starts full."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.capacity = max(1.0, rate if burst is None else burst)
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take a token: 0.0 when granted, else the seconds until one is available."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate


def retry_after_header(wait_s: float) -> str:
    """Retry-After in whole seconds (HTTP allows no fractions), at least 1."""
    return str(max(1, math.ceil(wait_s)))


@dataclass(slots=True)
class Request:
    """One HTTP request. ``headers`` are keyed by lower-case names."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(slots=True)
class Response:
    """One answer: status, a JSON payload (always a body), extra headers, route name."""

    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    route: str = "unknown"

    def body(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":")).encode()


def _error(status: int, message: str, detail: str | None = None, **headers: str) -> Response:
    payload = {"message": message}
    if detail:
        payload["detail"] = detail
    return Response(status, payload, dict(headers))


class _Invalid(Exception):
    """A 400 with a detail saying why."""


@dataclass(frozen=True, slots=True)
class _Route:
    name: str
    pattern: re.Pattern[str]
    methods: tuple[str, ...] | None  # None: the add verbs from the config


ROUTES: tuple[_Route, ...] = (
    _Route("login", re.compile(r"^/api/v2/login$"), ("POST",)),
    _Route("campaigns", re.compile(r"^/api/v2/reports/campaigns/leads/status$"), ("GET",)),
    _Route("activity", re.compile(r"^/api/v2/reports/campaigns/leads/history$"), ("GET",)),
    _Route(
        "status", re.compile(r"^/api/v2/config/campaigns/leads/([^/]+)/status/([^/]+)$"), ("POST",)
    ),
    _Route("delete", re.compile(r"^/api/v2/config/campaigns/leads/([^/]+)$"), ("DELETE",)),
    _Route(
        "voicemail",
        re.compile(r"^/api/v2/config/campaigns/call/([^/]+)/disposition/voicemail$"),
        ("PUT",),
    ),
    _Route("leads", re.compile(r"^/api/v2/config/campaigns/([^/]+)/leads$"), ("GET",)),
    _Route("add", re.compile(r"^/api/v2/config/campaigns/([^/]+)/lead$"), None),
    _Route("queues", re.compile(r"^/callcenter/queues/status$"), ("GET",)),
)


class SandboxApp:
    """The API behind the sandbox's HTTP server. Thread-safe."""

    def __init__(
        self,
        config: SandboxConfig,
        state: SandboxState,
        stats: SandboxStats,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state = state
        self.stats = stats
        self._clock = clock
        self._sleep = sleep
        self._dice = FaultDice(config.seed)
        self._tokens: dict[str, tuple[str, float]] = {}
        self._token_uses: dict[str, int] = {}
        self._tokens_lock = threading.Lock()
        self._requests_seen = 0  # for throttle_every
        self._bucket: TokenBucket | None = None
        self.config = config
        self.configure(config)

    # --- knobs and tokens ----------------------------------------------------------------
    def configure(self, config: SandboxConfig) -> None:
        """Use ``config`` from the next request on (the primary account is (re)registered)."""
        if config.rate_limit_rps is None:
            self._bucket = None
        elif (
            self._bucket is None
            or self._bucket.rate != config.rate_limit_rps
            or self._bucket.burst != config.rate_limit_burst
        ):
            self._bucket = TokenBucket(
                config.rate_limit_rps, config.rate_limit_burst, clock=self._clock
            )
        if config.seed != self.config.seed:
            self._dice = FaultDice(config.seed)
        self.config = config
        self.state.add_account(
            config.account_id,
            username=config.username,
            password=config.password,
            domain=config.domain,
            api_key=config.api_key,
        )

    def issue_token(self, account_id: str) -> str:
        """A new bearer token for ``account_id``, valid for ``token_ttl_s``."""
        token = secrets.token_hex(_TOKEN_BYTES)
        now = self._clock()
        with self._tokens_lock:
            if len(self._tokens) >= TOKEN_PURGE_AT:
                self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
                self._token_uses = {t: n for t, n in self._token_uses.items() if t in self._tokens}
            self._tokens[token] = (account_id, now + self.config.token_ttl_s)
            self._token_uses[token] = 0
        return token

    def expire_tokens(self) -> None:
        """Make every issued token invalid (the next call with one answers 401)."""
        with self._tokens_lock:
            self._tokens.clear()
            self._token_uses.clear()

    # --- dispatch ------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        """Answer one request (never raises for bad input: every problem is a status)."""
        route, match, allowed = self._match(req)
        self.stats.record_request(req.method, route)
        try:
            response = self._handle(req, route, match, allowed)
        except Exception:  # a sandbox bug must still answer, never leave the client hanging
            log.exception("sandbox error on %s %s", req.method, req.path)
            response = _error(500, INTERNAL)
        response.route = route
        self.stats.record_status(response.status)
        return response

    def _match(self, req: Request) -> tuple[str, re.Match[str] | None, tuple[str, ...]]:
        allowed: tuple[str, ...] = ()
        first: tuple[str, re.Match[str]] | None = None
        for r in ROUTES:
            m = r.pattern.match(req.path)
            if m is None:
                continue
            methods = r.methods if r.methods is not None else self.config.add_methods
            if req.method in methods:
                return r.name, m, methods
            allowed += methods
            first = first or (r.name, m)
        if first is None:
            return "unknown", None, ()
        return first[0], None, allowed

    def _handle(
        self, req: Request, route: str, match: re.Match[str] | None, allowed: tuple[str, ...]
    ) -> Response:
        cfg = self.config
        if cfg.latency_ms > 0:
            self._sleep(cfg.latency_ms / 1000.0)
        bucket = self._bucket
        wait = bucket.take() if bucket is not None else 0.0
        if not wait and cfg.throttle_every is not None and route != "login":
            wait = 1.0 if self._count_request() else 0.0
        if wait > 0:
            self.stats.record_fault("rate_limited")
            return _error(429, THROTTLED, **{"Retry-After": retry_after_header(wait)})
        if route == "unknown":
            return _error(404, NOT_FOUND)
        if match is None:
            return _error(405, NOT_ALLOWED, Allow=", ".join(sorted(set(allowed))))
        if route == "login":
            return self._login(req)
        if self._dice.hit(cfg.fail_rate):
            self.stats.record_fault("fail")
            return _error(503, UNAVAILABLE)
        account, denied = self._authenticate(req)
        if denied is not None:
            return denied
        assert account is not None
        try:
            response, committed = self._endpoint(route, match, req, account.account_id)
        except _Invalid as err:
            return _error(400, INVALID, str(err))
        if committed:
            self.stats.record_commit()
            if self._dice.hit(cfg.ambiguous_rate):
                self.stats.record_fault("ambiguous")
                return _error(500, INTERNAL)
        return response

    def _count_request(self) -> bool:
        """Count a request; True when it is the ``throttle_every``-th."""
        every = self.config.throttle_every
        with self._tokens_lock:
            self._requests_seen += 1
            return every is not None and self._requests_seen % every == 0

    def _authenticate(self, req: Request) -> tuple[Account | None, Response | None]:
        account: Account | None = None
        auth = req.headers.get("authorization")
        if auth:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None, _error(401, UNAUTHORIZED)
            token, uses = token.strip(), 0
            with self._tokens_lock:
                held = self._tokens.get(token)
                if held is not None:
                    uses = self._token_uses[token] = self._token_uses[token] + 1
            limit = self.config.token_uses
            if held is None or held[1] <= self._clock() or (limit is not None and uses > limit):
                return None, _error(401, UNAUTHORIZED)
            account = self.state.account(held[0])
        elif req.headers.get("x-api-key"):
            account = self.state.account_for_api_key(req.headers["x-api-key"])
        if account is None:
            return None, _error(401, UNAUTHORIZED)
        asked = req.headers.get("x-account-id")
        if not asked:
            return None, _error(400, INVALID, "the X-Account-ID header is required")
        if asked != account.account_id:
            return None, _error(403, FORBIDDEN)
        return account, None

    def _endpoint(
        self, route: str, m: re.Match[str], req: Request, account_id: str
    ) -> tuple[Response, bool]:
        if route == "campaigns":
            return Response(200, self.state.campaigns(account_id)), False
        if route == "leads":
            return self._leads(m.group(1), req, account_id), False
        if route == "queues":
            return Response(200, self.state.queues(account_id)), False
        if route == "activity":
            return self._activity(req, account_id), False
        if route == "add":
            self._add(m.group(1), req, account_id)
        elif route == "status":
            self._set_status(m.group(1), m.group(2), account_id)
        elif route == "delete":
            self._delete(m.group(1), account_id)
        elif route == "voicemail":
            self._voicemail(m.group(1), account_id)
        assert route in WRITE_ROUTES
        return Response(200, {}), True

    # --- endpoints -----------------------------------------------------------------------
    def _login(self, req: Request) -> Response:
        try:
            body = json.loads(req.body or b"null")
        except (ValueError, UnicodeDecodeError):
            return _error(400, INVALID, "the body is not JSON")
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("username", "password", "domain")
        ):
            return _error(400, INVALID, "username, password and domain are required")
        account = self.state.account_for_login(body["username"], body["password"], body["domain"])
        if account is None:
            return _error(400, INVALID, "wrong username, password or domain")
        user = {
            "id": hashlib.blake2b(
                f"user:{account.account_id}:{body['username']}".encode(), digest_size=16
            ).hexdigest(),
            "username": body["username"],
            "first_name": "Demo",
            "last_name": "User",
            "account_id": account.account_id,
            "account_name": account.name,
            "domain": body["domain"],
        }
        return Response(
            200,
            {
                "user": user,
                "access_token": self.issue_token(account.account_id),
                "refresh_token": secrets.token_hex(_TOKEN_BYTES),
            },
        )

    def _owned_campaign(self, campaign_id: str, account_id: str) -> None:
        # Another account's campaign (or lead) looks exactly like one that does not exist.
        if self.state.campaign_account(campaign_id) != account_id:
            raise _Invalid(f"unknown campaign {campaign_id}")

    def _leads(self, campaign_id: str, req: Request, account_id: str) -> Response:
        cfg = self.config
        self._owned_campaign(campaign_id, account_id)
        size = _int_param(req.query, "page_size", cfg.default_page_size, minimum=1)
        key = req.query.get(cfg.page_key_param) or None
        if cfg.repeat_key and key is not None:
            self.stats.record_fault("repeat_key")
            key = None
        try:
            data, next_key = self.state.page(campaign_id, key, min(size, cfg.page_cap))
        except ValueError as err:
            raise _Invalid(f"{cfg.page_key_param}: {err}") from None
        payload: dict[str, Any] = {"data": data}
        if next_key is not None:
            payload["next_start_key"] = next_key
        elif cfg.last_page_style == "null":
            payload["next_start_key"] = None
        elif cfg.last_page_style == "empty":
            payload["next_start_key"] = ""
        return Response(200, payload)

    def _activity(self, req: Request, account_id: str) -> Response:
        query = dict(req.query)
        if "startDate" not in query and "starDate" in query:  # the document's own spelling
            query["startDate"] = query["starDate"]
        start = _epoch_param(query, "startDate")
        end = _epoch_param(query, "endDate")
        size = min(
            _int_param(query, "pageSize", self.config.page_cap, minimum=1), self.config.page_cap
        )
        offset = _int_param(query, "startKey", 0, minimum=0)
        return Response(
            200, self.state.events(account_id, start=start, end=end, offset=offset, limit=size)
        )

    def _add(self, campaign_id: str, req: Request, account_id: str) -> None:
        self._owned_campaign(campaign_id, account_id)
        try:
            body = json.loads(req.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise _Invalid("the body is not JSON") from None
        if not isinstance(body, dict):
            raise _Invalid("the body must be a JSON object")
        number = body.get("number")
        if not isinstance(number, str) or not number.strip():
            raise _Invalid("number is required (a non-empty string)")
        for key in INT_KEYS:
            value = body.get(key)
            if key in body and (not isinstance(value, int) or isinstance(value, bool)):
                raise _Invalid(f"{key} must be an integer")
        for key in STR_KEYS:
            if key in body and not isinstance(body[key], str):
                raise _Invalid(f"{key} must be a string")
        fields = {k: body[k] for k in ("number", *INT_KEYS, *STR_KEYS) if k in body}
        self.state.add_lead(campaign_id, fields)

    def _delete(self, lead_id: str, account_id: str) -> None:
        # delete_lead is False too when a concurrent call deleted the lead meanwhile.
        if self.state.lead_account(lead_id) != account_id or not self.state.delete_lead(lead_id):
            raise _Invalid(f"unknown lead {lead_id}")

    def _voicemail(self, cdr_id: str, account_id: str) -> None:
        if not self.state.set_voicemail(cdr_id, account_id):
            raise _Invalid(f"unknown call {cdr_id}")

    def _set_status(self, lead_id: str, status: str, account_id: str) -> None:
        if self.state.lead_account(lead_id) != account_id:
            raise _Invalid(f"unknown lead {lead_id}")
        if status not in self.config.statuses:
            raise _Invalid(f"unknown status {status}")
        self.state.set_status(lead_id, status)


def _int_param(query: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _Invalid(f"{name} must be an integer") from None
    if value < minimum:
        raise _Invalid(f"{name} must be >= {minimum}")
    return value


def _epoch_param(query: Mapping[str, str], name: str) -> int:
    raw = query.get(name)
    if not raw:
        raise _Invalid(f"{name} is required (Unix time)")
    try:
        value = int(raw)
    except ValueError:
        raise _Invalid(f"{name} must be a Unix time in seconds") from None
    return value // 1000 if value > MS_THRESHOLD else value
