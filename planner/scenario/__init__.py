"""Scenario files of the multi-year plan: a YAML format, its validation, and the conversion into
`models.scenario.Scenario` (option classes, lots, sale windows, tax years).

The format (`isoplan schema` prints it as JSON Schema; scenarios/plan-*.yaml are examples):

    description: the story, in words                      # required
    household: {filing_status: single, start_cash: 80000, cash_floor: 20000,
                cash_return: 0.03, amt_credit_carryforward: 0}   # cash earns 3% after tax
    horizon: {first_year: 2026, years: 4}                 # or implied by the keys of `years`
    default: {wages: 200000, savings: 40000}              # income of every year ...
    wage_growth: 0.03                                     # ... default wages grow 3% a year
    years: {2027: {bonus: 20000}}                         # per-year overrides, field by field
    prices: {2026: 51, 2027: {fmv: 60, exercise_date: 2027-11-15}, 2028: 70, 2029: 80}
    grants:
      - {id: g1, type: iso, grant_date: 2023-01-15, strike: 1, shares: 10000,
         vesting: {start: 2023-01-15, cliff_months: 12, months: 48, every: monthly}}
    lots: []                                              # shares exercised before the horizon
    liquidity: {ipo_date: 2028-03-01, lockup_days: 180,
                tender_offers: [{date: 2027-06-15, price: 30, max_shares: 2000}]}
    objective: {goal: wealth, discount_rate: 0.03}        # or min_tax with required_exercise
    solver: {name: cbc, gap: 1e-4, time_limit: 60, share_step: 1}
    tax_law: {projection: true, inflation: null}

Conversion rules (each one is also documented on its field, so it shows in the JSON Schema):
- `OptionClass.exercisable[year]`: shares vested on or before that year's exercise date, less the
  shares exercised before the horizon; 0 once the option has expired. Vesting stops at
  `termination_date`; options expire `post_termination_days` after it (or at `expiry` if sooner);
  an ISO exercised more than 3 months after termination is taxed as an NSO (`iso_deadline`).
- The $100,000 limit of IRC §422(d): per calendar year and employer, the grant-date value
  (fmv_at_grant x shares) of ISO shares first becoming exercisable that year, taking grants in the
  order granted, counts as ISO up to $100,000; the shares over it form a second class `<id>:nso`.
- Sale windows: `market-<year>` in every horizon year whose sale date is on or after
  ipo_date + lockup_days, at that year's FMV; `tender-<date>` for each tender offer.

Every error is an `InputError` of one line: the file, the field path and why, e.g.
`scenario.yaml: grants[1].strike: must not be negative, got -1 (line 14)`.
"""

from __future__ import annotations

from planner.scenario.convert import (
    DEFAULT_EXERCISE_MONTH_DAY,
    Validated,
    load,
    load_scenario,
    scenario_from_data,
    validate,
    validate_text,
)
from planner.scenario.reading import (
    Loc,
    Where,
    bound_text,
    error_reason,
    field_path,
    fields_at,
    parse_yaml,
    read_yaml,
    read_yaml_text,
)
from planner.scenario.schema import (
    PERIOD_MONTHS,
    Grant,
    Horizon,
    Household,
    Income,
    Liquidity,
    LotIn,
    Objective,
    PriceYear,
    ScenarioFile,
    Solver,
    TaxLaw,
    TenderOffer,
    Vesting,
    bounds_of,
    scenario_json_schema,
)

__all__ = [
    "DEFAULT_EXERCISE_MONTH_DAY",
    "PERIOD_MONTHS",
    "Grant",
    "Horizon",
    "Household",
    "Income",
    "Liquidity",
    "Loc",
    "LotIn",
    "Objective",
    "PriceYear",
    "ScenarioFile",
    "Solver",
    "TaxLaw",
    "TenderOffer",
    "Validated",
    "Vesting",
    "Where",
    "bound_text",
    "bounds_of",
    "error_reason",
    "field_path",
    "fields_at",
    "load",
    "load_scenario",
    "parse_yaml",
    "read_yaml",
    "read_yaml_text",
    "scenario_from_data",
    "scenario_json_schema",
    "validate",
    "validate_text",
]
