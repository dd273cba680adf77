"""Household-year tables: the columns isoplan reads, and reading them from CSV, JSONL or Parquet.

Validation happens here, once, so the engine in `models` only ever sees clean numbers. Every error
names the file, the row (1-based, data rows only) with its id, the field, and why.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from models.law import STATUS_INDEX, STATUSES
from planner.errors import InputError


@dataclass(frozen=True)
class Column:
    name: str
    help: str
    signed: bool = False  # may be negative
    integer: bool = False
    maximum: float | None = None


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
    Column("amt_credit_carryforward", "minimum tax credit carried in from earlier years (8801)"),
)

GRANT_COLUMNS: tuple[Column, ...] = (
    Column("strike", "exercise price per share"),
    Column("fmv", "fair market value per share at exercise"),
    Column("shares", "ISO shares vested and available to exercise", integer=True),
    Column("amt_budget", "AMT you accept paying this year (default 0)"),
)

KEY_COLUMNS = ("id", "year", "filing_status", "itemize")


@dataclass
class HouseholdTable:
    """Validated household-years as arrays (one element per row), plus the original ids."""

    ids: pd.Series
    years: np.ndarray
    statuses: np.ndarray  # index into models.law.STATUSES
    itemize: np.ndarray  # 1.0 / 0.0 / NaN (choose)
    money: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.years)


def read_table(
    path: Path,
    *,
    text_columns: tuple[str, ...] = ("id", "filing_status"),
    allow_empty: bool = False,
    malformed: list[tuple[int, str, str]] | None = None,
) -> pd.DataFrame:
    """Read CSV, JSONL (or JSON array) or Parquet by extension, every cell as text or number.
    `text_columns` of a CSV stay text (ids like 007 keep their zeros). Given a `malformed` list,
    CSV rows with the wrong number of fields are left out and listed there as (row, text, why)
    instead of failing the whole file."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = _read_csv(path, text_columns, malformed)
        elif suffix in (".jsonl", ".ndjson"):
            df = _read_jsonl(path)
        elif suffix == ".json":
            rows = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise InputError(f"{path}: expected a JSON array of objects")
            df = pd.DataFrame(rows)
        elif suffix == ".parquet":
            df = pq.read_table(path).to_pandas()
        else:
            raise InputError(
                f"{path}: unknown file type {suffix!r} (use .csv, .jsonl, .json or .parquet)"
            )
    except InputError:
        raise
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: malformed JSON: {exc.msg} at line {exc.lineno}") from None
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

    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(text_columns, pa.string()),
            strings_can_be_null=False,
        ),
    )
    why = "{} fields where the header has {} columns"
    if invalid and malformed is None:
        line, expected, actual, _ = invalid[0]
        raise InputError(f"{path}: row {line - 1}: {why.format(actual, expected)}")
    for line, expected, actual, text in invalid:
        malformed.append((line - 1, text, why.format(actual, expected)))  # type: ignore[union-attr]
    return table.to_pandas()


def read_example(path: Path) -> tuple[pd.DataFrame, str]:
    """A self-describing crossover example: `description`, `household` and `grant` mappings."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read YAML: {str(exc).splitlines()[0]}") from None
    if not (
        isinstance(doc, dict)
        and isinstance(doc.get("household"), dict)
        and isinstance(doc.get("grant"), dict)
    ):
        raise InputError(f"{path}: expected mappings 'household' and 'grant' (and a description)")
    row = {"id": path.stem, **doc["household"], **doc["grant"]}
    return pd.DataFrame([row]), str(doc.get("description", "")).strip()


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    text = path.read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {lineno}: malformed JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}: line {lineno}: expected a JSON object")
        rows.append(row)
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


def _blank(series: pd.Series) -> np.ndarray:
    """Missing or whitespace-only cells (these mean 0 in money columns)."""
    missing = series.isna().to_numpy().copy()
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        empty = series.astype("string").str.strip().eq("")
        missing |= empty.fillna(False).to_numpy(dtype=bool)
    return missing


def _numbers(path: Path, df: pd.DataFrame, col: Column) -> np.ndarray:
    if col.name not in df.columns:
        return np.zeros(len(df))
    raw = df[col.name]
    if pd.api.types.is_bool_dtype(raw):
        values = np.full(len(raw), np.nan)  # true/false is not an amount
    elif pd.api.types.is_numeric_dtype(raw):
        values = raw.to_numpy(dtype=np.float64, na_value=0.0)
    else:
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, copy=True)
        values[_blank(raw) & np.isnan(values)] = 0.0
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        got = _shown(raw.iloc[i])
        raise InputError(f"{_where(path, df, i)}: field '{col.name}': expected a number, got {got}")
    checks = [
        (not col.signed, values < 0, "must not be negative"),
        (col.integer, values != np.floor(values), "must be a whole number"),
        (col.maximum is not None, values > (col.maximum or 0), f"must be at most {col.maximum}"),
    ]
    for active, failed, why in checks:
        if active and failed.any():
            i = int(np.flatnonzero(failed)[0])
            raise InputError(
                f"{_where(path, df, i)}: field '{col.name}': {why}, got {_shown(raw.iloc[i])}"
            )
    return values


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
    extras = {c.name: _numbers(path, df, c) for c in extra}
    table = HouseholdTable(
        ids=ids.reset_index(drop=True),
        years=years_raw.astype(np.int64),
        statuses=statuses.astype(np.int64),
        itemize=_itemize(path, df),
        money=money,
    )
    return table, extras


def row_of_year(path: Path, df: pd.DataFrame, years: np.ndarray, year: int) -> str:
    """Where the first row of a given year is, for errors raised about that year's law."""
    i = int(np.flatnonzero(years == year)[0])
    return f"{_where(path, df, i)}: field 'year'"
