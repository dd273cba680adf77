"""Scenarios side by side: each variant planned (deterministic, or robust when it has paths),
re-evaluated exactly, and summed up in one row of a comparison table.

A variant is layered over the scenario (`SCENARIO+VARIANT`, `planner.variants`), so a variant
file holds only what differs; the scenario itself is the first row. Every variant is read and
validated before anything is solved, so a typo in the last one costs no solver time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from planner.errors import InputError
from planner.options import NO_OVERRIDES, Overrides
from planner.plan import PlanResult, run_plan, tables, totals
from planner.robust import RobustResult, expected_totals, robust_tables, run_robust
from planner.variants import Variant, load_variant, variant_name

COMPARE_COLUMNS = (
    "variant", "after_tax_wealth", "vs_first", "total_extra_tax", "amt_paid", "credit_used",
    "credit_left", "lowest_cash", "shares_exercised", "shares_sold", "exercise_years", "years",
    "status", "gap", "plan_vs_exact", "kind", "spec",
)  # fmt: skip


@dataclass
class Compared:
    """One variant's plan, its output tables (as `isoplan plan` writes them) and its row."""

    variant: Variant
    result: PlanResult | RobustResult
    tables: dict[str, pd.DataFrame]
    row: dict[str, object]


def load_variants(
    scenario: str,
    variants: tuple[str, ...],
    sets: tuple[str, ...] = (),
    overrides: Overrides = NO_OVERRIDES,
) -> list[Variant]:
    """The scenario and each variant layered over it (with `sets` applied to all), validated.
    With no variant, `sets` make the one variant: the scenario as written, then with them (so
    "compare BASE --set liquidity.ipo_date=2030-03-01" compares the two)."""
    specs = [(variant_name(scenario), scenario)]
    specs += [(variant_name(v), f"{scenario}+{v}") for v in variants]
    names = [n for n, _ in specs]
    for n in names:
        if names.count(n) > 1:
            raise InputError(f"{n}: two variants have this name (rename one file)")
    if not variants and sets:
        base = load_variant(scenario, (), name=names[0], overrides=overrides)
        # named for its changes, as a folder name can be (the tables of -o go under it)
        changed = re.sub(r"[^A-Za-z0-9._=+-]", "_", "+".join((names[0], *sets)))
        return [base, load_variant(scenario, sets, name=changed, overrides=overrides)]
    return [load_variant(spec, sets, name=name, overrides=overrides) for name, spec in specs]


def _years(numbers: tuple[int, ...]) -> str:
    return f"{numbers[0]}-{numbers[-1]}" if len(numbers) > 1 else str(numbers[0])


def _exercise_years(actions: pd.DataFrame) -> str:
    if actions.empty:
        return ""
    years = sorted({int(y) for y in actions.loc[actions["kind"] == "exercise", "year"]})
    runs: list[list[int]] = []
    for y in years:
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(_years(tuple(r)) for r in runs)


def plan_variant(v: Variant) -> Compared:
    """Plan one variant as `isoplan plan` would (with its options), and sum it up."""
    s = v.scenario
    row: dict[str, object] = {"variant": v.name, "spec": v.spec, "years": _years(s.year_numbers)}
    if v.robust:
        rr = run_robust(v)
        out = robust_tables(rr)
        evs = {n: p.evaluation for n, p in rr.paths.items() if p.evaluation is not None}
        if rr.has_plan:
            row.update(expected_totals(evs, rr.probabilities))
        row.update(kind=f"robust ({len(rr.paths)} paths)", plan_vs_exact=rr.plan_vs_exact)
        result: PlanResult | RobustResult = rr
        r = rr.solve
    else:
        pr = run_plan(s, v.laws, v.options, worth=True)
        out = tables(pr)
        if pr.evaluation is not None:
            row.update(totals(pr.evaluation))
        row.update(kind="plan", plan_vs_exact=pr.plan_vs_exact)
        result, r = pr, pr.solve
    row.update(
        status=r.status if r is not None else "none",
        gap=r.gap if r is not None else None,
        exercise_years=_exercise_years(out.get("actions", pd.DataFrame())),
    )
    return Compared(v, result, out, row)


def baseline_rows(c: Compared) -> list[dict[str, object]]:
    """Each baseline of a deterministic variant as a row of its own (`--baselines`)."""
    if not isinstance(c.result, PlanResult):
        return []
    rows = []
    for name, (_, ev) in c.result.baselines.items():
        actions = pd.DataFrame(ev.actions)
        rows.append({
            "variant": f"{c.variant.name} / {name}", "spec": c.variant.spec,
            "years": c.row["years"], **totals(ev), "kind": "baseline", "status": "baseline",
            "exercise_years": _exercise_years(actions),
        })  # fmt: skip
    return rows


def compare_table(rows: list[dict[str, object]]) -> pd.DataFrame:
    """The side-by-side table; `vs_first` is each row's after-tax wealth less the first's."""
    table = pd.DataFrame(rows)
    for c in COMPARE_COLUMNS:
        if c not in table:
            table[c] = None
    first = table["after_tax_wealth"].iloc[0]
    table["vs_first"] = table["after_tax_wealth"] - first
    return table[list(COMPARE_COLUMNS)]
