"""California differential-test oracles: Form 540 from tenforty (OpenTaxSolver), Schedule P (540)
from PolicyEngine-US.

Like scripts/oracle.py (federal, Tax-Calculator), this module only runs the other engines and
reports their figures; it corrects nothing. Departures from the forms are listed here and belong
in the comparison test's known-difference rules. Each engine is imported lazily inside the
functions, so the module imports (and a test can skip) without it.

tenforty 2025.12 (`pip install tenforty`, MIT; OpenTaxSolver CA_540 v22.03 for 2024, v23.02 for
2025 compiled in; manylinux_2_28 x86_64 wheels for CPython 3.11-3.13; deps polars, pydantic,
python-dotenv; ~210 MB installed, mostly polars; ~3 ms a return)
  Computes Form 540 lines 13-19 (federal AGI, CA AGI, deduction = max(CA standard, CA itemized
  after the 6%-of-excess-AGI limitation), taxable income), 31 (tax), 32 (exemption credits:
  personal + dependent, $6 per $2,500 ($1,250 MFS) or fraction of AGI over the threshold, each
  group floored at 0 separately), 33, 35 and 48 (= 35: no other credits are modelled here).
  Tax years 2024 and 2025 only, all four statuses. Schedule CA Part II is run from the federal
  Schedule A lines, so state income tax (federal line 5a) is removed and the federal SALT cap is
  added back, as the form does; CA itemizing is independent of the federal choice. Phase-out
  starts checked at the $1 edge: 2024 single/MFS 244,857, MFJ 489,719, HOH 367,291; 2025
  252,203, 504,411, 378,310 (FTB figures). On 160 random 2024-2025 households it agrees with PE
  below on lines 17, 19 and 32 exactly and on line 31 within $1 from $100,000 up.
  Known behaviour / defects observed (rules of tests/test_oracle_ca.py, docs/known-differences.md):
  - Line 31 below $100,000 of taxable income is the FTB Tax Table (OTS emulates it: the tax on the
    row midpoint, rows $51-$150, $151-$250, ..., last row $99,951-$100,000 at $99,975), not the
    rate schedule: up to 9.3% x $50 + $0.50 = $5.15 from the schedule. At exactly $100,000 OTS
    uses the schedule (ots-schedule-at-100000). Above, the schedule rounded to whole dollars
    (ots-whole-dollar-tax). Inside the table a taxable income with cents is looked up by its
    whole dollars: 70,650.40 in the row $70,551-$70,650 (ots-table-truncates-cents).
  - Cash gifts: the federal deduction (60% of AGI) is carried into Schedule CA unadjusted;
    California allows 50% (R&TC §17201). Keep gifts under 50% of AGI when comparing.
  - Line 61 (AMT, Schedule P) and line 62 (MHST) are INPUTS of OTS, never computed: this module
    does not return them. The ISO input `incentive_stock_option_gains` reaches federal Form 6251
    only. There is no FTB 3510 either.
  - The itemized limitation is not rounded (line 18 and 19 can carry cents).
  - The public `evaluate_return(..., state="CA")` returns only lines 13, 19 and 64 and takes a
    single lump `itemized_deductions` (federal Schedule A line 6); this module therefore calls
    `tenforty.core.evaluate_form` with the federal 1040 / Schedule A line keys directly.
  - tenforty's second, "graph" backend (`backend="graph"`) does compute MHST but approximates the
    exemption-credit phase-out linearly (0.0024/$) and refuses dependents for CA; not used here.

policyengine-us 2.68.0 (`pip install policyengine-us`, AGPL-3.0; ~80 packages, ~870 MB venv of
which the model is 176 MB; `import policyengine_us` builds the whole tax system: 32-45 s on this
2-core machine, then ~0.1-0.2 s a simulation, ~0.4 s for 200 tax units in one)
  Computes CA AGI, taxable income, line 31 (`ca_income_tax_before_credits`, rate schedule at every
  income: no Tax Table), line 32 (`ca_exemptions`), MHST (`ca_mental_health_services_tax`) and
  Schedule P: AMTI (`ca_pre_exemption_amti` -> `ca_amti`, which adds the MFS add-back of line
  21), exemption (`ca_amt_exemption`), AMT (`ca_amt` = max(0, 7% x (AMTI - exemption) - line
  31)). No variable holds the TMT: it is read here as `ca_amt` of a twin tax unit whose regular
  tax is injected as 0 (as scripts/oracle.py does for Form 6251). A value supplied in the
  situation replaces a variable's formula, so AMTI and line 31 can be injected. PE has no
  ISO/Schedule P line 10 input and no FTB 3510.
  Known defects observed:
  - 2026+: `ca_amt_exemption` phases out at the FEDERAL rate `gov.irs.income.amt.exemption.
    phase_out.rate`, 0.25 through 2025 and 0.50 from 2026 (OBBBA); California stays at 25%.
    E.g. single 2026, AMTI 400,000: PE exemption 72,696.13 (50%) where 25% gives 83,773.55.
    The MFS add-back still starts where a 25% phase-out would end (490,047.80 for 2026), so MFS
    2026 has a band with no exemption and no add-back.
  - 2026 figures are PE's own CA-CPI projections, not rounded to dollars (exemption 94,850.96,
    standard deduction 5,835.31, ...), whereas FTB publishes whole dollars.
  - The MFS add-back rate comes from a federal capital-gains parameter (0.25): right value, wrong
    source. Injecting `ca_amti` itself would skip the add-back; this module injects
    `ca_pre_exemption_amti`.
  - Values are float32: a few cents of noise on six-figure amounts.

Usage as a script:  python scripts/oracle_ca.py YEAR STATUS [--wages N] [--amti N] ...
(prints what each installed engine returns, as JSON), or, where PE is installed,
python scripts/oracle_ca.py --write-policyengine-reference tests/data/oracle_ca_policyengine.json
(the stored reference tests/test_oracle_ca.py reads; `write_policyengine_reference`).
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import sys
from collections.abc import Sequence
from typing import Any

# The versions the defects above were observed with; a test extra should pin these.
TENFORTY_REQUIREMENT = "tenforty==2025.12"
POLICYENGINE_REQUIREMENT = "policyengine-us==2.68.0"

STATUSES = ("single", "mfj", "mfs", "hoh")
TENFORTY_YEARS = (2024, 2025)
# PE runs 2026 too, with the phase-out defect and projected parameters described above.
POLICYENGINE_YEARS = (2024, 2025, 2026)

_OTS_STATUS = {
    "single": "Single",
    "mfj": "Married/Joint",
    "mfs": "Married/Sep",
    "hoh": "Head_of_House",
}
_PE_STATUS = {"single": "SINGLE", "mfj": "JOINT", "mfs": "SEPARATE", "hoh": "HEAD_OF_HOUSEHOLD"}

# OTS CA_540 output line -> result key.
_OTS_CA_LINES = {
    "L13": "federal_agi",
    "L17": "ca_agi",
    "L18": "ca_deduction",  # larger of CA standard and limited CA itemized
    "L19": "ca_taxable_income",
    "L31": "ca_regular_tax",  # Tax Table below $100,000, rate schedule above
    "L32": "ca_exemption_credits",
    "L33": "ca_tax_after_exemption_credits",
    "L35": "ca_tax_line_35",
    "L48": "ca_tax_after_credits",
}


def engine_versions() -> dict[str, str | None]:
    """Installed versions of both engines (None if absent), without importing them."""
    versions: dict[str, str | None] = {}
    for dist in ("tenforty", "policyengine-us", "policyengine-core"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def _check(year: int, status: str, years: Sequence[int], engine: str) -> None:
    if year not in years:
        raise ValueError(f"{engine} oracle supports tax years {tuple(years)}, got {year}")
    if status not in STATUSES:
        raise ValueError(f"unknown filing status {status!r}; expected one of {STATUSES}")


def _non_negative(**amounts: float) -> None:
    for name, value in amounts.items():
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


# ----------------------------------------------------------------------------------------------
# tenforty / OpenTaxSolver: Form 540 lines 13-48 (no AMT, no MHST)
# ----------------------------------------------------------------------------------------------


def _gain_clause(amount: float, term: str) -> str:
    """An OTS Form 8949 block (cost, proceeds) whose net is `amount` (a loss if negative)."""
    cost, proceeds = (0.0, amount) if amount >= 0 else (-amount, 0.0)
    return f"\n    {cost} various-{term}\n    {proceeds} various-{term}\n    ~ ~\n"


def tenforty_ca(
    year: int,
    status: str,
    wages: float = 0.0,
    interest: float = 0.0,
    qualified_dividends: float = 0.0,
    ltcg: float = 0.0,
    stcg: float = 0.0,
    property_tax: float = 0.0,
    mortgage_interest: float = 0.0,
    charitable: float = 0.0,
    state_income_tax: float = 0.0,
    dependents: int = 0,
    seniors: int = 0,
    blind: int = 0,
) -> dict[str, float]:
    """California Form 540 figures from OpenTaxSolver (via tenforty) for one household-year.

    Inputs go on the federal return, which OTS's CA_540 reads: wages -> 1040 line 1a (all of it
    on one W-2; the split does not matter for CA income tax), interest -> 2b, qualified_dividends
    -> 3a and 3b (so they are in AGI), ltcg / stcg -> Form 8949 (net; a loss is limited to $3,000
    as federally), property_tax -> Schedule A 5b, mortgage_interest -> 8a, charitable -> 11
    (cash), state_income_tax -> 5a (which Schedule CA removes), dependents -> the federal count
    and Form 540 line 10, seniors / blind (people aged 65 or over / blind: 0-1, 0-2 for MFJ) ->
    the federal boxes ("You_65+Over?", "Spouse_65+Over?", "You_Blind?", "Spouse_Blind?") and
    Form 540 lines 9 and 8 (OTS reads the credit counts there, not from the federal boxes).

    Returns the lines of _OTS_CA_LINES (floats, whole dollars except where the itemized
    limitation leaves cents). Lines 61/62 are not returned: OTS does not compute them.
    """
    _check(year, status, TENFORTY_YEARS, "tenforty")
    _non_negative(
        wages=wages,
        interest=interest,
        qualified_dividends=qualified_dividends,
        property_tax=property_tax,
        mortgage_interest=mortgage_interest,
        charitable=charitable,
        state_income_tax=state_income_tax,
        dependents=dependents,
        seniors=seniors,
        blind=blind,
    )
    people = 2 if status == "mfj" else 1
    if seniors > people or blind > people:
        raise ValueError(f"{status}: at most {people} seniors and {people} blind people")
    from tenforty import core

    federal: dict[str, Any] = {
        "Status": _OTS_STATUS[status],
        "Dependents": int(dependents),
        "L1a": float(wages),
        "L2b": float(interest),
        "L3a": float(qualified_dividends),
        "L3b": float(qualified_dividends),
        "A5a": float(state_income_tax),
        "A5b": float(property_tax),
        "A8a": float(mortgage_interest),
        "A11": float(charitable),
        "A18": "N",  # federal itemizing left to OTS (larger deduction); CA chooses on its own
    }
    for count, box in ((seniors, "65+Over?"), (blind, "Blind?")):
        for who in ("You", "Spouse")[: int(count)]:
            federal[f"{who}_{box}"] = "Y"
    clauses = [_gain_clause(ltcg, "long")] if ltcg else []
    clauses += [_gain_clause(stcg, "short")] if stcg else []
    if clauses:
        federal["CapGains-A/D"] = "".join(clauses)
    state = {"L8": int(blind), "L9": int(seniors), "L10": int(dependents)}
    result = core.evaluate_form(year, "US_1040", "CA_540", federal, state, on_error="raise")
    lines = result["state"]
    if lines is None:
        raise RuntimeError("tenforty returned no CA_540 result")
    out = {key: float(lines.get(line, 0.0)) for line, key in _OTS_CA_LINES.items()}
    # Form 540 line 33 = line 31 - line 32, not below 0: a mapping check.
    expected = max(out["ca_regular_tax"] - out["ca_exemption_credits"], 0.0)
    if abs(out["ca_tax_after_exemption_credits"] - expected) > 0.005:
        raise RuntimeError("OTS line 33 != max(0, line 31 - line 32); line mapping is broken")
    return out


# isoplan household columns that tenforty_frame maps; any other money column must be 0 or absent.
_TENFORTY_COLUMNS = (
    "wages",
    "interest",
    "qualified_dividends",
    "ltcg",
    "stcg",
    "salt",
    "real_estate_tax",
    "mortgage_interest",
    "charitable",
    "dependents",
    "aged_blind",
    "seniors",
)
_TENFORTY_UNSUPPORTED = (
    "ordinary_income",
    "iso_spread",
    "amt_ltcg_adjustment",
    "amt_stcg_adjustment",
    "amt_ordinary_adjustment",
    "st_loss_carryover",
    "lt_loss_carryover",
    "amt_st_loss_carryover",
    "amt_lt_loss_carryover",
    "ca_amt_credit_carryforward",
)


def tenforty_frame(households: Any) -> Any:
    """`tenforty_ca` for every row of an isoplan household table (pandas; the columns of
    `isoplan tax`): one row per household, in order, with `id`, `year` and the _OTS_CA_LINES.

    Mapping: `real_estate_tax` -> property_tax, the rest of `salt` -> state_income_tax, `seniors`
    -> seniors and `aged_blind - seniors` -> blind (isoplan counts each senior as one of the
    aged/blind conditions). Columns OTS has no input for here (ordinary income, the ISO spread,
    AMT adjustments, carryovers) must be 0 or absent: the row is refused otherwise.
    """
    import pandas as pd

    frame = households.reset_index(drop=True)
    for col in _TENFORTY_UNSUPPORTED:
        if col in frame.columns and (frame[col].fillna(0.0) != 0.0).any():
            raise ValueError(f"tenforty_frame: column {col!r} must be 0 (no OTS input mapped)")
    rows = []
    for case in frame.to_dict("records"):
        v = {col: float(case.get(col, 0.0) or 0.0) for col in _TENFORTY_COLUMNS}
        result = tenforty_ca(
            int(case["year"]),
            str(case["filing_status"]),
            wages=v["wages"],
            interest=v["interest"],
            qualified_dividends=v["qualified_dividends"],
            ltcg=v["ltcg"],
            stcg=v["stcg"],
            property_tax=v["real_estate_tax"],
            mortgage_interest=v["mortgage_interest"],
            charitable=v["charitable"],
            state_income_tax=v["salt"] - v["real_estate_tax"],
            dependents=int(v["dependents"]),
            seniors=int(v["seniors"]),
            blind=int(v["aged_blind"] - v["seniors"]),
        )
        rows.append({"id": case.get("id"), "year": int(case["year"]), **result})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# PolicyEngine-US: Form 540 lines 19, 31, 32, 62 and Schedule P (540)
# ----------------------------------------------------------------------------------------------


@functools.cache
def _pe_simulation_class() -> Any:
    """Import PolicyEngine once per process (building its tax system takes 35-45 s)."""
    from policyengine_us import Simulation

    return Simulation


def _pe_unit(
    prefix: str,
    year: int,
    status: str,
    person_inputs: dict[str, float],
    unit_inputs: dict[str, float],
    dependents: int,
) -> dict[str, dict[str, Any]]:
    """One tax unit (in its own household, family, SPM and marital unit) as situation parts."""
    y = str(year)
    head = f"{prefix}_head"
    people: dict[str, Any] = {
        head: {"age": {y: 40}, **{k: {y: v} for k, v in person_inputs.items()}}
    }
    adults = [head]
    if status == "mfj":
        people[f"{prefix}_spouse"] = {"age": {y: 40}}
        adults.append(f"{prefix}_spouse")
    kids = [f"{prefix}_child{i}" for i in range(dependents)]
    for kid in kids:
        people[kid] = {"age": {y: 10}}
    members = adults + kids
    unit: dict[str, Any] = {"members": members, "filing_status": {y: _PE_STATUS[status]}}
    unit.update({k: {y: v} for k, v in unit_inputs.items()})
    return {
        "people": people,
        "tax_units": {prefix: unit},
        "families": {prefix: {"members": members}},
        "spm_units": {prefix: {"members": members}},
        "marital_units": {prefix: {"members": adults}},
        "households": {prefix: {"members": members, "state_code": {y: "CA"}}},
    }


def _pe_run(
    year: int,
    units: Sequence[dict[str, dict[str, Any]]],
    names: Sequence[str],
    raw: bool = False,
) -> list[dict[str, float]]:
    """Calculate `names` for every tax unit of one situation; one dict per unit, in order.
    Rounded to the cent, or with `raw` PE's float32 values exactly (as Python floats)."""
    situation: dict[str, dict[str, Any]] = {}
    for unit in units:
        for group, members in unit.items():
            situation.setdefault(group, {}).update(members)
    sim = _pe_simulation_class()(situation=situation)
    arrays = {name: sim.calculate(name, year) for name in names}

    def value(x: Any) -> float:
        return float(x) if raw else round(float(x), 2)

    return [{name: value(arrays[name][i]) for name in names} for i in range(len(units))]


_PE_REGULAR = {
    "ca_agi": "ca_agi",
    "ca_taxable_income": "ca_taxable_income",
    "ca_income_tax_before_credits": "ca_regular_tax",  # line 31, rate schedule
    "ca_exemptions": "ca_exemption_credits",  # line 32
    "ca_mental_health_services_tax": "ca_mhst",  # line 62
    "ca_pre_exemption_amti": "ca_amti_before_mfs_addback",  # no ISO: PE has no line 10 input
    "ca_amti": "ca_amti",
    "ca_amt_exemption": "ca_amt_exemption",
    "ca_amt": "ca_amt",
}


def policyengine_ca(
    year: int,
    status: str,
    wages: float = 0.0,
    interest: float = 0.0,
    qualified_dividends: float = 0.0,
    ltcg: float = 0.0,
    property_tax: float = 0.0,
    mortgage_interest: float = 0.0,
    charitable: float = 0.0,
    dependents: int = 0,
    raw: bool = False,
) -> dict[str, float]:
    """California regular tax, exemption credits, MHST and PE's own Schedule P for one
    household-year (no ISO spread: PE cannot take one). With `raw`, PE's float32 values
    unrounded (see `_pe_run`).

    Mapping: wages -> head's employment_income; interest -> taxable_interest_income;
    qualified_dividends -> qualified_dividend_income; ltcg -> long_term_capital_gains;
    property_tax -> real_estate_taxes; mortgage_interest -> deductible_mortgage_interest (its
    formula replaced, so no debt cap); charitable -> charitable_cash_donations; dependents ->
    children aged 10. Adults are 40.
    """
    _check(year, status, POLICYENGINE_YEARS, "policyengine")
    _non_negative(
        wages=wages,
        interest=interest,
        qualified_dividends=qualified_dividends,
        property_tax=property_tax,
        mortgage_interest=mortgage_interest,
        charitable=charitable,
        dependents=dependents,
    )
    person = {
        "employment_income": float(wages),
        "taxable_interest_income": float(interest),
        "qualified_dividend_income": float(qualified_dividends),
        "long_term_capital_gains": float(ltcg),
        "real_estate_taxes": float(property_tax),
        "deductible_mortgage_interest": float(mortgage_interest),
        "charitable_cash_donations": float(charitable),
    }
    unit = _pe_unit("tu", year, status, person, {}, int(dependents))
    (row,) = _pe_run(year, [unit], list(_PE_REGULAR), raw=raw)
    return {key: row[name] for name, key in _PE_REGULAR.items()}


def policyengine_ca_amt(
    year: int, status: str, amti: float, regular_tax_before_credits: float
) -> dict[str, float]:
    """Schedule P (540) Part II from PE with AMTI and Form 540 line 31 injected.

    `amti` is AMTI before the MFS add-back (PE `ca_pre_exemption_amti`; for other statuses it is
    line 21 itself); `regular_tax_before_credits` is Form 540 line 31 (Schedule P line 25).
    Returns ca_amti (line 21, with the MFS add-back), ca_amt_exemption (line 22), ca_tmt (line 24,
    from a twin unit whose line 31 is injected as 0) and ca_amt (line 26).
    """
    (result,) = policyengine_ca_amt_batch(year, [(status, amti, regular_tax_before_credits)])
    return result


def policyengine_ca_amt_batch(
    year: int, cases: Sequence[tuple[str, float, float]], raw: bool = False
) -> list[dict[str, float]]:
    """policyengine_ca_amt for many (status, amti, regular_tax_before_credits) of one year in a
    single PE simulation (~0.4 s for 200 cases once PE is imported). With `raw`, PE's float32
    values unrounded (see `_pe_run`)."""
    if not cases:
        return []
    units = []
    for i, (status, amti, tax) in enumerate(cases):
        _check(year, status, POLICYENGINE_YEARS, "policyengine")
        _non_negative(regular_tax_before_credits=tax)
        for prefix, injected in ((f"tu{i}", float(tax)), (f"tmt{i}", 0.0)):
            inputs = {
                "ca_pre_exemption_amti": float(amti),
                "ca_income_tax_before_credits": injected,
            }
            units.append(_pe_unit(prefix, year, status, {}, inputs, 0))
    rows = _pe_run(year, units, ["ca_amti", "ca_amt_exemption", "ca_amt"], raw=raw)
    results = []
    for (_, _, tax), main, zero in zip(cases, rows[0::2], rows[1::2], strict=True):
        result = {
            "ca_amti": main["ca_amti"],
            "ca_amt_exemption": main["ca_amt_exemption"],
            "ca_tmt": zero["ca_amt"],
            "ca_amt": main["ca_amt"],
        }
        # Schedule P line 26 = max(0, line 24 - line 25): a mapping check (float32 noise is
        # cents; a broken injection is off by thousands).
        implied = max(result["ca_tmt"] - float(tax), 0.0)
        if abs(implied - result["ca_amt"]) > 0.5:
            raise RuntimeError("PE ca_amt != max(0, TMT - line 31); injection or mapping broken")
        results.append(result)
    return results


def policyengine_ca_amt_parameters(year: int) -> dict[str, dict[str, float]]:
    """PE's Schedule P figures for `year`, per isoplan status: the exemption (line 22 worksheet
    line 1), the phase-out start (`threshold.lower`), the MFS add-back start (`threshold.upper`,
    where a 25% phase-out ends), the phase-out rate PE applies (the FEDERAL
    `gov.irs.income.amt.exemption.phase_out.rate`), the MFS add-back rate (the federal
    `capital_gains.capital_gain_excess_tax_rate`) and the TMT rate. 2026 amounts are PE's own
    CA-CPI uprating of 2025, unrounded."""
    _check(year, "single", POLICYENGINE_YEARS, "policyengine")
    unit = _pe_unit("tu", year, "single", {}, {}, 0)
    sim = _pe_simulation_class()(situation=unit)
    law = sim.tax_benefit_system.parameters(f"{year}-01-01").gov
    ca = law.states.ca.tax.income.amt
    irs = law.irs.income.amt
    out = {}
    for status, pe_status in _PE_STATUS.items():
        out[status] = {
            "exemption": float(ca.exemption.amount[pe_status]),
            "phaseout_start": float(ca.exemption.amti.threshold.lower[pe_status]),
            "addback_start": float(ca.exemption.amti.threshold.upper[pe_status]),
            "phaseout_rate": float(irs.exemption.phase_out.rate),
            "addback_rate": float(irs.capital_gains.capital_gain_excess_tax_rate),
            "tmt_rate": float(ca.tentative_min_tax_rate),
        }
    return out


REFERENCE_TAX_RATE = 0.06  # the regular tax (Form 540 line 31) given with each reference AMTI


def reference_points(law: dict[str, float]) -> list[tuple[str, float]]:
    """The AMTI values (before the MFS add-back) of the stored reference for one year and status,
    placed by PE's own figures `law` (policyengine_ca_amt_parameters): S the phase-out start, E
    the exemption, U where a 25% phase-out ends (S + 4E; the MFS add-back starts there)."""
    s, e, u = law["phaseout_start"], law["exemption"], law["addback_start"]
    return [
        ("zero", 0.0),
        ("below-exemption", float(round(e / 2))),  # TMT 0
        ("below-phaseout", float(round(s)) - 25_000.0),  # full exemption
        ("at-phaseout-start", float(round(s))),
        ("phaseout-quarter", float(round(s + e))),  # 25%: 3/4 of E left; 50%: 1/2
        ("phaseout-half", float(round(s + 2 * e))),  # 25%: 1/2 left; 50%: gone (2026 PE)
        ("phaseout-cents", float(round(s + 3 * e)) + 0.37),  # an AMTI with cents
        ("exemption-gone", float(round(u))),  # 25%: gone; MFS add-back starts
        ("past-phaseout", float(round(u)) + 150_000.0),  # MFS add-back 37,500 (< E)
        ("addback-capped", float(round(u + 4 * e)) + 60_000.0),  # MFS add-back = E
        ("very-high", 2_400_000.0),
    ]


def reference_households() -> list[dict[str, Any]]:
    """The household-years of the stored reference run through `policyengine_ca` (2024 and 2025,
    every status): a Tax Table income, an itemizer over the §17077 limitation start, and two
    taxable incomes over $1,000,000 (line 62), one itemizing past the MFS add-back point."""
    profiles: list[tuple[str, dict[str, Any]]] = [
        ("tax-table", {"wages": 85_000.0, "interest": 1_000.0, "dependents": 1}),
        (
            "itemizer-limited",
            {
                "wages": 520_000.0,
                "property_tax": 18_000.0,
                "mortgage_interest": 30_000.0,
                "charitable": 12_000.0,
                "dependents": 2,
            },
        ),
        (
            "mhst",
            {
                "wages": 1_400_000.0,
                "interest": 20_000.0,
                "qualified_dividends": 30_000.0,
                "ltcg": 100_000.0,
            },
        ),
        (
            "mhst-itemizer",
            {
                "wages": 2_000_000.0,
                "property_tax": 40_000.0,
                "mortgage_interest": 25_000.0,
                "charitable": 100_000.0,
                "dependents": 3,
            },
        ),
    ]
    return [
        {"year": year, "status": status, "label": label, "inputs": inputs}
        for year in TENFORTY_YEARS
        for status in STATUSES
        for label, inputs in profiles
    ]


def write_policyengine_reference(path: str) -> dict[str, Any]:
    """Run PE's Schedule P Part II on the fixed reference cases (every status, every year of
    POLICYENGINE_YEARS, `reference_points`, regular tax REFERENCE_TAX_RATE x AMTI) and store the
    inputs, PE's figures (float32 values, unrounded) and its parameters and version as JSON at
    `path`, with the `reference_households` through `policyengine_ca`, for
    tests/test_oracle_ca.py, which must not import PE (45 s). Returns the document."""
    versions = engine_versions()
    if versions["policyengine-us"] is None:
        raise RuntimeError(f"policyengine-us is not installed ({POLICYENGINE_REQUIREMENT})")
    parameters: dict[str, Any] = {}
    cases: list[dict[str, Any]] = []
    for year in POLICYENGINE_YEARS:
        law = policyengine_ca_amt_parameters(year)
        parameters[str(year)] = law
        inputs = [
            (status, label, amti, round(REFERENCE_TAX_RATE * amti, 2))
            for status in STATUSES
            for label, amti in reference_points(law[status])
        ]
        results = policyengine_ca_amt_batch(
            year, [(status, amti, tax) for status, _, amti, tax in inputs], raw=True
        )
        for (status, label, amti, tax), result in zip(inputs, results, strict=True):
            cases.append(
                {
                    "year": year,
                    "status": status,
                    "label": label,
                    "amti_before_addback": amti,
                    "regular_tax": tax,
                    **result,
                }
            )
    households = [
        {**case, **policyengine_ca(case["year"], case["status"], raw=True, **case["inputs"])}
        for case in reference_households()
    ]
    document = {
        "about": (
            "PolicyEngine-US's California Schedule P (540) Part II for injected AMTI "
            "(ca_pre_exemption_amti, before the MFS add-back) and Form 540 line 31 "
            "(ca_income_tax_before_credits): ca_amti (line 21), ca_amt_exemption (line 22), "
            "ca_tmt (line 24, a twin unit with line 31 = 0) and ca_amt (line 26); and "
            "`households`: whole household-years through policyengine_ca (Form 540 lines 17, 19, "
            "31, 32, 62 and PE's own Schedule P). Values are PE's float32 results, unrounded. "
            "Read by tests/test_oracle_ca.py; see docs/known-differences.md (California)."
        ),
        "generated_by": "python scripts/oracle_ca.py --write-policyengine-reference PATH",
        "versions": {k: v for k, v in versions.items() if k != "tenforty"},
        "regular_tax_rate": REFERENCE_TAX_RATE,
        "parameters": parameters,
        "cases": cases,
        "households": households,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=1)
        f.write("\n")
    return document


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Print both engines' figures for one household-year as JSON (engines not installed are
    reported as such)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("year", type=int, nargs="?")
    parser.add_argument("status", choices=STATUSES, nargs="?")
    parser.add_argument(
        "--write-policyengine-reference",
        metavar="PATH",
        help="write PE's Schedule P on the fixed reference cases to PATH (JSON) and exit",
    )
    for name in ("wages", "interest", "qualified_dividends", "ltcg", "property_tax"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=float, default=0.0)
    parser.add_argument("--mortgage-interest", dest="mortgage_interest", type=float, default=0.0)
    parser.add_argument("--charitable", type=float, default=0.0)
    parser.add_argument("--dependents", type=int, default=0)
    parser.add_argument("--amti", type=float, help="also run Schedule P with this AMTI (PE)")
    args = parser.parse_args(argv)
    if args.write_policyengine_reference:
        doc = write_policyengine_reference(args.write_policyengine_reference)
        print(f"wrote {len(doc['cases'])} cases to {args.write_policyengine_reference}")
        return 0
    if args.year is None or args.status is None:
        parser.error("YEAR and STATUS are required (or --write-policyengine-reference PATH)")
    fields = (
        "wages",
        "interest",
        "qualified_dividends",
        "ltcg",
        "property_tax",
        "mortgage_interest",
        "charitable",
        "dependents",
    )
    income = {k: getattr(args, k) for k in fields}
    report: dict[str, Any] = {"versions": engine_versions()}
    versions = report["versions"]
    if versions["tenforty"] and args.year in TENFORTY_YEARS:
        report["tenforty"] = tenforty_ca(args.year, args.status, **income)
    if versions["policyengine-us"] and args.year in POLICYENGINE_YEARS:
        report["policyengine"] = pe = policyengine_ca(args.year, args.status, **income)
        if args.amti is not None:
            report["policyengine_amt"] = policyengine_ca_amt(
                args.year, args.status, args.amti, pe["ca_regular_tax"]
            )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
