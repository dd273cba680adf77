"""The report's sections, as plain data (`planner.report.model`), for each kind of folder.

A plan's sections are assembled from one module each (action_plan, years, plan_charts, cpa,
assumptions); a robust plan's from robust.py, which adds its paths and shows each path's
tables; a comparison has its own table, then each variant's parts one after another under the
same sections. Every figure that is a Parquet cell keeps its source (`Ref`), which is how a
reader (or a test) traces it back. The page and the workbook both render what this builds.
"""

from __future__ import annotations

import datetime as _dt
import itertools

from planner.report import charts
from planner.report.action_plan import action_plan_blocks
from planner.report.assumptions import assumptions_blocks
from planner.report.book import batch_sections
from planner.report.common import (
    OUTCOMES,
    SECTIONS,
    Col,
    View,
    column_values,
    make_table,
    meta_list,
    quiet,
    scenario_of,
    slug,
)
from planner.report.cpa import cpa_blocks
from planner.report.formats import TEXT
from planner.report.headline import headline
from planner.report.model import Block, Chart, Heading, Paragraph, Report, Section, Table
from planner.report.plan_charts import chart_blocks
from planner.report.robust import path_names, robust_parts
from planner.report.source import BATCH, COMPARE, ROBUST, PlanTables, Source
from planner.report.years import approaches_table, years_tables


def plan_parts(pt: PlanTables) -> dict[str, list[Block]]:
    """The blocks of each section for a deterministic plan."""
    v = View(pt)
    return {
        "action-plan": [*headline(pt), *action_plan_blocks(v)],
        "years": [*years_tables(v), *filter(None, [approaches_table(pt)])],
        "charts": chart_blocks(v),
        "cpa": cpa_blocks(v),
        "assumptions": assumptions_blocks(v),
    }


def parts_of(pt: PlanTables) -> dict[str, list[Block]]:
    return robust_parts(pt) if pt.kind == ROBUST else plan_parts(pt)


def compare_table(source: Source) -> Table | None:
    """The variants side by side, for the client: the solver's status, gap and plan-vs-exact
    are each variant's provenance (Assumptions), not here."""
    table = source.compare
    if table is None or table.empty:
        return None
    versus = table["vs_first"].tolist() if "vs_first" in table else None
    cols = [
        Col("variant", "variant", TEXT),
        Col("after-tax wealth", "after_tax_wealth"),
        Col("vs first", "vs_first", values=None if versus is None else [None, *versus[1:]]),
        *OUTCOMES,
        Col("exercised in", "exercise_years", TEXT),
        Col("years", "years", TEXT),
    ]
    notes = [
        "Each variant's optimized plan, re-evaluated by the exact engine (a robust "
        "variant's figures are expected values over its paths); vs first: its after-tax "
        "wealth less the first row's (the reference, a dash)."
    ]
    keys = [str(v) for v in table["variant"]]
    return make_table("Variants side by side", table, "compare", keys, cols, notes)


def compare_chart(source: Source) -> Chart | None:
    table = source.compare
    if table is None or "after_tax_wealth" not in table:
        return None
    labels = [str(v) for v in table["variant"]]
    colors = [c for c, _ in zip(itertools.cycle(charts.PALETTE), labels)]
    svg = charts.difference_chart(
        "After-tax wealth",
        labels,
        column_values(table, "after_tax_wealth"),
        colors,
        "after-tax wealth",
    )
    return Chart(
        "After-tax wealth of each variant",
        svg,
        f"Each variant's after-tax wealth at the horizon and, as a bar, its difference to the "
        f"first ({labels[0]}): the bars start at the first variant's wealth, not at $0, so "
        "that a small difference shows.",
    )


def _title(meta: dict[str, str], where: str) -> str:
    return f"isoplan report: {meta.get('scenario') or where}"


def batch_report(source: Source) -> Report:
    """A batch folder's dashboard (`planner.report.book`)."""
    assert source.batch is not None
    s = source.batch.summary
    subtitle = (
        f"{s.get('planned', 0):,} of {s.get('clients', 0):,} clients planned from the book "
        f"{s.get('book', '')}; this year's actions by value at stake."
    )
    footer = f"isoplan batch results in {source.where}; made {_dt.date.today().isoformat()}."
    title = f"isoplan dashboard: {s.get('book') or source.where}"
    return Report(title, BATCH, subtitle, batch_sections(source.batch), footer)


def build_report(source: Source) -> Report:
    """The report's sections for a plan, a robust plan, a comparison or a batch."""
    if source.kind == BATCH:
        return batch_report(source)
    if source.kind == COMPARE:
        order = ["compare", "action-plan", "years", "charts", "cpa", "assumptions"]
        blocks: dict[str, list[Block]] = {s: [] for s in order}
        table, chart = compare_table(source), compare_chart(source)
        blocks["compare"] += [b for b in (table, chart) if b is not None]
        for i, pt in enumerate(source.variants):
            parts = parts_of(pt)
            if i > 0:  # the tables' notes once, at the first variant
                parts = {k: [quiet(b) for b in v] for k, v in parts.items()}
            if "paths" in parts:
                parts["action-plan"] = parts["action-plan"] + parts.pop("paths")
            description = scenario_of(pt).get("description")
            for s in order[1:]:
                head = Heading(f"Variant {pt.name}", f"{s}-{slug(pt.name)}")
                lead = (
                    [Paragraph((str(description),), "note")]
                    if description and s == "action-plan"
                    else []
                )
                blocks[s] += [head, *lead, *parts.get(s, [])]
        names = ", ".join(pt.name for pt in source.variants)
        subtitle = f"{len(source.variants)} variants compared: {names}."
    else:
        assert source.plan is not None
        pt = source.plan
        parts = parts_of(pt)
        order = (
            ["action-plan", "paths", "years", "charts", "cpa", "assumptions"]
            if source.kind == ROBUST
            else ["action-plan", "years", "charts", "cpa", "assumptions"]
        )
        blocks = {s: parts.get(s, []) for s in order}
        description = scenario_of(pt).get("description")
        subtitle = str(description) if description else ""
        if source.kind == ROBUST:
            subtitle = subtitle or f"A robust plan over {len(path_names(pt))} paths."
    sections = [Section(s, SECTIONS[s], blocks[s]) for s in order]
    meta = source.meta
    footer = (
        f"isoplan {meta.get('version', '')}; tax law {meta_list(meta, 'tax_law_years')}"
        + (f" (projected: {p})" if (p := meta_list(meta, "projected_years")) else "")
        + f"; from {source.where}; made {_dt.date.today().isoformat()}."
    )
    return Report(_title(meta, source.where), source.kind, subtitle, sections, footer)
