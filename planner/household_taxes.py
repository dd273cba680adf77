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
from models.forms import FORM_LINES, VECTOR, Household
from models.forms_ca import CA_FORM_LINES
from models.law import STATUSES, CaParams, LawTable, ca_params_for, params_for
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
# With a `state` column: the federal total, then California's Form 540, Schedule P and FTB 3510
# lines (zeros for a row with no state), and `total_tax` is both.
STATE_OUTPUT_COLUMNS = (
    "federal_total_tax", "state", "ca_agi", "ca_deduction", "ca_taxable_income",
    "ca_regular_tax", "ca_exemption_credits", "ca_amti", "ca_amt_exemption", "ca_tmt", "ca_amt",
    "ca_mhst", "ca_credit_allowed", "ca_credit_generated", "ca_credit_carryforward_out",
    "ca_total_tax", "ca_itemized",
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
    jurisdiction: str = "federal",
) -> tuple[LawTable, dict[int, bool]]:
    """The law of every year of the rows (federal), or of the California residents' rows."""
    years_of = table.years if jurisdiction == "federal" else table.years[table.resident]
    laws = {}
    for year in sorted({int(y) for y in np.unique(years_of)}):
        try:
            laws.update(law_for_years([year], inflation, allow_projection, jurisdiction))
        except LawYearError as exc:
            raise LawYearError(f"{row_of_year(path, df, table.years, year)}: {exc}") from None
    view = params_for if jurisdiction == "federal" else ca_params_for
    return LawTable(laws, view), {y: law.projected for y, law in laws.items()}


def _ca_params(ca_law: LawTable, table: HouseholdTable, rows: slice) -> CaParams:
    """California's law of each row (arrays); a row with no state gathers any cell,
    which nothing reads (the engine takes the residents' rows only)."""
    years = np.where(table.resident[rows], table.years[rows], ca_law.years[0])
    return ca_law.gather(ca_law.cell_index(years, table.statuses[rows]))


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
    lines: bool = False,
) -> pd.DataFrame:
    """The exact tax of every household-year row of `df` (see `TAX_OUTPUT_COLUMNS`, and
    `STATE_OUTPUT_COLUMNS` when `df` has a `state` column; with `lines`, also the form lines of
    `models.forms.FORM_LINES` and, with a state, `models.forms_ca.CA_FORM_LINES` that those do
    not hold already). A year is projected when either jurisdiction's law for it is."""
    table, _ = parse_households(source, df)
    law, projected = _law_table(source, df, table, inflation, allow_projection)
    index = law.cell_index(table.years, table.statuses)
    state = "state" in df.columns
    ca_law, ca_projected = None, {}
    if table.resident.any():
        ca_law, ca_projected = _law_table(source, df, table, inflation, allow_projection, "ca")
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(table), CHUNK_ROWS):
        rows = slice(start, min(start + CHUNK_ROWS, len(table)))
        resident = table.resident[rows]
        ca = None
        if ca_law is not None and resident.any():
            ca = _ca_params(ca_law, table, rows)
        result = tax_many(
            _household(table, rows), law.gather(index[rows]), table.itemize[rows], ca, resident
        )
        for k, v in result.items():
            parts.setdefault(k, []).append(v)
        if progress is not None:
            progress(rows.stop - rows.start)
    out = _base_frame(table, projected)
    ca_years = [y for y, flag in ca_projected.items() if flag]
    out["projected"] |= table.resident & np.isin(table.years, ca_years)
    for k, chunks in parts.items():
        v = np.concatenate(chunks)
        out[k] = v if k in ("itemized", "ca_itemized") else np.round(v, 2)
    extra = [k for k in FORM_LINES if k not in TAX_OUTPUT_COLUMNS] if lines else []
    if not state:
        return out[list(TAX_OUTPUT_COLUMNS) + extra]
    out["state"] = np.where(table.resident, "ca", "")
    state_lines = [k for k in CA_FORM_LINES if k not in STATE_OUTPUT_COLUMNS] if lines else []
    for k in (*STATE_OUTPUT_COLUMNS, *state_lines):
        if k not in out.columns:
            out[k] = False if k == "ca_itemized" else 0.0
    return out[list(TAX_OUTPUT_COLUMNS) + list(STATE_OUTPUT_COLUMNS) + extra + state_lines]


def line_names(columns: list[str]) -> dict[str, str]:
    """The form and line of each result column that is one (`FORM_LINES`, `CA_FORM_LINES`):
    column -> 'Form 6251 line 2i (incentive stock options)'."""
    known = {**FORM_LINES, **CA_FORM_LINES}
    return {
        c: f"{known[c][0]} line {known[c][1]} ({known[c][2]})".replace(" line  (", " (")
        for c in columns
        if c in known
    }


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
    ca = None
    if table.resident.any():
        ca_law, ca_projected = _law_table(source, df, table, inflation, allow_projection, "ca")
        ca = _ca_params(ca_law, table, slice(None))
        projected = {y: flag or ca_projected.get(y, False) for y, flag in projected.items()}
    r = crossover(
        h, p, grant["strike"], grant["fmv"], grant["shares"], grant["amt_budget"], VECTOR, ca
    )
    out = _base_frame(table, projected)
    federal = {"federal_shares": r["best"]["shares"], "federal_amt": r["best"]["amt"]}
    if ca is not None:
        r = _joint(r, table.resident)
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
    if "state" in df.columns:
        cols.update(federal)
        cols.update(_state_columns(r, table.resident))
    for k, v in cols.items():
        v = np.broadcast_to(np.asarray(v), (len(table),))
        if k.endswith("shares"):
            out[k] = v.astype(np.int64)
        elif v.dtype == bool:
            out[k] = v
        else:
            out[k] = np.round(v.astype(np.float64), 2)
    if "state" in df.columns:
        out["state"] = np.where(table.resident, "ca", "")
        return out[list(CROSSOVER_OUTPUT_COLUMNS) + list(CROSSOVER_STATE_COLUMNS)]
    return out[list(CROSSOVER_OUTPUT_COLUMNS)]


# With a `state` column: for a California resident `shares` is the joint answer (federal plus
# California AMT within amt_budget) and `amt`, `tmt`, `next_amt` the federal figures at it, beside
# each system's own answer and the California AMT the federal answer alone would cost.
CROSSOVER_STATE_COLUMNS = (
    "state", "federal_shares", "federal_amt", "ca_shares", "ca_regular_tax", "ca_amt",
    "next_ca_amt", "ca_amt_at_federal",
)  # fmt: skip


def _joint(r: dict, resident: np.ndarray) -> dict:
    """The crossover result with a resident's `best`, `next` and `all_exercisable` the joint
    answer's (`models.crossover`), and a non-resident's left as they are."""
    c = r["california"]
    out = dict(r)
    for key in ("best", "next"):
        out[key] = {k: np.where(resident, c[key][k], v) for k, v in r[key].items()}
    out["all_exercisable"] = np.where(resident, c["all_exercisable"], r["all_exercisable"])
    return out


def _state_columns(r: dict, resident: np.ndarray) -> dict[str, np.ndarray]:
    """The California columns; zeros for a row with no state."""
    if "california" not in r:
        return dict.fromkeys(CROSSOVER_STATE_COLUMNS[3:], np.zeros(len(resident)))
    c = r["california"]
    return {
        "ca_shares": np.where(resident, c["ca_only_shares"], 0.0),
        "ca_regular_tax": np.where(resident, c["regular_tax"], 0.0),
        "ca_amt": np.where(resident, c["best"]["ca_amt"], 0.0),
        "next_ca_amt": np.where(resident, c["next"]["ca_amt"], 0.0),
        "ca_amt_at_federal": np.where(resident, c["ca_amt_at_federal"], 0.0),
    }
