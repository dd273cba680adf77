"""scripts/compare_models.py, the proof that a refactoring builds the same MILPs: it must tell
the same rows in another order from a row that differs in the last bit of one coefficient."""

from __future__ import annotations

import argparse
import importlib
import json
import math
from pathlib import Path

import pytest

import models

ROOT = Path(__file__).resolve().parents[1]


def test_compare_models_tells_order_from_difference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))  # scripts/ is not a package
    compare_models = importlib.import_module("compare_models")
    monkeypatch.setenv("PYTHONPATH", str(Path(models.__file__).resolve().parents[1]))
    built = tmp_path / "built.jsonl"
    compare_models.dump(argparse.Namespace(dump=built, synthetic=2, book=0, robust=0))
    assert compare_models.compare(built, built) == 0
    assert "3 models identical" in capsys.readouterr().out  # one of them also tightened

    rows = [json.loads(line) for line in built.read_text(encoding="utf-8").splitlines()]
    changed = tmp_path / "changed.jsonl"

    def write() -> int:
        changed.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return compare_models.compare(built, changed)

    constraints = rows[0]["model"]["constraints"]
    constraints.reverse()
    assert write() == 0
    assert "1 of them in another order" in capsys.readouterr().out
    term = constraints[0]["terms"][0]
    term[1] = math.nextafter(term[1], math.inf)
    assert write() == 1
    assert f"synthetic-0 (build) differs: constraint {constraints[0]['name']}: " in (
        capsys.readouterr().out
    )
