"""Shared fixtures: the tax law of the published years, loaded once per session."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

# The differential tests' engine (taxcalc) compiles its functions with numba on first use in
# each process, about 30 s, while interpreting them for the few hundred households of
# tests/test_oracle.py takes a few seconds; the figures are the same. Set before taxcalc (and
# numba) is imported.
os.environ.setdefault("NUMBA_DISABLE_JIT", "1")

# Test and benchmark support lives in scripts/ (the generated households of synthetic.py, the
# golden results of golden.py), outside the product package; the tests import it from there.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from models.law import YearLaw
from planner.cli import main
from planner.law import law_for_years

# CI replays the same examples every run (a red CI is a real regression, never a new random
# draw); locally hypothesis explores new examples each time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def laws() -> dict[int, YearLaw]:
    return law_for_years([2024, 2025, 2026, 2027, 2028, 2029, 2030])


@pytest.fixture(scope="session")
def ca_laws() -> dict[int, YearLaw]:
    return law_for_years([2024, 2025, 2026, 2027, 2028, 2029, 2030], jurisdiction="ca")


@dataclass
class Run:
    """One `isoplan` command run in this process: its exit code and what it printed."""

    code: int
    stdout: str
    stderr: str


def run_isoplan(*args: object) -> Run:
    """`isoplan ARGS` through the console entry point (`planner.cli.main`, which turns errors into
    one line and an exit code), in this process: a thousand bad inputs cost no process each."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["isoplan", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    return Run(code, out.getvalue(), err.getvalue())
