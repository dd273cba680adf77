"""Benchmark the multi-year plan MILP: prints figures, asserts nothing (tests check correctness).

    python scripts/bench_plan.py [--horizons 1,3,5,10,15] [--grants 1,3,6] [--seeds 3]
                                 [--solvers cbc,highs] [--time-limit 60] [--gap 1e-4]
                                 [--share-step 1] [--incomes high,low,high-ca] [--quick]

For every income x horizon x grants cell, --seeds generated households (`scripts/synthetic.py`,
seeds 0..N-1; income "high": wages $180k-$450k, "low": the same households with $38k-$95k and,
on odd seeds, no wages after the first year; "high-ca", "low-ca": the same as California
residents) are built (`models.milp.build`, deductions
resolved first) and solved by each solver (`planner.solve`, single-threaded, within --gap of the
best baseline's objective, at most --time-limit seconds per solve). The model is rebuilt for
every solver (a solve works in place). One row per cell and solver (medians over the seeds):
  build s, solve s   wall-clock seconds; a solve that hit the time limit counts at its time, so a
                     median that may lie above it is shown as ">=" (half or more not proven)
  status             solves proven within the gap out of all, then any others
                     (tl: time limit with a plan, none: time limit without a plan)
  gap                achieved relative gap (|bound - plan| / |plan|) of the solves that report
                     one ("-" if none does)
  size               variables / general integers / binaries / constraints
  vs best baseline   the plan's exact objective over the best of the four baselines
                     (`models.baselines`), in dollars and percent
  |milp-exact|       largest |MILP objective - exact evaluation (`models.exact`)| in dollars
A progress line per solve goes to stderr. The run is pinned to one CPU and numpy to one thread;
Ctrl-C prints the table of what has finished. Finally the 10-year and 15-year 6-grant CBC cells
are compared with the targets, and any suspicious results are listed (a solver proving a plan
optimal that the other solver or a baseline beats by more than the gap, a plan that fails the
exact check, a solve far past its time limit).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from synthetic import synthetic_scenario  # noqa: E402

from models.baselines import evaluate_baselines  # noqa: E402
from models.exact import InfeasiblePlan, evaluate  # noqa: E402
from models.milp import read_plan  # noqa: E402
from models.scenario import Plan, Scenario  # noqa: E402
from planner.law import law_for_years  # noqa: E402
from planner.solve import SOLVERS, build_tight, solve  # noqa: E402

# (horizon, grants): seconds to prove the target gap, median over households, CBC, one core.
TARGETS = {(10, 6): 2.0, (15, 6): 10.0}
TARGET_GAP = 1e-4
SIZE_KEYS = ("variables", "integers", "binaries", "constraints")
SHORT = {"optimal": "opt", "time_limit": "tl", "no_solution": "none", "infeasible": "infeas"}


@dataclass
class Run:
    """One household solved by one solver."""

    income: str
    horizon: int
    grants: int
    seed: int
    solver: str
    status: str  # a SolveResult status, or "error"
    build_seconds: float = math.nan
    solve_seconds: float = math.nan
    gap: float | None = None
    objective: float | None = None  # the MILP's
    exact: float | None = None  # the exact evaluation of the plan
    best_baseline: float | None = None
    best_baseline_name: str = ""
    size: dict[str, int] = field(default_factory=dict)
    note: str = ""
    maximize: bool = True  # the scenario's objective: wealth (maximized) or min_tax

    @property
    def proven(self) -> bool:
        return self.status == "optimal"

    def gain(self, value: float, reference: float) -> float:
        """How much better `value` is than `reference` on the objective."""
        return value - reference if self.maximize else reference - value

    @property
    def improvement(self) -> float | None:
        """The plan's exact objective over the best baseline's."""
        if self.exact is None or self.best_baseline is None:
            return None
        return self.gain(self.exact, self.best_baseline)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _pin_one_cpu() -> str:
    """Pin this process (and the solver processes it starts) to one CPU, if the OS allows."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def _household(
    income: str, horizon: int, grants: int, seed: int, step: int
) -> tuple[Scenario, dict, str, float, Plan]:
    pay, _, state = income.partition("-")  # "high-ca": the same household in California
    scenario = synthetic_scenario(horizon, grants, seed, share_step=step, income=pay, state=state)
    laws = law_for_years(scenario.year_numbers)
    baselines = evaluate_baselines(scenario, laws)
    pick = max if scenario.objective == "wealth" else min
    name = pick(baselines, key=lambda n: baselines[n][1].objective_value)
    return scenario, laws, name, baselines[name][1].objective_value, baselines[name][0]


def _solve_one(scenario: Scenario, laws: dict, run: Run, gap: float, time_limit: float) -> None:
    """One solve as `isoplan plan` does it (bounds tightened with the best baseline as a cut)."""
    model = build_tight(scenario, laws, run.best_baseline)
    run.build_seconds = model.build_seconds
    run.size = model.size
    try:
        result = solve(model, run.solver, gap, time_limit, run.best_baseline or 1.0)
    except Exception as exc:  # a solver failure is a figure too
        run.status, run.note = "error", f"{type(exc).__name__}: {exc}"
        return
    run.status, run.solve_seconds, run.gap = result.status, result.solve_seconds, result.gap
    run.objective = result.objective
    if result.has_plan:
        try:
            run.exact = evaluate(scenario, read_plan(model), laws).objective_value
        except InfeasiblePlan as exc:
            run.note = f"plan fails the exact check: {exc}"


def _median(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return statistics.median(xs) if xs else None


def _solve_median(runs: list[Run]) -> tuple[float | None, bool]:
    """Median solve seconds, and whether it is only a lower bound: a solve not proven counts at
    its time (the time limit), which is at least every proven time, so the median is exact while
    fewer than half are unproven."""
    times = [r.solve_seconds for r in runs if not math.isnan(r.solve_seconds)]
    if not times:
        return None, False
    unproven = sum(1 for r in runs if not r.proven)
    return statistics.median(times), 2 * unproven >= len(runs)


def _status_text(runs: list[Run]) -> str:
    proven = sum(r.proven for r in runs)
    others: dict[str, int] = {}
    for r in runs:
        if not r.proven:
            key = SHORT.get(r.status, r.status)
            others[key] = others.get(key, 0) + 1
    text = f"{proven}/{len(runs)} opt"
    if others:
        text += " " + " ".join(f"{n} {k}" for k, n in sorted(others.items()))
    return text


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _row(runs: list[Run]) -> list[str]:
    r0 = runs[0]
    build_s = _median([r.build_seconds for r in runs])
    solve_s, censored = _solve_median(runs)
    gap = _median([r.gap for r in runs if r.gap is not None])
    sizes = [r.size for r in runs if r.size]
    size = (
        "/".join(str(round(statistics.median(s[k] for s in sizes))) for k in SIZE_KEYS)
        if sizes
        else "-"
    )
    gains = [r.improvement for r in runs if r.improvement is not None]
    pct = [
        100.0 * r.improvement / max(1.0, abs(r.best_baseline))
        for r in runs
        if r.improvement is not None and r.best_baseline is not None
    ]
    g, p = _median(gains), _median(pct)
    improvement = "-" if g is None else f"{g:+,.0f} ({p:+.2f}%)"
    diffs = [
        abs(r.objective - r.exact) for r in runs if r.objective is not None and r.exact is not None
    ]
    return [
        r0.income,
        str(r0.horizon),
        str(r0.grants),
        r0.solver,
        "-" if build_s is None else f"{build_s:.3f}",
        "-" if solve_s is None else (">=" if censored else "") + f"{solve_s:.2f}",
        _status_text(runs),
        "-" if gap is None else f"{gap:.1e}",
        size,
        improvement,
        "-" if not diffs else f"{max(diffs):.2g}",
    ]


HEADER = [
    "income",
    "years",
    "grants",
    "solver",
    "build s",
    "solve s",
    "status",
    "gap",
    "size v/i/b/c",
    "vs best baseline $",
    "|milp-exact| $",
]


def _table(runs: list[Run]) -> list[str]:
    cells: dict[tuple[str, int, int, str], list[Run]] = {}
    for r in runs:
        cells.setdefault((r.income, r.horizon, r.grants, r.solver), []).append(r)
    rows = [HEADER] + [_row(rs) for rs in cells.values()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    right = {1, 2, 4, 5, 7, 9, 10}
    out = []
    for k, row in enumerate(rows):
        cols = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  ".join(cols).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _targets(runs: list[Run], gap: float, time_limit: float) -> list[str]:
    lines = []
    for (horizon, grants), target in TARGETS.items():
        cell = [
            r
            for r in runs
            if (r.income, r.horizon, r.grants, r.solver) == ("high", horizon, grants, "cbc")
        ]
        what = (
            f"target {horizon}-year x {grants}-grant, CBC: proven within {TARGET_GAP:g} in "
            f"<= {target:g} s (median)"
        )
        if not cell:
            lines.append(f"{what}: not run")
            continue
        median, censored = _solve_median(cell)
        proven = sum(r.proven for r in cell)
        if median is None:
            lines.append(f"{what}: no solve finished ({_status_text(cell)})")
            continue
        shown = (">=" if censored else "") + f"{median:.2f} s"
        if gap > TARGET_GAP:
            verdict = f"not comparable (run with --gap {gap:g}, looser than the target's)"
        elif censored and median <= target:
            verdict = f"unknown (half or more not proven within the {time_limit:g} s limit)"
        else:
            verdict = "MET" if not censored and median <= target else "NOT MET"
        lines.append(f"{what}: median {shown}, {proven}/{len(cell)} proven -> {verdict}")
    return lines


def _anomalies(runs: list[Run], gap: float, time_limit: float) -> list[str]:
    """Results that should not happen: each names the household and both figures."""
    found = []
    by_household: dict[tuple[str, int, int, int], list[Run]] = {}
    for r in runs:
        by_household.setdefault((r.income, r.horizon, r.grants, r.seed), []).append(r)
    for (income, horizon, grants, seed), rs in by_household.items():
        where = f"{income}-income {horizon}-year x {grants}-grant seed {seed}"
        for r in rs:
            allowed = gap * max(1.0, abs(r.best_baseline or 1.0))  # the absolute gap asked for
            if r.note:
                found.append(f"{where}, {r.solver}: {r.note}")
            if r.solve_seconds > 1.2 * time_limit + 5:
                found.append(
                    f"{where}, {r.solver}: solve took {r.solve_seconds:.1f} s, "
                    f"limit {time_limit:g} s"
                )
            if r.objective is not None and r.exact is not None and abs(r.objective - r.exact) > 1:
                found.append(
                    f"{where}, {r.solver}: MILP objective {r.objective:,.2f} differs from the "
                    f"exact evaluation {r.exact:,.2f} by {abs(r.objective - r.exact):,.2f}"
                )
            if r.proven and r.improvement is not None:
                short = -r.improvement  # how far the proven plan falls short of the baseline
                if short > allowed + 0.01:
                    found.append(
                        f"{where}, {r.solver}: claims optimal at {r.exact:,.2f} but the baseline "
                        f"{r.best_baseline_name} reaches {r.best_baseline:,.2f} "
                        f"({short:,.2f} more; gap allowed {allowed:,.2f})"
                    )
            for other in rs:
                if other is r or not r.proven or other.objective is None or r.objective is None:
                    continue
                better = r.gain(other.objective, r.objective)
                if better > allowed + 0.01:
                    found.append(
                        f"{where}: {r.solver} claims optimal at {r.objective:,.2f} (exact "
                        f"{_money(r.exact)}) but {other.solver} ({other.status}) found "
                        f"{other.objective:,.2f} (exact {_money(other.exact)}), "
                        f"{better:,.2f} more; gap allowed {allowed:,.2f}"
                    )
    return found


def _report(runs: list[Run], args: argparse.Namespace, pinned: str, finished: bool) -> None:
    print(
        f"plan MILP benchmark: {args.seeds} generated household(s) per cell "
        f"(seeds 0..{args.seeds - 1}), "
        f"share step {args.share_step}, gap {args.gap:g} of the best baseline's objective, "
        f"time limit {args.time_limit:g} s per solve, single-threaded solvers, {pinned}"
        + ("" if finished else " -- INTERRUPTED, finished cells only")
    )
    print("medians over the households; objective: wealth after tax (maximized)")
    print()
    for line in _table(runs):
        print(line)
    print()
    for line in _targets(runs, args.gap, args.time_limit):
        print(line)
    anomalies = _anomalies(runs, args.gap, args.time_limit)
    print()
    if anomalies:
        print(f"suspicious results ({len(anomalies)}):")
        for line in anomalies:
            print(f"  {line}")
    else:
        print(
            "suspicious results: none (no plan proven optimal is beaten by the other solver's or "
            "a baseline's by more than the gap; every MILP objective = exact evaluation within $1)"
        )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizons", type=_ints, default=[1, 3, 5, 10, 15])
    ap.add_argument("--grants", type=_ints, default=[1, 3, 6])
    ap.add_argument("--seeds", type=int, default=3, help="generated households per cell")
    ap.add_argument("--solvers", default="cbc,highs", help=f"comma-separated: {','.join(SOLVERS)}")
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per solve")
    ap.add_argument("--gap", type=float, default=1e-4, help="relative gap to prove")
    ap.add_argument(
        "--share-step",
        type=int,
        default=1,
        help="shares per unit of the exercise and sale variables (1, a scenario's default)",
    )
    ap.add_argument(
        "--incomes",
        default="high,low",
        help="comma-separated: high (wages $180k-$450k), low ($38k-$95k, some none), and "
        "high-ca, low-ca: the same households as California residents",
    )
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: horizons 1,3, grants 1,2, 2 seeds"
    )
    args = ap.parse_args()
    if args.quick:
        args.horizons, args.grants, args.seeds = [1, 3], [1, 2], 2
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    incomes = [s.strip() for s in args.incomes.split(",") if s.strip()]
    for s in incomes:
        if s not in ("high", "low", "high-ca", "low-ca"):
            ap.error(f"unknown income {s!r} (use high, low, high-ca or low-ca)")
    for s in solvers:
        if s not in SOLVERS:
            ap.error(f"unknown solver {s!r} (use {' or '.join(SOLVERS)})")
    pinned = _pin_one_cpu()
    signal.signal(signal.SIGTERM, _interrupt)  # as Ctrl-C: print what has finished

    runs: list[Run] = []
    total = len(incomes) * len(args.horizons) * len(args.grants) * args.seeds * len(solvers)
    started = time.perf_counter()
    finished = False
    try:
        cells = itertools.product(incomes, args.horizons, args.grants, range(args.seeds))
        for income, horizon, grants, seed in cells:
            household = _household(income, horizon, grants, seed, args.share_step)
            scenario, laws, name, best, _ = household
            for solver in solvers:
                run = Run(income, horizon, grants, seed, solver, "error")
                run.best_baseline, run.best_baseline_name = best, name
                run.maximize = scenario.objective == "wealth"
                _solve_one(scenario, laws, run, args.gap, args.time_limit)
                runs.append(run)
                improvement = _money(run.improvement)
                print(
                    f"[{len(runs)}/{total} {time.perf_counter() - started:6.0f}s] "
                    f"{income} {horizon:2d}y x {grants}g seed {seed} {solver:5s}: "
                    f"{run.status:11s} build {run.build_seconds:.3f} s, solve "
                    f"{run.solve_seconds:.2f} s, gap "
                    f"{'-' if run.gap is None else f'{run.gap:.1e}'}, objective "
                    f"{_money(run.objective)} (exact {_money(run.exact)}; best baseline "
                    f"{name} {best:,.0f}; plan {improvement})",
                    file=sys.stderr,
                    flush=True,
                )
        finished = True
    except KeyboardInterrupt:
        print("interrupted: reporting the finished solves", file=sys.stderr, flush=True)
    if runs:
        _report(runs, args, pinned, finished)


if __name__ == "__main__":
    main()
