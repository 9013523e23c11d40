"""One HTTP exchange over the client's urllib3 pool, and every failure mapped to its error type.

:meth:`Transport.send` performs exactly one request (urllib3 neither retries nor redirects)
and either returns a 2xx/401 :class:`Answer` or raises the :mod:`leadsync.errors` type that
says what happened. Whether the request may have reached the server is what matters: only an
add that certainly never arrived (:class:`~leadsync.errors.ConnectError`) may be sent again;
one that may have been applied (:class:`~leadsync.errors.TimeoutError_`, ``ServerError``) must
be checked by re-reading, never blindly repeated. Secrets known to the :class:`Redactor` are
masked in every message built here.

The pool (:func:`build_pool`) is made once per client (proxies read from the environment once, as
requests reads them; CAs as requests finds them). Its connections read answers more strictly
than ``http.client`` does, where leniency would turn a refused or unknown write into a success:

- only ``100 Continue`` is skipped by ``http.client``: any other interim answer (``103 Early
  Hints``) would be taken for the final one. Every 1xx but 101 is skipped here (RFC 9110 §15.2);
- the end of the stream inside the header block is taken for its end, so an answer cut after
  ``HTTP/1.1 200 OK`` reads as a whole, empty success. It raises ``IncompleteRead`` here, which
  the transport maps to "connection lost after the request was sent";
- urllib3 reports a TLS handshake that times out as a *read* timeout, as if the request had
  been sent. It is a connect timeout here: nothing was sent.
"""

from __future__ import annotations

import codecs
import functools
import http.client
import logging
import ssl
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.client import HTTPException
from json import JSONEncoder
from json import loads as json_loads
from os.path import isdir
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from requests.utils import (
    DEFAULT_CA_BUNDLE_PATH,
    get_auth_from_url,
    get_environ_proxies,
    prepend_scheme_if_needed,
    requote_uri,
    select_proxy,
)
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
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
from ..logs import SecretMask, register_secret
from .wire import parse_retry_after, server_message

log = logging.getLogger(__name__)
#: The encoder of request bodies (as ``json.dumps(body, allow_nan=False)``, which would build a
#: new encoder per call).
_encode_body = JSONEncoder(allow_nan=False).encode

#: Connections kept per host never below this, and never below ``concurrency``.
MIN_POOL_SIZE = 10
#: The encodings urllib3 can decode here (gzip, deflate; br and zstd when installed).
ACCEPT_ENCODING: str = urllib3.util.make_headers(accept_encoding=True)["accept-encoding"]
#: Verbs sent without a Content-Length when they carry no body (as requests does).
BODYLESS_METHODS = frozenset({"GET", "HEAD"})
#: What urllib3's ``urlopen`` may raise for one request (retries off, redirects off).
URLLIB3_FAILURES: tuple[type[BaseException], ...] = (
    Urllib3Error,
    HTTPException,
    OSError,
    ValueError,  # an invalid header value or request target
)


class Redactor(SecretMask):
    """The secrets of one client (password, API key, tokens, a proxy password), masked in
    every form (:class:`leadsync.logs.SecretMask`) in the messages the client builds; each is
    also registered with :mod:`leadsync.logs`, whose filter masks it in every log record."""

    def add(self, value: Any) -> None:
        super().add(value)
        register_secret(value)


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole HTTP answer: status, reason, headers (case-insensitive), body (decoded)."""

    status: int
    reason: str
    headers: urllib3.HTTPHeaderDict
    content: bytes

    @property
    def text(self) -> str:
        """The body as text, in the charset the answer names (else UTF-8)."""
        content_type = self.headers.get("Content-Type")
        charset = _charset(content_type) if content_type else None
        return self.content.decode(charset or "utf-8", errors="replace")

    def json(self) -> Any:
        return json_loads(self.content)


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            try:
                return codecs.lookup(value.strip().strip("\"'")).name
            except LookupError:
                return None
    return None


class Transport:
    """Sends single requests to ``base_url`` through one urllib3 pool (:func:`build_pool`:
    ``pool_size`` connections, ``verify``, proxies) with the default headers."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        redact: Redactor,
        clock: Callable[[], float] = time.monotonic,
        verify: bool | str = True,
        pool_size: int = MIN_POOL_SIZE,
        user_agent: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.redact = redact
        self._clock = clock
        self.headers = {
            "User-Agent": user_agent or f"leadsync/{__version__}",
            "Accept-Encoding": ACCEPT_ENCODING,
            "Accept": "application/json",
            "Connection": "keep-alive",
        }
        self.pool = build_pool(self.base_url, verify, pool_size, redact)
        self._timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
        self._bind()

    def _bind(self) -> None:
        self._urlopen: Callable[..., urllib3.BaseHTTPResponse]
        self._origin: urllib3.HTTPConnectionPool | None = None
        if isinstance(self.pool, urllib3.ProxyManager):
            # The proxy manager decides per URL between the absolute form and a tunnel.
            self._urlopen = self.pool.urlopen
            self._target_prefix = requote_uri(self.base_url)
        else:
            # One origin: skip the manager's per-call URL parsing and pool look-up.
            self._origin = self.pool.connection_from_url(self.base_url)
            self._urlopen = self._origin.urlopen
            self._target_prefix = requote_uri(urlsplit(self.base_url).path)

    def close(self) -> None:
        """Close every connection; a later request opens a new one."""
        if self._origin is not None:
            self._origin.close()
        self.pool.clear()
        self._bind()

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Answer:
        """One request. Returns the answer for 2xx and 401 (auth is the caller's); raises
        ConnectError, TimeoutError_, ThrottledError, ServerError, BadRequestError,
        NotFoundError, AuthError (403), UnreachableError (a refused TLS certificate) or
        TerminalError otherwise (also for a body that cannot be JSON: NaN, infinity)."""
        started = self._clock()
        target = self._target_prefix + path
        if params:
            # None values left out, sequences repeated (as requests encodes them).
            query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
            if query:
                target += "?" + query
        sent = self.headers.copy()
        if headers:
            sent.update(headers)
        body: bytes | None = None
        if json is not None:
            try:
                body = _encode_body(json).encode()
            except ValueError as err:  # NaN or infinity
                raise TerminalError(
                    f"request failed: {self.redact(str(err))}", method=method, endpoint=path
                ) from None
            sent["Content-Type"] = "application/json"
            sent["Content-Length"] = str(len(body))
        elif method not in BODYLESS_METHODS:
            sent["Content-Length"] = "0"
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
            raise self._failure(method, path, err) from None
        answer = Answer(raw.status, raw.reason or "", raw.headers, raw.data)
        if log.isEnabledFor(logging.DEBUG):
            elapsed_ms = (self._clock() - started) * 1000
            log.debug("%s %s → %d in %.0f ms", method, path, answer.status, elapsed_ms)
        if answer.status < 300 or answer.status == 401:
            return answer
        raise self.error_for(method, path, answer)

    # --- errors -----------------------------------------------------------------------------
    def _failure(self, method: str, path: str, err: BaseException) -> ApiError:
        """The error for what urllib3 raised (the first row of ``FAILURES`` that matches)."""
        # A short description of the innermost reason (no URL query strings).
        root = _causes(err, deep=False)[-1]
        detail = str(root) or type(root).__name__
        detail = self.redact(detail.split("?", 1)[0] if "://" in detail else detail)
        ctx: dict[str, Any] = {"method": method, "endpoint": path}
        causes = _causes(err)
        refused = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
        if isinstance(err, SSLError) and refused is not None:
            # Not transient: every retry would meet the same certificate.
            advice = _certificate_advice(self.base_url, refused, detail)
            return UnreachableError(advice, **ctx)
        if isinstance(err, ProtocolError | HTTPException | OSError) and any(
            isinstance(c, NEVER_CONNECTED) for c in causes
        ):
            return ConnectError(f"could not connect to {self.base_url} ({detail})", **ctx)
        for kind, error, message in FAILURES:
            if isinstance(err, kind):
                return error(message.format(t=self, detail=detail), **ctx)
        return TerminalError(f"request failed: {detail}", **ctx)  # invalid header value, …

    def error_for(self, method: str, path: str, answer: Answer) -> ApiError:
        """The typed error for a non-2xx ``answer`` (``STATUS_ERRORS``)."""
        status = answer.status
        message = self.redact(server_message(self.redact(answer.text), answer.reason))
        ctx: dict[str, Any] = {
            "method": method,
            "endpoint": path,
            "status": status,
            "server_message": message,
        }
        said = message or f"HTTP {status}"
        retry_after = parse_retry_after(answer.headers.get("Retry-After"))
        if status == 429 or (status == 503 and retry_after is not None):
            wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            return ThrottledError(f"throttled: {said}{wait}", retry_after=retry_after, **ctx)
        if 300 <= status < 400:
            where = self.redact(answer.headers.get("Location", "?"))
            return TerminalError(f"unexpected redirect to {where} (check api.base_url)", **ctx)
        error, template = STATUS_ERRORS.get(status) or (
            (ServerError, "server error: {said}") if status >= 500 else (TerminalError, "{said}")
        )
        return error(template.format(said=said), **ctx)


#: Causes that show the connection itself failed (refused, DNS), so nothing was sent.
NEVER_CONNECTED = (NewConnectionError, NameResolutionError, ConnectionRefusedError)
#: What urllib3 raised → the error and its message, first match wins. ``ConnectError``: the
#: request certainly never reached the server; ``TimeoutError_``: it was sent and may have
#: been applied. (A refused certificate and a connection never made are decided before.)
FAILURES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], type, str], ...] = (
    (ProxyError, ConnectError, "proxy refused the connection ({detail})"),
    (NewConnectionError, ConnectError, "could not connect to {t.base_url} ({detail})"),
    (ConnectTimeoutError, ConnectError, "could not connect within {t.timeout_s:g} s ({detail})"),
    (SSLError, ConnectError, "TLS handshake failed ({detail})"),
    (
        ReadTimeoutError,
        TimeoutError_,
        "no answer within {t.timeout_s:g} s; the request was sent and may have been applied",
    ),
    (
        (ProtocolError, HTTPException, OSError),
        TimeoutError_,
        "connection lost after the request was sent ({detail}); it may have been applied",
    ),
)
#: Statuses with an error of their own (5xx: ServerError; 429 and 503 with Retry-After:
#: ThrottledError; 3xx: an unexpected redirect; any other: TerminalError).
STATUS_ERRORS: dict[int, tuple[type[ApiError], str]] = {
    400: (BadRequestError, "{said}"),
    401: (AuthError, "not authorized: {said}"),
    403: (AuthError, "forbidden (check api.account_id and rights): {said}"),
    404: (NotFoundError, "{said} (wrong path or verb for this deployment?)"),
    405: (NotFoundError, "{said} (wrong path or verb for this deployment?)"),
}


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


def _causes(err: BaseException, *, deep: bool = True) -> list[BaseException]:
    """``err`` and the exceptions inside it (reasons, args; causes and contexts when ``deep``),
    outermost first."""
    chain: list[BaseException] = []
    cause: BaseException | None = err
    while cause is not None and all(cause is not c for c in chain):
        chain.append(cause)
        reason = getattr(cause, "reason", None)
        if isinstance(reason, BaseException):
            cause = reason
            continue
        nested = next((a for a in getattr(cause, "args", ()) if isinstance(a, BaseException)), None)
        cause = nested or ((cause.__cause__ or cause.__context__) if deep else None)
    return chain


# --- the pool: TLS, proxies, answers read strictly (module docstring) ---------------------
def tls_verify(settings: ApiSettings) -> bool | str:
    """True (certifi's CAs), the path of ``api.ca_bundle``, or False (``verify_tls = false``,
    logged as a warning once). ConfigError for a CA bundle file that does not exist."""
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


def build_pool(
    base_url: str,
    verify: bool | str = True,
    pool_size: int = MIN_POOL_SIZE,
    mask: SecretMask | None = None,
) -> urllib3.PoolManager:
    """The connection pools for ``base_url``: a ``urllib3.ProxyManager`` when the environment
    names a proxy for it (HTTP(S)_PROXY / ALL_PROXY minus NO_PROXY), else a ``PoolManager``.

    Up to ``max(MIN_POOL_SIZE, pool_size)`` connections are kept per host (more are opened
    when needed, never waited for). ``verify`` as :func:`tls_verify` gives it. A proxy
    password is given to ``mask``. Raises ConfigError for a proxy URL without a host, or a
    SOCKS proxy without PySocks installed."""
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
    if mask is not None:
        mask.add(password)
        mask.add(f"{username}:{password}" if password else None)
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


# --- answers read strictly ------------------------------------------------------------------
class _WatchedFile:
    """A response's socket file that notes when a ``readline`` met the end of the stream."""

    __slots__ = ("_fp", "ended")

    def __init__(self, fp: Any) -> None:
        self._fp = fp
        self.ended = False

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._fp.readline(limit)
        self.ended = self.ended or not line
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fp, name)


class StrictResponse(http.client.HTTPResponse):
    """Skips every interim answer; refuses a header block cut short by the end of the stream."""

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


@functools.cache
def _strict_connection(base: Any) -> type:
    """``base`` (urllib3's connection class, or what vcrpy patches in for it in tests) with
    :class:`StrictResponse`, and a TLS handshake timeout raised as a connect timeout. Named as
    ``base``, since error messages quote the connection's class name."""

    def connect(self: Any) -> None:
        try:
            base.connect(self)
        except TimeoutError as err:  # TCP connect timeouts are ConnectTimeoutError already
            raise ConnectTimeoutError("TLS handshake timed out") from err

    namespace = {"response_class": StrictResponse, "connect": connect, "__module__": __name__}
    return type(base.__name__, (base,), namespace)


def _strict_pool(base: type[HTTPConnectionPool]) -> type[HTTPConnectionPool]:
    """``base`` whose new connections read strictly: its connection class is looked up at each
    new connection (vcrpy patches it in tests)."""
    connection_cls = property(lambda self: _strict_connection(base.ConnectionCls))
    return type(f"_Strict{base.__name__}", (base,), {"ConnectionCls": connection_cls})


_STRICT_POOLS = {
    "http": _strict_pool(HTTPConnectionPool),
    "https": _strict_pool(HTTPSConnectionPool),
}


def _strict(manager: urllib3.PoolManager) -> urllib3.PoolManager:
    """``manager`` with pools whose connections read strictly (module docstring)."""
    manager.pool_classes_by_scheme = dict(_STRICT_POOLS)
    return manager
