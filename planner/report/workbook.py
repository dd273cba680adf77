"""The report's tables as an .xlsx workbook (openpyxl): one sheet per section, the same tables
as the page, with raw values and number formats, so that a figure can be summed or checked.

Charts are the page's alone (a sheet holds their figures in the tables already); a section with
nothing but charts gets no sheet. A missing figure is an empty cell, never a 0.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from planner.report.formats import (
    BOOL,
    CENTS,
    DATE,
    INTEGER,
    MONEY,
    PERCENT,
    SCI,
    SECONDS,
    SHARES,
    is_missing,
    number,
    show,
)
from planner.report.model import Block, Cards, Chart, Heading, Links, Paragraph, Report, Table

FORMATS = {
    MONEY: '"$"#,##0;-"$"#,##0',
    CENTS: '"$"#,##0.00;-"$"#,##0.00',
    SHARES: "#,##0",
    PERCENT: "0.0##%",
    SCI: "0.0E+00",
    INTEGER: "0",
    SECONDS: '0.00" s"',
    DATE: "yyyy-mm-dd",
}
BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="EDF2F7")
NOTE = Font(italic=True, color="4A5568")


def _sheet_name(title: str, taken: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", " ", title)[:31].strip() or "Sheet"
    base, n = name, 2
    while name in taken:
        name = f"{base[:28]} {n}"
        n += 1
    taken.add(name)
    return name


def _text(parts: tuple[Any, ...]) -> str:
    return "".join(p if isinstance(p, str) else show(p.value, p.kind) for p in parts).replace(
        "`", ""
    )


def _cell_value(value: Any, kind: str) -> Any:
    """What a cell holds: the raw number, a date, text; None (empty) for a missing figure."""
    if is_missing(value):
        return None
    if kind == DATE:
        return value if isinstance(value, _dt.date) else str(value)
    if kind == BOOL:
        return bool(value)
    x = number(value)
    if kind in FORMATS and x is not None:
        return x
    return str(value)


class _Writer:
    """Blocks written down a sheet, one after another, with the widths they need."""

    def __init__(self, ws: Worksheet) -> None:
        self.ws, self.row, self.widths = ws, 1, {}

    def put(self, col: int, value: Any, kind: str = "", font: Font | None = None) -> None:
        cell = self.ws.cell(row=self.row, column=col, value=value)
        if kind in FORMATS and value is not None:
            cell.number_format = FORMATS[kind]
        if font is not None:
            cell.font = font
        shown = show(value, kind) if value is not None and kind else str(value or "")
        if col > 1 or len(shown) < 40:  # long text in column A spills over, it sets no width
            self.widths[col] = max(self.widths.get(col, 8), min(len(shown) + 2, 48))

    def text(self, text: str, font: Font | None = None) -> None:
        self.ws.cell(row=self.row, column=1, value=text).font = font or Font()
        self.row += 1

    def table(self, t: Table) -> None:
        self.text(t.title, Font(bold=True, size=12))
        for j, c in enumerate(t.frame.columns, start=1):
            self.put(j, c, font=BOLD)
            cell = self.ws.cell(row=self.row, column=j)
            cell.fill = HEAD_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        self.row += 1
        for i in range(len(t.frame)):
            for j, c in enumerate(t.frame.columns, start=1):
                kind = t.kind(c, i)
                font = BOLD if t.row_class(i) == "total" else None
                self.put(j, _cell_value(t.frame[c].iloc[i], kind), kind, font)
            self.row += 1
        for n in t.notes:
            self.text(n.replace("`", ""), NOTE)
        self.row += 1

    def block(self, b: Block) -> None:
        if isinstance(b, Table):
            self.table(b)
        elif isinstance(b, Paragraph):
            self.text(
                _text(b.parts),
                NOTE if b.style == "note" else BOLD if b.style == "warning" else None,
            )
        elif isinstance(b, Heading):
            self.row += 1
            self.text(b.text, Font(bold=True, size=13))
        elif isinstance(b, Cards):
            for card in b.items:
                self.put(1, card.label, font=BOLD)
                self.put(2, _cell_value(card.value.value, card.value.kind), card.value.kind)
                self.put(3, _text(card.note))
                self.row += 1
            self.row += 1
        elif isinstance(b, Links):
            self.text(b.title, BOLD)
            for text, url in b.items:
                cell = self.ws.cell(row=self.row, column=1, value=text)
                if url:
                    cell.hyperlink = url
                self.row += 1
            self.row += 1
        elif isinstance(b, Chart):
            pass

    def finish(self) -> None:
        for col, width in self.widths.items():
            self.ws.column_dimensions[get_column_letter(col)].width = width


def render_workbook(report: Report) -> bytes:
    """The workbook, as the bytes of an .xlsx file."""
    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    for s in report.sections:
        blocks = [b for b in s.blocks if not isinstance(b, Chart)]
        if not blocks:
            continue
        ws = wb.create_sheet(_sheet_name(s.title, taken))
        w = _Writer(ws)
        w.text(s.title, Font(bold=True, size=14))
        if not taken - {ws.title}:  # the first sheet says what the workbook is
            w.text(report.title, NOTE)
            if report.subtitle:
                w.text(report.subtitle, NOTE)
        w.row += 1
        for b in blocks:
            w.block(b)
        w.finish()
    if not wb.sheetnames:
        wb.create_sheet("Report").cell(row=1, column=1, value=report.title)
    wb.properties.creator = "isoplan"
    wb.properties.title = report.title
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
