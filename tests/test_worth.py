"""What one more dollar is worth (`planner.solve.marginal_values`, the `years` table's
`value_of_cash` and `value_of_credit`): the final LP's reduced costs, checked against the
integer plan itself, re-planned with a hundred dollars more.

Seed story, single, $200,000 of wages, 10,000 ISOs at $1, cash earning 3%:
  - as written (savings $45,000 a year), cash never binds: a dollar at the end of 2026 is worth
    1.03^3 = $1.0927 at the end of 2029, of 2027 1.03^2, of 2028 1.03, of 2029 $1;
  - with $21,000 at the start, no savings and a $20,000 floor, cash binds in 2027: a dollar
    more lets the plan exercise more shares at the AMT-free margin, and is worth about $5.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from models.pwl import value_of
from planner.plan import run_plan, tables
from planner.solve import final_lp
from planner.variants import load_variant

SEED = str(Path(__file__).parents[1] / "scenarios" / "plan-seed-story.yaml")
TIGHT = ("household.start_cash=21000", "default.savings=0")


def _plan(*sets: str) -> tuple[float, dict[tuple[str, int], float]]:
    v = load_variant(SEED, sets)
    r = run_plan(v.scenario, v.laws, v.options, worth=True)
    assert r.evaluation is not None and r.worth is not None
    return r.evaluation.objective_value, r.worth


def test_cash_that_never_binds_is_worth_its_growth() -> None:
    _, worth = _plan()
    for i, year in enumerate((2026, 2027, 2028, 2029)):
        assert worth[("cash", year)] == pytest.approx(1.03 ** (3 - i), abs=1e-9)


def test_a_dollar_where_cash_binds_is_worth_what_the_plan_makes_of_it() -> None:
    base, worth = _plan(*TIGHT)
    assert worth[("cash", 2027)] > 2.0  # binding: far above its growth, 1.0609
    assert worth[("cash", 2026)] == pytest.approx(1.03 * worth[("cash", 2027)], rel=1e-9)
    # $100 more at the start is $103 at the end of 2026: the integer plan gains what the LP says,
    # within the rounding of whole shares.
    more, _ = _plan(*TIGHT, "household.start_cash=21100")
    assert (more - base) / 103.0 == pytest.approx(worth[("cash", 2026)], rel=0.02)


def test_each_value_is_the_final_lps_own_difference() -> None:
    """A probe fixed at $1 instead of 0 moves the final LP's objective by its reduced cost (the
    LP is linear near the plan). Credit is probed in the plan's chain only: a credit carried in
    from before the horizon would be the household's own too, which the objective nets out."""
    v = load_variant(SEED, TIGHT)
    r = run_plan(v.scenario, v.laws, v.options, worth=True)
    assert r.plan is not None and r.worth is not None
    solved = final_lp(v.scenario, v.laws, r.plan)
    assert solved is not None
    base = value_of(solved[0].objective)
    for key, worth in r.worth.items():
        moved = final_lp(v.scenario, v.laws, r.plan, probes_at={key: 1.0})
        assert moved is not None
        assert value_of(moved[0].objective) - base == pytest.approx(worth, abs=1e-6), key


def test_the_years_table_carries_the_values_and_the_due_date() -> None:
    v = load_variant(SEED)
    years = tables(run_plan(v.scenario, v.laws, v.options, worth=True))["years"]
    assert years["value_of_cash"].notna().all() and years["value_of_credit"].notna().all()
    # The tax of 2026 is due with its return, April 15, 2027 (IRC §6072(a), in data/federal).
    assert str(years["tax_due_date"].iloc[0]) == "2027-04-15"
    plain = tables(run_plan(v.scenario, v.laws, v.options))["years"]
    assert plain["value_of_cash"].isna().all()  # not asked: NaN, never a made-up 0
