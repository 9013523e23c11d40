"""Dependencies read from a plan: replace order, post-add statuses, refusals."""

from __future__ import annotations

from leadsync.apply import find_dependencies

from .support import add_op, delete_op, number, status_op


def test_independent_operations_have_no_prerequisites() -> None:
    deps = find_dependencies([add_op(1, "c", number(1)), add_op(2, "c", number(2))])
    assert deps.prerequisites == {}
    assert deps.post_status_of == {} and deps.refused == {}


def test_add_waits_for_deletes_of_its_key_even_without_after() -> None:
    ops = [
        delete_op(1, "c", number(1), "L1", "drift-replace"),
        delete_op(2, "c", number(1), "L2", "remote-duplicate"),
        delete_op(3, "c", number(2), "L3"),
        add_op(4, "c", number(1), after=1),
        add_op(5, "d", number(1)),  # same number, other campaign: independent
    ]
    deps = find_dependencies(ops)
    assert deps.prerequisites == {3: [0, 1]}


def test_post_add_status_follows_its_add() -> None:
    ops = [
        add_op(1, "c", number(1)),
        status_op(2, "c", number(1), "success", after=1),
        status_op(3, "c", number(2), "failed", lead_id="L9"),  # an ordinary status change
    ]
    deps = find_dependencies(ops)
    assert deps.post_status_of == {1: 0}
    assert deps.prerequisites == {}


def test_what_would_break_an_invariant_is_refused() -> None:
    ops = [
        add_op(1, "c", number(1)),
        add_op(2, "c", number(1)),  # a second add of one key: a duplicate lead
        status_op(3, "c", number(3), "success"),  # no lead id and no add to follow
        add_op(4, "c", number(4), after=99),  # unknown prerequisite
        add_op(1, "c", number(5)),  # op_id reused
    ]
    refused = find_dependencies(ops).refused
    assert set(refused) == {1, 2, 3, 4}
    assert "twice" in refused[1]
    assert "no lead id" in refused[2]
    assert "op 99" in refused[3]
    assert "appears twice" in refused[4]
