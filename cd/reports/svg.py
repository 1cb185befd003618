"""Bar charts as inline SVG: no script, no fonts or files to fetch, so a page renders anywhere (a
release asset opened offline, an Actions artifact). Labels are text nodes, escaped, never markup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5")
MIN_WIDTH, BAR_AREA_HEIGHT, LABEL_HEIGHT, LEFT, TOP, RIGHT = 720, 220, 110, 72, 28, 140
GROUP_MIN_WIDTH = 34


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


@dataclass(frozen=True)
class BarChart:
    title: str
    labels: Sequence[str]
    series: Sequence[Series]
    y_label: str = ""
    highlight: Sequence[bool] = ()  # per label: drawn with a red band (a failing slice, a drifted bin)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def bar_chart(chart: BarChart) -> str:
    """Grouped vertical bars, one group per label, one bar per series, with a legend."""
    groups = max(1, len(chart.labels))
    values = [v for s in chart.series for v in s.values] or [0.0]
    top = max(max(values), 1e-12) * 1.1
    low = min(0.0, min(values))
    span = top - low
    width = max(MIN_WIDTH, LEFT + RIGHT + groups * GROUP_MIN_WIDTH)  # room for every label, rotated
    plot_w = width - LEFT - RIGHT
    group_w = plot_w / groups
    bar_w = max(1.0, group_w * 0.8 / max(1, len(chart.series)))
    height = TOP + BAR_AREA_HEIGHT + LABEL_HEIGHT + 24

    def y(v: float) -> float:
        return TOP + BAR_AREA_HEIGHT * (1 - (v - low) / span)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}"><title>{escape(chart.title)}</title>',
        f'<text x="{LEFT}" y="18" class="chart-title">{escape(chart.title)}</text>',
    ]
    for i, flagged in enumerate(chart.highlight):
        if flagged:
            parts.append(
                f'<rect x="{LEFT + i * group_w:.1f}" y="{TOP}" width="{group_w:.1f}" '
                f'height="{BAR_AREA_HEIGHT}" fill="#fed7d7" />'
            )
    for tick in range(5):
        v = low + span * tick / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w:.1f}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e2e8f0" />'
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" class="tick">{_fmt(v)}</text>'
        )
    for s_index, series in enumerate(chart.series):
        color = PALETTE[s_index % len(PALETTE)]
        for i, v in enumerate(series.values):
            x = LEFT + i * group_w + group_w * 0.1 + s_index * bar_w
            y0, y1 = sorted((y(0.0), y(v)))
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y0:.1f}" width="{bar_w:.1f}" height="{max(0.5, y1 - y0):.1f}" '
                f'fill="{color}"><title>{escape(series.name)} {escape(str(chart.labels[i]))}: {_fmt(v)}</title></rect>'
            )
    for i, label in enumerate(chart.labels):
        x = LEFT + (i + 0.5) * group_w
        ly = TOP + BAR_AREA_HEIGHT + 12
        parts.append(
            f'<text class="label" x="{x:.1f}" y="{ly}" transform="rotate(35 {x:.1f} {ly})">{escape(str(label)[:40])}</text>'
        )
    legend_y = height - 8
    for s_index, series in enumerate(chart.series):
        x = LEFT + s_index * 180
        parts.append(
            f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{PALETTE[s_index % len(PALETTE)]}" />'
            f'<text x="{x + 18}" y="{legend_y}" class="legend">{escape(series.name)}</text>'
        )
    if chart.y_label:
        parts.append(
            f'<text x="14" y="{TOP + BAR_AREA_HEIGHT / 2:.0f}" transform="rotate(-90 14 {TOP + BAR_AREA_HEIGHT / 2:.0f})" '
            f'text-anchor="middle" class="tick">{escape(chart.y_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
