"""The robust plan of a scenario with price paths, end to end: paths -> two-stage program
(`models.stochastic`) -> solve -> each path's plan -> exact re-evaluation per path -> tables; and
the value of the stochastic solution against the plan made for the average path.

VSS. The mean-value plan is the deterministic plan of the average path
(`models.stochastic.average_scenario`). Its decisions of the shared years are then fixed on
every path and the rest re-optimized for that path: the expected wealth of those plans is the
EEV. The robust plan's expected wealth RP is never below it (the EEV's plans are one feasible
point of the robust program), up to the solvers' gaps; VSS = RP - EEV is what planning for the
uncertainty is worth. When the mean-value plan's first years leave some path no feasible
continuation (its cash cannot stay above the floor), the EEV is undefined and the path is named.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import pandas as pd

from models.baselines import best_baseline, evaluate_baselines_by, stagger
from models.exact import Evaluation, InfeasiblePlan, evaluate
from models.milp import model_taxes, read_plan
from models.pwl import value_of
from models.scenario import Scenario
from models.stochastic import (
    average_scenario,
    build_stochastic,
    cvar,
    fix_first_stage,
    path_plans,
    settle_stochastic,
)
from planner.plan import (
    CUT_SHORT,
    EXACT_TOLERANCE,
    PlanResult,
    model_vs_exact,
    run_plan,
    solver_overshoot,
    tables,
    totals,
)
from planner.solve import MIN_SECONDS, Budget, SolveResult, model_of, solve, tighten
from planner.variants import Variant


@dataclass
class RobustResult:
    """The robust plan, each path's part of it (a `PlanResult` per path), and the mean-value
    plan carried onto every path."""

    variant: Variant
    solve: SolveResult
    paths: dict[str, PlanResult]
    model_size: dict[str, int]
    build_seconds: float
    mean_value: PlanResult | None = None
    eev: dict[str, Evaluation | None] = field(default_factory=dict)
    explanation: str | None = None
    mean_value_cut: bool = False  # the time limit ended before the EEV was known

    @property
    def probabilities(self) -> dict[str, float]:
        return self.variant.probabilities

    @property
    def has_plan(self) -> bool:
        return self.solve.has_plan

    def expected(self, values: dict[str, float]) -> float:
        return math.fsum(self.probabilities[n] * v for n, v in values.items())

    @property
    def rp(self) -> float | None:
        """Expected after-tax wealth of the robust plan (exact figures)."""
        evs = {n: r.evaluation for n, r in self.paths.items()}
        if any(e is None for e in evs.values()):
            return None
        return self.expected({n: e.objective_value for n, e in evs.items() if e is not None})

    @property
    def eev_value(self) -> float | None:
        if not self.eev or any(e is None for e in self.eev.values()):
            return None
        return self.expected({n: e.objective_value for n, e in self.eev.items() if e is not None})

    @property
    def vss(self) -> float | None:
        rp, eev = self.rp, self.eev_value
        return None if rp is None or eev is None else rp - eev

    @property
    def plan_vs_exact(self) -> float | None:
        """The largest model-vs-exact difference over the paths, or the solver's objective
        beyond the settled plan's if larger (`planner.plan.solver_overshoot`)."""
        found = [r.plan_vs_exact for r in self.paths.values() if r.plan_vs_exact is not None]
        return max(*found, solver_overshoot(self.solve, 1.0)) if found else None

    @property
    def exact(self) -> bool:
        return (
            all(r.exact for r in self.paths.values())
            and solver_overshoot(self.solve, 1.0) <= EXACT_TOLERANCE
        )


def run_robust(variant: Variant, mean_value: bool = True) -> RobustResult:
    """Solve the robust program of a variant with paths (with its options and law), re-evaluate
    every path's plan exactly, and (with `mean_value`) compute the EEV. One time limit for all
    (`planner.solve.Budget`): each path's bounds (a build and the tightening, for a third of
    it), the robust model's build, the baselines of every path, the solver, then the EEV with
    what is left."""
    laws, options = variant.laws, variant.options
    budget = Budget.of(options.time_limit)
    scenarios = dict(variant.paths)
    # Each path's bounds without an objective cut: on the robust plan a path may end below
    # its own best baseline. A path reached after the tightening's share has none.
    until = budget.for_tightening()
    bounds = {
        n: tighten(model_of(s, laws), None, until) if time.monotonic() < until else {}
        for n, s in scenarios.items()
    }
    sm = build_stochastic(
        scenarios, variant.probabilities, laws, variant.shared_years, variant.risk, bounds
    )
    baselines, cut_short = {}, {}
    ends = stagger(budget.for_baselines(), len(scenarios))
    for (n, s), end in zip(scenarios.items(), ends, strict=True):
        baselines[n], cut_short[n] = evaluate_baselines_by(s, laws, end)
    scale = max(
        (abs(ev.objective_value) for b in baselines.values() for _, ev in b.values()), default=1.0
    )
    # No baseline stands in for a robust plan: out of time, the solver still runs.
    seconds = max(budget.left(), MIN_SECONDS)
    r = solve(sm, options.solver, options.gap, seconds, scale, settle_with=settle_stochastic)
    result = RobustResult(
        variant=variant,
        solve=r,
        paths={},
        model_size=sm.size,
        build_seconds=sm.build_seconds,
    )
    plans = path_plans(sm) if r.has_plan else {}
    for name, s in scenarios.items():
        pr = PlanResult(
            scenario=s,
            solve=r,
            plan=plans.get(name),
            evaluation=None,
            baselines=baselines[name],
            options=options,
            model_size=sm.size,
            build_seconds=sm.build_seconds,
            cut_short=cut_short[name],
            laws=laws,
        )
        result.paths[name] = pr
        if pr.plan is None:
            continue
        m = sm.paths[name]
        pr.model_years = model_taxes(m)
        try:
            pr.evaluation = evaluate(s, pr.plan, laws)
        except InfeasiblePlan as exc:
            raise RuntimeError(
                f"internal error: the robust plan fails the exact check on path {name}: {exc}"
            ) from None
        pr.plan_vs_exact = model_vs_exact(pr.model_years, value_of(m.objective), pr.evaluation)
    if not r.has_plan:
        result.explanation = (
            "no plan meets every path's cash floor and the downside limits"
            if r.status == "infeasible"
            else "the time limit ran out before any plan was found"
        )
        return result
    if mean_value:
        _mean_value(result, scenarios, bounds, budget)
    return result


def _mean_value(
    result: RobustResult,
    scenarios: dict[str, Scenario],
    bounds: dict[str, dict[str, tuple[float, float]]],
    budget: Budget,
) -> None:
    """The plan for the average path, its first years fixed on every path, the rest
    re-optimized there (module docstring); each path's model with the bounds the robust plan
    proved for it. Within what is left of the budget, half of it for the plan: a solve the time
    limit stops before any plan leaves the EEV unknown (`mean_value_cut`), not infeasible."""
    laws, options = result.variant.laws, result.variant.options
    avg = average_scenario(scenarios, result.probabilities)
    result.mean_value_cut = budget.left() <= 0
    if result.mean_value_cut:
        return
    mv = run_plan(avg, laws, options, budget.part(0.5))  # half left to carry it onto the paths
    result.mean_value = mv
    if mv.plan is None:
        result.mean_value_cut = mv.solve is not None and mv.solve.status == "no_solution"
        result.eev = {} if result.mean_value_cut else dict.fromkeys(scenarios)
        return
    shared = tuple(avg.year_numbers[: result.variant.shared_years])
    for name, s in scenarios.items():
        m = model_of(s, laws, bounds[name])
        fix_first_stage(m, mv.plan, shared)
        ev = result.paths[name].evaluation
        scale = abs(ev.objective_value) if ev else 1.0
        r = solve(m, options.solver, options.gap, budget.left(), scale)
        if r.status == "no_solution":
            result.eev, result.mean_value_cut = {}, True
            return
        result.eev[name] = evaluate(s, read_plan(m), laws) if r.has_plan else None


# ----------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------


def expected_totals(
    evaluations: dict[str, Evaluation], probabilities: dict[str, float]
) -> dict[str, float]:
    """`planner.plan.totals` weighted by the paths' probabilities; the lowest cash is the lowest
    on any path (a floor holds on every path, not on average)."""
    rows = {n: totals(ev) for n, ev in evaluations.items()}
    out = {
        k: math.fsum(probabilities[n] * row[k] for n, row in rows.items())
        for k in next(iter(rows.values()))
    }
    out["lowest_cash"] = min(row["lowest_cash"] for row in rows.values())
    return out


def robust_tables(result: RobustResult) -> dict[str, pd.DataFrame]:
    """summary (the robust plan and the mean-value plan, in expected figures), paths (one row
    per path), and each path's actions, years, forms, lots, windows, scenario, key_dates and
    warnings with a `path` column."""
    probs, r, v = result.probabilities, result.solve, result.variant
    evs = {n: p.evaluation for n, p in result.paths.items() if p.evaluation is not None}
    rows = []
    if len(evs) == len(result.paths):
        wealth = {n: ev.wealth for n, ev in evs.items()}
        rows.append({
            "approach": "robust", **expected_totals(evs, probs), "solver": r.solver,
            "status": r.status, "gap": r.gap, "gap_requested": v.options.gap,
            "build_seconds": result.build_seconds, "solve_seconds": r.solve_seconds,
            "plan_vs_exact": result.plan_vs_exact, "worst_path_wealth": min(wealth.values()),
            f"cvar_{v.risk.cvar_alpha or 0.25:g}": cvar(wealth, probs, v.risk.cvar_alpha or 0.25),
            "eev": result.eev_value, "vss": result.vss, "paths": len(result.paths),
            "shared_years": v.shared_years,
            **{f"model_{k}": x for k, x in result.model_size.items()},
        })  # fmt: skip
    eev = {n: e for n, e in result.eev.items() if e is not None}
    if eev and len(eev) == len(result.paths):
        rows.append({
            "approach": "mean_value", **expected_totals(eev, probs),
            "worst_path_wealth": min(e.wealth for e in eev.values()),
            "note": "the plan for the average path, its first years fixed on every path",
        })  # fmt: skip
    out = {"summary": pd.DataFrame(rows)}
    path_rows = []
    per_path: dict[str, list[pd.DataFrame]] = {
        "actions": [], "years": [], "forms": [], "lots": [], "key_dates": [], "warnings": [],
        "windows": [], "scenario": [],
    }  # fmt: skip
    for name, pr in result.paths.items():
        ev, mv = pr.evaluation, result.eev.get(name)
        best = best_baseline(pr.baselines, pr.scenario.objective)
        path_rows.append({
            "path": name, "probability": probs[name], "description": v.descriptions.get(name, ""),
            **(totals(ev) if ev is not None else {}),
            "mean_value_wealth": mv.wealth if mv is not None else None,
            "robust_minus_mean_value": ev.wealth - mv.wealth if ev and mv else None,
            "best_baseline": f"{best} ({CUT_SHORT})" if best in pr.cut_short else best,
            "best_baseline_wealth": pr.baselines[best][1].objective_value if best else None,
            "plan_vs_exact": pr.plan_vs_exact,
        })  # fmt: skip
        for table, frame in tables(pr).items():
            if table in per_path and not frame.empty:
                per_path[table].append(frame.assign(path=name)[["path", *frame.columns]])
    out["paths"] = pd.DataFrame(path_rows)
    for table, frames in per_path.items():
        out[table] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out


def robust_lines(result: RobustResult) -> list[str]:
    """A few sentences for the console under the tables."""
    r, v = result.solve, result.variant
    if not r.has_plan:
        return [f"No robust plan: {result.explanation}."]
    lines = [
        f"Robust plan over {len(result.paths)} paths (decided now: "
        f"{', '.join(map(str, v.scenario.year_numbers[: v.shared_years]))}): expected after-tax "
        f"wealth ${result.rp:,.0f}."
    ]
    if result.vss is not None:
        # Both plans are optimal within the asked gap, so a VSS inside twice that is no value.
        allowed = v.options.gap * abs(result.rp or 0.0)
        noise = (
            f" (within the solvers' gaps of ${allowed:,.0f} each: no measurable value here)"
            if abs(result.vss) <= 2 * allowed
            else ""
        )
        lines.append(
            f"Plan for the average path, its first years carried onto every path: expected "
            f"${result.eev_value:,.0f}. Value of planning for the uncertainty (VSS): "
            f"${result.vss:,.0f}{noise}."
        )
    elif result.eev:
        stuck = [n for n, e in result.eev.items() if e is None]
        lines.append(
            "The plan for the average path leaves no feasible plan on path(s) "
            f"{', '.join(stuck)} (cash below the floor): the robust plan is the only one of "
            "the two that holds up on every path."
        )
    elif result.mean_value_cut:
        lines.append(
            f"The time limit of {v.options.time_limit:g} s ended before the plan for the average "
            "path was carried onto every path: no VSS."
        )
    gap = f"{r.gap:.1e}" if r.gap is not None else "unknown"
    lines.append(
        f"Solver {r.solver}: {r.status}, gap {gap} (asked {v.options.gap:.0e}), build "
        f"{result.build_seconds:.2f} s, solve {r.solve_seconds:.2f} s."
    )
    check = "agree" if result.exact else "DISAGREE (a bug: please report)"
    lines.append(
        f"Exact re-evaluation and model {check} on every path: largest difference "
        f"${result.plan_vs_exact or 0.0:,.2f} over every path, year and tax line."
    )
    return lines
