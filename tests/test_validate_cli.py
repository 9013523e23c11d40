"""``leadsync validate`` and ``run_validate``: offline checks, the report folder, exit codes,
and the rejected.csv round trip (fix the cells, load the file again)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from leadsync.cli import main
from leadsync.config import Settings, load_settings
from leadsync.errors import ExitCode, InputError
from leadsync.models import COUNT_KEYS
from leadsync.run.validate import run_validate
from leadsync.sync.plan import PlanPolicy, reject_refusal
from tests.helpers import REPORT_FILES

DATA = Path(__file__).parent / "data"
ONE_BAD = DATA / "one_bad_row.csv"  # 10 rows; row 5 has priority "high" and a formula name
BAD_FIELDS = DATA / "bad_fields.csv"  # 7 rows, 6 rejected
CORRUPT = DATA / "corrupt.xlsx"
LEADSYNC = [sys.executable, "-c", "from leadsync.cli import main; main()"]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_rejected_rows_below_the_limit_exit_0_with_a_full_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "report"
    code, out, _ = run_cli(["validate", str(ONE_BAD), "--report-dir", str(out_dir)], capsys)
    assert code == ExitCode.OK
    assert {p.name for p in out_dir.iterdir()} == set(REPORT_FILES)
    assert "10 rows read, 9 valid, 1 rejected" in " ".join(out.split())
    assert f"report: {out_dir}" in out.replace("\n", "")

    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["command"] == "validate"
    assert summary["exit_code"] == 0
    assert summary["api"] == {"requests": 0, "retries": 0, "throttled": 0}
    assert summary["sources"][0]["rows"] == 10
    assert summary["sources"][0]["sha256"]
    assert list(summary["totals"]) == list(COUNT_KEYS)
    assert summary["totals"]["rows_read"] == 10
    assert summary["totals"]["rows_valid"] == 9
    assert summary["totals"]["rows_rejected"] == 1

    rows = read_csv(out_dir / "rows.csv")
    assert len(rows) == 10
    assert [r["row"] for r in rows] == [str(n) for n in range(2, 12)]
    assert rows[3]["outcome"] == "rejected"
    assert rows[3]["reasons"] == "priority-not-integer"
    assert rows[0]["number"] == "+12135550110"
    assert {r["outcome"] for r in rows[:3]} == {"valid"}

    rejected = read_csv(out_dir / "rejected.csv")
    assert len(rejected) == 1
    assert rejected[0]["First Name"] == "'" + '=HYPERLINK("http://x","y")'
    assert rejected[0]["source_row"] == "5"
    ws = openpyxl.load_workbook(out_dir / "report.xlsx")["Rejected"]
    assert ws["B2"].data_type == "s"
    assert ws["B2"].value == "'" + '=HYPERLINK("http://x","y")'


def test_rejected_csv_fixed_and_loaded_again_is_clean(tmp_path: Path) -> None:
    settings = Settings()
    first = run_validate([ONE_BAD], settings, report_dir=tmp_path / "first")
    assert first.totals()["rows_rejected"] == 1
    fixed = tmp_path / "fixed.csv"
    rows = read_csv(tmp_path / "first" / "rejected.csv")
    with fixed.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            row["Priority"] = "2"  # the cell the error names
            row["First Name"] = row["First Name"].removeprefix("'")
            writer.writerow(row)
    again = run_validate([fixed], settings, report_dir=tmp_path / "again")
    totals = again.totals()
    assert (totals["rows_read"], totals["rows_valid"], totals["rows_rejected"]) == (1, 1, 0)
    assert again.exit_code == ExitCode.OK
    # the helper columns (source_*, error) were ignored by the reader, not mapped to fields
    assert set(again.sources[0].columns) == {"number", "first_name", "last_name", "priority"}


def test_unreadable_file_exits_2_with_one_line_and_no_report(tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    done = subprocess.run(
        [*LEADSYNC, "validate", str(CORRUPT), "--report-dir", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == ExitCode.BAD_INPUT
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "corrupt.xlsx" in errors[0]
    assert not out_dir.exists()


def test_too_many_rejected_rows_exit_2_and_still_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "report"
    config = tmp_path / "leadsync.toml"
    config.write_text("[sync]\nreject_guard_floor = 0\n", encoding="utf-8")
    args = ["validate", str(BAD_FIELDS), "--config", str(config), "--report-dir", str(out_dir)]
    code, out, _ = run_cli(args, capsys)
    assert code == ExitCode.BAD_INPUT
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["exit_code"] == 2
    assert summary["refusal"].startswith(
        "6 of 7 input rows (85.7%) were rejected, more than the 20%"
    )
    assert "max_reject_fraction" in " ".join(out.split())
    assert len(read_csv(out_dir / "rejected.csv")) == 6


def test_a_small_file_reports_its_bad_rows_and_is_not_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "report"
    code, _, _ = run_cli(["validate", str(BAD_FIELDS), "--report-dir", str(out_dir)], capsys)
    assert code == ExitCode.OK  # 6 rejected: not more than the default reject_guard_floor (10)
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["refusal"] is None
    assert summary["totals"]["rows_rejected"] == 6
    assert len(read_csv(out_dir / "rejected.csv")) == 6


def test_reject_limit_comes_from_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "leadsync.toml"
    config.write_text(
        "[sync]\nmax_reject_fraction = 0.05\nreject_guard_floor = 0\n", encoding="utf-8"
    )
    code, _, _ = run_cli(
        ["validate", str(ONE_BAD), "--config", str(config), "--report-dir", str(tmp_path / "r")],
        capsys,
    )
    assert code == ExitCode.BAD_INPUT  # 1 of 10 is over 5%


def test_default_folder_is_utc_time_and_first_file_stem(tmp_path: Path) -> None:
    settings = load_settings(
        overrides={"sync": {"report_dir": str(tmp_path / "reports"), "region": "us"}},
        environ={},
        cwd=tmp_path,
    )
    at = datetime(2024, 5, 1, 12, 30, 5, tzinfo=UTC)
    report = run_validate([ONE_BAD, BAD_FIELDS], settings, clock=lambda: at)
    assert report.folder == tmp_path / "reports" / "20240501T123005Z_one_bad_row"
    assert report.folder is not None and (report.folder / "summary.json").is_file()
    second = run_validate([ONE_BAD], settings, clock=lambda: at)
    assert second.folder == tmp_path / "reports" / "20240501T123005Z-2_one_bad_row"
    summary = json.loads((report.folder / "summary.json").read_text(encoding="utf-8"))
    assert [s["path"] for s in summary["sources"]] == [str(ONE_BAD), str(BAD_FIELDS)]
    assert summary["started_at"] == "2024-05-01T12:30:05.000Z"


def test_campaign_option_names_the_rows_and_flags_reach_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "r"
    args = ["validate", str(ONE_BAD), "--campaign", "Spring Promo", "--region", "gb"]
    code, out, _ = run_cli([*args, "--report-dir", str(out_dir)], capsys)
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    assert list(summary["campaigns"]) == ["Spring Promo"]
    assert summary["settings"]["sync"]["region"] == "GB"
    assert "Spring Promo" in out
    # US numbers written without +1 are not valid in the GB region
    assert summary["totals"]["rows_rejected"] > 1
    assert code == ExitCode.OK  # no more than reject_guard_floor rows rejected: reported only


def test_no_source_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["validate"], capsys)
    assert code == ExitCode.BAD_INPUT
    assert "error: nothing to validate" in err


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.csv"):
        run_validate([tmp_path / "nope.csv"], Settings(), report_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_reject_fraction_rule() -> None:
    policy = PlanPolicy(max_reject_fraction=0.20, reject_guard_floor=0)
    assert reject_refusal(2, 10, policy) is None  # exactly the limit is allowed
    assert reject_refusal(0, 0, policy) is None
    message = reject_refusal(3, 10, policy)
    assert message is not None
    assert re.match(r"3 of 10 input rows \(30\.0%\) were rejected, more than the 20%", message)


def test_reject_guard_floor() -> None:
    policy = PlanPolicy(max_reject_fraction=0.20, reject_guard_floor=10)
    assert reject_refusal(4, 13, policy) is None  # an ops user's 9 good rows load
    assert reject_refusal(10, 10, policy) is None
    assert reject_refusal(11, 20, policy) is not None  # a shifted column in a nightly file
    assert "reject_guard_floor 10" in (reject_refusal(500, 1000, policy) or "")


def test_a_folder_stands_for_its_spreadsheets(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.csv").write_bytes(ONE_BAD.read_bytes())
    (folder / "notes.md").write_text("not a spreadsheet")
    out = subprocess.run(
        [*LEADSYNC, "validate", str(folder), "--report-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert [Path(s["path"]).name for s in summary["sources"]] == ["a.csv"]
    empty = tmp_path / "empty"
    empty.mkdir()
    out = subprocess.run(
        [*LEADSYNC, "validate", str(empty)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == ExitCode.BAD_INPUT and "no spreadsheet files" in out.stderr
