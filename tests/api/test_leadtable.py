"""Leads pages straight to Arrow: the fast path and the lenient one agree on every page."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadsync.api.leadtable import LEAD_SCHEMA, leads_table, parse_lead_table
from leadsync.api.wire import WireFormatError

LEAD = {
    "id": "a" * 32,
    "campaign_id": "c" * 32,
    "number": "+12135550100",
    "status": "new",
    "retries": 3,
    "first_name": "Zoë",
    "last_name": "O'Brien",
    "priority": None,
    "created": 1700000000,
}


def page(leads: list[Any], **extra: Any) -> bytes:
    return json.dumps({"data": leads, **extra}).encode()


def lenient(content: bytes) -> list[dict[str, Any]]:
    """What the dict path makes of the page's leads."""
    body = json.loads(content)
    data = body["data"] if isinstance(body, dict) else body
    return leads_table([d for d in data or [] if isinstance(d, dict)]).to_pylist()


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (page([LEAD, {**LEAD, "id": "b" * 32}], next_start_key="2"), "2"),
        (page([LEAD], next_start_key=1000), "1000"),  # a number key is sent back as text
        (page([LEAD], next_start_key=["k", 1]), '["k",1]'),  # a Kazoo array key
        (page([LEAD], next_start_key=""), None),
        (page([LEAD], next_start_key=None), None),
        (page([LEAD]), None),
        (page([]), None),
        (page([{**LEAD, "note": "x", "tags": [1]}], next_start_key="1"), "1"),  # extra fields
        (json.dumps({"next_start_key": "9", "data": [LEAD]}, indent=2).encode(), "9"),
    ],
    ids=[
        "text-key",
        "number-key",
        "array-key",
        "empty-key",
        "null-key",
        "no-key",
        "empty",
        "extra-fields",
        "pretty-printed",
    ],
)
def test_usual_pages(content: bytes, key: str | None) -> None:
    table, next_key = parse_lead_table(content)
    assert table.schema == LEAD_SCHEMA
    assert next_key == key
    assert table.to_pylist() == lenient(content)


@pytest.mark.parametrize(
    "content",
    [
        page(
            [{**LEAD, "priority": "3", "number": 12135550100}]
        ),  # types the document does not give
        page([{**LEAD, "priority": 2.0, "retries": 2.5}]),
        page([1, LEAD, None]),  # entries that are not objects are skipped
        page([{**LEAD, "id": None}, {k: v for k, v in LEAD.items() if k != "id"}]),
        json.dumps([LEAD]).encode(),  # no envelope
        json.dumps({"data": None}).encode(),
        json.dumps({"data": [LEAD, LEAD], "status": "success"}).encode(),
    ],
    ids=[
        "text-priority",
        "float-ints",
        "non-objects",
        "no-ids",
        "bare-list",
        "null-data",
        "envelope",
    ],
)
def test_unusual_pages_read_leniently(content: bytes) -> None:
    table, _ = parse_lead_table(content)
    assert table.schema == LEAD_SCHEMA
    assert table.to_pylist() == lenient(content)


def test_lenient_values() -> None:
    rows = leads_table([{**LEAD, "priority": "3", "retries": 2.5, "number": 12135550100}])
    got = rows.to_pylist()[0]
    assert (got["priority"], got["retries"], got["number"]) == (3, None, "12135550100")


def test_not_json_is_a_wire_error() -> None:
    with pytest.raises(WireFormatError):
        parse_lead_table(b"<html>busy</html>")
