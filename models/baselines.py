"""Simple exercise-and-sale policies, to measure an optimized plan against.

Each policy turns a Scenario into a `Plan` that is feasible by construction: it decides year by
year, in date order, and takes each action (one option class's exercise, or one lot's sale in one
window) for as many shares as it wants, in multiples of `scenario.share_step`, **as far as cash
allows**: an action is cut down (by a search over share steps, each probe evaluated exactly
over the whole horizon with `models.exact`) to the most shares that keep the end-of-year cash of
every year at or above the cash floor, taking into account the extra tax paid the April after.
(A year already below the floor before the action, which happens only if the scenario itself runs
out of cash with no action, must not fall further; such a policy's plan fails the final
`evaluate`, and `evaluate_baselines` leaves it out.)

Option classes are taken cheapest strike first, then by grant date, then by id. No policy exercises
an option whose strike is above the FMV of the exercise date (under water; at FMV = strike an
exercise costs no tax and is taken), nor exercises-and-sells at a window price not above the
strike. Every policy's plan is evaluated with `models.exact.evaluate`, so all are comparable on
the scenario's objective (`evaluate_baselines`).

`scenario.required_exercise` (shares that must be exercised over the horizon, per option class):
with the "min_tax" objective a policy exercises no more of a class than required (none of a class
not listed), since the goal is the least tax for those exercises; with either objective, whatever
a policy leaves short of the requirement at the end is then exercised in the latest years where
it is exercisable (last year first), as far as cash allows.

A plan's time limit covers its baselines too: given a `Cutoff`, a policy takes no new action once
it has passed, and an action under way keeps the most shares found to fit so far. A plan cut short
is still feasible, but it is not the policy's own, so `evaluate_baselines_by` names it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from models.crossover import crossover
from models.exact import (
    CASH_TOLERANCE,
    HOUSEHOLD_FIELDS,
    Evaluation,
    Evaluator,
    InfeasiblePlan,
)
from models.forms import Household
from models.law import YearLaw
from models.scenario import (
    ISO,
    Lot,
    OptionClass,
    Plan,
    SaleWindow,
    Scenario,
    TaxYear,
    exercise_lot,
)

_EPS = 1e-9


def _copy(plan: Plan) -> Plan:
    return Plan(exercises=dict(plan.exercises), sales=dict(plan.sales))


def _option_order(scenario: Scenario) -> list[OptionClass]:
    return sorted(scenario.options, key=lambda o: (o.strike, o.grant_date, o.id))


@dataclass
class Cutoff:
    """The instant (`time.monotonic()`) after which a policy takes no new action, and whether
    it has had to cut one."""

    at: float
    cut: bool = False

    def passed(self) -> bool:
        """Whether the instant has passed; the caller then cuts its action, so it is recorded."""
        self.cut = self.cut or time.monotonic() >= self.at
        return self.cut


def stagger(deadline: float, n: int) -> Iterator[float]:
    """The instants k/n of the way from now to `deadline` (k = 1..n): the deadlines of n tasks
    run one after the other, so that a slow one leaves the others their share, and a quick one
    hands the time it did not use to the next."""
    start = time.monotonic()
    return (start + (deadline - start) * k / n for k in range(1, n + 1))


class _Builder:
    """A plan built action by action, each cut to what cash allows (and time: `Cutoff`)."""

    def __init__(
        self,
        scenario: Scenario,
        laws: dict[int, YearLaw],
        evaluator: Evaluator | None,
        cutoff: Cutoff | None,
    ) -> None:
        self.scenario = scenario
        self.cutoff = Cutoff(math.inf) if cutoff is None else cutoff
        self.step = scenario.share_step
        self.evaluator = Evaluator(scenario, laws) if evaluator is None else evaluator
        # The most each class may be exercised in all: the requirement under min_tax.
        self.limit: dict[str, float] = {
            o.id: (
                float(scenario.required_exercise.get(o.id, 0.0))
                if scenario.objective == "min_tax"
                else math.inf
            )
            for o in scenario.options
        }
        self.plan = Plan()
        self.evaluation = self.evaluator.evaluate(self.plan, check_cash=False, detail=False)
        self.window_year = {w.id: w.year for w in scenario.windows}

    def steps(self, shares: float) -> int:
        """Whole share steps in `shares` (rounded down)."""
        return max(math.floor(shares / self.step + _EPS), 0)

    def exercised(self, option_id: str) -> float:
        return sum(x for (o, _), x in self.plan.exercises.items() if o == option_id)

    def sold(self, lot_id: str) -> float:
        return sum(x for (lot, _), x in self.plan.sales.items() if lot == lot_id)

    def sold_in(self, window_id: str) -> float:
        return sum(x for (_, w), x in self.plan.sales.items() if w == window_id)

    def available(self, option: OptionClass, year: int) -> float:
        """Vested, unexpired shares of `option` in `year` not exercised yet (within the limit)."""
        most = min(float(option.exercisable.get(year, 0.0)), self.limit[option.id])
        return max(most - self.exercised(option.id), 0.0)

    def _with(
        self,
        shares: float,
        exercise: tuple[str, int] | None,
        sale: tuple[str, str] | None,
    ) -> Plan:
        plan = _copy(self.plan)
        if exercise is not None:
            plan.exercises[exercise] = plan.exercises.get(exercise, 0.0) + shares
        if sale is not None:
            plan.sales[sale] = plan.sales.get(sale, 0.0) + shares
        return plan

    def _probe(self, plan: Plan, since: int) -> tuple[float, float, Evaluation | None]:
        """The plan's cash slack, the same over the years from `since` on only, and its
        evaluation. The slack is the least, over the years, of end-of-year cash above the floor
        (above where cash already was, for a year the current plan leaves under the floor),
        tolerance included: the plan is acceptable when it is >= 0. The years before an action
        do not move with its size, so the search steers by the second figure. A plan that breaks
        a rule (an exercisable count that falls before expiry) has slack -inf."""
        try:
            evaluation = self.evaluator.evaluate(plan, check_cash=False, detail=False)
        except InfeasiblePlan:
            return -math.inf, -math.inf, None
        return self._slack(evaluation, None), self._slack(evaluation, since), evaluation

    def _slack(self, evaluation: Evaluation, since: int | None) -> float:
        floor = self.scenario.cash_floor
        return min(
            new["cash"] - min(floor, old["cash"]) + CASH_TOLERANCE
            for new, old in zip(evaluation.years, self.evaluation.years, strict=True)
            if since is None or new["year"] >= since
        )

    def add(
        self,
        max_steps: int,
        exercise: tuple[str, int] | None = None,
        sale: tuple[str, str] | None = None,
    ) -> float:
        """Add the exercise and/or sale of as many share steps as cash allows, up to
        `max_steps`; returns the shares added.

        The most steps k whose slack is >= 0. The slack of the years from the action's on falls
        with k along a piecewise-linear curve (the strike paid, and taxes that rise piece by
        piece), so the root of the chord between the two ends of the bracket usually lands on
        it: k = floor(root) is probed, then k + 1 to confirm it is the last. Where it does not,
        the bracket shrinks to the probe's side until it is one step wide, halving it instead
        after the same end has moved twice running (a chord stalls at one end of a curve that
        bends). With a slack that falls with k, the answer is the binary search's; only the
        number of probes differs. An exercise held is first cut to what its own year's cash can
        pay for (`_affordable`). Past the cutoff no probe is made: the action keeps the most steps
        found to fit so far (none before the first probe)."""
        if exercise is not None and sale is None:
            max_steps = min(max_steps, self._affordable(exercise))
        if max_steps <= 0 or self.cutoff.passed():
            return 0.0
        years = [] if exercise is None else [exercise[1]]
        if sale is not None:
            years.append(self.window_year[sale[1]])
        since = min(years)  # the first year the action changes

        def probe(k: int) -> tuple[float, float, Evaluation | None]:
            return self._probe(self._with(k * self.step, exercise, sale), since)

        ok, s_hi, best = probe(max_steps)
        if ok >= 0:
            return self._take(max_steps, exercise, sale, best)
        lo, hi, s_lo, best = 0, max_steps, self._slack(self.evaluation, since), None
        moved, times = 0, 0  # the end the last probes moved (-1 low, 1 high), how many in a row
        while hi - lo > 1 and not self.cutoff.passed():
            chord = math.isfinite(s_hi) and s_lo > s_hi and times < 2
            k = (lo + hi) // 2
            if chord:
                k = min(max(lo + math.floor((hi - lo) * s_lo / (s_lo - s_hi)), lo + 1), hi - 1)
            ok, slack, found = probe(k)
            side = 1 if ok < 0 else -1
            moved, times = side, times + 1 if side == moved else 1
            if ok < 0:
                hi, s_hi = k, slack
                continue
            lo, s_lo, best = k, slack, found
            if chord and k + 1 < hi:  # the chord's root is usually the last acceptable step
                ok, slack, found = probe(k + 1)
                if ok < 0:
                    hi, s_hi = k + 1, slack
                else:
                    lo, s_lo, best, times = k + 1, slack, found, times + 1
        return self._take(lo, exercise, sale, best)

    def _affordable(self, exercise: tuple[str, int]) -> int | float:
        """The most steps of an exercise (held, no sale) its own year's cash can pay for: in that
        year the strike is the only change (its tax is paid the April after), so more steps
        break the floor there whatever the later years say. A bound, not the answer: the search
        still probes, and rounding is allowed for by a margin, so it never cuts a step that fits.
        Skipping the probes of an exercise cash cannot pay for at all is most of its use."""
        option_id, year = exercise
        cost = self.step * self.evaluator.options[option_id].strike
        if cost <= 0.0:
            return math.inf
        cash = self.evaluation.year(year)["cash"]
        room = cash - min(self.scenario.cash_floor, cash) + CASH_TOLERANCE
        return math.floor(room / cost * (1.0 + 1e-9) + 1e-6)

    def _take(
        self,
        steps: int,
        exercise: tuple[str, int] | None,
        sale: tuple[str, str] | None,
        evaluation: Evaluation | None,
    ) -> float:
        if steps == 0 or evaluation is None:
            return 0.0
        self.plan = self._with(steps * self.step, exercise, sale)
        self.evaluation = evaluation
        return steps * self.step

    def make_up_required(self) -> Plan:
        """Exercise what is still short of `required_exercise`, latest years first; the plan."""
        for option in _option_order(self.scenario):
            for ty in reversed(self.scenario.years):
                short = self.scenario.required_exercise.get(option.id, 0.0)
                short -= self.exercised(option.id)
                if short <= _EPS:
                    break
                want = min(short, self.available(option, ty.year))
                self.add(math.ceil(want / self.step - _EPS), exercise=(option.id, ty.year))
        return self.plan

    def household(self, year: int) -> Household:
        """The Household of `year` under the plan so far (credit carried in included), with the
        deduction the engine chose for it."""
        row = self.evaluation.year(year)
        h = Household(**{f: row[f] for f in HOUSEHOLD_FIELDS})
        return replace(h, itemize=1.0 if row["itemized"] else 0.0)


def do_nothing_until_liquidity(
    scenario: Scenario,
    laws: dict[int, YearLaw],
    evaluator: Evaluator | None = None,
    cutoff: Cutoff | None = None,
) -> Plan:
    """Hold everything until shares can be sold, then cash out at every sale window.

    No exercise before the first sale window. At each window, in date order (a tender offer's
    `max_shares` counts across all lots):
      1. sell every share held that exists on the window's date (the scenario's lots, oldest
         exercise first, and any lot the plan created earlier), whatever its tax treatment;
      2. if the window is on or after its year's exercise date, exercise every vested,
         unexercised share of each option class whose strike is below the window price and sell
         it in the same window (an exercise-and-sell: for an ISO a same-year disqualifying
         disposition, for an NSO a sale at the exercise basis plus any gain since).
    Options are exercised only as far as they can be sold at once; a window dated before its
    year's exercise date sells held shares only. Each action is cut to what cash allows; then
    `required_exercise` is made up (see the module docstring).
    """
    b = _Builder(scenario, laws, evaluator, cutoff)
    years: dict[int, TaxYear] = {y.year: y for y in scenario.years}
    windows = sorted((w for w in scenario.windows if w.year in years), key=lambda w: (w.date, w.id))

    def held_lots(window: SaleWindow) -> list[Lot]:
        lots = [lot for lot in scenario.lots if lot.exercise_date <= window.date]
        for (option_id, year), shares in b.plan.exercises.items():
            ty = years[year]
            if year < window.year or (year == window.year and ty.exercise_date <= window.date):
                lots.append(exercise_lot(b.evaluator.options[option_id], ty, shares))
        return sorted(lots, key=lambda lot: (lot.exercise_date, lot.id))

    for window in windows:
        cap = math.inf if window.max_shares is None else float(window.max_shares)

        def room(window: SaleWindow = window, cap: float = cap) -> float:
            return cap - b.sold_in(window.id)

        for lot in held_lots(window):
            left = lot.shares - b.sold(lot.id)
            b.add(b.steps(min(left, room())), sale=(lot.id, window.id))
        ty = years[window.year]
        if window.date < ty.exercise_date:
            continue
        for option in _option_order(scenario):
            if option.strike >= window.price:
                continue
            n = b.steps(min(b.available(option, ty.year), room()))
            lot_id = exercise_lot(option, ty, 0.0).id
            b.add(n, exercise=(option.id, ty.year), sale=(lot_id, window.id))
    return b.make_up_required()


def exercise_all_now(
    scenario: Scenario,
    laws: dict[int, YearLaw],
    evaluator: Evaluator | None = None,
    cutoff: Cutoff | None = None,
) -> Plan:
    """Exercise everything as soon as it vests, and hold.

    In the first year, exercise every vested, unexpired share of every option class (ISO and
    NSO); in each later year, every share vested since (and any share cash did not allow
    before). Nothing is sold; the terminal value counts the held shares. Each exercise is cut to
    what cash allows; then `required_exercise` is made up (see the module docstring)."""
    b = _Builder(scenario, laws, evaluator, cutoff)
    for ty in scenario.years:
        for option in _option_order(scenario):
            if ty.fmv < option.strike:
                continue
            b.add(b.steps(b.available(option, ty.year)), exercise=(option.id, ty.year))
    return b.make_up_required()


def crossover_each_year(
    scenario: Scenario,
    laws: dict[int, YearLaw],
    evaluator: Evaluator | None = None,
    cutoff: Cutoff | None = None,
) -> Plan:
    """Each year, exercise and hold ISO shares up to the exact AMT crossover.

    For each year and each option class taxed as an ISO on that year's exercise date, the most
    shares (down to the share step) whose exercise leaves that year's AMT at zero, federal and,
    for a California resident, California's (`models.crossover.crossover`'s joint answer, with
    no AMT budget, on the year's Household including the exercises already chosen that year,
    the credit carried in, and the deduction the engine chose), capped by the vested, unexercised
    shares and by cash. NSO classes (and ISOs past their ISO deadline) are never exercised;
    nothing is sold. Then `required_exercise` is made up (see the module docstring), the one case
    where this policy may create AMT."""
    b = _Builder(scenario, laws, evaluator, cutoff)
    for ty in scenario.years:
        params = b.evaluator.params[ty.year]
        for option in _option_order(scenario):
            if option.treatment(ty.exercise_date) != ISO or ty.fmv < option.strike:
                continue
            available = b.available(option, ty.year)
            if b.steps(available) == 0:
                continue
            h = b.household(ty.year)
            ca = b.evaluator.ca_params[ty.year]
            found = crossover(h, params, option.strike, ty.fmv, available, ca=ca)
            best = found["california"]["best"] if ca is not None else found["best"]
            b.add(b.steps(best["shares"]), exercise=(option.id, ty.year))
    return b.make_up_required()


def even_split(
    scenario: Scenario,
    laws: dict[int, YearLaw],
    evaluator: Evaluator | None = None,
    cutoff: Cutoff | None = None,
) -> Plan:
    """Exercise each option class's shares evenly over the horizon, and hold.

    The shares of a class are those vested by the end of the horizon (the largest of its
    `exercisable` counts, so shares that expire within the horizon count too). After year k of
    n (k = 1..n) the class should have had round_down(total x k / n) shares exercised, to the
    share step; each year exercises what is missing from that target, as far as vesting, expiry
    and cash allow (a shortfall is made up in later years if it can be). Nothing is sold. Then
    `required_exercise` is made up (see the module docstring); under "min_tax" the total is the
    required number of shares."""
    b = _Builder(scenario, laws, evaluator, cutoff)
    n = len(scenario.years)
    for k, ty in enumerate(scenario.years, start=1):
        for option in _option_order(scenario):
            if ty.fmv < option.strike:
                continue
            total = max((float(v) for v in option.exercisable.values()), default=0.0)
            total = min(total, b.limit[option.id])
            target = b.steps(total * k / n) * b.step
            want = min(target - b.exercised(option.id), b.available(option, ty.year))
            b.add(b.steps(want), exercise=(option.id, ty.year))
    return b.make_up_required()


Policy = Callable[[Scenario, dict[int, YearLaw], Evaluator | None, Cutoff | None], Plan]
BASELINES: dict[str, Policy] = {
    "do_nothing_until_liquidity": do_nothing_until_liquidity,
    "exercise_all_now": exercise_all_now,
    "crossover_each_year": crossover_each_year,
    "even_split": even_split,
}


def evaluate_baselines(
    scenario: Scenario, laws: dict[int, YearLaw]
) -> dict[str, tuple[Plan, Evaluation]]:
    """Every baseline's plan and its exact evaluation, with no time limit
    (`evaluate_baselines_by`)."""
    return evaluate_baselines_by(scenario, laws, math.inf)[0]


def evaluate_baselines_by(
    scenario: Scenario,
    laws: dict[int, YearLaw],
    deadline: float,
    names: tuple[str, ...] = tuple(BASELINES),
) -> tuple[dict[str, tuple[Plan, Evaluation]], list[str]]:
    """Each baseline's plan (of `names`, in their order) and its exact evaluation, except those
    whose plan breaks the cash floor: a scenario whose cash falls below its floor even with no
    action leaves such policies nothing to cut down to, and no plan is measured against them.
    Then the names of the policies cut short by `deadline` (a `time.monotonic()` instant), each
    policy by its share (`stagger`).

    One `Evaluator` for all: it remembers each year's tax by its inputs, and the policies probe
    many of the same years (the no-action years, every policy's first steps)."""
    evaluator = Evaluator(scenario, laws)
    out, cut = {}, []
    for name, at in zip(names, stagger(deadline, len(names)), strict=True):
        cutoff = Cutoff(at)
        plan = BASELINES[name](scenario, laws, evaluator, cutoff)
        try:
            out[name] = (plan, evaluator.evaluate(plan))
        except InfeasiblePlan:
            continue
        if cutoff.cut:
            cut.append(name)
    return out, cut


def best_baseline(baselines: dict[str, tuple[Plan, Evaluation]], objective: str) -> str | None:
    """The best baseline on the scenario's objective among those that make the required
    exercises (the first of BASELINES on a tie), or None: the one a plan is measured against."""
    sign = 1.0 if objective == "wealth" else -1.0
    comparable = [n for n, (_, ev) in baselines.items() if not ev.required_shortfall]
    return max(comparable, key=lambda n: sign * baselines[n][1].objective_value, default=None)
