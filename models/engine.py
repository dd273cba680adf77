"""Entry points of the exact tax engine: one household (`tax_one`) or many rows (`tax_many`).

Both choose the deduction the same way: an explicit itemize flag is obeyed; where it is missing the
engine computes the return both ways and keeps the lower total
tax (the standard deduction on a tie), as tax software does.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np

from models.forms import SCALAR, VECTOR, Household, household_tax
from models.law import Params


def tax_one(h: Household, p: Params, itemize: bool | None = None) -> dict[str, Any]:
    """The exact federal tax of one household-year (floats in, floats out)."""
    if itemize is not None:
        return household_tax(replace(h, itemize=1.0 if itemize else 0.0), p, SCALAR)
    standard = household_tax(replace(h, itemize=0.0), p, SCALAR)
    itemized = household_tax(replace(h, itemize=1.0), p, SCALAR)
    return itemized if itemized["total_tax"] < standard["total_tax"] else standard


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


def tax_many(h: Household, p: Params, itemize: np.ndarray) -> dict[str, np.ndarray]:
    """The exact federal tax of many household-years at once.

    `h` and `p` hold arrays of one length; `itemize` is 1.0 / 0.0, or NaN where the engine should
    choose. Returns one array per result of `household_tax`.
    """
    choose = np.isnan(itemize)
    first = household_tax(replace(h, itemize=np.where(choose, 0.0, itemize)), p, VECTOR)
    out = {
        k: np.asarray(v, dtype=np.float64 if k != "itemized" else bool) for k, v in first.items()
    }
    if choose.any():
        rows = np.flatnonzero(choose)
        sub_h = _take(replace(h, itemize=np.ones(len(itemize))), rows)
        alt = household_tax(sub_h, _take(p, rows), VECTOR)
        better = alt["total_tax"] < out["total_tax"][rows]
        picked = rows[better]
        for k, v in alt.items():
            out[k][picked] = np.asarray(v)[better]
    return out
