"""Household-year tables: the columns isoplan reads, and reading them from CSV, JSONL or Parquet.

Validation happens here, once, so the engine in `models` only ever sees clean numbers. Every error
names the file, the row (1-based, data rows only) with its id, the field, and why.
"""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from models.law import STATUS_INDEX, STATUSES
from planner.errors import InputError
from planner.limits import MAX_DEPENDENTS, MAX_MONEY, MAX_PRICE, MAX_SHARES
from planner.scenario.reading import read_yaml


@dataclass(frozen=True)
class Column:
    name: str
    help: str
    signed: bool = False  # may be negative
    integer: bool = False
    maximum: float = MAX_MONEY  # in absolute value (planner.limits)


# Money columns: a missing column means 0 for every row; an empty cell means 0 for that row.
HOUSEHOLD_COLUMNS: tuple[Column, ...] = (
    Column("wages", "W-2 wages, including NSO spread and RSU vest income (Form 1040 line 1)"),
    Column("ordinary_income", "other ordinary income that is not investment income", signed=True),
    Column("interest", "taxable interest and non-qualified dividends (investment income)"),
    Column("qualified_dividends", "qualified dividends (Form 1040 line 3a)"),
    Column("ltcg", "net long-term capital gain or loss (Schedule D line 15)", signed=True),
    Column("stcg", "net short-term capital gain or loss (Schedule D line 7)", signed=True),
    Column("iso_spread", "ISO bargain element of shares exercised and held (Form 6251 line 2i)"),
    Column(
        "amt_ltcg_adjustment",
        "AMT minus regular long-term gain on ISO shares sold in a later year (Form 6251 line 2k)",
        signed=True,
    ),
    Column(
        "amt_stcg_adjustment",
        "the same for short-term gain (shares held a year or less since exercise; line 2k)",
        signed=True,
    ),
    Column(
        "amt_ordinary_adjustment",
        "other line 2k difference, e.g. minus a later-year disqualifying disposition's income",
        signed=True,
    ),
    Column("salt", "state and local income/sales and property taxes paid"),
    Column("mortgage_interest", "deductible home mortgage interest"),
    Column("charitable", "cash gifts to charity"),
    Column("aged_blind", "number of age-65+/blind conditions, 0-4", integer=True, maximum=4),
    Column(
        "seniors",
        "people on the return aged 65 or over (0-2; 2 only on a joint return), for the 2025-2028 "
        "deduction for seniors (Schedule 1-A, Form 1040 line 13b)",
        integer=True,
        maximum=2,
    ),
    Column("amt_credit_carryforward", "minimum tax credit carried in from earlier years (8801)"),
    Column(
        "real_estate_tax",
        "the part of salt that is real property tax (California deducts only this part)",
    ),
    Column(
        "dependents",
        "dependents claimed (California's dependent credits)",
        integer=True,
        maximum=MAX_DEPENDENTS,
    ),
    Column(
        "ca_amt_credit_carryforward",
        "California credit for prior year AMT carried in (FTB 3510)",
    ),
    Column(
        "st_loss_carryover",
        "short-term capital loss carried in, as a positive amount (Schedule D line 6)",
    ),
    Column(
        "lt_loss_carryover",
        "long-term capital loss carried in, as a positive amount (Schedule D line 14)",
    ),
    Column(
        "amt_st_loss_carryover",
        "the short-term capital loss carried in for the AMT (AMT Schedule D line 6; line 2k)",
    ),
    Column(
        "amt_lt_loss_carryover",
        "the long-term capital loss carried in for the AMT (AMT Schedule D line 14; line 2k)",
    ),
)

GRANT_COLUMNS: tuple[Column, ...] = (
    Column("strike", "exercise price per share", maximum=MAX_PRICE),
    Column("fmv", "fair market value per share at exercise", maximum=MAX_PRICE),
    Column(
        "shares", "ISO shares vested and available to exercise", integer=True, maximum=MAX_SHARES
    ),
    Column("amt_budget", "AMT you accept paying this year (default 0)"),
)

KEY_COLUMNS = ("id", "year", "filing_status", "itemize", "state")
# The states whose tax isoplan computes, as the `state` column names them (empty: none).
STATES = ("ca",)


@dataclass
class HouseholdTable:
    """Validated household-years as arrays (one element per row), plus the original ids."""

    ids: pd.Series
    years: np.ndarray
    statuses: np.ndarray  # index into models.law.STATUSES
    itemize: np.ndarray  # 1.0 / 0.0 / NaN (choose)
    money: dict[str, np.ndarray]
    resident: np.ndarray  # True for a California resident's row (`state` ca)

    def __len__(self) -> int:
        return len(self.years)


def read_table(
    path: Path,
    *,
    text_columns: tuple[str, ...] = ("id", "filing_status", "state"),
    allow_empty: bool = False,
    malformed: list[tuple[int, str, str]] | None = None,
) -> pd.DataFrame:
    """Read CSV, JSONL (or JSON array) or Parquet by extension, every cell as text or number.
    `text_columns` of a CSV stay text (ids like 007 keep their zeros). Given a `malformed` list,
    CSV rows with the wrong number of fields are left out and listed there as (row, text, why)
    instead of failing the whole file.

    An empty cell (a CSV's empty field, a null) is missing; a NaN or an infinity written in the
    file (`nan`, `inf`, `1e999`, JSON's `NaN`) is not: such a cell is handed on as its text
    (`_non_finite_as_text`), which every number field then refuses with its row and name. Pandas
    alone would make both NaN, and a NaN in a money column would be read as $0."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = _read_csv(path, text_columns, malformed)
        elif suffix in (".jsonl", ".ndjson"):
            df = _read_jsonl(path)
        elif suffix == ".json":
            rows = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_object)
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise InputError(f"{path}: expected a JSON array of objects")
            df = pd.DataFrame([_json_row(r, f"{path}: row {i}") for i, r in enumerate(rows, 1)])
        elif suffix == ".parquet":
            df = _non_finite_as_text(pq.read_table(path), path)
        else:
            raise InputError(
                f"{path}: unknown file type {suffix!r} (use .csv, .jsonl, .json or .parquet)"
            )
    except InputError:
        raise
    except _DuplicateKey as exc:
        raise InputError(f"{path}: key {exc.key!r} appears twice in one object") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: malformed JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise InputError(f"{path}: cannot read {suffix[1:]} file: nested too deeply") from None
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        pa.ArrowException,
        OSError,
        UnicodeDecodeError,
        ValueError,
    ) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot read {suffix[1:]} file: {first}") from None
    if len(df) == 0 and not allow_empty:
        raise InputError(f"{path}: no rows")
    df.columns = [str(c).strip() for c in df.columns]
    twice = df.columns[df.columns.duplicated()]
    if len(twice):
        raise InputError(f"{path}: column '{twice[0]}' appears twice")
    return df


def _read_csv(
    path: Path,
    text_columns: tuple[str, ...],
    malformed: list[tuple[int, str, str]] | None = None,
) -> pd.DataFrame:
    """CSV with Arrow's strict parser: a row with more or fewer fields than the header (a shifted
    or truncated line) is an error naming the row, never silently padded with zeros. Ids stay
    text; other columns are typed by Arrow and validated later."""
    invalid: list[tuple[int, int, int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number or 0, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    # A malformed row that is not UTF-8 fails in Arrow before the handler is called: Arrow then
    # fails the file (one line, below) but first prints the decoding error ("Exception ignored"),
    # which goes nowhere instead.
    hook, sys.unraisablehook = sys.unraisablehook, lambda _: None
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(text_columns, pa.string()),
                null_values=[""],  # Arrow's default also nulls 'nan', 'NA', 'null': read as $0
                strings_can_be_null=False,
            ),
        )
    finally:
        sys.unraisablehook = hook
    why = "{} fields where the header has {} columns"
    if invalid and malformed is None:
        line, expected, actual, _ = invalid[0]
        raise InputError(f"{path}: row {line - 1}: {why.format(actual, expected)}")
    for line, expected, actual, text in invalid:
        malformed.append((line - 1, text, why.format(actual, expected)))  # type: ignore[union-attr]
    return _non_finite_as_text(table, path)


def _non_finite_as_text(table: pa.Table, path: Path) -> pd.DataFrame:
    """The table as pandas, with every NaN or infinity of a float column as its text ('nan',
    'inf', '-inf') in an object column, so it stays apart from an empty cell (null). A column
    of lists or records, or of bytes that are not text (Arrow reads a CSV column that is not
    UTF-8 so), holds no cell isoplan reads."""
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            raise InputError(
                f"{path}: column '{name}': expected numbers or text, not {column.type}"
            )
    df = table.to_pandas()
    for name, column in zip(table.column_names, table.columns, strict=True):
        if not pa.types.is_floating(column.type):
            continue
        bad = pc.fill_null(pc.invert(pc.is_finite(column)), False).to_numpy(zero_copy_only=False)
        if bad.any():
            cells = df[name].astype(object)
            cells[bad] = [str(v) for v in df[name].to_numpy()[bad]]
            df[name] = cells
    return df


def _json_row(row: dict[str, object], where: str) -> dict[str, object]:
    """A JSON object's NaN or infinity (`NaN`, `Infinity`, `1e999`) as its text (see
    `_non_finite_as_text`); a list or an object as a cell is refused at `where`."""
    for k, v in row.items():
        if isinstance(v, list | dict):
            raise InputError(f"{where}: field '{k}': expected a number or text, got {_shown(v)}")
    return {k: str(v) if isinstance(v, float) and not np.isfinite(v) else v for k, v in row.items()}


def read_example(path: Path) -> tuple[pd.DataFrame, str]:
    """A self-describing crossover example: `description`, `household` and `grant` mappings."""
    doc = read_yaml(path)[0]
    if not (
        isinstance(doc, dict)
        and isinstance(doc.get("household"), dict)
        and isinstance(doc.get("grant"), dict)
    ):
        raise InputError(f"{path}: expected mappings 'household' and 'grant' (and a description)")
    row: dict[str, object] = {"id": path.stem}
    for section in ("household", "grant"):
        for key, value in doc[section].items():
            where = f"{path}: {section}.{key}"
            if not isinstance(key, str):
                raise InputError(f"{path}: {section}: expected field names, got {_shown(key)}")
            if isinstance(value, list | dict):
                raise InputError(f"{where}: expected a number or text, got {_shown(value)}")
            row[key] = value
    return pd.DataFrame([row]), str(doc.get("description", "")).strip()


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose keys are all different: the last of two would win in silence."""
    out: dict[str, object] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    text = path.read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, object_pairs_hook=_object)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {lineno}: malformed JSON ({exc.msg})") from None
        except _DuplicateKey as exc:
            raise InputError(f"{path}: line {lineno}: key {exc.key!r} appears twice") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}: line {lineno}: expected a JSON object")
        rows.append(_json_row(row, f"{path}: line {lineno}"))
    return pd.DataFrame(rows)


def _where(path: Path, df: pd.DataFrame, row: int) -> str:
    ident = df["id"].iloc[row] if "id" in df.columns else None
    tag = f" (id={ident})" if ident is not None and str(ident) != "" else ""
    return f"{path}: row {row + 1}{tag}"


def _shown(value: object) -> str:
    """A cell as the user wrote it, on one line (numpy scalars and arrays as plain Python)."""
    if isinstance(value, np.generic | np.ndarray):
        value = value.tolist()
    return repr(value)


def _text_is_number(cell: object) -> float | None:
    """The number a text cell spells, NaN and infinity included (None if it spells none)."""
    try:
        return float(str(cell))
    except ValueError:
        return None


def id_text(value: object) -> str:
    """An id as text, as a CSV reads it: results carry one type of id (a JSON file may mix 7 and
    "b", which no Parquet column holds), and a whole number keeps no ".0"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def _blank(series: pd.Series) -> np.ndarray:
    """Missing or whitespace-only cells (these mean 0 in money columns)."""
    missing = series.isna().to_numpy().copy()
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        empty = series.astype("string").str.strip().eq("")
        missing |= empty.fillna(False).to_numpy(dtype=bool)
    return missing


def _checked(df: pd.DataFrame, col: Column) -> tuple[np.ndarray, list[tuple[np.ndarray, str]]]:
    """A number column's values (missing: 0) and its failed checks, in order: (rows, why)."""
    if col.name not in df.columns:
        return np.zeros(len(df)), []
    raw = df[col.name]
    if pd.api.types.is_bool_dtype(raw):
        values = np.full(len(raw), np.nan)  # true/false is not an amount
    elif pd.api.types.is_numeric_dtype(raw):
        values = raw.to_numpy(dtype=np.float64, na_value=0.0)
    else:
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, copy=True)
        values[_blank(raw) & np.isnan(values)] = 0.0
    finite = np.isfinite(values)
    spelled = np.array([_text_is_number(v) is not None for v in raw[~finite]], dtype=bool)
    number = np.zeros(len(raw), dtype=bool)
    number[np.flatnonzero(~finite)[spelled]] = True  # 'nan', 'inf': a number, but not finite
    clean = np.where(finite, values, 0.0)
    most = f"{col.maximum:,.0f}"
    checks = [
        (~finite & ~number, "expected a number"),
        (number, "expected a finite number"),
        (~col.signed & (clean < 0), "must not be negative"),
        (col.integer & (clean != np.floor(clean)), "must be a whole number"),
        (np.abs(clean) > col.maximum,
         f"must be at most {most}" if not col.signed else f"must be between -{most} and {most}"),
    ]  # fmt: skip
    return clean, [(rows, why) for rows, why in checks if rows.any()]


def _numbers(path: Path, df: pd.DataFrame, col: Column) -> np.ndarray:
    values, failed = _checked(df, col)
    if failed:
        rows, why = failed[0]
        i = int(np.flatnonzero(rows)[0])
        got = _shown(df[col.name].iloc[i])
        raise InputError(f"{_where(path, df, i)}: field '{col.name}': {why}, got {got}")
    return values


def number_problems(df: pd.DataFrame, columns: tuple[Column, ...]) -> dict[int, str]:
    """The first problem of each row's number columns (the checks `parse_households` raises on),
    for a caller that answers row by row: a book's crossover, one answer per client."""
    out: dict[int, str] = {}
    for col in columns:
        for rows, why in _checked(df, col)[1]:
            for i in np.flatnonzero(rows).tolist():
                out.setdefault(i, f"field '{col.name}': {why}, got {_shown(df[col.name].iloc[i])}")
    return out


_ITEMIZE_WORDS = {
    **dict.fromkeys(("true", "1", "yes", "y", "t", "1.0"), 1.0),
    **dict.fromkeys(("false", "0", "no", "n", "f", "0.0"), 0.0),
    **dict.fromkeys(("", "none", "null", "nan"), np.nan),
}


def _itemize(path: Path, df: pd.DataFrame) -> np.ndarray:
    """true / false / empty per row; distinct values are parsed once, then broadcast."""
    if "itemize" not in df.columns:
        return np.full(len(df), np.nan)
    codes, uniques = pd.factorize(df["itemize"], use_na_sentinel=True)
    parsed = np.full(len(uniques) + 1, np.nan)  # code -1 (missing) picks the trailing NaN
    for k, v in enumerate(uniques):
        word = str(v).strip().lower()
        if word not in _ITEMIZE_WORDS:
            i = int(np.flatnonzero(codes == k)[0])
            raise InputError(
                f"{_where(path, df, i)}: field 'itemize': expected true, false or empty, got {v!r}"
            )
        parsed[k] = _ITEMIZE_WORDS[word]
    return parsed[codes]


def _resident(path: Path, df: pd.DataFrame) -> np.ndarray:
    """`state` per row: ca, or empty for no state tax."""
    if "state" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    codes, uniques = pd.factorize(df["state"], use_na_sentinel=True)
    known = np.zeros(len(uniques) + 1, dtype=bool)  # code -1 (missing) is no state
    for k, v in enumerate(uniques):
        word = str(v).strip().lower()
        if word in STATES:
            known[k] = True
        elif word not in ("", "none"):
            i = int(np.flatnonzero(codes == k)[0])
            raise InputError(
                f"{_where(path, df, i)}: field 'state': isoplan computes the state tax of "
                f"{', '.join(STATES)} (or leave it empty for none), got {v!r}"
            )
    return known[codes]


def check_columns(path: Path, df: pd.DataFrame, allowed: tuple[Column, ...]) -> None:
    """Required key columns present; no unknown columns (a typo would silently mean $0)."""
    for name in ("id", "year", "filing_status"):
        if name not in df.columns:
            raise InputError(f"{path}: missing column '{name}'")
    known = set(KEY_COLUMNS) | {c.name for c in allowed}
    for name in df.columns:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError(f"{path}: unknown column '{name}'{hint}")


def senior_problems(
    statuses: np.ndarray, seniors: np.ndarray, aged_blind: np.ndarray
) -> list[tuple[np.ndarray, str]]:
    """The rows whose count of people aged 65 or over no return can have, each with the reason:
    two only on a joint return (the taxpayer, and the spouse: §151(d)(5)(C)(ii)), and never more
    than the age-or-blindness conditions, of which each such person has one (§63(f)(1))."""
    joint = np.asarray(statuses) == STATUS_INDEX["mfj"]
    return [
        ((seniors > 1) & ~joint, "must be at most 1 unless filing_status is mfj"),
        (seniors > aged_blind, "must not be more than aged_blind (each senior is one of them)"),
    ]


def parse_households(
    path: Path, df: pd.DataFrame, extra: tuple[Column, ...] = ()
) -> tuple[HouseholdTable, dict[str, np.ndarray]]:
    """Validate a household-year table; returns it and the arrays of the `extra` columns."""
    check_columns(path, df, HOUSEHOLD_COLUMNS + extra)
    ids = df["id"]
    blank_id = _blank(ids)
    if blank_id.any():
        i = int(np.flatnonzero(blank_id)[0])
        raise InputError(f"{path}: row {i + 1}: field 'id': must not be empty")
    years_raw = pd.to_numeric(df["year"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(years_raw) | (years_raw != np.floor(years_raw)) | (np.abs(years_raw) > 9999)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{_where(path, df, i)}: field 'year': expected a tax year like 2026, "
            f"got {_shown(df['year'].iloc[i])}"
        )
    codes, uniques = pd.factorize(df["filing_status"], use_na_sentinel=True)
    status_of = np.array([STATUS_INDEX.get(str(u).strip().lower(), -1) for u in uniques] + [-1])
    statuses = status_of[codes]  # code -1 (missing) picks the trailing -1
    if (statuses < 0).any():
        i = int(np.flatnonzero(statuses < 0)[0])
        raise InputError(
            f"{_where(path, df, i)}: field 'filing_status': unknown filing status "
            f"{df['filing_status'].iloc[i]!r} (use one of: {', '.join(STATUSES)})"
        )
    money = {c.name: _numbers(path, df, c) for c in HOUSEHOLD_COLUMNS}
    for rows, why in senior_problems(statuses, money["seniors"], money["aged_blind"]):
        if rows.any():
            i = int(np.flatnonzero(rows)[0])
            got = _shown(df["seniors"].iloc[i])
            raise InputError(f"{_where(path, df, i)}: field 'seniors': {why}, got {got}")
    over = money["real_estate_tax"] > money["salt"]
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise InputError(
            f"{_where(path, df, i)}: field 'real_estate_tax': must not be more than salt (it is "
            f"the part of salt that is property tax), got {_shown(df['real_estate_tax'].iloc[i])}"
        )
    extras = {c.name: _numbers(path, df, c) for c in extra}
    table = HouseholdTable(
        ids=ids.map(id_text).reset_index(drop=True),
        years=years_raw.astype(np.int64),
        statuses=statuses.astype(np.int64),
        itemize=_itemize(path, df),
        money=money,
        resident=_resident(path, df),
    )
    return table, extras


def row_of_year(path: Path, df: pd.DataFrame, years: np.ndarray, year: int) -> str:
    """Where the first row of a given year is, for errors raised about that year's law."""
    i = int(np.flatnonzero(years == year)[0])
    return f"{_where(path, df, i)}: field 'year'"
