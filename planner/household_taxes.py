"""The exact tax and AMT crossover of household-year tables (`isoplan tax`, `isoplan crossover`).

`compute_tax` and `compute_crossover` take a pandas DataFrame with the columns of
`planner.households` (as read from a file, or built in code) and return one result row per input
row, in input order. Both raise `InputError` with a one-line message for bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from models.crossover import crossover
from models.engine import tax_many
from models.forms import VECTOR, Household
from models.law import STATUSES, LawTable
from planner.errors import InputError, LawYearError
from planner.households import (
    GRANT_COLUMNS,
    Column,
    HouseholdTable,
    parse_households,
    row_of_year,
)
from planner.law import law_for_years

TAX_OUTPUT_COLUMNS = (
    "id", "year", "filing_status", "agi", "deduction", "taxable_income", "regular_tax", "amti",
    "amt_exemption", "tmt", "amt", "niit", "additional_medicare_tax", "mtc_allowed",
    "mtc_generated", "mtc_carryforward_out", "st_loss_carryover_out", "lt_loss_carryover_out",
    "amt_st_loss_carryover_out", "amt_lt_loss_carryover_out", "total_tax", "itemized",
    "projected",
)  # fmt: skip
# The capital losses carried to the next year (Capital Loss Carryover Worksheet lines 8 and 13,
# regular and AMT): next year's st_loss_carryover, lt_loss_carryover, amt_st_loss_carryover and
# amt_lt_loss_carryover.
LOSS_CARRYOVER_OUT = (
    "st_loss_carryover_out", "lt_loss_carryover_out", "amt_st_loss_carryover_out",
    "amt_lt_loss_carryover_out",
)  # fmt: skip

CHUNK_ROWS = 250_000


def _law_table(
    path: Path,
    df: pd.DataFrame,
    table: HouseholdTable,
    inflation: float | None,
    allow_projection: bool,
) -> tuple[LawTable, dict[int, bool]]:
    years = sorted({int(y) for y in np.unique(table.years)})
    laws = {}
    for year in years:
        try:
            laws.update(law_for_years([year], inflation, allow_projection))
        except LawYearError as exc:
            raise LawYearError(f"{row_of_year(path, df, table.years, year)}: {exc}") from None
    return LawTable(laws), {y: law.projected for y, law in laws.items()}


def _household(table: HouseholdTable, rows: slice | np.ndarray) -> Household:
    return Household(**{k: v[rows] for k, v in table.money.items()}, itemize=table.itemize[rows])


def _base_frame(table: HouseholdTable, projected: dict[int, bool]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": table.ids,
            "year": table.years,
            "filing_status": np.asarray(STATUSES, dtype=object)[table.statuses],
            "projected": np.isin(table.years, [y for y, flag in projected.items() if flag]),
        }
    )


def compute_tax(
    df: pd.DataFrame,
    inflation: float | None = None,
    allow_projection: bool = True,
    source: Path = Path("<input>"),
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """The exact federal tax of every household-year row of `df` (see `TAX_OUTPUT_COLUMNS`)."""
    table, _ = parse_households(source, df)
    law, projected = _law_table(source, df, table, inflation, allow_projection)
    index = law.cell_index(table.years, table.statuses)
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(table), CHUNK_ROWS):
        rows = slice(start, min(start + CHUNK_ROWS, len(table)))
        result = tax_many(_household(table, rows), law.gather(index[rows]), table.itemize[rows])
        for k, v in result.items():
            parts.setdefault(k, []).append(v)
        if progress is not None:
            progress(rows.stop - rows.start)
    out = _base_frame(table, projected)
    for k, chunks in parts.items():
        v = np.concatenate(chunks)
        out[k] = v if k == "itemized" else np.round(v, 2)
    return out[list(TAX_OUTPUT_COLUMNS)]


CROSSOVER_OUTPUT_COLUMNS = (
    "id", "year", "filing_status", "shares", "spread", "regular_tax", "tmt", "amt",
    "next_shares", "next_amt", "all_exercisable", "keep_credit_shares", "keep_credit_amt",
    "rule_of_thumb_shares", "rule_of_thumb_amt", "all_shares_amt", "spread_per_share", "gap",
    "tmt_before", "amt_before", "mtc_allowed_before", "amt_budget", "itemized", "projected",
)  # fmt: skip


def compute_crossover(
    df: pd.DataFrame,
    inflation: float | None = None,
    allow_projection: bool = True,
    source: Path = Path("<input>"),
    grant_columns: tuple[Column, ...] = GRANT_COLUMNS,
) -> pd.DataFrame:
    """The exact AMT crossover of every row: household-year columns plus strike, fmv, shares and
    (optionally) amt_budget. Where itemize is empty, the deduction is the one with the lower total
    tax before the exercise, and it is kept for the search. `grant_columns` may bound those
    columns otherwise (a book's probe counts cents of spread as shares)."""
    for name in ("strike", "fmv", "shares"):
        if name not in df.columns:
            raise InputError(f"{source}: missing column '{name}' (the grant to exercise)")
    table, grant = parse_households(source, df, grant_columns)
    law, projected = _law_table(source, df, table, inflation, allow_projection)
    p = law.gather(law.cell_index(table.years, table.statuses))
    h = _household(table, slice(None))
    chosen = tax_many(h, p, table.itemize)["itemized"].astype(np.float64)
    h.itemize = chosen
    r = crossover(h, p, grant["strike"], grant["fmv"], grant["shares"], grant["amt_budget"], VECTOR)
    out = _base_frame(table, projected)
    cols = {
        "shares": r["best"]["shares"], "spread": r["best"]["spread"],
        "regular_tax": r["regular_tax"], "tmt": r["best"]["tmt"], "amt": r["best"]["amt"],
        "next_shares": r["next"]["shares"], "next_amt": r["next"]["amt"],
        "all_exercisable": r["all_exercisable"],
        "keep_credit_shares": r["keep_credit"]["shares"],
        "keep_credit_amt": r["keep_credit"]["amt"],
        "rule_of_thumb_shares": r["rule_of_thumb"]["shares"],
        "rule_of_thumb_amt": r["rule_of_thumb"]["amt"],
        "all_shares_amt": r["all"]["amt"],
        "spread_per_share": r["spread_per_share"], "gap": r["gap"],
        "tmt_before": r["tmt_before"], "amt_before": r["amt_before"],
        "mtc_allowed_before": r["credit_before"],
        "amt_budget": grant["amt_budget"], "itemized": chosen > 0.5,
    }  # fmt: skip
    for k, v in cols.items():
        v = np.broadcast_to(np.asarray(v), (len(table),))
        if k.endswith("shares"):
            out[k] = v.astype(np.int64)
        elif v.dtype == bool:
            out[k] = v
        else:
            out[k] = np.round(v.astype(np.float64), 2)
    return out[list(CROSSOVER_OUTPUT_COLUMNS)]
