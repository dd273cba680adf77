"""Writing result tables: the format follows the file extension, and a file appears only whole.

Every write goes to a temporary file in the target folder and is renamed into place, so a crash or
an error never leaves a half-written result where a user (or a resumed batch) would take it as done;
a new folder of tables (`write_folder`) is filled under a temporary name and renamed into place as a
whole. Files and folders get the permissions the user's umask gives (a temporary file is created
private, so it is opened up before the rename). Whether an output can be written is checked before
any work (`check_output_path`, `check_output_folder`), so a long solve never ends in "cannot
write"; a write that fails all the same (a full disk) is one line, never a traceback.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from planner.errors import InputError

OUTPUT_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json")
SCHEMA_VERSION = "1"


@cache
def isoplan_version() -> str:
    """The installed isoplan's version, for provenance (Parquet metadata, a report's footer, a
    batch client's fingerprint); "0+unknown" in a source tree that is not installed."""
    try:
        return version("isoplan")
    except PackageNotFoundError:
        return "0+unknown"


def _umask() -> int:
    """The process's umask, read where Linux shows it; elsewhere set and set straight back (the
    only other way to read it, which another thread could see for an instant)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _open_up(path: Path, mode: int) -> None:
    """Give a file or folder made private by `tempfile` the mode the umask allows."""
    os.chmod(path, mode & ~_umask())


def _probe(folder: Path, shown: Path) -> None:
    """Create and remove a file in `folder`: the one test that holds for root, read-only file
    systems and network mounts alike."""
    try:
        fd, name = tempfile.mkstemp(prefix=".isoplan-probe.", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise InputError(f"{shown}: cannot write in {folder}: {exc.strerror or exc}") from None


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(
            f"{path}: unknown output type {path.suffix!r} (use {', '.join(OUTPUT_SUFFIXES)})"
        )


def check_output_path(path: Path) -> None:
    """Fail before any work if the output cannot be written in the requested format."""
    _check_suffix(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: folder {parent} does not exist")
    _probe(parent, path)


def check_output_folder(folder: Path) -> None:
    """Fail before any work if a folder of results cannot be made or written: the folder if it
    exists, else the nearest folder above it that does (where it would be made)."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder")
    if not folder.exists() and folder.suffix.lower() in OUTPUT_SUFFIXES:
        raise InputError(
            f"{folder}: this command writes a folder of tables (one Parquet file each), not one "
            f"{folder.suffix} file: give a folder, such as -o {folder.with_suffix('')}/, or use "
            "--json for one JSON document"
        )
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{folder}: cannot be made: {existing} is not a folder")
    _probe(existing, folder)


def _check_finite(df: pd.DataFrame, where: object) -> None:
    """No result holds an infinity (a missing figure is null): one would mean an input slipped
    past the bounds of planner.limits or a bug, and must not be written as if it were a figure."""
    for name in df.columns:
        column = df[name]
        if pd.api.types.is_float_dtype(column) and column.abs().max() == math.inf:
            raise RuntimeError(f"internal error: {where}: column {name!r} holds an infinity")


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON-ready dicts (numpy scalars converted; JSON would write an infinity as
    null, so none may be there)."""
    _check_finite(df, "JSON output")
    return json.loads(df.to_json(orient="records", double_precision=15))


def write_table(
    df: pd.DataFrame,
    path: Path,
    metadata: dict[str, str] | None = None,
    schema: pa.Schema | None = None,
) -> None:
    """Write `df` to `path` atomically; Parquet carries `metadata` (schema version, provenance)
    and, if given, the column types of `schema` (so every part of a dataset has the same)."""
    _check_suffix(path)
    _check_finite(df, path)
    suffix = path.suffix.lower()
    with _replaced(path) as tmp:
        if suffix == ".parquet":
            table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
            meta = {b"isoplan.schema_version": SCHEMA_VERSION.encode()}
            meta.update({f"isoplan.{k}".encode(): v.encode() for k, v in (metadata or {}).items()})
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
            pq.write_table(table, tmp)
        elif suffix == ".csv":
            df.to_csv(tmp, index=False)
        elif suffix == ".jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for row in records(df):
                    fh.write(json.dumps(row) + "\n")
        else:
            tmp.write_text(json.dumps(records(df), indent=1) + "\n", encoding="utf-8")


@contextmanager
def _replaced(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` to write, renamed over `path` when the block ends: a
    reader never sees half a file, and a failure leaves the old one (or none)."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _open_up(tmp, 0o666)
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def check_output_file(
    path: Path, suffixes: tuple[str, ...], what: str, *, check_folder: bool = True
) -> None:
    """Fail before any work if `path` (a `what`, one of `suffixes`) cannot be written; without
    `check_folder`, only its type (its folder is made later, and checked where it is)."""
    if path.suffix.lower() not in suffixes:
        raise InputError(
            f"{path}: unknown {what} type {path.suffix or '(none)'!r} (use {', '.join(suffixes)})"
        )
    if not check_folder:
        return
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a {what} file")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: folder {parent} does not exist")
    _probe(parent, path)


def write_bytes(data: bytes, path: Path) -> None:
    """Write a whole file atomically (`_replaced`)."""
    with _replaced(path) as tmp:
        tmp.write_bytes(data)


def write_folder(folder: Path, files: dict[str, tuple[pd.DataFrame, dict[str, str]]]) -> None:
    """Tables written as files under `folder`, each named by its path in it (`plan/actions.parquet`
    may name a subfolder) with its Parquet metadata. A folder that does not exist yet appears
    whole: everything is written into a temporary folder beside it, then renamed into place; in an
    existing folder each file is replaced whole (`write_table`)."""

    def fill(root: Path) -> None:
        for name, (frame, metadata) in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            write_table(frame, root / name, metadata)

    if folder.is_dir():
        try:
            fill(folder)
        except OSError as exc:
            raise InputError(f"{folder}: cannot write: {exc.strerror or exc}") from None
        return
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as exc:
        raise InputError(f"{folder}: cannot write: {exc.strerror or exc}") from None
    try:
        fill(tmp)
        for sub in (tmp, *(p for p in tmp.rglob("*") if p.is_dir())):
            _open_up(sub, 0o777)
        os.rename(tmp, folder)
    except OSError as exc:
        raise InputError(f"{folder}: cannot write: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
