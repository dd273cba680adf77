"""What a report is built from: a plan's tables, read from the folder `isoplan plan -o` or
`isoplan compare -o` wrote, or handed over in memory by `plan --report` / `compare --report`.

Both ways give the same `Source`, so a report made on the spot and one made later from the
folder are the same page. A folder is recognised by its files (compare.parquet: a comparison;
paths.parquet: a robust plan; summary.parquet: a plan); anything else is refused in one line
(`InputError`) before a report is written. Optional tables and columns may be missing (an
older folder, a plan with no solution): the sections show what there is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from planner.errors import InputError
from planner.outputs import SCHEMA_VERSION

PLAN, ROBUST, COMPARE = "plan", "robust", "compare"

# The columns without which a table is not the one isoplan writes (checked when it has rows).
REQUIRED = {
    "summary": ("approach",),
    "years": ("year",),
    "actions": ("year", "kind", "shares"),
    "lots": ("lot_id",),
    "forms": ("year", "form", "line", "amount"),
    "paths": ("path",),
    "compare": ("variant",),
    "key_dates": ("date", "event"),
}


@dataclass(frozen=True)
class PlanTables:
    """One plan's tables by name (summary, actions, years, ...; a robust plan's with `paths` and
    a `path` column), each with a fresh 0..n-1 index: the row's position in its Parquet file,
    which is the `data-key` of tables without a key of their own. `prefix` goes in front of every
    `data-table` (a compared variant's name and '/')."""

    tables: dict[str, pd.DataFrame]
    meta: dict[str, str] = field(default_factory=dict)
    prefix: str = ""
    name: str = ""

    @property
    def kind(self) -> str:
        return ROBUST if "paths" in self.tables else PLAN

    def get(self, name: str) -> pd.DataFrame | None:
        """The table, or None when it is missing or has no rows."""
        df = self.tables.get(name)
        return None if df is None or df.empty else df


@dataclass(frozen=True)
class Source:
    """A report's input: one plan (deterministic or robust), or a comparison of variants."""

    kind: str
    where: str  # the folder (or the scenario) it came from, for the page's title
    plan: PlanTables | None = None
    compare: pd.DataFrame | None = None
    meta: dict[str, str] = field(default_factory=dict)
    variants: tuple[PlanTables, ...] = ()


def _fresh(df: pd.DataFrame) -> pd.DataFrame:
    return df.reset_index(drop=True)


def _check(name: str, df: pd.DataFrame, shown: object) -> None:
    if df.empty:
        return
    for column in REQUIRED.get(name, ()):
        if column not in df.columns:
            raise InputError(f"{shown}: not an isoplan {name} table: no column {column!r}")


def _read(path: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """A Parquet file and its `isoplan.*` metadata (without the prefix)."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: cannot read as Parquet: {first}") from None
    meta = {
        k.decode()[len("isoplan.") :]: v.decode(errors="replace")
        for k, v in (table.schema.metadata or {}).items()
        if k.startswith(b"isoplan.")
    }
    df = _fresh(table.to_pandas())
    _check(path.stem, df, path)
    return df, meta


def _read_plan(folder: Path, prefix: str = "", name: str = "") -> PlanTables:
    """Every table of a plan's folder; the metadata is the same in each file (summary's first)."""
    tables: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.parquet")):
        tables[path.stem], metas[path.stem] = _read(path)
    meta = metas.get("summary") or next(iter(metas.values()), {})
    return PlanTables(tables, meta, prefix, name)


def _not_output(folder: Path, why: str) -> InputError:
    return InputError(
        f"{folder}: not an isoplan output folder ({why}): give the folder that "
        "`isoplan plan -o` or `isoplan compare -o` wrote"
    )


def read_folder(folder: Path) -> Source:
    """The tables of a plan, robust plan or compare folder; one-line `InputError` otherwise."""
    if not folder.exists():
        raise InputError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise _not_output(folder, "it is a file")
    if (folder / "compare.parquet").is_file():
        table, meta = _read(folder / "compare.parquet")
        names = [n for n in meta.get("variants", "").split(",") if n]
        if not names:  # an older folder: the subfolders with a plan's summary, in table order
            subs = {p.parent.name for p in folder.glob("*/summary.parquet")}
            names = [v for v in table.get("variant", pd.Series(dtype=str)) if v in subs]
        variants = []
        for n in names:
            sub = folder / n
            if not (sub / "summary.parquet").is_file():
                raise InputError(f"{sub}: missing: compare.parquet names variant {n!r}")
            variants.append(_read_plan(sub, f"{n}/", n))
        return Source(COMPARE, str(folder), compare=table, meta=meta, variants=tuple(variants))
    if (folder / "paths.parquet").is_file() or (folder / "summary.parquet").is_file():
        plan = _read_plan(folder)
        return Source(plan.kind, str(folder), plan=plan, meta=plan.meta)
    raise _not_output(folder, "no summary.parquet, paths.parquet or compare.parquet in it")


def _meta(meta: dict[str, str]) -> dict[str, str]:
    return {"schema_version": SCHEMA_VERSION, **meta}


def from_plan(tables: dict[str, pd.DataFrame], meta: dict[str, str], where: str) -> Source:
    """A plan's tables in memory (`isoplan plan --report`), with the metadata its Parquet files
    would carry."""
    plan = PlanTables({k: _fresh(v) for k, v in tables.items()}, _meta(meta))
    return Source(plan.kind, where, plan=plan, meta=plan.meta)


def from_compare(
    table: pd.DataFrame,
    meta: dict[str, str],
    variants: list[tuple[str, dict[str, pd.DataFrame], dict[str, str]]],
    where: str,
) -> Source:
    """A comparison in memory (`isoplan compare --report`): its table and each variant's
    (name, tables, metadata)."""
    plans = tuple(
        PlanTables({k: _fresh(v) for k, v in t.items()}, _meta(m), f"{n}/", n)
        for n, t, m in variants
    )
    return Source(COMPARE, where, compare=_fresh(table), meta=_meta(meta), variants=plans)
