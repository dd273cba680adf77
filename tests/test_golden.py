"""Every example in scenarios/ still gives its golden results (tests/golden/, see CHANGELOG.md)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from golden import crossover_examples, golden_results, plan_examples, plan_result

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
GOLDEN = ROOT / "tests" / "golden"
CHANGED = "results changed: rerun scripts/regen_golden.py and log why in CHANGELOG.md"


@functools.cache
def _tables() -> dict[str, list[dict[str, Any]]]:
    return golden_results(SCENARIOS, plans=False)


def _want(name: str) -> Any:
    return json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))


def test_every_example_has_a_golden_file() -> None:
    examples = (
        {p.stem for p in crossover_examples(SCENARIOS)}
        | {p.stem for p in SCENARIOS.glob("*.csv")}
        | {p.stem for p in plan_examples(SCENARIOS)}
    )
    assert examples == {p.stem for p in GOLDEN.glob("*.json")}


@pytest.mark.parametrize("name", sorted(golden_results(SCENARIOS, plans=False)))
def test_golden(name: str) -> None:
    got = json.loads(json.dumps(_tables()[name], sort_keys=True))
    assert got == _want(name), CHANGED


@pytest.mark.parametrize("path", plan_examples(SCENARIOS), ids=lambda p: p.stem)
def test_golden_plan(path: Path) -> None:
    """Baselines to the cent; the optimized objective within the proven gap of the largest
    baseline objective (the solver's scale), plus $1."""
    want = {r["approach"]: r for r in _want(path.stem)}
    got = {r["approach"]: r for r in plan_result(path)}
    assert set(got) == set(want), CHANGED
    scale = max(abs(r["objective_value"]) for k, r in want.items() if k != "optimized")
    for name, row in want.items():
        tolerance = row["gap"] * scale + 1.0 if name == "optimized" else 0.005
        assert got[name]["objective_value"] == pytest.approx(
            row["objective_value"], abs=tolerance
        ), (name, CHANGED)
