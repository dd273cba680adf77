"""Careless and hostile input, one regression case per class (issue 15): each is refused with one
line naming the file, row or line, the field and why, exit code 2, nothing written; or, for a plan
that cannot be, its explanation and exit code 1. Never a traceback, never a silent $0, never NaN or
infinity in a result. `tests/test_fuzz.py` feeds the same readers random inputs.

The commands run in this process (`conftest.run_isoplan`): the cases cost milliseconds each.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Run, run_isoplan

from planner.law import last_projected_year, published_years
from planner.outputs import write_table

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "scenarios" / "plan-seed-story.yaml"
SEED = ROOT / "scenarios" / "seed-story.yaml"
BOOK = ROOT / "scenarios" / "book"

HEAD = "id,year,filing_status,wages,strike,fmv,shares\n"
ROW = "a,2026,single,200000,1,51,10000\n"

# A kilobyte of nested aliases: nine levels of nine references are 9^9 (387 million) values.
BOMB = (
    "a: &a ["
    + ", ".join(["lol"] * 9)
    + "]\n"
    + "".join(
        f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, k in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def one_line(run: Run, code: int = 2) -> str:
    """The run failed with `code` and said why in one line, and nothing else."""
    lines = run.stderr.splitlines()
    assert run.code == code, run.stderr
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stdout == ""
    return lines[0]


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # {in}: the input made by `make`; {out}: an output path
    expect: tuple[str, ...]  # in the error line
    make: Callable[[Path], Path] | None = None


def text(name: str, body: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).write_text(body, encoding="utf-8")
        return folder / name

    return make


def parquet(name: str, columns: dict[str, pa.Array | list[object]]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        pq.write_table(pa.table(columns), folder / name)
        return folder / name

    return make


def yaml_with(old: str, new: str, source: Path = PLAN) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        body = source.read_text(encoding="utf-8")
        assert old in body
        (folder / "s.yaml").write_text(body.replace(old, new), encoding="utf-8")
        return folder / "s.yaml"

    return make


GRANT_ROW = {
    "id": ["a"], "year": [2026], "filing_status": ["single"], "strike": [1.0], "fmv": [51.0],
    "shares": [10_000],
}  # fmt: skip
LAST = published_years()[-1]

CASES = [
    # 1. Numbers are finite and sane: NaN is not $0, in any format or option.
    Case("nan-csv", ("crossover", "{in}"), ("t.csv", "row 1", "'fmv'", "finite", "'nan'"),
         text("t.csv", HEAD + ROW.replace(",51,", ",nan,"))),
    Case("nan-jsonl", ("tax", "{in}"), ("t.jsonl", "row 1", "'wages'", "finite"),
         text("t.jsonl", '{"id": "a", "year": 2026, "filing_status": "single", "wages": NaN}\n')),
    Case("nan-parquet", ("crossover", "{in}"), ("t.parquet", "row 1", "'wages'", "finite"),
         parquet("t.parquet", {**GRANT_ROW, "wages": pa.array([float("nan")])})),
    Case("nan-option", ("crossover", "--filing-status", "single", "--wages", "nan", "--strike",
                        "1", "--fmv", "51", "--shares", "100"), ("'--wages'", "finite")),
    Case("na-text-csv", ("tax", "{in}"), ("row 1", "'wages'", "expected a number", "'NA'"),
         text("t.csv", "id,year,filing_status,wages\na,2026,single,NA\n")),
    Case("inf-csv", ("tax", "{in}"), ("row 1", "'wages'", "finite", "'inf'"),
         text("t.csv", "id,year,filing_status,wages\na,2026,single,1e999\n")),
    Case("huge-csv", ("crossover", "{in}"), ("row 1", "'wages'", "at most 10,000,000,000"),
         text("t.csv", HEAD + ROW.replace("200000", "1e308"))),
    Case("huge-price-csv", ("crossover", "{in}"), ("row 1", "'fmv'", "at most 100,000"),
         text("t.csv", HEAD + ROW.replace(",51,", ",1e6,"))),
    Case("huge-yaml", ("plan", "{in}"), ("s.yaml", "household.start_cash", "at most", "line"),
         yaml_with("start_cash: 120000", "start_cash: 1.0e+308")),
    Case("nan-yaml", ("plan", "{in}"), ("household.start_cash", "finite number"),
         yaml_with("start_cash: 120000", "start_cash: .nan")),
    Case("nan-set", ("plan", str(PLAN), "--set", "objective.discount_rate=.nan"),
         ("--set objective.discount_rate=.nan", "finite number")),
    Case("inf-time-limit", ("plan", str(PLAN), "--time-limit", "inf"), ("'--time-limit'",)),
    Case("nan-inflation", ("tax", str(ROOT / "scenarios" / "households.csv"), "--inflation",
                           "nan"), ("'--inflation'", "finite")),
    Case("days-overflow", ("plan", str(PLAN), "--set", "liquidity.lockup_days=99999999999"),
         ("liquidity.lockup_days", "at most 36,525")),
    # ... and tax years stop where a projection stops meaning anything.
    Case("year-far-law", ("law", "3000"), ("tax year 3000", f"only to {last_projected_year()}")),
    Case("year-far-table", ("tax", "{in}"), ("row 1", "'year'", "tax year 2500"),
         text("t.csv", "id,year,filing_status,wages\na,2500,single,1\n")),
    Case("year-far-plan", ("plan", str(PLAN), "--set", "horizon.first_year=2090"),
         ("horizon", f"only to {last_projected_year()}")),
    # ... and a cell is a number or text, not a list or a record, however deep.
    Case("list-cell-jsonl", ("tax", "{in}"), ("t.jsonl: line 1", "'wages'", "a number or text"),
         text("t.jsonl", '{"id": "a", "year": 2026, "filing_status": "single", "wages": [1]}\n')),
    Case("list-column-parquet", ("tax", "{in}"), ("t.parquet", "'wages'", "numbers or text"),
         parquet("t.parquet", {"id": ["a"], "year": [2026], "filing_status": ["single"],
                               "wages": pa.array([[1.0]])})),
    Case("deep-json", ("tax", "{in}"), ("t.json", "nested too deeply"),
         text("t.json", "[" * 100_000 + "]" * 100_000)),
    # ... and a field is given once: the last of two would win in silence.
    Case("column-twice", ("tax", "{in}"), ("t.csv", "column 'wages' appears twice"),
         text("t.csv", "id,year,filing_status,wages,wages\na,2026,single,1,2\n")),
    Case("key-twice", ("tax", "{in}"), ("t.jsonl: line 1", "key 'id' appears twice"),
         text("t.jsonl", '{"id": "a", "id": "b", "year": 2026, "filing_status": "single"}\n')),
    # 2. YAML is read safely and boundedly; dates are the program's to check.
    Case("alias-bomb-plan", ("plan", "{in}"), ("b.yaml", "100,000 values", "aliases"),
         text("b.yaml", BOMB)),
    Case("alias-bomb-crossover", ("crossover", "{in}"), ("b.yaml", "aliases"),
         text("b.yaml", BOMB)),
    Case("alias-to-itself", ("plan", "{in}"), ("an alias refers to a node that contains it",),
         text("b.yaml", "a: &a [1, *a]\n")),
    Case("deep-nesting", ("plan", "{in}"), ("cannot read YAML", "nest"),  # or libyaml's limit
         text("b.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n")),
    Case("big-integer", ("plan", "{in}"), ("cannot read YAML", "digits"),
         text("b.yaml", "a: " + "9" * 5000 + "\n")),
    Case("impossible-date-yaml", ("plan", "{in}"),
         ("liquidity.ipo_date", "'2028-02-30'", "day is out of range", "line"),
         yaml_with("2028-03-01", "2028-02-30")),
    Case("impossible-date-set", ("plan", str(PLAN), "--set", "liquidity.ipo_date=2026-02-30"),
         ("--set liquidity.ipo_date=2026-02-30", "day is out of range")),
    Case("date-out-of-range", ("plan", str(PLAN), "--set", "grants.0.grant_date=0001-01-01"),
         ("grants[0].grant_date", "between 1900-01-01 and 2200-12-31")),
    Case("set-not-yaml", ("plan", str(PLAN), "--set", "liquidity.ipo_date=[1,"),
         ("--set liquidity.ipo_date=[1,", "cannot read YAML")),
    # ... and a count of people aged 65 or over that no return has (§151(d)(5)(C)(ii)).
    Case("seniors-not-joint", ("tax", "{in}"),
         ("row 1", "'seniors'", "at most 1 unless filing_status is mfj", "got 2"),
         text("t.csv", "id,year,filing_status,wages,aged_blind,seniors\na,2026,single,1,2,2\n")),
    Case("seniors-over-aged-blind", ("plan", str(PLAN), "--set", "default.seniors=1"),
         ("default.seniors", "must not be more than aged_blind")),
    # 3. An output that cannot be written is refused before any work.
    Case("output-under-a-file", ("plan", str(PLAN), "-o", "{in}/plan"), ("cannot be made",),
         text("afile", "")),
    Case("output-file-under-a-file", ("tax", str(ROOT / "scenarios" / "households.csv"), "-o",
                                      "{in}/t.parquet"), ("does not exist",), text("afile", "")),
    Case("output-is-a-folder", ("tax", str(ROOT / "scenarios" / "households.csv"), "-o",
                                "{in}.parquet"), ("is a directory",),
         lambda folder: (folder / "d.parquet").mkdir() or folder / "d"),
]  # fmt: skip


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, case: Case) -> None:
    made = case.make(tmp_path) if case.make is not None else None
    before = files_under(tmp_path)
    started = time.perf_counter()
    run = run_isoplan(*(a.format(**{"in": made}) for a in case.args))
    line = one_line(run)
    assert time.perf_counter() - started < 5, "refused, but not before doing the work"
    assert line.startswith("isoplan: error: ")
    for part in case.expect:
        assert part in line
    assert files_under(tmp_path) == before


def test_an_output_that_cannot_be_written_is_refused_before_solving(tmp_path: Path) -> None:
    """/proc takes no new files, even from root (a mode 0555 folder would not stop root)."""
    started = time.perf_counter()
    line = one_line(run_isoplan("plan", PLAN, "--time-limit", "60", "-o", "/proc/isoplan-out"))
    assert "cannot write in /proc" in line
    assert time.perf_counter() - started < 2  # no baseline, model or solve ran


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_results_follow_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        run = run_isoplan("plan", PLAN, "-o", tmp_path / "plan")
        table = tmp_path / "t.csv"
        assert run_isoplan("tax", ROOT / "scenarios" / "households.csv", "-o", table).code == 0
    finally:
        os.umask(old)
    assert run.code == 0, run.stderr
    files = [table, *(tmp_path / "plan").iterdir()]
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o666 & ~umask}
    assert stat.S_IMODE((tmp_path / "plan").stat().st_mode) == 0o777 & ~umask


def test_a_new_plan_folder_appears_whole(tmp_path: Path) -> None:
    """Written under a temporary name and renamed: no `.plan.*` folder is left behind."""
    assert run_isoplan("plan", PLAN, "-o", tmp_path / "plan").code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]
    assert {p.name for p in (tmp_path / "plan").iterdir()} == {
        "actions.parquet", "years.parquet", "lots.parquet", "summary.parquet",
        "key_dates.parquet", "warnings.parquet", "forms.parquet", "windows.parquet",
        "scenario.parquet",
    }  # fmt: skip


def test_user_text_is_not_console_markup(tmp_path: Path) -> None:
    """A description (or an id) is printed as written: "[/bold]" in it is text, not a style."""
    doc = PLAN.read_text(encoding="utf-8").replace(
        "description: >-", "description: >-\n  [/bold] [red]", 1
    )
    (tmp_path / "s.yaml").write_text(doc, encoding="utf-8")
    run = run_isoplan("plan", tmp_path / "s.yaml")
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("[/bold] [red]")


def test_no_result_holds_an_infinity(tmp_path: Path) -> None:
    """The last guard: a figure that is infinite (which bounded input cannot make) is never
    written as if it were one."""
    with pytest.raises(RuntimeError, match="holds an infinity"):
        write_table(pd.DataFrame({"tax": [1.0, float("inf")]}), tmp_path / "t.parquet")
    assert list(tmp_path.iterdir()) == []


# 4. Plans that cannot be: the explanation in words, exit code 1.


def test_an_infeasible_plan_explains_itself(tmp_path: Path) -> None:
    run = run_isoplan("plan", PLAN, "--set", "household.cash_floor=110000", "--set",
                      "default.savings=-50000", "-o", tmp_path / "plan")  # fmt: skip
    assert run.code == 1
    assert "Traceback" not in run.stderr + run.stdout
    assert "No plan: even with no exercise or sale, cash falls below the floor in 2026" in (
        run.stdout
    )
    run = run_isoplan("plan", PLAN, "--set", "household.cash_floor=1e9", "--json")
    assert run.code == 1
    assert run.stderr.strip() == (
        "isoplan: no plan: the starting cash $120,000 is already below the cash floor "
        "$1,000,000,000"
    )


@pytest.mark.timeout(120)
def test_a_batch_names_the_stage_file_and_field(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    good = PLAN.read_text(encoding="utf-8")
    (book / "good.yaml").write_text(good, encoding="utf-8")
    (book / "date.yaml").write_text(good.replace("2028-03-01", "2028-02-30"), encoding="utf-8")
    (book / "poor.yaml").write_text(
        good.replace("cash_floor: 20000", "cash_floor: 10000000"), encoding="utf-8"
    )
    (book / "bomb.yaml").write_text(BOMB, encoding="utf-8")
    run = run_isoplan("batch", book, "-o", tmp_path / "out", "--workers", "1", "--quiet")
    # exit 1: the batch ran to its end, and 3 of its 4 clients could not be planned
    assert run.code == 1, run.stderr
    assert "3 of 4 clients could not be planned" in run.stderr
    errors = pd.read_parquet(tmp_path / "out" / "errors").set_index("client_id")
    assert dict(errors["stage"]) == {"bomb": "validate", "date": "validate", "poor": "plan"}
    assert errors.loc["date", "reason"].startswith("date.yaml: liquidity.ipo_date: expected a date")
    assert "is already below the cash floor" in errors.loc["poor", "reason"]


def test_book_cells_that_are_not_finite_fail_their_client_only(tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(BOOK, book)
    lines = (book / "clients.csv").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",607800.0,", ",nan,")  # c0's wages
    lines[2] = lines[2].replace(",0.028,", ",7,")  # c1's fmv_growth: 700% a year
    (book / "clients.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = run_isoplan("crossover", book, "--json")
    assert run.code == 0, run.stderr
    rows = pd.read_json(io.StringIO(run.stdout)).set_index("client_id")
    assert rows.loc["c0", "error"] == "clients: 'wages' must be a finite number"
    assert rows.loc["c1", "error"] == "clients: 'fmv_growth' must be between -0.5 and 1"
    assert (rows.drop(index=["c0", "c1"])["error"] == "").all()


@pytest.mark.parametrize("column", ["strike", "shares"])
def test_a_book_crossover_without_a_grants_column_fails_its_clients(
    tmp_path: Path, column: str
) -> None:
    book = tmp_path / "book"
    shutil.copytree(BOOK, book)
    grants = pd.read_csv(book / "grants.csv", dtype=str)
    grants.drop(columns=[column]).to_csv(book / "grants.csv", index=False)
    run = run_isoplan("crossover", book, "--json")
    assert run.code == 0, run.stderr
    rows = pd.read_json(io.StringIO(run.stdout))
    assert (rows["error"] == f"grants: '{column}' must be a number").all()
