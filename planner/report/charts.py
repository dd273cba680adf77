"""Static SVG charts, written as text: no plotting library, no script, nothing to fetch.

A chart is a picture of figures the report's tables also hold (those carry the exact values), so
its labels are compact ($807.6k). Each is sized in its own units (a viewBox about as wide as it is
shown on a laptop), with 13-unit text, so that it reads at 80% zoom and prints; every bar and
point has a tooltip (`<title>`) with its figure. The output is well-formed XML.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from planner.report.formats import compact

PALETTE = ("#2b6cb0", "#dd6b20", "#2f855a", "#805ad5", "#c53030", "#0f766e", "#975a16", "#4a5568")
GREY = "#a0aec0"
INK = "#1a202c"
MUTED = "#4a5568"
GRID = "#e2e8f0"
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


@dataclass(frozen=True)
class Series:
    """One series of a column chart: bars, a line, or a dashed line (a reference)."""

    name: str
    values: Sequence[float | None]
    color: str
    style: str = "bar"  # "bar", "line" or "dashed"


def _q(text: str) -> str:
    return escape(text, quote=True)


def _n(x: float) -> str:
    """A coordinate, short."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round axis ticks (1, 2, 2.5 or 5 times a power of ten) covering lo..hi, zero included."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 0:
        hi = lo + 1.0
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks, t = [], first
    while t < hi + step * 0.999:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _text_width(text: str, size: float = 13) -> float:
    """A generous estimate of a label's width (no font metrics offline)."""
    return len(text) * size * 0.6


def _legend(
    items: Sequence[tuple[str, str, str]], x0: float, y0: float, width: float
) -> tuple[list[str], float]:
    """Legend entries (name, color, style) laid out in rows from (x0, y0); returns the parts and
    the height used."""
    parts, x, y = [], x0, y0
    for name, color, style in items:
        w = 26 + _text_width(name, 12) + 16
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + 20
        if style == "bar":
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="14" height="11" fill="{color}"/>'
            )
        else:
            dash = ' stroke-dasharray="6 4"' if style == "dashed" else ""
            parts.append(
                f'<line x1="{_n(x)}" y1="{_n(y - 4)}" x2="{_n(x + 18)}" y2="{_n(y - 4)}" '
                f'stroke="{color}" stroke-width="2.5"{dash}/>'
            )
        parts.append(
            f'<text x="{_n(x + 22)}" y="{_n(y)}" font-size="12" fill="{INK}">{_q(name)}</text>'
        )
        x += w
    return parts, y - y0 + 20


def column_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: Callable[[float], str] = compact,
    width: int = 560,
    height: int = 300,
    y_label: str = "",
) -> str:
    """Columns per category (grouped bars) with lines over them: years along the bottom,
    dollars up the side, a legend on top. None values are left out (a gap, never a zero)."""
    values = [v for s in series for v in s.values if v is not None]
    if not categories or not values:
        return empty_chart(title, "no figures to draw", width)
    ticks = nice_ticks(min(values), max(values))
    lo, hi = ticks[0], ticks[-1]
    left = max(56.0, max(_text_width(fmt(t), 12) for t in ticks) + 14)
    legend, legend_h = _legend(
        [(s.name, s.color, s.style) for s in series], left, 18, width - left - 8
    )
    top, bottom, right = 18 + legend_h + 4, 40.0, 12.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def y(v: float) -> float:
        return top + plot_h * (hi - v) / (hi - lo)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_q(title)}" class="chart" {FONT}>',
        f"<title>{_q(title)}</title>",
        *legend,
    ]
    for t in ticks:
        parts.append(
            f'<line x1="{_n(left)}" y1="{_n(y(t))}" x2="{_n(width - right)}" y2="{_n(y(t))}" '
            f'stroke="{INK if t == 0 else GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_n(left - 6)}" y="{_n(y(t) + 4)}" font-size="12" text-anchor="end" '
            f'fill="{MUTED}">{_q(fmt(t))}</text>'
        )
    if y_label:
        parts.append(
            f'<text x="12" y="{_n(top + plot_h / 2)}" font-size="12" fill="{MUTED}" '
            f'text-anchor="middle" transform="rotate(-90 12 {_n(top + plot_h / 2)})">'
            f"{_q(y_label)}</text>"
        )
    band = plot_w / len(categories)
    bars = [s for s in series if s.style == "bar"]
    group = band * (0.72 if len(bars) > 1 else 0.56)
    bar_w = group / max(len(bars), 1)
    every = max(1, math.ceil(len(categories) * 44 / plot_w))
    for i, c in enumerate(categories):
        cx = left + band * (i + 0.5)
        if i % every == 0:
            parts.append(
                f'<text x="{_n(cx)}" y="{_n(top + plot_h + 18)}" font-size="12" '
                f'text-anchor="middle" fill="{INK}">{_q(c)}</text>'
            )
        for j, s in enumerate(bars):
            v = s.values[i]
            if v is None:
                continue
            x = cx - group / 2 + j * bar_w
            y0, y1 = sorted((y(0.0), y(v)))
            parts.append(
                f'<rect x="{_n(x + 1)}" y="{_n(y0)}" width="{_n(max(bar_w - 2, 1))}" '
                f'height="{_n(max(y1 - y0, 0.5))}" fill="{s.color}">'
                f"<title>{_q(f'{s.name}, {c}: {fmt(v)}')}</title></rect>"
            )
    for s in series:
        if s.style == "bar":
            continue
        dash = ' stroke-dasharray="6 4"' if s.style == "dashed" else ""
        level = {v for v in s.values if v is not None}
        if s.style == "dashed" and len(level) == 1 and None not in s.values:
            v = level.pop()  # a constant reference (a floor): across the whole plot
            parts.append(
                f'<line x1="{_n(left)}" y1="{_n(y(v))}" x2="{_n(width - right)}" y2="{_n(y(v))}" '
                f'stroke="{s.color}" stroke-width="2.5"{dash}><title>{_q(f"{s.name}: {fmt(v)}")}'
                "</title></line>"
            )
            continue
        run: list[str] = []
        runs = [run]
        for i, v in enumerate(s.values):
            if v is None:
                run = []
                runs.append(run)
                continue
            run.append(f"{_n(left + band * (i + 0.5))},{_n(y(v))}")
        for r in runs:
            if len(r) > 1:
                parts.append(
                    f'<polyline points="{" ".join(r)}" fill="none" stroke="{s.color}" '
                    f'stroke-width="2.5"{dash}/>'
                )
        if s.style == "line":
            for i, v in enumerate(s.values):
                if v is not None:
                    parts.append(
                        f'<circle cx="{_n(left + band * (i + 0.5))}" cy="{_n(y(v))}" r="3.5" '
                        f'fill="{s.color}"><title>{_q(f"{s.name}, {categories[i]}: {fmt(v)}")}'
                        "</title></circle>"
                    )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    colors: Sequence[str],
    *,
    fmt: Callable[[float], str] = compact,
    notes: Sequence[str] | None = None,
    width: int = 560,
) -> str:
    """Horizontal bars, one per label (the plan and the baselines), each with its figure (and an
    optional note, such as the difference to the first) at its end."""
    shown = [
        (lab, v, col, (notes or [""] * len(labels))[i])
        for i, (lab, v, col) in enumerate(zip(labels, values, colors, strict=True))
        if v is not None
    ]
    if not shown:
        return empty_chart(title, "no figures to draw", width)
    left = min(max(_text_width(lab, 12) for lab, _, _, _ in shown) + 14, width * 0.42)
    right = max(_text_width(f"{fmt(v)} {note}", 12) for _, v, _, note in shown) + 10
    lo_v, hi_v = min(v for _, v, _, _ in shown), max(v for _, v, _, _ in shown)
    ticks = nice_ticks(lo_v, hi_v, max(2, int((width - left - right) // 64)))
    lo, hi = ticks[0], ticks[-1]
    row, top = 30.0, 10.0
    height = int(top + row * len(shown) + 34)
    plot_w = width - left - right

    def x(v: float) -> float:
        return left + plot_w * (v - lo) / (hi - lo)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_q(title)}" class="chart" {FONT}>',
        f"<title>{_q(title)}</title>",
    ]
    axis_y = top + row * len(shown) + 4
    for t in ticks:
        parts.append(
            f'<line x1="{_n(x(t))}" y1="{_n(top)}" x2="{_n(x(t))}" y2="{_n(axis_y)}" '
            f'stroke="{INK if t == 0 else GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_n(x(t))}" y="{_n(axis_y + 16)}" font-size="12" text-anchor="middle" '
            f'fill="{MUTED}">{_q(fmt(t))}</text>'
        )
    for i, (lab, v, col, note) in enumerate(shown):
        yy = top + row * i
        x0, x1 = sorted((x(0.0), x(v)))
        parts.append(
            f'<text x="{_n(left - 8)}" y="{_n(yy + row / 2 + 4)}" font-size="12" '
            f'text-anchor="end" fill="{INK}">{_q(lab)}</text>'
        )
        parts.append(
            f'<rect x="{_n(x0)}" y="{_n(yy + 5)}" width="{_n(max(x1 - x0, 0.5))}" '
            f'height="{_n(row - 10)}" fill="{col}"><title>{_q(f"{lab}: {fmt(v)}")}</title></rect>'
        )
        parts.append(
            f'<text x="{_n(max(x1, x(0.0)) + 6)}" y="{_n(yy + row / 2 + 4)}" font-size="12" '
            f'fill="{INK}">{_q(fmt(v))}'
            + (f' <tspan fill="{MUTED}">{_q(note)}</tspan>' if note else "")
            + "</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def empty_chart(title: str, message: str, width: int = 560) -> str:
    """A chart with nothing to draw says so, rather than showing empty axes."""
    return (
        f'<svg viewBox="0 0 {width} 60" width="{width}" height="60" role="img" '
        f'aria-label="{_q(title)}" class="chart" {FONT}><title>{_q(title)}</title>'
        f'<text x="{width / 2}" y="34" font-size="13" text-anchor="middle" fill="{MUTED}">'
        f"{_q(message)}</text></svg>"
    )
