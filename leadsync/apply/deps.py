"""Which operations must wait for which: the order a plan implies.

The plan is a flat, ordered list of :class:`~leadsync.models.Operation`. An operation names
its prerequisite with ``after`` (the ``op_id`` of an earlier operation that must have
succeeded; if it did not, this one is skipped). Besides, per lead key ``(campaign_id, key)``:

- an ADD also waits for every DELETE of the same key that comes before it (a *replace* is
  DELETE then ADD), even when ``after`` does not say so, so a key never holds two leads;
- a second ADD of a key already added earlier in the plan is refused (it would create a
  duplicate lead);
- a SET_STATUS without a ``lead_id`` is the status a new lead must end with: it follows its
  ``after`` ADD (else the nearest earlier ADD of its key) and runs once that add is settled
  and the new lead's id has been read back (*post-add status*).

Everything else is independent and runs concurrently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..models import Operation, OpKind


@dataclass(slots=True)
class Dependencies:
    """The dependency structure of one operation list (indexes into it)."""

    #: prerequisites[i]: indexes that must finish successfully before operation i starts
    #: (only operations that have any are keys: plans of a million adds have none).
    prerequisites: dict[int, list[int]] = field(default_factory=dict)
    #: post_status_of[i] = a: operation i is a post-add SET_STATUS following the ADD at a.
    post_status_of: dict[int, int] = field(default_factory=dict)
    #: refused[i]: why operation i must not run at all (it would break an invariant).
    refused: dict[int, str] = field(default_factory=dict)


def find_dependencies(operations: Sequence[Operation]) -> Dependencies:
    """Read the dependencies the order of ``operations`` expresses (see the module docstring).

    Never raises for a well-formed list; problems become entries of ``refused``.
    """
    prerequisites: dict[int, list[int]] = {}
    post_status_of: dict[int, int] = {}
    refused: dict[int, str] = {}
    deletes_before: dict[tuple[str, str], list[int]] = {}
    last_add: dict[tuple[str, str], int] = {}
    by_op_id: dict[int, int] = {}

    for i, op in enumerate(operations):
        if op.op_id in by_op_id:
            refused[i] = f"op_id {op.op_id} appears twice in the plan"
            continue
        by_op_id[op.op_id] = i
        key = (op.campaign_id, op.key)
        if op.kind is OpKind.DELETE:
            deletes_before.setdefault(key, []).append(i)
        elif op.kind is OpKind.ADD:
            if key in last_add:
                refused[i] = (
                    f"the plan adds {op.key} to campaign {op.campaign} twice "
                    f"(op {operations[last_add[key]].op_id}); only the first add runs"
                )
                continue
            last_add[key] = i
            if key in deletes_before:
                prerequisites[i] = list(deletes_before[key])
        elif op.kind is OpKind.SET_STATUS and not op.lead_id:
            j = by_op_id.get(op.after) if op.after is not None else last_add.get(key)
            if j is not None and operations[j].kind is OpKind.ADD and j not in refused:
                post_status_of[i] = j
            else:
                refused[i] = (
                    f"set status of {op.key} has no lead id and does not follow an add of "
                    "that key in the plan"
                )
            continue
        if op.after is not None:
            j = by_op_id.get(op.after)
            if j is None:
                refused[i] = f"runs after op {op.after}, which is not earlier in the plan"
            elif j not in prerequisites.get(i, ()):
                prerequisites.setdefault(i, []).append(j)
    return Dependencies(prerequisites, post_status_of, refused)
