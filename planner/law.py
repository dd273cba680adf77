"""Load the tax law of each year from `data/`, validate it, and project later years.

Each jurisdiction has a folder of published years: `data/federal/YYYY.yaml` and, for California,
`data/ca/YYYY.yaml`. Years after a jurisdiction's last one are made by its projection rules
(`data/projection.yaml`, `data/ca/projection.yaml`) with one assumed inflation rate, and flagged
`projected`. How far ahead isoplan projects is the federal file's rule, for every jurisdiction.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from models.law import CA_PARAMETER_NAMES, PARAMETER_NAMES, STATUSES, YearLaw
from planner.errors import LawDataError, LawYearError
from planner.limits import GROWTH

_RATE_LISTS = ("ordinary.rates", "capital_gains.rates", "amt.rates", "ca.rates")
_EDGE_LISTS = ("tax_table.first_row_edges",)
_NULLABLE = ("salt.phasedown_threshold", "senior_deduction.phaseout_threshold")
# Whole numbers: the date arithmetic of models.grants counts whole months and years, and a
# return's due date is a month and a day.
_WHOLE_UNITS = ("months", "years", "month", "day of month")


def data_dir() -> Path:
    """The installed data folder (package `isoplan_data`, which is the repository's `data/`)."""
    return Path(str(resources.files("isoplan_data")))


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LawDataError(f"{path}: cannot read tax-law file: {first}") from None
    if not isinstance(doc, dict):
        raise LawDataError(f"{path}: expected a mapping at the top level")
    return doc


def _check_number(path: Path, name: str, value: Any, where: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LawDataError(f"{path}: {name}{where}: expected a number, got {value!r}")
    if value < 0:
        raise LawDataError(f"{path}: {name}{where}: must not be negative, got {value!r}")


def _check_edges(path: Path, name: str, edges: list[Any], where: str = "") -> None:
    for e in edges:
        _check_number(path, name, e, where)
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise LawDataError(f"{path}: {name}{where}: bracket edges must increase")


def _check_parameter(path: Path, name: str, entry: Any, documents: dict[str, Any]) -> Any:
    if not isinstance(entry, dict) or "value" not in entry:
        raise LawDataError(f"{path}: {name}: expected a mapping with a 'value'")
    for key in ("description", "unit", "reference"):
        if not entry.get(key):
            raise LawDataError(f"{path}: {name}: missing '{key}' (every figure needs its source)")
    ref = entry["reference"]
    if not isinstance(ref, dict) or ref.get("document") not in documents:
        raise LawDataError(f"{path}: {name}: reference must name a document listed in 'documents'")
    value = entry["value"]
    if name in _NULLABLE and value is None:
        return None
    if name in _RATE_LISTS:
        if not isinstance(value, list) or not value:
            raise LawDataError(f"{path}: {name}: expected a list of rates")
        for r in value:
            _check_number(path, name, r)
        if any(b < a for a, b in itertools.pairwise(value)) or value[-1] > 1:
            raise LawDataError(f"{path}: {name}: rates must rise and stay within 0..1")
        return value
    if name in _EDGE_LISTS:
        if not isinstance(value, list) or not value:
            raise LawDataError(f"{path}: {name}: expected a list of amounts")
        _check_edges(path, name, value)
        return value
    if isinstance(value, dict):
        missing = [s for s in STATUSES if s not in value]
        if missing:
            raise LawDataError(f"{path}: {name}: filing status {missing[0]!r} missing")
        for s in STATUSES:
            v = value[s]
            if isinstance(v, list):
                _check_edges(path, name, v, f".{s}")
            else:
                _check_number(path, name, v, f".{s}")
        return value
    _check_number(path, name, value)
    if entry["unit"] in _WHOLE_UNITS and value != int(value):
        raise LawDataError(f"{path}: {name}: expected a whole number of {entry['unit']}")
    return value


def _check_schedule(path: Path, values: dict[str, Any], rates: str, brackets: str) -> None:
    """A rate schedule: one fewer bracket edge than rates, for every filing status."""
    for s in STATUSES:
        edges, n = values[brackets][s], len(values[rates])
        if len(edges) != n - 1:
            raise LawDataError(
                f"{path}: {brackets}.{s}: {len(edges)} edges for {n} rates "
                f"(need one fewer edge than rates)"
            )


def _check_phaseout_rate(path: Path, values: dict[str, Any], name: str) -> None:
    if not 0 < values[name] <= 1:
        raise LawDataError(f"{path}: {name} must be in (0, 1]")


def _check_federal_year(path: Path, values: dict[str, Any]) -> None:
    _check_schedule(path, values, "ordinary.rates", "ordinary.brackets")
    for s in STATUSES:
        if values["capital_gains.zero_rate_max"][s] >= values["capital_gains.fifteen_rate_max"][s]:
            raise LawDataError(
                f"{path}: capital_gains.{s}: the 0% band must end below the 15% band"
            )
    if len(values["capital_gains.rates"]) != 3 or len(values["amt.rates"]) != 2:
        raise LawDataError(f"{path}: capital_gains.rates needs 3 rates and amt.rates 2")
    _check_phaseout_rate(path, values, "amt.phaseout_rate")
    first_rows, wide_from = values["tax_table.first_row_edges"], values["tax_table.wide_rows_from"]
    widths = (values["tax_table.narrow_row_width"], values["tax_table.wide_row_width"])
    if min(widths) <= 0 or not first_rows[-1] <= wide_from <= values["tax_table.max_income"]:
        raise LawDataError(
            f"{path}: tax_table: rows need a positive width, and the first rows must end before "
            "the wide rows start, below max_income"
        )


def _check_ca_year(path: Path, values: dict[str, Any]) -> None:
    _check_schedule(path, values, "ca.rates", "ca.brackets")
    for s in STATUSES:
        if not values["ca.credit_phaseout_step"][s] > 0:
            raise LawDataError(f"{path}: ca.credit_phaseout_step.{s} must be positive")
    _check_phaseout_rate(path, values, "ca.amt_phaseout_rate")
    width, first = values["ca.tax_table_row_width"], values["ca.tax_table_first_row_end"]
    if not (width > 0 and 0 < first <= values["ca.tax_table_max_income"]):
        raise LawDataError(
            f"{path}: ca.tax_table: rows need a positive width and the first row must end by "
            "max_income"
        )


@dataclass(frozen=True)
class _Jurisdiction:
    """Where a jurisdiction's law lives under `data/` and what each of its years must hold."""

    folder: str
    names: tuple[str, ...]
    check_year: Callable[[Path, dict[str, Any]], None]
    projection: str  # its projection rules, relative to the data folder


JURISDICTIONS: dict[str, _Jurisdiction] = {
    "federal": _Jurisdiction("federal", PARAMETER_NAMES, _check_federal_year, "projection.yaml"),
    "ca": _Jurisdiction("ca", CA_PARAMETER_NAMES, _check_ca_year, "ca/projection.yaml"),
}


def parse_year_file(path: Path, jurisdiction: str = "federal") -> YearLaw:
    """Read and validate one published year."""
    names = JURISDICTIONS[jurisdiction].names
    doc = _load_yaml(path)
    year = doc.get("year")
    if not isinstance(year, int) or path.stem != str(year):
        raise LawDataError(f"{path}: 'year' must be an integer equal to the file name")
    documents = doc.get("documents")
    params = doc.get("parameters")
    if not isinstance(documents, dict) or not isinstance(params, dict):
        raise LawDataError(f"{path}: needs 'documents' and 'parameters' mappings")
    values: dict[str, Any] = {}
    for name in names:
        if name not in params:
            raise LawDataError(f"{path}: parameter {name!r} missing")
        values[name] = _check_parameter(path, name, params[name], documents)
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise LawDataError(f"{path}: unknown parameter {unknown[0]!r}")
    JURISDICTIONS[jurisdiction].check_year(path, values)
    return YearLaw(year=year, values=values, projected=False)


# ----------------------------------------------------------------------------------------------
# Projection
# ----------------------------------------------------------------------------------------------


def _round(value: float, step: float, mode: str) -> float:
    if mode == "down":
        return math.floor(value / step + 1e-9) * step
    return math.floor(value / step + 0.5) * step


def _project_value(rule: dict[str, Any], last: YearLaw, name: str, year: int, rate: float) -> Any:
    method = rule["method"]
    prior = last.values[name]
    if method == "fixed":
        return prior
    if method == "schedule":
        return rule["values"].get(year, rule.get("after"))
    start = last.year
    if method == "cpi_from":
        start = max(start, rule["first_indexed_year"] - 1)
    factor = (1.0 + rate) ** max(year - start, 0)
    step = rule["step"]

    def one(v: Any, status: str | None) -> Any:
        # A per-status step may omit a status derived as half of MFJ below.
        s = step.get(status, 1) if isinstance(step, dict) else step
        if isinstance(v, list):
            return [_round(e * factor, s, rule["round"]) for e in v]
        return _round(v * factor, s, rule["round"])

    if not isinstance(prior, dict):
        return one(prior, None)
    out = {s: one(prior[s], s) for s in STATUSES}
    mfj = out["mfj"]
    for status in STATUSES:
        # `mfs: half_mfj`, `single: half_mfj`: half the MFJ amount as indexed and rounded, as
        # the statute defines that status's amount (e.g. §1(j)(5)(B)(i)(III)).
        if rule.get(status) == "half_mfj":
            out[status] = [e / 2 for e in mfj] if isinstance(mfj, list) else mfj / 2
    return out


def project_year(last: YearLaw, year: int, rules: dict[str, Any], rate: float) -> YearLaw:
    """The law of `year` (> last.year) by each parameter's indexing rule."""
    values = {name: _project_value(rules[name], last, name, year, rate) for name in last.values}
    return YearLaw(year=year, values=values, projected=True)


class _Data(NamedTuple):
    laws: dict[int, YearLaw]  # the published years
    rules: dict[str, Any]  # each parameter's projection rule
    default_inflation: float
    max_years_projected: int


@cache
def _published(jurisdiction: str = "federal") -> _Data:
    spec = JURISDICTIONS[jurisdiction]
    root = data_dir()
    folder = root / spec.folder
    files = sorted(folder.glob("[0-9]*.yaml"))
    if not files:
        raise LawDataError(f"{folder}: no tax-law files found")
    laws = {law.year: law for law in (parse_year_file(f, jurisdiction) for f in files)}
    years = sorted(laws)
    gaps = sorted(set(range(years[0], years[-1] + 1)) - set(years))
    if gaps:
        raise LawDataError(f"{folder}: tax year {gaps[0]} missing between published years")
    path = root / spec.projection
    rules = _load_yaml(path).get("rules")
    if not isinstance(rules, dict) or any(n not in rules for n in spec.names):
        missing = [n for n in spec.names if not isinstance(rules, dict) or n not in rules]
        raise LawDataError(f"{path}: no projection rule for {missing[0]!r}")
    proj = _load_yaml(root / JURISDICTIONS["federal"].projection)
    rate, ahead = proj.get("default_inflation_rate"), proj.get("max_years_projected")
    if not isinstance(rate, float) or not GROWTH[0] <= rate <= GROWTH[1]:
        raise LawDataError(f"{path}: default_inflation_rate: expected a rate, got {rate!r}")
    if not isinstance(ahead, int) or isinstance(ahead, bool) or ahead < 0:
        raise LawDataError(f"{path}: max_years_projected: expected a whole number of years")
    return _Data(laws, rules, rate, ahead)


def default_inflation() -> float:
    """The assumed chained-CPI inflation rate for projected years, from `data/projection.yaml`."""
    return _published().default_inflation


def published_years() -> list[int]:
    return sorted(_published().laws)


def last_projected_year() -> int:
    """The last tax year isoplan projects (`max_years_projected` after the last published
    federal year), for every jurisdiction."""
    data = _published()
    return max(data.laws) + data.max_years_projected


def law_for_years(
    years: Iterable[int],
    inflation: float | None = None,
    allow_projection: bool = True,
    jurisdiction: str = "federal",
) -> dict[int, YearLaw]:
    """The law of every requested year; later years are projected (or refused). The one check
    of whether a year has law, and its wording: `LawYearError`."""
    data = _published(jurisdiction)
    where = "" if jurisdiction == "federal" else f"{jurisdiction.upper()} "
    laws = data.laws
    rate = data.default_inflation if inflation is None else inflation
    first, last = min(laws), max(laws)
    out: dict[int, YearLaw] = {}
    for year in sorted(set(years)):
        if year in laws:
            out[year] = laws[year]
        elif year < first:
            raise LawYearError(
                f"tax year {year}: no {where}tax-law data (published years {first}-{last})"
            )
        elif not allow_projection:
            raise LawYearError(
                f"tax year {year}: no published {where}tax-law data (last is {last}) and "
                "projection is off"
            )
        elif year > (limit := last_projected_year()):
            raise LawYearError(
                f"tax year {year}: isoplan projects tax law only to {limit}, "
                f"{data.max_years_projected} years after the last published year "
                f"({limit - data.max_years_projected})"
            )
        else:
            out[year] = project_year(laws[last], year, data.rules, rate)
    if jurisdiction == "federal":
        out = {
            y: replace(law, states=_states(y, inflation, allow_projection))
            for y, law in out.items()
        }
    return out


def _states(year: int, inflation: float | None, allow_projection: bool) -> dict[str, YearLaw]:
    """The states' law of a year, for `YearLaw.states`; a state without law for it (a projected
    year with projection off) is left out, and a resident there is refused where it is used."""
    try:
        return {"ca": law_for_years([year], inflation, allow_projection, "ca")[year]}
    except LawYearError:
        return {}


def citations(year: int, jurisdiction: str = "federal") -> dict[str, str]:
    """A short citation per parameter: the source named in a published year's file, or the
    indexing rule of a projected year."""
    path = data_dir() / JURISDICTIONS[jurisdiction].folder / f"{year}.yaml"
    if not path.exists():
        rules = _published(jurisdiction).rules
        return {
            name: f"projected by {rule['reference']['section']}" for name, rule in rules.items()
        }
    doc = _load_yaml(path)
    out = {}
    for name, entry in doc["parameters"].items():
        ref = entry["reference"]
        title = doc["documents"][ref["document"]]["title"].split(" (")[0]
        page = f"p. {ref['page']}" if ref.get("page") is not None else None
        out[name] = ", ".join(p for p in (title, ref.get("section"), page) if p)
    return out
