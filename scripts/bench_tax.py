"""Benchmark the exact tax engine: prints figures, asserts nothing (tests check correctness).

    python scripts/bench_tax.py [--rows 1000000] [--repeat 5] [--oracle-rows N]

Figures (median of --repeat runs, one process, numpy single-threaded):
  one-household latency      tax_one on a typical household (deduction given, and chosen)
  vectorized throughput      tax_many over --rows generated household-years (engine only), and
                             compute_tax from a DataFrame (validation + engine) for comparison
  crossover latency          one exact crossover (binary search over shares), and vectorized rows/s
  California on and off      the same figures with every row a California resident (Form 540,
                             Schedule P, FTB 3510 beside the federal forms), side by side
  independent engine         the same generated rows through the oracle (Tax-Calculator), if
                             installed, and the side-by-side ratio
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from models.crossover import crossover  # noqa: E402
from models.engine import tax_many, tax_one  # noqa: E402
from models.forms import VECTOR, Household  # noqa: E402
from models.law import STATUSES, LawTable, ca_params_for, params_for  # noqa: E402
from planner.household_taxes import compute_crossover, compute_tax  # noqa: E402
from planner.law import law_for_years  # noqa: E402

YEARS = (2024, 2025, 2026)


def generate(n: int, seed: int = 2026) -> pd.DataFrame:
    """Household-years with realistic spreads of income, gains, deductions and ISO exercises."""
    rng = np.random.default_rng(seed)

    def amounts(median: float, p_zero: float) -> np.ndarray:
        x = np.round(rng.lognormal(np.log(median), 1.0, n), 2)
        return np.where(rng.random(n) < p_zero, 0.0, x)

    return pd.DataFrame({
        "id": np.arange(n),
        "year": rng.choice(YEARS, n),
        "filing_status": rng.choice(STATUSES, n, p=[0.4, 0.45, 0.05, 0.1]),
        "wages": amounts(180_000, 0.03),
        "interest": amounts(3_000, 0.5),
        "qualified_dividends": amounts(8_000, 0.5),
        "ltcg": amounts(40_000, 0.6) * rng.choice([-1, 1, 1, 1], n),
        "stcg": amounts(8_000, 0.8) * rng.choice([-1, 1], n),
        "iso_spread": amounts(150_000, 0.5),
        "salt": amounts(18_000, 0.1),
        "mortgage_interest": amounts(20_000, 0.5),
        "charitable": amounts(4_000, 0.5),
        "amt_credit_carryforward": amounts(25_000, 0.8),
        "itemize": rng.choice(np.array([True, False, None], dtype=object), n),
    })  # fmt: skip


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--oracle-rows",
        type=int,
        default=None,
        help="rows through the independent engine (default: the same --rows; 0 to skip)",
    )
    args = ap.parse_args()

    laws = law_for_years(YEARS)
    p = params_for(laws[2026], "single")
    h = Household(
        wages=210_000.0,
        interest=2_500.0,
        qualified_dividends=6_000.0,
        ltcg=15_000.0,
        iso_spread=40_000.0,
        salt=22_000.0,
        mortgage_interest=18_000.0,
    )
    calls = 20_000
    given = median_seconds(lambda: [tax_one(h, p, True) for _ in range(calls)], args.repeat)
    chosen = median_seconds(lambda: [tax_one(h, p, None) for _ in range(calls)], args.repeat)
    ca = ca_params_for(laws[2026].states["ca"], "single")
    h_ca = replace(h, real_estate_tax=8_000.0)
    with_ca = median_seconds(
        lambda: [tax_one(h_ca, p, True, ca) for _ in range(calls)], args.repeat
    )
    print("one household (tax_one, 2026 single with gains, ISO spread, itemizing)")
    print(f"  deduction given   {given / calls * 1e6:8.1f} us per household-year")
    print(f"  deduction chosen  {chosen / calls * 1e6:8.1f} us per household-year (both computed)")
    print(
        f"  with California   {with_ca / calls * 1e6:8.1f} us per household-year (deduction "
        f"given; {with_ca / given:.2f}x federal alone)"
    )

    df = generate(args.rows)
    table = LawTable(laws)
    years = df["year"].to_numpy()
    statuses = pd.Series(df["filing_status"]).map({s: i for i, s in enumerate(STATUSES)})
    pv = table.gather(table.cell_index(years, statuses.to_numpy()))
    money = {
        k: df[k].to_numpy(dtype=np.float64)
        for k in Household.__dataclass_fields__
        if k in df.columns and k != "itemize"
    }
    itemize = df["itemize"].map({True: 1.0, False: 0.0}).astype(float).to_numpy()
    hv = Household(**money)
    engine = median_seconds(lambda: tax_many(hv, pv, itemize), args.repeat)
    engine_given = median_seconds(
        lambda: tax_many(hv, pv, np.nan_to_num(itemize, nan=0.0)), args.repeat
    )
    frame = median_seconds(lambda: compute_tax(df), max(1, args.repeat // 2))
    ca_table = LawTable({y: laws[y].states["ca"] for y in YEARS}, ca_params_for)
    cav = ca_table.gather(ca_table.cell_index(years, statuses.to_numpy()))
    hv_ca = replace(hv, real_estate_tax=hv.salt / 3)
    resident = np.ones(args.rows, dtype=bool)
    engine_ca = median_seconds(lambda: tax_many(hv_ca, pv, itemize, cav, resident), args.repeat)
    df_ca = df.assign(state="ca", real_estate_tax=np.round(df["salt"] / 3, 2))
    frame_ca = median_seconds(lambda: compute_tax(df_ca), max(1, args.repeat // 2))
    print(
        f"vectorized, {args.rows:,} household-years (years {YEARS[0]}-{YEARS[-1]}, "
        f"all statuses; a third let the engine choose the deduction)"
    )
    print(
        f"  engine (tax_many)            {args.rows / engine:14,.0f} household-years/s "
        f"({engine:.3f} s)"
    )
    print(
        f"  engine, deduction given      {args.rows / engine_given:14,.0f} household-years/s "
        f"({engine_given:.3f} s)"
    )
    print(
        f"  compute_tax (validate+run)   {args.rows / frame:14,.0f} household-years/s "
        f"({frame:.3f} s)"
    )
    print("  every row a California resident (federal and California forms):")
    print(
        f"  engine (tax_many)            {args.rows / engine_ca:14,.0f} household-years/s "
        f"({engine_ca:.3f} s, {engine_ca / engine:.2f}x federal alone)"
    )
    print(
        f"  compute_tax (validate+run)   {args.rows / frame_ca:14,.0f} household-years/s "
        f"({frame_ca:.3f} s, {frame_ca / frame:.2f}x federal alone)"
    )

    cx = median_seconds(
        lambda: [
            crossover(replace(h, iso_spread=0.0, itemize=1.0), p, 1.0, 51.0, 10_000.0)
            for _ in range(1000)
        ],
        args.repeat,
    )
    print("crossover (exact, binary search over 10,000 shares)")
    print(f"  one household     {cx / 1000 * 1e3:8.3f} ms")
    sub = df.head(min(args.rows, 100_000)).copy()
    sub["strike"], sub["fmv"], sub["shares"] = 1.0, 51.0, 10_000
    cross = median_seconds(lambda: compute_crossover(sub), max(1, args.repeat // 2))
    print(f"  vectorized        {len(sub) / cross:14,.0f} households/s over {len(sub):,} rows")
    hv1 = replace(hv, itemize=np.nan_to_num(itemize, nan=0.0))
    cross_engine = median_seconds(
        lambda: crossover(hv1, pv, 1.0, 51.0, np.full(args.rows, 10_000.0), 0.0, VECTOR), 1
    )
    print(
        f"  vectorized engine {args.rows / cross_engine:14,.0f} households/s over "
        f"{args.rows:,} rows"
    )
    cross_ca = median_seconds(
        lambda: crossover(hv1, pv, 1.0, 51.0, np.full(args.rows, 10_000.0), 0.0, VECTOR, cav), 1
    )
    print(
        f"  with California   {args.rows / cross_ca:14,.0f} households/s (the joint answer; "
        f"{cross_ca / cross_engine:.2f}x federal alone)"
    )

    oracle_rows = args.rows if args.oracle_rows is None else args.oracle_rows
    if oracle_rows <= 0:
        return
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        import oracle
    except ImportError as exc:
        print(f"independent engine: not installed ({exc}); pip install '.[oracle]'")
        return
    rows = generate(oracle_rows, seed=7)
    rows["itemize"] = rows["itemize"].map(lambda v: bool(v) if v is not None else False)
    oracle.oracle_frame(rows.head(50))
    t_oracle = median_seconds(lambda: oracle.oracle_frame(rows), 1)
    t_ours = median_seconds(lambda: compute_tax(rows), 3)
    oracle_name = f"Tax-Calculator {oracle.engine_version()}"
    print(
        f"independent engine ({oracle_name}, after a warm-up call that JIT-compiles it), "
        f"{len(rows):,} household-years"
    )
    print(f"  oracle            {len(rows) / t_oracle:14,.0f} household-years/s ({t_oracle:.2f} s)")
    print(f"  isoplan           {len(rows) / t_ours:14,.0f} household-years/s ({t_ours:.3f} s)")
    print(f"  ratio             isoplan is {t_oracle / t_ours:,.0f}x faster")


if __name__ == "__main__":
    main()
