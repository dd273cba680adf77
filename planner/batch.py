"""Batches: plan every client of a book unattended, on a local process pool or a Dask cluster.

The unit of work is `plan_client(client, options)`: it validates one client's scenario, plans it
(`planner.plan.run_plan`) and returns its rows as small DataFrames, every row carrying
`client_id`. It never raises for a bad client: a scenario that does not validate, a plan the
optimizer cannot make (infeasible, not supported, no plan in time) or an unexpected exception is
one `errors` row (client_id, stage, reason). The same function runs on every engine.

Results are written per chunk of clients: every table of chunk k to
`OUTDIR/<table>/part-<k>.parquet`, each file atomically (a temporary file renamed into place),
then its marker `OUTDIR/_chunks/<k>.json`, the chunk's commit. The marker lists the chunk's
clients with their fingerprints (`client_fingerprint`: a hash of the client's rows in every book
table, or its file, numbers by value; of the planning options; of the tax-law data files; of
isoplan's version and result format; not of the chunking, the workers or the engine) and, for a
client that failed, a hash of its input exactly as written and of the file rows that its errors
row names (`client_exact`). A chunk's rows are results only while its marker exists, and it is
never rewritten: chunk numbers only grow, so a new chunk never overwrites a file.

Every run, the first into a new folder as well as a resume or a re-run after the book changed,
brings the folder up to date with the book. It reads the markers (the live chunks), deletes the
files of chunks without one (a kill mid-chunk: parts and temporary files) and then:

- a client whose fingerprint its live chunk holds (and, if it failed, its exact hash) is kept;
- a live chunk whose clients are all kept stays as it is;
- any other live chunk (one of its clients changed or left the book) is replaced by a new chunk
  of its clients still in the book: the kept ones' rows copied from its parts, the changed ones
  planned again. The new chunk's marker names the chunk it `replaces`: writing it is the one
  step that swaps the old rows for the new, after which the old chunk's marker, then its parts,
  are deleted. A live chunk none of whose clients is left is deleted (marker first);
- clients in no live chunk (new, or not finished by a killed run) are planned into new chunks.

Kill -9 at any point then a new run loses and duplicates no row: at every instant each client
is in at most one live chunk (a replacement commits in one rename, and a chunk named in a live
marker's `replaces` is dead, its deletion finished by the next run), the files of an uncommitted
chunk are deleted before anything else, and a client in no live chunk is planned. `--fresh`
(`fresh`) records in `OUTDIR/manifest.json` that the chunks numbered below it are outdated: their
clients are all planned again, chunk by chunk as above, by that run or, if it is killed, by the
next one. The manifest marks the folder as a batch's (a folder with other files and none is
refused); `OUTDIR/batch.json` (the run's summary, with the clients kept, re-planned and removed)
is deleted before a run changes anything and written when every chunk is done.

Each `OUTDIR/<table>/` folder is a Parquet dataset (`pandas.read_parquet(OUTDIR / "actions")`):
actions, years, lots, summary, key_dates and warnings as `isoplan plan` writes them plus
client_id (lots: the sales per year are in actions; `shares_sold` totals them), clients (one row
per planned client: status, gap, value over the best baseline at the scenario's and at flat
prices, the AMT the plan and each baseline pay: `CLIENT_COLUMNS`) and errors; at the end of a
run, actions_due (`planner.actions_due`: this year's actions of the book). Rows are the same
for the same input and options, except the timing columns (`TIMING_COLUMNS`).
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import re
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models.baselines import BASELINES, best_baseline
from models.scenario import Scenario
from planner.actions_due import FLAG_COLUMNS, INPUTS, actions_due, client_flags
from planner.book import BOOK_COLUMNS, Book, Client
from planner.errors import EngineError, InputError
from planner.flat import FlatValue, flat_value
from planner.law import data_dir
from planner.options import Overrides
from planner.outputs import isoplan_version, write_table
from planner.plan import PLAN_STAGES, run_plan, tables
from planner.solve import Budget, Stopwatch

# Every client's fingerprint holds it (`run_basis`): a change of isoplan that changes a result's
# rows or columns bumps it (or the version), or re-runs keep the rows of the old code.
FORMAT_VERSION = "2"  # 2: per-stage seconds, flat-price value, AMT by baseline
RESULT_TABLES = ("actions", "years", "lots", "summary", "key_dates", "warnings")
TABLES = (*RESULT_TABLES, "clients", "errors")
# A client's cost, stage by stage (`stage_<name>_seconds` in `clients`), to follow the budget per
# client: its scenario validated, `run_plan`'s stages (a batch asks no marginal values), its
# tables, its plan valued at flat prices (`flat`), and `write`, its chunk's write time over the
# chunk's clients (`Batch._write_chunk`).
TIMED_STAGES = ("validate", *(s for s in PLAN_STAGES if s != "worth"), "tables", "flat", "write")
SOLVER_TIMING = ("build_seconds", "solve_seconds")
TIMING_COLUMNS = (*SOLVER_TIMING, *(f"stage_{s}_seconds" for s in TIMED_STAGES))
STAGES = ("read", "validate", "plan", "time_limit", "crash")
PATHS_IGNORED = "paths_ignored"  # the warning of a client whose price paths a batch leaves out
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LOST_WORKER_TIMEOUT = "distributed.deploy.lost-worker-timeout"

_DATE, _TEXT, _BOOL, _INT = pa.date32(), pa.string(), pa.bool_(), pa.int64()
# Column types that are not float64 (the rest of every table is float64).
_TYPES: dict[str, dict[str, pa.DataType]] = {
    "actions": {"year": _INT, "date": _DATE, "kind": _TEXT, "option_id": _TEXT, "lot_id": _TEXT,
                "window_id": _TEXT, "treatment": _TEXT, "qualifying": _BOOL, "long_term": _BOOL},
    "years": {"year": _INT, "projected": _BOOL, "exercise_date": _DATE, "itemize": _BOOL,
              "itemized": _BOOL, "state": _TEXT, "tax_due_date": _DATE},
    "lots": {"lot_id": _TEXT, "source": _TEXT, "grant_id": _TEXT, "kind": _TEXT,
             "exercise_year": _INT, "exercise_date": _DATE},
    "summary": {"approach": _TEXT, "solver": _TEXT, "status": _TEXT, "note": _TEXT},
    "key_dates": {"date": _DATE, "event": _TEXT, "lot_id": _TEXT, "option_id": _TEXT,
                  "grant_id": _TEXT, "source": _TEXT},
    "warnings": {"warning": _TEXT, "year": _INT, "date": _DATE, "subject": _TEXT,
                 "message": _TEXT},
    "clients": {"goal": _TEXT, "status": _TEXT, "time_limit_hit": _BOOL, "best_baseline": _TEXT,
                "best_baseline_flat": _TEXT, "flat_note": _TEXT, "paths_ignored": _INT,
                **dict.fromkeys(FLAG_COLUMNS, _DATE)},
    "errors": {"stage": _TEXT, "reason": _TEXT},
    "actions_due": {"action": _TEXT, "date": _DATE, "option_id": _TEXT, "lot_id": _TEXT,
                    "window_id": _TEXT, "treatment": _TEXT, "year": _INT, "tax_due_date": _DATE,
                    **dict.fromkeys(FLAG_COLUMNS, _DATE), "time_limit_hit": _BOOL,
                    "failed": _BOOL, "note": _TEXT},
}  # fmt: skip
# The clients row: the plan against the best baseline at the scenario's prices and at flat prices
# (`planner.flat`), the AMT the plan and each baseline pay and the value over each (positive when
# the plan is better), the first year's deadlines and tender, the price paths left out.
CLIENT_COLUMNS = (
    "client_id", "goal", "status", "time_limit_hit", "gap", "objective_value", "best_baseline",
    "best_baseline_value", "value_over_best_baseline", "after_tax_wealth",
    "after_tax_wealth_flat", "price_growth_wealth", "best_baseline_flat",
    "value_over_best_baseline_flat", "flat_note", "amt_paid",
    *(f"amt_paid_by_{b}" for b in BASELINES), *(f"value_over_{b}" for b in BASELINES),
    *FLAG_COLUMNS, "paths_ignored", "plan_vs_exact", *TIMING_COLUMNS,
)  # fmt: skip
ERROR_COLUMNS = ("client_id", "stage", "reason")


Frames = dict[str, pd.DataFrame]


# ----------------------------------------------------------------------------------------------
# One client
# ----------------------------------------------------------------------------------------------


def one_line(text: str, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_frames(client_id: str, stage: str, reason: str) -> Frames:
    """The result of a client that could not be planned: one errors row."""
    return {"errors": pd.DataFrame([{"client_id": client_id, "stage": stage,
                                     "reason": one_line(reason)}])}  # fmt: skip


def plan_client(client: Client, options: Overrides) -> Frames:
    """Plan one client: its tables (each row with client_id) and a clients row, or an errors row.
    Deterministic and picklable; never raises for a bad client. Its time limit counts from here,
    so that it bounds the whole client, its validation included."""
    started = time.monotonic()
    clock = Stopwatch()
    cid = client.client_id
    if client.error is not None:
        return error_frames(cid, "read", client.error)
    try:
        v = client.validated(options)
        clock.lap("validate")
    except InputError as exc:
        return error_frames(cid, "validate", str(exc))
    except Exception as exc:  # a bug in the conversion: this client only
        return error_frames(cid, "crash", f"{type(exc).__name__}: {exc}")
    try:
        limit = v.options.time_limit
        budget = Budget(started + limit, limit)
        result = run_plan(v.scenario, v.laws, v.options, budget, clock=clock)
        if result.solve is None or not result.solve.has_plan:
            timed_out = result.solve is not None and result.solve.status == "no_solution"
            stage = "time_limit" if timed_out else "plan"
            return error_frames(cid, stage, f"no plan: {result.explanation}")
        out = tables(result)
    except InputError as exc:
        return error_frames(cid, "plan", str(exc))
    except Exception as exc:  # a bug or a solver failure: this client only
        return error_frames(cid, "crash", f"{type(exc).__name__}: {exc}")
    frames = {name: _with_client(cid, out[name]) for name in RESULT_TABLES if name in out}
    lots = frames.get("lots")
    if lots is not None and not lots.empty:
        sold = [c for c in lots.columns if c.startswith("sold_")]
        lots["shares_sold"] = lots[sold].sum(axis=1) if sold else 0.0
        frames["lots"] = lots.drop(columns=sold)
    clock.lap("tables")
    try:  # the plan at flat prices: its baselines get what is left of the limit, or a tenth
        assert result.plan is not None
        flat = flat_value(v.scenario, result.plan, v.laws, max(budget.left(), limit / 10))
    except Exception as exc:  # a bug in a side figure: said in its note, the plan kept
        flat = FlatValue(note=one_line(f"internal error: {type(exc).__name__}: {exc}"))
    clock.lap("flat")
    paths = client.path_count()
    if paths:
        warnings = [frames.get("warnings"), _with_client(cid, _paths_warning(v.scenario, paths))]
        frames["warnings"] = pd.concat(
            [w for w in warnings if w is not None and not w.empty], ignore_index=True
        )
    best = best_baseline(result.baselines, v.scenario.objective)
    row = _client_row(cid, v.scenario.objective, best, out["summary"], result.time_limit_hit,
                      flat, {**client_flags(v.scenario), "paths_ignored": paths})  # fmt: skip
    for s in TIMED_STAGES:  # a stage that did not run took no time; the batch times `write`
        row[f"stage_{s}_seconds"] = clock.seconds.get(s, math.nan if s == "write" else 0.0)
    frames["clients"] = pd.DataFrame([row])
    return frames


def _with_client(cid: str, df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df.insert(0, "client_id", cid)
    return df


def _paths_warning(scenario: Scenario, paths: int) -> pd.DataFrame:
    """The warnings row of a client whose file lists price paths, which a batch leaves out."""
    first = scenario.years[0]
    message = (
        f"the scenario lists {paths} price paths, which isoplan batch ignores: this plan is for "
        "the scenario's own prices alone; `isoplan plan FILE` makes the plan robust to the paths."
    )
    row = {"warning": PATHS_IGNORED, "year": first.year, "date": first.exercise_date,
           "subject": "paths", "message": message}  # fmt: skip
    return pd.DataFrame([row])


def _client_row(
    cid: str,
    goal: str,
    best: str | None,
    summary: pd.DataFrame,
    hit: bool,
    flat: FlatValue,
    flags: dict[str, Any],
) -> dict[str, Any]:
    """The clients row (`CLIENT_COLUMNS`): values over a baseline are in the objective's
    dollars and positive when the plan is better (less tax, with min_tax)."""
    rows = {r["approach"]: r for r in summary.to_dict("records")}
    opt = rows["optimized"]
    sign = 1.0 if goal == "wealth" else -1.0

    def over(b: str | None) -> float:
        return sign * (opt["objective_value"] - rows[b]["objective_value"]) if b else math.nan

    row: dict[str, Any] = {
        "client_id": cid, "goal": goal, "status": str(opt["status"]), "time_limit_hit": hit,
        "gap": opt["gap"], "objective_value": opt["objective_value"], "best_baseline": best,
        "best_baseline_value": rows[best]["objective_value"] if best else math.nan,
        "value_over_best_baseline": over(best), "after_tax_wealth": opt["after_tax_wealth"],
        "after_tax_wealth_flat": flat.wealth,
        "price_growth_wealth": opt["after_tax_wealth"] - flat.wealth,
        "best_baseline_flat": flat.best_baseline,
        "value_over_best_baseline_flat": flat.value_over_best_baseline,
        "flat_note": flat.note, "amt_paid": opt["amt_paid"],
        **{f"amt_paid_by_{b}": rows[b]["amt_paid"] if b in rows else math.nan for b in BASELINES},
        **{f"value_over_{b}": over(b) if b in rows else math.nan for b in BASELINES},
        **{c: flags.get(c) for c in (*FLAG_COLUMNS, "paths_ignored")},
    }  # fmt: skip
    row["plan_vs_exact"] = opt["plan_vs_exact"]
    for c in SOLVER_TIMING:
        row[c] = opt[c]
    return row


def schema_of(table: str, df: pd.DataFrame) -> pa.Schema:
    """The Arrow schema of a table's part: declared types, float64 for the other columns."""
    types = _TYPES[table]
    return pa.schema([(c, _TEXT if c == "client_id" else types.get(c, pa.float64()))
                      for c in df.columns])  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Engines
# ----------------------------------------------------------------------------------------------

PlanFn = Callable[[Client, Overrides], Frames]
Deliver = Callable[[int, Frames], None]


def single_threaded() -> None:
    """One thread per worker process (numerical libraries), inherited by the workers."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


class LocalPool:
    """A local process pool (concurrent.futures), one single-threaded worker per core.

    A worker process that dies (killed, out of memory, a crash inside a solver library) breaks the
    pool: the clients it was running are then planned again one at a time, each in a fresh
    process, so the client that kills its worker is found and reported, and the others finish.
    The waits need no timeout for that: the pool's manager thread waits on every worker's process
    sentinel as well as on the results, so a death fails the pool's futures (BrokenProcessPool)
    as soon as it happens."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        # No preloaded modules: Python 3.11's fork server starts in the current folder and
        # ignores the parent's sys.path, so a preload could import a `planner/` folder found
        # there; without one, each worker takes the parent's sys.path before importing isoplan.
        self.context = multiprocessing.get_context(
            "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        )
        self.plan: PlanFn = plan_client

    def __enter__(self) -> LocalPool:
        """Start one worker first and hand it the plan function: when workers cannot start or
        import it (a broken install, a script without a `__main__` guard) the run stops, instead
        of reporting every client as crashed."""
        single_threaded()
        with ProcessPoolExecutor(1, mp_context=self.context) as pool:
            try:
                pool.submit(_ready, self.plan).result(timeout=300)
            except BrokenProcessPool:
                raise EngineError(
                    "the local pool's worker processes cannot start or cannot import isoplan (a "
                    "script that runs a batch needs an `if __name__ == '__main__':` guard)"
                ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(self, items: Iterable[tuple[int, Client]], fn: PlanFn, options: Overrides,
            deliver: Deliver) -> None:  # fmt: skip
        queue = deque(items)
        while queue:
            for key, client in self._run_pool(queue, fn, options, deliver):
                self._run_alone(key, client, fn, options, deliver)

    def _run_pool(self, queue: deque[tuple[int, Client]], fn: PlanFn, options: Overrides,
                  deliver: Deliver) -> list[tuple[int, Client]]:  # fmt: skip
        """Run until the queue is empty or the pool breaks; returns the clients in flight then."""
        window = self.workers * 3
        with ProcessPoolExecutor(self.workers, mp_context=self.context) as pool:
            inflight: dict[Any, tuple[int, Client]] = {}
            while queue or inflight:
                broken = False
                while queue and len(inflight) < window and not broken:
                    item = queue.popleft()
                    try:
                        inflight[pool.submit(fn, item[1], options)] = item
                    except BrokenProcessPool:
                        queue.appendleft(item)
                        broken = True
                if inflight and not broken:
                    done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for f in done:
                        key, client = inflight.pop(f)
                        exc = f.exception()
                        if exc is None:
                            deliver(key, f.result())
                        elif isinstance(exc, BrokenProcessPool):
                            inflight[f] = (key, client)
                            broken = True
                        else:
                            deliver(key, _crash(client, exc))
                if broken:
                    return sorted(inflight.values(), key=lambda kc: kc[0])
        return []

    def _run_alone(self, key: int, client: Client, fn: PlanFn, options: Overrides,
                   deliver: Deliver) -> None:  # fmt: skip
        with ProcessPoolExecutor(1, mp_context=self.context) as pool:
            try:
                frames = pool.submit(fn, client, options).result()
            except BrokenProcessPool:
                frames = error_frames(
                    client.client_id,
                    "crash",
                    "the worker process died while planning this client (killed, out of memory, "
                    "or a crash inside the solver)",
                )
            except Exception as exc:
                frames = _crash(client, exc)
        deliver(key, frames)


def _ready(fn: PlanFn) -> bool:
    """Run in a new worker: unpickling `fn` imports everything planning needs."""
    return callable(fn)


def _crash(client: Client, exc: BaseException) -> Frames:
    name = type(exc).__name__
    if name == "KilledWorker":
        why = "the Dask worker died while planning this client (every retry killed its worker)"
    else:
        why = f"{name}: {exc}"
    return error_frames(client.client_id, "crash", why)


class DaskEngine:
    """Dask distributed: an existing cluster (`address`) or a LocalCluster of `workers` processes
    of one thread each. The workers need isoplan installed (the same version).

    A worker that dies is restarted by its nanny and the scheduler runs its tasks again, up to
    `distributed.scheduler.allowed-failures` times, then fails the task (KilledWorker). Two things
    in distributed (2026.8) undo that when a client kills its worker again and again, and make
    such a batch wait forever or misreport a good client:

    - A LocalCluster closes a worker's nanny for good when the scheduler has not seen a worker of
      that name `distributed.deploy.lost-worker-timeout` (15 s) after losing one. The check is
      made once, at that instant: a nanny that is restarting its worker then (a restart takes
      seconds on a busy machine) is closed and never replaced; with every nanny closed no task
      can run. Our LocalCluster's nannies always restart their workers, so the engine turns that
      timer off for the cluster's life.
    - A finished task's result lives on its worker until it is fetched. When the worker dies
      first, the future turns "lost" and the scheduler computes it again: the engine waits for
      that result instead of reading the lost future as a failure.

    `run` also waits for no more than `task_seconds` for the next task to end; past that it stops
    the batch (the chunks written are kept) rather than wait on a cluster that runs nothing."""

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address, self.workers = address, workers or os.cpu_count() or 1
        self.group_size: int | None = None  # default: up to 4, fewer for small books
        self.cluster: Any = None
        self.client: Any = None
        self.plan: PlanFn = plan_client
        self._exit = ExitStack()

    def __enter__(self) -> DaskEngine:
        import logging

        import dask
        from distributed import Client as DaskClient
        from distributed import LocalCluster

        single_threaded()
        with ExitStack() as stack:
            if self.address is not None:
                try:
                    self.client = DaskClient(self.address, timeout="20s")
                except (OSError, TimeoutError, ValueError) as exc:
                    raise InputError(f"--scheduler {self.address}: cannot connect: {exc}") from None
                stack.callback(self.client.close)
                self.workers = max(1, sum(
                    w.get("nthreads", 1)
                    for w in self.client.scheduler_info()["workers"].values()
                ))  # fmt: skip
            else:
                # Ten years: never, for a batch. The cluster reads it each time it loses a
                # worker, so it must hold until the cluster closes.
                stack.enter_context(dask.config.set({LOST_WORKER_TIMEOUT: "3650d"}))
                self.cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
                stack.callback(self.cluster.close)
                self.client = DaskClient(self.cluster)
                stack.callback(self.client.close)
            self._exit = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def run(self, items: Iterable[tuple[int, Client]], fn: PlanFn, options: Overrides,
            deliver: Deliver) -> None:  # fmt: skip
        import distributed

        # Clients go out in small groups (fewer tasks for the scheduler); a group whose worker
        # died is sent again one client per task, so only the client that kills its worker fails.
        # A single client whose worker died may only have been waiting on the worker that the
        # culprit killed: it runs once more alone, with nothing else in flight, before it fails.
        items = list(items)
        size = self.group_size or max(1, min(4, len(items) // (self.workers * 8)))
        queue: deque[list[tuple[int, Client]]] = deque()
        group: list[tuple[int, Client]] = []
        for item in items:
            group.append(item)
            if len(group) == size:
                queue.append(group)
                group = []
        if group:
            queue.append(group)
        window = self.workers * 3
        token = hashlib.sha256(repr((time.time(), os.getpid())).encode()).hexdigest()[:12]
        inflight: dict[str, list[tuple[int, Client]]] = {}
        futures: dict[str, Any] = {}
        bounds: dict[str, float] = {}
        suspects: deque[list[tuple[int, Client]]] = deque()
        alone: set[str] = set()  # tasks that ran with nothing else in flight
        count = 0

        def submit() -> None:
            nonlocal count
            while (queue and len(inflight) < window) or (suspects and not inflight and not queue):
                name = f"isoplan-{token}-{count}"
                count += 1
                if queue:
                    batch = queue.popleft()
                else:
                    batch = suspects.popleft()
                    alone.add(name)
                inflight[name] = batch
                clients = [c for _, c in batch]
                bounds[name] = task_seconds(clients, options)
                futures[name] = self.client.submit(
                    plan_group, fn, clients, options, key=name, pure=False
                )

        def stalled(seconds: float) -> EngineError:
            ids = sorted(c.client_id for batch in inflight.values() for _, c in batch)
            return EngineError(
                f"the Dask cluster returned no result in {seconds:.0f} s (workers gone or stuck?) "
                f"while planning clients {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}; "
                "the chunks written so far are kept: run the same command again to resume"
            )

        submit()
        while futures:
            seconds = max(bounds.values())
            try:
                done = distributed.wait(
                    list(futures.values()), timeout=seconds, return_when="FIRST_COMPLETED"
                ).done
            except TimeoutError:
                raise stalled(seconds) from None
            for fut in done:
                if fut.status not in ("finished", "error"):
                    continue  # "lost": its worker died before its result was fetched; see above
                batch = inflight[fut.key]
                try:
                    results = fut.result(timeout=seconds)  # computed again if lost meanwhile
                except TimeoutError:
                    raise stalled(seconds) from None
                except Exception as exc:  # the task failed: KilledWorker, or a Dask error
                    if len(batch) > 1:
                        queue.extendleft([item] for item in reversed(batch))
                    elif type(exc).__name__ == "KilledWorker" and fut.key not in alone:
                        suspects.append(batch)
                    else:
                        deliver(batch[0][0], _crash(batch[0][1], exc))
                else:
                    for (key, _), frames in zip(batch, results, strict=True):
                        deliver(key, frames)
                finally:
                    fut.release()
                    del inflight[fut.key], futures[fut.key], bounds[fut.key]
            submit()


def task_seconds(clients: list[Client], options: Overrides) -> float:
    """The most a task of these clients may take: 4 times each one's solver time limit plus 2
    minutes. The Dask engine waits that long (for the longest task in flight) for the next task
    to end, then stops the batch. A client ends near its time limit, which bounds its
    validation, build, baselines and solve together (`planner.solve.Budget`), but a model whose
    build alone takes longer, the exact evaluation, a worker's restart and a busy machine come
    on top, and a task whose worker died runs again: the bound is a safety net against a
    cluster that runs nothing, far above what a client that plans within its limit takes."""
    return sum(4 * c.time_limit(options) + 120 for c in clients)


def plan_group(fn: PlanFn, clients: list[Client], options: Overrides) -> list[Frames]:
    """Plan several clients in one task; an exception is that client's errors row."""
    out = []
    for client in clients:
        try:
            out.append(fn(client, options))
        except Exception as exc:
            out.append(_crash(client, exc))
    return out


# ----------------------------------------------------------------------------------------------
# Fingerprints: what a client's result depends on
# ----------------------------------------------------------------------------------------------


@cache
def law_digest() -> str:
    """A hash of every tax-law data file (published years and projection rules): new or
    corrected law re-plans the clients planned with the old."""
    root = data_dir()
    digest = hashlib.sha256()
    for p in sorted(root.rglob("*.yaml")):
        digest.update(p.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(p.read_bytes()).digest())
    return digest.hexdigest()


# The scenario fields a book's number columns fill, by their key in a client's document. A
# table's column holds text when one of its cells is not a number ("ten"), so the same value may
# come as 20000, 20000.0 or "20000": the scenario reads all three alike, and so does
# `_canonical` in these fields, so that fixing that cell keeps the other clients' results. No
# text field has one of these names (tests/test_batch_incremental.py checks).
NUMBER_FIELDS = frozenset(
    c.path[-1] for cols in BOOK_COLUMNS.values() for c in cols
    if c.path and c.type in ("number", "integer")
)  # fmt: skip
# Numeric text the scenario reads as the number float() reads: 15 digits at most (no rounding,
# and a fraction stays one: an integer field refuses the text exactly when it refuses the number).
_NUMBER_TEXT = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _canonical(v: Any, loose: bool, number: bool = False) -> Any:
    """Plain data as JSON that tells types apart (1, 1.0 and "1"; a date and its text), except,
    when `loose`, in a number field (`NUMBER_FIELDS`), and sorts mappings: the same inputs always
    give the same text, and inputs that may plan differently never do."""
    if isinstance(v, dict):
        pairs = [[_canonical(k, loose), _canonical(x, loose, loose and k in NUMBER_FIELDS)]
                 for k, x in v.items()]  # fmt: skip
        return ["map", sorted(pairs, key=json.dumps)]
    if isinstance(v, list | tuple):
        return ["list", [_canonical(x, loose) for x in v]]
    if hasattr(v, "tolist"):  # a numpy value or array
        v = v.tolist()
    text = number and isinstance(v, str) and _NUMBER_TEXT.fullmatch(v) is not None
    if text and sum(ch.isdigit() for ch in v) <= 15:
        v = float(v)
    if number and isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 2**53:
        return ["number", float(v)]
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, datetime | date):
        return [type(v).__name__, v.isoformat()]
    return [type(v).__name__, repr(v)]


def _digest(payload: Any, size: int = 64) -> str:
    text = json.dumps(payload, sort_keys=True, default=repr, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def run_basis(options: Overrides) -> str:
    """What every client's result depends on besides its own inputs: isoplan's version and
    result format, the tax-law data and the batch's planning options (not the chunking, the
    workers or the engine, which change no row)."""
    given = {k: float(v) if type(v) is int else v for k, v in asdict(options).items()}  # 30 is 30.0
    return _digest([FORMAT_VERSION, isoplan_version(), law_digest(), given])


def client_fingerprint(client: Client, basis: str) -> str:
    """A hash of everything a client's rows depend on: `basis` and its scenario as read from the
    book (every row of it in every table, numbers by value; or its file's text), or why it
    cannot be read."""
    return _digest([basis, client.client_id, _inputs(client, exact=False)])


def client_exact(client: Client) -> str:
    """A hash of the client's input exactly as written and of how messages name it (its file,
    its table rows): only an errors row's reason shows these, so they re-plan only a failed
    client (a row inserted above it in a table moves its row numbers, not its plan)."""
    return _digest([client.source, sorted(client.rows.items()), _inputs(client, exact=True)], 32)


def _inputs(client: Client, exact: bool) -> Any:
    if client.error is not None:
        return ["error", client.error]
    if client.text is not None:
        return ["text", client.text]
    return ["data", _canonical(client.data, loose=not exact)]


# ----------------------------------------------------------------------------------------------
# The batch: chunks, resume, re-runs, summary
# ----------------------------------------------------------------------------------------------


def default_chunk_size(clients: int) -> int:
    """Clients per chunk: small books in small chunks (resume loses little), large books in at
    most about 250 chunks (few files)."""
    return max(10, min(200, math.ceil(clients / 250)))


@dataclass
class BatchSummary:
    book: str
    outdir: str
    engine: str
    workers: int
    clients: int
    planned: int
    failed: int
    time_limits_hit: int
    already_done: int
    planned_now: int
    seconds: float
    clients_per_minute: float | None
    median_solve_seconds: float | None
    worst_solve_seconds: float | None
    # The money of the book (`headlines`): totals over the planned clients.
    value_over_best_baselines: float
    flat_prices: dict[str, Any]
    amt_paid: float
    amt_paid_by_baseline: dict[str, float]
    value_over_baseline: dict[str, float]
    clients_by_baseline: dict[str, int]
    paths_ignored: int
    errors_by_stage: dict[str, int]
    # This run's effect on the folder, in clients: results kept, re-planned, removed.
    changes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def headlines(clients: pd.DataFrame) -> dict[str, Any]:
    """The book's money from its clients rows, as `BatchSummary` holds it: the value over the
    best baselines at the scenario's prices; at flat prices (`planner.flat`), over the clients
    it is a sound figure for (`clients`; `not_evaluated`: the others, their `flat_note` says
    why), beside the same clients' value at the scenario's prices and the part of their wealth
    that is only the assumed price growth; the AMT the plans and each baseline pay and the value
    over each baseline (positive when the plans are better), each over the clients that baseline
    has a plan for (`clients_by_baseline`: a baseline that breaks the cash floor has none)."""

    def total(column: str, df: pd.DataFrame = clients) -> float:
        return round(float(df[column].sum()), 2) if column in df else 0.0

    def count(column: str, df: pd.DataFrame = clients) -> int:
        return int(df[column].notna().sum()) if column in df else 0

    flat = "value_over_best_baseline_flat"
    sound = clients[clients[flat].notna()] if flat in clients else clients.iloc[0:0]
    return {
        "value_over_best_baselines": total("value_over_best_baseline"),
        "flat_prices": {
            "clients": len(sound), "not_evaluated": len(clients) - len(sound),
            "value_over_best_baselines": total("value_over_best_baseline_flat", sound),
            "value_over_best_baselines_at_scenario_prices": total(
                "value_over_best_baseline", sound),
            "price_growth_wealth": total("price_growth_wealth", sound),
        },
        "amt_paid": total("amt_paid"),
        "amt_paid_by_baseline": {b: total(f"amt_paid_by_{b}") for b in BASELINES},
        "value_over_baseline": {b: total(f"value_over_{b}") for b in BASELINES},
        "clients_by_baseline": {b: count(f"amt_paid_by_{b}") for b in BASELINES},
        "paths_ignored": int((clients["paths_ignored"] > 0).sum()) if "paths_ignored" in clients
        else 0,
    }  # fmt: skip


@dataclass(frozen=True)
class Changes:
    """What a run does to its folder, in clients: results kept (inputs, options, law and
    isoplan unchanged), clients to plan (new, changed, not finished by a killed run, or every
    one with `fresh`) and results removed (clients no longer in the book)."""

    kept: int = 0
    replanned: int = 0
    removed: int = 0
    existing: int = 0  # clients with results in the folder before the run

    def as_dict(self) -> dict[str, int]:
        return {"kept": self.kept, "replanned": self.replanned, "removed": self.removed}


@dataclass
class _Chunk:
    """A chunk a run writes: its clients in client-id order, those of them to plan (the others'
    rows are copied from the chunk it replaces) and the chunk it replaces, if any."""

    name: int
    clients: list[Client]
    plan: set[str]
    replaces: int | None = None
    results: dict[str, Frames] = field(default_factory=dict)


MANIFEST_KIND = "isoplan batch"
_MARKER = re.compile(r"(\d+)\.json")
_PART = re.compile(r"part-(\d+)\.parquet")


class Batch:
    """One book planned into one folder and kept up to date by re-runs (see the module's
    docstring); `fresh` re-plans every client."""

    def __init__(self, book: Book, outdir: Path, options: Overrides, chunk_size: int | None = None,
                 fresh: bool = False):  # fmt: skip
        self.book, self.outdir, self.options, self.fresh = book, outdir, options, fresh
        self.chunk_size = chunk_size or default_chunk_size(len(book))
        self.basis = run_basis(options)
        self._fingerprints: dict[str, tuple[str, str]] | None = None
        self.changes = Changes()
        self.written = self.to_write = 0  # chunks of the current run

    def marker(self, k: int) -> Path:
        return self.outdir / "_chunks" / f"{k:06d}.json"

    def part(self, table: str, k: int) -> Path:
        return self.outdir / table / f"part-{k:06d}.parquet"

    @property
    def fingerprints(self) -> dict[str, tuple[str, str]]:
        """Each client's fingerprint and `client_exact`, computed once."""
        if self._fingerprints is None:
            self._fingerprints = {
                c.client_id: (client_fingerprint(c, self.basis), client_exact(c))
                for c in self.book.clients
            }
        return self._fingerprints

    def prepare(self) -> list[_Chunk]:
        """Check the folder (InputError if it is not a batch's), finish or undo what a killed run
        left half done, and return the chunks this run writes (`changes` says what they do)."""
        old = self._manifest()
        markers, files = self._scan()
        # A committed chunk is replaced the moment its replacement's marker exists.
        superseded = {r for k, m in markers.items() for r in m["replaces"] if r < k}
        live = {k: m for k, m in markers.items()
                if k not in superseded and self._complete(k, m)}  # fmt: skip
        garbage = [p for k in sorted(files) if k not in live for p in files[k]]
        garbage.sort(key=lambda p: p.parent.name != "_chunks")  # markers first
        fresh_from = old.get("fresh_from", 0)
        fresh_from = fresh_from if isinstance(fresh_from, int) else 0
        name = max(max(files, default=-1) + 1, fresh_from)
        if self.fresh:  # every chunk there is now outdated, until replaced
            fresh_from = name
        for k, m in live.items():
            if m.get("legacy"):  # an older isoplan's chunk: its clients, fingerprints unknown
                m["clients"] = dict.fromkeys(self._clients_of(k), "")
        owner: dict[str, int] = {}
        for k in sorted(live):
            for cid in live[k]["clients"]:
                owner.setdefault(cid, k)  # a client in two chunks (never written so) stays once

        fps = self.fingerprints
        keep: set[str] = set()
        members: dict[int, list[Client]] = {k: [] for k in live}
        new: list[Client] = []
        for client in self.book.clients:
            cid = client.client_id
            if cid not in owner:
                new.append(client)
                continue
            j = owner[cid]
            members[j].append(client)
            m, (fp, exact) = live[j], fps[cid]
            if j >= fresh_from and m["clients"][cid] == fp and m["errors"].get(cid, exact) == exact:
                keep.add(cid)
        chunks: list[_Chunk] = []
        drops: list[int] = []
        for k in sorted(live):
            mine = members[k]
            if len(mine) == len(live[k]["clients"]) and all(c.client_id in keep for c in mine):
                continue  # unchanged
            if not mine:
                drops.append(k)
                continue
            chunks.append(_Chunk(name, mine, {c.client_id for c in mine} - keep, replaces=k))
            name += 1
        for i in range(0, len(new), self.chunk_size):
            group = new[i : i + self.chunk_size]
            chunks.append(_Chunk(name, group, {c.client_id for c in group}))
            name += 1
        self.changes = Changes(
            kept=len(keep),
            replanned=len(self.book) - len(keep),
            removed=sum(1 for cid in owner if cid not in fps),
            existing=len(owner),
        )
        if old and not (garbage or drops or chunks or self.fresh):
            return []  # nothing changes
        (self.outdir / "batch.json").unlink(missing_ok=True)  # a summary only of a whole book
        self._write_manifest(fresh_from)
        for p in garbage:
            p.unlink(missing_ok=True)
        for k in drops:
            self._delete_chunk(k)
        return chunks

    def _manifest(self) -> dict[str, Any]:
        """The folder's manifest ({} for a new or empty folder); InputError if the folder holds
        something else than a batch's results."""
        manifest = self.outdir / "manifest.json"
        if self.outdir.exists() and not self.outdir.is_dir():
            raise InputError(f"{self.outdir}: exists and is not a folder")
        if manifest.exists():
            try:
                old = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"{manifest}: cannot read: {one_line(str(exc))}") from None
            # An older isoplan's manifest has its folder's fingerprint instead of a kind.
            if isinstance(old, dict) and (old.get("kind") == MANIFEST_KIND or "fingerprint" in old):
                return old
            raise InputError(f"{self.outdir}: not a batch folder (manifest.json is not a batch's)")
        if self.outdir.exists() and any(self.outdir.iterdir()):
            raise InputError(f"{self.outdir}: not empty and not a batch folder (no manifest.json)")
        return {}

    def _write_manifest(self, fresh_from: int) -> None:
        """The manifest first (a folder with one is a batch's), then the folders."""
        try:
            self.outdir.mkdir(parents=True, exist_ok=True)
            _write_json(self.outdir / "manifest.json", {
                "kind": MANIFEST_KIND, "format": FORMAT_VERSION, "isoplan": isoplan_version(),
                "fresh_from": fresh_from, "book": str(self.book.path),
                "book_fingerprint": self.book.fingerprint, "options": asdict(self.options),
                "law": law_digest(), "clients": len(self.book), "chunk_size": self.chunk_size,
            })  # fmt: skip
            for sub in ("_chunks", *TABLES):
                (self.outdir / sub).mkdir(exist_ok=True)
        except OSError as exc:  # before any client is planned
            raise InputError(f"{self.outdir}: cannot write: {exc.strerror or exc}") from None

    def _scan(self) -> tuple[dict[int, dict[str, Any]], dict[int, list[Path]]]:
        """The markers that read as markers, and every file of every chunk by its number (the
        temporary files of a write that was killed under -1)."""
        markers: dict[int, dict[str, Any]] = {}
        files: dict[int, list[Path]] = {}
        for sub in ("_chunks", *TABLES):
            folder = self.outdir / sub
            if not folder.is_dir():
                continue
            pattern = _MARKER if sub == "_chunks" else _PART
            for p in folder.iterdir():
                found = pattern.fullmatch(p.name)
                if found is not None:
                    k = int(found.group(1))
                elif p.name.startswith(".") and p.name.endswith(".tmp"):
                    k = -1
                else:
                    continue  # not ours: left alone
                files.setdefault(k, []).append(p)
                if sub == "_chunks" and k >= 0:
                    marker = _read_marker(p)
                    if marker is not None:
                        markers[k] = marker
        return markers, files

    def _complete(self, k: int, marker: dict[str, Any]) -> bool:
        """Whether every part a marker counts rows in is there (a part deleted by hand: the
        chunk's clients are planned again)."""
        return all(n == 0 or self.part(t, k).exists() for t, n in marker["rows"].items())

    def _clients_of(self, k: int) -> list[str]:
        """The clients of a chunk by its rows: each has a clients or an errors row."""
        ids: list[str] = []
        for table in ("clients", "errors"):
            if self.part(table, k).exists():
                df = pd.read_parquet(self.part(table, k), columns=["client_id"])
                ids.extend(df["client_id"].astype(str))
        return ids

    def _delete_chunk(self, k: int) -> None:
        """The marker first: its rows stop being results at once; the parts left by a kill are
        a chunk without marker, deleted by the next run."""
        self.marker(k).unlink(missing_ok=True)
        for table in TABLES:
            self.part(table, k).unlink(missing_ok=True)

    def _kept_frames(self, k: int, ids: set[str]) -> dict[str, Frames]:
        """The rows of these clients in chunk k's parts, client by client, as they are."""
        out: dict[str, Frames] = {cid: {} for cid in ids}
        for table in TABLES:
            path = self.part(table, k)
            if not ids or not path.exists():
                continue
            df = pd.read_parquet(path)
            df = df[df["client_id"].isin(ids)]
            for cid, rows in df.groupby("client_id", sort=False):
                out[str(cid)][table] = rows.reset_index(drop=True)
        return out

    def run(
        self,
        engine: LocalPool | DaskEngine,
        progress: Callable[[int], None] | None = None,
        plan: PlanFn = plan_client,
        on_start: Callable[[int, int], None] | None = None,
    ) -> BatchSummary:
        """Bring the folder up to date with the book: plan the clients without a current result
        and keep the others'; `on_start(to_plan, kept)` is told before any work (`changes` has
        more), `progress(n)` after every n clients."""
        chunks = self.prepare()
        if on_start is not None:
            on_start(self.changes.replanned, self.changes.kept)
        started = time.perf_counter()
        self.written, self.to_write = 0, len(chunks)
        slots: list[tuple[_Chunk, str]] = []
        left = {chunk.name: len(chunk.plan) for chunk in chunks}

        def deliver(index: int, frames: Frames) -> None:
            chunk, cid = slots[index]
            chunk.results[cid] = frames
            left[chunk.name] -= 1
            if left[chunk.name] == 0:
                self._write_chunk(chunk)
            if progress is not None:
                progress(1)

        items = []
        for chunk in chunks:
            if not chunk.plan:  # only rows to copy: a client of its chunk was removed
                self._write_chunk(chunk)
            for client in chunk.clients:
                if client.client_id not in chunk.plan:
                    continue
                slots.append((chunk, client.client_id))
                if client.error is not None:  # nothing to plan: no worker needed
                    deliver(len(slots) - 1, error_frames(client.client_id, "read", client.error))
                else:
                    items.append((len(slots) - 1, client))
        if items:
            engine.plan = plan
            with engine:
                engine.run(items, plan, self.options, deliver)
        if self.written < len(chunks):  # an engine that lost results is a bug, not a finished book
            missing = [c.name for c in chunks if left[c.name]]
            raise RuntimeError(f"internal error: chunks {missing[:5]} were not written")
        seconds = time.perf_counter() - started
        summary = self.summary(engine, self.changes.replanned, seconds)
        write_actions_due(self.outdir)
        _write_json(self.outdir / "batch.json", summary.as_dict())
        return summary

    def _write_chunk(self, chunk: _Chunk) -> None:
        """Every part, then the marker (the chunk's commit: it replaces `chunk.replaces` at
        once), then the replaced chunk's files are deleted."""
        k, ids = chunk.name, [c.client_id for c in chunk.clients]
        rows: dict[str, int] = {}
        started = time.perf_counter()
        kept = set(ids) - chunk.plan
        old = self._kept_frames(chunk.replaces, kept) if chunk.replaces is not None else {}
        results = [chunk.results[cid] if cid in chunk.plan else old[cid] for cid in ids]
        # The clients part last: its rows hold the chunk's write time so far (its own left out),
        # divided evenly over the chunk's clients, planned or not (a kept row keeps its own).
        for table in sorted(TABLES, key=lambda t: t == "clients"):
            frames = [r[table] for r in results if table in r]
            frames = [f for f in frames if not f.empty]
            if frames:
                df = pd.concat(frames, ignore_index=True)
            elif table in ("clients", "errors"):
                cols = CLIENT_COLUMNS if table == "clients" else ERROR_COLUMNS
                df = pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})  # any type
            else:
                self.part(table, k).unlink(missing_ok=True)
                rows[table] = 0
                continue
            if table == "clients" and chunk.plan:
                planned = df["client_id"].isin(chunk.plan)
                df.loc[planned, "stage_write_seconds"] = (time.perf_counter() - started) / len(ids)
            write_table(df, self.part(table, k), {"chunk": str(k)}, schema_of(table, df))
            rows[table] = len(df)
        fps = self.fingerprints
        failed = [cid for cid, r in zip(ids, results, strict=True)
                  if "errors" in r and not r["errors"].empty]  # fmt: skip
        _write_json(self.marker(k), {
            "chunk": k, "first": ids[0], "last": ids[-1], "rows": rows,
            "clients": {cid: fps[cid][0] for cid in ids},
            "errors": {cid: fps[cid][1] for cid in failed},
            "replaces": [] if chunk.replaces is None else [chunk.replaces],
        })  # fmt: skip
        if chunk.replaces is not None:
            self._delete_chunk(chunk.replaces)
        self.written += 1

    def summary(self, engine: LocalPool | DaskEngine, planned_now: int, seconds: float
                ) -> BatchSummary:  # fmt: skip
        clients = read_dataset(self.outdir / "clients")
        errors = read_dataset(self.outdir / "errors")
        solve = clients["solve_seconds"] if not clients.empty else pd.Series(dtype=float)
        return BatchSummary(
            book=str(self.book.path), outdir=str(self.outdir), engine=engine.name,
            workers=engine.workers, clients=len(self.book), planned=len(clients),
            failed=int(errors["client_id"].nunique()) if not errors.empty else 0,
            time_limits_hit=(int(clients["time_limit_hit"].sum()) if not clients.empty else 0)
            + (int((errors["stage"] == "time_limit").sum()) if not errors.empty else 0),
            already_done=len(self.book) - planned_now, planned_now=planned_now,
            seconds=round(seconds, 3),
            clients_per_minute=round(planned_now / seconds * 60, 1) if planned_now else None,
            median_solve_seconds=float(statistics.median(solve)) if len(solve) else None,
            worst_solve_seconds=float(solve.max()) if len(solve) else None,
            **headlines(clients),
            errors_by_stage={
                s: int((errors["stage"] == s).sum()) for s in STAGES
            } if not errors.empty else dict.fromkeys(STAGES, 0),
            changes=self.changes.as_dict(),
        )  # fmt: skip


def read_dataset(folder: Path, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A table of a batch folder (all its parts, in chunk order); empty if it has no part.
    With `columns`, only those of them a part has (a large book's years are wide)."""
    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame()
    wanted = None if columns is None else list(columns)

    def read(p: Path) -> pd.DataFrame:
        names = None if wanted is None else [c for c in wanted if c in pq.read_schema(p).names]
        return pd.read_parquet(p, columns=names)

    return pd.concat([read(p) for p in parts], ignore_index=True)


ACTIONS_DUE = "actions_due"


def write_actions_due(outdir: Path) -> pd.DataFrame:
    """The folder's `actions_due` table (`planner.actions_due`), made from its tables at the end
    of a run, as one part of `OUTDIR/actions_due/` (read like the others)."""
    df = actions_due(**{t: read_dataset(outdir / t, cols) for t, cols in INPUTS.items()})
    (outdir / ACTIONS_DUE).mkdir(exist_ok=True)
    write_table(df, outdir / ACTIONS_DUE / "part-000000.parquet", {}, schema_of(ACTIONS_DUE, df))
    return df


def _read_marker(path: Path) -> dict[str, Any] | None:
    """A chunk's marker, or None if it is not one (it then does not count: the chunk's clients
    are planned again). An older isoplan's marker has no fingerprints: `legacy`."""
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not isinstance(m, dict) or not isinstance(m.get("rows"), dict):
        return None
    if "clients" not in m:
        return {"rows": m["rows"], "clients": {}, "errors": {}, "replaces": [], "legacy": True}
    clients, errors, replaces = m["clients"], m.get("errors"), m.get("replaces")
    if not (isinstance(clients, dict) and isinstance(errors, dict)
            and isinstance(replaces, list) and all(type(r) is int for r in replaces)):  # fmt: skip
        return None
    return m


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
