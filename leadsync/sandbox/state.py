"""SandboxState: accounts, campaigns and leads held in memory, thread-safe, saved as JSON.

How leads are stored and paged is in ``leads.py``.
"""

from __future__ import annotations

import bisect
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from .activity import CallEntry, build_call_log, default_queues, render_event
from .leads import (
    DEFAULT_CAMPAIGN_STATUS,
    DEFAULT_PRIORITY,
    DEFAULT_RETRIES,
    HEX_ID_BITS,
    NEW_STATUS,
    CampaignStore,
    LeadRecord,
    check_lead_fields,
    key_mask_for,
)

#: State file format marker and version.
STATE_FORMAT = "leadsync-sandbox-state"
STATE_VERSION = 1


@dataclass(slots=True)
class Account:
    """A tenant: who may log in to it and with which API key."""

    account_id: str
    name: str
    username: str | None = None
    password: str | None = None
    domain: str | None = None
    api_key: str | None = None


class SandboxState:
    """All data of a sandbox. Every method is thread-safe.

    ``default_account_id`` is used when a method is not told an account. Ids come from a
    ``random.Random(seed)`` so that a seeded run repeats; ``clock`` gives ``created`` times.
    """

    def __init__(
        self,
        default_account_id: str = "acct-demo",
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.default_account_id = default_account_id
        self.seed = seed
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._accounts: dict[str, Account] = {}
        self._campaigns: dict[str, CampaignStore] = {}
        self._leads: dict[str, LeadRecord] = {}
        self._voicemails: dict[str, set[str]] = {}
        self._queues: dict[str, list[dict[str, Any]]] = {}
        self._version = 0
        self._saved_version = 0
        self._data_version = 0  # leads, campaigns and queues only
        self._call_logs: dict[str, tuple[int, tuple[list[CallEntry], list[int], set[str]]]] = {}

    # --- bookkeeping ---------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        """True when something changed since the last save or load."""
        return self._version != self._saved_version

    def _changed(self) -> None:
        self._version += 1
        self._data_version += 1

    def new_id(self) -> str:
        """A fresh 32-hex id (seeded), unique among leads and campaigns."""
        with self._lock:
            while True:
                candidate = f"{self._rng.getrandbits(HEX_ID_BITS):032x}"
                if candidate not in self._leads and candidate not in self._campaigns:
                    return candidate

    # --- accounts ------------------------------------------------------------------------
    def add_account(
        self,
        account_id: str,
        *,
        name: str | None = None,
        username: str | None = None,
        password: str | None = None,
        domain: str | None = None,
        api_key: str | None = None,
    ) -> Account:
        """Register (or update the credentials of) an account; returns it."""
        with self._lock:
            account = self._accounts.get(account_id)
            if account is None:
                account = Account(account_id, name or account_id)
                self._accounts[account_id] = account
                self._changed()
            if name is not None:
                account.name = name
            for attr, value in (
                ("username", username),
                ("password", password),
                ("domain", domain),
                ("api_key", api_key),
            ):
                if value is not None:
                    setattr(account, attr, value)
            return account

    def account(self, account_id: str) -> Account | None:
        """The account called ``account_id``, or None."""
        with self._lock:
            return self._accounts.get(account_id)

    def account_for_login(self, username: str, password: str, domain: str) -> Account | None:
        """The account these credentials open, or None."""
        given = (username, password, domain)
        with self._lock:
            return next(
                (a for a in self._accounts.values() if (a.username, a.password, a.domain) == given),
                None,
            )

    def account_for_api_key(self, api_key: str) -> Account | None:
        """The account this API key opens, or None."""
        with self._lock:
            return next((a for a in self._accounts.values() if a.api_key == api_key), None)

    # --- campaigns -----------------------------------------------------------------------
    def add_campaign(
        self,
        name: str,
        *,
        account_id: str | None = None,
        status: str = DEFAULT_CAMPAIGN_STATUS,
        campaign_id: str | None = None,
    ) -> str:
        """Create a campaign and return its id (32 hex unless ``campaign_id`` is given).

        Raises ValueError when ``campaign_id`` is taken.
        """
        with self._lock:
            account_id = account_id or self.default_account_id
            self.add_account(account_id)
            cid = campaign_id or self.new_id()
            if cid in self._campaigns:
                raise ValueError(f"campaign id {cid} already exists")
            self._campaigns[cid] = CampaignStore(
                id=cid,
                account_id=account_id,
                name=name,
                status=status,
                created=int(self._clock()),
                key_mask=key_mask_for(cid),
            )
            self._changed()
            return cid

    def campaign_account(self, campaign_id: str) -> str | None:
        """The account owning ``campaign_id``, or None when there is no such campaign."""
        with self._lock:
            campaign = self._campaigns.get(campaign_id)
            return campaign.account_id if campaign else None

    def campaigns(self, account_id: str | None = None) -> dict[str, dict[str, Any]]:
        """The counts endpoint's answer for one account: id -> name, status, counts."""
        with self._lock:
            account_id = account_id or self.default_account_id
            return {
                c.id: {
                    "name": c.name,
                    "status": c.status,
                    "total_leads": c.live,
                    "leads_by_status": {s: n for s, n in c.counts.items() if n > 0},
                }
                for c in self._campaigns.values()
                if c.account_id == account_id
            }

    def find_campaign(self, name: str, account_id: str | None = None) -> str | None:
        """The id of the (first) campaign called ``name`` in the account, or None."""
        with self._lock:
            account_id = account_id or self.default_account_id
            for c in self._campaigns.values():
                if c.account_id == account_id and c.name == name:
                    return c.id
            return None

    # --- leads ---------------------------------------------------------------------------
    def add_leads(self, campaign_id: str, leads: Iterable[Mapping[str, Any]]) -> list[str]:
        """Add leads to a campaign in one go; returns their ids in order.

        Each mapping holds add-body fields (``number`` required) and optionally ``status``
        (default ``new``), ``created`` (epoch seconds) and ``id`` (to pin an id). Statuses are
        not checked here, so tests can load statuses the tenant does not know.
        Raises KeyError for an unknown campaign, ValueError naming the lead's index and field.
        """
        with self._lock:
            campaign = self._campaigns.get(campaign_id)
            if campaign is None:
                raise KeyError(f"unknown campaign {campaign_id}")
            batch = list(leads)
            pinned: set[str] = set()
            for i, fields in enumerate(batch):  # check all first: a bad lead adds nothing
                check_lead_fields(fields, f"lead #{i}")
                pin = fields.get("id")
                if pin is not None:
                    if pin in self._leads or pin in pinned:
                        raise ValueError(f"lead #{i}: id {pin} already exists")
                    pinned.add(pin)
            now = int(self._clock())
            ids: list[str] = []
            # The loop below runs a million times for big tests: locals, no method calls.
            index, campaigns, bits = self._leads, self._campaigns, self._rng.getrandbits
            seqs, slots, counts, cid = campaign.seqs, campaign.slots, campaign.counts, campaign.id
            seq = campaign.next_seq
            for f in batch:
                lead_id = f.get("id")
                if lead_id is None:
                    lead_id = f"{bits(HEX_ID_BITS):032x}"
                    while lead_id in index or lead_id in campaigns or lead_id in pinned:
                        lead_id = f"{bits(HEX_ID_BITS):032x}"
                status = f.get("status") or NEW_STATUS
                retries, priority, created = f.get("retries"), f.get("priority"), f.get("created")
                lead = LeadRecord(
                    lead_id,
                    cid,
                    f["number"],
                    status,
                    DEFAULT_RETRIES if retries is None else retries,
                    f.get("first_name") or "",
                    f.get("last_name") or "",
                    DEFAULT_PRIORITY if priority is None else priority,
                    now if created is None else int(created),
                    seq,
                    f.get("type"),
                    f.get("ticket_id"),
                    f.get("note"),
                    f.get("cool_off"),
                )
                seq += 1
                seqs.append(lead.seq)
                slots.append(lead)
                counts[status] += 1
                index[lead_id] = lead
                ids.append(lead_id)
            campaign.next_seq = seq
            if ids:
                self._changed()
            return ids

    def add_lead(self, campaign_id: str, fields: Mapping[str, Any]) -> str:
        """Add one lead (see :meth:`add_leads`); returns its id."""
        return self.add_leads(campaign_id, [fields])[0]

    def leads(self, campaign_id: str) -> list[dict[str, Any]]:
        """Every lead of a campaign as the listing returns it (copies), in listing order.

        Raises KeyError for an unknown campaign.
        """
        with self._lock:
            campaign = self._campaigns[campaign_id]
            return [lead.listed() for lead in campaign.slots if lead is not None]

    def lead(self, lead_id: str) -> dict[str, Any] | None:
        """The full stored record of a lead (listed fields plus type, ticket_id, note,
        cool_off; None where not given), or None when there is no such lead."""
        with self._lock:
            lead = self._leads.get(lead_id)
            return lead.record() if lead else None

    def lead_account(self, lead_id: str) -> str | None:
        """The account owning the lead, or None when there is no such lead."""
        with self._lock:
            lead = self._leads.get(lead_id)
            return self._campaigns[lead.campaign_id].account_id if lead else None

    def page(
        self, campaign_id: str, key: str | None, size: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a campaign's leads starting at page ``key`` (None: the first page).

        Returns the leads and the key of the next page (None on the last page).
        Raises KeyError for an unknown campaign, ValueError for a key that is not one of
        this campaign's.
        """
        with self._lock:
            return self._campaigns[campaign_id].page(key, size)

    def set_status(self, lead_id: str, status: str) -> bool:
        """Set a lead's status; False when there is no such lead."""
        with self._lock:
            lead = self._leads.get(lead_id)
            if lead is None:
                return False
            if lead.status != status:
                counts = self._campaigns[lead.campaign_id].counts
                counts[lead.status] -= 1
                counts[status] += 1
                lead.status = status
                self._changed()
            return True

    def delete_lead(self, lead_id: str) -> bool:
        """Delete a lead; False when there is no such lead."""
        with self._lock:
            lead = self._leads.pop(lead_id, None)
            if lead is None:
                return False
            self._campaigns[lead.campaign_id].remove(lead)
            self._changed()
            return True

    # --- queues, calls, voicemail ----------------------------------------------------------
    def queues(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """The account's call queues (the queues endpoint's answer)."""
        with self._lock:
            account_id = account_id or self.default_account_id
            if account_id not in self._queues:
                self._queues[account_id] = default_queues(account_id, self.seed)
            return json.loads(json.dumps(self._queues[account_id]))

    def _call_log(self, account_id: str) -> tuple[list[CallEntry], list[int], set[str]]:
        # Derived from the leads; rebuilt only after the leads changed (not on voicemails).
        cached = self._call_logs.get(account_id)
        if cached is not None and cached[0] == self._data_version:
            return cached[1]
        campaigns = [c for c in self._campaigns.values() if c.account_id == account_id]
        dialed = [
            (c.name, lead)
            for c in campaigns
            for lead in c.slots
            if lead is not None and lead.status != NEW_STATUS
        ]
        log = build_call_log(dialed, self.seed)
        derived = (log, [e.timestamp for e in log], {e.uuid for e in log})
        self._call_logs[account_id] = (self._data_version, derived)
        return derived

    def events(
        self,
        account_id: str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The account's activity events with ``start <= timestamp <= end``, oldest first,
        from ``offset``, at most ``limit`` (derived from the leads and the seed)."""
        with self._lock:
            account_id = account_id or self.default_account_id
            log, stamps, _ = self._call_log(account_id)
            lo = 0 if start is None else bisect.bisect_left(stamps, start)
            hi = len(log) if end is None else bisect.bisect_right(stamps, end)
            first = lo + offset
            last = hi if limit is None else min(hi, first + limit)
            agents = [a for q in self.queues(account_id) for a in q.get("agents", [])]
            return [render_event(entry, agents) for entry in log[first:last]]

    def set_voicemail(self, cdr_id: str, account_id: str | None = None) -> bool:
        """Mark a call of the account as voicemail; False when the account has no such call."""
        with self._lock:
            account_id = account_id or self.default_account_id
            if cdr_id not in self._call_log(account_id)[2]:
                return False
            marked = self._voicemails.setdefault(account_id, set())
            if cdr_id not in marked:
                marked.add(cdr_id)
                self._version += 1  # saved, but the call log stays valid
            return True

    def voicemails(self, account_id: str | None = None) -> set[str]:
        """Call ids the account has marked as voicemail."""
        with self._lock:
            return set(self._voicemails.get(account_id or self.default_account_id, set()))

    # --- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything but credentials, as plain JSON-ready data."""
        with self._lock:
            return {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "accounts": {a.account_id: {"name": a.name} for a in self._accounts.values()},
                "campaigns": [
                    {
                        "id": c.id,
                        "account_id": c.account_id,
                        "name": c.name,
                        "status": c.status,
                        "created": c.created,
                        "next_seq": c.next_seq,
                        "leads": [lead.record() for lead in c.slots if lead is not None],
                    }
                    for c in self._campaigns.values()
                ],
                "queues": self._queues,
                "voicemails": {a: sorted(v) for a, v in self._voicemails.items()},
            }

    def save(self, path: Path) -> None:
        """Write the state to ``path`` atomically (temporary file, fsync, rename)."""
        with self._lock:
            version = self._version
            text = json.dumps(self.to_dict(), separators=(",", ":"))
        write_atomic(Path(path), text)
        with self._lock:
            self._saved_version = max(self._saved_version, version)

    def load(self, path: Path) -> None:
        """Replace campaigns, leads, queues and voicemails with the state saved at ``path``
        (by :meth:`save`); accounts are added. ValueError naming the file when it is not a
        valid state file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a leadsync sandbox state file (not UTF-8)") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a leadsync sandbox state file")
        if data.get("format") != STATE_FORMAT or data.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: not a leadsync sandbox state file (version 1)")
        with self._lock:
            self._campaigns.clear()
            self._leads.clear()
            for account_id, info in data.get("accounts", {}).items():
                self.add_account(account_id, name=info.get("name"))
            for n, c in enumerate(data.get("campaigns", [])):
                try:
                    cid = self.add_campaign(
                        c["name"],
                        account_id=c["account_id"],
                        status=c["status"],
                        campaign_id=c["id"],
                    )
                    campaign = self._campaigns[cid]
                    campaign.created = int(c["created"])
                    self.add_leads(cid, c["leads"])
                    campaign.next_seq = max(campaign.next_seq, int(c.get("next_seq", 0)))
                except (KeyError, TypeError, ValueError) as err:
                    raise ValueError(f"{path}: campaign #{n}: {err}") from None
            self._queues = {a: list(q) for a, q in data.get("queues", {}).items()}
            self._voicemails = {a: set(v) for a, v in data.get("voicemails", {}).items()}
            self._changed()
            self._saved_version = self._version
