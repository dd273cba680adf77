"""The report as plain data: sections of headings, sentences, figures, tables and charts.

The page (`html.py`) and the workbook (`workbook.py`) both render these same objects, so the two
cannot drift. A figure keeps its raw value and, when it is a cell of a Parquet table, where it
came from (`Ref`: the table, the row's key, the column), which the page writes as `data-*`
attributes; a figure computed here (a total, a difference) has no `Ref`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd

from planner.report.formats import TEXT


class Ref(NamedTuple):
    """A figure's source: `data-table`, `data-key`, `data-column`."""

    table: str
    key: str
    column: str


@dataclass(frozen=True)
class Value:
    """One figure in running text or a card."""

    value: Any
    kind: str
    ref: Ref | None = None


@dataclass(frozen=True)
class Paragraph:
    """A sentence of text and figures; `style` is "", "lead", "note" or "warning"."""

    parts: tuple[str | Value, ...]
    style: str = ""


@dataclass(frozen=True)
class Card:
    label: str
    value: Value
    note: tuple[str | Value, ...] = ()


@dataclass(frozen=True)
class Cards:
    """The headline figures, side by side."""

    items: tuple[Card, ...]


@dataclass(frozen=True)
class Heading:
    text: str
    anchor: str = ""


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    caption: str = ""


@dataclass(frozen=True)
class Links:
    """Sources with their addresses (the CPA appendix's references)."""

    title: str
    items: tuple[tuple[str, str], ...]  # (text, url)


@dataclass
class Table:
    """A table: display columns of raw values, each cell's kind and source. `kinds[c]` is one
    kind for the column or one per row; `refs[c]` one `Ref` (or None) per row; `classes` one CSS
    class per row ("", "projected", "total")."""

    title: str
    frame: pd.DataFrame
    kinds: dict[str, str | list[str]]
    refs: dict[str, list[Ref | None]]
    notes: tuple[str, ...] = ()
    classes: list[str] = field(default_factory=list)

    def kind(self, column: str, row: int) -> str:
        k = self.kinds.get(column, TEXT)
        return k if isinstance(k, str) else k[row]

    def ref(self, column: str, row: int) -> Ref | None:
        refs = self.refs.get(column)
        return None if refs is None else refs[row]

    def row_class(self, row: int) -> str:
        return self.classes[row] if self.classes else ""


Block = Paragraph | Cards | Heading | Chart | Links | Table


@dataclass
class Section:
    """One page of the report: `id` is its anchor (`action-plan`, `years`, ...)."""

    id: str
    title: str
    blocks: list[Block]


@dataclass
class Report:
    title: str
    kind: str  # plan, robust or compare
    subtitle: str
    sections: list[Section]
    footer: str = ""
