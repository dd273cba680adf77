"""The exact federal tax of one household-year, line by line after the IRS forms.

Every function here is written once and runs on two kinds of numbers: plain floats (one household,
`SCALAR`) and numpy arrays (many household-years at once, `VECTOR`). The `ops` argument supplies
max/min/where/floor for the kind at hand, so the vectorized path cannot drift from the scalar one.
The ops also carry the calendar of `models.grants`, whose dates are day numbers (ints or arrays).

Form map (names follow the form lines they compute):
  Form 1040 lines 9-16, Schedule A lines 5-17, QDCG worksheet lines 1-25 (1040 instructions),
  the Tax Table below $100,000 and the Tax Computation Worksheet above it    -> `form_1040`
  Form 1040 lines 12e-14 as a function of AGI, with Schedule 1-A Part V (seniors) -> `deductions`
  Form 6251 Part I (lines 1-4, MFS add-back), Part II (lines 5-11), Part III (lines 12-40)
                                                                            -> `form_6251`
  Form 8801 Part I (net minimum tax on exclusion items) and Part II lines 21-26 -> `form_8801`
  Form 8960 (net investment income tax, IRC §1411)                          -> `form_8960`
  Form 8959 (Additional Medicare Tax on wages, IRC §3101(b)(2))             -> `form_8959`
  Schedule D lines 6, 7, 14-16, 21 with the losses carried in, regular and AMT -> `schedule_d`
  Capital Loss Carryover Worksheet (Schedule D instructions), regular and AMT
                                                                 -> `capital_loss_carryover`
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from models.law import Params

# Day numbers count days from 1970-01-01, numpy's datetime64 epoch, so both kinds agree.
_EPOCH = date(1970, 1, 1).toordinal()


class _ScalarOps:
    maximum = staticmethod(max)
    minimum = staticmethod(min)
    floor = staticmethod(math.floor)

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def ymd(day: int) -> tuple[int, int, int]:
        d = date.fromordinal(day + _EPOCH)
        return d.year, d.month, d.day

    @staticmethod
    def day(year: int, month: int, day: int) -> int:
        return date(year, month, day).toordinal() - _EPOCH

    @staticmethod
    def month_length(year: int, month: int) -> int:
        return calendar.monthrange(year, month)[1]


class _VectorOps:
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    floor = staticmethod(np.floor)
    where = staticmethod(np.where)

    @staticmethod
    def ymd(day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        days = np.asarray(day, dtype=np.int64).astype("datetime64[D]")
        months = days.astype("datetime64[M]")
        year = months.astype("datetime64[Y]").astype(np.int64) + 1970
        month = months.astype(np.int64) % 12 + 1
        return year, month, (days - months.astype("datetime64[D]")).astype(np.int64) + 1

    @staticmethod
    def day(year: Any, month: Any, day: Any) -> np.ndarray:
        first = _VectorOps._month(year, month).astype("datetime64[D]").astype(np.int64)
        return first + np.asarray(day, dtype=np.int64) - 1

    @staticmethod
    def month_length(year: Any, month: Any) -> np.ndarray:
        m = _VectorOps._month(year, month)
        return ((m + 1).astype("datetime64[D]") - m.astype("datetime64[D]")).astype(np.int64)

    @staticmethod
    def _month(year: Any, month: Any) -> np.ndarray:
        index = (np.asarray(year, dtype=np.int64) - 1970) * 12 + np.asarray(month) - 1
        return index.astype("datetime64[M]")


SCALAR = _ScalarOps()
VECTOR = _VectorOps()

_ROUND_EPS = 1e-6  # exact midpoint taxes are multiples of $0.25; float sums may fall a hair short
# Dollars: an income this close below a Tax Table row's end (or the Table's limit) is float noise
# in a sum of whole cents (85,000.00 summed as 84,999.99999999998): it is at the end.
_ROW_NOISE = 1e-6


@dataclass
class Household:
    """One household-year's inputs (floats), or many (arrays). Amounts are annual dollars.

    ordinary_income: other ordinary income that is not investment income (e.g. business income,
        disqualifying-disposition compensation not on the W-2).
    interest: taxable interest and non-qualified dividends (ordinary income and NII).
    iso_spread: ISO bargain element of shares exercised and held past year end (Form 6251 line 2i).
    amt_ltcg_adjustment: AMT minus regular long-term gain on shares sold (their AMT basis is
        higher); part of Form 6251 line 2k and of the AMT capital gain refigured for Part III.
    amt_stcg_adjustment: the same for short-term gain (shares held a year or less from exercise).
    amt_ordinary_adjustment: the rest of line 2k, e.g. minus a later-year disqualifying
        disposition's ordinary income, which the AMT already counted at exercise.
    ltcg, stcg: the year's own net long- and short-term gain or loss (Schedule D lines 1a-5 and
        8a-13), before any loss carried in from earlier years.
    st_loss_carryover, lt_loss_carryover: the regular tax's short- and long-term capital loss
        carried in (Schedule D lines 6 and 14, as positive amounts: last year's Capital Loss
        Carryover Worksheet lines 8 and 13; `capital_loss_carryover`).
    amt_st_loss_carryover, amt_lt_loss_carryover: the same refigured for the AMT (the AMT
        Capital Loss Carryover Worksheet, Form 6251 instructions line 2k), entering the AMT
        Schedule D; they differ from the regular ones once ISO shares are sold with a loss.
    itemize: 1.0 to itemize, 0.0 for the standard deduction (`compute` may choose; see there).
    aged_blind: count of 65-or-older / blind conditions (0-4) for the additional standard deduction.
    seniors: people on the return aged 65 or over at the end of the year (0-2: the taxpayer, and
        the spouse on a joint return), for the 2025-2028 deduction for seniors
        (`schedule_1a_seniors`); each of them is also one of the `aged_blind` conditions.
    real_estate_tax: the part of `salt` that is real property tax, the one part California lets
        its residents deduct (`models.forms_ca`); the federal return reads only `salt`.
    dependents: dependents claimed, for California's dependent exemption credits.
    ca_amt_credit_carryforward: California's credit for prior year AMT carried in (FTB 3510).
    """

    wages: Any = 0.0
    ordinary_income: Any = 0.0
    interest: Any = 0.0
    qualified_dividends: Any = 0.0
    ltcg: Any = 0.0
    stcg: Any = 0.0
    iso_spread: Any = 0.0
    amt_ltcg_adjustment: Any = 0.0
    amt_stcg_adjustment: Any = 0.0
    amt_ordinary_adjustment: Any = 0.0
    salt: Any = 0.0
    mortgage_interest: Any = 0.0
    charitable: Any = 0.0
    aged_blind: Any = 0.0
    seniors: Any = 0.0
    amt_credit_carryforward: Any = 0.0
    st_loss_carryover: Any = 0.0
    lt_loss_carryover: Any = 0.0
    amt_st_loss_carryover: Any = 0.0
    amt_lt_loss_carryover: Any = 0.0
    real_estate_tax: Any = 0.0
    dependents: Any = 0.0
    ca_amt_credit_carryforward: Any = 0.0
    itemize: Any = 0.0


# ----------------------------------------------------------------------------------------------
# Rate schedules
# ----------------------------------------------------------------------------------------------


def rate_schedule(x: Any, rates: tuple, edges: tuple, ops: Any) -> Any:
    """Tax on `x` under a progressive schedule: sum over bands of rate step x (x - band start)+.

    This is the Tax Computation Worksheet / IRC §1(j)(2) arithmetic, written as marginal steps so it
    vectorizes; `edges[k]` is the upper edge of band k, the last rate applies above the last edge.
    """
    tax = rates[0] * ops.maximum(x, 0.0)
    for k, edge in enumerate(edges):
        tax = tax + (rates[k + 1] - rates[k]) * ops.maximum(x - edge, 0.0)
    return tax


def tax_table_midpoint(x: Any, p: Params, ops: Any) -> Any:
    """The middle of the Tax Table row that holds `x` (Form 1040 instructions, Tax Table): rows
    `p.table_wide` ($50) wide from `p.table_wide_from` ($3,000), `p.table_narrow` ($25) wide
    below, and first the uneven rows that end at `p.table_first_rows` ($5, $15, $25)."""
    x = x + _ROW_NOISE
    wide = ops.floor(x / p.table_wide) * p.table_wide + p.table_wide / 2
    narrow = ops.floor(x / p.table_narrow) * p.table_narrow + p.table_narrow / 2
    midpoint = ops.where(x < p.table_wide_from, narrow, wide)
    ends = p.table_first_rows
    for start, end in reversed(tuple(zip((0.0, *ends[:-1]), ends, strict=True))):
        midpoint = ops.where(x < end, (start + end) / 2, midpoint)
    return midpoint


def tax_on_ordinary(x: Any, p: Params, ops: Any) -> Any:
    """Tax on an amount of ordinary taxable income as Form 1040 line 16 figures it: the Tax Table
    (the tax on the row's midpoint, rounded to whole dollars, half up) below `p.table_max`
    ($100,000), the rate formula (Tax Computation Worksheet) at or above it. QDCG worksheet lines
    22 and 24 use the same rule."""
    in_table = x + _ROW_NOISE < p.table_max
    midpoint = tax_table_midpoint(x, p, ops)
    return table_or_schedule(x, in_table, midpoint, p.ord_rates, p.ord_edges, ops)


def table_or_schedule(
    x: Any, in_table: Any, midpoint: Any, rates: tuple, edges: tuple, ops: Any
) -> Any:
    """A Tax Table's tax where `in_table` (the rate schedule on the row's `midpoint`, rounded to
    whole dollars, half up), the schedule on `x` elsewhere, 0 for no income: Form 1040 line 16
    (`tax_on_ordinary`) and Form 540 line 31 (`models.forms_ca.ca_tax_on`) alike."""
    amount = ops.where(in_table, midpoint, x)
    tax = rate_schedule(amount, rates, edges, ops)
    table_tax = ops.floor(tax + 0.5 + _ROUND_EPS)
    return ops.where(x <= 0.0, 0.0, ops.where(in_table, table_tax, tax))


def amt_rate_schedule(x: Any, p: Params, ops: Any) -> Any:
    """26% of `x` up to the breakpoint, 28% above (Form 6251 lines 7, 18 and 39; IRC §55(b)(1))."""
    low, high = p.amt_rates
    return low * ops.maximum(x, 0.0) + (high - low) * ops.maximum(x - p.amt_breakpoint, 0.0)


# ----------------------------------------------------------------------------------------------
# Form 1040 with Schedule A and the QDCG worksheet
# ----------------------------------------------------------------------------------------------


def capital_gain_line7(ltcg: Any, stcg: Any, p: Params, ops: Any) -> Any:
    """Form 1040 line 7: net capital gain or loss, a loss limited to $3,000 ($1,500 MFS)."""
    return ops.maximum(ltcg + stcg, -p.loss_limit)


def net_capital_gain(ltcg: Any, stcg: Any, ops: Any) -> Any:
    """QDCG worksheet line 3: the smaller of Schedule D lines 15 and 16, if both are gains."""
    return ops.maximum(ops.minimum(ltcg, ltcg + stcg), 0.0)


def schedule_d(
    stcg: Any, ltcg: Any, st_carryover: Any, lt_carryover: Any, p: Params, ops: Any
) -> dict[str, Any]:
    """Schedule D Part I-III with the losses carried in (IRC §1212(b)(1): they keep their
    character), run once with the regular figures and once with the AMT's (the AMT Schedule D
    of the Form 6251 instructions, line 2k).

    line6   the short-term capital loss carryover in (positive; entered as a loss)
    line7   net short-term gain or loss: the year's short-term gain or loss less line 6
    line14  the long-term capital loss carryover in (positive; entered as a loss)
    line15  net long-term gain or loss: the year's long-term gain or loss less line 14
    line16  line 7 + line 15
    line21  Form 1040 line 7: line 16, a loss limited to $3,000 ($1,500 MFS; §1211(b))
    net_capital_gain  QDCG worksheet line 3 (Form 6251 Part III for the AMT figures)
    """
    line6 = ops.maximum(st_carryover, 0.0)
    line7 = stcg - line6
    line14 = ops.maximum(lt_carryover, 0.0)
    line15 = ltcg - line14
    return {
        "line7": line7,
        "line15": line15,
        "line16": line7 + line15,
        "line21": capital_gain_line7(line15, line7, p, ops),
        "net_capital_gain": net_capital_gain(line15, line7, ops),
    }


def capital_loss_carryover(line1: Any, sched_d: dict[str, Any], ops: Any) -> dict[str, Any]:
    """Capital Loss Carryover Worksheet (Schedule D instructions, "Lines 6 and 14"): the short-
    and long-term losses this year's Schedule D (`sched_d`, from `schedule_d`) carries to the
    next year (IRC §1212(b)). Line 1 is what the loss deduction of line 21 could reduce: only
    the part of it that did not push taxable income below zero counts as used (§1212(b)(2)).

    Regular tax: line 1 is Form 1040 line 15, a loss entered as negative, that is line 11 minus
    line 14 (Form 6251 line 1). (§1212(b)(2)(B) adds back personal exemptions "or any deduction
    in lieu thereof"; whether the 2025-2028 deduction for seniors of §151(d)(5)(C), inside line
    14, is one is not settled by a published worksheet: line 1 here is line 15 as printed.)
    AMT: the Form 6251 instructions, line 2k ("Because the amount of your gains and losses may be
    different for the AMT, the amount of any capital loss carryover may also be different for
    the AMT. To figure your AMT capital loss carryover, fill out an AMT Capital Loss Carryover
    Worksheet"), print no worksheet of their own: this one is filled with the AMT Schedule D and,
    on line 1, AMTI (Form 6251 line 4, after any MFS add-back) in place of taxable income. That
    is §1212(b)(2)(B)'s "taxable income" for the AMT, where taxable income is AMTI (§55(b)(2));
    the exemption (§55(d)) is subtracted after AMTI, not in it, so it does not enter, and tax
    software fills the worksheet's AMT column the same way (AMTI, Form 6251 line 4). AMTI is
    seldom below zero, so the AMT's limited loss is nearly always used in full.

    Returns line8 (short-term carryover out) and line13 (long-term carryover out), both >= 0.
    """
    line2 = ops.maximum(-sched_d["line21"], 0.0)  # the loss deducted, Schedule D line 21
    line3 = ops.maximum(line1 + line2, 0.0)
    line4 = ops.minimum(line2, line3)
    # Short-term: line 5 is 0 unless Schedule D line 7 is a loss.
    line5 = ops.maximum(-sched_d["line7"], 0.0)
    line6 = ops.maximum(sched_d["line15"], 0.0)
    line7 = line4 + line6
    line8 = ops.maximum(line5 - line7, 0.0)
    # Long-term: line 9 is 0 (lines 9-13 skipped) unless Schedule D line 15 is a loss.
    line9 = ops.maximum(-sched_d["line15"], 0.0)
    line10 = ops.maximum(sched_d["line7"], 0.0)
    line11 = ops.maximum(line4 - line5, 0.0)
    line12 = line10 + line11
    line13 = ops.maximum(line9 - line12, 0.0)
    # + 0.0 turns the -0.0 of a negated zero (max(-0.0, 0.0) is -0.0) into 0.0, for the reports.
    return {"line4": line4 + 0.0, "line8": line8 + 0.0, "line13": line13 + 0.0}


def qdcg_worksheet(line1: Any, line2: Any, line3: Any, p: Params, ops: Any) -> dict[str, Any]:
    """Qualified Dividends and Capital Gain Tax Worksheet (Form 1040 instructions, line 16).

    line1 taxable income, line2 qualified dividends, line3 net capital gain. Returns line 5
    (ordinary taxable income, also used by Form 6251 lines 20 and 27) and line 25 (the tax).
    """
    r0, r15, r20 = p.cg_rates
    line4 = line2 + line3
    line5 = ops.maximum(line1 - line4, 0.0)
    line7 = ops.minimum(line1, p.cg0)
    line8 = ops.minimum(line5, line7)
    line9 = line7 - line8
    line10 = ops.minimum(line1, line4)
    line12 = ops.maximum(line10 - line9, 0.0)
    line14 = ops.minimum(line1, p.cg15)
    line15 = line5 + line9
    line16 = ops.maximum(line14 - line15, 0.0)
    line17 = ops.minimum(line12, line16)
    line18 = line17 * r15
    line19 = line9 + line17
    line20 = ops.maximum(line10 - line19, 0.0)  # >= 0; the clamp drops float noise
    line21 = line20 * r20
    line22 = tax_on_ordinary(line5, p, ops)
    line23 = line9 * r0 + line18 + line21 + line22
    line24 = tax_on_ordinary(line1, p, ops)
    line25 = ops.minimum(line23, line24)
    return {"line4": line4, "line5": line5, "line25": line25}


def schedule_a(h: Household, agi: Any, p: Params, ops: Any) -> dict[str, Any]:
    """Schedule A itemized deductions, with the 2025-2029 SALT cap phase-down (§164(b)(7)),
    the 60%-of-AGI cash limit and 2026+ 0.5%-of-AGI floor on charity (§170(b)(1)(G), (I)),
    and the 2026+ limitation of §68 (2/37 of the lesser of itemized deductions or AGI above the
    start of the 37% band; the AMT does not apply it, §56(b)(1)).

    The SALT limit is the State and Local Tax Deduction Worksheet (line 5e) of each status's own
    figures: an MFS cap, floor and rate half the others' (the worksheet phases the whole $40,000
    down by 30% and halves the result last, line 10: 15% of the excess off $20,000)."""
    salt_limit = ops.maximum(
        p.salt_cap - p.salt_rate * ops.maximum(agi - p.salt_threshold, 0.0), p.salt_floor
    )
    line7_taxes = ops.minimum(h.salt, salt_limit)
    charity = ops.minimum(
        ops.maximum(h.charitable - p.charity_floor * agi, 0.0), p.charity_agi_limit * agi
    )
    charity = ops.maximum(charity, 0.0)
    before_limit = line7_taxes + h.mortgage_interest + charity
    top_band_start = p.ord_edges[-1]
    limitation = p.itemized_limit_rate * ops.minimum(
        before_limit, ops.maximum(agi - top_band_start, 0.0)
    )
    return {
        "line7_taxes": line7_taxes,
        "before_limitation": before_limit,
        "limitation": limitation,
        "line17": before_limit - limitation,
    }


def schedule_1a_seniors(h: Household, magi: Any, p: Params, ops: Any) -> Any:
    """Schedule 1-A Part V, the enhanced deduction for seniors (IRC §151(d)(5)(C), 2025-2028;
    2025 lines 32-37): `p.senior_amount` ($6,000) for each of the `h.seniors` qualified
    individuals (the taxpayer and, on a joint return, the spouse, aged 65 or over at the end of
    the year), each reduced, not below zero, by `p.senior_rate` (6%) of modified AGI above
    `p.senior_threshold` ($75,000; $150,000 joint): two seniors on a joint return lose 12 cents a
    dollar. None on a separate return (§151(d)(5)(C)(v)) and none after 2028: the amount is 0 in
    those years' data. Modified AGI is AGI plus the §§911, 931 and 933 exclusions (Part I), which
    isoplan does not model: `magi` is AGI. Returns line 37 (which is line 38 too: Parts II-IV,
    tips, overtime and car loan interest, are not modelled)."""
    line33 = ops.maximum(magi - p.senior_threshold, 0.0)
    line34 = p.senior_rate * line33
    line35 = ops.maximum(p.senior_amount - line34, 0.0)
    return line35 * h.seniors  # lines 36a and 36b, added on line 37


def deductions(h: Household, agi: Any, p: Params, ops: Any) -> dict[str, Any]:
    """Form 1040 lines 12e, 13b and 14 at AGI `agi` (line 11), the other inputs of `h` fixed:
    every deduction that moves with income moves with AGI alone (Schedule A's SALT phase-down,
    charity limits and §68 reduction; the senior deduction), so line 14 is a function of AGI.

    line12   line 12e: Schedule A line 17 if `h.itemize`, else the standard deduction with the
             additional amounts for age and blindness (§63(c), (f))
    line13b  Schedule 1-A line 38, here its Part V alone (`schedule_1a_seniors`), taken whether
             or not the household itemizes
    line14   lines 12e + 13b, plus for a non-itemizer the capped charity of §170(p) (2026+)
    """
    sched_a = schedule_a(h, agi, p, ops)
    standard = p.std + p.aged_blind * h.aged_blind
    # §170(p) (2026+): a capped charitable deduction for those who do not itemize.
    nonitemizer_charity = ops.minimum(ops.maximum(h.charitable, 0.0), p.charity_nonitemizer)
    itemizing = h.itemize > 0.5
    line12 = ops.where(itemizing, sched_a["line17"], standard)
    line13b = schedule_1a_seniors(h, agi, p, ops)
    line14 = line12 + line13b + ops.where(itemizing, 0.0, nonitemizer_charity)
    return {
        "itemizing": itemizing,
        "standard": standard,
        "schedule_a": sched_a,
        "line12": line12,
        "line13b": line13b,
        "line14": line14,
    }


def form_1040(h: Household, p: Params, ops: Any) -> dict[str, Any]:
    """Form 1040 lines 9-16 with the deduction `h.itemize` selects (1 itemized, 0 standard);
    the deductions of lines 12e-14 from `deductions`."""
    sched_d = schedule_d(h.stcg, h.ltcg, h.st_loss_carryover, h.lt_loss_carryover, p, ops)
    line7 = sched_d["line21"]
    line11_agi = h.wages + h.ordinary_income + h.interest + h.qualified_dividends + line7
    ded = deductions(h, line11_agi, p, ops)
    line14 = ded["line14"]
    line15 = ops.maximum(line11_agi - line14, 0.0)
    qdcg = qdcg_worksheet(line15, h.qualified_dividends, sched_d["net_capital_gain"], p, ops)
    return {
        "schedule_d": sched_d,
        "line7": line7,
        "agi": line11_agi,
        "itemizing": ded["itemizing"],
        "standard": ded["standard"],
        "schedule_a": ded["schedule_a"],
        "line12": ded["line12"],
        "line13b": ded["line13b"],
        "line14": line14,
        "taxable_income": line15,
        "qdcg_line5": qdcg["line5"],
        "regular_tax": qdcg["line25"],
    }


# ----------------------------------------------------------------------------------------------
# Form 6251 — Alternative Minimum Tax
# ----------------------------------------------------------------------------------------------


def amt_exemption(
    amti_before_addback: Any, exemption: Any, start: Any, rate: Any, mfs: Any, ops: Any
) -> tuple[Any, Any, Any]:
    """The MFS add-back, the AMTI after it and the exemption left after its phase-out: Form 6251
    lines 4-5 (IRC §55(d)), and Schedule P (540) Part II's exemption worksheet, which California
    writes the same way (R&TC §17062). Returns (add-back, AMTI, exemption)."""
    # Last sentence of §55(d)(2): an MFS filer adds the lesser of rate x (AMTI above the point where
    # the exemption is gone) or the exemption amount.
    gone_at = start + exemption / rate
    addback = mfs * ops.minimum(rate * ops.maximum(amti_before_addback - gone_at, 0.0), exemption)
    amti = amti_before_addback + addback
    return addback, amti, ops.maximum(exemption - rate * ops.maximum(amti - start, 0.0), 0.0)


def tentative_minimum_tax(
    amti_before_addback: Any,
    amt_gains: Any,
    regular_ordinary_income: Any,
    p: Params,
    ops: Any,
) -> dict[str, Any]:
    """Form 6251 line 4 (with the MFS add-back) through line 9, Part III for the gains.

    amt_gains is Part III line 13 (qualified dividends + net capital gain refigured for the AMT);
    regular_ordinary_income is QDCG worksheet line 5, anchoring the 0/15/20% bands (lines 20, 27).
    """
    addback, line4, line5 = amt_exemption(
        amti_before_addback, p.amt_exemption, p.amt_phaseout_start, p.amt_phaseout_rate, p.mfs, ops
    )
    line6 = ops.maximum(line4 - line5, 0.0)
    # Part III: gains keep their 0/15/20% rates inside the AMT.
    r0, r15, r20 = p.cg_rates
    line12 = line6
    line13 = ops.maximum(amt_gains, 0.0)
    line16 = ops.minimum(line12, line13)
    line17 = ops.maximum(line12 - line16, 0.0)
    line18 = amt_rate_schedule(line17, p, ops)
    line20 = regular_ordinary_income
    line21 = ops.maximum(p.cg0 - line20, 0.0)
    line22 = ops.minimum(line12, line13)
    line23 = ops.minimum(line21, line22)
    line24 = ops.maximum(line22 - line23, 0.0)
    line28 = line21 + line20
    line29 = ops.maximum(p.cg15 - line28, 0.0)
    line30 = ops.minimum(line24, line29)
    line31 = line30 * r15
    line32 = line23 + line30
    line33 = ops.maximum(line22 - line32, 0.0)
    line34 = line33 * r20
    line38 = line18 + line23 * r0 + line31 + line34
    line39 = amt_rate_schedule(line12, p, ops)
    line40 = ops.minimum(line38, line39)
    return {
        "mfs_addback": addback,
        "amti": line4,
        "exemption": line5,
        "taxable_excess": line6,
        "tmt": line40,
    }


def amt_deduction_lines(ded: dict[str, Any], ops: Any) -> dict[str, Any]:
    """Form 6251 lines 1a, 2a and 2_68 from Form 1040's deductions (`deductions`, or `form_1040`,
    which has the same keys): what the AMT takes back of line 14 (`form_6251` says why). The
    deductions the AMT allows are line 1a less line 2a less line 2_68."""
    itemizing = ded["itemizing"]
    return {
        "line1a": ded["line14"] - ded["line13b"],
        "line2a": ops.where(itemizing, ded["schedule_a"]["line7_taxes"], ded["standard"]),
        "line2_68": -ops.where(itemizing, ded["schedule_a"]["limitation"], 0.0),
    }


def form_6251(h: Household, f1040: dict[str, Any], p: Params, ops: Any) -> dict[str, Any]:
    """Form 6251 Part I: AMTI from taxable income plus adjustments; then the TMT and the AMT.

    line1  Form 1040 line 11 minus line 14 (may be negative): taxable income before its zero
           floor, the 2024 form's line 1 (and line 1 of the Capital Loss Carryover Worksheet)
    line1a Form 1040 line 14 minus Schedule 1-A line 37, the deduction for seniors (2025 form):
           a §151 deduction, which the AMT does not allow (§56(b)(1)), so it is added back
    line1b Form 1040 line 11 minus line 1a (may be negative); 2024 has no line 13b, so it is line 1
    line2a taxes deducted on Schedule A line 7 if itemizing, else the standard deduction (§56(b)(1))
    line2i ISO bargain element of shares held past year end (§56(b)(3))
    line2k disposition of property: AMT minus regular gain or loss, each with its own capital-loss
           limit (Form 6251 instructions), plus other disposition differences; the AMT gain or
           loss is the AMT Schedule D's (`schedule_d` with the AMT gains and the AMT loss
           carryovers in), so a carryover that differs for the AMT enters here too ("including
           any carryover that is different for the AMT", instructions, line 2k item 4)
    line2_68 the §68 reduction of itemized deductions, not applied for the AMT (§56(b)(1)),
           entered as a negative amount
    """
    line1 = f1040["agi"] - f1040["line14"]
    taken_back = amt_deduction_lines(f1040, ops)
    line1a, line2a, line2_68 = taken_back["line1a"], taken_back["line2a"], taken_back["line2_68"]
    line1b = f1040["agi"] - line1a
    amt_ltcg = h.ltcg + h.amt_ltcg_adjustment
    amt_stcg = h.stcg + h.amt_stcg_adjustment
    amt_sched_d = schedule_d(
        amt_stcg, amt_ltcg, h.amt_st_loss_carryover, h.amt_lt_loss_carryover, p, ops
    )
    amt_line7 = amt_sched_d["line21"]
    line2k = amt_line7 - f1040["line7"] + h.amt_ordinary_adjustment
    exclusion_amti = line1b + line2a + line2_68
    amti = exclusion_amti + h.iso_spread + line2k
    amt_gains = h.qualified_dividends + amt_sched_d["net_capital_gain"]
    tmt = tentative_minimum_tax(amti, amt_gains, f1040["qdcg_line5"], p, ops)
    line10 = f1040["regular_tax"]
    line11 = ops.maximum(tmt["tmt"] - line10, 0.0)
    return {
        "line1": line1,
        "line1b": line1b,
        "line2a": line2a,
        "line2k": line2k,
        "schedule_d": amt_sched_d,
        "exclusion_amti": exclusion_amti,
        "amti_before_addback": amti,
        "amt_gains": amt_gains,
        **tmt,
        "amt": line11,
    }


def form_8801(
    h: Household, f1040: dict[str, Any], f6251: dict[str, Any], p: Params, ops: Any
) -> dict[str, Any]:
    """Minimum tax credit (IRC §53; Form 8801).

    Allowed this year (Part II lines 21-25): min(carryforward, max(0, regular tax - TMT)).
    Generated for next year (next year's Part I, over this year's figures): this year's AMT less
    the AMT the exclusion items alone would have caused. Exclusion items (standard deduction, SALT
    and other itemized add-backs) are kept; deferral items (ISO spread line 2i, line 2k) are
    removed, and the capital gains are those of the regular tax (regular Schedule D, with the
    regular loss carryovers: an AMT carryover that differs is part of line 2k, a deferral item).
    """
    regular = f1040["regular_tax"]
    line24 = ops.maximum(regular - f6251["tmt"], 0.0)
    allowed = ops.minimum(ops.maximum(h.amt_credit_carryforward, 0.0), line24)
    exclusion_gains = h.qualified_dividends + f1040["schedule_d"]["net_capital_gain"]
    exclusion_tmt = tentative_minimum_tax(
        f6251["exclusion_amti"], exclusion_gains, f1040["qdcg_line5"], p, ops
    )["tmt"]
    net_minimum_tax_on_exclusions = ops.maximum(exclusion_tmt - regular, 0.0)
    generated = ops.maximum(f6251["amt"] - net_minimum_tax_on_exclusions, 0.0)
    return {
        "allowed": allowed,
        "generated": generated,
        "carryforward_out": h.amt_credit_carryforward - allowed + generated,
    }


def form_8960(h: Household, f1040: dict[str, Any], p: Params, ops: Any) -> Any:
    """Net investment income tax: 3.8% of the lesser of NII or MAGI above the threshold (§1411).
    NII here: interest and dividends plus the capital gain or (limited) loss of Form 1040 line 7;
    ISO spread and disqualifying-disposition compensation are not NII."""
    nii = ops.maximum(h.interest + h.qualified_dividends + f1040["line7"], 0.0)
    over = ops.maximum(f1040["agi"] - p.niit_threshold, 0.0)
    return p.niit_rate * ops.minimum(nii, over)


def form_8959(h: Household, p: Params, ops: Any) -> Any:
    """Additional Medicare Tax on wages above the threshold (§3101(b)(2)). ISO income is not
    FICA wages (§3121(a)(22)), so it never enters here."""
    return p.addl_medicare_rate * ops.maximum(h.wages - p.addl_medicare_threshold, 0.0)


def employee_fica(wages: Any, payroll: Any, ops: Any) -> Any:
    """Employee Social Security (up to the wage base) and Medicare on wages (§3101(a), (b)(1)).
    Not a Form 1040 line, but withheld from pay all the same; `payroll` is a `models.law.Payroll`.
    One earner: a couple's two wage bases are not split."""
    w = ops.maximum(wages, 0.0)
    return payroll.ss_rate * ops.minimum(w, payroll.ss_wage_base) + payroll.medicare_rate * w


# The form lines a CPA checks (`isoplan tax --lines`, a plan's `forms` table): a result of
# `household_tax` -> (form, line, what the line holds). Lines 1 and 2a of Form 6251 as the 2024
# form numbers them (2025's line 1 splits into 1-1b, `form_6251`).
FORM_LINES: dict[str, tuple[str, str, str]] = {
    "f1040_l7": ("Form 1040", "7", "capital gain or (loss)"),
    "agi": ("Form 1040", "11", "adjusted gross income"),
    "f1040_l12": ("Form 1040", "12", "standard deduction or itemized deductions"),
    "f1040_l13b": ("Form 1040", "13b", "deduction for seniors (Schedule 1-A), 2025-2028"),
    "deduction": ("Form 1040", "14", "total deductions"),
    "taxable_income": ("Form 1040", "15", "taxable income"),
    "regular_tax": ("Form 1040", "16", "tax"),
    "f6251_l1": ("Form 6251", "1", "taxable income before its floor at zero"),
    "f6251_l2a": ("Form 6251", "2a", "taxes (Schedule A line 7), or the standard deduction"),
    "f6251_l2i": ("Form 6251", "2i", "incentive stock options"),
    "line2k": ("Form 6251", "2k", "disposition of property"),
    "amti": ("Form 6251", "4", "alternative minimum taxable income"),
    "amt_exemption": ("Form 6251", "5", "exemption"),
    "f6251_l6": ("Form 6251", "6", "line 4 less line 5"),
    "tmt": ("Form 6251", "9", "tentative minimum tax"),
    "amt": ("Form 6251", "11", "alternative minimum tax"),
    "mtc_allowed": ("Form 8801", "25", "minimum tax credit"),
    "mtc_carryforward_out": ("Form 8801", "26", "credit carryforward to next year"),
    "niit": ("Form 8960", "17", "net investment income tax"),
    "additional_medicare_tax": ("Form 8959", "18", "Additional Medicare Tax"),
}


def household_tax(h: Household, p: Params, ops: Any) -> dict[str, Any]:
    """All forms for one deduction choice; the flat result the CLI and tests read."""
    f1040 = form_1040(h, p, ops)
    f6251 = form_6251(h, f1040, p, ops)
    f8801 = form_8801(h, f1040, f6251, p, ops)
    niit = form_8960(h, f1040, p, ops)
    addl_medicare = form_8959(h, p, ops)
    total = f1040["regular_tax"] + f6251["amt"] + niit + addl_medicare - f8801["allowed"]
    # Capital losses carried to next year: regular (worksheet line 1 = Form 1040 line 15, a loss
    # as negative, which is Form 6251 line 1) and AMT (line 1 = AMTI, Form 6251 line 4).
    carry = capital_loss_carryover(f6251["line1"], f1040["schedule_d"], ops)
    amt_carry = capital_loss_carryover(f6251["amti"], f6251["schedule_d"], ops)
    return {
        "agi": f1040["agi"],
        "deduction": f1040["line14"],
        "taxable_income": f1040["taxable_income"],
        "regular_tax": f1040["regular_tax"],
        "amti": f6251["amti"],
        "amt_exemption": f6251["exemption"],
        "tmt": f6251["tmt"],
        "amt": f6251["amt"],
        "niit": niit,
        "additional_medicare_tax": addl_medicare,
        "mtc_allowed": f8801["allowed"],
        "mtc_generated": f8801["generated"],
        "mtc_carryforward_out": f8801["carryforward_out"],
        "st_loss_carryover_out": carry["line8"],
        "lt_loss_carryover_out": carry["line13"],
        "amt_st_loss_carryover_out": amt_carry["line8"],
        "amt_lt_loss_carryover_out": amt_carry["line13"],
        "total_tax": total,
        "itemized": f1040["itemizing"],
        "line2k": f6251["line2k"],
        "f1040_l7": f1040["line7"],
        "f1040_l12": f1040["line12"],
        "f1040_l13b": f1040["line13b"],
        "f6251_l1": f6251["line1"],
        "f6251_l2a": f6251["line2a"],
        "f6251_l2i": h.iso_spread,
        "f6251_l6": f6251["taxable_excess"],
    }
