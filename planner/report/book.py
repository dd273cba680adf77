"""A batch folder's dashboard: the book at a glance, what to do this year client by client, and
each client's row with its flags.

The headline's totals are the run's summary (batch.json, `planner.batch.headlines`): computed
figures, without a cell of their own. Every figure of the tables is a Parquet cell of the
folder's `actions_due` (keyed by its row's position) or `clients` (keyed by client_id) dataset,
and carries its source like every report's. A static page cannot re-sort, so the tables come
sorted by value at stake, the largest first, and say so; a very large book's tables show the
first `ROW_LIMIT` rows (the workbook likewise), the datasets hold them all.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from planner.report.common import Col, approach_label, key_value, make_table
from planner.report.formats import CENTS, DATE, MONEY, SECONDS, SHARES, TEXT, is_missing, show
from planner.report.model import Block, Card, Cards, Paragraph, Section, Table, Value
from planner.report.source import BatchTables

ROW_LIMIT = 1000
ACTIONS = {
    "exercise": "exercise",
    "sale": "sell",
    "exercise_and_sell": "exercise and sell",
    "none": "nothing to exercise or sell",
    "failed": "not planned",
}
FLAGS = (
    ("iso_window_end_this_year", "ISO window ends"),
    ("expiry_this_year", "options expire"),
    ("tender_this_year", "tender offer"),
)
ORDER = (
    "Sorted by value at stake (the client's value over its best baseline at the scenario's "
    "prices), the largest first, then by client and date; clients that could not be planned "
    "last. The page is static: to sort otherwise, use the workbook (`-o FILE.xlsx`)."
)


def _flags(row: pd.Series) -> str:
    """A row's flags in words: this year's deadlines and tender with their dates, a time limit
    hit, a failure."""
    out = [f"{label} {show(row[c], DATE)}" for c, label in FLAGS if not is_missing(row.get(c))]
    for column, label in (("time_limit_hit", "time limit hit"), ("failed", "not planned")):
        value = row.get(column)
        if not is_missing(value) and bool(value):
            out.append(label)
    return "; ".join(out)


def _capped(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    if len(df) <= ROW_LIMIT:
        return df, []
    return df.iloc[:ROW_LIMIT], [
        f"The first {ROW_LIMIT:,} of {len(df):,} rows; the dataset holds them all."
    ]


def _count(label: str, value: Any, note: tuple[str | Value, ...] = ()) -> Card:
    return Card(label, Value(value, SHARES), note)


def headline(b: BatchTables) -> list[Block]:
    """The book's totals: clients planned and failed, the value of planning at the scenario's
    and at flat prices, the AMT; then the baselines one by one and the failed clients."""
    s = b.summary
    flat = s.get("flat_prices") or {}
    planned = (
        f"of {s.get('clients', 0):,}; {s.get('failed', 0):,} could not be planned, "
        f"{s.get('time_limits_hit', 0):,} hit the time limit"
    )
    cards = [
        _count("Clients planned", s.get("planned"), (planned,)),
        Card(
            "Value of planning at the scenario's prices",
            Value(s.get("value_over_best_baselines"), MONEY),
            ("over each client's best baseline, the assumed price growth included",),
        ),
    ]
    if flat:
        cards += [
            Card(
                "Value of planning at flat prices",
                Value(flat.get("value_over_best_baselines"), MONEY),
                (
                    f"the same plans of {flat.get('clients', 0):,} clients, every price after the "
                    "first year at the first year's, against ",
                    Value(flat.get("value_over_best_baselines_at_scenario_prices"), MONEY),
                    " for them at the scenario's",
                ),
            ),
            Card(
                "Wealth that is only the assumed price growth",
                Value(flat.get("price_growth_wealth"), MONEY),
                ("their plans' after-tax wealth at the scenario's prices less at flat prices",),
            ),
        ]
    cards.append(
        Card(
            "AMT the plans pay",
            Value(s.get("amt_paid"), MONEY),
            ("federal and California, over the horizons",),
        )
    )
    blocks: list[Block] = [Cards(tuple(cards))]
    if flat.get("not_evaluated"):
        blocks.append(
            Paragraph(
                (
                    f"Clients with no figure at flat prices: {flat['not_evaluated']:,}. Their "
                    "plans need the assumed growth (at flat prices their sales no longer fund "
                    "their exercises and cash falls below the floor), or their baselines there "
                    "hit the time limit; each client's row says which.",
                ),
                "note",
            )
        )
    blocks.append(
        Paragraph(
            (
                "Value of planning at flat prices: each client's plan, made for the scenario's "
                "prices, evaluated again exactly with every price after the first year (each "
                "year's FMV, later sale windows, the terminal price) at the first year's FMV, "
                "less the best of the four baselines run again at those prices. The optimizer "
                "could choose that plan at flat prices, so this is a lower bound of what planning "
                "for flat prices is worth. Values are in the objective's dollars (after-tax "
                "wealth; with min_tax, tax saved), positive when the plan is better.",
            ),
            "note",
        )
    )
    if s.get("paths_ignored"):
        blocks.append(
            Paragraph(
                (
                    f"Clients whose files list price paths, which a batch ignores: "
                    f"{s['paths_ignored']:,}. Each is planned on its own prices (`isoplan plan "
                    "FILE` makes the plan robust to them).",
                ),
                "warning",
            )
        )
    blocks.append(baselines_table(s))
    errors = b.get("errors")
    if errors is not None:
        blocks.append(failed_table(errors))
    return blocks


def baselines_table(s: dict[str, Any]) -> Table:
    """Per baseline: the AMT it pays, the value of the plans over it, over how many clients."""
    paid = s.get("amt_paid_by_baseline") or {}
    over = s.get("value_over_baseline") or {}
    clients = s.get("clients_by_baseline") or {}
    names = list(paid)
    frame = pd.DataFrame(
        {
            "baseline": [approach_label(n) for n in names],
            "AMT it pays": [paid.get(n) for n in names],
            "value of the plans over it": [over.get(n) for n in names],
            "clients": [clients.get(n) for n in names],
        }
    )
    kinds: dict[str, str | list[str]] = {
        "baseline": TEXT,
        "AMT it pays": MONEY,
        "value of the plans over it": MONEY,
        "clients": SHARES,
    }
    note = (
        "Totals over the clients each baseline has a plan for (one that breaks a client's cash "
        f"floor has none); the plans pay {show(s.get('amt_paid'), MONEY)} of AMT over all the "
        "planned clients. Value over a baseline: positive when the plans are better."
    )
    return Table("The plans against each baseline", frame, kinds, {}, (note,))


def failed_table(errors: pd.DataFrame) -> Table:
    cols = [
        Col("client", "client_id", TEXT),
        Col("stage", "stage", TEXT),
        Col("why", "reason", TEXT),
    ]
    notes = (
        "Stage: read (a row or file that cannot be read), validate (a field that breaks a rule), "
        "plan (no feasible plan), time_limit (no plan in time), crash (a bug).",
    )
    keys = [str(c) for c in errors["client_id"]]
    return make_table("Clients that could not be planned", errors, "errors", keys, cols, notes)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _short(value: Any, limit: int = 60) -> str:
    """A note cut to fit a table's cell (the whole reason is in the failed clients' table)."""
    text = _text(value)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def actions_due_table(due: pd.DataFrame) -> Table:
    shown, more = _capped(due)
    subjects = [
        _text(o) or _text(lot) for o, lot in zip(shown["option_id"], shown["lot_id"], strict=True)
    ]
    cols = [
        Col("value at stake", "value_at_stake"),
        Col("client", "client_id", TEXT),
        Col("action", values=[ACTIONS.get(a, str(a)) for a in shown["action"]], kind=TEXT),
        Col("date", "date", DATE),
        Col("grant / lot", values=subjects, kind=TEXT),
        Col("shares", "shares", SHARES),
        Col("price / share", "price", CENTS),
        Col("strike cost", "strike_cost"),
        Col("proceeds", "proceeds"),
        Col("year's cash needed", "year_cash_needed"),
        Col("of which tax", "year_extra_tax"),
        Col("tax due", "tax_due_date", DATE),
        Col("flags", values=[_flags(r) for _, r in shown.iterrows()], kind=TEXT),
        Col("note", values=[_short(n) for n in shown["note"]], kind=TEXT),
    ]
    notes = (
        ORDER,
        "One row per exercise or sale of the first year of each client's horizon; a client "
        "with none but a flag has one row (nothing to exercise or sell), and so does a client "
        "that could not be planned. The year's cash needed is the strike of all that year's "
        "exercises plus the tax the plan adds that year (due on the date shown, from the next "
        "year's cash): the same on each of a client's rows, not to be added up.",
        *more,
    )
    keys = [str(i) for i in shown.index]
    return make_table("This year's actions, by value at stake", shown, "actions_due", keys, cols,
                      notes)  # fmt: skip


def clients_table(clients: pd.DataFrame) -> Table:
    ordered = clients.sort_values(
        ["value_over_best_baseline", "client_id"], ascending=[False, True], na_position="last"
    )
    shown, more = _capped(ordered)
    best = [_text(b) for b in shown.get("best_baseline", [None] * len(shown))]
    cols = [
        Col("client", "client_id", TEXT),
        Col("value over best baseline", "value_over_best_baseline"),
        Col("at flat prices", "value_over_best_baseline_flat"),
        Col("price growth in wealth", "price_growth_wealth"),
        Col("after-tax wealth", "after_tax_wealth"),
        Col("AMT paid", "amt_paid"),
        Col("best baseline", values=[approach_label(b) if b else "" for b in best], kind=TEXT),
        Col("status", "status", TEXT),
        Col("flags", values=[_flags(r) for _, r in shown.iterrows()], kind=TEXT),
        Col("at flat prices: why no figure", "flat_note", TEXT),
    ]
    notes = (
        "Sorted by the value over the best baseline at the scenario's prices, the largest "
        "first, then by client.",
        "At flat prices: the same plan and the baselines with every price after the first year "
        "at the first year's; price growth in wealth: the plan's after-tax wealth at the "
        "scenario's prices less at flat prices.",
        *more,
    )
    keys = [str(c) for c in shown["client_id"]]
    return make_table("Clients", shown, "clients", keys, cols, notes)


def run_table(b: BatchTables) -> Table:
    """Where the results come from: the book, the options, the run."""
    s, m = b.summary, b.manifest
    options = m.get("options") or {}
    given = ", ".join(f"{k} {v}" for k, v in options.items() if v is not None)
    rows: list[tuple[str, Any, str, None]] = [
        ("book", s.get("book"), TEXT, None),
        ("results", s.get("outdir"), TEXT, None),
        ("clients in the book", s.get("clients"), SHARES, None),
        ("planning options of the run", given or "none: each client's own", TEXT, None),
        ("isoplan version", m.get("isoplan"), TEXT, None),
        ("engine", s.get("engine"), TEXT, None),
        ("workers", s.get("workers"), SHARES, None),
        ("median solve time", s.get("median_solve_seconds"), SECONDS, None),
        ("worst solve time", s.get("worst_solve_seconds"), SECONDS, None),
    ]
    return key_value("The run", rows)


def batch_sections(b: BatchTables) -> list[Section]:
    """The dashboard's sections, in order."""
    due, clients = b.get("actions_due"), b.get("clients")
    return [
        Section("book", "The book", headline(b)),
        Section("actions-due", "Actions due this year",
                [actions_due_table(due)] if due is not None else []),
        Section("clients", "Clients", [clients_table(clients)] if clients is not None else []),
        Section("assumptions", "Assumptions", [run_table(b)]),
    ]  # fmt: skip
