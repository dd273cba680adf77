"""The multi-year plan, end to end: validated scenario -> model -> solve -> plan -> exact
re-evaluation -> tables.

Every optimized plan is re-evaluated year by year by the exact engine (`models.exact`); the
tables show the exact figures beside the model's, and `plan_vs_exact` is the largest difference
over every year and tax line. A difference above $1 is a bug, reported as such, never rounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from models.baselines import best_baseline, evaluate_baselines_by
from models.exact import LINE_FIELDS, Evaluation, InfeasiblePlan, evaluate, with_deductions
from models.forms import FORM_LINES
from models.forms_ca import CA_FORM_LINES
from models.law import YearLaw, return_due_date
from models.milp import model_taxes, read_plan, settle
from models.pwl import value_of
from models.scenario import Plan, Scenario
from planner.key_dates import date_warnings, key_dates
from planner.options import PlanOptions
from planner.solve import (
    MIN_SECONDS,
    Budget,
    SolveResult,
    Stopwatch,
    marginal_values,
    model_of,
    retightened,
    solve,
)

COMPARED_LINES = (
    "regular_tax", "tmt", "amt", "niit", "mtc_allowed", "mtc_generated", "mtc_carryforward_out",
    "st_loss_carryover_out", "lt_loss_carryover_out", "amt_st_loss_carryover_out",
    "amt_lt_loss_carryover_out", "total_tax", "extra_tax", "ca_total_tax",
    "ca_credit_carryforward_out",
)  # fmt: skip
EXACT_TOLERANCE = 1.0  # dollars per year and line
CUT_SHORT = "cut short by the time limit"  # a baseline's note: its later actions were left out
# The stages of `run_plan`, in order, each timed (`PlanResult.stages`): the model's first build,
# the baselines (both passes), the LP bound tightening and the second build with its bounds, the
# solve (`planner.solve.solve`: the model handed to the solver, its three phases, the chosen plan
# settled into the model, a baseline's too when it beats the solver's), the plan read out and
# re-evaluated exactly (or, with no plan, the reason found), and what a dollar is worth.
PLAN_STAGES = (
    "build", "baselines", "tighten", "rebuild", "solve_setup", "solve_phase1", "solve_phase2",
    "solve_phase3", "solve_settle", "evaluate", "worth",
)  # fmt: skip


@dataclass
class PlanResult:
    """Everything a plan run produced (the optimized plan, its exact evaluation, the baselines)."""

    scenario: Scenario
    solve: SolveResult | None
    plan: Plan | None
    evaluation: Evaluation | None
    baselines: dict[str, tuple[Plan, Evaluation]]
    options: PlanOptions
    model_years: dict[int, dict[str, float]] = field(default_factory=dict)
    model_size: dict[str, int] = field(default_factory=dict)
    build_seconds: float = 0.0
    plan_vs_exact: float | None = None
    explanation: str | None = None
    cut_short: list[str] = field(default_factory=list)  # baselines the time limit cut short
    # The time limit cut something short: a baseline, or the solver (whose plan may then be the
    # best baseline's: its status alone cannot say why).
    time_limit_hit: bool = False
    laws: dict[int, YearLaw] = field(default_factory=dict)
    # What one more dollar is worth at the plan (`planner.solve.marginal_values`): of cash at
    # each year's end and of credit carried into each year; None when not asked or not solved.
    worth: dict[tuple[str, int], float] | None = None
    # Wall-clock seconds per stage (`PLAN_STAGES`; a stage that did not run is missing), so the
    # cost of a plan can be followed stage by stage; `build_seconds` and the solve's
    # `solve_seconds` keep their own, coarser meaning.
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return self.plan_vs_exact is not None and self.plan_vs_exact <= EXACT_TOLERANCE


def explain_infeasible(scenario: Scenario, laws: dict[int, YearLaw]) -> str:
    """Why no plan can meet the scenario's requirements, in words (the first reason found)."""
    if scenario.start_cash < scenario.cash_floor:
        return (
            f"the starting cash ${scenario.start_cash:,.0f} is already below the cash floor "
            f"${scenario.cash_floor:,.0f}"
        )
    try:
        base = evaluate(scenario, Plan(), laws)
    except InfeasiblePlan as exc:
        return f"even with no exercise or sale, {'; '.join(exc.problems)}"
    # The last year's cash with no action, above the floor, bounds the strike payments of the
    # whole horizon: a dollar paid in an earlier year would have grown by the return on cash
    # (with a negative return, shrunk by at most the whole horizon's).
    shrink = min(1.0, 1.0 + scenario.cash_return) ** (len(scenario.years) - 1)
    spare = (base.final_cash - scenario.cash_floor) / shrink
    for key, shares in scenario.required_exercise.items():
        options = [o for o in scenario.options if o.id == key]
        reachable = sum(max(o.exercisable.values(), default=0.0) for o in options)
        if reachable < shares:
            return (
                f"{key}: {shares:,.0f} shares must be exercised but only {reachable:,.0f} are "
                f"vested and unexpired in some year of the horizon"
            )
        cost = shares * min((o.strike for o in options), default=0.0)
        if cost > spare:
            return (
                f"not enough cash: exercising {shares:,.0f} shares of {key} costs at least "
                f"${cost:,.0f} in strike payments, but at most ${spare:,.0f} is ever "
                f"available above the cash floor"
            )
    return (
        "no plan keeps cash above the floor in every year while meeting the required "
        "exercises (their tax, paid the following April, included)"
    )


def run_plan(
    scenario: Scenario,
    laws: dict[int, YearLaw],
    options: PlanOptions,
    budget: Budget | None = None,
    *,
    worth: bool = False,
    clock: Stopwatch | None = None,
) -> PlanResult:
    """Optimize a scenario and re-evaluate the plan exactly; baselines on the same objective.
    The model's build, the baselines, the bound tightening and the solver run within `budget`
    (`planner.solve.Budget`, in that order; by default the options' time limit from now), and
    the baselines cut short have the time the solver leaves to finish. With `worth`, also what
    one more dollar of cash or of credit is worth at the plan (`PlanResult.worth`). Each stage's
    seconds go to `clock` (a new one by default; a caller's holds its own stages too) and to
    `PlanResult.stages`."""
    budget = budget or Budget.of(options.time_limit)
    clock = clock or Stopwatch()
    model = model_of(scenario, laws)
    clock.lap("build")
    baselines, cut_short = evaluate_baselines_by(scenario, laws, budget.for_baselines())
    sign = 1.0 if scenario.objective == "wealth" else -1.0
    best_name = best_baseline(baselines, scenario.objective)
    scale = max((abs(ev.objective_value) for _, ev in baselines.values()), default=1.0)
    floor = baselines[best_name][1].objective_value if best_name is not None else None
    clock.lap("baselines")
    model = retightened(model, laws, floor, budget, clock)
    result = PlanResult(
        scenario=scenario,
        solve=None,
        plan=None,
        evaluation=None,
        baselines=baselines,
        options=options,
        model_size=model.size,
        build_seconds=model.build_seconds,
        cut_short=cut_short,
        laws=laws,
        stages=clock.seconds,
    )
    gap = options.gap
    # Out of time, the solver runs only if no baseline can stand in for its plan.
    seconds = budget.left() if best_name is not None else max(budget.left(), MIN_SECONDS)
    result.solve = solve(model, options.solver, gap, seconds, scale, clock=clock)
    r = result.solve
    if cut_short and budget.left() > 0:
        # The solver left time: the baselines cut short start over with it (a policy cannot
        # resume where it stopped), and each that now finishes replaces its cut plan.
        again, still = evaluate_baselines_by(scenario, laws, budget.end, tuple(cut_short))
        baselines.update((n, again[n]) for n in again if n not in still)
        result.cut_short = cut_short = [n for n in cut_short if n in still or n not in again]
        best_name = best_baseline(baselines, scenario.objective)
        clock.lap("baselines")
    result.time_limit_hit = bool(cut_short) or r.status in ("time_limit", "no_solution")
    if best_name is not None:
        best_plan, best = baselines[best_name]
        below = r.objective is None or sign * (best.objective_value - r.objective) > gap * scale
        if below and not settle(model, with_deductions(best_plan, best)):
            # The solver ended below a baseline (time limit, none left for it, or a numerically
            # wrong proof): the baseline is the plan, still run through the model to compare
            # with the exact figures. The status says so.
            r.status, r.objective, r.gap = f"baseline:{best_name}", value_of(model.objective), None
            r.solver_objective = None
    clock.lap("solve_settle")
    if not r.has_plan:
        result.explanation = (
            explain_infeasible(scenario, laws)
            if r.status == "infeasible"
            else "the time limit ran out before any plan was found"
        )
        clock.lap("evaluate")
        return result
    result.plan = read_plan(model)
    result.model_years = model_taxes(model)
    try:
        result.evaluation = evaluate(scenario, result.plan, laws)
    except InfeasiblePlan as exc:  # the model and the rules disagree: a bug, shown as one
        raise RuntimeError(
            f"internal error: the optimized plan fails the exact check: {exc}"
        ) from None
    worst = model_vs_exact(result.model_years, r.objective, result.evaluation)
    result.plan_vs_exact = max(worst, solver_overshoot(r, sign))
    clock.lap("evaluate")
    if worth:
        seconds = max(budget.left(), MIN_SECONDS)
        result.worth = marginal_values(scenario, laws, result.plan, seconds)
        clock.lap("worth")
    return result


def solver_overshoot(r: SolveResult, sign: float) -> float:
    """How far the solver's own objective lies beyond the settled plan's (`sign` 1 when
    maximizing). It may fall short (slack the solver was indifferent to), never exceed it: a
    positive figure is a modelling error, counted with the model-vs-exact differences."""
    if r.solver_objective is None or r.objective is None:
        return 0.0
    return max(0.0, sign * (r.solver_objective - r.objective))


def model_vs_exact(
    model_years: dict[int, dict[str, float]], objective: float | None, ev: Evaluation
) -> float:
    """The largest difference between the model's figures (its objective, every compared tax
    line of every year) and the exact evaluation of the same plan."""
    worst = abs(objective - ev.objective_value) if objective is not None else 0.0
    for row in ev.years:
        for line in COMPARED_LINES:
            worst = max(worst, abs(model_years[row["year"]][line] - row[line]))
    return worst


# ----------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------


def totals(ev: Evaluation) -> dict[str, float]:
    """The headline figures of one evaluated plan: a row of `summary` (and of `compare`). The AMT
    paid and the credits used and left are federal plus California's (0 without California)."""
    years = ev.years
    return {
        "objective_value": ev.objective_value,
        "after_tax_wealth": ev.wealth,
        "pv_extra_tax": ev.pv_extra_tax,
        "total_extra_tax": ev.total_extra_tax,
        "amt_paid": sum(r["amt"] + r["ca_amt"] for r in years),
        "credit_used": sum(r["mtc_allowed"] + r["ca_credit_allowed"] for r in years),
        "credit_left": ev.credit_left + ev.ca_credit_left,
        "lowest_cash": ev.min_cash,
        "shares_exercised": sum(a["shares"] for a in ev.actions if a["kind"] != "sale"),
        "shares_sold": sum(a["shares"] for a in ev.actions if a["kind"] != "exercise"),
    }


def tables(result: PlanResult) -> dict[str, pd.DataFrame]:
    """summary, actions, years, lots, key_dates and warnings (`planner.key_dates`), as the
    `plan` command writes them (with no plan: summary, key_dates and warnings)."""
    s = result.scenario
    rows = []
    if result.evaluation is not None:
        r = result.solve
        assert r is not None
        rows.append({
            "approach": "optimized", **totals(result.evaluation), "solver": r.solver,
            "status": r.status, "gap": r.gap, "gap_requested": result.options.gap,
            "build_seconds": result.build_seconds, "solve_seconds": r.solve_seconds,
            "plan_vs_exact": result.plan_vs_exact, **{f"model_{k}": v for k, v in
                                                      result.model_size.items()},
        })  # fmt: skip
    for name, (_, ev) in result.baselines.items():
        short = sum(ev.required_shortfall.values())
        notes = [f"misses required exercise by {short:,.0f} shares"] if short else []
        if name in result.cut_short:
            notes.append(CUT_SHORT)
        rows.append({"approach": name, **totals(ev), "note": "; ".join(notes)})
    summary = pd.DataFrame(rows)
    out = {"summary": summary}
    # Key dates and warnings come last, and with no plan too: the deadlines are the scenario's;
    # so are its own figures and sale windows, which a report states as its assumptions.
    dated = {
        "windows": windows_table(s),
        "scenario": scenario_table(s),
        "key_dates": key_dates(s, result.plan),
        "warnings": date_warnings(s),
    }
    ev = result.evaluation
    if ev is None:
        return {**out, **dated}
    actions = pd.DataFrame(ev.actions)
    if not actions.empty:
        actions = actions[
            [
                "year",
                "date",
                "kind",
                "option_id",
                "lot_id",
                "window_id",
                "shares",
                "price",
                "fmv",
                "treatment",
                "qualifying",
                "long_term",
                "cost",
                "proceeds",
            ]
        ]
    out["actions"] = actions
    years = pd.DataFrame(ev.years)
    for line in COMPARED_LINES:
        years[f"model_{line}"] = [result.model_years[y][line] for y in years["year"]]
    if result.laws:
        years["tax_due_date"] = [return_due_date(result.laws[y]) for y in years["year"]]
    worth = result.worth or {}
    for kind in ("cash", "credit"):
        years[f"value_of_{kind}"] = [worth.get((kind, y), math.nan) for y in years["year"]]
    out["years"] = years.drop(columns=list(LINE_FIELDS))
    out["forms"] = forms_table(ev.years)
    lots = pd.DataFrame(ev.lots)
    if not lots.empty:
        sold = lots.pop("sold")
        for year in s.year_numbers:
            lots[f"sold_{year}"] = [d.get(year, 0.0) for d in sold]
    out["lots"] = lots
    return {**out, **dated}


WINDOW_COLUMNS = ("id", "kind", "year", "date", "price", "max_shares")


def windows_table(s: Scenario) -> pd.DataFrame:
    """The scenario's sale windows (`WINDOW_COLUMNS`): the open market's from the end of the
    IPO's lockup (`market`), and each tender offer (`tender`, with its cap)."""
    rows = [{c: getattr(w, c) for c in WINDOW_COLUMNS} for w in s.windows]
    return pd.DataFrame(rows, columns=list(WINDOW_COLUMNS))


def scenario_table(s: Scenario) -> pd.DataFrame:
    """The scenario's own figures in one row: what a plan assumed beyond each year's income and
    price (those are in `years`), for a report's assumptions and a CPA."""
    row = {
        "description": s.description, "filing_status": s.filing_status,
        "objective": s.objective, "start_cash": s.start_cash, "cash_floor": s.cash_floor,
        "cash_return": s.cash_return, "terminal_price": s.terminal_price,
        "terminal_tax_rate": s.terminal_tax_rate,
        "terminal_ordinary_rate": s.terminal_ordinary_rate, "credit_value": s.credit_value,
        "discount_rate": s.discount_rate, "share_step": s.share_step,
        "amt_credit_carryforward": s.amt_credit_carryforward,
        "ca_amt_credit_carryforward": s.ca_amt_credit_carryforward,
    }  # fmt: skip
    return pd.DataFrame([row])


FORMS_COLUMNS = ("year", "form", "line", "description", "amount")


def forms_table(years: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per year and form line of the exact evaluation (`FORMS_COLUMNS`), in form order:
    the federal forms every year, California's in a year of California residence, so a CPA can
    check each figure against the forms (`models.forms.FORM_LINES`, `CA_FORM_LINES`)."""
    rows = []
    for row in years:
        lines = {**FORM_LINES, **(CA_FORM_LINES if row["state"] == "ca" else {})}
        for key, (form, line, description) in lines.items():
            rows.append({"year": row["year"], "form": form, "line": line,
                         "description": description, "amount": float(row[key])})  # fmt: skip
    return pd.DataFrame(rows, columns=list(FORMS_COLUMNS))


def summary_lines(result: PlanResult) -> list[str]:
    """A few sentences for the console under the table."""
    s, r = result.scenario, result.solve
    lines = []
    if r is None or not r.has_plan:
        lines.append(f"No plan: {result.explanation}.")
        return lines
    ev = result.evaluation
    assert ev is not None
    what = "after-tax wealth" if s.objective == "wealth" else "present value of extra tax"
    best_name = best_baseline(result.baselines, s.objective)
    if best_name is not None:
        sign = 1 if s.objective == "wealth" else -1
        best = result.baselines[best_name][1].objective_value
        lines.append(
            f"Optimized {what}: ${ev.objective_value:,.0f}; best baseline "
            f"({best_name}) ${best:,.0f}; better by "
            f"${sign * (ev.objective_value - best):,.0f}."
        )
    else:
        lines.append(
            f"Optimized {what}: ${ev.objective_value:,.0f}; no baseline meets the "
            f"required exercises."
        )
    lines.append(
        f"Cash earns {s.cash_return * 100:.4g}% a year after tax (household.cash_return), in "
        f"the cash of every year."
    )
    carried = loss_carried_line(ev)
    if carried is not None:
        lines.append(carried)
    asked = result.options.gap
    if r.gap is not None:
        gap = f"{r.gap:.1e}"
    else:
        gap = f"<= {asked:.0e}" if r.status == "optimal" else "unknown"
    lines.append(
        f"Solver {r.solver}: {r.status}, gap {gap} (asked {asked:.0e}), build "
        f"{result.build_seconds:.2f} s, solve {r.solve_seconds:.2f} s."
    )
    check = "agree" if result.exact else "DISAGREE (a bug: please report)"
    lines.append(
        f"Exact re-evaluation and model {check}: largest difference "
        f"${result.plan_vs_exact:,.2f} over every year and tax line."
    )
    if result.time_limit_hit:
        cut = [f"baselines {', '.join(result.cut_short)} cut short"] if result.cut_short else []
        done = (
            "the plan is proven within the gap"
            if r.status == "optimal"
            else "a longer one may find a better plan"
        )
        lines.append(
            f"Time limit of {result.options.time_limit:g} s reached: {'; '.join([*cut, done])}."
        )
    if not math.isclose(ev.min_cash, s.cash_floor) and ev.min_cash < s.cash_floor:
        lines.append("Cash falls below the floor: a bug, please report.")
    return lines


def loss_carried_line(ev: Evaluation) -> str | None:
    """The capital losses the plan carries out of each year (short- plus long-term, regular and
    AMT: the years table's `*_loss_carryover_out`) in one sentence, or None if it carries none."""
    parts = []
    for row in ev.years:
        regular = row["st_loss_carryover_out"] + row["lt_loss_carryover_out"]
        amt = row["amt_st_loss_carryover_out"] + row["amt_lt_loss_carryover_out"]
        if regular > 0 or amt > 0:
            parts.append(f"{row['year']} ${regular:,.0f} / ${amt:,.0f}")
    if not parts:
        return None
    last = ev.years[-1]["year"]
    return (
        f"Capital loss carried to the next year (regular / AMT): {'; '.join(parts)}. A regular "
        f"loss left after {last} counts at terminal_tax_rate a dollar, as a held share's loss "
        f"does; an AMT one is not valued."
    )
