"""The `isoplan` command line.

Every command reads validated input, computes with the exact engine, and prints a readable result;
`--json` prints the same result for machines, `-o FILE` writes it (Parquet, CSV, JSONL or JSON by
extension). Bad input is one line on stderr and exit code 2, and nothing is written.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import sys
import textwrap
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from models.law import STATUSES
from planner.compare import baseline_rows, compare_table, load_variants, plan_variant
from planner.errors import EngineError, InputError
from planner.household_taxes import (
    CHUNK_ROWS,
    LOSS_CARRYOVER_OUT,
    compute_crossover,
    compute_tax,
    line_names,
)
from planner.households import GRANT_COLUMNS, HOUSEHOLD_COLUMNS, read_example, read_table
from planner.law import citations, default_inflation, law_for_years, published_years
from planner.limits import GROWTH, MAX_TIME_LIMIT, MAX_WORKERS
from planner.options import Overrides
from planner.outputs import (
    check_output_folder,
    check_output_path,
    records,
    write_folder,
    write_table,
)
from planner.plan import run_plan, summary_lines, tables
from planner.report.command import (
    check_report_path,
    report,
    report_option,
    write_compare_report,
    write_plan_report,
)
from planner.robust import robust_lines, robust_tables, run_robust
from planner.scenario import scenario_json_schema
from planner.scenario.reading import read_yaml
from planner.solve import SOLVERS
from planner.variants import Variant, load_variant

try:
    __version__ = version("isoplan")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

# Piped output is not cut to 80 columns: tables stay readable in files and CI logs. No console
# markup: descriptions, ids and names are the user's text, and "[/b]" in one is not a style.
_WIDTH = None if sys.stdout.isatty() else 160  # a pipe: 160 columns, or ISOPLAN_WIDTH
console = Console(soft_wrap=True, width=_WIDTH, height=None if _WIDTH is None else 25, markup=False)
err_console = Console(stderr=True, soft_wrap=True, markup=False)


class _Number(click.FloatRange):
    """A finite number within the range: click's FloatRange lets NaN through (every comparison
    with it is false) and infinity past an open end."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def _compact(x: float) -> str:
    """Money in at most 8 characters, for a table that must fit 80 columns: whole dollars below
    $10,000, then thousands ($807.6k) and millions ($1.23M); never cut."""
    sign, a = ("-" if x < -0.5 else ""), abs(x)
    if a < 9_999.5:
        return f"{sign}${a:,.0f}"
    if a < 999_950:
        return f"{sign}${a / 1e3:.1f}k"
    return f"{sign}${a / 1e6:.2f}M"


def _table_money() -> Any:
    """The money format of the wide tables: full dollars and cents where the console has room
    (110 columns or `--wide`), compact (`_compact`) where it has not."""
    return _money if _WIDE[0] or console.width >= 110 else _compact


_WIDE = [False]  # --wide: full figures whatever the console's width


def _dollars(x: float) -> str:
    """Whole dollars, for the tables a person reads at 80 columns."""
    return f"-${-x:,.0f}" if x < -0.5 else f"${x:,.0f}"


def _money(x: float) -> str:
    return f"-${-x:,.2f}" if x < 0 else f"${x:,.2f}"


def _signed(x: float) -> str:
    return f"-${-x:,.2f}" if x < 0 else _money(x)


def _provenance(
    years: Iterable[int],
    projected: Iterable[int],
    inflation: Iterable[float | None],
    **more: str,
) -> dict[str, str]:
    """The metadata of every Parquet file isoplan writes: its version, the tax-law years used,
    which of them are projected and at what assumed inflation (each rate the results used, None
    for data/projection.yaml's; compared variants may differ), and what `more` adds."""
    projected = sorted(set(projected))
    rates = sorted({default_inflation() if r is None else r for r in inflation})
    return {
        "version": __version__, **more,
        "tax_law_years": ",".join(map(str, sorted(set(years)))),
        "projected_years": ",".join(map(str, projected)),
        "inflation_assumed": ",".join(map(str, rates)) if projected else "",
        "published_years": ",".join(map(str, published_years())),
    }  # fmt: skip


def _table_provenance(out: pd.DataFrame, inflation: float | None) -> dict[str, str]:
    """`_provenance` of a result table with `year` and `projected` columns."""
    projected = out.loc[out["projected"], "year"]
    return _provenance((int(y) for y in out["year"]), (int(y) for y in projected), [inflation])


def _projection_note(out: pd.DataFrame, inflation: float | None) -> str | None:
    projected = sorted({int(y) for y in out.loc[out["projected"], "year"]})
    if not projected:
        return None
    rate = default_inflation() if inflation is None else inflation
    return (
        f"note (*): tax law for {', '.join(map(str, projected))} is projected (not published), "
        f"indexed at an assumed {rate:.1%} a year"
    )


def _with_outputs(f: Any) -> Any:
    """The -o/--output and --json options of the computing commands."""
    f = click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")(f)
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write results to this file: .parquet, .csv, .jsonl or .json.",
    )(f)


def _set_wide(ctx: click.Context, param: click.Parameter, wide: bool) -> None:
    if wide:
        _WIDE[0] = True
        console.size = (max(console.width, 200), console.height)


def _with_wide(f: Any) -> Any:
    """--wide: every table's full figures (dollars and cents) and columns, however narrow the
    console."""
    return click.option(
        "--wide",
        is_flag=True,
        expose_value=False,
        callback=_set_wide,
        help="Full figures (dollars and cents) and every column in the tables, however narrow "
        "the console; by default a console under 110 columns gets compact ones ($807.6k) and "
        "the key columns, so that tables fit.",
    )(f)


def _with_projection(f: Any) -> Any:
    """The --inflation and --no-projection options every computing command shares."""
    f = click.option(
        "--no-projection",
        is_flag=True,
        help="Refuse years whose tax law is not published yet instead of projecting them.",
    )(f)
    return click.option(
        "--inflation",
        type=_Number(*GROWTH),
        default=None,
        help="Assumed annual chained-CPI inflation for years after the last published tax law "
        "(default from data/projection.yaml).",
    )(f)


def _with_solver(gap: str, time_limit: str) -> Any:
    """The --solver, --gap and --time-limit options of the planning commands."""

    def decorate(f: Any) -> Any:
        f = click.option(
            "--time-limit", type=_Number(0.1, MAX_TIME_LIMIT), default=None, help=time_limit
        )(f)
        f = click.option("--gap", type=_Number(0, 1, max_open=True), default=None, help=gap)(f)
        return click.option(
            "--solver",
            type=click.Choice(SOLVERS),
            default=None,
            help="MILP solver: highs (default) or cbc.",
        )(f)

    return decorate


def _overrides(
    solver: str | None,
    gap: float | None,
    time_limit: float | None,
    inflation: float | None,
    no_projection: bool,
) -> Overrides:
    """The planning options given on the command line, over each scenario file's own."""
    return Overrides(solver, gap, time_limit, inflation, False if no_projection else None)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="isoplan")
def cli() -> None:
    """isoplan: exact federal tax for stock-option decisions.

    \b
    Start here:
      isoplan crossover scenarios/seed-story.yaml   the most ISO shares you can exercise AMT-free
      isoplan tax households.csv -o taxes.parquet   regular tax, AMT, NIIT, AMT credit per row
      isoplan law 2026                              the tax-law figures used, with their sources
      isoplan schema                                the format of multi-year scenario files
      isoplan plan scenario.yaml -o plan/           one household's multi-year exercise ladder
      isoplan compare base.yaml variant.yaml        scenarios side by side (what-ifs)
      isoplan report plan/ -o report.html           a plan's folder as a page (or .xlsx)
      isoplan batch book/ -o results/               every client of a book (local pool or Dask)
      isoplan crossover book/                       every client's AMT-free exercise, at once

    Every figure of tax law comes from data/ with its source; years after the last published year
    are projected and flagged as such.
    """


@cli.command()
@click.argument(
    "input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--lines",
    is_flag=True,
    help="Also write the form lines a CPA checks, one column each (f1040_l7 ... f6251_l2i ..., "
    "ca540_l35 ...; the Parquet file's metadata names each column's form and line).",
)
@_with_wide
@_with_outputs
@_with_projection
def tax(
    input_path: Path,
    lines: bool,
    output: Path | None,
    as_json: bool,
    inflation: float | None,
    no_projection: bool,
) -> None:
    """Exact federal and California tax of every household-year in INPUT.

    Computes Form 1040 line 16 (Tax Table below $100,000, QDCG worksheet), Form 6251 (AMTI,
    exemption, tentative minimum tax, AMT), Form 8801 (minimum tax credit allowed, generated and
    carried forward), Form 8960 (NIIT) and Form 8959 (Additional Medicare Tax); and, for a row
    whose `state` is ca, California's Form 540 (lines 17-19, 31 from the FTB Tax Table at or
    below $100,000, 32 exemption credits, 48, 61 AMT, 62 Mental Health Services Tax), Schedule
    P (540) and FTB 3510 (credit for prior year AMT). California reads `real_estate_tax` (the
    part of salt that is property tax), `dependents` and `ca_amt_credit_carryforward`.

    \b
    Output columns: id, year, filing_status, agi, deduction, taxable_income, regular_tax, amti,
    amt_exemption, tmt, amt, niit, additional_medicare_tax, mtc_allowed, mtc_generated,
    mtc_carryforward_out, st_loss_carryover_out, lt_loss_carryover_out,
    amt_st_loss_carryover_out, amt_lt_loss_carryover_out (the capital losses carried to next
    year, regular and AMT: next year's st_loss_carryover ... amt_lt_loss_carryover), total_tax,
    itemized, projected. The table on the console shows a carryover column only when some row
    carries a loss out. With a `state` column, also: federal_total_tax, state, ca_agi,
    ca_deduction, ca_taxable_income, ca_regular_tax (540 line 31), ca_exemption_credits (line
    32), ca_amti, ca_amt_exemption, ca_tmt, ca_amt (line 61), ca_mhst (line 62),
    ca_credit_allowed, ca_credit_generated, ca_credit_carryforward_out (next year's
    ca_amt_credit_carryforward), ca_total_tax, ca_itemized; total_tax is then federal plus
    California.

    \b
    Example:
      isoplan tax scenarios/households.csv -o taxes.parquet
    """
    if output is not None:
        check_output_path(output)
    df = read_table(input_path)
    if len(df) > CHUNK_ROWS and sys.stderr.isatty():
        with Progress(
            *Progress.get_default_columns()[:-1],
            BarColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("computing", total=len(df))
            out = compute_tax(
                df,
                inflation,
                not no_projection,
                input_path,
                progress=lambda n: bar.advance(task, n),
                lines=lines,
            )
    else:
        out = compute_tax(df, inflation, not no_projection, input_path, lines=lines)
    note = _projection_note(out, inflation)
    if output is not None:
        meta = _table_provenance(out, inflation)
        if lines:
            meta["lines"] = json.dumps(line_names(list(out.columns)))
        write_table(out, output, meta)
    if as_json:
        click.echo(json.dumps(records(out)))
    elif output is not None:
        err_console.print(f"wrote {len(out):,} rows to {output}")
    else:
        carried = tuple(c for c in LOSS_CARRYOVER_OUT if (out[c] != 0).any())
        state = ("ca_amt", "ca_total_tax") if "state" in out.columns else ()
        _print_rows(out, _TAX_TABLE_COLUMNS + carried + state)
    if note:
        err_console.print(note)


_TAX_TABLE_COLUMNS = ("id", "year", "filing_status", "taxable_income", "regular_tax", "tmt",
                      "amt", "niit", "mtc_allowed", "total_tax")  # fmt: skip
_CROSSOVER_TABLE_COLUMNS = ("id", "year", "filing_status", "shares", "amt", "next_amt",
                            "keep_credit_shares", "rule_of_thumb_shares",
                            "rule_of_thumb_amt")  # fmt: skip


def _cell(column: str, value: Any) -> str:
    if column.endswith("shares"):
        return f"{value:,}"
    return _money(value) if isinstance(value, float) else str(value)


# The columns a console under 110 columns keeps (the rest are in -o and --json).
_NARROW_COLUMNS = ("id", "year", "filing_status", "regular_tax", "amt", "ca_amt", "total_tax",
                   "shares", "next_amt", "rule_of_thumb_shares")  # fmt: skip


def _print_rows(out: pd.DataFrame, columns: tuple[str, ...], limit: int = 40) -> None:
    """A result table for the console; projected years are starred. Under 110 columns it keeps
    `_NARROW_COLUMNS`, in compact money (`_compact`) with two-line headers, so that it fits 80
    columns without cutting a number."""
    narrow = _table_money() is _compact
    if narrow:
        columns = tuple(c for c in columns if c in _NARROW_COLUMNS)
    table = Table(show_header=True, header_style="bold")
    for c in columns:
        left = c in ("id", "filing_status")
        head = c.replace("_", "\n" if narrow else "_", 1) if not left else c
        table.add_column(
            "status" if narrow and c == "filing_status" else head,
            justify="left" if left else "right",
            no_wrap=narrow and not left,
            overflow="fold",
        )
    for _, row in out.head(limit).iterrows():
        cells = [
            _compact(row[c]) if narrow and isinstance(row[c], float) else _cell(c, row[c])
            for c in columns
        ]
        cells[1] += "*" if row["projected"] else ""
        table.add_row(*cells)
    console.print(table)
    if len(out) > limit:
        console.print(f"... {len(out) - limit:,} more rows; use -o FILE or --json for all")
    elif narrow:
        console.print("(a narrow console: more columns with -o FILE or --json)", soft_wrap=False)


# ----------------------------------------------------------------------------------------------
# crossover
# ----------------------------------------------------------------------------------------------


def _household_options(f: Any) -> Any:
    for col in reversed(HOUSEHOLD_COLUMNS + GRANT_COLUMNS):
        low = -col.maximum if col.signed else 0
        kind = click.IntRange(low, col.maximum) if col.integer else _Number(low, col.maximum)
        f = click.option(
            f"--{col.name.replace('_', '-')}",
            col.name,
            type=kind,
            default=None,
            help=col.help[0].upper() + col.help[1:] + ".",
        )(f)
    return f


@cli.command()
@click.argument(
    "input_path",
    metavar="[INPUT]",
    required=False,
    type=click.Path(exists=True, dir_okay=True, path_type=Path),
)
@click.option("--year", type=int, default=None, help="Tax year (default: this year).")
@click.option(
    "--filing-status",
    type=click.Choice(STATUSES),
    default=None,
    help="Filing status (needed without INPUT).",
)
@click.option(
    "--itemize/--standard-deduction",
    default=None,
    help="Force the deduction; by default the lower-tax one is used.",
)
@click.option(
    "--state",
    type=click.Choice(["ca"]),
    default=None,
    help="ca: a California resident, whose answer keeps California's AMT at zero too (the joint "
    "crossover, beside each system's own).",
)
@_household_options
@_with_wide
@_with_outputs
@_with_projection
def crossover(
    input_path: Path | None,
    year: int | None,
    filing_status: str | None,
    itemize: bool | None,
    state: str | None,
    output: Path | None,
    as_json: bool,
    inflation: float | None,
    no_projection: bool,
    **fields: Any,
) -> None:
    """The most ISO shares you can exercise and hold this year without AMT.

    Exact to the share: at the answer N the AMT is within --amt-budget (default $0) and at N+1 it
    is over. Also shows the largest exercise that keeps a minimum tax credit carried in from
    earlier years fully usable this year, and what the rule of thumb (gap / 28%) would say and the
    AMT it would really cost.

    \b
    INPUT is optional:
      a YAML example with `description`, `household` and `grant` (options override its fields),
      or a plan scenario (`isoplan schema`): its first year (--year for another), over all its
      vested ISO grants, smallest spread first,
      or a CSV / JSONL / Parquet table of many household-years with columns strike, fmv,
      shares and optionally amt_budget (one answer per row),
      or a BOOK folder (`isoplan schema --book`): one answer per client for the first year of
      its horizon (--year for another), over all its vested ISO grants, smallest spread first;
      vectorized (100,000 clients in seconds).

    \b
    Examples:
      isoplan crossover scenarios/seed-story.yaml
      isoplan crossover --year 2026 --filing-status single --wages 250000 \\
          --strike 1 --fmv 51 --shares 10000
      isoplan crossover clients.csv -o crossover.parquet
      isoplan crossover book/ -o amt-free.parquet
    """
    if output is not None:
        check_output_path(output)
    # A book, or a plan scenario: the input holds its households; only --amt-budget applies.
    whole = None
    if input_path is not None and input_path.is_dir():
        whole = _crossover_book, "one household; a book has its own columns"
    elif input_path is not None and _is_plan_scenario(input_path):
        whole = _crossover_scenario, "a household; a plan scenario has its own"
    if whole is not None:
        answer, why = whole
        budget = fields.pop("amt_budget", None)
        extra = [k for k, v in fields.items() if v is not None] + (["state"] if state else [])
        if extra or filing_status is not None or itemize is not None:
            name = (extra or ["filing_status"])[0].replace("_", "-")
            raise InputError(f"--{name} applies to {why}")
        answer(input_path, year, budget or 0.0, output, as_json, inflation, no_projection)
        return
    given = {k: v for k, v in fields.items() if v is not None}
    if year is not None:
        given["year"] = year
    if filing_status is not None:
        given["filing_status"] = filing_status
    if itemize is not None:
        given["itemize"] = itemize
    if state is not None:
        given["state"] = state
    description = ""
    input_is_table = input_path is not None and input_path.suffix.lower() not in (".yaml", ".yml")
    if input_path is not None and not input_is_table:
        df, description = read_example(input_path)
        for k, v in given.items():
            df[k] = [v]
    elif input_path is not None:
        df = read_table(input_path)
        if "amt_budget" in given and "amt_budget" not in df.columns:
            df["amt_budget"] = given.pop("amt_budget")
        if given:
            name = next(iter(given)).replace("_", "-")
            raise InputError(f"--{name} applies to one household; with a table, use its columns")
    else:
        if "filing_status" not in given:
            raise InputError("--filing-status is required without INPUT (or give an INPUT file)")
        given.setdefault("year", _dt.date.today().year)
        df = pd.DataFrame([{"id": "cli", **given}])
    source = input_path or Path("<options>")
    out = compute_crossover(df, inflation, not no_projection, source)
    if output is not None:
        write_table(out, output, _table_provenance(out, inflation))
    if as_json:
        rows = records(out)
        click.echo(json.dumps(rows if input_is_table else rows[0]))
    elif len(out) == 1:
        _print_crossover(out.iloc[0], description)
    else:
        _print_rows(out, _CROSSOVER_TABLE_COLUMNS)
    note = _projection_note(out, inflation)
    if note:
        err_console.print(note)


def _is_plan_scenario(path: Path) -> bool:
    """A YAML plan scenario (with `grants`), rather than a crossover example (with `grant`)."""
    if path.is_dir() or path.suffix.lower() not in (".yaml", ".yml"):
        return False
    doc = read_yaml(path)[0]
    return isinstance(doc, dict) and "grants" in doc and "grant" not in doc


def _crossover_scenario(
    path: Path,
    year: int | None,
    budget: float,
    output: Path | None,
    as_json: bool,
    inflation: float | None,
    no_projection: bool,
) -> None:
    """The crossover of a plan scenario's first year (or --year): its vested ISO grants as a
    book's client, smallest spread first."""
    from planner.book import scenario_book
    from planner.book_crossover import book_crossover

    out = book_crossover(scenario_book(path), year, budget, inflation, not no_projection)
    row = out.iloc[0]
    if row["error"]:
        raise InputError(f"{path}: {row['error']}")
    if output is not None:
        write_table(out, output, {"version": __version__, "scenario": str(path)})
    if as_json:
        click.echo(json.dumps(records(out)[0]))
        return
    target = "no AMT" if budget == 0 else f"AMT within {_money(budget)}"
    console.print(f"AMT crossover, {int(row['year'])} ({row['filing_status']}): {path.name}",
                  style="bold")  # fmt: skip
    if row["iso_shares"] == 0:
        console.print("  No vested ISO shares in the money that year.")
        return
    console.print(
        Text.assemble(
            "  Exercise ", (f"{int(row['shares']):,}", "bold"),
            f" of {int(row['iso_shares']):,} vested ISO shares with {target}: spread "
            f"{_money(row['spread'])} ({row['by_grant']})",
        )
    )  # fmt: skip
    console.print(
        f"  AMT {_money(row['amt'])}; room for {_money(row['spread_capacity'])} of spread."
    )
    if row.get("state") == "ca":
        console.print(f"  California AMT {_money(row['ca_amt'])} (the joint answer).")


def _crossover_book(
    path: Path,
    year: int | None,
    budget: float,
    output: Path | None,
    as_json: bool,
    inflation: float | None,
    no_projection: bool,
) -> None:
    from planner.book import read_book
    from planner.book_crossover import book_crossover

    book = read_book(path, documents=False)  # tables are read vectorized
    out = book_crossover(book, year, budget, inflation, not no_projection)
    if output is not None:
        write_table(out, output, {"version": __version__, "book": str(path)})
    if as_json:
        click.echo(json.dumps(records(out)))
        return
    ok = out[out["error"] == ""]
    if output is None:
        # Under 110 columns: compact money and two-line headers, ids and grants folded whole,
        # so that the table fits 80 columns without cutting a number.
        narrow = _table_money() is _compact
        table = Table(show_header=True, header_style="bold")
        columns = ("client_id", "year", "filing_status", "iso_shares", "shares", "amt",
                   "spread_capacity", "by_grant")  # fmt: skip
        for c in columns:
            left = c in ("client_id", "by_grant")
            table.add_column(
                c.replace("_", "\n", 1) if narrow else c,
                justify="left" if left else "right",
                no_wrap=not left,
                overflow="fold",
            )
        whole = ("year", "shares", "iso_shares")  # a client that failed makes the column float
        for _, r in ok.head(40).iterrows():
            cells = [
                _cell(c, int(r[c]))
                if c in whole
                else _compact(r[c])
                if narrow and isinstance(r[c], float)
                else _cell(c, r[c])
                for c in columns
            ]
            table.add_row(*cells)
        console.print(table)
        if len(ok) > 40:
            console.print(f"... {len(ok) - 40:,} more clients; use -o FILE or --json for all")
    some = int((ok["shares"] > 0).sum())
    none_vested = int((ok["iso_shares"] == 0).sum())
    err_console.print(
        f"{len(out):,} clients: {some:,} can exercise ISO shares without AMT"
        f"{f' (within ${budget:,.0f})' if budget else ''}, {len(ok) - some - none_vested:,} "
        f"cannot, {none_vested:,} have no vested ISO shares in the money, "
        f"{len(out) - len(ok):,} could not be answered (see the error column)"
        + (f"; wrote {output}" if output is not None else "")
    )


def _print_crossover(r: pd.Series, description: str) -> None:
    if description:
        console.print(description, style="dim")
    budget = r["amt_budget"]
    target = "no AMT" if budget == 0 else f"AMT within {_money(budget)}"
    console.print(
        f"AMT crossover, {r['year']} ({r['filing_status']}"
        f"{', itemized' if r['itemized'] else ', standard deduction'})",
        style="bold",
    )
    if r["spread_per_share"] <= 0:
        console.print(
            "  Warning: the grant is underwater (its FMV is at or below the strike): an exercise "
            "creates no AMT but costs at least what the shares are worth, so there is no "
            "crossover to find.",
            style="yellow",
        )
        return
    console.print(
        Text.assemble(
            "  Exercise ",
            (f"{r['shares']:,}", "bold"),
            f" shares with {target}: spread "
            f"{_money(r['spread'])} at {_money(r['spread_per_share'])} a share",
        )
    )
    console.print(
        f"  Regular tax {_money(r['regular_tax'])}, tentative minimum tax {_money(r['tmt'])}, "
        f"AMT {_money(r['amt'])}"
    )
    if r["all_exercisable"]:
        console.print("  Every available share fits: the limit is the grant, not the AMT.")
    else:
        console.print(
            f"  One share more ({r['next_shares']:,}) would cost AMT {_money(r['next_amt'])}; "
            f"all available shares would cost AMT {_money(r['all_shares_amt'])}."
        )
    if r.get("state") == "ca":
        console.print(
            f"  California: regular tax {_money(r['ca_regular_tax'])}, AMT "
            f"{_money(r['ca_amt'])} (one share more: {_money(r['next_ca_amt'])}); the count keeps "
            "federal and California AMT together within the budget."
        )
        console.print(
            f"  Each system alone: federal {r['federal_shares']:,} shares, California "
            f"{r['ca_shares']:,}; the federal answer alone would cost California AMT "
            f"{_money(r['ca_amt_at_federal'])}."
        )
    if r["amt_before"] > budget:
        console.print(
            f"  Already over budget before exercising: AMT {_money(r['amt_before'])}", style="red"
        )
    console.print(
        f"  Rule of thumb (gap {_money(r['gap'])} / 28%): {r['rule_of_thumb_shares']:,} shares, "
        f"which would really cost AMT {_money(r['rule_of_thumb_amt'])}."
    )
    if r["mtc_allowed_before"] > 0:
        console.print(
            f"  Without exercising, {_money(r['mtc_allowed_before'])} of carried-in AMT credit is "
            f"usable this year; {r['keep_credit_shares']:,} shares keep all of it usable."
        )
    if r["projected"]:
        console.print(f"  Tax law for {r['year']} is projected, not yet published.", style="yellow")


# ----------------------------------------------------------------------------------------------
# law
# ----------------------------------------------------------------------------------------------


@cli.command()
@click.argument("year", type=int)
@click.option(
    "--state",
    type=click.Choice(["ca"]),
    default=None,
    help="A state's law instead of the federal: ca (California: Form 540, Schedule P).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@_with_projection
def law(
    year: int, state: str | None, as_json: bool, inflation: float | None, no_projection: bool
) -> None:
    """The tax-law figures isoplan uses for YEAR, per filing status.

    Published years show the values from data/federal/YEAR.yaml (with --state ca,
    data/ca/YEAR.yaml), where each figure names its source (Rev. Proc. section and page, IRC or
    R&TC section, FTB form); later years show the projection.

    \b
    Examples:
      isoplan law 2026
      isoplan law 2025 --state ca
      isoplan law 2030 --inflation 0.03 --json
    """
    jurisdiction = state or "federal"
    year_law = law_for_years([year], inflation, not no_projection, jurisdiction)[year]
    sources = citations(year, jurisdiction)
    if as_json:
        payload = {
            "year": year,
            "jurisdiction": jurisdiction,
            "projected": year_law.projected,
            "values": year_law.values,
            "sources": sources,
        }
        click.echo(json.dumps(payload))
        return
    where = "" if state is None else "California "
    title = f"{where}Tax law {year}" + (" (projected)" if year_law.projected else "")
    # Under 110 columns the sources are left to the data files (their path is printed below)
    # and names fold whole, so that the figures are never cut.
    narrow = _table_money() is _compact
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("parameter", overflow="fold")
    for s in STATUSES:
        table.add_column(s, justify="right", overflow="fold")
    if not narrow:
        table.add_column("source")
    for name, value in year_law.values.items():
        cells = [_fmt(value.get(s) if isinstance(value, dict) else value) for s in STATUSES]
        table.add_row(name, *cells, *([] if narrow else [sources.get(name, "")]))
    console.print(table)
    if not year_law.projected:
        console.print(f"Full references with links: data/{jurisdiction}/{year}.yaml")


# ----------------------------------------------------------------------------------------------
# schema
# ----------------------------------------------------------------------------------------------


@cli.command()
@click.argument("path", metavar="[FILE]", default="scenario.yaml", type=click.Path(path_type=Path))
def init(path: Path) -> None:
    """Write a commented starter scenario (FILE, default scenario.yaml) to edit and plan.

    Every figure in it is an example: the household, the horizon, the income, the price and its
    growth, one ISO grant with its vesting, an IPO. It plans as written; `isoplan schema`
    describes every field it can hold.

    \b
    Examples:
      isoplan init
      isoplan init my-options.yaml && isoplan plan my-options.yaml
    """
    from planner.init import write_starter

    write_starter(path)
    err_console.print(f"wrote {path}: edit it, then run  isoplan plan {path}")


@cli.command()
@click.option(
    "--book",
    "book_format",
    is_flag=True,
    help="Print the book format instead: the columns of the clients, grants and years tables "
    "of `isoplan batch`, their types and the scenario field each one fills.",
)
def schema(book_format: bool) -> None:
    """Print the JSON Schema of scenario files (the multi-year plan's YAML input).

    A scenario file describes a household (filing status, cash, AMT credit carried in), its
    income per year (a `default` block for every year, per-year overrides under `years`), the
    stock's FMV per year (`prices`), option grants with their vesting, shares already held
    (`lots`), when shares can be sold (`liquidity`: IPO and lockup, tender offers), the
    `objective` and the `solver` settings. Every field is described in the schema; unknown
    fields are errors. The examples in scenarios/plan-*.yaml tell a story each.

    Editors that understand JSON Schema (e.g. VS Code with the YAML extension) check and
    complete scenario files with it.

    With --book, prints the book format of `isoplan batch` and `isoplan crossover BOOK`
    instead: tables of clients and of their grants and lots whose columns are the same fields.

    \b
    Examples:
      isoplan schema > scenario.schema.json
      then, as the first line of a scenario file:
      # yaml-language-server: $schema=scenario.schema.json
      isoplan schema --book        the columns of a book's tables
    """
    if book_format:
        from planner.book import book_schema

        click.echo(json.dumps(book_schema(), indent=2))
        return

    click.echo(json.dumps(scenario_json_schema(), indent=2))


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return " / ".join(_fmt(x) for x in v)
    if isinstance(v, float) and v < 1:
        return f"{v:g}"
    return f"{v:,.2f}".removesuffix(".00")


def _with_sets(f: Any) -> Any:
    """The --set option of the commands that read scenario files."""
    return click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="PATH=VALUE",
        help="Override one field after layering (repeatable), e.g. --set "
        "liquidity.ipo_date=2028-06-01, --set prices.2027.fmv=60, --set grants.0.strike=2; "
        "the value is read as YAML.",
    )(f)


def _plan_meta(variant: Variant, source: str) -> dict[str, str]:
    """Provenance of a plan's Parquet files."""
    laws = variant.laws
    projected = (y for y in laws if laws[y].projected)
    return _provenance(laws, projected, [variant.options.inflation], scenario=source)


def _write_plan(out: dict[str, pd.DataFrame], outdir: Path, variant: Variant, spec: str) -> None:
    meta = _plan_meta(variant, spec)
    write_folder(outdir, {f"{name}.parquet": (frame, meta) for name, frame in out.items()})


def _check_outdir(outdir: Path | None) -> None:
    if outdir is not None:
        check_output_folder(outdir)


@cli.command()
@click.argument("scenario_spec", metavar="SCENARIO")
@click.option(
    "-o",
    "--output",
    "outdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the plan's tables, one Parquet file each (actions, years, forms, lots, "
    "summary, windows, scenario, key_dates, warnings; and paths for a robust plan).",
)
@_with_sets
@_with_solver(
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
@_with_wide
@_with_projection
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
    _check_outdir(outdir)
    if report_path is not None:
        check_report_path(report_path, outdir)
    overrides = _overrides(solver, gap, time_limit, inflation, no_projection)
    variant = load_variant(scenario_spec, sets, overrides=overrides)
    if variant.robust:
        _plan_robust(variant, outdir, as_json, report_path)
        return
    with err_console.status("solving the plan...", spinner="dots"):
        result = run_plan(variant.scenario, variant.laws, variant.options, worth=True)
    out = tables(result)
    if outdir is not None:
        _write_plan(out, outdir, variant, scenario_spec)
    if report_path is not None:
        write_plan_report(out, _plan_meta(variant, scenario_spec), scenario_spec, report_path)
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
        write_plan_report(out, _plan_meta(variant, variant.spec), variant.spec, report_path)
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
        money = _table_money()
        narrow = money is _compact
        t = Table(title="Robust plan, path by path (exact re-evaluation)", header_style="bold")
        heads = ["path", "chance", "after-tax\nwealth", "mean-value\nplan", "AMT\npaid",
                 "credit\nleft", "lowest\ncash", "exercised", "sold"]  # fmt: skip
        for c in heads[:6] if narrow else heads:
            left = c == "path"
            t.add_column(c, justify="left" if left else "right", no_wrap=not left)
        for _, r in paths.iterrows():
            mv = r["mean_value_wealth"]
            cells = [
                str(r["path"]), f"{r['probability']:.0%}", money(r["after_tax_wealth"]),
                "infeasible" if pd.isna(mv) else money(mv), money(r["amt_paid"]),
                money(r["credit_left"]), money(r["lowest_cash"]),
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
                str(a["year"]), action, subject, f"{a['shares']:,.0f}", _money(a["price"])
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
    money = _table_money()
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
        head = c.replace(" ", "\n", 1) if money is _compact and not left else c
        table.add_column(
            head, justify="left" if left else "right", no_wrap=not left, overflow="fold"
        )
    for _, r in out["summary"].iterrows():
        note = r.get("note")
        name = str(r["approach"]) + (f" ({note})" if isinstance(note, str) and note else "")
        table.add_row(
            name,
            money(r["objective_value"]),
            money(r["total_extra_tax"]),
            money(r["amt_paid"]),
            money(r["credit_used"]),
            money(r["credit_left"]),
            money(r["lowest_cash"]),
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
                note = f"{a['treatment'].upper()}, FMV {_money(a['fmv'])}"
            elif a["kind"] == "exercise_and_sell":
                note = f"{a['treatment'].upper()}, strike {_money(a['cost'] / a['shares'])}"
            else:
                note = (
                    ("qualifying" if a["qualifying"] else "disqualifying")
                    if a["treatment"] == "iso"
                    else ("long-term" if a["long_term"] else "short-term")
                )
            action, subject = _action(a)
            t.add_row(
                str(a["year"]), action, subject, f"{a['shares']:,.0f}", _money(a["price"]), note
            )
        console.print(t)
    years = out.get("years")
    if years is not None and not years.empty:
        _print_years(years, out.get("actions"))
    _print_key_dates(out["key_dates"])
    for line in summary_lines(result):
        console.print(line, soft_wrap=False)  # wrapped at the console's width, by words
    if years is not None and not years.empty:
        note = _projection_note(years, result.options.inflation)
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
            _dollars(y["extra_tax"]),
            _dollars(y["cash"]),
            _dollars(y["mtc_carryforward_out"] + y["ca_credit_carryforward_out"]),
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


@cli.command()
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
@_with_sets
@_with_solver(
    gap="Relative optimality gap to prove (default: each scenario's, else 1e-4).",
    time_limit="Seconds per variant for its whole plan (default: each scenario's, else 60): "
    "the model's build, the baselines, the bound tightening and the solver together, as in "
    "`isoplan plan`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@report_option
@_with_wide
@_with_projection
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
    _check_outdir(outdir)
    if report_path is not None:
        check_report_path(report_path, outdir)
    overrides = _overrides(solver, gap, time_limit, inflation, no_projection)
    variants = load_variants(scenario_spec, variant_specs, sets, overrides)
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
            variant_meta = _plan_meta(c.variant, c.variant.spec)
            for name, frame in c.tables.items():
                files[f"{c.variant.name}/{name}.parquet"] = (frame, variant_meta)
        write_folder(outdir, files)
    if report_path is not None:
        plans = [(c.variant.name, c.tables, _plan_meta(c.variant, c.variant.spec)) for c in done]
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
    return _provenance(laws, projected, rates, scenario=scenario_spec, variants=names)


def _print_compare(table: pd.DataFrame) -> None:
    """The variants side by side. Under 110 columns (without --wide) the money is compact and
    the table keeps the columns that fit 80: the shares, years and status are in -o and
    --json, and a status other than optimal is said below the table."""
    t = Table(title="Variants compared (exact re-evaluation, dollars)", header_style="bold")
    narrow = _table_money() is _compact
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
        return _compact(float(x)) if narrow else f"{float(x):,.0f}"

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


# ----------------------------------------------------------------------------------------------
# batch
# ----------------------------------------------------------------------------------------------


class _RateColumn(ProgressColumn):
    """Clients per minute."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            "-/min" if speed is None else f"{speed * 60:,.0f}/min", style="progress.data.speed"
        )


@cli.command()
@click.argument(
    "book_path", metavar="BOOK", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    "outdir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the results (created; run the same command again to resume).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=None,
    help=f"Local worker processes (default: one per core; at most {MAX_WORKERS}).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Submit to an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers need "
    "isoplan installed).",
)
@click.option(
    "--dask-workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=None,
    help=f"Start a local Dask cluster of N single-threaded workers and plan on it (at most "
    f"{MAX_WORKERS}).",
)
@_with_solver(
    gap="Relative optimality gap for every client (default: each client's, else 1e-4).",
    time_limit="Seconds per client for its whole plan (default: each client's, else 60): its "
    "validation, the model's build, the baselines, the bound tightening and the solver "
    "together; a client that hits it keeps the best plan found, with its gap. Not counted: the "
    "exact re-evaluation and the tables, any part of a build beyond the limit (a build cannot "
    "stop midway) and the second each solver phase always gets.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=None,
    help="Clients per result file (default: 10 to 200 by book size).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_with_projection
def batch(
    book_path: Path,
    outdir: Path,
    workers: int | None,
    scheduler: str | None,
    dask_workers: int | None,
    solver: str | None,
    gap: float | None,
    time_limit: float | None,
    chunk_size: int | None,
    as_json: bool,
    quiet: bool,
    inflation: float | None,
    no_projection: bool,
) -> None:
    """Plan every client of a book: the exercise ladder of each, unattended, resumable.

    BOOK is a folder with a clients table and a grants table (.parquet, .csv or .jsonl; see
    `isoplan schema --book`), or a folder of *.yaml scenario files (one client each).

    \b
    Writes to OUTDIR one Parquet dataset per table, every row with client_id:
      actions/  years/  lots/  summary/   as `isoplan plan` writes them, for every client
      clients/  one row per planned client: solver status, gap, time limit hit, value over the
                best baseline, AMT avoided against each baseline, solve time
      errors/   one row per client that could not be planned: client_id, stage (read, validate,
                plan, time_limit: none found in time, crash) and the reason in one line
      batch.json  the final summary (also printed)
    Read a table with pandas.read_parquet("OUTDIR/actions").

    \b
    A bad or infeasible client never stops the batch: it becomes an errors row. Results are
    written in chunks of clients, each file atomically; after a crash or a kill, run the same
    command again: it finishes the book without redoing finished clients, and never loses or
    duplicates a row. On a finished book it does nothing and says so. The same book and options
    always give the same rows (except the *_seconds timing columns).

    \b
    Engines: a local process pool (default, one worker per core, --workers N), a local Dask
    cluster (--dask-workers N) or an existing Dask cluster (--scheduler ADDRESS). Each worker
    runs the solver on one thread. A worker that dies is that client's errors row (stage crash);
    a cluster that returns no result for far longer than the time limit allows (4x each client's
    limit plus 2 minutes) stops the batch with exit code 1 and one line, the chunks kept.

    \b
    Examples:
      python scripts/make_book.py 1000 -o book/          a synthetic book of 1,000 clients
      isoplan batch book/ -o results/                     all cores
      isoplan batch book/ -o results/ --time-limit 20 --gap 1e-3
      isoplan batch book/ -o results/ --dask-workers 2
      isoplan batch book/ -o results/ --scheduler tcp://10.0.0.5:8786
      isoplan crossover book/                             this year's AMT-free exercise, at once
    """
    from planner.batch import Batch, DaskEngine, LocalPool
    from planner.book import read_book

    if scheduler is not None and dask_workers is not None:
        raise InputError("give --scheduler (an existing cluster) or --dask-workers, not both")
    if workers is not None and (scheduler is not None or dask_workers is not None):
        raise InputError("--workers sets the local pool; with Dask use --dask-workers")
    check_output_folder(outdir)
    book = read_book(book_path)
    job = Batch(book, outdir, _overrides(solver, gap, time_limit, inflation, no_projection),
                chunk_size)  # fmt: skip
    engine: Any
    if scheduler is not None or dask_workers is not None:
        engine = DaskEngine(scheduler, dask_workers)
    else:
        engine = LocalPool(workers)
    show = not quiet and err_console.is_terminal
    with Progress(
        TextColumn("planning"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        disable=not show,
    ) as bar:
        task = bar.add_task("planning", total=None)

        def on_start(todo: int, done: int) -> None:
            bar.update(task, total=todo)
            if not todo:
                err_console.print(
                    f"{outdir}: all {len(book):,} clients are already planned; nothing to do."
                )
            elif done and not as_json:
                err_console.print(f"resuming: {done:,} clients done, {todo:,} to plan")

        try:
            summary = job.run(engine, progress=lambda n: bar.advance(task, n), on_start=on_start)
        except KeyboardInterrupt:
            bar.stop()
            done = len(job.chunks) - len(job.todo())
            err_console.print(
                f"isoplan: interrupted with {done:,} of {len(job.chunks):,} chunks written; run "
                "the same command again to finish the book",
            )
            sys.exit(130)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
        return
    for line in _batch_lines(summary):
        console.print(line, highlight=False)


def _batch_lines(s: Any) -> list[str]:
    from planner.batch import TABLES

    failed = f"{s.failed:,} failed (see {s.outdir}/errors)" if s.failed else "none failed"
    lines = [f"Book {s.book}: {s.planned:,} clients planned, {failed}, {s.time_limits_hit:,} hit "
             "the time limit."]  # fmt: skip
    if s.planned_now:
        lines.append(
            f"This run: {s.planned_now:,} clients in {s.seconds:,.1f} s "
            f"({s.clients_per_minute:,.0f} clients/min) on {s.engine} with {s.workers} workers."
        )
    if s.median_solve_seconds is not None:
        lines.append(
            f"Solve time per client: median {s.median_solve_seconds:.2f} s, worst "
            f"{s.worst_solve_seconds:.2f} s."
        )
        lines.append(
            f"After-tax value over each client's best baseline, in total: "
            f"{_money(s.value_over_best_baselines)}."
        )
        avoided = ", ".join(f"{k} {_signed(v)}" for k, v in s.amt_avoided.items())
        lines.append(f"AMT avoided against the baselines, in total: {avoided}.")
        if any(v < 0 for v in s.amt_avoided.values()):
            lines.append(
                "(Negative: the plans pay more AMT than that baseline, for more after-tax wealth, "
                "e.g. exercising early so that more of the gain is taxed as long-term.)"
            )
    lines.append(f"Results: {s.outdir}/{{{','.join(TABLES)}}}/")
    return lines


def _fail(message: str, code: int) -> None:
    """One line on stderr, whatever the message quotes: a cell or a --set may hold a newline, or
    a terminal's escape sequence, which is shown escaped rather than obeyed."""
    line = " ".join(message.split())
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
    err_console.print(line, highlight=False, soft_wrap=True)
    sys.exit(code)


cli.add_command(report)


def main() -> None:
    """Console entry point: one-line errors with exit code 2 for anything the user can fix."""
    _WIDE[0] = False  # each run starts narrow-aware (tests run many in one process)
    # Not COLUMNS: a library of some hosts sets it for the processes they start.
    columns = os.environ.get("ISOPLAN_WIDTH", "")
    piped_width = int(columns) if columns.isdigit() and int(columns) >= 40 else None
    width = piped_width if piped_width and not sys.stdout.isatty() else _WIDTH
    # Both dimensions: with a width alone rich reads a TERM=dumb pipe as 80 columns.
    console.size = (width, 25) if width is not None else (None, None)
    try:
        cli.main(prog_name="isoplan", standalone_mode=False)
    except InputError as exc:
        _fail(f"isoplan: error: {exc}", 2)
    except EngineError as exc:
        _fail(f"isoplan: {exc}", 1)
    except click.exceptions.Abort:
        _fail("isoplan: aborted", 130)
    except click.ClickException as exc:  # usage errors too: one line, not click's usage block
        _fail(f"isoplan: error: {exc.format_message()}", exc.exit_code)
