"""Every example in scenarios/ still gives its golden results (tests/golden/, see CHANGELOG.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.golden import crossover_examples, golden_results

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


def test_every_example_has_a_golden_file() -> None:
    examples = {p.stem for p in crossover_examples(ROOT / "scenarios")} | {
        p.stem for p in (ROOT / "scenarios").glob("*.csv")
    }
    assert examples == {p.stem for p in GOLDEN.glob("*.json")}


@pytest.mark.parametrize("name", sorted(golden_results(ROOT / "scenarios")))
def test_golden(name: str) -> None:
    want = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    got = json.loads(json.dumps(golden_results(ROOT / "scenarios")[name], sort_keys=True))
    assert got == want, "results changed: rerun scripts/regen_golden.py and log why in CHANGELOG.md"
