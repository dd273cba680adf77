"""The CPA appendix: the form lines per year, the lot ledger (Form 3921's fields, regular and
AMT basis) and the law figures used, each traceable to its cell or its source."""

from __future__ import annotations

from typing import Any

import pandas as pd

from planner.report.common import (
    Col,
    View,
    column_values,
    is_california,
    make_table,
    projected_labels,
    scenario_of,
)
from planner.report.formats import (
    CENTS,
    DATE,
    SHARES,
    TEXT,
    number,
)
from planner.report.law_figures import law_blocks
from planner.report.model import (
    Block,
    Paragraph,
    Ref,
    Table,
)

FEDERAL_FORMS = ("Form 1040", "Form 6251", "Form 8801", "Form 8960", "Form 8959")


def forms_tables(v: View) -> list[Table]:
    forms = v.get("forms")
    if forms is None:
        return []
    years_df = v.get("years")
    years = sorted({int(y) for y in forms["year"]})
    star = set(projected_labels(years_df)) if years_df is not None else set()
    heads = {y: f"{y}*" if f"{y}*" in star else str(y) for y in years}
    out = []
    federal = forms["form"].isin(FEDERAL_FORMS)
    for title, part in (
        ("Federal form lines", forms[federal]),
        ("California form lines", forms[~federal]),
    ):
        if part.empty:
            continue
        lines = part.drop_duplicates(["form", "line"])[["form", "line", "description"]]
        frame: dict[str, list[Any]] = {
            "form": lines["form"].tolist(),
            "line": lines["line"].tolist(),
            "description": lines["description"].tolist(),
        }
        kinds: dict[str, str | list[str]] = {"form": TEXT, "line": TEXT, "description": TEXT}
        refs: dict[str, list[Ref | None]] = {}
        cell = {(int(r["year"]), r["form"], r["line"]): i for i, r in part.iterrows()}
        for y in years:
            values, col_refs = [], []
            for form, line in zip(lines["form"], lines["line"], strict=True):
                i = cell.get((y, form, line))
                values.append(None if i is None else part.loc[i, "amount"])
                col_refs.append(
                    None if i is None else Ref(v.table("forms"), f"{y}|{form}|{line}", "amount")
                )
            frame[heads[y]], kinds[heads[y]], refs[heads[y]] = values, CENTS, col_refs
        notes = (
            [
                "One row per form line, one column per year: Form 1040 lines 7-16, Form 6251 Parts "
                "I-III (line 2i is the ISO spread, 2k the AMT adjustment of a sale), Form 8801 "
                "lines 25-26, Form 8960 line 17, Form 8959 line 18.",
            ]
            if title.startswith("Federal")
            else [
                "Form 540, Schedule P (540) and FTB 3510 in the years the household lives in "
                "California (a dash: not a California year).",
            ]
        )
        out.append(Table(title, pd.DataFrame(frame), kinds, refs, tuple(notes)))
    return out


def lots_table(v: View) -> Table | None:
    lots = v.get("lots")
    if lots is None:
        return None
    adjustment = [
        None
        if number(a) is None or number(r) is None or number(n) is None
        else (number(a) - number(r)) * number(n)  # type: ignore[operator]
        for a, r, n in zip(
            column_values(lots, "amt_basis"),
            column_values(lots, "regular_basis"),
            column_values(lots, "shares"),
            strict=True,
        )
    ]
    cols = [
        Col("lot", "lot_id", TEXT),
        Col("grant", "grant_id", TEXT),
        Col("kind", values=[str(k).upper() for k in lots.get("kind", [""] * len(lots))], kind=TEXT),
        Col("from", "source", TEXT),
        Col("grant date (box 1)", "grant_date", DATE),
        Col("exercise date (box 2)", "exercise_date", DATE),
        Col("strike (box 3)", "regular_basis", CENTS),
        Col("FMV (box 4)", "amt_basis", CENTS),
        Col("shares (box 5)", "shares", SHARES),
        Col("AMT minus regular basis", values=adjustment),
        Col("held at end", "held_end", SHARES),
    ]
    for c in lots.columns:
        if c.startswith("sold_"):
            cols.append(Col(f"sold {c[5:]}", c, SHARES))
    notes = (
        "The lot ledger: each lot's regular and AMT basis per share. For an ISO lot they are "
        "Form 3921's exercise price (box 3) and the FMV on the exercise date (box 4); for an NSO "
        "lot the spread was wages, so both are the FMV at exercise. AMT minus regular basis is "
        "the lot's spread: the ISO adjustment of its exercise year (Form 6251 line 2i), and what "
        "a later sale gives back on line 2k. 'from': held at the start (scenario) or exercised "
        "by the plan.",
    )
    return make_table(
        "Lot ledger (Form 3921)",
        lots,
        v.table("lots"),
        [str(x) for x in lots["lot_id"]],
        cols,
        notes,
    )


def preparer_note() -> Paragraph:
    return Paragraph(
        (
            "For the preparer: every figure is the exact engine's (the optimizer's own agree with "
            "them to the cent: the summary's plan_vs_exact), each traceable to a cell of the "
            "plan's Parquet tables. The law figures of a year: `isoplan law YEAR` (California: "
            "`isoplan law YEAR --state ca`).",
        ),
        "note",
    )


def law_used(v: View) -> list[Block]:
    """The law figures of the view's years (a robust plan's: of every path's) and their sources."""
    years = v.get("years")
    if years is None:
        return []
    return law_blocks(
        sorted({int(y) for y in years["year"]}),
        scenario_of(v).get("filing_status"),
        v.pt.meta,
        is_california(years),
    )


def cpa_blocks(v: View) -> list[Block]:
    return [preparer_note(), *forms_tables(v), *filter(None, [lots_table(v)]), *law_used(v)]
