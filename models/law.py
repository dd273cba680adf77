"""Tax law of one year as plain numbers, and its per-household view used by the engine.

`YearLaw` is what `planner.law` reads from `data/`: one value per parameter name, per filing status
where the law differs by status. `Params` is the same law seen by one household (scalar fields)
or by many household-years at once (numpy arrays gathered row by row); the engine in
`models.forms` reads only `Params`, so both paths share every line of tax logic.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

STATUSES: tuple[str, ...] = ("single", "mfj", "mfs", "hoh")
STATUS_INDEX: dict[str, int] = {s: i for i, s in enumerate(STATUSES)}

# Parameter names every year must define (dotted names as in data/federal/*.yaml).
PARAMETER_NAMES: tuple[str, ...] = (
    "ordinary.rates",
    "ordinary.brackets",
    "deductions.standard",
    "deductions.additional_aged_blind",
    "capital_gains.rates",
    "capital_gains.zero_rate_max",
    "capital_gains.fifteen_rate_max",
    "capital_gains.loss_limit",
    "amt.rates",
    "amt.rate_breakpoint",
    "amt.exemption",
    "amt.phaseout_start",
    "amt.phaseout_rate",
    "niit.rate",
    "niit.threshold",
    "additional_medicare.rate",
    "additional_medicare.threshold",
    "payroll.social_security_rate",
    "payroll.medicare_rate",
    "payroll.social_security_wage_base",
    "salt.cap",
    "salt.phasedown_threshold",
    "salt.phasedown_rate",
    "salt.floor",
    "itemized.limitation_rate",
    "charitable.agi_limit",
    "charitable.floor_rate",
    "charitable.nonitemizer_max",
    "tax_table.max_income",
)


@dataclass(frozen=True)
class YearLaw:
    """Every parameter of one tax year. `values[name]` is a number, a list (rates), or a
    mapping status -> number / list of bracket edges. `projected` marks a year made by the
    projection rules rather than read from a published source."""

    year: int
    values: dict[str, Any]
    projected: bool = False

    def get(self, name: str, status: str) -> Any:
        v = self.values[name]
        return v[status] if isinstance(v, dict) else v


@dataclass
class Params:
    """The law one household-year faces (floats), or many (arrays of equal length).

    Bracket-like parameters are tuples with one entry per band, each a float or an array.
    `mfs` is 1.0 for married filing separately (it switches on the §55(d)(2) add-back).
    """

    ord_rates: tuple
    ord_edges: tuple
    std: Any
    aged_blind: Any
    cg_rates: tuple
    cg0: Any
    cg15: Any
    loss_limit: Any
    amt_rates: tuple
    amt_breakpoint: Any
    amt_exemption: Any
    amt_phaseout_start: Any
    amt_phaseout_rate: Any
    niit_rate: Any
    niit_threshold: Any
    addl_medicare_rate: Any
    addl_medicare_threshold: Any
    salt_cap: Any
    salt_threshold: Any
    salt_rate: Any
    salt_floor: Any
    itemized_limit_rate: Any
    charity_agi_limit: Any
    charity_floor: Any
    charity_nonitemizer: Any
    table_max: Any
    mfs: Any
    projected: Any


def params_for(law: YearLaw, status: str) -> Params:
    """The scalar `Params` of one filing status in one year."""
    g = law.get
    threshold = g("salt.phasedown_threshold", status)
    return Params(
        ord_rates=tuple(float(r) for r in g("ordinary.rates", status)),
        ord_edges=tuple(float(e) for e in g("ordinary.brackets", status)),
        std=float(g("deductions.standard", status)),
        aged_blind=float(g("deductions.additional_aged_blind", status)),
        cg_rates=tuple(float(r) for r in g("capital_gains.rates", status)),
        cg0=float(g("capital_gains.zero_rate_max", status)),
        cg15=float(g("capital_gains.fifteen_rate_max", status)),
        loss_limit=float(g("capital_gains.loss_limit", status)),
        amt_rates=tuple(float(r) for r in g("amt.rates", status)),
        amt_breakpoint=float(g("amt.rate_breakpoint", status)),
        amt_exemption=float(g("amt.exemption", status)),
        amt_phaseout_start=float(g("amt.phaseout_start", status)),
        amt_phaseout_rate=float(g("amt.phaseout_rate", status)),
        niit_rate=float(g("niit.rate", status)),
        niit_threshold=float(g("niit.threshold", status)),
        addl_medicare_rate=float(g("additional_medicare.rate", status)),
        addl_medicare_threshold=float(g("additional_medicare.threshold", status)),
        salt_cap=float(g("salt.cap", status)),
        salt_threshold=float("inf") if threshold is None else float(threshold),
        salt_rate=float(g("salt.phasedown_rate", status)),
        salt_floor=float(g("salt.floor", status)),
        itemized_limit_rate=float(g("itemized.limitation_rate", status)),
        charity_agi_limit=float(g("charitable.agi_limit", status)),
        charity_floor=float(g("charitable.floor_rate", status)),
        charity_nonitemizer=float(g("charitable.nonitemizer_max", status)),
        table_max=float(g("tax_table.max_income", status)),
        mfs=1.0 if status == "mfs" else 0.0,
        projected=law.projected,
    )


class LawTable:
    """All (year, status) `Params` stacked so a vectorized call gathers each row's law by index."""

    def __init__(self, laws: dict[int, YearLaw]) -> None:
        self.years = np.array(sorted(laws), dtype=np.int64)
        cells = [params_for(laws[y], s) for y in self.years for s in STATUSES]
        self._stacked: dict[str, Any] = {}
        for f in fields(Params):
            column = [getattr(c, f.name) for c in cells]
            if isinstance(column[0], tuple):
                self._stacked[f.name] = tuple(
                    np.array(band, dtype=np.float64) for band in zip(*column, strict=True)
                )
            else:
                self._stacked[f.name] = np.array(column, dtype=np.float64)

    def cell_index(self, years: np.ndarray, statuses: np.ndarray) -> np.ndarray:
        """Row index into the stacked table for arrays of years and status indices.
        Callers must have checked that every year is in the table."""
        year_pos = np.searchsorted(self.years, years)
        return year_pos * len(STATUSES) + statuses

    def gather(self, index: np.ndarray) -> Params:
        """The `Params` of many rows at once, one array element per row."""
        out: dict[str, Any] = {}
        for name, value in self._stacked.items():
            if isinstance(value, tuple):
                out[name] = tuple(band[index] for band in value)
            else:
                out[name] = value[index]
        return Params(**out)
