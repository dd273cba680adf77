"""`isoplan tax`: the exact tax of every household-year of a table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TimeRemainingColumn

from planner.cli.common import (
    err_console,
    print_rows,
    projection_note,
    table_provenance,
    with_outputs,
    with_projection,
    with_wide,
)
from planner.household_taxes import CHUNK_ROWS, LOSS_CARRYOVER_OUT, compute_tax, line_names
from planner.households import read_table
from planner.outputs import check_output_path, records, write_table


@click.command()
@click.argument(
    "input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--lines",
    is_flag=True,
    help="Also write the form lines a CPA checks, one column each (f1040_l7 ... f6251_l2i ..., "
    "ca540_l35 ...; the Parquet file's metadata names each column's form and line).",
)
@with_wide
@with_outputs
@with_projection
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
    note = projection_note(out, inflation)
    if output is not None:
        meta = table_provenance(out, inflation)
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
        print_rows(out, _TAX_TABLE_COLUMNS + carried + state)
    if note:
        err_console.print(note)


_TAX_TABLE_COLUMNS = ("id", "year", "filing_status", "taxable_income", "regular_tax", "tmt",
                      "amt", "niit", "mtc_allowed", "total_tax")  # fmt: skip
