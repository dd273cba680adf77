"""The first thing a client reads: the plan's figure against the best baseline and doing
nothing, the tax it adds, and one plain sentence on how far the plan can be trusted (the
solver's own figures are the Assumptions' provenance); or, with no plan, why there is none."""

from __future__ import annotations

from planner.report.common import (
    DO_NOTHING,
    approach_label,
    best_baseline,
    has_column,
    objective_of,
    ref_value,
    summary_row,
)
from planner.report.formats import CENTS, MONEY, PERCENT, is_missing, number, show
from planner.report.model import Block, Card, Cards, Paragraph, Value
from planner.report.source import PlanTables


def no_plan(what: str, on: str = "") -> list[Block]:
    """What the action plan says when the folder has no plan (`what`) to show."""
    return [
        Paragraph(
            (
                f"No {what}: the scenario has no feasible plan{on}, or none was found within the "
                "time limit (`isoplan plan` says why). The key dates and warnings below are the "
                "scenario's.",
            ),
            "warning",
        )
    ]


def headline(pt: PlanTables) -> list[Block]:
    """The optimized plan against the best baseline and doing nothing: the first thing read."""
    plan = summary_row(pt, "optimized")
    if plan is None:
        return no_plan("plan")
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
    others = [(best, f"Best baseline: {approach_label(best)}")] if best is not None else []
    if best != DO_NOTHING:
        others.append((DO_NOTHING, "Doing nothing until liquidity"))
    cards += [c for c in (versus(name, label) for name, label in others) if c is not None]
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
    return [Cards(tuple(cards)), *status_line(pt, "optimized")]


def status_line(pt: PlanTables, approach: str) -> list[Block]:
    """How far the plan can be trusted, in one plain sentence for the first screen: proven
    optimal and re-checked by the exact engine, or what is wrong. The solver's own figures
    (solver, gap, times, model size) are the Assumptions' provenance."""
    row = summary_row(pt, approach)
    if row is None or is_missing(row.get("status")):
        return []
    status, off = str(row["status"]), number(row.get("plan_vs_exact"))
    checked = off is not None and off <= 1.0
    parts: list[str | Value] = []
    if status == "optimal":
        parts.append(
            "Proven optimal"
            + ("; re-checked line by line by the exact tax engine." if checked else ".")
        )
    elif status == "time_limit":
        parts.append("Not proven optimal: the solver's time ran out first")
        if number(row.get("gap")) is not None:
            parts += [
                " (the best possible plan is at most ",
                ref_value(pt, "summary", approach, "gap", row, PERCENT),
                " better)",
            ]
        parts.append("; this is the best plan it found.")
    elif status.startswith("baseline:"):
        parts.append(
            f"The optimizer found nothing better than {approach_label(status[9:])}, which is "
            "the plan shown."
        )
    else:
        parts.append(f"Solver status: {status.replace('_', ' ')}.")
    if off is not None and not checked:
        parts += [
            " The exact tax engine's figures differ from the optimizer's by up to ",
            ref_value(pt, "summary", approach, "plan_vs_exact", row, CENTS),
            ": every figure shown is the exact engine's.",
        ]
    elif status != "optimal" and checked:
        parts.append(" Its figures are re-checked line by line by the exact tax engine.")
    fine = status == "optimal" and (off is None or checked)
    return [Paragraph(tuple(parts), "note" if fine else "warning")]
