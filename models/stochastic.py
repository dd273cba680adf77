"""The robust exercise ladder: a two-stage stochastic program over several price/event paths.

A path s is a whole `Scenario` (its own prices, IPO date, tender offers, terminal price) with a
probability p_s > 0, sum_s p_s = 1. Each path gets the deterministic ladder of `models.milp`,
built into one problem under the prefix `p_<path>__`, so path s has its own decisions x_s, taxes
and cash, and its own after-tax wealth W_s (the deterministic objective, a linear expression).

Stages. The decisions of the first `shared_years` years (exercises in those years, sales in
windows of those years) are taken before the paths tell apart, so they must be the same in every
path (non-anticipativity); from then on each path adapts. With r the first path:
  nonanticipativity__<decision>__p_<s>     x_s[k] = x_r[k]    for every first-stage decision k
The paths' data of the shared years (prices, dates, sale windows) must agree, so that every
first-stage decision exists in every path and means the same there (the planner checks it).

Objective (maximized): expected after-tax wealth  sum_s p_s W_s.

Downside limits (optional):
  wealth_floor__p_<s>      W_s >= L_worst                      (a worst-path floor)
  cvar__tail__p_<s>        u_s >= eta - W_s,  u_s >= 0
  cvar__bound              eta - (1/alpha) sum_s p_s u_s >= L_cvar
The last three are Rockafellar-Uryasev: the largest eta - (1/alpha) E[(eta - W)^+] over eta is
the conditional value at risk of W at level alpha (the mean wealth of the worst alpha of
probability), so the constraints hold for some eta, u exactly when CVaR_alpha(W) >= L_cvar.

Exactness. Every tax in a path model is a one-sided bound (a cost bounded from above: see
`models.milp`). Raising a cost only lowers some W_s, which lowers the objective (p_s > 0) and
can only break a floor or the CVaR bound, never help meet one, so an optimum still lies on the
tax functions; `settle` puts every path's amounts on them, and each path's plan is then
re-evaluated by the exact engine like a deterministic one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import pulp

from models.law import YearLaw
from models.milp import SETTLE_TOLERANCE, LadderModel, build, read_plan, settle
from models.pwl import Lin, value_of
from models.scenario import Plan, Scenario

PROBABILITY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Risk:
    """Optional limits on the downside of the robust plan (dollars of after-tax wealth)."""

    worst_floor: float | None = None  # every path's wealth at least this
    cvar_alpha: float | None = None  # tail probability of the CVaR bound, in (0, 1]
    cvar_floor: float | None = None  # mean wealth of the worst cvar_alpha at least this


@dataclass
class StochasticModel:
    """A built (and after solving, solved) two-stage program: one `LadderModel` per path, all in
    one problem."""

    prob: pulp.LpProblem
    paths: dict[str, LadderModel]
    probabilities: dict[str, float]
    shared_years: tuple[int, ...]
    objective: Lin
    wealth: dict[str, Lin]
    eta: Any = None
    shortfall: dict[str, Any] = field(default_factory=dict)
    build_seconds: float = 0.0

    @property
    def decisions(self) -> list[pulp.LpVariable]:
        """Every path's share variables."""
        return [var for m in self.paths.values() for var in m.decisions]

    @property
    def size(self) -> dict[str, int]:
        return next(iter(self.paths.values())).size


def path_prefix(name: str) -> str:
    """Every name of a path's variables and constraints starts with this."""
    return f"p_{name}__"


def check_probabilities(probabilities: dict[str, float]) -> None:
    """Each p_s > 0 and sum p_s = 1: the objective's exactness needs every weight positive."""
    if not probabilities:
        raise ValueError("no paths")
    for name, p in probabilities.items():
        if not p > 0:
            raise ValueError(f"path {name}: probability must be positive, got {p}")
    total = math.fsum(probabilities.values())
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise ValueError(f"path probabilities add up to {total:g}, not 1")


def first_stage(m: LadderModel, shared_years: tuple[int, ...]) -> dict[str, tuple[Any, int]]:
    """The decisions taken before the paths tell apart, under path-free names."""
    out: dict[str, tuple[Any, int]] = {}
    for (option_id, year), v in m.exercise.items():
        if year in shared_years:
            out[f"exercise__{option_id}__y{year}"] = v
    windows = {w.id: w for w in m.scenario.windows}
    for (lot_id, window_id), v in m.sell.items():
        if windows[window_id].year in shared_years:
            out[f"sell__{lot_id}__{window_id}"] = v
    for (option_id, window_id), v in m.same_day.items():
        if windows[window_id].year in shared_years:
            out[f"same_day__{option_id}__{window_id}"] = v
    return out


def build_stochastic(
    scenarios: dict[str, Scenario],
    probabilities: dict[str, float],
    laws: dict[int, YearLaw],
    shared_years: int = 1,
    risk: Risk | None = None,
    bounds: dict[str, dict[str, tuple[float, float]]] | None = None,
) -> StochasticModel:
    """The robust program of the paths (deductions resolved); `bounds[path]` are that path's
    proven input bounds (`planner.solve.tighten` of the path alone, without an objective cut)."""
    started = time.perf_counter()
    check_probabilities(probabilities)
    if set(scenarios) != set(probabilities):
        raise ValueError("every path needs a scenario and a probability")
    if any(s.objective != "wealth" for s in scenarios.values()):
        raise ValueError("the robust plan maximizes expected wealth: every path's goal is wealth")
    names = list(scenarios)
    first = scenarios[names[0]]
    shared = tuple(first.year_numbers[:shared_years])
    prob = pulp.LpProblem("isoplan_robust", pulp.LpMaximize)
    paths: dict[str, LadderModel] = {}
    for name in names:
        prefix = path_prefix(name)
        own = {prefix + k: v for k, v in ((bounds or {}).get(name) or {}).items()}
        paths[name] = build(scenarios[name], laws, own, prob=prob, prefix=prefix)
    _nonanticipativity(prob, paths, shared)
    wealth = {name: m.objective for name, m in paths.items() if m.objective is not None}
    sm = StochasticModel(
        prob=prob,
        paths=paths,
        probabilities=dict(probabilities),
        shared_years=shared,
        objective=Lin(
            pulp.lpSum(probabilities[n] * w.expr for n, w in wealth.items()), -math.inf, math.inf
        ),
        wealth=wealth,
    )
    _risk(sm, risk or Risk())
    prob.setObjective(sm.objective.expr)
    sm.build_seconds = time.perf_counter() - started
    return sm


def _nonanticipativity(
    prob: pulp.LpProblem, paths: dict[str, LadderModel], shared: tuple[int, ...]
) -> None:
    """x_s[k] = x_r[k] for every first-stage decision k and every path s after the first r."""
    names = list(paths)
    ref = first_stage(paths[names[0]], shared)
    for name in names[1:]:
        mine = first_stage(paths[name], shared)
        if set(mine) != set(ref):
            odd = sorted(set(mine) ^ set(ref))[0]
            raise ValueError(
                f"path {name}: the first-stage decision {odd} exists in only some paths (the "
                "shared years must have the same prices, dates and sale windows in every path)"
            )
        for key, (var, _) in mine.items():
            prob += var == ref[key][0], f"nonanticipativity__{key}__{path_prefix(name)[:-2]}"


def _risk(sm: StochasticModel, risk: Risk) -> None:
    """The worst-path floor and the Rockafellar-Uryasev CVaR bound (module docstring)."""
    if risk.worst_floor is not None:
        for name, w in sm.wealth.items():
            sm.prob += w.expr >= risk.worst_floor, f"wealth_floor__{path_prefix(name)[:-2]}"
    if risk.cvar_floor is None:
        return
    alpha = risk.cvar_alpha
    if alpha is None or not 0 < alpha <= 1:
        raise ValueError(f"cvar_alpha must be in (0, 1], got {alpha}")
    sm.eta = pulp.LpVariable("cvar__eta")
    for name, w in sm.wealth.items():
        tag = path_prefix(name)[:-2]
        u = pulp.LpVariable(f"cvar__shortfall__{tag}", lowBound=0)
        sm.shortfall[name] = u
        sm.prob += u >= sm.eta - w.expr, f"cvar__tail__{tag}"
    sm.prob += (
        sm.eta
        - (1.0 / alpha) * pulp.lpSum(sm.probabilities[n] * u for n, u in sm.shortfall.items())
        >= risk.cvar_floor,
        "cvar__bound",
    )


def settle_stochastic(sm: StochasticModel) -> list[str]:
    """`models.milp.settle` for every path (each path's Builder puts its own amounts on their
    functions), then u_s = max(0, eta - W_s); the names of the constraints broken afterwards.

    Settling only lowers costs, so every W_s only rises: the floors and the CVaR bound that held
    for the solver's point still hold."""
    for m in sm.paths.values():  # all paths share one problem: check it once all are settled
        settle(m)
    if sm.eta is not None:
        eta = sm.eta.value() or 0.0
        for name, u in sm.shortfall.items():
            u.varValue = max(0.0, eta - value_of(sm.wealth[name]))
    return [n for n, c in sm.prob.constraints.items() if not c.valid(SETTLE_TOLERANCE)]


def path_plans(sm: StochasticModel) -> dict[str, Plan]:
    """Each path's decisions (its first-stage part the same in all)."""
    return {name: read_plan(m) for name, m in sm.paths.items()}


def fix_first_stage(m: LadderModel, plan: Plan, shared_years: tuple[int, ...]) -> None:
    """Fix a model's first-stage decisions to a plan's (the others stay free): how the plan for
    the average path is carried onto each path to be re-optimized (EEV)."""
    chosen = {
        **{f"exercise__{o}__y{y}": s for (o, y), s in plan.exercises.items()},
        **{f"sell__{lot}__{w}": s for (lot, w), s in plan.sales.items()},
        **{f"same_day__{o}__{w}": s for (o, w), s in plan.same_day.items()},
    }
    for key, (var, step) in first_stage(m, shared_years).items():
        var.lowBound = var.upBound = round(chosen.get(key, 0.0) / step)


def average_scenario(scenarios: dict[str, Scenario], probabilities: dict[str, float]) -> Scenario:
    """The expected-value path: each year's FMV (and the market sale price, which is that FMV)
    and the terminal price are the probability-weighted means; the liquidity (IPO, lockup,
    tender offers) is that of the most probable path (the first listed among equals), since an
    average of dates is no event."""
    likely = max(scenarios, key=lambda n: probabilities[n])
    base = scenarios[likely]

    def mean(f: Any) -> float:
        return math.fsum(probabilities[n] * f(s) for n, s in scenarios.items())

    fmv = {ty.year: mean(lambda s, i=i: s.years[i].fmv) for i, ty in enumerate(base.years)}
    return replace(
        reprice(base, fmv),
        terminal_price=mean(lambda s: s.final_price),
        description=f"the average of {len(scenarios)} paths",
    )


def reprice(scenario: Scenario, fmv: dict[int, float]) -> Scenario:
    """The scenario with other FMVs in some years; the market sells at the year's FMV, so its
    windows' prices follow (tender offers keep theirs)."""
    years = tuple(replace(ty, fmv=fmv.get(ty.year, ty.fmv)) for ty in scenario.years)
    price = {ty.year: ty.fmv for ty in years}
    windows = tuple(
        replace(w, price=price[w.year]) if w.kind == "market" else w for w in scenario.windows
    )
    return replace(scenario, years=years, windows=windows)


def cvar(values: dict[str, float], probabilities: dict[str, float], alpha: float) -> float:
    """CVaR_alpha of a discrete wealth: the mean of its worst `alpha` of probability."""
    left, total = alpha, 0.0
    for name in sorted(values, key=lambda n: values[n]):
        take = min(probabilities[name], left)
        total += take * values[name]
        left -= take
        if left <= PROBABILITY_TOLERANCE:
            break
    return total / alpha
