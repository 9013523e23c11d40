"""run/inspect: a file previewed as the reader will read it (header row, first rows, fields)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadsync.config import load_settings
from leadsync.errors import InputError
from leadsync.reader import read_sources
from leadsync.run.inspect import PREVIEW_BYTES, check_mapping, inspect_file

DATA = Path(__file__).resolve().parents[1] / "data"


def settings(**sync: object) -> object:
    return load_settings(environ={}, overrides={"sync": sync})


def test_title_rows_are_skipped_and_the_fields_are_the_readers() -> None:
    (p,) = inspect_file(DATA / "title_rows.xlsx", load_settings(environ={}))
    source = read_sources([DATA / "title_rows.xlsx"], load_settings(environ={})).sources[0]
    assert p.header_row == source.header_row == 4
    assert {f: p.headers[i] for f, i in p.fields.items()} == source.columns
    assert p.rows[0][0] == 5 and p.problem is None and not p.header_guessed


@pytest.mark.parametrize(
    "name", ["basic.csv", "basic.xlsx", "basic.ods", "basic.xls", "synonyms.csv", "tabs.tsv"]
)
def test_every_format_previews_like_the_reader_reads_it(name: str) -> None:
    s = load_settings(environ={})
    (p,) = inspect_file(DATA / name, s)
    source = read_sources([DATA / name], s).sources[0]
    assert p.header_row == source.header_row
    assert {f: p.headers[i] for f, i in p.fields.items()} == source.columns
    assert all(c.how == "synonym" for c in p.columns if c.field)


def test_workbooks_list_their_sheets_and_preview_the_chosen_one() -> None:
    (first,) = inspect_file(DATA / "two_sheets.xlsx", load_settings(environ={}))
    assert first.sheet == "East" and first.sheets == ("East", "West", "Notes")
    (west,) = inspect_file(DATA / "two_sheets.xlsx", settings(sheet="West"))
    assert west.sheet == "West"
    with pytest.raises(InputError, match="no sheet 'Nope'"):
        inspect_file(DATA / "two_sheets.xlsx", settings(sheet="Nope"))


def test_a_file_without_a_phone_column_is_previewed_with_the_readers_words() -> None:
    (p,) = inspect_file(DATA / "no_phone_column.csv", load_settings(environ={}))
    assert p.header_guessed and p.header_row == 1 and p.headers == ["Name", "Email"]
    assert p.problem is not None and p.problem.startswith("no phone column")
    with pytest.raises(InputError, match="no phone column"):
        read_sources([DATA / "no_phone_column.csv"], load_settings(environ={}))


def test_two_columns_claiming_a_field_are_shown_not_refused() -> None:
    (p,) = inspect_file(DATA / "conflicting_columns.csv", load_settings(environ={}))
    assert p.problem is not None and "both map to number" in p.problem
    assert p.fields == {"number": 1}
    assert check_mapping(p, {"number": "Mobile"}) == {"number": 2}


def test_check_mapping_says_what_the_reader_would() -> None:
    (p,) = inspect_file(DATA / "no_phone_column.csv", load_settings(environ={}))
    with pytest.raises(InputError, match="no phone column"):
        check_mapping(p, {})
    with pytest.raises(InputError, match=r"'Tel' .* not found"):
        check_mapping(p, {"number": "Tel"})
    assert check_mapping(p, {"number": "Email", "first_name": "Name"}) == {
        "number": 1,
        "first_name": 0,
    }


def test_an_empty_file_is_previewed_as_empty_and_a_binary_one_is_refused() -> None:
    (p,) = inspect_file(DATA / "empty.csv", load_settings(environ={}))
    assert p.header_row is None and p.problem is not None and "empty" in p.problem
    with pytest.raises(InputError):
        inspect_file(DATA / "binary.csv", load_settings(environ={}))


def test_a_large_text_file_is_previewed_from_its_start(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    line = "Ann,Lee,2135550100,a note that makes the line longer than most\n"
    big.write_text("first,last,phone,note\n" + line * (2 * PREVIEW_BYTES // len(line)))
    (p,) = inspect_file(big, load_settings(environ={}), rows=5)
    assert p.partial and p.header_row == 1 and len(p.rows) == 5
    assert p.fields["number"] == 2
