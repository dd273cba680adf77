"""Key dates in every plan (`planner.key_dates`): the qualifying-disposition and long-term date of
each lot (computed once, `models.scenario.qualifying_date`, the date `is_qualifying` compares
with), the expiry of each option class and the end of the ISO window after leaving; printed by
`isoplan plan` in 80 columns, written as key_dates.parquet and in --json; and the warnings: a
deadline within the first year, a sale window before its year's exercise date.

Run through the CLI's entry point in this process (`conftest.run_isoplan`), on small scenario
files written in tmp_path.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from conftest import run_isoplan

from models.law import Holding
from models.scenario import ISO, Lot, is_long_term, is_qualifying, long_term_date, qualifying_date
from planner.key_dates import KEY_DATE_COLUMNS, WARNING_COLUMNS

pytestmark = pytest.mark.timeout(120)

HOLDING = Holding(from_grant=2, from_exercise=1, long_term=1)

# A leap-day grant with a lot exercised on the leap day, and an NSO grant under water (never
# exercised): every key date, no warning.
DATES: dict[str, Any] = {
    "description": "key dates",
    "household": {"filing_status": "single", "start_cash": 200_000, "cash_floor": 10_000},
    "horizon": {"first_year": 2026, "years": 2},
    "default": {"wages": 200_000, "savings": 30_000},
    "prices": {2026: 10, 2027: 12},
    "grants": [
        {"id": "leap", "type": "iso", "grant_date": date(2024, 2, 29), "strike": 1,
         "shares": 2_000, "vesting": {"months": 0}},
        {"id": "under", "type": "nso", "grant_date": date(2025, 1, 10), "strike": 50,
         "shares": 1_000, "vesting": {"months": 0}},
    ],
    "lots": [
        {"id": "leap-lot", "grant_id": "leap", "type": "iso", "shares": 500,
         "exercise_date": date(2024, 2, 29), "amt_basis": 3},
    ],
}  # fmt: skip

# Leaving on 2026-03-31: `gone` expires 90 days later (before the ISO window of 3 months ends,
# and before 2026's exercise date); `kept` has five years to exercise, but its ISO window ends
# on 2026-06-30. A tender offer in June 2027 comes before 2027's exercise date.
DEADLINES: dict[str, Any] = {
    **DATES,
    "grants": [
        {"id": "gone", "type": "iso", "grant_date": date(2022, 1, 10), "strike": 1,
         "shares": 1_000, "vesting": {"months": 0}, "termination_date": date(2026, 3, 31)},
        {"id": "kept", "type": "iso", "grant_date": date(2022, 1, 10), "strike": 2,
         "shares": 1_000, "vesting": {"months": 0}, "termination_date": date(2026, 3, 31),
         "post_termination_days": 1826},
    ],
    "lots": [],
    "liquidity": {"tender_offers": [{"date": date(2027, 6, 15), "price": 15}]},
}  # fmt: skip


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _plan(*args: object) -> str:
    run = run_isoplan("plan", *args)
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    return run.stdout


def _block(stdout: str, title: str) -> list[str]:
    """The lines of the printed table titled `title`, its caption included."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("└"))
    return lines[start : end + 2]


def _day(ms: int) -> date:
    """A date as pandas writes it in JSON (milliseconds since 1970-01-01)."""
    return date(1970, 1, 1) + timedelta(milliseconds=ms)


# ----------------------------------------------------------------------------------------------
# models: the dates themselves
# ----------------------------------------------------------------------------------------------


def _lot(grant: date, exercise: date, kind: str = ISO) -> Lot:
    return Lot(id="l", grant_id="g", kind=kind, shares=1.0, grant_date=grant,
               exercise_date=exercise, exercise_year=exercise.year, regular_basis=1.0,
               amt_basis=2.0, holding=HOLDING)  # fmt: skip


@pytest.mark.parametrize(
    ("grant", "exercise", "qualifying", "long_term"),
    [
        # the grant's two years bind
        (date(2024, 2, 29), date(2024, 6, 1), date(2026, 3, 1), date(2025, 6, 2)),
        # a leap-day exercise: its anniversary in a common year is February 28
        (date(2023, 1, 10), date(2024, 2, 29), date(2025, 3, 1), date(2025, 3, 1)),
        # a leap-day grant two years before a leap year: February 29 itself is the anniversary
        (date(2026, 2, 28), date(2027, 2, 28), date(2028, 2, 29), date(2028, 2, 29)),
        (date(2024, 2, 29), date(2024, 2, 29), date(2026, 3, 1), date(2025, 3, 1)),
        # the exercise's year binds; the year end
        (date(2020, 12, 31), date(2025, 12, 31), date(2027, 1, 1), date(2027, 1, 1)),
    ],
)
def test_qualifying_and_long_term_dates(
    grant: date, exercise: date, qualifying: date, long_term: date
) -> None:
    """The first day a sale qualifies (is long-term): is_qualifying (is_long_term) is False the
    day before and True on it."""
    lot = _lot(grant, exercise)
    assert qualifying_date(lot) == qualifying
    assert long_term_date(lot) == long_term
    day = timedelta(days=1)
    assert not is_qualifying(lot, qualifying - day)
    assert is_qualifying(lot, qualifying)
    assert is_qualifying(lot, qualifying + day)
    assert not is_long_term(lot, long_term - day)
    assert is_long_term(lot, long_term)


def _anniversary(d: date, years: int) -> date:
    """The same calendar day `years` later, February 29 becoming February 28 (written apart from
    models.grants, with the calendar of datetime)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return date(d.year + years, 2, 28)


def test_is_qualifying_is_more_than_the_holding_periods() -> None:
    """Over two leap cycles of grant and exercise days: a sale qualifies exactly when it comes
    more than 2 years after the grant and more than 1 year after the exercise."""
    start = date(2023, 12, 1)
    for g in range(0, 800, 7):
        grant = start + timedelta(days=g)
        for e in range(0, 500, 11):
            exercise = grant + timedelta(days=e)
            lot = _lot(grant, exercise)
            first = qualifying_date(lot)
            for sale in (first - timedelta(days=1), first):
                want = sale > _anniversary(grant, 2) and sale > _anniversary(exercise, 1)
                assert is_qualifying(lot, sale) == want, (grant, exercise, sale)


# ----------------------------------------------------------------------------------------------
# isoplan plan: the printed table, the written table, the JSON
# ----------------------------------------------------------------------------------------------


def test_key_dates_are_printed_in_80_columns(tmp_path: Path) -> None:
    stdout = _plan(_write(tmp_path, DATES))
    block = _block(stdout, "Key dates")
    assert max(len(line) for line in block) <= 80, "\n".join(block)
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in block if "│" in line]
    # the lot held at the start: long-term a year after its leap-day exercise, qualifying two
    # years after the leap-day grant; both grants' expiry, the one never exercised too
    assert ["2025-03-01", "leap-lot", "long-term", "500"] in rows
    assert ["2026-03-01", "leap-lot", "qualifying", "500"] in rows
    assert ["2034-02-28", "leap", "expires", ""] in rows
    assert ["2035-01-10", "under", "expires", ""] in rows
    # a lot the plan creates: qualifying and long-term on the same day, one row
    planned = [r for r in rows if r[1].startswith("leap@")]
    assert planned and all(r[2] == "qualifying, long-term" for r in planned)
    # the one warning: the grant under water at every price (no deadline, move or tender)
    assert stdout.count("Warning") == 1 and "Warning: grant under: underwater" in stdout


def test_key_dates_are_written_and_in_json(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    _plan(_write(tmp_path, DATES), "-o", out)
    assert {"key_dates.parquet", "warnings.parquet"} <= {p.name for p in out.iterdir()}
    written = pd.read_parquet(out / "key_dates.parquet")
    assert list(written.columns) == list(KEY_DATE_COLUMNS)
    assert list(written["date"]) == sorted(written["date"])
    actions = pd.read_parquet(out / "actions.parquet")
    exercised = set(actions.loc[actions["kind"] == "exercise", "lot_id"])
    plan_rows = written[written["source"] == "plan"]
    assert exercised and set(plan_rows["lot_id"]) == exercised
    for _, row in plan_rows.iterrows():  # exercised on December 15: qualifying a year later
        year = int(row["lot_id"].split("@")[1])
        assert row["date"] == date(year + 1, 12, 16)
    by_event = written.groupby("event")["date"].apply(list).to_dict()
    assert date(2026, 3, 1) in by_event["qualifying"]
    assert sorted(by_event["expiry"]) == [date(2034, 2, 28), date(2035, 1, 10)]
    assert written.loc[written["event"] == "expiry", "source"].eq("grant").all()
    assert list(pd.read_parquet(out / "warnings.parquet")["warning"]) == ["underwater"]

    document = json.loads(_plan(_write(tmp_path, DATES), "--json"))
    assert list(document)[-2:] == ["key_dates", "warnings"]
    rows = document["key_dates"]
    assert [list(r) for r in rows[:1]] == [list(KEY_DATE_COLUMNS)]
    assert [(_day(r["date"]), r["event"], r["lot_id"] or r["option_id"]) for r in rows] == [
        (d, e, lot if isinstance(lot, str) else o)
        for d, e, lot, o in written[["date", "event", "lot_id", "option_id"]].itertuples(
            index=False
        )
    ]
    assert [w["subject"] for w in document["warnings"]] == ["under"]


# ----------------------------------------------------------------------------------------------
# Warnings
# ----------------------------------------------------------------------------------------------


def test_deadlines_in_the_first_year_and_liquidity_before_exercise_warn(tmp_path: Path) -> None:
    spec = _write(tmp_path, DEADLINES)
    stdout = _plan(spec)
    block = _block(stdout, "Key dates")
    assert max(len(line) for line in block) <= 80
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in block if "│" in line]
    # `gone` expires 90 days after leaving, before its ISO window would end: no row for that
    assert ["2026-06-29", "gone", "expires", ""] in rows
    assert ["2026-06-30", "kept", "ISO window ends", ""] in rows
    assert ["2031-03-31", "kept", "expires", ""] in rows
    assert [r for r in rows if r[1] == "gone"] == [["2026-06-29", "gone", "expires", ""]]

    warned = stdout[stdout.index("Warning") :]
    assert all(len(line) <= 80 for line in warned.splitlines())
    flat = " ".join(warned.split())
    assert (
        "Warning: grant gone: the options expire on 2026-06-29, within 2026: exercise by then; "
        "2026's exercise date 2026-12-15 is after it, so the plan cannot exercise them"
    ) in flat
    assert "Warning: grant kept: the ISO window after leaving ends on 2026-06-30, within 2026" in (
        flat
    )
    assert (
        "Warning: 2027: the tender offer on 2027-06-15 comes before the year's exercise date "
        "2027-12-15: shares exercised that year can be sold in it only if exercised on "
        "2027-06-15 and sold the same day"
    ) in flat

    out = tmp_path / "plan"
    document = json.loads(_plan(spec, "--json", "-o", out))
    written = pd.read_parquet(out / "warnings.parquet")
    assert list(written.columns) == list(WARNING_COLUMNS)
    assert [(r["warning"], r["year"], r["date"], r["subject"]) for _, r in written.iterrows()] == [
        ("deadline_first_year", 2026, date(2026, 6, 29), "gone"),
        ("deadline_first_year", 2026, date(2026, 6, 30), "kept"),
        ("liquidity_before_exercise", 2027, date(2027, 6, 15), "tender-2027-06-15"),
    ]
    assert [r["message"] for r in document["warnings"]] == list(written["message"])
    assert [_day(r["date"]) for r in document["warnings"]] == list(written["date"])


def test_no_warning_once_the_dates_allow_the_plan(tmp_path: Path) -> None:
    """An exercise date before the deadlines and the tender: nothing to warn of (a deadline
    within the first year but after the exercise date still warns, as it must be met)."""
    doc = {
        **DEADLINES,
        "prices": {2026: {"fmv": 10, "exercise_date": date(2026, 3, 20)},
                   2027: {"fmv": 12, "exercise_date": date(2027, 6, 1)}},
    }  # fmt: skip
    out = tmp_path / "plan"
    _plan(_write(tmp_path, doc), "-o", out)
    written = pd.read_parquet(out / "warnings.parquet")
    assert list(written["warning"]) == ["deadline_first_year", "deadline_first_year"]
    assert not written["message"].str.contains("the plan cannot").any()
    # both grants' first-year deadlines still stand; an option class with nothing left does not
    doc["grants"] = [{**g, "exercised": 1_000} for g in DEADLINES["grants"]]
    doc["lots"] = []
    _plan(_write(tmp_path, doc), "-o", out)
    assert pd.read_parquet(out / "warnings.parquet").empty


def test_a_plan_without_deadlines_has_no_warning(tmp_path: Path) -> None:
    run = run_isoplan("plan", Path(__file__).resolve().parents[1] / "scenarios" /
                      "plan-seed-story.yaml", "--json")  # fmt: skip
    assert run.code == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["warnings"] == []
    events = {(r["event"], r["option_id"]) for r in document["key_dates"] if r["option_id"]}
    assert events == {("expiry", "seed")}


def test_key_dates_without_a_plan(tmp_path: Path) -> None:
    """An infeasible scenario still shows its key dates and warnings (they are the scenario's)."""
    doc = {**DEADLINES, "household": {**DEADLINES["household"], "cash_floor": 1e9}}
    run = run_isoplan("plan", _write(tmp_path, doc), "--json")
    assert run.code == 1
    document = json.loads(run.stdout)
    assert {r["option_id"] for r in document["key_dates"]} == {"gone", "kept"}
    assert len(document["warnings"]) == 3


def test_robust_plan_key_dates_and_warnings(tmp_path: Path) -> None:
    """Per path in the tables; on the console, the key dates the same on every path (the
    scenario's and this year's decisions), and a warning of one path names it."""
    out = tmp_path / "robust"
    paths = Path(__file__).resolve().parents[1] / "scenarios" / "whatif" / "paths-ipo.yaml"
    tender = "paths.0.liquidity.tender_offers=[{date: 2027-06-15, price: 30}]"
    stdout = _plan(paths, "--set", tender, "-o", out)
    block = _block(stdout, "Key dates (the same on every path)")
    assert max(len(line) for line in block) <= 80
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in block if "│" in line]
    assert ["2032-02-01", "iso", "expires", ""] in rows
    assert all(r[1] in ("iso", "iso@2026") for r in rows[1:])
    assert " ".join(stdout[stdout.index("Warning") :].split()).startswith(
        "Warning (path ipo-2027): 2027: the tender offer on 2027-06-15 comes before the year's "
        "exercise date 2027-12-15"
    )
    written = pd.read_parquet(out / "key_dates.parquet")
    assert list(written.columns) == ["path", *KEY_DATE_COLUMNS]
    assert set(written["path"]) == {"ipo-2027", "ipo-2029", "private", "down-round"}
    warned = pd.read_parquet(out / "warnings.parquet")
    assert list(warned["path"]) == ["ipo-2027"]
    assert list(warned["subject"]) == ["tender-2027-06-15"]
