"""Pure parsers of the wire format, time input, campaign resolution (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from leadsync.api import resolve_campaign, to_epoch_seconds
from leadsync.api.wire import (
    WireFormatError,
    page_key_text,
    parse_campaigns,
    parse_leads_page,
    parse_list,
    parse_login,
    parse_retry_after,
    server_message,
)
from leadsync.errors import UsageError
from leadsync.models import Campaign

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# --- campaigns -------------------------------------------------------------------------------
def test_campaigns_unknown_statuses_are_kept() -> None:
    text = json.dumps(
        {"c1": {"name": "A", "status": "running", "total_leads": 3,
                "leads_by_status": {"new": 1, "callback": 2}}}
    )  # fmt: skip
    [camp] = parse_campaigns(text)
    assert camp.leads_by_status == {"new": 1, "callback": 2}
    assert camp.status == "running"


def test_campaigns_never_read_by_position() -> None:
    text = '{"zz": {"name": "Last"}, "aa": {"name": "First"}}'
    assert [(c.id, c.name) for c in parse_campaigns(text)] == [("zz", "Last"), ("aa", "First")]


def test_campaigns_list_form_with_misspelled_id_and_envelope() -> None:
    text = json.dumps(
        {"status": "success", "data": [{"campaing_id": "c9", "name": "Typo", "total_leads": "7"}]}
    )
    [camp] = parse_campaigns(text)
    assert (camp.id, camp.name, camp.total_leads) == ("c9", "Typo", 7)


def test_campaigns_tolerates_bad_counts_and_entries(caplog: pytest.LogCaptureFixture) -> None:
    text = '{"c1": {"name": "A", "leads_by_status": {"new": "x", "failed": 2}}, "c2": 5}'
    [camp] = parse_campaigns(text)
    assert camp.leads_by_status == {"failed": 2}
    assert camp.total_leads is None
    assert "not a number" in caplog.text and "not an object" in caplog.text


@pytest.mark.parametrize("text", ["not json", "42", '"text"'])
def test_campaigns_unreadable(text: str) -> None:
    with pytest.raises(WireFormatError):
        parse_campaigns(text)


# --- leads pages -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (None, None),
        ("", None),
        ([], None),
        ("abc", "abc"),
        (17, "17"),
        (["2024", "id"], '["2024","id"]'),
    ],
)
def test_page_key_text(key: object, expected: str | None) -> None:
    assert page_key_text(key) == expected


def test_leads_page_shapes() -> None:
    assert parse_leads_page({"data": [{"id": "1"}], "next_start_key": "k"}) == ([{"id": "1"}], "k")
    assert parse_leads_page({"data": None}) == ([], None)
    assert parse_leads_page([{"id": "1"}]) == ([{"id": "1"}], None)
    with pytest.raises(WireFormatError, match="'data' is not a list"):
        parse_leads_page({"data": {"id": "1"}})


def test_parse_list_and_login() -> None:
    assert parse_list({"data": [{"a": 1}], "status": "success"}, "queues") == [{"a": 1}]
    with pytest.raises(WireFormatError, match="queues answer is not a list"):
        parse_list({"a": 1}, "queues")
    assert parse_login({"access_token": "t", "user": {"account_id": "acc"}}) == ("t", None, "acc")
    with pytest.raises(WireFormatError, match="no access_token"):
        parse_login({"user": {}})


# --- errors ----------------------------------------------------------------------------------
def test_server_message() -> None:
    assert server_message('{"message": "bad", "detail": "why"}') == "bad (why)"
    assert server_message("The information sent is invalid.") == "The information sent is invalid."
    assert server_message("", "Bad Gateway") == "Bad Gateway"
    assert len(server_message("x" * 1000)) == 300


def test_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    date = (NOW + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(date, now=NOW) == 30.0


# --- time input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1652977920", 1652977920),
        ("1652978220220", 1652978220),  # the document's endDate, in milliseconds
        (1652978220220, 1652978220),
        ("2024-05-01", 1714521600),
        ("2024-05-01T14:00:00+02:00", 1714564800),
        ("2024-05-01T12:00:00Z", 1714564800),
        ("now", 1714564800),
        ("24h", 1714564800 - 86400),
        ("90m", 1714564800 - 5400),
        ("7d", 1714564800 - 7 * 86400),
    ],
)
def test_to_epoch_seconds(value: str | int, expected: int) -> None:
    assert to_epoch_seconds(value, now=NOW) == expected


@pytest.mark.parametrize("value", ["", "yesterday", "-5", "12x"])
def test_to_epoch_seconds_rejects(value: str) -> None:
    with pytest.raises(ValueError, match=r"time|negative"):
        to_epoch_seconds(value, now=NOW)


# --- resolving campaigns ---------------------------------------------------------------------
CAMPAIGNS = [
    Campaign("a" * 32, "Spring Promo"),
    Campaign("b" * 32, "Renewals"),
    Campaign("c" * 32, "renewals"),
    Campaign("d" * 32, "Twin"),
    Campaign("e" * 32, "Twin"),
]


def test_resolve_by_id_exact_and_casefold() -> None:
    assert resolve_campaign("b" * 32, CAMPAIGNS).name == "Renewals"
    assert resolve_campaign("renewals", CAMPAIGNS).id == "c" * 32  # exact beats casefold
    assert resolve_campaign(" spring promo ", CAMPAIGNS).id == "a" * 32


@pytest.mark.parametrize(
    ("ref", "why"), [("RENEWALS", "ambiguous"), ("Twin", "ambiguous"), ("Nope", "unknown")]
)
def test_resolve_errors_list_the_known_campaigns(ref: str, why: str) -> None:
    with pytest.raises(UsageError, match=why) as info:
        resolve_campaign(ref, CAMPAIGNS)
    message = str(info.value)
    assert info.value.exit_code == 2
    if why == "unknown":
        assert all(f"{c.name} ({c.id})" in message for c in CAMPAIGNS)
    else:
        assert "give the id" in message
