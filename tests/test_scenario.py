"""Scenario files (planner.scenario): vesting, the $100,000 ISO limit, termination, sale windows,
lots, income, every example in scenarios/plan-*.yaml, and bad input (one line naming the file,
the field path and why)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from click.testing import CliRunner

from models.law import STATUSES
from models.scenario import ISO, NSO, STOCK, OptionClass, Scenario
from planner.cli import cli
from planner.errors import InputError
from planner.options import Overrides, PlanOptions
from planner.scenario import (
    Household,
    load_scenario,
    scenario_from_data,
    scenario_json_schema,
    validate,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "scenarios").glob("plan-*.yaml"))


def base(**changes: Any) -> dict[str, Any]:
    """A small valid scenario: single, 2026-2027, one fully vested ISO grant."""
    doc: dict[str, Any] = {
        "description": "test",
        "household": {"filing_status": "single", "start_cash": 50_000},
        "horizon": {"first_year": 2026, "years": 2},
        "default": {"wages": 150_000},
        "prices": {2026: 10, 2027: 12},
        "grants": [
            {
                "id": "g1",
                "type": "iso",
                "grant_date": date(2024, 1, 15),
                "strike": 1,
                "shares": 1_000,
                "vesting": {"months": 0},
            }
        ],
    }
    doc.update(changes)
    return doc


def load(doc: dict[str, Any], **overrides: Any) -> Scenario:
    return scenario_from_data(doc, "scenario.yaml", overrides=Overrides(**overrides))


def option(s: Scenario, option_id: str) -> OptionClass:
    return next(o for o in s.options if o.id == option_id)


def grant(**fields: Any) -> dict[str, Any]:
    g = {"id": "g", "type": "iso", "grant_date": date(2024, 1, 15), "strike": 1, "shares": 4_800}
    g.update(fields)
    return g


# ----------------------------------------------------------------------------------------------
# vesting
# ----------------------------------------------------------------------------------------------


def test_cliff_then_monthly() -> None:
    # 4,800 shares over 48 months with a 12-month cliff (models.grants): exercisable on each year's
    # exercise date (December 15); 11 months is before the cliff.
    s = load(
        base(
            horizon={"first_year": 2024, "years": 4},
            prices={2024: 5, 2025: 6, 2026: 7, 2027: 8},
            grants=[grant(vesting={"cliff_months": 12, "months": 48})],
        )
    )
    assert option(s, "g").exercisable == {2024: 0, 2025: 2_300, 2026: 3_500, 2027: 4_700}


def test_explicit_vesting_dates() -> None:
    explicit = grant(
        vesting={
            "dates": [
                {"date": date(2025, 6, 1), "shares": 800},
                {"date": date(2024, 6, 1), "shares": 4_000},
            ]
        }
    )
    s = load(base(grants=[explicit]))
    assert option(s, "g").exercisable == {2026: 4_800, 2027: 4_800}


# ----------------------------------------------------------------------------------------------
# the $100,000 ISO limit (IRC §422(d))
# ----------------------------------------------------------------------------------------------


def test_iso_limit_splits_the_later_grant() -> None:
    # Worked example. Grant A (2024-01-01, FMV at grant $10): 12,000 ISOs vesting 3,000 a year
    # on January 1, 2025-2028 -> $30,000 a year. Grant B (2024-06-01, FMV $30): 16,000 ISOs
    # vesting 4,000 a year on June 1, 2025-2028 -> $120,000 a year.
    # Each year A is counted first (granted first): $30,000, leaving $70,000 for B, i.e.
    # floor(70,000 / 30) = 2,333 shares ($69,990) as ISO and 4,000 - 2,333 = 1,667 as NSO.
    # On 2026-12-15 (two vestings of each): A 6,000 ISO; B 4,666 ISO and 3,334 NSO.
    a = grant(id="A", grant_date=date(2024, 1, 1), strike=10, shares=12_000,
              vesting={"start": date(2024, 1, 1), "months": 48, "every": "annual"})  # fmt: skip
    b = grant(id="B", grant_date=date(2024, 6, 1), strike=30, shares=16_000,
              vesting={"start": date(2024, 6, 1), "months": 48, "every": "annual"})  # fmt: skip
    s = load(base(grants=[b, a]))  # file order does not matter, grant order does
    assert [o.id for o in s.options] == ["B", "B:nso", "A"]
    assert option(s, "A").exercisable == {2026: 6_000, 2027: 9_000}
    assert option(s, "B").exercisable == {2026: 4_666, 2027: 6_999}
    assert option(s, "B:nso").exercisable == {2026: 3_334, 2027: 5_001}
    assert option(s, "B").kind == ISO and option(s, "B:nso").kind == NSO
    assert option(s, "B:nso").grant_id == "B" and option(s, "B:nso").strike == 30
    # Different employers do not share the limit: B alone is $120,000 a year, so
    # floor(100,000 / 30) = 3,333 shares a year are ISO.
    b_other = {**b, "employer": "previous-co"}
    s = load(base(grants=[a, b_other]))
    assert option(s, "B").exercisable == {2026: 6_666, 2027: 9_999}
    # The value at grant is fmv_at_grant x shares, not the strike.
    cheap = {**b, "strike": 30, "fmv_at_grant": 20}  # $80,000 a year: under the limit alone
    s = load(base(grants=[cheap]))
    assert [o.id for o in s.options] == ["B"]


def test_iso_limit_within_one_grant_and_nso_grants() -> None:
    # 30,000 shares at $10 vesting monthly over 24 months: 15,000 = $150,000 a year; the first
    # 10,000 of each year (January-August of 1,250) count as ISO.
    g = grant(grant_date=date(2024, 12, 15), strike=10, shares=30_000,
              vesting={"start": date(2024, 12, 15), "months": 24})  # fmt: skip
    s = load(base(grants=[g]))
    assert option(s, "g").exercisable == {2026: 20_000, 2027: 20_000}
    assert option(s, "g:nso").exercisable == {2026: 10_000, 2027: 10_000}
    n = {**g, "type": "nso"}
    s = load(base(grants=[n]))
    assert [(o.id, o.kind) for o in s.options] == [("g", NSO)]
    assert option(s, "g").exercisable == {2026: 30_000, 2027: 30_000}


# ----------------------------------------------------------------------------------------------
# expiry and termination
# ----------------------------------------------------------------------------------------------


def test_termination_stops_vesting_and_expires_options() -> None:
    g = grant(vesting={"cliff_months": 12, "months": 48}, termination_date=date(2026, 9, 20))
    s = load(base(prices={2026: {"fmv": 10, "exercise_date": date(2026, 11, 1)}, 2027: 12},
                  grants=[g]))  # fmt: skip
    o = option(s, "g")
    # Vested through 2026-09-15 (32 months); the options expire 90 days after leaving.
    assert o.exercisable == {2026: 3_200, 2027: 0}
    assert o.expiry == date(2026, 12, 19)
    assert o.iso_deadline == date(2026, 12, 20)
    assert o.treatment(date(2026, 11, 1)) == ISO
    assert o.treatment(date(2026, 12, 21)) == NSO


def test_extended_window_keeps_options_as_nso() -> None:
    g = grant(
        vesting={"months": 0}, termination_date=date(2026, 3, 31), post_termination_days=1_000
    )
    s = load(base(grants=[g]))
    o = option(s, "g")
    assert o.exercisable == {2026: 4_800, 2027: 4_800}
    assert o.kind == ISO and o.iso_deadline == date(2026, 6, 30)
    assert o.treatment(date(2026, 12, 15)) == NSO  # more than 3 months after leaving


def test_expiry_default_ten_years_and_explicit() -> None:
    old = grant(grant_date=date(2016, 12, 1), vesting={"months": 0})  # expires 2026-12-01
    s = load(base(grants=[old]))
    assert option(s, "g").expiry == date(2026, 12, 1)
    assert option(s, "g").exercisable == {2026: 0, 2027: 0}
    short = grant(vesting={"months": 0}, expiry=date(2027, 6, 30))
    s = load(base(grants=[short]))
    assert option(s, "g").exercisable == {2026: 4_800, 2027: 0}


# ----------------------------------------------------------------------------------------------
# sale windows
# ----------------------------------------------------------------------------------------------


def test_market_windows_after_lockup_and_tenders() -> None:
    doc = base(
        horizon={"first_year": 2026, "years": 3},
        prices={2026: 10, 2027: {"fmv": 20, "sale_date": date(2027, 8, 1)}, 2028: 30},
        liquidity={
            "ipo_date": date(2027, 1, 20),  # lockup ends 2027-07-19
            "tender_offers": [
                {"date": date(2026, 6, 1), "price": 8.5, "max_shares": 500},
                {"date": date(2026, 3, 1), "price": 8},
            ],
        },
    )
    s = load(doc)
    assert [(w.id, w.year, w.date, w.price, w.max_shares, w.kind) for w in s.windows] == [
        ("tender-2026-03-01", 2026, date(2026, 3, 1), 8.0, None, "tender"),
        ("tender-2026-06-01", 2026, date(2026, 6, 1), 8.5, 500.0, "tender"),
        ("market-2027", 2027, date(2027, 8, 1), 20.0, None, "market"),
        ("market-2028", 2028, date(2028, 12, 31), 30.0, None, "market"),
    ]
    # A sale date inside the lockup has no market window that year.
    doc["prices"][2027] = {"fmv": 20, "sale_date": date(2027, 7, 18)}
    assert [w.id for w in load(doc).windows if w.kind == "market"] == ["market-2028"]
    doc["liquidity"] = {"ipo_date": date(2027, 7, 18), "lockup_days": 0}
    assert [w.id for w in load(doc).windows] == ["market-2027", "market-2028"]
    assert load(base()).windows == ()  # private through the horizon


# ----------------------------------------------------------------------------------------------
# lots, income, objective
# ----------------------------------------------------------------------------------------------


def test_lots_and_shares_already_exercised() -> None:
    lots = [
        {"id": "iso-2024", "grant_id": "g1", "type": "iso", "shares": 300,
         "exercise_date": date(2024, 12, 10), "amt_basis": 6},
        {"id": "nso-2025", "grant_id": "old-nso", "type": "nso", "shares": 50,
         "exercise_date": date(2025, 3, 1), "regular_basis": 7},
        {"id": "rsu", "type": "stock", "shares": 40, "exercise_date": date(2025, 5, 1),
         "regular_basis": 9},
    ]  # fmt: skip
    s = load(base(lots=lots))
    iso, nso, stock = s.lots
    assert (iso.kind, iso.grant_date, iso.regular_basis, iso.amt_basis, iso.exercise_year) == (
        ISO, date(2024, 1, 15), 1.0, 6.0, 2024)  # fmt: skip
    assert (nso.kind, nso.grant_date, nso.regular_basis, nso.amt_basis) == (
        NSO, date(2025, 3, 1), 7.0, 7.0)  # fmt: skip
    assert (stock.kind, stock.grant_id, stock.shares) == (STOCK, "", 40.0)
    # The 300 exercised shares of g1 are no longer options.
    assert option(s, "g1").exercisable == {2026: 700, 2027: 700}
    # 500 exercised, 300 still held (200 sold).
    doc = base(lots=lots)
    doc["grants"][0]["exercised"] = 500
    assert option(load(doc), "g1").exercisable == {2026: 500, 2027: 500}


def test_exercised_shares_come_off_the_iso_part_first() -> None:
    # 15,000 shares at $10 vested on 2025-01-01: 10,000 ISO + 5,000 NSO; 12,000 exercised.
    g = grant(grant_date=date(2025, 1, 1), strike=10, shares=15_000, exercised=12_000,
              vesting={"months": 0})  # fmt: skip
    s = load(base(grants=[g]))
    assert option(s, "g").exercisable == {2026: 0, 2027: 0}
    assert option(s, "g:nso").exercisable == {2026: 3_000, 2027: 3_000}


def test_income_defaults_overrides_and_growth() -> None:
    doc = base(
        horizon=None,
        default={"wages": 100_000, "bonus": 10_000, "salt": 5_000, "savings": 20_000},
        wage_growth=0.1,
        years={2026: {}, 2027: {"rsu_income": 7_000, "itemize": True, "savings": -5_000},
               2028: {"wages": 90_000, "ltcg": -3_000, "other_ordinary_income": 1_000}},
        prices={2026: 10, 2027: 12, 2028: 14},
    )  # fmt: skip
    s = load(doc)
    assert s.year_numbers == (2026, 2027, 2028)  # implied by `years`
    y26, y27, y28 = s.years
    assert (y26.wages, y26.salt, y26.savings, y26.itemize) == (110_000, 5_000, 20_000, None)
    assert (y27.wages, y27.itemize, y27.savings) == (
        127_000,
        True,
        -5_000,
    )  # 110,000 + 10,000 + 7,000
    assert (y28.wages, y28.ltcg, y28.ordinary_income) == (100_000, -3_000, 1_000)
    assert (y26.exercise_date, y26.fmv) == (date(2026, 12, 15), 10)
    # The list form means the same.
    doc["years"] = [{"year": y, **v} for y, v in doc["years"].items()]
    assert load(doc).years == s.years


def test_capital_losses_carried_in() -> None:
    # Regular and AMT, short- and long-term: Scenario fields of the same names (0 by default);
    # amounts carried in are positive, so a negative one is refused with its field.
    carried = {"st_loss_carryover": 1_000, "lt_loss_carryover": 2_000,
               "amt_st_loss_carryover": 3_000, "amt_lt_loss_carryover": 470_000}  # fmt: skip
    doc = base(household={"filing_status": "single", "start_cash": 1, **carried})
    s = validate(doc, "scenario.yaml").scenario
    assert {k: getattr(s, k) for k in carried} == carried
    d = validate(base(), "scenario.yaml").scenario
    assert [getattr(d, k) for k in carried] == [0.0] * 4
    bad = base(household={"filing_status": "single", "start_cash": 1, "lt_loss_carryover": -5})
    with pytest.raises(InputError, match="lt_loss_carryover"):
        validate(bad, "scenario.yaml")


def test_household_objective_solver_and_tax_law() -> None:
    doc = base(
        household={"filing_status": "MFJ", "start_cash": 1, "cash_floor": 2,
                   "amt_credit_carryforward": 3},
        objective={"goal": "min_tax", "required_exercise": {"g1": 400}, "discount_rate": 0.05,
                   "terminal_price": 20, "credit_value": 0.8},
        solver={"name": "highs", "gap": "1e-3", "time_limit": 5, "share_step": 10},
        tax_law={"inflation": 0.03},
    )  # fmt: skip
    v = validate(doc, "scenario.yaml")
    s, o = v.scenario, v.options
    assert (s.filing_status, s.start_cash, s.cash_floor, s.amt_credit_carryforward) == (
        "mfj", 1, 2, 3)  # fmt: skip
    assert (s.objective, s.required_exercise, s.discount_rate, s.terminal_price) == (
        "min_tax", {"g1": 400.0}, 0.05, 20)  # fmt: skip
    assert (s.credit_value, s.share_step) == (0.8, 10)
    assert o == PlanOptions("highs", 1e-3, 5, 0.03, True)
    # the command line's settings replace the file's, one by one
    over = validate(doc, "scenario.yaml", overrides=Overrides(inflation=0.02, solver="cbc"))
    assert over.options == PlanOptions("cbc", 1e-3, 5, 0.02, True)
    d = validate(base(), "scenario.yaml")  # the defaults are the domain types'
    assert (d.scenario.objective, d.scenario.terminal_tax_rate) == ("wealth", 0.238)
    assert d.options == PlanOptions()
    assert (d.options.solver, d.options.gap, d.options.inflation) == ("highs", 1e-4, None)
    assert load(base(objective="wealth")).objective == "wealth"
    assert set(get_args(Household.model_fields["filing_status"].annotation)) == set(STATUSES)


# ----------------------------------------------------------------------------------------------
# the examples
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_plan_example_loads(path: Path) -> None:
    s = load_scenario(path)
    assert len(s.description) > 80
    assert 3 <= len(s.years) <= 5 and 1 <= len({o.grant_id for o in s.options}) <= 3
    assert all(any(v > 0 for v in o.exercisable.values()) for o in s.options)
    jsonschema = pytest.importorskip("jsonschema")
    doc = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
    jsonschema.validate(doc, scenario_json_schema())


def test_examples_tell_their_stories() -> None:
    names = {p.name for p in EXAMPLES}
    assert names == {"plan-seed-story.yaml", "plan-multi-grant.yaml", "plan-departure.yaml",
                     "plan-tender-offer.yaml", "plan-single-90k.yaml",
                     "plan-departed-no-wages.yaml", "plan-crash-loss.yaml",
                     "plan-california-seed.yaml", "plan-california-move.yaml"}  # fmt: skip
    seed = load_scenario(ROOT / "scenarios" / "plan-seed-story.yaml")
    assert seed.options[0].exercisable[2026] == 10_000 and seed.years[0].fmv == 51
    assert [w.id for w in seed.windows] == ["market-2028", "market-2029"]
    multi = load_scenario(ROOT / "scenarios" / "plan-multi-grant.yaml")
    assert "refresh:nso" in {o.id for o in multi.options} and multi.filing_status == "mfj"
    gone = load_scenario(ROOT / "scenarios" / "plan-departure.yaml")
    assert option(gone, "founding").exercisable == {2026: 18_000, 2027: 0, 2028: 0}
    assert option(gone, "extended").treatment(date(2027, 12, 15)) == NSO
    tender = load_scenario(ROOT / "scenarios" / "plan-tender-offer.yaml")
    assert [(w.kind, w.price, w.max_shares) for w in tender.windows] == [("tender", 28, 5_000)]
    low = load_scenario(ROOT / "scenarios" / "plan-single-90k.yaml")
    assert {ty.wages for ty in low.years} == {90_000} and low.filing_status == "single"
    off = load_scenario(ROOT / "scenarios" / "plan-departed-no-wages.yaml")
    assert [ty.wages for ty in off.years] == [0, 0, 150_000, 155_000]
    assert option(off, "second").treatment(date(2026, 12, 15)) == NSO
    crash = load_scenario(ROOT / "scenarios" / "plan-crash-loss.yaml")
    assert {lot.id: lot.regular_basis for lot in crash.lots}["rsu-2024"] == 42
    california = load_scenario(ROOT / "scenarios" / "plan-california-seed.yaml")
    assert {ty.state for ty in california.years} == {"ca"}
    moved = load_scenario(ROOT / "scenarios" / "plan-california-move.yaml")
    assert [ty.state for ty in moved.years] == ["ca", "ca", "", ""]


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to base(): `path` like 'grants.0.strike' (a missing value deletes the key)."""

    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        key: Any = int(last) if isinstance(node, list) or last.isdigit() else last
        if value is _DELETE:
            del node[key]
        elif isinstance(node, list) and key == len(node):
            node.append(value)
        else:
            node[key] = value

    return apply


_DELETE = object()
LOT = {"id": "l1", "grant_id": "g1", "type": "iso", "shares": 10,
       "exercise_date": date(2025, 2, 1), "amt_basis": 5}  # fmt: skip

BAD: list[tuple[str, Any, str]] = [
    ("grants.0.strike", -1, "grants[0].strike: must not be negative, got -1"),
    ("grants.0.strik", 3, "grants[0].strik: unknown field; did you mean 'strike'?"),
    ("pricez", {}, "pricez: unknown field; did you mean 'prices'?"),
    ("household.filing_status", _DELETE, "household.filing_status: required"),
    ("household.filing_status", "married",
     "household.filing_status: expected 'single', 'mfj', 'mfs' or 'hoh', got 'married'"),
    ("household.start_cash", float("nan"), "household.start_cash: must be a finite number"),
    ("description", " ", "description: must not be empty"),
    ("grants.0.grant_date", "2024-02-30", "grants[0].grant_date: expected a date like 2026-12-15"),
    ("grants.0.shares", 10.5, "grants[0].shares: must be a whole number, got 10.5"),
    ("grants.0.shares", True, "grants[0].shares: expected a number, got True"),
    ("grants.0.id", "g 1", "grants[0].id: use letters, digits"),
    ("grants.0.type", "rsu", "grants[0].type: expected 'iso' or 'nso', got 'rsu'"),
    ("grants.0.expiry", date(2024, 1, 1), "grants[0].expiry: must be after the grant date"),
    ("grants.0.expiry", date(2035, 1, 1), "grants[0].expiry: an ISO must expire within 10 years"),
    ("grants.0.fmv_at_grant", 2, "grants[0].strike: below fmv_at_grant (2)"),
    ("grants.0.termination_date", date(2023, 1, 1),
     "grants[0].termination_date: must not be before the grant date 2024-01-15"),
    ("grants.0.vesting", {"months": 50, "every": "quarterly"},
     "grants[0].vesting.months: 50 is not a whole number of quarterly periods"),
    ("grants.0.vesting", {"months": 12, "cliff_months": 24},
     "grants[0].vesting.cliff_months: 24 is longer than the vesting (12)"),
    ("grants.0.vesting", {"dates": [{"date": date(2024, 6, 1), "shares": 10}]},
     "grants[0].vesting.dates: vest 10 shares in all, but the grant has 1,000"),
    ("grants.0.vesting", {"months": 12, "dates": [{"date": date(2024, 6, 1), "shares": 1000}]},
     "grants[0].vesting.months: give either a schedule (months) or dates"),
    ("grants.0.vesting", {}, "grants[0].vesting: give the schedule's months"),
    ("grants.0.exercised", 2_000, "grants[0].exercised: 2,000 shares exercised, but only 1,000"),
    ("grants.1", {"id": "g1", "type": "nso", "grant_date": date(2024, 1, 1), "strike": 1,
                  "shares": 5, "vesting": {"months": 0}},
     "grants[1].id: 'g1' is also grants[0]"),
    ("prices.2027", _DELETE, "prices: no price for 2027"),
    ("prices.2028", 5, "prices[2028]: year 2028 is outside the horizon 2026-2027"),
    ("prices.2026", {"fmv": 10, "exercise_date": date(2027, 1, 1)},
     "prices[2026].exercise_date: must be in 2026, got 2027-01-01"),
    ("prices.2026", {"fmv": 0}, "prices[2026].fmv: must be positive, got 0"),
    ("prices.abc", 3, "prices.abc: expected a year like 2026, got 'abc'"),
    ("years", {2030: {"wages": 1}}, "years[2030]: year 2030 is outside the horizon 2026-2027"),
    ("years", [{"year": 2026, "wagez": 1}],
     "years[2026].wagez: unknown field; did you mean 'wages'?"),
    ("years", {2026: {"wages": "lots"}}, "years[2026].wages: expected a number, got 'lots'"),
    ("years", {2026: {"aged_blind": 5}}, "years[2026].aged_blind: must be at most 4, got 5"),
    ("years", [{"year": 2026}, {"year": 2026}], "years: year 2026 is listed twice"),
    ("horizon", _DELETE, "horizon: required"),
    ("horizon", {"first_year": 2020, "years": 2},
     "horizon: tax year 2020: no tax-law data (published years 2024-"),
    ("horizon", {"first_year": 2026, "years": 0}, "horizon.years: must be at least 1, got 0"),
    ("lots", [{**LOT, "exercise_date": date(2026, 2, 1)}],
     "lots[0].exercise_date: must be before 2026, the first year of the horizon"),
    ("lots", [{**LOT, "amt_basis": None}], "lots[0].amt_basis: required (the FMV at exercise)"),
    ("lots", [{**LOT, "regular_basis": 2}],
     "lots[0].regular_basis: 2, but the regular basis of ISO shares is the strike (1)"),
    ("lots", [{**LOT, "grant_id": "gx"}],
     "lots[0].grant_date: required (grant 'gx' is not listed under grants)"),
    ("lots", [{**LOT, "grant_id": None}], "lots[0].grant_id: required for iso shares"),
    ("lots", [{**LOT, "shares": 2_000}],
     "grants[0]: the lots from this grant hold 2,000 shares, but only 1,000 vested"),
    ("lots", [LOT, LOT], "lots[1].id: 'l1' is also lots[0]"),
    ("liquidity", {"ipo": date(2027, 1, 1)},
     "liquidity.ipo: unknown field; did you mean 'ipo_date'?"),
    ("liquidity", {"tender_offers": [{"date": date(2030, 1, 1), "price": 5}]},
     "liquidity.tender_offers[0].date: 2030-01-01 is outside the horizon 2026-2027"),
    ("liquidity", {"tender_offers": [{"date": date(2026, 5, 1), "price": 5, "max_shares": -1}]},
     "liquidity.tender_offers[0].max_shares: must not be negative, got -1"),
    ("objective", "min_tax", "objective.required_exercise: min_tax needs the shares to exercise"),
    ("objective", {"required_exercise": {"g3": 5}},
     "objective.required_exercise.g3: no option class 'g3' (option classes: g1)"),
    ("objective", {"required_exercise": {"g1": 5_000}},
     "objective.required_exercise.g1: 5,000 shares, but at most 1,000 are exercisable"),
    ("objective", {"goal": "max_wealth"}, "objective.goal: expected 'wealth' or 'min_tax'"),
    ("solver", {"name": "gurobi"}, "solver.name: expected 'cbc', 'highs' or 'scip', got 'gurobi'"),
    ("solver", {"share_step": 0}, "solver.share_step: must be at least 1, got 0"),
    ("tax_law", {"inflation": 2}, "tax_law.inflation: must be at most 1, got 2"),
    ("household", [], "household: expected a mapping, got []"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "message"), BAD, ids=[b[2][:40] for b in BAD])
def test_bad_input_is_one_line_naming_the_field(path: str, value: Any, message: str) -> None:
    doc = copy.deepcopy(base())
    _set(path, value)(doc)
    with pytest.raises(InputError) as exc:
        load(doc)
    text = str(exc.value)
    assert text.startswith("scenario.yaml: " + message), text
    assert "\n" not in text and "pydantic" not in text.lower()


def test_no_projection_names_the_year() -> None:
    doc = base(horizon={"first_year": 2026, "years": 3}, prices={2026: 1, 2027: 2, 2028: 3})
    assert load(doc).year_numbers == (2026, 2027, 2028)
    message = "horizon: tax year 2027: no published tax-law data (last is 2026)"
    for kw, tax_law in (({"allow_projection": False}, {}), ({}, {"projection": False})):
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load({**doc, "tax_law": tax_law}, **kw)


def test_file_errors_name_the_line(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "plan-multi-grant.yaml").read_text()
    bad = tmp_path / "scenario.yaml"
    bad.write_text(text.replace("strike: 4\n", "strike: -4\n"))
    line = text.splitlines().index("    strike: 4") + 1
    with pytest.raises(InputError) as exc:
        load_scenario(bad)
    assert str(exc.value) == f"{bad}: grants[1].strike: must not be negative, got -4 (line {line})"
    bad.write_text(text.replace("  2028: 25\n", "  2028: 25\n  2028: 26\n"))
    with pytest.raises(InputError, match=r"key 2028 appears twice in the same mapping \(line "):
        load_scenario(bad)
    bad.write_text("description: [unclosed\n")
    with pytest.raises(InputError, match=r"scenario.yaml: cannot read YAML: .*\(line 2\)"):
        load_scenario(bad)
    bad.write_text("- 1\n")
    with pytest.raises(InputError, match="expected a mapping at the top level"):
        load_scenario(bad)
    with pytest.raises(InputError, match="cannot read file"):
        load_scenario(tmp_path / "missing.yaml")
    # The list form of `years`: the line in that year's entry.
    bad.write_text(
        text.replace("years:\n  2027:\n    bonus: 80000", "years:\n  - year: 2027\n    bonsu: 1")
    )
    with pytest.raises(InputError) as exc:
        load_scenario(bad)
    lines = bad.read_text().splitlines()
    line = next(i for i, t in enumerate(lines, 1) if t.startswith("    bonsu: 1"))
    assert str(exc.value).endswith(
        f"years[2027].bonsu: unknown field; did you mean 'bonus'? (line {line})"
    )


# ----------------------------------------------------------------------------------------------
# isoplan schema
# ----------------------------------------------------------------------------------------------


def test_schema_command_prints_the_json_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema == json.loads(json.dumps(scenario_json_schema()))
    assert {"description", "household", "prices", "grants", "lots", "liquidity", "objective",
            "solver", "horizon", "years", "default"} <= set(schema["properties"])  # fmt: skip
    assert schema["required"] == ["description", "household", "prices"]
    assert schema["$defs"]["Grant"]["additionalProperties"] is False
    help_text = CliRunner().invoke(cli, ["schema", "--help"]).output
    assert "JSON Schema" in help_text and "isoplan schema > scenario.schema.json" in help_text


def test_the_format_summary_in_the_module_docstring_loads() -> None:
    import textwrap

    import planner.scenario

    doc = planner.scenario.__doc__ or ""
    block = textwrap.dedent(doc.split("examples):\n\n")[1].split("\n\nConversion rules")[0])
    s = load(yaml.safe_load(block))
    assert [w.id for w in s.windows] == ["tender-2027-06-15", "market-2028", "market-2029"]
    assert [y.wages for y in s.years] == [200_000, 226_000, 212_180, 218_545.4]
