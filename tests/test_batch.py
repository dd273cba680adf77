"""isoplan batch: fault isolation, determinism, kill -9 and resume, Dask equals the local pool."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask
import distributed  # noqa: F401  (its defaults join dask.config before a test sets one)
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from test_book import ROOT, make_book

from planner import batch as batch_module
from planner.batch import (
    TABLES,
    TIMED_STAGES,
    TIMING_COLUMNS,
    Batch,
    DaskEngine,
    LocalPool,
    plan_client,
    read_dataset,
)
from planner.book import Client, read_book
from planner.cli import cli
from planner.errors import EngineError
from planner.options import Overrides

# The installed console script (run as a user runs it: the working directory is not on its path).
ISOPLAN = shutil.which("isoplan", path=str(Path(sys.executable).parent)) or shutil.which("isoplan")
GOOD = 16  # generated clients; four poisoned ones are added

# Every test here starts processes or a cluster: a hang fails (with every thread's stack) after
# about 4 times the slowest one's time on a busy 2-core machine (~30 s), instead of hanging CI.
pytestmark = pytest.mark.timeout(120)


def faulty_plan(client: Client, options: Overrides) -> dict[str, pd.DataFrame]:
    """plan_client, except that one client kills its worker and another raises past it."""
    if client.client_id == "crash":
        os._exit(3)
    if client.client_id == "raise":
        raise RuntimeError("boom")
    return plan_client(client, options)


def quick_plan(client: Client, options: Overrides) -> dict[str, pd.DataFrame]:
    """A stand-in for plan_client without the solver: one client kills its worker, one hangs."""
    if client.client_id == "crash":
        os._exit(3)
    time.sleep(600 if client.client_id == "stuck" else 0.05)
    return {"clients": pd.DataFrame([{"client_id": client.client_id}])}


def _poisoned_book(folder: Path, extra: tuple[str, ...] = ()) -> Path:
    clients, grants = make_book.make_book(GOOD, seed=11, horizon=2, grants=1)
    base = clients.iloc[0].to_dict()
    poison = [
        {**base, "client_id": "bad-cell"},
        {**base, "client_id": "bad-record"},
        # must exercise 20,000 shares at $10 with $5,000 above its cash floor, and cannot sell
        # (a private company): infeasible
        {
            **base,
            "client_id": "broke",
            "start_cash": 30_000,
            "cash_floor": 25_000,
            "savings": 0,
            "ipo_date": None,
            "tender_date": None,
            "tender_price": None,
            "tender_max_shares": None,
        },
        *({**base, "client_id": cid} for cid in extra),
    ]
    g = {"record": "grant", "id": "g1", "type": "iso", "grant_date": "2021-01-01", "strike": 10,
         "shares": 20000, "cliff_months": 12, "vest_months": 48}  # fmt: skip
    more = [
        {**g, "client_id": "bad-cell", "strike": "ten"},
        {**g, "client_id": "bad-record", "record": "option"},
        {**g, "client_id": "broke", "required_exercise": 20000},
        *({**g, "client_id": cid} for cid in extra),
    ]
    clients = pd.concat([clients, pd.DataFrame(poison)], ignore_index=True)
    grants = pd.concat([grants, pd.DataFrame(more)], ignore_index=True)
    clients = pd.concat([clients, pd.DataFrame([{**base, "client_id": "shifted"}])])
    make_book.write_book(clients, grants, folder, csv=True)
    with (folder / "grants.csv").open("a") as f:  # a line with one field too many
        f.write("shifted,grant,g1,iso,2021-01-01,10,20000,12,48,monthly,,,,,,extra\n")
    return folder


def tables_of(outdir: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for t in TABLES:
        df = read_dataset(outdir / t)
        out[t] = df.drop(columns=[c for c in TIMING_COLUMNS if c in df.columns])
    return out


def assert_same_rows(a: Path, b: Path) -> None:
    """The same rows, client by client (a resumed chunk may come after later clients' chunks)."""
    ta, tb = tables_of(a), tables_of(b)
    for t in TABLES:
        same = [df.sort_values("client_id", kind="stable", ignore_index=True) if len(df) else df
                for df in (ta[t], tb[t])]  # fmt: skip
        pd.testing.assert_frame_equal(*same, obj=t)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _poisoned_book(tmp_path_factory.mktemp("book"))


@pytest.fixture(scope="module")
def clean(book: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean run with the local pool, the reference the other runs are compared with."""
    out = tmp_path_factory.mktemp("clean") / "out"
    Batch(read_book(book), out, Overrides(time_limit=30), chunk_size=4).run(LocalPool(2))
    return out


def test_clean_run_plans_every_good_client_and_reports_the_poisoned(clean: Path) -> None:
    t = tables_of(clean)
    assert len(t["clients"]) == GOOD and t["clients"]["client_id"].is_unique
    errors = t["errors"].set_index("client_id")
    assert sorted(errors.index) == ["bad-cell", "bad-record", "broke", "shifted"]
    assert "fields where the header has" in errors.loc["shifted", "reason"]
    assert errors.loc["bad-record", "stage"] == "read"
    assert "record: expected grant or lot, got 'option'" in errors.loc["bad-record", "reason"]
    assert errors.loc["bad-cell", "stage"] == "validate"
    assert "grants[0] (grants.csv row" in errors.loc["bad-cell", "reason"]
    assert errors.loc["broke", "stage"] == "plan"
    assert "not enough cash" in errors.loc["broke", "reason"]
    for name in ("actions", "years", "lots", "summary"):
        assert set(t[name]["client_id"]) <= set(t["clients"]["client_id"])
    assert set(t["years"]["client_id"]) == set(t["clients"]["client_id"])
    assert list(t["years"]["client_id"]) == sorted(t["years"]["client_id"])  # client-id order
    summary = json.loads((clean / "batch.json").read_text())
    assert summary["planned"] == GOOD and summary["failed"] == 4


@pytest.mark.slow  # workers killed, clusters and resumes: CI's second pass
def test_worker_crash_and_exception_are_isolated(tmp_path: Path) -> None:
    folder = _poisoned_book(tmp_path / "book", extra=("crash", "raise"))
    out = tmp_path / "out"
    summary = Batch(read_book(folder), out, Overrides(time_limit=30), chunk_size=4).run(
        LocalPool(2), plan=faulty_plan
    )
    errors = read_dataset(out / "errors").set_index("client_id")
    assert errors.loc["crash", "stage"] == "crash"
    assert "worker process died" in errors.loc["crash", "reason"]
    assert errors.loc["raise", "reason"] == "RuntimeError: boom"
    assert summary.planned == GOOD and summary.failed == 6
    assert summary.errors_by_stage == {
        "read": 2, "validate": 1, "plan": 1, "time_limit": 0, "crash": 2
    }  # fmt: skip


def test_same_rows_with_other_chunks_and_one_worker(book: Path, clean: Path, tmp_path: Path):
    Batch(read_book(book), tmp_path / "o", Overrides(time_limit=30), chunk_size=7).run(LocalPool(1))
    assert_same_rows(clean, tmp_path / "o")


@pytest.mark.slow  # workers killed, clusters and resumes: CI's second pass
def test_dask_local_cluster_equals_local_pool(book: Path, clean: Path, tmp_path: Path) -> None:
    summary = Batch(read_book(book), tmp_path / "dask", Overrides(time_limit=30), chunk_size=4).run(
        DaskEngine(workers=2)
    )
    assert summary.engine == "dask" and summary.workers == 2
    assert_same_rows(clean, tmp_path / "dask")


@pytest.mark.slow
def test_dask_isolates_a_client_that_kills_its_worker(tmp_path: Path) -> None:
    """Dask retries a task whose worker died, then gives up on it (KilledWorker); a group of
    clients is then planned one per task, so only the culprit fails."""
    folder = _poisoned_book(tmp_path / "book", extra=("crash", "raise"))
    engine = DaskEngine(workers=2)
    engine.group_size = 4
    summary = Batch(read_book(folder), tmp_path / "out", Overrides(time_limit=30)).run(
        engine, plan=faulty_plan
    )
    errors = read_dataset(tmp_path / "out" / "errors").set_index("client_id")
    assert "Dask worker died" in errors.loc["crash", "reason"]
    assert errors.loc["raise", "reason"] == "RuntimeError: boom"
    assert summary.planned == GOOD and summary.failed == 6


@pytest.mark.slow  # workers killed, clusters and resumes: CI's second pass
def test_dask_keeps_its_workers_and_their_results_while_a_client_kills_them() -> None:
    """A LocalCluster closes a nanny for good when no worker of its name is back
    `lost-worker-timeout` after one was lost: at 0 s every restart is caught, and without the
    engine's own setting every nanny closed and the batch waited forever. The results that a
    killed worker held are computed again, not read as failures ("NoneType: None")."""
    ids = [f"c{i:02d}" for i in range(40)]
    ids[13] = "crash"
    clients = [Client(cid, cid) for cid in ids]
    got: dict[int, dict[str, pd.DataFrame]] = {}
    engine = DaskEngine(workers=2)
    engine.group_size = 4
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "0s"}), engine:
        engine.run(enumerate(clients), quick_plan, Overrides(), got.__setitem__)
    assert sorted(got) == list(range(len(ids)))
    crash = got.pop(13)["errors"].iloc[0]
    assert crash["stage"] == "crash" and "Dask worker died" in crash["reason"]
    assert [f["clients"]["client_id"].item() for _, f in sorted(got.items())] == [
        cid for cid in ids if cid != "crash"
    ]


@pytest.mark.slow  # workers killed, clusters and resumes: CI's second pass
def test_dask_stops_the_batch_when_no_task_ends_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net: a cluster that returns nothing stops the batch, naming the clients."""
    monkeypatch.setattr(batch_module, "task_seconds", lambda clients, options: 3.0)
    engine = DaskEngine(workers=1)
    stall = r"no result in 3 s .* clients stuck; .* resume"
    with pytest.raises(EngineError, match=stall), engine:
        engine.run([(0, Client("stuck", "stuck"))], quick_plan, Overrides(), lambda k, f: None)


def test_the_wait_follows_each_clients_time_limit() -> None:
    """task_seconds: the options' time limit, else the client's own, else the default (60 s)."""
    table = Client("t", "t", data={"solver": {"time_limit": 300}})
    text = Client("y", "y.yaml", text="solver:\n  time_limit: '900'\n")
    bad = [Client("b", "b", data={"solver": {"time_limit": v}}) for v in (True, "ten", -1, None)]
    assert batch_module.task_seconds([table, text], Overrides(time_limit=10)) == 2 * (40 + 120)
    assert batch_module.task_seconds([table], Overrides()) == 4 * 300 + 120
    assert batch_module.task_seconds([text], Overrides()) == 4 * 900 + 120
    assert batch_module.task_seconds([Client("n", "n", text="[: bad")], Overrides()) == 360
    assert batch_module.task_seconds(bad, Overrides()) == 4 * 360


def _markers(out: Path) -> int:
    return len(list((out / "_chunks").glob("*.json"))) if (out / "_chunks").exists() else 0


@pytest.mark.slow  # workers killed, clusters and resumes: CI's second pass
@pytest.mark.timeout(420)  # up to 120 s for the first chunks, then two runs of up to 120 s
def test_kill_9_then_resume(book: Path, clean: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [str(ISOPLAN), "batch", str(book), "-o", str(out), "--time-limit", "30",
           "--chunk-size", "1", "--workers", "2", "--quiet"]  # fmt: skip
    chunks = GOOD + 4
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    try:
        while _markers(out) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the batch, its pool and the forkserver
        proc.wait()
    done = _markers(out)
    if proc.returncode != -signal.SIGKILL or done >= chunks:
        pytest.skip(f"the batch finished before it could be killed ({done} chunks)")
    assert not (out / "batch.json").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1, again.stderr  # the poisoned clients could not be planned
    assert "4 of 20 clients could not be planned" in again.stderr
    assert_same_rows(clean, out)
    for name in TABLES:  # no duplicated client: one part per chunk
        parts = sorted((out / name).glob("part-*.parquet"))
        assert len({p.name for p in parts}) == len(parts)
    finished = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 1
    assert "already planned; nothing to do" in finished.stderr
    assert_same_rows(clean, out)


@pytest.mark.slow  # workers killed, clusters and resumes: CI's second pass
def test_resume_redoes_a_chunk_without_its_marker(book: Path, clean: Path, tmp_path: Path):
    out = tmp_path / "out"
    job = Batch(read_book(book), out, Overrides(time_limit=30), chunk_size=4)
    job.run(LocalPool(1))
    job.marker(1).unlink()  # as if killed after the chunk's tables, before its marker
    (out / "clients" / "part-000002.parquet").unlink()
    job.marker(2).unlink()
    seen = []
    summary = job.run(LocalPool(1), on_start=lambda todo, done: seen.append((todo, done)))
    assert seen == [(8, GOOD + 4 - 8)]
    assert summary.planned_now == 8
    assert_same_rows(clean, out)


def test_the_clients_table_times_every_stage(clean: Path) -> None:
    """One column per stage (issue 19), each a real duration, every one a timing column (so the
    rows stay the same across runs)."""
    clients = read_dataset(clean / "clients")
    columns = [f"stage_{s}_seconds" for s in TIMED_STAGES]
    assert set(columns) <= set(TIMING_COLUMNS) <= set(clients.columns)
    stages = clients[columns].to_numpy()
    assert np.isfinite(stages).all() and (stages >= 0).all()
    assert (clients["stage_write_seconds"] > 0).all()  # each chunk's write, spread


def test_a_clients_stages_add_up_to_at_most_its_wall_time(book: Path) -> None:
    """The stages are laps of one stopwatch: together no longer than the client took."""
    client = next(c for c in read_book(book).clients if c.client_id == "c01")
    started = time.perf_counter()
    row = plan_client(client, Overrides(time_limit=30))["clients"].iloc[0]
    wall = time.perf_counter() - started
    timed = [row[f"stage_{s}_seconds"] for s in TIMED_STAGES if s != "write"]
    assert all(math.isfinite(t) and t >= 0 for t in timed)
    assert 0 < sum(timed) <= wall
    assert math.isnan(row["stage_write_seconds"])  # the batch writes the chunk, not the client
    solving = [row[f"stage_solve_{p}_seconds"] for p in ("phase1", "phase2", "phase3", "settle")]
    assert sum(solving) <= row["solve_seconds"]


def test_time_limit_is_a_result_not_an_error(monkeypatch: pytest.MonkeyPatch, book: Path):
    real = batch_module.run_plan

    def stopped(*args, **kwargs):
        result = real(*args, **kwargs)
        result.solve.status, result.time_limit_hit = "time_limit", True
        return result

    monkeypatch.setattr(batch_module, "run_plan", stopped)
    client = next(c for c in read_book(book).clients if c.client_id == "c00")
    frames = plan_client(client, Overrides(time_limit=5))
    assert "errors" not in frames
    row = frames["clients"].iloc[0]
    assert row["status"] == "time_limit" and bool(row["time_limit_hit"])


def test_cli_errors_are_one_line(book: Path, clean: Path, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ISOPLAN), "batch", *args], capture_output=True, text=True, timeout=120
        )

    (tmp_path / "plan").mkdir()  # another command's results
    (tmp_path / "plan" / "summary.parquet").write_bytes(b"")
    other = run(str(book), "-o", str(tmp_path / "plan"), "--time-limit", "5")
    assert other.returncode == 2
    assert other.stderr.count("\n") == 1 and "not a batch folder" in other.stderr
    both = run(str(book), "-o", str(tmp_path / "x"), "--scheduler", "tcp://127.0.0.1:1",
               "--dask-workers", "2")  # fmt: skip
    assert both.returncode == 2 and "not both" in both.stderr
    assert not (tmp_path / "x").exists()
    assert "Examples:" in CliRunner().invoke(cli, ["batch", "--help"]).output


def test_cli_json_summary(book: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["batch", str(book), "-o", str(tmp_path / "o"), "--workers", "2", "--json",
              "--time-limit", "30", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output  # a client that failed: a documented code
    assert "4 of 20 clients could not be planned" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["planned"] == GOOD and summary["failed"] == 4
    for totals in ("amt_paid_by_baseline", "value_over_baseline", "clients_by_baseline"):
        assert set(summary[totals]) == set(batch_module.BASELINES)
    assert summary["flat_prices"]["clients"] + summary["flat_prices"]["not_evaluated"] == GOOD
    assert (tmp_path / "o" / "actions_due" / "part-000000.parquet").is_file()


@pytest.mark.slow  # workers killed, clusters and resumes: CI's second pass
def test_a_planner_folder_in_the_working_directory_is_not_imported(tmp_path: Path) -> None:
    """The workers import the installed isoplan, not a `planner/` folder where the batch runs
    (Python 3.11's fork server starts in the working directory)."""
    decoy = tmp_path / "planner"
    decoy.mkdir()
    (decoy / "scenario.py").write_text("# not isoplan's: imports fine, defines nothing\n")
    folder = ROOT / "scenarios" / "book"
    result = subprocess.run(
        [str(ISOPLAN), "batch", str(folder), "-o", str(tmp_path / "out"), "--workers", "1",
         "--json", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["planned"] == 6
