"""Encodings a spreadsheet program writes by locale, the headers of contact exports, and one clear
line (exit 2, no traceback) for every workbook the reader cannot open — from the library and
from ``leadsync validate FILE``."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadsync.cli import main
from leadsync.config import Settings
from leadsync.errors import ExitCode, InputError
from leadsync.reader import read_sources

DATA = Path(__file__).resolve().parents[1] / "data"


def read(name: str, **sync: object):
    return read_sources([DATA / name], Settings(sync=sync) if sync else Settings())


def validate(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``leadsync validate PATH``: exit code and stderr."""
    with pytest.raises(SystemExit) as done:
        main(["validate", str(path), "--report-dir", str(tmp_path / "report")])
    return int(done.value.code or 0), capsys.readouterr().err


# --- encodings ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "region", "encoding", "names", "numbers"),
    [
        (
            "macroman.csv",  # Excel for Mac, "CSV (Macintosh)": Mac Roman, lines ended by \r
            "US",
            "mac_roman",
            [("José", "Müller"), ("Renée", "Ségolène"), ("Zoë", "Ångström")],
            ["+12135550100", "+12135550101", "+12135550102"],
        ),
        (
            "shift_jis.csv",  # Japanese Excel: Shift_JIS (cp932), Japanese headers
            "JP",
            "cp932",
            [("太郎", "山田"), ("花子", "佐藤")],
            ["+81312345678", "+819012345678"],
        ),
        (
            "gb18030.csv",  # Chinese Excel: GBK/GB18030, Chinese headers
            "CN",
            "gb18030",
            [("伟", "张"), ("芳", "王")],
            ["+8613812345678", "+8613912345678"],
        ),
    ],
)
def test_legacy_encodings_are_detected_and_names_arrive_intact(
    name, region, encoding, names, numbers
):
    """Regression: Mac Roman was read as cp1252 ("José Müller" reached the dialer as
    "JosŽ MŸller", exit 0, no warning); Shift_JIS and GB18030 gave "no phone column" with
    garbled headers."""
    result = read(name, region=region)
    assert result.sources[0].encoding == encoding
    leads = result.leads
    assert list(zip(leads["first_name"], leads["last_name"], strict=True)) == names
    assert leads["number"].tolist() == numbers
    assert result.issues == [] and result.warnings == []


def test_cp1252_stays_cp1252():
    """The Western files of Excel for Windows: still cp1252 (it wins a tie)."""
    assert read("cp1252.csv").sources[0].encoding == "cp1252"
    assert read("outlook_contacts.csv").sources[0].encoding == "cp1252"


def test_text_read_in_the_wrong_encoding_is_warned_about(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes("Phone,First Name\r2135550100,José Müller\r".encode("mac_roman"))
    result = read_sources([path], Settings(sync={"encoding": "cp1252"}))
    assert result.leads["first_name"].tolist() == ["JosŽ MŸller"]  # what was asked for…
    assert result.warnings == [
        f"{path}: the text may be mis-decoded (read as cp1252): check names and notes, or set "
        "[sync] encoding to the file's encoding"
    ]  # …but not silently
    assert read_sources([path], Settings()).leads["first_name"].tolist() == ["José Müller"]


def test_no_phone_column_in_a_legacy_encoding_names_the_encoding_setting(tmp_path):
    path = tmp_path / "french.csv"
    path.write_bytes("Nom,Prénom,Téléfone\nLee,Ann,2135550100\n".encode("cp1252"))
    with pytest.raises(InputError) as info:
        read_sources([path], Settings())
    assert str(info.value).endswith(
        "headers found: 'Nom', 'Prénom', 'Téléfone'); the file was read as cp1252: if these "
        "headers look garbled, set [sync] encoding to the file's encoding (e.g. mac_roman, "
        "cp932, gb18030)"
    )


# --- contact exports ----------------------------------------------------------------------------
def test_google_contacts_export():
    result = read("google_contacts.csv")
    assert result.sources[0].columns == {
        "number": "Phone 1 - Value",
        "first_name": "Given Name",
        "last_name": "Family Name",
        "note": "Notes",
        "priority": "Priority",
    }
    leads = result.leads
    assert leads["number"].tolist() == ["+12135550100", "+12135550101", "+12135550102"]
    assert leads["first_name"].tolist() == ["Ann", "Bo", "Chloé"]
    assert result.issues == []


def test_outlook_export_uses_the_business_phone_when_no_mobile_is_filled():
    result = read("outlook_contacts.csv")
    assert result.sources[0].columns["number"] == "Business Phone"
    assert result.leads["number"].tolist() == ["+12135550100", "+12135550101", "+12135550102"]
    assert result.leads["last_name"].tolist() == ["Müller", "O'Neil", "Ng"]


def test_a_filled_mobile_column_wins_and_two_filled_fallbacks_conflict(tmp_path):
    head = "First Name,Mobile Phone,Business Phone,Home Phone\n"
    mobile = tmp_path / "mobile.csv"
    mobile.write_text(head + "Ann,2135550100,2135550199,\nBo,2135550101,,\n")
    assert read_sources([mobile], Settings()).sources[0].columns["number"] == "Mobile Phone"
    both = tmp_path / "both.csv"
    both.write_text(head + "Ann,,2135550100,2135550199\n")
    with pytest.raises(InputError, match=r"columns 'Business Phone' \(C\) and 'Home Phone' \(D\)"):
        read_sources([both], Settings())


def test_an_empty_column_steps_aside_for_a_filled_one(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("Phone,Mobile,Name\n,2135550100,Ann\n")
    result = read_sources([path], Settings())
    assert result.sources[0].columns["number"] == "Mobile"


# --- workbooks that cannot be read: one line each, every format ----------------------------------
PASSWORD = r"workbook is encrypted or corrupt \(it is password-protected: open it, remove"
UNREADABLE = {
    "encrypted.xlsx": PASSWORD,
    "encrypted.ods": PASSWORD,  # was: "(Cannot detect file format)"
    "encrypted.xls": PASSWORD,  # was: "(Cannot detect file format)"
    "excel4.xls": r"is an Excel 4.0 workbook, a format too old to read: open it in Excel or "
    r"LibreOffice and save it as \.xlsx",  # was: "not an Excel or OpenDocument file"
    "empty.xlsx": r"is empty \(0 bytes\)",  # was: "encrypted or corrupt"
    "empty.ods": r"is empty \(0 bytes\)",
    "empty_first_sheet.ods": r"\[sheet 'Blank'\] is empty; sheets with data: 'Leads' — choose "
    r"one with --sheet NAME",
}


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_unreadable_workbooks_say_why_in_one_line(name, tmp_path, capsys):
    with pytest.raises(InputError, match=UNREADABLE[name]) as info:
        read(name)
    assert "\n" not in str(info.value) and name in str(info.value)
    code, err = validate(DATA / name, tmp_path, capsys)
    assert code == ExitCode.BAD_INPUT
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and name in errors[0], err
    assert "Traceback" not in err


def test_campaign_names_are_checked_once_each_and_refused_rows_keep_their_cells(tmp_path):
    path = tmp_path / "campaigns.csv"
    path.write_text(
        "Phone,Campaign\n(213) 555-0101,Spring\n(213) 555-0102,Fall\n"
        "(213) 555-0103,Fall\n(213) 555-0104,\n",
        encoding="utf-8",
    )
    asked: list[str] = []

    def problem(name: str) -> str | None:
        asked.append(name)
        return None if name == "Spring" else f"campaign {name!r} does not exist"

    result = read_sources([path], Settings(), campaign_problem=problem)
    assert sorted(asked) == ["Fall", "Spring"]
    assert result.leads["number"].tolist() == ["+12135550101"]
    by_row = {i.row: i for i in result.issues}
    assert by_row[3].codes == ("campaign-unknown",)
    assert by_row[3].message == "campaign 'Fall' does not exist"
    assert by_row[3].values == {"Phone": "(213) 555-0102", "Campaign": "Fall"}
    assert by_row[5].codes == ("campaign-missing",)
    assert sorted(by_row) == [3, 4, 5]
