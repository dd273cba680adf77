"""Benchmark the solve's phase 1 on its own: prints figures, asserts nothing.

    python scripts/bench_solvers.py [--clients 300] [--hardest 12] [--time-limit 60]

Phase 1 (the shares relaxed, the kinks' binaries kept: `planner.solve.solve`) takes most of a
batch client's time. For the first --clients clients of the generated book (`make_book.py`, seed
0) each client's model is built as `planner.plan.run_plan` builds it (the baselines, the bounds
tightened with the best baseline's objective as a cut), and the --hardest of them (by binaries)
are solved again, each way below, with the gap phase 1 is given (a quarter of 1e-4 of the best
baseline's objective):
  highs            planner.solve.Highs as phase 1 runs it (presolve off)
  scip             planner.solve.Scip, the same arrays (presolve off)
  highs+incumbent  HiGHS given the best baseline's plan (settled into the model) as a start
  LP gap           the plain LP relaxation's bound (every integer relaxed) less the optimum, as
                   a share of it (or of the best baseline's objective, where larger: the gap as
                   `solve` reads it): an LP-first screen can stop only where it is below the gap
One row per client (seconds, and the model's objective in dollars, as `value_of` reads it), then
the mean and median of each column. The README's batch benchmark notes quote a run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pulp

from models.baselines import best_baseline, evaluate_baselines
from models.exact import with_deductions
from models.milp import LadderModel, settle
from models.pwl import value_of
from planner.batch import single_threaded
from planner.book import Client, read_book
from planner.options import Overrides
from planner.solve import Highs, Scaled, Scip, model_of, retightened

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_book import make_book, write_book

GAP = 1e-4


def phase1_model(client: Client) -> tuple[LadderModel, float, np.ndarray | None] | None:
    """The client's tightened model with its shares relaxed, the best baseline's objective and
    that baseline's plan as a full vector of the model's columns (None if it does not settle)."""
    v = client.validated(Overrides())
    m = model_of(v.scenario, v.laws)
    baselines = evaluate_baselines(v.scenario, v.laws)
    best = best_baseline(baselines, v.scenario.objective)
    if best is None:
        return None
    plan, ev = baselines[best]
    m = retightened(m, v.laws, ev.objective_value)
    start = None
    if not settle(m, with_deductions(plan, ev)):
        start = np.array([x.varValue or 0.0 for x in m.prob.variables()])
    for var in m.decisions:
        var.cat = pulp.LpContinuous
    return m, ev.objective_value, start


def timed(engine: Scaled, m: LadderModel, gap_abs: float, limit: float) -> tuple[float, float]:
    """Seconds and objective (the model's, in dollars) of one phase-1 run of `m` by `engine`."""
    started = time.perf_counter()
    engine.run(gap_abs, limit, presolve=False)
    return time.perf_counter() - started, value_of(m.objective)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--clients", type=int, default=300)
    ap.add_argument("--hardest", type=int, default=12)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per run")
    args = ap.parse_args(argv)
    single_threaded()
    with tempfile.TemporaryDirectory() as tmp:
        write_book(*make_book(args.clients, seed=0), Path(tmp), csv=False)
        clients = read_book(Path(tmp)).clients
        sized = sorted(clients, key=lambda c: -_binaries(c))[: args.hardest]
    print(f"{'client':<8}{'bin':>5}{'highs s':>9}{'scip s':>9}{'start s':>9}{'LP gap':>9}"
          f"{'highs $':>15}{'scip $':>15}")  # fmt: skip
    columns: dict[str, list[float]] = {"highs": [], "scip": [], "start": [], "lp": []}
    for client in sized:
        built = phase1_model(client)
        if built is None:
            continue
        m, floor, start = built
        gap_abs = GAP * abs(floor) / 4
        h_s, h_obj = timed(Highs(m.prob, m.decisions), m, gap_abs, args.time_limit)
        s_s, s_obj = timed(Scip(m.prob, m.decisions), m, gap_abs, args.time_limit)
        warm = Highs(m.prob, m.decisions)
        if start is not None:
            n = len(warm.variables)
            warm.h.setSolution(n, np.arange(n, dtype=np.int32), start / warm.unit)
        w_s, _ = timed(warm, m, gap_abs, args.time_limit)
        lp = Highs(m.prob, m.decisions)
        lp.relax()
        _, lp_obj = timed(lp, m, 0.0, args.time_limit)
        lp_gap = abs(lp_obj - h_obj) / max(1.0, abs(floor), abs(h_obj))  # as `solve` reads it
        binaries = m.size["binaries"]
        print(f"{client.client_id:<8}{binaries:>5}{h_s:>9.2f}{s_s:>9.2f}{w_s:>9.2f}"
              f"{lp_gap:>9.1e}{h_obj:>15,.0f}{s_obj:>15,.0f}", flush=True)  # fmt: skip
        for key, value in (("highs", h_s), ("scip", s_s), ("start", w_s), ("lp", lp_gap)):
            columns[key].append(value)
    for name, f in (("mean", statistics.mean), ("median", statistics.median)):
        c = {k: f(v) if v else float("nan") for k, v in columns.items()}
        print(f"{name:<13}{c['highs']:>9.2f}{c['scip']:>9.2f}{c['start']:>9.2f}{c['lp']:>9.1e}")
    return 0


def _binaries(client: Client) -> int:
    """The binaries of the client's first (untightened) model: the order of hardness."""
    v = client.validated(Overrides())
    return model_of(v.scenario, v.laws).size["binaries"]


if __name__ == "__main__":
    sys.exit(main())
