"""`isoplan schema`: the format of scenario files, or with --book of a book's tables."""

from __future__ import annotations

import json

import click

from planner.scenario import scenario_json_schema


@click.command()
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
