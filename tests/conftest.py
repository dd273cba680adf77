"""Shared fixtures: the tax law of the published years, loaded once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Test and benchmark support lives in scripts/ (the generated households of synthetic.py, the
# golden results of golden.py), outside the product package; the tests import it from there.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from models.law import YearLaw
from planner.law import law_for_years

# CI replays the same examples every run (a red CI is a real regression, never a new random
# draw); locally hypothesis explores new examples each time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def laws() -> dict[int, YearLaw]:
    return law_for_years([2024, 2025, 2026, 2027, 2030])
