"""The results of every bundled example, as plain records: what golden files pin down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.api import compute_crossover, compute_tax
from planner.households import read_example, read_table
from planner.outputs import records


def golden_results(scenarios: Path) -> dict[str, list[dict[str, Any]]]:
    """Every example in `scenarios`: crossover examples (YAML) and household tables (CSV)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(scenarios.glob("*.yaml")):
        out[path.stem] = records(compute_crossover(read_example(path)[0], source=path))
    for path in sorted(scenarios.glob("*.csv")):
        out[path.stem] = records(compute_tax(read_table(path), source=path))
    return out
