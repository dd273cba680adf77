"""Tax law of one year as plain numbers, and its per-household view used by the engine.

`YearLaw` is what `planner.law` reads from `data/`: one value per parameter name, per filing status
where the law differs by status. `Params` is the same law seen by one household (scalar fields)
or by many household-years at once (numpy arrays gathered row by row); the engine in
`models.forms` reads only `Params`, so both paths share every line of tax logic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date
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
    "capital_gains.long_term_holding_years",
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
    "senior_deduction.amount",
    "senior_deduction.phaseout_threshold",
    "senior_deduction.phaseout_rate",
    "tax_table.max_income",
    "tax_table.first_row_edges",
    "tax_table.narrow_row_width",
    "tax_table.wide_rows_from",
    "tax_table.wide_row_width",
    "iso.annual_limit",
    "iso.post_termination_months",
    "iso.max_term_years",
    "iso.holding_years_from_grant",
    "iso.holding_years_from_exercise",
    "filing.due_month",
    "filing.due_day",
)


@dataclass(frozen=True)
class YearLaw:
    """Every parameter of one tax year. `values[name]` is a number, a list (rates), or a
    mapping status -> number / list of bracket edges. `projected` marks a year made by the
    projection rules rather than read from a published source."""

    year: int
    values: dict[str, Any]
    projected: bool = False
    # The same year's law of each state isoplan computes ("ca": California's), attached by
    # `planner.law.law_for_years` so that one year's law travels as one object.
    states: dict[str, YearLaw] = dataclasses.field(default_factory=dict, compare=False)

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
    senior_amount: Any
    senior_threshold: Any
    senior_rate: Any
    table_max: Any
    table_first_rows: tuple
    table_narrow: Any
    table_wide_from: Any
    table_wide: Any
    mfs: Any
    projected: Any


# Which data parameter each `Params` field reads.
_FIELD_PARAMETER: dict[str, str] = {
    "ord_rates": "ordinary.rates",
    "ord_edges": "ordinary.brackets",
    "std": "deductions.standard",
    "aged_blind": "deductions.additional_aged_blind",
    "cg_rates": "capital_gains.rates",
    "cg0": "capital_gains.zero_rate_max",
    "cg15": "capital_gains.fifteen_rate_max",
    "loss_limit": "capital_gains.loss_limit",
    "amt_rates": "amt.rates",
    "amt_breakpoint": "amt.rate_breakpoint",
    "amt_exemption": "amt.exemption",
    "amt_phaseout_start": "amt.phaseout_start",
    "amt_phaseout_rate": "amt.phaseout_rate",
    "niit_rate": "niit.rate",
    "niit_threshold": "niit.threshold",
    "addl_medicare_rate": "additional_medicare.rate",
    "addl_medicare_threshold": "additional_medicare.threshold",
    "salt_cap": "salt.cap",
    "salt_threshold": "salt.phasedown_threshold",
    "salt_rate": "salt.phasedown_rate",
    "salt_floor": "salt.floor",
    "itemized_limit_rate": "itemized.limitation_rate",
    "charity_agi_limit": "charitable.agi_limit",
    "charity_floor": "charitable.floor_rate",
    "charity_nonitemizer": "charitable.nonitemizer_max",
    "senior_amount": "senior_deduction.amount",
    "senior_threshold": "senior_deduction.phaseout_threshold",
    "senior_rate": "senior_deduction.phaseout_rate",
    "table_max": "tax_table.max_income",
    "table_first_rows": "tax_table.first_row_edges",
    "table_narrow": "tax_table.narrow_row_width",
    "table_wide_from": "tax_table.wide_rows_from",
    "table_wide": "tax_table.wide_row_width",
}


def params_for(law: YearLaw, status: str) -> Params:
    """The scalar `Params` of one filing status in one year. A missing threshold (null in the
    data, e.g. no SALT phase-down) is infinite: nothing is ever above it."""
    values: dict[str, Any] = {}
    for field, name in _FIELD_PARAMETER.items():
        v = law.get(name, status)
        if isinstance(v, list):
            values[field] = tuple(float(x) for x in v)
        else:
            values[field] = float("inf") if v is None else float(v)
    return Params(**values, mfs=1.0 if status == "mfs" else 0.0, projected=law.projected)


@dataclass
class CaParams:
    """California's law one household-year faces (floats), or many (arrays), as `Params` is the
    federal one. `mfs` switches on Schedule P's add-back for a separate return."""

    rates: tuple
    edges: tuple
    std: Any
    personal_credit: Any
    personal_count: Any
    senior_blind_credit: Any
    dependent_credit: Any
    credit_start: Any
    credit_step: Any
    credit_amount: Any
    itemized_start: Any
    itemized_rate: Any
    itemized_max_share: Any
    charity_agi_limit: Any
    mhst_rate: Any
    mhst_threshold: Any
    amt_rate: Any
    amt_exemption: Any
    amt_phaseout_start: Any
    amt_phaseout_rate: Any
    table_max: Any
    table_width: Any
    table_first_end: Any
    mfs: Any
    projected: Any


# Which data parameter (data/ca/*.yaml) each `CaParams` field reads.
_CA_FIELD_PARAMETER: dict[str, str] = {
    "rates": "ca.rates",
    "edges": "ca.brackets",
    "std": "ca.standard_deduction",
    "personal_credit": "ca.personal_credit",
    "personal_count": "ca.personal_credit_count",
    "senior_blind_credit": "ca.senior_blind_credit",
    "dependent_credit": "ca.dependent_credit",
    "credit_start": "ca.credit_phaseout_start",
    "credit_step": "ca.credit_phaseout_step",
    "credit_amount": "ca.credit_phaseout_amount",
    "itemized_start": "ca.itemized_limitation_start",
    "itemized_rate": "ca.itemized_limitation_rate",
    "itemized_max_share": "ca.itemized_limitation_max_share",
    "charity_agi_limit": "ca.charitable_agi_limit",
    "mhst_rate": "ca.mhst_rate",
    "mhst_threshold": "ca.mhst_threshold",
    "amt_rate": "ca.amt_rate",
    "amt_exemption": "ca.amt_exemption",
    "amt_phaseout_start": "ca.amt_phaseout_start",
    "amt_phaseout_rate": "ca.amt_phaseout_rate",
    "table_max": "ca.tax_table_max_income",
    "table_width": "ca.tax_table_row_width",
    "table_first_end": "ca.tax_table_first_row_end",
}
# California's parameters, every one required in each year of data/ca/.
CA_PARAMETER_NAMES: tuple[str, ...] = tuple(_CA_FIELD_PARAMETER.values())


def ca_params_for(law: YearLaw, status: str) -> CaParams:
    """The scalar `CaParams` of one filing status in one year of California's law."""
    values: dict[str, Any] = {}
    for field, name in _CA_FIELD_PARAMETER.items():
        v = law.get(name, status)
        values[field] = tuple(float(x) for x in v) if isinstance(v, list) else float(v)
    return CaParams(**values, mfs=1.0 if status == "mfs" else 0.0, projected=law.projected)


@dataclass(frozen=True)
class Payroll:
    """Employee Social Security and Medicare rates of one year (IRC §3101(a), (b)(1))."""

    ss_rate: float
    ss_wage_base: float
    medicare_rate: float


def payroll_for(law: YearLaw) -> Payroll:
    return Payroll(
        ss_rate=float(law.values["payroll.social_security_rate"]),
        ss_wage_base=float(law.values["payroll.social_security_wage_base"]),
        medicare_rate=float(law.values["payroll.medicare_rate"]),
    )


@dataclass(frozen=True)
class IsoLaw:
    """The figures of IRC §422 that the grant rules of `models.grants` apply: the $100,000 limit
    on ISO value first exercisable in a year ((d)(1)), the months after employment ends within
    which an exercise still counts as ISO ((a)(2)), and the longest term ((b)(3)). Each is a
    number, or an array with one value per grant row."""

    annual_limit: Any
    post_termination_months: Any
    max_term_years: Any


def iso_law_for(law: YearLaw) -> IsoLaw:
    return IsoLaw(
        annual_limit=float(law.values["iso.annual_limit"]),
        post_termination_months=int(law.values["iso.post_termination_months"]),
        max_term_years=int(law.values["iso.max_term_years"]),
    )


@dataclass(frozen=True)
class Holding:
    """Holding periods in whole years: an ISO share's disposition qualifies after `from_grant`
    years from the grant and `from_exercise` from the exercise (§422(a)(1)); a gain is long-term
    after `long_term` years (§1222)."""

    from_grant: int
    from_exercise: int
    long_term: int


def holding_for(law: YearLaw) -> Holding:
    return Holding(
        from_grant=int(law.values["iso.holding_years_from_grant"]),
        from_exercise=int(law.values["iso.holding_years_from_exercise"]),
        long_term=int(law.values["capital_gains.long_term_holding_years"]),
    )


def return_due_date(law: YearLaw) -> date:
    """The day the return of `law`'s tax year and the tax it shows are due (§6072(a), §6151(a)):
    `filing.due_month` and `filing.due_day` of the following year. A weekend or holiday would
    move it to the next business day (§7503); the statutory day is shown."""
    month, day = int(law.values["filing.due_month"]), int(law.values["filing.due_day"])
    return date(law.year + 1, month, day)


class LawTable:
    """All (year, status) `Params` stacked so a vectorized call gathers each row's law by index.
    `view` makes one cell (`params_for`, or `ca_params_for` for California's law)."""

    def __init__(self, laws: dict[int, YearLaw], view: Callable[[YearLaw, str], Any] | None = None):
        view = params_for if view is None else view
        self.years = np.array(sorted(laws), dtype=np.int64)
        cells = [view(laws[y], s) for y in self.years for s in STATUSES]
        self._kind = type(cells[0])
        self._stacked: dict[str, Any] = {}
        for f in fields(self._kind):
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

    def gather(self, index: np.ndarray) -> Any:
        """The `Params` (or `CaParams`) of many rows at once, one array element per row."""
        out: dict[str, Any] = {}
        for name, value in self._stacked.items():
            if isinstance(value, tuple):
                out[name] = tuple(band[index] for band in value)
            else:
                out[name] = value[index]
        return self._kind(**out)
