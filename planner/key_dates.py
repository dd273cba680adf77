"""The key dates of a plan, and the warnings about dates that need acting on now.

Key dates (`key_dates`), one row per date and event, in date order:
- `qualifying`: the first day a sale of an ISO lot is a qualifying disposition
  (`models.scenario.qualifying_date`, the date `is_qualifying` compares with);
- `long_term`: the first day a sale of a lot is long-term (`models.scenario.long_term_date`);
- `expiry`: the last day an option class can be exercised (`OptionClass.expiry`: the option's
  term, or the plan's window after leaving if sooner);
- `iso_window_end`: the last day an exercise after leaving is still taxed as an ISO
  (`OptionClass.iso_deadline`; not shown when the options expire before it).
Lots held at the start and the lots the plan's exercises create both appear; every option class
appears, exercised or not.

Warnings (`date_warnings`): an expiry or an ISO window end within the plan's first tax year (act
now), a sale window of a year dated before that year's exercise date (the plan exercises on
the exercise date, so shares exercised that year cannot be sold in that window), and a move into
or out of California within the horizon (what of it isoplan does not model), and a grant whose
strike is at or above the price of every year and sale window (underwater: never worth
exercising in the plan).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from models.scenario import (
    ISO,
    Lot,
    OptionClass,
    Plan,
    Scenario,
    TaxYear,
    exercise_lot,
    long_term_date,
    qualifying_date,
)

KEY_DATE_COLUMNS = ("date", "event", "lot_id", "option_id", "grant_id", "source", "shares")
WARNING_COLUMNS = ("warning", "year", "date", "subject", "message")

QUALIFYING, LONG_TERM = "qualifying", "long_term"
EXPIRY, ISO_WINDOW_END = "expiry", "iso_window_end"
EVENT_ORDER = {QUALIFYING: 0, LONG_TERM: 1, ISO_WINDOW_END: 2, EXPIRY: 3}
DEADLINE_FIRST_YEAR = "deadline_first_year"
LIQUIDITY_BEFORE_EXERCISE = "liquidity_before_exercise"
MOVE = "move"
UNDERWATER = "underwater"


def plan_lots(scenario: Scenario, plan: Plan | None) -> list[tuple[Lot, str]]:
    """The lots held at the start ("scenario"), then those the plan's exercises create ("plan"),
    by year and in the scenario's order of option classes."""
    lots = [(lot, "scenario") for lot in scenario.lots]
    if plan is None:
        return lots
    years = {ty.year: ty for ty in scenario.years}
    for ty in scenario.years:
        for option in scenario.options:
            shares = plan.exercises.get((option.id, ty.year), 0.0)
            if shares > 0:
                lots.append((exercise_lot(option, years[ty.year], shares), "plan"))
    return lots


def key_dates(scenario: Scenario, plan: Plan | None) -> pd.DataFrame:
    """The key dates of `plan` (None: of the scenario alone), one row per date and event (see the
    module docstring): `date`, `event`, `lot_id` (lots), `option_id` (option classes),
    `grant_id`, `source` ("scenario" | "plan" for lots, "grant" for option classes), `shares`
    (a lot's shares: created, or held at the start; none for an option class)."""
    rows = []
    for lot, source in plan_lots(scenario, plan):
        lot_row = {"lot_id": lot.id, "option_id": None, "grant_id": lot.grant_id or None,
                   "source": source, "shares": lot.shares}  # fmt: skip
        if lot.kind == ISO:
            rows.append({"date": qualifying_date(lot), "event": QUALIFYING, **lot_row})
        rows.append({"date": long_term_date(lot), "event": LONG_TERM, **lot_row})
    for option in scenario.options:
        option_row = {"lot_id": None, "option_id": option.id, "grant_id": option.grant_id,
                      "source": "grant", "shares": None}  # fmt: skip
        deadline = _iso_window_end(option)
        if deadline is not None:
            rows.append({"date": deadline, "event": ISO_WINDOW_END, **option_row})
        rows.append({"date": option.expiry, "event": EXPIRY, **option_row})
    rows.sort(key=lambda r: (r["date"], EVENT_ORDER[r["event"]], r["lot_id"] or r["option_id"]))
    frame = pd.DataFrame(rows, columns=list(KEY_DATE_COLUMNS))
    return frame.astype({"shares": "float64"})


def _iso_window_end(option: OptionClass) -> date | None:
    """The end of the ISO window after leaving, if it comes before the options expire."""
    deadline = option.iso_deadline
    if option.kind != ISO or deadline is None or deadline >= option.expiry:
        return None
    return deadline


def date_warnings(scenario: Scenario) -> pd.DataFrame:
    """The warnings of a scenario (see the module docstring): `warning` (`DEADLINE_FIRST_YEAR` |
    `LIQUIDITY_BEFORE_EXERCISE` | `MOVE` | `UNDERWATER`), `year`, `date` (the deadline, the sale
    window's, January 1 of the first year in the new residence, or the first exercise date),
    `subject` (option class ids, the sale window's id, the residence, or the grant) and
    `message`, in date order."""
    rows = [
        *_first_year_deadlines(scenario),
        *_liquidity_before_exercise(scenario),
        *_moves(scenario),
        *_underwater(scenario),
    ]
    rows.sort(key=lambda r: (r["date"], r["warning"], r["subject"]))
    return pd.DataFrame(rows, columns=list(WARNING_COLUMNS)).astype({"year": "int64"})


def first_year_deadlines(scenario: Scenario) -> list[tuple[date, str, OptionClass]]:
    """The deadlines to act on this year: each expiry (`EXPIRY`) or ISO window end
    (`ISO_WINDOW_END`) within the first tax year, per option class. Not for an option class with
    nothing left to exercise on the first exercise date, when the deadline comes after it."""
    first = scenario.years[0]
    out = []
    for option in scenario.options:
        for event, deadline in ((EXPIRY, option.expiry), (ISO_WINDOW_END, _iso_window_end(option))):
            if deadline is None or deadline.year != first.year:
                continue
            if deadline >= first.exercise_date and option.exercisable.get(first.year, 0.0) <= 0:
                continue
            out.append((deadline, event, option))
    return out


def _first_year_deadlines(scenario: Scenario) -> list[dict[str, object]]:
    """`first_year_deadlines`, one warning per grant, date and event (a grant's ISO and NSO
    parts expire together)."""
    first = scenario.years[0]
    grouped: dict[tuple[date, str, str], list[str]] = {}
    for deadline, event, option in first_year_deadlines(scenario):
        grouped.setdefault((deadline, event, option.grant_id), []).append(option.id)
    rows: list[dict[str, object]] = []
    for (deadline, event, grant_id), ids in grouped.items():
        message = _deadline_message(event, deadline, grant_id, first)
        rows.append({
            "warning": DEADLINE_FIRST_YEAR, "year": first.year, "date": deadline,
            "subject": ", ".join(ids), "message": message,
        })  # fmt: skip
    return rows


def _deadline_message(event: str, deadline: date, grant_id: str, first: TaxYear) -> str:
    day, year, ex = deadline.isoformat(), first.year, first.exercise_date.isoformat()
    if event == EXPIRY:
        message = f"grant {grant_id}: the options expire on {day}, within {year}: exercise by then"
        if deadline < first.exercise_date:
            message += (
                f"; {year}'s exercise date {ex} is after it, so the plan cannot exercise them "
                f"(set an exercise_date on or before {day} under prices.{year} to plan it)"
            )
        return message + "."
    message = (
        f"grant {grant_id}: the ISO window after leaving ends on {day}, within {year}: an "
        "exercise after it is taxed as an NSO"
    )
    if deadline < first.exercise_date:
        message += (
            f"; {year}'s exercise date {ex} is after it, so the plan exercises them as NSOs "
            f"(set an exercise_date on or before {day} under prices.{year} to plan ISO exercises)"
        )
    return message + "."


def _liquidity_before_exercise(scenario: Scenario) -> list[dict[str, object]]:
    """A sale window of a year dated before that year's exercise date."""
    years = {ty.year: ty for ty in scenario.years}
    rows: list[dict[str, object]] = []
    for window in scenario.windows:
        ty = years.get(window.year)
        if ty is None or window.date >= ty.exercise_date:
            continue
        what = "tender offer" if window.kind == "tender" else "open-market sale"
        day, ex = window.date.isoformat(), ty.exercise_date.isoformat()
        rows.append({
            "warning": LIQUIDITY_BEFORE_EXERCISE, "year": ty.year, "date": window.date,
            "subject": window.id,
            "message": (
                f"{ty.year}: the {what} on {day} comes before the year's exercise date {ex}: "
                f"shares exercised that year can be sold in it only if exercised on {day} and "
                f"sold the same day (a disqualifying disposition; set an exercise_date on or "
                f"before {day} under prices.{ty.year} to exercise earlier and hold)."
            ),
        })  # fmt: skip
    return rows


def _moves(scenario: Scenario) -> list[dict[str, object]]:
    """A year whose residence differs from the year before's: isoplan taxes each year as a
    whole year in its residence, so what a move changes beyond that is said here."""
    rows: list[dict[str, object]] = []
    for before, ty in zip(scenario.years, scenario.years[1:], strict=False):
        if before.state == ty.state:
            continue
        if before.state == "ca":
            message = (
                f"{ty.year}: no longer a California resident. isoplan taxes each year whole in "
                f"its residence: the year of the move (part-year, Form 540NR) is not split. "
                "California still taxes, by the workdays in California from grant to exercise, "
                "the spread of an ISO exercised after the move (its AMT adjustment) and of a "
                "disqualifying disposition after it (as wages), which isoplan leaves out; a "
                "qualifying sale after the move is not California income. California's credit "
                "carried out (years table, ca_credit_carryforward_out) offsets California tax "
                "only."
            )
        else:
            message = (
                f"{ty.year}: a California resident from this year. A sale while resident is "
                "California income in full; the California AMT basis of shares exercised before "
                "the move is taken as their federal AMT basis, which isoplan does not refigure."
            )
        rows.append({
            "warning": MOVE, "year": ty.year, "date": date(ty.year, 1, 1),
            "subject": ty.state or "no state", "message": message,
        })  # fmt: skip
    return rows


def _underwater(scenario: Scenario) -> list[dict[str, object]]:
    """A grant whose every option class has its strike at or above every price of the horizon
    (each year's FMV and each sale window's price), one warning per grant, in the first year."""
    prices = [ty.fmv for ty in scenario.years] + [w.price for w in scenario.windows]
    first = scenario.years[0]
    grants: dict[str, list[OptionClass]] = {}
    for option in scenario.options:
        grants.setdefault(option.grant_id, []).append(option)
    rows: list[dict[str, object]] = []
    for grant_id, options in grants.items():
        strike = min(o.strike for o in options)
        if strike < max(prices):
            continue
        rows.append({
            "warning": UNDERWATER, "year": first.year, "date": first.exercise_date,
            "subject": grant_id,
            "message": (
                f"grant {grant_id}: underwater, its strike ${strike:,.2f} at or above every price "
                f"of the horizon (at most ${max(prices):,.2f}): exercising it never pays, so the "
                "plan leaves it alone."
            ),
        })  # fmt: skip
    return rows
