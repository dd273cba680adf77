"""The HTML report tested as a person would: opened in a real headless Chromium.

A plan of the seed story (`isoplan plan ... --report`), a compare of two what-ifs
(`isoplan compare ... --report`) and a plan robust to four futures are opened in Chromium
(`tests/browser.py`, the DevTools protocol over a pipe): no uncaught exception, console error or
failed load; nothing fetched but the page itself; a screenshot that shows a drawn page, not a
blank one; and every figure of the page (`data-table`, `data-key`, `data-column`, `data-value`)
is its Parquet cell, its visible text that value rounded as displayed. The workbook
(`isoplan report DIR -o report.xlsx`) is read back with openpyxl against the same cells.

The checks themselves are proven on hand-written pages first: a thrown error, a console error, a
missing file and a remote image are all caught; a blank page is told from a drawn one; a wrong
value, a wrong rounding, an abbreviated figure and a wrong sign are refused; the PNG decoder
undoes all five row filters.

Chromium is Debian's `chromium` (.ci/run installs it). Without it the browser tests are skipped
locally, but fail under CI (the CI environment variable set): CI must never pass without them.
"""

from __future__ import annotations

import html
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from browser import Browser, Figure, Page, Tables, check_figure, decode_png, ink, parse_report
from browser import find_chromium as _find_chromium

ROOT = Path(__file__).resolve().parents[1]
SEED_PLAN = ROOT / "scenarios" / "plan-seed-story.yaml"
WHATIF = ROOT / "scenarios" / "whatif"

SECTIONS = ("action-plan", "years", "charts", "cpa", "assumptions")
MIN_FIGURES = 50


def isoplan(*args: object, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`isoplan ARGS` as a real process, which must succeed."""
    proc = subprocess.run(
        [sys.executable, "-m", "planner", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"isoplan {' '.join(map(str, args))}:\n{proc.stderr}"
    return proc


@pytest.fixture(scope="session")
def chromium() -> str:
    exe = _find_chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; CI must run the browser tests (.ci/run "
                        "installs Debian's chromium)")  # fmt: skip
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs these tests")
    return exe


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless Chromium with its own profile in tmp_path."""
    with Browser(tmp_path / "profile", chromium=chromium, timeout=60) as b:
        yield b


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed story's plan folder, its report (`--report`) beside it: report.html.

    Beside, not inside: `-o DIR --report DIR/report.html` is refused (the folder does not exist
    yet when the outputs are checked)."""
    out = tmp_path_factory.mktemp("plan") / "plan"
    isoplan("plan", SEED_PLAN, "-o", out, "--report", out.with_name("report.html"))
    return out


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compare folder of two what-ifs (compare.parquet and a folder per variant), reported."""
    out = tmp_path_factory.mktemp("compare") / "compare"
    isoplan("compare", WHATIF / "fmv-jump.yaml", "fmv-jump-wait.yaml", "-o", out,
            "--report", out.with_name("report.html"))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def robust_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plan robust to four futures (paths.parquet, and a `path` column in its tables)."""
    out = tmp_path_factory.mktemp("robust") / "robust"
    isoplan("plan", WHATIF / "paths-ipo.yaml", "-o", out, "--report", out.with_name("report.html"))
    return out


# ------------------------------------------------------------------------------------------------
# the checks, proven on hand-written pages
# ------------------------------------------------------------------------------------------------


def write(path: Path, body: str, head: str = "") -> str:
    path.write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><title>t</title>{head}</head>'
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return path.as_uri()


DRAWN = (
    "<h1>Exercise 628 shares in 2026</h1><p>Then 5,982 in 2027.</p>"
    '<svg width="600" height="300"><rect x="10" y="10" width="500" height="250" fill="#36c"/>'
    '<text x="20" y="290" font-size="16">2026</text></svg>'
)


@pytest.mark.timeout(60)
def test_console_errors_and_failed_loads_are_caught(browser: Browser, tmp_path: Path) -> None:
    clean = browser.open(write(tmp_path / "clean.html", DRAWN))
    assert clean.errors == [], clean.errors
    assert clean.requests == [clean.url]

    thrown = browser.open(write(tmp_path / "thrown.html", "<p>x</p><script>throw new Error('x')"
                                "</script>"))  # fmt: skip
    assert any("Error: x" in e and "uncaught" in e for e in thrown.errors), thrown.errors

    logged = browser.open(write(tmp_path / "logged.html", "<script>console.error('boom')</script>"))
    assert logged.errors == ["console.error: boom"], logged.errors

    late = browser.open(write(tmp_path / "late.html", "<script>addEventListener('load', () => "
                              "{ null.x })</script>"))  # fmt: skip
    assert any("TypeError" in e for e in late.errors), late.errors

    missing = browser.open(write(tmp_path / "missing.html", "<p>x</p>",
                                 '<link rel="stylesheet" href="missing.css">'))  # fmt: skip
    assert any("missing.css" in e and "ERR_FILE_NOT_FOUND" in e for e in missing.errors)

    remote = browser.open(
        write(tmp_path / "remote.html", '<img src="https://example.invalid/a.png">')
    )
    assert "https://example.invalid/a.png" in remote.requests
    assert any("example.invalid" in e for e in remote.errors), remote.errors
    assert foreign_requests(remote) == ["https://example.invalid/a.png"]


@pytest.mark.timeout(60)
def test_a_blank_screenshot_is_told_from_a_drawn_one(browser: Browser, tmp_path: Path) -> None:
    blank = ink(browser.open(write(tmp_path / "blank.html", "")).png)
    assert (blank.width, blank.height) == (1280, 2400)
    assert blank.colours == 1 and blank.inked == 0
    assert not looks_drawn(blank.colours, blank.inked, blank.rows, tall=False)
    drawn = ink(browser.open(write(tmp_path / "drawn.html", DRAWN)).png)
    assert looks_drawn(drawn.colours, drawn.inked, drawn.rows, tall=False), drawn


def png(pixels: np.ndarray, filters: list[int]) -> bytes:
    """An 8-bit RGB PNG of `pixels`, row y filtered with filters[y] (the encoder's side)."""
    height, width, bpp = pixels.shape
    raw, prev = b"", bytes(width * bpp)
    for y in range(height):
        cur, kind = pixels[y].tobytes(), filters[y]
        out = bytearray()
        for i, x in enumerate(cur):
            a = cur[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else (
                b if abs(p - b) <= abs(p - c) else c)  # fmt: skip
            pred = [0, a, b, (a + b) // 2, paeth][kind]
            out.append((x - pred) & 0xFF)
        raw += bytes([kind]) + bytes(out)
        prev = cur

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))  # fmt: skip


@pytest.mark.timeout(30)
def test_png_decoder_undoes_every_filter() -> None:
    pixels = np.random.default_rng(18).integers(0, 256, size=(10, 7, 3), dtype=np.uint8)
    pixels[3:6] = 250  # flat rows beside noisy ones
    data = png(pixels, [0, 1, 2, 3, 4, 4, 3, 2, 1, 0])
    assert (decode_png(data) == pixels).all()


# A folder of hand-written tables, and a page that shows them as the contract says.
def fake_folder(folder: Path) -> list[Figure]:
    folder.mkdir()
    pd.DataFrame({"year": [2026, 2027], "amt": [0.0, 72413.5], "total_tax": [41704.0, 123456.78],
                  "gap": [1.5e-05, 0.0], "rate": [0.238, 0.0], "seconds": [0.1381, 0.0]}
                 ).to_parquet(folder / "years.parquet")  # fmt: skip
    pd.DataFrame({"approach": ["optimized", "exercise_all_now"],
                  "after_tax_wealth": [811605.507244, -1234.4]}).to_parquet(
        folder / "summary.parquet")  # fmt: skip
    pd.DataFrame({"year": [2026], "form": ["Form 6251"], "line": ["2i"], "amount": [31350.0]}
                 ).to_parquet(folder / "forms.parquet")  # fmt: skip
    pd.DataFrame({"year": [2026, 2027], "shares": [628.0, 5982.0]}).to_parquet(
        folder / "actions.parquet")  # fmt: skip
    return [
        Figure("years", "2027", "amt", repr(72413.5), "$72,414", "td"),
        Figure("years", "2027", "amt", repr(72413.5), "$72,413.50", "td"),
        Figure("years", "2026", "amt", repr(0.0), "$0", "td"),
        Figure("years", "2027", "total_tax", repr(123456.78), "$123,456.78", "td"),
        Figure("summary", "optimized", "after_tax_wealth", repr(811605.507244), "$811,606", "td"),
        Figure("summary", "exercise_all_now", "after_tax_wealth", repr(-1234.4), "−$1,234", "td"),
        Figure("forms", "2026|Form 6251|2i", "amount", repr(31350.0), "$31,350.00", "td"),
        Figure("actions", "1", "shares", repr(5982.0), "5,982", "td"),
        Figure("years", "2026", "gap", repr(1.5e-05), "1.5e-05", "td"),
        Figure("years", "2026", "rate", repr(0.238), "23.8%", "td"),
        Figure("years", "2026", "seconds", repr(0.1381), "0.14 s", "td"),
    ]


def page_of(figures: list[Figure]) -> str:
    cells = "".join(
        f'<tr><td>{html.escape(f.column)}</td><{f.tag} data-table="{html.escape(f.table)}" '
        f'data-key="{html.escape(f.key)}" data-column="{html.escape(f.column)}" '
        f'data-value="{html.escape(f.value)}"><span>{html.escape(f.text)}</span></{f.tag}></tr>'
        for f in figures
    )
    head = '<meta name="isoplan-folder-kind" content="plan">'
    body = f'<section id="years"><table>{cells}</table></section>'
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


@pytest.mark.timeout(30)
def test_figure_check_refuses_a_wrong_figure(tmp_path: Path) -> None:
    figures = fake_folder(tmp_path / "plan")
    tables = Tables(tmp_path / "plan")
    doc = parse_report(page_of(figures))
    assert doc.kind == "plan" and "years" in doc.ids
    assert [(f.table, f.key, f.text) for f in doc.figures] == [
        (f.table, f.key, f.text) for f in figures
    ]
    assert [check_figure(f, tables) for f in doc.figures] == [None] * len(figures)

    def wrong(table: str, key: str, column: str, value: str, text: str) -> str | None:
        return check_figure(Figure(table, key, column, value, text, "td"), tables)

    amt = ("years", "2027", "amt")
    assert "data-value" in (wrong(*amt, "72413.51", "$72,414") or "")  # not the cell
    assert "does not show" in (wrong(*amt, repr(72413.5), "$72,412") or "")  # not rounded
    assert "does not show" in (wrong(*amt, repr(72413.5), "$72,413.49") or "")
    assert "abbreviated" in (wrong(*amt, repr(72413.5), "$72.4k") or "")
    assert "abbreviated" in (wrong(*amt, repr(72413.5), "$72k") or "")
    assert "separators" in (wrong(*amt, repr(72413.5), "$72414") or "")
    assert "exactly one number" in (wrong(*amt, repr(72413.5), "$72,414 (2027)") or "")
    assert "sign" in (wrong(*amt, repr(72413.5), "-$72,414") or "")
    assert "does not show" in (wrong("years", "2026", "gap", repr(1.5e-05), "1.6e-05") or "")
    assert "does not show" in (wrong("years", "2026", "rate", repr(0.238), "23.9%") or "")
    assert "sign" in (wrong("summary", "exercise_all_now", "after_tax_wealth", repr(-1234.4),
                            "$1,234") or "")  # fmt: skip
    assert "matches 0 rows" in (wrong("years", "2031", "amt", "0.0", "$0") or "")
    assert "no column" in (wrong("years", "2026", "amtx", "0.0", "$0") or "")
    assert "no table" in (wrong("lots", "a", "shares", "0.0", "0") or "")
    assert "is not" in (wrong("forms", "2026|Form 6251", "amount", "31350.0", "$31,350") or "")
    assert "no row" in (wrong("actions", "2", "shares", "0.0", "0") or "")

    # A robust plan's path: `PATH/years` is the rows of years.parquet on that path.
    robust = tmp_path / "robust"
    robust.mkdir()
    pd.DataFrame({"path": ["ipo", "ipo", "down"], "year": [2026, 2027, 2027],
                  "fmv": [20.0, 80.0, 5.0]}).to_parquet(robust / "years.parquet")  # fmt: skip
    paths = Tables(robust)
    assert check_figure(Figure("ipo/years", "2027", "fmv", "80.0", "$80.00", "td"), paths) is None
    assert check_figure(Figure("down/years", "2027", "fmv", "5.0", "$5.00", "td"), paths) is None
    assert "data-value" in (
        check_figure(Figure("down/years", "2027", "fmv", "80.0", "$80.00", "td"), paths) or ""
    )
    assert "no rows of path" in (
        check_figure(Figure("up/years", "2027", "fmv", "80.0", "$80.00", "td"), paths) or ""
    )
    assert "matches 2 rows" in (
        check_figure(Figure("years", "2027", "fmv", "80.0", "$80.00", "td"), paths) or ""
    )


# ------------------------------------------------------------------------------------------------
# the real report
# ------------------------------------------------------------------------------------------------


def foreign_requests(page: Page) -> list[str]:
    """What the page fetched besides itself and inline data: a report sent as one file must
    need nothing else, neither the network nor a file beside it."""
    return [u for u in page.requests[1:] if not u.startswith(("data:", "about:", "blob:"))]


def looks_drawn(colours: int, inked: float, rows: float, *, tall: bool) -> bool:
    """A rendered report, not a blank or a bare page: colours (charts, shading, anti-aliased
    text), ink over a fair share of the pixels, and on most rows of a tall window."""
    return colours >= 32 and inked >= 0.02 and rows >= (0.3 if tall else 0.05)


def check_figures(folder: Path, html_text: str, kind: str, tables: set[str]) -> list[Figure]:
    """The page's contract: its kind, sections, and every figure equal to its Parquet cell."""
    doc = parse_report(html_text)
    assert doc.kind == kind
    missing = [s for s in (*SECTIONS, *{"compare": ["compare"], "robust": ["paths"]}.get(kind, []))
               if s not in doc.ids]  # fmt: skip
    assert not missing, f"sections missing: {missing}"
    cells = Tables(folder)
    wrong = [w for w in (check_figure(f, cells) for f in doc.figures) if w]
    assert not wrong, f"{len(wrong)} of {len(doc.figures)} figures wrong:\n" + "\n".join(wrong[:20])
    shown = [f for f in doc.figures if " ".join(f.text.split())]
    assert len(shown) >= MIN_FIGURES, f"only {len(shown)} figures with text"
    seen = {f.table for f in doc.figures}
    assert tables <= seen, f"no figures from {sorted(tables - seen)}; seen {sorted(seen)}"
    return doc.figures


def open_report(browser: Browser, folder: Path) -> Page:
    """The report made with the folder (report.html beside it) in a 1280 x 2400 window: no
    error, nothing fetched, and drawn."""
    page = browser.open(folder.with_name("report.html").as_uri(), width=1280, height=2400)
    assert page.errors == [], "\n".join([*page.errors, "console:", *page.console])
    assert foreign_requests(page) == []
    shot = ink(page.png)
    assert (shot.width, shot.height) == (1280, 2400)
    assert looks_drawn(shot.colours, shot.inked, shot.rows, tall=True), shot
    return page


@pytest.mark.timeout(120)
def test_plan_report_in_a_browser(plan_dir: Path, browser: Browser) -> None:
    page = open_report(browser, plan_dir)
    figures = check_figures(plan_dir, page.html, "plan", {"years", "summary", "forms"})
    # The action plan shows the shares of each exercise, the CPA section Form 6251's lines.
    assert any(f.table == "actions" and f.column == "shares" for f in figures)
    assert any(f.table == "forms" and "Form 6251" in f.key for f in figures)


@pytest.mark.timeout(60)
def test_report_from_the_folder_is_the_same_page(plan_dir: Path, tmp_path: Path) -> None:
    """`isoplan report FOLDER` later shows the figures `plan --report` showed at once."""
    out = tmp_path / "later.html"
    isoplan("report", plan_dir, "-o", out)
    at_once = parse_report(plan_dir.with_name("report.html").read_text(encoding="utf-8"))
    later = parse_report(out.read_text(encoding="utf-8"))
    assert later.kind == at_once.kind and later.ids == at_once.ids
    assert later.figures == at_once.figures


@pytest.mark.slow  # the plan's page is the default's browser test; these run in CI's second pass
@pytest.mark.timeout(120)
def test_compare_report_in_a_browser(compare_dir: Path, browser: Browser) -> None:
    page = open_report(browser, compare_dir)
    variants = sorted(p.name for p in compare_dir.iterdir() if p.is_dir())
    assert variants == ["fmv-jump", "fmv-jump-wait"]
    figures = check_figures(compare_dir, page.html, "compare", {"compare"})
    for variant in variants:
        assert {f"{variant}/years", f"{variant}/summary"} <= {f.table for f in figures}, variant


@pytest.mark.slow  # the plan's page is the default's browser test; these run in CI's second pass
@pytest.mark.timeout(120)
def test_robust_report_in_a_browser(robust_dir: Path, browser: Browser) -> None:
    page = open_report(browser, robust_dir)
    figures = check_figures(robust_dir, page.html, "robust", {"paths", "summary"})
    paths = set(pd.read_parquet(robust_dir / "paths.parquet")["path"])
    assert {f.key for f in figures if f.table == "paths"} == paths
    assert {t.split("/")[0] for t in (f.table for f in figures) if t.endswith("/years")} == paths


def sheet_table(sheet: Any, title: str) -> pd.DataFrame:
    """The table under the heading `title` of a report sheet: its header row, then its rows up
    to the first with nothing but a first cell (a note) or nothing at all; column A the index."""
    rows = list(sheet.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r and r[0] == title)
    header = [h for h in rows[at + 1] if h is not None]
    body = []
    for r in rows[at + 2 :]:
        if r[0] is None or all(v is None for v in r[1:]):
            break
        body.append(list(r[: len(header)]))
    return pd.DataFrame(body, columns=header).set_index(header[0])


@pytest.mark.timeout(120)
def test_workbook_has_the_parquet_figures(plan_dir: Path, tmp_path: Path) -> None:
    import openpyxl  # the report's own dependency, which writes the workbook

    out = tmp_path / "report.xlsx"
    isoplan("report", plan_dir, "-o", out)
    book = openpyxl.load_workbook(out, data_only=True)
    assert book.sheetnames == ["Action plan", "Year by year", "CPA appendix", "Assumptions"]
    cells = Tables(plan_dir)

    def same(got: Any, want: Any) -> bool:
        return isinstance(got, int | float) and abs(float(got) - float(want)) <= 0.005

    # The years: every year's tax and cash, raw (cents), under the page's column names.
    tax = sheet_table(book["Year by year"], "Tax, year by year")
    cash = sheet_table(book["Year by year"], "Cash, year by year")
    years = cells.frame("years").set_index("year")
    assert [str(y) for y in years.index] == [str(k).rstrip("*") for k in tax.index[:-1]]
    pairs = [(tax, "regular tax", "regular_tax"), (tax, "TMT", "tmt"), (tax, "AMT", "amt"),
             (tax, "total tax", "total_tax"), (cash, "cash at end", "cash")]  # fmt: skip
    for frame, header, column in pairs:
        for label, got in frame[header].items():
            if str(label) == "total":
                assert same(got, years[column].sum()), (header, got)
                continue
            want = years.at[int(str(label).rstrip("*")), column]
            assert same(got, want), f"{header} {label}: {got!r} in the workbook, {want!r}"

    # The CPA appendix: every federal form line of every year, as forms.parquet has it.
    lines = sheet_table(book["CPA appendix"], "Federal form lines")
    forms = cells.frame("forms")
    checked = 0
    for form_name, row in lines.iterrows():
        for year in years.index:
            want = forms[(forms["year"] == year) & (forms["form"] == form_name)
                         & (forms["line"] == str(row["line"]))]["amount"]  # fmt: skip
            got = row.get(str(year), row.get(f"{year}*"))
            assert len(want) == 1 and same(got, want.iloc[0]), (form_name, row["line"], year)
            checked += 1
    assert checked == len(forms)  # the seed story has no California lines

    # The action plan: the headline's wealth, and each exercise's shares.
    plan = book["Action plan"]
    card = next(
        r for r in plan.iter_rows(values_only=True) if r[0] == "This plan: after-tax wealth"
    )
    assert same(card[1], cells.cell("summary", "optimized", "after_tax_wealth"))
    todo = sheet_table(plan, "What to do")
    actions = cells.frame("actions")
    assert [float(v) for v in todo["shares"]] == [float(v) for v in actions["shares"]]

    # Money is shown as money in Excel too.
    sheet = book["Year by year"]
    formats = {c.number_format for row in sheet.iter_rows() for c in row if c.data_type == "n"}
    assert any("$" in f for f in formats), formats


# ------------------------------------------------------------------------------------------------
# a batch folder's dashboard
# ------------------------------------------------------------------------------------------------

DASHBOARD = ("book", "actions-due", "clients", "assumptions")


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated book of 8 clients, the first with a tender offer this year, plus one that
    cannot be planned, run by `isoplan batch` (exit code 1: a client failed) and reported as a
    page and a workbook beside the folder."""
    from datetime import date

    from test_book import make_book

    root = tmp_path_factory.mktemp("batch")
    clients, grants = make_book.make_book(8, seed=7, horizon=2, grants=1)
    private = clients.index[clients["ipo_date"].isna()][0]
    clients.loc[private, ["tender_date", "tender_price", "tender_max_shares"]] = [
        date(2026, 9, 1), float(clients.loc[private, "fmv"]) * 1.2, 2000.0]  # fmt: skip
    broke = {**clients.iloc[0].to_dict(), "client_id": "broke", "start_cash": 30_000,
             "cash_floor": 25_000, "savings": 0, "ipo_date": None, "tender_date": None,
             "tender_price": None, "tender_max_shares": None}  # fmt: skip
    grant = {"client_id": "broke", "record": "grant", "id": "g1", "type": "iso",
             "grant_date": "2021-01-01", "strike": 10, "shares": 20000, "cliff_months": 12,
             "vest_months": 48, "required_exercise": 20000}  # fmt: skip
    make_book.write_book(pd.concat([clients, pd.DataFrame([broke])], ignore_index=True),
                         pd.concat([grants, pd.DataFrame([grant])], ignore_index=True),
                         root / "book", csv=True)  # fmt: skip
    out = root / "results"
    run = subprocess.run(
        [sys.executable, "-m", "planner", "batch", root / "book", "-o", out, "--quiet",
         "--time-limit", "30"],
        cwd=ROOT, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert "1 of 9 clients could not be planned" in run.stderr
    isoplan("report", out, "-o", out.with_name("report.html"))
    isoplan("report", out, "-o", out.with_name("report.xlsx"))
    return out


@pytest.mark.slow  # the plan's page is the default's browser test; these run in CI's second pass
@pytest.mark.timeout(480)
def test_batch_dashboard_in_a_browser(batch_dir: Path, browser: Browser) -> None:
    page = open_report(browser, batch_dir)
    doc = parse_report(page.html)
    assert doc.kind == "batch" and set(DASHBOARD) <= set(doc.ids)
    cells = Tables(batch_dir)
    wrong = [w for w in (check_figure(f, cells) for f in doc.figures) if w]
    assert not wrong, "\n".join(wrong[:20])
    due = cells.frame("actions_due")
    stake = [f for f in doc.figures if f.table == "actions_due" and f.column == "value_at_stake"]
    # One row of the page per row of actions_due, in its order: by value at stake.
    assert [int(f.key) for f in stake] == [
        i for i in due.index if pd.notna(due.at[i, "value_at_stake"])
    ]
    values = [float(f.value) for f in stake]
    assert values == sorted(values, reverse=True) and values
    planned = set(cells.frame("clients")["client_id"])
    assert {f.key for f in doc.figures if f.table == "clients"} == planned
    text = html.unescape(page.html)
    assert "broke" in text and "not planned" in text  # the failed client, last
    assert due.iloc[-1]["client_id"] == "broke" and bool(due.iloc[-1]["failed"])
    assert "tender offer 2026-09-01" in text
    summary = pd.read_json(batch_dir / "batch.json", typ="series")
    assert summary["planned"] == 8 and summary["failed"] == 1


@pytest.mark.timeout(480)
def test_batch_dashboard_workbook(batch_dir: Path) -> None:
    import openpyxl

    book = openpyxl.load_workbook(batch_dir.with_name("report.xlsx"), data_only=True)
    assert book.sheetnames == ["The book", "Actions due this year", "Clients", "Assumptions"]
    due = Tables(batch_dir).frame("actions_due")
    table = sheet_table(book["Actions due this year"], "This year's actions, by value at stake")
    # The rows with a value at stake (sheet_table stops at the failed client's, without one).
    staked = due[due["value_at_stake"].notna()]
    assert list(table["client"]) == list(staked["client_id"])
    for got, want in zip(table.index, staked["value_at_stake"], strict=True):
        assert abs(float(got) - float(want)) <= 0.005
    rows = list(book["Actions due this year"].iter_rows(values_only=True))
    assert any(r[1] == "broke" and r[2] == "not planned" for r in rows)
