"""The arithmetic that finishes an integer average and a percentile, in Python, once.

The reference path reads the sums, counts and ranked values of a group from its statement and
finishes them here (graph/sql/aggregate.py); on SQLite a group built inside the rows' statement
(graph/sql/group_object.py) calls the same code as user functions (`grace_int_average`,
`grace_percentile`, registered by graph/sql/engine.py), so both answer the same double.

- An integer average is the exact sum over the count, rounded once (Python divides two
  integers with one rounding); SQLite gives the sum as two sums of 32-bit halves, which cannot
  overflow (graph/sql/measures.py `integer_halves`).
- A percentile interpolates between the two ranked values around `p * (n - 1)`, in the
  operations and the order of PostgreSQL's percentile_cont, on doubles: `low + (high - low) *
  fraction`.
"""

from __future__ import annotations

HALF = 2**32


def total_of_halves(high: int | None, low: int | None) -> int | None:
    """The exact sum of integers given as the sums of their high and low 32-bit halves
    (value = high * 2^32 + low); None over no value."""
    if high is None or low is None:
        return None
    return int(high) * HALF + int(low)


def average_of_halves(high: int | None, low: int | None, count: int) -> float | None:
    """The exact mean of integers given as the sums of their high and low 32-bit halves and
    their count; None over no value."""
    total = total_of_halves(high, low)
    if total is None or not count:
        return None
    return total / int(count)


def interpolated(p: float, ranked: list[float]) -> float | None:
    """The `p` percentile of `ranked` (ascending doubles, no null) as percentile_cont computes
    it; None over no value. The same steps as the statement's on SQLite: a position, its
    floor (a truncation: the position is never negative) and the rank above it."""
    if not ranked:
        return None
    position = p * (len(ranked) - 1)
    below = int(position)
    above = below + 1 if position > below else below
    low, high = ranked[below], ranked[above]
    return low + (high - low) * (position - below)


class Percentile:
    """SQLite's aggregate `grace_percentile(p, value)`: the `p` percentile of an integer
    column's non-null values, each read as a double (as CAST(value AS REAL) reads it)."""

    def __init__(self) -> None:
        self.p = 0.0
        self.values: list[float] = []

    def step(self, p: float, value: int | float | None) -> None:
        self.p = float(p)
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        return interpolated(self.p, sorted(self.values))
