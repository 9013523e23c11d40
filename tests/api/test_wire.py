"""Pure parsers of the wire format, time input, campaign resolution (no network)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from leadsync.api import resolve_campaign, to_epoch_seconds
from leadsync.api.leadtable import parse_lead_table
from leadsync.api.wire import (
    WireFormatError,
    next_key_hint,
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


#: Listing pages as servers may send them: the key last, first, absent, null, empty, a number,
#: an array, escaped, a lead carrying the same field name, a lead's text that looks like a key.
HINT_PAGES: list[bytes] = [
    b'{"data":[{"id":"1","number":"+12135550100"}],"next_start_key":"k1"}',
    b'{"data": [{"id": "1"}], "next_start_key": "k1" }\n',
    b'{"next_start_key":"k1","data":[{"id":"1"}]}',
    b'{"data":[{"id":"1"}]}',
    b'{"data":[{"id":"1"}],"next_start_key":null}',
    b'{"data":[{"id":"1"}],"next_start_key":""}',
    b'{"data":[],"next_start_key":17}',
    b'{"data":[],"next_start_key":-1.5e3}',
    b'{"data":[],"next_start_key":["2024","id"]}',
    b'{"data":[],"next_start_key":[]}',
    b'{"data":[],"next_start_key":"a\\"b"}',
    b'{"data":[],"next_start_key":"caf\\u00e9"}',
    '{"data":[],"next_start_key":"café"}'.encode(),
    b'{"data":[{"id":"1","next_start_key":"inner"}]}',
    b'{"data":[{"id":"1","note":"x\\",\\"next_start_key\\":\\"fake\\"}"}]}',
    b'{"data":[{"id":"1","note":",\\"next_start_key\\":\\"fake\\"}"}],"next_start_key":"real"}',
    b'{"data":[{"id":"1"}],"next_start_key":"k1","next_start_key":"k2"}',
    b'{"status":"success","data":{"data":[]},"next_start_key":"k"}',
    b'[{"id":"1"}]',
    b'{"data":[{"id":"1"}],"next_start_key":true}',
    b'{"data":[{"id":"1"}],"next_start_key":"k1"',
    b"",
]


@pytest.mark.parametrize("content", HINT_PAGES)
def test_next_key_hint_never_contradicts_the_parsed_key(content: bytes) -> None:
    """What the tail says is what parsing the whole page says (or the tail says nothing, or
    the page is refused anyway)."""
    known, hint = next_key_hint(content)
    try:
        parsed_lenient = parse_leads_page(json.loads(content))[1]
    except (ValueError, WireFormatError):
        parsed_lenient = "unparsable"
    try:
        parsed_arrow = parse_lead_table(content)[1]
    except WireFormatError:
        parsed_arrow = "unparsable"
    assert parsed_arrow == parsed_lenient
    if known and parsed_lenient != "unparsable":  # a page that does not parse is never used
        assert hint == parsed_lenient


def test_next_key_hint_agrees_on_generated_pages() -> None:
    """Keys of every JSON kind, in pages written compact and indented, key first or last."""
    rng = random.Random(12)
    alphabet = 'ab"\\/\u00e9\u2603 ,:{}[]0'
    keys: list[object] = [None, "", 0, -7, 2.5, 1e20, [], ["x", 1], {"a": 1}]
    keys += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(200)]
    told = 0
    for n, key in enumerate(keys):
        lead = {"id": str(n), "note": json.dumps({"next_start_key": str(key)})}
        for first in (False, True):
            page = {"next_start_key": key, "data": [lead]} if first else {"data": [lead]}
            if not first:
                page["next_start_key"] = key
            for indent in (None, 2):
                content = json.dumps(page, indent=indent, ensure_ascii=n % 2 == 0).encode()
                known, hint = next_key_hint(content)
                if known:
                    told += 1
                    assert hint == parse_leads_page(json.loads(content))[1], content
    assert told >= 100  # the tail spoke for the pages written key last with a plain key


def test_next_key_hint_reads_the_usual_tail() -> None:
    """The forms a server ending its page with the key sends are read from the tail."""
    cases = {
        HINT_PAGES[0]: "k1",
        HINT_PAGES[1]: "k1",
        HINT_PAGES[4]: None,
        HINT_PAGES[5]: None,
        HINT_PAGES[6]: "17",
        HINT_PAGES[7]: "-1500.0",
        HINT_PAGES[12]: "café",
        HINT_PAGES[15]: "real",
        HINT_PAGES[16]: "k2",
    }
    for content, key in cases.items():
        assert next_key_hint(content) == (True, key), content
    for unknown in (2, 3, 8, 10, 11, 13, 14, 18, 19, 20, 21):
        assert next_key_hint(HINT_PAGES[unknown]) == (False, None), HINT_PAGES[unknown]


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
