"""CampaignsClient: the nine endpoints of the Campaigns API, safe to share between threads.

How each call is made (auth, rate limit, retries by error type) lives in :mod:`.caller`.

Reads, set-status, delete and voicemail are idempotent and retry on every transient error.
An add is not idempotent (docs/design.md, API decision 2): it is repeated only when the request
certainly never reached the server (ConnectError) or the server explicitly refused it
(ThrottledError); any other failure after sending raises UncertainAddError and is never
repeated here.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import ApiSettings
from ..errors import (
    ApiError,
    BadRequestError,
    NotFoundError,
    PaginationError,
    UncertainAddError,
    UsageError,
)
from ..models import Campaign
from .caller import (
    ADD_RETRY,
    AMBIGUOUS,
    IDEMPOTENT_RETRY,
    Caller,
    json_or_none,
    require_text,
)
from .transport import Answer
from .wire import (
    ACTIVITY_PATH,
    ADD_LEAD_PATH,
    CAMPAIGNS_STATUS_PATH,
    DELETE_LEAD_PATH,
    LEADS_PATH,
    QUEUES_PATH,
    SET_STATUS_PATH,
    VOICEMAIL_PATH,
    WireFormatError,
    lead_ids,
    parse_campaigns,
    parse_leads_page,
    parse_list,
    quote_segment,
)

log = logging.getLogger(__name__)

#: Consecutive empty lead pages that still carry a next key before we call it a loop.
MAX_EMPTY_PAGES_WITH_KEY = 3
#: Default events per activity page (the document's example).
ACTIVITY_PAGE_SIZE = 1000
#: One parsed leads page: (the page, what identifies its leads, how many, the next key).
_Page = tuple[Any, tuple[Any, ...], int, str | None]


@dataclass(frozen=True, slots=True)
class AddResult:
    """How an add went: the verb that worked, the HTTP status, and the body when it was JSON
    (the document leaves it undocumented: never depend on it)."""

    method: str
    status: int
    body: Any | None = None
    attempts: int = 1  # requests sent for this add (retries and a POST fallback included)


class CampaignsClient(Caller):
    """Client of the Campaigns API (docs/design.md), shared by all worker threads.

    ``CampaignsClient(settings, sleep=time.sleep, clock=time.monotonic, *, rng=None)``: it
    sends through one urllib3 connection pool sized to ``settings.concurrency``; ``sleep`` and
    ``clock`` are injectable so tests can observe every wait; ``rng`` drives the backoff jitter.
    ``counters.as_dict()`` gives requests, retries, throttled, relogins, errors.
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
        super().__init__(settings, sleep, clock, rng=rng)
        self._add_lock = threading.Lock()
        self._add_method: str | None = (
            settings.add_lead_method if settings.add_lead_method != "auto" else None
        )
        # The add path of each campaign, quoted once (a plan adds to a few campaigns).
        self._add_paths: dict[str, str] = {}

    def __enter__(self) -> CampaignsClient:
        return self

    @property
    def add_method(self) -> str | None:
        """The add verb this deployment takes, once known (``PUT``, or ``POST`` after a
        fallback); pinned by ``api.add_lead_method``."""
        with self._add_lock:
            return self._add_method

    # --- campaigns ------------------------------------------------------------------------
    def campaigns(self) -> list[Campaign]:
        """Every campaign with its counts (endpoint 2), in the answer's order.

        Raises the API error types (UnreachableError, AuthError, …); TerminalError when the
        answer cannot be understood."""
        response = self._request("GET", CAMPAIGNS_STATUS_PATH)
        try:
            return parse_campaigns(response.text)
        except WireFormatError as err:
            raise self._not_understood("GET", CAMPAIGNS_STATUS_PATH, response, err) from None

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

        def parse(path: str, response: Answer) -> _Page:
            try:
                leads, next_key = parse_leads_page(self._json("GET", path, response))
            except WireFormatError as err:
                raise self._not_understood("GET", path, response, err) from None
            return leads, lead_ids(leads), len(leads), next_key

        yield from self._lead_pages(campaign_id, page_size, parse)

    def iter_lead_tables(self, campaign_id: str, page_size: int | None = None) -> Iterator[Any]:
        """The campaign's leads, one page at a time as an Arrow table of the listed fields
        (:data:`leadsync.api.leadtable.LEAD_SCHEMA`), parsed without a Python object per
        lead. Pages and errors as :meth:`iter_lead_pages`."""
        from .leadtable import parse_lead_table  # Arrow: loaded by the commands that list

        def parse(path: str, response: Answer) -> _Page:
            try:
                table, next_key = parse_lead_table(response.content)
            except WireFormatError as err:
                raise self._not_understood("GET", path, response, err) from None
            return table, tuple(table.column("id").to_pylist()), table.num_rows, next_key

        yield from self._lead_pages(campaign_id, page_size, parse)

    def _lead_pages(
        self,
        campaign_id: str,
        page_size: int | None,
        parse: Callable[[str, Answer], _Page],
    ) -> Iterator[Any]:
        """Every page of the listing, each as ``parse`` makes it; stops a looping server."""
        require_text("campaign_id", campaign_id)
        size = page_size or self.settings.page_size
        path = LEADS_PATH.format(campaign_id=quote_segment(campaign_id))
        key: str | None = None
        seen_keys: set[str] = set()
        previous_ids: tuple[Any, ...] | None = None
        empty_streak = 0
        pages = 0
        while True:
            params: dict[str, Any] = {"page_size": size}
            if key is not None:
                params[self.settings.page_key_param] = key
            response = self._request("GET", path, params=params)
            page, ids, count, next_key = parse(path, response)
            pages += 1
            if count and ids == previous_ids:
                raise self._pagination_error(
                    path,
                    campaign_id,
                    key,
                    f"page {pages} repeats page {pages - 1} exactly: the server ignores "
                    f"the page key parameter {self.settings.page_key_param!r}",
                )
            if next_key is not None and next_key in seen_keys:
                raise self._pagination_error(
                    path,
                    campaign_id,
                    next_key,
                    f"page {pages} hands back a page key it already gave: the server "
                    f"ignores the page key parameter {self.settings.page_key_param!r}",
                )
            empty_streak = empty_streak + 1 if (not count and next_key is not None) else 0
            if empty_streak >= MAX_EMPTY_PAGES_WITH_KEY:
                raise self._pagination_error(
                    path,
                    campaign_id,
                    next_key,
                    f"{empty_streak} empty pages in a row that still carry a next key",
                )
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
        return AddResult(
            method=method,
            status=response.status,
            body=json_or_none(response),
            attempts=attempts,
        )

    def _add_once(self, method: str, path: str, body: dict[str, Any]) -> tuple[Answer, int]:
        tries = 0

        def attempt() -> Answer:
            nonlocal tries
            tries += 1
            try:
                return self._send_authed(method, path, json_body=body)
            except AMBIGUOUS as err:
                raise _uncertain_add(err) from err

        response = self._call(attempt, retry_on=ADD_RETRY, what=f"{method} {path}")
        return response, tries

    def set_status(self, lead_id: str, status: str) -> None:
        """Set a lead's status (endpoint 7; idempotent, retried). Raises BadRequestError
        (400 with the server's message) and the API error types."""
        require_text("lead_id", lead_id)
        require_text("status", status)
        path = SET_STATUS_PATH.format(lead_id=quote_segment(lead_id), status=quote_segment(status))
        self._call(
            lambda: self._send_authed("POST", path),
            retry_on=IDEMPOTENT_RETRY,
            what=f"POST {path}",
        )

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
        self._call(
            lambda: self._send_authed("PUT", path),
            retry_on=IDEMPOTENT_RETRY,
            what=f"PUT {path}",
        )

    # --- queues and activity --------------------------------------------------------------
    def queues(self) -> list[dict[str, Any]]:
        """The call-center queues with agents and counters (endpoint 4)."""
        response = self._request("GET", QUEUES_PATH)
        try:
            return parse_list(self._json("GET", QUEUES_PATH, response), "queues")
        except WireFormatError as err:
            raise self._not_understood("GET", QUEUES_PATH, response, err) from None

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
            try:
                events = parse_list(self._json("GET", ACTIVITY_PATH, response), "activity")
            except WireFormatError as err:
                raise self._not_understood("GET", ACTIVITY_PATH, response, err) from None
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


def _uncertain_add(err: ApiError) -> UncertainAddError:
    """An add whose request was sent and whose outcome is unknown: never repeated blindly."""
    return UncertainAddError(
        f"outcome unknown ({Exception.__str__(err)}); not retried: the lead may "
        "or may not have been added",
        method=err.method,
        endpoint=err.endpoint,
        status=err.status,
        server_message=err.server_message,
    )
