"""`isoplan report`: a plan's output folder as a page to read and print, or as a workbook.

Also the one function `plan --report` and `compare --report` call with the tables they have in
memory (`write_report`), and the check they make before solving (`check_report_path`), so that a
report made on the spot and one made later from the folder are the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pandas as pd

from planner.outputs import check_output_file, isoplan_version, write_bytes
from planner.report.html import render_html
from planner.report.sections import build_report
from planner.report.source import Source, from_compare, from_plan, read_folder
from planner.report.workbook import render_workbook

REPORT_SUFFIXES = (".html", ".htm", ".xlsx")


def check_report_path(path: Path, outdir: Path | None = None) -> None:
    """Fail in one line, before any work, if the report cannot be written: an unknown suffix,
    a missing or read-only folder. A report in `outdir` (the `-o` folder, checked by its own
    command, made before the report is written) needs that folder only to be writable."""
    if outdir is not None and path.parent.resolve() == outdir.resolve() and not outdir.exists():
        check_output_file(path, REPORT_SUFFIXES, "report", check_folder=False)
        return
    check_output_file(path, REPORT_SUFFIXES, "report")


def write_report(source: Source, path: Path) -> None:
    """Build the report of `source` and write it whole (the suffix picks the format)."""
    report = build_report(source)
    if path.suffix.lower() == ".xlsx":
        data = render_workbook(report)
    else:
        data = render_html(report, isoplan_version()).encode("utf-8")
    write_bytes(data, path)


def report_option(f: Any) -> Any:
    """The --report option of `plan` and `compare`."""
    return click.option(
        "--report",
        "report_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help="Also write a report of the result: FILE.html (one page to read and print: the "
        "action plan, the years, charts, a CPA appendix, the assumptions) or FILE.xlsx (the "
        "same tables); `isoplan report --help` says what each part shows.",
    )(f)


def write_plan_report(
    tables: dict[str, pd.DataFrame], meta: dict[str, str], where: str, path: Path
) -> None:
    """`plan --report`: the report of a plan's tables in memory, as `isoplan report` would
    make it from the folder `-o` writes (`meta`: the metadata of its Parquet files)."""
    write_report(from_plan(tables, meta, where), path)


def write_compare_report(
    table: pd.DataFrame,
    meta: dict[str, str],
    variants: list[tuple[str, dict[str, pd.DataFrame], dict[str, str]]],
    where: str,
    path: Path,
) -> None:
    """`compare --report`: the comparison and each variant's (name, tables, metadata)."""
    write_report(from_compare(table, meta, variants, where), path)


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="The report: .html (a page; default FOLDER/report.html) or .xlsx (a workbook of the "
    "same tables).",
)
def report(folder: Path, output: Path | None) -> None:
    """A plan's output folder as a report: one HTML page, or an .xlsx workbook.

    FOLDER is what `isoplan plan -o`, `isoplan compare -o` or `isoplan batch -o` wrote (a plan,
    a robust plan over paths, a comparison of variants, or a book's batch: told apart by its
    files). The page is one file, with its styles and charts inside: it opens offline in any
    browser and prints one section a page.

    \b
    What it shows:
      Action plan   the headline (the plan's after-tax wealth against the best baseline and
                    doing nothing), then per year which grant, how many shares, by which date,
                    the cash it needs (strike plus the tax it adds, and when that is due), and
                    the key dates (qualifying and long-term dates, expiries, ISO windows, sale
                    windows); warnings first
      Year by year  regular tax, TMT, AMT, the credit generated, used and left, NIIT,
                    California's, the total beside the household with no action; cash; the plan
                    beside every baseline; projected years marked
      Charts        cash against the floor, each year's AMT room against the spread exercised,
                    the credit over time, the wealth of the plan and the baselines
      CPA appendix  the form lines per year (Form 1040, 6251 Parts I-III, 8801, 8960, 8959;
                    Form 540 and Schedule P in California years), the lot ledger (Form 3921:
                    exercise date, price, FMV, shares; regular and AMT basis), the law figures
                    used and their sources
      Assumptions   prices, income, sale windows, the scenario's figures, tax-law years (which
                    are projected, at what inflation), solver, status and gap, isoplan version
    A robust plan adds the paths side by side and what is decided now; a comparison adds its
    table and shows each variant's parts one after another. The workbook holds the same tables,
    one sheet per section.

    \b
    A batch folder's page is the book's dashboard:
      The book      clients planned and failed; the value of planning at the scenario's prices
                    and at flat prices (every price after the first year at the first year's),
                    the wealth that is only the assumed growth, the AMT; each baseline; the
                    clients that could not be planned and why
      Actions due   this year's exercises and sales of every client (actions_due), the cash
                    they need and when, the flags, sorted by value at stake
      Clients       a row per client with its flags

    \b
    Examples:
      isoplan plan scenarios/plan-seed-story.yaml -o plan/ && isoplan report plan/
      isoplan report plan/ -o report.xlsx
      isoplan plan scenarios/plan-seed-story.yaml --report report.html     in one go
      isoplan compare scenarios/whatif/fmv-jump.yaml fmv-jump-wait.yaml --report compare.html
      isoplan batch scenarios/book -o results/; isoplan report results/      the dashboard
    """
    target = output if output is not None else folder / "report.html"
    if target.suffix.lower() not in REPORT_SUFFIXES:
        check_report_path(target)  # the one-line error, before reading anything
    source = read_folder(folder)
    check_report_path(target)
    write_report(source, target)
    click.echo(f"wrote {target}", err=True)
