"""Inline SVG charts for report.html, drawn here (no JavaScript library, no network)."""

from __future__ import annotations

from html import escape

#: Colour of each count in charts and legends (colour-blind-friendly where it matters:
#: failures and rejections are red/orange, success green, neutral grey).
COLORS: dict[str, str] = {
    "rows_valid": "#2e7d32",
    "added": "#2e7d32",
    "planned_add": "#2e7d32",
    "status_set": "#1565c0",
    "planned_status": "#1565c0",
    "deleted": "#6a1b9a",
    "planned_delete": "#6a1b9a",
    "unchanged": "#90a4ae",
    "kept": "#8d6e63",
    "drift": "#00838f",
    "failed": "#c62828",
    "not_started": "#e65100",
    "residual": "#ad1457",
    "rows_rejected": "#ef6c00",
    "rows_duplicate": "#f9a825",
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


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def legend(keys: list[str], labels: dict[str, str]) -> str:
    """An HTML legend (it wraps on narrow screens, unlike SVG text)."""
    items = "".join(
        f'<li><span class="swatch" style="background:{COLORS.get(k, DEFAULT_COLOR)}"></span>'
        f"{escape(labels.get(k, k))}</li>"
        for k in keys
    )
    return f'<ul class="legend">{items}</ul>'


def stacked_bars(
    series: dict[str, dict[str, int]], keys: list[str], labels: dict[str, str], title: str
) -> str:
    """A horizontal stacked bar per entry of ``series`` (name -> {key: count}), segments in
    the order of ``keys``; returns an ``<svg>`` element (or a ``<p>`` when all is zero)."""
    names = list(series)[:MAX_BARS]
    totals = {n: sum(max(int(series[n].get(k, 0)), 0) for k in keys) for n in names}
    biggest = max(totals.values(), default=0)
    if biggest == 0:
        return '<p class="muted">Nothing to chart: every count is zero.</p>'
    bar_area = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = LEGEND_HEIGHT + len(names) * (BAR_HEIGHT + ROW_GAP) + ROW_GAP
    out = [
        f'<svg class="chart" viewBox="0 0 {CHART_WIDTH} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    y = LEGEND_HEIGHT
    for name in names:
        counts = series[name]
        out.append(
            f'<text x="{LABEL_WIDTH - 10}" y="{y + BAR_HEIGHT * 0.7:.1f}" text-anchor="end" '
            f'class="bar-label"><title>{escape(name)}</title>{escape(_short(name))}</text>'
        )
        out.append(
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{bar_area}" height="{BAR_HEIGHT}" '
            f'rx="4" class="track"/>'
        )
        x_pos = float(LABEL_WIDTH)
        for key in keys:
            value = max(int(counts.get(key, 0)), 0)
            if not value:
                continue
            width = bar_area * value / biggest
            color = COLORS.get(key, DEFAULT_COLOR)
            out.append(
                f'<rect x="{x_pos:.2f}" y="{y}" width="{width:.2f}" height="{BAR_HEIGHT}" '
                f'fill="{color}"><title>{escape(name)}: {value:,} '
                f"{escape(labels.get(key, key))}</title></rect>"
            )
            if width >= MIN_LABELLED_WIDTH and len(f"{value:,}") * 7 + 8 < width:
                out.append(
                    f'<text x="{x_pos + width / 2:.2f}" y="{y + BAR_HEIGHT * 0.7:.1f}" '
                    f'text-anchor="middle" class="seg-label">{value:,}</text>'
                )
            x_pos += width
        out.append(
            f'<text x="{LABEL_WIDTH + bar_area + 8}" y="{y + BAR_HEIGHT * 0.7:.1f}" '
            f'class="bar-total">{totals[name]:,}</text>'
        )
        y += BAR_HEIGHT + ROW_GAP
    out.append("</svg>")
    out.append(legend(keys, labels))
    if len(series) > MAX_BARS:
        out.append(
            f'<p class="muted">The {len(series) - MAX_BARS:,} other campaigns are in the '
            f"table below.</p>"
        )
    return "".join(out)
