"""Helpers of the apply tests: operations, a re-read over the real client, an in-process fake.

``FakeClient`` is an in-memory stand-in for the three write calls of ``CampaignsClient``. It is
used ONLY by the scheduling tests (order, stop, fatal errors, post-add statuses) where calls
must be held at a precise point; everything about the API itself is tested against the
sandbox over HTTP.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pandas as pd

from leadsync.api import AddResult, CampaignsClient
from leadsync.models import REMOTE_COLUMNS, Operation, OpKind
from leadsync.sandbox import Sandbox


def number(i: int) -> str:
    """A valid US E.164 number, distinct for each i < 10,000."""
    return f"+1213555{i:04d}"


def add_op(
    op_id: int,
    campaign_id: str,
    key: str,
    *,
    after: int | None = None,
    status: str | None = None,
    **fields: Any,
) -> Operation:
    return Operation(
        op_id=op_id,
        kind=OpKind.ADD,
        campaign_id=campaign_id,
        campaign="Spring",
        key=key,
        reason="not-in-campaign",
        status=status,
        body={"number": key, **fields},
        after=after,
    )


def add_ops(campaign_id: str, count: int, *, start: int = 0) -> list[Operation]:
    return [add_op(start + i, campaign_id, number(start + i)) for i in range(count)]


def status_op(
    op_id: int,
    campaign_id: str,
    key: str,
    status: str,
    *,
    lead_id: str | None = None,
    after: int | None = None,
) -> Operation:
    return Operation(
        op_id,
        OpKind.SET_STATUS,
        campaign_id,
        "Spring",
        key,
        "status-differs",
        lead_id=lead_id,
        status=status,
        after=after,
    )


def delete_op(
    op_id: int, campaign_id: str, key: str, lead_id: str, reason: str = "absent-from-file"
) -> Operation:
    return Operation(op_id, OpKind.DELETE, campaign_id, "Spring", key, reason, lead_id=lead_id)


def remote_table(leads: list[dict[str, Any]]) -> pd.DataFrame:
    """A REMOTE_COLUMNS table of listed leads. The tests use E.164 numbers only, so the
    normalized key is the number itself."""
    df = pd.DataFrame(leads, columns=[c for c in REMOTE_COLUMNS if c != "key"])
    df["key"] = df["number"]
    return df[list(REMOTE_COLUMNS)]


def fetcher(client: CampaignsClient) -> Callable[[str], pd.DataFrame]:
    """``fetch_remote`` over the real client: every page of the campaign."""

    def fetch(campaign_id: str) -> pd.DataFrame:
        return remote_table([lead for page in client.iter_lead_pages(campaign_id) for lead in page])

    return fetch


def numbers_in(sb: Sandbox, campaign_id: str) -> Counter[str]:
    """How many leads the sandbox holds per number (read from its state, not the API)."""
    return Counter(lead["number"] for lead in sb.state.leads(campaign_id))


class FakeClient:
    """In-memory add/set_status/delete for scheduling tests. ``hook(kind, arg)`` runs before
    each call (it may block, or raise to simulate an API error)."""

    def __init__(self, hook: Callable[[str, str], None] | None = None) -> None:
        self.hook = hook
        self.leads: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def _record(self, kind: str, arg: str) -> None:
        with self._lock:
            self.calls.append((kind, arg))
        if self.hook is not None:
            self.hook(kind, arg)

    def add_lead(self, campaign_id: str, body: dict[str, Any]) -> AddResult:
        self._record("add", body["number"])
        with self._lock:
            lead_id = f"L{next(self._ids)}"
            self.leads[lead_id] = {
                "id": lead_id,
                "campaign_id": campaign_id,
                "number": body["number"],
                "status": "new",
                "created": 0,
            }
        return AddResult(method="PUT", status=200)

    def set_status(self, lead_id: str, status: str) -> None:
        self._record("status", lead_id)
        with self._lock:
            self.leads[lead_id]["status"] = status

    def delete_lead(self, lead_id: str) -> None:
        self._record("delete", lead_id)
        with self._lock:
            del self.leads[lead_id]

    def fetch(self, campaign_id: str) -> pd.DataFrame:
        with self._lock:
            leads = [dict(v) for v in self.leads.values() if v["campaign_id"] == campaign_id]
        return remote_table(leads)
