"""Each named fixture file of tests/data → its exact leads and issues."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leadsync.config import Settings
from leadsync.errors import ExitCode, InputError
from leadsync.models import DESIRED_COLUMNS, IssueKind, empty_desired
from leadsync.reader import read_sources

DATA = Path(__file__).resolve().parents[1] / "data"


def read(name: str, **sync: object):
    settings = Settings(sync=sync) if sync else Settings()
    return read_sources([DATA / name], settings)


def numbers(result) -> list[str]:
    return result.leads["number"].tolist()


def rows(result) -> list[int]:
    return [int(r) for r in result.leads["row"]]


def issue_summary(result) -> list[tuple[int, tuple[str, ...]]]:
    return [(i.row, i.codes) for i in result.issues]


def test_basic_csv_gives_every_field_typed_and_blank_as_na():
    r = read("basic.csv")
    leads = r.leads
    assert list(leads.columns) == list(DESIRED_COLUMNS)
    assert leads.dtypes.to_dict() == empty_desired().dtypes.to_dict()
    assert numbers(r) == ["+12135550100", "+12135550101", "+12135550102"]
    assert rows(r) == [2, 3, 4]
    first = leads.iloc[0]
    assert (first["first_name"], first["last_name"], first["status"]) == ("Ann", "Lee", "new")
    assert (first["priority"], first["retries"], first["cool_off"]) == (1, 3, 60)
    assert (first["ticket_id"], first["note"], first["type"]) == ("T-1", "Call after 5", "sales")
    assert first["campaign"] == "Spring"
    # blank cells are "not given", never zero or ""
    assert pd.isna(leads.iloc[1]["retries"]) and pd.isna(leads.iloc[1]["note"])
    assert pd.isna(leads.iloc[2]["status"]) and pd.isna(leads.iloc[2]["priority"])
    assert leads.iloc[2]["first_name"] == "Chloé"  # trimmed
    assert leads.iloc[2]["note"] == 'Likes "quotes", commas'
    assert r.issues == []
    (src,) = r.sources
    assert (src.format, src.encoding, src.delimiter, src.header_row, src.rows) == (
        "csv",
        "utf-8",
        ",",
        1,
        3,
    )
    assert src.columns["number"] == "phone"
    assert len(src.sha256) == 64


@pytest.mark.parametrize(
    ("name", "delimiter", "expected"),
    [
        ("semicolon.csv", ";", ["+12135550100", "+12135550101"]),
        ("tabs.tsv", "\t", ["+12135550100", "+12135550101"]),
        ("pipes.txt", "|", ["+12135550100", "+442079460958"]),
    ],
)
def test_delimiter_is_sniffed(name, delimiter, expected):
    r = read(name)
    assert r.sources[0].delimiter == delimiter
    assert numbers(r) == expected
    assert r.issues == []


def test_semicolon_file_keeps_quoted_delimiter_and_ignores_unknown_columns():
    r = read("semicolon.csv")
    assert r.sources[0].columns == {"number": "Phone", "status": "Status"}
    assert r.leads["status"].tolist()[0] == "new"


def test_tabs_note_with_comma():
    r = read("tabs.tsv")
    assert r.leads["note"].tolist()[0] == "morning, please"
    assert r.leads["first_name"].tolist() == ["Ann", "Bob"]


@pytest.mark.parametrize(
    ("name", "encoding", "first_names"),
    [
        ("utf8_bom.csv", "utf-8-sig", ["Zoë", "Åsa"]),
        ("utf16_excel_unicode.txt", "utf-16", ["José", "李"]),
        ("cp1252.csv", "cp1252", ["Renée", "Müller"]),
    ],
)
def test_encodings_are_detected(name, encoding, first_names):
    r = read(name)
    assert r.sources[0].encoding == encoding
    assert r.leads["first_name"].tolist() == first_names
    assert numbers(r) == ["+12135550100", "+12135550101"]


def test_utf16_excel_unicode_text_is_tab_delimited_with_bom_header():
    r = read("utf16_excel_unicode.txt")
    assert r.sources[0].delimiter == "\t"
    assert r.sources[0].columns["number"] == "Phone"  # no BOM glued to the header
    assert r.leads["last_name"].tolist() == ["Núñez", "王"]


def test_cp1252_smart_quotes_and_euro():
    r = read("cp1252.csv")
    assert r.leads["note"].tolist() == ["“quoted” – dash", "€5 off"]


def test_encoding_setting_overrides_detection():
    r = read("cp1252.csv", encoding="latin-1")
    assert r.sources[0].encoding == "latin-1"
    assert r.leads["first_name"].tolist()[0] == "Renée"


def test_title_rows_above_header_and_excel_row_numbers():
    r = read("title_rows.xlsx")
    src = r.sources[0]
    assert (src.format, src.sheet, src.header_row) == ("xlsx", "Leads", 4)
    assert numbers(r) == ["+12135550100", "+12135550101"]
    assert rows(r) == [5, 6]
    assert r.leads["status"].tolist() == ["new", "failed"]  # lower-cased
    assert r.leads["priority"].tolist() == [1, 2]  # numeric cells 1.0, 2.0
    assert issue_summary(r) == [(7, ("phone-invalid",))]
    issue = r.issues[0]
    assert issue.values == {
        "First Name": "Cy",
        "Last Name": "Ng",
        "Phone Number": "not a phone",
        "Status": "new",
        "Priority": "3",
    }
    assert "Phone Number 'not a phone'" in issue.message


def test_header_row_setting():
    r = read("title_rows.xlsx", header_row=4)
    assert rows(r) == [5, 6]
    with pytest.raises(InputError, match=r"header row 2 .*blank"):
        read("title_rows.xlsx", header_row=2)


def test_blank_rows_and_columns_are_ignored_row_numbers_kept():
    r = read("blanks.xlsx")
    assert r.sources[0].header_row == 3
    assert numbers(r) == ["+12135550100", "+12135550101", "+12135550102"]
    assert rows(r) == [4, 5, 7]
    assert r.issues == []


def test_first_sheet_by_default_named_sheet_or_all():
    assert numbers(read("two_sheets.xlsx")) == ["+12135550100", "+12135550101"]
    west = read("two_sheets.xlsx", sheet="west")  # case-insensitive fallback
    assert numbers(west) == ["+12135550102", "+12135550100"]
    assert west.sources[0].sheet == "West"
    everything = read("two_sheets.xlsx", sheet="*")
    assert everything.leads["sheet"].tolist() == ["East", "East", "West"]
    assert numbers(everything) == ["+12135550100", "+12135550101", "+12135550102"]
    (dup,) = everything.issues
    assert (dup.sheet, dup.row, dup.kind, dup.codes, dup.duplicate_of_row) == (
        "West",
        3,
        IssueKind.DUPLICATE,
        ("duplicate",),
        2,
    )
    assert "sheet 'East'" in dup.message
    assert any("sheet 'Notes'" in w and "no phone column" in w for w in everything.warnings)


def test_unknown_sheet_lists_sheets():
    with pytest.raises(InputError, match=r"no sheet 'North'; sheets: 'East', 'West', 'Notes'"):
        read("two_sheets.xlsx", sheet="North")


@pytest.mark.parametrize("name", ["basic.xlsx", "basic.xls", "basic.ods"])
def test_every_workbook_format_reads_numeric_cells_as_exact_text(name):
    r = read(name)
    assert numbers(r) == ["+12135550100", "+12135550101", "+12135550102"]  # 2135550101 numeric
    assert r.leads["priority"].tolist()[:2] == [1, 2]
    assert r.leads["retries"].tolist()[2] == 5
    assert r.leads["first_name"].tolist()[2] == "Chloé"
    assert r.sources[0].format == name.rsplit(".", 1)[1]


def test_scientific_text_is_rejected_with_instructions():
    r = read("scientific_text.csv")
    assert numbers(r) == ["+12135550102"]
    assert issue_summary(r) == [
        (2, ("phone-scientific",)),
        (3, ("phone-scientific",)),
        (5, ("phone-scientific",)),
    ]
    assert "format the phone column as Text and re-enter" in r.issues[0].message


def test_excel_damage_numeric_cells():
    r = read("excel_damage.xlsx")
    assert numbers(r) == ["+12135550102", "+12135550103", "+12135550105"]
    assert rows(r) == [2, 4, 7]
    assert issue_summary(r) == [
        (3, ("phone-scientific",)),  # numeric cell formatted 0.00E+00
        (5, ("phone-decimal",)),  # 2135550104.5
        (6, ("phone-scientific",)),  # text "4.47701E+11"
    ]
    assert "formatted in scientific notation" in r.issues[0].message
    assert r.issues[0].values["Phone"] == "447701234567"


def test_float_artifacts_accepted_fractions_rejected():
    r = read("float_artifacts.csv")
    assert numbers(r) == ["+12135550100", "+12135550101"]
    assert r.leads["priority"].tolist() == [1, 2]
    assert r.leads["retries"].tolist() == [3, 3]
    assert issue_summary(r) == [(4, ("phone-decimal",))]


def test_extensions_dropped_with_warning():
    r = read("extensions.csv")
    assert numbers(r) == ["+12135550100", "+12135550101", "+12135550102"]
    assert r.leads["warnings"].tolist() == [
        "phone-extension-dropped",
        "phone-extension-dropped",
        "",
    ]
    assert r.issues == []
    assert any("extensions dropped on 2 row(s) (2, 3)" in w for w in r.warnings)


def test_bad_fields_each_with_codes_and_sentence():
    r = read("bad_fields.csv")
    assert numbers(r) == ["+12135550103"]
    assert r.leads["status"].tolist() == ["success"]
    assert issue_summary(r) == [
        (2, ("priority-not-integer",)),
        (3, ("status-unknown", "retries-not-integer", "priority-not-integer")),
        (4, ("cool_off-not-integer",)),
        (5, ("phone-missing",)),
        (6, ("phone-invalid",)),
        (7, ("phone-too-short",)),
    ]
    msg = r.issues[1].message
    assert "status 'pending' is not a known status (new, success, failed)" in msg
    assert "priority '3.5' is not a whole number" in msg
    assert r.issues[0].values["priority"] == "high"
    assert all(i.kind == IssueKind.REJECTED for i in r.issues)


def test_custom_statuses():
    r = read("bad_fields.csv", statuses=["new", "success", "failed", "pending"])
    assert (3, ("retries-not-integer", "priority-not-integer")) in issue_summary(r)


@pytest.mark.parametrize(
    ("policy", "kept_rows", "issues"),
    [
        ("first", [2, 4, 5], [(3, 2), (6, 2)]),
        ("last", [4, 5, 6], [(2, 6), (3, 6)]),
        ("reject", [4, 5], [(2, 3), (3, 2), (6, 2)]),
    ],
)
def test_duplicate_policy(policy, kept_rows, issues):
    r = read("duplicates.csv", duplicate_policy=policy)
    assert rows(r) == kept_rows
    assert [(i.row, i.duplicate_of_row) for i in r.issues] == issues
    assert all(i.codes == ("duplicate",) for i in r.issues)
    kind = IssueKind.REJECTED if policy == "reject" else IssueKind.DUPLICATE
    assert {i.kind for i in r.issues} == {kind}
    assert all(i.number == "+12135550100" and i.campaign == "Spring" for i in r.issues)


def test_dnc_rejects_listed_numbers():
    r = read("dnc.csv", dnc_files=[DATA / "dnc_list.csv"])
    assert numbers(r) == ["+12135550100", "+12135550102"]
    assert issue_summary(r) == [(3, ("dnc",)), (5, ("dnc",))]
    assert "do-not-call" in r.issues[0].message


def test_dnc_from_a_workbook(tmp_path):
    r = read("basic.csv", dnc_files=[DATA / "two_sheets.xlsx"])
    assert numbers(r) == []  # every basic.csv number is on East or West
    assert [i.codes for i in r.issues] == [("dnc",)] * 3


def test_synonyms_map_every_field():
    r = read("synonyms.csv")
    assert r.sources[0].columns == {
        "first_name": "Given Name",
        "last_name": "SURNAME",
        "number": "Mobile_Number",
        "priority": "Prio",
        "retries": "Max-Attempts",
        "status": "Lead Status",
        "ticket_id": "Case ID",
        "note": "Comments",
        "type": "Lead Type",
        "cool_off": "Cool Down",
        "campaign": "Campaign Name",
    }
    lead = r.leads.iloc[0]
    assert (lead["first_name"], lead["cool_off"], lead["campaign"]) == ("Ann", 10, "Spring")


def test_explicit_columns_override_synonyms():
    settings = Settings(columns={"number": "Mobile"})
    r = read_sources([DATA / "conflicting_columns.csv"], settings)
    assert numbers(r) == ["+12135550101"]
    missing = Settings(columns={"number": "Handy"})
    with pytest.raises(InputError, match=r"column 'Handy' \(mapped to number in \[columns\]\)"):
        read_sources([DATA / "conflicting_columns.csv"], missing)


def test_campaign_argument_fills_blanks_column_wins():
    r = read_sources([DATA / "pipes.txt"], Settings(), campaign="Summer")
    assert r.leads["campaign"].tolist() == ["Summer", "Summer"]
    r = read_sources([DATA / "duplicates.csv"], Settings(), campaign="Summer")
    assert r.leads["campaign"].tolist() == ["Spring", "Autumn", "Spring"]


def test_several_files_are_combined_in_order_and_deduplicated_across_files():
    r = read_sources([DATA / "basic.csv", DATA / "basic.xlsx"], Settings())
    assert numbers(r) == ["+12135550100", "+12135550101", "+12135550102"]
    assert [(i.file.rsplit("/", 1)[1], i.row, i.duplicate_of_row) for i in r.issues] == [
        ("basic.xlsx", 2, 2),
        ("basic.xlsx", 3, 3),
        ("basic.xlsx", 4, 4),
    ]
    assert "basic.csv" in r.issues[0].message
    assert len(r.sources) == 2 and r.rows_read == 6


def test_progress_is_reported():
    calls = []
    read_sources([DATA / "basic.csv"], Settings(), progress=lambda s, d, t: calls.append((s, d, t)))
    assert calls[0] == ("read", 0, 1)
    assert ("read", 1, 1) in calls
    assert calls[-1] == ("check", 3, 3)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("conflicting_columns.csv", r"columns 'Phone' \(B\) and 'Mobile' \(C\) both map to number"),
        (
            "no_phone_column.csv",
            r"no phone column in .*no_phone_column.csv \(looked for: .*"
            r"headers found: 'Name', 'Email'\)",
        ),
        ("empty.csv", r"empty.csv is empty"),
        ("binary.csv", r"binary.csv is not a text file"),
        ("nul_bytes.csv", r"nul_bytes.csv contains NUL bytes \(first on line 3\)"),
        ("corrupt.xlsx", r"corrupt.xlsx: workbook is encrypted or corrupt"),
        ("encrypted.xlsx", r"encrypted.xlsx: workbook is encrypted or corrupt \(it is password"),
    ],
)
def test_unreadable_files_give_one_line_input_error(name, message):
    with pytest.raises(InputError, match=message) as info:
        read(name)
    text = str(info.value)
    assert "\n" not in text
    assert name in text
    assert info.value.exit_code == ExitCode.BAD_INPUT
    assert info.value.path and info.value.path.endswith(name)


def test_missing_file_and_renamed_workbook(tmp_path):
    with pytest.raises(InputError, match=r"nope.csv does not exist"):
        read_sources([tmp_path / "nope.csv"], Settings())
    renamed = tmp_path / "leads.csv"
    renamed.write_bytes((DATA / "basic.xlsx").read_bytes())
    with pytest.raises(InputError, match=r"leads.csv is not a text file \(it looks like a ZIP"):
        read_sources([renamed], Settings())
    text_as_xlsx = tmp_path / "leads.xlsx"
    text_as_xlsx.write_bytes((DATA / "basic.csv").read_bytes())
    with pytest.raises(InputError, match=r"leads.xlsx: workbook is encrypted or corrupt"):
        read_sources([text_as_xlsx], Settings())


def test_header_only_file_gives_no_leads(tmp_path):
    f = tmp_path / "header.csv"
    f.write_text("phone,first_name\n")
    r = read_sources([f], Settings())
    assert r.leads.empty and r.issues == []
    assert list(r.leads.columns) == list(DESIRED_COLUMNS)


def test_rows_wider_than_the_header_are_read(tmp_path):
    f = tmp_path / "ragged.csv"
    f.write_text("phone,first_name\n2135550100,Ann\n2135550101,Bob,extra,cells\n")
    r = read_sources([f], Settings())
    assert r.leads["first_name"].tolist() == ["Ann", "Bob"]
