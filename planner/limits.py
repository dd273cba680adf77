"""The bounds of every number isoplan reads, so that no input can turn into NaN, infinity, an
overflow or unbounded memory, and no result is silently meaningless.

These are not tax law (that lives in `data/`): they are the range in which isoplan's arithmetic is
exact. Every reader applies them (household tables and their command-line options, scenario files
and `--set`, book tables), and the README lists them under "Input limits".

Why these figures: a money field is at most $10 billion, a share count at most 100 million and a
price at most $100,000 a share, so a spread is at most $10^13 and every sum the engine forms stays
below 2^53 cents (about $90 trillion), where a float64 holds every cent exactly. Dates stay in
1900-2200 and day or month counts within a century, so date arithmetic (expiry, lockups) cannot
leave the calendar. Tax years stop `max_years_projected` after the last published year
(data/projection.yaml). A scenario file is read within a byte, node and depth budget, counted
before anything is built (`planner.scenario.reading`).
"""

from __future__ import annotations

from datetime import date

MAX_MONEY = 1e10  # dollars, in absolute value
MAX_PRICE = 1e5  # dollars per share
MAX_SHARES = 100_000_000
MAX_DEPENDENTS = 99  # people a household claims
MAX_DAYS = 36_525  # a century of days (lockups, post-termination windows)
MAX_MONTHS = 1_200  # a century of months (vesting schedules)
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2200, 12, 31)
GROWTH = (-0.5, 1.0)  # yearly rates of growth and inflation, as fractions
MAX_TIME_LIMIT = 86_400.0  # seconds: a day per plan
MAX_WORKERS = 256

MAX_YAML_BYTES = 1 << 20  # a scenario file (or a --set value): 1 MiB
MAX_YAML_NODES = 100_000  # YAML nodes after expanding aliases
MAX_YAML_DEPTH = 64  # nesting of mappings and lists
