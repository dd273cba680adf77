"""The AMT crossover: the most ISO shares one can exercise and hold this year within an AMT budget.

Exercising and holding ISOs changes only Form 6251 line 2i: the regular tax, NIIT and everything on
Form 1040 stay put, and the tentative minimum tax never falls as AMTI rises. So the AMT as a
function of whole shares is non-decreasing, and a binary search over the share count, evaluating
the exact Form 6251 at each probe, finds the largest N with AMT(N) <= budget < AMT(N + 1).

The same code runs on one household (floats) or on many at once (arrays), like `models.forms`.

For a California resident the same holds for Schedule P: the spread is its line 10 and nothing else
moves, so California's AMT is non-decreasing too, and so is the sum of both AMTs. "AMT-free" then
means the sum within the budget (the joint answer), shown beside each system's own answer and the
California AMT that the federal answer alone would cost.

Rule of thumb shown beside it (what the field calls the crossover):
room = (regular tax - TMT) / 28%.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from models.forms import SCALAR, Household, form_1040, form_6251, tentative_minimum_tax
from models.forms_ca import ca_tax_on, form_540_income, schedule_p, schedule_p_tmt
from models.law import CaParams, Params

# Money is reported in whole cents: an AMT under half a cent is no AMT, and AMT(N + 1) is at least
# a cent over the budget, so the printed figures show the crossover.
_TOLERANCE = 0.005 - 1e-9


def _tmt_at(shares: Any, per_share: Any, f1040: dict, f6251: dict, p: Params, ops: Any) -> Any:
    """TMT after exercising `shares` more (line 2i grows by shares x spread; nothing else moves)."""
    amti = f6251["amti_before_addback"] + shares * per_share
    return tentative_minimum_tax(amti, f6251["amt_gains"], f1040["qdcg_line5"], p, ops)["tmt"]


def _largest(ok_at: Any, shares_available: Any, ops: Any, iterations: int) -> Any:
    """Largest whole N in [0, shares_available] with `ok_at(N)` true, for a condition that holds
    up to some N and fails above it (0 if even N = 0 fails)."""
    lo = shares_available * 0.0
    hi = shares_available + 0.0
    for _ in range(iterations):
        mid = ops.floor((lo + hi + 1.0) / 2.0)
        ok = ok_at(mid)
        lo = ops.where(ok, mid, lo)
        hi = ops.where(ok, hi, mid - 1.0)
    return lo


def crossover(
    h: Household,
    p: Params,
    strike: Any,
    fmv: Any,
    shares_available: Any,
    amt_budget: Any = 0.0,
    ops: Any = SCALAR,
    ca: CaParams | None = None,
) -> dict[str, Any]:
    """Exact crossover for one household (ops=SCALAR) or many (ops=VECTOR, arrays everywhere).

    `h` is the household-year before this exercise (its own iso_spread, if any, counts as already
    exercised). Returns the share counts and, at each, the spread, TMT and AMT:
      shares             largest N with AMT(N) <= amt_budget
      shares_keep_credit largest N that leaves this year's minimum tax credit fully usable,
                         i.e. TMT(N) <= regular tax - credit allowed at N = 0
      rule_shares        the rule of thumb: floor((regular - TMT + budget) / 28% / spread),
                         28% being the top AMT rate of the year's law
    With `ca` (California's law for a resident) also `california`: the joint answer (federal
    plus California AMT within the budget), California's own answer, and the California AMT at
    the federal answer; `best` and `next` stay the federal system's own.
    """
    per_share = ops.maximum(fmv - strike, 0.0)
    f1040 = form_1040(h, p, ops)
    f6251 = form_6251(h, f1040, p, ops)
    regular = f1040["regular_tax"]
    tmt0 = f6251["tmt"]
    if ops is SCALAR:
        iterations = max(1, math.ceil(math.log2(shares_available + 1.0))) + 1
    else:
        iterations = max(1, math.ceil(math.log2(float(np.max(shares_available)) + 1.0))) + 1

    def tmt_within(cap: Any) -> Any:
        return lambda n: _tmt_at(n, per_share, f1040, f6251, p, ops) <= cap + _TOLERANCE

    n = _largest(tmt_within(regular + amt_budget), shares_available, ops, iterations)
    credit0 = ops.minimum(
        ops.maximum(h.amt_credit_carryforward, 0.0), ops.maximum(regular - tmt0, 0.0)
    )
    n_keep = _largest(tmt_within(regular - credit0), shares_available, ops, iterations)
    gap = regular - tmt0
    # The rule of thumb divides by the AMT's top rate (28%), whatever band the exercise is in.
    rule_room = ops.maximum(gap + amt_budget, 0.0) / p.amt_rates[-1]
    safe_per_share = ops.where(per_share > 0.0, per_share, 1.0)
    rule_shares = ops.where(
        per_share > 0.0,
        ops.minimum(ops.floor(rule_room / safe_per_share + 1e-9), shares_available),
        shares_available,
    )

    def at(shares: Any) -> dict[str, Any]:
        tmt = _tmt_at(shares, per_share, f1040, f6251, p, ops)
        return {
            "shares": shares,
            "spread": shares * per_share,
            "tmt": tmt,
            "amt": ops.maximum(tmt - regular, 0.0),
        }

    next_shares = ops.minimum(n + 1.0, shares_available)
    out = {
        "regular_tax": regular,
        "tmt_before": tmt0,
        "amt_before": f6251["amt"],
        "credit_before": credit0,
        "gap": gap,
        "spread_per_share": per_share,
        "best": at(n),
        "next": at(next_shares),
        "all_exercisable": n >= shares_available,
        "all": at(shares_available),
        "keep_credit": at(n_keep),
        "rule_of_thumb": at(rule_shares),
    }
    if ca is not None:
        out["california"] = _california(
            h, f1040, f6251, ca, per_share, shares_available, amt_budget, at, n, ops, iterations
        )
    return out


def _california(
    h: Household,
    f1040: dict[str, Any],
    f6251: dict[str, Any],
    ca: CaParams,
    per_share: Any,
    shares_available: Any,
    amt_budget: Any,
    federal_at: Any,
    federal_n: Any,
    ops: Any,
    iterations: int,
) -> dict[str, Any]:
    """The crossover with California's AMT beside the federal one (see `crossover`)."""
    income = form_540_income(h, f1040["agi"], ca, ops)
    line31 = ca_tax_on(income["line19"], ca, ops)
    before = schedule_p(h, income, f6251["line2k"], line31, ca, ops)["amti_before_addback"]

    def ca_amt(n: Any) -> Any:
        return ops.maximum(schedule_p_tmt(before + n * per_share, ca, ops)[2] - line31, 0.0)

    def both(n: Any) -> dict[str, Any]:
        federal, state = federal_at(n), ca_amt(n)
        return {**federal, "ca_amt": state, "total_amt": federal["amt"] + state}

    joint = _largest(
        lambda n: both(n)["total_amt"] <= amt_budget + _TOLERANCE, shares_available, ops, iterations
    )
    alone = _largest(
        lambda n: ca_amt(n) <= amt_budget + _TOLERANCE, shares_available, ops, iterations
    )
    return {
        "regular_tax": line31,
        "amt_before": ca_amt(0.0),
        "best": both(joint),
        "next": both(ops.minimum(joint + 1.0, shares_available)),
        "all_exercisable": joint >= shares_available,
        "ca_only_shares": alone,
        "ca_amt_at_federal": ca_amt(federal_n),
    }
