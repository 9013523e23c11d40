"""Who may use the console: the access token, sessions, CSRF, body limits and security headers.

As Jupyter does, ``leadsync serve`` prints a URL carrying a random access token
(``/?token=…``). Opening it trades the token for a session cookie (``HttpOnly``,
``SameSite=Strict``) and redirects to the same page without the token, so it stays out of the
browser's history and of ``Referer`` headers. Every request but the static files needs that
session; every state-changing request also needs the session's CSRF token (a form field or an
``X-CSRF-Token`` header), checked by :func:`checked_form`. Request bodies are bounded while
they arrive (:class:`BodyTooLarge`), so an upload cannot fill the disk past the reader's own
file limit. Every response carries a strict Content-Security-Policy: pages load scripts and
styles from the console's own static folder only, never inline, never from a CDN.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import FormData
from starlette.requests import Request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE_NAME = "leadsync_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
#: A session unused this long is forgotten (the user opens the printed URL again).
SESSION_IDLE_S = 12 * 3600.0
#: Largest body of a request that is not an upload (forms are small).
FORM_BODY_LIMIT = 1024 * 1024
#: Random bytes of a generated access token (Jupyter uses 24).
TOKEN_BYTES = 32
#: Paths served without a session (nothing secret: the console's own CSS and JS).
PUBLIC_PREFIXES = ("/static/",)

#: The policy of every page: own scripts, styles and frames only; no plugins, no inline code.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: The policy of a report.html shown inside the console: a sandbox (an opaque origin: no
#: cookies, no access to the console), its own inline CSS/JS, no network at all.
REPORT_CSP = (
    "sandbox allow-scripts; default-src 'none'; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
BASE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def new_token() -> str:
    """A random access token for the printed URL."""
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass
class Session:
    """One browser's session: its id (the cookie) and its CSRF token."""

    sid: str
    csrf: str
    last_seen: float


@dataclass
class Sessions:
    """The sessions opened with the access token; ``clock`` is a parameter for tests."""

    token: str
    clock: Callable[[], float] = time.monotonic
    idle_s: float = SESSION_IDLE_S
    _by_id: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def token_ok(self, presented: str) -> bool:
        return bool(presented) and hmac.compare_digest(
            presented.encode("utf-8", "replace"), self.token.encode("utf-8")
        )

    def open(self) -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now)
        with self._lock:
            self._forget_idle(now)
            self._by_id[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            self._forget_idle(now)
            session = self._by_id.get(sid)
            if session is not None:
                session.last_seen = now
            return session

    def _forget_idle(self, now: float) -> None:
        for sid in [s for s, v in self._by_id.items() if now - v.last_seen > self.idle_s]:
            del self._by_id[sid]


class BodyTooLarge(Exception):
    """A request body grew past its limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request is larger than {limit:,} bytes")
        self.limit = limit


def session_of(request: Request) -> Session:
    """The request's session (the guard let the request in, so there is one)."""
    session = request.scope.get("leadsync.session")
    assert isinstance(session, Session), "the Guard middleware sets the session"
    return session


def csrf_ok(request: Request, presented: str | None) -> bool:
    session = request.scope.get("leadsync.session")
    if not isinstance(session, Session) or not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "replace"), session.csrf.encode())


async def checked_form(request: Request, *, max_files: int = 0) -> FormData | None:
    """The request's form when it carries the session's CSRF token; None otherwise.

    Raises BodyTooLarge when the body passes its limit (see :class:`Guard`)."""
    form = await request.form(max_files=max_files, max_fields=10_000)
    presented = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not csrf_ok(request, presented if isinstance(presented, str) else None):
        await form.close()
        return None
    return form


def _html(status: int, title: str, text: str) -> tuple[int, bytes]:
    body = (
        "<!doctype html><meta charset=utf-8><title>leadsync console</title>"
        f"<h1>{title}</h1><p>{text}</p>"
    )
    return status, body.encode()


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    head = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware: the access token, the session, body limits, security headers.

    ``upload_limit(path, method)`` gives the largest body a request may send (None: the
    default :data:`FORM_BODY_LIMIT`)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        sessions: Sessions,
        upload_limit: Callable[[str, str], int | None] = lambda path, method: None,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        send = _with_headers(send)
        if path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query:
            await self._login(scope, send, query)
            return
        session = self.sessions.get(_cookie(scope, COOKIE_NAME))
        if session is None:
            status, body = _html(
                401,
                "Sign-in needed",
                "Open the address that <code>leadsync serve</code> printed (it carries the "
                "access token) to start a session.",
            )
            await _respond(send, status, body)
            return
        scope["leadsync.session"] = session
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            limit = self.upload_limit(path, method) or FORM_BODY_LIMIT
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                status, body = _html(
                    413, "Too large", f"This request is larger than {limit:,} bytes."
                )
                await _respond(send, status, body)
                return
            receive = _bounded(receive, limit)
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, send: Send, query: dict[str, str]) -> None:
        if not self.sessions.token_ok(query.pop("token")):
            status, body = _html(
                403, "Wrong access token", "This address does not carry the console's token."
            )
            await _respond(send, status, body)
            return
        session = self.sessions.open()
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{COOKIE_NAME}={session.sid}; Path=/; HttpOnly; SameSite=Strict{secure}"
        rest = urlencode(query)
        location = scope["path"] + (f"?{rest}" if rest else "")
        await _respond(
            send,
            303,
            b"",
            [(b"location", location.encode()), (b"set-cookie", cookie.encode())],
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is no session
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def _bounded(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return bounded


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {k.lower() for k, _ in headers}
            headers.extend(h for h in BASE_HEADERS if h[0] not in names)
            if b"content-security-policy" not in names:
                headers.append((b"content-security-policy", PAGE_CSP.encode()))
            if b"x-frame-options" not in names:
                headers.append((b"x-frame-options", b"DENY"))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped
