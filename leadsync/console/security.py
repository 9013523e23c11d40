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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
#: Set on every response that does not set its own.
BASE_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "content-security-policy": PAGE_CSP,
    "x-frame-options": "DENY",
}


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
        return _same(presented, self.token)

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


def _same(presented: str, secret: str) -> bool:
    """Whether a non-empty ``presented`` equals ``secret``, in constant time."""
    return bool(presented) and hmac.compare_digest(
        presented.encode("utf-8", "replace"), secret.encode("utf-8")
    )


def session_of(request: Request) -> Session:
    """The request's session (the guard let the request in, so there is one)."""
    session = request.scope.get("leadsync.session")
    assert isinstance(session, Session), "the Guard middleware sets the session"
    return session


async def checked_form(request: Request, *, max_files: int = 0) -> FormData | None:
    """The request's form when it carries the session's CSRF token; None otherwise.

    Raises BodyTooLarge when the body passes its limit (see :class:`Guard`)."""
    form = await request.form(max_files=max_files, max_fields=10_000)
    presented = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    session = request.scope.get("leadsync.session")
    if (
        isinstance(session, Session)
        and isinstance(presented, str)
        and _same(presented, session.csrf)
    ):
        return form
    await form.close()
    return None


def _page(status: int, title: str, text: str) -> Response:
    body = (
        "<!doctype html><meta charset=utf-8><title>leadsync console</title>"
        f"<h1>{title}</h1><p>{text}</p>"
    )
    return HTMLResponse(body, status, headers={"cache-control": "no-store"})


class Guard:
    """ASGI middleware: the access token, the session, body limits, security headers.

    ``uploads`` maps a path to the largest body a POST to it may send (other requests:
    :data:`FORM_BODY_LIMIT`)."""

    def __init__(self, app: ASGIApp, *, sessions: Sessions, uploads: Mapping[str, int]) -> None:
        self.app = app
        self.sessions = sessions
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        if not scope["path"].startswith(PUBLIC_PREFIXES):
            refused = self._refusal(scope)
            if refused is not None:
                await refused(scope, receive, send)
                return
            if scope["method"] not in ("GET", "HEAD"):
                receive = _bounded(receive, self._limit(scope))
        await self.app(scope, receive, send)

    def _limit(self, scope: Scope) -> int:
        if scope["method"] == "POST":
            return self.uploads.get(scope["path"], FORM_BODY_LIMIT)
        return FORM_BODY_LIMIT

    def _refusal(self, scope: Scope) -> Response | None:
        """The answer when the request may not go on; None (its session set) when it may."""
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query:
            return self._login(scope, query)
        conn = HTTPConnection(scope)
        session = self.sessions.get(conn.cookies.get(COOKIE_NAME))
        if session is None:
            return _page(
                401,
                "Sign-in needed",
                "Open the address that <code>leadsync serve</code> printed (it carries the "
                "access token) to start a session.",
            )
        scope["leadsync.session"] = session
        declared = conn.headers.get("content-length", "")
        limit = self._limit(scope)
        if scope["method"] not in ("GET", "HEAD") and declared.isdigit() and int(declared) > limit:
            return _page(413, "Too large", f"This request is larger than {limit:,} bytes.")
        return None

    def _login(self, scope: Scope, query: dict[str, str]) -> Response:
        if not self.sessions.token_ok(query.pop("token")):
            return _page(
                403, "Wrong access token", "This address does not carry the console's token."
            )
        session = self.sessions.open()
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{COOKIE_NAME}={session.sid}; Path=/; HttpOnly; SameSite=Strict{secure}"
        rest = urlencode(query)
        return RedirectResponse(
            scope["path"] + (f"?{rest}" if rest else ""),
            303,
            headers={"cache-control": "no-store", "set-cookie": cookie},
        )


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
            message.setdefault("headers", [])
            headers = MutableHeaders(scope=message)  # a copy of the list, set in the message
            for name, value in BASE_HEADERS.items():
                headers.setdefault(name, value)
        await send(message)

    return wrapped
