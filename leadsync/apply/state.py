"""The coordinator's bookkeeping for one operation, and the result values of an apply."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ApiError
from ..models import ApplyCount, Operation, OpKind, OpOutcome, OpResult

#: The status the API gives a lead it adds: a post-add status equal to it needs no call.
NEW_LEAD_STATUS = "new"
#: Names of ``ApplyResult.counts``, in report order.
COUNT_NAMES: tuple[str, ...] = tuple(k.value for k in ApplyCount)


@dataclass(slots=True)
class ApplyResult:
    """What ``apply_plan`` did.

    ``results``: the final :class:`~leadsync.models.OpResult` of every operation, in the plan's
    order. ``counts`` (keys :data:`COUNT_NAMES`): ``added`` (adds whose lead exists, settled
    ones included), ``deleted``, ``status_set``, ``failed``, ``uncertain`` (adds left
    unsettled because the run stopped first), ``uncertain_settled`` (adds once uncertain that
    ended with their lead present), ``skipped``. An add whose lead was created but whose
    post-add status could not be set counts in ``added`` and in ``failed``.
    ``lead_ids``: (campaign_id, key) → id of added leads learned from the re-reads this apply
    made (the pipeline's verify re-read supplies the others). ``interrupted``: the stop event
    was set. ``fatal``: the error that stopped the apply (``UnreachableError``/``AuthError``).
    ``elapsed_s``: wall time. ``settle_rounds``: re-reads made to settle adds.
    """

    results: list[OpResult]
    counts: dict[str, int]
    lead_ids: dict[tuple[str, str], str]
    interrupted: bool
    fatal: ApiError | None
    elapsed_s: float
    settle_rounds: int = 0

    @property
    def ok(self) -> bool:
        """True when every operation ended well and the run was neither stopped nor fatal."""
        c = self.counts
        return (
            not self.interrupted
            and self.fatal is None
            and c[ApplyCount.FAILED] == c[ApplyCount.UNCERTAIN] == c[ApplyCount.SKIPPED] == 0
        )


@dataclass(slots=True)
class OpState:
    """Mutable progress of one operation; owned by the coordinating thread only."""

    op: Operation
    waiting: int = 0  # prerequisites not finished yet
    blocked: str | None = None  # why it will be skipped (a prerequisite did not succeed)
    outcome: OpOutcome | None = None
    attempts: int = 0
    http_status: int | None = None
    message: str = ""
    method: str | None = None
    lead_id: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    was_uncertain: bool = False
    uncertain_reason: str = ""  # the message of the call that first left the add uncertain
    lead_created: bool = False  # an add whose lead exists (even if its post-add status failed)
    id_looked_up: bool = False  # a re-read was tried for this new lead's id
    id_note: str = ""  # why the id is unknown after the look-up
    remote_status: str | None = None  # the new lead's status on the re-read
    settle_blocked: str | None = None  # an uncertain add that cannot be settled: why
    # Indexes of the operations waiting on this one, and of the post-add SET_STATUS operations
    # following this add; shared empty tuples until there is one (saves memory at 1M ops).
    dependents: list[int] | tuple[()] = ()
    followers: list[int] | tuple[()] = ()

    @property
    def post_status(self) -> str | None:
        """The status an ADD itself carries for its new lead, when it needs a call (unless a
        post-add SET_STATUS operation follows the add: that one does it)."""
        op = self.op
        if op.kind is not OpKind.ADD or self.followers:
            return None
        if op.status and op.status != NEW_LEAD_STATUS:
            return op.status
        return None

    def result(self) -> OpResult:
        if self.outcome is None:
            raise RuntimeError(f"operation {self.op.op_id} has no outcome yet")
        return OpResult(
            op_id=self.op.op_id,
            kind=self.op.kind,
            campaign_id=self.op.campaign_id,
            key=self.op.key,
            outcome=self.outcome,
            attempts=self.attempts,
            http_status=self.http_status,
            message=self.message,
            method=self.method,
            lead_id=self.lead_id,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


def count_outcomes(states: list[OpState]) -> dict[str, int]:
    """The ``ApplyResult.counts`` of final states."""
    counts = dict.fromkeys(COUNT_NAMES, 0)
    for st in states:
        kind, outcome = st.op.kind, st.outcome
        if kind is OpKind.ADD and st.lead_created:
            counts[ApplyCount.ADDED] += 1
            if st.was_uncertain:
                counts[ApplyCount.UNCERTAIN_SETTLED] += 1
        elif kind is OpKind.DELETE and outcome is OpOutcome.DONE:
            counts[ApplyCount.DELETED] += 1
        elif kind is OpKind.SET_STATUS and outcome is OpOutcome.DONE:
            counts[ApplyCount.STATUS_SET] += 1
        if outcome is OpOutcome.FAILED:
            counts[ApplyCount.FAILED] += 1
        elif outcome is OpOutcome.UNCERTAIN:
            counts[ApplyCount.UNCERTAIN] += 1
        elif outcome is OpOutcome.SKIPPED:
            counts[ApplyCount.SKIPPED] += 1
    return counts
