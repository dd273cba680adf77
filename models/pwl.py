"""Piecewise-linear functions inside a PuLP model, with interval bounds on every expression.

The multi-year plan's taxes are compositions of one-dimensional piecewise-linear (PWL) functions of
linear expressions (AGI, taxable income, AMTI, ...) plus minima and maxima of two amounts. `Lin`
carries a linear expression with a proven lower and upper bound; `Builder` adds each function as a
one-sided bound (a cost from above, a relief from below) that is exact at the optimum, with binaries
only at the kinks where the one-sided bound would be loose. The breakpoints are not typed in: they
are found by probing `f` itself (the engine's own scalar tax functions), and every segment is
verified against `f`, so the model cannot drift from the forms. Tight bounds keep the formulation
small: most kinks of a tax schedule lie outside the range a given year can reach.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
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
    """The value of `x` in the solved (or settled) model."""
    return _value(x.expr)


def _value(expr: Any) -> float:
    return float(expr) if isinstance(expr, int | float) else float(pulp.value(expr) or 0.0)


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


# Kinks of functions named by a key (`Builder.above`), found once per process over +-_SPAN
# (where _PROBE still resolves slopes; a wider range is searched directly).
_SPAN = 1e8
_KINKS: dict[Hashable, list[float]] = {}


def _kinks(f: Callable[[float], float], lo: float, hi: float, key: Hashable | None) -> list[float]:
    """`breakpoints(f, lo, hi)`; for a keyed function inside +-_SPAN, the kinks found once over
    the whole span and kept (a tax schedule's kinks are where its law puts them, whatever the
    range a household reaches)."""
    if key is None or lo < -_SPAN or hi > _SPAN:
        return breakpoints(f, lo, hi)
    if key not in _KINKS:
        _KINKS[key] = breakpoints(f, -_SPAN, _SPAN)
    return [k for k in _KINKS[key] if lo + 1e-6 < k < hi - 1e-6]


def _refine(f: Callable[[float], float], x: float, lo: float, hi: float) -> float:
    """The kink near a probe exactly: where the lines of the pieces on either side meet.

    The window is symmetric around the probe and stays inside [lo, hi] (a window reaching past the
    range end, or a slope measured across the kink, misplaces even the kink of max(v, 0)); the
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


def _fit(
    f: Callable[[float], float], lo: float, hi: float, kinks: list[float]
) -> tuple[list[float], list[float], tuple[float, float] | None]:
    """The edges of f's pieces on [lo, hi] at `kinks`, f's values there, and the first piece on
    which f is not linear (checked at four inner points), if any."""
    edges = [lo]
    for k in kinks:
        # The same kink found twice differs by rounding: one edge, not a sliver of a segment
        # whose binary the solver could not tell from 0 (that breaks the order).
        if k - edges[-1] > _MERGE:
            edges.append(k)
    edges.append(hi)
    values = [f(e) for e in edges]
    for j in range(len(edges) - 1):
        a, b = edges[j], edges[j + 1]
        for t in (0.1, 0.37, 0.5, 0.81):
            interp = values[j] + (values[j + 1] - values[j]) * t
            if abs(f(a + t * (b - a)) - interp) > 1e-5 * max(1.0, abs(interp)):
                return edges, values, (a, b)
    return edges, values, None


@dataclass(frozen=True)
class _Segments:
    """A PWL function on [edges[0], edges[-1]]: its values at the edges and its slopes between."""

    edges: list[float]
    values: list[float]
    slopes: list[float]


class Builder:
    """Adds variables and one-sided PWL constraints to one PuLP problem under deterministic names.

    Every amount of the tax model is either a cost (the objective wants it small: a tax, an
    income that raises a tax) or a relief (wanted large: a deduction, a credit carried). A cost
    y = f(x) needs only y >= f(x) where f bends upward (convex kinks: one constraint per piece,
    no binary), and an exact formulation only at its concave kinks; a relief mirrors this. The
    optimum then lies on f, and `settle` puts every auxiliary variable exactly on its function
    after a solve (or for a plan given from outside), so the model's reported figures are the
    functions' values, not a loose bound that an indifferent solver left slack.
    """

    def __init__(
        self, prob: pulp.LpProblem, bounds: dict[str, tuple[float, float]] | None = None
    ) -> None:
        self.prob = prob
        self.binaries = 0
        self._settlers: list[Callable[[], None]] = []
        # Tighter bounds than interval arithmetic gives, proven elsewhere (by optimization over
        # the relaxation), for the inputs of functions with an exact part; and those inputs.
        self.bounds = bounds or {}
        self.inputs: dict[str, Lin] = {}

    def var(self, name: str, lo: float, hi: float) -> pulp.LpVariable:
        return pulp.LpVariable(name, lowBound=lo, upBound=hi, cat=pulp.LpContinuous)

    def binary(self, name: str) -> pulp.LpVariable:
        self.binaries += 1
        return pulp.LpVariable(name, cat=pulp.LpBinary)

    def integer(self, name: str, lo: float, hi: float) -> pulp.LpVariable:
        return pulp.LpVariable(name, lowBound=lo, upBound=hi, cat=pulp.LpInteger)

    def on_settle(self, settle: Callable[[], None]) -> None:
        """`settle` runs in build order with the others: register it after the settlers of the
        amounts it reads and before those of the amounts that read its variables."""
        self._settlers.append(settle)

    def settle(self) -> None:
        """Every auxiliary variable at the value its function takes at its inputs' values, in
        build order (inputs before the amounts computed from them)."""
        for settle in self._settlers:
            settle()

    # -- one-dimensional functions ---------------------------------------------------------------

    def above(
        self, name: str, x: Lin, f: Callable[[float], float], key: Hashable | None = None
    ) -> Lin:
        """A cost y = f(x): y >= f(x), exact wherever f is concave (binaries there only).

        `key`, if given, names f completely (the same key, the same function): its kinks are
        searched for once per process over a wide span, not in every model (searching is costly
        next to the rest of a build). For a law's schedules, whose kinks sit where the law puts
        them; a piece that turns out not linear in a model's range (kinks that cancel out over the
        span) is searched again in that range."""
        return self._one_sided(name, x, f, 1.0, key)

    def below(
        self, name: str, x: Lin, f: Callable[[float], float], key: Hashable | None = None
    ) -> Lin:
        """A relief y = f(x): y <= f(x), exact wherever f is convex (binaries there only);
        `key` as in `above`."""
        return self._one_sided(name, x, f, -1.0, key)

    def exact(
        self, name: str, x: Lin, f: Callable[[float], float], key: Hashable | None = None
    ) -> Lin:
        """y = f(x) exactly, a binary at every kink inside x's range: for an amount that is
        neither a cost nor a relief (wanted large in one plan and small in another), so no
        one-sided bound is exact at the optimum. `key` as in `above`."""
        x = self.narrowed(name, x)
        if x.hi - x.lo <= 1e-9:
            return Lin.const(f(x.lo))
        s = self._segments(name, x, f, key)
        kinks = list(range(1, len(s.slopes)))
        if kinks:
            self.watch(name, x)
        v, settle = self._exact_part(name, x, s, kinks)
        self._settlers.append(settle)
        return Lin(v, min(s.values), max(s.values))

    def watch(self, name: str, x: Lin) -> None:
        """Asks `planner.solve.tighten` for tighter bounds on `x`, the input of `name`'s exact
        part (its binaries or integers), which a rebuild then reads (`narrowed`)."""
        self.inputs[name] = Lin(pulp.LpAffineExpression(x.expr), x.lo, x.hi)

    def narrowed(self, name: str, x: Lin) -> Lin:
        """`x` within the bounds proven for the input of `name`, if any (`bounds`)."""
        if name not in self.bounds:
            return x
        lo, hi = self.bounds[name]
        return Lin(x.expr, max(x.lo, min(lo, x.hi)), min(x.hi, max(hi, x.lo)))

    def _segments(
        self, name: str, x: Lin, f: Callable[[float], float], key: Hashable | None
    ) -> _Segments:
        lo, hi = x.lo, x.hi
        edges, values, bent = _fit(f, lo, hi, _kinks(f, lo, hi, key))
        if bent is not None and key is not None:  # the kinks kept for `key` miss one here
            edges, values, bent = _fit(f, lo, hi, breakpoints(f, lo, hi))
        if bent is not None:
            raise RuntimeError(f"pwl {name}: f is not linear on [{bent[0]}, {bent[1]}]")
        # Slopes of flat pieces come out as float noise (1e-19); noise in the constraint matrix
        # misleads the solvers, so it is zeroed.
        slopes = [
            _clean((values[j + 1] - values[j]) / (edges[j + 1] - edges[j]))
            for j in range(len(edges) - 1)
        ]
        return _Segments(edges, values, slopes)

    def _one_sided(
        self, name: str, x: Lin, f: Callable[[float], float], sign: float, key: Hashable | None
    ) -> Lin:
        """f = v + c with c the sum of the kinks the one-sided bound keeps by itself (slope
        rising for a cost, falling for a relief) and v the rest. v is modelled exactly with the
        incremental ("delta") formulation, one binary per kink of v:

            x = lo + sum_i d_i,  0 <= d_i <= len_i,  d_i >= len_i z_i,  d_{i+1} <= len_{i+1} z_i
            v(x) = f(lo) + sum_i slope_i d_i

        and c by one line per piece: sign * (y - v(x) - c_m(x)) >= 0."""
        x = self.narrowed(name, x)
        lo, hi = x.lo, x.hi
        if hi - lo <= 1e-9:
            return Lin.const(f(lo))
        s = self._segments(name, x, f, key)
        kinks = range(1, len(s.slopes))
        loose = [j for j in kinks if sign * (s.slopes[j] - s.slopes[j - 1]) >= 0]
        exact = [j for j in kinks if j not in loose]
        if exact:  # as an expression: a lone variable too (an amount the forms computed)
            self.watch(name, x)
        v, settle_v = self._exact_part(name, x, s, exact)
        bounds = (min(s.values), max(s.values))
        if not loose:
            self._settlers.append(settle_v)
            return Lin(v, *bounds)
        # c's pieces: c(lo) = 0, slope rising (or falling) by the kink's change at each kink.
        lines: list[tuple[float, float, float]] = [(lo, 0.0, 0.0)]  # (from, c there, slope)
        for j in loose:
            start, c0, slope = lines[-1]
            edge = s.edges[j]
            lines.append((edge, c0 + slope * (edge - start), slope + s.slopes[j] - s.slopes[j - 1]))
        y = self.var(name, *bounds)
        for m, (start, c0, slope) in enumerate(lines):
            piece = v + c0 + _clean(slope) * (x.expr - start)
            if sign > 0:
                self.prob += y >= piece, f"{name}__piece{m}"
            else:
                self.prob += y <= piece, f"{name}__piece{m}"

        def settle() -> None:
            settle_v()
            at = _clip(_value(x.expr), lo, hi)
            base = _value(v)
            pieces = [base + c0 + _clean(slope) * (at - start) for start, c0, slope in lines]
            y.varValue = max(pieces) if sign > 0 else min(pieces)

        self._settlers.append(settle)
        return Lin(y, *bounds)

    def _exact_part(
        self, name: str, x: Lin, s: _Segments, kinks: list[int]
    ) -> tuple[Any, Callable[[], None]]:
        """v(x) of `_one_sided` as an expression, and how to settle its variables."""
        lo, hi = x.lo, x.hi
        if not kinks:
            return s.values[0] + s.slopes[0] * (x.expr - lo), lambda: None
        edges = [lo, *(s.edges[j] for j in kinks), hi]
        slopes = [s.slopes[0]]
        for j in kinks:
            slopes.append(_clean(slopes[-1] + s.slopes[j] - s.slopes[j - 1]))
        deltas = [
            self.var(f"{name}__seg{i}", 0.0, edges[i + 1] - edges[i]) for i in range(len(slopes))
        ]
        self.prob += x.expr == lo + pulp.lpSum(deltas), f"{name}__sum"
        full = []
        for i in range(len(deltas) - 1):
            z = self.binary(f"{name}__full{i}")
            self.prob += deltas[i] >= deltas[i].upBound * z, f"{name}__fill{i}"
            self.prob += deltas[i + 1] <= deltas[i + 1].upBound * z, f"{name}__order{i}"
            if full:  # implied when lengths are not tiny; explicit is sturdier
                self.prob += z <= full[-1], f"{name}__chain{i}"
            full.append(z)

        def settle() -> None:
            at = _clip(_value(x.expr), lo, hi)
            for i, d in enumerate(deltas):
                d.varValue = _clip(at - edges[i], 0.0, d.upBound)
            for i, z in enumerate(full):
                z.varValue = 1.0 if at >= edges[i + 1] else 0.0

        v = linear(zip(slopes, deltas, strict=True), s.values[0])
        return v, settle

    # -- minima and maxima of two or more amounts --------------------------------------------

    def below_either(self, name: str, w: Any, a: Lin, b: Lin) -> Lin:
        """A relief y = a where the binary w is 1, b where it is 0:  y <= a + (b.hi - a.lo)(1 - w),
        y <= b + (a.hi - b.lo) w."""
        lo, hi = min(a.lo, b.lo), max(a.hi, b.hi)
        y = self.var(name, lo, hi)
        self.prob += y <= a.expr + max(b.hi - a.lo, 0.0) * (1 - w), f"{name}__le_a"
        self.prob += y <= b.expr + max(a.hi - b.lo, 0.0) * w, f"{name}__le_b"
        self._settlers.append(
            lambda: setattr(y, "varValue", _value(a.expr if w.varValue > 0.5 else b.expr))
        )
        return Lin(y, lo, hi)

    def above_max(self, name: str, terms: list[Lin]) -> Lin:
        """A cost y = max(terms): y >= each (convex, no binary)."""
        lo, hi = max(t.lo for t in terms), max(t.hi for t in terms)
        live: list[Lin] = []  # a term never above another's floor never binds
        for t in sorted(terms, key=lambda t: -t.lo):
            if not live or t.hi > live[0].lo:
                live.append(t)
        if len(live) == 1:
            return live[0]
        y = self.var(name, lo, hi)
        for i, t in enumerate(live):
            self.prob += y >= t.expr, f"{name}__ge{i}"
        self._settlers.append(lambda: setattr(y, "varValue", max(_value(t.expr) for t in live)))
        return Lin(y, lo, hi)

    def below_min(self, name: str, a: Lin, b: Lin) -> Lin:
        """A relief y = min(a, b): y <= each (concave, no binary)."""
        known = _never_above(a, b)
        if known is not None:
            return known
        lo, hi = min(a.lo, b.lo), min(a.hi, b.hi)
        y = self.var(name, lo, hi)
        self.prob += y <= a.expr, f"{name}__le_a"
        self.prob += y <= b.expr, f"{name}__le_b"
        self._settlers.append(lambda: setattr(y, "varValue", min(_value(a.expr), _value(b.expr))))
        return Lin(y, lo, hi)

    def above_min(self, name: str, a: Lin, b: Lin, excess: float = math.inf) -> Lin:
        """A cost y = min(a, b): not convex, so one binary w (1: b is the smaller) when the bounds
        let either be the smaller:  y >= a - M w,  y >= b - (b.hi - lo)(1 - w), with M = a.hi - lo
        or `excess`, a bound on a - b known from elsewhere (a <= b + excess), if smaller: a small M
        keeps the relaxation close to a."""
        known = _never_above(a, b)
        if known is not None:
            return known
        lo, hi = min(a.lo, b.lo), min(a.hi, b.hi)
        y = self.var(name, lo, hi)
        w = self.binary(f"{name}__pick_b")
        self.prob += y >= a.expr - min(a.hi - lo, excess) * w, f"{name}__ge_a"
        self.prob += y >= b.expr - (b.hi - lo) * (1 - w), f"{name}__ge_b"

        def settle() -> None:
            va, vb = _value(a.expr), _value(b.expr)
            y.varValue, w.varValue = min(va, vb), 1.0 if vb < va else 0.0

        self._settlers.append(settle)
        return Lin(y, lo, hi)


def _never_above(a: Lin, b: Lin) -> Lin | None:
    """The one of a and b that its bounds keep at or below the other, if either: min(a, b) then
    needs no variable."""
    if a.hi <= b.lo:
        return a
    if b.hi <= a.lo:
        return b
    return None


def linear(terms: Any, constant: float = 0.0) -> pulp.LpAffineExpression:
    """sum(coefficient * variable) + constant from (coefficient, variable) pairs, each variable
    once, zero coefficients left out: built in one step, without the expression PuLP makes for
    every product and partial sum."""
    return pulp.LpAffineExpression([(v, c) for c, v in terms if c], constant=float(constant))


def _clip(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)
