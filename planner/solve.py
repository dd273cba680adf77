"""Solving a built model: the one place a solver is constructed (CBC or HiGHS, one switch apart).

Solving starts a solver process or library and writes its files, so it lives in the application,
between `models.milp.build` and `models.milp.read_plan`.
"""

from __future__ import annotations

import math
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import highspy
import pulp

from models.law import YearLaw
from models.milp import LadderModel, build, settle
from models.pwl import value_of
from models.scenario import Scenario
from models.stochastic import StochasticModel

SOLVERS = ("cbc", "highs")


def make_solver(
    name: str,
    gap_abs: float,
    time_limit: float,
    log_path: str | None = None,
    *,
    presolve: bool = True,
) -> Any:
    """CBC (bundled with PuLP 3.3) or HiGHS (the highspy package), single-threaded.

    The gap is absolute: a solver measures a relative gap on the objective without its constant
    part (savings, starting cash), which would make "1e-4 of after-tax wealth" many times
    stricter than asked. (PuLP 3.3.2 also hands CBC `gapAbs` as a relative "-ratio": CBC's own
    option is named here.) CBC's MIP preprocessing is off: on these models it cut off the
    optimum and then proved a plan $15,906 worse optimal (a case kept in tests/test_milp.py).
    HiGHS runs without its RINS and feasibility-jump heuristics: on these small models most of a
    hard solve went into RINS's nested sub-MIPs (1.6 s of 2.3 s on one household), while the
    plans it finds come as fast from branching; a 60-client book solved in 38% less time.
    `presolve=False` turns HiGHS's presolve off (CBC's is off anyway): it pays on a model whose
    only integers are the kinks' binaries (20% less time), not once share counts are integers."""
    if name == "cbc":
        return pulp.PULP_CBC_CMD(
            msg=False,
            timeLimit=time_limit,
            threads=1,
            logPath=log_path,
            options=[f"allowableGap {gap_abs}", "preprocess off"],
        )
    if name == "highs":
        return pulp.HiGHS(
            msg=False,
            gapAbs=gap_abs,
            gapRel=0.0,
            timeLimit=time_limit,
            threads=1,
            mip_heuristic_run_rins=False,
            mip_heuristic_run_feasibility_jump=False,
            presolve="on" if presolve else "off",
        )
    raise ValueError(f"unknown solver {name!r} (use {' or '.join(SOLVERS)})")


def tighten(m: LadderModel, floor: float | None) -> dict[str, tuple[float, float]]:
    """Bounds for the inputs of the functions with an exact part (`Builder.inputs`), by
    optimization over the model's LP relaxation: the smallest and largest value each input takes
    in any solution of the relaxation whose objective is at least `floor` (the best baseline's,
    which the plan must match anyway). Interval arithmetic lets a year's AMTI reach every grant
    exercised at once; cash, the vesting and the objective cut usually say far less, and the
    relaxation of a concave kink is the better the narrower its range. One LP model, re-solved
    from the last basis for each bound (HiGHS)."""
    if not m.builder.inputs:
        return {}
    m.prob.solve(pulp.HiGHS(mip=False, msg=False, threads=1))  # builds prob.solverModel
    h = m.prob.solverModel  # its columns are the variables' `index`, set by PuLP
    # Each bound changes only the costs, so the last optimal basis stays feasible: primal simplex
    # goes on from it (37% less time than HiGHS's default dual simplex on a generated book).
    h.setOptionValue("simplex_strategy", 4)
    n = len(m.prob.variables())
    inf = highspy.kHighsInf
    if floor is not None:  # the objective cut, as a row
        obj = m.objective.expr
        level = floor - obj.constant
        margin = _margin(floor)
        lo, hi = (
            (level - margin, inf) if m.prob.sense == pulp.LpMaximize else (-inf, level + margin)
        )
        h.addRow(lo, hi, len(obj), [v.index for v in obj], list(obj.values()))
    out: dict[str, tuple[float, float]] = {}
    for name, x in m.builder.inputs.items():
        costs = [0.0] * n
        for v, c in x.expr.items():
            costs[v.index] = c
        h.changeColsCost(n, list(range(n)), costs)
        found = []
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            h.changeObjectiveSense(sense)
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                break
            found.append(h.getInfo().objective_function_value + x.expr.constant)
        if len(found) == 2:
            margin = _margin(max(map(abs, found)))
            out[name] = (found[0] - margin, found[1] + margin)
    return out


def _margin(size: float) -> float:
    """Outward rounding of an LP bound: a dollar, and LP tolerance on large amounts."""
    return 1.0 + 1e-7 * abs(size)


def build_tight(scenario: Scenario, laws: dict[int, YearLaw], floor: float | None) -> LadderModel:
    """The model, built a second time with the bounds `tighten` proves on the first."""
    started = time.perf_counter()
    bounds = tighten(build(scenario, laws), floor)
    m = build(scenario, laws, bounds)
    m.build_seconds = time.perf_counter() - started
    return m


@dataclass
class SolveResult:
    """status: optimal (within the gap), time_limit (a plan found, maybe not optimal),
    infeasible, no_solution (time ran out before any plan), or baseline:<name> (the solver
    ended below that baseline, which is kept as the plan)."""

    status: str
    objective: float | None
    gap: float | None  # achieved relative gap, if the solver reported its bound
    solve_seconds: float
    solver: str
    # The objective as the solver left it, before `models.milp.settle` put every tax on its
    # function: never better than `objective` (a better one is a modelling error).
    solver_objective: float | None = None

    @property
    def has_plan(self) -> bool:
        return self.status in ("optimal", "time_limit") or self.status.startswith("baseline:")


def _cbc_abs_gap(log: str) -> float | None:
    """|best bound - best plan| from CBC's closing lines (in CBC's own objective units, which
    differ from the model's by a constant, so the difference is the absolute gap)."""
    objective = re.findall(r"Objective value:\s*(-?[\d.eE+]+)", log)
    bound = re.findall(r"(?:Lower|Upper) bound:\s*(-?[\d.eE+]+)", log)
    if objective and bound:
        return abs(float(bound[-1]) - float(objective[-1]))
    if objective and ("Optimal - objective value" in log or "Optimal solution found" in log):
        return 0.0  # the search finished: proven within the allowable gap
    return None


def solve(
    m: LadderModel | StochasticModel,
    solver: str,
    gap: float,
    time_limit: float,
    scale: float,
    *,
    settle_with: Callable[[Any], list[str]] = settle,
) -> SolveResult:
    """Solve in place; the model's variables then hold the plan. `gap` is relative to `scale`,
    an estimate of the objective's size (e.g. the best baseline's). `m` is a `LadderModel` or
    any model with its `prob`, `objective` and share variables `decisions` (`models.stochastic`),
    whose `settle_with` puts every tax amount on its function at the (rounded) decisions.

    Three phases, one time limit. Most of a straight branch and bound goes into whole shares, not
    into the tax kinks: cash binds in most years, so the relaxation spends the last dollar on a
    fraction of a share and every year's rounding must be enumerated (a 10-year, 6-grant household
    took CBC 41 s; with shares relaxed, 0.7 s). So:

    1. the shares are relaxed to continuous (the kinks' binaries stay): its optimum, or the
       solver's proven bound on it, bounds every whole-share plan;
    2. every share count is confined to the whole numbers around its phase-1 value (floor or
       ceiling; if no such combination fits, e.g. sales that must sum to a lot's shares, one step
       more either side) and solved: a whole-share plan, proven within the gap when it is that
       close to the phase-1 bound;
    3. otherwise the full model, with the time left; the better plan of 2 and 3 is kept, and the
       gap is measured against the tighter of the two bounds.

    No MIP start: the best baseline as a start (settled, so complete and feasible) did not speed
    CBC up on the benchmark households; `planner.plan` keeps the baseline instead when the solver
    ends below it, and `tighten` uses its objective as a cut."""
    gap_abs = gap * max(1.0, abs(scale))
    sign = 1.0 if m.prob.sense == pulp.LpMaximize else -1.0
    shares = m.decisions
    box = {var.name: (var.lowBound, var.upBound) for var in shares}
    started = time.perf_counter()

    def left() -> float:
        return max(1.0, time_limit - (time.perf_counter() - started))

    for var in shares:
        var.cat = pulp.LpContinuous
    relaxed = _run(m, solver, gap_abs / 4, left(), presolve=False)
    for var in shares:
        var.cat = pulp.LpInteger
    if relaxed.status == "infeasible":  # no plan even with fractional shares
        return _no_plan(relaxed, started, solver)
    bound = relaxed.bound(sign)
    best: tuple[_Run, dict[str, float], float] | None = None
    if relaxed.found:
        around = {var.name: var.varValue or 0.0 for var in shares}
        for widen in (0, 1):  # floor or ceiling; failing that, one more step either side
            for var in shares:
                x, (lo, hi) = around[var.name], box[var.name]
                var.lowBound = max(lo, math.floor(x + 1e-6) - widen)
                var.upBound = min(hi, math.ceil(x - 1e-6) + widen)
            rounded = _run(m, solver, gap_abs / 4, left())
            if rounded.status != "infeasible":
                break
        for var in shares:
            var.lowBound, var.upBound = box[var.name]
        if rounded.found:
            best = _settled(m, rounded, shares, settle_with)
    if best is None or sign * (bound - best[2]) > gap_abs:
        full = _run(m, solver, gap_abs, left())
        bound = min(bound, full.bound(sign), key=lambda b: sign * b)
        if full.found:
            plan = _settled(m, full, shares, settle_with)
            if best is None or sign * (plan[2] - best[2]) > 0:
                best = plan
    if best is None:
        return _no_plan(relaxed, started, solver)
    run, chosen, objective = best
    for var in shares:  # the model may hold another phase's plan
        var.varValue = chosen[var.name]
    if settle_with(m):
        raise RuntimeError("internal error: a settled plan no longer fits the model")
    abs_gap = max(0.0, sign * (bound - objective))
    status = "optimal" if abs_gap <= gap_abs * (1 + 1e-9) else "time_limit"
    return SolveResult(
        status=status,
        objective=objective,
        gap=abs_gap / max(1.0, abs(objective)) if math.isfinite(abs_gap) else None,
        solve_seconds=time.perf_counter() - started,
        solver=solver,
        solver_objective=run.objective,
    )


@dataclass
class _Run:
    """One solver call: whether it found a plan, the objective as the solver left it (before
    `settle`) and the absolute gap it proved (None if it reported no bound)."""

    status: str
    found: bool
    objective: float | None
    abs_gap: float | None

    def bound(self, sign: float) -> float:
        """The best objective any plan of this model can reach, as far as the solver proved."""
        if self.status == "infeasible":
            return -sign * math.inf
        if self.objective is None or self.abs_gap is None:
            return sign * math.inf
        return self.objective + sign * self.abs_gap


def _run(
    m: LadderModel | StochasticModel,
    solver: str,
    gap_abs: float,
    time_limit: float,
    *,
    presolve: bool = True,
) -> _Run:
    with tempfile.TemporaryDirectory() as tmp:
        log_path = str(Path(tmp) / "cbc.log") if solver == "cbc" else None
        m.prob.solve(make_solver(solver, gap_abs, time_limit, log_path, presolve=presolve))
        log = Path(log_path).read_text() if log_path and Path(log_path).exists() else ""
    found = m.prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    if found:
        status = "optimal" if m.prob.sol_status == pulp.LpSolutionOptimal else "time_limit"
    else:
        status = "infeasible" if m.prob.status == pulp.LpStatusInfeasible else "no_solution"
    abs_gap = None
    if solver == "cbc":
        abs_gap = _cbc_abs_gap(log)
    elif found:
        info = m.prob.solverModel.getInfo()
        abs_gap = (
            abs(info.mip_dual_bound - info.objective_function_value)
            if info.mip_node_count >= 0
            else 0.0  # a pure LP (no binary left): its optimum is its bound
        )
    objective = value_of(m.objective) if found and m.objective is not None else None
    return _Run(status, found, objective, abs_gap)


def _settled(
    m: LadderModel | StochasticModel,
    run: _Run,
    shares: list[pulp.LpVariable],
    settle_with: Callable[[Any], list[str]],
) -> tuple[_Run, dict[str, float], float]:
    """The solver's plan (its share counts, rounded) with every tax on its function, and its
    objective."""
    for var in shares:
        var.varValue = float(round(var.varValue or 0.0))
    broken = settle_with(m)
    if broken:
        raise RuntimeError(
            f"internal error: the solver's plan breaks {', '.join(broken[:3])} once its taxes "
            "are settled"
        )
    return run, {var.name: var.varValue for var in shares}, value_of(m.objective)


def _no_plan(run: _Run, started: float, solver: str) -> SolveResult:
    """No whole-share plan: infeasible (even with fractional shares) or out of time."""
    return SolveResult(
        status=run.status if run.status == "infeasible" else "no_solution",
        objective=None,
        gap=None,
        solve_seconds=time.perf_counter() - started,
        solver=solver,
    )
