"""The exact year-by-year evaluation of a plan: feasibility, the exact tax of every year, cash.

`evaluate(scenario, plan, laws)` runs the exact engine (`models.engine.tax_one`) on every tax year
of the horizon twice: once with the plan's actions and once without any (the *base*), each with its
own minimum-tax-credit chain (Form 8801 carryforward from year to year) and its own chains of
capital losses carried (regular and AMT, short- and long-term: the Capital Loss Carryover
Worksheet of `models.forms.capital_loss_carryover`, from the scenario's `st_loss_carryover` ...
`amt_lt_loss_carryover` into the first year). The plan is charged only
the tax it adds to the base, plus the employee FICA on the wages it adds (NSO spread):

    extra_tax[t] = total_tax[t] - base_total_tax[t] + FICA(wages with plan) - FICA(base wages)

Cash, with the tax of year t paid in April of year t + 1 (cash[-1] = start cash) and r the
after-tax return on cash (`scenario.cash_return`):

    cash[t] = cash[t-1] x (1 + r) + savings[t] + proceeds[t] - exercise_cost[t] - extra_tax[t-1]

and every cash[t] must stay at or above the cash floor. The timing: the balance at the end of the
previous year (the start cash, in the first year) earns a whole year's return, and the year's own
flows earn none that year, as if they all fell on December 31. It is the simplest convention that
is linear in the plan (so the optimizer uses the same formula) and needs no dates for savings,
which accrue over the year; it errs by at most part of a year's return on each year's flows. It
is what gives tax a time value: a dollar of AMT paid in April of t + 1 and recovered as credit k
years later costs its return over those k years ((1 + r)^k - 1 a dollar, in dollars of the later
year), so with r > 0 prepaying AMT no longer ties with paying it later. The return is after tax
and is not income on the forms (the household's own `interest` is). With r = 0 this is the
formula without a time value, to the last bit.

The objective is either the final wealth
("wealth": cash[last] - extra_tax[last] + terminal value of held shares and vested options +
credit_value x (credit left by the plan - credit left by the base)) or the present value of the
extra taxes ("min_tax": sum of extra_tax[t] / (1 + discount_rate)^t, t counted from 0).

Every action's effect on the forms is the per-share `Effect` of `models.scenario`, multiplied by
its shares, so this evaluation and the optimizer cannot disagree about what an action means.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from models.engine import tax_one
from models.forms import FORM_LINES, SCALAR, Household, employee_fica
from models.forms_ca import CA_FORM_LINES
from models.law import CaParams, Params, YearLaw, ca_params_for, params_for, payroll_for
from models.scenario import (
    EFFECT_FIELDS,
    ISO,
    LOSS_CARRYOVER_FIELDS,
    OWN_FIELDS,
    Lot,
    OptionClass,
    Plan,
    SaleWindow,
    Scenario,
    TaxYear,
    ca_credit_value,
    exercise_chances,
    exercise_effect,
    exercise_lot,
    is_long_term,
    is_qualifying,
    loss_carryovers_in,
    loss_carryovers_out,
    sale_effect,
    same_day_effect,
    terminal_loss_value,
    terminal_value,
)

OBJECTIVES = ("wealth", "min_tax")

# Every Household input reported in a year row (itemize is reported as the TaxYear's setting).
HOUSEHOLD_FIELDS = (
    *OWN_FIELDS,
    *(f for f in EFFECT_FIELDS if f not in OWN_FIELDS),
    "amt_credit_carryforward",
    "ca_amt_credit_carryforward",
    *LOSS_CARRYOVER_FIELDS,
)
# Results of tax_one copied into each year row.
TAX_FIELDS = (
    "agi",
    "deduction",
    "taxable_income",
    "regular_tax",
    "amti",
    "amt_exemption",
    "tmt",
    "amt",
    "niit",
    "additional_medicare_tax",
    "mtc_allowed",
    "mtc_generated",
    "mtc_carryforward_out",
    *(f + "_out" for f in LOSS_CARRYOVER_FIELDS),
    "total_tax",
    "itemized",
)
# California's results (`models.forms_ca.california`), 0 in a year without California residence;
# `total_tax` above is then federal plus California, `federal_total_tax` the federal part.
STATE_TAX_FIELDS = (
    "federal_total_tax",
    "ca_agi",
    "ca_deduction",
    "ca_taxable_income",
    "ca_regular_tax",
    "ca_exemption_credits",
    "ca_amti",
    "ca_amt_exemption",
    "ca_tmt",
    "ca_amt",
    "ca_mhst",
    "ca_credit_allowed",
    "ca_credit_generated",
    "ca_credit_carryforward_out",
    "ca_total_tax",
)

# The form lines a year row carries beyond TAX_FIELDS and STATE_TAX_FIELDS
# (`models.forms.FORM_LINES`, `models.forms_ca.CA_FORM_LINES`), 0 where a form is not filed.
LINE_FIELDS = tuple(
    k for k in (*FORM_LINES, *CA_FORM_LINES) if k not in (*TAX_FIELDS, *STATE_TAX_FIELDS)
)

# Shares: a plan's share counts may carry solver noise; within this many share steps of a whole
# multiple they are snapped to it, further away they are refused.
_STEP_TOLERANCE = 1e-6
_SHARE_TOLERANCE = 1e-6
# Money: the floor is checked in whole cents (half a cent under it is still at it).
CASH_TOLERANCE = 0.005


class InfeasiblePlan(ValueError):
    """A plan that breaks a rule of the scenario; the message says which, in words.

    `problems` lists every rule broken (the message shows them all, one per line)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        if len(problems) == 1:
            message = f"infeasible plan: {problems[0]}"
        else:
            message = "infeasible plan:\n" + "\n".join(f"  - {p}" for p in problems)
        super().__init__(message)


@dataclass(frozen=True)
class Evaluation:
    """The exact evaluation of one plan.

    years: one row per tax year, in order. Keys: `year`, `projected` (the law is projected),
      `exercise_date`, `fmv`; the Household inputs (`HOUSEHOLD_FIELDS`: own income plus the
      actions' effects, and `amt_credit_carryforward` and the capital losses
      `LOSS_CARRYOVER_FIELDS` in) and `itemize` (the TaxYear's setting);
      every tax line of `tax_one` (`TAX_FIELDS`, `itemized` is the deduction actually used; the
      losses carried out are `st_loss_carryover_out` ... `amt_lt_loss_carryover_out`, next
      year's in); `base_total_tax`, `base_mtc_carryforward_out` and `base_<loss field>_out`
      (the same year with no actions, on the base chains); `fica_wages`, `base_fica`, `fica`,
      `extra_fica`, `extra_tax`; cash:
      `cash_start`, `cash_return` (the year's return on `cash_start`, in dollars: cash_start x
      scenario.cash_return), `savings`, `proceeds`, `exercise_cost`, `tax_paid` (last year's
      extra tax, paid in April; negative when the plan saved tax), `cash_in` (cash_return +
      savings + proceeds), `cash_out` (exercise cost + tax paid), `cash` (end of year).
    actions: one row per exercise or sale, by date (an exercise before a sale on the same day,
      then an exercise sold that day): `year`, `date`, `kind` ("exercise" | "sale" |
      "exercise_and_sell": exercised on a window's date and sold in it,
      `models.scenario.same_day_effect`; its `cost` the strike, its `proceeds` the price),
      `option_id` (exercise), `lot_id`, `window_id` (sale), `shares`, `price` (strike for an
      exercise, sale price for a sale), `fmv` (exercise),
      `treatment` (exercise: "iso" | "nso"; sale: the lot's kind), `qualifying` (ISO sales:
      True / False; otherwise None), `long_term` (sales), `cost` (exercise) or `proceeds` (sale),
      `cash` (signed), and the action's total change to each Household field of EFFECT_FIELDS.
    lots: one row per lot (the scenario's, then those the plan creates): `lot_id`, `source`
      ("scenario" | "plan"), `grant_id`, `kind`, `exercise_year`, `exercise_date`, `shares`
      (created, or held at the start for a scenario lot), `regular_basis`, `amt_basis` (per
      share), `sold` ({year: shares sold that year}, every year of the horizon), `held_end`.
    objective: "wealth" (maximized) or "min_tax" (minimized); objective_value is `wealth` or
      `pv_extra_tax` accordingly; both are always computed.
    wealth = final_cash - last_year_tax + terminal_value + credit_left_value + loss_left_value,
      where final_cash is
      the cash at the end of the last year and last_year_tax that year's extra tax (paid from
      the final wealth); terminal_value is `models.scenario.terminal_value` of the `held` lots
      (lot id -> shares) and the `unexercised` vested, unexpired options (option id -> shares);
      credit_left / base_credit_left are the minimum tax credit carried out of the last year
      with the plan / with no action, credit_left_value = credit_value x their difference;
      loss_left / base_loss_left are the regular capital losses (short- and long-term) carried
      out of the last year, loss_left_value = `models.scenario.terminal_loss_value` x their
      difference (also in wealth); ca_credit_left / base_ca_credit_left / ca_credit_left_value
      the same for California's credit (FTB 3510), valued only when the last year is a
      California year: a credit carried out of California has no tax to offset.
    pv_extra_tax: sum of extra_tax[t] / (1 + discount_rate)^t (t = 0 in the first year);
      total_extra_tax: the same undiscounted.
    required_shortfall: option id -> shares of `scenario.required_exercise` the plan leaves
      unexercised over the horizon (only options short of it; not a feasibility rule here).
    """

    objective: str
    objective_value: float
    wealth: float
    pv_extra_tax: float
    total_extra_tax: float
    final_cash: float
    last_year_tax: float
    terminal_value: float
    credit_left: float
    base_credit_left: float
    credit_left_value: float
    loss_left: float
    base_loss_left: float
    loss_left_value: float
    years: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    lots: list[dict[str, Any]]
    held: dict[str, float] = field(default_factory=dict)
    unexercised: dict[str, float] = field(default_factory=dict)
    required_shortfall: dict[str, float] = field(default_factory=dict)
    ca_credit_left: float = 0.0
    base_ca_credit_left: float = 0.0
    ca_credit_left_value: float = 0.0

    @property
    def min_cash(self) -> float:
        """The lowest end-of-year cash balance over the horizon."""
        return min(row["cash"] for row in self.years)

    def year(self, year: int) -> dict[str, Any]:
        """The row of one tax year."""
        for row in self.years:
            if row["year"] == year:
                return row
        raise KeyError(year)


def fica(wages: float, law: YearLaw) -> float:
    """Employee Social Security and Medicare on `wages` (`models.forms.employee_fica`)."""
    return float(employee_fica(wages, payroll_for(law), SCALAR))


def _money(x: float) -> str:
    return f"-${-x:,.2f}" if x < 0 else f"${x:,.2f}"


def _shares(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.6g}"


@dataclass
class _Checked:
    """A plan after the feasibility checks: snapped share counts (zeros dropped), the lots."""

    exercises: dict[tuple[str, int], float]
    sales: dict[tuple[str, str], float]
    lots: dict[str, Lot]  # every lot: the scenario's, then the plan's (shares = created)
    plan_lot_ids: set[str]
    itemize: dict[int, bool] = field(default_factory=dict)  # the plan's deduction choices
    same_day: dict[tuple[str, str], float] = field(default_factory=dict)  # snapped, no zeros


@dataclass
class _Deltas:
    """A plan's actions summed per tax year: all the year loop needs of them, so the forms of a
    year (federal, or a state's beside them) see one Household change, not the actions."""

    fields: dict[int, defaultdict[str, float]]  # year -> Household field -> change
    sold: dict[str, dict[int, float]]  # lot id -> year -> shares sold (every year of the horizon)
    fica_wages: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    cost: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    proceeds: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    actions: list[tuple[tuple, dict[str, Any]]] = field(default_factory=list)  # (sort key, row)
    itemize: dict[int, bool] = field(default_factory=dict)  # the plan's deduction choices


class Evaluator:
    """Evaluates plans of one scenario under given tax law; the no-action base (its taxes and
    credit chain) is computed once. `evaluate(scenario, plan, laws)` is the one-call form."""

    def __init__(self, scenario: Scenario, laws: dict[int, YearLaw]) -> None:
        if scenario.objective not in OBJECTIVES:
            raise ValueError(
                f"unknown objective {scenario.objective!r} "
                f"(expected one of {', '.join(OBJECTIVES)})"
            )
        if not scenario.years:
            raise ValueError("the scenario has no tax years")
        numbers = scenario.year_numbers
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise ValueError(f"the scenario's tax years must increase: {list(numbers)}")
        missing = [y for y in numbers if y not in laws]
        if missing:
            raise ValueError(f"no tax law given for year {missing[0]}")
        if scenario.share_step <= 0:
            raise ValueError(f"share_step must be positive, got {scenario.share_step}")
        self.scenario = scenario
        self.laws = laws
        self.status = scenario.filing_status
        self.year_of: dict[int, TaxYear] = {y.year: y for y in scenario.years}
        self.params: dict[int, Params] = {y: params_for(laws[y], self.status) for y in numbers}
        self.ca_params: dict[int, CaParams | None] = {}
        for ty in scenario.years:
            state = laws[ty.year].states.get(ty.state) if ty.state else None
            if ty.state and state is None:
                raise ValueError(f"no {ty.state.upper()} tax law given for year {ty.year}")
            self.ca_params[ty.year] = ca_params_for(state, self.status) if state else None
        self.options: dict[str, OptionClass] = {o.id: o for o in scenario.options}
        self.windows: dict[str, SaleWindow] = {w.id: w for w in scenario.windows}
        self.scenario_lots: dict[str, Lot] = {lot.id: lot for lot in scenario.lots}
        # The days each class can be exercised on: the scenario's, the same for every plan.
        self.chances = {o.id: exercise_chances(scenario, o) for o in scenario.options}
        self._memo: dict[tuple, dict[str, Any]] = {}
        self.base = self._base()

    # ------------------------------------------------------------------------------------------
    # Households and the base

    def own_income(self, ty: TaxYear) -> dict[str, float]:
        """The TaxYear's own income as Household fields (every field of HOUSEHOLD_FIELDS but the
        credit carryforward)."""
        own = {f: float(getattr(ty, f)) for f in OWN_FIELDS}
        for f in EFFECT_FIELDS:
            own.setdefault(f, 0.0)
        return own

    def _tax(
        self,
        ty: TaxYear,
        inputs: dict[str, float],
        carry: tuple[float, float],
        losses: dict[str, float],
        itemize: bool | None = None,
    ) -> dict[str, Any]:
        """The year's exact tax, remembered: a baseline probes one action at a time, so most
        years of the next evaluation have the same inputs, credits (`carry`: federal and
        California's) and capital losses (`losses`, LOSS_CARRYOVER_FIELDS) carried in (read
        only). The deduction is the file's, else `itemize` (a plan's choice), else the engine's
        (the lower total tax). A year without California residence has its results zero."""
        chosen = ty.itemize if ty.itemize is not None else itemize
        losses_in = (losses[f] for f in LOSS_CARRYOVER_FIELDS)
        key = (ty.year, *carry, chosen, *losses_in, *sorted(inputs.items()))
        result = self._memo.get(key)
        if result is None:
            h = Household(
                **inputs,
                amt_credit_carryforward=carry[0],
                ca_amt_credit_carryforward=carry[1],
                **losses,
            )
            ca = self.ca_params[ty.year]
            result = tax_one(h, self.params[ty.year], chosen, ca)
            if ca is None:  # the California credit waits, unused, for a California year
                result = {**dict.fromkeys(STATE_TAX_FIELDS, 0.0), **result}
                result["ca_credit_carryforward_out"] = carry[1]
            self._memo[key] = result
        return result

    def _base(self) -> list[dict[str, Any]]:
        """Each year with no action, on its own chains of credit and of capital losses carried:
        what a plan's extra tax is measured against (computed once per Evaluator)."""
        out = []
        carry = (self.scenario.amt_credit_carryforward, self.scenario.ca_amt_credit_carryforward)
        losses = loss_carryovers_in(self.scenario)
        for ty in self.scenario.years:
            result = self._tax(ty, self.own_income(ty), carry, losses)
            law = self.laws[ty.year]
            carry = _carried(result)
            losses = loss_carryovers_out(result)
            out.append(
                {
                    "total_tax": float(result["total_tax"]),
                    "mtc_carryforward_out": carry[0],
                    "ca_credit_carryforward_out": carry[1],
                    "losses_out": losses,
                    "amti": float(result["amti"]),
                    "fica": fica(ty.wages, law),
                }
            )
        return out

    # ------------------------------------------------------------------------------------------
    # Feasibility (everything but cash)

    def _snap(self, what: str, x: Any, problems: list[str]) -> float | None:
        """A plan's share count snapped to the share step (solver noise), or None with the
        problem listed if it is not a number, negative or off the step."""
        try:
            x = float(x)
        except (TypeError, ValueError):
            problems.append(f"{what}: shares must be a number, got {x!r}")
            return None
        if not math.isfinite(x):
            problems.append(f"{what}: shares must be a finite number, got {x}")
            return None
        if x < -_SHARE_TOLERANCE:
            problems.append(f"{what}: {_shares(x)} shares; a share count cannot be negative")
            return None
        step = self.scenario.share_step
        k = x / step
        if abs(k - round(k)) > _STEP_TOLERANCE:
            problems.append(
                f"{what}: {_shares(x)} shares is not a multiple of the share step ({step})"
            )
            return None
        return float(round(k) * step)

    def check(self, plan: Plan) -> _Checked:
        """Every feasibility rule but the cash floor; raises InfeasiblePlan listing all broken, in
        the order of the rules: exercises, vesting, the lots they create, sales, lots and caps."""
        problems: list[str] = []
        exercises = self._check_exercises(plan, problems)
        same_day = self._check_same_day(plan, problems)
        self._check_vested(exercises, same_day, problems)
        lots, plan_lot_ids = self._plan_lots(exercises, problems)
        sales = self._check_sales(plan, lots, plan_lot_ids, problems)
        self._check_caps(sales, same_day, lots, problems)
        itemize = self._check_deductions(plan, problems)
        if problems:
            raise InfeasiblePlan(problems)
        return _Checked(exercises, sales, lots, plan_lot_ids, itemize, same_day)

    def _check_same_day(self, plan: Plan, problems: list[str]) -> dict[tuple[str, str], float]:
        """The plan's exercises sold the same day in a window, snapped (zeros dropped): of an
        option class of the scenario, in a window of the horizon."""
        out: dict[tuple[str, str], float] = {}
        for key, x in plan.same_day.items():
            option_id, window_id = key
            what = f"same-day exercise and sale of option {option_id!r} in window {window_id!r}"
            window = self.windows.get(window_id)
            if option_id not in self.options:
                problems.append(f"{what}: no option class {option_id!r} in the scenario")
            elif window is None or window.year not in self.year_of:
                problems.append(f"{what}: no sale window {window_id!r} in the horizon")
            else:
                shares = self._snap(what, x, problems)
                if shares:
                    out[key] = shares
        return out

    def _check_deductions(self, plan: Plan, problems: list[str]) -> dict[int, bool]:
        """The plan's deduction choices: only in years of the horizon whose deduction the
        scenario leaves open, each true or false."""
        out: dict[int, bool] = {}
        for year, itemize in plan.itemize.items():
            ty = self.year_of.get(year)
            what = f"the deduction chosen in {year}"
            if ty is None:
                problems.append(f"{what}: {year} is not a tax year of the scenario")
            elif not isinstance(itemize, bool):
                problems.append(f"{what}: expected true (itemize) or false, got {itemize!r}")
            elif ty.itemize is not None and itemize != ty.itemize:
                fixed = "itemized" if ty.itemize else "standard"
                problems.append(f"{what}: the scenario fixes the {fixed} deduction that year")
            else:
                out[year] = itemize
        return out

    def _check_exercises(self, plan: Plan, problems: list[str]) -> dict[tuple[str, int], float]:
        """The plan's exercises with snapped share counts (zeros dropped); an exercise of an
        unknown option class or outside the horizon is a problem, not an exercise."""
        exercises: dict[tuple[str, int], float] = {}
        for key, x in plan.exercises.items():
            option_id, year = key
            what = f"exercise of option {option_id!r} in {year}"
            if option_id not in self.options:
                problems.append(f"{what}: no option class {option_id!r} in the scenario")
                continue
            if year not in self.year_of:
                problems.append(f"{what}: {year} is not a tax year of the scenario")
                continue
            shares = self._snap(what, x, problems)
            if shares:
                exercises[(option_id, year)] = shares
        return exercises

    def _check_vested(
        self,
        exercises: dict[tuple[str, int], float],
        same_day: dict[tuple[str, str], float],
        problems: list[str],
    ) -> None:
        """Cumulative exercises never above the vested-and-unexpired count of each day one can
        happen on (`models.scenario.exercise_chances`: the years' exercise dates and the sale
        windows'; checked where something is exercisable; once expired, nothing more can be
        done)."""
        for option in self.scenario.options:
            done = 0.0
            over = False
            for c in self.chances[option.id]:
                if c.window_id is None:
                    x = exercises.get((option.id, c.year), 0.0)
                else:
                    x = same_day.get((option.id, c.window_id), 0.0)
                done += x
                if x > 0 and c.exercisable <= 0:
                    when = (
                        f"in {c.year} ({c.date.isoformat()})"
                        if c.window_id is None
                        else f"in window {c.window_id!r} ({c.date.isoformat()})"
                    )
                    why = (
                        f"it expired on {option.expiry.isoformat()}"
                        if c.date >= option.expiry
                        else "no share of it is vested by then"
                    )
                    problems.append(
                        f"exercise of {_shares(x)} shares of option {option.id!r} {when}: "
                        f"nothing is exercisable ({why})"
                    )
                elif c.exercisable > 0 and done > c.exercisable + _SHARE_TOLERANCE and not over:
                    over = True  # the first day says it; later days would repeat it
                    through = c.year if c.window_id is None else f"window {c.window_id!r}"
                    problems.append(
                        f"option {option.id!r}: exercises through {through} total "
                        f"{_shares(done)} shares but only {_shares(c.exercisable)} are vested "
                        f"and unexpired by {c.date.isoformat()}"
                    )

    def _plan_lots(
        self, exercises: dict[tuple[str, int], float], problems: list[str]
    ) -> tuple[dict[str, Lot], set[str]]:
        """Every lot a sale may come from: the scenario's, then one per (option, year) the plan
        exercises (a plan's lot whose id the scenario already uses is a problem)."""
        lots: dict[str, Lot] = dict(self.scenario_lots)
        plan_lot_ids: set[str] = set()
        for (option_id, year), shares in exercises.items():
            lot = exercise_lot(self.options[option_id], self.year_of[year], shares)
            if lot.id in lots:
                problems.append(
                    f"exercise of option {option_id!r} in {year} creates lot {lot.id!r}, "
                    f"but the scenario already has a lot with that id"
                )
                continue
            lots[lot.id] = lot
            plan_lot_ids.add(lot.id)
        return lots, plan_lot_ids

    def _check_sales(
        self, plan: Plan, lots: dict[str, Lot], plan_lot_ids: set[str], problems: list[str]
    ) -> dict[tuple[str, str], float]:
        """The plan's sales with snapped share counts (zeros dropped); a sale in a window that is
        not in the horizon, or from a lot that does not exist by the window, is a problem."""
        sales: dict[tuple[str, str], float] = {}
        for key, x in plan.sales.items():
            lot_id, window_id = key
            what = f"sale from lot {lot_id!r} in window {window_id!r}"
            window = self.windows.get(window_id)
            if window is None:
                problems.append(f"{what}: no sale window {window_id!r} in the scenario")
                continue
            if window.year not in self.year_of:
                problems.append(f"{what}: the window's year {window.year} is not in the horizon")
                continue
            shares = self._snap(what, x, problems)
            if not shares:
                continue
            problem = self._lot_problem(what, lot_id, lots.get(lot_id), window, plan_lot_ids)
            if problem is not None:
                problems.append(problem)
                continue
            sales[(lot_id, window_id)] = shares
        return sales

    def _lot_problem(
        self, what: str, lot_id: str, lot: Lot | None, window: SaleWindow, plan_lot_ids: set[str]
    ) -> str | None:
        """Why the lot cannot be sold in the window, if it cannot: it does not exist (with a hint
        when it names an option the plan does not exercise that year), or not yet: a plan's lot
        exists from its year's exercise date, a scenario's from its own exercise date."""
        if lot is None:
            option_id, _, year = lot_id.rpartition("@")
            hint = ""
            if option_id in self.options and year.isdigit():
                hint = f" (the plan exercises no share of option {option_id!r} in {year})"
            return f"{what}: no such lot{hint}"
        if lot_id in plan_lot_ids:
            ty = self.year_of[lot.exercise_year]
            too_early = window.year < lot.exercise_year or (
                window.year == lot.exercise_year and window.date < ty.exercise_date
            )
            if too_early:
                return (
                    f"{what}: the window ({window.date.isoformat()}) comes before the "
                    f"exercise that creates the lot ({ty.exercise_date.isoformat()})"
                )
        elif window.date < lot.exercise_date:
            return (
                f"{what}: the window ({window.date.isoformat()}) comes before the lot's "
                f"exercise date ({lot.exercise_date.isoformat()})"
            )
        return None

    def _check_caps(
        self,
        sales: dict[tuple[str, str], float],
        same_day: dict[tuple[str, str], float],
        lots: dict[str, Lot],
        problems: list[str],
    ) -> None:
        """The sales summed: never more shares from a lot than it holds, nor more in a window
        (same-day exercises included) than its offer buys."""
        sold: dict[str, float] = defaultdict(float)
        per_window: dict[str, float] = defaultdict(float)
        for (lot_id, window_id), shares in sales.items():
            sold[lot_id] += shares
            per_window[window_id] += shares
        for (_, window_id), shares in same_day.items():
            per_window[window_id] += shares
        for lot_id, total in sold.items():
            if total > lots[lot_id].shares + _SHARE_TOLERANCE:
                problems.append(
                    f"lot {lot_id!r}: {_shares(total)} shares sold but only "
                    f"{_shares(lots[lot_id].shares)} held"
                )
        for window_id, total in per_window.items():
            cap = self.windows[window_id].max_shares
            if cap is not None and total > cap + _SHARE_TOLERANCE:
                problems.append(
                    f"window {window_id!r}: {_shares(total)} shares sold in all but the offer "
                    f"buys at most {_shares(cap)}"
                )

    # ------------------------------------------------------------------------------------------
    # Evaluation

    def evaluate(self, plan: Plan, check_cash: bool = True, detail: bool = True) -> Evaluation:
        """The exact evaluation of `plan`; raises InfeasiblePlan if it breaks a rule (the cash
        floor only if `check_cash`). Without `detail`, `actions` and `lots` are left empty: a
        baseline's probes read only the years and the totals."""
        checked = self.check(plan)
        deltas = self._deltas(checked, detail)
        years = self._years(deltas)
        if check_cash:
            self._check_floor(years)
        return self._end(checked, deltas, years, detail)

    def _deltas(self, checked: _Checked, detail: bool) -> _Deltas:
        """The actions summed per year, the year loop's only view of them (and, if `detail`,
        their rows)."""
        numbers = self.scenario.year_numbers
        deltas = _Deltas(
            fields={y: defaultdict(float) for y in numbers},
            sold={lot_id: dict.fromkeys(numbers, 0.0) for lot_id in checked.lots},
            itemize=checked.itemize,
        )
        self._add_exercises(checked, deltas, detail)
        self._add_sales(checked, deltas, detail)
        self._add_same_day(checked, deltas, detail)
        return deltas

    def _add_exercises(self, checked: _Checked, deltas: _Deltas, detail: bool) -> None:
        """Each exercise's effect on its year: the forms, the FICA wages of an NSO spread, the
        cost of the shares."""
        for (option_id, year), shares in checked.exercises.items():
            option, ty = self.options[option_id], self.year_of[year]
            effect = exercise_effect(option, ty)
            totals = _add_effect(deltas.fields[year], shares, effect.fields)
            deltas.fica_wages[year] += shares * effect.fica_wages
            deltas.cost[year] += -shares * effect.cash
            if detail:
                row = _exercise_row(option, ty, shares, effect.cash, totals)
                deltas.actions.append(((ty.exercise_date, 0, option_id), row))

    def _add_sales(self, checked: _Checked, deltas: _Deltas, detail: bool) -> None:
        """Each sale's effect on its window's year: the forms, the proceeds, the lot's shares
        sold that year."""
        for (lot_id, window_id), shares in checked.sales.items():
            lot, window = checked.lots[lot_id], self.windows[window_id]
            effect = sale_effect(lot, window)
            totals = _add_effect(deltas.fields[window.year], shares, effect.fields)
            deltas.proceeds[window.year] += shares * effect.cash
            deltas.sold[lot_id][window.year] += shares
            if detail:
                row = _sale_row(lot_id, lot, window, shares, effect.cash, totals)
                deltas.actions.append(((window.date, 1, lot_id, window_id), row))

    def _add_same_day(self, checked: _Checked, deltas: _Deltas, detail: bool) -> None:
        """Each exercise sold the same day in a window: its effect on the window's year, the
        strike paid and the price received (one action row)."""
        for (option_id, window_id), shares in checked.same_day.items():
            option, window = self.options[option_id], self.windows[window_id]
            effect = same_day_effect(option, window)
            totals = _add_effect(deltas.fields[window.year], shares, effect.fields)
            deltas.fica_wages[window.year] += shares * effect.fica_wages
            deltas.cost[window.year] += shares * option.strike
            deltas.proceeds[window.year] += shares * window.price
            if detail:
                row = _same_day_row(option, window, shares, totals)
                deltas.actions.append(((window.date, 2, option_id, window_id), row))

    def _years(self, deltas: _Deltas) -> list[dict[str, Any]]:
        """The year rows in order, passing from each year to the next what links them: the credit
        and the capital losses (regular and AMT) carried out on the plan's chain, the cash, and
        the extra tax (paid the next April)."""
        years: list[dict[str, Any]] = []
        carry = (self.scenario.amt_credit_carryforward, self.scenario.ca_amt_credit_carryforward)
        losses = loss_carryovers_in(self.scenario)
        cash = self.scenario.start_cash
        tax_due = 0.0  # the extra tax of the previous year, paid in April
        for i, ty in enumerate(self.scenario.years):
            row = self._year_tax(i, ty, deltas, carry, losses)
            cash = _add_cash(row, ty, deltas, cash, tax_due, self.scenario.cash_return)
            years.append(row)
            carry = _carried(row)
            losses = loss_carryovers_out(row)
            tax_due = row["extra_tax"]
        return years

    def _year_tax(
        self,
        i: int,
        ty: TaxYear,
        deltas: _Deltas,
        carry: tuple[float, float],
        losses: dict[str, float],
    ) -> dict[str, Any]:
        """One year's row up to its extra tax: the exact tax with the plan (own income plus the
        actions' deltas, `carry` and `losses` in on the plan's chains of credit and capital
        losses) against the same year with no action (`self.base`, on its own chains), and the
        employee FICA the plan adds."""
        y = ty.year
        inputs = self.own_income(ty)
        for f, v in deltas.fields[y].items():
            inputs[f] += v
        result = self._tax(ty, inputs, carry, losses, deltas.itemize.get(y))
        base = self.base[i]
        law = self.laws[y]
        wages_fica = ty.wages + deltas.fica_wages[y]
        plan_fica = fica(wages_fica, law)
        extra_fica = plan_fica - base["fica"]
        extra_tax = float(result["total_tax"]) - base["total_tax"] + extra_fica
        row: dict[str, Any] = {
            "year": y,
            # the law of the year, federal or (a resident's) the state's, is projected
            "projected": bool(law.projected or (ty.state and law.states[ty.state].projected)),
            "exercise_date": ty.exercise_date,
            "fmv": ty.fmv,
            **inputs,
            "amt_credit_carryforward": carry[0],
            "ca_amt_credit_carryforward": carry[1],
            **losses,
            "itemize": ty.itemize,
            "state": ty.state,
        }
        for f in TAX_FIELDS + STATE_TAX_FIELDS:
            row[f] = bool(result[f]) if f == "itemized" else float(result[f])
        for f in LINE_FIELDS:
            row[f] = float(result.get(f, 0.0))
        row.update(
            {
                "base_total_tax": base["total_tax"],
                "base_mtc_carryforward_out": base["mtc_carryforward_out"],
                "base_ca_credit_carryforward_out": base["ca_credit_carryforward_out"],
                **{f"base_{f}_out": v for f, v in base["losses_out"].items()},
                "fica_wages": wages_fica,
                "base_fica": base["fica"],
                "fica": plan_fica,
                "extra_fica": extra_fica,
                "extra_tax": extra_tax,
            }
        )
        return row

    def _end(
        self, checked: _Checked, deltas: _Deltas, years: list[dict[str, Any]], detail: bool
    ) -> Evaluation:
        """What is left at the end (the shares held, the options unexercised, the credit carried
        out) and its value, and both objectives: the final wealth and the extra taxes' PV."""
        sc = self.scenario
        held, lot_rows = _held(checked, deltas.sold, detail)
        exercised = _exercised(checked)
        unexercised = self._unexercised(exercised)
        terminal = terminal_value(
            sc, {k: (checked.lots[k], v) for k, v in held.items()}, unexercised
        )
        credit_left = years[-1]["mtc_carryforward_out"]
        base_credit_left = self.base[-1]["mtc_carryforward_out"]
        credit_left_value = sc.credit_value * (credit_left - base_credit_left)
        loss_left = years[-1]["st_loss_carryover_out"] + years[-1]["lt_loss_carryover_out"]
        base_losses = self.base[-1]["losses_out"]
        base_loss_left = base_losses["st_loss_carryover"] + base_losses["lt_loss_carryover"]
        loss_left_value = terminal_loss_value(sc) * (loss_left - base_loss_left)
        ca_left = years[-1]["ca_credit_carryforward_out"]
        base_ca_left = self.base[-1]["ca_credit_carryforward_out"]
        ca_left_value = ca_credit_value(sc) * (ca_left - base_ca_left)
        final_cash = years[-1]["cash"]
        last_tax = years[-1]["extra_tax"]
        wealth = (
            final_cash - last_tax + terminal + credit_left_value + loss_left_value + ca_left_value
        )
        rate = sc.discount_rate
        pv = sum(row["extra_tax"] / (1.0 + rate) ** i for i, row in enumerate(years))
        return Evaluation(
            objective=sc.objective,
            objective_value=wealth if sc.objective == "wealth" else pv,
            wealth=wealth,
            pv_extra_tax=pv,
            total_extra_tax=sum(row["extra_tax"] for row in years),
            final_cash=final_cash,
            last_year_tax=last_tax,
            terminal_value=terminal,
            credit_left=credit_left,
            base_credit_left=base_credit_left,
            credit_left_value=credit_left_value,
            loss_left=loss_left,
            base_loss_left=base_loss_left,
            loss_left_value=loss_left_value,
            years=years,
            actions=[row for _, row in sorted(deltas.actions, key=lambda a: a[0])],
            lots=lot_rows,
            held=held,
            unexercised=unexercised,
            required_shortfall=self._shortfall(exercised),
            ca_credit_left=ca_left,
            base_ca_credit_left=base_ca_left,
            ca_credit_left_value=ca_left_value,
        )

    def _unexercised(self, exercised: defaultdict[str, float]) -> dict[str, float]:
        """The options still vested and unexpired in the last year but not exercised: they keep a
        terminal value."""
        last = self.scenario.years[-1]
        unexercised: dict[str, float] = {}
        for option in self.scenario.options:
            left = float(option.exercisable.get(last.year, 0.0)) - exercised[option.id]
            if left > _SHARE_TOLERANCE:
                unexercised[option.id] = left
        return unexercised

    def _shortfall(self, exercised: defaultdict[str, float]) -> dict[str, float]:
        """The shares of `required_exercise` left unexercised, reported (not a feasibility rule)."""
        return {
            option_id: required - exercised[option_id]
            for option_id, required in self.scenario.required_exercise.items()
            if exercised[option_id] < required - _SHARE_TOLERANCE
        }

    def _check_floor(self, years: list[dict[str, Any]]) -> None:
        """The cash floor, checked after the year loop: the first year below it is refused, with
        the cash movements that brought it there."""
        floor = self.scenario.cash_floor
        for row in years:
            if row["cash"] < floor - CASH_TOLERANCE:
                parts = [f"{_money(row['cash_start'])} at the start"]
                if row["cash_return"]:
                    parts.append(f"{_money(row['cash_return'])} earned on it")
                if row["savings"]:
                    parts.append(f"{_money(row['savings'])} saved")
                if row["proceeds"]:
                    parts.append(f"{_money(row['proceeds'])} from sales")
                if row["exercise_cost"]:
                    parts.append(f"{_money(-row['exercise_cost'])} to exercise")
                if row["tax_paid"]:
                    parts.append(
                        f"{_money(-row['tax_paid'])} extra tax of {row['year'] - 1} paid in April"
                    )
                raise InfeasiblePlan(
                    [
                        f"cash falls below the floor in {row['year']}: "
                        f"{_money(row['cash'])} < {_money(floor)} ({', '.join(parts)})"
                    ]
                )


# ----------------------------------------------------------------------------------------------
# The pieces of an evaluation that need no Evaluator


def _carried(result: dict[str, Any]) -> tuple[float, float]:
    """The credits a year carries to the next: federal (Form 8801) and California's (FTB 3510)."""
    return float(result["mtc_carryforward_out"]), float(result["ca_credit_carryforward_out"])


def _add_effect(
    year_fields: defaultdict[str, float], shares: float, per_share: dict[str, float]
) -> dict[str, float]:
    """Adds an action's effect on the forms (per share, times its shares) to its year's deltas;
    returns the action's totals, which its row reports."""
    totals = {f: shares * v for f, v in per_share.items()}
    for f, v in totals.items():
        year_fields[f] += v
    return totals


def _exercise_row(
    option: OptionClass, ty: TaxYear, shares: float, cash: float, totals: dict[str, float]
) -> dict[str, Any]:
    """The action row of an exercise (`cash`: per share, negative: the strike paid)."""
    return {
        "year": ty.year,
        "date": ty.exercise_date,
        "kind": "exercise",
        "option_id": option.id,
        "lot_id": f"{option.id}@{ty.year}",
        "window_id": None,
        "shares": shares,
        "price": option.strike,
        "fmv": ty.fmv,
        "treatment": option.treatment(ty.exercise_date),
        "qualifying": None,
        "long_term": None,
        "cost": -shares * cash,
        "proceeds": 0.0,
        "cash": shares * cash,
        **{f: totals.get(f, 0.0) for f in EFFECT_FIELDS},
    }


def _same_day_row(
    option: OptionClass, window: SaleWindow, shares: float, totals: dict[str, float]
) -> dict[str, Any]:
    """The action row of an exercise sold the same day in a window (`price` the window's, the
    strike in `cost`)."""
    return {
        "year": window.year,
        "date": window.date,
        "kind": "exercise_and_sell",
        "option_id": option.id,
        "lot_id": None,
        "window_id": window.id,
        "shares": shares,
        "price": window.price,
        "fmv": window.price,
        "treatment": option.treatment(window.date),
        "qualifying": False if option.treatment(window.date) == ISO else None,
        "long_term": False,
        "cost": shares * option.strike,
        "proceeds": shares * window.price,
        "cash": shares * (window.price - option.strike),
        **{f: totals.get(f, 0.0) for f in EFFECT_FIELDS},
    }


def _sale_row(
    lot_id: str,
    lot: Lot,
    window: SaleWindow,
    shares: float,
    cash: float,
    totals: dict[str, float],
) -> dict[str, Any]:
    """The action row of a sale (`cash`: per share, the proceeds)."""
    return {
        "year": window.year,
        "date": window.date,
        "kind": "sale",
        "option_id": None,
        "lot_id": lot_id,
        "window_id": window.id,
        "shares": shares,
        "price": window.price,
        "fmv": None,
        "treatment": lot.kind,
        "qualifying": is_qualifying(lot, window.date) if lot.kind == ISO else None,
        "long_term": is_long_term(lot, window.date),
        "cost": 0.0,
        "proceeds": shares * cash,
        "cash": shares * cash,
        **{f: totals.get(f, 0.0) for f in EFFECT_FIELDS},
    }


def _add_cash(
    row: dict[str, Any],
    ty: TaxYear,
    deltas: _Deltas,
    cash_start: float,
    tax_due: float,
    rate: float,
) -> float:
    """Adds the year's cash to its row and returns the end-of-year balance: the year's return
    (`rate`, the scenario's `cash_return`) on the balance it starts with, savings and sale
    proceeds in; exercise cost and last year's extra tax (`tax_due`, paid in April) out (the
    module docstring says why the timing is so). With `rate` 0 the balance is the same float,
    to the last bit, as without a return."""
    y = ty.year
    earned = cash_start * rate
    cash_in = earned + ty.savings + deltas.proceeds[y]
    cash_out = deltas.cost[y] + tax_due
    cash = cash_start + cash_in - cash_out
    row.update(
        {
            "cash_start": cash_start,
            "cash_return": earned,
            "savings": ty.savings,
            "proceeds": deltas.proceeds[y],
            "exercise_cost": deltas.cost[y],
            "tax_paid": tax_due,
            "cash_in": cash_in,
            "cash_out": cash_out,
            "cash": cash,
        }
    )
    return cash


def _held(
    checked: _Checked, sold: dict[str, dict[int, float]], detail: bool
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The shares of each lot still held at the end (the terminal value counts them) and, if
    `detail`, one row per lot."""
    held: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    for lot_id, lot in checked.lots.items():
        held_end = max(lot.shares - sum(sold[lot_id].values()), 0.0)
        if held_end > 0:
            held[lot_id] = held_end
        if detail:
            source = "plan" if lot_id in checked.plan_lot_ids else "scenario"
            rows.append(_lot_row(lot, source, sold[lot_id], held_end))
    return held, rows


def _lot_row(lot: Lot, source: str, sold: dict[int, float], held_end: float) -> dict[str, Any]:
    """The row of one lot: where it comes from, its bases, its sales by year, what is left."""
    return {
        "lot_id": lot.id,
        "source": source,
        "grant_id": lot.grant_id,
        "kind": lot.kind,
        "exercise_year": lot.exercise_year,
        "exercise_date": lot.exercise_date,
        "shares": lot.shares,
        "regular_basis": lot.regular_basis,
        "amt_basis": lot.amt_basis,
        "sold": sold,
        "held_end": held_end,
    }


def _exercised(checked: _Checked) -> defaultdict[str, float]:
    """Shares exercised over the horizon, by option class (0 for those never exercised), those
    sold the same day included."""
    exercised: defaultdict[str, float] = defaultdict(float)
    for (option_id, _), shares in (*checked.exercises.items(), *checked.same_day.items()):
        exercised[option_id] += shares
    return exercised


def evaluate(
    scenario: Scenario, plan: Plan, laws: dict[int, YearLaw], check_cash: bool = True
) -> Evaluation:
    """The exact year-by-year evaluation of `plan` (see the module docstring).

    Raises InfeasiblePlan (a ValueError) with the reasons in words if the plan breaks a rule:
    share counts negative or not multiples of `scenario.share_step`; cumulative exercises of an
    option class above its vested-and-unexpired count of the year; sales from lots that do not
    exist (yet), more shares sold than held, a tender offer's cap exceeded; cash below the floor
    in some year (not checked if `check_cash` is False). Raises ValueError for a scenario it
    cannot evaluate (unknown objective, missing tax law)."""
    return Evaluator(scenario, laws).evaluate(plan, check_cash)


def with_deductions(plan: Plan, evaluation: Evaluation) -> Plan:
    """`plan` with the deduction its evaluation took in every year the scenario leaves open (a
    baseline's, chosen by the engine), so that a model can take it too (`models.milp.settle`)."""
    taken = {row["year"]: row["itemized"] for row in evaluation.years if row["itemize"] is None}
    return replace(plan, itemize={**taken, **plan.itemize})
