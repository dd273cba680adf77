"""The book's honest headlines and this year's actions, without running a batch.

The value of planning at flat prices (`planner.flat`): the prices it flattens and those it
keeps, its lower-bound claim against a plan re-optimized at flat prices, no figure for a plan
that needs the growth. A client's row reads right (AMT paid by the plan and by each baseline,
value over each positive when the plan is better), the totals of `batch.json`, the price paths a
batch leaves out, and `actions_due` from hand-written tables: first-year actions only, a
flagged client without one, a failed client, the order by value at stake.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from models.baselines import BASELINES, best_baseline
from planner.actions_due import ACTIONS_DUE_COLUMNS, FLAG_COLUMNS, actions_due, client_flags
from planner.batch import CLIENT_COLUMNS, PATHS_IGNORED, headlines, plan_client
from planner.book import Client, read_book
from planner.flat import flat_prices, flat_value
from planner.options import Overrides
from planner.plan import run_plan
from planner.scenario import load, parse_yaml

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "scenarios" / "plan-seed-story.yaml"
BOOK = ROOT / "scenarios" / "book"


@pytest.fixture(scope="module")
def seed():
    v = load(SEED)
    return v, run_plan(v.scenario, v.laws, v.options)


def seed_with(**changes: object) -> Client:
    """The seed story's document with some of its sections replaced, as a book's client."""
    doc = parse_yaml(SEED.read_text(encoding="utf-8"), str(SEED))[0]
    for key, value in changes.items():
        section, _, name = key.partition("__")
        doc[section][name] = value
    return Client("seed", "seed", data=doc)


TENDERS = [
    {"date": date(2026, 9, 1), "price": 45, "max_shares": 1000},
    {"date": date(2027, 9, 1), "price": 55},
]


def test_flat_prices_flatten_every_later_price_and_keep_this_years() -> None:
    s = seed_with(liquidity__tender_offers=TENDERS, objective__terminal_price=90).validated()
    s = s.scenario
    flat = flat_prices(s)
    first = s.years[0]
    assert [ty.fmv for ty in s.years] == [51, 51, 60, 60]
    assert [ty.fmv for ty in flat.years] == [51] * 4
    assert [ty.year for ty in flat.years] == [ty.year for ty in s.years]
    assert {w.kind for w in s.windows} == {"tender", "market"}
    for w, f in zip(s.windows, flat.windows, strict=True):
        assert (f.id, f.date, f.max_shares) == (w.id, w.date, w.max_shares)
        assert f.price == (w.price if w.year == first.year else 51)
    assert flat.windows[0].price == 45  # this year's tender is today's price
    assert (s.terminal_price, flat.terminal_price, flat.final_price) == (90, 51, 51)
    assert flat.options == s.options and flat.lots == s.lots  # decisions mean the same


def test_flat_value_is_a_lower_bound_of_planning_for_flat_prices(seed) -> None:
    v, result = seed
    flat = flat_value(v.scenario, result.plan, v.laws, 60)
    assert flat.note == "" and flat.best_baseline in BASELINES
    assert flat.wealth < result.evaluation.wealth  # 51 -> 60 was assumed growth
    # Re-optimized for flat prices, the optimizer does at least as well (within its gap).
    again = run_plan(flat_prices(v.scenario), v.laws, v.options)
    best = best_baseline(again.baselines, "wealth")
    assert best == flat.best_baseline
    value = again.evaluation.objective_value - again.baselines[best][1].objective_value
    slack = (again.solve.gap or 0.0) * abs(again.evaluation.objective_value) + 1.0
    assert flat.value_over_best_baseline <= value + slack
    assert flat.wealth <= again.evaluation.wealth + slack


def test_a_plan_that_needs_the_growth_has_no_flat_figure() -> None:
    client = next(c for c in read_book(BOOK).clients if c.client_id == "c5")
    v = client.validated()
    result = run_plan(v.scenario, v.laws, v.options)
    flat = flat_value(v.scenario, result.plan, v.laws, 60)
    assert math.isnan(flat.value_over_best_baseline) and math.isnan(flat.wealth)
    assert flat.note.startswith("the plan is infeasible at flat prices: cash falls below")
    row = plan_client(client, Overrides())["clients"].iloc[0]
    assert row["flat_note"] == flat.note and math.isnan(row["price_growth_wealth"])


def test_the_clients_row_reads_right() -> None:
    client = next(c for c in read_book(BOOK).clients if c.client_id == "c0")
    frames = plan_client(client, Overrides())
    row = frames["clients"].iloc[0]
    assert list(frames["clients"].columns[: len(CLIENT_COLUMNS) - 2]) == list(
        CLIENT_COLUMNS[: len(CLIENT_COLUMNS) - 2]
    )
    summary = frames["summary"].set_index("approach")
    plan = summary.loc["optimized"]
    for b in BASELINES:
        assert row[f"amt_paid_by_{b}"] == summary.loc[b, "amt_paid"]
        over = plan["after_tax_wealth"] - summary.loc[b, "after_tax_wealth"]
        assert row[f"value_over_{b}"] == pytest.approx(over)
        assert row[f"value_over_{b}"] >= -1.0  # the plan is at least any baseline
    assert row["value_over_best_baseline"] == min(row[f"value_over_{b}"] for b in BASELINES)
    assert row["amt_paid"] == plan["amt_paid"]
    assert row["price_growth_wealth"] == pytest.approx(
        row["after_tax_wealth"] - row["after_tax_wealth_flat"]
    )
    assert row["paths_ignored"] == 0 and all(row[c] is None for c in FLAG_COLUMNS)
    assert not any(c.startswith("amt_avoided") for c in frames["clients"].columns)


def test_a_file_with_price_paths_is_planned_on_its_own_prices_and_says_so() -> None:
    path = ROOT / "scenarios" / "whatif" / "paths-ipo.yaml"
    client = Client("paths", path.name, text=path.read_text(encoding="utf-8"))
    assert client.path_count() == 4
    frames = plan_client(client, Overrides())
    assert frames["clients"].iloc[0]["paths_ignored"] == 4
    warnings = frames["warnings"]
    mine = warnings[warnings["warning"] == PATHS_IGNORED]
    assert len(mine) == 1 and "4 price paths" in mine.iloc[0]["message"]
    assert "path" not in frames["actions"].columns  # one plan, not the robust one
    assert Client("t", "t", data={"solver": {}}).path_count() == 0


def test_first_year_flags(seed) -> None:
    assert client_flags(seed[0].scenario) == dict.fromkeys(FLAG_COLUMNS)
    left = {**seed_with().data["grants"][0], "termination_date": date(2026, 3, 31)}
    client = seed_with(liquidity__tender_offers=TENDERS)
    client.data["grants"] = [{**left, "post_termination_days": 365}]
    flags = client_flags(client.validated().scenario)
    assert flags == {"iso_window_end_this_year": date(2026, 6, 30), "expiry_this_year": None,
                     "tender_this_year": date(2026, 9, 1)}  # fmt: skip
    client.data["grants"] = [left]  # 90 days to exercise: they expire before the ISO window ends
    flags = client_flags(client.validated().scenario)
    assert flags["expiry_this_year"] == date(2026, 6, 29)
    assert flags["iso_window_end_this_year"] is None


def clients_frame(**more: list) -> pd.DataFrame:
    base = {
        "client_id": ["a", "b", "c"],
        "value_over_best_baseline": [100.0, 300.0, 50.0],
        "value_over_best_baseline_flat": [40.0, math.nan, 10.0],
        "price_growth_wealth": [500.0, math.nan, 20.0],
        "amt_paid": [10.0, 20.0, 0.0],
        "time_limit_hit": [False, False, True],
        "paths_ignored": [0, 3, 0],
        "iso_window_end_this_year": [None, date(2026, 5, 1), None],
        "expiry_this_year": [None, None, None],
        "tender_this_year": [None, None, None],
    }
    for b in BASELINES:
        base[f"amt_paid_by_{b}"] = [5.0, math.nan, 1.0]
        base[f"value_over_{b}"] = [200.0, math.nan, 60.0]
    return pd.DataFrame({**base, **more})


def test_headlines_total_like_with_like() -> None:
    h = headlines(clients_frame())
    assert h["value_over_best_baselines"] == 450.0
    assert h["flat_prices"] == {
        "clients": 2,
        "not_evaluated": 1,
        "value_over_best_baselines": 50.0,
        "value_over_best_baselines_at_scenario_prices": 150.0,
        "price_growth_wealth": 520.0,
    }
    assert h["amt_paid"] == 30.0
    assert h["amt_paid_by_baseline"] == dict.fromkeys(BASELINES, 6.0)
    assert h["value_over_baseline"] == dict.fromkeys(BASELINES, 260.0)
    assert h["clients_by_baseline"] == dict.fromkeys(BASELINES, 2)
    assert h["paths_ignored"] == 1
    empty = headlines(pd.DataFrame())
    assert empty["value_over_best_baselines"] == 0.0 and empty["flat_prices"]["clients"] == 0


def test_actions_due_this_year_by_value_at_stake() -> None:
    clients = clients_frame()
    actions = pd.DataFrame(
        {
            "client_id": ["a", "a", "a", "b"],
            "year": [2026, 2026, 2027, 2026],
            "date": [date(2026, 12, 15), date(2026, 6, 15), date(2027, 12, 15),
                     date(2026, 12, 15)],
            "kind": ["exercise", "sale", "exercise", "exercise"],
            "option_id": ["g1", None, "g1", "g9"],
            "lot_id": ["g1@2026", "old", "g1@2027", "g9@2026"],
            "window_id": [None, "tender-2026-06-15", None, None],
            "shares": [100.0, 50.0, 100.0, 10.0],
            "price": [2.0, 30.0, 2.0, 1.0],
            "cost": [200.0, 0.0, 200.0, 10.0],
            "proceeds": [0.0, 1500.0, 0.0, 0.0],
        }
    )  # fmt: skip
    years = pd.DataFrame(
        {
            "client_id": ["a", "a", "b", "c"],
            "year": [2027, 2026, 2026, 2026],
            "exercise_cost": [200.0, 200.0, 10.0, 0.0],
            "extra_tax": [30.0, 70.0, 5.0, 0.0],
            "tax_due_date": [date(2028, 4, 17), date(2027, 4, 15), date(2027, 4, 15),
                             date(2027, 4, 15)],
        }
    )  # fmt: skip
    errors = pd.DataFrame({"client_id": ["z"], "stage": ["plan"], "reason": ["no plan: broke"]})
    due = actions_due(clients, errors, actions, years)
    assert list(due.columns) == list(ACTIONS_DUE_COLUMNS)
    # b (300) first, then a's two first-year actions by date, c (flagged: time limit), z failed.
    assert list(zip(due["client_id"], due["action"], strict=True)) == [
        ("b", "exercise"), ("a", "sale"), ("a", "exercise"), ("c", "none"), ("z", "failed"),
    ]  # fmt: skip
    a = due[due["client_id"] == "a"]
    assert set(a["year"]) == {2026} and set(a["year_cash_needed"]) == {270.0}
    assert set(a["tax_due_date"]) == {date(2027, 4, 15)}
    assert list(a["strike_cost"]) == [0.0, 200.0]
    assert due.iloc[0]["iso_window_end_this_year"] == date(2026, 5, 1)
    z = due.iloc[-1]
    assert bool(z["failed"]) and z["note"] == "plan: no plan: broke"
    assert math.isnan(z["value_at_stake"]) and pd.isna(z["year"])
    assert not due["failed"].iloc[:-1].any()
    # A client with nothing this year and no flag has no row; nothing at all is an empty table.
    assert "c" not in set(actions_due(clients_frame(time_limit_hit=[False] * 3), None, actions,
                                      years)["client_id"])  # fmt: skip
    assert actions_due(None, None, None, None).empty
