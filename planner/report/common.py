"""The building blocks of the report's sections: a table from a plan's rows with each
cell's source, a view of one plan (or one path of a robust plan), and the small readings of
its tables every section shares (the years' labels, the scenario's row, the best baseline)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from planner.report.formats import MONEY, SHARES, TEXT, is_missing, number
from planner.report.model import Block, Ref, Table, Value
from planner.report.source import PlanTables

SECTIONS = {
    "compare": "Variants compared",
    "paths": "The paths",
    "action-plan": "Action plan",
    "years": "Year by year",
    "charts": "Charts",
    "cpa": "CPA appendix",
    "assumptions": "Assumptions",
}
PLAN_ROWS = ("optimized", "robust", "mean_value")
DO_NOTHING = "do_nothing_until_liquidity"
APPROACHES = {
    "optimized": "this plan (optimized)",
    "robust": "robust plan",
    "mean_value": "plan for the average path",
    "do_nothing_until_liquidity": "do nothing until liquidity",
    "exercise_all_now": "exercise everything now",
    "crossover_each_year": "the AMT crossover every year",
    "even_split": "an even split over the years",
}


@dataclass(frozen=True)
class Col:
    """A display column: a Parquet column (`column`, left out when the table lacks it) or
    computed `values` (no source); both: `values` shown, each sourced from `column` unless it
    is missing (a table's reference row, shown as a dash)."""

    header: str
    column: str | None = None
    kind: str = MONEY
    values: Sequence[Any] | None = None


# The totals of an evaluated plan (`planner.plan.totals`): summary, compare and paths alike.
OUTCOMES = (
    Col("extra tax", "total_extra_tax"),
    Col("AMT paid", "amt_paid"),
    Col("credit used", "credit_used"),
    Col("credit left", "credit_left"),
    Col("lowest cash", "lowest_cash"),
    Col("exercised", "shares_exercised", SHARES),
    Col("sold", "shares_sold", SHARES),
)


def make_table(
    title: str,
    df: pd.DataFrame,
    table: str | Sequence[str],
    keys: Sequence[str],
    cols: Sequence[Col],
    notes: Sequence[str] = (),
    classes: Sequence[str] | None = None,
    total: dict[str, Any] | None = None,
) -> Table:
    """A `Table` of `df`'s rows, each sourced cell referring to (`table`, its key, column);
    `table` may be one per row (a robust plan's rows of every path)."""
    tables = [table] * len(df) if isinstance(table, str) else list(table)
    frame: dict[str, list[Any]] = {}
    kinds: dict[str, str | list[str]] = {}
    refs: dict[str, list[Ref | None]] = {}
    for c in cols:
        sourced = c.column is not None and c.column in df.columns
        if c.values is None and not sourced:
            continue
        frame[c.header] = list(c.values) if c.values is not None else df[c.column].tolist()
        refs[c.header] = [
            Ref(t, k, c.column) if sourced and not is_missing(x) else None  # type: ignore[arg-type]
            for t, k, x in zip(tables, keys, frame[c.header], strict=True)
        ]
        kinds[c.header] = c.kind
    row_classes = list(classes) if classes is not None else [""] * len(df)
    if total is not None:
        first = next(iter(frame))
        for h in frame:
            frame[h].append("total" if h == first else total.get(h))
            refs[h].append(None)
        row_classes.append("total")
    return Table(title, pd.DataFrame(frame), kinds, refs, tuple(notes), row_classes)


def year_table(
    v: View,
    title: str,
    cols: Sequence[Col],
    notes: Sequence[str] = (),
    summed: Sequence[str] = (),
) -> Table | None:
    """A table of the view's years, a row a year: the year first (starred and in italics when its
    tax law is projected), then `cols`; a total row of the `summed` Parquet columns."""
    years = v.get("years")
    if years is None:
        return None
    labels = year_labels(years)
    total = (
        {
            c.header: total_of(years[c.column])
            for c in cols
            if c.column in summed and c.column in years
        }
        if summed
        else None
    )
    return make_table(
        title,
        years,
        v.table("years"),
        [str(int(y)) for y in years["year"]],
        [Col("year", values=labels, kind=TEXT), *cols],
        notes,
        ["projected" if lab.endswith("*") else "" for lab in labels],
        total,
    )


def key_value(
    title: str, rows: Sequence[tuple[str, Any, str, Ref | None]], notes: Sequence[str] = ()
) -> Table:
    """A two-column table (what, figure), each figure with its own kind and source."""
    frame = pd.DataFrame({"": [r[0] for r in rows], "value": [r[1] for r in rows]})
    kinds: dict[str, str | list[str]] = {"": TEXT, "value": [r[2] for r in rows]}
    refs: dict[str, list[Ref | None]] = {"": [None] * len(rows), "value": [r[3] for r in rows]}
    return Table(title, frame, kinds, refs, tuple(notes))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def approach_label(approach: str) -> str:
    return APPROACHES.get(approach, approach.replace("_", " "))


def has_column(df: pd.DataFrame | None, name: str) -> bool:
    return df is not None and name in df.columns


def nonzero(df: pd.DataFrame | None, name: str) -> bool:
    """Whether an optional column is there and holds anything but zeros (or nothing)."""
    if not has_column(df, name):
        return False
    assert df is not None
    values = pd.to_numeric(df[name], errors="coerce").fillna(0.0)
    return bool((values != 0).any())


def year_labels(years: pd.DataFrame) -> list[str]:
    """Each year, starred when its tax law is projected."""
    flags = years["projected"] if "projected" in years else [False] * len(years)
    return [f"{int(y)}{'*' if bool(p) else ''}" for y, p in zip(years["year"], flags, strict=True)]


def projected_labels(years: pd.DataFrame | None) -> list[str]:
    return [] if years is None else [lab for lab in year_labels(years) if lab.endswith("*")]


def total_of(values: Any) -> float | None:
    xs = [number(v) for v in values]
    xs = [x for x in xs if x is not None]
    return sum(xs) if xs else None


def scenario_row(v: View) -> tuple[dict[str, Any], str]:
    """The scenario's row (scenario.parquet; a robust plan's path's) and its key (its position
    in the file), or {} for a folder without it."""
    df = v.get("scenario")
    if df is None:
        return {}, "0"
    return {k: x for k, x in df.iloc[0].items() if not is_missing(x)}, str(df.index[0])


def scenario_of(x: PlanTables | View) -> dict[str, Any]:
    return scenario_row(x if isinstance(x, View) else View(x))[0]


def objective_of(pt: PlanTables) -> str:
    """wealth or min_tax: the scenario's, else read off the plan's summary row."""
    sc = scenario_of(pt)
    if "objective" in sc:
        return str(sc["objective"])
    s = pt.get("summary")
    if s is not None and {"objective_value", "pv_extra_tax", "after_tax_wealth"} <= set(s):
        row = s.iloc[0]
        if row["objective_value"] == row["pv_extra_tax"] != row["after_tax_wealth"]:
            return "min_tax"
    return "wealth"


def summary_row(pt: PlanTables, approach: str) -> pd.Series | None:
    s = pt.get("summary")
    if s is None:
        return None
    rows = s[s["approach"] == approach]
    return None if rows.empty else rows.iloc[0]


def best_baseline(pt: PlanTables) -> str | None:
    """The baseline the plan is measured against: the best objective among those that make the
    required exercises (as `isoplan plan` picks it), the first on a tie."""
    s = pt.get("summary")
    if s is None or "objective_value" not in s:
        return None
    base = s[~s["approach"].isin(PLAN_ROWS)]
    if "note" in base:
        base = base[~base["note"].fillna("").astype(str).str.contains("misses required")]
    base = base[base["objective_value"].notna()]
    if base.empty:
        return None
    sign = 1.0 if objective_of(pt) == "wealth" else -1.0
    return str(base.loc[(sign * base["objective_value"]).idxmax(), "approach"])


def ref_value(pt: PlanTables, table: str, key: str, column: str, row: Any, kind: str) -> Value:
    return Value(row.get(column), kind, Ref(f"{pt.prefix}{table}", key, column))


@dataclass(frozen=True)
class View:
    """One plan's tables as a section shows them: the whole plan, or one path of a robust
    plan (its rows only, keeping their positions in the Parquet files)."""

    pt: PlanTables
    path: str | None = None

    def get(self, name: str) -> pd.DataFrame | None:
        df = self.pt.get(name)
        if df is None or self.path is None or "path" not in df:
            return df
        rows = df[df["path"] == self.path]
        return None if rows.empty else rows

    def table(self, name: str) -> str:
        """The `data-table` of this view's rows of `name`: a path's rows say their path."""
        df = self.pt.tables.get(name)
        per_path = self.path is not None and df is not None and "path" in df.columns
        return f"{self.pt.prefix}{self.path}/{name}" if per_path else f"{self.pt.prefix}{name}"


def is_california(years: pd.DataFrame | None) -> bool:
    return has_column(years, "state") and bool((years["state"].fillna("") == "ca").any())  # type: ignore[index]


def meta_list(meta: dict[str, str], name: str) -> str:
    """A list in the files' metadata ("2026,2027") as a reader's ("2026, 2027"); "" if none."""
    return ", ".join(x for x in meta.get(name, "").split(",") if x)


def inflation(meta: dict[str, str]) -> float | None:
    """The inflation the plan assumed for projected years (its files' `inflation_assumed`: the
    first rate), for reading the same projected law again; None when it projected nothing."""
    try:
        return float(meta.get("inflation_assumed", "").split(",")[0])
    except ValueError:
        return None


def column_values(df: pd.DataFrame, column: str) -> list[float | None]:
    return [number(x) for x in df[column]] if column in df else [None] * len(df)


def quiet(b: Block) -> Block:
    """A table without its notes: said once, at the first path."""
    return replace(b, notes=()) if isinstance(b, Table) else b
