"""Entry points of the exact tax engine: one household (`tax_one`) or many rows (`tax_many`).

Both choose the deduction the same way: an explicit itemize flag is obeyed; where it is missing the
engine computes the return both ways and keeps the lower total tax, as tax software does. On a tie
(to the cent) it keeps the return that generates the larger minimum tax credit (Form 8801), then
the one with the lower regular tax (which uses up less of a credit carried in). Such ties are
common: when the AMT applies either way and the itemized deductions are taxes (which the AMT adds
back, as it adds back the standard deduction), the total tax is the tentative minimum tax both
ways, and itemizing's lower regular tax is more AMT now that comes back as credit later. Only a
full tie keeps the standard deduction.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np

from models.forms import SCALAR, VECTOR, Household, household_tax
from models.forms_ca import california
from models.law import CaParams, Params


def with_state(
    federal: dict[str, Any], h: Household, ca: CaParams | None, ops: Any
) -> dict[str, Any]:
    """A federal result with California's return beside it (`ca` is California's law, or None
    for no state): the `ca_*` results, `federal_total_tax`, and `total_tax` of both. California
    starts from federal AGI, which the federal deduction does not change, so the federal choice
    of deduction is made on the federal return alone."""
    out = dict(federal)
    out["federal_total_tax"] = federal["total_tax"]
    if ca is not None:
        state = california(h, federal["agi"], federal["line2k"], ca, ops)
        out.update(state)
        out["total_tax"] = federal["total_tax"] + state["ca_total_tax"]
    return out


def tax_one(
    h: Household, p: Params, itemize: bool | None = None, ca: CaParams | None = None
) -> dict[str, Any]:
    """The exact tax of one household-year (floats in, floats out): federal, and California's
    when `ca` (its law for the year and status) is given."""
    if itemize is not None:
        federal = household_tax(replace(h, itemize=1.0 if itemize else 0.0), p, SCALAR)
    else:
        standard = household_tax(replace(h, itemize=0.0), p, SCALAR)
        itemized = household_tax(replace(h, itemize=1.0), p, SCALAR)
        federal = itemized if bool(itemizing_wins(itemized, standard)) else standard
    return with_state(federal, h, ca, SCALAR)


_CENT = 0.005  # amounts within half a cent of each other tie


def itemizing_wins(itemized: dict[str, Any], standard: dict[str, Any]) -> Any:
    """Whether the itemized return is the better one (floats or arrays of `household_tax`
    results): the lower total tax; on a tie the larger minimum tax credit generated; then the
    lower regular tax; on a full tie, not (the standard deduction)."""

    def order(key: str, sign: float) -> tuple[Any, Any]:
        d = sign * (np.asarray(itemized[key], np.float64) - np.asarray(standard[key], np.float64))
        return d < -_CENT, np.abs(d) <= _CENT  # itemized better, tie

    better, tie = order("total_tax", 1.0)
    more_credit, same_credit = order("mtc_generated", -1.0)
    lower_regular, _ = order("regular_tax", 1.0)
    return better | (tie & (more_credit | (same_credit & lower_regular)))


def _take(obj: Any, index: np.ndarray) -> Any:
    """The dataclass with every array field (also inside tuple fields) subset to `index`."""
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, tuple):
            out[f.name] = tuple(b[index] if isinstance(b, np.ndarray) else b for b in v)
        elif isinstance(v, np.ndarray):
            out[f.name] = v[index]
        else:
            out[f.name] = v
    return type(obj)(**out)


def _column(v: Any, n: int, flag: bool) -> np.ndarray:
    """A result as a writable column of `n` rows (a figure that is one number for every row,
    such as an input left at its default, repeated)."""
    return np.array(np.broadcast_to(np.asarray(v, dtype=bool if flag else np.float64), (n,)))


def tax_many(
    h: Household,
    p: Params,
    itemize: np.ndarray,
    ca: CaParams | None = None,
    resident: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The exact tax of many household-years at once.

    `h` and `p` hold arrays of one length; `itemize` is 1.0 / 0.0, or NaN where the engine should
    choose. With `ca` (California's law gathered for every row) and `resident` (True for the
    rows of California residents), those rows get California's return and the others zeros.
    Returns one array per result of `with_state`.
    """
    choose = np.isnan(itemize)
    first = household_tax(replace(h, itemize=np.where(choose, 0.0, itemize)), p, VECTOR)
    n = len(itemize)
    out = {k: _column(v, n, k == "itemized") for k, v in first.items()}
    if choose.any():
        rows = np.flatnonzero(choose)
        sub_h = _take(replace(h, itemize=np.ones(n)), rows)
        alt = household_tax(sub_h, _take(p, rows), VECTOR)
        first_rows = {k: v[rows] for k, v in out.items()}
        better = itemizing_wins(alt, first_rows)
        picked = rows[better]
        for k, v in alt.items():
            out[k][picked] = _column(v, len(rows), k == "itemized")[better]
    out["federal_total_tax"] = out["total_tax"].copy()
    if ca is not None and resident is not None and resident.any():
        rows = np.flatnonzero(resident)
        state = california(
            _take(h, rows), out["agi"][rows], out["line2k"][rows], _take(ca, rows), VECTOR
        )
        for k, v in state.items():
            column = np.zeros(len(itemize), dtype=bool if k == "ca_itemized" else np.float64)
            column[rows] = np.asarray(v)
            out[k] = column
        out["total_tax"] = out["total_tax"] + out["ca_total_tax"]
    return out
