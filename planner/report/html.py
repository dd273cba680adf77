"""The report as one self-contained HTML page: inline CSS, inline SVG, no script, nothing fetched.

It opens offline in any browser, reads on a laptop screen (a sticky table of contents, tables
that scroll sideways rather than cut a figure) and prints (each section on a new page, in
landscape). Every figure that is a Parquet cell is written with its source for a reader's or a
test's check: `data-table`, `data-key`, `data-column`, `data-value` (`repr(float(cell))`) and
`data-format` (the kind of `formats.show` that produced the text).
"""

from __future__ import annotations

from html import escape

from planner.report.formats import NUMERIC, is_missing, number, show
from planner.report.model import (
    Block,
    Cards,
    Chart,
    Heading,
    Links,
    Paragraph,
    Ref,
    Report,
    Table,
    Value,
)

CSS = """
:root { --ink: #1a202c; --muted: #4a5568; --line: #e2e8f0; --soft: #f7fafc; --accent: #2b6cb0;
  --warn-bg: #fffbeb; --warn-line: #d69e2e; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45; font: 15px/1.45
  system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header.top { padding: 20px 32px 8px; border-bottom: 1px solid var(--line); }
header.top h1 { margin: 0 0 4px; font-size: 24px; }
header.top p { margin: 0 0 8px; color: var(--muted); max-width: 78em; }
nav.toc { position: sticky; top: 0; z-index: 2; background: #fff;
  border-bottom: 1px solid var(--line); padding: 8px 32px; display: flex; flex-wrap: wrap;
  gap: 4px 18px; font-size: 14px; }
nav.toc a { color: var(--accent); text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
main { padding: 0 32px 32px; max-width: 1480px; }
section { padding-top: 12px; }
section > h2 { font-size: 21px; margin: 18px 0 10px; padding-bottom: 4px;
  border-bottom: 2px solid var(--ink); }
h3 { font-size: 18px; margin: 26px 0 6px; }
h4 { font-size: 15px; margin: 18px 0 6px; }
p { margin: 6px 0; max-width: 80em; }
p.lead { font-size: 16px; }
p.note, p.table-note, figure p { color: var(--muted); font-size: 13.5px; }
p.warning { background: var(--warn-bg); border-left: 4px solid var(--warn-line);
  padding: 8px 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 12px;
  margin: 12px 0; max-width: 1360px; }
/* A card's label, figure and note are rows of the row of cards (subgrid): a label on two lines
   lowers the figures of the whole row alike. */
.card { display: grid; grid-row: span 3; grid-template-rows: subgrid; row-gap: 2px;
  align-content: start; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
  background: var(--soft); }
.card:first-child { border-color: var(--accent); background: #ebf4ff; }
.card .label { font-size: 13px; color: var(--muted); align-self: end; }
.card .figure { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .card-note { font-size: 13px; color: var(--muted); }
.table-wrap { overflow-x: auto; margin: 4px 0; }
table { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 9px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { text-align: left; font-weight: 600; background: var(--soft); border-bottom: 2px solid #cbd5e0;
  white-space: normal; min-width: 4.5em; }
th.num { text-align: right; }
td.num { text-align: right; white-space: nowrap; }
td.text { max-width: 34em; }
td.nw { white-space: nowrap; }
td.missing { color: #a0aec0; text-align: center; }
td.kv { text-align: left; white-space: nowrap; }
tr.projected td:first-child { font-style: italic; }
tr.total td { font-weight: 650; border-top: 2px solid #cbd5e0; }
td.neg { color: #9b2c2c; }
.charts { display: flex; flex-wrap: wrap; gap: 18px 28px; }
figure { margin: 8px 0; flex: 1 1 520px; max-width: 640px; }
figure h4 { margin-top: 8px; }
svg.chart { width: 100%; height: auto; display: block; }
ul.refs { font-size: 13px; color: var(--muted); padding-left: 18px; }
ul.refs a { color: var(--accent); word-break: break-word; }
footer { color: var(--muted); font-size: 12.5px; padding: 12px 32px 28px;
  border-top: 1px solid var(--line); }
code { font-size: 90%; background: var(--soft); padding: 0 3px; border-radius: 3px; }
@page { size: landscape; margin: 12mm; }
@media print {
  body { font-size: 10.5pt; }
  nav.toc { display: none; }
  main, header.top, footer { padding-left: 0; padding-right: 0; max-width: none; }
  section + section { break-before: page; }
  .table-wrap { overflow: visible; }
  table { font-size: 8.5pt; }
  th, td { padding: 2px 5px; }
  tr, figure, .card { break-inside: avoid; }
  figure { flex: 1 1 45%; }
  h2, h3, h4 { break-after: avoid; }
  .card { background: none; }
}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _attrs(ref: Ref | None, value: object, kind: str) -> str:
    """The `data-*` of a figure that is a Parquet cell (a number); nothing for any other."""
    x = number(value)
    if ref is None or x is None or kind not in NUMERIC:
        return ""
    return (
        f' data-table="{_e(ref.table)}" data-key="{_e(ref.key)}" data-column="{_e(ref.column)}"'
        f' data-value="{_e(repr(float(x)))}" data-format="{kind}"'
    )


def _code(text: str) -> str:
    """Text with `backquoted` commands shown as code."""
    parts = text.split("`")
    return "".join(f"<code>{_e(p)}</code>" if i % 2 else _e(p) for i, p in enumerate(parts))


def _inline(parts: tuple[str | Value, ...]) -> str:
    out = []
    for p in parts:
        if isinstance(p, Value):
            out.append(f"<span{_attrs(p.ref, p.value, p.kind)}>{_e(show(p.value, p.kind))}</span>")
        else:
            out.append(_code(p))
    return "".join(out)


def _cell(t: Table, column: str, row: int) -> str:
    value = t.frame[column].iloc[row]
    kind = t.kind(column, row)
    text = show(value, kind)
    classes = []
    if not isinstance(t.kinds.get(column), str):  # a kind per row (what, figure): all left
        classes.append("kv")
        if (number(value) or 0) < 0 and text.startswith("-"):
            classes.append("neg")
    elif is_missing(value):
        classes.append("missing")
    elif kind in NUMERIC:
        classes.append("num")
        if (number(value) or 0) < 0 and text.startswith("-"):
            classes.append("neg")
    elif len(text) > 40:
        classes.append("text")
    elif len(text) <= 24:
        classes.append("nw")
    cls = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{cls}{_attrs(t.ref(column, row), value, kind)}>{_e(text)}</td>"


def _table(t: Table) -> str:
    heads = []
    for c in t.frame.columns:
        numeric = isinstance(t.kinds.get(c), str) and t.kinds.get(c) in NUMERIC
        cls = ' class="num"' if numeric else ""
        heads.append(f'<th{cls} scope="col">{_e(c)}</th>')
    rows = []
    for i in range(len(t.frame)):
        cls = t.row_class(i)
        cells = "".join(_cell(t, c, i) for c in t.frame.columns)
        attr = f' class="{cls}"' if cls else ""
        rows.append(f"<tr{attr}>{cells}</tr>")
    notes = "".join(f'<p class="table-note">{_code(n)}</p>' for n in t.notes)
    return (
        f"<h4>{_e(t.title)}</h4>"
        f'<div class="table-wrap"><table><thead><tr>{"".join(heads)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{notes}"
    )


def _block(b: Block) -> str:
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Paragraph):
        cls = f' class="{b.style}"' if b.style else ""
        return f"<p{cls}>{_inline(b.parts)}</p>"
    if isinstance(b, Cards):
        cards = "".join(
            f'<div class="card"><div class="label">{_e(c.label)}</div>'
            f'<div class="figure">{_inline((c.value,))}</div>'
            f'<div class="card-note">{_inline(c.note)}</div></div>'
            for c in b.items
        )
        return f'<div class="cards">{cards}</div>'
    if isinstance(b, Heading):
        anchor = f' id="{_e(b.anchor)}"' if b.anchor else ""
        return f"<h3{anchor}>{_e(b.text)}</h3>"
    if isinstance(b, Chart):
        caption = f"<p>{_e(b.caption)}</p>" if b.caption else ""
        return f"<figure><h4>{_e(b.title)}</h4>{b.svg}{caption}</figure>"
    assert isinstance(b, Links)
    items = "".join(
        f'<li><a href="{_e(url)}">{_e(text)}</a></li>' if url else f"<li>{_e(text)}</li>"
        for text, url in b.items
    )
    return f'<h4>{_e(b.title)}</h4><ul class="refs">{items}</ul>'


def _blocks(blocks: list[Block]) -> str:
    """Blocks in order, consecutive charts side by side in a grid."""
    out, charts = [], []
    for b in [*blocks, None]:
        if isinstance(b, Chart):
            charts.append(_block(b))
            continue
        if charts:
            out.append(f'<div class="charts">{"".join(charts)}</div>')
            charts = []
        if b is not None:
            out.append(_block(b))
    return "".join(out)


def render_html(report: Report, version: str = "") -> str:
    """The page, as one string."""
    toc = "".join(f'<a href="#{s.id}">{_e(s.title)}</a>' for s in report.sections)
    sections = "".join(
        f'<section id="{s.id}"><h2>{_e(s.title)}</h2>'
        + (_blocks(s.blocks) or '<p class="note">Nothing to show.</p>')
        + "</section>"
        for s in report.sections
    )
    subtitle = f"<p>{_code(report.subtitle)}</p>" if report.subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="isoplan-folder-kind" content="{report.kind}">'
        f'<meta name="generator" content="isoplan {_e(version)}">'
        f"<title>{_e(report.title)}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><h1>{_e(report.title)}</h1>{subtitle}</header>'
        f'<nav class="toc" aria-label="Sections">{toc}</nav>'
        f"<main>{sections}</main><footer>{_e(report.footer)}</footer></body></html>\n"
    )
