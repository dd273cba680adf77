"""Properties the exact engine must have on any input, checked with generated household-years."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.crossover import crossover
from models.engine import tax_one
from models.forms import VECTOR, Household
from models.law import STATUSES, YearLaw, params_for
from models.scenario import LOSS_CARRYOVER_FIELDS
from planner.household_taxes import compute_crossover, compute_tax

YEARS = [2024, 2025, 2026, 2027]
money = st.floats(min_value=0, max_value=3_000_000, allow_nan=False).map(lambda x: round(x, 2))
signed = st.floats(min_value=-500_000, max_value=2_000_000, allow_nan=False).map(
    lambda x: round(x, 2)
)


@st.composite
def households(draw: st.DrawFn) -> dict:
    status = draw(st.sampled_from(STATUSES))
    aged_blind = draw(st.integers(0, 4))
    return {
        "year": draw(st.sampled_from(YEARS)),
        "filing_status": status,
        "wages": draw(money),
        "ordinary_income": draw(st.one_of(st.just(0.0), signed)),
        "interest": draw(st.one_of(st.just(0.0), money)),
        "qualified_dividends": draw(st.one_of(st.just(0.0), money)),
        "ltcg": draw(st.one_of(st.just(0.0), signed)),
        "stcg": draw(st.one_of(st.just(0.0), signed)),
        "iso_spread": draw(st.one_of(st.just(0.0), money)),
        "amt_ltcg_adjustment": draw(st.one_of(st.just(0.0), signed.map(lambda x: -abs(x)))),
        "salt": draw(st.one_of(st.just(0.0), money.map(lambda x: x / 20))),
        "mortgage_interest": draw(st.one_of(st.just(0.0), money.map(lambda x: x / 30))),
        "charitable": draw(st.one_of(st.just(0.0), money.map(lambda x: x / 10))),
        "aged_blind": aged_blind,
        "seniors": draw(st.integers(0, min(aged_blind, 2 if status == "mfj" else 1))),
        "amt_credit_carryforward": draw(st.one_of(st.just(0.0), money.map(lambda x: x / 5))),
        **{
            f: draw(st.one_of(st.just(0.0), money.map(lambda x: x / 10)))
            for f in LOSS_CARRYOVER_FIELDS
        },
        "itemize": draw(st.sampled_from([True, False, None])),
    }


def _one(row: dict, laws: dict[int, YearLaw]) -> dict:
    fields = {
        k: float(v) for k, v in row.items() if k not in ("year", "filing_status", "itemize", "id")
    }
    p = params_for(laws[row["year"]], row["filing_status"])
    return tax_one(Household(**fields), p, row["itemize"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households())
def test_invariants(laws: dict[int, YearLaw], row: dict) -> None:
    r = _one(row, laws)
    assert r["amt"] >= 0 and r["niit"] >= 0 and r["regular_tax"] >= 0
    assert r["amt"] == pytest.approx(max(0.0, r["tmt"] - r["regular_tax"]), abs=1e-6)
    gap = max(0.0, r["regular_tax"] - r["tmt"])
    assert 0 <= r["mtc_allowed"] <= min(row["amt_credit_carryforward"], gap) + 1e-6
    assert r["mtc_generated"] <= r["amt"] + 1e-6
    assert r["total_tax"] == pytest.approx(
        r["regular_tax"] + r["amt"] + r["niit"] + r["additional_medicare_tax"] - r["mtc_allowed"]
    )
    if row["itemize"] is None:  # the engine chose the deduction with the lower total tax
        other = _one({**row, "itemize": not r["itemized"]}, laws)
        assert r["total_tax"] <= other["total_tax"] + 0.005
        if abs(r["total_tax"] - other["total_tax"]) <= 0.005:  # a tie: then the larger credit
            assert r["mtc_generated"] >= other["mtc_generated"] - 0.005


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households())
def test_capital_loss_carryover_out(laws: dict[int, YearLaw], row: dict) -> None:
    # Capital Loss Carryover Worksheet: what is carried out is Schedule D line 16's loss less the
    # part of the limited deduction (line 21) that reduced taxable income (lines 1-4): all of the
    # deduction when line 1 (Form 1040 line 15, or AMTI for the AMT) is not below zero. Each
    # character carries at most its own net loss (lines 8 and 13).
    r = _one(row, laws)
    limit = params_for(laws[row["year"]], row["filing_status"]).loss_limit
    amt_ltcg = row["ltcg"] + row["amt_ltcg_adjustment"]
    sides = (
        ("", row["stcg"], row["ltcg"], r["taxable_income"] > 0),
        ("amt_", row["stcg"], amt_ltcg, r["amti"] >= 0),
    )
    for tag, stcg, ltcg, used_in_full in sides:
        st_net = stcg - row[f"{tag}st_loss_carryover"]  # Schedule D line 7
        lt_net = ltcg - row[f"{tag}lt_loss_carryover"]  # line 15
        loss = max(-(st_net + lt_net), 0.0)  # line 16, a loss
        st_out, lt_out = r[f"{tag}st_loss_carryover_out"], r[f"{tag}lt_loss_carryover_out"]
        assert st_out >= 0 and lt_out >= 0
        assert st_out <= max(-st_net, 0.0) + 1e-6 and lt_out <= max(-lt_net, 0.0) + 1e-6
        assert loss - min(loss, limit) - 1e-6 <= st_out + lt_out <= loss + 1e-6
        if used_in_full:
            assert st_out + lt_out == pytest.approx(loss - min(loss, limit), abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(households(), money, money)
def test_amt_monotone_in_spread(laws: dict[int, YearLaw], row: dict, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    r_lo = _one({**row, "iso_spread": lo, "itemize": False}, laws)
    r_hi = _one({**row, "iso_spread": hi, "itemize": False}, laws)
    assert r_lo["tmt"] <= r_hi["tmt"] + 1e-6
    assert r_lo["amt"] <= r_hi["amt"] + 1e-6
    # Exercise-and-hold never touches the regular tax.
    assert r_lo["regular_tax"] == r_hi["regular_tax"]


def _random_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def amounts(scale: float, p_zero: float = 0.4) -> np.ndarray:
        x = np.round(rng.lognormal(np.log(scale), 1.2, n), 2)
        return np.where(rng.random(n) < p_zero, 0.0, x)

    df = pd.DataFrame({
        "id": [f"h{i}" for i in range(n)],
        "year": rng.choice(YEARS, n),
        "filing_status": rng.choice(STATUSES, n),
        "wages": amounts(200_000, 0.05),
        "ordinary_income": amounts(20_000) * rng.choice([-1, 1], n),
        "interest": amounts(5_000),
        "qualified_dividends": amounts(10_000),
        "ltcg": amounts(50_000) * rng.choice([-1, 1, 1], n),
        "stcg": amounts(10_000) * rng.choice([-1, 1], n),
        "iso_spread": amounts(200_000),
        "amt_ltcg_adjustment": -amounts(30_000, 0.8),
        "salt": amounts(20_000, 0.2),
        "mortgage_interest": amounts(20_000),
        "charitable": amounts(5_000),
        "aged_blind": rng.integers(0, 3, n),
        "amt_credit_carryforward": amounts(30_000, 0.7),
        **{f: amounts(20_000, 0.8) for f in LOSS_CARRYOVER_FIELDS},
        "itemize": rng.choice(np.array([True, False, None], dtype=object), n),
    })  # fmt: skip
    # People aged 65 or over: at most one unless joint, each one of the aged_blind conditions
    # (drawn apart, so the rows above stay those of the seed).
    most = np.minimum(df["aged_blind"], np.where(df["filing_status"] == "mfj", 2, 1))
    df["seniors"] = np.minimum(np.random.default_rng(seed + 1).integers(0, 3, n), most)
    return df


def test_vectorized_equals_scalar(laws: dict[int, YearLaw]) -> None:
    df = _random_frame(3000, seed=7)
    vec = compute_tax(df)
    for i, row in enumerate(df.to_dict("records")):
        one = _one(row, laws)
        for key in (
            "taxable_income",
            "regular_tax",
            "amti",
            "amt_exemption",
            "tmt",
            "amt",
            "niit",
            "mtc_allowed",
            "mtc_carryforward_out",
            *(f + "_out" for f in LOSS_CARRYOVER_FIELDS),
            "total_tax",
        ):
            assert vec[key].iloc[i] == pytest.approx(one[key], abs=0.006), (i, key)
        assert bool(vec["itemized"].iloc[i]) == bool(one["itemized"]), i
    assert vec["projected"].to_numpy().tolist() == (df["year"] > 2026).tolist()


def test_crossover_is_exact_to_the_share(laws: dict[int, YearLaw]) -> None:
    """At N the AMT is within budget; at N + 1 it is over (unless N is every share)."""
    df = _random_frame(2000, seed=11)
    rng = np.random.default_rng(3)
    df["strike"] = np.round(rng.uniform(0.01, 20, len(df)), 2)
    df["fmv"] = df["strike"] + np.round(rng.uniform(0, 100, len(df)), 2)
    df["shares"] = rng.integers(0, 200_000, len(df))
    df["amt_budget"] = np.where(rng.random(len(df)) < 0.3, rng.uniform(0, 20_000, len(df)), 0.0)
    out = compute_crossover(df)
    # Outputs are rounded to cents, hence the cent of tolerance.
    within = out["amt"] <= out["amt_budget"] + 0.01
    over_at_zero = out["amt_before"] > out["amt_budget"]
    assert (within | (over_at_zero & (out["shares"] == 0))).all()
    not_all = ~out["all_exercisable"] & ~over_at_zero
    assert (out.loc[not_all, "next_amt"] > out.loc[not_all, "amt_budget"]).all()
    assert (out.loc[not_all, "next_shares"] == out.loc[not_all, "shares"] + 1).all()
    # The vectorized search equals the one-household search.
    for i in range(0, len(df), 37):
        row = df.iloc[i].to_dict()
        p = params_for(laws[int(row["year"])], row["filing_status"])
        fields = {
            k: float(row[k]) for k in Household.__dataclass_fields__ if k in row and k != "itemize"
        }
        h = Household(**fields, itemize=1.0 if out["itemized"].iloc[i] else 0.0)
        r = crossover(h, p, row["strike"], row["fmv"], float(row["shares"]), row["amt_budget"])
        assert r["best"]["shares"] == out["shares"].iloc[i]
        assert r["keep_credit"]["shares"] == out["keep_credit_shares"].iloc[i]


def test_vector_ops_accept_arrays_of_one(laws: dict[int, YearLaw]) -> None:
    """The VECTOR path on length-1 arrays gives the scalar answer (shared code, two kinds)."""
    p = params_for(laws[2026], "single")
    h = Household(wages=450_000.0)
    scalar = crossover(h, p, 0.0, 1.0, 200_000.0)
    arr = replace(h, **{k: np.array([getattr(h, k)]) for k in Household.__dataclass_fields__})
    from models.law import LawTable

    table = LawTable({2026: laws[2026]})
    pv = table.gather(table.cell_index(np.array([2026]), np.array([0])))
    vector = crossover(
        arr, pv, np.array([0.0]), np.array([1.0]), np.array([200_000.0]), np.array([0.0]), VECTOR
    )
    assert vector["best"]["shares"][0] == scalar["best"]["shares"] == 75_600
