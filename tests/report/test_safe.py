"""Formula injection: risky cells are neutralized, plain numbers are left alone."""

from __future__ import annotations

import pandas as pd
import pytest

from leadsync.report.safe import ESCAPE_PREFIX, safe_cell, safe_frame, safe_series

RISKY = [
    '=HYPERLINK("http://x","y")',
    "=1+1",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\rfoo",
    "+",
    "-",
    "+1\n=2",  # a newline is not allowed in a plain number
    "+12135550100 ext 5",  # letters: not a plain number
]
UNTOUCHED = [
    "+12135550100",  # E.164
    "+44 20 7946 0958",
    "+1 (213) 555-0100",
    "-5",
    "-0.5",
    "-12/3",
    "Ann",
    "ann@example.com",  # @ not first
    "a=b",
    " =1+1",  # a leading space is not a formula
    "",
    "'=already escaped",
]


@pytest.mark.parametrize("value", RISKY)
def test_risky_cells_get_the_prefix(value: str) -> None:
    assert safe_cell(value) == ESCAPE_PREFIX + value


@pytest.mark.parametrize("value", UNTOUCHED)
def test_plain_values_are_left_alone(value: str) -> None:
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", [None, 3, -5, 2.5, True])
def test_non_strings_pass_through(value: object) -> None:
    assert safe_cell(value) is value


def test_series_matches_cell_rule_and_keeps_missing() -> None:
    values = [*RISKY, *UNTOUCHED]
    s = pd.Series([*values, None], dtype="str")
    out = safe_series(s)
    assert out.iloc[:-1].tolist() == [safe_cell(v) for v in values]
    assert pd.isna(out.iloc[-1])
    assert s.tolist()[: len(values)] == values  # the input is not modified


def test_object_column_escapes_only_text() -> None:
    s = pd.Series([1, "=1", None, -2.5, "-3"], dtype=object)
    assert safe_series(s).tolist()[:2] == [1, "'=1"]
    assert safe_series(s).tolist()[3:] == [-2.5, "-3"]


def test_numeric_columns_are_returned_as_they_are() -> None:
    s = pd.Series([-1, 2], dtype="Int64")
    assert safe_series(s) is s


def test_frame_escapes_every_text_column() -> None:
    frame = pd.DataFrame({"a": ["=x", "ok"], "n": [-1, 2], "b": ["@y", "+12135550100"]})
    out = safe_frame(frame)
    assert out["a"].tolist() == ["'=x", "ok"]
    assert out["b"].tolist() == ["'@y", "+12135550100"]
    assert out["n"].tolist() == [-1, 2]
    assert frame["a"].tolist() == ["=x", "ok"]
