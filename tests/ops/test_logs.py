"""Logging: JSON lines a log shipper can parse, readable text, -v/-q, and secrets that never
appear in any line, whatever carries them (message, args, extras, tracebacks)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest
from pydantic import SecretStr

from leadsync.logs import (
    log_context,
    redact,
    register_secret,
    setup_logging,
)
from tests.helpers import restored_logging

log = logging.getLogger("leadsync.test_ops")
PASSWORD = "s3cr3t-Pa55word"
API_KEY = "ak_live_0123456789abcdef"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.tok.sig"
URL_SECRET = "p@ss w/rd&x"  # appears URL-encoded in request bodies and query strings


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    with restored_logging():
        yield


def json_lines(stream: io.StringIO) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_time_level_logger_context_message_and_counts() -> None:
    out = io.StringIO()
    setup_logging("json", stream=out, context={"job": "nightly"})
    with log_context(stage="apply"):
        log.info("applied %d operations", 120, extra={"added": 100, "failed": 0})
    log.warning("after the stage")
    first, second = json_lines(out)
    assert first["level"] == "INFO"
    assert first["logger"] == "leadsync.test_ops"
    assert first["job"] == "nightly"
    assert first["stage"] == "apply"
    assert first["message"] == "applied 120 operations"
    assert (first["added"], first["failed"]) == (100, 0)
    assert first["time"].endswith("Z")
    assert datetime.fromisoformat(first["time"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert second["stage"] is None and second["job"] == "nightly"
    assert "added" not in second


def test_text_is_one_readable_line_with_context_and_counts() -> None:
    out = io.StringIO()
    setup_logging("text", stream=out)
    with log_context(job="nightly", stage="read"):
        log.info("read %d rows", 1200, extra={"rejected": 3})
    (line,) = out.getvalue().splitlines()
    assert " INFO " in line
    assert "leadsync.test_ops [nightly/read] read 1200 rows rejected=3" in line


def test_exception_tracebacks_are_logged() -> None:
    out = io.StringIO()
    setup_logging("json", stream=out)
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("step failed")
    (line,) = json_lines(out)
    assert line["level"] == "ERROR"
    assert "Traceback" in line["exc"] and "ValueError: bad value" in line["exc"]


@pytest.mark.parametrize(
    ("verbosity", "quiet", "shown"),
    [
        (0, True, {"warning"}),
        (0, False, {"warning", "info"}),
        (1, False, {"warning", "info", "debug"}),
        (2, False, {"warning", "info", "debug", "library-debug"}),
    ],
)
def test_verbosity_and_quiet(verbosity: int, quiet: bool, shown: set[str]) -> None:
    out = io.StringIO()
    setup_logging("json", verbosity=verbosity, quiet=quiet, stream=out)
    log.warning("warning")
    log.info("info")
    log.debug("debug")
    logging.getLogger("urllib3.connectionpool").debug("library-debug")
    assert {line["message"] for line in json_lines(out)} == shown


def test_setting_up_again_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("text", stream=first)
    setup_logging("json", stream=second)
    log.info("once")
    assert first.getvalue() == ""
    assert [line["message"] for line in json_lines(second)] == ["once"]


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        setup_logging("xml")


def log_secrets_every_way() -> None:
    """Every way a secret could reach a log line."""
    log.info("login with password %s", PASSWORD)
    log.info(f"api key {API_KEY} in an f-string")
    log.info("token split across %s%s", TOKEN[:10], TOKEN[10:])
    log.info("sent", extra={"headers": {"Authorization": f"Bearer {TOKEN}"}, "key": API_KEY})
    log.debug("body password=%s", "p%40ss+w%2Frd%26x")  # URL-encoded form
    log.info('json body {"password": %s}', json.dumps(PASSWORD + '"q'))
    with log_context(stage=f"stage-{TOKEN}"):
        log.info("context carries it")
    try:
        raise RuntimeError(f"401 for token {TOKEN} (key {API_KEY})")
    except RuntimeError:
        log.error("call failed for %s", PASSWORD, exc_info=True)
    try:
        raise ValueError(PASSWORD)
    except ValueError as err:
        log.warning("wrapped: %r", err, exc_info=err, stack_info=True)


SECRETS = (PASSWORD, API_KEY, TOKEN, URL_SECRET, "p%40ss+w%2Frd%26x", "p%40ss%20w%2Frd%26x")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_appear_in_any_format(fmt: str) -> None:
    out = io.StringIO()
    setup_logging(fmt, verbosity=1, stream=out)
    register_secret(SecretStr(PASSWORD + '"q'))
    register_secret(PASSWORD)
    register_secret(SecretStr(API_KEY))
    register_secret(TOKEN)
    register_secret(URL_SECRET)
    log_secrets_every_way()
    text = out.getvalue()
    assert text.count("\n") >= 9  # every record was written ...
    assert "Traceback" in text and "RuntimeError" in text  # ... tracebacks included ...
    for secret in SECRETS:
        assert secret not in text, secret  # ... and no secret in any of it
    # JSON escaping of a quote must not hide the password from redaction either
    assert json.dumps(PASSWORD + '"q')[1:-1] not in text
    assert "***" in text
    if fmt == "json":
        json_lines(out)  # redaction keeps every line valid JSON


def test_secrets_show_when_not_registered_so_the_test_above_can_fail() -> None:
    out = io.StringIO()
    setup_logging("text", stream=out)
    log.info("login with password %s", PASSWORD)
    assert PASSWORD in out.getvalue()


def test_register_secret_ignores_nothing_values_and_redact_masks_longest_first() -> None:
    for nothing in (None, "", "   ", SecretStr("")):
        register_secret(nothing)
    assert redact("nothing to hide") == "nothing to hide"
    register_secret("abc")
    register_secret("abcdef")
    assert redact("x abcdef y abc") == "x *** y ***"


def test_default_stream_follows_a_replaced_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("text")
    log.warning("to whatever stderr is now")
    assert "to whatever stderr is now" in capsys.readouterr().err
