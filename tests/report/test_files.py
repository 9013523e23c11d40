"""The text files of a report folder: rows.csv, rejected.csv, operations.jsonl, before.csv,
summary.json; atomic writes; formula injection inert in CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from leadsync.models import COUNT_KEYS, REMOTE_COLUMNS
from leadsync.report import ROW_COLUMNS, RunReport, rejected_frame, write_before_csv, write_report
from leadsync.report.files import atomic_path
from tests.helpers import REPORT_FILES

from .builders import INJECTION, issue, small_report

EXPECTED_FILES = list(REPORT_FILES)


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("files") / "reports" / "run1"  # parents are created
    paths = write_report(small_report(), out)
    assert [p.name for p in paths] == EXPECTED_FILES
    return out


def test_every_file_is_written_and_no_temp_file_is_left(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(EXPECTED_FILES)


def test_summary_json_on_disk_matches_the_report(folder: Path) -> None:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary == json.loads(json.dumps(small_report().summary_dict()))
    for name, counts in summary["campaigns"].items():
        assert set(counts) == set(COUNT_KEYS), name
    assert summary["exit_code"] == 1


def test_rows_csv_has_one_line_per_input_row(folder: Path) -> None:
    rows = read_csv_rows(folder / "rows.csv")
    report = small_report()
    assert len(rows) == len(report.rows) == report.totals()["rows_read"]
    assert list(rows[0]) == list(ROW_COLUMNS)
    assert rows[0]["number"] == "+12135550101"  # E.164 untouched
    assert rows[0]["lead_id"] == "a1"
    assert [r["outcome"] for r in rows] == report.rows["outcome"].tolist()
    assert rows[4]["campaign"] == "Winter <Sale> & Co"


def test_rejected_csv_keeps_original_columns_then_error(folder: Path) -> None:
    rows = read_csv_rows(folder / "rejected.csv")
    assert list(rows[0]) == [
        "Phone",
        "First Name",
        "Priority",
        "Status",
        "source_file",
        "source_sheet",
        "source_row",
        "error",
    ]
    assert len(rows) == 2  # the duplicate is not a rejection
    assert rows[0]["Phone"] == "555"
    assert rows[0]["source_row"] == "3"
    assert rows[0]["error"].startswith("phone-invalid: Row 3")
    assert rows[1]["Priority"] == "high"
    assert rows[1]["error"].startswith("priority-not-integer;status-unknown: ")
    assert rows[1]["Phone"] == "+12135550105"  # a plain number keeps its +


def test_formula_is_inert_in_every_csv(folder: Path) -> None:
    rejected = read_csv_rows(folder / "rejected.csv")
    assert rejected[0]["First Name"] == "'" + INJECTION
    for name in ("rows.csv", "rejected.csv"):
        for row in read_csv_rows(folder / name):
            for value in row.values():
                assert not value.startswith(("=", "@", "\t", "\r")), (name, value)


def test_rejected_frame_replaces_columns_of_an_earlier_rejected_csv() -> None:
    again = issue(
        2,
        ("phone-invalid",),
        {"Phone": "12", "error": "old error", "source_row": "9", "Note": "x"},
    )
    other = issue(3, ("phone-missing",), {"Mobile": "", "Phone": ""})
    frame = rejected_frame([again, other])
    assert list(frame.columns) == [
        "Phone",
        "Note",
        "Mobile",
        "source_file",
        "source_sheet",
        "source_row",
        "error",
    ]
    assert frame.loc[0, "error"].startswith("phone-invalid: ")
    assert frame.loc[0, "source_row"] == 2
    assert pd.isna(frame.loc[1, "Note"])


def test_rejected_csv_with_nothing_rejected_is_a_header(tmp_path: Path) -> None:
    write_report(RunReport(command="validate"), tmp_path)
    text = (tmp_path / "rejected.csv").read_text(encoding="utf-8-sig")
    assert text == "source_file,source_sheet,source_row,error\n"
    assert (tmp_path / "rows.csv").read_text(encoding="utf-8-sig") == ",".join(ROW_COLUMNS) + "\n"


def test_operations_jsonl_from_the_report(folder: Path) -> None:
    lines = (folder / "operations.jsonl").read_text(encoding="utf-8").splitlines()
    ops = [json.loads(line) for line in lines]
    assert [o["op_id"] for o in ops] == [1, 2, 3, 4]
    assert ops[2]["outcome"] == "failed"
    assert ops[2]["http_status"] == 400
    assert ops[0]["kind"] == "add"
    assert ops[0]["method"] == "PUT"


def test_live_operations_journal_is_never_overwritten(tmp_path: Path) -> None:
    journal = tmp_path / "operations.jsonl"
    journal.write_text('{"op_id": 99, "written": "live"}\n', encoding="utf-8")
    write_report(small_report(), tmp_path)
    assert journal.read_text(encoding="utf-8") == '{"op_id": 99, "written": "live"}\n'


def test_write_report_overwrites_an_earlier_summary_atomically(tmp_path: Path) -> None:
    write_report(RunReport(command="validate"), tmp_path)
    write_report(small_report(), tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["command"] == "sync"


def test_atomic_path_leaves_the_old_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old"
    assert list(tmp_path.iterdir()) == [target]


def remote(ids: list[str], first_name: str = "Ann") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ids,
            "campaign_id": ["c" * 32] * len(ids),
            "key": [f"+1213555{i:04d}" for i in range(len(ids))],
            "number": [f"+1213555{i:04d}" for i in range(len(ids))],
            "status": ["new"] * len(ids),
            "retries": pd.array([3] * len(ids), dtype="Int64"),
            "first_name": [first_name] * len(ids),
            "last_name": [None] * len(ids),
            "priority": pd.array([None] * len(ids), dtype="Int64"),
            "created": pd.array([1714550400] * len(ids), dtype="Int64"),
        },
        columns=list(REMOTE_COLUMNS),
    )


def test_before_csv_saves_remote_leads_and_appends_a_second_campaign(tmp_path: Path) -> None:
    path = write_before_csv(remote(["l1", "l2"], first_name="=1+2"), tmp_path / "new")
    assert path == tmp_path / "new" / "before.csv"
    rows = read_csv_rows(path)
    assert list(rows[0]) == list(REMOTE_COLUMNS)
    assert [r["id"] for r in rows] == ["l1", "l2"]
    assert rows[0]["first_name"] == "'=1+2"
    assert rows[0]["number"] == "+12135550000"
    write_before_csv(remote(["l3"]), tmp_path / "new")
    rows = read_csv_rows(path)
    assert [r["id"] for r in rows] == ["l1", "l2", "l3"]
    assert rows[0]["first_name"] == "'=1+2"  # not escaped twice
    assert rows[2]["retries"] == "3"
