"""What a firm does this quarter: the `actions_due` table of a batch, one row per client and
action of the first year of its horizon, the client that most stands to gain first.

Each row is one exercise or sale of the first year (shares, date, price, the strike it costs),
with the year's cash it needs (the strike of every exercise that year plus the tax the plan
adds, and the day that tax is due) and the client's flags: an ISO window after leaving or a
grant's expiry within the year (`planner.key_dates.first_year_deadlines`), a tender offer
within the year, a plan cut short by the time limit. A client with none of these actions but a
flag has one row (`action` "none"); a client that could not be planned has one (`action`
"failed", the stage and reason in `note`). `value_at_stake` is the client's value over the best
baseline; rows are sorted by it, largest first (failed clients, which have none, last), then
client and date.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from models.scenario import Scenario
from planner.key_dates import EXPIRY, ISO_WINDOW_END, first_year_deadlines

# Per client (a clients column each): the date within the first year, or none.
FLAG_COLUMNS = ("iso_window_end_this_year", "expiry_this_year", "tender_this_year")
NONE, FAILED = "none", "failed"
ACTIONS_DUE_COLUMNS = (
    "client_id", "value_at_stake", "action", "date", "option_id", "lot_id", "window_id",
    "treatment", "shares", "price", "strike_cost", "proceeds", "year", "year_strike_cost",
    "year_extra_tax", "year_cash_needed", "tax_due_date", *FLAG_COLUMNS, "time_limit_hit",
    "failed", "note",
)  # fmt: skip
# The batch tables (and their columns) the table is made of.
INPUTS: dict[str, tuple[str, ...]] = {
    "clients": ("client_id", "value_over_best_baseline", "time_limit_hit", *FLAG_COLUMNS),
    "errors": ("client_id", "stage", "reason"),
    "actions": ("client_id", "year", "date", "kind", "option_id", "lot_id", "window_id",
                "treatment", "shares", "price", "cost", "proceeds"),
    "years": ("client_id", "year", "exercise_cost", "extra_tax", "tax_due_date"),
}  # fmt: skip


def client_flags(scenario: Scenario) -> dict[str, Any]:
    """The first year's deadlines and tender of a client, each the earliest date (or None)."""
    first = scenario.years[0].year
    deadlines = first_year_deadlines(scenario)

    def earliest(days: list[Any]) -> Any:
        return min(days, default=None)

    return {
        "iso_window_end_this_year": earliest([d for d, e, _ in deadlines if e == ISO_WINDOW_END]),
        "expiry_this_year": earliest([d for d, e, _ in deadlines if e == EXPIRY]),
        "tender_this_year": earliest(
            [w.date for w in scenario.windows if w.kind == "tender" and w.year == first]
        ),
    }


def _frame(df: pd.DataFrame | None, table: str) -> pd.DataFrame:
    """A batch table with the columns `INPUTS` names (missing ones empty: an older folder)."""
    df = (pd.DataFrame() if df is None else df).reindex(columns=list(INPUTS[table]))
    return df.astype({"client_id": object})


def actions_due(
    clients: pd.DataFrame | None,
    errors: pd.DataFrame | None,
    actions: pd.DataFrame | None,
    years: pd.DataFrame | None,
) -> pd.DataFrame:
    """The table (see the module docstring) from a batch's clients, errors, actions and years."""
    clients, errors = _frame(clients, "clients"), _frame(errors, "errors")
    actions, years = _frame(actions, "actions"), _frame(years, "years")
    first = years.sort_values(["client_id", "year"], kind="stable").drop_duplicates("client_id")
    first = first.rename(columns={"exercise_cost": "year_strike_cost",
                                  "extra_tax": "year_extra_tax"})  # fmt: skip
    strike, tax = first["year_strike_cost"].fillna(0.0), first["year_extra_tax"].fillna(0.0)
    first["year_cash_needed"] = strike + tax
    due = actions.merge(first[["client_id", "year"]], on=["client_id", "year"])
    due = due.rename(columns={"kind": "action", "cost": "strike_cost"}).drop(columns="year")
    flags = clients[list(FLAG_COLUMNS)].notna().any(axis=1)
    flagged = clients.loc[flags | clients["time_limit_hit"].fillna(False).astype(bool), "client_id"]
    idle = pd.DataFrame({"client_id": flagged[~flagged.isin(due["client_id"])], "action": NONE})
    failed = errors.drop_duplicates("client_id")
    failed = pd.DataFrame({
        "client_id": failed["client_id"], "action": FAILED,
        "note": failed["stage"].astype(str) + ": " + failed["reason"].astype(str),
    })  # fmt: skip
    parts = [df for df in (due, idle, failed) if not df.empty]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["client_id"])
    rows = rows.merge(first, on="client_id", how="left", validate="many_to_one")
    rows = rows.merge(
        clients.rename(columns={"value_over_best_baseline": "value_at_stake"}),
        on="client_id",
        how="left",
        validate="many_to_one",
    ).reindex(columns=list(ACTIONS_DUE_COLUMNS))
    rows["failed"] = rows["action"] == FAILED
    rows["note"] = rows["note"].astype(object).fillna("")
    rows = rows.sort_values(
        ["value_at_stake", "client_id", "date"],
        ascending=[False, True, True],
        na_position="last",
        kind="stable",
        key=lambda s: s.astype(str) if s.name == "date" else s,
    ).reset_index(drop=True)
    # A date column with no date in it comes out of the merges as float NaN: back to objects
    # (None), which Arrow writes as a null date.
    for column in ("date", "tax_due_date", *FLAG_COLUMNS):
        rows[column] = rows[column].astype(object).where(rows[column].notna(), None)
    return rows.astype({"year": "Int64", "failed": "boolean", "time_limit_hit": "boolean"})
