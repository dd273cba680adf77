"""Pure mathematics, no I/O: the exact tax engine (scalar and vectorized) and the MILP."""
