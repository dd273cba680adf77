"""`isoplan report` (and `plan --report`, `compare --report`), without a browser.

The seed story's plan, a robust plan over four paths and a comparison of two variants are
planned once into a temporary folder; their reports are parsed with the standard library. Every
figure the page says comes from a Parquet cell (`data-table`, `data-key`, `data-column`,
`data-value`) is looked up in the folder and must be that cell, shown rounded as its
`data-format` says; the page fetches nothing (no http(s) `src`, no `href` outside the CPA
appendix's sources, no script or stylesheet link); every SVG chart is well-formed XML; the
workbook has the sections' sheets and the Parquet figures. Bad input is one line, exit code 2,
and nothing written.
"""

from __future__ import annotations

import functools
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import run_isoplan

from planner.report import charts
from planner.report.formats import money_format

# In-process runs, each a plan of a second or two: a backstop, not a budget.
pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "scenarios" / "plan-seed-story.yaml"
PATHS = ROOT / "scenarios" / "whatif" / "paths-ipo.yaml"
FMV_JUMP = ROOT / "scenarios" / "whatif" / "fmv-jump.yaml"

PLAN_SECTIONS = {"action-plan", "years", "charts", "cpa", "assumptions"}


# ----------------------------------------------------------------------------------------------
# the folders, planned once
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """plan/, robust/, compare/ and their reports; plan-now.html and compare/now.html are made
    in the same run as the folder (`--report`), the second inside the -o folder the run makes."""
    root = tmp_path_factory.mktemp("report")
    runs = [
        ("plan", SEED, "-o", root / "plan", "--report", root / "plan-now.html"),
        ("plan", PATHS, "-o", root / "robust"),
        ("compare", FMV_JUMP, "fmv-jump-wait.yaml", "-o", root / "compare",
         "--report", root / "compare" / "now.html"),
    ]  # fmt: skip
    for args in runs:
        r = run_isoplan(*args)
        assert r.code == 0, r.stderr
    for name in ("plan", "robust", "compare"):
        for suffix in ("html", "xlsx"):
            r = run_isoplan("report", root / name, "-o", root / f"{name}.{suffix}")
            assert r.code == 0, r.stderr
    return {"root": root}


# ----------------------------------------------------------------------------------------------
# reading a page
# ----------------------------------------------------------------------------------------------


@dataclass
class Figure:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class Page(HTMLParser):
    """What the tests look at: meta tags, section ids, figures with their sources, every
    src/href (with the section it is in), the tags used, the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.metas: dict[str, str] = {}
        self.sections: list[str] = []
        self.figures: list[Figure] = []
        self.links: list[tuple[str, str, str, str]] = []  # tag, attribute, value, section
        self.tags: set[str] = set()
        self.text: list[str] = []
        self._open: Figure | None = None
        self._section = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if tag == "meta" and "name" in a:
            self.metas[a["name"]] = a.get("content", "")
        if tag == "section":
            self._section = a.get("id", "")
            self.sections.append(self._section)
        for name in ("src", "href", "xlink:href", "action", "data", "poster"):
            if name in a:
                self.links.append((tag, name, a[name], self._section))
        if "data-value" in a:
            assert self._open is None, "a figure inside a figure"
            self._open = Figure(tag, a)

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag == self._open.tag:
            self.figures.append(self._open)
            self._open = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._open is not None:
            self._open.text += data


def page(path: Path) -> tuple[Page, str]:
    html = path.read_text(encoding="utf-8")
    p = Page()
    p.feed(html)
    p.close()
    return p, html


# ----------------------------------------------------------------------------------------------
# finding a figure's Parquet cell
# ----------------------------------------------------------------------------------------------

KEYS = {
    "years": lambda df, k: df["year"] == int(k),
    "summary": lambda df, k: df["approach"] == k,
    "lots": lambda df, k: df["lot_id"] == k,
    "paths": lambda df, k: df["path"] == k,
    "compare": lambda df, k: df["variant"] == k,
    "windows": lambda df, k: df["id"] == k,
    "forms": lambda df, k: (
        (df["year"] == int(k.split("|")[0]))
        & (df["form"] == k.split("|")[1])
        & (df["line"] == k.split("|", 2)[2])
    ),
}


@functools.cache
def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)  # read once per test run: the tests only read them


def cell(folder: Path, table: str, key: str, column: str) -> Any:
    """The Parquet cell a figure names: `[variant/][path/]table`; the key as the contract
    says (tables without a key of their own: the row's position in the file)."""
    *prefix, name = table.split("/")
    if prefix and (folder / prefix[0]).is_dir():
        folder, prefix = folder / prefix[0], prefix[1:]
    df = _read(folder / f"{name}.parquet")
    # actions, key_dates, warnings, scenario: the row's position in the file
    rows = df[KEYS[name](df, key)] if name in KEYS else df.loc[[int(key)]]
    if prefix:  # a robust plan's path
        rows = rows[rows["path"] == prefix[0]]
    assert len(rows) == 1, (table, key, column, len(rows))
    return rows.iloc[0][column]


def shown(text: str, fmt: str) -> tuple[float, float]:
    """The number the text shows and half its last digit (the rounding it allows)."""
    t = text.strip().replace("$", "").replace(",", "").removesuffix(" s").removesuffix("%")
    x = float(t)
    if fmt == "sci":
        mantissa, exp = t.lower().split("e")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return x, 0.5 * 10 ** (int(exp) - decimals)
    decimals = len(t.split(".")[1]) if "." in t else 0
    return x, 0.5 * 10**-decimals


def check_figures(folder: Path, p: Page) -> int:
    for f in p.figures:
        a = f.attrs
        value = cell(folder, a["data-table"], a["data-key"], a["data-column"])
        assert a["data-value"] == repr(float(value)), (a, value)
        x, half = shown(f.text, a["data-format"])
        target = float(value) * (100 if a["data-format"] == "percent" else 1)
        assert abs(x - target) <= half * (1 + 1e-9) + 1e-9 * abs(target), (f.text, a)
    return len(p.figures)


# ----------------------------------------------------------------------------------------------
# the page
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "sections"),
    [
        ("plan", "plan", PLAN_SECTIONS),
        ("robust", "robust", PLAN_SECTIONS | {"paths"}),
        ("compare", "compare", PLAN_SECTIONS | {"compare"}),
    ],
)
def test_every_figure_is_its_parquet_cell(
    made: dict[str, Path], name: str, kind: str, sections: set[str]
) -> None:
    root = made["root"]
    p, _ = page(root / f"{name}.html")
    assert p.metas["isoplan-folder-kind"] == kind
    assert set(p.sections) == sections
    assert len(p.sections) == len(set(p.sections))
    assert check_figures(root / name, p) > 50
    tables = {f.attrs["data-table"] for f in p.figures}
    if kind == "plan":
        assert {"years", "summary", "actions", "lots", "forms", "key_dates"} <= tables
    if kind == "robust":
        assert "paths" in tables and "ipo-2029/years" in tables and "down-round/actions" in tables
    if kind == "compare":
        assert "compare" in tables and "fmv-jump-wait/years" in tables
        assert "fmv-jump/forms" in tables
    # Never a missing figure as $0 or as nan.
    visible = " ".join(p.text)
    assert not re.search(r"\bnan\b|\bNaN\b|\bNone\b", visible)


def test_the_action_plan_comes_first_with_the_headline(made: dict[str, Path]) -> None:
    p, html = page(made["root"] / "plan.html")
    assert p.sections[0] == "action-plan"
    first = html.index('id="action-plan"'), html.index('id="years"')
    head = html[first[0] : first[1]]
    for figure in ('data-key="optimized"', 'data-key="even_split"', 'data-key="do_nothing'):
        assert figure in head
    assert "What to do" in head and "The cash it needs" in head and "Key dates" in head


@pytest.mark.parametrize("name", ["plan", "robust", "compare", "plan-now", "compare/now"])
def test_the_page_fetches_nothing(made: dict[str, Path], name: str) -> None:
    p, html = page(made["root"] / f"{name}.html")
    assert not {"script", "link", "img", "iframe", "object", "embed"} & p.tags
    for tag, attr, value, section in p.links:
        if value.startswith("#"):
            continue
        assert attr == "href" and tag == "a" and section == "cpa", (tag, attr, value, section)
        assert value.startswith("https://")
    assert "@import" not in html and "url(" not in html


@pytest.mark.parametrize("name", ["plan", "robust", "compare"])
def test_charts_are_well_formed_svg(made: dict[str, Path], name: str) -> None:
    _, html = page(made["root"] / f"{name}.html")
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)
    assert len(svgs) >= 3
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == "svg"
        assert root.find("title") is not None
        assert len(list(root.iter())) > 5  # something is drawn


def test_a_report_made_with_the_plan_is_the_folder_s(made: dict[str, Path]) -> None:
    """`plan --report` (tables in memory) and `isoplan report` (the folder) show the same
    figures from the same cells."""
    root = made["root"]
    for now, later in (("plan-now", "plan"), ("compare/now", "compare")):
        a, _ = page(root / f"{now}.html")
        b, _ = page(root / f"{later}.html")
        assert [(f.attrs, f.text) for f in a.figures] == [(f.attrs, f.text) for f in b.figures]


def test_an_older_folder_without_the_newer_tables(made: dict[str, Path], tmp_path: Path) -> None:
    """A folder from before scenario.parquet, windows.parquet and the value_of_* columns:
    the report shows what there is."""
    old = tmp_path / "old"
    shutil.copytree(made["root"] / "plan", old)
    for name in ("scenario", "windows", "forms"):
        (old / f"{name}.parquet").unlink(missing_ok=True)
    years = pq.read_table(old / "years.parquet")
    keep = [c for c in years.column_names if not c.startswith("value_of") and c != "tax_due_date"]
    pq.write_table(years.select(keep), old / "years.parquet")
    r = run_isoplan("report", old)
    assert r.code == 0, r.stderr
    p, _ = page(old / "report.html")
    assert check_figures(old, p) > 30
    assert set(p.sections) == PLAN_SECTIONS


def test_a_folder_with_no_plan(tmp_path: Path) -> None:
    """An infeasible scenario's folder (summary empty; key dates and warnings): a report that
    says so."""
    r = run_isoplan("plan", SEED, "--set", "household.cash_floor=1000000", "-o", tmp_path / "no")
    assert r.code == 1
    r = run_isoplan("report", tmp_path / "no", "-o", tmp_path / "no.html")
    assert r.code == 0, r.stderr
    p, html = page(tmp_path / "no.html")
    assert "No plan" in html and set(p.sections) == PLAN_SECTIONS
    check_figures(tmp_path / "no", p)


def section(html: str, sid: str) -> str:
    start = html.index(f'<section id="{sid}"')
    return html[start : html.index("</section>", start)]


def test_the_first_screen_speaks_plainly(made: dict[str, Path]) -> None:
    """The action plan says in one sentence that the plan is proven and re-checked; the solver's
    own figures (solver, gap, plan vs exact) are the Assumptions' provenance."""
    _, html = page(made["root"] / "plan.html")
    action, assumptions = section(html, "action-plan"), section(html, "assumptions")
    assert "Proven optimal; re-checked line by line by the exact tax engine." in action
    for jargon in ("highs", "gap", "plan_vs_exact", "Solver"):
        assert jargon not in action, jargon
    for row in ("solver", "proven gap", "largest plan-vs-exact difference"):
        assert f">{row}</td>" in assumptions, row


def test_the_compare_table_is_the_client_s(made: dict[str, Path]) -> None:
    """The first variant is the reference: its "vs first" is a dash, as the baselines' table
    says it; the solver's columns are not in the client's table."""
    _, html = page(made["root"] / "compare.html")
    compare = section(html, "compare")
    table = compare[compare.index("<table>") : compare.index("</table>")]
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", table)
    assert "vs first" in heads and not {"status", "gap", "plan vs exact"} & set(heads), heads
    first_row = re.findall(r"<td[^>]*>([^<]*)</td>", table.split("<tr>")[2])
    assert first_row[heads.index("vs first")] == "–", first_row
    assert ">status</td>" in section(html, "assumptions")


def test_chart_labels_share_one_format() -> None:
    """$581.0k beside $582.6k, never $581k; an axis's ticks in the decimals its step needs."""
    fmt = money_format([582584.35, 581009.84])
    assert [fmt(582584.35), fmt(581009.84)] == ["$582.6k", "$581.0k"]
    assert money_format([-1574.51])(-1574.51) == "-$1,575"
    ticks = charts.nice_ticks(0, 1_745_781)
    assert [money_format(ticks, ticks[1] - ticks[0])(t) for t in ticks] == [
        "$0", "$0.5M", "$1.0M", "$1.5M", "$2.0M"
    ]  # fmt: skip


def test_a_small_difference_shows() -> None:
    """Two wealths $1,575 apart: the second's bar is drawn from the first's wealth, not from $0,
    so it is most of the plot wide."""
    svg = charts.difference_chart(
        "w", ["a", "b"], [582584.35, 581009.84], ["#000", "#111"], "after-tax wealth"
    )
    root = ET.fromstring(svg)
    bars = [r for r in root.iter("rect") if r.find("title") is not None]
    assert len(bars) == 1 and float(bars[0].get("width", 0)) > 150
    texts = [t.text for t in root.iter("text")]
    assert {"$582.6k", "$581.0k", "-$1,575", "the reference"} <= set(texts), texts


def test_lines_on_each_other_stay_visible_and_are_said() -> None:
    """Each line has its own dash and marker; the caption names the lines drawn on each other."""
    years = ["2026", "2027*", "2028*"]
    series = [
        charts.Series("a", [1.0, 50.0, 90.0], "#000", "line"),
        charts.Series("b", [1.0, 50.1, 90.0], "#111", "line"),
        charts.Series("c", [1.0, 20.0, 10.0], "#222", "line"),
    ]
    svg = charts.column_chart("t", years, series)
    assert len(set(re.findall(r'<polyline[^>]*?(stroke-dasharray="[^"]*")?/>', svg))) == 3
    assert {"circle", "polygon"} <= {e.tag for e in ET.fromstring(svg).iter()}
    assert charts.overlaps(years, series) == (
        " Lines drawn on each other: every line in 2026; a and b in 2027*–2028*."
    )


@pytest.mark.parametrize("name", ["plan", "robust", "compare"])
def test_the_cash_floor_is_one_colour(made: dict[str, Path], name: str) -> None:
    _, html = page(made["root"] / f"{name}.html")
    assert charts.FLOOR not in charts.PALETTE
    floors = re.findall(r'<line[^>]*stroke="([^"]+)"[^>]*><title>cash floor', html)
    assert floors and set(floors) == {charts.FLOOR}, floors


# ----------------------------------------------------------------------------------------------
# the workbook
# ----------------------------------------------------------------------------------------------


def _numbers(ws: Any) -> set[float]:
    return {
        round(float(c.value), 6)
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, int | float) and not isinstance(c.value, bool)
    }


def test_the_workbook_holds_the_same_tables(made: dict[str, Path]) -> None:
    root = made["root"]
    wb = openpyxl.load_workbook(root / "plan.xlsx")
    assert wb.sheetnames == ["Action plan", "Year by year", "CPA appendix", "Assumptions"]
    years = pd.read_parquet(root / "plan" / "years.parquet")
    summary = pd.read_parquet(root / "plan" / "summary.parquet")
    forms = pd.read_parquet(root / "plan" / "forms.parquet")
    in_years = _numbers(wb["Year by year"])
    for column in ("regular_tax", "tmt", "amt", "mtc_carryforward_out", "total_tax", "cash"):
        assert {round(float(v), 6) for v in years[column]} <= in_years, column
    assert round(float(summary["after_tax_wealth"].iloc[0]), 6) in _numbers(wb["Action plan"])
    assert {round(float(v), 6) for v in forms["amount"]} <= _numbers(wb["CPA appendix"])
    robust = openpyxl.load_workbook(root / "robust.xlsx")
    assert "The paths" in robust.sheetnames
    paths = pd.read_parquet(root / "robust" / "paths.parquet")
    assert {round(float(v), 6) for v in paths["after_tax_wealth"]} <= _numbers(robust["The paths"])
    compared = openpyxl.load_workbook(root / "compare.xlsx")
    assert compared.sheetnames[0] == "Variants compared"


# ----------------------------------------------------------------------------------------------
# bad input: one line, exit code 2, nothing written
# ----------------------------------------------------------------------------------------------


def _bad(made: dict[str, Path], tmp_path: Path) -> list[tuple[list[Any], Path, str]]:
    plan = made["root"] / "plan"
    corrupt = tmp_path / "corrupt"
    shutil.copytree(plan, corrupt)
    (corrupt / "summary.parquet").write_bytes(b"not parquet")
    renamed = tmp_path / "renamed"
    shutil.copytree(plan, renamed)
    summary = pd.read_parquet(renamed / "summary.parquet").rename(columns={"approach": "name"})
    summary.to_parquet(renamed / "summary.parquet")
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    return [
        (["report", tmp_path / "missing"], tmp_path / "missing" / "report.html", "no such folder"),
        (
            ["report", tmp_path / "empty"],
            tmp_path / "empty" / "report.html",
            "not an isoplan output",
        ),
        (
            ["report", tmp_path / "file.txt", "-o", tmp_path / "r.html"],
            tmp_path / "r.html",
            "it is a file",
        ),
        (
            ["report", plan, "-o", tmp_path / "r.pdf"],
            tmp_path / "r.pdf",
            "unknown report type '.pdf'",
        ),
        (
            ["report", plan, "-o", tmp_path / "nope" / "r.html"],
            tmp_path / "nope" / "r.html",
            "does not exist",
        ),
        (
            ["report", corrupt, "-o", tmp_path / "c.html"],
            tmp_path / "c.html",
            "cannot read as Parquet",
        ),
        (
            ["report", renamed, "-o", tmp_path / "n.html"],
            tmp_path / "n.html",
            "no column 'approach'",
        ),
        (["plan", SEED, "--report", tmp_path / "p.txt"], tmp_path / "p.txt", "unknown report type"),
        (
            ["compare", FMV_JUMP, "fmv-jump-wait.yaml", "--report", tmp_path / "x" / "c.html"],
            tmp_path / "x" / "c.html",
            "does not exist",
        ),
    ]


def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    made: dict[str, Path], tmp_path: Path
) -> None:
    for args, target, why in _bad(made, tmp_path):
        before = {p for p in tmp_path.rglob("*")}
        r = run_isoplan(*args)
        assert r.code == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("isoplan: error: "), r.stderr
        assert why in lines[0] and "Traceback" not in r.stderr
        assert str(target.parent.name) in lines[0] or target.name in lines[0], lines[0]
        assert not target.exists()
        assert {p for p in tmp_path.rglob("*")} == before  # no temporary file left either
        assert r.stdout == ""


def test_help_teaches(made: dict[str, Path]) -> None:
    r = run_isoplan("report", "--help")
    assert r.code == 0
    for words in ("Action plan", "CPA appendix", "Assumptions", "Examples", ".xlsx", "--report"):
        assert words in r.stdout
