"""The exercise ladder as a mixed-integer program: build and read here; `planner.solve` solves.

Decisions (integer, in multiples of `scenario.share_step`):
  exercise__<option>__y<year>       shares of an option class exercised in a year
  sell__<lot>__<window>             shares of a lot sold in a sale window
Every lot a plan can create is `<option>@<year>` (identical shares exercised together are one
lot), so the sale variables are per (lot, window), not per share.

Constraint families (each named `<family>__<key>`):
  vesting    sum_{y' <= y} exercise[c, y'] <= exercisable[c][y]       (vested, not expired)
  hold       sum_w sell[l, w] <= shares of l (exercised, or held at the start)
  tender     sum_l sell[l, w] <= max_shares[w]
  cash       cash[y] = cash[y-1] x (1 + cash_return) + savings[y] + proceeds[y]
                       - exercise cost[y] - extra tax[y-1]  >= cash_floor
  required   (objective min_tax) sum_y exercise[c, y] >= required shares

Taxes. Every year's forms are functions of the year's totals (ordinary income, gains, line 2i
and 2k amounts), built from `models.forms` itself (`models.pwl` probes them for their kinks),
one function per form as there (`_f1040`, `_deductions`, `_f6251`, `_f8801`, ...); `_year_tax`
passes the lines from one to the next. Each amount is either a cost (a tax, or an income that
raises one: the objective wants it small) or a relief (a deduction, a gain taxed at 15/20%
instead of ordinary rates, the room in the 15% band, credit carried: wanted large). A cost is
bounded from above only, y >= f(x), and a relief from below only, so a convex cost or a concave
relief needs no binary; binaries appear only where the function bends the other way inside the
range the year can reach. The model is exact at the optimum because raising a cost above its
function, or a relief below, never helps the objective or the cash; `settle` puts every amount
on its function after a solve, and the exact re-evaluation (`models.exact`) must then agree
to the dollar.

The identities that keep it so (T the income tax after credits, reg the regular tax, TMT the
tentative minimum tax, TMTx that of the exclusion items alone, cf the credit carried in):
    T = reg + AMT - credit allowed = max(reg - cf, TMT)                       (Forms 6251, 8801)
    cf_out = cf + T - max(reg, min(TMT, TMTx))                                 (Form 8801)
    NIIT = 3.8% max(0, NII + min(0, z)),  z = wages + other ordinary income - threshold (8960)
so T and the credit floor are maxima of costs (convex), and min(TMT, TMTx) takes a binary only in
a year where deferral items can lower the TMT (an AMT basis above the regular one).

Binaries that remain, each where its range crosses the kink: the end of the AMT exemption
phase-out (28% -> 35%/42% -> 28%: not convex; also on the exclusion items' AMTI), the room
max(0, cg15 - O) in the 15% band and max(0, cg0 - O) in the 0% band (convex reliefs), min(TMT,
TMTx) above, min(0, z) of the NIIT, the Social Security wage base (a concave cost), a net capital
loss against the gains (a convex relief), Schedule A's SALT phase-down floor; in a year whose
income can be low, the floor of taxable income at 0 against the gains (line 10), the QDCG
worksheet's line 24 where it can be the smaller, the Tax Table's limit and its narrower rows.
Bounds on every expression come from the decisions' bounds, and `planner.solve.tighten` narrows
those of the functions with binaries by LP.

Regular tax under the QDCG worksheet, with O its line 5 (the ordinary taxable income) and G its
line 10 (the qualified dividends and net capital gain taxed, at most the taxable income):
    tax = min(T(O) + 20% G - 5% min(G, max(0, cg15 - O)) - 15% min(G, max(0, cg0 - O)),  T(O + G))
where T is the tax on ordinary income: the Tax Table below its limit (a step function, exact with
two integers: the row and its rounded tax; `_tax_on_ordinary`), the rate schedule above. The
second term (the worksheet's line 24, all ordinary) is left out where it is never the smaller.
Form 6251 Part III likewise, with the same O:
    TMT = S(E - g) + 20% g - 5% min(g, max(0, cg15 - O)) - 15% min(g, max(0, cg0 - O)),
    g = min(E, gains for AMT)
with S the 26/28% schedule and E the taxable excess (AMTI less the phased-out exemption, after
the MFS add-back). The rates shown are those of the law data (`capital_gains.rates`).

Objective "wealth" (maximized): final cash after the last year's tax, plus the terminal value of
held shares and unexercised options (per share `models.scenario.terminal_share_value` and
`terminal_option_value`, as in the exact evaluation), plus `credit_value` per dollar of minimum
tax credit left beyond what the household would have had anyway, and `terminal_loss_value` per
dollar of regular capital loss carried out of the last year beyond the same.
Objective "min_tax" (minimized): present value of the extra tax, with required exercises.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import astuple, dataclass, field, replace
from typing import Any

import pulp

from models.engine import tax_one
from models.forms import (
    SCALAR,
    Household,
    amt_deduction_lines,
    amt_rate_schedule,
    capital_gain_line7,
    deductions,
    employee_fica,
    form_1040,
    form_8959,
    rate_schedule,
    tax_on_ordinary,
    tax_table_midpoint,
    tentative_minimum_tax,
)
from models.forms_ca import (
    ca_tax_on,
    ca_tax_table_midpoint,
    credits_after_steps,
    exemption_credits,
    form_540_income,
    schedule_p_tmt,
)
from models.law import CaParams, Params, Payroll, YearLaw, ca_params_for, params_for, payroll_for
from models.pwl import Builder, Lin, breakpoints, linear, value_of
from models.scenario import (
    EFFECT_FIELDS,
    LOSS_CARRYOVER_FIELDS,
    Chance,
    Lot,
    OptionClass,
    Plan,
    SaleWindow,
    Scenario,
    TaxYear,
    base_household,
    ca_credit_value,
    exercise_chances,
    exercise_effect,
    exercise_lot,
    loss_carryovers_in,
    loss_carryovers_out,
    sale_effect,
    same_day_effect,
    terminal_loss_value,
    terminal_option_value,
    terminal_share_value,
)


@dataclass
class LadderModel:
    """A built (and after `solve`, solved) exercise-ladder MILP."""

    scenario: Scenario
    prob: pulp.LpProblem
    builder: Builder
    exercise: dict[tuple[str, int], tuple[Any, int]] = field(default_factory=dict)
    sell: dict[tuple[str, str], tuple[Any, int]] = field(default_factory=dict)
    same_day: dict[tuple[str, str], tuple[Any, int]] = field(default_factory=dict)
    lots: dict[str, Lot] = field(default_factory=dict)
    # Each year's deduction: the file's or a dominant side's (a bool), or the plan's (a binary).
    itemize: dict[int, Any] = field(default_factory=dict)
    years: dict[int, dict[str, Lin]] = field(default_factory=dict)
    cash: dict[int, Lin] = field(default_factory=dict)
    objective: Lin | None = None
    base: dict[int, dict[str, float]] = field(default_factory=dict)
    params: dict[int, Params] = field(default_factory=dict)
    build_seconds: float = 0.0
    # Starts every variable and constraint name; "" for a model alone in its problem.
    prefix: str = ""
    # False when built into a caller's problem (`models.stochastic`), whose objective the
    # caller composes from `objective`.
    sets_objective: bool = True
    # With `build(..., probes=True)`: per year, a column fixed at 0 in the final LP that adds a
    # dollar of cash at the year's end ("cash") or of credit carried into it ("credit"); its
    # reduced cost is what that dollar is worth (`planner.solve.marginal_values`).
    probes: dict[tuple[str, int], pulp.LpVariable] = field(default_factory=dict)

    @property
    def decisions(self) -> list[pulp.LpVariable]:
        """The share variables (exercises and sales), in multiples of the share step."""
        tables = (self.exercise, self.sell, self.same_day)
        return [var for table in tables for var, _ in table.values()]

    @property
    def size(self) -> dict[str, int]:
        variables = self.prob.variables()
        return {
            "variables": len(variables),
            "integers": sum(1 for v in variables if v.cat == pulp.LpInteger and not _is_binary(v)),
            "binaries": sum(1 for v in variables if _is_binary(v)),
            "constraints": len(self.prob.constraints),
        }


def _is_binary(v: pulp.LpVariable) -> bool:
    return v.cat == pulp.LpInteger and v.lowBound == 0 and v.upBound == 1


def _shares(var_and_step: tuple[Any, int]) -> Any:
    var, step = var_and_step
    return step * var


# ----------------------------------------------------------------------------------------------
# Build
# ----------------------------------------------------------------------------------------------


def build(
    scenario: Scenario,
    laws: dict[int, YearLaw],
    bounds: dict[str, tuple[float, float]] | None = None,
    *,
    prob: pulp.LpProblem | None = None,
    prefix: str = "",
    probes: bool = False,
) -> LadderModel:
    """The MILP of a scenario.

    With `prob`, the model is added to that problem (several scenarios in one program, as in
    `models.stochastic`): every name starts with `prefix` (so do the keys of `bounds`), and the
    problem's objective is left to the caller, who reads each model's `objective`.

    With `probes`, each year gets two more columns, `probe__cash__y<year>` (a dollar more cash
    at the year's end) and `probe__credit__y<year>` (a dollar more minimum tax credit carried
    into the year), each between 0 and 1 so that the forms they feed are built over a range
    (a range of zero width would be folded into a constant); the final LP fixes them at 0."""
    started = time.perf_counter()
    sense = pulp.LpMaximize if scenario.objective == "wealth" else pulp.LpMinimize
    own = prob is None
    prob = pulp.LpProblem("isoplan_ladder", sense) if prob is None else prob
    m = LadderModel(
        scenario=scenario,
        prob=prob,
        builder=Builder(prob, bounds),
        prefix=prefix,
        sets_objective=own,
    )
    step = max(1, int(scenario.share_step))
    years = {ty.year: ty for ty in scenario.years}

    law = {
        ty.year: (
            params_for(laws[ty.year], scenario.filing_status),
            payroll_for(laws[ty.year]),
            _ca_params(laws[ty.year], ty, scenario.filing_status),
        )
        for ty in scenario.years
    }
    m.params = {y: law[y][0] for y in law}
    # Base (no actions): taxes and credit chains per year.
    credit, losses = scenario.amt_credit_carryforward, loss_carryovers_in(scenario)
    ca_credit = scenario.ca_amt_credit_carryforward
    for ty in scenario.years:
        p, payroll, ca = law[ty.year]
        h = replace(base_household(ty, credit, losses), ca_amt_credit_carryforward=ca_credit)
        r = tax_one(h, p, ty.itemize, ca)
        fica = employee_fica(ty.wages, payroll, SCALAR)
        credit, losses = r["mtc_carryforward_out"], loss_carryovers_out(r)
        ca_credit = r["ca_credit_carryforward_out"] if ca is not None else ca_credit
        m.base[ty.year] = {
            "total_tax": r["total_tax"],
            "fica": fica,
            "credit_out": credit,
            "ca_credit_out": ca_credit,
            "loss_out": losses["st_loss_carryover"] + losses["lt_loss_carryover"],
        }

    _decisions(m, scenario, years, step)
    fields = _year_fields(m, scenario)
    cf = Lin.const(scenario.amt_credit_carryforward)
    ca_cf = Lin.const(scenario.ca_amt_credit_carryforward)
    carried = {k: Lin.const(v) for k, v in loss_carryovers_in(scenario).items()}
    for ty in scenario.years:
        tag = f"{prefix}y{ty.year}"
        if probes:
            cf = cf + _probe(m, "credit", ty.year)
        f = _with_losses(fields[ty.year], carried)
        tax = _year_tax(m.builder, tag, f, ty, law[ty.year], cf, ca_cf)
        m.itemize[ty.year] = tax.pop("itemize")
        base = m.base[ty.year]
        tax["extra_tax"] = tax["total_tax"] + tax["fica"] - (base["total_tax"] + base["fica"])
        m.years[ty.year] = tax
        cf = tax["mtc_carryforward_out"]
        ca_cf = tax["ca_credit_carryforward_out"]
        carried = {k: tax[f"{k}_out"] for k in LOSS_CARRYOVER_FIELDS}
    _cash(m, scenario, probes)
    _objective(m, scenario)
    m.build_seconds = time.perf_counter() - started
    return m


def _decisions(m: LadderModel, scenario: Scenario, years: dict[int, TaxYear], step: int) -> None:
    prob = m.prob
    windows = {w.id: w for w in scenario.windows}
    for option in scenario.options:
        taken: list[Any] = []
        for c in exercise_chances(scenario, option):
            if c.exercisable <= 0:
                continue
            if c.window_id is None:
                var = pulp.LpVariable(
                    f"{m.prefix}exercise__{option.id}__y{c.year}",
                    0,
                    math.floor(c.exercisable / step),
                    cat=pulp.LpInteger,
                )
                m.exercise[(option.id, c.year)] = (var, step)
                lot = exercise_lot(option, years[c.year], 1.0)
                m.lots[lot.id] = lot
                name = f"{m.prefix}vesting__{option.id}__y{c.year}"
            else:
                w = windows[c.window_id]
                # Sold at or below the strike, an exercise never pays.
                if w.price <= option.strike or _no_more_than_exercise_and_sale(option, w, c, years):
                    continue
                var = pulp.LpVariable(
                    f"{m.prefix}same_day__{option.id}__{c.window_id}",
                    0,
                    math.floor(c.exercisable / step),
                    cat=pulp.LpInteger,
                )
                m.same_day[(option.id, c.window_id)] = (var, step)
                name = f"{m.prefix}vesting__{option.id}__{c.window_id}"
            taken.append(step * var)
            prob += pulp.lpSum(taken) <= c.exercisable, name
    for lot in scenario.lots:
        m.lots[lot.id] = lot
    for lot_id, lot in m.lots.items():
        available = _lot_shares(m, lot_id)
        ub = math.floor(available.hi / step)
        sold = []
        for w in scenario.windows:
            if w.date < lot.exercise_date or w.year < lot.exercise_year:
                continue
            var = pulp.LpVariable(f"{m.prefix}sell__{lot_id}__{w.id}", 0, ub, cat=pulp.LpInteger)
            m.sell[(lot_id, w.id)] = (var, step)
            sold.append(step * var)
        if sold:
            prob += pulp.lpSum(sold) <= available.expr, f"{m.prefix}hold__{lot_id}"
    for w in scenario.windows:
        if w.max_shares is None:
            continue
        sold = [_shares(v) for (_, wid), v in (*m.sell.items(), *m.same_day.items()) if wid == w.id]
        if sold:
            prob += pulp.lpSum(sold) <= w.max_shares, f"{m.prefix}tender__{w.id}"
    for key, shares in scenario.required_exercise.items():
        # The key is an option class id (a grant's ISO part keeps the grant's id), as in the
        # scenario format and the exact evaluation.
        chosen = [
            _shares(v) for (oid, _), v in (*m.exercise.items(), *m.same_day.items()) if oid == key
        ]
        prob += pulp.lpSum(chosen) >= shares, f"{m.prefix}required__{key}"


def _no_more_than_exercise_and_sale(
    option: OptionClass, w: SaleWindow, c: Chance, years: dict[int, TaxYear]
) -> bool:
    """True when exercising on a window's date and selling the same day is exactly what
    exercising on its year's exercise date (not later than the window) and selling in the window
    does: the window's price is that FMV, the treatment is the same on both days, and no more
    options are exercisable at the window. Then the same-day variable would only be a second
    name for plans the model has (a symmetry that costs branching), so it is left out."""
    ty = years[w.year]
    return (
        ty.exercise_date <= w.date
        and w.price == ty.fmv
        and option.treatment(ty.exercise_date) == option.treatment(w.date)
        and 0.0 < c.exercisable <= option.exercisable.get(w.year, 0.0)
    )


def _lot_shares(m: LadderModel, lot_id: str) -> Lin:
    """Shares a lot holds: a constant for a lot held at the start, the exercise (at most its
    variable's bound) for a lot the plan creates."""
    for lot in m.scenario.lots:
        if lot.id == lot_id:
            return Lin.const(lot.shares)
    option_id, year = lot_id.rsplit("@", 1)
    var, step = m.exercise[(option_id, int(year))]
    return Lin(step * var, 0.0, step * var.upBound)


# Sums of Household fields that the forms take, bounded as their own fields.
SUMS = {
    "net_gain": ("ltcg", "stcg"),
    "amt_ltcg": ("ltcg", "amt_ltcg_adjustment"),
    "amt_stcg": ("stcg", "amt_stcg_adjustment"),
    "amt_net_gain": ("ltcg", "amt_ltcg_adjustment", "stcg", "amt_stcg_adjustment"),
}


# The long-term gains of a year's sales without their losses (each sale's gain per share has one
# sign), a linear upper bound on the net capital gain max(0, ltcg + min(0, stcg)): the net gain's
# binary alone lets the relaxation count gains across a range that runs from every loss at once
# to every gain at once, which a year of small losses and gains (a flat price) falls inside.
GAINS = {"ltcg": "ltcg_gains", "amt_ltcg": "amt_ltcg_gains"}
# The losses of a year's sales without their gains, carried losses in (`_with_losses`): a linear
# upper bound on the loss a term's net can show, max(0, -stcg) <= stcg_losses. Without it the
# relaxation carries losses that no sale made into later years, at the terminal value a dollar,
# its bound millions of dollars from the optimum where the losses' binaries are fractional.
LOSSES = {k: f"{k}_losses" for k in ("stcg", "ltcg", "amt_stcg", "amt_ltcg")}


def _year_fields(m: LadderModel, scenario: Scenario) -> dict[int, dict[str, Lin]]:
    """Each year's Household amounts that actions move, as bounded linear expressions.

    Bounds are per grant, not per variable: a share is exercised once and sold once, so in any
    year a grant moves a field by at most (its shares) x (the largest per-share coefficient among
    its exercises) plus the same for its sales. Summing each variable's own maximum instead would
    count the same shares once per lot and window, and widen every range a tax function spans.
    The sums the forms take of several fields (`SUMS`: gains with their AMT adjustments) are
    bounded the same way, per share, not as sums of the fields' bounds: a sale's AMT adjustment
    never exceeds its gain, and bounding them apart would let the AMT gain reach a loss that no
    sale can make.
    """
    options = {o.id: o for o in scenario.options}
    years = {ty.year: ty for ty in scenario.years}
    windows = {w.id: w for w in scenario.windows}
    grant_shares: dict[str, float] = {}
    for o in scenario.options:
        grant_shares[o.grant_id] = grant_shares.get(o.grant_id, 0.0) + max(
            o.exercisable.values(), default=0.0
        )
    for lot in scenario.lots:
        grant_shares[lot.grant_id] = grant_shares.get(lot.grant_id, 0.0) + lot.shares
    # terms[year][field] -> list of (coefficient per unit, variable); per-share coefficients by
    # (year, field), then (grant, role), for the bounds.
    terms: dict[int, dict[str, list[tuple[float, Any]]]] = {
        ty.year: {k: [] for k in (*EFFECT_FIELDS, *SUMS)} for ty in scenario.years
    }
    coefs: dict[tuple[int, str], dict[tuple[str, str], list[float]]] = {}

    def add(
        year: int, grant: str, role: str, fields: dict[str, float], var: Any, step: int
    ) -> None:
        fields = dict(fields)
        for total, parts in SUMS.items():
            fields[total] = sum(fields.get(k, 0.0) for k in parts)
        for k, c in fields.items():
            terms[year][k].append((c * step, var))
            coefs.setdefault((year, k), {}).setdefault((grant, role), []).append(c)

    for (option_id, year), (var, step) in m.exercise.items():
        option = options[option_id]
        add(
            year,
            option.grant_id,
            "exercise",
            exercise_effect(option, years[year]).fields,
            var,
            step,
        )
    for (lot_id, window_id), (var, step) in m.sell.items():
        w, lot = windows[window_id], m.lots[lot_id]
        add(w.year, lot.grant_id, "sale", sale_effect(lot, w).fields, var, step)
    for (option_id, window_id), (var, step) in m.same_day.items():
        w, option = windows[window_id], options[option_id]
        add(w.year, option.grant_id, "same_day", same_day_effect(option, w).fields, var, step)
    out: dict[int, dict[str, Lin]] = {}
    for ty in scenario.years:
        fields = {}
        for k in (*EFFECT_FIELDS, *SUMS):
            base = sum(float(getattr(ty, part, 0.0) or 0.0) for part in SUMS.get(k, (k,)))
            lo = hi = base
            for (grant, _), cs in coefs.get((ty.year, k), {}).items():
                lo += min(0.0, min(cs)) * grant_shares[grant]
                hi += max(0.0, max(cs)) * grant_shares[grant]
            parts = terms[ty.year][k]
            expr = linear(parts, base) if parts else base
            fields[k] = Lin(expr, lo, hi)
            if k in GAINS:  # the gains alone, without the losses: see GAINS
                up = [(c, v) for c, v in parts if c > 0]
                top = max(base, 0.0) + sum(c * v.upBound for c, v in up)
                fields[GAINS[k]] = Lin(linear(up, max(base, 0.0)), 0, top)
            if k in LOSSES:  # the losses alone, without the gains: see LOSSES
                down = [(-c, v) for c, v in parts if c < 0]
                top = max(-base, 0.0) + sum(c * v.upBound for c, v in down)
                fields[LOSSES[k]] = Lin(linear(down, max(-base, 0.0)), 0, top)
        out[ty.year] = fields
    return out


def _floor(x: Lin, lo: float) -> Lin:
    """`x` with a lower bound known from the mathematics (not from interval arithmetic)."""
    return Lin(x.expr, max(x.lo, lo), max(x.hi, lo))


def _at_most(b: Builder, name: str, y: Lin, cap: Lin) -> None:
    """y <= cap as a constraint, unless the bounds already say so."""
    if y.hi > cap.lo:
        b.prob += y.expr <= cap.expr, name


# ----------------------------------------------------------------------------------------------
# The forms of one year, each in its own function named after `models.forms`. `key` is `_key(p)`:
# it names the law's functions for `Builder.above`, which then finds their kinks once.
# ----------------------------------------------------------------------------------------------


def _year_tax(
    b: Builder,
    tag: str,
    f: dict[str, Lin],
    ty: TaxYear,
    law: tuple[Params, Payroll, CaParams | None],
    cf: Lin,
    ca_cf: Lin,
) -> dict[str, Lin]:
    """One year's forms, each taking the lines it needs from the forms before it, as the paper
    forms do (the module docstring gives the identities used). `cf` is the credit carried in,
    `ca_cf` California's; California's forms (`_ca540`) follow the federal ones in a year of
    California residence, and its credit passes through a year without."""
    p, payroll, ca = law
    key = _key(p)
    f1040 = _f1040(b, tag, f, ty, p, key)
    f6251 = _f6251(b, tag, f, ty, p, key, f1040)
    f8801 = _f8801(b, tag, f, p, key, f1040, f6251, cf)
    niit = _f8960(b, tag, f, ty, p, f1040)
    addl = _f8959(b, tag, f, p, key)
    fica = _fica(b, tag, f, payroll)
    income_tax = f8801["income_tax"]
    state = {"ca_total_tax": Lin.const(0.0), "ca_credit_carryforward_out": ca_cf}
    if ca is not None:
        line2k = f6251["amt_line7"] - f1040["line7"] + f["amt_ordinary_adjustment"]
        state = _ca540(b, f"{tag}__ca", f, ty, ca, f1040["agi"], line2k, ca_cf)
    # The Capital Loss Carryover Worksheet: line 1 is taxable income before its floor for the
    # regular tax, AMTI (Form 6251 line 4, after the MFS add-back) for the AMT.
    st, lt = _loss_carryover(b, f"{tag}__cl", f1040["line1_raw"], f, "", p)
    amt_st, amt_lt = _loss_carryover(
        b, f"{tag}__amt_cl", _line4(b, f"{tag}__amt_line4", f6251["amti"], p, key), f, "amt_", p
    )
    return {
        "agi": f1040["agi"], "taxable_income": f1040["line15"],
        "regular_tax": f1040["regular_tax"], "amti": f6251["amti"], "tmt": f6251["tmt"],
        "income_tax": income_tax, "niit": niit, "additional_medicare_tax": addl,
        "mtc_carryforward_in": cf, "mtc_carryforward_out": f8801["carryforward_out"],
        "total_tax": income_tax + niit + addl + state["ca_total_tax"], "fica": fica,
        "ca_total_tax": state["ca_total_tax"],
        "ca_credit_carryforward_out": state["ca_credit_carryforward_out"],
        "st_loss_carryover_out": st, "lt_loss_carryover_out": lt,
        "amt_st_loss_carryover_out": amt_st, "amt_lt_loss_carryover_out": amt_lt,
        "itemize": f1040["itemize"],
    }  # fmt: skip


def _with_losses(f: dict[str, Lin], carried: dict[str, Lin]) -> dict[str, Lin]:
    """The year's fields with the capital losses carried in (Schedule D lines 6 and 14, and the
    AMT Schedule D's): the regular ones lower the short- and long-term gains, and the AMT's
    replace them in the AMT's gains (so the AMT adjustments carry their difference)."""
    st, lt = carried["st_loss_carryover"], carried["lt_loss_carryover"]
    amt_st, amt_lt = carried["amt_st_loss_carryover"], carried["amt_lt_loss_carryover"]
    if all(x.lo == x.hi == 0.0 for x in (st, lt, amt_st, amt_lt)):
        return f
    out = dict(f)
    out["stcg"], out["ltcg"] = f["stcg"] - st, f["ltcg"] - lt
    out["amt_stcg_adjustment"] = f["amt_stcg_adjustment"] + st - amt_st
    out["amt_ltcg_adjustment"] = f["amt_ltcg_adjustment"] + lt - amt_lt
    out["net_gain"] = f["net_gain"] - st - lt
    out["amt_stcg"], out["amt_ltcg"] = f["amt_stcg"] - amt_st, f["amt_ltcg"] - amt_lt
    out["amt_net_gain"] = f["amt_net_gain"] - amt_st - amt_lt
    for k, carried_in in (("stcg", st), ("ltcg", lt), ("amt_stcg", amt_st), ("amt_ltcg", amt_lt)):
        out[LOSSES[k]] = f[LOSSES[k]] + carried_in
    return out


def _loss_carryover(
    b: Builder, tag: str, line1: Lin, f: dict[str, Lin], kind: str, p: Params
) -> tuple[Lin, Lin]:
    """The short- and long-term capital losses carried out (`models.forms.capital_loss_carryover`,
    lines 8 and 13) from line 1 and the net short- and long-term gain or loss (Schedule D lines 7
    and 15, carried losses in: the fields `<kind>stcg` and `<kind>ltcg`, kind "" or "amt_").
    Each max(0, .) and min is modelled exactly (`Builder.exact`, a binary where its range crosses
    the kink), as the lines are: which of the two losses is worth more depends on the years
    after. Each net loss (lines 5 and 9) is at most the losses alone (`LOSSES`). Line 1 may be
    bounded from above only (a tax's cost, or a deduction's relief, left slack): more of it only
    uses more of the loss, which never helps. No loss, nothing carried: a year whose gains cannot
    net to a loss builds nothing."""
    st, lt = f[f"{kind}stcg"], f[f"{kind}ltcg"]
    if (st + lt).lo >= 0.0:
        return Lin.const(0.0), Lin.const(0.0)
    limit = p.loss_limit
    line2 = b.exact(f"{tag}__line2", st + lt, lambda v: min(limit, max(-v, 0.0)), ("cl2", limit))
    line3 = b.exact(f"{tag}__line3", line1 + line2, _plus, "plus")
    # min(line2, line3), max(0, lt) and max(0, st) are never negative, which interval arithmetic
    # on their linear forms cannot see: without the floors each year's carryover would be
    # bounded by twice the last's, and the ranges (and binaries) would double year after year.
    line4 = _floor(line2 - b.exact(f"{tag}__line4", line2 - line3, _plus, "plus"), 0.0)
    line5 = b.exact(f"{tag}__line5", st, _negative_part, "negative_part")
    line9 = b.exact(f"{tag}__line9", lt, _negative_part, "negative_part")
    _at_most(b, f"{tag}__line5__losses", line5, f[LOSSES[f"{kind}stcg"]])
    _at_most(b, f"{tag}__line9__losses", line9, f[LOSSES[f"{kind}ltcg"]])
    line6 = _floor(lt + line9, 0.0)  # max(0, lt)
    line8 = b.exact(f"{tag}__line8", line5 - (line4 + line6), _plus, "plus")
    line10 = _floor(st + line5, 0.0)  # max(0, st)
    line11 = b.exact(f"{tag}__line11", line4 - line5, _plus, "plus")
    line13 = b.exact(f"{tag}__line13", line9 - (line10 + line11), _plus, "plus")
    return _floor(line8, 0.0), _floor(line13, 0.0)


def _negative_part(v: float) -> float:
    return max(-v, 0.0)


def _f1040(
    b: Builder, tag: str, f: dict[str, Lin], ty: TaxYear, p: Params, key: tuple[Any, ...]
) -> dict[str, Lin]:
    """Form 1040 lines 7-16 (`models.forms.form_1040`), the deduction from `_deductions` (or the
    standard one, fixed), the regular tax from `_qdcg_worksheet`.

      line7          line 7: the capital gain, or the loss up to the limit (`_line7`)
      stcg_loss, ncg QDCG worksheet line 3, the net capital gain (`_net_capital_gain`)
    Lines passed on: agi (line 11), earned (lines 1z, 2b and 8: the income that is neither a
    dividend nor a gain), line7, gains (QDCG line 4), line15 (taxable income, positive here),
    amt_deductions (Schedule A's, for Form 6251), band15 and regular_tax (QDCG)."""
    line7 = _line7(b, f"{tag}__line7", f["net_gain"], p, key)
    ncg = _net_capital_gain(b, tag, f, "")
    earned = f["wages"] + f["ordinary_income"] + ty.interest
    agi = earned + ty.qualified_dividends + line7
    line14, amt_deductions, itemize = _deduction(b, tag, ty, p, agi)
    # line 7 less net capital gain is at least -$3,000 (-$1,500 MFS) whatever the gains.
    other_gain = _floor(line7 - ncg, -p.loss_limit)
    line4 = ncg + ty.qualified_dividends
    # Line 15 less the gains (QDCG line 4) before line 15's floor at 0: negative where the
    # deduction exceeds the ordinary income.
    ordinary = earned + other_gain - line14
    qdcg = _qdcg_worksheet(b, tag, ordinary, line4, p, key)
    return {
        "agi": agi, "earned": earned, "line7": line7, "gains": line4, "line15": qdcg["line1"],
        "line1_raw": agi - line14, "itemize": itemize,
        "amt_deductions": amt_deductions, "band0": qdcg["band0"], "band15": qdcg["band15"],
        "regular_tax": qdcg["line25"],
    }  # fmt: skip


def _deduction(
    b: Builder, tag: str, ty: TaxYear, p: Params, agi: Lin
) -> tuple[Lin, Lin, bool | Any]:
    """Form 1040 line 14 and what the AMT keeps of it (`_deductions`), with the year's deduction:
    the file's, or where it leaves the choice (`ty.itemize` None) the plan's, made with the year's
    actions (§63(e): the taxpayer elects to itemize). A larger line 14 and a larger AMT
    deduction never cost a plan anything (the taxes fall; the credit carried out falls by no more
    than the tax), so where one side gives both at every AGI in range the choice is that side's
    (`_dominant`); otherwise both are built and a binary picks one (`itemize`, 1: itemized).
    Returns line 14, the AMT's deductions and the choice (a bool, or the binary)."""
    itemize = ty.itemize if ty.itemize is not None else _dominant(ty, p, agi)
    if itemize is not None:
        return (*_deductions(b, tag, _deducting(ty, itemize), p, agi), itemize)
    w = b.binary(f"{tag}__itemize")
    std_line14, std_amt = _deductions(b, f"{tag}__std", _deducting(ty, False), p, agi)
    item_line14, item_amt = _deductions(b, f"{tag}__item", _deducting(ty, True), p, agi)
    line14 = b.below_either(f"{tag}__line14", w, item_line14, std_line14)
    amt_deductions = b.below_either(f"{tag}__amt_deductions", w, item_amt, std_amt)
    return line14, amt_deductions, w


def _deducting(ty: TaxYear, itemize: bool) -> Household:
    """The year's own Household with the deduction `itemize` selects."""
    return replace(base_household(ty), itemize=1.0 if itemize else 0.0)


# `_dominant`'s answers by (household, law, AGI range): a plan builds its model twice (the second
# time with tightened bounds), and the answer takes a search for the kinks. Emptied when full, so
# a batch worker planning client after client does not keep every household-year it saw.
_DOMINANT: dict[tuple[Any, ...], bool | None] = {}
_DOMINANT_MOST = 4096


def _dominant(ty: TaxYear, p: Params, agi: Lin) -> bool | None:
    """True (False) when itemizing (the standard deduction) gives at least as large a line 14
    and as large an AMT deduction at every AGI in range, None when neither does. The differences
    are PWL in AGI: their least and largest values are at the range's ends and their kinks."""
    hs, hi = _deducting(ty, False), _deducting(ty, True)
    key = (astuple(hs), _key(p), agi.lo, agi.hi)
    if key not in _DOMINANT:
        if len(_DOMINANT) >= _DOMINANT_MOST:
            _DOMINANT.clear()
        _DOMINANT[key] = _dominant_side(hs, hi, p, agi)
    return _DOMINANT[key]


def _dominant_side(hs: Household, hi: Household, p: Params, agi: Lin) -> bool | None:
    """`_dominant`'s answer for the standard (`hs`) and itemizing (`hi`) households."""

    def line14(a: float) -> float:
        return _line14(hi, a, p) - _line14(hs, a, p)

    def amt(a: float) -> float:
        return _amt_kept(hi, a, p) - _amt_kept(hs, a, p)

    values = []
    for f in (line14, amt):
        kinks = breakpoints(f, agi.lo, agi.hi) if agi.hi > agi.lo else []
        values.append([f(x) for x in (agi.lo, agi.hi, *kinks)])
    if all(min(v) >= 0.0 for v in values):
        return True
    if all(max(v) <= 0.0 for v in values):
        return False
    return None


def _line14(h: Household, agi: float, p: Params) -> float:
    return float(deductions(h, agi, p, SCALAR)["line14"])


def _amt_kept(h: Household, agi: float, p: Params) -> float:
    """What the AMT keeps of line 14 (`models.forms.amt_deduction_lines`): line 1a less the
    line 2a taxes or standard deduction, before the section 68 reduction (line 2_68)."""
    lines = amt_deduction_lines(deductions(h, agi, p, SCALAR), SCALAR)
    return float(lines["line1a"] - lines["line2a"] - lines["line2_68"])


def _deductions(b: Builder, tag: str, h: Household, p: Params, agi: Lin) -> tuple[Lin, Lin]:
    """Form 1040 lines 12e-14 (`models.forms.deductions`) of the year's fixed deductions `h`, as
    functions of AGI alone:

      line14          line 14: Schedule A line 17 or the standard deduction, plus the deduction
                      for seniors (Schedule 1-A) and a non-itemizer's charity
      amt_deductions  what the AMT keeps of them (`_amt_kept`)
    Both are reliefs of any shape: they fall with AGI (SALT cap phase-down, section 68, the 0.5%
    floor on charity, the seniors' phase-out) but rise where the 60%-of-AGI limit on charity
    binds, so a binary sits at each kink where they bend upward (the SALT phase-down floor, the
    end of the seniors' phase-out among them) inside AGI's range. The standard deduction without
    a senior is fixed: two constants."""
    if not h.itemize and not h.seniors:
        fixed = form_1040(h, p, SCALAR)
        return Lin.const(fixed["line14"]), Lin.const(fixed["line14"] - fixed["standard"])
    return (
        b.below(f"{tag}__line14", agi, lambda a: _line14(h, a, p)),
        b.below(f"{tag}__amt_deductions", agi, lambda a: _amt_kept(h, a, p)),
    )


def _qdcg_worksheet(
    b: Builder, tag: str, ordinary: Lin, line4: Lin, p: Params, key: tuple[Any, ...]
) -> dict[str, Lin]:
    """The QDCG worksheet (`models.forms.qdcg_worksheet`) of `ordinary` (Form 1040 line 15 less
    line 4 before the floor at 0) and line 4 (qualified dividends and net capital gain). With
    line 10 = min(line 1, line 4) the gains taxed and line 5 the ordinary taxable income, the
    0% part (line 9) is min(line 10, band0) and the 0% and 15% parts together min(line 10,
    band15), so
        line23 = T(line 5) + 20% line 10 - 5% min(line 10, band15) - 15% min(line 10, band0)
    (the rates those of `capital_gains.rates`), and line 25 = min(line 23, line 24), line 24 the
    tax on all of line 1 as ordinary income (T is `_tax_on_ordinary`: the Tax Table below its
    limit). Line 24 is left out where it is never the smaller (`_line23_excess`): line 5 at
    least the 0% band, the Table limit and the top of every ordinary band taxed below 15%, or
    gains enough that taxing them as ordinary income always costs more.

      line1, line5  line 15 and line 5, max(0, ...): convex costs (no binary), built only where
                    `ordinary` can be negative
      line10        min(line 1, line 4) = max(0, line 4 + min(0, ordinary)): a convex cost of
                    line10_short = min(0, ordinary), a concave cost (one binary)
      line29        band15 = max(0, cg15 - line 5), the room in the 15% band: Form 6251 line 29
                    (hence the name), shared with Part III; a convex relief, a binary at cg15
      line21        band0 = max(0, cg0 - line 5), the room in the 0% band (Form 6251 line 21)
      ordinary_tax  line 22, T(line 5); line24: T(line 1)
      qdcg_at15, qdcg_at0  the minima with band15 and band0: reliefs (no binary)
      line25        min(line 23, line 24): a cost and a minimum, one binary; line 23 exceeds
                    line 24 by at most `_line23_excess`"""
    r0, r15, r20 = p.cg_rates
    if ordinary.lo >= 0.0:
        line1, line5, line10 = ordinary + line4, ordinary, line4
    else:
        line1 = _floor(b.above(f"{tag}__line1", ordinary + line4, _plus, "plus"), 0.0)
        line5 = _floor(b.above(f"{tag}__line5", ordinary, _plus, "plus"), 0.0)
        short = b.above(f"{tag}__line10_short", ordinary, _minus, "minus")
        line10 = _floor(b.above_max(f"{tag}__line10", [line4 + short, Lin.const(0.0)]), 0.0)
    band15 = b.below(f"{tag}__line29", line5, lambda o: max(p.cg15 - o, 0.0), ("line29", p.cg15))
    band0 = b.below(f"{tag}__line21", line5, lambda o: max(p.cg0 - o, 0.0), ("line21", p.cg0))
    line23 = (
        _tax_on_ordinary(b, f"{tag}__ordinary_tax", line5, _federal_table(p), key)
        + line10 * r20
        - b.below_min(f"{tag}__qdcg_at15", line10, band15) * (r20 - r15)
        - b.below_min(f"{tag}__qdcg_at0", line10, band0) * (r15 - r0)
    )
    excess = _line23_excess(p, key, line5, line10)
    if excess <= 0.0:
        line25 = line23
    else:
        line24 = _tax_on_ordinary(b, f"{tag}__line24", line1, _federal_table(p), key)
        line25 = b.above_min(f"{tag}__line25", line23, line24, excess)
    return {"line1": line1, "band0": band0, "band15": band15, "line25": _floor(line25, 0.0)}


# The Tax Table in the model. Its rows are probed from the engine (`models.forms`), once per law:
@dataclass(frozen=True)
class _Table:
    """A tax table and the rate schedule it replaces below its limit, as the engine computes
    them: Form 1040's (rows [start, end), the table below `limit`: `_federal_table`) or
    California's Form 540 (rows (start, end], the table at or below `limit`: `_ca_table`)."""

    limit: float
    ends_in_row: bool  # a row holds its upper end (California) rather than its lower (federal)
    midpoint: Callable[[float], float]  # the engine's midpoint of the row holding an income
    tax: Callable[[float], float]  # the engine's tax on an income (the table below the limit)
    schedule: Callable[[float], float]  # the rate schedule

    def in_table(self, x: float) -> bool:
        return x <= self.limit if self.ends_in_row else x < self.limit


def _federal_table(p: Params) -> _Table:
    return _Table(
        p.table_max,
        False,
        lambda x: float(tax_table_midpoint(x, p, SCALAR)),
        lambda x: float(tax_on_ordinary(x, p, SCALAR)),
        lambda x: _schedule(x, p),
    )


def _ca_table(ca: CaParams) -> _Table:
    return _Table(
        ca.table_max,
        True,
        lambda x: float(ca_tax_table_midpoint(x, ca, SCALAR)),
        lambda x: float(ca_tax_on(x, ca, SCALAR)),
        lambda x: float(rate_schedule(x, ca.rates, ca.edges, SCALAR)),
    )


# row r holds the incomes from edges[r] to edges[r + 1] (the one end or the other as the table
# says), and its tax is the rate schedule at the row's midpoint (`mids[r]`, `formula[r]`) rounded
# to whole dollars, half up (`taxes[r]`).
@dataclass(frozen=True)
class _Rows:
    table: _Table
    edges: list[float]
    mids: list[float]
    formula: list[float]
    taxes: list[float]
    error: float  # the most the Table's tax and the rate schedule differ at any income

    def of(self, x: float) -> int:
        """The row the engine puts `x` in (the table's midpoint); past the last row beyond the
        Table's limit."""
        return bisect.bisect_left(self.mids, self.table.midpoint(x))


_ROWS: dict[Hashable, _Rows] = {}
_ROW_UNIT = 20.0  # the row index's scale in the functions of it: kinks a row apart must be
# further apart than `models.pwl`'s probe window
_ROW_END = 0.005  # dollars: an income is in a row when at least half a cent inside its end
_HALF_UP = 1e-3  # the Table's tax is the least whole dollar >= formula - 0.5 + this (checked)
# ... and at most formula + 0.5 + _HALF_UP less this: below the next whole dollar by more than a
# solver's tolerance, and above the Table's own (formula - 0.5 + _HALF_UP is never within
# _HALF_UP below a whole dollar's reach: checked with the rounding).
_BELOW_NEXT = 5e-4


def _table_rows(table: _Table, key: tuple[Any, ...]) -> _Rows:
    """The rows of a tax table (named by `key`), from 0 to its limit."""
    rows = _ROWS.get(key)
    if rows is None:
        edges: list[float] = [0.0]
        mids: list[float] = []
        formula: list[float] = []
        taxes: list[float] = []
        inside = 0.01 if table.ends_in_row else 0.0  # a cent into the row after the edge
        while edges[-1] < table.limit:
            mid = table.midpoint(edges[-1] + inside)
            if not mid > edges[-1]:
                raise RuntimeError(f"Tax Table: no row starts at {edges[-1]}")
            edges.append(2.0 * mid - edges[-1])
            mids.append(mid)
            formula.append(table.schedule(mid))
            taxes.append(table.tax(mid))
            if math.ceil(formula[-1] - 0.5 + _HALF_UP) != taxes[-1]:
                raise RuntimeError(f"Tax Table row at {edges[-2]}: rounding not modelled")
        # The schedule rises across a row, so it differs most from the row's tax at an end.
        ends = [table.schedule(e) for e in edges]
        error = max(max(tax - ends[r], ends[r + 1] - tax) for r, tax in enumerate(taxes))
        rows = _ROWS[key] = _Rows(table, edges, mids, formula, taxes, float(error))
    return rows


def _line23_excess(p: Params, key: tuple[Any, ...], line5: Lin, line10: Lin) -> float:
    """The most QDCG line 23 can exceed line 24 with lines 5 and 10 in their ranges, from the
    law. Line 23 taxes the gains, stacked on line 5, at 0/15/20%, line 24 at the ordinary rates:
    with F(x) the first taxing of [0, x] less the second, line 23 - line 24 is F(line 5 + line
    10) - F(line 5), plus what the Tax Table's rounding adds (at most twice its largest
    difference from the rate schedule, where line 5 can be in the Table). F is PWL, so the most
    over the box is at a corner of the lines where a kink of F meets a side of the box."""
    r0, r15, r20 = p.cg_rates

    def f(x: float) -> float:
        gains = r0 * min(x, p.cg0) + r15 * max(min(x, p.cg15) - p.cg0, 0.0)
        return gains + r20 * max(x - p.cg15, 0.0) - _schedule(x, p)

    kinks = {0.0, p.cg0, p.cg15, *p.ord_edges}
    a_lo, a_hi, g_lo, g_hi = max(line5.lo, 0.0), line5.hi, max(line10.lo, 0.0), line10.hi
    corners = [(a, b) for a in {a_lo, a_hi, *kinks} for b in kinks]
    corners += [(a, a + g) for a in {a_lo, a_hi, *kinks} for g in (g_lo, g_hi)]
    corners += [(b - g, b) for b in kinks for g in (g_lo, g_hi)]
    most = max(
        (
            f(b) - f(a)
            for a, b in corners
            if a_lo - 1e-9 <= a <= a_hi + 1e-9 and g_lo - 1e-9 <= b - a <= g_hi + 1e-9
        ),
        default=0.0,
    )
    error = _table_rows(_federal_table(p), key).error
    return most + (2.0 * error if line5.lo < p.table_max else 0.0)


def _schedule(x: float, p: Params) -> float:
    """The rate schedule of ordinary income (`models.forms.rate_schedule`)."""
    return float(rate_schedule(x, p.ord_rates, p.ord_edges, SCALAR))


def _row_function(values: list[float]) -> Callable[[float], float]:
    """The PWL function through (`_ROW_UNIT` r, values[r]), extended by its end pieces."""
    last = len(values) - 1

    def f(q: float) -> float:
        r = min(max(math.floor(q / _ROW_UNIT), 0), last - 1)
        t = q / _ROW_UNIT - r
        return values[r] + (values[r + 1] - values[r]) * t

    return f


def _tax_on_ordinary(
    b: Builder, name: str, x: Lin, table: _Table, key: tuple[Any, ...], exact: bool = False
) -> Lin:
    """The tax on an amount of taxable income `x` >= 0 as the engine figures it
    (`models.forms.tax_on_ordinary`, Form 1040 line 16; `models.forms_ca.ca_tax_on`, Form 540
    line 31): the Tax Table below its limit, the rate schedule (a convex cost) above. The Table is
    a step function, exact with two integers:

      row      the row index r: x within the row's end (half a cent inside it), the end a convex
               function of r, bounded from above (a relief: binaries only where the row widths
               change, below $25 and at $3,000, when x can reach there)
      mid      the rate schedule at the row's midpoint, a convex cost of r
      tax      the Table's tax: an integer >= mid - 0.5 + 0.001 (half up; checked row by row)
    The cost grows with r, so the least row whose end lies beyond x is chosen: the row of x.
    Where x can reach both sides of the limit, one binary (`formula`: 1 beyond it) picks
    the Table or the schedule, and the tax is at least the schedule's less the most the two ever
    differ (`_Rows.error`, a few dollars) whichever it picks, which keeps the relaxation close to
    the schedule where a big-M on the Table's rows leaves it nothing. An income within half a
    cent of a row's end on the wrong side would be put in the next row (incomes in whole cents
    never are).

    With `exact`, the tax is also bounded from above, for a tax that is not only a cost (Form
    540 line 31 below the exemption credits, where more of it is less AMT): the row is held
    from below too (x past the row's start, a convex cost of r), the Table's tax below the next
    whole dollar (the midpoint's schedule as a relief of r), and the schedule beyond the limit
    exactly (binaries at its kinks in range)."""
    x = b.narrowed(name, x)
    limit = table.limit
    if not table.in_table(x.lo):
        if exact:
            return b.exact(name, x, table.schedule, ("ordinary_tax", key))
        return b.above(name, x, table.schedule, ("ordinary_tax", key))
    b.watch(name, x)
    rows = _table_rows(table, key)
    last = len(rows.taxes) - 1
    lo = min(rows.of(max(x.lo, 0.0)), last)
    hi = min(rows.of(x.hi), last)
    over = not table.in_table(x.hi)
    r = b.integer(f"{name}__row", lo, hi)
    u = b.binary(f"{name}__formula") if over else None
    # Federal rows end before their end (x + half a cent <= end); California's at it.
    inside = -_ROW_END if table.ends_in_row else _ROW_END

    def settle_row() -> None:
        row = rows.of(value_of(x))
        r.varValue = float(min(max(row, lo), hi))
        if u is not None:
            u.varValue = 0.0 if table.in_table(value_of(x)) else 1.0

    b.on_settle(settle_row)
    q = Lin(_ROW_UNIT * r, _ROW_UNIT * lo, _ROW_UNIT * hi)
    if lo < hi:
        end = b.below(f"{name}__end", q, _row_function(rows.edges[1:]), ("table_end", key))
        slack = (x.hi + inside - end.lo) * u if u is not None else 0.0
        b.prob += x.expr + inside <= end.expr + slack, f"{name}__in_row"
    mid = b.above(f"{name}__mid", q, _row_function(rows.formula), ("table_mid", key))
    tax = b.integer(f"{name}__tax", rows.taxes[lo], rows.taxes[hi])
    b.prob += tax >= mid.expr - 0.5 + _HALF_UP, f"{name}__half_up"
    if exact:
        if lo < hi:  # past the row's start: every start is below the limit, so also when u = 1
            # The first row holds 0 too (no tax), whichever end its rows hold.
            starts = [-1.0, *rows.edges[1:-1]]
            start = b.above(f"{name}__start", q, _row_function(starts), ("table_start", key))
            b.prob += x.expr + inside >= start.expr, f"{name}__past_start"
        up = b.below(f"{name}__mid_up", q, _row_function(rows.formula), ("table_mid", key))
        b.prob += tax <= up.expr + 0.5 + _HALF_UP - _BELOW_NEXT, f"{name}__below_next"
    if u is None:
        b.on_settle(lambda: setattr(tax, "varValue", rows.taxes[int(r.varValue)]))
        return Lin(tax, rows.taxes[lo], rows.taxes[hi])
    # Below the limit (federal: half a cent below; California: at it) u = 0, beyond it 1.
    reach = x.hi - limit + inside
    b.prob += x.expr <= limit - inside + reach * u, f"{name}__below"
    b.prob += x.expr >= limit - (limit - x.lo) * (1 - u), f"{name}__above"
    formula = b.above(f"{name}__schedule", x, table.schedule, ("ordinary_tax", key))
    least = min(rows.taxes[lo], formula.lo)
    y = b.var(name, least, max(rows.taxes[hi], formula.hi))
    b.prob += y >= tax - (rows.taxes[hi] - least) * u, f"{name}__table"
    # The Table's tax is at least the schedule's less `rows.error` (valid at u = 0 too): the
    # relaxation keeps the schedule's tax within that, whatever u.
    b.prob += y >= formula.expr - rows.error * (1 - u), f"{name}__rates"
    if exact:
        exact_formula = b.exact(f"{name}__schedule_exact", x, table.schedule, ("ordinary_tax", key))
        b.prob += y <= tax + (y.upBound - rows.taxes[lo]) * u, f"{name}__table_up"
        b.prob += (
            y <= exact_formula.expr + (y.upBound - exact_formula.lo) * (1 - u),
            (f"{name}__rates_up"),
        )

    def settle_tax() -> None:
        tax.varValue = rows.taxes[int(r.varValue)]
        y.varValue = value_of(formula) if u.varValue else tax.varValue

    b.on_settle(settle_tax)
    return Lin(y, least, y.upBound)


def _line7(b: Builder, name: str, net_gain: Lin, p: Params, key: tuple[Any, ...]) -> Lin:
    """Form 1040 line 7 of a net gain (Form 6251's refigured one too): the gain, or the loss up
    to the limit. A cost, and convex: no binary."""
    return b.above(name, net_gain, lambda v: capital_gain_line7(v, 0.0, p, SCALAR), ("line7", key))


def _net_capital_gain(b: Builder, tag: str, f: dict[str, Lin], kind: str) -> Lin:
    """QDCG worksheet line 3, max(0, ltcg + min(0, stcg)), of the regular gains (`kind` "") or
    of the AMT's ("amt_", Form 6251 line 13's): two reliefs, `<kind>stcg_loss` = min(0, stcg)
    (concave, no binary) and `<kind>ncg` (convex: a binary where a net loss can meet the
    gains), the latter also at most the gains alone (`<kind>ncg__gains`, see `GAINS`)."""
    st_loss = b.below(f"{tag}__{kind}stcg_loss", f[f"{kind}stcg"], _minus, "minus")
    ncg = _floor(b.below(f"{tag}__{kind}ncg", f[f"{kind}ltcg"] + st_loss, _plus, "plus"), 0.0)
    _at_most(b, f"{tag}__{kind}ncg__gains", ncg, f[GAINS[f"{kind}ltcg"]])
    return ncg


def _f6251(
    b: Builder,
    tag: str,
    f: dict[str, Lin],
    ty: TaxYear,
    p: Params,
    key: tuple[Any, ...],
    f1040: dict[str, Lin],
) -> dict[str, Lin]:
    """Form 6251 (`models.forms.form_6251`): AMTI = exclusion AMTI (line 1 + 2a + 2_68, which is
    AGI less Schedule A's `amt_deductions`) + line 2i + line 2k; regular line 7 cancels between
    line 1 and line 2k, so the AMTI is written with the AMT's own line 7.

      amt_line7               line 7 refigured for the AMT (`_line7`)
      line6                   line 6, the taxable excess (`_line6`)
      amt_stcg_loss, amt_ncg  Part III line 13's net capital gain (`_net_capital_gain`)
      p3__*                   Part III, line 40 (`_tmt`)
    Lines passed on: amti (line 4 before the MFS add-back), exclusion_amti (for Form 8801), tmt
    (line 40)."""
    amt_line7 = _line7(b, f"{tag}__amt_line7", f["amt_net_gain"], p, key)
    amt_deductions = f1040["amt_deductions"]
    amti = (
        f1040["earned"] + ty.qualified_dividends + amt_line7 + f["iso_spread"]
        + f["amt_ordinary_adjustment"] - amt_deductions
    )  # fmt: skip
    line6 = _line6(b, f"{tag}__line6", amti, p, key)
    amt_gains = _net_capital_gain(b, tag, f, "amt_") + ty.qualified_dividends
    tmt = _floor(_tmt(b, f"{tag}__p3", line6, amt_gains, f1040, p, key), 0.0)
    return {
        "amti": amti, "exclusion_amti": f1040["agi"] - amt_deductions, "tmt": tmt,
        "amt_line7": amt_line7,
    }  # fmt: skip


def _line4(b: Builder, name: str, amti: Lin, p: Params, key: tuple[Any, ...]) -> Lin:
    """Form 6251 line 4 of an AMTI before the MFS add-back (`models.forms.tentative_minimum_tax`):
    the same amount but for married filing separately, whose add-back makes it a cost that bends
    down where the add-back reaches its cap (a binary there)."""
    if not p.mfs:
        return amti

    def line4(a: float) -> float:
        return tentative_minimum_tax(a, 0.0, 0.0, p, SCALAR)["amti"]

    return b.above(name, amti, line4, ("line4", key))


def _line6(b: Builder, name: str, amti: Lin, p: Params, key: tuple[Any, ...]) -> Lin:
    """Form 6251 lines 4-6 of an AMTI: the MFS add-back, then the AMTI less the exemption as it
    phases out. A cost that is not convex where the phase-out ends (28% -> 35%/42% -> 28%): a
    binary there, when the AMTI's range crosses it."""

    def excess_of(a: float) -> float:
        return tentative_minimum_tax(a, 0.0, 0.0, p, SCALAR)["taxable_excess"]

    return _floor(b.above(name, amti, excess_of, ("line6", key)), 0.0)


def _tmt(
    b: Builder,
    tag: str,
    excess: Lin,
    gains: Lin,
    f1040: dict[str, Lin],
    p: Params,
    key: tuple[Any, ...],
) -> Lin:
    """Form 6251 line 40 (= line 38 here) from the taxable excess (line 6), the AMT's qualified
    dividends and net capital gain (line 13) and the room left in the 0% and 15% bands of the
    regular tax (`f1040`'s band0, line 21, and band15: lines 21 and 29 together). As in the QDCG
    worksheet (`_qdcg_worksheet`), with g = line 22:
        line38 = S(excess - g) + 20% g - 5% min(g, band15) - 15% min(g, band0)

    A cost: line 22 = min(excess, gains) and the minima with the bands (`line30`, `line23`) are
    reliefs (the TMT falls as they grow: 0%, 15% or 20% instead of 26% or 28%), so all are
    minima bounded from above without a binary; line 18 (the 26/28% schedule) is convex."""
    r0, r15, r20 = p.cg_rates
    g = _floor(b.below_min(f"{tag}__line22", excess, gains), 0.0)
    at15 = b.below_min(f"{tag}__line30", g, f1040["band15"])
    at0 = b.below_min(f"{tag}__line23", g, f1040["band0"])
    line17 = _floor(excess - g, 0.0)
    line18 = b.above(
        f"{tag}__line18", line17, lambda y: amt_rate_schedule(y, p, SCALAR), ("line18", key)
    )
    return line18 + g * r20 - at15 * (r20 - r15) - at0 * (r15 - r0)


def _f8801(
    b: Builder,
    tag: str,
    f: dict[str, Lin],
    p: Params,
    key: tuple[Any, ...],
    f1040: dict[str, Lin],
    f6251: dict[str, Lin],
    cf: Lin,
) -> dict[str, Lin]:
    """Form 8801 (`models.forms.form_8801`) with Form 6251 line 11, by the module docstring's
    identities (T the income tax after the credit, TMTx the TMT of the exclusion items alone):
        T = max(regular - cf, TMT),  cf_out = cf + T - max(regular, min(TMT, TMTx)) >= 0

      x_line6, xp3__*  Form 6251 lines 6 and 40 on the exclusion items, with the regular gains
                       (Part I, the net minimum tax on exclusion items)
      tmt_or_x         min(TMT, TMTx): a cost and a minimum, not convex, so one binary, unless
                       the deferral items can only raise the TMT (then it is TMTx)
      income_tax       T, and credit_floor the maximum of `cf_out`: convex costs (no binary)
      credit_left      cf_out >= 0: no more credit allowed than carried in
    Lines passed on: income_tax, carryforward_out."""
    tmt = f6251["tmt"]
    excl_excess = _line6(b, f"{tag}__x_line6", f6251["exclusion_amti"], p, key)
    excl_tmt = _floor(_tmt(b, f"{tag}__xp3", excl_excess, f1040["gains"], f1040, p, key), 0.0)
    creditable_floor = (
        excl_tmt if _deferral_only_raises_tmt(f) else b.above_min(f"{tag}__tmt_or_x", tmt, excl_tmt)
    )
    regular = f1040["regular_tax"]
    income_tax = b.above_max(f"{tag}__income_tax", [regular - cf, tmt])
    floor = b.above_max(f"{tag}__credit_floor", [regular, creditable_floor])
    cf_out = cf + income_tax - floor
    b.prob += cf_out.expr >= 0.0, f"{tag}__credit_left"
    return {"income_tax": income_tax, "carryforward_out": _floor(cf_out, 0.0)}


def _deferral_only_raises_tmt(f: dict[str, Lin]) -> bool:
    """True when this year's deferral items can only raise the TMT: no AMT basis difference in
    the gains, and the ISO spread and other adjustments are never negative. Then the TMT is at
    least the TMT of the exclusion items alone (both are the same increasing function of AMTI)."""
    gains_same = all(
        f[k].lo == f[k].hi == 0.0 for k in ("amt_ltcg_adjustment", "amt_stcg_adjustment")
    )
    return gains_same and (f["iso_spread"] + f["amt_ordinary_adjustment"]).lo >= 0.0


def _f8960(
    b: Builder, tag: str, f: dict[str, Lin], ty: TaxYear, p: Params, f1040: dict[str, Lin]
) -> Lin:
    """Form 8960 (`models.forms.form_8960`): min(max(0, NII), max(0, MAGI - threshold)) with
    MAGI - threshold = NII + z, where z (wages and other ordinary income above the threshold)
    holds no gain, is max(0, NII + min(0, z)), a cost:

      niit_short  min(0, z): concave, the one bend that takes a binary (in the narrow range of z)
      niit_base   max(0, NII + niit_short): convex (no binary)"""
    nii = f1040["line7"] + ty.interest + ty.qualified_dividends
    z = f["wages"] + f["ordinary_income"] - p.niit_threshold
    short = b.above(f"{tag}__niit_short", z, _minus, "minus")
    return b.above(f"{tag}__niit_base", nii + short, _plus, "plus") * p.niit_rate


def _f8959(b: Builder, tag: str, f: dict[str, Lin], p: Params, key: tuple[Any, ...]) -> Lin:
    """Form 8959 (`models.forms.form_8959`), `addl_medicare`: the Additional Medicare Tax on
    wages, a convex cost (no binary)."""
    return b.above(
        f"{tag}__addl_medicare",
        f["wages"],
        lambda w: form_8959(Household(wages=w), p, SCALAR),
        ("addl_medicare", key),
    )


def _fica(b: Builder, tag: str, f: dict[str, Lin], payroll: Payroll) -> Lin:
    """The employee's FICA (`models.forms.employee_fica`), `fica`: Social Security up to the wage
    base and Medicare. A cost that bends down at the wage base (concave): a binary there."""
    return b.above(
        f"{tag}__fica",
        f["wages"],
        lambda w: employee_fica(w, payroll, SCALAR),
        ("fica", _key(payroll)),
    )


class NotModelled(ValueError):
    """A scenario the model cannot yet plan exactly; the message says what and where."""


def _ca_params(law: YearLaw, ty: TaxYear, status: str) -> CaParams | None:
    """California's law for a year of California residence, else None (no state tax)."""
    if not ty.state:
        return None
    if ty.state not in law.states:
        raise ValueError(f"no {ty.state.upper()} tax law given for year {ty.year}")
    return ca_params_for(law.states[ty.state], status)


def _ca540(
    b: Builder,
    tag: str,
    f: dict[str, Lin],
    ty: TaxYear,
    ca: CaParams,
    agi: Lin,
    line2k: Lin,
    cf: Lin,
) -> dict[str, Lin]:
    """California's Form 540, Schedule P and FTB 3510 (`models.forms_ca.california`) from the
    federal AGI and Form 6251 line 2k. R is line 31, E the exemption credits (line 32), X the
    TMT, Xx that of the exclusion items alone, cf the credit carried in. With L35 = max(0, R - E)
    (line 35), AMT = max(0, X - R) and the credit allowed min(cf, max(0, L35 - X)), the tax
    before the Mental Health Services Tax is
        T = max(L35 - cf, min(X, L35) + max(0, X - R)),
        cf_out = cf + T + (R - L35) - max(R, min(X, Xx))
    (the federal identities with line 31 and line 35 apart: the AMT is measured before the
    exemption credits, the credit's room after them). min(X, L35) is a cost and a minimum: one
    binary, as is min(X, Xx) unless the deferral items only raise the TMT. Where R can be below
    E, L35 is 0 and more R is less AMT, so R is held exact there (`_tax_on_ordinary`'s `exact`);
    elsewhere R - L35 = E and R is a cost.

      line18        line 18 (`_ca_line18`), line 19 the AGI less it
      line31        line 31 of line 19: the FTB Tax Table at or below $100,000 (exact with two
                    integers, as Form 1040's, `_tax_on_ordinary`), the rate schedule above
      line62        the Mental Health Services Tax of line 19, a convex cost
      line32        the exemption credits (`_ca_credits`)
      tmt, x_tmt    Schedule P line 24 of the AMTI and of the exclusion items' AMTI
    """
    h = Household(
        real_estate_tax=ty.real_estate_tax,
        mortgage_interest=ty.mortgage_interest,
        charitable=ty.charitable,
        aged_blind=float(ty.aged_blind),
        dependents=float(ty.dependents),
    )
    key = ("ca", _key(ca), _key(h))
    line18, itemizing = _ca_line18(b, tag, agi, h, ca, key)
    line19 = agi - line18
    if line19.lo < 0.0:
        line19 = b.above(f"{tag}__line19", line19, _plus, "plus")
    e = _ca_credits(b, tag, agi, h, ca, key)
    table = _ca_table(ca)
    # Where line 31 can be below the exemption credits, line 35 is 0 and more line 31 is less
    # AMT: a relief there, so line 31 is held exact (judged on line 19's tightened range).
    least = b.narrowed(f"{tag}__line31", line19).lo
    below_credits = table.tax(max(least, 0.0)) < e.hi
    r = _tax_on_ordinary(
        b, f"{tag}__line31", line19, table, ("ca_table", _key(ca)), exact=below_credits
    )
    mhst = b.above(
        f"{tag}__line62",
        line19,
        lambda v: ca.mhst_rate * max(v - ca.mhst_threshold, 0.0),
        ("ca62", _key(ca)),
    )
    # The AMT allows the itemized deductions but the taxes, without the limitation (Schedule P
    # lines 3 and 18); of the standard deduction, nothing (line 1).
    if ty.charitable > ca.charity_agi_limit * agi.lo:
        raise NotModelled(
            f"{ty.year}: California's limit on gifts to charity (half of AGI) can bind within "
            "the plan's range of AGI (not yet modelled in a plan)"
        )
    x_amti = agi - itemizing * (ty.mortgage_interest + ty.charitable)
    amti = x_amti + f["iso_spread"] + line2k

    def tmt_of(a: float) -> float:
        return float(schedule_p_tmt(a, ca, SCALAR)[2])

    x = _floor(b.above(f"{tag}__tmt", amti, tmt_of, ("ca_tmt", _key(ca))), 0.0)
    x_tmt = _floor(b.above(f"{tag}__x_tmt", x_amti, tmt_of, ("ca_tmt", _key(ca))), 0.0)
    line35 = b.above(f"{tag}__line35", r - e, _plus, "plus") if below_credits else r - e
    amt = b.above(f"{tag}__amt", x - r, _plus, "plus")
    within = b.above_min(f"{tag}__tmt_or_line35", x, line35)
    income_tax = b.above_max(f"{tag}__income_tax", [line35 - cf, within + amt])
    creditable = (
        x_tmt if _deferral_only_raises_tmt(f) else b.above_min(f"{tag}__tmt_or_x", x, x_tmt)
    )
    floor = b.above_max(f"{tag}__credit_floor", [r, creditable])
    cf_out = cf + income_tax + (r - line35) - floor
    b.prob += cf_out.expr >= 0.0, f"{tag}__credit_left"
    return {"ca_total_tax": income_tax + mhst, "ca_credit_carryforward_out": _floor(cf_out, 0.0)}


def _ca_line18(
    b: Builder, tag: str, agi: Lin, h: Household, ca: CaParams, key: tuple[Any, ...]
) -> tuple[Lin, Lin | bool]:
    """Form 540 line 18, the larger of the standard deduction and the itemized deductions less
    the R&TC §17077 limitation (`models.forms_ca.form_540_income`), and whether it itemizes (a
    bool, or a binary). The limited itemized deductions fall as the AGI rises, so they are the
    larger below one AGI and not above it: where the AGI's range holds that point, a binary
    `itemize` follows the AGI across it (it must: the AMT adds back the standard deduction and
    only the taxes of the itemized ones, so the choice is not one a relief can leave open).
    The deduction itself is a relief, at most the side the binary picks."""

    def itemized(a: float) -> float:
        income = form_540_income(h, a, ca, SCALAR)["itemized"]
        return float(income["total"] - income["limitation"])

    def itemizing_at(a: float) -> bool:
        return bool(form_540_income(h, a, ca, SCALAR)["itemizing"])

    first, last = itemizing_at(agi.lo), itemizing_at(agi.hi)
    if not first:  # not itemizing at the least AGI: never (the itemized side only falls)
        return Lin.const(ca.std), False
    allowed = b.below(f"{tag}__itemized", agi, itemized, ("ca_itemized", key))
    if last:
        return allowed, True
    lo, hi = agi.lo, agi.hi  # the AGI where the standard deduction becomes the larger
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if itemizing_at(mid) else (lo, mid)
    switch = hi
    w = b.binary(f"{tag}__itemize")
    b.prob += agi.expr <= switch - _ROW_END + (agi.hi - switch) * (1 - w), f"{tag}__itemize_below"
    b.prob += agi.expr >= switch - (switch - agi.lo) * w, f"{tag}__itemize_above"
    y = b.var(f"{tag}__line18", min(ca.std, allowed.lo), max(ca.std, allowed.hi))
    b.prob += y <= allowed.expr + (ca.std - allowed.lo) * (1 - w), f"{tag}__line18_itemized"
    b.prob += y <= ca.std + (allowed.hi - ca.std) * w, f"{tag}__line18_standard"

    def settle() -> None:
        w.varValue = 1.0 if itemizing_at(value_of(agi)) else 0.0
        y.varValue = value_of(allowed) if w.varValue else ca.std

    b.on_settle(settle)
    return Lin(y, y.lowBound, y.upBound), Lin(w, 0.0, 1.0)


def _ca_credits(
    b: Builder, tag: str, agi: Lin, h: Household, ca: CaParams, key: tuple[Any, ...]
) -> Lin:
    """Form 540 line 32 (`models.forms_ca.exemption_credits`), a relief of the AGI that falls in
    steps: each whole or part `credit_step` of AGI over the start takes `credit_amount` from each
    credit. Exact with one integer, the steps n >= (AGI - start) / step, where the AGI can pass
    the start: the credits fall with n, so the least n is chosen, the rounded-up count."""
    if agi.hi <= ca.credit_start:
        return Lin.const(float(exemption_credits(h, agi.hi, ca, SCALAR)))
    most = math.ceil((agi.hi - ca.credit_start) / ca.credit_step)
    least = max(math.ceil((agi.lo - ca.credit_start) / ca.credit_step), 0)
    n = b.integer(f"{tag}__credit_steps", least, most)
    b.prob += n * ca.credit_step >= agi.expr - ca.credit_start, f"{tag}__credit_steps"

    def settle_steps() -> None:
        over = max(value_of(agi) - ca.credit_start, 0.0)
        n.varValue = float(min(max(math.ceil(over / ca.credit_step - 1e-9), least), most))

    b.on_settle(settle_steps)

    def credits(steps: float) -> float:
        return float(credits_after_steps(h, steps, ca, SCALAR))

    return b.below(f"{tag}__line32", Lin(n, least, most), credits, ("ca32", key))


def _key(obj: Any) -> tuple[Any, ...]:
    """A dataclass of law or household figures as a hashable key of the functions built on it
    (`Builder.above`)."""
    return (type(obj).__name__, *astuple(obj))


def _plus(v: float) -> float:
    return max(v, 0.0)


def _minus(v: float) -> float:
    return min(v, 0.0)


def _probe(m: LadderModel, kind: str, year: int) -> Lin:
    """A dollar more of `kind` in `year` (`build`'s `probes`), as an amount from 0 to 1."""
    v = pulp.LpVariable(f"{m.prefix}probe__{kind}__y{year}", 0.0, 1.0)
    m.probes[(kind, year)] = v
    return Lin(v, 0.0, 1.0)


def _cash(m: LadderModel, scenario: Scenario, probes: bool = False) -> None:
    """cash[y] = cash[y-1] x (1 + r) + savings + proceeds - exercise cost - last year's extra
    tax, r = `scenario.cash_return`: the balance at the end of the year before (the start cash,
    in the first year) earns a year's return, the year's own flows none that year, as in the
    exact evaluation (`models.exact`, whose docstring says why). Linear: r is a number. With r 0
    the rows are those of a model without a return, term for term."""
    options = {o.id: o for o in scenario.options}
    years = {ty.year: ty for ty in scenario.years}
    windows = {w.id: w for w in scenario.windows}
    growth = 1.0 + scenario.cash_return
    cash = Lin.const(scenario.start_cash)
    prior_tax: Lin = Lin.const(0.0)
    for ty in scenario.years:
        flows = _cash_terms(m, options, years, windows, ty.year)
        moved = linear(flows) if flows else 0.0
        grown = cash.expr * growth if scenario.cash_return else cash.expr
        cash = Lin(grown + ty.savings + moved - prior_tax.expr, -math.inf, math.inf)
        if probes:
            cash = cash + _probe(m, "cash", ty.year)
        m.prob += cash.expr >= scenario.cash_floor, f"{m.prefix}cash__y{ty.year}"
        m.cash[ty.year] = cash
        prior_tax = m.years[ty.year]["extra_tax"]


def _cash_terms(m: LadderModel, options: dict, years: dict, windows: dict, year: int) -> list:
    """The year's cash flows of the actions, as (dollars per variable unit, variable) pairs."""
    terms = []
    for (option_id, y), (var, step) in m.exercise.items():
        if y == year:
            terms.append((exercise_effect(options[option_id], years[y]).cash * step, var))
    for (lot_id, window_id), (var, step) in m.sell.items():
        w = windows[window_id]
        if w.year == year:
            terms.append((sale_effect(m.lots[lot_id], w).cash * step, var))
    for (option_id, window_id), (var, step) in m.same_day.items():
        w = windows[window_id]
        if w.year == year:
            terms.append((same_day_effect(options[option_id], w).cash * step, var))
    return terms


def _objective(m: LadderModel, scenario: Scenario) -> None:
    last = scenario.years[-1].year
    if scenario.objective == "min_tax":
        rate = scenario.discount_rate
        m.objective = Lin(
            pulp.lpSum(
                m.years[ty.year]["extra_tax"].expr / (1.0 + rate) ** i
                for i, ty in enumerate(scenario.years)
            ),
            -math.inf,
            math.inf,
        )
        if m.sets_objective:
            m.prob += m.objective.expr
        return
    # Each lot's sales and each class's exercises gathered in one pass (a scan per lot would
    # make the build quadratic in the grants), in the order of the variables.
    sold: dict[str, list[Any]] = defaultdict(list)
    for (lot_id, _), v in m.sell.items():
        sold[lot_id].append(_shares(v))
    taken: dict[str, list[Any]] = defaultdict(list)
    for (option_id, _), v in (*m.exercise.items(), *m.same_day.items()):
        taken[option_id].append(_shares(v))
    terminal = []
    for lot_id, lot in m.lots.items():
        per_share = terminal_share_value(scenario, lot.regular_basis)
        terminal.append(per_share * (_lot_shares(m, lot_id).expr - pulp.lpSum(sold[lot_id])))
    for option in scenario.options:
        left = option.exercisable.get(last, 0.0)
        if left <= 0:
            continue
        per_share = terminal_option_value(scenario, option.strike)
        terminal.append(per_share * (left - pulp.lpSum(taken[option.id])))
    credit_left = m.years[last]["mtc_carryforward_out"].expr - m.base[last]["credit_out"]
    ca_left = m.years[last]["ca_credit_carryforward_out"].expr - m.base[last]["ca_credit_out"]
    lines = m.years[last]
    loss_left = lines["st_loss_carryover_out"].expr + lines["lt_loss_carryover_out"].expr
    wealth = (
        m.cash[last].expr
        - m.years[last]["extra_tax"].expr
        + pulp.lpSum(terminal)
        + scenario.credit_value * credit_left
        + terminal_loss_value(scenario) * (loss_left - m.base[last]["loss_out"])
        + ca_credit_value(scenario) * ca_left
    )
    m.objective = Lin(wealth, -math.inf, math.inf)
    if m.sets_objective:
        m.prob += wealth


# ----------------------------------------------------------------------------------------------
# Solve and read
# ----------------------------------------------------------------------------------------------


def read_plan(m: LadderModel) -> Plan:
    """The decisions of the solved (or settled) model."""
    plan = Plan()
    for key, (var, step) in m.exercise.items():
        shares = step * round(var.value() or 0.0)
        if shares:
            plan.exercises[key] = float(shares)
    for key, (var, step) in m.sell.items():
        shares = step * round(var.value() or 0.0)
        if shares:
            plan.sales[key] = float(shares)
    for key, (var, step) in m.same_day.items():
        shares = step * round(var.value() or 0.0)
        if shares:
            plan.same_day[key] = float(shares)
    for ty in m.scenario.years:
        if ty.itemize is None:  # the plan's to choose
            chosen = m.itemize[ty.year]
            plan.itemize[ty.year] = chosen if isinstance(chosen, bool) else chosen.value() > 0.5
    return plan


SETTLE_TOLERANCE = 1e-3  # dollars: float rounding of sums of millions


def settle(m: LadderModel, plan: Plan | None = None) -> list[str]:
    """Put a plan into the model (by default the solver's, its integers rounded) and every tax
    amount exactly on its function (`Builder.settle`); the names of the constraints it breaks.

    A solver may leave a cost above its function where that changes nothing (an AMT overpaid this
    year and recovered as credit later is worth the same with `credit_value` 1), so the figures
    read afterwards (`model_taxes`, the objective) are the model's functions at the plan. A
    broken constraint means the plan does not fit (cash below the floor, more shares sold than
    held) or, for the solver's own plan, a modelling error. A plan given from outside names the
    deduction of every year whose choice the model leaves to the plan (a baseline's: the one its
    exact evaluation chose, `with_deductions`); where one side dominates, the model's is kept
    (it is at least as good)."""
    plan = read_plan(m) if plan is None else plan
    tables = ((m.exercise, plan.exercises), (m.sell, plan.sales), (m.same_day, plan.same_day))
    for table, chosen in tables:
        for key, (var, step) in table.items():
            var.varValue = float(round(chosen.get(key, 0.0) / step))
    for probe in m.probes.values():
        probe.varValue = 0.0
    for year, w in m.itemize.items():
        if not isinstance(w, bool):
            if year not in plan.itemize:
                raise ValueError(f"the plan does not say which deduction it takes in {year}")
            w.varValue = 1.0 if plan.itemize[year] else 0.0
    m.builder.settle()
    return [name for name, c in m.prob.constraints.items() if not c.valid(SETTLE_TOLERANCE)]


def model_taxes(m: LadderModel) -> dict[int, dict[str, float]]:
    """The model's own tax lines per year, to set beside the exact re-evaluation.

    The AMT, the credit allowed and the credit generated follow from the model's regular tax,
    TMT, tax after credits and carryforwards by the identities of the module docstring; the AMTI
    shown is Form 6251 line 4 (after the MFS add-back)."""
    out: dict[int, dict[str, float]] = {}
    for year, lines in m.years.items():
        v = {k: value_of(x) for k, x in lines.items()}
        p = m.params[year]
        v["amti"] = tentative_minimum_tax(v["amti"], 0.0, 0.0, p, SCALAR)["amti"]
        v["amt"] = max(v["tmt"] - v["regular_tax"], 0.0)
        v["mtc_allowed"] = v["regular_tax"] + v["amt"] - v["income_tax"]
        v["mtc_generated"] = v["mtc_carryforward_out"] - v["mtc_carryforward_in"] + v["mtc_allowed"]
        del v["income_tax"], v["mtc_carryforward_in"]  # the model's own intermediate amounts
        out[year] = v
    return out
