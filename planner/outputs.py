"""Writing result tables: the format follows the file extension, and a file appears only whole.

Every write goes to a temporary file in the target folder and is renamed into place, so a crash or
an error never leaves a half-written result where a user (or a resumed batch) would take it as done.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from planner.errors import InputError

OUTPUT_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json")
SCHEMA_VERSION = "1"


def check_output_path(path: Path) -> None:
    """Fail before any work if the output cannot be written in the requested format."""
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(
            f"{path}: unknown output type {path.suffix!r} (use {', '.join(OUTPUT_SUFFIXES)})"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: folder {parent} does not exist")


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON-ready dicts (numpy scalars converted)."""
    return json.loads(df.to_json(orient="records", double_precision=15))


def write_table(
    df: pd.DataFrame,
    path: Path,
    metadata: dict[str, str] | None = None,
    schema: pa.Schema | None = None,
) -> None:
    """Write `df` to `path` atomically; Parquet carries `metadata` (schema version, provenance)
    and, if given, the column types of `schema` (so every part of a dataset has the same)."""
    check_output_path(path)
    suffix = path.suffix.lower()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
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
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
