"""Differential-test oracle: the same household-years run through PSLmodels Tax-Calculator.

isoplan's engine is checked against an engine written by other people from the same law, so that a
shared misreading is the only way both can be wrong together. Tax-Calculator (`taxcalc` on PyPI)
covers 2024-2026 current law including OBBBA, all filing statuses, Form 6251 with an "other AMT
adjustments" input (`cmbtp`, used here for the ISO spread on line 2i) and Form 8960.

Where Tax-Calculator departs from the forms or the statute, this module does NOT correct it: the
comparison test classifies each departure with a named known-difference rule instead (see
docs/known-differences.md). The extra diagnostic columns returned here exist to feed those rules.

Usage as a script:  python scripts/oracle.py IN.csv OUT.csv
"""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

# The requirement the test extra pins; the known-difference rules were derived against this version.
ORACLE_REQUIREMENT = "taxcalc==6.8.0"

STATUS_TO_MARS = {"single": 1, "mfj": 2, "mfs": 3, "hoh": 4}
MONEY_COLUMNS = (
    "wages",
    "ordinary_income",
    "interest",
    "qualified_dividends",
    "ltcg",
    "stcg",
    "iso_spread",
    "salt",
    "mortgage_interest",
    "charitable",
)
RESULT_COLUMNS = ("taxable_income", "regular_tax", "amti", "tmt", "amt", "niit")
# Intermediate taxcalc figures the known-difference rules need (all taxcalc's own numbers).
DIAGNOSTIC_COLUMNS = (
    "agi",
    "standard_deduction",
    "itemized_before_limitation",
    "itemized_deduction",
    "salt_deducted",
    "charity_deducted",
)
SUPPORTED_YEARS = (2024, 2025, 2026)

# taxcalc variable -> oracle column.
_OUTPUT_VARS = {
    "c04800": "taxable_income",  # Form 1040 line 15
    "taxbc": "regular_tax",  # Form 1040 line 16 (QDCG worksheet applied), before credits
    "c62100": "amti",  # Form 6251 line 4
    "c09600": "amt",  # Form 6251 line 11
    "niit": "niit",  # Form 8960 line 17
    "c00100": "agi",  # Form 1040 line 11
    "standard": "standard_deduction",  # incl. the 2026+ non-itemizer charity deduction
    "c21060": "itemized_before_limitation",  # Schedule A line 17 before the §68 reduction
    "c04470": "itemized_deduction",  # after taxcalc's §68 reduction
    "c18300": "salt_deducted",  # Schedule A line 7
    "c19700": "charity_deducted",  # Schedule A line 14
}

_ZERO_REGULAR_RATES = tuple(f"II_rt{k}" for k in range(1, 9)) + tuple(
    f"CG_rt{k}" for k in range(1, 5)
)


def _taxcalc() -> Any:
    """Import taxcalc lazily so this module imports (and the test can skip) without it."""
    import taxcalc

    return taxcalc


def engine_version() -> str:
    """The installed taxcalc version; the rules in tests/test_oracle.py are tied to the pin."""
    return str(_taxcalc().__version__)


@functools.cache
def _policy(zero_regular_tax: bool) -> Any:
    """Current-law policy, built once per process (parsing and reforming it is the slow part;
    Calculator deep-copies it, so sharing is safe).

    With `zero_regular_tax`, every regular rate is zero in every supported year, so Form 6251
    line 10 is 0 and taxcalc's AMT output equals the tentative minimum tax (line 9), which
    taxcalc does not expose otherwise.
    """
    policy = _taxcalc().Policy()
    if zero_regular_tax:
        reform = {name: dict.fromkeys(SUPPORTED_YEARS, 0.0) for name in _ZERO_REGULAR_RATES}
        policy.implement_reform(reform, print_warnings=False, raise_errors=True)
    return policy


def _normalize(df: pd.DataFrame) -> pd.DataFrame:
    """Validate the input frame and fill missing money columns with 0."""
    for col in ("id", "year", "filing_status", "itemize"):
        if col not in df.columns:
            raise ValueError(f"oracle input lacks required column {col!r}")
    out = df.reset_index(drop=True).copy()
    for col in MONEY_COLUMNS:
        if col not in out.columns:
            out[col] = 0.0
        out[col] = pd.to_numeric(out[col]).fillna(0.0).astype(float)
    out["year"] = pd.to_numeric(out["year"]).astype(int)
    bad_years = sorted(set(out["year"]) - set(SUPPORTED_YEARS))
    if bad_years:
        raise ValueError(f"oracle supports tax years {SUPPORTED_YEARS}, got {bad_years}")
    status = out["filing_status"].astype(str).str.strip().str.lower()
    unknown = sorted(set(status) - set(STATUS_TO_MARS))
    if unknown:
        raise ValueError(f"unknown filing_status values {unknown}")
    out["filing_status"] = status
    out["itemize"] = out["itemize"].map(_as_bool)
    if (out[["wages", "interest", "qualified_dividends", "iso_spread", "salt"]] < 0).any().any():
        raise ValueError("wages, interest, qualified_dividends, iso_spread, salt must be >= 0")
    return out


def _as_bool(value: Any) -> bool:
    """Parse an explicit itemize flag; CSV round trips turn bools into strings."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "1.0", "yes"):
        return True
    if text in ("false", "0", "0.0", "no"):
        return False
    raise ValueError(f"itemize must be an explicit bool, got {value!r}")


def _records(rows: pd.DataFrame, year: int) -> Any:
    """Build a taxcalc Records object for rows of one year.

    Mapping: wages -> e00200 (split evenly between spouses for MFJ; only payroll tax, which is
    not returned, depends on the split); ordinary_income -> e01700 taxable pensions (in AGI, not
    earned income, not NII, no SE tax or QBI deduction); interest -> e00300 (it includes
    non-qualified dividends: both are ordinary income and NII); qualified_dividends ->
    e00600 = e00650; stcg -> p22250; ltcg -> p23250; iso_spread -> cmbtp (Form 6251 lines 2c-3);
    salt -> e18400; mortgage_interest -> e19200; charitable -> e19800 (cash). Both adults are 40:
    no aged deduction, senior deduction or kiddie-AMT cap; no dependents, so no credits either.
    """
    n = len(rows)
    mars = rows["filing_status"].map(STATUS_TO_MARS).to_numpy(dtype=int)
    wages = rows["wages"].to_numpy(dtype=float)
    head = np.where(mars == 2, np.round(wages / 2.0, 2), wages)
    ordinary = rows["ordinary_income"].to_numpy(dtype=float)
    qdiv = rows["qualified_dividends"].to_numpy(dtype=float)
    data = pd.DataFrame(
        {
            "RECID": np.arange(1, n + 1),
            "MARS": mars,
            "XTOT": np.where(mars == 2, 2, 1),
            "age_head": np.full(n, 40),
            "age_spouse": np.where(mars == 2, 40, 0),
            "e00200": wages,
            "e00200p": head,
            "e00200s": wages - head,
            "e01500": ordinary,
            "e01700": ordinary,
            "e00300": rows["interest"].to_numpy(dtype=float),
            "e00600": qdiv,
            "e00650": qdiv,
            "p22250": rows["stcg"].to_numpy(dtype=float),
            "p23250": rows["ltcg"].to_numpy(dtype=float),
            "cmbtp": rows["iso_spread"].to_numpy(dtype=float),
            "e18400": rows["salt"].to_numpy(dtype=float),
            "e19200": rows["mortgage_interest"].to_numpy(dtype=float),
            "e19800": rows["charitable"].to_numpy(dtype=float),
        }
    )
    return _taxcalc().Records(
        data=data, start_year=year, gfactors=None, weights=None, adjust_ratios=None
    )


_ITEMIZED_ARRAYS = ("c04470", "c21060", "c21040", "c17000", "c18300", "c19200", "c19700",
                   "c20500", "c20800")  # fmt: skip


def _run(
    records: Any, policy: Any, itemize: np.ndarray, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """One vectorized Calculator pass with each row's deduction forced; returns taxcalc arrays.

    `Calculator.calc_all` itemizes iff that gives strictly less regular tax + AMT, so when the
    AMT binds (a tie) float noise decides which deduction's lines it reports. After calc_all,
    Schedule A and the standard deduction are recomputed, the side a row does not take is
    zeroed (as taxcalc does for its own choice) and TaxInc..AMT are rerun. This uses taxcalc's
    private Calculator internals, hence the exact pin (ORACLE_REQUIREMENT).
    """
    tc = _taxcalc()
    calc = tc.Calculator(policy=policy, records=records)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc.calc_all()
        pol = calc._Calculator__policy
        rec = calc._Calculator__records
        tc.calcfunctions.ItemDed(pol, rec)
        tc.calcfunctions.StdDed(pol, rec)
        calc.array("standard", np.where(itemize, 0.0, calc.array("standard")))
        for name in _ITEMIZED_ARRAYS:
            calc.array(name, np.where(itemize, calc.array(name), 0.0))
        calc._taxinc_to_amt()
    return {name: np.asarray(calc.array(name), dtype=float) for name in names}


def oracle_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Federal figures per household-year from Tax-Calculator's current law for the row's year.

    Input columns: id, year, filing_status (single|mfj|mfs|hoh), itemize (explicit bool) and the
    money columns of MONEY_COLUMNS (missing = 0). Output, in input row order: id, year, the
    RESULT_COLUMNS (Form 1040 lines 15-16, Form 6251 lines 4, 9, 11, Form 8960 line 17) and the
    DIAGNOSTIC_COLUMNS. Payroll taxes and credits are deliberately left out.
    """
    rows = _normalize(df)
    result = pd.DataFrame(
        {"id": rows["id"].to_numpy(), "year": rows["year"].to_numpy()},
        index=rows.index,
    )
    for col in RESULT_COLUMNS + DIAGNOSTIC_COLUMNS:
        result[col] = np.nan
    for year in sorted(int(y) for y in rows["year"].unique()):
        group = rows[rows["year"] == year]
        records = _records(group, year)
        itemize = group["itemize"].to_numpy(dtype=bool)
        main = _run(records, _policy(False), itemize, list(_OUTPUT_VARS))
        tmt = _run(records, _policy(True), itemize, ["c09600", "taxbc"])
        if np.any(np.abs(tmt["taxbc"]) > 0.005):  # float noise of a few 1e-12 is zero
            raise RuntimeError("zero-rate taxcalc run still produced regular tax")
        for var, col in _OUTPUT_VARS.items():
            result.loc[group.index, col] = main[var]
        result.loc[group.index, "tmt"] = tmt["c09600"]
    # Consistency of the two passes: Form 6251 line 11 = max(0, line 9 - line 10).
    implied = np.maximum(result["tmt"] - result["regular_tax"], 0.0)
    if not np.allclose(implied, result["amt"], atol=0.01):
        raise RuntimeError("taxcalc AMT disagrees with TMT - regular tax; mapping is broken")
    return result.reset_index(drop=True)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: read household-years from a CSV, write the oracle's figures to a CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input_csv")
    parser.add_argument("output_csv")
    args = parser.parse_args(argv)
    frame = pd.read_csv(args.input_csv)
    oracle_frame(frame).to_csv(args.output_csv, index=False, float_format="%.2f")
    return 0


if __name__ == "__main__":
    sys.exit(main())
