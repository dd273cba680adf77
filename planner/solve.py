"""Solving a built model: the one place a solver is constructed (HiGHS, SCIP or CBC, one switch
apart).

Solving starts a solver process or library and writes its files, so it lives in the application,
between `models.milp.build` and `models.milp.read_plan`.
"""

from __future__ import annotations

import math
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pulp
from highspy._core import _Highs

from models.law import YearLaw
from models.milp import LadderModel, NotModelled, build, settle
from models.pwl import value_of
from models.scenario import Plan, Scenario
from models.stochastic import StochasticModel
from planner.errors import InputError

SOLVERS = ("cbc", "highs", "scip")
MIN_SECONDS = 1.0  # the least a solver phase runs, so that a plan can still be found


# A solver's numbers are scaled by powers of two, which are exact in binary floating point.
SCALE = 2.0**-10
# HiGHS without its RINS and feasibility-jump heuristics: on these small models most of a hard
# solve went into RINS's nested sub-MIPs, while the plans it finds come as fast from branching
# (the figures are in the README's benchmark notes).
HIGHS_OPTIONS: dict[str, Any] = {
    "output_flag": False,
    "threads": 1,
    "mip_rel_gap": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_feasibility_jump": False,
}


class Scaled:
    """A PuLP problem as a solver's arrays, in scaled units: the one translation of the model
    that every in-process solver (`Highs`, `Scip`) is given, so no solver has a model of its own.

    The amounts run to $10M and a kink's binary multiplies a segment as wide as $9M, so a row
    sums terms near 1e13 while MIP tolerances are absolute (1e-6). Passed as PuLP builds it,
    HiGHS proved plans optimal that were not: of 250 generated 10-year households, one proved
    optimal a plan $346,714 worse than one the same model holds (the root node pruned the whole
    tree after its first incumbent), another $10,053 worse, and so did other clients with
    presolve on (tests/data/misproof). So every row and the objective are multiplied by `SCALE`
    and every continuous column except `shares` is divided by it (thousands of dollars, near
    enough); integer columns and the shares keep their units, so their bounds stay whole. On the
    same households no solve is then wrong, and solving is faster.

    Before each run a solver reads the shares' category and bounds from their PuLP variables
    (the phased `solve` relaxes and confines them); after it every variable's value is written
    back in dollars (`write_back`), so `settle` and `read_plan` work as after `prob.solve`."""

    def __init__(self, prob: pulp.LpProblem, shares: list[pulp.LpVariable]) -> None:
        self.variables = prob.variables()
        self.shares = shares
        self.index = index = {v.name: j for j, v in enumerate(self.variables)}
        self.share_cols = np.array([index[v.name] for v in shares], dtype=np.int32)
        free = np.array([v.cat != pulp.LpInteger for v in self.variables])
        free[self.share_cols] = False
        self.unit = np.where(free, 1.0 / SCALE, 1.0)  # dollars = unit * column value
        self.sign = -1.0 if prob.sense == pulp.LpMaximize else 1.0  # solvers minimize here
        lower = np.array([-np.inf if v.lowBound is None else v.lowBound for v in self.variables])
        upper = np.array([np.inf if v.upBound is None else v.upBound for v in self.variables])
        self.costs = self.sign * self.scaled(prob.objective)
        self.lower, self.upper = lower / self.unit, upper / self.unit
        starts, cols, values, row_lo, row_hi = [], [], [], [], []
        for c in prob.constraints.values():
            starts.append(len(cols))
            for v, a in c.items():
                if a:
                    j = index[v.name]
                    cols.append(j)
                    values.append(a * self.unit[j] * SCALE)
            lo, hi = c.getLb(), c.getUb()
            row_lo.append(-np.inf if lo is None else lo * SCALE)
            row_hi.append(np.inf if hi is None else hi * SCALE)
        self.starts = np.array([*starts, len(cols)], dtype=np.int32)  # CSR rows
        self.cols, self.values = np.array(cols, dtype=np.int32), np.array(values)
        self.row_lo, self.row_hi = np.array(row_lo), np.array(row_hi)
        self.integer = np.array([v.cat == pulp.LpInteger for v in self.variables])

    def scaled(self, expr: Any) -> np.ndarray:
        """The coefficients of a linear expression in dollars, as a row of the scaled model."""
        out = np.zeros(len(self.variables))
        for v, a in expr.items():
            out[self.index[v.name]] = a
        return out * self.unit * SCALE

    def share_bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The shares' bounds and integrality as their PuLP variables now say."""
        lo = np.array([v.lowBound for v in self.shares], dtype=float)
        hi = np.array([v.upBound for v in self.shares], dtype=float)
        return lo, hi, np.array([v.cat == pulp.LpInteger for v in self.shares])

    def write_back(self, values: np.ndarray) -> None:
        """A solution's columns into the PuLP variables, in dollars."""
        for v, x in zip(self.variables, np.asarray(values) * self.unit, strict=True):
            v.varValue = float(x)


class Highs(Scaled):
    """`Scaled` in HiGHS, built once and run as often as needed.

    The model is HiGHS's core class, `_Highs`: `highspy.Highs` (1.16) prints its banner to
    standard output when it is made, before `output_flag` can be set, which broke `--json`."""

    def __init__(self, prob: pulp.LpProblem, shares: list[pulp.LpVariable]) -> None:
        super().__init__(prob, shares)
        self.h = Highs.load(self)

    @staticmethod
    def load(a: Scaled) -> _Highs:
        """`a`'s arrays in a new HiGHS model, its options set."""
        h = _Highs()
        for key, value in HIGHS_OPTIONS.items():
            h.setOptionValue(key, value)
        n = len(a.variables)
        h.addCols(n, a.costs, a.lower, a.upper, 0, [], [], [])
        h.addRows(len(a.row_lo), a.row_lo, a.row_hi, len(a.cols), a.starts[:-1], a.cols, a.values)
        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), _kinds(a.integer))
        return h

    def relax(self) -> None:
        """Every column continuous: the LP relaxation."""
        _relax(self.h, len(self.variables))

    def run(self, gap_abs: float, time_limit: float, *, presolve: bool = True) -> _Run:
        """Solve with the shares as their PuLP variables now say; the values back in PuLP."""
        h, k = self.h, len(self.shares)
        lo, hi, integer = self.share_bounds()
        h.changeColsBounds(k, self.share_cols, lo, hi)
        h.changeColsIntegrality(k, self.share_cols, _kinds(integer))
        h.setOptionValue("mip_abs_gap", gap_abs * SCALE)
        h.setOptionValue("time_limit", float(time_limit))
        h.setOptionValue("presolve", "on" if presolve else "off")
        h.run()
        status, info = h.getModelStatus(), h.getInfo()
        found = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        if not found:
            infeasible = status in (
                highspy.HighsModelStatus.kInfeasible,
                highspy.HighsModelStatus.kUnboundedOrInfeasible,
            )
            return _Run("infeasible" if infeasible else "no_solution", False, None, None)
        self.write_back(np.asarray(h.getSolution().col_value))
        mip = info.mip_node_count >= 0  # an LP (no integer left) has no node count
        abs_gap = abs(info.mip_dual_bound - info.objective_function_value) / SCALE if mip else 0.0
        optimal = status == highspy.HighsModelStatus.kOptimal
        return _Run("optimal" if optimal else "time_limit", True, None, abs_gap)


def _kinds(integer: np.ndarray) -> np.ndarray:
    """HiGHS's integrality of each column."""
    kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
    return np.array([kinds[bool(i)] for i in integer])


def _relax(h: _Highs, n: int) -> None:
    """Every one of the `n` columns of `h` continuous."""
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), _kinds(np.zeros(n, dtype=bool)))


class Scip(Scaled):
    """`Scaled` in SCIP (PySCIPOpt), with `Highs.run`'s interface: the same arrays, another
    branch and bound, single-threaded, its output off.

    SCIP's presolve is off unless asked for, as HiGHS's is in phase 1; an absolute gap as
    `limits/absgap` in the scaled objective's units. Between runs the problem returns to its
    original stage (`freeTransform`), where the shares' bounds and types may change. Its
    tolerances are its own: an integer may sit 1e-6 from whole, which on a kink's big-M of
    $180,000 left a tax 18 cents below its function, and a plan whose cash broke the floor once
    its taxes were settled (a tighter tolerance, 1e-7, made it prove optimal a plan $17,800
    short of the optimum). So each solution is polished (`_polished`): its integers fixed where
    rounded, its LP solved by HiGHS on the same arrays; where that has no solution, the run
    found no plan. HiGHS stays the default (the README's benchmark notes say why)."""

    def __init__(self, prob: pulp.LpProblem, shares: list[pulp.LpVariable]) -> None:
        from pyscipopt import Model, quicksum  # imported with the solver: the default is HiGHS

        super().__init__(prob, shares)
        self.m = m = Model()
        m.hideOutput()
        m.setParam("limits/gap", 0.0)
        self.lp: _Highs | None = None  # `_polished`'s LP, made when first needed
        self.x = [
            m.addVar(
                name=f"x{j}", obj=float(self.costs[j]),
                lb=None if lo == -np.inf else float(lo), ub=None if hi == np.inf else float(hi),
                vtype="I" if self.integer[j] else "C",
            )
            for j, (lo, hi) in enumerate(zip(self.lower, self.upper, strict=True))
        ]  # fmt: skip
        for i, (lo, hi) in enumerate(zip(self.row_lo, self.row_hi, strict=True)):
            a, b = self.starts[i], self.starts[i + 1]
            terms = zip(self.cols[a:b], self.values[a:b], strict=True)
            expr = quicksum(float(v) * self.x[j] for j, v in terms)
            if hi == np.inf:
                m.addCons(expr >= lo)
            elif lo == -np.inf:
                m.addCons(expr <= hi)
            else:  # a range (an equation when lo == hi)
                m.chgLhs(m.addCons(expr <= hi), lo)

    def run(self, gap_abs: float, time_limit: float, *, presolve: bool = True) -> _Run:
        """Solve with the shares as their PuLP variables now say; the values back in PuLP."""
        from pyscipopt import SCIP_PARAMSETTING

        m = self.m
        m.freeTransform()
        for j, lo, hi, integer in zip(self.share_cols, *self.share_bounds(), strict=True):
            x = self.x[j]
            m.chgVarType(x, "I" if integer else "C")
            m.chgVarLb(x, float(lo))
            m.chgVarUb(x, float(hi))
        m.setParam("limits/absgap", gap_abs * SCALE)
        m.setParam("limits/time", float(time_limit))
        m.setPresolve(SCIP_PARAMSETTING.DEFAULT if presolve else SCIP_PARAMSETTING.OFF)
        m.optimize()
        status = m.getStatus()
        # The solutions of the last run are kept across `freeTransform`, and one stopped by the
        # time limit may not have checked them against the shares' new bounds and types: the
        # best one that fits this run's problem, if any.
        fits = [
            sol for sol in m.getSols()
            if m.checkSol(sol, printreason=False, original=True)
        ]  # fmt: skip
        if not fits:
            infeasible = status in ("infeasible", "inforunbd")
            return _Run("infeasible" if infeasible else "no_solution", False, None, None)
        best = min(fits, key=m.getSolObjVal)
        polished = self._polished(np.array([m.getSolVal(best, x) for x in self.x]))
        if polished is None:  # whole only within SCIP's tolerance: no plan from this run
            return _Run("no_solution", False, None, None)
        self.write_back(polished)
        abs_gap = abs(m.getDualbound() - m.getSolObjVal(best)) / SCALE
        optimal = status in ("optimal", "gaplimit")
        return _Run("optimal" if optimal else "time_limit", True, None, abs_gap)

    def _polished(self, values: np.ndarray) -> np.ndarray | None:
        """`values` with every integer column fixed where rounded and the rest solved again as
        an LP by HiGHS, on the same arrays; None if no such solution exists."""
        n = len(self.variables)
        if self.lp is None:
            self.lp = Highs.load(self)
            _relax(self.lp, n)
        lo, hi = self.lower.copy(), self.upper.copy()
        share_lo, share_hi, share_integer = self.share_bounds()
        lo[self.share_cols], hi[self.share_cols] = share_lo, share_hi
        integer = self.integer.copy()
        integer[self.share_cols] = share_integer
        lo[integer] = hi[integer] = np.round(values[integer])
        self.lp.changeColsBounds(n, np.arange(n, dtype=np.int32), lo, hi)
        self.lp.setOptionValue("time_limit", MIN_SECONDS)
        self.lp.run()
        if self.lp.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.asarray(self.lp.getSolution().col_value)


class Cbc:
    """CBC (bundled with PuLP 3.3) through PuLP, single-threaded, with `Highs.run`'s interface.

    PuLP 3.3.2 hands CBC `gapAbs` as a relative "-ratio", so CBC's own option is named. CBC's MIP
    preprocessing is off (`presolve` is ignored): on these models it cut off the optimum and then
    proved a plan $15,906 worse optimal (a case kept in tests/test_milp.py)."""

    def __init__(self, prob: pulp.LpProblem) -> None:
        self.prob = prob

    def run(self, gap_abs: float, time_limit: float, *, presolve: bool = True) -> _Run:
        with tempfile.TemporaryDirectory() as tmp:
            log_path = Path(tmp) / "cbc.log"
            self.prob.solve(pulp.PULP_CBC_CMD(
                msg=False, timeLimit=time_limit, threads=1, logPath=str(log_path),
                options=[f"allowableGap {gap_abs}", "preprocess off"],
            ))  # fmt: skip
            log = log_path.read_text() if log_path.exists() else ""
        sol = self.prob.sol_status
        if sol not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
            infeasible = self.prob.status == pulp.LpStatusInfeasible
            return _Run("infeasible" if infeasible else "no_solution", False, None, None)
        status = "optimal" if sol == pulp.LpSolutionOptimal else "time_limit"
        return _Run(status, True, None, _cbc_abs_gap(log))


def make_solver(m: LadderModel | StochasticModel, name: str) -> Highs | Scip | Cbc:
    """The one place a solver is chosen: HiGHS (the highspy package), SCIP (PySCIPOpt) or CBC,
    each run with an absolute gap (a solver's relative gap is measured on the objective without
    its constant part, savings and starting cash, which would make "1e-4 of after-tax wealth"
    many times stricter than asked)."""
    if name == "highs":
        return Highs(m.prob, m.decisions)
    if name == "cbc":
        return Cbc(m.prob)
    if name == "scip":
        return Scip(m.prob, m.decisions)
    raise ValueError(f"unknown solver {name!r} (use {' or '.join(SOLVERS)})")


def tighten(
    m: LadderModel, floor: float | None, until: float = math.inf
) -> dict[str, tuple[float, float]]:
    """Bounds for the inputs of the functions with an exact part (`Builder.inputs`), by
    optimization over the model's LP relaxation: the smallest and largest value each input takes
    in any solution of the relaxation whose objective is at least `floor` (the best baseline's,
    which the plan must match anyway). Interval arithmetic lets a year's AMTI reach every grant
    exercised at once; cash, the vesting and the objective cut usually say far less, and the
    relaxation of a concave kink is the better the narrower its range. One LP model (scaled, as
    every HiGHS model here: `Highs`), re-solved from the last basis for each bound.

    Each bound is proven on its own, so the work stops at `until` (a `time.monotonic()` instant)
    with the bounds found by then: they only make the model's relaxation tighter."""
    if not m.builder.inputs or time.monotonic() >= until:
        return {}
    lp = Highs(m.prob, [])
    lp.relax()
    h = lp.h

    def run() -> bool:
        """Solve the LP within the time left; False if none is."""
        left = until - time.monotonic()
        if left > 0:
            h.setOptionValue("time_limit", left)
            h.run()
        return left > 0

    run()
    # Each bound changes only the costs, so the last optimal basis stays feasible: primal simplex
    # goes on from it, where HiGHS's default dual simplex would start over.
    h.setOptionValue("simplex_strategy", 4)
    if floor is not None:  # the objective cut, as a row: sign * objective <= sign * floor
        obj = m.objective.expr
        cut = lp.sign * lp.scaled(obj)
        level = lp.sign * (floor - obj.constant) + _margin(floor)
        cols = np.flatnonzero(cut).astype(np.int32)
        h.addRow(-highspy.kHighsInf, level * SCALE, len(cols), cols, cut[cols])
    n = len(lp.variables)
    everything = np.arange(n, dtype=np.int32)
    inputs = list(m.builder.inputs.values())
    rows = np.array([lp.scaled(x.expr) for x in inputs])
    # The least and largest value of each input over the relaxation's solutions found so far.
    # Interval arithmetic's bound is proven, so where a solution already reaches it (within the
    # margin) the LP could not find a tighter one: its solve is skipped.
    seen = np.full((2, len(inputs)), np.nan)

    def see() -> None:
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return
        values = rows @ np.asarray(h.getSolution().col_value) / SCALE
        seen[0] = np.fmin(seen[0], values)
        seen[1] = np.fmax(seen[1], values)

    see()
    out: dict[str, tuple[float, float]] = {}
    for k, (name, x) in enumerate(m.builder.inputs.items()):
        found = []
        for side, sense, known in ((0, 1.0, x.lo), (1, -1.0, x.hi)):  # least, then largest
            if abs(seen[side, k] + x.expr.constant - known) <= 1.0:
                found.append(known)
                continue
            h.changeColsCost(n, everything, sense * rows[k])
            if not run():
                return out
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                break
            see()
            found.append(sense * h.getInfo().objective_function_value / SCALE + x.expr.constant)
        if len(found) == 2:
            margin = _margin(max(map(abs, found)))
            out[name] = (found[0] - margin, found[1] + margin)
    return out


def _margin(size: float) -> float:
    """Outward rounding of an LP bound: a dollar, and LP tolerance on large amounts."""
    return 1.0 + 1e-7 * abs(size)


@dataclass(frozen=True)
class Budget:
    """One time limit for a whole plan: the model's build, the baselines, the bound tightening
    and the solver, in that order, all within it (`end`, a `time.monotonic()` instant).

    The build goes first because it cannot stop midway: started first, it delays the end only
    when it alone takes longer than the limit. Then each stage that can stop does so at its
    share of the time left, the solver, which makes the plan, having the rest: the baselines
    are comparisons and the fallback plan, and the tightening only speeds the solve."""

    end: float
    seconds: float  # the whole limit

    @classmethod
    def of(cls, seconds: float) -> Budget:
        """`seconds` from now."""
        return cls(time.monotonic() + seconds, seconds)

    def left(self) -> float:
        """Seconds to the end (negative once past it)."""
        return self.end - time.monotonic()

    def for_baselines(self) -> float:
        """When the baselines stop: half the time left, but at least a tenth of the limit from
        now, so that a build that took it all still leaves plans to choose from. Half rather than
        less, because a baseline cut short starts over from nothing (README, benchmark notes)."""
        return time.monotonic() + max(self.left() / 2, self.seconds / 10)

    def for_tightening(self) -> float:
        """When the bound tightening stops: a third of the time left."""
        return time.monotonic() + self.left() / 3

    def part(self, share: float) -> Budget:
        """The budget of a part of the work that must leave time for the rest: `share` of the
        time left."""
        return Budget(time.monotonic() + share * self.left(), self.seconds)


UNLIMITED = Budget(math.inf, math.inf)


@dataclass
class Stopwatch:
    """Wall-clock seconds per stage of a plan (`planner.plan.PLAN_STAGES`), so that a batch's
    cost per client can be followed stage by stage. Each `lap` charges the time since the last
    one to the stage just ended, so the stages together cover the whole span, nothing counted
    twice; a stage that runs twice (the baselines) adds up."""

    seconds: dict[str, float] = field(default_factory=dict)
    last: float = field(default_factory=time.perf_counter)

    def lap(self, stage: str) -> None:
        """`stage` has just ended."""
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self.last
        self.last = now


def model_of(
    scenario: Scenario,
    laws: dict[int, YearLaw],
    bounds: dict[str, tuple[float, float]] | None = None,
) -> LadderModel:
    """The scenario's MILP (`models.milp.build`); a scenario it cannot yet plan exactly is bad
    input for now, said in one line (`InputError`), not a plan on an approximation."""
    try:
        return build(scenario, laws, bounds)
    except NotModelled as exc:
        raise InputError(f"cannot plan this scenario exactly: {exc}") from None


def build_tight(scenario: Scenario, laws: dict[int, YearLaw], floor: float | None) -> LadderModel:
    """The model, built a second time with the bounds `tighten` proves on the first."""
    return retightened(model_of(scenario, laws), laws, floor)


def retightened(
    m: LadderModel,
    laws: dict[int, YearLaw],
    floor: float | None,
    budget: Budget = UNLIMITED,
    clock: Stopwatch | None = None,
) -> LadderModel:
    """`m` built a second time with the bounds `tighten` proves on it within the budget's share.
    `m` itself is kept when no bound was found, or when the second build, which takes about as
    long as the first, would leave the solver less time than that. Its `build_seconds` count
    the builds and the tightening; `clock` gets the stages `tighten` and `rebuild` (0 when
    skipped)."""
    clock = clock or Stopwatch()
    started = time.perf_counter()
    bounds = tighten(m, floor, budget.for_tightening())
    clock.lap("tighten")
    out = m
    if bounds and m.build_seconds <= budget.left() / 2:
        out = model_of(m.scenario, laws, bounds)
    clock.lap("rebuild")
    out.build_seconds = m.build_seconds + time.perf_counter() - started
    return out


def final_lp(
    scenario: Scenario,
    laws: dict[int, YearLaw],
    plan: Plan,
    seconds: float = 10.0,
    probes_at: dict[tuple[str, int], float] | None = None,
) -> tuple[LadderModel, Highs] | None:
    """The plan's final LP, solved: the model built with its probes (`models.milp.build`), the
    plan settled into it, every integer but the shares fixed where the plan put it (each kink's
    side, each Tax Table row), the shares continuous, each probe fixed at 0 (or `probes_at`).
    None if the plan does not fit the model or the LP does not solve."""
    m = build(scenario, laws, probes=True)
    if settle(m, plan):
        return None
    shares = {id(v) for v in m.decisions}
    for v in m.prob.variables():
        if v.cat == pulp.LpInteger and id(v) not in shares:
            v.lowBound = v.upBound = round(v.varValue or 0.0)
    for v in m.decisions:
        v.cat = pulp.LpContinuous
    for key, v in m.probes.items():
        v.lowBound = v.upBound = (probes_at or {}).get(key, 0.0)
    lp = Highs(m.prob, m.decisions)
    lp.relax()
    return (m, lp) if lp.run(0.0, seconds).status == "optimal" else None


def marginal_values(
    scenario: Scenario, laws: dict[int, YearLaw], plan: Plan, seconds: float = 10.0
) -> dict[tuple[str, int], float] | None:
    """What one more dollar is worth at the plan, in objective dollars (after-tax wealth, or
    present value of tax saved): of cash at the end of each year ("cash"), and of minimum tax
    credit carried into each year beyond the household's own ("credit": what one more dollar of
    AMT paid the year before comes back as). None if the final LP does not solve.

    A probe's reduced cost in the final LP (`final_lp`): the value at the margin of this plan,
    its exercises free to move a little. Above the return on cash where cash binds; at a kink
    the LP takes the side the fixed integers say."""
    solved = final_lp(scenario, laws, plan, seconds)
    if solved is None:
        return None
    m, lp = solved
    duals = np.asarray(lp.h.getSolution().col_dual)
    # A reduced cost is d(scaled objective)/d(scaled column); for a continuous column both
    # scalings are SCALE, and HiGHS minimizes, so the objective's gain per dollar is -dual.
    return {key: float(-duals[lp.index[v.name]]) for key, v in m.probes.items()}


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
    clock: Stopwatch | None = None,
) -> SolveResult:
    """Solve in place; the model's variables then hold the plan, proven within `gap` of the best
    possible: relative to the plan's own objective, as a relative gap is read, or to `scale` (an
    estimate of the objective's size, e.g. the best baseline's) where that is larger, so that a
    plan saving near $0 of tax is not held to cents. Phases 1 and 2 run before a plan is known,
    so their gaps are relative to `scale`. `m` is a `LadderModel` or
    any model with its `prob`, `objective` and share variables `decisions` (`models.stochastic`),
    whose `settle_with` puts every tax amount on its function at the (rounded) decisions.

    Three phases, one time limit. Most of a straight branch and bound goes into whole shares, not
    into the tax kinks: cash binds in most years, so the relaxation spends the last dollar on a
    fraction of a share and every year's rounding must be enumerated. So:

    1. the shares are relaxed to continuous (the kinks' binaries stay): its optimum, or the
       solver's proven bound on it, bounds every whole-share plan;
    2. every share count is confined to the whole numbers around its phase-1 value (floor or
       ceiling; if no such combination fits, e.g. sales that must sum to a lot's shares, one step
       more either side) and solved: a whole-share plan, proven within the gap when it is that
       close to the phase-1 bound;
    3. otherwise the full model, with the time left (if any is, or 2 found no plan); the better
       plan of 2 and 3 is kept, and the gap is measured against the tighter of the two bounds.

    A phase that starts with less time left gets `MIN_SECONDS`; with no time at all (`time_limit`
    <= 0: a plan's budget spent before its solve, which a baseline stands in for) nothing runs.

    No MIP start: the best baseline is not handed to the solver as one; `planner.plan` keeps the
    baseline instead when the solver ends below it, and `tighten` uses its objective as a cut.

    `clock` gets each part's seconds: `solve_setup` (the model handed to the solver),
    `solve_phase1`, `solve_phase2` and `solve_phase3` (each with its plan's settling; a phase that
    does not run has none) and `solve_settle` (the chosen plan put back into the model)."""
    clock = clock or Stopwatch()
    started = time.perf_counter()
    if time_limit <= 0:
        return _no_plan(_Run("no_solution", False, None, None), started, solver)

    def allowed(objective: float) -> float:
        """The absolute gap `gap` allows a plan of this objective."""
        return gap * max(1.0, abs(scale), abs(objective))

    gap_abs = allowed(0.0)  # before a plan is known: relative to `scale`
    sign = 1.0 if m.prob.sense == pulp.LpMaximize else -1.0
    shares = m.decisions
    box = {var.name: (var.lowBound, var.upBound) for var in shares}
    engine = make_solver(m, solver)
    clock.lap("solve_setup")

    def left() -> float:
        return time_limit - (time.perf_counter() - started)

    def run(gap_abs: float, *, presolve: bool = True) -> _Run:
        r = engine.run(gap_abs, max(MIN_SECONDS, left()), presolve=presolve)
        if r.found and m.objective is not None:
            r.objective = value_of(m.objective)
        return r

    for var in shares:
        var.cat = pulp.LpContinuous
    # HiGHS's presolve costs more than it saves on a model whose only integers are the kinks'
    # binaries, not once share counts are integers.
    relaxed = run(gap_abs / 4, presolve=False)
    for var in shares:
        var.cat = pulp.LpInteger
    clock.lap("solve_phase1")
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
            rounded = run(gap_abs / 4)
            if rounded.status != "infeasible":
                break
        for var in shares:
            var.lowBound, var.upBound = box[var.name]
        if rounded.found:
            best = _settled(m, rounded, shares, settle_with)
        clock.lap("solve_phase2")
    if best is None or (sign * (bound - best[2]) > allowed(best[2]) and left() > 0):
        full = run(allowed(0.0 if best is None else best[2]))
        bound = min(bound, full.bound(sign), key=lambda b: sign * b)
        if full.found:
            plan = _settled(m, full, shares, settle_with)
            if best is None or sign * (plan[2] - best[2]) > 0:
                best = plan
        clock.lap("solve_phase3")
    if best is None:
        return _no_plan(relaxed, started, solver)
    run, chosen, objective = best
    for var in shares:  # the model may hold another phase's plan
        var.varValue = chosen[var.name]
    if settle_with(m):
        raise RuntimeError("internal error: a settled plan no longer fits the model")
    clock.lap("solve_settle")
    abs_gap = max(0.0, sign * (bound - objective))
    status = "optimal" if abs_gap <= allowed(objective) * (1 + 1e-9) else "time_limit"
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
