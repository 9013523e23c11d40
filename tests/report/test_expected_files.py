"""rows.csv and rejected.csv stay byte for byte what they were before the issues became columns
(reference files written by the earlier code on the same inputs: tests/data/expected/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from leadsync.cli import cli

DATA = Path(__file__).resolve().parents[1] / "data"
CASES = {
    "tricky": ["tricky_rejects.csv", "--region", "US"],
    "mixed": [
        "bad_fields.csv",
        "duplicates.csv",
        "extensions.csv",
        "float_artifacts.csv",
        "one_bad_row.csv",
        "tricky_rejects.csv",
        "--region",
        "US",
        "--campaign",
        "Fallback",
    ],
    "sheets": ["two_sheets.xlsx", "basic.xlsx", "scientific_text.csv", "--sheet", "*"],
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", ["rows.csv", "rejected.csv"])
def test_report_csv_files_are_byte_for_byte_the_reference(
    case: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(DATA)  # the reference files name the inputs by their relative paths
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["validate", *CASES[case], "--report-dir", str(out)])
    assert result.exit_code in (0, 2), result.output
    assert (out / name).read_bytes() == (DATA / "expected" / case / name).read_bytes()
