"""The exact year-by-year evaluation of a plan (models.exact) and the baselines
(models.baselines), on scenarios built directly in Python.

The seed story: single, $200,000 of wages in 2026-2029, 10,000 ISOs at a $1 strike granted
2024-01-15, FMV $51 in 2026 rising $10 a year, exercises on March 1; the company goes public so an
open-market window exists on 2028-09-01 at $71 (and 2029-06-01 at $81).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from models.baselines import (
    BASELINES,
    crossover_each_year,
    do_nothing_until_liquidity,
    evaluate_baselines,
    even_split,
    exercise_all_now,
)
from models.crossover import crossover
from models.engine import tax_many, tax_one
from models.exact import InfeasiblePlan, evaluate, fica
from models.forms import Household
from models.law import STATUSES, LawTable, YearLaw, holding_for, params_for
from models.scenario import (
    ISO,
    NSO,
    Lot,
    OptionClass,
    Plan,
    SaleWindow,
    Scenario,
    TaxYear,
)
from planner.law import law_for_years

YEARS = (2026, 2027, 2028, 2029)
WAGES = 200_000.0
FORMS_CASES = Path(__file__).parent / "cases" / "forms.yaml"
HOLDING = holding_for(law_for_years([2026])[2026])


@pytest.fixture(scope="module")
def laws() -> dict[int, YearLaw]:
    return law_for_years(range(2025, 2030))


def seed_option(**overrides: Any) -> OptionClass:
    fields: dict[str, Any] = {
        "id": "iso",
        "grant_id": "g1",
        "kind": ISO,
        "strike": 1.0,
        "grant_date": date(2024, 1, 15),
        "expiry": date(2034, 1, 15),
        "exercisable": dict.fromkeys(YEARS, 10_000.0),
        "holding": HOLDING,
    }
    fields.update(overrides)
    return OptionClass(**fields)


def seed(**overrides: Any) -> Scenario:
    years = tuple(
        TaxYear(
            year=y,
            exercise_date=date(y, 3, 1),
            fmv=fmv,
            wages=WAGES,
            savings=50_000.0,
        )
        for y, fmv in zip(YEARS, (51.0, 61.0, 71.0, 81.0), strict=True)
    )
    windows = (
        SaleWindow(id="ipo", year=2028, date=date(2028, 9, 1), price=71.0),
        SaleWindow(id="market-2029", year=2029, date=date(2029, 6, 1), price=81.0),
    )
    fields: dict[str, Any] = {
        "description": "seed story",
        "filing_status": "single",
        "years": years,
        "options": (seed_option(),),
        "lots": (),
        "windows": windows,
        "start_cash": 100_000.0,
        "cash_floor": 0.0,
        # No return on cash, so the cash figures below add up by hand (the return on cash has
        # its own tests: tests/test_cash_return.py).
        "cash_return": 0.0,
    }
    fields.update(overrides)
    return Scenario(**fields)


def tax(laws: dict[int, YearLaw], year: int, **fields: float) -> dict[str, Any]:
    return tax_one(Household(**fields), params_for(laws[year], "single"))


def forms_case(prefix: str) -> dict[str, Any]:
    for case in yaml.safe_load(FORMS_CASES.read_text(encoding="utf-8")):
        if case["name"].startswith(prefix):
            return case
    raise LookupError(prefix)


# ----------------------------------------------------------------------------------------------
# Taxes of each kind of action


@pytest.mark.parametrize(("shares", "amt"), [(627, 0.0), (628, 4.0), (10_000, 154_376.0)])
def test_exercise_amt_is_the_crossover_engine(laws, shares, amt):
    # README: 627 shares is the most that costs no AMT, at 628 the AMT is $4, all 10,000 cost
    # $154,376; the evaluation runs tax_one with iso_spread = N x (51 - 1).
    ev = evaluate(seed(), Plan(exercises={("iso", 2026): shares}), laws)
    row = ev.year(2026)
    direct = tax(laws, 2026, wages=WAGES, iso_spread=shares * 50.0)
    for key in ("taxable_income", "regular_tax", "amti", "amt_exemption", "tmt", "amt"):
        assert row[key] == pytest.approx(direct[key], abs=1e-6), key
    assert row["iso_spread"] == shares * 50.0
    assert row["amt"] == pytest.approx(amt, abs=0.005)
    # All of the AMT is from a deferral item: it all becomes credit, and it is the extra tax.
    assert row["mtc_generated"] == pytest.approx(amt, abs=0.005)
    assert row["extra_tax"] == pytest.approx(amt, abs=0.005)
    assert row["extra_fica"] == 0.0
    p = params_for(laws[2026], "single")
    found = crossover(Household(wages=WAGES), p, 1.0, 51.0, 10_000.0)
    assert found["best"]["shares"] == 627
    assert ev.year(2027)["amt_credit_carryforward"] == row["mtc_carryforward_out"]


def test_qualifying_sale_matches_the_form_8801_case(laws):
    # tests/cases/forms.yaml: the seed household sells 10,000 shares at $31, AMT basis $26,
    # regular basis $1, with $154,376 of credit carried in: line 2k = 50,000 - 300,000.
    case = forms_case("Form 8801, the credit comes back")
    lot = Lot(
        id="old",
        grant_id="g0",
        kind=ISO,
        shares=10_000.0,
        grant_date=date(2023, 1, 1),
        exercise_date=date(2024, 1, 10),
        exercise_year=2024,
        regular_basis=1.0,
        amt_basis=26.0,
        holding=HOLDING,
    )
    year = TaxYear(year=2026, exercise_date=date(2026, 3, 1), fmv=31.0, wages=WAGES, itemize=False)
    scenario = seed(
        years=(year,),
        options=(),
        lots=(lot,),
        windows=(SaleWindow(id="w", year=2026, date=date(2026, 6, 1), price=31.0),),
        start_cash=0.0,
        amt_credit_carryforward=154_376.0,
    )
    ev = evaluate(scenario, Plan(sales={("old", "w"): 10_000.0}), laws)
    row = ev.year(2026)
    for key, want in case["household"].items():
        if key not in ("year", "filing_status"):
            assert row[key] == pytest.approx(want), key
    for key, want in case["expect"].items():
        assert row[key] == pytest.approx(want, abs=0.005), key
    (sale,) = ev.actions
    assert sale["qualifying"] is True and sale["long_term"] is True
    assert sale["proceeds"] == 310_000.0
    # Base (no sale): regular 36,734, TMT 26% x (200,000 - 90,100) = 28,574, credit allowed
    # 8,160, total 28,574; the sale adds 47,474 - 28,574 = 18,900 and leaves 108,716 of credit
    # against the base's 146,216.
    assert row["base_total_tax"] == pytest.approx(28_574.0)
    assert row["extra_tax"] == pytest.approx(18_900.0)
    assert ev.base_credit_left == pytest.approx(146_216.0)
    assert ev.credit_left == pytest.approx(108_716.0)
    assert ev.credit_left_value == pytest.approx(108_716.0 - 146_216.0)
    assert ev.final_cash == pytest.approx(310_000.0)
    assert ev.wealth == pytest.approx(310_000.0 - 18_900.0 - 37_500.0)
    assert ev.lots[0]["held_end"] == 0.0 and ev.lots[0]["sold"] == {2026: 10_000.0}


# ----------------------------------------------------------------------------------------------
# Capital losses carried from year to year, regular and AMT (Capital Loss Carryover Worksheet)


def _lot(**overrides: Any) -> Lot:
    fields: dict[str, Any] = {
        "id": "old",
        "grant_id": "g0",
        "kind": ISO,
        "shares": 10_000.0,
        "grant_date": date(2022, 1, 15),
        "exercise_date": date(2025, 3, 1),
        "exercise_year": 2025,
        "regular_basis": 1.0,
        "amt_basis": 51.0,
        "holding": HOLDING,
    }
    fields.update(overrides)
    return Lot(**fields)


def _sell_2026(lot: Lot, price: float, **overrides: Any) -> tuple[Scenario, Plan]:
    """The seed years with `lot` sold whole in June 2026 at `price`, and nothing else."""
    window = SaleWindow(id="w", year=2026, date=date(2026, 6, 1), price=price)
    scenario = seed(options=(), lots=(lot,), windows=(window,), **overrides)
    return scenario, Plan(sales={(lot.id, "w"): lot.shares})


def test_loss_carried_in_shrinks_year_by_year_on_both_chains(laws):
    # 10,000 of long-term loss carried into 2026 (regular and AMT alike) and no gains: each year
    # deducts $3,000 (worksheet line 13 = line 9 - line 11 = carried in - 3,000) until it is gone.
    scenario = seed(lt_loss_carryover=10_000.0, amt_lt_loss_carryover=10_000.0)
    ev = evaluate(scenario, Plan(), laws)
    carried = [10_000.0, 7_000.0, 4_000.0, 1_000.0, 0.0]
    assert [row["lt_loss_carryover"] for row in ev.years] == carried[:-1]
    assert [row["lt_loss_carryover_out"] for row in ev.years] == carried[1:]
    assert [row["amt_lt_loss_carryover"] for row in ev.years] == carried[:-1]
    assert [row["amt_lt_loss_carryover_out"] for row in ev.years] == carried[1:]
    for row, deducted in zip(ev.years, (3_000.0, 3_000.0, 3_000.0, 1_000.0), strict=True):
        assert row["agi"] == WAGES - deducted
        assert row["st_loss_carryover_out"] == row["amt_st_loss_carryover_out"] == 0.0
        # No action: the base chain is the plan's, and the plan adds no tax.
        assert row["base_lt_loss_carryover_out"] == row["lt_loss_carryover_out"]
        assert row["extra_tax"] == 0.0
        direct = tax(laws, row["year"], wages=WAGES, lt_loss_carryover=row["lt_loss_carryover"],
                     amt_lt_loss_carryover=row["amt_lt_loss_carryover"])  # fmt: skip
        assert row["total_tax"] == direct["total_tax"]


def test_a_loss_the_plan_realizes_is_carried_forward_and_saves_tax_each_year(laws):
    # 1,000 plain shares (basis $20, the same for the AMT) sold at $4 in 2026: a long-term loss
    # of 16,000, $3,000 deducted a year: 13,000, 10,000, 7,000 and 4,000 carried out. The base
    # carries nothing, so each year the plan saves the tax on $3,000 of ordinary income (24%
    # band: TI about 184,000) and the 4,000 left after 2029 is worth terminal_tax_rate (23.8%)
    # a dollar, as the loss of a share still held would be: $952.
    lot = _lot(kind=NSO, shares=1_000.0, regular_basis=20.0, amt_basis=20.0)
    scenario, plan = _sell_2026(lot, 4.0)
    ev = evaluate(scenario, plan, laws)
    outs = [13_000.0, 10_000.0, 7_000.0, 4_000.0]
    assert [row["lt_loss_carryover_out"] for row in ev.years] == outs
    assert [row["amt_lt_loss_carryover_out"] for row in ev.years] == outs
    assert [row["lt_loss_carryover"] for row in ev.years] == [0.0, *outs[:-1]]
    for row in ev.years:
        assert row["base_lt_loss_carryover_out"] == 0.0
        assert row["agi"] == WAGES - 3_000.0
        assert row["extra_tax"] == pytest.approx(-0.24 * 3_000.0)
    assert (ev.loss_left, ev.base_loss_left) == (4_000.0, 0.0)
    assert ev.loss_left_value == pytest.approx(0.238 * 4_000.0)
    rest = ev.final_cash - ev.last_year_tax + ev.credit_left_value + ev.loss_left_value
    assert ev.wealth == pytest.approx(rest) and ev.terminal_value == 0.0


def test_amt_only_loss_of_an_iso_sale_below_its_amt_basis_chains_into_later_years(laws):
    # tests/cases/forms.yaml: 10,000 ISO shares (basis $1, AMT basis $51) sold qualifying at $4
    # in 2026: a regular gain of 30,000, an AMT loss of 470,000, of which 3,000 a year counts.
    case = forms_case("ISO qualifying sale below its AMT basis")
    scenario, plan = _sell_2026(_lot(), 4.0, amt_credit_carryforward=154_376.0)
    ev = evaluate(scenario, plan, laws)
    row = ev.year(2026)
    for key, want in case["expect"].items():
        assert row[key] == pytest.approx(want, abs=0.005), key
    outs = [467_000.0, 464_000.0, 461_000.0, 458_000.0]
    assert [row["amt_lt_loss_carryover_out"] for row in ev.years] == outs
    assert [row["amt_lt_loss_carryover"] for row in ev.years] == [0.0, *outs[:-1]]
    credit = row["mtc_carryforward_out"]
    for row in ev.years[1:]:
        assert row["lt_loss_carryover"] == row["lt_loss_carryover_out"] == 0.0
        assert row["base_amt_lt_loss_carryover_out"] == 0.0
        # The same year computed directly from what the chain carries in.
        direct = tax(laws, row["year"], wages=WAGES, amt_credit_carryforward=credit,
                     amt_lt_loss_carryover=row["amt_lt_loss_carryover"])  # fmt: skip
        for key in ("amti", "tmt", "mtc_allowed", "total_tax", "amt_lt_loss_carryover_out"):
            assert row[key] == pytest.approx(direct[key], abs=1e-6), (row["year"], key)
        # The AMT loss lowers AMTI by 3,000 (line 2k), the TMT by 26% of it, and with credit
        # carried in on both chains the credit allowed rises by as much: the plan saves $780.
        assert row["amti"] == WAGES - 3_000.0
        assert row["extra_tax"] == pytest.approx(-0.26 * 3_000.0, abs=0.005)
        credit = row["mtc_carryforward_out"]


def test_credit_generated_at_exercise_comes_back_in_the_sale_year(laws):
    # Exercise 10,000 ISOs in January 2025 at FMV $26 (strike $1, granted 2023), hold, sell them
    # all at $31 in June 2026 (qualifying). The 2025 AMT is all credit; 2026 is the forms.yaml
    # case with that credit carried in (> the 45,660 the case allows).
    case = forms_case("Form 8801, the credit comes back")
    option = seed_option(grant_date=date(2023, 1, 1), exercisable={2025: 10_000, 2026: 10_000})
    years = (
        TaxYear(year=2025, exercise_date=date(2025, 1, 10), fmv=26.0, wages=WAGES, itemize=False),
        TaxYear(year=2026, exercise_date=date(2026, 3, 1), fmv=31.0, wages=WAGES, itemize=False),
    )
    scenario = seed(
        years=years,
        options=(option,),
        windows=(SaleWindow(id="w", year=2026, date=date(2026, 6, 1), price=31.0),),
    )
    plan = Plan(exercises={("iso", 2025): 10_000}, sales={("iso@2025", "w"): 10_000})
    ev = evaluate(scenario, plan, laws)
    y2025, y2026 = ev.years
    direct = tax_one(
        Household(wages=WAGES, iso_spread=250_000.0),
        params_for(laws[2025], "single"),
        itemize=False,
    )
    assert y2025["amt"] == pytest.approx(direct["amt"]) and y2025["amt"] > 45_660
    assert y2025["mtc_generated"] == pytest.approx(y2025["amt"])
    assert y2026["amt_credit_carryforward"] == y2025["mtc_carryforward_out"] == y2025["amt"]
    assert y2026["ltcg"] == 300_000.0 and y2026["amt_ltcg_adjustment"] == -250_000.0
    for key in ("regular_tax", "amti", "tmt", "amt", "niit", "mtc_allowed", "total_tax"):
        assert y2026[key] == pytest.approx(case["expect"][key], abs=0.005), key
    assert y2026["mtc_carryforward_out"] == pytest.approx(y2025["amt"] - 45_660.0)
    assert ev.actions[-1]["qualifying"] is True
    # The base has no credit: 2026 base tax is the regular tax on wages alone.
    assert y2026["base_total_tax"] == pytest.approx(36_734.0)
    assert y2026["extra_tax"] == pytest.approx(47_474.0 - 36_734.0)


def test_same_year_disqualifying_sale_has_no_amt_effect(laws):
    # Exercise 1,000 shares on 2028-03-01 (FMV $71) and sell them on 2028-10-01 at $75: ordinary
    # income = the spread 70,000, short-term gain 4,000; the ISO spread leaves line 2i and no
    # line 2k difference arises, so the AMT follows the regular tax.
    windows = (SaleWindow(id="tender", year=2028, date=date(2028, 10, 1), price=75.0),)
    plan = Plan(exercises={("iso", 2028): 1_000}, sales={("iso@2028", "tender"): 1_000})
    ev = evaluate(seed(windows=windows), plan, laws)
    row = ev.year(2028)
    assert row["ordinary_income"] == pytest.approx(70_000.0)
    assert row["stcg"] == pytest.approx(4_000.0)
    for key in ("iso_spread", "amt_ltcg_adjustment", "amt_stcg_adjustment"):
        assert row[key] == 0.0, key
    assert row["amt_ordinary_adjustment"] == 0.0
    direct = tax(laws, 2028, wages=WAGES, ordinary_income=70_000.0, stcg=4_000.0)
    for key in ("regular_tax", "amti", "tmt", "amt", "niit", "total_tax"):
        assert row[key] == pytest.approx(direct[key], abs=1e-6), key
    # AMTI - taxable income is what it is without the sale (the standard deduction added back).
    base = tax(laws, 2028, wages=WAGES)
    assert row["amti"] - row["taxable_income"] == pytest.approx(
        base["amti"] - base["taxable_income"]
    )
    assert row["mtc_generated"] == 0.0
    sale = ev.actions[-1]
    assert sale["qualifying"] is False and sale["long_term"] is False
    assert row["proceeds"] == 75_000.0 and row["exercise_cost"] == 1_000.0


def test_later_year_disqualifying_sale_below_exercise_fmv(laws):
    # Exercise 1,000 on 2026-03-01 at FMV $51; the price falls and they are sold on 2027-02-01
    # at $21 (within a year: disqualifying, short-term). Ordinary income = price - strike =
    # 20,000, no capital gain. The AMT counted the spread in 2026 (AMT basis $51): line 2k
    # removes the 20,000 and takes the AMT capital loss (21 - 51) x 1,000 = -30,000, limited to
    # -3,000 on the AMT's line 7, so AMTI is 23,000 below the AMTI with 20,000 of plain income.
    windows = (SaleWindow(id="tender", year=2027, date=date(2027, 2, 1), price=21.0),)
    plan = Plan(exercises={("iso", 2026): 1_000}, sales={("iso@2026", "tender"): 1_000})
    ev = evaluate(seed(windows=windows), plan, laws)
    assert ev.year(2026)["iso_spread"] == 50_000.0
    row = ev.year(2027)
    assert row["ordinary_income"] == pytest.approx(20_000.0)
    assert row["stcg"] == 0.0 and row["ltcg"] == 0.0
    assert row["amt_ordinary_adjustment"] == pytest.approx(-20_000.0)
    assert row["amt_stcg_adjustment"] == pytest.approx(-30_000.0)
    assert row["iso_spread"] == 0.0
    carry = ev.year(2026)["mtc_carryforward_out"]
    direct = tax(
        laws,
        2027,
        wages=WAGES,
        ordinary_income=20_000.0,
        amt_ordinary_adjustment=-20_000.0,
        amt_stcg_adjustment=-30_000.0,
        amt_credit_carryforward=carry,
    )
    for key in ("regular_tax", "amti", "tmt", "amt", "mtc_allowed", "total_tax"):
        assert row[key] == pytest.approx(direct[key], abs=1e-6), key
    plain = tax(laws, 2027, wages=WAGES, ordinary_income=20_000.0)
    assert row["amti"] == pytest.approx(plain["amti"] - 23_000.0)
    assert ev.actions[-1]["qualifying"] is False and ev.actions[-1]["long_term"] is False


def test_nso_exercise_adds_wages_and_fica(laws):
    # 1,000 NSOs at $1, FMV $51 in 2026: $50,000 of wages. Wages of $200,000 are above the 2026
    # Social Security wage base ($184,500), so only Medicare: 1.45% x 50,000 = 725; the
    # Additional Medicare Tax 0.9% x 50,000 = 450 is on Form 8959 (in total_tax).
    nso = seed_option(id="nso", kind=NSO)
    scenario = seed(options=(nso,))
    ev = evaluate(scenario, Plan(exercises={("nso", 2026): 1_000}), laws)
    row = ev.year(2026)
    assert row["wages"] == WAGES + 50_000.0 and row["iso_spread"] == 0.0
    assert row["extra_fica"] == pytest.approx(725.0)
    assert row["additional_medicare_tax"] == pytest.approx(450.0)
    direct = tax(laws, 2026, wages=WAGES + 50_000.0)
    assert row["total_tax"] == pytest.approx(direct["total_tax"])
    assert row["extra_tax"] == pytest.approx(row["total_tax"] - row["base_total_tax"] + 725.0)
    (lot,) = ev.lots
    assert lot["kind"] == NSO and lot["regular_basis"] == 51.0 == lot["amt_basis"]
    # Below the wage base, Social Security too: 6.2% x (184,500 - 150,000) + 725 = 2,864.
    low = scenario.years[0]
    lower = replace(scenario, years=(replace(low, wages=150_000.0), *scenario.years[1:]))
    ev = evaluate(lower, Plan(exercises={("nso", 2026): 1_000}), laws)
    assert ev.year(2026)["extra_fica"] == pytest.approx(2_139.0 + 725.0)
    assert fica(150_000.0, laws[2026]) == pytest.approx(0.0765 * 150_000.0)


def test_iso_exercised_after_its_deadline_is_taxed_as_nso(laws):
    option = seed_option(iso_deadline=date(2026, 12, 1))
    ev = evaluate(seed(options=(option,)), Plan(exercises={("iso", 2027): 100}), laws)
    row = ev.year(2027)
    assert row["wages"] == WAGES + 6_000.0 and row["iso_spread"] == 0.0
    assert ev.actions[0]["treatment"] == NSO


# ----------------------------------------------------------------------------------------------
# Cash, the objective, feasibility


def test_cash_path_and_objective(laws):
    plan = Plan(exercises={("iso", 2026): 10_000}, sales={("iso@2026", "ipo"): 10_000})
    ev = evaluate(seed(), plan, laws)
    rows = ev.years
    # 2026: 100,000 + 50,000 saved - 10,000 strike; 2027: the $154,376 AMT is paid in April.
    assert rows[0]["cash"] == pytest.approx(140_000.0)
    assert rows[1]["tax_paid"] == pytest.approx(154_376.0)
    assert rows[1]["cash"] == pytest.approx(140_000.0 + 50_000.0 - 154_376.0)
    assert rows[2]["proceeds"] == pytest.approx(710_000.0)
    cash = 100_000.0
    previous_tax = 0.0
    for row in rows:
        cash += row["savings"] + row["proceeds"] - row["exercise_cost"] - previous_tax
        assert row["cash"] == pytest.approx(cash)
        assert row["cash_in"] - row["cash_out"] == pytest.approx(row["cash"] - row["cash_start"])
        assert row["extra_tax"] == pytest.approx(
            row["total_tax"] - row["base_total_tax"] + row["extra_fica"]
        )
        previous_tax = row["extra_tax"]
    assert ev.held == {} and ev.unexercised == {}
    assert ev.terminal_value == 0.0
    assert ev.objective == "wealth" and ev.objective_value == ev.wealth
    assert ev.wealth == pytest.approx(
        rows[-1]["cash"] - rows[-1]["extra_tax"] + ev.credit_left_value
    )
    assert ev.credit_left_value == pytest.approx(ev.credit_left - ev.base_credit_left)
    # The plan's credit chain is its own: the 2026 AMT comes back from 2027 on (most of it in
    # the 2028 sale year), while the base has no credit at all.
    assert rows[0]["mtc_allowed"] == 0 and rows[2]["mtc_allowed"] > rows[1]["mtc_allowed"] > 0
    assert ev.base_credit_left == 0.0
    assert sum(r["mtc_allowed"] for r in rows) + ev.credit_left == pytest.approx(154_376.0)

    # Held shares and unexercised options count at the final price ($81) after the terminal tax.
    held = evaluate(seed(), Plan(exercises={("iso", 2026): 4_000}), laws)
    per_share = 81.0 - 0.238 * 80.0
    option_value = 80.0 * (1 - 0.37)
    assert held.held == {"iso@2026": 4_000.0} and held.unexercised == {"iso": 6_000.0}
    assert held.terminal_value == pytest.approx(4_000 * per_share + 6_000 * option_value)

    # min_tax: the present value of the extra taxes.
    scenario = seed(objective="min_tax", discount_rate=0.05)
    ev = evaluate(scenario, plan, laws)
    pv = sum(r["extra_tax"] / 1.05**i for i, r in enumerate(ev.years))
    assert ev.objective_value == pytest.approx(pv) == pytest.approx(ev.pv_extra_tax)


def test_cash_floor(laws):
    plan = Plan(exercises={("iso", 2026): 10_000})
    scenario = seed(start_cash=20_000.0, cash_floor=10_000.0)
    with pytest.raises(InfeasiblePlan) as err:
        evaluate(scenario, plan, laws)
    message = str(err.value)
    assert "cash falls below the floor in 2027" in message
    assert "-$44,376.00 < $10,000.00" in message
    assert "-$154,376.00 extra tax of 2026 paid in April" in message
    assert isinstance(err.value, ValueError)
    ev = evaluate(scenario, plan, laws, check_cash=False)
    assert ev.year(2027)["cash"] == pytest.approx(-44_376.0)
    assert ev.min_cash == pytest.approx(-44_376.0)
    # The exercise cost alone can break it too, in the exercise year: -35,000 + 50,000 saved
    # - 10,000 of strike = 5,000 (without the exercise, 15,000 is fine).
    scenario = seed(start_cash=-35_000.0, cash_floor=10_000.0)
    evaluate(scenario, Plan(), laws)
    with pytest.raises(InfeasiblePlan) as err:
        evaluate(scenario, plan, laws)
    assert "in 2026: $5,000.00 < $10,000.00" in str(err.value)
    assert "-$10,000.00 to exercise" in str(err.value)


def _vesting(**exercisable: float) -> OptionClass:
    return seed_option(exercisable={int(k[1:]): v for k, v in exercisable.items()})


INFEASIBLE = [
    ("negative", {}, Plan(exercises={("iso", 2026): -100}), "cannot be negative"),
    (
        "step",
        {"share_step": 100},
        Plan(exercises={("iso", 2026): 150}),
        "150 shares is not a multiple of the share step (100)",
    ),
    (
        "vesting",
        {"options": (_vesting(y2026=2_500, y2027=5_000, y2028=7_500, y2029=10_000),)},
        Plan(exercises={("iso", 2026): 3_000}),
        "exercises through 2026 total 3,000 shares but only 2,500 are vested and unexpired",
    ),
    (
        "cumulative",
        {"options": (_vesting(y2026=2_500, y2027=3_000, y2028=3_000, y2029=3_000),)},
        Plan(exercises={("iso", 2026): 2_000, ("iso", 2027): 2_000}),
        "exercises through 2027 total 4,000 shares but only 3,000",
    ),
    (
        "expired",
        {"options": (seed_option(expiry=date(2029, 1, 15), exercisable={2026: 10, 2029: 0}),)},
        Plan(exercises={("iso", 2029): 10}),
        "nothing is exercisable (it expired on 2029-01-15)",
    ),
    (
        "not vested",
        {"options": (_vesting(y2026=0, y2027=100),)},
        Plan(exercises={("iso", 2026): 10}),
        "no share of it is vested by then",
    ),
    ("unknown option", {}, Plan(exercises={("x", 2026): 10}), "no option class 'x'"),
    ("outside horizon", {}, Plan(exercises={("iso", 2030): 10}), "2030 is not a tax year"),
    (
        "no lot",
        {},
        Plan(sales={("iso@2027", "ipo"): 10}),
        "no such lot (the plan exercises no share of option 'iso' in 2027)",
    ),
    ("unknown window", {}, Plan(sales={("iso@2026", "x"): 10}), "no sale window 'x'"),
    (
        "sale before exercise",
        {"windows": (SaleWindow(id="early", year=2028, date=date(2028, 2, 1), price=71.0),)},
        Plan(exercises={("iso", 2028): 10}, sales={("iso@2028", "early"): 10}),
        "the window (2028-02-01) comes before the exercise that creates the lot (2028-03-01)",
    ),
    (
        "oversold",
        {},
        Plan(
            exercises={("iso", 2026): 1_000},
            sales={("iso@2026", "ipo"): 1_000, ("iso@2026", "market-2029"): 500},
        ),
        "lot 'iso@2026': 1,500 shares sold but only 1,000 held",
    ),
    (
        "tender cap",
        {"windows": (SaleWindow("tender", 2028, date(2028, 9, 1), 71.0, max_shares=1_000),)},
        Plan(
            exercises={("iso", 2026): 600, ("iso", 2027): 600},
            sales={("iso@2026", "tender"): 600, ("iso@2027", "tender"): 600},
        ),
        "window 'tender': 1,200 shares sold in all but the offer buys at most 1,000",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "plan", "reason"),
    [pytest.param(o, p, r, id=name) for name, o, p, r in INFEASIBLE],
)
def test_infeasible_plans_say_why(laws, overrides, plan, reason):
    with pytest.raises(InfeasiblePlan) as err:
        evaluate(seed(**overrides), plan, laws)
    assert reason in str(err.value)
    assert str(err.value).startswith("infeasible plan")


def test_every_problem_is_listed_and_solver_noise_is_snapped(laws):
    plan = Plan(exercises={("iso", 2026): -1, ("x", 2026): 5})
    with pytest.raises(InfeasiblePlan) as err:
        evaluate(seed(), plan, laws)
    assert len(err.value.problems) == 2
    ev = evaluate(seed(), Plan(exercises={("iso", 2026): 627.0000001}), laws)
    assert ev.actions[0]["shares"] == 627.0 and ev.year(2026)["amt"] == 0.0


def test_exercise_before_expiry_stays_feasible(laws):
    # exercisable drops to 0 once the options expire; earlier exercises remain valid.
    option = seed_option(expiry=date(2028, 1, 15), exercisable={2026: 1_000, 2027: 1_000})
    ev = evaluate(seed(options=(option,)), Plan(exercises={("iso", 2027): 400}), laws)
    assert ev.unexercised == {} and ev.held == {"iso@2027": 400.0}


def test_required_exercise_shortfall_is_reported(laws):
    scenario = seed(required_exercise={"iso": 5_000.0})
    ev = evaluate(scenario, Plan(exercises={("iso", 2026): 3_000}), laws)
    assert ev.required_shortfall == {"iso": 2_000.0}
    assert evaluate(scenario, Plan(exercises={("iso", 2027): 5_000}), laws).required_shortfall == {}


# ----------------------------------------------------------------------------------------------
# Baselines


def _exercised(plan: Plan, year: int) -> float:
    return sum(x for (_, y), x in plan.exercises.items() if y == year)


SCENARIOS = {
    "ample cash": seed(),
    "tight cash": seed(start_cash=20_000.0, cash_floor=5_000.0),
    "share step 100": seed(share_step=100, start_cash=30_000.0),
    "tender cap": seed(
        windows=(
            SaleWindow("tender", 2027, date(2027, 6, 1), 61.0, max_shares=3_000, kind="tender"),
            SaleWindow("ipo", 2028, date(2028, 9, 1), 71.0),
        )
    ),
}


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("scenario_name", sorted(SCENARIOS))
def test_each_baseline_is_feasible(laws, name, scenario_name):
    scenario = SCENARIOS[scenario_name]
    plan = BASELINES[name](scenario, laws)
    ev = evaluate(scenario, plan, laws)  # raises if infeasible
    assert math.isfinite(ev.objective_value)
    assert ev.min_cash >= scenario.cash_floor - 0.005
    step = scenario.share_step
    for shares in (*plan.exercises.values(), *plan.sales.values()):
        assert shares > 0 and shares % step == 0


def test_baselines_on_the_seed_story(laws):
    results = evaluate_baselines(seed(), laws)
    assert list(results) == list(BASELINES)

    plan, ev = results["crossover_each_year"]
    assert plan.exercises[("iso", 2026)] == 627
    assert all(row["amt"] < 0.005 for row in ev.years)
    assert plan.sales == {}

    plan, ev = results["exercise_all_now"]
    assert plan.exercises == {("iso", 2026): 10_000}
    assert ev.year(2026)["amt"] == pytest.approx(154_376.0)

    plan, ev = results["do_nothing_until_liquidity"]
    assert _exercised(plan, 2026) == _exercised(plan, 2027) == 0
    assert plan.exercises == {("iso", 2028): 10_000}
    assert plan.sales == {("iso@2028", "ipo"): 10_000}
    assert ev.year(2028)["ordinary_income"] == pytest.approx(700_000.0)
    assert ev.held == {}

    plan, _ = results["even_split"]
    assert plan.exercises == {("iso", y): 2_500 for y in YEARS}


def test_baselines_do_less_when_cash_is_short(laws):
    scenario = seed(start_cash=20_000.0, cash_floor=5_000.0)
    plan = exercise_all_now(scenario, laws)
    ev = evaluate(scenario, plan, laws)
    first = plan.exercises[("iso", 2026)]
    assert 0 < first < 10_000
    # The 2026 exercise is as large as the 2027 cash (after the April AMT payment) allows.
    evaluate(scenario, Plan(exercises={("iso", 2026): first}), laws)
    with pytest.raises(InfeasiblePlan, match="floor in 2027"):
        evaluate(scenario, Plan(exercises={("iso", 2026): first + 1}), laws)
    assert ev.min_cash >= 5_000.0 - 0.005

    no_savings = tuple(replace(y, savings=0.0) for y in scenario.years)
    plan = crossover_each_year(replace(scenario, years=no_savings, start_cash=5_300.0), laws)
    assert plan.exercises == {("iso", 2026): 300}  # $300 of strike: all the cash above the floor

    plan = even_split(scenario, laws)
    assert all(x <= 2_500 for x in plan.exercises.values())


def test_an_exercise_takes_the_last_share_its_own_years_cash_pays_for(laws):
    # exercise_all_now bounds an exercise by its year's cash before probing (`_affordable`):
    # $300 above the floor at a $1 strike is 300 shares, the bound itself, and it is taken; the
    # years after, with no cash left above the floor, exercise nothing (no probe needed).
    no_savings = tuple(replace(y, savings=0.0) for y in seed().years)
    scenario = seed(years=no_savings, start_cash=5_300.0, cash_floor=5_000.0)
    plan = exercise_all_now(scenario, laws)
    assert plan.exercises == {("iso", 2026): 300}
    with pytest.raises(InfeasiblePlan, match="floor in 2026"):
        evaluate(scenario, Plan(exercises={("iso", 2026): 301}), laws)


def test_do_nothing_respects_tender_caps_and_sells_old_lots_first(laws):
    old = Lot(
        id="old",
        grant_id="g0",
        kind=ISO,
        shares=1_000.0,
        grant_date=date(2022, 1, 1),
        exercise_date=date(2024, 1, 10),
        exercise_year=2024,
        regular_basis=1.0,
        amt_basis=11.0,
        holding=HOLDING,
    )
    scenario = SCENARIOS["tender cap"]
    scenario = replace(scenario, lots=(old,))
    plan = do_nothing_until_liquidity(scenario, laws)
    assert plan.sales[("old", "tender")] == 1_000
    assert plan.exercises[("iso", 2027)] == 2_000
    assert plan.sales[("iso@2027", "tender")] == 2_000
    assert plan.exercises[("iso", 2028)] == 8_000
    assert plan.sales[("iso@2028", "ipo")] == 8_000
    ev = evaluate(scenario, plan, laws)
    qualifying = {a["lot_id"]: a["qualifying"] for a in ev.actions if a["kind"] == "sale"}
    assert qualifying == {"old": True, "iso@2027": False, "iso@2028": False}


def test_baselines_meet_required_exercise_under_min_tax(laws):
    scenario = seed(objective="min_tax", required_exercise={"iso": 4_000.0}, discount_rate=0.03)
    results = evaluate_baselines(scenario, laws)
    for name, (plan, ev) in results.items():
        assert sum(plan.exercises.values()) == 4_000, name
        assert ev.required_shortfall == {}, name
        assert ev.objective_value == ev.pv_extra_tax
    assert results["exercise_all_now"][0].exercises == {("iso", 2026): 4_000}
    assert results["even_split"][0].exercises == {("iso", y): 1_000 for y in YEARS}
    assert results["do_nothing_until_liquidity"][0].exercises == {("iso", 2028): 4_000}
    crossing = results["crossover_each_year"][0].exercises
    assert crossing[("iso", 2026)] == 627  # then up to each year's crossover, the rest in 2029
    assert crossing[("iso", 2029)] > 1_000


# ----------------------------------------------------------------------------------------------
# The engine's choice of deduction: the lower total tax, then the larger credit generated, then
# the lower regular tax (models.engine; the tie cases of tests/cases/forms.yaml)
# ----------------------------------------------------------------------------------------------

# A couple in 2026 with $36,000 of state and local taxes: itemizing or not ties in total tax once
# the AMT (or a credit carried in) makes the tentative minimum tax the total either way.
TIE_COUPLE = {"wages": 250_000.0, "salt": 36_000.0}


@pytest.mark.parametrize(
    ("extra", "itemized", "credit_kept"),
    [
        ({"iso_spread": 150_000.0}, True, 912.0),  # AMT both ways: $912 more AMT, all credit
        ({"amt_credit_carryforward": 100_000.0}, True, 912.0),  # $912 less credit used
        ({}, True, None),  # no tie: itemizing is $912 cheaper
        # A tie again, but now the standard deduction (32,200 > 30,000) has the lower regular
        # tax: 24% x 2,200 = 528 more AMT, all credit, so the engine keeps it.
        ({"salt": 30_000.0, "iso_spread": 150_000.0}, False, 528.0),
    ],
)
def test_deduction_choice_on_a_tie_keeps_the_credit(laws, extra, itemized, credit_kept):
    p = params_for(laws[2026], "mfj")
    h = Household(**{**TIE_COUPLE, **extra})
    chosen = tax_one(h, p)
    assert bool(chosen["itemized"]) is itemized
    other = tax_one(h, p, itemize=not itemized)
    assert chosen["total_tax"] <= other["total_tax"] + 0.005
    if credit_kept is not None:
        assert chosen["total_tax"] == pytest.approx(other["total_tax"], abs=0.005)
        kept = chosen["mtc_carryforward_out"] - other["mtc_carryforward_out"]
        assert kept == pytest.approx(credit_kept, abs=0.005)
    # The vectorized engine chooses the same way, row by row.
    rows = [h, replace(h, salt=0.0)]  # the second: no itemized deductions, the standard one
    arrays = {f: np.array([getattr(r, f) for r in rows]) for f in ("wages", "salt")}
    others = {k: np.full(2, v) for k, v in extra.items() if k != "salt"}
    vec = tax_many(
        Household(**arrays, **others),
        LawTable({2026: laws[2026]}).gather(np.full(2, STATUSES.index("mfj"))),
        np.full(2, np.nan),
    )
    assert vec["itemized"].tolist() == [itemized, False]
    assert vec["mtc_carryforward_out"][0] == pytest.approx(chosen["mtc_carryforward_out"])


def test_the_base_itemizes_on_a_tie(laws):
    """A year with no action whose deduction the scenario leaves open (the base every plan is
    measured against) takes the tie's credit too: the couple itemizes, keeping $912 of credit."""
    years = tuple(replace(ty, **TIE_COUPLE, itemize=None) for ty in seed().years[:1])
    scenario = seed(filing_status="mfj", years=years, amt_credit_carryforward=100_000.0)
    assert evaluate(scenario, Plan(), laws).years[0]["itemized"] is True


# ----------------------------------------------------------------------------------------------
# An exercise on a sale window's date, sold the same day


def test_an_iso_exercised_and_sold_in_a_window_is_ordinary_income_without_amt(laws):
    # 1,000 ISOs at $1 exercised on the IPO window's date (2028-09-01, $71) and sold there: a
    # disqualifying disposition in the year of exercise, so the spread 70,000 is ordinary income
    # (not FICA wages) and the AMT follows the regular tax (no line 2i or 2k amount). The cash:
    # 71,000 received less 1,000 paid.
    options = (seed_option(window_exercisable={"ipo": 10_000.0}),)
    scenario = seed(options=options)
    ev = evaluate(scenario, Plan(same_day={("iso", "ipo"): 1_000.0}), laws)
    row = ev.year(2028)
    assert row["ordinary_income"] == 70_000.0
    assert row["iso_spread"] == row["amt_ordinary_adjustment"] == row["ltcg"] == 0.0
    assert row["fica_wages"] == WAGES and row["extra_fica"] == 0.0
    assert (row["proceeds"], row["exercise_cost"]) == (71_000.0, 1_000.0)
    direct = tax(laws, 2028, wages=WAGES, ordinary_income=70_000.0)
    assert row["total_tax"] == pytest.approx(direct["total_tax"])
    [action] = ev.actions
    assert (action["kind"], action["date"], action["shares"]) == (
        "exercise_and_sell",
        date(2028, 9, 1),
        1_000.0,
    )
    assert ev.unexercised["iso"] == 9_000.0 and not ev.lots


def test_an_nso_exercised_and_sold_in_a_window_is_wages(laws):
    """The spread of an NSO (here an ISO exercised after its window closed) is wages, with FICA."""
    option = seed_option(iso_deadline=date(2027, 1, 1), window_exercisable={"ipo": 10_000.0})
    ev = evaluate(seed(options=(option,)), Plan(same_day={("iso", "ipo"): 1_000.0}), laws)
    row = ev.year(2028)
    assert row["wages"] == WAGES + 70_000.0 and row["fica_wages"] == WAGES + 70_000.0
    assert row["ordinary_income"] == 0.0 and ev.actions[0]["treatment"] == "nso"


def test_a_same_day_exercise_counts_against_what_is_vested_on_its_date(laws):
    """Vesting is checked on the window's own date, with the year's exercises before it."""
    option = seed_option(window_exercisable={"ipo": 2_000.0})
    plan = Plan(exercises={("iso", 2028): 1_500.0}, same_day={("iso", "ipo"): 1_000.0})
    with pytest.raises(InfeasiblePlan, match=r"exercises through window 'ipo' total 2,500"):
        evaluate(seed(options=(option,)), plan, laws)
    with pytest.raises(InfeasiblePlan, match=r"in window 'ipo' \(2028-09-01\): nothing is"):
        evaluate(seed(), Plan(same_day={("iso", "ipo"): 1_000.0}), laws)
    with pytest.raises(InfeasiblePlan, match=r"no sale window 'tender' in the horizon"):
        evaluate(seed(), Plan(same_day={("iso", "tender"): 1_000.0}), laws)
