"""Disclosure control for published counts: controlled rounding to a base.

Counts about people, startups and teams are published as multiples of `BASE`. The cells of a
breakdown are rounded *together* (controlled rounding): each cell goes to one of the two
multiples around it, and the published cells add up to the published total, which is the true
total rounded to the nearest multiple. So every published cell is within `BASE - 1` of the true
value, the table stays additive, and no combination of a total, its breakdowns and sibling
cells pins a cell to one value: a reader who solves for a cell from everything published still
has at least `BASE` possible values for it (tests/ecosystem/test_disclosure.py plays that
attacker with a linear program).

Rounding replaces primary and complementary suppression for counts: a group of one is not a
blank that the others give away by subtraction, it is a 0 or a 5 like any other. Shares and
sums over people still need `MIN_GROUP` contributors (ecosystem.indicators.suppress).
"""

from __future__ import annotations

from collections.abc import Mapping

BASE = 5


def round_count(count: int, base: int = BASE) -> int:
    """The nearest multiple of `base` (a remainder of exactly half goes up)."""
    remainder = count % base
    return count - remainder + (base if 2 * remainder >= base else 0)


def controlled_round(counts: Mapping[str, int], base: int = BASE) -> dict[str, int]:
    """Each count rounded down or up to a multiple of `base` so that the rounded cells add up
    to `round_count(sum(counts))`; the cells with the largest remainders go up (ties: in
    key order, so the result is deterministic). Keys keep their order."""
    target = round_count(sum(counts.values()), base)
    rounded = {key: count - count % base for key, count in counts.items()}
    ups = (target - sum(rounded.values())) // base
    # Why this always fits: the floors sum to at most the total and the ceilings to at least
    # it, and `target` is the multiple nearest the total, so 0 <= ups <= cells with a remainder.
    candidates = sorted(
        (key for key, count in counts.items() if count % base),
        key=lambda key: (-(counts[key] % base), str(key)),
    )
    for key in candidates[:ups]:
        rounded[key] += base
    return rounded


def rounded_table(total: int, *breakdowns: Mapping[str, int], base: int = BASE) -> tuple:
    """A total and breakdowns of that same total, published consistently: the rounded total,
    then each breakdown rounded to add up to it. A breakdown whose cells do not add up to
    `total` (a person in two groups) is a programming error."""
    for breakdown in breakdowns:
        if sum(breakdown.values()) != total:
            raise ValueError("a breakdown does not add up to its total")
    return (round_count(total, base), *(controlled_round(b, base) for b in breakdowns))
