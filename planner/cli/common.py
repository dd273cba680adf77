"""What the commands share: the consoles, the money formats, the provenance of the files they
write, the options several of them take and the result table of `tax` and `crossover`.

The mutable state of a run lives here alone (the console's size, `--wide`): commands use it
through this module's objects and functions, never a copy.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from planner.law import default_inflation, published_years
from planner.limits import GROWTH, MAX_TIME_LIMIT
from planner.options import Overrides
from planner.outputs import check_output_folder, isoplan_version
from planner.solve import SOLVERS
from planner.variants import Variant

__version__ = isoplan_version()

# Piped output is not cut to 80 columns: tables stay readable in files and CI logs. No console
# markup: descriptions, ids and names are the user's text, and "[/b]" in one is not a style.
_WIDTH = None if sys.stdout.isatty() else 160  # a pipe: 160 columns, or ISOPLAN_WIDTH
console = Console(soft_wrap=True, width=_WIDTH, height=None if _WIDTH is None else 25, markup=False)
err_console = Console(stderr=True, soft_wrap=True, markup=False)


class Number(click.FloatRange):
    """A finite number within the range: click's FloatRange lets NaN through (every comparison
    with it is false) and infinity past an open end."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def compact(x: float) -> str:
    """Money in at most 8 characters, for a table that must fit 80 columns: whole dollars below
    $10,000, then thousands ($807.6k) and millions ($1.23M); never cut."""
    sign, a = ("-" if x < -0.5 else ""), abs(x)
    if a < 9_999.5:
        return f"{sign}${a:,.0f}"
    if a < 999_950:
        return f"{sign}${a / 1e3:.1f}k"
    return f"{sign}${a / 1e6:.2f}M"


def table_money() -> Any:
    """The money format of the wide tables: full dollars and cents where the console has room
    (110 columns or `--wide`), compact (`compact`) where it has not."""
    return money if _WIDE[0] or console.width >= 110 else compact


_WIDE = [False]  # --wide: full figures whatever the console's width


def dollars(x: float) -> str:
    """Whole dollars, for the tables a person reads at 80 columns."""
    return f"-${-x:,.0f}" if x < -0.5 else f"${x:,.0f}"


def money(x: float) -> str:
    return f"-${-x:,.2f}" if x < 0 else f"${x:,.2f}"


def signed(x: float) -> str:
    return f"-${-x:,.2f}" if x < 0 else money(x)


def provenance(
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


def table_provenance(out: pd.DataFrame, inflation: float | None) -> dict[str, str]:
    """`provenance` of a result table with `year` and `projected` columns."""
    projected = out.loc[out["projected"], "year"]
    return provenance((int(y) for y in out["year"]), (int(y) for y in projected), [inflation])


def projection_note(out: pd.DataFrame, inflation: float | None) -> str | None:
    projected = sorted({int(y) for y in out.loc[out["projected"], "year"]})
    if not projected:
        return None
    rate = default_inflation() if inflation is None else inflation
    return (
        f"note (*): tax law for {', '.join(map(str, projected))} is projected (not published), "
        f"indexed at an assumed {rate:.1%} a year"
    )


def with_outputs(f: Any) -> Any:
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


def with_wide(f: Any) -> Any:
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


def with_projection(f: Any) -> Any:
    """The --inflation and --no-projection options every computing command shares."""
    f = click.option(
        "--no-projection",
        is_flag=True,
        help="Refuse years whose tax law is not published yet instead of projecting them.",
    )(f)
    return click.option(
        "--inflation",
        type=Number(*GROWTH),
        default=None,
        help="Assumed annual chained-CPI inflation for years after the last published tax law "
        "(default from data/projection.yaml).",
    )(f)


def with_solver(gap: str, time_limit: str) -> Any:
    """The --solver, --gap and --time-limit options of the planning commands."""

    def decorate(f: Any) -> Any:
        f = click.option(
            "--time-limit", type=Number(0.1, MAX_TIME_LIMIT), default=None, help=time_limit
        )(f)
        f = click.option("--gap", type=Number(0, 1, max_open=True), default=None, help=gap)(f)
        return click.option(
            "--solver",
            type=click.Choice(SOLVERS),
            default=None,
            help="MILP solver: highs (default), scip or cbc.",
        )(f)

    return decorate


def overrides(
    solver: str | None,
    gap: float | None,
    time_limit: float | None,
    inflation: float | None,
    no_projection: bool,
) -> Overrides:
    """The planning options given on the command line, over each scenario file's own."""
    return Overrides(solver, gap, time_limit, inflation, False if no_projection else None)


def cell(column: str, value: Any) -> str:
    if column.endswith("shares"):
        return f"{value:,}"
    return money(value) if isinstance(value, float) else str(value)


# The columns a console under 110 columns keeps (the rest are in -o and --json).
_NARROW_COLUMNS = ("id", "year", "filing_status", "regular_tax", "amt", "ca_amt", "total_tax",
                   "shares", "next_amt", "rule_of_thumb_shares")  # fmt: skip


def print_rows(out: pd.DataFrame, columns: tuple[str, ...], limit: int = 40) -> None:
    """A result table for the console; projected years are starred. Under 110 columns it keeps
    `_NARROW_COLUMNS`, in compact money (`compact`) with two-line headers, so that it fits 80
    columns without cutting a number."""
    narrow = table_money() is compact
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
            compact(row[c]) if narrow and isinstance(row[c], float) else cell(c, row[c])
            for c in columns
        ]
        cells[1] += "*" if row["projected"] else ""
        table.add_row(*cells)
    console.print(table)
    if len(out) > limit:
        console.print(f"... {len(out) - limit:,} more rows; use -o FILE or --json for all")
    elif narrow:
        console.print("(a narrow console: more columns with -o FILE or --json)", soft_wrap=False)


def with_sets(f: Any) -> Any:
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


def plan_meta(variant: Variant, source: str) -> dict[str, str]:
    """Provenance of a plan's Parquet files."""
    laws = variant.laws
    projected = (y for y in laws if laws[y].projected)
    return provenance(laws, projected, [variant.options.inflation], scenario=source)


def check_outdir(outdir: Path | None) -> None:
    if outdir is not None:
        check_output_folder(outdir)


def reset_console() -> None:
    """Each run's console: narrow-aware (`--wide` unset), as wide as the terminal, or in a pipe
    160 columns or ISOPLAN_WIDTH."""
    _WIDE[0] = False  # each run starts narrow-aware (tests run many in one process)
    # Not COLUMNS: a library of some hosts sets it for the processes they start.
    columns = os.environ.get("ISOPLAN_WIDTH", "")
    piped_width = int(columns) if columns.isdigit() and int(columns) >= 40 else None
    width = piped_width if piped_width and not sys.stdout.isatty() else _WIDTH
    # Both dimensions: with a width alone rich reads a TERM=dumb pipe as 80 columns.
    console.size = (width, 25) if width is not None else (None, None)
