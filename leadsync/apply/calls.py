"""One API call for one operation, and what its outcome means.

The client retries what is safe to retry (by error type); here the error that finally came out
is turned into an outcome:

========================================  ====================  ==========================
error from the client                     add                   set status / delete
========================================  ====================  ==========================
none                                      done                  done
``UncertainAddError``                     uncertain (settled)   (not raised)
``TimeoutError_``/``ServerError`` leaked  uncertain             failed
``UnreachableError``/``AuthError``        failed + fatal: the whole apply stops
any other ``ApiError`` (400, 404, 429…)   failed (refused: the server did not add it)
an unexpected exception (a bug)           uncertain             failed
========================================  ====================  ==========================

An add whose outcome is unknown is never repeated here (docs/design.md, API decision 2): the engine
re-reads the campaign and adds only what is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import (
    ApiError,
    AuthError,
    ServerError,
    TimeoutError_,
    UncertainAddError,
    UnreachableError,
)
from ..models import OpOutcome

logger = logging.getLogger(__name__)

#: Errors that end the whole apply: nothing more can be done against this API now.
FATAL_ERRORS: tuple[type[ApiError], ...] = (UnreachableError, AuthError)
#: Errors that, for an add, leave it unknown whether the lead was created.
_UNCERTAIN_ADD_ERRORS: tuple[type[ApiError], ...] = (UncertainAddError, TimeoutError_, ServerError)


class LeadWriter(Protocol):
    """The part of :class:`leadsync.api.CampaignsClient` the apply engine uses."""

    def add_lead(self, campaign_id: str, body: dict[str, Any]) -> Any: ...

    def set_status(self, lead_id: str, status: str) -> None: ...

    def delete_lead(self, lead_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """How one call ended. ``fatal`` is set when the error must stop the whole apply."""

    outcome: OpOutcome
    attempts: int
    http_status: int | None
    message: str
    method: str | None
    started_at: float
    finished_at: float
    fatal: ApiError | None = None


def _attempts(obj: object) -> int:
    value = getattr(obj, "attempts", None)
    return value if isinstance(value, int) and value > 0 else 1


def perform(call: Callable[[], Any], *, is_add: bool, clock: Callable[[], float]) -> CallOutcome:
    """Run ``call`` once and classify its outcome (see the module table). Never raises an
    ``Exception``; ``KeyboardInterrupt``/``SystemExit`` pass through."""
    started = clock()
    try:
        value = call()
    except ApiError as err:
        fatal = err if isinstance(err, FATAL_ERRORS) else None
        uncertain = is_add and isinstance(err, _UNCERTAIN_ADD_ERRORS)
        outcome = OpOutcome.UNCERTAIN if uncertain else OpOutcome.FAILED
        method = err.method or None
        return CallOutcome(
            outcome, _attempts(err), err.status, str(err), method, started, clock(), fatal
        )
    except Exception as exc:  # a bug below us: for an add, let the re-read decide
        logger.error("unexpected error in an API call", exc_info=exc)
        outcome = OpOutcome.UNCERTAIN if is_add else OpOutcome.FAILED
        message = f"unexpected error: {type(exc).__name__}: {exc}"
        return CallOutcome(outcome, 1, None, message, None, started, clock())
    method, status = getattr(value, "method", None), getattr(value, "status", None)
    return CallOutcome(
        OpOutcome.DONE,
        _attempts(value),
        status if isinstance(status, int) else None,
        "",
        method if isinstance(method, str) else None,
        started,
        clock(),
    )
