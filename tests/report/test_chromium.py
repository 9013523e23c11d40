"""report.html in a real browser: headless Chromium renders it offline, the screenshot is not
blank, and the rendered page shows the numbers summary.json holds (DOM after the script ran).
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

import pytest

from leadsync.report import write_report

from .builders import small_report
from .conftest import run_chromium

pytestmark = pytest.mark.chromium

WINDOW = (1280, 2400)


def png_info(data: bytes) -> tuple[int, int, float]:
    """(width, height, share of non-zero bytes in the filtered pixel data) of a PNG; a blank
    page filters to almost only zeros."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    pixels = zlib.decompress(idat)
    return width, height, sum(1 for b in pixels if b) / len(pixels)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser")
    write_report(small_report(), out)
    return out


def test_screenshot_of_the_page_is_not_blank(chromium: str, folder: Path, tmp_path: Path) -> None:
    shot = folder / "report.png"
    run_chromium(
        chromium,
        tmp_path / "profile",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--screenshot={shot}",
        (folder / "report.html").as_uri(),
    )
    width, height, ink = png_info(shot.read_bytes())
    assert (width, height) == WINDOW
    assert ink > 0.01, "the screenshot looks blank"
    print(f"screenshot: {shot}")


def test_rendered_page_shows_the_summary_numbers(
    chromium: str, folder: Path, tmp_path: Path
) -> None:
    uri = (folder / "report.html").as_uri() + "#filter=priority"
    dom = run_chromium(chromium, tmp_path / "profile", "--dump-dom", uri)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["headline"] in dom.replace("&amp;", "&")
    cards = dict(re.findall(r'data-key="(\w+)"[^>]*><div class="num">([\d,]+)</div>', dom))
    assert cards, "no summary cards in the rendered page"
    for key, shown in cards.items():
        assert int(shown.replace(",", "")) == summary["totals"][key], key
    # the inline script ran: the #filter= query left 1 of the 3 problem rows visible
    problems = dom.split('id="problems"')[1].split("</tbody>")[0]
    assert problems.count("<tr hidden=") == 2
    assert "1 of 3 shown" in dom
