"""The results of every bundled example, as plain records: what golden files pin down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.household_taxes import compute_crossover, compute_tax
from planner.households import read_example, read_table
from planner.outputs import records
from planner.plan import run_plan
from planner.scenario import load

PLAN_PREFIX = "plan-"  # multi-year plan scenarios (planner.scenario), not crossover examples


def crossover_examples(scenarios: Path) -> list[Path]:
    """The crossover examples in `scenarios`: every YAML file except the plan scenarios."""
    return [p for p in sorted(scenarios.glob("*.yaml")) if not p.name.startswith(PLAN_PREFIX)]


def plan_examples(scenarios: Path) -> list[Path]:
    """The multi-year plan scenarios in `scenarios`."""
    return sorted(scenarios.glob(f"{PLAN_PREFIX}*.yaml"))


def plan_result(path: Path) -> list[dict[str, Any]]:
    """A plan example's objective for the optimized plan and each baseline, to the cent.

    Only objectives are pinned: two plans can be equally optimal, and the optimized objective is
    compared within the proven gap (tests/test_golden.py)."""
    v = load(path)
    result = run_plan(v.scenario, v.laws, v.options)
    rows = [
        {"approach": name, "objective_value": round(ev.objective_value, 2)}
        for name, (_, ev) in result.baselines.items()
    ]
    if result.evaluation is not None:
        rows.insert(
            0,
            {
                "approach": "optimized",
                "objective_value": round(result.evaluation.objective_value, 2),
                "gap": v.options.gap,
            },
        )
    return rows


def golden_results(scenarios: Path, plans: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Every example in `scenarios`: crossover examples (YAML), household tables (CSV) and,
    with `plans`, the multi-year plan scenarios (`plan-*.yaml`)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if plans:
        for path in plan_examples(scenarios):
            out[path.stem] = plan_result(path)
    for path in crossover_examples(scenarios):
        out[path.stem] = records(compute_crossover(read_example(path)[0], source=path))
    for path in sorted(scenarios.glob("*.csv")):
        out[path.stem] = records(compute_tax(read_table(path), source=path))
    return out
