"""The `isoplan` command line, run as a real process (`python -m planner`).

Good input: every input format of `tax` (CSV, JSONL, Parquet) and every output format (Parquet with
its provenance metadata, CSV, JSONL, JSON), rows in input order with the documented columns and the
same numbers as the Python API; `crossover` from options, from the seed-story YAML and from a table;
`law`; `--help`.

Bad input: exit code 2, exactly one non-empty line on stderr naming the row and field (or the file,
column or option), no traceback, and no output file or temporary file left behind (run through
the same entry point in this process, `conftest.run_isoplan`: there are many cases).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_isoplan

from planner.household_taxes import compute_crossover, compute_tax
from planner.households import read_table

# Many tests here run isoplan as a subprocess: a hang fails instead of hanging CI.
pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parents[1]
SEED_STORY = ROOT / "scenarios" / "seed-story.yaml"

REQUIRED_TAX_COLUMNS = [
    "id", "year", "taxable_income", "regular_tax", "amti", "amt_exemption", "tmt", "amt", "niit",
    "mtc_allowed", "mtc_carryforward_out", "total_tax", "itemized", "projected",
]  # fmt: skip
MONEY_COLUMNS = [
    "wages", "ordinary_income", "qualified_dividends", "ltcg", "stcg", "iso_spread", "salt",
    "mortgage_interest", "charitable", "amt_credit_carryforward",
]  # fmt: skip

# Ids deliberately not sorted, so "input order" cannot pass by accident. zeta pays AMT on an ISO
# spread; alpha itemizes, owes NIIT and carries in an AMT credit; mid is a projected year.
HOUSEHOLDS: list[dict[str, Any]] = [
    {"id": "zeta", "year": 2026, "filing_status": "single", "wages": 200_000,
     "iso_spread": 150_000, "itemize": None},
    {"id": "alpha", "year": 2025, "filing_status": "mfj", "wages": 400_000,
     "qualified_dividends": 20_000, "ltcg": 50_000, "stcg": -3_000, "salt": 30_000,
     "mortgage_interest": 20_000, "charitable": 10_000, "itemize": True,
     "amt_credit_carryforward": 15_000},
    {"id": "mid", "year": 2027, "filing_status": "hoh", "wages": 90_000, "ordinary_income": 5_000,
     "itemize": False},
]  # fmt: skip

# Grants for `crossover` from a table; the first row is the seed story.
GRANTS: list[dict[str, Any]] = [
    {"id": "seed", "year": 2026, "filing_status": "single", "wages": 200_000,
     "strike": 1, "fmv": 51, "shares": 10_000},
    {"id": "couple", "year": 2026, "filing_status": "mfj", "wages": 350_000, "salt": 25_000,
     "strike": 2.5, "fmv": 30, "shares": 20_000, "amt_budget": 1_000},
    {"id": "small", "year": 2025, "filing_status": "single", "wages": 60_000,
     "strike": 1, "fmv": 3, "shares": 500},
]  # fmt: skip


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def isoplan(*args: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planner", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> Path:
    def cell(v: Any) -> str:
        if v is None:
            return ""
        return str(v).lower() if isinstance(v, bool) else str(v)

    lines = [",".join(columns)] + [",".join(cell(r.get(c, 0)) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    # Zero money fields are left out: a missing field must mean 0.
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, columns: dict[str, list[Any]]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def household_columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    keys = ["id", "year", "filing_status", "itemize", *MONEY_COLUMNS]
    cols: dict[str, list[Any]] = {k: [r.get(k, 0) for r in rows] for k in keys}
    cols["itemize"] = [r.get("itemize") for r in rows]
    for k in MONEY_COLUMNS:
        cols[k] = [float(v) for v in cols[k]]
    return cols


def write_households(path: Path) -> Path:
    if path.suffix == ".csv":
        return write_csv(
            path, HOUSEHOLDS, ["id", "year", "filing_status", *MONEY_COLUMNS, "itemize"]
        )
    if path.suffix == ".jsonl":
        return write_jsonl(path, HOUSEHOLDS)
    return write_parquet(path, household_columns(HOUSEHOLDS))


def read_output(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"id": str})
    if path.suffix == ".jsonl":
        return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    return pd.DataFrame(json.loads(path.read_text()))


def reference_tax(tmp_path: Path) -> pd.DataFrame:
    """The same households through the Python API, in process."""
    src = write_households(tmp_path / "reference.csv")
    out = compute_tax(read_table(src), source=src)
    src.unlink()
    return out


def assert_tax_matches(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert set(REQUIRED_TAX_COLUMNS) <= set(got.columns)
    assert [str(i) for i in got["id"]] == ["zeta", "alpha", "mid"]  # input order
    for col in REQUIRED_TAX_COLUMNS[1:]:
        assert list(got[col]) == pytest.approx(list(want[col]), abs=0.005), col
    zeta, alpha, mid = (got.iloc[i] for i in range(3))
    assert zeta["amt"] > 0 and zeta["tmt"] > zeta["regular_tax"]
    assert alpha["niit"] > 0 and bool(alpha["itemized"]) and not bool(mid["itemized"])
    assert [bool(p) for p in got["projected"]] == [False, False, True]


def files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


# ----------------------------------------------------------------------------------------------
# tax
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_tax_reads_each_input_format(tmp_path: Path, fmt: str) -> None:
    src = write_households(tmp_path / f"households.{fmt}")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "taxes.parquet"
    proc = ok(isoplan("tax", src, "-o", target, cwd=tmp_path))
    assert "wrote 3 rows" in proc.stderr
    assert files_under(out_dir) == {target}  # no temporary file left beside it
    assert_tax_matches(read_output(target), reference_tax(tmp_path))
    meta = pq.read_schema(target).metadata
    assert meta[b"isoplan.schema_version"] == b"1"
    assert meta[b"isoplan.version"].decode() == version("isoplan")
    assert meta[b"isoplan.projected_years"] == b"2027"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_tax_writes_each_output_format(tmp_path: Path, fmt: str) -> None:
    src = write_households(tmp_path / "households.csv")
    target = tmp_path / f"taxes.{fmt}"
    ok(isoplan("tax", src, "-o", target, cwd=tmp_path))
    assert files_under(tmp_path) == {src, target}
    assert_tax_matches(read_output(target), reference_tax(tmp_path))


def test_tax_json_on_stdout(tmp_path: Path) -> None:
    src = write_households(tmp_path / "households.jsonl")
    proc = ok(isoplan("tax", src, "--json", cwd=tmp_path))
    assert_tax_matches(pd.DataFrame(json.loads(proc.stdout)), reference_tax(tmp_path))
    assert "2027 is projected" in proc.stderr
    assert files_under(tmp_path) == {src}


def test_tax_table_on_stdout(tmp_path: Path) -> None:
    src = write_households(tmp_path / "households.parquet")
    proc = ok(isoplan("tax", src, cwd=tmp_path))
    assert all(name in proc.stdout for name in ("zeta", "alpha", "mid", "$"))
    assert proc.stdout.index("zeta") < proc.stdout.index("alpha") < proc.stdout.index("mid")


# ----------------------------------------------------------------------------------------------
# crossover
# ----------------------------------------------------------------------------------------------

SEED_OPTIONS = (
    "--year", "2026", "--filing-status", "single", "--wages", "200000",
    "--strike", "1", "--fmv", "51", "--shares", "10000",
)  # fmt: skip


def assert_is_crossover(r: dict[str, Any]) -> None:
    """The answer N keeps AMT within budget and N + 1 does not (unless every share fits)."""
    assert r["amt"] <= r["amt_budget"]
    if r["all_exercisable"]:
        assert r["all_shares_amt"] <= r["amt_budget"]
    else:
        assert r["next_shares"] == r["shares"] + 1
        assert r["next_amt"] > r["amt_budget"]
    assert r["spread"] == pytest.approx(r["shares"] * r["spread_per_share"], abs=0.01)


def test_crossover_options_and_seed_story_agree(tmp_path: Path) -> None:
    from_options = json.loads(
        ok(isoplan("crossover", *SEED_OPTIONS, "--json", cwd=tmp_path)).stdout
    )
    from_yaml = json.loads(ok(isoplan("crossover", SEED_STORY, "--json", cwd=tmp_path)).stdout)
    assert from_yaml["id"] == "seed-story" and from_options["id"] == "cli"
    assert {**from_options, "id": None} == {**from_yaml, "id": None}
    assert_is_crossover(from_yaml)
    assert 0 < from_yaml["shares"] < 10_000 and from_yaml["amt_before"] == 0
    assert from_yaml["projected"] is False


def test_crossover_options_override_the_yaml(tmp_path: Path) -> None:
    r = json.loads(
        ok(isoplan("crossover", SEED_STORY, "--wages", "100000", "--json", cwd=tmp_path)).stdout
    )
    seed = {"id": "x", "year": 2026, "filing_status": "single", "strike": 1, "fmv": 51}
    want = compute_crossover(pd.DataFrame([{**seed, "wages": 100_000, "shares": 10_000}])).iloc[0]
    assert r["shares"] == want["shares"] and r["regular_tax"] == want["regular_tax"]
    assert_is_crossover(r)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(SEED_OPTIONS, ["AMT crossover, 2026 (single", "Exercise"], id="options"),
        pytest.param(
            (SEED_STORY,), ["seed story", "AMT crossover, 2026", "Rule of thumb"], id="yaml"
        ),
    ],
)
def test_crossover_readable_output(
    tmp_path: Path, args: tuple[Any, ...], expected: list[str]
) -> None:
    proc = ok(isoplan("crossover", *args, cwd=tmp_path))
    for text in expected:
        assert text in proc.stdout


def test_crossover_table_of_households(tmp_path: Path) -> None:
    cols = ["id", "year", "filing_status", "wages", "salt", "strike", "fmv", "shares", "amt_budget"]
    src = write_csv(tmp_path / "clients.csv", GRANTS, cols)
    target = tmp_path / "crossover.parquet"
    rows = json.loads(ok(isoplan("crossover", src, "--json", "-o", target, cwd=tmp_path)).stdout)
    assert isinstance(rows, list) and [r["id"] for r in rows] == ["seed", "couple", "small"]
    for r in rows:
        assert_is_crossover(r)
    assert rows[1]["amt_budget"] == 1_000 and rows[2]["all_exercisable"] is True
    want = compute_crossover(read_table(src), source=src)
    assert rows == json.loads(want.to_json(orient="records", double_precision=15))
    written = pd.read_parquet(target)
    assert list(written["id"]) == ["seed", "couple", "small"]
    assert list(written["shares"]) == [r["shares"] for r in rows]
    assert pq.read_schema(target).metadata[b"isoplan.schema_version"] == b"1"
    assert files_under(tmp_path) == {src, target}


def test_crossover_table_readable_output(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "clients.jsonl", GRANTS)
    proc = ok(isoplan("crossover", src, cwd=tmp_path))
    assert proc.stdout.index("seed") < proc.stdout.index("couple") < proc.stdout.index("small")


# ----------------------------------------------------------------------------------------------
# law and help
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "projected"),
    [(("2026",), False), (("2030",), True), (("2030", "--json"), True)],
    ids=["2026", "2030", "2030-json"],
)
def test_law(tmp_path: Path, args: tuple[str, ...], projected: bool) -> None:
    proc = ok(isoplan("law", *args, cwd=tmp_path))
    if "--json" in args:
        doc = json.loads(proc.stdout)
        assert doc["year"] == 2030 and doc["projected"] is True and doc["values"]
        return
    assert f"Tax law {args[0]}" in proc.stdout
    assert ("projected" in proc.stdout) is projected
    if not projected:
        assert "data/federal/2026.yaml" in proc.stdout


@pytest.mark.parametrize("command", ["", "tax", "crossover", "law", "plan", "compare"])
def test_help_mentions_an_example(tmp_path: Path, command: str) -> None:
    proc = ok(isoplan(*filter(None, [command]), "--help", cwd=tmp_path))
    assert "Usage:" in proc.stdout
    # An indented example command line, e.g. "  isoplan tax households.csv -o taxes.parquet".
    examples = re.findall(r"^\s+isoplan (\w+) \S+", proc.stdout, flags=re.MULTILINE)
    assert examples and (not command or command in examples)
    if command:
        assert "Example" in proc.stdout


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------

CSV_HEAD = "id,year,filing_status,wages,salt,itemize\n"
CSV_ROW_A = "a,2026,single,100000,5000,\n"
GRANT_HEAD = "id,year,filing_status,wages,strike,fmv,shares\n"
GRANT_ROW_A = "a,2026,single,150000,1,20,1000\n"
JSONL_A = '{"id": "a", "year": 2026, "filing_status": "single", "wages": 100000}\n'


def _text(name: str, text: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path

    return make


def _bytes(name: str, make_bytes: Callable[[], bytes]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(make_bytes())
        return path

    return make


def _parquet(name: str, columns: dict[str, list[Any]]) -> Callable[[Path], Path]:
    return lambda folder: write_parquet(folder / name, columns)


def _parquet_bytes(columns: dict[str, list[Any]]) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue().to_pybytes()


PARQUET_OK = household_columns(HOUSEHOLDS)


@dataclass(frozen=True)
class Bad:
    id: str
    args: tuple[str, ...]  # {in} = the input file, {out} = the -o target
    expect: tuple[str, ...]  # substrings of the error line
    make: Callable[[Path], Path] | None = None
    out: str = "out/result.parquet"
    absent: tuple[str, ...] = field(default=())  # must not be in the error line


TAX = ("tax", "{in}", "-o", "{out}")
CROSSOVER = ("crossover", "{in}", "-o", "{out}")
GRANT_OPTIONS = ("crossover", "--filing-status", "single", "--strike", "1", "--fmv", "5")

BAD_CASES = [
    Bad(
        "unknown-filing-status",
        TAX,
        ("row 2", "(id=b)", "'filing_status'", "'widow'"),
        _text("h.csv", CSV_HEAD + CSV_ROW_A + "b,2026,widow,1,0,\n"),
    ),
    Bad(
        "negative-amount-jsonl",
        TAX,
        ("row 3", "(id=c)", "'wages'", "must not be negative"),
        # The blank line is skipped: rows count data rows, not lines.
        _text(
            "h.jsonl",
            JSONL_A
            + "\n"
            + JSONL_A.replace('"a"', '"b"')
            + JSONL_A.replace('"a"', '"c"').replace("100000", "-5"),
        ),
    ),
    Bad(
        "negative-amount-parquet",
        TAX,
        ("row 2", "(id=alpha)", "'charitable'", "got -1.5"),
        _parquet("h.parquet", {**PARQUET_OK, "charitable": [0.0, -1.5, 0.0]}),
    ),
    Bad(
        "negative-shares-csv",
        CROSSOVER,
        ("row 2", "(id=b)", "'shares'", "must not be negative"),
        _text("g.csv", GRANT_HEAD + GRANT_ROW_A + "b,2026,single,1,1,20,-10\n"),
    ),
    Bad(
        "negative-shares-option",
        (*GRANT_OPTIONS, "--shares", "-10", "-o", "{out}"),
        ("'--shares'", "-10", "not in the range 0<=x"),
    ),
    Bad(
        "fractional-shares-csv",
        CROSSOVER,
        ("row 3", "(id=c)", "'shares'", "whole number", "10.5"),
        _text("g.csv", GRANT_HEAD + GRANT_ROW_A * 2 + "c,2026,single,1,1,20,10.5\n"),
    ),
    Bad(
        "fractional-shares-option",
        (*GRANT_OPTIONS, "--shares", "10.5", "-o", "{out}"),
        ("'--shares'", "10.5"),
    ),
    Bad(
        "unknown-filing-status-option",
        ("crossover", "--filing-status", "widow", "--shares", "1", "-o", "{out}"),
        ("'--filing-status'", "widow"),
    ),
    Bad(
        "year-not-published-no-projection",
        (*TAX, "--no-projection"),
        ("row 2", "(id=b)", "'year'", "2031", "projection is off"),
        _text("h.csv", CSV_HEAD + CSV_ROW_A + "b,2031,single,1,0,\n"),
    ),
    Bad(
        "year-absurd",
        TAX,
        ("row 1", "(id=a)", "'year'", "99999999999999999999"),
        _text("h.jsonl", JSONL_A.replace("2026", "99999999999999999999")),
    ),
    Bad(
        "malformed-csv-extra-field",
        TAX,
        ("h.csv", "row 2", "7 fields where the header has 6 columns"),
        _text("h.csv", CSV_HEAD + CSV_ROW_A + "b,2026,single,1,0,,7\n"),
    ),
    Bad(
        "malformed-csv-first-row-extra-field",
        TAX,
        ("row 1", "5 fields where the header has 4 columns"),
        _text("h.csv", "id,year,filing_status,wages\nx,a,2026,single,100\n"),
    ),
    Bad(
        "truncated-csv",
        TAX,
        ("row 2", "3 fields where the header has 6 columns"),
        _text("h.csv", CSV_HEAD + CSV_ROW_A + "b,2026,sin"),
    ),
    Bad(
        "short-csv-row",
        TAX,
        ("row 2", "5 fields where the header has 6 columns"),
        _text("h.csv", CSV_HEAD + CSV_ROW_A + "b,2026,single,1,0\n"),
    ),
    Bad(
        "truncated-jsonl",
        TAX,
        ("h.jsonl", "line 2", "malformed JSON"),
        _text("h.jsonl", JSONL_A + JSONL_A[:30]),
    ),
    Bad(
        "truncated-parquet",
        TAX,
        ("h.parquet", "cannot read parquet"),
        _bytes("h.parquet", lambda: _parquet_bytes(PARQUET_OK)[:-100]),
    ),
    Bad(
        "missing-column-csv",
        TAX,
        ("missing column 'filing_status'",),
        _text("h.csv", "id,year,wages\na,2026,1\n"),
    ),
    Bad(
        "missing-column-parquet",
        TAX,
        ("missing column 'year'",),
        _parquet("h.parquet", {k: v for k, v in PARQUET_OK.items() if k != "year"}),
    ),
    Bad(
        "missing-grant-column",
        CROSSOVER,
        ("missing column 'fmv'",),
        _text("g.csv", "id,year,filing_status,strike,shares\na,2026,single,1,10\n"),
    ),
    Bad(
        "unknown-column-typo",
        TAX,
        ("unknown column 'wage'", "did you mean 'wages'"),
        _text("h.csv", "id,year,filing_status,wage\na,2026,single,1\n"),
    ),
    Bad("empty-csv", TAX, ("h.csv", "cannot read csv"), _text("h.csv", "")),
    Bad("header-only-csv", TAX, ("h.csv", "no rows"), _text("h.csv", CSV_HEAD)),
    Bad("empty-jsonl", TAX, ("h.jsonl", "no rows"), _text("h.jsonl", "")),
    Bad("empty-parquet", TAX, ("h.parquet", "cannot read parquet"), _bytes("h.parquet", bytes)),
    Bad(
        "non-numeric-money",
        TAX,
        ("row 2", "(id=b)", "'salt'", "expected a number", "'$5,000'"),
        _text("h.csv", CSV_HEAD + CSV_ROW_A + 'b,2026,single,1,"$5,000",\n'),
    ),
    Bad(
        "itemize-maybe",
        TAX,
        ("row 1", "(id=a)", "'itemize'", "'maybe'"),
        _text("h.csv", CSV_HEAD + CSV_ROW_A.replace(",\n", ",maybe\n")),
    ),
    Bad(
        # The input is bad too: the output type is refused before anything is read or computed.
        "unknown-output-extension",
        TAX,
        ("result.xlsx", "unknown output type '.xlsx'"),
        _text("h.csv", CSV_HEAD + "b,2026,widow,1,0,\n"),
        out="out/result.xlsx",
        absent=("filing_status", "row"),
    ),
    Bad(
        "output-folder-missing",
        TAX,
        ("nope", "does not exist"),
        lambda folder: write_households(folder / "h.csv"),
        out="nope/result.parquet",
    ),
    Bad(
        "input-missing",
        ("tax", "{in}", "-o", "{out}"),
        ("'INPUT'", "absent.csv", "does not exist"),
        lambda folder: folder / "absent.csv",
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in BAD_CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, case: Bad) -> None:
    (tmp_path / "out").mkdir()
    src = case.make(tmp_path) if case.make else None
    before = files_under(tmp_path)
    target = tmp_path / case.out
    args = [a.format(**{"in": src, "out": target}) for a in case.args]
    proc = run_isoplan(*args)  # in this process: the entry point's error handling, fast

    assert proc.code == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), proc.stderr
    line = lines[0]
    assert line.startswith("isoplan: error: ")
    assert "Traceback" not in proc.stderr
    assert "np.float64(" not in line and "np.int64(" not in line
    for text in case.expect:
        assert text in line
    for text in case.absent:
        assert text not in line
    assert proc.stdout == ""
    assert not target.exists()
    assert files_under(tmp_path) == before  # no output, no temporary file anywhere


def test_plan_with_scip_prints_only_its_json(tmp_path: Path) -> None:
    """SCIP's library writes some notices to standard output itself (below Python): none may
    reach it, or `--json` is no longer JSON. A subprocess, as a user runs it."""
    plan = ROOT / "scenarios" / "plan-seed-story.yaml"
    proc = ok(isoplan("plan", plan, "--solver", "scip", "--json", cwd=tmp_path))
    optimized = json.loads(proc.stdout)["summary"][0]
    assert (optimized["approach"], optimized["solver"]) == ("optimized", "scip")
    assert optimized["status"] == "optimal"
