"""Shared fixtures: the tax law of the published years, loaded once per session."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

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
