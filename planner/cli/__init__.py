"""The `isoplan` command line.

Every command reads validated input, computes with the exact engine, and prints a readable result;
`--json` prints the same result for machines, `-o FILE` writes it (Parquet, CSV, JSONL or JSON by
extension). Bad input is one line on stderr and exit code 2, and nothing is written.

This package holds the group and the entry point; each command is a module of its own (tax.py,
crossover.py, ...; `isoplan report` is planner/report/command.py), and common.py what they share.
"""

from __future__ import annotations

import sys

import click

from planner.cli import batch, compare, crossover, init, law, plan, schema, tax
from planner.cli.common import __version__, err_console, reset_console
from planner.errors import EngineError, InputError
from planner.report.command import report

__all__ = ["__version__", "cli", "main"]


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


cli.add_command(tax.tax)
cli.add_command(crossover.crossover)
cli.add_command(law.law)
cli.add_command(init.init)
cli.add_command(schema.schema)
cli.add_command(plan.plan)
cli.add_command(compare.compare)
cli.add_command(batch.batch)
cli.add_command(report)


def _fail(message: str, code: int) -> None:
    """One line on stderr, whatever the message quotes: a cell or a --set may hold a newline, or
    a terminal's escape sequence, which is shown escaped rather than obeyed."""
    line = " ".join(message.split())
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
    err_console.print(line, highlight=False, soft_wrap=True)
    sys.exit(code)


def main() -> None:
    """Console entry point: one-line errors with exit code 2 for anything the user can fix."""
    reset_console()
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
