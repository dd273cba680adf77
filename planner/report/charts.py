"""Static SVG charts, written as text: no plotting library, no script, nothing to fetch.

A chart is a picture of figures the report's tables also hold (those carry the exact values), so
its labels are compact, in one format per chart (`formats.money_format`: $581.0k beside
$582.6k). Each is sized in its own units (a viewBox about as wide as it is shown on a laptop),
with 12-13 unit text, so that it reads at 80% zoom and prints; every bar and point has a tooltip
(`<title>`) with its figure. Lines that lie on each other stay visible: each line has its own dash
and marker (`LINE_STYLES`), drawn over the ones before. The output is well-formed XML.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from planner.report.formats import less_first, money_format

# Series colours; red is kept for the cash floor alone (FLOOR), the same on every chart.
PALETTE = ("#2b6cb0", "#dd6b20", "#2f855a", "#805ad5", "#0f766e", "#975a16", "#b83280", "#4a5568")
FLOOR = "#c53030"
GREY = "#a0aec0"
INK = "#1a202c"
MUTED = "#4a5568"
GRID = "#e2e8f0"
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'
# The n-th line of a chart: its dash pattern and marker, so that two lines on the same figures
# show as one solid and one dashed line, a circle inside a square.
LINE_STYLES = (("", "circle"), ("7 4", "square"), ("2 3", "triangle"), ("10 3 2 3", "diamond"))
REFERENCE_DASH = "4 3"


@dataclass(frozen=True)
class Series:
    """One series of a column chart: "bar", "line", or "reference" (a constant dashed line
    across the plot, such as the cash floor)."""

    name: str
    values: Sequence[float | None]
    color: str
    style: str = "bar"


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


def _tick_format(ticks: Sequence[float]) -> Callable[[float], str]:
    return money_format(ticks, ticks[1] - ticks[0] if len(ticks) > 1 else 1.0)


def _text_width(text: str, size: float = 13) -> float:
    """A generous estimate of a label's width (no font metrics offline)."""
    return len(text) * size * 0.6


def _svg(title: str, width: float, height: float, parts: Sequence[str]) -> str:
    return (
        f'<svg viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}" '
        f'role="img" aria-label="{_q(title)}" class="chart" {FONT}><title>{_q(title)}</title>'
        + "".join(parts)
        + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = INK) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="12" text-anchor="{anchor}" fill="{fill}">'
        f"{_q(text)}</text>"
    )


def _grid(
    ticks: Sequence[float], at: Callable[[float], float], span: tuple[float, float], across: bool
) -> list[str]:
    """Grid lines and tick labels: horizontal lines with labels on the left (`across`: a value
    axis going up) or vertical lines with labels below; the zero line in ink."""
    fmt, (a, b) = _tick_format(ticks), span
    parts = []
    for t in ticks:
        p, stroke = at(t), INK if t == 0 else GRID
        x1, y1, x2, y2 = (a, p, b, p) if across else (p, a, p, b)
        parts.append(
            f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}" '
            'stroke-width="1"/>'
        )
        label = (
            _text(a - 6, p + 4, fmt(t), "end", MUTED)
            if across
            else _text(p, b + 16, fmt(t), "middle", MUTED)
        )
        parts.append(label)
    return parts


def _marker(kind: str, x: float, y: float, color: str, tip: str) -> str:
    """A hollow marker (a filled one would hide the one under it)."""
    paint = f'fill="none" stroke="{color}" stroke-width="1.8"'
    tip = f"<title>{_q(tip)}</title>" if tip else ""
    if kind == "circle":
        return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3.5" {paint}>{tip}</circle>'
    r = 5.0 if kind == "square" else 6.0
    points = {
        "square": ((-4, -4), (4, -4), (4, 4), (-4, 4)),
        "triangle": ((0, -r), (r * 0.87, r / 2), (-r * 0.87, r / 2)),
        "diamond": ((0, -r), (r, 0), (0, r), (-r, 0)),
    }[kind]
    path = " ".join(f"{_n(x + dx)},{_n(y + dy)}" for dx, dy in points)
    return f'<polygon points="{path}" {paint}>{tip}</polygon>'


def _line_style(index: int) -> tuple[str, str]:
    return LINE_STYLES[index % len(LINE_STYLES)]


def _legend(
    series: Sequence[Series], x0: float, y0: float, width: float
) -> tuple[list[str], float]:
    """Legend entries laid out in rows from (x0, y0), each drawn as its series is; returns the
    parts and the height used."""
    parts, x, y, k = [], x0, y0, 0
    for s in series:
        w = 30 + _text_width(s.name, 12) + 16
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + 20
        if s.style == "bar":
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="14" height="11" fill="{s.color}"/>'
            )
        else:
            dash, marker = (REFERENCE_DASH, "") if s.style == "reference" else _line_style(k)
            k += s.style == "line"
            parts.append(
                f'<line x1="{_n(x)}" y1="{_n(y - 4)}" x2="{_n(x + 24)}" y2="{_n(y - 4)}" '
                f'stroke="{s.color}" stroke-width="2.5"'
                + (f' stroke-dasharray="{dash}"' if dash else "")
                + "/>"
            )
            if marker:
                parts.append(_marker(marker, x + 12, y - 4, s.color, ""))
        parts.append(_text(x + 28, y, s.name))
        x += w
    return parts, y - y0 + 20


def overlaps(categories: Sequence[str], series: Sequence[Series]) -> str:
    """A caption's sentence naming the lines drawn on each other, and where: figures within
    0.2% of the axis's span (or 50 cents) are one point to the eye, whatever the dashes show."""
    lines = [s for s in series if s.style == "line"]
    values = [v for s in lines for v in s.values if v is not None]
    if len(lines) < 2 or not values:
        return ""
    tolerance = max(0.5, 0.002 * (max(values) - min(values)))
    where: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(categories)):
        pending = [(s.name, v) for s in lines if (v := s.values[i]) is not None]
        while pending:
            first = pending[0][1]
            group = [(n, v) for n, v in pending if abs(v - first) <= tolerance]
            pending = [p for p in pending if p not in group]
            if len(group) > 1:
                where.setdefault(tuple(n for n, _ in group), []).append(i)
    said = [
        f"{'every line' if len(names) == len(lines) else _listed(names)} in {_runs(at, categories)}"
        for names, at in where.items()
    ]
    return f" Lines drawn on each other: {'; '.join(said)}." if said else ""


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _runs(at: Sequence[int], categories: Sequence[str]) -> str:
    """Positions as runs of categories: 2026, 2028*-2029*."""
    runs: list[list[int]] = []
    for i in at:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(
        categories[r[0]] if len(r) == 1 else f"{categories[r[0]]}–{categories[r[-1]]}" for r in runs
    )


def column_chart(title: str, categories: Sequence[str], series: Sequence[Series]) -> str:
    """Columns per category (grouped bars) with lines over them: years along the bottom,
    dollars up the side, a legend on top. None values are left out (a gap, never a zero)."""
    width, height = 560, 300
    values = [v for s in series for v in s.values if v is not None]
    if not categories or not values:
        return empty_chart(title, "no figures to draw", width)
    fmt = money_format(values)
    ticks = nice_ticks(min(values), max(values))
    lo, hi = ticks[0], ticks[-1]
    left = max(56.0, max(_text_width(_tick_format(ticks)(t), 12) for t in ticks) + 14)
    legend, legend_h = _legend(series, left, 18, width - left - 8)
    top, bottom, right = 18 + legend_h + 4, 40.0, 12.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def y(v: float) -> float:
        return top + plot_h * (hi - v) / (hi - lo)

    parts = [*legend, *_grid(ticks, y, (left, width - right), across=True)]
    band = plot_w / len(categories)
    bars = [s for s in series if s.style == "bar"]
    group = band * (0.72 if len(bars) > 1 else 0.56)
    bar_w = group / max(len(bars), 1)
    every = max(1, math.ceil(len(categories) * 44 / plot_w))
    for i, c in enumerate(categories):
        cx = left + band * (i + 0.5)
        if i % every == 0:
            parts.append(_text(cx, top + plot_h + 18, c, "middle"))
        for j, s in enumerate(bars):
            v = s.values[i]
            if v is None:
                continue
            y0, y1 = sorted((y(0.0), y(v)))
            parts.append(
                f'<rect x="{_n(cx - group / 2 + j * bar_w + 1)}" y="{_n(y0)}" '
                f'width="{_n(max(bar_w - 2, 1))}" height="{_n(max(y1 - y0, 0.5))}" '
                f'fill="{s.color}"><title>{_q(f"{s.name}, {c}: {fmt(v)}")}</title></rect>'
            )
    for s in (s for s in series if s.style == "reference"):
        level = next(v for v in s.values if v is not None)  # a constant: across the whole plot
        parts.append(
            f'<line x1="{_n(left)}" y1="{_n(y(level))}" x2="{_n(width - right)}" '
            f'y2="{_n(y(level))}" stroke="{s.color}" stroke-width="2" '
            f'stroke-dasharray="{REFERENCE_DASH}"><title>{_q(f"{s.name}: {fmt(level)}")}</title>'
            "</line>"
        )
    for k, s in enumerate(s for s in series if s.style == "line"):
        dash, marker = _line_style(k)
        runs: list[list[str]] = [[]]
        for i, v in enumerate(s.values):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(f"{_n(left + band * (i + 0.5))},{_n(y(v))}")
        for r in (r for r in runs if len(r) > 1):
            parts.append(
                f'<polyline points="{" ".join(r)}" fill="none" stroke="{s.color}" '
                'stroke-width="2.5"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>"
            )
        for i, v in enumerate(s.values):
            if v is not None:
                tip = f"{s.name}, {categories[i]}: {fmt(v)}"
                parts.append(_marker(marker, left + band * (i + 0.5), y(v), s.color, tip))
    return _svg(title, width, height, parts)


def difference_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    colors: Sequence[str],
    value_head: str,
) -> str:
    """One row per label: its figure written out, then a bar of the figure less the first's
    (the reference). The bars start at the reference, not at $0, so that $1,575 between two
    wealths of $581k shows as plainly as $84k does; the reference's row says it is one."""
    width = 560
    diffs = less_first(values)
    rows = [
        (lab, v, col, d)
        for lab, v, col, d in zip(labels, values, colors, diffs, strict=True)
        if v is not None
    ]
    if not rows:
        return empty_chart(title, "no figures to draw", width)
    shown = money_format([v for _, v, _, _ in rows])
    found = [d for _, _, _, d in rows if d is not None]
    signed = money_format(found)

    def said(d: float | None) -> str:
        return "the reference" if d is None else ("+" if d > 0 else "") + signed(d)

    label_w = min(max(_text_width(lab, 12) for lab, _, _, _ in rows) + 10, width * 0.34)
    value_w = max(_text_width(shown(v), 12) for _, v, _, _ in rows) + 14
    diff_w = max(_text_width(said(d), 12) for _, _, _, d in rows) + 14
    x0, x1 = label_w + value_w + 10, width - diff_w
    ticks = nice_ticks(
        min(found, default=0.0), max(found, default=0.0), max(2, int((x1 - x0) // 64))
    )
    lo, hi = ticks[0], ticks[-1]

    def x(v: float) -> float:
        return x0 + (x1 - x0) * (v - lo) / (hi - lo)

    row, top = 30.0, 26.0
    bottom = top + row * len(rows)
    parts = [
        _text(label_w + value_w, 14, value_head, "end", MUTED),
        _text(x0, 14, f"vs {rows[0][0]}", "start", MUTED),
        *_grid(ticks, x, (top, bottom + 4), across=False),
    ]
    for i, (lab, v, col, d) in enumerate(rows):
        mid = top + row * i + row / 2 + 4
        parts.append(_text(label_w, mid, lab, "end"))
        parts.append(_text(label_w + value_w, mid, shown(v), "end"))
        if d is not None:
            a, b = sorted((x(0.0), x(d)))
            parts.append(
                f'<rect x="{_n(a)}" y="{_n(top + row * i + 5)}" width="{_n(max(b - a, 1.0))}" '
                f'height="{_n(row - 10)}" fill="{col}"><title>{_q(f"{lab}: {said(d)}")}</title>'
                "</rect>"
            )
        else:
            parts.append(
                f'<rect x="{_n(x(0.0) - 1.5)}" y="{_n(top + row * i + 5)}" width="3" '
                f'height="{_n(row - 10)}" fill="{col}"/>'
            )
        parts.append(_text(x1 + 8, mid, said(d), fill=INK if d is not None else MUTED))
    return _svg(title, width, bottom + 26, parts)


def empty_chart(title: str, message: str, width: int = 560) -> str:
    """A chart with nothing to draw says so, rather than showing empty axes."""
    return _svg(title, width, 60, [_text(width / 2, 34, message, "middle", MUTED)])
