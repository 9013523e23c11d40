"""Who we are to the API: login (user/password/domain) or an API key, and the account id.

One :class:`Auth` is shared by every worker thread. The token carries a *generation* number:
a worker that got a 401 with generation *g* asks for a re-login "of *g*"; under the lock only
the first such request logs in (generation becomes *g+1*), the others find the generation has
moved on and simply use the new token. Eight threads hitting 401 together cause one login.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..config import ApiSettings
from ..errors import ApiError, AuthError, ConfigError
from .transport import Answer, Redactor
from .wire import LOGIN_PATH, WireFormatError, loads, parse_login

log = logging.getLogger(__name__)

#: Statuses of a login answer that mean "these credentials are refused".
LOGIN_REFUSED_STATUSES = frozenset({400, 401, 403})


@dataclass(frozen=True, slots=True)
class Credentials:
    """Either an API key, or username + password + domain (the key wins when both are set)."""

    api_key: str | None
    username: str | None
    password: str | None
    domain: str | None

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Credentials:
        """ConfigError naming what is missing when neither way to log in is configured."""
        api_key = settings.api_key.get_secret_value() if settings.api_key else None
        password = settings.password.get_secret_value() if settings.password else None
        creds = cls(api_key or None, settings.username, password or None, settings.domain)
        if creds.api_key:
            return creds
        missing = [name for name in ("username", "password", "domain") if not getattr(creds, name)]
        if missing:
            raise ConfigError(
                f"[api] {', '.join(missing)} not set: give username, password and domain "
                "(or LEADSYNC_USERNAME / LEADSYNC_PASSWORD / LEADSYNC_DOMAIN), or an api_key"
            )
        return creds

    def __repr__(self) -> str:  # never show secrets
        mode = "api_key" if self.api_key else f"user={self.username!r}, domain={self.domain!r}"
        return f"Credentials({mode})"


class Auth:
    """Holds the current token and account id; logs in lazily and re-logs in once per 401.

    ``login_call(body)`` sends the login (the client's, so that it goes through the same
    transport, rate limiter and retry policy as everything else)."""

    def __init__(
        self,
        credentials: Credentials,
        account_id: str | None,
        redact: Redactor,
        login_call: Callable[[dict[str, str]], Answer],
        on_relogin: Callable[[], object] = lambda: None,
    ) -> None:
        self._creds = credentials
        self._account_id = account_id
        self._redact = redact
        self._login_call = login_call
        self._on_relogin = on_relogin
        self._lock = threading.Lock()
        self.generation = 0
        redact.add(credentials.password)
        redact.add(credentials.api_key)
        if credentials.api_key and not account_id:
            raise ConfigError(
                "[api] account_id must be set when logging in with an api_key "
                "(it is sent as X-Account-ID; or set LEADSYNC_ACCOUNT_ID)"
            )
        # The headers of the current token and its generation, built once per login and read
        # without the lock by every call (one attribute read: a consistent pair).
        self._current: tuple[Mapping[str, str], int] | None = None
        if credentials.api_key:
            assert account_id is not None
            self._current = (
                MappingProxyType({"X-API-Key": credentials.api_key, "X-Account-ID": account_id}),
                0,
            )

    @property
    def uses_api_key(self) -> bool:
        return bool(self._creds.api_key)

    @property
    def account_id(self) -> str | None:
        return self._account_id

    def headers(self) -> tuple[Mapping[str, str], int]:
        """Headers for an authenticated call (read-only) and the token generation they carry.

        Logs in first when no token is held yet (lazy login). Raises AuthError/ApiError from
        the login, ConfigError when no account id is known after it.
        """
        current = self._current
        if current is not None:
            return current
        with self._lock:
            if self._current is None:
                self._login()
            assert self._current is not None
            return self._current

    def relogin(self, seen_generation: int) -> None:
        """Replace the token that got a 401, once: only when no other thread already did."""
        with self._lock:
            if self.generation != seen_generation:
                return  # somebody logged in again since this token was used
            log.info("token refused (401); logging in again")
            self._login()
            self._on_relogin()

    def _login(self) -> None:
        creds = self._creds
        body = {name: getattr(creds, name) or "" for name in ("username", "password", "domain")}
        refused = f"login refused for user {creds.username!r} in domain {creds.domain!r}"
        try:
            response = self._login_call(body)
        except ApiError as err:
            if err.status in LOGIN_REFUSED_STATUSES:
                raise AuthError(
                    f"{refused}: {err.server_message or 'bad credentials'}",
                    method=err.method,
                    endpoint=err.endpoint,
                    status=err.status,
                    server_message=err.server_message,
                ) from None
            raise
        if response.status == 401:
            raise AuthError(refused, method="POST", endpoint=LOGIN_PATH, status=401)
        try:
            token, refresh, account = parse_login(loads(response.text))
        except WireFormatError as err:
            raise AuthError(
                f"login answer not understood: {err}",
                method="POST",
                endpoint=LOGIN_PATH,
                status=response.status,
            ) from None
        self._redact.add(token)
        self._redact.add(refresh)
        self.generation += 1
        if self._account_id is None:
            if not account:
                raise ConfigError(
                    "[api] account_id is not set and the login answer carries no "
                    "user.account_id; set api.account_id (or LEADSYNC_ACCOUNT_ID)"
                )
            self._account_id = account
            log.info("account id %s taken from the login answer", account)
        assert self._account_id is not None
        self._current = (
            MappingProxyType(
                {"Authorization": f"Bearer {token}", "X-Account-ID": self._account_id}
            ),
            self.generation,
        )
        log.debug("logged in as %r (token generation %d)", creds.username, self.generation)
