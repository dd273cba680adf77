"""Grant law (models.grants): vesting, the $100,000 ISO limit, exercises before the horizon,
expiry; one code for one grant (SCALAR) and for many at once (VECTOR), checked to agree."""

from __future__ import annotations

import calendar
import dataclasses
from collections import defaultdict
from datetime import date
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.forms import SCALAR, VECTOR
from models.grants import (
    NEVER,
    Vesting,
    add_months,
    add_years,
    date_of,
    day_of,
    exercisable,
    exercised_before,
    expiry,
    first_exercisable,
    iso_deadline,
    iso_part,
    iso_vested,
    latest_expiry,
    months_elapsed,
    vested,
)
from models.law import IsoLaw, YearLaw, iso_law_for

PERIODS = (1, 3, 12)


def schedule(
    grant_date: date = date(2024, 1, 15),
    shares: int = 4_800,
    start: date | None = None,
    cliff: int = 0,
    months: int = 48,
    period: int = 1,
    dates: list[tuple[date, int]] | None = None,
) -> Vesting:
    return Vesting(
        grant_date=day_of(grant_date),
        start=day_of(start or grant_date),
        cliff_months=cliff,
        months=months,
        period_months=period,
        shares=shares,
        termination=NEVER,
        expiry=add_years(day_of(grant_date), 10, SCALAR),
        dates=None if dates is None else tuple((day_of(d), n) for d, n in dates),
    )


def events(v: Vesting) -> list[tuple[date, int]]:
    """(date, shares) of every day on which shares vest, read off `vested` day by day."""
    days = np.arange(v.grant_date - 1_500, v.grant_date + 6 * 366)
    if v.dates is None:
        counts = vested(days, v, VECTOR)
    else:
        counts = np.array([vested(int(t), v, SCALAR) for t in days])
    steps = np.diff(counts)
    return [(date_of(int(days[i + 1])), int(steps[i])) for i in np.flatnonzero(steps)]


# ----------------------------------------------------------------------------------------------
# vesting
# ----------------------------------------------------------------------------------------------


def test_cliff_then_monthly() -> None:
    # 4,800 shares over 48 months with a 12-month cliff: 1,200 on 2025-01-15, then 100 a month.
    found = events(schedule(cliff=12))
    assert found[0] == (date(2025, 1, 15), 1_200)
    assert found[1] == (date(2025, 2, 15), 100)
    assert len(found) == 37 and found[-1] == (date(2028, 1, 15), 100)
    assert sum(n for _, n in found) == 4_800


def test_vesting_rounds_down_and_ends_with_every_share() -> None:
    found = events(schedule(shares=1_000))
    assert [n for _, n in found[:4]] == [20, 21, 21, 21]  # floor(1000 * m / 48) cumulative
    assert sum(n for _, n in found) == 1_000 and len(found) == 48


def test_quarterly_annual_and_month_ends() -> None:
    q = events(schedule(period=3))
    assert len(q) == 16 and q[0] == (date(2024, 4, 15), 300)
    a = events(schedule(period=12))
    assert a == [(date(2025 + k, 1, 15), 1_200) for k in range(4)]
    # A vesting start on the 31st vests on the last day of shorter months.
    m = events(schedule(grant_date=date(2024, 1, 31), months=4))
    assert [d for d, _ in m] == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30),
                                 date(2024, 5, 31)]  # fmt: skip
    assert date_of(add_months(day_of(date(2025, 1, 31)), 1, SCALAR)) == date(2025, 2, 28)
    assert date_of(add_years(day_of(date(2024, 2, 29)), 1, SCALAR)) == date(2025, 2, 28)


def test_vesting_start_before_grant_and_explicit_dates() -> None:
    # A vesting commencement before the grant: what vested before it vests on the grant date.
    assert events(schedule(start=date(2023, 1, 15), cliff=12))[0] == (date(2024, 1, 15), 1_200)
    explicit = schedule(dates=[(date(2025, 6, 1), 800), (date(2024, 6, 1), 4_000)])
    assert events(explicit) == [(date(2024, 6, 1), 4_000), (date(2025, 6, 1), 800)]
    assert events(schedule(months=0)) == [(date(2024, 1, 15), 4_800)]


def test_termination_and_expiry_end_the_vesting() -> None:
    v = dataclasses.replace(schedule(cliff=12), termination=day_of(date(2026, 9, 20)))
    assert vested(day_of(date(2030, 1, 1)), v, SCALAR) == 3_200  # through 2026-09-15
    v = dataclasses.replace(schedule(cliff=12), expiry=day_of(date(2025, 6, 30)))
    assert vested(day_of(date(2030, 1, 1)), v, SCALAR) == 1_700


def test_first_exercisable_per_calendar_year() -> None:
    assert first_exercisable(schedule(cliff=12), [2024, 2025, 2026, 2027, 2028], SCALAR) == [
        0, 2_300, 1_200, 1_200, 100,
    ]  # fmt: skip


# ----------------------------------------------------------------------------------------------
# the $100,000 limit (IRC §422(d)), expiry and the ISO deadline
# ----------------------------------------------------------------------------------------------


def test_iso_part_counts_the_limit_in_grant_order(laws: dict[int, YearLaw]) -> None:
    law = iso_law_for(laws[2026])
    # Grant A ($10 at grant) uses $30,000 of each year; grant B ($30) gets floor(70,000 / 30).
    iso_a, left = iso_part([3_000, 3_000], 10.0, True, [law.annual_limit] * 2, SCALAR)
    assert iso_a == [3_000, 3_000] and left == [70_000.0, 70_000.0]
    iso_b, left = iso_part([4_000, 0], 30.0, True, left, SCALAR)
    assert iso_b == [2_333, 0] and left == [10.0, 70_000.0]
    # An NSO grant has no ISO part and leaves the limit alone; a zero value at grant is all ISO.
    assert iso_part([5_000], 10.0, False, [100.0], SCALAR) == ([0], [100.0])
    assert iso_part([5_000], 0.0, True, [100.0], SCALAR) == ([5_000], [100.0])


def test_iso_vested_and_exercised_before() -> None:
    # 30,000 shares vesting monthly over 24 months from 2024-12-15: 1,250 a month, 15,000 in 2025,
    # of which the first 10,000 (January-August) are ISO.
    v = schedule(grant_date=date(2024, 12, 15), shares=30_000, months=24)
    years = [2024, 2025, 2026]
    first = first_exercisable(v, years, SCALAR)
    iso = [min(n, 10_000) for n in first]
    assert first == [0, 15_000, 15_000]
    assert iso_vested(day_of(date(2025, 6, 30)), v, iso, years, SCALAR) == 7_500
    assert iso_vested(day_of(date(2025, 12, 15)), v, iso, years, SCALAR) == 10_000
    assert iso_vested(day_of(date(2026, 3, 15)), v, iso, years, SCALAR) == 13_750
    # 12,000 exercised before 2026: the 10,000 ISO shares of 2025, then 2,000 of its NSO part.
    assert exercised_before(12_000, first, iso, years, 2026, SCALAR) == (10_000, 2_000, 15_000)
    assert exercisable(day_of(date(2026, 1, 1)), 2_500, 3_000, day_of(date(2030, 1, 1)),
                       SCALAR) == 0  # fmt: skip


def test_expiry_and_iso_deadline(laws: dict[int, YearLaw]) -> None:
    law = iso_law_for(laws[2026])
    grant = day_of(date(2016, 12, 1))
    assert date_of(latest_expiry(grant, law, SCALAR)) == date(2026, 12, 1)  # §422(b)(3)
    left = day_of(date(2026, 9, 20))
    assert date_of(expiry(latest_expiry(grant, law, SCALAR), left, 90, SCALAR)) == date(2026, 12, 1)
    assert date_of(expiry(day_of(date(2030, 1, 1)), left, 90, SCALAR)) == date(2026, 12, 19)
    assert expiry(day_of(date(2030, 1, 1)), NEVER, 90, SCALAR) == day_of(date(2030, 1, 1))
    assert date_of(iso_deadline(left, law, SCALAR)) == date(2026, 12, 20)  # §422(a)(2)


# ----------------------------------------------------------------------------------------------
# vesting against a statement of the schedule event by event
# ----------------------------------------------------------------------------------------------


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, min(d.day, calendar.monthrange(d.year + y, m + 1)[1]))


def _schedule_events(v: Vesting) -> list[tuple[date, int]]:
    """The schedule's (date, shares) events: floor(shares x m / months) at each period's end
    from the cliff on (and at the cliff), moved to the grant date when earlier."""
    start, grant = date_of(v.start), date_of(v.grant_date)
    if v.months == 0:
        raw = [(start, v.shares)]
    else:
        marks = {m for m in range(v.period_months, v.months + 1, v.period_months)}
        marks = sorted({m for m in marks if m >= v.cliff_months} | ({v.cliff_months} - {0}))
        cumulative = [v.shares * m // v.months for m in marks]
        raw = [(_add_months(start, m), c - b)
               for m, c, b in zip(marks, cumulative, [0, *cumulative], strict=False)]  # fmt: skip
    merged: dict[date, int] = defaultdict(int)
    for d, n in raw:
        merged[max(d, grant)] += n
    return sorted((d, n) for d, n in merged.items() if n > 0)


days = st.integers(day_of(date(2012, 1, 1)), day_of(date(2036, 12, 31)))


@st.composite
def schedules(draw: st.DrawFn) -> Vesting:
    grant = draw(days)
    period = draw(st.sampled_from(PERIODS))
    months = period * draw(st.integers(0, 60 // period))
    term = draw(st.one_of(st.just(NEVER), st.integers(grant, grant + 3_000)))
    return Vesting(
        grant_date=grant,
        start=grant + draw(st.integers(-500, 500)),
        cliff_months=draw(st.integers(0, months)),
        months=months,
        period_months=period,
        shares=draw(st.integers(1, 200_000)),
        termination=term,
        expiry=draw(st.integers(grant + 1, grant + 4_000)),
    )


@settings(max_examples=200, deadline=None)
@given(schedules(), days)
def test_vested_is_the_sum_of_the_schedule_events(v: Vesting, t: int) -> None:
    stop = date_of(min(t, v.termination, v.expiry))
    want = sum(n for d, n in _schedule_events(v) if d <= stop)
    assert vested(t, v, SCALAR) == want


# ----------------------------------------------------------------------------------------------
# one code, two kinds: SCALAR on each grant equals VECTOR on all of them
# ----------------------------------------------------------------------------------------------


def _stack(values: list[Any]) -> Any:
    """Per-grant values (numbers, lists, Vesting, IsoLaw) as one value of arrays."""
    one = values[0]
    if dataclasses.is_dataclass(one):
        names = [f.name for f in dataclasses.fields(one) if f.name != "dates"]
        return type(one)(**{name: _stack([getattr(v, name) for v in values]) for name in names})
    if isinstance(one, list | tuple):
        return type(one)(_stack([v[j] for v in values]) for j in range(len(one)))
    return np.array(values)


def _same(scalar: list[Any], vector: Any) -> None:
    if isinstance(vector, list | tuple):
        for j, part in enumerate(vector):
            _same([s[j] for s in scalar], part)
        return
    np.testing.assert_array_equal(np.asarray(vector, dtype=float), np.array(scalar, dtype=float))


def both(fn: Any, rows: list[tuple[Any, ...]]) -> None:
    """`fn` on each row's arguments with SCALAR, and on all rows at once with VECTOR."""
    scalar = [fn(*row, SCALAR) for row in rows]
    vector = fn(*(_stack([row[k] for row in rows]) for k in range(len(rows[0]))), VECTOR)
    _same(scalar, np.broadcast_to(vector, (len(rows),)) if np.ndim(vector) == 0 else vector)


grants = st.lists(schedules(), min_size=1, max_size=12)
laws_drawn = st.builds(
    IsoLaw,
    annual_limit=st.sampled_from([100_000.0, 50_000.0]),
    post_termination_months=st.integers(0, 12),
    max_term_years=st.integers(1, 15),
)
YEARS = list(range(2011, 2042))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(days, st.integers(-40, 40)), min_size=1, max_size=20))
def test_calendar_scalar_equals_vector(rows: list[tuple[int, int]]) -> None:
    both(add_months, rows)
    both(add_years, [(d, k // 4) for d, k in rows])
    both(months_elapsed, [(d, d + 31 * k) for d, k in rows])


@settings(max_examples=100, deadline=None)
@given(grants, st.data())
def test_vesting_scalar_equals_vector(vs: list[Vesting], data: Any) -> None:
    ts = [data.draw(days) for _ in vs]
    both(vested, list(zip(ts, vs, strict=True)))
    both(lambda v, ops: first_exercisable(v, YEARS, ops), [(v,) for v in vs])


@settings(max_examples=100, deadline=None)
@given(grants, st.data())
def test_iso_limit_and_exercises_scalar_equal_vector(vs: list[Vesting], data: Any) -> None:
    firsts = [first_exercisable(v, YEARS, SCALAR) for v in vs]
    fmv = [data.draw(st.sampled_from([0.0, 0.37, 4.0, 10.0, 33.33])) for _ in vs]
    is_iso = [data.draw(st.booleans()) for _ in vs]
    left = [[data.draw(st.sampled_from([0.0, 9_999.99, 100_000.0])) for _ in YEARS] for _ in vs]
    both(iso_part, list(zip(firsts, fmv, is_iso, left, strict=True)))
    isos = [iso_part(*row, SCALAR)[0] for row in zip(firsts, fmv, is_iso, left, strict=True)]
    exercised = [data.draw(st.integers(0, 300_000)) for _ in vs]
    first_year = [data.draw(st.sampled_from(YEARS)) for _ in vs]
    both(
        lambda e, f, i, y, ops: exercised_before(e, f, i, YEARS, y, ops),
        list(zip(exercised, firsts, isos, first_year, strict=True)),
    )
    ts = [data.draw(days) for _ in vs]
    both(
        lambda t, v, i, ops: iso_vested(t, v, i, YEARS, ops),
        list(zip(ts, vs, isos, strict=True)),
    )
    parts = [data.draw(st.integers(0, 9)) for _ in vs]
    both(exercisable, [(t, n, 4, v.expiry) for t, n, v in zip(ts, parts, vs, strict=True)])


@settings(max_examples=100, deadline=None)
@given(grants, st.data())
def test_expiry_scalar_equals_vector(vs: list[Vesting], data: Any) -> None:
    laws = [data.draw(laws_drawn) for _ in vs]  # the book's rows each have their year's law
    both(latest_expiry, [(v.grant_date, law) for v, law in zip(vs, laws, strict=True)])
    both(iso_deadline, [(v.termination, law) for v, law in zip(vs, laws, strict=True)])
    post = [data.draw(st.integers(0, 2_000)) for _ in vs]
    both(expiry, [(v.expiry, v.termination, p) for v, p in zip(vs, post, strict=True)])
