"""The action plan: the headline (the plan against the best baseline and doing nothing), the
warnings, what to do when, the cash it needs and when its tax is due, and the key dates."""

from __future__ import annotations

from typing import Any

import pandas as pd

from planner.report.common import (
    DO_NOTHING,
    Col,
    View,
    approach_label,
    best_baseline,
    has_column,
    make_table,
    objective_of,
    ref_value,
    scenario_of,
    scenario_row,
    summary_row,
    total_of,
    year_labels,
)
from planner.report.formats import (
    CENTS,
    DATE,
    MONEY,
    SCI,
    SHARES,
    TEXT,
    is_missing,
    number,
    show,
)
from planner.report.model import (
    Block,
    Card,
    Cards,
    Paragraph,
    Ref,
    Table,
    Value,
)
from planner.report.source import PlanTables

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


def _due_dates(years: pd.DataFrame) -> tuple[list[Any], str]:
    """When each year's extra tax is due: the law's date (years.tax_due_date), else the usual
    April 15 of the next year, said as such."""
    if "tax_due_date" in years:
        return years["tax_due_date"].tolist(), DATE
    return [f"April 15, {int(y) + 1}" for y in years["year"]], TEXT


def cash_needs_table(v: View) -> Table | None:
    years = v.get("years")
    if years is None:
        return None
    actions = v.get("actions")
    exercised = []
    for y in years["year"]:
        if actions is None:
            exercised.append(0.0)
            continue
        rows = actions[
            (actions["year"] == y) & actions["kind"].isin(["exercise", "exercise_and_sell"])
        ]
        exercised.append(float(rows["shares"].sum()))
    due, due_kind = _due_dates(years)
    strike, extra = years.get("exercise_cost"), years.get("extra_tax")
    both = (
        [total_of([a, b]) for a, b in zip(strike, extra, strict=True)]
        if strike is not None and extra is not None
        else None
    )
    cols = [
        Col("year", values=year_labels(years), kind=TEXT),
        Col("shares exercised", values=exercised, kind=SHARES),
        Col("strike cost", "exercise_cost"),
        Col("tax it adds", "extra_tax"),
        Col("tax due", values=due, kind=due_kind),
        Col("strike + tax", values=both),
        Col("sale proceeds", "proceeds"),
        Col("cash at end of year", "cash"),
    ]
    notes = [
        "The tax a year's actions add (federal and California, FICA on NSO spread included) is "
        "paid when the year's return is due, from the next year's cash; a negative figure is "
        "tax saved (credit coming back). Strike + tax is the year's whole cost of its exercises."
    ]
    return make_table(
        "The cash it needs",
        years,
        v.table("years"),
        [str(int(y)) for y in years["year"]],
        cols,
        notes,
        ["projected" if lab.endswith("*") else "" for lab in year_labels(years)],
    )


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


def headline(pt: PlanTables) -> list[Block]:
    """The optimized plan against the best baseline and doing nothing: the first thing read."""
    plan = summary_row(pt, "optimized")
    if plan is None:
        return [
            Paragraph(
                (
                    "No plan: the scenario has no feasible plan, or none was found within the time "
                    "limit (`isoplan plan` says why). The key dates and warnings below are the "
                    "scenario's.",
                ),
                "warning",
            )
        ]
    wealth = objective_of(pt) == "wealth"
    column, what = (
        ("after_tax_wealth", "after-tax wealth")
        if wealth
        else ("pv_extra_tax", "present value of the extra tax")
    )
    ours = number(plan.get(column))
    cards = [
        Card(
            f"This plan: {what}",
            ref_value(pt, "summary", "optimized", column, plan, MONEY),
            ("at the horizon, after every tax" if wealth else "the tax the plan adds, discounted",),
        )
    ]

    def versus(name: str, label: str) -> Card | None:
        row = summary_row(pt, name)
        if row is None:
            return None
        theirs = number(row.get(column))
        note: tuple[str | Value, ...] = ()
        if ours is not None and theirs is not None:
            diff = (ours - theirs) if wealth else (theirs - ours)
            note = (f"this plan is {show(abs(diff), MONEY)} {'better' if diff >= 0 else 'worse'}",)
        return Card(label, ref_value(pt, "summary", name, column, row, MONEY), note)

    best = best_baseline(pt)
    if best is not None:
        card = versus(best, f"Best baseline: {approach_label(best)}")
        if card:
            cards.append(card)
    if best != DO_NOTHING:
        card = versus(DO_NOTHING, "Doing nothing until liquidity")
        if card:
            cards.append(card)
    if has_column(pt.get("summary"), "total_extra_tax"):
        cards.append(
            Card(
                "Extra tax this plan pays",
                ref_value(pt, "summary", "optimized", "total_extra_tax", plan, MONEY),
                (
                    "of which AMT ",
                    ref_value(pt, "summary", "optimized", "amt_paid", plan, MONEY),
                    "; credit left ",
                    ref_value(pt, "summary", "optimized", "credit_left", plan, MONEY),
                ),
            )
        )
    return [Cards(tuple(cards)), *solver_line(pt, "optimized")]


def solver_line(pt: PlanTables, approach: str) -> list[Block]:
    row = summary_row(pt, approach)
    if row is None or is_missing(row.get("solver")):
        return []
    parts: list[str | Value] = [f"Solver {row['solver']}: {row.get('status', '')}"]
    if not is_missing(row.get("gap")):
        parts += [", proven gap ", ref_value(pt, "summary", approach, "gap", row, SCI)]
    if not is_missing(row.get("gap_requested")):
        parts += [" (asked ", ref_value(pt, "summary", approach, "gap_requested", row, SCI), ")"]
    if not is_missing(row.get("plan_vs_exact")):
        parts += [
            ". The exact tax engine re-evaluated the plan year by year: it differs from the "
            "optimizer's own figures by at most ",
            ref_value(pt, "summary", approach, "plan_vs_exact", row, CENTS),
        ]
    parts.append(".")
    return [Paragraph(tuple(parts), "note")]


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
