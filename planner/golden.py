"""The results of every bundled example, as plain records: what golden files pin down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.api import compute_crossover, compute_tax
from planner.households import read_example, read_table
from planner.outputs import records

PLAN_PREFIX = "plan-"  # multi-year plan scenarios (planner.scenario), not crossover examples


def crossover_examples(scenarios: Path) -> list[Path]:
    """The crossover examples in `scenarios`: every YAML file except the plan scenarios."""
    return [p for p in sorted(scenarios.glob("*.yaml")) if not p.name.startswith(PLAN_PREFIX)]


def golden_results(scenarios: Path) -> dict[str, list[dict[str, Any]]]:
    """Every example in `scenarios`: crossover examples (YAML) and household tables (CSV).
    Plan scenarios (`plan-*.yaml`) are not crossover examples and are left out here."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in crossover_examples(scenarios):
        out[path.stem] = records(compute_crossover(read_example(path)[0], source=path))
    for path in sorted(scenarios.glob("*.csv")):
        out[path.stem] = records(compute_tax(read_table(path), source=path))
    return out
