"""Exact piecewise-linear functions inside a PuLP model, with interval bounds on every expression.

The multi-year plan's taxes are compositions of one-dimensional piecewise-linear (PWL) functions of
linear expressions (AGI, taxable income, AMTI, ...) plus minima of two expressions. `Lin` carries a
linear expression with a proven lower and upper bound; `Builder.pwl` turns `f(x)` into an exact
equality using the incremental ("delta") formulation:

    x = lo + sum_j d_j,   0 <= d_j <= len_j,   d_j >= len_j z_j,   d_{j+1} <= len_{j+1} z_j
    f(x) = f(lo) + sum_j slope_j d_j

with one binary z_j per breakpoint strictly inside [lo, hi] and none where f is linear on the whole
range. The breakpoints are not typed in: they are found by probing `f` itself (the engine's own
scalar tax functions), and every segment is verified against `f`, so the model cannot drift from the
forms. Tight bounds keep the formulation small: most kinks of a tax schedule lie outside the range a
given year can reach.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulp

Number = float


@dataclass(frozen=True)
class Lin:
    """A linear expression with bounds lo <= expr <= hi that hold in every feasible solution."""

    expr: Any
    lo: float
    hi: float

    @staticmethod
    def const(v: float) -> Lin:
        return Lin(v, v, v)

    def __add__(self, other: Lin | float) -> Lin:
        o = other if isinstance(other, Lin) else Lin.const(float(other))
        return Lin(self.expr + o.expr, self.lo + o.lo, self.hi + o.hi)

    __radd__ = __add__

    def __neg__(self) -> Lin:
        return Lin(-1 * self.expr, -self.hi, -self.lo)

    def __sub__(self, other: Lin | float) -> Lin:
        o = other if isinstance(other, Lin) else Lin.const(float(other))
        return self + (-o)

    def __rsub__(self, other: float) -> Lin:
        return Lin.const(float(other)) - self

    def __mul__(self, k: float) -> Lin:
        k = float(k)
        lo, hi = self.lo * k, self.hi * k
        return Lin(self.expr * k, min(lo, hi), max(lo, hi))

    __rmul__ = __mul__


def _clean(slope: float) -> float:
    """A slope rounded to 12 decimals: tax slopes are rates, and smaller digits are float noise."""
    return round(slope, 12)


def value_of(x: Lin) -> float:
    """The value of `x` in the solved model."""
    v = pulp.value(x.expr) if not isinstance(x.expr, int | float) else x.expr
    return float(v or 0.0)


# ----------------------------------------------------------------------------------------------
# Breakpoints of a piecewise-linear function, found by probing it
# ----------------------------------------------------------------------------------------------


_PROBE = 0.5  # dollars: wide enough that float noise at $10M magnitudes stays below _SLOPE_TOL
_SLOPE_TOL = 1e-6
_MERGE = 1e-3  # dollars: kinks of several functions this close are one edge
_WINDOW = 8.0  # dollars around a probe searched for the exact kink; kinks closer than this merge


def _slope(f: Callable[[float], float], a: float, b: float) -> float:
    return (f(b) - f(a)) / (b - a)


def breakpoints(f: Callable[[float], float], lo: float, hi: float) -> list[float]:
    """The kinks of a continuous PWL `f` strictly inside (lo, hi).

    An interval is linear when the slope at its left end, at its right end and its chord agree.
    Otherwise the lines through its two ends, with their end slopes, meet at the kink if there is
    exactly one (exact up to rounding); the interval is split there, or at its midpoint, and both
    halves are searched. Probes that turn out not to be kinks (equal slopes on both sides) are
    dropped.
    """
    found: list[float] = []
    _search(f, lo, hi, found, depth=0)
    kinks: list[float] = []
    for probe in sorted(found):
        x = _refine(f, probe, lo, hi)
        if not lo + 1e-6 < x < hi - 1e-6:
            continue
        left = _slope(f, max(lo, x - _WINDOW), x)
        right = _slope(f, x, min(hi, x + _WINDOW))
        if abs(left - right) > _SLOPE_TOL and (not kinks or x - kinks[-1] > _WINDOW):
            kinks.append(x)
    return kinks


def _refine(f: Callable[[float], float], x: float, lo: float, hi: float) -> float:
    """The kink near a probe exactly: where the lines of the pieces on either side meet.

    The window is symmetric around the probe and stays inside [lo, hi] (a window reaching past the
    range end, or a slope measured across the kink, once put a kink of max(v, 0) at -0.045); the
    slopes are measured on its outer quarters, and the estimate is refined once more from itself.
    """
    for _ in range(2):
        w = min(_WINDOW, x - lo, hi - x)
        if w <= 0:
            return x
        a, b, q = x - w, x + w, w / 4.0
        s_left = _slope(f, a, a + q)
        s_right = _slope(f, b - q, b)
        if abs(s_left - s_right) <= _SLOPE_TOL:
            return x
        exact = (f(b) - f(a) + s_left * a - s_right * b) / (s_left - s_right)
        if not a < exact < b:
            return x
        x = exact
    return x


def _search(
    f: Callable[[float], float], lo: float, hi: float, found: list[float], depth: int
) -> None:
    width = hi - lo
    if width <= 4 * _PROBE:
        return
    s_lo = _slope(f, lo, lo + _PROBE)
    s_hi = _slope(f, hi - _PROBE, hi)
    chord = _slope(f, lo, hi)
    if abs(s_lo - s_hi) <= _SLOPE_TOL and abs(s_lo - chord) <= _SLOPE_TOL:
        return
    if depth > 200:
        raise RuntimeError(f"pwl: cannot resolve the kinks of a function on [{lo}, {hi}]")
    split = lo + width / 2.0
    if abs(s_lo - s_hi) > _SLOPE_TOL:
        x = (f(hi) - f(lo) + s_lo * lo - s_hi * hi) / (s_lo - s_hi)
        if lo + 2 * _PROBE < x < hi - 2 * _PROBE:
            split = x
    found.append(split)
    _search(f, lo, split, found, depth + 1)
    _search(f, split, hi, found, depth + 1)


# ----------------------------------------------------------------------------------------------
# The builder
# ----------------------------------------------------------------------------------------------


class Builder:
    """Adds variables and exact PWL constraints to one PuLP problem under deterministic names."""

    def __init__(self, prob: pulp.LpProblem) -> None:
        self.prob = prob
        self.binaries = 0

    def var(self, name: str, lo: float, hi: float, integer: bool = False) -> pulp.LpVariable:
        cat = pulp.LpInteger if integer else pulp.LpContinuous
        return pulp.LpVariable(name, lowBound=lo, upBound=hi, cat=cat)

    def binary(self, name: str) -> pulp.LpVariable:
        self.binaries += 1
        return pulp.LpVariable(name, cat=pulp.LpBinary)

    def pwl(self, name: str, x: Lin, f: Callable[[float], float]) -> Lin:
        """y = f(x) exactly, for a continuous PWL f, with y's bounds."""
        return self.pwl_many(name, x, {"": f})[""]

    def pwl_many(
        self, name: str, x: Lin, fs: dict[str, Callable[[float], float]]
    ) -> dict[str, Lin]:
        """Several PWL functions of the same x sharing one set of segments (one binary per kink of
        any of them)."""
        lo, hi = x.lo, x.hi
        if hi - lo <= 1e-9:
            return {k: Lin.const(f(lo)) for k, f in fs.items()}
        kinks: list[float] = []
        for k in sorted(k for f in fs.values() for k in breakpoints(f, lo, hi)):
            # The same kink found in two functions differs by rounding: one edge, not a sliver
            # of a segment whose binary the solver could not tell from 0 (that breaks the order).
            if not kinks or k - kinks[-1] > _MERGE:
                kinks.append(k)
        edges = [lo, *kinks, hi]
        out: dict[str, Lin] = {}
        if not kinks:
            for key, f in fs.items():
                slope = _clean((f(hi) - f(lo)) / (hi - lo))
                y = f(lo) + slope * (x.expr - lo)
                out[key] = Lin(y, min(f(lo), f(hi)), max(f(lo), f(hi)))
            return out
        deltas = []
        for j in range(len(edges) - 1):
            length = edges[j + 1] - edges[j]
            deltas.append((self.var(f"{name}__seg{j}", 0.0, length), length))
        self.prob += x.expr == lo + pulp.lpSum(d for d, _ in deltas), f"{name}__sum"
        previous = None
        for j in range(len(deltas) - 1):
            z = self.binary(f"{name}__full{j}")
            (d, length), (d_next, length_next) = deltas[j], deltas[j + 1]
            self.prob += d >= length * z, f"{name}__fill{j}"
            self.prob += d_next <= length_next * z, f"{name}__order{j}"
            if previous is not None:  # implied when lengths are not tiny; explicit is sturdier
                self.prob += z <= previous, f"{name}__chain{j}"
            previous = z
        for key, f in fs.items():
            values = [f(e) for e in edges]
            self._verify(name, f, edges, values)
            # Slopes of flat pieces come out as float noise (1e-19); noise in the constraint
            # matrix misleads the solvers, so it is zeroed.
            slopes = [
                _clean((values[j + 1] - values[j]) / (edges[j + 1] - edges[j]))
                for j in range(len(deltas))
            ]
            y = values[0] + pulp.lpSum(s * d for s, (d, _) in zip(slopes, deltas, strict=True))
            out[key] = Lin(y, min(values), max(values))
        return out

    @staticmethod
    def _verify(
        name: str, f: Callable[[float], float], edges: list[float], values: list[float]
    ) -> None:
        for j in range(len(edges) - 1):
            a, b = edges[j], edges[j + 1]
            for t in (0.1, 0.37, 0.5, 0.81):
                x = a + t * (b - a)
                interp = values[j] + (values[j + 1] - values[j]) * t
                if abs(f(x) - interp) > 1e-5 * max(1.0, abs(interp)):
                    raise RuntimeError(f"pwl {name}: f is not linear on [{a}, {b}]")

    def min2(self, name: str, a: Lin, b: Lin) -> Lin:
        """min(a, b) exactly; a binary only when the bounds let either be the smaller."""
        if a.hi <= b.lo:
            return a
        if b.hi <= a.lo:
            return b
        m = self.var(name, min(a.lo, b.lo), min(a.hi, b.hi))
        w = self.binary(f"{name}__pick_b")
        self.prob += m <= a.expr, f"{name}__le_a"
        self.prob += m <= b.expr, f"{name}__le_b"
        self.prob += m >= a.expr - (a.hi - b.lo) * w, f"{name}__ge_a"
        self.prob += m >= b.expr - (b.hi - a.lo) * (1 - w), f"{name}__ge_b"
        return Lin(m, min(a.lo, b.lo), min(a.hi, b.hi))

    def max0(self, name: str, x: Lin) -> Lin:
        """max(0, x) exactly."""
        return self.pwl(name, x, lambda v: max(v, 0.0))
