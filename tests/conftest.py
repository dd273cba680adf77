"""Shared fixtures: the tax law of the published years, loaded once per session."""

from __future__ import annotations

import pytest

from models.law import YearLaw
from planner.law import law_for_years


@pytest.fixture(scope="session")
def laws() -> dict[int, YearLaw]:
    return law_for_years([2024, 2025, 2026, 2027, 2030])
