"""The robust (two-stage stochastic) plan: it reduces to the deterministic plan when there is
nothing uncertain, a worse path never raises its optimum, the first-stage decisions are shared,
the downside limits hold on the exact figures, and every path's plan agrees with the exact
engine."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from models.exact import evaluate
from models.law import YearLaw
from models.milp import build, read_plan
from models.scenario import Scenario
from models.stochastic import (
    Risk,
    average_scenario,
    build_stochastic,
    check_probabilities,
    cvar,
    first_stage,
    path_plans,
    reprice,
    settle_stochastic,
)
from planner.plan import run_plan
from planner.robust import run_robust
from planner.scenario import load
from planner.solve import build_tight, solve, tighten
from planner.variants import load_variant

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "plan-seed-story.yaml"
PATHS = ROOT / "scenarios" / "whatif" / "paths-ipo.yaml"
GAP = 1e-7


@pytest.fixture(scope="module")
def seed() -> tuple[Scenario, dict[int, YearLaw]]:
    v = load(SEED)
    return v.scenario, v.laws


def _deterministic(s: Scenario, laws: dict[int, YearLaw]) -> float:
    m = build_tight(s, laws, None)
    r = solve(m, "highs", GAP, 60, 1e6)
    assert r.status == "optimal"
    return evaluate(s, read_plan(m), laws).objective_value


def _robust(
    scenarios: dict[str, Scenario],
    probabilities: dict[str, float],
    laws: dict[int, YearLaw],
    risk: Risk | None = None,
) -> tuple[float, dict[str, float], object]:
    """The robust optimum (exact: expected wealth of every path's evaluated plan), each path's
    exact wealth, and the model."""
    bounds = {n: tighten(build(s, laws), None) for n, s in scenarios.items()}
    sm = build_stochastic(scenarios, probabilities, laws, 1, risk, bounds)
    r = solve(sm, "highs", GAP, 60, 1e6, settle_with=settle_stochastic)
    assert r.status == "optimal"
    wealth = {
        n: evaluate(scenarios[n], plan, laws).objective_value for n, plan in path_plans(sm).items()
    }
    assert r.objective == pytest.approx(sum(probabilities[n] * w for n, w in wealth.items()), abs=1)
    return r.objective, wealth, sm


def _tolerance(value: float) -> float:
    return 2 * GAP * abs(value) + 1.0


def test_one_path_is_the_deterministic_plan(seed: tuple[Scenario, dict[int, YearLaw]]) -> None:
    s, laws = seed
    want = _deterministic(s, laws)
    got, wealth, _ = _robust({"only": s}, {"only": 1.0}, laws)
    assert got == pytest.approx(want, abs=_tolerance(want))
    assert wealth["only"] == pytest.approx(want, abs=_tolerance(want))


def test_identical_paths_are_the_deterministic_plan(
    seed: tuple[Scenario, dict[int, YearLaw]],
) -> None:
    s, laws = seed
    want = _deterministic(s, laws)
    got, wealth, _ = _robust({"a": s, "b": s, "c": s}, {"a": 0.2, "b": 0.3, "c": 0.5}, laws)
    assert got == pytest.approx(want, abs=_tolerance(want))
    for w in wealth.values():  # each path's plan is itself optimal
        assert w == pytest.approx(want, abs=_tolerance(want) / 0.2)


def _no_ipo(s: Scenario) -> Scenario:
    return replace(s, windows=tuple(w for w in s.windows if w.kind != "market"))


def _later(s: Scenario, factor: float) -> Scenario:
    """The same first year, every later FMV (and market price) times `factor`."""
    return reprice(s, {ty.year: ty.fmv * factor for ty in s.years[1:]})


@pytest.mark.parametrize(
    "worse",
    [
        pytest.param(lambda s: replace(s, terminal_price=20.0), id="lower-terminal-price"),
        pytest.param(_no_ipo, id="no-ipo"),
    ],
)
def test_a_worse_path_never_raises_the_optimum(
    seed: tuple[Scenario, dict[int, YearLaw]], worse: object
) -> None:
    """Replacing a path by one on which every plan is worth no more (a lower terminal price:
    the same plans, each worth less; no IPO: fewer plans, each worth the same), with the same
    probabilities, cannot raise the expected optimum."""
    s, laws = seed
    later = _later(s, 1.5)
    probabilities = {"up": 0.4, "base": 0.6}
    before, _, _ = _robust({"up": later, "base": s}, probabilities, laws)
    after, _, _ = _robust({"up": later, "base": worse(s)}, probabilities, laws)  # type: ignore[operator]
    assert after <= before + _tolerance(before)


def test_first_stage_is_shared_and_names_are_deterministic(
    seed: tuple[Scenario, dict[int, YearLaw]],
) -> None:
    s, laws = seed
    crash = replace(
        s,
        years=(s.years[0], *(replace(ty, fmv=5.0) for ty in s.years[1:])),
        terminal_price=5.0,
    )
    _, _, sm = _robust({"up": s, "crash": _no_ipo(crash)}, {"up": 0.5, "crash": 0.5}, laws)
    names = {v.name for v in sm.prob.variables()}
    assert "p_up__exercise__seed__y2026" in names
    assert "p_crash__exercise__seed__y2027" in names
    assert "nonanticipativity__exercise__seed__y2026__p_crash" in sm.prob.constraints
    shared = {
        name: {k: v.value() for k, (v, _) in first_stage(m, sm.shared_years).items()}
        for name, m in sm.paths.items()
    }
    assert shared["up"] == shared["crash"]


@pytest.fixture(scope="module")
def example() -> tuple[dict[str, Scenario], dict[str, float], dict[int, YearLaw]]:
    """The four paths of scenarios/whatif/paths-ipo.yaml, deductions resolved."""
    v = load_variant(str(PATHS))
    scenarios = dict(v.paths)
    return scenarios, v.probabilities, v.laws


def test_worst_path_floor_and_cvar_hold_on_the_exact_figures(
    example: tuple[dict[str, Scenario], dict[str, float], dict[int, YearLaw]],
) -> None:
    scenarios, probabilities, laws = example
    free, wealth, _ = _robust(scenarios, probabilities, laws)
    worst = min(wealth, key=lambda n: wealth[n])
    best_worst = _deterministic(scenarios[worst], laws)
    assert best_worst > wealth[worst] + 100.0  # the expected-wealth plan gives up on that path
    floor = (wealth[worst] + best_worst) / 2
    limited, limited_wealth, _ = _robust(scenarios, probabilities, laws, Risk(worst_floor=floor))
    assert min(limited_wealth.values()) >= floor - 1.0
    assert limited <= free + _tolerance(free)
    alpha = probabilities[worst]
    bound = (cvar(wealth, probabilities, alpha) + best_worst) / 2
    capped, capped_wealth, _ = _robust(
        scenarios, probabilities, laws, Risk(cvar_alpha=alpha, cvar_floor=bound)
    )
    assert cvar(capped_wealth, probabilities, alpha) >= bound - 1.0
    assert capped <= free + _tolerance(free)


def test_cvar_is_the_mean_of_the_worst_tail() -> None:
    values = {"a": 100.0, "b": 200.0, "c": 400.0}
    probabilities = {"a": 0.1, "b": 0.3, "c": 0.6}
    assert cvar(values, probabilities, 0.1) == pytest.approx(100.0)
    assert cvar(values, probabilities, 0.4) == pytest.approx((10 + 60) / 0.4)
    assert cvar(values, probabilities, 1.0) == pytest.approx(10 + 60 + 240)


@pytest.mark.parametrize("probabilities", [{"a": 0.5, "b": 0.4}, {"a": 1.2, "b": -0.2}, {}])
def test_probabilities_must_be_positive_and_add_up_to_one(
    probabilities: dict[str, float],
) -> None:
    with pytest.raises(ValueError):
        check_probabilities(probabilities)


def test_average_path(seed: tuple[Scenario, dict[int, YearLaw]]) -> None:
    s, _ = seed
    low = replace(s, years=tuple(replace(ty, fmv=ty.fmv / 2) for ty in s.years))
    avg = average_scenario({"s": s, "low": low}, {"s": 0.5, "low": 0.5})
    assert [ty.fmv for ty in avg.years] == pytest.approx([0.75 * ty.fmv for ty in s.years])
    market = [w for w in avg.windows if w.kind == "market"]
    assert market and all(w.price == avg.years[-1].fmv or w.year < 2029 for w in market)
    assert avg.final_price == pytest.approx(0.75 * s.final_price)


def test_robust_example_agrees_with_the_exact_engine_and_beats_the_mean_value_plan() -> None:
    v = load_variant(str(PATHS))
    r = run_robust(v)
    assert r.solve.status == "optimal" and r.exact
    assert r.plan_vs_exact is not None and r.plan_vs_exact <= 1.0
    assert r.rp is not None and r.vss is not None
    scale = max(abs(p.evaluation.objective_value) for p in r.paths.values() if p.evaluation)
    assert r.vss >= -2 * v.options.gap * scale - 1.0  # RP >= EEV up to the solvers' gaps
    mean_plan = run_plan(
        replace(v.scenario, description="check"), v.laws, v.options
    )  # the scenario's own path plans too
    assert mean_plan.exact
