"""How a report shows a figure: one function per kind, shared by the page and its charts.

The page shows each figure rounded as its kind says, and the browser test reads the digits back
against the raw value it carries (`data-value`): the rounding is Python's own `format` (round
half to even), as the console's tables print the same figures, so the two never differ.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# A cell's kind: how it is shown on the page and which number format it gets in the workbook.
MONEY = "money"  # whole dollars: $72,414
CENTS = "cents"  # dollars and cents: $72,413.50 (form lines, prices per share)
SHARES = "shares"  # whole shares: 5,982
PERCENT = "percent"  # a rate or a probability: 3%, 23.8%
SCI = "sci"  # a solver's gap: 1.5e-05
INTEGER = "integer"  # a count or a year without separators: 2026
SECONDS = "seconds"  # 0.14 s
TEXT = "text"
DATE = "date"
BOOL = "bool"

NUMERIC = frozenset({MONEY, CENTS, SHARES, PERCENT, SCI, INTEGER, SECONDS})
MISSING = "–"  # an en dash: never a $0 for a figure that is not there


def is_missing(value: Any) -> bool:
    """None, NaN, NaT or pandas' NA: a figure the tables do not hold."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT
    except (TypeError, ValueError):  # pandas.NA refuses bool()
        return True


def number(value: Any) -> float | None:
    """The value as a finite float, or None when it is not a number (text, a date, a flag)."""
    if is_missing(value) or isinstance(value, bool | str | _dt.date):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _signed(text: str, negative: bool) -> str:
    return f"-{text}" if negative and any(c in "123456789" for c in text) else text


def show(value: Any, kind: str) -> str:
    """`value` as the page shows it; a missing one is an en dash, never $0."""
    if is_missing(value):
        return "" if kind == TEXT else MISSING
    if kind == DATE:
        return value.isoformat() if isinstance(value, _dt.date) else str(value)[:10]
    if kind == BOOL:
        return "yes" if bool(value) else "no"
    x = number(value)
    if kind == TEXT or x is None:
        return str(value)
    if kind == MONEY:
        return _signed(f"${abs(x):,.0f}", x < 0)
    if kind == CENTS:
        return _signed(f"${abs(x):,.2f}", x < 0)
    if kind == SHARES:
        return _signed(f"{abs(x):,.0f}", x < 0)
    if kind == PERCENT:
        return f"{x * 100:.4g}%"
    if kind == SCI:
        return f"{x:.1e}"
    if kind == INTEGER:
        return f"{x:.0f}"
    if kind == SECONDS:
        return f"{x:.2f} s"
    return f"{x:,.6g}"


def money_format(values: Iterable[float], step: float | None = None) -> Callable[[float], str]:
    """One compact money format for every label of a chart, so that $581.0k stands beside
    $582.6k (never $581k): the unit of its largest figure (whole dollars below $10k, then $k
    with one decimal, then $M with two); an axis's ticks (`step` apart) get the fewest decimals
    that tell them apart, and zero is $0."""
    top = max((abs(v) for v in values), default=0.0)
    div, unit, decimals = (1.0, "", 0) if top < 9_999.5 else (1e3, "k", 1)
    if top >= 999_950:
        div, unit, decimals = 1e6, "M", 2
    if step is not None:
        decimals = next((d for d in range(3) if abs(round(step / div, d) - step / div) < 1e-9), 3)

    def fmt(x: float) -> str:
        if step is not None and x == 0:
            return "$0"
        return _signed(f"${abs(x) / div:,.{decimals}f}{unit}", x < 0)

    return fmt


def less_first(values: Sequence[float | None]) -> list[float | None]:
    """Each figure less the first (None for the first itself, the reference, and for a missing
    one): how a table's "vs" column and a chart's difference bars read."""
    first = values[0] if values else None
    return [
        None if i == 0 or v is None or first is None else v - first for i, v in enumerate(values)
    ]
