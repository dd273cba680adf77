"""The after-tax return on cash (`household.cash_return`, issue 16 item 3): one definition in the
exact evaluation and the MILP, the scenario file, a book's column, the ties it breaks, and
`cash_return: 0` reproducing the figures from before it existed.

    cash[t] = cash[t-1] x (1 + r) + savings[t] + proceeds[t] - exercise_cost[t] - extra_tax[t-1]
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from test_exact import seed
from test_milp import (
    assert_model_is_exact,
    brute_force,
    decided,
    gap_dollars,
    prepared,
    solved,
    tiny_seed_story,
    tiny_tender,
)
from test_scenario import base, load

from models.exact import InfeasiblePlan, evaluate, with_deductions
from models.milp import build, read_plan, settle
from models.pwl import value_of
from models.scenario import Plan, Scenario
from planner.book import book_schema, read_book
from planner.errors import InputError
from planner.law import law_for_years
from planner.plan import explain_infeasible, run_plan
from planner.scenario import scenario_json_schema
from planner.variants import load_variant

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulp")

ROOT = Path(__file__).resolve().parents[1]
SEED_STORY = ROOT / "scenarios" / "plan-seed-story.yaml"
DOLLAR = 1.0


@pytest.fixture(scope="module")
def laws():
    return law_for_years(range(2025, 2030))


# ----------------------------------------------------------------------------------------------
# The definition, in the exact evaluation


def test_the_default_is_three_percent() -> None:
    s = load(base())
    assert s.cash_return == 0.03
    assert Scenario.__dataclass_fields__["cash_return"].default == 0.03


def test_cash_earns_the_return_on_last_years_balance(laws) -> None:
    # tests/test_exact.py's seed story at 3%: exercise all 10,000 ISOs in 2026 ($10,000 of
    # strike, $154,376 of AMT paid in April 2027) and sell them at the 2028 IPO window.
    plan = Plan(exercises={("iso", 2026): 10_000}, sales={("iso@2026", "ipo"): 10_000})
    ev = evaluate(seed(cash_return=0.03), plan, laws)
    rows = ev.years
    # 2026: the $100,000 start earns $3,000 over the year; + 50,000 saved - 10,000 of strike.
    assert rows[0]["cash_return"] == pytest.approx(3_000.0)
    assert rows[0]["cash"] == pytest.approx(143_000.0)
    # 2027: 143,000 x 1.03 + 50,000 - 154,376 of AMT.
    assert rows[1]["cash_return"] == pytest.approx(4_290.0)
    assert rows[1]["cash"] == pytest.approx(42_914.0)
    cash, previous_tax = 100_000.0, 0.0
    for row in rows:
        assert row["cash_start"] == pytest.approx(cash)
        assert row["cash_return"] == pytest.approx(0.03 * cash)
        cash = cash * 1.03 + row["savings"] + row["proceeds"] - row["exercise_cost"] - previous_tax
        assert row["cash"] == pytest.approx(cash)
        assert row["cash_in"] == pytest.approx(
            row["cash_return"] + row["savings"] + row["proceeds"]
        )
        assert row["cash_in"] - row["cash_out"] == pytest.approx(row["cash"] - row["cash_start"])
        previous_tax = row["extra_tax"]
    assert ev.final_cash == rows[-1]["cash"]
    assert ev.wealth == pytest.approx(
        rows[-1]["cash"] - rows[-1]["extra_tax"] + ev.terminal_value + ev.credit_left_value
    )


def test_the_return_changes_cash_only(laws) -> None:
    """The return is after tax: no tax line moves; the wealth rises by exactly the returns
    earned, and a zero return gives the cash of the formula without one, to the last bit."""
    plan = Plan(exercises={("iso", 2026): 4_000, ("iso", 2027): 3_000},
                sales={("iso@2026", "market-2029"): 4_000})  # fmt: skip
    at_zero = evaluate(seed(cash_return=0.0), plan, laws, check_cash=False)
    cash, previous_tax = 100_000.0, 0.0
    for row in at_zero.years:
        cash += row["savings"] + row["proceeds"] - row["exercise_cost"] - previous_tax
        assert row["cash"] == cash and row["cash_return"] == 0.0  # not approx: the same float
        previous_tax = row["extra_tax"]
    for rate in (0.03, 0.10, -0.2):
        ev = evaluate(seed(cash_return=rate), plan, laws, check_cash=False)
        for a, b in zip(at_zero.years, ev.years, strict=True):
            assert a["total_tax"] == b["total_tax"] and a["extra_tax"] == b["extra_tax"]
        earned = sum(row["cash_return"] for row in ev.years)
        assert ev.wealth == pytest.approx(at_zero.wealth + earned, abs=1e-6)
        assert ev.pv_extra_tax == at_zero.pv_extra_tax


def test_the_floor_message_counts_the_return(laws) -> None:
    scenario = seed(start_cash=20_000.0, cash_floor=10_000.0, cash_return=0.05)
    with pytest.raises(InfeasiblePlan) as err:
        evaluate(scenario, Plan(exercises={("iso", 2026): 10_000}), laws)
    # 2026: 20,000 x 1.05 + 50,000 - 10,000 = 61,000; 2027: 61,000 x 1.05 + 50,000 - 154,376.
    message = str(err.value)
    assert "cash falls below the floor in 2027: -$40,326.00 < $10,000.00" in message
    assert "($61,000.00 at the start, $3,050.00 earned on it, $50,000.00 saved" in message


# ----------------------------------------------------------------------------------------------
# Ties: paying AMT now or later


def _seed_story(rate: float):
    v = load_variant(str(SEED_STORY), (f"household.cash_return={rate}",))
    return v.scenario, v.laws


ALL_NOW = Plan(exercises={("seed", 2026): 10_000})
SPREAD = Plan(exercises={("seed", y): 2_500 for y in (2026, 2027, 2028, 2029)})


def test_prepaying_amt_no_longer_ties_with_paying_it_later() -> None:
    """scenarios/plan-seed-story.yaml: exercising all 10,000 ISOs in 2026 ($154,376 of AMT in
    April 2027, recovered as credit over the years) and exercising 2,500 a year (AMT of
    $24,000-$30,000 a year, none recovered) tie to the cent without a return on cash, since
    every dollar of AMT is credit worth a dollar at the end. At 3% the plan that pays its AMT
    later ends $7,412 richer: the return on the cash it keeps for longer."""
    scenario, laws = _seed_story(0.0)
    now, later = evaluate(scenario, ALL_NOW, laws), evaluate(scenario, SPREAD, laws)
    assert now.wealth == pytest.approx(later.wealth, abs=0.005)
    scenario, laws = _seed_story(0.03)
    now, later = evaluate(scenario, ALL_NOW, laws), evaluate(scenario, SPREAD, laws)
    assert later.wealth - now.wealth == pytest.approx(7_412.39, abs=0.01)
    # ... which is the difference of the returns the two cash paths earn.
    earned = [sum(row["cash_return"] for row in ev.years) for ev in (now, later)]
    assert later.wealth - now.wealth == pytest.approx(earned[1] - earned[0], abs=1e-6)
    # The MILP values the two plans the same way.
    m = build(scenario, laws)
    for plan, ev in ((ALL_NOW, now), (SPREAD, later)):
        assert settle(m, with_deductions(plan, ev)) == []
        assert value_of(m.objective) == pytest.approx(ev.wealth, abs=DOLLAR)
        for row in ev.years:
            assert value_of(m.cash[row["year"]]) == pytest.approx(row["cash"], abs=DOLLAR)


# ----------------------------------------------------------------------------------------------
# The MILP: the same cash as the exact evaluation


RATES = (0.0, 0.03, 0.10, -0.2)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("make", [tiny_seed_story, tiny_tender], ids=["seed-story", "tender"])
def test_model_cash_is_the_exact_cash_for_every_plan(make, rate: float) -> None:
    """Every plan of a tiny instance put into the model (`settle`): each year's cash, and the
    objective, are the exact evaluation's (cash floor or not)."""
    scenario, laws = prepared(replace(decided(make()), cash_return=rate))
    m = build(scenario, laws)
    plans = list(itertools.islice(_plans(scenario), 400))
    assert len(plans) >= 20
    for plan in plans:
        ev = evaluate(scenario, plan, laws, check_cash=False)
        settle(m, with_deductions(plan, ev))
        for row in ev.years:
            assert value_of(m.cash[row["year"]]) == pytest.approx(row["cash"], abs=DOLLAR), plan
        assert value_of(m.objective) == pytest.approx(ev.objective_value, abs=DOLLAR), plan


def _plans(scenario: Scenario):
    from test_milp import all_plans

    return all_plans(scenario)


@pytest.mark.parametrize("rate", [0.0, 0.10])
def test_no_plan_beats_the_milp_with_a_return(rate: float) -> None:
    """The tiny seed story (cash short: the floor binds) at 0% and 10%: the MILP's plan is
    exact, and no enumerated plan is better."""
    scenario, laws = prepared(replace(decided(tiny_seed_story()), cash_return=rate))
    values, refused = brute_force(scenario, laws)
    assert refused["cash"] > 0
    m, result, scale = solved(scenario, laws)
    ev = evaluate(scenario, read_plan(m), laws)
    assert_model_is_exact(m, result, ev)
    assert max(values.values()) - ev.objective_value <= gap_dollars(scale) + DOLLAR


# Two optimal plans of the seed story without a return (both $779,080, its golden optimum): the
# first pays $48,844 of AMT for 2026, the second $4 (628 shares, the AMT crossover) and the rest
# of it a year later.
EARLY = Plan(
    exercises={("seed", 2026): 4_264, ("seed", 2027): 5_736},
    sales={("seed@2026", "market-2028"): 4_264, ("seed@2027", "market-2029"): 5_736},
)
LATE = Plan(
    exercises={("seed", 2026): 628, ("seed", 2027): 5_982, ("seed", 2028): 3_390},
    sales={("seed@2026", "market-2028"): 628, ("seed@2027", "market-2028"): 5_982,
           ("seed@2028", "market-2029"): 3_390},
)  # fmt: skip


def test_a_return_breaks_the_optimizers_tie() -> None:
    scenario, laws = _seed_story(0.0)
    early, late = evaluate(scenario, EARLY, laws), evaluate(scenario, LATE, laws)
    assert early.wealth == pytest.approx(779_080.0, abs=0.005)
    assert late.wealth == pytest.approx(779_080.0, abs=0.005)
    assert early.years[0]["amt"] == pytest.approx(48_844, abs=1)
    assert late.years[0]["amt"] == pytest.approx(4, abs=1)
    scenario, laws = _seed_story(0.03)
    early, late = evaluate(scenario, EARLY, laws), evaluate(scenario, LATE, laws)
    assert late.wealth - early.wealth == pytest.approx(7_314.31, abs=0.01)
    v = load_variant(str(SEED_STORY), ("household.cash_return=0.03",))
    result = run_plan(v.scenario, v.laws, v.options)
    assert result.exact, result.plan_vs_exact
    assert result.evaluation.wealth >= late.wealth - gap_dollars(late.wealth) - DOLLAR
    assert result.evaluation.wealth > early.wealth + 7_000.0


# ----------------------------------------------------------------------------------------------
# The scenario file, the schema, a book


def test_scenario_field_and_its_bounds() -> None:
    doc = base()
    doc["household"] = {**doc["household"], "cash_return": 0.05}
    assert load(doc).cash_return == 0.05
    doc["household"]["cash_return"] = 0
    assert load(doc).cash_return == 0.0
    for bad, why in ((1.5, "must be at most 1, got 1.5"), (-0.6, "must be at least -0.5"),
                     ("lots", "expected a number, got 'lots'")):  # fmt: skip
        wrong = copy.deepcopy(doc)
        wrong["household"]["cash_return"] = bad
        with pytest.raises(InputError) as exc:
            load(wrong)
        assert str(exc.value).startswith(f"scenario.yaml: household.cash_return: {why}"), exc
    field = scenario_json_schema()["$defs"]["Household"]["properties"]["cash_return"]
    assert field["default"] == 0.03
    assert (field["minimum"], field["maximum"]) == (-0.5, 1.0)
    assert "After-tax return" in field["description"] and "0 reproduces" in field["description"]


def test_book_column(tmp_path: Path) -> None:
    column = next(c for c in book_schema()["tables"]["clients"]["columns"]
                  if c["name"] == "cash_return")  # fmt: skip
    assert column["scenario_field"] == "household.cash_return"
    clients = pd.DataFrame([
        {"client_id": "a", "filing_status": "single", "start_cash": 50_000, "first_year": 2026,
         "years": 2, "wages": 150_000, "fmv": 10, "cash_return": 0.05},
        {"client_id": "b", "filing_status": "single", "start_cash": 50_000, "first_year": 2026,
         "years": 2, "wages": 150_000, "fmv": 10, "cash_return": None},
    ])  # fmt: skip
    grants = pd.DataFrame([
        {"client_id": c, "record": "grant", "id": "g", "type": "iso", "grant_date": "2024-01-15",
         "strike": 1, "shares": 1_000, "vest_months": 0}
        for c in ("a", "b")
    ])  # fmt: skip
    clients.to_csv(tmp_path / "clients.csv", index=False)
    grants.to_csv(tmp_path / "grants.csv", index=False)
    book = read_book(tmp_path)
    returns = {c.client_id: c.validated().scenario.cash_return for c in book.clients}
    assert returns == {"a": 0.05, "b": 0.03}


def test_not_enough_cash_counts_the_return() -> None:
    """`explain_infeasible` bounds the strike payments that can ever be made by the last year's
    cash with no action above the floor, which now includes the return: it must not call a
    scenario short of cash when the return pays for the exercise."""
    doc = base(
        household={"filing_status": "single", "start_cash": 20_000, "cash_floor": 10_000,
                   "cash_return": 0.5},
        default={"wages": 150_000, "savings": 0},
        grants=[{"id": "g1", "type": "iso", "grant_date": "2024-01-15", "strike": 20,
                 "shares": 1_000, "vesting": {"months": 0}}],
        prices={2026: 25, 2027: 25},
        objective={"goal": "min_tax", "required_exercise": {"g1": 1_000}},
    )  # fmt: skip
    s = load(doc)
    laws = law_for_years(s.year_numbers)
    # At 50%: 20,000 -> 30,000 -> 45,000, so $20,000 of strike fits in 2027 (25,000 left).
    ev = evaluate(s, Plan(exercises={("g1", 2027): 1_000}), laws)
    assert ev.years[1]["cash"] == pytest.approx(25_000.0)
    assert "not enough cash" not in explain_infeasible(s, laws)
    why = explain_infeasible(replace(s, cash_return=0.0), laws)
    assert "costs at least $20,000 in strike payments, but at most $10,000 is ever" in why


def test_summary_says_the_return() -> None:
    v = load_variant(str(SEED_STORY), ("household.cash_return=0.025",))
    result = run_plan(v.scenario, v.laws, v.options)
    from planner.plan import summary_lines

    assert "Cash earns 2.5% a year after tax (household.cash_return)" in "\n".join(
        summary_lines(result)
    )
