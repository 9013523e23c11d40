"""Queues and activity events derived deterministically from the state and the seed.

The sandbox records no real calls. Every lead that is no longer ``new`` gets one dial event
whose time, agent and call id follow from the seed and the lead id, so that a seeded sandbox
answers the activity endpoint the same way every time. Payloads copy the document's examples.
The call log is kept small (one entry per call, sorted by time) and an event is rendered only
when a page of the activity endpoint includes it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .leads import LeadRecord

#: A lead's dial event happens this many seconds after the lead was created (min, span).
EVENT_DELAY_MIN_S = 60
EVENT_DELAY_SPAN_S = 86_400
#: Agents of the generated default queue.
DEFAULT_AGENTS: tuple[tuple[str, str, str], ...] = (
    ("Jim", "Jones", "1071"),
    ("Ada", "Moreno", "1072"),
)
_TAG_COLOR = "#b306f1"


def _hash(seed: int, text: str, bits: int = 64) -> int:
    digest = hashlib.blake2b(f"{seed}:{text}".encode(), digest_size=bits // 8).digest()
    return int.from_bytes(digest, "big")


def default_queues(account_id: str, seed: int) -> list[dict[str, Any]]:
    """One queue with two idle agents, shaped like the document's example."""
    rng = random.Random(_hash(seed, f"queues:{account_id}"))
    agents = [
        {
            "id": f"{rng.getrandbits(128):032x}",
            "name": f"{first} {last}",
            "extension": ext,
            "extension_is_valid": True,
            "delay": 0,
            "timeout": 15,
            "logged_in": False,
            "status": "idle",
            "registered": False,
            "tags": [
                {"id": f"{rng.getrandbits(128):032x}", "name": "Batch-B1", "color": _TAG_COLOR}
            ],
        }
        for first, last, ext in DEFAULT_AGENTS
    ]
    queue_id = f"{rng.getrandbits(128):032x}"
    return [
        {
            "id": f"{queue_id[:8]}-{queue_id[8:12]}-{queue_id[12:16]}-{queue_id[16:20]}-{queue_id[20:]}",
            "name": "Sales",
            "extension": "5586",
            "max_time_caller_in_queue": 120,
            "strategy": "single",
            "agents": agents,
            "calls": {},
            "total_agents": len(agents),
            "logged_in_agents": 0,
            "logged_out_agents": len(agents),
            "idle_agents": 0,
            "misconfigured_agents": 0,
            "agents_registered": 0,
            "agents_on_call": 0,
        }
    ]


def _datetime_text(ts: int) -> str:
    # The document's odd format: "2022-10-19 23:31:58 +0000 UTC".
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


@dataclass(frozen=True, slots=True)
class CallEntry:
    """One dial event in the sorted call log (rendered to the document's shape on demand)."""

    timestamp: int
    uuid: str
    h: int
    campaign_name: str
    lead: LeadRecord


def build_call_log(dialed: Sequence[tuple[str, LeadRecord]], seed: int) -> list[CallEntry]:
    """One dial event per (campaign name, lead), oldest first (ties by call id)."""
    log = []
    for campaign_name, lead in dialed:
        h = _hash(seed, lead.id)
        ts = lead.created + EVENT_DELAY_MIN_S + h % EVENT_DELAY_SPAN_S
        uuid = f"{_hash(seed, 'cdr:' + lead.id, 128):032x}{h % 0xFFFF:04x}-clicktocall"
        log.append(CallEntry(ts, uuid, h, campaign_name, lead))
    log.sort(key=lambda e: (e.timestamp, e.uuid))
    return log


def render_event(entry: CallEntry, agents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The activity endpoint's event for ``entry``, shaped like the document's example."""
    ts, lead = entry.timestamp, entry.lead
    agent = agents[entry.h % len(agents)] if agents else {"name": "", "extension": ""}
    first, _, last = str(agent.get("name", "")).partition(" ")
    return {
        "datetime": _datetime_text(ts),
        "timestamp": ts,
        "campaign_name": entry.campaign_name,
        "lead_name": f"{lead.first_name} {lead.last_name}".strip(),
        "lead_number": lead.number,
        "agent_name": agent.get("name", ""),
        "agent_extension": agent.get("extension", ""),
        "lead_history": [
            {
                "agent": {
                    "delay": 0,
                    "device_endpoints": [],
                    "email": f"{first.lower()}.{last.lower()}@example.com",
                    "endpoint": agent.get("id", ""),
                    "ext": agent.get("extension", ""),
                    "first_name": first,
                    "last_answered": float(ts) - 0.01,
                    "last_attempt": float(ts) - 0.02,
                    "last_hangup": 0,
                    "last_name": last,
                    "status": "idle",
                    "timeout": 20,
                    "total_talk_time": 0,
                    "type": "user",
                },
                "event": "campaign dial",
                "ext": agent.get("extension", ""),
                "last_attempt": float(ts),
                "type": "dial agent",
                "uuid": entry.uuid,
            }
        ],
    }
