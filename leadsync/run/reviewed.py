"""Reviewed plans: ``leadsync plan --out plan.json`` saves one, ``leadsync apply`` runs it.

A saved plan is applied exactly as reviewed, or not at all: ``apply`` refuses (exit 3) when any
of its campaigns changed since the plan was made (their fingerprints differ) or when the plan
was already applied (a registry of applied plan ids under the report root).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..apply import ApplyResult
from ..config import Settings
from ..errors import RefusedError
from ..models import Count, ReadResult
from ..sync.issuetable import IssueTable
from ..sync.outcomes import campaign_counts
from ..sync.plan import Plan, fingerprint_remote
from .campaigns import Current, LeadSource, Targets, fetch_remote
from .finish import ROW_KEYS
from .planfile import SavedPlan, is_applied, mark_applied, save_plan
from .stages import apply_changes
from .state import CampaignsApi, Run

log = logging.getLogger(__name__)

#: Folder (under the report root) recording the ids of applied plans.
APPLIED_DIR_NAME = ".applied-plans"


def applied_registry(settings: Settings) -> Path:
    """Where applied plan ids are recorded: ``<report_dir>/.applied-plans``."""
    return settings.sync.report_dir / APPLIED_DIR_NAME


def save_reviewed_plan(
    plan: Plan,
    read: ReadResult,
    targets: Targets,
    settings: Settings,
    out: Path,
    overrides: list[str],
    campaign: str | None = None,
) -> Path:
    """Write ``plan`` to ``out`` with the input files' hashes, the effective settings (secrets
    masked), each campaign's fingerprint and the row counts. Returns ``out``."""
    counts = campaign_counts(
        {cid: c.name for cid, c in targets.campaigns.items()},
        targets.desired,
        IssueTable.concat([read.issues, targets.issues]),
        None,
        None,
        None,
        remote_before={},
    )
    rows = {name: {k: c[k] for k in ROW_KEYS} for name, c in counts.items()}
    save_plan(
        plan,
        out,
        sources=list(read.sources),
        settings_redacted=settings.redacted(),
        fingerprints=plan.fingerprints,
        created_at=datetime.now(UTC),
        meta={"rows": rows, "overrides": overrides, "campaign": campaign},
    )
    log.info("plan saved to %s (%d operations)", out, len(plan.operations))
    return out


def check_plan_current(saved: SavedPlan, client: LeadSource, settings: Settings) -> Current:
    """Refuse a plan that was applied before or whose campaigns changed since it was made;
    returns the campaigns' current leads (for ``before.csv``)."""
    registry = applied_registry(settings)
    if is_applied(saved.plan_id, registry):
        raise RefusedError(
            f"plan {saved.plan_id[:12]}… was already applied (recorded in {registry}); a plan "
            "is applied once: make a new plan from the current state",
            guard="plan-applied",
        )
    region = saved.settings.get("sync", {}).get("region", settings.sync.region)
    remote: dict[str, pd.DataFrame] = {}
    changed: list[str] = []
    for cid, name in sorted(saved.plan.campaigns.items()):
        frame = fetch_remote(client, cid, region=region, page_size=settings.api.page_size)
        remote[cid] = frame
        if fingerprint_remote(frame) != saved.plan.fingerprints.get(cid):
            before = saved.plan.counts.get(cid, {}).get(Count.REMOTE_BEFORE, "?")
            changed.append(f"{name} ({before} leads when planned, {len(frame)} now)")
    if changed:
        raise RefusedError(
            "the plan is stale: campaign(s) changed since it was made: "
            + "; ".join(changed)
            + ". Nothing was written; make a new plan (leadsync apply PLAN --replan)",
            guard="stale-plan",
        )
    return Current(remote=remote, complete=dict.fromkeys(remote, True))


def apply_saved_plan(
    saved: SavedPlan, current: Current, client: CampaignsApi, settings: Settings, run: Run
) -> ApplyResult | None:
    """Record the plan as applied (exclusively: a concurrent apply of it is refused), then
    apply its operations."""
    mark_applied(
        saved.plan_id,
        applied_registry(settings),
        applied_at=datetime.now(UTC),
        detail={"report": str(run.folder)},
    )
    return apply_changes(saved.plan, current, client, settings, run)


def plan_difference(old: Plan, new: Plan) -> list[tuple[str, int, int]]:
    """(what, in the saved plan, in a fresh plan) for each kind of operation."""

    def tally(plan: Plan) -> Counter[str]:
        return Counter(f"{op.kind.value} ({op.reason})" for op in plan.operations)

    a, b = tally(old), tally(new)
    return [(k, a.get(k, 0), b.get(k, 0)) for k in sorted(set(a) | set(b))]
