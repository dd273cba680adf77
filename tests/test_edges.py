"""Edges a newcomer cuts themselves on (issue 18, item 5): each answered in words."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_isoplan

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
