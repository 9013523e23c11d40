"""Read-ahead for a paged listing: the next page is requested while the current one is parsed.

A plain client waits for the server, then parses, then waits again. Here the caller reads the
next key from a page's tail (:func:`leadsync.api.wire.next_key_hint`) and hands it to
:meth:`PageFeed.ahead`, which requests it on the feed's thread while the page is parsed. Pages
are still requested in order, at most one ahead; a key the parsed page contradicts is never
used (its answer is dropped and the right one asked).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")

#: The thread that sends the requests made ahead.
THREAD_NAME = "leadsync-page"


class PageFeed(Generic[T]):
    """The answers of one listing, each requested by ``request(key)`` (``key`` None for the
    first page), one of them possibly in flight ahead. Use as a context manager: leaving it
    waits for a request still in flight (its answer, or its error, is dropped)."""

    def __init__(self, request: Callable[[str | None], T]) -> None:
        self._request = request
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: tuple[str, Future[T]] | None = None

    def __enter__(self) -> PageFeed[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ahead(self, key: str) -> None:
        """Send the request for ``key`` now, on the feed's thread (a no-op when it is
        already in flight; another key still in flight is waited for and dropped first)."""
        if self._ahead is not None:
            if self._ahead[0] == key:
                return
            self._drop()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        context = contextvars.copy_context()  # the log context follows the request
        self._ahead = (key, self._pool.submit(context.run, self._request, key))

    def get(self, key: str | None) -> T:
        """The answer for ``key``: the one sent ahead for it, else requested now (in this
        thread). Raises what the request raised."""
        if self._ahead is not None:
            sent, future = self._ahead
            if sent == key:
                self._ahead = None
                return future.result()
            self._drop()
        return self._request(key)

    @property
    def in_flight(self) -> str | None:
        """The key whose request was sent ahead and not yet taken, if any."""
        return self._ahead[0] if self._ahead is not None else None

    def _drop(self) -> None:
        assert self._ahead is not None
        _, future = self._ahead
        self._ahead = None
        with contextlib.suppress(Exception):  # an answer nobody asked for: its failure too
            future.result()

    def close(self) -> None:
        """Wait for a request still in flight, drop its answer, end the feed's thread."""
        if self._ahead is not None:
            self._drop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
