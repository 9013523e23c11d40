"""Errors and exit codes: one root, transient vs terminal by type.

Retry code decides by *type*, never by message text. The tree::

    LeadsyncError                      root; every error leadsync raises on purpose
    ├── UsageError          (exit 2)   bad command-line usage or arguments
    ├── ConfigError         (exit 2)   a missing or invalid setting
    ├── InputError          (exit 2)   a file that cannot be read at all (not a bad row:
    │                                  bad rows are data, see models.RowIssue)
    ├── RefusedError        (exit 3)   a safety guard or a stale/applied plan refused the run
    ├── LockedError         (exit 5)   another run of the job holds the lock
    └── ApiError                       anything the Campaigns API said or failed to say;
        │                              carries endpoint, method, status, server message
        ├── TransientError  (exit 4)   safe to try again later (the call may be repeated
        │   │                          when it is idempotent)
        │   ├── ConnectError           never reached the server (refused, DNS, TLS handshake)
        │   ├── TimeoutError_          sent, no answer in time (may have been applied!)
        │   ├── ThrottledError         429 / 503 with Retry-After: explicitly refused, try later
        │   └── ServerError            500/502/503/504
        ├── TerminalError              repeating will not help
        │   ├── BadRequestError        400: the server's message says why
        │   ├── NotFoundError          404/405 (wrong path or verb on this deployment)
        │   ├── AuthError     (exit 4) login refused / 401 after one re-login
        │   └── PaginationError        the server ignored the page key (would loop forever)
        ├── UnreachableError  (exit 4) retries exhausted on connection errors: API unreachable
        └── UncertainAddError          an add whose outcome is unknown (sent, then timeout/5xx):
                                       never retried blindly; the sync engine settles it
                                       by re-reading the campaign (docs/design.md, API decision 2)
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (docs/design.md, 'Exit codes'). The CLI is the only place that exits."""

    OK = 0  # done, nothing failed
    FAILED = 1  # finished with failed operations or residual differences (or interrupted)
    BAD_INPUT = 2  # bad input, config or usage
    REFUSED = 3  # refused by a safety guard or a stale plan; nothing written
    UNREACHABLE = 4  # API unreachable or login refused
    LOCKED = 5  # another run holds the job's lock or a campaign's; this run did nothing


class LeadsyncError(Exception):
    """Root of every error leadsync raises on purpose."""

    exit_code: ExitCode = ExitCode.FAILED


class UsageError(LeadsyncError):
    exit_code = ExitCode.BAD_INPUT


class ConfigError(LeadsyncError):
    exit_code = ExitCode.BAD_INPUT


class InputError(LeadsyncError):
    """A source file cannot be read at all. The message names the file (and sheet/row/field
    when known)."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class RefusedError(LeadsyncError):
    """A safety guard refused the run; nothing was written. The message names the numbers and
    the flag or setting that overrides it."""

    exit_code = ExitCode.REFUSED

    def __init__(self, message: str, *, guard: str = "", override: str = "") -> None:
        super().__init__(message)
        self.guard = guard
        self.override = override


class LockedError(LeadsyncError):
    exit_code = ExitCode.LOCKED


class ApiError(LeadsyncError):
    """Anything the Campaigns API said (or failed to say).

    Attributes name the call so that every message reads like
    ``PUT /api/v2/config/campaigns/abc/lead → 400: The information sent is invalid.``
    """

    exit_code = ExitCode.FAILED

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        endpoint: str = "",
        status: int | None = None,
        server_message: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.endpoint = endpoint
        self.status = status
        self.server_message = server_message
        self.retry_after = retry_after

    def __str__(self) -> str:
        head = f"{self.method} {self.endpoint}".strip()
        status = f" → {self.status}" if self.status is not None else ""
        msg = super().__str__()
        return f"{head}{status}: {msg}" if head else msg


class TransientError(ApiError):
    """Trying again later may succeed.

    One that escapes every retry and stops a run (a campaign listing answered 503 until the
    attempts ran out) means the API is not working now: exit 4, "retry later", like
    UnreachableError. Per-operation failures during apply are results, never raised.
    """

    exit_code = ExitCode.UNREACHABLE


class ConnectError(TransientError):
    """The request certainly never reached the server (refused, DNS, TLS handshake)."""


class TimeoutError_(TransientError):
    """The request was sent but no answer came in time: it may have been applied."""


class ThrottledError(TransientError):
    """429, or 503 with Retry-After: the server explicitly refused; ``retry_after`` seconds."""


class ServerError(TransientError):
    """500/502/503/504 without an explicit refusal."""


class TerminalError(ApiError):
    """Repeating the same call will not help."""


class BadRequestError(TerminalError):
    """400: the server rejected the request; ``server_message`` says why."""


class NotFoundError(TerminalError):
    """404/405: wrong path or verb for this deployment."""


class AuthError(TerminalError):
    """Login refused, or 401 again right after a fresh login."""

    exit_code = ExitCode.UNREACHABLE


class PaginationError(TerminalError):
    """The server repeated a page or a page key: following it would loop forever."""


class UnreachableError(ApiError):
    """Retries exhausted without ever reaching the API (or the retry budget ran out)."""

    exit_code = ExitCode.UNREACHABLE


class UncertainAddError(ApiError):
    """An add was sent and its outcome is unknown (timeout or 5xx after sending).

    Never retried blindly: the sync engine re-reads the campaign and adds only what is still
    missing (docs/design.md, API decision 2)."""
