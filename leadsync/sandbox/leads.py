"""How the sandbox stores leads: one ordered store per campaign, paged in O(page).

Leads of a campaign live in insertion order in two parallel lists (sequence numbers and lead
records, ``None`` where a lead was deleted) so that a page is found by bisecting the sequence
list and read in O(page); deleted slots are compacted away once they outnumber the live ones.
Page keys are the sequence number of the next lead masked with a per-campaign value and
written as 32 hex digits: opaque to clients, and still valid when that lead is deleted
meanwhile (the page simply starts at the next lead).
"""

from __future__ import annotations

import bisect
import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Add-body fields that are integers / strings on the wire.
INT_KEYS: tuple[str, ...] = ("retries", "priority", "cool_off")
STR_KEYS: tuple[str, ...] = ("first_name", "last_name", "type", "ticket_id", "note")
#: What the server stores when an add leaves a listed field out.
DEFAULT_RETRIES = 3
DEFAULT_PRIORITY = 1
NEW_STATUS = "new"
DEFAULT_CAMPAIGN_STATUS = "stopped"
#: Deleted slots tolerated before a campaign's lists are compacted.
COMPACT_MIN_DEAD = 1024
#: Bits of a generated id (32 hex digits).
HEX_ID_BITS = 128


@dataclass(slots=True)
class LeadRecord:
    """One stored lead: the listed fields, the hidden ones (None: not given), its sequence."""

    id: str
    campaign_id: str
    number: str
    status: str
    retries: int
    first_name: str
    last_name: str
    priority: int
    created: int
    seq: int
    type: str | None = None
    ticket_id: str | None = None
    note: str | None = None
    cool_off: int | None = None

    def listed(self) -> dict[str, Any]:
        """The lead as the listing endpoint returns it (the document's fields, in its order;
        type, ticket_id, note and cool_off are stored but not listed)."""
        return {
            "created": self.created,
            "campaign_id": self.campaign_id,
            "number": self.number,
            "status": self.status,
            "retries": self.retries,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "priority": self.priority,
            "id": self.id,
        }

    def record(self) -> dict[str, Any]:
        """Every stored field (listed and hidden)."""
        out = self.listed()
        out.update(type=self.type, ticket_id=self.ticket_id, note=self.note, cool_off=self.cool_off)
        return out


@dataclass(slots=True)
class CampaignStore:
    """A campaign and its leads in listing order (see the module docstring)."""

    id: str
    account_id: str
    name: str
    status: str
    created: int
    key_mask: int
    next_seq: int = 0
    seqs: list[int] = field(default_factory=list)
    slots: list[LeadRecord | None] = field(default_factory=list)
    dead: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def live(self) -> int:
        return len(self.slots) - self.dead

    def index_of(self, seq: int) -> int:
        return bisect.bisect_left(self.seqs, seq)

    def page(self, key: str | None, size: int) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``size`` listed leads from page ``key`` (None: the start) and the next page's
        key (None after the last lead). ValueError for a key not of this campaign."""
        start = 0
        if key is not None:
            seq = self.decode_key(key)
            if seq is None:
                raise ValueError("invalid page key")
            start = self.index_of(seq)
        out: list[dict[str, Any]] = []
        slots = self.slots
        i, end = start, len(slots)
        while i < end and len(out) < size:
            lead = slots[i]
            if lead is not None:
                out.append(lead.listed())
            i += 1
        while i < end and slots[i] is None:
            i += 1
        return out, (self.encode_key(self.seqs[i]) if i < end else None)

    def remove(self, lead: LeadRecord) -> None:
        """Remove a lead (its slot becomes empty; the lists are compacted when mostly empty)."""
        self.slots[self.index_of(lead.seq)] = None
        self.dead += 1
        self.counts[lead.status] -= 1
        if self.dead > max(COMPACT_MIN_DEAD, self.live):
            self.compact()

    def compact(self) -> None:
        pairs = [
            (s, lead) for s, lead in zip(self.seqs, self.slots, strict=True) if lead is not None
        ]
        self.seqs = [s for s, _ in pairs]
        self.slots = [lead for _, lead in pairs]
        self.dead = 0

    def encode_key(self, seq: int) -> str:
        return f"{seq ^ self.key_mask:032x}"

    def decode_key(self, key: str) -> int | None:
        try:
            seq = int(key, 16) ^ self.key_mask
        except ValueError:
            return None
        if len(key) != 32 or seq > self.next_seq:
            return None
        return seq


def key_mask_for(campaign_id: str) -> int:
    """The per-campaign value page keys are masked with (keys of one campaign fail on
    another)."""
    digest = hashlib.blake2b(campaign_id.encode(), digest_size=16).digest()
    return int.from_bytes(digest, "big")


def check_lead_fields(fields: Mapping[str, Any], where: str) -> None:
    """ValueError naming ``where`` and the field when a lead's fields have wrong types."""
    number = fields.get("number")
    if not isinstance(number, str) or not number.strip():
        raise ValueError(f"{where}: number must be a non-empty string")
    for key in INT_KEYS:
        value = fields.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"{where}: {key} must be an integer, got {value!r}")
    for key in (*STR_KEYS, "status"):
        value = fields.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{where}: {key} must be a string, got {value!r}")
