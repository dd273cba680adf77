"""How a scenario is planned: the solver, its gap and time limit, and the law of projected years.

These settings are not part of the household's situation (`models.scenario.Scenario`): they come
from a scenario file's `solver:` and `tax_law:` sections and may be overridden on the command line
or for a whole batch. `Overrides.over` is the one place where the two meet; everything downstream
(`planner.plan.run_plan`, `planner.robust.run_robust`, a batch's clients) reads the resolved
`PlanOptions`. The share step stays on the scenario: it is how finely the plan may decide, part of
the model, not of how it is solved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

from models.law import YearLaw
from planner.law import law_for_years


@dataclass(frozen=True)
class PlanOptions:
    """The settings a plan is made with, each with one value (the defaults are the file's)."""

    solver: str = "highs"  # in-process: no solver process or files per solve, as CBC needs
    gap: float = 1e-4  # relative optimality gap at which the solver stops
    time_limit: float = 60.0  # seconds for the whole plan (planner.solve.Budget)
    inflation: float | None = None  # assumed chained-CPI rate of projected years (None: data's)
    allow_projection: bool = True  # project years after the last published one (False: refuse)

    def laws(self, years: Iterable[int]) -> dict[int, YearLaw]:
        """The tax law of these years under these options (`planner.law.law_for_years`)."""
        return law_for_years(years, self.inflation, self.allow_projection)


@dataclass(frozen=True)
class Overrides:
    """Settings given on the command line (or for a whole batch) over every scenario file's own;
    None keeps the file's. A batch fingerprints them, so they are plain values."""

    solver: str | None = None
    gap: float | None = None
    time_limit: float | None = None
    inflation: float | None = None
    allow_projection: bool | None = None

    def over(self, file: PlanOptions) -> PlanOptions:
        """The options a plan is made with: each one given here, else the file's."""
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(file, **{name: v for name, v in given.items() if v is not None})


NO_OVERRIDES = Overrides()  # every setting from the scenario file
