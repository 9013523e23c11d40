"""Leads paging: opaque hex keys, the server-side cap, last-page styles, repeat_key."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from leadsync.sandbox import LAST_PAGE_STYLES, Sandbox
from tests.helpers import MakeSandbox

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def seed(sb: Sandbox, n: int) -> str:
    cid = sb.state.add_campaign("Paged")
    sb.state.add_leads(cid, [{"number": f"+1213555{i:04d}"} for i in range(n)])
    return cid


def get_page(http: requests.Session, sb: Sandbox, cid: str, **params: Any) -> requests.Response:
    return http.get(
        sb.url(f"/api/v2/config/campaigns/{cid}/leads"), params=params, headers=sb.auth_headers()
    )


def walk(
    http: requests.Session, sb: Sandbox, cid: str, size: int, key_param: str = "next_start_key"
) -> tuple[list[str], list[int]]:
    """Follow next_start_key to the end; the numbers seen and each page's length."""
    numbers: list[str] = []
    sizes: list[int] = []
    key = None
    for _ in range(10_000):
        params: dict[str, Any] = {"page_size": size}
        if key:
            params[key_param] = key
        body = get_page(http, sb, cid, **params).json()
        numbers += [lead["number"] for lead in body["data"]]
        sizes.append(len(body["data"]))
        key = body.get("next_start_key")
        if not key:
            return numbers, sizes
        assert HEX32.match(key)
    raise AssertionError("paging never ended")


def test_pages_cover_every_lead_once_in_order(sandbox: Sandbox, http: requests.Session) -> None:
    cid = seed(sandbox, 23)
    numbers, sizes = walk(http, sandbox, cid, size=5)
    assert numbers == [f"+1213555{i:04d}" for i in range(23)]
    assert sizes == [5, 5, 5, 5, 3]


def test_exact_multiple_has_no_empty_trailing_page(
    sandbox: Sandbox, http: requests.Session
) -> None:
    cid = seed(sandbox, 10)
    _, sizes = walk(http, sandbox, cid, size=5)
    assert sizes == [5, 5]


def test_page_cap_limits_what_page_size_asks(
    make_sandbox: MakeSandbox, http: requests.Session
) -> None:
    sb = make_sandbox(page_cap=4)
    cid = seed(sb, 10)
    first = get_page(http, sb, cid, page_size=1000).json()
    assert len(first["data"]) == 4
    numbers, sizes = walk(http, sb, cid, size=1000)
    assert sizes == [4, 4, 2]
    assert len(set(numbers)) == 10


def test_default_page_size_when_none_is_asked(sandbox: Sandbox, http: requests.Session) -> None:
    cid = seed(sandbox, 60)
    assert len(get_page(http, sandbox, cid).json()["data"]) == sandbox.config.default_page_size


@pytest.mark.parametrize("style", LAST_PAGE_STYLES)
def test_last_page_styles(make_sandbox: MakeSandbox, http: requests.Session, style: str) -> None:
    sb = make_sandbox(last_page_style=style)
    cid = seed(sb, 3)
    middle = get_page(http, sb, cid, page_size=2).json()
    assert HEX32.match(middle["next_start_key"])
    last = get_page(http, sb, cid, page_size=2, next_start_key=middle["next_start_key"]).json()
    assert len(last["data"]) == 1
    expected = {"absent": ("missing",), "null": (None,), "empty": ("",)}[style]
    assert (last.get("next_start_key", "missing"),) == expected


def test_empty_campaign_is_one_empty_last_page(sandbox: Sandbox, http: requests.Session) -> None:
    cid = sandbox.state.add_campaign("Empty")
    assert get_page(http, sandbox, cid, page_size=10).json() == {"data": []}


def test_repeat_key_fault_serves_page_one_again(
    make_sandbox: MakeSandbox, http: requests.Session
) -> None:
    sb = make_sandbox(repeat_key=True)
    cid = seed(sb, 10)
    first = get_page(http, sb, cid, page_size=3).json()
    second = get_page(http, sb, cid, page_size=3, next_start_key=first["next_start_key"]).json()
    assert second == first
    assert sb.stats.faults["repeat_key"] == 1


def test_start_key_param_for_kazoo_style_servers(
    make_sandbox: MakeSandbox, http: requests.Session
) -> None:
    sb = make_sandbox(page_key_param="start_key")
    cid = seed(sb, 7)
    numbers, _ = walk(http, sb, cid, size=3, key_param="start_key")
    assert len(numbers) == 7
    # Such a server ignores the document's parameter name: page one again.
    first = get_page(http, sb, cid, page_size=3).json()
    again = get_page(http, sb, cid, page_size=3, next_start_key=first["next_start_key"]).json()
    assert again == first


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": "ten"},
        {"page_size": 0},
        {"page_size": -5},
        {"next_start_key": "not-hex"},
        {"next_start_key": "ffffffffffffffffffffffffffffffff"},
        {"next_start_key": "abc"},
    ],
)
def test_bad_page_parameters_are_400(
    sandbox: Sandbox, http: requests.Session, params: dict[str, Any]
) -> None:
    cid = seed(sandbox, 3)
    answer = get_page(http, sandbox, cid, **params)
    assert answer.status_code == 400
    assert answer.json()["message"] == "The information sent is invalid."


def test_unknown_campaign_is_400(sandbox: Sandbox, http: requests.Session) -> None:
    assert get_page(http, sandbox, "0" * 32).status_code == 400


def test_keys_of_one_campaign_do_not_open_another(sandbox: Sandbox, http: requests.Session) -> None:
    a = seed(sandbox, 5)
    b = sandbox.state.add_campaign("Other")
    sandbox.state.add_leads(b, [{"number": "+12135559999"}])
    key = get_page(http, sandbox, a, page_size=2).json()["next_start_key"]
    assert get_page(http, sandbox, b, page_size=2, next_start_key=key).status_code == 400


def test_deleting_the_next_key_lead_keeps_the_key_valid(
    sandbox: Sandbox, http: requests.Session
) -> None:
    cid = seed(sandbox, 6)
    first = get_page(http, sandbox, cid, page_size=2).json()
    next_lead = sandbox.state.leads(cid)[2]
    assert sandbox.state.delete_lead(next_lead["id"])
    rest = get_page(http, sandbox, cid, page_size=10, next_start_key=first["next_start_key"]).json()
    assert [lead["number"] for lead in rest["data"]] == [f"+1213555{i:04d}" for i in (3, 4, 5)]


def test_paging_stays_right_across_many_deletes(sandbox: Sandbox, http: requests.Session) -> None:
    # Enough deletes to compact the campaign's lists, between two pages of one walk.
    cid = seed(sandbox, 5000)
    first = get_page(http, sandbox, cid, page_size=10).json()
    ids = [lead["id"] for lead in sandbox.state.leads(cid)]
    for n, lead_id in enumerate(ids):
        if n % 5:  # keep every fifth lead
            assert sandbox.state.delete_lead(lead_id)
    rest = get_page(http, sandbox, cid, page_size=3, next_start_key=first["next_start_key"]).json()
    assert [lead["number"] for lead in rest["data"]] == [
        "+12135550010",
        "+12135550015",
        "+12135550020",
    ]
    numbers, sizes = walk(http, sandbox, cid, size=300)
    assert numbers == [f"+1213555{i:04d}" for i in range(0, 5000, 5)]
    assert sizes == [300, 300, 300, 100]
