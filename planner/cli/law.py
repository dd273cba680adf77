"""`isoplan law`: the tax-law figures of a year, with their sources."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from models.law import STATUSES
from planner.cli.common import compact, console, table_money, with_projection
from planner.law import citations, law_for_years


@click.command()
@click.argument("year", type=int)
@click.option(
    "--state",
    type=click.Choice(["ca"]),
    default=None,
    help="A state's law instead of the federal: ca (California: Form 540, Schedule P).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@with_projection
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
    narrow = table_money() is compact
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


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return " / ".join(_fmt(x) for x in v)
    if isinstance(v, float) and v < 1:
        return f"{v:g}"
    return f"{v:,.2f}".removesuffix(".00")
