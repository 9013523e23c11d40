"""The errors (and the log line) of the write calls that both send paths build alike: the
threaded client methods (:mod:`.client`) and their event-loop twins (:mod:`.async_writer`)."""

from __future__ import annotations

import logging

from ..errors import ApiError, BadRequestError, NotFoundError, UncertainAddError

log = logging.getLogger("leadsync.api.client")  # where these lines were always logged


def uncertain_add(err: ApiError) -> UncertainAddError:
    """An add whose request was sent and whose outcome is unknown: never repeated blindly."""
    return UncertainAddError(
        f"outcome unknown ({Exception.__str__(err)}); not retried: the lead may "
        "or may not have been added",
        method=err.method,
        endpoint=err.endpoint,
        status=err.status,
        server_message=err.server_message,
    )


def both_verbs_refused(path: str, err: NotFoundError, post_err: NotFoundError) -> NotFoundError:
    """Neither PUT nor POST adds a lead here: the address or the campaign is wrong."""
    return NotFoundError(
        f"add lead refused with both verbs: PUT → {err.status}, POST → "
        f"{post_err.status} ({post_err.server_message or 'no message'}); check "
        "api.base_url and the campaign id",
        method="POST",
        endpoint=path,
        status=post_err.status,
        server_message=post_err.server_message,
    )


def log_already_deleted(path: str, err: BadRequestError) -> None:
    """A 400 on a delete retried after an ambiguous attempt: the first attempt deleted it."""
    log.info(
        "DELETE %s → 400 (%s) after an ambiguous attempt: already deleted",
        path,
        err.server_message,
    )
