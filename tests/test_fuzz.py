"""Fuzzed, not only listed: every reader fed random and mutated inputs (issue 15, item 6).

What is fuzzed (hypothesis; CI replays a derandomized profile, tests/conftest.py):
- household tables (CSV, JSONL, JSON, Parquet) for `isoplan tax` and `isoplan crossover`: cells
  set to NaN, infinities, huge or negative numbers, text, booleans, nulls, impossible years and
  filing statuses; columns and rows added, dropped or duplicated; Arrow types changed; the bytes
  truncated, cut or spliced with non-UTF-8 and delimiters;
- scenario YAML for `isoplan crossover` and `isoplan plan`: random values at random paths
  (.nan, .inf, 1e308, impossible dates, tags, lists, nulls, long text), unknown and known keys
  added, keys deleted, anchors and aliases (a billion laughs, an alias to itself), deep nesting,
  damaged YAML syntax;
- book tables (clients.csv, grants.csv) for `isoplan crossover BOOK` and a small `isoplan batch`;
- `--set PATH=VALUE` of `isoplan plan`, valid and invalid paths with random YAML values;
- the numeric options --wages, --shares, --aged-blind, --year, --inflation, --gap and
  --time-limit, with random text and floats.

Each run must, in bounded time (hypothesis' deadline) and memory (the process' peak RSS grows by
less than `MEMORY_GROWTH`; the worst inputs also run in a subprocess under RLIMIT_AS):
- either be refused: exit code 2, exactly one line on stderr, "isoplan: error: <reason>", no
  traceback, nothing on stdout, nothing written (no output, no temporary file left);
- or succeed: exit code 0, its `--json` output (and any file written with -o) holds no NaN and
  no infinity; a household table's results hold no null figure (a NaN in disguise: pandas writes
  NaN as null);
- `plan` may also find no plan: exit code 1 and the one line "isoplan: no plan: <reason>";
- `batch` never fails as a whole for a bad client: that client is an `errors` row, and the
  tables of the clients planned hold no NaN or infinity.

`test_found_by_fuzzing` keeps the smallest input of every failure the fuzzing found, so CI checks
them whatever examples it draws. `ISOPLAN_FUZZ_SCALE=10` tries ten times as many inputs.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import Run, run_isoplan
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from planner.households import GRANT_COLUMNS, HOUSEHOLD_COLUMNS
from planner.scenario import scenario_json_schema

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
ERROR = "isoplan: error: "
NO_PLAN = "isoplan: no plan: "
MEMORY_GROWTH = 1 << 30  # bytes of peak RSS the fuzzing may add to the process
PLAN_OPTIONS = ("--json", "--time-limit", "2")

# ISOPLAN_FUZZ_SCALE=10 pytest tests/test_fuzz.py tries ten times as many inputs (new ones each
# run locally; under CI's derandomized profile, the same ones each run).
SCALE = float(os.environ.get("ISOPLAN_FUZZ_SCALE", "1"))


def _examples(n: int) -> int:
    return max(1, round(n * SCALE))


FAST = settings(
    deadline=timedelta(seconds=5),
    # no explain phase: on a failure it reruns the example many times, to no use here
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ----------------------------------------------------------------------------------------------
# Running a command and judging its outcome
# ----------------------------------------------------------------------------------------------


def _max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


_RSS_AT_START = {"bytes": 0}


@pytest.fixture(autouse=True, scope="module")
def _memory_baseline() -> None:
    _RSS_AT_START["bytes"] = _max_rss()


def _run(*args: object) -> Run:
    """`isoplan ARGS` in this process; an exception escaping the entry point is a traceback the
    user would see, so it fails the example with the command line attached."""
    unraisable: list[str] = []
    hook = sys.unraisablehook
    sys.unraisablehook = lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value}")
    try:
        run = run_isoplan(*args)
    except BaseException as exc:  # anything escaping main() is a bug
        exc.add_note(f"isoplan {' '.join(map(str, args))}")
        raise
    finally:
        sys.unraisablehook = hook
    # Python prints these as "Exception ignored in ...", with a traceback, on stderr
    assert not unraisable, f"isoplan {' '.join(map(str, args))}: exception ignored: {unraisable}"
    grown = _max_rss() - _RSS_AT_START["bytes"]
    assert grown < MEMORY_GROWTH, f"peak memory grew by {grown / 2**20:.0f} MiB: {args}"
    return run


def _lines(text: str) -> list[str]:
    """Lines as a terminal or a log shows them."""
    return [line for line in text.replace("\r", "\n").split("\n") if line.strip()]


def _refuse_constant(name: str) -> Any:
    raise AssertionError(f"JSON output holds {name}")


def _finite(value: Any, where: str = "") -> None:
    """No NaN or infinity anywhere in parsed JSON (1e999 parses to infinity)."""
    if isinstance(value, float):
        assert math.isfinite(value), f"{where}: {value!r}"
    elif isinstance(value, dict):
        for k, v in value.items():
            _finite(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite(v, f"{where}[{i}]")


def _no_null_figures(rows: Any) -> None:
    """Household-table results: every field present, no null (a NaN figure in disguise)."""
    rows = rows if isinstance(rows, list) else [rows]
    for row in rows:
        nulls = [k for k, v in row.items() if v is None]
        assert not nulls, f"null figures {nulls} in {row}"


def _check_json(text: str) -> Any:
    data = json.loads(text, parse_constant=_refuse_constant)
    _finite(data)
    return data


def _check_parquet(path: Path) -> None:
    """No NaN or infinity in a written Parquet file or dataset's float columns (nulls are
    missing values, allowed)."""
    table = pq.read_table(path)
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_floating(column.type):
            bad = pc.any(pc.invert(pc.is_finite(column))).as_py()
            assert not bad, f"{path}: column {name!r} holds NaN or infinity"


def _check_csv(path: Path) -> None:
    """No 'nan' or 'inf' cell in a column of numbers (an empty cell is a missing value)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for name in df.columns:
        if name in ("id", "client_id"):
            continue
        cells = [c for c in df[name] if c != ""]
        numbers = []
        for c in cells:
            try:
                numbers.append(float(c))
            except ValueError:
                break
        else:
            assert all(math.isfinite(x) for x in numbers), f"{path}: column {name!r}: {cells}"


def _check_written(path: Path) -> None:
    suffix = path.suffix.lower()
    if path.is_dir():  # a plan's folder of tables
        tables = sorted(path.rglob("*.parquet"))
        assert tables, f"{path}: no tables written"
        for table in tables:
            _check_parquet(table)
    elif suffix == ".parquet":
        _check_parquet(path)
    elif suffix == ".csv":
        _check_csv(path)
    elif suffix == ".jsonl":
        for line in path.read_text(encoding="utf-8").splitlines():
            _check_json(line)
    else:
        _check_json(path.read_text(encoding="utf-8"))


def _listing(folder: Path) -> set[str]:
    return set(os.listdir(folder))


def _judge(
    run: Run,
    args: tuple[object, ...],
    folder: Path,
    before: set[str],
    *,
    output: Path | None = None,
    as_json: bool = True,
    null_free: bool = False,
    may_find_no_plan: bool = False,
) -> Any:
    """The outcome of one run: a clean refusal, a valid result, or (plan) no plan."""
    shown = f"isoplan {' '.join(map(str, args))}\nexit {run.code}\nstderr: {run.stderr[:2000]}"
    assert "Traceback" not in run.stderr + run.stdout, shown
    errors = _lines(run.stderr)
    if run.code == 2:
        assert len(errors) == 1, shown
        assert errors[0].startswith(ERROR) and errors[0][len(ERROR) :].strip(), shown
        assert run.stdout == "", shown
        assert _listing(folder) == before, f"{shown}\nleft: {_listing(folder) - before}"
        return None
    if run.code == 1 and may_find_no_plan:
        assert len(errors) == 1 and errors[0].startswith(NO_PLAN), shown
    else:
        assert run.code == 0, shown
    data = None
    if as_json:
        data = _check_json(run.stdout)
        if null_free and run.code == 0:
            _no_null_figures(data)
    elif output is None:
        assert run.stdout.strip(), shown  # the result, printed for people
    expected = set(before)
    if output is not None:
        assert output.exists(), f"{shown}\nnot written: {output}"
        _check_written(output)
        expected.add(output.name)
    assert _listing(folder) == expected, f"{shown}\nfolder: {_listing(folder) ^ expected}"
    return data


# ----------------------------------------------------------------------------------------------
# Nasty values
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digits:
    """A number of `n` nines, written unquoted (Python refuses to turn it into an int)."""

    n: int

    def __str__(self) -> str:
        return "9" * self.n


NAN, INF = float("nan"), float("inf")
NASTY_CELLS: list[Any] = [
    NAN, INF, -INF, 1e308, -1e308, 1.7976931348623157e308, 5e-324, -0.0, 0, -1, -0.01, 0.5,
    1e10, 1e10 + 1, 1e15, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, Digits(5000),
    "", " ", "NA", "N/A", "null", "None", "nan", "NaN", "inf", "-Infinity", "1e999", "-1e999",
    "abc", "1,000", "$5", "0x10", "1_000", "١٢٣", "1e5", " 7 ", "true", "false", True, False,
    None, 3000, 2026.5, 0, 1899, 1900, 2023, 2024, 2025, 2026, 2027, 2030, 2060, 2200, 9999,
    10000, -2026, "2026", "2026.0", "2026.5", "mfj", "MFJ", " single ", "married", "hoh", "mfs",
    "é", "a\nb", '"', ",", "\t", "x" * 300, "2026-02-30", "yes", -1e10, 9_999_999_999.99,
    10_000_000_001, 100_000, 100_000.01, 100_000_000, 100_000_001, 4, 5, 1e-9,
]  # fmt: skip
CELLS = st.one_of(
    st.sampled_from(NASTY_CELLS),
    st.sampled_from(NASTY_CELLS),
    st.sampled_from(NASTY_CELLS),
    st.floats(),
    st.integers(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
)
EXTRA_COLUMNS = ("foo", "Wages", "wages ", "", "id2", "amt_budget", "strike", "year ", "Unnamed")
BYTES = [b"\xff", b"\xfe\xff", b"\x00", b",", b"\n", b'"', b"\r", b"\xef\xbb\xbf", b"{", b"}",
         b"[", b"\\", b"\xc3", b",,,,", b"\n\n", b"nan", b":", b"'"]  # fmt: skip
BYTE_DAMAGE = st.sampled_from([0, 0, 0, 0, 1, 2]).flatmap(
    lambda n: st.lists(
        st.one_of(
            st.tuples(st.just("truncate"), st.floats(0, 1)),
            st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(BYTES)),
            st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 30)),
        ),
        min_size=n,
        max_size=n,
    )
)


def _damage(data: bytes, ops: list[tuple[Any, ...]]) -> bytes:
    for op in ops:
        at = int(op[1] * len(data))
        if op[0] == "truncate":
            data = data[:at]
        elif op[0] == "insert":
            data = data[:at] + op[2] + data[at:]
        else:
            data = data[:at] + data[at + op[2] :]
    return data


# ----------------------------------------------------------------------------------------------
# Tables: mutated rows written as CSV, JSONL, JSON or Parquet
# ----------------------------------------------------------------------------------------------


def _typed(cell: str) -> Any:
    """A CSV cell as the value a typed format would hold."""
    if cell == "":
        return None
    if cell in ("true", "false"):
        return cell == "true"
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [{k: _typed(v) for k, v in row.items()} for row in reader]
        return list(reader.fieldnames or []), rows


def _household_base(command: str) -> tuple[list[str], list[dict[str, Any]]]:
    """scenarios/households.csv with every column (and, for crossover, a grant per row)."""
    _, rows = _read_rows(SCENARIOS / "households.csv")
    columns = ["id", "year", "filing_status", *(c.name for c in HOUSEHOLD_COLUMNS), "itemize"]
    if command == "crossover":
        columns += [c.name for c in GRANT_COLUMNS]
    for i, row in enumerate(rows):
        row.setdefault("aged_blind", i % 3)
        row.update(strike=1 + i, fmv=51 + 3 * i, shares=10000 + 1000 * i, amt_budget=100 * i)
    return columns, [{c: row.get(c) for c in columns} for row in rows]


@st.composite
def _table_ops(draw: st.DrawFn, columns: list[str], rows: int) -> list[tuple[Any, ...]]:
    row = st.integers(0, rows - 1)
    op = st.one_of(
        st.tuples(st.just("set"), row, st.sampled_from(columns), CELLS),
        st.tuples(st.just("set"), row, st.sampled_from(columns), CELLS),
        st.tuples(st.just("set"), row, st.sampled_from(columns), CELLS),
        st.tuples(st.just("fill"), st.sampled_from(columns), CELLS),
        st.tuples(st.just("drop_column"), st.sampled_from(columns)),
        st.tuples(st.just("add_column"), st.sampled_from(EXTRA_COLUMNS), row, CELLS),
        st.tuples(st.just("drop_row"), row),
        st.tuples(st.just("duplicate_row"), row),
    )
    return draw(st.lists(op, max_size=4))


def _mutate_rows(
    columns: list[str], rows: list[dict[str, Any]], ops: list[tuple[Any, ...]]
) -> tuple[list[str], list[dict[str, Any]]]:
    columns, rows = list(columns), [dict(r) for r in rows]
    for op in ops:
        kind = op[0]
        if kind == "set" and rows and op[2] in columns:
            rows[op[1] % len(rows)][op[2]] = op[3]
        elif kind == "fill" and op[1] in columns:
            for r in rows:
                r[op[1]] = op[2]
        elif kind == "drop_column" and op[1] in columns:
            columns.remove(op[1])
            for r in rows:
                r.pop(op[1], None)
        elif kind == "add_column" and rows:
            if op[1] not in columns:
                columns.append(op[1])
            rows[op[2] % len(rows)][op[1]] = op[3]
        elif kind == "drop_row" and rows:
            del rows[op[1] % len(rows)]
        elif kind == "duplicate_row" and rows:
            rows.append(dict(rows[op[1] % len(rows)]))
    return columns, rows


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # nan, inf, -inf, 1e+308
    return str(value)


def _json_value(value: Any) -> str:
    return str(value) if isinstance(value, Digits) else json.dumps(value)  # NaN, Infinity


def _csv_bytes(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_text(r.get(c)) for c in columns])
    return buf.getvalue().encode("utf-8")


def _json_object(columns: list[str], row: dict[str, Any]) -> str:
    cells = (f"{json.dumps(c)}: {_json_value(row[c])}" for c in columns if c in row)
    return "{" + ", ".join(cells) + "}"


def _jsonl_bytes(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    return "".join(_json_object(columns, r) + "\n" for r in rows).encode("utf-8")


def _json_bytes(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    return ("[" + ",\n".join(_json_object(columns, r) for r in rows) + "]\n").encode("utf-8")


def _arrow(values: list[Any], retype: str) -> pa.Array:
    """A column as Arrow infers it (NaN stays NaN, None is null); mixed or out-of-range values
    as text; then possibly recast."""
    try:
        if any(isinstance(v, Digits) for v in values):
            raise TypeError
        array = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        array = pa.array([None if v is None else _text(v) for v in values], pa.string())
    try:
        if retype == "string":
            array = array.cast(pa.string())
        elif retype == "float32":
            array = array.cast(pa.float32())
        elif retype == "dictionary" and not pa.types.is_null(array.type):
            # (Parquet cannot write a dictionary of the null type: a column of empty cells.)
            array = array.dictionary_encode()
        elif retype == "large_string":
            array = array.cast(pa.large_string())
        elif retype == "latin-1":  # bytes, not text: 'é' is not UTF-8 there
            texts = [None if v is None else _text(v) for v in values]
            array = pa.array([t and t.encode("latin-1", "replace") for t in texts], pa.binary())
    except (pa.ArrowException, NotImplementedError):
        pass
    return array


def _parquet_bytes(
    columns: list[str], rows: list[dict[str, Any]], retypes: dict[str, str]
) -> bytes:
    arrays = {c: _arrow([r.get(c) for r in rows], retypes.get(c, "")) for c in columns}
    buf = io.BytesIO()
    pq.write_table(pa.table(arrays), buf)
    return buf.getvalue()


def _retypes(columns: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """Parquet columns given another Arrow type than the one inferred."""
    return st.dictionaries(
        st.sampled_from(columns),
        st.sampled_from(["string", "float32", "dictionary", "large_string", "latin-1"]),
        max_size=2,
    )


RETYPES = _retypes(["id", "year", "filing_status", "wages", "itemize", "shares", "aged_blind"])
FORMATS = ("csv", "jsonl", "json", "parquet")


def _table_bytes(
    fmt: str,
    columns: list[str],
    rows: list[dict[str, Any]],
    retypes: dict[str, str],
    damage: list[tuple[Any, ...]],
) -> bytes:
    if fmt == "parquet":
        data = _parquet_bytes(columns, rows, retypes)
    else:
        data = {"csv": _csv_bytes, "jsonl": _jsonl_bytes, "json": _json_bytes}[fmt](columns, rows)
    return _damage(data, damage)


OUTPUT_NAMES = [
    None, None, None, "out.parquet", "out.csv", "out.jsonl", "out.json", "out.PARQUET", "out.txt",
    "missing/out.csv", "households.csv",
]  # fmt: skip
OUTPUTS = st.sampled_from(OUTPUT_NAMES)


@pytest.mark.parametrize("command", ["tax", "crossover"])
@settings(FAST, max_examples=_examples(100))
@given(data=st.data())
def test_household_tables(command: str, data: st.DataObject) -> None:
    """`isoplan tax FILE` and `isoplan crossover FILE` on mutated household tables."""
    columns, rows = _household_base(command)
    fmt = data.draw(st.sampled_from(FORMATS), label="format")
    ops = data.draw(_table_ops(columns, len(rows)), label="ops")
    columns, rows = _mutate_rows(columns, rows, ops)
    retypes = data.draw(RETYPES, label="retypes") if fmt == "parquet" else {}
    damage = data.draw(BYTE_DAMAGE, label="damage")
    out_name = data.draw(OUTPUTS, label="output")
    as_json = data.draw(st.sampled_from([True, True, True, False]), label="json")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / f"households.{fmt}"
        path.write_bytes(_table_bytes(fmt, columns, rows, retypes, damage))
        before = _listing(folder)
        args: tuple[object, ...] = (command, path)
        if as_json:
            args += ("--json",)
        output = folder / out_name if out_name else None
        if output is not None:
            args += ("-o", output)
        run = _run(*args)
        _judge(run, args, folder, before, output=output, as_json=as_json, null_free=True)


# ----------------------------------------------------------------------------------------------
# Scenario YAML: a document tree mutated, then written as block YAML (and maybe damaged)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """YAML text written as is, where a value goes."""

    text: str


@dataclass(frozen=True)
class Anchored:
    name: str
    value: Any


def _laughs(levels: int = 9, width: int = 9) -> str:
    """A billion laughs in one flow sequence: level k holds `width` aliases of level k-1."""
    parts = ["&l0 [" + ", ".join(["lol"] * width) + "]"]
    for k in range(1, levels):
        parts.append(f"&l{k} [" + ", ".join([f"*l{k - 1}"] * width) + "]")
    return "[" + ", ".join(parts) + "]"


BOMB = _laughs()
SELF_ALIAS = "&self [1, *self]"
SELF_MAP = "&me {a: *me}"
DEEP = "[" * 5000 + "]" * 5000
DEEP_MAP = "{a: " * 70 + "1" + "}" * 70
WIDE = "[" + ", ".join(["1"] * 2_000) + "]"  # wider ones take seconds: see FOUND
HUGE_TEXT = '"' + "x" * (1 << 20) + '"'

NASTY_YAML = [
    ".nan", ".NaN", ".inf", "-.inf", "+.inf", "1e308", "-1e308", "1.0e+400", "1e999", "-1e999",
    "0", "-1", "0.5", "-0.0", "1e10", "10000000001", "1e-320", "99999999999999999999999",
    "9" * 5000, "2026-02-30", "0001-01-01", "9999-12-31", "2026-13-01", "1899-12-31",
    "1900-01-01", "2200-12-31", "2201-01-01", "2026-01-01T25:00:00", "2026-06-01 10:00:00",
    "2026-6-1", "2026-06-01", "2027-03-01", "2021-01-01", "null", "~", "", "true", "false", "yes",
    "no", "on", "'text'", '""', "[]", "{}", "[1, 2, 3]", "{a: 1}", "[2026, 2027]", "{2026: 5}",
    "single", "mfj", "mfs", "hoh", "iso", "nso", "stock", "monthly", "quarterly", "annual",
    "wealth", "min_tax", "highs", "cbc", "12:30:00", "0x1F", "0o17", "0b101", "1_000", "+1",
    ".5", "!!float nan", "!!float '1e999'", "!!int '3'", "!!str 5", "!!binary aGVsbG8=",
    "!!python/object/apply:os.system ['true']", "!!set {a, b}", "!!omap [a: 1]",
    "!!timestamp 2026-02-30", "!!null ''", "!!bool yes", "*undefined", "&x 5", "<<", "'a: b'",
    "a: b", "- x", "{", "]", "'unterminated", "%YAML 1.2", "?", "@", "`", "|", ">",
    '"\\ud800"', '"\\udbff\\udfff"', '"\\x07"', '"\\0"', '"\\N"', "\x85",
    "x" * 10_000, BOMB, SELF_ALIAS, SELF_MAP, DEEP, DEEP_MAP, WIDE, "[" + BOMB + ", *l8]",
]  # fmt: skip


def _scalar(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Digits):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, int | date):
        return str(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(str(value), ensure_ascii=False)


def _key_text(key: Any) -> str:
    if isinstance(key, str) and key.isidentifier():
        return key
    if isinstance(key, str | Raw):
        return _scalar(key) if isinstance(key, Raw) else json.dumps(key)
    return _scalar(key)


def _emit(node: Any, indent: int, prefix: str, out: list[str]) -> None:
    anchor = ""
    if isinstance(node, Anchored):
        anchor, node = f" &{node.name}", node.value
    pad = "  " * (indent + 1)
    if isinstance(node, dict) and node:
        out.append(prefix + anchor)
        for k, v in node.items():
            _emit(v, indent + 1, f"{pad}{_key_text(k)}:", out)
    elif isinstance(node, list) and node:
        out.append(prefix + anchor)
        for v in node:
            _emit(v, indent + 1, f"{pad}-", out)
    else:
        out.append(f"{prefix}{anchor} {_scalar(node)}")


def _yaml_text(doc: Any) -> str:
    if not isinstance(doc, dict) or not doc:
        return _scalar(doc) + "\n"
    out: list[str] = []
    for k, v in doc.items():
        _emit(v, 0, f"{_key_text(k)}:", out)
    return "\n".join(out) + "\n"


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value of the document (containers included)."""
    out = [prefix] if prefix else []
    if isinstance(node, Anchored):
        return out
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _delete(doc: Any, path: tuple[Any, ...]) -> None:
    del _get(doc, path[:-1])[path[-1]]


def _field_names() -> list[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "properties" and isinstance(v, dict):
                    names.update(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(scenario_json_schema())
    return sorted(names)


FIELDS = _field_names()
KEYS = st.one_of(
    st.sampled_from(FIELDS),
    st.sampled_from([2025, 2026, 2027, 2031, 2100, 0, -1, 10**20, "2027", "", "<<", "x", True]),
)
YAML_VALUES = st.one_of(
    st.sampled_from(NASTY_YAML).map(Raw),
    st.sampled_from(NASTY_YAML).map(Raw),
    st.sampled_from(NASTY_YAML).map(Raw),
    st.floats(),
    st.integers(),
    st.dates(min_value=date(1, 1, 1)),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.none(),
    st.lists(st.integers(-10, 3000), max_size=3),
    st.dictionaries(st.sampled_from(FIELDS), st.integers(-10, 100_000), max_size=2),
)
YAML_CHARS = [":", "-", "[", "{", "]", "}", "&a", "*a", "!", "|", ">", "'", '"', "\t", "%", "@",
              "`", "#", "\n", "  ", ",", "?", "\x00", "\ufeff", "\u2028"]  # fmt: skip


FACTORS = [0, -1, 0.5, 0.9, 1.1, 1.5, 2, 3, 10, 100, 10_000, 1e6]
DAY_SHIFTS = [-3650, -730, -365, -91, -90, -1, 1, 31, 89, 90, 365, 366, 730, 3650, 36500]
CHOICES = [
    ["single", "mfj", "mfs", "hoh"], ["iso", "nso", "stock"],
    ["monthly", "quarterly", "annual"], ["wealth", "min_tax"], ["highs", "cbc"],
]  # fmt: skip


def _nudge(value: Any, k: int) -> Any:
    """A value of the same kind, moved: a number scaled, a date shifted, a word swapped for
    another of its field, a flag flipped."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        moved = value * FACTORS[k % len(FACTORS)]
        return round(moved) if isinstance(value, int) and moved == round(moved) else moved
    if isinstance(value, date):
        try:
            return value + timedelta(days=DAY_SHIFTS[k % len(DAY_SHIFTS)])
        except OverflowError:
            return value
    for words in CHOICES:
        if value in words:
            return words[k % len(words)]
    return value


@st.composite
def _gentle_ops(draw: st.DrawFn, doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Changes that mostly keep a document valid, so the computation behind the reader runs on
    odd but plausible inputs."""
    leaves = [p for p in _paths(doc) if not isinstance(_get(doc, p), dict | list)]
    op = st.one_of(
        st.tuples(st.just("nudge"), st.sampled_from(leaves), st.integers(0, 100)),
        st.tuples(st.just("nudge"), st.sampled_from(leaves), st.integers(0, 100)),
        st.tuples(st.just("delete"), st.sampled_from(leaves)),
    )
    return draw(st.lists(op, max_size=3))


@st.composite
def _doc_ops(draw: st.DrawFn, doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    paths = _paths(doc)
    path = st.sampled_from(paths)
    op = st.one_of(
        st.tuples(st.just("set"), path, YAML_VALUES),
        st.tuples(st.just("set"), path, YAML_VALUES),
        st.tuples(st.just("set"), path, YAML_VALUES),
        st.tuples(st.just("delete"), path),
        st.tuples(st.just("add"), st.sampled_from([(), *paths]), KEYS, YAML_VALUES),
        st.tuples(st.just("alias"), path, path),
    )
    return draw(st.lists(op, min_size=1, max_size=3))


def _mutate_doc(doc: dict[str, Any], ops: list[tuple[Any, ...]]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for n, op in enumerate(ops):
        try:
            if op[0] == "set":
                _set(doc, op[1], op[2])
            elif op[0] == "nudge":
                _set(doc, op[1], _nudge(_get(doc, op[1]), op[2]))
            elif op[0] == "delete":
                _delete(doc, op[1])
            elif op[0] == "add":
                target = _get(doc, op[1])
                if isinstance(target, dict):
                    target[op[2]] = op[3]
                elif isinstance(target, list):
                    target.append(op[3])
            else:  # an anchor on one value, an alias to it at another path
                name = f"a{n}"
                _set(doc, op[1], Anchored(name, _get(doc, op[1])))
                _set(doc, op[2], Raw(f"*{name}"))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier op removed or replaced the path
    return doc


TEXT_DAMAGE = st.sampled_from([0, 0, 0, 0, 0, 1, 2]).flatmap(
    lambda n: st.lists(
        st.one_of(
            st.tuples(st.just("truncate"), st.floats(0, 1)),
            st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(YAML_CHARS)),
            st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 20)),
            st.tuples(st.just("duplicate_line"), st.floats(0, 1)),
            st.tuples(st.just("bytes"), st.floats(0, 1), st.sampled_from(BYTES)),
        ),
        min_size=n,
        max_size=n,
    )
)


def _damage_text(text: str, ops: list[tuple[Any, ...]]) -> bytes:
    data = text.encode("utf-8")
    for op in ops:
        at = int(op[1] * len(data))
        if op[0] == "insert":
            data = data[:at] + op[2].encode("utf-8") + data[at:]
        elif op[0] == "bytes":
            data = data[:at] + op[2] + data[at:]
        elif op[0] == "duplicate_line":
            lines = data.split(b"\n")
            i = int(op[1] * (len(lines) - 1))
            data = b"\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
        else:
            data = _damage(data, [op])
    return data


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((SCENARIOS / name).read_text(encoding="utf-8"))


CROSSOVER_DOC = _load("seed-story.yaml")
PLAN_DOCS = {
    name: _load(name)
    for name in (
        "plan-seed-story.yaml",
        "plan-tender-offer.yaml",
        "plan-departure.yaml",
        "plan-multi-grant.yaml",
        "whatif/paths-ipo.yaml",
    )
}
WHOLE_DOCS = [
    b"", b"null", b"[]", b"5", b"---\na: 1\n---\nb: 2\n", b"\xef\xbb\xbf", b"\xff\xfe",
    BOMB.encode(), SELF_MAP.encode(), DEEP.encode(), b"a: " + HUGE_TEXT.encode(),
    b"household: " + BOMB.encode() + b"\ngrant: {}\n", b"*x", b"&a [*a]",
    b"household: &h {year: 2026}\ngrant: *h\n", b"%TAG ! tag:x,2000:\n--- !foo 1\n",
]  # fmt: skip


def _yaml_case(data: st.DataObject, doc: dict[str, Any]) -> bytes:
    """A scenario's text: gently changed (half the time), or rough: random values and keys,
    aliases, damaged syntax, or a whole document of its own."""
    if data.draw(st.booleans(), label="gentle"):
        return _yaml_text(_mutate_doc(doc, data.draw(_gentle_ops(doc), label="ops"))).encode()
    if data.draw(st.integers(0, 9), label="whole") == 0:
        return data.draw(st.sampled_from(WHOLE_DOCS), label="document")
    ops = data.draw(_doc_ops(doc), label="ops")
    text = _yaml_text(_mutate_doc(doc, ops))
    return _damage_text(text, data.draw(TEXT_DAMAGE, label="damage"))


@settings(FAST, max_examples=_examples(150))
@given(data=st.data())
def test_crossover_yaml(data: st.DataObject) -> None:
    """`isoplan crossover EXAMPLE.yaml --json` on mutated examples."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "example.yaml"
        path.write_bytes(_yaml_case(data, CROSSOVER_DOC))
        before = _listing(folder)
        args: tuple[object, ...] = ("crossover", path, "--json")
        out_name = data.draw(OUTPUTS, label="output")
        output = folder / out_name if out_name else None
        if output is not None:
            args += ("-o", output)
        _judge(_run(*args), args, folder, before, output=output, null_free=True)


@settings(FAST, max_examples=_examples(40))
@given(data=st.data())
def test_plan_yaml(data: st.DataObject) -> None:
    """`isoplan plan SCENARIO.yaml --json` on mutated scenarios (a plan found or not)."""
    name = data.draw(st.sampled_from(sorted(PLAN_DOCS)), label="base")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "scenario.yaml"
        path.write_bytes(_yaml_case(data, PLAN_DOCS[name]))
        before = _listing(folder)
        args: tuple[object, ...] = ("plan", path, *PLAN_OPTIONS)
        output = folder / "plan" if data.draw(st.booleans(), label="-o") else None
        if output is not None:
            args += ("-o", output)
        _judge(_run(*args), args, folder, before, output=output, may_find_no_plan=True)


# ----------------------------------------------------------------------------------------------
# --set PATH=VALUE
# ----------------------------------------------------------------------------------------------

SEED_PLAN = SCENARIOS / "plan-seed-story.yaml"
FIELD_SETS = [
    "household.start_cash", "household.cash_floor", "household.filing_status",
    "household.amt_credit_carryforward", "horizon.first_year", "horizon.years", "default.wages",
    "default.savings", "default.bonus", "default.ltcg", "wage_growth", "prices.2026",
    "prices.2027", "prices.2027.fmv", "prices.2027.exercise_date", "prices.2028.sale_date",
    "prices.2031", "grants.0.strike", "grants.0.shares", "grants.0.grant_date",
    "grants.0.vesting.every", "grants.0.vesting.start", "grants.0.vesting.months",
    "grants.0.vesting.cliff_months", "grants.0.type", "grants.0.expiry",
    "grants.0.termination_date", "grants.0.exercised", "grants.0.fmv_at_grant", "grants.0",
    "grants", "liquidity.ipo_date", "liquidity.lockup_days", "liquidity.tender_offers",
    "liquidity", "objective.goal", "objective.terminal_price", "objective.credit_value",
    "objective.discount_rate", "objective.terminal_tax_rate", "objective.required_exercise",
    "years.2027.wages", "years.2026", "years.2028.itemize", "lots", "paths", "robust",
    "description", "solver.gap", "solver.share_step", "tax_law.inflation", "tax_law.projection",
]  # fmt: skip
BAD_SETS = [
    "", ".", "a..b", "grants.-1.strike", "grants.x", "household.wages", "prices.2027.fmv.x",
    "description.x", "=", "prices.0", "prices.-2027", "prices.99999999999", "horizon.years.0",
    "grants.00.strike", "grants.0.strike.0", "grants.1.strike", "tax_law.x", " household.x",
    "household .start_cash", "prices.2027\n.fmv",
]  # fmt: skip
PLAUSIBLE = [
    "0", "1", "2", "3", "12", "40", "41", "100", "1000", "5000", "100000", "250000", "1e6", "0.5",
    "0.05", "-0.5", "-5", "2026", "2027", "2028-06-01", "2026-01-01", "2029-03-01", "2027-02-29",
    "2024-02-29", "2020-01-01", "null", "true", "false", "mfj", "hoh", "nso", "stock", "annual",
    "quarterly", "min_tax", "cbc", "[]", "{}", "{fmv: 80}", "{iso: 100}", "1e10", "1e5", "1e8",
]  # fmt: skip
SET_PATH = st.one_of(
    st.sampled_from(BAD_SETS),
    st.lists(
        st.one_of(st.sampled_from(FIELDS), st.integers(-1, 2030).map(str)), min_size=1, max_size=4
    ).map(".".join),
    st.text(max_size=15),
)
SET_VALUE = st.one_of(
    st.sampled_from(NASTY_YAML),
    st.floats().map(repr),
    st.integers().map(str),
    st.dates(min_value=date(1, 1, 1)).map(str),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=15),
)
SETS = st.one_of(
    st.tuples(st.sampled_from(FIELD_SETS), st.sampled_from(PLAUSIBLE)),
    st.tuples(st.sampled_from(FIELD_SETS), st.sampled_from(PLAUSIBLE)),
    st.tuples(st.sampled_from(FIELD_SETS), SET_VALUE),
    st.tuples(SET_PATH, SET_VALUE),
)


@settings(FAST, max_examples=_examples(60))
@given(sets=st.lists(SETS, min_size=1, max_size=3))
def test_set_overrides(sets: list[tuple[str, str]]) -> None:
    """`isoplan plan scenarios/plan-seed-story.yaml --set PATH=VALUE --json`."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        before = _listing(folder)
        args: tuple[object, ...] = ("plan", SEED_PLAN, *PLAN_OPTIONS)
        for path, value in sets:
            args += ("--set", f"{path}={value}")
        _judge(_run(*args), args, folder, before, may_find_no_plan=True)


# ----------------------------------------------------------------------------------------------
# Numeric options
# ----------------------------------------------------------------------------------------------

NASTY_NUMBERS = [
    "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e308", "-1e308", "1e999", "-1e999", "-0",
    "0", "-0.0", "0.1", "0.09999", "1", "86400", "86400.0001", "1e-320", "0x10", "1_000", "",
    " ", "abc", "2026", "2026.5", "99999999999999999999", "-1", "0.5", "1.0", "−1", "٣", "１２",
    "1e5", "2.5e-2", "1e10", "10000000001", "0.99999999", "1e-300", "-0.5", "-0.50001", "1.0001",
    " 3 ", "3\n", "9" * 5000,
]  # fmt: skip
NUMBER_TEXT = st.one_of(
    st.sampled_from(NASTY_NUMBERS),
    st.sampled_from(NASTY_NUMBERS),
    st.floats().map(repr),
    st.integers().map(str),
    st.text(max_size=8),
)


@settings(FAST, max_examples=_examples(120))
@given(
    option=st.sampled_from(
        [
            "--wages",
            "--strike",
            "--fmv",
            "--shares",
            "--aged-blind",
            "--year",
            "--inflation",
            "--amt-budget",
            "--amt-credit-carryforward",
            "--ltcg",
        ]
    ),
    value=NUMBER_TEXT,
)
def test_crossover_options(option: str, value: str) -> None:
    """`isoplan crossover` of one household given on the command line, one option fuzzed."""
    given_ = {"--year": "2026", "--wages": "200000", "--strike": "1", "--fmv": "51",
              "--shares": "10000"}  # fmt: skip
    given_[option] = value
    args: tuple[object, ...] = ("crossover", "--filing-status", "single", "--json")
    args += tuple(f"{k}={v}" for k, v in given_.items())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _judge(_run(*args), args, folder, _listing(folder), null_free=True)


@settings(FAST, max_examples=_examples(30))
@given(value=NUMBER_TEXT)
def test_tax_inflation(value: str) -> None:
    """`isoplan tax scenarios/households.csv --inflation X --json` (2027 is projected)."""
    args = ("tax", SCENARIOS / "households.csv", f"--inflation={value}", "--json")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _judge(_run(*args), args, folder, _listing(folder), null_free=True)


@settings(FAST, max_examples=_examples(30))
@given(
    option=st.sampled_from(["--gap", "--time-limit", "--inflation"]),
    value=NUMBER_TEXT,
)
def test_plan_options(option: str, value: str) -> None:
    """`isoplan plan scenarios/plan-seed-story.yaml` with --gap, --time-limit or --inflation
    fuzzed (a time limit is kept at most 2 seconds when valid)."""
    args: tuple[object, ...] = ("plan", SEED_PLAN, "--json", f"{option}={value}")
    if option != "--time-limit":
        args += ("--time-limit", "2")
    else:
        try:
            if float(value) > 2:
                args = ("plan", SEED_PLAN, "--json", f"{option}={value}", "--time-limit", "2")
        except ValueError:
            pass
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _judge(_run(*args), args, folder, _listing(folder), may_find_no_plan=True)


# ----------------------------------------------------------------------------------------------
# Books: clients.csv and grants.csv mutated
# ----------------------------------------------------------------------------------------------

BOOK = SCENARIOS / "book"
BOOK_CLIENTS = _read_rows(BOOK / "clients.csv")
BOOK_GRANTS = _read_rows(BOOK / "grants.csv")
BOOK_CELLS = st.one_of(
    CELLS,
    st.sampled_from(
        [
            "2026-02-30",
            "0001-01-01",
            "9999-12-31",
            "2026-13-01",
            "1899-12-31",
            "2201-01-01",
            "2026/06/01",
            "06/01/2026",
            "2026-06-01T00:00:00",
            "lot",
            "grant",
            "iso",
            "nso",
            "stock",
            "monthly",
            "quarterly",
            "yearly",
            "c0",
            "c1",
            "g1",
            "g2",
            "wealth",
            "min_tax",
            "cbc",
            "WA",
            "ZZ",
            40,
            100,
            1200,
            36525,
            36526,
        ]
    ),
)


@st.composite
def _book_case(draw: st.DrawFn, clients: int | None = None) -> dict[str, Any]:
    """A book: clients (the first `clients` of the example) and their grants, mutated."""
    c_cols, c_rows = BOOK_CLIENTS
    g_cols, g_rows = BOOK_GRANTS
    if clients is not None:
        ids = {r["client_id"] for r in c_rows[:clients]}
        c_rows = c_rows[:clients]
        g_rows = [r for r in g_rows if r["client_id"] in ids]
    tables = {}
    for name, (cols, rows) in {"clients": (c_cols, c_rows), "grants": (g_cols, g_rows)}.items():
        row = st.integers(0, len(rows) - 1)
        op = st.one_of(
            st.tuples(st.just("set"), row, st.sampled_from(cols), BOOK_CELLS),
            st.tuples(st.just("set"), row, st.sampled_from(cols), BOOK_CELLS),
            st.tuples(st.just("set"), row, st.sampled_from(cols), BOOK_CELLS),
            st.tuples(st.just("drop_column"), st.sampled_from(cols)),
            st.tuples(st.just("add_column"), st.sampled_from(EXTRA_COLUMNS), row, BOOK_CELLS),
            st.tuples(st.just("drop_row"), row),
            st.tuples(st.just("duplicate_row"), row),
        )
        ops = draw(st.lists(op, max_size=3), label=f"{name} ops")
        cols, rows = _mutate_rows(cols, rows, ops)
        fmt = draw(st.sampled_from(["csv", "csv", "jsonl", "parquet"]), label=f"{name} format")
        damage = draw(BYTE_DAMAGE, label=f"{name} damage") if fmt != "parquet" else []
        retypes = draw(_retypes(cols), label=f"{name} retypes") if fmt == "parquet" else {}
        tables[f"{name}.{fmt}"] = _table_bytes(fmt, cols, rows, retypes, damage)
    return tables


def _write_book(folder: Path, tables: dict[str, bytes]) -> Path:
    book = folder / "book"
    book.mkdir()
    for name, data in tables.items():
        (book / name).write_bytes(data)
    return book


@settings(FAST, max_examples=_examples(50))
@given(tables=_book_case())
def test_book_crossover(tables: dict[str, bytes]) -> None:
    """`isoplan crossover BOOK --json` (one answer per client) on a mutated book."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        book = _write_book(folder, tables)
        before = _listing(folder)
        args = ("crossover", book, "--json")
        rows = _judge(_run(*args), args, folder, before)
        if rows is not None:
            assert isinstance(rows, list), rows
            for row in rows:
                assert isinstance(row.get("error"), str), row
                if row["error"] == "":
                    _no_null_figures(row)


@pytest.mark.timeout(120)
@settings(
    FAST,
    max_examples=_examples(5),
    deadline=timedelta(seconds=30),
    # not shrunk: each run starts a worker process, and the test's timeout ends the whole run
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(tables=_book_case(clients=2))
def test_batch(tables: dict[str, bytes]) -> None:
    """`isoplan batch BOOK -o OUT --workers 1`: a bad client is an errors row, never a crash of
    the batch; the clients planned have finite figures."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        book = _write_book(folder, tables)
        out = folder / "out"
        before = _listing(folder)
        args = ("batch", book, "-o", out, "--quiet", "--workers", "1", "--time-limit", "2")
        run = _run(*args)
        shown = f"isoplan {' '.join(map(str, args))}\nexit {run.code}\nstderr: {run.stderr}"
        assert "Traceback" not in run.stderr + run.stdout, shown
        if run.code == 2:
            _judge(run, args, folder, before)
            return
        errors = pd.read_parquet(out / "errors")
        # 0 when every client was planned, 1 when some could not be (their errors rows)
        assert run.code == (1 if len(errors) else 0), shown
        assert set(errors.columns) >= {"client_id", "stage", "reason"}, errors.columns
        assert not (errors["stage"] == "crash").any(), errors.to_string()
        for reason in errors["reason"]:
            assert reason.strip() and "\n" not in reason and "Traceback" not in reason, reason
        for table in ("years", "summary", "actions", "lots", "clients"):
            if (out / table).exists():
                _check_parquet(out / table)


@settings(FAST, max_examples=_examples(40))
@given(data=st.data())
def test_book_of_scenarios(data: st.DataObject) -> None:
    """`isoplan crossover BOOK --json` on a book of scenario files, one of them mutated: the
    others are answered whatever that one holds."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        book = folder / "book"
        book.mkdir()
        shutil.copy(SCENARIOS / "plan-seed-story.yaml", book / "good.yaml")
        name = data.draw(st.sampled_from(sorted(PLAN_DOCS)), label="base")
        (book / "fuzzed.yaml").write_bytes(_yaml_case(data, PLAN_DOCS[name]))
        before = _listing(folder)
        args = ("crossover", book, "--json")
        rows = _judge(_run(*args), args, folder, before)
        if rows is not None:
            good = [r for r in rows if r["client_id"] == "good"]
            assert len(good) == 1 and good[0]["error"] == "", rows
            for row in rows:
                assert isinstance(row.get("error"), str), row
                if row["error"] == "":
                    _no_null_figures(row)


# ----------------------------------------------------------------------------------------------
# Inputs the fuzzing found (each failed when it was written; kept so a fix stays fixed)
# ----------------------------------------------------------------------------------------------

HEADER = "id,year,filing_status,wages"
CROSSOVER_EXAMPLE = "household: {year: 2026, filing_status: single, wages: 1}\n"
GRANT_LINE = b"grant: {strike: 1, fmv: 2, shares: 3}\n"
GRANTS_CSV = (BOOK / "grants.csv").read_bytes()
FOUND: dict[str, tuple[dict[str, bytes], tuple[str, ...]]] = {
    "duplicate column after stripping blanks": (
        {"h.csv": f"{HEADER},wages \na,2026,single,1,2\n".encode()},
        ("tax", "{h.csv}", "--json"),
    ),
    "duplicate column": (
        {"h.csv": f"{HEADER},wages\na,2026,single,1,2\n".encode()},
        ("tax", "{h.csv}", "--json"),
    ),
    "mixed text and number ids written to Parquet": (
        {
            "h.jsonl": b'{"id": "a", "year": 2026, "filing_status": "single"}\n'
            b'{"id": 1, "year": 2026, "filing_status": "single"}\n'
        },
        ("tax", "{h.jsonl}", "-o", "{out.parquet}"),
    ),
    "newline in an id named by an error": (
        {"h.csv": b'id,year,filing_status\n"a\nb",2026,mfx\n'},
        ("tax", "{h.csv}", "--json"),
    ),
    "row of the wrong length with bytes that are not UTF-8": (
        {"h.csv": f"{HEADER}\na,2026,single,1,\xff\n".encode("latin-1")},
        ("tax", "{h.csv}", "--json"),
    ),
    "control character in a crossover example": (
        {"x.yaml": f"{CROSSOVER_EXAMPLE}grant: {{strike: 1, fmv: 2, shares: \x07}}\n".encode()},
        ("crossover", "{x.yaml}", "--json"),
    ),
    "control character in a scenario": (
        {"s.yaml": (SCENARIOS / "plan-seed-story.yaml").read_bytes() + b"# \x07\n"},
        ("plan", "{s.yaml}", *PLAN_OPTIONS),
    ),
    "control character in a --set value": (
        {},
        ("plan", str(SEED_PLAN), "--set", "description=\x1b", *PLAN_OPTIONS),
    ),
    "newline in a --set path": (
        {},
        ("plan", str(SEED_PLAN), "--set", "a\nb=1", *PLAN_OPTIONS),
    ),
    "escaped lone surrogate in a crossover example": (
        {
            "x.yaml": f"{CROSSOVER_EXAMPLE}grant: {{strike: 1, fmv: 2, shares: 3, "
            f'amt_budget: "\\ud800"}}\n'.encode()
        },
        ("crossover", "{x.yaml}", "--json"),
    ),
    "key that is not text in a crossover example": (
        {"x.yaml": b"household: {year: 2026, filing_status: single, 2025: 1}\n" + GRANT_LINE},
        ("crossover", "{x.yaml}", "--json"),
    ),
    "Parquet id column of bytes that are not UTF-8": (
        {
            "h.parquet": _parquet_bytes(
                ["id", "year", "filing_status"],
                [{"id": "é", "year": 2026, "filing_status": "single"}],
                {"id": "latin-1"},
            )
        },
        ("tax", "{h.parquet}", "--json"),
    ),
    "id of the largest float in JSON": (
        {"h.jsonl": b'{"id": 1.7976931348623157e308, "year": 2026, "filing_status": "single"}\n'},
        ("tax", "{h.jsonl}", "--json"),
    ),
    "list as the filing status of a crossover example": (
        {"x.yaml": b"household: {year: 2026, filing_status: []}\n" + GRANT_LINE},
        ("crossover", "{x.yaml}", "--json"),
    ),
    "book without a strike column": (
        {
            "book/clients.csv": (BOOK / "clients.csv").read_bytes(),
            "book/grants.csv": _csv_bytes(*_mutate_rows(*BOOK_GRANTS, [("drop_column", "strike")])),
        },
        ("crossover", "{book}", "--json"),
    ),
    "book without grants": (
        {
            "book/clients.csv": (BOOK / "clients.csv").read_bytes(),
            "book/grants.csv": GRANTS_CSV.splitlines(keepends=True)[0],
        },
        ("crossover", "{book}", "--json"),
    ),
    "book cell with bytes that are not UTF-8": (
        {
            "book/clients.csv": (BOOK / "clients.csv").read_bytes(),
            "book/grants.csv": GRANTS_CSV.replace(b",,,2600,", b",,,\xff2600,"),
        },
        ("crossover", "{book}", "--json"),
    ),
    "a megabyte of YAML values, refused only after seconds": (
        {"x.yaml": b"household: [" + b",".join([b"1"] * 349_000) + b"]\ngrant: {}\n"},
        ("crossover", "{x.yaml}", "--json"),
    ),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_found_by_fuzzing(name: str) -> None:
    files, template = FOUND[name]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for rel, data in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        before = _listing(folder)
        args = tuple(str(folder / a[1:-1]) if a[:1] == "{" else a for a in template)
        output = next((Path(a) for a in args if a.endswith(".parquet")), None)
        started = time.monotonic()
        run = _run(*args)
        seconds = time.monotonic() - started
        _judge(
            run,
            args,
            folder,
            before,
            output=output,
            may_find_no_plan=True,
            as_json="--json" in args,
        )
        assert seconds < FAST.deadline.total_seconds(), f"{name}: {seconds:.1f} s"


# ----------------------------------------------------------------------------------------------
# The worst inputs in a separate process, under an address-space limit
# ----------------------------------------------------------------------------------------------

RLIMIT_AS = 3 << 30


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (RLIMIT_AS, RLIMIT_AS))


@pytest.mark.timeout(120)
def test_worst_inputs_in_bounded_memory(tmp_path: Path) -> None:
    """A billion laughs, deep nesting and a 200,000-digit number, each read by a fresh process
    limited to 3 GiB of address space and 60 seconds: each is refused in one line."""
    (tmp_path / "laughs.yaml").write_text(f"household: {BOMB}\ngrant: {{}}\n")
    (tmp_path / "deep.yaml").write_text(f"household: {DEEP}\n")
    (tmp_path / "wide.csv").write_text(f"{HEADER}\nr,2026,single,{'9' * 200_000}\n")
    commands = [
        ["crossover", "laughs.yaml", "--json"],
        ["plan", "deep.yaml", "--json"],
        ["tax", "wide.csv", "--json"],
    ]
    entry = [sys.executable, "-c", "from planner.cli import main; main()"]
    procs = [
        (
            cmd,
            subprocess.Popen(
                [*entry, *cmd],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=_limited,
                cwd=tmp_path,
            ),
        )
        for cmd in commands
    ]
    for cmd, proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"isoplan {' '.join(cmd)}: still running after 60 s") from None
        shown = f"isoplan {' '.join(cmd)}\nexit {proc.returncode}\nstderr: {stderr[-2000:]}"
        assert proc.returncode == 2, shown
        assert stdout == "", shown
        lines = _lines(stderr)
        assert len(lines) == 1 and lines[0].startswith(ERROR), shown
