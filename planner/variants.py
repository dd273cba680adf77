"""Scenario variants: layered files (`base.yaml+ipo-2028.yaml`), `--set` overrides, and the price
paths of a robust plan, all resolved on the raw YAML data before one validation.

Layering rule (a deep merge, later over earlier): where both sides are mappings they merge key by
key; anything else (a list, a scalar, null) replaces what was there. So `prices: {2028: 40}`
changes one year's price, `liquidity: {ipo_date: null}` cancels the IPO and keeps the tender
offers, and `grants: [...]` replaces every grant.

A layer that is not found as written is looked up beside the first file, so
`scenarios/whatif/base.yaml+wait.yaml` works from anywhere.

`--set a.b.c=value` then sets one field of the merged document: the value is read as YAML
(`2028-06-01` a date, `40` a number, `null`, `[1, 2]`, `{fmv: 40}`), the path is dotted, a
number picks a year of a per-year mapping (`prices.2027.fmv=60`) or an entry of a list
(`grants.0.strike=2`). Unknown fields are refused before anything is computed. The result is
validated as one scenario; an error names the layer (with its line) or the `--set` that gave
the field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from models.law import YearLaw
from models.scenario import Scenario
from models.stochastic import Risk
from planner.errors import InputError
from planner.options import NO_OVERRIDES, Overrides, PlanOptions
from planner.scenario import (
    Loc,
    Where,
    error_reason,
    field_path,
    fields_at,
    parse_yaml,
    read_yaml,
    validate,
)

PATH_FIELDS = ("prices", "liquidity")  # what a price path may change, besides terminal_price


def deep_merge(base: Any, over: Any) -> Any:
    """`over` layered on `base` (the module's rule); neither is changed."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


@dataclass
class _Layer:
    """Where a part of the merged document came from: a file (with its YAML nodes) or a --set."""

    label: str
    data: Any
    root: yaml.Node | None = None
    override: Loc | None = None


def _key(node: dict[Any, Any], part: str | int) -> Any:
    """The key of a mapping that a path part names (years are numbers in YAML)."""
    if part in node:
        return part
    text = str(part)
    if text.lstrip("-").isdigit() and int(text) in node:
        return int(text)
    return text


def _depth(layer: _Layer, loc: Loc) -> int:
    """How far along `loc` this layer gives values."""
    if layer.override is not None:
        n = 0
        for a, b in zip(layer.override, loc, strict=False):
            if str(a) != str(b):
                break
            n += 1
        return n if n == len(layer.override) or n == len(loc) else 0
    node, n = layer.data, 0
    for part in loc:
        if isinstance(node, dict):
            k = _key(node, part)
            if k not in node:
                break
            node = node[k]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            break
        n += 1
    return n


class _LayeredWhere(Where):
    """Error messages naming the layer (file and line) or the --set that gave the field."""

    def __init__(self, layers: list[_Layer]) -> None:
        super().__init__(layers[0].label, layers[0].root)
        self.layers = layers

    def message(self, loc: Loc, why: str, more: int = 0) -> str:
        best, depth = self.layers[0], 0
        for layer in self.layers:
            d = _depth(layer, loc)
            if d and d >= depth:
                best, depth = layer, d
        if best.override is not None:
            tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            return f"{best.label}: {field_path(loc) + ': ' if loc else ''}{why}{tail}"
        return Where(best.label, best.root).message(loc, why, more)


def _layer_paths(spec: str) -> list[Path]:
    parts = spec.split("+")
    if any(not p.strip() for p in parts):
        raise InputError(f"{spec}: empty layer name (write base.yaml+variant.yaml)")
    first = Path(parts[0])
    out = []
    for i, part in enumerate(parts):
        p = Path(part)
        if not p.exists() and i > 0 and (first.parent / part).exists():
            p = first.parent / part
        if not p.is_file():
            where = f" (layer {i + 1} of {spec})" if len(parts) > 1 else ""
            raise InputError(f"{part}: no such file{where}")
        out.append(p)
    return out


def _set_label(text: str) -> str:
    """A --set as messages name it, on one line whatever it holds."""
    return f"--set {' '.join(text.split())}"


def _apply_set(data: dict[str, Any], text: str) -> Loc:
    """Apply one `--set path=value` to the merged document; the path set."""
    label = _set_label(text)
    if "=" not in text:
        raise InputError(f"{label}: expected path.to.field=value")
    dotted, raw = text.split("=", 1)
    parts = dotted.strip().split(".")
    if not dotted.strip() or any(not p for p in parts):
        raise InputError(f"{label}: expected a dotted field path like prices.2027.fmv")
    value = parse_yaml(raw, label)[0] if raw.strip() else None
    loc: list[str | int] = []
    node: Any = data
    for i, part in enumerate(parts):
        fields = fields_at(tuple(loc))
        if fields and part not in fields:
            why = error_reason({"type": "extra_forbidden", "loc": (*loc, part)})
            raise InputError(f"{label}: {field_path((*loc, part))}: {why}")
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                where = field_path(tuple(loc))
                raise InputError(f"{label}: {where} has {len(node)} entries; '{part}' is not one")
            key: Any = int(part)
        elif isinstance(node, dict):
            key = _key(node, part)
        else:
            raise InputError(f"{label}: {field_path(tuple(loc))} is not a mapping or a list")
        loc.append(key)
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and not isinstance(node.get(key), dict | list):
                node[key] = {}
            node = node[key]
    return tuple(loc)


@dataclass
class Variant:
    """A scenario as layered and overridden: the deterministic scenario, or its price paths; the
    options it is planned with and the law of its years (the same on every path)."""

    spec: str
    name: str
    data: dict[str, Any]
    scenario: Scenario
    options: PlanOptions
    laws: dict[int, YearLaw]
    paths: dict[str, Scenario] = field(default_factory=dict)
    probabilities: dict[str, float] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    shared_years: int = 1
    risk: Risk = field(default_factory=Risk)

    @property
    def robust(self) -> bool:
        return bool(self.paths)


def variant_name(spec: str) -> str:
    """A short name of a layered spec: its files' stems joined by '+'."""
    return "+".join(Path(p).stem for p in spec.split("+"))


def load_variant(
    spec: str,
    sets: tuple[str, ...] = (),
    *,
    name: str | None = None,
    overrides: Overrides = NO_OVERRIDES,
) -> Variant:
    """Read the layers of `spec`, merge them, apply `sets`, validate; with `paths`, also each
    path as a scenario of its own."""
    layers = []
    for p in _layer_paths(spec):
        data, root = read_yaml(p)
        if not isinstance(data, dict):
            raise InputError(f"{p}: expected a mapping at the top level")
        layers.append(_Layer(str(p), data, root))
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer.data)
    for text in sets:
        layers.append(_Layer(_set_label(text), None, override=_apply_set(merged, text)))
    where = _LayeredWhere(layers)
    base = validate(merged, spec, overrides=overrides, _where=where)
    v = Variant(spec, name or variant_name(spec), merged, base.scenario, base.options, base.laws)
    if merged.get("paths"):
        _paths(v, where, overrides)
    return v


def _paths(v: Variant, where: Where, overrides: Overrides) -> None:
    """Each path as a scenario: the document without `paths`, its overrides merged over."""
    data = v.data
    docs = data["paths"]
    total = sum(float(p["probability"]) for p in docs)
    if abs(total - 1.0) > 1e-9:
        raise where.error(("paths",), f"the probabilities add up to {total:g}, not 1")
    if v.scenario.objective != "wealth":
        raise where.error(
            ("objective", "goal"), "the robust plan over `paths` maximizes wealth, not min_tax"
        )
    robust = data.get("robust") or {}
    v.shared_years = int(robust.get("shared_years", 1))
    if v.shared_years >= len(v.scenario.years):
        raise where.error(
            ("robust", "shared_years"),
            f"{v.shared_years}, but the horizon has {len(v.scenario.years)} years: the paths "
            "need a later year to differ in",
        )
    cvar_floor = robust.get("cvar_floor")
    v.risk = Risk(
        worst_floor=robust.get("worst_path_floor"),
        cvar_alpha=float(robust.get("cvar_alpha", 0.25)) if cvar_floor is not None else None,
        cvar_floor=cvar_floor,
    )
    common = {k: x for k, x in data.items() if k not in ("paths", "robust")}
    for i, p in enumerate(docs):
        name = str(p["name"])
        if name in v.paths:
            raise where.error(("paths", i, "name"), f"{name!r} is also an earlier path's name")
        over: dict[str, Any] = {k: p[k] for k in PATH_FIELDS if k in p}
        if p.get("terminal_price") is not None:
            over["objective"] = {"terminal_price": p["terminal_price"]}
        source = f"{v.spec}: paths[{i}] ({name})"
        v.paths[name] = validate(
            deep_merge(common, over), source, overrides=overrides, _where=Where(source, None)
        ).scenario
        v.probabilities[name] = float(p["probability"])
        v.descriptions[name] = str(p.get("description") or "")
    _check_shared(v, where)


def _check_shared(v: Variant, where: Where) -> None:
    """The shared years are the same on every path: prices, dates and sale windows."""
    names = list(v.paths)
    first = v.paths[names[0]]
    shared = first.year_numbers[: v.shared_years]

    def seen(s: Scenario) -> tuple[Any, ...]:
        years = tuple((ty.year, ty.fmv, ty.exercise_date) for ty in s.years if ty.year in shared)
        windows = tuple(w for w in s.windows if w.year in shared)
        return years, windows

    for i, name in enumerate(names[1:], start=1):
        if seen(v.paths[name]) != seen(first):
            years = "-".join(map(str, sorted({shared[0], shared[-1]})))
            raise where.error(
                ("paths", i),
                f"path {name!r} differs from {names[0]!r} in {years} (prices, dates or sale "
                f"windows), which the robust plan decides now (robust.shared_years = "
                f"{v.shared_years}); make them equal or decide fewer years now",
            )
