"""`isoplan init`: a commented starter scenario to edit; it plans as written (a test plans it)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from planner.errors import InputError

STARTER = """\
# A starter scenario for `isoplan plan`: edit the figures, then run
#   isoplan plan scenario.yaml             the exercise ladder, compared with four baselines
#   isoplan crossover scenario.yaml        this year's AMT-free exercise
#   isoplan schema                         every field this file can hold, described
# Amounts are dollars a year; dates are YYYY-MM-DD. Lines starting with # are comments.
description: >-
  My options: say who this is and what you want to know (printed above every result).
household:
  filing_status: single     # single, mfj (married filing jointly), mfs, hoh
  start_cash: 100000        # cash available now for exercise cost and tax
  cash_floor: 20000         # never let cash fall below this
  # amt_credit_carryforward: 0   # minimum tax credit carried in (last Form 8801, line 26)
horizon:
  first_year: 2026          # the first tax year to plan
  years: 4                  # how many years
default:                    # income of every year (override a year under `years:`)
  wages: 200000             # W-2 salary; grows by wage_growth a year
  savings: 40000            # cash added each year after ordinary taxes and spending
  # state: ca               # a California resident: its income tax, AMT and credit too
  # salt: 15000             # state and local taxes paid (for itemizing)
  # real_estate_tax: 8000   # the part of salt that is property tax (California deducts it)
  # mortgage_interest: 0
# wage_growth: 0.03
# years:
#   2027: {wages: 0}        # e.g. a year without a job
prices:                     # the stock's value per share (409A while private) each year
  2026: 20
price_growth: 0.10          # later years: the last price given, grown 10% a year
grants:
  - id: hire                # any name; results refer to it
    type: iso               # iso or nso
    grant_date: 2023-03-01
    strike: 2.50            # exercise price per share
    shares: 20000
    vesting: {start: 2023-03-01, cliff_months: 12, months: 48, every: monthly}
    # termination_date: 2027-06-30   # leaving the company: vesting stops, the window starts
liquidity:                  # when shares can be sold; omit for a company that stays private
  ipo_date: 2028-05-01
  lockup_days: 180
  # tender_offers: [{date: 2027-06-15, price: 25, max_shares: 5000}]
objective:
  goal: wealth              # the most after-tax wealth at the end of the horizon
"""


def write_starter(path: Path) -> None:
    """Write the starter scenario to `path`, a new `.yaml` file (an existing file is kept),
    whole or not at all (a temporary file renamed)."""
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise InputError(f"{path}: a scenario file's name ends in .yaml")
    if path.exists():
        raise InputError(f"{path}: exists; isoplan init writes a new file only")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(STARTER)
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
