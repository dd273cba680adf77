"""The kink finder behind the plan MILP: exact kinks of the engine's own tax functions."""

from __future__ import annotations

import pulp
import pytest

from models.forms import SCALAR, amt_rate_schedule, rate_schedule, tentative_minimum_tax
from models.law import YearLaw, params_for
from models.pwl import Builder, Lin, breakpoints


@pytest.mark.parametrize("hi", [1e6, 1.3322767e7, 2.06577472025e7, 1e8])
def test_amt_breakpoint_found_exactly_on_any_range(laws: dict[int, YearLaw], hi: float) -> None:
    """Regression: on a $20M range the probe missed the 26%/28% kink by $0.68 and dropped it."""
    p = params_for(laws[2030], "mfj")
    kinks = breakpoints(lambda y: amt_rate_schedule(y, p, SCALAR), 0.0, hi)
    assert kinks == [pytest.approx(p.amt_breakpoint, abs=1e-6)]


def test_schedules(laws: dict[int, YearLaw]) -> None:
    p = params_for(laws[2026], "single")
    kinks = breakpoints(lambda x: rate_schedule(x, p.ord_rates, p.ord_edges, SCALAR), -1e7, 5e7)
    assert kinks == pytest.approx([0.0, *p.ord_edges], abs=1e-6)
    excess = breakpoints(
        lambda a: tentative_minimum_tax(a, 0.0, 0.0, p, SCALAR)["taxable_excess"], -2e7, 5e7
    )
    # Exemption covers AMTI up to 90,100; phase-out from 500,000; gone at 680,200.
    assert excess == pytest.approx([90_100.0, 500_000.0, 680_200.0], abs=1e-6)
    assert breakpoints(lambda x: 3.0 * x + 2.0, -1e6, 1e6) == []


def _f(v: float) -> float:
    """Convex kinks at 50 and 200, a concave one at 250."""
    return abs(v - 50.0) + 0.5 * max(v - 200.0, 0.0) - 0.8 * max(v - 250.0, 0.0)


@pytest.mark.parametrize("target", [-100.0, 0.0, 50.0, 120.5, 200.0, 249.0, 250.0, 280.0, 300.0])
def test_one_sided_bounds_are_exact_where_the_objective_pushes(target: float) -> None:
    """A cost pushed down and a relief pushed up land on their functions; only the kinks that
    bend the wrong way for the side get a binary (the concave one for a cost, the two convex
    ones for a relief)."""
    for sense, side, want_binaries in (
        (pulp.LpMinimize, "above", 1),
        (pulp.LpMaximize, "below", 2),
    ):
        prob = pulp.LpProblem("t", sense)
        b = Builder(prob)
        x = pulp.LpVariable("x", -100, 300)
        y = getattr(b, side)("f", Lin(x, -100, 300), _f)
        assert b.binaries == want_binaries
        prob += y.expr
        prob += x == target, "fix"
        prob.solve(pulp.PULP_CBC_CMD(msg=False))
        assert pulp.value(y.expr) == pytest.approx(_f(target), abs=1e-6)


def test_minima_and_maxima() -> None:
    """min as a cost needs a binary; min as a relief and max as a cost need none."""
    for a_value in (10.0, 40.0, 70.0):
        prob = pulp.LpProblem("t", pulp.LpMinimize)
        b = Builder(prob)
        x = pulp.LpVariable("x", 0, 100)
        a, c = Lin(x, 0, 100), Lin(0.5 * x + 20, 20, 70)
        low = b.above_min("low", a, c)
        high = b.above_max("high", [a, c])
        relief = b.below_min("relief", a, c)
        assert b.binaries == 1
        prob += low.expr + high.expr - relief.expr
        prob += x == a_value, "fix"
        prob.solve(pulp.PULP_CBC_CMD(msg=False))
        want = (min(a_value, 0.5 * a_value + 20), max(a_value, 0.5 * a_value + 20))
        assert pulp.value(low.expr) == pytest.approx(want[0])
        assert pulp.value(high.expr) == pytest.approx(want[1])
        assert pulp.value(relief.expr) == pytest.approx(want[0])


def test_settle_puts_every_amount_on_its_function() -> None:
    """Without a solver: the inputs' values given, `settle` sets every auxiliary variable (the
    pieces of the exact part included) so that all constraints hold and y = f(x)."""
    prob = pulp.LpProblem("t", pulp.LpMinimize)
    b = Builder(prob)
    x = pulp.LpVariable("x", -100, 300)
    cost = b.above("cost", Lin(x, -100, 300), _f)
    relief = b.below("relief", Lin(x, -100, 300), _f)
    low = b.above_min("low", cost, Lin(0.5 * x + 20, -30, 170))
    prob += low.expr
    for target in (-100.0, 37.0, 200.0, 250.0, 251.0, 300.0):
        x.varValue = target
        b.settle()
        assert pulp.value(cost.expr) == pytest.approx(_f(target))
        assert pulp.value(relief.expr) == pytest.approx(_f(target))
        assert pulp.value(low.expr) == pytest.approx(min(_f(target), 0.5 * target + 20))
        broken = [n for n, c in prob.constraints.items() if not c.valid(1e-9)]
        assert not broken, (target, broken)


def _bump(v: float) -> float:
    """Flat at 0 outside [100, 300], a tent of height 50 at 200: over a wide span its end slopes
    and its chord agree (0), so a search over the whole span sees no kink at all."""
    return max(0.0, 50.0 - 0.5 * abs(v - 200.0))


def test_keyed_kinks_are_kept_and_checked_in_each_range(laws: dict[int, YearLaw]) -> None:
    """A keyed function's kinks are searched for once and reused; a model's range in which they
    do not fit (here: kinks that cancel out over the span) is searched again, never modelled
    with a missing kink."""
    p = params_for(laws[2026], "single")

    def tax(o: float) -> float:
        return rate_schedule(o, p.ord_rates, p.ord_edges, SCALAR)

    for lo, hi in ((150_000.0, 900_000.0), (0.0, 120_000.0)):
        keyed, plain = Builder(pulp.LpProblem("k")), Builder(pulp.LpProblem("p"))
        x = Lin(pulp.LpVariable("x", lo, hi), lo, hi)
        keyed.above("t", x, tax, key=("test_tax", 2026))
        plain.above("t", x, tax)
        assert keyed.prob.constraints.keys() == plain.prob.constraints.keys()
        for name, c in keyed.prob.constraints.items():
            other = plain.prob.constraints[name]
            assert c.constant == pytest.approx(other.constant, rel=1e-12, abs=1e-9)
            assert {v.name: k for v, k in c.items()} == {v.name: k for v, k in other.items()}
    for side in ("above", "below"):
        prob = pulp.LpProblem("t", pulp.LpMinimize if side == "above" else pulp.LpMaximize)
        b = Builder(prob)
        x = pulp.LpVariable("x", 120, 260)
        y = getattr(b, side)("bump", Lin(x, 120, 260), _bump, key="test_bump")
        prob += y.expr
        for target in (120.0, 150.0, 200.0, 230.0, 260.0):
            x.varValue = target
            b.settle()
            assert pulp.value(y.expr) == pytest.approx(_bump(target))


@pytest.mark.parametrize("sense", [pulp.LpMinimize, pulp.LpMaximize])
def test_exact_is_on_its_function_whatever_the_objective(sense: int) -> None:
    """`Builder.exact`: the solver can push y neither above nor below f(x), whichever way the
    objective pulls (a binary at each kink in range), and `settle` agrees."""
    for target in (-100.0, 0.0, 37.0, 200.0, 300.0):
        prob = pulp.LpProblem("t", sense)
        b = Builder(prob)
        x = pulp.LpVariable("x", -100, 300)
        y = b.exact("y", Lin(x, -100, 300), _f)
        assert b.binaries == 3  # _f has kinks at 50, 200 and 250
        prob += y.expr
        prob += x == target, "fix"
        prob.solve(pulp.PULP_CBC_CMD(msg=False))
        assert pulp.value(y.expr) == pytest.approx(_f(target), abs=1e-6)
        b.settle()
        assert pulp.value(y.expr) == pytest.approx(_f(target), abs=1e-9)


def test_below_either_takes_the_side_its_binary_picks() -> None:
    """`Builder.below_either`: a relief that is a where the binary is 1 and b where it is 0."""
    for pick in (0, 1):
        prob = pulp.LpProblem("t", pulp.LpMaximize)
        b = Builder(prob)
        x = pulp.LpVariable("x", 0, 100)
        w = b.binary("w")
        y = b.below_either("y", w, Lin(x, 0, 100), Lin(0.5 * x + 20, 20, 70))
        prob += y.expr
        prob += x == 30, "fix_x"
        prob += w == pick, "fix_w"
        prob.solve(pulp.PULP_CBC_CMD(msg=False))
        assert pulp.value(y.expr) == pytest.approx(30.0 if pick else 35.0)
        b.settle()
        assert pulp.value(y.expr) == pytest.approx(30.0 if pick else 35.0)


def test_above_min_with_a_known_excess_is_exact() -> None:
    """`above_min(..., excess)`: with a - b known to be at most `excess`, the big-M on a is that
    bound, and the minimum is still exact."""
    for a_value in (10.0, 40.0, 70.0):
        prob = pulp.LpProblem("t", pulp.LpMinimize)
        b = Builder(prob)
        x = pulp.LpVariable("x", 0, 100)
        # a - c = 0.5 x - 20 <= 30 on [0, 100]
        low = b.above_min("low", Lin(x, 0, 100), Lin(0.5 * x + 20, 20, 70), excess=30.0)
        prob += low.expr
        prob += x == a_value, "fix"
        prob.solve(pulp.PULP_CBC_CMD(msg=False))
        assert pulp.value(low.expr) == pytest.approx(min(a_value, 0.5 * a_value + 20))
