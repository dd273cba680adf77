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


def test_pwl_and_min_are_exact() -> None:
    prob = pulp.LpProblem("t", pulp.LpMinimize)
    b = Builder(prob)
    x = pulp.LpVariable("x", -100, 300)
    y = b.pwl("f", Lin(x, -100, 300), lambda v: abs(v - 50.0) + 0.5 * max(v - 200.0, 0.0))
    z = b.min2("m", y, Lin(0.2 * x + 30, 10, 90))
    prob += z.expr  # the objective pulls z down: only exact constraints keep it honest
    for target, want_y in ((-100, 150.0), (50, 0.0), (250, 225.0)):
        prob.constraints.pop("fix", None)
        prob += x == target, "fix"
        prob.solve(pulp.PULP_CBC_CMD(msg=False))
        assert pulp.value(y.expr) == pytest.approx(want_y)
        assert pulp.value(z.expr) == pytest.approx(min(want_y, 0.2 * target + 30))
