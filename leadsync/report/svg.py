"""The geometry of report.html's inline SVG chart (no JavaScript library, no network).

:func:`stacked_bars` computes where each bar and segment goes; the ``chart.html`` template
draws it (and escapes every name), so no markup is built here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Count

#: Colour of each count in charts and legends (colour-blind-friendly where it matters:
#: failures and rejections are red/orange, success green, neutral grey).
COLORS: dict[str, str] = {
    Count.ROWS_VALID: "#2e7d32",
    Count.ADDED: "#2e7d32",
    Count.PLANNED_ADD: "#2e7d32",
    Count.STATUS_SET: "#1565c0",
    Count.PLANNED_STATUS: "#1565c0",
    Count.DELETED: "#6a1b9a",
    Count.PLANNED_DELETE: "#6a1b9a",
    Count.UNCHANGED: "#90a4ae",
    Count.KEPT: "#8d6e63",
    Count.DRIFT: "#00838f",
    Count.FAILED: "#c62828",
    Count.NOT_STARTED: "#e65100",
    Count.RESIDUAL: "#ad1457",
    Count.ROWS_REJECTED: "#ef6c00",
    Count.ROWS_DUPLICATE: "#f9a825",
}
DEFAULT_COLOR = "#607d8b"

CHART_WIDTH = 960
LABEL_WIDTH = 210
VALUE_WIDTH = 90
BAR_HEIGHT = 22
ROW_GAP = 12
LEGEND_HEIGHT = 8
#: Bars drawn at most; more campaigns are summarized in a note below the chart.
MAX_BARS = 40
#: A segment narrower than this (px) carries no number label.
MIN_LABELLED_WIDTH = 34
#: Rough width of one digit of a segment's number label (px), to see whether it fits.
DIGIT_WIDTH = 7
#: Campaign names longer than this are cut (with …) beside the bar; the whole name is its title.
LABEL_CHARS = 28


def color(key: str) -> str:
    """The chart colour of count ``key``."""
    return COLORS.get(key, DEFAULT_COLOR)


@dataclass(frozen=True)
class Segment:
    """One count's part of a bar."""

    label: str
    value: int
    x: float
    width: float
    color: str
    numbered: bool  # wide enough to carry its number


@dataclass(frozen=True)
class Bar:
    """One campaign's bar: its name (cut to fit beside the bar), top ``y`` and segments."""

    name: str
    short_name: str
    y: int
    total: int
    segments: list[Segment]


@dataclass(frozen=True)
class LegendItem:
    """A legend entry (an HTML list in the page: it wraps, unlike SVG)."""

    color: str
    label: str


@dataclass(frozen=True)
class Chart:
    """A horizontal stacked bar chart; ``bars`` is empty when every count is zero."""

    title: str
    bars: list[Bar]
    legend: list[LegendItem]
    hidden: int  # campaigns beyond MAX_BARS (listed in the table instead)
    width: int = CHART_WIDTH
    height: int = 0
    label_width: int = LABEL_WIDTH
    bar_area: int = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bar_height: int = BAR_HEIGHT


def stacked_bars(
    series: dict[str, dict[str, int]], keys: list[str], labels: dict[str, str], title: str
) -> Chart:
    """A horizontal stacked bar per entry of ``series`` (name -> {key: count}), segments in
    the order of ``keys``, at most :data:`MAX_BARS` bars."""
    names = list(series)[:MAX_BARS]
    totals = {n: sum(max(int(series[n].get(k, 0)), 0) for k in keys) for n in names}
    biggest = max(totals.values(), default=0)
    hidden = max(len(series) - MAX_BARS, 0)
    items = [LegendItem(color(k), labels.get(k, k)) for k in keys]
    if biggest == 0:
        return Chart(title, [], items, hidden)
    bar_area = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = []
    y = LEGEND_HEIGHT
    for name in names:
        segments = []
        x_pos = float(LABEL_WIDTH)
        for key in keys:
            value = max(int(series[name].get(key, 0)), 0)
            if not value:
                continue
            width = bar_area * value / biggest
            numbered = width >= MIN_LABELLED_WIDTH and len(f"{value:,}") * DIGIT_WIDTH + 8 < width
            segments.append(
                Segment(labels.get(key, key), value, x_pos, width, color(key), numbered)
            )
            x_pos += width
        cut = name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"
        bars.append(Bar(name, cut, y, totals[name], segments))
        y += BAR_HEIGHT + ROW_GAP
    height = LEGEND_HEIGHT + len(names) * (BAR_HEIGHT + ROW_GAP) + ROW_GAP
    return Chart(title, bars, items, hidden, height=height)
