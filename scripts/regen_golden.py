"""Recompute the golden results of every example in scenarios/ into tests/golden/.

    python scripts/regen_golden.py

Run it only when a change to the engine or the law data is meant to change results, then log each
changed figure and its reason in tests/golden/CHANGELOG.md (tests/test_golden.py checks that the
golden files match the engine, and `git diff tests/golden` shows what moved).
"""

from __future__ import annotations

import json
from pathlib import Path

from golden import golden_results

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name, rows in golden_results(ROOT / "scenarios").items():
        path = GOLDEN / f"{name}.json"
        path.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
