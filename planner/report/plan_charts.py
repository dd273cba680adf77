"""The charts of a plan, drawn from its tables: cash against the floor, each year's AMT room
against the spread exercised, the credit over time, the wealth of the plan and the baselines."""

from __future__ import annotations

from planner.report import charts
from planner.report.common import (
    PLAN_ROWS,
    View,
    approach_label,
    best_baseline,
    column_values,
    is_california,
    nonzero,
    scenario_of,
    year_labels,
)
from planner.report.formats import number
from planner.report.model import Block, Chart
from planner.report.room import amt_room
from planner.report.source import PlanTables


def floor_series(x: View | PlanTables, count: int) -> charts.Series | None:
    """The scenario's cash floor as a chart's reference line (in `charts.FLOOR`, the same red
    on every chart), or None when the folder does not say it."""
    floor = number(scenario_of(x).get("cash_floor"))
    if floor is None:
        return None
    return charts.Series("cash floor", [floor] * count, charts.FLOOR, "reference")


def cash_chart(v: View) -> Chart | None:
    years = v.get("years")
    if years is None or "cash" not in years:
        return None
    cash = charts.Series(
        "cash at the end of the year", column_values(years, "cash"), charts.PALETTE[0]
    )
    floor = floor_series(v, len(years))
    caption = (
        "Cash at the end of each year, after the year's exercises and sales and the April "
        "payment of the year before's tax. "
        + (
            "The dashed red line is the floor the plan keeps above."
            if floor is not None
            else "(The cash floor is in scenario.parquet, which this folder lacks.)"
        )
    )
    series = [cash] if floor is None else [cash, floor]
    svg = charts.column_chart("Cash against the floor", year_labels(years), series)
    return Chart("Cash against the floor", svg, caption)


def room_chart(v: View) -> Chart | None:
    years = v.get("years")
    if years is None:
        return None
    room = amt_room(years, scenario_of(v).get("filing_status"), v.pt.meta)
    labels = year_labels(years)
    if room is not None and "iso_spread" in years:
        series = [
            charts.Series(
                "ISO spread exercised (6251 line 2i)",
                column_values(years, "iso_spread"),
                charts.PALETTE[0],
            ),
            charts.Series(
                "room: the spread at which AMT starts", room["federal"], charts.PALETTE[2]
            ),
        ]
        caption = (
            "Each year's ISO spread exercised and held, against the room: the most spread that "
            "year's other income leaves free of AMT (the exact crossover of that year, the "
            "plan's sales and deduction included). Spread above the room is taxed by the AMT "
            "and comes back as credit."
        )
        if room.get("california") is not None:
            series.append(
                charts.Series(
                    "room with California's AMT too", room["california"], charts.PALETTE[1]
                )
            )
            caption += (
                " In a California year the second room keeps California's AMT at zero as well."
            )
        return Chart(
            "AMT room against what is exercised",
            charts.column_chart("AMT room", labels, series),
            caption,
        )
    if "tmt" not in years or "regular_tax" not in years:
        return None
    series = [
        charts.Series("regular tax", column_values(years, "regular_tax"), charts.PALETTE[0]),
        charts.Series(
            "tentative minimum tax", column_values(years, "tmt"), charts.PALETTE[1], "line"
        ),
    ]
    caption = (
        "The tentative minimum tax (Form 6251 line 9) against the regular tax: where the line "
        "is above the bar the difference is AMT; below it, the gap is room for more ISO spread "
        "(the room itself needs the filing status, in scenario.parquet, which this folder lacks)."
    )
    return Chart(
        "AMT room: TMT against regular tax",
        charts.column_chart("TMT against regular tax", labels, series),
        caption,
    )


def credit_chart(v: View) -> Chart | None:
    years = v.get("years")
    if years is None or "mtc_carryforward_out" not in years:
        return None
    ca = is_california(years) or nonzero(years, "ca_credit_carryforward_out")
    federal = "federal credit" if ca else "credit"
    series = [
        charts.Series(
            f"{federal} generated", column_values(years, "mtc_generated"), charts.PALETTE[1]
        ),
        charts.Series(f"{federal} used", column_values(years, "mtc_allowed"), charts.PALETTE[2]),
        charts.Series(
            "federal credit left",
            column_values(years, "mtc_carryforward_out"),
            charts.PALETTE[0],
            "line",
        ),
    ]
    if ca:
        series.append(
            charts.Series(
                "California credit left",
                column_values(years, "ca_credit_carryforward_out"),
                charts.PALETTE[3],
                "line",
            )
        )
    caption = (
        "The minimum tax credit: generated by AMT in a year of exercise, used when the regular "
        "tax is above the tentative minimum tax, the rest carried forward (Form 8801 line 26"
        + ("; California's: FTB 3510)." if ca else ").")
    )
    labels = year_labels(years)
    caption += charts.overlaps(labels, series)
    return Chart(
        "The AMT credit over time", charts.column_chart("AMT credit", labels, series), caption
    )


def wealth_chart(pt: PlanTables) -> Chart | None:
    s = pt.get("summary")
    if s is None or "after_tax_wealth" not in s:
        return None
    best = best_baseline(pt)
    approaches = [str(a) for a in s["approach"]]
    colors = [
        charts.PALETTE[0] if a in PLAN_ROWS else charts.PALETTE[1] if a == best else charts.GREY
        for a in approaches
    ]
    svg = charts.difference_chart(
        "After-tax wealth",
        [approach_label(a) for a in approaches],
        column_values(s, "after_tax_wealth"),
        colors,
        "after-tax wealth",
    )
    return Chart(
        "The plan's after-tax wealth against the baselines",
        svg,
        "Each approach's after-tax wealth at the horizon and, as a bar, its difference to the "
        "plan's (the best baseline in orange): the bars start at the plan's wealth, not at $0.",
    )


def chart_blocks(v: View) -> list[Block]:
    found = [cash_chart(v), room_chart(v), credit_chart(v), wealth_chart(v.pt)]
    return [c for c in found if c is not None]
