"""Logging: human text or JSON lines, with every registered secret redacted.

:func:`setup_logging` installs one handler on the root logger (called once, by the CLI).
Records carry the run's context — ``job`` and ``stage`` — from :func:`log_context`, and any
``extra={...}`` the caller passes (counts, ids). A JSON line looks like::

    {"time": "2026-11-29T23:59:00.123Z", "level": "INFO", "logger": "leadsync.apply",
     "job": "nightly", "stage": "apply", "message": "applied 120 operations",
     "added": 100, "failed": 0}

Secrets: whoever learns one (the password and API key from the settings, a bearer token from
the login answer) calls :func:`register_secret`. :class:`RedactFilter`, attached to the handler,
replaces every registered secret with ``***`` in the message, its arguments, the extras and the
traceback text of ``exc_info`` before any formatter sees the record, and the formatters redact
their finished line once more.
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

MASK = "***"
#: Context keys every JSON line carries (null when unset).
CONTEXT_KEYS: tuple[str, ...] = ("job", "stage")

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", *CONTEXT_KEYS}
)

# --- secrets -------------------------------------------------------------------------------
#: A secret's substrings of this many characters are masked wherever they appear (a secret
#: cut short by a truncated message, or quoted in part, is still a secret).
SECRET_WINDOW = 8


def secret_forms(value: str) -> set[str]:
    """Every form ``value`` may take in output: raw, URL-encoded, JSON-escaped (ASCII-only
    and not), and Base64 at each of the three alignments it may have inside a longer encoded
    text (``Basic base64(user:password)``)."""
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }
    raw = value.encode()
    forms.add(base64.b64encode(raw).decode())  # the whole value encoded (a Basic credential)
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = 4 if offset else 0  # the first group mixes in what precedes the secret
        stop = len(encoded) - (4 if (offset + len(raw)) % 3 else 0)  # and the last, what follows
        forms.add(encoded[start:stop])
    return {form for form in forms if form}


class SecretMask:
    """Masks secrets in text: each one in every :func:`secret_forms` form, and any run of
    ``SECRET_WINDOW`` or more characters of such a form. Thread-safe; ``mask(text)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.secrets: set[str] = set()
        self._windows: frozenset[str] = frozenset()  # every SECRET_WINDOW-long slice of a form
        self._short: re.Pattern[str] | None = None  # the forms shorter than a window

    def add(self, value: Any) -> None:
        """Mask ``value`` (a str or a pydantic ``SecretStr``) from now on; None and blank
        values are ignored."""
        if value is None:
            return
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        text = str(value)
        if not text.strip():
            return
        with self._lock:
            if text in self.secrets:
                return
            self.secrets.add(text)
            forms = {form for secret in self.secrets for form in secret_forms(secret)}
            self._windows = frozenset(
                form[i : i + SECRET_WINDOW]
                for form in forms
                for i in range(len(form) - SECRET_WINDOW + 1)
            )
            short = sorted((f for f in forms if len(f) < SECRET_WINDOW), key=len, reverse=True)
            self._short = re.compile("|".join(map(re.escape, short))) if short else None

    def clear(self) -> None:
        with self._lock:
            self.secrets.clear()
            self._windows, self._short = frozenset(), None

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def __call__(self, text: str) -> str:
        """``text`` with every secret (in any form, or in part) replaced by ``***``."""
        windows, short = self._windows, self._short
        if not text or not (windows or short):
            return text
        covered = bytearray(len(text))
        hit = False
        if windows:
            for i in range(len(text) - SECRET_WINDOW + 1):
                if text[i : i + SECRET_WINDOW] in windows:
                    covered[i : i + SECRET_WINDOW] = b"\1" * SECRET_WINDOW
                    hit = True
        if short is not None:
            for m in short.finditer(text):
                covered[m.start() : m.end()] = b"\1" * (m.end() - m.start())
                hit = True
        if not hit:
            return text
        out: list[str] = []
        end = 0
        for run in _COVERED_RUN.finditer(covered):  # each run of covered characters: one mask
            out += [text[end : run.start()], MASK]
            end = run.end()
        return "".join(out) + text[end:]


_COVERED_RUN = re.compile(b"\x01+")

#: The secrets masked in every log line. ``register_secret(value)`` as soon as a secret is
#: known (a new token, say; a str or a pydantic ``SecretStr``, None and blank values ignored;
#: thread-safe); ``redact(text)`` masks them all in ``text``; ``clear_secrets()`` forgets them
#: (for tests).
_secrets = SecretMask()
register_secret = _secrets.add
redact = _secrets.__call__
clear_secrets = _secrets.clear


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class RedactFilter(logging.Filter):
    """Masks registered secrets in a record: message and args (rendered into one string),
    extras, and the text of ``exc_info`` / ``stack_info``. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        try:
            record.msg = redact(record.getMessage())
            record.args = None
        except (TypeError, ValueError):
            record.msg = redact(str(record.msg))  # bad %-args: keep the raw text
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _RECORD_ATTRS or key in CONTEXT_KEYS:
                setattr(record, key, _redact_value(value))
        return True


# --- context -------------------------------------------------------------------------------
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "leadsync_log_context", default=MappingProxyType({})
)


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Within the block, every record carries ``values`` (e.g. ``job=``, ``stage=``).

    Nested blocks add to (and may override) the outer ones. Context variables do not flow into
    new threads by themselves: worker pools should copy the context (``contextvars.copy_context``)
    or set the stage again.
    """
    token = _context.set({**_context.get(), **values})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Adds the :func:`log_context` values (and the handler's fixed ``context``) to records."""

    def __init__(self, context: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.context = dict(context or {})

    def filter(self, record: logging.LogRecord) -> bool:
        values: dict[str, Any] = {**dict.fromkeys(CONTEXT_KEYS), **self.context, **_context.get()}
        for key, value in values.items():
            if getattr(record, key, None) is None:  # an explicit ``extra=`` value wins
                setattr(record, key, value)
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS}


def _utc_time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO UTC), level, logger, job, stage, message, extras,
    and ``exc`` (the traceback text) when the record has one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            **{key: getattr(record, key, None) for key in CONTEXT_KEYS},
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            data.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exc"] = record.exc_text
        if record.stack_info:
            data["stack"] = record.stack_info
        return redact(json.dumps(data, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """``2026-11-29T23:59:00.123Z INFO    leadsync.apply [nightly/apply] message key=value``."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        where = "/".join(str(getattr(record, k)) for k in CONTEXT_KEYS if getattr(record, k, None))
        parts = [_utc_time(record), f"{record.levelname:<7}", record.name]
        if where:
            parts.append(f"[{where}]")
        parts.append(record.message)
        parts.extend(f"{k}={v}" for k, v in _extras(record).items())
        return " ".join(parts)

    def format(self, record: logging.LogRecord) -> str:
        # logging.Formatter.format adds the traceback and the stack after the line.
        return redact(super().format(record))


# --- setup ---------------------------------------------------------------------------------
_HANDLER_MARK = "_leadsync_handler"


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (like logging's
    last-resort handler), so a replaced stderr (test runners, click's CliRunner) is followed
    instead of writing to a stream that has since been closed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def setup_logging(
    fmt: str = "text",
    verbosity: int = 0,
    quiet: bool = False,
    stream: TextIO | None = None,
    context: Mapping[str, Any] | None = None,
) -> logging.Handler:
    """Send log records to ``stream`` (default: ``sys.stderr`` as it is at each record) as
    ``text`` or ``json`` lines.

    Levels: ``quiet`` → warnings and errors only; default INFO; ``verbosity`` ≥ 1 → DEBUG for
    leadsync; ≥ 2 also DEBUG for libraries (urllib3…), which otherwise log warnings only.
    ``context`` is added to every record (``{"job": "nightly"}``). Calling it again replaces the
    handler it installed before. Returns the handler. Raises ValueError for an unknown ``fmt``.
    """
    formatters: dict[str, type[logging.Formatter]] = {"text": TextFormatter, "json": JsonFormatter}
    if fmt not in formatters:
        raise ValueError(f"log format must be one of {', '.join(formatters)}, got {fmt!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    setattr(handler, _HANDLER_MARK, True)
    # Context first, so that redaction also covers context values.
    handler.addFilter(ContextFilter(context))
    handler.addFilter(RedactFilter())
    handler.setFormatter(formatters[fmt]())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity >= 2 and not quiet else logging.WARNING)
    level = logging.WARNING if quiet else logging.DEBUG if verbosity > 0 else logging.INFO
    logging.getLogger("leadsync").setLevel(level)
    return handler
