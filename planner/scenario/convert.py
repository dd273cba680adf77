"""Checks of a validated scenario file and its conversion into `models.scenario.Scenario`: tax
years, option classes (grant law from `models.grants`, with the figures of the horizon's law),
lots, sale windows and the objective.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from models.forms import SCALAR
from models.grants import (
    NEVER,
    Vesting,
    date_of,
    day_of,
    exercisable,
    exercised_before,
    expiry,
    first_exercisable,
    iso_deadline,
    iso_part,
    iso_vested,
    latest_expiry,
    vested,
)
from models.law import Holding, IsoLaw, YearLaw, holding_for, iso_law_for
from models.scenario import ISO, NSO, STOCK, Lot, OptionClass, SaleWindow, Scenario, TaxYear
from planner.errors import LawYearError
from planner.limits import MAX_MONEY, MAX_PRICE
from planner.options import NO_OVERRIDES, Overrides, PlanOptions
from planner.scenario.reading import Loc, Where, parse_yaml, read_yaml
from planner.scenario.schema import (
    MAX_HORIZON_YEARS,
    PERIOD_MONTHS,
    Grant,
    Objective,
    PriceYear,
    ScenarioFile,
    shown,
)

DEFAULT_EXERCISE_MONTH_DAY = (12, 15)
DEFAULT_SALE_MONTH_DAY = (12, 31)


def _horizon(doc: ScenarioFile, where: Where) -> list[int]:
    if doc.horizon is not None:
        first = doc.horizon.first_year
        years = list(range(first, first + doc.horizon.years))
    elif doc.years:
        years = list(range(min(doc.years), max(doc.years) + 1))
        if len(years) > MAX_HORIZON_YEARS:
            raise where.error(("years",), f"spans {len(years)} years, at most {MAX_HORIZON_YEARS}")
    else:
        raise where.error(
            ("horizon",), "required: give {first_year, years}, or list the years under `years`"
        )
    return years


def _check_years(doc: ScenarioFile, years: list[int], where: Where) -> None:
    """Income and prices only for horizon years; a price for each."""
    span = f"the horizon {years[0]}-{years[-1]}" if len(years) > 1 else f"the horizon {years[0]}"
    for y in doc.years:
        if y not in years:
            raise where.error(("years", y), f"year {y} is outside {span}")
    for y in doc.prices:
        if y not in years:
            raise where.error(("prices", y), f"year {y} is outside {span}")
    for y in years:
        if y not in doc.prices:
            why = "every year needs one, or give price_growth" if doc.price_growth is None else (
                "price_growth grows the price of an earlier year"
            )  # fmt: skip
            raise where.error(("prices",), f"no price for {y} ({span}: {why})")


def _grown_prices(doc: ScenarioFile, years: list[int], where: Where) -> ScenarioFile:
    """`doc` with each horizon year missing from `prices` priced at the latest earlier year's
    FMV grown by `price_growth` a year, to the cent (with no `price_growth`, as it is)."""
    if doc.price_growth is None:
        return doc
    prices = dict(doc.prices)
    for y in years:
        earlier = [k for k in prices if k < y]
        if y in prices or not earlier:
            continue
        last = max(earlier)
        fmv = round(prices[last].fmv * (1.0 + doc.price_growth) ** (y - last), 2)
        if fmv > MAX_PRICE:
            raise where.error(
                ("price_growth",),
                f"grows the price to ${fmv:,.2f} in {y}, over the bound of a price per share "
                f"(${MAX_PRICE:,.0f})",
            )
        prices[y] = PriceYear(fmv=fmv)
    return doc.model_copy(update={"prices": prices})


def _laws(years: list[int], options: PlanOptions, where: Where, field: str) -> dict[int, YearLaw]:
    """The law of every year of the horizon (each must have law); the grant rules apply the first
    year's figures (statutory ones, the same in every year)."""
    try:
        return options.laws(years)
    except LawYearError as exc:
        raise where.error((field,), str(exc)) from None


def _tax_years(doc: ScenarioFile, years: list[int], where: Where) -> list[TaxYear]:
    out = []
    for k, y in enumerate(years):
        override = doc.years.get(y)
        given = override.model_fields_set if override is not None else set()
        inc = {
            **doc.default.model_dump(),
            **{f: getattr(override, f) for f in given},
        }
        seniors = inc["seniors"]
        loc = ("years", y, "seniors") if "seniors" in given else ("default", "seniors")
        if seniors > 1 and doc.household.filing_status != "mfj":
            raise where.error(loc, f"must be at most 1 unless filing_status is mfj, got {seniors}")
        if seniors > inc["aged_blind"]:
            raise where.error(
                loc,
                f"must not be more than aged_blind ({inc['aged_blind']}; each senior is one of "
                f"them), got {seniors}",
            )
        if inc["real_estate_tax"] > inc["salt"]:
            field = "real_estate_tax" if "real_estate_tax" in given else "salt"
            loc = ("years", y, field) if field in given else ("default", field)
            raise where.error(
                loc,
                f"real_estate_tax ({inc['real_estate_tax']:,.2f}) must not be more than salt "
                f"({inc['salt']:,.2f}): it is the part of salt that is property tax",
            )
        if "wages" not in given:
            inc["wages"] = round(doc.default.wages * (1.0 + doc.wage_growth) ** k, 2)
            if inc["wages"] > MAX_MONEY:
                raise where.error(
                    ("wage_growth",),
                    f"grows the default wages to ${inc['wages']:,.0f} in {y}, over the bound of "
                    f"any amount (${MAX_MONEY:,.0f})",
                )
        price = doc.prices[y]
        ex = price.exercise_date or date(y, *DEFAULT_EXERCISE_MONTH_DAY)
        for name, d in (("exercise_date", price.exercise_date), ("sale_date", price.sale_date)):
            if d is not None and d.year != y:
                raise where.error(("prices", y, name), f"must be in {y}, got {d.isoformat()}")
        out.append(
            TaxYear(
                year=y,
                exercise_date=ex,
                fmv=price.fmv,
                wages=round(inc["wages"] + inc["bonus"] + inc["rsu_income"], 2),
                ordinary_income=inc["other_ordinary_income"],
                interest=inc["interest"],
                qualified_dividends=inc["qualified_dividends"],
                ltcg=inc["ltcg"],
                stcg=inc["stcg"],
                salt=inc["salt"],
                mortgage_interest=inc["mortgage_interest"],
                charitable=inc["charitable"],
                aged_blind=inc["aged_blind"],
                seniors=inc["seniors"],
                itemize=inc["itemize"],
                savings=inc["savings"],
                real_estate_tax=inc["real_estate_tax"],
                dependents=inc["dependents"],
                state=inc["state"],
            )
        )
    return out


def _check_grant(g: Grant, i: int, law: IsoLaw, where: Where) -> None:
    loc: Loc = ("grants", i)
    latest = date_of(latest_expiry(day_of(g.grant_date), law, SCALAR))
    if (g.expiry or latest) <= g.grant_date:
        raise where.error((*loc, "expiry"), f"must be after the grant date {g.grant_date}")
    if g.type == ISO and g.expiry is not None and g.expiry > latest:
        raise where.error(
            (*loc, "expiry"),
            f"an ISO must expire within {law.max_term_years} years of its grant (§422(b)(3)), "
            f"by {latest}",
        )
    fmv = g.fmv_at_grant
    if g.type == ISO and fmv is not None and g.strike < fmv - 1e-9:
        raise where.error(
            (*loc, "strike"),
            f"below fmv_at_grant ({fmv:g}): an option granted below fair market value is not an "
            "ISO (§422(b)(4)); use type: nso",
        )
    if g.termination_date is not None and g.termination_date < g.grant_date:
        raise where.error(
            (*loc, "termination_date"), f"must not be before the grant date {g.grant_date}"
        )
    v, vloc = g.vesting, (*loc, "vesting")
    if v.dates is not None:
        for name in ("start", "months"):
            if name in v.model_fields_set:
                raise where.error((*vloc, name), "give either a schedule (months) or dates")
        if v.cliff_months or "every" in v.model_fields_set:
            name = "cliff_months" if v.cliff_months else "every"
            raise where.error((*vloc, name), "give either a schedule (months) or dates")
        total = sum(e.shares for e in v.dates)
        if total != g.shares:
            raise where.error(
                (*vloc, "dates"), f"vest {total:,} shares in all, but the grant has {g.shares:,}"
            )
        return
    if v.months is None:
        raise where.error(vloc, "give the schedule's months (0 = vested at start) or dates")
    period = PERIOD_MONTHS[v.every]
    if v.months % period:
        raise where.error(
            (*vloc, "months"), f"{v.months} is not a whole number of {v.every} periods"
        )
    if v.cliff_months > v.months:
        raise where.error(
            (*vloc, "cliff_months"), f"{v.cliff_months} is longer than the vesting ({v.months})"
        )


def _vesting(g: Grant, law: IsoLaw) -> Vesting:
    """The plain vesting of a grant (checked by `_check_grant`), as `models.grants` reads it."""
    v = g.vesting
    grant_day = day_of(g.grant_date)
    termination = day_of(g.termination_date) if g.termination_date is not None else NEVER
    latest = latest_expiry(grant_day, law, SCALAR)
    given = day_of(g.expiry) if g.expiry is not None else latest
    dates = None if v.dates is None else tuple((day_of(e.date), e.shares) for e in v.dates)
    return Vesting(
        grant_date=grant_day,
        start=day_of(v.start or g.grant_date),
        cliff_months=v.cliff_months,
        months=v.months or 0,
        period_months=PERIOD_MONTHS[v.every],
        shares=g.shares,
        termination=termination,
        expiry=expiry(given, termination, g.post_termination_days, SCALAR),
        dates=dates,
    )


def _options(
    doc: ScenarioFile,
    taxyears: list[TaxYear],
    windows: tuple[SaleWindow, ...],
    iso_law: IsoLaw,
    holding: Holding,
    where: Where,
) -> tuple[OptionClass, ...]:
    seen: dict[str, int] = {}
    for i, g in enumerate(doc.grants):
        if g.id in seen:
            raise where.error(("grants", i, "id"), f"{g.id!r} is also grants[{seen[g.id]}]")
        seen[g.id] = i
        _check_grant(g, i, iso_law, where)
    if not doc.grants:
        return ()
    first_year = taxyears[0].year
    start = date(first_year, 1, 1)
    held = defaultdict(int)
    for lot in doc.lots:
        if lot.type in (ISO, NSO) and lot.grant_id is not None:
            held[lot.grant_id] += lot.shares

    vesting = [_vesting(g, iso_law) for g in doc.grants]
    # Every year an ISO can first vest in, past the horizon too: a grant has a `:nso` class when
    # any of its vesting is over the limit.
    iso_ends = [date_of(v.expiry).year for g, v in zip(doc.grants, vesting, strict=True)
                if g.type == ISO]  # fmt: skip
    last = max([taxyears[-1].year, *iso_ends])
    years = list(range(min(g.grant_date.year for g in doc.grants), last + 1))
    first = [first_exercisable(v, years, SCALAR) for v in vesting]
    iso = _iso_parts(doc.grants, first, iso_law)

    out: list[OptionClass] = []
    for i, g in enumerate(doc.grants):
        v = vesting[i]
        exercised = g.exercised if g.exercised is not None else held[g.id]
        used_iso, used_nso, before = exercised_before(
            exercised, first[i], iso[i], years, first_year, SCALAR
        )
        _check_exercised(g, i, exercised, before, held[g.id], where, start)
        deadline = None
        if g.termination_date is not None:
            deadline = date_of(iso_deadline(v.termination, iso_law, SCALAR))
        main = ISO if g.type == ISO else NSO
        classes = [(main, g.id)]  # the main class always exists (stable ids), maybe all zeros
        if g.type == ISO and any(n > k for n, k in zip(first[i], iso[i], strict=True)):
            classes.append((NSO, g.id + ":nso"))
        for kind, class_id in classes:
            used = used_iso if kind == ISO else used_nso

            def on(
                day: date, kind: str = kind, used: Any = used, v: Any = v, iso_i: Any = iso[i]
            ) -> float:
                """The class's options exercisable on `day` (vested, unexpired, not used)."""
                t = day_of(day)
                iso_so_far = iso_vested(t, v, iso_i, years, SCALAR)
                part = iso_so_far if kind == ISO else vested(t, v, SCALAR) - iso_so_far
                return float(exercisable(t, part, used, v.expiry, SCALAR))

            shares = {ty.year: on(ty.exercise_date) for ty in taxyears}
            out.append(
                OptionClass(
                    id=class_id,
                    grant_id=g.id,
                    kind=kind,
                    strike=g.strike,
                    grant_date=g.grant_date,
                    expiry=date_of(v.expiry),
                    exercisable=shares,
                    holding=holding,
                    iso_deadline=deadline if kind == ISO else None,
                    window_exercisable={w.id: on(w.date) for w in windows},
                )
            )
    return tuple(out)


def _iso_parts(grants: list[Grant], first: list[list[Any]], law: IsoLaw) -> list[list[Any]]:
    """Each grant's ISO shares per year (§422(d)): every employer's yearly limit, taken grant by
    grant in the order granted."""
    iso: list[list[Any]] = [[] for _ in grants]
    left: dict[str, list[Any]] = {}  # what is left of each employer's limit, year by year
    for i, g in sorted(enumerate(grants), key=lambda p: (p[1].grant_date, p[0])):
        fmv = g.fmv_at_grant if g.fmv_at_grant is not None else g.strike
        budget = left.get(g.employer, [law.annual_limit] * len(first[i]))
        iso[i], left[g.employer] = iso_part(first[i], fmv, g.type == ISO, budget, SCALAR)
    return iso


def _check_exercised(
    g: Grant, i: int, exercised: int, before: int, held: int, where: Where, start: date
) -> None:
    """Shares exercised before the horizon had vested by then, and the lots hold no more."""
    if exercised > before:
        if g.exercised is None:  # counted from the lots
            raise where.error(
                ("grants", i),
                f"the lots from this grant hold {exercised:,} shares, but only {before:,} "
                f"vested before {start} (exercise before vesting is not modelled)",
            )
        raise where.error(
            ("grants", i, "exercised"),
            f"{exercised:,} shares exercised, but only {before:,} vested before {start} "
            "(exercise before vesting is not modelled)",
        )
    if held > exercised:
        raise where.error(
            ("grants", i, "exercised"),
            f"{exercised:,}, but the lots from this grant hold {held:,} shares",
        )


def _lots(doc: ScenarioFile, first_year: int, holding: Holding, where: Where) -> tuple[Lot, ...]:
    grants = {g.id: g for g in doc.grants}
    seen: dict[str, int] = {}
    out = []
    for i, lot in enumerate(doc.lots):
        loc: Loc = ("lots", i)
        if lot.id in seen:
            raise where.error((*loc, "id"), f"{lot.id!r} is also lots[{seen[lot.id]}]")
        seen[lot.id] = i
        grant = grants.get(lot.grant_id) if lot.grant_id is not None else None
        if lot.type in (ISO, NSO) and lot.grant_id is None:
            raise where.error((*loc, "grant_id"), f"required for {lot.type} shares")
        if grant is not None and lot.type == ISO and grant.type != ISO:
            raise where.error((*loc, "type"), f"iso, but grant {grant.id!r} is an nso grant")
        grant_date = lot.grant_date
        if grant is not None:
            if grant_date is not None and grant_date != grant.grant_date:
                raise where.error(
                    (*loc, "grant_date"),
                    f"{grant_date}, but grant {grant.id!r} was granted on {grant.grant_date}",
                )
            grant_date = grant.grant_date
        if grant_date is None:
            if lot.type == ISO:
                raise where.error(
                    (*loc, "grant_date"),
                    f"required (grant {lot.grant_id!r} is not listed under grants)",
                )
            grant_date = lot.exercise_date
        if lot.exercise_date < grant_date:
            raise where.error(
                (*loc, "exercise_date"), f"must not be before the grant date {grant_date}"
            )
        if lot.exercise_date.year >= first_year:
            raise where.error(
                (*loc, "exercise_date"),
                f"must be before {first_year}, the first year of the horizon (exercises in the "
                "horizon are planned, and their spread belongs to that year's tax)",
            )
        regular = lot.regular_basis
        if lot.type == ISO and grant is not None:
            if regular is not None and abs(regular - grant.strike) > 0.005:
                raise where.error(
                    (*loc, "regular_basis"),
                    f"{regular:g}, but the regular basis of ISO shares is the strike "
                    f"({grant.strike:g})",
                )
            regular = grant.strike
        if regular is None:
            raise where.error((*loc, "regular_basis"), "required")
        amt = lot.amt_basis
        if amt is None:
            if lot.type == ISO:
                raise where.error((*loc, "amt_basis"), "required (the FMV at exercise)")
            amt = regular
        if lot.type == ISO and amt < regular:
            raise where.error(
                (*loc, "amt_basis"),
                f"{amt:g} is below the regular basis {regular:g} (the AMT basis is the FMV at "
                "exercise, at least the strike)",
            )
        out.append(
            Lot(
                id=lot.id,
                grant_id=lot.grant_id or "",
                kind={"iso": ISO, "nso": NSO, "stock": STOCK}[lot.type],
                shares=float(lot.shares),
                grant_date=grant_date,
                exercise_date=lot.exercise_date,
                exercise_year=lot.exercise_date.year,
                regular_basis=regular,
                amt_basis=amt,
                holding=holding,
            )
        )
    return tuple(out)


def _windows(doc: ScenarioFile, taxyears: list[TaxYear], where: Where) -> tuple[SaleWindow, ...]:
    liq = doc.liquidity
    out = []
    if liq.ipo_date is not None:
        liquid_from = liq.ipo_date + timedelta(days=liq.lockup_days)
        for ty in taxyears:
            sale = doc.prices[ty.year].sale_date or date(ty.year, *DEFAULT_SALE_MONTH_DAY)
            if sale >= liquid_from:
                out.append(SaleWindow(f"market-{ty.year}", ty.year, sale, ty.fmv, None, "market"))
    years = [ty.year for ty in taxyears]
    seen: dict[date, int] = {}
    for i, t in enumerate(liq.tender_offers):
        loc: Loc = ("liquidity", "tender_offers", i)
        if t.date.year not in years:
            raise where.error(
                (*loc, "date"), f"{t.date} is outside the horizon {years[0]}-{years[-1]}"
            )
        if t.date in seen:
            raise where.error(
                (*loc, "date"), f"{t.date} is also tender_offers[{seen[t.date]}] (one per date)"
            )
        seen[t.date] = i
        cap = None if t.max_shares is None else float(t.max_shares)
        out.append(
            SaleWindow(f"tender-{t.date.isoformat()}", t.date.year, t.date, t.price, cap, "tender")
        )
    return tuple(sorted(out, key=lambda w: (w.date, w.id)))


def _objective(
    doc: ScenarioFile, options: tuple[OptionClass, ...], where: Where
) -> dict[str, float]:
    obj = doc.objective
    ids = {o.id: o for o in options}
    for oid, shares in obj.required_exercise.items():
        loc: Loc = ("objective", "required_exercise", oid)
        if oid not in ids:
            known = ", ".join(ids) or "none"
            raise where.error(loc, f"no option class {oid!r} (option classes: {known})")
        most = max(ids[oid].exercisable.values(), default=0.0)
        if shares > most:
            raise where.error(
                loc, f"{shares:,} shares, but at most {most:,.0f} are exercisable in the horizon"
            )
    if obj.goal == "min_tax" and not obj.required_exercise:
        raise where.error(
            ("objective", "required_exercise"),
            "min_tax needs the shares to exercise (without them, exercising nothing is optimal)",
        )
    return {k: float(v) for k, v in obj.required_exercise.items()}


@dataclass(frozen=True)
class Validated:
    """A scenario document, validated: the scenario, the options it is planned with (the file's
    under the overrides) and the tax law of its years under those options."""

    scenario: Scenario
    options: PlanOptions
    laws: dict[int, YearLaw]


def validate(
    data: Any,
    source: str = "scenario",
    *,
    overrides: Overrides = NO_OVERRIDES,
    _root: yaml.Node | None = None,
    _where: Where | None = None,
) -> Validated:
    """Validate a scenario given as plain data (as read from YAML) and convert it; `overrides`
    (the command line's) take precedence over the file's `solver` and `tax_law`. `_where`
    (instead of `source` and `_root`) places errors in layered files (`planner.variants`)."""
    where = Where(source, _root) if _where is None else _where
    if not isinstance(data, dict):
        raise where.error((), f"expected a mapping at the top level, got {shown(data)}")
    try:
        doc = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise where.from_validation(exc) from None
    years = _horizon(doc, where)
    solver, tax_law = doc.solver, doc.tax_law
    options = overrides.over(
        PlanOptions(solver.name, solver.gap, solver.time_limit, tax_law.inflation,
                    tax_law.projection)
    )  # fmt: skip
    laws = _laws(years, options, where, "horizon" if doc.horizon is not None else "years")
    law = laws[years[0]]
    holding = holding_for(law)
    doc = _grown_prices(doc, years, where)
    _check_years(doc, years, where)
    taxyears = _tax_years(doc, years, where)
    for ty in taxyears:
        if ty.state and ty.state not in laws[ty.year].states:
            raise where.error(
                ("years", ty.year, "state") if ty.year in doc.years else ("default", "state"),
                f"no {ty.state.upper()} tax law for {ty.year} with projection off",
            )
    windows = _windows(doc, taxyears, where)
    classes = _options(doc, taxyears, windows, iso_law_for(law), holding, where)
    lots = _lots(doc, years[0], holding, where)
    required = _objective(doc, classes, where)
    obj = doc.objective
    last = (taxyears[-1], laws[taxyears[-1].year])
    scenario = Scenario(
        description=doc.description,
        filing_status=doc.household.filing_status,
        years=tuple(taxyears),
        options=classes,
        lots=lots,
        windows=windows,
        start_cash=doc.household.start_cash,
        cash_floor=doc.household.cash_floor,
        amt_credit_carryforward=doc.household.amt_credit_carryforward,
        ca_amt_credit_carryforward=doc.household.ca_amt_credit_carryforward,
        st_loss_carryover=doc.household.st_loss_carryover,
        lt_loss_carryover=doc.household.lt_loss_carryover,
        amt_st_loss_carryover=doc.household.amt_st_loss_carryover,
        amt_lt_loss_carryover=doc.household.amt_lt_loss_carryover,
        cash_return=doc.household.cash_return,
        objective=obj.goal,
        required_exercise=required,
        discount_rate=obj.discount_rate,
        terminal_price=obj.terminal_price,
        terminal_tax_rate=obj.terminal_tax_rate + _state_terminal(obj, "terminal_tax_rate", last),
        terminal_ordinary_rate=(
            obj.terminal_ordinary_rate + _state_terminal(obj, "terminal_ordinary_rate", last)
        ),
        credit_value=obj.credit_value,
        share_step=solver.share_step,
    )
    return Validated(scenario, options, laws)


def _state_terminal(obj: Objective, field: str, last: tuple[TaxYear, YearLaw]) -> float:
    """What a default terminal rate adds for a household living in California in the last year:
    California's top rate that year (it taxes a later sale's gain, and an option's spread, as
    ordinary income), so that holding to the end does not look free of the state tax a sale
    pays. A rate the file gives is its own."""
    ty, law = last
    if field in obj.model_fields_set or ty.state != "ca":
        return 0.0
    return float(max(law.states["ca"].values["ca.rates"]))


def scenario_from_data(
    data: Any, source: str = "scenario", *, overrides: Overrides = NO_OVERRIDES
) -> Scenario:
    """The scenario of `validate` alone (for code that plans with the defaults of its own)."""
    return validate(data, source, overrides=overrides).scenario


def load(path: str | Path, *, overrides: Overrides = NO_OVERRIDES) -> Validated:
    """Read, validate and convert a scenario file. Raises `InputError` (one line: file, field
    path, why, line) on any problem."""
    path = Path(path)
    data, root = read_yaml(path)
    return validate(data, str(path), overrides=overrides, _root=root)


def load_scenario(path: str | Path, *, overrides: Overrides = NO_OVERRIDES) -> Scenario:
    """The scenario of `load` alone."""
    return load(path, overrides=overrides).scenario


def validate_text(text: str, source: str, *, overrides: Overrides = NO_OVERRIDES) -> Validated:
    """`load` for a file's text already read (`source` names it in messages, which keep their
    line numbers): a batch reads the files once and validates them in its workers."""
    data, root = parse_yaml(text, source)
    return validate(data, source, overrides=overrides, _root=root)
