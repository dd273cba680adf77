"""Grant law: when option shares vest, which of them are ISOs, and until when they can be exercised.

Written once, like `models.forms`, for one grant (`SCALAR`: Python ints) or many grants at once
(`VECTOR`: numpy arrays, one element per grant). Dates are day numbers (`day_of`, `date_of`), so the
same arithmetic runs on both kinds; `ops` supplies the calendar. The figures of the law come in as
`models.law.IsoLaw`.

- Vesting (`vested`): shares vest on a schedule or on explicit dates, none before the grant date
  (earlier ones vest on it), none after the holder leaves or the option expires.
- The $100,000 limit of IRC §422(d) (`iso_part`): of a grant's shares first exercisable in a
  calendar year, those whose value at grant fits in what the employer's earlier grants left of the
  year's limit are ISOs, the rest NSOs. A year's ISO shares are its first ones (`iso_vested`).
- Shares exercised before the horizon come off the earliest vested, ISO part first
  (`exercised_before`).
- Expiry: no later than the ISO term after the grant (§422(b)(3), `latest_expiry`), nor than the
  plan's window after leaving (`expiry`); an exercise more than the §422(a)(2) months after leaving
  is taxed as an NSO (`iso_deadline`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from models.forms import SCALAR
from models.law import IsoLaw


def day_of(d: date) -> int:
    """The day number of a date (days since 1970-01-01)."""
    return SCALAR.day(d.year, d.month, d.day)


def date_of(day: int) -> date:
    return date(*SCALAR.ymd(day))


# The termination day of a holder still employed: later than any date planned, with room left for
# the date arithmetic after it.
NEVER = SCALAR.day(9000, 1, 1)


def add_months(day: Any, months: Any, ops: Any) -> Any:
    """The same day of the month `months` later; the month's last day when that month is shorter."""
    y, m, d = ops.ymd(day)
    total = m - 1 + months
    year, month = y + total // 12, total % 12 + 1
    return ops.day(year, month, ops.minimum(d, ops.month_length(year, month)))


def add_years(day: Any, years: Any, ops: Any) -> Any:
    """The same calendar day `years` later (February 29 becomes February 28)."""
    return add_months(day, 12 * years, ops)


def months_elapsed(start: Any, t: Any, ops: Any) -> Any:
    """The number of whole months m with add_months(start, m) <= t (negative before start)."""
    sy, sm, sd = ops.ymd(start)
    ty, tm, td = ops.ymd(t)
    return (ty - sy) * 12 + (tm - sm) - (ops.minimum(sd, ops.month_length(ty, tm)) > td)


def year_end(year: Any, ops: Any) -> Any:
    return ops.day(year, 12, 31)


# ----------------------------------------------------------------------------------------------
# Vesting
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vesting:
    """A grant's vesting: day numbers and share counts, each a number or an array over grants.

    The schedule vests floor(shares x m / months) after m months from `start`, every
    `period_months`; nothing before `cliff_months`, at the cliff everything up to it; `months` 0
    vests everything at `start`. `dates`, (day, shares) events, replace the schedule (one grant
    only). `termination` (NEVER: still employed) and `expiry` end the vesting."""

    grant_date: Any
    start: Any
    cliff_months: Any
    months: Any
    period_months: Any
    shares: Any
    termination: Any
    expiry: Any
    dates: tuple[tuple[int, int], ...] | None = None


def vested(t: Any, v: Vesting, ops: Any) -> Any:
    """Shares vested on or before day `t`."""
    t = ops.minimum(t, ops.minimum(v.termination, v.expiry))
    if v.dates is not None:
        scheduled = sum(ops.where(day <= t, n, 0) for day, n in v.dates)
    else:
        m = months_elapsed(v.start, t, ops)
        periods = ops.maximum(m, 0) // v.period_months * v.period_months
        mark = ops.minimum(periods, v.months)
        mark = ops.where(v.cliff_months > 0, ops.maximum(mark, v.cliff_months), mark)
        mark = ops.where(m < v.cliff_months, 0, ops.minimum(mark, v.months))
        by_schedule = v.shares * mark // ops.maximum(v.months, 1)
        scheduled = ops.where(v.months == 0, ops.where(t >= v.start, v.shares, 0), by_schedule)
    return ops.where(t >= v.grant_date, scheduled, 0)


def first_exercisable(v: Vesting, years: list[int], ops: Any) -> list[Any]:
    """The shares first exercisable (vested) in each of the consecutive calendar `years`."""
    ends = [vested(year_end(z, ops), v, ops) for z in (years[0] - 1, *years)]
    return [b - a for a, b in itertools.pairwise(ends)]


# ----------------------------------------------------------------------------------------------
# The $100,000 limit (§422(d))
# ----------------------------------------------------------------------------------------------


def iso_part(
    first: list[Any], fmv: Any, is_iso: Any, left: list[Any], ops: Any
) -> tuple[list[Any], list[Any]]:
    """IRC §422(d)(1): the ISO shares of each year among a grant's `first` exercisable ones.

    `fmv` is the value per share at grant; `left[j]` is what the employer's grants made before
    this one left of year j's limit (`IsoLaw.annual_limit` for the employer's first grant): grants
    must come in the order granted (§422(d)(2)). Returns the ISO shares of each year and what
    this grant leaves of each year's limit. A grant that is not an ISO (`is_iso` false) has none."""
    out, after = [], []
    priced = fmv > 0
    per_share = ops.where(priced, fmv, 1.0)
    for n, budget in zip(first, left, strict=True):
        # The 1e-9: an exact fit, budget / fmv a whole number, may come out a hair short in floats.
        room = ops.where(priced, ops.floor(budget / per_share + 1e-9), math.inf)
        iso = ops.where(is_iso, ops.minimum(n, room), 0)
        out.append(iso)
        after.append(budget - iso * ops.where(priced, fmv, 0.0))
    return out, after


def iso_vested(t: Any, v: Vesting, iso: list[Any], years: list[int], ops: Any) -> Any:
    """The ISO shares vested on or before day `t`, given each year's ISO part `iso`: all of those of
    earlier years, and of t's year the shares vested so far up to its ISO part."""
    y = ops.ymd(t)[0]
    earlier = sum(ops.where(z < y, n, 0) for z, n in zip(years, iso, strict=True))
    this_year = sum(ops.where(z == y, n, 0) for z, n in zip(years, iso, strict=True))
    so_far = vested(t, v, ops) - vested(year_end(y - 1, ops), v, ops)
    return earlier + ops.minimum(so_far, this_year)


def exercised_before(
    exercised: Any, first: list[Any], iso: list[Any], years: list[int], first_year: Any, ops: Any
) -> tuple[Any, Any, Any]:
    """Shares `exercised` before `first_year` come off the earliest vested, ISO part first.
    Returns the ISO and the NSO shares they used, and the shares vested before `first_year`."""
    left, used_iso, used_nso, before = exercised, 0, 0, 0
    for z, n, iso_n in zip(years, first, iso, strict=True):
        early = z < first_year
        take_iso = ops.where(early, ops.minimum(iso_n, left), 0)
        take_nso = ops.where(early, ops.minimum(n - iso_n, left - take_iso), 0)
        used_iso, used_nso = used_iso + take_iso, used_nso + take_nso
        left = left - take_iso - take_nso
        before = before + ops.where(early, n, 0)
    return used_iso, used_nso, before


def exercisable(t: Any, vested_part: Any, used: Any, expiry: Any, ops: Any) -> Any:
    """Options of one part (ISO or NSO) exercisable on day `t`: vested less exercised before, none
    after the expiry."""
    return ops.where(t <= expiry, ops.maximum(vested_part - used, 0), 0)


# ----------------------------------------------------------------------------------------------
# Expiry and the ISO deadline
# ----------------------------------------------------------------------------------------------


def latest_expiry(grant_date: Any, law: IsoLaw, ops: Any) -> Any:
    """IRC §422(b)(3): an ISO is not exercisable after `law.max_term_years` from its grant. The
    default expiry of every grant."""
    return add_years(grant_date, law.max_term_years, ops)


def expiry(expiry: Any, termination: Any, post_termination_days: Any, ops: Any) -> Any:
    """The last day to exercise: the option's expiry, or the plan's `post_termination_days` after
    leaving if that is sooner."""
    return ops.minimum(expiry, termination + post_termination_days)


def iso_deadline(termination: Any, law: IsoLaw, ops: Any) -> Any:
    """IRC §422(a)(2): the holder must have been an employee until `law.post_termination_months`
    before the exercise. The last day an exercise after leaving is still taxed as an ISO."""
    return add_months(termination, law.post_termination_months, ops)
