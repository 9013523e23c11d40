"""CampaignsClient: the nine endpoints of the Campaigns API, safe to share between threads.

Every call goes through the same layers, innermost first::

    Transport.send        one HTTP request → response, or the error type for what happened
    _exchange             + the shared rate limiter and the counters
    _send_authed          + auth headers (lazy login); a 401 → one shared re-login, one resend
    _call                 + tenacity retries for the error types the call may repeat,
                            the run's retry budget; connection errors exhausted → Unreachable

Reads, set-status, delete and voicemail are idempotent and retry on every transient error.
An add is not idempotent (docs/design.md, API decision 2): it is repeated only when the request
certainly never reached the server (ConnectError) or the server explicitly refused it
(ThrottledError); any other failure after sending raises UncertainAddError and is never
repeated here.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..config import ApiSettings
from ..errors import (
    ApiError,
    AuthError,
    BadRequestError,
    ConfigError,
    ConnectError,
    NotFoundError,
    PaginationError,
    ServerError,
    TerminalError,
    ThrottledError,
    TimeoutError_,
    TransientError,
    UncertainAddError,
    UnreachableError,
    UsageError,
)
from ..models import Campaign
from .auth import Auth, Credentials
from .pagefeed import PageFeed
from .ratelimit import RateLimiter
from .retry import Backoff, Counters, RetryBudget, build_retrying
from .transport import Answer, Redactor, Transport, tls_verify
from .wire import (
    ACTIVITY_PATH,
    ADD_LEAD_PATH,
    CAMPAIGNS_STATUS_PATH,
    DELETE_LEAD_PATH,
    LEADS_PATH,
    LOGIN_PATH,
    QUEUES_PATH,
    SET_STATUS_PATH,
    VOICEMAIL_PATH,
    WireFormatError,
    loads,
    next_key_hint,
    parse_campaigns,
    parse_leads_page,
    parse_list,
    quote_segment,
)

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
#: Consecutive empty lead pages that still carry a next key before we call it a loop.
MAX_EMPTY_PAGES_WITH_KEY = 3
#: Default events per activity page (the document's example).
ACTIVITY_PAGE_SIZE = 1000
#: One parsed leads page: (the page, what identifies its leads — compared with ``==`` to the
#: previous page's —, how many, the next key).
_Page = tuple[Any, object, int, str | None]


@dataclass(frozen=True, slots=True)
class AddResult:
    """How an add went: the verb that worked, the HTTP status, and the body when it was JSON
    (the document leaves it undocumented: never depend on it)."""

    method: str
    status: int
    body: Any | None = None
    attempts: int = 1  # requests sent for this add (retries and a POST fallback included)


class CampaignsClient:
    """Client of the Campaigns API (docs/design.md), shared by all worker threads.

    It sends through one urllib3 connection pool sized to ``settings.concurrency``; ``sleep``
    and ``clock`` are injectable so tests can observe every wait; ``rng`` drives the backoff
    jitter. ``counters.as_dict()`` gives requests, retries, throttled, relogins, errors.
    Raises ConfigError at once when the settings cannot work (no base_url, no credentials,
    an API key without account id, a missing CA bundle).
    """

    def __init__(
        self,
        settings: ApiSettings,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        if not settings.base_url:  # a set one was checked when the settings were made
            raise ConfigError(
                "[api] base_url is not set (e.g. https://portal.example.com:9443, or "
                "LEADSYNC_BASE_URL)"
            )
        self._sleep = sleep
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
        self._transport = Transport(
            settings.base_url,
            timeout_s=settings.timeout_s,
            redact=self._redact,
            clock=clock,
            verify=tls_verify(settings),  # logs the warning when verification is off
            pool_size=settings.concurrency,
            user_agent=settings.user_agent,
        )
        self._auth = Auth(
            credentials,
            settings.account_id,
            self._redact,
            login_call=self._login_call,
            on_relogin=lambda: self.counters.add("relogins"),
        )
        self._add_lock = threading.Lock()
        self._add_method: str | None = (
            settings.add_lead_method if settings.add_lead_method != "auto" else None
        )
        # The add path of each campaign, quoted once (a plan adds to a few campaigns).
        self._add_paths: dict[str, str] = {}

    def __repr__(self) -> str:
        mode = "api_key" if self._auth.uses_api_key else f"user={self.settings.username!r}"
        return f"{type(self).__name__}({self._transport.base_url!r}, {mode})"

    def __enter__(self) -> CampaignsClient:
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

    @property
    def add_method(self) -> str | None:
        """The add verb this deployment takes, once known (``PUT``, or ``POST`` after a
        fallback); pinned by ``api.add_lead_method``."""
        return self._add_method  # written once, under the lock

    # --- how every call is made ---------------------------------------------------------
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
        except ThrottledError as err:  # slows every worker down
            self.counters.add("throttled")
            self._limiter.on_throttled(err.retry_after)
            raise
        except (ServerError, TimeoutError_, ConnectError):  # counts towards an outage
            self._budget.record_failure()
            raise
        except ApiError:  # 400, 404, 403…: the server is up and answering
            self._budget.record_answer()
            raise
        self._budget.record_answer()
        if response.status != 401:
            self._limiter.on_success()
        return response

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
        uses_api_key = self._auth.uses_api_key
        # Each round replaces exactly the token that was refused (other threads may have
        # replaced it already, and under a short token lifetime and back-off waits even that
        # replacement may have expired by the time this call uses it). A server that refuses
        # every fresh token still ends the call after MAX_RELOGIN_ROUNDS logins.
        for _ in range(0 if uses_api_key else MAX_RELOGIN_ROUNDS):
            self._auth.relogin(generation)
            headers, generation = self._auth.headers()
            response = self._exchange(
                method, path, headers=headers, params=params, json_body=json_body
            )
            if response.status != 401:
                return response
        why = (
            "the API key was refused" if uses_api_key else "refused again right after a fresh login"
        )
        said = self._transport.error_for(method, path, response).server_message
        raise AuthError(
            f"not authorized ({why}): {said or 'HTTP 401'}",
            method=method,
            endpoint=path,
            status=401,
            server_message=said,
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
            first: Exception | None = exc

        def tries() -> T:
            nonlocal first
            if first is not None:  # tenacity's attempt 1 is the failed first try
                error, first = first, None
                raise error
            return attempt()

        retrying = build_retrying(
            retry_on=retry_on,
            attempts=self.settings.retry_attempts,
            backoff=self._backoff,
            budget=self._budget,
            counters=self.counters,
            sleep=self._sleep,
            what=what,
        )
        try:
            try:
                return retrying(tries)
            except ConnectError as err:
                raise UnreachableError(
                    f"API unreachable after {self.settings.retry_attempts} attempt(s): "
                    f"{Exception.__str__(err)}",
                    method=err.method,
                    endpoint=err.endpoint,
                ) from err
        except ApiError as err:
            # Count each failed call once, though login runs inside another call's attempt.
            if not getattr(err, "_leadsync_counted", False):
                err._leadsync_counted = True  # type: ignore[attr-defined]
                self.counters.add("errors")
                # How many times this call was tried (read by the apply journal).
                err.attempts = retrying.statistics.get("attempt_number", 1)  # type: ignore[attr-defined]
            raise

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

    def _parse(self, path: str, response: Answer, parse: Callable[[Answer], T]) -> T:
        """``parse(response)`` of a GET answer; a WireFormatError becomes a counted
        TerminalError ("answer not understood")."""
        try:
            return parse(response)
        except WireFormatError as err:
            self.counters.add("errors")
            raise TerminalError(
                f"answer not understood: {self._redact(str(err))}",
                method="GET",
                endpoint=path,
                status=response.status,
            ) from None

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

    # --- campaigns ------------------------------------------------------------------------
    def campaigns(self) -> list[Campaign]:
        """Every campaign with its counts (endpoint 2), in the answer's order.

        Raises the API error types (UnreachableError, AuthError, …); TerminalError when the
        answer cannot be understood."""
        response = self._request("GET", CAMPAIGNS_STATUS_PATH)
        return self._parse(CAMPAIGNS_STATUS_PATH, response, lambda r: parse_campaigns(r.text))

    def resolve_campaign(self, ref: str, campaigns: Sequence[Campaign] | None = None) -> Campaign:
        """The campaign ``ref`` names: by id, else exact name, else case-insensitive name.

        ``campaigns`` defaults to a fresh :meth:`campaigns` call. Raises UsageError (exit 2)
        listing the known campaigns (name and id) when ``ref`` is unknown or ambiguous."""
        known = list(campaigns) if campaigns is not None else self.campaigns()
        return resolve_campaign(ref, known)

    # --- leads ----------------------------------------------------------------------------
    def iter_lead_pages(
        self, campaign_id: str, page_size: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """The campaign's leads, one page (a list of raw lead dicts) at a time.

        Follows ``next_start_key`` (sent under ``api.page_key_param``) until it is absent,
        null or empty; a short page is not the end. Raises PaginationError naming the
        campaign and key when the server repeats a key or a page (it would loop forever),
        and the API error types of :meth:`_request`."""

        def parse(response: Answer) -> _Page:
            leads, next_key = parse_leads_page(loads(response.text))
            ids = tuple(
                lead["id"] if "id" in lead else json.dumps(lead, sort_keys=True, default=str)
                for lead in leads
            )
            return leads, ids, len(leads), next_key

        yield from self._lead_pages(campaign_id, page_size, parse)

    def iter_lead_tables(self, campaign_id: str, page_size: int | None = None) -> Iterator[Any]:
        """The campaign's leads, one page at a time as an Arrow table of the listed fields
        (:data:`leadsync.api.leadtable.LEAD_SCHEMA`), parsed without a Python object per
        lead. Pages and errors as :meth:`iter_lead_pages`."""
        from .leadtable import parse_lead_table  # Arrow: loaded by the commands that list

        def parse(response: Answer) -> _Page:
            table, next_key = parse_lead_table(response.content)
            return table, table.column("id"), table.num_rows, next_key  # == compares columns

        yield from self._lead_pages(campaign_id, page_size, parse)

    def _lead_pages(
        self,
        campaign_id: str,
        page_size: int | None,
        parse: Callable[[Answer], _Page],
    ) -> Iterator[Any]:
        """Every page of the listing, in order, each as ``parse`` makes it; stops a looping
        server. The next page is requested (``feed.ahead``) as soon as the current page's tail
        names its key, before the page is parsed."""
        require_text("campaign_id", campaign_id)
        size = page_size or self.settings.page_size
        path = LEADS_PATH.format(campaign_id=quote_segment(campaign_id))
        key_param = self.settings.page_key_param
        ignored = f"the server ignores the page key parameter {key_param!r}"

        def request(page_key: str | None) -> Answer:
            params: dict[str, Any] = {"page_size": size}
            if page_key is not None:
                params[key_param] = page_key
            return self._request("GET", path, params=params)

        key: str | None = None
        seen_keys: set[str] = set()
        previous_ids: object = None
        empty_streak = 0
        pages = 0
        with PageFeed(request) as feed:
            while True:
                response = feed.get(key)
                known, hint = next_key_hint(response.content)
                if known and hint is not None and hint not in seen_keys and hint != key:
                    feed.ahead(hint)
                page, ids, count, next_key = self._parse(path, response, parse)
                pages += 1
                if count and ids == previous_ids:
                    why = f"page {pages} repeats page {pages - 1} exactly: {ignored}"
                    raise self._pagination_error(path, campaign_id, key, why)
                if next_key is not None and next_key in seen_keys:
                    why = f"page {pages} hands back a page key it already gave: {ignored}"
                    raise self._pagination_error(path, campaign_id, next_key, why)
                empty_streak = empty_streak + 1 if (not count and next_key is not None) else 0
                if empty_streak >= MAX_EMPTY_PAGES_WITH_KEY:
                    why = f"{empty_streak} empty pages in a row that still carry a next key"
                    raise self._pagination_error(path, campaign_id, next_key, why)
                previous_ids = ids
                if pages == 1 and next_key is not None and count != size:
                    # Not an error (only the key ends a listing), but worth telling.
                    log.info(
                        "campaign %s: the server sent %d leads on a page where %d were asked; "
                        "following next_start_key",
                        campaign_id,
                        count,
                        size,
                    )
                yield page
                if next_key is None:
                    return
                seen_keys.add(next_key)
                key = next_key

    def add_lead(self, campaign_id: str, body: dict[str, Any]) -> AddResult:
        """Add one lead (endpoint 6; not idempotent).

        PUT by default; on 404/405 (with ``add_lead_method = "auto"``) POST once, and that
        verb is used from then on. Retried only on ConnectError and ThrottledError.
        Raises UncertainAddError when the request was sent and the outcome is unknown (read
        timeout, connection lost, 500/502/503/504 without Retry-After): never repeated here.
        Raises BadRequestError (400, the server's message), NotFoundError (neither verb
        accepted), ThrottledError (still throttled after every attempt), UnreachableError."""
        require_text("campaign_id", campaign_id)
        path = self._add_paths.get(campaign_id)
        if path is None:
            path = self._add_paths[campaign_id] = ADD_LEAD_PATH.format(
                campaign_id=quote_segment(campaign_id)
            )
        learned = self._add_method  # written once, under the lock; read as one attribute
        method = learned or "PUT"
        try:
            response, attempts = self._add_once(method, path, body)
        except NotFoundError as err:
            if learned is not None or method != "PUT":
                raise
            log.warning(
                "PUT %s answered %s: this deployment may take POST for add lead; trying POST "
                "once (set api.add_lead_method to pin the verb)",
                path,
                err.status,
            )
            method = "POST"
            try:
                response, attempts = self._add_once(method, path, body)
                attempts += getattr(err, "attempts", 1)
            except NotFoundError as post_err:
                raise NotFoundError(
                    f"add lead refused with both verbs: PUT → {err.status}, POST → "
                    f"{post_err.status} ({post_err.server_message or 'no message'}); check "
                    "api.base_url and the campaign id",
                    method="POST",
                    endpoint=path,
                    status=post_err.status,
                    server_message=post_err.server_message,
                ) from None
        if learned is None:  # the verb that worked is learnt once
            with self._add_lock:
                if self._add_method is None:
                    self._add_method = method
                    log.info("add lead: this deployment takes %s", method)
        try:
            said = response.json() if response.content else None
        except ValueError:
            said = None
        return AddResult(method=method, status=response.status, body=said, attempts=attempts)

    def _add_once(self, method: str, path: str, body: dict[str, Any]) -> tuple[Answer, int]:
        tries = 0

        def attempt() -> Answer:
            nonlocal tries
            tries += 1
            try:
                return self._send_authed(method, path, json_body=body)
            except AMBIGUOUS as err:  # sent, outcome unknown: never repeated blindly
                raise UncertainAddError(
                    f"outcome unknown ({Exception.__str__(err)}); not retried: the lead may "
                    "or may not have been added",
                    method=err.method,
                    endpoint=err.endpoint,
                    status=err.status,
                    server_message=err.server_message,
                ) from err

        response = self._call(attempt, retry_on=ADD_RETRY, what=f"{method} {path}")
        return response, tries

    def set_status(self, lead_id: str, status: str) -> None:
        """Set a lead's status (endpoint 7; idempotent, retried). Raises BadRequestError
        (400 with the server's message) and the API error types."""
        require_text("lead_id", lead_id)
        require_text("status", status)
        path = SET_STATUS_PATH.format(lead_id=quote_segment(lead_id), status=quote_segment(status))
        self._request("POST", path)

    def delete_lead(self, lead_id: str) -> None:
        """Delete a lead (endpoint 8; idempotent in effect, retried).

        A 400 on a retry that follows an ambiguous attempt (timeout, connection lost, 5xx)
        means the first attempt deleted it: success. A 400 otherwise raises BadRequestError."""
        require_text("lead_id", lead_id)
        path = DELETE_LEAD_PATH.format(lead_id=quote_segment(lead_id))
        ambiguous = False  # set once an attempt may have reached the server and been applied

        def attempt() -> None:
            nonlocal ambiguous
            try:
                self._send_authed("DELETE", path)
            except BadRequestError as err:
                if not ambiguous:
                    raise
                # A 400 after an attempt that may have been applied: that attempt deleted it.
                log.info(
                    "DELETE %s → 400 (%s) after an ambiguous attempt: already deleted",
                    path,
                    err.server_message,
                )
            except AMBIGUOUS:
                ambiguous = True
                raise

        self._call(attempt, retry_on=IDEMPOTENT_RETRY, what=f"DELETE {path}")

    def set_voicemail(self, cdr_id: str) -> None:
        """Set a call's disposition to voicemail (endpoint 9; idempotent, retried)."""
        require_text("cdr_id", cdr_id)
        path = VOICEMAIL_PATH.format(cdr_id=quote_segment(cdr_id))
        self._request("PUT", path)

    # --- queues and activity --------------------------------------------------------------
    def queues(self) -> list[dict[str, Any]]:
        """The call-center queues with agents and counters (endpoint 4)."""
        response = self._request("GET", QUEUES_PATH)
        return self._parse(QUEUES_PATH, response, lambda r: parse_list(loads(r.text), "queues"))

    def iter_activity(
        self, since: int, until: int, page_size: int = ACTIVITY_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Lead activity events between Unix seconds ``since`` and ``until`` (endpoint 5).

        Pages with ``startKey`` as an offset and stops on a short page (the answer carries
        no cursor). Raises UsageError for an empty range, PaginationError when a page repeats
        the previous one exactly (a server ignoring ``startKey``)."""
        if until < since:
            raise UsageError(f"the activity range ends before it starts ({since} > {until})")
        if page_size < 1:
            raise UsageError("activity page size must be at least 1")
        offset = 0
        previous: list[dict[str, Any]] | None = None
        while True:
            params: dict[str, Any] = {"startDate": since, "endDate": until, "pageSize": page_size}
            if offset:
                params["startKey"] = offset
            response = self._request("GET", ACTIVITY_PATH, params=params)
            events = self._parse(
                ACTIVITY_PATH, response, lambda r: parse_list(loads(r.text), "activity")
            )
            if events and events == previous:
                self.counters.add("errors")
                raise PaginationError(
                    f"activity page at startKey={offset} repeats the previous page: the "
                    "server ignores startKey; stopped instead of looping",
                    method="GET",
                    endpoint=ACTIVITY_PATH,
                )
            yield from events
            if len(events) < page_size:
                return
            previous = events
            offset += len(events)


# --- helpers -------------------------------------------------------------------------------
def resolve_campaign(ref: str, campaigns: Sequence[Campaign]) -> Campaign:
    """The campaign ``ref`` names among ``campaigns``: id, then exact name, then
    case-insensitive name. UsageError listing the known campaigns otherwise."""
    wanted = (ref or "").strip()
    if wanted:
        for matches in (
            [c for c in campaigns if c.id == wanted],
            [c for c in campaigns if c.name == wanted],
            [c for c in campaigns if c.name.casefold() == wanted.casefold()],
        ):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise UsageError(
                    f"campaign {ref!r} is ambiguous: {len(matches)} campaigns match "
                    f"({_list_campaigns(matches)}); give the id instead"
                )
    raise UsageError(
        f"unknown campaign {ref!r}; known campaigns: {_list_campaigns(campaigns) or 'none'}"
    )


def _list_campaigns(campaigns: Sequence[Campaign]) -> str:
    return ", ".join(
        f"{c.name} ({c.id})" for c in sorted(campaigns, key=lambda c: c.name.casefold())
    )


def require_text(name: str, value: str) -> None:
    # An empty id would address a different endpoint (…/leads/ instead of …/leads/{id}).
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{name} must be a non-empty string, got {value!r}")
