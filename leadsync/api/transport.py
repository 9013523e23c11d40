"""One HTTP exchange: the session (TLS, pool, User-Agent), timeouts, and errors by type.

:meth:`Transport.send` performs exactly one request and either returns a 2xx/401 response or
raises the :mod:`leadsync.errors` type that says what happened — whether the request certainly
never reached the server (:class:`ConnectError`) matters, because only then may an add be
repeated. Secrets known to the :class:`Redactor` are masked in every message it builds.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InsecureRequestWarning, NameResolutionError, NewConnectionError

from .. import __version__
from ..config import ApiSettings
from ..errors import (
    ApiError,
    AuthError,
    BadRequestError,
    ConfigError,
    ConnectError,
    NotFoundError,
    ServerError,
    TerminalError,
    ThrottledError,
    TimeoutError_,
    UnreachableError,
)
from ..logs import register_secret
from .wire import parse_retry_after, server_message

log = logging.getLogger(__name__)
E = TypeVar("E", bound=BaseException)

#: Connection pool size never below this, and never below ``concurrency``.
MIN_POOL_SIZE = 10
#: Statuses that mean "the server failed; the request may have been applied".
SERVER_ERROR_STATUSES = frozenset({500, 502, 503, 504})
MASK = "***"


class Redactor:
    """Masks every secret it was told about (password, API key, tokens) in a text.

    Each secret is also registered with :mod:`leadsync.logs`, whose log filter masks it in
    every record, whichever library logs it."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str | None) -> None:
        if secret:
            register_secret(secret)
            with self._lock:
                self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text


def build_session(settings: ApiSettings, verify: bool | str = True) -> requests.Session:
    """A requests Session for ``settings``: pool ≥ concurrency, ``verify`` (see
    :func:`tls_verify`), User-Agent ``leadsync/<version>``."""
    session = requests.Session()
    # Proxies (HTTPS_PROXY / NO_PROXY) are resolved once, here: with trust_env on, requests
    # would re-read the environment and ~/.netrc on every call, ~0.2-0.4 ms of CPU each,
    # a third of the client's cost per call when applying thousands of operations.
    if settings.base_url:
        session.proxies.update(requests.utils.get_environ_proxies(settings.base_url))
    session.trust_env = False
    pool = max(MIN_POOL_SIZE, settings.concurrency)
    # max_retries=0: retrying is ours, by error type; urllib3 must not repeat an add.
    adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.verify = verify
    session.headers["User-Agent"] = settings.user_agent or f"leadsync/{__version__}"
    session.headers["Accept"] = "application/json"
    return session


def tls_verify(settings: ApiSettings) -> bool | str:
    """What to pass as requests' ``verify``; ConfigError for a missing CA bundle file."""
    if not settings.verify_tls:
        log.warning(
            "TLS certificate verification is OFF (api.verify_tls = false): the connection to "
            "%s can be intercepted; use api.ca_bundle for a private CA instead",
            settings.base_url,
        )
        # Said once per run above; urllib3 would repeat it on stderr for every request.
        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        return False
    if settings.ca_bundle is not None:
        if not settings.ca_bundle.is_file():
            raise ConfigError(f"[api] ca_bundle: file {settings.ca_bundle} does not exist")
        return str(settings.ca_bundle)
    return True


class Transport:
    """Sends single requests to ``base_url`` and maps failures to error types."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session,
        *,
        timeout_s: float,
        redact: Redactor,
        clock: Callable[[], float] = time.monotonic,
        verify: bool | str = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.verify = verify
        self.session = session
        self.timeout_s = timeout_s
        self.redact = redact
        self._clock = clock

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """One request. Returns the response for 2xx and 401 (auth is the caller's);
        raises ConnectError, TimeoutError_, ThrottledError, ServerError, BadRequestError,
        NotFoundError, AuthError (403) or TerminalError otherwise."""
        started = self._clock()
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                headers=dict(headers or {}),
                params=dict(params) if params else None,
                json=json,
                timeout=self.timeout_s,
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.RequestException as err:
            raise self._map_exception(method, path, err) from None
        elapsed_ms = (self._clock() - started) * 1000
        log.debug("%s %s → %d in %.0f ms", method, path, response.status_code, elapsed_ms)
        if response.status_code < 300 or response.status_code == 401:
            return response
        raise self.error_for(method, path, response)

    def _map_exception(self, method: str, path: str, err: requests.RequestException) -> ApiError:
        detail = self.redact(_root_cause(err))
        ctx: dict[str, Any] = {"method": method, "endpoint": path}
        if isinstance(err, requests.ConnectTimeout):
            return ConnectError(f"could not connect within {self.timeout_s:g} s ({detail})", **ctx)
        if isinstance(err, requests.exceptions.SSLError):
            refused = _cause_of_type(err, ssl.SSLCertVerificationError)
            if refused is not None:
                # Not transient: every retry would meet the same certificate.
                return UnreachableError(_certificate_advice(self.base_url, refused, detail), **ctx)
            return ConnectError(f"TLS handshake failed ({detail})", **ctx)
        if isinstance(err, requests.exceptions.ProxyError):
            return ConnectError(f"proxy refused the connection ({detail})", **ctx)
        if isinstance(err, requests.ConnectionError) and _never_connected(err):
            return ConnectError(f"could not connect to {self.base_url} ({detail})", **ctx)
        if isinstance(err, requests.ReadTimeout):
            return TimeoutError_(
                f"no answer within {self.timeout_s:g} s; the request was sent and may have "
                "been applied",
                **ctx,
            )
        if isinstance(err, requests.ConnectionError):
            return TimeoutError_(
                f"connection lost after the request was sent ({detail}); it may have been applied",
                **ctx,
            )
        # Invalid URL, too many redirects, … : nothing to retry.
        return TerminalError(f"request failed: {detail}", **ctx)

    def error_for(self, method: str, path: str, response: requests.Response) -> ApiError:
        """The typed error for a non-2xx ``response``."""
        status = response.status_code
        message = self.redact(server_message(response.text, response.reason or ""))
        ctx: dict[str, Any] = {
            "method": method,
            "endpoint": path,
            "status": status,
            "server_message": message,
        }
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        said = message or f"HTTP {status}"
        if status == 429 or (status == 503 and retry_after is not None):
            wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            return ThrottledError(f"throttled: {said}{wait}", retry_after=retry_after, **ctx)
        if status == 400:
            return BadRequestError(said, **ctx)
        if status in (404, 405):
            return NotFoundError(f"{said} (wrong path or verb for this deployment?)", **ctx)
        if status == 401:
            return AuthError(f"not authorized: {said}", **ctx)
        if status == 403:
            return AuthError(f"forbidden (check api.account_id and rights): {said}", **ctx)
        if status in SERVER_ERROR_STATUSES or status >= 500:
            return ServerError(f"server error: {said}", **ctx)
        if 300 <= status < 400:
            where = response.headers.get("Location", "?")
            return TerminalError(
                f"unexpected redirect to {self.redact(where)} (check api.base_url)", **ctx
            )
        return TerminalError(said, **ctx)


def _certificate_advice(base_url: str, err: ssl.SSLCertVerificationError, detail: str) -> str:
    """Why the server's certificate was refused, and what the user can do about it."""
    reason = getattr(err, "verify_message", "") or detail
    if "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
        fix = (
            "the certificate does not name the host in api.base_url: use the host name it was "
            "issued for"
        )
    else:
        fix = (
            "if the portal uses a private or self-signed CA, set api.ca_bundle (or "
            "LEADSYNC_CA_BUNDLE) to that CA's PEM file"
        )
    return (
        f"TLS certificate verify failed for {base_url}: {reason}. The server's certificate is "
        f"not trusted, so nothing was sent; {fix}"
    )


def _cause_of_type(err: BaseException, kind: type[E]) -> E | None:
    """The first exception of type ``kind`` in ``err``'s chain (reasons, args, causes)."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, kind):
            return cause
        reason = getattr(cause, "reason", None)
        if isinstance(reason, BaseException):
            cause = reason
            continue
        nested = next((a for a in getattr(cause, "args", ()) if isinstance(a, BaseException)), None)
        cause = nested or cause.__cause__ or cause.__context__
    return None


def _never_connected(err: requests.ConnectionError) -> bool:
    """True when the connection itself failed (refused, DNS), so nothing was sent."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, NewConnectionError | NameResolutionError | ConnectionRefusedError):
            return True
        reason = getattr(cause, "reason", None)
        if isinstance(reason, BaseException):
            cause = reason
            continue
        args = getattr(cause, "args", ())
        nested = next((a for a in args if isinstance(a, BaseException)), None)
        cause = nested or cause.__cause__ or cause.__context__
    return False


def _root_cause(err: BaseException) -> str:
    """A short description of the innermost cause (no URL query strings)."""
    cause: BaseException = err
    seen: set[int] = set()
    while id(cause) not in seen:
        seen.add(id(cause))
        reason = getattr(cause, "reason", None)
        nested = reason if isinstance(reason, BaseException) else None
        if nested is None:
            nested = next(
                (a for a in getattr(cause, "args", ()) if isinstance(a, BaseException)), None
            )
        if nested is None:
            break
        cause = nested
    text = str(cause) or type(cause).__name__
    return text.split("?", 1)[0] if "://" in text else text
