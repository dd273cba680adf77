"""California as a user meets it: the tax table with a state column, the joint crossover, a book
of California clients, a plan that moves, the law command and the one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_isoplan

from models.crossover import crossover
from models.forms import Household
from models.law import ca_params_for, params_for
from planner.book import read_book
from planner.book_crossover import book_crossover
from planner.household_taxes import compute_crossover, compute_tax
from planner.law import law_for_years

ROOT = Path(__file__).resolve().parents[1]
SEED = {"year": 2025, "filing_status": "single", "wages": 200_000.0}


def test_the_state_column_adds_california_and_nothing_else() -> None:
    rows = pd.DataFrame(
        [
            {"id": "ca", **SEED, "state": "ca", "iso_spread": 500_000.0},
            {"id": "none", **SEED, "state": "", "iso_spread": 500_000.0},
        ]
    )
    out = compute_tax(rows).set_index("id")
    alone = compute_tax(rows.drop(columns="state")).set_index("id")
    # The seed story in California, 2025 (tests/cases/california.yaml works it by hand).
    assert out.loc["ca", "ca_amt"] == pytest.approx(34_162.95, abs=0.005)
    assert out.loc["ca", "total_tax"] == pytest.approx(220_223.43, abs=0.005)
    assert out.loc["ca", "federal_total_tax"] == alone.loc["ca", "total_tax"]
    assert out.loc["none", "ca_total_tax"] == 0 and out.loc["none", "state"] == ""
    assert out.loc["none", "total_tax"] == alone.loc["none", "total_tax"]
    assert "ca_amt" not in alone.columns


def test_the_joint_crossover_is_exact_in_both_systems() -> None:
    """At the joint answer N neither AMT is over the budget; at N + 1 their sum is."""
    laws = law_for_years([2025])
    wages = {"single": 200_000.0, "mfj": 500_000.0, "mfs": 90_000.0, "hoh": 450_000.0}
    rows = [
        {"id": status, "year": 2025, "filing_status": status, "wages": w, "state": "ca",
         "strike": 1.0, "fmv": 51.0, "shares": 20_000}
        for status, w in wages.items()
    ]  # fmt: skip
    out = compute_crossover(pd.DataFrame(rows)).set_index("id")
    for status, w in wages.items():
        r = out.loc[status]
        assert r["shares"] <= min(r["federal_shares"], r["ca_shares"])
        assert r["amt"] + r["ca_amt"] < 0.005
        assert r["next_amt"] + r["next_ca_amt"] >= 0.005 or r["all_exercisable"]
        # One household through the scalar engine gives the same answers.
        p = params_for(laws[2025], status)
        ca = ca_params_for(laws[2025].states["ca"], status)
        one = crossover(Household(wages=w), p, 1.0, 51.0, 20_000.0, ca=ca)
        assert one["california"]["best"]["shares"] == r["shares"]
        assert one["california"]["ca_only_shares"] == r["ca_shares"]
    # California's own room is the wider one for the seed engineer: 2,000 shares ($100,000).
    assert out.loc["single", "ca_shares"] == 2_000 and out.loc["single", "shares"] == 613


def test_crossover_command_says_both_answers(tmp_path: Path) -> None:
    seed = ("crossover", "--year", 2025, "--filing-status", "single", "--state", "ca",
            "--wages", 200000, "--strike", 1, "--fmv", 51, "--shares", 10000)  # fmt: skip
    r = run_isoplan(*seed, "--json")
    assert r.code == 0, r.stderr
    got = json.loads(r.stdout)
    assert (got["shares"], got["federal_shares"], got["ca_shares"]) == (613, 613, 2000)
    r = run_isoplan(*seed)
    assert "Each system alone: federal 613 shares, California 2,000" in " ".join(r.stdout.split())


def test_a_book_answers_its_california_clients_jointly(tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(ROOT / "scenarios" / "book", book)
    clients = pd.read_csv(book / "clients.csv")
    clients["state"] = np.where(np.arange(len(clients)) % 2 == 0, "CA", "TX")
    clients.to_csv(book / "clients.csv", index=False)
    out = book_crossover(read_book(book)).set_index("client_id")
    assert set(out["state"]) == {"ca", ""}
    assert (out.loc[out["state"] == "ca", "ca_amt"] < 0.005).all()
    assert (out.loc[out["state"] == "", "ca_amt"] == 0).all()
    assert (out["error"] == "").all()
    # A years-table row moves a client: its year's residence, there and in its scenario.
    first = clients.iloc[0]
    pd.DataFrame([{"client_id": first["client_id"], "year": first["first_year"], "state": "TX"}]
                 ).to_csv(book / "years.csv", index=False)  # fmt: skip
    moved = read_book(book)
    assert book_crossover(moved).set_index("client_id").loc[first["client_id"], "state"] == ""
    years = moved.clients[0].validated().scenario.years
    assert [ty.state for ty in years][:2] == ["", "ca"]


def test_a_plan_that_moves_warns_and_strands_the_credit(tmp_path: Path) -> None:
    r = run_isoplan("plan", ROOT / "scenarios" / "plan-california-move.yaml", "--json")
    assert r.code == 0, r.stderr
    got = json.loads(r.stdout)
    years = {y["year"]: y for y in got["years"]}
    assert [years[y]["state"] for y in sorted(years)] == ["ca", "ca", "", ""]
    assert all(years[y]["ca_total_tax"] == 0 for y in (2028, 2029))
    moves = [w for w in got["warnings"] if w["warning"] == "move"]
    assert [w["year"] for w in moves] == [2028]
    # A credit carried out of California passes through the later years unused.
    assert years[2029]["ca_credit_carryforward_out"] == years[2027]["ca_credit_carryforward_out"]


def test_law_command_shows_california() -> None:
    r = run_isoplan("law", 2025, "--state", "ca", "--json")
    assert r.code == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["values"]["ca.amt_exemption"]["single"] == 92_749
    assert got["values"]["ca.amt_rate"] == 0.07
    projected = json.loads(run_isoplan("law", 2031, "--state", "ca", "--json").stdout)
    assert projected["projected"] and max(projected["values"]["ca.rates"]) == 0.093


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"state": "ny"}, "field 'state': isoplan computes the state tax of ca"),
        ({"state": "ca", "salt": 1000, "real_estate_tax": 2000}, "field 'real_estate_tax'"),
        ({"state": "ca", "dependents": 2.5}, "field 'dependents'"),
    ],
)
def test_bad_california_input_is_one_line(
    tmp_path: Path, cells: dict[str, object], message: str
) -> None:
    path = tmp_path / "h.csv"
    pd.DataFrame([{"id": "a", **SEED, **cells}]).to_csv(path, index=False)
    r = run_isoplan("tax", path)
    assert r.code == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_scenario_refuses_an_unknown_state(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "plan-california-seed.yaml").read_text(encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(text.replace("state: ca", "state: ny"), encoding="utf-8")
    r = run_isoplan("plan", path)
    assert r.code == 2 and "state" in r.stderr and len(r.stderr.strip().splitlines()) == 1
