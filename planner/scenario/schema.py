"""The scenario file format: pydantic models, one per section, whose attribute docstrings are
the field descriptions `isoplan schema` prints (`scenario_json_schema`). Unknown fields are errors
(`extra="forbid"`); a validator's own message (`_fail`) is final, as the reader formats it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, NoReturn, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from models.scenario import Scenario
from planner.limits import (
    FIRST_DATE,
    GROWTH,
    LAST_DATE,
    MAX_DAYS,
    MAX_DEPENDENTS,
    MAX_MONEY,
    MAX_MONTHS,
    MAX_PRICE,
    MAX_SHARES,
    MAX_TIME_LIMIT,
)
from planner.options import PlanOptions

# The file's defaults are the domain types' own, so the two cannot drift.
_DEFAULTS = {
    f.name: f.default for f in (*dataclasses.fields(Scenario), *dataclasses.fields(PlanOptions))
}
MAX_HORIZON_YEARS = 40
PERIOD_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}


def _fail(why: str) -> NoReturn:
    """A validation error whose message is final (the formatter adds file, path and line)."""
    raise PydanticCustomError("isoplan", why)


def shown(value: Any) -> str:
    """An input value as the user wrote it, on one short line."""
    if isinstance(value, date | datetime):
        text = value.isoformat()
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, dict | list):
        text = json.dumps(value, default=str)
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:37] + "..."


# ----------------------------------------------------------------------------------------------
# Field types
# ----------------------------------------------------------------------------------------------


def _number(v: Any) -> Any:
    """Numbers as numbers; numeric text too (PyYAML reads `1e-4` as text); never true/false."""
    if isinstance(v, bool):
        _fail(f"expected a number, got {shown(v)}")
    return v


# YAML's own date form (one-digit months and days too), with an optional time of day.
_DATE = re.compile(
    r"(\d{4})-(\d\d?)-(\d\d?)(?:(?:[Tt]|[ \t]+)(\d\d?):(\d\d):(\d\d)(?:\.\d*)?"
    r"(?:[ \t]*(?:Z|[-+]\d\d?(?::\d\d)?))?)?"
)


def _date_of_text(text: str) -> date:
    """A date written as YAML writes one (the reader leaves dates as text, `reading`)."""
    m = _DATE.fullmatch(text.strip())
    if m is None:
        _fail(f"expected a date like 2026-12-15, got {shown(text)}")
    if any(int(t) for t in m.groups()[3:] if t is not None):
        _fail(f"expected a date like 2026-12-15 (no time of day), got {shown(text)}")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:  # 2026-02-30
        _fail(f"expected a date like 2026-12-15, got {shown(text)} ({exc})")


def _day(v: Any) -> date:
    if isinstance(v, datetime):
        if v.time() != datetime.min.time():
            _fail(f"expected a date like 2026-12-15 (no time of day), got {shown(v)}")
        v = v.date()
    elif isinstance(v, str):
        v = _date_of_text(v)
    elif not isinstance(v, date):
        _fail(f"expected a date like 2026-12-15, got {shown(v)}")
    if not FIRST_DATE <= v <= LAST_DATE:
        _fail(f"must be between {FIRST_DATE} and {LAST_DATE}, got {v.isoformat()}")
    return v


def _ident(v: Any) -> Any:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


def _lower(v: Any) -> Any:
    return v.strip().lower() if isinstance(v, str) else v


def _state(v: Any) -> Any:
    """A year's residence: ca, or empty (also none or null) for no state tax."""
    v = _lower(v)
    return "" if v in (None, "none") else v


# Every number is finite and within the bounds of planner.limits.
_N = BeforeValidator(_number)
Money = Annotated[float, Field(ge=0, le=MAX_MONEY, allow_inf_nan=False), _N]
Amount = Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY, allow_inf_nan=False), _N]
PerShare = Annotated[float, Field(ge=0, le=MAX_PRICE, allow_inf_nan=False), _N]
Price = Annotated[float, Field(gt=0, le=MAX_PRICE, allow_inf_nan=False), _N]
Rate = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False), _N]
Probability = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False), _N]
Growth = Annotated[float, Field(ge=GROWTH[0], le=GROWTH[1], allow_inf_nan=False), _N]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS), _N]
Months = Annotated[int, Field(ge=0, le=MAX_MONTHS), _N]
ShareCount = Annotated[int, Field(ge=0, le=MAX_SHARES), _N]
Shares = Annotated[int, Field(gt=0, le=MAX_SHARES), _N]
Year = Annotated[int, Field(ge=FIRST_DATE.year, le=LAST_DATE.year), _N]
Day = Annotated[date, BeforeValidator(_day, json_schema_input_type=date)]
Ident = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"),
    BeforeValidator(_ident),
]
OptionId = Annotated[
    str,
    Field(min_length=1, max_length=68, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*(:nso)?$"),
    BeforeValidator(_ident),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# ----------------------------------------------------------------------------------------------
# The file format
# ----------------------------------------------------------------------------------------------


class Household(_Model):
    """The household: filing status, cash, and the minimum tax credit and capital losses carried
    in."""

    filing_status: Annotated[Literal["single", "mfj", "mfs", "hoh"], BeforeValidator(_lower)]
    """single, mfj (married filing jointly), mfs (married filing separately), hoh (head of
    household); the same in every year of the horizon."""
    start_cash: Money
    """Cash available at the start of the first year (before its exercises)."""
    cash_floor: Money = 0.0
    """Cash that must remain at every point of the plan (an emergency reserve)."""
    cash_return: Growth = _DEFAULTS["cash_return"]
    """After-tax return earned on cash, a rate per year (0.03 = 3%): the balance at the end of
    each year (the start cash, before the first) earns it over the next year; the year's own
    savings, sales, exercises and taxes earn nothing that year. It gives paying tax later a
    value. 0 reproduces the figures of isoplan before it had a return on cash."""
    amt_credit_carryforward: Money = 0.0
    """Minimum tax credit carried into the first year from earlier AMT (Form 8801 line 26 of the
    year before)."""
    ca_amt_credit_carryforward: Money = 0.0
    """California's credit for prior year AMT carried into the first year (FTB 3510: the credit
    carried over from Schedule P (540) Part III of the year before)."""
    st_loss_carryover: Money = 0.0
    """Short-term capital loss carried into the first year, as a positive amount (Schedule D
    line 6: line 8 of the year before's Capital Loss Carryover Worksheet)."""
    lt_loss_carryover: Money = 0.0
    """Long-term capital loss carried into the first year, as a positive amount (Schedule D line
    14: line 13 of the year before's Capital Loss Carryover Worksheet)."""
    amt_st_loss_carryover: Money = 0.0
    """Short-term capital loss carried into the first year for the AMT (the AMT Capital Loss
    Carryover Worksheet, Form 6251 instructions line 2k). It differs from st_loss_carryover when
    shares with a different AMT basis (ISO stock) were sold at a loss; the same amount if
    nothing differed."""
    amt_lt_loss_carryover: Money = 0.0
    """Long-term capital loss carried into the first year for the AMT (as amt_st_loss_carryover,
    long-term)."""


class Income(_Model):
    """The household's own income of one year, without any option exercise or sale. Missing
    fields are 0 (itemize: null)."""

    wages: Money = 0.0
    """Salary (W-2 wages). The `default` wages grow by `wage_growth` a year."""
    bonus: Money = 0.0
    """Cash bonus (W-2 wages)."""
    rsu_income: Money = 0.0
    """RSU vest income (W-2 wages)."""
    other_ordinary_income: Amount = 0.0
    """Other ordinary income that is not investment income (may be negative)."""
    interest: Money = 0.0
    """Taxable interest and non-qualified dividends."""
    qualified_dividends: Money = 0.0
    """Qualified dividends."""
    ltcg: Amount = 0.0
    """Net long-term capital gain or loss of other investments."""
    stcg: Amount = 0.0
    """Net short-term capital gain or loss of other investments."""
    salt: Money = 0.0
    """State and local income (or sales) and property taxes paid."""
    mortgage_interest: Money = 0.0
    """Deductible home mortgage interest."""
    charitable: Money = 0.0
    """Cash gifts to charity."""
    aged_blind: Annotated[int, Field(ge=0, le=4), _N] = 0
    """Number of age-65-or-older and blind conditions of the filers, 0-4."""
    seniors: Annotated[int, Field(ge=0, le=2), _N] = 0
    """Number of people on the return aged 65 or over at the end of the year: 0-1, or 0-2 on a
    joint return; each is also one of the aged_blind conditions. They get the deduction for
    seniors of 2025-2028 ($6,000 each, less 6% of modified AGI over $75,000, $150,000 joint; none
    married filing separately), itemizing or not."""
    real_estate_tax: Money = 0.0
    """The part of salt that is real property tax: California deducts it (and no state income
    tax); the federal return reads salt."""
    dependents: Annotated[int, Field(ge=0, le=MAX_DEPENDENTS), _N] = 0
    """Dependents claimed (California's dependent exemption credits)."""
    state: Annotated[Literal["", "ca"], BeforeValidator(_state)] = ""
    """Residence for the year: ca (California, the whole year) or empty for no state tax. A move
    is a change between years; see the README on what a year after a move leaves out."""
    itemize: bool | None = None
    """true / false forces the deduction; null chooses the one with the lower tax."""
    savings: Amount = 0.0
    """Cash added this year after the household's ordinary taxes and spending, as if it held no
    options (may be negative)."""


class YearIncome(Income):
    """One year's income in the list form of `years`."""

    year: Year
    """The tax year."""


def _years_list_to_mapping(v: Any) -> Any:
    """`years` as a list of entries with `year` becomes the mapping form, year -> entry."""
    if not isinstance(v, list):
        return v
    out: dict[Any, Any] = {}
    for i, item in enumerate(v):
        if not isinstance(item, dict) or "year" not in item:
            _fail(f"entry {i}: expected a mapping with a 'year' (or write years as a mapping)")
        rest = {k: x for k, x in item.items() if k != "year"}
        if item["year"] in out:
            _fail(f"year {shown(item['year'])} is listed twice")
        out[item["year"]] = rest
    return out


class Horizon(_Model):
    """The years planned: first_year, first_year + 1, ..., first_year + years - 1."""

    first_year: Year
    """The first tax year of the plan."""
    years: Annotated[int, Field(ge=1, le=MAX_HORIZON_YEARS), _N]
    """How many years the plan covers."""


class PriceYear(_Model):
    """The stock in one year: its fair market value on the year's exercise date, and the dates of
    that year's exercises and market sale."""

    fmv: Price
    """Fair market value per share (409A value while private, market price once public), used
    for exercises and for that year's market sale."""
    exercise_date: Day | None = None
    """When that year's exercises happen (default December 15)."""
    sale_date: Day | None = None
    """When that year's market sale happens once the stock is liquid (default December 31, so
    shares exercised on the previous year's exercise date are held more than a year)."""


def _price_shorthand(v: Any) -> Any:
    """`2026: 51` means `2026: {fmv: 51}`."""
    if isinstance(v, int | float | str) and not isinstance(v, bool):
        return {"fmv": v}
    return v


class VestEvent(_Model):
    """Shares vesting on one date."""

    date: Day
    shares: Shares


class Vesting(_Model):
    """A vesting schedule: `months` (with `start`, `cliff_months`, `every`), or explicit `dates`.

    Schedule: the cumulative vested count after m months is floor(shares x m / months), vesting
    every `every` period from `start`; nothing vests before the cliff, at the cliff everything up
    to it does. `months: 0` means fully vested at `start`. Shares vest no earlier than the grant
    date (a vesting start before the grant vests the earlier part on the grant date)."""

    start: Day | None = None
    """Vesting commencement date (default: the grant date)."""
    cliff_months: Months = 0
    """Months before anything vests (0: no cliff)."""
    months: Months | None = None
    """Total vesting period in months (a multiple of the period of `every`)."""
    every: Annotated[Literal["monthly", "quarterly", "annual"], BeforeValidator(_lower)] = "monthly"
    """How often shares vest after the cliff."""
    dates: list[VestEvent] | None = None
    """Explicit vesting events instead of a schedule; their shares add up to the grant's."""


class Grant(_Model):
    """An option grant (all of it, including shares already exercised)."""

    id: Ident
    """Short name, used in results: the option classes are `<id>` and, for the part of an ISO
    grant over the $100,000 limit, `<id>:nso`."""
    type: Annotated[Literal["iso", "nso"], BeforeValidator(_lower)]
    """iso (incentive stock option, §422) or nso (non-qualified)."""
    grant_date: Day
    strike: PerShare
    """Exercise price per share."""
    shares: Shares
    """Shares granted."""
    fmv_at_grant: PerShare | None = None
    """Fair market value per share on the grant date, for the $100,000 ISO limit (default: the
    strike, as an ISO's strike is at least that value)."""
    vesting: Vesting
    expiry: Day | None = None
    """Last day the options can be exercised (default: the grant date + 10 years)."""
    termination_date: Day | None = None
    """Last day of employment: vesting stops, the options expire `post_termination_days` later,
    and an ISO exercised more than 3 months after it is taxed as an NSO."""
    post_termination_days: Days = 90
    """Days after termination during which vested options can still be exercised."""
    exercised: ShareCount | None = None
    """Shares of this grant exercised before the horizon (held or since sold); they come off the
    earliest vested shares, ISO part first. Default: the shares of the lots from this grant."""
    employer: Ident = "employer"
    """The $100,000 ISO limit counts all grants of one employer together; name employers only
    when grants come from different ones."""


class LotIn(_Model):
    """Shares already held before the horizon."""

    id: Ident
    grant_id: Ident | None = None
    """The grant exercised (required for iso and nso lots)."""
    type: Annotated[Literal["iso", "nso", "stock"], BeforeValidator(_lower)]
    """iso: ISO shares exercised and not yet sold (the disqualifying-disposition rules apply);
    nso: shares from an NSO exercise; stock: other shares of the company (RSUs, purchases)."""
    shares: Shares
    grant_date: Day | None = None
    """Grant date (default: the grant's, if listed under `grants`)."""
    exercise_date: Day
    """Exercise (or acquisition) date; before the first year of the horizon."""
    regular_basis: PerShare | None = None
    """Regular-tax basis per share (iso: the strike, the default when the grant is listed;
    nso: the FMV at exercise)."""
    amt_basis: PerShare | None = None
    """AMT basis per share (iso: the FMV at exercise, required; others: default regular_basis)."""


class TenderOffer(_Model):
    """A company-run buyback of employee shares at a set price."""

    date: Day
    price: Price
    """Price paid per share."""
    max_shares: ShareCount | None = None
    """Most shares the household may sell (null: no cap)."""


class Liquidity(_Model):
    """When shares can be sold."""

    ipo_date: Day | None = None
    """Initial public offering (null: private through the horizon)."""
    lockup_days: Days = 180
    """Days after the IPO before employees may sell on the open market."""
    tender_offers: list[TenderOffer] = Field(default_factory=list)


class Objective(_Model):
    """What the plan optimizes, and how the end of the horizon is valued."""

    goal: Annotated[Literal["wealth", "min_tax"], BeforeValidator(_lower)] = "wealth"
    """wealth: the most after-tax wealth at the end; min_tax: the least tax for the exercises in
    `required_exercise`."""
    required_exercise: dict[OptionId, Shares] = Field(default_factory=dict)
    """Shares that must be exercised over the horizon, per option class (`<grant id>` or
    `<grant id>:nso`)."""
    discount_rate: Growth = _DEFAULTS["discount_rate"]
    """Annual rate at which later dollars are discounted."""
    terminal_price: PerShare | None = _DEFAULTS["terminal_price"]
    """Price per share at which shares held at the end are valued (default: the last FMV)."""
    terminal_tax_rate: Rate = _DEFAULTS["terminal_tax_rate"]
    """Tax rate on the regular gain of shares held at the end (federal 20% + 3.8% by default;
    when the last year is a California year and this is not given, plus California's top rate,
    which taxes such a gain as ordinary income)."""
    terminal_ordinary_rate: Rate = _DEFAULTS["terminal_ordinary_rate"]
    """Tax rate on the spread of vested options not exercised by the end (37% by default, plus
    California's top rate as for terminal_tax_rate)."""
    credit_value: Rate = _DEFAULTS["credit_value"]
    """Value of each dollar of minimum tax credit left at the end."""


def _goal_shorthand(v: Any) -> Any:
    """`objective: min_tax` means `objective: {goal: min_tax}`."""
    return {"goal": v} if isinstance(v, str) else v


class Solver(_Model):
    """The optimizer's settings."""

    name: Annotated[Literal["cbc", "highs", "scip"], BeforeValidator(_lower)] = _DEFAULTS["solver"]
    gap: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False), _N] = _DEFAULTS["gap"]
    """Relative optimality gap at which the solver stops."""
    time_limit: Annotated[float, Field(gt=0, le=MAX_TIME_LIMIT, allow_inf_nan=False), _N] = (
        _DEFAULTS["time_limit"]
    )
    """Seconds for the whole plan: the model's build, the baselines, the bound tightening and the
    solver together (`isoplan plan --help`)."""
    share_step: Annotated[int, Field(ge=1, le=MAX_SHARES), _N] = _DEFAULTS["share_step"]
    """Exercise and sell in multiples of this many shares."""


class TaxLaw(_Model):
    """Tax law of years after the last published one."""

    projection: bool = _DEFAULTS["allow_projection"]
    """Project later years by each figure's statutory indexing rule (false: refuse them)."""
    inflation: Growth | None = _DEFAULTS["inflation"]
    """Assumed annual chained-CPI inflation of projected years (default: data/projection.yaml)."""


class PricePath(_Model):
    """One possible future of the stock, for the robust plan: its probability and what differs
    from the scenario. The path is the scenario with `prices` and `liquidity` deep-merged over
    (a year's entry or a field given here replaces the scenario's; a list such as
    `tender_offers` replaces the whole list) and its own `terminal_price`."""

    name: Ident
    """Short name, used in results (`path` column, variable names `p_<name>__...`)."""
    probability: Probability
    """How likely this path is; the paths' probabilities add up to 1."""
    description: str | None = None
    """The story of this path, in words."""
    prices: dict[
        Year,
        Annotated[
            PriceYear, BeforeValidator(_price_shorthand, json_schema_input_type=PriceYear | float)
        ],
    ] = Field(default_factory=dict)
    """Per-year FMV (and dates) on this path; years not given keep the scenario's. The years the
    robust plan decides now (`robust.shared_years`) must keep the scenario's."""
    liquidity: Liquidity | None = None
    """IPO, lockup and tender offers on this path (fields given replace the scenario's)."""
    terminal_price: PerShare | None = None
    """Price per share at which shares held at the end are valued on this path."""


class Robust(_Model):
    """The robust (two-stage stochastic) plan over `paths`: the decisions of the first
    `shared_years` years are taken now, the same on every path; later ones adapt to the path."""

    shared_years: Annotated[int, Field(ge=1, le=MAX_HORIZON_YEARS), _N] = 1
    """Years decided before the paths tell apart (their prices, dates and sale windows must be
    the same on every path)."""
    worst_path_floor: Amount | None = None
    """After-tax wealth every path must reach (null: no floor)."""
    cvar_floor: Amount | None = None
    """Mean after-tax wealth of the worst `cvar_alpha` of probability must reach this (CVaR;
    null: no bound)."""
    cvar_alpha: Probability = 0.25
    """The tail probability of `cvar_floor`."""


class ScenarioFile(_Model):
    """An isoplan scenario: a household, its stock options and company shares, and the years to
    plan their exercise and sale."""

    description: Annotated[str, Field(min_length=1)]
    """The story, in words: who, what they hold, what they want to know."""
    household: Household
    horizon: Horizon | None = None
    """The years planned (default: the first to the last year listed under `years`)."""
    default: Income = Income()
    """Income of every year of the horizon; `years` overrides it field by field."""
    wage_growth: Growth = 0.0
    """Annual growth of the `default` wages (year k of the horizon: wages x (1 + g)^k)."""
    years: Annotated[
        dict[Year, Income],
        BeforeValidator(
            _years_list_to_mapping,
            json_schema_input_type=dict[Year, Income] | list[YearIncome],
        ),
    ] = Field(default_factory=dict)
    """Per-year income, as a mapping year -> fields or a list of entries with `year`."""
    prices: dict[
        Year,
        Annotated[
            PriceYear, BeforeValidator(_price_shorthand, json_schema_input_type=PriceYear | float)
        ],
    ]
    """Per horizon year: the FMV, or {fmv, exercise_date, sale_date}. With `price_growth`, only
    the first year's is needed."""
    price_growth: Growth | None = None
    """A year missing from `prices` takes the latest earlier year's FMV grown by this a year
    (0.10 = 10%), to the cent: a start and a growth rate instead of every year's price."""
    grants: list[Grant] = Field(default_factory=list)
    lots: list[LotIn] = Field(default_factory=list)
    liquidity: Liquidity = Liquidity()
    objective: Annotated[
        Objective,
        BeforeValidator(
            _goal_shorthand,
            json_schema_input_type=Objective | Literal["wealth", "min_tax"],
        ),
    ] = Objective()
    solver: Solver = Solver()
    tax_law: TaxLaw = TaxLaw()
    paths: list[PricePath] = Field(default_factory=list)
    """Possible futures of the stock with their probabilities: with paths, `isoplan plan` makes
    the robust plan (the most expected after-tax wealth over the paths)."""
    robust: Robust = Robust()
    """Settings of the robust plan (used with `paths`)."""

    @field_validator("description")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            _fail("must not be empty")
        return v.strip()


def bounds_of(model: type[BaseModel], name: str) -> tuple[float, float]:
    """The bounds the schema gives a number field (infinite where it gives none; a strict bound
    counts as inclusive), read from its type: a vectorized reader of book tables checks the
    same bounds without validating each row."""
    info = model.model_fields[name]
    found = list(info.metadata)
    for arg in get_args(info.annotation):  # `Money | None`: the bounds sit inside the union
        if get_origin(arg) is Annotated:
            for meta in get_args(arg)[1:]:
                found += getattr(meta, "metadata", [])
    lows = [m.ge for m in found if isinstance(m, Ge)] + [m.gt for m in found if isinstance(m, Gt)]
    highs = [m.le for m in found if isinstance(m, Le)] + [m.lt for m in found if isinstance(m, Lt)]
    return float(max(lows, default=-math.inf)), float(min(highs, default=math.inf))


def _unwrap_descriptions(node: Any) -> None:
    """Docstring line breaks become spaces (paragraph breaks stay)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "description" and isinstance(v, str):
                node[k] = "\n\n".join(" ".join(p.split()) for p in v.split("\n\n"))
            else:
                _unwrap_descriptions(v)
    elif isinstance(node, list):
        for v in node:
            _unwrap_descriptions(v)


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files."""
    schema = ScenarioFile.model_json_schema()
    _unwrap_descriptions(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "isoplan scenario"
    return schema
