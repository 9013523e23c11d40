"""IssueTable: the reader's issues as columns, still a Sequence[RowIssue]."""

from __future__ import annotations

import pytest

from leadsync.models import IssueKind, RowIssue
from leadsync.sync.issuetable import IssueTable


def issue(row: int, codes: tuple[str, ...], values: dict[str, str], **kw: object) -> RowIssue:
    fields: dict = {
        "file": "a.csv",
        "sheet": None,
        "row": row,
        "kind": IssueKind.REJECTED,
        "codes": codes,
        "message": f"m{row}",
        "values": values,
    }
    fields.update(kw)
    return RowIssue(**fields)


ISSUES = [
    issue(2, ("phone-invalid",), {"phone": "x", "name": "A"}, campaign="C", number=None),
    issue(
        3,
        ("duplicate",),
        {"phone": "y", "name": "B"},
        kind=IssueKind.DUPLICATE,
        duplicate_of_row=2,
        number="+1",
    ),
    issue(4, ("phone-missing", "status-unknown"), {"tel": "", "x": "z"}, sheet="S"),
]


def test_round_trip_by_index_and_by_iteration() -> None:
    table = IssueTable.from_issues(ISSUES)
    assert len(table) == 3
    assert list(table) == ISSUES
    assert [table[i] for i in range(3)] == ISSUES
    assert table[-1] == ISSUES[2]
    with pytest.raises(IndexError):
        table[3]


def test_concat_keeps_order_and_cells() -> None:
    one = IssueTable.from_issues(ISSUES[:2])
    both = IssueTable.concat([one, [], ISSUES[2:]])
    assert list(both) == ISSUES
    assert IssueTable.concat([]) == []


def test_columns_counts_and_examples() -> None:
    table = IssueTable.from_issues(ISSUES)
    assert list(table.of_kind(IssueKind.REJECTED)) == [ISSUES[0], ISSUES[2]]
    assert table.code_counts() == {
        "phone-invalid": 1,
        "duplicate": 1,
        "phone-missing": 1,
        "status-unknown": 1,
    }
    assert table.code_examples()["status-unknown"] == "m4"
    assert table.value_keys() == ["phone", "name", "tel", "x"]
    assert table.value_column("name").to_pylist() == ["A", "B", None]
    assert table.value_column("tel").to_pylist() == [None, None, ""]
