"""This year's AMT-free ISO exercise for every client of a book, at once.

For each client: the household of the year (the first of its horizon unless another is asked),
the ISO shares vested and exercisable on that year's exercise date, and the most of them it can
exercise and hold without AMT (within `amt_budget`). With several ISO grants, the shares with the
smallest spread go first (that exercises the most shares for the spread the AMT leaves room for).

The search is the exact one of `planner.api.compute_crossover`, run on the spread in cents (the
largest spread whose AMT is within budget), then split over the grants; the AMT of the chosen
exercise is computed exactly again.

A table book is read vectorized: the vesting schedule, the $100,000 ISO limit (§422(d)) and the
shares exercised before come from numpy over all grants together (`exercisable_iso`), the same
rules as `planner.scenario` (the tests check that both agree on generated books). It checks the
columns it reads; `isoplan batch` validates every rule of the scenario format. A book of scenario
files goes through the full validation, one client at a time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.law import STATUSES
from models.scenario import ISO, OWN_FIELDS
from planner.api import compute_crossover, compute_tax
from planner.book import Book
from planner.errors import InputError
from planner.scenario import (
    DEFAULT_EXERCISE_MONTH_DAY,
    ISO_LIMIT,
    ISO_WINDOW_MONTHS,
    PERIOD_MONTHS,
)

BOOK_CROSSOVER_COLUMNS = (
    "client_id", "year", "filing_status", "iso_shares", "shares", "spread", "amt",
    "spread_capacity", "all_exercisable", "by_grant", "regular_tax", "tmt_before", "amt_before",
    "mtc_allowed_before", "amt_budget", "itemized", "projected", "error",
)  # fmt: skip
HOUSEHOLD_FIELDS = (*OWN_FIELDS, "amt_credit_carryforward")


class ClientErrors:
    """Per-client problems (the first one of each client is kept)."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    def add(self, ids: np.ndarray, mask: np.ndarray, why: str) -> None:
        for cid in ids[mask]:
            self.reasons.setdefault(str(cid), why)


# ----------------------------------------------------------------------------------------------
# Dates as numpy arrays
# ----------------------------------------------------------------------------------------------


def _days(values: pd.Series | None, n: int) -> np.ndarray:
    """Dates as datetime64[D] (NaT where empty or not a date)."""
    if values is None:
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return parsed.to_numpy(dtype="datetime64[D]")


def _ymd(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    months = d.astype("datetime64[M]")
    y = months.astype("datetime64[Y]").astype(np.int64) + 1970
    m = months.astype(np.int64) % 12 + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, day


def _month_length(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    first = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    return ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)


def _date(y: np.ndarray, m: np.ndarray, day: np.ndarray) -> np.ndarray:
    first = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]").astype("datetime64[D]")
    return first + (day - 1).astype("timedelta64[D]")


def add_months(d: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """planner.scenario.add_months, vectorized (the month's last day when it is shorter)."""
    y, m, day = _ymd(d)
    total = (m - 1) + months
    y2, m2 = y + total // 12, total % 12 + 1
    return _date(y2, m2, np.minimum(day, _month_length(y2, m2)))


def months_elapsed(start: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The number of whole months m with add_months(start, m) <= t (negative before start)."""
    sy, sm, sd = _ymd(start)
    ty, tm, td = _ymd(t)
    diff = (ty - sy) * 12 + (tm - sm)
    return diff - (np.minimum(sd, _month_length(ty, tm)) > td)


# ----------------------------------------------------------------------------------------------
# ISO shares exercisable (planner.scenario._options, vectorized)
# ----------------------------------------------------------------------------------------------


def _vested(
    t: np.ndarray,
    grant_date: np.ndarray,
    start: np.ndarray,
    cliff: np.ndarray,
    months: np.ndarray,
    period: np.ndarray,
    shares: np.ndarray,
    stop: np.ndarray,
) -> np.ndarray:
    """Shares vested on or before t (vesting events after `stop` never happen)."""
    t = np.minimum(t, stop)
    m = months_elapsed(start, t)
    q = np.minimum(np.floor_divide(np.maximum(m, 0), period) * period, months)
    mark = np.where(cliff > 0, np.maximum(q, cliff), q)
    mark = np.where(m < cliff, 0, np.minimum(mark, months))
    safe = np.maximum(months, 1)
    scheduled = np.where(months == 0, np.where(t >= start, shares, 0), shares * mark // safe)
    return np.where(t >= grant_date, scheduled, 0)


def exercisable_iso(
    grants: pd.DataFrame,
    client_of: np.ndarray,
    exercise_day: np.ndarray,
    first_year: np.ndarray,
    exercised: np.ndarray,
    errors: ClientErrors,
) -> np.ndarray:
    """ISO shares of each grant row exercisable (and taxed as ISO) on its client's exercise day.

    `grants` holds the grant rows (in the book's order), `client_of` the index of each one's
    client in `exercise_day` and `first_year`, `exercised` the shares exercised before."""
    n = len(grants)
    ids = grants["client_id"].to_numpy(dtype=object)
    num = {c: pd.to_numeric(grants[c], errors="coerce") if c in grants else None for c in
           ("strike", "shares", "fmv_at_grant", "cliff_months", "vest_months",
            "post_termination_days")}  # fmt: skip
    for name in ("strike", "shares", "vest_months"):
        values = num[name] if num[name] is not None else pd.Series(np.nan, index=grants.index)
        errors.add(ids, values.isna().to_numpy(), f"grants: '{name}' must be a number")
    strike = _col(num["strike"], n, 0.0)
    shares = _col(num["shares"], n, 0.0).astype(np.int64)
    fmv_grant = _col(num["fmv_at_grant"], n, np.nan)
    fmv_grant = np.where(np.isnan(fmv_grant), strike, fmv_grant)
    cliff = _col(num["cliff_months"], n, 0.0).astype(np.int64)
    months = _col(num["vest_months"], n, 0.0).astype(np.int64)
    every = grants.get("vest_every", pd.Series("monthly", index=grants.index))
    every = every.fillna("monthly").astype(str).str.strip().str.lower()
    period = every.map(PERIOD_MONTHS).to_numpy(dtype=float)
    errors.add(ids, np.isnan(period), "grants: vest_every must be monthly, quarterly or annual")
    period = np.nan_to_num(period, nan=1.0).astype(np.int64)
    grant_date = _days(grants.get("grant_date"), n)
    errors.add(ids, np.isnat(grant_date), "grants: grant_date must be a date")
    start = _days(grants.get("vest_start"), n)
    start = np.where(np.isnat(start), grant_date, start)
    expiry = _days(grants.get("expiry"), n)
    grant_ok = ~np.isnat(grant_date)
    safe_grant = np.where(grant_ok, grant_date, np.datetime64("2000-01-01"))
    start = np.where(np.isnat(start), safe_grant, start)
    expiry = np.where(np.isnat(expiry), add_months(safe_grant, 120), expiry)
    term = _days(grants.get("termination_date"), n)
    post = _col(num["post_termination_days"], n, 90.0).astype(np.int64)
    has_term = ~np.isnat(term)
    safe_term = np.where(has_term, term, np.datetime64("2200-01-01"))
    expiry = np.where(
        has_term, np.minimum(expiry, safe_term + post.astype("timedelta64[D]")), expiry
    )
    stop = np.minimum(safe_term, expiry)

    day = exercise_day[client_of]
    y_day = _ymd(day)[0]
    vest = lambda t: _vested(t, safe_grant, start, cliff, months, period, shares, stop)  # noqa: E731
    first = int(min(np.min(_ymd(safe_grant)[0]), np.min(y_day))) if n else 0
    last = int(np.max(y_day)) if n else 0
    years = np.arange(first, last + 1)
    # shares vesting in each calendar year (columns), full years; and the current year to `day`
    ends = [vest(np.full(n, np.datetime64(f"{z}-12-31"), dtype="datetime64[D]")) for z in years]
    before = [vest(np.full(n, np.datetime64(f"{z - 1}-12-31"), dtype="datetime64[D]"))
              for z in years]  # fmt: skip
    per_year = np.stack([e - b for e, b in zip(ends, before, strict=True)], axis=1) if n else (
        np.zeros((0, len(years)), dtype=np.int64))  # fmt: skip
    year_idx = y_day - first
    to_day = vest(day) - np.take_along_axis(np.stack(before, axis=1), year_idx[:, None], 1)[:, 0] \
        if n else np.zeros(0, dtype=np.int64)  # fmt: skip

    # §422(d): per client, employer and calendar year, in the order granted
    iso = (grants["type"].astype(str).str.strip().str.lower() == ISO).to_numpy()
    employer = grants.get("employer", pd.Series("employer", index=grants.index))
    employer = employer.fillna("employer").astype(str).to_numpy()
    order = np.lexsort((np.arange(n), safe_grant, employer, client_of))
    group = np.zeros(n, dtype=np.int64)
    rank = np.zeros(n, dtype=np.int64)
    if n:
        key = list(zip(client_of[order], employer[order], strict=True))
        new = np.array([True] + [key[i] != key[i - 1] for i in range(1, n)])
        group[order] = np.cumsum(new) - 1
        starts = np.flatnonzero(new)
        rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
    budget = np.full((group.max() + 1 if n else 0, len(years)), ISO_LIMIT)
    iso_year = np.zeros_like(per_year)
    iso_to_day = np.zeros(n, dtype=np.int64)
    for r in range(int(rank.max()) + 1 if n else 0):
        rows = np.flatnonzero((rank == r) & iso)
        if not len(rows):
            continue
        fmv = fmv_grant[rows][:, None]
        room = np.where(fmv > 0, np.floor(budget[group[rows]] / np.where(fmv > 0, fmv, 1) + 1e-9),
                        np.inf)  # fmt: skip
        iso_year[rows] = np.minimum(per_year[rows], room).astype(np.int64)
        current = room[np.arange(len(rows)), year_idx[rows]]
        iso_to_day[rows] = np.minimum(to_day[rows], current).astype(np.int64)
        np.subtract.at(budget, group[rows], iso_year[rows] * np.where(fmv > 0, fmv, 0))

    # exercised shares come off the earliest tranches, ISO part first
    left = exercised.astype(np.int64).copy()
    used_iso = np.zeros(n, dtype=np.int64)
    vested_before = np.zeros(n, dtype=np.int64)
    for j, z in enumerate(years):
        early = z < first_year[client_of]
        take = np.where(early, np.minimum(iso_year[:, j], left), 0)
        used_iso += take
        left -= take
        nso = per_year[:, j] - iso_year[:, j]
        left -= np.where(early, np.minimum(nso, left), 0)
        vested_before += np.where(early, per_year[:, j], 0)
    errors.add(ids, exercised > vested_before,
               "grants: more shares exercised than vested before the horizon")  # fmt: skip

    cumulative = (iso_year * (years[None, :] < y_day[:, None])).sum(axis=1) + iso_to_day
    out = np.maximum(cumulative - used_iso, 0)
    deadline = add_months(safe_term, ISO_WINDOW_MONTHS)
    taxed_as_iso = ~has_term | (day <= deadline)
    return np.where(iso & (day <= expiry) & taxed_as_iso & grant_ok, out, 0)


def _col(values: pd.Series | None, n: int, default: float) -> np.ndarray:
    if values is None:
        return np.full(n, default)
    return values.fillna(default).to_numpy(dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# Per-client inputs
# ----------------------------------------------------------------------------------------------


def inputs_from_tables(book: Book, year: int | None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(households, iso, errors): one household row per client (the columns of
    `planner.households`), one row per ISO grant with vested shares, per-client errors."""
    errors = ClientErrors()
    errors.reasons.update(book.malformed)
    for c in book.clients:
        if c.error is not None:
            errors.reasons[c.client_id] = c.error
    clients = book.tables["clients"].copy()
    clients["client_id"] = clients["client_id"].map(_key)
    clients = clients[clients["client_id"].notna()]
    clients = clients[~clients["client_id"].duplicated(keep=False)].reset_index(drop=True)
    ids = clients["client_id"].to_numpy(dtype=object)
    n = len(clients)

    def number(name: str, default: float = 0.0) -> np.ndarray:
        if name not in clients.columns:
            return np.full(n, default)
        raw = clients[name]
        v = pd.to_numeric(raw, errors="coerce")
        errors.add(ids, (v.isna() & raw.notna() & (raw.astype(str).str.strip() != "")).to_numpy(),
                   f"clients: '{name}' must be a number")  # fmt: skip
        return v.fillna(default).to_numpy(dtype=np.float64)

    first = number("first_year", np.nan)
    span = number("years", np.nan)
    errors.add(ids, np.isnan(first) | np.isnan(span), "clients: first_year and years are required")
    first = np.nan_to_num(first, nan=2000).astype(np.int64)
    span = np.nan_to_num(span, nan=1).astype(np.int64)
    the_year = first if year is None else np.full(n, year)
    k = the_year - first
    errors.add(ids, (k < 0) | (k >= span), f"year {year} is outside the client's horizon")

    overrides = _year_overrides(book, clients, the_year)
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
    itemize = overrides.get("itemize", clients.get("itemize"))
    house["itemize"] = itemize if itemize is not None else np.nan
    fmv = np.round(number("fmv", np.nan) * (1.0 + number("fmv_growth")) ** k, 2)
    given = overrides.get("fmv", np.full(n, np.nan))
    fmv = np.where(np.isnan(given), fmv, given)
    errors.add(ids, np.isnan(fmv), "no FMV for the year (clients: fmv, or years: fmv)")
    day = overrides.get("exercise_date")
    default_day = _date(the_year, np.full(n, DEFAULT_EXERCISE_MONTH_DAY[0]),
                        np.full(n, DEFAULT_EXERCISE_MONTH_DAY[1]))  # fmt: skip
    day = default_day if day is None else np.where(np.isnat(day), default_day, day)

    g = book.tables["grants"]
    iso = pd.DataFrame(columns=["client_id", "grant_id", "strike", "fmv", "shares"])
    if len(g):
        g = g.assign(client_id=g["client_id"].map(_key), record=g["record"].astype(str).str.lower())
        position = pd.Series(np.arange(n), index=ids)
        held = _exercised_before(g)
        grants = g[(g["record"] == "grant") & g["client_id"].isin(position.index)]
        grants = grants.reset_index(drop=True)
        of = position[grants["client_id"]].to_numpy()
        key = list(zip(grants["client_id"], grants["id"].astype(str), strict=True))
        given = pd.to_numeric(grants.get("exercised"), errors="coerce") if \
            "exercised" in grants else pd.Series(np.nan, index=grants.index)  # fmt: skip
        exercised = np.where(given.isna(), [held.get(x, 0) for x in key], given.fillna(0))
        shares = exercisable_iso(grants, of, day, first, exercised.astype(np.int64), errors)
        strike = pd.to_numeric(grants["strike"], errors="coerce").fillna(0).to_numpy()
        iso = pd.DataFrame({"client_id": grants["client_id"], "grant_id": grants["id"].astype(str),
                            "strike": strike, "fmv": fmv[of], "shares": shares})  # fmt: skip
        iso = iso[iso["shares"] > 0]
    return house, iso.reset_index(drop=True), errors.reasons


def _key(v: object) -> str | None:
    from planner.book import _client_key

    return _client_key(v)


def _exercised_before(g: pd.DataFrame) -> dict[tuple[str, str], int]:
    """Shares of each (client, grant) in lots of ISO or NSO shares."""
    lots = g[(g["record"] == "lot") & g["type"].astype(str).str.lower().isin(["iso", "nso"])]
    if lots.empty or "grant_id" not in lots:
        return {}
    shares = pd.to_numeric(lots["shares"], errors="coerce").fillna(0)
    sums = shares.groupby([lots["client_id"], lots["grant_id"].astype(str)]).sum()
    return {k: int(v) for k, v in sums.items()}


def _year_overrides(
    book: Book, clients: pd.DataFrame, the_year: np.ndarray
) -> dict[str, np.ndarray]:
    """Columns of the years table for each client's year (NaN where not given)."""
    y = book.tables["years"]
    if not len(y):
        return {}
    y = y.assign(client_id=y["client_id"].map(_key), year=pd.to_numeric(y["year"], errors="coerce"))
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
        else:
            given = pd.to_numeric(merged[c], errors="coerce").to_numpy(dtype=np.float64)
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
    for c in book.clients:
        try:
            s = c.scenario(allow_projection, inflation)
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
            "itemize": np.nan if ty.itemize is None else float(ty.itemize),
        })  # fmt: skip
        for o in s.options:
            shares = o.exercisable.get(y, 0.0)
            if o.treatment(ty.exercise_date) == ISO and shares > 0:
                isos.append({"client_id": c.client_id, "grant_id": o.id, "strike": o.strike,
                             "fmv": ty.fmv, "shares": int(shares)})  # fmt: skip
    house = pd.DataFrame(houses)
    iso = pd.DataFrame(isos, columns=["client_id", "grant_id", "strike", "fmv", "shares"])
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
        house, iso, errors = inputs_from_tables(book, year)
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
        cross = compute_crossover(probe, inflation, allow_projection, source)
        room = cross["spread"].to_numpy()  # dollars: the largest spread within budget
        chosen, spent, by_grant = _allocate(iso, house["id"], room)
        taxed = compute_tax(house.assign(iso_spread=spent, itemize=cross["itemized"]),
                            inflation, allow_projection, source)  # fmt: skip
        out["iso_shares"] = total.reindex(house["id"]).fillna(0).to_numpy(dtype=np.int64)
        out["shares"] = chosen
        out["spread"] = np.round(spent, 2)
        out["amt"] = taxed["amt"].to_numpy()
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
