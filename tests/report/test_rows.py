"""read_rows: the reader's result as the rows table, in input order (files and sheets as the
reader listed them, then row numbers), with Arrow-backed columns."""

from __future__ import annotations

import pandas as pd

from leadsync.models import IssueKind, ReadResult, SourceInfo
from leadsync.report import ROW_COLUMNS, read_counts, read_rows

from .builders import issue


def source(path: str, sheet: str | None = None) -> SourceInfo:
    return SourceInfo(path, "0" * 64, "xlsx" if sheet else "csv", sheet, None, None, 1, 0, {})


def leads(*rows: tuple[str, str | None, int, str]) -> pd.DataFrame:
    """Accepted leads: (file, sheet, row, number); warnings on the number 'warn'."""
    return pd.DataFrame(
        {
            "file": pd.Series([r[0] for r in rows], dtype="str"),
            "sheet": pd.Series([r[1] for r in rows], dtype="str"),
            "row": pd.Series([r[2] for r in rows], dtype="Int64"),
            "campaign": pd.Series(["Spring Promo"] * len(rows), dtype="str"),
            "number": pd.Series([r[3] for r in rows], dtype="str"),
            "warnings": pd.Series(
                ["extension-dropped" if r[3] == "warn" else "" for r in rows], dtype="str"
            ),
        }
    )


def result() -> ReadResult:
    # The reader listed b.xlsx (sheet S2, then S1) before a.csv: that order wins over names.
    return ReadResult(
        leads=leads(
            ("a.csv", None, 3, "+1"),
            ("b.xlsx", "S1", 2, "+2"),
            ("b.xlsx", "S2", 5, "warn"),
            ("a.csv", None, 2, "+4"),
        ),
        issues=[
            issue(4, ("phone-invalid",), {}, file="a.csv", sheet=None),
            issue(3, ("duplicate",), {}, file="b.xlsx", sheet="S2", kind=IssueKind.DUPLICATE),
            issue(7, ("phone-missing",), {}, file="zzz.csv", sheet=None, campaign=None),
        ],
        sources=[source("b.xlsx", "S2"), source("b.xlsx", "S1"), source("a.csv")],
    )


def test_rows_follow_the_readers_order_then_row_numbers() -> None:
    rows = read_rows(result())
    assert list(rows.columns) == list(ROW_COLUMNS)
    got = list(
        zip(rows["file"], rows["sheet"].fillna(""), rows["row"], rows["outcome"], strict=True)
    )
    assert got == [
        ("b.xlsx", "S2", 3, "duplicate"),
        ("b.xlsx", "S2", 5, "valid"),
        ("b.xlsx", "S1", 2, "valid"),
        ("a.csv", "", 2, "valid"),
        ("a.csv", "", 3, "valid"),
        ("a.csv", "", 4, "rejected"),
        ("zzz.csv", "", 7, "rejected"),  # a file the reader did not list comes last
    ]


def test_reasons_messages_and_dtypes() -> None:
    rows = read_rows(result(), valid_outcome="planned_add")
    assert rows["row"].dtype == "Int64"
    assert all(rows[c].dtype == "str" for c in ROW_COLUMNS if c != "row")
    by_row = rows.set_index(["file", "row"])
    assert by_row.loc[("b.xlsx", 5), "reasons"] == "extension-dropped"
    assert by_row.loc[("b.xlsx", 5), "outcome"] == "planned_add"
    assert pd.isna(by_row.loc[("a.csv", 2), "reasons"])  # no warning: empty, not ""
    assert by_row.loc[("a.csv", 4), "reasons"] == "phone-invalid"
    assert by_row.loc[("a.csv", 4), "message"] == "row 4: phone-invalid"
    assert rows["lead_id"].isna().all()


def test_no_rows_at_all() -> None:
    rows = read_rows(ReadResult(leads=leads()))
    assert rows.empty and list(rows.columns) == list(ROW_COLUMNS)
    assert rows["row"].dtype == "Int64"


def test_counts_per_campaign() -> None:
    counts = read_counts(result(), campaign="Fallback")
    assert counts["Spring Promo"]["rows_valid"] == 4
    assert (
        counts["Spring Promo"]["rows_rejected"] == 1
        and counts["Spring Promo"]["rows_duplicate"] == 1
    )
    assert counts["Fallback"]["rows_rejected"] == 1  # the row that named no campaign
    assert counts["Spring Promo"]["rows_read"] == 6
