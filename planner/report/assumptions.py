"""The assumptions: prices, sale windows, income, the scenario's own figures and where the
results come from (isoplan version, tax-law years and projection, solver, status, gap)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from planner.report.common import (
    Col,
    View,
    has_column,
    inflation,
    is_california,
    key_value,
    make_table,
    meta_list,
    nonzero,
    scenario_of,
    summary_row,
    year_table,
)
from planner.report.formats import (
    BOOL,
    CENTS,
    DATE,
    INTEGER,
    MISSING,
    MONEY,
    PERCENT,
    SCI,
    SECONDS,
    SHARES,
    TEXT,
    is_missing,
    number,
    show,
)
from planner.report.model import (
    Block,
    Paragraph,
    Ref,
    Table,
)
from planner.report.source import PlanTables

# The scenario's figures (scenario.parquet) and how each reads.
SCENARIO_FIELDS = {
    "filing_status": ("filing status", TEXT),
    "objective": ("objective", TEXT),
    "start_cash": ("cash at the start", MONEY),
    "cash_floor": ("cash floor", MONEY),
    "cash_return": ("return on cash (after tax, a year)", PERCENT),
    "terminal_price": ("price per share at the horizon", CENTS),
    "terminal_tax_rate": ("tax rate on held shares' gain at the horizon", PERCENT),
    "terminal_ordinary_rate": ("tax rate on vested options' spread at the horizon", PERCENT),
    "credit_value": ("value of $1 of credit left", CENTS),
    "discount_rate": ("discount rate", PERCENT),
    "share_step": ("shares are exercised in steps of", SHARES),
    "ipo_date": ("IPO date", DATE),
    "liquid_from": ("shares can be sold from", DATE),
    "amt_credit_carryforward": ("federal AMT credit carried in", MONEY),
    "ca_amt_credit_carryforward": ("California AMT credit carried in", MONEY),
}


def provenance_table(pt: PlanTables, approach: str) -> Table:
    meta = pt.meta
    rate = inflation(meta)

    rows: list[tuple[str, Any, str, Ref | None]] = [
        ("isoplan version", meta.get("version"), TEXT, None),
        ("schema version", meta.get("schema_version"), TEXT, None),
        ("scenario", meta.get("scenario"), TEXT, None),
        ("tax-law years", meta_list(meta, "tax_law_years") or None, TEXT, None),
        ("published tax law", meta_list(meta, "published_years") or None, TEXT, None),
        ("projected years", meta_list(meta, "projected_years") or "none", TEXT, None),
        (
            "assumed inflation (projected years)",
            MISSING if rate is None else f"{show(rate, PERCENT)} a year",
            TEXT,
            None,
        ),
    ]
    row = summary_row(pt, approach)
    if row is not None:
        for label, column, kind in (
            ("solver", "solver", TEXT),
            ("status", "status", TEXT),
            ("proven gap", "gap", SCI),
            ("gap asked", "gap_requested", SCI),
            ("build time", "build_seconds", SECONDS),
            ("solve time", "solve_seconds", SECONDS),
            ("largest plan-vs-exact difference", "plan_vs_exact", CENTS),
            ("model variables", "model_variables", INTEGER),
            ("model integers", "model_integers", INTEGER),
            ("model constraints", "model_constraints", INTEGER),
        ):
            if column in row.index and not is_missing(row[column]):
                ref = None if kind == TEXT else Ref(f"{pt.prefix}summary", approach, column)
                rows.append((label, row[column], kind, ref))
    return key_value("Provenance", [r for r in rows if not is_missing(r[1])])


def scenario_table(v: View) -> Table | None:
    df = v.get("scenario")
    if df is None:
        return None
    row, key = df.iloc[0], str(df.index[0])
    rows = []
    for column in df.columns:
        if column in ("description", "path") or is_missing(row[column]):
            continue
        label, kind = SCENARIO_FIELDS.get(column, (column.replace("_", " "), None))
        if isinstance(row[column], bool):
            kind = BOOL
        elif kind is None:
            kind = TEXT if number(row[column]) is None else MONEY
        sourced = number(row[column]) is not None and kind not in (BOOL, TEXT)
        rows.append(
            (label, row[column], kind, Ref(v.table("scenario"), key, column) if sourced else None)
        )
    return key_value("The scenario's figures", rows)


def prices_table(v: View) -> Table | None:
    if not has_column(v.get("years"), "fmv"):
        return None
    cols = [Col("FMV / share", "fmv", CENTS), Col("exercise date", "exercise_date", DATE)]
    notes = [
        "Each year's fair market value per share (a private company's 409A value), the price "
        "the AMT counts on an exercise at that year's exercise date."
    ]
    return year_table(v, "Prices", cols, notes)


def windows_table(v: View) -> Table | None:
    windows = v.get("windows")
    if windows is None:
        return None
    every_path = v.path is None and "path" in windows
    cols = [
        *([Col("path", "path", TEXT)] if every_path else []),
        Col("window", "id", TEXT),
        Col("kind", "kind", TEXT),
        Col("date", "date", DATE),
        Col("year", "year", TEXT),
        Col("price / share", "price", CENTS),
        Col("most shares", "max_shares", SHARES),
    ]
    keys = [str(k) for k in windows["id"]] if "id" in windows else [str(i) for i in windows.index]
    tables = (
        [f"{v.pt.prefix}{p}/windows" for p in windows["path"]] if every_path else v.table("windows")
    )
    return make_table(
        "Sale windows" + (", per path" if every_path else ""),
        windows,
        tables,
        keys,
        cols,
        [
            "When shares can be sold and at what price: the open market once the IPO's lockup "
            "has ended (each year's window), tender offers (with a cap)."
        ],
    )


INCOME = (
    ("wages", "wages"),
    ("other ordinary income", "ordinary_income"),
    ("interest", "interest"),
    ("qualified dividends", "qualified_dividends"),
    ("savings", "savings"),
    ("SALT", "salt"),
    ("mortgage interest", "mortgage_interest"),
    ("charitable", "charitable"),
)


def income_table(v: View) -> Table | None:
    years = v.get("years")
    cols = [Col("state", "state", TEXT)] if is_california(years) else []
    cols += [
        Col(label, column)
        for label, column in INCOME
        if column in ("wages", "savings") or nonzero(years, column)
    ]
    notes = [
        "The household's income each year as its return shows it (a disqualifying sale of the "
        "plan adds ordinary income, an NSO exercise wages; capital gains are in the CPA "
        "appendix), and what it saves each year after its own taxes and spending."
    ]
    title = "Income and spending, per year" + (f" (path {v.path})" if v.path else "")
    return year_table(v, title, cols, notes)


def assumptions_blocks(
    v: View, approach: str = "optimized", market: Sequence[Table | None] | None = None
) -> list[Block]:
    """The scenario's description, the prices and sale windows (`market` in place of the view's
    own: a robust plan's, of every path), income, the scenario's figures and the provenance."""
    description = scenario_of(v).get("description")
    market = [prices_table(v), windows_table(v)] if market is None else market
    tables = [*market, income_table(v), scenario_table(v), provenance_table(v.pt, approach)]
    return [
        *([Paragraph((str(description),), "lead")] if description else []),
        *(t for t in tables if t is not None),
    ]
