"""The three writes (add lead, set status, delete lead) as coroutines on one asyncio loop.

The apply engine sends its thousands of writes from one event loop (see
:mod:`leadsync.apply.pool` and :mod:`.aio` for why). :class:`AsyncWriter` is the event-loop
twin of :class:`~leadsync.api.CampaignsClient`'s write methods, layer by layer::

    AsyncTransport.send   one HTTP request on the loop (aio.py)
    _exchange             + the client's shared rate limiter (an awaited wait) and counters
    _send_authed          + the client's token; a 401 → re-login on a helper thread, resend
    _call                 + the same tenacity policy as AsyncRetrying, the same run budget

Everything that decides what happens — which errors retry, the backoff, the budget and
outage rule, the token generations, the learnt add verb, error messages — is the client's
own, shared with its threaded calls; ``tests/api/test_async_parity_*`` run every failure
through both paths and require the same outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from tenacity import AsyncRetrying

from ..errors import ApiError, BadRequestError, ConnectError, NotFoundError
from .aio import AsyncTransport
from .caller import ADD_RETRY, AMBIGUOUS, IDEMPOTENT_RETRY, MAX_RELOGIN_ROUNDS, require_text
from .retry import ReplayFirst
from .wire import ADD_LEAD_PATH, DELETE_LEAD_PATH, SET_STATUS_PATH, quote_segment
from .write_errors import both_verbs_refused, log_already_deleted, uncertain_add

if TYPE_CHECKING:
    from .client import AddResult, CampaignsClient

T = TypeVar("T")


class AsyncWriter:
    """The three writes of a :class:`CampaignsClient` (add lead, set status, delete lead) as
    coroutines on one asyncio loop, with the same contract, policy and shared state
    (token, rate limiter, retry budget, counters, the learnt add verb) as the client's own
    methods. Get one from :meth:`CampaignsClient.async_writer`; use it on one loop; ``await
    aclose()`` when done."""

    def __init__(self, client: CampaignsClient, transport: AsyncTransport) -> None:
        self._client = client
        self._aio = transport

    async def aclose(self) -> None:
        await self._aio.aclose()

    # --- the layers -------------------------------------------------------------------------
    async def _sleep(self, seconds: float) -> None:
        injected = self._client._sleep
        if injected is time.sleep:
            await asyncio.sleep(seconds)
        else:  # an injected sleep (tests): it records and returns at once
            injected(seconds)
            await asyncio.sleep(0)

    async def _exchange(
        self, method: str, path: str, *, headers: Mapping[str, str], json_body: Any = None
    ) -> requests.Response:
        c = self._client
        wait = c._limiter.reserve()
        if wait > 0:
            await self._sleep(wait)
        c.counters.add("requests")
        try:
            response = await self._aio.send(method, path, headers=headers, json=json_body)
        except ApiError as err:
            c._exchange_failed(err)
            raise
        c._exchange_answered(response)
        return response

    async def _auth_headers(self) -> tuple[dict[str, str], int]:
        auth = self._client._auth
        held = auth.current()
        if held is not None:
            return held
        # A login (first, or in progress on another thread) must not stall the loop.
        return await self._aio.offload(auth.headers)

    async def _send_authed(
        self, method: str, path: str, *, json_body: Any = None
    ) -> requests.Response:
        """:meth:`CampaignsClient._send_authed` on the loop."""
        c, auth = self._client, self._client._auth
        headers, generation = await self._auth_headers()
        response = await self._exchange(method, path, headers=headers, json_body=json_body)
        if response.status_code != 401:
            return response
        if not auth.can_relogin():
            raise c._unauthorized(method, path, response, "the API key was refused")
        for _ in range(MAX_RELOGIN_ROUNDS):
            await self._aio.offload(auth.relogin, generation)
            headers, generation = await self._auth_headers()
            response = await self._exchange(method, path, headers=headers, json_body=json_body)
            if response.status_code != 401:
                return response
        raise c._unauthorized(method, path, response, "refused again right after a fresh login")

    async def _call(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        retry_on: tuple[type[ApiError], ...],
        what: str,
    ) -> T:
        """:meth:`CampaignsClient._call` for a coroutine ``attempt``: the same policy,
        backoff, budget and counting, waiting on the loop."""
        c = self._client
        try:
            return await attempt()  # the first try outside tenacity (see ReplayFirst)
        except Exception as exc:
            first: Exception = exc
        replay = ReplayFirst(first)

        async def tries() -> T:
            replay.check()
            return await attempt()

        retrying = c._retrying(retry_on, what, loop_sleep=self._sleep)
        assert isinstance(retrying, AsyncRetrying)
        try:
            try:
                return await retrying(tries)
            except ConnectError as err:
                raise c._unreachable(err) from err
        except ApiError as err:
            c._count_failed_call(err, retrying.statistics)
            raise

    # --- the writes -------------------------------------------------------------------------
    async def add_lead(self, campaign_id: str, body: dict[str, Any]) -> AddResult:
        """:meth:`CampaignsClient.add_lead` on the loop."""
        c = self._client
        require_text("campaign_id", campaign_id)
        path = ADD_LEAD_PATH.format(campaign_id=quote_segment(campaign_id))
        learned = c.add_method
        method = learned or "PUT"
        try:
            response, attempts = await self._add_once(method, path, body)
        except NotFoundError as err:
            if learned is not None or method != "PUT":
                raise
            method = c._fall_back_to_post(path, err)
            try:
                response, attempts = await self._add_once(method, path, body)
                attempts += getattr(err, "attempts", 1)
            except NotFoundError as post_err:
                raise both_verbs_refused(path, err, post_err) from None
        return c._added(learned, method, response, attempts)

    async def _add_once(
        self, method: str, path: str, body: dict[str, Any]
    ) -> tuple[requests.Response, int]:
        tries = 0

        async def attempt() -> requests.Response:
            nonlocal tries
            tries += 1
            try:
                return await self._send_authed(method, path, json_body=body)
            except AMBIGUOUS as err:
                raise uncertain_add(err) from err

        response = await self._call(attempt, retry_on=ADD_RETRY, what=f"{method} {path}")
        return response, tries

    async def set_status(self, lead_id: str, status: str) -> None:
        """:meth:`CampaignsClient.set_status` on the loop."""
        require_text("lead_id", lead_id)
        require_text("status", status)
        path = SET_STATUS_PATH.format(lead_id=quote_segment(lead_id), status=quote_segment(status))

        async def attempt() -> None:
            await self._send_authed("POST", path)

        await self._call(attempt, retry_on=IDEMPOTENT_RETRY, what=f"POST {path}")

    async def delete_lead(self, lead_id: str) -> None:
        """:meth:`CampaignsClient.delete_lead` on the loop."""
        require_text("lead_id", lead_id)
        path = DELETE_LEAD_PATH.format(lead_id=quote_segment(lead_id))
        ambiguous = False

        async def attempt() -> None:
            nonlocal ambiguous
            try:
                await self._send_authed("DELETE", path)
            except BadRequestError as err:
                if not ambiguous:
                    raise
                log_already_deleted(path, err)
            except AMBIGUOUS:
                ambiguous = True
                raise

        await self._call(attempt, retry_on=IDEMPOTENT_RETRY, what=f"DELETE {path}")
