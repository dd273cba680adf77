"""What a plan is worth if the stock's price stays where it is today.

A plan's value over the best baseline is measured at the scenario's prices, and those are mostly
assumed growth (a private company's 409A value growing 20% a year, an IPO at a multiple): summed
over a book, the headline is more the assumption than the planning. So a batch also says what
the same plan is worth at **flat prices**: every price after the first year (each year's FMV, the
sale windows of later years, tenders and the market after the lockup, and the terminal price)
equal to the first year's FMV (`flat_prices`).

At flat prices, without re-optimizing, the plan made for the scenario's prices is evaluated
again by the exact engine (the deduction of each year the one with the lower tax), and the four
baselines are run again (their policies decide on the prices they see, as a batch of the flat
book would run them). The value of planning at flat prices is then the plan's objective less the
best baseline's, both at flat prices. Since the optimizer at flat prices could choose this very
plan, that value is a lower bound of what planning for flat prices is worth over the same
baselines (up to the solver's gap), at the cost of four baselines and one evaluation, not a
second solve. The part of the wealth that is only the assumed growth is the plan's after-tax
wealth at the scenario's prices less at flat prices.

It is not a figure when it would be a wrong one: a plan that breaks a rule at flat prices
(its sales at the lower prices no longer keep cash above the floor), or baselines cut short by
the time limit; `FlatValue.note` says which.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from models.baselines import best_baseline, evaluate_baselines_by
from models.exact import InfeasiblePlan, evaluate
from models.law import YearLaw
from models.scenario import Plan, Scenario


@dataclass(frozen=True)
class FlatValue:
    """A plan at flat prices: its after-tax wealth and objective less the best baseline's there
    (NaN, with `note` saying why, when there is no sound figure)."""

    wealth: float = math.nan
    value_over_best_baseline: float = math.nan
    best_baseline: str | None = None
    note: str = ""


def flat_prices(scenario: Scenario) -> Scenario:
    """The scenario with every price after its first year equal to the first year's FMV: the
    years' FMV, the sale windows of later years (a first-year window keeps its price: it is
    today's) and the terminal price."""
    first = scenario.years[0]
    price = first.fmv
    return replace(
        scenario,
        years=tuple(
            ty if ty.year == first.year else replace(ty, fmv=price) for ty in scenario.years
        ),
        windows=tuple(
            w if w.year == first.year else replace(w, price=price) for w in scenario.windows
        ),
        terminal_price=None if scenario.terminal_price is None else price,
    )


def flat_value(
    scenario: Scenario, plan: Plan, laws: dict[int, YearLaw], seconds: float
) -> FlatValue:
    """`plan` (made for `scenario`'s prices) and the baselines at flat prices; the baselines
    stop after `seconds` (a cut one makes the figure unsound: no figure then)."""
    flat = flat_prices(scenario)
    try:
        ev = evaluate(flat, replace(plan, itemize={}), laws)
    except InfeasiblePlan as exc:
        return FlatValue(note=f"the plan is infeasible at flat prices: {'; '.join(exc.problems)}")
    baselines, cut = evaluate_baselines_by(flat, laws, time.monotonic() + seconds)
    if cut:
        return FlatValue(ev.wealth, note="the baselines at flat prices hit the time limit")
    best = best_baseline(baselines, flat.objective)
    if best is None:
        return FlatValue(ev.wealth, note="no baseline is feasible at flat prices")
    sign = 1.0 if flat.objective == "wealth" else -1.0
    value = sign * (ev.objective_value - baselines[best][1].objective_value)
    return FlatValue(ev.wealth, value, best)
