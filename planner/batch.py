"""Batches: plan every client of a book unattended, on a local process pool or a Dask cluster.

The unit of work is `plan_client(client, options)`: it validates one client's scenario, plans it
(`planner.plan.run_plan`) and returns its rows as small DataFrames, every row carrying
`client_id`. It never raises for a bad client: a scenario that does not validate, a plan the
optimizer cannot make (infeasible, not supported, no plan in time) or an unexpected exception is
one `errors` row (client_id, stage, reason). The same function runs on every engine.

Results are written per chunk of clients (the book in client-id order, cut into chunks): every
table of a chunk to `OUTDIR/<table>/part-<chunk>.parquet`, each file atomically (a temporary file
renamed into place), then the chunk's marker `OUTDIR/_chunks/<chunk>.json`. A chunk is done when
its marker exists; a chunk without one is planned again and its files replaced with the same rows,
so a run killed at any point (kill -9 included) and started again finishes the book without a lost
or a duplicated row. `OUTDIR/manifest.json` ties the folder to one book and one set of planning
options; `OUTDIR/batch.json` (the run's summary) appears when every chunk is done.

Each `OUTDIR/<table>/` folder is a Parquet dataset (`pandas.read_parquet(OUTDIR / "actions")`):
actions, years, lots, summary, key_dates and warnings as `isoplan plan` writes them plus
client_id (lots: the sales per year are in actions; `shares_sold` totals them), clients (one row
per planned client: status, gap, value over the best baseline, AMT avoided against each
baseline) and errors. Rows are the same
for the same input and options, except the timing columns (`TIMING_COLUMNS`).
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from models.baselines import BASELINES, best_baseline
from planner.book import Book, Client
from planner.errors import EngineError, InputError
from planner.options import Overrides
from planner.outputs import write_table
from planner.plan import run_plan, tables
from planner.solve import Budget

FORMAT_VERSION = "1"
RESULT_TABLES = ("actions", "years", "lots", "summary", "key_dates", "warnings")
TABLES = (*RESULT_TABLES, "clients", "errors")
TIMING_COLUMNS = ("build_seconds", "solve_seconds")
STAGES = ("read", "validate", "plan", "time_limit", "crash")
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
    "clients": {"goal": _TEXT, "status": _TEXT, "time_limit_hit": _BOOL, "best_baseline": _TEXT},
    "errors": {"stage": _TEXT, "reason": _TEXT},
}  # fmt: skip
CLIENT_COLUMNS = (
    "client_id", "goal", "status", "time_limit_hit", "gap", "objective_value", "best_baseline",
    "best_baseline_value", "value_over_best_baseline", "amt_paid",
    *(f"amt_avoided_vs_{b}" for b in BASELINES), "plan_vs_exact", *TIMING_COLUMNS,
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
    cid = client.client_id
    if client.error is not None:
        return error_frames(cid, "read", client.error)
    try:
        v = client.validated(options)
    except InputError as exc:
        return error_frames(cid, "validate", str(exc))
    except Exception as exc:  # a bug in the conversion: this client only
        return error_frames(cid, "crash", f"{type(exc).__name__}: {exc}")
    try:
        limit = v.options.time_limit
        result = run_plan(v.scenario, v.laws, v.options, Budget(started + limit, limit))
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
    best = best_baseline(result.baselines, v.scenario.objective)
    row = _client_row(cid, v.scenario.objective, best, out["summary"], result.time_limit_hit)
    frames["clients"] = pd.DataFrame([row])
    return frames


def _with_client(cid: str, df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df.insert(0, "client_id", cid)
    return df


def _client_row(
    cid: str, goal: str, best: str | None, summary: pd.DataFrame, hit: bool
) -> dict[str, Any]:
    rows = {r["approach"]: r for r in summary.to_dict("records")}
    opt = rows["optimized"]
    sign = 1.0 if goal == "wealth" else -1.0
    status = str(opt["status"])
    row: dict[str, Any] = {
        "client_id": cid, "goal": goal, "status": status, "time_limit_hit": hit,
        "gap": opt["gap"], "objective_value": opt["objective_value"], "best_baseline": best,
        "best_baseline_value": rows[best]["objective_value"] if best else math.nan,
        "value_over_best_baseline": (
            sign * (opt["objective_value"] - rows[best]["objective_value"]) if best else math.nan
        ),
        "amt_paid": opt["amt_paid"],
    }  # fmt: skip
    for b in BASELINES:
        avoided = rows[b]["amt_paid"] - opt["amt_paid"] if b in rows else math.nan
        row[f"amt_avoided_vs_{b}"] = avoided
    row["plan_vs_exact"] = opt["plan_vs_exact"]
    for c in TIMING_COLUMNS:
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
# The batch: chunks, resume, summary
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
    value_over_best_baselines: float
    amt_avoided: dict[str, float]
    errors_by_stage: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Batch:
    """One book planned into one folder."""

    def __init__(self, book: Book, outdir: Path, options: Overrides, chunk_size: int | None = None):
        self.book, self.outdir, self.options = book, outdir, options
        self.chunk_size = chunk_size or default_chunk_size(len(book))
        n = len(book.clients)
        self.chunks = [book.clients[i : i + self.chunk_size] for i in range(0, n, self.chunk_size)]
        self.fingerprint = hashlib.sha256(
            json.dumps(
                [FORMAT_VERSION, book.fingerprint, asdict(options), self.chunk_size],
                sort_keys=True,
            ).encode()
        ).hexdigest()

    def marker(self, k: int) -> Path:
        return self.outdir / "_chunks" / f"{k:06d}.json"

    def part(self, table: str, k: int) -> Path:
        return self.outdir / table / f"part-{k:06d}.parquet"

    def prepare(self) -> None:
        """Create the folder or check that it holds this book's batch (InputError otherwise)."""
        manifest = self.outdir / "manifest.json"
        if self.outdir.exists() and not self.outdir.is_dir():
            raise InputError(f"{self.outdir}: exists and is not a folder")
        if manifest.exists():
            try:
                old = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"{manifest}: cannot read: {exc}") from None
            if old.get("fingerprint") != self.fingerprint:
                raise InputError(
                    f"{self.outdir}: holds the results of another book or other planning options "
                    f"(book {old.get('book')!r}, options {old.get('options')}); use a new folder "
                    "or delete this one"
                )
            return
        if self.outdir.exists() and any(self.outdir.iterdir()):
            raise InputError(f"{self.outdir}: not empty and not a batch folder (no manifest.json)")
        try:
            for sub in ("_chunks", *TABLES):
                (self.outdir / sub).mkdir(parents=True, exist_ok=True)
            _write_json(manifest, {
                "format": FORMAT_VERSION, "fingerprint": self.fingerprint,
                "book": str(self.book.path), "book_fingerprint": self.book.fingerprint,
                "options": asdict(self.options), "clients": len(self.book),
                "chunk_size": self.chunk_size, "chunks": len(self.chunks),
            })  # fmt: skip
        except OSError as exc:  # before any client is planned
            raise InputError(f"{self.outdir}: cannot write: {exc.strerror or exc}") from None

    def todo(self) -> list[int]:
        return [k for k in range(len(self.chunks)) if not self.marker(k).exists()]

    def run(
        self,
        engine: LocalPool | DaskEngine,
        progress: Callable[[int], None] | None = None,
        plan: PlanFn = plan_client,
        on_start: Callable[[int, int], None] | None = None,
    ) -> BatchSummary:
        """Plan every client of the chunks not done yet; `on_start(todo, done)` is told the
        number of clients before any work; `progress(n)` after every n clients."""
        self.prepare()
        todo = self.todo()
        remaining = sum(len(self.chunks[k]) for k in todo)
        if on_start is not None:
            on_start(remaining, len(self.book) - remaining)
        started = time.perf_counter()
        if todo:
            pending = {k: [None] * len(self.chunks[k]) for k in todo}
            left = {k: len(self.chunks[k]) for k in todo}
            offset = {k: k * self.chunk_size for k in todo}

            def deliver(index: int, frames: Frames) -> None:
                k = index // self.chunk_size
                pending[k][index - offset[k]] = frames
                left[k] -= 1
                if left[k] == 0:
                    self._write_chunk(k, pending.pop(k))
                if progress is not None:
                    progress(1)

            items = []
            for k in todo:
                for j, client in enumerate(self.chunks[k]):
                    if client.error is not None:  # nothing to plan: no worker needed
                        deliver(offset[k] + j, error_frames(client.client_id, "read", client.error))
                    else:
                        items.append((offset[k] + j, client))
            engine.plan = plan
            with engine:
                engine.run(items, plan, self.options, deliver)
            missing = self.todo()
            if missing:  # an engine that lost results is a bug, not a finished book
                raise RuntimeError(f"internal error: chunks {missing[:5]} were not written")
        seconds = time.perf_counter() - started
        summary = self.summary(engine, remaining, seconds)
        _write_json(self.outdir / "batch.json", summary.as_dict())
        return summary

    def _write_chunk(self, k: int, results: list[Frames | None]) -> None:
        rows: dict[str, int] = {}
        for table in TABLES:
            frames = [r[table] for r in results if r is not None and table in r]
            frames = [f for f in frames if not f.empty]
            if frames:
                df = pd.concat(frames, ignore_index=True)
            elif table in ("clients", "errors"):
                cols = CLIENT_COLUMNS if table == "clients" else ERROR_COLUMNS
                df = pd.DataFrame({c: [] for c in cols})
            else:
                self.part(table, k).unlink(missing_ok=True)
                rows[table] = 0
                continue
            write_table(df, self.part(table, k), {"chunk": str(k)}, schema_of(table, df))
            rows[table] = len(df)
        ids = [c.client_id for c in self.chunks[k]]
        _write_json(self.marker(k), {"chunk": k, "first": ids[0], "last": ids[-1], "rows": rows})

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
            value_over_best_baselines=round(
                float(clients["value_over_best_baseline"].sum()) if not clients.empty else 0.0, 2
            ),
            amt_avoided={
                b: round(float(clients[f"amt_avoided_vs_{b}"].sum()), 2) if not clients.empty
                else 0.0 for b in BASELINES
            },
            errors_by_stage={
                s: int((errors["stage"] == s).sum()) for s in STAGES
            } if not errors.empty else dict.fromkeys(STAGES, 0),
        )  # fmt: skip


def read_dataset(folder: Path) -> pd.DataFrame:
    """A table of a batch folder (all its parts, in chunk order); empty if it has no part."""
    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
