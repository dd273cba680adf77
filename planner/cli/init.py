"""`isoplan init`: a starter scenario to edit (the template is planner/init.py)."""

from __future__ import annotations

from pathlib import Path

import click

from planner.cli.common import err_console


@click.command()
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
