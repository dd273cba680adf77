"""Edges a newcomer cuts themselves on (issue 18, item 5): each answered in words."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import run_isoplan

from planner.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SEED_PLAN = ROOT / "scenarios" / "plan-seed-story.yaml"


def test_a_plan_to_a_table_file_is_refused_before_any_work(tmp_path: Path) -> None:
    target = tmp_path / "plan.csv"
    r = run_isoplan("plan", SEED_PLAN, "-o", target)
    assert r.code == 2 and "writes a folder of tables" in r.stderr
    assert f"-o {tmp_path / 'plan'}/" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not target.exists()


def test_crossover_answers_a_plan_scenario_for_its_first_year() -> None:
    r = run_isoplan("crossover", SEED_PLAN, "--json")
    assert r.code == 0, r.stderr
    got = json.loads(r.stdout)
    # The seed story's own crossover (scenarios/seed-story.yaml): 627 shares in 2026.
    assert (got["year"], got["shares"], got["by_grant"]) == (2026, 627, "seed=627")
    text = run_isoplan("crossover", SEED_PLAN).stdout
    assert "Exercise 627 of 10,000 vested ISO shares with no AMT" in " ".join(text.split())
    later = json.loads(run_isoplan("crossover", SEED_PLAN, "--year", 2027, "--json").stdout)
    assert later["year"] == 2027
    r = run_isoplan("crossover", SEED_PLAN, "--wages", 1)
    assert r.code == 2 and "a plan scenario has its own" in r.stderr


def test_an_underwater_grant_is_a_warning_not_an_answer(tmp_path: Path) -> None:
    r = run_isoplan("crossover", "--year", 2026, "--filing-status", "single", "--wages", 200000,
                    "--strike", 60, "--fmv", 51, "--shares", 10000)  # fmt: skip
    assert r.code == 0 and "underwater" in r.stdout and "Exercise" not in r.stdout
    path = tmp_path / "under.yaml"
    path.write_text(SEED_PLAN.read_text(encoding="utf-8").replace("strike: 1\n", "strike: 80\n"))
    got = json.loads(run_isoplan("plan", path, "--json").stdout)
    warnings = [w for w in got["warnings"] if w["warning"] == "underwater"]
    assert [w["subject"] for w in warnings] == ["seed"]
    assert got["actions"] == []


def test_init_writes_a_starter_that_plans(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    r = run_isoplan("init", path)
    assert r.code == 0 and path.exists() and "isoplan plan" in r.stderr
    text = path.read_text(encoding="utf-8")
    assert text.count("#") > 20  # commented for a newcomer
    got = json.loads(run_isoplan("plan", path, "--json").stdout)
    assert got["summary"][0]["status"] == "optimal"
    again = run_isoplan("init", path)
    assert again.code == 2 and "exists" in again.stderr
    assert path.read_text(encoding="utf-8") == text
    assert run_isoplan("init", tmp_path / "mine.txt").code == 2


def test_prices_as_a_start_and_a_growth_rate(tmp_path: Path) -> None:
    text = SEED_PLAN.read_text(encoding="utf-8")
    start, end = text.index("prices:"), text.index("grants:")
    path = tmp_path / "grown.yaml"
    path.write_text(text[:start] + "prices: {2026: 51}\nprice_growth: 0.1\n" + text[end:])
    fmvs = [ty.fmv for ty in load_scenario(path).years]
    assert fmvs == [51.0, 56.1, 61.71, 67.88]  # 51 x 1.1^k, to the cent
    path.write_text(text[:start] + "prices: {2026: 51}\n" + text[end:])
    r = run_isoplan("plan", path)
    assert r.code == 2 and "no price for 2027" in r.stderr and "price_growth" in r.stderr


def test_compare_with_set_and_no_variant_makes_the_variant() -> None:
    r = run_isoplan(
        "compare", SEED_PLAN, "--set", "liquidity.ipo_date=2029-03-01", "--json", "--gap", "1e-3"
    )
    assert r.code == 0, r.stderr
    rows = json.loads(r.stdout)["compare"]
    assert [row["variant"] for row in rows] == [
        "plan-seed-story",
        "plan-seed-story+liquidity.ipo_date=2029-03-01",
    ]
    assert rows[0]["after_tax_wealth"] != rows[1]["after_tax_wealth"]


def test_form_lines_in_tax_and_in_a_plans_forms_table(tmp_path: Path) -> None:
    """Issue 18, item 2: `tax --lines` and the plan's `forms` table, each line named."""
    out = tmp_path / "taxes.parquet"
    r = run_isoplan("tax", ROOT / "scenarios" / "households.csv", "--lines", "-o", out)
    assert r.code == 0, r.stderr
    table = pq.read_table(out)
    names = json.loads(table.schema.metadata[b"isoplan.lines"])
    assert names["f6251_l2i"] == "Form 6251 line 2i (incentive stock options)"
    rows = table.to_pandas().set_index("id")
    seed = rows.loc["seed-california-2025"]
    assert seed["f6251_l2i"] == 500_000 and seed["amti"] == 700_000
    assert abs(seed["ca540_l48"] + seed["ca_amt"] + seed["ca_mhst"] - seed["ca_total_tax"]) < 0.005
    plan = tmp_path / "plan"
    assert (
        run_isoplan("plan", ROOT / "scenarios" / "plan-california-move.yaml", "-o", plan).code == 0
    )
    forms = pd.read_parquet(plan / "forms.parquet")
    years = pd.read_parquet(plan / "years.parquet").set_index("year")
    assert list(forms.columns) == ["year", "form", "line", "description", "amount"]
    assert set(forms.loc[forms["form"] == "Form 540", "year"]) == {2026, 2027}  # in California
    line16 = forms[(forms["form"] == "Form 1040") & (forms["line"] == "16")].set_index("year")
    assert (line16["amount"] == years["regular_tax"]).all()
    tmt = forms[(forms["form"] == "Schedule P (540)") & (forms["line"] == "24")].set_index("year")
    assert (tmt["amount"] == years.loc[tmt.index, "ca_tmt"]).all()


def test_plan_prints_a_line_per_year_in_80_columns() -> None:
    """Issue 18, item 3: each year's exercises, sales, tax due next April, cash after and credit
    left, starred where the law is projected, and the note that says so."""
    r = run_isoplan("plan", ROOT / "scenarios" / "plan-california-move.yaml")
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    start = lines.index("Year by year (optimized plan)")
    block = lines[start : start + 9]
    assert max(len(line) for line in block) <= 80, "\n".join(block)
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in block if "│" in line]
    # 2026: California's law is projected (its 2026 figures are not published yet)
    assert [row[0] for row in rows] == ["2026*", "2027*", "2028*", "2029*"]
    assert rows[0][1] == "2,017" and rows[2][2] == "4,052"
    assert "note (*): tax law for 2026, 2027, 2028, 2029 is projected" in r.stdout


def test_plans_compared_fits_80_columns_and_wide_shows_cents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 18, item 3: at 80 columns every table of `plan` fits, no number cut (compact
    money, names wrapped); --wide prints dollars and cents whatever the width."""
    monkeypatch.setenv("ISOPLAN_WIDTH", "80")
    r = run_isoplan("plan", ROOT / "scenarios" / "plan-california-move.yaml")
    assert r.code == 0, r.stderr
    table_lines = [line for line in r.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(len(line) for line in table_lines) <= 80
    assert "…" not in r.stdout
    assert "$807.6k" in r.stdout and "$807,568.61" not in r.stdout
    wide = run_isoplan("plan", ROOT / "scenarios" / "plan-california-move.yaml", "--wide")
    assert "$807,568.61" in wide.stdout
    # the next run is narrow again: --wide holds for its own run only
    again = run_isoplan("plan", ROOT / "scenarios" / "plan-california-move.yaml")
    assert "$807.6k" in again.stdout


def test_compare_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISOPLAN_WIDTH", "80")
    args = ("compare", SEED_PLAN, "--set", "liquidity.ipo_date=2029-03-01", "--baselines")
    r = run_isoplan(*args)
    assert r.code == 0, r.stderr
    table_lines = [line for line in r.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(len(line) for line in table_lines) <= 80
    assert "…" not in r.stdout and "$811.6k" in r.stdout
    # the variant's name folds over lines, whole
    names = "".join(line.split("│")[1].strip() for line in table_lines if line.startswith("│"))
    assert "plan-seed-story+liquidity.ipo_date=2029-03-01" in names
    wide = run_isoplan(*args, "--wide")
    assert "811,606" in wide.stdout and "exercised in" in wide.stdout


def test_tax_table_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISOPLAN_WIDTH", "80")
    r = run_isoplan("tax", ROOT / "scenarios" / "households.csv")
    assert r.code == 0, r.stderr
    table_lines = [line for line in r.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(len(line) for line in table_lines) <= 80
    assert "…" not in r.stdout and "$220.2k" in r.stdout  # the California seed's total
    # --wide: every column in dollars and cents, as on a wide console
    wide = run_isoplan("tax", ROOT / "scenarios" / "households.csv", "--wide")
    assert "$220,223.43" in wide.stdout and "mtc_allowed" in wide.stdout


def test_crossover_table_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISOPLAN_WIDTH", "80")
    book = ROOT / "scenarios" / "book"
    narrow = run_isoplan("crossover", book)
    assert narrow.code == 0, narrow.stderr
    table_lines = [line for line in narrow.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(len(line) for line in table_lines) <= 80
    assert "…" not in narrow.stdout and "$51.0k" in narrow.stdout  # c0's spread capacity
    wide = run_isoplan("crossover", book, "--wide")
    assert wide.code == 0, wide.stderr
    assert "$51,013.51" in wide.stdout
