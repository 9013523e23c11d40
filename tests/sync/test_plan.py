"""build_plan, check_guards, fingerprint_remote: policy rules, guard boundaries, properties."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync import models
from leadsync.config import SyncSettings
from leadsync.errors import ExitCode, InputError, RefusedError
from leadsync.models import Campaign, Operation, OpKind
from leadsync.sync.diff import CampaignDiff, diff_campaign
from leadsync.sync.plan import (
    KEPT_ALREADY_REMOVED,
    KEPT_COLUMNS,
    KEPT_DUPLICATE,
    KEPT_DUPLICATE_STATUS,
    KEPT_REMOTE_ONLY,
    KEPT_STATUS,
    PLAN_COUNT_KEYS,
    PLAN_DRIFT_COLUMNS,
    SKIP_EXISTS,
    SKIP_PLANNED,
    SKIPPED_COLUMNS,
    Plan,
    PlanPolicy,
    add_bodies,
    build_plan,
    check_guards,
    fingerprint_remote,
    is_removal,
    operation_waves,
)
from tests.sync.test_diff import desired_frame, remote_frame

STATUSES = ("new", "success", "failed")
CAMPAIGNS = {"c1": Campaign("c1", "Spring"), "c2": Campaign("c2", "Autumn")}


def num(i: int) -> str:
    return f"+1213555{i:04d}"


def diff(desired: pd.DataFrame, remote: pd.DataFrame) -> CampaignDiff:
    return diff_campaign(desired, remote, statuses=STATUSES)


def plan_for(desired: pd.DataFrame, remote: pd.DataFrame, cid: str = "c1", **policy: Any) -> Plan:
    return build_plan({cid: diff(desired, remote)}, CAMPAIGNS, PlanPolicy(**policy))


def kinds(plan: Plan) -> list[tuple[str, str, str | None]]:
    """(kind, reason, lead_id or key) of each operation, in order."""
    return [(op.kind.value, op.reason, op.lead_id or op.key) for op in plan.operations]


# --- modes -----------------------------------------------------------------------------------
def three_way() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One lead to add, one status to change, one remote-only lead (status new)."""
    desired = desired_frame({"number": num(1)}, {"number": num(2), "status": "success"})
    remote = remote_frame({"id": "r2", "number": num(2)}, {"id": "r3", "number": num(3)})
    return desired, remote


def test_add_mode_only_adds_and_keeps_the_rest() -> None:
    plan = plan_for(*three_way(), mode="add")
    assert kinds(plan) == [("add", "not-in-campaign", num(1))]
    assert plan.kept[["lead_id", "reason"]].values.tolist() == [["r3", KEPT_REMOTE_ONLY]]
    assert plan.counts["c1"] == {
        "planned_add": 1,
        "planned_delete": 0,
        "planned_status": 0,
        "unchanged": 1,  # r2's status differs, but add mode changes nothing that exists
        "drift": 0,
        "kept": 1,
        "remote_before": 2,
    }


def test_upsert_mode_adds_and_sets_statuses_but_never_removes() -> None:
    plan = plan_for(*three_way(), mode="upsert")
    assert kinds(plan) == [
        ("set_status", "status-differs", "r2"),
        ("add", "not-in-campaign", num(1)),
    ]
    status_op = plan.operations[0]
    assert (status_op.status, status_op.source) == ("success", ("leads.csv", None, 3))
    assert plan.kept["reason"].tolist() == [KEPT_REMOTE_ONLY]
    assert plan.counts["c1"]["planned_status"] == 1
    assert plan.counts["c1"]["unchanged"] == 0


def test_mirror_mode_removes_absent_leads_with_a_deletable_status() -> None:
    desired = desired_frame({"number": num(1)})
    remote = remote_frame(
        {"id": "r1", "number": num(1)},
        {"id": "r2", "number": num(2), "status": "new"},
        {"id": "r3", "number": num(3), "status": "success"},
        {"id": "r4", "number": num(4), "status": "callback"},  # unknown to the tenant settings
    )
    plan = plan_for(desired, remote, mode="mirror")
    assert kinds(plan) == [("delete", "absent-from-file", "r2")]
    assert plan.kept[["lead_id", "reason"]].values.tolist() == [
        ["r3", KEPT_STATUS],
        ["r4", KEPT_STATUS],
    ]
    assert plan.counts["c1"]["planned_delete"] == 1
    assert plan.counts["c1"]["kept"] == 2
    assert plan.unknown_statuses == {"c1": {"callback": 1}}
    assert any("callback: 1" in m for m in plan.messages)


def test_mirror_with_wider_delete_statuses() -> None:
    desired = desired_frame({"number": num(1)})
    remote = remote_frame(
        {"id": "r2", "number": num(2), "status": "failed"},
        {"id": "r3", "number": num(3), "status": "success"},
    )
    plan = plan_for(desired, remote, mode="mirror", delete_statuses={"new", "failed"})
    assert kinds(plan) == [("delete", "absent-from-file", "r2"), ("add", "not-in-campaign", num(1))]


def test_soft_removal_sets_a_status_and_counts_as_a_removal() -> None:
    desired = desired_frame({"number": num(1)})
    remote = remote_frame(
        {"id": "r1", "number": num(1)},
        {"id": "r2", "number": num(2)},
        {"id": "r3", "number": num(3), "status": "removed"},  # removed by an earlier run
        {"id": "r4", "number": num(4), "status": "success"},
    )
    plan = plan_for(desired, remote, mode="mirror", remove_action="status:removed")
    [op] = plan.operations
    assert (op.kind, op.reason, op.lead_id, op.status) == (
        OpKind.SET_STATUS,
        "absent-from-file",
        "r2",
        "removed",
    )
    assert is_removal(op)
    assert [o for o in plan.operations if is_removal(o)] == [op]
    assert plan.counts["c1"]["planned_delete"] == 1
    assert plan.counts["c1"]["planned_status"] == 0
    assert plan.kept[["lead_id", "reason"]].values.tolist() == [
        ["r3", KEPT_ALREADY_REMOVED],
        ["r4", KEPT_STATUS],
    ]


def test_soft_removal_status_that_is_itself_deletable_is_not_set_again() -> None:
    remote = remote_frame({"id": "r2", "number": num(2), "status": "new"})
    plan = plan_for(
        desired_frame({"number": num(1)}), remote, mode="mirror", remove_action="status:new"
    )
    assert [op.kind for op in plan.operations] == [OpKind.ADD]
    assert plan.kept["reason"].tolist() == [KEPT_ALREADY_REMOVED]


# --- adds ------------------------------------------------------------------------------------
def test_add_body_has_only_given_fields_ints_as_int_and_never_a_status() -> None:
    desired = desired_frame(
        {
            "number": num(1),
            "first_name": "Ann",
            "priority": 3,
            "retries": 0,
            "cool_off": 60,
            "ticket_id": "T-1",
            "status": "new",
        }
    )
    [op] = plan_for(desired, models.empty_remote()).operations
    assert op.body == {
        "number": num(1),
        "retries": 0,
        "first_name": "Ann",
        "priority": 3,
        "ticket_id": "T-1",
        "cool_off": 60,
    }
    assert all(type(op.body[f]) is int for f in ("retries", "priority", "cool_off"))
    assert list(op.body) == [f for f in models.LEAD_FIELDS if f in op.body]  # document order
    assert (op.source, op.after, op.lead_id) == (("leads.csv", None, 2), None, None)


def test_add_with_a_non_default_status_gets_a_dependent_status_op() -> None:
    desired = desired_frame({"number": num(1), "status": "success"}, {"number": num(2)})
    plan = plan_for(desired, models.empty_remote())
    add1, follow, add2 = plan.operations
    assert (add1.kind, add1.key, add1.status) == (OpKind.ADD, num(1), None)
    assert "status" not in (add1.body or {})
    assert (follow.kind, follow.reason, follow.lead_id, follow.status, follow.after) == (
        OpKind.SET_STATUS,
        "status-after-add",
        None,
        "success",
        add1.op_id,
    )
    assert follow.key == num(1)
    assert (add2.kind, add2.key) == (OpKind.ADD, num(2))
    assert not is_removal(follow)
    assert plan.counts["c1"]["planned_add"] == 2
    assert plan.counts["c1"]["planned_status"] == 1
    assert [[o.op_id for o in w] for w in operation_waves(plan.operations)] == [[1, 3], [2]]


def test_add_bodies_on_empty_rows() -> None:
    assert add_bodies(models.empty_desired()) == []


# --- drift -----------------------------------------------------------------------------------
def drifting() -> tuple[pd.DataFrame, pd.DataFrame]:
    desired = desired_frame(
        {"number": num(1), "first_name": "Ann", "priority": 2},
        {"number": num(2), "first_name": "Bob", "status": "failed"},
    )
    remote = remote_frame(
        {"id": "r1", "number": num(1), "first_name": "Anne", "priority": 2, "status": "new"},
        {"id": "r2", "number": num(2), "first_name": "Rob", "status": "success"},
    )
    return desired, remote


def test_drift_report_lists_without_acting() -> None:
    plan = plan_for(*drifting(), on_drift="report")
    assert kinds(plan) == [("set_status", "status-differs", "r2")]
    assert tuple(plan.drift.columns) == PLAN_DRIFT_COLUMNS
    assert plan.drift[["lead_id", "field", "action"]].values.tolist() == [
        ["r1", "first_name", "reported"],
        ["r2", "first_name", "reported"],
    ]
    assert plan.counts["c1"]["drift"] == 2
    assert plan.counts["c1"]["unchanged"] == 1  # r1: drift is reported, nothing is called


def test_drift_ignore_lists_nothing() -> None:
    plan = plan_for(*drifting(), on_drift="ignore")
    assert plan.drift.empty
    assert plan.counts["c1"]["drift"] == 0
    assert kinds(plan) == [("set_status", "status-differs", "r2")]


def test_drift_replace_only_for_deletable_statuses_delete_before_add() -> None:
    plan = plan_for(*drifting(), on_drift="replace")
    # r2 (success) cannot be deleted: its drift is kept and its status still changes.
    assert kinds(plan) == [
        ("set_status", "status-differs", "r2"),
        ("delete", "drift-replace", "r1"),
        ("add", "drift-replace", num(1)),
    ]
    delete, add = plan.operations[1:]
    assert add.after == delete.op_id
    assert add.body == {"number": num(1), "first_name": "Ann", "priority": 2}
    assert plan.drift[["lead_id", "action"]].values.tolist() == [
        ["r1", "replaced"],
        ["r2", "kept-status-not-deletable"],
    ]
    assert plan.counts["c1"] == {
        "planned_add": 1,
        "planned_delete": 1,
        "planned_status": 1,
        "unchanged": 0,
        "drift": 2,
        "kept": 0,
        "remote_before": 2,
    }


def test_replace_carries_the_wanted_status_to_the_new_lead() -> None:
    desired = desired_frame({"number": num(1), "first_name": "Ann", "status": "failed"})
    remote = remote_frame({"id": "r1", "number": num(1), "first_name": "X", "status": "new"})
    plan = plan_for(desired, remote, on_drift="replace")
    assert kinds(plan) == [
        ("delete", "drift-replace", "r1"),
        ("add", "drift-replace", num(1)),
        ("set_status", "status-after-add", num(1)),
    ]
    delete, add, follow = plan.operations
    assert (add.after, follow.after, follow.status) == (delete.op_id, add.op_id, "failed")
    assert [len(w) for w in operation_waves(plan.operations)] == [1, 1, 1]


def test_replace_keeps_the_remote_status_when_the_file_gives_none() -> None:
    desired = desired_frame({"number": num(1), "first_name": "Ann"})
    remote = remote_frame({"id": "r1", "number": num(1), "first_name": "X", "status": "failed"})
    plan = plan_for(desired, remote, on_drift="replace", delete_statuses={"new", "failed"})
    assert [(op.kind, op.status) for op in plan.operations] == [
        (OpKind.DELETE, None),
        (OpKind.ADD, None),
        (OpKind.SET_STATUS, "failed"),
    ]


def test_replace_does_nothing_in_add_mode() -> None:
    plan = plan_for(*drifting(), mode="add", on_drift="replace")
    assert plan.operations == []
    assert set(plan.drift["action"]) == {"reported"}
    assert any("add mode" in m for m in plan.messages)


# --- remote duplicates -----------------------------------------------------------------------
def duplicated() -> tuple[pd.DataFrame, pd.DataFrame]:
    desired = desired_frame({"number": num(1)})
    remote = remote_frame(
        {"id": "old", "number": num(1), "created": 1},
        {"id": "dup-new", "number": num(1), "created": 2, "status": "new"},
        {"id": "dup-done", "number": num(1), "created": 3, "status": "success"},
    )
    return desired, remote


def test_dedupe_remote_in_mirror_deletes_deletable_extra_copies() -> None:
    plan = plan_for(*duplicated(), mode="mirror", dedupe_remote=True)
    assert kinds(plan) == [("delete", "remote-duplicate", "dup-new")]
    assert plan.kept[["lead_id", "reason"]].values.tolist() == [["dup-done", KEPT_DUPLICATE_STATUS]]
    assert plan.remote_duplicates == {"c1": 2}


def test_without_dedupe_extra_copies_are_kept_and_reported() -> None:
    for mode, dedupe in (("mirror", False), ("upsert", True)):
        plan = plan_for(*duplicated(), mode=mode, dedupe_remote=dedupe)
        assert plan.operations == []
        assert set(plan.kept["reason"]) == {KEPT_DUPLICATE}
        assert any("duplicates" in m for m in plan.messages)


# --- account scope ---------------------------------------------------------------------------
def test_account_scope_skips_numbers_held_by_another_campaign() -> None:
    desired = desired_frame({"number": num(1)}, {"number": num(2)})
    plan = build_plan(
        {"c1": diff(desired, models.empty_remote())},
        CAMPAIGNS,
        PlanPolicy(dedupe_scope="account"),
        account_keys={num(1): "Autumn"},
    )
    assert kinds(plan) == [("add", "not-in-campaign", num(2))]
    assert tuple(plan.skipped.columns) == SKIPPED_COLUMNS
    assert plan.skipped[["key", "row", "reason", "existing_campaign"]].values.tolist() == [
        [num(1), 2, SKIP_EXISTS, "Autumn"]
    ]


def test_account_scope_with_a_plain_set_and_within_one_plan() -> None:
    both = desired_frame({"number": num(1)}, {"number": num(5)})
    plan = build_plan(
        {"c2": diff(both, models.empty_remote()), "c1": diff(both, models.empty_remote())},
        CAMPAIGNS,
        PlanPolicy(dedupe_scope="account"),
        account_keys={num(5)},
    )
    # c1 comes first (campaigns in id order) and gets num(1); c2 skips it.
    assert [(op.campaign_id, op.key) for op in plan.operations] == [("c1", num(1))]
    rows = plan.skipped[["campaign_id", "key", "reason", "existing_campaign"]]
    assert rows.astype(object).values.tolist() == [
        ["c1", num(5), SKIP_EXISTS, pd.NA],
        ["c2", num(1), SKIP_PLANNED, "Spring"],
        ["c2", num(5), SKIP_EXISTS, pd.NA],
    ]


def test_account_scope_without_account_keys_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="account_keys"):
        build_plan({}, CAMPAIGNS, PlanPolicy(dedupe_scope="account"))


def test_campaign_scope_ignores_account_keys() -> None:
    plan = build_plan(
        {"c1": diff(desired_frame({"number": num(1)}), models.empty_remote())},
        CAMPAIGNS,
        PlanPolicy(),
        account_keys={num(1)},
    )
    assert kinds(plan) == [("add", "not-in-campaign", num(1))]


# --- order, ids, dependencies, tables --------------------------------------------------------
def test_operation_order_and_ids_are_deterministic() -> None:
    desired = desired_frame(
        {"number": num(9), "status": "success"},
        {"number": num(1), "first_name": "A"},
        {"number": num(4), "status": "failed"},
    )
    remote = remote_frame(
        {"id": "z", "number": num(7)},
        {"id": "y", "number": num(4)},
        {"id": "x", "number": num(1), "first_name": "B"},
        {"id": "w", "number": num(6)},
    )
    policy = {"mode": "mirror", "on_drift": "replace"}
    plan = build_plan(
        {"c2": diff(desired, remote), "c1": diff(desired, remote)}, CAMPAIGNS, PlanPolicy(**policy)
    )
    again = build_plan(
        {"c1": diff(desired, remote), "c2": diff(desired, remote)}, CAMPAIGNS, PlanPolicy(**policy)
    )
    assert plan.operations == again.operations
    assert [op.op_id for op in plan.operations] == list(range(1, len(plan.operations) + 1))
    assert all(op.after is None or op.after < op.op_id for op in plan.operations)
    per_campaign = [(op.kind.value, op.reason, op.lead_id or op.key) for op in plan.operations]
    assert per_campaign[: len(per_campaign) // 2] == [
        ("delete", "absent-from-file", "w"),  # removals first, by key
        ("delete", "absent-from-file", "z"),
        ("set_status", "status-differs", "y"),
        ("delete", "drift-replace", "x"),
        ("add", "drift-replace", num(1)),
        ("add", "not-in-campaign", num(9)),  # adds in file order
        ("set_status", "status-after-add", num(9)),
    ]
    assert {op.campaign_id for op in plan.operations[:7]} == {"c1"}
    assert plan.operations[0].campaign == "Spring"


def test_operation_waves_reject_broken_dependencies() -> None:
    op = Operation(1, OpKind.ADD, "c1", "Spring", num(1), "not-in-campaign", after=5)
    with pytest.raises(ValueError, match="unknown operation 5"):
        operation_waves([op])


def test_unknown_campaign_is_named_by_its_id_and_tables_have_their_columns() -> None:
    plan = build_plan(
        {
            "c9": diff(
                desired_frame({"number": num(1)}), remote_frame({"id": "r", "number": num(2)})
            )
        },
        {},
        PlanPolicy(),
    )
    assert plan.operations[0].campaign == "c9"
    assert plan.campaigns == {"c9": "c9"}
    assert tuple(plan.kept.columns) == KEPT_COLUMNS
    assert tuple(plan.counts["c9"]) == PLAN_COUNT_KEYS
    empty = build_plan({}, {}, PlanPolicy())
    assert empty.kept.empty and tuple(empty.kept.columns) == KEPT_COLUMNS
    assert tuple(empty.drift.columns) == PLAN_DRIFT_COLUMNS


# --- policy ----------------------------------------------------------------------------------
def test_policy_is_the_plan_part_of_the_sync_settings() -> None:
    sync = SyncSettings(
        mode="mirror",
        delete_statuses=["new", "failed"],
        remove_action="status:archived",
        on_drift="replace",
        dedupe_remote=True,
        max_delete_count=50,
    )
    assert isinstance(sync, PlanPolicy)
    policy = PlanPolicy(**sync.model_dump(include=set(PlanPolicy.model_fields)))
    assert policy.delete_statuses == ["new", "failed"]
    assert policy.soft_remove_status == sync.soft_remove_status == "archived"
    assert policy.max_delete_count == 50
    assert PlanPolicy.model_validate(policy.model_dump()) == policy
    assert PlanPolicy().soft_remove_status is None
    # its defaults are the [sync] defaults
    assert PlanPolicy().model_dump() == SyncSettings().model_dump(
        include=set(PlanPolicy.model_fields)
    )


@pytest.mark.parametrize(
    "bad",
    [{"remove_action": "status:"}, {"remove_action": "purge"}, {"mode": "sync"}, {"on_drift": "x"}],
)
def test_policy_rejects_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PlanPolicy(**bad)


# --- guards ----------------------------------------------------------------------------------
def mirror_plan(remote_n: int, delete_n: int, **policy: Any) -> tuple[Plan, PlanPolicy]:
    """A mirror plan over ``remote_n`` leads (status new) removing ``delete_n`` of them."""
    desired = desired_frame(*({"number": num(i)} for i in range(remote_n - delete_n)))
    remote = remote_frame(*({"id": f"r{i}", "number": num(i)} for i in range(remote_n)))
    pol = PlanPolicy(mode="mirror", **policy)
    return build_plan({"c1": diff(desired, remote)}, CAMPAIGNS, pol), pol


def guards(
    plan: Plan,
    policy: PlanPolicy,
    *,
    allow: bool = False,
    complete: bool = True,
    valid: int = 100,
    rejected: int = 0,
) -> list[str]:
    return check_guards(
        plan,
        policy,
        rows_valid=valid,
        rows_rejected=rejected,
        rows_read=valid + rejected,
        complete_fetch={cid: complete for cid in plan.campaigns},
        allow_mass_delete=allow,
    )


@pytest.mark.parametrize(
    ("remote_n", "delete_n", "refused"),
    [
        (20, 10, False),  # 50% but only delete_guard_floor (10) leads: allowed
        (50, 11, True),  # above the floor and 22% > 10%
        (110, 11, False),  # exactly 10%: not more than the fraction
        (109, 11, True),  # 10.09%
        (200, 20, False),  # exactly 10% again, well above the floor
        (200, 21, True),
    ],
)
def test_delete_fraction_guard_boundaries(remote_n: int, delete_n: int, refused: bool) -> None:
    plan, policy = mirror_plan(remote_n, delete_n)
    assert plan.counts["c1"]["planned_delete"] == delete_n
    if not refused:
        assert guards(plan, policy) == []
        return
    with pytest.raises(RefusedError) as err:
        guards(plan, policy)
    message = str(err.value)
    assert f"would lose {delete_n} of {remote_n} leads" in message
    assert f"({100 * delete_n / remote_n:.1f}%)" in message
    assert "max_delete_fraction 10%" in message
    assert "'Spring'" in message and "--allow-mass-delete" in message
    assert err.value.exit_code is ExitCode.REFUSED
    assert err.value.override == "--allow-mass-delete"


def test_delete_count_guard_applies_even_below_the_floor() -> None:
    plan, policy = mirror_plan(100, 5, max_delete_count=5)
    assert guards(plan, policy) == []
    plan, policy = mirror_plan(100, 6, max_delete_count=5)
    with pytest.raises(RefusedError, match=r"lose 6 of 100 .*max_delete_count 5"):
        guards(plan, policy)


def test_soft_removals_count_towards_the_delete_guard() -> None:
    plan, policy = mirror_plan(50, 11, remove_action="status:removed")
    assert {op.kind for op in plan.operations} == {OpKind.SET_STATUS}
    with pytest.raises(RefusedError, match="lose 11 of 50"):
        guards(plan, policy)


def test_allow_mass_delete_lifts_the_guard_and_is_recorded() -> None:
    plan, policy = mirror_plan(50, 11)
    overrides = guards(plan, policy, allow=True)
    assert len(overrides) == 1
    assert overrides[0].startswith("--allow-mass-delete: campaign 'Spring' would lose 11 of 50")
    small, policy = mirror_plan(50, 2)
    assert guards(small, policy, allow=True) == []  # nothing was overridden


def test_mirror_of_an_empty_input_is_refused() -> None:
    plan, policy = mirror_plan(5, 5)
    with pytest.raises(RefusedError, match="refusing to mirror an empty input") as err:
        guards(plan, policy, allow=True, valid=0)
    assert err.value.exit_code is ExitCode.REFUSED
    upsert = PlanPolicy(mode="upsert")
    assert guards(build_plan({}, {}, upsert), upsert, valid=0) == []


@pytest.mark.parametrize(("rejected", "refused"), [(20, False), (21, True)])
def test_reject_fraction_guard(rejected: int, refused: bool) -> None:
    plan, policy = mirror_plan(10, 0)
    if not refused:
        assert guards(plan, policy, valid=100 - rejected, rejected=rejected) == []
        return
    with pytest.raises(InputError, match=r"21 of 100 input rows.*max_reject_fraction") as err:
        guards(plan, policy, valid=100 - rejected, rejected=rejected)
    assert err.value.exit_code is ExitCode.BAD_INPUT


def test_no_removal_when_a_campaign_did_not_load_completely() -> None:
    plan, policy = mirror_plan(100, 1)
    with pytest.raises(RefusedError, match="did not all load") as err:
        guards(plan, policy, allow=True, complete=False)
    assert err.value.override == ""
    with pytest.raises(RefusedError, match="did not all load"):  # unknown counts as incomplete
        check_guards(
            plan,
            policy,
            rows_valid=1,
            rows_rejected=0,
            rows_read=1,
            complete_fetch={},
            allow_mass_delete=False,
        )
    adds_only, policy = mirror_plan(10, 0)
    assert guards(adds_only, policy, complete=False) == []


# --- fingerprint -----------------------------------------------------------------------------
def fp_remote() -> pd.DataFrame:
    return remote_frame(
        {"id": "r1", "number": num(1), "first_name": "Ann", "priority": 1},
        {"id": "r2", "number": num(2), "status": "success"},
        {"id": "r3", "number": num(3), "retries": 2},
    )


def test_fingerprint_ignores_row_order_and_dtype() -> None:
    remote = fp_remote()
    assert fingerprint_remote(remote) == fingerprint_remote(remote.iloc[::-1])
    assert fingerprint_remote(remote) == fingerprint_remote(remote.astype(object))
    assert len(fingerprint_remote(remote)) == 64
    assert fingerprint_remote(models.empty_remote()) != fingerprint_remote(remote)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("status", "failed"),
        ("first_name", "Anne"),
        ("first_name", ""),  # empty text is not the same as missing
        ("priority", 2),
        ("priority", None),
        ("retries", 0),  # zero is not the same as missing
        ("id", "r9"),
        ("key", num(8)),
    ],
)
def test_fingerprint_changes_with_any_listed_value(column: str, value: Any) -> None:
    remote = fp_remote()
    changed = remote.copy()
    changed.loc[0, column] = value
    assert fingerprint_remote(changed) != fingerprint_remote(remote)


def test_fingerprint_changes_when_a_lead_comes_or_goes() -> None:
    remote = fp_remote()
    assert fingerprint_remote(remote.iloc[:2]) != fingerprint_remote(remote)
    doubled = pd.concat([remote, remote.iloc[:1]], ignore_index=True)
    assert fingerprint_remote(doubled) != fingerprint_remote(remote)


def test_fingerprint_does_not_depend_on_created_or_number_text() -> None:
    remote = fp_remote()
    changed = remote.assign(created=7, number="(213) 555-0001")
    assert fingerprint_remote(changed) == fingerprint_remote(remote)


def test_fingerprint_names_missing_columns() -> None:
    with pytest.raises(ValueError, match="status"):
        fingerprint_remote(fp_remote().drop(columns=["status"]))


# --- properties: a tiny simulator of the API -------------------------------------------------
def simulate(remote: list[dict[str, Any]], plan: Plan) -> dict[str, dict[str, Any]]:
    """Apply the plan's operations, wave by wave, to remote leads held in a dict by id."""
    leads = {r["id"]: dict(r) for r in remote}
    done: set[int] = set()
    for wave in operation_waves(plan.operations):
        for op in wave:
            assert op.after is None or op.after in done
            if op.kind is OpKind.DELETE:
                assert op.lead_id in leads, f"delete of a lead that does not exist: {op}"
                del leads[op.lead_id]
            elif op.kind is OpKind.ADD:
                assert op.body is not None and "status" not in op.body
                new_id = f"new-{op.op_id}"
                leads[new_id] = {
                    "id": new_id,
                    "key": op.body["number"],
                    "status": "new",
                    **{f: op.body.get(f) for f in models.LISTED_FIELDS},
                }
            elif op.lead_id is None:  # status after add: find the new lead by its key
                [lead] = [x for x in leads.values() if x["key"] == op.key]
                lead["status"] = op.status
            else:
                leads[op.lead_id]["status"] = op.status
            done.add(op.op_id)
    return leads


KEY_POOL = [num(i) for i in range(10)]
_status = st.sampled_from(["new", "success", "failed", "callback"])
_opt_status = st.sampled_from(["new", "success", "failed", "callback", None])
_name = st.sampled_from(["Ann", "Bob", None])
_prio = st.sampled_from([1, 2, None])
desired_rows = st.lists(
    st.fixed_dictionaries(
        {
            "number": st.sampled_from(KEY_POOL),
            "status": _opt_status,
            "first_name": _name,
            "priority": _prio,
        }
    ),
    max_size=8,
    unique_by=lambda r: r["number"],
)
remote_rows = st.lists(
    st.fixed_dictionaries(
        {
            "key": st.sampled_from(KEY_POOL),
            "status": _status,
            "first_name": _name,
            "priority": _prio,
            "created": st.integers(0, 3),
        }
    ),
    max_size=10,
)
#: Examples per property in `make test` (fast) and in `make soak` (the same property, deeper).
FAST_EXAMPLES = 20
SOAK_EXAMPLES = 400
SOAK_TIMEOUT_S = 1800  # a loaded CI machine; the quick run keeps the default


def fast_and_soak(body: Any, **strategies: Any) -> tuple[Any, Any]:
    """Two tests of one property: a quick one, and a deep one marked ``slow``."""

    def run(examples: int) -> Any:
        return settings(
            max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        )(given(**strategies)(body))

    return run(FAST_EXAMPLES), pytest.mark.timeout(SOAK_TIMEOUT_S)(
        pytest.mark.slow(run(SOAK_EXAMPLES))
    )


def prepare(
    desired: list[dict[str, Any]], remote: list[dict[str, Any]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    for i, lead in enumerate(remote):
        lead.update({"id": f"r{i:02d}", "number": lead["key"], "last_name": None, "retries": None})
    return desired_frame(*desired), remote_frame(*remote)


def mirror_converges_to_the_file(
    desired: list[dict[str, Any]], remote: list[dict[str, Any]]
) -> None:
    d_frame, r_frame = prepare(desired, remote)
    policy = PlanPolicy(
        mode="mirror",
        delete_statuses=frozenset({"new", "success", "failed", "callback"}),
        on_drift="replace",
        dedupe_remote=True,
    )
    plan = build_plan({"c1": diff(d_frame, r_frame)}, CAMPAIGNS, policy)
    assert plan.kept.empty
    after = simulate(remote, plan)
    by_key: dict[str, list[dict[str, Any]]] = {}
    for lead in after.values():
        by_key.setdefault(lead["key"], []).append(lead)
    assert set(by_key) == {row["number"] for row in desired}
    for row in desired:
        [lead] = by_key[row["number"]]
        if row["status"] is not None:
            assert lead["status"] == row["status"]
        for f in ("first_name", "priority"):
            if row[f] is not None:
                assert lead[f] == row[f]


def add_and_upsert_never_remove(
    desired: list[dict[str, Any]], remote: list[dict[str, Any]]
) -> None:
    d_frame, r_frame = prepare(desired, remote)
    for mode in ("add", "upsert"):
        plan = build_plan({"c1": diff(d_frame, r_frame)}, CAMPAIGNS, PlanPolicy(mode=mode))
        assert not any(is_removal(op) for op in plan.operations)
        after = simulate(remote, plan)
        assert {r["id"] for r in remote} <= set(after)
        keys = {lead["key"] for lead in after.values()}
        assert {row["number"] for row in desired} <= keys
        if mode == "add":
            assert all(after[r["id"]]["status"] == r["status"] for r in remote)
            assert all(
                op.kind is OpKind.ADD or op.reason == "status-after-add" for op in plan.operations
            )


def plan_is_deterministic_whatever_the_remote_order(
    desired: list[dict[str, Any]], remote: list[dict[str, Any]], seed: int
) -> None:
    d_frame, r_frame = prepare(desired, remote)
    order = list(range(len(r_frame)))
    random.Random(seed).shuffle(order)
    shuffled = r_frame.iloc[order].reset_index(drop=True)
    policy = PlanPolicy(mode="mirror", on_drift="replace", dedupe_remote=True)
    first = build_plan({"c1": diff(d_frame, r_frame)}, CAMPAIGNS, policy)
    second = build_plan({"c1": diff(d_frame, shuffled)}, CAMPAIGNS, policy)
    assert first.operations == second.operations
    assert first.counts == second.counts
    assert sorted(first.kept["lead_id"]) == sorted(second.kept["lead_id"])


test_mirror_converges_to_the_file, test_mirror_converges_to_the_file_soak = fast_and_soak(
    mirror_converges_to_the_file, desired=desired_rows, remote=remote_rows
)
test_add_and_upsert_never_remove, test_add_and_upsert_never_remove_soak = fast_and_soak(
    add_and_upsert_never_remove, desired=desired_rows, remote=remote_rows
)
test_plan_is_deterministic, test_plan_is_deterministic_soak = fast_and_soak(
    plan_is_deterministic_whatever_the_remote_order,
    desired=desired_rows,
    remote=remote_rows,
    seed=st.integers(0, 1000),
)


def test_mirror_with_every_row_rejected_is_refused_not_just_bad_input() -> None:
    """An unusable file in mirror mode is first of all a mirror of nothing: exit 3, whatever
    the reject fraction says (it would otherwise be exit 2 and read as 'fix the file')."""
    policy = SyncSettings(mode="mirror")
    plan = build_plan({}, {}, policy)
    with pytest.raises(RefusedError) as info:
        check_guards(
            plan,
            policy,
            rows_valid=0,
            rows_rejected=50,
            rows_read=50,
            complete_fetch={},
            allow_mass_delete=False,
        )
    assert info.value.exit_code == ExitCode.REFUSED
    upsert = SyncSettings(mode="upsert")
    with pytest.raises(InputError):
        check_guards(
            plan,
            upsert,
            rows_valid=0,
            rows_rejected=50,
            rows_read=50,
            complete_fetch={},
            allow_mass_delete=False,
        )
