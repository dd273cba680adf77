"""`isoplan batch`: every client of a book planned, unattended and resumable."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
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
from rich.text import Text

from planner.cli.common import (
    console,
    err_console,
    money,
    overrides,
    signed,
    with_projection,
    with_solver,
)
from planner.errors import InputError
from planner.limits import MAX_WORKERS
from planner.outputs import check_output_folder


class _RateColumn(ProgressColumn):
    """Clients per minute."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            "-/min" if speed is None else f"{speed * 60:,.0f}/min", style="progress.data.speed"
        )


@click.command()
@click.argument(
    "book_path", metavar="BOOK", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    "outdir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the results (created; run again to resume, or to update it after the book "
    "changed).",
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
@with_solver(
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
@click.option(
    "--fresh",
    is_flag=True,
    help="Re-plan every client, replacing the folder's results (default: keep each client's "
    "results while its rows, the options and the tax law are unchanged).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_projection
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
    fresh: bool,
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
                best baseline at the scenario's prices and at flat prices (every price after
                the first year at the first year's), the AMT the plan and each baseline pay and
                the value over each, this year's deadlines and tender, solve time
      errors/   one row per client that could not be planned: client_id, stage (read, validate,
                plan, time_limit: none found in time, crash) and the reason in one line
      actions_due/  this year's exercises and sales of every client, the cash they need and
                when, the client's flags, by value at stake (`isoplan report OUTDIR`: a page)
      batch.json  the final summary (also printed)
    Read a table with pandas.read_parquet("OUTDIR/actions").

    \b
    Exit codes: 0 every client planned; 1 some clients could not be planned (the others are,
    the folder is whole; errors/ says why), or a cluster stopped; 2 bad input (one line).
    A client's file that lists price paths is planned on its own prices (a warning says so).

    \b
    A bad or infeasible client never stops the batch: it becomes an errors row. Results are
    written in chunks of clients, each file atomically; after a crash or a kill, run the same
    command again: it finishes the book without redoing finished clients, and never loses or
    duplicates a row. On a finished book it does nothing and says so. The same book and options
    always give the same rows (except the *_seconds timing columns).

    \b
    Re-runs: run the book into its folder again after changing it (a fixed row, a new 409A
    price, clients added or removed) and only the clients whose rows changed are planned again;
    the others' results are kept, those of clients no longer in the book removed, and the
    tables are those a run from scratch would write. Other options or new tax-law data re-plan
    every client they concern. --fresh re-plans every client.

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
    job = Batch(book, outdir, overrides(solver, gap, time_limit, inflation, no_projection),
                chunk_size, fresh=fresh)  # fmt: skip
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
            changes = job.changes
            if not todo and not changes.removed:
                err_console.print(
                    f"{outdir}: all {len(book):,} clients are already planned; nothing to do."
                )
            elif changes.existing and not as_json:
                err_console.print(
                    f"{outdir}: {done:,} clients kept, {todo:,} to plan"
                    f"{' (--fresh)' if fresh else ''}, {changes.removed:,} removed"
                )

        try:
            summary = job.run(engine, progress=lambda n: bar.advance(task, n), on_start=on_start)
        except KeyboardInterrupt:
            bar.stop()
            err_console.print(
                f"isoplan: interrupted with {job.written:,} of {job.to_write:,} chunks written; "
                "run the same command again to finish the book",
            )
            sys.exit(130)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    else:
        for line in _batch_lines(summary):
            console.print(line, highlight=False)
    if summary.failed:  # a result, not bad input (2): the others are planned, the folder whole
        err_console.print(
            f"isoplan: {summary.failed:,} of {summary.clients:,} clients could not be planned "
            f"(see {outdir}/errors); exit code 1",
            highlight=False,
        )
        sys.exit(1)


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
    if s.planned:
        lines += _money_lines(s)
    lines.append(f"Results: {s.outdir}/{{{','.join(TABLES)},actions_due}}/")
    lines.append(f"This year's actions by value at stake, as a page: isoplan report {s.outdir}")
    return lines


def _money_lines(s: Any) -> list[str]:
    """The book's money (`planner.batch.headlines`): the value of planning at the scenario's
    prices and at flat prices, the AMT, and what the batch left out."""
    flat = s.flat_prices
    lines = [
        f"Value over each client's best baseline, in total: {money(s.value_over_best_baselines)} "
        "at the scenario's prices (their assumed price growth included)."
    ]
    if flat["clients"]:
        lines.append(
            f"At flat prices (every price after the first year at the first year's), the same "
            f"plans of {flat['clients']:,} clients are worth "
            f"{signed(flat['value_over_best_baselines'])} over their best baselines, against "
            f"{money(flat['value_over_best_baselines_at_scenario_prices'])} at the scenario's; "
            f"{money(flat['price_growth_wealth'])} of their after-tax wealth is only the assumed "
            "price growth."
        )
    if flat["not_evaluated"]:
        lines.append(
            f"Clients with no figure at flat prices: {flat['not_evaluated']:,} (their plans need "
            "the growth: at flat prices their sales no longer fund their exercises; or their "
            "baselines there hit the time limit: clients.flat_note)."
        )
    paid = ", ".join(f"{b} {money(v)}" for b, v in s.amt_paid_by_baseline.items())
    lines.append(f"AMT paid in total: the plans {money(s.amt_paid)}; the baselines: {paid}.")
    over = ", ".join(f"{b} {signed(v)}" for b, v in s.value_over_baseline.items())
    lines.append(f"Value of the plans over each baseline, in total: {over}.")
    if any(s.amt_paid > v for v in s.amt_paid_by_baseline.values()):
        lines.append(
            "(A plan may pay more AMT than a baseline for more after-tax wealth, e.g. exercising "
            "early so that more of the gain is taxed as long-term.)"
        )
    short = {b: n for b, n in s.clients_by_baseline.items() if n < s.planned}
    if short:
        which = ", ".join(f"{b} {n:,}" for b, n in short.items())
        lines.append(
            f"(Each over the clients the baseline has a plan for, of {s.planned:,}: {which}.)"
        )
    if s.paths_ignored:
        lines.append(
            f"Clients whose files list price paths, which batch ignores: {s.paths_ignored:,} "
            "(each planned on its own prices, with a paths_ignored warning; isoplan plan FILE "
            "plans over them)."
        )
    return lines
