"""Benchmark the robust (two-stage stochastic) plan: prints figures, asserts nothing.

    python scripts/bench_compare.py [--paths 1,2,5,10] [--horizon 10] [--grants 2] [--runs 3]
                                    [--seed 0] [--solver highs|cbc] [--time-limit 20]
                                    [--gap 1e-4]

One generated household (`scripts/synthetic.py`, --horizon years x --grants grants, seed --seed)
is turned into N price paths: the first year as generated (decided now, shared by all paths),
each later year's FMV and market price scaled by the path's own random walk, one path in three
without its IPO (no market window), the terminal price the last FMV, probabilities drawn at
random. For each N the model is built (`planner.solve.tighten` per path, no objective cut, then
`models.stochastic.build_stochastic`) and solved (`planner.solve.solve`, one thread) --runs
times. One row per N: median build and solve seconds ("tl" when a run hit --time-limit), model
size (variables / general integers / binaries / constraints), the status of each run, and the
largest relative gap reached. N = 1 is the deterministic plan of the first path, for scale.
The run is pinned to one thread; the figures go to stdout, progress to stderr.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

import numpy as np  # noqa: E402

from models.milp import build  # noqa: E402
from models.scenario import Scenario  # noqa: E402
from models.stochastic import build_stochastic, reprice, settle_stochastic  # noqa: E402
from planner.law import law_for_years  # noqa: E402
from planner.solve import SOLVERS, solve, tighten  # noqa: E402

SIZE_KEYS = ("variables", "integers", "binaries", "constraints")


def make_paths(base: Scenario, n: int, seed: int) -> tuple[dict[str, Scenario], dict[str, float]]:
    """N paths that share the first year of `base` and differ afterwards."""
    rng = np.random.default_rng(seed)
    paths = {}
    for k in range(n):
        walk = np.cumprod(rng.lognormal(0.0, 0.25, len(base.years) - 1))
        fmv = {ty.year: round(ty.fmv * f, 2) for ty, f in zip(base.years[1:], walk, strict=True)}
        path = reprice(base, fmv)
        if k % 3 == 2:  # no IPO on this path: no market window after the first year
            first = base.years[0].year
            windows = tuple(w for w in path.windows if w.kind != "market" or w.year == first)
            path = replace(path, windows=windows)
        paths[f"s{k}"] = path
    weights = rng.dirichlet(np.ones(n))
    probabilities = {name: float(w) for name, w in zip(paths, weights, strict=True)}
    last = list(probabilities)[-1]
    probabilities[last] = 1.0 - sum(v for k, v in probabilities.items() if k != last)
    return paths, probabilities


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", default="1,2,5,10")
    ap.add_argument("--horizon", type=int, default=10)
    ap.add_argument("--grants", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--solver", choices=SOLVERS, default="highs")
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--gap", type=float, default=1e-4)
    args = ap.parse_args()

    # Imported here, not at the top: scripts/compare_models.py imports make_paths into other
    # revisions' trees, whose models the generator of this one may not fit.
    from synthetic import synthetic_scenario

    base = synthetic_scenario(args.horizon, args.grants, args.seed)
    laws = law_for_years(base.year_numbers)
    print(
        f"household: {args.horizon} years x {args.grants} grants (seed {args.seed}), "
        f"{args.solver}, gap {args.gap:g}, time limit {args.time_limit:g} s, "
        f"median of {args.runs} runs"
    )
    print(f"{'paths':>5}  {'build s':>8}  {'solve s':>9}  {'size (var/int/bin/con)':>24}  "
          f"{'status':<22}  {'max gap':>8}")  # fmt: skip
    for n in (int(x) for x in args.paths.split(",")):
        paths, probabilities = make_paths(base, n, args.seed)
        builds, solves, statuses, gaps = [], [], [], []
        size: dict[str, int] = {}
        for run in range(args.runs):
            print(f"  {n} paths, run {run + 1}...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            bounds = {name: tighten(build(s, laws), None) for name, s in paths.items()}
            sm = build_stochastic(paths, probabilities, laws, 1, None, bounds)
            builds.append(time.perf_counter() - started)
            size = sm.size
            r = solve(
                sm, args.solver, args.gap, args.time_limit, 1e6, settle_with=settle_stochastic
            )
            solves.append(r.solve_seconds)
            statuses.append(r.status)
            if r.gap is not None:
                gaps.append(r.gap)
        solve_s = statistics.median(solves)
        hit = sum(s != "optimal" for s in statuses) * 2 >= len(statuses)
        shown = f"{'>=' if hit else ''}{solve_s:.2f}"
        counts = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
        gap = f"{max(gaps):.1e}" if gaps else "-"
        dims = "/".join(str(size[k]) for k in SIZE_KEYS)
        print(f"{n:>5}  {statistics.median(builds):>8.2f}  {shown:>9}  {dims:>24}  "
              f"{counts:<22}  {gap:>8}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
