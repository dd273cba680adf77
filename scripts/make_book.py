"""Generate a realistic synthetic book of clients for tests and benchmarks (reproducible by seed).

    python scripts/make_book.py N [-o DIR] [--seed S] [--horizon H] [--grants G] [--csv]
                                 [--first-year Y] [--share-step K]

Writes DIR/clients.parquet and DIR/grants.parquet (.csv with --csv): the book format of
`isoplan batch` (`isoplan schema --book`). Every client has a horizon of H years and G option
grants; the mix is what a wealth firm's book of tech employees looks like:

- filing status (single 45%, mfj 45%, hoh 7%, mfs 3%) and state of residence (CA, WA, NY, TX, MA,
  other); wages $150k-$900k (log-normal around $260k) growing 2-5% a year, bonus, RSU income at
  public companies, interest and dividends, SALT, a mortgage for about half, charity, savings;
  starting cash $30k-$600k, a cash floor, an AMT credit carried in for one in five;
- a private company for about two thirds (409A value $2-$40 growing 5-35% a year; an IPO inside
  the horizon for 40% of them, a tender offer in the second year for 30%), public for the rest
  (price $20-$200, -5% to +15% a year, listed before the horizon);
- grants at several strikes and vesting stages: granted 0-8 years before the first year, older
  grants at lower strikes, four-year vesting (monthly or quarterly, a one-year cliff), 80% ISO;
  one grant in 30 ends with the client leaving in the first year;
- lots already held: ISO shares exercised one or two years before for 30% of clients (AMT basis
  the 409A value then), RSU shares (stock) for 15%.

The solver's share step is K shares (default 1, as in a scenario file and synthetic).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from planner.outputs import write_table

STATUSES = np.array(["single", "mfj", "hoh", "mfs"])
STATUS_P = [0.45, 0.45, 0.07, 0.03]
STATES = np.array(["CA", "WA", "NY", "TX", "MA", "CO", "IL", "FL"])
STATE_P = [0.4, 0.15, 0.13, 0.1, 0.08, 0.06, 0.05, 0.03]


def make_book(
    n: int,
    seed: int = 0,
    horizon: int = 10,
    grants: int = 3,
    first_year: int = 2026,
    share_step: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The clients and grants tables of a book of `n` clients."""
    rng = np.random.default_rng(seed)
    width = len(str(max(n - 1, 1)))
    ids = [f"c{i:0{width}d}" for i in range(n)]
    status = rng.choice(STATUSES, n, p=STATUS_P)
    married = status == "mfj"
    wages = np.clip(rng.lognormal(np.log(260_000), 0.45, n), 150_000, 900_000)
    wages = np.where(married, wages * 1.3, wages).round(-2)
    public = rng.random(n) < 0.35
    fmv = np.where(public, rng.uniform(20, 200, n), rng.uniform(2, 40, n)).round(2)
    growth = np.where(public, rng.uniform(-0.05, 0.15, n), rng.uniform(0.05, 0.35, n)).round(3)
    ipo_year = np.where(
        public,
        rng.integers(first_year - 6, first_year, n),
        np.where(rng.random(n) < 0.4, rng.integers(first_year + 1, first_year + horizon + 1, n), 0),
    )
    ipo = [date(int(y), int(m), 15) if y else None for y, m in
           zip(ipo_year, rng.integers(1, 13, n), strict=True)]  # fmt: skip
    tender = (~public) & (ipo_year != first_year + 1) & (rng.random(n) < 0.3) & (horizon >= 2)
    tender_price = (fmv * (1 + growth) * rng.uniform(1.1, 1.4, n)).round(2)
    credit = np.where(rng.random(n) < 0.2, rng.uniform(1_000, 30_000, n), 0.0).round(0)
    clients = pd.DataFrame(
        {
            "client_id": ids,
            "description": [
                f"synthetic client {i}: {'public' if p else 'private'} company, {grants} grants"
                for i, p in zip(ids, public, strict=True)
            ],
            "state": rng.choice(STATES, n, p=STATE_P),
            "filing_status": status,
            "start_cash": np.clip(rng.lognormal(np.log(120_000), 0.7, n), 30_000, 600_000).round(
                -2
            ),
            "cash_floor": rng.choice([10_000.0, 25_000.0, 50_000.0], n),
            "amt_credit_carryforward": credit,
            "first_year": first_year,
            "years": horizon,
            "wages": wages,
            "bonus": (wages * rng.uniform(0, 0.2, n)).round(-2),
            "rsu_income": np.where(public, wages * rng.uniform(0.1, 0.6, n), 0.0).round(-2),
            "interest": rng.uniform(500, 8_000, n).round(0),
            "qualified_dividends": rng.uniform(0, 12_000, n).round(0),
            "salt": (wages * rng.uniform(0.04, 0.1, n)).round(0),
            "mortgage_interest": np.where(
                rng.random(n) < 0.5, rng.uniform(8_000, 35_000, n), 0.0
            ).round(0),
            "charitable": np.where(rng.random(n) < 0.4, rng.uniform(1_000, 15_000, n), 0.0).round(
                0
            ),
            "savings": (wages * rng.uniform(0.1, 0.25, n)).round(-2),
            "wage_growth": rng.uniform(0.02, 0.05, n).round(3),
            "fmv": fmv,
            "fmv_growth": growth,
            "ipo_date": pd.Series(ipo, dtype=object),
            "tender_date": [date(first_year + 1, 6, 15) if t else None for t in tender],
            "tender_price": np.where(tender, tender_price, np.nan),
            "tender_max_shares": np.where(tender, rng.integers(2, 11, n) * 1000.0, np.nan),
            "share_step": share_step,
        }
    )
    rows: list[dict[str, object]] = []
    for i in range(n):
        rows.extend(_grants_of(rng, ids[i], grants, first_year, float(fmv[i]), bool(public[i])))
    return clients, pd.DataFrame(rows)


def _grants_of(
    rng: np.random.Generator, cid: str, count: int, first_year: int, fmv: float, public: bool
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    ages = np.sort(rng.choice(np.arange(0, 9), size=count, replace=count > 9))[::-1]
    iso_ids = []
    for k, age in enumerate(ages):
        gid = f"g{k + 1}"
        grant_date = date(first_year - 1 - int(age), int(rng.integers(1, 13)), 1)
        strike = round(fmv * float(rng.uniform(0.04, 0.25)) * (1 + 0.12 * (8 - age)), 2)
        kind = "nso" if rng.random() < (0.35 if public else 0.15) else "iso"
        row: dict[str, object] = {
            "client_id": cid,
            "record": "grant",
            "id": gid,
            "type": kind,
            "grant_date": grant_date,
            "strike": max(strike, 0.05),
            "shares": int(rng.integers(4, 61)) * 1000,
            "cliff_months": 12,
            "vest_months": 48,
            "vest_every": "monthly" if rng.random() < 0.7 else "quarterly",
        }
        if rng.random() < 1 / 30:
            row["termination_date"] = date(first_year, 6, 30)
        out.append(row)
        if kind == "iso" and age >= 2:
            iso_ids.append((gid, grant_date, row["shares"], row["strike"]))
    if iso_ids and rng.random() < 0.3:
        gid, grant_date, shares, strike = iso_ids[0]
        year = first_year - int(rng.integers(1, 3))
        out.append({
            "client_id": cid, "record": "lot", "id": f"{gid}-{year}", "type": "iso",
            "grant_id": gid, "shares": int(shares) // 5 // 100 * 100,
            "exercise_date": date(year, 11, 15),
            "amt_basis": round(max(float(strike), fmv * float(rng.uniform(0.4, 0.9))), 2),
        })  # fmt: skip
    if rng.random() < 0.15:
        out.append({
            "client_id": cid, "record": "lot", "id": "rsu", "type": "stock",
            "shares": int(rng.integers(5, 50)) * 100,
            "exercise_date": date(first_year - 1, 3, 15),
            "regular_basis": round(fmv * float(rng.uniform(0.5, 1.2)), 2),
        })  # fmt: skip
    return out


def write_book(clients: pd.DataFrame, grants: pd.DataFrame, folder: Path, csv: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".csv" if csv else ".parquet"
    for other in (".csv", ".parquet"):  # one format per table
        for name in ("clients", "grants"):
            if other != suffix:
                (folder / f"{name}{other}").unlink(missing_ok=True)
    write_table(clients, folder / f"clients{suffix}")
    write_table(grants, folder / f"grants{suffix}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("n", type=int, help="number of clients")
    ap.add_argument("-o", "--output", type=Path, default=Path("book"), help="folder (book/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--horizon", type=int, default=10, help="years planned (10)")
    ap.add_argument("--grants", type=int, default=3, help="option grants per client (3)")
    ap.add_argument("--first-year", type=int, default=2026)
    ap.add_argument("--share-step", type=int, default=1, help="solver share step (1)")
    ap.add_argument("--csv", action="store_true", help="write CSV instead of Parquet")
    args = ap.parse_args(argv)
    if args.n < 1 or args.horizon < 1 or args.grants < 1:
        ap.error("N, --horizon and --grants must be at least 1")
    clients, grants = make_book(
        args.n, args.seed, args.horizon, args.grants, args.first_year, args.share_step
    )
    write_book(clients, grants, args.output, args.csv)
    print(
        f"wrote {len(clients):,} clients and {len(grants):,} grants and lots to {args.output}/",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
