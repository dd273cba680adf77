"""Worked examples as data: tests/cases/*.yaml, each case's arithmetic shown in its comments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from models.crossover import crossover
from models.engine import tax_one
from models.forms import Household
from models.law import YearLaw, ca_params_for, params_for

CASES_DIR = Path(__file__).parent / "cases"


def _cases() -> list[Any]:
    out = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            out.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return out


def _household(case: dict[str, Any]) -> tuple[Household, int, str, str]:
    fields = dict(case["household"])
    year, status = fields.pop("year"), fields.pop("filing_status")
    state = fields.pop("state", "")
    return Household(**{k: float(v) for k, v in fields.items()}), year, status, state


@pytest.mark.parametrize("case", _cases())
def test_case(case: dict[str, Any], laws: dict[int, YearLaw], ca_laws: dict[int, YearLaw]) -> None:
    h, year, status, state = _household(case)
    p = params_for(laws[year], status)
    ca = ca_params_for(ca_laws[year], status) if state == "ca" else None
    result = tax_one(h, p, itemize=case.get("itemize"), ca=ca)
    for key, want in case.get("expect", {}).items():
        assert result[key] == pytest.approx(want, abs=0.005), key
    if "grant" in case:
        g = case["grant"]
        if case.get("itemize") is not None:
            h.itemize = 1.0 if case["itemize"] else 0.0
        r = crossover(h, p, g["strike"], g["fmv"], g["shares"], g.get("amt_budget", 0.0))
        got = {
            "shares": r["best"]["shares"],
            "rule_of_thumb_shares": r["rule_of_thumb"]["shares"],
            "rule_of_thumb_amt": r["rule_of_thumb"]["amt"],
        }
        for key, want in case["expect_crossover"].items():
            assert got[key] == pytest.approx(want, abs=0.005), key
        assert r["best"]["amt"] < g.get("amt_budget", 0.0) + 0.005
        assert r["next"]["amt"] >= g.get("amt_budget", 0.0) + 0.005
