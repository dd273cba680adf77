"""How a report shows a figure: one function per kind, shared by the page and its charts.

The page shows each figure rounded as its kind says, and the browser test reads the digits back
against the raw value it carries (`data-value`): the rounding is Python's own `format` (round
half to even), as the console's tables print the same figures, so the two never differ.
"""

from __future__ import annotations

import datetime as _dt
import math
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


def compact(x: float) -> str:
    """Money in a few characters, for a chart's axis and labels ($807.6k, $1.23M)."""
    sign, a = ("-" if x < 0 else ""), abs(x)
    if a < 999.5:
        return f"{sign}${a:,.0f}"
    if a < 9_995:
        return f"{sign}${_trim(f'{a / 1e3:.2f}')}k"
    if a < 999_950:
        return f"{sign}${_trim(f'{a / 1e3:.1f}')}k"
    return f"{sign}${_trim(f'{a / 1e6:.2f}')}M"


def _trim(digits: str) -> str:
    """2.50 -> 2.5, 200.0 -> 200."""
    return digits.rstrip("0").rstrip(".") if "." in digits else digits
