"""What a report is built from: a plan's tables, read from the folder `isoplan plan -o` or
`isoplan compare -o` wrote, or handed over in memory by `plan --report` / `compare --report`.

Both ways give the same `Source`, so a report made on the spot and one made later from the
folder are the same page. A folder is recognised by its files (compare.parquet: a comparison;
paths.parquet: a robust plan; summary.parquet: a plan; manifest.json and clients/: a batch of a
book, whose report is the book's dashboard); anything else is refused in one line
(`InputError`) before a report is written. Optional tables and columns may be missing (an
older folder, a plan with no solution): the sections show what there is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from planner.errors import InputError
from planner.outputs import SCHEMA_VERSION

PLAN, ROBUST, COMPARE, BATCH = "plan", "robust", "compare", "batch"

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
    "clients": ("client_id",),
    "errors": ("client_id", "stage", "reason"),
    "actions_due": ("client_id", "value_at_stake", "action"),
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
class BatchTables:
    """A batch folder's tables for its dashboard (clients, errors, actions_due: every part, in
    order, with a fresh 0..n-1 index), its summary (batch.json) and manifest (manifest.json)."""

    tables: dict[str, pd.DataFrame]
    summary: dict[str, Any]
    manifest: dict[str, Any]

    def get(self, name: str) -> pd.DataFrame | None:
        """The table, or None when it has no rows."""
        df = self.tables.get(name)
        return None if df is None or df.empty else df


@dataclass(frozen=True)
class Source:
    """A report's input: one plan (deterministic or robust), a comparison of variants, or a
    batch of a book's clients."""

    kind: str
    where: str  # the folder (or the scenario) it came from, for the page's title
    plan: PlanTables | None = None
    compare: pd.DataFrame | None = None
    meta: dict[str, str] = field(default_factory=dict)
    variants: tuple[PlanTables, ...] = ()
    batch: BatchTables | None = None


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
        "`isoplan plan -o`, `isoplan compare -o` or `isoplan batch -o` wrote"
    )


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not an isoplan batch file")
    return data


def _read_batch(folder: Path) -> Source:
    """A batch folder: its summary and the tables its dashboard shows. A run not finished yet
    (no batch.json) or from before actions_due is refused in one line: run `isoplan batch`
    into it again."""
    from planner.batch import ACTIONS_DUE, read_dataset

    again = "run the same `isoplan batch` command again"
    if not (folder / "batch.json").is_file():
        raise InputError(f"{folder}: the batch is not finished (no batch.json): {again}")
    if not (folder / ACTIONS_DUE).is_dir():
        raise InputError(f"{folder}: made by an older isoplan (no {ACTIONS_DUE}/): {again}")
    tables = {t: _fresh(read_dataset(folder / t)) for t in ("clients", "errors", ACTIONS_DUE)}
    for name, df in tables.items():
        _check(name, df, folder / name)
    batch = BatchTables(tables, _json(folder / "batch.json"), _json(folder / "manifest.json"))
    return Source(BATCH, str(folder), batch=batch)


def read_folder(folder: Path) -> Source:
    """The tables of a plan, robust plan, compare or batch folder; one-line `InputError`
    otherwise."""
    if not folder.exists():
        raise InputError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise _not_output(folder, "it is a file")
    if (folder / "manifest.json").is_file() and (folder / "clients").is_dir():
        return _read_batch(folder)
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
