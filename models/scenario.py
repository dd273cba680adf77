"""A validated multi-year scenario as plain data, and the tax effect of each action per share.

`planner.scenario` reads and validates scenario files into these types; everything downstream (the
exact year-by-year evaluation in `models.exact`, the MILP in `models.milp`, the baselines) reads
only these types. The per-share effects of an exercise or a sale (`exercise_effect`,
`sale_effect`) are the single definition of how an action enters the tax forms: the optimizer and
the exact evaluator both add them up, so they cannot disagree about what an action means.

Conventions:
- One tax year has one exercise date and an FMV per share on it; sales happen in sale windows
  (the open market once liquid, or a tender offer), each with a date, a price and optionally a
  share limit.
- Taxes of year t are paid in year t + 1 (April), so they hit the cash balance of year t + 1; the
  taxes of the last year are paid out of the final wealth.
- `savings` is what the household adds to cash in a year after its ordinary taxes and spending, as
  if it held no options; the plan is charged only the tax it adds to (or saves from) that base.
- Cash earns `cash_return` a year, after tax: the balance at the end of a year (the start cash
  before the first) earns a year's return by the end of the next; the year's own flows earn none
  that year. The return is not income on the forms (it is a rate net of its tax).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from models.forms import SCALAR, Household
from models.grants import add_years, date_of, day_of
from models.law import Holding

ISO = "iso"
NSO = "nso"
STOCK = "stock"

# A TaxYear's own income, as models.forms.Household fields (the actions add EFFECT_FIELDS).
OWN_FIELDS = (
    "wages",
    "ordinary_income",
    "interest",
    "qualified_dividends",
    "ltcg",
    "stcg",
    "salt",
    "mortgage_interest",
    "charitable",
    "aged_blind",
    "seniors",
    "real_estate_tax",
    "dependents",
)

# Fields of models.forms.Household that actions move.
EFFECT_FIELDS = (
    "wages",
    "ordinary_income",
    "ltcg",
    "stcg",
    "iso_spread",
    "amt_ltcg_adjustment",
    "amt_stcg_adjustment",
    "amt_ordinary_adjustment",
)

# The capital losses carried from one year into the next (IRC §1212(b)), regular and refigured for
# the AMT: models.forms.Household fields in, and with "_out" the results of `household_tax` out.
LOSS_CARRYOVER_FIELDS = (
    "st_loss_carryover",
    "lt_loss_carryover",
    "amt_st_loss_carryover",
    "amt_lt_loss_carryover",
)


@dataclass(frozen=True)
class TaxYear:
    """One tax year of the horizon: the household's own income (without option actions), the
    option exercise date and FMV, and cash saved."""

    year: int
    exercise_date: date
    fmv: float
    wages: float = 0.0
    ordinary_income: float = 0.0
    interest: float = 0.0
    qualified_dividends: float = 0.0
    ltcg: float = 0.0
    stcg: float = 0.0
    salt: float = 0.0
    mortgage_interest: float = 0.0
    charitable: float = 0.0
    aged_blind: int = 0
    seniors: int = 0
    itemize: bool | None = None
    savings: float = 0.0
    real_estate_tax: float = 0.0  # the part of salt that is property tax (California's deduction)
    dependents: int = 0  # California's dependent exemption credits
    state: str = ""  # residence for the year: "ca" (California, all year) or "" (no state tax)


@dataclass(frozen=True)
class SaleWindow:
    """A chance to sell: the open market (liquid from its date) or a tender offer."""

    id: str
    year: int
    date: date
    price: float
    max_shares: float | None = None  # tender offers cap the shares bought; None = no cap
    kind: str = "market"


@dataclass(frozen=True)
class OptionClass:
    """Options of one grant with one treatment: the ISO part, or the part over the $100,000
    limit of IRC §422(d) (and NSO grants), which is taxed as an NSO.

    exercisable[year] is the cumulative number of shares vested by that year's exercise date and
    not expired (0 once expired). An ISO exercised after `iso_deadline` (termination + 3 months,
    §422(a)(2)) is taxed as an NSO. `holding` passes the holding periods on to the lots that
    exercises create.
    """

    id: str
    grant_id: str
    kind: str
    strike: float
    grant_date: date
    expiry: date
    exercisable: dict[int, float]
    holding: Holding
    iso_deadline: date | None = None
    # The same count on the date of each sale window of the horizon (window id -> shares), for an
    # exercise on that date sold the same day (`same_day_effect`).
    window_exercisable: dict[str, float] = field(default_factory=dict)

    def treatment(self, exercise_date: date) -> str:
        """ISO or NSO tax treatment of an exercise on this date."""
        if self.kind == ISO and (self.iso_deadline is None or exercise_date <= self.iso_deadline):
            return ISO
        return NSO


@dataclass(frozen=True)
class Lot:
    """Shares held, with their tax history. Regular and AMT basis are per share.

    kind ISO: ISO shares not yet disposed of (the disqualifying-disposition rules apply);
    regular basis is the strike, AMT basis the FMV at exercise (if the spread was counted for the
    AMT in an earlier year; for a same-year sale the AMT follows the regular tax).
    kind NSO / STOCK: ordinary shares, basis as given (NSO: FMV at exercise).
    `holding`: the holding periods that make a sale qualifying or long-term.
    """

    id: str
    grant_id: str
    kind: str
    shares: float
    grant_date: date
    exercise_date: date
    exercise_year: int
    regular_basis: float
    amt_basis: float
    holding: Holding


@dataclass(frozen=True)
class Effect:
    """Per-share change to one tax year's Household fields, and the cash it moves now."""

    fields: dict[str, float] = field(default_factory=dict)
    cash: float = 0.0
    fica_wages: float = 0.0  # wages subject to Social Security and Medicare (NSO spread)


def exercise_effect(option: OptionClass, year: TaxYear) -> Effect:
    """Exercising one share in `year` and holding it past year end.

    ISO: no regular income; the spread is an AMT adjustment (Form 6251 line 2i, §56(b)(3)).
    NSO: the spread is wages (§83), subject to FICA.
    """
    spread = max(year.fmv - option.strike, 0.0)
    if option.treatment(year.exercise_date) == ISO:
        return Effect(fields={"iso_spread": spread}, cash=-option.strike)
    return Effect(fields={"wages": spread}, cash=-option.strike, fica_wages=spread)


@dataclass(frozen=True)
class Chance:
    """A day an option class can be exercised on: a tax year's exercise date (`window_id` None)
    or a sale window's (an exercise sold the same day), with the count exercisable then."""

    date: date
    year: int
    window_id: str | None
    exercisable: float


def exercise_chances(scenario: Scenario, option: OptionClass) -> list[Chance]:
    """Every day of the horizon an option class can be exercised on, in order (on one day the
    year's exercise before a window's): exercises summed up to a chance never exceed its count
    (`models.exact` checks it, `models.milp` constrains it), where anything is exercisable."""
    years = set(scenario.year_numbers)
    chances = [
        Chance(ty.exercise_date, ty.year, None, float(option.exercisable.get(ty.year, 0.0)))
        for ty in scenario.years
    ]
    chances += [
        Chance(w.date, w.year, w.id, float(option.window_exercisable.get(w.id, 0.0)))
        for w in scenario.windows
        if w.year in years
    ]
    return sorted(chances, key=lambda c: (c.date, c.window_id is not None, c.window_id or ""))


def same_day_effect(option: OptionClass, window: SaleWindow) -> Effect:
    """Exercising one share on a sale window's date and selling it there the same day (a tender
    offer, the end of a lockup): the FMV at exercise is the window's price, so the sale realizes
    no capital gain.

    ISO: a disqualifying disposition in the year of exercise (§421(b), §422(c)(2)): the spread is
      ordinary income (not FICA wages, §3121(a)(22)), and the AMT follows the regular tax: no
      line 2i or 2k amount.
    NSO (or an ISO exercised after its window closed): the spread is wages (§83), with FICA.
    Cash: the price less the strike."""
    spread = max(window.price - option.strike, 0.0)
    if option.treatment(window.date) == ISO:
        return Effect(fields={"ordinary_income": spread}, cash=window.price - option.strike)
    return Effect(fields={"wages": spread}, cash=window.price - option.strike, fica_wages=spread)


def exercise_lot(option: OptionClass, year: TaxYear, shares: float) -> Lot:
    """The lot an exercise creates."""
    iso = option.treatment(year.exercise_date) == ISO
    fmv = max(year.fmv, option.strike)
    return Lot(
        id=f"{option.id}@{year.year}",
        grant_id=option.grant_id,
        kind=ISO if iso else NSO,
        shares=shares,
        grant_date=option.grant_date,
        exercise_date=year.exercise_date,
        exercise_year=year.year,
        regular_basis=option.strike if iso else fmv,
        amt_basis=fmv,
        holding=option.holding,
    )


def _first_day_after(years: int, since: date) -> date:
    """The first day more than `years` years after `since`: the day after the anniversary (of a
    February 29, February 28 in a common year, as `models.grants.add_years` has it)."""
    return date_of(add_years(day_of(since), years, SCALAR) + 1)


def qualifying_date(lot: Lot) -> date:
    """The first day a sale of `lot` is a qualifying disposition (§422(a)(1)): more than
    `lot.holding.from_grant` years after the grant and `.from_exercise` after the exercise.
    `is_qualifying` compares with it, so the key dates of a plan and its sales cannot disagree."""
    h = lot.holding
    return max(
        _first_day_after(h.from_grant, lot.grant_date),
        _first_day_after(h.from_exercise, lot.exercise_date),
    )


def long_term_date(lot: Lot) -> date:
    """The first day a sale of `lot` is long-term: held more than `lot.holding.long_term` years
    since exercise (§1222)."""
    return _first_day_after(lot.holding.long_term, lot.exercise_date)


def is_qualifying(lot: Lot, sale_date: date) -> bool:
    """§422(a)(1): no disposition within 2 years of the grant nor within 1 year of exercise
    (`lot.holding.from_grant`, `.from_exercise`): on or after `qualifying_date`."""
    return sale_date >= qualifying_date(lot)


def is_long_term(lot: Lot, sale_date: date) -> bool:
    """Held more than one year since exercise (§1222; `lot.holding.long_term`): on or after
    `long_term_date`."""
    return sale_date >= long_term_date(lot)


def sale_effect(lot: Lot, window: SaleWindow) -> Effect:
    """Selling one share of `lot` in `window`.

    ISO, qualifying: regular gain price - strike, long-term; the AMT gain uses the AMT basis, so
      line 2k gets (price - AMT basis) - (price - strike) = -(spread).
    ISO, disqualifying (§421(b), §422(c)(2)): ordinary income = the spread, or price - strike if
      less (a sale at a loss relative to the FMV at exercise), not below 0; the rest is capital.
      Same year as exercise: the AMT follows the regular tax, so the shares leave line 2i
      (the spread was added by the exercise). Later year: the AMT already counted the spread, so
      line 2k removes the ordinary income and the capital gain uses the AMT basis.
    NSO and plain stock: capital gain over the basis; a different AMT basis goes to line 2k.
    """
    price = window.price
    term = "ltcg" if is_long_term(lot, window.date) else "stcg"
    amt_term = "amt_" + term + "_adjustment"
    fields: dict[str, float] = {}
    if lot.kind == ISO:
        spread = lot.amt_basis - lot.regular_basis
        same_year = window.year == lot.exercise_year
        if is_qualifying(lot, window.date):
            fields["ltcg"] = price - lot.regular_basis
            fields["amt_ltcg_adjustment"] = -spread
        else:
            ordinary = min(spread, max(price - lot.regular_basis, 0.0))
            fields["ordinary_income"] = ordinary
            fields[term] = price - lot.regular_basis - ordinary
            if same_year:
                fields["iso_spread"] = -spread
            else:
                fields["amt_ordinary_adjustment"] = -ordinary
                fields[amt_term] = (price - lot.amt_basis) - fields[term]
    else:
        fields[term] = price - lot.regular_basis
        if lot.amt_basis != lot.regular_basis:
            fields[amt_term] = lot.regular_basis - lot.amt_basis
    return Effect(fields={k: v for k, v in fields.items() if v != 0.0}, cash=price)


@dataclass(frozen=True)
class Scenario:
    """A whole validated scenario (see planner.scenario for the file format); how it is planned
    (solver, gap, time limit, the law of projected years) is `planner.options.PlanOptions`."""

    description: str
    filing_status: str
    years: tuple[TaxYear, ...]
    options: tuple[OptionClass, ...]
    lots: tuple[Lot, ...]
    windows: tuple[SaleWindow, ...]
    start_cash: float
    cash_floor: float
    amt_credit_carryforward: float = 0.0
    ca_amt_credit_carryforward: float = 0.0  # California's credit for prior year AMT (FTB 3510)
    # Capital losses carried into the first year (positive amounts), regular and refigured for the
    # AMT (`LOSS_CARRYOVER_FIELDS`; Schedule D lines 6 and 14 and their AMT Schedule D twins).
    st_loss_carryover: float = 0.0
    lt_loss_carryover: float = 0.0
    amt_st_loss_carryover: float = 0.0
    amt_lt_loss_carryover: float = 0.0
    # After-tax return a year on cash (a rate): the balance at the end of each year (the start
    # cash before the first) earns it over the next year (`models.exact`, module docstring).
    cash_return: float = 0.03
    objective: str = "wealth"  # "wealth" | "min_tax"
    required_exercise: dict[str, float] = field(default_factory=dict)  # option id -> shares
    discount_rate: float = 0.0
    terminal_price: float | None = None  # held shares valued at this price (default: last FMV)
    # The terminal rates are assumptions of the objective, not law: the tax of a sale after the
    # horizon depends on that later year's income, which no plan knows. The defaults assume today's
    # top rates: 20% (§1(h)) + 3.8% NIIT (§1411) on the regular gain of shares held at the end,
    # 37% (§1(j)) on the spread of options unexercised at the end.
    terminal_tax_rate: float = 0.238
    terminal_ordinary_rate: float = 0.37
    credit_value: float = 1.0  # value per $ of minimum tax credit left at the end
    share_step: int = 1  # exercise and sell in multiples of this many shares

    @property
    def year_numbers(self) -> tuple[int, ...]:
        return tuple(y.year for y in self.years)

    @property
    def final_price(self) -> float:
        return self.years[-1].fmv if self.terminal_price is None else self.terminal_price


@dataclass
class Plan:
    """Decisions: shares exercised per (option class id, year) and shares sold per
    (lot id, sale window id). Lots created by the plan have ids `exercise_lot(...).id`,
    i.e. "<option id>@<year>"."""

    exercises: dict[tuple[str, int], float] = field(default_factory=dict)
    sales: dict[tuple[str, str], float] = field(default_factory=dict)
    # The deduction taken (True: itemized) in years whose choice the scenario leaves open
    # (`TaxYear.itemize` None); a year not named here takes the one with the lower total tax.
    itemize: dict[int, bool] = field(default_factory=dict)
    # Shares exercised on a sale window's date and sold in it the same day, per (option class
    # id, window id) (`same_day_effect`).
    same_day: dict[tuple[str, str], float] = field(default_factory=dict)


def terminal_share_value(scenario: Scenario, regular_basis: float) -> float:
    """A share held at the end of the horizon, in after-tax dollars (a definition, shared by the
    optimizer's objective and the exact evaluation): the final price, less `terminal_tax_rate` on
    its regular gain."""
    price = scenario.final_price
    return price - scenario.terminal_tax_rate * (price - regular_basis)


def terminal_option_value(scenario: Scenario, strike: float) -> float:
    """A vested, unexpired option unexercised at the end, per share (shared as above): its spread
    at the final price, less `terminal_ordinary_rate`."""
    return max(scenario.final_price - strike, 0.0) * (1.0 - scenario.terminal_ordinary_rate)


def ca_credit_value(scenario: Scenario) -> float:
    """What a dollar of California's credit carried out of the last year is worth: the same as a
    federal one (`credit_value`) if the household lives in California that year, else nothing
    (a credit carried out of California has no California tax to offset)."""
    return scenario.credit_value if scenario.years[-1].state == "ca" else 0.0


def terminal_loss_value(scenario: Scenario) -> float:
    """A dollar of regular capital loss carried out of the last year (Schedule D's carryover), in
    after-tax dollars (shared as above): `terminal_tax_rate`, the rate at which a held share's
    loss is already credited in its terminal value, so that selling a share at a loss or
    holding it ends the same. What it is really worth depends on the gains and income of years
    after the horizon, which no plan knows (at most $3,000 a year against ordinary income). The
    AMT's carryover is not valued: it only lowers a tentative minimum tax later."""
    return scenario.terminal_tax_rate


def terminal_value(
    scenario: Scenario, held: dict[str, tuple[Lot, float]], unexercised: dict[str, float]
) -> float:
    """What is left at the end of the horizon, in after-tax dollars: the held shares and the
    unexercised options at their values per share. The minimum tax credit left is valued
    separately at `credit_value` per dollar, a capital loss carried out of the last year at
    `terminal_loss_value`."""
    strikes = {o.id: o.strike for o in scenario.options}
    value = 0.0
    for lot, shares in held.values():
        value += shares * terminal_share_value(scenario, lot.regular_basis)
    for option_id, shares in unexercised.items():
        value += shares * terminal_option_value(scenario, strikes[option_id])
    return value


def loss_carryovers_in(scenario: Scenario) -> dict[str, float]:
    """The capital losses the scenario carries into its first year, as Household fields."""
    return {f: float(getattr(scenario, f)) for f in LOSS_CARRYOVER_FIELDS}


def loss_carryovers_out(result: dict[str, Any]) -> dict[str, float]:
    """The capital losses a year's tax (`models.engine.tax_one`) carries into the next year, as
    that year's Household fields (the Capital Loss Carryover Worksheet, regular and AMT)."""
    return {f: float(result[f + "_out"]) for f in LOSS_CARRYOVER_FIELDS}


def base_household(
    ty: TaxYear, credit: float = 0.0, losses: dict[str, float] | None = None
) -> Household:
    """The `models.forms.Household` of one year with no option actions: `credit` the minimum tax
    credit and `losses` the capital losses (`LOSS_CARRYOVER_FIELDS`; missing ones are 0) carried
    in on the base chain (`loss_carryovers_in`, then `loss_carryovers_out` year by year)."""
    return Household(
        **{f: float(getattr(ty, f)) for f in OWN_FIELDS},
        amt_credit_carryforward=credit,
        **(losses or {}),
    )
