"""How every call is made: auth, rate limit, retries, error counting (the client's base).

Innermost first::

    Transport.send        one HTTP request → response, or the error type for what happened
    _exchange             + the shared rate limiter and the counters
    _send_authed          + auth headers (lazy login); a 401 → one shared re-login, one resend
    _call                 + tenacity retries for the error types the call may repeat,
                            the run's retry budget; connection errors exhausted → Unreachable
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from tenacity import Retrying

from ..config import ApiSettings, check_base_url
from ..errors import (
    ApiError,
    AuthError,
    ConfigError,
    ConnectError,
    PaginationError,
    ServerError,
    TerminalError,
    ThrottledError,
    TimeoutError_,
    TransientError,
    UnreachableError,
    UsageError,
)
from .auth import Auth, Credentials
from .pool import tls_verify
from .ratelimit import RateLimiter
from .retry import Backoff, Counters, ReplayFirst, RetryBudget, build_retrying
from .transport import Answer, Redactor, Transport
from .wire import LOGIN_PATH, WireFormatError, loads

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Errors an idempotent call (read, set status, delete, voicemail) is retried on.
IDEMPOTENT_RETRY: tuple[type[ApiError], ...] = (
    ConnectError,
    TimeoutError_,
    ThrottledError,
    ServerError,
)
#: Errors an add is retried on: the request never arrived, or the server explicitly refused.
ADD_RETRY: tuple[type[ApiError], ...] = (ConnectError, ThrottledError)
#: Failures after which a write may or may not have been applied.
AMBIGUOUS: tuple[type[ApiError], ...] = (TimeoutError_, ServerError)


#: Logins one call may trigger before a 401 is final (AuthError, exit 4).
MAX_RELOGIN_ROUNDS = 3


class Caller:
    """The plumbing every endpoint call goes through (see the module docstring); the
    constructor takes CampaignsClient's arguments and raises its ConfigErrors."""

    def __init__(
        self,
        settings: ApiSettings,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        base_url = _check_base_url(settings.base_url)
        self._sleep = sleep
        self._clock = clock
        self.counters = Counters()
        self._backoff = Backoff(settings.backoff_max_s, rng=rng)
        self._budget = RetryBudget(
            settings.retry_budget,
            self.counters,
            outage_s=self._backoff.schedule_s(settings.retry_attempts),
            clock=clock,
        )
        self._limiter = RateLimiter(settings.max_rps, sleep=sleep, clock=clock)
        self._redact = Redactor()
        credentials = Credentials.from_settings(settings)
        verify = tls_verify(settings)  # logs the warning when verification is off
        self._transport = Transport(
            base_url,
            timeout_s=settings.timeout_s,
            redact=self._redact,
            clock=clock,
            verify=verify,
            pool_size=settings.concurrency,
            user_agent=settings.user_agent,
        )
        self._auth = Auth(
            credentials,
            settings.account_id,
            self._redact,
            login_call=self._login_call,
            on_relogin=self._count_relogin,
        )

    # --- plumbing ------------------------------------------------------------------------
    def __repr__(self) -> str:
        mode = "api_key" if self._auth.uses_api_key else f"user={self.settings.username!r}"
        return f"{type(self).__name__}({self._transport.base_url!r}, {mode})"

    def __enter__(self) -> Caller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections this client opened (a later call opens new ones)."""
        self._transport.close()

    @property
    def account_id(self) -> str | None:
        """The X-Account-ID in use (None until a login told it, when not configured)."""
        return self._auth.account_id

    def _count_relogin(self) -> None:
        self.counters.add("relogins")

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Answer:
        self._limiter.acquire()
        self.counters.add("requests")
        try:
            response = self._transport.send(
                method, path, headers=headers, params=params, json=json_body
            )
        except ApiError as err:
            self._exchange_failed(err)
            raise
        self._exchange_answered(response)
        return response

    def _exchange_failed(self, err: ApiError) -> None:
        """Bookkeeping for a request that ended in ``err``: throttling slows everyone down;
        a server-side failure counts towards an outage; any other answer shows the API is up."""
        if isinstance(err, ThrottledError):
            self.counters.add("throttled")
            self._limiter.on_throttled(err.retry_after)
        elif isinstance(err, ServerError | TimeoutError_ | ConnectError):
            self._budget.record_failure()
        else:
            self._budget.record_answer()  # 400, 404, 403…: the server is up and answering

    def _exchange_answered(self, response: Answer) -> None:
        self._budget.record_answer()
        if response.status != 401:
            self._limiter.on_success()

    def _login_call(self, body: dict[str, str]) -> Answer:
        try:
            return self._call(
                lambda: self._exchange("POST", LOGIN_PATH, json_body=body),
                retry_on=IDEMPOTENT_RETRY,
                what=f"POST {LOGIN_PATH}",
            )
        except TransientError as err:
            # Attempts exhausted on a transient error: do not let the caller's own retry
            # policy log in again and again.
            raise UnreachableError(
                f"could not log in: {err}",
                method="POST",
                endpoint=LOGIN_PATH,
                status=err.status,
                server_message=err.server_message,
            ) from err

    def _send_authed(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Answer:
        headers, generation = self._auth.headers()
        response = self._exchange(method, path, headers=headers, params=params, json_body=json_body)
        if response.status != 401:
            return response
        if not self._auth.can_relogin():
            raise self._unauthorized(method, path, response, "the API key was refused")
        # Each round replaces exactly the token that was refused (other threads may have
        # replaced it already, and under a short token lifetime and back-off waits even that
        # replacement may have expired by the time this call uses it). A server that refuses
        # every fresh token still ends the call after MAX_RELOGIN_ROUNDS logins.
        for _ in range(MAX_RELOGIN_ROUNDS):
            self._auth.relogin(generation)
            headers, generation = self._auth.headers()
            response = self._exchange(
                method, path, headers=headers, params=params, json_body=json_body
            )
            if response.status != 401:
                return response
        raise self._unauthorized(method, path, response, "refused again right after a fresh login")

    def _unauthorized(self, method: str, path: str, response: Answer, why: str) -> AuthError:
        err = self._transport.error_for(method, path, response)
        return AuthError(
            f"not authorized ({why}): {err.server_message or 'HTTP 401'}",
            method=method,
            endpoint=path,
            status=401,
            server_message=err.server_message,
        )

    def _call(
        self,
        attempt: Callable[[], T],
        *,
        retry_on: tuple[type[ApiError], ...],
        what: str,
    ) -> T:
        """Run ``attempt`` under the retry policy for ``retry_on``; count errors; turn
        connection errors that outlived every attempt into UnreachableError. A raised error
        carries ``attempts``, the number of tries made."""
        # Most calls succeed at once: the first try runs outside tenacity, whose set-up per
        # call was a tenth of the client's CPU. A failed first try is replayed to tenacity as
        # its attempt 1, so retries, backoff, budget and logs are exactly the policy's.
        try:
            return attempt()
        except Exception as exc:
            first: Exception = exc
        replay = ReplayFirst(first)

        def tries() -> T:
            replay.check()
            return attempt()

        retrying = self._retrying(retry_on, what)
        try:
            try:
                return retrying(tries)
            except ConnectError as err:
                raise self._unreachable(err) from err
        except ApiError as err:
            self._count_failed_call(err, retrying.statistics)
            raise

    def _retrying(self, retry_on: tuple[type[ApiError], ...], what: str) -> Retrying:
        """The tenacity policy of one call."""
        return build_retrying(
            retry_on=retry_on,
            attempts=self.settings.retry_attempts,
            backoff=self._backoff,
            budget=self._budget,
            counters=self.counters,
            sleep=self._sleep,
            what=what,
        )

    def _unreachable(self, err: ConnectError) -> UnreachableError:
        return UnreachableError(
            f"API unreachable after {self.settings.retry_attempts} attempt(s): "
            f"{Exception.__str__(err)}",
            method=err.method,
            endpoint=err.endpoint,
        )

    def _count_failed_call(self, err: ApiError, statistics: dict[str, Any]) -> None:
        # Count each failed call once, though login runs inside another call's attempt.
        if not getattr(err, "_leadsync_counted", False):
            err._leadsync_counted = True  # type: ignore[attr-defined]
            self.counters.add("errors")
            # How many times this call was tried (read by the apply journal).
            err.attempts = statistics.get("attempt_number", 1)  # type: ignore[attr-defined]

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> Answer:
        """An idempotent authenticated call, retried on every transient error."""
        return self._call(
            lambda: self._send_authed(method, path, params=params),
            retry_on=IDEMPOTENT_RETRY,
            what=f"{method} {path}",
        )

    def _json(self, method: str, path: str, response: Answer) -> Any:
        try:
            return loads(response.text)
        except WireFormatError as err:
            raise self._not_understood(method, path, response, err) from None

    def _not_understood(
        self, method: str, path: str, response: Answer, err: Exception
    ) -> TerminalError:
        self.counters.add("errors")
        return TerminalError(
            f"answer not understood: {self._redact(str(err))}",
            method=method,
            endpoint=path,
            status=response.status,
        )

    def _pagination_error(
        self, path: str, campaign_id: str, key: str | None, why: str
    ) -> PaginationError:
        self.counters.add("errors")
        hint = (
            '; stock Kazoo expects start_key: try api.page_key_param = "start_key"'
            if self.settings.page_key_param != "start_key"
            else ""
        )
        return PaginationError(
            f"campaign {campaign_id}: {why} (key {key!r}); stopped instead of looping{hint}",
            method="GET",
            endpoint=path,
        )


def require_text(name: str, value: str) -> None:
    # An empty id would address a different endpoint (…/leads/ instead of …/leads/{id}).
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{name} must be a non-empty string, got {value!r}")


def json_or_none(response: Answer) -> Any | None:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _check_base_url(base_url: str | None) -> str:
    if not base_url:
        raise ConfigError(
            "[api] base_url is not set (e.g. https://portal.example.com:9443, or LEADSYNC_BASE_URL)"
        )
    try:
        return check_base_url(base_url)
    except ValueError as err:
        raise ConfigError(f"[api] base_url: {err}") from None
