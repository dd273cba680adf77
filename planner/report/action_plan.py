"""The action plan after its headline (headline.py): the warnings, what to do when, the cash it
needs and when its tax is due, and the key dates."""

from __future__ import annotations

from typing import Any

import pandas as pd

from models.law import return_due_date
from planner.errors import InputError
from planner.law import law_for_years
from planner.report.common import (
    Col,
    View,
    inflation,
    make_table,
    scenario_of,
    scenario_row,
    total_of,
    year_table,
)
from planner.report.formats import CENTS, DATE, MONEY, SHARES, TEXT, is_missing
from planner.report.model import Block, Paragraph, Ref, Table, Value

EVENTS = {
    "qualifying": "qualifying disposition from this day",
    "long_term": "long-term from this day",
    "iso_window_end": "ISO window ends (last day to exercise as an ISO)",
    "expiry": "options expire (last day)",
}


def _action_label(a: pd.Series) -> tuple[str, str, str]:
    """An action's verb, what it acts on, and its note."""
    kind, treatment = a.get("kind"), str(a.get("treatment", "") or "").upper()
    window = a.get("window_id")
    at = f" in {window}" if isinstance(window, str) and window else ""
    if kind == "exercise":
        return "exercise", str(a.get("option_id")), treatment
    if kind == "exercise_and_sell":
        return f"exercise and sell{at}", str(a.get("option_id")), f"{treatment}, sold the same day"
    if treatment == "ISO" and not is_missing(a.get("qualifying")):
        note = "qualifying" if bool(a.get("qualifying")) else "disqualifying"
    elif not is_missing(a.get("long_term")):
        note = "long-term" if bool(a.get("long_term")) else "short-term"
    else:
        note = ""
    return f"sell{at}", str(a.get("lot_id")), f"{treatment}, {note}".strip(", ")


def actions_table(v: View, title: str = "What to do") -> Table | None:
    actions = v.get("actions")
    if actions is None:
        return None
    labels = [_action_label(a) for _, a in actions.iterrows()]
    cols = [
        Col("year", values=[str(y) for y in actions["year"]], kind=TEXT),
        Col("date", "date", DATE),
        Col("action", values=[lab[0] for lab in labels], kind=TEXT),
        Col("grant / lot", values=[lab[1] for lab in labels], kind=TEXT),
        Col("shares", "shares", SHARES),
        Col("price / share", "price", CENTS),
        Col("FMV / share", "fmv", CENTS),
        Col("strike cost", "cost", MONEY),
        Col("sale proceeds", "proceeds", MONEY),
        Col("note", values=[lab[2] for lab in labels], kind=TEXT),
    ]
    notes = (
        "An exercise is planned at the date shown (its year's FMV, the price the AMT counts): "
        "exercise on or before it. A sale is in the sale window of that date; the price of an "
        "exercise is the strike, of a sale the window's price.",
    )
    return make_table(
        title, actions, v.table("actions"), [str(i) for i in actions.index], cols, notes
    )


def _due_dates(v: View, years: pd.DataFrame) -> list[Any]:
    """When each year's extra tax is due: the plan's (years.tax_due_date), else the law's day
    for that year (`models.law.return_due_date`, an older folder); a dash if there is no law."""
    if "tax_due_date" in years:
        return years["tax_due_date"].tolist()
    try:
        laws = law_for_years([int(y) for y in years["year"]], inflation(v.pt.meta))
    except InputError:
        return [None] * len(years)
    return [return_due_date(laws[int(y)]) for y in years["year"]]


def cash_needs_table(v: View) -> Table | None:
    years = v.get("years")
    if years is None:
        return None
    actions = v.get("actions")
    exercised = [
        0.0
        if actions is None
        else float(actions[(actions["year"] == y) & (actions["kind"] != "sale")]["shares"].sum())
        for y in years["year"]
    ]
    strike, extra = years.get("exercise_cost"), years.get("extra_tax")
    both = (
        [total_of([a, b]) for a, b in zip(strike, extra, strict=True)]
        if strike is not None and extra is not None
        else None
    )
    cols = [
        Col("shares exercised", values=exercised, kind=SHARES),
        Col("strike cost", "exercise_cost"),
        Col("tax it adds", "extra_tax"),
        Col("tax due", values=_due_dates(v, years), kind=DATE),
        Col("strike + tax", values=both),
        Col("sale proceeds", "proceeds"),
        Col("cash at end of year", "cash"),
    ]
    notes = [
        "The tax a year's actions add (federal and California, FICA on NSO spread included) is "
        "paid when the year's return is due, from the next year's cash; a negative figure is "
        "tax saved (credit coming back). Strike + tax is the year's whole cost of its exercises."
    ]
    return year_table(v, "The cash it needs", cols, notes)


def key_dates_table(
    v: View, title: str = "Key dates", dates: pd.DataFrame | None = None, windows: bool = True
) -> Table | None:
    """The lots' qualifying and long-term dates, the options' expiries and ISO windows, and the
    sale windows (the open market after the IPO lockup, tenders), the IPO, by date."""
    dates = v.get("key_dates") if dates is None else dates
    rows: list[dict[str, Any]] = []
    if dates is not None:
        groups: dict[tuple[Any, str, Any], list[Any]] = {}
        for i, d in dates.iterrows():
            lot = d.get("lot_id")
            subject = str(lot if isinstance(lot, str) and lot else d.get("option_id"))
            shares = d.get("shares")
            groups.setdefault(
                (d["date"], subject, None if is_missing(shares) else shares), []
            ).append(i)
        for (day, subject, _), idx in groups.items():
            first = dates.loc[idx[0]]
            events = [str(dates.loc[i, "event"]) for i in idx]
            what = ", ".join(EVENTS.get(e, e).replace(" from this day", "") for e in events)
            if all(e in ("qualifying", "long_term") for e in events):
                what += " from this day"
            rows.append(
                {
                    "date": day,
                    "what": what,
                    "subject": subject,
                    "shares": first.get("shares"),
                    "shares_ref": Ref(v.table("key_dates"), str(idx[0]), "shares"),
                    "price": None,
                    "price_ref": None,
                    "from": str(first.get("source", "")),
                }
            )
    sale_windows = v.get("windows") if windows else None
    if sale_windows is not None:
        first_market = True
        for _, w in sale_windows.sort_values("date").iterrows():
            kind = str(w.get("kind", ""))
            if kind == "market":
                what = (
                    "first market sale window (after the IPO lockup)"
                    if first_market
                    else "market sale window"
                )
                first_market = False
            else:
                what = "tender offer" if kind == "tender" else f"{kind} sale window"
            key = str(w.get("id"))
            rows.append(
                {
                    "date": w.get("date"),
                    "what": what,
                    "subject": key,
                    "shares": w.get("max_shares"),
                    "shares_ref": Ref(v.table("windows"), key, "max_shares"),
                    "price": w.get("price"),
                    "price_ref": Ref(v.table("windows"), key, "price"),
                    "from": "sale window",
                }
            )
    if windows:  # the scenario's own dates (scenario.parquet, when it has them)
        scenario = scenario_of(v)
        for column, what in (("ipo_date", "IPO"), ("liquid_from", "shares can be sold from")):
            if not is_missing(scenario.get(column)):
                rows.append(
                    {"date": scenario[column], "what": what, "subject": "", "shares": None,
                     "shares_ref": None, "price": None, "price_ref": None, "from": "scenario"}
                )  # fmt: skip
    if not rows:
        return None
    rows.sort(key=lambda r: (str(r["date"]), r["subject"]))
    frame = pd.DataFrame(
        {
            "date": [r["date"] for r in rows],
            "what": [r["what"] for r in rows],
            "grant / lot / window": [r["subject"] for r in rows],
            "shares": [r["shares"] for r in rows],
            "price / share": [r["price"] for r in rows],
            "from": [r["from"] for r in rows],
        }
    )
    kinds: dict[str, str | list[str]] = {
        "date": DATE,
        "what": TEXT,
        "grant / lot / window": TEXT,
        "shares": SHARES,
        "price / share": CENTS,
        "from": TEXT,
    }
    refs = {
        "shares": [r["shares_ref"] if not is_missing(r["shares"]) else None for r in rows],
        "price / share": [r["price_ref"] for r in rows],
    }
    notes = (
        "Qualifying and long-term: a sale from that day on is a qualifying disposition (more "
        "than two years after the grant and one after the exercise) or long-term. Expiry and the "
        "ISO window's end: the last day. A sale window's shares are its cap (a tender's).",
    )
    return Table(title, frame, kinds, refs, notes)


def warnings_blocks(v: View) -> list[Block]:
    warnings = v.get("warnings")
    if warnings is None or "message" not in warnings:
        return []
    return [Paragraph((f"Warning: {m}",), "warning") for m in warnings["message"].dropna()]


def action_plan_blocks(
    v: View, dates: pd.DataFrame | None = None, windows: bool = True
) -> list[Block]:
    """Warnings, what to do, the cash it needs (and the floor), the key dates (`dates` in place
    of the view's own; `windows`: with the sale windows)."""
    blocks: list[Block] = [*warnings_blocks(v)]
    if v.get("actions") is None and v.get("years") is not None:
        blocks.append(Paragraph(("The plan makes no exercise and no sale.",), "lead"))
    for t in (actions_table(v), cash_needs_table(v)):
        if t is not None:
            blocks.append(t)
    scenario, key = scenario_row(v)
    floor = scenario.get("cash_floor")
    if floor is not None:
        blocks.append(
            Paragraph(
                (
                    "Cash never falls below the floor of ",
                    Value(floor, MONEY, Ref(v.table("scenario"), key, "cash_floor")),
                    ".",
                ),
                "note",
            )
        )
    key_dates = key_dates_table(v, dates=dates, windows=windows)
    if key_dates is not None:
        blocks.append(key_dates)
    return blocks
