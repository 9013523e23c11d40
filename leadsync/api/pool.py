"""The urllib3 connection pool leadsync sends through: TLS, proxies, and answers read strictly.

:func:`build_pool` makes it once per client (proxies read from the environment once, as
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

import http.client
import logging
import warnings
from os.path import isdir
from typing import Any

import urllib3
from requests.utils import (
    DEFAULT_CA_BUNDLE_PATH,
    get_auth_from_url,
    get_environ_proxies,
    prepend_scheme_if_needed,
    select_proxy,
)
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, InsecureRequestWarning

from .. import __version__
from ..config import ApiSettings
from ..errors import ConfigError
from ..logs import SecretMask

log = logging.getLogger(__name__)

#: Connections kept per host never below this, and never below ``concurrency``.
MIN_POOL_SIZE = 10
#: The encodings urllib3 can decode here (gzip, deflate; br and zstd when installed).
ACCEPT_ENCODING: str = urllib3.util.make_headers(accept_encoding=True)["accept-encoding"]


def default_headers(user_agent: str | None = None) -> dict[str, str]:
    """The headers of every request: ``User-Agent: leadsync/<version>`` (or ``user_agent``),
    ``Accept: application/json``, gzip accepted, keep-alive."""
    return {
        "User-Agent": user_agent or f"leadsync/{__version__}",
        "Accept-Encoding": ACCEPT_ENCODING,
        "Accept": "application/json",
        "Connection": "keep-alive",
    }


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


_STRICT: dict[type, type] = {}


def _strict_connection(base: Any) -> type:
    """``base`` (urllib3's connection class, or what vcrpy patches in for it in tests) with
    :class:`StrictResponse`, and a TLS handshake timeout raised as a connect timeout. Named as
    ``base``, since error messages quote the connection's class name."""
    cls = _STRICT.get(base)
    if cls is None:

        def connect(self: Any) -> None:
            try:
                base.connect(self)
            except TimeoutError as err:  # TCP connect timeouts are ConnectTimeoutError already
                raise ConnectTimeoutError("TLS handshake timed out") from err

        namespace = {"response_class": StrictResponse, "connect": connect, "__module__": __name__}
        cls = _STRICT[base] = type(base.__name__, (base,), namespace)
    return cls


class _StrictHTTPConnectionPool(HTTPConnectionPool):
    @property
    def ConnectionCls(self) -> type:  # type: ignore[override]  # read at each new connection
        return _strict_connection(HTTPConnectionPool.ConnectionCls)


class _StrictHTTPSConnectionPool(HTTPSConnectionPool):
    @property
    def ConnectionCls(self) -> type:  # type: ignore[override]  # read at each new connection
        return _strict_connection(HTTPSConnectionPool.ConnectionCls)


def _strict(manager: urllib3.PoolManager) -> urllib3.PoolManager:
    """``manager`` with pools whose connections read strictly (module docstring)."""
    manager.pool_classes_by_scheme = {
        "http": _StrictHTTPConnectionPool,
        "https": _StrictHTTPSConnectionPool,
    }
    return manager
