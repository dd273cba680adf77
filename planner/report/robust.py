"""A robust plan's sections: what is decided now (the same on every path), the paths side by
side, and each path's action plan, years and lots; its charts compare the paths."""

from __future__ import annotations

from typing import Any

import pandas as pd

from planner.report import charts
from planner.report.action_plan import (
    action_plan_blocks,
    actions_table,
    key_dates_table,
)
from planner.report.assumptions import assumptions_blocks, windows_table
from planner.report.common import (
    OUTCOMES,
    Col,
    View,
    approach_label,
    column_values,
    make_table,
    quiet,
    ref_value,
    slug,
    summary_row,
    year_labels,
)
from planner.report.cpa import forms_tables, law_used, lots_table, preparer_note
from planner.report.formats import CENTS, MONEY, PERCENT, TEXT, is_missing, number
from planner.report.headline import no_plan, status_line
from planner.report.model import Block, Card, Cards, Chart, Heading, Paragraph, Ref, Table
from planner.report.plan_charts import floor_series
from planner.report.source import PlanTables
from planner.report.years import years_tables


def path_names(pt: PlanTables) -> list[str]:
    paths = pt.get("paths")
    return [] if paths is None else [str(p) for p in paths["path"]]


def robust_headline(pt: PlanTables) -> list[Block]:
    robust = summary_row(pt, "robust")
    if robust is None:
        return no_plan("robust plan", " on every path")
    cards = [
        Card(
            "Robust plan: expected after-tax wealth",
            ref_value(pt, "summary", "robust", "after_tax_wealth", robust, MONEY),
            ("over the paths, weighted by their probabilities",),
        )
    ]
    mean = summary_row(pt, "mean_value")
    if mean is not None:
        cards.append(
            Card(
                "Plan for the average path",
                ref_value(pt, "summary", "mean_value", "after_tax_wealth", mean, MONEY),
                ("its first years carried onto every path",),
            )
        )
    if not is_missing(robust.get("vss")):
        cards.append(
            Card(
                "Value of planning for the uncertainty (VSS)",
                ref_value(pt, "summary", "robust", "vss", robust, MONEY),
            )
        )
    if not is_missing(robust.get("worst_path_wealth")):
        cards.append(
            Card(
                "Worst path",
                ref_value(pt, "summary", "robust", "worst_path_wealth", robust, MONEY),
            )
        )
    return [Cards(tuple(cards)), *status_line(pt, "robust")]


def decided_now(pt: PlanTables) -> list[Block]:
    """The decisions of the shared years: the same on every path, so the ones to act on now."""
    actions, years = pt.get("actions"), pt.get("years")
    robust = summary_row(pt, "robust")
    shared = (
        1
        if robust is None or is_missing(robust.get("shared_years"))
        else int(robust["shared_years"])
    )
    if years is None:
        return []
    first = sorted({int(y) for y in years["year"]})[:shared]
    title = f"Decided now (the same on every path): {', '.join(map(str, first))}"
    if actions is None:
        return [Paragraph((f"{title}: no exercise or sale.",), "lead")]
    now = actions[actions["year"].isin(first)].drop_duplicates(
        subset=[c for c in ("kind", "option_id", "lot_id", "window_id", "year") if c in actions]
    )
    if now.empty:
        return [Paragraph((f"{title}: no exercise or sale.",), "lead")]
    table = actions_table(View(PlanTables({"actions": now}, pt.meta, pt.prefix)), title)
    return [] if table is None else [table]


def paths_table(pt: PlanTables) -> Table | None:
    paths = pt.get("paths")
    if paths is None:
        return None
    cols = [
        Col("path", "path", TEXT),
        Col("probability", "probability", PERCENT),
        Col("after-tax wealth", "after_tax_wealth"),
        Col("mean-value plan", "mean_value_wealth"),
        Col("robust − mean-value", "robust_minus_mean_value"),
        *OUTCOMES,
        Col(
            "best baseline",
            values=[
                approach_label(str(b)) if isinstance(b, str) else ""
                for b in paths.get("best_baseline", [""] * len(paths))
            ],
            kind=TEXT,
        ),
        Col("its wealth", "best_baseline_wealth"),
    ]
    notes = [
        "Each path re-evaluated by the exact engine: the robust plan's after-tax wealth on "
        "that path, the plan made for the average path carried onto it (a dash: infeasible "
        "there), and the best baseline of that path."
    ]
    return make_table(
        "The paths side by side", paths, f"{pt.prefix}paths", path_names(pt), cols, notes
    )


def paths_descriptions(pt: PlanTables) -> list[Block]:
    paths = pt.get("paths")
    if paths is None or "description" not in paths:
        return []
    return [Paragraph((f"{p}: {d}",), "note") for p, d in _path_descriptions(pt).items()]


def by_path(pt: PlanTables, column: str) -> tuple[list[str], dict[str, list[Any]]]:
    """The years' labels and each path's `column`, year by year (None where a path lacks the
    year): a chart's series, or a table's column per path."""
    years = pt.get("years")
    assert years is not None
    order = sorted({int(y) for y in years["year"]})
    labels = year_labels(years.drop_duplicates("year").sort_values("year"))
    out: dict[str, list[Any]] = {}
    for p in path_names(pt):
        rows = years[years["path"] == p].set_index("year")[column]
        out[p] = [rows.get(y) if y in rows.index else None for y in order]
    return labels, out


PER_PATH = (
    ("cash", "Cash at the end of each year, per path",
     "Cash per path: the years decided now are the same on every path."),
    ("mtc_carryforward_out", "Federal AMT credit left, per path",
     "The minimum tax credit carried out of each year, per path."),
    ("iso_spread", "ISO spread exercised, per path",
     "The ISO spread exercised and held each year (Form 6251 line 2i), per path."),
)  # fmt: skip


def robust_charts(pt: PlanTables) -> list[Block]:
    out: list[Block] = []
    paths, years = pt.get("paths"), pt.get("years")
    if paths is not None and "after_tax_wealth" in paths:
        found = (
            ("robust plan", "after_tax_wealth", charts.PALETTE[0]),
            ("plan for the average path", "mean_value_wealth", charts.PALETTE[2]),
            ("best baseline", "best_baseline_wealth", charts.GREY),
        )
        series = [
            charts.Series(name, column_values(paths, column), color)
            for name, column, color in found
            if column in paths
        ]
        out.append(
            Chart(
                "After-tax wealth on each path",
                charts.column_chart("Wealth per path", path_names(pt), series),
                "The robust plan's after-tax wealth on each path, beside the plan for the average "
                "path and the path's best baseline.",
            )
        )
    if years is None or "path" not in years:
        return out
    for column, title, caption in PER_PATH:
        if column not in years:
            continue
        labels, values = by_path(pt, column)
        style = "bar" if column == "iso_spread" else "line"
        series = [
            charts.Series(
                p, [number(x) for x in xs], charts.PALETTE[i % len(charts.PALETTE)], style
            )
            for i, (p, xs) in enumerate(values.items())
        ]
        caption += charts.overlaps(labels, series)
        floor = floor_series(pt, len(labels)) if column == "cash" else None
        if floor is not None:
            series.append(floor)
            caption += " The dashed red line is the cash floor."
        out.append(Chart(title, charts.column_chart(title, labels, series), caption))
    return out


def robust_parts(pt: PlanTables) -> dict[str, list[Block]]:
    """The blocks of each section for a robust plan: what is decided now (first), the paths
    side by side, then each path's action plan, years and lots (the tables' notes once)."""
    names = path_names(pt)
    shared = _shared_dates(pt)
    parts: dict[str, list[Block]] = {
        "action-plan": [*robust_headline(pt), *decided_now(pt)],
        "paths": [*filter(None, [paths_table(pt)]), *paths_descriptions(pt)],
        "years": [],
        "charts": robust_charts(pt),
        "cpa": [preparer_note()],
        "assumptions": [],
    }
    windows = pt.get("windows")
    per_path_windows = windows is not None and "path" in windows
    title = "Key dates (the same on every path)"
    table = key_dates_table(View(pt), title, shared, windows=not per_path_windows)
    if table is not None:
        parts["action-plan"].append(table)
    descriptions = _path_descriptions(pt)
    for i, p in enumerate(names):
        v = View(pt, p)
        anchor = slug(f"{pt.name}-{p}" if pt.name else p)
        own = _own_dates(pt, p, shared)
        lots = lots_table(v)
        found = {
            "paths": [
                Heading(f"Path {p}", f"paths-{anchor}"),
                *([Paragraph((descriptions[p],), "note")] if descriptions.get(p) else []),
                *action_plan_blocks(v, own, per_path_windows),
            ],
            "years": [Heading(f"Path {p}", f"years-{anchor}"), *years_tables(v)],
            "cpa": [
                Heading(f"Path {p}", f"cpa-{anchor}"),
                *forms_tables(v),
                *([lots] if lots else []),
            ],
        }
        for section, blocks in found.items():
            parts[section] += blocks if i == 0 else [quiet(b) for b in blocks]
    parts["cpa"] += law_used(View(pt))
    market = [fmv_by_path(pt), windows_table(View(pt))]
    parts["assumptions"] = assumptions_blocks(
        View(pt, names[0] if names else None), "robust", market
    )
    return parts


def _path_descriptions(pt: PlanTables) -> dict[str, str]:
    paths = pt.get("paths")
    if paths is None or "description" not in paths:
        return {}
    return {
        str(p): str(d)
        for p, d in zip(paths["path"], paths["description"], strict=True)
        if isinstance(d, str) and d
    }


def _own_dates(pt: PlanTables, path: str, shared: pd.DataFrame | None) -> pd.DataFrame | None:
    """A path's key dates less those shown once as the same on every path."""
    dates = View(pt, path).get("key_dates")
    if dates is None or shared is None or "path" not in dates:
        return dates
    columns = [c for c in dates.columns if c != "path"]
    seen = set(shared[columns].astype(str).apply(tuple, axis=1))
    keep = ~dates[columns].astype(str).apply(tuple, axis=1).isin(seen)
    return dates[keep.to_numpy()]  # empty: none of its own (not None: then all would show)


def _shared_dates(pt: PlanTables) -> pd.DataFrame | None:
    """The key dates the same on every path: the scenario's, and those of the decisions now."""
    dates, names = pt.get("key_dates"), path_names(pt)
    if dates is None or "path" not in dates or not names:
        return dates
    columns = [c for c in dates.columns if c != "path"]
    rows = dates[columns].astype(str).apply(tuple, axis=1)
    every = rows.map(rows.value_counts()) == len(names)
    shared = dates[every.to_numpy()]
    return shared[~rows[every.to_numpy()].duplicated().to_numpy()]


def fmv_by_path(pt: PlanTables) -> Table | None:
    years = pt.get("years")
    if years is None or "path" not in years or "fmv" not in years:
        return None
    labels, values = by_path(pt, "fmv")
    order = sorted({int(y) for y in years["year"]})
    frame: dict[str, list[Any]] = {"year": labels, **values}
    kinds: dict[str, str | list[str]] = {"year": TEXT, **{p: CENTS for p in values}}
    refs: dict[str, list[Ref | None]] = {
        p: [
            None if x is None else Ref(f"{pt.prefix}{p}/years", str(y), "fmv")
            for x, y in zip(xs, order, strict=True)
        ]
        for p, xs in values.items()
    }
    return Table(
        "Prices per path (FMV / share)",
        pd.DataFrame(frame),
        kinds,
        refs,
        ("Each path's fair market value per share, year by year.",),
    )
