"""One HTTP exchange: the connection pool (TLS, proxy, User-Agent), timeouts, and errors by type.

:meth:`Transport.send` performs exactly one request and either returns a 2xx/401 response or
raises the :mod:`leadsync.errors` type that says what happened — whether the request certainly
never reached the server (:class:`ConnectError`) matters, because only then may an add be
repeated. Secrets known to the :class:`Redactor` are masked in every message it builds.

By default the request goes straight through a urllib3 pool that leadsync builds once
(:func:`build_pool`): applying thousands of operations is bound by the client's CPU per call,
and ``requests.Session.request`` (preparing, merging settings, hooks, adapters) cost about
three quarters of it. A ``requests.Session`` passed in (tests that use its hooks, deployments
that need requests' features) is used as it is instead, with the same error mapping.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import timedelta
from http.client import HTTPException
from json import dumps as json_dumps
from os.path import isdir
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.utils import (
    DEFAULT_ACCEPT_ENCODING,
    DEFAULT_CA_BUNDLE_PATH,
    get_auth_from_url,
    get_encoding_from_headers,
    get_environ_proxies,
    prepend_scheme_if_needed,
    requote_uri,
    select_proxy,
)
from urllib3.exceptions import (
    ConnectTimeoutError,
    InsecureRequestWarning,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

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
from .strict_http import POOL_CLASSES
from .wire import parse_retry_after, server_message

log = logging.getLogger(__name__)
E = TypeVar("E", bound=BaseException)

#: Connection pool size never below this, and never below ``concurrency``.
MIN_POOL_SIZE = 10
#: Statuses that mean "the server failed; the request may have been applied".
SERVER_ERROR_STATUSES = frozenset({500, 502, 503, 504})
MASK = "***"
#: Verbs sent without a Content-Length when they carry no body (as requests does).
BODYLESS_METHODS = frozenset({"GET", "HEAD"})
#: What urllib3's ``urlopen`` may raise for one request (retries off, redirects off).
URLLIB3_FAILURES: tuple[type[BaseException], ...] = (
    Urllib3Error,
    HTTPException,
    OSError,
    ValueError,  # an invalid header value or request target
)


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


def default_headers(user_agent: str | None = None) -> dict[str, str]:
    """The headers of every request: requests' defaults with our User-Agent
    (``leadsync/<version>`` unless ``user_agent``) and ``Accept: application/json``."""
    return {
        "User-Agent": user_agent or f"leadsync/{__version__}",
        "Accept-Encoding": DEFAULT_ACCEPT_ENCODING,
        "Accept": "application/json",
        "Connection": "keep-alive",
    }


def build_session(settings: ApiSettings, verify: bool | str = True) -> requests.Session:
    """A requests Session set up like leadsync's own pool (pool ≥ concurrency, ``verify``,
    proxies read once, User-Agent ``leadsync/<version>``), for callers that inject a session
    into the client (``CampaignsClient(settings, session=...)``); the client does not need
    one otherwise (see :func:`build_pool`)."""
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
    session.headers.update(default_headers(settings.user_agent))
    return session


def build_pool(
    base_url: str,
    verify: bool | str = True,
    pool_size: int = MIN_POOL_SIZE,
    redact: Redactor | None = None,
) -> urllib3.PoolManager:
    """The connection pools leadsync sends through to ``base_url``.

    A ``urllib3.ProxyManager`` when the environment names a proxy for ``base_url``
    (HTTP(S)_PROXY / ALL_PROXY, minus NO_PROXY: read once, here, as requests reads them),
    else a ``urllib3.PoolManager``. Up to ``max(MIN_POOL_SIZE, pool_size)`` connections are
    kept per host (more are opened when needed, never waited for). TLS as requests does it
    for ``verify`` (see :func:`tls_verify`): True → verified against certifi's CAs (requests'
    bundle), a path → that CA file or folder, False → not verified. A proxy password is
    given to ``redact``. Raises ConfigError for a proxy URL without a host, or a SOCKS proxy
    without PySocks installed."""
    size = max(MIN_POOL_SIZE, pool_size)
    options: dict[str, Any] = {"num_pools": size, "maxsize": size, "block": False}
    if verify is False:
        options["cert_reqs"] = "CERT_NONE"
    else:
        options["cert_reqs"] = "CERT_REQUIRED"
        ca = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
        options["ca_cert_dir" if isdir(ca) else "ca_certs"] = ca
    proxy = select_proxy(base_url, get_environ_proxies(base_url))
    if not proxy:
        return _strict(urllib3.PoolManager(**options))
    proxy = prepend_scheme_if_needed(proxy, "http")
    if not urllib3.util.parse_url(proxy).host:
        raise ConfigError(f"the proxy URL for {base_url} in the environment has no host")
    username, password = get_auth_from_url(proxy)
    if redact is not None:
        redact.add(password)
    if proxy.lower().startswith("socks"):
        try:
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError:
            raise ConfigError(
                "the environment names a SOCKS proxy for the API: install PySocks "
                "(pip install pysocks), or set NO_PROXY for the portal's host"
            ) from None
        return SOCKSProxyManager(proxy, username=username, password=password, **options)
    headers = urllib3.make_headers(proxy_basic_auth=f"{username}:{password}") if username else None
    return _strict(urllib3.ProxyManager(proxy, proxy_headers=headers, **options))


def _strict(manager: urllib3.PoolManager) -> urllib3.PoolManager:
    """``manager`` with pools that read answers strictly (:mod:`.strict_http`)."""
    manager.pool_classes_by_scheme = dict(POOL_CLASSES)
    return manager


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


class HttpResponse(requests.Response):
    """An answer read without requests, as the ``requests.Response`` callers expect:
    ``status_code``, ``reason``, ``headers`` (case-insensitive), ``content``, ``text`` (decoded
    as requests decodes it) and ``json()``; ``url`` and ``elapsed``. ``request`` is None."""

    def __init__(
        self,
        status: int,
        reason: str,
        headers: urllib3.HTTPHeaderDict,
        content: bytes,
        url: str,
        elapsed_s: float,
    ) -> None:
        super().__init__()
        self.status_code = status
        self.reason = reason
        # urllib3's HTTPHeaderDict is case-insensitive and joins repeated headers with ", ",
        # as the CaseInsensitiveDict that requests copies it into.
        self.headers = headers  # type: ignore[assignment]
        self.encoding = get_encoding_from_headers(headers)
        self._content = content
        self._content_consumed = True
        self.url = url
        self.elapsed = timedelta(seconds=elapsed_s)

    @classmethod
    def from_urllib3(
        cls, raw: urllib3.BaseHTTPResponse, url: str, elapsed_s: float
    ) -> HttpResponse:
        return cls(raw.status, raw.reason or "", raw.headers, raw.data, url, elapsed_s)


class Transport:
    """Sends single requests to ``base_url`` and maps failures to error types.

    Without ``session`` (the default, and what the client does unless given one) requests
    go through a urllib3 pool built once (:func:`build_pool`, ``pool_size`` connections,
    ``user_agent``); with a ``requests.Session`` they go through that session as it is — its
    hooks, adapters and headers — which is slower (for tests and special deployments).
    Either way the same errors come out for the same failures."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        *,
        timeout_s: float,
        redact: Redactor,
        clock: Callable[[], float] = time.monotonic,
        verify: bool | str = True,
        pool_size: int = MIN_POOL_SIZE,
        user_agent: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.verify = verify
        self.session = session
        self.timeout_s = timeout_s
        self.redact = redact
        self._clock = clock
        self.headers = default_headers(user_agent)
        self.pool: urllib3.PoolManager | None = None
        if session is None:
            self.pool = build_pool(self.base_url, verify, pool_size, redact)
            self._timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
            self._bind(self.pool)

    def _bind(self, pool: urllib3.PoolManager) -> None:
        self._urlopen: Callable[..., urllib3.BaseHTTPResponse]
        self._origin: urllib3.HTTPConnectionPool | None = None
        if isinstance(pool, urllib3.ProxyManager):
            # The proxy manager decides per URL between the absolute form and a tunnel.
            self._urlopen = pool.urlopen
            self._target_prefix = requote_uri(self.base_url)
        else:
            # One origin: skip the manager's per-call URL parsing and pool look-up.
            self._origin = pool.connection_from_url(self.base_url)
            self._urlopen = self._origin.urlopen
            self._target_prefix = requote_uri(urlsplit(self.base_url).path)

    @property
    def direct(self) -> bool:
        """True when requests go straight to ``base_url`` through leadsync's own pool (no
        injected session, no proxy): what :class:`~leadsync.api.aio.AsyncTransport` can do."""
        return self.session is None and self._origin is not None

    def close(self) -> None:
        """Close the connections this transport opened (an injected session is its owner's
        to close). A later request opens a new one, as a closed requests Session would."""
        if self.pool is not None:
            if self._origin is not None:
                self._origin.close()
            self.pool.clear()
            self._bind(self.pool)

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
        NotFoundError, AuthError (403) or TerminalError otherwise (UnreachableError for a
        refused TLS certificate)."""
        started = self._clock()
        if self.session is not None:
            response = self._send_with_session(method, path, headers, params, json)
        else:
            response = self._send_with_pool(method, path, headers, params, json, started)
        return self.settle(method, path, response, started)

    def settle(
        self, method: str, path: str, response: requests.Response, started: float
    ) -> requests.Response:
        """``response`` when it is 2xx or 401 (auth is the caller's), else its typed error."""
        if log.isEnabledFor(logging.DEBUG):
            elapsed_ms = (self._clock() - started) * 1000
            log.debug("%s %s → %d in %.0f ms", method, path, response.status_code, elapsed_ms)
        if response.status_code < 300 or response.status_code == 401:
            return response
        raise self.error_for(method, path, response)

    def prepare(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        json: Any,
    ) -> tuple[str, dict[str, str], bytes | None]:
        """The request target (path and query), headers and body of one request, as requests
        would send them. Raises TerminalError for a body that cannot be JSON (NaN, infinity)."""
        target = self._target_prefix + path
        if params:
            # As requests encodes them: None values left out, sequences repeated.
            query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
            if query:
                target += "?" + query
        sent = self.headers.copy()
        if headers:
            sent.update(headers)
        body: bytes | None = None
        if json is not None:
            try:
                body = json_dumps(json, allow_nan=False).encode()
            except ValueError as err:  # NaN or infinity: requests' InvalidJSONError
                raise TerminalError(
                    f"request failed: {self.redact(str(err))}", method=method, endpoint=path
                ) from None
            sent["Content-Type"] = "application/json"
            sent["Content-Length"] = str(len(body))
        elif method not in BODYLESS_METHODS:
            sent["Content-Length"] = "0"
        return target, sent, body

    def _send_with_pool(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        json: Any,
        started: float,
    ) -> requests.Response:
        target, sent, body = self.prepare(method, path, headers, params, json)
        try:
            raw = self._urlopen(
                method,
                target,
                body=body,
                headers=sent,
                retries=False,  # retrying is ours, by error type; urllib3 must not repeat an add
                redirect=False,
                timeout=self._timeout,
                preload_content=True,
            )
        except URLLIB3_FAILURES as err:
            raise self._map_urllib3_error(method, path, err) from None
        return HttpResponse.from_urllib3(raw, self.base_url + target, self._clock() - started)

    def _send_with_session(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        json: Any,
    ) -> requests.Response:
        assert self.session is not None
        try:
            return self.session.request(
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

    def _map_urllib3_error(self, method: str, path: str, err: BaseException) -> ApiError:
        """The error for what urllib3 raised (retries off, so the failure itself): the same
        type and message :meth:`_map_exception` gives for requests' wrapper of it."""
        detail = self.redact(_root_cause(err))
        ctx: dict[str, Any] = {"method": method, "endpoint": path}
        if isinstance(err, ProxyError):
            return ConnectError(f"proxy refused the connection ({detail})", **ctx)
        if isinstance(err, NewConnectionError):  # refused, or DNS (NameResolutionError)
            return ConnectError(f"could not connect to {self.base_url} ({detail})", **ctx)
        if isinstance(err, ConnectTimeoutError):
            return ConnectError(f"could not connect within {self.timeout_s:g} s ({detail})", **ctx)
        if isinstance(err, SSLError):
            return self.tls_error(err, detail, ctx)
        if isinstance(err, ReadTimeoutError):
            if _timed_out_connecting(err):
                return ConnectError(
                    f"could not connect within {self.timeout_s:g} s (TLS handshake timed out)",
                    **ctx,
                )
            return self.no_answer(ctx)
        if isinstance(err, ProtocolError | HTTPException | OSError):
            if _never_connected(err):
                return ConnectError(f"could not connect to {self.base_url} ({detail})", **ctx)
            return self.connection_lost(detail, ctx)
        # A body that cannot be decoded, an invalid header value, … : nothing to retry.
        return TerminalError(f"request failed: {detail}", **ctx)

    def _map_exception(self, method: str, path: str, err: requests.RequestException) -> ApiError:
        detail = self.redact(_root_cause(err))
        ctx: dict[str, Any] = {"method": method, "endpoint": path}
        if isinstance(err, requests.ConnectTimeout):
            return ConnectError(f"could not connect within {self.timeout_s:g} s ({detail})", **ctx)
        if isinstance(err, requests.exceptions.SSLError):
            return self.tls_error(err, detail, ctx)
        if isinstance(err, requests.exceptions.ProxyError):
            return ConnectError(f"proxy refused the connection ({detail})", **ctx)
        if isinstance(err, requests.ConnectionError) and _never_connected(err):
            return ConnectError(f"could not connect to {self.base_url} ({detail})", **ctx)
        if isinstance(err, requests.ReadTimeout):
            return self.no_answer(ctx)
        if isinstance(err, requests.ConnectionError):
            return self.connection_lost(detail, ctx)
        # Invalid URL, too many redirects, … : nothing to retry.
        return TerminalError(f"request failed: {detail}", **ctx)

    def tls_error(self, err: BaseException, detail: str, ctx: dict[str, Any]) -> ApiError:
        refused = _cause_of_type(err, ssl.SSLCertVerificationError)
        if refused is not None:
            # Not transient: every retry would meet the same certificate.
            return UnreachableError(_certificate_advice(self.base_url, refused, detail), **ctx)
        return ConnectError(f"TLS handshake failed ({detail})", **ctx)

    def no_answer(self, ctx: dict[str, Any]) -> TimeoutError_:
        return TimeoutError_(
            f"no answer within {self.timeout_s:g} s; the request was sent and may have "
            "been applied",
            **ctx,
        )

    def connection_lost(self, detail: str, ctx: dict[str, Any]) -> TimeoutError_:
        return TimeoutError_(
            f"connection lost after the request was sent ({detail}); it may have been applied",
            **ctx,
        )

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


def _timed_out_connecting(err: BaseException) -> bool:
    """True for a urllib3 ReadTimeoutError that came from setting the connection up (the TLS
    handshake in ``_validate_conn``), not from waiting for the answer: nothing was sent.
    urllib3 raises the same type for both; the timeout's own traceback tells them apart."""
    cause = err.__context__
    tb = cause.__traceback__ if cause is not None else None
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "_validate_conn":
            return True
        tb = tb.tb_next
    return False


def _never_connected(err: BaseException) -> bool:
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
