"""Any text in any cell never crashes the reader; bounds give one-line InputErrors."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.config import Settings
from leadsync.errors import InputError
from leadsync.models import DESIRED_COLUMNS
from leadsync.reader import Limits, read_sources

DATA = Path(__file__).resolve().parents[1] / "data"
cell = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
               max_size=15)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(cell, min_size=3, max_size=3), max_size=8))
def test_any_cell_text_never_crashes(tmp_path, body):
    path = tmp_path / "fuzz.csv"
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["phone", "priority", "status"])
    w.writerows(body)
    path.write_text(buf.getvalue(), encoding="utf-8")
    try:
        result = read_sources([path], Settings())
    except InputError as err:
        assert "\n" not in str(err) and str(path) in str(err)
        return
    assert list(result.leads.columns) == list(DESIRED_COLUMNS)
    assert result.leads["number"].str.startswith("+").all()
    assert len(result.leads) + len(result.issues) <= len(body)


def _limited(**kw: int) -> Limits:
    return Limits(**kw)


def test_limits_rows_columns_cells_size(tmp_path):
    f = tmp_path / "many.csv"
    f.write_text("phone\n" + "2135550100\n" * 20)
    with pytest.raises(InputError, match=r"more than 10 rows"):
        read_sources([f], Settings(), limits=_limited(max_rows=10))
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(["phone"] + [f"c{i}" for i in range(30)]) + "\n")
    with pytest.raises(InputError, match=r"31 columns, more than the limit of 20"):
        read_sources([wide], Settings(), limits=_limited(max_columns=20))
    long = tmp_path / "long.csv"
    long.write_text("phone,note\n2135550100," + "x" * 100 + "\n")
    with pytest.raises(InputError, match=r"row 2, column B has more than 50 characters"):
        read_sources([long], Settings(), limits=_limited(max_cell_chars=50))
    with pytest.raises(InputError, match=r"more than the limit"):
        read_sources([long], Settings(), limits=_limited(max_file_bytes=10))


def test_zip_bomb_is_refused_before_parsing(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"\x00" * (4 * 2**20))
    with pytest.raises(InputError, match=r"expands .*-fold.*ZIP bomb"):
        read_sources([bomb], Settings(), limits=_limited(ratio_floor_bytes=2**20))
    with pytest.raises(InputError, match=r"expands to .* MiB.*ZIP bomb"):
        read_sources([bomb], Settings(), limits=_limited(max_unzipped_bytes=2**20))


def test_entity_expansion_is_not_performed(tmp_path):
    """A billion-laughs sheet inside a real workbook: an error or literal text, never a hang."""
    src = zipfile.ZipFile(DATA / "basic.xlsx")
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + "]>"
    )
    out = tmp_path / "laughs.xlsx"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/sharedStrings.xml":
                data = data.replace(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
                                    laughs.encode())  # fmt: skip
                data = data.replace(b"Ann", b"&i;")
            zf.writestr(item, data)
    try:
        result = read_sources([out], Settings())
    except InputError as err:
        assert "laughs.xlsx" in str(err)
        return
    assert all(len(str(v)) < 1000 for v in result.leads["first_name"].dropna())
