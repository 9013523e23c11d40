"""seed_demo: a couple of campaigns with some leads, so a fresh sandbox shows something."""

from __future__ import annotations

from typing import Any

from .state import SandboxState

#: Campaign name -> (leads, how many of them are already dialed: success, failed).
DEMO_CAMPAIGNS: dict[str, tuple[int, int, int]] = {
    "Spring Promo": (24, 6, 3),
    "Renewals": (12, 2, 1),
}
_FIRST = ("Ann", "Bo", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lea")
_LAST = ("Ortiz", "Nguyen", "Smith", "Okafor", "Rossi", "Kim", "Novak", "Silva")
#: 555-01xx numbers are reserved for fiction: the demo dials no one. Area code 202 on
#: purpose: sample_data/ uses others, so what a demo sync adds is told apart from these.
_NUMBER = "+1202555{:04d}"


def seed_demo(state: SandboxState, *, account_id: str | None = None) -> dict[str, str]:
    """Add the demo campaigns (skipping any that already exist) to the account.

    Returns campaign name -> id for every demo campaign. Numbers are fictional (555-01xx).
    """
    ids: dict[str, str] = {}
    offset = 100
    for name, (count, success, failed) in DEMO_CAMPAIGNS.items():
        existing = state.find_campaign(name, account_id)
        if existing is not None:
            ids[name] = existing
            offset += count
            continue
        cid = state.add_campaign(name, account_id=account_id)
        leads: list[dict[str, Any]] = []
        for i in range(count):
            status = "success" if i < success else "failed" if i < success + failed else "new"
            leads.append(
                {
                    "number": _NUMBER.format(offset + i),
                    "first_name": _FIRST[i % len(_FIRST)],
                    "last_name": _LAST[i % len(_LAST)],
                    "priority": 1 + i % 5,
                    "retries": 3,
                    "status": status,
                }
            )
        state.add_leads(cid, leads)
        ids[name] = cid
        offset += count
    return ids
