"""`isoplan report`: a plan's tables as a self-contained HTML page and an .xlsx workbook.

source.py reads a plan, robust plan or compare folder (or takes the tables in memory);
sections.py builds the report as plain data (model.py) from one module per part: headline and
action_plan, years, plan_charts (with room.py, each year's AMT room), cpa (with law_figures.py),
assumptions, robust; common.py holds what they share. html.py and workbook.py render the same
report; charts.py draws its SVG charts; formats.py says how each kind of figure is shown;
command.py is the command and the `--report` of plan and compare.
"""
