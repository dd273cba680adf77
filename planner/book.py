"""Books: a wealth firm's clients, read into one scenario document per client.

A book is a folder holding either

- tables: `clients` (one row per client), `grants` (one row per option grant or lot of shares
  already held, `record` = grant or lot) and optionally `years` (per-year prices and income
  overrides), each as .parquet, .csv or .jsonl; or
- scenario files: `*.yaml` (the format of `isoplan plan`), one client each, named by the file.

Each table row becomes the plain data a scenario file holds (`BOOK_COLUMNS` says where each
column goes) and is validated by `planner.scenario.validate`, the same code that reads
YAML, so the two formats cannot drift. A problem of the whole book (a missing file or column, an
unknown column) is an `InputError`; a problem of one client (a bad cell, a rule it breaks) becomes
that client's error and never stops the others.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from planner.errors import InputError
from planner.households import id_text, read_table
from planner.options import NO_OVERRIDES, Overrides, PlanOptions
from planner.scenario import (
    Grant,
    Horizon,
    Household,
    Income,
    Liquidity,
    LotIn,
    Objective,
    PriceYear,
    ScenarioFile,
    Solver,
    TaxLaw,
    TenderOffer,
    Validated,
    Vesting,
    bound_text,
    bounds_of,
    parse_yaml,
    read_yaml_text,
    validate,
    validate_text,
)

TABLE_SUFFIXES = (".parquet", ".csv", ".jsonl")
INCOME_FIELDS = tuple(Income.model_fields)
MAX_CLIENT_ID = 128


@dataclass(frozen=True)
class BookColumn:
    """A column of a book table and where its value goes in the scenario document."""

    name: str
    type: str  # number, integer, text, date, boolean (for the schema and the docs)
    path: tuple[str, ...] = ()  # the scenario field (empty: handled by name)
    help: str = ""  # default: the scenario field's own description
    required: bool = False
    record: str = ""  # grants table: the column applies to "grant" or "lot" rows only
    like: tuple[str, ...] = ()  # a column with no path: the field whose bounds it has

    @property
    def description(self) -> str:
        return self.help or _field_help(self.path)


def _income_columns(prefix: tuple[str, ...]) -> tuple[BookColumn, ...]:
    kinds = {"aged_blind": "integer", "seniors": "integer", "dependents": "integer",
             "itemize": "boolean"}  # fmt: skip
    # `state` is the clients table's own column (`book_state`: any state's two letters).
    fields = (f for f in INCOME_FIELDS if f != "state")
    return tuple(BookColumn(f, kinds.get(f, "number"), (*prefix, f)) for f in fields)


CLIENT_ID = BookColumn("client_id", "text", help="The client (any text up to 128 characters; "
                       "results and errors carry it).", required=True)  # fmt: skip

CLIENT_COLUMNS: tuple[BookColumn, ...] = (
    CLIENT_ID,
    BookColumn("description", "text", ("description",), "The client's story (default: 'client "
               "<client_id>')."),
    BookColumn("state", "text", ("default", "state"), help="State of residence (two letters). "
               "CA: California's income tax, AMT and credit are computed beside the federal "
               "ones; any other state: no state tax is computed (results are federal)."),
    BookColumn("filing_status", "text", ("household", "filing_status"), required=True),
    BookColumn("start_cash", "number", ("household", "start_cash"), required=True),
    BookColumn("cash_floor", "number", ("household", "cash_floor")),
    BookColumn("cash_return", "number", ("household", "cash_return")),
    BookColumn("amt_credit_carryforward", "number", ("household", "amt_credit_carryforward")),
    BookColumn(
        "ca_amt_credit_carryforward", "number", ("household", "ca_amt_credit_carryforward")
    ),
    BookColumn("first_year", "integer", ("horizon", "first_year"), required=True),
    BookColumn("years", "integer", ("horizon", "years"), required=True),
    *_income_columns(("default",)),
    BookColumn("wage_growth", "number", ("wage_growth",)),
    BookColumn("fmv", "number", help="FMV per share in the first year (409A value while private, "
               "market price once public); later years grow by fmv_growth unless the years table "
               "gives them.", like=("prices", "fmv")),
    BookColumn("fmv_growth", "number", help="Annual growth of the FMV after the first year "
               "(default 0); each year's price is rounded to the cent.", like=("wage_growth",)),
    BookColumn("ipo_date", "date", ("liquidity", "ipo_date")),
    BookColumn("lockup_days", "integer", ("liquidity", "lockup_days")),
    BookColumn("tender_date", "date", ("liquidity", "tender_offers", "0", "date"),
               "A tender offer's date (one per client in a table; scenario files take a list)."),
    BookColumn("tender_price", "number", ("liquidity", "tender_offers", "0", "price")),
    BookColumn("tender_max_shares", "integer", ("liquidity", "tender_offers", "0", "max_shares")),
    BookColumn("goal", "text", ("objective", "goal")),
    BookColumn("discount_rate", "number", ("objective", "discount_rate")),
    BookColumn("terminal_price", "number", ("objective", "terminal_price")),
    BookColumn("terminal_tax_rate", "number", ("objective", "terminal_tax_rate")),
    BookColumn("terminal_ordinary_rate", "number", ("objective", "terminal_ordinary_rate")),
    BookColumn("credit_value", "number", ("objective", "credit_value")),
    BookColumn("solver", "text", ("solver", "name"), "MILP solver: highs, scip or cbc."),
    BookColumn("gap", "number", ("solver", "gap")),
    BookColumn("time_limit", "number", ("solver", "time_limit")),
    BookColumn("share_step", "integer", ("solver", "share_step")),
    BookColumn("projection", "boolean", ("tax_law", "projection")),
    BookColumn("inflation", "number", ("tax_law", "inflation")),
)  # fmt: skip

GRANT_COLUMNS: tuple[BookColumn, ...] = (
    CLIENT_ID,
    BookColumn("record", "text", help="grant (an option grant) or lot (shares already held).",
               required=True),
    BookColumn("id", "text", ("id",), "The grant's or the lot's id, unique within the client.",
               required=True),
    BookColumn("type", "text", ("type",), "grant: iso or nso; lot: iso, nso or stock.",
               required=True),
    BookColumn("grant_date", "date", ("grant_date",), "The grant date (required for grants; "
               "lots default to their grant's)."),
    BookColumn("strike", "number", ("strike",), record="grant"),
    BookColumn("shares", "integer", ("shares",), "Shares granted, or held in the lot."),
    BookColumn("fmv_at_grant", "number", ("fmv_at_grant",), record="grant"),
    BookColumn("vest_start", "date", ("vesting", "start"), record="grant"),
    BookColumn("cliff_months", "integer", ("vesting", "cliff_months"), record="grant"),
    BookColumn("vest_months", "integer", ("vesting", "months"), record="grant"),
    BookColumn("vest_every", "text", ("vesting", "every"), record="grant"),
    BookColumn("expiry", "date", ("expiry",), record="grant"),
    BookColumn("termination_date", "date", ("termination_date",), record="grant"),
    BookColumn("post_termination_days", "integer", ("post_termination_days",), record="grant"),
    BookColumn("exercised", "integer", ("exercised",), record="grant"),
    BookColumn("employer", "text", ("employer",), record="grant"),
    BookColumn("required_exercise", "integer", help="Shares of this grant that must be "
               "exercised over the horizon (objective.required_exercise of the ISO class "
               "<id>).", record="grant", like=("shares",)),
    BookColumn("grant_id", "text", ("grant_id",), record="lot"),
    BookColumn("exercise_date", "date", ("exercise_date",), record="lot"),
    BookColumn("regular_basis", "number", ("regular_basis",), record="lot"),
    BookColumn("amt_basis", "number", ("amt_basis",), record="lot"),
)  # fmt: skip

YEAR_COLUMNS: tuple[BookColumn, ...] = (
    CLIENT_ID,
    BookColumn("year", "integer", help="A year of the client's horizon.", required=True,
               like=("horizon", "first_year")),
    BookColumn("fmv", "number", ("prices", "fmv"), "FMV per share that year (overrides the "
               "client's fmv and fmv_growth)."),
    BookColumn("exercise_date", "date", ("prices", "exercise_date")),
    BookColumn("sale_date", "date", ("prices", "sale_date")),
    BookColumn("state", "text", ("years", "state"), help="That year's residence, as the clients "
               "table's state (empty: the client's): a move."),
    *_income_columns(("years",)),
)  # fmt: skip

BOOK_COLUMNS = {"clients": CLIENT_COLUMNS, "grants": GRANT_COLUMNS, "years": YEAR_COLUMNS}
REQUIRED_TABLES = ("clients",)

# The model behind each first path element, for descriptions (docstrings of planner.scenario).
_SECTIONS: dict[str, type[BaseModel]] = {
    "household": Household, "horizon": ScenarioFile, "default": Income, "years": Income,
    "liquidity": Liquidity, "objective": Objective, "solver": Solver, "tax_law": TaxLaw,
    "vesting": Vesting, "prices": PriceYear,
}  # fmt: skip


def _scenario_field(path: tuple[str, ...]) -> tuple[type[BaseModel], str] | None:
    """The model and field name of the scenario field at `path` (planner.scenario)."""
    if not path:
        return None
    name = path[-1]
    if path[0] == "horizon":
        model: type[BaseModel] = Horizon
    elif path[0] == "liquidity" and "tender_offers" in path:
        model = TenderOffer
    elif len(path) == 1:
        model = Grant if name in Grant.model_fields else LotIn
        if name not in model.model_fields:
            model = ScenarioFile
    else:
        model = _SECTIONS[path[0]]
    if name not in model.model_fields and name in LotIn.model_fields:
        model = LotIn
    return (model, name) if name in model.model_fields else None


def _field_help(path: tuple[str, ...]) -> str:
    """The description of the scenario field at `path` (its docstring in planner.scenario)."""
    found = _scenario_field(path)
    text = (found[0].model_fields[found[1]].description or "") if found is not None else ""
    return " ".join(text.split())


def column_bounds(column: BookColumn) -> tuple[float, float]:
    """The bounds of a number column: those of the scenario field it fills (or is `like`)."""
    found = _scenario_field(column.path or column.like)
    return bounds_of(*found) if found is not None else (-math.inf, math.inf)


# ----------------------------------------------------------------------------------------------
# Units of work
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """One client of a book: its scenario as plain data (tables) or YAML text (a file), or the
    reason it cannot be read. Plain data, so it pickles to any worker."""

    client_id: str
    source: str  # names the client in messages
    data: dict[str, Any] | None = None
    text: str | None = None
    error: str | None = None  # stage "read": the client cannot be turned into a scenario
    rows: dict[str, str] = field(default_factory=dict)  # "grants[1]" -> "grants.csv row 14"

    def validated(self, overrides: Overrides = NO_OVERRIDES) -> Validated:
        """The validated scenario; `InputError` (one line, table rows named) if it is not one."""
        if self.error is not None:
            raise InputError(self.error)
        try:
            if self.text is not None:
                return validate_text(self.text, self.source, overrides=overrides)
            return validate(self.data, self.source, overrides=overrides)
        except InputError as exc:
            raise InputError(self._with_rows(str(exc))) from None

    def time_limit(self, overrides: Overrides = NO_OVERRIDES) -> float:
        """The time limit this client plans with (`Overrides.over` its document's), read
        from its `solver` section alone: the batch engine bounds its waits by it without
        validating every client in its own process. A section that does not validate counts as
        the default: such a client fails validation before any solver runs."""
        section = self._document().get("solver")
        try:
            solver = Solver.model_validate(section if isinstance(section, dict) else {})
        except ValidationError:
            solver = Solver()
        return overrides.over(PlanOptions(time_limit=solver.time_limit)).time_limit

    def path_count(self) -> int:
        """How many price paths the client's file lists (a scenario file may; a table book's
        client cannot): a batch plans the client on its own prices and says it ignored them."""
        paths = self._document().get("paths")
        return len(paths) if isinstance(paths, list) else 0

    def _document(self) -> dict[str, Any]:
        """The client's document as plain data, unvalidated; {} if it cannot be read."""
        data = self.data
        if self.text is not None:
            try:
                data = parse_yaml(self.text, self.source)[0]
            except InputError:
                data = None
        return data if isinstance(data, dict) else {}

    def _with_rows(self, message: str) -> str:
        """`grants[1].strike` also names the table row: `grants[1] (grants.csv row 14).strike`."""

        def add(m: re.Match[str]) -> str:
            where = self.rows.get(m.group(0))
            return f"{m.group(0)} ({where})" if where else m.group(0)

        return re.sub(r"\b(?:grants|lots)\[\d+\]", add, message, count=1)


@dataclass
class Book:
    """A book read: its clients in client-id order, the tables (for the vectorized crossover)
    and a fingerprint of the input files."""

    path: Path
    kind: str  # "tables" or "scenarios"
    clients: list[Client]
    tables: dict[str, pd.DataFrame]
    files: dict[str, Path]
    fingerprint: str
    malformed: dict[str, str] = field(default_factory=dict)  # client -> a row that cannot be read

    def __len__(self) -> int:
        return len(self.clients)


def read_book(path: Path, documents: bool = True) -> Book:
    """Read a book folder: tables, or else *.yaml scenario files. Without `documents`, a table
    book is only read and checked as tables (for the vectorized crossover): no clients."""
    if not path.is_dir():
        raise InputError(f"{path}: a book is a folder (clients + grants tables, or *.yaml files)")
    files = _table_files(path)
    if "clients" in files:
        return _read_tables(path, files, documents)
    scenarios = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    if scenarios:
        return _read_scenarios(path, scenarios)
    raise InputError(
        f"{path}: no clients table (clients.parquet, .csv or .jsonl) and no *.yaml scenario files"
    )


def _table_files(folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name in BOOK_COLUMNS:
        found = [folder / f"{name}{s}" for s in TABLE_SUFFIXES if (folder / f"{name}{s}").exists()]
        if len(found) > 1:
            raise InputError(f"{folder}: both {found[0].name} and {found[1].name}; keep one")
        if found:
            out[name] = found[0]
    return out


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for p in sorted(paths):
        digest.update(p.name.encode() + b"\0")
        with p.open("rb") as fh:  # streamed: a client file may be far over its size budget
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()


def scenario_book(path: Path) -> Book:
    """One plan scenario file as a book of one client (for `isoplan crossover FILE`); a file that
    cannot be read is bad input, said in one line."""
    book = _read_scenarios(path.parent, [path])
    error = book.clients[0].error
    if error is not None:
        raise InputError(error)
    return book


def _read_scenarios(folder: Path, paths: list[Path]) -> Book:
    clients: dict[str, Client] = {}
    for p in paths:
        cid = p.stem
        if cid in clients:
            clients[cid] = Client(cid, str(p), error=f"{p.name}: {cid!r} is also another file")
            continue
        try:
            text = read_yaml_text(p)
        except InputError as exc:  # this client fails; the others are planned
            clients[cid] = Client(cid, str(p), error=str(exc))
            continue
        clients[cid] = Client(cid, p.name, text=text)
    ordered = [clients[k] for k in sorted(clients)]
    return Book(folder, "scenarios", ordered, {}, {}, _fingerprint(paths))


# ----------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------


def _check_columns(path: Path, df: pd.DataFrame, columns: tuple[BookColumn, ...]) -> None:
    known = [c.name for c in columns]
    for c in columns:
        if c.required and c.name not in df.columns:
            raise InputError(f"{path}: missing column '{c.name}'")
    for name in df.columns:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError(f"{path}: unknown column '{name}'{hint}")


def _cell(v: Any) -> Any:
    """A table cell as plain data; empty cells (None, NaN, blank text) are None."""
    if isinstance(v, str):
        v = v.strip()
        return v or None
    if v is None or (not isinstance(v, list | dict | np.ndarray) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    elif isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, datetime) and v.time() == datetime.min.time():
        return v.date()
    return v


def _column(s: pd.Series) -> list[Any]:
    """A column's cells as plain data (empty cells None), converted column by column."""
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
        return [None if v is pd.NA else v for v in s.tolist()]
    if pd.api.types.is_float_dtype(s):
        return [None if v != v else v for v in s.tolist()]  # NaN is not equal to itself
    return [_cell(v) for v in s.tolist()]


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows with empty cells left out."""
    names = list(df.columns)
    columns = [_column(df[c]) for c in names]
    return [
        {k: v for k, v in zip(names, row, strict=True) if v is not None}
        for row in zip(*columns, strict=True)
    ] if names else [{} for _ in range(len(df))]  # fmt: skip


def client_key(v: Any) -> str | None:
    """A client_id cell as the book keys it: text, a whole number without its ".0", or None."""
    v = _cell(v)
    return None if v is None else id_text(v)


def _put(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = doc
    for key in path[:-1]:
        if key == "0":  # the one tender offer of a table row
            if not node:
                node.append({})
            node = node[0]
            continue
        node = node.setdefault(key, [] if key == "tender_offers" else {})
    node[path[-1]] = value


def _read_tables(folder: Path, files: dict[str, Path], documents: bool = True) -> Book:
    tables: dict[str, pd.DataFrame] = {}
    numbers: dict[str, list[int]] = {}  # the file row of each table row
    malformed: dict[str, str] = {}
    names = {k: p.name for k, p in files.items()}
    for name, columns in BOOK_COLUMNS.items():
        if name not in files:
            tables[name] = pd.DataFrame({c.name: [] for c in columns if c.required})
            numbers[name] = []
            continue
        text = tuple(c.name for c in columns if c.type in ("text", "date"))
        bad: list[tuple[int, str, str]] = []
        df = read_table(files[name], text_columns=text, allow_empty=name != "clients",
                        malformed=bad)  # fmt: skip
        _check_columns(files[name], df, columns)
        tables[name] = df
        skipped = {row for row, _, _ in bad}
        numbers[name] = [r for r in range(1, len(df) + len(bad) + 1) if r not in skipped]
        for row, line, why in bad:  # the whole client fails, never planned without that row
            cid = _field_of(line, list(df.columns).index("client_id"))
            malformed.setdefault(cid, f"{names[name]} row {row}: {why}")
    clients_path = files["clients"]
    fingerprint = _fingerprint([clients_path, *(p for k, p in files.items() if k != "clients")])
    if not documents:
        return Book(folder, "tables", [], tables, files, fingerprint, malformed)
    docs: dict[str, dict[str, Any]] = {}
    problems: dict[str, list[str]] = defaultdict(list)
    for cid, why in malformed.items():
        problems[cid].append(why)
    rows_of: dict[str, dict[str, str]] = defaultdict(dict)
    first_row: dict[str, int] = {}

    ids = [client_key(v) for v in tables["clients"]["client_id"]]
    rows = zip(ids, numbers["clients"], _records(tables["clients"]), strict=True)
    for i, (cid, number, row) in enumerate(rows):
        where = f"{names['clients']} row {number}"
        if cid is None or len(cid) > MAX_CLIENT_ID:
            why = "must not be empty" if cid is None else f"longer than {MAX_CLIENT_ID} characters"
            problems[cid or ""].append(f"{where}: client_id: {why}")
            continue
        if cid in first_row:
            problems[cid].append(
                f"{where}: client_id {cid!r} is also row {numbers['clients'][first_row[cid]]} "
                f"of {names['clients']}"
            )
            continue
        first_row[cid] = i
        docs[cid], bad = _client_doc(cid, row)
        if bad:
            problems[cid].append(f"{where}: {bad}")

    _add_years(tables["years"], names.get("years", ""), numbers["years"], docs, problems)
    _add_grants(
        tables["grants"], names.get("grants", ""), numbers["grants"], docs, problems, rows_of
    )

    clients: list[Client] = []
    for cid in sorted(set(docs) | set(problems)):
        source = f"{folder.name}/{names['clients']}: client {cid}"
        if problems.get(cid):
            more = len(problems[cid]) - 1
            tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            clients.append(Client(cid, source, error=problems[cid][0] + tail))
        else:
            clients.append(Client(cid, source, data=docs[cid], rows=rows_of.get(cid, {})))
    return Book(folder, "tables", clients, tables, files, fingerprint, malformed)


def _field_of(line: str, index: int) -> str:
    """A field of a CSV line (the client of a malformed row), '' if it has none."""
    fields = next(csv.reader([line]), [])
    return fields[index].strip() if index < len(fields) else ""


def book_state(value: Any) -> Any:
    """A clients row's state as the scenario's residence: CA is California (`ca`); any other
    text is a state whose tax isoplan does not compute (no state tax, as before states were
    modelled). Not text: left for the scenario's validation to refuse."""
    if not isinstance(value, str):
        return value
    return "ca" if value.strip().lower() == "ca" else ""


def _client_doc(cid: str, row: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The scenario document of a clients row (prices from fmv and fmv_growth), and what is
    wrong with its fmv_growth, which fills no scenario field (the prices it makes do), so the
    scenario's validation cannot say: it has the bounds of wage_growth."""
    doc: dict[str, Any] = {"description": f"client {cid}"}
    for col in CLIENT_COLUMNS:
        if col.path and col.name in row:
            value = book_state(row[col.name]) if col.name == "state" else row[col.name]
            _put(doc, col.path, value)
    doc.setdefault("prices", {})
    given = row.get("fmv_growth", 0.0)
    lo, hi = column_bounds(next(c for c in CLIENT_COLUMNS if c.name == "fmv_growth"))
    ok = _is_number(given) and lo <= given <= hi  # NaN fails too
    growth = float(given) if ok else 0.0
    bad = None if ok else (
        f"fmv_growth: must be a number between {bound_text(lo)} and {bound_text(hi)}, "
        f"got {given!r}"
    )  # fmt: skip
    horizon = doc.get("horizon", {})
    first, years, fmv = horizon.get("first_year"), horizon.get("years"), row.get("fmv")
    if _whole(first) and _whole(years) and 0 < years <= 100 and fmv is not None:
        for k in range(int(years)):
            try:
                price: Any = round(float(fmv) * (1.0 + growth) ** k, 2)
            except (TypeError, ValueError, OverflowError):
                price = fmv  # not a number: the scenario's validation says so
            doc["prices"][int(first) + k] = price
    return doc, bad


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _whole(v: Any) -> bool:
    return _is_number(v) and float(v).is_integer()


def _client_rows(
    df: pd.DataFrame,
    name: str,
    numbers: list[int],
    docs: dict[str, dict[str, Any]],
    problems: dict[str, list[str]],
) -> Iterator[tuple[int, str, str, dict[str, Any]]]:
    """(index, client, 'file row N', cells) of the rows of a client of the clients table; a row
    of another client is that client's problem."""
    ids = [client_key(v) for v in df["client_id"]] if len(df) else []
    for i, (cid, row) in enumerate(zip(ids, _records(df), strict=True)):
        where = f"{name} row {numbers[i]}"
        if cid is None or cid not in docs:
            problems[cid or ""].append(f"{where}: no client {cid!r} in the clients table")
            continue
        yield i, cid, where, row


def _add_years(
    df: pd.DataFrame,
    name: str,
    numbers: list[int],
    docs: dict[str, dict[str, Any]],
    problems: dict[str, list[str]],
) -> None:
    seen: dict[tuple[str, Any], int] = {}
    for i, cid, where, row in _client_rows(df, name, numbers, docs, problems):
        year = row.get("year")
        if not _whole(year):
            problems[cid].append(f"{where}: year: expected a year like 2026, got {year!r}")
            continue
        year = int(year)
        if (cid, year) in seen:
            problems[cid].append(f"{where}: year {year} is also row {numbers[seen[cid, year]]}")
            continue
        seen[cid, year] = i
        doc = docs[cid]
        for col in YEAR_COLUMNS:
            if col.path and col.name in row:
                section, key = col.path
                if section == "prices":
                    price = doc["prices"].get(year)
                    price = dict(price) if isinstance(price, dict) else {"fmv": price}
                    if price["fmv"] is None:
                        del price["fmv"]
                    price[key] = row[col.name]
                    doc["prices"][year] = price
                else:
                    value = book_state(row[col.name]) if key == "state" else row[col.name]
                    doc.setdefault("years", {}).setdefault(year, {})[key] = value


def _add_grants(
    df: pd.DataFrame,
    name: str,
    numbers: list[int],
    docs: dict[str, dict[str, Any]],
    problems: dict[str, list[str]],
    rows_of: dict[str, dict[str, str]],
) -> None:
    paths = {c.name: c.path for c in GRANT_COLUMNS if c.path}
    only = {  # columns of the other kind of record
        r: {c.name for c in GRANT_COLUMNS if c.record and c.record != r} for r in ("grant", "lot")
    }
    for _, cid, where, row in _client_rows(df, name, numbers, docs, problems):
        record = str(row.get("record", "")).lower()
        if record not in ("grant", "lot"):
            problems[cid].append(
                f"{where}: record: expected grant or lot, got {row.get('record')!r}"
            )
            continue
        other = row.keys() & only[record]
        if other:
            problems[cid].append(f"{where}: column '{min(other)}' does not apply to a {record}")
            continue
        item: dict[str, Any] = {}
        for key, value in row.items():
            path = paths.get(key)
            if path is None:
                continue
            if len(path) == 1:
                item[path[0]] = value
            else:
                _put(item, path, value)
        doc = docs[cid]
        key = "grants" if record == "grant" else "lots"
        entries = doc.setdefault(key, [])
        rows_of[cid][f"{key}[{len(entries)}]"] = where
        entries.append(item)
        if "required_exercise" in row:
            required = doc.setdefault("objective", {}).setdefault("required_exercise", {})
            required[row.get("id")] = row["required_exercise"]


def book_schema() -> dict[str, Any]:
    """The book format as a JSON document: each table's columns, their types and meaning."""
    tables = {}
    for name, columns in BOOK_COLUMNS.items():
        tables[name] = {
            "required": name in REQUIRED_TABLES,
            "columns": [
                {
                    "name": c.name,
                    "type": c.type,
                    "required": c.required,
                    **({"record": c.record} if c.record else {}),
                    **({"scenario_field": ".".join(c.path).replace(".0.", "[0].")}
                       if c.path else {}),
                    "description": c.description,
                }
                for c in columns
            ],
        }  # fmt: skip
    return {
        "title": "isoplan book",
        "description": (
            "A folder of tables (.parquet, .csv or .jsonl): clients (one row per client), grants "
            "(one row per option grant or lot held, record = grant or lot) and optionally years "
            "(per-year FMV, dates and income overrides). Each client becomes the scenario whose "
            "fields the columns name (`isoplan schema`); empty cells take the scenario's "
            "defaults. Instead of tables, a book may be a folder of *.yaml scenario files, one "
            "client each, named by the file."
        ),
        "tables": tables,
    }
