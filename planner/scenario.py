"""Scenario files of the multi-year plan: a YAML format, its validation, and the conversion into
`models.scenario.Scenario` (option classes, lots, sale windows, tax years).

The format (`isoplan schema` prints it as JSON Schema; scenarios/plan-*.yaml are examples):

    description: the story, in words                      # required
    household: {filing_status: single, start_cash: 80000, cash_floor: 20000,
                amt_credit_carryforward: 0}
    horizon: {first_year: 2026, years: 4}                 # or implied by the keys of `years`
    default: {wages: 200000, savings: 40000}              # income of every year ...
    wage_growth: 0.03                                     # ... default wages grow 3% a year
    years: {2027: {bonus: 20000}}                         # per-year overrides, field by field
    prices: {2026: 51, 2027: {fmv: 60, exercise_date: 2027-11-15}, 2028: 70, 2029: 80}
    grants:
      - {id: g1, type: iso, grant_date: 2023-01-15, strike: 1, shares: 10000,
         vesting: {start: 2023-01-15, cliff_months: 12, months: 48, every: monthly}}
    lots: []                                              # shares exercised before the horizon
    liquidity: {ipo_date: 2028-03-01, lockup_days: 180,
                tender_offers: [{date: 2027-06-15, price: 30, max_shares: 2000}]}
    objective: {goal: wealth, discount_rate: 0.03}        # or min_tax with required_exercise
    solver: {name: cbc, gap: 1e-4, time_limit: 60, share_step: 1}
    tax_law: {projection: true, inflation: null}

Conversion rules (each one is also documented on its field, so it shows in the JSON Schema):
- `OptionClass.exercisable[year]`: shares vested on or before that year's exercise date, less the
  shares exercised before the horizon; 0 once the option has expired. Vesting stops at
  `termination_date`; options expire `post_termination_days` after it (or at `expiry` if sooner);
  an ISO exercised more than 3 months after termination is taxed as an NSO (`iso_deadline`).
- The $100,000 limit of IRC §422(d): per calendar year and employer, the grant-date value
  (fmv_at_grant x shares) of ISO shares first becoming exercisable that year, taking grants in the
  order granted, counts as ISO up to $100,000; the shares over it form a second class `<id>:nso`.
- Sale windows: `market-<year>` in every horizon year whose sale date is on or after
  ipo_date + lockup_days, at that year's FMV; `tender-<date>` for each tender offer.

Every error is an `InputError` of one line: the file, the field path and why, e.g.
`scenario.yaml: grants[1].strike: must not be negative, got -1 (line 14)`.
"""

from __future__ import annotations

import calendar
import dataclasses
import difflib
import json
import math
import types
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from models.scenario import (
    ISO,
    NSO,
    STOCK,
    Lot,
    OptionClass,
    SaleWindow,
    Scenario,
    TaxYear,
    add_years,
)
from planner.errors import InputError
from planner.law import published_years

Loc = tuple[int | str, ...]

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Scenario)}
MAX_HORIZON_YEARS = 40
ISO_LIMIT = 100_000.0  # IRC §422(d)(1)
ISO_WINDOW_MONTHS = 3  # IRC §422(a)(2)
DEFAULT_EXERCISE_MONTH_DAY = (12, 15)
DEFAULT_SALE_MONTH_DAY = (12, 31)
PERIOD_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}


def _fail(why: str) -> NoReturn:
    """A validation error whose message is final (the formatter adds file, path and line)."""
    raise PydanticCustomError("isoplan", why)


def _shown(value: Any) -> str:
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
        _fail(f"expected a number, got {_shown(v)}")
    return v


def _day(v: Any) -> date:
    if isinstance(v, datetime):
        if v.time() != datetime.min.time():
            _fail(f"expected a date like 2026-12-15 (no time of day), got {_shown(v)}")
        return v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        try:
            return date.fromisoformat(v.strip())
        except ValueError:
            pass
    _fail(f"expected a date like 2026-12-15, got {_shown(v)}")


def _ident(v: Any) -> Any:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


def _lower(v: Any) -> Any:
    return v.strip().lower() if isinstance(v, str) else v


Money = Annotated[float, Field(ge=0, allow_inf_nan=False), BeforeValidator(_number)]
Amount = Annotated[float, Field(allow_inf_nan=False), BeforeValidator(_number)]
Price = Annotated[float, Field(gt=0, allow_inf_nan=False), BeforeValidator(_number)]
Rate = Annotated[float, Field(ge=0, le=1), BeforeValidator(_number)]
Growth = Annotated[float, Field(ge=-0.5, le=1), BeforeValidator(_number)]
Count = Annotated[int, Field(ge=0), BeforeValidator(_number)]
Shares = Annotated[int, Field(gt=0), BeforeValidator(_number)]
Year = Annotated[int, Field(ge=1900, le=2200), BeforeValidator(_number)]
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
    """The household: filing status, cash, and the minimum tax credit carried in."""

    filing_status: Annotated[Literal["single", "mfj", "mfs", "hoh"], BeforeValidator(_lower)]
    """single, mfj (married filing jointly), mfs (married filing separately), hoh (head of
    household); the same in every year of the horizon."""
    start_cash: Money
    """Cash available at the start of the first year (before its exercises)."""
    cash_floor: Money = 0.0
    """Cash that must remain at every point of the plan (an emergency reserve)."""
    amt_credit_carryforward: Money = 0.0
    """Minimum tax credit carried into the first year from earlier AMT (Form 8801 line 26 of the
    year before)."""


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
    aged_blind: Annotated[int, Field(ge=0, le=4), BeforeValidator(_number)] = 0
    """Number of age-65-or-older and blind conditions of the filers, 0-4."""
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
            _fail(f"year {_shown(item['year'])} is listed twice")
        out[item["year"]] = rest
    return out


class Horizon(_Model):
    """The years planned: first_year, first_year + 1, ..., first_year + years - 1."""

    first_year: Year
    """The first tax year of the plan."""
    years: Annotated[int, Field(ge=1, le=MAX_HORIZON_YEARS), BeforeValidator(_number)]
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
    cliff_months: Count = 0
    """Months before anything vests (0: no cliff)."""
    months: Count | None = None
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
    strike: Money
    """Exercise price per share."""
    shares: Shares
    """Shares granted."""
    fmv_at_grant: Money | None = None
    """Fair market value per share on the grant date, for the $100,000 ISO limit (default: the
    strike, as an ISO's strike is at least that value)."""
    vesting: Vesting
    expiry: Day | None = None
    """Last day the options can be exercised (default: the grant date + 10 years)."""
    termination_date: Day | None = None
    """Last day of employment: vesting stops, the options expire `post_termination_days` later,
    and an ISO exercised more than 3 months after it is taxed as an NSO."""
    post_termination_days: Count = 90
    """Days after termination during which vested options can still be exercised."""
    exercised: Count | None = None
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
    regular_basis: Money | None = None
    """Regular-tax basis per share (iso: the strike, the default when the grant is listed;
    nso: the FMV at exercise)."""
    amt_basis: Money | None = None
    """AMT basis per share (iso: the FMV at exercise, required; others: default regular_basis)."""


class TenderOffer(_Model):
    """A company-run buyback of employee shares at a set price."""

    date: Day
    price: Price
    """Price paid per share."""
    max_shares: Count | None = None
    """Most shares the household may sell (null: no cap)."""


class Liquidity(_Model):
    """When shares can be sold."""

    ipo_date: Day | None = None
    """Initial public offering (null: private through the horizon)."""
    lockup_days: Count = 180
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
    terminal_price: Money | None = _DEFAULTS["terminal_price"]
    """Price per share at which shares held at the end are valued (default: the last FMV)."""
    terminal_tax_rate: Rate = _DEFAULTS["terminal_tax_rate"]
    """Tax rate on the regular gain of shares held at the end."""
    terminal_ordinary_rate: Rate = _DEFAULTS["terminal_ordinary_rate"]
    """Tax rate on the spread of vested options not exercised by the end."""
    credit_value: Rate = _DEFAULTS["credit_value"]
    """Value of each dollar of minimum tax credit left at the end."""


def _goal_shorthand(v: Any) -> Any:
    """`objective: min_tax` means `objective: {goal: min_tax}`."""
    return {"goal": v} if isinstance(v, str) else v


class Solver(_Model):
    """The optimizer's settings."""

    name: Annotated[Literal["cbc", "highs"], BeforeValidator(_lower)] = _DEFAULTS["solver"]
    gap: Annotated[float, Field(ge=0, lt=1), BeforeValidator(_number)] = _DEFAULTS["gap"]
    """Relative optimality gap at which the solver stops."""
    time_limit: Annotated[float, Field(gt=0, allow_inf_nan=False), BeforeValidator(_number)] = (
        _DEFAULTS["time_limit"]
    )
    """Seconds."""
    share_step: Annotated[int, Field(ge=1), BeforeValidator(_number)] = _DEFAULTS["share_step"]
    """Exercise and sell in multiples of this many shares."""


class TaxLaw(_Model):
    """Tax law of years after the last published one."""

    projection: bool = True
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
    probability: Annotated[float, Field(gt=0, le=1), BeforeValidator(_number)]
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
    terminal_price: Money | None = None
    """Price per share at which shares held at the end are valued on this path."""


class Robust(_Model):
    """The robust (two-stage stochastic) plan over `paths`: the decisions of the first
    `shared_years` years are taken now, the same on every path; later ones adapt to the path."""

    shared_years: Annotated[int, Field(ge=1, le=MAX_HORIZON_YEARS), BeforeValidator(_number)] = 1
    """Years decided before the paths tell apart (their prices, dates and sale windows must be
    the same on every path)."""
    worst_path_floor: Amount | None = None
    """After-tax wealth every path must reach (null: no floor)."""
    cvar_floor: Amount | None = None
    """Mean after-tax wealth of the worst `cvar_alpha` of probability must reach this (CVaR;
    null: no bound)."""
    cvar_alpha: Annotated[float, Field(gt=0, le=1), BeforeValidator(_number)] = 0.25
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
    """Per horizon year: the FMV, or {fmv, exercise_date, sale_date}."""
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


# ----------------------------------------------------------------------------------------------
# Reading YAML (duplicate keys are errors; nodes keep line numbers for messages)
# ----------------------------------------------------------------------------------------------


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(key, line)
        self.key, self.line = key, line


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # unhashable: the constructor reports it
            continue
        if duplicate:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read file: {exc}") from None
    return _parse_yaml(text, str(path))


def _parse_yaml(text: str, path: str) -> tuple[Any, yaml.Node | None]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _DuplicateKey as exc:
        raise InputError(
            f"{path}: key {_shown(exc.key)} appears twice in the same mapping (line {exc.line})"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InputError(f"{path}: cannot read YAML: {problem}{where}") from None
    finally:
        loader.dispose()
    return data, node


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The line of the deepest node of `loc` present in the file (1-based)."""
    if root is None:
        return None
    node = root
    for key in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    nxt = v
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if 0 <= key < len(node.value) and key < 1900:
                nxt = node.value[key]
            else:  # list form of `years`: find the entry of that year
                for item in node.value:
                    if isinstance(item, yaml.MappingNode) and any(
                        k.value == "year" and getattr(v, "value", None) == str(key)
                        for k, v in item.value
                    ):
                        nxt = item
                        break
        if nxt is None:
            break
        node = nxt
    return node.start_mark.line + 1


# ----------------------------------------------------------------------------------------------
# Error messages
# ----------------------------------------------------------------------------------------------


def field_path(loc: Loc) -> str:
    out = ""
    for key in loc:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += ("." if out else "") + key
    return out


def _strip_type(t: Any) -> Any:
    while True:
        origin = get_origin(t)
        if origin is Annotated:
            t = get_args(t)[0]
        elif origin in (Union, types.UnionType):
            t = next(a for a in get_args(t) if a is not type(None))
        else:
            return t


def fields_at(loc: Loc) -> list[str]:
    """Field names of the model at `loc` (for 'did you mean' hints)."""
    t: Any = ScenarioFile
    for key in loc:
        t = _strip_type(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            if key not in t.model_fields:
                return []
            t = t.model_fields[key].annotation
        elif get_origin(t) is list:
            t = get_args(t)[0]
        elif get_origin(t) is dict:
            t = get_args(t)[1]
        else:
            return []
    t = _strip_type(t)
    if loc and loc[0] == "years" and len(loc) == 2:
        t = YearIncome
    return list(t.model_fields) if isinstance(t, type) and issubclass(t, BaseModel) else []


def _bound(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def error_reason(err: dict[str, Any]) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    got = f", got {_shown(err['input'])}" if "input" in err else ""
    if kind == "isoplan":
        return err["msg"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        loc = err["loc"]
        key, fields = str(loc[-1]), fields_at(loc[:-1])
        close = difflib.get_close_matches(key, fields, n=1) or [
            f for f in fields if f.startswith(key) or key.startswith(f)
        ]
        return "unknown field" + (f"; did you mean '{close[0]}'?" if close else "")
    if kind == "greater_than_equal":
        if ctx["ge"] == 0:
            return "must not be negative" + got
        return f"must be at least {_bound(ctx['ge'])}{got}"
    if kind == "greater_than":
        if ctx["gt"] == 0:
            return "must be positive" + got
        return f"must be more than {_bound(ctx['gt'])}{got}"
    if kind == "less_than_equal":
        return f"must be at most {_bound(ctx['le'])}{got}"
    if kind == "less_than":
        return f"must be less than {_bound(ctx['lt'])}{got}"
    if kind == "finite_number":
        return "must be a finite number" + got
    if kind in ("float_type", "float_parsing"):
        return "expected a number" + got
    if kind in ("int_type", "int_parsing"):
        if err["loc"] and err["loc"][-1] == "[key]":
            return "expected a year like 2026" + got
        return "expected a whole number" + got
    if kind == "int_from_float":
        return "must be a whole number" + got
    if kind in ("bool_type", "bool_parsing"):
        return "expected true or false" + got
    if kind == "literal_error":
        return f"expected {ctx['expected']}{got}"
    if kind == "string_type":
        return "expected text" + got
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "string_pattern_mismatch":
        return "use letters, digits, '_', '.' and '-' only (no spaces, ':' or '@')" + got
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a mapping" + got
    if kind == "list_type":
        return "expected a list" + got
    msg = str(err["msg"]).removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:] + got


class Where:
    """Formats errors about one file: `file: path: why (line N)`."""

    def __init__(self, source: str, root: yaml.Node | None) -> None:
        self.source, self.root = source, root

    def message(self, loc: Loc, why: str, more: int = 0) -> str:
        line = _line_of(self.root, loc)
        notes = [f"line {line}"] if line is not None else []
        if more:
            notes.append(f"and {more} more problem{'s' if more > 1 else ''}")
        path = field_path(loc)
        tail = f" ({'; '.join(notes)})" if notes else ""
        return f"{self.source}: {path + ': ' if path else ''}{why}{tail}"

    def error(self, loc: Loc, why: str, more: int = 0) -> InputError:
        return InputError(self.message(loc, why, more))

    def from_validation(self, exc: ValidationError) -> InputError:
        errors = exc.errors(include_url=False)
        err = errors[0]
        loc = tuple(k for k in err["loc"] if k != "[key]")
        return self.error(loc, error_reason(err), len(errors) - 1)


# ----------------------------------------------------------------------------------------------
# Dates and vesting
# ----------------------------------------------------------------------------------------------


def add_months(d: date, months: int) -> date:
    """The same day `months` later; the last day of the month when that month is shorter."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def vesting_events(grant: Grant) -> list[tuple[date, int]]:
    """(date, shares) vesting events of a grant, in date order, none before the grant date."""
    v = grant.vesting
    if v.dates is not None:
        events = [(e.date, e.shares) for e in v.dates]
    else:
        start = v.start or grant.grant_date
        months = v.months or 0
        if months == 0:
            events = [(start, grant.shares)]
        else:
            period = PERIOD_MONTHS[v.every]
            marks = sorted({m for m in range(period, months + 1, period) if m >= v.cliff_months})
            if v.cliff_months and v.cliff_months not in marks:
                marks = sorted({*marks, v.cliff_months})
            events, before = [], 0
            for m in marks:
                cumulative = grant.shares * m // months
                events.append((add_months(start, m), cumulative - before))
                before = cumulative
    merged: dict[date, int] = defaultdict(int)
    for d, n in events:
        merged[max(d, grant.grant_date)] += n
    return sorted((d, n) for d, n in merged.items() if n > 0)


@dataclasses.dataclass
class _Tranche:
    """Shares of one grant vesting on one date, split at the $100,000 limit."""

    date: date
    iso: int
    nso: int


def split_iso_limit(
    grants: Iterable[tuple[Grant, list[tuple[date, int]]]],
) -> dict[str, list[_Tranche]]:
    """Apply IRC §422(d): per employer and calendar year, ISO shares first exercisable that year
    count as ISO while their grant-date value (fmv_at_grant x shares), summed over the employer's
    ISO grants taken in the order granted, stays within $100,000; the rest is NSO.
    Returns the tranches of every grant (NSO grants: all NSO)."""
    out: dict[str, list[_Tranche]] = {}
    budget: dict[tuple[str, int], float] = defaultdict(lambda: ISO_LIMIT)
    ordered = sorted(enumerate(grants), key=lambda p: (p[1][0].grant_date, p[0]))
    for _, (grant, events) in ordered:
        tranches = []
        fmv = grant.fmv_at_grant if grant.fmv_at_grant is not None else grant.strike
        for d, n in events:
            if grant.type != ISO:
                tranches.append(_Tranche(d, 0, n))
                continue
            key = (grant.employer, d.year)
            iso = n if fmv <= 0 else min(n, math.floor(budget[key] / fmv + 1e-9))
            budget[key] -= iso * fmv
            tranches.append(_Tranche(d, iso, n - iso))
        out[grant.id] = tranches
    return out


# ----------------------------------------------------------------------------------------------
# Conversion
# ----------------------------------------------------------------------------------------------


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
            raise where.error(("prices",), f"no price for {y} (every year of {span} needs one)")


def _check_law(years: list[int], allow_projection: bool, where: Where, field: str) -> None:
    published = published_years()
    for y in years:
        if y < published[0]:
            raise where.error(
                (field,),
                f"tax year {y}: no tax-law data (published years {published[0]}-{published[-1]})",
            )
        if y > published[-1] and not allow_projection:
            raise where.error(
                (field,),
                f"tax year {y}: no published tax-law data (last is {published[-1]}) and "
                "projection is off",
            )


def _tax_years(doc: ScenarioFile, years: list[int], where: Where) -> list[TaxYear]:
    out = []
    for k, y in enumerate(years):
        override = doc.years.get(y)
        given = override.model_fields_set if override is not None else set()
        inc = {
            **doc.default.model_dump(),
            **{f: getattr(override, f) for f in given},
        }
        if "wages" not in given:
            inc["wages"] = round(doc.default.wages * (1.0 + doc.wage_growth) ** k, 2)
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
                itemize=inc["itemize"],
                savings=inc["savings"],
            )
        )
    return out


def _check_grant(g: Grant, i: int, where: Where) -> None:
    loc: Loc = ("grants", i)
    expiry = g.expiry or add_years(g.grant_date, 10)
    if expiry <= g.grant_date:
        raise where.error((*loc, "expiry"), f"must be after the grant date {g.grant_date}")
    if g.type == ISO and g.expiry is not None and g.expiry > add_years(g.grant_date, 10):
        raise where.error(
            (*loc, "expiry"),
            f"an ISO must expire within 10 years of its grant (§422(b)(3)), by "
            f"{add_years(g.grant_date, 10)}",
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


def _options(doc: ScenarioFile, taxyears: list[TaxYear], where: Where) -> tuple[OptionClass, ...]:
    seen: dict[str, int] = {}
    for i, g in enumerate(doc.grants):
        if g.id in seen:
            raise where.error(("grants", i, "id"), f"{g.id!r} is also grants[{seen[g.id]}]")
        seen[g.id] = i
        _check_grant(g, i, where)
    start = date(taxyears[0].year, 1, 1)
    held = defaultdict(int)
    for lot in doc.lots:
        if lot.type in (ISO, NSO) and lot.grant_id is not None:
            held[lot.grant_id] += lot.shares

    vested: list[tuple[Grant, list[tuple[date, int]]]] = []
    for g in doc.grants:
        events = vesting_events(g)
        expiry = _expiry(g)
        stop = g.termination_date or date.max
        vested.append((g, [(d, n) for d, n in events if d <= stop and d <= expiry]))
    tranches = split_iso_limit(vested)

    out: list[OptionClass] = []
    for i, g in enumerate(doc.grants):
        parts = tranches[g.id]
        exercised = g.exercised if g.exercised is not None else held[g.id]
        before = sum(t.iso + t.nso for t in parts if t.date < start)
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
        if held[g.id] > exercised:
            raise where.error(
                ("grants", i, "exercised"),
                f"{exercised:,}, but the lots from this grant hold {held[g.id]:,} shares",
            )
        used = {"iso": 0, "nso": 0}
        left = exercised
        for t in parts:  # exercised shares come off the earliest vested, ISO part first
            for part in ("iso", "nso"):
                take = min(left, getattr(t, part))
                used[part] += take
                left -= take
        expiry = _expiry(g)
        deadline = add_months(g.termination_date, ISO_WINDOW_MONTHS) if g.termination_date else None
        main = ISO if g.type == ISO else NSO
        classes = [(main, g.id)]  # the main class always exists (stable ids), maybe all zeros
        if g.type == ISO and any(t.nso for t in parts):
            classes.append((NSO, g.id + ":nso"))
        for kind, class_id in classes:
            part = "iso" if kind == ISO else "nso"
            exercisable = {}
            for ty in taxyears:
                d = ty.exercise_date
                got = sum(getattr(t, part) for t in parts if t.date <= d) - used[part]
                exercisable[ty.year] = float(max(got, 0)) if d <= expiry else 0.0
            out.append(
                OptionClass(
                    id=class_id,
                    grant_id=g.id,
                    kind=kind,
                    strike=g.strike,
                    grant_date=g.grant_date,
                    expiry=expiry,
                    exercisable=exercisable,
                    iso_deadline=deadline if kind == ISO else None,
                )
            )
    return tuple(out)


def _expiry(g: Grant) -> date:
    """The last day the options can be exercised (the earlier of expiry and the post-termination
    window)."""
    expiry = g.expiry or add_years(g.grant_date, 10)
    if g.termination_date is not None:
        expiry = min(expiry, g.termination_date + timedelta(days=g.post_termination_days))
    return expiry


def _lots(doc: ScenarioFile, first_year: int, where: Where) -> tuple[Lot, ...]:
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


def scenario_from_data(
    data: Any,
    source: str = "scenario",
    *,
    allow_projection: bool | None = None,
    inflation: float | None = None,
    _root: yaml.Node | None = None,
    _where: Where | None = None,
) -> Scenario:
    """Validate a scenario given as plain data (as read from YAML) and convert it.
    `allow_projection` and `inflation` override the file's `tax_law` when given; `_where`
    (instead of `source` and `_root`) places errors in layered files (`planner.variants`)."""
    where = Where(source, _root) if _where is None else _where
    if not isinstance(data, dict):
        raise where.error((), f"expected a mapping at the top level, got {_shown(data)}")
    try:
        doc = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise where.from_validation(exc) from None
    years = _horizon(doc, where)
    projection = doc.tax_law.projection if allow_projection is None else allow_projection
    _check_law(years, projection, where, "horizon" if doc.horizon is not None else "years")
    _check_years(doc, years, where)
    taxyears = _tax_years(doc, years, where)
    options = _options(doc, taxyears, where)
    lots = _lots(doc, years[0], where)
    windows = _windows(doc, taxyears, where)
    required = _objective(doc, options, where)
    obj, solver = doc.objective, doc.solver
    return Scenario(
        description=doc.description,
        filing_status=doc.household.filing_status,
        years=tuple(taxyears),
        options=options,
        lots=lots,
        windows=windows,
        start_cash=doc.household.start_cash,
        cash_floor=doc.household.cash_floor,
        amt_credit_carryforward=doc.household.amt_credit_carryforward,
        objective=obj.goal,
        required_exercise=required,
        discount_rate=obj.discount_rate,
        terminal_price=obj.terminal_price,
        terminal_tax_rate=obj.terminal_tax_rate,
        terminal_ordinary_rate=obj.terminal_ordinary_rate,
        credit_value=obj.credit_value,
        inflation=doc.tax_law.inflation if inflation is None else inflation,
        solver=solver.name,
        gap=solver.gap,
        time_limit=solver.time_limit,
        share_step=solver.share_step,
    )


def load_scenario(
    path: str | Path, *, allow_projection: bool | None = None, inflation: float | None = None
) -> Scenario:
    """Read, validate and convert a scenario file. Raises `InputError` (one line: file, field
    path, why, line) on any problem."""
    path = Path(path)
    data, root = read_yaml(path)
    return scenario_from_data(
        data, str(path), allow_projection=allow_projection, inflation=inflation, _root=root
    )


def scenario_from_text(
    text: str,
    source: str,
    *,
    allow_projection: bool | None = None,
    inflation: float | None = None,
) -> Scenario:
    """`load_scenario` for a file's text already read (`source` names it in messages, which
    keep their line numbers): a batch reads the files once and validates them in its workers."""
    data, root = _parse_yaml(text, source)
    return scenario_from_data(
        data, source, allow_projection=allow_projection, inflation=inflation, _root=root
    )
