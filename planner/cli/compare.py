"""`isoplan compare`: scenarios side by side, each variant's plan exactly re-evaluated."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.table import Table

from planner.cli.common import (
    check_outdir,
    compact,
    console,
    err_console,
    overrides,
    plan_meta,
    provenance,
    table_money,
    with_projection,
    with_sets,
    with_solver,
    with_wide,
)
from planner.compare import baseline_rows, compare_table, load_variants, plan_variant
from planner.law import default_inflation
from planner.outputs import records, write_folder
from planner.report.command import check_report_path, report_option, write_compare_report
from planner.variants import Variant


@click.command()
@click.argument("scenario_spec", metavar="SCENARIO")
@click.argument("variant_specs", metavar="[VARIANT]...", nargs=-1)
@click.option(
    "-o",
    "--output",
    "outdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for compare.parquet and one folder per variant with its plan's tables.",
)
@click.option(
    "--baselines",
    is_flag=True,
    help="Add a row for each baseline of each variant (do nothing until liquidity, exercise "
    "all now, the AMT crossover every year, an even split).",
)
@with_sets
@with_solver(
    gap="Relative optimality gap to prove (default: each scenario's, else 1e-4).",
    time_limit="Seconds per variant for its whole plan (default: each scenario's, else 60): "
    "the model's build, the baselines, the bound tightening and the solver together, as in "
    "`isoplan plan`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@report_option
@with_wide
@with_projection
def compare(
    scenario_spec: str,
    variant_specs: tuple[str, ...],
    outdir: Path | None,
    baselines: bool,
    sets: tuple[str, ...],
    solver: str | None,
    gap: float | None,
    time_limit: float | None,
    as_json: bool,
    inflation: float | None,
    no_projection: bool,
    report_path: Path | None,
) -> None:
    """Scenarios side by side: each variant's optimized plan, exactly re-evaluated.

    The first row is SCENARIO; each VARIANT is layered over it (SCENARIO+VARIANT: the variant
    file holds only what changes, deep-merged over the scenario; a variant not found as written
    is looked up beside the scenario, and may itself be layers a.yaml+b.yaml). --set applies
    to every row; with no VARIANT, --set makes the variant: the scenario as written, then with
    the changes. A scenario with `paths` is planned robustly; its row shows expected figures.

    \b
    Columns: after-tax wealth and its difference to the first row, total extra tax, AMT paid,
    credit recovered (used) and left, lowest cash, shares exercised and sold, the years with
    exercises, the horizon, the solver's status and gap, and the plan-vs-exact difference.
    Writes (with -o): OUTDIR/compare.parquet, and OUTDIR/<variant>/ with the tables of
    `isoplan plan` for each variant (named after its file).

    \b
    Examples:
      isoplan compare scenarios/whatif/fmv-jump.yaml fmv-jump-wait.yaml
      isoplan compare scenarios/whatif/amt-then-drop.yaml amt-then-drop-crash.yaml -o out/
      isoplan compare scenarios/whatif/crossover-vs-all.yaml --baselines
      isoplan compare scenarios/plan-seed-story.yaml --set liquidity.ipo_date=2029-03-01
    """
    check_outdir(outdir)
    if report_path is not None:
        check_report_path(report_path, outdir)
    options = overrides(solver, gap, time_limit, inflation, no_projection)
    variants = load_variants(scenario_spec, variant_specs, sets, options)
    done = []
    with err_console.status("planning...", spinner="dots") as status:
        for v in variants:
            status.update(f"planning {v.name} ({len(done) + 1} of {len(variants)})...")
            done.append(plan_variant(v))
    rows = []
    for c in done:
        rows.append(c.row)
        if baselines:
            rows.extend(baseline_rows(c))
    table = compare_table(rows)
    meta = _compare_meta(variants, scenario_spec)
    if outdir is not None:
        files = {"compare.parquet": (table, meta)}
        for c in done:
            variant_meta = plan_meta(c.variant, c.variant.spec)
            for name, frame in c.tables.items():
                files[f"{c.variant.name}/{name}.parquet"] = (frame, variant_meta)
        write_folder(outdir, files)
    if report_path is not None:
        plans = [(c.variant.name, c.tables, plan_meta(c.variant, c.variant.spec)) for c in done]
        write_compare_report(table, meta, plans, scenario_spec, report_path)
    if as_json:
        click.echo(json.dumps({"compare": records(table)}))
    else:
        _print_compare(table)
        projected = sorted({
            ty.year for v in variants for ty in v.scenario.years
            if v.laws[ty.year].projected
            or (ty.state and v.laws[ty.year].states[ty.state].projected)
        })  # fmt: skip
        if projected:
            rate = variants[0].options.inflation
            rate = default_inflation() if rate is None else rate
            console.print(
                f"note: tax law for {', '.join(map(str, projected))} is projected (not "
                f"published), indexed at an assumed {rate:.1%} a year"
            )
    failed = [c.variant.name for c in done if c.row.get("after_tax_wealth") is None]
    if failed:
        err_console.print(f"isoplan: no plan for {', '.join(failed)}")
        sys.exit(1)


def _compare_meta(variants: list[Variant], scenario_spec: str) -> dict[str, str]:
    """Provenance of compare.parquet: every variant's law years, projections and rates."""
    laws = {y: law for v in variants for y, law in v.laws.items()}
    projected = (y for y in laws if laws[y].projected)
    names = ",".join(v.name for v in variants)
    rates = [v.options.inflation for v in variants]
    return provenance(laws, projected, rates, scenario=scenario_spec, variants=names)


def _print_compare(table: pd.DataFrame) -> None:
    """The variants side by side. Under 110 columns (without --wide) the money is compact and
    the table keeps the columns that fit 80: the shares, years and status are in -o and
    --json, and a status other than optimal is said below the table."""
    t = Table(title="Variants compared (exact re-evaluation, dollars)", header_style="bold")
    narrow = table_money() is compact
    heads = (
        "variant", "after-tax wealth", "vs first", "extra tax", "AMT paid", "credit used",
        "credit left", "lowest cash", "exercised", "sold", "exercised in", "status",
    )  # fmt: skip
    shown = heads[:5] + heads[6:8] if narrow else heads
    for c in shown:
        left = c in ("variant", "exercised in", "status")
        head = c.replace(" ", "\n", 1) if narrow and not left else c
        t.add_column(
            head,
            justify="left" if left else "right",
            # narrow: whole numbers, and a long file name folds; wide: as it always was
            no_wrap=not left if narrow else c == "variant",
            overflow="fold" if left else "ellipsis",
        )

    def money(x: Any) -> str:
        if x is None or pd.isna(x):
            return "-"
        return compact(float(x)) if narrow else f"{float(x):,.0f}"

    def shares(x: Any) -> str:
        return "-" if x is None or pd.isna(x) else f"{float(x):,.0f}"

    for _, r in table.iterrows():
        # a baseline's row sits under its variant's, by the baseline's name
        name = f"  {r['variant'].split(' / ')[1]}" if r["kind"] == "baseline" else str(r["variant"])
        cells = {
            "variant": name,
            "after-tax wealth": money(r["after_tax_wealth"]), "vs first": money(r["vs_first"]),
            "extra tax": money(r["total_extra_tax"]), "AMT paid": money(r["amt_paid"]),
            "credit used": money(r["credit_used"]), "credit left": money(r["credit_left"]),
            "lowest cash": money(r["lowest_cash"]), "exercised": shares(r["shares_exercised"]),
            "sold": shares(r["shares_sold"]), "exercised in": str(r["exercise_years"] or "-"),
            "status": str(r["status"]),
        }  # fmt: skip
        t.add_row(*[cells[c] for c in shown])
    console.print(t)
    if narrow:
        odd = table[(table["kind"] != "baseline") & (table["status"] != "optimal")]
        for _, r in odd.iterrows():
            console.print(f"{r['variant']}: {r['status']}", soft_wrap=False)
    worst = table["plan_vs_exact"].dropna()
    if not worst.empty:
        ok = "agree" if worst.max() <= 1.0 else "DISAGREE (a bug: please report)"
        console.print(
            f"Exact re-evaluation and model {ok}: largest difference ${worst.max():,.2f} over "
            "every variant, year and tax line.",
        )
