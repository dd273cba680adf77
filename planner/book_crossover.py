"""This year's AMT-free ISO exercise for every client of a book, at once.

For each client: the household of the year (the first of its horizon unless another is asked),
the ISO shares vested and exercisable on that year's exercise date, and the most of them it can
exercise and hold without AMT (within `amt_budget`). With several ISO grants, the shares with the
smallest spread go first (that exercises the most shares for the spread the AMT leaves room for).

The search is the exact one of `planner.household_taxes.compute_crossover`, run on the spread in
cents (the largest spread whose AMT is within budget), then split over the grants; the AMT of the
chosen exercise is computed exactly again.

A table book is read vectorized: the vesting schedule, the $100,000 ISO limit (§422(d)) and the
shares exercised before are the rules of `models.grants` run on all grants together
(`exercisable_iso`), the code `planner.scenario` runs on one grant at a time. It checks the
columns it reads; `isoplan batch` validates every rule of the scenario format. A book of scenario
files goes through the full validation, one client at a time.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from models.forms import VECTOR
from models.grants import (
    NEVER,
    Vesting,
    day_of,
    exercisable,
    exercised_before,
    expiry,
    first_exercisable,
    iso_deadline,
    iso_part,
    iso_vested,
    latest_expiry,
)
from models.law import STATUS_INDEX, STATUSES, IsoLaw, iso_law_for
from models.scenario import ISO, OWN_FIELDS
from planner.book import BOOK_COLUMNS, Book, book_state, client_key, column_bounds
from planner.errors import InputError, LawYearError
from planner.household_taxes import compute_crossover, compute_tax
from planner.households import GRANT_COLUMNS, HOUSEHOLD_COLUMNS, number_problems, senior_problems
from planner.law import law_for_years
from planner.options import Overrides
from planner.scenario import DEFAULT_EXERCISE_MONTH_DAY, PERIOD_MONTHS, Grant, bound_text

BOOK_CROSSOVER_COLUMNS = (
    "client_id", "year", "filing_status", "iso_shares", "shares", "spread", "amt",
    "spread_capacity", "all_exercisable", "by_grant", "regular_tax", "tmt_before", "amt_before",
    "mtc_allowed_before", "amt_budget", "itemized", "projected", "state", "ca_amt", "error",
)  # fmt: skip
HOUSEHOLD_FIELDS = (*OWN_FIELDS, "amt_credit_carryforward")
POST_TERMINATION_DAYS = Grant.model_fields["post_termination_days"].default
# The probe of `book_crossover` counts cents of spread as its "shares": a client's whole room,
# unbounded by the share count of any one grant.
_PROBE_COLUMNS = tuple(
    replace(c, maximum=math.inf) if c.name == "shares" else c for c in GRANT_COLUMNS
)
_NO_GRANT_DAY = day_of(date(2000, 1, 1))  # stands in for a grant_date that is not a date (an error)
# The ISO grants of no client, typed (the empty columns of a bare DataFrame are objects).
_NO_ISO = pd.DataFrame({
    "client_id": pd.Series(dtype=object), "grant_id": pd.Series(dtype=object),
    "strike": pd.Series(dtype=float), "fmv": pd.Series(dtype=float),
    "shares": pd.Series(dtype=np.int64),
})  # fmt: skip
# The bounds of every number column, as the scenario schema bounds the field it fills.
_BOUNDS = {
    table: {c.name: column_bounds(c) for c in columns if c.type in ("number", "integer")}
    for table, columns in BOOK_COLUMNS.items()
}


class ClientErrors:
    """Per-client problems (the first one of each client is kept)."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    def add(self, ids: np.ndarray, mask: np.ndarray, why: str) -> None:
        for cid in ids[mask]:
            self.reasons.setdefault(str(cid), why)


def _number(
    values: pd.Series | None,
    default: float,
    ids: np.ndarray,
    errors: ClientErrors,
    what: str,
    bounds: tuple[float, float],
) -> np.ndarray:
    """A column as floats, `default` where a cell is empty; a cell that is not a finite number
    within `bounds` (planner.limits, as the scenario schema bounds the field) is its client's
    error, never a silent 0 or infinity."""
    if values is None:
        return np.full(len(ids), default)
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    empty = values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
    lo, hi = bounds
    errors.add(ids, ~empty & ~np.isfinite(v), f"{what} must be a finite number")
    inside = np.isfinite(v) & (v >= lo) & (v <= hi)
    span = f"between {bound_text(lo)} and {bound_text(hi)}"
    errors.add(ids, np.isfinite(v) & ~inside, f"{what} must be {span}")
    return np.where(inside, v, default)


def _days(values: pd.Series | None, n: int) -> np.ndarray:
    """Dates as datetime64[D] (NaT where empty or not a date)."""
    if values is None:
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    try:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    except (ValueError, TypeError, OverflowError):  # e.g. dates with mixed time zones: one by one
        parsed = pd.to_datetime(pd.Series([_date(v) for v in values]), errors="coerce")
    return parsed.to_numpy(dtype="datetime64[D]")


def _date(value: object) -> pd.Timestamp | None:
    """One cell as a date, None where it is none (its client's error then)."""
    try:
        return pd.Timestamp(value).tz_localize(None)
    except (ValueError, TypeError, OverflowError):
        return None


def _day_numbers(dates: np.ndarray, default: np.ndarray | int) -> np.ndarray:
    """Dates as the day numbers of `models.grants`, `default` where there is none."""
    return np.where(np.isnat(dates), default, dates.astype(np.int64))


# ----------------------------------------------------------------------------------------------
# ISO shares exercisable (models.grants on every grant row at once)
# ----------------------------------------------------------------------------------------------


def iso_law_of_years(years: np.ndarray, inflation: float | None, allow_projection: bool) -> IsoLaw:
    """The §422 figures of each row's tax year. A year without law has none (no share counts as
    ISO): `compute_crossover` reports that year with its row, as it does for any household."""
    figures = {}
    for y in np.unique(years).tolist():
        try:
            figures[y] = iso_law_for(law_for_years([y], inflation, allow_projection)[y])
        except LawYearError:
            continue
    rows = pd.Series(years)

    def column(name: str) -> np.ndarray:
        return rows.map({y: getattr(f, name) for y, f in figures.items()}).fillna(0).to_numpy()

    return IsoLaw(
        annual_limit=column("annual_limit").astype(np.float64),
        post_termination_months=column("post_termination_months").astype(np.int64),
        max_term_years=column("max_term_years").astype(np.int64),
    )


def exercisable_iso(
    grants: pd.DataFrame,
    client_of: np.ndarray,
    exercise_day: np.ndarray,
    first_year: np.ndarray,
    exercised: np.ndarray,
    law: IsoLaw,
    errors: ClientErrors,
) -> np.ndarray:
    """ISO shares of each grant row exercisable (and taxed as ISO) on its client's exercise day.

    `grants` holds the grant rows (in the book's order), `client_of` the index of each one's
    client in `exercise_day` (day numbers) and `first_year`, `exercised` the shares exercised
    before, `law` each row's §422 figures."""
    n = len(grants)
    if not n:
        return np.zeros(0, dtype=np.int64)
    ids = grants["client_id"].to_numpy(dtype=object)

    def number(name: str, default: float = np.nan) -> np.ndarray:
        bounds = _BOUNDS["grants"][name]
        return _number(grants.get(name), default, ids, errors, f"grants: '{name}'", bounds)

    num = {
        "strike": number("strike"),
        "shares": number("shares"),
        "fmv_at_grant": number("fmv_at_grant"),
        "cliff_months": number("cliff_months", 0.0),
        "vest_months": number("vest_months"),
        "post_termination_days": number("post_termination_days", POST_TERMINATION_DAYS),
    }
    for name in ("strike", "shares", "vest_months"):
        errors.add(ids, np.isnan(num[name]), f"grants: '{name}' must be a number")
    strike = np.nan_to_num(num["strike"])
    fmv_grant = num["fmv_at_grant"]
    fmv_grant = np.where(np.isnan(fmv_grant), strike, fmv_grant)
    every = grants.get("vest_every", pd.Series("monthly", index=grants.index))
    every = every.fillna("monthly").astype(str).str.strip().str.lower()
    period = every.map(PERIOD_MONTHS).to_numpy(dtype=float)
    errors.add(ids, np.isnan(period), "grants: vest_every must be monthly, quarterly or annual")
    grant_date = _days(grants.get("grant_date"), n)
    grant_ok = ~np.isnat(grant_date)
    errors.add(ids, ~grant_ok, "grants: grant_date must be a date")
    grant_day = _day_numbers(grant_date, _NO_GRANT_DAY)
    termination = _day_numbers(_days(grants.get("termination_date"), n), NEVER)
    post = num["post_termination_days"].astype(np.int64)
    given = _days(grants.get("expiry"), n)
    v = Vesting(
        grant_date=grant_day,
        start=_day_numbers(_days(grants.get("vest_start"), n), grant_day),
        cliff_months=num["cliff_months"].astype(np.int64),
        months=np.nan_to_num(num["vest_months"]).astype(np.int64),
        period_months=np.nan_to_num(period, nan=1.0).astype(np.int64),
        shares=np.nan_to_num(num["shares"]).astype(np.int64),
        termination=termination,
        expiry=expiry(
            _day_numbers(given, latest_expiry(grant_day, law, VECTOR)), termination, post, VECTOR
        ),
    )

    day = exercise_day[client_of]
    day_year = VECTOR.ymd(day)[0]
    earliest = min(VECTOR.ymd(grant_day)[0].min(), day_year.min())
    years = list(range(int(earliest), int(day_year.max()) + 1))
    first = first_exercisable(v, years, VECTOR)

    # §422(d): per client, employer and calendar year, in the order granted
    is_iso = (grants["type"].astype(str).str.strip().str.lower() == ISO).to_numpy()
    employer = grants.get("employer", pd.Series("employer", index=grants.index))
    employer = employer.fillna("employer").astype(str).to_numpy()
    order = np.lexsort((np.arange(n), grant_day, employer, client_of))
    key = list(zip(client_of[order], employer[order], strict=True))
    new = np.array([True] + [key[i] != key[i - 1] for i in range(1, n)])
    group = np.zeros(n, dtype=np.int64)
    rank = np.zeros(n, dtype=np.int64)
    group[order] = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
    left = np.zeros((group.max() + 1, len(years)))  # of each group's yearly limits
    left[group] = law.annual_limit[:, None]
    iso = [np.zeros(n, dtype=np.int64) for _ in years]
    for r in range(int(rank.max()) + 1):
        rows = np.flatnonzero(rank == r)
        budget = list(left[group[rows]].T)
        first_rows = [f[rows] for f in first]
        part, after = iso_part(first_rows, fmv_grant[rows], is_iso[rows], budget, VECTOR)
        for j, iso_shares in enumerate(part):
            iso[j][rows] = iso_shares
        left[group[rows]] = np.stack(after, axis=1)

    used_iso, _, vested_before = exercised_before(
        exercised, first, iso, years, first_year[client_of], VECTOR
    )
    errors.add(ids, exercised > vested_before,
               "grants: more shares exercised than vested before the horizon")  # fmt: skip
    shares = exercisable(day, iso_vested(day, v, iso, years, VECTOR), used_iso, v.expiry, VECTOR)
    taxed_as_iso = day <= iso_deadline(termination, law, VECTOR)
    return np.where(is_iso & taxed_as_iso & grant_ok, shares, 0)


# ----------------------------------------------------------------------------------------------
# Per-client inputs
# ----------------------------------------------------------------------------------------------


def inputs_from_tables(
    book: Book, year: int | None, inflation: float | None = None, allow_projection: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(households, iso, errors): one household row per client (the columns of
    `planner.households`), one row per ISO grant with vested shares, per-client errors."""
    errors = ClientErrors()
    errors.reasons.update(book.malformed)
    for c in book.clients:
        if c.error is not None:
            errors.reasons[c.client_id] = c.error
    clients = book.tables["clients"].copy()
    clients["client_id"] = clients["client_id"].map(client_key)
    clients = clients[clients["client_id"].notna()]
    clients = clients[~clients["client_id"].duplicated(keep=False)].reset_index(drop=True)
    ids = clients["client_id"].to_numpy(dtype=object)
    n = len(clients)

    def number(name: str, default: float = 0.0) -> np.ndarray:
        bounds = _BOUNDS["clients"][name]
        return _number(clients.get(name), default, ids, errors, f"clients: '{name}'", bounds)

    first = number("first_year", np.nan)
    span = number("years", np.nan)
    errors.add(ids, np.isnan(first) | np.isnan(span), "clients: first_year and years are required")
    first = np.nan_to_num(first, nan=2000).astype(np.int64)
    span = np.nan_to_num(span, nan=1).astype(np.int64)
    the_year = first if year is None else np.full(n, year)
    k = the_year - first
    errors.add(ids, (k < 0) | (k >= span), f"year {year} is outside the client's horizon")

    overrides = _year_overrides(book, clients, the_year, errors)
    house = pd.DataFrame({"id": ids, "year": the_year})
    status = clients["filing_status"].astype(str).str.strip().str.lower()
    errors.add(ids, ~status.isin(STATUSES).to_numpy(), "clients: unknown filing_status")
    house["filing_status"] = status.where(status.isin(STATUSES), STATUSES[0]).to_numpy()
    income = {f: overrides.get(f, number(f)) for f in ("bonus", "rsu_income")}
    growth = number("wage_growth")
    wages = np.round(number("wages") * (1.0 + growth) ** k, 2)
    wages = overrides.get("wages", wages)
    house["wages"] = np.round(wages + income["bonus"] + income["rsu_income"], 2)
    house["ordinary_income"] = overrides.get(
        "other_ordinary_income", number("other_ordinary_income")
    )
    for f in OWN_FIELDS:
        if f not in ("wages", "ordinary_income"):
            house[f] = overrides.get(f, number(f))
    house["amt_credit_carryforward"] = np.where(k == 0, number("amt_credit_carryforward"), 0.0)
    house["ca_amt_credit_carryforward"] = np.where(
        k == 0, number("ca_amt_credit_carryforward"), 0.0
    )
    state = clients.get("state")
    own_state = "" if state is None else state.map(book_state).fillna("").to_numpy()
    house["state"] = overrides.get("state", own_state)
    itemize = overrides.get("itemize", clients.get("itemize"))
    house["itemize"] = itemize if itemize is not None else np.nan
    fmv = np.round(number("fmv", np.nan) * (1.0 + number("fmv_growth")) ** k, 2)
    given = overrides.get("fmv", np.full(n, np.nan))
    fmv = np.where(np.isnan(given), fmv, given)
    errors.add(ids, np.isnan(fmv), "no FMV for the year (clients: fmv, or years: fmv)")
    day = VECTOR.day(the_year, *DEFAULT_EXERCISE_MONTH_DAY)
    if "exercise_date" in overrides:
        day = _day_numbers(overrides["exercise_date"], day)

    for i, why in number_problems(house, HOUSEHOLD_COLUMNS).items():
        errors.reasons.setdefault(str(ids[i]), f"clients: {why}")
    codes = house["filing_status"].map(STATUS_INDEX).to_numpy()
    seniors, aged_blind = house["seniors"].to_numpy(), house["aged_blind"].to_numpy()
    for rows, why in senior_problems(codes, seniors, aged_blind):
        errors.add(ids, rows, f"clients: field 'seniors': {why}")

    g = book.tables["grants"]
    iso = _NO_ISO
    if len(g):
        g = g.assign(
            client_id=g["client_id"].map(client_key), record=g["record"].astype(str).str.lower()
        )
        position = pd.Series(np.arange(n), index=ids)
        held = _exercised_before(g, errors)
        grants = g[(g["record"] == "grant") & g["client_id"].isin(position.index)]
        grants = grants.reset_index(drop=True)
        of = position[grants["client_id"]].to_numpy()
        key = list(zip(grants["client_id"], grants["id"].astype(str), strict=True))
        given = _number(grants.get("exercised"), np.nan, grants["client_id"].to_numpy(), errors,
                        "grants: 'exercised'", _BOUNDS["grants"]["exercised"])  # fmt: skip
        exercised = np.where(np.isnan(given), [held.get(x, 0) for x in key], given)
        law = iso_law_of_years(the_year[of], inflation, allow_projection)
        shares = exercisable_iso(grants, of, day, first, exercised.astype(np.int64), law, errors)
        strike = np.nan_to_num(pd.to_numeric(grants.get("strike", np.nan), errors="coerce"))
        iso = pd.DataFrame({"client_id": grants["client_id"], "grant_id": grants["id"].astype(str),
                            "strike": strike, "fmv": fmv[of], "shares": shares})  # fmt: skip
        iso = iso[iso["shares"] > 0]
    return house, iso.reset_index(drop=True), errors.reasons


def _exercised_before(g: pd.DataFrame, errors: ClientErrors) -> dict[tuple[str, str], int]:
    """Shares of each (client, grant) in lots of ISO or NSO shares."""
    lots = g[(g["record"] == "lot") & g["type"].astype(str).str.lower().isin(["iso", "nso"])]
    if lots.empty or "grant_id" not in lots:
        return {}
    ids = lots["client_id"].to_numpy()
    shares = pd.Series(_number(lots.get("shares"), 0.0, ids, errors, "grants: lot 'shares'",
                               _BOUNDS["grants"]["shares"]), index=lots.index)  # fmt: skip
    sums = shares.groupby([lots["client_id"], lots["grant_id"].astype(str)]).sum()
    return {k: int(v) for k, v in sums.items()}


def _year_overrides(
    book: Book, clients: pd.DataFrame, the_year: np.ndarray, errors: ClientErrors
) -> dict[str, np.ndarray]:
    """Columns of the years table for each client's year (NaN where not given)."""
    y = book.tables["years"]
    if not len(y):
        return {}
    y = y.assign(
        client_id=y["client_id"].map(client_key), year=pd.to_numeric(y["year"], errors="coerce")
    )
    y = y.drop_duplicates(["client_id", "year"])
    want = pd.DataFrame({"client_id": clients["client_id"], "year": the_year})
    merged = want.merge(y, on=["client_id", "year"], how="left")
    out: dict[str, np.ndarray] = {}
    for c in y.columns:
        if c in ("client_id", "year") or merged[c].isna().all():
            continue
        if c in ("exercise_date", "sale_date"):
            out[c] = _days(merged[c], len(merged))
        elif c == "itemize":
            out[c] = merged[c].to_numpy()
        elif c == "state":  # that year's residence, else the client's
            own = clients["state"] if "state" in clients else pd.Series("", index=clients.index)
            out[c] = merged[c].where(merged[c].notna(), own.to_numpy()).map(book_state)
            out[c] = out[c].fillna("").to_numpy()
        else:
            bounds = _BOUNDS["years"].get(c, (-math.inf, math.inf))
            ids = merged["client_id"].to_numpy(dtype=object)
            given = _number(merged[c], np.nan, ids, errors, f"years: '{c}'", bounds)
            if c == "fmv":
                out[c] = given
            else:
                base = pd.to_numeric(clients.get(c), errors="coerce") if c in clients else None
                default = base.fillna(0).to_numpy() if base is not None else np.zeros(len(given))
                out[c] = np.where(np.isnan(given), default, given)
    return out


def inputs_from_scenarios(
    book: Book, year: int | None, allow_projection: bool | None, inflation: float | None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The same inputs through the full validation of each client's scenario (exact, slower)."""
    houses, isos, errors = [], [], {}
    overrides = Overrides(inflation=inflation, allow_projection=allow_projection)
    for c in book.clients:
        try:
            s = c.validated(overrides).scenario
        except InputError as exc:
            errors[c.client_id] = str(exc)
            continue
        y = s.years[0].year if year is None else year
        if y not in s.year_numbers:
            errors[c.client_id] = f"year {year} is outside the client's horizon"
            continue
        ty = s.years[s.year_numbers.index(y)]
        houses.append({
            "id": c.client_id, "year": y, "filing_status": s.filing_status,
            **{f: getattr(ty, f) for f in OWN_FIELDS},
            "amt_credit_carryforward": s.amt_credit_carryforward if y == s.years[0].year else 0.0,
            "ca_amt_credit_carryforward": (
                s.ca_amt_credit_carryforward if y == s.years[0].year else 0.0
            ),
            "state": ty.state,
            "itemize": np.nan if ty.itemize is None else float(ty.itemize),
        })  # fmt: skip
        for o in s.options:
            shares = o.exercisable.get(y, 0.0)
            if o.treatment(ty.exercise_date) == ISO and shares > 0:
                isos.append({"client_id": c.client_id, "grant_id": o.id, "strike": o.strike,
                             "fmv": ty.fmv, "shares": int(shares)})  # fmt: skip
    house = pd.DataFrame(houses)
    iso = pd.DataFrame(isos, columns=list(_NO_ISO.columns)) if isos else _NO_ISO
    return house, iso, errors


# ----------------------------------------------------------------------------------------------
# The crossover
# ----------------------------------------------------------------------------------------------


def book_crossover(
    book: Book,
    year: int | None = None,
    amt_budget: float = 0.0,
    inflation: float | None = None,
    allow_projection: bool = True,
) -> pd.DataFrame:
    """One row per client (`BOOK_CROSSOVER_COLUMNS`); clients that cannot be answered have the
    reason in `error` and no figures."""
    if book.kind == "tables":
        house, iso, errors = inputs_from_tables(book, year, inflation, allow_projection)
    else:
        house, iso, errors = inputs_from_scenarios(
            book, year, False if not allow_projection else None, inflation
        )
    good = ~house["id"].isin(list(errors)) if len(house) else pd.Series([], dtype=bool)
    house = house[good].reset_index(drop=True)
    iso = iso[iso["client_id"].isin(house["id"])]
    spread = np.maximum(iso["fmv"].to_numpy() - iso["strike"].to_numpy(), 0.0)
    iso = iso.assign(per_share=np.round(spread, 2))
    iso = iso[iso["per_share"] > 0]
    total = iso.groupby("client_id")["shares"].sum()
    capacity_cents = (iso["per_share"] * iso["shares"] * 100).groupby(iso["client_id"]).sum()
    out = house[["id", "year", "filing_status"]].rename(columns={"id": "client_id"})
    if len(house):
        source = Path(f"{book.path}")
        probe = house.assign(
            strike=0.0, fmv=0.01, amt_budget=amt_budget,
            shares=np.round(capacity_cents.reindex(house["id"]).fillna(0).to_numpy()),
        )  # fmt: skip
        cross = compute_crossover(probe, inflation, allow_projection, source, _PROBE_COLUMNS)
        room = cross["spread"].to_numpy()  # dollars: the largest spread within budget
        chosen, spent, by_grant = _allocate(iso, house["id"], room)
        taxed = compute_tax(house.assign(iso_spread=spent, itemize=cross["itemized"]),
                            inflation, allow_projection, source)  # fmt: skip
        out["iso_shares"] = total.reindex(house["id"]).fillna(0).to_numpy(dtype=np.int64)
        out["shares"] = chosen
        out["spread"] = np.round(spent, 2)
        out["amt"] = taxed["amt"].to_numpy()
        out["state"] = taxed["state"].to_numpy()
        out["ca_amt"] = taxed["ca_amt"].to_numpy()
        out["spread_capacity"] = np.round(room, 2)
        out["all_exercisable"] = chosen == out["iso_shares"].to_numpy()
        out["by_grant"] = by_grant
        for c in ("regular_tax", "tmt_before", "amt_before", "mtc_allowed_before", "amt_budget",
                  "itemized", "projected"):  # fmt: skip
            out[c] = cross[c].to_numpy()
    out["error"] = ""
    failed = pd.DataFrame({"client_id": list(errors), "error": list(errors.values())})
    out = pd.concat([out, failed], ignore_index=True) if len(failed) else out
    out = out.sort_values("client_id", kind="stable").reset_index(drop=True)
    for c in BOOK_CROSSOVER_COLUMNS:
        if c not in out:
            out[c] = np.nan
    return out[list(BOOK_CROSSOVER_COLUMNS)]


def _allocate(
    iso: pd.DataFrame, clients: pd.Series, room: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Shares per client within the spread `room`, smallest spread per share first."""
    position = pd.Series(np.arange(len(clients)), index=clients.to_numpy())
    iso = iso.sort_values(["client_id", "per_share", "grant_id"], kind="stable")
    of = position[iso["client_id"]].to_numpy()
    left = room.copy()
    chosen = np.zeros(len(clients), dtype=np.int64)
    spent = np.zeros(len(clients))
    take = np.zeros(len(iso), dtype=np.int64)
    rank = iso.groupby("client_id").cumcount().to_numpy()
    per_share = iso["per_share"].to_numpy()
    shares = iso["shares"].to_numpy(dtype=np.int64)
    for r in range(int(rank.max()) + 1 if len(rank) else 0):
        rows = np.flatnonzero(rank == r)
        c = of[rows]
        fit = np.floor(np.round(left[c] * 100) / np.round(per_share[rows] * 100)).astype(np.int64)
        n = np.minimum(shares[rows], np.maximum(fit, 0))
        take[rows] = n
        chosen[c] += n
        spent[c] += n * per_share[rows]
        left[c] -= n * per_share[rows]
    labels = [f"{g}={t}" for g, t in zip(iso["grant_id"], take, strict=True)]
    joined = pd.Series(labels).groupby(of).agg(" ".join) if labels else pd.Series(dtype=str)
    by_grant = joined.reindex(np.arange(len(clients))).fillna("").tolist()
    return chosen, spent, by_grant
