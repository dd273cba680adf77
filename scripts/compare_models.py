"""Check that the working tree builds the same MILPs as a git revision, row by row.

    python scripts/compare_models.py [--rev f918bfe] [--synthetic 60] [--book 30] [--robust 6]

The revision is exported (`git archive`) into a temporary folder; that code and the working tree
each build, in a process of their own with PYTHONPATH at the tree, the models of the same
households (deductions resolved first, as `isoplan plan` does):
  - --synthetic generated households (`scripts/synthetic.py`), every filing status in turn, one in
    five minimizing the tax (with a required exercise), one in three with a share step of 100;
    every fourth is also built with the bounds `planner.solve.tighten` proves (`build_tight`, as
    `isoplan plan` builds it);
  - the first --book clients of a generated book (`scripts/make_book.py`, seed 1, 6 years);
  - --robust two-stage programs (`models.stochastic.build_stochastic`), each of three price paths
    (`scripts/bench_compare.py`'s `make_paths`) with tightened bounds, every other one with a
    worst-path floor and a CVaR bound.
Each model is written as canonical JSON: the objective (sense, terms in order, constant), every
constraint in order (name, sense, terms {variable: coefficient} in order, constant), every
variable (bounds, category) and each year's tax lines (expression and bounds) that the planner
reads back. Floats are written exactly (`repr`), so "identical" means to the last bit. The dumps
are compared model by model; a difference prints the first row that differs and exits 1. A
household a tree cannot build (a ValueError: before issue 16, `ModelNotSupported` refused low
incomes) must fail in both with the same message.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pulp
from bench_compare import make_paths
from make_book import make_book, write_book

import models
from models.law import STATUSES
from models.milp import build
from models.stochastic import Risk, build_stochastic
from planner.book import read_book
from planner.law import data_dir, law_for_years
from planner.solve import build_tight, tighten

try:  # the generator of the tree compared: planner/synthetic.py before it moved to scripts/
    from planner.synthetic import synthetic_scenario  # type: ignore[import-not-found]
except ImportError:
    from synthetic import synthetic_scenario

ROOT = Path(__file__).resolve().parent.parent


def _expr(e: Any) -> dict[str, Any]:
    """A PuLP expression (or variable, or number) as ordered terms and a constant."""

    a = pulp.LpAffineExpression(e)
    return {"terms": [[v.name, c] for v, c in a.items()], "constant": a.constant}


def _problem(prob: Any) -> dict[str, Any]:
    return {
        "sense": prob.sense,
        "objective": _expr(prob.objective) if prob.objective is not None else None,
        "constraints": [
            {"name": name, "sense": c.sense, **_expr(c)} for name, c in prob.constraints.items()
        ],
        "variables": [[v.name, v.lowBound, v.upBound, v.cat] for v in prob.variables()],
    }


def _lines(m: Any) -> dict[str, Any]:
    """Each year's tax lines and the model's objective, as the planner reads them back."""
    years = {
        str(y): {k: {"lo": x.lo, "hi": x.hi, **_expr(x.expr)} for k, x in lines.items()}
        for y, lines in m.years.items()
    }
    return {"years": years, "objective": _expr(m.objective.expr)}


def _households(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """(name, scenario) of every synthetic household and book client, deductions resolved."""

    out = []
    for i in range(args.synthetic):
        s = synthetic_scenario(
            horizon=(2, 3, 5, 8, 10)[i % 5],
            grants=(1, 2, 3, 6)[i % 4],
            seed=i,
            status=STATUSES[i % len(STATUSES)],
            share_step=100 if i % 3 == 2 else 1,
        )
        if i % 5 == 4:  # with a required exercise: half of the first grant's shares
            half = s.options[0].exercisable.get(s.years[-1].year, 0.0) // 2
            s = replace(s, objective="min_tax", discount_rate=0.03, required_exercise={"g1": half})
        out.append((f"synthetic-{i}", s))
    if not args.book:
        return out
    with tempfile.TemporaryDirectory() as folder:
        write_book(*make_book(args.book, seed=1, horizon=6), Path(folder), csv=False)
        clients = read_book(Path(folder)).clients
        # Client.scenario() of revisions before planner.options, Client.validated() since.
        out += [(f"book-{c.client_id}", c.validated().scenario if hasattr(c, "validated")
                 else c.scenario()) for c in clients]  # fmt: skip
    return out


def _robust(paths: dict[str, Any], probabilities: dict[str, float], laws: Any, risk: Any) -> Any:
    """The robust program of the paths, each path's bounds tightened alone (as `planner.robust`)."""

    bounds = {n: tighten(build(s, laws), None) for n, s in paths.items()}
    return build_stochastic(paths, probabilities, laws, 1, risk, bounds)


def _builds(args: argparse.Namespace) -> Iterator[tuple[str, str, dict[str, Any], Any]]:
    """(household, kind of build, what it is, how to build it) of every model compared."""

    def about(s: Any, *paths: Any) -> dict[str, Any]:
        years = [ty for p in (paths or (s,)) for ty in p.years]
        itemized = sum(bool(ty.itemize) for ty in years)
        return {"status": s.filing_status, "objective": s.objective, "itemized_years": itemized}

    for i, (name, s) in enumerate(_households(args)):
        laws = law_for_years(s.year_numbers)
        yield name, "build", about(s), partial(build, s, laws)
        if name.startswith("synthetic") and i % 4 == 0:
            yield name, "build_tight", about(s), partial(build_tight, s, laws, None)
    for k in range(args.robust):
        base = synthetic_scenario(5, 2, seed=100 + k, status=STATUSES[k % len(STATUSES)])
        laws = law_for_years(base.year_numbers)
        paths, probabilities = make_paths(base, 3, seed=k)
        risk = Risk(worst_floor=0.0, cvar_alpha=0.5, cvar_floor=0.0) if k % 2 else None
        robust = partial(_robust, paths, probabilities, laws, risk)
        yield f"robust-{k}", "stochastic", about(base, *paths.values()), robust


def dump(args: argparse.Namespace) -> None:
    """Write one JSON line per model built by the code on PYTHONPATH."""

    tree = Path(models.__file__).resolve().parent.parent
    if tree != Path(os.environ["PYTHONPATH"].split(os.pathsep)[0]).resolve():
        raise SystemExit(f"models imported from {tree}, not from PYTHONPATH")
    want = os.environ.get("COMPARE_MODELS_DATA")  # set by main for the trees it compares
    if want is not None and data_dir().resolve() != Path(want).resolve():
        raise SystemExit(f"law data read from {data_dir()}, not from {want}")
    with open(args.dump, "w", encoding="utf-8") as out:
        for name, kind, record, build_one in _builds(args):
            try:
                m = build_one()
            except ValueError as exc:
                record["unsupported"] = str(exc)
            else:
                record["model"] = _problem(m.prob)
                paths = getattr(m, "paths", {"": m})  # a robust program: its path models
                record["lines"] = {p: _lines(pm) for p, pm in paths.items()}
            out.write(json.dumps({"name": name, "kind": kind, **record}) + "\n")


def _terms(e: dict[str, Any] | None) -> Any:
    """An expression's terms in any order, and its constant."""
    return e and (sorted(map(tuple, e["terms"])), e["constant"])


def _by_name(record: dict[str, Any]) -> dict[str, Any]:
    """Everything a record holds, by name, with rows and terms in any order."""
    model = record["model"]
    out = {"sense": model["sense"], "objective": _terms(model["objective"])}
    out |= {f"constraint {r['name']}": (r["sense"], _terms(r)) for r in model["constraints"]}
    out |= {f"variable {v[0]}": tuple(v[1:]) for v in model["variables"]}
    for path, lines in record["lines"].items():
        out[f"{path}objective read back"] = _terms(lines["objective"])
        for year, amounts in lines["years"].items():
            for k, x in amounts.items():
                out[f"{path}y{year} line {k}"] = (x["lo"], x["hi"], _terms(x))
    return out


def _first_difference(x: dict[str, Any], y: dict[str, Any]) -> str | None:
    """The first thing (by name) that two records do not hold alike, up to order; None if none."""
    a, b = _by_name(x), _by_name(y)
    for name in [*a, *(n for n in b if n not in a)]:
        if a.get(name) != b.get(name):
            return f"{name}: {str(a.get(name))[:400]} != {str(b.get(name))[:400]}"
    return None


def compare(old: Path, new: Path) -> int:
    a = [json.loads(line) for line in old.read_text(encoding="utf-8").splitlines()]
    b = [json.loads(line) for line in new.read_text(encoding="utf-8").splitlines()]
    if [(r["name"], r["kind"]) for r in a] != [(r["name"], r["kind"]) for r in b]:
        print("the two runs built different households")
        return 1
    same = reordered = 0
    counts: dict[str, int] = {}
    for x, y in zip(a, b, strict=True):
        label = f"{x['name']} ({x['kind']})"
        if "unsupported" in x or "unsupported" in y:
            if x.get("unsupported") != y.get("unsupported"):
                print(f"{label}: unsupported in one run only, or with another message")
                return 1
            counts["unsupported (same message)"] = counts.get("unsupported (same message)", 0) + 1
            continue
        if x != y:
            difference = _first_difference(x, y)
            if difference is not None:
                print(f"{label} differs: {difference}")
                return 1
            reordered += 1
        same += 1
        for key in (
            x["kind"],
            f"status {x['status']}",
            f"objective {x['objective']}",
            "itemized" if x["itemized_years"] else "standard deduction",
        ):
            counts[key] = counts.get(key, 0) + 1
    rows = sum(len(r["model"]["constraints"]) for r in a if "model" in r)
    print(f"{same} models identical ({rows:,} constraints), {reordered} of them in another order")
    for key, n in sorted(counts.items()):
        print(f"  {key}: {n}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rev", default="f918bfe", help="git revision to compare with (f918bfe)")
    ap.add_argument("--synthetic", type=int, default=60)
    ap.add_argument("--book", type=int, default=30)
    ap.add_argument("--robust", type=int, default=6)
    ap.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # a child run: write the models
    args = ap.parse_args()
    if args.dump:
        dump(args)
        return 0
    counts = ["--synthetic", str(args.synthetic), "--book", str(args.book)]
    counts += ["--robust", str(args.robust)]
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = Path(tmp) / "old"
        old_tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.rev], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive.stdout, check=True)
        dumps = []
        for label, tree in ((args.rev, old_tree), ("working tree", ROOT)):
            print(f"building with {label}...", file=sys.stderr, flush=True)
            out = Path(tmp) / f"{len(dumps)}.jsonl"
            # Each tree reads its own law data: `isoplan_data` (an installed package whose folder
            # is the repository's data/) would otherwise be the installed one for both.
            shim = Path(tmp) / f"shim{len(dumps)}"
            shim.mkdir()
            (shim / "isoplan_data").symlink_to(tree / "data", target_is_directory=True)
            env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(tree), str(shim))),
                   "COMPARE_MODELS_DATA": str(tree / "data")}  # fmt: skip
            command = [sys.executable, __file__, "--dump", str(out), *counts]
            subprocess.run(command, env=env, check=True)
            dumps.append(out)
        return compare(*dumps)


if __name__ == "__main__":
    sys.exit(main())
