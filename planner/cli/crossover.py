"""`isoplan crossover`: the most ISO shares a household, a table's rows, a plan scenario or a
book's clients can exercise without AMT."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.table import Table
from rich.text import Text

from models.law import STATUSES
from planner.cli.common import (
    Number,
    __version__,
    cell,
    compact,
    console,
    err_console,
    money,
    print_rows,
    projection_note,
    table_money,
    table_provenance,
    with_outputs,
    with_projection,
    with_wide,
)
from planner.errors import InputError
from planner.household_taxes import compute_crossover
from planner.households import GRANT_COLUMNS, HOUSEHOLD_COLUMNS, read_example, read_table
from planner.outputs import check_output_path, records, write_table
from planner.scenario.reading import read_yaml

_CROSSOVER_TABLE_COLUMNS = ("id", "year", "filing_status", "shares", "amt", "next_amt",
                            "keep_credit_shares", "rule_of_thumb_shares",
                            "rule_of_thumb_amt")  # fmt: skip


def _household_options(f: Any) -> Any:
    for col in reversed(HOUSEHOLD_COLUMNS + GRANT_COLUMNS):
        low = -col.maximum if col.signed else 0
        kind = click.IntRange(low, col.maximum) if col.integer else Number(low, col.maximum)
        f = click.option(
            f"--{col.name.replace('_', '-')}",
            col.name,
            type=kind,
            default=None,
            help=col.help[0].upper() + col.help[1:] + ".",
        )(f)
    return f


@click.command()
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
@with_wide
@with_outputs
@with_projection
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
        write_table(out, output, table_provenance(out, inflation))
    if as_json:
        rows = records(out)
        click.echo(json.dumps(rows if input_is_table else rows[0]))
    elif len(out) == 1:
        _print_crossover(out.iloc[0], description)
    else:
        print_rows(out, _CROSSOVER_TABLE_COLUMNS)
    note = projection_note(out, inflation)
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
    target = "no AMT" if budget == 0 else f"AMT within {money(budget)}"
    console.print(f"AMT crossover, {int(row['year'])} ({row['filing_status']}): {path.name}",
                  style="bold")  # fmt: skip
    if row["iso_shares"] == 0:
        console.print("  No vested ISO shares in the money that year.")
        return
    console.print(
        Text.assemble(
            "  Exercise ", (f"{int(row['shares']):,}", "bold"),
            f" of {int(row['iso_shares']):,} vested ISO shares with {target}: spread "
            f"{money(row['spread'])} ({row['by_grant']})",
        )
    )  # fmt: skip
    console.print(f"  AMT {money(row['amt'])}; room for {money(row['spread_capacity'])} of spread.")
    if row.get("state") == "ca":
        console.print(f"  California AMT {money(row['ca_amt'])} (the joint answer).")


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
        narrow = table_money() is compact
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
                cell(c, int(r[c]))
                if c in whole
                else compact(r[c])
                if narrow and isinstance(r[c], float)
                else cell(c, r[c])
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
    target = "no AMT" if budget == 0 else f"AMT within {money(budget)}"
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
            f"{money(r['spread'])} at {money(r['spread_per_share'])} a share",
        )
    )
    console.print(
        f"  Regular tax {money(r['regular_tax'])}, tentative minimum tax {money(r['tmt'])}, "
        f"AMT {money(r['amt'])}"
    )
    if r["all_exercisable"]:
        console.print("  Every available share fits: the limit is the grant, not the AMT.")
    else:
        console.print(
            f"  One share more ({r['next_shares']:,}) would cost AMT {money(r['next_amt'])}; "
            f"all available shares would cost AMT {money(r['all_shares_amt'])}."
        )
    if r.get("state") == "ca":
        console.print(
            f"  California: regular tax {money(r['ca_regular_tax'])}, AMT "
            f"{money(r['ca_amt'])} (one share more: {money(r['next_ca_amt'])}); the count keeps "
            "federal and California AMT together within the budget."
        )
        console.print(
            f"  Each system alone: federal {r['federal_shares']:,} shares, California "
            f"{r['ca_shares']:,}; the federal answer alone would cost California AMT "
            f"{money(r['ca_amt_at_federal'])}."
        )
    if r["amt_before"] > budget:
        console.print(
            f"  Already over budget before exercising: AMT {money(r['amt_before'])}", style="red"
        )
    console.print(
        f"  Rule of thumb (gap {money(r['gap'])} / 28%): {r['rule_of_thumb_shares']:,} shares, "
        f"which would really cost AMT {money(r['rule_of_thumb_amt'])}."
    )
    if r["mtc_allowed_before"] > 0:
        console.print(
            f"  Without exercising, {money(r['mtc_allowed_before'])} of carried-in AMT credit is "
            f"usable this year; {r['keep_credit_shares']:,} shares keep all of it usable."
        )
    if r["projected"]:
        console.print(f"  Tax law for {r['year']} is projected, not yet published.", style="yellow")
