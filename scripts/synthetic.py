"""Generated households for tests and benchmarks: realistic, reproducible from a seed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np

from models.forms import SCALAR
from models.grants import date_of, day_of, latest_expiry
from models.law import STATUSES, holding_for, iso_law_for
from models.scenario import ISO, NSO, STOCK, Lot, OptionClass, SaleWindow, Scenario, TaxYear
from planner.law import law_for_years


def synthetic_scenario(
    horizon: int,
    grants: int,
    seed: int = 0,
    first_year: int = 2026,
    status: str | None = None,
    share_step: int = 1,
    income: str = "high",
    state: str = "",
) -> Scenario:
    """A household with `grants` option grants over `horizon` tax years.

    Wages $180k-$450k growing 3% a year (`income` "low": $38k-$95k and SALT scaled alike, and on
    odd seeds no wages after the first year, as after leaving the job; the random draws are the
    same, so a low-income household is its high-income twin with less pay), SALT and mortgage
    interest, a 409A price path that rises on average, grants at several strikes and vesting
    stages (four-year vesting, some already vested), every third grant with an NSO part, a lot of
    plain stock held at the start, and liquidity from the middle of the horizon (with a tender
    offer a year before, on even seeds). `state` "ca": a California resident every year, its
    property tax a third of the SALT, a dependent on even seeds.
    """
    rng = np.random.default_rng(seed)
    law = law_for_years([first_year])[first_year]
    holding = holding_for(law)
    status = status or str(rng.choice(STATUSES))
    years = list(range(first_year, first_year + horizon))
    wages = float(rng.uniform(180_000, 450_000))
    scale = {"high": 1.0, "low": 95_000 / 450_000}[income]
    fmv = float(rng.uniform(5, 30))
    tax_years = []
    for y in years:
        pay = 0.0 if income == "low" and seed % 2 and y > first_year else wages * scale
        tax_years.append(TaxYear(
            year=y, exercise_date=date(y, 12, 1), fmv=round(fmv, 2),
            wages=round(pay * 1.03 ** (y - first_year), 2), interest=3_000.0,
            qualified_dividends=4_000.0, salt=float(rng.uniform(12_000, 45_000)) * scale,
            mortgage_interest=float(rng.choice([0.0, 18_000.0])), savings=60_000.0,
        ))  # fmt: skip
        if state:
            ty = tax_years[-1]
            tax_years[-1] = replace(
                ty, state=state, real_estate_tax=round(ty.salt / 3, 2), dependents=1 - seed % 2
            )
        fmv *= float(rng.uniform(0.95, 1.35))
    options = []
    for k in range(grants):
        grant_date = date(first_year - 4 + k % 5, 1 + k % 12, 1)
        strike = round(float(rng.uniform(0.2, 0.8)) * tax_years[0].fmv, 2)
        shares = float(rng.integers(4, 40)) * 1000
        expiry = date_of(latest_expiry(day_of(grant_date), iso_law_for(law), SCALAR))
        exercisable = {}
        for y in years:
            vested = min(1.0, max(0.0, (y + 0.9 - grant_date.year) / 4)) * shares
            if date(y, 12, 1) < expiry:
                exercisable[y] = float(np.floor(vested / share_step) * share_step)
        kind = NSO if k % 3 == 2 else ISO
        options.append(
            OptionClass(
                id=f"g{k + 1}",
                grant_id=f"g{k + 1}",
                kind=kind,
                strike=strike,
                grant_date=grant_date,
                expiry=expiry,
                exercisable=exercisable,
                holding=holding,
            )
        )
    lots = (
        Lot(
            id="held",
            grant_id="held",
            kind=STOCK,
            shares=2000.0,
            grant_date=date(first_year - 5, 1, 1),
            exercise_date=date(first_year - 3, 6, 1),
            exercise_year=first_year - 3,
            regular_basis=2.0,
            amt_basis=2.0,
            holding=holding,
        ),
    )
    liquid_from = years[len(years) // 2]
    windows = [
        SaleWindow(id=f"market-{y}", year=y, date=date(y, 12, 10), price=ty.fmv)
        for y, ty in zip(years, tax_years, strict=True)
        if y >= liquid_from
    ]
    if seed % 2 == 0 and liquid_from - 1 >= first_year:
        y = liquid_from - 1
        windows.append(
            SaleWindow(
                id=f"tender-{y}",
                year=y,
                date=date(y, 12, 5),
                price=tax_years[y - first_year].fmv,
                max_shares=5000.0,
                kind="tender",
            )
        )
    # A window is days after its year's exercise date: the same count is vested then, if the
    # options have not expired (an exercise there is sold the same day).
    options = [
        replace(o, window_exercisable={
            w.id: o.exercisable.get(w.year, 0.0) if w.date < o.expiry else 0.0 for w in windows
        })
        for o in options
    ]  # fmt: skip
    return Scenario(
        description=f"synthetic household {seed}: {grants} grants over {horizon} years",
        filing_status=status, years=tuple(tax_years), options=tuple(options), lots=lots,
        windows=tuple(sorted(windows, key=lambda w: (w.date, w.id))),
        start_cash=float(rng.uniform(80_000, 300_000)), cash_floor=25_000.0,
        share_step=share_step, credit_value=0.8,
    )  # fmt: skip
