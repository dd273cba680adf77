"""`isoplan plan`: one scenario's multi-year plan, or its robust plan over paths, printed."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.table import Table

from planner.cli.common import (
    check_outdir,
    compact,
    console,
    dollars,
    err_console,
    money,
    overrides,
    plan_meta,
    projection_note,
    table_money,
    with_projection,
    with_sets,
    with_solver,
    with_wide,
)
from planner.outputs import records, write_folder
from planner.plan import run_plan, summary_lines, tables
from planner.report.command import check_report_path, report_option, write_plan_report
from planner.robust import robust_lines, robust_tables, run_robust
from planner.variants import Variant, load_variant


def _write_plan(out: dict[str, pd.DataFrame], outdir: Path, variant: Variant, spec: str) -> None:
    meta = plan_meta(variant, spec)
    write_folder(outdir, {f"{name}.parquet": (frame, meta) for name, frame in out.items()})


@click.command()
@click.argument("scenario_spec", metavar="SCENARIO")
@click.option(
    "-o",
    "--output",
    "outdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the plan's tables, one Parquet file each (actions, years, forms, lots, "
    "summary, windows, scenario, key_dates, warnings; and paths for a robust plan).",
)
@with_sets
@with_solver(
    gap="Relative optimality gap to prove (default: the scenario's, else 1e-4).",
    time_limit="Seconds for the whole plan (default: the scenario's, else 60): the model's "
    "build, the baselines, the bound tightening and the solver together (with paths, the plan "
    "for the average path too). On time-out the best plan found is kept, with its gap, and a "
    "baseline cut short says so. Not counted: reading the file, the exact re-evaluation and "
    "the tables, any part of a build beyond the limit (a build cannot stop midway) and the "
    "second each solver phase always gets.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every table as JSON.")
@report_option
@with_wide
@with_projection
def plan(
    scenario_spec: str,
    outdir: Path | None,
    sets: tuple[str, ...],
    solver: str | None,
    gap: float | None,
    time_limit: float | None,
    as_json: bool,
    inflation: float | None,
    no_projection: bool,
    report_path: Path | None,
) -> None:
    """The multi-year exercise ladder of a scenario, proven optimal within a gap.

    Chooses how many shares of which grant to exercise in which year and which lots to sell
    when (qualifying or not), so that after every tax the household ends with the most, cash never
    falls below its floor, and the AMT credit comes back. A mixed-integer program whose tax
    functions are the IRS forms' exact piecewise-linear functions; the plan is then re-evaluated
    year by year by the exact tax engine and both are shown. Four baselines are evaluated on the
    same objective: do nothing until liquidity, exercise everything now, the AMT crossover every
    year, an even split.

    Any income: the IRS Tax Table, the 0% capital-gain band and a year without wages are planned
    exactly. Each year's deduction (standard or itemized) is chosen with that year's actions
    unless the file sets `itemize`; capital losses beyond the year's limit carry forward,
    regular and AMT; cash earns `household.cash_return` (3% a year after tax unless set; 0:
    none).

    \b
    Writes (with -o): actions (one row per exercise or sale), years (income, regular tax, AMTI,
    TMT, AMT, credit generated/used/carried, NIIT, cash, the tax's due date, what one more
    dollar of cash or credit is worth (value_of_cash, value_of_credit); the model's own figures
    beside as model_*), forms (one row per year and form line, for a CPA), lots (regular and
    AMT basis, sold per year, held at the end), summary (objective of the plan and of each
    baseline, solver, status, gap, times, plan-vs-exact difference), windows (sale windows),
    scenario (the scenario's own figures), key_dates (each lot's first qualifying and long-term
    day, each option class's expiry and ISO window end; also printed), warnings (a deadline
    within the first year; a sale window before its year's exercise date; also printed).

    \b
    SCENARIO is a file, or layers joined by '+': base.yaml+ipo-2028.yaml reads base.yaml and
    deep-merges ipo-2028.yaml over it (mappings merge key by key; lists and values replace; a
    layer not found as written is looked up beside the first). --set then overrides single
    fields. Everything is validated after layering and overrides.

    \b
    With `paths` (several futures of the stock, each with a probability), makes the robust
    plan: this year's exercises and sales are the same on every path, later years adapt to the
    path, and the expected after-tax wealth is the largest (optionally with a worst-path floor
    or a CVaR bound, `robust:` in the file). It is compared with the plan made for the average
    path (VSS, the value of planning for the uncertainty); paths.parquet has one row per path,
    and actions, years and lots a `path` column.

    \b
    Exit code 0 with a plan; 1 when there is none: an infeasible scenario (the reason is said in
    words, e.g. cash below the floor even with no exercise) or no plan found within the time
    limit; 2 for bad input (one line naming the file, field and line, nothing written).

    \b
    Examples:
      isoplan plan scenarios/plan-seed-story.yaml
      isoplan plan scenarios/plan-multi-grant.yaml -o out/ --solver highs
      isoplan plan scenarios/plan-seed-story.yaml --set liquidity.ipo_date=2029-03-01
      isoplan plan scenarios/whatif/fmv-jump.yaml+fmv-jump-wait.yaml
      isoplan plan scenarios/whatif/paths-ipo.yaml -o robust/      the robust plan
      isoplan schema > scenario.schema.json     the file format
    """
    check_outdir(outdir)
    if report_path is not None:
        check_report_path(report_path, outdir)
    options = overrides(solver, gap, time_limit, inflation, no_projection)
    variant = load_variant(scenario_spec, sets, overrides=options)
    if variant.robust:
        _plan_robust(variant, outdir, as_json, report_path)
        return
    with err_console.status("solving the plan...", spinner="dots"):
        result = run_plan(variant.scenario, variant.laws, variant.options, worth=True)
    out = tables(result)
    if outdir is not None:
        _write_plan(out, outdir, variant, scenario_spec)
    if report_path is not None:
        write_plan_report(out, plan_meta(variant, scenario_spec), scenario_spec, report_path)
    if as_json:
        click.echo(json.dumps({name: records(frame) for name, frame in out.items()}))
    else:
        _print_plan(result, out)
    if result.solve is None or not result.solve.has_plan:
        if as_json:  # the human output already said why
            err_console.print(f"isoplan: no plan: {result.explanation}")
        sys.exit(1)


def _plan_robust(
    variant: Variant, outdir: Path | None, as_json: bool, report_path: Path | None = None
) -> None:
    """`isoplan plan` of a scenario with paths."""
    with err_console.status(f"solving the robust plan over {len(variant.paths)} paths..."):
        result = run_robust(variant)
    out = robust_tables(result)
    if outdir is not None:
        _write_plan(out, outdir, variant, variant.spec)
    if report_path is not None:
        write_plan_report(out, plan_meta(variant, variant.spec), variant.spec, report_path)
    if as_json:
        click.echo(json.dumps({name: records(frame) for name, frame in out.items()}))
    else:
        _print_robust(result, out)
    if not result.has_plan:
        if as_json:
            err_console.print(f"isoplan: no plan: {result.explanation}")
        sys.exit(1)


def _print_robust(result: Any, out: dict[str, pd.DataFrame]) -> None:
    console.print(result.variant.scenario.description, style="dim")
    paths = out["paths"]
    if not paths.empty and "after_tax_wealth" in paths:
        # Under 110 columns: compact money, two-line headers and the money columns alone (the
        # lowest cash and the shares are in -o and --json), so that no number is cut at 80.
        amount = table_money()
        narrow = amount is compact
        t = Table(title="Robust plan, path by path (exact re-evaluation)", header_style="bold")
        heads = ["path", "chance", "after-tax\nwealth", "mean-value\nplan", "AMT\npaid",
                 "credit\nleft", "lowest\ncash", "exercised", "sold"]  # fmt: skip
        for c in heads[:6] if narrow else heads:
            left = c == "path"
            t.add_column(c, justify="left" if left else "right", no_wrap=not left)
        for _, r in paths.iterrows():
            mv = r["mean_value_wealth"]
            cells = [
                str(r["path"]), f"{r['probability']:.0%}", amount(r["after_tax_wealth"]),
                "infeasible" if pd.isna(mv) else amount(mv), amount(r["amt_paid"]),
                amount(r["credit_left"]), amount(r["lowest_cash"]),
                f"{r['shares_exercised']:,.0f}", f"{r['shares_sold']:,.0f}",
            ]  # fmt: skip
            t.add_row(*(cells[:6] if narrow else cells))
        console.print(t)
        if narrow:
            console.print(
                "(a narrow console: the lowest cash and the shares with --wide, -o or --json)"
            )
    actions = out["actions"]
    if not actions.empty:
        first = result.variant.scenario.year_numbers[: result.variant.shared_years]
        now = actions[actions["year"].isin(first)].drop_duplicates(
            subset=["kind", "option_id", "lot_id", "window_id", "year"]
        )
        t = Table(title="Decided now (the same on every path)", header_style="bold")
        for c in ("year", "action", "grant / lot", "shares", "price"):
            t.add_column(c, justify="right" if c in ("shares", "price") else "left")
        for _, a in now.iterrows():
            action, subject = _action(a)
            t.add_row(
                str(a["year"]), action, subject, f"{a['shares']:,.0f}", money(a["price"])
            )  # fmt: skip
        console.print(t if not now.empty else "Decided now: no exercise or sale this year.")
    paths = list(result.paths)
    dates = out.get("key_dates", pd.DataFrame())
    if not dates.empty:
        # The dates the same on every path: the scenario's, and those of the decisions made now.
        columns = [c for c in dates.columns if c != "path"]
        rows = dates[columns].astype(str).apply(tuple, axis=1)
        on_every_path = (rows.map(rows.value_counts()) == len(paths)).to_numpy()
        shared = dates.loc[on_every_path, columns].drop_duplicates()
        _print_key_dates(shared, "Key dates (the same on every path)")
    for line in robust_lines(result):
        console.print(line)
    warnings = out.get("warnings", pd.DataFrame())
    if not warnings.empty:
        on = warnings.groupby("message", sort=False)["path"].agg(list)
        for message, where in on.items():
            some = "" if len(where) == len(paths) else f" (path {', '.join(where)})"
            console.print(textwrap.fill(f"Warning{some}: {message}", 80, subsequent_indent="  "))


def _action(a: Any) -> tuple[str, str]:
    """An action row's label and the grant or lot it acts on, as the plan tables print them."""
    if a["kind"] == "exercise":
        return "exercise", str(a["option_id"])
    if a["kind"] == "exercise_and_sell":
        return f"exercise, sell ({a['window_id']})", str(a["option_id"])
    return f"sell ({a['window_id']})", str(a["lot_id"])


def _print_plan(result: Any, out: dict[str, pd.DataFrame]) -> None:
    s = result.scenario
    if s.description:
        console.print(s.description, style="dim")
    table = Table(title="Plans compared (exact re-evaluation)", header_style="bold")
    value = "after-tax wealth" if s.objective == "wealth" else "PV extra tax"
    amount = table_money()
    for c in (
        "approach",
        value,
        "extra tax",
        "AMT paid",
        "credit used",
        "credit left",
        "lowest cash",
    ):
        left = c == "approach"
        # narrow: two-line headers and whole numbers, so that only the names wrap
        head = c.replace(" ", "\n", 1) if amount is compact and not left else c
        table.add_column(
            head, justify="left" if left else "right", no_wrap=not left, overflow="fold"
        )
    for _, r in out["summary"].iterrows():
        note = r.get("note")
        name = str(r["approach"]) + (f" ({note})" if isinstance(note, str) and note else "")
        table.add_row(
            name,
            amount(r["objective_value"]),
            amount(r["total_extra_tax"]),
            amount(r["amt_paid"]),
            amount(r["credit_used"]),
            amount(r["credit_left"]),
            amount(r["lowest_cash"]),
        )
    if table.row_count:
        console.print(table)
    actions = out.get("actions")
    if actions is not None and not actions.empty:
        t = Table(title="Optimized plan", header_style="bold")
        for c in ("year", "action", "grant / lot", "shares", "price", "note"):
            t.add_column(c, justify="right" if c in ("shares", "price") else "left")
        for _, a in actions.iterrows():
            if a["kind"] == "exercise":
                note = f"{a['treatment'].upper()}, FMV {money(a['fmv'])}"
            elif a["kind"] == "exercise_and_sell":
                note = f"{a['treatment'].upper()}, strike {money(a['cost'] / a['shares'])}"
            else:
                note = (
                    ("qualifying" if a["qualifying"] else "disqualifying")
                    if a["treatment"] == "iso"
                    else ("long-term" if a["long_term"] else "short-term")
                )
            action, subject = _action(a)
            t.add_row(
                str(a["year"]), action, subject, f"{a['shares']:,.0f}", money(a["price"]), note
            )
        console.print(t)
    years = out.get("years")
    if years is not None and not years.empty:
        _print_years(years, out.get("actions"))
    _print_key_dates(out["key_dates"])
    for line in summary_lines(result):
        console.print(line, soft_wrap=False)  # wrapped at the console's width, by words
    if years is not None and not years.empty:
        note = projection_note(years, result.options.inflation)
        if note:
            console.print(note, soft_wrap=False)
    _print_warnings(out["warnings"])


def _print_years(years: pd.DataFrame, actions: pd.DataFrame | None) -> None:
    """One line per year of the optimized plan (80 columns): shares exercised and sold, the
    tax the plan adds (paid the next April), cash at the end of the year and the credit left
    (federal plus California's), and what one more dollar of cash at the year's end adds at the
    horizon (the return on cash alone where cash does not bind); a projected year is starred."""
    t = Table(
        title="Year by year (optimized plan)",
        caption="$1 of cash: what a dollar more at the year's end adds to the objective",
        header_style="bold",
    )
    heads = ("year", "exercised", "sold", "tax due\nnext April", "cash after", "credit left",
             "$1 of\ncash")  # fmt: skip
    for c in heads:
        t.add_column(c, justify="right", no_wrap=True)
    done = actions if actions is not None and not actions.empty else None
    for _, y in years.iterrows():
        year = int(y["year"])

        def shares(kinds: tuple[str, ...], year: int = year) -> str:
            if done is None:
                return "0"
            rows = done[(done["year"] == year) & done["kind"].isin(kinds)]
            return f"{rows['shares'].sum():,.0f}"

        t.add_row(
            f"{year}{'*' if y['projected'] else ''}",
            shares(("exercise", "exercise_and_sell")),
            shares(("sale", "exercise_and_sell")),
            dollars(y["extra_tax"]),
            dollars(y["cash"]),
            dollars(y["mtc_carryforward_out"] + y["ca_credit_carryforward_out"]),
            "-" if pd.isna(y["value_of_cash"]) else f"${y['value_of_cash']:,.2f}",
        )
    console.print(t)


_EVENT_LABELS = {
    "qualifying": "qualifying",
    "long_term": "long-term",
    "iso_window_end": "ISO window ends",
    "expiry": "expires",
}


def _print_key_dates(dates: pd.DataFrame, title: str = "Key dates") -> None:
    """The key dates (`planner.key_dates`) as one compact table that reads at 80 columns: a lot's
    events of one day on one row."""
    if dates.empty:
        return
    t = Table(
        title=title,
        caption="qualifying, long-term: from this day on; expires, ISO window ends: last day",
        header_style="bold",
    )
    t.add_column("date")
    t.add_column("grant / lot", max_width=24, overflow="fold")  # 80 columns at most
    t.add_column("what")
    t.add_column("shares", justify="right")
    rows: dict[tuple[Any, str], list[Any]] = {}
    for _, d in dates.iterrows():
        subject = str(d["lot_id"] if isinstance(d["lot_id"], str) else d["option_id"])
        row = rows.setdefault((d["date"], subject), [d["shares"], []])
        row[1].append(_EVENT_LABELS[d["event"]])
    for (day, subject), (shares, events) in rows.items():
        count = "" if pd.isna(shares) else f"{shares:,.0f}"
        t.add_row(day.isoformat(), subject, ", ".join(events), count)
    console.print(t)


def _print_warnings(warnings: pd.DataFrame) -> None:
    """Each warning of the plan, wrapped at 80 columns."""
    for message in warnings.get("message", ()):
        console.print(textwrap.fill(f"Warning: {message}", 80, subsequent_indent="  "))
