"""The stages of :func:`leadsync.run.pipeline.run_sync` between the library rooms.

diff → plan → guard → apply → verify: each takes typed values (``Targets``, ``Current``,
``Plan``…) and returns the next; none knows about the others.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

import pandas as pd

from ..apply import ApplyResult, Journal, apply_plan
from ..apply.journal import JOURNAL_NAME
from ..config import Settings
from ..errors import ApiError
from ..models import IssueKind, Operation, OpKind, OpOutcome, ReadResult, RowIssue
from ..report import write_before_csv
from ..sync.diff import CampaignDiff, diff_campaign
from ..sync.issuetable import IssueTable
from ..sync.outcomes import Verification
from ..sync.plan import Plan, build_plan, check_guards, fingerprint_remote, is_removal
from .campaigns import Current, LeadSource, Targets, fetch_remote
from .state import CampaignsApi, Progress, Run, SyncRequest

log = logging.getLogger(__name__)


# --- diff -----------------------------------------------------------------------------------
def diff_targets(
    targets: Targets, current: Current, settings: Settings, *, progress: Progress | None = None
) -> dict[str, CampaignDiff]:
    """One diff per campaign whose leads all loaded (the others are left untouched: without
    every page we can neither add safely — the lead may be on a missing page — nor delete).
    ``progress("diff", done, total)`` counts desired rows, a campaign at a time."""
    diffs: dict[str, CampaignDiff] = {}
    total, done = sum(len(d) for d in targets.desired.values()), 0
    for cid, desired in targets.desired.items():
        if current.complete.get(cid, False):
            unique, dupes = _unique_numbers(desired)
            targets.issues.extend(dupes)
            targets.desired[cid] = unique
            remote = current.remote[cid]
            diffs[cid] = diff_campaign(unique, remote, statuses=settings.sync.statuses)
        done += len(desired)
        if progress is not None:
            progress("diff", done, total)
    return diffs


def _unique_numbers(desired: pd.DataFrame) -> tuple[pd.DataFrame, list[RowIssue]]:
    """Rows naming one campaign two ways (name and id) can repeat a number: first wins."""
    dup = desired["number"].duplicated(keep="first")
    if not dup.any():
        return desired, []
    first_row = desired.loc[~dup].set_index("number")["row"]
    issues = [
        RowIssue(
            file=r.file,
            sheet=None if pd.isna(r.sheet) else r.sheet,
            row=int(r.row),
            kind=IssueKind.DUPLICATE,
            codes=("duplicate",),
            message=f"same campaign and number as row {int(first_row[r.number])}",
            values={},
            campaign=r.campaign,
            number=r.number,
            duplicate_of_row=int(first_row[r.number]),
        )
        for r in desired.loc[dup].itertuples(index=False)
    ]
    return desired.loc[~dup], issues


# --- plan and guard -------------------------------------------------------------------------
def plan_changes(
    diffs: dict[str, CampaignDiff],
    targets: Targets,
    current: Current,
    settings: Settings,
    *,
    fingerprint: bool = True,
    progress: Progress | None = None,
) -> Plan:
    """The operations that close the gap; with ``fingerprint`` (a plan to be saved), each
    campaign's state fingerprint (a sort of all its leads: only worth it when kept).
    ``progress("plan", done, total)`` counts the campaigns' desired and remote leads."""
    done = sum(len(d.desired) + d.remote_count for d in diffs.values())  # once planned
    total = done + (sum(d.remote_count for d in diffs.values()) if fingerprint else 0)

    def step(at: int) -> None:
        if progress is not None:
            progress("plan", at, total)

    plan = build_plan(
        diffs,
        targets.campaigns,
        settings.sync,
        account_keys=current.account_keys,
        progress=step,
    )
    if fingerprint:
        for cid, diff in diffs.items():
            plan.fingerprints[cid] = fingerprint_remote(current.remote[cid])
            done += diff.remote_count
            step(done)
    step(total)
    return plan


def guard_plan(
    plan: Plan,
    read: ReadResult,
    targets: Targets,
    current: Current,
    settings: Settings,
    request: SyncRequest,
) -> list[str]:
    """Refuse what the safety guards forbid; returns the overrides used (for the report)."""
    issues = IssueTable.concat([read.issues, targets.issues])
    rejected = int(issues.kind_is(IssueKind.REJECTED).sum())
    valid = sum(len(d) for d in targets.desired.values())
    rows_read = valid + len(issues)
    return check_guards(
        plan,
        settings.sync,
        rows_valid=valid,
        rows_rejected=rejected,
        rows_read=rows_read,
        complete_fetch=current.complete,
        allow_mass_delete=request.allow_mass_delete,
    )


# --- apply and verify -----------------------------------------------------------------------
def apply_changes(
    plan: Plan,
    current: Current,
    client: CampaignsApi,
    settings: Settings,
    run: Run,
) -> ApplyResult | None:
    """Apply the plan (nothing in a dry run). Saves ``before.csv`` first when anything will be
    removed; journals every operation to ``operations.jsonl`` as it finishes. The result is
    kept on ``run.applied`` even when a fatal error then stops the run."""
    if run.request.dry_run:
        return None
    removing = sorted({op.campaign_id for op in plan.operations if is_removal(op)})
    if removing:
        write_before_csv(
            pd.concat([current.remote[c] for c in removing], ignore_index=True), run.folder
        )

    def refetch(cid: str) -> pd.DataFrame:
        return fetch_remote(
            client, cid, region=settings.sync.region, page_size=settings.api.page_size
        )

    with Journal(run.folder / JOURNAL_NAME) as journal:
        result = apply_plan(
            plan.operations,
            client,
            concurrency=settings.api.concurrency,
            journal=journal,
            stop=run.stop,
            progress=functools.partial(run.progress, "apply") if run.progress else None,
            fetch_remote=refetch,
            raise_fatal=False,
        )
    run.applied = result
    if result.fatal is not None:
        raise result.fatal
    return result


def verify_changes(
    plan: Plan,
    client: LeadSource,
    settings: Settings,
    applied: ApplyResult | None,
    *,
    region: str,
    desired: Mapping[str, pd.DataFrame] | None = None,
) -> Verification:
    """Re-read every campaign the plan touched, learn the ids of added leads and count what is
    still to do (``residual``). With ``desired`` (a sync), the residual is what a fresh plan
    would still do; without (a saved plan applied), the operations whose effect does not hold
    (an added key absent, a deleted lead present, a status not as planned). Nothing to verify
    in a dry run."""
    if applied is None:
        return Verification()
    verification = Verification(lead_ids=dict(applied.lead_ids))
    done = {r.op_id for r in applied.results if r.outcome == OpOutcome.DONE}
    by_campaign: dict[str, list[Operation]] = {}
    for op in plan.operations:
        by_campaign.setdefault(op.campaign_id, []).append(op)
    for cid, ops in sorted(by_campaign.items()):
        try:
            remote = fetch_remote(client, cid, region=region, page_size=settings.api.page_size)
        except ApiError as err:
            verification.residual[cid] = sum(1 for op in ops if op.op_id not in done)
            verification.messages.append(
                f"could not re-read campaign {plan.campaigns.get(cid, cid)} to verify: {err}"
            )
            continue
        verification.remote_after[cid] = len(remote)
        by_key = remote.drop_duplicates("key").set_index("key")
        if desired is not None:
            again = diff_campaign(desired[cid], remote, statuses=settings.sync.statuses)
            redo = build_plan({cid: again}, {}, settings.sync)  # only its size counts
            verification.residual[cid] = len(redo.operations)
        else:
            status_by_id = dict(zip(remote["id"], remote["status"], strict=True))
            verification.residual[cid] = sum(not _holds(op, by_key, status_by_id) for op in ops)
        for op in ops:
            if op.kind is OpKind.ADD and op.key in by_key.index:
                verification.lead_ids[(cid, op.key)] = str(by_key.at[op.key, "id"])
    return verification


def _holds(op: Operation, by_key: pd.DataFrame, status_by_id: dict[object, object]) -> bool:
    """Whether ``op``'s effect shows in the re-read campaign."""
    if op.kind is OpKind.ADD:
        return op.key in by_key.index
    if op.kind is OpKind.DELETE:
        return op.lead_id not in status_by_id
    if op.lead_id is None:  # the status of a lead this plan added
        return op.key in by_key.index and by_key.at[op.key, "status"] == op.status
    return status_by_id.get(op.lead_id) == op.status
