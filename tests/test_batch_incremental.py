"""isoplan batch re-runs: only new or changed clients are planned again, the tables equal a run
from scratch, and a run killed at any step of a re-run loses or duplicates no row."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import run_isoplan
from test_book import ROOT, make_book

from planner.batch import (
    NUMBER_FIELDS,
    TABLES,
    TIMING_COLUMNS,
    Batch,
    client_exact,
    client_fingerprint,
    error_frames,
    plan_client,
    run_basis,
)
from planner.book import BOOK_COLUMNS, Client, read_book
from planner.errors import InputError
from planner.options import Overrides

ISOPLAN = shutil.which("isoplan", path=str(Path(sys.executable).parent)) or shutil.which("isoplan")
OPTIONS = Overrides(time_limit=30)
N = 19  # generated clients; "bad" (a grant's strike is "ten") makes 20

pytestmark = pytest.mark.timeout(120)


class Killed(BaseException):
    """kill -9: nothing after it runs (no handler catches a BaseException here)."""


class Inline:
    """An engine that plans in this process, one client after the other: no worker to start."""

    name, workers = "inline", 1

    def __init__(self) -> None:
        self.plan: Callable[[Client, Overrides], dict[str, pd.DataFrame]] = plan_client

    def __enter__(self) -> Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(self, items: Iterable[tuple[int, Client]], fn: Any, options: Overrides,
            deliver: Callable[[int, dict[str, pd.DataFrame]], None]) -> None:  # fmt: skip
        for key, client in items:
            deliver(key, fn(client, options))


@functools.cache
def _template() -> dict[str, pd.DataFrame]:
    """The tables of one real plan (every column the batch writes), for `fake_plan` to copy:
    one that acts in its first year (an `actions_due` row)."""
    return plan_client(read_book(ROOT / "scenarios" / "book").clients[1], OPTIONS)


FAKE_TABLES = ("clients", "actions", "years")  # those `actions_due` is made of


def fake_plan(client: Client, options: Overrides) -> dict[str, pd.DataFrame]:
    """A stand-in for plan_client without a solver: a real plan's tables with figures that follow
    the client's validated scenario and options (an errors row if it does not validate), and a
    timing column that never repeats."""
    if client.error is not None:
        return error_frames(client.client_id, "read", client.error)
    try:
        v = client.validated(options)
    except InputError as exc:
        return error_frames(client.client_id, "validate", str(exc))
    text = repr((v.scenario, v.options))
    value = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 100
    frames = {t: _template()[t].assign(client_id=client.client_id) for t in FAKE_TABLES}
    frames["clients"] = frames["clients"].assign(
        objective_value=value, gap=options.gap or 0.0, build_seconds=time.perf_counter()
    )
    frames["years"] = frames["years"].assign(extra_tax=value)
    return frames


def make(folder: Path, fix: bool = False, price: bool = False, add: bool = False,
         remove: bool = False, n: int = N) -> Path:  # fmt: skip
    """A small CSV book; the flags are the changes a firm makes between runs: the bad row fixed,
    a new 409A price for one client, a client added, one removed."""
    clients, grants = make_book.make_book(n, seed=5, horizon=2, grants=1)
    base = clients.iloc[0].to_dict()
    bad_grant = {**grants.iloc[0].to_dict(), "client_id": "bad", "strike": 1.5 if fix else "ten"}
    clients = pd.concat([clients, pd.DataFrame([{**base, "client_id": "bad"}])], ignore_index=True)
    grants = pd.concat([grants, pd.DataFrame([bad_grant])], ignore_index=True)
    if price:
        clients.loc[clients["client_id"] == "c03", "fmv"] *= 1.5
    if add:
        clients = pd.concat([clients, pd.DataFrame([{**base, "client_id": "c99", "fmv": 7.0}])])
        grants = pd.concat([grants, grants[grants["client_id"] == "c00"].assign(client_id="c99")])
    if remove:
        clients = clients[clients["client_id"] != "c07"]
        grants = grants[grants["client_id"] != "c07"]
    make_book.write_book(clients, grants, folder, csv=True)
    return folder


def run(book: Path, out: Path, plan: Any = plan_client, **kwargs: Any):
    job = Batch(read_book(book), out, kwargs.pop("options", OPTIONS), **kwargs)
    return job.run(Inline(), plan=plan), job


def tables(out: Path, timing: bool = False) -> dict[str, pd.DataFrame]:
    """Each table as pandas reads the dataset, sorted by client (stable: a client's rows keep
    their order), without the timing columns unless asked."""
    out_tables = {}
    for t in TABLES:
        path = out / t
        df = pd.read_parquet(path) if any(path.glob("*.parquet")) else pd.DataFrame()
        if not timing:
            df = df.drop(columns=[c for c in TIMING_COLUMNS if c in df.columns])
        if not df.empty:
            df = df.sort_values("client_id", kind="stable").reset_index(drop=True)
        out_tables[t] = df
    return out_tables


def assert_equal(a: Path, b: Path) -> None:
    ta, tb = tables(a), tables(b)
    for t in TABLES:
        pd.testing.assert_frame_equal(ta[t], tb[t], obj=t)


def assert_one_result_per_client(out: Path, book: Path) -> None:
    """Every client of the book in exactly one chunk's marker and one clients-or-errors row, and
    no file of a chunk without marker (nor a temporary file) left."""
    ids = sorted(c.client_id for c in read_book(book).clients)
    markers = {int(p.stem): json.loads(p.read_text()) for p in (out / "_chunks").glob("*.json")}
    assert sorted(cid for m in markers.values() for cid in m["clients"]) == ids
    t = tables(out)
    assert sorted([*t["clients"].get("client_id", []), *t["errors"].get("client_id", [])]) == ids
    for table in TABLES:
        for p in (out / table).iterdir():
            assert int(p.name.removeprefix("part-").removesuffix(".parquet")) in markers, p


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("books")
    return {
        "base": make(root / "base"),
        "fixed": make(root / "fixed", fix=True, price=True),
        "grown": make(root / "grown", fix=True, price=True, add=True, remove=True),
    }


@pytest.fixture(scope="module")
def planned(books: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Runs from scratch with the real planner, chunks of 4: the folders the tests re-run into
    (copies) and the references they are compared with."""
    root = tmp_path_factory.mktemp("planned")
    for name in ("base", "fixed"):
        run(books[name], root / name, chunk_size=4)
    return {name: root / name for name in ("base", "fixed")}


def copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "out"))


def test_a_rerun_of_the_same_book_plans_nothing(books, planned, tmp_path: Path) -> None:
    out = copy(planned["base"], tmp_path)

    def files() -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for t in TABLES for p in (out / t).iterdir()}

    before = files()
    summary, _ = run(books["base"], out, chunk_size=7)  # the chunking is not an input
    assert summary.planned_now == 0 and summary.changes == {"kept": 20, "replanned": 0,
                                                            "removed": 0}  # fmt: skip
    assert files() == before
    assert json.loads((out / "batch.json").read_text())["changes"]["kept"] == 20


def test_two_changed_clients_are_the_only_ones_planned_again(books, planned, tmp_path: Path):
    """A fixed row and a new price: 2 of 20 clients re-planned, the tables those of a run from
    scratch of the new book, and the other clients' rows the very rows of the first run (their
    timing columns included)."""
    out = copy(planned["base"], tmp_path)
    summary, _ = run(books["fixed"], out)
    assert summary.changes == {"kept": 18, "replanned": 2, "removed": 0}
    assert summary.planned_now == 2
    assert_equal(out, planned["fixed"])
    assert_one_result_per_client(out, books["fixed"])
    before, after = tables(planned["base"], timing=True), tables(out, timing=True)
    for t in TABLES:
        if before[t].empty:
            continue
        same = [df[~df["client_id"].isin(["bad", "c03"])].reset_index(drop=True)
                for df in (before[t], after[t])]  # fmt: skip
        pd.testing.assert_frame_equal(*same, obj=t)
    assert "bad" in set(before["errors"]["client_id"])
    assert "bad" in set(after["clients"]["client_id"])  # fixed: planned now


def test_an_added_and_a_removed_client(books, planned, tmp_path: Path) -> None:
    out = copy(planned["fixed"], tmp_path)
    summary, _ = run(books["grown"], out)
    assert summary.changes == {"kept": 19, "replanned": 1, "removed": 1}
    assert_one_result_per_client(out, books["grown"])
    scratch = tmp_path / "scratch"
    run(books["grown"], scratch, chunk_size=4)
    assert_equal(out, scratch)


def test_a_failed_client_is_planned_again_when_its_rows_move(books, planned, tmp_path: Path):
    """A row inserted above changes no plan, but the errors row names the bad client's file
    row: it alone is planned again (with the new row)."""
    book = shutil.copytree(books["base"], tmp_path / "copy" / "base")  # messages name the folder
    clients, grants = pd.read_csv(book / "clients.csv"), pd.read_csv(book / "grants.csv")
    clients = pd.concat([clients, clients.iloc[:1].assign(client_id="a0")], ignore_index=True)
    grants = pd.concat([grants.iloc[:1].assign(client_id="a0"), grants], ignore_index=True)
    clients.to_csv(book / "clients.csv", index=False)
    grants.to_csv(book / "grants.csv", index=False)
    out = copy(planned["base"], tmp_path)
    old = tables(out)["errors"].set_index("client_id").loc["bad", "reason"]
    summary, _ = run(book, out)
    assert summary.changes == {"kept": 19, "replanned": 2, "removed": 0}
    new = tables(out)["errors"].set_index("client_id").loc["bad", "reason"]
    row = int(old.split("grants.csv row ")[1].split(")")[0])
    assert new == old.replace(f"grants.csv row {row})", f"grants.csv row {row + 1})")


def test_fresh_and_other_options_plan_every_client_again(books, tmp_path: Path, monkeypatch):
    """--fresh plans every client again, and a --fresh run killed is finished by the next run
    even without --fresh; other options re-plan every client, once."""
    out = tmp_path / "out"
    run(books["fixed"], out, fake_plan, chunk_size=4)
    first, timed = tables(out), tables(out, timing=True)["clients"]["build_seconds"]
    summary, _ = run(books["fixed"], out, fake_plan, fresh=True)
    assert summary.changes == {"kept": 0, "replanned": 20, "removed": 0}
    assert_one_result_per_client(out, books["fixed"])
    assert not tables(out, timing=True)["clients"]["build_seconds"].isin(timed).any()
    for t, df in tables(out).items():
        pd.testing.assert_frame_equal(df, first[t], obj=t)
    write, written = Batch._write_chunk, []

    def killed_after_two(job: Batch, chunk: Any) -> None:
        if len(written) == 2:
            raise Killed
        written.append(write(job, chunk))

    with monkeypatch.context() as m, pytest.raises(Killed):
        m.setattr(Batch, "_write_chunk", killed_after_two)
        run(books["fixed"], out, fake_plan, fresh=True)
    summary, _ = run(books["fixed"], out, fake_plan)  # no --fresh: the rest of it
    assert summary.changes == {"kept": 8, "replanned": 12, "removed": 0}
    assert_one_result_per_client(out, books["fixed"])
    for t, df in tables(out).items():
        pd.testing.assert_frame_equal(df, first[t], obj=t)
    summary, _ = run(books["fixed"], out, fake_plan, options=Overrides(gap=1e-3))
    assert summary.changes == {"kept": 0, "replanned": 20, "removed": 0}
    assert set(tables(out)["clients"]["gap"]) == {1e-3}
    summary, _ = run(books["fixed"], out, fake_plan, options=Overrides(gap=1e-3))
    assert summary.changes == {"kept": 20, "replanned": 0, "removed": 0}


def test_a_folder_of_an_older_isoplan_is_planned_again(books, tmp_path: Path) -> None:
    """Markers without fingerprints (before re-runs): every client planned again, its chunk
    replaced, never a row twice."""
    out = tmp_path / "out"
    run(books["base"], out, fake_plan, chunk_size=4)
    for p in (out / "_chunks").glob("*.json"):
        m = json.loads(p.read_text())
        p.write_text(json.dumps({k: m[k] for k in ("chunk", "first", "last", "rows")}))
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({"format": "1", "fingerprint": "x", **{
        k: manifest[k] for k in ("book", "options", "clients", "chunk_size")}}))  # fmt: skip
    summary, _ = run(books["base"], out, fake_plan)
    assert summary.changes == {"kept": 0, "replanned": 20, "removed": 0}
    assert_one_result_per_client(out, books["base"])


@pytest.mark.parametrize("every", [pytest.param(1, marks=pytest.mark.slow), 11])
def test_killed_at_every_step_of_a_rerun_then_run_again(tmp_path: Path, monkeypatch, every: int):
    """The re-run of a changed book (a fixed row, a new price, a client added, one removed, a
    chunk whose clients all go) stopped before each of its file operations in turn (a rename
    into place or a deletion; the files and temporary files written until then stay, as after
    kill -9), then run again: the tables are always those of a run from scratch, one result per
    client, and the second run plans no client the first had no need to. Every 11th step by
    default (about 6 s), every step with the slow tests."""
    root = tmp_path / "books"
    old = make(root / "old", n=11)
    new = make(root / "new", n=11, fix=True, price=True, add=True, remove=True)
    for name in ("clients", "grants"):  # the chunk of c05, c06 and c07 goes whole
        df = pd.read_csv(new / f"{name}.csv")
        df[~df["client_id"].isin(["c05", "c06"])].to_csv(new / f"{name}.csv", index=False)
    scratch, base = tmp_path / "scratch", tmp_path / "base"
    run(new, scratch, fake_plan, chunk_size=3)
    run(old, base, fake_plan, chunk_size=3)
    full, _ = run(new, shutil.copytree(base, tmp_path / "full"), fake_plan, chunk_size=2)
    assert full.changes == {"kept": 7, "replanned": 3, "removed": 3}
    real_replace, real_unlink = os.replace, Path.unlink
    step = 0
    while True:
        out = tmp_path / f"out{step}"
        shutil.copytree(base, out)
        ops = 0

        def counted(real: Callable[..., Any], step: int = step) -> Callable[..., Any]:
            def op(path: Any, *args: Any, **kwargs: Any) -> Any:
                nonlocal ops
                if real is real_unlink and not Path(path).exists():
                    return None  # changes nothing: not a step
                ops += 1
                if ops > step:
                    raise Killed
                return real(path, *args, **kwargs)

            return op

        with monkeypatch.context() as m:
            m.setattr(os, "replace", counted(real_replace))
            m.setattr(Path, "unlink", counted(real_unlink))
            try:
                summary, _ = run(new, out, fake_plan, chunk_size=2)
            except Killed:
                summary = None
        if summary is not None:  # no step left to stop at
            break
        again, _ = run(new, out, fake_plan, chunk_size=2)
        assert again.changes["replanned"] <= 3
        assert_equal(out, scratch)
        assert_one_result_per_client(out, new)
        assert not [p for t in ("_chunks", *TABLES) for p in (out / t).glob(".*.tmp")]
        step += every
    assert step > 20


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_kill_9_during_a_rerun_then_run_again(books, planned, tmp_path: Path) -> None:
    """As a user: the CLI's re-run killed with its pool as soon as it replaced a chunk."""
    book = make(tmp_path / "book", fix=True)
    clients = pd.read_csv(book / "clients.csv")
    clients["fmv"] *= 1.1  # a new price for every client
    clients.to_csv(book / "clients.csv", index=False)
    out = copy(planned["base"], tmp_path)
    first = max(int(p.stem) for p in (out / "_chunks").glob("*.json"))
    cmd = [str(ISOPLAN), "batch", str(book), "-o", str(out), "--time-limit", "30",
           "--workers", "2", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if max(int(p.stem) for p in (out / "_chunks").glob("*.json")) > first:
                break
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if proc.returncode != -signal.SIGKILL:
        pytest.skip("the re-run finished before it could be killed")
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=200)
    assert again.returncode == 0, again.stderr
    assert "clients kept" in again.stderr
    scratch = tmp_path / "scratch"
    run(book, scratch)
    assert_equal(out, scratch)
    assert_one_result_per_client(out, book)


def test_cli_says_what_it_kept_and_removed_and_refuses_other_folders(books, planned, tmp_path):
    out = copy(planned["fixed"], tmp_path)
    book = shutil.copytree(books["fixed"], tmp_path / "copy" / "fixed")
    for name in ("clients", "grants"):
        df = pd.read_csv(book / f"{name}.csv")
        df[df["client_id"] != "c07"].to_csv(book / f"{name}.csv", index=False)
    result = run_isoplan("batch", book, "-o", out, "--time-limit", "30", "--quiet")
    assert result.code == 0, result.stderr
    assert f"{out}: 19 clients kept, 0 to plan, 1 removed" in result.stderr
    assert json.loads((out / "batch.json").read_text())["changes"] == {
        "kept": 19, "replanned": 0, "removed": 1}  # fmt: skip
    assert "c07" not in set(tables(out)["clients"]["client_id"])
    again = run_isoplan("batch", book, "-o", out, "--time-limit", "30", "--quiet")
    assert "all 19 clients are already planned; nothing to do" in again.stderr
    plan_folder = tmp_path / "plan"
    plan_folder.mkdir()
    (plan_folder / "summary.parquet").write_bytes(b"")
    other = run_isoplan("batch", book, "-o", plan_folder)
    assert other.code == 2 and other.stderr.count("\n") == 1
    assert "not a batch folder" in other.stderr
    (plan_folder / "manifest.json").write_text('{"kind": "something else"}')
    other = run_isoplan("batch", book, "-o", plan_folder)
    assert other.code == 2 and "not a batch folder" in other.stderr
    with pytest.raises(InputError, match="not a batch folder"):
        Batch(read_book(book), plan_folder, OPTIONS).prepare()


def test_a_number_is_the_same_input_however_a_table_holds_it() -> None:
    """20000, 20000.0 and "20000" in a number field (a CSV column made text by another row's
    bad cell) are one input; in a text field, or written another way ("2e4", which an integer
    field refuses), they are not; and the exact hash tells them all apart (an errors row quotes
    the value as written)."""
    text_fields = {c.path[-1] for cols in BOOK_COLUMNS.values() for c in cols
                   if c.path and c.type not in ("number", "integer")}  # fmt: skip
    assert "strike" in NUMBER_FIELDS and not NUMBER_FIELDS & text_fields

    def client(shares: object, grant_id: object = "g1") -> Client:
        return Client("c", "c", data={"grants": [{"id": grant_id, "shares": shares}]})

    basis = run_basis(OPTIONS)
    same = [client(20000), client(20000.0), client("20000"), client("20000.0"), client("+20000")]
    assert len({client_fingerprint(c, basis) for c in same}) == 1
    assert len({client_exact(c) for c in same}) == len(same)
    for other in (client("2e4"), client(20001), client(20000, 1), client(20000, "1.0")):
        assert client_fingerprint(other, basis) != client_fingerprint(same[0], basis)
    assert client_fingerprint(client(20000, 1), basis) != client_fingerprint(
        client(20000, 1.0), basis
    )
    assert run_basis(Overrides(time_limit=30)) == run_basis(Overrides(time_limit=30.0))
    assert run_basis(Overrides(time_limit=30)) != run_basis(Overrides(time_limit=30, gap=1e-3))
