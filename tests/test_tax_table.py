"""The Tax Table method (midpoint of the row, rounded half up) against a printed IRS Tax Table.

The rows below are read from the 2015 Instructions for Form 1040, Tax Table (page 77, with the
"Mr. and Mrs. Brown" example: taxable income $25,300 married filing jointly -> $2,876). Applying
2015's rate schedules to isoplan's table rule must reproduce them to the dollar; the 2024-2026 law
then only changes the brackets. Example arithmetic, single 25,200-25,250: midpoint 25,225;
10% x 9,225 + 15% x (25,225 - 9,225) = 922.50 + 2,400 = 3,322.50 -> 3,323 (half rounds up).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from models.forms import SCALAR, tax_on_ordinary
from models.law import YearLaw, params_for

RATES_2015 = (0.10, 0.15, 0.25, 0.28, 0.33, 0.35, 0.396)
EDGES_2015 = {  # Rev. Proc. 2014-61 §3.01, Tables 1-3
    "single": (9225, 37450, 90750, 189300, 411500, 413200),
    "mfj": (18450, 74900, 151200, 230450, 411500, 464850),
    "hoh": (13150, 50200, 129600, 209850, 411500, 439000),
}
# (row start, single, married filing jointly, head of household) from the printed table.
ROWS = [
    (0, 0, 0, 0), (5, 1, 1, 1), (15, 2, 2, 2), (25, 4, 4, 4), (50, 6, 6, 6), (75, 9, 9, 9),
    (100, 11, 11, 11), (125, 14, 14, 14), (1000, 101, 101, 101), (1025, 104, 104, 104),
    (2000, 201, 201, 201), (2025, 204, 204, 204),
    (25200, 3323, 2861, 3126), (25250, 3330, 2869, 3134), (25300, 3338, 2876, 3141),
    (25350, 3345, 2884, 3149),
]  # fmt: skip


@pytest.mark.parametrize(("start", "single", "mfj", "hoh"), ROWS)
def test_2015_tax_table_rows(
    laws: dict[int, YearLaw], start: int, single: int, mfj: int, hoh: int
) -> None:
    for status, want in (("single", single), ("mfj", mfj), ("hoh", hoh)):
        p = replace(
            params_for(laws[2024], status), ord_rates=RATES_2015, ord_edges=EDGES_2015[status]
        )
        # Any taxable income inside the row gives the row's tax.
        for income in (start, start + 4.99 if start < 25 else start + 24.99):
            assert tax_on_ordinary(float(income), p, SCALAR) == want, (status, income)
