"""Each year's AMT room: the most ISO spread that year's other income leaves free of AMT.

The plan's `years` table holds every input of the year's return; with the year's own ISO spread
set to zero and the plan's deduction kept, the exact crossover (`compute_crossover`, a search
over whole dollars of spread with the exact Form 6251 at each probe) is the room the chart sets
against the spread exercised. It needs the filing status (scenario.parquet); without it, or if
the engine refuses a row, there is no room to draw and the chart says what it draws instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from planner.errors import InputError
from planner.household_taxes import compute_crossover
from planner.households import HOUSEHOLD_COLUMNS
from planner.limits import MAX_SHARES
from planner.report.common import inflation


def amt_room(
    years: pd.DataFrame, filing_status: Any, meta: dict[str, str]
) -> dict[str, list[float | None]] | None:
    """{"federal": room per year, "california": the room that keeps California's AMT at zero
    too (None with no California year)}, or None when it cannot be computed."""
    if not isinstance(filing_status, str) or not filing_status or years.empty:
        return None
    names = [c.name for c in HOUSEHOLD_COLUMNS if c.name in years.columns]
    df = years[["year", *names]].copy().reset_index(drop=True)
    df["id"] = [str(int(y)) for y in df["year"]]
    df["filing_status"] = filing_status
    df["iso_spread"] = 0.0
    if "itemized" in years:
        df["itemize"] = years["itemized"].to_numpy()
    # One share of $1 of spread: the crossover in shares is the room in dollars.
    df["strike"], df["fmv"], df["shares"] = 0.0, 1.0, int(MAX_SHARES)
    resident = None
    if "state" in years:
        resident = (years["state"].fillna("") == "ca").to_numpy()
        df["state"] = np.where(resident, "ca", None)
        if not resident.any():
            df = df.drop(columns=["state"])
            resident = None
    try:
        r = compute_crossover(df, inflation(meta))
    except (InputError, ValueError, KeyError):
        return None
    column = "federal_shares" if "federal_shares" in r else "shares"
    federal = [float(x) for x in r[column]]
    california = None
    if resident is not None:
        california = [
            float(x) if flag else None for x, flag in zip(r["shares"], resident, strict=True)
        ]
    return {"federal": federal, "california": california}
